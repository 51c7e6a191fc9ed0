/* The lifecycle's letters and the scheduler, composed for real (templates/, GMime) into a real
 * store: who gets what, what personal data goes with it (Điều 4.5, 9.3.b), the Phụ lục I
 * result letter line by line, reminders inside working hours and never doubled, previews that
 * enqueue nothing. The clock is PAHT_NOW; the calendar is the real 2026 one. */
#include "gateway_fixture.h"
#include "letter_fixture.h"
#include "letters/letters.h"
#include "notify/notify.h"
#include "util/util.h"

#include <locale.h>

#include <glib/gstdio.h>
#include <gmime/gmime.h>
#include <sqlite3.h>
#include <string.h>

typedef GatewayFixture Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    FixtureConfig opts = {
        .agencies = FIXTURE_AGENCY_XD FIXTURE_AGENCY_GTVT,
        .holidays = TRUE,
        .extra = "[gateway]\nportal = https://paht.soctrang.gov.vn\n",
    };
    gateway_fixture_open_with(f, "gw-lifecycle", &opts);
    fixture_now_is("2026-11-23T08:00:00+07:00");
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    gateway_fixture_close(f);
    g_unsetenv("PAHT_NOW");
}

static gint64 at(const char *rfc3339)
{
    gint64 v = 0;
    g_assert_true(clock_parse_rfc3339(rfc3339, &v));
    return v;
}

#define CITIZEN_TEXT                                                                                                    \
    "Kính gửi Trung tâm IOC,\n\nĐèn đường trước nhà số 12 Lê Lợi bị hỏng hơn một tuần.\n\n" \
    "Họ và tên: Nguyễn Văn An\nĐịa chỉ: 12 Lê Lợi, Phường 1\nCCCD: 0942 0100 1234\n"                  \
    "Điện thoại: 0912 345 678\nEmail: an@example.vn\n"

/* the draft as a report received now */
static gint64 store_report(Fixture *f, const Draft *d)
{
    return fixture_store_report(f->store, f->config, d);
}

/* Nguyễn Văn An with every detail Điều 4 asks for */
static void citizen_an(Draft *d)
{
    d->citizen.name = g_strdup("Nguyễn Văn An");
    d->citizen.address = g_strdup("12 Lê Lợi, Phường 1");
    d->citizen.id_number = g_strdup("094201001234");
    d->citizen.phone = g_strdup("0912345678");
    d->citizen.email = g_strdup("an@example.vn");
    d->location.text = g_strdup("Đường Lê Lợi, Phường 1");
}

static gint64 new_report(Fixture *f, gboolean confidential)
{
    g_autoptr(Draft) d = draft_new();
    d->subject = g_strdup("Đèn đường hỏng");
    d->text = g_strdup(CITIZEN_TEXT);
    d->message_id = g_strdup("citizen-1@example.vn");
    d->classification = g_strdup("report");
    d->confidential = confidential;
    citizen_an(d);
    return store_report(f, d);
}

/* the report of issue 11 item 9: its title, its file name and its body carry the citizen's
 * name, ID number and phone; the parser knows the name with diacritics */
static gint64 new_report_titled_with_personal_data(Fixture *f, gboolean confidential)
{
    g_autoptr(Draft) d = draft_new();
    d->subject = g_strdup("Phan anh cua Tran Thi Bich, CCCD 094078001234, SDT 0939000111, "
                          "tranthib@example.vn");
    d->text = g_strdup("Cống thoát nước trước chợ Phường 2 bị tắc, nước tràn lên đường.\n"
                       "Họ và tên: Trần Thị Bích\nCCCD: 094078001234\nSĐT: 0939 000 111\n");
    d->message_id = g_strdup("citizen-b@example.vn");
    d->classification = g_strdup("report");
    d->confidential = confidential;
    d->citizen.name = g_strdup("Trần Thị Bích");
    d->citizen.address = g_strdup("45 Trần Hưng Đạo, Phường 2");
    d->citizen.id_number = g_strdup("094078001234");
    d->citizen.phone = g_strdup("0939000111");
    d->citizen.email = g_strdup("tranthib@example.vn");
    d->location.text = g_strdup("Chợ Phường 2");
    static const char *const names[] = {"CCCD_Tran_Thi_Bich_094078001234.jpg",
                                        "Ảnh chụp Trần Thị Bích 0939.000.111.png", "cong-tac.jpg"};
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        DraftAttachment *a = g_new0(DraftAttachment, 1);
        a->filename = g_strdup(names[i]);
        a->content_type = g_strdup("image/jpeg");
        a->kind = g_strdup("image");
        a->size = 120000;
        a->sha256 = g_strdup_printf("%064zu", i);
        a->path = g_strdup_printf("/nonexistent/%zu", i);
        g_ptr_array_add(d->attachments, a);
    }
    return store_report(f, d);
}

static void ok(gboolean result, GError *error)
{
    g_assert_no_error(error);
    g_assert_true(result);
}

/* the letters of a report, oldest first: "kind rcpt" each */
static GPtrArray *letters_of(Fixture *f, gint64 id)
{
    GError *error = NULL;
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    g_assert_no_error(error);
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < all->len; i++) {
        const OutboxEntry *e = g_ptr_array_index(all, i);
        if (e->report_id == id)
            g_ptr_array_add(out, g_strdup_printf("%s %s", e->kind, e->rcpt));
    }
    return out;
}

/* the text and HTML of the newest letter of a kind to an address */
static void letter_parts(Fixture *f, gint64 id, const char *kind, const char *rcpt, char **text,
                         char **html, char **subject)
{
    GError *error = NULL;
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    gint64 found = 0;
    for (guint i = 0; i < all->len; i++) {
        const OutboxEntry *e = g_ptr_array_index(all, i);
        if (e->report_id == id && g_str_equal(e->kind, kind) && g_str_equal(e->rcpt, rcpt))
            found = e->id;
    }
    if (!found)
        g_error("no %s letter to %s", kind, rcpt);
    g_autoptr(GBytes) bytes = outbox_message(f->store, found, &error);
    g_autoptr(GMimeMessage) msg = fixture_letter_parse(bytes);
    if (text)
        *text = fixture_letter_part(msg, "plain");
    if (html)
        *html = fixture_letter_part(msg, "html");
    if (subject)
        *subject = g_strdup(g_mime_message_get_subject(msg));
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        g_error("\"%s\" missing from:\n%s", needle, haystack);
}

static void assert_lacks(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle))
        g_error("\"%s\" must not appear in:\n%s", needle, haystack);
}

static const char *const personal[] = {"094201001234", "0942 0100 1234", "12 Lê Lợi, Phường 1"};
static const char *const contact[] = {"Nguyễn Văn An", "0912345678", "0912 345 678",
                                      "an@example.vn"};

/* ---- tests -------------------------------------------------------------------------------- */

static void test_accept_mails_citizen_and_agency(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE);
    fixture_now_is("2026-11-23T09:00:00+07:00");
    GError *error = NULL;
    ok(lifecycle_letters_accept(f->config, f->store, "ioc.lan", id, "xd", NULL, NULL, &error),
       error);
    g_autoptr(GPtrArray) sent = letters_of(f, id);
    g_assert_cmpuint(sent->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(sent, 0), ==, "acceptance an@example.vn");
    g_assert_cmpstr(g_ptr_array_index(sent, 1), ==, "assignment vanthu@sxd.example.vn");

    g_autofree char *text = NULL, *subject = NULL;
    letter_parts(f, id, "acceptance", "an@example.vn", &text, NULL, &subject);
    assert_contains(subject, "PAHT-2026-000001");
    assert_contains(text, "Sở Xây dựng");
    assert_contains(text, "chậm nhất 09:00 ngày 01/12/2026");

    /* an ordinary report: the agency gets the citizen's name, phone and e-mail to verify on
     * site, never the ID number or the postal address, not even through the text */
    g_autofree char *atext = NULL, *ahtml = NULL;
    letter_parts(f, id, "assignment", "vanthu@sxd.example.vn", &atext, &ahtml, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(personal); i++) {
        assert_lacks(atext, personal[i]);
        assert_lacks(ahtml, personal[i]);
    }
    assert_contains(atext, "Nguyễn Văn An");
    assert_contains(atext, "0912345678");
    assert_contains(atext, "an@example.vn");
    assert_contains(atext, "Đèn đường trước nhà số 12 Lê Lợi bị hỏng");
    assert_contains(atext, "CCCD: [đã ẩn]");
    assert_contains(atext, "chậm nhất 09:00 ngày 24/11/2026"); /* return */
    assert_contains(atext, "chậm nhất 09:00 ngày 01/12/2026"); /* result */
    assert_contains(atext, "pahtctl result PAHT-2026-000001 --file");
}

static void test_confidential_report_keeps_the_citizen_hidden(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, TRUE);
    fixture_now_is("2026-11-23T09:00:00+07:00");
    GError *error = NULL;
    const char *const with[] = {"gtvt", NULL};
    ok(lifecycle_letters_accept(f->config, f->store, "ioc.lan", id, "xd", with, NULL, &error),
       error);
    g_autoptr(GPtrArray) sent = letters_of(f, id);
    g_assert_cmpuint(sent->len, ==, 3);
    g_assert_cmpstr(g_ptr_array_index(sent, 2), ==, "assignment vanthu@sgtvt.example.vn");
    static const char *const agencies[] = {"vanthu@sxd.example.vn", "vanthu@sgtvt.example.vn"};
    for (gsize a = 0; a < G_N_ELEMENTS(agencies); a++) {
        g_autofree char *text = NULL, *html = NULL;
        letter_parts(f, id, "assignment", agencies[a], &text, &html, NULL);
        for (gsize i = 0; i < G_N_ELEMENTS(personal); i++) {
            assert_lacks(text, personal[i]);
            assert_lacks(html, personal[i]);
        }
        for (gsize i = 0; i < G_N_ELEMENTS(contact); i++) {
            assert_lacks(text, contact[i]);
            assert_lacks(html, contact[i]);
        }
        assert_contains(text, "yêu cầu giữ bí mật");
        assert_contains(text, "Đèn đường trước nhà số 12 Lê Lợi bị hỏng");
    }
    g_autofree char *coordinator = NULL;
    letter_parts(f, id, "assignment", "vanthu@sgtvt.example.vn", &coordinator, NULL, NULL);
    assert_contains(coordinator, "phối hợp xử lý");
    assert_contains(coordinator, "chậm nhất 09:00 ngày 30/11/2026");

    /* the rest of its life: result, approval, publication, feedback; no personal data in any
     * letter that is not the citizen's own */
    ok(lifecycle_letters_submit_result(f->config, f->store, "nv.xd", id, "Đã thay bóng đèn.",
                                       &error),
       error);
    ok(lifecycle_letters_approve(f->config, f->store, "gd.xd", id, &error), error);
    ok(lifecycle_letters_publish(f->config, f->store, "ioc.lan", id, &error), error);
    CitizenReply reply;
    ok(lifecycle_letters_citizen_reply(
           f->config, f->store, NULL, id,
           "Đèn vẫn chưa sáng. Liên hệ tôi: 0912 345 678, CCCD 094201001234.", &reply, &error),
       error);
    g_assert_true(reply.feedback);
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    int to_citizen = 0;
    for (guint i = 0; i < all->len; i++) {
        const OutboxEntry *e = g_ptr_array_index(all, i);
        if (g_str_equal(e->rcpt, "an@example.vn")) {
            to_citizen++;
            continue;
        }
        g_autoptr(GBytes) bytes = outbox_message(f->store, e->id, &error);
        g_autoptr(GMimeMessage) msg = fixture_letter_parse(bytes);
        g_autofree char *text = fixture_letter_part(msg, "plain");
        g_autofree char *html = fixture_letter_part(msg, "html");
        for (gsize k = 0; k < G_N_ELEMENTS(personal); k++) {
            assert_lacks(text, personal[k]);
            assert_lacks(html, personal[k]);
        }
        for (gsize k = 0; k < G_N_ELEMENTS(contact); k++) {
            assert_lacks(text, contact[k]);
            assert_lacks(html, contact[k]);
        }
    }
    /* acceptance and result: the result letter goes to the citizen alone (Điều 9.3.b) */
    g_assert_cmpint(to_citizen, ==, 2);
    g_autofree char *publish = NULL;
    letter_parts(f, id, "publish_request", "ioc@soctrang.gov.vn", &publish, NULL, NULL);
    assert_contains(publish, "KHÔNG đăng trên Cổng thông tin");
    g_autofree char *result = NULL;
    letter_parts(f, id, "result", "an@example.vn", &result, NULL, NULL);
    assert_contains(result, "chỉ gửi riêng cho Quý ông/bà và không được công bố");
    g_autofree char *feedback = NULL;
    letter_parts(f, id, "feedback", "vanthu@sxd.example.vn", &feedback, NULL, NULL);
    assert_contains(feedback, "Đèn vẫn chưa sáng.");
    assert_contains(feedback, "chậm nhất 09:00 ngày 25/11/2026"); /* 2 working days */
}

static void test_result_letter_has_every_line_of_phu_luc_1(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE);
    fixture_now_is("2026-11-23T09:00:00+07:00");
    GError *error = NULL;
    ok(lifecycle_letters_accept(f->config, f->store, "ioc", id, "xd", NULL, NULL, &error), error);
    fixture_now_is("2026-11-26T14:00:00+07:00");
    ok(lifecycle_letters_submit_result(
           f->config, f->store, "nv.xd", id,
           "Ngày 25/11/2026, Sở Xây dựng đã thay bóng đèn trước nhà số 12.", &error),
       error);
    fixture_now_is("2026-11-27T08:30:00+07:00");
    ok(lifecycle_letters_approve(f->config, f->store, "gd.xd", id, &error), error);
    fixture_now_is("2026-11-27T09:00:00+07:00");
    ok(lifecycle_letters_publish(f->config, f->store, "ioc", id, &error), error);
    g_autofree char *text = NULL, *html = NULL, *subject = NULL;
    letter_parts(f, id, "result", "an@example.vn", &text, &html, &subject);
    assert_contains(subject, "[PAHT-2026-000001] Kết quả xử lý phản ánh");
    /* Phụ lục I, top to bottom */
    static const char *const lines[] = {
        "SỞ XÂY DỰNG",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Số: 1/KQ-XD",
        "Sóc Trăng, ngày 27 tháng 11 năm 2026",
        "Kính gửi: Quý ông/bà Nguyễn Văn An",
        "Sở Xây dựng xin thông báo kết quả xử lý phản ánh của Quý ông/bà như sau:",
        "Ngày 25/11/2026, Sở Xây dựng đã thay bóng đèn trước nhà số 12.",
        "Chúng tôi cảm ơn Quý ông/bà và mong tiếp tục nhận được phản ánh.",
        "Trân trọng./.",
        "Nơi nhận:",
        "- Như trên;",
        "- Lưu: VT.",
        "THỦ TRƯỞNG ĐƠN VỊ",
        "Nguyễn Văn A",
    };
    const char *from = text;
    const char *from_html = html;
    for (gsize i = 0; i < G_N_ELEMENTS(lines); i++) {
        assert_contains(text, lines[i]);
        assert_contains(html, lines[i]);
        /* in order down to "Trân trọng./." (the number sits beside the national motto, and
         * "Nơi nhận" beside the signature); the rest after it */
        gboolean ordered = i == 0 || i >= 4;
        const char *next = strstr(from, lines[i]);
        const char *next_html = strstr(from_html, lines[i]);
        if (!next || !next_html)
            g_error("\"%s\" is out of order in the letter", lines[i]);
        if (ordered && i <= 9) {
            from = next;
            from_html = next_html;
        }
    }
    /* then how to answer it (Điều 10) */
    assert_contains(from, "1 - Rất hài lòng");
    assert_contains(from, "2 - Hài lòng");
    assert_contains(from, "3 - Không hài lòng");
    assert_contains(from, "02 ngày làm việc");
    g_autofree char *nfc = g_utf8_normalize(text, -1, G_NORMALIZE_NFC);
    g_assert_cmpstr(nfc, ==, text);
}

static void test_rejection_letters_per_reason(Fixture *f, gconstpointer data)
{
    static const struct {
        const char *reason;
        const char *says;
    } cases[] = {
        {"complaint", "Luật Khiếu nại năm 2011"},
        {"out-of-scope", "không thuộc phạm vi tiếp nhận"},
        {"duplicate", "trùng với một phản ánh đã được Hệ thống tiếp nhận"},
        {"incomplete", "chưa có đủ thông tin theo yêu cầu tại Điều 4"},
    };
    GError *error = NULL;
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        gint64 id = new_report(f, FALSE);
        ok(lifecycle_letters_reject(f->config, f->store, "ioc", id, cases[i].reason, "Ghi chú <b>",
                                    &error),
           error);
        g_autofree char *text = NULL, *html = NULL, *subject = NULL;
        letter_parts(f, id, "rejection", "an@example.vn", &text, &html, &subject);
        assert_contains(subject, "Thông báo không tiếp nhận phản ánh");
        assert_contains(text, cases[i].says);
        assert_contains(html, cases[i].says);
        assert_contains(text, "Ghi chú của Trung tâm IOC tỉnh: Ghi chú <b>");
        assert_contains(html, "Ghi chú &lt;b&gt;");
        for (gsize j = 0; j < G_N_ELEMENTS(cases); j++) {
            if (j != i)
                assert_lacks(text, cases[j].says);
        }
    }
    /* the complaint letter says where such petitions go (Điều 1.1.c) */
    g_autofree char *complaint = NULL;
    letter_parts(f, 1, "rejection", "an@example.vn", &complaint, NULL, NULL);
    assert_contains(complaint, "điểm c khoản 1 Điều 1");
    assert_contains(complaint, "Luật Tố cáo năm 2018");
    assert_contains(complaint, "Trụ sở tiếp công dân");
    /* spam: no answer at all */
    gint64 spam = new_report(f, FALSE);
    ok(lifecycle_letters_reject(f->config, f->store, "ioc", spam, "spam", NULL, &error), error);
    g_autoptr(GPtrArray) none = letters_of(f, spam);
    g_assert_cmpuint(none->len, ==, 0);
}

static void test_publish_without_text_is_sent_back_to_leader(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE);
    GError *error = NULL;
    ok(lifecycle_letters_accept(f->config, f->store, "ioc", id, "xd", NULL, NULL, &error), error);
    ok(lifecycle_letters_submit_result(f->config, f->store, "nv.xd", id, "\n", &error), error);
    ok(lifecycle_letters_approve(f->config, f->store, "gd.xd", id, &error), error);
    g_assert_false(lifecycle_letters_publish(f->config, f->store, "ioc", id, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED);
    assert_contains(error->message, "Điều 9.4");
    assert_contains(error->message, "Sở Xây dựng");
    g_clear_error(&error);
    /* refused, and yet committed: the state went back and the leader has the letter */
    g_autoptr(Report) r = report_load_id(f->store, id, &error);
    g_assert_cmpstr(r->state, ==, "assigned");
    g_autoptr(GPtrArray) sent = letters_of(f, id);
    g_assert_cmpstr(g_ptr_array_index(sent, sent->len - 1), ==,
                    "approval_request giamdoc@sxd.example.vn");
    g_autofree char *text = NULL;
    letter_parts(f, id, "approval_request", "giamdoc@sxd.example.vn", &text, NULL, NULL);
    assert_contains(text, "không có nội dung trả lời phản ánh");
    assert_contains(text, "khoản 4 Điều 9");
    for (guint i = 0; i < sent->len; i++)
        assert_lacks(g_ptr_array_index(sent, i), "result an@");
}

static gint64 outbox_size(Fixture *f)
{
    GError *error = NULL;
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    return all->len;
}

/* a report of another shape than new_report's: missing Điều 4 details, or an emergency */
static gint64 new_report_classified(Fixture *f, const char *classification, gboolean complete)
{
    g_autoptr(Draft) d = draft_new();
    d->subject = g_strdup(complete ? "Cháy ki-ốt chợ Phường 2" : "Ổ gà");
    d->text = g_strdup("Đang cháy lớn ở chợ Phường 2.");
    d->message_id = g_strdup_printf("citizen-%s@example.vn", classification);
    d->from_address = g_strdup("an@example.vn");
    d->classification = g_strdup(classification);
    if (complete)
        citizen_an(d);
    else
        d->citizen.email = g_strdup("an@example.vn");
    return store_report(f, d);
}

/* Every template the registry says can be previewed is, on a report it is meant for (one
 * accepted, one missing details, one emergency), and a preview enqueues nothing. */
static void test_preview_enqueues_nothing(Fixture *f, gconstpointer data)
{
    gint64 reports[] = {new_report(f, FALSE), new_report_classified(f, "report", FALSE),
                        new_report_classified(f, "emergency", TRUE)};
    GError *error = NULL;
    ok(lifecycle_letters_accept(f->config, f->store, "ioc", reports[0], "xd", NULL, "Chiếu sáng",
                                &error),
       error);
    gint64 before = outbox_size(f);
    int previewed = 0;
    for (const LetterKind *k = kinds_all(); k->name; k++) {
        for (const LetterTemplate *t = k->templates; t->name; t++) {
            if (t->preview == LETTER_PREVIEW_NONE)
                continue;
            g_autoptr(GBytes) letter = NULL;
            gsize i = 0;
            for (; !letter && i < G_N_ELEMENTS(reports); i++) {
                letter =
                    lifecycle_letters_preview(f->config, f->store, t->name, reports[i], &error);
                if (!letter && !g_error_matches(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND))
                    g_error("preview %s: %s", t->name, error->message);
                g_clear_error(&error);
            }
            if (!letter)
                g_error("preview %s: no report to show it with", t->name);
            g_autofree char *code =
                g_strdup_printf("PAHT-2026-%06" G_GINT64_FORMAT, reports[i - 1]);
            g_autoptr(GMimeMessage) msg = fixture_letter_parse(letter);
            assert_contains(g_mime_message_get_subject(msg), code);
            g_autofree char *readable = lifecycle_letters_readable(letter, FALSE, &error);
            assert_contains(readable, "Subject: ");
            assert_contains(readable, code);
            previewed++;
        }
    }
    g_assert_cmpint(previewed, >, 0);
    g_assert_cmpint(outbox_size(f), ==, before);
    gint64 id = reports[0];
    /* the preview of a letter that was sent shows the same letter */
    g_autoptr(GBytes) preview =
        lifecycle_letters_preview(f->config, f->store, "assignment", id, &error);
    g_autoptr(GMimeMessage) msg = fixture_letter_parse(preview);
    g_autofree char *subject = NULL;
    letter_parts(f, id, "assignment", "vanthu@sxd.example.vn", NULL, NULL, &subject);
    g_assert_cmpstr(g_mime_message_get_subject(msg), ==, subject);
    g_assert_null(lifecycle_letters_preview(f->config, f->store, "nonsense", id, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_INPUT);
    g_clear_error(&error);
}

/* the outbox rows of a report: kind, rcpt, the time it may go out */
static void dump(Fixture *f, gint64 id, GString *out)
{
    GError *error = NULL;
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    for (guint i = 0; i < all->len; i++) {
        const OutboxEntry *e = g_ptr_array_index(all, i);
        if (e->report_id != id)
            continue;
        g_autofree char *when = clock_format_rfc3339(e->next_attempt_at, f->config->calendar.zone);
        g_string_append_printf(out, "%s %s %s\n", e->kind, e->rcpt, when);
    }
}

static void test_scheduler_reminds_escalates_and_never_doubles(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE);
    fixture_now_is("2026-11-23T09:00:00+07:00");
    GError *error = NULL;
    ok(lifecycle_letters_accept(f->config, f->store, "ioc", id, "xd", NULL, NULL, &error), error);
    SchedulerStats stats;
    /* nothing due yet */
    fixture_now_is("2026-11-27T16:00:00+07:00");
    g_assert_true(scheduler_run_cycle(f->gw, &stats));
    g_assert_cmpint(stats.actions, ==, 0);

    /* one working day before: a reminder to the agency's contact */
    fixture_now_is("2026-11-30T09:01:00+07:00");
    g_assert_true(scheduler_run_cycle(f->gw, &stats));
    g_assert_cmpint(stats.actions, ==, 1);
    g_assert_true(scheduler_run_cycle(f->gw, &stats));
    g_assert_cmpint(stats.actions, ==, 0);

    /* the deadline passes at 09:00 on Tuesday 1/12; the daemon looks at 17:30, after hours:
     * overdue at once, the letters wait for the next working morning */
    fixture_now_is("2026-12-01T17:30:00+07:00");
    g_assert_true(scheduler_run_cycle(f->gw, &stats));
    g_assert_cmpint(stats.overdue, ==, 1);
    g_autoptr(Report) r = report_load_id(f->store, id, &error);
    g_assert_true(r->overdue);

    /* the next working day: leader and IOC again */
    fixture_now_is("2026-12-02T09:00:00+07:00");
    g_assert_true(scheduler_run_cycle(f->gw, &stats));
    g_assert_cmpint(stats.actions, ==, 1);

    GString *got = g_string_new(NULL);
    dump(f, id, got);
    g_assert_cmpstr(got->str, ==,
                    "acceptance an@example.vn 2026-11-23T09:00:00+07:00\n"
                    "assignment vanthu@sxd.example.vn 2026-11-23T09:00:00+07:00\n"
                    "reminder vanthu@sxd.example.vn 2026-11-30T09:01:00+07:00\n"
                    "reminder vanthu@sxd.example.vn 2026-12-02T07:00:00+07:00\n"
                    "overdue giamdoc@sxd.example.vn 2026-12-02T07:00:00+07:00\n"
                    "overdue ioc@soctrang.gov.vn 2026-12-02T07:00:00+07:00\n"
                    "overdue giamdoc@sxd.example.vn 2026-12-02T09:00:00+07:00\n"
                    "overdue ioc@soctrang.gov.vn 2026-12-02T09:00:00+07:00\n");

    /* a crash after the letters and before the deadline's progress was committed: the same
     * actions run again and enqueue nothing new */
    g_autofree char *db = g_strdup(f->config->gateway.database);
    sqlite3 *raw = NULL;
    g_assert_cmpint(sqlite3_open(db, &raw), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_exec(raw,
                                 "UPDATE deadline SET stage = 0, next_action_at = 0"
                                 " WHERE name = 'result'",
                                 NULL, NULL, NULL),
                    ==, SQLITE_OK);
    sqlite3_close(raw);
    for (int i = 0; i < 4; i++)
        g_assert_true(scheduler_run_cycle(f->gw, &stats));
    GString *again = g_string_new(NULL);
    dump(f, id, again);
    g_assert_cmpstr(again->str, ==, got->str);
    g_string_free(again, TRUE);
    g_string_free(got, TRUE);

    /* the overdue letter says how late */
    g_autofree char *text = NULL, *subject = NULL;
    letter_parts(f, id, "overdue", "giamdoc@sxd.example.vn", &text, NULL, &subject);
    assert_contains(subject, "TRỄ HẠN 1 ngày làm việc");
    assert_contains(text, "khoản 5 Điều 8");
    assert_contains(text, "Kính gửi: Ông/Bà Nguyễn Văn A, lãnh đạo Sở Xây dựng");
}

/* the IOC's alerts that deadline actions failed, by their dedupe keys; the text of the last */
static GPtrArray *scheduler_alerts(Fixture *f, char **last_text)
{
    GError *error = NULL;
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    g_assert_no_error(error);
    GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < all->len; i++) {
        const OutboxEntry *e = g_ptr_array_index(all, i);
        if (!e->dedupe_key || !g_str_has_prefix(e->dedupe_key, "scheduler_failed:"))
            continue;
        g_assert_cmpstr(e->rcpt, ==, f->config->gateway.ioc_alert_to);
        g_ptr_array_add(keys, g_strdup(e->dedupe_key));
        if (last_text) {
            g_autoptr(GBytes) bytes = outbox_message(f->store, e->id, &error);
            g_autoptr(GMimeMessage) msg = fixture_letter_parse(bytes);
            g_autofree char *plain = fixture_letter_part(msg, "plain");
            g_free(*last_text);
            *last_text = g_strconcat(g_mime_message_get_subject(msg), "\n", plain, NULL);
        }
    }
    return keys;
}

/* A deadline action that fails (the reminder's template broken by an edit) is tried again at
 * every cycle, and the IOC is told once a day with the report, the deadline and the error;
 * mended, the reminder goes out. */
static void test_scheduler_failure_is_told_once_a_day(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE);
    fixture_now_is("2026-11-23T09:00:00+07:00");
    GError *error = NULL;
    ok(lifecycle_letters_accept(f->config, f->store, "ioc", id, "xd", NULL, NULL, &error), error);
    g_autoptr(Report) r = report_load_id(f->store, id, &error);

    /* the templates in a folder of the test's, the reminder's with a section never closed */
    g_autofree char *copy = g_build_filename(f->dir, "templates", NULL);
    fixture_templates_copy(copy);
    g_free(f->config->gateway.templates_dir);
    f->config->gateway.templates_dir = g_strdup(copy);
    g_autofree char *reminder = g_build_filename(copy, "reminder.txt", NULL);
    g_autofree char *good = NULL;
    ok(g_file_get_contents(reminder, &good, NULL, &error), error);
    g_autofree char *broken = g_strconcat(good, "{{#reminder}}\n", NULL);
    ok(g_file_set_contents(reminder, broken, -1, &error), error);

    /* one working day before the deadline: the reminder fails, the IOC is told */
    SchedulerStats stats;
    fixture_now_is("2026-11-30T09:01:00+07:00");
    g_assert_false(scheduler_run_cycle(f->gw, &stats));
    g_assert_cmpint(stats.failed, ==, 1);
    g_assert_cmpint(stats.actions, ==, 0);
    g_autofree char *text = NULL;
    g_autoptr(GPtrArray) told = scheduler_alerts(f, &text);
    g_assert_cmpuint(told->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(told, 0), ==, "scheduler_failed:2026-11-30");
    assert_contains(text, "1 việc theo thời hạn không thực hiện được");
    assert_contains(text, r->code);
    assert_contains(text, "có kết quả xử lý được lãnh đạo cơ quan phê duyệt"); /* labels.ini */
    assert_contains(text, "reminder.txt");                                     /* the error */
    assert_lacks(text, "Nguyễn Văn An");

    /* later the same day: tried again, not told again */
    fixture_now_is("2026-11-30T15:00:00+07:00");
    g_assert_false(scheduler_run_cycle(f->gw, &stats));
    g_assert_cmpint(stats.failed, ==, 1);
    g_autoptr(GPtrArray) same_day = scheduler_alerts(f, NULL);
    g_assert_cmpuint(same_day->len, ==, 1);

    /* the next morning, still failing: told again */
    fixture_now_is("2026-12-01T07:30:00+07:00");
    g_assert_false(scheduler_run_cycle(f->gw, &stats));
    g_autoptr(GPtrArray) next_day = scheduler_alerts(f, NULL);
    g_assert_cmpuint(next_day->len, ==, 2);

    /* mended: the reminder goes out, and nothing more is told */
    ok(g_file_set_contents(reminder, good, -1, &error), error);
    fixture_now_is("2026-12-01T07:40:00+07:00");
    g_assert_true(scheduler_run_cycle(f->gw, &stats));
    g_assert_cmpint(stats.failed, ==, 0);
    g_assert_cmpint(stats.actions, ==, 1);
    g_autoptr(GPtrArray) mended = scheduler_alerts(f, NULL);
    g_assert_cmpuint(mended->len, ==, 2);
    GString *got = g_string_new(NULL);
    dump(f, id, got);
    assert_contains(got->str, "reminder vanthu@sxd.example.vn");
    g_string_free(got, TRUE);
}

static void test_extension_letter_and_new_deadline(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE);
    fixture_now_is("2026-11-23T09:00:00+07:00");
    GError *error = NULL;
    ok(lifecycle_letters_accept(f->config, f->store, "ioc", id, "xd", NULL, NULL, &error), error);
    fixture_now_is("2026-11-27T09:00:00+07:00");
    ok(lifecycle_letters_extend(f->config, f->store, "nv.xd", id, at("2026-12-10T17:00:00+07:00"),
                                "Cần khảo sát, thay cáp ngầm", &error),
       error);
    g_autofree char *text = NULL;
    letter_parts(f, id, "extension", "an@example.vn", &text, NULL, NULL);
    assert_contains(text, "chậm nhất 17:00 ngày 10/12/2026");
    assert_contains(text, "Cần khảo sát, thay cáp ngầm");
    assert_contains(text, "khoản 3 Điều 8");
    /* the reminders follow the new date */
    SchedulerStats stats;
    fixture_now_is("2026-12-01T10:00:00+07:00");
    g_assert_true(scheduler_run_cycle(f->gw, &stats));
    g_assert_cmpint(stats.actions, ==, 0);
    /* one working day before 17:00 on 10/12 is 17:00 on 9/12, which is also 07:00 on 10/12:
     * the first working minute that far ahead */
    fixture_now_is("2026-12-09T17:00:00+07:00");
    g_assert_true(scheduler_run_cycle(f->gw, &stats));
    g_assert_cmpint(stats.actions, ==, 0);
    fixture_now_is("2026-12-10T07:00:00+07:00");
    g_assert_true(scheduler_run_cycle(f->gw, &stats));
    g_assert_cmpint(stats.actions, ==, 1);
    g_assert_cmpint(stats.overdue, ==, 0);
    /* once only */
    g_assert_false(lifecycle_letters_extend(f->config, f->store, "nv.xd", id,
                                            at("2026-12-20T17:00:00+07:00"), "Lần nữa", &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED);
    g_clear_error(&error);
}

static void test_feedback_and_rating_through_the_gateway(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE);
    GError *error = NULL;
    ok(lifecycle_letters_accept(f->config, f->store, "ioc", id, "xd", NULL, NULL, &error), error);
    ok(lifecycle_letters_submit_result(f->config, f->store, "nv.xd", id, "Đã sửa.", &error), error);
    ok(lifecycle_letters_approve(f->config, f->store, "gd.xd", id, &error), error);
    ok(lifecycle_letters_publish(f->config, f->store, "ioc", id, &error), error);
    gint64 before = outbox_size(f);
    CitizenReply reply;
    ok(lifecycle_letters_citizen_reply(f->config, f->store, NULL, id, "Rất hài lòng", &reply,
                                       &error),
       error);
    g_assert_cmpint(reply.rated, ==, CITIZEN_RATING_VERY_SATISFIED);
    g_assert_cmpint(outbox_size(f), ==, before); /* a rating goes to nobody */
    ok(lifecycle_letters_citizen_reply(f->config, f->store, NULL, id, "Không hài lòng", &reply,
                                       &error),
       error);
    g_assert_true(reply.already_rated);
    ok(lifecycle_letters_citizen_reply(f->config, f->store, NULL, id,
                                       "Cảm ơn, nhưng cột đèn bị nghiêng.", &reply, &error),
       error);
    g_assert_true(reply.feedback);
    g_autoptr(GPtrArray) sent = letters_of(f, id);
    g_assert_cmpstr(g_ptr_array_index(sent, sent->len - 1), ==, "feedback vanthu@sxd.example.vn");
}

/* every letter a report can cause to someone other than its citizen: assignments to the main
 * and the coordinating agency, a return to the IOC, reminders and overdue notices to contacts,
 * coordinators, leaders and the IOC, a result sent back, an approval and a publish request,
 * the citizen's feedback */
static void drive_every_official_letter(Fixture *f, gint64 id)
{
    GError *error = NULL;
    const char *const with[] = {"gtvt", NULL};
    fixture_now_is("2026-11-23T09:00:00+07:00");
    ok(lifecycle_letters_accept(f->config, f->store, "ioc", id, "xd", with, NULL, &error), error);
    fixture_now_is("2026-11-23T10:00:00+07:00");
    ok(lifecycle_letters_return(f->config, f->store, "nv.xd", id, "Không đúng thẩm quyền", &error),
       error);
    fixture_now_is("2026-11-23T11:00:00+07:00");
    ok(lifecycle_letters_accept(f->config, f->store, "ioc", id, "xd", with, NULL, &error), error);
    static const char *const days[] = {"2026-11-24T10:00:00+07:00", "2026-11-27T10:00:00+07:00",
                                       "2026-11-30T10:00:00+07:00", "2026-12-02T10:00:00+07:00",
                                       "2026-12-03T10:00:00+07:00", "2026-12-04T10:00:00+07:00"};
    SchedulerStats stats;
    for (gsize i = 0; i < G_N_ELEMENTS(days); i++) {
        fixture_now_is(days[i]);
        g_assert_true(scheduler_run_cycle(f->gw, &stats));
    }
    ok(lifecycle_letters_submit_result(f->config, f->store, "nv.xd", id, "", &error), error);
    ok(lifecycle_letters_approve(f->config, f->store, "gd.xd", id, &error), error);
    g_assert_false(lifecycle_letters_publish(f->config, f->store, "ioc", id, &error));
    g_clear_error(&error);
    ok(lifecycle_letters_submit_result(f->config, f->store, "nv.xd", id, "Đã nạo vét cống.",
                                       &error),
       error);
    ok(lifecycle_letters_approve(f->config, f->store, "gd.xd", id, &error), error);
    ok(lifecycle_letters_publish(f->config, f->store, "ioc", id, &error), error);
    CitizenReply reply;
    ok(lifecycle_letters_citizen_reply(
           f->config, f->store, NULL, id,
           "Cống vẫn tắc. Trần Thị Bích, 0939000111, CCCD 094078001234.", &reply, &error),
       error);
}

/* the ways the citizen of new_report_titled_with_personal_data can be named */
static const char *const citizen_b[] = {
    "094078001234",  "0939000111",    "0939 000 111",     "0939.000.111",
    "Tran Thi Bich", "Trần Thị Bích", "Tran_Thi_Bich",    "TRAN THI BICH",
    "Thị Bích",      "tranthib@",     "45 Trần Hưng Đạo",
};

/* the kinds of letter each non-citizen got, as "kind" lines */
static GHashTable *official_letter_kinds(Fixture *f, gint64 id, gboolean confidential)
{
    GError *error = NULL;
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    GHashTable *kinds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < all->len; i++) {
        const OutboxEntry *e = g_ptr_array_index(all, i);
        if (e->report_id != id || g_str_equal(e->rcpt, "tranthib@example.vn"))
            continue;
        g_autoptr(GBytes) bytes = outbox_message(f->store, e->id, &error);
        g_autoptr(GMimeMessage) msg = fixture_letter_parse(bytes);
        const char *subject = g_mime_message_get_subject(msg);
        g_autofree char *text = fixture_letter_part(msg, "plain");
        g_autofree char *html = fixture_letter_part(msg, "html");
        /* an ordinary report's agency letters name the citizen with phone and e-mail, to
         * verify on site (Điều 7.1); nobody else's, and never in a subject or file name */
        gboolean contact_allowed = !confidential && (g_str_equal(e->kind, "assignment") ||
                                                     g_str_equal(e->kind, "feedback"));
        for (gsize k = 0; k < G_N_ELEMENTS(citizen_b); k++) {
            assert_lacks(subject, citizen_b[k]);
            if (contact_allowed && k != 0 && k != G_N_ELEMENTS(citizen_b) - 1)
                continue;
            assert_lacks(text, citizen_b[k]);
            assert_lacks(html, citizen_b[k]);
        }
        assert_contains(subject, "PAHT-2026-000001");
        if (confidential) {
            /* not even the harmless words of the title: a neutral one instead */
            assert_lacks(subject, "Phan anh cua");
            assert_lacks(text, "Phan anh cua");
            assert_lacks(html, "Phan anh cua");
        }
        g_hash_table_add(kinds, g_strdup_printf("%s %s", e->kind, e->rcpt));
    }
    return kinds;
}

static void test_confidential_subjects_and_file_names_reach_no_official(Fixture *f,
                                                                        gconstpointer data)
{
    gint64 id = new_report_titled_with_personal_data(f, TRUE);
    drive_every_official_letter(f, id);
    g_autoptr(GHashTable) kinds = official_letter_kinds(f, id, TRUE);
    static const char *const expected[] = {
        "assignment vanthu@sxd.example.vn",    "assignment vanthu@sgtvt.example.vn",
        "ioc_alert ioc@soctrang.gov.vn",       "reminder vanthu@sxd.example.vn",
        "reminder vanthu@sgtvt.example.vn",    "overdue giamdoc@sxd.example.vn",
        "overdue ioc@soctrang.gov.vn",         "approval_request giamdoc@sxd.example.vn",
        "publish_request ioc@soctrang.gov.vn", "feedback vanthu@sxd.example.vn",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(expected); i++) {
        if (!g_hash_table_contains(kinds, expected[i]))
            g_error("no \"%s\" letter: the walk missed a kind", expected[i]);
    }
    /* the agency still sees how many files there are and of what type */
    g_autofree char *text = NULL, *assignment = NULL;
    letter_parts(f, id, "assignment", "vanthu@sxd.example.vn", &text, NULL, &assignment);
    assert_contains(assignment, "Phản ánh PAHT-2026-000001 (bảo mật)");
    assert_contains(text, "Tiêu đề:            Phản ánh PAHT-2026-000001 (bảo mật)");
    assert_contains(text, "Tệp 1.jpg (image, 117,2 KB)");
    assert_contains(text, "Tệp 2.png");
    assert_lacks(text, "cong-tac");
    /* the citizen's own letters keep their subject */
    g_autofree char *own = NULL;
    letter_parts(f, id, "acceptance", "tranthib@example.vn", &own, NULL, NULL);
    assert_contains(own, "Phan anh cua Tran Thi Bich, CCCD 094078001234");
}

static void test_ordinary_subjects_and_file_names_are_redacted_for_officials(Fixture *f,
                                                                             gconstpointer data)
{
    gint64 id = new_report_titled_with_personal_data(f, FALSE);
    drive_every_official_letter(f, id);
    g_autoptr(GHashTable) kinds = official_letter_kinds(f, id, FALSE);
    g_assert_cmpuint(g_hash_table_size(kinds), >=, 10);
    g_autofree char *text = NULL, *subject = NULL;
    letter_parts(f, id, "assignment", "vanthu@sxd.example.vn", &text, NULL, &subject);
    assert_contains(subject, "Phan anh cua [đã ẩn], CCCD [đã ẩn], SDT [đã ẩn], [đã ẩn]");
    assert_contains(text, "- CCCD_[đã ẩn]_[đã ẩn].jpg (image");
    assert_contains(text, "- Ảnh chụp [đã ẩn] [đã ẩn].png (image");
    assert_contains(text, "- cong-tac.jpg (image");
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C.UTF-8"); /* failures quote Vietnamese */
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn)                                                                              \
    g_test_add("/gateway-lifecycle/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("accept-letters", test_accept_mails_citizen_and_agency);
    ADD("confidential", test_confidential_report_keeps_the_citizen_hidden);
    ADD("result-letter-phu-luc-1", test_result_letter_has_every_line_of_phu_luc_1);
    ADD("rejection-per-reason", test_rejection_letters_per_reason);
    ADD("publish-without-text", test_publish_without_text_is_sent_back_to_leader);
    ADD("preview", test_preview_enqueues_nothing);
    ADD("scheduler", test_scheduler_reminds_escalates_and_never_doubles);
    ADD("scheduler-failure-told", test_scheduler_failure_is_told_once_a_day);
    ADD("extension", test_extension_letter_and_new_deadline);
    ADD("feedback-rating", test_feedback_and_rating_through_the_gateway);
    ADD("confidential-subjects-and-file-names",
        test_confidential_subjects_and_file_names_reach_no_official);
    ADD("ordinary-subjects-and-file-names",
        test_ordinary_subjects_and_file_names_are_redacted_for_officials);
    return g_test_run();
}
