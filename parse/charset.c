/* parse: text bytes in whatever charset the mail declares -> NFC UTF-8.
 *
 * Vietnamese mail arrives as UTF-8 (most), windows-1258 (Outlook: tones as combining marks
 * after the base letter, so the result must be NFC-normalised), VISCII (old software),
 * ISO-8859-1 (foreign clients), or with no charset at all. glibc's iconv converts CP1258 and
 * VISCII correctly; we call it directly rather than through g_mime_text_part_get_text, which
 * hands back the raw bytes when the charset is missing or unknown.
 *
 * Heuristics (SPEC §3.3):
 * - no charset, an unknown one, or 8-bit bytes labelled us-ascii: valid UTF-8 is UTF-8,
 *   anything else windows-1258 (the Vietnamese Windows code page, and an 8-bit charset that
 *   accepts almost every byte);
 * - declared windows-1258 but the bytes are valid UTF-8 with multi-byte sequences: UTF-8.
 *   Outlook labels UTF-8 replies this way. The reverse mistake is practically impossible:
 *   in CP1258, Vietnamese letters and the tone marks lie in 0xC0-0xFF, and UTF-8 needs every
 *   lead byte followed by continuation bytes 0x80-0xBF, which CP1258 uses for punctuation
 *   and symbols only; real CP1258 Vietnamese text is never valid UTF-8;
 * - the same for ISO-8859-1 and windows-1252 labels: Vietnamese cannot be written in them,
 *   and genuine Western text is valid UTF-8 only in the mojibake pairs ("Ã©") themselves;
 * - declared UTF-8 but not valid: if it has no valid multi-byte sequence at all it is 8-bit
 *   text (read as windows-1258); otherwise the bad bytes become U+FFFD;
 * - any other 8-bit charset (Big5, GB2312, KOI8-R ...) whose bytes are valid UTF-8 with
 *   multi-byte sequences: UTF-8, for the reason given for windows-1258 (a real text in those
 *   charsets is never valid UTF-8 beyond a character or two);
 * - labels are read as the superset every mail program really writes (the WHATWG Encoding
 *   Standard's choice): GB2312 and GBK as GB18030, EUC-KR as CP949, Shift_JIS as CP932,
 *   ISO-8859-1 as windows-1252; else text in the wider set becomes U+FFFD;
 * - 7-bit text is ASCII, except in the stateful 7-bit charsets (ISO-2022-JP/KR/CN, HZ), whose
 *   escape sequences must be decoded; 8-bit bytes under such a label are UTF-8 when valid,
 *   else the 8-bit sibling that reads them all (EUC-JP or Shift_JIS for ISO-2022-JP);
 * - 8-bit text without a charset: the charset the rest of the message declares (another part,
 *   the RFC 2047 words of its headers) when the bytes are valid in it, before windows-1258:
 *   a Portuguese mail's unlabelled "Formação" is ISO-8859-1, not "Formaçăo". */
#include "parse/parse_private.h"
#include "util/util.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>

typedef enum {
    FAMILY_NONE, /* missing or unknown: guess */
    FAMILY_UTF8,
    FAMILY_ASCII,
    FAMILY_CP1258,
    FAMILY_WESTERN, /* ISO-8859-1, windows-1252: mislabelled UTF-8 is common there too */
    FAMILY_WIDE,    /* UTF-16/32, UTF-7: not ASCII compatible, NUL bytes are data */
    FAMILY_SHIFTED, /* ISO-2022-*, HZ: 7-bit, with escape sequences to decode */
    FAMILY_OTHER,   /* anything iconv knows */
} CharsetFamily;

/* labels -> the superset senders really use (WHATWG Encoding Standard) */
static const struct {
    const char *label, *superset;
} supersets[] = {
    {"gb2312", "GB18030"},    {"gbk", "GB18030"},          {"x-gbk", "GB18030"},
    {"cp936", "GB18030"},     {"euc-cn", "GB18030"},       {"csgb2312", "GB18030"},
    {"chinese", "GB18030"},   {"ks_c_5601-1987", "CP949"}, {"ks_c_5601", "CP949"},
    {"euc-kr", "CP949"},      {"csksc56011987", "CP949"},  {"korean", "CP949"},
    {"shift_jis", "CP932"},   {"shift-jis", "CP932"},      {"sjis", "CP932"},
    {"x-sjis", "CP932"},      {"ms_kanji", "CP932"},       {"csshiftjis", "CP932"},
    {"iso-8859-1", "CP1252"}, {"iso8859-1", "CP1252"},     {"latin1", "CP1252"},
    {"l1", "CP1252"},         {"iso-8859-9", "CP1254"},    {"tis-620", "CP874"},
    {"iso-8859-11", "CP874"},
};

static char *superset_of(char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(supersets); i++) {
        if (strcmp(name, supersets[i].label) == 0) {
            g_free(name);
            return g_strdup(supersets[i].superset);
        }
    }
    return name;
}

/* "\"ISO-8859-1\" " -> "iso-8859-1" */
static char *charset_label(const char *declared)
{
    char *name = g_ascii_strdown(declared, -1);
    return g_strstrip(g_strdelimit(name, "\"'", ' '));
}

static CharsetFamily charset_family(const char *declared, char **name_out)
{
    *name_out = NULL;
    if (!declared)
        return FAMILY_NONE;
    g_autofree char *name = charset_label(declared);
    if (!*name)
        return FAMILY_NONE;
    static const char *const utf8[] = {"utf-8", "utf8", "unicode-1-1-utf-8", "x-unicode20utf8"};
    static const char *const ascii[] = {"us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us"};
    static const char *const cp1258[] = {"windows-1258", "cp1258", "x-cp1258", "cp-1258",
                                         "windows1258"};
    static const char *const unknown[] = {"unknown-8bit", "x-unknown", "x-user-defined",
                                          "unknown",      "default",   "8bit"};
    for (gsize i = 0; i < G_N_ELEMENTS(utf8); i++) {
        if (strcmp(name, utf8[i]) == 0)
            return FAMILY_UTF8;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(ascii); i++) {
        if (strcmp(name, ascii[i]) == 0)
            return FAMILY_ASCII;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(cp1258); i++) {
        if (strcmp(name, cp1258[i]) == 0)
            return FAMILY_CP1258;
    }
    static const char *const western[] = {"iso-8859-1",   "iso8859-1", "latin1",     "l1",
                                          "windows-1252", "cp1252",    "iso-8859-15"};
    for (gsize i = 0; i < G_N_ELEMENTS(western); i++) {
        if (strcmp(name, western[i]) == 0) {
            *name_out = superset_of(g_steal_pointer(&name));
            return FAMILY_WESTERN;
        }
    }
    for (gsize i = 0; i < G_N_ELEMENTS(unknown); i++) {
        if (strcmp(name, unknown[i]) == 0)
            return FAMILY_NONE;
    }
    if (g_str_has_prefix(name, "utf-16") || g_str_has_prefix(name, "utf-32") ||
        g_str_has_prefix(name, "ucs-2") || g_str_has_prefix(name, "ucs-4") ||
        strcmp(name, "utf-7") == 0 || strcmp(name, "unicode") == 0) {
        *name_out = g_steal_pointer(&name);
        return FAMILY_WIDE;
    }
    if (g_str_has_prefix(name, "iso-2022-") || g_str_has_prefix(name, "csiso2022") ||
        strcmp(name, "hz-gb-2312") == 0 || strcmp(name, "hz") == 0) {
        *name_out = g_steal_pointer(&name);
        return FAMILY_SHIFTED;
    }
    *name_out = superset_of(g_steal_pointer(&name));
    return FAMILY_OTHER;
}

/* a charset name fit for a warning: a short token, else nothing */
static const char *printable_charset(const char *name)
{
    if (!name || strlen(name) > 40)
        return "(unprintable)";
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.' && *p != ':')
            return "(unprintable)";
    }
    return name;
}

static gboolean has_high_bytes(const char *data, gsize len)
{
    for (gsize i = 0; i < len; i++) {
        if ((guchar)data[i] >= 0x80)
            return TRUE;
    }
    return FALSE;
}

/* counts valid multi-byte UTF-8 sequences in possibly invalid data */
static gsize count_utf8_multibyte(const char *data, gsize len)
{
    gsize count = 0;
    const char *p = data, *end = data + len;
    while (p < end) {
        if ((guchar)*p < 0x80) {
            p++;
            continue;
        }
        gunichar c = g_utf8_get_char_validated(p, end - p);
        if (c == (gunichar)-1 || c == (gunichar)-2) {
            p++;
            continue;
        }
        count++;
        p = g_utf8_next_char(p);
    }
    return count;
}

/* iconv descriptors to UTF-8 kept open, one idle per charset name. Opening one makes glibc
 * load its gconv module (a dlopen, CP1258.so, ISO8859-1.so ...) and closing the last unloads
 * it, so an open and a close per text part cost a tenth of the CPU of parsing real-world mail.
 * A descriptor is reset to its initial state before each use (iconv(3)), which is what a new
 * one would be. Bounded: mail names charsets as it likes. */
#define ICONV_KEPT_MAX 32

static GMutex iconv_lock;
static GHashTable *iconv_idle; /* charset name -> iconv_t to UTF-8, not in use */

/* a descriptor from charset to UTF-8, (iconv_t)-1 when iconv does not know it */
static iconv_t iconv_take(const char *charset)
{
    gpointer name = NULL, cd = NULL;
    g_mutex_lock(&iconv_lock);
    gboolean kept = iconv_idle && g_hash_table_steal_extended(iconv_idle, charset, &name, &cd);
    g_mutex_unlock(&iconv_lock);
    g_free(name); /* stolen with its descriptor: ours to free */
    if (!kept)
        return iconv_open("UTF-8", charset);
    iconv((iconv_t)cd, NULL, NULL, NULL, NULL);
    return (iconv_t)cd;
}

static void iconv_close_kept(gpointer cd)
{
    iconv_close((iconv_t)cd);
}

/* done with a descriptor of iconv_take(charset) */
static void iconv_give_back(const char *charset, iconv_t cd)
{
    g_mutex_lock(&iconv_lock);
    if (!iconv_idle)
        iconv_idle = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, iconv_close_kept);
    gboolean keep = g_hash_table_size(iconv_idle) < ICONV_KEPT_MAX &&
                    !g_hash_table_contains(iconv_idle, charset);
    if (keep)
        g_hash_table_insert(iconv_idle, g_strdup(charset), cd);
    g_mutex_unlock(&iconv_lock);
    if (!keep)
        iconv_close(cd);
}

/* iconv (or GMime's alias table) can read the charset */
static gboolean iconv_knows(const char *charset)
{
    const char *name = charset;
    iconv_t cd = iconv_take(name);
    if (cd == (iconv_t)-1) {
        name = g_mime_charset_iconv_name(charset);
        cd = iconv_take(name);
    }
    if (cd == (iconv_t)-1)
        return FALSE;
    iconv_give_back(name, cd);
    return TRUE;
}

/* iconv to UTF-8; an invalid sequence becomes U+FFFD and conversion goes on. FALSE if iconv
 * does not know the charset. */
static gboolean iconv_to_utf8(const char *charset, const char *data, gsize len, GString *out,
                              guint *invalid)
{
    const char *name = charset;
    iconv_t cd = iconv_take(name);
    if (cd == (iconv_t)-1) {
        /* GMime knows aliases iconv does not (ks_c_5601-1987, x-mac-..., ...) */
        cd = g_mime_iconv_open("UTF-8", charset);
        if (cd == (iconv_t)-1)
            return FALSE;
        g_mime_iconv_close(cd);
        name = g_mime_charset_iconv_name(charset);
        cd = iconv_take(name);
        if (cd == (iconv_t)-1)
            return FALSE;
    }
    char buf[8192];
    char *in = (char *)data;
    size_t inleft = len;
    while (inleft > 0) {
        char *outp = buf;
        size_t outleft = sizeof buf;
        size_t rc = iconv(cd, &in, &inleft, &outp, &outleft);
        int saved = errno;
        g_string_append_len(out, buf, (gssize)(outp - buf));
        if (rc != (size_t)-1)
            continue;
        if (saved == E2BIG)
            continue;
        /* EILSEQ or EINVAL (incomplete sequence at the end): skip one byte */
        g_string_append(out, "\xEF\xBF\xBD");
        (*invalid)++;
        in++;
        inleft--;
        iconv(cd, NULL, NULL, NULL, NULL);
    }
    /* stateful converters (CP1258 holds back a base letter waiting for a tone mark) */
    char *outp = buf;
    size_t outleft = sizeof buf;
    iconv(cd, NULL, NULL, &outp, &outleft);
    g_string_append_len(out, buf, (gssize)(outp - buf));
    iconv_give_back(name, cd);
    return TRUE;
}

static char *from_cp1258(const char *data, gsize len, guint *invalid)
{
    GString *out = g_string_sized_new(len + len / 2 + 1);
    if (!iconv_to_utf8("CP1258", data, len, out, invalid)) {
        /* glibc always has CP1258; if not, keep what is readable */
        g_string_free(out, TRUE);
        return g_utf8_make_valid(data, (gssize)len);
    }
    return g_string_free(out, FALSE);
}

/* ---- what the rest of the message declares ----------------------------------------------- */

static gboolean is_hint(const char *charset)
{
    g_autofree char *name = NULL;
    CharsetFamily family = charset_family(charset, &name);
    return family == FAMILY_WESTERN || family == FAMILY_OTHER || family == FAMILY_CP1258;
}

static void hint_from_parts(GMimeObject *parent, GMimeObject *part, gpointer user_data)
{
    char **hint = user_data;
    if (*hint || !GMIME_IS_PART(part))
        return;
    GMimeContentType *ct = g_mime_object_get_content_type(part);
    const char *charset = ct ? g_mime_content_type_get_parameter(ct, "charset") : NULL;
    if (is_hint(charset))
        *hint = g_strdup(charset);
}

/* the charset of the first RFC 2047 word of a header ("=?iso-8859-1?Q?...?=") */
static char *hint_from_header(GMimeObject *object, const char *name)
{
    g_autofree char *raw = header_raw_merged(object, name);
    const char *start = raw ? strstr(raw, "=?") : NULL;
    const char *end = start ? strchr(start + 2, '?') : NULL;
    if (!end || end - start > 42)
        return NULL;
    g_autofree char *charset = g_strndup(start + 2, (gsize)(end - start - 2));
    char *star = strchr(charset, '*'); /* RFC 2231 language */
    if (star)
        *star = '\0';
    return is_hint(charset) ? g_steal_pointer(&charset) : NULL;
}

/* the first 8-bit charset the message declares, in a part or in its headers; cached */
static const char *message_charset_hint(ParseContext *ctx)
{
    if (ctx->charset_hint_known || !ctx->message)
        return ctx->charset_hint;
    ctx->charset_hint_known = TRUE;
    char *hint = NULL;
    g_mime_message_foreach(ctx->message, hint_from_parts, &hint);
    static const char *const headers[] = {"Subject", "From", "To"};
    for (gsize i = 0; i < G_N_ELEMENTS(headers) && !hint; i++)
        hint = hint_from_header(GMIME_OBJECT(ctx->message), headers[i]);
    ctx->charset_hint = hint;
    return hint;
}

/* unlabelled 8-bit text: in the message's own charset when every byte is valid in it, else
 * windows-1258 */
static char *unlabelled_8bit(ParseContext *ctx, const char *data, gsize len, guint *invalid)
{
    const char *hint = message_charset_hint(ctx);
    g_autofree char *name = NULL;
    CharsetFamily family = charset_family(hint, &name);
    if (hint && family != FAMILY_CP1258) {
        GString *out = g_string_sized_new(len + len / 2 + 1);
        guint bad = 0;
        if (iconv_to_utf8(name, data, len, out, &bad) && bad == 0) {
            parse_warn(ctx, "text without a known charset read as %s, as the message declares",
                       printable_charset(name));
            return g_string_free(out, FALSE);
        }
        g_string_free(out, TRUE);
    }
    parse_warn(ctx, "text without a known charset read as windows-1258");
    return from_cp1258(data, len, invalid);
}

/* text in a declared charset iconv may know; when it does not, UTF-8 if valid, else
 * windows-1258 */
static char *convert_declared(ParseContext *ctx, const char *name, const char *data, gsize len,
                              gboolean valid_utf8, guint *invalid)
{
    GString *out = g_string_sized_new(len + len / 2 + 1);
    if (iconv_to_utf8(name, data, len, out, invalid))
        return g_string_free(out, FALSE);
    g_string_free(out, TRUE);
    parse_warn(ctx, "unknown charset %s; text read as %s", printable_charset(name),
               valid_utf8 ? "UTF-8" : "windows-1258");
    if (valid_utf8)
        return g_strndup(data, len);
    return from_cp1258(data, len, invalid);
}

/* 8-bit bytes under a 7-bit label (ISO-2022-JP): the label is wrong. Japanese mail programs
 * send EUC-JP or Shift_JIS so labelled, converters UTF-8: whichever reads every byte. */
static char *shifted_with_8bit(ParseContext *ctx, const char *name, const char *data, gsize len,
                               gboolean valid_utf8)
{
    if (valid_utf8) {
        parse_warn(ctx, "text declared %s is UTF-8; read as UTF-8", printable_charset(name));
        return g_strndup(data, len);
    }
    static const struct {
        const char *prefix, *siblings[2];
    } families[] = {
        {"iso-2022-jp", {"EUC-JP", "CP932"}},
        {"iso-2022-kr", {"CP949", NULL}},
        {"iso-2022-cn", {"GB18030", NULL}},
        {"hz", {"GB18030", NULL}},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(families); i++) {
        if (!g_str_has_prefix(name, families[i].prefix))
            continue;
        for (gsize k = 0; k < G_N_ELEMENTS(families[i].siblings) && families[i].siblings[k]; k++) {
            GString *out = g_string_sized_new(len + len / 2 + 1);
            guint bad = 0;
            if (iconv_to_utf8(families[i].siblings[k], data, len, out, &bad) && bad == 0) {
                parse_warn(ctx, "8-bit text declared %s; read as %s", printable_charset(name),
                           families[i].siblings[k]);
                return g_string_free(out, FALSE);
            }
            g_string_free(out, TRUE);
        }
    }
    return NULL;
}

char *charset_to_utf8(ParseContext *ctx, const char *data, gsize len, const char *declared)
{
    if (!data || len == 0)
        return g_strdup("");
    g_autofree char *name = NULL;
    CharsetFamily family = charset_family(declared, &name);

    /* NUL bytes are not text (and stop C strings): dropped, except in UTF-16/32 */
    g_autofree char *without_nul = NULL;
    if (family != FAMILY_WIDE && memchr(data, '\0', len)) {
        without_nul = g_malloc(len + 1);
        gsize n = 0;
        for (gsize i = 0; i < len; i++) {
            if (data[i])
                without_nul[n++] = data[i];
        }
        without_nul[n] = '\0';
        data = without_nul;
        len = n;
        parse_warn(ctx, "NUL bytes removed from the text");
    }

    if (family != FAMILY_WIDE && family != FAMILY_SHIFTED && !has_high_bytes(data, len))
        return g_strndup(data, len); /* ASCII is ASCII in every charset we read this way */

    gboolean valid_utf8 = g_utf8_validate(data, (gssize)len, NULL);
    guint invalid = 0;
    char *result = NULL;
    switch (family) {
    case FAMILY_UTF8:
        if (valid_utf8)
            return g_strndup(data, len);
        if (count_utf8_multibyte(data, len) == 0) {
            parse_warn(ctx, "text declared UTF-8 is not UTF-8; read as windows-1258");
            result = from_cp1258(data, len, &invalid);
        } else {
            parse_warn(ctx, "invalid UTF-8 in the text replaced");
            return g_utf8_make_valid(data, (gssize)len);
        }
        break;
    case FAMILY_CP1258:
        if (valid_utf8) {
            /* Outlook's mislabelled UTF-8 (see the top of this file) */
            parse_warn(ctx, "text declared windows-1258 is UTF-8; read as UTF-8");
            return g_strndup(data, len);
        }
        result = from_cp1258(data, len, &invalid);
        break;
    case FAMILY_ASCII:
    case FAMILY_NONE:
        if (valid_utf8)
            return g_strndup(data, len);
        if (family == FAMILY_ASCII)
            parse_warn(ctx, "8-bit text declared us-ascii");
        result = unlabelled_8bit(ctx, data, len, &invalid);
        break;
    case FAMILY_WESTERN:
    case FAMILY_OTHER:
        if (valid_utf8 && count_utf8_multibyte(data, len) > 0 && iconv_knows(name)) {
            /* Vietnamese does not fit in these charsets; valid UTF-8 here is UTF-8 */
            g_autofree char *label = charset_label(declared);
            parse_warn(ctx, "text declared %s is UTF-8; read as UTF-8", printable_charset(label));
            return g_strndup(data, len);
        }
        G_GNUC_FALLTHROUGH;
    case FAMILY_WIDE:
        result = convert_declared(ctx, name, data, len, valid_utf8, &invalid);
        break;
    case FAMILY_SHIFTED:
        if (has_high_bytes(data, len)) {
            result = shifted_with_8bit(ctx, name, data, len, valid_utf8);
            if (result)
                return result;
        }
        result = convert_declared(ctx, name, data, len, valid_utf8, &invalid);
        break;
    }
    if (invalid > 0)
        parse_warn(ctx, "invalid bytes for the text's charset replaced");
    if (!g_utf8_validate(result, -1, NULL)) {
        char *valid = g_utf8_make_valid(result, -1);
        g_free(result);
        result = valid;
    }
    return result;
}

/* ---- normalisation -------------------------------------------------------------------------- */

/* g_string_append_len without a call, where the room is there (GLib 2.74 has no inline form):
 * text_normalise appends a run of ASCII between every two letters with marks, a thousand in a
 * page of Vietnamese */
static inline void append_run(GString *out, const char *run, gsize n)
{
    if (G_UNLIKELY(out->len + n >= out->allocated_len)) {
        g_string_append_len(out, run, (gssize)n);
        return;
    }
    memcpy(out->str + out->len, run, n);
    out->len += n;
    out->str[out->len] = '\0';
}

char *text_normalise(const char *in, gssize len)
{
    if (!in)
        return g_strdup("");
    gsize n = len < 0 ? strlen(in) : (gsize)len;
    GString *out = g_string_sized_new(n + 1);
    gsize line_end = 0;        /* out->len just after the last non-blank character of the line */
    gboolean unstable = FALSE; /* a character NFC might change was kept */
    int marks = 0;             /* combining marks in a row */
    const char *p = in, *end = in + n;
    while (p < end) {
        guchar c = (guchar)*p;
        if (c > 0x20 && c < 0x7f) {
            /* a run of visible ASCII, spaces and tabs, the common case: one append per run
             * rather than per word; the line ends after its last visible character */
            const char *run = p, *visible_end = p;
            for (; p < end; p++) {
                guchar r = (guchar)*p;
                if (r > 0x20 && r < 0x7f)
                    visible_end = p + 1;
                else if (r != ' ' && r != '\t')
                    break;
            }
            gsize base = out->len;
            append_run(out, run, (gsize)(p - run));
            line_end = base + (gsize)(visible_end - run);
            marks = 0;
            continue;
        }
        if (c < 0x80) {
            marks = 0;
            p++;
            if (c == '\r' || c == '\n') {
                if (c == '\r' && p < end && *p == '\n')
                    p++;
                g_string_truncate(out, line_end);
                g_string_append_c(out, '\n');
                line_end = out->len;
            } else if (c == ' ' || c == '\t') {
                g_string_append_c(out, (char)c);
            } else if (c >= 0x20 && c != 0x7f) {
                g_string_append_c(out, (char)c);
                line_end = out->len;
            }
            /* other C0 controls and DEL dropped */
            continue;
        }
        /* the letters of Vietnamese and the other Latin scripts (U+00A1-U+02FF, U+1E00-
         * U+1EFF), valid two- and three-octet forms decoded in place: kept as they are, and
         * NFC by themselves */
        int kept = 0;
        if (c >= 0xC2 && c <= 0xCB && end - p >= 2 && ((guchar)p[1] & 0xC0) == 0x80 &&
            (c != 0xC2 || (guchar)p[1] >= 0xA1))
            kept = 2;
        else if (c == 0xE1 && end - p >= 3 && (guchar)p[1] >= 0xB8 && (guchar)p[1] <= 0xBB &&
                 ((guchar)p[2] & 0xC0) == 0x80)
            kept = 3;
        if (kept > 0) {
            for (int k = 0; k < kept; k++)
                g_string_append_c(out, p[k]);
            p += kept;
            line_end = out->len;
            marks = 0;
            continue;
        }
        gunichar u = g_utf8_get_char_validated(p, end - p);
        if (u == (gunichar)-1 || u == (gunichar)-2) {
            g_string_append(out, "\xEF\xBF\xBD");
            line_end = out->len;
            unstable = TRUE;
            p++;
            continue;
        }
        const char *next = g_utf8_next_char(p);
        if (g_unichar_combining_class(u) != 0) {
            /* UAX #15 stream-safe text: no more than 30 marks on one letter ("zalgo" text
             * and attacks on canonical ordering, which sorts runs of marks quadratically) */
            if (++marks > 30) {
                p = next;
                continue;
            }
        } else {
            marks = 0;
        }
        if (u == 0x2028 || u == 0x2029) {
            g_string_truncate(out, line_end);
            g_string_append_c(out, '\n');
            line_end = out->len;
        } else if (u == 0x00A0) {
            g_string_append_c(out, ' '); /* no-break space: a space for every later use */
        } else if (u == 0xFEFF || (u >= 0x80 && u < 0xA0)) {
            /* byte order mark, C1 controls: dropped */
        } else {
            /* byte by byte, inline: a call per letter was a third of this function */
            for (const char *q = p; q < next; q++)
                g_string_append_c(out, *q);
            line_end = out->len;
            unstable = TRUE;
        }
        p = next;
    }
    g_string_truncate(out, line_end);
    while (out->len > 0 && out->str[out->len - 1] == '\n')
        g_string_truncate(out, out->len - 1);
    gsize lead = 0;
    while (lead < out->len && out->str[lead] == '\n')
        lead++;
    if (lead > 0)
        g_string_erase(out, 0, (gssize)lead);
    /* ASCII and the letters kept above are NFC as they are */
    if (!unstable)
        return g_string_free(out, FALSE);
    char *nfc = text_nfc_len(out->str, (gssize)out->len);
    g_string_free(out, TRUE);
    return nfc;
}

/* RFC 3676 §4: a line ending in a space continues on the next one (unless it is the
 * signature separator "-- "); space-stuffed lines lose their first space; quote depth must
 * match for lines to join. */
char *text_unflow(const char *text, gboolean delsp)
{
    GString *out = g_string_sized_new(strlen(text) + 1);
    const char *p = text;
    int previous_depth = -1;
    gboolean joining = FALSE;
    while (*p) {
        const char *nl = strchr(p, '\n');
        gsize len = nl ? (gsize)(nl - p) : strlen(p);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        const char *line = p;
        int depth = 0;
        while (depth < (int)len && line[depth] == '>')
            depth++;
        const char *content = line + depth;
        gsize content_len = len - (gsize)depth;
        if (content_len > 0 && content[0] == ' ') {
            content++;
            content_len--;
        }
        if (joining && depth != previous_depth)
            g_string_append_c(out, '\n');
        if ((!joining || depth != previous_depth) && depth > 0) {
            g_string_append_len(out, line, depth);
            g_string_append_c(out, ' ');
        }
        gboolean signature = content_len == 3 && memcmp(content, "-- ", 3) == 0;
        gboolean flowed = content_len > 0 && content[content_len - 1] == ' ' && !signature;
        gsize keep = content_len;
        if (flowed && delsp)
            keep--;
        g_string_append_len(out, content, (gssize)keep);
        if (!flowed && nl)
            g_string_append_c(out, '\n');
        joining = flowed;
        previous_depth = depth;
        if (!nl)
            break;
        p = nl + 1;
    }
    return g_string_free(out, FALSE);
}
