/* Action addresses (issue 14): the signed reply addresses the letters to agencies and leaders
 * offer, as they were offered, and their single use. */
#include "queue/store_internal.h"
#include "util/util.h"

void action_address_free(ActionAddress *a)
{
    if (!a)
        return;
    g_free(a->token);
    g_free(a->action);
    g_free(a->recipient);
    g_free(a->letter);
    g_free(a);
}

gboolean action_address_record(Store *store, const char *token, gint64 report_id,
                               const char *action, const char *recipient, const char *letter,
                               gint64 now, GError **error)
{
    /* the token is an HMAC of letter, report, action and recipient: the same letter enqueued
     * again (its dedupe key) offers the same address, which must keep its first use */
    sqlite3_stmt *stmt = store_statement(
        store,
        "INSERT INTO action_address(token, report_id, action, recipient, letter, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(token) DO NOTHING",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, token, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, report_id);
    sqlite3_bind_text(stmt, 3, action, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 4, recipient, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 5, letter, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 6, now);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "record an action address");
    return TRUE;
}

gboolean action_address_find(Store *store, const char *token, ActionAddress **out, GError **error)
{
    *out = NULL;
    sqlite3_stmt *stmt =
        store_statement(store,
                        "SELECT id, token, report_id, action, recipient, letter, created_at,"
                        " used_at, used_raw_id FROM action_address WHERE token = ?",
                        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, token, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        ActionAddress *a = g_new0(ActionAddress, 1);
        a->id = sqlite3_column_int64(stmt, 0);
        a->token = column_text(stmt, 1);
        a->report_id = sqlite3_column_int64(stmt, 2);
        a->action = column_text(stmt, 3);
        a->recipient = column_text(stmt, 4);
        a->letter = column_text(stmt, 5);
        a->created_at = sqlite3_column_int64(stmt, 6);
        a->used_at = sqlite3_column_int64(stmt, 7);
        a->used_raw_id = sqlite3_column_int64(stmt, 8);
        *out = a;
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(store, error, "look up an action address");
    return TRUE;
}

gboolean action_address_use(Store *store, gint64 id, gint64 raw_id, gint64 now, gboolean *first,
                            GError **error)
{
    *first = FALSE;
    /* the condition in the UPDATE: two processes using one address at once cannot both win */
    sqlite3_stmt *stmt = store_statement(store,
                                         "UPDATE action_address SET used_at = ?2, used_raw_id = ?3"
                                         " WHERE id = ?1 AND used_at IS NULL",
                                         error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, now);
    if (raw_id > 0)
        sqlite3_bind_int64(stmt, 3, raw_id);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "use an action address");
    *first = sqlite3_changes(store->db) == 1;
    return TRUE;
}
