/* The one recording path (SPEC §3.2) on a real SQLite store: a mail recorded once whatever
 * way it arrives (a file saved on Unix and given to pahtctl ingest, the same mail as an IMAP
 * server serves it, with CRLF and trace headers), never merged with another mail by its
 * Message-ID alone; and the sender of a mail too large to download, read from its From. */
#include "gateway/gateway_private.h"
#include "gateway_fixture.h"

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

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_init("test_gateway_recording");
    log_set_level(LOG_LEVEL_ERROR);
#define ADD(name, fn)                                                                              \
    g_test_add("/recording/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("same-mail-saved-then-served-is-recorded-once",
        test_same_mail_saved_then_served_is_recorded_once);
    ADD("same-message-id-other-text-is-another-mail",
        test_same_message_id_other_text_is_another_mail);
    ADD("sender-of-a-mail-too-large", test_sender_of_a_mail_too_large);
    return g_test_run();
}
