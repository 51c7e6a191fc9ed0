/* The daemon's own state: a few values pahtd keeps across restarts (schema migration 2), and
 * the messages of the inbox it could not fetch yet (issue 11). */
#include "queue/store_internal.h"
#include "util/util.h"

#include <string.h>

/* ---- the daemon's own state ---------------------------------------------------------------- */

gboolean daemon_state_get(Store *store, const char *key, char **value, GError **error)
{
    *value = NULL;
    sqlite3_stmt *stmt =
        store_statement(store, "SELECT value FROM daemon_state WHERE key = ?", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    *value = rc == SQLITE_ROW ? column_text(stmt, 0) : NULL;
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(store, error, "read daemon state");
    return TRUE;
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

/* ---- messages the daemon could not fetch (schema: issue 11) -------------------------------- */

void message_failure_clear(MessageFailure *failure)
{
    g_clear_pointer(&failure->last_error, g_free);
    memset(failure, 0, sizeof *failure);
}

static void bind_place(sqlite3_stmt *stmt, const char *mailbox, guint32 uidvalidity, guint32 uid)
{
    sqlite3_bind_text(stmt, 1, mailbox, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, uidvalidity);
    sqlite3_bind_int64(stmt, 3, uid);
}

/* the row of stmt (failures, first_at, last_at, next_at, given_up_at, last_error) into out */
static void failure_from_row(sqlite3_stmt *stmt, MessageFailure *out)
{
    out->failures = sqlite3_column_int(stmt, 0);
    out->first_at = sqlite3_column_int64(stmt, 1);
    out->last_at = sqlite3_column_int64(stmt, 2);
    out->next_at = sqlite3_column_int64(stmt, 3);
    out->given_up_at = sqlite3_column_int64(stmt, 4);
    out->last_error = column_text(stmt, 5);
}

#define FAILURE_COLUMNS "failures, first_at, last_at, next_at, given_up_at, last_error"

gboolean message_failure_get(Store *store, const char *mailbox, guint32 uidvalidity, guint32 uid,
                             MessageFailure *out, GError **error)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *stmt = store_statement(store,
                                         "SELECT " FAILURE_COLUMNS " FROM message_failure"
                                         " WHERE mailbox = ?1 AND uidvalidity = ?2 AND uid = ?3",
                                         error);
    if (!stmt)
        return FALSE;
    bind_place(stmt, mailbox, uidvalidity, uid);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        failure_from_row(stmt, out);
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        store_fail(store, error, "read message failure");
    return rc == SQLITE_ROW;
}

gboolean message_failure_add(Store *store, const char *mailbox, guint32 uidvalidity, guint32 uid,
                             const char *error_text, gint64 now, gint64 next_at,
                             MessageFailure *out, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store,
        "INSERT INTO message_failure(mailbox, uidvalidity, uid, failures, first_at, last_at,"
        " next_at, last_error) VALUES (?1, ?2, ?3, 1, ?4, ?4, ?5, ?6)"
        " ON CONFLICT(mailbox, uidvalidity, uid) DO UPDATE SET failures = failures + 1,"
        " last_at = ?4, next_at = ?5, last_error = ?6 RETURNING " FAILURE_COLUMNS,
        error);
    if (!stmt)
        return FALSE;
    bind_place(stmt, mailbox, uidvalidity, uid);
    sqlite3_bind_int64(stmt, 4, now);
    sqlite3_bind_int64(stmt, 5, next_at);
    sqlite3_bind_text(stmt, 6, error_text ? error_text : "", -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && out)
        failure_from_row(stmt, out);
    /* step to the end so the RETURNING statement completes its write */
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "record message failure");
    return TRUE;
}

/* an UPDATE or DELETE of the message_failure row of one place (now: ?4, when not 0) */
static gboolean failure_change(Store *store, const char *sql, const char *mailbox,
                               guint32 uidvalidity, guint32 uid, gint64 now, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store, sql, error);
    if (!stmt)
        return FALSE;
    bind_place(stmt, mailbox, uidvalidity, uid);
    if (now)
        sqlite3_bind_int64(stmt, 4, now);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "update message failure");
    return TRUE;
}

gboolean message_failure_give_up(Store *store, const char *mailbox, guint32 uidvalidity,
                                 guint32 uid, gint64 now, GError **error)
{
    return failure_change(store,
                          "UPDATE message_failure SET given_up_at = ?4"
                          " WHERE mailbox = ?1 AND uidvalidity = ?2 AND uid = ?3",
                          mailbox, uidvalidity, uid, now, error);
}

gboolean message_failure_forget(Store *store, const char *mailbox, guint32 uidvalidity, guint32 uid,
                                GError **error)
{
    return failure_change(store,
                          "DELETE FROM message_failure"
                          " WHERE mailbox = ?1 AND uidvalidity = ?2 AND uid = ?3",
                          mailbox, uidvalidity, uid, 0, error);
}

gboolean message_failure_forget_epochs(Store *store, const char *mailbox, guint32 uidvalidity,
                                       GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "DELETE FROM message_failure WHERE mailbox = ?1 AND uidvalidity != ?2", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, mailbox, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, uidvalidity);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "forget message failures");
    return TRUE;
}

gboolean message_failure_any_due(Store *store, const char *mailbox, guint32 uidvalidity, gint64 now,
                                 gboolean *due, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store,
                                         "SELECT 1 FROM message_failure WHERE mailbox = ?1"
                                         " AND uidvalidity = ?2 AND given_up_at IS NULL"
                                         " AND next_at <= ?3 LIMIT 1",
                                         error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, mailbox, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, uidvalidity);
    sqlite3_bind_int64(stmt, 3, now);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(store, error, "look for due message failures");
    *due = rc == SQLITE_ROW;
    return TRUE;
}

GArray *message_failure_uids(Store *store, const char *mailbox, guint32 uidvalidity, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store,
                                         "SELECT uid FROM message_failure WHERE mailbox = ?1"
                                         " AND uidvalidity = ?2 ORDER BY uid",
                                         error);
    if (!stmt)
        return NULL;
    sqlite3_bind_text(stmt, 1, mailbox, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, uidvalidity);
    GArray *uids = g_array_new(FALSE, FALSE, sizeof(guint32));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        guint32 uid = (guint32)sqlite3_column_int64(stmt, 0);
        g_array_append_val(uids, uid);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        g_array_unref(uids);
        store_fail(store, error, "list message failures");
        return NULL;
    }
    return uids;
}
