/* bench_parse_files: the "parse" figure's contender. Runs parse_message_file() (parse/parse.h,
 * the library pahtd and pahtctl use) on every file named, as the gateway does: attachments
 * streamed into a private work folder, the draft built, then everything freed and the
 * attachment files moved into a folder of their own beside it, WORK_DIR/kept-PID, as the
 * gateway moves them into its store. They are emptied first, so that writing hundreds of MB
 * out to the disk (the ingest figure's part) does not come into a parse figure, and they are
 * not deleted: on ext4 each file created soon after many were deleted skips the deleted inodes
 * one by one (recently_deleted()), work the gateway, which deletes nothing while it ingests,
 * does not have; bench/run removes the folder when the whole run is over.
 *
 *   bench_parse_files WORK_DIR FILE...      (or @LIST: one path per line)
 *
 * Prints one line: files, drafts, failures, bytes read, seconds (own monotonic clock).
 * Exit 1 if any file could not be parsed: a benchmark that silently skips work lies. */
#include "parse/parse.h"
#include "util/util.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static GPtrArray *collect_paths(int argc, char **argv)
{
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
    for (int i = 2; i < argc; i++) {
        if (argv[i][0] != '@') {
            g_ptr_array_add(paths, g_strdup(argv[i]));
            continue;
        }
        g_autofree char *text = NULL;
        g_autoptr(GError) error = NULL;
        if (!g_file_get_contents(argv[i] + 1, &text, NULL, &error)) {
            fprintf(stderr, "bench_parse_files: %s\n", error->message);
            exit(2);
        }
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++) {
            if (**l)
                g_ptr_array_add(paths, g_strdup(*l));
        }
    }
    return paths;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_parse_files WORK_DIR FILE... | @LIST\n");
        return 2;
    }
    log_init("bench_parse_files");
    log_set_level(LOG_LEVEL_WARNING);
    parse_init();
    g_autoptr(GPtrArray) paths = collect_paths(argc, argv);
    ParseOptions opts = {.attachments_dir = argv[1], .our_address = "paht@soctrang.gov.vn"};
    g_autofree char *kept = g_strdup_printf("%s/kept-%d", argv[1], (int)getpid());
    if (g_mkdir(kept, 0700) != 0) {
        perror("bench_parse_files: mkdir");
        return 2;
    }
    int drafts = 0, failures = 0;
    gint64 bytes = 0;
    gint64 t0 = g_get_monotonic_time();
    for (guint i = 0; i < paths->len; i++) {
        const char *path = g_ptr_array_index(paths, i);
        struct stat st;
        if (stat(path, &st) == 0)
            bytes += st.st_size;
        g_autoptr(GError) error = NULL;
        g_autoptr(Draft) draft = parse_message_file(path, &opts, &error);
        if (!draft) {
            fprintf(stderr, "bench_parse_files: %s: %s\n", path, error->message);
            failures++;
            continue;
        }
        drafts++;
        for (guint k = 0; k < draft->attachments->len; k++) {
            DraftAttachment *a = g_ptr_array_index(draft->attachments, k);
            if (!a->path)
                continue;
            g_autofree char *name = g_strdup_printf("%s/%u-%u", kept, i, k);
            if (truncate(a->path, 0) != 0 || rename(a->path, name) != 0) {
                perror("bench_parse_files: keeping an attachment");
                return 2;
            }
        }
    }
    double seconds = (double)(g_get_monotonic_time() - t0) / 1e6;
    printf("files %u drafts %d failures %d bytes %" G_GINT64_FORMAT " seconds %.3f\n", paths->len,
           drafts, failures, bytes, seconds);
    return failures ? 1 : 0;
}
