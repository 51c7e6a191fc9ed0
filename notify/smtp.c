/* notify/smtp.c: sending letters with libcurl, one recipient per SMTP transaction.
 *
 * One easy handle lives as long as the sender, so curl keeps the connection (one TLS
 * handshake, one EHLO, one AUTH) across letters. What the server said last is captured from
 * curl's protocol trace, because that line (e.g. "550 5.1.1 ... Recipient address rejected")
 * is what the operator needs to see; curl's own error text only says "send failed".
 */
#include "notify/notify_private.h"
#include "util/util.h"

#include <curl/curl.h>
#include <string.h>

#define SMTP_DEFAULT_TIMEOUT 60

struct SmtpSender {
    CURL *curl;
    char *url;
    char *host;
    int connections;

    /* the transfer in progress */
    const guint8 *data;
    gsize length, position;
    GString *line;     /* a reply line still being received */
    char *last_reply;  /* the last complete reply line */
    gboolean quitting; /* curl sent QUIT: what follows is not about our letter */
    SmtpStage stage;   /* the last command curl sent for this letter */
    SmtpGate gate;     /* asked before the letter ends; NULL once asked */
    gpointer gate_data;
    gboolean abandoned; /* the gate said no: the letter was never ended */
    char curl_error[CURL_ERROR_SIZE];
};

static gpointer curl_init_once(gpointer unused)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return NULL;
}

static size_t read_message(char *buffer, size_t size, size_t nitems, void *user_data)
{
    SmtpSender *sender = user_data;
    gsize room = size * nitems;
    gsize left = sender->length - sender->position;
    gsize n = MIN(room, left);
    if (sender->gate && sender->position + n == sender->length) {
        /* curl ends the letter once it has its last byte (it knows the size, and asks no more):
         * the last moment to hold the letter back */
        SmtpGate gate = sender->gate;
        sender->gate = NULL;
        if (!gate(sender->gate_data)) {
            sender->abandoned = TRUE;
            return CURL_READFUNC_ABORT; /* curl closes the connection in mid-DATA */
        }
    }
    memcpy(buffer, sender->data + sender->position, n);
    sender->position += n;
    return n;
}

/* curl's protocol trace: CURLINFO_HEADER_IN carries the server's reply lines. Commands we
 * send (HEADER_OUT) are only looked at for QUIT; AUTH lines carry the password and are
 * never kept. */
static gboolean command_is(const char *data, size_t size, const char *verb)
{
    size_t n = strlen(verb);
    return size >= n && g_ascii_strncasecmp(data, verb, n) == 0;
}

static int trace(CURL *handle, curl_infotype type, char *data, size_t size, void *user_data)
{
    SmtpSender *sender = user_data;
    if (type == CURLINFO_HEADER_OUT) {
        if (command_is(data, size, "QUIT"))
            sender->quitting = TRUE;
        else if (command_is(data, size, "MAIL FROM:"))
            sender->stage = SMTP_STAGE_MAIL;
        else if (command_is(data, size, "RCPT TO:"))
            sender->stage = SMTP_STAGE_RCPT;
        else if (command_is(data, size, "DATA") &&
                 (size == 4 || data[4] == '\r' || data[4] == '\n'))
            sender->stage = SMTP_STAGE_DATA;
    }
    if (type != CURLINFO_HEADER_IN || sender->quitting)
        return 0;
    for (size_t i = 0; i < size; i++) {
        char c = data[i];
        if (c == '\n') {
            if (sender->line->len > 0) {
                g_free(sender->last_reply);
                sender->last_reply = text_header_sanitize(sender->line->str);
            }
            g_string_truncate(sender->line, 0);
        } else if (c != '\r' && sender->line->len < 1000) {
            g_string_append_c(sender->line, c);
        }
    }
    return 0;
}

static char *build_url(const SmtpOptions *opts)
{
    /* an IPv6 literal needs brackets in a URL */
    gboolean ipv6 = strchr(opts->host, ':') != NULL;
    return g_strdup_printf("%s://%s%s%s:%d", opts->implicit_tls ? "smtps" : "smtp", ipv6 ? "[" : "",
                           opts->host, ipv6 ? "]" : "",
                           opts->port > 0 ? opts->port : (opts->implicit_tls ? 465 : 587));
}

SmtpSender *smtp_sender_new(const SmtpOptions *opts)
{
    g_return_val_if_fail(opts != NULL && opts->host != NULL, NULL);
    static GOnce once = G_ONCE_INIT;
    g_once(&once, curl_init_once, NULL);

    SmtpSender *sender = g_new0(SmtpSender, 1);
    sender->curl = curl_easy_init();
    if (!sender->curl)
        g_error("curl_easy_init failed"); /* only on out-of-memory, which aborts anyway */
    sender->url = build_url(opts);
    sender->host = g_strdup(opts->host);
    sender->line = g_string_new(NULL);
    long timeout = opts->timeout_seconds > 0 ? opts->timeout_seconds : SMTP_DEFAULT_TIMEOUT;

    CURL *curl = sender->curl;
    curl_easy_setopt(curl, CURLOPT_URL, sender->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, sender->curl_error);
    /* STARTTLS or nothing: CURLUSESSL_TRY would go on in plaintext (libraries.md) */
    if (!opts->implicit_tls)
        curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (opts->ca_file && *opts->ca_file) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, opts->ca_file);
        /* only that file: the built-in CA folder would be read as well (0.1 s a connection) */
        curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
    }
    if (!opts->tls_verify) {
        log_warning("smtp: TLS certificate verification is OFF for %s (tls_verify = false): "
                    "anyone on the path can read and change the mail",
                    opts->host);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    if (opts->user && *opts->user) {
        curl_easy_setopt(curl, CURLOPT_USERNAME, opts->user);
        /* curl keeps its own copy; we keep none */
        curl_easy_setopt(curl, CURLOPT_PASSWORD, opts->password ? opts->password : "");
    }
    /* timeouts bound each wait, not the whole letter: a 50 MB letter may take a while */
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, timeout);
    curl_easy_setopt(curl, CURLOPT_SERVER_RESPONSE_TIMEOUT, timeout);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, timeout);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L); /* without it curl sends VRFY */
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_message);
    curl_easy_setopt(curl, CURLOPT_READDATA, sender);
    curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, trace);
    curl_easy_setopt(curl, CURLOPT_DEBUGDATA, sender);
    curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L); /* the trace only runs in verbose mode */
    return sender;
}

SmtpStage smtp_sender_last_stage(const SmtpSender *sender)
{
    return sender ? sender->stage : SMTP_STAGE_SESSION;
}

int smtp_sender_connections(const SmtpSender *sender)
{
    return sender ? sender->connections : 0;
}

void smtp_sender_free(SmtpSender *sender)
{
    if (!sender)
        return;
    curl_easy_cleanup(sender->curl); /* sends QUIT on a connection still open */
    g_free(sender->url);
    g_free(sender->host);
    g_string_free(sender->line, TRUE);
    g_free(sender->last_reply);
    g_free(sender);
}

static gboolean curl_code_is_config(CURLcode code)
{
    switch (code) {
    case CURLE_LOGIN_DENIED:
    case CURLE_USE_SSL_FAILED:
    case CURLE_PEER_FAILED_VERIFICATION: /* also CURLE_SSL_CACERT */
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_AUTH_ERROR:
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return TRUE;
    default:
        return FALSE;
    }
}

/* RFC 4954: 530 authentication required, 534 mechanism too weak, 535 credentials invalid,
 * 538 encryption required: our configuration, not the letter, is at fault */
static gboolean reply_code_is_config(long code)
{
    return code == 530 || code == 534 || code == 535 || code == 538;
}

/* A refusal of us rather than of the letter, whatever the stage: RFC 3463 X.1.7 and X.1.8
 * (bad sender address or system), and Postfix's words for a sender the login may not use
 * (reject_sender_login_mismatch, reported at RCPT TO by default) or for relaying without
 * authentication. Failing letters for these would fail, and suspend, every address. */
static gboolean reply_refuses_us(const char *reply)
{
    if (!reply)
        return FALSE;
    static const char *const words[] = {"sender address rejected", "relay access denied"};
    g_autofree char *lower = g_ascii_strdown(reply, -1);
    for (gsize i = 0; i < G_N_ELEMENTS(words); i++) {
        if (strstr(lower, words[i]))
            return TRUE;
    }
    /* "553 5.1.7 ..." / "550 5.1.8 ...": the enhanced code follows the reply code */
    return strlen(lower) >= 9 && lower[3] == ' ' && lower[5] == '.' &&
           g_str_has_prefix(lower + 6, "1.") && (lower[8] == '7' || lower[8] == '8') &&
           (lower[9] == ' ' || lower[9] == '\0');
}

PahtErrorCode smtp_failure_kind(int curl_code, long response, SmtpStage stage, const char *reply)
{
    if (curl_code_is_config((CURLcode)curl_code) || reply_code_is_config(response))
        return PAHT_ERROR_CONFIG;
    if (response >= 500 && response <= 599) {
        /* refused before any recipient was named (greeting, EHLO, MAIL FROM): the server
         * refuses us, not this letter, and would refuse every letter the same way. Failing
         * them all, and suspending every citizen's address, would be the wrong answer: hold
         * and tell the administrator. 552 to MAIL FROM is the message size (RFC 1870). */
        if ((stage == SMTP_STAGE_SESSION || stage == SMTP_STAGE_MAIL) && response != 552)
            return PAHT_ERROR_CONFIG;
        if (reply_refuses_us(reply))
            return PAHT_ERROR_CONFIG;
        return PAHT_ERROR_PERMANENT;
    }
    return PAHT_ERROR_TEMPORARY; /* 4xx, refused, reset, timeout: try again later */
}

gboolean smtp_sender_send(SmtpSender *sender, const char *mail_from, const char *rcpt,
                          GBytes *message, char **reply, GError **error)
{
    return smtp_sender_send_gated(sender, mail_from, rcpt, message, NULL, NULL, reply, error);
}

gboolean smtp_sender_send_gated(SmtpSender *sender, const char *mail_from, const char *rcpt,
                                GBytes *message, SmtpGate gate, gpointer gate_data, char **reply,
                                GError **error)
{
    g_return_val_if_fail(sender != NULL && message != NULL, FALSE);
    if (reply)
        *reply = NULL;
    /* the envelope goes into SMTP command lines: a CR LF there would be a new command */
    if (!notify_address_is_plain(rcpt)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_PERMANENT,
                    "recipient is not a plain e-mail address");
        return FALSE;
    }
    if (mail_from && *mail_from && !notify_address_is_plain(mail_from)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "envelope sender \"%s\" is not a plain e-mail address", mail_from);
        return FALSE;
    }

    g_autofree char *from = g_strdup_printf("<%s>", mail_from ? mail_from : "");
    g_autofree char *to = g_strdup_printf("<%s>", rcpt);
    struct curl_slist *rcpts = curl_slist_append(NULL, to);
    sender->data = g_bytes_get_data(message, &sender->length);
    sender->position = 0;
    sender->quitting = FALSE;
    sender->stage = SMTP_STAGE_SESSION;
    sender->gate = gate;
    sender->gate_data = gate_data;
    sender->abandoned = FALSE;
    sender->curl_error[0] = '\0';
    g_string_truncate(sender->line, 0);
    g_clear_pointer(&sender->last_reply, g_free);

    CURL *curl = sender->curl;
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)sender->length);
    CURLcode code = curl_easy_perform(curl);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, NULL);
    curl_slist_free_all(rcpts);
    sender->data = NULL;
    sender->gate = NULL;

    long connects = 0, response = 0;
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response);
    sender->connections += (int)connects;
    if (reply && sender->last_reply)
        *reply = g_strdup(sender->last_reply);

    g_autofree char *who = log_redact_address(rcpt);
    if (code == CURLE_OK) {
        log_debug("smtp: letter to %s accepted by %s (%ld)", who, sender->host, response);
        return TRUE;
    }

    if (sender->abandoned) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY,
                    "SMTP %s: the letter was abandoned before its end", sender->host);
        return FALSE;
    }
    const char *detail = sender->curl_error[0] ? sender->curl_error : curl_easy_strerror(code);
    PahtErrorCode kind = smtp_failure_kind((int)code, response, sender->stage, sender->last_reply);
    log_debug("smtp: letter to %s not sent via %s: curl %d, reply code %ld, stage %d", who,
              sender->host, (int)code, response, (int)sender->stage);
    if (response > 0)
        g_set_error(error, PAHT_ERROR, kind, "SMTP %s: server replied %ld (%s)", sender->host,
                    response, detail);
    else
        g_set_error(error, PAHT_ERROR, kind, "SMTP %s: %s", sender->host, detail);
    return FALSE;
}
