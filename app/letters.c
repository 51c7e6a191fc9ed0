/* Letters: who gets which letter for a decision, and the values its templates see. */
#include "app/letters.h"
#include "app/json_members.h"
#include "app/redact.h"
#include "notify/notify.h"
#include "util/util.h"

#include <string.h>

char *letters_format_time(const Config *c, gint64 t)
{
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(t);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, c->calendar.zone);
    return g_date_time_format(local, "%H:%M ngày %d/%m/%Y");
}

/* the date line of Vietnamese administrative letters */
char *letters_format_long_date(const Config *c, gint64 t)
{
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(t);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, c->calendar.zone);
    return g_strdup_printf("ngày %d tháng %d năm %d", g_date_time_get_day_of_month(local),
                           g_date_time_get_month(local), g_date_time_get_year(local));
}

JsonBuilder *letters_context_new(const Config *c, gint64 now)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "gateway");
    json_builder_begin_object(b);
    json_member_string_if(b, "name", c->gateway.name);
    json_member_string_if(b, "place", c->gateway.place);
    json_member_string_if(b, "email", c->smtp.from);
    json_member_string_if(b, "portal", c->gateway.portal);
    json_member_string_if(b, "hotline", c->gateway.hotline);
    json_member_string_if(b, "app", c->gateway.app_name);
    json_builder_end_object(b);
    g_autofree char *today = letters_format_long_date(c, now);
    json_member_string_if(b, "today", today);
    return b;
}

gboolean letters_never_answer(const Config *c, const char *address)
{
    if (!address || !*address)
        return TRUE;
    g_autofree char *lower = g_ascii_strdown(address, -1);
    char *at = strrchr(lower, '@');
    if (!at)
        return TRUE;
    *at = 0;
    const char *domain = at + 1;
    g_autofree char *local = g_strdup(lower);
    char *plus = strchr(local, '+');
    if (plus)
        *plus = 0;
    static const char *const exact[] = {"mailer-daemon", "postmaster", "abuse", "root", "nobody"};
    for (gsize i = 0; i < G_N_ELEMENTS(exact); i++) {
        if (g_str_equal(local, exact[i]))
            return TRUE;
    }
    static const char *const prefixes[] = {"noreply",    "no-reply",     "no_reply",
                                           "donotreply", "do-not-reply", "do_not_reply"};
    for (gsize i = 0; i < G_N_ELEMENTS(prefixes); i++) {
        if (g_str_has_prefix(local, prefixes[i]))
            return TRUE;
    }
    /* our own address, with or without a +token: answering ourselves starts a loop */
    g_autofree char *ours = g_ascii_strdown(c->smtp.from, -1);
    char *our_at = strrchr(ours, '@');
    if (our_at) {
        *our_at = 0;
        char *our_plus = strchr(ours, '+');
        if (our_plus)
            *our_plus = 0;
        if (g_str_equal(ours, local) && g_str_equal(our_at + 1, domain))
            return TRUE;
    }
    return FALSE;
}

static char *reply_address(const Config *c, const char *token)
{
    if (!c->smtp.reply_to || !token)
        return NULL;
    GString *s = g_string_new(c->smtp.reply_to);
    g_string_replace(s, "{token}", token, 0);
    return g_string_free(s, FALSE);
}

/* the citizen's Message-ID chain plus their message: our answer threads under it */
static char **references_for(const Draft *draft)
{
    GPtrArray *refs = g_ptr_array_new();
    for (guint i = 0; i < draft->references->len; i++)
        g_ptr_array_add(refs, g_strdup(g_ptr_array_index(draft->references, i)));
    if (draft->message_id)
        g_ptr_array_add(refs, g_strdup(draft->message_id));
    g_ptr_array_add(refs, NULL);
    return (char **)g_ptr_array_free(refs, FALSE);
}

const char *const letters_auto_reply_kinds[] = {"ack", "incomplete", "emergency", "too_large",
                                                NULL};

/* SPEC §3.6: at most auto_replies_per_day automatic answers per address in 24 hours, counted
 * from the outbox. Past it: no letter, an event on the report, and one IOC alert per address
 * and (local) day, so that a loop with a broken responder or a flood from one sender costs
 * the IOC one mail. *allowed FALSE when the letter must not go. */
static gboolean rate_limit(const Config *c, Store *store, const LetterRequest *req,
                           gboolean *allowed, GError **error)
{
    *allowed = TRUE;
    gint64 now = clock_now_unix();
    gint64 sent = 0;
    if (!outbox_count_to(store, req->to_address, letters_auto_reply_kinds, now - 24 * 3600, &sent,
                         error))
        return FALSE;
    int limit = c->gateway.auto_replies_per_day;
    if (sent < limit)
        return TRUE;
    *allowed = FALSE;
    g_autofree char *redacted = log_redact_address(req->to_address);
    log_notice("%s to %s not sent: %" G_GINT64_FORMAT " automatic answers in 24 h (limit %d)",
               req->kind, redacted, sent, limit);
    if (req->report_id > 0) {
        g_autofree char *why = g_strdup_printf("%s not sent: %" G_GINT64_FORMAT
                                               " automatic answers already went to this address "
                                               "in 24 hours (auto_replies_per_day = %d)",
                                               req->kind, sent, limit);
        if (!event_add(store, req->report_id, "pahtd", "rate_limited", why, error))
            return FALSE;
    }
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(now);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, c->calendar.zone);
    g_autofree char *day = g_date_time_format(local, "%Y-%m-%d");
    g_autofree char *lower = g_ascii_strdown(req->to_address, -1);
    g_autofree char *key = g_strdup_printf("rate-limit:%s:%s", lower, day);
    g_autofree char *line1 = g_strdup_printf("Địa chỉ: %s", req->to_address);
    g_autofree char *line2 = g_strdup_printf(
        "Trong 24 giờ qua hệ thống đã tự động trả lời địa chỉ này %" G_GINT64_FORMAT
        " lần (giới hạn auto_replies_per_day = %d). Các thư tiếp theo của địa chỉ này vẫn "
        "được tiếp nhận nhưng không được trả lời tự động cho đến khi hết giới hạn.",
        sent, limit);
    const char *lines[] = {line1, line2,
                           "Có thể là một hệ thống trả lời tự động bị lỗi hoặc một người gửi "
                           "rất nhiều thư: xin kiểm tra.",
                           NULL};
    return letters_ioc_alert(c, store, key, req->report_id,
                             "Một địa chỉ đã vượt giới hạn thư trả lời tự động trong ngày", lines,
                             error);
}

gboolean letters_enqueue(const Config *c, Store *store, const LetterRequest *req,
                         JsonBuilder *context, gboolean *enqueued, GError **error)
{
    if (enqueued)
        *enqueued = FALSE;
    json_builder_end_object(context);
    if (letters_never_answer(c, req->to_address)) {
        if (req->report_id <= 0)
            return TRUE;
        g_autofree char *why =
            g_strdup_printf("%s not sent: the address never gets automatic mail", req->kind);
        return event_add(store, req->report_id, "pahtd", "no_answer", why, error);
    }
    if (req->auto_reply) {
        gboolean allowed = TRUE;
        if (!rate_limit(c, store, req, &allowed, error))
            return FALSE;
        if (!allowed)
            return TRUE;
    }
    g_autoptr(JsonNode) root = json_builder_get_root(context);
    g_autofree char *reply_to =
        req->reply_to ? g_strdup(req->reply_to) : reply_address(c, req->reply_token);
    LetterSpec spec = {
        .templates_dir = c->gateway.templates_dir,
        .kind = req->template_name ? req->template_name : req->kind,
        .context = root,
        .from_name = c->gateway.name,
        .from_address = c->smtp.from,
        .to_name = req->to_name,
        .to_address = req->to_address,
        .reply_to = reply_to,
        .in_reply_to = req->in_reply_to,
        .references = req->references,
        .auto_submitted = req->auto_reply ? "auto-replied" : "auto-generated",
        .date = clock_now_unix(),
    };
    GError *compose_error = NULL;
    g_autoptr(Letter) letter = letter_compose(&spec, &compose_error);
    if (!letter) {
        if (g_error_matches(compose_error, PAHT_ERROR, PAHT_ERROR_INPUT) && req->report_id > 0) {
            /* the address cannot be written into a letter: nobody to answer */
            gboolean ok = event_add(store, req->report_id, "pahtd", "no_answer",
                                    compose_error->message, error);
            g_error_free(compose_error);
            return ok;
        }
        g_propagate_error(error, compose_error);
        return FALSE;
    }
    OutboxNew item = {
        .dedupe_key = req->dedupe_key,
        .kind = req->kind,
        .report_id = req->report_id,
        .rcpt = req->to_address,
        .mail_from = c->smtp.from,
        .message_id = letter->message_id,
        .message = letter->message,
        .not_before = req->not_before,
    };
    if (!outbox_enqueue(store, &item, NULL, enqueued, error))
        return FALSE;
    return TRUE;
}

/* a report's state as the IOC says it */
static const char *state_text(const char *state)
{
    static const char *const words[][2] = {
        {"draft", "chờ Trung tâm IOC xem xét"},
        {"incomplete", "chờ người phản ánh bổ sung thông tin"},
        {"accepted", "đã tiếp nhận"},
        {"assigned", "đã chuyển cơ quan xử lý"},
        {"coordinating", "đang phối hợp xử lý"},
        {"extended", "đã gia hạn xử lý"},
        {"returned", "cơ quan xử lý trả lại"},
        {"result_submitted", "chờ lãnh đạo phê duyệt kết quả"},
        {"approved", "chờ công bố kết quả"},
        {"published", "đã công bố kết quả"},
        {"closed", "đã kết thúc"},
        {"rejected", "không tiếp nhận"},
    };
    for (gsize i = 0; state && i < G_N_ELEMENTS(words); i++) {
        if (g_str_equal(state, words[i][0]))
            return words[i][1];
    }
    return state;
}

gboolean letters_ioc_alert(const Config *c, Store *store, const char *dedupe_key, gint64 report_id,
                           const char *title, const char *const *lines, GError **error)
{
    gint64 now = clock_now_unix();
    g_autoptr(Report) report = NULL;
    if (report_id > 0) {
        report = report_load_id(store, report_id, error);
        if (!report)
            return FALSE;
    }
    /* Điều 4.5: the IOC's mailbox gets no personal data, whoever wrote the line; the report
     * in the system has it */
    RedactCitizen who = {.citizen = report ? &report->citizen : NULL,
                         .confidential = report && report->confidential};
    g_autoptr(JsonBuilder) b = letters_context_new(c, now);
    json_builder_set_member_name(b, "alert");
    json_builder_begin_object(b);
    g_autofree char *safe_title = redact_alert_line(c, title, &who);
    json_member_string_if(b, "title", safe_title);
    g_autofree char *when = letters_format_time(c, now);
    json_member_string_if(b, "at", when);
    json_builder_set_member_name(b, "lines");
    json_builder_begin_array(b);
    for (const char *const *l = lines; l && *l; l++) {
        g_autofree char *safe = redact_alert_line(c, *l, &who);
        json_builder_add_string_value(b, safe);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    if (report) {
        json_builder_set_member_name(b, "report");
        json_builder_begin_object(b);
        json_member_string_if(b, "code", report->code);
        json_member_string_if(b, "state", report->state);
        json_member_string_if(b, "state_text", state_text(report->state));
        g_autofree char *subject = redact_subject(report->subject, report->code, &who);
        json_member_string_if(b, "subject", subject);
        json_builder_end_object(b);
    }
    LetterRequest req = {
        .kind = "ioc_alert",
        .dedupe_key = dedupe_key,
        .report_id = report_id,
        .to_address = c->gateway.ioc_alert_to,
    };
    return letters_enqueue(c, store, &req, b, NULL, error);
}

/* ---- answers to citizens ----------------------------------------------------------------------
 */

/* what every letter about one report shows: its code, subject, time, attachments, citizen */
typedef struct {
    gint64 report_id;
    const char *code, *token, *subject;
    gint64 received_at;
    const char *name, *email;     /* the citizen: the letter's recipient */
    const GPtrArray *attachments; /* DraftAttachment *, or NULL */
    const GPtrArray *stored;      /* StoredAttachment *, or NULL */
    const char *in_reply_to;      /* the citizen's message we answer */
    const char *const *references;
    gint64 assign_due; /* the IOC's open "assign" deadline; 0: none (incomplete) */
} ReportLetter;

/* the report's open "assign" deadline into l */
static gboolean letter_assign_due(Store *store, ReportLetter *l, GError **error)
{
    return lifecycle_deadline_due(store, l->report_id, "assign", &l->assign_due, error);
}

static void add_report_members(const Config *c, JsonBuilder *b, const ReportLetter *l)
{
    json_builder_set_member_name(b, "report");
    json_builder_begin_object(b);
    json_member_string_if(b, "code", l->code);
    json_member_string_if(b, "subject",
                          l->subject && *l->subject ? l->subject : "(không có tiêu đề)");
    g_autofree char *received = letters_format_time(c, l->received_at);
    json_member_string_if(b, "received_at", received);
    guint n = l->attachments ? l->attachments->len : (l->stored ? l->stored->len : 0);
    json_builder_set_member_name(b, "attachment_count");
    json_builder_add_int_value(b, n);
    json_builder_set_member_name(b, "attachments");
    json_builder_begin_array(b);
    for (guint i = 0; i < n; i++) {
        json_builder_begin_object(b);
        if (l->attachments) {
            const DraftAttachment *a = g_ptr_array_index(l->attachments, i);
            json_member_string_if(b, "filename", a->filename);
            json_member_string_if(b, "kind", a->kind);
        } else {
            const StoredAttachment *a = g_ptr_array_index(l->stored, i);
            json_member_string_if(b, "filename", a->filename);
            json_member_string_if(b, "kind", a->kind);
        }
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "citizen");
    json_builder_begin_object(b);
    json_member_string_if(b, "name", l->name && *l->name ? l->name : NULL);
    json_member_string_if(b, "email", l->email);
    json_builder_end_object(b);
    /* Điều 7.3: the IOC assigns within 4 working hours of arrival (or completion): the
     * deadline the report has, opened in the same transaction */
    if (l->assign_due > 0) {
        g_autofree char *due = letters_format_time(c, l->assign_due);
        json_builder_set_member_name(b, "deadline");
        json_builder_begin_object(b);
        json_member_string_if(b, "assign", due);
        json_builder_end_object(b);
    }
}

static gboolean enqueue_report_letter(const Config *c, Store *store, const ReportLetter *l,
                                      const char *kind, const char *dedupe_key, JsonBuilder *b,
                                      GError **error)
{
    LetterRequest req = {
        .kind = kind,
        .dedupe_key = dedupe_key,
        .report_id = l->report_id,
        .to_name = l->name,
        .to_address = l->email,
        .reply_token = l->token,
        .in_reply_to = l->in_reply_to,
        .references = l->references,
        .auto_reply = TRUE,
    };
    return letters_enqueue(c, store, &req, b, NULL, error);
}

static gboolean send_ack(const Config *c, Store *store, const ReportLetter *l, GError **error)
{
    g_autoptr(JsonBuilder) b = letters_context_new(c, clock_now_unix());
    add_report_members(c, b, l);
    g_autofree char *key = g_strdup_printf("ack:%" G_GINT64_FORMAT, l->report_id);
    return enqueue_report_letter(c, store, l, "ack", key, b, error);
}

/* Điều 4.2-4.3 in the words a citizen uses, and what to write */
static const struct {
    const char *field, *label, *words, *hint;
} missing_words[] = {
    {"name", "Họ và tên", "họ và tên", "họ và tên đầy đủ của Ông/Bà"},
    {"address", "Địa chỉ liên hệ", "địa chỉ liên hệ",
     "số nhà, tên đường hoặc ấp/khóm, phường/xã, huyện/thị xã/thành phố nơi Ông/Bà ở"},
    {"id_number", "Số căn cước công dân", "số căn cước công dân",
     "12 chữ số in trên thẻ căn cước công dân (hoặc 9 chữ số của chứng minh nhân dân cũ)"},
    {"phone", "Số điện thoại", "số điện thoại",
     "số di động (10 chữ số) hoặc số máy bàn kèm mã vùng, để cán bộ liên hệ xác minh khi cần"},
    {"location", "Địa điểm xảy ra sự việc", "địa điểm xảy ra sự việc",
     "càng rõ càng tốt: số nhà, tên đường, hẻm, ấp/khóm, phường/xã; có thể gửi kèm vị trí trên "
     "Google Maps"},
};

/* "họ và tên, số điện thoại và địa điểm xảy ra sự việc" */
static char *missing_sentence(char **missing)
{
    GPtrArray *words = g_ptr_array_new();
    for (char **m = missing; m && *m; m++) {
        for (gsize i = 0; i < G_N_ELEMENTS(missing_words); i++) {
            if (g_str_equal(*m, missing_words[i].field))
                g_ptr_array_add(words, (gpointer)missing_words[i].words);
        }
    }
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < words->len; i++) {
        if (i > 0)
            g_string_append(s, i + 1 == words->len ? " và " : ", ");
        g_string_append(s, words->pdata[i]);
    }
    g_ptr_array_unref(words);
    return g_string_free(s, FALSE);
}

static gboolean send_incomplete(const Config *c, Store *store, const ReportLetter *l,
                                char **missing, gboolean again, const char *dedupe_key,
                                GError **error)
{
    g_autoptr(JsonBuilder) b = letters_context_new(c, clock_now_unix());
    add_report_members(c, b, l);
    json_builder_set_member_name(b, "missing");
    json_builder_begin_array(b);
    for (char **m = missing; m && *m; m++) {
        for (gsize i = 0; i < G_N_ELEMENTS(missing_words); i++) {
            if (!g_str_equal(*m, missing_words[i].field))
                continue;
            json_builder_begin_object(b);
            json_member_string_if(b, "field", missing_words[i].field);
            json_member_string_if(b, "label", missing_words[i].label);
            json_member_string_if(b, "words", missing_words[i].words);
            json_member_string_if(b, "hint", missing_words[i].hint);
            json_builder_end_object(b);
        }
    }
    json_builder_end_array(b);
    g_autofree char *sentence = missing_sentence(missing);
    json_member_string_if(b, "missing_text", sentence);
    json_builder_set_member_name(b, "again");
    json_builder_add_boolean_value(b, again);
    return enqueue_report_letter(c, store, l, "incomplete", dedupe_key, b, error);
}

static gpointer keyword_rule_regex_new(gpointer unused)
{
    return g_regex_new("^keyword (?:[a-z]+ )?\"(.*)\" \\((subject|text)\\)$", 0, 0, NULL);
}

/* an alert quotes this much of the citizen's text: enough to judge, not the whole mail */
#define ALERT_EXCERPT_CHARS 300

/* 'keyword emergency "đang cháy" (text)', the parser's record of its rule, as the IOC reads
 * it: 'từ khóa “đang cháy” trong nội dung thư' */
static char *rule_in_words(const char *rule)
{
    static GOnce once = G_ONCE_INIT;
    GRegex *re = g_once(&once, keyword_rule_regex_new, NULL);
    GString *out = g_string_new(NULL);
    g_auto(GStrv) parts = g_strsplit(rule ? rule : "", "; ", -1);
    for (int i = 0; parts[i]; i++) {
        g_autoptr(GMatchInfo) match = NULL;
        const char *part = parts[i];
        gboolean secret = g_str_has_prefix(part, "confidential: ");
        if (secret)
            part += strlen("confidential: ");
        if (out->len)
            g_string_append(out, "; ");
        if (!g_regex_match(re, part, 0, &match)) {
            g_string_append(out, g_str_equal(part, "default") ? "không có dấu hiệu đặc biệt"
                                                              : "quy tắc khác (xem Hệ thống)");
            continue;
        }
        g_autofree char *phrase = g_match_info_fetch(match, 1);
        g_autofree char *where = g_match_info_fetch(match, 2);
        g_string_append_printf(out, "%stừ khóa “%s” trong %s%s",
                               secret ? "người phản ánh yêu cầu giữ bí mật (" : "", phrase,
                               g_str_equal(where, "subject") ? "tiêu đề thư" : "nội dung thư",
                               secret ? ")" : "");
    }
    return g_string_free(out, FALSE);
}

typedef struct {
    const char *rule, *subject, *place, *text;
    RedactCitizen who;
    gboolean has_coordinates;
    double lat, lon;
} EmergencyFacts;

/* what the IOC needs to act on an emergency (Điều 8.6), and nothing personal: the report in
 * the system has the rest */
static GPtrArray *emergency_alert_lines(const Config *c, const ReportLetter *l,
                                        const EmergencyFacts *f)
{
    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(lines, g_strdup("Phân loại: khẩn cấp (thiên tai, hỏa hoạn, tai nạn, mất an "
                                    "ninh trật tự; khoản 6 Điều 8 Quy chế)"));
    g_autofree char *rule = rule_in_words(f->rule);
    g_ptr_array_add(lines, g_strdup_printf("Nhận biết theo: %s", rule));
    g_autofree char *place = redact_line(f->place, &f->who);
    if (place && *place)
        g_ptr_array_add(lines, g_strdup_printf("Địa điểm: %s", place));
    if (f->has_coordinates) {
        g_autofree char *lat = coordinate_text(f->lat);
        g_autofree char *lon = coordinate_text(f->lon);
        g_ptr_array_add(lines, g_strdup_printf("Tọa độ: %s, %s (https://maps.google.com/?q=%s,%s)",
                                               lat, lon, lat, lon));
    }
    g_autofree char *excerpt = redact_excerpt(f->text, &f->who, ALERT_EXCERPT_CHARS);
    if (excerpt && *excerpt)
        g_ptr_array_add(lines, g_strdup_printf("Trích nội dung: %s", excerpt));
    g_ptr_array_add(lines, g_strdup_printf("Người gửi đã được trả lời tự động: đề nghị gọi ngay "
                                           "Tổng đài %s. Xin xử lý theo quy trình khẩn cấp "
                                           "(khoản 6 Điều 8 Quy chế).",
                                           c->gateway.hotline ? c->gateway.hotline : "1022"));
    g_ptr_array_add(lines, g_strdup_printf("Họ tên, số điện thoại, địa chỉ thư của người phản ánh "
                                           "không ghi trong thư này (khoản 5 Điều 4 Quy chế): "
                                           "xem trong Hệ thống, pahtctl show %s.",
                                           l->code));
    g_ptr_array_add(lines, NULL);
    return lines;
}

/* Điều 6.2, 8.6: e-mail is not an emergency channel; the citizen is told to call 1022 now
 * and the IOC is told at once, with what it needs to act without opening the draft */
static gboolean send_emergency(const Config *c, Store *store, const ReportLetter *l,
                               const EmergencyFacts *f, const char *suffix, GError **error)
{
    g_autoptr(JsonBuilder) b = letters_context_new(c, clock_now_unix());
    add_report_members(c, b, l);
    g_autofree char *key = g_strdup_printf("emergency:%s", suffix);
    if (!enqueue_report_letter(c, store, l, "emergency", key, b, error))
        return FALSE;

    g_autoptr(GPtrArray) lines = emergency_alert_lines(c, l, f);
    g_autofree char *subject = redact_subject(f->subject, l->code, &f->who);
    g_autofree char *title = g_strdup_printf("KHẨN CẤP: %s", subject);
    g_autofree char *alert_key = g_strdup_printf("emergency-alert:%s", suffix);
    return letters_ioc_alert(c, store, alert_key, l->report_id, title,
                             (const char *const *)lines->pdata, error);
}

gboolean letters_answer_new_report(const Config *c, Store *store, const ReportRef *report,
                                   const Draft *draft, gint64 received_at, GError **error)
{
    const char *classification = draft->classification ? draft->classification : "report";
    if (g_str_equal(classification, "complaint"))
        return TRUE; /* no acknowledgement: the IOC confirms the refusal (Điều 1.1.c, 3.9) */
    g_auto(GStrv) references = references_for(draft);
    ReportLetter l = {
        .report_id = report->id,
        .code = report->code,
        .token = report->token,
        .subject = draft->subject,
        .received_at = received_at,
        .name = draft->citizen.name ? draft->citizen.name : draft->from_name,
        .email = draft->citizen.email ? draft->citizen.email : draft->from_address,
        .attachments = draft->attachments,
        .in_reply_to = draft->message_id,
        .references = (const char *const *)references,
    };
    if (!letter_assign_due(store, &l, error))
        return FALSE;
    g_autofree char *id = g_strdup_printf("%" G_GINT64_FORMAT, report->id);
    if (g_str_equal(classification, "emergency")) {
        EmergencyFacts f = {
            .rule = draft->rule,
            .subject = draft->subject,
            .place = draft->location.text,
            .text = draft->text,
            .who = {.citizen = &draft->citizen,
                    .sender_name = draft->from_name,
                    .confidential = draft->confidential},
            .has_coordinates = draft->location.has_coordinates,
            .lat = draft->location.lat,
            .lon = draft->location.lon,
        };
        return send_emergency(c, store, &l, &f, id, error);
    }
    g_auto(GStrv) missing = draft_missing_fields(draft);
    if (missing[0]) {
        g_autofree char *key = g_strdup_printf("incomplete:%s", id);
        return send_incomplete(c, store, &l, missing, FALSE, key, error);
    }
    return send_ack(c, store, &l, error);
}

gboolean letters_answer_reply(const Config *c, Store *store, const ReplyMatch *match,
                              const ReplyOutcome *outcome, const Draft *reply, gint64 raw_id,
                              GError **error)
{
    g_autoptr(Report) r = report_load_id(store, match->report_id, error);
    if (!r)
        return FALSE;
    g_auto(GStrv) references = references_for(reply);
    ReportLetter l = {
        .report_id = r->id,
        .code = r->code,
        .token = r->token,
        .subject = r->subject,
        .received_at = r->received_at,
        .name = r->citizen.name ? r->citizen.name : reply->from_name,
        .email = r->citizen.email ? r->citizen.email : reply->from_address,
        .stored = r->attachments,
        .in_reply_to = reply->message_id,
        .references = (const char *const *)references,
    };
    if (!letter_assign_due(store, &l, error))
        return FALSE;
    g_autofree char *suffix =
        g_strdup_printf("%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, r->id, raw_id);
    if (g_strcmp0(reply->classification, "emergency") == 0) {
        EmergencyFacts f = {
            .rule = reply->rule,
            .subject = reply->subject,
            .place = r->location.text,
            .text = reply->text,
            .who = {.citizen = &r->citizen,
                    .sender_name = reply->from_name,
                    .confidential = r->confidential || reply->confidential},
            .has_coordinates = r->location.has_coordinates,
            .lat = r->location.lat,
            .lon = r->location.lon,
        };
        if (!send_emergency(c, store, &l, &f, suffix, error))
            return FALSE;
    }
    if (outcome->completed)
        return send_ack(c, store, &l, error);
    if (g_str_equal(outcome->state_after, "incomplete")) {
        g_autofree char *key = g_strdup_printf("incomplete:%s", suffix);
        return send_incomplete(c, store, &l, outcome->missing, TRUE, key, error);
    }
    if (g_str_equal(outcome->state_before, "draft"))
        return TRUE; /* the IOC reviews the draft with the reply in it */
    /* with the IOC or an agency already: they must see it */
    g_autofree char *key = g_strdup_printf("reply-alert:%s", suffix);
    RedactCitizen who = {
        .citizen = &r->citizen, .sender_name = reply->from_name, .confidential = r->confidential};
    g_autofree char *excerpt = redact_excerpt(reply->text, &who, ALERT_EXCERPT_CHARS);
    g_autofree char *line1 = excerpt && *excerpt ? g_strdup_printf("Trích nội dung: %s", excerpt)
                                                 : g_strdup("Thư bổ sung không có nội dung chữ.");
    g_autofree char *line2 = g_strdup_printf("Tệp đính kèm mới: %u", reply->attachments->len);
    g_autofree char *line3 = g_strdup_printf(
        "Thư đã được gắn vào phản ánh; toàn văn và tệp đính kèm: pahtctl show %s.", r->code);
    const char *lines[] = {line1, line2, line3, NULL};
    return letters_ioc_alert(c, store, key, r->id, "Người phản ánh gửi thêm thông tin", lines,
                             error);
}
