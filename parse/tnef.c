/* parse: Outlook's winmail.dat (application/ms-tnef) unpacked with libytnef.
 *
 * Outlook with "Rich Text" format wraps the attachments (and sometimes the body) of a mail in
 * one TNEF file; the citizen's photos are inside. libytnef reads it, but it trusts lengths
 * from the file at its top level and prints diagnostics on stdout (which would corrupt
 * `pahtctl ingest --json`). So we check the attribute framing ourselves first (MS-OXTNEF
 * §2.1.3: signature, key, then level/id/length/data/checksum records, each checksum the sum of
 * the data bytes), parse from memory, and send stdout to /dev/null for the duration of the
 * call. When anything is wrong the winmail.dat stays an ordinary attachment. */
#include "parse/parse_private.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ytnef.h>

#include "util/util.h"

#define TNEF_SIGNATURE 0x223E9F78u

gboolean part_is_tnef(GMimePart *part)
{
    GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
    if (ct && (g_mime_content_type_is_type(ct, "application", "ms-tnef") ||
               g_mime_content_type_is_type(ct, "application", "vnd.ms-tnef")))
        return TRUE;
    const char *name = g_mime_part_get_filename(part);
    return name && g_ascii_strcasecmp(name, "winmail.dat") == 0;
}

static guint32 read32(const guchar *p)
{
    return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 | (guint32)p[3] << 24;
}

static gboolean tnef_well_formed(const guchar *data, gsize len)
{
    if (len < 6 || read32(data) != TNEF_SIGNATURE)
        return FALSE;
    gsize p = 6; /* signature, legacy key */
    while (p < len) {
        if (len - p < 9)
            return FALSE;
        guint8 level = data[p];
        if (level != 1 && level != 2)
            return FALSE;
        gsize length = read32(data + p + 5);
        p += 9;
        if (length == 0 || length > len - p || len - p - length < 2)
            return FALSE;
        guint16 sum = 0;
        for (gsize i = 0; i < length; i++)
            sum = (guint16)(sum + data[p + i]);
        guint16 stored = (guint16)(data[p + length] | data[p + length + 1] << 8);
        if (sum != stored)
            return FALSE;
        p += length + 2;
    }
    return TRUE;
}

/* libytnef prints on stdout even with Debug 0; stdout may carry JSON for a caller */
static int stdout_silence(void)
{
    fflush(stdout);
    int saved = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved >= 0 && null >= 0)
        dup2(null, STDOUT_FILENO);
    if (null >= 0)
        close(null);
    return saved;
}

static void stdout_restore(int saved)
{
    fflush(stdout);
    if (saved >= 0) {
        dup2(saved, STDOUT_FILENO);
        close(saved);
    }
}

static char *codepage_charset(const TNEFStruct *tnef)
{
    if (tnef->CodePage.size < 4 || !tnef->CodePage.data)
        return NULL;
    guint32 cp = read32(tnef->CodePage.data);
    switch (cp) {
    case 0:
        return NULL;
    case 65001:
        return g_strdup("utf-8");
    case 20127:
        return g_strdup("us-ascii");
    case 28591:
        return g_strdup("iso-8859-1");
    default:
        return g_strdup_printf("windows-%u", cp);
    }
}

/* a MAPI string property as UTF-8: Unicode ones libytnef already converted, 8-bit ones are in
 * the message's code page */
static char *mapi_string(ParseContext *ctx, MAPIProps *props, guint32 id, const char *charset)
{
    variableLength *v = MAPIFindProperty(props, PROP_TAG(PT_UNICODE, id));
    if (v != MAPI_UNDEFINED && v->data && v->size > 0) {
        /* libytnef left the UTF-16 size; its UTF-8 copy is NUL-terminated within 3/2 of it */
        gsize n = strnlen((const char *)v->data, (gsize)v->size * 3 / 2 + 1);
        return g_utf8_make_valid((const char *)v->data, (gssize)n);
    }
    v = MAPIFindProperty(props, PROP_TAG(PT_STRING8, id));
    if (v != MAPI_UNDEFINED && v->data && v->size > 0) {
        gsize n = strnlen((const char *)v->data, (gsize)v->size);
        return charset_to_utf8(ctx, (const char *)v->data, n, charset);
    }
    return NULL;
}

static char *tnef_body(ParseContext *ctx, TNEFStruct *tnef, const char *charset)
{
    if (tnef->body.size > 0 && tnef->body.data) {
        gsize n = strnlen((const char *)tnef->body.data, (gsize)tnef->body.size);
        g_autofree char *utf8 = charset_to_utf8(ctx, (const char *)tnef->body.data, n, charset);
        return text_normalise(utf8, -1);
    }
    g_autofree char *plain = mapi_string(ctx, &tnef->MapiProperties, PR_BODY, charset);
    if (plain && *plain)
        return text_normalise(plain, -1);
    variableLength *html =
        MAPIFindProperty(&tnef->MapiProperties, PROP_TAG(PT_BINARY, PR_BODY_HTML));
    if (html == MAPI_UNDEFINED)
        html = MAPIFindProperty(&tnef->MapiProperties, PROP_TAG(PT_STRING8, PR_BODY_HTML));
    if (html != MAPI_UNDEFINED && html->data && html->size > 0) {
        g_autofree char *utf8 =
            charset_to_utf8(ctx, (const char *)html->data, (gsize)html->size, charset);
        char *quoted = NULL;
        g_autofree char *text = html_to_text(utf8, strlen(utf8), FALSE, &quoted);
        g_free(quoted);
        return text_normalise(text, -1);
    }
    return NULL;
}

gboolean tnef_unpack(ParseContext *ctx, GMimePart *part, char **body_out, GError **error)
{
    *body_out = NULL;
    GError *local = NULL;
    GByteArray *bytes = part_decode_to_bytes(part, PARSE_MAX_TNEF_BYTES, &local);
    if (!bytes) {
        if (local->code == PAHT_ERROR_INPUT) {
            parse_warn(ctx, "winmail.dat larger than %d MB kept unopened",
                       PARSE_MAX_TNEF_BYTES / (1024 * 1024));
            g_error_free(local);
            return FALSE;
        }
        g_propagate_error(error, local);
        return FALSE;
    }
    if (!tnef_well_formed(bytes->data, bytes->len)) {
        parse_warn(ctx, "winmail.dat is not a readable TNEF file; kept as it is");
        g_byte_array_unref(bytes);
        return FALSE;
    }
    TNEFStruct tnef;
    memset(&tnef, 0, sizeof tnef);
    TNEFInitialize(&tnef);
    tnef.Debug = 0;
    int saved = stdout_silence();
    int rc = TNEFParseMemory(bytes->data, (long)bytes->len, &tnef);
    stdout_restore(saved);
    if (rc < 0) {
        parse_warn(ctx, "winmail.dat could not be unpacked; kept as it is");
        TNEFFree(&tnef);
        g_byte_array_unref(bytes);
        return FALSE;
    }

    g_autofree char *charset = codepage_charset(&tnef);
    gboolean ok = TRUE;
    guint unpacked = 0;
    for (Attachment *a = tnef.starting_attach.next; a && ok; a = a->next) {
        const guchar *data = a->FileData.data;
        gsize size = a->FileData.size > 0 ? (gsize)a->FileData.size : 0;
        if (!data || size == 0) {
            variableLength *obj =
                MAPIFindProperty(&a->MAPI, PROP_TAG(PT_BINARY, PR_ATTACH_DATA_OBJ));
            if (obj == MAPI_UNDEFINED || !obj->data || obj->size <= 0)
                continue;
            data = obj->data;
            size = (gsize)obj->size;
        }
        g_autofree char *name = mapi_string(ctx, &a->MAPI, PR_ATTACH_LONG_FILENAME, charset);
        if (!name && a->Title.data && a->Title.size > 0)
            name = charset_to_utf8(ctx, (const char *)a->Title.data,
                                   strnlen((const char *)a->Title.data, (gsize)a->Title.size),
                                   charset);
        g_autofree char *mime = mapi_string(ctx, &a->MAPI, PR_ATTACH_MIME_TAG, charset);
        ok = attachment_add_bytes(ctx, data, size, name, mime, error);
        unpacked++;
    }
    if (ok)
        *body_out = tnef_body(ctx, &tnef, charset);
    TNEFFree(&tnef);
    g_byte_array_unref(bytes);
    if (ok && unpacked == 0 && !*body_out)
        parse_warn(ctx, "winmail.dat holds no attachments");
    return ok;
}
