/* parse, step "fields": the citizen's details of Điều 4 (SPEC §3.4) out of the report's text.
 *
 * Điều 4.2 asks for name (họ tên), contact address (địa chỉ liên hệ), citizen ID (căn cước
 * công dân), phone and e-mail; Điều 4.3 for where (địa điểm) and when (thời gian) it happened.
 * People write them three ways, and we read them in this order, first valid value winning:
 *
 *  1. labelled: "Họ và tên: ...", "SĐT 0912 345 678", "Dia chi - ...", a table row
 *     "Họ tên<TAB>..." (html.c separates cells with a tab). Labels are matched on the folded
 *     text (util's text_fold: no diacritics, đ -> d, lowercase), so "Ho ten", "HỌ TÊN" and
 *     "Họ tên" are one label; short forms (Tên, DC, ĐT, Lúc) count only where a label can
 *     start (line start, after a tab, a comma or a bullet), since they are also plain words.
 *  2. running text: "Tôi tên là Nguyễn Văn A, nhà ở 12 Lê Lợi, phường 3 ..."; "... xảy ra tại
 *     ...", "vào lúc 20 giờ ngày 26/11/2026".
 *  3. shapes: a Vietnamese phone number anywhere in the text; coordinates ("9.6025,
 *     105.9739", Google Maps links, 9°36'09"N 105°58'26"E), then a photo's EXIF GPS position.
 *
 * Normalised as SPEC §3.4 says: id_number digits only and checked for shape (12 digits whose
 * first three are one of the 63 province codes and whose fourth is a plausible century/sex
 * digit; or the 9 digits of the old CMND); phone digits only in national form (+84 and 84
 * become 0), a mobile number (03, 05, 07, 08, 09 + 8 digits) or a landline with its area code
 * (02x: 11 digits); names and addresses NFC, trimmed, single-spaced. A labelled value that
 * fails its check is not kept: the field stays missing and the citizen is asked for it again
 * (with a warning for the operator, never the value itself). The e-mail is the sender's unless
 * a labelled line gives another. */
#include "parse/parse_private.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

/* fields are written near the top (or in a signature): a bounded prefix is searched */
#define FIELDS_MAX_TEXT   (64 * 1024)
#define NAME_MAX_CHARS    80
#define ADDRESS_MAX_CHARS 300
#define PLACE_MAX_CHARS   500
#define TIME_MAX_CHARS    120
/* bounds on work for hostile text: labels read, candidates per running-text phrase, bytes
 * looked at after one */
#define LABELS_MAX        200
#define RUNNING_MAX_TRIES 20
#define RUNNING_MAX_BYTES 1200
/* the EXIF block of a JPEG is an APP1 segment (at most 64 KB) near the start of the file */
#define EXIF_READ_BYTES (192 * 1024)

typedef enum {
    FIELD_NAME,
    FIELD_ADDRESS,
    FIELD_ID,
    FIELD_PHONE,
    FIELD_EMAIL,
    FIELD_LOCATION,
    FIELD_TIME,
} FieldKind;

typedef struct {
    const char *label; /* folded */
    FieldKind field;
    gboolean strict; /* a short form that is also a plain word: only where a label starts */
} Label;

/* Longer labels first is not needed (label_next() tries them longest first), but grouping by
 * field keeps the table readable. "Địa chỉ email" is an e-mail, "Địa chỉ xảy ra" a location:
 * the longer label wins. */
static const Label labels[] = {
    {"ho va ten", FIELD_NAME, FALSE},
    {"ho ten", FIELD_NAME, FALSE},
    {"ho & ten", FIELD_NAME, FALSE},
    {"ho, ten", FIELD_NAME, FALSE},
    {"ho ten nguoi phan anh", FIELD_NAME, FALSE},
    {"ten nguoi phan anh", FIELD_NAME, FALSE},
    {"nguoi phan anh", FIELD_NAME, FALSE},
    {"nguoi gui", FIELD_NAME, FALSE},
    {"full name", FIELD_NAME, FALSE},
    {"ten", FIELD_NAME, TRUE},
    {"name", FIELD_NAME, TRUE},

    {"dia chi lien he", FIELD_ADDRESS, FALSE},
    {"dia chi lien lac", FIELD_ADDRESS, FALSE},
    {"dia chi thuong tru", FIELD_ADDRESS, FALSE},
    {"dia chi cu tru", FIELD_ADDRESS, FALSE},
    {"dia chi nha", FIELD_ADDRESS, FALSE},
    {"dia chi nguoi phan anh", FIELD_ADDRESS, FALSE},
    {"dia chi", FIELD_ADDRESS, FALSE},
    {"noi o", FIELD_ADDRESS, FALSE},
    {"cho o", FIELD_ADDRESS, FALSE},
    {"noi cu tru", FIELD_ADDRESS, FALSE},
    {"thuong tru", FIELD_ADDRESS, FALSE},
    {"address", FIELD_ADDRESS, FALSE},
    {"dc", FIELD_ADDRESS, TRUE},
    {"d/c", FIELD_ADDRESS, TRUE},

    {"so can cuoc cong dan", FIELD_ID, FALSE},
    {"can cuoc cong dan", FIELD_ID, FALSE},
    {"so the can cuoc", FIELD_ID, FALSE},
    {"so can cuoc", FIELD_ID, FALSE},
    {"can cuoc", FIELD_ID, FALSE},
    {"so cccd", FIELD_ID, FALSE},
    {"cccd/cmnd", FIELD_ID, FALSE},
    {"cmnd/cccd", FIELD_ID, FALSE},
    {"cccd", FIELD_ID, FALSE},
    {"so cmnd", FIELD_ID, FALSE},
    {"cmnd", FIELD_ID, FALSE},
    {"so chung minh nhan dan", FIELD_ID, FALSE},
    {"chung minh nhan dan", FIELD_ID, FALSE},
    {"so dinh danh ca nhan", FIELD_ID, FALSE},
    {"so dinh danh", FIELD_ID, FALSE},
    {"ma dinh danh", FIELD_ID, FALSE},
    {"cmt", FIELD_ID, TRUE},

    {"so dien thoai", FIELD_PHONE, FALSE},
    {"dien thoai", FIELD_PHONE, FALSE},
    {"so di dong", FIELD_PHONE, FALSE},
    {"di dong", FIELD_PHONE, FALSE},
    {"so dt", FIELD_PHONE, FALSE},
    {"sdt", FIELD_PHONE, FALSE},
    {"dtdd", FIELD_PHONE, FALSE},
    {"phone", FIELD_PHONE, FALSE},
    {"mobile", FIELD_PHONE, FALSE},
    {"zalo", FIELD_PHONE, FALSE},
    {"dt", FIELD_PHONE, TRUE},
    {"tel", FIELD_PHONE, TRUE},

    {"dia chi email", FIELD_EMAIL, FALSE},
    {"dia chi e-mail", FIELD_EMAIL, FALSE},
    {"dia chi thu dien tu", FIELD_EMAIL, FALSE},
    {"dia chi mail", FIELD_EMAIL, FALSE},
    {"thu dien tu", FIELD_EMAIL, FALSE},
    {"email", FIELD_EMAIL, FALSE},
    {"e-mail", FIELD_EMAIL, FALSE},
    {"mail", FIELD_EMAIL, TRUE},
    {"gmail", FIELD_EMAIL, TRUE},

    {"dia diem xay ra su viec", FIELD_LOCATION, FALSE},
    {"dia diem xay ra su viec, vu viec", FIELD_LOCATION, FALSE},
    {"dia diem xay ra", FIELD_LOCATION, FALSE},
    {"dia diem phan anh", FIELD_LOCATION, FALSE},
    {"dia diem su viec", FIELD_LOCATION, FALSE},
    {"dia diem", FIELD_LOCATION, FALSE},
    {"dia chi xay ra su viec", FIELD_LOCATION, FALSE},
    {"dia chi xay ra", FIELD_LOCATION, FALSE},
    {"dia chi su viec", FIELD_LOCATION, FALSE},
    {"dia chi hien truong", FIELD_LOCATION, FALSE},
    {"dia chi phan anh", FIELD_LOCATION, FALSE},
    {"vi tri xay ra", FIELD_LOCATION, FALSE},
    {"vi tri tren ban do", FIELD_LOCATION, FALSE},
    {"vi tri", FIELD_LOCATION, FALSE},
    {"noi xay ra su viec", FIELD_LOCATION, FALSE},
    {"noi xay ra", FIELD_LOCATION, FALSE},
    {"noi phat hien", FIELD_LOCATION, FALSE},
    {"hien truong", FIELD_LOCATION, FALSE},
    {"location", FIELD_LOCATION, FALSE},
    {"khu vuc", FIELD_LOCATION, TRUE},

    {"thoi gian xay ra su viec", FIELD_TIME, FALSE},
    {"thoi gian xay ra", FIELD_TIME, FALSE},
    {"thoi gian phat hien", FIELD_TIME, FALSE},
    {"thoi gian", FIELD_TIME, FALSE},
    {"thoi diem xay ra", FIELD_TIME, FALSE},
    {"thoi diem", FIELD_TIME, FALSE},
    {"ngay xay ra", FIELD_TIME, FALSE},
    {"vao luc", FIELD_TIME, TRUE},
    {"luc", FIELD_TIME, TRUE},
    {"time", FIELD_TIME, TRUE},
};

/* ---- folded text with a way back ------------------------------------------------------------ */

/* The text folded for matching, and for each folded byte the offset of the original character
 * it came from: a match in the folded text is cut out of the original, diacritics intact. The
 * fold is the parse's (parse_folded_text), which the classification reads too. */
typedef struct {
    const char *s; /* NUL-terminated */
    gsize len;
    const guint *origin; /* per byte of s */
    gsize original_len;
} Folded;

static void folded_init(Folded *f, ParseContext *ctx, const char *text, gsize len)
{
    f->s = parse_folded_text(ctx, text, len, &f->len, &f->origin);
    f->original_len = len;
}

/* the original offset of folded offset i (the end maps to the end) */
static gsize folded_origin(const Folded *f, gsize i)
{
    return i < f->len ? f->origin[i] : f->original_len;
}

/* ---- values --------------------------------------------------------------------------------- */

static gboolean is_ascii_space(char c)
{
    return c == ' ' || c == '\t';
}

/* "...", "___", "-", "(không có)", "chưa có": a blank in a fill-in block, not a value */
static gboolean is_placeholder(const char *value)
{
    g_autofree char *folded = text_fold(value);
    GString *core = g_string_new(NULL);
    for (const char *p = folded; *p; p++) {
        if (strchr(" \t._-:*()[]<>/", *p) || (guchar)*p >= 0x80)
            continue;
        g_string_append_c(core, *p);
    }
    static const char *const blanks[] = {"",      "khong",     "khongco", "chuaco", "khongcan",
                                         "trong", "na",        "none",    "x",      "xxx",
                                         "nil",   "khongbiet", "khongro", "chuaro"};
    gboolean blank = FALSE;
    for (gsize i = 0; i < G_N_ELEMENTS(blanks) && !blank; i++)
        blank = strcmp(core->str, blanks[i]) == 0;
    g_string_free(core, TRUE);
    return blank;
}

/* trims separators and quotes a value may carry at its ends */
static char *trim_value(const char *value, gsize max_chars)
{
    g_autofree char *clean = text_clean_line(value);
    if (!clean)
        return NULL;
    const char *start = clean;
    while (*start && strchr(" .,;:-_*\"'|", *start))
        start++;
    gsize n = strlen(start);
    while (n > 0 && strchr(" .,;:-_*\"'|", start[n - 1]))
        n--;
    /* a closing bracket whose opening one is inside stays ("(ấp 3)") */
    if (n == 0)
        return NULL;
    char *out = g_strndup(start, n);
    if ((gsize)g_utf8_strlen(out, -1) > max_chars) {
        g_free(out);
        return NULL;
    }
    if (is_placeholder(out)) {
        g_free(out);
        return NULL;
    }
    return out;
}

/* Điều 4.2: CCCD province codes (the first three digits), as the Ministry of Public Security
 * assigns them (Thông tư 07/2016/TT-BCA, Phụ lục): the 63 provinces and cities. */
static const guint16 province_codes[] = {
    1,  2,  4,  6,  8,  10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33,
    34, 35, 36, 37, 38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66,
    67, 68, 70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96,
};
G_STATIC_ASSERT(G_N_ELEMENTS(province_codes) == 63);

gboolean fields_id_number_valid(const char *digits, gint64 now)
{
    gsize n = strlen(digits);
    for (gsize i = 0; i < n; i++) {
        if (!g_ascii_isdigit(digits[i]))
            return FALSE;
    }
    if (n == 9)
        return TRUE; /* the old CMND: nine digits, no structure we can check */
    if (n != 12)
        return FALSE;
    guint province = (guint)((digits[0] - '0') * 100 + (digits[1] - '0') * 10 + (digits[2] - '0'));
    gboolean known = FALSE;
    for (gsize i = 0; i < G_N_ELEMENTS(province_codes) && !known; i++)
        known = province_codes[i] == province;
    if (!known)
        return FALSE;
    /* fourth digit: sex and century of birth (0/1 twentieth, 2/3 twenty-first century; 4-9
     * are the 22nd-24th centuries: nobody alive). Fifth and sixth: the year of birth. */
    int century = digits[3] - '0';
    if (century > 3)
        return FALSE;
    int year = (century < 2 ? 1900 : 2000) + (digits[4] - '0') * 10 + (digits[5] - '0');
    g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(now > 0 ? now : clock_now_unix());
    return year <= g_date_time_get_year(t);
}

/* digits of a phone number as written: "+84 912.345.678", "(0299) 3822 111", "84-912..." ->
 * national form; NULL unless it is a Vietnamese mobile or landline number */
char *fields_normalise_phone(const char *written)
{
    GString *digits = g_string_new(NULL);
    gboolean plus = FALSE;
    for (const char *p = written; *p; p++) {
        if (g_ascii_isdigit(*p))
            g_string_append_c(digits, *p);
        else if (*p == '+' && digits->len == 0)
            plus = TRUE;
        else if (!strchr(" .-()/", *p))
            break;
    }
    char *s = digits->str;
    g_autofree char *national = NULL;
    if (g_str_has_prefix(s, "84") && (plus || digits->len >= 11)) {
        const char *rest = s + 2;
        if (*rest == '0') /* "+84 (0) 912 ..." */
            rest++;
        national = g_strconcat("0", rest, NULL);
    } else if (!plus) {
        national = g_strdup(s);
    }
    g_string_free(digits, TRUE);
    if (!national)
        return NULL;
    gsize n = strlen(national);
    gboolean mobile = n == 10 && national[0] == '0' && strchr("35789", national[1]);
    /* landlines since 2017: 02 + area code (2 or 3 digits in all, 0299 for Sóc Trăng) +
     * subscriber, 11 digits */
    gboolean landline = n == 11 && national[0] == '0' && national[1] == '2';
    if (!mobile && !landline)
        return NULL;
    return g_steal_pointer(&national);
}

/* "07.05.2026", "7-5-26" at p: a date, whose digits are never a phone ("Vào lúc 07.05.2026
 * 08:10" gave 0705202608); its length, or 0 */
static gsize date_at(const char *p, const char *end)
{
    static GRegex *date_re;
    GRegex *re = parse_regex(&date_re, "^(\\d{1,2})([./-])(\\d{1,2})\\2(\\d{4}|\\d{2})(?!\\d)", 0);
    g_autoptr(GMatchInfo) m = NULL;
    if (!g_regex_match_full(re, p, MIN(end - p, 16), 0, 0, &m, NULL))
        return 0;
    g_autofree char *day = g_match_info_fetch(m, 1);
    g_autofree char *month = g_match_info_fetch(m, 3);
    gint64 d = g_ascii_strtoll(day, NULL, 10), mo = g_ascii_strtoll(month, NULL, 10);
    if (d < 1 || d > 31 || mo < 1 || mo > 12)
        return 0;
    gint start = 0, stop = 0;
    g_match_info_fetch_pos(m, 0, &start, &stop);
    return (gsize)stop;
}

/* Words that make the number after them in its clause something else than a phone: bank
 * accounts (số tài khoản, STK: many banks give 10-digit numbers, some the owner's own phone
 * number), card numbers, tax codes (mã số thuế: 10 digits starting with 0) */
static gboolean after_other_number_word(const char *text, const char *p)
{
    /* the same clause: back to the line start or a sentence mark, at most 50 bytes */
    const char *line = p;
    while (line > text && !strchr("\n.;!?,", line[-1]) && p - line < 50)
        line--;
    g_autofree char *before = g_strndup(line, (gsize)(p - line));
    g_autofree char *folded = text_fold(before);
    static GRegex *words_re;
    GRegex *re = parse_regex(&words_re,
                             "\\b(?:stk|so tk|tai khoan|tk ngan hang|ngan hang|account|acct|a/c|"
                             "iban|so the|the atm|ma so thue|mst|tax code|so hop dong|"
                             "ma khach hang|ma don hang|so ho so|ma ho so)\\b",
                             0);
    return g_regex_match(re, folded, 0, NULL);
}

/* digits in the run of groups from p: groups joined by "." or "-", or by a space when the
 * next group has 3 digits or more (an account "0981 234 567 890"; not "0912345678 12 người") */
static int run_digits(const char *p, const char *end)
{
    int digits = 0;
    while (p < end && digits < 40) {
        while (p < end && g_ascii_isdigit(*p)) {
            digits++;
            p++;
        }
        if (p + 1 >= end || !g_ascii_isdigit(p[1]))
            break;
        if (*p == ' ') {
            int next = 0;
            while (p + 1 + next < end && g_ascii_isdigit(p[1 + next]))
                next++;
            if (next < 3)
                break;
        } else if (*p != '.' && *p != '-') {
            break;
        }
        p++;
    }
    return digits;
}

/* The first phone number in text: digit groups separated by single spaces, dots, dashes or
 * brackets; the shortest run of groups that is a valid number wins ("0912 345 678 và ...").
 * Dates, numbers longer than any phone and numbers labelled as accounts are skipped. */
static char *find_phone(const char *text, gsize len, gsize *end_out)
{
    const char *end = text + len;
    for (const char *p = text; p < end; p++) {
        if (!(g_ascii_isdigit(*p) || *p == '+' || *p == '('))
            continue;
        if (p > text && (g_ascii_isalnum(p[-1]) || p[-1] == '.' || p[-1] == '/' || p[-1] == ','))
            continue;
        gsize date = g_ascii_isdigit(*p) ? date_at(p, end) : 0;
        /* more digits than a landline (11), or an account: not a phone */
        if (date > 0 || (g_ascii_isdigit(*p) && run_digits(p, end) > 11) ||
            after_other_number_word(text, p)) {
            p += MAX(date, 1) - 1;
            while (p + 1 < end && (g_ascii_isdigit(p[1]) || p[1] == '.' || p[1] == '-' ||
                                   (p[1] == ' ' && p + 2 < end && g_ascii_isdigit(p[2]))))
                p++;
            continue;
        }
        /* collect groups */
        const char *q = p;
        GString *run = g_string_new(NULL);
        int digits = 0;
        const char *best_end = NULL;
        char *best = NULL;
        while (q < end && digits <= 15 && q - p < 40) {
            if (g_ascii_isdigit(*q)) {
                g_string_append_c(run, *q);
                digits++;
                q++;
                /* at the end of a group, try what we have */
                if (q >= end || !g_ascii_isdigit(*q)) {
                    gboolean boundary = q >= end || !g_ascii_isalnum(*q);
                    if (boundary && digits >= 9) {
                        char *phone = fields_normalise_phone(run->str);
                        if (phone) {
                            best = phone;
                            best_end = q;
                            break;
                        }
                    }
                }
                continue;
            }
            if ((*q == '+' && run->len == 0) || *q == '(' || *q == ')') {
                g_string_append_c(run, *q);
                q++;
                continue;
            }
            if ((*q == ' ' || *q == '.' || *q == '-') && q + 1 < end &&
                (g_ascii_isdigit(q[1]) || q[1] == '(')) {
                g_string_append_c(run, ' ');
                q++;
                continue;
            }
            break;
        }
        g_string_free(run, TRUE);
        if (best) {
            if (end_out)
                *end_out = (gsize)(best_end - text);
            return best;
        }
        /* skip the rest of this number */
        while (p + 1 < end && (g_ascii_isdigit(p[1])))
            p++;
    }
    return NULL;
}

/* the ID number at the start of a labelled value: digits in groups ("0942 0100 1234") */
static char *leading_digits(const char *value)
{
    GString *digits = g_string_new(NULL);
    const char *p = value;
    while (*p && !g_ascii_isdigit(*p)) {
        /* "số", "là", ":" before the number; give up at anything long */
        if (p - value > 12) {
            g_string_free(digits, TRUE);
            return NULL;
        }
        p++;
    }
    for (; *p; p++) {
        if (g_ascii_isdigit(*p))
            g_string_append_c(digits, *p);
        else if ((*p == ' ' || *p == '.' || *p == '-') && g_ascii_isdigit(p[1]))
            continue;
        else
            break;
    }
    if (digits->len == 0) {
        g_string_free(digits, TRUE);
        return NULL;
    }
    return g_string_free(digits, FALSE);
}

static char *find_email(const char *value)
{
    static GRegex *email;
    GRegex *re = parse_regex(
        &email, "[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\\.[A-Za-z0-9-]{1,63})+", 0);
    g_autoptr(GMatchInfo) match = NULL;
    if (!g_regex_match(re, value, 0, &match))
        return NULL;
    g_autofree char *found = g_match_info_fetch(match, 0);
    return address_lower_domain(found);
}

static gboolean name_plausible(const char *name)
{
    gboolean letter = FALSE;
    for (const char *p = name; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (g_unichar_isdigit(c) || c == '@' || c == '/' || c == ':')
            return FALSE;
        letter |= g_unichar_isalpha(c);
    }
    return letter;
}

/* "Web Address: https://...", "IP address: 10.0.0.1", "Address: a@b.vn": a place to live is
 * none of these */
static gboolean address_plausible(const char *address)
{
    static GRegex *not_place;
    GRegex *re = parse_regex(&not_place,
                             "://|^www\\.|@|^[\\d.:/]+$|^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$|"
                             "\\.(?:com|net|org|vn|gov)(?:/|$)",
                             G_REGEX_CASELESS);
    return !g_regex_match(re, address, 0, NULL);
}

/* ---- time of the incident ------------------------------------------------------------------- */

static GTimeZone *vietnam_zone(void)
{
    /* Indochina Time, no daylight saving: parse has no configuration, and the province's zone
     * is this offset all year */
    return g_time_zone_new_offset(7 * 3600);
}

static int match_int(GMatchInfo *m, int group, int fallback)
{
    g_autofree char *s = g_match_info_fetch(m, group);
    if (!s || !*s)
        return fallback;
    return (int)g_ascii_strtoll(s, NULL, 10);
}

char *fields_parse_time(const char *written, gint64 reference)
{
    if (!written || !*written)
        return NULL;
    g_autofree char *folded = text_fold(written);
    g_autofree char *lower = g_utf8_strdown(written, -1);
    g_autoptr(GTimeZone) zone = vietnam_zone();
    g_autoptr(GDateTime) ref_utc =
        g_date_time_new_from_unix_utc(reference > 0 ? reference : clock_now_unix());
    g_autoptr(GDateTime) ref = g_date_time_to_timezone(ref_utc, zone);

    int day = 0, month = 0, year = 0;
    gboolean have_date = FALSE;
    static GRegex *long_date_re, *short_date_re;
    GRegex *long_date = parse_regex(
        &long_date_re, "ngay\\s+(\\d{1,2})\\s+thang\\s+(\\d{1,2})(?:\\s+nam\\s+(\\d{4}))?", 0);
    GRegex *short_date = parse_regex(
        &short_date_re,
        "(?<![\\d.,])(\\d{1,2})\\s*[/.-]\\s*(\\d{1,2})(?:\\s*[/.-]\\s*(\\d{4}|\\d{2}))?(?![\\d])",
        0);
    g_autoptr(GMatchInfo) m = NULL;
    gint date_start = -1, date_end = -1;
    gboolean dated = g_regex_match(long_date, folded, 0, &m);
    if (!dated) {
        g_clear_pointer(&m, g_match_info_free);
        dated = g_regex_match(short_date, folded, 0, &m);
    }
    if (dated) {
        day = match_int(m, 1, 0);
        month = match_int(m, 2, 0);
        year = match_int(m, 3, 0);
        g_match_info_fetch_pos(m, 0, &date_start, &date_end);
        if (year > 0 && year < 100)
            year += 2000;
        if (year == 0) {
            /* the last such day up to tomorrow: "28/12" written in January is last year's */
            year = g_date_time_get_year(ref);
            int ref_month = g_date_time_get_month(ref), ref_day = g_date_time_get_day_of_month(ref);
            if (month > ref_month || (month == ref_month && day > ref_day + 1))
                year--;
        }
        have_date = year >= 1990 && year <= 2100 && g_date_valid_dmy((GDateDay)day, month, year);
    }
    g_clear_pointer(&m, g_match_info_free);
    if (!have_date) {
        /* "hôm nay", "sáng nay", "tối qua", "hôm kia" */
        static GRegex *relative_re;
        GRegex *relative = parse_regex(
            &relative_re,
            "\\b(?:hom|sang|toi|chieu|trua|dem|khuya)\\s+(nay|qua)\\b|\\b(hom kia)\\b", 0);
        if (g_regex_match(relative, folded, 0, &m)) {
            g_autofree char *which = g_match_info_fetch(m, 1);
            int back = which && g_str_equal(which, "qua") ? 1 : (which && *which ? 0 : 2);
            g_autoptr(GDateTime) d = g_date_time_add_days(ref, -back);
            day = g_date_time_get_day_of_month(d);
            month = g_date_time_get_month(d);
            year = g_date_time_get_year(d);
            have_date = TRUE;
        }
        g_clear_pointer(&m, g_match_info_free);
    }

    /* "20h30", "20:30", "8 giờ sáng", "3g chiều", "20h" (never the date's digits) */
    int hour = -1, minute = 0;
    static GRegex *clock_re;
    GRegex *clock = parse_regex(
        &clock_re,
        "(?<![\\d/.,])(\\d{1,2})\\s*(?:gio|h|g|:)\\s*(\\d{1,2})?\\s*(?:p|phut|')?(?![\\d/])", 0);
    GError *ignored = NULL;
    gboolean found = g_regex_match_full(clock, folded, -1, 0, 0, &m, &ignored);
    while (found) {
        gint s = 0, e = 0;
        g_match_info_fetch_pos(m, 0, &s, &e);
        if (date_start < 0 || e <= date_start || s >= date_end) {
            hour = match_int(m, 1, -1);
            minute = match_int(m, 2, 0);
            break;
        }
        found = g_match_info_next(m, NULL);
    }
    g_clear_pointer(&m, g_match_info_free);
    g_clear_error(&ignored);
    if (hour >= 0) {
        /* tối (evening) and tôi (I) fold alike: ask the original for the evening */
        static GRegex *evening_re, *afternoon_re, *night_re, *noon_re;
        gboolean evening =
            strstr(lower, "tối") ||
            g_regex_match(parse_regex(&evening_re, "\\btoi\\s+(?:nay|qua)\\b", 0), folded, 0, NULL);
        gboolean afternoon =
            g_regex_match(parse_regex(&afternoon_re, "\\bchieu\\b", 0), folded, 0, NULL);
        gboolean night =
            g_regex_match(parse_regex(&night_re, "\\b(?:dem|khuya)\\b", 0), folded, 0, NULL);
        gboolean noon = g_regex_match(parse_regex(&noon_re, "\\btrua\\b", 0), folded, 0, NULL);
        if ((evening || afternoon) && hour < 12)
            hour += 12;
        else if (night && hour >= 6 && hour < 12)
            hour += 12;
        else if (noon && hour < 6)
            hour += 12;
        if (hour > 23 || minute > 59)
            hour = -1;
    }
    if (!have_date)
        return NULL; /* a time without a day is kept as written */
    if (hour < 0)
        return g_strdup_printf("%04d-%02d-%02d", year, month, day);
    return g_strdup_printf("%04d-%02d-%02dT%02d:%02d:00+07:00", year, month, day, hour, minute);
}

/* ---- coordinates ---------------------------------------------------------------------------- */

static gboolean coordinates_ok(double lat, double lon)
{
    return isfinite(lat) && isfinite(lon) && fabs(lat) <= 90.0 && fabs(lon) <= 180.0 &&
           !(fabs(lat) < 1e-9 && fabs(lon) < 1e-9);
}

static double match_double(GMatchInfo *m, int group)
{
    g_autofree char *s = g_match_info_fetch(m, group);
    if (!s)
        return NAN;
    for (char *p = s; *p; p++) {
        if (*p == ',')
            *p = '.';
    }
    return g_ascii_strtod(s, NULL);
}

/* a bare "9.6025, 105.9739" needs two decimal numbers with 3+ decimals: a cheap scan first,
 * since most texts have no such thing and the pattern would be tried at every digit */
static gboolean has_decimal_pair(const char *text)
{
    int found = 0;
    for (const char *p = text; *p; p++) {
        if (*p != '.' || p == text || !g_ascii_isdigit(p[-1]))
            continue;
        int decimals = 0;
        while (g_ascii_isdigit(p[1 + decimals]))
            decimals++;
        if (decimals >= 3 && ++found == 2)
            return TRUE;
    }
    return FALSE;
}

/* needle in text, ASCII case ignored. strcasestr() compares at every byte; a needle that
 * starts with a sign ("!3d", "=", "@", "/maps/") is looked for with strchr() first, which
 * skips most of a text at once (strcasestr was 2 % of the parse of the benchmark's corpus) */
static gboolean contains_caseless(const char *text, const char *needle)
{
    if (g_ascii_isalpha(needle[0]))
        return strcasestr(text, needle) != NULL;
    gsize n = strlen(needle);
    for (const char *p = strchr(text, needle[0]); p; p = strchr(p + 1, needle[0])) {
        if (g_ascii_strncasecmp(p, needle, n) == 0)
            return TRUE;
    }
    return FALSE;
}

gboolean fields_find_coordinates(const char *text, double *lat, double *lon)
{
    if (!text)
        return FALSE;
    /* strongest first: a Google Maps place pin, then the query, then the view centre, then a
     * bare pair, then degrees-minutes-seconds as Google Maps prints them */
    static const struct {
        const char *needle; /* a literal the pattern needs: no needle, no regex run */
        const char *pattern;
    } pairs[] = {
        {"!3d", "!3d(-?\\d{1,2}\\.\\d+)!4d(-?\\d{1,3}\\.\\d+)"},
        {"=", "[?&](?:q|query|ll|center|destination|daddr|sll)=(?:loc:)?\\s*(-?\\d{1,2}\\.\\d+)"
              "\\s*(?:,|%2C)\\s*\\+?(-?\\d{1,3}\\.\\d+)"},
        {"/maps/", "/maps/(?:search|place|dir)/(?:[^/@\\s]*/)?\\+?(-?\\d{1,2}\\.\\d+)(?:,|%2C)"
                   "\\+?(-?\\d{1,3}\\.\\d+)"},
        {"geo:", "\\bgeo:(-?\\d{1,2}\\.\\d+),(-?\\d{1,3}\\.\\d+)"},
        {"@", "@(-?\\d{1,2}\\.\\d+),\\s*(-?\\d{1,3}\\.\\d+)"},
        {NULL, "(?<![\\d.])(-?\\d{1,2}\\.\\d{3,})\\s*[,;]\\s*(-?\\d{1,3}\\.\\d{3,})(?![\\d])"},
    };
    static GRegex *compiled[G_N_ELEMENTS(pairs)];
    for (gsize i = 0; i < G_N_ELEMENTS(pairs); i++) {
        if (pairs[i].needle ? !contains_caseless(text, pairs[i].needle) : !has_decimal_pair(text))
            continue;
        GRegex *re = parse_regex(&compiled[i], pairs[i].pattern, G_REGEX_CASELESS);
        g_autoptr(GMatchInfo) m = NULL;
        GError *ignored = NULL;
        gboolean found = g_regex_match_full(re, text, -1, 0, 0, &m, &ignored);
        g_clear_error(&ignored);
        while (found) {
            double a = match_double(m, 1), b = match_double(m, 2);
            if (coordinates_ok(a, b)) {
                *lat = a;
                *lon = b;
                return TRUE;
            }
            found = g_match_info_next(m, NULL);
        }
    }
    /* degrees-minutes-seconds need the degree sign */
    if (!strstr(text, "\xc2\xb0"))
        return FALSE;
    static GRegex *dms_re;
    GRegex *dms = parse_regex(
        &dms_re,
        "(\\d{1,2})\\s*°\\s*(\\d{1,2})\\s*['′’]\\s*(\\d{1,2}(?:[.,]\\d+)?)\\s*(?:[\"″”]|'')\\s*(["
        "NS])"
        "[\\s,;]*(\\d{1,3})\\s*°\\s*(\\d{1,2})\\s*['′’]\\s*(\\d{1,2}(?:[.,]\\d+)?)\\s*(?:[\"″”]|'')"
        "\\s*([EW])",
        G_REGEX_CASELESS);
    g_autoptr(GMatchInfo) m = NULL;
    if (dms && g_regex_match(dms, text, 0, &m)) {
        double a = match_double(m, 1) + match_double(m, 2) / 60.0 + match_double(m, 3) / 3600.0;
        double b = match_double(m, 5) + match_double(m, 6) / 60.0 + match_double(m, 7) / 3600.0;
        g_autofree char *ns = g_match_info_fetch(m, 4);
        g_autofree char *ew = g_match_info_fetch(m, 8);
        if (g_ascii_toupper(ns[0]) == 'S')
            a = -a;
        if (g_ascii_toupper(ew[0]) == 'W')
            b = -b;
        if (coordinates_ok(a, b)) {
            *lat = a;
            *lon = b;
            return TRUE;
        }
    }
    return FALSE;
}

/* ---- EXIF GPS (JPEG) -------------------------------------------------------------------------
 * A JPEG's EXIF block (APP1, "Exif\0\0") is a TIFF structure: a byte order mark, an offset to
 * IFD0, whose tag 0x8825 points at the GPS IFD: tags 1/3 the N/S and E/W references, 2/4 the
 * latitude and longitude as three RATIONALs (degrees, minutes, seconds). Every offset in it
 * comes from the sender: each read is checked against the block's length. */

typedef struct {
    const guchar *d;
    gsize n;
    gboolean little;
} Tiff;

static gboolean tiff_u16(const Tiff *t, gsize off, guint *out)
{
    if (off > t->n || t->n - off < 2)
        return FALSE;
    const guchar *p = t->d + off;
    *out = t->little ? (guint)(p[0] | (p[1] << 8)) : (guint)((p[0] << 8) | p[1]);
    return TRUE;
}

static gboolean tiff_u32(const Tiff *t, gsize off, guint32 *out)
{
    if (off > t->n || t->n - off < 4)
        return FALSE;
    const guchar *p = t->d + off;
    if (t->little)
        *out = (guint32)p[0] | ((guint32)p[1] << 8) | ((guint32)p[2] << 16) | ((guint32)p[3] << 24);
    else
        *out = ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | (guint32)p[3];
    return TRUE;
}

typedef struct {
    guint type;
    guint32 count;
    gsize value_at; /* where the 4-byte value/offset field is */
} TiffEntry;

static gboolean tiff_find(const Tiff *t, guint32 ifd, guint tag, TiffEntry *out)
{
    guint entries = 0;
    if (!tiff_u16(t, ifd, &entries) || entries > 1000)
        return FALSE;
    for (guint i = 0; i < entries; i++) {
        gsize at = (gsize)ifd + 2 + (gsize)i * 12;
        guint entry_tag = 0;
        if (!tiff_u16(t, at, &entry_tag))
            return FALSE;
        if (entry_tag != tag)
            continue;
        if (!tiff_u16(t, at + 2, &out->type) || !tiff_u32(t, at + 4, &out->count))
            return FALSE;
        out->value_at = at + 8;
        return TRUE;
    }
    return FALSE;
}

static gboolean tiff_ref(const Tiff *t, guint32 ifd, guint tag, char *out)
{
    TiffEntry e;
    if (!tiff_find(t, ifd, tag, &e) || e.type != 2 || e.count < 1 || e.value_at >= t->n)
        return FALSE;
    gsize at = e.value_at;
    if (e.count > 4) {
        guint32 off = 0;
        if (!tiff_u32(t, e.value_at, &off) || off >= t->n)
            return FALSE;
        at = off;
    }
    *out = (char)g_ascii_toupper((char)t->d[at]);
    return TRUE;
}

static gboolean tiff_degrees(const Tiff *t, guint32 ifd, guint tag, double *out)
{
    TiffEntry e;
    /* RATIONAL (5) or SRATIONAL (10), one to three of them, always stored at an offset */
    if (!tiff_find(t, ifd, tag, &e) || (e.type != 5 && e.type != 10) || e.count < 1)
        return FALSE;
    guint32 off = 0;
    if (!tiff_u32(t, e.value_at, &off))
        return FALSE;
    double parts[3] = {0, 0, 0};
    guint32 n = MIN(e.count, 3);
    for (guint32 i = 0; i < n; i++) {
        guint32 num = 0, den = 0;
        gsize at = (gsize)off + (gsize)i * 8;
        if (!tiff_u32(t, at, &num) || !tiff_u32(t, at + 4, &den))
            return FALSE;
        if (den == 0)
            return FALSE;
        parts[i] =
            e.type == 10 ? (double)(gint32)num / (double)(gint32)den : (double)num / (double)den;
    }
    *out = parts[0] + parts[1] / 60.0 + parts[2] / 3600.0;
    return isfinite(*out);
}

static gboolean tiff_gps(const guchar *data, gsize len, double *lat, double *lon)
{
    if (len < 8)
        return FALSE;
    Tiff t = {data, len, FALSE};
    if (data[0] == 'I' && data[1] == 'I')
        t.little = TRUE;
    else if (!(data[0] == 'M' && data[1] == 'M'))
        return FALSE;
    guint magic = 0;
    guint32 ifd0 = 0;
    if (!tiff_u16(&t, 2, &magic) || magic != 42 || !tiff_u32(&t, 4, &ifd0))
        return FALSE;
    TiffEntry gps_pointer;
    guint32 gps = 0;
    if (!tiff_find(&t, ifd0, 0x8825, &gps_pointer) || !tiff_u32(&t, gps_pointer.value_at, &gps))
        return FALSE;
    char lat_ref = 'N', lon_ref = 'E';
    double a = 0, b = 0;
    if (!tiff_degrees(&t, gps, 2, &a) || !tiff_degrees(&t, gps, 4, &b))
        return FALSE;
    tiff_ref(&t, gps, 1, &lat_ref);
    tiff_ref(&t, gps, 3, &lon_ref);
    if (lat_ref == 'S')
        a = -a;
    if (lon_ref == 'W')
        b = -b;
    if (!coordinates_ok(a, b))
        return FALSE;
    *lat = a;
    *lon = b;
    return TRUE;
}

gboolean exif_gps_from_jpeg(const guchar *data, gsize len, double *lat, double *lon)
{
    if (len < 4 || data[0] != 0xFF || data[1] != 0xD8)
        return FALSE;
    gsize pos = 2;
    while (pos + 4 <= len) {
        if (data[pos] != 0xFF)
            return FALSE;
        guchar marker = data[pos + 1];
        if (marker == 0xFF) { /* fill byte */
            pos++;
            continue;
        }
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) { /* no length */
            pos += 2;
            continue;
        }
        if (marker == 0xDA || marker == 0xD9)
            return FALSE; /* image data: the metadata segments are behind us */
        gsize segment = ((gsize)data[pos + 2] << 8) | data[pos + 3];
        if (segment < 2 || segment > len - pos - 2)
            return FALSE;
        const guchar *body = data + pos + 4;
        gsize body_len = segment - 2;
        if (marker == 0xE1 && body_len >= 6 && memcmp(body, "Exif\0\0", 6) == 0 &&
            tiff_gps(body + 6, body_len - 6, lat, lon))
            return TRUE;
        pos += 2 + segment;
    }
    return FALSE;
}

static gboolean attachment_gps(const DraftAttachment *a, double *lat, double *lon)
{
    if (!a->path || !a->kind || strcmp(a->kind, "image") != 0)
        return FALSE;
    int fd = open(a->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return FALSE;
    guchar *buf = g_malloc(EXIF_READ_BYTES);
    gsize have = 0;
    while (have < EXIF_READ_BYTES) {
        ssize_t n = read(fd, buf + have, EXIF_READ_BYTES - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (gsize)n;
    }
    close(fd);
    gboolean found = exif_gps_from_jpeg(buf, have, lat, lon);
    g_free(buf);
    return found;
}

/* ---- labelled values ------------------------------------------------------------------------ */

typedef struct {
    FieldKind field;
    gsize label_start; /* folded offsets */
    gsize value_start;
    gboolean separator; /* ":", tab, "=", " - ", dotted leader */
} LabelHit;

/* The labels are found by one scan of the folded text, trying labels only where one can begin:
 * a word start, where the character before is not a letter, a digit or one of _ @ . / & -
 * (so "sdt" in "bsdt", "x@sdt" or "3.dt" is not a label). At a word start the labels beginning
 * with that letter are tried longest first, a space of a label matching any run of spaces and
 * tabs, and a label counts only when no letter or digit follows ("ten" of "tenant" is none).
 * The longest wins ("Địa chỉ email" is an e-mail, not an address), and the scan goes on after
 * it; only the labels beginning with the word's first two letters are tried. This is what an
 * alternation of the labels in one PCRE2 regex did, at a fifth of its cost: that regex ran its
 * look-behind at every byte, each letter being a possible first byte. */
typedef struct {
    /* per pair of first bytes (ASCII), where its labels begin in `by_pair` and how many: a
     * word start tries only the labels that begin with its two letters */
    guint8 first[128 * 128];
    guint8 count[128 * 128];
    const Label *by_pair[G_N_ELEMENTS(labels)]; /* grouped by first two bytes, longest first */
} LabelIndex;

G_STATIC_ASSERT(G_N_ELEMENTS(labels) < 256);

static guint label_pair(const char *s)
{
    return (guint)(guchar)s[0] * 128 + (guchar)s[1];
}

static gint label_pair_then_longest(gconstpointer a, gconstpointer b, gpointer unused)
{
    (void)unused;
    const Label *x = *(const Label *const *)a, *y = *(const Label *const *)b;
    if (label_pair(x->label) != label_pair(y->label))
        return (int)label_pair(x->label) - (int)label_pair(y->label);
    return (int)strlen(y->label) - (int)strlen(x->label);
}

static gpointer label_index_build(gpointer data)
{
    (void)data;
    LabelIndex *index = g_new0(LabelIndex, 1);
    for (gsize i = 0; i < G_N_ELEMENTS(labels); i++) {
        const char *l = labels[i].label;
        /* two ASCII bytes, neither a space, begin every label */
        g_assert(strlen(l) >= 2 && (guchar)l[0] < 128 && (guchar)l[1] < 128 && l[0] != ' ' &&
                 l[1] != ' ');
        index->by_pair[i] = &labels[i];
    }
    /* a stable sort: labels of one length keep the table's order */
    g_qsort_with_data(index->by_pair, G_N_ELEMENTS(labels), sizeof(const Label *),
                      label_pair_then_longest, NULL);
    for (gsize i = G_N_ELEMENTS(labels); i > 0; i--) {
        guint pair = label_pair(index->by_pair[i - 1]->label);
        index->first[pair] = (guint8)(i - 1);
        index->count[pair]++;
    }
    return index;
}

static const LabelIndex *label_index(void)
{
    static GOnce once = G_ONCE_INIT;
    return g_once(&once, label_index_build, NULL);
}

/* a letter or a digit (Unicode's L and N categories, as the regex's \p{L}\p{N}) */
static gboolean is_letter_or_digit(gunichar c)
{
    if (c < 0x80)
        return g_ascii_isalnum((char)c);
    switch (g_unichar_type(c)) {
    case G_UNICODE_UPPERCASE_LETTER:
    case G_UNICODE_LOWERCASE_LETTER:
    case G_UNICODE_TITLECASE_LETTER:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_OTHER_LETTER:
    case G_UNICODE_DECIMAL_NUMBER:
    case G_UNICODE_LETTER_NUMBER:
    case G_UNICODE_OTHER_NUMBER:
        return TRUE;
    default:
        return FALSE;
    }
}

/* the character starting at s[at] (before len) is a letter or digit */
static gboolean letter_or_digit_at(const char *s, gsize len, gsize at)
{
    if (at >= len)
        return FALSE;
    if ((guchar)s[at] < 0x80)
        return g_ascii_isalnum(s[at]);
    gunichar c = g_utf8_get_char_validated(s + at, (gssize)(len - at));
    return c != (gunichar)-1 && c != (gunichar)-2 && is_letter_or_digit(c);
}

/* a label may begin at s[at]: nothing before it that would make it part of a word, a number,
 * an address or a path */
static gboolean at_word_start(const char *s, gsize at)
{
    if (at == 0)
        return TRUE;
    guchar c = (guchar)s[at - 1];
    if (c < 0x80)
        return !g_ascii_isalnum(c) && (c == 0 || !strchr("_@./&-", c));
    gsize i = at - 1;
    while (i > 0 && at - i < 4 && ((guchar)s[i] & 0xC0) == 0x80)
        i--;
    gunichar prev = g_utf8_get_char_validated(s + i, (gssize)(at - i));
    return prev == (gunichar)-1 || prev == (gunichar)-2 || !is_letter_or_digit(prev);
}

/* the label matches the text at s[at]: its end in *end */
static gboolean label_matches(const char *label, const char *s, gsize len, gsize at, gsize *end)
{
    gsize i = at;
    for (const char *l = label; *l; l++) {
        if (*l == ' ') { /* one or more spaces or tabs */
            if (i >= len || (s[i] != ' ' && s[i] != '\t'))
                return FALSE;
            while (i < len && (s[i] == ' ' || s[i] == '\t'))
                i++;
            continue;
        }
        if (i >= len || s[i] != *l)
            return FALSE;
        i++;
    }
    if (letter_or_digit_at(s, len, i))
        return FALSE;
    *end = i;
    return TRUE;
}

/* the next label in the folded text s[from, len): its place in *start and *end */
static const Label *label_next(const char *s, gsize len, gsize from, gsize *start, gsize *end)
{
    const LabelIndex *index = label_index();
    for (gsize at = from; at + 1 < len; at++) { /* every label has two bytes or more */
        guchar c = (guchar)s[at], d = (guchar)s[at + 1];
        if ((c | d) >= 128)
            continue;
        guint pair = c * 128 + d;
        if (!index->count[pair] || !at_word_start(s, at))
            continue;
        for (guint k = index->first[pair]; k < (guint)index->first[pair] + index->count[pair];
             k++) {
            if (label_matches(index->by_pair[k]->label, s, len, at, end)) {
                *start = at;
                return index->by_pair[k];
            }
        }
    }
    return NULL;
}

const char *fields_label_next(const char *folded, gsize len, gsize from, gsize *start, gsize *end)
{
    const Label *label = label_next(folded, len, from, start, end);
    return label ? label->label : NULL;
}

const char *fields_label_text(guint i)
{
    return i < G_N_ELEMENTS(labels) ? labels[i].label : NULL;
}

/* a short label (Tên, DC, ĐT, Lúc) only where a label can begin: at the start of a line (after
 * bullets, numbering, quote marks), after a tab (a table cell) or after , ; | ( */
static gboolean at_item_start(const char *s, gsize at)
{
    gsize i = at;
    while (i > 0) {
        guchar c = (guchar)s[i - 1];
        if (c == ' ' || c == '-' || c == '*' || c == '+' || c == '>' || c == '.' || c == ')' ||
            g_ascii_isdigit(c) || c == 0xE2 || c == 0x80 || c == 0xA2 || c == 0xC2 || c == 0xB7) {
            i--; /* spaces, bullets (•, ·), numbering "1.", "2)" */
            continue;
        }
        return c == '\n' || c == '\t' || c == ',' || c == ';' || c == '|' || c == '(';
    }
    return TRUE;
}

/* what follows a label: a separator, and the value's start */
static gboolean label_separator(const char *s, gsize len, gsize at, gsize *value_start)
{
    gsize i = at;
    /* "Số điện thoại (Zalo): ..." */
    gsize j = i;
    while (j < len && is_ascii_space(s[j]) && s[j] != '\t')
        j++;
    if (j < len && s[j] == '(') {
        const char *close = memchr(s + j, ')', MIN(len - j, 40));
        const char *nl = memchr(s + j, '\n', MIN(len - j, 40));
        if (close && (!nl || close < nl))
            i = (gsize)(close - s) + 1;
    }
    if (i < len && s[i] == '\t') { /* a table cell */
        *value_start = i + 1;
        return TRUE;
    }
    while (i < len && s[i] == ' ')
        i++;
    if (i >= len)
        return FALSE;
    if (s[i] == ':' || s[i] == '=' || s[i] == '\t') {
        *value_start = i + 1;
        return TRUE;
    }
    if (len - i >= 3 && (guchar)s[i] == 0xEF && (guchar)s[i + 1] == 0xBC &&
        (guchar)s[i + 2] == 0x9A) { /* fullwidth colon */
        *value_start = i + 3;
        return TRUE;
    }
    if ((s[i] == '-' && i + 1 < len && s[i + 1] == ' ') ||
        (len - i >= 3 && (guchar)s[i] == 0xE2 && (guchar)s[i + 1] == 0x80 &&
         (guchar)s[i + 2] == 0x93)) { /* "Họ tên - ...", en dash */
        *value_start = i + (s[i] == '-' ? 1 : 3);
        return TRUE;
    }
    if ((s[i] == '.' && i + 1 < len && s[i + 1] == '.') || s[i] == '_') { /* dotted leader */
        while (i < len && (s[i] == '.' || s[i] == '_' || s[i] == ' '))
            i++;
        if (i < len && s[i] == ':')
            i++;
        *value_start = i;
        return TRUE;
    }
    return FALSE;
}

/* after a phone or ID label without separator: "SĐT 0912...", "CCCD số 0942...", "là" */
static gboolean label_number_follows(const char *s, gsize len, gsize at, gsize *value_start)
{
    gsize i = at;
    for (int words = 0; words < 3; words++) {
        while (i < len && s[i] == ' ')
            i++;
        if (i < len && (g_ascii_isdigit(s[i]) || s[i] == '+' || s[i] == '(')) {
            *value_start = i;
            return TRUE;
        }
        static const char *const fillers[] = {"so ", "la ", "cua toi ", "toi "};
        gboolean skipped = FALSE;
        for (gsize k = 0; k < G_N_ELEMENTS(fillers) && !skipped; k++) {
            gsize n = strlen(fillers[k]);
            if (len - i >= n && strncmp(s + i, fillers[k], n) == 0) {
                i += n;
                skipped = TRUE;
            }
        }
        if (!skipped)
            return FALSE;
    }
    return FALSE;
}

static GArray *find_labels(const Folded *f)
{
    GArray *hits = g_array_new(FALSE, FALSE, sizeof(LabelHit));
    const char *s = f->s;
    gsize len = f->len;
    gsize start = 0, end = 0;
    for (const Label *label = label_next(s, len, 0, &start, &end); label && hits->len < LABELS_MAX;
         label = label_next(s, len, end, &start, &end)) {
        if (label->strict && !at_item_start(s, start))
            continue;
        LabelHit hit = {label->field, start, 0, FALSE};
        if (label_separator(s, len, end, &hit.value_start))
            hit.separator = TRUE;
        else if (!(label->field == FIELD_PHONE || label->field == FIELD_ID) ||
                 !label_number_follows(s, len, end, &hit.value_start))
            continue;
        g_array_append_val(hits, hit);
    }
    return hits;
}

/* the original text of a labelled value: to the end of its line or the next label on it;
 * an empty value takes the next line when that line is not a label itself */
static char *label_value(const Folded *f, const char *original, GArray *hits, guint index)
{
    const LabelHit *hit = &g_array_index(hits, LabelHit, index);
    const char *s = f->s;
    gsize len = f->len;
    const char *nl = memchr(s + hit->value_start, '\n', len - hit->value_start);
    gsize end = nl ? (gsize)(nl - s) : len;
    if (index + 1 < hits->len) {
        const LabelHit *next = &g_array_index(hits, LabelHit, index + 1);
        if (next->label_start < end && next->label_start >= hit->value_start)
            end = next->label_start;
    }
    gsize from = folded_origin(f, hit->value_start), to = folded_origin(f, end);
    g_autofree char *value = g_strndup(original + from, to > from ? to - from : 0);
    g_autofree char *trimmed = trim_value(value, PLACE_MAX_CHARS);
    if (trimmed || !hit->separator || !nl || end != (gsize)(nl - s))
        return g_steal_pointer(&trimmed);
    /* "Họ và tên:" on one line, the name on the next */
    gsize line_start = end + 1;
    while (line_start < len && (s[line_start] == ' ' || s[line_start] == '\t'))
        line_start++;
    if (line_start >= len || s[line_start] == '\n')
        return NULL;
    if (index + 1 < hits->len) {
        const LabelHit *next = &g_array_index(hits, LabelHit, index + 1);
        const char *next_nl = memchr(s + line_start, '\n', len - line_start);
        gsize line_end = next_nl ? (gsize)(next_nl - s) : len;
        if (next->label_start >= line_start && next->label_start < line_end)
            return NULL; /* that line is another label's */
    }
    const char *next_nl = memchr(s + line_start, '\n', len - line_start);
    gsize line_end = next_nl ? (gsize)(next_nl - s) : len;
    from = folded_origin(f, line_start);
    to = folded_origin(f, line_end);
    g_autofree char *next_value = g_strndup(original + from, to > from ? to - from : 0);
    return trim_value(next_value, PLACE_MAX_CHARS);
}

/* ---- the draft's fields --------------------------------------------------------------------- */

typedef struct {
    ParseContext *ctx;
    Draft *d;
    gboolean bad_id, bad_phone;
    char *time_written; /* a labelled time we could not turn into a date */
} Extract;

static const char *field_warning_name(FieldKind field)
{
    return field == FIELD_ID ? "ID number" : "phone number";
}

/* one labelled value: FALSE when it does not fit the field */
static gboolean take_value(Extract *x, FieldKind field, const char *value)
{
    Draft *d = x->d;
    switch (field) {
    case FIELD_NAME: {
        if (d->citizen.name)
            return TRUE;
        g_autofree char *name = trim_value(value, NAME_MAX_CHARS);
        if (!name || !name_plausible(name))
            return FALSE;
        d->citizen.name = g_steal_pointer(&name);
        return TRUE;
    }
    case FIELD_ADDRESS: {
        if (d->citizen.address)
            return TRUE;
        g_autofree char *address = trim_value(value, ADDRESS_MAX_CHARS);
        if (!address || !address_plausible(address))
            return FALSE;
        d->citizen.address = g_steal_pointer(&address);
        return TRUE;
    }
    case FIELD_ID: {
        if (d->citizen.id_number)
            return TRUE;
        g_autofree char *digits = leading_digits(value);
        if (!digits)
            return FALSE;
        if (!fields_id_number_valid(digits, d->date)) {
            x->bad_id = TRUE;
            return FALSE;
        }
        d->citizen.id_number = g_steal_pointer(&digits);
        return TRUE;
    }
    case FIELD_PHONE: {
        if (d->citizen.phone)
            return TRUE;
        char *phone = find_phone(value, strlen(value), NULL);
        if (!phone) {
            x->bad_phone = TRUE;
            return FALSE;
        }
        d->citizen.phone = phone;
        return TRUE;
    }
    case FIELD_EMAIL: {
        g_autofree char *email = find_email(value);
        if (!email)
            return FALSE;
        /* our own address in the text is not the citizen's */
        if (x->ctx->our_address && g_ascii_strcasecmp(email, x->ctx->our_address) == 0)
            return FALSE;
        if (d->citizen.email && d->from_address && g_strcmp0(d->citizen.email, d->from_address))
            return TRUE; /* a stated address was already taken */
        g_free(d->citizen.email);
        d->citizen.email = g_steal_pointer(&email);
        return TRUE;
    }
    case FIELD_LOCATION: {
        g_autofree char *place = trim_value(value, PLACE_MAX_CHARS);
        if (!place)
            return FALSE;
        double lat, lon;
        if (!d->location.has_coordinates && fields_find_coordinates(place, &lat, &lon)) {
            d->location.has_coordinates = TRUE;
            d->location.lat = lat;
            d->location.lon = lon;
        }
        if (!d->location.text)
            d->location.text = g_steal_pointer(&place);
        return TRUE;
    }
    case FIELD_TIME: {
        if (d->occurred_at)
            return TRUE;
        g_autofree char *when = trim_value(value, TIME_MAX_CHARS);
        if (!when)
            return FALSE;
        char *parsed = fields_parse_time(when, d->date);
        if (parsed) {
            d->occurred_at = parsed;
            return TRUE;
        }
        if (!x->time_written)
            x->time_written = g_steal_pointer(&when);
        return TRUE;
    }
    }
    return FALSE;
}

static void extract_labelled(Extract *x, const Folded *f, const char *original)
{
    g_autoptr(GArray) hits = find_labels(f);
    for (guint i = 0; i < hits->len; i++) {
        const LabelHit *hit = &g_array_index(hits, LabelHit, i);
        g_autofree char *value = label_value(f, original, hits, i);
        if (value)
            take_value(x, hit->field, value);
    }
}

/* ---- running text --------------------------------------------------------------------------- */

/* a sentence's end in the original from offset `from`: ".", "!", "?" followed by a space or
 * the end (but not after an abbreviation like "TP." or "P."), or a line end */
static gsize sentence_end(const char *s, gsize len, gsize from)
{
    for (gsize i = from; i < len; i++) {
        char c = s[i];
        if (c == '\n' || c == '!' || c == '?' || c == ';')
            return i;
        if (c == '.' && (i + 1 >= len || s[i + 1] == ' ' || s[i + 1] == '\n')) {
            /* the word before the dot: one or two ASCII letters is an abbreviation (P., TP.) */
            gsize w = i;
            while (w > from && s[w - 1] != ' ' && s[w - 1] != ',' && s[w - 1] != '\n')
                w--;
            gboolean abbreviation = i - w >= 1 && i - w <= 2;
            for (gsize k = w; k < i && abbreviation; k++)
                abbreviation = g_ascii_isalpha(s[k]);
            if (abbreviation)
                continue;
            return i;
        }
    }
    return len;
}

/* where a clause about something else begins: the value stops there */
static gsize clause_stop(const char *folded, gsize from, gsize to)
{
    static const char *const stops[] = {
        ", so dien thoai", ", sdt",         ", dien thoai",   ", dt ",      ", cccd",
        ", cmnd",          ", can cuoc",    ", email",        ", toi xin",  ", xin phan anh",
        ", muon phan anh", " xin phan anh", " muon phan anh", ", phan anh", ", nay toi",
        ", toi muon",      ", toi thay",    ", xin bao",      ", de nghi",  " de nghi "};
    gsize best = to;
    for (gsize i = 0; i < G_N_ELEMENTS(stops); i++) {
        gsize n = strlen(stops[i]);
        for (gsize k = from; k + n <= best; k++) {
            if (memcmp(folded + k, stops[i], n) == 0) {
                best = k;
                break;
            }
        }
    }
    return best;
}

/* place words that make a phrase an address or a location */
static gboolean has_place_word(const char *folded_value)
{
    static GRegex *place;
    GRegex *re = parse_regex(
        &place,
        "\\b(?:duong|pho|phuong|xa|ap|khom|khu pho|huyen|thi xa|thi tran|thanh pho|tp|quan|hem|"
        "kiet|ngo|so nha|to dan pho|thon|xom|khu|cho|cau|nga ba|nga tu|truong|benh vien|kenh|"
        "song|quoc lo|tinh lo|ql|tl|p|q|tx|tt)\\b|\\d",
        0);
    return g_regex_match(re, folded_value, 0, NULL);
}

/* "tôi tên là Nguyễn Văn A": the capitalised words after the phrase (2 to 6 of them) */
static char *name_after(const char *original, gsize start, gsize len)
{
    GString *name = g_string_new(NULL);
    int words = 0;
    const char *p = original + start, *end = original + len;
    while (p < end && words < 7) {
        while (p < end && *p == ' ')
            p++;
        if (p >= end)
            break;
        gunichar c = g_utf8_get_char_validated(p, end - p);
        if (c == (gunichar)-1 || c == (gunichar)-2 || !g_unichar_isupper(c))
            break;
        const char *w = p;
        while (p < end && *p != ' ' && *p != ',' && *p != '.' && *p != '\n' && *p != ';' &&
               *p != '(' && *p != '-')
            p = g_utf8_next_char(p);
        if (name->len)
            g_string_append_c(name, ' ');
        g_string_append_len(name, w, p - w);
        words++;
        if (p < end && *p != ' ')
            break;
    }
    char *result = g_string_free(name, FALSE);
    if (words < 2 || words > 6 || !name_plausible(result)) {
        g_free(result);
        return NULL;
    }
    return result;
}

typedef struct {
    const char *pattern; /* on the folded text; the value starts at the match's end */
    FieldKind field;
    const char *needs; /* a word every match contains, or NULL: without it, no regex to run */
} Phrase;

static const Phrase phrases[] = {
    {"\\b(?:toi|em|chau|minh|con)\\s+ten\\s+la\\s+", FIELD_NAME, "ten"},
    {"\\bten\\s+(?:toi|em|chau|minh|con)\\s+la\\s+", FIELD_NAME, "ten"},
    {"\\b(?:toi|em|chau|minh)\\s+(?:ten|la)\\s+", FIELD_NAME, NULL},
    {"(?:^|[,;.]\\s*|\\b(?:toi|em|chau|minh|gia dinh toi)\\s+)(?:hien\\s+)?(?:dang\\s+)?nha\\s+"
     "(?:toi\\s+|em\\s+)?(?:o|tai)\\s+(?:tai\\s+)?",
     FIELD_ADDRESS, "nha"},
    {"\\b(?:hien\\s+)?(?:dang\\s+)?(?:cu\\s+tru|thuong\\s+tru|tam\\s+tru|sinh\\s+song|ngu\\s+"
     "cu)\\s+(?:tai|o)\\s+",
     FIELD_ADDRESS, NULL},
    {"\\bdia\\s+chi\\s+(?:nha\\s+)?(?:cua\\s+)?(?:toi|em|chau)?\\s*(?:la|o|tai)\\s+", FIELD_ADDRESS,
     "dia"},
    /* "tại" (at) folds like "tai" of "tai nạn" (accident) */
    {"\\bxay\\s+ra\\s+(?:tai|o)\\s+(?!nan\\b|bien\\b|hoa\\b)", FIELD_LOCATION, "xay"},
    {"\\b(?:tai|o)\\s+(?:khu\\s+vuc|vi\\s+tri|dia\\s+diem)\\s+", FIELD_LOCATION, NULL},
    {"\\b(?:tai|o)\\s+(?=doan\\s+(?:duong|song|kenh)\\b)", FIELD_LOCATION, "doan"},
    {"\\b(?:vao\\s+)?luc\\s+", FIELD_TIME, "luc"},
    {"\\bvao\\s+(?:ngay|khoang)\\s+", FIELD_TIME, "vao"},
};

static void extract_running(Extract *x, const Folded *f, const char *original, gsize len)
{
    Draft *d = x->d;
    for (gsize i = 0; i < G_N_ELEMENTS(phrases); i++) {
        FieldKind field = phrases[i].field;
        if ((field == FIELD_NAME && d->citizen.name) ||
            (field == FIELD_ADDRESS && d->citizen.address) ||
            (field == FIELD_LOCATION && d->location.text) ||
            (field == FIELD_TIME && d->occurred_at))
            continue;
        /* each regex runs over the whole text: first the word it cannot match without */
        if (phrases[i].needs && !strstr(f->s, phrases[i].needs))
            continue;
        static GRegex *compiled[G_N_ELEMENTS(phrases)];
        GRegex *re = parse_regex(&compiled[i], phrases[i].pattern, G_REGEX_MULTILINE);
        g_autoptr(GMatchInfo) m = NULL;
        GError *ignored = NULL;
        gboolean found = g_regex_match_full(re, f->s, (gssize)f->len, 0, 0, &m, &ignored);
        g_clear_error(&ignored);
        /* the first few candidates only: hostile text repeating a phrase must not cost
         * time in proportion to its square */
        int tries = 0;
        for (; found && tries < RUNNING_MAX_TRIES; found = g_match_info_next(m, NULL), tries++) {
            gint s = 0, e = 0;
            g_match_info_fetch_pos(m, 0, &s, &e);
            gsize from = folded_origin(f, (gsize)e);
            if (field == FIELD_NAME) {
                char *name = name_after(original, from, len);
                if (name) {
                    d->citizen.name = name;
                    break;
                }
                continue;
            }
            gsize end_original = sentence_end(original, MIN(len, from + RUNNING_MAX_BYTES), from);
            /* the stop phrases are found on the folded text */
            gsize folded_end = (gsize)e;
            while (folded_end < f->len && folded_origin(f, folded_end) < end_original)
                folded_end++;
            folded_end = clause_stop(f->s, (gsize)e, folded_end);
            gsize to = folded_origin(f, folded_end);
            g_autofree char *value = g_strndup(original + from, to > from ? to - from : 0);
            if (field == FIELD_TIME) {
                g_autofree char *when = trim_value(value, TIME_MAX_CHARS);
                char *parsed = when ? fields_parse_time(when, d->date) : NULL;
                if (parsed) {
                    d->occurred_at = parsed;
                    break;
                }
                continue;
            }
            g_autofree char *clean =
                trim_value(value, field == FIELD_ADDRESS ? ADDRESS_MAX_CHARS : PLACE_MAX_CHARS);
            g_autofree char *folded_value = clean ? text_fold(clean) : NULL;
            if (!clean || !has_place_word(folded_value))
                continue;
            if (field == FIELD_ADDRESS)
                d->citizen.address = g_steal_pointer(&clean);
            else
                d->location.text = g_steal_pointer(&clean);
            break;
        }
    }
}

/* ---- the signature -------------------------------------------------------------------------- */

static gboolean is_closing(const char *line)
{
    g_autofree char *folded = text_fold(line);
    g_strstrip(folded);
    static const char *const closings[] = {"tran trong",
                                           "xin cam on",
                                           "cam on",
                                           "kinh thu",
                                           "than ai",
                                           "kinh bao",
                                           "xin chan thanh cam on",
                                           "chan thanh cam on",
                                           "tran trong cam on",
                                           "tran trong kinh chao",
                                           "best regards",
                                           "regards",
                                           "thanks",
                                           NULL};
    for (const char *const *c = closings; *c; c++) {
        if (g_str_has_prefix(folded, *c) && strlen(folded) <= strlen(*c) + 4)
            return TRUE;
    }
    return FALSE;
}

/* "Trân trọng,\nNguyễn Văn An" at the end of a mail, or a closing line that is the sender's
 * own display name: a citizen signing with their full name */
static void extract_signature_name(Draft *d, const char *text, gsize len)
{
    g_autofree char *copy = g_strndup(text, len);
    g_auto(GStrv) lines = g_strsplit(copy, "\n", -1);
    guint n = g_strv_length(lines);
    g_autofree char *from = d->from_name ? text_fold(d->from_name) : NULL;
    guint seen = 0;
    for (guint i = n; i > 0 && seen < 8; i--) {
        g_autofree char *line = text_clean_line(lines[i - 1]);
        if (!line || !*line)
            continue;
        seen++;
        if (g_str_equal(line, "--") || g_str_equal(line, "-- "))
            continue;
        g_autofree char *name = name_after(line, 0, strlen(line));
        if (!name || strlen(name) != strlen(line))
            continue; /* the whole line must be the name */
        g_autofree char *folded = text_fold(name);
        gboolean own = from && g_str_equal(folded, from);
        gboolean after_closing = FALSE;
        for (guint k = i - 1; k > 0 && !after_closing; k--) {
            g_autofree char *previous = text_clean_line(lines[k - 1]);
            if (!previous || !*previous)
                continue;
            after_closing = is_closing(previous);
            break;
        }
        if (own || after_closing) {
            d->citizen.name = g_steal_pointer(&name);
            return;
        }
    }
}

/* ---- the step ------------------------------------------------------------------------------- */

gboolean parse_step_fields(ParseContext *ctx, GError **error)
{
    Draft *d = ctx->draft;
    /* auto-replies and bounces are never drafted: nothing to read in them */
    if (d->classification)
        return TRUE;
    const char *text = d->text ? d->text : "";
    gsize len = strlen(text);
    if (len > FIELDS_MAX_TEXT) {
        len = FIELDS_MAX_TEXT;
        while (len > 0 && ((guchar)text[len] & 0xC0) == 0x80)
            len--;
    }
    Extract x = {.ctx = ctx, .d = d};
    Folded f;
    folded_init(&f, ctx, text, len);
    extract_labelled(&x, &f, text);
    extract_running(&x, &f, text, len);
    if (!d->citizen.name)
        extract_signature_name(d, text, len);

    if (!d->citizen.phone) {
        d->citizen.phone = find_phone(text, len, NULL);
        if (d->citizen.phone)
            x.bad_phone = FALSE;
    }
    if (!d->location.has_coordinates) {
        g_autofree char *head = g_strndup(text, len);
        double lat, lon;
        if (fields_find_coordinates(head, &lat, &lon)) {
            d->location.has_coordinates = TRUE;
            d->location.lat = lat;
            d->location.lon = lon;
        }
    }
    for (guint i = 0; i < d->attachments->len && !d->location.has_coordinates; i++) {
        double lat, lon;
        if (attachment_gps(d->attachments->pdata[i], &lat, &lon)) {
            d->location.has_coordinates = TRUE;
            d->location.lat = lat;
            d->location.lon = lon;
        }
    }
    if (!d->occurred_at && x.time_written)
        d->occurred_at = g_steal_pointer(&x.time_written);
    g_free(x.time_written);
    if (x.bad_id && !d->citizen.id_number)
        parse_warn(ctx, "%s given but not a valid CCCD (12 digits) or CMND (9 digits)",
                   field_warning_name(FIELD_ID));
    if (x.bad_phone && !d->citizen.phone)
        parse_warn(ctx, "%s given but not a Vietnamese mobile or landline number",
                   field_warning_name(FIELD_PHONE));
    return TRUE;
}

/* ---- one value corrected by a person (the console, issue 13) -------------------------------- */

typedef struct {
    char *value; /* as the parser stores it, or NULL (cleared) */
    gboolean has_coordinates;
    double lat, lon;
    char *why;
} FieldCheck;

/* the same trim and plausibility checks as a labelled line ("Họ tên: ...") gets */
static gboolean check_text_field(const char *field, const char *written, FieldCheck *out)
{
    gboolean name = g_str_equal(field, "name"), address = g_str_equal(field, "address");
    gsize max = name ? NAME_MAX_CHARS : address ? ADDRESS_MAX_CHARS : PLACE_MAX_CHARS;
    out->value = trim_value(written, max);
    if (!out->value)
        out->why = g_strdup_printf("quá dài (tối đa %zu ký tự) hoặc chỉ là chỗ trống", max);
    else if (name && !name_plausible(out->value))
        out->why = g_strdup("họ tên không chứa chữ số, @, / hay dấu hai chấm");
    else if (address && !address_plausible(out->value))
        out->why = g_strdup("đây là địa chỉ web hoặc thư điện tử, không phải địa chỉ liên hệ");
    else if (g_str_equal(field, "location"))
        out->has_coordinates = fields_find_coordinates(out->value, &out->lat, &out->lon);
    return out->why == NULL;
}

static gboolean check_number_field(const char *field, const char *written, gint64 now,
                                   FieldCheck *out)
{
    if (g_str_equal(field, "phone")) {
        /* the whole value is the number: the parser reads one out of running text */
        gboolean only_number = written[strspn(written, "0123456789 .-()/+")] == '\0';
        out->value = only_number ? fields_normalise_phone(written) : NULL;
        if (!out->value)
            out->why = g_strdup("không phải số di động (10 số, đầu 03/05/07/08/09 hoặc +84) "
                                "hay số cố định có mã vùng (11 số, đầu 02)");
        return out->value != NULL;
    }
    /* digits, with the spaces, dots or dashes people group them with, and nothing else */
    GString *digits = g_string_new(NULL);
    gboolean only_digits = TRUE;
    for (const char *p = written; *p && only_digits; p++) {
        if (g_ascii_isdigit(*p))
            g_string_append_c(digits, *p);
        else
            only_digits = strchr(" .-", *p) != NULL;
    }
    if (!only_digits)
        g_string_truncate(digits, 0);
    out->value = g_string_free(digits, FALSE);
    if (!*out->value || !fields_id_number_valid(out->value, now)) {
        g_clear_pointer(&out->value, g_free);
        out->why = g_strdup("không phải số căn cước (12 số, mã tỉnh và năm sinh hợp lệ) hay "
                            "số CMND (9 số)");
    }
    return out->value != NULL;
}

gboolean parse_check_field(const char *field, const char *written, gint64 now, char **value,
                           gboolean *has_coordinates, double *lat, double *lon, char **why)
{
    FieldCheck c = {0};
    g_autofree char *clean = written ? text_clean_line(written) : NULL;
    gboolean ok;
    if (!clean || !*clean) {
        ok = TRUE; /* cleared */
    } else if (g_str_equal(field, "name") || g_str_equal(field, "address") ||
               g_str_equal(field, "location")) {
        ok = check_text_field(field, clean, &c);
    } else if (g_str_equal(field, "phone") || g_str_equal(field, "id_number")) {
        ok = check_number_field(field, clean, now, &c);
    } else if (g_str_equal(field, "email")) {
        c.value = find_email(clean);
        ok = c.value && strlen(c.value) == strlen(clean);
        if (!ok) {
            g_clear_pointer(&c.value, g_free);
            c.why = g_strdup("không phải một địa chỉ thư điện tử (ten@mien.vn)");
        }
    } else if (g_str_equal(field, "occurred_at")) {
        /* RFC 3339 when understood, else as written (SPEC §6) */
        c.value = trim_value(clean, TIME_MAX_CHARS);
        char *parsed = c.value ? fields_parse_time(c.value, now) : NULL;
        if (parsed) {
            g_free(c.value);
            c.value = parsed;
        }
        ok = c.value != NULL;
        if (!ok)
            c.why = g_strdup_printf("quá dài (tối đa %d ký tự)", TIME_MAX_CHARS);
    } else {
        c.why = g_strdup_printf("không có trường \"%s\"", field);
        ok = FALSE;
    }
    *value = ok ? g_steal_pointer(&c.value) : NULL;
    if (has_coordinates)
        *has_coordinates = ok && c.has_coordinates;
    if (lat)
        *lat = c.lat;
    if (lon)
        *lon = c.lon;
    if (why)
        *why = g_steal_pointer(&c.why);
    g_free(c.value);
    g_free(c.why);
    return ok;
}
