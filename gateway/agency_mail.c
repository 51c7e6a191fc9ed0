/* agency_mail: agencies and leaders act by answering their mail (issue 14).
 *
 * The letters to an agency's contact, to a coordinating agency and to a leader offer signed
 * reply addresses, paht+<action>-<token>@... (letters/reply_address.c): the assignment's
 * Reply-To submits the result, its mailto: links ask for an extension or return the report;
 * the approval request's Reply-To approves, its link sends the result back; a coordinating
 * agency's Reply-To gives its opinion. A mail to such an address is decided here, before any
 * other rule (it is never a citizen's), in this order:
 *
 *   1. automatic mail (out-of-office, bounces): recorded as an event, never acted upon, never
 *      answered (agency_mail_automatic);
 *   2. an address the store does not know: refused;
 *   3. with [gateway] trusted_authserv_id set, the province's MX must vouch for the sender
 *      (dmarc=pass, or dkim=pass for the From domain): else the mail waits for the IOC as a
 *      pending supplement, and acts when the IOC confirms it;
 *   4. From and envelope sender must be the address's recipient (case and +tag aside);
 *   5. an address acts once: a second mail to it is kept as a note and refused;
 *   6. within REPLY_ADDRESS_DAYS of its letter (the mail's arrival counts);
 *   7. the report's state, agency and the action's own rules (Điều 8.1-8.4): a date to
 *      extend to, a reason, something to submit.
 *
 * A refused mail changes nothing of the report (an event records it): its sender gets one
 * letter saying why and what to do, and the IOC is told. A mail that acts is the lifecycle's
 * action with its letters (the citizen gets the same ones as with pahtctl), an event whose
 * actor is the address, and a short confirmation to it.
 */
#include "gateway/gateway_private.h"
#include "letters/letters.h"
#include "util/util.h"

#include <string.h>

/* ---- reading the mail ---------------------------------------------------------------------- */

/* a signature (RFC 3676 §4.3 "-- ", or "--") and a phone's "Sent from ..." footer are the
 * sender's, not the answer: cut as the parser cuts the quote */
static char *answer_text(const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
    guint n = g_strv_length(lines);
    for (guint i = 0; i < n; i++) {
        g_strchomp(lines[i]);
        if (g_str_equal(lines[i], "--")) {
            n = i;
            break;
        }
    }
    while (n > 0 && lines[n - 1][strspn(lines[n - 1], " \t\r")] == '\0')
        n--;
    if (n > 0) {
        g_autofree char *last = text_fold(lines[n - 1]);
        g_strstrip(last);
        if (g_str_has_prefix(last, "sent from ") || g_str_has_prefix(last, "gui tu ") ||
            g_str_has_prefix(last, "duoc gui tu "))
            n--;
    }
    GString *out = g_string_new(NULL);
    for (guint i = 0; i < n; i++)
        g_string_append_printf(out, "%s%s", i ? "\n" : "", lines[i]);
    g_autofree char *joined = g_string_free(out, FALSE);
    return g_strstrip(g_strdup(joined));
}

static gboolean is_blank(const char *text)
{
    for (const char *p = text; p && *p; p = g_utf8_next_char(p)) {
        if (!g_unichar_isspace(g_utf8_get_char(p)))
            return FALSE;
    }
    return TRUE;
}

static gpointer extension_regex_new(gpointer unused)
{
    /* "Gia hạn đến ngày 16/12/2026 lúc 17h30", "16/12/2026 17:00", "16-12-2026", with or
     * without diacritics, then optionally the reason on the same line */
    return g_regex_new("^\\s*(?:gia\\s+h[aạ]n(?:\\s+x[uử]\\s+l[yý])?(?:\\s+(?:đ[eế]n|d[eế]n|t"
                       "[oớ]i))?(?:\\s+ng[aà]y)?\\s*:?\\s*)?"
                       "(\\d{1,2})\\s*[/.-]\\s*(\\d{1,2})\\s*[/.-]\\s*(\\d{4})"
                       "(?:\\s*(?:,\\s*|l[uú]c\\s+|v[aà]o\\s+)?(\\d{1,2})\\s*(?::|h|gi[oờ])"
                       "\\s*(\\d{2})?(?:\\s*ph[uú]t)?)?"
                       "(?:\\s*[,.;:–-]?\\s+(.+?)|\\s*[.;]?)\\s*$",
                       G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, NULL);
}

static int match_int(GMatchInfo *m, int group, int fallback)
{
    g_autofree char *text = g_match_info_fetch(m, group);
    return text && *text ? atoi(text) : fallback;
}

gboolean agency_mail_extension(const Config *c, const char *text, gint64 *until, char **reason)
{
    static GOnce once = G_ONCE_INIT;
    GRegex *re = g_once(&once, extension_regex_new, NULL);
    *until = 0;
    *reason = NULL;
    const char *p = text ? text : "";
    while (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t')
        p++;
    const char *end = strchr(p, '\n');
    g_autofree char *line = end ? g_strndup(p, (gsize)(end - p)) : g_strdup(p);
    g_autoptr(GMatchInfo) m = NULL;
    if (!g_regex_match(re, line, 0, &m))
        return FALSE;
    int day = match_int(m, 1, 0), month = match_int(m, 2, 0), year = match_int(m, 3, 0);
    /* a date alone: the end of that day's working hours, as an agency commits to a day */
    const WorkPeriod *last =
        c->calendar.n_periods > 0 ? &c->calendar.periods[c->calendar.n_periods - 1] : NULL;
    int day_end = last ? last->end_minute : 17 * 60;
    int hour = match_int(m, 4, day_end / 60), minute = match_int(m, 5, 0);
    g_autofree char *hour_text = g_match_info_fetch(m, 4);
    if (!hour_text || !*hour_text)
        minute = day_end % 60;
    if (!g_date_valid_dmy((GDateDay)day, (GDateMonth)month, (GDateYear)year) || hour > 23 ||
        minute > 59)
        return FALSE;
    g_autoptr(GDateTime) local =
        g_date_time_new(c->calendar.zone, year, month, day, hour == 24 ? 0 : hour, minute, 0);
    if (!local)
        return FALSE;
    *until = g_date_time_to_unix(local);
    g_autofree char *same_line = g_match_info_fetch(m, 6);
    g_autofree char *rest = g_strstrip(g_strdup(end ? end + 1 : ""));
    GString *why = g_string_new(same_line && *same_line ? same_line : "");
    if (*rest)
        g_string_append_printf(why, "%s%s", why->len ? "\n" : "", rest);
    *reason = g_string_free(why, why->len == 0);
    return TRUE;
}

/* ---- the address ---------------------------------------------------------------------------- */

/* the first recipient of the mail that has the shape of an action address */
static gboolean find_action_address(const Config *c, const Draft *d, char **action, char **token)
{
    for (guint i = 0; d->recipients && i < d->recipients->len; i++) {
        if (reply_address_parse(c, g_ptr_array_index(d->recipients, i), action, token))
            return TRUE;
    }
    return FALSE;
}

/* the store's row for the mail's action address; *out NULL (TRUE) when the mail has none or
 * the store does not know it; *found TRUE when the mail was sent to one at all */
static gboolean load_action_address(Gateway *gw, const Draft *d, gboolean *found, char **action,
                                    ActionAddress **out, GError **error)
{
    *out = NULL;
    g_autofree char *token = NULL;
    *found = find_action_address(gw->config, d, action, &token);
    if (!*found)
        return TRUE;
    if (!action_address_find(gw->store, token, out, error))
        return FALSE;
    /* the address names its action too: a row of another action is not this address */
    if (*out && !g_str_equal((*out)->action, *action))
        g_clear_pointer(out, action_address_free);
    return TRUE;
}

gboolean agency_mail_automatic(Gateway *gw, gint64 raw_id, const Draft *d, GError **error)
{
    gboolean found = FALSE;
    g_autofree char *action = NULL;
    g_autoptr(ActionAddress) a = NULL;
    if (!load_action_address(gw, d, &found, &action, &a, error))
        return FALSE;
    if (!a)
        return TRUE;
    g_autofree char *detail = g_strdup_printf(
        "message %" G_GINT64_FORMAT ": an automatic message (%s) from %s to the %s address "
        "of %s: recorded, not acted upon and not answered",
        raw_id, d->rule ? d->rule : d->classification,
        d->from_address ? d->from_address : "an unknown sender", a->action, a->recipient);
    log_info("message %" G_GINT64_FORMAT " is automatic mail to a reply address: not acted upon",
             raw_id);
    return event_add(gw->store, a->report_id, "pahtd", "automatic_mail", detail, error);
}

/* ---- who sent it -------------------------------------------------------------------------- */

/* dkim=pass for the From domain, or for a domain above it (DMARC's relaxed alignment) */
static gboolean dkim_covers(const char *passes, const char *from)
{
    const char *at = from ? strrchr(from, '@') : NULL;
    if (!passes || !at)
        return FALSE;
    g_autofree char *domain = g_ascii_strdown(at + 1, -1);
    g_auto(GStrv) list = g_strsplit(passes, ",", -1);
    for (char **d = list; *d; d++) {
        gsize n = strlen(domain), m = strlen(*d);
        if (g_str_equal(domain, *d) ||
            (n > m && domain[n - m - 1] == '.' && g_str_equal(domain + n - m, *d)))
            return TRUE;
    }
    return FALSE;
}

/* Why the province's MX does not vouch for the sender, or NULL when it does or no MX is
 * trusted: an action needs dmarc=pass, or dkim=pass for the From domain; a failure or a spam
 * flag outweighs any pass (issue 11). */
static char *sender_doubt(const Config *c, const Draft *d)
{
    const char *mx = c->gateway.trusted_authserv_id;
    if (!mx)
        return NULL;
    char *suspect = letters_sender_suspect(c, d);
    if (suspect)
        return suspect;
    if (g_strcmp0(d->auth_dmarc, "pass") == 0 || dkim_covers(d->auth_dkim_pass, d->from_address))
        return NULL;
    return g_strdup_printf("the province's mail server %s does not vouch for the sender: no "
                           "dmarc=pass and no dkim=pass for its domain (%s)",
                           mx, d->auth_results ? d->auth_results : "no Authentication-Results");
}

/* From (and the envelope sender, where there is one) is the address's recipient */
static gboolean sent_by_recipient(const Draft *d, const char *recipient)
{
    g_autofree char *from = address_normalise(d->from_address, NULL);
    if (!from || !g_str_equal(from, recipient))
        return FALSE;
    if (!d->return_path || !*d->return_path)
        return TRUE;
    g_autofree char *envelope = address_normalise(d->return_path, NULL);
    return envelope && g_str_equal(envelope, recipient);
}

/* ---- the decision --------------------------------------------------------------------------- */

/* one mail to an action address being decided */
typedef struct {
    Gateway *gw;
    gint64 raw_id;
    const Draft *draft;
    gint64 received_at;
    ActionAddress *address; /* the store's row */
    Report *report;
    LifecycleRecord *record;
    char *text;        /* the answer: quote (parse) and signature cut */
    gint64 until;      /* extend: the new date */
    char *reason;      /* extend: the lines after the date */
    char *coordinator; /* opinion: the code of the recipient's agency */
} Mail;

static void mail_clear(Mail *m)
{
    g_clear_pointer(&m->report, report_free);
    g_clear_pointer(&m->record, lifecycle_record_free);
    g_clear_pointer(&m->text, g_free);
    g_clear_pointer(&m->reason, g_free);
    g_clear_pointer(&m->coordinator, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Mail, mail_clear)

static gboolean state_is(const Report *r, const char *const *states)
{
    return g_strv_contains(states, r->state);
}

/* the address's recipient is still the one its action needs: the main agency's contact (or
 * leader, for approve and sendback), or a coordinating agency's contact (opinion) */
static gboolean recipient_holds_role(Mail *m)
{
    const Config *c = m->gw->config;
    const Report *r = m->report;
    const char *who = m->address->recipient;
    const char *action = m->address->action;
    if (g_str_equal(action, REPLY_ACTION_OPINION)) {
        for (char **code = r->coordinators; code && *code; code++) {
            const Agency *a = config_find_agency(c, *code);
            g_autofree char *contact = a ? address_normalise(a->contact, NULL) : NULL;
            if (contact && g_str_equal(contact, who)) {
                m->coordinator = g_strdup(a->code);
                return TRUE;
            }
        }
        return FALSE;
    }
    const Agency *a = r->agency ? config_find_agency(c, r->agency) : NULL;
    gboolean leader =
        g_str_equal(action, REPLY_ACTION_APPROVE) || g_str_equal(action, REPLY_ACTION_SENDBACK);
    g_autofree char *holder = a ? address_normalise(leader ? a->leader : a->contact, NULL) : NULL;
    return holder && g_str_equal(holder, who);
}

/* Điều 8.3 by mail: a date on the first line, a reason, once, before the deadline, later
 * than it */
static const char *extension_refusal(Mail *m, GError **error, gboolean *failed)
{
    if (!agency_mail_extension(m->gw->config, m->text, &m->until, &m->reason))
        return MAIL_REFUSAL_DATE;
    if (is_blank(m->reason))
        return MAIL_REFUSAL_REASON;
    gint64 due = 0;
    if (!lifecycle_deadline_due(m->gw->store, m->report->id, "result", &due, error)) {
        *failed = TRUE;
        return NULL;
    }
    gint64 now = clock_now_unix();
    if (due && now >= due)
        return MAIL_REFUSAL_LATE;
    if (m->until <= due || m->until <= now)
        return MAIL_REFUSAL_DATE;
    return NULL;
}

/* Why the action cannot be taken now (MAIL_REFUSAL_*), or NULL; *failed on a store error */
static const char *action_refusal(Mail *m, GError **error, gboolean *failed)
{
    static const char *const working[] = {"assigned", "coordinating", "extended", NULL};
    static const char *const resubmit[] = {"assigned", "coordinating", "extended",
                                           "result_submitted", NULL};
    static const char *const extendable[] = {"assigned", "coordinating", NULL};
    static const char *const coordinated[] = {"coordinating", "extended", NULL};
    static const char *const submitted[] = {"result_submitted", NULL};
    static const char *const published[] = {"published", "closed", NULL};
    const char *action = m->address->action;
    const Report *r = m->report;
    gboolean has_files = m->draft->attachments && m->draft->attachments->len > 0;
    *failed = FALSE;

    if (g_str_equal(action, REPLY_ACTION_RESULT)) {
        gint64 clarify = 0;
        if (state_is(r, published) &&
            !lifecycle_deadline_due(m->gw->store, r->id, "clarify", &clarify, error)) {
            *failed = TRUE;
            return NULL;
        }
        if (!state_is(r, resubmit) && !clarify)
            return MAIL_REFUSAL_STATE;
    } else if (g_str_equal(action, REPLY_ACTION_EXTEND)) {
        if (m->record->extended_until || g_str_equal(r->state, "extended"))
            return MAIL_REFUSAL_EXTENDED;
        if (!state_is(r, extendable))
            return MAIL_REFUSAL_STATE;
    } else if (g_str_equal(action, REPLY_ACTION_RETURN)) {
        if (!state_is(r, working))
            return MAIL_REFUSAL_STATE;
    } else if (g_str_equal(action, REPLY_ACTION_OPINION)) {
        if (!state_is(r, coordinated))
            return MAIL_REFUSAL_STATE;
    } else if (!state_is(r, submitted)) {
        return MAIL_REFUSAL_STATE; /* approve, sendback */
    }
    if (!recipient_holds_role(m))
        return MAIL_REFUSAL_AGENCY;

    if (g_str_equal(action, REPLY_ACTION_EXTEND))
        return extension_refusal(m, error, failed);
    gboolean needs_reason =
        g_str_equal(action, REPLY_ACTION_RETURN) || g_str_equal(action, REPLY_ACTION_SENDBACK);
    if (needs_reason && is_blank(m->text))
        return MAIL_REFUSAL_REASON;
    gboolean needs_content =
        g_str_equal(action, REPLY_ACTION_RESULT) || g_str_equal(action, REPLY_ACTION_OPINION);
    if (needs_content && is_blank(m->text) && !has_files)
        return MAIL_REFUSAL_EMPTY;
    return NULL;
}

/* the files of a mail whose action has no files of its own (an extension's notice, say):
 * kept with the report as notes */
static gboolean keep_files_as_notes(Mail *m, GError **error)
{
    return report_add_files(m->gw->store, m->report->id, m->raw_id, ATTACHMENT_NOTE,
                            m->draft->attachments, error);
}

/* the lifecycle's action with its letters (a savepoint of its own: refused, it leaves
 * nothing), by the address */
static gboolean perform(Mail *m, GError **error)
{
    const Config *c = m->gw->config;
    Store *s = m->gw->store;
    const char *actor = m->address->recipient;
    const char *action = m->address->action;
    gint64 id = m->report->id;
    const GPtrArray *files = m->draft->attachments;
    if (g_str_equal(action, REPLY_ACTION_RESULT))
        return lifecycle_letters_submit_result_files(c, s, actor, id, m->text, m->raw_id, files,
                                                     error);
    if (g_str_equal(action, REPLY_ACTION_OPINION))
        return lifecycle_letters_opinion(c, s, actor, id, m->coordinator, m->text, m->raw_id, files,
                                         error);
    gboolean ok = FALSE;
    if (g_str_equal(action, REPLY_ACTION_EXTEND))
        ok = lifecycle_letters_extend(c, s, actor, id, m->until, m->reason, error);
    else if (g_str_equal(action, REPLY_ACTION_RETURN))
        ok = lifecycle_letters_return(c, s, actor, id, m->text, error);
    else if (g_str_equal(action, REPLY_ACTION_SENDBACK))
        ok = lifecycle_letters_send_back(c, s, actor, id, m->text, error);
    else if (g_str_equal(action, REPLY_ACTION_APPROVE))
        /* the leader's words, whatever they are, are kept as a note (the approval needs none) */
        ok = lifecycle_letters_approve(c, s, actor, id, error) &&
             (is_blank(m->text) || event_add(s, id, actor, "note", m->text, error));
    return ok && keep_files_as_notes(m, error);
}

static gboolean refuse(Mail *m, const char *reason, const char *detail, gboolean rightful,
                       GError **error)
{
    const Draft *d = m->draft;
    const ActionAddress *a = m->address;
    g_autofree char *event = g_strdup_printf(
        "message %" G_GINT64_FORMAT " from %s to the %s address of %s: refused (%s)%s%s; "
        "nothing changed",
        m->raw_id, d->from_address ? d->from_address : "an unknown sender", a->action, a->recipient,
        reason, detail ? ": " : "", detail ? detail : "");
    log_notice("message %" G_GINT64_FORMAT " to the %s address of %s refused: %s", m->raw_id,
               a->action, m->report->code, reason);
    MailActionRefusal refusal = {
        .action = a->action,
        .reason = reason,
        .detail = detail,
        .sender = letters_answer_address(d),
        .rightful = rightful,
        .recipient = a->recipient,
        .offered_at = a->created_at,
        .used_at = a->used_at,
        .raw_id = m->raw_id,
        .message_id = d->message_id,
    };
    return event_add(m->gw->store, m->report->id, "pahtd", "mail_refused", event, error) &&
           mail_letters_refused(m->gw->config, m->gw->store, m->report->id, &refusal, error);
}

/* an address that acted already: the mail is kept as a note (its text and files), and
 * refused */
static gboolean refuse_used(Mail *m, GError **error)
{
    const ActionAddress *a = m->address;
    g_autofree char *used = clock_format_rfc3339(a->used_at, m->gw->config->calendar.zone);
    g_autofree char *note =
        g_strdup_printf("by mail to the %s address, which acted already (%s)%s%s", a->action, used,
                        is_blank(m->text) ? "" : ":\n\n", is_blank(m->text) ? "" : m->text);
    return event_add(m->gw->store, m->report->id, a->recipient, "note", note, error) &&
           keep_files_as_notes(m, error) && refuse(m, MAIL_REFUSAL_USED, NULL, TRUE, error);
}

/* the mail waits for the IOC, who confirms it (it then acts) or discards it */
static gboolean hold(Mail *m, const char *doubt, GError **error)
{
    const ActionAddress *a = m->address;
    g_autofree char *matched = g_strdup_printf("the %s address of %s", a->action, a->recipient);
    gint64 pending = 0;
    log_notice("message %" G_GINT64_FORMAT " to the %s address of %s waits for the IOC: the "
               "sender is not authenticated",
               m->raw_id, a->action, m->report->code);
    return pending_reply_add(m->gw->store, m->report->id, m->raw_id, m->draft->from_address,
                             matched, doubt, &pending, error) &&
           mail_letters_held(m->gw->config, m->gw->store, m->report->id, pending, a->action,
                             m->draft->from_address, doubt, error);
}

/* steps 3-7 of the file's comment, for a known address */
static gboolean decide_known(Mail *m, gboolean vouched, GError **error)
{
    const Draft *d = m->draft;
    const ActionAddress *a = m->address;
    g_autofree char *doubt = vouched ? NULL : sender_doubt(m->gw->config, d);
    if (doubt)
        return hold(m, doubt, error);
    if (!sent_by_recipient(d, a->recipient))
        return refuse(m, MAIL_REFUSAL_SENDER, NULL, FALSE, error);
    if (a->used_at)
        return refuse_used(m, error);
    if (m->received_at - a->created_at > (gint64)REPLY_ADDRESS_DAYS * 86400)
        return refuse(m, MAIL_REFUSAL_EXPIRED, NULL, TRUE, error);
    gboolean failed = FALSE;
    const char *refusal = action_refusal(m, error, &failed);
    if (failed)
        return FALSE;
    if (refusal)
        return refuse(m, refusal, NULL, TRUE, error);

    GError *refused = NULL;
    if (!perform(m, &refused)) {
        if (!g_error_matches(refused, PAHT_ERROR, PAHT_ERROR_REFUSED) &&
            !g_error_matches(refused, PAHT_ERROR, PAHT_ERROR_INPUT)) {
            g_propagate_error(error, refused);
            return FALSE;
        }
        /* a rule this file does not know of: the lifecycle's words go to the IOC */
        gboolean ok = refuse(m, MAIL_REFUSAL_OTHER, refused->message, TRUE, error);
        g_error_free(refused);
        return ok;
    }
    gboolean first = FALSE;
    if (!action_address_use(m->gw->store, a->id, m->raw_id, clock_now_unix(), &first, error))
        return FALSE;
    log_info("message %" G_GINT64_FORMAT ": %s of %s by mail from its %s address", m->raw_id,
             a->action, m->report->code, a->action);
    MailActionDone done = {
        .action = a->action,
        .actor = a->recipient,
        .raw_id = m->raw_id,
        .message_id = d->message_id,
        .files = d->attachments ? d->attachments->len : 0,
    };
    return mail_letters_done(m->gw->config, m->gw->store, m->report->id, &done, error);
}

/* an address of the right shape that the store does not know (a forged or mangled one) */
static gboolean refuse_unknown(Gateway *gw, gint64 raw_id, const Draft *d, const char *action,
                               GError **error)
{
    log_notice("message %" G_GINT64_FORMAT " is addressed to an unknown %s address: refused",
               raw_id, action);
    MailActionRefusal refusal = {
        .action = action,
        .reason = MAIL_REFUSAL_UNKNOWN,
        .sender = letters_answer_address(d),
        .raw_id = raw_id,
        .message_id = d->message_id,
    };
    return mail_letters_refused(gw->config, gw->store, 0, &refusal, error);
}

gboolean agency_mail_decide(Gateway *gw, gint64 raw_id, const Draft *d, gint64 received_at,
                            gboolean vouched, gint64 *report_id, gboolean *handled, GError **error)
{
    *report_id = 0;
    g_autofree char *action = NULL;
    g_auto(Mail) m = {.gw = gw, .raw_id = raw_id, .draft = d, .received_at = received_at};
    g_autoptr(ActionAddress) a = NULL;
    if (!load_action_address(gw, d, handled, &action, &a, error))
        return FALSE;
    if (!*handled)
        return TRUE;
    if (!a)
        return refuse_unknown(gw, raw_id, d, action, error);
    *report_id = a->report_id;
    m.address = a;
    m.report = report_load_id(gw->store, a->report_id, error);
    m.record = m.report ? lifecycle_record_load(gw->store, a->report_id, error) : NULL;
    if (!m.record)
        return FALSE;
    m.text = answer_text(d->text);
    return decide_known(&m, vouched, error);
}
