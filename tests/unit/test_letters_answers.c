/* The one path every letter takes: context, never-answer addresses, IOC alerts, once-only. */
#include "config_fixture.h"
#include "letter_fixture.h"
#include "letters/letters.h"
#include "notify/notify.h"
#include "util/util.h"

#include <glib/gstdio.h>
#include <gmime/gmime.h>
#include <locale.h>
#include <string.h>

typedef struct {
    char *dir;
    Config *config;
    Store *store;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->config = fixture_config_open("letters", NULL, &f->dir);
    GError *error = NULL;
    f->store = store_open(f->config->gateway.database, &error);
    g_assert_no_error(error);
    g_setenv("PAHT_NOW", "2026-11-28T09:00:00+07:00", TRUE);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    store_close(f->store);
    fixture_config_close(f->config, f->dir);
    g_unsetenv("PAHT_NOW");
}

static void test_never_answer_addresses(Fixture *f, gconstpointer data)
{
    const char *never[] = {"MAILER-DAEMON@x.vn", "postmaster@x.vn", "abuse@x.vn", "root@x.vn",
                           "noreply@zalo.vn", "no-reply@accounts.google.com", "donotreply@bank.vn",
                           /* the word anywhere in the local part (issue 11 item 8) */
                           "gmail-noreply@google.com", "dmarc-noreply@example.com",
                           "bounce.no_reply@bank.vn", "post_master@vtext.com",
                           "Mail.Delivery.System@mx.example.com", "paht@soctrang.gov.vn",
                           "PAHT+abc123@soctrang.gov.vn", "", "not-an-address"};
    for (gsize i = 0; i < G_N_ELEMENTS(never); i++)
        g_assert_true(letters_never_answer(f->config, never[i]));
    const char *fine[] = {"nguyen.van.an@gmail.com", "paht@other.gov.vn",
                          "rootbeer@x.vn",           "replyto@x.vn",
                          "tran.reply@x.vn",         "norah.reyes@x.vn"};
    for (gsize i = 0; i < G_N_ELEMENTS(fine); i++)
        g_assert_false(letters_never_answer(f->config, fine[i]));
}

/* the facts of a mailbox outage, as daemon.c gives them */
static JsonBuilder *outage_facts(void)
{
    JsonBuilder *facts = letters_alert_facts();
    json_member_string(facts, "mailbox", "paht@soctrang.gov.vn");
    json_member_string(facts, "since", "07:00 ngày 28/11/2026");
    json_member_string(facts, "error", "imap: connection refused");
    return facts;
}

static void test_ioc_alert_once(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    for (int i = 0; i < 2; i++) {
        g_autoptr(JsonBuilder) facts = outage_facts();
        g_assert_true(letters_ioc_alert(f->config, f->store, "mailbox_down", "alert:mailbox:1", 0,
                                        facts, &error));
        g_assert_no_error(error);
    }
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    g_assert_cmpuint(all->len, ==, 1);
    OutboxEntry *e = g_ptr_array_index(all, 0);
    g_assert_cmpstr(e->kind, ==, "ioc_alert");
    g_assert_cmpstr(e->rcpt, ==, "ioc@soctrang.gov.vn");

    g_autoptr(GMimeMessage) msg = fixture_letter(f->store, e->id);
    g_assert_cmpstr(g_mime_message_get_subject(msg), ==,
                    "[PAHT] Không kết nối được hộp thư paht@soctrang.gov.vn từ 07:00 ngày "
                    "28/11/2026");
    g_assert_cmpstr(g_mime_object_get_header(GMIME_OBJECT(msg), "Auto-Submitted"), ==,
                    "auto-generated");
    g_autofree char *text = fixture_letter_plain(msg);
    g_assert_nonnull(strstr(text, "- Lỗi gần nhất: imap: connection refused"));
    g_assert_nonnull(strstr(text, "Thời điểm: 09:00 ngày 28/11/2026"));
    /* an alert no template of kind ioc_alert writes is refused */
    g_autoptr(JsonBuilder) facts = outage_facts();
    g_assert_false(
        letters_ioc_alert(f->config, f->store, "digest", "alert:mailbox:2", 0, facts, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_INPUT);
    g_clear_error(&error);
}

/* an alert about a report names it, says how far it has come in words, and where to see it */
static void test_alert_about_a_report(Fixture *f, gconstpointer data)
{
    g_autoptr(Draft) d = draft_new();
    d->subject = g_strdup("Cháy chợ");
    d->classification = g_strdup("emergency");
    GError *error = NULL;
    ReportRef ref = {0};
    g_assert_true(store_begin(f->store, &error));
    g_assert_true(report_create(f->store, d, NULL, "PAHT", f->config->calendar.zone,
                                clock_now_unix(), 0, &ref, &error));
    g_autoptr(JsonBuilder) facts = letters_alert_facts();
    json_member_int(facts, "attachments", 0);
    g_assert_true(letters_ioc_alert(f->config, f->store, "reply_added", "alert:reply:1", ref.id,
                                    facts, &error));
    g_assert_true(store_commit(f->store, &error));
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    OutboxEntry *e = g_ptr_array_index(all, 0);
    g_assert_cmpint(e->report_id, ==, ref.id);
    g_autoptr(GMimeMessage) msg = fixture_letter(f->store, e->id);
    g_assert_cmpstr(g_mime_message_get_subject(msg), ==,
                    "[PAHT] Người phản ánh gửi thêm thông tin (PAHT-2026-000001)");
    g_autofree char *text = fixture_letter_plain(msg);
    g_assert_nonnull(strstr(text, "Phản ánh:  PAHT-2026-000001, Cháy chợ\n"));
    g_assert_nonnull(strstr(text, "Giai đoạn: chờ Trung tâm IOC xem xét\n"));
    g_assert_nonnull(strstr(text, "Thư bổ sung không có nội dung chữ."));
    g_assert_nonnull(strstr(text, "pahtctl show PAHT-2026-000001"));
    report_ref_clear(&ref);
}

/* the draft recorded as a new report and answered, as inbound does; its id */
static gint64 answer_new_report(Fixture *f, const Draft *d)
{
    GError *error = NULL;
    ReportRef ref = {0};
    g_assert_true(store_begin(f->store, &error));
    g_assert_true(report_create(f->store, d, NULL, "PAHT", f->config->calendar.zone,
                                clock_now_unix(), 0, &ref, &error));
    g_assert_true(
        letters_answer_new_report(f->config, f->store, &ref, d, clock_now_unix(), &error));
    g_assert_true(store_commit(f->store, &error));
    g_assert_no_error(error);
    gint64 id = ref.id;
    report_ref_clear(&ref);
    return id;
}

static void test_never_answer_recorded_not_sent(Fixture *f, gconstpointer data)
{
    g_autoptr(Draft) d = draft_new();
    d->subject = g_strdup("Thông báo");
    d->from_address = g_strdup("no-reply@dichvucong.gov.vn");
    d->citizen.email = g_strdup("no-reply@dichvucong.gov.vn");
    GError *error = NULL;
    gint64 id = answer_new_report(f, d);
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    g_assert_cmpuint(all->len, ==, 0);
    g_autoptr(Report) r = report_load_id(f->store, id, &error);
    ReportEvent *last = g_ptr_array_index(r->events, r->events->len - 1);
    g_assert_cmpstr(last->kind, ==, "no_answer");
}

/* Trần Thị Bích's report of a fire: her name, address, ID number, phone and e-mail are in the
 * headers, the subject and the text; she asks for secrecy */
static Draft *fire_report(gboolean confidential)
{
    Draft *d = draft_new();
    d->subject = g_strdup("Cháy nhà Trần Thị Bích, SĐT 0939000111");
    d->from_name = g_strdup("Trần Thị Bích");
    d->from_address = g_strdup("tranthib@example.vn");
    d->message_id = g_strdup("fire-1@example.vn");
    GString *text = g_string_new("Đang cháy lớn ở dãy ki-ốt chợ Phường 2, lửa lan sang nhà bên "
                                 "cạnh, khói đen bốc cao. Xin giữ bí mật thông tin của tôi.\n");
    for (int i = 0; i < 12; i++)
        g_string_append(text, "Người dân đang dùng bình chữa cháy và xô nước để dập lửa. ");
    g_string_append(text, "\nHọ và tên: Trần Thị Bích\nĐịa chỉ: 45 Trần Hưng Đạo, Phường 2\n"
                          "CCCD: 094078001234\nSĐT: 0939 000 111\n");
    d->text = g_string_free(text, FALSE);
    d->classification = g_strdup("emergency");
    d->rule = g_strdup(confidential ? "keyword emergency \"đang cháy\" (text); confidential: "
                                      "keyword \"giữ bí mật\" (text)"
                                    : "keyword emergency \"đang cháy\" (text)");
    d->confidential = confidential;
    d->citizen.name = g_strdup("Trần Thị Bích");
    d->citizen.address = g_strdup("45 Trần Hưng Đạo, Phường 2");
    d->citizen.id_number = g_strdup("094078001234");
    d->citizen.phone = g_strdup("0939000111");
    d->citizen.email = g_strdup("tranthib@example.vn");
    d->location.text = g_strdup("Chợ Phường 2, thành phố Sóc Trăng");
    d->location.has_coordinates = TRUE;
    d->location.lat = 9.6031;
    d->location.lon = 105.9801;
    return d;
}

static const char *const bich_forms[] = {
    "094078001234",  "0939000111", "0939 000 111",     "Trần Thị Bích",
    "Tran Thi Bich", "tranthib@",  "45 Trần Hưng Đạo", "Thị Bích",
};

/* the one letter of a kind, parsed: its subject, text and HTML */
static void the_letter(Fixture *f, const char *kind, char **subject, char **text, char **html)
{
    GError *error = NULL;
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    gint64 id = 0;
    for (guint i = 0; i < all->len; i++) {
        const OutboxEntry *e = g_ptr_array_index(all, i);
        if (g_str_equal(e->kind, kind)) {
            g_assert_cmpint(id, ==, 0);
            id = e->id;
        }
    }
    g_assert_cmpint(id, >, 0);
    g_autoptr(GMimeMessage) msg = fixture_letter(f->store, id);
    *subject = g_strdup(g_mime_message_get_subject(msg));
    *text = fixture_letter_plain(msg);
    GMimeObject *body = g_mime_message_get_body(msg);
    GMimeObject *second = g_mime_multipart_get_part(GMIME_MULTIPART(body), 1);
    *html = g_mime_text_part_get_text(GMIME_TEXT_PART(second));
}

static void assert_no_personal_data(const char *where, const char *const *forms, gsize n)
{
    for (gsize i = 0; i < n; i++) {
        if (strstr(where, forms[i]))
            g_error("\"%s\" must not appear in:\n%s", forms[i], where);
    }
}

static void assert_has(const char *where, const char *what)
{
    if (!strstr(where, what))
        g_error("\"%s\" missing from:\n%s", what, where);
}

/* the one IOC alert: Điều 4.5, no personal data in the IOC's mailbox, whatever the report */
static void the_alert_naming_nobody(Fixture *f, char **subject, char **text, char **html)
{
    the_letter(f, "ioc_alert", subject, text, html);
    const char *parts[] = {*subject, *text, *html};
    for (gsize i = 0; i < G_N_ELEMENTS(parts); i++)
        assert_no_personal_data(parts[i], bich_forms, G_N_ELEMENTS(bich_forms));
}

/* a new report answered: the emergency alert the IOC gets for it */
static void the_emergency_alert(Fixture *f, Draft *d, char **subject, char **text, char **html)
{
    g_assert_cmpint(answer_new_report(f, d), ==, 1);
    the_alert_naming_nobody(f, subject, text, html);
}

static void emergency_alert_check(Fixture *f, gboolean confidential)
{
    g_autoptr(Draft) d = fire_report(confidential);
    g_autofree char *subject = NULL, *text = NULL, *html = NULL;
    the_emergency_alert(f, d, &subject, &text, &html);
    /* what the IOC needs to act: code, classification, place, the rule, an excerpt, where
     * the rest is */
    assert_has(subject, "KHẨN CẤP");
    assert_has(subject, "PAHT-2026-000001");
    assert_has(text, "Phân loại: khẩn cấp");
    assert_has(text, "Địa điểm: Chợ Phường 2, thành phố Sóc Trăng");
    assert_has(text, "Tọa độ: 9.6031, 105.9801");
    assert_has(text, "từ khóa “đang cháy” trong nội dung thư");
    assert_has(text, "Trích nội dung: Đang cháy lớn ở dãy ki-ốt chợ Phường 2");
    assert_has(text, "pahtctl show PAHT-2026-000001");
    /* in Vietnamese, cut at a word */
    static const char *const english[] = {"keyword", "(text)", "emergency", "confidential"};
    assert_no_personal_data(text, english, G_N_ELEMENTS(english));
    const char *excerpt = strstr(text, "Trích nội dung: ");
    const char *end = strchr(excerpt, '\n');
    g_autofree char *line = g_strstrip(g_strndup(excerpt, (gsize)(end - excerpt)));
    if (!g_str_has_suffix(line, "…"))
        g_error("the excerpt is not cut with an ellipsis: %s", line);
    g_assert_cmpint(g_utf8_strlen(line, -1), <=, 320);
    const char *before = g_utf8_prev_char(line + strlen(line) - strlen("…"));
    g_assert_false(g_unichar_isspace(g_utf8_get_char(before)));
    /* the word before "…" is whole: one of the text's words */
    const char *last_space = strrchr(line, ' ');
    g_autofree char *last_word = g_strndup(last_space + 1, strlen(last_space + 1) - strlen("…"));
    g_autofree char *spaced = g_strdup_printf(" %s ", last_word);
    g_autofree char *spaced_end = g_strdup_printf(" %s\n", last_word);
    g_assert_true(strstr(d->text, spaced) || strstr(d->text, spaced_end));
    if (confidential)
        assert_has(subject, "Phản ánh PAHT-2026-000001 (bảo mật)");
}

static void test_confidential_emergency_alert_is_redacted(Fixture *f, gconstpointer data)
{
    emergency_alert_check(f, TRUE);
}

static void test_emergency_alert_has_what_the_ioc_needs_and_no_personal_data(Fixture *f,
                                                                             gconstpointer data)
{
    emergency_alert_check(f, FALSE);
}

/* the rules a report was recognised by, each in words: a keyword and where it was found, the
 * default, a rule of another kind; none in the parser's English */
static void test_emergency_alert_says_every_rule(Fixture *f, gconstpointer data)
{
    g_autoptr(Draft) d = fire_report(FALSE);
    g_free(d->rule);
    d->rule = g_strdup("keyword emergency \"cháy\" (subject); default; header X-Priority 1");
    g_autofree char *subject = NULL, *text = NULL, *html = NULL;
    the_emergency_alert(f, d, &subject, &text, &html);
    assert_has(text, "+ từ khóa “cháy” trong tiêu đề thư\n");
    assert_has(text, "+ không có dấu hiệu đặc biệt\n");
    assert_has(text, "+ quy tắc khác (xem Hệ thống)\n");
    static const char *const english[] = {"keyword", "default", "header", "X-Priority"};
    assert_no_personal_data(text, english, G_N_ELEMENTS(english));
    assert_has(html, "từ khóa “cháy” trong tiêu đề thư");
}

static void test_reply_alert_is_redacted(Fixture *f, gconstpointer data)
{
    g_autoptr(Draft) d = fire_report(TRUE);
    g_free(d->classification);
    d->classification = g_strdup("report");
    GError *error = NULL;
    ReportRef ref = {0};
    g_assert_true(store_begin(f->store, &error));
    g_assert_true(report_create(f->store, d, NULL, "PAHT", f->config->calendar.zone,
                                clock_now_unix(), 0, &ref, &error));
    g_autoptr(Draft) reply = draft_new();
    reply->from_name = g_strdup("Trần Thị Bích");
    reply->from_address = g_strdup("tranthib@example.vn");
    reply->subject = g_strdup("Re: [PAHT-2026-000001] Bổ sung của Trần Thị Bích");
    reply->text = g_strdup("Tôi gửi thêm ảnh. Số của tôi 0939.000.111, CCCD 094078001234, "
                           "nhà tôi ở 45 Trần Hưng Đạo, Phường 2.");
    reply->classification = g_strdup("report");
    ReplyMatch match = {.report_id = ref.id, .code = ref.code};
    ReplyOutcome outcome = {.state_before = (char *)"assigned", .state_after = (char *)"assigned"};
    g_assert_true(letters_answer_reply(f->config, f->store, &match, &outcome, reply, 7, &error));
    g_assert_no_error(error);
    g_assert_true(store_commit(f->store, &error));
    report_ref_clear(&ref);
    g_autofree char *subject = NULL, *text = NULL, *html = NULL;
    the_alert_naming_nobody(f, &subject, &text, &html);
    assert_has(text, "Trích nội dung: Tôi gửi thêm ảnh.");
    assert_has(text, "pahtctl show PAHT-2026-000001");
}

/* alerts written by other parts of the gateway (an oversized mail, a rate limit) name the
 * sender, and the server's words may name anyone: whoever wrote a fact, the IOC's mailbox gets
 * addresses shortened as the logs have them and numbers masked; a Message-ID stays whole, it
 * is how the IOC finds the mail on the server */
static void test_alert_facts_lose_addresses_and_numbers(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    g_autoptr(JsonBuilder) facts = letters_alert_facts();
    json_member_int(facts, "message", 7);
    json_member_string(facts, "size", "20 KB");
    json_member_string(facts, "folder", "PAHT/Quarantine");
    json_member_string(facts, "reason",
                       "tranthib@example.vn: gọi 0939 000 111 hoặc 094078001234; gửi về "
                       "ioc@soctrang.gov.vn");
    json_member_string(facts, "message_id", "CAB+x.y@mail.example.com");
    g_assert_true(letters_ioc_alert(f->config, f->store, "unparsed", "alert:x", 0, facts, &error));
    g_assert_no_error(error);
    g_autofree char *subject = NULL, *text = NULL, *html = NULL;
    the_letter(f, "ioc_alert", &subject, &text, &html);
    assert_has(text, "Lý do: t***@example.vn: gọi [đã ẩn] hoặc [đã ẩn]; gửi về "
                     "ioc@soctrang.gov.vn");
    assert_has(text, "Message-ID: <CAB+x.y@mail.example.com>");
    assert_has(html, "t***@example.vn");
    assert_no_personal_data(html, bich_forms, G_N_ELEMENTS(bich_forms));
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C.UTF-8"); /* failures quote Vietnamese */
    g_test_init(&argc, &argv, NULL);
    g_mime_init();
    log_init("test");
    log_set_level(LOG_LEVEL_ERROR);
#define ADD(name, fn)                                                                              \
    g_test_add("/letters/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("never-answer-addresses", test_never_answer_addresses);
    ADD("ioc-alert-once", test_ioc_alert_once);
    ADD("alert-about-a-report", test_alert_about_a_report);
    ADD("never-answer-recorded-not-sent", test_never_answer_recorded_not_sent);
    ADD("confidential-emergency-alert-redacted", test_confidential_emergency_alert_is_redacted);
    ADD("emergency-alert-what-the-ioc-needs",
        test_emergency_alert_has_what_the_ioc_needs_and_no_personal_data);
    ADD("emergency-alert-says-every-rule", test_emergency_alert_says_every_rule);
    ADD("reply-alert-redacted", test_reply_alert_is_redacted);
    ADD("alert-facts-lose-addresses", test_alert_facts_lose_addresses_and_numbers);
    int status = g_test_run();
    g_mime_shutdown();
    return status;
}
