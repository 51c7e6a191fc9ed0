/* Letters: who gets which letter for a decision, and the values its templates see. */
#include "letters/letters.h"
#include "notify/notify.h"
#include "util/util.h"

#include <string.h>

char *letters_format_time(const Config *c, gint64 t)
{
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(t);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, c->calendar.zone);
    return g_date_time_format(local, LETTERS_TIME_FORMAT);
}

/* the date line of Vietnamese administrative letters */
char *letters_format_long_date(const Config *c, gint64 t)
{
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(t);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, c->calendar.zone);
    return g_strdup_printf(LETTERS_DATE_FORMAT, g_date_time_get_day_of_month(local),
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
    /* the privacy notice (templates/privacy_notice.partial.*): how long, whom to ask */
    json_builder_set_member_name(b, "privacy");
    json_builder_begin_object(b);
    json_member_int(b, "retain_days", c->privacy.retain_days);
    /* whole years are said in years (privacy_notice.partial.*) */
    int days = c->privacy.retain_days;
    json_member_bool(b, "retain_in_years", days > 0 && days % 365 == 0);
    json_member_int(b, "retain_years", days / 365);
    json_member_string_if(b, "contact", c->privacy.contact ? c->privacy.contact : c->smtp.from);
    json_builder_end_object(b);
    return b;
}

gboolean letters_never_answer(const Config *c, const char *address)
{
    g_autofree char *domain = NULL;
    g_autofree char *mailbox = address_normalise(address, &domain);
    if (!mailbox)
        return TRUE;
    g_autofree char *local = g_strndup(mailbox, strlen(mailbox) - strlen(domain) - 1);
    /* compared without separators: "Mail.Delivery.System", "post_master", "gmail-noreply",
     * "dmarc_no.reply" are what they say wherever the word stands in the local part */
    GString *bare = g_string_new(NULL);
    for (const char *p = local; *p; p++) {
        if (*p != '.' && *p != '-' && *p != '_')
            g_string_append_c(bare, *p);
    }
    g_autofree char *squeezed = g_string_free(bare, FALSE);
    static const char *const exact[] = {
        "mailerdaemon",       "postmaster",           "abuse", "root", "nobody",
        "maildeliverysystem", "maildeliverysubsystem"};
    for (gsize i = 0; i < G_N_ELEMENTS(exact); i++) {
        if (g_str_equal(squeezed, exact[i]))
            return TRUE;
    }
    static const char *const anywhere[] = {"noreply", "donotreply", "dontreply"};
    for (gsize i = 0; i < G_N_ELEMENTS(anywhere); i++) {
        if (strstr(squeezed, anywhere[i]))
            return TRUE;
    }
    /* our own address, with or without a +token: answering ourselves starts a loop */
    g_autofree char *ours = address_normalise(c->smtp.from, NULL);
    return ours && g_str_equal(ours, mailbox);
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

/* The limits of the automatic answers (SPEC §3.6, issue 11): per mailbox (case and +tag
 * folded: victim+1@ and Victim+2@ are one) in 24 hours; per domain and in total in the last
 * hour: a flood with forged senders must not make the province a source of backscatter,
 * which gets its domain blocklisted. How each is named in events, logs and the IOC alert. */
typedef enum { LIMIT_MAILBOX, LIMIT_DOMAIN, LIMIT_TOTAL, N_LIMITS } AnswerLimit;

static const struct {
    const char *key;   /* the configuration key */
    const char *scope; /* "to this address in 24 hours" */
    const char *fact;  /* the IOC alert's flag: which limit (auto_reply_limit.txt) */
} limit_words[N_LIMITS] = {
    {"auto_replies_per_day", "to this address in 24 hours", "per_mailbox"},
    {"auto_replies_per_domain_per_hour", "to this domain in the last hour", "per_domain"},
    {"auto_replies_per_hour", "in total in the last hour", "in_total"},
};

static int limit_of(const Config *c, AnswerLimit which)
{
    return which == LIMIT_MAILBOX  ? c->gateway.auto_replies_per_day
           : which == LIMIT_DOMAIN ? c->gateway.auto_replies_per_domain_per_hour
                                   : c->gateway.auto_replies_per_hour;
}

/* past a limit: no letter, an event on the report, and one IOC alert per limit, mailbox or
 * domain, and (local) day, so that a loop with a broken responder or a flood costs the IOC
 * one mail */
static gboolean answer_limited(const Config *c, Store *store, const LetterRequest *req,
                               AnswerLimit which, gint64 sent, gint64 now, GError **error)
{
    const char *key = limit_words[which].key, *scope = limit_words[which].scope;
    int limit = limit_of(c, which);
    g_autofree char *redacted = log_redact_address(req->to_address);
    log_notice("%s to %s not sent: %" G_GINT64_FORMAT " automatic answers %s (limit %s = %d)",
               req->kind, redacted, sent, scope, key, limit);
    if (req->report_id > 0) {
        g_autofree char *why = g_strdup_printf("%s to %s not sent: %" G_GINT64_FORMAT
                                               " automatic answers went %s (%s = %d)",
                                               req->kind, req->to_address, sent, scope, key, limit);
        if (!event_add(store, req->report_id, "pahtd", "rate_limited", why, error))
            return FALSE;
    }
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(now);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, c->calendar.zone);
    g_autofree char *day = g_date_time_format(local, "%Y-%m-%d");
    g_autofree char *domain = NULL;
    g_autofree char *mailbox = address_normalise(req->to_address, &domain);
    g_autofree char *alert_key = g_strdup_printf("rate-limit:%s:%s:%s", key,
                                                 which == LIMIT_MAILBOX  ? mailbox
                                                 : which == LIMIT_DOMAIN ? domain
                                                                         : "-",
                                                 day);
    g_autoptr(JsonBuilder) facts = letters_alert_facts();
    json_member_string(facts, "address", req->to_address);
    json_member_int(facts, "sent", sent);
    json_member_string(facts, "key", key);
    json_member_int(facts, "limit", limit);
    json_member_bool(facts, limit_words[which].fact, TRUE);
    return letters_ioc_alert(c, store, "auto_reply_limit", alert_key, req->report_id, facts, error);
}

/* SPEC §3.6: *allowed FALSE when an automatic answer would break a limit */
static gboolean rate_limit(const Config *c, Store *store, const LetterRequest *req,
                           gboolean *allowed, GError **error)
{
    *allowed = TRUE;
    gint64 now = clock_now_unix();
    AutoAnswerCounts counts;
    if (!auto_answer_count(store, req->to_address, now, &counts, error))
        return FALSE;
    const gint64 sent[N_LIMITS] = {counts.mailbox_day, counts.domain_hour, counts.total_hour};
    for (int i = 0; i < N_LIMITS; i++) {
        if (sent[i] >= limit_of(c, (AnswerLimit)i)) {
            *allowed = FALSE;
            return answer_limited(c, store, req, (AnswerLimit)i, sent[i], now, error);
        }
    }
    return TRUE;
}

/* the registry's row of the letter req asks for, or an error: nothing unregistered is sent */
static const LetterKind *registered_kind(const LetterRequest *req, const char **template_name,
                                         GError **error)
{
    const LetterKind *kind = kinds_find(req->kind);
    *template_name = req->template_name ? req->template_name : req->kind;
    if (kind && kinds_find_template(kind, *template_name, NULL))
        return kind;
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT,
                "no letter kind \"%s\" with a template \"%s\" in the registry (letters/kinds.c)",
                req->kind ? req->kind : "", *template_name ? *template_name : "");
    return NULL;
}

/* the groups of labels.ini the letters look up by a name the code knows, each with the keys
 * they use: a detail a report lacks (the "please complete" letter), a deadline (reminders and
 * overdue notices, written when one falls due), an action by mail (reply addresses) and a
 * period of the statistics digest, sent once a month at most */
static gboolean labels_check(const Labels *labels, GError **error)
{
    static const char *const field_keys[] = {"label", "words", "hint", NULL};
    static const char *const deadline_keys[] = {"label", "basis", NULL};
    static const char *const action_keys[] = {"subject", NULL};
    static const char *const actions[] = {REPLY_ACTION_RESULT,
                                          REPLY_ACTION_EXTEND,
                                          REPLY_ACTION_RETURN,
                                          REPLY_ACTION_OPINION,
                                          REPLY_ACTION_APPROVE,
                                          REPLY_ACTION_SENDBACK,
                                          NULL};
    for (const char *const *f = draft_field_names(); *f; f++) {
        if (!labels_add(NULL, labels, "field", *f, field_keys, error))
            return FALSE;
    }
    for (gsize i = 0; lifecycle_deadline_name(i); i++) {
        if (!labels_add(NULL, labels, "deadline", lifecycle_deadline_name(i), deadline_keys, error))
            return FALSE;
    }
    for (const char *const *a = actions; *a; a++) {
        if (!labels_add(NULL, labels, "action", *a, action_keys, error))
            return FALSE;
    }
    /* the statistics digest's periods: a label is a template over the period's numbers */
    for (const char *const *p = labels_period_kinds(); *p; p++) {
        g_autofree char *words = labels_period_words(labels, *p, 2026, 1, error);
        if (!words)
            return FALSE;
    }
    return TRUE;
}

gboolean letters_check_templates(const Config *c, GError **error)
{
    g_autoptr(Labels) labels = labels_load(c, error);
    if (!labels || !labels_check(labels, error))
        return FALSE;
    for (const LetterKind *k = kinds_all(); k->name; k++) {
        g_autofree char *name = labels_kind_name(labels, k->name, error);
        if (!name)
            return FALSE;
        for (const LetterTemplate *t = k->templates; t->name; t++) {
            if (!letter_check(c->gateway.templates_dir, letters_fallback_dir(c), t->name, error))
                return FALSE;
        }
    }
    return TRUE;
}

gboolean letters_enqueue(const Config *c, Store *store, const LetterRequest *req,
                         JsonBuilder *context, gboolean *enqueued, GError **error)
{
    if (enqueued)
        *enqueued = FALSE;
    json_builder_end_object(context);
    const char *template_name = NULL;
    const LetterKind *kind = registered_kind(req, &template_name, error);
    if (!kind)
        return FALSE;
    if (letters_never_answer(c, req->to_address)) {
        if (req->report_id <= 0)
            return TRUE;
        g_autofree char *why = g_strdup_printf("%s not sent: %s", req->kind,
                                               req->to_address && *req->to_address
                                                   ? "the address never gets automatic mail"
                                                   : "the message has no sender address to answer");
        return event_add(store, req->report_id, "pahtd", "no_answer", why, error);
    }
    if (kind->auto_reply && !req->by_ioc) {
        gboolean allowed = TRUE;
        if (!rate_limit(c, store, req, &allowed, error))
            return FALSE;
        if (!allowed)
            return TRUE;
    }
    g_autoptr(JsonNode) root = json_builder_get_root(context);
    /* the token makes an answer part of the report: only for the citizen's own letters */
    const char *token = kind->audience & LETTER_TO_CITIZEN ? req->reply_token : NULL;
    g_autofree char *reply_to = req->reply_to ? g_strdup(req->reply_to) : reply_address(c, token);
    LetterSpec spec = {
        .templates_dir = c->gateway.templates_dir,
        .templates_fallback_dir = letters_fallback_dir(c),
        .kind = template_name,
        .context = root,
        .from_name = c->gateway.name,
        .from_address = c->smtp.from,
        .to_name = req->to_name,
        .to_address = req->to_address,
        .reply_to = reply_to,
        .in_reply_to = req->in_reply_to,
        .references = req->references,
        .auto_submitted = kind->auto_reply ? "auto-replied" : "auto-generated",
        .date = clock_now_unix(),
        .attachments = req->attachments,
        .n_attachments = req->n_attachments,
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
    gint64 id = 0;
    gboolean created = FALSE;
    if (!outbox_enqueue(store, &item, &id, &created, error))
        return FALSE;
    if (enqueued)
        *enqueued = created;
    /* counted when enqueued: a letter still queued is as good as sent for a limit */
    return !created || !kind->auto_reply ||
           auto_answer_record(store, id, req->to_address, clock_now_unix(), error);
}

/* Điều 4.5: the IOC's mailbox gets no personal data, whoever wrote the fact; the report in
 * the system has it. A Message-ID stays whole: it is how the IOC finds the mail on the server. */
static void redact_facts(const Config *c, JsonNode *node, const RedactCitizen *who)
{
    if (JSON_NODE_HOLDS_ARRAY(node)) {
        JsonArray *array = json_node_get_array(node);
        for (guint i = 0; i < json_array_get_length(array); i++)
            redact_facts(c, json_array_get_element(array, i), who);
        return;
    }
    if (JSON_NODE_HOLDS_OBJECT(node)) {
        JsonObject *object = json_node_get_object(node);
        g_autoptr(GList) members = json_object_get_members(object);
        for (GList *m = members; m; m = m->next) {
            if (!g_str_equal(m->data, "message_id"))
                redact_facts(c, json_object_get_member(object, m->data), who);
        }
        return;
    }
    if (json_node_get_value_type(node) == G_TYPE_STRING) {
        g_autofree char *safe = redact_alert_line(c, json_node_get_string(node), who);
        json_node_set_string(node, safe);
    }
}

JsonBuilder *letters_alert_facts(void)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    return b;
}

/* the report an alert is about, as the IOC may read it: its code, its state (state_is.STATE
 * true: the template says it in words) and its subject, redacted */
static void add_alert_report(JsonBuilder *b, const Report *report, const RedactCitizen *who)
{
    json_builder_set_member_name(b, "report");
    json_builder_begin_object(b);
    json_member_string_if(b, "code", report->code);
    json_member_string_if(b, "state", report->state);
    json_builder_set_member_name(b, "state_is");
    json_builder_begin_object(b);
    if (report->state)
        json_member_bool(b, report->state, TRUE);
    json_builder_end_object(b);
    g_autofree char *subject = redact_subject(report->subject, report->code, who);
    json_member_string_if(b, "subject", subject);
    json_builder_end_object(b);
}

gboolean letters_ioc_alert(const Config *c, Store *store, const char *template_name,
                           const char *dedupe_key, gint64 report_id, JsonBuilder *facts,
                           GError **error)
{
    gint64 now = clock_now_unix();
    json_builder_end_object(facts);
    g_autoptr(JsonNode) alert = json_builder_get_root(facts);
    g_autoptr(Report) report = NULL;
    if (report_id > 0) {
        report = report_load_id(store, report_id, error);
        if (!report)
            return FALSE;
    }
    RedactCitizen who = {.citizen = report ? &report->citizen : NULL,
                         .confidential = report && report->confidential};
    redact_facts(c, alert, &who);
    g_autofree char *when = letters_format_time(c, now);
    json_object_set_string_member(json_node_get_object(alert), "at", when);
    g_autoptr(JsonBuilder) b = letters_context_new(c, now);
    json_builder_set_member_name(b, "alert");
    json_builder_add_value(b, g_steal_pointer(&alert));
    if (report)
        add_alert_report(b, report, &who);
    LetterRequest req = {
        .kind = "ioc_alert",
        .template_name = template_name,
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
    gboolean by_ioc;   /* the IOC asked for it (pahtctl answer): no rate limit */
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
                          l->subject && *l->subject ? l->subject : LETTERS_NO_SUBJECT);
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
        .by_ioc = l->by_ioc,
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

gboolean letters_add_missing(const Config *c, JsonBuilder *b, char **missing, GError **error)
{
    g_autoptr(Labels) labels = labels_load(c, error);
    if (!labels)
        return FALSE;
    /* Điều 4.2-4.3 in the words a citizen uses, and what to write */
    static const char *const keys[] = {"label", "words", "hint", NULL};
    gboolean ok = TRUE;
    json_builder_set_member_name(b, "missing");
    json_builder_begin_array(b);
    for (char **m = missing; ok && m && *m; m++) {
        json_builder_begin_object(b);
        json_member_string(b, "field", *m);
        /* a sentence of them: "a, b và c" (every flag set: a missing one is looked up outside) */
        json_member_bool(b, "first", m == missing);
        json_member_bool(b, "last", m[1] == NULL);
        ok = labels_add(b, labels, "field", *m, keys, error);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_member_bool(b, "has_missing", missing && missing[0]);
    return ok;
}

static gboolean send_incomplete(const Config *c, Store *store, const ReportLetter *l,
                                char **missing, gboolean again, const char *dedupe_key,
                                GError **error)
{
    g_autoptr(JsonBuilder) b = letters_context_new(c, clock_now_unix());
    add_report_members(c, b, l);
    if (!letters_add_missing(c, b, missing, error))
        return FALSE;
    json_builder_set_member_name(b, "again");
    json_builder_add_boolean_value(b, again);
    return enqueue_report_letter(c, store, l, "incomplete", dedupe_key, b, error);
}

/* Why automatic answers to a mail are withheld: the province's MX found that it fails DMARC
 * ("dmarc") or its spam filter flagged it ("spam"), with the MX's name and words; the reply
 * is not yet confirmed as the citizen's ("unconfirmed"); only its From address ties it to a
 * report ("from_only"). why NULL: not withheld. */
typedef struct {
    const char *why;
    const char *mx, *detail;
} SenderDoubt;

/* "member": {WHY: true, the other reasons false, mx, detail}, or nothing when not withheld */
static void add_doubt(JsonBuilder *b, const char *member, const SenderDoubt *doubt)
{
    if (!doubt->why)
        return;
    static const char *const reasons[] = {"dmarc", "spam", "unconfirmed", "from_only"};
    json_builder_set_member_name(b, member);
    json_builder_begin_object(b);
    for (gsize i = 0; i < G_N_ELEMENTS(reasons); i++)
        json_member_bool(b, reasons[i], g_str_equal(doubt->why, reasons[i]));
    json_member_string_if(b, "mx", doubt->mx);
    json_member_string_if(b, "detail", doubt->detail);
    json_builder_end_object(b);
}

static gpointer keyword_rule_regex_new(gpointer unused)
{
    return g_regex_new("^keyword (?:[a-z]+ )?\"(.*)\" \\((subject|text)\\)$", 0, 0, NULL);
}

/* an alert quotes this much of the citizen's text: enough to judge, not the whole mail */
#define ALERT_EXCERPT_CHARS 300

/* 'keyword emergency "đang cháy" (text); confidential: keyword "giữ bí mật" (text)', the
 * parser's record of its rules, as facts the IOC's template says in words: each rule a keyword
 * and where it was found (in_subject, else the text), whether it made the report confidential,
 * or plain (the default: nothing matched) or other (a rule of another kind) */
static void add_rules(JsonBuilder *b, const char *rule)
{
    static GOnce once = G_ONCE_INIT;
    GRegex *re = g_once(&once, keyword_rule_regex_new, NULL);
    g_auto(GStrv) parts = g_strsplit(rule ? rule : "", "; ", -1);
    json_builder_set_member_name(b, "rules");
    json_builder_begin_array(b);
    for (int i = 0; parts[i]; i++) {
        g_autoptr(GMatchInfo) match = NULL;
        const char *part = parts[i];
        gboolean secret = g_str_has_prefix(part, "confidential: ");
        if (secret)
            part += strlen("confidential: ");
        gboolean keyword = g_regex_match(re, part, 0, &match);
        g_autofree char *phrase = keyword ? g_match_info_fetch(match, 1) : NULL;
        g_autofree char *where = keyword ? g_match_info_fetch(match, 2) : NULL;
        /* every flag of every rule, false too: a missing one would be looked up outside it */
        json_builder_begin_object(b);
        json_member_string(b, "keyword", phrase);
        json_member_bool(b, "in_subject", g_strcmp0(where, "subject") == 0);
        json_member_bool(b, "confidential", secret);
        json_member_bool(b, "plain", !keyword && g_str_equal(part, "default"));
        json_member_bool(b, "other", !keyword && !g_str_equal(part, "default"));
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

typedef struct {
    const char *rule, *subject, *place, *text;
    RedactCitizen who;
    gboolean has_coordinates;
    double lat, lon;
    SenderDoubt held; /* why the sender gets no letter (the IOC still does); why NULL: it does */
} EmergencyFacts;

static gboolean send_emergency_letter(const Config *c, Store *store, const ReportLetter *l,
                                      const char *key, GError **error)
{
    g_autoptr(JsonBuilder) b = letters_context_new(c, clock_now_unix());
    add_report_members(c, b, l);
    return enqueue_report_letter(c, store, l, "emergency", key, b, error);
}

/* what the IOC needs to act on an emergency (Điều 8.6), and nothing personal: the report in
 * the system has the rest */
static JsonBuilder *emergency_facts(const EmergencyFacts *f, const char *code)
{
    JsonBuilder *facts = letters_alert_facts();
    g_autofree char *subject = redact_subject(f->subject, code, &f->who);
    json_member_string(facts, "subject", subject);
    add_rules(facts, f->rule);
    g_autofree char *place = redact_line(f->place, &f->who);
    json_member_string_if(facts, "place", place && *place ? place : NULL);
    if (f->has_coordinates) {
        g_autofree char *lat = coordinate_text(f->lat);
        g_autofree char *lon = coordinate_text(f->lon);
        json_member_string(facts, "lat", lat);
        json_member_string(facts, "lon", lon);
    }
    g_autofree char *excerpt = redact_excerpt(f->text, &f->who, ALERT_EXCERPT_CHARS);
    json_member_string_if(facts, "excerpt", excerpt && *excerpt ? excerpt : NULL);
    add_doubt(facts, "held", &f->held);
    return facts;
}

/* Điều 6.2, 8.6: e-mail is not an emergency channel; the citizen is told to call 1022 now
 * and the IOC is told at once, with what it needs to act without opening the draft */
static gboolean send_emergency(const Config *c, Store *store, const ReportLetter *l,
                               const EmergencyFacts *f, const char *suffix, GError **error)
{
    g_autofree char *key = g_strdup_printf("emergency:%s", suffix);
    if (!f->held.why && !send_emergency_letter(c, store, l, key, error))
        return FALSE;
    if (l->by_ioc)
        return TRUE; /* the IOC knows: it is answering by hand */
    g_autoptr(JsonBuilder) facts = emergency_facts(f, l->code);
    g_autofree char *alert_key = g_strdup_printf("emergency-alert:%s", suffix);
    return letters_ioc_alert(c, store, "emergency_alert", alert_key, l->report_id, facts, error);
}

const char *letters_answer_address(const Draft *draft)
{
    /* RFC 3834 §4 sends personal answers to the author; our answers carry the tracking code
     * and the reply token, which belong to the author, not to a forwarder's or a list's
     * envelope. The envelope sender only stands in when From names no mailbox at all. */
    if (config_is_email(draft->from_address))
        return draft->from_address;
    if (config_is_email(draft->return_path))
        return draft->return_path;
    return NULL;
}

/* the MX's verdict on the sender (trusted_authserv_id): DMARC failed, or spam */
static SenderDoubt sender_doubt(const Config *c, const Draft *draft)
{
    const char *mx = c->gateway.trusted_authserv_id;
    if (mx && g_strcmp0(draft->auth_dmarc, "fail") == 0)
        return (SenderDoubt){"dmarc", mx, draft->auth_results ? draft->auth_results : "dmarc=fail"};
    if (mx && draft->spam_flagged)
        return (SenderDoubt){"spam", mx, draft->spam_status ? draft->spam_status : "spam"};
    return (SenderDoubt){0};
}

char *letters_sender_suspect(const Config *c, const Draft *draft)
{
    SenderDoubt doubt = sender_doubt(c, draft);
    if (!doubt.why)
        return NULL;
    if (g_str_equal(doubt.why, "dmarc"))
        return g_strdup_printf("the province's mail server %s found that the sender fails DMARC "
                               "(the From address may be forged): %s",
                               doubt.mx, doubt.detail);
    return g_strdup_printf("the spam filter of the province's mail server flagged it: %s",
                           doubt.detail);
}

static gboolean answer_new_report(const Config *c, Store *store, const ReportRef *report,
                                  const Draft *draft, gint64 received_at, gboolean by_ioc,
                                  GError **error)
{
    const char *classification =
        draft->classification ? draft->classification : CLASSIFICATION_REPORT;
    if (g_str_equal(classification, CLASSIFICATION_COMPLAINT))
        return TRUE; /* no acknowledgement: the IOC confirms the refusal (Điều 1.1.c, 3.9) */
    SenderDoubt held = by_ioc ? (SenderDoubt){0} : sender_doubt(c, draft);
    g_auto(GStrv) references = references_for(draft);
    /* issue 11: only ever to the sender. An address written in the text is data for the IOC
     * (the report's citizen e-mail): answering it would let anyone make the province write
     * to anyone, with the subject they chose. */
    ReportLetter l = {
        .report_id = report->id,
        .code = report->code,
        .token = report->token,
        .subject = draft->subject,
        .received_at = received_at,
        .name = draft->citizen.name ? draft->citizen.name : draft->from_name,
        .email = letters_answer_address(draft),
        .attachments = draft->attachments,
        .in_reply_to = draft->message_id,
        .references = (const char *const *)references,
        .by_ioc = by_ioc,
    };
    if (!letter_assign_due(store, &l, error))
        return FALSE;
    g_autofree char *id = g_strdup_printf("%" G_GINT64_FORMAT, report->id);
    if (g_str_equal(classification, CLASSIFICATION_EMERGENCY)) {
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
            .held = held,
        };
        return send_emergency(c, store, &l, &f, id, error);
    }
    if (held.why)
        return TRUE; /* the IOC sees the report, marked, and may answer it by hand */
    g_auto(GStrv) missing = draft_missing_fields(draft);
    if (missing[0]) {
        g_autofree char *key = g_strdup_printf("incomplete:%s", id);
        return send_incomplete(c, store, &l, missing, FALSE, key, error);
    }
    return send_ack(c, store, &l, error);
}

gboolean letters_answer_new_report(const Config *c, Store *store, const ReportRef *report,
                                   const Draft *draft, gint64 received_at, GError **error)
{
    return answer_new_report(c, store, report, draft, received_at, FALSE, error);
}

gboolean letters_answer_by_ioc(const Config *c, Store *store, const Report *r, const char *sender,
                               GError **error)
{
    g_autoptr(Draft) d = letters_draft_from_report(r);
    g_free(d->from_address);
    d->from_address = g_strdup(sender);
    ReportRef ref = {.id = r->id, .code = r->code, .token = r->token};
    return answer_new_report(c, store, &ref, d, r->received_at, TRUE, error);
}

Draft *letters_draft_from_report(const Report *r)
{
    Draft *d = draft_new();
    d->subject = g_strdup(r->subject);
    d->message_id = g_strdup(r->message_id);
    d->from_address = g_strdup(r->citizen.email);
    d->citizen.name = g_strdup(r->citizen.name);
    d->citizen.address = g_strdup(r->citizen.address);
    d->citizen.id_number = g_strdup(r->citizen.id_number);
    d->citizen.phone = g_strdup(r->citizen.phone);
    d->citizen.email = g_strdup(r->citizen.email);
    d->location.text = g_strdup(r->location.text);
    d->location.has_coordinates = r->location.has_coordinates;
    d->location.lat = r->location.lat;
    d->location.lon = r->location.lon;
    d->classification = g_strdup(r->classification);
    d->rule = g_strdup(r->rule);
    d->text = g_strdup(r->text);
    for (guint i = 0; r->attachments && i < r->attachments->len; i++) {
        const StoredAttachment *a = g_ptr_array_index(r->attachments, i);
        DraftAttachment *copy = g_new0(DraftAttachment, 1);
        copy->filename = g_strdup(a->filename);
        copy->kind = g_strdup(a->kind);
        g_ptr_array_add(d->attachments, copy);
    }
    return d;
}

/* A short confirmation that a supplement reached a report that needs nothing more from the
 * citizen (issue 11, item 16): without it the citizen cannot tell whether the photo they
 * sent arrived. */
static gboolean send_supplement(const Config *c, Store *store, const ReportLetter *l,
                                const Draft *reply, const char *suffix, GError **error)
{
    g_autoptr(JsonBuilder) b = letters_context_new(c, clock_now_unix());
    add_report_members(c, b, l);
    json_builder_set_member_name(b, "supplement");
    json_builder_begin_object(b);
    g_autofree char *received = letters_format_time(c, clock_now_unix());
    json_member_string_if(b, "received_at", received);
    json_builder_set_member_name(b, "attachment_count");
    json_builder_add_int_value(b, reply->attachments->len);
    json_builder_set_member_name(b, "attachments");
    json_builder_begin_array(b);
    for (guint i = 0; i < reply->attachments->len; i++) {
        const DraftAttachment *a = g_ptr_array_index(reply->attachments, i);
        json_builder_begin_object(b);
        json_member_string_if(b, "filename", a->filename);
        json_member_string_if(b, "kind", a->kind);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_member_bool(b, "has_text", reply->text && *reply->text);
    json_builder_end_object(b);
    g_autofree char *key = g_strdup_printf("supplement:%s", suffix);
    return enqueue_report_letter(c, store, l, "supplement", key, b, error);
}

/* with the IOC or an agency already: they must see it */
static gboolean alert_reply(const Config *c, Store *store, const Report *r, const Draft *reply,
                            const char *suffix, GError **error)
{
    g_autofree char *key = g_strdup_printf("reply-alert:%s", suffix);
    RedactCitizen who = {
        .citizen = &r->citizen, .sender_name = reply->from_name, .confidential = r->confidential};
    g_autofree char *excerpt = redact_excerpt(reply->text, &who, ALERT_EXCERPT_CHARS);
    g_autoptr(JsonBuilder) facts = letters_alert_facts();
    json_member_string_if(facts, "excerpt", excerpt && *excerpt ? excerpt : NULL);
    json_member_int(facts, "attachments", reply->attachments->len);
    return letters_ioc_alert(c, store, "reply_added", key, r->id, facts, error);
}

static EmergencyFacts reply_emergency_facts(const Report *r, const Draft *reply)
{
    return (EmergencyFacts){
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
}

/* the letters about report r to the sender of reply (and the references to thread them) */
static ReportLetter reply_letter(const Report *r, const Draft *reply, const char *const *refs)
{
    return (ReportLetter){
        .report_id = r->id,
        .code = r->code,
        .token = r->token,
        .subject = r->subject,
        .received_at = r->received_at,
        .name = r->citizen.name ? r->citizen.name : reply->from_name,
        /* only ever to the sender of the reply (issue 11) */
        .email = letters_answer_address(reply),
        .stored = r->attachments,
        .in_reply_to = reply->message_id,
        .references = refs,
    };
}

gboolean letters_answer_reply(const Config *c, Store *store, const ReplyMatch *match,
                              const ReplyOutcome *outcome, const Draft *reply, gint64 raw_id,
                              GError **error)
{
    g_autoptr(Report) r = report_load_id(store, match->report_id, error);
    if (!r)
        return FALSE;
    g_auto(GStrv) references = references_for(reply);
    ReportLetter l = reply_letter(r, reply, (const char *const *)references);
    if (!letter_assign_due(store, &l, error))
        return FALSE;
    g_autofree char *suffix =
        g_strdup_printf("%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, r->id, raw_id);
    gboolean emergency = g_strcmp0(reply->classification, CLASSIFICATION_EMERGENCY) == 0;
    if (emergency) {
        EmergencyFacts f = reply_emergency_facts(r, reply);
        if (!send_emergency(c, store, &l, &f, suffix, error))
            return FALSE;
    }
    if (outcome->completed)
        return send_ack(c, store, &l, error);
    if (g_str_equal(outcome->state_after, "incomplete")) {
        g_autofree char *key = g_strdup_printf("incomplete:%s", suffix);
        return send_incomplete(c, store, &l, outcome->missing, TRUE, key, error);
    }
    /* complete: the IOC reviews the draft with the reply in it; later, the IOC or the agency
     * must see it at once. Either way the citizen learns that it arrived (the call-1022
     * answer already said so for an emergency). */
    if (!g_str_equal(outcome->state_before, "draft") &&
        !alert_reply(c, store, r, reply, suffix, error))
        return FALSE;
    return emergency || send_supplement(c, store, &l, reply, suffix, error);
}

gboolean letters_supplement_pending(const Config *c, Store *store, gint64 pending_id,
                                    const ReplyMatch *match, const Draft *reply, gint64 raw_id,
                                    GError **error)
{
    g_autoptr(Report) r = report_load_id(store, match->report_id, error);
    if (!r)
        return FALSE;
    if (g_strcmp0(reply->classification, CLASSIFICATION_EMERGENCY) == 0) {
        /* an emergency cannot wait for a confirmation: the IOC hears of it now; the sender,
         * who may not be the citizen, gets no letter */
        g_auto(GStrv) references = references_for(reply);
        ReportLetter l = reply_letter(r, reply, (const char *const *)references);
        EmergencyFacts f = reply_emergency_facts(r, reply);
        f.held = (SenderDoubt){.why = "unconfirmed"};
        g_autofree char *suffix =
            g_strdup_printf("%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, r->id, raw_id);
        if (!send_emergency(c, store, &l, &f, suffix, error))
            return FALSE;
    }
    /* one alert per report and day: a flood of forged mail quoting a code costs one mail */
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(clock_now_unix());
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, c->calendar.zone);
    g_autofree char *day = g_date_time_format(local, "%Y-%m-%d");
    g_autofree char *key =
        g_strdup_printf("supplement-pending:%" G_GINT64_FORMAT ":%s", r->id, day);
    /* why it waits: inbound.c's reason, as a fact (the MX doubts the sender, or only the
     * sender's From address ties it to the report) */
    SenderDoubt why = sender_doubt(c, reply);
    if (!why.why)
        why.why = "from_only";
    g_autoptr(JsonBuilder) facts = letters_alert_facts();
    json_member_string_if(facts, "from", reply->from_address);
    json_member_int(facts, "pending", pending_id);
    add_doubt(facts, "why", &why);
    return letters_ioc_alert(c, store, "supplement_pending", key, r->id, facts, error);
}
