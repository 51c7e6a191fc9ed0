/* The data files the province edits in GKeyFile form (agencies, categories): what reading
 * each of them strictly takes. */
#include "conf/conf_private.h"
#include "util/util.h"

GBytes *conf_source(Config *from, const char *path, GError **error)
{
    if (from && from->from_snapshot) {
        GBytes *kept = g_hash_table_lookup(from->sources, path);
        if (!kept)
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "%s: not in the configuration pahtd runs with", path);
        return kept ? g_bytes_ref(kept) : NULL;
    }
    char *data = NULL;
    gsize len = 0;
    GError *local = NULL;
    if (!g_file_get_contents(path, &data, &len, &local)) {
        /* GLib's message names the file */
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "%s", local->message);
        g_error_free(local);
        return NULL;
    }
    GBytes *bytes = g_bytes_new_take(data, len);
    if (from)
        g_hash_table_replace(from->sources, g_strdup(path), g_bytes_ref(bytes));
    return bytes;
}

GKeyFile *keyfile_load(Config *from, const char *path, GError **error)
{
    g_autoptr(GBytes) bytes = conf_source(from, path, error);
    if (!bytes)
        return NULL;
    GKeyFile *kf = g_key_file_new();
    gsize len = 0;
    const char *data = g_bytes_get_data(bytes, &len);
    GError *local = NULL;
    if (!g_key_file_load_from_data(kf, data ? data : "", len, G_KEY_FILE_NONE, &local)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "%s: %s", path, local->message);
        g_error_free(local);
        g_key_file_unref(kf);
        return NULL;
    }
    return kf;
}

gboolean keyfile_keys_known(GKeyFile *kf, const char *path, const char *group,
                            const char *const *fields, gsize n_fields, GError **error)
{
    g_auto(GStrv) present = g_key_file_get_keys(kf, group, NULL, NULL);
    for (int k = 0; present && present[k]; k++) {
        gboolean known = FALSE;
        for (gsize f = 0; f < n_fields; f++)
            known = known || g_str_equal(present[k], fields[f]);
        if (!known) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "%s: [%s] %s: unknown key", path,
                        group, present[k]);
            return FALSE;
        }
    }
    return TRUE;
}
