/* The report's lifecycle (SPEC §4) and its deadlines (SPEC §5, Phụ lục II of the regulation).
 *
 *   draft -> (incomplete <-> draft) -> accepted -> assigned -> [coordinating] -> result_submitted
 *         -> approved -> published -> closed;   side states rejected, returned, extended;
 *   the flag overdue.
 *
 * Every transition here: one savepoint, a check of the current state (the UPDATE names the
 * state it expects, so two operators acting at once cannot both win), an event row, and the
 * deadlines it opens or closes. Letters are the app's (app/lifecycle_letters.c): it calls these
 * inside its own transaction and enqueues in the same one. */
#include "queue/store_internal.h"
#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- small helpers -----------------------------------------------------------------------------
 */

static gboolean refuse(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean refuse(GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, PAHT_ERROR, PAHT_ERROR_REFUSED, text);
    return FALSE;
}

static gboolean calendar_broken(GError **error)
{
    g_set_error_literal(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "the working-time calendar has no working minute in ten years: check "
                        "[calendar] hours, workdays and the holidays file");
    return FALSE;
}

static char *when(const Lifecycle *lc, gint64 t)
{
    return clock_format_rfc3339(t, calendar_zone(lc->calendar));
}

static gboolean is_blank(const char *text)
{
    for (const char *p = text; p && *p; p = g_utf8_next_char(p)) {
        if (!g_unichar_isspace(g_utf8_get_char(p)))
            return FALSE;
    }
    return TRUE;
}

static gboolean state_in(const char *state, const char *const *states)
{
    return state && g_strv_contains(states, state);
}

/* the report row's few columns a transition decides on */
typedef struct {
    gint64 id;
    char *code, *state, *agency, *coordinators;
    gboolean confidential, overdue;
    char *missing;
} Head;

static void head_clear(Head *h)
{
    g_free(h->code);
    g_free(h->state);
    g_free(h->agency);
    g_free(h->coordinators);
    g_free(h->missing);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Head, head_clear)

static gboolean head_load(Store *store, gint64 id, Head *out, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store,
                                         "SELECT code, state, agency, coordinators, confidential,"
                                         " overdue, missing FROM report WHERE id = ?",
                                         error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, id);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        out->id = id;
        out->code = column_text(stmt, 0);
        out->state = column_text(stmt, 1);
        out->agency = column_text(stmt, 2);
        out->coordinators = column_text(stmt, 3);
        out->confidential = sqlite3_column_int(stmt, 4) != 0;
        out->overdue = sqlite3_column_int(stmt, 5) != 0;
        out->missing = column_text(stmt, 6);
    }
    sqlite3_reset(stmt);
    if (rc == SQLITE_ROW)
        return TRUE;
    if (rc == SQLITE_DONE)
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND, "no report %" G_GINT64_FORMAT, id);
    else
        store_fail(store, error, "load report");
    return FALSE;
}

/* a refusal unless the report is in one of states: "CODE is STATE: only" */
static gboolean require_state(const Head *h, const char *const *states, const char *only,
                              GError **error)
{
    if (state_in(h->state, states))
        return TRUE;
    return refuse(error, "%s is %s: %s", h->code, h->state, only);
}

/* state from -> to; REFUSED if someone else moved it meanwhile */
static gboolean set_state(Store *store, const Head *h, const char *to, gint64 now, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "UPDATE report SET state = ?1, updated_at = ?2 WHERE id = ?3 AND state = ?4", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, to, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, now);
    sqlite3_bind_int64(stmt, 3, h->id);
    sqlite3_bind_text(stmt, 4, h->state, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "change report state");
    if (sqlite3_changes(store->db) != 1)
        return refuse(error, "%s changed state meanwhile (it was %s): look again", h->code,
                      h->state);
    return TRUE;
}

static gboolean exec_bound(Store *store, sqlite3_stmt *stmt, const char *what, GError **error)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store_fail(store, error, what);
    return TRUE;
}

/* ---- the lifecycle record -------------------------------------------------------------------- */

void lifecycle_record_free(LifecycleRecord *r)
{
    if (!r)
        return;
    g_free(r->category);
    g_free(r->reject_reason);
    g_free(r->note);
    g_free(r->extension_note);
    g_free(r->result_text);
    g_free(r->result_by);
    g_free(r->approved_by);
    g_free(r->letter_number);
    g_free(r->feedback_text);
    g_free(r);
}

LifecycleRecord *lifecycle_record_load(Store *store, gint64 report_id, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store,
        "SELECT category, assigned_at, reject_reason, note, extended_until, extension_note,"
        " result_text, result_by, result_at, approved_by, approved_at, letter_number,"
        " published_at, publications, feedback_text, feedback_at, rating, rated_at"
        " FROM report_lifecycle WHERE report_id = ?",
        error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, report_id);
    LifecycleRecord *r = g_new0(LifecycleRecord, 1);
    r->report_id = report_id;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        r->category = column_text(stmt, 0);
        r->assigned_at = sqlite3_column_int64(stmt, 1);
        r->reject_reason = column_text(stmt, 2);
        r->note = column_text(stmt, 3);
        r->extended_until = sqlite3_column_int64(stmt, 4);
        r->extension_note = column_text(stmt, 5);
        r->result_text = column_text(stmt, 6);
        r->result_by = column_text(stmt, 7);
        r->result_at = sqlite3_column_int64(stmt, 8);
        r->approved_by = column_text(stmt, 9);
        r->approved_at = sqlite3_column_int64(stmt, 10);
        r->letter_number = column_text(stmt, 11);
        r->published_at = sqlite3_column_int64(stmt, 12);
        r->publications = sqlite3_column_int(stmt, 13);
        r->feedback_text = column_text(stmt, 14);
        r->feedback_at = sqlite3_column_int64(stmt, 15);
        r->rating = sqlite3_column_int(stmt, 16);
        r->rated_at = sqlite3_column_int64(stmt, 17);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        lifecycle_record_free(r);
        store_fail(store, error, "load lifecycle");
        return NULL;
    }
    return r;
}

static gboolean record_ensure(Store *store, gint64 report_id, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "INSERT INTO report_lifecycle(report_id) VALUES (?) ON CONFLICT DO NOTHING", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    return exec_bound(store, stmt, "create lifecycle", error);
}

/* ---- deadlines --------------------------------------------------------------------------------
 */

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
static gboolean deadline_set(Store *store, const Lifecycle *lc, gint64 report_id, const char *name,
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
    return exec_bound(store, stmt, "set deadline", error);
}

/* the due time of an open deadline, or 0 */
static gboolean deadline_open_due(Store *store, gint64 report_id, const char *name, gint64 *due,
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
static gboolean deadline_close(Store *store, gint64 report_id, const char *name, const char *status,
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
    return exec_bound(store, stmt, "close deadline", error);
}

/* a met deadline opened again with its old due time (a result sent back, Điều 9.4) */
static gboolean deadline_reopen(Store *store, const Lifecycle *lc, gint64 report_id,
                                const char *name, gint64 now, GError **error)
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
    return exec_bound(store, stmt, "reopen deadline", error);
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
    return exec_bound(store, stmt, "advance deadline", error);
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
    if (!exec_bound(store, stmt, "flag overdue", error))
        return FALSE;
    if (marked)
        *marked = sqlite3_changes(store->db) == 1;
    g_autofree char *due_text = when(lc, due);
    g_autofree char *detail = g_strdup_printf("%s: due %s passed (Điều 8.5)", deadline, due_text);
    return event_add(store, report_id, "pahtd", "overdue", detail, error);
}

/* ---- transitions --------------------------------------------------------------------------------
 */

static gboolean begin(Store *store, GError **error)
{
    return store_begin(store, error);
}

static gboolean finish(Store *store, gboolean ok, GError **error)
{
    if (!ok) {
        store_rollback(store);
        return FALSE;
    }
    return store_commit(store, error);
}

static const char *actor_of(const Lifecycle *lc)
{
    return lc->actor && *lc->actor ? lc->actor : "pahtctl";
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
    if (!head_load(store, report_id, &h, error))
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
    if (!begin(store, error))
        return FALSE;
    sqlite3_stmt *stmt =
        store_statement(store, "SELECT value FROM scheduler_mark WHERE name = 'event'", error);
    if (!stmt)
        return finish(store, FALSE, error);
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
        return finish(store, FALSE, error);
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
        return finish(store, FALSE, error);
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
            ok = exec_bound(store, stmt, "move the scheduler mark", error);
        }
    }
    if (seen)
        *seen = n;
    return finish(store, ok, error);
}

static char *known_agencies(const Config *config)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; config->agencies && i < config->agencies->len; i++) {
        const Agency *a = g_ptr_array_index(config->agencies, i);
        g_string_append_printf(s, "%s%s", i ? ", " : "", a->code);
    }
    return g_string_free(s, FALSE);
}

static gboolean check_agency(const Lifecycle *lc, const char *code, GError **error)
{
    if (code && *code && config_find_agency(lc->config, code))
        return TRUE;
    g_autofree char *known = known_agencies(lc->config);
    return refuse(error, "unknown agency code \"%s\" (the agencies file knows: %s)",
                  code ? code : "", *known ? known : "none");
}

gboolean lifecycle_accept(Store *store, const Lifecycle *lc, gint64 report_id, const char *agency,
                          const char *const *coordinators, const char *category, GError **error)
{
    g_auto(Head) h = {0};
    if (!head_load(store, report_id, &h, error))
        return FALSE;
    /* an incomplete draft may be accepted: the IOC verifies the report (Điều 7.1) and may have
     * the missing details by phone, or find them in the text where the parser did not; the
     * event records what the parser found missing */
    static const char *const from[] = {"draft", "incomplete", "returned", NULL};
    if (!require_state(&h, from,
                       "only a draft, an incomplete draft or a returned report can be accepted",
                       error))
        return FALSE;
    if (!check_agency(lc, agency, error))
        return FALSE;
    const Agency *main_agency = config_find_agency(lc->config, agency);
    g_autoptr(GPtrArray) codes = g_ptr_array_new_with_free_func(g_free);
    for (const char *const *c = coordinators; c && *c; c++) {
        if (!**c)
            continue;
        if (!check_agency(lc, *c, error))
            return FALSE;
        const Agency *a = config_find_agency(lc->config, *c);
        if (a == main_agency)
            return refuse(error, "%s cannot coordinate with itself (Điều 8.2)", a->code);
        for (guint i = 0; i < codes->len; i++) {
            if (g_str_equal(g_ptr_array_index(codes, i), a->code))
                return refuse(error, "coordinating agency %s is named twice", a->code);
        }
        g_ptr_array_add(codes, g_strdup(a->code));
    }
    g_ptr_array_add(codes, NULL);
    g_autofree char *coordinator_list = g_strjoinv(",", (char **)codes->pdata);
    gboolean coordinated = codes->len > 1;
    const char *to = coordinated ? "coordinating" : "assigned";
    gint64 now = clock_now_unix();
    const Calendar *cal = lc->calendar;

    if (!begin(store, error))
        return FALSE;
    gboolean ok = set_state(store, &h, to, now, error);
    if (ok) {
        sqlite3_stmt *stmt = store_statement(
            store, "UPDATE report SET agency = ?1, coordinators = ?2 WHERE id = ?3", error);
        ok = stmt != NULL;
        if (ok) {
            sqlite3_bind_text(stmt, 1, main_agency->code, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(stmt, 2, coordinator_list, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(stmt, 3, report_id);
            ok = exec_bound(store, stmt, "assign report", error);
        }
    }
    ok = ok && record_ensure(store, report_id, error);
    if (ok) {
        /* a new assignment starts a new processing: a former agency's extension, result and
         * letter number do not carry over */
        sqlite3_stmt *stmt = store_statement(
            store,
            "UPDATE report_lifecycle SET category = coalesce(?2, category), assigned_at = ?3,"
            " extended_until = NULL, extension_note = NULL, result_text = NULL,"
            " result_by = NULL, result_at = NULL, approved_by = NULL, approved_at = NULL,"
            " letter_number = NULL WHERE report_id = ?1",
            error);
        ok = stmt != NULL;
        if (ok) {
            sqlite3_bind_int64(stmt, 1, report_id);
            bind_text_or_null(stmt, 2, category && *category ? category : NULL);
            sqlite3_bind_int64(stmt, 3, now);
            ok = exec_bound(store, stmt, "record assignment", error);
        }
    }
    GString *accepted = g_string_new(NULL);
    if (category && *category)
        g_string_append_printf(accepted, "category: %s", category);
    if (g_str_equal(h.state, "incomplete"))
        g_string_append_printf(accepted, "%sverified by the IOC; the parser found missing: %s",
                               accepted->len ? "; " : "", h.missing ? h.missing : "");
    g_autofree char *accepted_detail = g_string_free(accepted, accepted->len == 0);
    g_autofree char *assigned_detail =
        coordinated ? g_strdup_printf("%s; coordinating: %s", main_agency->code, coordinator_list)
                    : g_strdup(main_agency->code);
    ok = ok && event_add(store, report_id, actor_of(lc), "accepted", accepted_detail, error) &&
         event_add(store, report_id, actor_of(lc), "assigned", assigned_detail, error) &&
         deadline_close(store, report_id, "assign", "met", now, error);
    /* Điều 8.1: 6 working days (5 + 1 approval); Điều 8.2: 1 to forward + 4 for the
     * coordinating agencies (3 + 1 approval) + 2 for the main agency's answer */
    int result_days =
        coordinated ? LIFECYCLE_FORWARD_DAYS + LIFECYCLE_COORDINATE_DAYS + LIFECYCLE_MAIN_AFTER_DAYS
                    : LIFECYCLE_RESULT_DAYS;
    ok = ok &&
         deadline_set(store, lc, report_id, "return",
                      calendar_add_working_days(cal, now, LIFECYCLE_RETURN_DAYS), now, error) &&
         deadline_set(store, lc, report_id, "result",
                      calendar_add_working_days(cal, now, result_days), now, error);
    if (ok && coordinated)
        ok = deadline_set(
            store, lc, report_id, "coordinate",
            calendar_add_working_days(cal, now, LIFECYCLE_FORWARD_DAYS + LIFECYCLE_COORDINATE_DAYS),
            now, error);
    if (ok && !coordinated)
        ok = deadline_close(store, report_id, "coordinate", "cancelled", now, error);
    static const char *const stale[] = {"approve", "publish", "clarify"};
    for (gsize i = 0; ok && i < G_N_ELEMENTS(stale); i++)
        ok = deadline_close(store, report_id, stale[i], "cancelled", now, error);
    return finish(store, ok, error);
}

static const char *const reject_reasons[] = {"incomplete", "complaint", "out-of-scope",
                                             "duplicate",  "spam",      NULL};

gboolean lifecycle_reject_reason_is_known(const char *reason)
{
    return reason && g_strv_contains(reject_reasons, reason);
}

gboolean lifecycle_reject(Store *store, const Lifecycle *lc, gint64 report_id, const char *reason,
                          const char *note, GError **error)
{
    if (!lifecycle_reject_reason_is_known(reason))
        return refuse(error,
                      "unknown reason \"%s\" (incomplete, complaint, out-of-scope, duplicate, "
                      "spam)",
                      reason ? reason : "");
    g_auto(Head) h = {0};
    if (!head_load(store, report_id, &h, error))
        return FALSE;
    static const char *const from[] = {"draft", "incomplete", "returned", NULL};
    if (!require_state(&h, from, "only a draft, an incomplete or a returned report can be rejected",
                       error))
        return FALSE;
    gint64 now = clock_now_unix();
    if (!begin(store, error))
        return FALSE;
    gboolean ok =
        set_state(store, &h, "rejected", now, error) && record_ensure(store, report_id, error);
    if (ok) {
        sqlite3_stmt *stmt = store_statement(
            store, "UPDATE report_lifecycle SET reject_reason = ?2, note = ?3 WHERE report_id = ?1",
            error);
        ok = stmt != NULL;
        if (ok) {
            sqlite3_bind_int64(stmt, 1, report_id);
            sqlite3_bind_text(stmt, 2, reason, -1, SQLITE_TRANSIENT);
            bind_text_or_null(stmt, 3, note && *note ? note : NULL);
            ok = exec_bound(store, stmt, "record rejection", error);
        }
    }
    g_autofree char *detail =
        note && *note ? g_strdup_printf("%s: %s", reason, note) : g_strdup(reason);
    ok = ok && event_add(store, report_id, actor_of(lc), "rejected", detail, error) &&
         deadline_close(store, report_id, "assign", "met", now, error);
    return finish(store, ok, error);
}

gboolean lifecycle_return(Store *store, const Lifecycle *lc, gint64 report_id, const char *note,
                          GError **error)
{
    g_auto(Head) h = {0};
    if (!head_load(store, report_id, &h, error))
        return FALSE;
    static const char *const from[] = {"assigned", "coordinating", "extended", NULL};
    if (!require_state(&h, from, "only a report being processed can be returned", error))
        return FALSE;
    if (is_blank(note))
        return refuse(error, "a return needs --note: why the report is not the agency's "
                             "competence, and whose it is if known (Điều 8.1)");
    gint64 now = clock_now_unix();
    gint64 window = 0;
    if (!deadline_open_due(store, report_id, "return", &window, error))
        return FALSE;
    if (!begin(store, error))
        return FALSE;
    gboolean ok =
        set_state(store, &h, "returned", now, error) && record_ensure(store, report_id, error);
    if (ok) {
        sqlite3_stmt *stmt = store_statement(
            store, "UPDATE report_lifecycle SET note = ?2 WHERE report_id = ?1", error);
        ok = stmt != NULL;
        if (ok) {
            sqlite3_bind_int64(stmt, 1, report_id);
            sqlite3_bind_text(stmt, 2, note, -1, SQLITE_TRANSIENT);
            ok = exec_bound(store, stmt, "record return", error);
        }
    }
    /* a late return is still taken: refusing it would leave the report with an agency that
     * cannot handle it; the event says it was late (Điều 8.1: within 1 working day) */
    g_autofree char *detail = g_strdup_printf(
        "%s%s: %s", h.agency ? h.agency : "?",
        window && now > window ? " (after the 1 working day of Điều 8.1)" : "", note);
    ok = ok && event_add(store, report_id, actor_of(lc), "returned", detail, error) &&
         deadline_close(store, report_id, "return", "met", now, error);
    static const char *const stop[] = {"coordinate", "result", "approve"};
    for (gsize i = 0; ok && i < G_N_ELEMENTS(stop); i++)
        ok = deadline_close(store, report_id, stop[i], "cancelled", now, error);
    /* back in the IOC's queue: assign again within 4 working hours (Phụ lục II, bước 1) */
    ok = ok && deadline_set(store, lc, report_id, "assign",
                            calendar_add_working_hours(lc->calendar, now, LIFECYCLE_ASSIGN_HOURS),
                            now, error);
    return finish(store, ok, error);
}

gboolean lifecycle_extend(Store *store, const Lifecycle *lc, gint64 report_id, gint64 until,
                          const char *note, GError **error)
{
    g_auto(Head) h = {0};
    if (!head_load(store, report_id, &h, error))
        return FALSE;
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(store, report_id, error);
    if (!rec)
        return FALSE;
    if (rec->extended_until || g_str_equal(h.state, "extended")) {
        g_autofree char *old = when(lc, rec->extended_until);
        return refuse(error,
                      "%s was already extended once, to %s: a second extension is not "
                      "allowed (Điều 8.3)",
                      h.code, old);
    }
    static const char *const from[] = {"assigned", "coordinating", NULL};
    if (!require_state(&h, from, "only a report being processed can be extended", error))
        return FALSE;
    if (is_blank(note))
        return refuse(error, "an extension needs --note: why, and the commitment to finish by "
                             "the new date (Điều 8.3)");
    gint64 now = clock_now_unix();
    gint64 due = 0;
    if (!deadline_open_due(store, report_id, "result", &due, error))
        return FALSE;
    g_autofree char *due_text = when(lc, due);
    if (due && now >= due)
        return refuse(error,
                      "%s: the deadline %s has passed: an extension must be asked before "
                      "it (Điều 8.3)",
                      h.code, due_text);
    if (until <= due || until <= now)
        return refuse(error, "%s: the new date must be later than the current deadline %s", h.code,
                      due_text);
    g_autofree char *until_text = when(lc, until);
    if (!begin(store, error))
        return FALSE;
    gboolean ok =
        set_state(store, &h, "extended", now, error) && record_ensure(store, report_id, error);
    if (ok) {
        sqlite3_stmt *stmt = store_statement(store,
                                             "UPDATE report_lifecycle SET extended_until = ?2,"
                                             " extension_note = ?3 WHERE report_id = ?1",
                                             error);
        ok = stmt != NULL;
        if (ok) {
            sqlite3_bind_int64(stmt, 1, report_id);
            sqlite3_bind_int64(stmt, 2, until);
            sqlite3_bind_text(stmt, 3, note, -1, SQLITE_TRANSIENT);
            ok = exec_bound(store, stmt, "record extension", error);
        }
    }
    g_autofree char *detail =
        g_strdup_printf("until %s (was %s): %s", until_text, due ? due_text : "-", note);
    ok = ok && event_add(store, report_id, actor_of(lc), "extended", detail, error) &&
         deadline_set(store, lc, report_id, "result", until, now, error);
    return finish(store, ok, error);
}

/* the state a report returns to when its result is sent back: where the agency works */
static const char *processing_state(const Head *h, const LifecycleRecord *rec, gboolean clarifying)
{
    if (clarifying)
        return "published";
    if (rec->extended_until)
        return "extended";
    if (h->coordinators && *h->coordinators)
        return "coordinating";
    return "assigned";
}

gboolean lifecycle_submit_result(Store *store, const Lifecycle *lc, gint64 report_id,
                                 const char *text, GError **error)
{
    g_autofree char *nfc = text_nfc(text ? text : "");
    if (!nfc) {
        g_set_error_literal(error, PAHT_ERROR, PAHT_ERROR_INPUT,
                            "the result is not UTF-8 text: save it as UTF-8 and try again");
        return FALSE;
    }
    g_strchomp(nfc);
    g_auto(Head) h = {0};
    if (!head_load(store, report_id, &h, error))
        return FALSE;
    gint64 clarify = 0;
    if (!deadline_open_due(store, report_id, "clarify", &clarify, error))
        return FALSE;
    static const char *const from[] = {"assigned", "coordinating", "extended", "result_submitted",
                                       NULL};
    static const char *const after[] = {"published", "closed", NULL};
    if (!state_in(h.state, from) && !(clarify && state_in(h.state, after)))
        return refuse(error,
                      "%s is %s: a result is submitted while the report is being "
                      "processed, or to clarify after the citizen's feedback",
                      h.code, h.state);
    gint64 now = clock_now_unix();
    if (!begin(store, error))
        return FALSE;
    gboolean ok = set_state(store, &h, "result_submitted", now, error) &&
                  record_ensure(store, report_id, error);
    if (ok) {
        sqlite3_stmt *stmt = store_statement(store,
                                             "UPDATE report_lifecycle SET result_text = ?2,"
                                             " result_by = ?3, result_at = ?4, approved_by = NULL,"
                                             " approved_at = NULL, letter_number = NULL"
                                             " WHERE report_id = ?1",
                                             error);
        ok = stmt != NULL;
        if (ok) {
            sqlite3_bind_int64(stmt, 1, report_id);
            sqlite3_bind_text(stmt, 2, nfc, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(stmt, 3, actor_of(lc), -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(stmt, 4, now);
            ok = exec_bound(store, stmt, "record result", error);
        }
    }
    g_autofree char *detail =
        is_blank(nfc) ? g_strdup("no answer text")
                      : g_strdup_printf("%ld characters%s", g_utf8_strlen(nfc, -1),
                                        clarify ? ", clarifying the citizen's feedback" : "");
    ok = ok && event_add(store, report_id, actor_of(lc), "result_submitted", detail, error) &&
         deadline_close(store, report_id, "coordinate", "met", now, error) &&
         deadline_set(store, lc, report_id, "approve",
                      calendar_add_working_days(lc->calendar, now, LIFECYCLE_APPROVE_DAYS), now,
                      error);
    return finish(store, ok, error);
}

static gboolean next_letter_number(Store *store, const char *agency, int year, char **out,
                                   GError **error)
{
    g_autofree char *upper = g_ascii_strup(agency ? agency : "CQ", -1);
    g_autofree char *prefix = g_strdup_printf("KQ-%s", upper);
    gint64 last = 0;
    if (!store_sequence_next(store, prefix, year, &last, error))
        return FALSE;
    *out = g_strdup_printf("%" G_GINT64_FORMAT "/%s", last, prefix);
    return TRUE;
}

gboolean lifecycle_approve(Store *store, const Lifecycle *lc, gint64 report_id, GError **error)
{
    g_auto(Head) h = {0};
    if (!head_load(store, report_id, &h, error))
        return FALSE;
    if (!g_str_equal(h.state, "result_submitted"))
        return refuse(error, "%s is %s: only a submitted result can be approved", h.code, h.state);
    gint64 now = clock_now_unix();
    if (!begin(store, error))
        return FALSE;
    gboolean ok =
        set_state(store, &h, "approved", now, error) && record_ensure(store, report_id, error);
    if (ok) {
        sqlite3_stmt *stmt = store_statement(store,
                                             "UPDATE report_lifecycle SET approved_by = ?2,"
                                             " approved_at = ?3 WHERE report_id = ?1",
                                             error);
        ok = stmt != NULL;
        if (ok) {
            sqlite3_bind_int64(stmt, 1, report_id);
            sqlite3_bind_text(stmt, 2, actor_of(lc), -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(stmt, 3, now);
            ok = exec_bound(store, stmt, "record approval", error);
        }
    }
    /* Điều 8.5: the leader's approval ends the processing time */
    ok = ok && event_add(store, report_id, actor_of(lc), "approved", NULL, error) &&
         deadline_close(store, report_id, "approve", "met", now, error) &&
         deadline_close(store, report_id, "result", "met", now, error) &&
         deadline_close(store, report_id, "clarify", "met", now, error) &&
         deadline_set(store, lc, report_id, "publish",
                      calendar_add_working_hours(lc->calendar, now, LIFECYCLE_PUBLISH_HOURS), now,
                      error);
    return finish(store, ok, error);
}

gboolean lifecycle_publish(Store *store, const Lifecycle *lc, gint64 report_id, gboolean *sent_back,
                           GError **error)
{
    if (sent_back)
        *sent_back = FALSE;
    g_auto(Head) h = {0};
    if (!head_load(store, report_id, &h, error))
        return FALSE;
    if (!g_str_equal(h.state, "approved"))
        return refuse(error, "%s is %s: only an approved result can be published", h.code, h.state);
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(store, report_id, error);
    if (!rec)
        return FALSE;
    gint64 now = clock_now_unix();
    /* a clarification round: the report was published before and has feedback */
    gboolean clarifying = rec->publications > 0 && rec->feedback_at > 0;
    if (!begin(store, error))
        return FALSE;
    gboolean ok;
    if (is_blank(rec->result_text)) {
        /* Điều 9.4: a result without answer text goes back to the agency's leader */
        const char *back = processing_state(&h, rec, clarifying);
        ok = set_state(store, &h, back, now, error) &&
             event_add(store, report_id, actor_of(lc), "sent_back", "no answer text (Điều 9.4)",
                       error) &&
             deadline_close(store, report_id, "publish", "met", now, error) &&
             deadline_reopen(store, lc, report_id, clarifying ? "clarify" : "result", now, error);
        if (ok) {
            sqlite3_stmt *stmt = store_statement(store,
                                                 "UPDATE report_lifecycle SET approved_by = NULL,"
                                                 " approved_at = NULL, letter_number = NULL"
                                                 " WHERE report_id = ?1",
                                                 error);
            ok = stmt != NULL;
            if (ok) {
                sqlite3_bind_int64(stmt, 1, report_id);
                ok = exec_bound(store, stmt, "record sending back", error);
            }
        }
        if (ok && sent_back)
            *sent_back = TRUE;
        return finish(store, ok, error);
    }
    const char *to = rec->rating ? "closed" : "published";
    /* the Phụ lục I letter is numbered when it is issued, as a văn thư numbers a signed
     * document on the day it goes out: a result sent back never uses up a number */
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(now);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, calendar_zone(lc->calendar));
    g_autofree char *number = NULL;
    ok = set_state(store, &h, to, now, error) &&
         next_letter_number(store, h.agency, g_date_time_get_year(local), &number, error);
    if (ok) {
        sqlite3_stmt *stmt = store_statement(store,
                                             "UPDATE report_lifecycle SET published_at = ?2,"
                                             " publications = publications + 1,"
                                             " letter_number = ?3 WHERE report_id = ?1",
                                             error);
        ok = stmt != NULL;
        if (ok) {
            sqlite3_bind_int64(stmt, 1, report_id);
            sqlite3_bind_int64(stmt, 2, now);
            sqlite3_bind_text(stmt, 3, number, -1, SQLITE_TRANSIENT);
            ok = exec_bound(store, stmt, "record publication", error);
        }
    }
    /* Điều 9.3.b: a confidential report's result goes to its citizen only */
    g_autofree char *detail =
        g_strdup_printf("letter %s %s", number ? number : "?",
                        h.confidential ? "to the citizen only, not for publication (Điều 9.3.b)"
                                       : "to the citizen and for publication (Điều 9.3.a)");
    ok = ok && event_add(store, report_id, actor_of(lc), "published", detail, error) &&
         deadline_close(store, report_id, "publish", "met", now, error);
    return finish(store, ok, error);
}

/* ---- the citizen's turn (Điều 10) -------------------------------------------------------------
 */

CitizenRating lifecycle_parse_rating(const char *text, char **rest)
{
    if (rest)
        *rest = NULL;
    if (!text)
        return CITIZEN_RATING_NONE;
    const char *p = text;
    /* the first non-empty line */
    for (;;) {
        const char *end = strchr(p, '\n');
        g_autofree char *line = end ? g_strndup(p, (gsize)(end - p)) : g_strdup(p);
        if (!is_blank(line) || !end) {
            /* the whole line must be a rating, so that "không hài lòng" is never read as
             * "hài lòng", and feedback that mentions "hài lòng" is never read as a rating */
            g_autofree char *words = text_fold_words(line);
            static const struct {
                const char *words;
                CitizenRating rating;
            } forms[] = {
                {"1", CITIZEN_RATING_VERY_SATISFIED},
                {"rat hai long", CITIZEN_RATING_VERY_SATISFIED},
                {"1 rat hai long", CITIZEN_RATING_VERY_SATISFIED},
                {"2", CITIZEN_RATING_SATISFIED},
                {"hai long", CITIZEN_RATING_SATISFIED},
                {"2 hai long", CITIZEN_RATING_SATISFIED},
                {"3", CITIZEN_RATING_DISSATISFIED},
                {"khong hai long", CITIZEN_RATING_DISSATISFIED},
                {"3 khong hai long", CITIZEN_RATING_DISSATISFIED},
            };
            for (gsize i = 0; words && i < G_N_ELEMENTS(forms); i++) {
                if (g_str_equal(words, forms[i].words)) {
                    if (rest && end) {
                        char *after = g_strstrip(g_strdup(end + 1));
                        if (*after)
                            *rest = after;
                        else
                            g_free(after);
                    }
                    return forms[i].rating;
                }
            }
            return CITIZEN_RATING_NONE;
        }
        p = end + 1;
    }
}

static const char *rating_name(CitizenRating r)
{
    switch (r) {
    case CITIZEN_RATING_VERY_SATISFIED:
        return "Rất hài lòng";
    case CITIZEN_RATING_SATISFIED:
        return "Hài lòng";
    case CITIZEN_RATING_DISSATISFIED:
        return "Không hài lòng";
    default:
        return "";
    }
}

/* the rating, recorded once (Điều 10.3); rated and nothing left to clarify: closed */
static gboolean record_rating(Store *store, Head *h, const LifecycleRecord *rec,
                              CitizenRating rating, gboolean closes, CitizenReply *result,
                              GError **error)
{
    if (rec->rating) {
        result->already_rated = TRUE;
        return TRUE;
    }
    gint64 now = clock_now_unix();
    sqlite3_stmt *stmt = store_statement(
        store, "UPDATE report_lifecycle SET rating = ?2, rated_at = ?3 WHERE report_id = ?1",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, h->id);
    sqlite3_bind_int(stmt, 2, (int)rating);
    sqlite3_bind_int64(stmt, 3, now);
    if (!exec_bound(store, stmt, "record rating", error))
        return FALSE;
    g_autofree char *detail = g_strdup_printf("%d (%s)", (int)rating, rating_name(rating));
    if (!event_add(store, h->id, "citizen", "rated", detail, error))
        return FALSE;
    result->rated = rating;
    if (!closes || !g_str_equal(h->state, "published"))
        return TRUE;
    if (!set_state(store, h, "closed", now, error))
        return FALSE;
    g_free(h->state);
    h->state = g_strdup("closed");
    return TRUE;
}

/* feedback (Điều 10.1): recorded, the report back with the agency for 2 working days */
static gboolean record_feedback(Store *store, const Lifecycle *lc, const Head *h,
                                const char *feedback, GError **error)
{
    gint64 now = clock_now_unix();
    sqlite3_stmt *stmt = store_statement(store,
                                         "UPDATE report_lifecycle SET feedback_text = ?2,"
                                         " feedback_at = ?3 WHERE report_id = ?1",
                                         error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, h->id);
    sqlite3_bind_text(stmt, 2, feedback, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 3, now);
    if (!exec_bound(store, stmt, "record feedback", error))
        return FALSE;
    /* the text itself stays in report_lifecycle: events are shown in listings */
    g_autofree char *detail =
        g_strdup_printf("%ld characters; to clarify within %d working days (Điều 10.2)",
                        g_utf8_strlen(feedback, -1), LIFECYCLE_CLARIFY_DAYS);
    if (!event_add(store, h->id, "citizen", "feedback", detail, error))
        return FALSE;
    if (g_str_equal(h->state, "closed") && !set_state(store, h, "published", now, error))
        return FALSE;
    return deadline_set(store, lc, h->id, "clarify",
                        calendar_add_working_days(lc->calendar, now, LIFECYCLE_CLARIFY_DAYS), now,
                        error);
}

/* In the write transaction: what was recorded before is read there too, so that two ratings
 * arriving at once (two processes) cannot both find the report unrated (issue 11). */
static gboolean citizen_reply_locked(Store *store, gint64 report_id, const char *nfc,
                                     const Lifecycle *lc, CitizenReply *result, GError **error)
{
    g_auto(Head) h = {0};
    if (!head_load(store, report_id, &h, error))
        return FALSE;
    static const char *const published[] = {"published", "closed", NULL};
    if (!require_state(&h, published, "feedback and ratings answer a published result (Điều 10)",
                       error))
        return FALSE;
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(store, report_id, error);
    if (!rec)
        return FALSE;
    g_autofree char *rest = NULL;
    CitizenRating rating = lifecycle_parse_rating(nfc, &rest);
    const char *feedback = rating ? rest : nfc;
    gint64 clarify = 0;
    if (!deadline_open_due(store, report_id, "clarify", &clarify, error))
        return FALSE;
    if (rating && !record_rating(store, &h, rec, rating, !clarify && !feedback, result, error))
        return FALSE;
    if (feedback && !is_blank(feedback)) {
        result->feedback = TRUE;
        return record_feedback(store, lc, &h, feedback, error);
    }
    return TRUE;
}

gboolean lifecycle_citizen_reply(Store *store, gint64 report_id, const char *text,
                                 const Lifecycle *lc, CitizenReply *outcome, GError **error)
{
    CitizenReply result = {0};
    if (outcome)
        *outcome = result;
    g_autofree char *nfc = text_nfc(text ? text : "");
    if (!nfc || is_blank(nfc)) {
        g_set_error_literal(error, PAHT_ERROR, PAHT_ERROR_INPUT, "the reply has no text");
        return FALSE;
    }
    if (!begin(store, error))
        return FALSE;
    gboolean ok = citizen_reply_locked(store, report_id, nfc, lc, &result, error);
    if (!finish(store, ok, error))
        return FALSE;
    if (outcome)
        *outcome = result;
    return TRUE;
}

/* ---- statistics (Điều 11.6, 11.8) --------------------------------------------------------------
 */

static gint64 local_midnight(GTimeZone *zone, int year, int month, int day)
{
    g_autoptr(GDateTime) dt = g_date_time_new(zone, year, month, day, 0, 0, 0);
    return dt ? g_date_time_to_unix(dt) : 0;
}

gboolean stats_period_parse(const char *text, GTimeZone *zone, gint64 *from, gint64 *to, char **why)
{
    int year = 0, n = 0;
    char tail = 0;
    /* the period ends on the 14th of its last month; it starts on the 15th of the month
     * before its first month (Decree 09/2019/NĐ-CP Art. 12) */
    int first_month = 0, last_month = 0;
    if (text && sscanf(text, "month:%4d-%2d%c", &year, &n, &tail) == 2 && n >= 1 && n <= 12) {
        first_month = last_month = n;
    } else if (text && sscanf(text, "quarter:%4d-Q%1d%c", &year, &n, &tail) == 2 && n >= 1 &&
               n <= 4) {
        first_month = 3 * n - 2;
        last_month = 3 * n;
    } else if (text && sscanf(text, "half:%4d-H%1d%c", &year, &n, &tail) == 2 && n >= 1 && n <= 2) {
        first_month = 6 * n - 5;
        last_month = 6 * n;
    } else if (text && sscanf(text, "year:%4d%c", &year, &tail) == 1) {
        first_month = 1;
        last_month = 12;
    } else {
        *why = g_strdup_printf("\"%s\" is not a period: month:YYYY-MM, quarter:YYYY-Qn, "
                               "half:YYYY-Hn or year:YYYY",
                               text ? text : "");
        return FALSE;
    }
    if (year < 2000 || year > 9998) {
        *why = g_strdup_printf("year %d is out of range", year);
        return FALSE;
    }
    int start_year = first_month == 1 ? year - 1 : year;
    int start_month = first_month == 1 ? 12 : first_month - 1;
    *from = local_midnight(zone, start_year, start_month, 15);
    *to = local_midnight(zone, year, last_month, 15);
    return *from > 0 && *to > *from;
}

void stats_line_free(StatsLine *line)
{
    if (!line)
        return;
    g_free(line->agency);
    g_free(line);
}

static void stats_count(StatsLine *line, const char *state, gboolean overdue, int rating)
{
    line->received++;
    gboolean answered = g_str_equal(state, "published") || g_str_equal(state, "closed");
    if (g_str_equal(state, "rejected"))
        line->rejected++;
    else if (answered)
        line->answered++;
    else
        line->in_progress++;
    if (answered && !overdue)
        line->on_time++;
    if (overdue)
        line->overdue++;
    if (rating >= 1 && rating <= 3)
        line->ratings[rating]++;
}

/* the total (no agency) first, then the agencies by code */
static int compare_lines(gconstpointer a, gconstpointer b)
{
    const StatsLine *x = *(StatsLine *const *)a;
    const StatsLine *y = *(StatsLine *const *)b;
    if (!x->agency || !y->agency)
        return x->agency ? 1 : (y->agency ? -1 : 0);
    return strcmp(x->agency, y->agency);
}

GPtrArray *lifecycle_stats(Store *store, gint64 from, gint64 to, GError **error)
{
    /* through report_received: the cost follows the period, not the whole history */
    sqlite3_stmt *stmt =
        store_statement(store,
                        "SELECT r.state, r.overdue, r.agency, coalesce(l.rating, 0) FROM report r"
                        " LEFT JOIN report_lifecycle l ON l.report_id = r.id"
                        " WHERE r.received_at >= ?1 AND r.received_at < ?2"
                        " AND r.classification NOT IN ('auto', 'bounce', 'reply')",
                        error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, from);
    sqlite3_bind_int64(stmt, 2, to);
    GPtrArray *lines = g_ptr_array_new_with_free_func((GDestroyNotify)stats_line_free);
    g_ptr_array_add(lines, g_new0(StatsLine, 1));
    g_autoptr(GHashTable) by_agency = g_hash_table_new(g_str_hash, g_str_equal);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(stmt, 0);
        gboolean overdue = sqlite3_column_int(stmt, 1) != 0;
        const char *agency = (const char *)sqlite3_column_text(stmt, 2);
        int rating = sqlite3_column_int(stmt, 3);
        stats_count(g_ptr_array_index(lines, 0), state ? state : "", overdue, rating);
        if (!agency || !*agency)
            continue;
        StatsLine *line = g_hash_table_lookup(by_agency, agency);
        if (!line) {
            line = g_new0(StatsLine, 1);
            line->agency = g_strdup(agency);
            g_ptr_array_add(lines, line);
            g_hash_table_insert(by_agency, line->agency, line);
        }
        stats_count(line, state ? state : "", overdue, rating);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        g_ptr_array_unref(lines);
        store_fail(store, error, "count reports");
        return NULL;
    }
    g_ptr_array_sort(lines, compare_lines);
    return lines;
}
