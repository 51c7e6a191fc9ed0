/* draft: the data model of one message as parse reads it (parse/parse.h makes it; the store,
 * queue/queue.h, turns it into a report). GLib only: neither SQLite nor GMime.
 *
 * Every string is NFC UTF-8 (or NULL); a draft owns all it points to and is freed with
 * draft_free.
 */
#ifndef PAHT_DRAFT_H
#define PAHT_DRAFT_H

#include <glib.h>

G_BEGIN_DECLS

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

/* The classifications of SPEC §3.5 (first match wins): of a draft, of the message it was, of
 * the report it made. Parse decides all but CLASSIFICATION_REPLY, which needs the store. */
#define CLASSIFICATION_AUTO      "auto"      /* auto-replies, bulk and list mail: never answered */
#define CLASSIFICATION_BOUNCE    "bounce"    /* delivery status notifications */
#define CLASSIFICATION_REPLY     "reply"     /* a reply to a report we know */
#define CLASSIFICATION_EMERGENCY "emergency" /* Điều 8.6: call 1022, the IOC alerted */
#define CLASSIFICATION_COMPLAINT "complaint" /* khiếu nại, tố cáo: not received (Điều 1.1.c) */
#define CLASSIFICATION_REPORT    "report" /* everything else: a field report */
/* not a classification: what pahtctl ingest and the parser process say of a message kept
 * aside (RAW_UNPARSED) */
#define CLASSIFICATION_UNPARSED "unparsed"

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
    char *classification; /* CLASSIFICATION_AUTO ... _REPORT (never _REPLY) */
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

    /* the sender's authenticity as the province's own MX judged it (RFC 8601), read only
     * from headers naming ParseOptions.trusted_authserv_id; NULL/FALSE when that is unset or
     * the MX wrote nothing */
    char *auth_dmarc;      /* "fail" if any trusted Authentication-Results says dmarc=fail,
                              else the topmost trusted dmarc result ("pass", "none", ...) */
    char *auth_results;    /* that header's value, one line, for the IOC */
    char *auth_dkim_pass;  /* the domains any trusted header says dkim=pass for, lowercase,
                              comma-separated (issue 14: a DKIM signature of the From
                              domain vouches for an agency's reply); NULL: none */
    gboolean spam_flagged; /* the topmost X-Spam-Flag is YES, or X-Spam-Status says Yes */
    char *spam_status;     /* the topmost X-Spam-Status (else X-Spam-Flag), one line */

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
/* the names draft_missing_fields may give, NULL-terminated */
const char *const *draft_field_names(void);

G_END_DECLS

#endif
