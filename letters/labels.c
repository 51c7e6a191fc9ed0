/* The names the letters give to what the code knows by a key (templates_dir/labels.ini): a
 * Điều 4 detail a report lacks, a deadline of the regulation, a kind of letter. Read at each
 * letter, as the templates are, so that the province changes a word without a restart; a name it
 * lacks stops the letter with a configuration error, as a broken template does. */
#include "letters/letters.h"
#include "notify/notify.h"
#include "util/util.h"

#include <string.h>

struct Labels {
    GKeyFile *file;     /* shared with the cache below: read only */
    GKeyFile *fallback; /* the installed labels.ini behind a province's own, or NULL */
    char *path;
};

/* labels.ini files as parsed last, a province's own and the installed one behind it, the
 * letters' and the console's (every letter and page asks for them, and parsing was a tenth of
 * a letter's cost): parsed again only when the file's text is another. The text comes from
 * notify's template cache, which reads the file again as soon as its inode, size, mtime or
 * ctime changes, so an edit is seen by the next letter or page. */
typedef struct {
    char *path, *text;
    GKeyFile *file;
} ParsedLabels;

static GMutex parsed_lock;
static ParsedLabels parsed[4];
static guint parsed_next;

static GKeyFile *labels_parsed_lookup(const char *path, const char *text)
{
    GKeyFile *file = NULL;
    g_mutex_lock(&parsed_lock);
    for (guint i = 0; i < G_N_ELEMENTS(parsed) && !file; i++) {
        if (parsed[i].file && strcmp(path, parsed[i].path) == 0 &&
            strcmp(text, parsed[i].text) == 0)
            file = g_key_file_ref(parsed[i].file);
    }
    g_mutex_unlock(&parsed_lock);
    return file;
}

static void labels_parsed_keep(const char *path, const char *text, GKeyFile *file)
{
    g_mutex_lock(&parsed_lock);
    guint slot = parsed_next;
    for (guint i = 0; i < G_N_ELEMENTS(parsed); i++) {
        if (parsed[i].path && strcmp(path, parsed[i].path) == 0)
            slot = i; /* the same file's older text */
    }
    if (slot == parsed_next)
        parsed_next = (parsed_next + 1) % G_N_ELEMENTS(parsed);
    ParsedLabels *p = &parsed[slot];
    g_free(p->path);
    g_free(p->text);
    if (p->file)
        g_key_file_unref(p->file);
    p->path = g_strdup(path);
    p->text = g_strdup(text);
    p->file = g_key_file_ref(file);
    g_mutex_unlock(&parsed_lock);
}

GKeyFile *labels_ini_load(const char *path, GError **error)
{
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
    return g_steal_pointer(&file);
}

const char *letters_fallback_dir(const Config *c)
{
    /* PAHT_TEST_INSTALLED_TEMPLATES (tests only, like PAHT_NOW; never set it in production):
     * the installed folder as a test says, "" for none, so that no test depends on whether
     * the machine has a copy installed at this build's prefix */
    const char *installed = g_getenv("PAHT_TEST_INSTALLED_TEMPLATES");
    if (!installed)
        installed = config_default_templates_dir();
    if (!*installed || g_strcmp0(installed, c->gateway.templates_dir) == 0)
        return NULL;
    return installed;
}

Labels *labels_load(const Config *c, GError **error)
{
    const char *behind = letters_fallback_dir(c);
    g_autofree char *path = template_file_path(c->gateway.templates_dir, behind, "labels.ini");
    GKeyFile *file = labels_ini_load(path, error);
    if (!file)
        return NULL;
    Labels *labels = g_new0(Labels, 1);
    labels->file = file;
    labels->path = g_steal_pointer(&path);
    /* a group or key a later version added, which the province's older copy lacks, comes
     * from the installed file (a fault in that one is not the province's: none then) */
    g_autofree char *installed = behind ? g_build_filename(behind, "labels.ini", NULL) : NULL;
    if (installed && !g_str_equal(installed, labels->path) &&
        g_file_test(installed, G_FILE_TEST_EXISTS))
        labels->fallback = labels_ini_load(installed, NULL);
    return labels;
}

void labels_free(Labels *labels)
{
    if (!labels)
        return;
    g_key_file_unref(labels->file);
    if (labels->fallback)
        g_key_file_unref(labels->fallback);
    g_free(labels->path);
    g_free(labels);
}

char *labels_get(const Labels *labels, const char *group, const char *name, const char *key,
                 GError **error)
{
    g_autofree char *section = g_strdup_printf("%s %s", group, name);
    GError *local = NULL;
    g_autofree char *value = g_key_file_get_string(labels->file, section, key, &local);
    if (!value && labels->fallback &&
        (g_error_matches(local, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND) ||
         g_error_matches(local, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND))) {
        g_clear_error(&local);
        value = g_key_file_get_string(labels->fallback, section, key, &local);
    }
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
        if (b)
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

/* ---- the periods of the statistics digest -----------------------------------------------------
 */

static const char *const period_kinds[] = {"month", "quarter", "half", "year", NULL};

const char *const *labels_period_kinds(void)
{
    return period_kinds;
}

char *labels_period_words(const Labels *labels, const char *kind, int year, int n, GError **error)
{
    static const char *const roman[] = {"", "I", "II", "III", "IV"};
    g_autofree char *format = labels_get(labels, "period", kind, "label", error);
    if (!format)
        return NULL;
    gboolean quarter = g_str_equal(kind, "quarter");
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_member_int(b, "year", year);
    json_member_int(b, "number", n);
    json_member_string(b, "roman", quarter && n >= 1 && n <= 4 ? roman[n] : "");
    json_member_bool(b, "first", n == 1);
    json_builder_end_object(b);
    g_autoptr(JsonNode) values = json_builder_get_root(b);
    GError *local = NULL;
    char *words = template_render(format, values, FALSE, &local);
    if (!words) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "%s: [period %s] label: %s", labels->path,
                    kind, local->message);
        g_error_free(local);
    }
    return words;
}
