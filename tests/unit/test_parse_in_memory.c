/* parse: a message small enough is read into memory once and parsed there, a bigger one from
 * its file (ParseOptions.in_memory_max). Both must give the same draft, the same attachments
 * and the same refusals: every mail of tests/mail (fixtures, the real-world corpus, the
 * hostile ones our limits refuse) and generated mails at the edges of the limits are parsed
 * both ways and compared field by field. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "parse/parse.h"
#include "util/util.h"

static char *mail_dir(void)
{
    const char *dir = g_getenv("PAHT_TEST_MAIL_DIR");
    if (dir && *dir)
        return g_strdup(dir);
    g_autofree char *here = g_path_get_dirname(__FILE__);
    return g_build_filename(here, "..", "mail", NULL);
}

static void collect_mail(const char *dir, GPtrArray *paths)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_assert_nonnull(d);
    for (const char *name; (name = g_dir_read_name(d));) {
        char *path = g_build_filename(dir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
            collect_mail(path, paths);
            g_free(path);
        } else if (g_str_has_suffix(name, ".eml")) {
            g_ptr_array_add(paths, path);
        } else {
            g_free(path);
        }
    }
}

static void put(GString *out, const char *name, const char *value)
{
    g_string_append_printf(out, "%s=%s\n", name, value ? value : "(null)");
}

static void put_list(GString *out, const char *name, const GPtrArray *list)
{
    for (guint i = 0; list && i < list->len; i++)
        put(out, name, g_ptr_array_index(list, i));
}

/* everything a draft says, and the bytes of each attachment it wrote */
static char *fingerprint(const Draft *d, const GError *error)
{
    GString *out = g_string_new(NULL);
    if (!d) {
        g_string_append_printf(out, "error %s %d %s\n", g_quark_to_string(error->domain),
                               error->code, error->message);
        return g_string_free(out, FALSE);
    }
    put(out, "message_id", d->message_id);
    put(out, "in_reply_to", d->in_reply_to);
    put_list(out, "reference", d->references);
    put(out, "subject", d->subject);
    put(out, "from_name", d->from_name);
    put(out, "from_address", d->from_address);
    put(out, "reply_to", d->reply_to_address);
    put(out, "return_path", d->return_path);
    put_list(out, "recipient", d->recipients);
    g_string_append_printf(out, "date=%" G_GINT64_FORMAT "\n", d->date);
    put(out, "text", d->text);
    put(out, "quoted", d->quoted_text);
    put(out, "classification", d->classification);
    put(out, "rule", d->rule);
    g_string_append_printf(out, "confidential=%d\n", d->confidential);
    put(out, "name", d->citizen.name);
    put(out, "address", d->citizen.address);
    put(out, "id_number", d->citizen.id_number);
    put(out, "phone", d->citizen.phone);
    put(out, "email", d->citizen.email);
    put(out, "location", d->location.text);
    g_string_append_printf(out, "coordinates=%d %.7f %.7f\n", d->location.has_coordinates,
                           d->location.lat, d->location.lon);
    put(out, "occurred_at", d->occurred_at);
    put(out, "rating", d->rating);
    put(out, "dsn_message_id", d->dsn_original_message_id);
    put(out, "dsn_status", d->dsn_status);
    put(out, "dsn_recipient", d->dsn_recipient);
    put(out, "dsn_diagnostic", d->dsn_diagnostic);
    put(out, "auth_dmarc", d->auth_dmarc);
    put(out, "auth_results", d->auth_results);
    put(out, "auth_dkim_pass", d->auth_dkim_pass);
    g_string_append_printf(out, "spam=%d\n", d->spam_flagged);
    put(out, "spam_status", d->spam_status);
    for (guint i = 0; i < d->attachments->len; i++) {
        const DraftAttachment *a = g_ptr_array_index(d->attachments, i);
        g_string_append_printf(out, "attachment %s %s %s %s %d %" G_GINT64_FORMAT " %s\n",
                               a->filename, a->content_type, a->kind,
                               a->content_id ? a->content_id : "-", a->dangerous, a->size,
                               a->sha256);
        /* what is on disk is what the draft says */
        g_autofree char *bytes = NULL;
        gsize len = 0;
        g_assert_true(g_file_get_contents(a->path, &bytes, &len, NULL));
        g_assert_cmpuint(len, ==, (gsize)a->size);
        g_autofree char *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (guchar *)bytes, len);
        g_assert_cmpstr(sum, ==, a->sha256);
    }
    put_list(out, "warning", d->warnings);
    return g_string_free(out, FALSE);
}

/* the file parsed with this in_memory_max, as a fingerprint */
static char *parse_with(const char *path, gint64 in_memory_max)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("paht-in-memory-XXXXXX", &error);
    g_assert_no_error(error);
    ParseOptions opts = {.attachments_dir = dir,
                         .our_address = "paht@soctrang.gov.vn",
                         .code_prefix = "PAHT",
                         .trusted_authserv_id = "mx.soctrang.gov.vn",
                         .in_memory_max = in_memory_max};
    g_autoptr(Draft) draft = parse_message_file(path, &opts, &error);
    char *print = fingerprint(draft, error);
    fs_remove_tree(dir);
    return print;
}

static void assert_same_both_ways(const char *path)
{
    g_autofree char *from_file = parse_with(path, -1);
    g_autofree char *in_memory = parse_with(path, G_MAXINT64);
    g_autofree char *by_default = parse_with(path, 0);
    if (g_strcmp0(from_file, in_memory) != 0)
        g_test_message("%s differs:\n--- from the file\n%s\n--- in memory\n%s", path, from_file,
                       in_memory);
    g_assert_cmpstr(in_memory, ==, from_file);
    g_assert_cmpstr(by_default, ==, from_file);
}

static void test_every_test_mail_same_both_ways(void)
{
    g_autofree char *dir = mail_dir();
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    collect_mail(dir, paths);
    /* the fixtures, the corpus, the hostile ones: all of them, or the comparison means little */
    g_assert_cmpuint(paths->len, >, 130);
    guint refused = 0, with_attachments = 0;
    for (guint i = 0; i < paths->len; i++) {
        const char *path = g_ptr_array_index(paths, i);
        assert_same_both_ways(path);
        g_autofree char *print = parse_with(path, 0);
        refused += g_str_has_prefix(print, "error ");
        with_attachments += strstr(print, "\nattachment ") != NULL;
    }
    /* both kinds were compared: refusals (nesting-bomb, two-thousand-parts) and attachments */
    g_assert_cmpuint(refused, >=, 2);
    g_assert_cmpuint(with_attachments, >=, 20);
}

static char *write_mail(const char *dir, const char *name, const GString *mail)
{
    char *path = g_build_filename(dir, name, NULL);
    g_assert_true(g_file_set_contents(path, mail->str, (gssize)mail->len, NULL));
    return path;
}

/* mails made to sit at the edges of the limits checked before GMime reads a message */
static void test_limits_same_both_ways(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("paht-in-memory-edges-XXXXXX", &error);
    g_assert_no_error(error);
    const char *body = "Content-Type: text/plain; charset=UTF-8\r\n\r\nĐường ngập.\r\n";

    /* a header block of exactly MAIL_HEADER_MAX_BYTES and of one byte more */
    const char *content_type = "Content-Type: text/plain; charset=UTF-8\r\n\r\n";
    for (int over = 0; over <= 1; over++) {
        gsize block = MAIL_HEADER_MAX_BYTES + (gsize)over;
        g_autoptr(GString) m = g_string_new("From: an@example.vn\r\nSubject: x\r\n");
        while (m->len + strlen(content_type) + 64 < block)
            g_string_append(m, "X-Filler: 0123456789\r\n");
        gsize need = block - strlen(content_type) - m->len; /* "X-Last: " a... "\r\n" */
        g_string_append(m, "X-Last: ");
        for (gsize i = 0; i < need - 10; i++)
            g_string_append_c(m, 'a');
        g_string_append(m, "\r\n");
        g_string_append(m, content_type);
        g_assert_cmpuint(m->len, ==, block);
        g_string_append(m, "Đường ngập.\r\n");
        g_autofree char *path = write_mail(dir, "headers.eml", m);
        assert_same_both_ways(path);
        g_autofree char *print = parse_with(path, 0);
        g_assert_cmpint(g_str_has_prefix(print, "error "), ==, over);
    }
    /* lines starting "--" around the prescan's bound, across its 64 KiB reads */
    for (int lines = 9990; lines <= 10010; lines += 10) {
        g_autoptr(GString) m = g_string_new("From: an@example.vn\r\nSubject: gạch\r\n");
        g_string_append(m, body);
        for (int i = 0; i < lines; i++)
            g_string_append(m, "--\r\n");
        g_autofree char *path = write_mail(dir, "dashes.eml", m);
        assert_same_both_ways(path);
    }
    /* a junk first line: the second try without it, from a substream of either */
    g_autoptr(GString) junk = g_string_new("\x01\x02 not a header line\r\nFrom: an@example.vn\r\n"
                                           "Subject: Rác thải\r\n");
    g_string_append(junk, body);
    g_autofree char *junk_path = write_mail(dir, "junk.eml", junk);
    assert_same_both_ways(junk_path);
    g_autofree char *print = parse_with(junk_path, 0);
    g_assert_nonnull(strstr(print, "first line of the file is not a header"));
    /* no empty line at all, and a message of one byte */
    g_autoptr(GString) headers_only = g_string_new("From: an@example.vn\r\nSubject: x");
    g_autofree char *headers_only_path = write_mail(dir, "headers-only.eml", headers_only);
    assert_same_both_ways(headers_only_path);
    g_autoptr(GString) one = g_string_new("x");
    g_autofree char *one_path = write_mail(dir, "one.eml", one);
    assert_same_both_ways(one_path);
    fs_remove_tree(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* the two parses of a mail must not straddle a change of day or year (a date without a
     * year, an ID number's year of birth are read against now) */
    g_setenv("PAHT_NOW", "2026-11-30T09:00:00+07:00", TRUE);
    log_init("test_parse_in_memory");
    log_set_level(LOG_LEVEL_ERROR);
    g_test_add_func("/parse/in-memory/every-test-mail-same-both-ways",
                    test_every_test_mail_same_both_ways);
    g_test_add_func("/parse/in-memory/limits-same-both-ways", test_limits_same_both_ways);
    return g_test_run();
}
