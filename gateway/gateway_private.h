/* Private to gateway/: the Gateway's parts, shared by the files of the pipeline. Each file
 * calls only files listed before it here, never one after it (tools/check-layers checks):
 *   gateway.c     open/close, the fetcher's lock, the keyword lists, the watch of a long pass
 *   outbound.c    the outbox: sending over SMTP, failures, the IOC's digest
 *   retention.c   purges, a person's erasure, the removal of their files
 *   backup.c      backup, verify, restore
 *   reports.c     the statistics digest to [reports] recipients; free space on disk
 *   bounce.c      delivery status notifications
 *   agency_mail.c mail from agencies and leaders to the reply addresses that act (issue 14)
 *   inbound.c     record, parse, decide and answer one message
 *   submission.c  a report filed over Open311, made a message for inbound.c
 *   held.c        what waits for the IOC (pending supplements, answers it sends by hand)
 *   quarantine.c  mail set aside, and pahtctl reprocess
 *   worker.c      parsing in a supervised child process
 *   scheduler.c   the regulation's clock: deadlines, reminders, overdue flags
 *   mailbox.c     keeping in step with the IMAP inbox
 *   daemon.c      pahtd's loop: signals, watchdog, backoff and outage alerts */
#ifndef PAHT_GATEWAY_PRIVATE_H
#define PAHT_GATEWAY_PRIVATE_H

#include "gateway/gateway.h"
#include "imap/imap.h"
#include "notify/notify.h"
#include "util/util.h"

/* a message whose processing was started this many times without finishing (the process
 * died each time: a crash in a library, a hang killed by the watchdog) is set aside */
#define MAX_PROCESSING_ATTEMPTS 3

typedef struct Worker Worker;
/* [gateway] parser_processes at most (conf.c) */
#define PARSER_PROCESSES_MAX 16
/* a message a parser process noted it took (worker.c), with the attempts it had then */
typedef struct {
    gint64 id;
    int attempts;
} TakenNote;

/* What a long pass (mailbox.c, worker.c) may ask of whoever runs it, the daemon (daemon.c),
 * without calling it: whether to stop between messages (SIGTERM), and a sign of life for
 * systemd's watchdog while it waits. Unset (NULL functions): never stop, nobody to tell. */
typedef struct {
    gboolean (*stopping)(gpointer data);
    void (*alive)(gpointer data);
    gpointer data;
} GatewayWatch;

struct Gateway {
    const Config *config;
    Config *owned_config; /* a configuration reloaded on SIGHUP (the first is the caller's) */
    Store *store;
    char *raw_dir, *att_dir, *tmp_dir;
    ImapClient *imap;
    MailboxAhead *imap_ahead; /* the session begun before the gateway opened, until taken */
    gboolean folders_ready;
    gboolean selected;         /* the watched folder is selected on imap */
    guint32 uidvalidity;       /* ... with this UIDVALIDITY */
    gboolean sync_pending;     /* the last pass did not finish: look for mail even without news */
    gboolean failed_at_server; /* the last pass that failed, failed at the IMAP server (no
                                  connection, a lost one, a refused command); FALSE: on the
                                  gateway's side, the server answering (mailbox_sync) */
    gboolean recovering;       /* no pass has run yet: a message still "fetched" is one whose
                                  processing the previous process did not survive */
    /* ... the message each parser process had taken when the previous process died, as it
     * noted it (worker_read_taken, once): the ones charged an attempt */
    TakenNote in_hand_at_crash[PARSER_PROCESSES_MAX];
    gboolean taken_read;
    /* group commit (gateway.c): files and commits not synced one by one, but together */
    gboolean defer_sync;
    gboolean unsynced;       /* written elsewhere meanwhile (the parser process, a process that
                                died before its sync) */
    gint64 synced_changes;   /* store_changes at the last sync */
    gboolean database_apart; /* the database is on another file system than data_dir */
    /* data_dir, and the database's folder when it is apart ([1], else -1), open from the start
     * for every sync (fs_sync_fd): a write-back that failed between two syncs is told to the
     * next one */
    int sync_fds[2];
    /* A sync failed (gateway.c, note_sync_failed): until the next pass begins (mailbox_sync),
     * nothing leaves the inbox or the outbox, for what was written before it may not be on the disk
     * whatever a later sync says. sync_error: why, for the refusals. */
    gboolean sync_failed;
    char *sync_error;
    /* ... and until a pass has checked the files of the messages still in the inbox, from the
     * disk, as after a crash (mailbox.c, finish_unfinished) */
    gboolean files_unsure;
    SmtpSender *smtp;
    /* the children that parse (worker.c), [gateway] parser_processes of them; NULL until
     * started */
    Worker *workers[PARSER_PROCESSES_MAX];
    /* raw id -> IngestResult: a message set aside while another one was being collected (a
     * parser lost on it, with messages ahead of it in its queue: worker.c); NULL: none */
    GHashTable *settled;
    /* pahtd: the private copy of the keywords file its parser reads (tmp_dir/keywords.conf),
     * taken when the file was checked at start or by an accepted reload; NULL: the built-in
     * lists */
    char *keywords_copy;
    /* the configuration it runs with, as it was read (config_write_snapshot), which its
     * parser processes load (tmp_dir/paht.conf.running): written when the first parser starts
     * after a start or an accepted reload (worker_spawn); NULL until then */
    char *config_snapshot;

    GatewayWatch watch; /* set by the daemon while it runs (daemon.c) */

    /* moves refused for good (mailbox.c), into the processed [0] and quarantine [1] folders:
     * the record read once a process (read), since when (0: not refused), whether this
     * process logged it, and whether the IOC was told */
    struct {
        gboolean read, logged, alerted;
        gint64 since;
    } move_refusal[2];
};

/* inbound.c */

/* Parses a recorded raw message and commits what it becomes. A message parse refuses is
 * marked unparsed (kept, never lost) and reported in out->unparsed: that is not an error. */
gboolean inbound_process_raw(Gateway *gw, const RawMessage *raw, IngestResult *out, GError **error);
/* ... in its two stages, for a parser process that commits several messages in one
 * transaction (worker.c). The parse: the draft, its attachments in the content store; NULL
 * when there is none, with *ok saying whether that is an error (a message parse refuses is
 * marked unparsed, out says so, *ok TRUE). What the draft becomes, committed (a savepoint
 * inside a transaction the caller holds), its work files removed either way; the caller logs
 * it (inbound_log_done) once it is committed. */
Draft *inbound_parse_stage(Gateway *gw, const RawMessage *raw, IngestResult *out, gboolean *ok,
                           GError **error);
gboolean inbound_decide_stage(Gateway *gw, const RawMessage *raw, const Draft *draft,
                              IngestResult *out, GError **error);
/* the log line of a message processed, once what it became is committed */
void inbound_log_done(const IngestResult *out);
/* where a raw message was found: a place on the IMAP server, or mailbox NULL for a file
 * given to pahtctl ingest */
typedef struct {
    const char *mailbox;
    guint32 uidvalidity, uid;
} RawPlace;

typedef enum {
    RECORD_FAILED,      /* the store failed (*error) */
    RECORD_FILE_FAILED, /* the file could not be read or stored (*error): this message's */
    RECORD_NEW,         /* recorded now, state "fetched" */
    RECORD_KNOWN,       /* the same mail was recorded before (same bytes, or same Message-ID
                           and body): its row, untouched */
} RecordOutcome;

/* The one recording path of every message, fetched or ingested (SPEC §3.2): reads the
 * finished temp file once (digests, Message-ID: a bounded read of its header block), and,
 * under the write lock, either finds the same mail recorded before or stores the file
 * (content-addressed, durable) and inserts its row at place. The temp file is consumed
 * either way. *out: the new or the known row. */
RecordOutcome inbound_record_raw_file(Gateway *gw, const char *temp_path, const RawPlace *place,
                                      RawMessage **out, GError **error);
/* The same for a file whose identity was learnt while it was written (a download): the file
 * is not read again. */
RecordOutcome inbound_record_fetched(Gateway *gw, const char *temp_path,
                                     const MailFileIdentity *identity, const RawPlace *place,
                                     RawMessage **out, GError **error);
/* A file of a download group, and what recording it came to */
typedef struct {
    const char *temp_path;
    const MailFileIdentity *identity;
    const RawPlace *place;
    RecordOutcome outcome; /* RECORD_NEW, RECORD_KNOWN or RECORD_FILE_FAILED (then error) */
    RawMessage *raw;       /* the new or the known row (the caller frees it) */
    GError *error;
} FetchedFile;
/* inbound_record_fetched for several files in one transaction. FALSE (*error) when the store
 * failed: then none of them is recorded. Every temp file is consumed either way. */
gboolean inbound_record_fetched_many(Gateway *gw, FetchedFile *files, guint n, GError **error);
/* After a crash that may have been a power cut before a group commit's sync: the attachments
 * raw brought to its report (a processed message still in the inbox) that are not whole on
 * the disk are written again from the message, parsed anew (its raw file must be whole: the
 * caller checks it first). *repaired: how many. Runs in the parser process (worker_verify). */
gboolean inbound_repair_attachments(Gateway *gw, const RawMessage *raw, int *repaired,
                                    GError **error);
/* pahtctl ingest and Open311's submissions: a private temp file of gw->tmp_dir (consumed)
 * recorded and processed as inbound_ingest_file does */
gboolean inbound_ingest_temp(Gateway *gw, const char *temp, IngestResult *out, GError **error);
/* pahtctl supplement --confirm: the raw message of a pending supplement parsed again and
 * added to its report as a reply (confirmed by actor), with the answers a reply gets, in one
 * transaction. PAHT_ERROR_REFUSED when it was decided already. */
gboolean inbound_confirm_supplement(Gateway *gw, const PendingReply *pending, const char *actor,
                                    IngestResult *out, GError **error);

/* gateway.c */

/* Group commit (SPEC §8 with fewer fsyncs): pahtd's mailbox pass writes raw files,
 * attachments and rows without syncing each (commits in order, files renamed into place),
 * and gateway_make_durable syncs them all at once before anything outside this machine
 * depends on them: before a message leaves the inbox, before a letter leaves the outbox, at
 * the end of the pass. Until then a power cut may lose some of them (the messages are still
 * in the inbox: fetched again) or leave a row whose file did not reach the disk (a
 * content-addressed file is checked before it is trusted again: fs_commit_content, and
 * mailbox.c verifies the unfinished messages it finds at start). */
gboolean gateway_defer_sync(Gateway *gw, GError **error);
/* Everything written since the last sync, by this process, its parser process, or a process
 * that died before syncing, made durable (syncfs of data_dir's file system, and of the
 * database's when it is another). Nothing to do when nothing was written. */
gboolean gateway_make_durable(Gateway *gw, GError **error);
/* gateway_make_durable started in a thread: what was written before this call is durable
 * once gateway_durable_finish returns TRUE (it waits for the sync, and frees the job);
 * gateway_durable_ready tells without waiting whether it is over. The caller's own
 * bookkeeping is not changed: a later gateway_make_durable syncs again. */
typedef struct DurableJob DurableJob;
/* forget (owned by the job; may be NULL): files written before this call that nobody reads
 * again soon, whose clean pages the page cache lets go once the sync has succeeded
 * (fs_forget_cached); after a sync that failed they stay, holding the bytes the disk may lack */
DurableJob *gateway_make_durable_start(Gateway *gw, GPtrArray *forget);
gboolean gateway_durable_ready(const DurableJob *job);
gboolean gateway_durable_finish(DurableJob *job, GError **error);
/* After a sync that failed, gateway_make_durable and its job refuse (gw->sync_failed) until
 * gateway_sync_retry, which the next pass calls first: the database is copied whole into its
 * file (store_checkpoint_whole) and everything synced again. FALSE: not yet (the refusals go
 * on, and the next pass tries again). */
gboolean gateway_sync_retry(Gateway *gw, GError **error);
/* gateway_make_durable, then every commit durable again; on failure deferral stays on (and
 * the next gateway_make_durable tries again) */
gboolean gateway_sync_each(Gateway *gw, GError **error);
/* what fs_commit_content is told: FS_SYNC_LATER while deferring */
FsSyncWhen gateway_sync_when(Gateway *gw);
/* removes the work folders of processes that died (a parser process killed mid-message leaves
 * partial attachments: citizens' data, and possibly large) */
void gateway_remove_dead_work(Gateway *gw);
/* Checks keywords_file (NULL: the built-in lists) and makes it the copy the parser reads
 * (gw->keywords_copy). On any error the copy in use stays as it was. */
gboolean gateway_take_keywords(Gateway *gw, const char *keywords_file, GError **error);
/* the watch of a long pass (NULL: none; the struct is copied) */
void gateway_watch(Gateway *gw, const GatewayWatch *watch);
/* TRUE when the one who runs the pass wants it to stop (SIGTERM) between messages */
gboolean gateway_stopping(Gateway *gw);
/* a sign of life, while a pass is busy or waits */
void gateway_keepalive(Gateway *gw);
/* PAHT_TEST_FAULT (tests only, like PAHT_NOW; never set it in production): a comma-separated
 * list of faults "name" or "name:ARG". Returns ARG ("" for none) when the fault called name is
 * asked for, else NULL. */
char *gateway_test_fault(const char *name);
/* a gate fault's FIFO (start-gate, sync-gate): held here until the test opens it for writing;
 * nothing for NULL or "" */
void gateway_test_gate(const char *fifo);

/* A failure that lasts, told to the IOC once it has lasted LASTING_ALERT_SECONDS: the mailbox
 * unreachable (daemon.c, "mailbox_down"), moves into a folder refused (mailbox.c,
 * "move_refused"). Kept in daemon_state as NAME_since (unix time) and NAME_alerted, so that
 * it survives restarts (a restart is a common first remedy). A record that cannot be read
 * counts as none (logged): the next turn looks again. */
#define LASTING_ALERT_SECONDS (30 * 60)
gint64 lasting_since(Gateway *gw, const char *name);
gboolean lasting_alerted(Gateway *gw, const char *name);
/* records the beginning at now unless one is recorded (a failure to write it is logged);
 * returns the beginning */
gint64 lasting_begin(Gateway *gw, const char *name, gint64 now);
/* in the caller's transaction: the IOC told of it; its end (both keys gone) */
gboolean lasting_set_alerted(Gateway *gw, const char *name, GError **error);
gboolean lasting_clear(Gateway *gw, const char *name, GError **error);

/* mailbox.c */
/* closes the IMAP session (the next pass reconnects) */
void mailbox_disconnect(Gateway *gw);

/* worker.c: the parser process is started by the daemon (or by the first message a pass
 * gives it) and must be stopped by the daemon too: gateway_close does not know it */

/* Processes a recorded message in the worker under message_timeout_seconds. A message the
 * worker could not finish (timed out, crashed) is marked unparsed with the reason and comes
 * back with out->unparsed: not an error. Errors: the worker cannot start, or the database or
 * configuration failed for this message (it stays "fetched" and is tried again). */
gboolean worker_process(Gateway *gw, const RawMessage *raw, IngestResult *out, GError **error);
/* The same in two halves, so that the daemon can fetch the next messages while the parser
 * works: several may be submitted, and each must be collected, in the order submitted. The
 * time limit of each runs from its submit, or from the collecting of the one before it (never
 * before the parser takes it), until the parser answers: an answer sent in time stands
 * however late it is collected. Each message goes to the parser process of its sender
 * (worker_slot_of). */
gboolean worker_submit(Gateway *gw, const RawMessage *raw, GError **error);
gboolean worker_collect(Gateway *gw, gint64 raw_id, IngestResult *out, GError **error);
/* whether the message raw_id, the oldest of them, can be collected without waiting */
gboolean worker_has_answer(Gateway *gw, gint64 raw_id);
/* ends the worker with the messages submitted and not collected (a stop): what it committed
 * stands, the rest stay "fetched" */
void worker_abandon(Gateway *gw);
/* Which of the parser processes a message goes to: all the mail of one sender to the same
 * one, which takes it in the order it came. raw_path is the message's raw file; one that
 * cannot be read, or has no sender, goes to the first. */
int worker_slot_of(const Gateway *gw, const char *raw_path);
/* raw's attempts when a parser took it before the previous process ended (finish_unfinished):
 * 0 if no parser had it in hand */
int worker_taken_with(const Gateway *gw, const RawMessage *raw);
/* at the start, before any message is given to a parser: what each parser process of the
 * previous pahtd noted it had taken (in_hand_at_crash); once a process, later calls keep it */
void worker_read_taken(Gateway *gw);
/* inbound_repair_attachments for a recorded message, in the worker, under its time limit. A
 * worker that crashes or hangs on it is replaced and the message left as it is (logged):
 * that is not an error. */
gboolean worker_verify(Gateway *gw, gint64 raw_id, GError **error);
/* starts the worker now if there is none: pahtd does so at start and after a reload, so that
 * the child reads the configuration file when pahtd did (a file edited later and refused on
 * SIGHUP does not reach it). It does not wait for the child: the child starts while the
 * daemon connects to the mailbox, and the first message (or worker_settle) waits for its
 * READY. A failure is logged; the next message tries again. */
void worker_prepare(Gateway *gw);
/* waits for a worker started by worker_prepare to say it is ready, and logs why it cannot be
 * if it cannot (then the next message tries again): at the end of each cycle, so that a parser
 * that cannot start is reported even when no mail comes. Nothing to do for a ready one. */
void worker_settle(Gateway *gw);
/* ends the worker (it finishes nothing: call between messages); NULL-safe */
void worker_stop(Gateway *gw);

/* quarantine.c */

/* the IOC alert for a message set aside (once per message) */
gboolean quarantine_alert_unparsed(Gateway *gw, const RawMessage *raw, GError **error);
/* A message above max_message_bytes, never downloaded: asks its sender (the first address of
 * from_header, the From header as written) for fewer or smaller files and alerts the IOC, each
 * once per message, in one transaction. The caller moves it to the quarantine folder
 * afterwards. */
gboolean quarantine_too_large(Gateway *gw, const char *mailbox, guint32 uidvalidity,
                              const ImapMessageInfo *info, const char *message_id,
                              const char *from_header, GError **error);
/* The first mailbox address of a From header as written (RFC 2047 words and all), fit to
 * write a letter to: local@domain, domain lowercase; NULL when there is none. */
char *quarantine_sender_address(const char *from_header);
/* A message that could not be fetched and is given up (failure: its record), in the caller's
 * transaction: the IOC alert, once per message. move_error: why it could not be moved to the
 * quarantine folder either, or NULL when it was. */
gboolean quarantine_alert_unfetchable(Gateway *gw, guint32 uid, gint64 size,
                                      const MessageFailure *failure, const char *move_error,
                                      GError **error);

/* outbound.c: the envelope sender of every letter is VERP-style (SPEC §8 bounces):
 * <local>+b-<letter id>-<mac>@<domain> of [smtp] from, mac the first 16 hex digits of
 * HMAC-SHA256(key, "b-<id>-<Message-ID>"), so that a bounce names its letter and a stranger
 * cannot fail someone else's letter. */

/* The HMAC key, the gateway's: reply_address_key (letters/letters.h), which signs the reply
 * addresses that act too. */
gboolean outbound_bounce_key(const Config *config, gboolean create, GBytes **key, GError **error);
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

/* retention.c: the lock backups share and the removal of purged files takes alone
 * (data_dir/backup.lock): the fd, or -1 (exclusive: at once or never, PAHT_ERROR_TEMPORARY) */
int retention_backup_lock(const Config *config, gboolean exclusive, GError **error);

/* bounce.c: a delivery status notification (classification bounce), in the caller's
 * transaction: recorded, matched to its letter (envelope token, else the original
 * Message-ID), and the letter failed; one that matches nothing is only recorded. */
gboolean bounce_intake(Gateway *gw, gint64 raw_id, const Draft *draft, GError **error);

/* agency_mail.c: agencies and leaders act by answering their mail (issue 14) */

/* A mail sent to a reply address that acts (letters/letters.h, reply_address_*), decided in
 * the caller's transaction: *handled FALSE when it was sent to none (it is then any other
 * mail). Otherwise it acted (the lifecycle's action with its letters, and a confirmation),
 * was refused (an event, a letter to the sender, an IOC alert), or waits for the IOC as a
 * pending supplement; *report_id is the report it concerns (0: an unknown address). vouched:
 * the IOC confirmed a mail that waited (the MX's verdict is not asked again). received_at:
 * when it reached us (REPLY_ADDRESS_DAYS count to then). The caller marks it processed. */
gboolean agency_mail_decide(Gateway *gw, gint64 raw_id, const Draft *draft, gint64 received_at,
                            gboolean vouched, gint64 *report_id, gboolean *handled, GError **error);
/* Automatic mail (classification auto or bounce) to a reply address that acts: an event on
 * its report ("automatic_mail"), nothing else: never acted upon, never answered. */
gboolean agency_mail_automatic(Gateway *gw, gint64 raw_id, const Draft *draft, GError **error);
/* Điều 8.3 by mail: the first non-empty line of text names the new date ("Gia hạn đến
 * 16/12/2026", "16/12/2026 17:00", "Gia han den ngay 16-12-2026 luc 17h30", with or without
 * diacritics); a date alone is the end of that day's working hours. *until gets it, *reason
 * what follows on that line and the lines after (trimmed; NULL if nothing). FALSE when the
 * line holds no valid date. */
gboolean agency_mail_extension(const Config *config, const char *text, gint64 *until,
                               char **reason);

#endif
