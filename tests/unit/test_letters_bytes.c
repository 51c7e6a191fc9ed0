/* The bytes of a letter (notify/letter.c), held to golden files: what letter_compose writes
 * for fixed templates and fixed inputs, byte for byte, with only what is random by nature
 * masked (the Message-ID's random part and the MIME boundaries). It guards every change made
 * to compose a letter faster (issue 18): a letter must not change by one byte. The templates
 * are the test's own, written here, so that the province's wording can change without
 * touching the golden files; they reach every path of the composer: Vietnamese, ASCII-only
 * and Latin-1-only text, flowed lines, stuffing, partials, a parent with blocks, HTML escapes,
 * threading, Reply-To and an attachment.
 *
 *   PAHT_GOLDEN_UPDATE=1 test_letters_bytes      rewrites tests/unit/letters_golden/
 *   PAHT_LETTERS_DUMP=DIR test_letters_bytes     writes every registered kind's letter, masked
 *                                                the same way, to DIR (to compare two builds)
 */
#include "config_fixture.h"
#include "letters/letters.h"
#include "notify/notify.h"
#include "util/util.h"

#include <glib/gstdio.h>
#include <gmime/gmime.h>
#include <locale.h>
#include <string.h>

/* GMime 3.2 declares no autoptr cleanups of its own */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeMessage, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeParser, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeStream, g_object_unref)

/* ---- masking ------------------------------------------------------------------------------- */

/* the letter with its boundaries named BOUNDARY-1, -2... in order of appearance and the
 * random part of its Message-ID as RANDOM */
static char *letter_masked(GBytes *message)
{
    gsize len = 0;
    const char *data = g_bytes_get_data(message, &len);
    g_autofree char *text = g_strndup(data, len);
    g_autoptr(GRegex) boundary = g_regex_new("boundary=\"([^\"]+)\"", 0, 0, NULL);
    g_autoptr(GMatchInfo) match = NULL;
    g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
    g_regex_match(boundary, text, 0, &match);
    for (; g_match_info_matches(match); g_match_info_next(match, NULL))
        g_ptr_array_add(found, g_match_info_fetch(match, 1));
    GString *out = g_string_new(text);
    for (guint i = 0; i < found->len; i++) {
        g_autofree char *name = g_strdup_printf("BOUNDARY-%u", i + 1);
        g_string_replace(out, g_ptr_array_index(found, i), name, 0);
    }
    g_autoptr(GRegex) id = g_regex_new("<paht\\.[0-9a-f]+@", 0, 0, NULL);
    g_autofree char *masked =
        g_regex_replace_literal(id, out->str, -1, 0, "<paht.RANDOM@", 0, NULL);
    g_string_free(out, TRUE);
    return g_steal_pointer(&masked);
}

/* ---- the test's own templates --------------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *text;
} TemplateFile;

static const TemplateFile template_files[] = {
    {
        "viet.txt",
        "Subject: Đã tiếp nhận phản ánh {{report.code}}: {{report.subject}}\n"
        "\n"
        "Kính gửi {{#citizen.name}}Ông/Bà {{citizen.name}}{{/citizen.name}}"
        "{{^citizen.name}}Ông/Bà{{/citizen.name}},\n"
        "\n"
        "Trung tâm IOC tỉnh Sóc Trăng đã nhận được phản ánh của Ông/Bà lúc "
        "{{report.received_at}} và sẽ chuyển đến cơ quan có thẩm quyền trong thời hạn quy định; "
        "mã số để tra cứu là {{report.code}}, xin Ông/Bà giữ lại thư này.\n"
        "\n"
        "{{#missing}}\n"
        "- {{label}}: {{hint}}\n"
        "{{/missing}}\n"
        "Nội dung Ông/Bà đã gửi:\n"
        "{{report.text}}\n"
        "From here on, a line that starts with From must be stuffed.\n"
        " A line with its own indentation.\n"
        "Trailing spaces go at a hard line end.   \n"
        "Mộtchuỗirấtdàikhôngcókhoảngtrắngnàocảđểxemdòngcóbịcắtgiữachữkhôngvàphảigiữnguyênmộtkhối"
        "chodùdàihơnmộtdòng\n"
        "{{> sig}}\n",
    },
    {"viet.html", "{{< layout}}{{$title}}Phản ánh {{report.code}}{{/title}}"
                  "{{$body}}<p>Kính gửi {{citizen.name}},</p>\n"
                  "<p>Nội dung: {{report.subject}} &amp; {{{report.raw}}}</p>\n"
                  "<ul>{{#missing}}<li>{{label}}</li>{{/missing}}</ul>{{/body}}{{/layout}}\n"},
    {"layout.partial.html",
     "<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\">"
     "<title>{{$title}}Thư{{/title}}</title></head>\n<body>\n{{$body}}{{/body}}\n"
     "<p>Trân trọng,<br>{{gateway.name}}</p>\n</body></html>\n"},
    {"sig.partial.txt", "-- \n{{gateway.name}}\nĐường dây nóng: {{gateway.hotline}}\n"},
    {"ascii.txt",
     "Subject: Report {{report.code}} received\n"
     "\n"
     "Dear citizen,\n"
     "\n"
     "We received your report {{report.code}}. This line is long enough to be flowed at "
     "seventy-six octets, so that the soft breaks of RFC 3676 are tested with ASCII only.\n"},
    {"ascii.html", "<p>Report {{report.code}} received.</p>\n"},
    {"latin.txt",
     "Subject: Café {{report.code}}\n"
     "\n"
     "Une lettre en français, où chaque caractère tient en Latin-1: é, è, à, ç, ü, ©.\n"},
    {"latin.html", "<p>Une lettre en français: é, è, à, ç.</p>\n"},
};

static const char *context_json =
    "{\"gateway\": {\"name\": \"Trung tâm IOC tỉnh Sóc Trăng\", \"hotline\": \"1022\"},"
    " \"citizen\": {\"name\": \"Nguyễn Văn An\"},"
    " \"report\": {\"code\": \"PAHT-2026-000123\","
    "  \"subject\": \"Đèn đường hỏng <gấp> & \\\"nguy hiểm\\\" ở 'Lê Lợi', phường 6\","
    "  \"raw\": \"<b>đậm</b>\","
    "  \"received_at\": \"08:15 ngày 28/11/2026\","
    /* decomposed (NFD) Vietnamese: the letter is NFC whatever it is given */
    "  \"text\": \"Đe\\u0300n đươ\\u0300ng trước nhà số 12 Lê Lợi bị hỏng hơn một tuần nay, "
    "buổi tối rất tối và nguy hiểm cho người đi đường, nhất là các cháu học sinh đi học thêm "
    "về muộn.\\r\\n> Trích thư trước: xin sửa sớm\\n>>> khẩn\"},"
    " \"missing\": [{\"label\": \"Địa chỉ\", \"hint\": \"số nhà, tên đường\"},"
    "               {\"label\": \"Thời gian\", \"hint\": \"ngày, giờ\"}]}";

static char *templates_write(void)
{
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp("paht-golden-XXXXXX", &error);
    g_assert_no_error(error);
    for (gsize i = 0; i < G_N_ELEMENTS(template_files); i++) {
        g_autofree char *path = g_build_filename(dir, template_files[i].name, NULL);
        g_file_set_contents(path, template_files[i].text, -1, &error);
        g_assert_no_error(error);
    }
    return dir;
}

static void templates_remove(char *dir)
{
    for (gsize i = 0; i < G_N_ELEMENTS(template_files); i++) {
        g_autofree char *path = g_build_filename(dir, template_files[i].name, NULL);
        g_unlink(path);
    }
    g_rmdir(dir);
    g_free(dir);
}

/* ---- the cases ------------------------------------------------------------------------------ */

typedef struct {
    const char *golden; /* tests/unit/letters_golden/NAME.eml */
    const char *kind;
    const char *from_name;
    const char *to_name;
    const char *reply_to;
    const char *in_reply_to;
    const char *const *references;
    const char *auto_submitted;
    gboolean attachment;
} GoldenCase;

static const char *const some_references[] = {"first@example.vn", "<second@example.vn>",
                                              "bad id@example.vn", NULL};

static const GoldenCase cases[] = {
    {"viet", "viet", "Trung tâm IOC tỉnh Sóc Trăng", "Nguyễn Văn An", NULL, NULL, NULL,
     "auto-replied", FALSE},
    {"viet-thread", "viet", "Trung tâm IOC tỉnh Sóc Trăng",
     "=?utf-8?q?An=0D=0ABcc:_x@y.z?=", "paht+tok123@soctrang.gov.vn", "<m1.abc@mail.example.vn>",
     some_references, "auto-generated", TRUE},
    {"ascii", "ascii", "PAHT Gateway", "John \"Q\" Public", NULL, "m2@example.vn", NULL,
     "auto-replied", FALSE},
    {"latin", "latin", "Centre IOC", "Zoë", NULL, NULL, NULL, "Not A Keyword", FALSE},
};

static char *golden_path(const char *name)
{
    g_autofree char *file = g_strdup_printf("tests/unit/letters_golden/%s.eml", name);
    return fixture_source_path(file);
}

static char *compose_masked(const char *dir, JsonNode *context, const GoldenCase *c)
{
    static const char csv_text[] = "mã,tình trạng\r\nPAHT-2026-000123,đã nhận\r\n";
    g_autoptr(GBytes) csv = g_bytes_new_static(csv_text, strlen(csv_text));
    LetterAttachment attachment = {"bao-cao.csv", "text/csv; charset=utf-8", csv};
    LetterSpec spec = {
        .templates_dir = dir,
        .kind = c->kind,
        .context = context,
        .from_name = c->from_name,
        .from_address = "paht@soctrang.gov.vn",
        .to_name = c->to_name,
        .to_address = "an@example.vn",
        .reply_to = c->reply_to,
        .in_reply_to = c->in_reply_to,
        .references = c->references,
        .auto_submitted = c->auto_submitted,
        .date = 1795831200, /* 2026-11-28T09:00:00+07:00 */
        .attachments = c->attachment ? &attachment : NULL,
        .n_attachments = c->attachment ? 1 : 0,
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(Letter) letter = letter_compose(&spec, &error);
    g_assert_no_error(error);
    return letter_masked(letter->message);
}

static void test_letters_are_byte_for_byte_the_golden_ones(void)
{
    char *dir = templates_write();
    g_autoptr(JsonNode) context = json_from_string(context_json, NULL);
    g_assert_nonnull(context);
    gboolean update = g_getenv("PAHT_GOLDEN_UPDATE") != NULL;
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = golden_path(cases[i].golden);
        /* twice: the second letter comes from what the first left in the caches */
        for (int round = 0; round < 2; round++) {
            g_autofree char *masked = compose_masked(dir, context, &cases[i]);
            g_autoptr(GError) error = NULL;
            if (update) {
                g_file_set_contents(path, masked, -1, &error);
                g_assert_no_error(error);
                continue;
            }
            g_autofree char *golden = NULL;
            g_file_get_contents(path, &golden, NULL, &error);
            g_assert_no_error(error);
            if (strcmp(masked, golden) != 0)
                g_error("%s (round %d) differs from %s:\n%s", cases[i].golden, round + 1, path,
                        masked);
        }
    }
    templates_remove(dir);
}

/* A text that Latin-1 can hold (words like "và", "là", "có" are; a short HTML part or an
 * English letter may be nothing else) is sent as the UTF-8 its charset=utf-8 says: GMime's
 * set_text had made it Latin-1 bytes under that label, "français" read as "fran\uFFFDais". */
static void test_latin1_only_text_is_sent_as_the_utf8_it_says(void)
{
    char *dir = templates_write();
    g_autoptr(JsonNode) context = json_from_string(context_json, NULL);
    LetterSpec spec = {
        .templates_dir = dir,
        .kind = "latin",
        .context = context,
        .from_name = "Centre IOC",
        .from_address = "paht@soctrang.gov.vn",
        .to_address = "an@example.vn",
        .auto_submitted = "auto-replied",
        .date = 1795831200,
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(Letter) letter = letter_compose(&spec, &error);
    g_assert_no_error(error);
    gsize len = 0;
    const char *data = g_bytes_get_data(letter->message, &len);
    g_autoptr(GMimeStream) stream = g_mime_stream_mem_new_with_buffer(data, len);
    g_autoptr(GMimeParser) parser = g_mime_parser_new_with_stream(stream);
    g_autoptr(GMimeMessage) message = g_mime_parser_construct_message(parser, NULL);
    g_assert_nonnull(message);
    GMimeMultipart *body = GMIME_MULTIPART(g_mime_message_get_body(message));
    const char *expected[] = {
        "Une lettre en français, où chaque caractère tient en Latin-1: é, è, à, ç, ü, ©.\n",
        "<p>Une lettre en français: é, è, à, ç.</p>\r\n"};
    for (int i = 0; i < 2; i++) {
        GMimeTextPart *part = GMIME_TEXT_PART(g_mime_multipart_get_part(body, i));
        g_assert_cmpstr(g_mime_text_part_get_charset(part), ==, "utf-8");
        g_autofree char *text = g_mime_text_part_get_text(part);
        g_autofree char *shown = i == 0 ? letter_text_reflowed(text) : g_strdup(text);
        g_assert_cmpstr(shown, ==, expected[i]);
    }
    templates_remove(dir);
}

/* ---- every registered kind, written out for a comparison of two builds ---------------------- */

static void dump_every_kind(const char *out_dir)
{
    g_autofree char *templates = fixture_templates_dir();
    g_autofree char *path = fixture_source_path("tests/unit/letter_context.json");
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    if (!json_parser_load_from_file(parser, path, &error))
        g_error("%s: %s", path, error->message);
    g_mkdir_with_parents(out_dir, 0700);
    for (const LetterKind *k = kinds_all(); k->name; k++) {
        for (const LetterTemplate *t = k->templates; t->name; t++) {
            LetterSpec spec = {
                .templates_dir = templates,
                .kind = t->name,
                .context = json_parser_get_root(parser),
                .from_name = "Trung tâm IOC tỉnh Sóc Trăng",
                .from_address = "paht@soctrang.gov.vn",
                .to_name = "Nguyễn Văn An",
                .to_address = "an@example.vn",
                .reply_to = "paht+tok@soctrang.gov.vn",
                .in_reply_to = "m1@example.vn",
                .auto_submitted = k->auto_reply ? "auto-replied" : "auto-generated",
                .date = 1795831200,
            };
            g_autoptr(Letter) letter = letter_compose(&spec, &error);
            if (!letter)
                g_error("%s: %s", t->name, error->message);
            g_autofree char *masked = letter_masked(letter->message);
            g_autofree char *file = g_strdup_printf("%s/%s.eml", out_dir, t->name);
            if (!g_file_set_contents(file, masked, -1, &error))
                g_error("%s", error->message);
        }
    }
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    g_mime_init();
    const char *dump = g_getenv("PAHT_LETTERS_DUMP");
    if (dump) {
        dump_every_kind(dump);
        return 0;
    }
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/letters/bytes/letters_are_byte_for_byte_the_golden_ones",
                    test_letters_are_byte_for_byte_the_golden_ones);
    g_test_add_func("/letters/bytes/latin1_only_text_is_sent_as_the_utf8_it_says",
                    test_latin1_only_text_is_sent_as_the_utf8_it_says);
    return g_test_run();
}
