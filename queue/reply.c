/* Citizens' replies (SPEC §3.5): which report a message answers, and adding it to that
 * report; and the count of automatic answers per address behind the rate limit (SPEC §3.6). */
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

static gboolean fill_match(Store *store, gint64 id, const char *how, ReplyMatch *out,
                           GError **error)
{
    ReportKeys k = {0};
    if (!load_keys(store, id, &k, error))
        return FALSE;
    out->report_id = id;
    out->code = g_steal_pointer(&k.code);
    out->token = g_steal_pointer(&k.token);
    out->state = g_steal_pointer(&k.state);
    out->how = g_strdup(how);
    report_keys_clear(&k);
    return TRUE;
}

/* by a Message-ID: one of our letters to the report's citizen (an operator answering an IOC
 * alert, or an agency answering its assignment or a reminder, is not the citizen), or (from
 * the citizen only) their own report */
static gboolean match_message_id(Store *store, const Draft *draft, const char *id, const char *how,
                                 ReplyMatch *out, GError **error)
{
    gint64 report = 0;
    if (!query_id(store,
                  "SELECT o.report_id FROM outbox o JOIN report r ON r.id = o.report_id"
                  " WHERE o.message_id = ? AND o.rcpt = r.citizen_email COLLATE NOCASE"
                  " ORDER BY o.id DESC LIMIT 1",
                  id, &report, error))
        return FALSE;
    if (report > 0)
        return fill_match(store, report, how, out, error);
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
    return own ? fill_match(store, report, how, out, error) : TRUE;
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

gboolean reply_find_report(Store *store, const Draft *draft, const char *code_prefix,
                           const char *reply_to_pattern, ReplyMatch *out, GError **error)
{
    memset(out, 0, sizeof *out);
    /* 1. our own Message-IDs: the citizen's client answers one of our letters */
    if (draft->in_reply_to) {
        if (!match_message_id(store, draft, draft->in_reply_to, "In-Reply-To", out, error))
            return FALSE;
        if (out->report_id)
            return TRUE;
    }
    for (guint i = draft->references->len; i > 0; i--) {
        if (!match_message_id(store, draft, draft->references->pdata[i - 1], "References", out,
                              error))
            return FALSE;
        if (out->report_id)
            return TRUE;
    }
    /* 2. our reply token in a recipient address (Reply-To: paht+TOKEN@...) */
    for (guint i = 0; reply_to_pattern && i < draft->recipients->len; i++) {
        g_autofree char *token = token_from_address(reply_to_pattern, draft->recipients->pdata[i]);
        if (!token)
            continue;
        gint64 report = 0;
        if (!query_id(store, "SELECT id FROM report WHERE token = ?", token, &report, error))
            return FALSE;
        if (report > 0)
            return fill_match(store, report, "token", out, error);
    }
    /* 3. a tracking code in the subject, from the report's own citizen only */
    if (!code_prefix || !draft->subject)
        return TRUE;
    g_autofree char *escaped = g_regex_escape_string(code_prefix, -1);
    g_autofree char *pattern =
        g_strdup_printf("(?<![A-Za-z0-9])(%s-\\d{4}-\\d{6})(?![0-9])", escaped);
    g_autoptr(GRegex) re = g_regex_new(pattern, G_REGEX_CASELESS, 0, NULL);
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
            return fill_match(store, report, "tracking code", out, error);
        if (!out->refused_code)
            out->refused_code = g_steal_pointer(&code);
    }
    return TRUE;
}

/* ---- adding the reply ------------------------------------------------------------------------ */

static const char *first_set(const char *a, const char *b)
{
    return a && *a ? a : (b && *b ? b : NULL);
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
    if (!event_add(store, report_id, "citizen", "citizen_reply", detail, error))
        return FALSE;
    out->state_before = g_strdup(r->state);
    gint64 now = clock_now_unix();

    gboolean waiting = g_str_equal(r->state, "draft") || g_str_equal(r->state, "incomplete");
    if (!waiting) {
        sqlite3_stmt *stmt =
            store_statement(store, "UPDATE report SET updated_at = ?2 WHERE id = ?1", error);
        if (!stmt)
            return FALSE;
        sqlite3_bind_int64(stmt, 1, report_id);
        sqlite3_bind_int64(stmt, 2, now);
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

gboolean report_set_sender(Store *store, gint64 report_id, const char *address, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store, "UPDATE report SET sender = ?2 WHERE id = ?1", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    bind_text_or_null(stmt, 2, address);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "record the report's sender");
    return TRUE;
}

/* ---- automatic answers per address ------------------------------------------------------------
 */

gboolean outbox_count_to(Store *store, const char *rcpt, const char *const *kinds, gint64 since,
                         gint64 *count, GError **error)
{
    /* the kinds as ",ack,incomplete," so that one cached statement serves every list */
    GString *list = g_string_new(",");
    for (const char *const *k = kinds; k && *k; k++) {
        g_string_append(list, *k);
        g_string_append_c(list, ',');
    }
    sqlite3_stmt *stmt =
        store_statement(store,
                        "SELECT count(*) FROM outbox WHERE rcpt = ?1 COLLATE NOCASE"
                        " AND created_at >= ?2"
                        " AND instr(?3, ',' || kind || ',') > 0",
                        error);
    if (!stmt) {
        g_string_free(list, TRUE);
        return FALSE;
    }
    sqlite3_bind_text(stmt, 1, rcpt, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, since);
    sqlite3_bind_text(stmt, 3, list->str, -1, SQLITE_TRANSIENT);
    g_string_free(list, TRUE);
    int rc = sqlite3_step(stmt);
    *count = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW)
        return store_fail(store, error, "count letters");
    return TRUE;
}
