/* The lifecycle's letters (SPEC §4 table, §6 mail kinds, §7): who gets which letter for each
 * transition and each deadline action, and the values its templates see. The transitions
 * themselves are lifecycle/transitions.c's; this file puts each one and its letters in one
 * transaction. */
#include "letters/letters_private.h"
#include "notify/notify.h"
#include "util/util.h"

#include <gmime/gmime.h>

#include <stdarg.h>
#include <string.h>

void lifecycle_letters_ctx_clear(Ctx *x)
{
    g_clear_pointer(&x->report, report_free);
    g_clear_pointer(&x->record, lifecycle_record_free);
}

gboolean lifecycle_letters_ctx_load(Ctx *x, const Config *c, Store *s, const Calendar *cal,
                                    gint64 id, GError **error)
{
    x->config = c;
    x->store = s;
    x->calendar = cal;
    x->report = report_load_id(s, id, error);
    if (!x->report)
        return FALSE;
    x->record = lifecycle_record_load(s, id, error);
    return x->record != NULL;
}

/* ---- values -----------------------------------------------------------------------------------
 */

static void add_time(JsonBuilder *b, const Config *c, const char *name, gint64 t)
{
    if (t <= 0)
        return;
    g_autofree char *text = letters_format_time(c, t);
    json_member_string_if(b, name, text);
}

/* "1,2 MB": Vietnamese writes a decimal comma */
static char *format_size(gint64 bytes)
{
    if (bytes < 1024)
        return g_strdup_printf("%" G_GINT64_FORMAT " byte", bytes);
    double value = (double)bytes / 1024.0;
    const char *unit = "KB";
    if (value >= 1024.0) {
        value /= 1024.0;
        unit = "MB";
    }
    g_autofree char *text = g_strdup_printf("%.1f %s", value, unit);
    for (char *p = text; *p; p++) {
        if (*p == '.')
            *p = ',';
    }
    return g_steal_pointer(&text);
}

/* the citizen as the redaction knows them */
static RedactCitizen redact_who(const Report *r)
{
    return (RedactCitizen){.citizen = &r->citizen, .confidential = r->confidential};
}

static const Agency *agency_of(const Ctx *x)
{
    return x->report->agency ? config_find_agency(x->config, x->report->agency) : NULL;
}

static gint64 deadline_due(const Report *r, const char *name)
{
    for (guint i = 0; r->deadlines && i < r->deadlines->len; i++) {
        const ReportDeadline *d = g_ptr_array_index(r->deadlines, i);
        if (g_str_equal(d->name, name))
            return d->due;
    }
    return 0;
}

static int event_count(const Report *r, const char *kind)
{
    int n = 0;
    for (guint i = 0; r->events && i < r->events->len; i++) {
        const ReportEvent *e = g_ptr_array_index(r->events, i);
        n += g_str_equal(e->kind, kind);
    }
    return n;
}

static void add_agency(JsonBuilder *b, const char *member, const Agency *a)
{
    if (!a)
        return;
    json_builder_set_member_name(b, member);
    json_builder_begin_object(b);
    json_member_string_if(b, "code", a->code);
    json_member_string_if(b, "name", a->name);
    g_autofree char *upper = g_utf8_strup(a->name, -1);
    g_autofree char *upper_nfc = text_nfc(upper);
    json_member_string_if(b, "name_upper", upper_nfc);
    json_member_string_if(b, "contact", a->contact);
    json_member_string_if(b, "leader_name", a->leader_name);
    json_builder_end_object(b);
}

void lifecycle_letters_add_files(JsonBuilder *b, const char *member, const Report *r,
                                 const char *role, gint64 raw_id)
{
    int n = 0;
    json_builder_set_member_name(b, member);
    json_builder_begin_array(b);
    for (guint i = 0; r->agency_files && i < r->agency_files->len; i++) {
        const StoredAttachment *a = g_ptr_array_index(r->agency_files, i);
        if (!g_str_equal(a->role, role) || (raw_id > 0 && a->raw_id != raw_id))
            continue;
        json_builder_begin_object(b);
        json_member_string_if(b, "filename", a->filename);
        json_member_string_if(b, "kind", a->kind);
        g_autofree char *size = format_size(a->size);
        json_member_string_if(b, "size", size);
        json_builder_end_object(b);
        n++;
    }
    json_builder_end_array(b);
    g_autofree char *count = g_strdup_printf("%s_count", member);
    json_member_int(b, count, n);
}

/* the letter's context: common members, the report as the audience may see it, the agency,
 * the deadlines, the result */
JsonBuilder *lifecycle_letters_context(const Ctx *x, Audience who)
{
    const Config *c = x->config;
    const Report *r = x->report;
    const LifecycleRecord *rec = x->record;
    JsonBuilder *b = letters_context_new(c, clock_now_unix());

    RedactCitizen citizen = redact_who(r);
    json_builder_set_member_name(b, "report");
    json_builder_begin_object(b);
    json_member_string_if(b, "code", r->code);
    /* the citizen's subject is theirs; anyone else reads it redacted (Điều 4.5, 9.3.b) */
    g_autofree char *subject =
        who == TO_CITIZEN ? g_strdup(r->subject && *r->subject ? r->subject : LETTERS_NO_SUBJECT)
                          : redact_subject(r->subject, r->code, &citizen);
    json_member_string_if(b, "subject", subject);
    add_time(b, c, "received_at", r->received_at);
    if (who == TO_AGENCY) {
        g_autofree char *text = redact_text(r->text, &citizen);
        json_member_string_if(b, "text", text && *text ? text : LETTERS_NO_TEXT);
        g_autofree char *location = redact_text(r->location.text, &citizen);
        json_member_string_if(b, "location", location);
        if (r->location.has_coordinates) {
            g_autofree char *lat = coordinate_text(r->location.lat);
            g_autofree char *lon = coordinate_text(r->location.lon);
            g_autofree char *gps = g_strdup_printf("%s, %s", lat, lon);
            json_member_string_if(b, "gps", gps);
        }
        json_member_string_if(b, "occurred_at", r->occurred_at);
    }
    json_member_bool(b, "confidential", r->confidential);
    /* issue 15: the category's Vietnamese name, not its code */
    const Category *category = config_find_category(c, rec->category);
    json_member_string_if(b, "category", category ? category->name : rec->category);
    json_member_int(b, "attachment_count", r->attachments ? r->attachments->len : 0);
    json_builder_set_member_name(b, "attachments");
    json_builder_begin_array(b);
    for (guint i = 0; r->attachments && i < r->attachments->len; i++) {
        const StoredAttachment *a = g_ptr_array_index(r->attachments, i);
        json_builder_begin_object(b);
        g_autofree char *filename = who == TO_CITIZEN
                                        ? g_strdup(a->filename)
                                        : redact_filename(a->filename, i + 1, &citizen);
        json_member_string_if(b, "filename", filename);
        json_member_string_if(b, "kind", a->kind);
        g_autofree char *size = format_size(a->size);
        json_member_string_if(b, "size", size);
        json_member_bool(b, "dangerous", a->dangerous);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);

    /* the citizen: their own letters, and an agency processing an ordinary report */
    if (who == TO_CITIZEN || (who == TO_AGENCY && !r->confidential)) {
        json_builder_set_member_name(b, "citizen");
        json_builder_begin_object(b);
        json_member_string_if(b, "name",
                              r->citizen.name && *r->citizen.name ? r->citizen.name : NULL);
        json_member_string_if(b, "email", r->citizen.email);
        if (who == TO_AGENCY)
            json_member_string_if(b, "phone", r->citizen.phone);
        json_builder_end_object(b);
    }

    add_agency(b, "agency", agency_of(x));
    GString *names = g_string_new(NULL);
    json_builder_set_member_name(b, "coordinators");
    json_builder_begin_array(b);
    for (char **code = r->coordinators; code && *code; code++) {
        const Agency *a = config_find_agency(c, *code);
        json_builder_begin_object(b);
        json_member_string_if(b, "code", *code);
        json_member_string_if(b, "name", a ? a->name : *code);
        json_builder_end_object(b);
        g_string_append_printf(names, "%s%s", names->len ? ", " : "", a ? a->name : *code);
    }
    json_builder_end_array(b);
    json_member_bool(b, "coordinated", names->len > 0);
    json_member_string_if(b, "coordinator_names", names->str);
    g_string_free(names, TRUE);

    json_builder_set_member_name(b, "deadline");
    json_builder_begin_object(b);
    for (guint i = 0; r->deadlines && i < r->deadlines->len; i++) {
        const ReportDeadline *d = g_ptr_array_index(r->deadlines, i);
        add_time(b, c, d->name, d->due);
    }
    json_builder_end_object(b);

    json_builder_set_member_name(b, "ioc");
    json_builder_begin_object(b);
    json_member_string_if(b, "email", c->gateway.ioc_alert_to);
    json_builder_end_object(b);

    /* the agency's answer as the Phụ lục I letter shows it */
    json_builder_set_member_name(b, "result");
    json_builder_begin_object(b);
    if (rec->result_text && *rec->result_text) {
        json_member_string_if(b, "text", rec->result_text);
    }
    /* not numbered before it is issued: a preview shows the blank the văn thư fills in */
    g_autofree char *blank = NULL;
    if (!rec->letter_number) {
        g_autofree char *upper = g_ascii_strup(r->agency ? r->agency : "", -1);
        blank = g_strdup_printf("    /KQ-%s", upper);
    }
    json_member_string_if(b, "number", rec->letter_number ? rec->letter_number : blank);
    /* dated and numbered when issued (published); a preview shows today's date */
    gint64 dated = rec->published_at && rec->letter_number ? rec->published_at : clock_now_unix();
    g_autofree char *long_date = letters_format_long_date(c, dated);
    json_member_string_if(b, "date", long_date);
    add_time(b, c, "submitted_at", rec->result_at);
    json_member_string_if(b, "by", rec->result_by);
    add_time(b, c, "approved_at", rec->approved_at);
    /* the files the agency sent with its result by mail (issue 14) */
    lifecycle_letters_add_files(b, "files", r, ATTACHMENT_RESULT, 0);
    json_builder_end_object(b);

    if (rec->extended_until) {
        json_builder_set_member_name(b, "extension");
        json_builder_begin_object(b);
        add_time(b, c, "until", rec->extended_until);
        json_member_string_if(b, "note", rec->extension_note);
        json_builder_end_object(b);
    }
    return b;
}

char *lifecycle_letters_key(const Ctx *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *key = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (x->preview) {
        g_autofree char *nonce = random_hex(8);
        return g_strdup_printf("preview:%s:%s", nonce, key);
    }
    return g_steal_pointer(&key);
}

/* a letter to the citizen, threaded under their report and answerable to it */
static gboolean to_citizen(const Ctx *x, const char *kind, const char *template_name,
                           const char *key, JsonBuilder *b, GError **error)
{
    const Report *r = x->report;
    const char *references[] = {r->message_id, NULL};
    LetterRequest req = {
        .kind = kind,
        .template_name = template_name,
        .dedupe_key = key,
        .report_id = r->id,
        .to_name = r->citizen.name,
        .to_address = r->citizen.email,
        .reply_token = r->token,
        .in_reply_to = r->message_id,
        .references = r->message_id ? references : NULL,
        .not_before = x->not_before,
    };
    return letters_enqueue(x->config, x->store, &req, b, NULL, error);
}

/* The actions role may take by mail while the report is as it is now (issue 14): *out a
 * NULL-terminated list, or NULL for none. */
static gboolean offered_actions(const Ctx *x, OfficialRole role, const char *const **out,
                                GError **error)
{
    static const char *const processing[] = {REPLY_ACTION_RESULT, REPLY_ACTION_EXTEND,
                                             REPLY_ACTION_RETURN, NULL};
    static const char *const extended[] = {REPLY_ACTION_RESULT, REPLY_ACTION_RETURN, NULL};
    static const char *const clarifying[] = {REPLY_ACTION_RESULT, NULL};
    static const char *const coordinating[] = {REPLY_ACTION_OPINION, NULL};
    static const char *const approving[] = {REPLY_ACTION_APPROVE, REPLY_ACTION_SENDBACK, NULL};
    const Report *r = x->report;
    const char *state = r->state;
    gboolean working = g_str_equal(state, "assigned") || g_str_equal(state, "coordinating") ||
                       g_str_equal(state, "extended");
    *out = NULL;
    switch (role) {
    case OFFICIAL_MAIN_CONTACT:
        if (working) {
            /* Điều 8.3: one extension, asked before the deadline; none offered after either
             * (the reminder at the deadline, a refusal: agency_mail would refuse it) */
            gint64 due = 0;
            if (!lifecycle_deadline_due(x->store, r->id, "result", &due, error))
                return FALSE;
            gboolean late = due && clock_now_unix() >= due;
            *out = x->record->extended_until || g_str_equal(state, "extended") || late ? extended
                                                                                       : processing;
        } else if (g_str_equal(state, "published") || g_str_equal(state, "closed")) {
            /* Điều 10.2: the clarification of the citizen's feedback is a result again */
            gint64 clarify = 0;
            if (!lifecycle_deadline_due(x->store, r->id, "clarify", &clarify, error))
                return FALSE;
            *out = clarify ? clarifying : NULL;
        }
        return TRUE;
    case OFFICIAL_COORDINATOR:
        *out = working && r->coordinators && r->coordinators[0] ? coordinating : NULL;
        return TRUE;
    case OFFICIAL_LEADER:
        *out = g_str_equal(state, "result_submitted") ? approving : NULL;
        return TRUE;
    case OFFICIAL_NONE:
        break;
    }
    return TRUE;
}

gboolean lifecycle_letters_official(const Ctx *x, const OfficialLetter *l, JsonBuilder *b,
                                    GError **error)
{
    const char *const *actions = NULL;
    if (!offered_actions(x, l->role, &actions, error))
        return FALSE;
    ReplyOffer offer = {
        .letter = l->key,
        .report_id = x->report->id,
        .code = x->report->code,
        .recipient = l->address,
        .actions = actions,
    };
    g_autofree char *reply_to = NULL;
    if (!reply_address_offer(x->config, x->store, b, &offer, &reply_to, error))
        return FALSE;
    const char *ioc = x->config->gateway.ioc_alert_to;
    LetterRequest req = {
        .kind = l->kind,
        .template_name = l->template_name,
        .dedupe_key = l->key,
        .report_id = x->report->id,
        .to_name = l->name,
        .to_address = l->address,
        .reply_to = reply_to                                                        ? reply_to
                    : ioc && l->address && g_ascii_strcasecmp(ioc, l->address) != 0 ? ioc
                                                                                    : NULL,
        .in_reply_to = l->in_reply_to,
        .references = l->references,
        .not_before = x->not_before,
    };
    return letters_enqueue(x->config, x->store, &req, b, l->enqueued, error);
}

/* a letter to an agency, a leader or the IOC (lifecycle_letters_official) */
static gboolean to_official(const Ctx *x, const char *kind, const char *template_name,
                            const char *key, const char *name, const char *address,
                            OfficialRole role, JsonBuilder *b, GError **error)
{
    OfficialLetter l = {
        .kind = kind,
        .template_name = template_name,
        .key = key,
        .name = name,
        .address = address,
        .role = role,
    };
    return lifecycle_letters_official(x, &l, b, error);
}

static gboolean to_ioc(const Ctx *x, const char *kind, const char *template_name, const char *key,
                       JsonBuilder *b, GError **error)
{
    return to_official(x, kind, template_name, key, NULL, x->config->gateway.ioc_alert_to,
                       OFFICIAL_NONE, b, error);
}

/* ---- the letters of each transition ---------------------------------------------------------- */

static gboolean letters_accepted(const Ctx *x, GError **error)
{
    const Report *r = x->report;
    const Agency *main_agency = agency_of(x);
    int round = event_count(r, "accepted");
    g_autofree char *key =
        lifecycle_letters_key(x, "acceptance:%" G_GINT64_FORMAT ":%d", r->id, round);
    g_autoptr(JsonBuilder) citizen = lifecycle_letters_context(x, TO_CITIZEN);
    if (!to_citizen(x, "acceptance", NULL, key, citizen, error))
        return FALSE;
    /* the main agency, then each coordinating agency (Điều 7.3, 8.2) */
    for (int i = -1; r->coordinators && (i < 0 || r->coordinators[i]); i++) {
        const Agency *a = i < 0 ? main_agency : config_find_agency(x->config, r->coordinators[i]);
        if (!a)
            continue;
        g_autoptr(JsonBuilder) b = lifecycle_letters_context(x, TO_AGENCY);
        json_builder_set_member_name(b, "recipient");
        json_builder_begin_object(b);
        json_member_string_if(b, "name", a->name);
        json_member_bool(b, "coordinator", i >= 0);
        json_member_bool(b, "main", i < 0);
        json_builder_end_object(b);
        g_autofree char *k = lifecycle_letters_key(x, "assignment:%" G_GINT64_FORMAT ":%d:%s",
                                                   r->id, round, a->code);
        if (!to_official(x, "assignment", NULL, k, a->name, a->contact,
                         i < 0 ? OFFICIAL_MAIN_CONTACT : OFFICIAL_COORDINATOR, b, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean letters_rejected(const Ctx *x, GError **error)
{
    const LifecycleRecord *rec = x->record;
    const char *reason = rec->reject_reason ? rec->reject_reason : "out-of-scope";
    /* spam gets no answer: answering confirms the address to the sender */
    if (g_str_equal(reason, "spam"))
        return TRUE;
    g_autoptr(JsonBuilder) b = lifecycle_letters_context(x, TO_CITIZEN);
    json_builder_set_member_name(b, "rejection");
    json_builder_begin_object(b);
    json_member_string_if(b, "reason", reason);
    json_member_bool(b, "incomplete", g_str_equal(reason, "incomplete"));
    json_member_bool(b, "complaint", g_str_equal(reason, "complaint"));
    json_member_bool(b, "out_of_scope", g_str_equal(reason, "out-of-scope"));
    json_member_bool(b, "duplicate", g_str_equal(reason, "duplicate"));
    json_member_string_if(b, "note", rec->note);
    json_builder_end_object(b);
    if (!letters_add_missing(x->config, b, x->report->missing, error))
        return FALSE;
    g_autofree char *key = lifecycle_letters_key(x, "rejection:%" G_GINT64_FORMAT, x->report->id);
    return to_citizen(x, "rejection", NULL, key, b, error);
}

static gboolean letters_returned(const Ctx *x, const char *actor, GError **error)
{
    const Report *r = x->report;
    g_autoptr(JsonBuilder) b = lifecycle_letters_context(x, TO_INTERNAL);
    json_builder_set_member_name(b, "returned");
    json_builder_begin_object(b);
    json_member_string_if(b, "note", x->record->note);
    json_member_string_if(b, "by", actor);
    json_builder_end_object(b);
    g_autofree char *key = lifecycle_letters_key(x, "returned:%" G_GINT64_FORMAT ":%d", r->id,
                                                 event_count(r, "returned"));
    return to_ioc(x, "ioc_alert", "returned", key, b, error);
}

static gboolean letters_extended(const Ctx *x, GError **error)
{
    g_autoptr(JsonBuilder) b = lifecycle_letters_context(x, TO_CITIZEN);
    g_autofree char *key = lifecycle_letters_key(x, "extension:%" G_GINT64_FORMAT, x->report->id);
    return to_citizen(x, "extension", NULL, key, b, error);
}

static gboolean letters_result_submitted(const Ctx *x, GError **error)
{
    const Agency *a = agency_of(x);
    if (!a)
        return TRUE;
    g_autoptr(JsonBuilder) b = lifecycle_letters_context(x, TO_INTERNAL);
    g_autofree char *key =
        lifecycle_letters_key(x, "approval_request:%" G_GINT64_FORMAT ":%d", x->report->id,
                              event_count(x->report, "result_submitted"));
    return to_official(x, "approval_request", NULL, key, a->leader_name, a->leader, OFFICIAL_LEADER,
                       b, error);
}

static gboolean letters_sent_back(const Ctx *x, GError **error)
{
    const Agency *a = agency_of(x);
    if (!a)
        return TRUE;
    g_autoptr(JsonBuilder) b = lifecycle_letters_context(x, TO_INTERNAL);
    g_autofree char *key = lifecycle_letters_key(
        x, "sent_back:%" G_GINT64_FORMAT ":%d", x->report->id, event_count(x->report, "sent_back"));
    return to_official(x, "approval_request", "result_sent_back", key, a->leader_name, a->leader,
                       OFFICIAL_LEADER, b, error);
}

static gboolean letters_approved(const Ctx *x, GError **error)
{
    g_autoptr(JsonBuilder) b = lifecycle_letters_context(x, TO_INTERNAL);
    g_autofree char *key = lifecycle_letters_key(x, "publish_request:%" G_GINT64_FORMAT ":%d",
                                                 x->report->id, event_count(x->report, "approved"));
    return to_ioc(x, "publish_request", NULL, key, b, error);
}

static gboolean letters_published(const Ctx *x, GError **error)
{
    g_autoptr(JsonBuilder) b = lifecycle_letters_context(x, TO_CITIZEN);
    json_member_bool(b, "clarification", x->record->publications > 1);
    g_autofree char *key = lifecycle_letters_key(x, "result:%" G_GINT64_FORMAT ":%d", x->report->id,
                                                 MAX(x->record->publications, 1));
    return to_citizen(x, "result", NULL, key, b, error);
}

/* the newest event of a kind, or NULL */
static const ReportEvent *last_event(const Report *r, const char *kind)
{
    for (guint i = r->events ? r->events->len : 0; i > 0; i--) {
        const ReportEvent *e = g_ptr_array_index(r->events, i - 1);
        if (g_str_equal(e->kind, kind))
            return e;
    }
    return NULL;
}

/* the agency's contact: its leader sent the result back (Điều 8.4, issue 14), with the reason
 * and the addresses to answer again */
static gboolean letters_sent_back_to_agency(const Ctx *x, GError **error)
{
    const Report *r = x->report;
    const Agency *a = agency_of(x);
    if (!a)
        return TRUE;
    g_autoptr(JsonBuilder) b = lifecycle_letters_context(x, TO_AGENCY);
    const ReportEvent *e = last_event(r, "sent_back_to_agency");
    json_builder_set_member_name(b, "sent_back");
    json_builder_begin_object(b);
    if (e) {
        RedactCitizen citizen = redact_who(r);
        g_autofree char *reason = redact_text(e->detail, &citizen);
        json_member_string_if(b, "reason", reason);
        json_member_string_if(b, "by", e->actor);
        add_time(b, x->config, "at", e->at);
    }
    json_builder_end_object(b);
    g_autofree char *key = lifecycle_letters_key(x, "sent_back_to_agency:%" G_GINT64_FORMAT ":%d",
                                                 r->id, event_count(r, "sent_back_to_agency"));
    return to_official(x, "sent_back_to_agency", NULL, key, a->name, a->contact,
                       OFFICIAL_MAIN_CONTACT, b, error);
}

/* the main agency's contact: a coordinating agency's opinion (Điều 8.2, issue 14), its text
 * and the files it came with (raw_id; 0: the agency's opinion files from any message) */
static gboolean letters_opinion_of(const Ctx *x, const char *code, const char *text, gint64 raw_id,
                                   GError **error)
{
    const Report *r = x->report;
    const Agency *a = agency_of(x);
    if (!a)
        return TRUE;
    const Agency *from = code ? config_find_agency(x->config, code) : NULL;
    g_autoptr(JsonBuilder) b = lifecycle_letters_context(x, TO_AGENCY);
    json_builder_set_member_name(b, "opinion");
    json_builder_begin_object(b);
    json_member_string_if(b, "agency", from ? from->name : code);
    RedactCitizen citizen = redact_who(r);
    g_autofree char *redacted = redact_text(text, &citizen);
    json_member_string_if(b, "text", redacted && *redacted ? redacted : NULL);
    add_time(b, x->config, "at", clock_now_unix());
    lifecycle_letters_add_files(b, "files", r, ATTACHMENT_OPINION, raw_id);
    json_builder_end_object(b);
    g_autofree char *key = lifecycle_letters_key(x, "opinion:%" G_GINT64_FORMAT ":%s:%d", r->id,
                                                 code ? code : "-", event_count(r, "opinion"));
    return to_official(x, "opinion", NULL, key, a->name, a->contact, OFFICIAL_MAIN_CONTACT, b,
                       error);
}

/* the newest opinion as its letter (previews) */
static gboolean letters_opinion(const Ctx *x, GError **error)
{
    const ReportEvent *e = last_event(x->report, "opinion");
    const char *detail = e && e->detail ? e->detail : "";
    const char *colon = strchr(detail, ':');
    g_autofree char *code = colon ? g_strndup(detail, (gsize)(colon - detail)) : NULL;
    const char *text = colon ? colon + 1 : NULL;
    while (text && *text == ' ')
        text++;
    return letters_opinion_of(x, code, text, 0, error);
}

static gboolean letters_feedback(const Ctx *x, GError **error)
{
    const Report *r = x->report;
    const Agency *a = agency_of(x);
    if (!a)
        return TRUE;
    g_autoptr(JsonBuilder) b = lifecycle_letters_context(x, TO_AGENCY);
    json_builder_set_member_name(b, "feedback");
    json_builder_begin_object(b);
    RedactCitizen citizen = redact_who(r);
    g_autofree char *text = redact_text(x->record->feedback_text, &citizen);
    json_member_string_if(b, "text", text);
    add_time(b, x->config, "at", x->record->feedback_at);
    json_builder_end_object(b);
    g_autofree char *key = lifecycle_letters_key(x, "feedback:%" G_GINT64_FORMAT ":%d", r->id,
                                                 event_count(r, "feedback"));
    return to_official(x, "feedback", NULL, key, a->name, a->contact, OFFICIAL_MAIN_CONTACT, b,
                       error);
}

/* ---- reminders and overdue notices ------------------------------------------------------------
 */

/* what is due and the provision that sets it, as labels.ini [deadline NAME] says them */
static gboolean add_reminder(JsonBuilder *b, const Ctx *x, const DeadlineAction *a,
                             const char *role, GError **error)
{
    g_autoptr(Labels) labels = labels_load(x->config, error);
    static const char *const keys[] = {"label", "basis", NULL};
    json_builder_set_member_name(b, "reminder");
    json_builder_begin_object(b);
    gboolean ok = labels && labels_add(b, labels, "deadline", a->name, keys, error);
    json_member_string_if(b, "deadline", a->name);
    add_time(b, x->config, "due", a->due);
    json_member_bool(b, "before", a->stage == 0);
    json_member_bool(b, "at", a->stage == 1);
    json_member_bool(b, "after", a->stage >= 2);
    json_member_int(b, "days_late", a->stage >= 2 ? a->stage - 1 : 0);
    json_member_bool(b, "marks_overdue", lifecycle_deadline_marks_overdue(a->name));
    json_member_bool(b, "to_ioc", g_str_equal(role, "ioc"));
    json_member_bool(b, "to_leader", g_str_equal(role, "leader"));
    json_member_bool(b, "to_contact", g_str_equal(role, "contact"));
    json_member_bool(b, "to_coordinator", g_str_equal(role, "coordinator"));
    json_member_bool(b, "ioc_deadline", g_str_equal(a->owner, "ioc"));
    json_member_bool(b, "waiting_approval", g_str_equal(x->report->state, "result_submitted"));
    /* reminder.what.result etc.: the templates say what to do for each deadline */
    json_builder_set_member_name(b, "what");
    json_builder_begin_object(b);
    json_member_bool(b, a->name, TRUE);
    json_builder_end_object(b);
    json_builder_end_object(b);
    return ok;
}

/* one reminder or overdue notice to one person */
static gboolean deadline_letter(const Ctx *x, const DeadlineAction *a, const char *kind,
                                const char *role, const char *name, const char *address,
                                const Agency *about, GError **error)
{
    if (!address)
        return TRUE;
    g_autoptr(JsonBuilder) b = lifecycle_letters_context(x, TO_INTERNAL);
    if (!add_reminder(b, x, a, role, error))
        return FALSE;
    add_agency(b, "coordinator", about);
    /* unique per report, deadline (its due time: an extension makes a new one), stage and
     * person: a restart of the daemon never doubles a reminder */
    g_autofree char *key = g_strdup_printf("%s:%" G_GINT64_FORMAT ":%s:%" G_GINT64_FORMAT ":%d:%s",
                                           kind, a->report_id, a->name, a->due, a->stage, address);
    /* the same reply addresses as the assignment or approval request (issue 14) */
    OfficialRole official = g_str_equal(role, "contact")            ? OFFICIAL_MAIN_CONTACT
                            : g_str_equal(role, "coordinator")      ? OFFICIAL_COORDINATOR
                            : g_str_equal(role, "leader") && !about ? OFFICIAL_LEADER
                                                                    : OFFICIAL_NONE;
    return to_official(x, kind, NULL, key, name, address, official, b, error);
}

gboolean lifecycle_letters_deadline_action(const Config *c, Store *s, const Calendar *cal,
                                           const DeadlineAction *a, const Report *report,
                                           gint64 not_before, GError **error)
{
    g_auto(Ctx) x = {0};
    if (!lifecycle_letters_ctx_load(&x, c, s, cal, report->id, error))
        return FALSE;
    x.not_before = not_before;
    const Agency *agency = agency_of(&x);
    const char *ioc = c->gateway.ioc_alert_to;
    gboolean overdue = lifecycle_deadline_marks_overdue(a->name);
    gboolean escalation = a->stage >= 2 || (a->stage == 1 && overdue);

    /* the reminders before and at the deadline go to whoever must act */
    const char *role = "contact";
    if (g_str_equal(a->owner, "ioc"))
        role = "ioc";
    else if (g_str_equal(a->owner, "coordinators"))
        role = "coordinator";
    else if (g_str_equal(a->owner, "leader") || g_str_equal(x.report->state, "result_submitted"))
        role = "leader"; /* a result waiting for approval is the leader's to move */
    /* at the deadline an overdue notice goes to the leader anyway: one letter, not two */
    gboolean remind =
        a->stage == 0 || (a->stage == 1 && !(escalation && g_str_equal(role, "leader")));
    if (remind) {
        gboolean ok = TRUE;
        if (g_str_equal(role, "ioc")) {
            ok = deadline_letter(&x, a, "reminder", role, NULL, ioc, NULL, error);
        } else if (g_str_equal(role, "coordinator")) {
            for (char **code = x.report->coordinators; ok && code && *code; code++) {
                const Agency *co = config_find_agency(c, *code);
                if (co)
                    ok = deadline_letter(&x, a, "reminder", role, co->name, co->contact, co, error);
            }
        } else if (agency && g_str_equal(role, "leader")) {
            ok = deadline_letter(&x, a, "reminder", role, agency->leader_name, agency->leader, NULL,
                                 error);
        } else if (agency) {
            ok = deadline_letter(&x, a, "reminder", role, agency->name, agency->contact, NULL,
                                 error);
        }
        if (!ok)
            return FALSE;
    }
    if (!escalation)
        return TRUE;
    /* after it: the agency's leader and the IOC, once each working day (SPEC §5) */
    const char *kind = overdue ? "overdue" : "reminder";
    if (g_str_equal(a->owner, "coordinators")) {
        for (char **code = x.report->coordinators; code && *code; code++) {
            const Agency *co = config_find_agency(c, *code);
            if (co &&
                !deadline_letter(&x, a, kind, "leader", co->leader_name, co->leader, co, error))
                return FALSE;
        }
    } else if (agency && !g_str_equal(a->owner, "ioc")) {
        if (!deadline_letter(&x, a, kind, "leader", agency->leader_name, agency->leader, NULL,
                             error))
            return FALSE;
    }
    if (a->stage >= 2 || overdue)
        return deadline_letter(&x, a, kind, "ioc", NULL, ioc, NULL, error);
    return TRUE;
}

/* ---- actions ----------------------------------------------------------------------------------
 */

typedef gboolean (*LettersFn)(const Ctx *x, GError **error);

/* a transition and its letters in one transaction */
typedef struct {
    const Config *config;
    Store *store;
    Calendar *calendar;
    Lifecycle lc;
} Action;

static void action_clear(Action *a)
{
    g_clear_pointer(&a->calendar, calendar_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Action, action_clear)

static void action_init(Action *a, const Config *c, Store *s, const char *actor)
{
    a->config = c;
    a->store = s;
    a->calendar = calendar_new_from_config(c);
    a->lc = (Lifecycle){.config = c, .calendar = a->calendar, .actor = actor};
}

static gboolean action_letters(Action *a, gint64 id, LettersFn letters, GError **error)
{
    g_auto(Ctx) x = {0};
    return lifecycle_letters_ctx_load(&x, a->config, a->store, a->calendar, id, error) &&
           letters(&x, error);
}

static gboolean action_end(Action *a, gboolean ok, GError **error)
{
    if (!ok) {
        store_rollback(a->store);
        return FALSE;
    }
    return store_commit(a->store, error);
}

gboolean lifecycle_letters_accept(const Config *c, Store *s, const char *actor, gint64 id,
                                  const char *agency, const char *const *coordinators,
                                  const char *category, GError **error)
{
    g_auto(Action) a = {0};
    action_init(&a, c, s, actor);
    if (!store_begin(s, error))
        return FALSE;
    return action_end(&a,
                      lifecycle_accept(s, &a.lc, id, agency, coordinators, category, error) &&
                          action_letters(&a, id, letters_accepted, error),
                      error);
}

gboolean lifecycle_letters_reject(const Config *c, Store *s, const char *actor, gint64 id,
                                  const char *reason, const char *note, GError **error)
{
    g_auto(Action) a = {0};
    action_init(&a, c, s, actor);
    if (!store_begin(s, error))
        return FALSE;
    return action_end(&a,
                      lifecycle_reject(s, &a.lc, id, reason, note, error) &&
                          action_letters(&a, id, letters_rejected, error),
                      error);
}

static gboolean letters_returned_by(const Ctx *x, GError **error)
{
    /* the actor is the last event's */
    const ReportEvent *e = x->report->events->len
                               ? g_ptr_array_index(x->report->events, x->report->events->len - 1)
                               : NULL;
    return letters_returned(x, e ? e->actor : NULL, error);
}

gboolean lifecycle_letters_return(const Config *c, Store *s, const char *actor, gint64 id,
                                  const char *note, GError **error)
{
    g_auto(Action) a = {0};
    action_init(&a, c, s, actor);
    if (!store_begin(s, error))
        return FALSE;
    return action_end(&a,
                      lifecycle_return(s, &a.lc, id, note, error) &&
                          action_letters(&a, id, letters_returned_by, error),
                      error);
}

gboolean lifecycle_letters_extend(const Config *c, Store *s, const char *actor, gint64 id,
                                  gint64 until, const char *note, GError **error)
{
    g_auto(Action) a = {0};
    action_init(&a, c, s, actor);
    if (!store_begin(s, error))
        return FALSE;
    return action_end(&a,
                      lifecycle_extend(s, &a.lc, id, until, note, error) &&
                          action_letters(&a, id, letters_extended, error),
                      error);
}

gboolean lifecycle_letters_submit_result(const Config *c, Store *s, const char *actor, gint64 id,
                                         const char *text, GError **error)
{
    return lifecycle_letters_submit_result_files(c, s, actor, id, text, 0, NULL, error);
}

gboolean lifecycle_letters_submit_result_files(const Config *c, Store *s, const char *actor,
                                               gint64 id, const char *text, gint64 raw_id,
                                               const GPtrArray *files, GError **error)
{
    g_auto(Action) a = {0};
    action_init(&a, c, s, actor);
    if (!store_begin(s, error))
        return FALSE;
    /* a new result replaces the files of the one before, even when it brings none */
    return action_end(&a,
                      lifecycle_submit_result(s, &a.lc, id, text, error) &&
                          report_add_files(s, id, raw_id, ATTACHMENT_RESULT, files, error) &&
                          action_letters(&a, id, letters_result_submitted, error),
                      error);
}

gboolean lifecycle_letters_send_back(const Config *c, Store *s, const char *actor, gint64 id,
                                     const char *reason, GError **error)
{
    g_auto(Action) a = {0};
    action_init(&a, c, s, actor);
    if (!store_begin(s, error))
        return FALSE;
    return action_end(&a,
                      lifecycle_send_back(s, &a.lc, id, reason, error) &&
                          action_letters(&a, id, letters_sent_back_to_agency, error),
                      error);
}

gboolean lifecycle_letters_opinion(const Config *c, Store *s, const char *actor, gint64 id,
                                   const char *agency, const char *text, gint64 raw_id,
                                   const GPtrArray *files, GError **error)
{
    g_auto(Action) a = {0};
    action_init(&a, c, s, actor);
    if (!store_begin(s, error))
        return FALSE;
    g_auto(Ctx) x = {0};
    gboolean ok = lifecycle_record_opinion(s, &a.lc, id, agency, text, error) &&
                  report_add_files(s, id, raw_id, ATTACHMENT_OPINION, files, error) &&
                  lifecycle_letters_ctx_load(&x, c, s, a.calendar, id, error) &&
                  letters_opinion_of(&x, agency, text, raw_id, error);
    return action_end(&a, ok, error);
}

gboolean lifecycle_letters_approve(const Config *c, Store *s, const char *actor, gint64 id,
                                   GError **error)
{
    g_auto(Action) a = {0};
    action_init(&a, c, s, actor);
    if (!store_begin(s, error))
        return FALSE;
    return action_end(&a,
                      lifecycle_approve(s, &a.lc, id, error) &&
                          action_letters(&a, id, letters_approved, error),
                      error);
}

gboolean lifecycle_letters_publish(const Config *c, Store *s, const char *actor, gint64 id,
                                   GError **error)
{
    g_auto(Action) a = {0};
    action_init(&a, c, s, actor);
    if (!store_begin(s, error))
        return FALSE;
    gboolean sent_back = FALSE;
    gboolean ok = lifecycle_publish(s, &a.lc, id, &sent_back, error) &&
                  action_letters(&a, id, sent_back ? letters_sent_back : letters_published, error);
    if (!action_end(&a, ok, error))
        return FALSE;
    if (sent_back) {
        g_autoptr(Report) r = report_load_id(s, id, NULL);
        const Agency *agency = r && r->agency ? config_find_agency(c, r->agency) : NULL;
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "%s: the result has no answer text: sent back to the leader of %s "
                    "(Điều 9.4)",
                    r ? r->code : "report", agency ? agency->name : "the agency");
        return FALSE;
    }
    return TRUE;
}

gboolean lifecycle_letters_citizen_reply(const Config *c, Store *s, const char *actor, gint64 id,
                                         const char *text, CitizenReply *outcome, GError **error)
{
    g_auto(Action) a = {0};
    action_init(&a, c, s, actor ? actor : "citizen");
    if (!store_begin(s, error))
        return FALSE;
    CitizenReply reply = {0};
    gboolean ok = lifecycle_citizen_reply(s, id, text, &a.lc, &reply, error);
    if (ok && reply.feedback)
        ok = action_letters(&a, id, letters_feedback, error);
    if (!action_end(&a, ok, error))
        return FALSE;
    if (outcome)
        *outcome = reply;
    return TRUE;
}

/* ---- preview ----------------------------------------------------------------------------------
 */

static gboolean letters_ack(const Ctx *x, GError **error)
{
    const Report *r = x->report;
    g_autoptr(Draft) d = letters_draft_from_report(r);
    ReportRef ref = {.id = r->id, .code = r->code, .token = r->token};
    /* letters_answer_new_report's key is "ack:ID": a preview must not collide with it */
    return letters_answer_new_report(x->config, x->store, &ref, d, r->received_at, error);
}

static gboolean letters_reminder_preview(const Ctx *x, GError **error)
{
    gint64 due = deadline_due(x->report, "result");
    DeadlineAction a = {.report_id = x->report->id,
                        .name = (char *)"result",
                        .owner = (char *)"agency",
                        .due = due ? due : clock_now_unix(),
                        .stage = 0};
    const Agency *agency = agency_of(x);
    return deadline_letter(x, &a, "reminder", "contact", agency ? agency->name : NULL,
                           agency ? agency->contact : x->config->gateway.ioc_alert_to, NULL, error);
}

static gboolean letters_overdue_preview(const Ctx *x, GError **error)
{
    gint64 due = deadline_due(x->report, "result");
    DeadlineAction a = {.report_id = x->report->id,
                        .name = (char *)"result",
                        .owner = (char *)"agency",
                        .due = due ? due : clock_now_unix(),
                        .stage = 2};
    const Agency *agency = agency_of(x);
    return deadline_letter(x, &a, "overdue", "leader", agency ? agency->leader_name : NULL,
                           agency ? agency->leader : x->config->gateway.ioc_alert_to, NULL, error);
}

static gboolean letters_returned_preview(const Ctx *x, GError **error)
{
    return letters_returned(x, NULL, error);
}

/* how the registry says a template is previewed: the letters of that action */
static LettersFn preview_letters(LetterPreview how)
{
    switch (how) {
    case LETTER_PREVIEW_NONE:
        return NULL;
    case LETTER_PREVIEW_ANSWER:
        return letters_ack;
    case LETTER_PREVIEW_ACCEPT:
        return letters_accepted;
    case LETTER_PREVIEW_REJECT:
        return letters_rejected;
    case LETTER_PREVIEW_RETURN:
        return letters_returned_preview;
    case LETTER_PREVIEW_EXTEND:
        return letters_extended;
    case LETTER_PREVIEW_RESULT:
        return letters_result_submitted;
    case LETTER_PREVIEW_SENT_BACK:
        return letters_sent_back;
    case LETTER_PREVIEW_APPROVE:
        return letters_approved;
    case LETTER_PREVIEW_PUBLISH:
        return letters_published;
    case LETTER_PREVIEW_FEEDBACK:
        return letters_feedback;
    case LETTER_PREVIEW_SENT_BACK_TO_AGENCY:
        return letters_sent_back_to_agency;
    case LETTER_PREVIEW_OPINION:
        return letters_opinion;
    case LETTER_PREVIEW_REMINDER:
        return letters_reminder_preview;
    case LETTER_PREVIEW_OVERDUE:
        return letters_overdue_preview;
    }
    return NULL;
}

/* name: a template that can be previewed, or a mail kind (its first template that can) */
static const LetterTemplate *preview_template(const char *name, const LetterKind **kind)
{
    const LetterTemplate *t = kinds_find_template(NULL, name, kind);
    if (t)
        return t->preview != LETTER_PREVIEW_NONE ? t : NULL;
    *kind = kinds_find(name);
    for (t = *kind ? (*kind)->templates : NULL; t && t->name; t++) {
        if (t->preview != LETTER_PREVIEW_NONE)
            return t;
    }
    return NULL;
}

static void unknown_preview(const char *name, GError **error)
{
    GString *known = g_string_new(NULL);
    for (const LetterKind *k = kinds_all(); k->name; k++) {
        for (const LetterTemplate *t = k->templates; t->name; t++) {
            if (t->preview != LETTER_PREVIEW_NONE)
                g_string_append_printf(known, "%s%s", known->len ? ", " : "", t->name);
        }
    }
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "no letter kind \"%s\" to preview (known: %s)",
                name, known->str);
    g_string_free(known, TRUE);
}

GBytes *lifecycle_letters_preview(const Config *c, Store *s, const char *name, gint64 id,
                                  GError **error)
{
    const LetterKind *kind = NULL;
    const LetterTemplate *template = preview_template(name, &kind);
    if (!template) {
        unknown_preview(name, error);
        return NULL;
    }
    g_auto(Action) a = {0};
    action_init(&a, c, s, NULL);
    /* compose through the one path every letter takes (letters_enqueue), in a transaction
     * that is never committed, and read back what it enqueued: what would be sent, exactly */
    if (!store_begin(s, error))
        return NULL;
    gint64 mark = 0;
    GBytes *bytes = NULL;
    g_auto(Ctx) x = {0};
    gboolean ok = outbox_last_id(s, &mark, error) &&
                  lifecycle_letters_ctx_load(&x, c, s, a.calendar, id, error);
    if (ok) {
        x.preview = TRUE;
        ok = preview_letters(template->preview)(&x, error);
    }
    /* the letter of this kind (the first one: the main agency's, for an assignment) */
    ok = ok && outbox_message_first(s, id, kind->name, mark, &bytes, error);
    /* an answer to the report's mail is sent once: show the one that was sent */
    if (ok && !bytes && template->preview == LETTER_PREVIEW_ANSWER)
        ok = outbox_message_first(s, id, kind->name, 0, &bytes, error);
    if (ok && !bytes)
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND,
                    "report %" G_GINT64_FORMAT " has nobody to send a \"%s\" letter to (no "
                    "address, or an address that never gets automatic mail)",
                    id, name);
    store_rollback(s);
    return bytes;
}

char *lifecycle_letters_readable(GBytes *message, gboolean html, GError **error)
{
    g_mime_init();
    gsize len = 0;
    const char *data = g_bytes_get_data(message, &len);
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    g_object_unref(stream);
    if (!msg) {
        g_set_error_literal(error, PAHT_ERROR, PAHT_ERROR_PERMANENT, "the letter does not parse");
        return NULL;
    }
    GString *out = g_string_new(NULL);
    static const char *const headers[] = {"From", "To", "Reply-To", "Subject", "Date"};
    for (gsize i = 0; i < G_N_ELEMENTS(headers); i++) {
        const char *raw = g_mime_object_get_header(GMIME_OBJECT(msg), headers[i]);
        if (!raw)
            continue;
        g_autofree char *decoded = g_mime_utils_header_decode_text(NULL, raw);
        g_autofree char *line = text_header_sanitize(decoded ? decoded : raw);
        g_string_append_printf(out, "%s: %s\n", headers[i], line);
    }
    g_string_append_c(out, '\n');
    GMimeObject *body = g_mime_message_get_body(msg);
    const char *want = html ? "html" : "plain";
    GMimeObject *part = NULL;
    if (GMIME_IS_MULTIPART(body)) {
        GMimeMultipart *multi = GMIME_MULTIPART(body);
        for (int i = 0; i < g_mime_multipart_get_count(multi); i++) {
            GMimeObject *p = g_mime_multipart_get_part(multi, i);
            GMimeContentType *type = g_mime_object_get_content_type(p);
            if (g_mime_content_type_is_type(type, "text", want))
                part = p;
        }
    } else {
        part = body;
    }
    if (part && GMIME_IS_TEXT_PART(part)) {
        g_autofree char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
        /* the plain part is format=flowed: shown as a mail reader shows it */
        g_autofree char *shown = html ? g_strdup(text) : letter_text_reflowed(text);
        for (const char *p = shown; p && *p; p++) {
            if (*p != '\r')
                g_string_append_c(out, *p);
        }
    }
    g_object_unref(msg);
    return g_string_free(out, FALSE);
}
