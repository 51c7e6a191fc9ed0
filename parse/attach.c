/* parse: attachments streamed to private files with safe display names.
 *
 * Files are named by us ("part-0001", ...) inside the caller's private folder, created with
 * O_EXCL|O_NOFOLLOW and mode 0600: the sender's file name is only ever a display name
 * (SPEC §8: "../../etc/passwd"). Size and SHA-256 are of the decoded bytes, computed while
 * streaming. */
#include "parse/parse_private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

#define MAX_FILENAME_BYTES  150
#define MAX_EXTENSION_BYTES 16

/* ---- files ---------------------------------------------------------------------------------- */

static int create_private_file(ParseContext *ctx, char **path_out, GError **error)
{
    for (int tries = 0; tries < 100000; tries++) {
        char name[32];
        g_snprintf(name, sizeof name, "part-%04u", ctx->file_counter++);
        char *path = g_build_filename(ctx->attachments_dir, name, NULL);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            g_ptr_array_add(ctx->created_files, g_strdup(path));
            *path_out = path;
            return fd;
        }
        int saved = errno;
        g_free(path);
        if (saved == EEXIST)
            continue;
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY,
                    "cannot create attachment file in %s: %s", ctx->attachments_dir,
                    g_strerror(saved));
        return -1;
    }
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "no free attachment file name in %s",
                ctx->attachments_dir);
    return -1;
}

static void forget_created(ParseContext *ctx, const char *path)
{
    for (guint i = 0; i < ctx->created_files->len; i++) {
        if (strcmp(ctx->created_files->pdata[i], path) == 0) {
            g_ptr_array_remove_index(ctx->created_files, i);
            return;
        }
    }
}

void attachment_remove_created(ParseContext *ctx)
{
    if (!ctx->created_files)
        return;
    for (guint i = 0; i < ctx->created_files->len; i++)
        unlink(ctx->created_files->pdata[i]);
    g_ptr_array_set_size(ctx->created_files, 0);
}

typedef struct {
    int fd;
    FdWriter *out;
    const char *path;
    Sha256 *sum;
    gint64 size;
    guchar head[PARSE_SNIFF_BYTES];
    gsize head_len;
} FileSink;

static gboolean file_sink(const char *data, gsize len, gpointer user_data, GError **error)
{
    FileSink *f = user_data;
    if (len == 0)
        return TRUE;
    if (f->head_len < sizeof f->head) {
        gsize n = MIN(len, sizeof f->head - f->head_len);
        memcpy(f->head + f->head_len, data, n);
        f->head_len += n;
    }
    sha256_update(f->sum, data, len);
    f->size += (gint64)len;
    int err = 0;
    if (!fd_writer_write(f->out, data, len, &err)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot write attachment %s: %s",
                    f->path, g_strerror(err));
        return FALSE;
    }
    return TRUE;
}

/* error: NULL when the part already failed (only the fd is released then) */
static gboolean file_sink_close(FileSink *f, GError **error)
{
    int err = 0;
    gboolean ok = !error || fd_writer_flush(f->out, &err);
    g_clear_pointer(&f->out, fd_writer_free);
    if (close(f->fd) != 0 && ok) {
        err = errno;
        ok = FALSE;
    }
    f->fd = -1;
    if (!ok && error)
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot write attachment %s: %s",
                    f->path, g_strerror(err));
    return ok;
}

/* a new private file for one attachment, its writer and its running digest; *path_out owned
 * by the caller */
static gboolean file_sink_open(ParseContext *ctx, FileSink *sink, char **path_out, GError **error)
{
    memset(sink, 0, sizeof *sink);
    sink->fd = create_private_file(ctx, path_out, error);
    if (sink->fd < 0)
        return FALSE;
    sink->out = fd_writer_new(sink->fd);
    sink->path = *path_out;
    sink->sum = sha256_new();
    return TRUE;
}

/* ---- names ---------------------------------------------------------------------------------- */

static gboolean invisible_or_control(gunichar c)
{
    return c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == 0x2028 || c == 0x2029 ||
           c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e) ||
           (c >= 0x2066 && c <= 0x2069) || c == 0xfeff || c == 0x200b;
}

/* the longest prefix of s of at most max bytes that ends on a character boundary */
static gsize utf8_prefix_len(const char *s, gsize max)
{
    gsize n = strlen(s);
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((guchar)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

static char *clean_display_name(const char *raw)
{
    if (!raw)
        return g_strdup("");
    /* a name is short; more than this is an attack (and would only be cut below) */
    g_autofree char *valid = g_utf8_make_valid(raw, (gssize)strnlen(raw, 4096));
    g_autofree char *nfc = text_nfc_len(valid, -1);
    /* only the last path component, for both kinds of separator */
    const char *base = nfc;
    for (const char *p = nfc; *p; p++) {
        if (*p == '/' || *p == '\\')
            base = p + 1;
    }
    GString *out = g_string_new(NULL);
    gboolean space = FALSE;
    for (const char *p = base; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (invisible_or_control(c) && c != '\t' && c != '\n' && c != '\r')
            continue;
        if (g_unichar_isspace(c)) {
            space = out->len > 0;
            continue;
        }
        if (space)
            g_string_append_c(out, ' ');
        space = FALSE;
        /* characters Windows refuses in names: the operator downloads these files */
        if (c == ':' || c == '*' || c == '?' || c == '"' || c == '<' || c == '>' || c == '|')
            c = '_';
        g_string_append_unichar(out, c);
    }
    /* no leading dots (hidden files, "..") and no trailing dots or spaces, which Windows drops
     * ("virus.exe." runs as virus.exe) */
    char *s = g_string_free(out, FALSE);
    gsize lead = strspn(s, ". ");
    memmove(s, s + lead, strlen(s + lead) + 1);
    gsize n = strlen(s);
    while (n > 0 && (s[n - 1] == '.' || s[n - 1] == ' '))
        s[--n] = '\0';
    return s;
}

static char *compose_name(const char *stem, const char *ext, guint number)
{
    char suffix[24] = "";
    if (number > 1)
        g_snprintf(suffix, sizeof suffix, " (%u)", number);
    gsize room = MAX_FILENAME_BYTES - strlen(ext) - strlen(suffix);
    gsize keep = utf8_prefix_len(stem, room);
    g_autofree char *trimmed = g_strndup(stem, keep);
    g_strchomp(trimmed);
    return g_strconcat(trimmed, suffix, ext, NULL);
}

char *attachment_safe_filename(ParseContext *ctx, const char *raw, const char *content_type)
{
    g_autofree char *clean = clean_display_name(raw);
    g_autofree char *stem = NULL;
    g_autofree char *ext = NULL;
    const char *dot = strrchr(clean, '.');
    if (dot && dot != clean && strlen(dot) <= MAX_EXTENSION_BYTES && !strchr(dot, ' ')) {
        stem = g_strndup(clean, (gsize)(dot - clean));
        ext = g_strdup(dot);
    } else {
        stem = g_strdup(clean);
        ext = g_strdup("");
    }
    if (!*stem) {
        g_free(stem);
        g_free(ext);
        stem = g_strdup_printf("tep-dinh-kem-%u", ctx->draft->attachments->len + 1);
        ext = g_strdup(extension_for_content_type(content_type));
    }
    for (guint number = 1;; number++) {
        char *candidate = compose_name(stem, ext, number);
        char *key = g_utf8_casefold(candidate, -1);
        if (!g_hash_table_contains(ctx->used_names, key)) {
            g_hash_table_add(ctx->used_names, key);
            return candidate;
        }
        g_free(key);
        g_free(candidate);
    }
}

/* "Image/JPEG; name=x" arrives parsed; we still refuse anything that is not a plain token */
static char *clean_content_type(const char *type)
{
    if (!type)
        return g_strdup("application/octet-stream");
    char *lower = g_ascii_strdown(type, -1);
    const char *slash = strchr(lower, '/');
    gboolean ok = slash && slash != lower && slash[1] && strlen(lower) <= 127;
    for (const char *p = lower; ok && *p; p++) {
        ok = g_ascii_isalnum(*p) || strchr("/!#$&^_.+-", *p);
        if (*p == '/' && p != slash)
            ok = FALSE;
    }
    if (!ok) {
        g_free(lower);
        return g_strdup("application/octet-stream");
    }
    return lower;
}

static char *object_content_type(GMimeObject *object)
{
    GMimeContentType *ct = g_mime_object_get_content_type(object);
    g_autofree char *type = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
    return clean_content_type(type);
}

static char *clean_content_id(const char *id)
{
    if (!id || !*id)
        return NULL;
    GString *out = g_string_new(NULL);
    for (const char *p = id; *p; p++) {
        if ((guchar)*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>')
            continue;
        g_string_append_c(out, *p);
    }
    if (out->len == 0 || out->len > 998 || !g_utf8_validate(out->str, -1, NULL)) {
        g_string_free(out, TRUE);
        return NULL;
    }
    return g_string_free(out, FALSE);
}

/* the part's file name: RFC 2231 decoded by GMime; RFC 2047 words inside the parameter (not
 * standard, sent by Outlook and Gmail) go through our bug #133 workaround first */
static char *part_raw_filename(ParseContext *ctx, GMimeObject *object)
{
    static const struct {
        const char *header, *param;
    } sources[] = {{"Content-Disposition", "filename"}, {"Content-Type", "name"}};
    for (gsize i = 0; i < G_N_ELEMENTS(sources); i++) {
        g_autofree char *raw = header_raw_merged(object, sources[i].header);
        if (!raw || !*raw)
            continue;
        if (strstr(raw, "=?")) {
            char *value = NULL;
            if (i == 0) {
                GMimeContentDisposition *d =
                    g_mime_content_disposition_parse(ctx->gmime_options, raw);
                const char *v = d ? g_mime_content_disposition_get_parameter(d, "filename") : NULL;
                value = g_strdup(v);
                g_clear_object(&d);
            } else {
                GMimeContentType *t = g_mime_content_type_parse(ctx->gmime_options, raw);
                const char *v = t ? g_mime_content_type_get_parameter(t, "name") : NULL;
                value = g_strdup(v);
                g_clear_object(&t);
            }
            if (value && *value)
                return value;
            g_free(value);
        }
    }
    if (GMIME_IS_PART(object))
        return g_strdup(g_mime_part_get_filename(GMIME_PART(object)));
    const char *name = g_mime_object_get_content_disposition_parameter(object, "filename");
    if (!name)
        name = g_mime_object_get_content_type_parameter(object, "name");
    return g_strdup(name);
}

/* ---- recording ------------------------------------------------------------------------------ */

static void record(ParseContext *ctx, FileSink *sink, char *path, const char *raw_filename,
                   const char *declared_type, char *content_id)
{
    g_autofree char *declared = clean_content_type(declared_type);
    SniffResult sniffed;
    sniff_content(sink->head, sink->head_len, &sniffed);
    const char *type = declared;
    if (sniffed.content_type && (strcmp(declared, "application/octet-stream") == 0 ||
                                 strcmp(declared, "application/x-octet-stream") == 0))
        type = sniffed.content_type;
    const char *kind = sniffed.kind;
    if (!kind || (strcmp(kind, "document") == 0 && !sniffed.content_type)) {
        /* no magic (or just "looks like text"): the declared type says more */
        const char *declared_kind = kind_from_content_type(type);
        if (declared_kind)
            kind = declared_kind;
    }
    if (!kind)
        kind = "other";

    DraftAttachment *a = g_new0(DraftAttachment, 1);
    a->content_type = g_strdup(type);
    a->kind = g_strdup(kind);
    a->filename = attachment_safe_filename(ctx, raw_filename, type);
    a->content_id = content_id;
    a->dangerous = sniffed.executable || filename_is_dangerous(a->filename) ||
                   content_type_is_dangerous(declared) || content_type_is_dangerous(type);
    a->size = sink->size;
    a->sha256 = sha256_finish(sink->sum);
    sink->sum = NULL;
    a->path = path;
    g_ptr_array_add(ctx->draft->attachments, a);
}

gboolean attachment_add_part(ParseContext *ctx, GMimePart *part, GError **error)
{
    char *path = NULL;
    FileSink sink;
    if (!file_sink_open(ctx, &sink, &path, error))
        return FALSE;
    gboolean ok = part_decode(part, file_sink, &sink, error);
    if (!file_sink_close(&sink, ok ? error : NULL))
        ok = FALSE;
    if (!ok) {
        sha256_free(sink.sum);
        g_free(path);
        return FALSE;
    }
    g_autofree char *raw_filename = part_raw_filename(ctx, GMIME_OBJECT(part));
    g_autofree char *type = object_content_type(GMIME_OBJECT(part));
    char *content_id = clean_content_id(g_mime_object_get_content_id(GMIME_OBJECT(part)));
    if (sink.size == 0 && (!raw_filename || !*raw_filename) && !content_id) {
        /* an empty part with no name (broken multiparts leave these): nothing to keep */
        unlink(path);
        forget_created(ctx, path);
        g_free(path);
        sha256_free(sink.sum);
        return TRUE;
    }
    record(ctx, &sink, path, raw_filename, type, content_id);
    sha256_free(sink.sum);
    return TRUE;
}

gboolean attachment_add_bytes(ParseContext *ctx, const guchar *data, gsize len,
                              const char *raw_filename, const char *declared_type, GError **error)
{
    char *path = NULL;
    FileSink sink;
    if (!file_sink_open(ctx, &sink, &path, error))
        return FALSE;
    gboolean ok = file_sink((const char *)data, len, &sink, error);
    if (!file_sink_close(&sink, ok ? error : NULL))
        ok = FALSE;
    if (ok)
        record(ctx, &sink, path, raw_filename, declared_type, NULL);
    else
        g_free(path);
    sha256_free(sink.sum);
    return ok;
}

gboolean attachment_add_message(ParseContext *ctx, GMimeMessagePart *part, GError **error)
{
    GMimeMessage *inner = g_mime_message_part_get_message(part);
    if (!inner)
        return TRUE;
    char *path = NULL;
    FileSink sink;
    if (!file_sink_open(ctx, &sink, &path, error))
        return FALSE;
    /* GMime writes the message out (its parts are still read from the message file); a memory
     * stream in between would hold the whole message, so write through a file stream and
     * hash the file afterwards. No g_mime_stream_flush(): a GMimeStreamFs writes unbuffered,
     * and its flush is an fsync(), one per attached message, where durability is the caller's
     * one syncfs per batch (issue 18's group commit) */
    GMimeStream *out = g_mime_stream_fs_new(dup(sink.fd));
    gboolean ok = g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, out) >= 0;
    g_object_unref(out);
    if (!file_sink_close(&sink, NULL))
        ok = FALSE;
    if (!ok) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot write attachment %s", path);
        sha256_free(sink.sum);
        g_free(path);
        return FALSE;
    }
    /* size, hash and head of what was written */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot read attachment %s: %s", path,
                    g_strerror(errno));
        sha256_free(sink.sum);
        g_free(path);
        return FALSE;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (sink.head_len < sizeof sink.head) {
            gsize k = MIN((gsize)n, sizeof sink.head - sink.head_len);
            memcpy(sink.head + sink.head_len, buf, k);
            sink.head_len += k;
        }
        sha256_update(sink.sum, buf, (gsize)n);
        sink.size += n;
    }
    close(fd);
    g_autofree char *raw_filename = part_raw_filename(ctx, GMIME_OBJECT(part));
    if (!raw_filename || !*raw_filename) {
        g_free(raw_filename);
        const char *subject = g_mime_message_get_subject(inner);
        /* the subject as a name: its slashes are not path separators */
        raw_filename = subject && *subject ? g_strconcat(subject, ".eml", NULL) : NULL;
        if (raw_filename)
            g_strdelimit(raw_filename, "/\\", '-');
    }
    g_autofree char *type = object_content_type(GMIME_OBJECT(part));
    record(ctx, &sink, path, raw_filename, type, NULL);
    /* an attached message is kind "other", whatever its first bytes look like */
    DraftAttachment *a =
        g_ptr_array_index(ctx->draft->attachments, ctx->draft->attachments->len - 1);
    g_free(a->kind);
    a->kind = g_strdup("other");
    sha256_free(sink.sum);
    return TRUE;
}
