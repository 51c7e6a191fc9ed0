/* Unit tests of letter_compose: every letter is parsed back with GMime and checked header by
 * header; injection attempts must neither add a header nor a recipient. */
#include "config_fixture.h"
#include "flowed_fixture.h"
#include "notify/notify.h"
#include "util/util.h"

#include <gmime/gmime.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeMessage, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeStream, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeParser, g_object_unref)

#define FROM_NAME    "Trung tâm IOC tỉnh Sóc Trăng"
#define FROM_ADDRESS "paht@soctrang.gov.vn"
#define REPORT_CODE  "PAHT-2026-000123"

/* ---- fixtures -------------------------------------------------------------------------------- */

typedef struct {
    char *dir; /* a private temp folder with templates of our own */
} Fixture;

static void write_file(const char *dir, const char *name, const char *text)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autoptr(GError) error = NULL;
    g_assert_true(g_file_set_contents(path, text, -1, &error));
}

static void fixture_set_up(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    f->dir = g_dir_make_tmp("test_notify_letter_XXXXXX", &error);
    g_assert_no_error(error);
    write_file(f->dir, "t.txt",
               "Subject: [{{report.code}}] Đã tiếp nhận phản ánh: {{report.subject}}\n"
               "\n"
               "{{#citizen.name}}\nKính gửi Ông/Bà {{citizen.name}},\n{{/citizen.name}}\n"
               "{{^citizen.name}}\nKính gửi Quý ông/bà,\n{{/citizen.name}}\n"
               "Mã phản ánh: {{report.code}}\n"
               "Nội dung: {{report.subject}}\n");
    write_file(f->dir, "t.html",
               "<html><body><p>Mã phản ánh: <b>{{report.code}}</b></p>"
               "<p>{{report.subject}}</p></body></html>\n");
}

static void fixture_tear_down(Fixture *f, gconstpointer data)
{
    fs_remove_tree(f->dir);
    g_free(f->dir);
}

static JsonNode *context_with_subject(const char *subject)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "report");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "code");
    json_builder_add_string_value(b, REPORT_CODE);
    json_builder_set_member_name(b, "subject");
    json_builder_add_string_value(b, subject);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "citizen");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, "Nguyễn Văn A");
    json_builder_end_object(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static LetterSpec base_spec(const char *dir, JsonNode *context)
{
    LetterSpec spec = {
        .templates_dir = dir,
        .kind = "t",
        .context = context,
        .from_name = FROM_NAME,
        .from_address = FROM_ADDRESS,
        .to_name = "Nguyễn Văn A",
        .to_address = "nguyen.van.a@example.test",
        .reply_to = "paht+tok123@soctrang.gov.vn",
        .auto_submitted = "auto-replied",
        .date = 1795831200, /* 2026-11-28T09:00:00+07:00 */
    };
    return spec;
}

static GMimeMessage *parse_letter(const Letter *letter)
{
    gsize len = 0;
    const char *data = g_bytes_get_data(letter->message, &len);
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *message = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    g_object_unref(stream);
    g_assert_nonnull(message);
    return message;
}

/* the names of the top-level header fields, as written (folded lines joined) */
static GPtrArray *raw_header_names(const Letter *letter)
{
    gsize len = 0;
    const char *data = g_bytes_get_data(letter->message, &len);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *eol = g_strstr_len(p, end - p, "\r\n");
        g_assert_nonnull(eol);
        if (eol == p)
            break; /* the blank line before the body */
        if (*p != ' ' && *p != '\t') {
            const char *colon = memchr(p, ':', (gsize)(eol - p));
            g_assert_nonnull(colon);
            g_ptr_array_add(names, g_ascii_strdown(p, colon - p));
        }
        p = eol + 2;
    }
    return names;
}

static int count_header(GPtrArray *names, const char *name)
{
    int n = 0;
    for (guint i = 0; i < names->len; i++)
        n += strcmp(g_ptr_array_index(names, i), name) == 0;
    return n;
}

/* the decoded text of the first part with this subtype */
static char *part_text(GMimeMessage *message, const char *subtype)
{
    GMimeObject *body = g_mime_message_get_mime_part(message);
    g_assert_true(GMIME_IS_MULTIPART(body));
    GMimeMultipart *multipart = GMIME_MULTIPART(body);
    for (int i = 0; i < g_mime_multipart_get_count(multipart); i++) {
        GMimeObject *part = g_mime_multipart_get_part(multipart, i);
        GMimeContentType *type = g_mime_object_get_content_type(part);
        if (g_mime_content_type_is_type(type, "text", subtype)) {
            g_assert_cmpstr(g_mime_content_type_get_parameter(type, "charset"), ==, "utf-8");
            return g_mime_text_part_get_text(GMIME_TEXT_PART(part));
        }
    }
    g_assert_not_reached();
    return NULL;
}

static void assert_wire_format(const Letter *letter)
{
    gsize len = 0;
    const guint8 *data = g_bytes_get_data(letter->message, &len);
    gsize line = 0;
    for (gsize i = 0; i < len; i++) {
        g_assert_cmpuint(data[i], <, 0x80); /* 7-bit clean */
        g_assert_cmpuint(data[i], !=, 0);
        if (data[i] == '\n') {
            g_assert_true(i > 0 && data[i - 1] == '\r'); /* CRLF only */
            line = 0;
        } else {
            g_assert_cmpuint(++line, <=, 998); /* RFC 5322 §2.1.1 */
        }
        if (data[i] == '\r')
            g_assert_true(i + 1 < len && data[i + 1] == '\n');
    }
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_headers_and_bodies(Fixture *f, gconstpointer data)
{
    const char *subject = "Đèn đường hỏng, ổ gà ở đường Lê Lợi, phường 6: "
                          "người đi đường phải né sang làn ô tô rất nguy hiểm";
    JsonNode *context = context_with_subject(subject);
    LetterSpec spec = base_spec(f->dir, context);
    g_autoptr(GError) error = NULL;
    g_autoptr(Letter) letter = letter_compose(&spec, &error);
    g_assert_no_error(error);
    g_assert_nonnull(letter);
    assert_wire_format(letter);
    /* the header fields each once, in the order a reader expects them (RFC 5322 §3.6 does not
     * ask for one; letter.c sets them in it) */
    static const char *const order[] = {
        "date",           "from",         "reply-to",
        "subject",        "to",           "message-id",
        "auto-submitted", "precedence",   "x-auto-response-suppress",
        "x-paht-loop",    "mime-version", "content-type"};
    g_autoptr(GPtrArray) names = raw_header_names(letter);
    g_assert_cmpuint(names->len, ==, G_N_ELEMENTS(order));
    for (guint i = 0; i < names->len; i++)
        g_assert_cmpstr(g_ptr_array_index(names, i), ==, order[i]);

    g_autofree char *expected_subject =
        g_strdup_printf("[%s] Đã tiếp nhận phản ánh: %s", REPORT_CODE, subject);
    g_assert_cmpstr(letter->subject, ==, expected_subject);

    g_autoptr(GMimeMessage) message = parse_letter(letter);
    GMimeObject *object = GMIME_OBJECT(message);
    /* the whole subject, every diacritic, decoded by GMime itself (upstream #133 would cut
     * it after "phản ánh: " if the letter used padded B words) */
    g_assert_cmpstr(g_mime_message_get_subject(message), ==, expected_subject);
    g_autofree char *subject_nfc =
        g_utf8_normalize(g_mime_message_get_subject(message), -1, G_NORMALIZE_NFC);
    g_assert_cmpstr(subject_nfc, ==, g_mime_message_get_subject(message));

    InternetAddressList *from = g_mime_message_get_from(message);
    g_assert_cmpint(internet_address_list_length(from), ==, 1);
    InternetAddress *from0 = internet_address_list_get_address(from, 0);
    g_assert_cmpstr(internet_address_get_name(from0), ==, FROM_NAME);
    g_assert_cmpstr(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(from0)), ==,
                    FROM_ADDRESS);
    InternetAddressList *to = g_mime_message_get_to(message);
    g_assert_cmpint(internet_address_list_length(to), ==, 1);
    InternetAddress *to0 = internet_address_list_get_address(to, 0);
    g_assert_cmpstr(internet_address_get_name(to0), ==, "Nguyễn Văn A");
    g_assert_cmpstr(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(to0)), ==,
                    "nguyen.van.a@example.test");
    InternetAddressList *reply_to = g_mime_message_get_reply_to(message);
    g_assert_cmpint(internet_address_list_length(reply_to), ==, 1);
    g_assert_cmpstr(internet_address_mailbox_get_addr(
                        INTERNET_ADDRESS_MAILBOX(internet_address_list_get_address(reply_to, 0))),
                    ==, "paht+tok123@soctrang.gov.vn");

    GDateTime *date = g_mime_message_get_date(message);
    g_assert_nonnull(date);
    g_assert_cmpint(g_date_time_to_unix(date), ==, spec.date);
    g_assert_nonnull(strstr(g_mime_object_get_header(object, "Date"), "+0700"));

    /* Message-ID: <paht.RANDOM@domain of From> */
    const char *id = g_mime_message_get_message_id(message);
    g_assert_cmpstr(id, ==, letter->message_id);
    g_assert_true(g_str_has_prefix(id, "paht."));
    g_assert_true(g_str_has_suffix(id, "@soctrang.gov.vn"));
    g_assert_cmpuint(strlen(id), ==, strlen("paht.@soctrang.gov.vn") + 32);

    g_assert_cmpstr(g_mime_object_get_header(object, "MIME-Version"), ==, "1.0");
    g_assert_cmpstr(g_mime_object_get_header(object, "Auto-Submitted"), ==, "auto-replied");
    g_assert_cmpstr(g_mime_object_get_header(object, "Precedence"), ==, "bulk");
    g_assert_cmpstr(g_mime_object_get_header(object, "X-Auto-Response-Suppress"), ==, "All");
    g_assert_cmpstr(g_mime_object_get_header(object, "X-PAHT-Loop"), ==, FROM_ADDRESS);
    g_assert_null(g_mime_object_get_header(object, "In-Reply-To"));
    g_assert_null(g_mime_object_get_header(object, "References"));

    g_assert_true(g_mime_content_type_is_type(
        g_mime_object_get_content_type(g_mime_message_get_mime_part(message)), "multipart",
        "alternative"));
    g_autofree char *text = part_text(message, "plain");
    g_autofree char *read = fixture_unflow(text);
    g_autofree char *expected_text = g_strdup_printf(
        "Kính gửi Ông/Bà Nguyễn Văn A,\nMã phản ánh: %s\nNội dung: %s\n", REPORT_CODE, subject);
    g_assert_cmpstr(read, ==, expected_text);
    g_assert_cmpstr(letter->text, ==, expected_text);
    g_autofree char *html = part_text(message, "html");
    g_autofree char *expected_html =
        g_strdup_printf("<html><body><p>Mã phản ánh: <b>%s</b></p><p>%s</p></body></html>\r\n",
                        REPORT_CODE, subject);
    g_assert_cmpstr(html, ==, expected_html);

    /* every letter has its own Message-ID */
    g_autoptr(Letter) again = letter_compose(&spec, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(again->message_id, !=, letter->message_id);
    json_node_unref(context);
}

static void test_threading_headers(Fixture *f, gconstpointer data)
{
    JsonNode *context = context_with_subject("Cây đổ");
    LetterSpec spec = base_spec(f->dir, context);
    const char *const refs[] = {"first@mail.example", "<second@mail.example>", NULL};
    spec.in_reply_to = "CAB123+x@mail.gmail.com";
    spec.references = refs;
    spec.auto_submitted = "auto-generated";
    g_autoptr(GError) error = NULL;
    g_autoptr(Letter) letter = letter_compose(&spec, &error);
    g_assert_no_error(error);
    g_autoptr(GMimeMessage) message = parse_letter(letter);
    GMimeObject *object = GMIME_OBJECT(message);
    g_assert_cmpstr(g_mime_object_get_header(object, "In-Reply-To"), ==,
                    "<CAB123+x@mail.gmail.com>");
    GMimeReferences *refs_back =
        g_mime_references_parse(NULL, g_mime_object_get_header(object, "References"));
    g_assert_cmpint(g_mime_references_length(refs_back), ==, 3);
    g_assert_cmpstr(g_mime_references_get_message_id(refs_back, 0), ==, "first@mail.example");
    g_assert_cmpstr(g_mime_references_get_message_id(refs_back, 1), ==, "second@mail.example");
    g_assert_cmpstr(g_mime_references_get_message_id(refs_back, 2), ==, "CAB123+x@mail.gmail.com");
    g_mime_references_free(refs_back);
    g_assert_cmpstr(g_mime_object_get_header(object, "Auto-Submitted"), ==, "auto-generated");
    json_node_unref(context);
}

static void test_long_references_are_trimmed(Fixture *f, gconstpointer data)
{
    JsonNode *context = context_with_subject("x");
    LetterSpec spec = base_spec(f->dir, context);
    GPtrArray *refs = g_ptr_array_new_with_free_func(g_free);
    for (int i = 0; i < 200; i++)
        g_ptr_array_add(refs, g_strdup_printf("m%d@example.test", i));
    g_ptr_array_add(refs, NULL);
    spec.references = (const char *const *)refs->pdata;
    spec.in_reply_to = "m199@example.test";
    g_autoptr(GError) error = NULL;
    g_autoptr(Letter) letter = letter_compose(&spec, &error);
    g_assert_no_error(error);
    assert_wire_format(letter);
    g_autoptr(GMimeMessage) message = parse_letter(letter);
    GMimeReferences *back = g_mime_references_parse(
        NULL, g_mime_object_get_header(GMIME_OBJECT(message), "References"));
    g_assert_cmpint(g_mime_references_length(back), ==, 20);
    g_assert_cmpstr(g_mime_references_get_message_id(back, 0), ==, "m0@example.test");
    g_assert_cmpstr(g_mime_references_get_message_id(back, 19), ==, "m199@example.test");
    g_mime_references_free(back);
    g_ptr_array_unref(refs);
    json_node_unref(context);
}

/* what a Bcc or an extra recipient would look like if an injection worked */
static void assert_no_injection(const Letter *letter)
{
    assert_wire_format(letter);
    g_autoptr(GPtrArray) names = raw_header_names(letter);
    g_assert_cmpint(count_header(names, "bcc"), ==, 0);
    g_assert_cmpint(count_header(names, "cc"), ==, 0);
    g_assert_cmpint(count_header(names, "x-evil"), ==, 0);
    g_assert_cmpint(count_header(names, "to"), ==, 1);
    g_assert_cmpint(count_header(names, "from"), ==, 1);
    g_assert_cmpint(count_header(names, "subject"), ==, 1);
    g_autoptr(GMimeMessage) message = parse_letter(letter);
    g_assert_cmpint(internet_address_list_length(g_mime_message_get_to(message)), ==, 1);
    g_assert_cmpint(internet_address_list_length(g_mime_message_get_from(message)), ==, 1);
    g_assert_null(g_mime_message_get_bcc(message) &&
                          internet_address_list_length(g_mime_message_get_bcc(message)) > 0
                      ? "bcc"
                      : NULL);
    const char *subject = g_mime_message_get_subject(message);
    g_assert_null(strpbrk(subject, "\r\n"));
    InternetAddress *to0 = internet_address_list_get_address(g_mime_message_get_to(message), 0);
    const char *to_name = internet_address_get_name(to0);
    g_assert_true(!to_name || !strpbrk(to_name, "\r\n"));
    g_assert_cmpstr(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(to0)), ==,
                    "nguyen.van.a@example.test");
}

static void test_crlf_in_names_and_subject_adds_nothing(Fixture *f, gconstpointer data)
{
    JsonNode *context = context_with_subject("Ngập nước\r\nBcc: evil@attacker.example\r\n"
                                             "X-Evil: 1\nCc: evil2@attacker.example");
    LetterSpec spec = base_spec(f->dir, context);
    spec.to_name = "Nguyễn Văn A\r\nBcc: evil@attacker.example";
    spec.from_name = "IOC\nX-Evil: yes";
    spec.in_reply_to = "abc@x>\r\nBcc: <evil@attacker.example";
    const char *const refs[] = {"ok@x", "bad@x>\r\nCc: evil@attacker.example", NULL};
    spec.references = refs;
    g_autoptr(GError) error = NULL;
    g_autoptr(Letter) letter = letter_compose(&spec, &error);
    g_assert_no_error(error);
    assert_no_injection(letter);
    g_assert_null(strpbrk(letter->subject, "\r\n"));
    g_assert_nonnull(strstr(letter->subject, "Ngập nước Bcc: evil@attacker.example"));
    /* an unusable Message-ID is dropped, not repaired */
    g_autoptr(GMimeMessage) message = parse_letter(letter);
    g_assert_null(g_mime_object_get_header(GMIME_OBJECT(message), "In-Reply-To"));
    g_assert_cmpstr(g_mime_object_get_header(GMIME_OBJECT(message), "References"), ==, "<ok@x>");
    json_node_unref(context);
}

static void test_encoded_crlf_in_name_adds_nothing(Fixture *f, gconstpointer data)
{
    JsonNode *context = context_with_subject("=?utf-8?q?x=0D=0ABcc=3A_evil=40attacker.example?=");
    LetterSpec spec = base_spec(f->dir, context);
    spec.to_name = "=?utf-8?q?x=0D=0ABcc=3A_evil=40attacker.example?=";
    spec.from_name = "=?utf-8?b?eA0KQmNjOiBldmlsQGF0dGFja2VyLmV4YW1wbGU=?="; /* same in B */
    g_autoptr(GError) error = NULL;
    g_autoptr(Letter) letter = letter_compose(&spec, &error);
    g_assert_no_error(error);
    assert_no_injection(letter);
    g_autoptr(GMimeMessage) message = parse_letter(letter);
    InternetAddress *to0 = internet_address_list_get_address(g_mime_message_get_to(message), 0);
    /* decoded once by us, CR LF gone; a reader decoding again finds no encoded word */
    g_assert_cmpstr(internet_address_get_name(to0), ==, "x Bcc: evil@attacker.example");
    InternetAddress *from0 = internet_address_list_get_address(g_mime_message_get_from(message), 0);
    g_assert_cmpstr(internet_address_get_name(from0), ==, "x Bcc: evil@attacker.example");
    g_assert_cmpstr(g_mime_message_get_subject(message), ==,
                    "[" REPORT_CODE "] Đã tiếp nhận phản ánh: x Bcc: evil@attacker.example");
    json_node_unref(context);
}

static void test_bad_recipient_addresses_are_refused(Fixture *f, gconstpointer data)
{
    static const char *const bad[] = {
        "a@example.test, evil@attacker.example",
        "a@example.test,evil@attacker.example",
        "a@example.test\r\nBcc: evil@attacker.example",
        "a@example.test\nevil@attacker.example",
        "Name <a@example.test>",
        "<a@example.test>",
        "friends: a@example.test, b@example.test;",
        "a@example.test; b@example.test",
        "\"a b\"@example.test",
        "a b@example.test",
        "a@@example.test",
        "a@example",
        "@example.test",
        "a@",
        "",
        "ngườidân@example.test",
        "a@example.test (comment)",
        "a@exa_mple.test",
        "a..b@example.test",
    };
    JsonNode *context = context_with_subject("x");
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        LetterSpec spec = base_spec(f->dir, context);
        spec.to_address = bad[i];
        g_autoptr(GError) error = NULL;
        g_autoptr(Letter) letter = letter_compose(&spec, &error);
        if (letter)
            g_error("recipient \"%s\" was accepted", bad[i]);
        g_assert_error(error, PAHT_ERROR, PAHT_ERROR_INPUT);
    }
    LetterSpec spec = base_spec(f->dir, context);
    spec.to_address = NULL;
    g_autoptr(GError) error = NULL;
    g_assert_null(letter_compose(&spec, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_INPUT);
    /* and ordinary ones pass */
    static const char *const good[] = {"nguyen.van.a@gmail.com", "x+tag@sub.example.test",
                                       "o'brien@example.test", "A.B-C_d@Example.Test"};
    for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
        LetterSpec ok = base_spec(f->dir, context);
        ok.to_address = good[i];
        g_autoptr(GError) ok_error = NULL;
        g_autoptr(Letter) letter = letter_compose(&ok, &ok_error);
        g_assert_no_error(ok_error);
        g_autoptr(GMimeMessage) message = parse_letter(letter);
        InternetAddressList *to = g_mime_message_get_to(message);
        g_assert_cmpint(internet_address_list_length(to), ==, 1);
        g_assert_cmpstr(internet_address_mailbox_get_addr(
                            INTERNET_ADDRESS_MAILBOX(internet_address_list_get_address(to, 0))),
                        ==, good[i]);
    }
    json_node_unref(context);
}

static void test_html_part_escapes_citizen_text(Fixture *f, gconstpointer data)
{
    JsonNode *context = context_with_subject("<img src=x onerror=alert(1)> & \"Tom's\"");
    LetterSpec spec = base_spec(f->dir, context);
    g_autoptr(GError) error = NULL;
    g_autoptr(Letter) letter = letter_compose(&spec, &error);
    g_assert_no_error(error);
    g_autoptr(GMimeMessage) message = parse_letter(letter);
    g_autofree char *html = part_text(message, "html");
    g_assert_null(strstr(html, "<img"));
    g_assert_nonnull(
        strstr(html, "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;Tom&#39;s&quot;"));
    /* the plain text keeps it as written */
    g_autofree char *text = part_text(message, "plain");
    g_assert_nonnull(strstr(text, "<img src=x onerror=alert(1)> & \"Tom's\""));
    json_node_unref(context);
}

static void assert_config_error_naming(const LetterSpec *spec, const char *needle)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(Letter) letter = letter_compose(spec, &error);
    g_assert_null(letter);
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    if (!strstr(error->message, needle))
        g_error("message \"%s\" does not name \"%s\"", error->message, needle);
}

static void test_missing_or_broken_templates(Fixture *f, gconstpointer data)
{
    JsonNode *context = context_with_subject("x");
    LetterSpec spec = base_spec(f->dir, context);
    spec.kind = "nosuch";
    assert_config_error_naming(&spec, "nosuch.txt");

    write_file(f->dir, "onlytext.txt", "Subject: x\n\nbody\n");
    spec.kind = "onlytext";
    assert_config_error_naming(&spec, "onlytext.html");

    write_file(f->dir, "nosubject.txt", "Kính gửi\n\nbody\n");
    write_file(f->dir, "nosubject.html", "<p>x</p>\n");
    spec.kind = "nosubject";
    assert_config_error_naming(&spec, "nosubject.txt");

    write_file(f->dir, "noblank.txt", "Subject: x\nbody\n");
    write_file(f->dir, "noblank.html", "<p>x</p>\n");
    spec.kind = "noblank";
    assert_config_error_naming(&spec, "noblank.txt");

    /* the line of the unclosed section counts the Subject line and the blank line */
    write_file(f->dir, "unclosed.txt", "Subject: x\n\nline 3\n{{#report}}\nline 5\n");
    write_file(f->dir, "unclosed.html", "<p>x</p>\n");
    spec.kind = "unclosed";
    assert_config_error_naming(&spec, "unclosed.txt: line 4:");

    write_file(f->dir, "badhtml.txt", "Subject: x\n\nbody\n");
    write_file(f->dir, "badhtml.html", "<p>\n{{#a}}{{/b}}</p>\n");
    spec.kind = "badhtml";
    assert_config_error_naming(&spec, "badhtml.html: line 2:");

    write_file(f->dir, "badsubject.txt", "Subject: {{#x}}\n\nbody\n");
    write_file(f->dir, "badsubject.html", "<p>x</p>\n");
    spec.kind = "badsubject";
    assert_config_error_naming(&spec, "badsubject.txt: line 1:");

    write_file(f->dir, "latin1.txt", "Subject: x\n\nK\xednh g\xf7i\n");
    write_file(f->dir, "latin1.html", "<p>x</p>\n");
    spec.kind = "latin1";
    assert_config_error_naming(&spec, "latin1.txt");

    spec.kind = "../t";
    assert_config_error_naming(&spec, "../t");

    /* partials: a missing one is an error naming its file */
    write_file(f->dir, "withpartial.txt", "Subject: x\n\n{{> footer}}\n");
    write_file(f->dir, "withpartial.html", "<p>x</p>\n");
    spec.kind = "withpartial";
    assert_config_error_naming(&spec, "footer.partial.txt");
    json_node_unref(context);
}

static void test_partials_and_windows_line_ends(Fixture *f, gconstpointer data)
{
    write_file(f->dir, "p.txt", "Subject: [{{report.code}}] x\r\n\r\nA\r\n  {{> footer}}\r\nB\r\n");
    write_file(f->dir, "p.html", "\xEF\xBB\xBF<p>{{> footer}}</p>\n");
    write_file(f->dir, "footer.partial.txt", "Tổng đài 1022\nmã {{report.code}}\n");
    write_file(f->dir, "footer.partial.html", "<b>Tổng đài 1022</b>");
    JsonNode *context = context_with_subject("x");
    LetterSpec spec = base_spec(f->dir, context);
    spec.kind = "p";
    g_autoptr(GError) error = NULL;
    g_autoptr(Letter) letter = letter_compose(&spec, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(letter->subject, ==, "[" REPORT_CODE "] x");
    g_autoptr(GMimeMessage) message = parse_letter(letter);
    g_autofree char *text = part_text(message, "plain");
    /* the indented lines space-stuffed (RFC 3676 §4.4): a flowed reader shows them as written */
    g_assert_cmpstr(text, ==, "A\r\n   Tổng đài 1022\r\n   mã " REPORT_CODE "\r\nB\r\n");
    g_autofree char *read = fixture_unflow(text);
    g_assert_cmpstr(read, ==, "A\n  Tổng đài 1022\n  mã " REPORT_CODE "\nB\n");
    g_autofree char *html = part_text(message, "html");
    g_assert_cmpstr(html, ==, "<p><b>Tổng đài 1022</b></p>\r\n");
    json_node_unref(context);
}

static char *plain_of(const char *dir, const char *fallback, const char *kind)
{
    JsonNode *context = context_with_subject("x");
    LetterSpec spec = base_spec(dir, context);
    spec.templates_fallback_dir = fallback;
    spec.kind = kind;
    g_autoptr(GError) error = NULL;
    g_autoptr(Letter) letter = letter_compose(&spec, &error);
    g_assert_no_error(error);
    json_node_unref(context);
    g_autoptr(GMimeMessage) message = parse_letter(letter);
    return part_text(message, "plain");
}

/* A templates_dir the province copied from an older version lacks the letters and partials a
 * newer one adds: those come from the folder this build installed (the fallback), each
 * letter's pair from one folder, and the province's own files win. Without a fallback the
 * missing file is an error naming it in templates_dir. */
static void test_missing_files_come_from_the_installed_folder(Fixture *f, gconstpointer data)
{
    g_autofree char *installed = g_dir_make_tmp("paht-installed-XXXXXX", NULL);
    write_file(f->dir, "p.txt", "Subject: tỉnh\n\nLời của tỉnh.\n{{> footer}}\n");
    write_file(f->dir, "p.html", "<p>Lời của tỉnh.</p>{{> footer}}\n");
    write_file(f->dir, "half.txt", "Subject: nửa\n\nChỉ có bản chữ.\n");
    write_file(installed, "p.txt", "Subject: gói\n\nLời của gói.\n");
    write_file(installed, "p.html", "<p>Lời của gói.</p>\n");
    write_file(installed, "q.txt", "Subject: mới\n\nThư mới.\n{{> footer}}\n");
    write_file(installed, "q.html", "<p>Thư mới.</p>\n");
    write_file(installed, "half.html", "<p>bản HTML của gói</p>\n");
    write_file(installed, "footer.partial.txt", "Tổng đài 1022\n");
    write_file(installed, "footer.partial.html", "<b>1022</b>");

    g_autofree char *ours = plain_of(f->dir, installed, "p");
    g_assert_cmpstr(ours, ==, "Lời của tỉnh.\r\nTổng đài 1022\r\n");
    g_autofree char *added = plain_of(f->dir, installed, "q");
    g_assert_cmpstr(added, ==, "Thư mới.\r\nTổng đài 1022\r\n");
    g_autoptr(GError) error = NULL;
    g_assert_true(letter_check(f->dir, installed, "q", &error));
    g_assert_no_error(error);

    /* a pair is never half the province's and half the package's */
    g_autofree char *half_html = g_build_filename(f->dir, "half.html", NULL);
    g_assert_false(letter_check(f->dir, installed, "half", &error));
    g_assert_nonnull(strstr(error->message, half_html));
    g_clear_error(&error);
    /* without the installed folder, what is missing is named where it was looked for */
    g_autofree char *q = g_build_filename(f->dir, "q.txt", NULL);
    g_assert_false(letter_check(f->dir, NULL, "q", &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, q));
    g_clear_error(&error);
    g_autofree char *footer = g_build_filename(f->dir, "footer.partial.txt", NULL);
    g_assert_false(letter_check(f->dir, NULL, "p", &error));
    g_assert_nonnull(strstr(error->message, footer));

    fs_remove_tree(installed);
}

/* the plain text of kind p composed now */
static char *compose_plain(Fixture *f)
{
    return plain_of(f->dir, NULL, "p");
}

/* Templates are read and parsed once and kept (issue 18), but an operator's edit reaches the
 * next letter: a file renamed into place, and one written over in place with the same size
 * and its old mtime put back (an editor or a copy that keeps times): its ctime tells. */
static void test_edited_templates_reach_the_next_letter(Fixture *f, gconstpointer data)
{
    write_file(f->dir, "p.txt", "Subject: x\n\nA {{> footer}}\n");
    write_file(f->dir, "p.html", "<p>{{> footer}}</p>\n");
    write_file(f->dir, "footer.partial.txt", "Tổng đài 1022");
    write_file(f->dir, "footer.partial.html", "1022");
    g_autofree char *first = compose_plain(f);
    g_assert_cmpstr(first, ==, "A Tổng đài 1022\r\n");
    g_autofree char *again = compose_plain(f);
    g_assert_cmpstr(again, ==, first);

    write_file(f->dir, "p.txt", "Subject: x\n\nB {{> footer}}\n"); /* renamed into place */
    g_autofree char *renamed = compose_plain(f);
    g_assert_cmpstr(renamed, ==, "B Tổng đài 1022\r\n");

    g_autofree char *partial = g_build_filename(f->dir, "footer.partial.txt", NULL);
    struct stat before;
    g_assert_cmpint(stat(partial, &before), ==, 0);
    FILE *file = fopen(partial, "r+");
    g_assert_nonnull(file);
    g_assert_cmpint(fseek(file, -4, SEEK_END), ==, 0);
    g_assert_cmpint(fputs("1033", file), >=, 0);
    g_assert_cmpint(fclose(file), ==, 0);
    struct timespec times[2] = {before.st_atim, before.st_mtim};
    g_assert_cmpint(utimensat(AT_FDCWD, partial, times, 0), ==, 0);
    g_autofree char *in_place = compose_plain(f);
    g_assert_cmpstr(in_place, ==, "B Tổng đài 1033\r\n");
}

static void test_bad_sender_configuration(Fixture *f, gconstpointer data)
{
    JsonNode *context = context_with_subject("x");
    LetterSpec spec = base_spec(f->dir, context);
    spec.from_address = "paht@soctrang.gov.vn, other@x.example";
    g_autoptr(GError) error = NULL;
    g_assert_null(letter_compose(&spec, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    spec = base_spec(f->dir, context);
    spec.reply_to = "IOC <paht@soctrang.gov.vn>";
    g_autoptr(GError) error2 = NULL;
    g_assert_null(letter_compose(&spec, &error2));
    g_assert_error(error2, PAHT_ERROR, PAHT_ERROR_CONFIG);
    json_node_unref(context);
}

/* ---- the shipped acknowledgement ------------------------------------------------------------- */

static JsonNode *ack_context(gboolean with_name, gboolean with_deadline, const char *subject)
{
    g_autofree char *json = g_strdup_printf(
        "{\"gateway\": {\"name\": \"Trung tâm IOC tỉnh Sóc Trăng\", \"place\": \"Sóc Trăng\", "
        "\"email\": \"paht@soctrang.gov.vn\", \"portal\": \"https://paht.soctrang.gov.vn\", "
        "\"hotline\": \"1022\", \"app\": \"Công dân Sóc Trăng\"},"
        " \"today\": \"ngày 28 tháng 11 năm 2026\","
        " \"report\": {\"code\": \"" REPORT_CODE "\", \"subject\": \"%s\","
        " \"received_at\": \"08:15 ngày 28/11/2026\", \"attachment_count\": 2,"
        " \"attachments\": [{\"filename\": \"anh1.jpg\", \"kind\": \"image\"},"
        " {\"filename\": \"<video>.mp4\", \"kind\": \"video\"}]},"
        " \"citizen\": {%s\"email\": \"nguyen.van.a@example.test\"}%s}",
        subject, with_name ? "\"name\": \"Nguyễn Văn A\", " : "",
        with_deadline ? ", \"deadline\": {\"assign\": \"11:15 ngày 30/11/2026\"}" : "");
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    g_assert_true(json_parser_load_from_data(parser, json, -1, &error));
    return json_node_copy(json_parser_get_root(parser));
}

static Letter *compose_ack(const char *dir, JsonNode *context, GMimeMessage **message_out)
{
    LetterSpec spec = base_spec(dir, context);
    spec.kind = "ack";
    g_autoptr(GError) error = NULL;
    Letter *letter = letter_compose(&spec, &error);
    g_assert_no_error(error);
    assert_wire_format(letter);
    *message_out = parse_letter(letter);
    return letter;
}

/* the templates/ of this tree: CTest names it; without it the test fails, it never skips */
static const char *shipped_templates_dir(void)
{
    const char *dir = g_getenv("PAHT_TEMPLATES_DIR");
    if (!dir || !g_file_test(dir, G_FILE_TEST_IS_DIR))
        g_error("PAHT_TEMPLATES_DIR (%s) is not the templates folder: run through CTest",
                dir ? dir : "unset");
    return dir;
}

static void test_shipped_ack_letter(void)
{
    const char *dir = shipped_templates_dir();
    JsonNode *context = ack_context(TRUE, TRUE, "Đèn đường hỏng ở đường Lê Lợi");
    g_autoptr(GMimeMessage) message = NULL;
    g_autoptr(Letter) letter = compose_ack(dir, context, &message);
    g_assert_cmpstr(g_mime_message_get_subject(message), ==,
                    "[" REPORT_CODE "] Đã tiếp nhận phản ánh: Đèn đường hỏng ở đường Lê Lợi");
    g_autofree char *wire = part_text(message, "plain");
    g_autofree char *text = fixture_unflow(wire); /* as a reader shows it */
    g_autofree char *html = part_text(message, "html");
    static const char *const both[] = {
        REPORT_CODE,
        "Nguyễn Văn A",
        "08:15 ngày 28/11/2026",
        "2 tệp",
        "anh1.jpg",
        "04 giờ làm việc",
        "11:15 ngày 30/11/2026",
        "06 ngày làm việc",
        "khoản 3 Điều 7",
        "khoản 1 Điều 8",
        "khoản 3 Điều 9",
        "khoản 2 Điều 6",
        "khoản 5 Điều 4",
        "giữ bí mật",
        "https://paht.soctrang.gov.vn",
        "Công dân Sóc Trăng",
        "Tổng đài 1022",
        "không phải kênh tiếp nhận phản ánh khẩn cấp",
        "Thư này được gửi tự động",
        "trả lời thư này",
        "Sóc Trăng, ngày 28 tháng 11 năm 2026",
        "Trung tâm IOC tỉnh Sóc Trăng",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(both); i++) {
        if (!strstr(text, both[i]))
            g_error("the text letter lacks \"%s\"", both[i]);
        if (!strstr(html, both[i]))
            g_error("the HTML letter lacks \"%s\"", both[i]);
    }
    g_assert_nonnull(strstr(text, "Kính gửi Ông/Bà Nguyễn Văn A,"));
    g_assert_nonnull(strstr(text, "<video>.mp4"));
    g_assert_nonnull(strstr(html, "&lt;video&gt;.mp4"));
    g_assert_null(strstr(html, "<video>"));
    /* every tag was understood; no external resources, no scripts */
    g_assert_null(strstr(text, "{{"));
    g_assert_null(strstr(html, "{{"));
    g_assert_null(strstr(html, "<script"));
    g_assert_null(strstr(html, "src="));
    g_assert_null(strstr(html, "<link"));
    g_assert_null(strstr(html, "url("));
    /* no blank-line runs left by section tags */
    g_assert_null(strstr(text, "\n\n\n\n"));
    g_autofree char *nfc = g_utf8_normalize(text, -1, G_NORMALIZE_NFC);
    g_assert_cmpstr(nfc, ==, text);
    json_node_unref(context);
}

static void test_shipped_ack_without_name_or_deadline(void)
{
    const char *dir = shipped_templates_dir();
    JsonNode *context = ack_context(FALSE, FALSE, "Rác <b>thải</b>");
    g_autoptr(GMimeMessage) message = NULL;
    g_autoptr(Letter) letter = compose_ack(dir, context, &message);
    g_autofree char *wire = part_text(message, "plain");
    g_autofree char *text = fixture_unflow(wire); /* as a reader shows it */
    g_autofree char *html = part_text(message, "html");
    g_assert_nonnull(strstr(text, "Kính gửi Quý ông/bà,"));
    g_assert_nonnull(strstr(html, "Kính gửi Quý ông/bà,"));
    g_assert_null(strstr(text, "Kính gửi Ông/Bà"));
    g_assert_null(strstr(text, "chậm nhất"));
    g_assert_null(strstr(html, "chậm nhất"));
    g_assert_nonnull(strstr(html, "Rác &lt;b&gt;thải&lt;/b&gt;"));
    g_assert_cmpstr(g_mime_message_get_subject(message), ==,
                    "[" REPORT_CODE "] Đã tiếp nhận phản ánh: Rác <b>thải</b>");
    json_node_unref(context);
}

/* ---- format=flowed (RFC 3676) ---------------------------------------------------------------- */

/* issue 16: the statistics digest carries its CSV: multipart/mixed, the letter first, the file
 * after it, base64 and byte for byte as given (its byte order mark too) */
static void test_letter_carries_an_attachment(void)
{
    const char *dir = g_getenv("PAHT_TEMPLATES_DIR");
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *context = fixture_source_path("tests/unit/letter_context.json");
    g_assert_true(json_parser_load_from_file(parser, context, &error));
    static const char csv[] = "\xEF\xBB\xBFMã cơ quan,Cơ quan\r\nxd,Sở Xây dựng\r\n";
    g_autoptr(GBytes) data = g_bytes_new_static(csv, sizeof csv - 1);
    LetterAttachment file = {"thong-ke.csv", "text/csv; charset=utf-8", data};
    LetterSpec spec = base_spec(dir, json_parser_get_root(parser));
    spec.kind = "stats_digest";
    spec.attachments = &file;
    spec.n_attachments = 1;
    g_autoptr(Letter) letter = letter_compose(&spec, &error);
    g_assert_no_error(error);
    g_autoptr(GMimeStream) stream = g_mime_stream_mem_new_with_buffer(
        g_bytes_get_data(letter->message, NULL), g_bytes_get_size(letter->message));
    g_autoptr(GMimeParser) mime = g_mime_parser_new_with_stream(stream);
    g_autoptr(GMimeMessage) message = g_mime_parser_construct_message(mime, NULL);
    GMimeObject *top = g_mime_message_get_mime_part(message);
    g_assert_true(
        g_mime_content_type_is_type(g_mime_object_get_content_type(top), "multipart", "mixed"));
    GMimeMultipart *mixed = GMIME_MULTIPART(top);
    g_assert_cmpint(g_mime_multipart_get_count(mixed), ==, 2);
    g_assert_true(g_mime_content_type_is_type(
        g_mime_object_get_content_type(g_mime_multipart_get_part(mixed, 0)), "multipart",
        "alternative"));
    GMimePart *part = GMIME_PART(g_mime_multipart_get_part(mixed, 1));
    g_assert_cmpstr(g_mime_part_get_filename(part), ==, "thong-ke.csv");
    g_assert_cmpint(g_mime_part_get_content_encoding(part), ==, GMIME_CONTENT_ENCODING_BASE64);
    g_autoptr(GMimeStream) out = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(g_mime_part_get_content(part), out);
    GByteArray *decoded = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
    g_assert_cmpmem(decoded->data, decoded->len, csv, sizeof csv - 1);
    g_assert_nonnull(strstr(letter->subject, "quý IV/2026"));
}

/* the rules of RFC 3676 one by one: soft breaks after a space, space-stuffing, no trailing
 * space on a hard line, a word longer than a line left whole */
static void test_flowed_lines(Fixture *f, gconstpointer data)
{
    write_file(f->dir, "t.txt", "Subject: x\n\n{{{report.subject}}}");
    const char *text =
        "Một đoạn văn dài: đèn đường trước nhà số 12 Lê Lợi bị hỏng hơn một tuần nay, buổi "
        "tối rất tối và nguy hiểm cho người đi đường.\n"
        ">>> XIN GỌI NGAY TỔNG ĐÀI 1022 <<<\n"
        "From here on\n"
        "    Mã phản ánh:        PAHT-2026-000123\n"
        "Họ và tên: \n"
        "https://maps.google.com/"
        "?q=9.6031,105.9802&z=17&layer=traffic&data=abcdefghijklmnopqrstuvwxyz0123456789\n"
        "a                                                                                  b\n";
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "report");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "subject");
    json_builder_add_string_value(b, text);
    json_builder_end_object(b);
    json_builder_end_object(b);
    g_autoptr(JsonNode) context = json_builder_get_root(b);
    LetterSpec spec = base_spec(f->dir, context);
    g_autoptr(GError) error = NULL;
    g_autoptr(Letter) letter = letter_compose(&spec, &error);
    g_assert_no_error(error);
    g_autoptr(GMimeMessage) message = parse_letter(letter);
    g_autofree char *wire = fixture_plain_wire_text(message);
    /* quoted-looking, "From " and indented lines are stuffed; the fill-in line loses the
     * space that would make it flow into the next */
    g_assert_nonnull(strstr(wire, "\r\n >>> XIN GỌI NGAY TỔNG ĐÀI 1022 <<<\r\n"));
    g_assert_nonnull(strstr(wire, "\r\n From here on\r\n"));
    g_assert_nonnull(strstr(wire, "\r\n     Mã phản ánh:        PAHT-2026-000123\r\n"));
    g_assert_nonnull(strstr(wire, "\r\nHọ và tên:\r\n"));
    /* the paragraph is cut after spaces, each piece ending in the space that joins it */
    g_assert_true(g_str_has_prefix(wire, "Một đoạn văn dài: đèn đường trước nhà số 12 "));
    g_assert_nonnull(strstr(wire, " \r\n"));
    /* a word longer than a line is not cut */
    g_assert_nonnull(strstr(wire, "\r\nhttps://maps.google.com/?q=9.6031,105.9802&z=17&layer="));
    g_autofree char *read = fixture_unflow(wire);
    g_autofree char *expected = fixture_without_trailing_spaces(text);
    if (!g_str_equal(read, expected))
        g_error("does not reflow:\n--- wire\n%s--- read\n%s--- expected\n%s", wire, read, expected);
    g_assert_cmpstr(letter->text, ==, text);
}

/* the letter made from write_subject_templates' templates (its plain text and its HTML are
 * {{{report.subject}}} alone) for this subject, parsed back by GMime */
static GMimeMessage *compose_subject_letter(Fixture *f, const char *subject)
{
    g_autoptr(JsonNode) context = context_with_subject(subject);
    LetterSpec spec = base_spec(f->dir, context);
    g_autoptr(GError) error = NULL;
    g_autoptr(Letter) letter = letter_compose(&spec, &error);
    g_assert_no_error(error);
    return parse_letter(letter);
}

static void write_subject_templates(Fixture *f)
{
    write_file(f->dir, "t.txt", "Subject: x\n\n{{{report.subject}}}");
    write_file(f->dir, "t.html", "{{{report.subject}}}");
}

/* Each text part's transfer encoding is the one GMime's g_mime_object_encode would choose for
 * its content (letter.c decides it in its own pass): 7bit, quoted-printable for a few octets
 * above 127 or a line starting "From ", base64 from 17 % of such octets on */
static void test_transfer_encoding_as_gmime_chooses(Fixture *f, gconstpointer data)
{
    GPtrArray *texts = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(texts, g_strdup("Plain ASCII, nothing else.\n"));
    g_ptr_array_add(texts, g_strdup("Đèn đường hỏng trước nhà số 12 Lê Lợi, phường 3.\n"));
    g_ptr_array_add(texts, g_strdup("<p>Report received.</p>\nFrom the IOC of Soc Trang\n"));
    /* the share of octets above 127 on both sides of 17 % */
    for (int k = 0; k <= 30; k++) {
        GString *t = g_string_new(NULL);
        for (int i = 0; i < 60; i++)
            g_string_append_c(t, 'a' + i % 26);
        for (int i = 0; i < k; i++)
            g_string_append(t, "é");
        g_string_append_c(t, '\n');
        g_ptr_array_add(texts, g_string_free(t, FALSE));
    }
    gboolean seen[GMIME_CONTENT_ENCODING_UUENCODE + 1] = {FALSE};
    write_subject_templates(f);
    for (guint i = 0; i < texts->len; i++) {
        const char *text = g_ptr_array_index(texts, i);
        g_autoptr(GMimeMessage) message = compose_subject_letter(f, text);
        GMimeMultipart *alternative = GMIME_MULTIPART(g_mime_message_get_mime_part(message));
        for (int k = 0; k < 2; k++) {
            GMimePart *part = GMIME_PART(g_mime_multipart_get_part(alternative, k));
            GMimeContentEncoding declared = g_mime_part_get_content_encoding(part);
            g_autoptr(GMimeStream) decoded = g_mime_stream_mem_new();
            g_mime_data_wrapper_write_to_stream(g_mime_part_get_content(part), decoded);
            GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(decoded));
            gboolean high = FALSE;
            for (guint b = 0; b < bytes->len; b++)
                high = high || bytes->data[b] >= 0x80;
            /* the same content in a part of GMime's own, encoded by GMime */
            g_autoptr(GMimeStream) copy =
                g_mime_stream_mem_new_with_buffer((const char *)bytes->data, bytes->len);
            GMimeDataWrapper *wrapper =
                g_mime_data_wrapper_new_with_stream(copy, GMIME_CONTENT_ENCODING_DEFAULT);
            GMimePart *theirs = g_mime_part_new_with_type("text", "plain");
            g_mime_part_set_content(theirs, wrapper);
            g_object_unref(wrapper);
            g_mime_part_set_content_encoding(theirs, high ? GMIME_CONTENT_ENCODING_8BIT
                                                          : GMIME_CONTENT_ENCODING_7BIT);
            g_mime_object_encode(GMIME_OBJECT(theirs), GMIME_ENCODING_CONSTRAINT_7BIT);
            GMimeContentEncoding chosen = g_mime_part_get_content_encoding(theirs);
            g_object_unref(theirs);
            if (declared != chosen)
                g_error("part %d of \"%s\": %s, GMime chooses %s", k, text,
                        g_mime_content_encoding_to_string(declared),
                        g_mime_content_encoding_to_string(chosen));
            seen[declared] = TRUE;
        }
    }
    g_ptr_array_unref(texts);
    g_assert_true(seen[GMIME_CONTENT_ENCODING_7BIT]);
    g_assert_true(seen[GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE]);
    g_assert_true(seen[GMIME_CONTENT_ENCODING_BASE64]);
}

/* A base64 part (letter.c encodes it itself, util/base64.c) is on the wire exactly as GMime's
 * encoder writes its content, line ends aside: texts whose parts end on each side of a line's
 * 57 octets, empty and several lines long */
static void test_base64_parts_as_gmime_encodes(Fixture *f, gconstpointer data)
{
    write_subject_templates(f);
    int parts_seen = 0, full_last_lines = 0;
    for (int k = 0; k <= 120; k++) {
        GString *text = g_string_new(NULL);
        for (int i = 0; i < k; i++)
            g_string_append(text, i % 7 ? "ộ" : "ư"); /* no spaces: the flowed text stays whole */
        g_autoptr(GMimeMessage) message = compose_subject_letter(f, text->str);
        g_string_free(text, TRUE);
        GMimeMultipart *alternative = GMIME_MULTIPART(g_mime_message_get_mime_part(message));
        for (int p = 0; p < 2; p++) {
            GMimePart *part = GMIME_PART(g_mime_multipart_get_part(alternative, p));
            if (g_mime_part_get_content_encoding(part) != GMIME_CONTENT_ENCODING_BASE64)
                continue;
            GMimeDataWrapper *content = g_mime_part_get_content(part);
            /* the wire text, CRLF made LF */
            GMimeStream *raw = g_mime_data_wrapper_get_stream(content);
            g_autoptr(GMimeStream) wire = g_mime_stream_mem_new();
            g_mime_stream_reset(raw);
            g_mime_stream_write_to_stream(raw, wire);
            GByteArray *w = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(wire));
            g_autofree char *wire_text = g_strndup((const char *)w->data, w->len);
            g_auto(GStrv) lines = g_strsplit(wire_text, "\r\n", -1);
            g_autofree char *ours = g_strjoinv("\n", lines);
            /* what GMime's encoder makes of the decoded content */
            g_autoptr(GMimeStream) decoded = g_mime_stream_mem_new();
            g_mime_data_wrapper_write_to_stream(content, decoded);
            GByteArray *d = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(decoded));
            g_autofree guchar *theirs = g_malloc(d->len / 3 * 4 + d->len / 57 + 16);
            int state = 0;
            guint32 save = 0;
            gsize n = g_mime_encoding_base64_encode_close(d->data, d->len, theirs, &state, &save);
            if (strlen(ours) != n || memcmp(ours, theirs, n) != 0)
                g_error("part %d of %d letters: on the wire\n%s\nGMime encodes\n%.*s", p, k, ours,
                        (int)n, theirs);
            parts_seen++;
            full_last_lines += d->len % 57 == 0;
        }
    }
    g_assert_cmpint(parts_seen, >, 200);
    g_assert_cmpint(full_last_lines, >, 0); /* the case where GLib's encoder differs */
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C.UTF-8"); /* failures quote Vietnamese */
    g_test_init(&argc, &argv, NULL);
    g_mime_init();
    g_test_add("/notify/letter/headers_and_bodies", Fixture, NULL, fixture_set_up,
               test_headers_and_bodies, fixture_tear_down);
    g_test_add("/notify/letter/base64_parts_as_gmime_encodes", Fixture, NULL, fixture_set_up,
               test_base64_parts_as_gmime_encodes, fixture_tear_down);
    g_test_add("/notify/letter/threading_headers", Fixture, NULL, fixture_set_up,
               test_threading_headers, fixture_tear_down);
    g_test_add("/notify/letter/long_references_are_trimmed", Fixture, NULL, fixture_set_up,
               test_long_references_are_trimmed, fixture_tear_down);
    g_test_add("/notify/letter/crlf_in_names_and_subject_adds_nothing", Fixture, NULL,
               fixture_set_up, test_crlf_in_names_and_subject_adds_nothing, fixture_tear_down);
    g_test_add("/notify/letter/encoded_crlf_in_name_adds_nothing", Fixture, NULL, fixture_set_up,
               test_encoded_crlf_in_name_adds_nothing, fixture_tear_down);
    g_test_add("/notify/letter/bad_recipient_addresses_are_refused", Fixture, NULL, fixture_set_up,
               test_bad_recipient_addresses_are_refused, fixture_tear_down);
    g_test_add("/notify/letter/html_part_escapes_citizen_text", Fixture, NULL, fixture_set_up,
               test_html_part_escapes_citizen_text, fixture_tear_down);
    g_test_add("/notify/letter/missing_or_broken_templates", Fixture, NULL, fixture_set_up,
               test_missing_or_broken_templates, fixture_tear_down);
    g_test_add("/notify/letter/partials_and_windows_line_ends", Fixture, NULL, fixture_set_up,
               test_partials_and_windows_line_ends, fixture_tear_down);
    g_test_add("/notify/letter/missing_files_come_from_the_installed_folder", Fixture, NULL,
               fixture_set_up, test_missing_files_come_from_the_installed_folder,
               fixture_tear_down);
    g_test_add("/notify/letter/edited_templates_reach_the_next_letter", Fixture, NULL,
               fixture_set_up, test_edited_templates_reach_the_next_letter, fixture_tear_down);
    g_test_add("/notify/letter/bad_sender_configuration", Fixture, NULL, fixture_set_up,
               test_bad_sender_configuration, fixture_tear_down);
    g_test_add_func("/notify/letter/shipped_ack_letter", test_shipped_ack_letter);
    g_test_add_func("/notify/letter/carries_an_attachment", test_letter_carries_an_attachment);
    g_test_add("/notify/letter/flowed_lines", Fixture, NULL, fixture_set_up, test_flowed_lines,
               fixture_tear_down);
    g_test_add_func("/notify/letter/shipped_ack_without_name_or_deadline",
                    test_shipped_ack_without_name_or_deadline);
    g_test_add("/notify/letter/transfer_encoding_as_gmime_chooses", Fixture, NULL, fixture_set_up,
               test_transfer_encoding_as_gmime_chooses, fixture_tear_down);
    return g_test_run();
}
