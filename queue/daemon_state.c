/* The daemon's own state: a few values pahtd keeps across restarts (schema migration 2). */
#include "queue/store_internal.h"
#include "util/util.h"

/* ---- the daemon's own state ---------------------------------------------------------------- */

char *daemon_state_get(Store *store, const char *key, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store, "SELECT value FROM daemon_state WHERE key = ?", error);
    if (!stmt)
        return NULL;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    char *value = rc == SQLITE_ROW ? column_text(stmt, 0) : NULL;
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        store_fail(store, error, "read daemon state");
    return value;
}

gboolean daemon_state_set(Store *store, const char *key, const char *value, GError **error)
{
    sqlite3_stmt *stmt =
        value
            ? store_statement(store,
                              "INSERT INTO daemon_state(key, value, updated_at) VALUES (?1, ?2, ?3)"
                              " ON CONFLICT(key) DO UPDATE SET value = ?2, updated_at = ?3",
                              error)
            : store_statement(store, "DELETE FROM daemon_state WHERE key = ?1", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_TRANSIENT);
    if (value) {
        sqlite3_bind_text(stmt, 2, value, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(stmt, 3, clock_now_unix());
    }
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "write daemon state");
    return TRUE;
}
