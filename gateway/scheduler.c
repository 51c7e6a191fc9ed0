/* The scheduler: the regulation's clock inside pahtd (SPEC §5, Điều 8.5).
 *
 * Work per cycle is bounded and found through indexes, never by walking reports: the catch-up
 * reads the events written since its mark, the deadline actions come from the partial index
 * on deadline(next_action_at). A cycle over 100,000 open reports costs what one over 1,000
 * does when as many actions are due.
 *
 * Every letter has a dedupe key naming the report, the deadline, its due time, the stage and
 * the recipient: a cycle interrupted between its letters and its commit, or a restarted
 * daemon, never sends a reminder twice. Letters are queued with not_before at the next
 * working minute: reminders go out inside working hours only (SPEC §8). */
#include "gateway/gateway.h"
#include "letters/letters.h"
#include "util/util.h"

/* per cycle: enough for any real day, small enough that one cycle never stalls the daemon */
#define SCHEDULER_CATCH_UP_EVENTS 1000
#define SCHEDULER_BATCH           200
#define SCHEDULER_BATCHES         5
/* failed actions named in the IOC's alert (the count says how many in all) */
#define SCHEDULER_FAILURES_TOLD 10

/* a deadline action that failed, as the IOC's alert names it */
typedef struct {
    gint64 report_id;
    char *deadline; /* its name */
    char *error;
} FailedAction;

static void failed_action_free(gpointer p)
{
    FailedAction *f = p;
    g_free(f->deadline);
    g_free(f->error);
    g_free(f);
}

/* the failed action a, with why, kept for the IOC's alert (the first SCHEDULER_FAILURES_TOLD) */
static void note_failure(GPtrArray *failures, const DeadlineAction *a, const char *why)
{
    if (failures->len >= SCHEDULER_FAILURES_TOLD)
        return;
    FailedAction *f = g_new0(FailedAction, 1);
    f->report_id = a->report_id;
    f->deadline = g_strdup(a->name);
    f->error = g_strdup(why);
    g_ptr_array_add(failures, f);
}

/* A deadline action that fails (a template broken by an edit, the store refusing a row) is
 * rolled back alone and tried again at the next cycle; meanwhile nobody is reminded of that
 * deadline. The IOC is told, once a day at most (the dedupe key names the local day), with
 * the first failures: each report's code, the deadline as labels.ini says it (by its name if
 * labels.ini is what fails) and the error. */
static void tell_failures(const Config *c, Store *s, const Calendar *calendar, gint64 now,
                          int failed, const GPtrArray *failures)
{
    g_autofree char *stamp = clock_format_rfc3339(now, calendar_zone(calendar));
    g_autofree char *key = g_strdup_printf("scheduler_failed:%.10s", stamp);
    g_autoptr(Labels) labels = labels_load(c, NULL);
    g_autoptr(JsonBuilder) facts = letters_alert_facts();
    json_member_int(facts, "failed", failed);
    json_builder_set_member_name(facts, "items");
    json_builder_begin_array(facts);
    for (guint i = 0; i < failures->len; i++) {
        const FailedAction *f = g_ptr_array_index(failures, i);
        g_autoptr(Report) report = report_load_id(s, f->report_id, NULL);
        g_autofree char *label =
            labels ? labels_get(labels, "deadline", f->deadline, "label", NULL) : NULL;
        json_builder_begin_object(facts);
        json_member_string(facts, "code", report ? report->code : "?");
        json_member_string(facts, "deadline", label ? label : f->deadline);
        json_member_string(facts, "error", f->error);
        json_builder_end_object(facts);
    }
    json_builder_end_array(facts);
    json_member_bool(facts, "more", (guint)failed > failures->len);
    GError *error = NULL;
    if (!letters_ioc_alert(c, s, "scheduler_failed", key, 0, facts, &error)) {
        log_error("scheduler: the IOC cannot be told of the failed deadline actions: %s",
                  error->message);
        g_error_free(error);
    }
}

/* one deadline action, in the caller's transaction */
static gboolean act(const Config *c, Store *s, const Lifecycle *lc, const DeadlineAction *a,
                    gint64 now, gint64 mail_at, SchedulerStats *stats, GError **error)
{
    g_autoptr(Report) report = report_load_id(s, a->report_id, error);
    if (!report)
        return FALSE;
    /* the report moved on without closing this deadline (a draft became incomplete): nothing
     * to remind anyone of */
    if (!lifecycle_deadline_applies(a->name, report->state))
        return deadline_cancel(s, a->report_id, a->name, error);
    /* the daemon was down across the whole day before: a reminder "1 day before" would now
     * arrive after the deadline; go straight to the deadline's own stage */
    if (a->stage == 0 && now >= a->due)
        return deadline_advance(s, lc->calendar, a, a->due, error);
    if (a->stage == 1 && lifecycle_deadline_marks_overdue(a->name)) {
        gboolean marked = FALSE;
        if (!lifecycle_mark_overdue(s, lc, a->report_id, a->name, a->due, &marked, error))
            return FALSE;
        if (marked && stats)
            stats->overdue++;
        if (marked) {
            g_autofree char *due = clock_format_rfc3339(a->due, calendar_zone(lc->calendar));
            log_notice("%s is overdue: %s was due at %s (Điều 8.5)", report->code, a->name, due);
        }
    }
    return lifecycle_letters_deadline_action(c, s, lc->calendar, a, report, mail_at, error) &&
           deadline_advance(s, lc->calendar, a, now, error);
}

gboolean scheduler_run_cycle(Gateway *gw, SchedulerStats *stats)
{
    const Config *c = gateway_config(gw);
    Store *s = gateway_store(gw);
    SchedulerStats local = {0};
    if (!stats)
        stats = &local;
    *stats = (SchedulerStats){0};
    g_autoptr(Calendar) calendar = calendar_new_from_config(c);
    Lifecycle lc = {.config = c, .calendar = calendar, .actor = "pahtd"};
    gboolean all_ok = TRUE;

    GError *error = NULL;
    if (!lifecycle_catch_up(s, &lc, SCHEDULER_CATCH_UP_EVENTS, &stats->drafts_seen, &error)) {
        log_error("scheduler: new drafts: %s", error->message);
        g_clear_error(&error);
        all_ok = FALSE;
    }

    gint64 now = clock_now_unix();
    g_autoptr(GPtrArray) failures = g_ptr_array_new_with_free_func(failed_action_free);
    gint64 mail_at = calendar_next_working_time(calendar, now);
    if (mail_at < 0) {
        log_error("scheduler: the calendar has no working time: check [calendar]");
        return FALSE;
    }
    for (int batch = 0; batch < SCHEDULER_BATCHES; batch++) {
        /* one transaction per batch, one savepoint per action: an action that fails (a broken
         * template) is rolled back alone and tried again next cycle. The list is read inside
         * the transaction, so that an operator's extension cannot slip in between */
        if (!store_begin(s, &error)) {
            log_error("scheduler: %s", error->message);
            g_clear_error(&error);
            return FALSE;
        }
        g_autoptr(GPtrArray) due = deadline_list_due(s, now, SCHEDULER_BATCH, &error);
        if (!due || due->len == 0) {
            store_rollback(s);
            if (!due) {
                log_error("scheduler: %s", error->message);
                g_clear_error(&error);
                return FALSE;
            }
            break;
        }
        int failed_before = stats->failed;
        for (guint i = 0; i < due->len; i++) {
            const DeadlineAction *a = g_ptr_array_index(due, i);
            if (!store_begin(s, &error)) {
                stats->failed++;
                note_failure(failures, a, error->message);
                log_error("scheduler: %s", error->message);
                g_clear_error(&error);
                break;
            }
            if (act(c, s, &lc, a, now, mail_at, stats, &error) && store_commit(s, &error)) {
                stats->actions++;
                continue;
            }
            store_rollback(s);
            stats->failed++;
            log_error("scheduler: report %" G_GINT64_FORMAT ", deadline %s: %s", a->report_id,
                      a->name, error ? error->message : "failed");
            note_failure(failures, a, error ? error->message : "failed");
            g_clear_error(&error);
        }
        if (!store_commit(s, &error)) {
            log_error("scheduler: %s", error->message);
            g_clear_error(&error);
            return FALSE;
        }
        /* the same failures would come first again: leave them to the next cycle. Otherwise
         * look again: an action may have made the next stage due at once (a deadline whose
         * day-before reminder the daemon slept through) */
        if (stats->failed > failed_before)
            break;
    }
    if (stats->actions || stats->failed)
        log_info("scheduler: %d deadline actions, %d newly overdue, %d failed", stats->actions,
                 stats->overdue, stats->failed);
    if (stats->failed)
        tell_failures(c, s, calendar, now, stats->failed, failures);
    return all_ok && stats->failed == 0;
}
