/* Private to app/: the Gateway's parts, shared by the files of the pipeline
 * (gateway.c: setup and the daemon loop; inbound.c: record, parse, decide; mailbox.c: IMAP;
 * outbound.c: the outbox; bounce.c: delivery status notifications; worker.c: parsing in a
 * supervised child process; quarantine.c: mail set aside). */
#ifndef PAHT_APP_GATEWAY_PRIVATE_H
#define PAHT_APP_GATEWAY_PRIVATE_H

#include "app/gateway.h"
#include "imap/imap.h"
#include "notify/notify.h"

/* a message whose processing was started this many times without finishing (the process
 * died each time: a crash in a library, a hang killed by the watchdog) is set aside */
#define MAX_PROCESSING_ATTEMPTS 3

typedef struct Worker Worker;

struct Gateway {
    const Config *config;
    Config *owned_config; /* a configuration reloaded on SIGHUP (the first is the caller's) */
    Store *store;
    char *raw_dir, *att_dir, *tmp_dir;
    ImapClient *imap;
    gboolean folders_ready;
    gboolean selected;     /* the watched folder is selected on imap */
    guint32 uidvalidity;   /* ... with this UIDVALIDITY */
    gboolean sync_pending; /* the last pass did not finish: look for mail even without news */
    gboolean recovering;   /* no pass has run yet: a message still "fetched" is one whose
                              processing the previous process did not survive */
    SmtpSender *smtp;
    Worker *worker; /* the child that parses (worker.c); NULL until the first message */
    /* pahtd: the private copy of the keywords file its parser reads (tmp_dir/keywords.conf),
     * taken when the file was checked at start or by an accepted reload; NULL: the built-in
     * lists */
    char *keywords_copy;

    /* the daemon (gateway.c) */
    int signal_fd;        /* -1 outside gateway_run */
    gboolean stop;        /* SIGTERM/SIGINT seen: finish the message in hand, then stop */
    gboolean reload;      /* SIGHUP seen */
    gint64 watchdog_usec; /* systemd's WatchdogSec, 0 when off */
    gint64 watchdog_last; /* monotonic time of the last ping */
};

/* inbound.c */

/* Parses a recorded raw message and commits what it becomes. A message parse refuses is
 * marked unparsed (kept, never lost) and reported in out->unparsed: that is not an error. */
gboolean inbound_process_raw(Gateway *gw, const RawMessage *raw, IngestResult *out, GError **error);
/* Takes a finished temp file into the raw store (content-addressed, durable); returns its
 * stored path, with its digest and size. */
char *inbound_commit_raw_file(Gateway *gw, const char *temp_path, char **sha256_out,
                              gint64 *size_out, GError **error);

/* gateway.c */
/* removes the work folders of processes that died (a parser process killed mid-message leaves
 * partial attachments: citizens' data, and possibly large) */
void gateway_remove_dead_work(Gateway *gw);
/* reads pending signals (never blocks): sets gw->stop / gw->reload; TRUE if stopping */
gboolean gateway_stopping(Gateway *gw);
/* tells systemd we are alive, when its watchdog is on and a ping is due */
void gateway_keepalive(Gateway *gw);

/* mailbox.c */
/* closes the IMAP session (the next pass reconnects) */
void mailbox_disconnect(Gateway *gw);

/* worker.c */

/* Processes a recorded message in the worker under message_timeout_seconds. A message the
 * worker could not finish (timed out, crashed) is marked unparsed with the reason and comes
 * back with out->unparsed: not an error. Errors: the worker cannot start, or the database or
 * configuration failed for this message (it stays "fetched" and is tried again). */
gboolean worker_process(Gateway *gw, const RawMessage *raw, IngestResult *out, GError **error);
/* The same in two halves, so that the daemon can fetch the next message while the parser
 * works on this one: one message at a time is in the parser's hands, and every submit must
 * be collected (its time limit runs from the submit). */
gboolean worker_submit(Gateway *gw, gint64 raw_id, GError **error);
gboolean worker_collect(Gateway *gw, gint64 raw_id, IngestResult *out, GError **error);
/* starts the worker now if there is none: pahtd does so at start and after a reload, so that
 * the child reads the configuration file when pahtd did (a file edited later and refused on
 * SIGHUP does not reach it). A failure is logged; the next message tries again. */
void worker_prepare(Gateway *gw);
/* ends the worker (it finishes nothing: call between messages); NULL-safe */
void worker_stop(Gateway *gw);

/* quarantine.c */

/* the IOC alert for a message set aside (once per message) */
gboolean quarantine_alert_unparsed(Gateway *gw, const RawMessage *raw, GError **error);
/* A message above max_message_bytes, never downloaded: asks its sender (envelope From) for
 * fewer or smaller files and alerts the IOC, each once per message, in one transaction. The
 * caller moves it to the quarantine folder afterwards. */
gboolean quarantine_too_large(Gateway *gw, const char *mailbox, guint32 uidvalidity,
                              const ImapMessageInfo *info, GError **error);

/* outbound.c: the envelope sender of every letter is VERP-style (SPEC §8 bounces):
 * <local>+b-<letter id>-<mac>@<domain> of [smtp] from, mac the first 16 hex digits of
 * HMAC-SHA256(key, "b-<id>-<Message-ID>"), so that a bounce names its letter and a stranger
 * cannot fail someone else's letter. */

/* The HMAC key: [smtp] bounce_secret_file when pahtd read it; else the gateway's own key in
 * data_dir/bounce.key (64 hex digits, 0600), created when create is TRUE and it is missing.
 * NULL with no error when there is none and create is FALSE. */
GBytes *outbound_bounce_key(const Config *config, gboolean create, GError **error);
/* the envelope sender for letter id; NULL when from has no room for the token (local part
 * longer than 64 characters with it) or is not an address */
char *outbound_envelope_address(const char *from, gint64 id, const char *message_id, GBytes *key);
/* the letter id an address of the form above names (our from's local part and domain), or 0;
 * the mac is not checked here */
gint64 outbound_envelope_letter(const char *address, const char *our_from);
/* TRUE for an RFC 3463 status that suspends the address (SPEC §8): 5.x.x except 5.2.2,
 * mailbox full, which is the citizen's to fix and no reason to stop writing to them, and
 * except 5.3.x, 5.6.x and 5.7.x, which are about our letter or our mail, not the address */
gboolean outbound_status_suspends(const char *status);
/* A letter failed for good (an SMTP 5xx, a DSN), in the caller's transaction: an event on its
 * report and, when suspend, the address suspended for 60 days (never the IOC's, an agency's
 * or our own: those must be fixed in the configuration, not silenced). *until (may be NULL)
 * gets the end of the suspension, 0 if none. */
gboolean outbound_letter_failed(Gateway *gw, gint64 letter_id, gint64 report_id, const char *kind,
                                const char *rcpt, const char *status, const char *reason,
                                gboolean suspend, gint64 *until, GError **error);

/* bounce.c: a delivery status notification (classification bounce), in the caller's
 * transaction: recorded, matched to its letter (envelope token, else the original
 * Message-ID), and the letter failed; one that matches nothing is only recorded. */
gboolean bounce_intake(Gateway *gw, gint64 raw_id, const Draft *draft, GError **error);

#endif
