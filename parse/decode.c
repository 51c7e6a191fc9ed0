/* parse: streaming the decoded content of a MIME part.
 *
 * GMime bug #150 (3.2.13): its base64 decoder stops at '=' padding in the middle of the data.
 * Some senders (and some forwarding gateways) encode a file in pieces, each padded, and
 * concatenate the pieces: "Vkk=\r\nUlVTISE=" is "VI" + "RUS!!", GMime gives "VI". GLib's
 * g_base64_decode_step handles padding per 4-character group, so we read the encoded bytes
 * from the part's stream and decode them the way GLib does (util's base64_decode_step, the
 * same output several times faster: photos are most of the bytes we read). Quoted-printable and
 * uuencode keep GMime's decoders (g_mime_filter_basic), driven chunk by chunk the way
 * g_mime_data_wrapper_write_to_stream does. Either way the content is streamed from the
 * message file: never more than one chunk in memory. */
#include "parse/parse_private.h"

#include "util/util.h"

#define CHUNK 65536

gint64 part_encoded_length(GMimePart *part)
{
    GMimeDataWrapper *wrapper = g_mime_part_get_content(part);
    GMimeStream *stream = wrapper ? g_mime_data_wrapper_get_stream(wrapper) : NULL;
    return stream ? g_mime_stream_length(stream) : 0;
}

gboolean part_decode(GMimePart *part, DecodeSink sink, gpointer user_data, GError **error)
{
    GMimeDataWrapper *wrapper = g_mime_part_get_content(part);
    GMimeStream *stream = wrapper ? g_mime_data_wrapper_get_stream(wrapper) : NULL;
    if (!stream)
        return TRUE; /* a part without content: nothing to decode */
    GMimeContentEncoding encoding = g_mime_data_wrapper_get_encoding(wrapper);
    GMimeFilter *filter = NULL;
    if (encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
        encoding == GMIME_CONTENT_ENCODING_UUENCODE)
        filter = g_mime_filter_basic_new(encoding, FALSE);
    gboolean base64 = encoding == GMIME_CONTENT_ENCODING_BASE64;

    if (g_mime_stream_reset(stream) != 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot read message content");
        g_clear_object(&filter);
        return FALSE;
    }
    char *in = g_malloc(CHUNK);
    guchar *decoded = base64 ? g_malloc(CHUNK / 4 * 3 + 3) : NULL;
    gint state = 0;
    guint save = 0;
    gboolean ok = TRUE;
    while (ok && !g_mime_stream_eos(stream)) {
        ssize_t n = g_mime_stream_read(stream, in, CHUNK);
        if (n < 0) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot read message content");
            ok = FALSE;
            break;
        }
        if (n == 0)
            break;
        if (base64) {
            gsize m = base64_decode_step(in, (gsize)n, decoded, &state, &save);
            ok = sink((const char *)decoded, m, user_data, error);
        } else if (filter) {
            char *out = NULL;
            size_t outlen = 0, outprespace = 0;
            g_mime_filter_filter(filter, in, (size_t)n, 0, &out, &outlen, &outprespace);
            ok = sink(out, outlen, user_data, error);
        } else {
            ok = sink(in, (gsize)n, user_data, error);
        }
    }
    if (ok && filter) {
        char *out = NULL;
        size_t outlen = 0, outprespace = 0;
        g_mime_filter_complete(filter, in, 0, 0, &out, &outlen, &outprespace);
        if (outlen > 0)
            ok = sink(out, outlen, user_data, error);
    }
    g_free(in);
    g_free(decoded);
    g_clear_object(&filter);
    return ok;
}

typedef struct {
    GByteArray *bytes;
    gsize limit;
} MemorySink;

static gboolean memory_sink(const char *data, gsize len, gpointer user_data, GError **error)
{
    MemorySink *m = user_data;
    if (m->bytes->len + len > m->limit) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "part larger than %zu bytes", m->limit);
        return FALSE;
    }
    g_byte_array_append(m->bytes, (const guint8 *)data, (guint)len);
    return TRUE;
}

GByteArray *part_decode_to_bytes(GMimePart *part, gsize limit, GError **error)
{
    MemorySink m = {g_byte_array_new(), limit};
    if (!part_decode(part, memory_sink, &m, error)) {
        g_byte_array_unref(m.bytes);
        return NULL;
    }
    return m.bytes;
}
