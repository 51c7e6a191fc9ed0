/* gateway: the pipeline that pahtd and pahtctl share, and nothing they do not.
 *
 *   fetch (imap) -> record (queue) -> parse (parse) -> decide (queue) -> answer (notify)
 *
 * A Gateway holds the configuration (borrowed), the store, and the data folder layout:
 *   data_dir/raw/ab/<sha256>.eml   every message as received, content-addressed
 *   data_dir/att/ab/<sha256>       every attachment, content-addressed
 *   data_dir/tmp/                  work in progress; emptied at start
 * all private (0700 folders, 0600 files).
 */
#ifndef PAHT_GATEWAY_H
#define PAHT_GATEWAY_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include "conf/conf.h"
#include "queue/queue.h"

G_BEGIN_DECLS

typedef struct Gateway Gateway;

/* config is borrowed and must outlive the gateway */
Gateway *gateway_open(const Config *config, GError **error);
void gateway_close(Gateway *gateway);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Gateway, gateway_close)

Store *gateway_store(Gateway *gateway);
const Config *gateway_config(Gateway *gateway);

/* ---- inbound --------------------------------------------------------------------------------- */

typedef struct {
    gint64 raw_id;
    gint64 report_id; /* 0 when the message made no report (auto, bounce) */
    char *code;       /* tracking code, or NULL */
    char *classification;
    gboolean duplicate; /* the same message was recorded before: nothing new was done */
    gboolean unparsed;  /* kept aside: parse failed */
} IngestResult;

void ingest_result_clear(IngestResult *result);

/* Runs the whole inbound pipeline on a message file outside IMAP (pahtctl ingest): records a
 * private copy, parses it, creates the draft and enqueues the answers in one transaction.
 * A file already recorded (same content) is reported as a duplicate and not processed again.
 */
gboolean gateway_ingest_file(Gateway *gateway, const char *path, IngestResult *result,
                             GError **error);

/* One pass over the IMAP mailbox: finish what a crash left half done, fetch and process every
 * new message (each in the parser process, under its time limit), move each to the processed
 * (or quarantine) folder after its commit. The connection stays open between passes; a pass
 * with nothing new sends no IMAP command. Stops early, between messages, on SIGTERM.
 * *processed counts messages handled in this pass. PAHT_ERROR_CONFIG when the server refuses
 * us (certificate, login): the administrator must act. */
gboolean gateway_sync_mailbox(Gateway *gateway, int *processed, GError **error);

/* ---- outbound -------------------------------------------------------------------------------- */

/* Sends every letter that is due, over one SMTP connection, then (at most hourly) one digest
 * of the letters that failed to the IOC. *sent and *failed count this pass. SMTP problems are
 * recorded on the letters; errors are for the store, and PAHT_ERROR_CONFIG when the server
 * refuses us (login, certificate, our envelope sender): sending then stops, the letters wait
 * without losing attempts and the IOC is alerted once per outage. */
gboolean gateway_flush_outbox(Gateway *gateway, int *sent, int *failed, GError **error);

/* pahtctl resend: a failed letter is queued again with a fresh retry window, and a suspension
 * of its address is lifted (the operator vouches for the address). *suspension_lifted (may be
 * NULL) tells whether there was one. PAHT_ERROR_REFUSED unless the letter failed. */
gboolean gateway_resend_letter(Gateway *gateway, gint64 letter_id, gboolean *suspension_lifted,
                               GError **error);

/* ---- the daemon ------------------------------------------------------------------------------ */

typedef struct {
    gboolean once; /* one pass of everything, then return */
    /* a signalfd (SIGTERM, SIGINT, SIGHUP, blocked by the caller) or -1. Signals are read
     * from it, never caught by a handler: a handler would interrupt libetpan's I/O, which
     * treats EINTR as a lost connection. SIGTERM/SIGINT: finish the message in hand, then
     * return; SIGHUP: re-read config_path (refused and logged if it is bad). */
    int signal_fd;
    const char *config_path;
} RunOptions;

/* pahtd's loop: sync the mailbox -> (scheduler) -> flush the outbox -> wait (IDLE, or
 * poll_seconds then NOOP); until SIGTERM. A mailbox that cannot be reached is retried with
 * exponential backoff while the outbox keeps running; after 30 minutes the IOC is told, and
 * again when it is back. With systemd (NOTIFY_SOCKET) it reports readiness, status and
 * watchdog pings. Returns FALSE with an error only for what must stop the daemon, and in
 * --once mode when the mailbox or the outbox failed. */
gboolean gateway_run(Gateway *gateway, const RunOptions *options, GError **error);

/* ---- isolation ------------------------------------------------------------------------------- */

/* pahtctl reprocess: runs a message that was kept aside (unparsed or quarantined) through the
 * pipeline again, in this process. result->unparsed says it failed again (the reason is on its
 * raw message). PAHT_ERROR_NOT_FOUND for no such message; PAHT_ERROR_REFUSED when it was
 * processed already or pahtd has not yet set it aside. */
gboolean gateway_reprocess(Gateway *gateway, gint64 raw_id, IngestResult *result, GError **error);

/* pahtd --worker: the child process pahtd starts to parse messages (app/worker.c), talking
 * over fd. keywords_path: the keyword lists pahtd checked and gave it ("" the built-in ones,
 * NULL those the configuration names). Returns the exit status. */
int gateway_worker_main(const char *config_path, const char *keywords_path, int fd);

/* What a configuration names besides itself and must hold before mail is parsed with it:
 * the keywords file (conf/keywords.conf format). A broken one would make every message fail
 * in the parser, so it is refused where the configuration is: pahtd at start, --check-config
 * and SIGHUP, pahtctl before ingest and reprocess. PAHT_ERROR_CONFIG naming the file and
 * line. */
gboolean gateway_check_config(const Config *config, GError **error);

/* An exclusive lock for the one fetcher of a database (SPEC §3.1: overlapping fetchers are
 * the classic source of duplicate tickets). Returns the lock fd, or -1 with an error naming
 * the holder. Released when the process exits. */
int gateway_lock_fetcher(const Config *config, GError **error);

/* ---- presentation (pahtctl) ------------------------------------------------------------------ */

JsonNode *report_to_json(const Report *report, GTimeZone *zone);
JsonNode *report_summary_to_json(const ReportSummary *summary, GTimeZone *zone);
JsonNode *outbox_entry_to_json(const OutboxEntry *entry, GTimeZone *zone);
JsonNode *ingest_result_to_json(const char *file, const IngestResult *result);

G_END_DECLS

#endif
