/* parse: what the files of the module share; nothing here is visible outside parse/.
 *
 * The work is a pipeline of steps over one ParseContext (parse.c runs them in order):
 *
 *   headers            headers.c           Message-ID, Subject, From, recipients, Date
 *   content            content.c           body text, quoted text, attachments, forwards
 *   classify headers   classify_headers.c  auto / bounce (and the DSN fields)
 *   fields             fields.c            the citizen's details of Điều 4, location, time
 *   classify           classify.c          emergency / complaint / report, confidential
 *
 * Later steps (field extraction, keyword classification) are added as new files with a
 * function of the ParseStep type and one line in the step table of parse.c. A step reads
 * ctx->draft and ctx->submission and fills in more of the draft. Classification: a step that
 * decides sets draft->classification and draft->rule; a step that finds them already set
 * leaves them alone (first match wins, SPEC §3.5). parse.c sets "report" / "default" when no
 * step decided.
 */
#ifndef PAHT_PARSE_PRIVATE_H
#define PAHT_PARSE_PRIVATE_H

#include <gmime/gmime.h>

#include "parse/parse.h"

G_BEGIN_DECLS

/* decoded text parts larger than this (encoded size) are kept as attachments, not read as
 * the body: nobody writes 8 MB of report by hand, and the text is held in memory */
#define PARSE_MAX_TEXT_BYTES (8 * 1024 * 1024)
/* a winmail.dat is unpacked in memory (libytnef works on a buffer) */
#define PARSE_MAX_TNEF_BYTES (64 * 1024 * 1024)
/* warnings kept per message; more are counted, not listed */
#define PARSE_MAX_WARNINGS 50
/* how many decoded bytes of each attachment are kept for content sniffing */
#define PARSE_SNIFF_BYTES 4096

typedef struct ParseContext {
    Draft *draft;

    /* options, defaults applied */
    const char *attachments_dir;
    const char *our_address;
    const char *keywords_file;
    const char *code_prefix;
    ParseLettersFunc our_letters;
    gpointer our_letters_data;
    const char *trusted_authserv_id;
    int max_parts;
    int max_depth;

    GMimeParserOptions *gmime_options;
    GMimeMessage *message;        /* the message as received */
    GMimeMessage *submission;     /* the forwarded message when the mail is just a forward of one
                                     (SPEC §3.3), else == message; borrowed */
    gboolean is_reply;            /* In-Reply-To, References or a reply prefix in the subject */
    gboolean is_forward;          /* a forward prefix in the subject */
    struct QuoteLetters *letters; /* our letters this mail may quote (loaded on first use) */
    gboolean letters_loaded;
    gboolean subject_is_ours; /* the subject is one of our letters' (with "Re:"): its words are
                                 not the citizen's, classification ignores it */

    /* bookkeeping */
    GPtrArray *created_files;  /* char *: every file made in attachments_dir, for cleanup */
    guint file_counter;        /* next "part-NNNN" number to try */
    GHashTable *used_names;    /* casefolded display names already given */
    GHashTable *warning_set;   /* warnings already listed */
    guint warnings_dropped;    /* beyond PARSE_MAX_WARNINGS */
    gboolean nesting_overflow; /* GMime gave up descending (its own depth limit) */
    char *charset_hint;        /* the first 8-bit charset the message declares (charset.c) */
    gboolean charset_hint_known;

    /* the body text folded for matching, made once for the steps that read it
     * (parse_folded_text) */
    struct {
        const char *of; /* the text and length it is the fold of */
        gsize of_len;
        char *s;
        gsize len;
        guint *origin;
    } folded;
} ParseContext;

typedef gboolean (*ParseStep)(ParseContext *ctx, GError **error);

/* ---- steps ---------------------------------------------------------------------------------- */

gboolean parse_step_headers(ParseContext *ctx, GError **error);
gboolean parse_step_content(ParseContext *ctx, GError **error);
gboolean parse_step_classify_headers(ParseContext *ctx, GError **error);
gboolean parse_step_fields(ParseContext *ctx, GError **error);
gboolean parse_step_classify(ParseContext *ctx, GError **error);

/* ---- common.c: what every step uses --------------------------------------------------------- */

/* adds a warning for the operator; never pass personal data or message text */
void parse_warn(ParseContext *ctx, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* sets draft->classification and draft->rule unless a step already decided */
void parse_classify(ParseContext *ctx, const char *classification, const char *rule);

/* A regex compiled once per process (on first use, thread-safe) and kept: parsing runs its
 * patterns on every message, and compiling them each time cost more than matching.
 * G_REGEX_OPTIMIZE is added (PCRE's JIT). The pattern must be valid (asserted). */
GRegex *parse_regex(GRegex **slot, const char *pattern, GRegexCompileFlags flags);
/* text[0, len) folded (text_fold_mapped: *folded_len bytes, NUL-terminated, *origin the
 * offset in text each byte came from), made once per message: the fields and the
 * classification fold the same body. Owned by ctx, valid until it is asked for another text
 * or length (a body longer than one step reads). */
const char *parse_folded_text(ParseContext *ctx, const char *text, gsize len, gsize *folded_len,
                              const guint **origin);

/* one line for display: valid UTF-8, controls and white space runs as one space, trimmed,
 * NFC; at most max_bytes long (cut on a character boundary) */
char *text_one_line(const char *s, gsize max_bytes);

/* ---- headers.c ------------------------------------------------------------------------------ */

/* The unfolded value of the first header called name, with adjacent RFC 2047 encoded words of
 * the same charset merged into one (the GMime bug #133 workaround); NULL if absent. Still
 * encoded: hand it to g_mime_utils_header_decode_text or internet_address_list_parse. */
char *header_raw_merged(GMimeObject *object, const char *name);

/* merges adjacent same-charset encoded words of an unfolded header value (exposed for tests) */
char *rfc2047_merge_adjacent(const char *value);

/* decoded (RFC 2047, 8-bit fallback), valid UTF-8, NFC, on one line, trimmed */
char *header_decode_text(ParseContext *ctx, const char *raw);

/* "User@Example.COM" -> "User@example.com" (new string) */
char *address_lower_domain(const char *address);

/* One Authentication-Results header value (RFC 8601): FALSE when its authserv-id is not
 * trusted_id (case-insensitive); else TRUE and *dmarc is its dmarc result, lowercase ("pass",
 * "fail", ...), or NULL when it has none. Comments and quoted strings are understood. */
gboolean auth_results_read(const char *value, const char *trusted_id, char **dmarc);
/* the domains a trusted Authentication-Results value says dkim=pass for (header.d, else the
 * domain of header.i), lowercase and comma-separated; NULL when another server wrote it or it
 * says no such pass */
char *auth_results_dkim_passes(const char *value, const char *trusted_id);

/* reply ("Re:", "TL:") and forward ("Fwd:", "TV:") prefixes of a decoded subject */
void subject_reply_forward(const char *subject, gboolean *reply, gboolean *forward);

/* ---- charset.c ------------------------------------------------------------------------------ */

/* Bytes in the declared charset (NULL or unknown: valid UTF-8 first, else windows-1258) to
 * valid UTF-8. Not yet normalised. Warnings go to ctx. */
char *charset_to_utf8(ParseContext *ctx, const char *data, gsize len, const char *declared);

/* line ends to \n, control characters dropped, trailing white space stripped per line,
 * leading and trailing blank lines dropped, NFC. In: valid UTF-8. */
char *text_normalise(const char *utf8, gssize len);

/* RFC 3676 format=flowed: joins soft line breaks (CRLF or LF line ends) */
char *text_unflow(const char *text, gboolean delsp);

/* ---- html.c --------------------------------------------------------------------------------- */

/* HTML (UTF-8) to plain text keeping line structure. When find_quote is set, *quoted_out gets
 * the text of the quoted earlier mail (Gmail gmail_quote, Outlook divRplyFwdMsg, cite
 * blockquotes) and the result stops before it; else *quoted_out is NULL. Neither is
 * normalised yet. */
char *html_to_text(const char *html, gsize len, gboolean find_quote, char **quoted_out);

/* ---- quote.c -------------------------------------------------------------------------------- */

/* Splits normalised reply text into what the sender wrote and the quoted earlier mail
 * (SPEC §3.3). Returns FALSE (and leaves the outputs NULL) when nothing is cut; never cuts the
 * whole text. */
gboolean quote_split(const char *text, char **kept_out, char **quoted_out);

/* quote_split, but a text that is all quote is cut too (*kept_out NULL): a reply that only
 * quotes (reply, attach a photo, send). FALSE when there is no quote. */
gboolean quote_find(const char *text, char **kept_out, char **quoted_out);

/* TRUE if the text starts (within its first lines) with a forwarded-message marker */
gboolean quote_starts_with_forward(const char *text);

/* Our letters, as the words a quote of them is compared with (quote.c explains the rule). */
typedef struct QuoteLetters QuoteLetters;
QuoteLetters *quote_letters_new(void);
void quote_letters_free(QuoteLetters *letters);
/* one rendering of a letter (its plain text, or its HTML as text; normalised) and subject */
void quote_letters_add(QuoteLetters *letters, const char *text, const char *subject);
gboolean quote_letters_empty(const QuoteLetters *letters);
/* the subject without its "Re:" / "TL:" / "Fwd:" / "TV:" prefixes (new string) */
char *quote_subject_bare(const char *subject);
/* the subject, less those prefixes, is one of our letters' subjects */
gboolean quote_letters_subject(const QuoteLetters *letters, const char *subject);

/* What the citizen wrote in a quote of our letter: their own lines and their answers in our
 * block ("Label: value"), quote markers and the quote's header lines left out, a blank line
 * wherever our lines were between them; NULL when nothing. *our_words and *all_words count the
 * quote's words and those that are our letter's (how much of the quote is ours). */
char *quote_citizen_lines(const char *quoted, const QuoteLetters *letters, guint *our_words,
                          guint *all_words);

/* text without the lines that are copies of our letter (a hint line, a paragraph pasted
 * back or forwarded); short lines and our block lines without a value stay */
char *quote_drop_copied_lines(const char *text, const QuoteLetters *letters);

/* a forwarded block (after a "Forwarded message" marker) whose header names our address: a
 * letter of ours sent back, cut like a quote (*kept_out: what precedes it, or NULL) */
gboolean quote_forward_of_ours(const char *text, const char *our_address, char **kept_out,
                               char **quoted_out);

/* the quote's header (attribution, Outlook block) names our address or our reply address,
 * or the quote holds a tracking code (CODE_PREFIX-YYYY-NNNNNN) */
gboolean quote_names_us(const char *quoted, const char *our_address, const char *code_prefix);

/* ---- decode.c ------------------------------------------------------------------------------- */

/* receives decoded bytes; FALSE stops the copy (with *error set) */
typedef gboolean (*DecodeSink)(const char *data, gsize len, gpointer user_data, GError **error);

/* Streams the decoded content of part to sink. Base64 is decoded as GLib does, accepting '='
 * padding in the middle of the data (GMime bug #150 truncates there); other encodings with
 * GMime's own filters. */
gboolean part_decode(GMimePart *part, DecodeSink sink, gpointer user_data, GError **error);

/* the decoded content in memory; at most limit bytes (more: PAHT_ERROR_INPUT) */
GByteArray *part_decode_to_bytes(GMimePart *part, gsize limit, GError **error);

/* size of the part's encoded content, -1 if unknown */
gint64 part_encoded_length(GMimePart *part);

/* ---- sniff.c -------------------------------------------------------------------------------- */

typedef struct {
    const char *content_type; /* what the bytes are, or NULL if unknown */
    const char *kind;         /* image | video | audio | document | other, or NULL */
    gboolean executable;      /* MZ, ELF, Mach-O, "#!" */
} SniffResult;

void sniff_content(const guchar *head, gsize len, SniffResult *out);
/* kind for a declared lowercase content type; NULL if it says nothing */
const char *kind_from_content_type(const char *content_type);
/* ".jpg" for "image/jpeg"; ".bin" if unknown */
const char *extension_for_content_type(const char *content_type);
/* TRUE for executable and script file name extensions (the last one counts) */
gboolean filename_is_dangerous(const char *filename);
/* TRUE for content types that announce programs and scripts */
gboolean content_type_is_dangerous(const char *content_type);

/* ---- attach.c ------------------------------------------------------------------------------- */

/* streams part's decoded content into a new private file and adds a DraftAttachment */
gboolean attachment_add_part(ParseContext *ctx, GMimePart *part, GError **error);
/* the same for content already in memory (winmail.dat contents) */
gboolean attachment_add_bytes(ParseContext *ctx, const guchar *data, gsize len,
                              const char *raw_filename, const char *declared_type, GError **error);
/* an attached (not forwarded) message, written out as .eml */
gboolean attachment_add_message(ParseContext *ctx, GMimeMessagePart *part, GError **error);

/* "safe, NFC, no path parts" display name; unique within the draft (exposed for tests) */
char *attachment_safe_filename(ParseContext *ctx, const char *raw, const char *content_type);

/* removes every file created so far (on error) */
void attachment_remove_created(ParseContext *ctx);

/* ---- tnef.c --------------------------------------------------------------------------------- */

/* Unpacks an Outlook winmail.dat into attachments. *body_out gets its body text (NFC) if it
 * has one. FALSE with no error: not TNEF or not readable (the caller keeps the part as is). */
gboolean tnef_unpack(ParseContext *ctx, GMimePart *part, char **body_out, GError **error);
gboolean part_is_tnef(GMimePart *part);

/* ---- classify_headers.c --------------------------------------------------------------------- */

/* From MAILER-DAEMON or postmaster (any spelling), an empty From, a no-reply address, or an
 * empty Return-Path: machine mail (a message it attaches is not a citizen's forward) */
gboolean parse_sender_is_mailer(ParseContext *ctx);

/* RFC 3464 fields of a message/delivery-status body (exposed for tests) */
void dsn_parse_fields(const char *text, char **status, char **recipient, char **diagnostic);

/* ---- parse.c ------------------------------------------------------------------------------- */

/* the lines of the file fd that begin with "--" (a cheap upper bound of its MIME parts), read
 * until the count passes limit; FALSE (a temporary error) when the file cannot be read */
gboolean parse_prescan_delimiters(int fd, gint64 limit, gint64 *count_out, GError **error);
/* the same count for a message held in memory (all of it) */
gint64 parse_prescan_delimiters_of(const char *data, gsize len);

/* ---- fields.c ------------------------------------------------------------------------------ */

/* Điều 4.2: 12 digits with a known province code and a plausible century/sex digit and year
 * of birth (not after the year of now), or the 9 digits of the old CMND */
gboolean fields_id_number_valid(const char *digits, gint64 now);
/* a written phone number in national digits-only form ("+84 912 345 678" -> "0912345678");
 * NULL unless a Vietnamese mobile (03/05/07/08/09 + 8 digits) or landline (02x, 11 digits) */
char *fields_normalise_phone(const char *written);
/* coordinates in text: Google Maps links, "9.6025, 105.9739", "@9.6,105.97", DMS */
gboolean fields_find_coordinates(const char *text, double *lat, double *lon);
/* the next label of the fields table in folded text (util's text_fold) s[from, len): its
 * table text (single-spaced), its place in *start and *end; NULL when there is none.
 * fields_label_text(i) is the table's i-th label, NULL past its end (for the tests). */
const char *fields_label_next(const char *folded, gsize len, gsize from, gsize *start, gsize *end);
const char *fields_label_text(guint i);
/* the time of the incident as RFC 3339 ("2026-11-26T20:30:00+07:00") or a date
 * ("2026-11-26"); relative days ("tối qua") count from reference; NULL if no day is given */
char *fields_parse_time(const char *written, gint64 reference);
/* the GPS position in a JPEG's EXIF block (bounds-checked reader) */
gboolean exif_gps_from_jpeg(const guchar *data, gsize len, double *lat, double *lon);

/* ---- classify.c ----------------------------------------------------------------------------- */

typedef struct Keywords Keywords;

/* the keyword lists of a keywords.conf text; PAHT_ERROR_CONFIG naming origin and line */
Keywords *keywords_parse(const char *data, gsize len, const char *origin, GError **error);
void keywords_free(Keywords *keywords);
/* the rule ('keyword emergency "đang cháy" (text)') a category's lists give for a mail, or
 * NULL (category: "emergency", "complaint", "confidential") */
char *keywords_match(const Keywords *keywords, const char *category, const char *subject,
                     const char *text);
/* the lists this message is read with (ctx->keywords_file, else the built-in ones);
 * PAHT_ERROR_CONFIG when the file is broken. keywords_release() when done. */
Keywords *keywords_for(ParseContext *ctx, GError **error);
void keywords_release(Keywords *keywords);
/* The phrase (as written in the file) of a category's list found in the first len bytes of
 * text, exceptions applied; NULL if none. The string belongs to keywords. */
const char *keywords_find(const Keywords *keywords, const char *category, const char *text,
                          gsize len);
/* the same for the category's ".subject" list, anywhere in the subject */
const char *keywords_find_in_subject(const Keywords *keywords, const char *category,
                                     const char *subject);
/* the phrase of the category's ".subject" list that begins the subject (after "[tag]"s) and is
 * followed by ":" or nothing: "Automatic reply: ...", "Trả lời tự động: ..." */
const char *keywords_subject_prefix(const Keywords *keywords, const char *category,
                                    const char *subject);

G_END_DECLS

#endif
