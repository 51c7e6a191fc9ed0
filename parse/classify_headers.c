/* parse, step "classify headers": mail nobody should answer (SPEC §3.5).
 *
 *   bounce  a delivery status notification (RFC 3464): multipart/report with
 *           report-type=delivery-status, or a delivery-status part from MAILER-DAEMON or
 *           postmaster;
 *   auto    Auto-Submitted other than "no" (RFC 3834), Precedence bulk/junk/list, X-Autoreply,
 *           X-Autorespond, List-Id (RFC 2919), a read receipt (RFC 8098), or our own address;
 *   bounce  other mail from MAILER-DAEMON / postmaster, or with an empty Return-Path (<>).
 *
 * The order differs from the SPEC's list on purpose: Postfix and most MTAs put
 * "Auto-Submitted: auto-replied" on their DSNs, so checking auto first would never see a
 * bounce; and vacation responders send with an empty envelope sender (RFC 3834 §3.3), so the
 * weak bounce evidence (<>, MAILER-DAEMON without a DSN) comes after the auto rules.
 * X-Auto-Response-Suppress is not used: it only asks *us* not to answer automatically, which
 * the notify module honours; it says nothing about whether the mail itself is automatic.
 *
 * For a bounce the DSN fields are filled: status, recipient and diagnostic from the
 * message/delivery-status part, the Message-ID of our returned letter from its
 * text/rfc822-headers or message/rfc822 part. */
#include "parse/parse_private.h"

#include <string.h>

#include "util/util.h"

#define MAX_DSN_BYTES (256 * 1024)

/* ---- helpers ------------------------------------------------------------------------------ */

static gboolean from_mailer_daemon(const Draft *d)
{
    if (!d->from_address)
        return FALSE;
    const char *at = strchr(d->from_address, '@');
    gsize local = at ? (gsize)(at - d->from_address) : strlen(d->from_address);
    return (local == 13 && g_ascii_strncasecmp(d->from_address, "mailer-daemon", 13) == 0) ||
           (local == 10 && g_ascii_strncasecmp(d->from_address, "postmaster", 10) == 0);
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
    /* a header block is a message without body: let GMime read it */
    g_autofree char *block = g_strconcat(text, "\n\n", NULL);
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(block, strlen(block));
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *message = g_mime_parser_construct_message(parser, ctx->gmime_options);
    char *id = NULL;
    if (message) {
        const char *value = g_mime_message_get_message_id(message);
        if (value && *value)
            id = text_header_sanitize(value);
        g_object_unref(message);
    }
    g_object_unref(parser);
    g_object_unref(stream);
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
}

/* ---- the step ------------------------------------------------------------------------------- */

gboolean parse_step_classify_headers(ParseContext *ctx, GError **error)
{
    Draft *d = ctx->draft;
    GMimeObject *msg = GMIME_OBJECT(ctx->message);
    GMimeObject *root = g_mime_message_get_mime_part(ctx->message);

    /* 1. delivery status notifications, by their structure */
    if (is_report(root, "delivery-status")) {
        parse_classify(ctx, "bounce", "multipart/report; report-type=delivery-status");
        fill_dsn(ctx);
        return TRUE;
    }
    if (from_mailer_daemon(d)) {
        DsnParts parts = {0};
        find_dsn_parts(root, 0, &parts);
        if (parts.status) {
            parse_classify(ctx, "bounce", "From MAILER-DAEMON/postmaster with a delivery-status");
            fill_dsn(ctx);
            return TRUE;
        }
    }

    /* 2. automatic mail, by its headers */
    g_autofree char *auto_submitted = header_token(msg, "Auto-Submitted");
    if (auto_submitted && strcmp(auto_submitted, "no") != 0) {
        g_autofree char *rule = g_strdup_printf("header Auto-Submitted: %s",
                                                *auto_submitted ? auto_submitted : "(empty)");
        parse_classify(ctx, "auto", rule);
        return TRUE;
    }
    g_autofree char *precedence = header_token(msg, "Precedence");
    if (precedence && (strcmp(precedence, "bulk") == 0 || strcmp(precedence, "junk") == 0 ||
                       strcmp(precedence, "list") == 0)) {
        g_autofree char *rule = g_strdup_printf("header Precedence: %s", precedence);
        parse_classify(ctx, "auto", rule);
        return TRUE;
    }
    static const char *const presence[] = {"X-Autoreply", "X-Autorespond", "List-Id"};
    for (gsize i = 0; i < G_N_ELEMENTS(presence); i++) {
        if (g_mime_object_get_header(msg, presence[i])) {
            g_autofree char *rule = g_strdup_printf("header %s", presence[i]);
            parse_classify(ctx, "auto", rule);
            return TRUE;
        }
    }
    if (is_report(root, "disposition-notification")) {
        parse_classify(ctx, "auto", "read receipt (report-type=disposition-notification)");
        return TRUE;
    }
    if (ctx->our_address && *ctx->our_address && d->from_address &&
        g_ascii_strcasecmp(d->from_address, ctx->our_address) == 0) {
        parse_classify(ctx, "auto", "From is our own address");
        return TRUE;
    }

    /* 3. bounces without a DSN */
    if (from_mailer_daemon(d)) {
        parse_classify(ctx, "bounce", "From MAILER-DAEMON/postmaster");
        fill_dsn(ctx);
        return TRUE;
    }
    if (d->return_path && !*d->return_path) {
        parse_classify(ctx, "bounce", "empty Return-Path <>");
        fill_dsn(ctx);
        return TRUE;
    }
    return TRUE;
}

gboolean parse_sender_is_mailer(const Draft *d)
{
    return from_mailer_daemon(d) || (d->return_path && !*d->return_path);
}
