/* parse, step "content": the text of the report and its attachments (SPEC §3.3).
 *
 * Body: the first text/plain or text/html part that is not an attachment; in a
 * multipart/alternative we choose ourselves, text/plain first (the sender's own words, no
 * conversion), text/html when there is no plain text or it is empty. The other renderings of
 * an alternative are not attachments. Inline text parts of the same kind that follow the body
 * (iPhone mail splits the text around inline photos) continue it.
 *
 * Attachments: every other leaf part, in document order, including inline images with a
 * Content-ID; winmail.dat is unpacked; attached messages are kept as .eml files.
 *
 * Forwards: when the mail is just a forward of one message (message/rfc822 as the body or the
 * only other part, the forwarder's own text a short note at most), the forwarded message is
 * the submission: its text and attachments are the report; the note is kept with the quoted
 * text; the sender stays the forwarder (headers are the outer message's).
 *
 * Replies: the quoted earlier mail is cut into quoted_text (quote.c, and html.c for HTML).
 * When the quote is a letter of ours, only the lines the citizen added or changed in it are
 * read (see "our letters, quoted" below); when it is someone else's mail and nothing was
 * written around it, the mail is what it quotes, as before. */
#include "parse/parse_private.h"

#include <string.h>

#include "util/util.h"

/* a forwarder's note longer than this is a message of its own, not a cover note */
#define NOTE_MAX_CHARS 300
#define NOTE_MAX_LINES 5

typedef struct {
    GMimePart *body; /* the chosen text part, or NULL */
    gboolean body_html;
    GPtrArray *texts;    /* GMimePart *: the body and its continuations, in order */
    GPtrArray *messages; /* GMimeMessagePart *: attached or forwarded messages */
    char *tnef_body;     /* the body text of a winmail.dat, if any */
} Content;

static void content_clear(Content *c)
{
    g_clear_pointer(&c->texts, g_ptr_array_unref);
    g_clear_pointer(&c->messages, g_ptr_array_unref);
    g_clear_pointer(&c->tnef_body, g_free);
}

/* ---- choosing the body ---------------------------------------------------------------------- */

/* named: also a part with a file name (but inline), for mail whose only text is one */
static gboolean is_text_part(GMimeObject *object, gboolean named, gboolean *html)
{
    if (!GMIME_IS_PART(object) || GMIME_IS_MESSAGE_PART(object))
        return FALSE;
    GMimeContentType *ct = g_mime_object_get_content_type(object);
    if (!ct)
        return FALSE;
    gboolean is_plain = g_mime_content_type_is_type(ct, "text", "plain");
    gboolean is_html = g_mime_content_type_is_type(ct, "text", "html");
    if (!is_plain && !is_html)
        return FALSE;
    const char *disposition = g_mime_object_get_disposition(object);
    if (disposition && g_ascii_strcasecmp(disposition, "attachment") == 0)
        return FALSE;
    const char *filename = g_mime_part_get_filename(GMIME_PART(object));
    if (filename && *filename && !named)
        return FALSE;
    if (part_encoded_length(GMIME_PART(object)) > PARSE_MAX_TEXT_BYTES)
        return FALSE; /* kept as an attachment instead */
    *html = is_html;
    return TRUE;
}

static gboolean is_body_candidate(GMimeObject *object, gboolean *html)
{
    return is_text_part(object, FALSE, html);
}

static GMimePart *find_body(GMimeObject *object, int depth);

static gboolean is_subtype(GMimeObject *object, const char *type, const char *subtype)
{
    GMimeContentType *ct = g_mime_object_get_content_type(object);
    return ct && g_mime_content_type_is_type(ct, type, subtype);
}

/* the text of an alternative, and the branch it is in */
static GMimePart *choose_alternative(GMimeMultipart *mp, int depth, GMimeObject **branch_out)
{
    GMimePart *plain = NULL, *html = NULL;
    GMimeObject *plain_branch = NULL, *html_branch = NULL;
    int n = g_mime_multipart_get_count(mp);
    for (int i = 0; i < n; i++) {
        GMimeObject *child = g_mime_multipart_get_part(mp, i);
        GMimePart *text = find_body(child, depth + 1);
        if (!text)
            continue;
        if (is_subtype(GMIME_OBJECT(text), "text", "html")) {
            if (!html) {
                html = text;
                html_branch = child;
            }
        } else if (!plain) {
            plain = text;
            plain_branch = child;
        }
    }
    /* "this message is in HTML" clients leave the plain part empty */
    if (plain && html && part_encoded_length(plain) <= 2)
        plain = NULL;
    *branch_out = plain ? plain_branch : html_branch;
    return plain ? plain : html;
}

static GMimePart *find_body(GMimeObject *object, int depth)
{
    if (!object || depth > 64)
        return NULL;
    if (GMIME_IS_MULTIPART(object)) {
        if (GMIME_IS_MULTIPART_ENCRYPTED(object))
            return NULL;
        GMimeMultipart *mp = GMIME_MULTIPART(object);
        if (is_subtype(object, "multipart", "alternative")) {
            GMimeObject *branch = NULL;
            return choose_alternative(mp, depth, &branch);
        }
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; i++) {
            GMimePart *text = find_body(g_mime_multipart_get_part(mp, i), depth + 1);
            if (text)
                return text;
        }
        return NULL;
    }
    gboolean html;
    return is_body_candidate(object, &html) ? GMIME_PART(object) : NULL;
}

/* Some mail programs (and gateways) give the only text part a file name while leaving it
 * inline ("Content-Disposition: inline; filename=body.txt"): without this, the report's text
 * was empty and the citizen's words an attachment. The first such plain text part, else
 * HTML part. */
static GMimePart *find_named_inline_text(GMimeObject *object, int depth, gboolean want_html)
{
    if (!object || depth > 64 || GMIME_IS_MULTIPART_ENCRYPTED(object))
        return NULL;
    if (GMIME_IS_MULTIPART(object)) {
        GMimeMultipart *mp = GMIME_MULTIPART(object);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; i++) {
            GMimePart *text =
                find_named_inline_text(g_mime_multipart_get_part(mp, i), depth + 1, want_html);
            if (text)
                return text;
        }
        return NULL;
    }
    gboolean html;
    if (!is_text_part(object, TRUE, &html) || html != want_html)
        return NULL;
    return GMIME_PART(object);
}

static GMimePart *find_body_or_named(GMimeObject *root)
{
    GMimePart *body = find_body(root, 0);
    if (!body)
        body = find_named_inline_text(root, 0, FALSE);
    if (!body)
        body = find_named_inline_text(root, 0, TRUE);
    return body;
}

/* ---- walking the parts ---------------------------------------------------------------------- */

/* renderings: inside an alternative's branch that was not chosen (its text is the same
 * text again; its images are still attachments) */
static gboolean walk(ParseContext *ctx, Content *c, GMimeObject *object, int depth,
                     gboolean renderings, GError **error)
{
    if (!object || depth > 64)
        return TRUE;
    if (GMIME_IS_MULTIPART(object)) {
        GMimeMultipart *mp = GMIME_MULTIPART(object);
        GMimeObject *branch = NULL;
        gboolean alternative = is_subtype(object, "multipart", "alternative");
        if (alternative)
            choose_alternative(mp, depth, &branch);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; i++) {
            GMimeObject *child = g_mime_multipart_get_part(mp, i);
            gboolean other = renderings || (alternative && branch && child != branch);
            if (!walk(ctx, c, child, depth + 1, other, error))
                return FALSE;
        }
        return TRUE;
    }
    if (GMIME_IS_MESSAGE_PART(object)) {
        g_ptr_array_add(c->messages, object);
        return TRUE;
    }
    if (!GMIME_IS_PART(object))
        return TRUE;
    GMimePart *part = GMIME_PART(object);
    if (part == c->body)
        return TRUE;
    gboolean html;
    if (is_body_candidate(object, &html)) {
        if (renderings)
            return TRUE;
        if (c->body && html == c->body_html) {
            g_ptr_array_add(c->texts, part);
            return TRUE;
        }
    }
    if (part_is_tnef(part)) {
        char *body = NULL;
        GError *local = NULL;
        if (tnef_unpack(ctx, part, &body, &local)) {
            if (body && *body && !c->tnef_body)
                c->tnef_body = body;
            else
                g_free(body);
            return TRUE;
        }
        if (local) {
            g_propagate_error(error, local);
            return FALSE;
        }
        /* not unpacked: an ordinary attachment */
    }
    return attachment_add_part(ctx, part, error);
}

/* ---- text ----------------------------------------------------------------------------------- */

/* <meta charset="..."> or http-equiv content="...; charset=..." in the first bytes */
static char *html_meta_charset(const guchar *data, gsize len)
{
    if (!data || len == 0)
        return NULL;
    gsize n = MIN(len, 4096);
    g_autofree char *head = g_ascii_strdown((const char *)data, (gssize)n);
    const char *p = strstr(head, "charset=");
    if (!p)
        return NULL;
    p += 8;
    while (*p == '"' || *p == '\'' || *p == ' ')
        p++;
    gsize k = 0;
    while (k < 40 &&
           (g_ascii_isalnum(p[k]) || p[k] == '-' || p[k] == '_' || p[k] == ':' || p[k] == '.'))
        k++;
    return k > 0 ? g_strndup(p, k) : NULL;
}

static void join(GString *s, const char *text)
{
    if (!text || !*text)
        return;
    if (s->len > 0)
        g_string_append(s, "\n\n");
    g_string_append(s, text);
}

/* the text of one part, normalised; *quoted_out the HTML quote when cut */
static char *part_text(ParseContext *ctx, GMimePart *part, gboolean cut, char **quoted_out,
                       GError **error)
{
    *quoted_out = NULL;
    GByteArray *bytes = part_decode_to_bytes(part, 2 * (gsize)PARSE_MAX_TEXT_BYTES, error);
    if (!bytes)
        return NULL;
    GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
    gboolean html = g_mime_content_type_is_type(ct, "text", "html");
    g_autofree char *charset = g_strdup(g_mime_content_type_get_parameter(ct, "charset"));
    if (!charset && html)
        charset = html_meta_charset(bytes->data, bytes->len);
    g_autofree char *utf8 = charset_to_utf8(ctx, (const char *)bytes->data, bytes->len, charset);
    g_byte_array_unref(bytes);

    if (html) {
        char *quoted = NULL;
        g_autofree char *raw = html_to_text(utf8, strlen(utf8), cut, &quoted);
        char *text = text_normalise(raw, -1);
        if (quoted) {
            char *quoted_text = text_normalise(quoted, -1);
            if (quote_starts_with_forward(quoted_text)) {
                /* a forward is not a quote */
                g_autofree char *whole = g_strconcat(raw, "\n", quoted, NULL);
                g_free(text);
                g_free(quoted_text);
                text = text_normalise(whole, -1);
            } else if (*quoted_text) {
                *quoted_out = quoted_text;
            } else {
                g_free(quoted_text);
            }
            g_free(quoted);
        }
        return text;
    }
    const char *format = g_mime_content_type_get_parameter(ct, "format");
    if (format && g_ascii_strcasecmp(format, "flowed") == 0) {
        const char *delsp = g_mime_content_type_get_parameter(ct, "delsp");
        g_autofree char *unflowed =
            text_unflow(utf8, delsp && g_ascii_strcasecmp(delsp, "yes") == 0);
        return text_normalise(unflowed, -1);
    }
    return text_normalise(utf8, -1);
}

/* ---- our letters, quoted ----------------------------------------------------------------------
 * A reply quotes the mail it answers; when that is a letter of ours, nothing of our words may
 * be read as the citizen's (a safety paragraph naming "hỏa hoạn" is no fire, "tiếp nhận lúc
 * 09:00" no time of the incident, the hint "số nhà, tên đường ..." no address). The gateway
 * gives the letters we sent (ParseOptions.our_letters); quote.c compares the quote with them
 * line by line and keeps what the citizen added or changed. */

/* a letter of ours is a few tens of kilobytes; more is not one */
#define LETTER_MAX_BYTES (4 * 1024 * 1024)
/* the newest letters are enough: a citizen quotes one of the last few */
#define LETTERS_MAX 12
/* a quote is ours by its text when this many of its words, and at least half, are our
 * letter's */
#define OURS_MIN_WORDS 20

typedef struct {
    ParseContext *ctx;
    QuoteLetters *letters;
    const char *subject;
} LetterWalk;

static void letter_part(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    LetterWalk *walk = data;
    gboolean html = FALSE;
    if (!is_body_candidate(part, &html))
        return;
    char *quoted = NULL;
    GError *ignored = NULL;
    g_autofree char *text = part_text(walk->ctx, GMIME_PART(part), FALSE, &quoted, &ignored);
    g_free(quoted);
    g_clear_error(&ignored);
    quote_letters_add(walk->letters, text, walk->subject);
    walk->subject = NULL; /* once per letter */
}

/* every text rendering of one letter of ours (its text/plain and its text/html parts) */
static void letter_add(ParseContext *ctx, QuoteLetters *letters, GBytes *bytes)
{
    gsize size = 0;
    const void *data = bytes ? g_bytes_get_data(bytes, &size) : NULL;
    if (!data || size == 0 || size > LETTER_MAX_BYTES)
        return;
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, size);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *message = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    g_object_unref(stream);
    if (!message)
        return;
    LetterWalk walk = {ctx, letters, g_mime_message_get_subject(message)};
    g_mime_message_foreach(message, letter_part, &walk);
    g_object_unref(message);
}

/* ctx->letters, asked of the gateway once; NULL when it knows none */
static gboolean load_our_letters(ParseContext *ctx, GError **error)
{
    if (ctx->letters_loaded || !ctx->our_letters)
        return TRUE;
    ctx->letters_loaded = TRUE;
    GPtrArray *found = NULL;
    if (!ctx->our_letters(ctx->draft, &found, ctx->our_letters_data, error))
        return FALSE;
    if (!found)
        return TRUE;
    QuoteLetters *letters = quote_letters_new();
    for (guint i = 0; i < found->len && i < LETTERS_MAX; i++)
        letter_add(ctx, letters, found->pdata[i]);
    g_ptr_array_unref(found);
    if (quote_letters_empty(letters))
        quote_letters_free(letters);
    else
        ctx->letters = letters;
    return TRUE;
}

/* one of our Message-IDs, "<paht.<hex>@<our domain>>" (notify/letter.c), in text; with
 * whole, text must be just that */
static gboolean names_our_message_id(ParseContext *ctx, const char *text, gboolean whole)
{
    const char *at = ctx->our_address ? strchr(ctx->our_address, '@') : NULL;
    if (!at || !text)
        return FALSE;
    g_autofree char *domain = g_regex_escape_string(at + 1, -1);
    g_autofree char *pattern = g_strdup_printf("%s<paht\\.[0-9a-f]{8,64}@%s>%s", whole ? "^" : "",
                                               domain, whole ? "$" : "");
    g_autoptr(GRegex) re = regex_kept(pattern, G_REGEX_CASELESS);
    return re && g_regex_match(re, text, 0, NULL);
}

static gboolean message_answers_us(ParseContext *ctx, GMimeMessage *message)
{
    GMimeObject *object = GMIME_OBJECT(message);
    return names_our_message_id(ctx, g_mime_object_get_header(object, "In-Reply-To"), FALSE) ||
           names_our_message_id(ctx, g_mime_object_get_header(object, "References"), FALSE);
}

/* a letter of ours itself: from our address, or with our Message-ID */
static gboolean message_is_ours(ParseContext *ctx, GMimeMessage *message)
{
    InternetAddressList *from = g_mime_message_get_from(message);
    for (int i = 0; from && ctx->our_address && i < internet_address_list_length(from); i++) {
        InternetAddress *a = internet_address_list_get_address(from, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(a) &&
            g_ascii_strcasecmp(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)),
                               ctx->our_address) == 0)
            return TRUE;
    }
    const char *id = g_mime_message_get_message_id(message);
    g_autofree char *bracketed = id ? g_strdup_printf("<%s>", id) : NULL;
    return names_our_message_id(ctx, bracketed, TRUE);
}

/* what the sender wrote outside the quote, less lines copied from our letters */
static char *own_text(ParseContext *ctx, const char *kept)
{
    return quote_drop_copied_lines(kept ? kept : "", ctx->letters);
}

/* The text to read of a mail that quotes earlier mail, and what is kept as the quote.
 * kept: what the sender wrote outside the quote (NULL: nothing); quoted: the quote (plain and
 * HTML); before_cut: the text before the plain quote was cut; html_quoted: the HTML quote. */
static char *reply_text(ParseContext *ctx, GMimeMessage *message, const char *kept,
                        const char *quoted, const char *before_cut, const char *html_quoted,
                        char **quoted_out)
{
    guint our_words = 0, all_words = 0;
    g_autofree char *added = quote_citizen_lines(quoted, ctx->letters, &our_words, &all_words);
    gboolean ours_by_text = our_words >= OURS_MIN_WORDS && our_words * 2 >= all_words;
    if (ours_by_text || message_answers_us(ctx, message) ||
        quote_names_us(quoted, ctx->our_address, ctx->code_prefix)) {
        /* our letter: only what the citizen added or changed in it is theirs; when we cannot
         * tell their lines from ours (the letter is not known), none of it is read */
        *quoted_out = g_strdup(quoted);
        GString *text = g_string_new(NULL);
        g_autofree char *own = own_text(ctx, kept);
        join(text, own);
        join(text, ours_by_text ? added : NULL);
        return g_string_free(text, FALSE);
    }
    if (kept && *kept) {
        *quoted_out = g_strdup(quoted);
        return own_text(ctx, kept);
    }
    /* someone else's mail and nothing written around it: the mail is what it quotes (a
     * forward in reply form); never an empty report */
    if (before_cut && *before_cut) {
        *quoted_out = html_quoted && *html_quoted ? g_strdup(html_quoted) : NULL;
        return own_text(ctx, before_cut);
    }
    *quoted_out = NULL;
    return own_text(ctx, html_quoted);
}

static gboolean build_text(ParseContext *ctx, GMimeMessage *message, Content *c, gboolean cut,
                           gboolean answers, char **text_out, char **quoted_out, GError **error)
{
    GString *text = g_string_new(NULL);
    GString *html_quoted = g_string_new(NULL);
    for (guint i = 0; i < c->texts->len; i++) {
        char *quoted = NULL;
        char *one = part_text(ctx, c->texts->pdata[i], cut && i == 0, &quoted, error);
        if (!one) {
            g_string_free(text, TRUE);
            g_string_free(html_quoted, TRUE);
            return FALSE;
        }
        join(text, one);
        join(html_quoted, quoted);
        g_free(one);
        g_free(quoted);
    }
    g_autofree char *kept = NULL;
    g_autofree char *plain_quoted = NULL;
    if (!(cut && quote_find(text->str, &kept, &plain_quoted)) &&
        !quote_forward_of_ours(text->str, ctx->our_address, &kept, &plain_quoted))
        kept = g_strdup(text->str);
    g_autoptr(GString) quoted = g_string_new(NULL);
    join(quoted, plain_quoted);
    join(quoted, html_quoted->str);
    gboolean ok = !(quoted->len > 0 || answers) || load_our_letters(ctx, error);
    if (ok && quoted->len > 0) {
        *text_out =
            reply_text(ctx, message, kept, quoted->str, text->str, html_quoted->str, quoted_out);
    } else if (ok) {
        *text_out = own_text(ctx, kept);
        *quoted_out = NULL;
    }
    g_string_free(text, TRUE);
    g_string_free(html_quoted, TRUE);
    return ok;
}

/* ---- forwards ------------------------------------------------------------------------------- */

/* a cover note: a few short lines, not counting the signature and the phone's footer */
static gboolean is_cover_note(const char *text)
{
    if (!text || !*text)
        return TRUE;
    static const char *const footers[] = {
        "sent from ",   "gui tu ", "get outlook for ", "download outlook ", "sent via ",
        "duoc gui tu ", NULL};
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    gsize chars = 0, count = 0;
    for (char **l = lines; *l; l++) {
        if (strcmp(*l, "--") == 0 || strcmp(*l, "-- ") == 0)
            break; /* RFC 3676 §4.3 signature separator */
        g_autofree char *line = g_strstrip(g_strdup(*l));
        if (!*line)
            continue;
        if (strlen(line) < 200) {
            g_autofree char *folded = text_fold(line);
            gboolean footer = FALSE;
            for (const char *const *f = footers; *f && !footer; f++)
                footer = g_str_has_prefix(folded, *f);
            if (footer)
                continue;
        }
        count++;
        chars += (gsize)g_utf8_strlen(line, -1);
        if (count > NOTE_MAX_LINES || chars > NOTE_MAX_CHARS)
            return FALSE;
    }
    return count <= NOTE_MAX_LINES && chars <= NOTE_MAX_CHARS;
}

static GMimeMessagePart *forward_candidate(GMimeObject *root, GPtrArray *messages)
{
    if (!root || messages->len != 1)
        return NULL;
    GMimeMessagePart *only = messages->pdata[0];
    if (GMIME_OBJECT(only) == root)
        return only;
    if (GMIME_IS_MULTIPART(root) && is_subtype(root, "multipart", "mixed") &&
        g_mime_multipart_index_of(GMIME_MULTIPART(root), GMIME_OBJECT(only)) >= 0)
        return only;
    return NULL;
}

static void message_reply_state(ParseContext *ctx, GMimeMessage *message, gboolean top,
                                gboolean *reply, gboolean *forward)
{
    if (top) {
        *reply = ctx->is_reply;
        *forward = ctx->is_forward;
        return;
    }
    subject_reply_forward(g_mime_message_get_subject(message), reply, forward);
    GMimeObject *object = GMIME_OBJECT(message);
    if (g_mime_object_get_header(object, "In-Reply-To") ||
        g_mime_object_get_header(object, "References"))
        *reply = TRUE;
}

static gboolean process_message(ParseContext *ctx, GMimeMessage *message, int depth,
                                char **text_out, char **quoted_out, GError **error)
{
    *text_out = *quoted_out = NULL;
    Content c = {0};
    c.texts = g_ptr_array_new();
    c.messages = g_ptr_array_new();
    GMimeObject *root = g_mime_message_get_mime_part(message);
    c.body = find_body_or_named(root);
    if (c.body) {
        c.body_html = is_subtype(GMIME_OBJECT(c.body), "text", "html");
        g_ptr_array_add(c.texts, c.body);
    }
    if (root && !walk(ctx, &c, root, 0, FALSE, error)) {
        content_clear(&c);
        return FALSE;
    }

    gboolean reply = FALSE, forward = FALSE;
    message_reply_state(ctx, message, depth == 0, &reply, &forward);
    char *text = NULL, *quoted = NULL;
    if (!build_text(ctx, message, &c, reply && !forward, reply || forward, &text, &quoted, error)) {
        content_clear(&c);
        return FALSE;
    }
    if (!*text && c.tnef_body) {
        g_free(text);
        text = g_steal_pointer(&c.tnef_body);
    }

    GMimeMessagePart *forwarded = forward_candidate(root, c.messages);
    GMimeMessage *inner = forwarded ? g_mime_message_part_get_message(forwarded) : NULL;
    /* our own letter sent back as an attachment is not the citizen's report */
    if (inner && is_cover_note(text) && !parse_sender_is_mailer(ctx) &&
        !message_is_ours(ctx, inner)) {
        char *inner_text = NULL, *inner_quoted = NULL;
        if (!process_message(ctx, inner, depth + 1, &inner_text, &inner_quoted, error)) {
            g_free(text);
            g_free(quoted);
            content_clear(&c);
            return FALSE;
        }
        ctx->submission = inner;
        /* the note and the forwarder's quote are kept, not shown as the report */
        GString *kept = g_string_new(NULL);
        join(kept, text);
        join(kept, quoted);
        join(kept, inner_quoted);
        g_free(text);
        g_free(quoted);
        g_free(inner_quoted);
        text = inner_text;
        quoted = kept->len > 0 ? g_string_free(kept, FALSE) : NULL;
        if (!quoted)
            g_string_free(kept, TRUE);
        g_ptr_array_remove(c.messages, forwarded);
    }
    for (guint i = 0; i < c.messages->len; i++) {
        if (!attachment_add_message(ctx, c.messages->pdata[i], error)) {
            g_free(text);
            g_free(quoted);
            content_clear(&c);
            return FALSE;
        }
    }
    content_clear(&c);
    *text_out = text;
    *quoted_out = quoted;
    return TRUE;
}

/* "[PAHT-2026-000123] ..." after "Re:"-like prefixes: the form of our letters' subjects */
static gboolean subject_has_our_code(const char *subject, const char *code_prefix)
{
    if (!subject || !code_prefix || !*code_prefix)
        return FALSE;
    g_autofree char *bare = quote_subject_bare(subject);
    g_autofree char *escaped = g_regex_escape_string(code_prefix, -1);
    g_autofree char *pattern = g_strdup_printf("^\\[%s-\\d{4}-\\d{6}\\]", escaped);
    g_autoptr(GRegex) re = regex_kept(pattern, G_REGEX_CASELESS);
    return re && g_regex_match(re, bare, 0, NULL);
}

gboolean parse_step_content(ParseContext *ctx, GError **error)
{
    char *text = NULL, *quoted = NULL;
    if (!process_message(ctx, ctx->message, 0, &text, &quoted, error))
        return FALSE;
    ctx->draft->text = text ? text : g_strdup("");
    ctx->draft->quoted_text = quoted;
    /* "Re: [PAHT-...] Đã tiếp nhận phản ánh: ..." is our subject, not the citizen's words */
    const char *subject = ctx->draft->subject;
    if (ctx->letters)
        ctx->subject_is_ours = quote_letters_subject(ctx->letters, subject);
    else
        ctx->subject_is_ours = message_answers_us(ctx, ctx->message) &&
                               subject_has_our_code(subject, ctx->code_prefix);
    return TRUE;
}
