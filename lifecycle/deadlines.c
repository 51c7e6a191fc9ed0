/* The deadlines of the regulation (SPEC §5, Phụ lục II): which ones a report has, when each
 * acts (a reminder the working day before, the due time, each working day after), and the
 * "assign" deadline every draft waiting for the IOC gets. The scheduler reads them through
 * deadline_list_due; the transitions open and close them (deadline_set, deadline_close). */
#include "lifecycle/lifecycle_private.h"
#include "util/util.h"

static gboolean calendar_broken(GError **error)
{
    g_set_error_literal(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "the working-time calendar has no working minute in ten years: check "
                        "[calendar] hours, workdays and the holidays file");
    return FALSE;
}

static const struct {
    const char *name;
    const char *owner;
    gboolean marks_overdue; /* Điều 8.5 */
    gboolean reminders;
    const char *const states[6]; /* the report states in which it still binds */
} deadline_rules[] = {
    {"assign", "ioc", FALSE, TRUE, {"draft", "returned"}},
    /* a window, not a duty: nobody is reminded to return a report */
    {"return", "agency", FALSE, FALSE, {"assigned", "coordinating", "extended"}},
    {"coordinate", "coordinators", FALSE, TRUE, {"coordinating", "extended"}},
    {"result", "agency", TRUE, TRUE, {"assigned", "coordinating", "extended", "result_submitted"}},
    {"approve", "leader", FALSE, TRUE, {"result_submitted"}},
    {"publish", "ioc", FALSE, TRUE, {"approved"}},
    {"clarify", "agency", TRUE, TRUE, {"published", "closed", "result_submitted"}},
};

static gssize rule_index(const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(deadline_rules); i++) {
        if (name && g_str_equal(deadline_rules[i].name, name))
            return (gssize)i;
    }
    return -1;
}

gboolean lifecycle_deadline_applies(const char *name, const char *state)
{
    gssize i = rule_index(name);
    if (i < 0)
        return FALSE;
    for (int s = 0; s < 6 && deadline_rules[i].states[s]; s++) {
        if (state && g_str_equal(deadline_rules[i].states[s], state))
            return TRUE;
    }
    return FALSE;
}

gboolean lifecycle_deadline_marks_overdue(const char *name)
{
    gssize i = rule_index(name);
    return i >= 0 && deadline_rules[i].marks_overdue;
}

const char *lifecycle_deadline_name(gsize i)
{
    return i < G_N_ELEMENTS(deadline_rules) ? deadline_rules[i].name : NULL;
}

/* When stage `stage` of a deadline acts: 0 one working day before (none when the deadline is
 * closer than that to when it was set), 1 at the due time, k >= 2 k-1 working days after it.
 * 0 for "no action". */
static gint64 stage_time(const Calendar *cal, const char *name, gint64 due, gint64 set_at,
                         int stage)
{
    gssize i = rule_index(name);
    if (i < 0 || !deadline_rules[i].reminders)
        return 0;
    gint64 day = calendar_seconds_per_day(cal);
    if (stage == 0) {
        gint64 before = calendar_subtract_working_seconds(cal, due, day);
        return before > set_at ? before : 0;
    }
    if (stage == 1)
        return due;
    gint64 t = calendar_add_working_seconds(cal, due, (stage - 1) * day);
    return t > 0 ? t : 0;
}

/* the first stage to act on for a deadline (re)opened at now */
static int first_stage(const Calendar *cal, const char *name, gint64 due, gint64 now, gint64 *next)
{
    gint64 before = stage_time(cal, name, due, now, 0);
    if (before > now) {
        *next = before;
        return 0;
    }
    *next = stage_time(cal, name, due, now, 1);
    return 1;
}

static void bind_next(sqlite3_stmt *stmt, int index, gint64 next)
{
    if (next > 0)
        sqlite3_bind_int64(stmt, index, next);
    else
        sqlite3_bind_null(stmt, index);
}

/* opens (or reopens with a new due time) a deadline */
gboolean deadline_set(Store *store, const Lifecycle *lc, gint64 report_id, const char *name,
                      gint64 due, gint64 now, GError **error)
{
    if (due <= 0)
        return calendar_broken(error);
    gssize rule = rule_index(name);
    g_return_val_if_fail(rule >= 0, FALSE);
    gint64 next = 0;
    int stage = first_stage(lc->calendar, name, due, now, &next);
    sqlite3_stmt *stmt = store_statement(
        store,
        "INSERT INTO deadline(report_id, name, due, owner, set_at, status, closed_at, stage,"
        " next_action_at) VALUES (?1, ?2, ?3, ?4, ?5, 'open', NULL, ?6, ?7)"
        " ON CONFLICT(report_id, name) DO UPDATE SET due = ?3, owner = ?4, set_at = ?5,"
        " status = 'open', closed_at = NULL, stage = ?6, next_action_at = ?7",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, due);
    sqlite3_bind_text(stmt, 4, deadline_rules[rule].owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 5, now);
    sqlite3_bind_int(stmt, 6, stage);
    bind_next(stmt, 7, next);
    return lifecycle_exec_bound(store, stmt, "set deadline", error);
}

/* the due time of an open deadline, or 0 */
gboolean deadline_open_due(Store *store, gint64 report_id, const char *name, gint64 *due,
                           GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "SELECT due FROM deadline WHERE report_id = ? AND name = ? AND status = 'open'",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    *due = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(store, error, "read deadline");
    return TRUE;
}

/* status met | cancelled, for an open deadline (nothing if it is not open) */
gboolean deadline_close(Store *store, gint64 report_id, const char *name, const char *status,
                        gint64 now, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store,
                        "UPDATE deadline SET status = ?3, closed_at = ?4, next_action_at = NULL"
                        " WHERE report_id = ?1 AND name = ?2 AND status = 'open'",
                        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, now);
    return lifecycle_exec_bound(store, stmt, "close deadline", error);
}

/* a met deadline opened again with its old due time (a result sent back, Điều 9.4) */
gboolean deadline_reopen(Store *store, const Lifecycle *lc, gint64 report_id, const char *name,
                         gint64 now, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store, "SELECT due FROM deadline WHERE report_id = ? AND name = ?", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    gint64 due = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(store, error, "read deadline");
    if (!due)
        return TRUE;
    gint64 next = 0;
    int stage = first_stage(lc->calendar, name, due, now, &next);
    stmt = store_statement(store,
                           "UPDATE deadline SET status = 'open', closed_at = NULL, stage = ?3,"
                           " next_action_at = ?4 WHERE report_id = ?1 AND name = ?2",
                           error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 3, stage);
    bind_next(stmt, 4, next);
    return lifecycle_exec_bound(store, stmt, "reopen deadline", error);
}

void deadline_action_free(DeadlineAction *a)
{
    if (!a)
        return;
    g_free(a->name);
    g_free(a->owner);
    g_free(a);
}

GPtrArray *deadline_list_due(Store *store, gint64 now, int limit, GError **error)
{
    /* the WHERE repeats the partial index's condition so that SQLite uses it */
    sqlite3_stmt *stmt = store_statement(
        store,
        "SELECT report_id, name, owner, due, set_at, next_action_at, stage FROM deadline"
        " WHERE status = 'open' AND next_action_at IS NOT NULL AND next_action_at <= ?1"
        " ORDER BY next_action_at LIMIT ?2",
        error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, now);
    sqlite3_bind_int(stmt, 2, limit);
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)deadline_action_free);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        DeadlineAction *a = g_new0(DeadlineAction, 1);
        a->report_id = sqlite3_column_int64(stmt, 0);
        a->name = column_text(stmt, 1);
        a->owner = column_text(stmt, 2);
        a->due = sqlite3_column_int64(stmt, 3);
        a->set_at = sqlite3_column_int64(stmt, 4);
        a->next_action_at = sqlite3_column_int64(stmt, 5);
        a->stage = sqlite3_column_int(stmt, 6);
        g_ptr_array_add(list, a);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        g_ptr_array_unref(list);
        store_fail(store, error, "list due deadlines");
        return NULL;
    }
    return list;
}

gboolean deadline_advance(Store *store, const Calendar *cal, const DeadlineAction *a, gint64 now,
                          GError **error)
{
    int stage = a->stage + 1;
    gint64 next = stage_time(cal, a->name, a->due, a->set_at, stage);
    /* the daily stages missed while the daemon was down are skipped: one reminder today,
     * not a burst of a week's worth. Stage k acts k-1 working days after the due time: jump
     * to the first one after now, then step over what rounding left */
    if (stage >= 2 && next > 0 && next <= now) {
        gint64 day = calendar_seconds_per_day(cal);
        gint64 late = calendar_working_seconds_between(cal, a->due, now);
        stage = MAX(stage, (int)MIN(late / day, 100000) + 2);
        next = stage_time(cal, a->name, a->due, a->set_at, stage);
    }
    while (stage >= 2 && next > 0 && next <= now) {
        stage++;
        next = stage_time(cal, a->name, a->due, a->set_at, stage);
    }
    sqlite3_stmt *stmt = store_statement(
        store,
        "UPDATE deadline SET stage = ?3, next_action_at = ?4"
        " WHERE report_id = ?1 AND name = ?2 AND status = 'open' AND due = ?5 AND stage = ?6",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, a->report_id);
    sqlite3_bind_text(stmt, 2, a->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 3, stage);
    bind_next(stmt, 4, next);
    sqlite3_bind_int64(stmt, 5, a->due);
    sqlite3_bind_int(stmt, 6, a->stage);
    return lifecycle_exec_bound(store, stmt, "advance deadline", error);
}

gboolean deadline_cancel(Store *store, gint64 report_id, const char *name, GError **error)
{
    return deadline_close(store, report_id, name, "cancelled", clock_now_unix(), error);
}

gboolean lifecycle_mark_overdue(Store *store, const Lifecycle *lc, gint64 report_id,
                                const char *deadline, gint64 due, gboolean *marked, GError **error)
{
    gint64 now = clock_now_unix();
    sqlite3_stmt *stmt = store_statement(
        store, "UPDATE report SET overdue = 1, updated_at = ?2 WHERE id = ?1 AND overdue = 0",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    sqlite3_bind_int64(stmt, 2, now);
    if (!lifecycle_exec_bound(store, stmt, "flag overdue", error))
        return FALSE;
    if (marked)
        *marked = sqlite3_changes(store_connection(store)) == 1;
    g_autofree char *due_text = lifecycle_time_text(lc, due);
    g_autofree char *detail = g_strdup_printf("%s: due %s passed (Điều 8.5)", deadline, due_text);
    return event_add(store, report_id, "pahtd", "overdue", detail, error);
}

gboolean lifecycle_draft_waiting(Store *store, const Lifecycle *lc, gint64 report_id, gint64 since,
                                 GError **error)
{
    gint64 due = 0;
    if (!deadline_open_due(store, report_id, "assign", &due, error))
        return FALSE;
    if (due)
        return TRUE;
    gint64 now = clock_now_unix();
    gint64 assign =
        calendar_add_working_hours(lc->calendar, since > 0 ? since : now, LIFECYCLE_ASSIGN_HOURS);
    return deadline_set(store, lc, report_id, "assign", assign, now, error);
}

gboolean lifecycle_report_waits(Store *store, const Lifecycle *lc, gint64 report_id, gint64 since,
                                GError **error)
{
    g_auto(Head) h = {0};
    if (!lifecycle_head_load(store, report_id, &h, error))
        return FALSE;
    if (!g_str_equal(h.state, "draft"))
        return TRUE;
    return lifecycle_draft_waiting(store, lc, report_id, since, error);
}

gboolean lifecycle_deadline_due(Store *store, gint64 report_id, const char *name, gint64 *due,
                                GError **error)
{
    return deadline_open_due(store, report_id, name, due, error);
}

gboolean lifecycle_catch_up(Store *store, const Lifecycle *lc, int limit, int *seen, GError **error)
{
    if (seen)
        *seen = 0;
    if (!store_begin(store, error))
        return FALSE;
    sqlite3_stmt *stmt =
        store_statement(store, "SELECT value FROM scheduler_mark WHERE name = 'event'", error);
    if (!stmt)
        return lifecycle_finish(store, FALSE, error);
    int rc = sqlite3_step(stmt);
    gint64 mark = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_reset(stmt);

    /* the events since the mark say which reports changed; only drafts need something */
    stmt = store_statement(store,
                           "SELECT e.id, e.report_id, e.at, r.state FROM event e"
                           " JOIN report r ON r.id = e.report_id"
                           " WHERE e.id > ?1 ORDER BY e.id LIMIT ?2",
                           error);
    if (!stmt)
        return lifecycle_finish(store, FALSE, error);
    sqlite3_bind_int64(stmt, 1, mark);
    sqlite3_bind_int(stmt, 2, limit);
    g_autoptr(GArray) drafts = g_array_new(FALSE, FALSE, sizeof(gint64) * 2);
    int n = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        n++;
        mark = sqlite3_column_int64(stmt, 0);
        const char *state = (const char *)sqlite3_column_text(stmt, 3);
        if (state && g_str_equal(state, "draft")) {
            gint64 pair[2] = {sqlite3_column_int64(stmt, 1), sqlite3_column_int64(stmt, 2)};
            g_array_append_val(drafts, pair);
        }
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        store_fail(store, error, "read events");
        return lifecycle_finish(store, FALSE, error);
    }
    gboolean ok = TRUE;
    for (guint i = 0; ok && i < drafts->len; i++) {
        const gint64 *pair = &g_array_index(drafts, gint64, i * 2);
        ok = lifecycle_draft_waiting(store, lc, pair[0], pair[1], error);
    }
    if (ok && n > 0) {
        stmt = store_statement(store,
                               "INSERT INTO scheduler_mark(name, value) VALUES ('event', ?1)"
                               " ON CONFLICT(name) DO UPDATE SET value = ?1",
                               error);
        ok = stmt != NULL;
        if (ok) {
            sqlite3_bind_int64(stmt, 1, mark);
            ok = lifecycle_exec_bound(store, stmt, "move the scheduler mark", error);
        }
    }
    if (seen)
        *seen = n;
    return lifecycle_finish(store, ok, error);
}
