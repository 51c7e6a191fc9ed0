/* The console's search (issue 13): what the IOC types in the queue's search box, turned into
 * an FTS5 query of report_search, the index the store keeps of every report (migration of
 * issue 13, phase 2, in store.c). The folding matches the index's: "đ"/"Đ" become "d" here
 * and in the index's triggers, the tokenizer (unicode61, remove_diacritics 2) drops the other
 * marks and the case on both sides, so "den duong" finds "Đèn đường" and "ĐÈN" finds "đèn". */
#include "queue/store_internal.h"
#include "util/util.h"

#include <string.h>

enum { SEARCH_MAX_TERMS = 16, SEARCH_MAX_TOKENS = 64 };

/* the characters the FTS5 unicode61 tokenizer keeps in a token: letters, digits and the
 * combining marks of a decomposed letter */
static gboolean token_char(gunichar c)
{
    if (g_unichar_isalnum(c))
        return TRUE;
    GUnicodeType t = g_unichar_type(c);
    return t == G_UNICODE_NON_SPACING_MARK || t == G_UNICODE_SPACING_MARK ||
           t == G_UNICODE_ENCLOSING_MARK;
}

char *search_fold(const char *text)
{
    if (!text || !g_utf8_validate(text, -1, NULL))
        return NULL;
    g_autofree char *nfc = g_utf8_normalize(text, -1, G_NORMALIZE_NFC);
    GString *out = g_string_new(NULL);
    for (const char *p = nfc; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (c == 0x0111 || c == 0x0110) /* đ, Đ: not a d with a mark in Unicode */
            c = 'd';
        g_string_append_unichar(out, token_char(c) ? g_unichar_tolower(c) : ' ');
    }
    return g_string_free(out, FALSE);
}

char **search_tokens(const char *text, int max)
{
    g_autofree char *folded = search_fold(text);
    g_autoptr(GPtrArray) tokens = g_ptr_array_new_with_free_func(g_free);
    if (folded) {
        g_auto(GStrv) parts = g_strsplit(folded, " ", -1);
        for (char **p = parts; *p && (max <= 0 || (int)tokens->len < max); p++)
            if (**p)
                g_ptr_array_add(tokens, g_strdup(*p));
    }
    g_ptr_array_add(tokens, NULL);
    return (char **)g_ptr_array_steal(tokens, NULL);
}

/* Each word the user typed (separated by spaces) is a phrase of its tokens, the last one a
 * prefix: "PAHT-2026-0000" is "paht" + "2026" + "0000"*, "b%d@" is "b" + "d"* (it does not
 * match "b_c%d@", as the LIKE search before it did not); the words must all match, in any
 * column. Tokens hold letters and digits only, so the query has nothing of FTS5's syntax the
 * user typed. */
char *search_match_query(const char *text)
{
    if (!text || !g_utf8_validate(text, -1, NULL))
        return NULL;
    g_auto(GStrv) words = g_strsplit_set(text, " \t\r\n", -1);
    GString *query = g_string_new(NULL);
    int n_terms = 0;
    for (char **w = words; *w && n_terms < SEARCH_MAX_TERMS; w++) {
        g_auto(GStrv) tokens = search_tokens(*w, SEARCH_MAX_TOKENS);
        if (!tokens[0])
            continue;
        g_string_append(query, n_terms++ ? " " : "");
        for (char **t = tokens; *t; t++)
            g_string_append_printf(query, "%s\"%s\"%s", t == tokens ? "" : " + ", *t,
                                   t[1] ? "" : "*");
    }
    if (!n_terms) {
        g_string_free(query, TRUE);
        return NULL;
    }
    return g_string_free(query, FALSE);
}
