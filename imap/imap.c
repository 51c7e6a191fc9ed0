/* imap: the IMAP client of paht-mail (libetpan for the protocol, GnuTLS for trust; the TLS
 * stream under libetpan's session is tls.c's).
 *
 * Every libetpan call but the stream's own is made in this file, and its result is translated into
 * the project's error set right where it is made (SPEC §3 steps 1 and 7, §8):
 *   - the network failed (connection lost, timeout, TLS, unparsable reply): TEMPORARY, and the
 *     session is marked broken, since libetpan cannot resynchronise a half-read response;
 *   - the server refused (NO/BAD): CONFIG for what the administrator must fix (login, folders),
 *     PERMANENT for what concerns one message; a refusal the server itself calls temporary
 *     (RFC 5530 UNAVAILABLE, INUSE, SERVERBUG) stays TEMPORARY.
 *
 * libetpan never checks the server certificate, so we do, with GnuTLS, before LOGIN.
 */
#include "imap/imap.h"
#include "imap/tls.h"

#include "util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <libetpan/libetpan.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

/* a command line longer than this is cut in the protocol log (UID sets can be long) */
#define PROTOCOL_LOG_MAX_LINE 4096
/* more certificates than this in one chain is not a real server */
#define MAX_CHAIN_LENGTH 16
/* how long IDLE may wait for the server's "+ idling" before the session counts as lost: libetpan
 * 1.9.4 reads on for a tagged reply that never comes when an untagged line precedes the
 * continuation (upstream issue #393) */
#define IDLE_START_TIMEOUT 15
/* the longest single wait in IDLE: RFC 2177 asks clients to re-issue it before 29 minutes */
#define IDLE_MAX_SECONDS (25 * 60)

struct ImapClient {
    mailimap *imap;
    char *host;      /* ASCII form (IDNA) of the configured host: connect, SNI, verification */
    char *user;      /* for messages: the gateway's own mailbox, not a citizen's address */
    gboolean broken; /* a TEMPORARY error happened: the session state is unknown */
    gboolean server_failed; /* the last command failed at the server: refused, or the
                               connection failed on it (imap_client_server_failed) */
    gboolean have_delimiter;
    char delimiter;       /* the server's hierarchy separator; 0 = flat namespace */
    char *selected;       /* server name of the selected mailbox, or NULL */
    int log_fd;           /* protocol log, or -1 */
    GString *log_line;    /* the command line being assembled from what libetpan sends */
    gboolean log_private; /* part of log_line was sent as private data (credentials) */
    /* a UID FETCH of bodies sent, its response not yet read (imap_client_fetch_bodies_send) */
    gboolean bodies_sent;
    guint bodies_n;
    gint64 bodies_limit;
};

/* ---- protocol log --------------------------------------------------------------------------
 * libetpan reports every buffer it writes to the socket; a command may arrive in pieces (the
 * write buffer flushes when full) or several at once, so lines are assembled here and written
 * one per command. Credentials are never written: libetpan marks LOGIN as private data, and
 * we redact LOGIN and AUTHENTICATE by name as well (isync does the same in its debug log). */

static void protocol_log_emit(ImapClient *c)
{
    GString *line = c->log_line;
    if (line->len > 0 && line->str[line->len - 1] == '\r')
        g_string_truncate(line, line->len - 1);

    g_autofree char *out = NULL;
    const char *space = memchr(line->str, ' ', line->len);
    if (space) {
        const char *command = space + 1;
        const char *end = strchr(command, ' ');
        gsize command_len = end ? (gsize)(end - command) : strlen(command);
        if ((command_len == 5 && g_ascii_strncasecmp(command, "LOGIN", 5) == 0) ||
            (command_len == 12 && g_ascii_strncasecmp(command, "AUTHENTICATE", 12) == 0))
            out = g_strdup_printf("%.*s <redacted>\n", (int)(command + command_len - line->str),
                                  line->str);
    }
    /* any other private line is the rest of a credential exchange (a SASL response, a
     * literal): it is not a command and must not be logged */
    if (!out && !c->log_private && line->len > 0)
        out = g_strdup_printf("%s\n", line->str);

    if (out) {
        gsize len = strlen(out);
        gsize done = 0;
        while (done < len) {
            ssize_t n = write(c->log_fd, out + done, len - done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                log_warning("imap: cannot write the protocol log: %s", g_strerror(errno));
                close(c->log_fd);
                c->log_fd = -1;
                break;
            }
            done += (gsize)n;
        }
    }
    g_string_truncate(line, 0);
    c->log_private = FALSE;
}

static void protocol_log_data(mailimap *session, int log_type, const char *data, size_t size,
                              void *context)
{
    ImapClient *c = context;
    /* only what we send: received data may be mail content (SPEC §8, privacy) */
    if (c->log_fd < 0 || (log_type != MAILSTREAM_LOG_TYPE_DATA_SENT &&
                          log_type != MAILSTREAM_LOG_TYPE_DATA_SENT_PRIVATE))
        return;
    gboolean private_data = log_type == MAILSTREAM_LOG_TYPE_DATA_SENT_PRIVATE;
    for (size_t i = 0; i < size && c->log_fd >= 0; i++) {
        if (data[i] == '\n') {
            protocol_log_emit(c);
            continue;
        }
        if (private_data)
            c->log_private = TRUE;
        if (c->log_line->len < PROTOCOL_LOG_MAX_LINE)
            g_string_append_c(c->log_line, data[i]);
    }
}

/* ---- errors --------------------------------------------------------------------------------- */

/* libetpan results that mean the connection itself failed, not that the server said no */
static gboolean is_connection_failure(int r)
{
    switch (r) {
    case MAILIMAP_ERROR_STREAM:
    case MAILIMAP_ERROR_PARSE:
    case MAILIMAP_ERROR_CONNECTION_REFUSED:
    case MAILIMAP_ERROR_MEMORY:
    case MAILIMAP_ERROR_FATAL:
    case MAILIMAP_ERROR_PROTOCOL:
    case MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION:
    case MAILIMAP_ERROR_SSL:
    case MAILIMAP_ERROR_NEEDS_MORE_DATA:
    case MAILIMAP_ERROR_BAD_STATE:
        return TRUE;
    default:
        return FALSE;
    }
}

static const char *connection_failure_text(int r)
{
    switch (r) {
    case MAILIMAP_ERROR_CONNECTION_REFUSED:
        return "cannot connect (refused, unreachable or timed out)";
    case MAILIMAP_ERROR_SSL:
        return "TLS handshake failed";
    case MAILIMAP_ERROR_PARSE:
        return "unparsable server response";
    case MAILIMAP_ERROR_BAD_STATE:
        return "session not in the right state for this command";
    case MAILIMAP_ERROR_MEMORY:
        return "out of memory or output failed";
    default:
        return "connection lost or timed out";
    }
}

/* the response code atom of the last response (RFC 5530), e.g. "UNAVAILABLE"; may be NULL */
static const char *response_code(ImapClient *c)
{
    if (!c->imap || !c->imap->imap_response_info)
        return NULL;
    return c->imap->imap_response_info->rsp_atom;
}

static gboolean response_code_is(ImapClient *c, const char *code)
{
    const char *atom = response_code(c);
    return atom && g_ascii_strcasecmp(atom, code) == 0;
}

/* what the server said (raw), safe for one log line */
static char *said_text(const char *raw)
{
    g_autofree char *valid = g_utf8_make_valid(raw, -1);
    g_autofree char *clean = text_header_sanitize(valid);
    if (!*clean)
        return g_strdup("(no text)");
    if (g_utf8_strlen(clean, -1) > 200) {
        g_autofree char *cut = g_utf8_substring(clean, 0, 200);
        return g_strdup_printf("%s...", cut);
    }
    return g_steal_pointer(&clean);
}

/* the server's words on the last response, safe for one log line */
static char *server_text(ImapClient *c)
{
    const char *atom = response_code(c);
    const char *text = c->imap ? c->imap->imap_response : NULL;
    g_autofree char *raw = g_strdup_printf("%s%s%s%s", atom ? "[" : "", atom ? atom : "",
                                           atom ? "] " : "", text ? text : "");
    return said_text(raw);
}

/* The server's words when it ended the session itself, or NULL: the text of a "* BYE" line
 * (RFC 3501 §7.1.5) that was the last line libetpan read before the connection failed. A
 * restarting or stopping server (Dovecot: "Server shutting down."), an administrator's kick,
 * a server that will not take the connection (a BYE greeting) all say why this way, and
 * libetpan reports each only as a failed read (an untagged BYE is not kept in its
 * response_info). Only the last complete line counts: one in the middle of what was read is
 * part of a response, and may be part of a message. */
static char *bye_text(ImapClient *c)
{
    const MMAPString *buffer = c->imap ? c->imap->imap_stream_buffer : NULL;
    if (!buffer || buffer->len < 2 || buffer->str[buffer->len - 1] != '\n')
        return NULL;
    gsize end = buffer->len - 1;
    if (end > 0 && buffer->str[end - 1] == '\r')
        end--;
    gsize start = end;
    while (start > 0 && buffer->str[start - 1] != '\n')
        start--;
    const char *line = buffer->str + start;
    gsize len = end - start;
    if (len < 5 || g_ascii_strncasecmp(line, "* BYE", 5) != 0 || (len > 5 && line[5] != ' '))
        return NULL;
    g_autofree char *text = g_strndup(line + 5, len - 5);
    return said_text(g_strstrip(text));
}

/* Sets *error for libetpan result r of the command described by the format. A refusal
 * becomes refused_code unless the server said it is temporary. */
static void G_GNUC_PRINTF(5, 6) set_command_error(ImapClient *c, int r, PahtErrorCode refused_code,
                                                  GError **error, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *what = g_strdup_vprintf(format, ap);
    va_end(ap);

    c->server_failed = TRUE;
    if (is_connection_failure(r)) {
        c->broken = TRUE;
        g_autofree char *bye = bye_text(c);
        if (bye)
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY,
                        "%s on %s: the server closed the connection: %s", what, c->host, bye);
        else
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "%s on %s: %s", what, c->host,
                        connection_failure_text(r));
        return;
    }
    g_autofree char *text = server_text(c);
    PahtErrorCode code = refused_code;
    if (response_code_is(c, "UNAVAILABLE") || response_code_is(c, "INUSE") ||
        response_code_is(c, "SERVERBUG")) {
        code = PAHT_ERROR_TEMPORARY;
        c->broken = TRUE;
    }
    g_set_error(error, PAHT_ERROR, code, "%s on %s refused by the server: %s", what, c->host, text);
}

static gboolean check_usable(ImapClient *c, GError **error)
{
    if (c->bodies_sent) {
        /* a defect of ours: the FETCH's answer would be read as this command's */
        c->broken = TRUE;
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY,
                    "IMAP session with %s: a command was sent before the answer to UID FETCH "
                    "was read; reconnect",
                    c->host);
        return FALSE;
    }
    if (c->broken || !c->imap || !c->imap->imap_stream) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY,
                    "IMAP session with %s already failed; reconnect", c->host);
        return FALSE;
    }
    c->server_failed = FALSE; /* a new command */
    return TRUE;
}

/* TRUE if s has no control character: libetpan sends strings as quoted strings and never as
 * literals, so a CR or LF would end the command early (command injection) */
static gboolean is_safe_protocol_string(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return FALSE;
    }
    return TRUE;
}

/* ---- certificate verification ----------------------------------------------------------- */

/* TLS on fd (tls.c), or FALSE and error (fd closed): a failure of the connection's */
static mailstream_low *tls_begin(ImapClient *c, int fd, int timeout, const char *what,
                                 GError **error)
{
    GError *local = NULL;
    /* RFC 6066 §3: SNI carries host names only, never an address literal */
    mailstream_low *low =
        imap_tls_open(fd, g_hostname_is_ip_address(c->host) ? NULL : c->host, timeout, &local);
    if (!low) {
        close(fd);
        c->server_failed = TRUE;
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "%s on %s: %s", what, c->host,
                    local->message);
        g_error_free(local);
    }
    return low;
}

/* Checks the chain the server sent against the system trust store (or ca_file) and our
 * host name, before any credential crosses the connection. */
static gboolean verify_server_certificate(ImapClient *c, const ImapOptions *opts, GError **error)
{
    if (!opts->tls_verify) {
        /* SPEC §8: turning verification off is explicit and always visible */
        log_warning("imap: the TLS certificate of %s is NOT verified (tls_verify is off)", c->host);
        return TRUE;
    }

    gboolean ok = FALSE;
    gnutls_x509_crt_t certs[MAX_CHAIN_LENGTH];
    unsigned n_certs = 0;
    gnutls_x509_trust_list_t trust = NULL;
    carray *chain = mailstream_get_certificate_chain(c->imap->imap_stream);

    if (!chain || carray_count(chain) == 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "IMAP server %s sent no certificate; refusing to log in", c->host);
        goto out;
    }
    for (unsigned i = 0; i < carray_count(chain) && n_certs < MAX_CHAIN_LENGTH; i++) {
        MMAPString *der = carray_get(chain, i);
        gnutls_datum_t datum = {(unsigned char *)der->str, (unsigned int)der->len};
        if (gnutls_x509_crt_init(&certs[n_certs]) < 0) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "GnuTLS: out of memory");
            goto out;
        }
        n_certs++;
        if (gnutls_x509_crt_import(certs[n_certs - 1], &datum, GNUTLS_X509_FMT_DER) < 0) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "IMAP server %s sent an unreadable certificate; refusing to log in",
                        c->host);
            goto out;
        }
    }

    if (gnutls_x509_trust_list_init(&trust, 0) < 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "GnuTLS: out of memory");
        goto out;
    }
    if (opts->ca_file) {
        int added = gnutls_x509_trust_list_add_trust_file(trust, opts->ca_file, NULL,
                                                          GNUTLS_X509_FMT_PEM, 0, 0);
        if (added <= 0) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "cannot load CA certificates from %s: %s", opts->ca_file,
                        added < 0 ? gnutls_strerror(added) : "no certificate in the file");
            goto out;
        }
    } else {
        int added = gnutls_x509_trust_list_add_system_trust(trust, 0, 0);
        if (added <= 0) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "cannot load the system trust store%s%s; set ca_file",
                        added < 0 ? ": " : " (it is empty)",
                        added < 0 ? gnutls_strerror(added) : "");
            goto out;
        }
    }

    /* An address literal must match an IP SAN (RFC 6125 §1.7.2), compared as bytes; a name
     * is matched with the RFC 6125 rules. The certificate must also be fit for a TLS server. */
    unsigned char address[16];
    gnutls_typed_vdata_st vdata[2] = {
        {GNUTLS_DT_DNS_HOSTNAME, (unsigned char *)c->host, 0},
        {GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER, 0},
    };
    if (inet_pton(AF_INET, c->host, address) == 1) {
        vdata[0] = (gnutls_typed_vdata_st){GNUTLS_DT_IP_ADDRESS, address, 4};
    } else if (inet_pton(AF_INET6, c->host, address) == 1) {
        vdata[0] = (gnutls_typed_vdata_st){GNUTLS_DT_IP_ADDRESS, address, 16};
    }
    unsigned status = 0;
    int r = gnutls_x509_trust_list_verify_crt2(trust, certs, n_certs, vdata, G_N_ELEMENTS(vdata), 0,
                                               &status, NULL);
    if (r < 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "TLS certificate of IMAP server %s could not be verified: %s", c->host,
                    gnutls_strerror(r));
        goto out;
    }
    if (status != 0) {
        gnutls_datum_t why = {NULL, 0};
        g_autofree char *reason = NULL;
        if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why, 0) >= 0 &&
            why.data)
            reason = g_strstrip(g_strdup((const char *)why.data));
        /* e.g. "The certificate is NOT trusted. The certificate issuer is unknown." */
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "TLS certificate of IMAP server %s rejected: %s", c->host,
                    reason ? reason : "verification failed");
        gnutls_free(why.data);
        goto out;
    }
    ok = TRUE;

out:
    if (trust)
        gnutls_x509_trust_list_deinit(trust, 1);
    for (unsigned i = 0; i < n_certs; i++)
        gnutls_x509_crt_deinit(certs[i]);
    if (chain)
        mailstream_certificate_chain_free(chain);
    return ok;
}

/* ---- connect ------------------------------------------------------------------------------ */

/* RFC 3501 §6.2.1: after STARTTLS the client must discard what it knew of the capabilities.
 * libetpan keeps the old list, so it is replaced with an empty one; the next response that
 * carries capabilities fills it again. */
static void forget_capabilities(ImapClient *c)
{
    struct mailimap_connection_info *info = c->imap->imap_connection_info;
    if (!info)
        return;
    clist *empty = clist_new();
    struct mailimap_capability_data *fresh = empty ? mailimap_capability_data_new(empty) : NULL;
    if (!fresh) {
        if (empty)
            clist_free(empty);
        return;
    }
    if (info->imap_capability)
        mailimap_capability_data_free(info->imap_capability);
    info->imap_capability = fresh;
}

static gboolean capabilities_known(ImapClient *c)
{
    struct mailimap_connection_info *info = c->imap->imap_connection_info;
    return info && info->imap_capability && info->imap_capability->cap_list &&
           clist_count(info->imap_capability->cap_list) > 0;
}

static gboolean ask_capabilities(ImapClient *c, GError **error)
{
    struct mailimap_capability_data *caps = NULL;
    int r = mailimap_capability(c->imap, &caps);
    if (r != MAILIMAP_NO_ERROR) {
        set_command_error(c, r, PAHT_ERROR_TEMPORARY, error, "IMAP CAPABILITY");
        return FALSE;
    }
    /* libetpan keeps its own copy in imap_connection_info; this one is ours */
    mailimap_capability_data_free(caps);
    return TRUE;
}

ImapClient *imap_client_connect(const ImapOptions *opts, GError **error)
{
    g_return_val_if_fail(opts != NULL && opts->host != NULL, NULL);
    g_return_val_if_fail(opts->user != NULL && opts->password != NULL, NULL);

    if (opts->port < 0 || opts->port > 65535) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "invalid IMAP port %d", opts->port);
        return NULL;
    }
    if (!is_safe_protocol_string(opts->user) || !is_safe_protocol_string(opts->password)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "IMAP user or password contains a control character");
        return NULL;
    }
    g_autofree char *host = g_hostname_to_ascii(opts->host);
    if (!host || !*host || !is_safe_protocol_string(host)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "invalid IMAP host name");
        return NULL;
    }

    g_autoptr(ImapClient) c = g_new0(ImapClient, 1);
    c->host = g_steal_pointer(&host);
    c->user = g_strdup(opts->user);
    c->log_fd = -1;
    c->log_line = g_string_new(NULL);
    /* until the session is established, a failure drops the connection without LOGOUT */
    c->broken = TRUE;

    if (opts->protocol_log) {
        c->log_fd = open(opts->protocol_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (c->log_fd < 0) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "cannot open the IMAP protocol log %s: %s", opts->protocol_log,
                        g_strerror(errno));
            return NULL;
        }
    }

    c->imap = mailimap_new(0, NULL);
    if (!c->imap) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "libetpan: out of memory");
        return NULL;
    }
    /* before connecting: it bounds the TCP connect, the TLS handshake and every read */
    if (opts->timeout_seconds > 0)
        mailimap_set_timeout(c->imap, opts->timeout_seconds);
    if (c->log_fd >= 0)
        mailimap_set_logger(c->imap, protocol_log_data, c);

    uint16_t port = (uint16_t)opts->port; /* 0: libetpan uses 993 or 143 */
    /* the TLS stream is ours (tls.c): libetpan's read each TLS record with two recv() */
    int timeout = opts->timeout_seconds > 0             ? opts->timeout_seconds
                  : mailstream_network_delay.tv_sec > 0 ? (int)mailstream_network_delay.tv_sec
                                                        : 30;
    int r;
    if (opts->implicit_tls) {
        GError *local = NULL;
        int fd = imap_tcp_connect(c->host, port ? port : 993, timeout, &local);
        if (fd < 0) {
            c->server_failed = TRUE;
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "IMAP connection (TLS) on %s: %s",
                        c->host, local->message);
            g_error_free(local);
            return NULL;
        }
        mailstream_low *low = tls_begin(c, fd, timeout, "IMAP connection (TLS)", error);
        if (!low)
            return NULL;
        mailstream *stream = mailstream_new(low, 8192);
        if (!stream) {
            mailstream_low_close(low);
            mailstream_low_free(low);
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "libetpan: out of memory");
            return NULL;
        }
        r = mailimap_connect(c->imap, stream);
        if (r != MAILIMAP_NO_ERROR_AUTHENTICATED && r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
            set_command_error(c, r, PAHT_ERROR_TEMPORARY, error, "IMAP connection (TLS)");
            return NULL;
        }
        if (!verify_server_certificate(c, opts, error))
            return NULL;
    } else {
        r = mailimap_socket_connect(c->imap, c->host, port);
        if (r == MAILIMAP_NO_ERROR_AUTHENTICATED) {
            /* a PREAUTH greeting in plaintext would have us read mail over a connection
             * nobody can vouch for (RFC 3501 §6.2.1 warns against exactly this) */
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "IMAP server %s greeted with PREAUTH on a plaintext connection; refused",
                        c->host);
            return NULL;
        }
        if (r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
            set_command_error(c, r, PAHT_ERROR_TEMPORARY, error, "IMAP connection");
            return NULL;
        }
        /* the greeting usually carries the capabilities; ask only if it did not */
        if (!capabilities_known(c) && !ask_capabilities(c, error))
            return NULL;
        if (!mailimap_has_extension(c->imap, "STARTTLS")) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "IMAP server %s offers no STARTTLS; refusing to log in in plaintext",
                        c->host);
            return NULL;
        }
        r = mailimap_starttls(c->imap);
        if (r != MAILIMAP_NO_ERROR) {
            /* A tagged NO or BAD is the server refusing TLS (RFC 3501 §6.2.1), which only an
             * administrator can change: libetpan reports BAD as MAILIMAP_ERROR_PROTOCOL, which
             * elsewhere means a broken session, and it was taken for a lost connection and
             * retried for ever. Nothing is sent in plaintext either way. */
            set_command_error(c, r == MAILIMAP_ERROR_PROTOCOL ? MAILIMAP_ERROR_STARTTLS : r,
                              PAHT_ERROR_CONFIG, error, "IMAP STARTTLS (no login without it)");
            return NULL;
        }
        mailstream_low *plain = mailstream_get_low(c->imap->imap_stream);
        int fd = dup(mailstream_low_get_fd(plain));
        mailstream_low *low =
            fd < 0 ? NULL : tls_begin(c, fd, timeout, "IMAP STARTTLS (no login without it)", error);
        if (!low) {
            if (fd < 0)
                g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "IMAP STARTTLS on %s: %s",
                            c->host, g_strerror(errno));
            return NULL;
        }
        /* the TLS stream has the connection now (its own descriptor of it) */
        mailstream_low_close(plain);
        mailstream_low_free(plain);
        mailstream_set_low(c->imap->imap_stream, low);
        if (!verify_server_certificate(c, opts, error))
            return NULL;
        forget_capabilities(c);
        if (!ask_capabilities(c, error))
            return NULL;
    }

    if (c->imap->imap_state == MAILIMAP_STATE_NON_AUTHENTICATED) {
        /* servers list more capabilities after login (MOVE, CONDSTORE...), usually in the
         * LOGIN reply; an empty list afterwards means we must ask */
        forget_capabilities(c);
        r = mailimap_login(c->imap, opts->user, opts->password);
        if (r == MAILIMAP_ERROR_LOGIN && !response_code_is(c, "UNAVAILABLE")) {
            /* RFC 5530 AUTHENTICATIONFAILED and the like: the administrator must act */
            g_autofree char *text = server_text(c);
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "login refused for user %s on %s: %s",
                        opts->user, c->host, text);
            return NULL;
        }
        if (r != MAILIMAP_NO_ERROR) {
            set_command_error(c, r, PAHT_ERROR_CONFIG, error, "IMAP LOGIN for user %s", opts->user);
            return NULL;
        }
    } else {
        log_info("imap: %s greeted with PREAUTH over TLS; no LOGIN sent", c->host);
    }
    if (!capabilities_known(c) && !ask_capabilities(c, error))
        return NULL;

    c->broken = FALSE;
    log_info("imap: connected to %s:%d (%s) as %s", c->host, opts->port,
             opts->implicit_tls ? "implicit TLS" : "STARTTLS", opts->user);
    return g_steal_pointer(&c);
}

void imap_client_close(ImapClient *client)
{
    if (!client)
        return;
    if (client->imap) {
        /* LOGOUT is a courtesy (and closes the stream); after a failure it would only wait
         * for a timeout, and mailimap_free sends it whenever a stream is open: close first */
        if (client->imap->imap_stream) {
            if (client->broken) {
                mailstream_close(client->imap->imap_stream);
                client->imap->imap_stream = NULL;
            } else {
                mailimap_logout(client->imap);
            }
        }
        mailimap_free(client->imap);
    }
    if (client->log_fd >= 0)
        close(client->log_fd);
    if (client->log_line)
        g_string_free(client->log_line, TRUE);
    g_free(client->host);
    g_free(client->user);
    g_free(client->selected);
    g_free(client);
}

guint64 imap_client_socket_reads(ImapClient *client, guint64 *tls_asked)
{
    g_return_val_if_fail(client != NULL && tls_asked != NULL, 0);
    *tls_asked = 0;
    if (!client->imap || !client->imap->imap_stream)
        return 0;
    return imap_tls_socket_reads(mailstream_get_low(client->imap->imap_stream), tls_asked);
}

gboolean imap_client_has_capability(ImapClient *client, const char *name)
{
    g_return_val_if_fail(client != NULL && name != NULL, FALSE);
    if (!client->imap)
        return FALSE;
    if (g_ascii_strncasecmp(name, "AUTH=", 5) == 0)
        return mailimap_has_authentication(client->imap, name + 5) != 0;
    return mailimap_has_extension(client->imap, name) != 0;
}

/* ---- mailbox names -------------------------------------------------------------------------
 * Our configuration writes folders with '/' between levels and in UTF-8; the server wants its
 * own separator and modified UTF-7 (RFC 3501 §5.1.3). */

static gboolean learn_delimiter(ImapClient *c, GError **error)
{
    if (c->have_delimiter)
        return TRUE;
    clist *list = NULL;
    /* RFC 3501 §6.3.8: LIST "" "" returns the hierarchy delimiter of the root */
    int r = mailimap_list(c->imap, "", "", &list);
    if (r != MAILIMAP_NO_ERROR) {
        set_command_error(c, r, PAHT_ERROR_CONFIG, error, "IMAP LIST (hierarchy delimiter)");
        return FALSE;
    }
    c->delimiter = 0;
    if (list && clist_begin(list)) {
        struct mailimap_mailbox_list *mb = clist_content(clist_begin(list));
        c->delimiter = mb->mb_delimiter;
    }
    if (list)
        mailimap_list_result_free(list);
    c->have_delimiter = TRUE;
    return TRUE;
}

static gboolean is_plain_ascii(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x80 || *p == '&')
            return FALSE;
    }
    return TRUE;
}

/* "PAHT/Đã xử lý" -> "PAHT.&ARAA4w- x&Hu0- l&AP0-" on a server whose separator is '.' */
static char *mailbox_to_server(ImapClient *c, const char *name, GError **error)
{
    if (!*name || !g_utf8_validate(name, -1, NULL) || !is_safe_protocol_string(name)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "invalid IMAP folder name (empty, not UTF-8 or with control characters)");
        return NULL;
    }
    gboolean nested = strchr(name, '/') != NULL;
    /* the common case costs no LIST: a flat ASCII name is sent as it is */
    if (!nested && is_plain_ascii(name))
        return g_strdup(name);
    if (nested && !learn_delimiter(c, error))
        return NULL;

    g_auto(GStrv) parts = g_strsplit(name, "/", -1);
    GString *out = g_string_new(NULL);
    for (guint i = 0; parts[i]; i++) {
        if (!*parts[i]) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "IMAP folder name \"%s\" has an empty level", name);
            g_string_free(out, TRUE);
            return NULL;
        }
        if (nested && c->delimiter && strchr(parts[i], c->delimiter)) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "IMAP folder name \"%s\" contains '%c', the server's level separator", name,
                        c->delimiter);
            g_string_free(out, TRUE);
            return NULL;
        }
        g_autofree char *encoded = g_convert(parts[i], -1, "UTF-7-IMAP", "UTF-8", NULL, NULL, NULL);
        if (!encoded) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "IMAP folder name \"%s\" cannot be encoded in modified UTF-7", name);
            g_string_free(out, TRUE);
            return NULL;
        }
        if (i > 0)
            g_string_append_c(out, c->delimiter);
        g_string_append(out, encoded);
    }
    if (nested && !c->delimiter) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "IMAP server %s has no folder hierarchy; \"%s\" cannot be created", c->host,
                    name);
        g_string_free(out, TRUE);
        return NULL;
    }
    return g_string_free(out, FALSE);
}

/* ---- select, search, fetch ---------------------------------------------------------------- */

/* SELECT (with CONDSTORE when offered, RFC 7162 §3.1.8) of a mailbox by its server name */
static gboolean select_server_name(ImapClient *c, const char *name, uint64_t *modseq,
                                   GError **error)
{
    g_clear_pointer(&c->selected, g_free);
    int r;
    if (mailimap_has_condstore(c->imap))
        r = mailimap_select_condstore(c->imap, name, modseq);
    else
        r = mailimap_select(c->imap, name);
    if (r != MAILIMAP_NO_ERROR) {
        set_command_error(c, r, PAHT_ERROR_CONFIG, error, "IMAP SELECT %s", name);
        return FALSE;
    }
    c->selected = g_strdup(name);
    return TRUE;
}

gboolean imap_client_select(ImapClient *client, const char *mailbox, ImapMailboxInfo *info,
                            GError **error)
{
    g_return_val_if_fail(client != NULL && mailbox != NULL, FALSE);
    if (!check_usable(client, error))
        return FALSE;
    g_autofree char *name = mailbox_to_server(client, mailbox, error);
    if (!name)
        return FALSE;

    uint64_t modseq = 0;
    if (!select_server_name(client, name, &modseq, error))
        return FALSE;
    struct mailimap_selection_info *sel = client->imap->imap_selection_info;
    /* the EXISTS of the SELECT reply is the mailbox as it is, not news: UIDNEXT says more */
    if (sel)
        sel->sel_has_exists = 0;
    if (info) {
        *info = (ImapMailboxInfo){0};
        if (sel) {
            info->uidvalidity = sel->sel_uidvalidity;
            info->uidnext = sel->sel_uidnext;
            info->exists = sel->sel_exists;
        }
        info->highestmodseq = modseq;
    }
    return TRUE;
}

static gint compare_uid(gconstpointer a, gconstpointer b)
{
    guint32 x = *(const guint32 *)a;
    guint32 y = *(const guint32 *)b;
    return x < y ? -1 : x > y;
}

/* sorted, without duplicates */
static void sort_unique(GArray *uids)
{
    g_array_sort(uids, compare_uid);
    guint kept = 0;
    for (guint i = 0; i < uids->len; i++) {
        guint32 uid = g_array_index(uids, guint32, i);
        if (kept == 0 || g_array_index(uids, guint32, kept - 1) != uid)
            g_array_index(uids, guint32, kept++) = uid;
    }
    g_array_set_size(uids, kept);
}

GArray *imap_client_search_from(ImapClient *client, guint32 first_uid, GError **error)
{
    g_return_val_if_fail(client != NULL, NULL);
    if (!check_usable(client, error))
        return NULL;
    if (first_uid == 0)
        first_uid = 1;
    /* what arrived until now is in this search's answer; an EXISTS during it sets it again */
    if (client->imap->imap_selection_info)
        client->imap->imap_selection_info->sel_has_exists = 0;

    struct mailimap_set *set = mailimap_set_new_interval(first_uid, 0); /* n:* */
    struct mailimap_search_key *key = mailimap_search_key_new_uid(set);
    clist *result = NULL;
    int r = mailimap_uid_search(client->imap, NULL, key, &result);
    mailimap_search_key_free(key);
    if (r != MAILIMAP_NO_ERROR) {
        set_command_error(client, r, PAHT_ERROR_TEMPORARY, error, "IMAP UID SEARCH UID %u:*",
                          first_uid);
        return NULL;
    }
    GArray *uids = g_array_new(FALSE, FALSE, sizeof(guint32));
    for (clistiter *it = clist_begin(result); it; it = clist_next(it)) {
        guint32 uid = *(uint32_t *)clist_content(it);
        /* RFC 3501 §6.4.8: "n:*" always includes the highest UID, even when it is below n */
        if (uid >= first_uid)
            g_array_append_val(uids, uid);
    }
    mailimap_search_result_free(result);
    sort_unique(uids);
    return uids;
}

/* a UID set with runs merged ("1:5,9"): keeps the command short for thousands of UIDs */
static struct mailimap_set *uid_set_new(const guint32 *sorted_uids, guint n)
{
    struct mailimap_set *set = mailimap_set_new_empty();
    guint i = 0;
    while (i < n) {
        guint32 first = sorted_uids[i];
        guint32 last = first;
        while (i + 1 < n && sorted_uids[i + 1] == last + 1)
            last = sorted_uids[++i];
        if (last > first)
            mailimap_set_add_interval(set, first, last);
        else
            mailimap_set_add_single(set, first);
        i++;
    }
    return set;
}

static gboolean uid_wanted(const GArray *sorted_uids, guint32 uid)
{
    guint lo = 0, hi = sorted_uids->len;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        guint32 v = g_array_index(sorted_uids, guint32, mid);
        if (v == uid)
            return TRUE;
        if (v < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return FALSE;
}

static gint compare_info_uid(gconstpointer a, gconstpointer b)
{
    const ImapMessageInfo *x = a;
    const ImapMessageInfo *y = b;
    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* the static item of a FETCH response of this type, or NULL */
static struct mailimap_msg_att_static *fetch_item(struct mailimap_msg_att *att, int type)
{
    for (clistiter *j = clist_begin(att->att_list); j; j = clist_next(j)) {
        struct mailimap_msg_att_item *item = clist_content(j);
        if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC && item->att_data.att_static &&
            item->att_data.att_static->att_type == type)
            return item->att_data.att_static;
    }
    return NULL;
}

GArray *imap_client_fetch_sizes(ImapClient *client, const guint32 *uids, guint n_uids,
                                GError **error)
{
    g_return_val_if_fail(client != NULL && (uids != NULL || n_uids == 0), NULL);
    if (!check_usable(client, error))
        return NULL;
    GArray *infos = g_array_new(FALSE, FALSE, sizeof(ImapMessageInfo));

    g_autoptr(GArray) wanted = g_array_sized_new(FALSE, FALSE, sizeof(guint32), n_uids);
    for (guint i = 0; i < n_uids; i++) {
        if (uids[i] != 0)
            g_array_append_val(wanted, uids[i]);
    }
    sort_unique(wanted);
    if (wanted->len == 0)
        return infos;

    /* only the sizes: an ENVELOPE carries every address of the headers, and one mail with
     * 150,000 To: addresses made the daemon build 64 MB of them before any size check */
    struct mailimap_set *set = uid_set_new(&g_array_index(wanted, guint32, 0), wanted->len);
    struct mailimap_fetch_type *type = mailimap_fetch_type_new_fetch_att_list_empty();
    mailimap_fetch_type_new_fetch_att_list_add(type, mailimap_fetch_att_new_uid());
    mailimap_fetch_type_new_fetch_att_list_add(type, mailimap_fetch_att_new_rfc822_size());
    clist *result = NULL;
    int r = mailimap_uid_fetch(client->imap, set, type, &result);
    mailimap_fetch_type_free(type);
    mailimap_set_free(set);
    if (r != MAILIMAP_NO_ERROR) {
        /* some servers answer NO when every UID asked for was expunged meanwhile */
        if (!is_connection_failure(r) && response_code_is(client, "EXPUNGEISSUED"))
            return infos;
        set_command_error(client, r, PAHT_ERROR_PERMANENT, error, "IMAP UID FETCH (size)");
        g_array_unref(infos);
        return NULL;
    }

    g_autoptr(GHashTable) seen = g_hash_table_new(NULL, NULL);
    for (clistiter *it = clist_begin(result); it; it = clist_next(it)) {
        struct mailimap_msg_att *att = clist_content(it);
        struct mailimap_msg_att_static *uid = fetch_item(att, MAILIMAP_MSG_ATT_UID);
        struct mailimap_msg_att_static *size = fetch_item(att, MAILIMAP_MSG_ATT_RFC822_SIZE);
        /* unsolicited FETCH responses (flag changes by other clients) are not ours */
        if (!uid || !size || !uid_wanted(wanted, uid->att_data.att_uid) ||
            g_hash_table_contains(seen, GUINT_TO_POINTER(uid->att_data.att_uid)))
            continue;
        g_hash_table_add(seen, GUINT_TO_POINTER(uid->att_data.att_uid));
        ImapMessageInfo info = {uid->att_data.att_uid, size->att_data.att_rfc822_size};
        g_array_append_val(infos, info);
    }
    mailimap_fetch_list_free(result);
    g_array_sort(infos, compare_info_uid);
    return infos;
}

gboolean imap_client_uid_exists(ImapClient *client, guint32 uid, gboolean *exists, GError **error)
{
    g_return_val_if_fail(client != NULL && uid != 0 && exists != NULL, FALSE);
    if (!check_usable(client, error))
        return FALSE;
    struct mailimap_search_key *key = mailimap_search_key_new_uid(mailimap_set_new_single(uid));
    clist *result = NULL;
    int r = mailimap_uid_search(client->imap, NULL, key, &result);
    mailimap_search_key_free(key);
    if (r != MAILIMAP_NO_ERROR) {
        set_command_error(client, r, PAHT_ERROR_TEMPORARY, error, "IMAP UID SEARCH UID %u", uid);
        return FALSE;
    }
    *exists = FALSE;
    for (clistiter *it = clist_begin(result); it; it = clist_next(it)) {
        if (*(uint32_t *)clist_content(it) == uid)
            *exists = TRUE;
    }
    mailimap_search_result_free(result);
    return TRUE;
}

typedef struct {
    FdWriter *out;
    gint64 written;
    gint64 limit;     /* the most bytes taken; -1: no limit */
    int write_errno;  /* 0, or why writing to the file failed */
    gboolean too_big; /* the literal went on past limit */
} BodySink;

/* called by libetpan's parser for each piece of the literal as it is read (a TLS record or
 * so), instead of collecting the whole body in memory */
static bool body_to_fd(int msg_att_type, struct mailimap_msg_att_body_section *section,
                       const char *bytes, size_t length, void *context)
{
    BodySink *sink = context;
    if (msg_att_type != MAILIMAP_MSG_ATT_BODY_SECTION)
        return true;
    if (sink->limit >= 0 && sink->written + (gint64)length > sink->limit) {
        sink->too_big = TRUE;
        return false; /* libetpan then gives up on the response */
    }
    if (!fd_writer_write(sink->out, bytes, length, &sink->write_errno))
        return false;
    sink->written += (gint64)length;
    return true;
}

typedef enum {
    FETCH_NOTHING, /* no FETCH response for the UID */
    FETCH_NO_BODY, /* the UID answered, without the body (or with NIL) */
    FETCH_BODY,
} FetchOutcome;

static FetchOutcome fetch_outcome(clist *result, guint32 uid)
{
    FetchOutcome outcome = FETCH_NOTHING;
    for (clistiter *it = clist_begin(result); it; it = clist_next(it)) {
        struct mailimap_msg_att *att = clist_content(it);
        struct mailimap_msg_att_static *id = fetch_item(att, MAILIMAP_MSG_ATT_UID);
        struct mailimap_msg_att_static *body = fetch_item(att, MAILIMAP_MSG_ATT_BODY_SECTION);
        /* only one UID was asked for: a body can only be its body. While streaming, a
         * literal leaves an empty string here and NIL leaves NULL. */
        if (body && body->att_data.att_body_section &&
            body->att_data.att_body_section->sec_body_part)
            return FETCH_BODY;
        if (id && id->att_data.att_uid == uid)
            outcome = FETCH_NO_BODY;
    }
    return outcome;
}

/* The server did not give the body of uid, and failure says what it did instead (a NO, no
 * data, data without the body). Only a UID the server confirms gone (UID SEARCH does not list
 * it) is PAHT_ERROR_NOT_FOUND, which the caller may pass over; anything else is a failure of
 * this message (*failure is taken over). */
static gboolean fetch_failed(ImapClient *c, guint32 uid, GError *failure, GError **error)
{
    gboolean exists = TRUE;
    GError *search_error = NULL;
    if (!c->broken && !imap_client_uid_exists(c, uid, &exists, &search_error)) {
        g_error_free(failure);
        g_propagate_error(error, search_error);
        return FALSE;
    }
    if (!exists) {
        g_error_free(failure);
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND,
                    "message UID %u is no longer in the mailbox on %s", uid, c->host);
        return FALSE;
    }
    g_propagate_error(error, failure);
    return FALSE;
}

gboolean imap_client_fetch_to_fd(ImapClient *client, guint32 uid, int fd, gint64 expected_size,
                                 gint64 max_bytes, gint64 *written, GError **error)
{
    g_return_val_if_fail(client != NULL && uid != 0 && fd >= 0, FALSE);
    if (written)
        *written = 0;
    if (!check_usable(client, error))
        return FALSE;

    g_autoptr(FdWriter) out = fd_writer_new(fd);
    BodySink sink = {out, 0, max_bytes > 0 ? MAX(expected_size, max_bytes) : -1, 0, FALSE};
    struct mailimap_set *set = mailimap_set_new_single(uid);
    struct mailimap_fetch_type *type = mailimap_fetch_type_new_fetch_att_list_empty();
    /* BODY.PEEK[]: the whole message without setting \Seen (RFC 3501 §6.4.5) */
    mailimap_fetch_type_new_fetch_att_list_add(
        type, mailimap_fetch_att_new_body_peek_section(mailimap_section_new(NULL)));
    clist *result = NULL;
    mailimap_set_msg_body_handler(client->imap, body_to_fd, &sink);
    int r = mailimap_uid_fetch(client->imap, set, type, &result);
    mailimap_set_msg_body_handler(client->imap, NULL, NULL);
    if (!sink.write_errno && !sink.too_big)
        fd_writer_flush(out, &sink.write_errno);
    mailimap_fetch_type_free(type);
    mailimap_set_free(set);
    if (written)
        *written = sink.written;

    if (sink.write_errno || sink.too_big) {
        /* the rest of the response was never read: the session cannot go on */
        client->broken = TRUE;
        if (result)
            mailimap_fetch_list_free(result);
        if (sink.too_big)
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_PERMANENT,
                        "message UID %u from %s is longer than %" G_GINT64_FORMAT
                        " bytes (RFC822.SIZE said %" G_GINT64_FORMAT "): not taken",
                        uid, client->host, sink.limit, expected_size);
        else
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY,
                        "cannot write message UID %u fetched from %s: %s", uid, client->host,
                        g_strerror(sink.write_errno));
        return FALSE;
    }
    if (r != MAILIMAP_NO_ERROR) {
        /* a refusal is about this message, never proof that it is gone (Exchange: "The
         * requested message could not be converted to an RFC-822 compatible format") */
        GError *refused = NULL;
        set_command_error(client, r, PAHT_ERROR_PERMANENT, &refused,
                          "IMAP UID FETCH %u BODY.PEEK[]", uid);
        return fetch_failed(client, uid, refused, error);
    }
    /* libetpan reports success when any FETCH data came, whatever the final answer: an
     * unsolicited flag update and a NO look like success without our body */
    FetchOutcome outcome = fetch_outcome(result, uid);
    mailimap_fetch_list_free(result);
    if (outcome != FETCH_BODY) {
        g_autofree char *said = server_text(client);
        GError *nothing =
            g_error_new(PAHT_ERROR, PAHT_ERROR_PERMANENT,
                        "message UID %u on %s: the server sent %s, and said: %s", uid, client->host,
                        outcome == FETCH_NOTHING ? "nothing" : "no body", said);
        return fetch_failed(client, uid, nothing, error);
    }
    if (expected_size >= 0 && sink.written != expected_size) {
        /* RFC822.SIZE is the server's estimate (some count line ends their own way): what
         * arrived whole in the literal is the message */
        log_warning("imap: message UID %u from %s: %" G_GINT64_FORMAT
                    " bytes received, RFC822.SIZE said %" G_GINT64_FORMAT "; kept as received",
                    uid, client->host, sink.written, expected_size);
    }
    return TRUE;
}

/* ---- several bodies in one command ----------------------------------------------------------
 * One UID FETCH for a run of UIDs: the server streams them back to back, and no message waits
 * for the round trip of its own command (with one command per message, each download began
 * only after the server had answered the last one in full: 2 ms of its time per mail, during
 * which we idled). libetpan hands the literals to the body handler as they arrive, and each
 * whole FETCH response, with its UID, to the message handler afterwards: the UID is known only
 * at a message's end, which is why the receiver opens a sink before knowing whose it is. */

typedef struct {
    const ImapBodyReceiver *rx;
    gint64 limit;     /* bytes one message may have; -1: no bound */
    gint64 written;   /* of the message in progress */
    gboolean open;    /* a message is in progress */
    gboolean too_big; /* a literal went on past limit */
    GError *refused;  /* the receiver could not take the bytes */
    guint delivered;
} BodiesState;

static bool bodies_data(int msg_att_type, struct mailimap_msg_att_body_section *section,
                        const char *bytes, size_t length, void *context)
{
    (void)section;
    BodiesState *st = context;
    if (msg_att_type != MAILIMAP_MSG_ATT_BODY_SECTION)
        return true;
    if (!st->open) {
        if (!st->rx->begin(st->rx->data, &st->refused))
            return false;
        st->open = TRUE;
        st->written = 0;
    }
    if (st->limit >= 0 && st->written + (gint64)length > st->limit) {
        st->too_big = TRUE;
        return false; /* libetpan then gives up on the response */
    }
    if (!st->rx->write(st->rx->data, bytes, length, &st->refused))
        return false;
    st->written += (gint64)length;
    return true;
}

/* libetpan 1.9.4 calls the message handler only when a progress function is set
 * (mailimap_parse_response): this one is that switch, and nothing more */
static void bodies_progress(size_t current, size_t maximum, void *context)
{
    (void)current;
    (void)maximum;
    (void)context;
}

static void bodies_message(struct mailimap_msg_att *att, void *context)
{
    BodiesState *st = context;
    if (!st->open)
        return; /* no literal: a flag update by another client, a NIL body, an empty one */
    struct mailimap_msg_att_static *uid = fetch_item(att, MAILIMAP_MSG_ATT_UID);
    st->open = FALSE;
    st->rx->end(st->rx->data, uid ? uid->att_data.att_uid : 0, st->written);
    st->delivered += uid != NULL;
}

/* "UID FETCH 4:9,12 (UID BODY.PEEK[])", written by hand: libetpan's command writers are not in
 * its installed headers, and its one call that writes this command also waits for the answer */
static GString *bodies_command(const ImapMessageInfo *messages, guint n)
{
    GString *cmd = g_string_new("UID FETCH ");
    for (guint i = 0; i < n;) {
        guint32 first = messages[i].uid, last = first;
        while (i + 1 < n && messages[i + 1].uid == last + 1)
            last = messages[++i].uid;
        g_string_append_printf(cmd, "%s%u", cmd->len > 10 ? "," : "", first);
        if (last > first)
            g_string_append_printf(cmd, ":%u", last);
        i++;
    }
    /* BODY.PEEK[]: the whole message without setting \Seen (RFC 3501 §6.4.5) */
    g_string_append(cmd, " (UID BODY.PEEK[])\r\n");
    return cmd;
}

gboolean imap_client_fetch_bodies_send(ImapClient *client, const ImapMessageInfo *messages, guint n,
                                       gint64 max_bytes, GError **error)
{
    g_return_val_if_fail(client != NULL && messages != NULL && n > 0, FALSE);
    g_return_val_if_fail(!client->bodies_sent, FALSE);
    if (!check_usable(client, error))
        return FALSE;
    if (client->imap->imap_state != MAILIMAP_STATE_SELECTED) {
        set_command_error(client, MAILIMAP_ERROR_BAD_STATE, PAHT_ERROR_PERMANENT, error,
                          "IMAP UID FETCH BODY.PEEK[] of %u messages", n);
        return FALSE;
    }
    client->bodies_limit = -1;
    for (guint i = 0; i < n; i++) {
        g_return_val_if_fail(i == 0 || messages[i].uid > messages[i - 1].uid, FALSE);
        if (max_bytes > 0)
            client->bodies_limit = MAX(client->bodies_limit, MAX(messages[i].size, max_bytes));
    }
    g_autoptr(GString) cmd = bodies_command(messages, n);
    int r = mailimap_send_current_tag(client->imap);
    if (r == MAILIMAP_NO_ERROR &&
        (mailstream_write(client->imap->imap_stream, cmd->str, cmd->len) != (ssize_t)cmd->len ||
         mailstream_flush(client->imap->imap_stream) == -1))
        r = MAILIMAP_ERROR_STREAM;
    if (r != MAILIMAP_NO_ERROR) {
        set_command_error(client, r, PAHT_ERROR_PERMANENT, error,
                          "IMAP UID FETCH BODY.PEEK[] of %u messages", n);
        return FALSE;
    }
    client->bodies_sent = TRUE;
    client->bodies_n = n;
    return TRUE;
}

/* the tagged answer to the command sent: libetpan's own reading of a FETCH's answer */
static int bodies_answer(mailimap *imap)
{
    struct mailimap_response *response = NULL;
    if (mailimap_read_line(imap) == NULL)
        return MAILIMAP_ERROR_STREAM;
    int r = mailimap_parse_response(imap, &response);
    if (r != MAILIMAP_NO_ERROR)
        return r;
    clist *result = imap->imap_response_info->rsp_fetch_list;
    imap->imap_response_info->rsp_fetch_list = NULL;
    const struct mailimap_response_done *done = response->rsp_resp_done;
    gboolean ok =
        (result && clist_count(result) > 0) ||
        (done->rsp_type == MAILIMAP_RESP_DONE_TYPE_TAGGED &&
         done->rsp_data.rsp_tagged->rsp_cond_state->rsp_type == MAILIMAP_RESP_COND_STATE_OK);
    if (result)
        mailimap_fetch_list_free(result);
    mailimap_response_free(response);
    return ok ? MAILIMAP_NO_ERROR : MAILIMAP_ERROR_UID_FETCH;
}

gboolean imap_client_fetch_bodies_receive(ImapClient *client, const ImapBodyReceiver *rx,
                                          guint *delivered, GError **error)
{
    g_return_val_if_fail(client != NULL && rx != NULL && client->bodies_sent, FALSE);
    client->bodies_sent = FALSE;
    *delivered = 0;
    BodiesState st = {.rx = rx, .limit = client->bodies_limit};
    mailimap_set_msg_body_handler(client->imap, bodies_data, &st);
    mailimap_set_msg_att_handler(client->imap, bodies_message, &st);
    mailimap_set_progress_callback(client->imap, NULL, bodies_progress, NULL);
    int r = bodies_answer(client->imap);
    mailimap_set_progress_callback(client->imap, NULL, NULL, NULL);
    mailimap_set_msg_att_handler(client->imap, NULL, NULL);
    mailimap_set_msg_body_handler(client->imap, NULL, NULL);
    *delivered = st.delivered;
    if (st.open)
        rx->end(rx->data, 0, st.written); /* cut off: the receiver drops it */
    if (st.refused || st.too_big) {
        /* the rest of the response was never read: the session cannot go on */
        client->broken = TRUE;
        if (st.refused)
            g_propagate_error(error, st.refused);
        else
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_PERMANENT,
                        "a message from %s is longer than %" G_GINT64_FORMAT " bytes: not taken",
                        client->host, st.limit);
        return FALSE;
    }
    if (r != MAILIMAP_NO_ERROR) {
        set_command_error(client, r, PAHT_ERROR_PERMANENT, error,
                          "IMAP UID FETCH BODY.PEEK[] of %u messages", client->bodies_n);
        return FALSE;
    }
    return TRUE;
}

gboolean imap_client_fetch_bodies(ImapClient *client, const ImapMessageInfo *messages, guint n,
                                  gint64 max_bytes, const ImapBodyReceiver *rx, guint *delivered,
                                  GError **error)
{
    g_return_val_if_fail(client != NULL && messages != NULL && n > 0 && rx != NULL, FALSE);
    *delivered = 0;
    return imap_client_fetch_bodies_send(client, messages, n, max_bytes, error) &&
           imap_client_fetch_bodies_receive(client, rx, delivered, error);
}

GBytes *imap_client_fetch_header_fields(ImapClient *client, guint32 uid, const char *const *names,
                                        guint32 max_bytes, GError **error)
{
    g_return_val_if_fail(client != NULL && uid != 0 && names != NULL && max_bytes > 0, NULL);
    if (!check_usable(client, error))
        return NULL;
    clist *fields = clist_new();
    for (guint i = 0; names[i]; i++)
        clist_append(fields, strdup(names[i]));
    struct mailimap_section *section =
        mailimap_section_new_header_fields(mailimap_header_list_new(fields));
    struct mailimap_fetch_type *type = mailimap_fetch_type_new_fetch_att_list_empty();
    /* BODY.PEEK[HEADER.FIELDS (...)]<0.max>: these headers only, and never more than max */
    mailimap_fetch_type_new_fetch_att_list_add(
        type, mailimap_fetch_att_new_body_peek_section_partial(section, 0, max_bytes));
    struct mailimap_set *set = mailimap_set_new_single(uid);
    clist *result = NULL;
    int r = mailimap_uid_fetch(client->imap, set, type, &result);
    mailimap_fetch_type_free(type);
    mailimap_set_free(set);
    if (r != MAILIMAP_NO_ERROR) {
        set_command_error(client, r, PAHT_ERROR_PERMANENT, error,
                          "IMAP UID FETCH %u BODY.PEEK[HEADER.FIELDS]", uid);
        return NULL;
    }
    GBytes *found = NULL;
    for (clistiter *it = clist_begin(result); it && !found; it = clist_next(it)) {
        struct mailimap_msg_att_static *body =
            fetch_item(clist_content(it), MAILIMAP_MSG_ATT_BODY_SECTION);
        struct mailimap_msg_att_body_section *sec = body ? body->att_data.att_body_section : NULL;
        if (sec && sec->sec_body_part)
            found = g_bytes_new(sec->sec_body_part, MIN(sec->sec_length, (size_t)max_bytes));
    }
    mailimap_fetch_list_free(result);
    if (!found)
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_PERMANENT,
                    "message UID %u on %s: the server sent no headers", uid, client->host);
    return found;
}

/* ---- folders and moving ------------------------------------------------------------------- */

static gboolean mailbox_name_equal(const char *a, const char *b)
{
    /* RFC 3501 §5.1: INBOX is case-insensitive, every other name is not */
    if (g_ascii_strcasecmp(a, "INBOX") == 0)
        return g_ascii_strcasecmp(b, "INBOX") == 0;
    return strcmp(a, b) == 0;
}

static gboolean list_entry_is_real(struct mailimap_mailbox_list *mb)
{
    struct mailimap_mbx_list_flags *flags = mb->mb_flag;
    if (!flags)
        return TRUE;
    if (flags->mbf_type == MAILIMAP_MBX_LIST_FLAGS_SFLAG &&
        flags->mbf_sflag == MAILIMAP_MBX_LIST_SFLAG_NOSELECT)
        return FALSE;
    for (clistiter *it = clist_begin(flags->mbf_oflags); it; it = clist_next(it)) {
        struct mailimap_mbx_list_oflag *oflag = clist_content(it);
        /* RFC 5258 §3: \NonExistent implies \Noselect */
        if (oflag->of_type == MAILIMAP_MBX_LIST_OFLAG_FLAG_EXT && oflag->of_flag_ext &&
            (g_ascii_strcasecmp(oflag->of_flag_ext, "NonExistent") == 0 ||
             g_ascii_strcasecmp(oflag->of_flag_ext, "Noselect") == 0))
            return FALSE;
    }
    return TRUE;
}

/* *exists: the folder is there and can hold mail */
static gboolean folder_exists(ImapClient *c, const char *server_name, const char *folder,
                              gboolean *exists, GError **error)
{
    clist *list = NULL;
    int r = mailimap_list(c->imap, "", server_name, &list);
    if (r != MAILIMAP_NO_ERROR) {
        set_command_error(c, r, PAHT_ERROR_CONFIG, error, "IMAP LIST %s", folder);
        return FALSE;
    }
    *exists = FALSE;
    for (clistiter *it = clist_begin(list); it; it = clist_next(it)) {
        struct mailimap_mailbox_list *mb = clist_content(it);
        /* the name is a pattern: '%' or '*' in it could match other folders */
        if (mb->mb_name && mailbox_name_equal(mb->mb_name, server_name) && list_entry_is_real(mb))
            *exists = TRUE;
    }
    if (list)
        mailimap_list_result_free(list);
    return TRUE;
}

/* CREATE; *refused tells a NO apart from a network failure (which sets *error) */
static gboolean create_folder(ImapClient *c, const char *server_name, gboolean *refused,
                              GError **error)
{
    *refused = FALSE;
    int r = mailimap_create(c->imap, server_name);
    if (r == MAILIMAP_NO_ERROR)
        return TRUE;
    if (r == MAILIMAP_ERROR_CREATE && response_code_is(c, "ALREADYEXISTS"))
        return TRUE; /* RFC 5530: created meanwhile by someone else */
    if (r == MAILIMAP_ERROR_CREATE) {
        *refused = TRUE;
        return FALSE;
    }
    set_command_error(c, r, PAHT_ERROR_CONFIG, error, "IMAP CREATE");
    return FALSE;
}

gboolean imap_client_ensure_folder(ImapClient *client, const char *folder, GError **error)
{
    g_return_val_if_fail(client != NULL && folder != NULL, FALSE);
    if (!check_usable(client, error))
        return FALSE;
    g_autofree char *name = mailbox_to_server(client, folder, error);
    if (!name)
        return FALSE;
    if (g_ascii_strcasecmp(name, "INBOX") == 0)
        return TRUE;

    gboolean exists = FALSE;
    if (!folder_exists(client, name, folder, &exists, error))
        return FALSE;
    if (!exists) {
        gboolean refused = FALSE;
        if (!create_folder(client, name, &refused, error) && !refused)
            return FALSE;
        if (refused) {
            /* RFC 3501 §6.3.3 lets a server refuse to create a folder whose parent is
             * missing: create the parents one level at a time, then try again */
            for (const char *p = name; client->delimiter && (p = strchr(p, client->delimiter));
                 p++) {
                g_autofree char *parent = g_strndup(name, (gsize)(p - name));
                gboolean parent_refused = FALSE;
                if (!create_folder(client, parent, &parent_refused, error) && !parent_refused)
                    return FALSE;
            }
            if (!create_folder(client, name, &refused, error)) {
                if (refused) {
                    g_autofree char *text = server_text(client);
                    g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                                "IMAP server %s refused to create folder \"%s\": %s", client->host,
                                folder, text);
                }
                return FALSE;
            }
        }
        log_notice("imap: created folder \"%s\" on %s", folder, client->host);
    } else {
        /* it exists: its subscription is whatever the staff chose; one command saved on
         * every connection */
        return TRUE;
    }
    /* subscribing is what makes the new folder visible in most mail clients; a refusal is
     * not worth failing for */
    int r = mailimap_subscribe(client->imap, name);
    if (r != MAILIMAP_NO_ERROR) {
        if (is_connection_failure(r)) {
            set_command_error(client, r, PAHT_ERROR_TEMPORARY, error, "IMAP SUBSCRIBE %s", folder);
            return FALSE;
        }
        g_autofree char *text = server_text(client);
        log_warning("imap: %s refused to subscribe folder \"%s\": %s", client->host, folder, text);
    }
    return TRUE;
}

/* the outcome of a UID COPY or UID MOVE that the server refused */
static gboolean move_refused(ImapClient *c, int r, const char *uids, const char *folder,
                             const char *command, GError **error)
{
    if (is_connection_failure(r)) {
        set_command_error(c, r, PAHT_ERROR_TEMPORARY, error, "IMAP %s %s", command, uids);
        return FALSE;
    }
    /* RFC 5530: the message was expunged meanwhile, which is what moving wanted */
    if (response_code_is(c, "EXPUNGEISSUED") || response_code_is(c, "NONEXISTENT"))
        return TRUE;
    if (c->imap->imap_response_info && c->imap->imap_response_info->rsp_trycreate) {
        g_autofree char *text = server_text(c);
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "IMAP folder \"%s\" does not exist on %s: %s", folder, c->host, text);
        return FALSE;
    }
    set_command_error(c, r, PAHT_ERROR_PERMANENT, error, "IMAP %s %s to \"%s\"", command, uids,
                      folder);
    return FALSE;
}

gboolean imap_client_move(ImapClient *client, guint32 uid, const char *folder, GError **error)
{
    return imap_client_move_uids(client, &uid, 1, folder, error);
}

/* "7", or "7:9,12" for the log and errors */
static char *uids_text(const guint32 *uids, guint n)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < n && s->len < 200; i++)
        g_string_append_printf(s, "%s%u", i ? "," : "", uids[i]);
    if (s->len >= 200)
        g_string_append(s, ",...");
    return g_string_free(s, FALSE);
}

gboolean imap_client_can_move(ImapClient *client)
{
    g_return_val_if_fail(client != NULL, FALSE);
    return client->imap && mailimap_has_extension(client->imap, "MOVE");
}

/* UID MOVE (move) or UID COPY of the UIDs to folder, in one command */
static gboolean copy_or_move(ImapClient *c, const guint32 *uids, guint n, const char *folder,
                             gboolean move, GError **error)
{
    if (n == 0)
        return TRUE;
    if (!check_usable(c, error))
        return FALSE;
    g_autofree char *name = mailbox_to_server(c, folder, error);
    if (!name)
        return FALSE;
    /* one set, consecutive UIDs as ranges: one command whatever the count (a MOVE per message
     * makes the server rework its index each time) */
    struct mailimap_set *set = uid_set_new(uids, n);
    g_autofree char *what = uids_text(uids, n);
    /* RFC 6851: a move is atomic, and a UID that is already gone is simply "OK" */
    int r = move ? mailimap_uid_move(c->imap, set, name) : mailimap_uid_copy(c->imap, set, name);
    mailimap_set_free(set);
    return r == MAILIMAP_NO_ERROR ||
           move_refused(c, r, what, folder, move ? "UID MOVE" : "UID COPY", error);
}

gboolean imap_client_copy_uids(ImapClient *client, const guint32 *uids, guint n_uids,
                               const char *folder, GError **error)
{
    g_return_val_if_fail(client != NULL && folder != NULL, FALSE);
    return copy_or_move(client, uids, n_uids, folder, FALSE, error);
}

gboolean imap_client_delete_uids(ImapClient *client, const guint32 *uids, guint n_uids,
                                 GError **error)
{
    g_return_val_if_fail(client != NULL, FALSE);
    if (n_uids == 0)
        return TRUE;
    if (!check_usable(client, error))
        return FALSE;
    struct mailimap_set *set = uid_set_new(uids, n_uids);
    g_autofree char *what = uids_text(uids, n_uids);
    gboolean ok = FALSE;
    struct mailimap_flag_list *flags = mailimap_flag_list_new_empty();
    mailimap_flag_list_add(flags, mailimap_flag_new_deleted());
    struct mailimap_store_att_flags *store = mailimap_store_att_flags_new_add_flags_silent(flags);
    int r = mailimap_uid_store(client->imap, set, store);
    mailimap_store_att_flags_free(store);
    if (r != MAILIMAP_NO_ERROR) {
        set_command_error(client, r, PAHT_ERROR_PERMANENT, error,
                          "IMAP UID STORE %s +FLAGS (\\Deleted)", what);
        goto out;
    }
    if (mailimap_has_uidplus(client->imap)) {
        /* RFC 4315 §2.1: expunges these UIDs only, never other clients' \Deleted mail */
        r = mailimap_uid_expunge(client->imap, set);
        if (r != MAILIMAP_NO_ERROR) {
            set_command_error(client, r, PAHT_ERROR_PERMANENT, error, "IMAP UID EXPUNGE %s", what);
            goto out;
        }
    } else {
        /* a plain EXPUNGE would also remove what other clients marked \Deleted: leave the
         * message flagged, and say so once */
        static gsize warned = 0;
        if (g_once_init_enter(&warned)) {
            log_warning("imap: %s has neither MOVE nor UIDPLUS: processed mail stays in the "
                        "inbox flagged \\Deleted until someone expunges it",
                        client->host);
            g_once_init_leave(&warned, 1);
        }
    }
    ok = TRUE;
out:
    mailimap_set_free(set);
    return ok;
}

gboolean imap_client_move_uids(ImapClient *client, const guint32 *uids, guint n_uids,
                               const char *folder, GError **error)
{
    g_return_val_if_fail(client != NULL && folder != NULL, FALSE);
    if (!imap_client_can_move(client))
        return imap_client_copy_uids(client, uids, n_uids, folder, error) &&
               imap_client_delete_uids(client, uids, n_uids, error);
    return copy_or_move(client, uids, n_uids, folder, TRUE, error);
}

/* UID SEARCH HEADER Message-ID in the selected mailbox: *found */
static gboolean search_message_id(ImapClient *c, const char *message_id, gboolean *found,
                                  GError **error)
{
    g_autofree char *value = g_strdup_printf("<%s>", message_id);
    gboolean ascii = is_plain_ascii(value);
    struct mailimap_search_key *key =
        mailimap_search_key_new_header(strdup("Message-ID"), strdup(value));
    clist *result = NULL;
    int r = mailimap_uid_search(c->imap, ascii ? NULL : "UTF-8", key, &result);
    mailimap_search_key_free(key);
    if (r != MAILIMAP_NO_ERROR) {
        set_command_error(c, r, PAHT_ERROR_TEMPORARY, error, "IMAP UID SEARCH HEADER Message-ID");
        return FALSE;
    }
    *found = clist_count(result) > 0;
    mailimap_search_result_free(result);
    return TRUE;
}

gboolean imap_client_folder_has_message_ids(ImapClient *client, const char *folder,
                                            const char *const *message_ids, guint n,
                                            gboolean *found, GError **error)
{
    g_return_val_if_fail(client != NULL && folder != NULL && found != NULL, FALSE);
    if (n == 0)
        return TRUE;
    if (!check_usable(client, error))
        return FALSE;
    if (!client->selected) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_PERMANENT,
                    "IMAP search of \"%s\" on %s: no folder selected to return to", folder,
                    client->host);
        return FALSE;
    }
    for (guint i = 0; i < n; i++) {
        if (message_ids[i] && !is_safe_protocol_string(message_ids[i])) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_PERMANENT,
                        "a Message-ID with a control character cannot be searched for");
            return FALSE;
        }
    }
    g_autofree char *name = mailbox_to_server(client, folder, error);
    if (!name)
        return FALSE;
    g_autofree char *back = g_strdup(client->selected);
    guint32 uidvalidity =
        client->imap->imap_selection_info ? client->imap->imap_selection_info->sel_uidvalidity : 0;
    /* EXAMINE: read-only, nothing in the folder changes (RFC 3501 §6.3.2) */
    int r = mailimap_examine(client->imap, name);
    g_clear_pointer(&client->selected, g_free);
    if (r != MAILIMAP_NO_ERROR) {
        set_command_error(client, r, PAHT_ERROR_CONFIG, error, "IMAP EXAMINE %s", folder);
        return FALSE;
    }
    for (guint i = 0; i < n; i++) {
        found[i] = FALSE;
        if (message_ids[i] && !search_message_id(client, message_ids[i], &found[i], error))
            return FALSE;
    }
    uint64_t modseq = 0;
    if (!select_server_name(client, back, &modseq, error))
        return FALSE;
    /* the EXISTS of this SELECT stays news: mail may have come while we looked elsewhere */
    struct mailimap_selection_info *sel = client->imap->imap_selection_info;
    if (sel && sel->sel_uidvalidity != uidvalidity) {
        client->broken = TRUE;
        client->server_failed = TRUE;
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY,
                    "UIDVALIDITY of the selected folder on %s changed meanwhile", client->host);
        return FALSE;
    }
    return TRUE;
}

gboolean imap_client_usable(ImapClient *client)
{
    return client && !client->broken && client->imap && client->imap->imap_stream;
}

gboolean imap_client_server_failed(ImapClient *client)
{
    return !client || client->server_failed;
}

/* ---- waiting for new mail ----------------------------------------------------------------- */

gboolean imap_client_has_news(ImapClient *client)
{
    g_return_val_if_fail(client != NULL, FALSE);
    return client->imap && client->imap->imap_selection_info &&
           client->imap->imap_selection_info->sel_has_exists;
}

gboolean imap_client_can_idle(ImapClient *client)
{
    g_return_val_if_fail(client != NULL, FALSE);
    return client->imap && mailimap_has_idle(client->imap);
}

gboolean imap_client_noop(ImapClient *client, GError **error)
{
    g_return_val_if_fail(client != NULL, FALSE);
    if (!check_usable(client, error))
        return FALSE;
    int r = mailimap_noop(client->imap);
    if (r != MAILIMAP_NO_ERROR) {
        set_command_error(client, r, PAHT_ERROR_TEMPORARY, error, "IMAP NOOP");
        return FALSE;
    }
    return TRUE;
}

gboolean imap_client_idle(ImapClient *client, int max_ms, int wake_fd, GError **error)
{
    g_return_val_if_fail(client != NULL, FALSE);
    if (!check_usable(client, error))
        return FALSE;
    if (!client->imap->imap_selection_info) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_PERMANENT, "IMAP IDLE on %s: no folder selected",
                    client->host);
        return FALSE;
    }
    /* mailimap_idle forgets what the flag holds: mail announced earlier must be fetched first */
    if (imap_client_has_news(client))
        return TRUE;
    if (!imap_client_can_idle(client)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_PERMANENT, "IMAP server %s offers no IDLE",
                    client->host);
        return FALSE;
    }
    max_ms = CLAMP(max_ms, 0, IDLE_MAX_SECONDS * 1000);

    mailstream_low *low = mailstream_get_low(client->imap->imap_stream);
    time_t timeout = mailstream_low_get_timeout(low);
    mailstream_low_set_timeout(
        low, timeout > 0 && timeout < IDLE_START_TIMEOUT ? timeout : IDLE_START_TIMEOUT);
    int r = mailimap_idle(client->imap);
    mailstream_low_set_timeout(low, timeout);
    if (r != MAILIMAP_NO_ERROR) {
        set_command_error(client, r, PAHT_ERROR_TEMPORARY, error, "IMAP IDLE");
        client->broken = TRUE; /* the server may still be idling: nothing else can be sent */
        return FALSE;
    }

    /* An EXISTS sent right behind "+ idling" may already sit in libetpan's buffer, or in the
     * TLS stream's, where poll() cannot see it (notes/libraries.md) */
    if (client->imap->imap_stream->read_buffer_len == 0 && !imap_tls_pending(low)) {
        struct pollfd fds[2] = {
            {.fd = mailimap_idle_get_fd(client->imap), .events = POLLIN},
            {.fd = wake_fd, .events = POLLIN},
        };
        int n = poll(fds, wake_fd >= 0 ? 2 : 1, max_ms);
        if (n < 0 && errno != EINTR)
            log_debug("imap: poll while idling on %s: %s", client->host, g_strerror(errno));
        /* EINTR: a signal arrived; the caller looks at why once IDLE is done */
    }

    r = mailimap_idle_done(client->imap);
    if (r != MAILIMAP_NO_ERROR) {
        set_command_error(client, r, PAHT_ERROR_TEMPORARY, error, "IMAP IDLE (DONE)");
        client->broken = TRUE;
        return FALSE;
    }
    return TRUE;
}
