/* Unit tests of the mustache renderer: the official spec files (tests/mustache-spec, named by
 * PAHT_MUSTACHE_SPEC_DIR, which CTest sets) and our own cases. */
#include "notify/notify.h"
#include "notify/notify_private.h"
#include "util/util.h"

#include <string.h>

/* ---- helpers -------------------------------------------------------------------------------- */

static JsonNode *json(const char *text)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    g_assert_true(json_parser_load_from_data(parser, text, -1, &error));
    g_assert_no_error(error);
    return json_node_copy(json_parser_get_root(parser));
}

static char *render(const char *template_text, const char *context_json, gboolean html)
{
    JsonNode *context = json(context_json);
    g_autoptr(GError) error = NULL;
    char *out = template_render(template_text, context, html, &error);
    g_assert_no_error(error);
    g_assert_nonnull(out);
    json_node_unref(context);
    return out;
}

static void assert_renders(const char *template_text, const char *context_json, gboolean html,
                           const char *expected)
{
    g_autofree char *out = render(template_text, context_json, html);
    g_assert_cmpstr(out, ==, expected);
}

/* renders and expects PAHT_ERROR_INPUT whose message names line */
static void assert_malformed(const char *template_text, int line)
{
    JsonNode *context = json("{\"a\": true}");
    g_autoptr(GError) error = NULL;
    char *out = template_render(template_text, context, TRUE, &error);
    json_node_unref(context);
    g_assert_null(out);
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_INPUT);
    g_autofree char *where = g_strdup_printf("line %d:", line);
    if (!strstr(error->message, where))
        g_error("\"%s\": message \"%s\" does not name %s", template_text, error->message, where);
}

/* ---- the official spec ---------------------------------------------------------------------- */

/* Spec cases we cannot pass by design, with the reason. Empty: every case of interpolation,
 * sections, inverted, comments, delimiters and partials passes. Keep the list explicit so a
 * future exception has to be written down here. */
static const struct {
    const char *file, *name, *reason;
} spec_exceptions[] = {
    {NULL, NULL, NULL},
};

static gboolean spec_case_excepted(const char *file, const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(spec_exceptions); i++) {
        if (spec_exceptions[i].file && strcmp(spec_exceptions[i].file, file) == 0 &&
            strcmp(spec_exceptions[i].name, name) == 0)
            return TRUE;
    }
    return FALSE;
}

static char *spec_partial(const char *name, gpointer user_data, GError **error)
{
    JsonObject *partials = user_data;
    if (!partials || !json_object_has_member(partials, name))
        return NULL;
    return g_strdup(json_object_get_string_member(partials, name));
}

static void run_spec_file(gconstpointer data)
{
    const char *file = data;
    const char *dir = g_getenv("PAHT_MUSTACHE_SPEC_DIR");
    g_autofree char *path = dir ? g_build_filename(dir, file, NULL) : NULL;
    /* the files are part of the tree: missing, the test fails, it never skips */
    if (!path || !g_file_test(path, G_FILE_TEST_IS_REGULAR))
        g_error("PAHT_MUSTACHE_SPEC_DIR (%s) does not hold %s: run through CTest, which points "
                "it at tests/mustache-spec",
                dir ? dir : "unset", file);
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    g_assert_true(json_parser_load_from_file(parser, path, &error));
    JsonArray *cases =
        json_object_get_array_member(json_node_get_object(json_parser_get_root(parser)), "tests");
    g_assert_nonnull(cases);
    g_assert_cmpuint(json_array_get_length(cases), >, 0);

    int failures = 0, passed = 0;
    for (guint i = 0; i < json_array_get_length(cases); i++) {
        JsonObject *c = json_array_get_object_element(cases, i);
        const char *name = json_object_get_string_member(c, "name");
        if (spec_case_excepted(file, name))
            continue;
        JsonObject *partials = json_object_has_member(c, "partials")
                                   ? json_object_get_object_member(c, "partials")
                                   : NULL;
        g_autoptr(GError) render_error = NULL;
        g_autofree char *out = template_render_full(json_object_get_string_member(c, "template"),
                                                    json_object_get_member(c, "data"), TRUE, 1,
                                                    spec_partial, partials, &render_error);
        const char *expected = json_object_get_string_member(c, "expected");
        if (!out || strcmp(out, expected) != 0) {
            g_printerr("%s: \"%s\" failed: got \"%s\"%s%s, expected \"%s\"\n", file, name,
                       out ? out : "(null)", render_error ? ": " : "",
                       render_error ? render_error->message : "", expected);
            failures++;
        } else {
            passed++;
        }
    }
    g_test_message("%s: %d passed, %d failed", file, passed, failures);
    g_assert_cmpint(failures, ==, 0);
}

/* ---- our own cases -------------------------------------------------------------------------- */

static void test_html_escaping_of_variables(void)
{
    const char *ctx = "{\"x\": \"<b>Tom & 'Jerry' \\\"x\\\"</b>\"}";
    assert_renders("{{x}}", ctx, TRUE,
                   "&lt;b&gt;Tom &amp; &#39;Jerry&#39; &quot;x&quot;&lt;/b&gt;");
    assert_renders("{{{x}}}|{{& x}}", ctx, TRUE,
                   "<b>Tom & 'Jerry' \"x\"</b>|<b>Tom & 'Jerry' \"x\"</b>");
    /* plain text letters are never escaped */
    assert_renders("{{x}}", ctx, FALSE, "<b>Tom & 'Jerry' \"x\"</b>");
    /* a citizen's attempt at markup stays text in the HTML letter */
    assert_renders("<p>{{s}}</p>", "{\"s\": \"<script>alert(1)</script>\"}", TRUE,
                   "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>");
}

static void test_vietnamese_text_untouched(void)
{
    const char *name = "Nguyễn Thị Ánh Tuyết, Đường Lê Lợi, phường 6, TP. Sóc Trăng";
    g_autofree char *ctx = g_strdup_printf("{\"n\": \"%s\"}", name);
    g_autofree char *html = render("Kính gửi {{n}}.", ctx, TRUE);
    g_autofree char *text = render("Kính gửi {{n}}.", ctx, FALSE);
    g_autofree char *expected = g_strdup_printf("Kính gửi %s.", name);
    g_assert_cmpstr(html, ==, expected);
    g_assert_cmpstr(text, ==, expected);
    g_assert_true(g_utf8_validate(html, -1, NULL));
}

static void test_numbers_and_booleans(void)
{
    assert_renders("{{i}} {{d}} {{w}} {{n}} {{t}} {{f}} [{{z}}]",
                   "{\"i\": 85, \"d\": 1.5, \"w\": 2.0, \"n\": -7, \"t\": true, \"f\": false, "
                   "\"z\": null}",
                   TRUE, "85 1.5 2 -7 true false []");
    assert_renders("{{x}}", "{\"x\": 0.1}", TRUE, "0.1");
}

static void test_nested_sections_and_lists_of_objects(void)
{
    const char *ctx = "{\"report\": {\"code\": \"PAHT-2026-000123\", \"attachments\": ["
                      "{\"filename\": \"ảnh 1.jpg\", \"kind\": \"image\"},"
                      "{\"filename\": \"<x>.mp4\", \"kind\": \"video\"}]}}";
    assert_renders("{{#report}}{{code}}:{{#attachments}} {{filename}}/{{kind}}/{{code}}"
                   "{{/attachments}}{{/report}}",
                   ctx, TRUE,
                   "PAHT-2026-000123: ảnh 1.jpg/image/PAHT-2026-000123 "
                   "&lt;x&gt;.mp4/video/PAHT-2026-000123");
    /* standalone section lines leave no blank lines in a list */
    assert_renders("Tệp:\n{{#report.attachments}}\n- {{filename}}\n{{/report.attachments}}\nHết\n",
                   ctx, FALSE, "Tệp:\n- ảnh 1.jpg\n- <x>.mp4\nHết\n");
    /* a list of strings through the implicit iterator */
    assert_renders("{{#l}}[{{.}}]{{/l}}", "{\"l\": [\"a\", \"ă\", \"â\"]}", TRUE, "[a][ă][â]");
}

static void test_missing_names_render_nothing(void)
{
    assert_renders("[{{nope}}][{{a.b.c}}][{{{nope}}}]", "{\"a\": {}}", TRUE, "[][][]");
    assert_renders("{{#nope}}x{{/nope}}{{^nope}}y{{/nope}}", "{}", TRUE, "y");
    /* NULL context: everything is missing, nothing fails */
    g_autoptr(GError) error = NULL;
    g_autofree char *out = template_render("a{{b}}c{{^d}}e{{/d}}", NULL, TRUE, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(out, ==, "ace");
}

static void test_empty_string_and_zero_are_falsey(void)
{
    const char *tpl = "{{#name}}Kính gửi Ông/Bà {{name}},{{/name}}"
                      "{{^name}}Kính gửi Quý ông/bà,{{/name}}";
    assert_renders(tpl, "{\"name\": \"Nguyễn Văn A\"}", FALSE, "Kính gửi Ông/Bà Nguyễn Văn A,");
    assert_renders(tpl, "{\"name\": \"\"}", FALSE, "Kính gửi Quý ông/bà,");
    assert_renders(tpl, "{}", FALSE, "Kính gửi Quý ông/bà,");
    assert_renders("{{#n}}{{n}} tệp{{/n}}{{^n}}không có tệp{{/n}}", "{\"n\": 0}", FALSE,
                   "không có tệp");
    assert_renders("{{#n}}{{n}} tệp{{/n}}{{^n}}không có tệp{{/n}}", "{\"n\": 2}", FALSE, "2 tệp");
}

static void test_malformed_templates_name_the_line(void)
{
    assert_malformed("a\nb\n{{#a}}\nnever closed\n", 3);
    assert_malformed("{{#a}}\n{{#b}}\n{{/a}}\n{{/b}}\n", 3);
    assert_malformed("ok\n{{/a}}\n", 2);
    assert_malformed("line 1\nline 2 {{unclosed\n", 2);
    assert_malformed("{{{x}}\n", 1);
    assert_malformed("x\n\n{{a b}}\n", 3);
    assert_malformed("{{}}", 1);
    assert_malformed("{{=<% %>=}}\n<%#a%>\n<%/b%>", 3);
    assert_malformed("{{= x =}}", 1);
    /* a multi-line comment moves the line count on */
    assert_malformed("{{! one\ntwo\nthree }}\n{{/a}}", 4);
    /* template_render_full counts from the line it is told (a body after a Subject line) */
    g_autoptr(GError) error = NULL;
    g_assert_null(template_render_full("x\n{{#a}}", NULL, FALSE, 3, NULL, NULL, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_INPUT);
    g_assert_nonnull(strstr(error->message, "line 4:"));
}

static void test_invalid_utf8_template_is_refused(void)
{
    g_autoptr(GError) error = NULL;
    g_assert_null(template_render("abc \xff\xfe {{x}}", NULL, TRUE, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_INPUT);
}

static void test_deep_nesting_is_refused_not_crashed(void)
{
    GString *t = g_string_new(NULL);
    for (int i = 0; i < 5000; i++)
        g_string_append(t, "{{#a}}");
    for (int i = 0; i < 5000; i++)
        g_string_append(t, "{{/a}}");
    g_autoptr(GError) error = NULL;
    JsonNode *ctx = json("{\"a\": true}");
    g_assert_null(template_render(t->str, ctx, TRUE, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_INPUT);
    json_node_unref(ctx);
    g_string_free(t, TRUE);
}

static char *self_partial(const char *name, gpointer user_data, GError **error)
{
    return g_strdup("{{> again}}");
}

static void test_partial_recursion_is_bounded(void)
{
    g_autoptr(GError) error = NULL;
    g_assert_null(template_render_full("{{> again}}", NULL, TRUE, 1, self_partial, NULL, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_INPUT);
    /* template_render has no partials: the tag renders as nothing */
    g_autoptr(GError) error2 = NULL;
    g_autofree char *out = template_render("a{{> x}}b", NULL, TRUE, &error2);
    g_assert_no_error(error2);
    g_assert_cmpstr(out, ==, "ab");
}

/* partials for the parents and blocks below, by name */
static char *named_partial(const char *name, gpointer user_data, GError **error)
{
    static const struct {
        const char *name, *text;
    } partials[] = {
        {"page", "<title>{{$title}}untitled{{/title}}</title>\n{{$body}}\nno body\n{{/body}}"
                 "<end>\n"},
        {"framed", "{{<page}}{{$title}}framed {{$title}}{{/title}}{{/title}}{{/page}}"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(partials); i++) {
        if (g_str_equal(partials[i].name, name))
            return g_strdup(partials[i].text);
    }
    return NULL;
}

static char *render_with_partials(const char *template_text, const char *context_json)
{
    JsonNode *context = json(context_json);
    g_autoptr(GError) error = NULL;
    char *out = template_render_full(template_text, context, TRUE, 1, named_partial, NULL, &error);
    json_node_unref(context);
    g_assert_no_error(error);
    g_assert_nonnull(out);
    return out;
}

/* The letters' HTML shell is one parent (templates/layout.partial.html): a letter gives it its
 * title and body as blocks, rendered in the letter's context; what it does not give stays the
 * parent's default; block lines stand alone like section lines; what else is inside the
 * parent tag is not rendered (the mustache spec's inheritance). */
static void test_parents_take_the_blocks_they_are_given(void)
{
    g_autofree char *given = render_with_partials("{{<page}}\n"
                                                  "{{$title}}[{{code}}] Đã tiếp nhận{{/title}}\n"
                                                  "ignored\n"
                                                  "{{$body}}\n"
                                                  "<p>{{name}}</p>\n"
                                                  "{{/body}}\n"
                                                  "{{/page}}\n",
                                                  "{\"code\": \"PAHT-1\", \"name\": \"<An>\"}");
    g_assert_cmpstr(given, ==, "<title>[PAHT-1] Đã tiếp nhận</title>\n<p>&lt;An&gt;</p>\n<end>\n");
    g_autofree char *defaults = render_with_partials("{{<page}}{{/page}}", "{}");
    g_assert_cmpstr(defaults, ==, "<title>untitled</title>\nno body\n<end>\n");
    /* a block outside any parent is its own content */
    g_autofree char *alone = render_with_partials("a{{$x}}b{{/x}}c", "{}");
    g_assert_cmpstr(alone, ==, "abc");
    /* parents of parents: the outermost caller's block wins */
    g_autofree char *outer =
        render_with_partials("{{<framed}}{{$title}}mine{{/title}}{{/framed}}", "{}");
    g_assert_cmpstr(outer, ==, "<title>mine</title>\nno body\n<end>\n");
    g_autofree char *inner = render_with_partials("{{<framed}}{{/framed}}", "{}");
    g_assert_cmpstr(inner, ==, "<title>framed </title>\nno body\n<end>\n");
    /* unbalanced blocks and parents name their line */
    assert_malformed("{{<page}}\n{{$title}}x{{/page}}", 2);
    assert_malformed("{{$title}}\nx", 1);
}

static void test_context_stack_lookup(void)
{
    /* names missing in an item are found in the outer contexts (gateway.* inside a list) */
    assert_renders("{{#items}}{{name}}@{{gateway}};{{/items}}",
                   "{\"gateway\": \"IOC\", \"items\": [{\"name\": \"a\"}, {\"name\": \"b\", "
                   "\"gateway\": \"own\"}]}",
                   TRUE, "a@IOC;b@own;");
}

/* Parsed templates are kept, found again by a hash of their ends and length: two texts alike
 * in both but another word between must each render as written, also when rendered again */
static void test_kept_templates_alike_at_both_ends_stay_apart(void)
{
    g_autofree char *ends = g_strnfill(100, '=');
    g_autofree char *a = g_strdup_printf("%s{{#x}}yes{{/x}}%s", ends, ends);
    g_autofree char *b = g_strdup_printf("%s{{^x}}no!{{/x}}%s", ends, ends);
    g_assert_cmpuint(strlen(a), ==, strlen(b));
    g_autofree char *yes = g_strdup_printf("%syes%s", ends, ends);
    g_autofree char *none = g_strdup_printf("%s%s", ends, ends);
    for (int round = 0; round < 2; round++) {
        assert_renders(a, "{\"x\": true}", FALSE, yes);
        assert_renders(b, "{\"x\": true}", FALSE, none);
    }
}

/* partials for the check below: a broken one reached only through a section, a missing one
 * (NULL with an error, as the letters' lookup says), a recursive one inside a section (fine)
 * and one that names itself outside any (never ends) */
static char *check_partial_text(const char *name, gpointer user_data, GError **error)
{
    static const struct {
        const char *name, *text;
    } partials[] = {
        {"fine", "<b>{{name}}</b>\n"},   {"tree", "{{name}}{{#children}}{{> tree}}{{/children}}"},
        {"deeper", "a\n{{> broken}}\n"}, {"broken", "line 1\n{{#open}}\nline 3\n"},
        {"loop", "{{> loop_again}}"},    {"loop_again", "{{#x}}{{/x}}{{> loop}}"},
    };
    int *reads = user_data;
    (*reads)++;
    for (gsize i = 0; i < G_N_ELEMENTS(partials); i++) {
        if (g_str_equal(partials[i].name, name))
            return g_strdup(partials[i].text);
    }
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "no file %s.partial.txt", name);
    return NULL;
}

static void assert_check_fails(const char *text, const char *says)
{
    int reads = 0;
    g_autoptr(GError) error = NULL;
    g_assert_false(template_check_full(text, 1, check_partial_text, &reads, &error));
    g_assert_nonnull(error);
    if (!strstr(error->message, says))
        g_error("\"%s\" does not say \"%s\"", error->message, says);
}

/* What rendering with one context cannot show: a fault behind a section it skips, in a
 * partial it never reaches, a partial missing, or one that would never end. Each is found
 * whatever the context, and the error names the line and the partial. */
static void test_check_finds_faults_no_render_reaches(void)
{
    /* rendered without "x", the broken inner section is never entered... */
    const char *hidden = "Kính gửi {{name}},\n{{#x}}\n{{#y}}\n{{/x}}\n";
    g_autoptr(GError) render_error = NULL;
    g_autofree char *out = template_render_full("{{#x}}{{> broken}}{{/x}}", NULL, FALSE, 1,
                                                check_partial_text, &(int){0}, &render_error);
    g_assert_no_error(render_error);
    g_assert_cmpstr(out, ==, "");
    /* ...but parsed, and checked */
    assert_check_fails(hidden, "line 4: closing tag {{/x}} does not match section {{#y}}");
    assert_check_fails("{{#x}}{{> broken}}{{/x}}",
                       "partial \"broken\": line 2: section {{#open}} is never closed");
    assert_check_fails("{{^x}}{{> deeper}}{{/x}}", "partial \"deeper\": partial \"broken\": "
                                                   "line 2: section {{#open}} is never closed");
    assert_check_fails("{{#x}}\n{{> missing}}\n{{/x}}", "no file missing.partial.txt");
    assert_check_fails("{{#x}}{{> loop}}{{/x}}",
                       "partial \"loop\": partial \"loop_again\": line 1: partial \"loop\" "
                       "includes itself outside any section");

    /* a whole template passes, each partial read once however often it is named, and a
     * recursive partial inside a section is no fault */
    int reads = 0;
    g_autoptr(GError) error = NULL;
    g_assert_true(template_check_full("{{> fine}}{{#a}}{{> fine}}{{/a}}{{^b}}{{> tree}}{{/b}}"
                                      "{{> fine}}",
                                      1, check_partial_text, &reads, &error));
    g_assert_no_error(error);
    g_assert_cmpint(reads, ==, 2);
    /* the line numbers count from the first line given, as rendering's do */
    g_autoptr(GError) late = NULL;
    g_assert_false(template_check_full("a\n{{/x}}\n", 3, NULL, NULL, &late));
    g_assert_nonnull(strstr(late->message, "line 4:"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    static const char *const spec_files[] = {"interpolation.json", "sections.json",
                                             "inverted.json",      "comments.json",
                                             "delimiters.json",    "partials.json"};
    for (gsize i = 0; i < G_N_ELEMENTS(spec_files); i++) {
        g_autofree char *name = g_strdup_printf("/notify/template/spec/%s", spec_files[i]);
        g_test_add_data_func(name, spec_files[i], run_spec_file);
    }
    g_test_add_func("/notify/template/html_escaping_of_variables", test_html_escaping_of_variables);
    g_test_add_func("/notify/template/vietnamese_text_untouched", test_vietnamese_text_untouched);
    g_test_add_func("/notify/template/numbers_and_booleans", test_numbers_and_booleans);
    g_test_add_func("/notify/template/nested_sections_and_lists_of_objects",
                    test_nested_sections_and_lists_of_objects);
    g_test_add_func("/notify/template/missing_names_render_nothing",
                    test_missing_names_render_nothing);
    g_test_add_func("/notify/template/empty_string_and_zero_are_falsey",
                    test_empty_string_and_zero_are_falsey);
    g_test_add_func("/notify/template/malformed_templates_name_the_line",
                    test_malformed_templates_name_the_line);
    g_test_add_func("/notify/template/invalid_utf8_template_is_refused",
                    test_invalid_utf8_template_is_refused);
    g_test_add_func("/notify/template/deep_nesting_is_refused_not_crashed",
                    test_deep_nesting_is_refused_not_crashed);
    g_test_add_func("/notify/template/partial_recursion_is_bounded",
                    test_partial_recursion_is_bounded);
    g_test_add_func("/notify/template/context_stack_lookup", test_context_stack_lookup);
    g_test_add_func("/notify/template/parents_take_the_blocks_they_are_given",
                    test_parents_take_the_blocks_they_are_given);
    g_test_add_func("/notify/template/kept_templates_alike_at_both_ends_stay_apart",
                    test_kept_templates_alike_at_both_ends_stay_apart);
    g_test_add_func("/notify/template/check_finds_faults_no_render_reaches",
                    test_check_finds_faults_no_render_reaches);
    return g_test_run();
}
