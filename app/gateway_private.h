/* Private to app/: the Gateway's parts, shared by the files of the pipeline
 * (gateway.c: setup and the daemon loop; inbound.c: record, parse, decide; mailbox.c: IMAP;
 * outbound.c: the outbox; worker.c: parsing in a supervised child process; quarantine.c:
 * mail set aside). */
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
void gateway_remove_tree(const char *path);
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

#endif
