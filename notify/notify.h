/* notify: the letters we send. Rendering templates (a small mustache dialect), composing the
 * MIME letter with GMime (text + HTML, UTF-8, threaded, loop-safe headers), sending it over
 * SMTP with libcurl (STARTTLS or implicit TLS, certificates verified).
 *
 * notify does not decide who gets what: the gateway does, and the outbox (queue) keeps it.
 */
#ifndef PAHT_NOTIFY_H
#define PAHT_NOTIFY_H

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* ---- templates ------------------------------------------------------------------------------
 * Mustache as in the public spec: {{name}} (escaped when html), {{{name}}} and {{& name}}
 * (never escaped), {{#section}}...{{/section}} (false, null, "", 0, empty list, missing:
 * skipped; list: repeated with each item as context; object: entered; true: once),
 * {{^inverted}}...{{/...}}, {{! comments }}, dotted names (a.b.c) and {{.}}, {{=<% %>=}};
 * standalone tags leave no blank line. Missing names render as nothing, and so does
 * {{> partial}} here (letters read partials from templates_dir/NAME.partial.txt|html).
 * PAHT_ERROR_INPUT for an unbalanced or malformed template, naming the line. */
char *template_render(const char *template_text, JsonNode *context, gboolean html, GError **error);

/* ---- template contexts (json.c) --------------------------------------------------------------
 * JSON members, the way every JSON shape of the gateway writes them (the letters' contexts,
 * the IOC digest, pahtctl's output). */

/* "name": value, or "name": null when value is NULL */
void json_member_string(JsonBuilder *b, const char *name, const char *value);
/* "name": value; nothing at all when value is NULL (a template section that is absent) */
void json_member_string_if(JsonBuilder *b, const char *name, const char *value);
void json_member_int(JsonBuilder *b, const char *name, gint64 value);
void json_member_bool(JsonBuilder *b, const char *name, gboolean value);
/* "name": [values...] (an empty array for NULL) */
void json_member_strv(JsonBuilder *b, const char *name, char **values);
/* "name": RFC 3339 in zone, or null for t <= 0 */
void json_member_time(JsonBuilder *b, const char *name, gint64 t, GTimeZone *zone);

/* a coordinate as written, to at most 7 decimals (about 1 cm): "9.6031", "105.9738889" */
char *coordinate_text(double degrees);

/* a template's or a partial's name: letters, digits, '_' and '-', at most 64 (never a path) */
gboolean template_name_is_safe(const char *name);

/* Finds the text of partial NAME ({{> NAME}}). Returns a new string; NULL with no error
 * when there is no such partial (it renders as nothing, as the mustache spec says); NULL
 * with an error to stop rendering. */
typedef char *(*TemplatePartialLookup)(const char *name, gpointer user_data, GError **error);

/* The text of a template file: UTF-8, LF line ends, no BOM (PAHT_ERROR_CONFIG otherwise),
 * read once and kept while the file is the same (inode, size, mtime, ctime), so that an edit
 * shows at the next use. Returns a new string. The letters' and the console's pages' files. */
char *template_file_text(const char *path, GError **error);
/* dir/file, or fallback/file when that is missing from dir and fallback (may be NULL) has it:
 * a file a later version added, read from the installed templates behind a province's own
 * folder. Returns a new string. */
char *template_file_path(const char *dir, const char *fallback, const char *file);

/* template_render with partials (the letters' files, the console's pages) and with line
 * numbers counted from first_line (a template that is the tail of a file still reports the
 * file's lines). lookup may be NULL. */
char *template_render_full(const char *template_text, JsonNode *context, gboolean html,
                           int first_line, TemplatePartialLookup lookup, gpointer user_data,
                           GError **error);

/* Whether a template would render whatever its context: every tag of it parsed, every section
 * entered, every partial it names (and theirs) found by lookup and parsed, each once. The
 * error is template_render_full's for the same fault (PAHT_ERROR_INPUT, naming the line, and
 * the partial when the fault is in one), or lookup's. */
gboolean template_check_full(const char *template_text, int first_line,
                             TemplatePartialLookup lookup, gpointer user_data, GError **error);

/* ---- letters --------------------------------------------------------------------------------
 * A letter of kind K is two files in templates_dir: K.txt and K.html. The first line of K.txt
 * is "Subject: ..." (a template too), then a blank line, then the plain-text body. */

/* a file sent with a letter (the statistics digest's CSV) */
typedef struct {
    const char *filename;     /* ASCII is safest; RFC 2231 otherwise */
    const char *content_type; /* "text/csv; charset=utf-8" */
    GBytes *data;
} LetterAttachment;

typedef struct {
    const char *templates_dir;
    /* NULL, or where a letter's pair of files or a partial missing from templates_dir is
     * read: the templates this build installed, for a folder the province copied from an
     * older version (a newer one adds letters) */
    const char *templates_fallback_dir;
    const char *kind;  /* "ack", "incomplete", ... */
    JsonNode *context; /* the values the templates use */
    const char *from_name;
    const char *from_address;
    const char *to_name; /* may be NULL */
    const char *to_address;
    const char *reply_to;                /* NULL: none */
    const char *in_reply_to;             /* the citizen's Message-ID, without <>; NULL: none */
    const char *const *references;       /* NULL-terminated, without <>; NULL: none */
    const char *auto_submitted;          /* "auto-replied" (answers) or "auto-generated" */
    gint64 date;                         /* unix time for the Date: header */
    const LetterAttachment *attachments; /* n_attachments of them after the text; may be NULL */
    gsize n_attachments;
} LetterSpec;

typedef struct {
    GBytes *message;  /* the whole letter, CRLF line ends, 7-bit clean */
    char *message_id; /* without <> */
    char *subject;    /* as rendered (UTF-8) */
    char *text;       /* the plain text as rendered (UTF-8, LF line ends, NFC) */
} Letter;

/* Header values coming from citizens (names, subjects, addresses) are sanitised: they can
 * never add a header or a recipient. PAHT_ERROR_CONFIG if a template is missing or broken
 * (the message names the file and line) or from_address/reply_to is not a plain address;
 * PAHT_ERROR_INPUT if to_address is not a single valid address. */
Letter *letter_compose(const LetterSpec *spec, GError **error);
/* Whether letters of kind could be composed from templates_dir, whatever their context: both
 * files there and readable, the Subject line, every tag and every partial they name
 * (template_check_full). PAHT_ERROR_CONFIG naming the file and the line, as letter_compose
 * would at the letter that meets the fault. */
gboolean letter_check(const char *templates_dir, const char *fallback_dir, const char *kind,
                      GError **error);
void letter_free(Letter *letter);
/* A letter's plain part as a reader of RFC 3676 shows it: the lines of a paragraph joined,
 * space-stuffing removed, LF line ends (pahtctl preview). NULL stays NULL. */
char *letter_text_reflowed(const char *flowed);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Letter, letter_free)

/* ---- SMTP ---------------------------------------------------------------------------------- */

typedef struct {
    const char *host;
    int port;
    gboolean implicit_tls; /* smtps://; otherwise STARTTLS is required, never optional */
    gboolean tls_verify;   /* FALSE only by explicit configuration (logged as a warning) */
    const char *ca_file;   /* NULL: the system trust store */
    const char *user;      /* NULL: no AUTH */
    const char *password;
    int timeout_seconds;
} SmtpOptions;

typedef struct SmtpSender SmtpSender;

/* copies what it needs from opts; connects lazily on the first send */
SmtpSender *smtp_sender_new(const SmtpOptions *opts);
/* Sends one letter to one recipient, reusing the connection of earlier sends. On failure the
 * error code says what to do: PAHT_ERROR_TEMPORARY (4xx, connection refused, timeout: retry),
 * PAHT_ERROR_PERMANENT (5xx: never retry), PAHT_ERROR_CONFIG (login refused, TLS verification
 * failed: fix the configuration). *reply (may be NULL) gets the server's last reply line, or
 * NULL when the server said nothing (refused, timeout). An envelope that is not a plain
 * address is refused before connecting: PAHT_ERROR_PERMANENT for rcpt, _CONFIG for mail_from. */
gboolean smtp_sender_send(SmtpSender *sender, const char *mail_from, const char *rcpt,
                          GBytes *message, char **reply, GError **error);
/* Called at most once per letter, after the server accepted DATA and before curl gets the
 * letter's last bytes, so before the end of the letter (the "." line of DATA, RFC 5321
 * §4.1.1.4) can be sent: until then the server has not got the letter and cannot deliver it. TRUE
 * lets the letter end; FALSE abandons it: the connection is dropped without the end, so the server
 * discards what it got, and the send fails with PAHT_ERROR_TEMPORARY. Not called when the send
 * fails before the letter's data. */
typedef gboolean (*SmtpGate)(gpointer data);
/* smtp_sender_send, with gate (may be NULL) deciding whether the letter may end */
gboolean smtp_sender_send_gated(SmtpSender *sender, const char *mail_from, const char *rcpt,
                                GBytes *message, SmtpGate gate, gpointer gate_data, char **reply,
                                GError **error);
/* Which part of the SMTP dialogue the last send ended in. A 5xx to MAIL FROM or before
 * (greeting, EHLO) is about us, and smtp_sender_send reports it as PAHT_ERROR_CONFIG, as it
 * does a refusal of our sender or of relaying at any stage (Postfix refuses a sender at
 * RCPT TO, "Sender address rejected", and says "Relay access denied" there too). */
typedef enum {
    SMTP_STAGE_SESSION, /* connection, TLS, greeting, EHLO, AUTH */
    SMTP_STAGE_MAIL,    /* MAIL FROM: the envelope sender */
    SMTP_STAGE_RCPT,    /* RCPT TO: the recipient */
    SMTP_STAGE_DATA,    /* DATA and the letter itself */
} SmtpStage;

SmtpStage smtp_sender_last_stage(const SmtpSender *sender);
/* how many connections this sender opened (tests and benchmarks) */
int smtp_sender_connections(const SmtpSender *sender);
void smtp_sender_free(SmtpSender *sender);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmtpSender, smtp_sender_free)

G_END_DECLS

#endif
