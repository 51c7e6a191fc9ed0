/* Logins and sessions (issue 13).
 *
 * A session is a random 256-bit token in a cookie (HttpOnly, SameSite=Lax; Secure and the
 * "__Host-" name when the console is reached over TLS); the database keeps only its SHA-256,
 * so that a copy of the database opens no session. It ends after session_idle_minutes unused
 * and session_max_hours after the login, at logout, and when its account is disabled or its
 * password changed. A login always makes a new token (no session fixation).
 *
 * The login form carries a token of its own, also in a cookie (a form another site posts
 * cannot know it). After LOGIN_MAX_FAILURES failed logins in LOGIN_WINDOW_SECONDS an account,
 * and a client address, get one attempt per LOGIN_INTERVAL_SECONDS; the answer is the same as
 * for a wrong password, and an unknown login costs the same password check as a known one.
 * Every failure is logged with the login masked, never with the password. */
#include "web/web_private.h"
#include "util/util.h"

#include <sodium.h>
#include <string.h>

#define SESSION_COOKIE "paht_session"
#define LOGIN_COOKIE   "paht_login"
/* a session's last use is written at most once a minute: a page view is not a write */
#define SESSION_TOUCH_SECONDS 60
#define LOGIN_MAX_CHARS       100

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
        if (!console_session_end(store, s->id, why, &error)) {
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

/* ---- the login form
 * ------------------------------------------------------------------------------ */

static void render_login(Request *req, Response *res, int status, const char *message)
{
    g_autofree char *token = random_hex(16);
    g_autofree char *name = http_cookie_name(req->app->secure, LOGIN_COOKIE);
    g_autofree char *cookie = http_cookie_header(name, token, req->app->secure, 3600);
    response_header(res, "Set-Cookie", cookie);
    JsonBuilder *b = page_context(req, "login");
    json_add_string(b, "csrf", token);
    const char *login = form_value(req, "login");
    if (login && g_utf8_strlen(login, -1) <= LOGIN_MAX_CHARS)
        json_add_string(b, "login_value", login);
    if (message) {
        g_autofree char *text = label(req, "message", message);
        json_add_string(b, "message", text);
    }
    page_render(req, res, status, "login", b);
}

void handle_login_form(Request *req, Response *res)
{
    if (session_resume(req)) {
        response_redirect(res, "/");
        return;
    }
    render_login(req, res, 200, request_query(req, "expired") ? "session_ended" : NULL);
}

/* a check as long as a real one for a login that does not exist: the answer's time tells
 * nothing of which logins exist */
static const char *no_such_account_hash(void)
{
    static char *hash;
    if (g_once_init_enter(&hash)) {
        char *made = web_password_hash("paht: no such account", NULL);
        g_once_init_leave(&hash, made ? made : g_strdup("-"));
    }
    return hash;
}

static gboolean password_matches(const Account *user, const char *password)
{
    gboolean ok =
        web_password_verify(user ? user->password_hash : no_such_account_hash(), password);
    return ok && user && !user->disabled;
}

static gboolean session_start(Request *req, Response *res, const Account *user, GError **error)
{
    Store *store = req->store;
    /* a session the browser still had ends: a login never continues an old token */
    if (session_resume(req) && !console_session_end(store, req->session->id, "login", error))
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

static gboolean login_token_matches(Request *req)
{
    g_autofree char *name = http_cookie_name(req->app->secure, LOGIN_COOKIE);
    const char *sent = form_value(req, "csrf"), *expected = request_cookie(req, name);
    gsize n = expected ? strlen(expected) : 0;
    return sent && n == 32 && strlen(sent) == n && sodium_memcmp(sent, expected, n) == 0;
}

/* the throttle's verdict and the password check: TRUE only for the right password of an
 * enabled account that the throttle let try */
static gboolean login_check(Request *req, Store *store, const char *login, const char *password,
                            Account **user_out, gboolean *throttled, GError **error)
{
    LoginThrottle throttle = {LOGIN_MAX_FAILURES, LOGIN_WINDOW_SECONDS, LOGIN_INTERVAL_SECONDS};
    gint64 attempt = 0;
    if (!login_attempt_begin(store, login, req->client, &throttle, &attempt, error))
        return FALSE;
    *throttled = attempt == 0;
    if (*throttled)
        return TRUE;
    g_autoptr(Account) user = account_get(store, login, NULL);
    gboolean ok = password_matches(user, password);
    if (!login_attempt_finish(store, attempt, ok, error))
        return FALSE;
    if (ok)
        *user_out = g_steal_pointer(&user);
    return TRUE;
}

void handle_login(Request *req, Response *res)
{
    if (!login_token_matches(req)) {
        page_error(req, res, 403, "forbidden", NULL);
        return;
    }
    const char *login = form_value(req, "login"), *password = form_value(req, "password");
    if (!login || !*login || !password || g_utf8_strlen(login, -1) > LOGIN_MAX_CHARS) {
        render_login(req, res, 401, "login_failed");
        return;
    }
    GError *error = NULL;
    Store *store = request_store(req, &error);
    g_autoptr(Account) user = NULL;
    gboolean throttled = FALSE;
    g_autofree char *masked = login_masked(login);
    if (!store || !login_check(req, store, login, password, &user, &throttled, &error)) {
        log_error("login of %s: %s", masked, error->message);
        g_error_free(error);
        page_error(req, res, 503, "busy", NULL);
        return;
    }
    if (!user) {
        log_notice("login failed for %s from %s%s", masked, req->client,
                   throttled ? " (held: 5 failures in 15 minutes, one attempt a minute)" : "");
        render_login(req, res, 401, "login_failed");
        return;
    }
    if (!session_start(req, res, user, &error) ||
        !account_event_add(store, user->login, user->login, "login", req->client, &error)) {
        log_error("login of %s: %s", masked, error->message);
        g_error_free(error);
        page_error(req, res, 503, "busy", NULL);
        return;
    }
    log_info("%s logged in from %s", masked, req->client);
    response_redirect(res, "/");
}

void handle_logout(Request *req, Response *res)
{
    GError *error = NULL;
    if (!console_session_end(req->store, req->session->id, "logout", &error) ||
        !account_event_add(req->store, req->user->login, req->user->login, "logout", NULL,
                           &error)) {
        log_error("logout: %s", error->message);
        g_error_free(error);
        page_error(req, res, 503, "busy", NULL);
        return;
    }
    g_autofree char *name = http_cookie_name(req->app->secure, SESSION_COOKIE);
    g_autofree char *gone = http_cookie_header(name, "", req->app->secure, 0);
    response_header(res, "Set-Cookie", gone);
    response_redirect(res, "/login");
}
