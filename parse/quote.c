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

/* s-nail (and mailx) quote with a tab, its default indentprefix, not "> " */
static gboolean line_indented(const Line *l)
{
    return l->len > 0 && l->start[0] == '\t';
}

static gboolean line_quoted(const Line *l)
{
    gsize i = 0;
    if (i < l->len && l->start[i] == ' ')
        i++;
    return i < l->len && l->start[i] == '>';
}

/* a quoted line: "> ", or (tabs) indented with a tab under an attribution */
static gboolean line_quoted_as(const Line *l, gboolean tabs)
{
    return line_quoted(l) || (tabs && line_indented(l));
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

/* is_forward_marker of the line folded. A line of ASCII (most lines of a machine's mail) is
 * not folded: its fold is its lowercase, and each prefix is_forward_marker asks of the
 * stripped fold contains one of the words it looks for anywhere. */
static gboolean line_is_forward_marker(const Line *l)
{
    if (l->len == 0 || l->len > 400)
        return FALSE;
    char lower[401];
    for (gsize i = 0; i < l->len; i++) {
        guchar c = (guchar)l->start[i];
        if (c >= 0x80) {
            g_autofree char *folded = line_fold(l);
            return folded && is_forward_marker(folded);
        }
        lower[i] = g_ascii_tolower((char)c);
    }
    lower[l->len] = '\0';
    return is_forward_marker(lower);
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

/* "-----Original Message-----", "----- Thư gốc -----" (folded) */
static gboolean is_original_message_line(const char *folded)
{
    if (!g_str_has_prefix(folded, "--"))
        return FALSE;
    g_autofree char *inner = g_strstrip(g_strdup(folded + strspn(folded, "- ")));
    gsize n = strlen(inner);
    while (n > 0 && (inner[n - 1] == '-' || inner[n - 1] == ' '))
        inner[--n] = '\0';
    return strcmp(inner, "original message") == 0 || strcmp(inner, "thu goc") == 0 ||
           strcmp(inner, "tin nhan goc") == 0;
}

/* an Outlook separator at line i: returns the first line of the quote, or -1 */
static gssize separator_at(GArray *lines, guint i)
{
    const Line *l = &g_array_index(lines, Line, i);
    if (l->len == 0 || (l->start[0] != '-' && l->start[0] != '_' && !colon_within(l, 16)))
        return -1;
    g_autofree char *folded = line_fold(l);
    if (!folded)
        return -1;
    if (g_str_has_prefix(folded, "--"))
        return is_original_message_line(folded) ? (gssize)i : -1;
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

/* an attribution at line i (or wrapped from line i-1 onto i): returns its first line;
 * *tabs when the quote under it is indented with tabs rather than "> " */
static gssize attribution_at(GArray *lines, guint i, guint *last_line, gboolean *tabs)
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
    *tabs = FALSE;
    for (guint k = i + 1; k < lines->len; k++) {
        const Line *next = &g_array_index(lines, Line, k);
        if (line_blank(next))
            continue;
        *tabs = line_indented(next);
        if (!line_quoted_as(next, TRUE))
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

/* the cut of quote_split; with whole, the text may be all quote (*kept_out NULL) */
static gboolean quote_cut(const char *text, gboolean whole, char **kept_out, char **quoted_out)
{
    *kept_out = *quoted_out = NULL;
    if (!text || !*text)
        return FALSE;
    g_autoptr(GArray) lines = split_lines(text);
    gssize start = -1;
    gboolean by_attribution = FALSE, tabs = FALSE;
    guint attribution_last = 0;
    for (guint i = 0; i < lines->len && start < 0; i++) {
        guint last = 0;
        gssize a = attribution_at(lines, i, &last, &tabs);
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
                interleaved = !line_blank(l) && !line_quoted_as(l, tabs);
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
                cut = k <= attribution_last || line_quoted_as(l, tabs);
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
    if ((!kept_text && !whole) || !quoted_text) {
        g_free(kept_text);
        g_free(quoted_text);
        return FALSE;
    }
    *kept_out = kept_text;
    *quoted_out = quoted_text;
    return TRUE;
}

gboolean quote_split(const char *text, char **kept_out, char **quoted_out)
{
    if (!quote_cut(text, FALSE, kept_out, quoted_out))
        return FALSE;
    if (*kept_out)
        return TRUE;
    /* never the whole text; nothing to cut either way */
    g_clear_pointer(quoted_out, g_free);
    return FALSE;
}

gboolean quote_find(const char *text, char **kept_out, char **quoted_out)
{
    return quote_cut(text, TRUE, kept_out, quoted_out);
}

/* ---- our letters in a quote ------------------------------------------------------------------
 * A citizen answering our letter quotes it; they may fill in the "please complete" block
 * inside the quote, or write between its lines. Our words are never theirs: a quoted line is
 * compared with the letters we sent (every rendering: the plain text, and the HTML as text,
 * which is what Gmail and phones quote) word by word, folded (no diacritics, lowercase, only
 * letters and digits), so that quote markers, white space, re-wrapping and punctuation do
 * not matter. A line whose words occur in this order in one of our letters is ours; so is a
 * block line "Label: value" whose label and value are a line of our letter (an empty block
 * line, a hint line); a line of our label with another value is the citizen's answer; any
 * other line is the citizen's own. Word runs are looked up as 1-, 2- and 3-word sequences
 * (every 3 consecutive words of a line must be in the letter): linear in the text, whatever
 * it holds. */

/* a line of this many words or more that is a copy of our letter is ours even when it is not
 * quoted (pasted back, or a forward of our letter) */
#define COPIED_LINE_MIN_WORDS 6
/* a label is short: "Số căn cước công dân", "Địa điểm xảy ra sự việc" */
#define LABEL_MAX_WORDS 8
/* a quoted line this long may have been wrapped by the mail client (Gmail wraps at 78) */
#define WRAPPED_LINE_MIN_CHARS 60
/* this much of a quote or a text is compared; the rest of a quote of ours is dropped */
#define COMPARE_MAX_BYTES (64 * 1024)

/* words are numbered from 1 in the order the letters give them (0: not a word of ours); a
 * run of 1 to 3 of them is one 64-bit key: its length, then 20 bits per word */
#define WORD_ID_BITS 20
#define WORD_ID_MAX  ((1u << WORD_ID_BITS) - 1)

struct QuoteLetters {
    GHashTable *ids;     /* folded word -> its number (GUINT_TO_POINTER) */
    GHashTable *runs;    /* guint64 *: every run of 1 to 3 words of a letter */
    GHashTable *labels;  /* "label word numbers" -> GPtrArray of GArray (the value's numbers) */
    GPtrArray *subjects; /* GArray: each letter's subject, as numbers */
    guint count;
};

/* a client appends a link's target to its text ("Cổng: x.vn <https://x.vn>", "[mailto:...]");
 * such copies are left out before words are compared */
static char *without_link_targets(const char *folded)
{
    static GRegex *link_re;
    GRegex *re = parse_regex(&link_re, "[<\\[(](?:https?|mailto):[^\\s>\\])]*[>\\])]", 0);
    return g_regex_replace_literal(re, folded, -1, 0, " ", 0, NULL);
}

typedef void (*WordFunc)(const char *word, gsize len, gpointer data);

/* calls f for each word of len bytes of text, folded: runs of letters and digits, without
 * diacritics, lowercase */
static void for_each_word(const char *text, gsize len, WordFunc f, gpointer data)
{
    g_autofree char *copy = g_strndup(text, len);
    g_autofree char *folded = text_fold(copy);
    g_autofree char *clean = without_link_targets(folded);
    const char *run = NULL;
    for (const char *p = clean;; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        gboolean word = c && (g_unichar_isalnum(c) || g_unichar_ismark(c));
        if (word && !run)
            run = p;
        if (!word && run) {
            f(run, (gsize)(p - run), data);
            run = NULL;
        }
        if (!c)
            break;
    }
}

typedef struct {
    GHashTable *ids;
    gboolean add; /* number new words (the letters), or give them 0 (a quote) */
    GString *word;
    GArray *out;
} Numbering;

static void number_word(const char *word, gsize len, gpointer data)
{
    Numbering *n = data;
    g_string_truncate(n->word, 0);
    g_string_append_len(n->word, word, (gssize)len);
    guint id = GPOINTER_TO_UINT(g_hash_table_lookup(n->ids, n->word->str));
    if (!id && n->add && g_hash_table_size(n->ids) < WORD_ID_MAX) {
        id = g_hash_table_size(n->ids) + 1;
        g_hash_table_insert(n->ids, g_strdup(n->word->str), GUINT_TO_POINTER(id));
    }
    g_array_append_val(n->out, id);
}

/* the numbers of the words of len bytes of text */
static GArray *word_ids(const QuoteLetters *l, const char *text, gsize len, gboolean add)
{
    Numbering n = {l->ids, add, g_string_new(NULL), g_array_new(FALSE, FALSE, sizeof(guint))};
    for_each_word(text, len, number_word, &n);
    g_string_free(n.word, TRUE);
    return n.out;
}

static void count_word(const char *word, gsize len, gpointer data)
{
    (*(guint *)data)++;
}

static guint count_words(const char *text, gsize len)
{
    guint n = 0;
    for_each_word(text, len, count_word, &n);
    return n;
}

#define WORD(a, i) g_array_index((a), guint, (i))

static guint64 run_key(GArray *ids, guint from, guint n)
{
    guint64 key = (guint64)n << (3 * WORD_ID_BITS);
    for (guint i = 0; i < n; i++)
        key |= (guint64)WORD(ids, from + i) << (WORD_ID_BITS * (2 - i));
    return key;
}

/* g_int64_hash keeps the low 32 bits only, where a run of one or two words has nothing */
static guint run_hash(gconstpointer key)
{
    guint64 x = *(const guint64 *)key;
    x ^= x >> 33;
    x *= G_GUINT64_CONSTANT(0xff51afd7ed558ccd);
    x ^= x >> 33;
    return (guint)x;
}

static void add_runs(QuoteLetters *l, GArray *ids)
{
    for (guint i = 0; i < ids->len; i++) {
        for (guint n = 1; n <= 3 && i + n <= ids->len; n++) {
            guint64 key = run_key(ids, i, n);
            if (!g_hash_table_contains(l->runs, &key))
                g_hash_table_add(l->runs, g_memdup2(&key, sizeof key));
        }
    }
}

/* the words ids[from, to) occur in this order in one of our letters */
static gboolean words_are_ours(const QuoteLetters *l, GArray *ids, guint from, guint to)
{
    for (guint i = from; i < to; i++) {
        if (WORD(ids, i) == 0)
            return FALSE; /* a word no letter of ours has */
    }
    if (to - from <= 3) {
        guint64 key = run_key(ids, from, to - from);
        return to == from || g_hash_table_contains(l->runs, &key);
    }
    for (guint i = from; i + 3 <= to; i++) {
        guint64 key = run_key(ids, i, 3);
        if (!g_hash_table_contains(l->runs, &key))
            return FALSE;
    }
    return TRUE;
}

static gboolean ids_start_with(GArray *ids, GArray *prefix)
{
    if (prefix->len > ids->len)
        return FALSE;
    for (guint i = 0; i < prefix->len; i++) {
        if (WORD(ids, i) != WORD(prefix, i) || WORD(ids, i) == 0)
            return FALSE;
    }
    return TRUE;
}

/* a line without its quote markers ("> ", ">> ", "> > ", a tab) and surrounding white space */
static char *line_unquoted(const Line *l)
{
    gsize i = 0;
    while (i < l->len && (l->start[i] == '>' || l->start[i] == ' ' || l->start[i] == '\t'))
        i++;
    return g_strstrip(g_strndup(l->start + i, l->len - i));
}

/* "Label: value" on a line: the label's key (its 1 to LABEL_MAX_WORDS word numbers, the
 * line's start; NULL when a word is not ours) and where the value starts; FALSE when the
 * line is no such thing */
static gboolean line_label(const QuoteLetters *l, const char *line, gboolean add, char **key,
                           const char **value)
{
    const char *colon = strchr(line, ':');
    if (!colon || colon == line)
        return FALSE;
    g_autoptr(GArray) ids = word_ids(l, line, (gsize)(colon - line), add);
    if (ids->len == 0 || ids->len > LABEL_MAX_WORDS)
        return FALSE;
    GString *k = g_string_new(NULL);
    for (guint i = 0; i < ids->len; i++)
        g_string_append_printf(k, "%u ", WORD(ids, i));
    *key = g_string_free(k, FALSE);
    *value = colon + 1;
    return TRUE;
}

static void add_labels(QuoteLetters *l, const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **line = lines; *line; line++) {
        char *key = NULL;
        const char *value = NULL;
        if (!line_label(l, *line, TRUE, &key, &value))
            continue;
        GPtrArray *values = g_hash_table_lookup(l->labels, key);
        if (!values) {
            values = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
            g_hash_table_insert(l->labels, key, values);
        } else {
            g_free(key);
        }
        g_ptr_array_add(values, word_ids(l, value, strlen(value), TRUE));
    }
}

QuoteLetters *quote_letters_new(void)
{
    QuoteLetters *l = g_new0(QuoteLetters, 1);
    l->ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    l->runs = g_hash_table_new_full(run_hash, g_int64_equal, g_free, NULL);
    l->labels =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
    l->subjects = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    return l;
}

void quote_letters_free(QuoteLetters *l)
{
    if (!l)
        return;
    g_hash_table_unref(l->ids);
    g_hash_table_unref(l->runs);
    g_hash_table_unref(l->labels);
    g_ptr_array_unref(l->subjects);
    g_free(l);
}

void quote_letters_add(QuoteLetters *l, const char *text, const char *subject)
{
    if (text && *text) {
        gsize len = MIN(strlen(text), (gsize)COMPARE_MAX_BYTES);
        while (len > 0 && ((guchar)text[len] & 0xC0) == 0x80)
            len--;
        g_autoptr(GArray) ids = word_ids(l, text, len, TRUE);
        add_runs(l, ids);
        g_autofree char *bounded = g_strndup(text, len);
        add_labels(l, bounded);
        l->count++;
    }
    if (subject && *subject)
        g_ptr_array_add(l->subjects, word_ids(l, subject, strlen(subject), TRUE));
}

gboolean quote_letters_empty(const QuoteLetters *l)
{
    return !l || l->count == 0;
}

char *quote_subject_bare(const char *subject)
{
    /* "Re:", "TL:", "Fwd:", "TV:", "AW:" and the like, any number of them */
    static GRegex *prefix_re;
    GRegex *re =
        parse_regex(&prefix_re, "^\\s*(?:(?:re|tl|fwd?|tv|aw|sv|rv)\\s*:\\s*)*", G_REGEX_CASELESS);
    return g_regex_replace_literal(re, subject ? subject : "", -1, 0, "", 0, NULL);
}

gboolean quote_letters_subject(const QuoteLetters *l, const char *subject)
{
    if (!l || !subject)
        return FALSE;
    g_autofree char *bare = quote_subject_bare(subject);
    g_autoptr(GArray) ids = word_ids(l, bare, strlen(bare), FALSE);
    for (guint i = 0; i < l->subjects->len; i++) {
        GArray *ours = l->subjects->pdata[i];
        if (ids->len > 0 && ids->len == ours->len && ids_start_with(ids, ours))
            return TRUE;
    }
    return FALSE;
}

typedef enum {
    LINE_OURS,    /* a line of our letter (or nothing but markers and punctuation) */
    LINE_ANSWER,  /* our label with the citizen's value */
    LINE_CITIZEN, /* the citizen's own words */
} LineKind;

/* the remainder of value once its first n words are skipped (NULL: nothing left) */
static char *value_after_words(const char *value, guint n)
{
    const char *p = value;
    for (guint seen = 0; *p && seen < n;) {
        const char *end = p;
        while (*end && *end != ' ' && *end != '\t')
            end++;
        seen += count_words(p, (gsize)(end - p));
        p = end;
        while (*p == ' ' || *p == '\t')
            p++;
    }
    return *p ? g_strdup(p) : NULL;
}

typedef struct {
    guint our_words, all_words; /* counted over every line seen */
    gboolean empty_label;       /* the line is our label with nothing after it */
} LineCount;

/* The citizen's value on a line with one of our labels: NULL when the value is the letter's
 * (the empty block line, a hint line, or the start of one that the mail client wrapped),
 * else "Label: value", without a hint the citizen typed after. */
static char *label_answer(const QuoteLetters *l, const char *line, const char *value,
                          GPtrArray *values, LineCount *count)
{
    g_autoptr(GArray) written = word_ids(l, value, strlen(value), FALSE);
    count->empty_label = written->len == 0;
    guint skip = 0;
    for (guint i = 0; i < values->len; i++) {
        GArray *ours = values->pdata[i];
        if (ids_start_with(ours, written)) {
            count->our_words += written->len;
            return NULL;
        }
        if (ours->len > 0 && ours->len < written->len && ids_start_with(written, ours))
            skip = MAX(skip, ours->len); /* a hint line with the answer typed after it */
    }
    count->our_words += skip;
    g_autofree char *rest = value_after_words(value, skip);
    g_autofree char *label = g_strndup(line, (gsize)(value - line));
    return g_strconcat(label, " ", rest ? g_strstrip(rest) : "", NULL);
}

/* whose a line is; for LINE_ANSWER *answer gets "Label: value" as the citizen's line */
static LineKind line_kind(const QuoteLetters *l, const char *line, char **answer, LineCount *count)
{
    *answer = NULL;
    count->empty_label = FALSE;
    g_autoptr(GArray) ids = word_ids(l, line, strlen(line), FALSE);
    count->all_words += ids->len;
    g_autofree char *key = NULL;
    const char *value = NULL;
    GPtrArray *values = NULL;
    if (line_label(l, line, FALSE, &key, &value) &&
        (values = g_hash_table_lookup(l->labels, key))) {
        count->our_words += count_words(line, (gsize)(value - line));
        *answer = label_answer(l, line, value, values, count);
        return *answer ? LINE_ANSWER : LINE_OURS;
    }
    if (words_are_ours(l, ids, 0, ids->len)) {
        count->our_words += ids->len;
        return LINE_OURS;
    }
    return LINE_CITIZEN;
}

/* the attribution, separator and header lines at the top of a quote ("On ... wrote:",
 * "-----Original Message-----", "From: / Sent: / To: / Subject:"): the citizen wrote none */
static gboolean quote_header_line(GArray *lines, guint i)
{
    const Line *l = &g_array_index(lines, Line, i);
    g_autofree char *text = line_unquoted(l);
    if (!*text)
        return TRUE;
    Line unquoted = {text, strlen(text)};
    g_autofree char *folded = line_fold(&unquoted);
    if (!folded)
        return FALSE;
    if (ends_with_wrote(folded) || is_original_message_line(folded) || is_forward_marker(folded) ||
        header_label(folded, from_labels) || header_label(folded, other_labels) ||
        strspn(folded, "-_") == strlen(folded))
        return TRUE;
    /* an attribution wrapped over two lines: "On ... <" / "paht@...> wrote:" */
    for (guint k = i + 1; k < lines->len && k <= i + 1; k++) {
        g_autofree char *next_text = line_unquoted(&g_array_index(lines, Line, k));
        Line next = {next_text, strlen(next_text)};
        g_autofree char *next_folded = line_fold(&next);
        if (next_folded && ends_with_wrote(next_folded) && starts_attribution(folded))
            return TRUE;
    }
    return FALSE;
}

static gboolean colon_within_text(const char *s, gsize n)
{
    Line l = {s, strlen(s)};
    return colon_within(&l, n);
}

static void append_group_line(GString *out, const char *line, gboolean *new_group)
{
    if (out->len)
        g_string_append(out, *new_group ? "\n\n" : "\n");
    g_string_append(out, line);
    *new_group = FALSE;
}

char *quote_citizen_lines(const char *quoted, const QuoteLetters *letters, guint *our_words,
                          guint *all_words)
{
    *our_words = *all_words = 0;
    if (!quoted || !letters)
        return NULL;
    gsize len = strlen(quoted);
    if (len > COMPARE_MAX_BYTES) {
        /* whole lines only: a line cut short is no line of ours, and not the citizen's */
        const char *nl = g_strrstr_len(quoted, COMPARE_MAX_BYTES, "\n");
        len = nl ? (gsize)(nl - quoted) : 0;
    }
    g_autofree char *bounded = g_strndup(quoted, len);
    g_autoptr(GArray) lines = split_lines(bounded);
    GString *out = g_string_new(NULL);
    gboolean header = TRUE, new_group = FALSE, wrapped_answer = FALSE;
    LineCount count = {0};
    for (guint i = 0; i < lines->len; i++) {
        if (header && quote_header_line(lines, i))
            continue;
        g_autofree char *line = line_unquoted(&g_array_index(lines, Line, i));
        char *answer = NULL;
        LineKind kind = line_kind(letters, line, &answer, &count);
        if (kind == LINE_OURS) {
            /* our words between the citizen's: a new paragraph, so that no phrase is read
             * across them */
            header = header && !*line;
            new_group = TRUE;
            wrapped_answer = FALSE;
            continue;
        }
        header = FALSE;
        if (kind == LINE_CITIZEN && wrapped_answer && !colon_within_text(line, 40)) {
            /* the rest of an answer the mail client wrapped ("> Địa điểm: ... cạnh tiệm" /
             * "> tạp hóa Thanh Bình") */
            g_string_append_c(out, ' ');
            g_string_append(out, line);
        } else {
            append_group_line(out, kind == LINE_ANSWER ? answer : line, &new_group);
        }
        wrapped_answer = (kind == LINE_ANSWER || wrapped_answer) &&
                         g_utf8_strlen(line, -1) >= WRAPPED_LINE_MIN_CHARS;
        g_free(answer);
    }
    *our_words = count.our_words;
    *all_words = count.all_words;
    return finish(out);
}

char *quote_drop_copied_lines(const char *text, const QuoteLetters *letters)
{
    if (!text || quote_letters_empty(letters))
        return g_strdup(text);
    g_autoptr(GArray) lines = split_lines(text);
    GString *out = g_string_new(NULL);
    for (guint i = 0; i < lines->len; i++) {
        const Line *l = &g_array_index(lines, Line, i);
        if (i > 0)
            g_string_append_c(out, '\n');
        g_autofree char *line = g_strstrip(g_strndup(l->start, l->len));
        gboolean copied = FALSE;
        if ((gsize)(l->start - text) + l->len <= COMPARE_MAX_BYTES && *line) {
            LineCount count = {0};
            char *answer = NULL;
            LineKind kind = line_kind(letters, line, &answer, &count);
            g_free(answer);
            /* a hint or a paragraph of ours pasted back; a block line without its value
             * stays (the citizen may write the value on the next line) */
            copied =
                kind == LINE_OURS && count.all_words >= COPIED_LINE_MIN_WORDS && !count.empty_label;
        }
        if (!copied)
            g_string_append_len(out, l->start, (gssize)l->len);
    }
    /* the lines left out leave no run of empty lines behind */
    static GRegex *blank_re;
    GRegex *re = parse_regex(&blank_re, "\n[ \t]*(?:\n[ \t]*)+\n", 0);
    g_autofree char *joined = g_string_free(out, FALSE);
    g_autofree char *collapsed = g_regex_replace_literal(re, joined, -1, 0, "\n\n", 0, NULL);
    char *result = finish(g_string_new(collapsed));
    return result ? result : g_strdup("");
}

/* our address, or our reply address "local+token@domain"; NULL without an address */
static GRegex *our_address_regex(const char *our_address)
{
    const char *at = our_address ? strchr(our_address, '@') : NULL;
    if (!at || at == our_address)
        return NULL;
    g_autofree char *local = g_regex_escape_string(our_address, (gint)(at - our_address));
    g_autofree char *domain = g_regex_escape_string(at + 1, -1);
    g_autofree char *pattern = g_strdup_printf(
        "(?<![A-Za-z0-9._%%+-])%s(?:\\+[A-Za-z0-9]+)?@%s(?![A-Za-z0-9-])", local, domain);
    return regex_kept(pattern, G_REGEX_CASELESS);
}

static gboolean line_matches(GRegex *re, const Line *l)
{
    g_autofree char *line = g_strndup(l->start, l->len);
    return g_regex_match(re, line, 0, NULL);
}

gboolean quote_names_us(const char *quoted, const char *our_address, const char *code_prefix)
{
    if (!quoted)
        return FALSE;
    gsize len = MIN(strlen(quoted), (gsize)COMPARE_MAX_BYTES);
    g_autofree char *bounded = g_strndup(quoted, len);
    if (code_prefix && *code_prefix) {
        g_autofree char *escaped = g_regex_escape_string(code_prefix, -1);
        g_autofree char *pattern =
            g_strdup_printf("(?<![A-Za-z0-9])%s-\\d{4}-\\d{6}(?![0-9])", escaped);
        g_autoptr(GRegex) code = regex_kept(pattern, G_REGEX_CASELESS);
        if (code && g_regex_match(code, bounded, 0, NULL))
            return TRUE;
    }
    g_autoptr(GRegex) re = our_address_regex(our_address);
    if (!re)
        return FALSE;
    /* in the quote's header lines */
    g_autoptr(GArray) lines = split_lines(bounded);
    for (guint i = 0; i < lines->len && quote_header_line(lines, i); i++) {
        if (line_matches(re, &g_array_index(lines, Line, i)))
            return TRUE;
    }
    return FALSE;
}

gboolean quote_forward_of_ours(const char *text, const char *our_address, char **kept_out,
                               char **quoted_out)
{
    *kept_out = *quoted_out = NULL;
    if (!text)
        return FALSE;
    gsize len = MIN(strlen(text), (gsize)COMPARE_MAX_BYTES);
    g_autofree char *bounded = g_strndup(text, len);
    g_autoptr(GArray) lines = split_lines(bounded);
    g_autoptr(GRegex) re = NULL; /* made at the first marker: most texts have none */
    for (guint i = 0; i < lines->len; i++) {
        if (!line_is_forward_marker(&g_array_index(lines, Line, i)))
            continue;
        if (!re && !(re = our_address_regex(our_address)))
            return FALSE;
        /* "From: Trung tâm IOC <paht@...>" in the forwarded header block */
        for (guint k = i + 1; k < lines->len && k <= i + 6; k++) {
            if (!line_matches(re, &g_array_index(lines, Line, k)))
                continue;
            gsize at = (gsize)(g_array_index(lines, Line, i).start - bounded);
            g_autofree char *kept = g_strndup(text, at);
            *kept_out = g_strstrip(g_strdup(kept));
            if (!**kept_out)
                g_clear_pointer(kept_out, g_free);
            *quoted_out = g_strdup(text + at);
            return TRUE;
        }
    }
    return FALSE;
}
