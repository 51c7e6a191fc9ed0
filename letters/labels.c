/* The names the letters give to what the code knows by a key (templates_dir/labels.ini): a
 * Điều 4 detail a report lacks, a deadline of the regulation, a kind of letter. Read at each
 * letter, as the templates are, so that the province changes a word without a restart; a name it
 * lacks stops the letter with a configuration error, as a broken template does. */
#include "letters/letters.h"
#include "notify/notify.h"
#include "util/util.h"

struct Labels {
    GKeyFile *file;
    char *path;
};

Labels *labels_load(const Config *c, GError **error)
{
    g_autofree char *path = g_build_filename(c->gateway.templates_dir, "labels.ini", NULL);
    g_autoptr(GKeyFile) file = g_key_file_new();
    GError *local = NULL;
    if (!g_key_file_load_from_file(file, path, G_KEY_FILE_NONE, &local)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "%s: %s", path, local->message);
        g_error_free(local);
        return NULL;
    }
    Labels *labels = g_new0(Labels, 1);
    labels->file = g_steal_pointer(&file);
    labels->path = g_steal_pointer(&path);
    return labels;
}

void labels_free(Labels *labels)
{
    if (!labels)
        return;
    g_key_file_unref(labels->file);
    g_free(labels->path);
    g_free(labels);
}

char *labels_get(const Labels *labels, const char *group, const char *name, const char *key,
                 GError **error)
{
    g_autofree char *section = g_strdup_printf("%s %s", group, name);
    GError *local = NULL;
    g_autofree char *value = g_key_file_get_string(labels->file, section, key, &local);
    if (!value || !*g_strstrip(value)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "%s: [%s] %s: %s", labels->path, section,
                    key, local ? local->message : "empty");
        g_clear_error(&local);
        return NULL;
    }
    return text_nfc(value);
}

gboolean labels_add(JsonBuilder *b, const Labels *labels, const char *group, const char *name,
                    const char *const *keys, GError **error)
{
    for (const char *const *k = keys; *k; k++) {
        g_autofree char *value = labels_get(labels, group, name, *k, error);
        if (!value)
            return FALSE;
        json_member_string(b, *k, value);
    }
    return TRUE;
}

char *labels_kind_name(const Labels *labels, const char *kind, GError **error)
{
    if (!kinds_find(kind))
        return g_strdup(kind);
    return labels_get(labels, "kind", kind, "name", error);
}
