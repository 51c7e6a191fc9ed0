/* lifecycle: the regulation over the store. The report's transitions (SPEC §4), the deadlines
 * they open and close (SPEC §5, Phụ lục II) and the statistics (Điều 11.6, 11.8); the letters
 * they cause are the letters module's (letters/letters.h), enqueued in the same transaction.
 *
 * Errors: those of the store (queue/queue.h), PAHT_ERROR_REFUSED with a one-line reason citing
 * the regulation for what the rules forbid, PAHT_ERROR_NOT_FOUND for an unknown report,
 * PAHT_ERROR_CONFIG for a calendar without working time.
 */
#ifndef PAHT_LIFECYCLE_H
#define PAHT_LIFECYCLE_H

#include <glib.h>
#include "calendar/calendar.h"
#include "conf/conf.h"
#include "queue/queue.h"

G_BEGIN_DECLS

/* ---- the report's lifecycle (SPEC §4, §5), transitions.c and deadlines.c -------------------
 * Each transition is one transaction (a savepoint inside the caller's, so that the app can
 * enqueue the letters it causes in the same one): it checks the current state, changes it,
 * writes an event (who, when, what) and sets or closes the deadlines of SPEC §5.
 * A transition the rules forbid fails with PAHT_ERROR_REFUSED and a one-line reason citing
 * the regulation; an unknown report with PAHT_ERROR_NOT_FOUND.
 *
 * Deadlines (table deadline, shown by pahtctl show under "deadlines"):
 *   assign      IOC: accept and assign, 4 working hours from arrival or return (Điều 7.3)
 *   return      agency: the window to return a wrongly assigned report, 1 working day (Điều 8.1)
 *   coordinate  coordinating agencies: answer the main agency, 1 + 4 working days (Điều 8.2)
 *   result      agency: approved result, 6 working days (single) or 7 (coordinated: 1 + 4 + 2)
 *               from assignment (Điều 8.1, 8.2); an extension replaces it (Điều 8.3)
 *   approve     leader: 1 working day from the result (Điều 8.4)
 *   publish     IOC: 4 working hours from approval (Điều 9.2)
 *   clarify     agency: 2 working days from the citizen's feedback (Điều 10.2)
 * When "result" or "clarify" passes before the leader's approval the report is flagged
 * overdue (Điều 8.5); the others only cause reminders. */

#define LIFECYCLE_ASSIGN_HOURS    4
#define LIFECYCLE_RETURN_DAYS     1
#define LIFECYCLE_FORWARD_DAYS    1
#define LIFECYCLE_COORDINATE_DAYS 4
#define LIFECYCLE_MAIN_AFTER_DAYS 2
#define LIFECYCLE_RESULT_DAYS     6
#define LIFECYCLE_APPROVE_DAYS    1
#define LIFECYCLE_PUBLISH_HOURS   4
#define LIFECYCLE_CLARIFY_DAYS    2

typedef struct {
    const Config *config;     /* the agencies (accept checks the codes) */
    const Calendar *calendar; /* deadlines */
    const char *actor;        /* who acts: goes into the event */
} Lifecycle;

/* What the lifecycle keeps besides the report row (one row per report, created on accept). */
typedef struct {
    gint64 report_id;
    char *category;
    gint64 assigned_at;
    char *reject_reason;   /* incomplete | complaint | out-of-scope | duplicate | spam */
    char *note;            /* the latest note: rejection, return */
    gint64 extended_until; /* 0: never extended */
    char *extension_note;
    char *result_text; /* the agency's answer, NFC */
    char *result_by;
    gint64 result_at;
    char *approved_by;
    gint64 approved_at;
    char *letter_number; /* "12/KQ-XD": the Phụ lục I letter's number, given on publication */
    gint64 published_at;
    int publications;    /* result letters sent (a clarification is published again) */
    char *feedback_text; /* the citizen's latest feedback (Điều 10.1) */
    gint64 feedback_at;
    int rating; /* Điều 10.3: 1 rất hài lòng, 2 hài lòng, 3 không hài lòng; 0 none */
    gint64 rated_at;
} LifecycleRecord;

void lifecycle_record_free(LifecycleRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LifecycleRecord, lifecycle_record_free)
/* the record, or an empty one (report_id set, everything else 0/NULL) before any transition */
LifecycleRecord *lifecycle_record_load(Store *store, gint64 report_id, GError **error);

/* A draft waits for the IOC: opens the "assign" deadline, 4 working hours from since (its
 * arrival or completion). Nothing happens if it is already open. */
gboolean lifecycle_draft_waiting(Store *store, const Lifecycle *lc, gint64 report_id, gint64 since,
                                 GError **error);
/* A report just recorded, or just completed by its citizen's reply: if it waits for the IOC
 * (state draft), its "assign" deadline opens from since, in the caller's transaction, so that
 * the acknowledgement enqueued in the same transaction states the deadline the report has
 * (the scheduler's catch-up would open it only on its next cycle). */
gboolean lifecycle_report_waits(Store *store, const Lifecycle *lc, gint64 report_id, gint64 since,
                                GError **error);
/* the due time of the report's open deadline of this name, 0 when none is open */
gboolean lifecycle_deadline_due(Store *store, gint64 report_id, const char *name, gint64 *due,
                                GError **error);
/* the stored code of a category as the IOC gave it: with a categories file ([gateway]
 * categories_file) one of its codes, case aside (*code points into the configuration), else
 * PAHT_ERROR_REFUSED naming the known codes; without one, given as it is (NULL for "") */
gboolean lifecycle_category_code(const Config *config, const char *given, const char **code,
                                 GError **error);
/* draft | returned -> assigned (coordinated: coordinating). Agency codes from the agencies
 * file; category as lifecycle_category_code takes it; coordinators NULL or empty for a single
 * agency. */
gboolean lifecycle_accept(Store *store, const Lifecycle *lc, gint64 report_id, const char *agency,
                          const char *const *coordinators, const char *category, GError **error);
/* Open311 (issue 15, publicity.c): the report's file number index (from 1, as pahtctl show
 * lists them) made public, or no longer; an "image_public" / "image_private" event by the
 * actor. PAHT_ERROR_REFUSED for a file that is not an image, and for a confidential report. */
gboolean lifecycle_image_public(Store *store, const Lifecycle *lc, gint64 report_id, guint index,
                                gboolean public_, GError **error);
/* draft | incomplete | returned -> rejected */
gboolean lifecycle_reject(Store *store, const Lifecycle *lc, gint64 report_id, const char *reason,
                          const char *note, GError **error);
/* TRUE for the reasons lifecycle_reject knows */
gboolean lifecycle_reject_reason_is_known(const char *reason);
/* assigned | coordinating | extended -> returned: back in the IOC's queue (Điều 8.1) */
gboolean lifecycle_return(Store *store, const Lifecycle *lc, gint64 report_id, const char *note,
                          GError **error);
/* assigned | coordinating -> extended: once, before the deadline, to a later date that
 * replaces the "result" deadline (Điều 8.3) */
gboolean lifecycle_extend(Store *store, const Lifecycle *lc, gint64 report_id, gint64 until,
                          const char *note, GError **error);
/* assigned | coordinating | extended | result_submitted (a corrected result), or published
 * with feedback to clarify -> result_submitted. text may be empty: the IOC sends such a
 * result back at publication (Điều 9.4). */
gboolean lifecycle_submit_result(Store *store, const Lifecycle *lc, gint64 report_id,
                                 const char *text, GError **error);
/* result_submitted -> where the agency works (assigned, coordinating, extended; published
 * while it clarifies feedback): the leader does not approve and sends the result back with a
 * reason (Điều 8.4, issue 14), event "sent_back_to_agency". The approval deadline is met; the
 * processing deadline runs on. PAHT_ERROR_REFUSED without a reason. */
gboolean lifecycle_send_back(Store *store, const Lifecycle *lc, gint64 report_id,
                             const char *reason, GError **error);
/* A coordinating agency's opinion (Điều 8.2), agency its code: recorded as an event "opinion"
 * ("CODE: text") while the report is coordinating or extended; the state does not change.
 * When every coordinating agency has given one, the "coordinate" deadline is met. Refused for
 * an agency that is not one of the report's coordinators. */
gboolean lifecycle_record_opinion(Store *store, const Lifecycle *lc, gint64 report_id,
                                  const char *agency, const char *text, GError **error);
/* result_submitted -> approved: the processing deadline is met (Điều 8.5), the IOC's
 * "publish" deadline opens (Điều 9.2) */
gboolean lifecycle_approve(Store *store, const Lifecycle *lc, gint64 report_id, GError **error);
/* approved -> published (closed when the citizen has already rated); the Phụ lục I letter gets
 * its number ("N/KQ-AGENCY", a yearly sequence per agency). A result without answer
 * text is not published: it goes back to the agency (state as before the result) and
 * *sent_back is TRUE (Điều 9.4); that is a committed transition, not an error. */
gboolean lifecycle_publish(Store *store, const Lifecycle *lc, gint64 report_id, gboolean *sent_back,
                           GError **error);

typedef enum {
    CITIZEN_RATING_NONE = 0,
    CITIZEN_RATING_VERY_SATISFIED = 1, /* Rất hài lòng */
    CITIZEN_RATING_SATISFIED = 2,      /* Hài lòng */
    CITIZEN_RATING_DISSATISFIED = 3,   /* Không hài lòng */
} CitizenRating;

/* Điều 10.3: "1", "2", "3" or the words, with or without diacritics, alone on the first
 * non-empty line (a line that is more than a rating is not one); *rest (may be NULL) gets the
 * text after that line, trimmed, or NULL. */
CitizenRating lifecycle_parse_rating(const char *text, char **rest);

typedef struct {
    CitizenRating rated;    /* the rating recorded by this reply, or NONE */
    gboolean already_rated; /* a rating came but one was recorded before: ignored */
    gboolean feedback;      /* the text (or what follows the rating) is feedback */
} CitizenReply;

/* The citizen's answer to a published result (Điều 10): a rating, recorded once (the report
 * closes); anything else is feedback: recorded as an event, the "clarify" deadline opens (2
 * working days, Điều 10.2) and the report is back with the agency. The app sends the feedback
 * on to the agency (lifecycle_letters_citizen_reply does both). PAHT_ERROR_REFUSED before
 * publication. */
gboolean lifecycle_citizen_reply(Store *store, gint64 report_id, const char *text,
                                 const Lifecycle *lc, CitizenReply *outcome, GError **error);

/* ---- statistics (Điều 11.6, 11.8) ------------------------------------------------------------
 * Periods of Decree 09/2019/NĐ-CP Art. 12: "month:2026-11" is 15/10/2026 to 14/11/2026,
 * "quarter:2026-Q1" 15/12/2025 to 14/03/2026, "half:2026-H2" 15/06 to 14/12/2026, "year:2026"
 * 15/12/2025 to 14/12/2026, inclusive, in the province's zone. [*from, *to) in unix time; FALSE
 * with a reason in *why for anything else. */
gboolean stats_period_parse(const char *text, GTimeZone *zone, gint64 *from, gint64 *to,
                            char **why);

/* The latest period of kind "month", "quarter", "half" or "year" that has ended at now: its
 * name as stats_period_parse reads it ("quarter:2026-Q4") in *name, and [*from, *to). FALSE
 * for an unknown kind. */
gboolean stats_period_last_closed(const char *kind, GTimeZone *zone, gint64 now, char **name,
                                  gint64 *from, gint64 *to);

/* "2026-10-15" .. "2026-11-14", inclusive days in the province's zone (pahtctl stats --from
 * --to): [*from, *to) in unix time; FALSE with a reason in *why. */
gboolean stats_range_parse(const char *first_day, const char *last_day, GTimeZone *zone,
                           gint64 *from, gint64 *to, char **why);

/* Why a report was not accepted (Điều 3.6, 3.9), in the order of lifecycle_reject: incomplete,
 * complaint, out-of-scope, duplicate, spam */
#define STATS_REJECT_REASONS 5
extern const char *const stats_reject_reasons[STATS_REJECT_REASONS + 1];

/* The reports received in [from, to), counted as they stand now: the whole province first
 * (agency NULL), then each agency that got any, by code. Auto-replies, bounces and replies are
 * no reports and are not counted. Every report is in exactly one of waiting, rejected,
 * answered and open, so received = waiting + rejected + answered + open, and accepted =
 * answered + open. Per agency: the reports whose main agency it is now. */
typedef struct {
    char *agency;                          /* code, or NULL for the total */
    int received;                          /* reports received in the period */
    int waiting;                           /* not decided by the IOC yet (draft, incomplete) */
    int accepted;                          /* assigned to an agency (Điều 7.3), not rejected */
    int rejected;                          /* not accepted (Điều 3.6, 3.9) */
    int rejected_by[STATS_REJECT_REASONS]; /* ... by reason, as stats_reject_reasons */
    int answered;                          /* a result was published to the citizen (Điều 9) */
    int on_time;                           /* ... never overdue */
    int late;                              /* ... after being flagged overdue (Điều 8.5) */
    int open;                              /* accepted, no result published yet */
    int open_overdue;                      /* ... and flagged overdue */
    int overdue;                           /* late + open_overdue */
    int extended;                          /* given an extension (Điều 8.3) */
    int ratings[4];         /* [1] rất hài lòng, [2] hài lòng, [3] không hài lòng */
    int timed;              /* answered reports whose time was measured */
    gint64 working_seconds; /* their working time from receipt to first result */
    gint64 seconds_per_day; /* the calendar's working day (0: not measured) */
} StatsLine;

void stats_line_free(StatsLine *line);
/* mean working days from receipt to the first published result, -1 when none was measured */
double stats_mean_working_days(const StatsLine *line);
/* the share of answered reports the citizen rated, in percent; -1 when none was answered */
double stats_share_rated(const StatsLine *line);
/* the lines (StatsLine *); calendar (may be NULL: no mean time) measures working time */
GPtrArray *stats_collect(Store *store, const Calendar *calendar, gint64 from, gint64 to,
                         GError **error);
/* stats_collect without the working-time measure */
GPtrArray *lifecycle_stats(Store *store, gint64 from, gint64 to, GError **error);

/* The lines as CSV for a spreadsheet (RFC 4180, CRLF; UTF-8 with a byte order mark, without
 * which Excel reads Vietnamese as Windows-1252): a header row in Vietnamese, each agency by
 * code with its name from the configuration, the total last. */
char *stats_csv(const GPtrArray *lines, const Config *config);

/* The overdue reports of a period (pahtctl stats --overdue; Điều 11.6 "tổng hợp các trường
 * hợp xử lý quá hạn"): received in [from, to) and flagged overdue, oldest first. */
typedef struct {
    gint64 id;
    char *code, *state, *agency;
    gint64 received_at;
    gint64 due;        /* the result deadline that passed (0: not known) */
    gboolean answered; /* a result was published since */
} StatsOverdue;

void stats_overdue_free(StatsOverdue *item);
GPtrArray *stats_overdue(Store *store, gint64 from, gint64 to, GError **error);

/* ---- retention, legal hold, a person's reports (retention.c) --------------------------------
 * Issue 16: the Law on Personal Data Protection and Điều 4.5 keep a citizen's data no longer
 * than its purpose; Điều 5.1 and 11.6 keep the record. See retention.c for what goes. */

typedef struct {
    gint64 id;
    char *code, *state;
    gint64 finished_at; /* the last change of state */
    char *legal_hold;   /* its note, or NULL */
    gint64 purged_at;   /* 0: personal data still there */
} RetainedReport;

typedef struct {
    gint64 files;       /* attachments removed */
    gint64 kept_public; /* attachments kept: the IOC marked them public */
    gint64 letters;     /* letters whose bodies went */
} RetentionCounts;

void retained_report_free(RetainedReport *report);
/* published, closed or rejected */
gboolean retention_is_finished(const char *state);
/* finished reports not purged yet whose last change is before `before` (held ones too: the
 * caller skips and counts them), oldest first */
GPtrArray *retention_due(Store *store, gint64 before, GError **error);
/* the reports of a person by e-mail (the citizen's or the sender's, case aside), phone or ID
 * number (normalised as the parser stores them: national digits); any may be NULL */
GPtrArray *retention_find_person(Store *store, const char *email, const char *phone,
                                 const char *id_number, GError **error);
/* Removes the personal data of a finished report, in the caller's transaction, with an event
 * of kind ("purged" by retention, "erased" at the citizen's request) by actor; the files go
 * into the removal queue. PAHT_ERROR_REFUSED for an open report or one under legal hold. */
gboolean retention_purge_report(Store *store, gint64 report_id, const char *actor, const char *kind,
                                RetentionCounts *counts, GError **error);
/* legal hold on (note) or off (NULL), with an event; PAHT_ERROR_REFUSED when already so */
gboolean retention_hold(Store *store, gint64 report_id, const char *note, const char *actor,
                        GError **error);
/* the IOC marks attachment number (from 1, as pahtctl show lists them) public or not */
gboolean retention_set_public(Store *store, gint64 report_id, int number, gboolean public,
                              const char *actor, GError **error);
/* files waiting for removal, oldest first, at most limit */
GPtrArray *retention_files_queued(Store *store, int limit, GError **error);
/* a queued file leaves the queue; *in_use tells whether a row still names it (then the caller
 * must not unlink it). Call under the write lock, and unlink before the commit. */
gboolean retention_file_release(Store *store, const char *path, gboolean *in_use, GError **error);

/* ---- deadlines for the scheduler ------------------------------------------------------------
 * Each open deadline carries the time of its next action (an index keeps the scheduler's look
 * at them independent of how many reports exist). Stages: 0 before (1 working day before the
 * due time, skipped for deadlines shorter than that), 1 at the due time, 2.. once each working
 * day after it. */

typedef struct {
    gint64 report_id;
    char *name;
    char *owner; /* ioc | agency | coordinators | leader */
    gint64 due, set_at, next_action_at;
    int stage;
} DeadlineAction;

void deadline_action_free(DeadlineAction *action);
/* open deadlines whose next action is due at now, oldest first, at most limit */
GPtrArray *deadline_list_due(Store *store, gint64 now, int limit, GError **error);
/* the stage after done_stage whose time is still ahead of now (stages missed while the
 * daemon was down are skipped, not sent late in a burst); next_action_at NULL when none */
gboolean deadline_advance(Store *store, const Calendar *calendar, const DeadlineAction *action,
                          gint64 now, GError **error);
/* the report's state no longer needs this deadline (e.g. a draft became incomplete) */
gboolean deadline_cancel(Store *store, gint64 report_id, const char *name, GError **error);
/* TRUE if a deadline of this name still binds a report in this state */
gboolean lifecycle_deadline_applies(const char *name, const char *state);
/* TRUE for the deadlines whose passing flags the report overdue (Điều 8.5) */
gboolean lifecycle_deadline_marks_overdue(const char *name);
/* the name of the i-th deadline of the regulation (Phụ lục II), NULL past the last: what the
 * letters must have words for (letters/ labels.ini) */
const char *lifecycle_deadline_name(gsize i);
/* Điều 8.5: flags the report overdue (once) and records an "overdue" event naming the
 * deadline. *marked tells whether the flag was newly set. */
gboolean lifecycle_mark_overdue(Store *store, const Lifecycle *lc, gint64 report_id,
                                const char *deadline, gint64 due, gboolean *marked, GError **error);
/* The drafts that appeared or were completed since the last call (events after the stored
 * mark, at most limit) get their "assign" deadline; *seen counts the events read. */
gboolean lifecycle_catch_up(Store *store, const Lifecycle *lc, int limit, int *seen,
                            GError **error);

/* ---- corrections and duplicates (corrections.c; the console, issue 13) ------------------- */

/* A correction made in the console (issue 13): field is one of name, address, id_number,
 * phone, email, location, occurred_at, category; value is checked and normalised already
 * (NULL clears it); for location, the coordinates found in it (has_coordinates FALSE keeps
 * those the report has). */
typedef struct {
    const char *field;
    const char *value;
    gboolean has_coordinates;
    double lat, lon;
} ReportEdit;

/* Writes one correction by lc->actor with an "edited" event naming the field with its old
 * and new value, and recomputes the missing fields: an incomplete report that lacks nothing
 * any more becomes a draft waiting for the IOC ("completed"). *changed FALSE (and nothing
 * written) when the value is the one the report has. PAHT_ERROR_REFUSED for a closed or
 * rejected report, PAHT_ERROR_INPUT for an unknown field. */
gboolean report_edit(Store *store, const Lifecycle *lc, gint64 report_id, const ReportEdit *edit,
                     gboolean *changed, GError **error);

/* Duplicates: a report rejected as the duplicate of another stays linked to it both ways
 * until the link is undone. */
typedef struct {
    gint64 id, report_id, of_report_id;
    char *code, *of_code; /* the duplicate and the report it duplicates */
    char *prior_state;    /* the duplicate's state before it was rejected */
    char *created_by, *undone_by;
    gint64 created_at, undone_at; /* undone_at 0: in force */
} DuplicateLink;

void duplicate_link_free(DuplicateLink *link);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DuplicateLink, duplicate_link_free)
/* the links in which the report is either side, oldest first (DuplicateLink *) */
GPtrArray *duplicate_links(Store *store, gint64 report_id, GError **error);
/* report_id, just rejected as a duplicate in the caller's transaction from prior_state, is
 * linked to of_id, with an event on both reports by actor */
gboolean duplicate_link_add(Store *store, gint64 report_id, gint64 of_id, const char *prior_state,
                            const char *actor, GError **error);
/* A wrong merge undone by lc->actor: the report is back in the state it had, waiting for
 * the IOC again, the link ended, an event on both. PAHT_ERROR_REFUSED when it is not a
 * rejected duplicate (any more). The rejection letter, if sent, stays sent. */
gboolean duplicate_undo(Store *store, const Lifecycle *lc, gint64 report_id, GError **error);

G_END_DECLS

#endif
