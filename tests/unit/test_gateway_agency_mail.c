/* Agencies and leaders act by answering their mail (issue 14), through the whole inbound
 * pipeline on a real SQLite store and the real templates: the letters offer signed reply
 * addresses; a mail to one acts only from its recipient, once, within 30 days, in a state
 * that allows it, vouched for by the province's MX when one is trusted; everything else is
 * refused with one letter and an IOC alert, and changes nothing; automatic mail is recorded
 * and nothing more. The clock is PAHT_NOW; the calendar is the real 2026 one. */
#include "gateway/gateway_private.h"
#include "gateway_fixture.h"
#include "letter_fixture.h"
#include "letters/letters.h"
#include "util/util.h"

#include <gmime/gmime.h>
#include <string.h>

typedef GatewayFixture Fixture;

#define CONTACT     "vanthu@sxd.example.vn"
#define LEADER      "giamdoc@sxd.example.vn"
#define COORDINATOR "vanthu@sgtvt.example.vn"
#define CITIZEN     "an@example.vn"

/* data: more configuration lines, or NULL */
static void fixture_setup(Fixture *f, gconstpointer data)
{
    FixtureConfig opts = {
        .agencies = FIXTURE_AGENCY_XD FIXTURE_AGENCY_GTVT,
        .holidays = TRUE,
        .extra = data,
    };
    gateway_fixture_open_with(f, "agency-mail", &opts);
    fixture_now_is("2026-11-23T08:00:00+07:00"); /* a Monday */
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    gateway_fixture_close(f);
    g_unsetenv("PAHT_NOW");
}

static void ok(gboolean result, GError *error)
{
    g_assert_no_error(error);
    g_assert_true(result);
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!haystack || !strstr(haystack, needle))
        g_error("\"%s\" missing from:\n%s", needle, haystack ? haystack : "(null)");
}

/* ---- a report, accepted --------------------------------------------------------------------- */

static gint64 new_report(Fixture *f)
{
    g_autoptr(Draft) d = draft_new();
    d->subject = g_strdup("Đèn đường hỏng");
    d->text = g_strdup("Đèn đường trước nhà số 12 Lê Lợi bị hỏng hơn một tuần.");
    d->message_id = g_strdup("citizen-1@example.vn");
    d->classification = g_strdup(CLASSIFICATION_REPORT);
    d->citizen.name = g_strdup("Nguyễn Văn An");
    d->citizen.address = g_strdup("12 Lê Lợi, Phường 1");
    d->citizen.id_number = g_strdup("094201001234");
    d->citizen.phone = g_strdup("0912345678");
    d->citizen.email = g_strdup(CITIZEN);
    d->location.text = g_strdup("Đường Lê Lợi, Phường 1");
    return fixture_store_report(f->store, f->config, d);
}

/* a report accepted at 09:00 for xd (and coordinators, may be NULL) */
static gint64 accepted(Fixture *f, const char *const *coordinators)
{
    gint64 id = new_report(f);
    fixture_now_is("2026-11-23T09:00:00+07:00");
    GError *error = NULL;
    ok(lifecycle_letters_accept(f->config, f->store, "ioc.lan", id, "xd", coordinators, NULL,
                                &error),
       error);
    return id;
}

static Report *load(Fixture *f, gint64 id)
{
    GError *error = NULL;
    Report *r = report_load_id(f->store, id, &error);
    g_assert_no_error(error);
    return r;
}

static LifecycleRecord *record(Fixture *f, gint64 id)
{
    GError *error = NULL;
    LifecycleRecord *rec = lifecycle_record_load(f->store, id, &error);
    g_assert_no_error(error);
    return rec;
}

/* the newest letter of kind to rcpt (NULL: anyone) for report id (0: any), or 0 */
static gint64 letter_id(Fixture *f, gint64 id, const char *kind, const char *rcpt)
{
    GError *error = NULL;
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    g_assert_no_error(error);
    gint64 found = 0;
    for (guint i = 0; i < all->len; i++) {
        const OutboxEntry *e = g_ptr_array_index(all, i);
        if ((id == 0 || e->report_id == id) && g_str_equal(e->kind, kind) &&
            (!rcpt || g_str_equal(e->rcpt, rcpt)))
            found = e->id;
    }
    return found;
}

static int letter_count(Fixture *f)
{
    GError *error = NULL;
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    g_assert_no_error(error);
    return (int)all->len;
}

static GMimeMessage *letter(Fixture *f, gint64 id, const char *kind, const char *rcpt)
{
    gint64 found = letter_id(f, id, kind, rcpt);
    if (!found)
        g_error("no %s letter to %s", kind, rcpt ? rcpt : "anyone");
    return fixture_letter(f->store, found);
}

static char *reply_to_of(GMimeMessage *msg)
{
    InternetAddressList *list = g_mime_message_get_reply_to(msg);
    g_assert_cmpint(internet_address_list_length(list), ==, 1);
    InternetAddress *a = internet_address_list_get_address(list, 0);
    return g_strdup(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)));
}

/* the address of action that a letter offers (its text names it), or NULL */
static char *offered(GMimeMessage *msg, const char *action)
{
    g_autofree char *text = fixture_letter_plain(msg);
    g_autofree char *pattern =
        g_strdup_printf("paht\\+%s-[0-9a-f]{24}@soctrang\\.gov\\.vn", action);
    g_autoptr(GRegex) re = g_regex_new(pattern, 0, 0, NULL);
    g_autoptr(GMatchInfo) m = NULL;
    return g_regex_match(re, text, 0, &m) ? g_match_info_fetch(m, 0) : NULL;
}

/* the address of action offered by the newest letter of kind to rcpt */
static char *address_in(Fixture *f, gint64 id, const char *kind, const char *rcpt,
                        const char *action)
{
    g_autoptr(GMimeMessage) msg = letter(f, id, kind, rcpt);
    char *address = offered(msg, action);
    if (!address)
        g_error("the %s letter to %s offers no %s address", kind, rcpt, action);
    return address;
}

/* ---- mail to the gateway --------------------------------------------------------------------- */

typedef struct {
    const char *from, *to, *body;
    const char *envelope; /* Return-Path, or NULL */
    const char *extra;    /* more header lines, "Name: value\n" */
    gboolean pdf;         /* a PDF attachment */
} Mail;

static IngestResult send_mail(Fixture *f, const Mail *m)
{
    f->serial++;
    GString *s = g_string_new(NULL);
    if (m->envelope)
        g_string_append_printf(s, "Return-Path: <%s>\n", m->envelope);
    g_string_append_printf(s, "Delivered-To: %s\nFrom: %s\nTo: %s\n", m->to, m->from, m->to);
    g_string_append_printf(s,
                           "Subject: =?UTF-8?B?UmU6IFRy4bqjIGzhu51p?=\nDate: Mon, 23 Nov "
                           "2026 10:00:00 +0700\nMessage-ID: <agency-%d@sxd.example.vn>\n",
                           f->serial);
    if (m->extra)
        g_string_append(s, m->extra);
    g_string_append(s, "MIME-Version: 1.0\n");
    if (m->pdf)
        g_string_append(s, "Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n");
    g_string_append(s, "Content-Type: text/plain; charset=utf-8\n"
                       "Content-Transfer-Encoding: 8bit\n\n");
    g_string_append_printf(s, "%s\n", m->body);
    if (m->pdf)
        g_string_append(s,
                        "--b1\nContent-Type: application/pdf; name=\"ket-qua.pdf\"\n"
                        "Content-Disposition: attachment; filename=\"ket-qua.pdf\"\n"
                        "Content-Transfer-Encoding: base64\n\n"
                        "JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCg==\n"
                        "--b1--\n");
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

/* a mail from who to address with body, as a mail client answers our letter */
static void answer(Fixture *f, const char *who, const char *address, const char *body)
{
    Mail m = {.from = who, .to = address, .body = body, .envelope = who};
    IngestResult r = send_mail(f, &m);
    g_assert_cmpstr(r.classification, ==, CLASSIFICATION_REPLY);
    ingest_result_clear(&r);
}

/* the report's newest event of kind; the test fails when there is none */
static const ReportEvent *last_event(const Report *r, const char *kind)
{
    for (guint i = r->events->len; i > 0; i--) {
        const ReportEvent *e = g_ptr_array_index(r->events, i - 1);
        if (g_str_equal(e->kind, kind))
            return e;
    }
    g_error("%s has no %s event", r->code, kind);
    return NULL;
}

static int events_of(const Report *r, const char *kind)
{
    int n = 0;
    for (guint i = 0; i < r->events->len; i++)
        n += g_str_equal(((const ReportEvent *)g_ptr_array_index(r->events, i))->kind, kind);
    return n;
}

/* ---- the letters offer the addresses -------------------------------------------------------- */

static void test_assignment_offers_result_extension_and_return(Fixture *f, gconstpointer data)
{
    gint64 id = accepted(f, NULL);
    g_autoptr(GMimeMessage) msg = letter(f, id, "assignment", CONTACT);
    g_autofree char *reply_to = reply_to_of(msg);
    g_autofree char *result = offered(msg, "result");
    g_autofree char *extend = offered(msg, "extend");
    g_autofree char *ret = offered(msg, "return");
    g_assert_nonnull(result);
    g_assert_nonnull(extend);
    g_assert_nonnull(ret);
    /* the Reply-To submits the result; every address is its own */
    g_assert_cmpstr(reply_to, ==, result);
    g_assert_cmpstr(result, !=, extend);
    g_autofree char *html = fixture_letter_part(msg, "html");
    g_autofree char *link =
        g_strdup_printf("href=\"mailto:%s?subject=%%5BPAHT-2026-000001%%5D", extend);
    assert_contains(html, link);
    /* the citizen's letters still answer to the report's token, never to an action */
    g_autoptr(GMimeMessage) acceptance = letter(f, id, "acceptance", CITIZEN);
    g_autofree char *citizen_reply_to = reply_to_of(acceptance);
    g_assert_true(g_str_has_prefix(citizen_reply_to, "paht+"));
    g_assert_null(offered(acceptance, "result"));
}

static void test_console_link_when_public_url_is_set(Fixture *f, gconstpointer data)
{
    gint64 id = accepted(f, NULL);
    g_autoptr(GMimeMessage) msg = letter(f, id, "assignment", CONTACT);
    g_autofree char *text = fixture_letter_plain(msg);
    assert_contains(text, "https://paht.example.vn/reports/PAHT-2026-000001");
}

/* ---- the whole path: result with a PDF, approval, publication -------------------------------- */

static void test_result_by_mail_then_approval_by_mail(Fixture *f, gconstpointer data)
{
    gint64 id = accepted(f, NULL);
    g_autofree char *result = address_in(f, id, "assignment", CONTACT, "result");
    fixture_now_is("2026-11-25T10:00:00+07:00");
    Mail m = {
        .from = "Văn thư Sở Xây dựng <" CONTACT ">",
        .to = result,
        .envelope = CONTACT,
        .pdf = TRUE,
        .body = "Ngày 24/11/2026, Sở Xây dựng đã thay bóng đèn trước nhà số 12 Lê Lợi.\n"
                "Đèn đã sáng bình thường.\n\n-- \nVăn thư Sở Xây dựng\nĐT: 0299 3822 000",
    };
    IngestResult r = send_mail(f, &m);
    g_assert_cmpint(r.report_id, ==, id);
    ingest_result_clear(&r);

    g_autoptr(Report) after = load(f, id);
    g_assert_cmpstr(after->state, ==, "result_submitted");
    g_autoptr(LifecycleRecord) rec = record(f, id);
    /* the answer, without the signature */
    g_assert_cmpstr(rec->result_text, ==,
                    "Ngày 24/11/2026, Sở Xây dựng đã thay bóng đèn trước nhà số 12 Lê Lợi.\n"
                    "Đèn đã sáng bình thường.");
    g_assert_cmpstr(rec->result_by, ==, CONTACT);
    /* the PDF is the result's file, not the citizen's */
    g_assert_cmpuint(after->attachments->len, ==, 0);
    g_assert_cmpuint(after->agency_files->len, ==, 1);
    const StoredAttachment *pdf = g_ptr_array_index(after->agency_files, 0);
    g_assert_cmpstr(pdf->role, ==, ATTACHMENT_RESULT);
    g_assert_cmpstr(pdf->filename, ==, "ket-qua.pdf");
    /* an event by the address; a confirmation to it; the leader's approval request offers
     * approval (its Reply-To) and sending back, and lists the file */
    g_assert_cmpstr(last_event(after, "result_submitted")->actor, ==, CONTACT);
    g_autoptr(GMimeMessage) done = letter(f, id, "action_done", CONTACT);
    g_autofree char *done_text = fixture_letter_plain(done);
    assert_contains(done_text, "đã thực hiện việc gửi kết quả xử lý");
    assert_contains(done_text, "cùng 1 tệp đính kèm");
    g_autoptr(GMimeMessage) request = letter(f, id, "approval_request", LEADER);
    g_autofree char *approve = offered(request, "approve");
    g_autofree char *request_reply_to = reply_to_of(request);
    g_assert_cmpstr(request_reply_to, ==, approve);
    g_autofree char *sendback = offered(request, "sendback");
    g_assert_nonnull(sendback);
    g_autofree char *request_text = fixture_letter_plain(request);
    assert_contains(request_text, "ket-qua.pdf");
    assert_contains(request_text, "Đèn đã sáng bình thường.");

    /* the leader approves from a phone: any text, kept as a note */
    fixture_now_is("2026-11-25T14:00:00+07:00");
    answer(f, LEADER, approve, "Đồng ý.\n\nGửi từ iPhone của tôi");
    g_autoptr(Report) approved = load(f, id);
    g_assert_cmpstr(approved->state, ==, "approved");
    g_assert_cmpstr(last_event(approved, "approved")->actor, ==, LEADER);
    g_assert_cmpstr(last_event(approved, "note")->detail, ==, "Đồng ý.");
    g_assert_cmpint(letter_id(f, id, "publish_request", "ioc@soctrang.gov.vn"), >, 0);
    g_assert_cmpint(letter_id(f, id, "action_done", LEADER), >, 0);

    /* the citizen gets the Phụ lục I letter quoting the result, as with pahtctl */
    GError *error = NULL;
    ok(lifecycle_letters_publish(f->config, f->store, "ioc.lan", id, &error), error);
    g_autoptr(GMimeMessage) citizen = letter(f, id, "result", CITIZEN);
    g_autofree char *citizen_text = fixture_letter_plain(citizen);
    assert_contains(citizen_text, "Sở Xây dựng đã thay bóng đèn trước nhà số 12 Lê Lợi.");
}

/* ---- extension, return, opinion, sending back ------------------------------------------------ */

static void test_extension_by_mail_once(Fixture *f, gconstpointer data)
{
    gint64 id = accepted(f, NULL);
    g_autofree char *extend = address_in(f, id, "assignment", CONTACT, "extend");
    /* a second extension address, as an earlier reminder would have offered it */
    g_autofree char *second = NULL;
    GError *error = NULL;
    ok(reply_address_make(f->config, f->store, "reminder:test", id, REPLY_ACTION_EXTEND, CONTACT,
                          &second, &error),
       error);
    fixture_now_is("2026-11-27T10:00:00+07:00");
    answer(f, CONTACT, extend,
           "Gia hạn đến 16/12/2026\nCần khảo sát, thay cáp ngầm toàn tuyến.\n\n"
           "Vào 09:00 ngày 23/11/2026, Trung tâm IOC đã viết:\n> Chuyển xử lý phản ánh");
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, "extended");
    g_autoptr(LifecycleRecord) rec = record(f, id);
    gint64 until = 0;
    g_assert_true(clock_parse_rfc3339("2026-12-16T17:00:00+07:00", &until));
    g_assert_cmpint(rec->extended_until, ==, until); /* a date alone: the end of its day */
    g_assert_cmpstr(rec->extension_note, ==, "Cần khảo sát, thay cáp ngầm toàn tuyến.");
    g_assert_cmpstr(last_event(r, "extended")->actor, ==, CONTACT);
    /* the citizen gets the extension notice, as with pahtctl extend */
    g_autoptr(GMimeMessage) notice = letter(f, id, "extension", CITIZEN);
    g_autofree char *notice_text = fixture_letter_plain(notice);
    assert_contains(notice_text, "17:00 ngày 16/12/2026");

    /* Điều 8.3: once; the second is refused and changes nothing */
    int letters_before = letter_count(f);
    answer(f, CONTACT, second, "Gia hạn đến 20/12/2026\nLần nữa.");
    g_autoptr(LifecycleRecord) again = record(f, id);
    g_assert_cmpint(again->extended_until, ==, until);
    g_autoptr(Report) still = load(f, id);
    g_assert_cmpstr(still->state, ==, "extended");
    assert_contains(last_event(still, "mail_refused")->detail, "refused (extended)");
    g_autoptr(GMimeMessage) refusal = letter(f, id, "action_refused", CONTACT);
    g_autofree char *text = fixture_letter_plain(refusal);
    assert_contains(text, "chỉ thực hiện một lần");
    assert_contains(text, "17:00 ngày 16/12/2026");
    g_autoptr(GMimeMessage) alert = letter(f, id, "ioc_alert", "ioc@soctrang.gov.vn");
    g_autofree char *alert_text = fixture_letter_plain(alert);
    assert_contains(alert_text, "đã được gia hạn một lần");
    /* the refusal and the IOC's alert, nothing else */
    g_assert_cmpint(letter_count(f), ==, letters_before + 2);
}

/* The letters show how to write an extension's first line; an agency that writes it just as
 * the example does, answering the letter (which the parser compares a reply with, to cut
 * what is ours), must not lose that line as a copy of our words. */
static void test_extension_written_as_the_letter_shows_it(Fixture *f, gconstpointer data)
{
    gint64 id = accepted(f, NULL);
    g_autoptr(GMimeMessage) assignment = letter(f, id, "assignment", CONTACT);
    g_autofree char *extend = offered(assignment, "extend");
    g_autofree char *in_reply_to = g_strdup_printf("In-Reply-To: <%s>\nReferences: <%s>\n",
                                                   g_mime_message_get_message_id(assignment),
                                                   g_mime_message_get_message_id(assignment));
    g_autofree char *text = fixture_letter_plain(assignment);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    GString *quoted = g_string_new(NULL);
    for (guint i = 0; lines[i] && i < 12; i++) /* its first 12 lines */
        g_string_append_printf(quoted, "%s%s", i ? "\n> " : "", lines[i]);
    g_autofree char *quote = g_string_free(quoted, FALSE);
    g_autofree char *body = g_strdup_printf(
        "Gia hạn đến 16/12/2026\nCần khảo sát thêm.\n\nVào 09:00 ngày 23/11/2026, Trung tâm "
        "IOC tỉnh Sóc Trăng đã viết:\n> %s",
        quote);
    fixture_now_is("2026-11-25T10:00:00+07:00");
    Mail m = {
        .from = CONTACT, .to = extend, .envelope = CONTACT, .extra = in_reply_to, .body = body};
    IngestResult r = send_mail(f, &m);
    ingest_result_clear(&r);
    g_autoptr(Report) after = load(f, id);
    g_assert_cmpstr(after->state, ==, "extended");
    g_autoptr(LifecycleRecord) rec = record(f, id);
    g_assert_cmpstr(rec->extension_note, ==, "Cần khảo sát thêm.");
}

static void test_extension_date_forms(Fixture *f, gconstpointer data)
{
    static const struct {
        const char *text, *until, *reason;
    } cases[] = {
        {"Gia hạn đến 16/12/2026\nLý do", "2026-12-16T17:00:00+07:00", "Lý do"},
        {"16/12/2026 17:00\nLý do", "2026-12-16T17:00:00+07:00", "Lý do"},
        {"\n  gia han den ngay 16-12-2026 luc 10h30\nLý do", "2026-12-16T10:30:00+07:00", "Lý do"},
        {"GIA HẠN ĐẾN NGÀY 5.1.2027 LÚC 8 GIỜ\nA\nB", "2027-01-05T08:00:00+07:00", "A\nB"},
        {"Gia hạn xử lý đến 16/12/2026: chờ vật tư", "2026-12-16T17:00:00+07:00", "chờ vật tư"},
        {"16/12/2026", "2026-12-16T17:00:00+07:00", NULL},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        gint64 until = 0, expected = 0;
        g_autofree char *reason = NULL;
        if (!agency_mail_extension(f->config, cases[i].text, &until, &reason))
            g_error("\"%s\": no date read", cases[i].text);
        g_assert_true(clock_parse_rfc3339(cases[i].until, &expected));
        g_assert_cmpint(until, ==, expected);
        g_assert_cmpstr(reason, ==, cases[i].reason);
    }
    static const char *const unreadable[] = {
        "",         "Kính gửi Trung tâm IOC,\n16/12/2026", "Gia hạn đến 31/02/2026",
        "16/12/26", "Gia hạn đến 16/12/2026 25:00",        "Gia hạn thêm 10 ngày",
        "12/2026",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(unreadable); i++) {
        gint64 until = 0;
        g_autofree char *reason = NULL;
        if (agency_mail_extension(f->config, unreadable[i], &until, &reason))
            g_error("\"%s\" read as a date", unreadable[i]);
    }
}

static void test_extension_refused_without_date_or_after_deadline(Fixture *f, gconstpointer d)
{
    gint64 id = accepted(f, NULL);
    g_autofree char *extend = address_in(f, id, "assignment", CONTACT, "extend");
    fixture_now_is("2026-11-24T10:00:00+07:00");
    answer(f, CONTACT, extend, "Xin gia hạn thêm mười ngày vì chờ vật tư.");
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, "assigned");
    assert_contains(last_event(r, "mail_refused")->detail, "refused (date)");
    /* the rightful sender may try again: the refusal offers the actions the report allows */
    g_autoptr(GMimeMessage) refusal = letter(f, id, "action_refused", CONTACT);
    g_autofree char *text = fixture_letter_plain(refusal);
    assert_contains(text, "Dòng đầu tiên của thư phải ghi \"Gia hạn đến\" và ngày gia hạn");
    g_autofree char *again = offered(refusal, "extend");
    g_assert_nonnull(again);
    /* the address that was refused did not act: it may be used again, in time */
    fixture_now_is("2026-12-01T10:00:00+07:00"); /* the deadline 09:00 has passed */
    answer(f, CONTACT, extend, "Gia hạn đến 16/12/2026\nChờ vật tư.");
    g_autoptr(Report) late = load(f, id);
    g_assert_cmpstr(late->state, ==, "assigned");
    assert_contains(last_event(late, "mail_refused")->detail, "refused (late)");
    /* past the deadline, no letter offers an extension it would refuse (Điều 8.3): neither
     * this refusal nor the reminder at the deadline; the result and the return remain */
    g_autoptr(GMimeMessage) late_refusal = letter(f, id, "action_refused", CONTACT);
    g_assert_null(offered(late_refusal, "extend"));
    g_autofree char *result = offered(late_refusal, "result");
    g_assert_nonnull(result);
    SchedulerStats stats = {0};
    g_assert_true(scheduler_run_cycle(f->gw, &stats));
    g_autoptr(GMimeMessage) reminder = letter(f, id, "reminder", CONTACT);
    g_autofree char *reminder_text = fixture_letter_plain(reminder);
    assert_contains(reminder_text, "01/12/2026");
    g_assert_null(offered(reminder, "extend"));
    g_autofree char *ret = offered(reminder, "return");
    g_assert_nonnull(ret);
}

static void test_return_by_mail(Fixture *f, gconstpointer data)
{
    gint64 id = accepted(f, NULL);
    g_autofree char *ret = address_in(f, id, "assignment", CONTACT, "return");
    fixture_now_is("2026-11-23T10:00:00+07:00");
    answer(f, CONTACT, ret, "   \n\n-- \nVăn thư");
    g_autoptr(Report) kept = load(f, id);
    g_assert_cmpstr(kept->state, ==, "assigned");
    assert_contains(last_event(kept, "mail_refused")->detail, "refused (reason)");
    answer(f, CONTACT, ret, "Thuộc thẩm quyền UBND thành phố Sóc Trăng.");
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, "returned");
    const ReportEvent *e = last_event(r, "returned");
    g_assert_cmpstr(e->actor, ==, CONTACT);
    assert_contains(e->detail, "Thuộc thẩm quyền UBND thành phố Sóc Trăng.");
    g_autoptr(GMimeMessage) alert = letter(f, id, "ioc_alert", "ioc@soctrang.gov.vn");
    g_autofree char *text = fixture_letter_plain(alert);
    assert_contains(text, "Thuộc thẩm quyền UBND thành phố Sóc Trăng.");
}

static void test_coordinating_opinion_goes_to_the_main_agency(Fixture *f, gconstpointer data)
{
    const char *const with[] = {"gtvt", NULL};
    gint64 id = accepted(f, with);
    g_autoptr(GMimeMessage) assignment = letter(f, id, "assignment", COORDINATOR);
    g_autofree char *opinion = offered(assignment, "opinion");
    g_autofree char *reply_to = reply_to_of(assignment);
    g_assert_cmpstr(reply_to, ==, opinion);
    g_assert_null(offered(assignment, "result"));
    fixture_now_is("2026-11-25T10:00:00+07:00");
    Mail m = {.from = COORDINATOR,
              .to = opinion,
              .envelope = COORDINATOR,
              .pdf = TRUE,
              .body = "Đoạn đường thuộc Sở Giao thông vận tải quản lý; đã kiểm tra cột đèn."};
    IngestResult r = send_mail(f, &m);
    ingest_result_clear(&r);
    g_autoptr(Report) after = load(f, id);
    g_assert_cmpstr(after->state, ==, "coordinating");
    const ReportEvent *e = last_event(after, "opinion");
    g_assert_cmpstr(e->actor, ==, COORDINATOR);
    assert_contains(e->detail, "gtvt: Đoạn đường thuộc Sở Giao thông vận tải quản lý");
    g_assert_cmpuint(after->agency_files->len, ==, 1);
    g_assert_cmpstr(((StoredAttachment *)g_ptr_array_index(after->agency_files, 0))->role, ==,
                    ATTACHMENT_OPINION);
    /* forwarded to the main agency, which may answer with its result at once */
    g_autoptr(GMimeMessage) forwarded = letter(f, id, "opinion", CONTACT);
    g_autofree char *text = fixture_letter_plain(forwarded);
    assert_contains(text, "Sở Giao thông vận tải (cơ quan phối hợp)");
    assert_contains(text, "đã kiểm tra cột đèn");
    assert_contains(text, "ket-qua.pdf");
    g_autofree char *result = offered(forwarded, "result");
    g_assert_nonnull(result);
    /* every coordinating agency has answered: their deadline is met */
    gint64 due = 0;
    GError *error = NULL;
    ok(lifecycle_deadline_due(f->store, id, "coordinate", &due, &error), error);
    g_assert_cmpint(due, ==, 0);
}

static void test_leader_sends_the_result_back(Fixture *f, gconstpointer data)
{
    gint64 id = accepted(f, NULL);
    g_autofree char *result = address_in(f, id, "assignment", CONTACT, "result");
    fixture_now_is("2026-11-25T10:00:00+07:00");
    answer(f, CONTACT, result, "Đã thay bóng đèn.");
    g_autofree char *sendback = address_in(f, id, "approval_request", LEADER, "sendback");
    g_autofree char *approve = address_in(f, id, "approval_request", LEADER, "approve");
    fixture_now_is("2026-11-25T14:00:00+07:00");
    answer(f, LEADER, sendback, "Chưa nêu ngày thay và đơn vị thực hiện; xin bổ sung.");
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, "assigned");
    const ReportEvent *e = last_event(r, "sent_back_to_agency");
    g_assert_cmpstr(e->actor, ==, LEADER);
    g_assert_cmpstr(e->detail, ==, "Chưa nêu ngày thay và đơn vị thực hiện; xin bổ sung.");
    /* the agency reads why, and answers again by mail */
    g_autoptr(GMimeMessage) back = letter(f, id, "sent_back_to_agency", CONTACT);
    g_autofree char *text = fixture_letter_plain(back);
    assert_contains(text, "Chưa nêu ngày thay và đơn vị thực hiện");
    g_autofree char *again = offered(back, "result");
    g_autofree char *back_reply_to = reply_to_of(back);
    g_assert_cmpstr(back_reply_to, ==, again);
    /* the approval address of the same request no longer acts: the state is wrong */
    answer(f, LEADER, approve, "Đồng ý");
    g_autoptr(Report) still = load(f, id);
    g_assert_cmpstr(still->state, ==, "assigned");
    assert_contains(last_event(still, "mail_refused")->detail, "refused (state)");
    fixture_now_is("2026-11-26T10:00:00+07:00");
    answer(f, CONTACT, again, "Ngày 25/11/2026, Công ty Công trình đô thị đã thay bóng đèn.");
    g_autoptr(Report) resubmitted = load(f, id);
    g_assert_cmpstr(resubmitted->state, ==, "result_submitted");
}
/* ---- who may act ------------------------------------------------------------------------------
 */

/* nothing of the report changed: its state, its result, its deadlines */
static void assert_unchanged(Fixture *f, gint64 id, const char *state)
{
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, state);
    g_autoptr(LifecycleRecord) rec = record(f, id);
    g_assert_null(rec->result_text);
    g_assert_cmpint(rec->extended_until, ==, 0);
    gint64 due = 0, expected = 0;
    GError *error = NULL;
    ok(lifecycle_deadline_due(f->store, id, "result", &due, &error), error);
    g_assert_true(clock_parse_rfc3339("2026-12-01T09:00:00+07:00", &expected));
    g_assert_cmpint(due, ==, expected);
}

static void test_another_address_is_refused(Fixture *f, gconstpointer data)
{
    gint64 id = accepted(f, NULL);
    g_autofree char *result = address_in(f, id, "assignment", CONTACT, "result");
    fixture_now_is("2026-11-24T10:00:00+07:00");
    /* another mailbox of the same agency, and the right From with another envelope sender */
    answer(f, "nhanvien@sxd.example.vn", result, "Đã xử lý xong.");
    Mail forged = {
        .from = CONTACT, .to = result, .envelope = "x@attacker.example", .body = "Xong."};
    IngestResult r = send_mail(f, &forged);
    g_assert_cmpint(r.report_id, ==, id);
    ingest_result_clear(&r);
    assert_unchanged(f, id, "assigned");
    g_autoptr(Report) after = load(f, id);
    g_assert_cmpint(events_of(after, "mail_refused"), ==, 2);
    /* the stranger's one letter: why, and no address that acts (its answer goes to the IOC) */
    g_autoptr(GMimeMessage) refusal = letter(f, id, "action_refused", "nhanvien@sxd.example.vn");
    g_autofree char *text = fixture_letter_plain(refusal);
    assert_contains(text, "không được gửi từ địa chỉ đã nhận thư");
    g_assert_null(offered(refusal, "result"));
    g_autofree char *reply_to = reply_to_of(refusal);
    g_assert_cmpstr(reply_to, ==, "ioc@soctrang.gov.vn");
    g_assert_cmpint(letter_id(f, id, "ioc_alert", "ioc@soctrang.gov.vn"), >, 0);
    /* the address did not act: its recipient still can (case and +tag aside) */
    answer(f, "VanThu+so-xay-dung@SXD.example.vn", result, "Đã thay bóng đèn.");
    g_autoptr(Report) done = load(f, id);
    g_assert_cmpstr(done->state, ==, "result_submitted");
}

static void test_address_acts_once(Fixture *f, gconstpointer data)
{
    gint64 id = accepted(f, NULL);
    g_autofree char *result = address_in(f, id, "assignment", CONTACT, "result");
    g_autofree char *sendback = NULL;
    fixture_now_is("2026-11-24T10:00:00+07:00");
    answer(f, CONTACT, result, "Đã thay bóng đèn.");
    g_autofree char *approve = address_in(f, id, "approval_request", LEADER, "approve");
    answer(f, LEADER, approve, "");
    /* the same answer again: a note, nothing else */
    fixture_now_is("2026-11-24T11:00:00+07:00");
    Mail again = {.from = CONTACT,
                  .to = result,
                  .envelope = CONTACT,
                  .pdf = TRUE,
                  .body = "Bổ sung: ảnh sau khi thay."};
    IngestResult r = send_mail(f, &again);
    ingest_result_clear(&r);
    g_autoptr(Report) after = load(f, id);
    g_assert_cmpstr(after->state, ==, "approved");
    g_autoptr(LifecycleRecord) rec = record(f, id);
    g_assert_cmpstr(rec->result_text, ==, "Đã thay bóng đèn.");
    const ReportEvent *note = last_event(after, "note");
    g_assert_cmpstr(note->actor, ==, CONTACT);
    assert_contains(note->detail, "Bổ sung: ảnh sau khi thay.");
    g_assert_cmpstr(((StoredAttachment *)g_ptr_array_index(after->agency_files, 0))->role, ==,
                    ATTACHMENT_NOTE);
    assert_contains(last_event(after, "mail_refused")->detail, "refused (used)");
    g_autoptr(GMimeMessage) refusal = letter(f, id, "action_refused", CONTACT);
    g_autofree char *text = fixture_letter_plain(refusal);
    assert_contains(text, "đã được dùng lúc 10:00 ngày 24/11/2026");
}

static void test_address_expires_after_30_days(Fixture *f, gconstpointer data)
{
    gint64 id = accepted(f, NULL);
    g_autofree char *ret = address_in(f, id, "assignment", CONTACT, "return");
    fixture_now_is("2026-12-23T09:01:00+07:00"); /* 30 days and a minute after its letter */
    answer(f, CONTACT, ret, "Không thuộc thẩm quyền.");
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, "assigned");
    assert_contains(last_event(r, "mail_refused")->detail, "refused (expired)");
    g_autoptr(GMimeMessage) refusal = letter(f, id, "action_refused", CONTACT);
    g_autofree char *text = fixture_letter_plain(refusal);
    assert_contains(text, "chỉ có hiệu lực trong 30 ngày");
    /* a fresh address for what the report still allows */
    g_autofree char *fresh = offered(refusal, "return");
    g_assert_nonnull(fresh);
    g_assert_cmpstr(fresh, !=, ret);
}

static void test_report_of_another_agency_is_refused(Fixture *f, gconstpointer data)
{
    gint64 id = accepted(f, NULL);
    g_autofree char *result = address_in(f, id, "assignment", CONTACT, "result");
    GError *error = NULL;
    ok(lifecycle_letters_return(f->config, f->store, "nv.xd", id, "Không thuộc thẩm quyền.",
                                &error),
       error);
    ok(lifecycle_letters_accept(f->config, f->store, "ioc.lan", id, "gtvt", NULL, NULL, &error),
       error);
    fixture_now_is("2026-11-24T10:00:00+07:00");
    answer(f, CONTACT, result, "Đã thay bóng đèn.");
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, "assigned");
    g_assert_cmpstr(r->agency, ==, "gtvt");
    assert_contains(last_event(r, "mail_refused")->detail, "refused (agency)");
}

static void test_out_of_office_is_recorded_and_nothing_more(Fixture *f, gconstpointer data)
{
    gint64 id = accepted(f, NULL);
    g_autofree char *result = address_in(f, id, "assignment", CONTACT, "result");
    int letters_before = letter_count(f);
    fixture_now_is("2026-11-23T09:05:00+07:00");
    Mail robot = {.from = CONTACT,
                  .to = result,
                  .envelope = CONTACT,
                  .extra = "Auto-Submitted: auto-replied\nX-Autoreply: yes\n",
                  .body = "Tôi đang nghỉ phép đến hết ngày 30/11/2026."};
    IngestResult r = send_mail(f, &robot);
    g_assert_cmpstr(r.classification, ==, CLASSIFICATION_AUTO);
    ingest_result_clear(&r);
    assert_unchanged(f, id, "assigned");
    g_autoptr(Report) after = load(f, id);
    assert_contains(last_event(after, "automatic_mail")->detail, "not acted upon");
    g_assert_cmpint(letter_count(f), ==, letters_before); /* never answered */
    /* and the address still acts for its recipient */
    answer(f, CONTACT, result, "Đã thay bóng đèn.");
    g_autoptr(Report) done = load(f, id);
    g_assert_cmpstr(done->state, ==, "result_submitted");
}

static void test_unknown_address_is_refused(Fixture *f, gconstpointer data)
{
    gint64 id = accepted(f, NULL);
    int letters_before = letter_count(f);
    Mail m = {.from = CONTACT,
              .to = "paht+result-0123456789abcdef01234567@soctrang.gov.vn",
              .envelope = CONTACT,
              .body = "Đã xử lý."};
    IngestResult r = send_mail(f, &m);
    g_assert_cmpstr(r.classification, ==, CLASSIFICATION_REPLY);
    g_assert_cmpint(r.report_id, ==, 0); /* no report made of it either */
    ingest_result_clear(&r);
    assert_unchanged(f, id, "assigned");
    g_assert_cmpint(letter_count(f), ==, letters_before + 2);
    g_autoptr(GMimeMessage) refusal = letter(f, 0, "action_refused", CONTACT);
    g_autofree char *text = fixture_letter_plain(refusal);
    assert_contains(text, "không có trong Hệ thống");
}

/* ---- the province's MX must vouch for the sender ----------------------------------------------
 */

#define MX_CONFIG "[gateway]\ntrusted_authserv_id = mx.soctrang.gov.vn\n"

static void test_unauthenticated_sender_waits_for_the_ioc(Fixture *f, gconstpointer data)
{
    gint64 id = accepted(f, NULL);
    g_autofree char *result = address_in(f, id, "assignment", CONTACT, "result");
    fixture_now_is("2026-11-24T10:00:00+07:00");
    Mail m = {.from = CONTACT,
              .to = result,
              .envelope = CONTACT,
              .extra = "Authentication-Results: mx.soctrang.gov.vn; spf=pass "
                       "smtp.mailfrom=sxd.example.vn; dkim=none; dmarc=none\n",
              .body = "Đã thay bóng đèn."};
    IngestResult r = send_mail(f, &m);
    ingest_result_clear(&r);
    assert_unchanged(f, id, "assigned");
    GError *error = NULL;
    g_autoptr(GPtrArray) pending = pending_reply_list(f->store, id, &error);
    g_assert_cmpuint(pending->len, ==, 1);
    const PendingReply *p = g_ptr_array_index(pending, 0);
    assert_contains(p->reason, "does not vouch for the sender");
    g_autoptr(GMimeMessage) alert = letter(f, id, "ioc_alert", "ioc@soctrang.gov.vn");
    g_autofree char *alert_text = fixture_letter_plain(alert);
    g_autofree char *command =
        g_strdup_printf("pahtctl supplement %" G_GINT64_FORMAT " --confirm", p->id);
    assert_contains(alert_text, command);
    g_assert_cmpint(letter_id(f, id, "action_refused", NULL), ==, 0);
    g_assert_cmpint(letter_id(f, id, "action_done", NULL), ==, 0);
    /* the IOC vouches for it: it acts then */
    IngestResult confirmed = {0};
    ok(held_supplement_decide(f->gw, p->id, TRUE, "ioc.lan", &confirmed, &error), error);
    ingest_result_clear(&confirmed);
    g_autoptr(Report) after = load(f, id);
    g_assert_cmpstr(after->state, ==, "result_submitted");
    g_assert_cmpstr(last_event(after, "result_submitted")->actor, ==, CONTACT);
}

static void test_dkim_or_dmarc_pass_acts(Fixture *f, gconstpointer data)
{
    gint64 id = accepted(f, NULL);
    g_autofree char *result = address_in(f, id, "assignment", CONTACT, "result");
    g_autofree char *ret = address_in(f, id, "assignment", CONTACT, "return");
    fixture_now_is("2026-11-24T10:00:00+07:00");
    /* a pass for another domain vouches for nothing */
    Mail other = {.from = CONTACT,
                  .to = ret,
                  .envelope = CONTACT,
                  .extra = "Authentication-Results: mx.soctrang.gov.vn; dkim=pass "
                           "header.d=example.com; dmarc=none\n",
                  .body = "Không thuộc thẩm quyền."};
    IngestResult r = send_mail(f, &other);
    ingest_result_clear(&r);
    assert_unchanged(f, id, "assigned");
    /* dkim=pass for the From domain does */
    Mail signed_mail = {.from = CONTACT,
                        .to = result,
                        .envelope = CONTACT,
                        .extra = "Authentication-Results: mx.soctrang.gov.vn; dkim=pass "
                                 "(2048-bit key) header.d=sxd.example.vn header.s=mail; "
                                 "dmarc=none\n",
                        .body = "Đã thay bóng đèn."};
    r = send_mail(f, &signed_mail);
    ingest_result_clear(&r);
    g_autoptr(Report) after = load(f, id);
    g_assert_cmpstr(after->state, ==, "result_submitted");
    /* and a header the sender wrote, naming another server, vouches for nothing */
    g_autofree char *approve = address_in(f, id, "approval_request", LEADER, "approve");
    Mail forged = {.from = LEADER,
                   .to = approve,
                   .envelope = LEADER,
                   .extra = "Authentication-Results: mx.attacker.example; dmarc=pass\n",
                   .body = "Đồng ý"};
    r = send_mail(f, &forged);
    ingest_result_clear(&r);
    g_autoptr(Report) waiting = load(f, id);
    g_assert_cmpstr(waiting->state, ==, "result_submitted");
    Mail vouched = {.from = LEADER,
                    .to = approve,
                    .envelope = LEADER,
                    .extra = "Authentication-Results: mx.soctrang.gov.vn; dmarc=pass "
                             "header.from=sxd.example.vn\n",
                    .body = "Đồng ý"};
    r = send_mail(f, &vouched);
    ingest_result_clear(&r);
    g_autoptr(Report) approved = load(f, id);
    g_assert_cmpstr(approved->state, ==, "approved");
}
int main(int argc, char **argv)
{
    g_mime_init();
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn, extra)                                                                       \
    g_test_add("/gateway-agency-mail/" name, Fixture, extra, fixture_setup, fn, fixture_teardown)
    ADD("assignment_offers_result_extension_and_return",
        test_assignment_offers_result_extension_and_return, NULL);
    ADD("console_link_when_public_url_is_set", test_console_link_when_public_url_is_set,
        "[web]\npublic_url = https://paht.example.vn/\n");
    ADD("result_by_mail_then_approval_by_mail", test_result_by_mail_then_approval_by_mail, NULL);
    ADD("extension_by_mail_once", test_extension_by_mail_once, NULL);
    ADD("extension_date_forms", test_extension_date_forms, NULL);
    ADD("extension_written_as_the_letter_shows_it", test_extension_written_as_the_letter_shows_it,
        NULL);
    ADD("extension_refused_without_date_or_after_deadline",
        test_extension_refused_without_date_or_after_deadline, NULL);
    ADD("return_by_mail", test_return_by_mail, NULL);
    ADD("coordinating_opinion_goes_to_the_main_agency",
        test_coordinating_opinion_goes_to_the_main_agency, NULL);
    ADD("leader_sends_the_result_back", test_leader_sends_the_result_back, NULL);
    ADD("another_address_is_refused", test_another_address_is_refused, NULL);
    ADD("address_acts_once", test_address_acts_once, NULL);
    ADD("address_expires_after_30_days", test_address_expires_after_30_days, NULL);
    ADD("report_of_another_agency_is_refused", test_report_of_another_agency_is_refused, NULL);
    ADD("out_of_office_is_recorded_and_nothing_more",
        test_out_of_office_is_recorded_and_nothing_more, NULL);
    ADD("unknown_address_is_refused", test_unknown_address_is_refused, NULL);
    ADD("unauthenticated_sender_waits_for_the_ioc", test_unauthenticated_sender_waits_for_the_ioc,
        MX_CONFIG);
    ADD("dkim_or_dmarc_pass_acts", test_dkim_or_dmarc_pass_acts, MX_CONFIG);
    return g_test_run();
}
