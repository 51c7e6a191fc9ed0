/* The decision and the answer for each kind of mail (SPEC §3.5-3.6), through the whole
 * inbound pipeline on a real SQLite store: replies joining their report (and strangers not),
 * an incomplete report completed by its reply, emergencies, complaints, the rate limits; and
 * who may make the province act by mail (issue 11): answers only to the sender, senders the
 * MX doubts, replies that prove nothing waiting for the IOC. */
#include "gateway_fixture.h"
#include "letter_fixture.h"
#include "letters/letters.h"
#include "notify/notify.h"
#include "util/util.h"

#include <glib/gstdio.h>
#include <gmime/gmime.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

typedef GatewayFixture Fixture;

/* data: more [gateway] lines, or NULL */
static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_setenv("PAHT_NOW", "2026-11-28T09:00:00+07:00", TRUE);
    g_autofree char *extra =
        g_strconcat("[gateway]\nauto_replies_per_day = 5\n", data ? (const char *)data : "", NULL);
    gateway_fixture_open(f, "answers", extra);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    gateway_fixture_close(f);
    g_unsetenv("PAHT_NOW");
}

/* ---- mail ------------------------------------------------------------------------------------ */

typedef struct {
    const char *from, *to, *subject, *body;
    const char *message_id, *in_reply_to, *references, *extra;
} Mail;

/* ingests the mail; returns the result (classification, report id, code) */
static IngestResult ingest(Fixture *f, const Mail *m)
{
    f->serial++;
    g_autofree char *id =
        m->message_id ? g_strdup(m->message_id) : g_strdup_printf("m%d@example.vn", f->serial);
    g_autofree char *subject = g_base64_encode((const guchar *)m->subject, strlen(m->subject));
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "From: %s\nTo: %s\nSubject: =?UTF-8?B?%s?=\n", m->from,
                           m->to ? m->to : "paht@soctrang.gov.vn", subject);
    g_string_append_printf(s, "Date: Sat, 28 Nov 2026 09:00:00 +0700\nMessage-ID: <%s>\n", id);
    if (m->in_reply_to)
        g_string_append_printf(s, "In-Reply-To: <%s>\n", m->in_reply_to);
    if (m->references)
        g_string_append_printf(s, "References: %s\n", m->references);
    if (m->extra)
        g_string_append(s, m->extra);
    g_string_append(s, "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                       "Content-Transfer-Encoding: 8bit\n\n");
    g_string_append(s, m->body);
    g_string_append_c(s, '\n');
    g_auto(GStrv) lines = g_strsplit(s->str, "\n", -1);
    g_string_free(s, TRUE);
    g_autofree char *crlf = g_strjoinv("\r\n", lines);
    g_autofree char *path = g_strdup_printf("%s/mail-%d.eml", f->dir, f->serial);
    g_assert_true(g_file_set_contents(path, crlf, -1, NULL));
    IngestResult r = {0};
    GError *error = NULL;
    g_assert_true(inbound_ingest_file(f->gw, path, &r, &error));
    g_assert_no_error(error);
    return r;
}

static Report *load(Fixture *f, gint64 id)
{
    GError *error = NULL;
    Report *r = report_load_id(gateway_store(f->gw), id, &error);
    g_assert_no_error(error);
    return r;
}

static char *mail_kinds(const Report *r)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < r->mail->len; i++) {
        const ReportMail *m = g_ptr_array_index(r->mail, i);
        g_string_append_printf(s, "%s%s", i ? "," : "", m->kind);
    }
    return g_string_free(s, FALSE);
}

static char *event_kinds(const Report *r)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < r->events->len; i++) {
        const ReportEvent *e = g_ptr_array_index(r->events, i);
        g_string_append_printf(s, "%s%s", i ? "," : "", e->kind);
    }
    return g_string_free(s, FALSE);
}

static const ReportEvent *event_of(const Report *r, const char *kind)
{
    for (guint i = 0; i < r->events->len; i++) {
        const ReportEvent *e = g_ptr_array_index(r->events, i);
        if (g_str_equal(e->kind, kind))
            return e;
    }
    return NULL;
}

/* the report's letter of this kind (its outbox entry), or NULL */
static OutboxEntry *outbox_of(Fixture *f, gint64 report_id, const char *kind, GPtrArray **keep)
{
    GError *error = NULL;
    *keep = outbox_list(gateway_store(f->gw), NULL, &error);
    g_assert_no_error(error);
    for (guint i = 0; i < (*keep)->len; i++) {
        OutboxEntry *e = g_ptr_array_index(*keep, i);
        if (e->report_id == report_id && g_str_equal(e->kind, kind))
            return e;
    }
    return NULL;
}

/* the report's letter of this kind as its reader sees it: the plain text, and the subject */
static char *letter_of(Fixture *f, gint64 report_id, const char *kind, char **subject)
{
    g_autoptr(GPtrArray) keep = NULL;
    OutboxEntry *e = outbox_of(f, report_id, kind, &keep);
    g_assert_nonnull(e);
    g_autoptr(GMimeMessage) msg = fixture_letter(f->store, e->id);
    if (subject)
        *subject = g_strdup(g_mime_message_get_subject(msg));
    return fixture_letter_plain(msg);
}

static int first_integer(void *data, int columns, char **values, char **names)
{
    (void)names;
    *(gint64 *)data = columns > 0 && values[0] ? g_ascii_strtoll(values[0], NULL, 10) : 0;
    return 0;
}

/* SQL on the gateway's database through a connection of the test's own; the first column of
 * the last row, as an integer (0 when no row) */
static gint64 exec_sql(Fixture *f, const char *sql)
{
    g_autofree char *db = g_build_filename(f->dir, "paht.db", NULL);
    sqlite3 *conn = NULL;
    g_assert_cmpint(sqlite3_open(db, &conn), ==, SQLITE_OK);
    sqlite3_busy_timeout(conn, 5000);
    gint64 value = 0;
    g_assert_cmpint(sqlite3_exec(conn, sql, first_integer, &value, NULL), ==, SQLITE_OK);
    sqlite3_close(conn);
    return value;
}

static void set_state(Fixture *f, gint64 id, const char *state)
{
    g_autofree char *sql =
        g_strdup_printf("UPDATE report SET state = '%s' WHERE id = %" G_GINT64_FORMAT, state, id);
    exec_sql(f, sql);
}

static const char *const complete_fields = "Họ và tên: Nguyễn Văn An\n"
                                           "Địa chỉ: 25 Trần Hưng Đạo, phường 2\n"
                                           "CCCD: 094201001234\n"
                                           "Điện thoại: 0912 345 678\n"
                                           "Địa điểm: trước cổng chợ Phường 2\n";

/* ---- answers to new mail ----------------------------------------------------------------------
 */

static void test_complete_report_gets_ack(Fixture *f, gconstpointer data)
{
    g_autofree char *body = g_strconcat("Đèn đường hỏng.\n\n", complete_fields, NULL);
    Mail m = {.from = "an@example.vn", .subject = "Đèn đường hỏng", .body = body};
    IngestResult r = ingest(f, &m);
    g_assert_cmpstr(r.classification, ==, "report");
    g_autoptr(Report) rep = load(f, r.report_id);
    g_assert_cmpstr(rep->state, ==, "draft");
    g_assert_null(rep->missing[0]);
    g_autofree char *kinds = mail_kinds(rep);
    g_assert_cmpstr(kinds, ==, "ack");
    ingest_result_clear(&r);
}

/* the report's open deadline of this name, as the letters write times; NULL if none */
static char *deadline_text(Fixture *f, const Report *r, const char *name)
{
    for (guint i = 0; r->deadlines && i < r->deadlines->len; i++) {
        const ReportDeadline *d = g_ptr_array_index(r->deadlines, i);
        if (g_str_equal(d->name, name))
            return letters_format_time(f->config, d->due);
    }
    return NULL;
}

/* the report's open "assign" deadline is due, and its acknowledgement says so */
static void ack_states_assign_deadline(Fixture *f, gint64 report_id, const char *due)
{
    g_autoptr(Report) rep = load(f, report_id);
    g_autofree char *open = deadline_text(f, rep, "assign");
    g_assert_cmpstr(open, ==, due);
    g_autoptr(GPtrArray) keep = NULL;
    g_autoptr(GMimeMessage) ack =
        fixture_letter(f->store, outbox_of(f, report_id, "ack", &keep)->id);
    g_autofree char *text = fixture_letter_plain(ack);
    g_autofree char *stated = g_strdup_printf("chậm nhất lúc %s", due);
    if (!strstr(text, stated))
        g_error("the acknowledgement does not state \"%s\":\n%s", stated, text);
}

/* issue 11 item 16: the acknowledgement states the IOC's 4-hour deadline (Điều 7.3); the
 * report had none until the scheduler's next cycle (never, for pahtctl ingest) */
static void test_ack_states_the_assign_deadline_the_report_has(Fixture *f, gconstpointer data)
{
    g_autofree char *body = g_strconcat("Đèn đường hỏng.\n\n", complete_fields, NULL);
    Mail m = {.from = "an@example.vn", .subject = "Đèn đường hỏng", .body = body};
    IngestResult r = ingest(f, &m);
    /* Saturday 09:00: the four working hours are Monday's first */
    ack_states_assign_deadline(f, r.report_id, "11:00 ngày 30/11/2026");
    ingest_result_clear(&r);
}

/* a report completed by the citizen's reply waits for the IOC from then: the deadline opens
 * with the reply, and the acknowledgement the reply gets states that one */
static void test_completed_report_ack_states_the_deadline_from_completion(Fixture *f,
                                                                          gconstpointer data)
{
    Mail first = {.from = "an@example.vn",
                  .subject = "Đèn đường hỏng",
                  .body = "Đèn đường hỏng.\nHọ tên: Nguyễn Văn An\n",
                  .message_id = "lamp@example.vn"};
    IngestResult r = ingest(f, &first);
    g_autoptr(Report) before = load(f, r.report_id);
    g_assert_cmpstr(before->state, ==, "incomplete");
    g_assert_null(deadline_text(f, before, "assign"));
    g_autoptr(GPtrArray) keep = NULL;
    OutboxEntry *please = outbox_of(f, r.report_id, "incomplete", &keep);
    g_assert_nonnull(please);
    g_setenv("PAHT_NOW", "2026-11-30T09:00:00+07:00", TRUE);
    /* an answer to our letter: the sender is proven to be the citizen (issue 11, item 12) */
    Mail reply = {.from = "an@example.vn",
                  .subject = "Re: Đèn đường hỏng",
                  .body = complete_fields,
                  .in_reply_to = please->message_id};
    IngestResult r2 = ingest(f, &reply);
    g_assert_cmpint(r2.report_id, ==, r.report_id);
    g_autoptr(Report) after = load(f, r.report_id);
    g_assert_cmpstr(after->state, ==, "draft");
    /* Monday 09:00 + 4 working hours: 09-11, 13-15 */
    ack_states_assign_deadline(f, r.report_id, "15:00 ngày 30/11/2026");
    ingest_result_clear(&r);
    ingest_result_clear(&r2);
}

/* pahtctl preview ack after the acknowledgement went shows the letter that went, and so does
 * the same call without an error pointer: the preview decided whether to look for the sent one
 * by reading its caller's *error, so without one it found nothing */
static void test_preview_of_the_sent_ack_needs_no_error_pointer(Fixture *f, gconstpointer data)
{
    g_autofree char *body = g_strconcat("Đèn đường hỏng.\n\n", complete_fields, NULL);
    Mail m = {.from = "an@example.vn", .subject = "Đèn đường hỏng", .body = body};
    IngestResult r = ingest(f, &m);
    GError *error = NULL;
    g_autoptr(GBytes) asked =
        lifecycle_letters_preview(f->config, f->store, "ack", r.report_id, &error);
    g_assert_no_error(error);
    g_assert_nonnull(asked);
    g_autoptr(GBytes) unasked =
        lifecycle_letters_preview(f->config, f->store, "ack", r.report_id, NULL);
    g_assert_nonnull(unasked);
    g_assert_true(g_bytes_equal(asked, unasked));
    ingest_result_clear(&r);
}

static void test_incomplete_report_gets_please_complete(Fixture *f, gconstpointer data)
{
    Mail m = {.from = "\"Nguyễn Văn An\" <an@example.vn>",
              .subject = "Đèn đường hỏng",
              .body = "Đèn đường hỏng.\nHọ tên: Nguyễn Văn An\nSĐT: 0912345678\n"
                      "Địa chỉ: 25 Trần Hưng Đạo, phường 2\n",
              .message_id = "first@example.vn"};
    IngestResult r = ingest(f, &m);
    g_autoptr(Report) rep = load(f, r.report_id);
    g_assert_cmpstr(rep->state, ==, "incomplete");
    g_autofree char *missing = g_strjoinv(",", rep->missing);
    g_assert_cmpstr(missing, ==, "id_number,location");
    g_autofree char *kinds = mail_kinds(rep);
    g_assert_cmpstr(kinds, ==, "incomplete");

    g_autoptr(GPtrArray) keep = NULL;
    OutboxEntry *e = outbox_of(f, r.report_id, "incomplete", &keep);
    g_assert_nonnull(e);
    g_assert_cmpstr(e->rcpt, ==, "an@example.vn");
    g_autoptr(GMimeMessage) msg = fixture_letter(f->store, e->id);
    g_assert_cmpstr(g_mime_message_get_subject(msg), ==,
                    "[PAHT-2026-000001] Đề nghị bổ sung thông tin phản ánh: Đèn đường hỏng");
    GMimeObject *obj = GMIME_OBJECT(msg);
    g_assert_cmpstr(g_mime_object_get_header(obj, "Auto-Submitted"), ==, "auto-replied");
    g_assert_cmpstr(g_mime_object_get_header(obj, "In-Reply-To"), ==, "<first@example.vn>");
    g_autofree char *reply_to = g_strdup_printf("paht+%s@soctrang.gov.vn", rep->token);
    g_assert_nonnull(strstr(g_mime_object_get_header(obj, "Reply-To"), reply_to));
    g_autofree char *text = fixture_letter_plain(msg);
    /* each missing field in plain words, the fill-in block, the other channels */
    g_assert_nonnull(strstr(text, "còn thiếu: số căn cước công dân và địa điểm xảy ra sự việc."));
    /* no trailing space: in a flowed letter it would join the lines (RFC 3676 §4.2) */
    g_assert_nonnull(strstr(text, "\nSố căn cước công dân:\nĐịa điểm xảy ra sự việc:\n"));
    g_assert_null(strstr(text, "\nHọ và tên:\n")); /* only what is missing */
    g_assert_nonnull(strstr(text, "https://paht.soctrang.gov.vn"));
    g_assert_nonnull(strstr(text, "Công dân Sóc Trăng"));
    g_assert_nonnull(strstr(text, "Tổng đài 1022"));
    ingest_result_clear(&r);
}

static void test_emergency_answered_at_once_and_ioc_alerted(Fixture *f, gconstpointer data)
{
    Mail m = {.from = "thu@example.vn",
              .subject = "Báo cháy",
              .body = "Nhà kho đầu hẻm 5 Mạc Đĩnh Chi đang cháy!\nSĐT: 0933 444 555\n"};
    IngestResult r = ingest(f, &m);
    g_assert_cmpstr(r.classification, ==, "emergency");
    g_autoptr(Report) rep = load(f, r.report_id);
    g_assert_cmpstr(rep->classification, ==, "emergency");
    g_assert_cmpstr(rep->rule, ==, "keyword emergency \"đang cháy\" (text)");
    g_assert_cmpstr(rep->state, ==, "draft"); /* never "incomplete": the IOC acts now */
    g_autofree char *kinds = mail_kinds(rep);
    g_assert_cmpstr(kinds, ==, "emergency,ioc_alert");

    g_autoptr(GPtrArray) keep = NULL;
    OutboxEntry *e = outbox_of(f, r.report_id, "emergency", &keep);
    g_autoptr(GMimeMessage) msg = fixture_letter(f->store, e->id);
    g_assert_cmpstr(g_mime_message_get_subject(msg), ==,
                    "[PAHT-2026-000001] KHẨN CẤP: xin gọi ngay Tổng đài 1022");
    g_autofree char *text = fixture_letter_plain(msg);
    g_assert_nonnull(strstr(text, "XIN GỌI NGAY TỔNG ĐÀI 1022"));
    g_assert_nonnull(strstr(text, "0299.1022"));
    g_assert_nonnull(strstr(text, "khoản 2 Điều 6"));

    g_autoptr(GPtrArray) keep2 = NULL;
    OutboxEntry *alert = outbox_of(f, r.report_id, "ioc_alert", &keep2);
    g_assert_cmpstr(alert->rcpt, ==, "ioc@soctrang.gov.vn");
    g_autoptr(GMimeMessage) a = fixture_letter(f->store, alert->id);
    g_assert_cmpstr(g_mime_message_get_subject(a), ==,
                    "[PAHT] KHẨN CẤP: Báo cháy (PAHT-2026-000001)");
    g_autofree char *alert_text = fixture_letter_plain(a);
    /* what the IOC acts on; the sender's phone and address stay in the system (Điều 4.5) */
    g_assert_nonnull(strstr(alert_text, "từ khóa “đang cháy” trong nội dung thư"));
    g_assert_nonnull(
        strstr(alert_text, "Trích nội dung: Nhà kho đầu hẻm 5 Mạc Đĩnh Chi đang cháy!"));
    g_assert_null(strstr(alert_text, "0933444555"));
    g_assert_null(strstr(alert_text, "0933 444 555"));
    g_assert_null(strstr(alert_text, "thu@example.vn"));
    ingest_result_clear(&r);
}

static void test_complaint_not_acknowledged_refusal_suggested(Fixture *f, gconstpointer data)
{
    Mail m = {.from = "sang@example.vn",
              .subject = "Đơn khiếu nại về việc thu hồi đất",
              .body = "Tôi không đồng ý với quyết định thu hồi đất."};
    IngestResult r = ingest(f, &m);
    g_assert_cmpstr(r.classification, ==, "complaint");
    g_autoptr(Report) rep = load(f, r.report_id);
    g_assert_cmpstr(rep->state, ==, "draft");
    g_assert_cmpuint(rep->mail->len, ==, 0);
    const ReportEvent *e = event_of(rep, "refusal_suggested");
    g_assert_nonnull(e);
    g_assert_nonnull(strstr(e->detail, "Điều 1.1.c, 3.9"));
    g_assert_nonnull(strstr(e->detail, "keyword complaint \"đơn khiếu nại\" (subject)"));
    ingest_result_clear(&r);
}

static void test_auto_reply_to_our_letter_is_not_a_reply(Fixture *f, gconstpointer data)
{
    Mail first = {.from = "an@example.vn", .subject = "Đèn", .body = "Đèn hỏng."};
    IngestResult r = ingest(f, &first);
    g_autoptr(GPtrArray) keep = NULL;
    OutboxEntry *e = outbox_of(f, r.report_id, "incomplete", &keep);
    Mail ooo = {.from = "an@example.vn",
                .subject = "Trả lời tự động: Đèn",
                .body = "Tôi đang nghỉ phép.",
                .in_reply_to = e->message_id,
                .extra = "Auto-Submitted: auto-replied\n"};
    IngestResult a = ingest(f, &ooo);
    g_assert_cmpstr(a.classification, ==, "auto");
    g_assert_cmpint(a.report_id, ==, 0);
    g_autoptr(Report) rep = load(f, r.report_id);
    g_assert_null(event_of(rep, "citizen_reply"));
    ingest_result_clear(&r);
    ingest_result_clear(&a);
}

static void test_operator_answering_an_alert_is_not_the_citizen(Fixture *f, gconstpointer data)
{
    Mail m = {.from = "thu@example.vn", .subject = "Báo cháy", .body = "Nhà kho đang cháy!"};
    IngestResult r = ingest(f, &m);
    g_autoptr(GPtrArray) keep = NULL;
    OutboxEntry *alert = outbox_of(f, r.report_id, "ioc_alert", &keep);
    g_assert_nonnull(alert);
    Mail answer = {.from = "truc.ban@soctrang.gov.vn",
                   .subject = "Re: [PAHT] KHẨN CẤP: Báo cháy",
                   .body = "Đã chuyển cho PCCC.",
                   .in_reply_to = alert->message_id};
    IngestResult a = ingest(f, &answer);
    g_assert_cmpstr(a.classification, !=, "reply");
    g_assert_cmpint(a.report_id, !=, r.report_id);
    g_autoptr(Report) rep = load(f, r.report_id);
    g_assert_null(event_of(rep, "citizen_reply"));
    ingest_result_clear(&r);
    ingest_result_clear(&a);
}

/* ---- replies ------------------------------------------------------------------------------------
 */

static void test_reply_completes_incomplete_report(Fixture *f, gconstpointer data)
{
    Mail m = {.from = "\"Nguyễn Văn An\" <an@example.vn>",
              .subject = "Đèn đường hỏng",
              .body = "Đèn đường hỏng trước chợ.\nHọ tên: Nguyễn Văn An\n"};
    IngestResult r = ingest(f, &m);
    g_autoptr(GPtrArray) keep = NULL;
    OutboxEntry *please = outbox_of(f, r.report_id, "incomplete", &keep);
    g_assert_nonnull(please);
    /* Gmail: our letter's Message-ID in In-Reply-To, the letter quoted under the answer */
    g_autofree char *body = g_strconcat(
        "Địa chỉ liên hệ: 25 Trần Hưng Đạo, phường 2\nSố căn cước công dân: 094201001234\n"
        "Số điện thoại: 0912 345 678\nĐịa điểm xảy ra sự việc: trước cổng chợ Phường 2\n\n"
        "Vào Th 7, 28 thg 11, 2026 vào lúc 09:00 <paht@soctrang.gov.vn> đã viết:\n"
        "> Họ và tên: Trần Văn Sai\n> Số điện thoại:\n",
        NULL);
    g_autofree char *refs = g_strdup_printf("<%s>", please->message_id);
    Mail reply = {.from = "an@example.vn",
                  .subject = "Re: [PAHT-2026-000001] Đề nghị bổ sung thông tin phản ánh",
                  .body = body,
                  .in_reply_to = please->message_id,
                  .references = refs,
                  .message_id = "reply@example.vn"};
    IngestResult rr = ingest(f, &reply);
    g_assert_cmpstr(rr.classification, ==, "reply");
    g_assert_cmpint(rr.report_id, ==, r.report_id);
    g_assert_cmpstr(rr.code, ==, "PAHT-2026-000001");

    g_autoptr(Report) rep = load(f, r.report_id);
    g_assert_cmpstr(rep->state, ==, "draft");
    g_assert_null(rep->missing[0]);
    /* what it had stays; the quote (our letter) is not read */
    g_assert_cmpstr(rep->citizen.name, ==, "Nguyễn Văn An");
    g_assert_cmpstr(rep->citizen.address, ==, "25 Trần Hưng Đạo, phường 2");
    g_assert_cmpstr(rep->citizen.id_number, ==, "094201001234");
    g_assert_cmpstr(rep->citizen.phone, ==, "0912345678");
    g_assert_cmpstr(rep->location.text, ==, "trước cổng chợ Phường 2");
    g_assert_nonnull(strstr(rep->text, "Đèn đường hỏng trước chợ."));
    g_assert_nonnull(strstr(rep->text, "Số căn cước công dân: 094201001234"));
    g_assert_null(strstr(rep->text, "Trần Văn Sai"));
    g_autofree char *events = event_kinds(rep);
    g_assert_cmpstr(events, ==, "received,citizen_reply,completed");
    g_assert_true(g_str_has_prefix(event_of(rep, "citizen_reply")->detail,
                                   "matched by In-Reply-To\n\nĐịa chỉ liên hệ:"));
    /* and now the acknowledgement, threaded under the reply */
    g_autofree char *kinds = mail_kinds(rep);
    g_assert_cmpstr(kinds, ==, "incomplete,ack");
    g_autoptr(GPtrArray) keep2 = NULL;
    OutboxEntry *ack = outbox_of(f, r.report_id, "ack", &keep2);
    g_autoptr(GMimeMessage) msg = fixture_letter(f->store, ack->id);
    g_assert_cmpstr(g_mime_object_get_header(GMIME_OBJECT(msg), "In-Reply-To"), ==,
                    "<reply@example.vn>");
    g_assert_cmpstr(g_mime_message_get_subject(msg), ==,
                    "[PAHT-2026-000001] Đã tiếp nhận phản ánh: Đèn đường hỏng");

    /* the same reply again (a redelivery) changes nothing */
    g_autofree char *again = g_strdup_printf("%s/mail-%d.eml", f->dir, f->serial);
    IngestResult dup = {0};
    GError *error = NULL;
    g_assert_true(inbound_ingest_file(f->gw, again, &dup, &error));
    g_assert_true(dup.duplicate);
    g_assert_cmpstr(dup.classification, ==, "reply");
    g_assert_cmpstr(dup.code, ==, "PAHT-2026-000001");
    g_autoptr(Report) same = load(f, r.report_id);
    g_assert_cmpuint(same->events->len, ==, rep->events->len);
    g_assert_cmpuint(same->mail->len, ==, 2);
    ingest_result_clear(&r);
    ingest_result_clear(&rr);
    ingest_result_clear(&dup);
}

static void test_reply_still_incomplete_asks_again(Fixture *f, gconstpointer data)
{
    Mail m = {.from = "an@example.vn", .subject = "Rác", .body = "Rác thải tồn đọng."};
    IngestResult r = ingest(f, &m);
    g_autoptr(GPtrArray) keep = NULL;
    OutboxEntry *please = outbox_of(f, r.report_id, "incomplete", &keep);
    Mail reply = {.from = "an@example.vn",
                  .subject = "Re: [PAHT-2026-000001] Đề nghị bổ sung thông tin phản ánh: Rác",
                  .body = "Họ và tên: Trần Thị Bé\nSố điện thoại: 0987654321\n",
                  .in_reply_to = please->message_id};
    IngestResult rr = ingest(f, &reply);
    g_assert_cmpstr(rr.classification, ==, "reply");
    g_autoptr(Report) rep = load(f, r.report_id);
    g_assert_cmpstr(rep->state, ==, "incomplete");
    g_autofree char *missing = g_strjoinv(",", rep->missing);
    g_assert_cmpstr(missing, ==, "address,id_number,location");
    g_assert_cmpstr(rep->citizen.name, ==, "Trần Thị Bé");
    g_autofree char *kinds = mail_kinds(rep);
    g_assert_cmpstr(kinds, ==, "incomplete,incomplete");
    GPtrArray *all = outbox_list(gateway_store(f->gw), NULL, NULL);
    OutboxEntry *second = g_ptr_array_index(all, all->len - 1);
    g_autoptr(GMimeMessage) msg = fixture_letter(f->store, second->id);
    g_autofree char *text = fixture_letter_plain(msg);
    g_assert_nonnull(strstr(text, "vẫn còn thiếu"));
    g_assert_nonnull(
        strstr(text, "còn thiếu: địa chỉ liên hệ, số căn cước công dân và địa điểm xảy ra"));
    g_ptr_array_unref(all);
    ingest_result_clear(&r);
    ingest_result_clear(&rr);
}

static void test_reply_by_token_from_another_address(Fixture *f, gconstpointer data)
{
    Mail m = {.from = "an@example.vn", .subject = "Rác", .body = "Rác thải tồn đọng."};
    IngestResult r = ingest(f, &m);
    g_autoptr(Report) before = load(f, r.report_id);
    /* the citizen answers from their phone's other account, to the Reply-To address */
    g_autofree char *to = g_strdup_printf("PAHT+%s@SocTrang.gov.vn", before->token);
    Mail reply = {.from = "an.mobile@example.vn",
                  .to = to,
                  .subject = "Ảnh bổ sung",
                  .body = "Thêm thông tin: rác ở cổng sau chợ."};
    IngestResult rr = ingest(f, &reply);
    g_assert_cmpstr(rr.classification, ==, "reply");
    g_assert_cmpint(rr.report_id, ==, r.report_id);
    g_autoptr(Report) rep = load(f, r.report_id);
    g_assert_true(g_str_has_prefix(event_of(rep, "citizen_reply")->detail, "matched by token"));
    ingest_result_clear(&r);
    ingest_result_clear(&rr);
}

/* the pending supplements of a report */
static GPtrArray *pending_of(Fixture *f, gint64 report_id)
{
    GError *error = NULL;
    GPtrArray *list = pending_reply_list(gateway_store(f->gw), report_id, &error);
    g_assert_no_error(error);
    return list;
}

static void test_reply_from_stranger_does_not_join_report(Fixture *f, gconstpointer data)
{
    Mail m = {.from = "an@example.vn", .subject = "Rác ở chợ", .body = "Rác thải tồn đọng."};
    IngestResult r = ingest(f, &m);
    /* the citizen's address quoting the code (in any case) proves nothing: it waits for the
     * IOC, added to nothing (issue 11) */
    Mail own = {.from = "AN@Example.VN",
                .subject = "Re: [paht-2026-000001] Rác ở chợ",
                .body = "Vẫn chưa dọn."};
    IngestResult o = ingest(f, &own);
    g_assert_cmpstr(o.classification, ==, "reply");
    g_assert_cmpint(o.report_id, ==, r.report_id);
    /* someone else quoting the same code makes a report of their own */
    Mail stranger = {.from = "stranger@example.vn",
                     .subject = "Re: [PAHT-2026-000001] Rác ở chợ",
                     .body = "Tôi cũng thấy rác ở chợ."};
    IngestResult s = ingest(f, &stranger);
    g_assert_cmpstr(s.classification, ==, "report");
    g_assert_cmpint(s.report_id, !=, r.report_id);
    g_assert_cmpstr(s.code, ==, "PAHT-2026-000002");
    g_autoptr(Report) theirs = load(f, s.report_id);
    const ReportEvent *e = event_of(theirs, "code_not_joined");
    g_assert_nonnull(e);
    g_assert_nonnull(strstr(e->detail, "PAHT-2026-000001"));
    g_autoptr(Report) original = load(f, r.report_id);
    g_autofree char *events = event_kinds(original);
    g_assert_cmpstr(events, ==, "received,supplement_pending");
    g_autoptr(GPtrArray) pending = pending_of(f, r.report_id);
    g_assert_cmpuint(pending->len, ==, 1);
    ingest_result_clear(&r);
    ingest_result_clear(&o);
    ingest_result_clear(&s);
}

static void test_citizen_answering_own_message_waits_for_ioc(Fixture *f, gconstpointer data)
{
    Mail m = {.from = "an@example.vn",
              .subject = "Rác",
              .body = "Rác thải tồn đọng.",
              .message_id = "own-first@example.vn"};
    IngestResult r = ingest(f, &m);
    /* the thread is the citizen's, but a From address proves nothing */
    Mail more = {.from = "an@example.vn",
                 .subject = "Re: Rác",
                 .body = "Thêm ảnh.",
                 .in_reply_to = "own-first@example.vn"};
    IngestResult mo = ingest(f, &more);
    g_assert_cmpstr(mo.classification, ==, "reply");
    g_assert_cmpint(mo.report_id, ==, r.report_id);
    g_autoptr(GPtrArray) pending = pending_of(f, r.report_id);
    g_assert_cmpuint(pending->len, ==, 1);
    const PendingReply *p = g_ptr_array_index(pending, 0);
    g_assert_cmpstr(p->matched_by, ==, "In-Reply-To of the citizen's own message");
    /* and someone else answering in that thread is not even that */
    Mail other = {.from = "neighbour@example.vn",
                  .subject = "Re: Rác",
                  .body = "Đúng vậy.",
                  .in_reply_to = "own-first@example.vn"};
    IngestResult ot = ingest(f, &other);
    g_assert_cmpstr(ot.classification, ==, "report");
    g_assert_cmpint(ot.report_id, !=, r.report_id);
    ingest_result_clear(&r);
    ingest_result_clear(&mo);
    ingest_result_clear(&ot);
}

/* a complete report from `from`, acknowledged; *ack_id gets the ack's Message-ID */
static gint64 acknowledged_report(Fixture *f, const char *from, const char *subject, char **ack_id)
{
    g_autofree char *body = g_strconcat("Đèn đường hỏng.\n", complete_fields, NULL);
    Mail m = {.from = from, .subject = subject, .body = body};
    IngestResult r = ingest(f, &m);
    g_autoptr(GPtrArray) keep = NULL;
    *ack_id = g_strdup(outbox_of(f, r.report_id, "ack", &keep)->message_id);
    gint64 id = r.report_id;
    ingest_result_clear(&r);
    return id;
}

/* `from` answering our letter ack_id: a reply that proves its sender read it */
static void answer_letter(Fixture *f, const char *from, const char *ack_id, const char *body,
                          const char *message_id)
{
    Mail reply = {.from = from,
                  .subject = "Re: [PAHT-2026-000001] Đã tiếp nhận phản ánh",
                  .body = body,
                  .in_reply_to = ack_id,
                  .message_id = message_id};
    IngestResult r = ingest(f, &reply);
    g_assert_cmpstr(r.classification, ==, "reply");
    ingest_result_clear(&r);
}

static void test_reply_after_the_ioc_took_it(Fixture *f, gconstpointer data)
{
    g_autofree char *ack = NULL;
    gint64 id = acknowledged_report(f, "an@example.vn", "Đèn", &ack);
    set_state(f, id, "assigned");
    Mail reply = {.from = "an@example.vn",
                  .subject = "Re: [PAHT-2026-000001] Đã tiếp nhận phản ánh: Đèn",
                  .body = "Đèn vẫn chưa sửa, thêm một cột nữa cũng hỏng.",
                  .in_reply_to = ack,
                  .extra = "Content-Language: vi\n"};
    IngestResult rr = ingest(f, &reply);
    g_assert_cmpstr(rr.classification, ==, "reply");
    g_autoptr(Report) rep = load(f, id);
    g_assert_cmpstr(rep->state, ==, "assigned");
    g_assert_nonnull(event_of(rep, "citizen_reply"));
    /* the body of an accepted report stays what the IOC accepted */
    g_assert_null(strstr(rep->text, "thêm một cột"));
    /* the IOC sees it at once; the citizen learns that it arrived */
    g_autofree char *kinds = mail_kinds(rep);
    g_assert_cmpstr(kinds, ==, "ack,ioc_alert,supplement");

    /* published: the citizen's rating (Điều 10.3), answering our letter, is recorded and
     * closes the report; no letter answers it */
    set_state(f, id, "published");
    answer_letter(f, "an@example.vn", ack, "1", NULL);
    g_autoptr(Report) after = load(f, id);
    g_autofree char *kinds2 = mail_kinds(after);
    g_assert_cmpstr(kinds2, ==, "ack,ioc_alert,supplement");
    g_autofree char *events = event_kinds(after);
    g_assert_cmpstr(events, ==, "received,citizen_reply,citizen_reply,rated");
    g_assert_cmpstr(after->state, ==, "closed");
    ingest_result_clear(&rr);
}

/* ---- rate limit ---------------------------------------------------------------------------------
 */

static void test_rate_limit_per_sender(Fixture *f, gconstpointer data)
{
    for (int i = 0; i < 7; i++) {
        g_autofree char *body = g_strdup_printf("Phản ánh số %d: đèn đường hỏng.", i);
        Mail m = {.from = "flood@example.vn", .subject = "Đèn", .body = body};
        IngestResult r = ingest(f, &m);
        g_assert_cmpstr(r.classification, ==, "report");
        g_autoptr(Report) rep = load(f, r.report_id);
        if (i < 5) {
            g_autofree char *kinds = mail_kinds(rep);
            g_assert_cmpstr(kinds, ==, "incomplete");
        } else {
            const ReportEvent *e = event_of(rep, "rate_limited");
            g_assert_nonnull(e);
            g_assert_nonnull(strstr(e->detail, "auto_replies_per_day = 5"));
        }
        ingest_result_clear(&r);
    }
    /* another sender is not affected */
    Mail other = {.from = "calm@example.vn", .subject = "Đèn", .body = "Đèn hỏng."};
    IngestResult o = ingest(f, &other);
    g_autoptr(Report) orep = load(f, o.report_id);
    g_autofree char *okinds = mail_kinds(orep);
    g_assert_cmpstr(okinds, ==, "incomplete");
    ingest_result_clear(&o);

    GError *error = NULL;
    g_autoptr(GPtrArray) all = outbox_list(gateway_store(f->gw), NULL, &error);
    int to_flood = 0, alerts = 0;
    for (guint i = 0; i < all->len; i++) {
        OutboxEntry *e = g_ptr_array_index(all, i);
        to_flood += g_str_equal(e->rcpt, "flood@example.vn");
        alerts += g_str_equal(e->kind, "ioc_alert");
    }
    g_assert_cmpint(to_flood, ==, 5);
    g_assert_cmpint(alerts, ==, 1); /* once per address and day */

    /* a day later the address is answered again */
    g_setenv("PAHT_NOW", "2026-11-29T09:30:00+07:00", TRUE);
    Mail later = {.from = "Flood@Example.vn", .subject = "Đèn", .body = "Ngày mới."};
    IngestResult l = ingest(f, &later);
    g_autoptr(Report) lrep = load(f, l.report_id);
    g_autofree char *lkinds = mail_kinds(lrep);
    g_assert_cmpstr(lkinds, ==, "incomplete");
    ingest_result_clear(&l);
}

/* ---- issue 11: answers only to the sender ----------------------------------------------------
 */

/* the letters of the outbox to rcpt (any case) */
static int letters_to(Fixture *f, const char *rcpt)
{
    GError *error = NULL;
    g_autoptr(GPtrArray) all = outbox_list(gateway_store(f->gw), NULL, &error);
    g_assert_no_error(error);
    int n = 0;
    for (guint i = 0; i < all->len; i++) {
        const OutboxEntry *e = g_ptr_array_index(all, i);
        n += g_ascii_strcasecmp(e->rcpt, rcpt) == 0;
    }
    return n;
}

static void test_answer_goes_to_the_sender_not_an_address_in_the_text(Fixture *f,
                                                                      gconstpointer data)
{
    Mail m = {.from = "attacker@spam.example",
              .subject = "Mua thuốc giá rẻ tại www.spam.example",
              .body = "Email: victim@victim.example\nĐèn hỏng.\n"};
    IngestResult r = ingest(f, &m);
    g_autoptr(Report) rep = load(f, r.report_id);
    /* the address in the text is data for the IOC */
    g_assert_cmpstr(rep->citizen.email, ==, "victim@victim.example");
    g_assert_cmpint(letters_to(f, "victim@victim.example"), ==, 0);
    g_assert_cmpint(letters_to(f, "attacker@spam.example"), ==, 1);
    ingest_result_clear(&r);
}

/* Issue 18 (scale): the report's row is written once. The sender used to be set by an UPDATE
 * right after the INSERT, and the search index's trigger then deleted the new report from the
 * FTS5 index and indexed it again: the costliest statement of an ingest, and FTS5 segments and
 * merges that grow with the history. */
static void test_new_report_row_is_written_once(Fixture *f, gconstpointer data)
{
    exec_sql(f, "CREATE TABLE test_rewritten(report_id INTEGER);"
                "CREATE TRIGGER test_rewritten AFTER UPDATE ON report"
                " BEGIN INSERT INTO test_rewritten VALUES (old.id); END;");
    Mail m = {.from = "Nguyễn Văn An <an.nguyen@example.vn>",
              .subject = "Đèn đường hỏng",
              .body = "Đèn đường trước nhà số 5 đường Trần Hưng Đạo bị hỏng từ tối qua.\n"};
    IngestResult r = ingest(f, &m);
    g_assert_cmpint(r.report_id, >, 0);
    g_assert_cmpint(exec_sql(f, "SELECT count(*) FROM test_rewritten"), ==, 0);
    /* the sender is stored with the row, and the search index has it */
    g_autofree char *sender = NULL;
    GError *error = NULL;
    g_assert_true(report_sender(gateway_store(f->gw), r.report_id, &sender, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(sender, ==, "an.nguyen@example.vn");
    /* (the index is written in batches: the report waits for the next catch-up) */
    g_assert_cmpint(exec_sql(f, "SELECT report_id FROM report_search_pending"), ==, r.report_id);
    g_assert_true(report_search_catch_up(gateway_store(f->gw), &error));
    g_assert_no_error(error);
    g_assert_cmpint(exec_sql(f, "SELECT rowid FROM report_search"
                                " WHERE report_search MATCH 'email:\"an.nguyen\"'"),
                    ==, r.report_id);
    ingest_result_clear(&r);
}

static void test_answer_uses_the_envelope_sender_when_from_names_nobody(Fixture *f,
                                                                        gconstpointer data)
{
    Mail m = {.from = "undisclosed-recipients:;",
              .subject = "Đèn hỏng",
              .body = "Đèn đường hỏng.",
              .extra = "Return-Path: <an@example.vn>\n"};
    IngestResult r = ingest(f, &m);
    g_assert_cmpstr(r.classification, ==, "report");
    g_assert_cmpint(letters_to(f, "an@example.vn"), ==, 1);
    ingest_result_clear(&r);
}

static void test_rate_limit_folds_case_and_tag(Fixture *f, gconstpointer data)
{
    for (int i = 0; i < 7; i++) {
        g_autofree char *from =
            g_strdup_printf("%s+%d@Victim.example", i % 2 ? "Victim" : "victim", i);
        Mail m = {.from = from, .subject = "Khuyến mãi", .body = "Đèn hỏng."};
        IngestResult r = ingest(f, &m);
        g_autoptr(Report) rep = load(f, r.report_id);
        if (i >= 5) {
            const ReportEvent *e = event_of(rep, "rate_limited");
            g_assert_nonnull(e);
            g_assert_nonnull(strstr(e->detail, "auto_replies_per_day = 5"));
        }
        ingest_result_clear(&r);
    }
    GError *error = NULL;
    g_autoptr(GPtrArray) all = outbox_list(gateway_store(f->gw), NULL, &error);
    int answers = 0;
    for (guint i = 0; i < all->len; i++)
        answers += g_str_equal(((OutboxEntry *)g_ptr_array_index(all, i))->kind, "incomplete");
    g_assert_cmpint(answers, ==, 5);
}

static void test_rate_limit_per_domain_and_in_total(Fixture *f, gconstpointer data)
{
    /* per domain in the hour (3 here): a fourth address of that domain gets nothing */
    for (int i = 0; i < 4; i++) {
        g_autofree char *from = g_strdup_printf("nguoi%d@victim.example", i);
        Mail m = {.from = from, .subject = "Đèn", .body = "Đèn hỏng."};
        IngestResult r = ingest(f, &m);
        g_assert_cmpint(letters_to(f, from), ==, i < 3 ? 1 : 0);
        if (i == 3) {
            g_autoptr(Report) rep = load(f, r.report_id);
            const ReportEvent *e = event_of(rep, "rate_limited");
            g_assert_nonnull(e);
            g_assert_nonnull(strstr(e->detail, "auto_replies_per_domain_per_hour = 3"));
        }
        ingest_result_clear(&r);
    }
    /* in total in the hour (5 here): two more of other domains, then none */
    for (int i = 0; i < 3; i++) {
        g_autofree char *from = g_strdup_printf("dan@tinh%d.example", i);
        Mail m = {.from = from, .subject = "Đèn", .body = "Đèn hỏng."};
        IngestResult r = ingest(f, &m);
        g_assert_cmpint(letters_to(f, from), ==, i < 2 ? 1 : 0);
        ingest_result_clear(&r);
    }
    g_assert_cmpint(letters_to(f, "ioc@soctrang.gov.vn"), ==, 2); /* one alert per limit */
    /* each says which limit, in words, and the address shortened (Điều 4.5) */
    GError *error = NULL;
    g_autoptr(GPtrArray) all = outbox_list(gateway_store(f->gw), NULL, &error);
    GString *alerts = g_string_new(NULL);
    for (guint i = 0; i < all->len; i++) {
        const OutboxEntry *e = g_ptr_array_index(all, i);
        if (!g_str_equal(e->kind, "ioc_alert"))
            continue;
        g_autoptr(GMimeMessage) msg = fixture_letter(f->store, e->id);
        g_autofree char *text = fixture_letter_plain(msg);
        g_string_append_printf(alerts, "%s\n%s\n", g_mime_message_get_subject(msg), text);
    }
    static const char *const said[] = {
        "Một tên miền đã vượt giới hạn thư trả lời tự động trong giờ",
        "Địa chỉ: n***@victim.example",
        "Đã có 3 thư trả lời tự động cho các địa chỉ thuộc tên miền này trong 1 giờ qua "
        "(giới hạn auto_replies_per_domain_per_hour = 3)",
        "Hệ thống đã vượt giới hạn tổng số thư trả lời tự động trong giờ",
        "(tổng cộng) trong 1 giờ qua (giới hạn auto_replies_per_hour = 5)"};
    for (gsize i = 0; i < G_N_ELEMENTS(said); i++) {
        if (!strstr(alerts->str, said[i]))
            g_error("\"%s\" missing from the alerts:\n%s", said[i], alerts->str);
    }
    g_assert_null(strstr(alerts->str, "nguoi3@victim.example"));
    g_string_free(alerts, TRUE);
    /* an hour later the domain is answered again */
    g_setenv("PAHT_NOW", "2026-11-28T10:01:00+07:00", TRUE);
    Mail later = {.from = "nguoi9@victim.example", .subject = "Đèn", .body = "Đèn hỏng."};
    IngestResult l = ingest(f, &later);
    g_assert_cmpint(letters_to(f, "nguoi9@victim.example"), ==, 1);
    ingest_result_clear(&l);
}

/* ---- issue 11: senders the province's MX doubts ------------------------------------------------
 */

#define MX "mx.soctrang.gov.vn"

static void test_dmarc_failure_is_drafted_marked_and_not_answered(Fixture *f, gconstpointer data)
{
    /* the MX's verdict on top; a copy the sender forged below says pass */
    Mail m = {.from = "citizen@gmail.com",
              .subject = "Giảm cân thần tốc",
              .body = "Đèn hỏng.",
              .extra = "Authentication-Results: " MX "; dkim=none;\n"
                       "  dmarc=fail (p=REJECT sp=REJECT dis=NONE) header.from=gmail.com\n"
                       "Received: from spam.example by " MX "\n"
                       "Authentication-Results: " MX "; dmarc=pass header.from=gmail.com\n"};
    IngestResult r = ingest(f, &m);
    g_assert_cmpstr(r.classification, ==, "report");
    g_autoptr(Report) rep = load(f, r.report_id);
    g_assert_cmpstr(rep->state, ==, "incomplete"); /* drafted as any report */
    const ReportEvent *e = event_of(rep, "sender_unverified");
    g_assert_nonnull(e);
    g_assert_nonnull(strstr(e->detail, "fails DMARC"));
    g_assert_nonnull(strstr(e->detail, "pahtctl answer PAHT-2026-000001"));
    g_assert_cmpuint(rep->mail->len, ==, 0);
    /* pahtctl show says so: tests/unit/test_app_present.c */

    /* the IOC answers it by hand, once */
    GError *error = NULL;
    g_assert_true(held_answer_by_ioc(f->gw, r.report_id, "truc.ban", &error));
    g_assert_no_error(error);
    g_autoptr(Report) answered = load(f, r.report_id);
    g_autofree char *kinds = mail_kinds(answered);
    g_assert_cmpstr(kinds, ==, "incomplete");
    g_assert_cmpstr(((ReportMail *)g_ptr_array_index(answered->mail, 0))->rcpt, ==,
                    "citizen@gmail.com");
    g_assert_cmpstr(event_of(answered, "answered_by_ioc")->actor, ==, "truc.ban");
    g_assert_false(held_answer_by_ioc(f->gw, r.report_id, "truc.ban", &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED);
    g_clear_error(&error);

    /* a DMARC pass from the MX, and a failure written by another server: answered */
    Mail good = {.from = "an@gmail.com",
                 .subject = "Đèn",
                 .body = "Đèn hỏng.",
                 .extra = "Authentication-Results: " MX "; dmarc=pass header.from=gmail.com\n"
                          "Authentication-Results: mx.other.example; dmarc=fail\n"};
    IngestResult g = ingest(f, &good);
    g_assert_cmpint(letters_to(f, "an@gmail.com"), ==, 1);
    ingest_result_clear(&g);
    ingest_result_clear(&r);
}

static void test_spam_flag_of_the_mx_holds_the_answer(Fixture *f, gconstpointer data)
{
    Mail m = {.from = "an@example.vn",
              .subject = "Đèn",
              .body = "Đèn hỏng.",
              .extra = "X-Spam-Flag: YES\nX-Spam-Status: Yes, score=14.2 required=5.0\n"};
    IngestResult r = ingest(f, &m);
    g_autoptr(Report) rep = load(f, r.report_id);
    const ReportEvent *e = event_of(rep, "sender_unverified");
    g_assert_nonnull(e);
    g_assert_nonnull(strstr(e->detail, "score=14.2"));
    g_assert_cmpint(letters_to(f, "an@example.vn"), ==, 0);
    ingest_result_clear(&r);
}

static void test_emergency_from_a_doubted_sender_alerts_only_the_ioc(Fixture *f, gconstpointer data)
{
    Mail m = {.from = "thu@example.vn",
              .subject = "Báo cháy",
              .body = "Nhà kho đang cháy!",
              .extra = "Authentication-Results: " MX "; dmarc=fail header.from=example.vn\n"};
    IngestResult r = ingest(f, &m);
    g_assert_cmpstr(r.classification, ==, "emergency");
    g_autoptr(Report) rep = load(f, r.report_id);
    g_autofree char *kinds = mail_kinds(rep);
    g_assert_cmpstr(kinds, ==, "ioc_alert");
    g_autofree char *text = letter_of(f, r.report_id, "ioc_alert", NULL);
    g_assert_nonnull(strstr(text, "CHƯA được trả lời tự động"));
    /* why, in the IOC's language: the MX's verdict, not the log's English */
    g_assert_nonnull(strstr(text, "máy chủ thư của tỉnh (" MX ") xác định thư không qua kiểm "
                                  "tra DMARC"));
    g_assert_nonnull(strstr(text, "dmarc=fail"));
    g_assert_null(strstr(text, "fails DMARC"));
    ingest_result_clear(&r);
}

static void test_without_a_trusted_mx_authentication_results_are_not_read(Fixture *f,
                                                                          gconstpointer data)
{
    Mail m = {.from = "an@example.vn",
              .subject = "Đèn",
              .body = "Đèn hỏng.",
              .extra = "Authentication-Results: " MX "; dmarc=fail header.from=example.vn\n"
                       "X-Spam-Flag: YES\n"};
    IngestResult r = ingest(f, &m);
    g_autoptr(Report) rep = load(f, r.report_id);
    g_assert_null(event_of(rep, "sender_unverified"));
    g_assert_cmpint(letters_to(f, "an@example.vn"), ==, 1);
    ingest_result_clear(&r);
}

/* ---- issue 11: what a From address alone may do -----------------------------------------------
 */

/* a report of citizen@gmail.com, published; returns its id and its ack's Message-ID */
static gint64 published_report(Fixture *f, char **ack_id)
{
    gint64 id = acknowledged_report(f, "citizen@gmail.com", "Đèn", ack_id);
    set_state(f, id, "published");
    return id;
}

static void test_forged_from_and_code_cannot_rate(Fixture *f, gconstpointer data)
{
    g_autofree char *ack = NULL;
    gint64 id = published_report(f, &ack);
    /* codes are sequential and agencies see citizens' addresses */
    Mail forged = {.from = "citizen@gmail.com", .subject = "PAHT-2026-000001", .body = "1"};
    IngestResult r = ingest(f, &forged);
    g_assert_cmpstr(r.classification, ==, "reply");
    g_autoptr(Report) rep = load(f, id);
    g_assert_cmpstr(rep->state, ==, "published");
    g_assert_null(event_of(rep, "rated"));
    g_assert_null(event_of(rep, "citizen_reply"));
    const ReportEvent *e = event_of(rep, "supplement_pending");
    g_assert_nonnull(e);
    g_assert_nonnull(strstr(e->detail, "pahtctl supplement 1 --confirm"));
    GError *error = NULL;
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(gateway_store(f->gw), id, &error);
    g_assert_cmpint(rec->rating, ==, 0);
    /* the IOC is told, once a day for the report, and nobody else; why it waits in its own
     * language */
    g_assert_cmpint(letters_to(f, "ioc@soctrang.gov.vn"), ==, 1);
    g_autofree char *subject = NULL;
    g_autofree char *text = letter_of(f, id, "ioc_alert", &subject);
    g_assert_cmpstr(subject, ==, "[PAHT] Thư bổ sung cho phản ánh PAHT-2026-000001 chờ xác nhận");
    g_assert_nonnull(strstr(text, "Người gửi: c***@gmail.com"));
    g_assert_nonnull(strstr(text, "Lý do chờ: chỉ có địa chỉ người gửi (From)"));
    g_assert_nonnull(strstr(text, "pahtctl supplement 1 --confirm"));
    g_assert_null(strstr(text, "only its From address"));
    Mail again = {.from = "citizen@gmail.com", .subject = "PAHT-2026-000001", .body = "3"};
    IngestResult a = ingest(f, &again);
    g_assert_cmpint(letters_to(f, "ioc@soctrang.gov.vn"), ==, 1);
    g_assert_cmpint(letters_to(f, "citizen@gmail.com"), ==, 1); /* the ack, no more */

    /* the IOC discards the second and confirms the first: it counts then */
    IngestResult d = {0};
    g_assert_true(held_supplement_decide(f->gw, 2, FALSE, "truc.ban", &d, &error));
    g_assert_no_error(error);
    ingest_result_clear(&d);
    IngestResult c = {0};
    g_assert_true(held_supplement_decide(f->gw, 1, TRUE, "truc.ban", &c, &error));
    g_assert_no_error(error);
    g_assert_cmpint(c.report_id, ==, id);
    g_autoptr(Report) after = load(f, id);
    g_assert_cmpstr(after->state, ==, "closed");
    const ReportEvent *rated = event_of(after, "rated");
    g_assert_nonnull(rated);
    g_assert_cmpstr(rated->detail, ==, "1 (Rất hài lòng)");
    g_assert_cmpstr(event_of(after, "supplement_confirmed")->actor, ==, "truc.ban");
    g_assert_nonnull(event_of(after, "supplement_discarded"));
    g_assert_true(g_str_has_prefix(event_of(after, "citizen_reply")->detail,
                                   "matched by tracking code, confirmed by the IOC"));
    /* decided once */
    IngestResult twice = {0};
    g_assert_false(held_supplement_decide(f->gw, 1, TRUE, "truc.ban", &twice, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED);
    g_clear_error(&error);
    g_autoptr(GPtrArray) pending = pending_of(f, id);
    g_assert_cmpstr(((PendingReply *)g_ptr_array_index(pending, 0))->state, ==, "confirmed");
    g_assert_cmpstr(((PendingReply *)g_ptr_array_index(pending, 1))->state, ==, "discarded");
    ingest_result_clear(&c);
    ingest_result_clear(&r);
    ingest_result_clear(&a);
}

static void test_rating_answering_our_letter_counts(Fixture *f, gconstpointer data)
{
    g_autofree char *ack = NULL;
    gint64 id = published_report(f, &ack);
    answer_letter(f, "citizen@gmail.com", ack, "2", NULL);
    g_autoptr(Report) rep = load(f, id);
    g_assert_cmpstr(rep->state, ==, "closed");
    g_assert_nonnull(event_of(rep, "rated"));
}

static void test_code_alone_does_not_complete_a_draft(Fixture *f, gconstpointer data)
{
    Mail m = {.from = "an@example.vn", .subject = "Rác", .body = "Rác thải tồn đọng."};
    IngestResult r = ingest(f, &m);
    g_autofree char *reply_body = g_strconcat("Bổ sung:\n", complete_fields, NULL);
    Mail reply = {
        .from = "an@example.vn", .subject = "[PAHT-2026-000001] bổ sung", .body = reply_body};
    IngestResult rr = ingest(f, &reply);
    g_autoptr(Report) waiting = load(f, r.report_id);
    g_assert_cmpstr(waiting->state, ==, "incomplete");
    g_assert_null(waiting->citizen.id_number);
    g_autofree char *kinds = mail_kinds(waiting);
    g_assert_cmpstr(kinds, ==, "incomplete,ioc_alert");
    /* confirmed: completed, and the acknowledgement goes to the sender */
    IngestResult c = {0};
    GError *error = NULL;
    g_assert_true(held_supplement_decide(f->gw, 1, TRUE, "truc.ban", &c, &error));
    g_assert_no_error(error);
    g_autoptr(Report) done = load(f, r.report_id);
    g_assert_cmpstr(done->state, ==, "draft");
    g_assert_cmpstr(done->citizen.id_number, ==, "094201001234");
    g_autofree char *after = mail_kinds(done);
    g_assert_cmpstr(after, ==, "incomplete,ioc_alert,ack");
    ingest_result_clear(&c);
    ingest_result_clear(&r);
    ingest_result_clear(&rr);
}

static void test_token_reply_from_a_doubted_sender_waits(Fixture *f, gconstpointer data)
{
    Mail m = {.from = "an@example.vn", .subject = "Rác", .body = "Rác thải tồn đọng."};
    IngestResult r = ingest(f, &m);
    g_autoptr(Report) before = load(f, r.report_id);
    g_autofree char *to = g_strdup_printf("paht+%s@soctrang.gov.vn", before->token);
    Mail reply = {.from = "an@example.vn",
                  .to = to,
                  .subject = "Re: Rác",
                  .body = "Họ và tên: Kẻ Giả Mạo\n",
                  .extra = "X-Spam-Status: Yes, score=9.1\n"};
    IngestResult rr = ingest(f, &reply);
    g_autoptr(Report) rep = load(f, r.report_id);
    g_assert_null(rep->citizen.name);
    g_autoptr(GPtrArray) pending = pending_of(f, r.report_id);
    g_assert_cmpuint(pending->len, ==, 1);
    g_assert_nonnull(strstr(((PendingReply *)g_ptr_array_index(pending, 0))->reason, "spam"));
    ingest_result_clear(&r);
    ingest_result_clear(&rr);
}

/* ---- issue 11, item 16: what a reply changed, and that it arrived ------------------------------
 */

static void test_reply_events_name_the_rule_that_fired(Fixture *f, gconstpointer data)
{
    g_autofree char *ack = NULL;
    gint64 id = acknowledged_report(f, "an@example.vn", "Đèn", &ack);
    answer_letter(f, "an@example.vn", ack, "Xin giữ bí mật danh tính của tôi.", NULL);
    answer_letter(f, "an@example.vn", ack, "Trụ điện đang cháy!", NULL);
    g_autoptr(Report) rep = load(f, id);
    g_assert_true(rep->confidential);
    const ReportEvent *c = event_of(rep, "confidential");
    g_assert_nonnull(c);
    g_assert_cmpstr(c->detail, ==,
                    "the citizen's reply asks for secrecy (Điều 9.3.b): keyword \"giữ bí mật\" "
                    "(text)");
    const ReportEvent *em = event_of(rep, "emergency");
    g_assert_nonnull(em);
    g_assert_cmpstr(em->detail, ==,
                    "the citizen's reply reports an emergency (Điều 8.6): keyword emergency "
                    "\"đang cháy\" (text)");
}

static void test_supplement_to_a_complete_report_is_confirmed(Fixture *f, gconstpointer data)
{
    g_autofree char *ack = NULL;
    gint64 id = acknowledged_report(f, "an@example.vn", "Đèn đường hỏng", &ack);
    answer_letter(f, "an@example.vn", ack, "Gửi thêm: đèn thứ hai cũng hỏng.", "more@example.vn");
    g_autoptr(Report) rep = load(f, id);
    g_autofree char *kinds = mail_kinds(rep);
    g_assert_cmpstr(kinds, ==, "ack,supplement");
    g_autoptr(GPtrArray) keep = NULL;
    OutboxEntry *e = outbox_of(f, id, "supplement", &keep);
    g_assert_cmpstr(e->rcpt, ==, "an@example.vn");
    g_autoptr(GMimeMessage) msg = fixture_letter(f->store, e->id);
    g_assert_cmpstr(g_mime_message_get_subject(msg), ==,
                    "[PAHT-2026-000001] Đã nhận thông tin bổ sung cho phản ánh: Đèn đường hỏng");
    g_assert_cmpstr(g_mime_object_get_header(GMIME_OBJECT(msg), "In-Reply-To"), ==,
                    "<more@example.vn>");
    g_autofree char *text = fixture_letter_plain(msg);
    g_assert_nonnull(strstr(text, "đã được tiếp nhận và lưu cùng phản ánh PAHT-2026-000001"));
    g_assert_nonnull(strstr(text, "Tệp đính kèm mới:   không có"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_mime_init();
    log_init("test");
    log_set_level(LOG_LEVEL_ERROR);
#define ADD(name, fn)                                                                              \
    g_test_add("/answers/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
#define ADD_WITH(name, fn, gateway_keys)                                                           \
    g_test_add("/answers/" name, Fixture, gateway_keys, fixture_setup, fn, fixture_teardown)
    ADD("complete-report-ack", test_complete_report_gets_ack);
    ADD("preview-sent-ack-without-error-pointer",
        test_preview_of_the_sent_ack_needs_no_error_pointer);
    ADD("incomplete-please-complete", test_incomplete_report_gets_please_complete);
    ADD("ack-states-the-assign-deadline", test_ack_states_the_assign_deadline_the_report_has);
    ADD("completed-ack-states-deadline-from-completion",
        test_completed_report_ack_states_the_deadline_from_completion);
    ADD("emergency", test_emergency_answered_at_once_and_ioc_alerted);
    ADD("complaint", test_complaint_not_acknowledged_refusal_suggested);
    ADD("auto-reply-not-a-reply", test_auto_reply_to_our_letter_is_not_a_reply);
    ADD("operator-answering-alert", test_operator_answering_an_alert_is_not_the_citizen);
    ADD("reply-completes-incomplete", test_reply_completes_incomplete_report);
    ADD("reply-still-incomplete", test_reply_still_incomplete_asks_again);
    ADD("reply-by-token", test_reply_by_token_from_another_address);
    ADD("stranger-quoting-code", test_reply_from_stranger_does_not_join_report);
    ADD("citizen-answering-own-message", test_citizen_answering_own_message_waits_for_ioc);
    ADD("reply-after-ioc", test_reply_after_the_ioc_took_it);
    ADD("rate-limit", test_rate_limit_per_sender);
    ADD("new-report-row-written-once", test_new_report_row_is_written_once);
    ADD("answer-goes-to-sender", test_answer_goes_to_the_sender_not_an_address_in_the_text);
    ADD("answer-envelope-sender-when-from-unusable",
        test_answer_uses_the_envelope_sender_when_from_names_nobody);
    ADD("rate-limit-folds-case-and-tag", test_rate_limit_folds_case_and_tag);
    ADD_WITH("rate-limit-domain-and-total", test_rate_limit_per_domain_and_in_total,
             "auto_replies_per_domain_per_hour = 3\nauto_replies_per_hour = 5\n");
    ADD_WITH("dmarc-fail-drafted-marked-not-answered",
             test_dmarc_failure_is_drafted_marked_and_not_answered,
             "trusted_authserv_id = " MX "\n");
    ADD_WITH("spam-flag-holds-answer", test_spam_flag_of_the_mx_holds_the_answer,
             "trusted_authserv_id = " MX "\n");
    ADD_WITH("doubted-emergency-alerts-ioc-only",
             test_emergency_from_a_doubted_sender_alerts_only_the_ioc,
             "trusted_authserv_id = " MX "\n");
    ADD("no-trusted-mx-no-check", test_without_a_trusted_mx_authentication_results_are_not_read);
    ADD("forged-from-and-code-cannot-rate", test_forged_from_and_code_cannot_rate);
    ADD("rating-answering-our-letter-counts", test_rating_answering_our_letter_counts);
    ADD("code-alone-does-not-complete", test_code_alone_does_not_complete_a_draft);
    ADD_WITH("token-reply-from-doubted-sender-waits", test_token_reply_from_a_doubted_sender_waits,
             "trusted_authserv_id = " MX "\n");
    ADD("reply-events-name-rule", test_reply_events_name_the_rule_that_fired);
    ADD("supplement-confirmed", test_supplement_to_a_complete_report_is_confirmed);
    return g_test_run();
}
