/* Redaction: what agencies, leaders and the IOC may see of a citizen's words (see redact.h). */
#include "letters/letters.h"
#include "util/util.h"

#include <string.h>

/* ---- numbers ----------------------------------------------------------------------------------
 */

typedef enum {
    DIGITS_ID = 0,          /* 12 digits: căn cước (CCCD), Điều 4.2; always */
    DIGITS_PHONE = 1 << 0,  /* mobile 0xxxxxxxxx, +84 xxxxxxxxx, landline 02xxxxxxxxx */
    DIGITS_OLD_ID = 1 << 1, /* 9 digits: the old chứng minh nhân dân (CMND) */
} DigitShapes;

static gboolean digits_are_personal(const char *digits, DigitShapes shapes,
                                    const char *const *values)
{
    gsize n = strlen(digits);
    if (n == 12)
        return TRUE;
    if ((shapes & DIGITS_OLD_ID) && n == 9)
        return TRUE;
    if ((shapes & DIGITS_PHONE) &&
        ((n == 10 && digits[0] == '0') || (n == 11 && g_str_has_prefix(digits, "84")) ||
         (n == 11 && g_str_has_prefix(digits, "02"))))
        return TRUE;
    for (const char *const *v = values; v && *v; v++) {
        if (**v && g_str_equal(digits, *v))
            return TRUE;
    }
    return FALSE;
}

/* a group of digits next to ':' and a digit is part of a time ("08:10"), not of a number */
static gboolean time_after(const char *text, const char *p)
{
    return p - text >= 2 && p[-1] == ':' && g_ascii_isdigit(p[-2]);
}

static gboolean time_before(const char *p)
{
    return p[0] == ':' && g_ascii_isdigit(p[1]);
}

/* Replaces each run of digits (single spaces, dots, hyphens or underscores between them: "0912
 * 345 678", "+84 912.345.678", "0939_000_111") that matches: its digits equal one of values,
 * or it has one of the shapes. The hour and minutes of a time at either end are no part of it:
 * "07.05.2026 08:10" is a date and a time, not the phone 0705202608. */
static void mask_digit_runs(GString *text, const char *const *values, DigitShapes shapes)
{
    GString *out = g_string_sized_new(text->len);
    GString *digits = g_string_new(NULL);
    const char *p = text->str;
    while (*p) {
        if (!g_ascii_isdigit(*p) && !(*p == '+' && g_ascii_isdigit(p[1]))) {
            g_string_append_c(out, *p++);
            continue;
        }
        const char *start = p;
        const char *end = p;
        const char *last_group = p;
        g_string_truncate(digits, 0);
        if (*p == '+')
            p++;
        while (*p) {
            if (g_ascii_isdigit(*p)) {
                g_string_append_c(digits, *p++);
                end = p;
            } else if (strchr(" .-_", *p) && g_ascii_isdigit(p[1])) {
                last_group = ++p;
            } else {
                break;
            }
        }
        /* a time's minutes before the run, or its hour after it: left as written */
        if (time_after(text->str, start)) {
            const char *group_end = start;
            while (group_end < end && g_ascii_isdigit(*group_end))
                group_end++;
            g_string_append_len(out, start, group_end - start);
            p = group_end;
            continue;
        }
        if (time_before(end) && last_group > start) {
            end = last_group;
            while (end > start && !g_ascii_isdigit(end[-1]))
                end--;
            g_string_truncate(digits, 0);
            for (const char *d = start; d < end; d++) {
                if (g_ascii_isdigit(*d))
                    g_string_append_c(digits, *d);
            }
        }
        if (digits_are_personal(digits->str, shapes, values))
            g_string_append(out, REDACT_MASK);
        else
            g_string_append_len(out, start, end - start);
        p = end;
    }
    g_string_assign(text, out->str);
    g_string_free(out, TRUE);
    g_string_free(digits, TRUE);
}

/* the citizen's ID number and phone, the phone also in its international form */
static void mask_citizen_digits(GString *text, const DraftCitizen *citizen, gboolean phone,
                                DigitShapes shapes)
{
    g_autofree char *international = NULL;
    const char *number = citizen ? citizen->phone : NULL;
    if (number && number[0] == '0' && number[1])
        international = g_strconcat("84", number + 1, NULL);
    const char *values[] = {citizen && citizen->id_number ? citizen->id_number : "",
                            phone && number ? number : "",
                            phone && international ? international : "", NULL};
    mask_digit_runs(text, values, shapes);
}

/* ---- names, compared as people write them -----------------------------------------------------
 */

typedef struct {
    gsize start, end; /* the word's bytes in the text */
    char *folded;     /* lowercase, without diacritics, đ -> d */
} Word;

static void word_clear(gpointer data)
{
    g_free(((Word *)data)->folded);
}

/* the text's words (letters and digits; anything else separates them), folded */
static GArray *words_of(const char *text)
{
    GArray *words = g_array_new(FALSE, FALSE, sizeof(Word));
    g_array_set_clear_func(words, word_clear);
    const char *p = text;
    while (*p) {
        gunichar c = g_utf8_get_char(p);
        if (!g_unichar_isalnum(c)) {
            p = g_utf8_next_char(p);
            continue;
        }
        const char *start = p;
        while (*p) {
            c = g_utf8_get_char(p);
            if (!g_unichar_isalnum(c) && !g_unichar_ismark(c))
                break;
            p = g_utf8_next_char(p);
        }
        g_autofree char *word = g_strndup(start, (gsize)(p - start));
        Word w = {
            .start = (gsize)(start - text), .end = (gsize)(p - text), .folded = text_fold(word)};
        g_array_append_val(words, w);
    }
    return words;
}

static gboolean same_word_exactly(const char *text, const Word *w, const char *name)
{
    g_autofree char *a = g_utf8_casefold(text + w->start, (gssize)(w->end - w->start));
    g_autofree char *b = g_utf8_casefold(name, -1);
    g_autofree char *a_nfc = text_nfc(a);
    g_autofree char *b_nfc = text_nfc(b);
    return g_strcmp0(a_nfc, b_nfc) == 0;
}

/* how many of the text's words from i on are the name (0: none). Several words match word by
 * word ("Tran_Thi_B") or run together ("TranThiB"); a name of one word only as written, case
 * aside: without its diacritics it is often an ordinary word ("Tuấn", "tuần"). */
static guint name_at(const char *text, GArray *words, guint i, GArray *name, const char *joined,
                     const char *written)
{
    const Word *w = &g_array_index(words, Word, i);
    if (name->len == 1)
        return same_word_exactly(text, w, written) ? 1 : 0;
    if (g_str_equal(w->folded, joined))
        return 1;
    if (i + name->len > words->len)
        return 0;
    for (guint k = 0; k < name->len; k++) {
        if (!g_str_equal(g_array_index(words, Word, i + k).folded,
                         g_array_index(name, Word, k).folded))
            return 0;
    }
    return name->len;
}

static void mask_name(GString *text, const char *name)
{
    if (!name || !g_utf8_validate(name, -1, NULL) ||
        !g_utf8_validate(text->str, (gssize)text->len, NULL))
        return;
    g_autoptr(GArray) parts = words_of(name);
    GString *joined = g_string_new(NULL);
    for (guint k = 0; k < parts->len; k++)
        g_string_append(joined, g_array_index(parts, Word, k).folded);
    /* short names ("An") would mask ordinary words */
    gboolean usable = g_utf8_strlen(joined->str, -1) >= 4;
    g_autoptr(GArray) words = usable ? words_of(text->str) : NULL;
    GString *out = g_string_sized_new(text->len);
    gsize copied = 0;
    for (guint i = 0; words && i < words->len;) {
        guint n = name_at(text->str, words, i, parts, joined->str, name);
        if (!n) {
            i++;
            continue;
        }
        const Word *first = &g_array_index(words, Word, i);
        const Word *last = &g_array_index(words, Word, i + n - 1);
        g_string_append_len(out, text->str + copied, (gssize)(first->start - copied));
        g_string_append(out, REDACT_MASK);
        copied = last->end;
        i += n;
    }
    g_string_append(out, text->str + copied);
    g_string_assign(text, out->str);
    g_string_free(out, TRUE);
    g_string_free(joined, TRUE);
}

/* ---- e-mail addresses ---------------------------------------------------------------------------
 */

typedef char *(*AddressMask)(const char *address, gpointer data);

typedef struct {
    AddressMask mask;
    gpointer data;
} AddressMaskCall;

static gboolean replace_address(const GMatchInfo *info, GString *out, gpointer data)
{
    const AddressMaskCall *how = data;
    g_autofree char *address = g_match_info_fetch(info, 0);
    g_autofree char *masked = how->mask(address, how->data);
    g_string_append(out, masked);
    return FALSE;
}

static gpointer address_regex_new(gpointer unused)
{
    return g_regex_new("[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}",
                       G_REGEX_OPTIMIZE, 0, NULL);
}

static void mask_addresses(GString *text, AddressMask mask, gpointer data)
{
    static GOnce once = G_ONCE_INIT;
    GRegex *re = g_once(&once, address_regex_new, NULL);
    AddressMaskCall how = {mask, data};
    g_autofree char *out =
        g_regex_replace_eval(re, text->str, (gssize)text->len, 0, 0, replace_address, &how, NULL);
    if (out)
        g_string_assign(text, out);
}

static char *address_masked(const char *address, gpointer unused)
{
    return g_strdup(REDACT_MASK);
}

/* ---- labelled lines -----------------------------------------------------------------------------
 */

/* Labelled lines ("CCCD: ...", "Địa chỉ: ...") lose their value when the label names an ID
 * number or a contact address, and for a confidential report also a name, phone or e-mail:
 * the parser may not have recognised the value, the label says what it is. */
static void mask_labelled_lines(GString *text, gboolean confidential)
{
    static const char *const always[] = {"cccd",
                                         "cmnd",
                                         "can cuoc",
                                         "can cuoc cong dan",
                                         "so cccd",
                                         "so cmnd",
                                         "so can cuoc",
                                         "so can cuoc cong dan",
                                         "so dinh danh",
                                         "so dinh danh ca nhan",
                                         "ma dinh danh",
                                         "chung minh nhan dan",
                                         "so chung minh nhan dan",
                                         "cmnd cccd",
                                         "so cmnd cccd",
                                         "dia chi",
                                         "dia chi lien he",
                                         "dia chi lien lac",
                                         "dia chi thuong tru",
                                         "dia chi tam tru",
                                         "dia chi nha",
                                         "noi o",
                                         "cho o",
                                         "noi cu tru",
                                         "thuong tru",
                                         "tam tru",
                                         NULL};
    static const char *const secret[] = {"ho ten",      "ho va ten",
                                         "ten",         "nguoi phan anh",
                                         "nguoi gui",   "sdt",
                                         "so dt",       "so dien thoai",
                                         "dien thoai",  "dien thoai lien he",
                                         "dt",          "di dong",
                                         "email",       "e mail",
                                         "thu dien tu", "mail",
                                         "zalo",        NULL};
    g_auto(GStrv) lines = g_strsplit(text->str, "\n", -1);
    GString *out = g_string_sized_new(text->len);
    for (int i = 0; lines[i]; i++) {
        const char *colon = strchr(lines[i], ':');
        gboolean masked = FALSE;
        if (colon && colon - lines[i] <= 40) {
            g_autofree char *label = g_strndup(lines[i], (gsize)(colon - lines[i]));
            g_autofree char *words = text_fold_words(label);
            masked =
                g_strv_contains(always, words) || (confidential && g_strv_contains(secret, words));
            if (masked)
                g_string_append_printf(out, "%.*s: %s", (int)(colon - lines[i]), lines[i],
                                       REDACT_MASK);
        }
        if (!masked)
            g_string_append(out, lines[i]);
        if (lines[i + 1])
            g_string_append_c(out, '\n');
    }
    g_string_assign(text, out->str);
    g_string_free(out, TRUE);
}

/* ---- what callers use ---------------------------------------------------------------------------
 */

static const DraftCitizen no_citizen;

static const DraftCitizen *citizen_of(const RedactCitizen *who)
{
    return who && who->citizen ? who->citizen : &no_citizen;
}

char *redact_text(const char *text, const RedactCitizen *who)
{
    if (!text)
        return NULL;
    const DraftCitizen *citizen = citizen_of(who);
    gboolean confidential = who && who->confidential;
    GString *s = g_string_new(text);
    mask_labelled_lines(s, confidential);
    mask_citizen_digits(s, citizen, confidential, confidential ? DIGITS_PHONE : DIGITS_ID);
    /* short addresses ("A") would mask ordinary words */
    if (citizen->address && g_utf8_strlen(citizen->address, -1) >= 4)
        g_string_replace(s, citizen->address, REDACT_MASK, 0);
    if (confidential) {
        mask_name(s, citizen->name);
        mask_name(s, who->sender_name);
        if (citizen->email && *citizen->email)
            g_string_replace(s, citizen->email, REDACT_MASK, 0);
    }
    return g_string_free(s, FALSE);
}

char *redact_line(const char *line, const RedactCitizen *who)
{
    if (!line)
        return NULL;
    const DraftCitizen *citizen = citizen_of(who);
    GString *s = g_string_new(line);
    mask_addresses(s, address_masked, NULL);
    mask_citizen_digits(s, citizen, TRUE, DIGITS_PHONE | DIGITS_OLD_ID);
    mask_name(s, citizen->name);
    mask_name(s, who ? who->sender_name : NULL);
    if (citizen->address && g_utf8_strlen(citizen->address, -1) >= 4)
        g_string_replace(s, citizen->address, REDACT_MASK, 0);
    return g_string_free(s, FALSE);
}

char *redact_subject(const char *subject, const char *code, const RedactCitizen *who)
{
    if (who && who->confidential)
        return g_strdup_printf(REDACT_CONFIDENTIAL_SUBJECT, code ? code : "");
    if (!subject || !*subject)
        return g_strdup(LETTERS_NO_SUBJECT);
    return redact_line(subject, who);
}

/* ".jpg" of "Ảnh 1.jpg": a short run of letters and digits after the last dot, or NULL */
static const char *file_extension(const char *filename)
{
    const char *dot = strrchr(filename, '.');
    if (!dot || dot == filename || strlen(dot) > 6 || !dot[1])
        return NULL;
    for (const char *p = dot + 1; *p; p++) {
        if (!g_ascii_isalnum(*p))
            return NULL;
    }
    return dot;
}

char *redact_filename(const char *filename, guint number, const RedactCitizen *who)
{
    if (!filename)
        return NULL;
    const char *extension = file_extension(filename);
    if (who && who->confidential)
        return g_strdup_printf(REDACT_NUMBERED_FILE, number, extension ? extension : "");
    g_autofree char *stem =
        extension ? g_strndup(filename, (gsize)(extension - filename)) : g_strdup(filename);
    g_autofree char *redacted = redact_line(stem, who);
    return g_strconcat(redacted, extension ? extension : "", NULL);
}

char *redact_excerpt(const char *text, const RedactCitizen *who, glong max_chars)
{
    if (!text)
        return NULL;
    RedactCitizen secret = who ? *who : (RedactCitizen){0};
    secret.confidential = TRUE;
    /* the excerpt's lines, whole (a labelled line is judged by its label), not the whole
     * mail: it may be megabytes */
    g_autofree char *valid = g_utf8_validate(text, -1, NULL) ? NULL : g_utf8_make_valid(text, -1);
    const char *from = valid ? valid : text;
    const char *stop = from;
    glong taken = 0;
    for (; taken < 4 * max_chars && *stop; taken++)
        stop = g_utf8_next_char(stop);
    for (; taken < 8 * max_chars && *stop && *stop != '\n'; taken++)
        stop = g_utf8_next_char(stop);
    g_autofree char *head = g_strndup(from, (gsize)(stop - from));
    g_autofree char *body = redact_text(head, &secret);
    g_autofree char *redacted = redact_line(body, &secret);
    g_autofree char *line = text_clean_line(redacted);
    if (!line)
        return g_strdup("");
    if (g_utf8_strlen(line, -1) <= max_chars)
        return g_steal_pointer(&line);
    /* at the last space that leaves room for the ellipsis; a single huge word is cut */
    const char *end = g_utf8_offset_to_pointer(line, MAX(max_chars - 1, 1));
    const char *space = end;
    while (space > line && *space != ' ')
        space--;
    if (space > line)
        end = space;
    while (end > line && (end[-1] == ' ' || end[-1] == ',' || end[-1] == ';' || end[-1] == ':'))
        end--;
    return g_strdup_printf("%.*s…", (int)(end - line), line);
}

gboolean redact_address_is_official(const Config *c, const char *address)
{
    if (!address)
        return FALSE;
    const char *own[] = {c->gateway.ioc_alert_to, c->smtp.from, c->imap.user};
    for (gsize i = 0; i < G_N_ELEMENTS(own); i++) {
        if (own[i] && g_ascii_strcasecmp(address, own[i]) == 0)
            return TRUE;
    }
    for (guint i = 0; c->agencies && i < c->agencies->len; i++) {
        const Agency *a = g_ptr_array_index(c->agencies, i);
        if ((a->contact && g_ascii_strcasecmp(address, a->contact) == 0) ||
            (a->leader && g_ascii_strcasecmp(address, a->leader) == 0))
            return TRUE;
    }
    return FALSE;
}

static char *address_shortened(const char *address, gpointer config)
{
    if (redact_address_is_official(config, address))
        return g_strdup(address);
    return log_redact_address(address);
}

/* the part of a line that may be masked: all of it but a "Message-ID: <...>" */
static char *redact_alert_part(const Config *c, const char *part, const RedactCitizen *who)
{
    GString *s = g_string_new(part);
    mask_addresses(s, address_shortened, (gpointer)c);
    const DraftCitizen *citizen = citizen_of(who);
    mask_citizen_digits(s, citizen, TRUE, DIGITS_PHONE);
    mask_name(s, citizen->name);
    mask_name(s, who ? who->sender_name : NULL);
    return g_string_free(s, FALSE);
}

char *redact_alert_line(const Config *c, const char *line, const RedactCitizen *who)
{
    if (!line)
        return NULL;
    const char *mid = strstr(line, "Message-ID: <");
    const char *mid_end = mid ? strchr(mid, '>') : NULL;
    if (!mid_end)
        return redact_alert_part(c, line, who);
    g_autofree char *before = g_strndup(line, (gsize)(mid - line));
    g_autofree char *head = redact_alert_part(c, before, who);
    g_autofree char *tail = redact_alert_part(c, mid_end + 1, who);
    return g_strdup_printf("%s%.*s%s", head, (int)(mid_end + 1 - mid), mid, tail);
}
