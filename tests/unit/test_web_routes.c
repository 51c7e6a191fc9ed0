/* The console's table of routes (web/routes.c), walked: every state-changing request needs
 * the session's csrf field, every page a session, each row is the one its own path finds, and
 * the roles each row names are the only ones let through. */
#include "web/web_private.h"

#include <string.h>

/* a path the row's pattern matches: each {} as "x" */
static char *sample_path(const char *pattern)
{
    g_auto(GStrv) parts = g_strsplit(pattern, "{}", -1);
    return g_strjoinv("x", parts);
}

static void params_clear(char **params)
{
    for (int i = 0; i < ROUTE_PARAMS_MAX; i++)
        g_clear_pointer(&params[i], g_free);
}

static void test_every_post_but_the_login_needs_the_csrf_field(void)
{
    gsize n = 0;
    const Route *routes = routes_all(&n);
    g_assert_cmpuint(n, >, 0);
    for (gsize i = 0; i < n; i++) {
        const Route *r = &routes[i];
        gboolean post = g_str_equal(r->method, "POST");
        /* Open311's POST carries an API key instead (issue 15) */
        gboolean open311 = g_str_has_prefix(r->pattern, "/open311/v2/requests.");
        if (post && !g_str_equal(r->pattern, "/login"))
            g_assert_cmpint(r->guard, ==, open311 ? GUARD_API_KEY : GUARD_FORM);
        g_assert_cmpint(r->guard == GUARD_API_KEY, ==, post && open311);
        /* a GET changes nothing, so it carries no form to check */
        if (!post)
            g_assert_cmpint(r->guard, !=, GUARD_FORM);
        g_assert_true(post || g_str_equal(r->method, "GET"));
        g_assert_nonnull(r->handler);
    }
}

static void test_only_the_login_the_style_sheet_and_open311_reads_are_open(void)
{
    gsize n = 0;
    const Route *routes = routes_all(&n);
    for (gsize i = 0; i < n; i++) {
        const Route *r = &routes[i];
        gboolean open = r->guard == GUARD_OPEN;
        /* Open311 (issue 15) reads public data only: open311.c decides what is public */
        gboolean open311_read =
            g_str_has_prefix(r->pattern, "/open311/v2/") && g_str_equal(r->method, "GET");
        g_assert_cmpint(open, ==,
                        g_str_equal(r->pattern, "/login") ||
                            g_str_equal(r->pattern, "/static/paht.css") || open311_read);
        /* an open row (and an API key's) names no role; every other names at least one */
        g_assert_cmpint(open || r->guard == GUARD_API_KEY, ==, r->roles == 0);
        g_assert_cmpuint(r->roles & ~(guint)ROLES_ALL, ==, 0);
    }
}

static void test_each_row_is_found_by_its_own_path(void)
{
    gsize n = 0;
    const Route *routes = routes_all(&n);
    for (gsize i = 0; i < n; i++) {
        g_autofree char *path = sample_path(routes[i].pattern);
        char *params[ROUTE_PARAMS_MAX] = {0};
        const Route *found = routes_find(routes[i].method, path, params);
        g_assert_true(found == &routes[i]);
        for (int k = 0; k < ROUTE_PARAMS_MAX; k++) {
            if (params[k])
                g_assert_cmpstr(params[k], ==, "x");
        }
        params_clear(params);
    }
}

static void test_paths_find_their_handlers_and_segments(void)
{
    char *params[ROUTE_PARAMS_MAX] = {0};
    const Route *r = routes_find("GET", "/reports/PAHT-2026-000001/attachments/2", params);
    g_assert_nonnull(r);
    g_assert_true(r->handler == handle_attachment);
    g_assert_cmpstr(params[0], ==, "PAHT-2026-000001");
    g_assert_cmpstr(params[1], ==, "2");
    params_clear(params);

    r = routes_find("POST", "/reports/PAHT-2026-000001/accept", params);
    g_assert_true(r && r->handler == handle_action);
    g_assert_cmpstr(params[1], ==, "accept");
    params_clear(params);
    r = routes_find("POST", "/reports/PAHT-2026-000001/result/preview", params);
    g_assert_true(r && r->handler == handle_action_preview);
    params_clear(params);

    /* HEAD is answered as GET; other methods and unknown paths find nothing */
    r = routes_find("HEAD", "/", params);
    g_assert_true(r && r->handler == handle_queue);
    g_assert_null(routes_find("PUT", "/", params));
    g_assert_null(routes_find("GET", "/reports", params));
    g_assert_null(routes_find("GET", "/reports/", params)); /* an empty segment is no code */
    g_assert_null(routes_find("GET", "/reports//attachments/1", params));
    g_assert_null(routes_find("GET", "/static/../paht.conf", params));
    g_assert_null(params[0]);
}

static void test_roles_named_by_a_row_are_the_only_ones_let_through(void)
{
    Account ioc = {.role = "ioc"}, admin = {.role = "admin"};
    Account agency = {.role = "agency", .agency = "xd"},
            leader = {.role = "leader", .agency = "xd"};
    char *params[ROUTE_PARAMS_MAX] = {0};
    const Route *health = routes_find("GET", "/health", params);
    const Route *reprocess = routes_find("POST", "/health/reprocess/7", params);
    params_clear(params);
    const Route *bulk = routes_find("POST", "/bulk/reject", params);
    const Route *report = routes_find("GET", "/reports/P", params);
    params_clear(params);
    const Route *login = routes_find("GET", "/login", params);
    for (const Route *const *r = (const Route *const[]){health, reprocess, NULL}; *r; r++) {
        g_assert_true(routes_permit(*r, &admin));
        g_assert_false(routes_permit(*r, &ioc));
        g_assert_false(routes_permit(*r, &agency));
        g_assert_false(routes_permit(*r, &leader));
    }
    g_assert_true(routes_permit(bulk, &ioc));
    g_assert_false(routes_permit(bulk, &admin));
    g_assert_false(routes_permit(bulk, &agency));
    g_assert_false(routes_permit(bulk, &leader));
    /* who sees a report is the report's handler's to say, with a 404 for everyone else */
    g_assert_true(routes_permit(report, &admin));
    g_assert_true(routes_permit(report, &agency));
    /* no session at all: the open pages only */
    g_assert_true(routes_permit(login, NULL));
    g_assert_false(routes_permit(report, NULL));
}

static void test_only_the_actions_take_files(void)
{
    gsize n = 0;
    const Route *routes = routes_all(&n);
    for (gsize i = 0; i < n; i++) {
        gboolean action =
            routes[i].handler == handle_action || routes[i].handler == handle_action_preview;
        g_assert_cmpint(routes[i].files, ==, action);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/web/every-post-but-the-login-needs-the-csrf-field",
                    test_every_post_but_the_login_needs_the_csrf_field);
    g_test_add_func("/web/only-the-login-and-the-style-sheet-are-open",
                    test_only_the_login_the_style_sheet_and_open311_reads_are_open);
    g_test_add_func("/web/each-row-is-found-by-its-own-path",
                    test_each_row_is_found_by_its_own_path);
    g_test_add_func("/web/paths-find-their-handlers-and-segments",
                    test_paths_find_their_handlers_and_segments);
    g_test_add_func("/web/roles-named-by-a-row-are-the-only-ones-let-through",
                    test_roles_named_by_a_row_are_the_only_ones_let_through);
    g_test_add_func("/web/only-the-actions-take-files", test_only_the_actions_take_files);
    return g_test_run();
}
