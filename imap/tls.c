/* tls: the TLS stream under libetpan's IMAP session, GnuTLS's transport ours.
 *
 * libetpan's own TLS stream hands GnuTLS the bare socket, and GnuTLS reads each record with
 * two recv() calls, its 5-byte header, then its body: Dovecot sends records of 4 KiB, so a
 * mailbox pass of 457 MB made 240,000 system calls to read (half of the mailbox process's,
 * strace). Here GnuTLS reads from a buffer that one recv() fills with what the socket holds,
 * up to TLS_READ_BYTES (bench/README.md, twenty-second pass). The rest is what libetpan's
 * stream did: the handshake (with SNI), time limits on every wait, and the certificate chain
 * for imap.c's own check, which runs before any credential is sent. The socket is
 * non-blocking; every wait is a poll() bounded by the stream's time limit. */
#include "imap/tls.h"

#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define TLS_READ_BYTES (64 * 1024)

typedef struct {
    int fd;
    gnutls_session_t session;
    gnutls_certificate_credentials_t credentials;
    char *in; /* read from the socket, not yet taken by GnuTLS: in[in_at..in_len) */
    gsize in_at, in_len;
    guint64 reads; /* recv() calls that brought bytes */
    guint64 asked; /* GnuTLS's reads of its transport (tls_pull), answered with bytes */
} Tls;

static gboolean set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

/* milliseconds left until deadline (monotonic µs), at least 0 */
static int ms_left(gint64 deadline)
{
    gint64 left = deadline - g_get_monotonic_time();
    return left <= 0 ? 0 : (int)MIN((left + 999) / 1000, G_MAXINT);
}

/* fd ready for events before deadline; FALSE on a time out or an error (errno set) */
static gboolean wait_ready(int fd, short events, gint64 deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, ms_left(deadline));
        if (n > 0)
            return TRUE;
        if (n == 0) {
            errno = ETIMEDOUT;
            return FALSE;
        }
        if (errno != EINTR)
            return FALSE;
    }
}

int imap_tcp_connect(const char *host, guint16 port, int timeout_seconds, GError **error)
{
    char service[8];
    g_snprintf(service, sizeof service, "%u", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *found = NULL;
    int r = getaddrinfo(host, service, &hints, &found);
    if (r != 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot resolve %s: %s", host,
                    gai_strerror(r));
        return -1;
    }
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_seconds * G_USEC_PER_SEC;
    int fd = -1, saved = 0;
    for (struct addrinfo *a = found; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 ||
            (errno == EINPROGRESS && wait_ready(fd, POLLOUT, deadline) &&
             getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0))
            break;
        saved = soerr ? soerr : errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(found);
    if (fd < 0)
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot connect to %s port %u: %s",
                    host, port, g_strerror(saved));
    return fd;
}

/* GnuTLS's transport: a buffer in front of the socket */
static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
    Tls *t = ptr;
    if (t->in_at == t->in_len) {
        ssize_t n = recv(t->fd, t->in, TLS_READ_BYTES, 0);
        if (n <= 0) {
            if (n < 0)
                gnutls_transport_set_errno(t->session, errno);
            return n;
        }
        t->in_at = 0;
        t->in_len = (gsize)n;
        t->reads++;
    }
    gsize n = MIN(len, t->in_len - t->in_at);
    memcpy(data, t->in + t->in_at, n);
    t->in_at += n;
    t->asked++;
    return (ssize_t)n;
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
    Tls *t = ptr;
    ssize_t n = send(t->fd, data, len, MSG_NOSIGNAL);
    if (n < 0)
        gnutls_transport_set_errno(t->session, errno);
    return n;
}

/* the stream's time limit (imap.c sets it per command), else libetpan's default */
static gint64 deadline_of(mailstream_low *s)
{
    time_t seconds = mailstream_low_get_timeout(s);
    if (seconds <= 0)
        seconds = mailstream_network_delay.tv_sec > 0 ? mailstream_network_delay.tv_sec : 15;
    return g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;
}

/* GnuTLS stopped short (GNUTLS_E_AGAIN): wait for the socket in the direction it needs. It
 * also stops after a record that carries no data (a TLS 1.3 session ticket) with the next
 * records still in our buffer: then there is nothing to wait for. */
static gboolean tls_wait(Tls *t, gint64 deadline)
{
    gboolean writing = gnutls_record_get_direction(t->session) == 1;
    if (!writing && t->in_at < t->in_len)
        return TRUE;
    return wait_ready(t->fd, writing ? POLLOUT : POLLIN, deadline);
}

static ssize_t tls_read(mailstream_low *s, void *buf, size_t count)
{
    Tls *t = s->data;
    gint64 deadline = deadline_of(s);
    for (;;) {
        ssize_t n = gnutls_record_recv(t->session, buf, count);
        if (n >= 0)
            return n; /* 0: the server closed the session */
        if ((n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED) || !tls_wait(t, deadline))
            return -1;
    }
}

static ssize_t tls_write(mailstream_low *s, const void *buf, size_t count)
{
    Tls *t = s->data;
    gint64 deadline = deadline_of(s);
    gsize done = 0;
    while (done < count) {
        ssize_t n = gnutls_record_send(t->session, (const char *)buf + done, count - done);
        if (n > 0) {
            done += (gsize)n;
            continue;
        }
        if ((n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED) || !tls_wait(t, deadline))
            return -1;
    }
    return (ssize_t)count;
}

static int tls_close(mailstream_low *s)
{
    Tls *t = s->data;
    if (t->fd < 0)
        return 0;
    gnutls_bye(t->session, GNUTLS_SHUT_WR); /* a courtesy: never waited for */
    int r = close(t->fd);
    t->fd = -1;
    return r;
}

static int tls_get_fd(mailstream_low *s)
{
    Tls *t = s->data;
    return t->fd;
}

static void tls_free_data(Tls *t)
{
    if (t->session)
        gnutls_deinit(t->session);
    if (t->credentials)
        gnutls_certificate_free_credentials(t->credentials);
    g_free(t->in);
    g_free(t);
}

static void tls_free(mailstream_low *s)
{
    tls_free_data(s->data);
    free(s); /* libetpan's: a driver frees its mailstream_low */
}

static void tls_cancel(mailstream_low *s)
{
    (void)s;
}

static struct mailstream_cancel *tls_get_cancel(mailstream_low *s)
{
    (void)s;
    return NULL;
}

/* the server's chain as libetpan gives it (DER in MMAPStrings), for imap.c's check */
static carray *tls_certificate_chain(mailstream_low *s)
{
    Tls *t = s->data;
    unsigned int n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(t->session, &n);
    if (!certs || n == 0)
        return NULL;
    carray *chain = carray_new(n);
    for (unsigned int i = 0; chain && i < n; i++) {
        MMAPString *der = mmap_string_new_len((const char *)certs[i].data, certs[i].size);
        if (der)
            carray_add(chain, der, NULL);
    }
    return chain;
}

static int tls_no_idle(mailstream_low *s)
{
    (void)s;
    return -1; /* not needed: imap.c waits with poll() (imap_tls_pending first) */
}

static mailstream_low_driver tls_driver = {
    .mailstream_read = tls_read,
    .mailstream_write = tls_write,
    .mailstream_close = tls_close,
    .mailstream_get_fd = tls_get_fd,
    .mailstream_free = tls_free,
    .mailstream_cancel = tls_cancel,
    .mailstream_get_cancel = tls_get_cancel,
    .mailstream_get_certificate_chain = tls_certificate_chain,
    .mailstream_setup_idle = tls_no_idle,
    .mailstream_unsetup_idle = tls_no_idle,
    .mailstream_interrupt_idle = tls_no_idle,
};

mailstream_low *imap_tls_open(int fd, const char *server_name, int timeout_seconds, GError **error)
{
    Tls *t = g_new0(Tls, 1);
    t->fd = fd;
    t->in = g_malloc(TLS_READ_BYTES);
    int r = set_nonblocking(fd) ? 0 : GNUTLS_E_PUSH_ERROR;
    if (r == 0)
        r = gnutls_certificate_allocate_credentials(&t->credentials);
    if (r == 0)
        r = gnutls_init(&t->session, GNUTLS_CLIENT);
    if (r == 0)
        r = gnutls_set_default_priority(t->session);
    if (r == 0)
        r = gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE, t->credentials);
    /* RFC 6066 §3: SNI carries host names only (imap.c gives none for an address) */
    if (r == 0 && server_name)
        r = gnutls_server_name_set(t->session, GNUTLS_NAME_DNS, server_name, strlen(server_name));
    if (r == 0) {
        gnutls_transport_set_ptr(t->session, t);
        gnutls_transport_set_pull_function(t->session, tls_pull);
        gnutls_transport_set_push_function(t->session, tls_push);
        gint64 deadline = g_get_monotonic_time() + (gint64)timeout_seconds * G_USEC_PER_SEC;
        while ((r = gnutls_handshake(t->session)) < 0 && !gnutls_error_is_fatal(r)) {
            if (!tls_wait(t, deadline)) {
                g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "TLS handshake: %s",
                            errno == ETIMEDOUT ? "timed out" : g_strerror(errno));
                t->fd = -1; /* the caller's to close */
                tls_free_data(t);
                return NULL;
            }
        }
    }
    if (r < 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "TLS handshake: %s",
                    gnutls_strerror(r));
        t->fd = -1;
        tls_free_data(t);
        return NULL;
    }
    mailstream_low *low = mailstream_low_new(t, &tls_driver);
    if (!low) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "libetpan: out of memory");
        t->fd = -1;
        tls_free_data(t);
        return NULL;
    }
    mailstream_low_set_timeout(low, timeout_seconds);
    return low;
}

gboolean imap_tls_pending(mailstream_low *low)
{
    if (!low || low->driver != &tls_driver)
        return FALSE;
    Tls *t = low->data;
    return t->in_at < t->in_len || gnutls_record_check_pending(t->session) > 0;
}

guint64 imap_tls_socket_reads(mailstream_low *low, guint64 *asked)
{
    *asked = 0;
    if (!low || low->driver != &tls_driver)
        return 0;
    Tls *t = low->data;
    *asked = t->asked;
    return t->reads;
}
