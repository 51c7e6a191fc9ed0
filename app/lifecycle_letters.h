/* Private to app/: the report's lifecycle as the operators and the agencies drive it (pahtctl)
 * and as the daemon's scheduler sees it. Each action runs the queue's transition and enqueues
 * the letters it causes (SPEC §4 table) in ONE transaction: either both happen or neither.
 *
 * Errors: those of the queue's lifecycle_* functions (PAHT_ERROR_REFUSED with a one-line
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
#ifndef PAHT_APP_LIFECYCLE_LETTERS_H
#define PAHT_APP_LIFECYCLE_LETTERS_H

#include "conf/conf.h"
#include "lifecycle/lifecycle.h"

/* ---- actions (pahtctl) ----------------------------------------------------------------------
 * actor: who acts (the login name by default), recorded in the event. */

gboolean gateway_accept_report(const Config *config, Store *store, const char *actor,
                               gint64 report_id, const char *agency,
                               const char *const *coordinators, const char *category,
                               GError **error);
gboolean gateway_reject_report(const Config *config, Store *store, const char *actor,
                               gint64 report_id, const char *reason, const char *note,
                               GError **error);
gboolean gateway_return_report(const Config *config, Store *store, const char *actor,
                               gint64 report_id, const char *note, GError **error);
gboolean gateway_extend_report(const Config *config, Store *store, const char *actor,
                               gint64 report_id, gint64 until, const char *note, GError **error);
gboolean gateway_submit_result(const Config *config, Store *store, const char *actor,
                               gint64 report_id, const char *text, GError **error);
gboolean gateway_approve_result(const Config *config, Store *store, const char *actor,
                                gint64 report_id, GError **error);
/* A result without answer text is sent back to the agency's leader (Điều 9.4): that is
 * committed, with its letter, and then reported as PAHT_ERROR_REFUSED. */
gboolean gateway_publish_result(const Config *config, Store *store, const char *actor,
                                gint64 report_id, GError **error);

/* The citizen's answer to a published result (Điều 10), from the reply path of the daemon or
 * from pahtctl (a rating given by phone): a rating is recorded once; feedback is recorded and
 * sent on to the agency with its 2-working-day clarification deadline. outcome may be NULL. */
gboolean gateway_citizen_reply(const Config *config, Store *store, const char *actor,
                               gint64 report_id, const char *text, CitizenReply *outcome,
                               GError **error);

/* A letter as it would be sent now, composed and not enqueued (pahtctl preview). kind: a mail
 * kind (ack, acceptance, assignment, rejection, reminder, overdue, extension,
 * approval_request, publish_request, result, feedback) or a template name (result_sent_back,
 * returned). PAHT_ERROR_INPUT for an unknown kind. */
GBytes *gateway_preview_letter(const Config *config, Store *store, const char *kind,
                               gint64 report_id, GError **error);

/* A letter made readable for a person: the decoded From, To, Reply-To, Subject and Date, a
 * blank line, and its text (or HTML) part. */
char *gateway_letter_readable(GBytes *message, gboolean html, GError **error);

/* ---- the scheduler's letters (scheduler.c) --------------------------------------------------
 * One deadline action (stage 0 before, 1 at the due time, 2.. each working day after): the
 * reminders and overdue notices it causes, enqueued for not_before (inside working hours), in
 * the caller's transaction. The scheduler flags the report overdue itself (Điều 8.5). */
gboolean lifecycle_letters_deadline_action(const Config *config, Store *store,
                                           const Calendar *calendar, const DeadlineAction *action,
                                           const Report *report, gint64 not_before, GError **error);

#endif
