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
 * lost, timeout, server busy), PAHT_ERROR_PERMANENT (a command refused for one message),
 * PAHT_ERROR_NOT_FOUND (a message the server confirms gone). After a TEMPORARY error the
 * client is unusable: close it and connect again.
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
/* How many reads of the socket brought bytes since the session went to TLS: each fills a
 * buffer with what the socket holds (imap/tls.c). *tls_asked: how many reads GnuTLS asked
 * of that buffer, two a TLS record (its header, its body), each of which was a read of the
 * socket before. For the tests. */
guint64 imap_client_socket_reads(ImapClient *client, guint64 *tls_asked);

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
    gint64 size; /* RFC822.SIZE */
} ImapMessageInfo;

/* RFC822.SIZE of these UIDs (one FETCH of UID RFC822.SIZE: never the ENVELOPE, whose size
 * the sender decides), as ImapMessageInfo in UID order; UIDs the server does not answer for
 * are absent. Ask in bounded chunks: the answer is held in memory. */
GArray *imap_client_fetch_sizes(ImapClient *client, const guint32 *uids, guint n_uids,
                                GError **error);

/* *exists: UID SEARCH UID uid lists it in the selected mailbox */
gboolean imap_client_uid_exists(ImapClient *client, guint32 uid, gboolean *exists, GError **error);

/* Streams BODY.PEEK[] of uid into fd, never more than max(expected_size, max_bytes) bytes
 * (max_bytes <= 0: no bound); expected_size is RFC822.SIZE, or -1. A literal of another
 * length than expected_size is taken as received, with a warning. Errors:
 * PAHT_ERROR_NOT_FOUND only when the server confirms the UID is gone (no body, and UID SEARCH
 * does not list it): the caller may pass over it; PAHT_ERROR_PERMANENT when the server refused
 * or sent no body for a message it still lists, or the literal ran past the bound;
 * PAHT_ERROR_TEMPORARY when the connection failed or the file could not be written. After
 * any error other than NOT_FOUND, see imap_client_usable. */
gboolean imap_client_fetch_to_fd(ImapClient *client, guint32 uid, int fd, gint64 expected_size,
                                 gint64 max_bytes, gint64 *written, GError **error);

/* Where the bodies of a download of several messages go, one after the other. A message's
 * UID is known only at its end (the server may name it after the body). */
typedef struct {
    /* a message begins; FALSE (with *error) aborts the download */
    gboolean (*begin)(gpointer data, GError **error);
    /* its next bytes */
    gboolean (*write)(gpointer data, const void *bytes, gsize len, GError **error);
    /* it is whole, size bytes, and is the message at uid; uid 0: it was cut off (the download
     * failed), drop it */
    void (*end)(gpointer data, guint32 uid, gint64 size);
    gpointer data;
} ImapBodyReceiver;

/* Streams BODY.PEEK[] of the n messages (ascending UIDs; size: RFC822.SIZE, -1 unknown) in
 * one UID FETCH, each to rx as it arrives: no message waits for a round trip of its own. No
 * message may exceed max(size, max_bytes) (max_bytes <= 0: no bound). *delivered: how many
 * messages reached rx->end with their UID. A message the server skips, answers without its
 * body, or that the failure of the command cut off never reaches rx->end whole: fetch those
 * one by one (imap_client_fetch_to_fd), which says why. Errors: TEMPORARY (the connection),
 * PERMANENT (the server refused the command, or a message ran past its bound), or the
 * receiver's; after any, see imap_client_usable. */
gboolean imap_client_fetch_bodies(ImapClient *client, const ImapMessageInfo *messages, guint n,
                                  gint64 max_bytes, const ImapBodyReceiver *rx, guint *delivered,
                                  GError **error);
/* The same in two halves, so that the caller works while the server streams the answer: the
 * command sent (the server starts at once), then its answer read, each body to rx. Between
 * the two no other command may be sent. A failed send is the command's failure: nothing is to
 * be read. */
gboolean imap_client_fetch_bodies_send(ImapClient *client, const ImapMessageInfo *messages, guint n,
                                       gint64 max_bytes, GError **error);
gboolean imap_client_fetch_bodies_receive(ImapClient *client, const ImapBodyReceiver *rx,
                                          guint *delivered, GError **error);

/* BODY.PEEK[HEADER.FIELDS (names...)]<0.max_bytes> of uid: those headers only, at most
 * max_bytes of them (a message too large to download still has a sender to answer) */
GBytes *imap_client_fetch_header_fields(ImapClient *client, guint32 uid, const char *const *names,
                                        guint32 max_bytes, GError **error);

/* FALSE after an error that left the session unusable: close it and connect again */
gboolean imap_client_usable(ImapClient *client);
/* TRUE when the last command failed at the server: it refused it, or the connection failed on
 * it. FALSE when the server carried it out, even if what the caller did with the answer failed
 * (a file that could not be written). TRUE for NULL (no session). */
gboolean imap_client_server_failed(ImapClient *client);

/* CREATE the folder unless it exists (and subscribe it) */
gboolean imap_client_ensure_folder(ImapClient *client, const char *folder, GError **error);
/* Moves uid from the selected mailbox to folder (which must exist). A UID already gone
 * counts as moved. */
gboolean imap_client_move(ImapClient *client, guint32 uid, const char *folder, GError **error);
/* The same for many UIDs of the selected mailbox (ascending), in one command (MOVE), or in
 * the two steps below when the server has no MOVE. */
gboolean imap_client_move_uids(ImapClient *client, const guint32 *uids, guint n_uids,
                               const char *folder, GError **error);

/* RFC 6851 MOVE offered: a move is one atomic command. Without it a move is UID COPY, then
 * \Deleted and UID EXPUNGE (RFC 4315; without UIDPLUS the original is only flagged): a crash
 * in between leaves the message in both folders, so the caller records each step. */
gboolean imap_client_can_move(ImapClient *client);
gboolean imap_client_copy_uids(ImapClient *client, const guint32 *uids, guint n_uids,
                               const char *folder, GError **error);
gboolean imap_client_delete_uids(ImapClient *client, const guint32 *uids, guint n_uids,
                                 GError **error);
/* found[i]: folder holds a message with message_ids[i] (NULL: not looked for, FALSE). Looks
 * with EXAMINE folder and UID SEARCH HEADER Message-ID, then selects the current folder again
 * (PAHT_ERROR_TEMPORARY, session unusable, if its UIDVALIDITY changed meanwhile). For the
 * rare moment after a crash between a copy and its record: it costs three commands or more. */
gboolean imap_client_folder_has_message_ids(ImapClient *client, const char *folder,
                                            const char *const *message_ids, guint n,
                                            gboolean *found, GError **error);

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
