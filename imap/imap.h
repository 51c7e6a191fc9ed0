/* imap: an IMAP client for one mailbox (libetpan), knowing nothing of MIME.
 *
 * Connects with implicit TLS (imaps) or STARTTLS (imap; plaintext login is never done), and
 * verifies the server certificate itself with GnuTLS, since libetpan does not: trust from the
 * system store or ca_file, host name checked. Then LOGIN, SELECT, UID SEARCH for new mail,
 * streaming BODY.PEEK[] into a file descriptor (never \Seen, never the whole message in
 * memory), and moving processed mail to another folder (MOVE, else UID COPY + \Deleted +
 * UID EXPUNGE; without UIDPLUS the original is only flagged \Deleted, and a warning logged).
 *
 * New mail is noticed cheaply, whatever the size of the mailbox: SELECT gives UIDNEXT once per
 * connection; afterwards the server's EXISTS responses (RFC 3501 §7.3.1), received during IDLE
 * (RFC 2177) or in answer to a NOOP, raise a "news" flag, and only then is UID SEARCH sent.
 * An idle cycle therefore costs one command (IDLE ... DONE, or NOOP); no UID list is fetched.
 *
 * Errors: PAHT_ERROR_CONFIG (certificate not trusted, login refused, server without
 * STARTTLS, a folder that cannot be selected or created), PAHT_ERROR_TEMPORARY (connection
 * lost, timeout, server busy), PAHT_ERROR_PERMANENT (the message is gone, a command refused
 * for it). After a TEMPORARY error the client is unusable: close it and connect again.
 *
 * The program must ignore SIGPIPE: libetpan writes to its sockets without MSG_NOSIGNAL.
 */
#ifndef PAHT_IMAP_H
#define PAHT_IMAP_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    const char *host;
    int port;
    gboolean implicit_tls;
    gboolean tls_verify;
    const char *ca_file; /* NULL: system trust store */
    const char *user;
    const char *password;
    int timeout_seconds;
    /* optional: append every command line sent (LOGIN redacted) to this file; tests count
     * the commands of an idle cycle with it */
    const char *protocol_log;
} ImapOptions;

typedef struct ImapClient ImapClient;

ImapClient *imap_client_connect(const ImapOptions *opts, GError **error);
/* LOGOUT (best effort) and free; NULL is fine */
void imap_client_close(ImapClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImapClient, imap_client_close)

gboolean imap_client_has_capability(ImapClient *client, const char *name);

typedef struct {
    guint32 uidvalidity;
    guint32 uidnext;
    guint32 exists;
    guint64 highestmodseq; /* 0 without CONDSTORE */
} ImapMailboxInfo;

gboolean imap_client_select(ImapClient *client, const char *mailbox, ImapMailboxInfo *info,
                            GError **error);

/* UIDs >= first_uid in the selected mailbox, ascending (the n:* quirk filtered out). Clears the
 * news flag first: whatever arrived before the search is in its answer. */
GArray *imap_client_search_from(ImapClient *client, guint32 first_uid, GError **error);

typedef struct {
    guint32 uid;
    gint64 size;        /* RFC822.SIZE */
    char *message_id;   /* from the envelope, without <>; NULL if none */
    char *from_address; /* the envelope's first From address (local@domain, domain lowercase);
                           NULL if none or unusable. Only for answering mail that is never
                           downloaded (too large): the parser reads the real headers. */
} ImapMessageInfo;

void imap_message_info_free(ImapMessageInfo *info);
/* size, Message-ID and From of these UIDs (one FETCH of UID RFC822.SIZE ENVELOPE); UIDs that
 * vanished are simply absent */
GPtrArray *imap_client_fetch_info(ImapClient *client, const guint32 *uids, guint n_uids,
                                  GError **error);

/* Streams BODY.PEEK[] of uid into fd. expected_size (from fetch_info, or -1) is checked:
 * a short or missing body is PAHT_ERROR_TEMPORARY, a vanished UID PAHT_ERROR_PERMANENT. */
gboolean imap_client_fetch_to_fd(ImapClient *client, guint32 uid, int fd, gint64 expected_size,
                                 gint64 *written, GError **error);

/* CREATE the folder unless it exists (and subscribe it) */
gboolean imap_client_ensure_folder(ImapClient *client, const char *folder, GError **error);
/* Moves uid from the selected mailbox to folder (which must exist). A UID already gone
 * counts as moved. */
gboolean imap_client_move(ImapClient *client, guint32 uid, const char *folder, GError **error);
/* The same for many UIDs of the selected mailbox (ascending), in one command. */
gboolean imap_client_move_uids(ImapClient *client, const guint32 *uids, guint n_uids,
                               const char *folder, GError **error);

/* ---- waiting for new mail -------------------------------------------------------------------
 * The news flag: the server announced messages (an EXISTS response) since the last SELECT or
 * UID SEARCH. Set by any command's untagged responses, by NOOP and by IDLE. */

gboolean imap_client_has_news(ImapClient *client);

/* RFC 2177 IDLE offered by the server (after login) */
gboolean imap_client_can_idle(ImapClient *client);

/* NOOP (RFC 3501 §6.1.2): the server reports what changed in the selected mailbox. One command:
 * the cheap "anything new?" when the server has no IDLE. */
gboolean imap_client_noop(ImapClient *client, GError **error);

/* Waits in IDLE for at most max_ms milliseconds, or until the server sends something, or until
 * wake_fd
 * (-1: none) is readable (a signal arrived), then ends it with DONE: one command. Does nothing
 * when news is already pending (an IDLE would hide it). Look at imap_client_has_news afterwards.
 * The wait is bounded because a TLS record the library has read but not yet handed over is
 * invisible to poll(): whatever arrived is read at DONE at the latest. */
gboolean imap_client_idle(ImapClient *client, int max_ms, int wake_fd, GError **error);

G_END_DECLS

#endif
