/* The one recording path (SPEC §3.2) on a real SQLite store: a mail recorded once whatever
 * way it arrives (a file saved on Unix and given to pahtctl ingest, the same mail as an IMAP
 * server serves it, with CRLF and trace headers), never merged with another mail by its
 * Message-ID alone; the sender of a mail too large to download, read from its From; and what
 * the IOC is told of a mail set aside. */
#include "gateway/gateway_private.h"
#include "gateway_fixture.h"
#include "letter_fixture.h"
#include "parse/parse.h"

#include <glib/gstdio.h>
#include <locale.h>
#include <string.h>

typedef GatewayFixture Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_setenv("PAHT_NOW", "2026-11-30T09:00:00+07:00", TRUE);
    gateway_fixture_open(f, "recording", NULL);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    gateway_fixture_close(f);
    g_unsetenv("PAHT_NOW");
}

/* a citizen's report as saved on Unix (LF), with this Message-ID and body */
static char *saved_mail(const char *message_id, const char *body)
{
    return g_strdup_printf("From: Trần Văn Bình <binh@example.vn>\n"
                           "To: paht@soctrang.gov.vn\n"
                           "Subject: =?UTF-8?B?xJDDqG4gxJHGsOG7nW5nIGjhu49uZw==?=\n"
                           "Date: Mon, 30 Nov 2026 08:00:00 +0700\n"
                           "Message-ID: <%s>\n"
                           "MIME-Version: 1.0\n"
                           "Content-Type: text/plain; charset=utf-8\n"
                           "Content-Transfer-Encoding: 8bit\n"
                           "\n"
                           "%s\n"
                           "Họ và tên: Trần Văn Bình\n"
                           "Địa chỉ: 25 Trần Hưng Đạo, Phường 2, TP Sóc Trăng\n"
                           "CCCD: 094201001234\nĐiện thoại: 0912 345 678\n"
                           "Địa điểm: trước cổng chợ Phường 2\n",
                           message_id, body);
}

/* the same mail as an IMAP server serves it after delivery: trace headers on top, CRLF */
static char *as_served(const char *saved)
{
    g_auto(GStrv) lines = g_strsplit(saved, "\n", -1);
    g_autofree char *crlf = g_strjoinv("\r\n", lines);
    return g_strconcat("Return-Path: <binh@example.vn>\r\n"
                       "Delivered-To: paht@soctrang.gov.vn\r\n"
                       "Received: from mx.example.vn by mail.soctrang.gov.vn with LMTP\r\n"
                       "\tid 4Xb; Mon, 30 Nov 2026 08:00:02 +0700\r\n",
                       crlf, NULL);
}

static IngestResult ingest(Fixture *f, const char *name, const char *content)
{
    g_autofree char *path = g_build_filename(f->dir, name, NULL);
    g_assert_true(g_file_set_contents(path, content, -1, NULL));
    IngestResult r = {0};
    GError *error = NULL;
    g_assert_true(inbound_ingest_file(f->gw, path, &r, &error));
    g_assert_no_error(error);
    return r;
}

static void test_same_mail_saved_then_served_is_recorded_once(Fixture *f, gconstpointer data)
{
    g_autofree char *saved = saved_mail("r1@example.vn", "Đèn đường hỏng trước nhà số 12.");
    g_autofree char *served = as_served(saved);
    IngestResult first = ingest(f, "saved.eml", saved);
    g_assert_false(first.duplicate);
    g_assert_cmpint(first.report_id, >, 0);
    IngestResult second = ingest(f, "served.eml", served);
    g_assert_true(second.duplicate);
    g_assert_cmpint(second.raw_id, ==, first.raw_id);
    g_assert_cmpint(second.report_id, ==, first.report_id);
    g_assert_cmpstr(second.code, ==, first.code);

    /* one report, one acknowledgement; the Message-ID is recorded */
    GError *error = NULL;
    g_autoptr(GPtrArray) outbox = outbox_list(gateway_store(f->gw), NULL, &error);
    g_assert_cmpuint(outbox->len, ==, 1);
    g_autoptr(RawMessage) raw = raw_message_get(gateway_store(f->gw), first.raw_id, &error);
    g_assert_cmpstr(raw->message_id, ==, "r1@example.vn");
    g_assert_nonnull(raw->body_sha256);
    ingest_result_clear(&first);
    ingest_result_clear(&second);
}

/* a Message-ID reused by a broken mailer (or copied by a stranger) with another text is
 * another mail: recorded and answered on its own */
static void test_same_message_id_other_text_is_another_mail(Fixture *f, gconstpointer data)
{
    g_autofree char *one = saved_mail("same@example.vn", "Đèn đường hỏng.");
    g_autofree char *two = saved_mail("same@example.vn", "Rác thải ùn ứ trước chợ.");
    IngestResult a = ingest(f, "one.eml", one);
    IngestResult b = ingest(f, "two.eml", two);
    g_assert_false(b.duplicate);
    g_assert_cmpint(b.report_id, !=, a.report_id);
    ingest_result_clear(&a);
    ingest_result_clear(&b);
}

/* The body digest is worked out only when a second mail with the same Message-ID comes
 * (issue 18): a mail nobody else's Message-ID names is hashed once; the first of a Message-ID
 * gets its digest when the second meets it; and a first whose raw file is gone (or damaged)
 * is not taken for the same mail on a digest it cannot have. */
static void test_body_digest_only_when_a_message_id_comes_again(Fixture *f, gconstpointer data)
{
    Store *store = gateway_store(f->gw);
    GError *error = NULL;
    g_autofree char *saved = saved_mail("again@example.vn", "Cống thoát nước bị tắc.");
    IngestResult first = ingest(f, "first.eml", saved);
    g_autoptr(RawMessage) alone = raw_message_get(store, first.raw_id, &error);
    g_assert_null(alone->body_sha256);

    /* another text under the same Message-ID: another mail, and now both have digests */
    g_autofree char *other = saved_mail("again@example.vn", "Cây xanh đổ chắn ngang đường.");
    IngestResult second = ingest(f, "other.eml", other);
    g_assert_false(second.duplicate);
    g_autoptr(RawMessage) a = raw_message_get(store, first.raw_id, &error);
    g_autoptr(RawMessage) b = raw_message_get(store, second.raw_id, &error);
    const char *body = strstr(saved, "\n\n") + 2;
    g_autofree char *expected = sha256_bytes(body, strlen(body));
    g_assert_cmpstr(a->body_sha256, ==, expected);
    g_assert_nonnull(b->body_sha256);
    g_assert_cmpstr(b->body_sha256, !=, a->body_sha256);

    /* the first again as a server serves it: a duplicate of the first, not of the second */
    g_autofree char *served = as_served(saved);
    IngestResult third = ingest(f, "served.eml", served);
    g_assert_true(third.duplicate);
    g_assert_cmpint(third.raw_id, ==, first.raw_id);

    /* a Message-ID whose first mail's raw file is gone: the next one with it is recorded */
    g_autofree char *lost = saved_mail("lost@example.vn", "Đèn tín hiệu giao thông hỏng.");
    IngestResult fourth = ingest(f, "lost.eml", lost);
    g_autoptr(RawMessage) gone = raw_message_get(store, fourth.raw_id, &error);
    g_assert_cmpint(g_unlink(gone->path), ==, 0);
    g_autofree char *lost_served = as_served(lost);
    IngestResult fifth = ingest(f, "lost-served.eml", lost_served);
    g_assert_false(fifth.duplicate);
    g_assert_cmpint(fifth.raw_id, !=, fourth.raw_id);
    g_autoptr(RawMessage) still = raw_message_get(store, fourth.raw_id, &error);
    g_assert_null(still->body_sha256);
    g_assert_no_error(error);
    ingest_result_clear(&first);
    ingest_result_clear(&second);
    ingest_result_clear(&third);
    ingest_result_clear(&fourth);
    ingest_result_clear(&fifth);
}

/* the address a too-large mail's sender is answered at: its From, read with GMime */
static void test_sender_of_a_mail_too_large(Fixture *f, gconstpointer data)
{
    static const struct {
        const char *from_header; /* NULL: none */
        const char *expected;    /* NULL: unusable */
    } cases[] = {
        {"=?UTF-8?B?Tmd1eeG7hW4gVsSDbiBBbg==?= <Nguyen.An@Mail.Example.VN>",
         "Nguyen.An@mail.example.vn"},
        {"plain@example.test", "plain@example.test"},
        {"\"Lê Văn Tám\" <tam@example.vn>, other@example.vn", "tam@example.vn"},
        {"undisclosed-recipients:;", NULL},
        {"no address here", NULL},
        {NULL, NULL},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = quarantine_sender_address(cases[i].from_header);
        g_assert_cmpstr(got, ==, cases[i].expected);
    }
}

/* the latest IOC alert enqueued, as the IOC reads it: subject and text */
static char *the_alert(Fixture *f, char **subject)
{
    GError *error = NULL;
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    g_assert_no_error(error);
    gint64 id = 0;
    for (guint i = 0; i < all->len; i++) {
        const OutboxEntry *e = g_ptr_array_index(all, i);
        if (g_str_equal(e->kind, "ioc_alert") && e->id > id) {
            id = e->id;
            g_assert_cmpstr(e->rcpt, ==, f->config->gateway.ioc_alert_to);
        }
    }
    g_assert_cmpint(id, >, 0);
    g_autoptr(GMimeMessage) msg = fixture_letter(f->store, id);
    *subject = g_strdup(g_mime_message_get_subject(msg));
    return fixture_letter_plain(msg);
}

static void assert_says(const char *text, const char *const *words)
{
    for (const char *const *w = words; *w; w++) {
        if (!strstr(text, *w))
            g_error("\"%s\" missing from:\n%s", *w, text);
    }
}

/* A mail the parser refused, one too large to fetch, one the server never gave: each tells
 * the IOC once what happened, where the mail is and what to do, in the words of its template
 * (unparsed, too_large_alert, fetch_given_up), the sender's address shortened (Điều 4.5). */
static void test_unparsed_mail_alert(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    RawMessage raw = {.id = 17,
                      .size = 3 * 1024 * 1024 / 2,
                      .message_id = (char *)"bad-1@example.vn",
                      .error = (char *)"the parser was killed after 30 s (a timeout)"};
    g_assert_true(quarantine_alert_unparsed(f->gw, &raw, &error));
    g_assert_no_error(error);
    g_autofree char *subject = NULL;
    g_autofree char *text = the_alert(f, &subject);
    g_assert_cmpstr(subject, ==,
                    "[PAHT] Thư không xử lý được, đã chuyển vào thư mục cách ly (tin nhắn số 17)");
    const char *words[] = {"Lý do: the parser was killed after 30 s (a timeout)",
                           "Thư gốc (1,5 MB) được giữ nguyên trong thư mục \"PAHT/Quarantine\"",
                           "pahtctl reprocess 17", "Message-ID: <bad-1@example.vn>", NULL};
    assert_says(text, words);
}

static void test_mail_too_large_alert(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    ImapMessageInfo info = {.uid = 9, .size = 120 * 1024 * 1024};
    g_assert_true(quarantine_too_large(f->gw, "INBOX", 1, &info, "big-1@example.vn",
                                       "Trần Văn Bình <binh@example.vn>", &error));
    g_assert_no_error(error);
    g_autofree char *subject = NULL;
    g_autofree char *text = the_alert(f, &subject);
    g_assert_cmpstr(subject, ==, "[PAHT] Thư quá lớn (120 MB) chưa được tiếp nhận");
    const char *words[] = {"Người gửi: b***@example.vn", "Dung lượng 120 MB vượt mức tối đa 50 MB",
                           "Người gửi đã được đề nghị gửi lại", NULL};
    assert_says(text, words);
    g_assert_null(strstr(text, "binh@example.vn"));
    /* a mail without a sender to answer says so */
    g_assert_true(quarantine_too_large(f->gw, "INBOX", 1, &info, "big-2@example.vn",
                                       "undisclosed-recipients:;", &error));
    g_autofree char *subject2 = NULL;
    g_autofree char *text2 = the_alert(f, &subject2);
    const char *none[] = {"Người gửi: (không rõ)",
                          "Không gửi được thư trả lời: thư không có địa chỉ người gửi.", NULL};
    assert_says(text2, none);
}

static void test_mail_given_up_alert(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    MessageFailure failure = {.failures = 7,
                              .first_at = clock_now_unix() - 3600,
                              .last_at = clock_now_unix(),
                              .last_error = (char *)"imap: the server dropped the connection"};
    g_assert_true(quarantine_alert_unfetchable(f->gw, 31, -1, &failure,
                                               "NO [TRYCREATE] no such mailbox", &error));
    g_assert_no_error(error);
    g_autofree char *subject = NULL;
    g_autofree char *text = the_alert(f, &subject);
    g_assert_cmpstr(subject, ==,
                    "[PAHT] Thư không tải về được, vẫn nằm trong hộp thư đến (UID 31)");
    const char *words[] = {
        "Lỗi gần nhất: imap: the server dropped the connection",
        "Hệ thống đã thử 7 lần, từ 08:00 ngày 30/11/2026 đến 09:00 ngày "
        "30/11/2026.",
        "Không chuyển được thư vào thư mục \"PAHT/Quarantine\" (NO [TRYCREATE] no "
        "such mailbox)",
        NULL};
    assert_says(text, words);
}

/* regular files under dir, its sub-folders included */
static guint files_under(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    guint n = 0;
    for (const char *name; d && (name = g_dir_read_name(d));) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR))
            n += files_under(path);
        else if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
            n++;
    }
    return n;
}

/* a mail with a small picture attached, under these headers (an out-of-office answer's, a
 * citizen's) */
static char *mail_with_picture(const char *headers)
{
    return g_strconcat(
        headers,
        "Date: Mon, 30 Nov 2026 08:00:00 +0700\r\n"
        "To: paht@soctrang.gov.vn\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
        "\r\n"
        "--b1\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "Đường Trần Hưng Đạo ngập nước từ sáng.\r\n"
        "--b1\r\n"
        "Content-Type: image/png; name=\"anh.png\"\r\n"
        "Content-Disposition: attachment; filename=\"anh.png\"\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9"
        "awAAAABJRU5ErkJggg==\r\n"
        "--b1--\r\n",
        NULL);
}

static void assert_nothing_unreferenced(Fixture *f)
{
    BackupReport verify = {0};
    g_autoptr(GError) error = NULL;
    g_assert_true(backup_verify_live(f->gw, TRUE, &verify, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(verify.unreferenced->len, ==, 0);
    g_assert_cmpuint(verify.problems->len, ==, 0);
    backup_report_clear(&verify);
}

/* Automatic mail is recorded and never drafted: nothing refers to its attachments, which
 * must not be left in the content store (pahtctl verify listed every bounce's returned
 * letter as a file nobody refers to), nor in the work folder; a report's picture is stored. */
static void test_automatic_mail_leaves_no_files(Fixture *f, gconstpointer data)
{
    const char *mail = g_getenv("PAHT_TEST_MAIL_DIR");
    g_autofree char *here = g_path_get_dirname(__FILE__);
    g_autofree char *dsn =
        mail && *mail ? g_build_filename(mail, "postfix-dsn-bounce.eml", NULL)
                      : g_build_filename(here, "..", "mail", "postfix-dsn-bounce.eml", NULL);
    g_autofree char *dsn_text = NULL;
    g_assert_true(g_file_get_contents(dsn, &dsn_text, NULL, NULL));
    g_autofree char *auto_reply = mail_with_picture(
        "From: hanhchinh@example.vn\r\n"
        "Subject: =?UTF-8?Q?T=E1=BB=B1_=C4=91=E1=BB=99ng_tr=E1=BA=A3_l=E1=BB=9Di?=\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "Message-ID: <vang-mat-1@example.vn>\r\n");
    struct {
        const char *name, *text, *classification;
    } cases[] = {
        {"auto.eml", auto_reply, CLASSIFICATION_AUTO},
        {"dsn.eml", dsn_text, CLASSIFICATION_BOUNCE},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        /* each has attachments, or this would prove nothing */
        g_autofree char *path = g_build_filename(f->dir, cases[i].name, NULL);
        g_assert_true(g_file_set_contents(path, cases[i].text, -1, NULL));
        g_autofree char *work = g_build_filename(f->dir, "parse-only", NULL);
        g_assert_cmpint(g_mkdir_with_parents(work, 0700), ==, 0);
        ParseOptions opts = {.attachments_dir = work};
        g_autoptr(GError) error = NULL;
        g_autoptr(Draft) draft = parse_message_file(path, &opts, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(draft->attachments->len, >=, 1);
        fs_remove_tree(work);

        IngestResult r = ingest(f, cases[i].name, cases[i].text);
        g_assert_cmpstr(r.classification, ==, cases[i].classification);
        ingest_result_clear(&r);
    }
    g_assert_cmpuint(files_under(f->gw->att_dir), ==, 0);
    g_assert_cmpuint(files_under(f->gw->tmp_dir), ==, 0);
    assert_nothing_unreferenced(f);

    /* a citizen's report with the same picture keeps it */
    g_autofree char *report =
        mail_with_picture("From: binh@example.vn\r\n"
                          "Subject: =?UTF-8?Q?Ng=E1=BA=ADp_n=C6=B0=E1=BB=9Bc?=\r\n"
                          "Message-ID: <bao-cao-1@example.vn>\r\n");
    IngestResult r = ingest(f, "report.eml", report);
    g_assert_cmpstr(r.classification, ==, CLASSIFICATION_REPORT);
    g_assert_cmpint(r.report_id, >, 0);
    ingest_result_clear(&r);
    g_assert_cmpuint(files_under(f->gw->att_dir), ==, 1);
    g_assert_cmpuint(files_under(f->gw->tmp_dir), ==, 0);
    assert_nothing_unreferenced(f);
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C.UTF-8"); /* failures quote Vietnamese */
    g_test_init(&argc, &argv, NULL);
    g_mime_init();
    log_init("test_gateway_recording");
    log_set_level(LOG_LEVEL_ERROR);
#define ADD(name, fn)                                                                              \
    g_test_add("/recording/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("same-mail-saved-then-served-is-recorded-once",
        test_same_mail_saved_then_served_is_recorded_once);
    ADD("same-message-id-other-text-is-another-mail",
        test_same_message_id_other_text_is_another_mail);
    ADD("body-digest-only-when-a-message-id-comes-again",
        test_body_digest_only_when_a_message_id_comes_again);
    ADD("sender-of-a-mail-too-large", test_sender_of_a_mail_too_large);
    ADD("unparsed-mail-alert", test_unparsed_mail_alert);
    ADD("mail-too-large-alert", test_mail_too_large_alert);
    ADD("mail-given-up-alert", test_mail_given_up_alert);
    ADD("automatic-mail-leaves-no-files", test_automatic_mail_leaves_no_files);
    return g_test_run();
}
