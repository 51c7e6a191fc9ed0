/* Corrections and duplicates made in the console (issue 13): each a transition of the
 * report's record, with its event, in one transaction (transitions.c's rules: the UPDATE names
 * the state it expects). */
#include "lifecycle/lifecycle_private.h"
#include "util/util.h"

#include <string.h>

/* ---- corrections -----------------------------------------------------------------------------
 */

/* the report's value of a citizen field, borrowed */
static char **edit_slot(Report *r, const char *field)
{
    static const char *const names[] = {"name",  "address",  "id_number",  "phone",
                                        "email", "location", "occurred_at"};
    char **slots[] = {&r->citizen.name,  &r->citizen.address, &r->citizen.id_number,
                      &r->citizen.phone, &r->citizen.email,   &r->location.text,
                      &r->occurred_at};
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        if (g_str_equal(names[i], field))
            return slots[i];
    }
    return NULL;
}

static gboolean category_get(Store *store, gint64 report_id, char **out, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store, "SELECT category FROM report_lifecycle WHERE report_id = ?", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    int rc = sqlite3_step(stmt);
    *out = rc == SQLITE_ROW ? column_text(stmt, 0) : NULL;
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(store, error, "read category");
    return TRUE;
}

static gboolean category_set(Store *store, gint64 report_id, const char *value, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store,
                                         "INSERT INTO report_lifecycle(report_id, category)"
                                         " VALUES (?1, ?2) ON CONFLICT(report_id) DO UPDATE"
                                         " SET category = ?2",
                                         error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    bind_text_or_null(stmt, 2, value);
    return store_step_done(store, stmt, "record category", error);
}

/* the citizen's fields, the place and the time, written back with the missing list and the
 * state they imply */
static gboolean report_write_fields(Store *store, const Report *r, const char *missing,
                                    const char *state, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store,
        "UPDATE report SET citizen_name = ?2, citizen_address = ?3, citizen_id_number = ?4,"
        " citizen_phone = ?5, citizen_email = ?6, location_text = ?7, location_lat = ?8,"
        " location_lon = ?9, occurred_at = ?10, missing = ?11, state = ?12, updated_at = ?13"
        " WHERE id = ?1 AND state = ?14",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, r->id);
    bind_text_or_null(stmt, 2, r->citizen.name);
    bind_text_or_null(stmt, 3, r->citizen.address);
    bind_text_or_null(stmt, 4, r->citizen.id_number);
    bind_text_or_null(stmt, 5, r->citizen.phone);
    bind_text_or_null(stmt, 6, r->citizen.email);
    bind_text_or_null(stmt, 7, r->location.text);
    if (r->location.has_coordinates) {
        sqlite3_bind_double(stmt, 8, r->location.lat);
        sqlite3_bind_double(stmt, 9, r->location.lon);
    }
    bind_text_or_null(stmt, 10, r->occurred_at);
    sqlite3_bind_text(stmt, 11, missing, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 12, state, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 13, clock_now_unix());
    sqlite3_bind_text(stmt, 14, r->state, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "correct report");
    if (sqlite3_changes(store_connection(store)) != 1) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "%s changed state meanwhile (it was %s): look again", r->code, r->state);
        return FALSE;
    }
    return TRUE;
}

/* the missing fields of the report as it now stands (SPEC §6: name, address, id_number,
 * phone, location), as the parser counts them */
static char **report_missing_now(const Report *r)
{
    Draft d = {0};
    d.citizen = r->citizen;
    d.location = r->location;
    return draft_missing_fields(&d);
}

static gboolean edit_citizen_field(Store *store, const Lifecycle *lc, Report *r,
                                   const ReportEdit *edit, GError **error)
{
    char **slot = edit_slot(r, edit->field);
    g_free(*slot);
    *slot = g_strdup(edit->value);
    if (g_str_equal(edit->field, "location") && edit->has_coordinates) {
        r->location.has_coordinates = TRUE;
        r->location.lat = edit->lat;
        r->location.lon = edit->lon;
    }
    g_auto(GStrv) missing = report_missing_now(r);
    g_autofree char *missing_text = g_strjoinv(",", missing);
    gboolean completes = g_str_equal(r->state, "incomplete") && !missing[0];
    if (!report_write_fields(store, r, missing_text, completes ? "draft" : r->state, error))
        return FALSE;
    if (!completes)
        return TRUE;
    /* Điều 7.1: complete now, the report waits for the IOC's decision like any draft */
    return event_add(store, r->id, lc->actor, "completed", "the IOC completed the missing details",
                     error) &&
           lifecycle_report_waits(store, lc, r->id, clock_now_unix(), error);
}

static gboolean edit_apply(Store *store, const Lifecycle *lc, Report *r, const ReportEdit *edit,
                           gboolean *changed, GError **error)
{
    gboolean category = g_str_equal(edit->field, "category");
    g_autofree char *old = NULL;
    const char *code = NULL;
    if (category && (!lifecycle_category_code(lc->config, edit->value, &code, error) ||
                     !category_get(store, r->id, &old, error)))
        return FALSE;
    if (!category)
        old = g_strdup(*edit_slot(r, edit->field));
    gboolean moved = g_str_equal(edit->field, "location") && edit->has_coordinates &&
                     !(r->location.has_coordinates && r->location.lat == edit->lat &&
                       r->location.lon == edit->lon);
    const char *value = category ? code : edit->value;
    gboolean same = g_strcmp0(old, value) == 0 && !moved;
    *changed = !same;
    if (same)
        return TRUE;
    g_autofree char *detail = g_strdup_printf("%s: %s → %s", edit->field, old ? old : "(trống)",
                                              value ? value : "(trống)");
    if (!event_add(store, r->id, lc->actor, "edited", detail, error))
        return FALSE;
    return category ? category_set(store, r->id, value, error)
                    : edit_citizen_field(store, lc, r, edit, error);
}

gboolean report_edit(Store *store, const Lifecycle *lc, gint64 report_id, const ReportEdit *edit,
                     gboolean *changed, GError **error)
{
    *changed = FALSE;
    if (!g_str_equal(edit->field, "category") && !edit_slot(&(Report){0}, edit->field)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "no field \"%s\" to correct", edit->field);
        return FALSE;
    }
    if (!store_begin(store, error))
        return FALSE;
    g_autoptr(Report) r = report_load_id(store, report_id, error);
    gboolean ok = r != NULL;
    if (ok && (g_str_equal(r->state, "closed") || g_str_equal(r->state, "rejected"))) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "%s is %s: a closed or rejected report is no longer corrected", r->code,
                    r->state);
        ok = FALSE;
    }
    ok = ok && edit_apply(store, lc, r, edit, changed, error);
    if (!ok) {
        store_rollback(store);
        return FALSE;
    }
    return store_commit(store, error);
}

/* ---- duplicates ------------------------------------------------------------------------------
 */

void duplicate_link_free(DuplicateLink *link)
{
    if (!link)
        return;
    g_free(link->code);
    g_free(link->of_code);
    g_free(link->prior_state);
    g_free(link->created_by);
    g_free(link->undone_by);
    g_free(link);
}

#define LINK_COLUMNS                                                                               \
    "l.id, l.report_id, l.of_report_id, a.code, b.code, l.prior_state, l.created_by,"              \
    " l.undone_by, l.created_at, coalesce(l.undone_at, 0)"                                         \
    " FROM report_duplicate l JOIN report a ON a.id = l.report_id"                                 \
    " JOIN report b ON b.id = l.of_report_id"

static gpointer link_from_row(sqlite3_stmt *stmt)
{
    DuplicateLink *l = g_new0(DuplicateLink, 1);
    l->id = sqlite3_column_int64(stmt, 0);
    l->report_id = sqlite3_column_int64(stmt, 1);
    l->of_report_id = sqlite3_column_int64(stmt, 2);
    l->code = column_text(stmt, 3);
    l->of_code = column_text(stmt, 4);
    l->prior_state = column_text(stmt, 5);
    l->created_by = column_text(stmt, 6);
    l->undone_by = column_text(stmt, 7);
    l->created_at = sqlite3_column_int64(stmt, 8);
    l->undone_at = sqlite3_column_int64(stmt, 9);
    return l;
}

GPtrArray *duplicate_links(Store *store, gint64 report_id, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store,
                                         "SELECT " LINK_COLUMNS " WHERE l.report_id = ?1"
                                         " OR l.of_report_id = ?1 ORDER BY l.id",
                                         error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, report_id);
    return store_collect_rows(store, stmt, (StoreRowReader)link_from_row,
                              (GDestroyNotify)duplicate_link_free, "read duplicates", error);
}

/* the code of a report, or NULL + NOT_FOUND */
static char *report_code(Store *store, gint64 id, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store, "SELECT code FROM report WHERE id = ?", error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, id);
    int rc = sqlite3_step(stmt);
    char *code = rc == SQLITE_ROW ? column_text(stmt, 0) : NULL;
    sqlite3_reset(stmt);
    if (rc == SQLITE_DONE)
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND, "no report %" G_GINT64_FORMAT, id);
    else if (rc != SQLITE_ROW)
        store_fail(store, error, "read report code");
    return code;
}

/* the same event on both sides of a link */
static gboolean link_events(Store *store, gint64 report_id, gint64 of_id, const char *actor,
                            const char *kind_here, const char *kind_there, GError **error)
{
    g_autofree char *code = report_code(store, report_id, error);
    g_autofree char *of_code = code ? report_code(store, of_id, error) : NULL;
    if (!of_code)
        return FALSE;
    return event_add(store, report_id, actor, kind_here, of_code, error) &&
           event_add(store, of_id, actor, kind_there, code, error);
}

gboolean duplicate_link_add(Store *store, gint64 report_id, gint64 of_id, const char *prior_state,
                            const char *actor, GError **error)
{
    if (report_id == of_id) {
        g_set_error_literal(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                            "a report cannot be a duplicate of itself");
        return FALSE;
    }
    sqlite3_stmt *stmt =
        store_statement(store,
                        "INSERT INTO report_duplicate(report_id, of_report_id, prior_state,"
                        " created_at, created_by) VALUES (?, ?, ?, ?, ?)",
                        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    sqlite3_bind_int64(stmt, 2, of_id);
    sqlite3_bind_text(stmt, 3, prior_state, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 4, clock_now_unix());
    sqlite3_bind_text(stmt, 5, actor, -1, SQLITE_TRANSIENT);
    if (!store_step_done(store, stmt, "link duplicate", error))
        return FALSE;
    return link_events(store, report_id, of_id, actor, "duplicate_of", "duplicate_linked", error);
}

/* the link in force of a duplicate, or NULL + REFUSED */
static DuplicateLink *link_in_force(Store *store, gint64 report_id, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store,
                                         "SELECT " LINK_COLUMNS " WHERE l.report_id = ?1"
                                         " AND l.undone_at IS NULL ORDER BY l.id DESC LIMIT 1",
                                         error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, report_id);
    int rc = sqlite3_step(stmt);
    DuplicateLink *l = rc == SQLITE_ROW ? (DuplicateLink *)link_from_row(stmt) : NULL;
    sqlite3_reset(stmt);
    if (rc == SQLITE_DONE)
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "report %" G_GINT64_FORMAT " is not marked as a duplicate", report_id);
    else if (rc != SQLITE_ROW)
        store_fail(store, error, "read duplicate");
    return l;
}

/* the rejected duplicate back in its prior state, its rejection forgotten */
static gboolean unreject(Store *store, const DuplicateLink *l, const char *actor, GError **error)
{
    gint64 now = clock_now_unix();
    sqlite3_stmt *stmt = store_statement(store,
                                         "UPDATE report SET state = ?2, updated_at = ?3"
                                         " WHERE id = ?1 AND state = 'rejected'",
                                         error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, l->report_id);
    sqlite3_bind_text(stmt, 2, l->prior_state, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 3, now);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "undo duplicate");
    if (sqlite3_changes(store_connection(store)) != 1) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "%s is no longer rejected: the duplicate cannot be undone", l->code);
        return FALSE;
    }
    stmt = store_statement(store,
                           "UPDATE report_lifecycle SET reject_reason = NULL, note = NULL"
                           " WHERE report_id = ?1",
                           error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, l->report_id);
    if (!store_step_done(store, stmt, "undo rejection", error))
        return FALSE;
    stmt = store_statement(
        store, "UPDATE report_duplicate SET undone_at = ?2, undone_by = ?3 WHERE id = ?1", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, l->id);
    sqlite3_bind_int64(stmt, 2, now);
    sqlite3_bind_text(stmt, 3, actor, -1, SQLITE_TRANSIENT);
    return store_step_done(store, stmt, "end duplicate link", error);
}

/* when the IOC's "assign" deadline was first set (its arrival or return): the undone report
 * keeps the deadline it had, a wrong merge buys the IOC no time */
static gint64 assign_set_at(Store *store, gint64 report_id)
{
    sqlite3_stmt *stmt = store_statement(
        store, "SELECT set_at FROM deadline WHERE report_id = ? AND name = 'assign'", NULL);
    if (!stmt)
        return 0;
    sqlite3_bind_int64(stmt, 1, report_id);
    gint64 at = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_reset(stmt);
    return at;
}

gboolean duplicate_undo(Store *store, const Lifecycle *lc, gint64 report_id, GError **error)
{
    const char *actor = lc->actor && *lc->actor ? lc->actor : "pahtctl";
    if (!store_begin(store, error))
        return FALSE;
    g_autoptr(DuplicateLink) l = link_in_force(store, report_id, error);
    gboolean ok = l && unreject(store, l, actor, error) &&
                  link_events(store, l->report_id, l->of_report_id, actor, "duplicate_undone",
                              "duplicate_unlinked", error);
    /* back in the IOC's queue with the deadline it had (Điều 7.3): counted again from when
     * it was first set (the report's arrival or return) */
    if (ok && (g_str_equal(l->prior_state, "draft") || g_str_equal(l->prior_state, "returned")))
        ok = lifecycle_draft_waiting(store, lc, report_id, assign_set_at(store, report_id), error);
    if (!ok) {
        store_rollback(store);
        return FALSE;
    }
    return store_commit(store, error);
}
