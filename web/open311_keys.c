/* Open311's API keys (issue 15): [open311] api_keys_file, one "KEY CLIENT-NAME" a line, '#'
 * comments. The keys are secrets like the mail passwords: the file is refused unless private
 * (0600/0400). In memory only their SHA-256 is kept: a lookup by digest compares no key
 * byte by byte, so its time says nothing of a key. A POST is also counted per key, a fixed
 * window of an hour ([open311] requests_per_hour). */
#include "web/web_private.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYS_FILE_MAX_BYTES (1024 * 1024)
#define KEY_MIN_CHARS       16

char *open311_key_digest(const char *key)
{
    return g_compute_checksum_for_string(G_CHECKSUM_SHA256, key, -1);
}

static gboolean client_name_ok(const char *name)
{
    if (!*name || strlen(name) > 64)
        return FALSE;
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("._-", *p))
            return FALSE;
    }
    return TRUE;
}

static char *read_private_file(const char *path, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "[open311] api_keys_file %s: %s", path,
                    g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 0077) || st.st_size > KEYS_FILE_MAX_BYTES) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "[open311] api_keys_file %s must be a private file (chmod 600 %s) of at most "
                    "1 MB",
                    path, path);
        close(fd);
        return NULL;
    }
    char *text = g_malloc0((gsize)st.st_size + 1);
    ssize_t n = read(fd, text, (size_t)st.st_size);
    close(fd);
    if (n != st.st_size) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "[open311] api_keys_file %s: short read",
                    path);
        g_free(text);
        return NULL;
    }
    return text;
}

/* one line: "KEY CLIENT-NAME"; the digest and the name added to keys */
static gboolean key_line(GHashTable *keys, const char *path, int number, char *line, GError **error)
{
    g_strstrip(line);
    if (!*line || *line == '#')
        return TRUE;
    g_auto(GStrv) parts = g_strsplit_set(line, " \t", 2);
    char *name = parts[1] ? g_strstrip(parts[1]) : NULL;
    if (!name || strlen(parts[0]) < KEY_MIN_CHARS || !client_name_ok(name)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "[open311] api_keys_file %s line %d: \"KEY CLIENT-NAME\", a key of at least "
                    "%d characters and a name of letters, digits, '.', '-' and '_'",
                    path, number, KEY_MIN_CHARS);
        return FALSE;
    }
    char *digest = open311_key_digest(parts[0]);
    memset(parts[0], 0, strlen(parts[0]));
    if (g_hash_table_contains(keys, digest)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "[open311] api_keys_file %s line %d: a key given twice", path, number);
        g_free(digest);
        return FALSE;
    }
    g_hash_table_insert(keys, digest, g_strdup(name));
    return TRUE;
}

GHashTable *open311_keys_load(const Config *config, GError **error)
{
    GHashTable *keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    const char *path = config->open311.api_keys_file;
    if (!path)
        return keys;
    g_autofree char *text = read_private_file(path, error);
    g_auto(GStrv) lines = text ? g_strsplit(text, "\n", -1) : NULL;
    if (text)
        memset(text, 0, strlen(text));
    gboolean ok = lines != NULL;
    for (int i = 0; lines && lines[i]; i++) {
        ok = ok && key_line(keys, path, i + 1, lines[i], error);
        memset(lines[i], 0, strlen(lines[i]));
    }
    if (!ok)
        g_clear_pointer(&keys, g_hash_table_unref);
    return keys;
}

typedef struct {
    gint64 window_start;
    int count;
} KeyUse;

gboolean open311_key_admit(WebApp *app, const char *digest, gint64 now)
{
    g_mutex_lock(&app->open311_lock);
    KeyUse *use = g_hash_table_lookup(app->open311_use, digest);
    if (!use) {
        use = g_new0(KeyUse, 1);
        g_hash_table_insert(app->open311_use, g_strdup(digest), use);
    }
    if (now - use->window_start >= 3600 || now < use->window_start) {
        use->window_start = now;
        use->count = 0;
    }
    gboolean admitted = use->count < app->config->open311.requests_per_hour;
    if (admitted)
        use->count++;
    g_mutex_unlock(&app->open311_lock);
    return admitted;
}
