/* Sessions (issue 13).
 *
 * A session is a random 256-bit token in a cookie (HttpOnly, SameSite=Lax; Secure and the
 * "__Host-" name when the console is reached over TLS); the database keeps only its SHA-256,
 * so that a copy of the database opens no session. It ends after session_idle_minutes unused
 * and session_max_hours after the login, at logout, and when its account is disabled or its
 * password changed. A login always makes a new token (no session fixation). The login form
 * and the logout are login.c's. */
#include "web/web_private.h"
#include "util/util.h"

#include <string.h>

/* a session's last use is written at most once a minute: a page view is not a write */
#define SESSION_TOUCH_SECONDS 60

static char *token_hash(const char *token)
{
    return sha256_bytes(token, strlen(token));
}

char *login_masked(const char *login)
{
    if (!login || !*login)
        return g_strdup("?");
    if (strchr(login, '@'))
        return log_redact_address(login);
    const char *second = g_utf8_validate(login, -1, NULL) ? g_utf8_next_char(login) : login + 1;
    return g_strdup_printf("%.*s***", (int)(second - login), login);
}

/* why the session can no longer be used, or NULL */
static const char *session_ended_why(const WebApp *app, const ConsoleSession *s,
                                     const Account *user, gint64 now)
{
    if (now - s->seen_at > (gint64)app->config->web.session_idle_minutes * 60)
        return "idle";
    if (now - s->created_at > (gint64)app->config->web.session_max_hours * 3600)
        return "expired";
    if (!user)
        return "account removed";
    if (user->disabled)
        return "account disabled";
    return NULL;
}

gboolean session_resume(Request *req)
{
    g_autofree char *name = http_cookie_name(req->app->secure, SESSION_COOKIE);
    const char *token = request_cookie(req, name);
    if (!token || strlen(token) != 64)
        return FALSE;
    GError *error = NULL;
    Store *store = request_store(req, &error);
    g_autofree char *hash = token_hash(token);
    g_autoptr(ConsoleSession) s = store ? console_session_find(store, hash, &error) : NULL;
    if (!s) {
        if (error) {
            log_error("cannot read the session: %s", error->message);
            g_error_free(error);
        }
        return FALSE;
    }
    gint64 now = clock_now_unix();
    g_autoptr(Account) user = account_get_id(store, s->user_id, NULL);
    const char *why = session_ended_why(req->app, s, user, now);
    if (why) {
        if (!session_end(store, s->id, why, &error)) {
            log_error("cannot end a session: %s", error->message);
            g_error_free(error);
        }
        return FALSE;
    }
    if (now - s->seen_at >= SESSION_TOUCH_SECONDS &&
        !console_session_touch(store, s->id, now, &error)) {
        log_warning("cannot note a session's use: %s", error->message);
        g_clear_error(&error);
    }
    req->session = g_steal_pointer(&s);
    req->user = g_steal_pointer(&user);
    return TRUE;
}

gboolean session_end(Store *store, gint64 id, const char *why, GError **error)
{
    /* first: a page kept for a session that is ending is never served again, whatever the
     * database says */
    queue_cache_forget(id, clock_now_unix());
    return console_session_end(store, id, why, error);
}

gboolean session_start(Request *req, Response *res, const Account *user, GError **error)
{
    Store *store = req->store;
    /* a session the browser still had ends: a login never continues an old token */
    if (session_resume(req) && !session_end(store, req->session->id, "login", error))
        return FALSE;
    g_autofree char *token = random_hex(32);
    g_autofree char *csrf = random_hex(32);
    g_autofree char *hash = token_hash(token);
    if (!console_session_create(store, user->id, hash, csrf, req->client, error))
        return FALSE;
    gboolean secure = req->app->secure;
    g_autofree char *name = http_cookie_name(secure, SESSION_COOKIE);
    g_autofree char *cookie = http_cookie_header(
        name, token, secure, (gint64)req->app->config->web.session_max_hours * 3600);
    response_header(res, "Set-Cookie", cookie);
    g_autofree char *login_name = http_cookie_name(secure, LOGIN_COOKIE);
    g_autofree char *gone = http_cookie_header(login_name, "", secure, 0);
    response_header(res, "Set-Cookie", gone);
    return TRUE;
}
