/* The report's lifecycle (SPEC §4): its transitions (the deadlines they open and close are
 * deadlines.c's, SPEC §5).
 *
 *   draft -> (incomplete <-> draft) -> accepted -> assigned -> [coordinating] -> result_submitted
 *         -> approved -> published -> closed;   side states rejected, returned, extended;
 *   the flag overdue.
 *
 * Every transition here: one savepoint, a check of the current state (the UPDATE names the
 * state it expects, so two operators acting at once cannot both win), an event row, and the
 * deadlines it opens or closes. The letters are letters/lifecycle_letters.c's: it calls these
 * inside its own transaction and enqueues in the same one. */
#include "lifecycle/lifecycle_private.h"
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
    if (sqlite3_changes(store_connection(store)) != 1)
        return refuse(error, "%s changed state meanwhile (it was %s): look again", h->code,
                      h->state);
    return TRUE;
}

static const char *actor_of(const Lifecycle *lc)
{
    return lc->actor && *lc->actor ? lc->actor : "pahtctl";
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
    return lifecycle_exec_bound(store, stmt, "create lifecycle", error);
}

/* ---- the skeleton of every transition -----------------------------------------------------------
 * Before the transaction: the report's head, refused unless its state allows the transition
 * (transition_load). Then the transaction, opened with the state changed and the lifecycle
 * record written (transition_begin), the transition's own events and deadlines, and
 * lifecycle_finish. */

static gboolean transition_load(Store *store, gint64 report_id, const char *const *from,
                                const char *only, Head *out, GError **error)
{
    return lifecycle_head_load(store, report_id, out, error) &&
           require_state(out, from, only, error);
}

/* Runs sql on one report: ?1 its id, ?2... the values that follow, each of the type its letter
 * in types says: 'i' a gint64, 't' a text, 'n' a text or NULL. what names it in an error. */
static gboolean run_on_report_v(Store *store, gint64 report_id, GError **error, const char *what,
                                const char *sql, const char *types, va_list ap)
{
    sqlite3_stmt *stmt = store_statement(store, sql, error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    for (int i = 0; types[i]; i++) {
        if (types[i] == 'i')
            sqlite3_bind_int64(stmt, i + 2, va_arg(ap, gint64));
        else if (types[i] == 't')
            sqlite3_bind_text(stmt, i + 2, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
        else
            bind_text_or_null(stmt, i + 2, va_arg(ap, const char *));
    }
    return lifecycle_exec_bound(store, stmt, what, error);
}

static gboolean run_on_report(Store *store, gint64 report_id, GError **error, const char *what,
                              const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    gboolean ok = run_on_report_v(store, report_id, error, what, sql, types, ap);
    va_end(ap);
    return ok;
}

/* Opens the transition's transaction (a savepoint in the caller's) and, in it, moves the report
 * from h->state to to (PAHT_ERROR_REFUSED when someone moved it meanwhile), makes its lifecycle
 * record when it has none and runs sql on that record as run_on_report does. On failure the
 * transaction is rolled back; on success the caller ends it with lifecycle_finish. */
static gboolean transition_begin(Store *store, const Head *h, const char *to, gint64 now,
                                 GError **error, const char *what, const char *sql,
                                 const char *types, ...)
{
    if (!store_begin(store, error))
        return FALSE;
    va_list ap;
    va_start(ap, types);
    gboolean ok = set_state(store, h, to, now, error) && record_ensure(store, h->id, error) &&
                  run_on_report_v(store, h->id, error, what, sql, types, ap);
    va_end(ap);
    if (!ok)
        store_rollback(store);
    return ok;
}

/* ---- transitions --------------------------------------------------------------------------------
 */

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

/* Issue 15: with a categories file, a category is one of its codes (an Open311 service_code:
 * a report filed under another would be missing from the province's portal); without one,
 * the IOC's own words as before */
gboolean lifecycle_category_code(const Config *config, const char *given, const char **code,
                                 GError **error)
{
    *code = given && *given ? given : NULL;
    if (!*code || !config->categories || config->categories->len == 0)
        return TRUE;
    const Category *c = config_find_category(config, given);
    if (c) {
        *code = c->code;
        return TRUE;
    }
    GString *known = g_string_new(NULL);
    for (guint i = 0; i < config->categories->len; i++) {
        const Category *k = g_ptr_array_index(config->categories, i);
        g_string_append_printf(known, "%s%s", i ? ", " : "", k->code);
    }
    g_autofree char *list = g_string_free(known, FALSE);
    return refuse(error, "unknown category \"%s\" (the categories file knows: %s)", given, list);
}

gboolean lifecycle_accept(Store *store, const Lifecycle *lc, gint64 report_id, const char *agency,
                          const char *const *coordinators, const char *given_category,
                          GError **error)
{
    const char *category = NULL;
    if (!lifecycle_category_code(lc->config, given_category, &category, error))
        return FALSE;
    /* an incomplete draft may be accepted: the IOC verifies the report (Điều 7.1) and may have
     * the missing details by phone, or find them in the text where the parser did not; the
     * event records what the parser found missing */
    static const char *const from[] = {"draft", "incomplete", "returned", NULL};
    g_auto(Head) h = {0};
    if (!transition_load(store, report_id, from,
                         "only a draft, an incomplete draft or a returned report can be accepted",
                         &h, error))
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

    /* a new assignment starts a new processing: a former agency's extension, result and
     * letter number do not carry over */
    if (!transition_begin(store, &h, to, now, error, "record assignment",
                          "UPDATE report_lifecycle SET category = coalesce(?2, category),"
                          " assigned_at = ?3, extended_until = NULL, extension_note = NULL,"
                          " result_text = NULL, result_by = NULL, result_at = NULL,"
                          " approved_by = NULL, approved_at = NULL, letter_number = NULL"
                          " WHERE report_id = ?1",
                          "ni", category && *category ? category : NULL, now))
        return FALSE;
    gboolean ok = run_on_report(store, report_id, error, "assign report",
                                "UPDATE report SET agency = ?2, coordinators = ?3 WHERE id = ?1",
                                "tt", main_agency->code, coordinator_list);
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
    return lifecycle_finish(store, ok, error);
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
    static const char *const from[] = {"draft", "incomplete", "returned", NULL};
    g_auto(Head) h = {0};
    if (!transition_load(store, report_id, from,
                         "only a draft, an incomplete or a returned report can be rejected", &h,
                         error))
        return FALSE;
    gint64 now = clock_now_unix();
    if (!transition_begin(
            store, &h, "rejected", now, error, "record rejection",
            "UPDATE report_lifecycle SET reject_reason = ?2, note = ?3 WHERE report_id = ?1", "tn",
            reason, note && *note ? note : NULL))
        return FALSE;
    g_autofree char *detail =
        note && *note ? g_strdup_printf("%s: %s", reason, note) : g_strdup(reason);
    gboolean ok = event_add(store, report_id, actor_of(lc), "rejected", detail, error) &&
                  deadline_close(store, report_id, "assign", "met", now, error);
    return lifecycle_finish(store, ok, error);
}

gboolean lifecycle_return(Store *store, const Lifecycle *lc, gint64 report_id, const char *note,
                          GError **error)
{
    static const char *const from[] = {"assigned", "coordinating", "extended", NULL};
    g_auto(Head) h = {0};
    if (!transition_load(store, report_id, from, "only a report being processed can be returned",
                         &h, error))
        return FALSE;
    if (is_blank(note))
        return refuse(error, "a return needs --note: why the report is not the agency's "
                             "competence, and whose it is if known (Điều 8.1)");
    gint64 now = clock_now_unix();
    gint64 window = 0;
    if (!deadline_open_due(store, report_id, "return", &window, error))
        return FALSE;
    if (!transition_begin(store, &h, "returned", now, error, "record return",
                          "UPDATE report_lifecycle SET note = ?2 WHERE report_id = ?1", "t", note))
        return FALSE;
    /* a late return is still taken: refusing it would leave the report with an agency that
     * cannot handle it; the event says it was late (Điều 8.1: within 1 working day) */
    g_autofree char *detail = g_strdup_printf(
        "%s%s: %s", h.agency ? h.agency : "?",
        window && now > window ? " (after the 1 working day of Điều 8.1)" : "", note);
    gboolean ok = event_add(store, report_id, actor_of(lc), "returned", detail, error) &&
                  deadline_close(store, report_id, "return", "met", now, error);
    static const char *const stop[] = {"coordinate", "result", "approve"};
    for (gsize i = 0; ok && i < G_N_ELEMENTS(stop); i++)
        ok = deadline_close(store, report_id, stop[i], "cancelled", now, error);
    /* back in the IOC's queue: assign again within 4 working hours (Phụ lục II, bước 1) */
    ok = ok && deadline_set(store, lc, report_id, "assign",
                            calendar_add_working_hours(lc->calendar, now, LIFECYCLE_ASSIGN_HOURS),
                            now, error);
    return lifecycle_finish(store, ok, error);
}

gboolean lifecycle_extend(Store *store, const Lifecycle *lc, gint64 report_id, gint64 until,
                          const char *note, GError **error)
{
    g_auto(Head) h = {0};
    if (!lifecycle_head_load(store, report_id, &h, error))
        return FALSE;
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(store, report_id, error);
    if (!rec)
        return FALSE;
    if (rec->extended_until || g_str_equal(h.state, "extended")) {
        g_autofree char *old = lifecycle_time_text(lc, rec->extended_until);
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
    g_autofree char *due_text = lifecycle_time_text(lc, due);
    if (due && now >= due)
        return refuse(error,
                      "%s: the deadline %s has passed: an extension must be asked before "
                      "it (Điều 8.3)",
                      h.code, due_text);
    if (until <= due || until <= now)
        return refuse(error, "%s: the new date must be later than the current deadline %s", h.code,
                      due_text);
    g_autofree char *until_text = lifecycle_time_text(lc, until);
    if (!transition_begin(store, &h, "extended", now, error, "record extension",
                          "UPDATE report_lifecycle SET extended_until = ?2,"
                          " extension_note = ?3 WHERE report_id = ?1",
                          "it", until, note))
        return FALSE;
    g_autofree char *detail =
        g_strdup_printf("until %s (was %s): %s", until_text, due ? due_text : "-", note);
    gboolean ok = event_add(store, report_id, actor_of(lc), "extended", detail, error) &&
                  deadline_set(store, lc, report_id, "result", until, now, error);
    return lifecycle_finish(store, ok, error);
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
    if (!lifecycle_head_load(store, report_id, &h, error))
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
    if (!transition_begin(store, &h, "result_submitted", now, error, "record result",
                          "UPDATE report_lifecycle SET result_text = ?2, result_by = ?3,"
                          " result_at = ?4, approved_by = NULL, approved_at = NULL,"
                          " letter_number = NULL WHERE report_id = ?1",
                          "tti", nfc, actor_of(lc), now))
        return FALSE;
    g_autofree char *detail =
        is_blank(nfc) ? g_strdup("no answer text")
                      : g_strdup_printf("%ld characters%s", g_utf8_strlen(nfc, -1),
                                        clarify ? ", clarifying the citizen's feedback" : "");
    gboolean ok = event_add(store, report_id, actor_of(lc), "result_submitted", detail, error) &&
                  deadline_close(store, report_id, "coordinate", "met", now, error) &&
                  deadline_set(store, lc, report_id, "approve",
                               calendar_add_working_days(lc->calendar, now, LIFECYCLE_APPROVE_DAYS),
                               now, error);
    return lifecycle_finish(store, ok, error);
}

gboolean lifecycle_send_back(Store *store, const Lifecycle *lc, gint64 report_id,
                             const char *reason, GError **error)
{
    static const char *const from[] = {"result_submitted", NULL};
    g_auto(Head) h = {0};
    if (!transition_load(store, report_id, from,
                         "only a submitted result can be sent back by the leader", &h, error))
        return FALSE;
    if (is_blank(reason))
        return refuse(error, "sending a result back needs a reason: what the agency must do "
                             "again (Điều 8.4)");
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(store, report_id, error);
    if (!rec)
        return FALSE;
    gint64 clarify = 0;
    if (!deadline_open_due(store, report_id, "clarify", &clarify, error))
        return FALSE;
    gint64 now = clock_now_unix();
    /* Điều 8.4: the leader approves or not; the processing deadline ("result", or "clarify")
     * runs on, as it did while the result waited */
    const char *back = processing_state(&h, rec, clarify > 0);
    if (!transition_begin(store, &h, back, now, error, "record sending back",
                          "UPDATE report_lifecycle SET approved_by = NULL, approved_at = NULL"
                          " WHERE report_id = ?1",
                          ""))
        return FALSE;
    gboolean ok = event_add(store, report_id, actor_of(lc), "sent_back_to_agency", reason, error) &&
                  deadline_close(store, report_id, "approve", "met", now, error);
    return lifecycle_finish(store, ok, error);
}

/* the coordinating agencies that gave their opinion (events "opinion", "CODE: text") */
static gboolean opinions_complete(Store *store, const Head *h, gboolean *complete, GError **error)
{
    *complete = FALSE;
    sqlite3_stmt *stmt = store_statement(
        store, "SELECT detail FROM event WHERE report_id = ? AND kind = 'opinion'", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, h->id);
    g_autoptr(GHashTable) given = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(stmt, 0);
        const char *colon = detail ? strchr(detail, ':') : NULL;
        if (colon)
            g_hash_table_add(given, g_strndup(detail, (gsize)(colon - detail)));
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "read the opinions");
    g_auto(GStrv) codes = g_strsplit(h->coordinators ? h->coordinators : "", ",", -1);
    *complete = codes[0] != NULL;
    for (char **c = codes; *c; c++)
        *complete = *complete && g_hash_table_contains(given, *c);
    return TRUE;
}

gboolean lifecycle_record_opinion(Store *store, const Lifecycle *lc, gint64 report_id,
                                  const char *agency, const char *text, GError **error)
{
    static const char *const from[] = {"coordinating", "extended", NULL};
    g_auto(Head) h = {0};
    if (!transition_load(store, report_id, from,
                         "a coordinating agency's opinion is for a report being processed "
                         "with coordination (Điều 8.2)",
                         &h, error))
        return FALSE;
    g_auto(GStrv) codes = g_strsplit(h.coordinators ? h.coordinators : "", ",", -1);
    if (!agency || !g_strv_contains((const char *const *)codes, agency))
        return refuse(error, "%s: %s is not one of its coordinating agencies (Điều 8.2)", h.code,
                      agency ? agency : "?");
    g_autofree char *nfc = text_nfc(text ? text : "");
    if (!nfc) {
        g_set_error_literal(error, PAHT_ERROR, PAHT_ERROR_INPUT, "the opinion is not UTF-8 text");
        return FALSE;
    }
    g_strchomp(nfc);
    if (!store_begin(store, error))
        return FALSE;
    gint64 now = clock_now_unix();
    g_autofree char *detail = g_strdup_printf("%s: %s", agency, is_blank(nfc) ? "" : nfc);
    gboolean complete = FALSE;
    /* the report's state does not change: the main agency answers (Điều 8.2) */
    gboolean ok = event_add(store, report_id, actor_of(lc), "opinion", detail, error) &&
                  opinions_complete(store, &h, &complete, error);
    if (ok && complete)
        ok = deadline_close(store, report_id, "coordinate", "met", now, error);
    return lifecycle_finish(store, ok, error);
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
    static const char *const from[] = {"result_submitted", NULL};
    g_auto(Head) h = {0};
    if (!transition_load(store, report_id, from, "only a submitted result can be approved", &h,
                         error))
        return FALSE;
    gint64 now = clock_now_unix();
    if (!transition_begin(
            store, &h, "approved", now, error, "record approval",
            "UPDATE report_lifecycle SET approved_by = ?2, approved_at = ?3 WHERE report_id = ?1",
            "ti", actor_of(lc), now))
        return FALSE;
    /* Điều 8.5: the leader's approval ends the processing time */
    gboolean ok =
        event_add(store, report_id, actor_of(lc), "approved", NULL, error) &&
        deadline_close(store, report_id, "approve", "met", now, error) &&
        deadline_close(store, report_id, "result", "met", now, error) &&
        deadline_close(store, report_id, "clarify", "met", now, error) &&
        deadline_set(store, lc, report_id, "publish",
                     calendar_add_working_hours(lc->calendar, now, LIFECYCLE_PUBLISH_HOURS), now,
                     error);
    return lifecycle_finish(store, ok, error);
}

gboolean lifecycle_publish(Store *store, const Lifecycle *lc, gint64 report_id, gboolean *sent_back,
                           GError **error)
{
    if (sent_back)
        *sent_back = FALSE;
    static const char *const from[] = {"approved", NULL};
    g_auto(Head) h = {0};
    if (!transition_load(store, report_id, from, "only an approved result can be published", &h,
                         error))
        return FALSE;
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(store, report_id, error);
    if (!rec)
        return FALSE;
    gint64 now = clock_now_unix();
    /* a clarification round: the report was published before and has feedback */
    gboolean clarifying = rec->publications > 0 && rec->feedback_at > 0;
    if (is_blank(rec->result_text)) {
        /* Điều 9.4: a result without answer text goes back to the agency's leader */
        const char *back = processing_state(&h, rec, clarifying);
        if (!transition_begin(store, &h, back, now, error, "record sending back",
                              "UPDATE report_lifecycle SET approved_by = NULL,"
                              " approved_at = NULL, letter_number = NULL WHERE report_id = ?1",
                              ""))
            return FALSE;
        gboolean ok =
            event_add(store, report_id, actor_of(lc), "sent_back", "no answer text (Điều 9.4)",
                      error) &&
            deadline_close(store, report_id, "publish", "met", now, error) &&
            deadline_reopen(store, lc, report_id, clarifying ? "clarify" : "result", now, error);
        if (ok && sent_back)
            *sent_back = TRUE;
        return lifecycle_finish(store, ok, error);
    }
    const char *to = rec->rating ? "closed" : "published";
    /* the Phụ lục I letter is numbered when it is issued, as a văn thư numbers a signed
     * document on the day it goes out: a result sent back never uses up a number */
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(now);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, calendar_zone(lc->calendar));
    if (!transition_begin(store, &h, to, now, error, "record publication",
                          "UPDATE report_lifecycle SET published_at = ?2,"
                          " publications = publications + 1 WHERE report_id = ?1",
                          "i", now))
        return FALSE;
    g_autofree char *number = NULL;
    gboolean ok =
        next_letter_number(store, h.agency, g_date_time_get_year(local), &number, error) &&
        run_on_report(store, report_id, error, "number the result letter",
                      "UPDATE report_lifecycle SET letter_number = ?2 WHERE report_id = ?1", "t",
                      number);
    /* Điều 9.3.b: a confidential report's result goes to its citizen only */
    g_autofree char *detail =
        g_strdup_printf("letter %s %s", number ? number : "?",
                        h.confidential ? "to the citizen only, not for publication (Điều 9.3.b)"
                                       : "to the citizen and for publication (Điều 9.3.a)");
    ok = ok && event_add(store, report_id, actor_of(lc), "published", detail, error) &&
         deadline_close(store, report_id, "publish", "met", now, error);
    return lifecycle_finish(store, ok, error);
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
    if (!run_on_report(
            store, h->id, error, "record rating",
            "UPDATE report_lifecycle SET rating = ?2, rated_at = ?3 WHERE report_id = ?1", "ii",
            (gint64)rating, now))
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
    if (!run_on_report(store, h->id, error, "record feedback",
                       "UPDATE report_lifecycle SET feedback_text = ?2, feedback_at = ?3"
                       " WHERE report_id = ?1",
                       "ti", feedback, now))
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
    if (!lifecycle_head_load(store, report_id, &h, error))
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
    if (!store_begin(store, error))
        return FALSE;
    gboolean ok = citizen_reply_locked(store, report_id, nfc, lc, &result, error);
    if (!lifecycle_finish(store, ok, error))
        return FALSE;
    if (outcome)
        *outcome = result;
    return TRUE;
}
