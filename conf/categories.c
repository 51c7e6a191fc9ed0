/* The categories file (issue 15): the fields (lĩnh vực) the IOC files accepted reports
 * under, each one an Open311 GeoReport v2 service. Same shape and same strictness as the
 * agencies file: a GKeyFile group per code, every key known, every value present. */
#include "conf/conf.h"
#include "conf/conf_private.h"
#include "util/util.h"

#include <string.h>

static const char *const category_fields[] = {"name", "description", "group", "agency"};

void category_free(Category *c)
{
    if (!c)
        return;
    g_free(c->code);
    g_free(c->name);
    g_free(c->description);
    g_free(c->group);
    g_free(c->agency);
    g_free(c);
}

/* a service_code travels in URLs (services/CODE.json) and in forms: letters, digits, '-'
 * and '_' only */
static gboolean category_code_ok(const char *code)
{
    if (!*code || strlen(code) > 64)
        return FALSE;
    for (const char *p = code; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_')
            return FALSE;
    }
    return TRUE;
}

static gboolean agency_known(const GPtrArray *agencies, const char *code)
{
    for (guint i = 0; agencies && i < agencies->len; i++) {
        const Agency *a = g_ptr_array_index((GPtrArray *)agencies, i);
        if (g_ascii_strcasecmp(a->code, code) == 0)
            return TRUE;
    }
    return FALSE;
}

static Category *category_read(GKeyFile *kf, const char *path, const char *group,
                               const GPtrArray *agencies, GError **error)
{
    g_autofree char *written = g_strstrip(g_strdup(group + strlen("category ")));
    g_autofree char *code = g_ascii_strdown(written, -1);
    if (!category_code_ok(code)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "%s: [%s]: a category code is letters, digits, '-' and '_'", path, group);
        return NULL;
    }
    if (!keyfile_keys_known(kf, path, group, category_fields, G_N_ELEMENTS(category_fields), error))
        return NULL;
    Category *c = g_new0(Category, 1);
    c->code = g_steal_pointer(&code);
    char **slots[] = {&c->name, &c->description, &c->group, &c->agency};
    for (gsize f = 0; f < G_N_ELEMENTS(category_fields); f++) {
        g_autofree char *v = g_key_file_get_string(kf, group, category_fields[f], NULL);
        if (!v || !*g_strstrip(v)) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "%s: [%s] %s: missing", path, group,
                        category_fields[f]);
            category_free(c);
            return NULL;
        }
        *slots[f] = text_nfc(v);
    }
    if (agencies && !agency_known(agencies, c->agency)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "%s: [%s] agency: \"%s\" is not in the agencies file", path, group, c->agency);
        category_free(c);
        return NULL;
    }
    return c;
}

GPtrArray *categories_load(const char *path, const GPtrArray *agencies, GError **error)
{
    return categories_read(NULL, path, agencies, error);
}

GPtrArray *categories_read(Config *from, const char *path, const GPtrArray *agencies,
                           GError **error)
{
    g_autoptr(GKeyFile) kf = keyfile_load(from, path, error);
    if (!kf)
        return NULL;
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)category_free);
    g_auto(GStrv) names = g_key_file_get_groups(kf, NULL);
    for (int i = 0; names[i]; i++) {
        if (!g_str_has_prefix(names[i], "category ")) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "%s: [%s]: groups must be named [category CODE]", path, names[i]);
            return NULL;
        }
        Category *c = category_read(kf, path, names[i], agencies, error);
        if (!c)
            return NULL;
        g_ptr_array_add(list, c);
    }
    return g_steal_pointer(&list);
}

const Category *config_find_category(const Config *config, const char *code)
{
    for (guint i = 0; config->categories && code && i < config->categories->len; i++) {
        const Category *c = g_ptr_array_index(config->categories, i);
        if (g_ascii_strcasecmp(c->code, code) == 0)
            return c;
    }
    return NULL;
}
