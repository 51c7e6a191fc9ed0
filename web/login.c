/* Logins and logouts (issue 13): the login form at /login, its check, and POST /logout.
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

#define LOGIN_MAX_CHARS 100

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
    if (!session_end(req->store, req->session->id, "logout", &error) ||
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
