/* queue: the durable heart of the gateway. One SQLite database (WAL, synchronous=FULL) holds
 * every raw message, every report (phản ánh) with its attachments and events, and the outbox.
 * The CLI and the daemon share it; it is their only integration point.
 *
 * Also the data model that parse fills in (Draft) and the store turns into a report.
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

G_BEGIN_DECLS

/* ---- the draft: what parse makes of one message -------------------------------------------- */

typedef struct {
    char *filename;     /* safe, NFC, no path parts; unique within the draft */
    char *content_type; /* lowercase "type/subtype" */
    char *kind;         /* image | video | audio | document | other */
    char *content_id;   /* inline images (cid:), without <>; or NULL */
    gboolean dangerous; /* an executable or script: flagged, never opened */
    gint64 size;        /* decoded bytes */
    char *sha256;       /* hex of the decoded bytes */
    char *path;         /* where parse streamed it; the gateway moves it into the store */
} DraftAttachment;

typedef struct {
    char *name;      /* họ tên: NFC, trimmed, single-spaced */
    char *address;   /* địa chỉ liên hệ */
    char *id_number; /* căn cước / CCCD (12 digits) or CMND (9): digits only */
    char *phone;     /* digits only, national form (0...) */
    char *email;     /* the sender's unless the text gives another */
} DraftCitizen;

typedef struct {
    char *text; /* địa điểm as written */
    gboolean has_coordinates;
    double lat, lon;
} DraftLocation;

typedef struct {
    /* headers, decoded (RFC 2047/2231) and NFC */
    char *message_id;      /* without <>; NULL if absent */
    char *in_reply_to;     /* without <> */
    GPtrArray *references; /* char *, without <>, oldest first */
    char *subject;         /* one line */
    char *from_name;
    char *from_address;     /* lowercase domain */
    char *reply_to_address; /* NULL if absent */
    char *return_path;      /* envelope sender; "" for <>; NULL if unknown */
    GPtrArray *recipients;  /* char *: To, Cc, Delivered-To, X-Original-To addresses */
    gint64 date;            /* Date: header as unix time; 0 if missing or invalid */

    /* body */
    char *text;        /* the best text part as NFC UTF-8, quoted earlier mail cut */
    char *quoted_text; /* what was cut (kept, never shown as the report) */

    /* decisions of parse (SPEC §3.4-3.5); "reply" is decided by the gateway with the store */
    char *classification; /* auto | bounce | emergency | complaint | report */
    char *rule;           /* which rule fired, e.g. "header Auto-Submitted: auto-replied" */
    gboolean confidential;
    DraftCitizen citizen;
    DraftLocation location;
    char *occurred_at; /* thời gian: RFC 3339 when understood, else as written; or NULL */
    char *rating;      /* Điều 10.3 "1" | "2" | "3" when the text is a rating, else NULL */

    /* a delivery status notification (classification bounce) */
    char *dsn_original_message_id; /* Message-ID of our letter it reports on */
    char *dsn_status;              /* "5.1.1" */
    char *dsn_recipient;           /* the failed address */
    char *dsn_diagnostic;          /* the remote server's words */

    GPtrArray *attachments; /* DraftAttachment * */
    GPtrArray *warnings;    /* char *: what parse had to work around, for the operator */
} Draft;

Draft *draft_new(void);
void draft_free(Draft *draft);
void draft_attachment_free(DraftAttachment *attachment);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Draft, draft_free)

/* names of the required Điều 4 fields the draft lacks, in the order
 * name, address, id_number, phone, location (NULL-terminated; g_strfreev) */
char **draft_missing_fields(const Draft *draft);

/* ---- the store ----------------------------------------------------------------------------- */

typedef struct Store Store;

/* Opens (creating 0600 and migrating as needed) the database. A database file readable by
 * others is refused (PAHT_ERROR_CONFIG): it holds citizens' personal data. */
Store *store_open(const char *path, GError **error);
void store_close(Store *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Store, store_close)

int store_schema_version(Store *store);

gboolean store_begin(Store *store, GError **error);
gboolean store_commit(Store *store, GError **error);
void store_rollback(Store *store);

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
typedef struct {
    gint64 id;
    char *mailbox; /* NULL for files given to pahtctl ingest */
    guint32 uidvalidity, uid;
    char *message_id;
    char *sha256;
    char *path; /* content-addressed raw file */
    gint64 size;
    gint64 received_at;
    char *state;
    char *classification; /* once processed */
    gint64 report_id;     /* the report it created or joined; 0 if none */
    int attempts;         /* processing attempts started (crash detection) */
    char *error;          /* why it is unparsed */
} RawMessage;

void raw_message_free(RawMessage *raw);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(RawMessage, raw_message_free)

/* NULL with no error when absent */
RawMessage *raw_message_find_uid(Store *store, const char *mailbox, guint32 uidvalidity,
                                 guint32 uid, GError **error);
/* the message with these bytes (and this Message-ID unless NULL) */
RawMessage *raw_message_find_content(Store *store, const char *message_id, const char *sha256,
                                     GError **error);
/* TRUE if some recorded message has this Message-ID (cheap check before a download) */
gboolean raw_message_has_message_id(Store *store, const char *message_id, GError **error);
RawMessage *raw_message_get(Store *store, gint64 id, GError **error);
/* inserts raw (id ignored; state "fetched", attempts 1); returns the new id or 0 */
gint64 raw_message_insert(Store *store, const RawMessage *raw, GError **error);
gboolean raw_message_set_state(Store *store, gint64 id, const char *state, const char *error_text,
                               GError **error);
gboolean raw_message_count_attempt(Store *store, gint64 id, int *attempts_out, GError **error);
/* after a UIDVALIDITY change: the same message now lives at a new UID */
gboolean raw_message_relocate(Store *store, gint64 id, const char *mailbox, guint32 uidvalidity,
                              guint32 uid, GError **error);
/* marks the raw message processed, with what it became, in the caller's transaction.
 * PAHT_ERROR_REFUSED if it already is (someone else processed it meanwhile): roll back. */
gboolean raw_message_mark_processed(Store *store, gint64 id, const char *classification,
                                    gint64 report_id, GError **error);
/* raw messages of a mailbox still waiting for a step after a crash (processed or unparsed
 * but not yet moved): RawMessage * list */
GPtrArray *raw_message_list_unfinished(Store *store, const char *mailbox, GError **error);

/* ---- the daemon's own state -----------------------------------------------------------------
 * A few values pahtd keeps across restarts (e.g. since when the mailbox is unreachable), by
 * key. NULL (and no error) for a key never set; a NULL value deletes the key. */

char *daemon_state_get(Store *store, const char *key, GError **error);
gboolean daemon_state_set(Store *store, const char *key, const char *value, GError **error);

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
 * fields). */
gboolean report_create(Store *store, const Draft *draft, const char *code_prefix, GTimeZone *zone,
                       gint64 received_at, gint64 raw_id, ReportRef *out, GError **error);

gboolean event_add(Store *store, gint64 report_id, const char *actor, const char *kind,
                   const char *detail, GError **error);

typedef struct {
    char *filename, *content_type, *kind, *sha256, *path, *content_id;
    gint64 size;
    gboolean dangerous;
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
    char *agency;           /* NULL until accepted */
    char **coordinators;    /* NULL-terminated, maybe empty */
    GPtrArray *attachments; /* StoredAttachment * */
    GPtrArray *events;      /* ReportEvent *, oldest first */
    GPtrArray *mail;        /* ReportMail *, oldest first */
    GPtrArray *deadlines;   /* ReportDeadline *, by name */
} Report;

typedef struct {
    char *name;
    gint64 due;
} ReportDeadline;

void report_free(Report *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Report, report_free)

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
} OutboxClaim;

void outbox_claim_free(OutboxClaim *claim);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OutboxClaim, outbox_claim_free)

/* Claims the next due letter with a lease (queued, or sending with an expired lease: the
 * sender died). NULL with no error when nothing is due. */
OutboxClaim *outbox_claim_next(Store *store, gint64 now, int lease_seconds, GError **error);

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
    gint64 id;
    char *dedupe_key, *kind, *rcpt, *state, *message_id, *last_reply;
    gint64 report_id;
    int attempts;
    gint64 created_at, updated_at, sent_at, next_attempt_at;
} OutboxEntry;

void outbox_entry_free(OutboxEntry *entry);
/* state NULL: all; newest last */
GPtrArray *outbox_list(Store *store, const char *state, GError **error);
/* the raw letter, for pahtctl preview and tests */
GBytes *outbox_message(Store *store, gint64 id, GError **error);

G_END_DECLS

#endif
