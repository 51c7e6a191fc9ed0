/* What the console (pahtweb, issue 13) reads and writes of reports beyond the lifecycle: the
 * queue of each user, the parser's warnings, the deadlines with their status, corrections of
 * fields, duplicates, the files of a result, the audit trail, and the figures of the health
 * page. Transitions stay in lifecycle.c; a correction or a duplicate link is recorded here
 * with its events, in the caller's transaction where it is one step of an action. */
#include "queue/store_internal.h"
#include "util/util.h"

#include <string.h>

/* ---- the queue -------------------------------------------------------------------------------
 */

void report_list_item_free(ReportListItem *item)
{
    if (!item)
        return;
    g_free(item->code);
    g_free(item->state);
    g_free(item->classification);
    g_free(item->subject);
    g_free(item->citizen_name);
    g_free(item->citizen_email);
    g_free(item->agency);
    g_free(item->due_name);
    g_strfreev(item->missing);
    g_free(item);
}

/* One WHERE for the page and its count. Parameters: ?1 states (JSON array or NULL), ?2 agency,
 * ?3 main agency only, ?4 flag, ?5 the search's FTS5 query (queue/search.c), ?6 its phone
 * digits pattern, ?7 deadline owners (JSON array or NULL), ?8 now, ?11 the user sees no citizen of
 * a confidential report: such a report is found by its code alone (Điều 9.3.b), not by a name, a
 * phone or a word of its text. */
#define QUEUE_DUE(what)                                                                            \
    "(SELECT " what " FROM deadline d WHERE d.report_id = r.id AND d.status = 'open'"              \
    " AND (?7 IS NULL OR d.owner IN (SELECT value FROM json_each(?7))) ORDER BY d.due LIMIT 1)"
#define QUEUE_STRANGER                                                                             \
    "EXISTS (SELECT 1 FROM event e WHERE e.report_id = r.id AND e.kind = 'code_not_joined')"
/* QUEUE_WHERE(states): states is QUEUE_STATES or QUEUE_ANY_STATE. Two texts, not "?1 IS NULL
 * OR ...": an OR keeps SQLite from the index on state, and the IOC's queue of a few hundred
 * open reports would read the 100,000 closed ones too (bench/run web). */
#define QUEUE_STATES    " r.state IN (SELECT value FROM json_each(?1))"
#define QUEUE_ANY_STATE " ?1 IS NULL"
// clang-format off
#define QUEUE_WHERE(states)                                                                        \
    states                                                                                         \
    " AND (?2 IS NULL OR r.agency = ?2 OR (NOT ?3 AND"                                             \
    "  instr(',' || r.coordinators || ',', ',' || ?2 || ',') > 0))"                                \
    " AND (?4 IS NULL"                                                                             \
    "  OR (?4 = 'emergency' AND r.classification = 'emergency')"                                   \
    "  OR (?4 = 'complaint' AND r.classification = 'complaint')"                                   \
    "  OR (?4 = 'confidential' AND r.confidential)"                                                \
    "  OR (?4 = 'stranger' AND " QUEUE_STRANGER ")"                                                \
    "  OR (?4 = 'overdue' AND (r.overdue OR " QUEUE_DUE("d.due") " <= ?8)))"                       \
    " AND (?5 IS NULL"                                                                             \
    "  OR (r.id IN (SELECT rowid FROM report_search WHERE report_search MATCH ?5)"                 \
    "   AND NOT (?11 AND r.confidential))"                                                         \
    "  OR (?11 AND r.confidential AND r.id IN (SELECT rowid FROM report_search"                    \
    "   WHERE report_search MATCH '{code} : (' || ?5 || ')'))"                                     \
    "  OR (?6 IS NOT NULL AND r.citizen_phone LIKE ?6 AND NOT (?11 AND r.confidential)))"
// clang-format on

#define QUEUE_PAGE_SQL(states)                                                                     \
    "SELECT r.id, r.code, r.state, r.classification, r.subject, r.citizen_name,"                   \
    " r.citizen_email, r.agency, r.received_at, r.overdue, r.confidential, r.missing,"             \
    " (SELECT count(*) FROM attachment a WHERE a.report_id = r.id), " QUEUE_STRANGER ","           \
    " " QUEUE_DUE("d.name") ", " QUEUE_DUE(                                                        \
        "d.due") " AS due"                                                                         \
                 " FROM report r WHERE" QUEUE_WHERE(                                               \
                     states) " ORDER BY due IS NULL, due, r.received_at, r.id LIMIT ?9 OFFSET ?10"
#define QUEUE_COUNT_SQL(states) "SELECT count(*) FROM report r WHERE" QUEUE_WHERE(states)

static const char queue_page_sql[] = QUEUE_PAGE_SQL(QUEUE_STATES);
static const char queue_page_any_sql[] = QUEUE_PAGE_SQL(QUEUE_ANY_STATE);
static const char queue_count_sql[] = QUEUE_COUNT_SQL(QUEUE_STATES);
static const char queue_count_any_sql[] = QUEUE_COUNT_SQL(QUEUE_ANY_STATE);

/* a JSON array of strv, or NULL for NULL */
static char *json_strv(const char *const *values)
{
    if (!values)
        return NULL;
    GString *s = g_string_new("[");
    for (const char *const *v = values; *v; v++) {
        g_string_append_printf(s, "%s\"", v == values ? "" : ",");
        for (const char *p = *v; *p; p++) {
            if (*p == '"' || *p == '\\')
                g_string_append_c(s, '\\');
            if ((guchar)*p >= 0x20)
                g_string_append_c(s, *p);
        }
        g_string_append_c(s, '"');
    }
    g_string_append_c(s, ']');
    return g_string_free(s, FALSE);
}

/* the digits of a search that looks like a phone number, in national form, as a pattern */
static char *phone_pattern(const char *text)
{
    GString *digits = g_string_new(NULL);
    for (const char *p = text; *p; p++) {
        if (g_ascii_isdigit(*p))
            g_string_append_c(digits, *p);
        else if (!strchr(" .-()+", *p)) {
            g_string_free(digits, TRUE);
            return NULL;
        }
    }
    if (digits->len < 4) {
        g_string_free(digits, TRUE);
        return NULL;
    }
    /* "+84 912 ..." is stored "0912..." (SPEC §3.4) */
    if (g_str_has_prefix(digits->str, "84") && digits->len >= 11) {
        g_string_erase(digits, 0, 2);
        g_string_prepend_c(digits, '0');
    }
    char *pattern = g_strdup_printf("%%%s%%", digits->str);
    g_string_free(digits, TRUE);
    return pattern;
}

typedef struct {
    char *states, *owners, *match, *phone;
    gboolean searching;
} QueryText;

static void query_text_clear(QueryText *q)
{
    g_free(q->states);
    g_free(q->owners);
    g_free(q->match);
    g_free(q->phone);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(QueryText, query_text_clear)

static void bind_query(sqlite3_stmt *stmt, const ReportQuery *q, const QueryText *t)
{
    bind_text_or_null(stmt, 1, t->states);
    bind_text_or_null(stmt, 2, q->agency);
    sqlite3_bind_int(stmt, 3, q->main_agency_only ? 1 : 0);
    bind_text_or_null(stmt, 4, q->flag);
    /* a search with no word FTS5 can match ("%%") matches nothing; none at all, everything */
    bind_text_or_null(stmt, 5, t->match ? t->match : t->searching ? "\"\"" : NULL);
    bind_text_or_null(stmt, 6, t->phone);
    bind_text_or_null(stmt, 7, t->owners);
    sqlite3_bind_int64(stmt, 8, q->now);
    sqlite3_bind_int(stmt, 11, q->search_redacted ? 1 : 0);
}

static char **split_commas(const char *text)
{
    if (!text || !*text)
        return g_new0(char *, 1);
    return g_strsplit(text, ",", -1);
}

static gpointer list_item_from_row(sqlite3_stmt *stmt)
{
    ReportListItem *item = g_new0(ReportListItem, 1);
    item->id = sqlite3_column_int64(stmt, 0);
    item->code = column_text(stmt, 1);
    item->state = column_text(stmt, 2);
    item->classification = column_text(stmt, 3);
    item->subject = column_text(stmt, 4);
    item->citizen_name = column_text(stmt, 5);
    item->citizen_email = column_text(stmt, 6);
    item->agency = column_text(stmt, 7);
    item->received_at = sqlite3_column_int64(stmt, 8);
    item->overdue = sqlite3_column_int(stmt, 9) != 0;
    item->confidential = sqlite3_column_int(stmt, 10) != 0;
    item->missing = split_commas((const char *)sqlite3_column_text(stmt, 11));
    item->n_attachments = sqlite3_column_int(stmt, 12);
    item->stranger = sqlite3_column_int(stmt, 13) != 0;
    item->due_name = column_text(stmt, 14);
    item->due = sqlite3_column_int64(stmt, 15);
    return item;
}

static gboolean query_count(Store *store, const ReportQuery *q, const QueryText *t, int *total,
                            GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store, t->states ? queue_count_sql : queue_count_any_sql, error);
    if (!stmt)
        return FALSE;
    bind_query(stmt, q, t);
    int rc = sqlite3_step(stmt);
    *total = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : 0;
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW)
        return store_fail(store, error, "count the queue");
    return TRUE;
}

GPtrArray *report_query(Store *store, const ReportQuery *q, int *total, GError **error)
{
    gboolean searching = q->search && *q->search;
    g_auto(QueryText) t = {
        .states = json_strv(q->states),
        .owners = json_strv(q->owners),
        .match = searching ? search_match_query(q->search) : NULL,
        .phone = searching ? phone_pattern(q->search) : NULL,
        .searching = searching,
    };
    /* the reports made since the index last caught up are found too */
    if (t.match && !report_search_catch_up(store, error))
        return NULL;
    if (total && !query_count(store, q, &t, total, error))
        return NULL;
    sqlite3_stmt *stmt =
        store_statement(store, t.states ? queue_page_sql : queue_page_any_sql, error);
    if (!stmt)
        return NULL;
    bind_query(stmt, q, &t);
    sqlite3_bind_int(stmt, 9, q->limit > 0 ? q->limit : 50);
    sqlite3_bind_int(stmt, 10, MAX(q->offset, 0));
    return store_collect_rows(store, stmt, (StoreRowReader)list_item_from_row,
                              (GDestroyNotify)report_list_item_free, "read the queue", error);
}

gboolean store_version(Store *store, StoreVersion *out, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store, "PRAGMA data_version", error);
    if (!stmt || !store_step_int64(store, stmt, &out->data_version, "read the data version", error))
        return FALSE;
    out->own_changes = sqlite3_total_changes64(store->db);
    return TRUE;
}

gboolean deadline_next_due(Store *store, gint64 now, gint64 *due, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "SELECT coalesce(min(due), 0) FROM deadline WHERE status = 'open' AND due > ?",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, now);
    return store_step_int64(store, stmt, due, "read the next deadline", error);
}

/* ---- warnings and deadlines ------------------------------------------------------------------
 */

gboolean report_warnings_add(Store *store, gint64 report_id, const GPtrArray *warnings,
                             GError **error)
{
    for (guint i = 0; warnings && i < warnings->len; i++) {
        sqlite3_stmt *stmt = store_statement(
            store, "INSERT INTO report_warning(report_id, seq, text) VALUES (?, ?, ?)", error);
        if (!stmt)
            return FALSE;
        sqlite3_bind_int64(stmt, 1, report_id);
        sqlite3_bind_int(stmt, 2, (int)i);
        sqlite3_bind_text(stmt, 3, g_ptr_array_index(warnings, i), -1, SQLITE_TRANSIENT);
        if (!store_step_done(store, stmt, "record warning", error))
            return FALSE;
    }
    return TRUE;
}

char **report_warnings(Store *store, gint64 report_id, GError **error)
{
    GPtrArray *list =
        store_report_rows(store, "SELECT text FROM report_warning WHERE report_id = ? ORDER BY seq",
                          report_id, store_row_first_text, g_free, "read warnings", error);
    if (!list)
        return NULL;
    g_ptr_array_set_free_func(list, NULL);
    g_ptr_array_add(list, NULL);
    return (char **)g_ptr_array_free(list, FALSE);
}

void deadline_info_free(DeadlineInfo *info)
{
    if (!info)
        return;
    g_free(info->name);
    g_free(info->owner);
    g_free(info->status);
    g_free(info);
}

static gpointer deadline_from_row(sqlite3_stmt *stmt)
{
    DeadlineInfo *d = g_new0(DeadlineInfo, 1);
    d->name = column_text(stmt, 0);
    d->owner = column_text(stmt, 1);
    d->status = column_text(stmt, 2);
    d->due = sqlite3_column_int64(stmt, 3);
    d->set_at = sqlite3_column_int64(stmt, 4);
    d->closed_at = sqlite3_column_int64(stmt, 5);
    return d;
}

GPtrArray *report_deadlines(Store *store, gint64 report_id, GError **error)
{
    return store_report_rows(store,
                             "SELECT name, owner, status, due, set_at, coalesce(closed_at, 0)"
                             " FROM deadline WHERE report_id = ? ORDER BY due, name",
                             report_id, deadline_from_row, (GDestroyNotify)deadline_info_free,
                             "read deadlines", error);
}

/* ---- result files ----------------------------------------------------------------------------
 */

void result_file_free(ResultFile *f)
{
    if (!f)
        return;
    g_free(f->filename);
    g_free(f->content_type);
    g_free(f->sha256);
    g_free(f->path);
    g_free(f->uploaded_by);
    g_free(f);
}

gboolean result_file_add(Store *store, const ResultFile *f, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store,
        "INSERT INTO result_file(report_id, filename, content_type, size, sha256, path,"
        " uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, f->report_id);
    sqlite3_bind_text(stmt, 2, f->filename, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, f->content_type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 4, f->size);
    sqlite3_bind_text(stmt, 5, f->sha256, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 6, f->path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 7, f->uploaded_by, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 8, clock_now_unix());
    return store_step_done(store, stmt, "record result file", error);
}

static gpointer result_file_from_row(sqlite3_stmt *stmt)
{
    ResultFile *f = g_new0(ResultFile, 1);
    f->id = sqlite3_column_int64(stmt, 0);
    f->report_id = sqlite3_column_int64(stmt, 1);
    f->filename = column_text(stmt, 2);
    f->content_type = column_text(stmt, 3);
    f->sha256 = column_text(stmt, 4);
    f->path = column_text(stmt, 5);
    f->uploaded_by = column_text(stmt, 6);
    f->size = sqlite3_column_int64(stmt, 7);
    f->uploaded_at = sqlite3_column_int64(stmt, 8);
    return f;
}

GPtrArray *result_file_list(Store *store, gint64 report_id, GError **error)
{
    return store_report_rows(store,
                             "SELECT id, report_id, filename, content_type, sha256, path,"
                             " uploaded_by, size, uploaded_at FROM result_file WHERE report_id = ?"
                             " ORDER BY id",
                             report_id, result_file_from_row, (GDestroyNotify)result_file_free,
                             "read result files", error);
}

GArray *outbox_ids_after(Store *store, gint64 report_id, gint64 after_id, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "SELECT id FROM outbox WHERE report_id = ? AND id > ? ORDER BY id", error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, report_id);
    sqlite3_bind_int64(stmt, 2, after_id);
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(gint64));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        gint64 id = sqlite3_column_int64(stmt, 0);
        g_array_append_val(ids, id);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        g_array_unref(ids);
        store_fail(store, error, "list letters");
        return NULL;
    }
    return ids;
}

/* ---- audit -----------------------------------------------------------------------------------
 */

void audit_entry_free(AuditEntry *e)
{
    if (!e)
        return;
    g_free(e->actor);
    g_free(e->kind);
    g_free(e->detail);
    g_free(e->code);
    g_free(e->login);
    g_free(e);
}

static gpointer audit_from_row(sqlite3_stmt *stmt)
{
    AuditEntry *e = g_new0(AuditEntry, 1);
    e->at = sqlite3_column_int64(stmt, 0);
    e->actor = column_text(stmt, 1);
    e->kind = column_text(stmt, 2);
    e->detail = column_text(stmt, 3);
    e->code = column_text(stmt, 4);
    e->login = column_text(stmt, 5);
    return e;
}

GPtrArray *audit_list(Store *store, gint64 from, gint64 to, const char *actor, gint64 report_id,
                      int limit, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store,
                        "SELECT at, actor, kind, detail, code, login FROM ("
                        " SELECT e.at, e.id AS seq, 0 AS source, e.actor, e.kind, e.detail, r.code,"
                        "  NULL AS login FROM event e JOIN report r ON r.id = e.report_id"
                        "  WHERE e.at >= ?1 AND e.at < ?2 AND (?3 IS NULL OR e.actor = ?3)"
                        "  AND (?4 = 0 OR e.report_id = ?4)"
                        " UNION ALL"
                        " SELECT at, id, 1, actor, kind, detail, NULL, login FROM account_event"
                        "  WHERE at >= ?1 AND at < ?2 AND (?3 IS NULL OR actor = ?3) AND ?4 = 0)"
                        " ORDER BY at, source, seq LIMIT ?5",
                        error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, from);
    sqlite3_bind_int64(stmt, 2, to);
    bind_text_or_null(stmt, 3, actor);
    sqlite3_bind_int64(stmt, 4, report_id);
    sqlite3_bind_int(stmt, 5, limit > 0 ? limit : G_MAXINT);
    return store_collect_rows(store, stmt, audit_from_row, (GDestroyNotify)audit_entry_free,
                              "read the audit trail", error);
}

/* ---- health ----------------------------------------------------------------------------------
 */

gboolean outbox_counts(Store *store, OutboxCounts *out, GError **error)
{
    *out = (OutboxCounts){0};
    sqlite3_stmt *stmt =
        store_statement(store, "SELECT state, count(*) FROM outbox GROUP BY state", error);
    if (!stmt)
        return FALSE;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(stmt, 0);
        int n = sqlite3_column_int(stmt, 1);
        if (g_str_equal(state, "queued"))
            out->queued = n;
        else if (g_str_equal(state, "sending"))
            out->sending = n;
        else if (g_str_equal(state, "sent"))
            out->sent = n;
        else if (g_str_equal(state, "failed"))
            out->failed = n;
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "count letters");
    return TRUE;
}

static gpointer suspension_from_row(sqlite3_stmt *stmt)
{
    AddressSuspension *s = g_new0(AddressSuspension, 1);
    s->address = column_text(stmt, 0);
    s->status = column_text(stmt, 1);
    s->reason = column_text(stmt, 2);
    s->until = sqlite3_column_int64(stmt, 3);
    s->outbox_id = sqlite3_column_int64(stmt, 4);
    s->created_at = sqlite3_column_int64(stmt, 5);
    return s;
}

GPtrArray *address_suspension_list(Store *store, gint64 now, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store,
                        "SELECT address, status, reason, until, coalesce(outbox_id, 0),"
                        " created_at FROM address_suspension WHERE until > ? ORDER BY created_at",
                        error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, now);
    return store_collect_rows(store, stmt, suspension_from_row,
                              (GDestroyNotify)address_suspension_free, "list suspensions", error);
}

GPtrArray *raw_message_list_aside(Store *store, int limit, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store,
                        "SELECT id FROM raw_message WHERE state IN ('unparsed', 'quarantined')"
                        " ORDER BY id DESC LIMIT ?",
                        error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int(stmt, 1, limit);
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        gint64 id = sqlite3_column_int64(stmt, 0);
        g_array_append_val(ids, id);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        store_fail(store, error, "list messages kept aside");
        return NULL;
    }
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)raw_message_free);
    for (guint i = 0; i < ids->len; i++) {
        RawMessage *raw = raw_message_get(store, g_array_index(ids, gint64, i), error);
        if (!raw) {
            g_ptr_array_unref(list);
            return NULL;
        }
        g_ptr_array_add(list, raw);
    }
    return list;
}

gboolean mailbox_state_updated_at(Store *store, const char *mailbox, gint64 *at, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "SELECT coalesce(max(updated_at), 0) FROM mailbox_state WHERE mailbox = ?", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, mailbox, -1, SQLITE_TRANSIENT);
    return store_step_int64(store, stmt, at, "read the mailbox position", error);
}
