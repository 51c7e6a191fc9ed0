/* notify/letter.c: a letter from two templates, composed with GMime.
 *
 * Every value that may come from a citizen (names, the subject that quotes theirs, addresses,
 * Message-IDs) reaches a header only through GMime's structured API, after it was decoded,
 * stripped of control characters and validated here: a name can never add a header, and an
 * address can never add a recipient (SPEC §7, §8 "header injection").
 */
#include "notify/notify_private.h"
#include "util/util.h"

#include <gmime/gmime.h>
#include <string.h>
#include <sys/stat.h>

/* RFC 5322 §3.6.4 lets References grow without bound; keep the first and the newest ones */
#define LETTER_MAX_REFERENCES 20
/* a template is a page of text; anything much larger is a mistake in templates_dir */
#define LETTER_MAX_TEMPLATE_BYTES (1024 * 1024)

/* GMime 3.2 declares no autoptr cleanups of its own */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeMessage, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeMultipart, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeObject, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeStream, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(InternetAddressList, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeContentType, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeDataWrapper, g_object_unref)

static gpointer gmime_init_once(gpointer unused)
{
    g_mime_init();
    return NULL;
}

static void ensure_gmime(void)
{
    static GOnce once = G_ONCE_INIT;
    g_once(&once, gmime_init_once, NULL);
}

/* ---- addresses and header values ------------------------------------------------------------ */

static gboolean is_atext(char c)
{
    return g_ascii_isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

gboolean notify_address_is_plain(const char *address)
{
    if (!address)
        return FALSE;
    gsize len = strlen(address);
    const char *at = strchr(address, '@');
    if (len < 3 || len > 254 || !at || strchr(at + 1, '@'))
        return FALSE;
    gsize local_len = (gsize)(at - address);
    if (local_len == 0 || local_len > 64)
        return FALSE;
    /* local part: dot-atom (RFC 5322 §3.2.3), no quoted strings */
    for (gsize i = 0; i < local_len; i++) {
        char c = address[i];
        if (c == '.') {
            if (i == 0 || i + 1 == local_len || address[i + 1] == '.')
                return FALSE;
        } else if (!is_atext(c)) {
            return FALSE;
        }
    }
    /* domain: host name labels (letters, digits, hyphens), at least one dot */
    const char *domain = at + 1;
    if (!*domain || !strchr(domain, '.'))
        return FALSE;
    gsize label = 0;
    for (const char *p = domain;; p++) {
        if (*p == '.' || *p == '\0') {
            if (label == 0 || label > 63 || p[-1] == '-')
                return FALSE;
            if (*p == '\0')
                break;
            label = 0;
        } else if (g_ascii_isalnum(*p) || (*p == '-' && label > 0)) {
            label++;
        } else {
            return FALSE;
        }
    }
    return TRUE;
}

/* GMime parses it back as exactly one mailbox with the same address: no group, no list */
static gboolean address_is_single_mailbox(const char *address)
{
    if (!notify_address_is_plain(address))
        return FALSE;
    g_autoptr(InternetAddressList) list = internet_address_list_parse(NULL, address);
    if (!list || internet_address_list_length(list) != 1)
        return FALSE;
    InternetAddress *first = internet_address_list_get_address(list, 0);
    return INTERNET_ADDRESS_IS_MAILBOX(first) &&
           g_ascii_strcasecmp(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(first)),
                              address) == 0;
}

/* A header value from a citizen, made one harmless line: encoded words are decoded first (so
 * that "=?utf-8?q?x=0D=0ABcc:...?=" shows its CR LF and loses it), then control characters
 * become spaces, white space is collapsed and the text is NFC. What still looks like an
 * encoded word after that is broken up, so that no reader decodes it into anything else. */
static char *header_text_clean(const char *value)
{
    char *current = text_header_sanitize(value ? value : "");
    for (int round = 0; round < 4 && strstr(current, "=?"); round++) {
        g_autofree char *decoded = g_mime_utils_header_decode_text(NULL, current);
        char *sanitized = text_header_sanitize(decoded ? decoded : "");
        gboolean unchanged = strcmp(sanitized, current) == 0;
        g_free(current);
        current = sanitized;
        if (unchanged)
            break;
    }
    char *clean = text_clean_line(current);
    g_free(current);
    if (!clean)
        return g_strdup("");
    if (!strstr(clean, "=?"))
        return clean;
    GString *out = g_string_new(NULL);
    for (const char *p = clean; *p; p++) {
        g_string_append_c(out, *p);
        if (p[0] == '=' && p[1] == '?')
            g_string_append_c(out, ' ');
    }
    g_free(clean);
    return g_string_free(out, FALSE);
}

/* ---- RFC 2047 ------------------------------------------------------------------------------
 * We encode header text ourselves, as Q words, instead of letting GMime choose B words: GMime
 * 3.2.13 (Debian 12) truncates adjacent B words when one ends in "=" padding (upstream #133,
 * libraries.md), and it produces exactly such words for Vietnamese subjects, so that a
 * GMime-based reader, our own intake among them, saw "Đã tiếp nhận phản ánh: " and nothing
 * more. Q words have no padding. Only [A-Za-z0-9] stay literal, so a word is valid in a
 * phrase (display names) as well as in text (RFC 2047 §5). */

#define ENCODED_WORD_MAX 75 /* RFC 2047 §2 */
#define PLAIN_WORD_MAX   60 /* longer plain words are encoded too, so that lines can fold */

static void append_q_words(GString *out, const char *text)
{
    const gsize room = ENCODED_WORD_MAX - strlen("=?UTF-8?Q?") - strlen("?=");
    GString *word = g_string_new(NULL);
    for (const char *p = text; *p; p = g_utf8_next_char(p)) {
        char encoded[32];
        gsize n = 0;
        for (const char *c = p; c < g_utf8_next_char(p); c++) {
            unsigned char byte = (unsigned char)*c;
            if (g_ascii_isalnum(byte))
                encoded[n++] = (char)byte;
            else if (byte == ' ')
                encoded[n++] = '_';
            else {
                encoded[n++] = '=';
                encoded[n++] = "0123456789ABCDEF"[byte >> 4];
                encoded[n++] = "0123456789ABCDEF"[byte & 0xf];
            }
        }
        encoded[n] = '\0';
        if (word->len + n > room) { /* never split a character across words */
            g_string_append_printf(out, "%s=?UTF-8?Q?%s?=", out->len ? " " : "", word->str);
            g_string_truncate(word, 0);
        }
        g_string_append(word, encoded);
    }
    if (word->len)
        g_string_append_printf(out, "%s=?UTF-8?Q?%s?=", out->len ? " " : "", word->str);
    g_string_free(word, TRUE);
}

static gboolean word_needs_encoding(const char *word)
{
    if (strlen(word) > PLAIN_WORD_MAX || strstr(word, "=?"))
        return TRUE;
    for (const unsigned char *p = (const unsigned char *)word; *p; p++) {
        if (*p < 0x21 || *p > 0x7e)
            return TRUE;
    }
    return FALSE;
}

/* unstructured text (Subject): plain ASCII words stay readable (the tracking code among
 * them), runs of other words become Q words. Input: one clean line, single spaces. */
static char *header_encode_text(const char *line)
{
    g_auto(GStrv) words = g_strsplit(line, " ", -1);
    GString *out = g_string_new(NULL);
    GString *run = g_string_new(NULL); /* words waiting to be encoded together */
    for (int i = 0; words[i]; i++) {
        if (!*words[i])
            continue;
        if (word_needs_encoding(words[i])) {
            g_string_append_printf(run, "%s%s", run->len ? " " : "", words[i]);
            continue;
        }
        if (run->len) {
            append_q_words(out, run->str);
            g_string_truncate(run, 0);
        }
        /* white space between a plain word and an encoded word is shown (RFC 2047 §6.2) */
        g_string_append_printf(out, "%s%s", out->len ? " " : "", words[i]);
    }
    if (run->len)
        append_q_words(out, run->str);
    g_string_free(run, TRUE);
    return g_string_free(out, FALSE);
}

/* a display name for InternetAddress: ASCII names are left to GMime (it quotes specials),
 * others become Q words as a whole; NULL for an empty name */
static char *header_encode_phrase(const char *name)
{
    if (!name || !*name)
        return NULL;
    g_auto(GStrv) words = g_strsplit(name, " ", -1);
    for (int i = 0; words[i]; i++) {
        if (word_needs_encoding(words[i])) {
            GString *out = g_string_new(NULL);
            append_q_words(out, name);
            return g_string_free(out, FALSE);
        }
    }
    return g_strdup(name);
}

/* A msg-id from a citizen's mail, without <>: visible ASCII, no brackets. NULL if unusable. */
static char *message_id_clean(const char *id)
{
    if (!id)
        return NULL;
    g_autofree char *copy = g_strstrip(g_strdup(id));
    char *start = copy;
    gsize len = strlen(start);
    if (len >= 2 && start[0] == '<' && start[len - 1] == '>') {
        start[len - 1] = '\0';
        start++;
        len -= 2;
    }
    if (len == 0 || len > 250)
        return NULL;
    for (const char *p = start; *p; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '<' || *p == '>')
            return NULL;
    }
    return g_strdup(start);
}

/* "auto-replied" / "auto-generated" (RFC 3834 §5): a keyword, never free text */
static const char *auto_submitted_value(const char *value)
{
    if (!value || !*value || strlen(value) > 40)
        return "auto-generated";
    for (const char *p = value; *p; p++) {
        if (!g_ascii_islower(*p) && *p != '-')
            return "auto-generated";
    }
    return value;
}

/* ---- templates ------------------------------------------------------------------------------ */

typedef struct {
    const char *dir;
    const char *fallback;  /* where a partial missing from dir is read (NULL: nowhere) */
    const char *extension; /* "txt" or "html" */
} PartialFiles;

/* dir/file, or fallback/file when dir has no such file and fallback has (a folder the
 * province copied before this version added the file); the first names the file in an error */
char *template_file_path(const char *dir, const char *fallback, const char *file)
{
    char *path = g_build_filename(dir, file, NULL);
    if (!fallback || g_file_test(path, G_FILE_TEST_EXISTS))
        return path;
    char *other = g_build_filename(fallback, file, NULL);
    if (!g_file_test(other, G_FILE_TEST_EXISTS)) {
        g_free(other);
        return path;
    }
    g_free(path);
    return other;
}

gboolean template_name_is_safe(const char *name)
{
    if (!name || !*name || strlen(name) > 64)
        return FALSE;
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-')
            return FALSE;
    }
    return TRUE;
}

/* the text of a template file: UTF-8, LF line ends, no BOM; PAHT_ERROR_CONFIG otherwise */
static char *template_file_load(const char *path, GError **error)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    GError *read_error = NULL;
    if (!g_file_get_contents(path, &data, &len, &read_error)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "template %s: %s", path,
                    read_error->message);
        g_error_free(read_error);
        return NULL;
    }
    if (len > LETTER_MAX_TEMPLATE_BYTES || memchr(data, '\0', len) ||
        !g_utf8_validate(data, (gssize)len, NULL)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "template %s: not a UTF-8 text file of at most %d bytes", path,
                    LETTER_MAX_TEMPLATE_BYTES);
        return NULL;
    }
    const char *start = data;
    if (g_str_has_prefix(start, "\xEF\xBB\xBF")) /* saved by an editor that adds a BOM */
        start += 3;
    GString *out = g_string_sized_new(len);
    for (const char *p = start; *p; p++) {
        if (p[0] == '\r' && p[1] == '\n')
            continue;
        g_string_append_c(out, *p);
    }
    return g_string_free(out, FALSE);
}

/* The template files' texts, read once and kept while the file is the same (its inode, size,
 * mtime and ctime): pahtd composes every letter from the same few files, and an operator's
 * edit (a new file renamed into place, or one written over) is seen by the next letter. The
 * console's pages are read through it too (web/render.c). */
typedef struct {
    struct stat st;
    char *text;
} KeptTemplate;

static GMutex kept_lock;
static GHashTable *kept; /* path -> KeptTemplate * */

static void kept_template_free(gpointer data)
{
    KeptTemplate *k = data;
    g_free(k->text);
    g_free(k);
}

static gboolean same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

char *template_file_text(const char *path, GError **error)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return template_file_load(path, error); /* which says why */
    g_mutex_lock(&kept_lock);
    KeptTemplate *k = kept ? g_hash_table_lookup(kept, path) : NULL;
    char *text = k && same_file(&k->st, &st) ? g_strdup(k->text) : NULL;
    g_mutex_unlock(&kept_lock);
    if (text)
        return text;
    text = template_file_load(path, error);
    if (!text)
        return NULL;
    k = g_new0(KeptTemplate, 1);
    k->st = st;
    k->text = g_strdup(text);
    g_mutex_lock(&kept_lock);
    if (!kept)
        kept = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, kept_template_free);
    g_hash_table_replace(kept, g_strdup(path), k);
    g_mutex_unlock(&kept_lock);
    return text;
}

/* {{> name}} in a letter: templates_dir/name.partial.txt or .html; a missing file is an
 * error, not an empty text, so that a typo shows before a citizen gets a broken letter */
static char *partial_file_lookup(const char *name, gpointer user_data, GError **error)
{
    const PartialFiles *files = user_data;
    if (!template_name_is_safe(name)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "bad partial name \"%s\"", name);
        return NULL;
    }
    g_autofree char *file = g_strdup_printf("%s.partial.%s", name, files->extension);
    g_autofree char *path = template_file_path(files->dir, files->fallback, file);
    GError *read_error = NULL;
    char *text = template_file_text(path, &read_error);
    if (!text) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "%s", read_error->message);
        g_error_free(read_error);
    }
    return text;
}

/* A letter kind's two files: KIND.txt ("Subject: ...", a blank line, the plain-text body) and
 * KIND.html, each read through template_file_text. subject, body and html point into the
 * texts; body starts on the file's line 3. */
typedef struct {
    char *text_path, *html_path;
    char *text; /* KIND.txt, the first line end made a NUL */
    char *html;
    const char *subject, *body;
} LetterFiles;

static void letter_files_clear(LetterFiles *f)
{
    g_free(f->text_path);
    g_free(f->html_path);
    g_free(f->text);
    g_free(f->html);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(LetterFiles, letter_files_clear)

static gboolean letter_files_read(const char *dir, const char *fallback, const char *kind,
                                  LetterFiles *f, GError **error)
{
    if (!dir || !template_name_is_safe(kind)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "bad letter kind \"%s\"",
                    kind ? kind : "");
        return FALSE;
    }
    /* the two files from one folder: the pair say the same, in the province's words or
     * in those this build installed */
    g_autofree char *text_name = g_strdup_printf("%s.txt", kind);
    g_autofree char *html_name = g_strdup_printf("%s.html", kind);
    f->text_path = template_file_path(dir, fallback, text_name);
    g_autofree char *from = g_path_get_dirname(f->text_path);
    f->html_path = g_build_filename(from, html_name, NULL);
    f->text = template_file_text(f->text_path, error);
    if (!f->text)
        return FALSE;
    f->html = template_file_text(f->html_path, error);
    if (!f->html)
        return FALSE;
    char *first_end = strchr(f->text, '\n');
    if (!g_str_has_prefix(f->text, "Subject:") || !first_end ||
        (first_end[1] != '\n' && first_end[1] != '\0')) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "template %s: the first line must be \"Subject: ...\" and the second "
                    "line blank",
                    f->text_path);
        return FALSE;
    }
    *first_end = '\0';
    f->subject = f->text + strlen("Subject:");
    f->body = first_end[1] ? first_end + 2 : "";
    return TRUE;
}

static gboolean check_file_part(const char *path, const char *text, int first_line,
                                const PartialFiles *files, GError **error)
{
    GError *check_error = NULL;
    if (template_check_full(text, first_line, partial_file_lookup, (gpointer)files, &check_error))
        return TRUE;
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "template %s: %s", path,
                check_error->message);
    g_error_free(check_error);
    return FALSE;
}

gboolean letter_check(const char *templates_dir, const char *fallback_dir, const char *kind,
                      GError **error)
{
    g_auto(LetterFiles) files = {0};
    if (!letter_files_read(templates_dir, fallback_dir, kind, &files, error))
        return FALSE;
    PartialFiles text_partials = {templates_dir, fallback_dir, "txt"};
    PartialFiles html_partials = {templates_dir, fallback_dir, "html"};
    return check_file_part(files.text_path, files.subject, 1, &text_partials, error) &&
           check_file_part(files.text_path, files.body, 3, &text_partials, error) &&
           check_file_part(files.html_path, files.html, 1, &html_partials, error);
}

static char *render_file_part(const char *path, const char *text, int first_line, JsonNode *context,
                              gboolean html, const PartialFiles *files, GError **error)
{
    GError *render_error = NULL;
    char *out = template_render_full(text, context, html, first_line, partial_file_lookup,
                                     (gpointer)files, &render_error);
    if (!out) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "template %s: %s", path,
                    render_error->message);
        g_error_free(render_error);
        return NULL;
    }
    return out;
}

/* text with each octet `at` replaced by `instead`; the runs between are copied whole, never
 * one octet at a time (a letter is several kilobytes) */
static char *text_replace_octet(const char *text, char at, const char *instead)
{
    gsize len = strlen(text);
    GString *out = g_string_sized_new(len + len / 32 + 2);
    for (const char *p = text;;) {
        const char *found = strchr(p, at);
        if (!found) {
            g_string_append(out, p);
            break;
        }
        g_string_append_len(out, p, found - p);
        g_string_append(out, instead);
        p = found + 1;
    }
    return g_string_free(out, FALSE);
}

/* the rendered text as the letter says it: NFC, LF line ends (lone CRs from context values
 * dropped), ending with a line end */
static char *text_canonical(const char *rendered)
{
    g_autofree char *nfc = text_nfc(rendered);
    char *text = text_replace_octet(nfc ? nfc : "", '\r', "");
    gsize len = strlen(text);
    if (len > 0 && text[len - 1] == '\n')
        return text;
    char *ended = g_strconcat(text, "\n", NULL);
    g_free(text);
    return ended;
}

/* CRLF line ends: RFC 2046 §4.1.1 canonical form */
static char *body_crlf(const char *text)
{
    return text_replace_octet(text, '\n', "\r\n");
}

/* ---- format=flowed (RFC 3676) ----------------------------------------------------------------
 * Paragraphs are one line each in the templates and in citizens' text, 150 to 250 octets:
 * beyond what RFC 5322 §2.1.1 asks (78) and what many readers show well. The plain part is
 * flowed: lines of at most FLOWED_WIDTH octets, each cut after a space that stays at its end
 * (a soft break, DelSp=no: the space is the text's own); readers that know RFC 3676 join them
 * back into the paragraph, the others show short lines. A line that starts with a space, ">"
 * or "From " is space-stuffed (§4.4), or it would lose its indentation or read as a quote; a
 * hard line end keeps no trailing space, or it would become a soft one. */

#define FLOWED_WIDTH 76 /* octets before CRLF: under 78 with a margin */

static gboolean needs_stuffing(const char *line, gsize len)
{
    return len > 0 &&
           (line[0] == ' ' || line[0] == '>' || (len >= 5 && strncmp(line, "From ", 5) == 0));
}

/* where to cut line (len octets) so that the piece fits room: just after a run of spaces that
 * follows some text; the last such place within room, else the first beyond it (a word longer
 * than a line stays whole); 0 for none */
static gsize flowed_cut(const char *line, gsize len, gsize room)
{
    gsize text_from = 0;
    while (text_from < len && line[text_from] == ' ')
        text_from++;
    gsize best = 0;
    for (gsize i = text_from + 1; i < len; i++) {
        if (line[i - 1] != ' ' || line[i] == ' ')
            continue;
        if (i <= room)
            best = i;
        else
            return best ? best : i;
    }
    return best;
}

static void flowed_append_line(GString *out, const char *line, gsize len)
{
    /* the signature separator keeps its space (§4.3); other lines lose trailing ones */
    gboolean separator = len == 3 && strncmp(line, "-- ", 3) == 0;
    while (!separator && len > 0 && line[len - 1] == ' ')
        len--;
    do {
        gsize stuff = needs_stuffing(line, len) ? 1 : 0;
        gsize take = len;
        if (stuff + len > FLOWED_WIDTH) {
            gsize cut = flowed_cut(line, len, FLOWED_WIDTH - stuff);
            if (cut)
                take = cut;
        }
        if (stuff)
            g_string_append_c(out, ' ');
        g_string_append_len(out, line, (gssize)take);
        g_string_append(out, "\r\n");
        line += take;
        len -= take;
    } while (len > 0);
}

char *letter_text_reflowed(const char *flowed)
{
    if (!flowed)
        return NULL;
    GString *out = g_string_sized_new(strlen(flowed));
    for (const char *p = flowed; *p;) {
        const char *end = strchr(p, '\n');
        gsize len = end ? (gsize)(end - p) : strlen(p);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        const char *line = p;
        if (len > 0 && line[0] == ' ') { /* §4.5: a stuffed space goes */
            line++;
            len--;
        }
        gboolean soft = len > 0 && line[len - 1] == ' ' && !(len == 3 && !strncmp(line, "-- ", 3));
        g_string_append_len(out, line, (gssize)len);
        if (!soft && end)
            g_string_append_c(out, '\n');
        p = end ? end + 1 : p + strlen(p);
    }
    return g_string_free(out, FALSE);
}

static char *body_flowed(const char *text)
{
    GString *out = g_string_sized_new(strlen(text) + strlen(text) / 16 + 2);
    for (const char *p = text; *p;) {
        const char *end = strchr(p, '\n');
        gsize len = end ? (gsize)(end - p) : strlen(p);
        flowed_append_line(out, p, len);
        p += len + (end ? 1 : 0);
    }
    return g_string_free(out, FALSE);
}

/* no NUL, no octet above 127 (RFC 2045 §2.7 "7bit data", line lengths aside) */
static gboolean octets_are_7bit(const guint8 *data, gsize len)
{
    /* eight octets at a time: any high bit, or any zero octet (the word's "has a zero byte"
     * test, exact when no high bit is set) */
    const guint64 ones = G_GUINT64_CONSTANT(0x0101010101010101);
    const guint64 highs = G_GUINT64_CONSTANT(0x8080808080808080);
    gsize i = 0;
    for (; i + 8 <= len; i += 8) {
        guint64 w;
        memcpy(&w, data + i, sizeof w);
        if ((w & highs) || ((w - ones) & ~w & highs))
            return FALSE;
    }
    for (; i < len; i++) {
        if (data[i] == 0 || data[i] >= 0x80)
            return FALSE;
    }
    return TRUE;
}

/* The transfer encoding GMime's g_mime_object_encode(GMIME_ENCODING_CONSTRAINT_7BIT) gives a
 * text part whose content is 8bit or 7bit (gmime-part.c, gmime-filter-best.c, 3.2): with
 * octets above 127, base64 when they are at least 17 % of the text, else quoted-printable;
 * without, 7bit, or quoted-printable when a line starts with "From " (mbox readers would
 * mangle it). Decided here in one pass over the text we made, not by running the whole
 * letter through GMime's filter a second time (a tenth of composing a letter). */
static GMimeContentEncoding text_transfer_encoding(const char *text, gsize len)
{
    const guint64 highs = G_GUINT64_CONSTANT(0x8080808080808080);
    gsize count8 = 0, i = 0;
    for (; i + 8 <= len; i += 8) {
        guint64 w;
        memcpy(&w, text + i, sizeof w);
        /* one bit per such octet, summed by one multiplication (a popcount is a call into
         * libgcc without -mpopcnt) */
        count8 += (gsize)((((w & highs) >> 7) * G_GUINT64_CONSTANT(0x0101010101010101)) >> 56);
    }
    for (; i < len; i++)
        count8 += (guchar)text[i] >= 0x80;
    if (count8 > 0)
        return count8 >= (gsize)(unsigned int)((double)len * (17.0 / 100.0))
                   ? GMIME_CONTENT_ENCODING_BASE64
                   : GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
    for (const char *line = text; line && line < text + len;) {
        if (strncmp(line, "From ", 5) == 0)
            return GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
        line = memchr(line, '\n', len - (gsize)(line - text));
        line = line ? line + 1 : NULL;
    }
    return GMIME_CONTENT_ENCODING_7BIT;
}

/* A text part holding text (UTF-8, no NUL, CRLF line ends) as it is. Not
 * g_mime_text_part_set_text: it scans the text for the narrowest charset, character by
 * character (the largest single cost of a letter), and for text that fits Latin-1 it
 * converts the content to Latin-1 bytes, which the charset=utf-8 that a letter promises then
 * mislabels ("fran=E7ais"). The templates and the values are UTF-8, so the part says so and
 * carries their bytes, in the transfer encoding that keeps the letter 7-bit clean. */
static GMimeObject *text_part_new(const char *subtype, const char *text, gboolean flowed)
{
    GMimeTextPart *part = g_object_new(GMIME_TYPE_TEXT_PART, NULL);
    /* the type made whole before the part gets it: GMime writes the part's header again at
     * each parameter set on it */
    g_autoptr(GMimeContentType) content_type = g_mime_content_type_new("text", subtype);
    g_mime_content_type_set_parameter(content_type, "charset", "utf-8");
    if (flowed)
        g_mime_content_type_set_parameter(content_type, "format", "flowed");
    g_mime_object_set_content_type(GMIME_OBJECT(part), content_type);
    gsize len = strlen(text);
    GMimeContentEncoding encoding = text_transfer_encoding(text, len);
    g_autoptr(GMimeStream) stream = NULL;
    g_autoptr(GMimeDataWrapper) content = NULL;
    /* a GByteArray holds at most G_MAXUINT bytes: a text whose base64 would not fit (none a
     * template makes) is left to GMime's encoder */
    if (encoding == GMIME_CONTENT_ENCODING_BASE64 && len < G_MAXUINT / 2) {
        /* encoded here (util/base64.c, the same text as GMime's encoder), and given to GMime
         * as content already in the part's encoding, which it writes as it is (only its line
         * ends made CRLF) */
        GByteArray *encoded = g_byte_array_sized_new((guint)base64_encoded_lines_size(len));
        g_byte_array_set_size(
            encoded, (guint)base64_encode_lines((const guchar *)text, len, (char *)encoded->data));
        stream = g_mime_stream_mem_new_with_byte_array(encoded);
        content = g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_BASE64);
    } else {
        stream = g_mime_stream_mem_new_with_buffer(text, len);
        content = g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT);
    }
    g_mime_part_set_content(GMIME_PART(part), content);
    g_mime_part_set_content_encoding(GMIME_PART(part), encoding);
    return GMIME_OBJECT(part);
}

/* ---- the letter ----------------------------------------------------------------------------- */

void letter_free(Letter *letter)
{
    if (!letter)
        return;
    if (letter->message)
        g_bytes_unref(letter->message);
    g_free(letter->message_id);
    g_free(letter->subject);
    g_free(letter->text);
    g_free(letter);
}

static void set_threading(GMimeObject *object, const LetterSpec *spec)
{
    g_autofree char *in_reply_to = message_id_clean(spec->in_reply_to);
    g_autoptr(GPtrArray) refs = g_ptr_array_new_with_free_func(g_free);
    for (int i = 0; spec->references && spec->references[i]; i++) {
        char *id = message_id_clean(spec->references[i]);
        if (id)
            g_ptr_array_add(refs, id);
    }
    /* RFC 5322 §3.6.4: References ends with the message answered */
    if (in_reply_to &&
        (refs->len == 0 || strcmp(g_ptr_array_index(refs, refs->len - 1), in_reply_to) != 0))
        g_ptr_array_add(refs, g_strdup(in_reply_to));
    if (refs->len > LETTER_MAX_REFERENCES)
        g_ptr_array_remove_range(refs, 1, refs->len - LETTER_MAX_REFERENCES);

    if (in_reply_to) {
        g_autofree char *value = g_strdup_printf("<%s>", in_reply_to);
        g_mime_object_set_header(object, "In-Reply-To", value, NULL);
    }
    if (refs->len > 0) {
        GString *value = g_string_new(NULL);
        for (guint i = 0; i < refs->len; i++)
            g_string_append_printf(value, "%s<%s>", i ? " " : "",
                                   (char *)g_ptr_array_index(refs, i));
        g_mime_object_set_header(object, "References", value->str, NULL);
        g_string_free(value, TRUE);
    }
}

static gboolean bytes_are_7bit(GBytes *bytes)
{
    gsize len = 0;
    const guint8 *data = g_bytes_get_data(bytes, &len);
    return octets_are_7bit(data, len);
}

/* multipart/mixed: the letter's text and HTML, then each attachment (base64) */
static GMimeMultipart *attachments_part(const LetterSpec *spec, GMimeMultipart *alternative)
{
    GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
    g_mime_multipart_add(mixed, GMIME_OBJECT(alternative));
    for (gsize i = 0; i < spec->n_attachments; i++) {
        const LetterAttachment *a = &spec->attachments[i];
        g_autoptr(GMimeContentType) type = g_mime_content_type_parse(NULL, a->content_type);
        GMimePart *part = g_mime_part_new_with_type(g_mime_content_type_get_media_type(type),
                                                    g_mime_content_type_get_media_subtype(type));
        const char *charset = g_mime_content_type_get_parameter(type, "charset");
        if (charset)
            g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset", charset);
        gsize len = 0;
        const void *data = g_bytes_get_data(a->data, &len);
        g_autoptr(GMimeStream) stream = g_mime_stream_mem_new_with_buffer(data, len);
        g_autoptr(GMimeDataWrapper) content =
            g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT);
        g_mime_part_set_content(part, content);
        g_mime_part_set_filename(part, a->filename);
        g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
        g_mime_multipart_add(mixed, GMIME_OBJECT(part));
        g_object_unref(part);
    }
    return mixed;
}

Letter *letter_compose(const LetterSpec *spec, GError **error)
{
    g_return_val_if_fail(spec != NULL, NULL);
    ensure_gmime();

    if (!address_is_single_mailbox(spec->to_address)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT,
                    "recipient is not a single plain e-mail address");
        return NULL;
    }
    if (!address_is_single_mailbox(spec->from_address)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "sender address \"%s\" is not a plain e-mail address",
                    spec->from_address ? spec->from_address : "");
        return NULL;
    }
    if (spec->reply_to && !address_is_single_mailbox(spec->reply_to)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "reply address \"%s\" is not a plain e-mail address", spec->reply_to);
        return NULL;
    }
    g_auto(LetterFiles) files = {0};
    if (!letter_files_read(spec->templates_dir, spec->templates_fallback_dir, spec->kind, &files,
                           error))
        return NULL;
    PartialFiles text_partials = {spec->templates_dir, spec->templates_fallback_dir, "txt"};
    PartialFiles html_partials = {spec->templates_dir, spec->templates_fallback_dir, "html"};
    g_autofree char *subject_raw = render_file_part(files.text_path, files.subject, 1,
                                                    spec->context, FALSE, &text_partials, error);
    if (!subject_raw)
        return NULL;
    g_autofree char *text_raw = render_file_part(files.text_path, files.body, 3, spec->context,
                                                 FALSE, &text_partials, error);
    if (!text_raw)
        return NULL;
    g_autofree char *html_raw = render_file_part(files.html_path, files.html, 1, spec->context,
                                                 TRUE, &html_partials, error);
    if (!html_raw)
        return NULL;

    g_autofree char *subject = header_text_clean(subject_raw);
    g_autofree char *from_name = header_text_clean(spec->from_name);
    g_autofree char *to_name = header_text_clean(spec->to_name);
    g_autofree char *text = text_canonical(text_raw);
    g_autofree char *text_body = body_flowed(text);
    g_autofree char *html_text = text_canonical(html_raw);
    g_autofree char *html_body = body_crlf(html_text);

    /* without GMime's "pretty" placeholders (nine empty headers, each an object made, kept
     * and freed with the letter): the headers are set here in the order they are read */
    g_autoptr(GMimeMessage) message = g_mime_message_new(FALSE);
    GMimeObject *object = GMIME_OBJECT(message);

    g_autoptr(GTimeZone) zone = g_time_zone_new_offset(7 * 3600); /* Asia/Ho_Chi_Minh, no DST */
    g_autoptr(GDateTime) utc =
        g_date_time_new_from_unix_utc(spec->date > 0 ? spec->date : clock_now_unix());
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, zone);
    g_mime_message_set_date(message, local);

    /* addresses only through InternetAddress: GMime quotes and encodes the names */
    g_autofree char *from_phrase = header_encode_phrase(from_name);
    g_autofree char *to_phrase = header_encode_phrase(to_name);
    g_mime_message_add_mailbox(message, GMIME_ADDRESS_TYPE_FROM, from_phrase, spec->from_address);
    if (spec->reply_to)
        g_mime_message_add_mailbox(message, GMIME_ADDRESS_TYPE_REPLY_TO, NULL, spec->reply_to);
    g_autofree char *subject_encoded = header_encode_text(subject);
    g_mime_object_set_header(object, "Subject", subject_encoded, NULL);
    g_mime_message_add_mailbox(message, GMIME_ADDRESS_TYPE_TO, to_phrase, spec->to_address);

    const char *from_domain = strchr(spec->from_address, '@') + 1;
    g_autofree char *random = random_hex(16);
    g_autofree char *domain = g_ascii_strdown(from_domain, -1);
    g_autofree char *message_id = g_strdup_printf("paht.%s@%s", random, domain);
    g_mime_message_set_message_id(message, message_id);

    set_threading(object, spec);

    /* RFC 3834 and the headers other systems honour, so that no one answers an automatic
     * letter (SPEC §7); X-PAHT-Loop lets our own intake recognise it (SPEC §3.5 "auto") */
    g_mime_object_set_header(object, "Auto-Submitted", auto_submitted_value(spec->auto_submitted),
                             NULL);
    g_mime_object_set_header(object, "Precedence", "bulk", NULL);
    g_mime_object_set_header(object, "X-Auto-Response-Suppress", "All", NULL);
    g_mime_object_set_header(object, "X-PAHT-Loop", spec->from_address, NULL);

    g_autoptr(GMimeMultipart) alternative = g_mime_multipart_new_with_subtype("alternative");
    g_autoptr(GMimeObject) text_part = text_part_new("plain", text_body, TRUE);
    g_autoptr(GMimeObject) html_part = text_part_new("html", html_body, FALSE);
    g_mime_multipart_add(alternative, text_part);
    g_mime_multipart_add(alternative, html_part);
    g_autoptr(GMimeMultipart) mixed =
        spec->n_attachments ? attachments_part(spec, alternative) : NULL;
    g_mime_message_set_mime_part(message, mixed ? GMIME_OBJECT(mixed) : GMIME_OBJECT(alternative));
    /* each part has its transfer encoding already (text_part_new, attachments_part) */

    GMimeFormatOptions *format = g_mime_format_options_new();
    g_mime_format_options_set_newline_format(format, GMIME_NEWLINE_FORMAT_DOS);
    g_autoptr(GMimeStream) stream = g_mime_stream_mem_new();
    ssize_t written = g_mime_object_write_to_stream(object, format, stream);
    g_mime_format_options_free(format);
    if (written < 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot serialise the letter");
        return NULL;
    }
    /* the stream's bytes taken over, not copied (15 KB a letter) */
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
    GByteArray *array = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
    g_autoptr(GBytes) bytes = g_byte_array_free_to_bytes(array);
    if (!bytes_are_7bit(bytes)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "the letter is not 7-bit clean");
        return NULL;
    }

    Letter *letter = g_new0(Letter, 1);
    letter->message = g_steal_pointer(&bytes);
    letter->message_id = g_steal_pointer(&message_id);
    letter->subject = g_steal_pointer(&subject);
    letter->text = g_steal_pointer(&text);
    return letter;
}
