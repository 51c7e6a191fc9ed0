/* queue: the durable heart of the gateway. One SQLite database (WAL, synchronous=FULL) holds
 * every raw message, every report (phản ánh) with its attachments and events, and the outbox.
 * The CLI and the daemon share it; it is their only integration point.
 *
 * The store turns the draft parse made (draft/draft.h) into a report.
 *
 * Transactions: store_begin() starts a writing transaction (BEGIN IMMEDIATE, or a savepoint
 * when one is already open), store_commit()/store_rollback() end it. Functions that write
 * several rows expect to be called inside one; single-row writes are atomic on their own.
 *
 * Errors: PAHT_ERROR_TEMPORARY (busy, I/O), PAHT_ERROR_PERMANENT (corrupt, constraint),
 * PAHT_ERROR_NOT_FOUND, PAHT_ERROR_REFUSED (an action the current state forbids).
 * Returned structs are owned by the caller and freed with their *_free function.
 */
#ifndef PAHT_QUEUE_H
#define PAHT_QUEUE_H

#include <glib.h>
#include "conf/conf.h"
#include "draft/draft.h"

G_BEGIN_DECLS

/* ---- the store ----------------------------------------------------------------------------- */

typedef struct Store Store;

/* What opening does with a schema of another version than this program's. Only pahtd (and
 * an explicit pahtctl migrate) changes the schema of a database in use (issue 11.5): a
 * pahtctl of another version than the running pahtd would otherwise migrate the database
 * under it, or run its statements on tables it does not know. */
typedef enum {
    STORE_SCHEMA_MIGRATE, /* bring an older schema up to this program's (pahtd) */
    STORE_SCHEMA_EXACT,   /* refuse an older one too (pahtctl); an empty database, one nobody
                             has used yet, is given this program's schema */
} StoreSchemaPolicy;

/* Opens (creating 0600 as needed) the database, its schema as policy says. A database file
 * readable by others is refused (PAHT_ERROR_CONFIG): it holds citizens' personal data. A
 * schema newer than this program's is refused under either policy, an older one under
 * STORE_SCHEMA_EXACT (PAHT_ERROR_CONFIG, the message says what to run). */
Store *store_open_with(const char *path, StoreSchemaPolicy policy, GError **error);
/* store_open_with(path, STORE_SCHEMA_MIGRATE, error) */
Store *store_open(const char *path, GError **error);
void store_close(Store *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Store, store_close)

/* the schema version of the database now, and the one this program writes */
int store_schema_version(Store *store);
int store_schema_latest(void);
/* the version the database had when it was opened, before any migration (0: new) */
int store_schema_version_found(Store *store);

gboolean store_begin(Store *store, GError **error);
gboolean store_commit(Store *store, GError **error);
void store_rollback(Store *store);
/* TRUE when a store may be used by another thread than the one that opened it, one thread at
 * a time (SQLite built thread-safe, as Debian's is) */
gboolean store_may_change_thread(void);
/* Group commit (pahtd's mailbox pass): commits of this connection written to the WAL without
 * an fsync each (synchronous=NORMAL: atomic and in order, the latest may be lost in a power
 * cut), until made durable together by one sync of the file system (fs_sync_filesystem) or
 * the next commit with deferral off. TRUE again is the default, a durable commit each. */
gboolean store_sync_each_commit(Store *store, gboolean each, GError **error);
/* This connection's commits never checkpoint the WAL: another connection's do (pahtd's parser
 * process leaves them to pahtd, whose commits run them on the other core; SQLite checkpoints
 * after a commit has released the write lock, so the parser is not held up either way) */
gboolean store_checkpoint_elsewhere(Store *store, GError **error);
/* Every frame of the WAL copied into the database file, that file synced, and the WAL emptied
 * (SQLite's TRUNCATE checkpoint, waiting for readers like any lock). After a write to the disk
 * failed, the WAL on the disk may hold spoiled frames, which a crash would read back; the
 * cache's copy of them is right, and this puts it where a crash no longer reads the WAL.
 * *wal_bytes: the WAL file's size before. */
gboolean store_checkpoint_whole(Store *store, gint64 *wal_bytes, GError **error);
/* rows this connection has written so far (inserted, updated, deleted): whether anything was
 * committed since an earlier look */
gint64 store_changes(Store *store);

/* ---- backups and integrity (backup.c, issue 16) ---------------------------------------------- */

/* A consistent copy of the whole database into dest_path (a new file, made 0600, in rollback
 * journal mode), taken with SQLite's online backup API in one read transaction: other
 * processes go on writing meanwhile. */
gboolean store_backup_to(Store *store, const char *dest_path, GError **error);
/* PRAGMA integrity_check: *problem NULL when the database is whole, else what it found */
gboolean store_integrity_check(Store *store, char **problem, GError **error);

/* a file the database refers to: a raw message or an attachment */
typedef struct {
    char *path;
    gint64 size;
    char *sha256;
} StoredFile;

void stored_file_free(StoredFile *file);
/* every file the database refers to, each once, by path */
GPtrArray *store_file_refs(Store *store, GError **error);
/* the paths under old_dir moved under new_dir (a backup restored into another data_dir) */
gboolean store_relocate_files(Store *store, const char *old_dir, const char *new_dir,
                              GError **error);
/* *holds: the database has reports, raw messages or letters (restore refuses it) */
gboolean store_holds_mail(Store *store, gboolean *holds, GError **error);

/* ---- mailbox position ---------------------------------------------------------------------- */

typedef struct {
    guint32 uidvalidity;
    guint32 uidnext;       /* first UID not yet looked at */
    guint64 highestmodseq; /* CONDSTORE, 0 if unknown */
} MailboxState;

/* FALSE with no error when the mailbox was never seen */
gboolean mailbox_state_get(Store *store, const char *mailbox, MailboxState *out, GError **error);
gboolean mailbox_state_set(Store *store, const char *mailbox, const MailboxState *state,
                           GError **error);

/* ---- raw messages: every message that reached us, exactly once ------------------------------ */

/* states: fetched (on disk, not yet drafted) -> processed (draft and answers committed) ->
 * moved (also out of the inbox); unparsed (kept, parse failed) -> quarantined (moved aside) */
#define RAW_FETCHED     "fetched"
#define RAW_PROCESSED   "processed"
#define RAW_MOVED       "moved"
#define RAW_UNPARSED    "unparsed"
#define RAW_QUARANTINED "quarantined"

typedef struct {
    gint64 id;
    char *mailbox; /* NULL for files given to pahtctl ingest */
    guint32 uidvalidity, uid;
    char *message_id;
    char *sha256;
    char *path; /* content-addressed raw file */
    gint64 size;
    gint64 received_at;
    char *state;          /* RAW_FETCHED ... */
    char *classification; /* once processed: CLASSIFICATION_* */
    gint64 report_id;     /* the report it created or joined; 0 if none */
    int attempts;         /* processing attempts started (crash detection) */
    char *error;          /* why it is unparsed */
    char *body_sha256;    /* of what follows the header block (MailFileIdentity); NULL until
                             a second mail with its Message-ID came (gateway/inbound.c) */
    char *moving_to;      /* a move by UID COPY + UID EXPUNGE under way: the target folder */
    gboolean copied;      /* ... and the copy is known to be there */
} RawMessage;

void raw_message_free(RawMessage *raw);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(RawMessage, raw_message_free)
/* TRUE when its draft and answers are committed (processed, moved) */
gboolean raw_message_is_done(const RawMessage *raw);

/* Lookups: FALSE only when the store fails (*error set); TRUE otherwise, with *out the row or
 * NULL when there is none. (A NULL return could not tell "none" from a failure unless the
 * caller read its own *error, and a caller passing no error pointer could not tell at all.) */

/* the message at this place on the server */
gboolean raw_message_find_uid(Store *store, const char *mailbox, guint32 uidvalidity, guint32 uid,
                              RawMessage **out, GError **error);
/* the first message recorded with these bytes, or with this Message-ID and this body digest
 * (the same mail with other trace headers or line ends) */
gboolean raw_message_find_same(Store *store, const char *sha256, const char *message_id,
                               const char *body_sha256, RawMessage **out, GError **error);
/* the first message recorded with this Message-ID */
gboolean raw_message_first_with_message_id(Store *store, const char *message_id, RawMessage **out,
                                           GError **error);
/* its body digest, worked out after it was recorded (gateway/inbound.c) */
gboolean raw_message_set_body_sha256(Store *store, gint64 id, const char *body_sha256,
                                     GError **error);
RawMessage *raw_message_get(Store *store, gint64 id, GError **error);
/* inserts raw (id ignored; state "fetched", attempts 1); returns the new id or 0 */
gint64 raw_message_insert(Store *store, const RawMessage *raw, GError **error);
gboolean raw_message_set_state(Store *store, gint64 id, const char *state, const char *error_text,
                               GError **error);
/* counts the attempt a process began on message id when it had taken_with attempts (and then
 * died): its attempts become taken_with + 1, unless they are more already. The same attempt
 * counted again changes nothing. */
gboolean raw_message_count_attempt(Store *store, gint64 id, int taken_with, int *attempts_out,
                                   GError **error);
/* a move by UID COPY + UID EXPUNGE: folder is where it goes (NULL: no move under way), copied
 * that the copy is known done. Moved or quarantined ends it. */
gboolean raw_message_set_moving(Store *store, gint64 id, const char *folder, gboolean copied,
                                GError **error);
/* after a UIDVALIDITY change: the same message now lives at a new UID */
gboolean raw_message_relocate(Store *store, gint64 id, const char *mailbox, guint32 uidvalidity,
                              guint32 uid, GError **error);
/* marks the raw message processed, with what it became, in the caller's transaction.
 * PAHT_ERROR_REFUSED if it already is (someone else processed it meanwhile): roll back. */
gboolean raw_message_mark_processed(Store *store, gint64 id, const char *classification,
                                    gint64 report_id, GError **error);
/* appends to paths (of char *) the file of each raw message of ids (ids <= 0 passed over) and
 * those of the attachments it brought */
gboolean raw_message_files(Store *store, const gint64 *ids, guint n, GPtrArray *paths,
                           GError **error);
/* raw messages of a mailbox still waiting for a step after a crash (processed or unparsed
 * but not yet moved): RawMessage * list */
GPtrArray *raw_message_list_unfinished(Store *store, const char *mailbox, GError **error);

/* ---- the daemon's own state -----------------------------------------------------------------
 * A few values pahtd keeps across restarts (e.g. since when the mailbox is unreachable), by
 * key. A key never set reads as *value NULL; setting a NULL value deletes the key. */

gboolean daemon_state_get(Store *store, const char *key, char **value, GError **error);
gboolean daemon_state_set(Store *store, const char *key, const char *value, GError **error);

/* ---- messages the daemon could not fetch ----------------------------------------------------
 * A message of the inbox that failed to be fetched or recorded, by its place on the server
 * (mailbox, UIDVALIDITY, UID): it is tried again later and the other messages go on; the
 * gateway decides when to give it up. */

typedef struct {
    int failures;
    gint64 first_at, last_at; /* the first and the latest failure */
    gint64 next_at;           /* not to be tried before */
    gint64 given_up_at;       /* 0 while it is still tried */
    char *last_error;
} MessageFailure;

void message_failure_clear(MessageFailure *failure);
/* FALSE with no error when the message never failed */
gboolean message_failure_get(Store *store, const char *mailbox, guint32 uidvalidity, guint32 uid,
                             MessageFailure *out, GError **error);
/* one more failure at now, to be tried again from next_at; out (may be NULL) gets the record */
gboolean message_failure_add(Store *store, const char *mailbox, guint32 uidvalidity, guint32 uid,
                             const char *error_text, gint64 now, gint64 next_at,
                             MessageFailure *out, GError **error);
/* the message is given up (set aside): never tried again */
gboolean message_failure_give_up(Store *store, const char *mailbox, guint32 uidvalidity,
                                 guint32 uid, gint64 now, GError **error);
/* the message is fetched after all (or gone): its record goes */
gboolean message_failure_forget(Store *store, const char *mailbox, guint32 uidvalidity, guint32 uid,
                                GError **error);
/* records of other UIDVALIDITYs of the mailbox go: those UIDs mean nothing any more */
gboolean message_failure_forget_epochs(Store *store, const char *mailbox, guint32 uidvalidity,
                                       GError **error);
/* the UIDs with a record in this mailbox and UIDVALIDITY (guint32, ascending) */
GArray *message_failure_uids(Store *store, const char *mailbox, guint32 uidvalidity,
                             GError **error);
/* *due: a failed message of this mailbox and UIDVALIDITY is to be tried again by now */
gboolean message_failure_any_due(Store *store, const char *mailbox, guint32 uidvalidity, gint64 now,
                                 gboolean *due, GError **error);

/* ---- reports ------------------------------------------------------------------------------- */

typedef struct {
    gint64 id;
    char *code;  /* PAHT-2026-000123 */
    char *token; /* reply token, in paht+TOKEN@... */
} ReportRef;

void report_ref_clear(ReportRef *ref);

/* Creates a report from a draft in the caller's transaction: the tracking code
 * (PREFIX-YYYY-NNNNNN, YYYY the year of received_at in zone, NNNNNN a yearly sequence), a
 * random reply token, the citizen fields, the attachments (whose path must already be the
 * stored one) and a "received" event. state: "draft" or "incomplete" (from the missing
 * fields). sender: the address answers go to (letters_answer_address), or NULL; stored with the
 * row, so that the search index (a trigger) writes the new report once, not twice. */
gboolean report_create(Store *store, const Draft *draft, const char *sender,
                       const char *code_prefix, GTimeZone *zone, gint64 received_at, gint64 raw_id,
                       ReportRef *out, GError **error);

gboolean event_add(Store *store, gint64 report_id, const char *actor, const char *kind,
                   const char *detail, GError **error);

/* Files an agency sent by mail (DraftAttachment *, already at their stored paths) as files of
 * the report with role (ATTACHMENT_RESULT ...), from message raw_id, in the caller's
 * transaction. A result's files replace those of the result before (ATTACHMENT_RESULT_REPLACED:
 * kept, no longer the result's). */
gboolean report_add_files(Store *store, gint64 report_id, gint64 raw_id, const char *role,
                          const GPtrArray *attachments, GError **error);

/* Whose a file of a report is (attachment.role): the citizen's (their report and replies), or
 * one an agency sent by mail (issue 14): its result (a result submitted again replaces the
 * files of the one before), a coordinating agency's opinion, or a note (a mail to an action
 * address that had been used already). */
#define ATTACHMENT_CITIZEN         "citizen"
#define ATTACHMENT_RESULT          "result"
#define ATTACHMENT_RESULT_REPLACED "result_replaced"
#define ATTACHMENT_OPINION         "opinion"
#define ATTACHMENT_NOTE            "note"

typedef struct {
    char *filename, *content_type, *kind, *sha256, *path, *content_id;
    gint64 size;
    gboolean dangerous;
    char *role;    /* ATTACHMENT_* */
    gint64 raw_id; /* the message it came with; 0: none */
} StoredAttachment;

typedef struct {
    gint64 at;
    char *actor, *kind, *detail;
} ReportEvent;

typedef struct {
    gint64 id;
    char *kind, *rcpt, *state;
} ReportMail;

typedef struct {
    gint64 id;
    char *code, *token, *state;
    gboolean overdue, confidential;
    char *classification, *rule;
    char **missing; /* NULL-terminated */
    gint64 received_at, updated_at;
    char *subject, *text, *message_id;
    DraftCitizen citizen;
    DraftLocation location;
    char *occurred_at;
    char *agency;            /* NULL until accepted */
    char **coordinators;     /* NULL-terminated, maybe empty */
    GPtrArray *attachments;  /* StoredAttachment *: the citizen's */
    GPtrArray *agency_files; /* StoredAttachment *: the agencies' (role result, opinion ...) */
    GPtrArray *events;       /* ReportEvent *, oldest first */
    GPtrArray *mail;         /* ReportMail *, oldest first */
    GPtrArray *deadlines;    /* ReportDeadline *, by name */
} Report;

typedef struct {
    char *name;
    gint64 due;
} ReportDeadline;

void report_free(Report *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Report, report_free)

/* the attachments raw message raw_id brought to report report_id (StoredAttachment *) */
GPtrArray *attachment_list_of_raw(Store *store, gint64 report_id, gint64 raw_id, GError **error);

/* by numeric id or tracking code ("PAHT-2026-000123", case-insensitive) */
Report *report_load(Store *store, const char *id_or_code, GError **error);
Report *report_load_id(Store *store, gint64 id, GError **error);

/* Reports waiting for the IOC: states draft, incomplete, returned, newest last.
 * Loaded without events/mail/attachments (counts only in n_attachments). */
typedef struct {
    gint64 id;
    char *code, *state, *classification, *subject, *citizen_name, *citizen_email;
    gint64 received_at;
    int n_attachments;
    char **missing;
    gboolean confidential, overdue;
} ReportSummary;

void report_summary_free(ReportSummary *summary);
GPtrArray *report_list_drafts(Store *store, GError **error);

/* ---- outbox: every letter we send, enqueued once, sent at least once, recorded ------------- */

typedef struct {
    const char *dedupe_key; /* unique: the same letter is never enqueued twice */
    const char *kind;       /* ack, incomplete, ..., ioc_alert (SPEC §6 mail kinds) */
    gint64 report_id;       /* 0 if none */
    const char *rcpt;       /* one envelope recipient per letter */
    const char *mail_from;  /* envelope sender */
    const char *message_id; /* of the letter, without <> */
    GBytes *message;        /* the whole RFC 5322 letter, CRLF */
    gint64 not_before;      /* 0: as soon as possible */
} OutboxNew;

/* Inserts unless a letter with the same dedupe key exists. *created tells which. */
gboolean outbox_enqueue(Store *store, const OutboxNew *letter, gint64 *id_out, gboolean *created,
                        GError **error);

typedef struct {
    gint64 id;
    char *lease_token;
    char *kind, *rcpt, *mail_from, *message_id;
    gint64 report_id;
    GBytes *message;
    int attempts; /* including this one */
    gint64 created_at;
    gint64 retry_since; /* start of the retry window: created_at, or the last resend */
} OutboxClaim;

void outbox_claim_free(OutboxClaim *claim);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OutboxClaim, outbox_claim_free)

/* Claims the next due letter with a lease (queued, or sending with an expired lease: the
 * sender died); *out NULL when nothing is due. */
gboolean outbox_claim_next(Store *store, gint64 now, int lease_seconds, OutboxClaim **out,
                           GError **error);
/* the same, recording who holds the lease ("host:pid:instance", see outbox_reclaim_leases) */
gboolean outbox_claim_next_for(Store *store, gint64 now, int lease_seconds, const char *owner,
                               OutboxClaim **out, GError **error);

/* The next letter a claim would take, reserved for the sender while it sends the one before
 * (issue 18): it stays queued, with a lease that no other claim or reservation takes while it
 * lasts, and is read with its body. The letter in flight is the only one sending, as
 * without. */
gboolean outbox_reserve_next_for(Store *store, gint64 now, int lease_seconds, const char *owner,
                                 OutboxClaim **out, GError **error);
/* A reserved letter becomes the one being sent (sending, one more attempt); *begun FALSE when
 * it is no longer reserved by this claim (nothing changed). */
gboolean outbox_begin_reserved(Store *store, const OutboxClaim *claim, gint64 now, gboolean *begun,
                               GError **error);
/* A reserved letter given back to the queue, unsent (nothing if the claim no longer holds it) */
gboolean outbox_release(Store *store, const OutboxClaim *claim, GError **error);

/* Leases whose holder is known to be dead (is_dead(owner) TRUE; leases without an owner are
 * left to expire) are made due now, so that a restarted sender resends the one letter in
 * flight at once instead of after the lease, and takes the letter it had reserved in its
 * turn. *released counts them (may be NULL). */
typedef gboolean (*OutboxOwnerIsDead)(const char *owner, gpointer user_data);
gboolean outbox_reclaim_leases(Store *store, gint64 now, OutboxOwnerIsDead is_dead,
                               gpointer user_data, int *released, GError **error);

typedef enum {
    OUTBOX_SENT,
    OUTBOX_RETRY,  /* temporary failure: queued again for retry_at */
    OUTBOX_FAILED, /* permanent: never retried */
    OUTBOX_HOLD,   /* our side is broken (config): queued again, attempt not counted */
} OutboxOutcome;

/* Completes a claim only if the lease is still ours (PAHT_ERROR_REFUSED otherwise: someone
 * else took it over). reply: the server's words, kept on the row. */
gboolean outbox_complete(Store *store, const OutboxClaim *claim, OutboxOutcome outcome,
                         const char *reply, gint64 retry_at, GError **error);

typedef struct {
    OutboxOutcome outcome;
    const char *reply;         /* the server's words (or ours), kept on the row */
    const char *status;        /* RFC 3463 code of a failure ("5.1.1"), or NULL */
    const char *envelope_from; /* the envelope sender used (VERP); NULL: none recorded */
    gint64 retry_at;           /* OUTBOX_RETRY and OUTBOX_HOLD */
} OutboxResult;

/* outbox_complete with everything the sender learnt. A failed letter waits for the next
 * IOC digest (reported_at NULL). */
gboolean outbox_finish(Store *store, const OutboxClaim *claim, const OutboxResult *result,
                       GError **error);

typedef struct {
    gint64 id;
    char *dedupe_key, *kind, *rcpt, *state, *message_id, *last_reply;
    gint64 report_id;
    int attempts;
    gint64 created_at, updated_at, sent_at, next_attempt_at;
    char *mail_from;      /* envelope sender as enqueued (our address) */
    char *envelope_from;  /* as last sent (VERP), or NULL */
    char *failure_status; /* RFC 3463 code of the failure, or NULL */
    gint64 reported_at;   /* when a failure went into an IOC digest; 0: not yet */
} OutboxEntry;

void outbox_entry_free(OutboxEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OutboxEntry, outbox_entry_free)
/* state NULL: all; newest last */
GPtrArray *outbox_list(Store *store, const char *state, GError **error);
/* the raw letter, for pahtctl preview and tests */
GBytes *outbox_message(Store *store, gint64 id, GError **error);
/* the newest letter's id (0: none), and the first letter of a kind for a report after an id
 * (*out NULL when there is none): what pahtctl preview reads back */
gboolean outbox_last_id(Store *store, gint64 *id, GError **error);
gboolean outbox_message_first(Store *store, gint64 report_id, const char *kind, gint64 after_id,
                              GBytes **out, GError **error);
/* one letter; PAHT_ERROR_NOT_FOUND if there is none */
OutboxEntry *outbox_get(Store *store, gint64 id, GError **error);
/* the letter with this Message-ID (without <>); *out NULL when there is none */
gboolean outbox_find_message_id(Store *store, const char *message_id, OutboxEntry **out,
                                GError **error);
/* The letters a reply may quote (SPEC §3.3), as stored (GBytes *, RFC 5322), at most limit:
 * those with one of message_ids (without <>; NULL-terminated; NULL for none), then the newest
 * letters to the citizen of report_id (0: none; its citizen address or the address that sent
 * the report). Each letter once. NULL on a store error. */
GPtrArray *outbox_letters_quoted(Store *store, const char *const *message_ids, gint64 report_id,
                                 guint limit, GError **error);

/* A DSN says a sent letter did not arrive: sent -> failed with the DSN's status, waiting for
 * the next digest. *changed FALSE (no error) when the letter was not in state sent (already
 * failed, or queued again by a resend: an old report must not fail a new attempt). */
gboolean outbox_mark_bounced(Store *store, gint64 id, const char *status, const char *reply,
                             gboolean *changed, GError **error);

/* pahtctl resend: a failed letter is queued again, due now, with a fresh retry window.
 * PAHT_ERROR_REFUSED for a letter in any other state, PAHT_ERROR_NOT_FOUND. */
gboolean outbox_resend(Store *store, gint64 id, gint64 now, GError **error);

/* Failed letters not yet reported to the IOC, oldest first, at most limit of them; letters to
 * except_rcpt (the IOC itself) are never listed. *total counts them all. */
GPtrArray *outbox_list_unreported(Store *store, const char *except_rcpt, int limit, int *total,
                                  GError **error);
/* marks every letter outbox_list_unreported would count as reported at now */
gboolean outbox_mark_reported(Store *store, const char *except_rcpt, gint64 now, GError **error);
/* created_at of the newest letter of this kind, 0 if none */
gint64 outbox_newest_of_kind(Store *store, const char *kind, GError **error);

/* ---- address suspension: after a permanent failure, nothing more goes to an address --------
 * Addresses are compared in lowercase. */

typedef struct {
    char *address, *status, *reason;
    gint64 until, outbox_id, created_at;
} AddressSuspension;

void address_suspension_free(AddressSuspension *suspension);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AddressSuspension, address_suspension_free)

/* Suspends (or extends the suspension of) address until the given time. */
gboolean address_suspend(Store *store, const char *address, gint64 until, const char *status,
                         const char *reason, gint64 outbox_id, GError **error);
/* the suspension in force at now; *out NULL when there is none */
gboolean address_suspension_get(Store *store, const char *address, gint64 now,
                                AddressSuspension **out, GError **error);
/* ends a suspension (pahtctl resend); *lifted tells whether one was in force at now */
gboolean address_suspension_lift(Store *store, const char *address, gint64 now, gboolean *lifted,
                                 GError **error);

/* ---- bounces: every delivery status notification that reached us --------------------------- */

typedef struct {
    gint64 raw_id;          /* the DSN as received */
    gint64 outbox_id;       /* the letter it reports on; 0: matched nothing */
    const char *matched_by; /* "envelope" (VERP token), "message_id", or NULL */
    const char *status, *recipient, *diagnostic;
} BounceNew;

gboolean bounce_record(Store *store, const BounceNew *bounce, GError **error);

/* ---- outbound status: what the sender must remember between passes ------------------------ */

/* FALSE with no error when name is not set; detail may be NULL */
gboolean outbound_status_get(Store *store, const char *name, gint64 *value, char **detail,
                             GError **error);
gboolean outbound_status_set(Store *store, const char *name, gint64 value, const char *detail,
                             GError **error);
gboolean outbound_status_clear(Store *store, const char *name, GError **error);

/* ---- citizens' replies and automatic answers (queue/reply.c) ------------------------------- */

/* The report a message answers (SPEC §3.5), and whether the sender proved to be its
 * citizen. Proof that the sender read our letter to the citizen comes first: one of our
 * letters' Message-IDs (to the report's sender or citizen address) in In-Reply-To /
 * References (newest first), or the report's token in a recipient address
 * (reply_to_pattern "paht+{token}@soctrang.gov.vn"). Then, unproven because a From address
 * is easy to forge: the citizen's own Message-ID of the report, or the tracking code
 * "PREFIX-YYYY-NNNNNN" in the subject, each only when the From address is the report's
 * sender or citizen. A stranger quoting someone else's code joins nothing: refused_code
 * names that code (the message becomes a new report). */
typedef struct {
    gint64 report_id; /* 0: not a reply to a report we know */
    char *code, *token, *state;
    char *how;          /* "In-Reply-To", "References", "token", "tracking code", ... */
    gboolean proven;    /* by our letter's Message-ID or the token: the sender read our mail */
    char *refused_code; /* a code in the subject of a report the sender is not the citizen of */
} ReplyMatch;

void reply_match_clear(ReplyMatch *match);
gboolean reply_find_report(Store *store, const Draft *draft, const char *code_prefix,
                           const char *reply_to_pattern, ReplyMatch *out, GError **error);
/* a match made by a person (the IOC confirming a supplement): report_id with how, proven */
gboolean reply_match_report(Store *store, gint64 report_id, const char *how, ReplyMatch *out,
                            GError **error);

/* What adding a reply did to its report. */
typedef struct {
    char *state_before, *state_after;
    gboolean completed; /* it was incomplete and the reply supplied what was missing */
    char **missing;     /* after the reply (NULL-terminated) */
} ReplyOutcome;

void reply_outcome_clear(ReplyOutcome *outcome);

/* Adds a citizen's reply to a report in the caller's transaction: its attachments (stored
 * already), a "citizen_reply" event with its text (quote cut), and, while the report waits for
 * the IOC (draft, incomplete), the text appended to the report's and every field it lacked
 * merged in (fields it has stay as they are), the missing list recomputed and an incomplete
 * report made a draft when nothing is missing any more (event "completed"). A request for
 * secrecy makes the report confidential in any state (event "confidential"), and an emergency
 * reply is recorded (event "emergency"), each naming the rule that fired. */
gboolean reply_add_to_report(Store *store, gint64 report_id, const Draft *draft, gint64 raw_id,
                             const char *how, ReplyOutcome *out, GError **error);

/* The address whose message made the report (who may quote its code, SPEC §3.5; given to
 * report_create): that address (*address NULL when none was recorded); PAHT_ERROR_NOT_FOUND for no
 * report */
gboolean report_sender(Store *store, gint64 report_id, char **address, GError **error);

/* ---- replies waiting for the IOC (pending supplements) --------------------------------------
 * A message that matched a report without proof that its sender is the citizen (see
 * ReplyMatch.proven), or whose sender the province's MX could not verify, is not added to the
 * report: it waits, with its raw message, until the IOC confirms (it is then added as any
 * reply) or discards it. Each step is an event on the report. */

typedef struct {
    gint64 id, report_id, raw_id;
    char *sender;     /* its From address, or NULL */
    char *matched_by; /* ReplyMatch.how */
    char *reason;     /* why it waits */
    char *state;      /* pending | confirmed | discarded */
    gint64 created_at, decided_at;
    char *decided_by;
} PendingReply;

void pending_reply_free(PendingReply *pending);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PendingReply, pending_reply_free)

/* records one (and the event "supplement_pending"); *id_out (may be NULL) gets its id */
gboolean pending_reply_add(Store *store, gint64 report_id, gint64 raw_id, const char *sender,
                           const char *matched_by, const char *reason, gint64 *id_out,
                           GError **error);
/* PAHT_ERROR_NOT_FOUND when there is none */
PendingReply *pending_reply_get(Store *store, gint64 id, GError **error);
/* a report's, oldest first (PendingReply *) */
GPtrArray *pending_reply_list(Store *store, gint64 report_id, GError **error);
/* TRUE while it waits; else PAHT_ERROR_REFUSED saying it was decided already */
gboolean pending_reply_is_open(const PendingReply *pending, GError **error);
/* pending -> confirmed | discarded, with an event by actor; PAHT_ERROR_REFUSED when it was
 * decided already. Confirming does not add the reply: the caller does, in its transaction. */
gboolean pending_reply_decide(Store *store, gint64 id, gboolean confirm, const char *actor,
                              GError **error);

/* ---- action addresses (queue/action_address.c) ---------------------------------------------
 * Issue 14: the letters to agencies and leaders offer signed reply addresses,
 * paht+<action>-<token>@..., each valid for one action on one report from one recipient (the
 * letters module makes the token; see letters/letters.h). The store keeps each address as it
 * was offered, and when it was used: it acts once. */

typedef struct {
    gint64 id;
    char *token; /* lowercase hex */
    gint64 report_id;
    char *action;    /* result, extend, return, opinion, approve, sendback */
    char *recipient; /* the address it was offered to (address_normalise) */
    char *letter;    /* the dedupe key of the letter that offered it */
    gint64 created_at;
    gint64 used_at;     /* 0: never used */
    gint64 used_raw_id; /* the message that used it */
} ActionAddress;

void action_address_free(ActionAddress *address);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ActionAddress, action_address_free)

/* Records an address offered at now (a letter enqueued again offers the same token: the row
 * stays as it was). */
gboolean action_address_record(Store *store, const char *token, gint64 report_id,
                               const char *action, const char *recipient, const char *letter,
                               gint64 now, GError **error);
/* the address with this token (lowercase hex); *out NULL when there is none */
gboolean action_address_find(Store *store, const char *token, ActionAddress **out, GError **error);
/* Marks it used by message raw_id at now, in the caller's transaction. *first FALSE when it
 * had been used already (it then stays as it was). */
gboolean action_address_use(Store *store, gint64 id, gint64 raw_id, gint64 now, gboolean *first,
                            GError **error);

/* ---- automatic answers, counted (the rate limits of SPEC §3.6) ------------------------------
 * Counted by mailbox (address_normalise: case and "+tag" folded), by domain, and in total. */

typedef struct {
    gint64 mailbox_day; /* to the address's mailbox in the 24 hours before now */
    gint64 domain_hour; /* to its domain in the hour before now */
    gint64 total_hour;  /* to anyone in the hour before now */
} AutoAnswerCounts;

gboolean auto_answer_count(Store *store, const char *address, gint64 now, AutoAnswerCounts *out,
                           GError **error);
/* one automatic answer enqueued (letter outbox_id, 0: none) to address at time at */
gboolean auto_answer_record(Store *store, gint64 outbox_id, const char *address, gint64 at,
                            GError **error);

/* ---- the console's accounts, sessions and login attempts (pahtweb, queue/users.c) -----------
 * Who may use the console (issue 13). Logins are compared without regard to case. Every
 * change to an account is an account event (pahtctl audit). */

typedef struct {
    gint64 id;
    char *login;
    char *role;          /* ioc | admin | agency | leader */
    char *agency;        /* agency and leader: the agency's code; else NULL */
    char *name, *email;  /* email may be NULL */
    char *password_hash; /* crypto_pwhash_str's text (argon2id) */
    gboolean disabled;
    gint64 created_at, updated_at;
} Account;

void account_free(Account *account);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Account, account_free)

/* a new account (account->id and the times are ignored), with an "account_added" event by
 * actor. PAHT_ERROR_REFUSED when the login is taken. id_out may be NULL. */
gboolean account_add(Store *store, const Account *account, const char *actor, gint64 *id_out,
                     GError **error);
/* PAHT_ERROR_NOT_FOUND when there is none */
Account *account_get(Store *store, const char *login, GError **error);
Account *account_get_id(Store *store, gint64 id, GError **error);
/* every account, by login (Account *) */
GPtrArray *account_list(Store *store, GError **error);
/* a new password hash; the account's sessions end (whoever knew the old one is out) */
gboolean account_set_password(Store *store, const char *login, const char *password_hash,
                              const char *actor, GError **error);
/* disabling ends the account's sessions at once */
gboolean account_set_disabled(Store *store, const char *login, gboolean disabled, const char *actor,
                              GError **error);
gboolean account_event_add(Store *store, const char *actor, const char *login, const char *kind,
                           const char *detail, GError **error);

typedef struct {
    gint64 id, user_id;
    char *csrf; /* the session's token for forms */
    gint64 created_at, seen_at;
} ConsoleSession;

void console_session_free(ConsoleSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ConsoleSession, console_session_free)

/* a session of user_id known by the SHA-256 (hex) of its token, from now */
gboolean console_session_create(Store *store, gint64 user_id, const char *token_hash,
                                const char *csrf, const char *client, GError **error);
/* the session with this token hash that has not ended; NULL with no error when none */
ConsoleSession *console_session_find(Store *store, const char *token_hash, GError **error);
gboolean console_session_touch(Store *store, gint64 id, gint64 now, GError **error);
/* reason: "logout", "idle", "expired", ... */
gboolean console_session_end(Store *store, gint64 id, const char *reason, GError **error);

/* After max_failures failed logins within window_seconds (none counted before the key's
 * last success), an account and a client address get one attempt per interval_seconds. */
typedef struct {
    int max_failures;
    gint64 window_seconds, interval_seconds;
} LoginThrottle;

/* An attempt to log in as login from client, decided under the write lock so that parallel
 * attempts cannot slip past the throttle: *attempt_id is the attempt to finish after the
 * password check, or 0 when the throttle refuses it (recorded as "throttled"). */
gboolean login_attempt_begin(Store *store, const char *login, const char *client,
                             const LoginThrottle *throttle, gint64 *attempt_id, GError **error);
gboolean login_attempt_finish(Store *store, gint64 attempt_id, gboolean ok, GError **error);

/* ---- the console's search (pahtweb, queue/search.c) ------------------------------------------
 * Reports are found through an FTS5 index the store keeps in step with each report row
 * (code, name, phone, e-mail, subject, text, place), diacritics folded: "den duong" finds
 * "Đèn đường". */

/* text in NFC, "đ"/"Đ" as "d", lower case, every character that is not a letter, a digit or a
 * mark as a space; NULL for NULL or invalid UTF-8 (g_free) */
char *search_fold(const char *text);
/* the folded words of text, at most max (<= 0: all) (g_strfreev; never NULL) */
char **search_tokens(const char *text, int max);
/* the FTS5 query of what a user typed: every word must match, as a prefix; NULL when it has no
 * letter or digit (g_free) */
char *search_match_query(const char *text);
/* After personal data was erased from reports (issue 16): rewrite the search index so that
 * its files keep no trace of the erased words (deleted entries otherwise stay in the index's
 * older segments until they are merged). Rewrites the whole index: once per erasure batch. */
gboolean report_search_forget(Store *store, GError **error);
/* Indexes the reports made since the last catch-up (a new report waits in
 * report_search_pending: the index is written in batches, not in each mail's transaction),
 * in one transaction; only a read when none waits. report_query does it before a search;
 * pahtd at the end of a pass (and during a long one: gateway/mailbox.c), pahtctl ingest at
 * its end. */
gboolean report_search_catch_up(Store *store, GError **error);

/* Possible duplicates of a report (the report page): other open reports received since now
 * minus 30 days, within 150 m of its coordinates or whose place, subject and text share pairs
 * of adjacent words with its own at least SEARCH_DUPLICATE_MIN_DICE (Dice's coefficient,
 * diacritics dropped); the nearest first, then the most similar. */
#define SEARCH_DUPLICATE_MIN_DICE 0.12
typedef struct {
    gint64 id;
    char *code, *state;
    gint64 received_at;
    gboolean near;     /* within 150 m */
    double distance_m; /* < 0: one of the two has no coordinates */
    double similarity; /* 0..1 */
    char **shared;     /* a few of the pairs of words both have, as this report writes them */
} PossibleDuplicate;

void possible_duplicate_free(PossibleDuplicate *duplicate);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PossibleDuplicate, possible_duplicate_free)
/* PossibleDuplicate *, at most limit (<= 0: all) */
GPtrArray *report_possible_duplicates(Store *store, const Report *report, gint64 now, int limit,
                                      GError **error);
/* the measure report_possible_duplicates applies to two reports' place, subject and text */
double search_text_similarity(const char *place_a, const char *subject_a, const char *text_a,
                              const char *place_b, const char *subject_b, const char *text_b);
/* metres between two points given in degrees */
double search_distance_m(double lat1, double lon1, double lat2, double lon2);

/* ---- the console's view of reports (pahtweb, queue/console.c) --------------------------------
 */

/* The queue of a console user: reports filtered, ordered by their earliest open deadline of
 * the owners given (no deadline last), then by arrival; a page of it. */
typedef struct {
    const char *const *states; /* NULL-terminated; NULL: every state */
    const char *agency;        /* reports whose main or coordinating agency it is; NULL: any */
    gboolean main_agency_only; /* with agency: as the main agency only */
    const char *const *owners; /* deadline owners that order the list (ioc, agency,
                                  coordinators, leader); NULL: every deadline */
    const char *flag;          /* emergency | complaint | confidential | stranger | overdue; NULL */
    const char *search;        /* words of a code, a name, a phone number, an e-mail address, the
                                  subject, the text or the place (search_match_query), or a
                                  phone number as people write it */
    gboolean search_redacted;  /* an agency's or a leader's: a confidential report is found
                                  by its code only */
    gint64 now;                /* for "overdue" */
    int offset, limit;
} ReportQuery;

typedef struct {
    gint64 id;
    char *code, *state, *classification, *subject, *citizen_name, *citizen_email, *agency;
    gint64 received_at;
    char *due_name; /* the earliest open deadline of the query's owners, or NULL */
    gint64 due;
    gboolean overdue, confidential;
    gboolean stranger; /* the subject quoted a code of someone else's report */
    int n_attachments;
    char **missing;
} ReportListItem;

void report_list_item_free(ReportListItem *item);
/* ReportListItem *; *total (may be NULL) counts every match */
GPtrArray *report_query(Store *store, const ReportQuery *query, int *total, GError **error);

/* What a connection has seen of the database, for a reader that keeps what it rendered
 * (web/queue_cache.c): PRAGMA data_version, which moves when another connection (of this
 * process or another) commits, and the rows this connection changed itself. Equal twice on
 * the same connection, and no other connection, nothing changed in between. */
typedef struct {
    gint64 data_version, own_changes;
} StoreVersion;

gboolean store_version(Store *store, StoreVersion *out, GError **error);
/* the earliest due time after now of any open deadline, or 0: when a queue's "overdue" may
 * change even though nothing is written */
gboolean deadline_next_due(Store *store, gint64 now, gint64 *due, GError **error);

/* the parser's warnings about the report's message (NULL-terminated; g_strfreev) */
char **report_warnings(Store *store, gint64 report_id, GError **error);

typedef struct {
    char *name, *owner, *status; /* status: open | met | cancelled */
    gint64 due, set_at, closed_at;
} DeadlineInfo;

void deadline_info_free(DeadlineInfo *info);
/* the report's deadlines, by due time (DeadlineInfo *) */
GPtrArray *report_deadlines(Store *store, gint64 report_id, GError **error);

/* files an agency gave with its result */
typedef struct {
    gint64 id, report_id;
    char *filename, *content_type, *sha256, *path, *uploaded_by;
    gint64 size, uploaded_at;
} ResultFile;

void result_file_free(ResultFile *file);
gboolean result_file_add(Store *store, const ResultFile *file, GError **error);
/* oldest first (ResultFile *) */
GPtrArray *result_file_list(Store *store, gint64 report_id, GError **error);

/* the letters of a report enqueued after the letter after_id, oldest first (gint64 ids) */
GArray *outbox_ids_after(Store *store, gint64 report_id, gint64 after_id, GError **error);

/* who did what when (pahtctl audit): events of reports and of accounts in [from, to), oldest
 * first, at most limit; actor and report_id (0: all) narrow it */
typedef struct {
    gint64 at;
    char *actor, *kind, *detail;
    char *code;  /* the report's, or NULL for an account event */
    char *login; /* the account's, for an account event */
} AuditEntry;

void audit_entry_free(AuditEntry *entry);
GPtrArray *audit_list(Store *store, gint64 from, gint64 to, const char *actor, gint64 report_id,
                      int limit, GError **error);

/* the health page: letters by state, addresses suspended at now, messages kept aside */
typedef struct {
    int queued, sending, sent, failed;
} OutboxCounts;

gboolean outbox_counts(Store *store, OutboxCounts *out, GError **error);
/* AddressSuspension * */
GPtrArray *address_suspension_list(Store *store, gint64 now, GError **error);
/* unparsed or quarantined raw messages, newest first, at most limit (RawMessage *) */
GPtrArray *raw_message_list_aside(Store *store, int limit, GError **error);
/* when the mailbox position was last written (a pass of pahtd), 0 if never */
gboolean mailbox_state_updated_at(Store *store, const char *mailbox, gint64 *at, GError **error);

/* ---- what the public sees (Open311, issue 15; queue/public.c) -------------------------------- */

typedef struct {
    const char *const *codes; /* tracking codes, any case (NULL-terminated); NULL: any */
    const char *category;     /* its code; NULL: any */
    gint64 from, to;          /* received in [from, to); 0: no bound */
    const char *status;       /* "open" | "closed" (published or closed) | NULL: both */
    int limit;                /* at most; 0: no limit */
} PublicQuery;

/* the reports the IOC accepted that match (never a rejected or confidential one), newest
 * first: gint64 ids */
GArray *public_report_ids(Store *store, const PublicQuery *query, GError **error);
/* the IOC's mark on an image of a report (by content): public (by actor) or not */
gboolean public_image_set(Store *store, gint64 report_id, const char *sha256, gboolean public_,
                          const char *actor, GError **error);
/* the sha256 of the report's public images, oldest mark first (char *) */
GPtrArray *public_image_list(Store *store, gint64 report_id, GError **error);

G_END_DECLS

#endif
