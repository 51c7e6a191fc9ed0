/* The console's accounts, sessions and login attempts (issue 13). The console (pahtweb)
 * decides who may do what; this file only keeps the records: an account per person, a
 * session per login known only by the SHA-256 of its token, every login attempt (the
 * throttle counts them), and an account event for every change (pahtctl audit). */
#include "queue/store_internal.h"
#include "util/util.h"

#include <string.h>

/* ---- accounts ----------------------------------------------------------------------------- */

void account_free(Account *a)
{
    if (!a)
        return;
    g_free(a->login);
    g_free(a->role);
    g_free(a->agency);
    g_free(a->name);
    g_free(a->email);
    if (a->password_hash)
        memset(a->password_hash, 0, strlen(a->password_hash));
    g_free(a->password_hash);
    g_free(a);
}

#define ACCOUNT_COLUMNS                                                                            \
    "id, login, role, agency, name, email, password_hash, disabled, created_at, updated_at"

static gpointer account_from_row(sqlite3_stmt *stmt)
{
    Account *a = g_new0(Account, 1);
    a->id = sqlite3_column_int64(stmt, 0);
    a->login = column_text(stmt, 1);
    a->role = column_text(stmt, 2);
    a->agency = column_text(stmt, 3);
    a->name = column_text(stmt, 4);
    a->email = column_text(stmt, 5);
    a->password_hash = column_text(stmt, 6);
    a->disabled = sqlite3_column_int(stmt, 7) != 0;
    a->created_at = sqlite3_column_int64(stmt, 8);
    a->updated_at = sqlite3_column_int64(stmt, 9);
    return a;
}

/* one account or NULL: NOT_FOUND naming what was asked */
static Account *account_query_one(Store *store, sqlite3_stmt *stmt, const char *asked,
                                  GError **error)
{
    int rc = sqlite3_step(stmt);
    Account *a = rc == SQLITE_ROW ? account_from_row(stmt) : NULL;
    sqlite3_reset(stmt);
    if (rc == SQLITE_DONE)
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND, "no account %s", asked);
    else if (rc != SQLITE_ROW)
        store_fail(store, error, "read account");
    return a;
}

gboolean account_event_add(Store *store, const char *actor, const char *login, const char *kind,
                           const char *detail, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "INSERT INTO account_event(at, actor, login, kind, detail) VALUES (?, ?, ?, ?, ?)",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, clock_now_unix());
    sqlite3_bind_text(stmt, 2, actor ? actor : "?", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, login, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 4, kind, -1, SQLITE_TRANSIENT);
    bind_text_or_null(stmt, 5, detail);
    return store_step_done(store, stmt, "record account event", error);
}

static char *role_text(const Account *a)
{
    return a->agency ? g_strdup_printf("%s:%s", a->role, a->agency) : g_strdup(a->role);
}

static gboolean account_insert(Store *store, const Account *a, gint64 *id_out, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store,
        "INSERT INTO web_user(login, role, agency, name, email, password_hash, disabled,"
        " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)"
        " ON CONFLICT(login) DO NOTHING",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, a->login, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, a->role, -1, SQLITE_TRANSIENT);
    bind_text_or_null(stmt, 3, a->agency);
    sqlite3_bind_text(stmt, 4, a->name, -1, SQLITE_TRANSIENT);
    bind_text_or_null(stmt, 5, a->email);
    sqlite3_bind_text(stmt, 6, a->password_hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 7, a->disabled ? 1 : 0);
    sqlite3_bind_int64(stmt, 8, clock_now_unix());
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "add account");
    if (sqlite3_changes(store->db) != 1) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED, "the login \"%s\" is taken", a->login);
        return FALSE;
    }
    if (id_out)
        *id_out = sqlite3_last_insert_rowid(store->db);
    return TRUE;
}

gboolean account_add(Store *store, const Account *account, const char *actor, gint64 *id_out,
                     GError **error)
{
    g_autofree char *role = role_text(account);
    if (!store_begin(store, error))
        return FALSE;
    gboolean ok = account_insert(store, account, id_out, error) &&
                  account_event_add(store, actor, account->login, "account_added", role, error);
    if (!ok) {
        store_rollback(store);
        return FALSE;
    }
    return store_commit(store, error);
}

Account *account_get(Store *store, const char *login, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "SELECT " ACCOUNT_COLUMNS " FROM web_user WHERE login = ? COLLATE NOCASE", error);
    if (!stmt)
        return NULL;
    sqlite3_bind_text(stmt, 1, login, -1, SQLITE_TRANSIENT);
    return account_query_one(store, stmt, login, error);
}

Account *account_get_id(Store *store, gint64 id, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store, "SELECT " ACCOUNT_COLUMNS " FROM web_user WHERE id = ?", error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, id);
    g_autofree char *asked = g_strdup_printf("%" G_GINT64_FORMAT, id);
    return account_query_one(store, stmt, asked, error);
}

GPtrArray *account_list(Store *store, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "SELECT " ACCOUNT_COLUMNS " FROM web_user ORDER BY login COLLATE NOCASE", error);
    if (!stmt)
        return NULL;
    return store_collect_rows(store, stmt, (StoreRowReader)account_from_row,
                              (GDestroyNotify)account_free, "list accounts", error);
}

static gboolean end_sessions_of(Store *store, const char *login, const char *reason, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store,
        "UPDATE web_session SET ended_at = ?2, end_reason = ?3 WHERE ended_at IS NULL AND"
        " user_id = (SELECT id FROM web_user WHERE login = ?1 COLLATE NOCASE)",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, login, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, clock_now_unix());
    sqlite3_bind_text(stmt, 3, reason, -1, SQLITE_STATIC);
    return store_step_done(store, stmt, "end sessions", error);
}

/* one account row changed by stmt (bound already): NOT_FOUND when there is no such login */
static gboolean account_update(Store *store, sqlite3_stmt *stmt, const char *login, GError **error)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "update account");
    if (sqlite3_changes(store->db) != 1) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND, "no account %s", login);
        return FALSE;
    }
    return TRUE;
}

/* an account change, the end of its sessions and its event, in one transaction */
static gboolean account_change(Store *store, sqlite3_stmt *stmt, const char *login,
                               gboolean end_sessions, const char *actor, const char *kind,
                               GError **error)
{
    if (!store_begin(store, error))
        return FALSE;
    gboolean ok = account_update(store, stmt, login, error) &&
                  (!end_sessions || end_sessions_of(store, login, kind, error)) &&
                  account_event_add(store, actor, login, kind, NULL, error);
    if (!ok) {
        store_rollback(store);
        return FALSE;
    }
    return store_commit(store, error);
}

gboolean account_set_password(Store *store, const char *login, const char *password_hash,
                              const char *actor, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store,
                                         "UPDATE web_user SET password_hash = ?2, updated_at = ?3"
                                         " WHERE login = ?1 COLLATE NOCASE",
                                         error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, login, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, password_hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 3, clock_now_unix());
    return account_change(store, stmt, login, TRUE, actor, "password_changed", error);
}

gboolean account_set_disabled(Store *store, const char *login, gboolean disabled, const char *actor,
                              GError **error)
{
    sqlite3_stmt *stmt = store_statement(store,
                                         "UPDATE web_user SET disabled = ?2, updated_at = ?3"
                                         " WHERE login = ?1 COLLATE NOCASE",
                                         error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, login, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 2, disabled ? 1 : 0);
    sqlite3_bind_int64(stmt, 3, clock_now_unix());
    return account_change(store, stmt, login, disabled, actor,
                          disabled ? "account_disabled" : "account_enabled", error);
}

/* ---- sessions ----------------------------------------------------------------------------- */

void console_session_free(ConsoleSession *s)
{
    if (!s)
        return;
    g_free(s->csrf);
    g_free(s);
}

gboolean console_session_create(Store *store, gint64 user_id, const char *token_hash,
                                const char *csrf, const char *client, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store,
        "INSERT INTO web_session(token_hash, user_id, csrf, client, created_at, seen_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, token_hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, user_id);
    sqlite3_bind_text(stmt, 3, csrf, -1, SQLITE_TRANSIENT);
    bind_text_or_null(stmt, 4, client);
    sqlite3_bind_int64(stmt, 5, clock_now_unix());
    return store_step_done(store, stmt, "create session", error);
}

ConsoleSession *console_session_find(Store *store, const char *token_hash, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store,
                        "SELECT id, user_id, csrf, created_at, seen_at FROM web_session"
                        " WHERE token_hash = ? AND ended_at IS NULL",
                        error);
    if (!stmt)
        return NULL;
    sqlite3_bind_text(stmt, 1, token_hash, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    ConsoleSession *s = NULL;
    if (rc == SQLITE_ROW) {
        s = g_new0(ConsoleSession, 1);
        s->id = sqlite3_column_int64(stmt, 0);
        s->user_id = sqlite3_column_int64(stmt, 1);
        s->csrf = column_text(stmt, 2);
        s->created_at = sqlite3_column_int64(stmt, 3);
        s->seen_at = sqlite3_column_int64(stmt, 4);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        store_fail(store, error, "find session");
    return s;
}

gboolean console_session_touch(Store *store, gint64 id, gint64 now, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "UPDATE web_session SET seen_at = max(seen_at, ?2) WHERE id = ?1", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, now);
    return store_step_done(store, stmt, "touch session", error);
}

gboolean console_session_end(Store *store, gint64 id, const char *reason, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store,
                                         "UPDATE web_session SET ended_at = ?2, end_reason = ?3"
                                         " WHERE id = ?1 AND ended_at IS NULL",
                                         error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, clock_now_unix());
    sqlite3_bind_text(stmt, 3, reason, -1, SQLITE_TRANSIENT);
    return store_step_done(store, stmt, "end session", error);
}

/* ---- login attempts ----------------------------------------------------------------------- */

/* Whether the throttle holds for one key (a login or a client address) at now: failures
 * since max(now - window, the key's last success) reach max_failures, and the key's last
 * attempt that was checked (or is being checked) is less than interval ago. */
static gboolean key_throttled(Store *store, sqlite3_stmt *stmt, const char *key,
                              const LoginThrottle *t, gint64 now, gboolean *throttled,
                              GError **error)
{
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, now - t->window_seconds);
    int rc = sqlite3_step(stmt);
    int failures = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : 0;
    gint64 last_checked = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 1) : 0;
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW)
        return store_fail(store, error, "count login attempts");
    *throttled = failures >= t->max_failures && last_checked > now - t->interval_seconds;
    return TRUE;
}

#define ATTEMPT_COUNT(column)                                                                      \
    "SELECT (SELECT count(*) FROM login_attempt WHERE " column " = ?1 AND outcome = 'failed'"      \
    " AND at > max(?2, coalesce((SELECT max(at) FROM login_attempt WHERE " column " = ?1"          \
    " AND outcome = 'ok'), 0))),"                                                                  \
    " coalesce((SELECT max(at) FROM login_attempt WHERE " column " = ?1"                           \
    " AND outcome IN ('trying', 'ok', 'failed')), 0)"

static gboolean attempt_decide(Store *store, const char *login, const char *client,
                               const LoginThrottle *t, gint64 now, gboolean *throttled,
                               GError **error)
{
    sqlite3_stmt *by_login = store_statement(store, ATTEMPT_COUNT("login"), error);
    gboolean login_held = FALSE, client_held = FALSE;
    if (!by_login || !key_throttled(store, by_login, login, t, now, &login_held, error))
        return FALSE;
    sqlite3_stmt *by_client = store_statement(store, ATTEMPT_COUNT("client"), error);
    if (!by_client || !key_throttled(store, by_client, client, t, now, &client_held, error))
        return FALSE;
    *throttled = login_held || client_held;
    return TRUE;
}

static gboolean attempt_insert(Store *store, const char *login, const char *client, gint64 now,
                               const char *outcome, gint64 *id, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "INSERT INTO login_attempt(at, login, client, outcome) VALUES (?, ?, ?, ?)", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, now);
    sqlite3_bind_text(stmt, 2, login, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, client, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 4, outcome, -1, SQLITE_STATIC);
    if (!store_step_done(store, stmt, "record login attempt", error))
        return FALSE;
    *id = sqlite3_last_insert_rowid(store->db);
    return TRUE;
}

gboolean login_attempt_begin(Store *store, const char *login, const char *client,
                             const LoginThrottle *throttle, gint64 *attempt_id, GError **error)
{
    *attempt_id = 0;
    g_autofree char *key = g_utf8_strdown(login, -1);
    gint64 now = clock_now_unix();
    gboolean throttled = FALSE;
    gint64 id = 0;
    if (!store_begin(store, error))
        return FALSE;
    gboolean ok =
        attempt_decide(store, key, client, throttle, now, &throttled, error) &&
        attempt_insert(store, key, client, now, throttled ? "throttled" : "trying", &id, error);
    if (!ok) {
        store_rollback(store);
        return FALSE;
    }
    if (!store_commit(store, error))
        return FALSE;
    *attempt_id = throttled ? 0 : id;
    return TRUE;
}

gboolean login_attempt_finish(Store *store, gint64 attempt_id, gboolean ok, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "UPDATE login_attempt SET outcome = ?2 WHERE id = ?1 AND outcome = 'trying'", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, attempt_id);
    sqlite3_bind_text(stmt, 2, ok ? "ok" : "failed", -1, SQLITE_STATIC);
    return store_step_done(store, stmt, "finish login attempt", error);
}
