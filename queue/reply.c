/* Citizens' replies (SPEC §3.5): which report a message answers, how sure that is, and adding
 * it to that report; replies that wait for the IOC (pending supplements); and the count of
 * automatic answers behind the rate limits (SPEC §3.6). */
#include "queue/store_internal.h"
#include "util/util.h"

#include <string.h>

void reply_match_clear(ReplyMatch *m)
{
    g_clear_pointer(&m->code, g_free);
    g_clear_pointer(&m->token, g_free);
    g_clear_pointer(&m->state, g_free);
    g_clear_pointer(&m->how, g_free);
    g_clear_pointer(&m->refused_code, g_free);
    m->report_id = 0;
}

void reply_outcome_clear(ReplyOutcome *o)
{
    g_clear_pointer(&o->state_before, g_free);
    g_clear_pointer(&o->state_after, g_free);
    g_clear_pointer(&o->missing, g_strfreev);
    o->completed = FALSE;
}

/* ---- finding the report ---------------------------------------------------------------------- */

/* one id from a query with one text parameter; 0 when none */
static gboolean query_id(Store *store, const char *sql, const char *value, gint64 *id,
                         GError **error)
{
    *id = 0;
    sqlite3_stmt *stmt = store_statement(store, sql, error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, value, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(store, error, "look up report");
    return TRUE;
}

typedef struct {
    char *code, *token, *state, *citizen_email, *sender;
} ReportKeys;

static void report_keys_clear(ReportKeys *k)
{
    g_free(k->code);
    g_free(k->token);
    g_free(k->state);
    g_free(k->citizen_email);
    g_free(k->sender);
    memset(k, 0, sizeof *k);
}

static gboolean load_keys(Store *store, gint64 id, ReportKeys *k, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "SELECT code, token, state, citizen_email, sender FROM report WHERE id = ?", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, id);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        k->code = column_text(stmt, 0);
        k->token = column_text(stmt, 1);
        k->state = column_text(stmt, 2);
        k->citizen_email = column_text(stmt, 3);
        k->sender = column_text(stmt, 4);
    }
    sqlite3_reset(stmt);
    if (rc == SQLITE_DONE) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND, "no report %" G_GINT64_FORMAT, id);
        return FALSE;
    }
    if (rc != SQLITE_ROW)
        return store_fail(store, error, "load report");
    return TRUE;
}

/* the sender of the message is the report's citizen: the address that sent the report, or
 * the address the report gives for the citizen */
static gboolean sender_is_citizen(const Draft *draft, const ReportKeys *k)
{
    const char *from = draft->from_address;
    if (!from || !*from)
        return FALSE;
    return (k->sender && g_ascii_strcasecmp(from, k->sender) == 0) ||
           (k->citizen_email && g_ascii_strcasecmp(from, k->citizen_email) == 0);
}

static gboolean fill_match(Store *store, gint64 id, const char *how, gboolean proven,
                           ReplyMatch *out, GError **error)
{
    ReportKeys k = {0};
    if (!load_keys(store, id, &k, error))
        return FALSE;
    out->report_id = id;
    out->code = g_steal_pointer(&k.code);
    out->token = g_steal_pointer(&k.token);
    out->state = g_steal_pointer(&k.state);
    out->how = g_strdup(how);
    out->proven = proven;
    report_keys_clear(&k);
    return TRUE;
}

gboolean reply_match_report(Store *store, gint64 report_id, const char *how, ReplyMatch *out,
                            GError **error)
{
    memset(out, 0, sizeof *out);
    return fill_match(store, report_id, how, TRUE, out, error);
}

/* tries one Message-ID of In-Reply-To / References; sets out->report_id on a match */
typedef gboolean (*IdMatcher)(Store *store, const Draft *draft, const char *id, const char *how,
                              ReplyMatch *out, GError **error);

/* In-Reply-To, then References from the newest */
static gboolean match_ids(Store *store, const Draft *draft, IdMatcher matcher, ReplyMatch *out,
                          GError **error)
{
    if (draft->in_reply_to && !matcher(store, draft, draft->in_reply_to, "In-Reply-To", out, error))
        return FALSE;
    for (guint i = draft->references->len; i > 0 && !out->report_id; i--) {
        if (!matcher(store, draft, draft->references->pdata[i - 1], "References", out, error))
            return FALSE;
    }
    return TRUE;
}

/* One of our letters to the report's citizen (to the address the report came from, or the
 * one it gives): only its recipient knows its Message-ID (ours are random), so an answer
 * to it proves that the sender read it. An operator answering an IOC alert, or an agency
 * answering its assignment or a reminder, is not the citizen. */
static gboolean match_our_letter(Store *store, const Draft *draft, const char *id, const char *how,
                                 ReplyMatch *out, GError **error)
{
    gint64 report = 0;
    if (!query_id(store,
                  "SELECT o.report_id FROM outbox o JOIN report r ON r.id = o.report_id"
                  " WHERE o.message_id = ?1 AND (o.rcpt = r.citizen_email COLLATE NOCASE"
                  " OR o.rcpt = r.sender COLLATE NOCASE)"
                  " ORDER BY o.id DESC LIMIT 1",
                  id, &report, error))
        return FALSE;
    return report <= 0 || fill_match(store, report, how, TRUE, out, error);
}

/* the citizen's own report, answered from the citizen's address: the thread is theirs, but
 * the From address proves nothing */
static gboolean match_own_message(Store *store, const Draft *draft, const char *id, const char *how,
                                  ReplyMatch *out, GError **error)
{
    gint64 report = 0;
    if (!query_id(store, "SELECT id FROM report WHERE message_id = ? ORDER BY id LIMIT 1", id,
                  &report, error))
        return FALSE;
    if (report <= 0)
        return TRUE;
    ReportKeys k = {0};
    if (!load_keys(store, report, &k, error))
        return FALSE;
    gboolean own = sender_is_citizen(draft, &k);
    report_keys_clear(&k);
    g_autofree char *own_how = g_strdup_printf("%s of the citizen's own message", how);
    return !own || fill_match(store, report, own_how, FALSE, out, error);
}

/* "paht+{token}@soctrang.gov.vn" and "Paht+3F9A@SocTrang.gov.vn" -> "3f9a" */
static char *token_from_address(const char *pattern, const char *address)
{
    const char *mark = strstr(pattern, "{token}");
    if (!mark || !address)
        return NULL;
    gsize prefix = (gsize)(mark - pattern);
    const char *suffix = mark + strlen("{token}");
    gsize suffix_len = strlen(suffix), n = strlen(address);
    if (n <= prefix + suffix_len || g_ascii_strncasecmp(address, pattern, prefix) != 0 ||
        g_ascii_strcasecmp(address + n - suffix_len, suffix) != 0)
        return NULL;
    g_autofree char *token = g_ascii_strdown(address + prefix, (gssize)(n - prefix - suffix_len));
    if (strlen(token) > 64)
        return NULL;
    for (const char *p = token; *p; p++) {
        if (!g_ascii_isxdigit(*p))
            return NULL;
    }
    return g_steal_pointer(&token);
}

/* our reply token in a recipient address (Reply-To: paht+TOKEN@...): the token is random and
 * only our letters to the citizen carry it */
static gboolean match_token(Store *store, const Draft *draft, const char *reply_to_pattern,
                            ReplyMatch *out, GError **error)
{
    for (guint i = 0; reply_to_pattern && i < draft->recipients->len; i++) {
        g_autofree char *token = token_from_address(reply_to_pattern, draft->recipients->pdata[i]);
        if (!token)
            continue;
        gint64 report = 0;
        if (!query_id(store, "SELECT id FROM report WHERE token = ?", token, &report, error))
            return FALSE;
        if (report > 0)
            return fill_match(store, report, "token", TRUE, out, error);
    }
    return TRUE;
}

/* a tracking code in the subject, from the report's own citizen only: codes are sequential
 * and agencies see citizens' addresses, so this proves nothing either */
static gboolean match_code(Store *store, const Draft *draft, const char *code_prefix,
                           ReplyMatch *out, GError **error)
{
    if (!code_prefix || !draft->subject)
        return TRUE;
    g_autofree char *escaped = g_regex_escape_string(code_prefix, -1);
    g_autofree char *pattern =
        g_strdup_printf("(?<![A-Za-z0-9])(%s-\\d{4}-\\d{6})(?![0-9])", escaped);
    g_autoptr(GRegex) re = regex_kept(pattern, G_REGEX_CASELESS);
    g_autoptr(GMatchInfo) m = NULL;
    gboolean found = re && g_regex_match(re, draft->subject, 0, &m);
    for (; found; found = g_match_info_next(m, NULL)) {
        g_autofree char *written = g_match_info_fetch(m, 1);
        g_autofree char *code = g_ascii_strup(written, -1);
        gint64 report = 0;
        if (!query_id(store, "SELECT id FROM report WHERE code = ?", code, &report, error))
            return FALSE;
        if (report <= 0)
            continue;
        ReportKeys k = {0};
        if (!load_keys(store, report, &k, error))
            return FALSE;
        gboolean own = sender_is_citizen(draft, &k);
        report_keys_clear(&k);
        if (own)
            return fill_match(store, report, "tracking code", FALSE, out, error);
        if (!out->refused_code)
            out->refused_code = g_steal_pointer(&code);
    }
    return TRUE;
}

gboolean reply_find_report(Store *store, const Draft *draft, const char *code_prefix,
                           const char *reply_to_pattern, ReplyMatch *out, GError **error)
{
    memset(out, 0, sizeof *out);
    /* 1. proof that the sender got our letter: its Message-ID, or the token of its Reply-To */
    if (!match_ids(store, draft, match_our_letter, out, error))
        return FALSE;
    if (!out->report_id && !match_token(store, draft, reply_to_pattern, out, error))
        return FALSE;
    /* 2. only the (forgeable) sender: their own message's thread, a tracking code */
    if (!out->report_id && !match_ids(store, draft, match_own_message, out, error))
        return FALSE;
    if (!out->report_id && !match_code(store, draft, code_prefix, out, error))
        return FALSE;
    return TRUE;
}

/* ---- adding the reply ------------------------------------------------------------------------ */

static const char *first_set(const char *a, const char *b)
{
    return a && *a ? a : (b && *b ? b : NULL);
}

/* Events naming the rule that made a reply change what its report is (issue 11): a request
 * for secrecy (Điều 9.3.b) that makes it confidential, and an emergency (Điều 8.6). parse
 * writes the confidentiality rule after "; confidential: " in draft->rule. */
static gboolean note_what_fired(Store *store, const Report *r, const Draft *draft, GError **error)
{
    const char *rule = draft->rule ? draft->rule : "?";
    if (draft->confidential && !r->confidential) {
        const char *mark = strstr(rule, "confidential: ");
        g_autofree char *detail =
            g_strdup_printf("the citizen's reply asks for secrecy (Điều 9.3.b): %s",
                            mark ? mark + strlen("confidential: ") : rule);
        if (!event_add(store, r->id, "pahtd", "confidential", detail, error))
            return FALSE;
    }
    if (g_strcmp0(draft->classification, CLASSIFICATION_EMERGENCY) == 0) {
        g_autofree char *emergency = g_strdup(rule);
        char *cut = strstr(emergency, "; confidential: ");
        if (cut)
            *cut = '\0';
        g_autofree char *detail =
            g_strdup_printf("the citizen's reply reports an emergency (Điều 8.6): %s", emergency);
        if (!event_add(store, r->id, "pahtd", "emergency", detail, error))
            return FALSE;
    }
    return TRUE;
}

gboolean reply_add_to_report(Store *store, gint64 report_id, const Draft *draft, gint64 raw_id,
                             const char *how, ReplyOutcome *out, GError **error)
{
    memset(out, 0, sizeof *out);
    g_autoptr(Report) r = report_load_id(store, report_id, error);
    if (!r)
        return FALSE;
    for (guint i = 0; i < draft->attachments->len; i++) {
        if (!store_attachment_insert(store, report_id, raw_id, draft->attachments->pdata[i], error))
            return FALSE;
    }
    const char *text = draft->text && *draft->text ? draft->text : NULL;
    g_autofree char *detail = g_strdup_printf("matched by %s%s%s", how ? how : "reply",
                                              text ? "\n\n" : "", text ? text : "");
    if (!event_add(store, report_id, "citizen", "citizen_reply", detail, error) ||
        !note_what_fired(store, r, draft, error))
        return FALSE;
    out->state_before = g_strdup(r->state);
    gint64 now = clock_now_unix();

    gboolean waiting = g_str_equal(r->state, "draft") || g_str_equal(r->state, "incomplete");
    if (!waiting) {
        /* a request for secrecy holds whenever it comes: it only ever restricts */
        sqlite3_stmt *stmt = store_statement(store,
                                             "UPDATE report SET updated_at = ?2,"
                                             " confidential = confidential OR ?3 WHERE id = ?1",
                                             error);
        if (!stmt)
            return FALSE;
        sqlite3_bind_int64(stmt, 1, report_id);
        sqlite3_bind_int64(stmt, 2, now);
        sqlite3_bind_int(stmt, 3, draft->confidential ? 1 : 0);
        int rc = sqlite3_step(stmt);
        sqlite3_reset(stmt);
        if (rc != SQLITE_DONE)
            return store_fail(store, error, "update report");
        out->state_after = g_strdup(r->state);
        out->missing = g_strdupv(r->missing);
        return TRUE;
    }

    /* what the report had wins; the reply fills the gaps (Điều 7.1: the citizen completes) */
    Draft merged = {0};
    merged.citizen.name = (char *)first_set(r->citizen.name, draft->citizen.name);
    merged.citizen.address = (char *)first_set(r->citizen.address, draft->citizen.address);
    merged.citizen.id_number = (char *)first_set(r->citizen.id_number, draft->citizen.id_number);
    merged.citizen.phone = (char *)first_set(r->citizen.phone, draft->citizen.phone);
    merged.citizen.email = (char *)first_set(r->citizen.email, draft->citizen.email);
    merged.location = r->location.has_coordinates ? r->location : draft->location;
    merged.location.text = (char *)first_set(r->location.text, draft->location.text);
    const char *occurred = first_set(r->occurred_at, draft->occurred_at);
    g_auto(GStrv) missing = draft_missing_fields(&merged);
    g_autofree char *missing_text = g_strjoinv(",", missing);
    const char *state = g_str_equal(r->state, "incomplete") && !missing[0] ? "draft" : r->state;
    g_autofree char *body = NULL;
    if (text)
        body = g_strdup_printf("%s%s[Thư bổ sung của người phản ánh]\n%s", r->text ? r->text : "",
                               r->text && *r->text ? "\n\n" : "", text);

    sqlite3_stmt *stmt = store_statement(
        store,
        "UPDATE report SET citizen_name = ?2, citizen_address = ?3, citizen_id_number = ?4,"
        " citizen_phone = ?5, citizen_email = ?6, location_text = ?7, location_lat = ?8,"
        " location_lon = ?9, occurred_at = ?10, confidential = confidential OR ?11,"
        " body = COALESCE(?12, body), missing = ?13, state = ?14, updated_at = ?15"
        " WHERE id = ?1",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    bind_text_or_null(stmt, 2, merged.citizen.name);
    bind_text_or_null(stmt, 3, merged.citizen.address);
    bind_text_or_null(stmt, 4, merged.citizen.id_number);
    bind_text_or_null(stmt, 5, merged.citizen.phone);
    bind_text_or_null(stmt, 6, merged.citizen.email);
    bind_text_or_null(stmt, 7, merged.location.text);
    if (merged.location.has_coordinates) {
        sqlite3_bind_double(stmt, 8, merged.location.lat);
        sqlite3_bind_double(stmt, 9, merged.location.lon);
    }
    bind_text_or_null(stmt, 10, occurred);
    sqlite3_bind_int(stmt, 11, draft->confidential ? 1 : 0);
    bind_text_or_null(stmt, 12, body);
    sqlite3_bind_text(stmt, 13, missing_text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 14, state, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 15, now);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "merge reply into report");
    out->completed = g_str_equal(r->state, "incomplete") && g_str_equal(state, "draft");
    if (out->completed && !event_add(store, report_id, "citizen", "completed",
                                     "the missing details came with the citizen's reply", error))
        return FALSE;
    out->state_after = g_strdup(state);
    out->missing = g_steal_pointer(&missing);
    return TRUE;
}

/* ---- replies waiting for the IOC -------------------------------------------------------------
 */

void pending_reply_free(PendingReply *p)
{
    if (!p)
        return;
    g_free(p->sender);
    g_free(p->matched_by);
    g_free(p->reason);
    g_free(p->state);
    g_free(p->decided_by);
    g_free(p);
}

gboolean pending_reply_add(Store *store, gint64 report_id, gint64 raw_id, const char *sender,
                           const char *matched_by, const char *reason, gint64 *id_out,
                           GError **error)
{
    sqlite3_stmt *stmt = store_statement(store,
                                         "INSERT INTO pending_reply(report_id, raw_id, sender,"
                                         " matched_by, reason, created_at)"
                                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                         error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    sqlite3_bind_int64(stmt, 2, raw_id);
    bind_text_or_null(stmt, 3, sender);
    sqlite3_bind_text(stmt, 4, matched_by ? matched_by : "?", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 5, reason ? reason : "?", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 6, clock_now_unix());
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "record a pending supplement");
    gint64 id = sqlite3_last_insert_rowid(store->db);
    if (id_out)
        *id_out = id;
    g_autofree char *detail = g_strdup_printf(
        "supplement %" G_GINT64_FORMAT " (message %" G_GINT64_FORMAT ") from %s waits for the "
        "IOC: %s; matched by %s. Not added to the report until confirmed "
        "(pahtctl supplement %" G_GINT64_FORMAT " --confirm, or --discard)",
        id, raw_id, sender ? sender : "an unknown sender", reason, matched_by, id);
    return event_add(store, report_id, "pahtd", "supplement_pending", detail, error);
}

#define PENDING_COLUMNS                                                                            \
    "id, report_id, raw_id, sender, matched_by, reason, state, created_at, decided_at,"            \
    " decided_by"

static PendingReply *pending_from_row(sqlite3_stmt *stmt)
{
    PendingReply *p = g_new0(PendingReply, 1);
    p->id = sqlite3_column_int64(stmt, 0);
    p->report_id = sqlite3_column_int64(stmt, 1);
    p->raw_id = sqlite3_column_int64(stmt, 2);
    p->sender = column_text(stmt, 3);
    p->matched_by = column_text(stmt, 4);
    p->reason = column_text(stmt, 5);
    p->state = column_text(stmt, 6);
    p->created_at = sqlite3_column_int64(stmt, 7);
    p->decided_at = sqlite3_column_int64(stmt, 8);
    p->decided_by = column_text(stmt, 9);
    return p;
}

PendingReply *pending_reply_get(Store *store, gint64 id, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store, "SELECT " PENDING_COLUMNS " FROM pending_reply WHERE id = ?", error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, id);
    int rc = sqlite3_step(stmt);
    PendingReply *p = rc == SQLITE_ROW ? pending_from_row(stmt) : NULL;
    sqlite3_reset(stmt);
    if (rc == SQLITE_DONE)
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND,
                    "no pending supplement %" G_GINT64_FORMAT, id);
    else if (rc != SQLITE_ROW)
        store_fail(store, error, "load a pending supplement");
    return p;
}

GPtrArray *pending_reply_list(Store *store, gint64 report_id, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "SELECT " PENDING_COLUMNS " FROM pending_reply WHERE report_id = ? ORDER BY id",
        error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, report_id);
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)pending_reply_free);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        g_ptr_array_add(list, pending_from_row(stmt));
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        g_ptr_array_unref(list);
        store_fail(store, error, "list pending supplements");
        return NULL;
    }
    return list;
}

gboolean pending_reply_is_open(const PendingReply *p, GError **error)
{
    if (g_str_equal(p->state, "pending"))
        return TRUE;
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                "supplement %" G_GINT64_FORMAT " was %s already", p->id, p->state);
    return FALSE;
}

gboolean pending_reply_decide(Store *store, gint64 id, gboolean confirm, const char *actor,
                              GError **error)
{
    g_autoptr(PendingReply) p = pending_reply_get(store, id, error);
    if (!p || !pending_reply_is_open(p, error))
        return FALSE;
    const char *state = confirm ? "confirmed" : "discarded";
    sqlite3_stmt *stmt = store_statement(store,
                                         "UPDATE pending_reply SET state = ?2, decided_at = ?3,"
                                         " decided_by = ?4 WHERE id = ?1 AND state = 'pending'",
                                         error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_text(stmt, 2, state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, clock_now_unix());
    bind_text_or_null(stmt, 4, actor);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "decide a pending supplement");
    g_autofree char *detail = g_strdup_printf(
        "supplement %" G_GINT64_FORMAT " (message %" G_GINT64_FORMAT ") from %s %s", id, p->raw_id,
        p->sender ? p->sender : "an unknown sender",
        confirm ? "confirmed: added to the report" : "discarded: not added to the report");
    return event_add(store, p->report_id, actor && *actor ? actor : "pahtctl",
                     confirm ? "supplement_confirmed" : "supplement_discarded", detail, error);
}

gboolean report_sender(Store *store, gint64 report_id, char **address, GError **error)
{
    *address = NULL;
    ReportKeys k = {0};
    if (!load_keys(store, report_id, &k, error))
        return FALSE;
    *address = g_steal_pointer(&k.sender);
    report_keys_clear(&k);
    return TRUE;
}

/* ---- automatic answers, counted (SPEC §3.6) ---------------------------------------------------
 */

static gboolean count_since(Store *store, const char *sql, const char *key, gint64 since,
                            gint64 *count, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store, sql, error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, since);
    if (key)
        sqlite3_bind_text(stmt, 2, key, -1, SQLITE_TRANSIENT);
    return store_step_int64(store, stmt, count, "count automatic answers", error);
}

gboolean auto_answer_count(Store *store, const char *address, gint64 now, AutoAnswerCounts *out,
                           GError **error)
{
    memset(out, 0, sizeof *out);
    g_autofree char *domain = NULL;
    g_autofree char *mailbox = address_normalise(address, &domain);
    if (mailbox &&
        (!count_since(store, "SELECT count(*) FROM auto_answer WHERE at >= ?1 AND mailbox = ?2",
                      mailbox, now - 24 * 3600, &out->mailbox_day, error) ||
         !count_since(store, "SELECT count(*) FROM auto_answer WHERE at >= ?1 AND domain = ?2",
                      domain, now - 3600, &out->domain_hour, error)))
        return FALSE;
    return count_since(store, "SELECT count(*) FROM auto_answer WHERE at >= ?1", NULL, now - 3600,
                       &out->total_hour, error);
}

gboolean auto_answer_record(Store *store, gint64 outbox_id, const char *address, gint64 at,
                            GError **error)
{
    g_autofree char *domain = NULL;
    g_autofree char *mailbox = address_normalise(address, &domain);
    if (!mailbox)
        return TRUE; /* nothing to count it by: such an address gets no letter */
    sqlite3_stmt *stmt = store_statement(store,
                                         "INSERT INTO auto_answer(outbox_id, mailbox, domain, at)"
                                         " VALUES (?1, ?2, ?3, ?4)",
                                         error);
    if (!stmt)
        return FALSE;
    if (outbox_id > 0)
        sqlite3_bind_int64(stmt, 1, outbox_id);
    sqlite3_bind_text(stmt, 2, mailbox, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, domain, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 4, at);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "count an automatic answer");
    return TRUE;
}
