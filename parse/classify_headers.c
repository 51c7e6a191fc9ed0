/* parse, step "classify headers": mail nobody should answer (SPEC §3.5). First match wins:
 *
 *   bounce  1. a delivery status notification by its structure (RFC 3464): multipart/report
 *              with report-type=delivery-status, or a message/delivery-status part anywhere
 *              (McAfee and others send it in a multipart/mixed), whoever sent it;
 *           2. an Amazon SES bounce notification ("notificationType":"Bounce");
 *           3. mail from a mailer (MAILER-DAEMON, postmaster, post_master, Mail Delivery
 *              System, an empty From <>) with bounce content: the returned message or its
 *              headers, an X-Failed-Recipients header, or the words of a delivery failure in
 *              its subject or at the top of its text ([bounce], [bounce.subject] of
 *              keywords.conf);
 *   auto    4. an abuse or feedback report (RFC 5965 ARF, report-type=feedback-report), a read
 *              receipt (RFC 8098);
 *           5. Auto-Submitted other than "no" (RFC 3834), Precedence bulk/junk/list,
 *              X-Autoreply, X-Autorespond, list headers (List-Id of RFC 2919, List-Post and
 *              List-Unsubscribe of RFC 2369, Mailing-List of ezmlm and fml, X-ML-Name,
 *              X-Mailing-List), our own loop header, our own address;
 *           6. an auto-reply by its subject: "Automatic reply: ...", "Trả lời tự động: ...",
 *              "Out of Office: ..." ([auto.subject]), or by its first words when the text is
 *              as short as an auto-reply ("I am out of the office until ...", "Tôi hiện không
 *              có mặt tại cơ quan ...", [auto]);
 *           7. other mail from a mailer, or with an empty Return-Path <> (RFC 3834 §3.3: what
 *              vacation responders send with): machine mail, but no evidence of a failed
 *              delivery;
 *   bounce  8. an empty Return-Path with bounce content (as in 3) that no rule above took.
 *
 * A DSN is a bounce whatever else it carries: most MTAs put "Auto-Submitted: auto-replied"
 * (Exim, Gmail, mail.ru) or "Precedence: bulk" (some Postfix set-ups) on their bounces, so the
 * bounce rules come before the header rules. An empty Return-Path alone is not a bounce:
 * Outlook sends its automatic replies with one, and taking them for bounces marked delivered
 * letters failed. X-Auto-Response-Suppress is not used: it only asks *us* not to answer
 * automatically, which the notify module honours; it says nothing about the mail itself.
 *
 * For a bounce the DSN fields are filled: status, recipient and diagnostic from the
 * message/delivery-status part (else X-Failed-Recipients and the first RFC 3463 status code
 * of the text), the Message-ID of our returned letter from its text/rfc822-headers or
 * message/rfc822 part (else the headers quoted in the text). */
#include "parse/parse_private.h"

#include <string.h>

#include "util/util.h"

#define MAX_DSN_BYTES (256 * 1024)
/* a bounce's own words are at the top of its text: the returned message comes after */
#define BOUNCE_TEXT_BYTES 3000

/* ---- helpers ------------------------------------------------------------------------------ */

/* "Mail.Delivery.System", "post_master", "MAILER-DAEMON" -> "maildeliverysystem", ...:
 * lowercase letters and digits only */
static char *squeezed(const char *s, gsize len)
{
    GString *out = g_string_new(NULL);
    for (gsize i = 0; i < len && s[i]; i++) {
        if (g_ascii_isalnum(s[i]))
            g_string_append_c(out, g_ascii_tolower(s[i]));
    }
    return g_string_free(out, FALSE);
}

static gboolean is_mailer_name(const char *squeezed_name)
{
    static const char *const mailers[] = {"mailerdaemon",
                                          "postmaster",
                                          "maildeliverysystem",
                                          "maildeliverysubsystem",
                                          "maildeliveryservice",
                                          "mailadministrator",
                                          "mailsystem",
                                          "maildaemon",
                                          "deliverystatusnotification"};
    for (gsize i = 0; i < G_N_ELEMENTS(mailers); i++) {
        if (strcmp(squeezed_name, mailers[i]) == 0)
            return TRUE;
    }
    return FALSE;
}

/* mail about mail: from MAILER-DAEMON, postmaster (any spelling: post_master@,
 * Mail.Delivery.System@), or with no From address at all ("MAILER-DAEMON <>" as DragonFly
 * writes it, "<>"): no person's mail program sends that */
/* the display name of a From header that holds no address, squeezed as above ("" when it
 * has none: "<>") */
static char *from_display_name(const char *from)
{
    InternetAddressList *list = internet_address_list_parse(NULL, from);
    InternetAddress *first = list && internet_address_list_length(list) > 0
                                 ? internet_address_list_get_address(list, 0)
                                 : NULL;
    const char *name = first ? internet_address_get_name(first) : NULL;
    char *out = squeezed(name ? name : "", name ? strlen(name) : 0);
    g_clear_object(&list);
    return out;
}

static gboolean from_mailer_daemon(ParseContext *ctx)
{
    const Draft *d = ctx->draft;
    if (!d->from_address || !*d->from_address) {
        /* no address: "From: MAILER-DAEMON <>" (DragonFly) and "From: <>" are mailers; a
         * From that names only a person or a group ("undisclosed-recipients:;") is not, and
         * its answer goes to the envelope sender */
        const char *from = g_mime_object_get_header(GMIME_OBJECT(ctx->message), "From");
        if (!from)
            return FALSE;
        g_autofree char *name = from_display_name(from);
        return !*name || is_mailer_name(name);
    }
    const char *at = strchr(d->from_address, '@');
    gsize local = at ? (gsize)(at - d->from_address) : strlen(d->from_address);
    g_autofree char *name = squeezed(d->from_address, local);
    return is_mailer_name(name);
}

/* "auto-replied; comment" -> "auto-replied", lowercase, a short token; NULL if absent */
static char *header_token(GMimeObject *object, const char *name)
{
    g_autofree char *raw = header_raw_merged(object, name);
    if (!raw)
        return NULL;
    GString *token = g_string_new(NULL);
    for (const char *p = raw; *p && *p != ';' && *p != '(' && token->len < 40; p++) {
        if (g_ascii_isalnum(*p) || *p == '-' || *p == '_' || *p == '.')
            g_string_append_c(token, g_ascii_tolower(*p));
        else if (token->len > 0 && (*p == ' ' || *p == '\t'))
            break;
    }
    return g_string_free(token, FALSE);
}

static gboolean is_report(GMimeObject *object, const char *report_type)
{
    if (!GMIME_IS_MULTIPART(object))
        return FALSE;
    GMimeContentType *ct = g_mime_object_get_content_type(object);
    if (!ct || !g_mime_content_type_is_type(ct, "multipart", "report"))
        return FALSE;
    const char *type = g_mime_content_type_get_parameter(ct, "report-type");
    return type && g_ascii_strcasecmp(type, report_type) == 0;
}

typedef struct {
    GMimePart *status;         /* message/delivery-status */
    GMimePart *headers;        /* text/rfc822-headers */
    GMimeMessagePart *message; /* message/rfc822 */
} DsnParts;

static void find_dsn_parts(GMimeObject *object, int depth, DsnParts *parts)
{
    if (!object || depth > 8)
        return;
    if (GMIME_IS_MULTIPART(object)) {
        GMimeMultipart *mp = GMIME_MULTIPART(object);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; i++)
            find_dsn_parts(g_mime_multipart_get_part(mp, i), depth + 1, parts);
        return;
    }
    GMimeContentType *ct = g_mime_object_get_content_type(object);
    if (!ct)
        return;
    if (GMIME_IS_MESSAGE_PART(object)) {
        if (!parts->message)
            parts->message = GMIME_MESSAGE_PART(object);
        return;
    }
    if (!GMIME_IS_PART(object))
        return;
    if (!parts->status && (g_mime_content_type_is_type(ct, "message", "delivery-status") ||
                           g_mime_content_type_is_type(ct, "message", "global-delivery-status")))
        parts->status = GMIME_PART(object);
    else if (!parts->headers && (g_mime_content_type_is_type(ct, "text", "rfc822-headers") ||
                                 g_mime_content_type_is_type(ct, "message", "global-headers")))
        parts->headers = GMIME_PART(object);
}

static char *part_text(ParseContext *ctx, GMimePart *part)
{
    GError *error = NULL;
    GByteArray *bytes = part_decode_to_bytes(part, MAX_DSN_BYTES, &error);
    if (!bytes) {
        g_error_free(error);
        return NULL;
    }
    char *text = charset_to_utf8(ctx, (const char *)bytes->data, bytes->len, "utf-8");
    g_byte_array_unref(bytes);
    return text;
}

/* ---- RFC 3464 ------------------------------------------------------------------------------- */

/* one field group: unfolded "Name: value" lines */
typedef struct {
    char *final_recipient, *original_recipient, *action, *status, *diagnostic;
} DsnRecipient;

static void dsn_recipient_clear(DsnRecipient *r)
{
    g_free(r->final_recipient);
    g_free(r->original_recipient);
    g_free(r->action);
    g_free(r->status);
    g_free(r->diagnostic);
    memset(r, 0, sizeof *r);
}

/* "rfc822; user@example.com" -> "user@example.com" */
static char *typed_value(const char *value)
{
    const char *semi = strchr(value, ';');
    g_autofree char *rest = g_strdup(semi ? semi + 1 : value);
    g_strstrip(rest);
    if (rest[0] == '<') {
        char *gt = strchr(rest, '>');
        if (gt)
            *gt = '\0';
        memmove(rest, rest + 1, strlen(rest));
    }
    g_autofree char *line = text_one_line(rest, 2000);
    return *line ? g_steal_pointer(&line) : NULL;
}

static char *status_code(const char *value)
{
    /* RFC 3463: class "." subject "." detail */
    static GRegex *status;
    GRegex *re = parse_regex(&status, "^\\s*([245]\\.\\d{1,3}\\.\\d{1,3})", 0);
    g_autoptr(GMatchInfo) match = NULL;
    if (!g_regex_match(re, value, 0, &match))
        return NULL;
    return g_match_info_fetch(match, 1);
}

static void dsn_set_field(DsnRecipient *r, const char *name, const char *value)
{
    char **slot = NULL;
    if (g_ascii_strcasecmp(name, "Final-Recipient") == 0)
        slot = &r->final_recipient;
    else if (g_ascii_strcasecmp(name, "Original-Recipient") == 0)
        slot = &r->original_recipient;
    else if (g_ascii_strcasecmp(name, "Action") == 0)
        slot = &r->action;
    else if (g_ascii_strcasecmp(name, "Status") == 0)
        slot = &r->status;
    else if (g_ascii_strcasecmp(name, "Diagnostic-Code") == 0)
        slot = &r->diagnostic;
    if (slot && !*slot)
        *slot = g_strdup(value);
}

static gboolean line_is_blank(const char *line)
{
    for (; *line; line++) {
        if (!g_ascii_isspace(*line))
            return FALSE;
    }
    return TRUE;
}

static void dsn_commit_field(DsnRecipient *r, GString *field)
{
    char *colon = strchr(field->str, ':');
    if (colon) {
        *colon = '\0';
        dsn_set_field(r, g_strstrip(field->str), g_strstrip(colon + 1));
    }
    g_string_truncate(field, 0);
}

static gboolean dsn_failed(const DsnRecipient *r)
{
    return r->action && g_ascii_strncasecmp(r->action, "failed", 6) == 0;
}

/* RFC 3464 §2: field groups separated by blank lines, the per-message group first; a group
 * with Final-Recipient or Status is a recipient. The first recipient that failed wins, else
 * the first recipient. */
void dsn_parse_fields(const char *text, char **status, char **recipient, char **diagnostic)
{
    *status = *recipient = *diagnostic = NULL;
    if (!text)
        return;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    DsnRecipient current = {0}, chosen = {0};
    gboolean have_chosen = FALSE;
    GString *field = g_string_new(NULL);
    for (gsize i = 0;; i++) {
        const char *line = lines[i];
        if (line && !line_is_blank(line)) {
            if ((line[0] == ' ' || line[0] == '\t') && field->len > 0) {
                g_string_append(field, line); /* folded continuation */
                continue;
            }
            if (field->len > 0)
                dsn_commit_field(&current, field);
            g_string_append(field, line);
            continue;
        }
        /* end of a group */
        if (field->len > 0)
            dsn_commit_field(&current, field);
        if (current.final_recipient || current.status) {
            if (!have_chosen || (dsn_failed(&current) && !dsn_failed(&chosen))) {
                dsn_recipient_clear(&chosen);
                chosen = current;
                memset(&current, 0, sizeof current);
                have_chosen = TRUE;
            }
        }
        dsn_recipient_clear(&current);
        if (!line)
            break;
    }
    g_string_free(field, TRUE);
    if (have_chosen) {
        if (chosen.status)
            *status = status_code(chosen.status);
        const char *who =
            chosen.original_recipient ? chosen.original_recipient : chosen.final_recipient;
        if (who) {
            g_autofree char *address = typed_value(who);
            *recipient = address_lower_domain(address);
        }
        if (chosen.diagnostic) {
            g_autofree char *d = typed_value(chosen.diagnostic);
            if (d) {
                gsize n = strlen(d);
                if (n > 1000) {
                    n = 1000;
                    while (n > 0 && ((guchar)d[n] & 0xc0) == 0x80)
                        n--;
                }
                *diagnostic = g_strndup(d, n);
            }
        }
    }
    dsn_recipient_clear(&chosen);
}

static char *message_id_from_headers(ParseContext *ctx, const char *text)
{
    /* a header block is a message without body: let GMime read it. These are the headers
     * of the returned message, not of this one: what GMime would warn about them is not
     * this mail's, and without a warning callback GMime does not decode every header (a
     * bounce returns dozens) to validate it */
    GMimeParserOptions *options = g_mime_parser_options_clone(ctx->gmime_options);
    g_mime_parser_options_set_warning_callback(options, NULL, NULL);
    g_autofree char *block = g_strconcat(text, "\n\n", NULL);
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(block, strlen(block));
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *message = g_mime_parser_construct_message(parser, options);
    char *id = NULL;
    if (message) {
        const char *value = g_mime_message_get_message_id(message);
        if (value && *value)
            id = text_header_sanitize(value);
        g_object_unref(message);
    }
    g_object_unref(parser);
    g_object_unref(stream);
    g_mime_parser_options_free(options);
    return id;
}

/* non-standard bounces quote the returned headers in their text */
static char *message_id_from_text(const char *text)
{
    if (!text)
        return NULL;
    static GRegex *message_id;
    GRegex *re = parse_regex(&message_id, "^\\s*Message-ID:\\s*<([^>\\s]{1,500})>",
                             G_REGEX_CASELESS | G_REGEX_MULTILINE);
    g_autoptr(GMatchInfo) match = NULL;
    if (!g_regex_match(re, text, 0, &match))
        return NULL;
    return g_match_info_fetch(match, 1);
}

/* RFC 3463 status code in a bounce without a delivery-status part ("550 5.1.1 <x@y>: ...") */
static char *status_from_text(const char *text)
{
    static GRegex *status;
    GRegex *re = parse_regex(&status, "(?<![\\d.])([245]\\.\\d{1,3}\\.\\d{1,3})(?![\\d.])", 0);
    g_autoptr(GMatchInfo) match = NULL;
    if (!text ||
        !g_regex_match_full(re, text, MIN(strlen(text), MAX_DSN_BYTES), 0, 0, &match, NULL))
        return NULL;
    return g_match_info_fetch(match, 1);
}

/* Exim and Gmail name the failed addresses in a header of their own */
static char *failed_recipient_header(ParseContext *ctx)
{
    g_autofree char *raw = header_raw_merged(GMIME_OBJECT(ctx->message), "X-Failed-Recipients");
    if (!raw || !*raw)
        return NULL;
    InternetAddressList *list = internet_address_list_parse(ctx->gmime_options, raw);
    char *address = NULL;
    if (list && internet_address_list_length(list) > 0) {
        InternetAddress *ia = internet_address_list_get_address(list, 0);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia))
            address = address_lower_domain(
                internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
    }
    g_clear_object(&list);
    return address;
}

/* Amazon SES notifications: JSON in the text, raw or escaped inside an SNS envelope */
static char *ses_json_value(const char *text, const char *name)
{
    g_autofree char *pattern =
        g_strdup_printf("\\\\?\"%s\\\\?\"\\s*:\\s*\\\\?\"(?:smtp;\\s*)?([^\"\\\\]{1,500})", name);
    g_autoptr(GRegex) re = regex_kept(pattern, 0);
    g_autoptr(GMatchInfo) match = NULL;
    if (!re || !g_regex_match(re, text, 0, &match))
        return NULL;
    return g_match_info_fetch(match, 1);
}

static char *first_mailbox_of(ParseContext *ctx, const char *value)
{
    InternetAddressList *list =
        value ? internet_address_list_parse(ctx->gmime_options, value) : NULL;
    char *address = NULL;
    if (list && internet_address_list_length(list) > 0) {
        InternetAddress *ia = internet_address_list_get_address(list, 0);
        const char *addr = INTERNET_ADDRESS_IS_MAILBOX(ia)
                               ? internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia))
                               : NULL;
        if (addr && strchr(addr, '@'))
            address = address_lower_domain(addr);
    }
    g_clear_object(&list);
    return address;
}

/* the To of the returned message (or of its headers): whom our letter was for */
static char *returned_recipient(ParseContext *ctx, const DsnParts *parts)
{
    if (parts->message) {
        GMimeMessage *returned = g_mime_message_part_get_message(parts->message);
        if (returned) {
            g_autofree char *to = header_raw_merged(GMIME_OBJECT(returned), "To");
            char *address = first_mailbox_of(ctx, to);
            if (address)
                return address;
        }
    }
    if (!parts->headers)
        return NULL;
    g_autofree char *text = part_text(ctx, parts->headers);
    static GRegex *to_re;
    GRegex *re = parse_regex(&to_re, "^To:[ \t]*(.{1,500})$", G_REGEX_MULTILINE | G_REGEX_CASELESS);
    g_autoptr(GMatchInfo) m = NULL;
    if (!text || !g_regex_match(re, text, 0, &m))
        return NULL;
    g_autofree char *to = g_match_info_fetch(m, 1);
    return first_mailbox_of(ctx, g_strstrip(to));
}

/* the first address in the bounce's own words ("<x@y>: Sorry, no mailbox here", "delivering
 * your mail to <x@y>") that is not the bounce's sender or its addressee (us) */
static char *recipient_from_text(ParseContext *ctx)
{
    const Draft *d = ctx->draft;
    if (!d->text)
        return NULL;
    static GRegex *address_re;
    GRegex *re = parse_regex(
        &address_re, "[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\\.[A-Za-z0-9-]{1,63})+", 0);
    g_autoptr(GMatchInfo) m = NULL;
    GError *ignored = NULL;
    gboolean found = g_regex_match_full(re, d->text, MIN(strlen(d->text), BOUNCE_TEXT_BYTES), 0, 0,
                                        &m, &ignored);
    g_clear_error(&ignored);
    for (; found; found = g_match_info_next(m, NULL)) {
        g_autofree char *raw = g_match_info_fetch(m, 0);
        g_autofree char *address = address_lower_domain(raw);
        gboolean ours = FALSE;
        for (guint i = 0; i < d->recipients->len && !ours; i++)
            ours = g_ascii_strcasecmp(address, d->recipients->pdata[i]) == 0;
        if (ours || (d->from_address && g_ascii_strcasecmp(address, d->from_address) == 0) ||
            (ctx->our_address && g_ascii_strcasecmp(address, ctx->our_address) == 0))
            continue;
        return g_steal_pointer(&address);
    }
    return NULL;
}

static void fill_dsn(ParseContext *ctx)
{
    Draft *d = ctx->draft;
    DsnParts parts = {0};
    find_dsn_parts(g_mime_message_get_mime_part(ctx->message), 0, &parts);
    if (parts.status) {
        g_autofree char *text = part_text(ctx, parts.status);
        g_autofree char *normal = text ? text_normalise(text, -1) : NULL;
        dsn_parse_fields(normal, &d->dsn_status, &d->dsn_recipient, &d->dsn_diagnostic);
    }
    if (parts.headers) {
        g_autofree char *text = part_text(ctx, parts.headers);
        if (text)
            d->dsn_original_message_id = message_id_from_headers(ctx, text);
    }
    if (!d->dsn_original_message_id && parts.message) {
        GMimeMessage *returned = g_mime_message_part_get_message(parts.message);
        const char *id = returned ? g_mime_message_get_message_id(returned) : NULL;
        if (id && *id)
            d->dsn_original_message_id = text_header_sanitize(id);
    }
    if (!d->dsn_original_message_id)
        d->dsn_original_message_id = message_id_from_text(d->text);
    /* a bounce in words only (Exim, qmail, Gmail's own): what the headers and text say */
    if (!d->dsn_recipient)
        d->dsn_recipient = failed_recipient_header(ctx);
    if (!d->dsn_recipient)
        d->dsn_recipient = returned_recipient(ctx, &parts);
    if (!d->dsn_recipient)
        d->dsn_recipient = recipient_from_text(ctx);
    if (!d->dsn_status)
        d->dsn_status = status_from_text(d->text);
}

/* ---- the rules ------------------------------------------------------------------------------
 * Each returns TRUE when it classified the message. */

/* an auto-reply is short, and says what it is in its first lines */
#define AUTO_TEXT_MAX_BYTES 3000
#define AUTO_WORDS_BYTES    500

static gboolean classify_bounce(ParseContext *ctx, const char *rule)
{
    parse_classify(ctx, CLASSIFICATION_BOUNCE, rule);
    fill_dsn(ctx);
    return TRUE;
}

static gboolean classify_auto(ParseContext *ctx, const char *rule)
{
    parse_classify(ctx, CLASSIFICATION_AUTO, rule);
    return TRUE;
}

static gboolean rule_dsn_structure(ParseContext *ctx)
{
    GMimeObject *root = g_mime_message_get_mime_part(ctx->message);
    if (is_report(root, "delivery-status"))
        return classify_bounce(ctx, "multipart/report; report-type=delivery-status");
    DsnParts parts = {0};
    find_dsn_parts(root, 0, &parts);
    if (parts.status)
        return classify_bounce(ctx, "a message/delivery-status part");
    return FALSE;
}

static gboolean rule_ses_notification(ParseContext *ctx)
{
    const char *text = ctx->draft->text;
    if (!text || !strstr(text, "notificationType"))
        return FALSE;
    g_autofree char *type = ses_json_value(text, "notificationType");
    if (!type)
        return FALSE;
    if (strcmp(type, "Bounce") != 0)
        return classify_auto(ctx, "Amazon SES notification (not a bounce)");
    Draft *d = ctx->draft;
    parse_classify(ctx, CLASSIFICATION_BOUNCE, "Amazon SES bounce notification");
    g_autofree char *recipient = ses_json_value(text, "emailAddress");
    d->dsn_recipient = recipient ? address_lower_domain(recipient) : NULL;
    g_autofree char *status = ses_json_value(text, "status");
    d->dsn_status = status ? status_code(status) : NULL;
    g_autofree char *diagnostic = ses_json_value(text, "diagnosticCode");
    d->dsn_diagnostic = diagnostic ? text_one_line(diagnostic, 1000) : NULL;
    return TRUE;
}

/* what makes machine mail a bounce: the returned message, a failed-recipients header, or the
 * words of a failed delivery; NULL when none, else what it was (for the rule) */
static char *bounce_content(ParseContext *ctx, const Keywords *k)
{
    DsnParts parts = {0};
    find_dsn_parts(g_mime_message_get_mime_part(ctx->message), 0, &parts);
    if (parts.message || parts.headers)
        return g_strdup("the returned message");
    if (g_mime_object_get_header(GMIME_OBJECT(ctx->message), "X-Failed-Recipients"))
        return g_strdup("header X-Failed-Recipients");
    const char *words = keywords_find_in_subject(k, "bounce", ctx->draft->subject);
    if (words)
        return g_strdup_printf("bounce subject \"%s\"", words);
    const char *text = ctx->draft->text ? ctx->draft->text : "";
    words = keywords_find(k, "bounce", text, MIN(strlen(text), BOUNCE_TEXT_BYTES));
    return words ? g_strdup_printf("bounce text \"%s\"", words) : NULL;
}

static gboolean rule_mailer_bounce(ParseContext *ctx, const Keywords *k)
{
    if (from_mailer_daemon(ctx)) {
        g_autofree char *why = bounce_content(ctx, k);
        if (!why)
            return FALSE;
        g_autofree char *rule = g_strdup_printf("From MAILER-DAEMON/postmaster with %s", why);
        return classify_bounce(ctx, rule);
    }
    /* a provider's own notice from another address (KDDI's no-reply@): a failure subject
     * with the returned message, and nobody's reply or forward */
    if (ctx->is_reply || ctx->is_forward)
        return FALSE;
    const char *words = keywords_find_in_subject(k, "bounce", ctx->draft->subject);
    DsnParts parts = {0};
    find_dsn_parts(g_mime_message_get_mime_part(ctx->message), 0, &parts);
    if (!words || !(parts.message || parts.headers))
        return FALSE;
    g_autofree char *rule =
        g_strdup_printf("bounce subject \"%s\" with the returned message", words);
    return classify_bounce(ctx, rule);
}

static gboolean rule_reports(ParseContext *ctx)
{
    GMimeObject *root = g_mime_message_get_mime_part(ctx->message);
    if (is_report(root, "feedback-report"))
        return classify_auto(ctx, "abuse report (report-type=feedback-report)");
    if (is_report(root, "disposition-notification"))
        return classify_auto(ctx, "read receipt (report-type=disposition-notification)");
    return FALSE;
}

static gboolean rule_auto_headers(ParseContext *ctx)
{
    GMimeObject *msg = GMIME_OBJECT(ctx->message);
    g_autofree char *auto_submitted = header_token(msg, "Auto-Submitted");
    if (auto_submitted && strcmp(auto_submitted, "no") != 0) {
        g_autofree char *rule = g_strdup_printf("header Auto-Submitted: %s",
                                                *auto_submitted ? auto_submitted : "(empty)");
        return classify_auto(ctx, rule);
    }
    g_autofree char *precedence = header_token(msg, "Precedence");
    if (precedence && (strcmp(precedence, "bulk") == 0 || strcmp(precedence, "junk") == 0 ||
                       strcmp(precedence, "list") == 0)) {
        g_autofree char *rule = g_strdup_printf("header Precedence: %s", precedence);
        return classify_auto(ctx, rule);
    }
    /* responders (X-Autoreply ...), list managers (RFC 2919, RFC 2369; ezmlm and fml write
     * Mailing-List, fml X-ML-Name), and our own letters coming back (notify/letter.c) */
    static const char *const presence[] = {
        "X-Autoreply",  "X-Autorespond", "X-Autogenerated", "List-Id",          "List-Post",
        "Mailing-List", "X-ML-Name",     "X-Mailing-List",  "List-Unsubscribe", "X-PAHT-Loop"};
    /* one pass over the headers (not a look-up per name): the first name of the list that
     * the message has is the rule; a name's first letter rejects most headers at once */
    gsize first = G_N_ELEMENTS(presence);
    GMimeHeaderList *headers = g_mime_object_get_header_list(msg);
    int n = headers ? g_mime_header_list_get_count(headers) : 0;
    for (int h = 0; h < n && first > 0; h++) {
        const char *name = g_mime_header_get_name(g_mime_header_list_get_header_at(headers, h));
        for (gsize i = 0; name && i < first; i++) {
            if (g_ascii_tolower(name[0]) == g_ascii_tolower(presence[i][0]) &&
                g_ascii_strcasecmp(name, presence[i]) == 0)
                first = i;
        }
    }
    if (first < G_N_ELEMENTS(presence)) {
        g_autofree char *rule = g_strdup_printf("header %s", presence[first]);
        return classify_auto(ctx, rule);
    }
    const Draft *d = ctx->draft;
    if (ctx->our_address && *ctx->our_address && d->from_address &&
        g_ascii_strcasecmp(d->from_address, ctx->our_address) == 0)
        return classify_auto(ctx, "From is our own address");
    return FALSE;
}

/* Out-of-office replies without any header saying so (Outlook's "Automatic reply", Gmail's
 * vacation responder through some gateways): by the subject's prefix, or by the first words
 * of a text as short as an auto-reply. A citizen's report is longer, and writes "tôi vắng
 * nhà", not "tôi hiện không có mặt tại cơ quan". */
static gboolean rule_auto_words(ParseContext *ctx, const Keywords *k)
{
    const Draft *d = ctx->draft;
    const char *phrase = keywords_subject_prefix(k, "auto", d->subject);
    if (phrase) {
        g_autofree char *rule = g_strdup_printf("auto-reply subject \"%s\"", phrase);
        return classify_auto(ctx, rule);
    }
    const char *text = d->text ? d->text : "";
    gsize len = strlen(text);
    if (len == 0 || len > AUTO_TEXT_MAX_BYTES)
        return FALSE;
    phrase = keywords_find(k, "auto", text, MIN(len, AUTO_WORDS_BYTES));
    if (!phrase)
        return FALSE;
    g_autofree char *rule = g_strdup_printf("auto-reply text \"%s\"", phrase);
    return classify_auto(ctx, rule);
}

static gboolean rule_machine_mail(ParseContext *ctx, const Keywords *k)
{
    const Draft *d = ctx->draft;
    if (from_mailer_daemon(ctx))
        return classify_auto(ctx, "From MAILER-DAEMON/postmaster, not a delivery report");
    if (!d->return_path || *d->return_path)
        return FALSE;
    g_autofree char *why = bounce_content(ctx, k);
    if (why) {
        g_autofree char *rule = g_strdup_printf("empty Return-Path <> with %s", why);
        return classify_bounce(ctx, rule);
    }
    return classify_auto(ctx, "empty Return-Path <>");
}

/* ---- the step ------------------------------------------------------------------------------- */

gboolean parse_step_classify_headers(ParseContext *ctx, GError **error)
{
    Keywords *k = keywords_for(ctx, error);
    if (!k)
        return FALSE;
    if (!rule_dsn_structure(ctx) && !rule_ses_notification(ctx) && !rule_mailer_bounce(ctx, k) &&
        !rule_reports(ctx) && !rule_auto_headers(ctx) && !rule_auto_words(ctx, k))
        rule_machine_mail(ctx, k);
    keywords_release(k);
    return TRUE;
}

/* no-reply@, gmail-noreply@, do_not_reply@: a robot's address */
static gboolean from_noreply(const Draft *d)
{
    if (!d->from_address)
        return FALSE;
    const char *at = strchr(d->from_address, '@');
    g_autofree char *local =
        squeezed(d->from_address, at ? (gsize)(at - d->from_address) : strlen(d->from_address));
    return strstr(local, "noreply") || strstr(local, "donotreply");
}

gboolean parse_sender_is_mailer(ParseContext *ctx)
{
    const Draft *d = ctx->draft;
    return from_mailer_daemon(ctx) || from_noreply(d) || (d->return_path && !*d->return_path);
}
