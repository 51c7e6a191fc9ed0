/* What every step of the parse uses, and nothing it uses in turn: warnings for the operator,
 * the classification a step decides, regexes compiled once, text made one line. */
#include "parse/parse_private.h"
#include "util/util.h"

#include <stdarg.h>
#include <string.h>

void parse_warn(ParseContext *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (g_hash_table_contains(ctx->warning_set, text)) {
        g_free(text);
        return;
    }
    if (ctx->draft->warnings->len >= PARSE_MAX_WARNINGS) {
        ctx->warnings_dropped++;
        g_free(text);
        return;
    }
    g_hash_table_add(ctx->warning_set, g_strdup(text));
    g_ptr_array_add(ctx->draft->warnings, text);
}

void parse_classify(ParseContext *ctx, const char *classification, const char *rule)
{
    if (ctx->draft->classification)
        return;
    ctx->draft->classification = g_strdup(classification);
    ctx->draft->rule = g_strdup(rule);
}

GRegex *parse_regex(GRegex **slot, const char *pattern, GRegexCompileFlags flags)
{
    if (g_once_init_enter(slot)) {
        GError *error = NULL;
        GRegex *re = g_regex_new(pattern, flags | G_REGEX_OPTIMIZE, 0, &error);
        if (!re)
            g_error("parse: bad built-in pattern %s: %s", pattern, error->message);
        g_once_init_leave(slot, re);
    }
    return *slot;
}

const char *parse_folded_text(ParseContext *ctx, const char *text, gsize len, gsize *folded_len,
                              const guint **origin)
{
    if (!ctx->folded.s || ctx->folded.of != text || ctx->folded.of_len != len) {
        g_free(ctx->folded.s);
        g_free(ctx->folded.origin);
        ctx->folded.of = text;
        ctx->folded.of_len = len;
        ctx->folded.s = text_fold_mapped(text, len, &ctx->folded.len, &ctx->folded.origin);
    }
    *folded_len = ctx->folded.len;
    if (origin)
        *origin = ctx->folded.origin;
    return ctx->folded.s;
}

char *text_one_line(const char *s, gsize max_bytes)
{
    if (!s)
        return g_strdup("");
    /* NFC never makes text longer than 3 times, collapsing only shortens: this much input is
     * enough for max_bytes of output */
    gsize n = strnlen(s, max_bytes * 4 + 4);
    g_autofree char *valid = g_utf8_make_valid(s, (gssize)n);
    GString *out = g_string_sized_new(n + 1);
    gboolean space = FALSE;
    for (const char *p = valid; *p;) {
        const char *next = g_utf8_next_char(p);
        /* ASCII, most of a header, is told from its byte; the rest from its character */
        guchar b = (guchar)*p;
        gboolean blank;
        if (b < 0x80) {
            blank = b <= 0x20 || b == 0x7f;
        } else {
            gunichar c = g_utf8_get_char(p);
            blank = g_unichar_isspace(c) || c == 0x00a0 || c == 0x200b || c == 0x2028 ||
                    c == 0x2029 || c < 0xa0 || c == 0xfeff;
        }
        if (blank) {
            space = out->len > 0;
        } else {
            if (space)
                g_string_append_c(out, ' ');
            space = FALSE;
            g_string_append_len(out, p, next - p);
        }
        p = next;
    }
    char *nfc = text_nfc_len(out->str, (gssize)out->len);
    g_string_free(out, TRUE);
    gsize len = strlen(nfc);
    if (len > max_bytes) {
        len = max_bytes;
        while (len > 0 && ((guchar)nfc[len] & 0xc0) == 0x80)
            len--;
        nfc[len] = '\0';
        g_strchomp(nfc);
    }
    return nfc;
}
