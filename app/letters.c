/* Letters: who gets which letter for a decision, and the values its templates see. */
#include "app/letters.h"
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

static void add_string(JsonBuilder *b, const char *name, const char *value)
{
    if (!value)
        return;
    json_builder_set_member_name(b, name);
    json_builder_add_string_value(b, value);
}

JsonBuilder *letters_context_new(const Config *c, gint64 now)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "gateway");
    json_builder_begin_object(b);
    add_string(b, "name", c->gateway.name);
    add_string(b, "place", c->gateway.place);
    add_string(b, "email", c->smtp.from);
    add_string(b, "portal", c->gateway.portal);
    add_string(b, "hotline", c->gateway.hotline);
    add_string(b, "app", c->gateway.app_name);
    json_builder_end_object(b);
    g_autofree char *today = letters_format_long_date(c, now);
    add_string(b, "today", today);
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

gboolean letters_ioc_alert(const Config *c, Store *store, const char *dedupe_key, gint64 report_id,
                           const char *title, const char *const *lines, GError **error)
{
    gint64 now = clock_now_unix();
    g_autoptr(JsonBuilder) b = letters_context_new(c, now);
    json_builder_set_member_name(b, "alert");
    json_builder_begin_object(b);
    add_string(b, "title", title);
    g_autofree char *when = letters_format_time(c, now);
    add_string(b, "at", when);
    json_builder_set_member_name(b, "lines");
    json_builder_begin_array(b);
    for (const char *const *l = lines; l && *l; l++)
        json_builder_add_string_value(b, *l);
    json_builder_end_array(b);
    json_builder_end_object(b);
    g_autoptr(Report) report = NULL;
    if (report_id > 0) {
        report = report_load_id(store, report_id, error);
        if (!report)
            return FALSE;
        json_builder_set_member_name(b, "report");
        json_builder_begin_object(b);
        add_string(b, "code", report->code);
        add_string(b, "state", report->state);
        add_string(b, "subject", report->subject);
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

gboolean letters_answer_new_report(const Config *c, Store *store, const ReportRef *report,
                                   const Draft *draft, gint64 received_at, GError **error)
{
    const char *to = draft->citizen.email ? draft->citizen.email : draft->from_address;
    const char *name = draft->citizen.name ? draft->citizen.name : draft->from_name;
    g_autoptr(JsonBuilder) b = letters_context_new(c, clock_now_unix());
    json_builder_set_member_name(b, "report");
    json_builder_begin_object(b);
    add_string(b, "code", report->code);
    add_string(b, "subject",
               draft->subject && *draft->subject ? draft->subject : "(không có tiêu đề)");
    g_autofree char *received = letters_format_time(c, received_at);
    add_string(b, "received_at", received);
    json_builder_set_member_name(b, "attachment_count");
    json_builder_add_int_value(b, draft->attachments->len);
    json_builder_set_member_name(b, "attachments");
    json_builder_begin_array(b);
    for (guint i = 0; i < draft->attachments->len; i++) {
        const DraftAttachment *a = g_ptr_array_index(draft->attachments, i);
        json_builder_begin_object(b);
        add_string(b, "filename", a->filename);
        add_string(b, "kind", a->kind);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "citizen");
    json_builder_begin_object(b);
    add_string(b, "name", name && *name ? name : NULL);
    add_string(b, "email", to);
    json_builder_end_object(b);
    /* Điều 7.3: the IOC assigns within 4 working hours of arrival */
    g_autoptr(Calendar) calendar = calendar_new_from_config(c);
    gint64 assign = calendar_add_working_hours(calendar, received_at, LIFECYCLE_ASSIGN_HOURS);
    if (assign > 0) {
        g_autofree char *due = letters_format_time(c, assign);
        json_builder_set_member_name(b, "deadline");
        json_builder_begin_object(b);
        add_string(b, "assign", due);
        json_builder_end_object(b);
    }

    g_auto(GStrv) references = references_for(draft);
    g_autofree char *key = g_strdup_printf("ack:%" G_GINT64_FORMAT, report->id);
    LetterRequest req = {
        .kind = "ack",
        .dedupe_key = key,
        .report_id = report->id,
        .to_name = name,
        .to_address = to,
        .reply_token = report->token,
        .in_reply_to = draft->message_id,
        .references = (const char *const *)references,
        .auto_reply = TRUE,
    };
    return letters_enqueue(c, store, &req, b, NULL, error);
}
