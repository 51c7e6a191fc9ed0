/* The console's one table of routes (issue 13; isync's driver table, STYLE.md): each row a
 * method, a path pattern, what the request must bring (a session; a session and its csrf
 * field), who may use it, whether its body may carry files, and the handler. server.c
 * dispatches every request through it, and the tests walk it.
 *
 * A role the row leaves out is refused with 403 before the handler runs. Who may see a
 * report is not the table's: every role that reads reports reaches the report's handlers,
 * which answer a report the user may not see with the 404 of a report that does not exist
 * (view_load_report), and an action the role may not take with 403 (actions.c's table). */
#include "web/web_private.h"

static const Route routes[] = {
    {"GET", "/static/paht.css", GUARD_OPEN, 0, FALSE, handle_static},
    {"GET", "/login", GUARD_OPEN, 0, FALSE, handle_login_form},
    {"POST", "/login", GUARD_OPEN, 0, FALSE, handle_login},
    {"POST", "/logout", GUARD_FORM, ROLES_ALL, FALSE, handle_logout},
    /* the administrators' queue is the health page: handle_queue sends them there */
    {"GET", "/", GUARD_SIGNED_IN, ROLES_ALL, FALSE, handle_queue},
    {"POST", "/bulk/reject", GUARD_FORM, ROLE_IOC, FALSE, handle_bulk_reject},
    {"GET", "/reports/{}", GUARD_SIGNED_IN, ROLES_ALL, FALSE, handle_report},
    {"GET", "/reports/{}/attachments/{}", GUARD_SIGNED_IN, ROLES_ALL, FALSE, handle_attachment},
    {"GET", "/reports/{}/attachments/{}/thumb", GUARD_SIGNED_IN, ROLES_ALL, FALSE,
     handle_attachment_thumb},
    {"GET", "/reports/{}/results/{}", GUARD_SIGNED_IN, ROLES_ALL, FALSE, handle_result_file},
    {"GET", "/reports/{}/preview/{}", GUARD_SIGNED_IN, ROLES_ALL, FALSE, handle_preview},
    {"POST", "/reports/{}/{}", GUARD_FORM, ROLES_ALL, TRUE, handle_action},
    {"POST", "/reports/{}/{}/preview", GUARD_FORM, ROLES_ALL, TRUE, handle_action_preview},
    {"GET", "/stats", GUARD_SIGNED_IN, ROLES_ALL, FALSE, handle_stats},
    {"GET", "/stats.csv", GUARD_SIGNED_IN, ROLES_ALL, FALSE, handle_stats_csv},
    {"GET", "/health", GUARD_SIGNED_IN, ROLE_ADMIN, FALSE, handle_health},
    {"POST", "/health/reprocess/{}", GUARD_FORM, ROLE_ADMIN, FALSE, handle_reprocess},
    /* Open311 GeoReport v2 (issue 15): public, read by anyone; what it shows is open311.c's */
    {"GET", "/open311/v2/discovery.xml", GUARD_OPEN, 0, FALSE, handle_open311_discovery},
    {"GET", "/open311/v2/discovery.json", GUARD_OPEN, 0, FALSE, handle_open311_discovery},
    {"GET", "/open311/v2/services.xml", GUARD_OPEN, 0, FALSE, handle_open311_services},
    {"GET", "/open311/v2/services.json", GUARD_OPEN, 0, FALSE, handle_open311_services},
    {"GET", "/open311/v2/services/{}", GUARD_OPEN, 0, FALSE, handle_open311_service},
    {"GET", "/open311/v2/requests.xml", GUARD_OPEN, 0, FALSE, handle_open311_requests},
    {"GET", "/open311/v2/requests.json", GUARD_OPEN, 0, FALSE, handle_open311_requests},
    {"GET", "/open311/v2/requests/{}", GUARD_OPEN, 0, FALSE, handle_open311_request},
    /* an image the IOC made public, the media_url of its report */
    {"GET", "/open311/v2/media/{}/{}", GUARD_OPEN, 0, FALSE, handle_open311_media},
    /* a report filed by a client with an API key (open311.c checks it) */
    {"POST", "/open311/v2/requests.xml", GUARD_API_KEY, 0, FALSE, handle_open311_post},
    {"POST", "/open311/v2/requests.json", GUARD_API_KEY, 0, FALSE, handle_open311_post},
};

const Route *routes_all(gsize *n)
{
    *n = G_N_ELEMENTS(routes);
    return routes;
}

/* path against pattern; params get the {} segments */
static gboolean route_matches(const char *pattern, const char *path, char **params)
{
    g_auto(GStrv) want = g_strsplit(pattern, "/", -1);
    g_auto(GStrv) got = g_strsplit(path, "/", -1);
    if (g_strv_length(want) != g_strv_length(got))
        return FALSE;
    int n = 0;
    for (int i = 0; want[i]; i++) {
        if (g_str_equal(want[i], "{}")) {
            if (!*got[i] || n >= ROUTE_PARAMS_MAX)
                return FALSE;
            n++;
        } else if (!g_str_equal(want[i], got[i])) {
            return FALSE;
        }
    }
    for (int i = 0, k = 0; want[i]; i++) {
        if (g_str_equal(want[i], "{}"))
            params[k++] = g_strdup(got[i]);
    }
    return TRUE;
}

const Route *routes_find(const char *method, const char *path, char **params)
{
    const char *m = g_str_equal(method, "HEAD") ? "GET" : method;
    for (gsize i = 0; i < G_N_ELEMENTS(routes); i++) {
        if (g_str_equal(routes[i].method, m) && route_matches(routes[i].pattern, path, params))
            return &routes[i];
    }
    return NULL;
}

gboolean routes_permit(const Route *route, const Account *user)
{
    return route->guard == GUARD_OPEN || route->guard == GUARD_API_KEY ||
           (route->roles & access_role(user)) != 0;
}
