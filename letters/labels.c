/* The names the letters give to what the code knows by a key (templates_dir/labels.ini): a
 * Điều 4 detail a report lacks, a deadline of the regulation, a kind of letter. Read at each
 * letter, as the templates are, so that the province changes a word without a restart; a name it
 * lacks stops the letter with a configuration error, as a broken template does. */
#include "letters/letters.h"
#include "notify/notify.h"
#include "util/util.h"

#include <string.h>

struct Labels {
    GKeyFile *file; /* shared with the cache below: read only */
    char *path;
};

/* labels.ini as parsed last (every letter asks for it, and parsing it was a tenth of a letter's
 * cost): parsed again only when the file's text is another. The text comes from notify's
 * template cache, which reads the file again as soon as its inode, size, mtime or ctime
 * changes, so an edit is seen by the next letter. The web console keeps its own the same way
 * (web/render.c). */
static GMutex parsed_lock;
static char *parsed_path;
static char *parsed_text;
static GKeyFile *parsed_file;

static GKeyFile *labels_parsed_lookup(const char *path, const char *text)
{
    GKeyFile *file = NULL;
    g_mutex_lock(&parsed_lock);
    if (parsed_file && strcmp(path, parsed_path) == 0 && strcmp(text, parsed_text) == 0)
        file = g_key_file_ref(parsed_file);
    g_mutex_unlock(&parsed_lock);
    return file;
}

static void labels_parsed_keep(const char *path, const char *text, GKeyFile *file)
{
    g_mutex_lock(&parsed_lock);
    g_free(parsed_path);
    g_free(parsed_text);
    if (parsed_file)
        g_key_file_unref(parsed_file);
    parsed_path = g_strdup(path);
    parsed_text = g_strdup(text);
    parsed_file = g_key_file_ref(file);
    g_mutex_unlock(&parsed_lock);
}

Labels *labels_load(const Config *c, GError **error)
{
    g_autofree char *path = g_build_filename(c->gateway.templates_dir, "labels.ini", NULL);
    GError *local = NULL;
    g_autofree char *text = template_file_text(path, &local);
    g_autoptr(GKeyFile) file = text ? labels_parsed_lookup(path, text) : NULL;
    if (text && !file) {
        file = g_key_file_new();
        if (g_key_file_load_from_data(file, text, -1, G_KEY_FILE_NONE, &local))
            labels_parsed_keep(path, text, file);
        else
            g_clear_pointer(&file, g_key_file_unref);
    }
    if (!file) { /* a read error names the file already */
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "%s%s%s", text ? path : "",
                    text ? ": " : "", local->message);
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
