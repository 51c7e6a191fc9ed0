/* parse: one e-mail file -> one Draft. This file opens the message, enforces the hard limits
 * and runs the steps (see parse_private.h); the work itself is in the other files. */
#include "parse/parse_private.h"

#include <errno.h>
#include <fcntl.h>
#include <libxml/parser.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

#define DEFAULT_MAX_PARTS 1000
#define DEFAULT_MAX_DEPTH 32

/* The steps, in order (first match wins for classification, SPEC §3.5). */
static const struct {
    const char *name;
    ParseStep run;
} parse_steps[] = {
    {"headers", parse_step_headers},
    {"content", parse_step_content},
    {"classify headers", parse_step_classify_headers},
    {"fields", parse_step_fields},
    {"classify", parse_step_classify},
};

static gpointer parse_init_once(gpointer data)
{
    g_mime_init();
    xmlInitParser();
    return NULL;
}

void parse_init(void)
{
    static GOnce once = G_ONCE_INIT;
    g_once(&once, parse_init_once, NULL);
}

static const char *gmime_warning_text(GMimeParserWarning code)
{
    switch (code) {
    case GMIME_WARN_DUPLICATED_HEADER:
        return "header repeated that should appear once";
    case GMIME_WARN_DUPLICATED_PARAMETER:
        return "header parameter repeated";
    case GMIME_WARN_UNENCODED_8BIT_HEADER:
        return "header with raw 8-bit characters (not RFC 2047 encoded)";
    case GMIME_WARN_INVALID_CONTENT_TYPE:
        return "invalid Content-Type, read as application/octet-stream";
    case GMIME_WARN_INVALID_RFC2047_HEADER_VALUE:
        return "invalid RFC 2047 encoded header";
    case GMIME_WARN_MALFORMED_MULTIPART:
        return "malformed multipart (boundary missing or misplaced)";
    case GMIME_WARN_TRUNCATED_MESSAGE:
        return "message truncated (ends inside its headers or a multipart)";
    case GMIME_WARN_MALFORMED_MESSAGE:
        return "malformed message";
    case GMIME_CRIT_INVALID_HEADER_NAME:
        return "invalid header name; part of the headers may be lost";
    case GMIME_CRIT_CONFLICTING_HEADER:
        return "conflicting headers";
    case GMIME_CRIT_CONFLICTING_PARAMETER:
        return "conflicting header parameters";
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
        return "multipart without boundary, read as one part";
    case GMIME_WARN_INVALID_PARAMETER:
        return "invalid header parameter";
    case GMIME_WARN_INVALID_ADDRESS_LIST:
        return "invalid address list";
    case GMIME_CRIT_NESTING_OVERFLOW:
        return "MIME nesting too deep";
    case GMIME_WARN_PART_WITHOUT_CONTENT:
        return "MIME part without content";
    case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
        return "MIME part without headers or content";
    }
    return "unexpected MIME structure";
}

static gboolean is_header_name_token(const char *s)
{
    gsize n = 0;
    for (; s[n]; n++) {
        if (!g_ascii_isalnum(s[n]) && s[n] != '-' && s[n] != '_')
            return FALSE;
    }
    return n > 0 && n <= 40;
}

static void on_gmime_warning(gint64 offset, GMimeParserWarning code, const gchar *item,
                             gpointer user_data)
{
    ParseContext *ctx = user_data;
    if (code == GMIME_CRIT_NESTING_OVERFLOW)
        ctx->nesting_overflow = TRUE;
    /* item is a header name for repeated headers (safe to show), otherwise it may be a value
     * out of the message: never shown */
    if (code == GMIME_WARN_DUPLICATED_HEADER && item && is_header_name_token(item))
        parse_warn(ctx, "%s: %s", gmime_warning_text(code), item);
    else
        parse_warn(ctx, "%s", gmime_warning_text(code));
}

/* ---- limits -------------------------------------------------------------------------------- */

/* Line starts that could open a MIME part ("--boundary"). GMime builds an object for every
 * part before we can count them, so a 50 MB message of empty parts would cost gigabytes: this
 * cheap upper bound refuses such a message before GMime sees it. Generous on purpose (text
 * lines starting with "--" count too): the exact limit is checked after parsing. Fed block
 * by block (a file) or at once (a message in memory). */
typedef struct {
    gint64 count;
    char before; /* the byte before the block: the file starts a line */
    gboolean pending_dash;
} DelimiterScan;

static void delimiter_scan_feed(DelimiterScan *s, const char *buf, gsize n)
{
    if (n == 0)
        return;
    const char *end = buf + n;
    if (s->pending_dash && buf[0] == '-')
        s->count++; /* a line start "-" was the last byte of the previous block */
    s->pending_dash = FALSE;
    /* found by their dashes, not line by line: base64, most of a mail's bytes, has none */
    for (const char *p = memchr(buf, '-', n); p;
         p = p + 1 < end ? memchr(p + 1, '-', (size_t)(end - p - 1)) : NULL) {
        if ((p > buf ? p[-1] : s->before) != '\n')
            continue;
        if (p + 1 < end)
            s->count += p[1] == '-';
        else
            s->pending_dash = TRUE;
    }
    s->before = end[-1];
}

gboolean parse_prescan_delimiters(int fd, gint64 limit, gint64 *count_out, GError **error)
{
    char buf[65536];
    DelimiterScan scan = {.before = '\n'};
    off_t offset = 0;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof buf, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot read message: %s",
                        g_strerror(errno));
            return FALSE;
        }
        if (n == 0)
            break;
        offset += n;
        delimiter_scan_feed(&scan, buf, (gsize)n);
        if (scan.count > limit)
            break;
    }
    *count_out = scan.count;
    return TRUE;
}

gint64 parse_prescan_delimiters_of(const char *data, gsize len)
{
    DelimiterScan scan = {.before = '\n'};
    delimiter_scan_feed(&scan, data, len);
    return scan.count;
}

static gboolean check_structure(ParseContext *ctx, GMimeObject *object, int depth, int *parts,
                                GError **error)
{
    if (!object)
        return TRUE;
    if (depth > ctx->max_depth) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT,
                    "MIME parts nested deeper than %d levels (max_depth)", ctx->max_depth);
        return FALSE;
    }
    if (++*parts > ctx->max_parts) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT,
                    "message has more than %d MIME parts (max_parts)", ctx->max_parts);
        return FALSE;
    }
    if (GMIME_IS_MULTIPART(object)) {
        GMimeMultipart *multipart = GMIME_MULTIPART(object);
        int n = g_mime_multipart_get_count(multipart);
        for (int i = 0; i < n; i++) {
            if (!check_structure(ctx, g_mime_multipart_get_part(multipart, i), depth + 1, parts,
                                 error))
                return FALSE;
        }
    } else if (GMIME_IS_MESSAGE_PART(object)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
        if (inner &&
            !check_structure(ctx, g_mime_message_get_mime_part(inner), depth + 1, parts, error))
            return FALSE;
    }
    return TRUE;
}

/* ---- the entry point ----------------------------------------------------------------------- */

/* Messages up to PARSE_IN_MEMORY_MAX are read into memory once, and the limits below and GMime
 * work on that copy: a file stream reads 4 KiB at a time with a seek before each read, and the
 * checks read the file again (strace of pahtd ingesting the bench's 2,000 mails: 133,000 reads
 * and 127,000 seeks, most of them the parser's). A bigger message (a video) stays on disk and
 * is read as it is needed, so that memory stays flat whatever the size. */

/* the message open at fd as a GMime stream: in memory when it is small enough (see above),
 * else the file itself (the stream takes a copy of fd) */
static GMimeStream *open_message_stream(int fd, const struct stat *st, const ParseOptions *opts,
                                        GError **error)
{
    gint64 memory_max = opts->in_memory_max == 0 ? PARSE_IN_MEMORY_MAX : opts->in_memory_max;
    /* a GByteArray's size is a guint, and GLib rounds what it reserves up to a power of two:
     * a file over 2 GiB is read from disk whatever the caller allows */
    if (memory_max < 0 || st->st_size > memory_max || st->st_size > (off_t)G_MAXINT32) {
        int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (copy < 0) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot read message: %s",
                        g_strerror(errno));
            return NULL;
        }
        return g_mime_stream_fs_new(copy);
    }
    GByteArray *bytes = g_byte_array_sized_new((guint)st->st_size);
    g_byte_array_set_size(bytes, (guint)st->st_size);
    gsize got = 0;
    while (got < bytes->len) {
        ssize_t n = pread(fd, bytes->data + got, bytes->len - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot read message: %s",
                        g_strerror(errno));
            g_byte_array_unref(bytes);
            return NULL;
        }
        if (n == 0)
            break; /* shorter than it was: what there is */
        got += (gsize)n;
    }
    g_byte_array_set_size(bytes, (guint)got);
    return g_mime_stream_mem_new_with_byte_array(bytes); /* it owns the bytes */
}

/* The limits checked before GMime reads the message: its header block, and how many MIME
 * parts it could have. *second_line: where its first line ends (for a second try without
 * it), or -1. */
static gboolean check_limits(const ParseContext *ctx, GMimeStream *stream, gint64 *second_line,
                             GError **error)
{
    gint64 delimiter_limit = MAX((gint64)ctx->max_parts * 10, 10000);
    gsize header_bytes = 0;
    gint64 delimiters = 0;
    char head[1024];
    const char *start = head; /* the message's first bytes, for where its first line ends */
    gsize start_len = 0;
    if (GMIME_IS_STREAM_MEM(stream)) {
        GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
        const char *data = (const char *)bytes->data;
        header_bytes = mail_header_block_length_of(data, bytes->len, MAIL_HEADER_MAX_BYTES);
        delimiters = parse_prescan_delimiters_of(data, bytes->len);
        start = data;
        start_len = MIN(bytes->len, sizeof head);
    } else {
        int fd = GMIME_STREAM_FS(stream)->fd;
        if (!mail_header_block_length(fd, MAIL_HEADER_MAX_BYTES, &header_bytes, error) ||
            !parse_prescan_delimiters(fd, delimiter_limit, &delimiters, error))
            return FALSE;
        ssize_t n = pread(fd, head, sizeof head, 0);
        start_len = n > 0 ? (gsize)n : 0;
    }
    const char *first_nl = start_len ? memchr(start, '\n', start_len) : NULL;
    *second_line = first_nl ? (gint64)(first_nl - start) + 1 : -1;
    if (header_bytes > MAIL_HEADER_MAX_BYTES) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "header block over %d KiB",
                    MAIL_HEADER_MAX_BYTES / 1024);
        return FALSE;
    }
    if (delimiters > delimiter_limit) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT,
                    "message has more than %d MIME parts (max_parts)", ctx->max_parts);
        return FALSE;
    }
    return TRUE;
}

static GMimeMessage *construct_message(ParseContext *ctx, GMimeStream *stream)
{
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    GMimeMessage *message = g_mime_parser_construct_message(parser, ctx->gmime_options);
    g_object_unref(parser);
    return message;
}

static gboolean message_has_headers(GMimeMessage *message)
{
    return message &&
           g_mime_header_list_get_count(g_mime_object_get_header_list(GMIME_OBJECT(message))) > 0;
}

static void context_clear(ParseContext *ctx)
{
    g_clear_object(&ctx->message);
    g_clear_pointer(&ctx->gmime_options, g_mime_parser_options_free);
    g_clear_pointer(&ctx->created_files, g_ptr_array_unref);
    g_clear_pointer(&ctx->used_names, g_hash_table_unref);
    g_clear_pointer(&ctx->warning_set, g_hash_table_unref);
    g_clear_pointer(&ctx->charset_hint, g_free);
    g_clear_pointer(&ctx->letters, quote_letters_free);
    g_clear_pointer(&ctx->folded.s, g_free);
    g_clear_pointer(&ctx->folded.origin, g_free);
}

Draft *parse_message_file(const char *path, const ParseOptions *opts, GError **error)
{
    g_return_val_if_fail(path != NULL, NULL);
    g_return_val_if_fail(opts != NULL && opts->attachments_dir != NULL, NULL);
    parse_init();

    ParseContext ctx = {0};
    ctx.draft = draft_new();
    ctx.attachments_dir = opts->attachments_dir;
    ctx.our_address = opts->our_address;
    ctx.keywords_file = opts->keywords_file;
    ctx.code_prefix = opts->code_prefix;
    ctx.our_letters = opts->our_letters;
    ctx.our_letters_data = opts->our_letters_data;
    ctx.trusted_authserv_id = opts->trusted_authserv_id;
    ctx.max_parts = opts->max_parts > 0 ? opts->max_parts : DEFAULT_MAX_PARTS;
    ctx.max_depth = opts->max_depth > 0 ? opts->max_depth : DEFAULT_MAX_DEPTH;
    ctx.created_files = g_ptr_array_new_with_free_func(g_free);
    ctx.used_names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    ctx.warning_set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    ctx.file_counter = 1;

    ctx.gmime_options = g_mime_parser_options_new();
    g_mime_parser_options_set_rfc2047_compliance_mode(ctx.gmime_options,
                                                      GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_address_compliance_mode(ctx.gmime_options,
                                                      GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_parameter_compliance_mode(ctx.gmime_options,
                                                        GMIME_RFC_COMPLIANCE_LOOSE);
    /* raw 8-bit headers: UTF-8 when valid, else the Vietnamese Windows code page */
    const char *fallback[] = {"utf-8", "windows-1258", NULL};
    g_mime_parser_options_set_fallback_charsets(ctx.gmime_options, fallback);
    g_mime_parser_options_set_warning_callback(ctx.gmime_options, on_gmime_warning, &ctx);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot open message %s: %s", path,
                    g_strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "%s is not a regular file", path);
        close(fd);
        goto fail;
    }
    if (st.st_size == 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "empty file: not an e-mail message");
        close(fd);
        goto fail;
    }
    GMimeStream *stream = open_message_stream(fd, &st, opts, error);
    close(fd);
    if (!stream)
        goto fail;
    gint64 size = g_mime_stream_length(stream);
    /* GMime holds every header, and its memory grows with them (150,000 To: addresses in
     * 3.2 MB: 125 MB): a header block no real mail has is refused before GMime reads it */
    gint64 second_line = -1;
    if (!check_limits(&ctx, stream, &second_line, error)) {
        g_object_unref(stream);
        goto fail;
    }

    ctx.message = construct_message(&ctx, stream);
    if (!message_has_headers(ctx.message) && second_line > 0 && second_line < size) {
        /* a broken first line makes GMime see no headers at all; one stray line (a line of
         * junk, a mangled mbox separator) should not cost the whole message */
        GMimeStream *rest = g_mime_stream_substream(stream, second_line, size);
        GMimeMessage *retry = construct_message(&ctx, rest);
        g_object_unref(rest);
        if (message_has_headers(retry)) {
            g_clear_object(&ctx.message);
            ctx.message = retry;
            parse_warn(&ctx, "first line of the file is not a header; skipped");
        } else {
            g_clear_object(&retry);
        }
    }
    g_object_unref(stream);
    if (!message_has_headers(ctx.message)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "not an e-mail message (no headers)");
        goto fail;
    }
    if (ctx.nesting_overflow) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT,
                    "MIME parts nested deeper than %d levels (max_depth)", ctx.max_depth);
        goto fail;
    }
    int parts = 0;
    if (!check_structure(&ctx, g_mime_message_get_mime_part(ctx.message), 1, &parts, error))
        goto fail;
    ctx.submission = ctx.message;

    for (gsize i = 0; i < G_N_ELEMENTS(parse_steps); i++) {
        if (!parse_steps[i].run(&ctx, error)) {
            g_prefix_error(error, "%s: ", parse_steps[i].name);
            goto fail;
        }
    }
    if (!ctx.draft->classification)
        parse_classify(&ctx, CLASSIFICATION_REPORT, "default");
    if (ctx.warnings_dropped > 0)
        g_ptr_array_add(ctx.draft->warnings,
                        g_strdup_printf("%u more warnings not listed", ctx.warnings_dropped));

    Draft *draft = ctx.draft;
    ctx.draft = NULL;
    context_clear(&ctx);
    return draft;

fail:
    attachment_remove_created(&ctx);
    draft_free(ctx.draft);
    context_clear(&ctx);
    return NULL;
}
