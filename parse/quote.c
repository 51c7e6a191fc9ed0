/* parse: cutting the quoted earlier mail out of a reply (SPEC §3.3).
 *
 * A citizen answering our letter quotes it below (Gmail, Outlook, phones). The report is what
 * they wrote; the quote is kept in quoted_text, never shown as the report. What we recognise:
 * - an attribution line: "On Mon, 5 Jan 2026 ... wrote:" / Gmail's Vietnamese "Vào Th 2, 5 thg
 *   1, 2026 vào lúc 10:00 ... đã viết:" (sometimes wrapped over two lines), followed by ">"
 *   lines or by nothing (the HTML quote was already cut);
 * - Outlook: "-----Original Message-----" (and its Vietnamese forms), a "From: / Sent: / To: /
 *   Subject:" block (Vietnamese: "Từ: / Đã gửi: / Đến: / Chủ đề:"), optionally after a line of
 *   underscores;
 * - runs of ">" lines.
 * Rules: we cut only from the attribution or separator on, never what precedes it; when the
 * sender wrote below or between the quoted lines (bottom posting), only the attribution and
 * the ">" lines go; a block under a "Forwarded message" marker is a forward, not a quote;
 * and if nothing would be left, nothing is cut. */
#include "parse/parse_private.h"

#include <string.h>

#include "util/util.h"

typedef struct {
    const char *start;
    gsize len;
} Line;

static GArray *split_lines(const char *text)
{
    GArray *lines = g_array_new(FALSE, FALSE, sizeof(Line));
    const char *p = text;
    for (;;) {
        const char *nl = strchr(p, '\n');
        Line line = {p, nl ? (gsize)(nl - p) : strlen(p)};
        g_array_append_val(lines, line);
        if (!nl)
            break;
        p = nl + 1;
    }
    return lines;
}

static gboolean line_blank(const Line *l)
{
    for (gsize i = 0; i < l->len; i++) {
        if (l->start[i] != ' ' && l->start[i] != '\t')
            return FALSE;
    }
    return TRUE;
}

static gboolean line_quoted(const Line *l)
{
    gsize i = 0;
    if (i < l->len && l->start[i] == ' ')
        i++;
    return i < l->len && l->start[i] == '>';
}

/* cheap tests before folding a line (text_fold allocates): labels have a colon early */
static gboolean colon_within(const Line *l, gsize n)
{
    return memchr(l->start, ':', MIN(l->len, n)) != NULL;
}

/* the line folded for matching (no diacritics, lowercase, trimmed); NULL for long lines */
static char *line_fold(const Line *l)
{
    if (l->len == 0 || l->len > 400)
        return NULL;
    g_autofree char *copy = g_strndup(l->start, l->len);
    char *folded = text_fold(copy);
    return g_strstrip(folded);
}

static gboolean ends_with_wrote(const char *folded)
{
    return g_str_has_suffix(folded, "wrote:") || g_str_has_suffix(folded, "viet:") ||
           g_str_has_suffix(folded, "a ecrit :") || g_str_has_suffix(folded, "schrieb:");
}

static gboolean starts_attribution(const char *folded)
{
    static const char *const prefixes[] = {"on ", "vao ", "luc ", "le ", "am ", "el ", NULL};
    for (const char *const *p = prefixes; *p; p++) {
        if (g_str_has_prefix(folded, *p))
            return TRUE;
    }
    return FALSE;
}

static gboolean looks_like_attribution(const char *folded)
{
    if (!ends_with_wrote(folded))
        return FALSE;
    /* "Tôi đã viết:" in a citizen's own text is not an attribution: ask for a known opening,
     * an address or a date */
    return starts_attribution(folded) || strchr(folded, '@') || strpbrk(folded, "0123456789");
}

static gboolean is_forward_marker(const char *folded)
{
    return strstr(folded, "forwarded message") || strstr(folded, "thu duoc chuyen tiep") ||
           strstr(folded, "tin nhan duoc chuyen tiep") ||
           g_str_has_prefix(folded, "begin forwarded message") ||
           g_str_has_prefix(folded, "bat dau thu duoc chuyen tiep");
}

static gboolean header_label(const char *folded, const char *const *labels)
{
    for (const char *const *l = labels; *l; l++) {
        if (g_str_has_prefix(folded, *l))
            return TRUE;
    }
    return FALSE;
}

static const char *const from_labels[] = {"from:", "tu:", NULL};
static const char *const other_labels[] = {
    "sent:", "date:",    "da gui:", "ngay:", "gui:",     "to:", "den:",
    "toi:",  "subject:", "chu de:", "cc:",   "tieu de:", NULL};

/* an Outlook separator at line i: returns the first line of the quote, or -1 */
static gssize separator_at(GArray *lines, guint i)
{
    const Line *l = &g_array_index(lines, Line, i);
    if (l->len == 0 || (l->start[0] != '-' && l->start[0] != '_' && !colon_within(l, 16)))
        return -1;
    g_autofree char *folded = line_fold(l);
    if (!folded)
        return -1;
    /* "-----Original Message-----", "----- Thư gốc -----" */
    if (g_str_has_prefix(folded, "--")) {
        g_autofree char *inner = g_strstrip(g_strdup(folded + strspn(folded, "- ")));
        gsize n = strlen(inner);
        while (n > 0 && (inner[n - 1] == '-' || inner[n - 1] == ' '))
            inner[--n] = '\0';
        if (strcmp(inner, "original message") == 0 || strcmp(inner, "thu goc") == 0 ||
            strcmp(inner, "tin nhan goc") == 0)
            return i;
        return -1;
    }
    gboolean underscores = strspn(folded, "_") >= 10 && folded[strspn(folded, "_")] == '\0';
    guint from_line = i;
    if (underscores) {
        /* the header block follows within two lines */
        gboolean found = FALSE;
        for (guint k = i + 1; k < lines->len && k <= i + 2 && !found; k++) {
            if (!colon_within(&g_array_index(lines, Line, k), 16))
                continue;
            g_autofree char *f = line_fold(&g_array_index(lines, Line, k));
            if (f && header_label(f, from_labels)) {
                found = TRUE;
                from_line = k;
            }
        }
        if (!found)
            return -1;
    } else if (!header_label(folded, from_labels)) {
        return -1;
    }
    /* From: followed by at least two of Sent/Date/To/Subject within five lines */
    int labels = 0;
    for (guint k = from_line + 1; k < lines->len && k <= from_line + 5; k++) {
        if (!colon_within(&g_array_index(lines, Line, k), 16))
            continue;
        g_autofree char *f = line_fold(&g_array_index(lines, Line, k));
        if (f && header_label(f, other_labels))
            labels++;
    }
    return labels >= 2 ? (gssize)i : -1;
}

/* an attribution at line i (or wrapped from line i-1 onto i): returns its first line */
static gssize attribution_at(GArray *lines, guint i, guint *last_line)
{
    const Line *l = &g_array_index(lines, Line, i);
    if (l->len == 0 || l->start[l->len - 1] != ':')
        return -1;
    g_autofree char *folded = line_fold(l);
    if (!folded || !ends_with_wrote(folded))
        return -1;
    gssize first = -1;
    if (i > 0 && !starts_attribution(folded)) {
        /* wrapped: "On ... <" / "address> wrote:" */
        g_autofree char *previous = line_fold(&g_array_index(lines, Line, i - 1));
        if (previous && starts_attribution(previous))
            first = (gssize)i - 1;
    }
    if (first < 0 && looks_like_attribution(folded))
        first = i;
    if (first < 0)
        return -1;
    /* followed by quoted lines, or by nothing at all */
    for (guint k = i + 1; k < lines->len; k++) {
        const Line *next = &g_array_index(lines, Line, k);
        if (line_blank(next))
            continue;
        if (!line_quoted(next))
            return -1;
        break;
    }
    *last_line = i;
    return first;
}

static gboolean forward_marker_before(GArray *lines, guint i)
{
    for (guint k = i >= 3 ? i - 3 : 0; k <= i && k < lines->len; k++) {
        g_autofree char *f = line_fold(&g_array_index(lines, Line, k));
        if (f && is_forward_marker(f))
            return TRUE;
    }
    return FALSE;
}

gboolean quote_starts_with_forward(const char *text)
{
    if (!text)
        return FALSE;
    g_autoptr(GArray) lines = split_lines(text);
    guint seen = 0;
    for (guint i = 0; i < lines->len && seen < 3; i++) {
        const Line *l = &g_array_index(lines, Line, i);
        if (line_blank(l))
            continue;
        seen++;
        g_autofree char *f = line_fold(l);
        if (f && is_forward_marker(f))
            return TRUE;
    }
    return FALSE;
}

static void append_line(GString *s, const Line *l)
{
    if (s->len > 0)
        g_string_append_c(s, '\n');
    g_string_append_len(s, l->start, (gssize)l->len);
}

/* trims blank lines at both ends; NULL when nothing is left */
static char *finish(GString *s)
{
    char *text = g_string_free(s, FALSE);
    gsize start = strspn(text, "\n");
    gsize end = strlen(text);
    while (end > start && text[end - 1] == '\n')
        end--;
    if (end == start) {
        g_free(text);
        return NULL;
    }
    char *result = g_strndup(text + start, end - start);
    g_free(text);
    return result;
}

gboolean quote_split(const char *text, char **kept_out, char **quoted_out)
{
    *kept_out = *quoted_out = NULL;
    if (!text || !*text)
        return FALSE;
    g_autoptr(GArray) lines = split_lines(text);
    gssize start = -1;
    gboolean by_attribution = FALSE;
    guint attribution_last = 0;
    for (guint i = 0; i < lines->len && start < 0; i++) {
        guint last = 0;
        gssize a = attribution_at(lines, i, &last);
        if (a >= 0 && !forward_marker_before(lines, (guint)a)) {
            start = a;
            by_attribution = TRUE;
            attribution_last = last;
            break;
        }
        gssize s = separator_at(lines, i);
        if (s >= 0 && !forward_marker_before(lines, (guint)s))
            start = s;
    }

    GString *kept = g_string_new(NULL);
    GString *quoted = g_string_new(NULL);
    if (start >= 0) {
        gboolean interleaved = FALSE;
        if (by_attribution) {
            for (guint k = attribution_last + 1; k < lines->len && !interleaved; k++) {
                const Line *l = &g_array_index(lines, Line, k);
                interleaved = !line_blank(l) && !line_quoted(l);
            }
        }
        for (guint k = 0; k < lines->len; k++) {
            const Line *l = &g_array_index(lines, Line, k);
            gboolean cut;
            if (k < (guint)start)
                cut = FALSE;
            else if (!interleaved)
                cut = TRUE;
            else
                cut = k <= attribution_last || line_quoted(l);
            append_line(cut ? quoted : kept, l);
        }
    } else {
        gboolean any = FALSE;
        for (guint k = 0; k < lines->len; k++) {
            const Line *l = &g_array_index(lines, Line, k);
            gboolean cut = line_quoted(l);
            any |= cut;
            append_line(cut ? quoted : kept, l);
        }
        if (!any) {
            g_string_free(kept, TRUE);
            g_string_free(quoted, TRUE);
            return FALSE;
        }
    }
    char *kept_text = finish(kept);
    char *quoted_text = finish(quoted);
    if (!kept_text || !quoted_text) {
        /* never the whole text; nothing to cut either way */
        g_free(kept_text);
        g_free(quoted_text);
        return FALSE;
    }
    *kept_out = kept_text;
    *quoted_out = quoted_text;
    return TRUE;
}
