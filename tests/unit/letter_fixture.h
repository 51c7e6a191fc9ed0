/* The letters the outbox holds, read back as their readers get them, for the tests of what
 * the gateway writes (tests/unit/test_{letters,gateway}_*.c). Static functions: include it from
 * the test program that uses it (after g_mime_init). */
#ifndef PAHT_TESTS_LETTER_FIXTURE_H
#define PAHT_TESTS_LETTER_FIXTURE_H

#include "notify/notify.h"
#include "queue/queue.h"

#include <glib.h>
#include <gmime/gmime.h>

/* GMime 3.2 defines no g_autoptr cleanup for its types */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeMessage, g_object_unref)

/* a letter's bytes (RFC 5322), parsed */
static inline GMimeMessage *fixture_letter_parse(GBytes *bytes)
{
    gsize len = 0;
    const char *data = g_bytes_get_data(bytes, &len);
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    g_object_unref(stream);
    g_assert_nonnull(msg);
    return msg;
}

/* letter outbox_id of store, parsed */
static inline GMimeMessage *fixture_letter(Store *store, gint64 outbox_id)
{
    GError *error = NULL;
    g_autoptr(GBytes) bytes = outbox_message(store, outbox_id, &error);
    g_assert_no_error(error);
    g_assert_nonnull(bytes);
    return fixture_letter_parse(bytes);
}

/* the text of the letter's first text/SUBTYPE part; the plain one as a reader shows it
 * (format=flowed joined, LF line ends) */
static inline char *fixture_letter_part(GMimeMessage *msg, const char *subtype)
{
    GMimeObject *body = g_mime_message_get_body(msg);
    g_assert_true(GMIME_IS_MULTIPART(body));
    for (int i = 0; i < g_mime_multipart_get_count(GMIME_MULTIPART(body)); i++) {
        GMimeObject *part = g_mime_multipart_get_part(GMIME_MULTIPART(body), i);
        if (!g_mime_content_type_is_type(g_mime_object_get_content_type(part), "text", subtype))
            continue;
        g_autofree char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
        return g_str_equal(subtype, "plain") ? letter_text_reflowed(text) : g_strdup(text);
    }
    g_assert_not_reached();
    return NULL;
}

/* its plain text, as a reader shows it */
static inline char *fixture_letter_plain(GMimeMessage *msg)
{
    return fixture_letter_part(msg, "plain");
}

#endif
