/* bench_gmime_walk: the floor of the "parse" figure. GMime alone, with nothing of ours: open
 * each file as a stream, parse the message, decode Subject and From (RFC 2047), walk every
 * part (message/rfc822 included) and decode it: text parts to UTF-8 in memory (charset
 * conversion), every other part through its transfer decoding into a null stream. That is the
 * least any GMime-based ingester must do to read every byte of a message once.
 *
 *   bench_gmime_walk FILE...      (or @LIST: one path per line)
 *
 * Prints one line like bench_parse_files. Exit 1 if a file is not a message. */
#include <gmime/gmime.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static gint64 decoded_bytes;

static void decode_part(GMimeObject *object)
{
    if (!GMIME_IS_PART(object))
        return; /* multiparts and message/rfc822 wrappers: the iterator visits their parts */
    if (GMIME_IS_TEXT_PART(object)) {
        char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(object));
        if (text)
            decoded_bytes += (gint64)strlen(text);
        g_free(text);
        return;
    }
    GMimeDataWrapper *content = g_mime_part_get_content(GMIME_PART(object));
    if (!content)
        return;
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
    if (argc < 2) {
        fprintf(stderr, "usage: bench_gmime_walk FILE... | @LIST\n");
        return 2;
    }
    g_mime_init();
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
    for (int i = 1; i < argc; i++) {
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
    return failures ? 1 : 0;
}
