/* The registry of letter kinds (letters/kinds.c), walked: every registered template has its two
 * files and composes into a flowed letter with the values of tests/unit/letter_context.json;
 * every template file of templates/ is registered; nothing the IOC or a leader reads names
 * the citizen. pahtctl preview of every kind that has one: test_gateway_lifecycle. */
#include "config_fixture.h"
#include "flowed_fixture.h"
#include "letter_fixture.h"
#include "letters/letters.h"
#include "notify/notify.h"
#include "util/util.h"

#include <glib/gstdio.h>
#include <gmime/gmime.h>
#include <locale.h>
#include <string.h>

/* the templates/ of this tree */
static const char *templates_dir(void)
{
    static char *dir;
    if (!dir)
        dir = fixture_templates_dir();
    g_assert_true(g_file_test(dir, G_FILE_TEST_IS_DIR));
    return dir;
}

static char *template_text(const char *name, const char *extension)
{
    g_autofree char *file = g_strdup_printf("%s.%s", name, extension);
    g_autofree char *path = g_build_filename(templates_dir(), file, NULL);
    char *text = NULL;
    GError *error = NULL;
    if (!g_file_get_contents(path, &text, NULL, &error))
        g_error("%s", error->message);
    return text;
}

static void test_every_kind_has_its_two_templates(void)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    int templates = 0;
    for (const LetterKind *k = kinds_all(); k->name; k++) {
        g_assert_nonnull(k->templates[0].name); /* at least one */
        g_assert_true(k->audience != 0);
        /* an automatic answer goes to whoever sent the mail, nobody else (SPEC §3.6) */
        if (k->auto_reply)
            g_assert_cmpint(k->audience, ==, LETTER_TO_CITIZEN);
        for (const LetterTemplate *t = k->templates; t->name; t++) {
            /* one name, one letter: pahtctl preview NAME and letters_enqueue find it */
            if (!g_hash_table_add(seen, (gpointer)t->name))
                g_error("template %s is registered twice", t->name);
            const LetterKind *named = kinds_find(t->name);
            if (named && named != k)
                g_error("template %s of kind %s has the name of kind %s", t->name, k->name,
                        named->name);
            g_autofree char *text = template_text(t->name, "txt");
            g_autofree char *html = template_text(t->name, "html"); /* there, readable */
            if (!g_str_has_prefix(text, "Subject: "))
                g_error("%s.txt does not begin with its Subject line", t->name);
            templates++;
        }
    }
    g_assert_cmpint(templates, >, 0);
}

static void test_every_template_file_belongs_to_a_kind(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GDir) dir = g_dir_open(templates_dir(), 0, &error);
    g_assert_no_error(error);
    int files = 0;
    for (const char *name; (name = g_dir_read_name(dir));) {
        const char *dot = strrchr(name, '.');
        if (!dot || strstr(name, ".partial.") || (strcmp(dot, ".txt") && strcmp(dot, ".html")))
            continue;
        g_autofree char *stem = g_strndup(name, (gsize)(dot - name));
        if (!kinds_find_template(NULL, stem, NULL))
            g_error("templates/%s belongs to no kind of the registry (letters/kinds.c)", name);
        files++;
    }
    g_assert_cmpint(files, >, 0);
}

/* templates/README.md, the province's manual, names every kind with its Vietnamese name and
 * every template: a letter added to the registry and not to the manual fails here */
static void test_the_manual_lists_every_kind_and_template(void)
{
    g_autofree char *readme = template_text("README", "md");
    g_autofree char *dir = NULL;
    Config *c = fixture_config_open("manual", NULL, &dir);
    g_autoptr(GError) error = NULL;
    g_autoptr(Labels) labels = labels_load(c, &error);
    g_assert_no_error(error);
    for (const LetterKind *k = kinds_all(); k->name; k++) {
        g_autofree char *title = labels_kind_name(labels, k->name, &error);
        g_assert_no_error(error);
        g_autofree char *row = g_strdup_printf("| `%s` | %s |", k->name, title);
        if (!strstr(readme, row))
            g_error("templates/README.md has no row \"%s\" (section 11)", row);
        for (const LetterTemplate *t = k->templates; t->name; t++) {
            g_autofree char *named = g_strdup_printf("`%s`", t->name);
            if (!strstr(readme, named))
                g_error("templates/README.md never names the template %s", t->name);
        }
    }
    fixture_config_close(c, g_steal_pointer(&dir));
}

static JsonNode *rich_context(void)
{
    g_autofree char *path = fixture_source_path("tests/unit/letter_context.json");
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    if (!json_parser_load_from_file(parser, path, &error))
        g_error("%s: %s", path, error->message);
    return json_node_copy(json_parser_get_root(parser));
}

/* every member every template uses, with long values and text that needs stuffing: each
 * letter is flowed, NFC, every tag understood */
static void test_every_kind_composes_flowed(void)
{
    g_autoptr(JsonNode) context = rich_context();
    for (const LetterKind *k = kinds_all(); k->name; k++) {
        for (const LetterTemplate *t = k->templates; t->name; t++) {
            LetterSpec spec = {
                .templates_dir = templates_dir(),
                .kind = t->name,
                .context = context,
                .from_name = "Trung tâm IOC tỉnh Sóc Trăng",
                .from_address = "paht@soctrang.gov.vn",
                .to_address = "an@example.vn",
                .auto_submitted = k->auto_reply ? "auto-replied" : "auto-generated",
                .date = 1795831200, /* 2026-11-28T09:00:00+07:00 */
            };
            g_autoptr(GError) error = NULL;
            g_autoptr(Letter) letter = letter_compose(&spec, &error);
            if (!letter)
                g_error("%s: %s", t->name, error->message);
            g_autoptr(GMimeMessage) message = fixture_letter_parse(letter->message);
            fixture_assert_flowed(message, letter->text, t->name);
            /* the one page every HTML letter shares (layout.partial.html), by a frame or not */
            g_autofree char *html = fixture_letter_part(message, "html");
            if (!strstr(html, "<!DOCTYPE html>") || strstr(html, "{{"))
                g_error("%s.html is not a whole page in layout.partial.html:\n%s", t->name, html);
            g_autofree char *nfc = g_utf8_normalize(letter->text, -1, G_NORMALIZE_NFC);
            g_assert_cmpstr(nfc, ==, letter->text);
            g_assert_cmpuint(strlen(letter->subject), >, 0);
            if (strstr(letter->text, "{{") || strstr(letter->subject, "{{"))
                g_error("%s: a tag left in the letter:\n%s", t->name, letter->text);
        }
    }
}

/* the template and the partials it uses, as one text */
static void append_with_partials(GString *all, const char *name, const char *extension,
                                 GHashTable *done)
{
    if (!g_hash_table_add(done, g_strdup_printf("%s.%s", name, extension)))
        return;
    g_autofree char *text = template_text(name, extension);
    g_string_append(all, text);
    g_autoptr(GRegex) partial = g_regex_new("\\{\\{[<>]\\s*([A-Za-z0-9_-]+)\\s*\\}\\}", 0, 0, NULL);
    g_autoptr(GMatchInfo) match = NULL;
    g_regex_match(partial, text, 0, &match);
    for (; g_match_info_matches(match); g_match_info_next(match, NULL)) {
        g_autofree char *used = g_match_info_fetch(match, 1);
        g_autofree char *file = g_strdup_printf("%s.partial", used);
        append_with_partials(all, file, extension, done);
    }
}

/* Điều 4.5: what a leader or the IOC reads carries no personal data. Their letters get a
 * context without it (lifecycle_letters.c, letters_ioc_alert); their templates must not even
 * ask for it, so that a new value added for the citizen's letters cannot leak into theirs. */
static void test_no_template_for_the_ioc_or_a_leader_names_the_citizen(void)
{
    static const char *const personal[] = {"citizen.",   "report.text",        "report.location",
                                           "report.gps", "report.occurred_at", "{{#citizen",
                                           "{{^citizen", "citizen_footer",     "report_detail"};
    int checked = 0;
    for (const LetterKind *k = kinds_all(); k->name; k++) {
        if (!(k->audience & (LETTER_TO_LEADER | LETTER_TO_IOC | LETTER_TO_REPORTS)))
            continue;
        for (const LetterTemplate *t = k->templates; t->name; t++) {
            static const char *const extensions[] = {"txt", "html"};
            for (gsize e = 0; e < G_N_ELEMENTS(extensions); e++) {
                g_autoptr(GHashTable) done =
                    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
                GString *all = g_string_new(NULL);
                append_with_partials(all, t->name, extensions[e], done);
                for (gsize i = 0; i < G_N_ELEMENTS(personal); i++) {
                    if (strstr(all->str, personal[i]))
                        g_error("%s.%s (kind %s, read by a leader or the IOC) uses %s", t->name,
                                extensions[e], k->name, personal[i]);
                }
                g_string_free(all, TRUE);
            }
            checked++;
        }
    }
    g_assert_cmpint(checked, >, 0);
}

/* Every name the code asks labels.ini for is there: each Điều 4 detail a report may lack
 * (the incomplete and rejection letters), each deadline of the regulation (reminders and
 * overdue notices) and each kind of the registry (the IOC's digest of failed letters). */
static void test_every_field_deadline_and_kind_has_its_names(void)
{
    g_autofree char *dir = NULL;
    Config *c = fixture_config_open("labels", NULL, &dir);
    g_autoptr(GError) error = NULL;
    g_autoptr(Labels) labels = labels_load(c, &error);
    g_assert_no_error(error);
    g_autoptr(Draft) empty = draft_new();
    g_auto(GStrv) fields = draft_missing_fields(empty);
    g_assert_cmpint(g_strv_length(fields), ==, 5);
    static const char *const field_keys[] = {"label", "words", "hint"};
    for (char **f = fields; *f; f++) {
        for (gsize k = 0; k < G_N_ELEMENTS(field_keys); k++) {
            g_autofree char *value = labels_get(labels, "field", *f, field_keys[k], &error);
            g_assert_no_error(error);
        }
    }
    static const char *const deadline_keys[] = {"label", "basis"};
    gsize n = 0;
    for (const char *d; (d = lifecycle_deadline_name(n)); n++) {
        for (gsize k = 0; k < G_N_ELEMENTS(deadline_keys); k++) {
            g_autofree char *value = labels_get(labels, "deadline", d, deadline_keys[k], &error);
            g_assert_no_error(error);
        }
    }
    g_assert_cmpint(n, ==, 7);
    for (const LetterKind *k = kinds_all(); k->name; k++) {
        g_autofree char *name = labels_get(labels, "kind", k->name, "name", &error);
        g_assert_no_error(error);
    }
    fixture_config_close(c, g_steal_pointer(&dir));
}

/* a name the province deleted stops the letter with an error that says where, never a letter
 * with a hole in it */
static void test_a_missing_name_is_a_configuration_error(void)
{
    g_autofree char *dir = NULL;
    g_autofree char *templates = g_dir_make_tmp("paht-labels-XXXXXX", NULL);
    g_autofree char *ini = g_build_filename(templates, "labels.ini", NULL);
    static const char ini_text[] = "[field name]\nlabel = Họ và tên\nwords =\n"
                                   "[kind ack]\nname = thư báo đã nhận\n";
    g_assert_true(g_file_set_contents(ini, ini_text, -1, NULL));
    g_autofree char *extra = g_strdup_printf("[gateway]\ntemplates_dir = %s\n", templates);
    FixtureConfig opts = {.extra = extra};
    Config *c = fixture_config_open("labels", &opts, &dir);
    g_autoptr(GError) error = NULL;
    g_autoptr(Labels) labels = labels_load(c, &error);
    g_assert_no_error(error);
    g_autofree char *label = labels_get(labels, "field", "name", "label", &error);
    g_assert_cmpstr(label, ==, "Họ và tên");
    g_autofree char *words = labels_get(labels, "field", "name", "words", &error);
    g_assert_null(words);
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, ini));
    g_assert_nonnull(strstr(error->message, "[field name] words"));
    g_clear_error(&error);
    g_autofree char *hint = labels_get(labels, "field", "phone", "hint", &error);
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, "[field phone] hint"));
    g_clear_error(&error);
    /* a kind by the province's name, a kind of an older version by its code, a registered
     * kind without a name an error */
    g_autofree char *ack = labels_kind_name(labels, "ack", &error);
    g_assert_cmpstr(ack, ==, "thư báo đã nhận");
    g_autofree char *old = labels_kind_name(labels, "refusal", &error);
    g_assert_cmpstr(old, ==, "refusal");
    g_autofree char *overdue = labels_kind_name(labels, "overdue", &error);
    g_assert_null(overdue);
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, "[kind overdue] name"));
    g_clear_error(&error);
    g_assert_cmpint(g_unlink(ini), ==, 0);
    g_assert_null(labels_load(c, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, ini));
    g_rmdir(templates);
    fixture_config_close(c, g_steal_pointer(&dir));
}

/* labels.ini is kept parsed between letters, yet a word the province changes is in the very
 * next letter: a file written over in place (same inode, same size) and one renamed into place */
static void test_a_changed_label_is_in_the_next_letter(void)
{
    g_autofree char *dir = NULL;
    g_autofree char *templates = g_dir_make_tmp("paht-labels-XXXXXX", NULL);
    g_autofree char *ini = g_build_filename(templates, "labels.ini", NULL);
    g_autofree char *extra = g_strdup_printf("[gateway]\ntemplates_dir = %s\n", templates);
    FixtureConfig opts = {.extra = extra};
    Config *c = fixture_config_open("labels", &opts, &dir);
    static const char *const names[] = {"thư báo đã nhận", "thư báo đã nhấn", "thư xác nhận"};
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *text = g_strdup_printf("[kind ack]\nname = %s\n", names[i]);
        if (i == 1) { /* written over: the same inode and, here, the same size */
            FILE *f = fopen(ini, "r+");
            g_assert_nonnull(f);
            g_assert_cmpint(fputs(text, f), >=, 0);
            g_assert_cmpint(fclose(f), ==, 0);
        } else {
            g_assert_true(g_file_set_contents(ini, text, -1, NULL));
        }
        for (int round = 0; round < 2; round++) { /* the second from the cache */
            g_autoptr(GError) error = NULL;
            g_autoptr(Labels) labels = labels_load(c, &error);
            g_assert_no_error(error);
            g_autofree char *name = labels_kind_name(labels, "ack", &error);
            g_assert_no_error(error);
            g_assert_cmpstr(name, ==, names[i]);
        }
    }
    g_assert_cmpint(g_unlink(ini), ==, 0);
    g_autoptr(GError) error = NULL;
    g_assert_null(labels_load(c, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_rmdir(templates);
    fixture_config_close(c, g_steal_pointer(&dir));
}

/* in the copy's file, old (once) becomes new; returns the file as it was */
static char *edit_template(const char *templates, const char *file, const char *old,
                           const char *new)
{
    g_autofree char *path = g_build_filename(templates, file, NULL);
    char *was = NULL;
    g_assert_true(g_file_get_contents(path, &was, NULL, NULL));
    const char *at = strstr(was, old);
    g_assert_nonnull(at);
    g_autofree char *now = g_strdup_printf("%.*s%s%s", (int)(at - was), was, new, at + strlen(old));
    g_assert_true(g_file_set_contents(path, now, -1, NULL));
    return was;
}

static void restore_template(const char *templates, const char *file, const char *was)
{
    g_autofree char *path = g_build_filename(templates, file, NULL);
    g_assert_true(g_file_set_contents(path, was, -1, NULL));
}

static void assert_templates_refused(const Config *c, const char *says, const char *and_says)
{
    g_autoptr(GError) error = NULL;
    g_assert_false(letters_check_templates(c, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    if (!strstr(error->message, says) || (and_says && !strstr(error->message, and_says)))
        g_error("\"%s\" does not say \"%s\" and \"%s\"", error->message, says,
                and_says ? and_says : "");
}

/* pahtd, pahtctl and pahtweb check the letters' templates with their configuration
 * (letters_check_templates): the shipped ones pass, and an edit that would break some letter
 * is named, file and line, before any letter meets it: a partial every answer names, a
 * template only a rare letter uses, a Subject line, a file gone, a kind's name. */
static void test_every_template_is_checked_with_the_configuration(void)
{
    g_autofree char *templates = g_dir_make_tmp("paht-templates-XXXXXX", NULL);
    g_assert_nonnull(templates);
    fixture_templates_copy(templates);
    g_autofree char *extra = g_strdup_printf("[gateway]\ntemplates_dir = %s\n", templates);
    FixtureConfig opts = {.extra = extra};
    g_autofree char *dir = NULL;
    Config *c = fixture_config_open("check", &opts, &dir);
    g_autoptr(GError) error = NULL;
    g_assert_true(letters_check_templates(c, &error));
    g_assert_no_error(error);

    g_autofree char *ack = g_build_filename(templates, "ack.txt", NULL);
    g_autofree char *partial =
        edit_template(templates, "privacy_notice.partial.txt", "năm{{/privacy.retain_in_years}}",
                      "năm{{/privacy.retain_in_year}}");
    assert_templates_refused(c, ack,
                             "partial \"privacy_notice\": line 5: closing tag "
                             "{{/privacy.retain_in_year}} does not match");
    restore_template(templates, "privacy_notice.partial.txt", partial);

    /* the statistics digest goes out once a period: its HTML checked all the same */
    g_autofree char *digest = g_build_filename(templates, "stats_digest.html", NULL);
    g_autofree char *html = edit_template(templates, "stats_digest.html", "{{", "{{#never}}{{");
    assert_templates_refused(c, digest, "is never closed");
    restore_template(templates, "stats_digest.html", html);

    g_autofree char *reminder = g_build_filename(templates, "reminder.txt", NULL);
    g_autofree char *subject = edit_template(templates, "reminder.txt", "Subject:", "Tiêu đề:");
    assert_templates_refused(c, reminder, "the first line must be \"Subject: ...\"");
    restore_template(templates, "reminder.txt", subject);

    /* a kind's second template, the one pahtctl publish sends when the result has no text */
    g_autofree char *sent_back = g_build_filename(templates, "result_sent_back.html", NULL);
    g_autofree char *gone = edit_template(templates, "result_sent_back.html", "", "");
    g_assert_cmpint(g_unlink(sent_back), ==, 0);
    assert_templates_refused(c, sent_back, NULL);
    restore_template(templates, "result_sent_back.html", gone);

    g_autofree char *labels = edit_template(templates, "labels.ini", "[kind stats_digest]\nname",
                                            "[kind stats_digest]\n#");
    assert_templates_refused(c, "labels.ini", "[kind stats_digest] name");
    restore_template(templates, "labels.ini", labels);

    /* the words a letter takes from labels.ini by a name the code knows, checked before the
     * day a report lacks a phone number or a deadline falls due */
    static const struct {
        const char *from, *to, *named;
    } words[] = {
        {"[field phone]\nlabel = Số điện thoại\nwords = số điện thoại\nhint = ",
         "[field phone]\nlabel = Số điện thoại\nwords = số điện thoại\nhint = \n#",
         "[field phone] hint: empty"},
        {"[deadline clarify]", "[deadline lam_ro]", "[deadline clarify] label"},
        {"[action sendback]", "[action tra_lai]", "[action sendback] subject"},
        {"{{#first}}đầu{{/first}}", "{{#first}}đầu", "[period half] label"},
        {"[period year]", "[period nam]", "[period year] label"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(words); i++) {
        g_autofree char *before =
            edit_template(templates, "labels.ini", words[i].from, words[i].to);
        assert_templates_refused(c, "labels.ini", words[i].named);
        restore_template(templates, "labels.ini", before);
    }

    g_assert_true(letters_check_templates(c, &error));
    g_assert_no_error(error);
    fixture_config_close(c, g_steal_pointer(&dir));
    fs_remove_tree(templates);
}

/* A province's copy of templates/ made by an older version: a labels.ini group it lacks is
 * read from the installed file (PAHT_TEST_INSTALLED_TEMPLATES stands for the installed
 * folder), a value the copy has stays the copy's, and with nothing installed behind it the
 * lack is refused at start. */
static void test_labels_an_older_copy_lacks_come_from_the_installed_file(void)
{
    g_autofree char *installed = fixture_templates_dir();
    g_autofree char *templates = g_dir_make_tmp("paht-templates-XXXXXX", NULL);
    g_assert_nonnull(templates);
    fixture_templates_copy(templates);
    g_autofree char *was =
        edit_template(templates, "labels.ini", "[deadline clarify]", "[deadline lam_ro]");
    g_autofree char *was2 = edit_template(templates, "labels.ini", "label = Số điện thoại\n",
                                          "label = Điện thoại di động\n");
    g_autofree char *extra = g_strdup_printf("[gateway]\ntemplates_dir = %s\n", templates);
    FixtureConfig opts = {.extra = extra};
    g_autofree char *dir = NULL;
    Config *c = fixture_config_open("older", &opts, &dir);

    g_setenv("PAHT_TEST_INSTALLED_TEMPLATES", installed, TRUE);
    g_autoptr(GError) error = NULL;
    g_assert_true(letters_check_templates(c, &error));
    g_assert_no_error(error);
    g_autoptr(Labels) labels = labels_load(c, &error);
    g_assert_no_error(error);
    g_autofree char *clarify = labels_get(labels, "deadline", "clarify", "label", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(clarify, ==, "làm rõ thông tin theo phản hồi của người phản ánh");
    g_autofree char *phone = labels_get(labels, "field", "phone", "label", &error);
    g_assert_cmpstr(phone, ==, "Điện thoại di động");

    g_setenv("PAHT_TEST_INSTALLED_TEMPLATES", "", TRUE);
    assert_templates_refused(c, "labels.ini", "[deadline clarify] label");
    fixture_config_close(c, g_steal_pointer(&dir));
    fs_remove_tree(templates);
}

/* a letter to send now, the IOC's kind of context: who it is for and a report code */
static gboolean enqueue(Config *c, Store *store, const LetterRequest *req, GError **error)
{
    JsonBuilder *b = letters_context_new(c, clock_now_unix());
    json_builder_set_member_name(b, "report");
    json_builder_begin_object(b);
    json_member_string(b, "code", "PAHT-2026-000123");
    json_builder_end_object(b);
    gboolean ok = letters_enqueue(c, store, req, b, NULL, error);
    g_object_unref(b);
    return ok;
}

/* Nothing leaves the gateway unregistered: a kind or a template the registry lacks is an
 * error, never a letter that no count, digest or preview knows. And the report's reply token
 * goes only into letters the citizen reads: an agency's or the IOC's answer sent to it would
 * be added to the report as the citizen's. */
static void test_only_registered_letters_are_sent(void)
{
    g_autofree char *dir = NULL;
    Config *c = fixture_config_open("kinds", NULL, &dir);
    GError *error = NULL;
    g_autoptr(Store) store = store_open(c->gateway.database, &error);
    g_assert_no_error(error);
    fixture_now_is("2026-11-28T09:00:00+07:00");
    /* SPEC §6 names a refusal, which is never sent; a template of another kind */
    LetterRequest refusal = {.kind = "refusal", .dedupe_key = "k1", .to_address = "an@example.vn"};
    g_assert_false(enqueue(c, store, &refusal, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_INPUT);
    g_clear_error(&error);
    LetterRequest wrong = {.kind = "ack",
                           .template_name = "result_sent_back",
                           .dedupe_key = "k2",
                           .to_address = "an@example.vn"};
    g_assert_false(enqueue(c, store, &wrong, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_INPUT);
    g_clear_error(&error);
    g_autoptr(GPtrArray) none = outbox_list(store, NULL, &error);
    g_assert_cmpuint(none->len, ==, 0);

    LetterRequest to_ioc = {.kind = "publish_request",
                            .dedupe_key = "k3",
                            .to_address = "ioc@soctrang.gov.vn",
                            .reply_token = "tok123"};
    g_assert_true(enqueue(c, store, &to_ioc, &error));
    g_assert_no_error(error);
    g_autoptr(GPtrArray) one = outbox_list(store, NULL, &error);
    g_assert_cmpuint(one->len, ==, 1);
    const OutboxEntry *e = g_ptr_array_index(one, 0);
    g_autoptr(GMimeMessage) msg = fixture_letter(store, e->id);
    g_assert_null(g_mime_object_get_header(GMIME_OBJECT(msg), "Reply-To"));
    g_assert_cmpstr(g_mime_object_get_header(GMIME_OBJECT(msg), "Auto-Submitted"), ==,
                    "auto-generated");
    store_close(g_steal_pointer(&store));
    fixture_config_close(c, g_steal_pointer(&dir));
    g_unsetenv("PAHT_NOW");
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C.UTF-8"); /* failures quote Vietnamese */
    g_test_init(&argc, &argv, NULL);
    g_mime_init();
    g_test_add_func("/letters/kinds/every_kind_has_its_two_templates",
                    test_every_kind_has_its_two_templates);
    g_test_add_func("/letters/kinds/every_template_file_belongs_to_a_kind",
                    test_every_template_file_belongs_to_a_kind);
    g_test_add_func("/letters/kinds/every_kind_composes_flowed", test_every_kind_composes_flowed);
    g_test_add_func("/letters/kinds/the_manual_lists_every_kind_and_template",
                    test_the_manual_lists_every_kind_and_template);
    g_test_add_func("/letters/kinds/no_template_for_the_ioc_or_a_leader_names_the_citizen",
                    test_no_template_for_the_ioc_or_a_leader_names_the_citizen);
    g_test_add_func("/letters/kinds/every_field_deadline_and_kind_has_its_names",
                    test_every_field_deadline_and_kind_has_its_names);
    g_test_add_func("/letters/kinds/a_missing_name_is_a_configuration_error",
                    test_a_missing_name_is_a_configuration_error);
    g_test_add_func("/letters/kinds/a_changed_label_is_in_the_next_letter",
                    test_a_changed_label_is_in_the_next_letter);
    g_test_add_func("/letters/kinds/every_template_is_checked_with_the_configuration",
                    test_every_template_is_checked_with_the_configuration);
    g_test_add_func("/letters/kinds/labels_an_older_copy_lacks_come_from_the_installed_file",
                    test_labels_an_older_copy_lacks_come_from_the_installed_file);
    g_test_add_func("/letters/kinds/only_registered_letters_are_sent",
                    test_only_registered_letters_are_sent);
    int status = g_test_run();
    g_mime_shutdown();
    return status;
}
