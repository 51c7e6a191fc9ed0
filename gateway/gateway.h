/* gateway: the pipeline that pahtd and pahtctl share (and the web console will), and nothing
 * they do not.
 *
 *   fetch (imap) -> record (queue) -> parse (parse) -> decide (lifecycle, letters) -> answer
 *   (the outbox, sent by notify)
 *
 * Each function is named after its file: gateway_* (gateway.c), inbound_*, mailbox_*,
 * held_*, outbound_*, quarantine_*, worker_*, scheduler_*, daemon_*.
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
#include "conf/conf.h"
#include "lifecycle/lifecycle.h"

G_BEGIN_DECLS

/* ---- the gateway (gateway.c) ----------------------------------------------------------------- */

typedef struct Gateway Gateway;

/* config is borrowed and must outlive the gateway. Makes the folders of data_dir and opens
 * the database; refused (PAHT_ERROR_CONFIG, saying what to chown) when data_dir, its folders
 * or the database's files belong to another user than this process. gateway_open brings an
 * older schema up to date (pahtd); gateway_open_with(STORE_SCHEMA_EXACT) refuses a database
 * of another schema version than this program's (pahtctl). */
Gateway *gateway_open(const Config *config, GError **error);
Gateway *gateway_open_with(const Config *config, StoreSchemaPolicy policy, GError **error);
void gateway_close(Gateway *gateway);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Gateway, gateway_close)

Store *gateway_store(Gateway *gateway);
const Config *gateway_config(Gateway *gateway);

/* What a configuration names besides itself and must hold before mail is parsed with it:
 * the keywords file (conf/keywords.conf format), and the letters' templates with labels.ini
 * (letters_check_templates). A broken one would make every message fail in the parser, or
 * every letter that needs the template, so it is refused where the configuration is: pahtd
 * at start, --check-config and SIGHUP (a template in the running folder is only said there:
 * letters read it as it is), pahtctl before ingest and reprocess. PAHT_ERROR_CONFIG naming
 * the file and line. */
gboolean gateway_check_config(const Config *config, GError **error);

/* Issue 11.4: the database and data_dir belong to one user, the service user (paht), and so
 * must every file the programs make there. A process of that user goes on; root becomes that
 * user for good (groups, group, uid), before it opens anything; any other user is refused
 * (PAHT_ERROR_CONFIG) with *run_as (may be NULL) set to the owner's name (for a "sudo -u
 * OWNER ..." hint). Also refused: a database and a data_dir that belong to two users. Call
 * after config_load, before gateway_lock_fetcher and gateway_open. */
gboolean gateway_become_owner(const Config *config, char **run_as, GError **error);

/* An exclusive lock for the one fetcher of a database (SPEC §3.1: overlapping fetchers are
 * the classic source of duplicate tickets), next to the database (its folder is made if
 * needed). Returns the lock fd, or -1 with an error naming the holder. Released when the
 * process exits. */
int gateway_lock_fetcher(const Config *config, GError **error);

/* ---- inbound (inbound.c) --------------------------------------------------------------------- */

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
 * A mail already recorded (the same bytes, or the same Message-ID and body: the same mail
 * fetched over IMAP, or saved again) is reported as a duplicate and not processed again;
 * pahtd likewise never processes again a mail ingested first.
 */
gboolean inbound_ingest_file(Gateway *gateway, const char *path, IngestResult *result,
                             GError **error);

/* ---- reports filed over Open311 (submission.c) ------------------------------------------------
 */

/* What an Open311 client sent (issue 15), checked by the caller; every string NFC UTF-8 or
 * NULL. */
typedef struct {
    const char *client;       /* the API key's client name: [A-Za-z0-9._-] */
    const char *service_code; /* a category's code */
    const char *service_name; /* its name */
    const char *description;
    gboolean has_coordinates;
    double lat, lon;
    const char *address_string; /* the place */
    const char *email;          /* answers go there; NULL: none is sent */
    const char *first_name, *last_name, *phone;
    const char *media_url;         /* named in the text, never fetched */
    const char *const *attributes; /* code, value, code, value, ..., NULL */
} Submission;

/* An Open311 report goes the way of a mail (SPEC §3): it is written as the message a citizen
 * would have sent (From the e-mail given, else a no-reply address that is never answered;
 * the details as labelled lines; X-PAHT-Open311-Client naming the client), recorded and
 * processed by inbound_ingest_file's path: the same checks, draft, classification, rules
 * and answers. result as ingest's. */
gboolean inbound_submit(Gateway *gateway, const Submission *submission, IngestResult *result,
                        GError **error);

/* ---- the IMAP inbox (mailbox.c) -------------------------------------------------------------- */

/* One pass over the IMAP mailbox: finish what a crash left half done, fetch and process every
 * new message (each in the parser process, under its time limit), move each to the processed
 * (or quarantine) folder after its commit. A message that cannot be fetched or recorded is
 * tried again in a later pass and fails neither this pass nor the others (after an hour of
 * tries it is set aside and the IOC told). The connection stays open between passes; a pass
 * with nothing new sends no IMAP command. Stops early, between messages, on SIGTERM.
 * *processed counts messages handled in this pass. PAHT_ERROR_CONFIG when the server refuses
 * us (certificate, login): the administrator must act. */
gboolean mailbox_sync(Gateway *gateway, int *processed, GError **error);

/* The IMAP session begun before the gateway is opened (pahtd, after the fetcher lock and with
 * signals blocked): the connection, STARTTLS, LOGIN and the two folders in a thread of their
 * own while the database opens (its migrations on a first start), instead of after it. The
 * gateway takes it (mailbox_take_ahead) and its first pass uses it, or its failure as its
 * own; one left unused is closed by mailbox_ahead_free, or by daemon_run at its end. */
typedef struct MailboxAhead MailboxAhead;
MailboxAhead *mailbox_connect_ahead(const Config *config);
void mailbox_take_ahead(Gateway *gateway, MailboxAhead *ahead);
void mailbox_ahead_free(MailboxAhead *ahead);

/* ---- mail the IOC must vouch for (issue 11, held.c) ------------------------------------------ */

/* pahtctl supplement N --confirm|--discard: a pending supplement (a reply tied to its report
 * only by its forgeable sender, or one the MX doubts) is added to its report as a reply, with
 * the answers a reply gets, or discarded; by actor, in one transaction. result tells the
 * report. PAHT_ERROR_NOT_FOUND, PAHT_ERROR_REFUSED when it was decided already. */
gboolean held_supplement_decide(Gateway *gateway, gint64 pending_id, gboolean confirm,
                                const char *actor, IngestResult *result, GError **error);

/* pahtctl answer ID: the automatic answer a report waiting for the IOC did not get (its
 * sender failed DMARC or was flagged as spam, a rate limit held it) goes to the address the
 * report came from, with an "answered_by_ioc" event. PAHT_ERROR_REFUSED when the report is
 * past the IOC's review, a complaint, without a sender, or answered already. */
gboolean held_answer_by_ioc(Gateway *gateway, gint64 report_id, const char *actor, GError **error);

/* ---- outbound (outbound.c) ------------------------------------------------------------------- */

/* Sends every letter that is due, over one SMTP connection, then (at most hourly) one digest
 * of the letters that failed to the IOC. *sent and *failed count this pass. SMTP problems are
 * recorded on the letters; errors are for the store, and PAHT_ERROR_CONFIG when the server
 * refuses us (login, certificate, our envelope sender): sending then stops, the letters wait
 * without losing attempts and the IOC is alerted once per outage. */
gboolean outbound_flush(Gateway *gateway, int *sent, int *failed, GError **error);

/* pahtctl resend: a failed letter is queued again with a fresh retry window, and a suspension
 * of its address is lifted (the operator vouches for the address). *suspension_lifted (may be
 * NULL) tells whether there was one. PAHT_ERROR_REFUSED unless the letter failed. */
gboolean outbound_resend(Gateway *gateway, gint64 letter_id, gboolean *suspension_lifted,
                         GError **error);

/* The key that signs envelope senders ([smtp] bounce_secret_file, else data_dir/bounce.key)
 * can be used: absent, or a private file (0600/0400). PAHT_ERROR_CONFIG otherwise. */
gboolean outbound_check_bounce_key(const Config *config, GError **error);

/* ---- mail set aside (quarantine.c) ----------------------------------------------------------- */

/* pahtctl reprocess: runs a message that was kept aside (unparsed or quarantined) through the
 * pipeline again, in this process. result->unparsed says it failed again (the reason is on its
 * raw message). PAHT_ERROR_NOT_FOUND for no such message; PAHT_ERROR_REFUSED when it was
 * processed already or pahtd has not yet set it aside. */
gboolean quarantine_reprocess(Gateway *gateway, gint64 raw_id, IngestResult *result,
                              GError **error);

/* ---- retention and a person's data (retention.c, issue 16) -----------------------------------
 * The store's retention (lifecycle/lifecycle.h) run one report per transaction, the files of
 * purged reports unlinked after the commits (never while a backup copies them). */

typedef struct {
    GPtrArray *purged;  /* codes (char *) purged, or, dry run, that would be */
    GPtrArray *held;    /* codes kept under legal hold */
    GPtrArray *refused; /* why a report was not erased (still open ...) */
    int files_removed;
} PurgeSummary;

void purge_summary_clear(PurgeSummary *summary);
/* pahtctl purge: finished reports whose last change is before `before` lose their personal
 * data (each an event by actor); dry_run lists them and changes nothing */
gboolean retention_purge(Gateway *gateway, gint64 before, gboolean dry_run, const char *actor,
                         PurgeSummary *summary, GError **error);
/* pahtd, once a day: retention_purge of what finished [privacy] retain_days ago (nothing when
 * it is 0) */
gboolean retention_daily(Gateway *gateway, GError **error);
/* pahtctl person --erase: the reports (RetainedReport *) lose their personal data as a purge
 * does ("erased" events); open ones are refused (summary->refused says which) */
gboolean retention_erase(Gateway *gateway, const GPtrArray *reports, const char *actor,
                         PurgeSummary *summary, GError **error);
/* the files of purged reports unlinked, unless a backup runs (then left for the next time) */
gboolean retention_remove_files(Gateway *gateway, int *removed, GError **error);
/* "+84 912 345 678" -> "0912345678": a phone as the parser stores it */
char *retention_phone_normalise(const char *written);
/* the digits of written: an ID number as the parser stores it */
char *retention_digits(const char *written);

/* ---- backups (backup.c, issue 16) ------------------------------------------------------------ */

typedef struct {
    char *folder;         /* the backup made or read */
    gboolean incremental; /* linked against a previous backup in the same folder */
    guint files;          /* files looked at */
    guint linked, copied; /* placed by hard link, by copy */
    guint reused;         /* taken from the previous backup */
    gint64 bytes;
    guint missing, damaged;
    GPtrArray *problems;     /* one line each (char *): missing, wrong size or digest ... */
    GPtrArray *unreferenced; /* verify: files of data_dir no row refers to */
} BackupReport;

void backup_report_clear(BackupReport *report);
/* pahtctl backup DIR: a new backup folder in DIR (see backup.c), while pahtd runs */
gboolean backup_create(Gateway *gateway, const char *dir, BackupReport *report, GError **error);
/* pahtctl verify: the database's integrity check, every file it refers to (size; deep: and
 * SHA-256), and the files nobody refers to */
gboolean backup_verify_live(Gateway *gateway, gboolean deep, BackupReport *report, GError **error);
/* pahtctl verify DIR: a backup (DIR, or the newest in DIR) against its MANIFEST */
gboolean backup_verify_copy(const char *dir, gboolean deep, BackupReport *report, GError **error);
/* pahtctl restore DIR: the backup checked whole, then put into the configuration's data_dir
 * and database, which must be empty (PAHT_ERROR_REFUSED otherwise); paths are moved to this
 * data_dir. No gateway may be open on them; hold the fetcher's lock. */
gboolean backup_restore(const Config *config, const char *dir, BackupReport *report,
                        GError **error);

/* ---- what pahtd sends and watches (reports.c, issue 16) -------------------------------------- */

/* The statistics digest of every period of [reports] periods that closed and was not sent
 * yet, from the first working minute after it, to [reports] recipients (nothing without
 * them). *sent (may be NULL) counts the periods queued. */
gboolean reports_digest(Gateway *gateway, int *sent, GError **error);
/* TRUE when data_dir and the database's folder have [gateway] min_free_mb free; on the first
 * FALSE of a shortage the IOC is alerted (once: recorded across restarts), and when space
 * is back that is logged */
gboolean reports_space_ok(Gateway *gateway);

/* ---- the parser process (worker.c) ----------------------------------------------------------- */

/* pahtd --worker: the child process pahtd starts to parse messages (worker.c), talking
 * over fd. snapshot_path: the configuration pahtd runs with (config_load_snapshot; NULL:
 * config_path as it is now). keywords_path: the keyword lists pahtd checked and gave it (""
 * the built-in ones, NULL those the configuration names). Returns the exit status. */
int worker_main(const char *config_path, const char *snapshot_path, const char *keywords_path,
                int slot, int fd);

/* ---- the scheduler (scheduler.c) -------------------------------------------------------------
 * The daemon's clock of the regulation. Each cycle of pahtd: the new drafts
 * get their IOC deadline, every deadline whose time came is acted on (reminders, the overdue
 * flag of Điều 8.5, escalations), with its letters queued for working hours. It only touches
 * the database, so it runs even while the mailbox or the SMTP server is unreachable. */

typedef struct {
    int drafts_seen; /* events read by the catch-up */
    int actions;     /* deadline actions done */
    int overdue;     /* reports newly flagged overdue */
    int failed;      /* actions that failed (logged; retried next cycle) */
} SchedulerStats;

/* One cycle. Errors are logged here, where they are decided: the daemon goes on. stats may be
 * NULL. Returns FALSE when something failed (the rest of the cycle still ran). */
gboolean scheduler_run_cycle(Gateway *gateway, SchedulerStats *stats);

/* ---- the daemon (daemon.c) ------------------------------------------------------------------- */

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
gboolean daemon_run(Gateway *gateway, const RunOptions *options, GError **error);

G_END_DECLS

#endif
