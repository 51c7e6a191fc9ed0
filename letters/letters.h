/* letters: which letters a decision produces, to whom, with which data; the lifecycle's actions
 * with the letters they cause, in one transaction; and what of a report a reader other than its
 * citizen may see (redaction). Over the lifecycle and the store (lifecycle/lifecycle.h), with
 * notify/ to render and compose. Every function that enqueues does so in the caller's
 * transaction unless it says otherwise.
 */
#ifndef PAHT_LETTERS_H
#define PAHT_LETTERS_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include "conf/conf.h"
#include "lifecycle/lifecycle.h"
#include "notify/notify.h"

G_BEGIN_DECLS

/* ---- the letter kinds (kinds.c) ---------------------------------------------------------------
 * One registry of every letter the gateway sends: a row per mail kind of SPEC §6 (the kind
 * the outbox, pahtctl outbox and pahtctl show name), with its templates. Nothing is sent that
 * is not in it: letters_enqueue refuses a kind or a template it does not list. A new letter
 * is one row here (or one template in a row), its two files templates/NAME.txt and NAME.html
 * and its name in labels.ini; the tests walk the table (tests/unit/test_letters_kinds.c). */

/* who reads a kind's letters, and so which of a report's data they may carry (Điều 4.5) */
typedef enum {
    LETTER_TO_CITIZEN = 1 << 0, /* the citizen, or whoever sent the mail we answer */
    LETTER_TO_AGENCY = 1 << 1,  /* an agency's contact (văn thư) */
    LETTER_TO_LEADER = 1 << 2,  /* an agency's leader */
    LETTER_TO_IOC = 1 << 3,     /* the IOC (ioc_alert_to): no personal data */
    LETTER_TO_REPORTS = 1 << 4, /* [reports] recipients: counts only, nothing personal */
} LetterAudience;

/* how pahtctl preview shows a template: the action whose letters it is, run on a report in a
 * transaction that is rolled back (lifecycle_letters_preview) */
typedef enum {
    LETTER_PREVIEW_NONE,      /* not about one report's state (a mailbox, a digest), or about
                                 a mail the report does not keep (a supplement) */
    LETTER_PREVIEW_ANSWER,    /* the answer to the report's own mail (and its IOC alert) */
    LETTER_PREVIEW_ACCEPT,    /* pahtctl accept */
    LETTER_PREVIEW_REJECT,    /* pahtctl reject */
    LETTER_PREVIEW_RETURN,    /* pahtctl return */
    LETTER_PREVIEW_EXTEND,    /* pahtctl extend */
    LETTER_PREVIEW_RESULT,    /* pahtctl result */
    LETTER_PREVIEW_SENT_BACK, /* pahtctl publish of a result without text (Điều 9.4) */
    LETTER_PREVIEW_APPROVE,   /* pahtctl approve */
    LETTER_PREVIEW_PUBLISH,   /* pahtctl publish */
    LETTER_PREVIEW_FEEDBACK,  /* the citizen's feedback on a result (Điều 10) */
    LETTER_PREVIEW_REMINDER,  /* a reminder of the result deadline, a day before */
    LETTER_PREVIEW_OVERDUE,   /* the overdue notice of the result deadline */
    LETTER_PREVIEW_SENT_BACK_TO_AGENCY, /* pahtctl send-back: the leader returns a result */
    LETTER_PREVIEW_OPINION,             /* a coordinating agency's opinion (issue 14) */
} LetterPreview;

typedef struct {
    const char *name; /* templates/NAME.txt and NAME.html; pahtctl preview NAME */
    LetterPreview preview;
} LetterTemplate;

typedef struct {
    const char *name; /* the mail kind (SPEC §6); its Vietnamese name: labels.ini [kind NAME] */
    LetterAudience audience;
    /* an automatic answer to a mail (SPEC §3.6): Auto-Submitted: auto-replied, counted by the
     * answer limits and never sent past them; otherwise auto-generated (RFC 3834 §5) */
    gboolean auto_reply;
    const LetterTemplate *templates; /* ends with {NULL}; the first is the kind's own */
} LetterKind;

/* the registry, ending with a row whose name is NULL */
const LetterKind *kinds_all(void);
/* the kind named name, or NULL */
const LetterKind *kinds_find(const char *name);
/* the template named name of kind (NULL: of any kind), or NULL; *kind (may be NULL) gets its
 * kind */
const LetterTemplate *kinds_find_template(const LetterKind *kind, const char *name,
                                          const LetterKind **kind_out);

/* ---- the names of things (labels.c) -----------------------------------------------------------
 * templates_dir/labels.ini: what the letters call what the code knows by a key, in groups
 * "[field CODE]" (a Điều 4 detail a report may lack: label, words, hint), "[deadline CODE]"
 * (a deadline of the regulation: label, basis) and "[kind NAME]" (a kind of the registry:
 * name). Read at each letter, as the templates are. A group or key the province's file
 * lacks is read from the installed one behind it (letters_fallback_dir); missing from both,
 * it is PAHT_ERROR_CONFIG naming the file, group and key. */

/* the templates this build installed, behind a templates_dir of the province's own (NULL when
 * templates_dir is that folder): a letter, partial or label a later version added, which the
 * province's older copy lacks, is read from there */
const char *letters_fallback_dir(const Config *config);

/* a labels.ini file parsed (a new reference; read only), kept while its text is the same;
 * NULL with PAHT_ERROR_CONFIG naming the file. The console's labels.ini too. */
GKeyFile *labels_ini_load(const char *path, GError **error);

typedef struct Labels Labels;
Labels *labels_load(const Config *config, GError **error);
void labels_free(Labels *labels);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Labels, labels_free)
/* the value of key in [group name], NFC; NULL with the error */
char *labels_get(const Labels *labels, const char *group, const char *name, const char *key,
                 GError **error);
/* each of keys (NULL-terminated) of [group name] as a string member of b; with b NULL, only
 * whether each is there and not empty (the check at start) */
gboolean labels_add(JsonBuilder *b, const Labels *labels, const char *group, const char *name,
                    const char *const *keys, GError **error);
/* a mail kind as a reader is told it: a registered kind's name ([kind NAME] name); a kind the
 * registry no longer has (a letter of an older version) by its code */
char *labels_kind_name(const Labels *labels, const char *kind, GError **error);
/* the kinds of period of the statistics digest (Decree 09/2019 Art. 12): month, quarter,
 * half, year (NULL-terminated) */
const char *const *labels_period_kinds(void);
/* a period as the letters name it: [period KIND] label, a mustache text over the period's
 * numbers ("tháng {{number}}/{{year}}" gives "tháng 11/2026"; quý IV/2026, 6 tháng cuối năm
 * 2026, năm 2026): n is the month, quarter or half (1, 2) of year */
char *labels_period_words(const Labels *labels, const char *kind, int year, int n, GError **error);

/* ---- composing and enqueueing (letters.c) -----------------------------------------------------
 * Which letters a decision produces, and the one path every letter takes into the outbox. Every
 * function enqueues in the caller's transaction.
 *
 * A letter is built in three steps:
 *   JsonBuilder *b = letters_context_new(config, now);   object begun, common members added
 *   ... json_builder_set_member_name(b, "report"); ...    the letter's own values
 *   letters_enqueue(config, store, &request, b, error);   ends the object, composes, enqueues
 * The templates see: gateway {name, place, email, portal, hotline, app}, today ("ngày 28
 * tháng 11 năm 2026"), plus what the caller added. */

typedef struct {
    const char *kind;          /* the mail kind (SPEC §6), a row of the registry (kinds.c) */
    const char *template_name; /* one of the kind's templates; NULL: the kind's own */
    const char *dedupe_key;    /* unique: the same letter is never enqueued twice */
    gint64 report_id;          /* 0: none */
    const char *to_name;       /* may be NULL */
    const char *to_address;
    const char *reply_token;             /* the report's token for Reply-To, for a kind the citizen
                                            reads; NULL: none */
    const char *reply_to;                /* a Reply-To address instead of the token's; NULL: none */
    const char *in_reply_to;             /* the citizen's Message-ID; NULL: none */
    const char *const *references;       /* NULL-terminated; NULL: none */
    gboolean by_ioc;                     /* an answer the IOC asked for: not rate-limited */
    gint64 not_before;                   /* 0: as soon as possible */
    const LetterAttachment *attachments; /* files sent with it (n_attachments); may be NULL */
    gsize n_attachments;
} LetterRequest;

/* a JsonBuilder with the letter object begun and the common members in it */
JsonBuilder *letters_context_new(const Config *config, gint64 now);

/* Ends the context object, composes the letter and enqueues it. An address no automatic
 * mail may go to (letters_never_answer) enqueues nothing and returns TRUE with *enqueued
 * FALSE; so does a to_address that cannot be written into a letter, and an automatic answer
 * (a kind with auto_reply, unless by_ioc) past a rate limit of SPEC §3.6:
 * auto_replies_per_day to one mailbox (case and +tag folded),
 * auto_replies_per_domain_per_hour to one domain, auto_replies_per_hour in total (an event on
 * the report, and one IOC alert per limit, key and day). A kind or template the registry does
 * not list is refused (PAHT_ERROR_INPUT); a report's reply token goes only into the letters of
 * a kind its citizen reads: anyone else's answer must never pass for the citizen's. */
gboolean letters_enqueue(const Config *config, Store *store, const LetterRequest *request,
                         JsonBuilder *context, gboolean *enqueued, GError **error);

/* Whether every letter of the registry can be composed from the configuration's
 * templates_dir, whatever it is about: both files of each template, every tag and every
 * partial they name (letter_check), and labels.ini with each kind's name. Templates are read
 * at each letter, so a fault found only there would wait for the first letter that needs it:
 * a reminder on the day its deadline nears. PAHT_ERROR_CONFIG naming the file and line. */
gboolean letters_check_templates(const Config *config, GError **error);

/* An alert to the IOC (ioc_alert_to): the letter template_name, a template of kind ioc_alert
 * in the registry, about the report report_id (0: none). The C code gives facts, the template
 * the words: facts is an object begun by letters_alert_facts and filled with what happened
 * (names, counts, times, addresses, the server's words, and reasons as flags), which the
 * template sees as alert.* with alert.at, the time of the alert; with a report, also
 * report.code, report.state, report.state_is.STATE (true) and report.subject (redacted). Every
 * string of facts is redacted as redact_alert_line does, with the report's citizen: nothing
 * personal reaches the IOC's mailbox (Điều 4.5), whoever wrote it; a member named message_id
 * stays whole. dedupe_key makes it once-only. Ends facts; the caller still frees it. */
JsonBuilder *letters_alert_facts(void);
gboolean letters_ioc_alert(const Config *config, Store *store, const char *template_name,
                           const char *dedupe_key, gint64 report_id, JsonBuilder *facts,
                           GError **error);
/* Where automatic answers to a message go (issue 11): its From address, or its envelope
 * sender (Return-Path) when From names no mailbox; NULL when neither does. Never an address
 * written in the text: that one is data for the IOC. Borrowed from draft. */
const char *letters_answer_address(const Draft *draft);

/* Why automatic answers to this message are withheld, or NULL: with [gateway]
 * trusted_authserv_id set, the province's MX found that it fails DMARC, or its spam filter
 * flagged it (the draft's auth_* and spam_* fields). */
char *letters_sender_suspect(const Config *config, const Draft *draft);

/* The answer to a citizen's new report (SPEC §3.6), by its classification: a complete report
 * gets the acknowledgement; one missing Điều 4 details the "please complete" letter (Điều
 * 7.1); an emergency the call-1022 answer at once plus an IOC alert (Điều 6.2, 8.6); a
 * complaint no answer (the IOC confirms the refusal, Điều 1.1.c, 3.9). Answers go to
 * letters_answer_address only, and none goes when letters_sender_suspect says why not (an
 * emergency's IOC alert still goes, saying so). */
gboolean letters_answer_new_report(const Config *config, Store *store, const ReportRef *report,
                                   const Draft *draft, gint64 received_at, GError **error);

/* pahtctl answer: the answer letters_answer_new_report would give report r, sent to sender
 * because the IOC asks for it (a sender the MX could not verify, a rate limit): neither
 * withheld nor rate-limited. Letters already sent are not sent again. */
gboolean letters_answer_by_ioc(const Config *config, Store *store, const Report *r,
                               const char *sender, GError **error);

/* A report as the draft it came from, enough to write its letters again (previews); free
 * with draft_free. */
Draft *letters_draft_from_report(const Report *report);

/* The answer to a citizen's reply added to a report (SPEC §3.5-3.6), to the reply's sender
 * only: the acknowledgement when the reply completed it, the "please complete" letter again
 * when details are still missing, the call-1022 answer and an IOC alert when the reply is an
 * emergency, an IOC alert when the report is already past the IOC's first review, and else
 * a short confirmation that the supplement arrived ("supplement"). Replies to published or
 * closed reports are not answered here (ratings and feedback, Điều 10). raw_id makes the
 * letters once-only. */
gboolean letters_answer_reply(const Config *config, Store *store, const ReplyMatch *match,
                              const ReplyOutcome *outcome, const Draft *reply, gint64 raw_id,
                              GError **error);

/* A reply that waits for the IOC as pending supplement pending_id (issue 11): one IOC alert
 * per report and day with why it waits (the MX doubts the sender, letters_sender_suspect; or
 * only its From address ties it to the report) and the commands to confirm or discard it, and
 * for an emergency the IOC's emergency alert at once (the sender, perhaps not the citizen,
 * gets no letter). */
gboolean letters_supplement_pending(const Config *config, Store *store, gint64 pending_id,
                                    const ReplyMatch *match, const Draft *reply, gint64 raw_id,
                                    GError **error);

/* The Điều 4 details a report lacks (draft_missing_fields' names), as the templates say them:
 * "missing": [{field, label, words, hint (labels.ini), first, last}] and "has_missing". */
gboolean letters_add_missing(const Config *config, JsonBuilder *b, char **missing, GError **error);

/* TRUE for addresses no automatic answer may go to: mailer-daemon, postmaster, abuse, root,
 * noreply/no-reply, and our own (SPEC §3.6). */
gboolean letters_never_answer(const Config *config, const char *address);

/* "08:15 ngày 28/11/2026" and "ngày 28 tháng 11 năm 2026" in the province's zone */
char *letters_format_time(const Config *config, gint64 t);
char *letters_format_long_date(const Config *config, gint64 t);

/* ---- reply addresses that act (reply_address.c) ------------------------------------------------
 * Issue 14: a letter to an agency or a leader offers, for each action its recipient may take
 * by mail, a signed reply address paht+<action>-<token>@<the domain of [smtp] reply_to> (the
 * local part as reply_to writes it before {token}; without reply_to, [smtp] from's with "+").
 * The token is an HMAC with the gateway's key of the letter (its dedupe key), the report, the
 * action and the recipient (address_normalise); each address offered is recorded in the store
 * (queue: action_address_*), which the gateway checks when mail to it arrives: from its
 * recipient only, within REPLY_ADDRESS_DAYS, once, in a state that allows the action. */

#define REPLY_ACTION_RESULT   "result"   /* the main agency's answer (its text and files) */
#define REPLY_ACTION_EXTEND   "extend"   /* an extension, once (Điều 8.3) */
#define REPLY_ACTION_RETURN   "return"   /* not the agency's competence (Điều 8.1) */
#define REPLY_ACTION_OPINION  "opinion"  /* a coordinating agency's opinion (Điều 8.2) */
#define REPLY_ACTION_APPROVE  "approve"  /* the leader approves (Điều 8.4) */
#define REPLY_ACTION_SENDBACK "sendback" /* the leader sends the result back to the agency */

/* an address acts only this many days after its letter */
#define REPLY_ADDRESS_DAYS 30

/* The key that signs envelope senders (bounces) and reply addresses: [smtp]
 * bounce_secret_file (as pahtd read it at start, else read now: the parser process and
 * pahtctl read no passwords, but this key they need); without that key, the gateway's own in
 * data_dir/bounce.key (64 hex digits, 0600), created when create is TRUE and it is missing
 * (never replacing one another process created meanwhile). Either file is refused unless
 * mode 0600/0400 (PAHT_ERROR_CONFIG). *key NULL (and TRUE) when there is none and create is
 * FALSE. */
gboolean reply_address_key(const Config *config, gboolean create, GBytes **key, GError **error);

/* The address for action (REPLY_ACTION_*) on report_id, valid for recipient, offered by the
 * letter whose dedupe key is letter, recorded in the caller's transaction (the key is made
 * when there is none). *address NULL (and TRUE) when none can be made: an unknown action, a
 * recipient that is no address, or a reply_to whose local part leaves no room for the
 * token. */
gboolean reply_address_make(const Config *config, Store *store, const char *letter,
                            gint64 report_id, const char *action, const char *recipient,
                            char **address, GError **error);

/* TRUE when address (case aside) has the shape of an action address of this configuration:
 * *action (a REPLY_ACTION_*) and *token (lowercase hex) are then set. Whether the store knows
 * the token is the caller's to ask. */
gboolean reply_address_parse(const Config *config, const char *address, char **action,
                             char **token);

/* [web] public_url/reports/CODE, or NULL when public_url is not set */
char *reply_address_console(const Config *config, const char *code);

typedef struct {
    const char *letter; /* the dedupe key of the letter that offers them */
    gint64 report_id;
    const char *code;           /* the tracking code, in the prepared subjects */
    const char *recipient;      /* whom the letter goes to */
    const char *const *actions; /* REPLY_ACTION_*, NULL-terminated; NULL: none */
} ReplyOffer;

/* Adds to a letter's context (a JsonBuilder inside its object) "actions": for each action
 * offered, .ACTION.address and .ACTION.mailto (with the subject "[CODE] ..." prepared), .any,
 * .days, .until (when they stop acting); and "console" (reply_address_console) when there is
 * one. *reply_to (NULL when no address could be made) gets the first action's address: the
 * letter's Reply-To. */
gboolean reply_address_offer(const Config *config, Store *store, JsonBuilder *context,
                             const ReplyOffer *offer, char **reply_to, GError **error);

/* ---- the lifecycle and its letters (lifecycle_letters.c) ----------------------------------------
 * The report's lifecycle as the operators and the agencies drive it (pahtctl) and as the
 * daemon's scheduler sees it. Each action runs the lifecycle's transition and enqueues
 * the letters it causes (SPEC §4 table) in ONE transaction: either both happen or neither.
 *
 * Errors: those of lifecycle/lifecycle.h's transitions (PAHT_ERROR_REFUSED with a one-line
 * reason for an action the rules forbid, PAHT_ERROR_NOT_FOUND for an unknown report), and
 * PAHT_ERROR_CONFIG for a broken template (nothing is then recorded).
 *
 * Who gets what, and which personal data goes with it (Điều 4.5, 9.3.b, 15.6):
 *   citizen   acceptance, rejection (not for spam), extension, result (Phụ lục I); these
 *             carry the report's reply token, so that the answers come back to the report;
 *   agency    assignment, reminders, feedback; Reply-To the IOC. For an ordinary report the
 *             assignment names the citizen with phone and e-mail (the agency may need to
 *             verify on site, Điều 7.1); never the ID number or the postal address, which the
 *             report text also loses. For a confidential report no personal data at all: the
 *             agency reaches the citizen through the IOC;
 *   leader    approval requests, results sent back (Điều 9.4), overdue notices: no personal
 *             data;
 *   IOC       returns, publish requests, reminders of its own deadlines, overdue notices: no
 *             personal data (the IOC has the report in the system).
 * Subjects and attachment names are the citizen's words too: everyone but the citizen reads
 * them redacted (ID numbers, phones, e-mail addresses, the citizen's name masked), and a
 * confidential report's subject is neutral ("Phản ánh PAHT-... (bảo mật)") and its files only
 * numbered ("Tệp 1.jpg"): see redact.h. */

/* ---- actions (pahtctl) ----------------------------------------------------------------------
 * actor: who acts (the login name by default), recorded in the event. */

gboolean lifecycle_letters_accept(const Config *config, Store *store, const char *actor,
                                  gint64 report_id, const char *agency,
                                  const char *const *coordinators, const char *category,
                                  GError **error);
gboolean lifecycle_letters_reject(const Config *config, Store *store, const char *actor,
                                  gint64 report_id, const char *reason, const char *note,
                                  GError **error);
gboolean lifecycle_letters_return(const Config *config, Store *store, const char *actor,
                                  gint64 report_id, const char *note, GError **error);
gboolean lifecycle_letters_extend(const Config *config, Store *store, const char *actor,
                                  gint64 report_id, gint64 until, const char *note, GError **error);
gboolean lifecycle_letters_submit_result(const Config *config, Store *store, const char *actor,
                                         gint64 report_id, const char *text, GError **error);
/* the same with the files (DraftAttachment *, already stored) of message raw_id as the
 * result's (issue 14: a result by mail); files NULL: none. A result replaces the files of the
 * result before. */
gboolean lifecycle_letters_submit_result_files(const Config *config, Store *store,
                                               const char *actor, gint64 report_id,
                                               const char *text, gint64 raw_id,
                                               const GPtrArray *files, GError **error);
gboolean lifecycle_letters_approve(const Config *config, Store *store, const char *actor,
                                   gint64 report_id, GError **error);
/* the leader does not approve: the result goes back to the agency's contact with reason
 * (lifecycle_send_back), in a letter that offers the addresses to answer again */
gboolean lifecycle_letters_send_back(const Config *config, Store *store, const char *actor,
                                     gint64 report_id, const char *reason, GError **error);
/* a coordinating agency's opinion (lifecycle_record_opinion; agency its code) with its files
 * (DraftAttachment *, already stored, of message raw_id; may be NULL), forwarded to the main
 * agency's contact */
gboolean lifecycle_letters_opinion(const Config *config, Store *store, const char *actor,
                                   gint64 report_id, const char *agency, const char *text,
                                   gint64 raw_id, const GPtrArray *files, GError **error);
/* A result without answer text is sent back to the agency's leader (Điều 9.4): that is
 * committed, with its letter, and then reported as PAHT_ERROR_REFUSED. */
gboolean lifecycle_letters_publish(const Config *config, Store *store, const char *actor,
                                   gint64 report_id, GError **error);

/* The citizen's answer to a published result (Điều 10), from the reply path of the daemon or
 * from pahtctl (a rating given by phone): a rating is recorded once; feedback is recorded and
 * sent on to the agency with its 2-working-day clarification deadline. outcome may be NULL. */
gboolean lifecycle_letters_citizen_reply(const Config *config, Store *store, const char *actor,
                                         gint64 report_id, const char *text, CitizenReply *outcome,
                                         GError **error);

/* A letter as it would be sent now, composed and not enqueued (pahtctl preview). name: a
 * template the registry (kinds.c) says can be previewed, or a mail kind (its first such
 * template: ioc_alert shows returned). PAHT_ERROR_INPUT for any other name, listing those
 * there are; PAHT_ERROR_NOT_FOUND when the report gives that letter nobody to go to. */
GBytes *lifecycle_letters_preview(const Config *config, Store *store, const char *name,
                                  gint64 report_id, GError **error);

/* A letter made readable for a person: the decoded From, To, Reply-To, Subject and Date, a
 * blank line, and its text (or HTML) part. */
char *lifecycle_letters_readable(GBytes *message, gboolean html, GError **error);

/* ---- the scheduler's letters (gateway/scheduler.c)
 * -------------------------------------------------- One deadline action (stage 0 before, 1 at the
 * due time, 2.. each working day after): the reminders and overdue notices it causes, enqueued for
 * not_before (inside working hours), in the caller's transaction. The scheduler flags the report
 * overdue itself (Điều 8.5). */
gboolean lifecycle_letters_deadline_action(const Config *config, Store *store,
                                           const Calendar *calendar, const DeadlineAction *action,
                                           const Report *report, gint64 not_before, GError **error);

/* ---- answers to mail to a reply address that acts (mail_letters.c) --------------------------
 * Issue 14: what the gateway writes when an agency's or a leader's mail to a reply address
 * (reply_address.c) acted, was refused, or waits for the IOC. In the caller's transaction. */

typedef struct {
    const char *action;     /* REPLY_ACTION_* */
    const char *actor;      /* the address that acted: the confirmation goes there */
    gint64 raw_id;          /* the mail (once-only letters) */
    const char *message_id; /* its Message-ID, threading the answer; may be NULL */
    guint files;            /* the files it brought */
} MailActionDone;

/* The short confirmation to the actor ("action_done"), with the reply addresses the report
 * allows the actor now. */
gboolean mail_letters_done(const Config *config, Store *store, gint64 report_id,
                           const MailActionDone *done, GError **error);

/* why a mail to a reply address did not act (MailActionRefusal.reason) */
#define MAIL_REFUSAL_UNKNOWN  "unknown"  /* the store knows no such address */
#define MAIL_REFUSAL_SENDER   "sender"   /* From or envelope sender is not its recipient */
#define MAIL_REFUSAL_USED     "used"     /* it acted once already: the mail is a note */
#define MAIL_REFUSAL_EXPIRED  "expired"  /* more than REPLY_ADDRESS_DAYS after its letter */
#define MAIL_REFUSAL_STATE    "state"    /* the report's state does not allow the action */
#define MAIL_REFUSAL_AGENCY   "agency"   /* the report is no longer the recipient's agency's */
#define MAIL_REFUSAL_EXTENDED "extended" /* Điều 8.3: extended once already */
#define MAIL_REFUSAL_LATE     "late"     /* Điều 8.3: an extension after the deadline */
#define MAIL_REFUSAL_DATE     "date"     /* no date to extend to, or not a later one */
#define MAIL_REFUSAL_REASON   "reason"   /* a return, extension or sending back says no why */
#define MAIL_REFUSAL_EMPTY    "empty"    /* a result or opinion with neither text nor file */
#define MAIL_REFUSAL_OTHER    "other"    /* the lifecycle refused for another reason */

typedef struct {
    const char *action;     /* REPLY_ACTION_* the address was for */
    const char *reason;     /* MAIL_REFUSAL_* */
    const char *detail;     /* more for the IOC (the lifecycle's words), or NULL */
    const char *sender;     /* the mail's From: the letter goes there */
    gboolean rightful;      /* the sender is the address's recipient */
    const char *recipient;  /* the address's recipient, NULL for an unknown address */
    gint64 offered_at;      /* when its letter offered it (0: unknown) */
    gint64 used_at;         /* when it was used (MAIL_REFUSAL_USED) */
    gint64 raw_id;          /* the mail (once-only letters) */
    const char *message_id; /* its Message-ID, or NULL */
    gboolean sent;          /* (set here) the sender's letter was enqueued */
} MailActionRefusal;

/* The sender's one letter ("action_refused": why and what to do, rate-limited as every
 * automatic answer, SPEC §3.6; to the rightful recipient with the reply addresses the report
 * allows now), and an IOC alert. report_id 0 for an unknown address. */
gboolean mail_letters_refused(const Config *config, Store *store, gint64 report_id,
                              const MailActionRefusal *refusal, GError **error);

/* The IOC alert for a mail to a reply address that waits for the IOC as pending supplement
 * pending_id (its sender not authenticated by the province's MX): reason, and the commands
 * to confirm (it then acts) or discard it. */
gboolean mail_letters_held(const Config *config, Store *store, gint64 report_id, gint64 pending_id,
                           const char *action, const char *sender, const char *reason,
                           GError **error);

/* ---- what other readers see (redact.c)
 * ------------------------------------------------------------ What a reader other than the citizen
 * may see of a report (Điều 4.5, 9.3.b, 15.6). The citizen's own letters carry their words as
 * written; agencies, leaders and the IOC get them through these functions. Every function returns a
 * new string (NULL for NULL).
 *
 * What is masked, and where:
 *   text (assignment, feedback)   the ID number and the postal address always; for a
 *                                 confidential report also the name, phone and e-mail
 *   one line (subject, file name) every ID number, phone number and e-mail address, and the
 *                                 citizen's name, confidential or not: a subject is read in
 *                                 every mailbox list and forwarded with the letter
 *   excerpt (IOC alerts)          as a line, and the text's labelled lines: the IOC's mailbox
 *                                 gets no personal data; the report in the system has it
 * A name is matched without regard to diacritics, case and separators: "Trần Thị B",
 * "TRAN THI B", "Tran_Thi_B", "TranThiB". */

/* The words the C code of letters/ writes, all of them: data inside a value, which no template
 * can word. What replaces a masked value, what stands for the citizen's subject or text when
 * there is none and for a confidential report's subject and file names, and how a time and a
 * date are written (Nghị định 30/2020/NĐ-CP's "ngày ... tháng ... năm ..."). Sentences are in
 * the templates; names of things in labels.ini. tools/check-words
 * fails on Vietnamese written anywhere else in gateway/ or letters/. */
#define REDACT_MASK                 "[đã ẩn]"
#define LETTERS_NO_SUBJECT          "(không có tiêu đề)"
#define LETTERS_NO_TEXT             "(thư không có nội dung chữ)"
#define REDACT_CONFIDENTIAL_SUBJECT "Phản ánh %s (bảo mật)"   /* the report's code */
#define REDACT_NUMBERED_FILE        "Tệp %u%s"                /* its number, its extension */
#define LETTERS_TIME_FORMAT         "%H:%M ngày %d/%m/%Y"     /* g_date_time_format */
#define LETTERS_DATE_FORMAT         "ngày %d tháng %d năm %d" /* day, month, year */

typedef struct {
    const DraftCitizen *citizen; /* the values the parser extracted; NULL: none known */
    const char *sender_name;     /* the From display name when known, or NULL */
    gboolean confidential;       /* Điều 9.3.b: the citizen asked for secrecy */
} RedactCitizen;

/* The citizen's text for an agency: three nets, the values the parser extracted, labelled
 * lines ("CCCD: ...", "Địa chỉ: ...") whose label says what they hold even when the parser
 * missed the value, and numbers shaped like an ID number (or, confidential, a phone). */
char *redact_text(const char *text, const RedactCitizen *who);

/* One line of the citizen's (a subject, a file name's stem, a place): ID numbers, phone
 * numbers, e-mail addresses and the citizen's name masked. */
char *redact_line(const char *line, const RedactCitizen *who);

/* The subject as agencies, leaders and the IOC see it: a confidential report's is neutral,
 * "Phản ánh PAHT-2026-000123 (bảo mật)"; another's is redact_line'd; "(không có tiêu đề)"
 * when there is none. */
char *redact_subject(const char *subject, const char *code, const RedactCitizen *who);

/* An attachment's name as agencies, leaders and the IOC see it: for a confidential report
 * only its place and type, "Tệp 2.jpg" (number counts from 1); else redact_line of the stem,
 * the extension kept. */
char *redact_filename(const char *filename, guint number, const RedactCitizen *who);

/* An excerpt of the citizen's text for an IOC alert: redacted as a confidential text and as
 * a line, on one line, at most max_chars characters, cut at a word boundary with "…". */
char *redact_excerpt(const char *text, const RedactCitizen *who, glong max_chars);

/* A line the gateway writes for the IOC's mailbox (alerts, digests), whoever composed it,
 * and what a mail server said about a citizen's address: the
 * e-mail addresses other than the province's own (smtp from, imap user, ioc_alert_to, the
 * agencies') shortened as in the logs ("n***@gmail.com"), numbers shaped like an ID or phone
 * number masked, and with who (may be NULL) the citizen's values too. A Message-ID written
 * "Message-ID: <...>" stays whole: it is how the IOC finds the mail on the server. */
char *redact_alert_line(const Config *config, const char *line, const RedactCitizen *who);

/* TRUE for the province's own addresses: smtp from, imap user, ioc_alert_to, the agencies'
 * contacts and leaders (case aside) */
gboolean redact_address_is_official(const Config *config, const char *address);

G_END_DECLS

#endif
