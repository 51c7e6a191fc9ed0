/* Private to app/: which letters a decision produces, and the one path every letter takes
 * into the outbox. Every function enqueues in the caller's transaction.
 *
 * A letter is built in three steps:
 *   JsonBuilder *b = letters_context_new(config, now);   object begun, common members added
 *   ... json_builder_set_member_name(b, "report"); ...    the letter's own values
 *   letters_enqueue(config, store, &request, b, error);   ends the object, composes, enqueues
 * The templates see: gateway {name, place, email, portal, hotline, app}, today ("ngày 28
 * tháng 11 năm 2026"), plus what the caller added. */
#ifndef PAHT_APP_LETTERS_H
#define PAHT_APP_LETTERS_H

#include <json-glib/json-glib.h>
#include "conf/conf.h"
#include "lifecycle/lifecycle.h"

typedef struct {
    const char *kind;          /* the mail kind (SPEC §6) and the template name */
    const char *template_name; /* NULL: the same as kind */
    const char *dedupe_key;    /* unique: the same letter is never enqueued twice */
    gint64 report_id;          /* 0: none */
    const char *to_name;       /* may be NULL */
    const char *to_address;
    const char *reply_token;       /* the report's token for Reply-To; NULL: none */
    const char *reply_to;          /* a Reply-To address instead of the token's; NULL: none */
    const char *in_reply_to;       /* the citizen's Message-ID; NULL: none */
    const char *const *references; /* NULL-terminated; NULL: none */
    gboolean auto_reply;           /* TRUE: an answer to a citizen (Auto-Submitted: auto-replied) */
    gboolean by_ioc;               /* an answer the IOC asked for: not rate-limited */
    gint64 not_before;             /* 0: as soon as possible */
} LetterRequest;

/* a JsonBuilder with the letter object begun and the common members in it */
JsonBuilder *letters_context_new(const Config *config, gint64 now);

/* Ends the context object, composes the letter and enqueues it. An address no automatic
 * mail may go to (letters_never_answer) enqueues nothing and returns TRUE with *enqueued
 * FALSE; so does a to_address that cannot be written into a letter, and an automatic answer
 * (auto_reply, unless by_ioc) past a rate limit of SPEC §3.6: auto_replies_per_day to one
 * mailbox (case and +tag folded), auto_replies_per_domain_per_hour to one domain,
 * auto_replies_per_hour in total (an event on the report, and one IOC alert per limit, key
 * and day). */
gboolean letters_enqueue(const Config *config, Store *store, const LetterRequest *request,
                         JsonBuilder *context, gboolean *enqueued, GError **error);

/* An alert to the IOC (ioc_alert_to): title (one line, the subject), lines of text, and the
 * report it concerns (0: none). dedupe_key makes it once-only. */
gboolean letters_ioc_alert(const Config *config, Store *store, const char *dedupe_key,
                           gint64 report_id, const char *title, const char *const *lines,
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
 * per report and day with the commands to confirm or discard it, and for an emergency the
 * IOC's emergency alert at once (the sender, perhaps not the citizen, gets no letter). */
gboolean letters_supplement_pending(const Config *config, Store *store, gint64 pending_id,
                                    const ReplyMatch *match, const Draft *reply, const char *reason,
                                    gint64 raw_id, GError **error);

/* Mail kinds that are automatic answers to a citizen, counted by the rate limit
 * ([gateway] auto_replies_per_day per address per 24 hours, SPEC §3.6). A new kind of
 * automatic answer (LetterRequest.auto_reply) is added here. */
extern const char *const letters_auto_reply_kinds[];

/* TRUE for addresses no automatic answer may go to: mailer-daemon, postmaster, abuse, root,
 * noreply/no-reply, and our own (SPEC §3.6). */
gboolean letters_never_answer(const Config *config, const char *address);

/* "08:15 ngày 28/11/2026" and "ngày 28 tháng 11 năm 2026" in the province's zone */
char *letters_format_time(const Config *config, gint64 t);
char *letters_format_long_date(const Config *config, gint64 t);

#endif
