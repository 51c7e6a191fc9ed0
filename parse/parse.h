/* parse: one e-mail file -> one Draft (draft/draft.h), with GMime.
 *
 * parse knows nothing of IMAP or SQLite. It reads the message from a file (never the whole
 * message in memory), decodes the headers (RFC 2047/2231), picks the best text body
 * (text/plain, else text/html turned into text with libxml2), converts every charset to NFC
 * UTF-8, streams every attachment into opts->attachments_dir with a safe name, extracts the
 * citizen's fields (Điều 4) and classifies the message (SPEC §3.5, all but "reply", which needs
 * the store and is decided by the gateway).
 *
 * Errors: PAHT_ERROR_INPUT when the file is not a message at all or breaks a hard limit
 * (depth, parts); PAHT_ERROR_TEMPORARY for I/O. Broken but readable mail is not an error: it
 * becomes a draft with warnings.
 */
#ifndef PAHT_PARSE_H
#define PAHT_PARSE_H

#include <glib.h>
#include "draft/draft.h"

G_BEGIN_DECLS

/* The letters we sent that a mail may quote (SPEC §3.3): a citizen answering our letter quotes
 * it, and our own words must never be read as theirs. Called at most once per message, after
 * the headers are read (headers->message_id, in_reply_to, references, recipients, subject and
 * from_address are set), for replies, forwards and mail that quotes earlier mail. Sets
 * *letters_out to the letters as we sent them (GBytes *, RFC 5322 bytes; the array owns them
 * and parse unrefs it), or to NULL when it knows none. FALSE with *error set (e.g.
 * PAHT_ERROR_TEMPORARY: the store is busy) fails the parse with that error. */
typedef gboolean (*ParseLettersFunc)(const Draft *headers, GPtrArray **letters_out,
                                     gpointer user_data, GError **error);

typedef struct {
    const char *attachments_dir;  /* existing private folder; attachments are created in it */
    const char *our_address;      /* mail from our own address is "auto" (no loops); our
                                     Message-IDs are paht.<hex>@ its domain */
    const char *keywords_file;    /* classification words; NULL = the built-in lists */
    const char *code_prefix;      /* "PAHT": a tracking code in a quote shows it is ours */
    ParseLettersFunc our_letters; /* NULL: our quoted letters are known by their marks only */
    gpointer our_letters_data;
    /* RFC 8601 authserv-id of the province's own MX: its Authentication-Results and spam
     * headers fill the draft's auth_* and spam_* fields; NULL = they are not read */
    const char *trusted_authserv_id;
    int max_parts; /* 0 = 1000 */
    int max_depth; /* 0 = 32 */
    /* a message up to this many bytes is read into memory once and parsed there, a bigger
     * one read from its file as needed; 0 = PARSE_IN_MEMORY_MAX, < 0 = always from the file
     * (tests) */
    gint64 in_memory_max;
} ParseOptions;

#define PARSE_IN_MEMORY_MAX (8 * 1024 * 1024)

/* once per process, before any parse (initialises GMime) */
void parse_init(void);

/* Returns a draft (free with draft_free). Attachment files it created belong to the caller
 * (listed in draft->attachments[i]->path); on error none are left behind. */
Draft *parse_message_file(const char *path, const ParseOptions *opts, GError **error);

/* Reads a keywords file (conf/keywords.conf format; NULL: the built-in lists) as parsing
 * would: PAHT_ERROR_CONFIG naming the file and line when it is broken. For start-up checks;
 * parse_message_file reads the file again whenever it changes. */
gboolean parse_keywords_check(const char *keywords_file, GError **error);

/* A value a person corrects (the console, issue 13), checked by the parser's own rules for
 * that field of Điều 4: name, address, id_number, phone, email, location, occurred_at. *value
 * gets it as the parser stores it (ID number: digits; phone: national form; text: NFC,
 * trimmed, single-spaced; time: RFC 3339 when understood, else as written), or NULL for an
 * empty value (the field is cleared); for location, the coordinates written in it. FALSE
 * with *why (Vietnamese, for the operator) when the parser would refuse it. now: the
 * reference for dates without a year and for the ID number's year of birth. */
gboolean parse_check_field(const char *field, const char *written, gint64 now, char **value,
                           gboolean *has_coordinates, double *lat, double *lon, char **why);

/* Labels this parser reads in a citizen's text (fields.c: "Họ và tên: ..." lines), for a
 * program that writes such a text for it (an Open311 submission, gateway/submission.c). They
 * are the parser's vocabulary, not a letter's words: change them with fields.c. */
#define PARSE_LABEL_NAME        "Họ và tên"
#define PARSE_LABEL_PHONE       "Điện thoại"
#define PARSE_LABEL_ADDRESS     "Địa chỉ"
#define PARSE_LABEL_ID_NUMBER   "CCCD"
#define PARSE_LABEL_OCCURRED_AT "Thời gian"
#define PARSE_LABEL_LOCATION    "Địa điểm"
#define PARSE_LABEL_GPS         "Tọa độ"
#define PARSE_LABEL_MEDIA       "Ảnh"
#define PARSE_LABEL_CATEGORY    "Lĩnh vực"

G_END_DECLS

#endif
