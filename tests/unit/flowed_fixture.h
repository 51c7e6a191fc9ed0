/* format=flowed (RFC 3676) read back as a mail reader does, for the tests of letters: the
 * composer's (test_notify_letter) and every shipped template's (test_letters_kinds). Static
 * functions: include it from the test program that uses it (after g_mime_init). */
#ifndef PAHT_TESTS_FLOWED_FIXTURE_H
#define PAHT_TESTS_FLOWED_FIXTURE_H

#include <glib.h>
#include <gmime/gmime.h>
#include <string.h>

/* RFC 3676 §4.2-4.4, as a reader does it: a space-stuffed line loses its first space; a line
 * that ends in a space flows into the next ("-- " is a signature separator, not a flow) */
static inline char *fixture_unflow(const char *wire)
{
    g_auto(GStrv) lines = g_strsplit(wire, "\r\n", -1);
    GString *out = g_string_new(NULL);
    for (int i = 0; lines[i]; i++) {
        if (!lines[i + 1] && !*lines[i])
            break; /* after the last CRLF */
        const char *line = lines[i][0] == ' ' ? lines[i] + 1 : lines[i];
        gsize len = strlen(line);
        gboolean soft = len > 0 && line[len - 1] == ' ' && !g_str_equal(line, "-- ");
        g_string_append(out, line);
        if (!soft)
            g_string_append_c(out, '\n');
    }
    return g_string_free(out, FALSE);
}

/* the text with each line's trailing spaces dropped: a hard line end cannot keep them
 * (RFC 3676 §4.2) */
static inline char *fixture_without_trailing_spaces(const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        if (!g_str_equal(lines[i], "-- ")) /* the signature separator keeps its space */
            g_strchomp(lines[i]);
    }
    return g_strjoinv("\n", lines);
}

/* the plain part as it is on the wire, after the transfer encoding: CRLF lines */
static inline char *fixture_plain_wire_text(GMimeMessage *message)
{
    GMimeObject *body = g_mime_message_get_body(message);
    GMimeObject *plain = g_mime_multipart_get_part(GMIME_MULTIPART(body), 0);
    GMimeContentType *type = g_mime_object_get_content_type(plain);
    g_assert_true(g_mime_content_type_is_type(type, "text", "plain"));
    GMimeDataWrapper *content = g_mime_part_get_content(GMIME_PART(plain));
    GMimeStream *stream = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(content, stream);
    GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
    char *wire = g_strndup((const char *)bytes->data, bytes->len);
    g_object_unref(stream);
    return wire;
}

/* A letter as composed (parsed back) and its text as rendered: no line over 78 octets (RFC
 * 5322 §2.1.1, RFC 3676 §4.2), and a flowed reader gets back the text, paragraph by paragraph.
 * what names the letter in a failure. */
static inline void fixture_assert_flowed(GMimeMessage *message, const char *rendered,
                                         const char *what)
{
    g_autofree char *wire = fixture_plain_wire_text(message);
    g_auto(GStrv) lines = g_strsplit(wire, "\r\n", -1);
    for (int i = 0; lines[i]; i++) {
        if (strlen(lines[i]) > 78)
            g_error("%s: a line of %zu octets:\n%s", what, strlen(lines[i]), lines[i]);
        if (strchr(lines[i], '\n') || strchr(lines[i], '\r'))
            g_error("%s: a bare line end in \"%s\"", what, lines[i]);
    }
    /* DelSp=no: the space before a soft break belongs to the text */
    GMimeObject *plain =
        g_mime_multipart_get_part(GMIME_MULTIPART(g_mime_message_get_body(message)), 0);
    GMimeContentType *type = g_mime_object_get_content_type(plain);
    g_assert_cmpstr(g_mime_content_type_get_parameter(type, "format"), ==, "flowed");
    g_assert_null(g_mime_content_type_get_parameter(type, "delsp"));
    g_autofree char *read = fixture_unflow(wire);
    g_autofree char *expected = fixture_without_trailing_spaces(rendered);
    if (!g_str_equal(read, expected))
        g_error("%s: the text does not reflow to what was written:\n--- written\n%s\n--- read\n%s",
                what, expected, read);
}

#endif
