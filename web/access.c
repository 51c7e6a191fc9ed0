/* Who sees what (issue 13): the IOC every report; an agency's staff and its leader the reports
 * whose main or coordinating agency it is, while the agency has them; the administrators
 * none (they keep the system, not the reports). A report a user may not see is answered
 * exactly like one that does not exist (view_load_report), so that its code reveals nothing.
 * Which pages and actions each role may use: routes.c's and actions.c's tables. */
#include "web/web_private.h"
#include "util/util.h"

#include <string.h>

RoleBit access_role(const Account *user)
{
    if (!user)
        return 0;
    if (g_str_equal(user->role, "ioc"))
        return ROLE_IOC;
    if (g_str_equal(user->role, "admin"))
        return ROLE_ADMIN;
    if (g_str_equal(user->role, "agency"))
        return ROLE_AGENCY;
    if (g_str_equal(user->role, "leader"))
        return ROLE_LEADER;
    return 0;
}

gboolean access_is_main_agency(const Account *user, const char *agency)
{
    RoleBit role = access_role(user);
    return (role == ROLE_AGENCY || role == ROLE_LEADER) && user->agency && agency &&
           g_ascii_strcasecmp(user->agency, agency) == 0;
}

gboolean access_sees_report(const Account *user, const char *agency, char **coordinators,
                            const char *state)
{
    RoleBit role = access_role(user);
    if (role == ROLE_IOC)
        return TRUE;
    if (role != ROLE_AGENCY && role != ROLE_LEADER)
        return FALSE;
    /* handed back to the IOC (Điều 8.1): no longer the agency's until assigned again */
    if (g_strcmp0(state, "returned") == 0)
        return FALSE;
    if (access_is_main_agency(user, agency))
        return TRUE;
    for (char **c = coordinators; agency && c && *c; c++) {
        if (g_ascii_strcasecmp(*c, user->agency) == 0)
            return TRUE;
    }
    return FALSE;
}

gboolean web_role_parse(const Config *config, const char *text, char **role, char **agency,
                        GError **error)
{
    *role = NULL;
    *agency = NULL;
    if (text && (g_str_equal(text, "ioc") || g_str_equal(text, "admin"))) {
        *role = g_strdup(text);
        return TRUE;
    }
    const char *colon = text ? strchr(text, ':') : NULL;
    g_autofree char *kind = colon ? g_strndup(text, (gsize)(colon - text)) : NULL;
    if (!kind || (!g_str_equal(kind, "agency") && !g_str_equal(kind, "leader"))) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT,
                    "the role is ioc, admin, agency:CODE or leader:CODE, not \"%s\"",
                    text ? text : "");
        return FALSE;
    }
    const Agency *a = config_find_agency(config, colon + 1);
    if (!a) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT,
                    "no agency \"%s\" in the agencies file (%s)", colon + 1,
                    config->gateway.agencies_file ? config->gateway.agencies_file : "none set");
        return FALSE;
    }
    *role = g_steal_pointer(&kind);
    *agency = g_strdup(a->code);
    return TRUE;
}
