/* The data files the province edits in GKeyFile form (agencies, categories): what reading
 * each of them strictly takes. */
#include "conf/conf_private.h"
#include "util/util.h"

GKeyFile *keyfile_load(const char *path, GError **error)
{
    GKeyFile *kf = g_key_file_new();
    GError *local = NULL;
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
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
