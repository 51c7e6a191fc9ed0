/* The console's search (issue 13): what the IOC types in the queue's search box, turned into
 * an FTS5 query of report_search, the index the store keeps of every report (migration of
 * issue 13, phase 2, in store.c). The folding matches the index's: "đ"/"Đ" become "d" here
 * and in the index's triggers, the tokenizer (unicode61, remove_diacritics 2) drops the other
 * marks and the case on both sides, so "den duong" finds "Đèn đường" and "ĐÈN" finds "đèn". */
#include "queue/store_internal.h"
#include "util/util.h"

#include <math.h>
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

gboolean report_search_forget(Store *store, GError **error)
{
    /* FTS5 records a deletion as a marker in a new segment: the erased words stay in the
     * older segments' bytes until they are merged. 'optimize' merges them all into one,
     * without what was deleted (SQLite 3.42's secure-delete would do it at each deletion;
     * Debian 12 has 3.40). */
    return store_exec(store, "INSERT INTO report_search(report_search) VALUES ('optimize')", error);
}

/* ---- possible duplicates ----------------------------------------------------------------------
 * Several citizens report one broken light (FixMyStreet shows "nearby reports" for the same
 * reason): the report page lists the other open reports of the last 30 days that lie within
 * 150 m of this one's coordinates, or whose place, subject and text share enough pairs of
 * adjacent words ("đèn đường", "lê lợi") with this one's. Pairs, not single words:
 * Vietnamese words are syllables, and single syllables ("đường", "nhà", "bị") are shared by
 * nearly every report. The measure is Dice's coefficient over the two sets of pairs, compared
 * with diacritics dropped (citizens type "den duong" too); the threshold is the one the
 * fixtures of tests/unit/test_queue_search.c separate (SEARCH_DUPLICATE_MIN_DICE). */

#define DUPLICATE_WINDOW_DAYS  30
#define DUPLICATE_NEAR_METRES  150.0
#define DUPLICATE_CANDIDATES   2000
#define DUPLICATE_SHARED_SHOWN 6
/* what of a text is compared: its beginning, where a citizen says what is wrong (a report
 * page compares hundreds of texts, some of them long mails) */
#define DUPLICATE_TEXT_CHARS 800

void possible_duplicate_free(PossibleDuplicate *d)
{
    if (!d)
        return;
    g_free(d->code);
    g_free(d->state);
    g_strfreev(d->shared);
    g_free(d);
}

/* a word compared without its marks: each letter's base (its canonical decomposition's
 * first character), marks dropped, "đ" as "d" (a report page keys thousands of words: no
 * allocation per letter) */
static void append_key(GString *key, const char *word)
{
    for (const char *p = word; *p; p = g_utf8_next_char(p)) {
        if ((guchar)*p < 0x80) {
            g_string_append_c(key, *p);
            continue;
        }
        gunichar c = g_utf8_get_char(p), parts[G_UNICHAR_MAX_DECOMPOSITION_LENGTH];
        gsize n = g_unichar_fully_decompose(c, FALSE, parts, G_N_ELEMENTS(parts));
        gunichar base = n ? parts[0] : c;
        GUnicodeType t = g_unichar_type(base);
        if (t == G_UNICODE_NON_SPACING_MARK || t == G_UNICODE_SPACING_MARK ||
            t == G_UNICODE_ENCLOSING_MARK)
            continue;
        g_string_append_unichar(key, base == 0x0111 ? 'd' : base);
    }
}

/* A line of a form rather than of prose: "Họ và tên: ...", "Điện thoại: ...", "Địa điểm: ...",
 * a link ("https://..."): a label of at most four words before a colon. Citizens copy the
 * province's template (Điều 4), so these labels are in nearly every report and say nothing
 * of the problem; their values are the citizen's, or the place compared on its own. */
static gboolean form_line(const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon || colon - line > 60)
        return FALSE;
    int words = 0;
    gboolean in_word = FALSE;
    for (const char *p = line; p < colon; p++) {
        gboolean space = g_ascii_isspace(*p);
        words += !space && !in_word;
        in_word = !space;
    }
    return words >= 1 && words <= 4;
}

/* the prose of text: its lines but those of a form */
static char *prose_of(const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    GString *out = g_string_new(NULL);
    for (char **l = lines; *l; l++)
        if (!form_line(*l))
            g_string_append_printf(out, "%s\n", *l);
    return g_string_free(out, FALSE);
}

/* the pairs of adjacent words of text into pairs: key -> the pair as written (lower case) */
static void add_word_pairs(GHashTable *pairs, const char *text)
{
    if (!text || !g_utf8_validate(text, -1, NULL))
        return;
    /* the store's text is NFC already (parse): no normalization here */
    g_autofree char *lower = g_utf8_strdown(text, -1);
    GString *word = g_string_new(NULL), *key = g_string_new(NULL);
    GString *prev = g_string_new(NULL), *prev_key = g_string_new(NULL);
    for (const char *p = lower;; p = g_utf8_next_char(p)) {
        gunichar c = *p ? g_utf8_get_char(p) : 0;
        if (c && token_char(c)) {
            g_string_append_len(word, p, g_utf8_next_char(p) - p);
            continue;
        }
        if (word->len) {
            g_string_truncate(key, 0);
            append_key(key, word->str);
            if (prev->len) {
                char *pair_key = g_strconcat(prev_key->str, " ", key->str, NULL);
                if (!g_hash_table_contains(pairs, pair_key))
                    g_hash_table_insert(pairs, pair_key,
                                        g_strconcat(prev->str, " ", word->str, NULL));
                else
                    g_free(pair_key);
            }
            g_string_assign(prev, word->str);
            g_string_assign(prev_key, key->str);
            g_string_truncate(word, 0);
        }
        if (!c)
            break;
    }
    g_string_free(word, TRUE);
    g_string_free(key, TRUE);
    g_string_free(prev, TRUE);
    g_string_free(prev_key, TRUE);
}

/* a report's pairs of words: those of its place, and those of its subject and text */
typedef struct {
    GHashTable *place, *text; /* key (no marks) -> the pair as written (lower case) */
    char *kept;               /* the stored keys the tables point into (word_pairs_read) */
    GPtrArray *own; /* key, value, key, ...: the text's pairs not of the place (word_pairs_own) */
} WordPairs;

static void word_pairs_clear(WordPairs *w)
{
    g_clear_pointer(&w->place, g_hash_table_unref);
    g_clear_pointer(&w->text, g_hash_table_unref);
    g_clear_pointer(&w->kept, g_free);
    g_clear_pointer(&w->own, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(WordPairs, word_pairs_clear)

static WordPairs word_pairs_of(const char *place, const char *subject, const char *text)
{
    WordPairs w = {g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
                   g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free), NULL, NULL};
    /* one field's last word and the next field's first are no pair */
    add_word_pairs(w.place, place);
    add_word_pairs(w.text, subject);
    if (text && !g_utf8_validate(text, -1, NULL))
        text = NULL;
    g_autofree char *start =
        text ? g_utf8_substring(text, 0, MIN(g_utf8_strlen(text, -1), DUPLICATE_TEXT_CHARS)) : NULL;
    g_autofree char *prose = start ? prose_of(start) : NULL;
    add_word_pairs(w.text, prose);
    return w;
}

/* the pairs of mine found in any of theirs (into shared, as I write them) */
static guint shared_pairs(GHashTable *mine, GHashTable *theirs, GHashTable *theirs_too,
                          GHashTable *left_out, GHashTable *left_out_too, GPtrArray *shared)
{
    guint n = 0;
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, mine);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        if ((left_out && g_hash_table_contains(left_out, key)) ||
            (left_out_too && g_hash_table_contains(left_out_too, key)))
            continue;
        if (g_hash_table_contains(theirs, key) ||
            (theirs_too && g_hash_table_contains(theirs_too, key))) {
            n++;
            if (shared)
                g_ptr_array_add(shared, g_strdup(value));
        }
    }
    return n;
}

static guint pairs_besides(GHashTable *pairs, GHashTable *left_out, GHashTable *left_out_too)
{
    if (!left_out)
        return g_hash_table_size(pairs);
    guint n = 0;
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, pairs);
    while (g_hash_table_iter_next(&it, &key, NULL))
        n += !g_hash_table_contains(left_out, key) && !g_hash_table_contains(left_out_too, key);
    return n;
}

/* The page's own report is compared with hundreds: the pairs of its text that are not of its
 * place are listed once (in the text's order, so that the shared words come out as before) */
static void word_pairs_own(WordPairs *w)
{
    w->own = g_ptr_array_new();
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, w->text);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        if (!g_hash_table_contains(w->place, key)) {
            g_ptr_array_add(w->own, key);
            g_ptr_array_add(w->own, value);
        }
    }
}

/* the keys of few found in in and not in not_in (may be NULL) */
static guint pairs_in(GHashTable *few, GHashTable *in, GHashTable *not_in)
{
    guint n = 0;
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, few);
    while (g_hash_table_iter_next(&it, &key, NULL))
        n += g_hash_table_contains(in, key) && !(not_in && g_hash_table_contains(not_in, key));
    return n;
}

/* Dice's coefficient of the texts without both places' pairs, as word_pairs_similarity
 * counts it, from a's own list: the places are a few pairs, so what they take out of each
 * text is counted from their side, and each of a's pairs is looked up once in b's text; -1
 * when either text has no pair left to compare */
static double own_text_similarity(const WordPairs *a, const WordPairs *b, GPtrArray *shared)
{
    guint na = a->own->len / 2 - pairs_in(b->place, a->text, a->place);
    guint nb = g_hash_table_size(b->text) - pairs_in(b->place, b->text, NULL) -
               pairs_in(a->place, b->text, b->place);
    if (!na || !nb)
        return -1;
    guint both = 0;
    for (guint i = 0; i < a->own->len; i += 2) {
        const char *key = g_ptr_array_index(a->own, i);
        if (g_hash_table_contains(b->text, key) && !g_hash_table_contains(b->place, key)) {
            both++;
            if (shared && shared->len < DUPLICATE_SHARED_SHOWN) /* no more are shown */
                g_ptr_array_add(shared, g_strdup(g_ptr_array_index(a->own, i + 1)));
        }
    }
    return 2.0 * both / (na + nb);
}

/* Where both name a place, they must share a pair of it (in the other's place or text), and
 * the street's name then counts no more for the text: a broken light and a pile of rubbish
 * in the same street are two reports. The text's measure is Dice's coefficient of the
 * subject's and text's pairs. */
static double word_pairs_similarity(const WordPairs *a, const WordPairs *b, GPtrArray *shared)
{
    gboolean both_placed = g_hash_table_size(a->place) && g_hash_table_size(b->place);
    g_autoptr(GPtrArray) places = g_ptr_array_new_with_free_func(g_free);
    if (both_placed && !shared_pairs(a->place, b->place, b->text, NULL, NULL, places) &&
        !shared_pairs(b->place, a->text, NULL, NULL, NULL, NULL))
        return 0;
    double dice;
    if (both_placed && a->own) {
        if ((dice = own_text_similarity(a, b, shared)) < 0)
            return 0;
    } else {
        GHashTable *out = both_placed ? a->place : NULL, *out_too = both_placed ? b->place : NULL;
        guint na = pairs_besides(a->text, out, out_too), nb = pairs_besides(b->text, out, out_too);
        if (!na || !nb)
            return 0;
        dice = 2.0 * shared_pairs(a->text, b->text, NULL, out, out_too, shared) / (na + nb);
    }
    /* the words of the text first: they say what is alike; then those of the place */
    for (guint i = 0; shared && i < places->len; i++)
        g_ptr_array_add(shared, g_strdup(g_ptr_array_index(places, i)));
    return dice;
}

double search_text_similarity(const char *place_a, const char *subject_a, const char *text_a,
                              const char *place_b, const char *subject_b, const char *text_b)
{
    g_auto(WordPairs) a = word_pairs_of(place_a, subject_a, text_a);
    g_auto(WordPairs) b = word_pairs_of(place_b, subject_b, text_b);
    return word_pairs_similarity(&a, &b, NULL);
}

/* metres between two points on the Earth (haversine; a sphere is close enough at 150 m) */
double search_distance_m(double lat1, double lon1, double lat2, double lon2)
{
    const double r = 6371008.8, rad = G_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double h = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * r * asin(MIN(1.0, sqrt(h)));
}

/* The candidates, with their stored pairs (report_word_pairs) or, where none is stored yet,
 * what they are made of: the text is read only for those. */
static const char duplicate_candidates_sql[] =
    "SELECT r.id, r.code, r.state, r.received_at, w.place, w.text,"
    " CASE WHEN w.report_id IS NULL THEN r.location_text END,"
    " CASE WHEN w.report_id IS NULL THEN r.subject END,"
    " CASE WHEN w.report_id IS NULL THEN substr(r.body, 1, " G_STRINGIFY(
        DUPLICATE_TEXT_CHARS) ") END,"
                              " r.location_lat, r.location_lon"
                              " FROM report r LEFT JOIN report_word_pairs w ON w.report_id = r.id"
                              " WHERE r.state IN ('draft', 'incomplete', 'returned', 'assigned',"
                              " 'coordinating', 'extended', 'result_submitted', 'approved')"
                              " AND r.received_at >= ?1 AND r.id <> ?2"
                              " ORDER BY r.received_at DESC LIMIT ?3";
enum {
    CANDIDATE_ID,
    CANDIDATE_CODE,
    CANDIDATE_STATE,
    CANDIDATE_RECEIVED,
    CANDIDATE_PAIRS_PLACE,
    CANDIDATE_PAIRS_TEXT,
    CANDIDATE_PLACE,
    CANDIDATE_SUBJECT,
    CANDIDATE_TEXT,
    CANDIDATE_LAT,
    CANDIDATE_LON,
};

/* A report's pairs as report_word_pairs keeps them: the keys alone (a neighbour's pairs are
 * only looked up; the words shown are the page's own report's), one a line. The row is
 * written from the very texts the pairs were made of, and only while the report still has
 * them: a change in between (an edit, an erasure) is not overwritten by older pairs. */
static const char word_pairs_store_sql[] =
    "INSERT OR REPLACE INTO report_word_pairs(report_id, place, text)"
    " SELECT ?1, ?2, ?3 FROM report WHERE id = ?1 AND location_text IS ?4 AND subject IS ?5"
    " AND substr(body, 1, " G_STRINGIFY(DUPLICATE_TEXT_CHARS) ") IS ?6";

static char *word_pairs_keys(GHashTable *pairs)
{
    GString *out = g_string_new(NULL);
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, pairs);
    while (g_hash_table_iter_next(&it, &key, NULL))
        g_string_append_printf(out, "%s\n", (const char *)key);
    return g_string_free(out, FALSE);
}

/* the keys of text (one a line) into pairs, pointing into text, which the caller keeps */
static void word_pairs_add_keys(GHashTable *pairs, char *text)
{
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        if (*line)
            g_hash_table_add(pairs, line);
        if (!end)
            break;
        line = end + 1;
    }
}

/* the stored pairs of a candidate: its place's keys and its text's, in one buffer */
static WordPairs word_pairs_read(const char *place, const char *text)
{
    gsize np = strlen(place);
    WordPairs w = {g_hash_table_new(g_str_hash, g_str_equal),
                   g_hash_table_new(g_str_hash, g_str_equal), NULL, NULL};
    w.kept = g_strconcat(place, "\n", text, NULL);
    w.kept[np] = '\0';
    word_pairs_add_keys(w.place, w.kept);
    word_pairs_add_keys(w.text, w.kept + np + 1);
    return w;
}

/* the pairs a candidate row is made of, to store once its page is drawn */
typedef struct {
    gint64 id;
    char *place, *subject, *text; /* as read (may be NULL) */
    char *keys_place, *keys_text;
} NewPairs;

static void new_pairs_free(NewPairs *n)
{
    g_free(n->place);
    g_free(n->subject);
    g_free(n->text);
    g_free(n->keys_place);
    g_free(n->keys_text);
    g_free(n);
}

/* Keeps the pairs made for this page (report_word_pairs), so that the next
 * page reads them instead of folding the same texts again; a failure costs only speed. */
static void word_pairs_store(Store *store, GPtrArray *made)
{
    if (!made->len)
        return;
    GError *error = NULL;
    sqlite3_stmt *stmt = NULL;
    gboolean begun = store_begin(store, &error);
    gboolean ok = begun && (stmt = store_statement(store, word_pairs_store_sql, &error)) != NULL;
    for (guint i = 0; ok && i < made->len; i++) {
        const NewPairs *n = g_ptr_array_index(made, i);
        sqlite3_bind_int64(stmt, 1, n->id);
        sqlite3_bind_text(stmt, 2, n->keys_place, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, n->keys_text, -1, SQLITE_STATIC);
        bind_text_or_null(stmt, 4, n->place);
        bind_text_or_null(stmt, 5, n->subject);
        bind_text_or_null(stmt, 6, n->text);
        ok = sqlite3_step(stmt) == SQLITE_DONE || store_fail(store, &error, "keep word pairs");
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
    }
    if (!ok && begun)
        store_rollback(store);
    if (ok && store_commit(store, &error)) /* a failed commit rolls back itself */
        return;
    log_warning("possible duplicates: the word pairs were not kept: %s",
                error ? error->message : "?");
    g_clear_error(&error);
}

static gint compare_duplicates(gconstpointer pa, gconstpointer pb)
{
    const PossibleDuplicate *a = *(PossibleDuplicate *const *)pa;
    const PossibleDuplicate *b = *(PossibleDuplicate *const *)pb;
    if (a->near != b->near)
        return a->near ? -1 : 1;
    if (a->near && a->distance_m != b->distance_m)
        return a->distance_m < b->distance_m ? -1 : 1;
    if (a->similarity != b->similarity)
        return a->similarity > b->similarity ? -1 : 1;
    return a->received_at > b->received_at ? -1 : a->received_at < b->received_at;
}

/* a candidate's pairs: those stored, or made now from its texts (noted in made, to keep) */
static WordPairs candidate_pairs(sqlite3_stmt *stmt, GPtrArray *made)
{
    const char *kept_place = (const char *)sqlite3_column_text(stmt, CANDIDATE_PAIRS_PLACE);
    const char *kept_text = (const char *)sqlite3_column_text(stmt, CANDIDATE_PAIRS_TEXT);
    if (kept_place && kept_text)
        return word_pairs_read(kept_place, kept_text);
    NewPairs *n = g_new0(NewPairs, 1);
    n->id = sqlite3_column_int64(stmt, CANDIDATE_ID);
    n->place = column_text(stmt, CANDIDATE_PLACE);
    n->subject = column_text(stmt, CANDIDATE_SUBJECT);
    n->text = column_text(stmt, CANDIDATE_TEXT);
    WordPairs w = word_pairs_of(n->place, n->subject, n->text);
    n->keys_place = word_pairs_keys(w.place);
    n->keys_text = word_pairs_keys(w.text);
    g_ptr_array_add(made, n);
    return w;
}

/* the candidate of a row, or NULL when it is neither near nor similar */
static PossibleDuplicate *duplicate_of_row(sqlite3_stmt *stmt, const Report *r,
                                           const WordPairs *pairs, GPtrArray *made)
{
    gboolean has_coordinates = sqlite3_column_type(stmt, CANDIDATE_LAT) != SQLITE_NULL &&
                               sqlite3_column_type(stmt, CANDIDATE_LON) != SQLITE_NULL;
    double distance = -1;
    if (r->location.has_coordinates && has_coordinates)
        distance = search_distance_m(r->location.lat, r->location.lon,
                                     sqlite3_column_double(stmt, CANDIDATE_LAT),
                                     sqlite3_column_double(stmt, CANDIDATE_LON));
    gboolean near = distance >= 0 && distance <= DUPLICATE_NEAR_METRES;
    g_auto(WordPairs) theirs = candidate_pairs(stmt, made);
    g_autoptr(GPtrArray) shared = g_ptr_array_new_with_free_func(g_free);
    double similarity = word_pairs_similarity(pairs, &theirs, shared);
    if (!near && similarity < SEARCH_DUPLICATE_MIN_DICE)
        return NULL;
    PossibleDuplicate *d = g_new0(PossibleDuplicate, 1);
    d->id = sqlite3_column_int64(stmt, CANDIDATE_ID);
    d->code = column_text(stmt, CANDIDATE_CODE);
    d->state = column_text(stmt, CANDIDATE_STATE);
    d->received_at = sqlite3_column_int64(stmt, CANDIDATE_RECEIVED);
    d->near = near;
    d->distance_m = distance;
    d->similarity = similarity;
    if (shared->len > DUPLICATE_SHARED_SHOWN)
        g_ptr_array_set_size(shared, DUPLICATE_SHARED_SHOWN);
    g_ptr_array_add(shared, NULL);
    d->shared = (char **)g_ptr_array_steal(shared, NULL);
    return d;
}

GPtrArray *report_possible_duplicates(Store *store, const Report *r, gint64 now, int limit,
                                      GError **error)
{
    sqlite3_stmt *stmt = store_statement(store, duplicate_candidates_sql, error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, now - (gint64)DUPLICATE_WINDOW_DAYS * 86400);
    sqlite3_bind_int64(stmt, 2, r->id);
    sqlite3_bind_int(stmt, 3, DUPLICATE_CANDIDATES);
    g_auto(WordPairs) pairs = word_pairs_of(r->location.text, r->subject, r->text);
    word_pairs_own(&pairs);
    GPtrArray *found = g_ptr_array_new_with_free_func((GDestroyNotify)possible_duplicate_free);
    g_autoptr(GPtrArray) made = g_ptr_array_new_with_free_func((GDestroyNotify)new_pairs_free);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        PossibleDuplicate *d = duplicate_of_row(stmt, r, &pairs, made);
        if (d)
            g_ptr_array_add(found, d);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        g_ptr_array_unref(found);
        store_fail(store, error, "find possible duplicates");
        return NULL;
    }
    word_pairs_store(store, made);
    g_ptr_array_sort(found, compare_duplicates);
    if (limit > 0 && found->len > (guint)limit)
        g_ptr_array_set_size(found, limit);
    return found;
}
