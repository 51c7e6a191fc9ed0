/* tls: the TLS stream under libetpan's IMAP session (tls.c), private to imap/ */
#ifndef PAHT_IMAP_TLS_H
#define PAHT_IMAP_TLS_H

#include <glib.h>
#include <libetpan/libetpan.h>

G_BEGIN_DECLS

/* A TCP connection to host:port, made within timeout_seconds: a non-blocking socket, or -1
 * and a PAHT_ERROR_TEMPORARY error. */
int imap_tcp_connect(const char *host, guint16 port, int timeout_seconds, GError **error);

/* TLS on the connected socket fd, as the low level of a libetpan stream: the handshake done
 * (server_name: SNI, or NULL), within timeout_seconds, which also bounds every later wait
 * (mailstream_low_set_timeout changes it). The stream owns fd from then on. NULL and a
 * PAHT_ERROR_TEMPORARY error otherwise, fd left to the caller. The server's certificate is not
 * checked here: the caller checks its chain (mailstream_get_certificate_chain) before it
 * sends anything. */
mailstream_low *imap_tls_open(int fd, const char *server_name, int timeout_seconds, GError **error);

/* TRUE when low is such a stream holding bytes received but not yet read: poll() on its
 * socket cannot see them */
gboolean imap_tls_pending(mailstream_low *low);

/* how many reads of the socket brought bytes, for such a stream (0 for another); *asked: how
 * many reads GnuTLS asked of it, each of which it would have made of the socket itself */
guint64 imap_tls_socket_reads(mailstream_low *low, guint64 *asked);

G_END_DECLS

#endif
