/* util: errors, logging, clock, private files, hashing and text helpers. */
#include "util/util.h"

#include <errno.h>
#include <malloc.h>
#include <gnutls/crypto.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

GQuark paht_error_quark(void)
{
    return g_quark_from_static_string("paht-error-quark");
}

/* ---- logging ------------------------------------------------------------------------------ */

static char *log_program = NULL;
static LogLevel log_max_level = LOG_LEVEL_INFO;
/* PAHT_LOG_LEVEL was set: it wins over the configuration's log_level (log_set_level) */
static gboolean log_level_from_env;
static int log_use_prefix = -1; /* -1: decide on first use */

void log_init(const char *program_name)
{
    g_free(log_program);
    log_program = g_strdup(program_name);
    /* journald sets JOURNAL_STREAM for services; a terminal gets readable words instead */
    log_use_prefix = g_getenv("JOURNAL_STREAM") != NULL || !isatty(STDERR_FILENO);
    const char *env = g_getenv("PAHT_LOG_LEVEL");
    LogLevel level;
    log_level_from_env = env && log_level_from_string(env, &level);
    if (log_level_from_env)
        log_max_level = level;
}

void log_set_level(LogLevel max_level)
{
    if (!log_level_from_env)
        log_max_level = max_level;
}

gboolean log_level_from_string(const char *name, LogLevel *out)
{
    static const struct {
        const char *name;
        LogLevel level;
    } names[] = {{"error", LOG_LEVEL_ERROR},
                 {"warning", LOG_LEVEL_WARNING},
                 {"notice", LOG_LEVEL_NOTICE},
                 {"info", LOG_LEVEL_INFO},
                 {"debug", LOG_LEVEL_DEBUG}};
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        if (g_ascii_strcasecmp(name, names[i].name) == 0) {
            *out = names[i].level;
            return TRUE;
        }
    }
    return FALSE;
}

void log_message(LogLevel level, const char *fmt, ...)
{
    if (level > log_max_level)
        return;
    if (log_use_prefix < 0)
        log_use_prefix = g_getenv("JOURNAL_STREAM") != NULL || !isatty(STDERR_FILENO);
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* one line per message: a newline inside would start a new journal entry without prefix */
    g_strdelimit(text, "\r\n", ' ');
    static const char *const words[] = {"", "", "", "error", "warning", "notice", "info", "debug"};
    if (log_use_prefix)
        fprintf(stderr, "<%d>%s\n", (int)level, text);
    else
        fprintf(stderr, "%s: %s: %s\n", log_program ? log_program : "paht", words[level], text);
}

char *log_redact_address(const char *address)
{
    if (!address || !*address)
        return g_strdup("<>");
    const char *at = strrchr(address, '@');
    if (!at)
        return g_strdup("***");
    return g_strdup_printf("%c***%s", address[0] == '@' ? '?' : address[0], at);
}

char *address_normalise(const char *address, char **domain)
{
    if (domain)
        *domain = NULL;
    const char *at = address ? strrchr(address, '@') : NULL;
    if (!at || at == address || !at[1])
        return NULL;
    g_autofree char *local = g_ascii_strdown(address, at - address);
    char *plus = strchr(local, '+');
    if (plus && plus != local)
        *plus = '\0';
    g_autofree char *host = g_ascii_strdown(at + 1, -1);
    char *normal = g_strdup_printf("%s@%s", local, host);
    if (domain)
        *domain = g_steal_pointer(&host);
    return normal;
}

void memory_tune(gsize big_buffers)
{
    big_buffers = MIN(big_buffers, MEMORY_BIG_BUFFERS_MAX);
    /* a fixed threshold (setting any of these ends glibc's own adjusting): a buffer bigger
     * than big_buffers, a video's, is still given back at once. The heap keeps twice that. */
    if (big_buffers > 0)
        mallopt(M_MMAP_THRESHOLD, (int)big_buffers + 4096);
    mallopt(M_TRIM_THRESHOLD, (int)MAX(8 * 1024 * 1024, 2 * (big_buffers + 4096)));
    mallopt(M_TOP_PAD, 1024 * 1024);
}

/* ---- clock -------------------------------------------------------------------------------- */

gboolean clock_parse_rfc3339(const char *text, gint64 *unix_time)
{
    if (!text || !*text)
        return FALSE;
    /* GDateTime accepts ISO 8601 generally; RFC 3339 requires a date, a time and an offset */
    if (strlen(text) < 20 || (text[10] != 'T' && text[10] != 't' && text[10] != ' '))
        return FALSE;
    g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(text, NULL);
    if (!dt)
        return FALSE;
    const char *tail = text + strlen(text) - 1;
    if (*tail != 'Z' && *tail != 'z' &&
        !(strlen(text) >= 6 && text[strlen(text) - 3] == ':' &&
          (text[strlen(text) - 6] == '+' || text[strlen(text) - 6] == '-')))
        return FALSE;
    *unix_time = g_date_time_to_unix(dt);
    return TRUE;
}

gint64 clock_now_unix(void)
{
    const char *env = g_getenv("PAHT_NOW");
    gint64 t;
    if (env && *env && clock_parse_rfc3339(env, &t))
        return t;
    return g_get_real_time() / G_USEC_PER_SEC;
}

GDateTime *clock_now_utc(void)
{
    return g_date_time_new_from_unix_utc(clock_now_unix());
}

char *clock_format_rfc3339(gint64 unix_time, GTimeZone *zone)
{
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(unix_time);
    if (!zone)
        return g_date_time_format(utc, "%Y-%m-%dT%H:%M:%SZ");
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, zone);
    return g_date_time_format(local, "%Y-%m-%dT%H:%M:%S%:z");
}

/* ---- files -------------------------------------------------------------------------------- */

static gboolean set_errno_error(GError **error, const char *what, const char *path)
{
    int saved = errno;
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "%s %s: %s", what, path,
                g_strerror(saved));
    return FALSE;
}

gboolean fs_make_private_dir(const char *path, GError **error)
{
    if (g_mkdir_with_parents(path, 0700) != 0)
        return set_errno_error(error, "cannot create folder", path);
    return TRUE;
}

void fs_remove_tree(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    if (dir) {
        const char *name;
        while ((name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
                !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
                fs_remove_tree(child);
            else
                unlink(child);
        }
        g_dir_close(dir);
    }
    rmdir(path);
}

static FsSyncHook sync_hook;
static gpointer sync_hook_data;

void fs_set_sync_hook(FsSyncHook hook, gpointer data)
{
    sync_hook = hook;
    sync_hook_data = data;
}

/* fsync(2), told to the test hook */
static int sync_fd(int fd, const char *path)
{
    int rc = fsync(fd);
    if (rc == 0 && sync_hook)
        sync_hook(path, sync_hook_data);
    return rc;
}

gboolean fs_sync_dir(const char *path, GError **error)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return set_errno_error(error, "cannot open folder", path);
    int rc = sync_fd(fd, path);
    close(fd);
    if (rc != 0)
        return set_errno_error(error, "cannot sync folder", path);
    return TRUE;
}

int fs_open_private_temp(const char *dir, const char *prefix, char **path_out, GError **error)
{
    char *path = g_strdup_printf("%s/%sXXXXXX", dir, prefix);
    int fd = g_mkstemp_full(path, O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        set_errno_error(error, "cannot create temporary file in", dir);
        g_free(path);
        return -1;
    }
    *path_out = path;
    return fd;
}

gboolean fs_write_file_atomic(const char *path, const void *data, gsize len, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    g_autofree char *prefix = g_strdup_printf(".%s.", base);
    g_autofree char *temp = NULL;
    int fd = fs_open_private_temp(dir, prefix, &temp, error);
    if (fd < 0)
        return FALSE;
    if (!fs_write_all(fd, data, len))
        goto fail;
    if (sync_fd(fd, temp) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(temp, path) != 0)
        goto fail;
    return fs_sync_dir(dir, error);
fail:
    set_errno_error(error, "cannot write", path);
    if (fd >= 0)
        close(fd);
    unlink(temp);
    return FALSE;
}

gboolean fs_write_all(int fd, const void *data, gsize len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return FALSE;
        if (n == 0) {
            errno = EIO;
            return FALSE;
        }
        p += n;
        len -= (gsize)n;
    }
    return TRUE;
}

#define FD_WRITER_SIZE (64 * 1024)

struct FdWriter {
    int fd;
    gsize used;
    char buf[FD_WRITER_SIZE];
};

FdWriter *fd_writer_new(int fd)
{
    FdWriter *w = g_malloc(sizeof *w);
    w->fd = fd;
    w->used = 0;
    return w;
}

gboolean fd_writer_flush(FdWriter *w, int *err)
{
    gsize used = w->used;
    w->used = 0;
    if (used > 0 && !fs_write_all(w->fd, w->buf, used)) {
        *err = errno;
        return FALSE;
    }
    return TRUE;
}

gboolean fd_writer_write(FdWriter *w, const void *data, gsize len, int *err)
{
    if (w->used + len <= sizeof w->buf) {
        memcpy(w->buf + w->used, data, len);
        w->used += len;
        return TRUE;
    }
    if (!fd_writer_flush(w, err))
        return FALSE;
    if (len >= sizeof w->buf) {
        /* big enough to go straight to the file */
        if (!fs_write_all(w->fd, data, len)) {
            *err = errno;
            return FALSE;
        }
        return TRUE;
    }
    memcpy(w->buf, data, len);
    w->used = len;
    return TRUE;
}

void fd_writer_free(FdWriter *w)
{
    g_free(w);
}

gboolean fs_copy_to_fd(const char *src_path, int fd, GError **error)
{
    int in = open(src_path, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        int saved = errno;
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "cannot open %s: %s", src_path,
                    g_strerror(saved));
        return FALSE;
    }
    char buf[64 * 1024];
    gboolean ok = TRUE;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "cannot read %s: %s", src_path,
                        g_strerror(saved));
            ok = FALSE;
            break;
        }
        if (n == 0)
            break;
        if (!fs_write_all(fd, buf, (gsize)n)) {
            ok = set_errno_error(error, "cannot write a copy of", src_path);
            break;
        }
    }
    close(in);
    return ok;
}

/* the prefix folder of content-addressed files: made once, and its entry in dir synced when
 * new (FS_SYNC_NOW), since a file renamed into a folder whose own entry is lost in a crash is
 * lost with it */
static gboolean make_content_folder(const char *dir, const char *folder, FsSyncWhen when,
                                    GError **error)
{
    if (mkdir(folder, 0700) != 0) {
        if (errno == EEXIST)
            return TRUE;
        if (errno != ENOENT)
            return set_errno_error(error, "cannot create folder", folder);
        /* dir itself is missing (the gateway makes it at start) */
        if (!fs_make_private_dir(folder, error))
            return FALSE;
    }
    return when == FS_SYNC_LATER || fs_sync_dir(dir, error);
}

char *fs_content_path(const char *dir, const char *sha256_hex, const char *suffix, GError **error)
{
    return fs_content_path_when(dir, sha256_hex, suffix, FS_SYNC_NOW, error);
}

char *fs_content_path_when(const char *dir, const char *sha256_hex, const char *suffix,
                           FsSyncWhen when, GError **error)
{
    char sub[3] = {sha256_hex[0], sha256_hex[1], 0};
    g_autofree char *folder = g_build_filename(dir, sub, NULL);
    if (!make_content_folder(dir, folder, when, error))
        return NULL;
    g_autofree char *name = g_strconcat(sha256_hex, suffix ? suffix : "", NULL);
    return g_build_filename(folder, name, NULL);
}

/* fsync of the file at path */
static gboolean sync_file(const char *path, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return set_errno_error(error, "cannot open", path);
    int rc = sync_fd(fd, path);
    close(fd);
    return rc == 0 || set_errno_error(error, "cannot sync", path);
}

/* The content file already at path is the one named sha256_hex, size bytes long. A file
 * written without its own fsync (FS_SYNC_LATER) that a power cut caught before the file
 * system was synced can be there with its name and another content: empty, cut short, or its
 * blocks not written (zeros). Its row may have reached the disk (SQLite's WAL is written back
 * whenever the kernel likes), so a name alone proves nothing. */
gboolean fs_content_whole(const char *path, gint64 size, const char *sha256_hex)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != size)
        return FALSE;
    g_autofree char *digest = sha256_file(path, NULL, NULL);
    return digest && g_ascii_strcasecmp(digest, sha256_hex) == 0;
}

void fs_forget_cached(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
}

gboolean fs_content_whole_on_disk(const char *path, gint64 size, const char *sha256_hex)
{
    /* dirty pages stay (their write is still to come); clean ones are read again */
    fs_forget_cached(path);
    return fs_content_whole(path, size, sha256_hex);
}

gboolean fs_commit_content(const char *temp_path, const char *final_path, const char *sha256_hex,
                           FsSyncWhen when, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(final_path);
    struct stat temp_st, st;
    if (stat(temp_path, &temp_st) != 0)
        return set_errno_error(error, "cannot read", temp_path);
    if (stat(final_path, &st) == 0) {
        if (fs_content_whole(final_path, (gint64)temp_st.st_size, sha256_hex)) {
            /* same content: keep the one already there, and make it durable (whoever put it
             * there may not have synced it, nor its folder, yet: a pahtd batch, a crash) */
            unlink(temp_path);
            return when == FS_SYNC_LATER ||
                   (sync_file(final_path, error) && fs_sync_dir(dir, error));
        }
        log_warning("content file %s was damaged (cut short by a crash before it reached the "
                    "disk?): written again",
                    final_path);
    }
    if (when == FS_SYNC_NOW && !sync_file(temp_path, error))
        return FALSE;
    if (rename(temp_path, final_path) != 0)
        return set_errno_error(error, "cannot rename onto", final_path);
    return when == FS_SYNC_LATER || fs_sync_dir(dir, error);
}

gboolean fs_sync_fd(int fd, const char *path, GError **error)
{
    /* syncfs(2) reports the write-back errors of the file system since Linux 5.8 */
    if (syncfs(fd) != 0)
        return set_errno_error(error, "cannot sync the file system of", path);
    if (sync_hook)
        sync_hook(path, sync_hook_data);
    return TRUE;
}

gboolean fs_sync_filesystem(const char *path, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return set_errno_error(error, "cannot open", path);
    gboolean ok = fs_sync_fd(fd, path, error);
    close(fd);
    return ok;
}

/* ---- hashing and randomness --------------------------------------------------------------- */

struct Sha256 {
    gnutls_hash_hd_t hd;
};

Sha256 *sha256_new(void)
{
    Sha256 *sum = g_new0(Sha256, 1);
    if (gnutls_hash_init(&sum->hd, GNUTLS_DIG_SHA256) < 0)
        g_error("GnuTLS cannot hash with SHA-256"); /* a broken installation: cannot go on */
    return sum;
}

void sha256_update(Sha256 *sum, const void *data, gsize len)
{
    if (len > 0)
        gnutls_hash(sum->hd, data, len);
}

char *sha256_finish(Sha256 *sum)
{
    guchar digest[32];
    gnutls_hash_deinit(sum->hd, digest);
    g_free(sum);
    static const char hex[] = "0123456789abcdef";
    char *out = g_malloc(65);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[64] = 0;
    return out;
}

void sha256_free(Sha256 *sum)
{
    if (!sum)
        return;
    gnutls_hash_deinit(sum->hd, NULL);
    g_free(sum);
}

char *sha256_file(const char *path, gint64 *size_out, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        set_errno_error(error, "cannot open", path);
        return NULL;
    }
    Sha256 *sum = sha256_new();
    guchar buf[65536];
    gint64 total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            set_errno_error(error, "cannot read", path);
            close(fd);
            sha256_free(sum);
            return NULL;
        }
        if (n == 0)
            break;
        sha256_update(sum, buf, (gsize)n);
        total += n;
    }
    close(fd);
    if (size_out)
        *size_out = total;
    return sha256_finish(sum);
}

char *sha256_bytes(const void *data, gsize len)
{
    Sha256 *sum = sha256_new();
    sha256_update(sum, data, len);
    return sha256_finish(sum);
}

char *random_hex(gsize n_bytes)
{
    guchar *buf = g_malloc(n_bytes);
    gsize got = 0;
    while (got < n_bytes) {
        ssize_t n = getrandom(buf + got, n_bytes - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            g_error("getrandom failed: %s", g_strerror(errno)); /* no entropy: cannot go on */
        got += (gsize)n;
    }
    char *hex = g_malloc(n_bytes * 2 + 1);
    for (gsize i = 0; i < n_bytes; i++) {
        hex[2 * i] = "0123456789abcdef"[buf[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[buf[i] & 0xf];
    }
    hex[n_bytes * 2] = '\0';
    g_free(buf);
    return hex;
}

/* ---- patterns ----------------------------------------------------------------------------- */

#define REGEX_KEPT_MAX 64

GRegex *regex_kept(const char *pattern, GRegexCompileFlags flags)
{
    static GMutex lock;
    static GHashTable *kept; /* "flags:pattern" -> GRegex * */
    g_autofree char *key = g_strdup_printf("%x:%s", (unsigned)flags, pattern);
    g_mutex_lock(&lock);
    if (!kept)
        kept =
            g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_regex_unref);
    GRegex *re = g_hash_table_lookup(kept, key);
    if (re) {
        g_regex_ref(re);
    } else {
        re = g_regex_new(pattern, flags, 0, NULL);
        if (re && g_hash_table_size(kept) < REGEX_KEPT_MAX)
            g_hash_table_insert(kept, g_steal_pointer(&key), g_regex_ref(re));
    }
    g_mutex_unlock(&lock);
    return re;
}

/* ---- text --------------------------------------------------------------------------------- */

/* GLib 2.74's g_utf8_normalize is quadratic in the number of compositions (each one moves the
 * rest of the buffer), seen: 0.4 ms for 20 KB of already-NFC Vietnamese, hours for a hostile
 * megabyte. Text that is NFC already needs nothing, and NFC of a text is the NFC of its
 * pieces when the pieces are cut before characters that never combine with what precedes
 * them. So we normalise only the small pieces around characters that might change. */

/* NFC by itself and never composed with a following character's predecessor: Latin,
 * Latin-1, IPA, spacing modifiers and the precomposed Vietnamese letters (U+1E00-U+1EFF) */
static gboolean nfc_stable(gunichar c)
{
    return c < 0x300 || (c >= 0x1e00 && c <= 0x1eff) || (c >= 0x2010 && c <= 0x2027) ||
           (c >= 0x2030 && c <= 0x205e) || (c >= 0x20a0 && c <= 0x20c0);
}

/* a piece may start at c: a starter that is never the second character of a composition
 * (those are combining marks and the Hangul vowel and trailing jamo) */
static gboolean nfc_boundary_before(gunichar c)
{
    if (c < 0x80)
        return TRUE;
    if (g_unichar_combining_class(c) != 0)
        return FALSE;
    GUnicodeType type = g_unichar_type(c);
    if (type == G_UNICODE_NON_SPACING_MARK || type == G_UNICODE_SPACING_MARK ||
        type == G_UNICODE_ENCLOSING_MARK)
        return FALSE;
    return !((c >= 0x1161 && c <= 0x1175) || (c >= 0x11a8 && c <= 0x11c2));
}

static void append_nfc(GString *out, const char *start, const char *end)
{
    char *nfc = g_utf8_normalize(start, end - start, G_NORMALIZE_NFC);
    if (nfc)
        g_string_append(out, nfc);
    else
        g_string_append_len(out, start, end - start);
    g_free(nfc);
}

char *text_nfc_len(const char *s, gssize len)
{
    gsize n = len < 0 ? strlen(s) : (gsize)len;
    const char *end = s + n;
    GString *out = NULL;
    const char *copied = s;     /* s..copied is in out already */
    const char *boundary = s;   /* the latest place a piece may start */
    const char *pending = NULL; /* start of a piece that needs normalising */
    int non_starters = 0;       /* since the boundary */
    for (const char *p = s; p < end;) {
        guchar b = (guchar)*p;
        gunichar c = b < 0x80 ? b : g_utf8_get_char(p);
        /* a stable character (ASCII, the Vietnamese letters) is a starter and no mark: the
         * look-ups of nfc_boundary_before() only for the others */
        gboolean stable = nfc_stable(c);
        gboolean starts = stable || nfc_boundary_before(c);
        /* UAX #15's stream-safe text format: no real text has more than 30 non-starters in a
         * row, and GLib orders a run of marks in quadratic time ("Zalgo" text, 300 KB of
         * marks); a longer run is cut into pieces as if a starter came between them */
        non_starters = starts ? 0 : non_starters + 1;
        if (non_starters > 30) {
            starts = TRUE;
            non_starters = 0;
        }
        if (starts) {
            if (pending) {
                if (!out)
                    out = g_string_sized_new(n + 16);
                g_string_append_len(out, copied, pending - copied);
                append_nfc(out, pending, p);
                copied = p;
                pending = NULL;
            }
            boundary = p;
        }
        if (!pending && !stable)
            pending = boundary;
        p = b < 0x80 ? p + 1 : g_utf8_next_char(p);
    }
    if (!out && !pending)
        return g_strndup(s, n);
    /* the last piece alone, even when it is the only one: normalising the whole text because
     * its last character is unstable (an emoji, U+FFFD at the end) cost a second for 300 KB */
    if (!out)
        out = g_string_sized_new(n + 16);
    g_string_append_len(out, copied, (pending ? pending : end) - copied);
    if (pending)
        append_nfc(out, pending, end);
    return g_string_free(out, FALSE);
}

/* The length of the valid UTF-8 at p in which every character is nfc_stable(): ASCII eight
 * octets at a time, two- and three-octet forms decoded in place (no overlong form, surrogate
 * or short sequence is taken: those leads and continuations are not accepted here). Text in
 * Vietnamese or another Latin script is all such, so validating it and finding it NFC already
 * is one pass, without a call per character. */
static gsize nfc_stable_prefix(const char *s, gsize n)
{
    const guchar *p = (const guchar *)s, *end = p + n;
    const guint64 highs = G_GUINT64_CONSTANT(0x8080808080808080);
    while (p < end) {
        if (end - p >= 8) {
            guint64 w;
            memcpy(&w, p, sizeof w);
            guint64 high = w & highs;
            if (!high) {
                p += 8;
                continue;
            }
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
            /* past the ASCII before the first octet above 127, at once: in Vietnamese one
             * comes every few characters, so whole words of ASCII are rare */
            p += __builtin_ctzll(high) >> 3;
#endif
        }
        guchar b = p[0];
        if (b < 0x80) {
            p++;
            continue;
        }
        gunichar c;
        if (b >= 0xC2 && b <= 0xDF && end - p >= 2 && (p[1] & 0xC0) == 0x80) {
            c = ((gunichar)(b & 0x1F) << 6) | (p[1] & 0x3F);
            if (!nfc_stable(c))
                break;
            p += 2;
        } else if (b >= 0xE1 && b <= 0xEF && b != 0xED && end - p >= 3 && (p[1] & 0xC0) == 0x80 &&
                   (p[2] & 0xC0) == 0x80) {
            c = ((gunichar)(b & 0x0F) << 12) | ((gunichar)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
            if (!nfc_stable(c))
                break;
            p += 3;
        } else {
            break;
        }
    }
    return (gsize)(p - (const guchar *)s);
}

char *text_nfc(const char *utf8)
{
    if (!utf8)
        return NULL;
    gsize n = strlen(utf8);
    gsize stable = nfc_stable_prefix(utf8, n);
    if (stable == n)
        return g_strndup(utf8, n);
    /* the rest as before: validated, then normalised from the start (a piece may begin
     * before the first unstable character) */
    if (!g_utf8_validate(utf8 + stable, (gssize)(n - stable), NULL))
        return NULL;
    return text_nfc_len(utf8, (gssize)n);
}

char *text_clean_line(const char *utf8)
{
    g_autofree char *nfc = text_nfc(utf8);
    if (!nfc)
        return NULL;
    GString *out = g_string_sized_new(strlen(nfc));
    gboolean pending_space = FALSE;
    for (const char *p = nfc; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (g_unichar_isspace(c) || c == 0x00A0 || c == 0x200B || g_unichar_iscntrl(c)) {
            pending_space = out->len > 0;
            continue;
        }
        if (pending_space)
            g_string_append_c(out, ' ');
        pending_space = FALSE;
        g_string_append_unichar(out, c);
    }
    return g_string_free(out, FALSE);
}

/* What each character of the Basic Multilingual Plane folds to: 0 for "drop it" (a mark), a
 * code point otherwise, or FOLD_SLOW when it decomposes into more than one letter. Built a
 * block of 256 characters at a time, on the first use of one of them: folding runs over the
 * text of every message, and looking a character up is ten times cheaper than decomposing it,
 * but the whole plane cost each process 22 M instructions (as much as parsing 30 mails) for
 * the few blocks that mail uses. */
#define FOLD_SLOW 0xFFFFu

static gboolean is_mark(gunichar c)
{
    GUnicodeType type = g_unichar_type(c);
    return type == G_UNICODE_NON_SPACING_MARK || type == G_UNICODE_SPACING_MARK ||
           type == G_UNICODE_ENCLOSING_MARK;
}

static guint16 fold_char_slow(gunichar c)
{
    if (c == 0x0111 || c == 0x0110) /* đ Đ: not a decomposable letter */
        return 'd';
    if (c >= 0xD800 && c <= 0xDFFF)
        return FOLD_SLOW;
    gunichar parts[G_UNICHAR_MAX_DECOMPOSITION_LENGTH];
    gsize n = g_unichar_fully_decompose(c, FALSE, parts, G_N_ELEMENTS(parts));
    gunichar kept = 0;
    int letters = 0;
    for (gsize i = 0; i < n; i++) {
        if (is_mark(parts[i]))
            continue;
        kept = g_unichar_tolower(parts[i]);
        letters++;
    }
    return letters == 0 ? 0 : (letters == 1 && kept < FOLD_SLOW ? (guint16)kept : FOLD_SLOW);
}

/* c's entry (c < 0x10000); a block is published once, whichever thread builds it first */
static guint16 fold_lookup(gunichar c)
{
    static guint16 *blocks[256];
    guint16 *block = g_atomic_pointer_get(&blocks[c >> 8]);
    if (G_UNLIKELY(!block)) {
        guint16 *built = g_new(guint16, 256);
        for (gunichar k = 0; k < 256; k++)
            built[k] = fold_char_slow((c & ~0xFFu) | k);
        if (g_atomic_pointer_compare_and_exchange(&blocks[c >> 8], NULL, built))
            block = built;
        else {
            g_free(built);
            block = g_atomic_pointer_get(&blocks[c >> 8]);
        }
    }
    return block[c & 0xFF];
}

/* the folded text being made, and for each of its bytes the offset of the original character
 * it came from (origin, when asked for) */
typedef struct {
    char *s;
    guint *origin;
    gsize len, allocated;
} FoldOut;

/* room for n more bytes and the NUL after them */
static inline void fold_reserve(FoldOut *o, gsize n)
{
    if (G_LIKELY(o->len + n < o->allocated))
        return;
    o->allocated = MAX(2 * o->allocated, o->len + n + 1);
    o->s = g_realloc(o->s, o->allocated);
    if (o->origin)
        o->origin = g_renew(guint, o->origin, o->allocated);
}

static void fold_put_unichar(FoldOut *o, gunichar c, guint at)
{
    fold_reserve(o, 6);
    gsize n = (gsize)g_unichar_to_utf8(c, o->s + o->len);
    for (gsize i = 0; o->origin && i < n; i++)
        o->origin[o->len + i] = at;
    o->len += n;
}

/* an ASCII byte lowercased without a branch (0x20 set for A-Z) */
static inline char ascii_lower(guchar c)
{
    return (char)(c | ((guint)(c - 'A') < 26u) << 5);
}

char *text_fold_mapped(const char *utf8, gsize len, gsize *folded_len, guint **origin)
{
    FoldOut o = {.allocated = len + 1};
    o.s = g_malloc(o.allocated);
    o.origin = origin ? g_new(guint, o.allocated) : NULL;
    const guchar *text = (const guchar *)utf8, *p = text, *end = text + len;
    while (p < end) {
        if (*p < 0x80) {
            /* a run of ASCII, lowercased as it is copied; room for the rest of the text, were
             * it all ASCII (there is, unless a character before made more bytes than it had) */
            fold_reserve(&o, (gsize)(end - p));
            const guchar *run = p;
            char *w = o.s + o.len;
            if (o.origin) {
                guint *from = o.origin + o.len, at = (guint)(p - text);
                do {
                    *w++ = ascii_lower(*p);
                    *from++ = at++;
                } while (++p < end && *p < 0x80);
            } else {
                do
                    *w++ = ascii_lower(*p);
                while (++p < end && *p < 0x80);
            }
            o.len += (gsize)(p - run);
            continue;
        }
        guint at = (guint)(p - text);
        gsize left = (gsize)(end - p);
        /* the two- and three-byte forms (every letter of Vietnamese) decoded in place,
         * without a call per character */
        gunichar c;
        if ((*p & 0xE0) == 0xC0 && left >= 2 && (p[1] & 0xC0) == 0x80) {
            c = ((gunichar)(*p & 0x1F) << 6) | (p[1] & 0x3F);
            p += 2;
        } else if ((*p & 0xF0) == 0xE0 && left >= 3 && (p[1] & 0xC0) == 0x80 &&
                   (p[2] & 0xC0) == 0x80) {
            c = ((gunichar)(*p & 0x0F) << 12) | ((gunichar)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
            p += 3;
        } else {
            c = g_utf8_get_char_validated((const char *)p, (gssize)left);
            if (c == (gunichar)-1 || c == (gunichar)-2) {
                p++; /* not UTF-8: left out (text_fold makes its input valid first) */
                continue;
            }
            p = (const guchar *)g_utf8_next_char(p);
        }
        guint16 folded = c < 0x10000 ? fold_lookup(c) : FOLD_SLOW;
        if (folded == 0)
            continue;
        if (folded < 0x80) { /* a letter of Vietnamese without its marks, most often */
            fold_reserve(&o, 1);
            if (o.origin)
                o.origin[o.len] = at;
            o.s[o.len++] = (char)folded;
            continue;
        }
        if (folded != FOLD_SLOW) {
            fold_put_unichar(&o, folded, at);
            continue;
        }
        /* several letters (ligatures, Hangul) or beyond the BMP: decompose this one */
        gunichar parts[G_UNICHAR_MAX_DECOMPOSITION_LENGTH];
        gsize n = g_unichar_fully_decompose(c, FALSE, parts, G_N_ELEMENTS(parts));
        for (gsize i = 0; i < n; i++) {
            if (!is_mark(parts[i]))
                fold_put_unichar(&o, g_unichar_tolower(parts[i]), at);
        }
    }
    o.s[o.len] = '\0';
    if (folded_len)
        *folded_len = o.len;
    if (origin)
        *origin = o.origin;
    return o.s;
}

char *text_fold(const char *utf8)
{
    if (!utf8)
        return NULL;
    g_autofree char *valid = g_utf8_validate(utf8, -1, NULL) ? NULL : g_utf8_make_valid(utf8, -1);
    const char *text = valid ? valid : utf8;
    return text_fold_mapped(text, strlen(text), NULL, NULL);
}

char *text_fold_words(const char *utf8)
{
    g_autofree char *folded = text_fold(utf8);
    if (!folded)
        return NULL;
    GString *out = g_string_new(NULL);
    gboolean space = FALSE;
    for (const char *p = folded; *p; p++) {
        if (g_ascii_isalnum(*p)) {
            if (space && out->len)
                g_string_append_c(out, ' ');
            g_string_append_c(out, *p);
            space = FALSE;
        } else {
            space = TRUE;
        }
    }
    return g_string_free(out, FALSE);
}

gboolean text_is_header_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if (*p < 0x20 && *p != '\t')
            return FALSE;
        if (*p == 0x7f)
            return FALSE;
    }
    return TRUE;
}

gboolean text_is_visible_ascii(const char *s)
{
    while ((guchar)*s >= 0x20 && (guchar)*s < 0x7f)
        s++;
    return *s == '\0';
}

char *text_header_sanitize(const char *s)
{
    if (!s)
        return g_strdup("");
    if (text_is_visible_ascii(s)) /* nothing to replace */
        return g_strstrip(g_strdup(s));
    char *copy = g_strdup(s);
    for (unsigned char *p = (unsigned char *)copy; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            *p = ' ';
    }
    /* also the Unicode line separators some mailers honour */
    g_autofree char *valid = g_utf8_make_valid(copy, -1);
    g_free(copy);
    GString *out = g_string_new(NULL);
    for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (c == 0x2028 || c == 0x2029 || c == 0x0085)
            c = ' ';
        g_string_append_unichar(out, c);
    }
    return g_strstrip(g_string_free(out, FALSE));
}

/* ---- mail files --------------------------------------------------------------------------- */

/* Finds the empty line that ends a header block (RFC 5322 §2.1), fed piece by piece. */
typedef struct {
    gboolean line_start; /* the next byte starts a line */
    gboolean cr;         /* a line started with CR: LF next makes it the empty line */
} HeaderEndScanner;

#define HEADER_END_SCANNER_INIT                                                                    \
    {                                                                                              \
        TRUE, FALSE                                                                                \
    }

/* the offset in data just past the empty line, or -1 when it is not in data. Only the bytes
 * at a line's start are looked at one by one: within a line memchr finds its end. */
static gssize header_end_feed(HeaderEndScanner *s, const char *data, gsize len)
{
    gsize i = 0;
    while (i < len) {
        if (s->line_start || s->cr) {
            char c = data[i++];
            if (c == '\n')
                return (gssize)i;
            s->cr = s->line_start && c == '\r';
            s->line_start = FALSE;
            continue;
        }
        const char *lf = memchr(data + i, '\n', len - i);
        if (!lf)
            return -1; /* the block ends within a line */
        i = (gsize)(lf - data) + 1;
        s->line_start = TRUE;
    }
    return -1;
}

gsize mail_header_block_length_of(const char *data, gsize len, gsize max)
{
    HeaderEndScanner scan = HEADER_END_SCANNER_INIT;
    gsize look = MIN(len, max + 1);
    gssize end = header_end_feed(&scan, data, look);
    return end >= 0 ? (gsize)end : look;
}

gboolean mail_header_block_length(int fd, gsize max, gsize *length, GError **error)
{
    HeaderEndScanner scan = HEADER_END_SCANNER_INIT;
    char buf[16384];
    gsize done = 0;
    while (done <= max) {
        ssize_t n = pread(fd, buf, MIN(sizeof buf, max + 1 - done), (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return set_errno_error(error, "cannot read", "the message");
        if (n == 0)
            break; /* no empty line: headers only */
        gssize end = header_end_feed(&scan, buf, (gsize)n);
        if (end >= 0) {
            *length = done + (gsize)end;
            return TRUE;
        }
        done += (gsize)n;
    }
    *length = done;
    return TRUE;
}

/* The body digest's bytes are gathered before they are hashed: a mail is mostly lines of 76
 * characters of base64, and one hash call per line cost more than hashing them (issue 18) */
typedef struct {
    Sha256 *sum;
    gsize fill;
    char buf[16384];
} DigestStage;

static void stage_flush(DigestStage *st)
{
    if (st->fill)
        sha256_update(st->sum, st->buf, st->fill);
    st->fill = 0;
}

static void stage_put(DigestStage *st, const char *data, gsize len)
{
    if (st->fill == 0 && len >= sizeof st->buf) {
        sha256_update(st->sum, data, len);
        return;
    }
    while (len > 0) {
        if (st->fill == sizeof st->buf)
            stage_flush(st);
        gsize take = MIN(len, sizeof st->buf - st->fill);
        memcpy(st->buf + st->fill, data, take);
        st->fill += take;
        data += take;
        len -= take;
    }
}

/* the body digest reads CRLF as LF; *pending_cr: data so far ended in CR */
static void body_digest_update(Sha256 *sum, const char *data, gsize len, gboolean *pending_cr)
{
    DigestStage st = {.sum = sum};
    gsize start = 0;
    if (*pending_cr && len > 0) {
        if (data[0] != '\n')
            stage_put(&st, "\r", 1);
        *pending_cr = FALSE;
    }
    for (const char *cr = memchr(data, '\r', len); cr;
         cr = memchr(cr + 1, '\r', len - (gsize)(cr + 1 - data))) {
        gsize i = (gsize)(cr - data);
        if (i + 1 == len) {
            stage_put(&st, data + start, i - start);
            stage_flush(&st);
            *pending_cr = TRUE;
            return;
        }
        if (data[i + 1] == '\n') {
            stage_put(&st, data + start, i - start);
            start = i + 1;
        }
    }
    stage_put(&st, data + start, len - start);
    stage_flush(&st);
}

void mail_file_identity_clear(MailFileIdentity *identity)
{
    g_clear_pointer(&identity->sha256, g_free);
    g_clear_pointer(&identity->body_sha256, g_free);
    g_clear_pointer(&identity->message_id, g_free);
    identity->size = 0;
    identity->header_bytes = 0;
}

struct MailIdentityBuilder {
    MailFileIdentity id;
    Sha256 *all;
    gboolean want_body; /* the body digest too (mail_file_body_sha256) */
    gboolean in_body;   /* the header block has ended */
    Sha256 *body;       /* ... and its digest, when wanted */
    gboolean pending_cr;
    HeaderEndScanner scan;
    GString *head; /* the first MAIL_HEADER_MAX_BYTES of the header block */
};

MailIdentityBuilder *mail_identity_new(void)
{
    MailIdentityBuilder *b = g_new0(MailIdentityBuilder, 1);
    b->all = sha256_new();
    b->scan = (HeaderEndScanner)HEADER_END_SCANNER_INIT;
    b->head = g_string_new(NULL);
    return b;
}

void mail_identity_feed(MailIdentityBuilder *b, const void *data, gsize len)
{
    const char *buf = data;
    sha256_update(b->all, buf, len);
    b->id.size += (gint64)len;
    if (b->in_body) {
        if (b->body)
            body_digest_update(b->body, buf, len, &b->pending_cr);
        return;
    }
    gssize end = header_end_feed(&b->scan, buf, len);
    gsize in_head = end >= 0 ? (gsize)end : len;
    b->id.header_bytes += (gint64)in_head;
    if (b->head->len < MAIL_HEADER_MAX_BYTES)
        g_string_append_len(b->head, buf,
                            (gssize)MIN(in_head, MAIL_HEADER_MAX_BYTES - b->head->len));
    if (end >= 0) {
        b->in_body = TRUE;
        if (b->want_body) {
            b->body = sha256_new();
            body_digest_update(b->body, buf + end, len - in_head, &b->pending_cr);
        }
    }
}

void mail_identity_finish(MailIdentityBuilder *b, MailFileIdentity *out)
{
    if (b->want_body && !b->body)
        b->body = sha256_new(); /* headers only, no empty line: the body is empty */
    if (b->body && b->pending_cr)
        sha256_update(b->body, "\r", 1);
    *out = b->id;
    out->body_sha256 = b->body ? sha256_finish(g_steal_pointer(&b->body)) : NULL;
    out->sha256 = sha256_finish(g_steal_pointer(&b->all));
    g_autofree char *id = mail_header_find(b->head->str, b->head->len, "Message-ID");
    out->message_id = mail_message_id_clean(id);
    mail_identity_free(b);
}

void mail_identity_free(MailIdentityBuilder *b)
{
    if (!b)
        return;
    sha256_free(b->all);
    sha256_free(b->body);
    g_string_free(b->head, TRUE);
    g_free(b);
}

static gboolean identity_of_file(const char *path, gboolean want_body, MailFileIdentity *out,
                                 GError **error)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return set_errno_error(error, "cannot open", path);
    MailIdentityBuilder *b = mail_identity_new();
    b->want_body = want_body;
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            set_errno_error(error, "cannot read", path);
            close(fd);
            mail_identity_free(b);
            return FALSE;
        }
        if (n == 0)
            break;
        mail_identity_feed(b, buf, (gsize)n);
    }
    close(fd);
    mail_identity_finish(b, out);
    return TRUE;
}

gboolean mail_file_identity(const char *path, MailFileIdentity *out, GError **error)
{
    return identity_of_file(path, FALSE, out, error);
}

gboolean mail_file_identity_with_body(const char *path, MailFileIdentity *out, GError **error)
{
    return identity_of_file(path, TRUE, out, error);
}

/* name matches the header starting at line (up to its colon, with optional blanks before it) */
static const char *header_value_start(const char *line, const char *end, const char *name)
{
    gsize n = strlen(name);
    if ((gsize)(end - line) <= n || g_ascii_strncasecmp(line, name, n) != 0)
        return NULL;
    const char *p = line + n;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p < end && *p == ':' ? p + 1 : NULL;
}

char *mail_header_find(const char *block, gsize len, const char *name)
{
    if (!block)
        return NULL;
    const char *end = block + len;
    GString *value = NULL;
    for (const char *line = block; line < end;) {
        const char *nl = memchr(line, '\n', (gsize)(end - line));
        const char *line_end = nl ? nl : end;
        const char *text_end = line_end > line && line_end[-1] == '\r' ? line_end - 1 : line_end;
        if (text_end == line)
            break; /* the empty line: the header block is over */
        gboolean continuation = *line == ' ' || *line == '\t';
        if (value && !continuation)
            break; /* the header we wanted is complete */
        if (value) {
            g_string_append_len(value, line, text_end - line); /* unfolding (RFC 5322 §2.2.3) */
        } else if (!continuation) {
            const char *v = header_value_start(line, text_end, name);
            if (v)
                value = g_string_new_len(v, text_end - v);
        }
        line = nl ? nl + 1 : end;
    }
    if (!value)
        return NULL;
    return g_strstrip(g_string_free(value, FALSE));
}

char *mail_message_id_clean(const char *value)
{
    if (!value)
        return NULL;
    /* the first msg-id: what is between the first < and the > after it, if there are any */
    const char *start = strchr(value, '<');
    const char *end = start ? strchr(start, '>') : NULL;
    if (!start || !end) {
        start = value;
        end = value + strlen(value);
    } else {
        start++;
    }
    GString *out = g_string_new(NULL);
    for (const unsigned char *p = (const unsigned char *)start; p < (const unsigned char *)end;
         p++) {
        if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>')
            continue;
        g_string_append_c(out, (char)*p);
    }
    /* RFC 5322 §2.1.1: no line is longer than 998 characters */
    if (out->len == 0 || out->len > 998 || !g_utf8_validate(out->str, (gssize)out->len, NULL)) {
        g_string_free(out, TRUE);
        return NULL;
    }
    return g_string_free(out, FALSE);
}

static const char *const derived_suffixes[] = {FS_THUMB_SUFFIX, FS_NO_THUMB_SUFFIX};

char *fs_derived_from(const char *path)
{
    for (gsize i = 0; i < G_N_ELEMENTS(derived_suffixes); i++) {
        if (g_str_has_suffix(path, derived_suffixes[i]))
            return g_strndup(path, strlen(path) - strlen(derived_suffixes[i]));
    }
    return NULL;
}

int fs_remove_derived(const char *content_path)
{
    int removed = 0;
    for (gsize i = 0; i < G_N_ELEMENTS(derived_suffixes); i++) {
        g_autofree char *path = g_strconcat(content_path, derived_suffixes[i], NULL);
        if (unlink(path) == 0)
            removed++;
        else if (errno != ENOENT)
            log_warning("cannot remove %s: %s", path, g_strerror(errno));
    }
    return removed;
}
