/* parse, step "headers": identifiers, subject, sender, recipients and date of the message.
 *
 * GMime bug #133 (fixed upstream after 3.2.13, still in Debian 12): when GMime meets adjacent
 * B-encoded words of one charset it joins their base64 text before decoding, so a word that
 * ends in '=' padding truncates everything after it ("=?UTF-8?B?SGVsbG8=?= =?UTF-8?B?IHdvcmxk?="
 * gave "Hello"). We decode each word ourselves, join the bytes and hand GMime one B-word per
 * run: the padding problem disappears, and so does a UTF-8 character split across two words
 * (legal per RFC 2047 §5 only within one word, common in practice). Words labelled
 * windows-1258 whose bytes are UTF-8 are relabelled, like text parts (charset.c). */
#include "parse/parse_private.h"

#include <string.h>

#include "util/util.h"

#define MAX_REFERENCES  200
#define MAX_RECIPIENTS  500
#define MAX_HEADER_TEXT 2000 /* bytes of a decoded subject or name */

/* ---- RFC 2047 encoded words ----------------------------------------------------------------- */

typedef struct {
    const char *start, *end; /* the whole "=?...?=" */
    const char *charset;     /* without the RFC 2231 "*lang" suffix */
    gsize charset_len;
    char encoding; /* 'B' or 'Q' */
    const char *text;
    gsize text_len;
} EncodedWord;

/* RFC 2047 §2: encoded-word = "=?" charset "?" encoding "?" encoded-text "?=", no white space */
static gboolean encoded_word_at(const char *p, EncodedWord *w)
{
    if (p[0] != '=' || p[1] != '?')
        return FALSE;
    const char *cs = p + 2;
    const char *q = cs;
    while (*q && *q != '?' && *q != ' ' && *q != '\t' && (unsigned char)*q > 0x20)
        q++;
    if (*q != '?' || q == cs)
        return FALSE;
    const char *star = memchr(cs, '*', (gsize)(q - cs));
    w->charset = cs;
    w->charset_len = (gsize)((star ? star : q) - cs);
    if (w->charset_len == 0)
        return FALSE;
    char enc = g_ascii_toupper(q[1]);
    if ((enc != 'B' && enc != 'Q') || q[2] != '?')
        return FALSE;
    w->encoding = enc;
    const char *text = q + 3;
    const char *t = text;
    while (*t && !(t[0] == '?' && t[1] == '=') && (unsigned char)*t > 0x20)
        t++;
    if (t[0] != '?' || t[1] != '=')
        return FALSE;
    w->start = p;
    w->text = text;
    w->text_len = (gsize)(t - text);
    w->end = t + 2;
    return TRUE;
}

static void encoded_word_decode(const EncodedWord *w, GByteArray *out)
{
    if (w->encoding == 'B') {
        gsize old = out->len;
        g_byte_array_set_size(out, old + w->text_len / 4 * 3 + 3);
        gint state = 0;
        guint save = 0;
        gsize n = g_base64_decode_step(w->text, w->text_len, out->data + old, &state, &save);
        g_byte_array_set_size(out, old + n);
        return;
    }
    /* Q: RFC 2047 §4.2, "_" is a space, "=XX" a byte */
    for (gsize i = 0; i < w->text_len; i++) {
        guint8 c = (guint8)w->text[i];
        if (c == '_') {
            c = ' ';
        } else if (c == '=' && i + 2 < w->text_len && g_ascii_isxdigit(w->text[i + 1]) &&
                   g_ascii_isxdigit(w->text[i + 2])) {
            c = (guint8)(g_ascii_xdigit_value(w->text[i + 1]) * 16 +
                         g_ascii_xdigit_value(w->text[i + 2]));
            i += 2;
        }
        g_byte_array_append(out, &c, 1);
    }
}

static gboolean is_windows_1258(const char *charset, gsize len)
{
    return (len == 12 && g_ascii_strncasecmp(charset, "windows-1258", 12) == 0) ||
           (len == 6 && g_ascii_strncasecmp(charset, "cp1258", 6) == 0);
}

/* valid UTF-8 with at least one multi-byte character (see charset.c on Outlook) */
static gboolean utf8_with_multibyte(const GByteArray *bytes)
{
    gboolean high = FALSE;
    for (guint i = 0; i < bytes->len && !high; i++)
        high = bytes->data[i] >= 0x80;
    return high && g_utf8_validate((const char *)bytes->data, (gssize)bytes->len, NULL);
}

char *rfc2047_merge_adjacent(const char *value)
{
    if (!value)
        return NULL;
    if (!strstr(value, "=?"))
        return g_strdup(value);
    GString *out = g_string_sized_new(strlen(value) + 16);
    const char *p = value;
    while (*p) {
        EncodedWord first;
        if (!encoded_word_at(p, &first)) {
            g_string_append_c(out, *p++);
            continue;
        }
        /* a run of words of the same charset separated only by white space (RFC 2047 §6.2:
         * that white space is not displayed) */
        const char *run_end = first.end;
        int words = 1;
        const char *q = first.end;
        for (;;) {
            while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
                q++;
            EncodedWord next;
            if (!encoded_word_at(q, &next) || next.charset_len != first.charset_len ||
                g_ascii_strncasecmp(next.charset, first.charset, first.charset_len) != 0)
                break;
            words++;
            run_end = next.end;
            q = next.end;
        }
        gboolean cp1258 = is_windows_1258(first.charset, first.charset_len);
        if (words == 1 && !cp1258) {
            g_string_append_len(out, first.start, first.end - first.start);
            p = first.end;
            continue;
        }
        GByteArray *bytes = g_byte_array_new();
        const char *w = first.start;
        while (w < run_end) {
            EncodedWord word;
            if (!encoded_word_at(w, &word)) {
                w++; /* the white space between words */
                continue;
            }
            encoded_word_decode(&word, bytes);
            w = word.end;
        }
        g_autofree char *b64 = g_base64_encode(bytes->data, bytes->len);
        g_string_append(out, "=?");
        if (cp1258 && utf8_with_multibyte(bytes))
            g_string_append(out, "UTF-8"); /* Outlook's mislabel, as in charset.c */
        else
            g_string_append_len(out, first.charset, (gssize)first.charset_len);
        g_string_append(out, "?B?");
        g_string_append(out, b64);
        g_string_append(out, "?=");
        g_byte_array_unref(bytes);
        p = run_end;
    }
    return g_string_free(out, FALSE);
}

/* ---- header values -------------------------------------------------------------------------- */

static char *unfold(const char *raw)
{
    /* folding: the line breaks go, the white space after them stays; the runs between are
     * copied whole */
    GString *out = g_string_sized_new(strlen(raw));
    for (const char *p = raw;;) {
        gsize run = strcspn(p, "\r\n");
        g_string_append_len(out, p, (gssize)run);
        p += run;
        if (!*p)
            break;
        p++;
    }
    return g_strstrip(g_string_free(out, FALSE));
}

/* header_raw_merged of one header */
static char *header_merged(GMimeHeader *header)
{
    const char *raw = g_mime_header_get_raw_value(header);
    if (!raw)
        return g_strdup("");
    char *unfolded = unfold(raw);
    if (!strstr(unfolded, "=?"))
        return unfolded; /* no encoded word to merge */
    char *merged = rfc2047_merge_adjacent(unfolded);
    g_free(unfolded);
    return merged;
}

char *header_raw_merged(GMimeObject *object, const char *name)
{
    GMimeHeaderList *list = g_mime_object_get_header_list(object);
    GMimeHeader *header = list ? g_mime_header_list_get_header(list, name) : NULL;
    return header ? header_merged(header) : NULL;
}

char *header_decode_text(ParseContext *ctx, const char *raw)
{
    if (!raw)
        return NULL;
    /* a subject is a line; a megabyte of header is an attack, not a subject */
    /* the copy is as long as the subject (g_strndup of the bound alone pads it to 8 KB) */
    g_autofree char *bounded = g_strndup(raw, strnlen(raw, MAX_HEADER_TEXT * 4));
    /* visible ASCII without an encoded word: nothing for GMime to decode */
    if (text_is_visible_ascii(bounded) && !strstr(bounded, "=?"))
        return text_one_line(bounded, MAX_HEADER_TEXT);
    g_autofree char *decoded = g_mime_utils_header_decode_text(ctx->gmime_options, bounded);
    return text_one_line(decoded, MAX_HEADER_TEXT);
}

char *address_lower_domain(const char *address)
{
    if (!address)
        return NULL;
    g_autofree char *clean = text_header_sanitize(address);
    const char *at = strrchr(clean, '@');
    if (!at)
        return g_steal_pointer(&clean);
    g_autofree char *domain = g_utf8_strdown(at + 1, -1);
    return g_strdup_printf("%.*s@%s", (int)(at - clean), clean, domain);
}

/* strips <> and white space from one msg-id; NULL when nothing is left */
static char *clean_message_id(const char *id)
{
    if (!id)
        return NULL;
    GString *out = g_string_new(NULL);
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>')
            continue;
        g_string_append_c(out, (char)*p);
    }
    if (out->len == 0 || out->len > 998) {
        g_string_free(out, TRUE);
        return NULL;
    }
    char *s = g_string_free(out, FALSE);
    if (!g_utf8_validate(s, -1, NULL)) {
        char *valid = g_utf8_make_valid(s, -1);
        g_free(s);
        return valid;
    }
    return s;
}

/* every msg-id of a header, in order */
static void parse_ids(ParseContext *ctx, const char *name, GPtrArray *ids)
{
    g_autofree char *raw = header_raw_merged(GMIME_OBJECT(ctx->message), name);
    if (!raw || !*raw)
        return;
    GMimeReferences *refs = g_mime_references_parse(ctx->gmime_options, raw);
    int n = refs ? g_mime_references_length(refs) : 0;
    for (int i = 0; i < n; i++) {
        char *id = clean_message_id(g_mime_references_get_message_id(refs, i));
        if (id)
            g_ptr_array_add(ids, id);
    }
    if (refs)
        g_mime_references_free(refs);
    if (n == 0 && strchr(raw, '@') && !strpbrk(raw, " \t")) {
        /* not in <> form but an id all the same ("abc@host"); prose is not */
        char *id = clean_message_id(raw);
        if (id)
            g_ptr_array_add(ids, id);
    }
}

static void add_addresses(ParseContext *ctx, InternetAddressList *list, GPtrArray *out,
                          GHashTable *seen)
{
    int n = list ? internet_address_list_length(list) : 0;
    for (int i = 0; i < n && out->len < MAX_RECIPIENTS; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_GROUP(ia)) {
            add_addresses(ctx, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), out,
                          seen);
            continue;
        }
        const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
        if (!addr || !*addr)
            continue;
        g_autofree char *lower = address_lower_domain(addr);
        g_autofree char *key = g_utf8_casefold(lower, -1);
        if (g_hash_table_contains(seen, key))
            continue;
        g_hash_table_add(seen, g_steal_pointer(&key));
        g_ptr_array_add(out, g_steal_pointer(&lower));
    }
}

static InternetAddressMailbox *first_mailbox(InternetAddressList *list)
{
    int n = list ? internet_address_list_length(list) : 0;
    for (int i = 0; i < n; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia))
            return INTERNET_ADDRESS_MAILBOX(ia);
        InternetAddressMailbox *inner =
            first_mailbox(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)));
        if (inner)
            return inner;
    }
    return NULL;
}

/* ---- address headers ------------------------------------------------------------------------ */

/* The address headers we read; the first four are those GMime parses itself as it reads the
 * message (message_update_addresses in gmime-message.c). */
enum { ADDR_FROM, ADDR_REPLY_TO, ADDR_TO, ADDR_CC, ADDR_DELIVERED_TO, ADDR_ORIGINAL_TO, ADDR_N };
static const char *const address_header_names[ADDR_N] = {"From", "Reply-To",     "To",
                                                         "Cc",   "Delivered-To", "X-Original-To"};
static const GMimeAddressType address_header_types[ADDR_DELIVERED_TO] = {
    GMIME_ADDRESS_TYPE_FROM, GMIME_ADDRESS_TYPE_REPLY_TO, GMIME_ADDRESS_TYPE_TO,
    GMIME_ADDRESS_TYPE_CC};

typedef struct {
    int count[ADDR_N];
    GMimeHeader *first[ADDR_N]; /* the first header of each name, or NULL */
} AddressHeaders;

/* which address header NAME is, or -1: asked of every header of the message, so the first
 * letter rejects most names before the whole is compared */
static int address_header_index(const char *name)
{
    for (int k = 0; name && k < ADDR_N; k++) {
        if (g_ascii_tolower(name[0]) == g_ascii_tolower(address_header_names[k][0]) &&
            g_ascii_strcasecmp(name, address_header_names[k]) == 0)
            return k;
    }
    return -1;
}

static void find_address_headers(GMimeObject *object, AddressHeaders *found)
{
    memset(found, 0, sizeof *found);
    GMimeHeaderList *list = g_mime_object_get_header_list(object);
    int n = list ? g_mime_header_list_get_count(list) : 0;
    for (int i = 0; i < n; i++) {
        GMimeHeader *header = g_mime_header_list_get_header_at(list, i);
        int k = address_header_index(g_mime_header_get_name(header));
        if (k >= 0 && found->count[k]++ == 0)
            found->first[k] = header;
    }
}

/* GMime has parsed From, Reply-To, To and Cc already: every header of the name, from its raw
 * value, with our options, by the same internet_address_list_parse we would call. Its list
 * stands for our own parse of header K (RAW, the message's only one of that name) when that
 * parse could give nothing else, so the second parse (some 13,000 instructions with its
 * objects) is skipped: RAW is one line (folding is all our unfolding changes), has no
 * encoded word when MERGED (header_raw_merged would join those first) and no comment (an
 * unterminated one makes internet_address_list_parse give nothing, where GMime's list keeps
 * the addresses before it). Then *out is GMime's list (a new reference) or NULL when empty.
 * /parse/hostile/address-headers-one-line-as-folded compares the two on hostile values. */
static gboolean addresses_parsed_by_gmime(ParseContext *ctx, const AddressHeaders *found, int k,
                                          const char *raw, gboolean merged,
                                          InternetAddressList **out)
{
    if (k >= ADDR_DELIVERED_TO || found->count[k] != 1 || !raw)
        return FALSE;
    const char *eol = strpbrk(raw, "\r\n");
    if ((eol && eol[strspn(eol, "\r\n")] != '\0') || strchr(raw, '(') ||
        (merged && strstr(raw, "=?")))
        return FALSE;
    InternetAddressList *list = g_mime_message_get_addresses(ctx->message, address_header_types[k]);
    *out = list && internet_address_list_length(list) > 0 ? g_object_ref(list) : NULL;
    return TRUE;
}

/* the addresses of the first header K of the message, its encoded words joined */
static InternetAddressList *parse_address_header(ParseContext *ctx, const AddressHeaders *found,
                                                 int k)
{
    GMimeHeader *header = found->first[k];
    InternetAddressList *parsed;
    if (!header)
        return NULL;
    if (addresses_parsed_by_gmime(ctx, found, k, g_mime_header_get_raw_value(header), TRUE,
                                  &parsed))
        return parsed;
    g_autofree char *raw = header_merged(header);
    if (!raw || !*raw)
        return NULL;
    return internet_address_list_parse(ctx->gmime_options, raw);
}

static void read_recipients(ParseContext *ctx, const AddressHeaders *found)
{
    GMimeHeaderList *list = g_mime_object_get_header_list(GMIME_OBJECT(ctx->message));
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    int n = g_mime_header_list_get_count(list);
    for (int i = 0; i < n && ctx->draft->recipients->len < MAX_RECIPIENTS; i++) {
        GMimeHeader *header = g_mime_header_list_get_header_at(list, i);
        int k = address_header_index(g_mime_header_get_name(header));
        if (k < ADDR_TO)
            continue;
        const char *raw = g_mime_header_get_raw_value(header);
        if (!raw)
            continue;
        InternetAddressList *addresses;
        if (!addresses_parsed_by_gmime(ctx, found, k, raw, FALSE, &addresses)) {
            g_autofree char *unfolded = unfold(raw);
            addresses = internet_address_list_parse(ctx->gmime_options, unfolded);
        }
        if (!addresses)
            continue;
        add_addresses(ctx, addresses, ctx->draft->recipients, seen);
        g_object_unref(addresses);
    }
}

static char *read_return_path(GMimeObject *object)
{
    g_autofree char *raw = header_raw_merged(object, "Return-Path");
    if (!raw)
        return NULL;
    char *value = raw;
    char *lt = strchr(value, '<');
    if (lt) {
        char *gt = strchr(lt + 1, '>');
        if (gt)
            *gt = '\0';
        value = lt + 1;
    }
    g_strstrip(value);
    return address_lower_domain(value);
}

/* ---- the sender's authenticity, as the province's MX judged it (RFC 8601) -------------------
 *
 * Anyone can write an Authentication-Results header, naming any server, into the mail they
 * send; only the headers carrying the authserv-id of the province's own MX can be the MX's
 * (RFC 8601 §5: a receiver reads only those of the ids it trusts). An MX that prepends its
 * results and removes older ones of its id (RFC 8601 §5) leaves exactly one such block, on
 * top. Not every MX removes them, and milters do not all put theirs above the MX's Received
 * line, so the position cannot tell the MX's header from a sender's copy of it; the verdict
 * is therefore read so that a forged header can only make a mail look worse: dmarc=fail in
 * any trusted header is a failure that no pass outweighs. The spam filter's
 * X-Spam-* headers follow the same idea: the topmost is the MX's, and a forged "YES" below
 * it only hurts its writer. */

#define MAX_AUTH_TEXT 1000 /* bytes of a header kept for the IOC */

/* the value without its RFC 5322 comments ("(...)", nested, outside quoted strings) */
static char *strip_comments(const char *value)
{
    GString *out = g_string_sized_new(strlen(value));
    int depth = 0;
    gboolean quoted = FALSE;
    for (const char *p = value; *p; p++) {
        if (depth > 0) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '(')
                depth++;
            else if (*p == ')')
                depth--;
            continue;
        }
        if (!quoted && *p == '(') {
            depth = 1;
            g_string_append_c(out, ' ');
            continue;
        }
        if (*p == '\\' && quoted && p[1]) {
            g_string_append_c(out, *p++);
        } else if (*p == '"') {
            quoted = !quoted;
        }
        g_string_append_c(out, *p);
    }
    return g_string_free(out, FALSE);
}

/* the ';'-separated parts of a value, outside quoted strings, trimmed */
static char **split_resinfo(const char *value)
{
    GPtrArray *parts = g_ptr_array_new();
    gboolean quoted = FALSE;
    const char *start = value;
    for (const char *p = value;; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (*p == '\\' && quoted && p[1])
            p++;
        else if ((*p == ';' && !quoted) || !*p) {
            g_ptr_array_add(parts, g_strstrip(g_strndup(start, (gsize)(p - start))));
            if (!*p)
                break;
            start = p + 1;
        }
    }
    g_ptr_array_add(parts, NULL);
    return (char **)g_ptr_array_free(parts, FALSE);
}

/* "mx.soctrang.gov.vn 1" or "\"mx\"" -> "mx.soctrang.gov.vn" */
static char *authserv_id_of(const char *first_part)
{
    const char *end = first_part;
    while (*end && *end != ' ' && *end != '\t')
        end++;
    g_autofree char *id = g_strndup(first_part, (gsize)(end - first_part));
    gsize len = strlen(id);
    if (len >= 2 && id[0] == '"' && id[len - 1] == '"')
        return g_strndup(id + 1, len - 2);
    return g_steal_pointer(&id);
}

/* "dmarc=fail (p=reject) header.from=x" -> "fail" when method is "dmarc"; else NULL */
static char *resinfo_result(const char *resinfo, const char *method)
{
    gsize n = strlen(method);
    if (g_ascii_strncasecmp(resinfo, method, n) != 0)
        return NULL;
    const char *p = resinfo + n;
    if (*p == '/') /* method-version */
        while (g_ascii_isdigit(*++p))
            ;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p++ != '=')
        return NULL;
    while (*p == ' ' || *p == '\t')
        p++;
    const char *end = p;
    while (g_ascii_isalnum(*end) || *end == '-' || *end == '_')
        end++;
    return end > p ? g_ascii_strdown(p, end - p) : NULL;
}

/* Reads one Authentication-Results value: FALSE when another server wrote it; else TRUE
 * with its dmarc result (or NULL) in *dmarc. RFC 8601 §2.2: authserv-id [version]
 * ( "; none" / 1*( ";" method "=" result ... ) ). */
/* the results of one Authentication-Results value ("dmarc=pass ...", one each), after its
 * authserv-id; NULL when another server wrote it */
static char **trusted_results(const char *value, const char *trusted_id)
{
    g_autofree char *bare = strip_comments(value);
    g_auto(GStrv) parts = split_resinfo(bare);
    if (!parts[0])
        return NULL;
    g_autofree char *id = authserv_id_of(parts[0]);
    if (g_ascii_strcasecmp(id, trusted_id) != 0)
        return NULL;
    return g_strdupv(parts + 1);
}

gboolean auth_results_read(const char *value, const char *trusted_id, char **dmarc)
{
    *dmarc = NULL;
    g_auto(GStrv) parts = trusted_results(value, trusted_id);
    if (!parts)
        return FALSE;
    for (int i = 0; parts[i] && !*dmarc; i++)
        *dmarc = resinfo_result(parts[i], "dmarc");
    return TRUE;
}

/* "dkim=pass header.d=sxd.example.vn header.s=x" -> "sxd.example.vn" (header.d, else the
 * domain of header.i), lowercase; NULL unless its result is pass */
static char *dkim_pass_domain(const char *resinfo)
{
    g_autofree char *result = resinfo_result(resinfo, "dkim");
    if (!result || !g_str_equal(result, "pass"))
        return NULL;
    g_auto(GStrv) words = g_strsplit_set(resinfo, " \t", -1);
    char *found = NULL;
    for (int i = 0; words[i] && !found; i++) {
        const char *w = words[i];
        if (g_ascii_strncasecmp(w, "header.d=", 9) == 0 && w[9])
            found = g_ascii_strdown(w + 9, -1);
    }
    for (int i = 0; words[i] && !found; i++) {
        const char *at =
            g_ascii_strncasecmp(words[i], "header.i=", 9) == 0 ? strrchr(words[i] + 9, '@') : NULL;
        if (at && at[1])
            found = g_ascii_strdown(at + 1, -1);
    }
    return found;
}

char *auth_results_dkim_passes(const char *value, const char *trusted_id)
{
    g_auto(GStrv) parts = trusted_results(value, trusted_id);
    if (!parts)
        return NULL;
    GString *domains = g_string_new(NULL);
    for (int i = 0; parts[i]; i++) {
        g_autofree char *domain = dkim_pass_domain(parts[i]);
        if (domain && !strchr(domain, ','))
            g_string_append_printf(domains, "%s%s", domains->len ? "," : "", domain);
    }
    return g_string_free(domains, domains->len == 0);
}

static void note_auth_results(Draft *d, const char *value, const char *trusted_id)
{
    g_autofree char *dkim = auth_results_dkim_passes(value, trusted_id);
    if (dkim && (!d->auth_dkim_pass || strlen(d->auth_dkim_pass) < MAX_AUTH_TEXT)) {
        char *joined = g_strdup_printf("%s%s%s", d->auth_dkim_pass ? d->auth_dkim_pass : "",
                                       d->auth_dkim_pass ? "," : "", dkim);
        g_free(d->auth_dkim_pass);
        d->auth_dkim_pass = joined;
    }
    g_autofree char *dmarc = NULL;
    if (!auth_results_read(value, trusted_id, &dmarc))
        return;
    gboolean failed = dmarc && g_str_equal(dmarc, "fail");
    gboolean better = !d->auth_results || (dmarc && !d->auth_dmarc) ||
                      (failed && g_strcmp0(d->auth_dmarc, "fail") != 0);
    if (!better)
        return;
    g_free(d->auth_results);
    d->auth_results = text_one_line(value, MAX_AUTH_TEXT);
    g_free(d->auth_dmarc);
    d->auth_dmarc = g_steal_pointer(&dmarc);
}

static gboolean says_yes(const char *value)
{
    while (*value == ' ' || *value == '\t')
        value++;
    return g_ascii_strncasecmp(value, "yes", 3) == 0 && !g_ascii_isalnum(value[3]);
}

static void read_authenticity(ParseContext *ctx)
{
    if (!ctx->trusted_authserv_id || !*ctx->trusted_authserv_id)
        return;
    Draft *d = ctx->draft;
    GMimeHeaderList *list = g_mime_object_get_header_list(GMIME_OBJECT(ctx->message));
    gboolean flag_seen = FALSE, status_seen = FALSE;
    int n = list ? g_mime_header_list_get_count(list) : 0;
    for (int i = 0; i < n; i++) {
        GMimeHeader *header = g_mime_header_list_get_header_at(list, i);
        const char *name = g_mime_header_get_name(header);
        const char *raw = g_mime_header_get_raw_value(header);
        if (!name || !raw)
            continue;
        g_autofree char *value = NULL;
        if (g_ascii_strcasecmp(name, "Authentication-Results") == 0) {
            value = unfold(raw);
            note_auth_results(d, value, ctx->trusted_authserv_id);
        } else if (!flag_seen && g_ascii_strcasecmp(name, "X-Spam-Flag") == 0) {
            flag_seen = TRUE;
            value = unfold(raw);
            d->spam_flagged = d->spam_flagged || says_yes(value);
            if (!d->spam_status)
                d->spam_status = text_one_line(value, MAX_AUTH_TEXT);
        } else if (!status_seen && g_ascii_strcasecmp(name, "X-Spam-Status") == 0) {
            status_seen = TRUE;
            value = unfold(raw);
            d->spam_flagged = d->spam_flagged || says_yes(value);
            g_free(d->spam_status);
            d->spam_status = text_one_line(value, MAX_AUTH_TEXT);
        }
    }
}

/* Subject prefixes: Re/Aw/Sv and Vietnamese Outlook "TL" (trả lời); Fwd/Fw and "TV"/"CT"
 * (chuyển tiếp). Only the first prefix decides. */
void subject_reply_forward(const char *subject, gboolean *reply, gboolean *forward)
{
    *reply = *forward = FALSE;
    if (!subject)
        return;
    g_autofree char *folded = text_fold(subject);
    const char *p = folded;
    while (*p == ' ' || *p == '[')
        p++;
    static const char *const replies[] = {"re:", "re :", "aw:", "sv:", "tl:", "tra loi:"};
    static const char *const forwards[] = {
        "fwd:", "fw:", "fwd :", "fw :", "tv:", "ct:", "chuyen tiep:"};
    for (gsize i = 0; i < G_N_ELEMENTS(replies); i++) {
        if (g_str_has_prefix(p, replies[i]))
            *reply = TRUE;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(forwards); i++) {
        if (g_str_has_prefix(p, forwards[i]))
            *forward = TRUE;
    }
}

gboolean parse_step_headers(ParseContext *ctx, GError **error)
{
    Draft *d = ctx->draft;
    GMimeObject *msg = GMIME_OBJECT(ctx->message);

    d->message_id = clean_message_id(g_mime_message_get_message_id(ctx->message));
    if (!d->message_id)
        parse_warn(ctx, "no Message-ID header");

    g_autoptr(GPtrArray) in_reply_to = g_ptr_array_new_with_free_func(g_free);
    parse_ids(ctx, "In-Reply-To", in_reply_to);
    if (in_reply_to->len > 0)
        d->in_reply_to = g_strdup(in_reply_to->pdata[0]);

    g_autoptr(GPtrArray) references = g_ptr_array_new_with_free_func(g_free);
    parse_ids(ctx, "References", references);
    /* keep the thread root and the most recent ones: that is where our own ids are */
    for (guint i = 0; i < references->len; i++) {
        if (i == 0 || i + (MAX_REFERENCES - 1) >= references->len)
            g_ptr_array_add(d->references, g_strdup(references->pdata[i]));
    }

    g_autofree char *subject_raw = header_raw_merged(msg, "Subject");
    d->subject = subject_raw ? header_decode_text(ctx, subject_raw) : g_strdup("");

    AddressHeaders address_headers;
    find_address_headers(msg, &address_headers);
    InternetAddressList *from = parse_address_header(ctx, &address_headers, ADDR_FROM);
    InternetAddressMailbox *sender = first_mailbox(from);
    if (sender) {
        const char *addr = internet_address_mailbox_get_addr(sender);
        if (addr && *addr)
            d->from_address = address_lower_domain(addr);
        const char *name = internet_address_get_name(INTERNET_ADDRESS(sender));
        if (name && *name) {
            d->from_name = text_one_line(name, MAX_HEADER_TEXT);
            if (!*d->from_name)
                g_clear_pointer(&d->from_name, g_free);
        }
    }
    if (from)
        g_object_unref(from);
    if (!d->from_address)
        parse_warn(ctx, "no usable From address");
    d->citizen.email = g_strdup(d->from_address);

    InternetAddressList *reply_to = parse_address_header(ctx, &address_headers, ADDR_REPLY_TO);
    InternetAddressMailbox *reply_box = first_mailbox(reply_to);
    if (reply_box && internet_address_mailbox_get_addr(reply_box) &&
        *internet_address_mailbox_get_addr(reply_box))
        d->reply_to_address = address_lower_domain(internet_address_mailbox_get_addr(reply_box));
    if (reply_to)
        g_object_unref(reply_to);

    d->return_path = read_return_path(msg);
    read_recipients(ctx, &address_headers);
    read_authenticity(ctx);

    GDateTime *date = g_mime_message_get_date(ctx->message);
    if (date && g_date_time_to_unix(date) > 0)
        d->date = g_date_time_to_unix(date);
    else
        parse_warn(ctx, "no valid Date header");

    subject_reply_forward(d->subject, &ctx->is_reply, &ctx->is_forward);
    if (d->in_reply_to || d->references->len > 0)
        ctx->is_reply = TRUE;
    return TRUE;
}
