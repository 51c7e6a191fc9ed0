/* util: what the gateway learns of a message file without parsing it (digests, Message-ID, a
 * bounded header read), and the durability of content-addressed files (what gets fsynced). */
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

static char *work_dir;

static char *write_file(const char *name, const char *data, gssize len)
{
    char *path = g_build_filename(work_dir, name, NULL);
    g_autoptr(GError) error = NULL;
    g_assert_true(g_file_set_contents(path, data, len, &error));
    return path;
}

static void identity_of(const char *name, const char *data, gssize len, MailFileIdentity *out)
{
    g_autofree char *path = write_file(name, data, len);
    g_autoptr(GError) error = NULL;
    g_assert_true(mail_file_identity_with_body(path, out, &error));
    g_assert_no_error(error);
    g_assert_nonnull(out->body_sha256);
    /* without the body digest: the rest is the same, and the body is not hashed */
    MailFileIdentity plain = {0};
    g_assert_true(mail_file_identity(path, &plain, &error));
    g_assert_cmpstr(plain.sha256, ==, out->sha256);
    g_assert_cmpstr(plain.message_id, ==, out->message_id);
    g_assert_cmpint(plain.size, ==, out->size);
    g_assert_cmpint(plain.header_bytes, ==, out->header_bytes);
    g_assert_null(plain.body_sha256);
    mail_file_identity_clear(&plain);
}

/* a file saved on Unix and the same mail served by IMAP (CRLF, and with the trace headers a
 * delivery adds) are the same mail: same Message-ID and body digest, other bytes */
static void test_identity_same_mail_whatever_line_ends_and_trace_headers(void)
{
    static const char saved[] = "From: An <an@example.vn>\n"
                                "Subject: =?UTF-8?B?UGjhuqNuIMOhbmg=?=\n"
                                "Message-ID:\n <abc.123@mail.example.vn>\n"
                                "\n"
                                "Đường bị ngập.\n"
                                "\n"
                                "Dòng 3.\n";
    static const char served[] = "Return-Path: <an@example.vn>\r\n"
                                 "Delivered-To: paht@example.test\r\n"
                                 "Received: from mx by mailstack with LMTP\r\n"
                                 "\tid x; Sat, 28 Nov 2026 09:00:00 +0700\r\n"
                                 "From: An <an@example.vn>\r\n"
                                 "Subject: =?UTF-8?B?UGjhuqNuIMOhbmg=?=\r\n"
                                 "Message-ID:\r\n <abc.123@mail.example.vn>\r\n"
                                 "\r\n"
                                 "Đường bị ngập.\r\n"
                                 "\r\n"
                                 "Dòng 3.\r\n";
    MailFileIdentity a = {0}, b = {0};
    identity_of("saved.eml", saved, -1, &a);
    identity_of("served.eml", served, -1, &b);
    g_assert_cmpstr(a.message_id, ==, "abc.123@mail.example.vn");
    g_assert_cmpstr(b.message_id, ==, "abc.123@mail.example.vn");
    g_assert_cmpstr(a.sha256, !=, b.sha256);
    g_assert_cmpstr(a.body_sha256, ==, b.body_sha256);
    g_assert_cmpint(a.size, ==, (gint64)strlen(saved));
    g_autofree char *whole = sha256_bytes(served, strlen(served));
    g_assert_cmpstr(b.sha256, ==, whole);
    const char *body = strstr(saved, "\n\n") + 2;
    g_autofree char *body_digest = sha256_bytes(body, strlen(body));
    g_assert_cmpstr(a.body_sha256, ==, body_digest);
    g_assert_cmpint(a.header_bytes, ==, body - saved);

    /* one character more in the body is another mail */
    g_autofree char *edited = g_strconcat(saved, "x", NULL);
    MailFileIdentity c = {0};
    identity_of("edited.eml", edited, -1, &c);
    g_assert_cmpstr(c.body_sha256, !=, a.body_sha256);
    mail_file_identity_clear(&a);
    mail_file_identity_clear(&b);
    mail_file_identity_clear(&c);
}

/* the pieces the file is read in never cut a CRLF or the empty line the wrong way */
static void test_identity_across_read_boundaries(void)
{
    for (gsize pad = 65530; pad < 65540; pad++) {
        GString *crlf = g_string_new("Message-ID: <b@x>\r\nX-Pad: ");
        while (crlf->len < pad)
            g_string_append_c(crlf, 'p');
        g_string_append(crlf, "\r\n\r\nline\r\nline\r\n");
        g_autofree char *lf_text = NULL;
        {
            g_autoptr(GRegex) re = g_regex_new("\r\n", 0, 0, NULL);
            lf_text = g_regex_replace_literal(re, crlf->str, -1, 0, "\n", 0, NULL);
        }
        MailFileIdentity a = {0}, b = {0};
        identity_of("crlf.eml", crlf->str, (gssize)crlf->len, &a);
        identity_of("lf.eml", lf_text, -1, &b);
        g_assert_cmpstr(a.body_sha256, ==, b.body_sha256);
        g_autofree char *expected = sha256_bytes("line\nline\n", 10);
        g_assert_cmpstr(a.body_sha256, ==, expected);
        g_assert_cmpstr(a.message_id, ==, "b@x");
        mail_file_identity_clear(&a);
        mail_file_identity_clear(&b);
        g_string_free(crlf, TRUE);
    }
}

/* a body of many CRLF lines (a base64 photo) digests as its LF text, whichever pieces it is
 * read and hashed in; a CR not before LF is data */
static void test_identity_of_long_crlf_body(void)
{
    GString *crlf = g_string_new("Message-ID: <long@x>\r\n\r\n");
    GString *lf = g_string_new(NULL);
    for (int i = 0; i < 6000; i++) {
        char line[80];
        for (int k = 0; k < 76; k++)
            line[k] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(i * 7 + k) %
                                                                                   64];
        line[76] = 0;
        g_string_append_printf(crlf, "%s%s\r\n", line, i % 1000 == 999 ? "\r" : "");
        g_string_append_printf(lf, "%s%s\n", line, i % 1000 == 999 ? "\r" : "");
    }
    MailFileIdentity a = {0};
    identity_of("long.eml", crlf->str, (gssize)crlf->len, &a);
    g_autofree char *expected = sha256_bytes(lf->str, lf->len);
    g_assert_cmpstr(a.body_sha256, ==, expected);
    mail_file_identity_clear(&a);
    g_string_free(crlf, TRUE);
    g_string_free(lf, TRUE);
}

/* a header block far over the bound: the Message-ID is still found in its first part, and
 * no more of it is held */
static void test_identity_of_huge_header_block(void)
{
    GString *m = g_string_new("Message-ID: <huge@x>\r\nTo: ");
    for (int i = 0; i < 150000; i++)
        g_string_append_printf(m, "%su%d@example.vn", i ? ", " : "", i);
    g_string_append(m, "\r\n\r\nbody\r\n");
    MailFileIdentity id = {0};
    identity_of("huge.eml", m->str, (gssize)m->len, &id);
    g_assert_cmpstr(id.message_id, ==, "huge@x");
    g_assert_cmpint(id.header_bytes, >, MAIL_HEADER_MAX_BYTES);
    g_autofree char *body = sha256_bytes("body\n", 5);
    g_assert_cmpstr(id.body_sha256, ==, body);
    mail_file_identity_clear(&id);

    /* headers only, no empty line at all: an empty body */
    MailFileIdentity only = {0};
    identity_of("only.eml", "Subject: x\r\nMessage-ID: <o@x>", -1, &only);
    g_autofree char *empty = sha256_bytes("", 0);
    g_assert_cmpstr(only.body_sha256, ==, empty);
    g_assert_cmpstr(only.message_id, ==, "o@x");
    mail_file_identity_clear(&only);
    g_string_free(m, TRUE);
}

static void test_header_block_length(void)
{
    static const struct {
        const char *text;
        gsize expected;
    } cases[] = {
        {"A: 1\r\nB: 2\r\n\r\nbody", 14},
        {"A: 1\nB: 2\n\nbody\n\n", 11},
        {"\r\nbody", 2},
        {"\nbody", 1},
        {"A: 1\r\nB: 2", 10},      /* no empty line: the whole file */
        {"A: 1\r\n \r\n\r\n", 11}, /* a line of one blank is a fold, not the end */
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = write_file("block.eml", cases[i].text, -1);
        int fd = open(path, O_RDONLY);
        g_assert_cmpint(fd, >=, 0);
        gsize length = 0;
        g_autoptr(GError) error = NULL;
        g_assert_true(mail_header_block_length(fd, 1000, &length, &error));
        g_assert_cmpuint(length, ==, cases[i].expected);
        /* the same held in memory */
        g_assert_cmpuint(mail_header_block_length_of(cases[i].text, strlen(cases[i].text), 1000),
                         ==, cases[i].expected);
        close(fd);
    }
    /* longer than the bound: bound + 1, and no more is read */
    GString *big = g_string_new(NULL);
    while (big->len < 5000)
        g_string_append(big, "X-Filler: 0123456789\r\n");
    g_string_append(big, "\r\nbody\r\n");
    g_autofree char *path = write_file("big.eml", big->str, (gssize)big->len);
    int fd = open(path, O_RDONLY);
    gsize length = 0;
    g_assert_true(mail_header_block_length(fd, 1000, &length, NULL));
    g_assert_cmpuint(length, ==, 1001);
    g_assert_cmpuint(mail_header_block_length_of(big->str, big->len, 1000), ==, 1001);
    g_assert_true(mail_header_block_length(fd, 100000, &length, NULL));
    g_assert_cmpuint(length, ==, big->len - strlen("body\r\n"));
    g_assert_cmpuint(mail_header_block_length_of(big->str, big->len, 100000), ==,
                     big->len - strlen("body\r\n"));
    close(fd);
    g_string_free(big, TRUE);
}

/* the end of the header block by its definition, line by line: just past the first line that
 * is empty or only "\r"; the whole text when there is none */
static gsize header_end_by_lines(const char *text, gsize len)
{
    gsize start = 0;
    while (start < len) {
        const char *lf = memchr(text + start, '\n', len - start);
        if (!lf)
            break;
        gsize line = (gsize)(lf - text) - start;
        if (line == 0 || (line == 1 && text[start] == '\r'))
            return (gsize)(lf - text) + 1;
        start = (gsize)(lf - text) + 1;
    }
    return len;
}

/* The file is read in blocks of 16 KB: an empty line, a fold or a line end cut by a block's
 * end must be found as in one piece, as in memory */
static void test_header_block_length_across_blocks(void)
{
    static const char *const ends[] = {"\r\n\r\nbody",           "\n\nbody",
                                       "\r\n \r\n\r\nbody",      "\n\r\nbody",
                                       "\r\n\rX: 1\r\n\r\nbody", "\r\n\r\r\nX: 2\r\n\r\nbody"};
    for (gsize e = 0; e < G_N_ELEMENTS(ends); e++) {
        for (int shift = -6; shift <= 6; shift++) {
            GString *text = g_string_new(NULL);
            while (text->len < 16384 - 40)
                g_string_append(text, "X-Filler: 0123456789\r\n");
            gsize target = (gsize)(16384 + shift) - strlen("X-Last: ") - 1;
            g_string_append(text, "X-Last: ");
            while (text->len < target)
                g_string_append_c(text, 'v');
            g_string_append(text, ends[e]);
            gsize expected = header_end_by_lines(text->str, text->len);
            g_autofree char *path = write_file("cut.eml", text->str, (gssize)text->len);
            int fd = open(path, O_RDONLY);
            g_assert_cmpint(fd, >=, 0);
            gsize length = 0;
            g_assert_true(mail_header_block_length(fd, 100000, &length, NULL));
            close(fd);
            g_assert_cmpuint(length, ==, expected);
            g_assert_cmpuint(mail_header_block_length_of(text->str, text->len, 100000), ==,
                             expected);
            g_string_free(text, TRUE);
        }
    }
}

static void test_header_find(void)
{
    static const char block[] = "Received: from a\r\n"
                                "\tby b\r\n"
                                "message-id : <x@y>\r\n"
                                "Subject: first\r\n"
                                " second\r\n"
                                "Subject: again\r\n"
                                "\r\n"
                                "From: not-a-header@body\r\n";
    gsize len = strlen(block);
    g_autofree char *subject = mail_header_find(block, len, "Subject");
    g_assert_cmpstr(subject, ==, "first second"); /* unfolded; the first one */
    g_autofree char *received = mail_header_find(block, len, "RECEIVED");
    g_assert_cmpstr(received, ==, "from a\tby b");
    g_autofree char *id = mail_header_find(block, len, "Message-ID");
    g_assert_cmpstr(id, ==, "<x@y>");
    g_assert_null(mail_header_find(block, len, "From")); /* the body is not the header */
    g_assert_null(mail_header_find(block, len, "Message"));
    g_assert_null(mail_header_find(NULL, 0, "Subject"));
}

static void test_message_id_clean(void)
{
    g_autofree char *a = mail_message_id_clean("  <abc@example.com>  ");
    g_assert_cmpstr(a, ==, "abc@example.com");
    g_autofree char *b = mail_message_id_clean("<first@x> <second@x>");
    g_assert_cmpstr(b, ==, "first@x");
    g_autofree char *c = mail_message_id_clean("bare@x");
    g_assert_cmpstr(c, ==, "bare@x");
    g_autofree char *d = mail_message_id_clean("<a\r\n b@x>");
    g_assert_cmpstr(d, ==, "ab@x");
    g_assert_null(mail_message_id_clean("<>"));
    g_assert_null(mail_message_id_clean(""));
    g_assert_null(mail_message_id_clean(NULL));
    g_assert_null(mail_message_id_clean("<\xff\xfe@x>"));
    g_autofree char *long_id = g_strnfill(1200, 'a');
    g_assert_null(mail_message_id_clean(long_id));
}

/* ---- durability: what is synced ----------------------------------------------------------- */

static void record_sync(const char *path, gpointer data)
{
    g_ptr_array_add(data, g_strdup(path));
}

static gboolean synced(GPtrArray *paths, const char *path)
{
    for (guint i = 0; i < paths->len; i++) {
        if (g_str_equal(g_ptr_array_index(paths, i), path))
            return TRUE;
    }
    return FALSE;
}

/* A file renamed into a new prefix folder is durable only once the folder's own entry is:
 * the parent is synced when the prefix folder is made. And a second copy of content already
 * there (whose first writer may not have synced its folder yet) syncs that folder too. */
static void test_content_commit_syncs_every_folder_it_relies_on(void)
{
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    fs_set_sync_hook(record_sync, paths);
    g_autofree char *store = g_build_filename(work_dir, "store", NULL);
    g_assert_cmpint(g_mkdir(store, 0700), ==, 0);
    g_autoptr(GError) error = NULL;
    g_autofree char *digest = sha256_bytes("content", 7);

    g_autofree char *final = fs_content_path(store, digest, ".eml", &error);
    g_assert_no_error(error);
    char sub[3] = {digest[0], digest[1], 0};
    g_autofree char *prefix = g_build_filename(store, sub, NULL);
    g_assert_true(g_file_test(prefix, G_FILE_TEST_IS_DIR));
    g_assert_true(synced(paths, store)); /* the new prefix folder's entry */
    struct stat st;
    g_assert_cmpint(stat(prefix, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0700);

    g_autofree char *temp = write_file("temp-1", "content", -1);
    g_ptr_array_set_size(paths, 0);
    g_assert_true(fs_commit_content(temp, final, digest, FS_SYNC_NOW, &error));
    g_assert_no_error(error);
    g_assert_true(synced(paths, temp));   /* the data, before the rename */
    g_assert_true(synced(paths, prefix)); /* the rename */
    g_assert_true(g_file_test(final, G_FILE_TEST_IS_REGULAR));

    /* the same prefix again: it exists, its parent is not synced again */
    g_ptr_array_set_size(paths, 0);
    g_autofree char *other = g_strdup(digest);
    other[2] = other[2] == '0' ? '1' : '0';
    g_autofree char *again = fs_content_path(store, other, ".eml", &error);
    g_assert_nonnull(again);
    g_assert_false(synced(paths, store));

    /* the same content again: the temp file goes, the first copy and its folder are synced
     * (whoever put it there may not have) */
    g_autofree char *temp2 = write_file("temp-2", "content", -1);
    g_ptr_array_set_size(paths, 0);
    g_assert_true(fs_commit_content(temp2, final, digest, FS_SYNC_NOW, &error));
    g_assert_no_error(error);
    g_assert_false(g_file_test(temp2, G_FILE_TEST_EXISTS));
    g_assert_true(synced(paths, final));
    g_assert_true(synced(paths, prefix));
    fs_set_sync_hook(NULL, NULL);
}

/* Group commit: a content file committed FS_SYNC_LATER is in place at once, and nothing is
 * synced until the file system is (one syncfs for the whole batch). */
static void test_content_commit_later_syncs_once_for_the_batch(void)
{
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *store = g_build_filename(work_dir, "later", NULL);
    g_assert_cmpint(g_mkdir(store, 0700), ==, 0);
    g_autoptr(GError) error = NULL;
    char *finals[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        g_autofree char *content = g_strdup_printf("photo %d", i);
        g_autofree char *digest = sha256_bytes(content, strlen(content));
        finals[i] = fs_content_path(store, digest, NULL, &error);
        g_assert_no_error(error);
        g_autofree char *name = g_strdup_printf("later-%d", i);
        g_autofree char *temp = write_file(name, content, -1);
        fs_set_sync_hook(record_sync, paths);
        g_assert_true(fs_commit_content(temp, finals[i], digest, FS_SYNC_LATER, &error));
        fs_set_sync_hook(NULL, NULL);
        g_assert_no_error(error);
        g_assert_true(g_file_test(finals[i], G_FILE_TEST_IS_REGULAR));
    }
    g_assert_cmpuint(paths->len, ==, 0);
    fs_set_sync_hook(record_sync, paths);
    g_assert_true(fs_sync_filesystem(store, &error));
    fs_set_sync_hook(NULL, NULL);
    g_assert_no_error(error);
    g_assert_cmpuint(paths->len, ==, 1);
    g_assert_true(synced(paths, store));
    /* the same through a descriptor kept open (what the gateway does), told as its path */
    int fd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    g_ptr_array_set_size(paths, 0);
    fs_set_sync_hook(record_sync, paths);
    g_assert_true(fs_sync_fd(fd, store, &error));
    fs_set_sync_hook(NULL, NULL);
    g_assert_no_error(error);
    g_assert_cmpuint(paths->len, ==, 1);
    g_assert_true(synced(paths, store));
    close(fd);
    /* a bad descriptor is an error that names the path, not a silent success */
    g_assert_false(fs_sync_fd(-1, store, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY);
    g_assert_nonnull(strstr(error->message, store));
    g_clear_error(&error);
    /* checked from the disk: a whole file is whole, a cut one is not */
    g_autofree char *first = g_strdup_printf("photo %d", 0);
    g_autofree char *first_digest = sha256_bytes(first, strlen(first));
    g_assert_true(fs_content_whole_on_disk(finals[0], (gint64)strlen(first), first_digest));
    g_assert_cmpint(truncate(finals[0], 3), ==, 0);
    g_assert_false(fs_content_whole_on_disk(finals[0], (gint64)strlen(first), first_digest));
    g_assert_false(fs_content_whole_on_disk(finals[0], 3, first_digest));
    for (int i = 0; i < 3; i++)
        g_free(finals[i]);
}

/* After a power cut, a content file written without its own fsync can be there under its
 * name but cut short (or its blocks never written): the next copy of the same content must
 * replace it, not be thrown away in its favour. */
static void test_content_file_cut_short_by_a_power_cut_is_written_again(void)
{
    g_autofree char *store = g_build_filename(work_dir, "cut", NULL);
    g_assert_cmpint(g_mkdir(store, 0700), ==, 0);
    g_autoptr(GError) error = NULL;
    static const char photo[] = "JFIF... a citizen's photo of the flooded road ...";
    g_autofree char *digest = sha256_bytes(photo, strlen(photo));
    g_autofree char *final = fs_content_path(store, digest, NULL, &error);
    g_assert_no_error(error);
    static const char *const damaged[] = {"", "JFIF... a citizen's", "\0\0\0\0\0\0\0\0"};
    static const gssize lengths[] = {0, 19, -2};
    for (gsize i = 0; i < G_N_ELEMENTS(damaged); i++) {
        /* what the crash left: nothing, a cut-short file, the right size of zeros */
        gsize len = lengths[i] == -2 ? strlen(photo) : (gsize)lengths[i];
        g_autofree char *zeros = g_malloc0(len + 1);
        g_assert_true(
            g_file_set_contents(final, lengths[i] == -2 ? zeros : damaged[i], (gssize)len, NULL));
        for (int when = FS_SYNC_NOW; when <= FS_SYNC_LATER; when++) {
            g_autofree char *temp = write_file("again", photo, -1);
            g_assert_true(fs_commit_content(temp, final, digest, (FsSyncWhen)when, &error));
            g_assert_no_error(error);
            g_autofree char *got = NULL;
            gsize got_len = 0;
            g_assert_true(g_file_get_contents(final, &got, &got_len, NULL));
            g_assert_cmpmem(got, got_len, photo, strlen(photo));
            g_assert_false(g_file_test(temp, G_FILE_TEST_EXISTS));
            if (when == FS_SYNC_NOW)
                g_assert_true(g_file_set_contents(final, lengths[i] == -2 ? zeros : damaged[i],
                                                  (gssize)len, NULL));
        }
    }
}

/* how many of the file's pages the page cache holds (mincore over a mapping never touched) */
static gsize pages_cached(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    struct stat st;
    g_assert_cmpint(fstat(fd, &st), ==, 0);
    gsize page = (gsize)sysconf(_SC_PAGESIZE), pages = ((gsize)st.st_size + page - 1) / page;
    void *map = mmap(NULL, (gsize)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    g_assert_true(map != MAP_FAILED);
    g_autofree unsigned char *in = g_malloc(pages);
    g_assert_cmpint(mincore(map, (gsize)st.st_size, in), ==, 0);
    munmap(map, (gsize)st.st_size);
    close(fd);
    gsize n = 0;
    for (gsize i = 0; i < pages; i++)
        n += in[i] & 1;
    return n;
}

/* The mailbox pass lets the page cache drop the raw mail and photos of a batch once its sync
 * is over: a clean file's pages go, and the file reads the same from the disk. */
static void test_forget_cached_drops_clean_pages(void)
{
    struct statfs fs;
    g_assert_cmpint(statfs(work_dir, &fs), ==, 0);
    if (fs.f_type == 0x01021994 /* TMPFS_MAGIC: its pages are the file, never dropped */) {
        g_test_skip("the test folder is on tmpfs");
        return;
    }
    g_autofree char *body = g_malloc(256 * 1024);
    for (gsize i = 0; i < 256 * 1024; i++)
        body[i] = (char)(i * 7 + i / 4096);
    g_autofree char *path = write_file("forget", body, 256 * 1024);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(fsync(fd), ==, 0);
    close(fd);
    g_assert_cmpuint(pages_cached(path), ==, 256 * 1024 / (gsize)sysconf(_SC_PAGESIZE));
    fs_forget_cached(path);
    g_assert_cmpuint(pages_cached(path), ==, 0);
    g_autofree char *got = NULL;
    gsize got_len = 0;
    g_assert_true(g_file_get_contents(path, &got, &got_len, NULL));
    g_assert_cmpmem(got, got_len, body, 256 * 1024);
    /* a file that is not there is left alone */
    g_autofree char *missing = g_build_filename(work_dir, "no-such-file", NULL);
    fs_forget_cached(missing);
    g_assert_false(g_file_test(missing, G_FILE_TEST_EXISTS));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_init("test_util_mail");
    work_dir = g_dir_make_tmp("paht-util-mail-XXXXXX", NULL);
    g_test_add_func("/mail/identity/same-mail-whatever-line-ends-and-trace-headers",
                    test_identity_same_mail_whatever_line_ends_and_trace_headers);
    g_test_add_func("/mail/identity/across-read-boundaries", test_identity_across_read_boundaries);
    g_test_add_func("/mail/identity/long-crlf-body-digests-as-lf", test_identity_of_long_crlf_body);
    g_test_add_func("/mail/identity/huge-header-block", test_identity_of_huge_header_block);
    g_test_add_func("/mail/header-block-length", test_header_block_length);
    g_test_add_func("/mail/header-block-length-across-blocks",
                    test_header_block_length_across_blocks);
    g_test_add_func("/mail/header-find", test_header_find);
    g_test_add_func("/mail/message-id-clean", test_message_id_clean);
    g_test_add_func("/fs/content-commit-syncs-every-folder-it-relies-on",
                    test_content_commit_syncs_every_folder_it_relies_on);
    g_test_add_func("/fs/content-commit-later-syncs-once-for-the-batch",
                    test_content_commit_later_syncs_once_for_the_batch);
    g_test_add_func("/fs/forget-cached-drops-clean-pages", test_forget_cached_drops_clean_pages);
    g_test_add_func("/fs/content-file-cut-short-by-a-power-cut-is-written-again",
                    test_content_file_cut_short_by_a_power_cut_is_written_again);
    int result = g_test_run();
    fs_remove_tree(work_dir);
    g_free(work_dir);
    return result;
}
