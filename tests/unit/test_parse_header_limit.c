/* parse: a header block over MAIL_HEADER_MAX_BYTES is refused before GMime reads it (its
 * memory grows with the headers: 150,000 To: addresses in a 3.2 MB mail cost it 125 MB, an
 * 8 MB Subject 72 MB); one within the bound is parsed as usual. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "parse/parse.h"
#include "util/util.h"

static char *work_dir;

/* parses data from a file; *error_out gets the error, if any; returns the draft or NULL */
static Draft *parse_data(const char *data, gsize len, GError **error_out)
{
    g_autofree char *path = g_build_filename(work_dir, "message.eml", NULL);
    g_assert_true(g_file_set_contents(path, data, (gssize)len, NULL));
    g_autofree char *attachments = g_build_filename(work_dir, "att", NULL);
    g_mkdir(attachments, 0700);
    ParseOptions opts = {.attachments_dir = attachments};
    Draft *draft = parse_message_file(path, &opts, error_out);
    g_autoptr(GDir) dir = g_dir_open(attachments, 0, NULL);
    g_assert_null(draft ? NULL : g_dir_read_name(dir)); /* refused: nothing left behind */
    return draft;
}

/* To: with n addresses, then a short body */
static GString *many_recipients(int n)
{
    GString *m = g_string_new("From: an@example.vn\r\nSubject: Ngập nước\r\nTo: ");
    for (int i = 0; i < n; i++)
        g_string_append_printf(m, "%sngười%d@example.vn", i ? ",\r\n " : "", i);
    g_string_append(m, "\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nĐường ngập.\r\n");
    return m;
}

static void test_header_block_over_the_bound_is_refused(void)
{
    /* the two mails of the issue: 150,000 To: addresses (3.2 MB), an 8 MB Subject */
    GString *to = many_recipients(150000);
    g_assert_cmpuint(to->len, >, 3 * 1000 * 1000);
    GError *error = NULL;
    g_assert_null(parse_data(to->str, to->len, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_INPUT);
    g_autofree char *expected =
        g_strdup_printf("header block over %d KiB", MAIL_HEADER_MAX_BYTES / 1024);
    g_assert_cmpstr(error->message, ==, expected);
    g_clear_error(&error);

    GString *subject = g_string_new("From: an@example.vn\r\nSubject: ");
    while (subject->len < 8 * 1024 * 1024)
        g_string_append(subject, "Phản ánh ");
    g_string_append(subject, "\r\n\r\nNội dung.\r\n");
    g_assert_null(parse_data(subject->str, subject->len, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_INPUT);
    g_clear_error(&error);

    g_string_free(to, TRUE);
    g_string_free(subject, TRUE);
}

static void test_header_block_within_the_bound_is_parsed(void)
{
    /* a few thousand recipients: far more than real mail, still within the bound */
    GString *m = many_recipients(3000);
    g_assert_cmpuint(m->len, <, MAIL_HEADER_MAX_BYTES);
    GError *error = NULL;
    Draft *draft = parse_data(m->str, m->len, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(draft->subject, ==, "Ngập nước");
    g_assert_cmpstr(draft->text, ==, "Đường ngập.");
    draft_free(draft);

    /* headers only, no body at all: within the bound, parsed */
    static const char only[] = "From: an@example.vn\r\nSubject: x\r\n";
    draft = parse_data(only, strlen(only), &error);
    g_assert_no_error(error);
    draft_free(draft);
    g_string_free(m, TRUE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_init("test_parse_header_limit");
    work_dir = g_dir_make_tmp("paht-header-limit-XXXXXX", NULL);
    g_test_add_func("/parse/header-limit/over-the-bound-refused",
                    test_header_block_over_the_bound_is_refused);
    g_test_add_func("/parse/header-limit/within-the-bound-parsed",
                    test_header_block_within_the_bound_is_parsed);
    int result = g_test_run();
    fs_remove_tree(work_dir);
    g_free(work_dir);
    return result;
}
