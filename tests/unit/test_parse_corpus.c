/* parse: a corpus of real-world automatic mail, bounces and charsets (tests/mail/corpus),
 * each mail with its expected classification in tests/mail/corpus/expected.tsv.
 *
 * Every mail must parse (no crash, no error), get the classification the manifest gives, and
 * for a bounce the DSN status and recipient it names; its text must not be empty when the mail
 * has text (column "text"), and must hold no U+FFFD unless the manifest says the bytes are
 * really broken ("fffd"). Nothing automatic may come out as a report: that is what would be
 * answered, and answering machines makes mail loops.
 *
 * The same program checks any other corpus by the same rules:
 *   PAHT_CORPUS_DIR=DIR [PAHT_CORPUS_MANIFEST=FILE]  another folder and its manifest
 *   PAHT_CORPUS_DUMP=DIR                             prints one line per file of DIR (file,
 *                                                    classification, rule, DSN status and
 *                                                    recipient, text length, U+FFFD count):
 *                                                    how a new corpus is looked at first
 *
 * Manifest lines: file <TAB> classification <TAB> checks, "#" comments. checks is a list of
 * words: status=5.1.1, recipient=user@example.com, text (the text must not be empty), fffd
 * (U+FFFD allowed), contains=WORD (the text holds WORD; "_" for a space). */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "parse/parse.h"
#include "util/util.h"

static char *corpus_dir(void)
{
    const char *dir = g_getenv("PAHT_CORPUS_DIR");
    if (dir && *dir)
        return g_strdup(dir);
    const char *mail = g_getenv("PAHT_TEST_MAIL_DIR");
    if (mail && *mail)
        return g_build_filename(mail, "corpus", NULL);
    g_autofree char *here = g_path_get_dirname(__FILE__);
    return g_build_filename(here, "..", "mail", "corpus", NULL);
}

static char *manifest_path(const char *dir)
{
    const char *manifest = g_getenv("PAHT_CORPUS_MANIFEST");
    if (manifest && *manifest)
        return g_strdup(manifest);
    return g_build_filename(dir, "expected.tsv", NULL);
}

typedef struct {
    char *dir;
    Draft *draft;
    GError *error;
} Parsed;

static Parsed parse_file(const char *path)
{
    Parsed p = {0};
    GError *error = NULL;
    p.dir = g_dir_make_tmp("paht-corpus-XXXXXX", &error);
    g_assert_no_error(error);
    ParseOptions opts = {.attachments_dir = p.dir, .our_address = "paht@soctrang.gov.vn"};
    p.draft = parse_message_file(path, &opts, &p.error);
    return p;
}

static void parsed_clear(Parsed *p)
{
    draft_free(p->draft);
    g_clear_error(&p->error);
    fs_remove_tree(p->dir);
    g_free(p->dir);
}

static guint count_replacement_chars(const char *text)
{
    guint n = 0;
    for (const char *p = text ? strstr(text, "\xEF\xBF\xBD") : NULL; p;
         p = strstr(p + 3, "\xEF\xBF\xBD"))
        n++;
    return n;
}

/* ---- one mail against its manifest line ---------------------------------------------------- */

typedef struct {
    char *file;
    char *classification;
    char **checks;
} Expected;

static void expected_free(Expected *e)
{
    g_free(e->file);
    g_free(e->classification);
    g_strfreev(e->checks);
    g_free(e);
}

static const char *check_value(const Expected *e, const char *name)
{
    gsize n = strlen(name);
    for (char **c = e->checks; c && *c; c++) {
        if (strncmp(*c, name, n) == 0 && (*c)[n] == '=')
            return *c + n + 1;
    }
    return NULL;
}

static gboolean has_check(const Expected *e, const char *name)
{
    for (char **c = e->checks; c && *c; c++) {
        if (strcmp(*c, name) == 0)
            return TRUE;
    }
    return FALSE;
}

/* what is wrong with the draft, or NULL */
static char *mismatch(const Expected *e, const Parsed *p)
{
    if (!p->draft)
        return g_strdup_printf("parse failed: %s", p->error ? p->error->message : "?");
    const Draft *d = p->draft;
    if (g_strcmp0(d->classification, e->classification) != 0)
        return g_strdup_printf("classified %s (rule: %s), expected %s", d->classification, d->rule,
                               e->classification);
    const char *status = check_value(e, "status");
    if (status && g_strcmp0(d->dsn_status, status) != 0)
        return g_strdup_printf("DSN status %s, expected %s", d->dsn_status, status);
    const char *recipient = check_value(e, "recipient");
    if (recipient && g_ascii_strcasecmp(d->dsn_recipient ? d->dsn_recipient : "", recipient))
        return g_strdup_printf("DSN recipient %s, expected %s", d->dsn_recipient, recipient);
    if (has_check(e, "text") && (!d->text || !*d->text))
        return g_strdup("empty text");
    if (!has_check(e, "fffd") && count_replacement_chars(d->text) > 0)
        return g_strdup_printf("%u U+FFFD in the text", count_replacement_chars(d->text));
    if (!has_check(e, "fffd") && count_replacement_chars(d->subject) > 0)
        return g_strdup("U+FFFD in the subject");
    for (char **c = e->checks; c && *c; c++) {
        if (!g_str_has_prefix(*c, "contains="))
            continue;
        g_autofree char *word = g_strdup(*c + strlen("contains="));
        g_strdelimit(word, "_", ' ');
        if (!d->text || !strstr(d->text, word))
            return g_strdup_printf("the text does not contain \"%s\"", word);
    }
    return NULL;
}

static GPtrArray *read_manifest(const char *path)
{
    g_autofree char *data = NULL;
    GError *error = NULL;
    g_file_get_contents(path, &data, NULL, &error);
    g_assert_no_error(error);
    GPtrArray *lines = g_ptr_array_new_with_free_func((GDestroyNotify)expected_free);
    g_auto(GStrv) rows = g_strsplit(data, "\n", -1);
    for (char **row = rows; *row; row++) {
        g_strchomp(*row);
        if (!**row || **row == '#')
            continue;
        g_auto(GStrv) cols = g_strsplit(*row, "\t", 3);
        g_assert_nonnull(cols[0]);
        g_assert_nonnull(cols[1]);
        Expected *e = g_new0(Expected, 1);
        e->file = g_strdup(cols[0]);
        e->classification = g_strdup(cols[1]);
        e->checks = g_strsplit_set(cols[2] ? cols[2] : "", " ", -1);
        g_ptr_array_add(lines, e);
    }
    return lines;
}

/* ---- the tests ----------------------------------------------------------------------------- */

static void test_corpus_matches_manifest(void)
{
    g_autofree char *dir = corpus_dir();
    g_autofree char *manifest = manifest_path(dir);
    g_autoptr(GPtrArray) expected = read_manifest(manifest);
    GString *failures = g_string_new(NULL);
    guint failed = 0;
    for (guint i = 0; i < expected->len; i++) {
        const Expected *e = expected->pdata[i];
        g_autofree char *path = g_build_filename(dir, e->file, NULL);
        Parsed p = parse_file(path);
        g_autofree char *wrong = mismatch(e, &p);
        if (wrong) {
            failed++;
            g_string_append_printf(failures, "  %s: %s\n", e->file, wrong);
        }
        parsed_clear(&p);
    }
    if (failed > 0)
        g_test_message("%u of %u corpus mails wrong:\n%s", failed, expected->len, failures->str);
    g_string_free(failures, TRUE);
    g_assert_cmpuint(failed, ==, 0);
}

/* every .eml of the folder is in the manifest: a mail nobody checks proves nothing */
static void test_every_corpus_mail_is_listed(void)
{
    if (g_getenv("PAHT_CORPUS_DIR")) {
        g_test_skip("another corpus: its manifest may list a part of it");
        return;
    }
    g_autofree char *dir = corpus_dir();
    g_autofree char *manifest = manifest_path(dir);
    g_autoptr(GPtrArray) expected = read_manifest(manifest);
    g_autoptr(GHashTable) listed = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < expected->len; i++)
        g_hash_table_add(listed, ((Expected *)expected->pdata[i])->file);
    GDir *d = g_dir_open(dir, 0, NULL);
    g_assert_nonnull(d);
    guint files = 0;
    for (const char *name = g_dir_read_name(d); name; name = g_dir_read_name(d)) {
        if (!g_str_has_suffix(name, ".eml"))
            continue;
        files++;
        if (!g_hash_table_contains(listed, name))
            g_test_message("not in expected.tsv: %s", name);
        g_assert_true(g_hash_table_contains(listed, name));
    }
    g_dir_close(d);
    g_assert_cmpuint(files, ==, expected->len);
}

/* ---- looking at a new corpus ---------------------------------------------------------------- */

static void dump_one(const char *root, const char *path)
{
    Parsed p = parse_file(path);
    const Draft *d = p.draft;
    const char *name = path + strlen(root) + (path[strlen(root)] == '/');
    if (!d) {
        printf("%s\terror\t%s\n", name, p.error ? p.error->message : "?");
    } else {
        g_autofree char *rule = g_strdup(d->rule ? d->rule : "");
        g_strdelimit(rule, "\t\n", ' ');
        printf("%s\t%s\t%s\t%s\t%s\t%zu\t%u\t%u\n", name, d->classification, rule,
               d->dsn_status ? d->dsn_status : "-", d->dsn_recipient ? d->dsn_recipient : "-",
               strlen(d->text ? d->text : ""), count_replacement_chars(d->text),
               count_replacement_chars(d->subject));
    }
    parsed_clear(&p);
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void dump_tree(const char *root, const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    for (const char *name = g_dir_read_name(d); name; name = g_dir_read_name(d))
        g_ptr_array_add(names, g_strdup(name));
    g_dir_close(d);
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path = g_build_filename(dir, (char *)names->pdata[i], NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR))
            dump_tree(root, path);
        else if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
            dump_one(root, path);
    }
}

int main(int argc, char **argv)
{
    parse_init();
    const char *dump = g_getenv("PAHT_CORPUS_DUMP");
    if (dump && *dump) {
        dump_tree(dump, dump);
        return 0;
    }
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/parse/corpus/matches-manifest", test_corpus_matches_manifest);
    g_test_add_func("/parse/corpus/every-mail-listed", test_every_corpus_mail_is_listed);
    return g_test_run();
}
