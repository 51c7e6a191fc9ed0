/* bench_gmime_walk: the floor of the "parse" figure. GMime alone, with nothing of ours: open
 * each file as a stream, parse the message, decode Subject and From (RFC 2047), walk every
 * part (message/rfc822 included) and decode it: text parts to UTF-8 in memory (charset
 * conversion), every other part through its transfer decoding into a null stream. That is the
 * least any GMime-based ingester must do to read every byte of a message once.
 *
 * With --required WORK_DIR it also does the work the specification asks of any gateway built
 * on the chosen libraries, library calls only, none of our logic: every part that is not text
 * is written to a private file of its own (as a photo must be kept), then emptied and renamed
 * into WORK_DIR/kept-PID as bench_parse_files does with the gateway's files; every HTML part
 * is parsed by libxml2 as parse/html.c asks it to (SPEC: libxml2 for HTML). Nothing else: no
 * address, date or identifier header is read, no text is normalised or searched. That is
 * the least our parse could cost, whatever our own code did: the "required floor".
 *
 *   bench_gmime_walk [--required WORK_DIR] FILE...      (or @LIST: one path per line)
 *
 * Prints one line like bench_parse_files. Exit 1 if a file is not a message. */
#include <gmime/gmime.h>
#include <libxml/HTMLparser.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static gint64 decoded_bytes;
static const char *required_dir; /* --required: where the parts' files are written */
static char *kept_dir;           /* ... and kept */
static guint64 files_written;

static void keep_file(int fd, const char *path)
{
    char kept[4096];
    snprintf(kept, sizeof kept, "%s/%" G_GUINT64_FORMAT, kept_dir, files_written);
    if (close(fd) != 0 || truncate(path, 0) != 0 || rename(path, kept) != 0) {
        perror("bench_gmime_walk: keeping a part's file");
        exit(2);
    }
}

/* a part's content into a private file of its own, as the gateway keeps an attachment */
static void write_part_file(GMimeDataWrapper *content)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/part-%" G_GUINT64_FORMAT, required_dir, ++files_written);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(path);
        exit(2);
    }
    /* written through: a file stream has no buffer, and its flush would be an fsync(), which
     * the parse does not do (the gateway syncs a batch at once) */
    GMimeStream *out = g_mime_stream_fs_new(dup(fd));
    gssize n = g_mime_data_wrapper_write_to_stream(content, out);
    g_object_unref(out);
    if (n > 0)
        decoded_bytes += n;
    keep_file(fd, path);
}

static void parse_html(const char *text)
{
    htmlDocPtr doc =
        htmlReadMemory(text, (int)strlen(text), NULL, "UTF-8",
                       HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                           HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC | HTML_PARSE_COMPACT);
    if (doc)
        xmlFreeDoc(doc);
}

static void decode_part(GMimeObject *object)
{
    if (!GMIME_IS_PART(object))
        return; /* multiparts and message/rfc822 wrappers: the iterator visits their parts */
    if (GMIME_IS_TEXT_PART(object)) {
        char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(object));
        if (text)
            decoded_bytes += (gint64)strlen(text);
        if (text && required_dir &&
            g_mime_content_type_is_type(g_mime_object_get_content_type(object), "text", "html"))
            parse_html(text);
        g_free(text);
        return;
    }
    GMimeDataWrapper *content = g_mime_part_get_content(GMIME_PART(object));
    if (!content)
        return;
    if (required_dir) {
        write_part_file(content);
        return;
    }
    GMimeStream *sink = g_mime_stream_null_new();
    gssize n = g_mime_data_wrapper_write_to_stream(content, sink);
    if (n > 0)
        decoded_bytes += n;
    g_object_unref(sink);
}

static gboolean walk_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror(path);
        return FALSE;
    }
    GMimeStream *stream = g_mime_stream_fs_new(fd);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *message = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    g_object_unref(stream);
    if (!message) {
        fprintf(stderr, "bench_gmime_walk: %s: not a message\n", path);
        return FALSE;
    }
    const char *subject = g_mime_message_get_subject(message);
    decoded_bytes += subject ? (gint64)strlen(subject) : 0;
    char *from = internet_address_list_to_string(g_mime_message_get_from(message), NULL, FALSE);
    g_free(from);
    GMimePartIter *iter = g_mime_part_iter_new(GMIME_OBJECT(message));
    if (g_mime_part_iter_is_valid(iter)) {
        do {
            decode_part(g_mime_part_iter_get_current(iter));
        } while (g_mime_part_iter_next(iter));
    }
    g_mime_part_iter_free(iter);
    g_object_unref(message);
    return TRUE;
}

int main(int argc, char **argv)
{
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--required") == 0) {
        required_dir = argv[2];
        first = 3;
        kept_dir = g_strdup_printf("%s/kept-%d", required_dir, (int)getpid());
        if (mkdir(kept_dir, 0700) != 0) {
            perror("bench_gmime_walk: mkdir");
            return 2;
        }
    }
    if (argc <= first) {
        fprintf(stderr, "usage: bench_gmime_walk [--required WORK_DIR] FILE... | @LIST\n");
        return 2;
    }
    g_mime_init();
    xmlInitParser();
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
    for (int i = first; i < argc; i++) {
        if (argv[i][0] != '@') {
            g_ptr_array_add(paths, g_strdup(argv[i]));
            continue;
        }
        char *text = NULL;
        if (!g_file_get_contents(argv[i] + 1, &text, NULL, NULL)) {
            fprintf(stderr, "bench_gmime_walk: cannot read %s\n", argv[i] + 1);
            return 2;
        }
        char **lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++) {
            if (**l)
                g_ptr_array_add(paths, g_strdup(*l));
        }
        g_strfreev(lines);
        g_free(text);
    }
    int failures = 0;
    gint64 t0 = g_get_monotonic_time();
    for (guint i = 0; i < paths->len; i++) {
        if (!walk_file(g_ptr_array_index(paths, i)))
            failures++;
    }
    double seconds = (double)(g_get_monotonic_time() - t0) / 1e6;
    printf("files %u failures %d decoded %" G_GINT64_FORMAT " seconds %.3f\n", paths->len, failures,
           decoded_bytes, seconds);
    g_ptr_array_free(paths, TRUE);
    g_mime_shutdown();
    g_free(kept_dir);
    return failures ? 1 : 0;
}
