/* Reports (phản ánh): creation from a draft, events, loading for show and drafts. */
#include "queue/store_internal.h"
#include "util/util.h"

#include <string.h>

void report_ref_clear(ReportRef *ref)
{
    g_clear_pointer(&ref->code, g_free);
    g_clear_pointer(&ref->token, g_free);
    ref->id = 0;
}

gboolean store_sequence_next(Store *store, const char *prefix, int year, gint64 *out,
                             GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store,
                        "INSERT INTO code_sequence(prefix, year, last) VALUES (?1, ?2, 1)"
                        " ON CONFLICT(prefix, year) DO UPDATE SET last = last + 1 RETURNING last",
                        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, prefix, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 2, year);
    int rc = sqlite3_step(stmt);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "next number of a sequence");
    return TRUE;
}

/* the next tracking number of this prefix and year, in the caller's transaction */
static gboolean next_code(Store *store, const char *prefix, int year, char **code, GError **error)
{
    gint64 last = 0;
    if (!store_sequence_next(store, prefix, year, &last, error))
        return FALSE;
    *code = g_strdup_printf("%s-%04d-%06" G_GINT64_FORMAT, prefix, year, last);
    return TRUE;
}

gboolean event_add(Store *store, gint64 report_id, const char *actor, const char *kind,
                   const char *detail, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "INSERT INTO event(report_id, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    sqlite3_bind_int64(stmt, 2, clock_now_unix());
    sqlite3_bind_text(stmt, 3, actor, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 4, kind, -1, SQLITE_TRANSIENT);
    bind_text_or_null(stmt, 5, detail);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "record event");
    return TRUE;
}

/* one attachment row of role (ATTACHMENT_*) */
static gboolean attachment_insert(Store *store, gint64 report_id, gint64 raw_id, const char *role,
                                  const DraftAttachment *a, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store,
        "INSERT INTO attachment(report_id, raw_id, filename, content_type, kind, content_id,"
        " dangerous, size, sha256, path, role) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    if (raw_id > 0)
        sqlite3_bind_int64(stmt, 2, raw_id);
    sqlite3_bind_text(stmt, 3, a->filename, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 4, a->content_type ? a->content_type : "application/octet-stream", -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 5, a->kind ? a->kind : "other", -1, SQLITE_TRANSIENT);
    bind_text_or_null(stmt, 6, a->content_id);
    sqlite3_bind_int(stmt, 7, a->dangerous ? 1 : 0);
    sqlite3_bind_int64(stmt, 8, a->size);
    sqlite3_bind_text(stmt, 9, a->sha256, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 10, a->path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 11, role, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "record attachment");
    return TRUE;
}

gboolean store_attachment_insert(Store *store, gint64 report_id, gint64 raw_id,
                                 const DraftAttachment *a, GError **error)
{
    return attachment_insert(store, report_id, raw_id, ATTACHMENT_CITIZEN, a, error);
}

gboolean report_add_files(Store *store, gint64 report_id, gint64 raw_id, const char *role,
                          const GPtrArray *attachments, GError **error)
{
    if (g_str_equal(role, ATTACHMENT_RESULT)) {
        sqlite3_stmt *stmt =
            store_statement(store,
                            "UPDATE attachment SET role = '" ATTACHMENT_RESULT_REPLACED
                            "' WHERE report_id = ?1 AND role = '" ATTACHMENT_RESULT "'",
                            error);
        if (!stmt)
            return FALSE;
        sqlite3_bind_int64(stmt, 1, report_id);
        int rc = sqlite3_step(stmt);
        sqlite3_reset(stmt);
        if (rc != SQLITE_DONE)
            return store_fail(store, error, "replace a result's files");
    }
    for (guint i = 0; attachments && i < attachments->len; i++) {
        if (!attachment_insert(store, report_id, raw_id, role, g_ptr_array_index(attachments, i),
                               error))
            return FALSE;
    }
    return TRUE;
}

gboolean report_create(Store *store, const Draft *draft, const char *sender,
                       const char *code_prefix, GTimeZone *zone, gint64 received_at, gint64 raw_id,
                       ReportRef *out, GError **error)
{
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(received_at);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, zone);
    g_autofree char *code = NULL;
    if (!next_code(store, code_prefix, g_date_time_get_year(local), &code, error))
        return FALSE;
    g_autofree char *token = random_hex(10);
    g_auto(GStrv) missing = draft_missing_fields(draft);
    g_autofree char *missing_text = g_strjoinv(",", missing);
    const char *classification =
        draft->classification ? draft->classification : CLASSIFICATION_REPORT;
    /* only a citizen's report can be incomplete; complaints and emergencies wait for the IOC
     * whatever they lack */
    const char *state =
        g_str_equal(classification, CLASSIFICATION_REPORT) && missing[0] ? "incomplete" : "draft";

    sqlite3_stmt *stmt = store_statement(
        store,
        "INSERT INTO report(code, token, state, classification, rule, confidential, missing,"
        " subject, body, message_id, citizen_name, citizen_address, citizen_id_number,"
        " citizen_phone, citizen_email, location_text, location_lat, location_lon,"
        " occurred_at, received_at, updated_at, raw_id, sender)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
        " ?18, ?19, ?20, ?20, ?21, ?22)",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, code, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, token, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, state, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, classification, -1, SQLITE_TRANSIENT);
    bind_text_or_null(stmt, 5, draft->rule);
    sqlite3_bind_int(stmt, 6, draft->confidential ? 1 : 0);
    sqlite3_bind_text(stmt, 7, missing_text, -1, SQLITE_TRANSIENT);
    bind_text_or_null(stmt, 8, draft->subject);
    bind_text_or_null(stmt, 9, draft->text);
    bind_text_or_null(stmt, 10, draft->message_id);
    bind_text_or_null(stmt, 11, draft->citizen.name);
    bind_text_or_null(stmt, 12, draft->citizen.address);
    bind_text_or_null(stmt, 13, draft->citizen.id_number);
    bind_text_or_null(stmt, 14, draft->citizen.phone);
    bind_text_or_null(stmt, 15, draft->citizen.email);
    bind_text_or_null(stmt, 16, draft->location.text);
    if (draft->location.has_coordinates) {
        sqlite3_bind_double(stmt, 17, draft->location.lat);
        sqlite3_bind_double(stmt, 18, draft->location.lon);
    }
    bind_text_or_null(stmt, 19, draft->occurred_at);
    sqlite3_bind_int64(stmt, 20, received_at);
    if (raw_id > 0)
        sqlite3_bind_int64(stmt, 21, raw_id);
    bind_text_or_null(stmt, 22, sender);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "create report");
    gint64 id = sqlite3_last_insert_rowid(store->db);

    for (guint i = 0; i < draft->attachments->len; i++) {
        if (!store_attachment_insert(store, id, raw_id, g_ptr_array_index(draft->attachments, i),
                                     error))
            return FALSE;
    }
    if (!report_warnings_add(store, id, draft->warnings, error) ||
        !event_add(store, id, "pahtd", "received", state, error))
        return FALSE;
    out->id = id;
    out->code = g_steal_pointer(&code);
    out->token = g_steal_pointer(&token);
    return TRUE;
}

/* ---- loading ------------------------------------------------------------------------------- */

static void stored_attachment_free(StoredAttachment *a)
{
    g_free(a->filename);
    g_free(a->content_type);
    g_free(a->kind);
    g_free(a->sha256);
    g_free(a->path);
    g_free(a->content_id);
    g_free(a->role);
    g_free(a);
}

static void report_event_free(ReportEvent *e)
{
    g_free(e->actor);
    g_free(e->kind);
    g_free(e->detail);
    g_free(e);
}

static void report_mail_free(ReportMail *m)
{
    g_free(m->kind);
    g_free(m->rcpt);
    g_free(m->state);
    g_free(m);
}

static void report_deadline_free(ReportDeadline *d)
{
    g_free(d->name);
    g_free(d);
}

void report_free(Report *r)
{
    if (!r)
        return;
    g_free(r->code);
    g_free(r->token);
    g_free(r->state);
    g_free(r->classification);
    g_free(r->rule);
    g_strfreev(r->missing);
    g_free(r->subject);
    g_free(r->text);
    g_free(r->message_id);
    g_free(r->citizen.name);
    g_free(r->citizen.address);
    g_free(r->citizen.id_number);
    g_free(r->citizen.phone);
    g_free(r->citizen.email);
    g_free(r->location.text);
    g_free(r->occurred_at);
    g_free(r->agency);
    g_strfreev(r->coordinators);
    if (r->attachments)
        g_ptr_array_unref(r->attachments);
    if (r->agency_files)
        g_ptr_array_unref(r->agency_files);
    if (r->events)
        g_ptr_array_unref(r->events);
    if (r->mail)
        g_ptr_array_unref(r->mail);
    if (r->deadlines)
        g_ptr_array_unref(r->deadlines);
    g_free(r);
}

/* "a,b" -> {"a", "b", NULL}; "" -> {NULL} */
static char **split_list(const char *text)
{
    if (!text || !*text)
        return g_new0(char *, 1);
    return g_strsplit(text, ",", -1);
}

#define ATTACHMENT_COLUMNS                                                                         \
    "filename, content_type, kind, sha256, path, content_id, size, dangerous, role, raw_id"

/* the attachment rows the statement selects (ATTACHMENT_COLUMNS) */
static GPtrArray *read_attachments(Store *store, sqlite3_stmt *stmt, GError **error)
{
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)stored_attachment_free);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        StoredAttachment *a = g_new0(StoredAttachment, 1);
        a->filename = column_text(stmt, 0);
        a->content_type = column_text(stmt, 1);
        a->kind = column_text(stmt, 2);
        a->sha256 = column_text(stmt, 3);
        a->path = column_text(stmt, 4);
        a->content_id = column_text(stmt, 5);
        a->size = sqlite3_column_int64(stmt, 6);
        a->dangerous = sqlite3_column_int(stmt, 7) != 0;
        a->role = column_text(stmt, 8);
        a->raw_id = sqlite3_column_int64(stmt, 9);
        g_ptr_array_add(list, a);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        store_fail(store, error, "load attachments");
        g_ptr_array_unref(list);
        return NULL;
    }
    return list;
}

GPtrArray *attachment_list_of_raw(Store *store, gint64 report_id, gint64 raw_id, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store,
                                         "SELECT " ATTACHMENT_COLUMNS
                                         " FROM attachment WHERE report_id = ? AND raw_id = ?"
                                         " ORDER BY id",
                                         error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, report_id);
    sqlite3_bind_int64(stmt, 2, raw_id);
    return read_attachments(store, stmt, error);
}

static gboolean load_children(Store *store, Report *r, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "SELECT " ATTACHMENT_COLUMNS " FROM attachment WHERE report_id = ? ORDER BY id",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, r->id);
    g_autoptr(GPtrArray) all = read_attachments(store, stmt, error);
    if (!all)
        return FALSE;
    /* the citizen's files are the report's; an agency's are kept apart (issue 14) */
    r->attachments = g_ptr_array_new_with_free_func((GDestroyNotify)stored_attachment_free);
    r->agency_files = g_ptr_array_new_with_free_func((GDestroyNotify)stored_attachment_free);
    for (guint i = 0; i < all->len; i++) {
        StoredAttachment *a = g_ptr_array_steal_index(all, i--);
        g_ptr_array_add(g_str_equal(a->role, ATTACHMENT_CITIZEN) ? r->attachments : r->agency_files,
                        a);
    }
    int rc;

    stmt = store_statement(
        store, "SELECT at, actor, kind, detail FROM event WHERE report_id = ? ORDER BY id", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, r->id);
    r->events = g_ptr_array_new_with_free_func((GDestroyNotify)report_event_free);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        ReportEvent *e = g_new0(ReportEvent, 1);
        e->at = sqlite3_column_int64(stmt, 0);
        e->actor = column_text(stmt, 1);
        e->kind = column_text(stmt, 2);
        e->detail = column_text(stmt, 3);
        g_ptr_array_add(r->events, e);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "load events");

    stmt = store_statement(
        store, "SELECT id, kind, rcpt, state FROM outbox WHERE report_id = ? ORDER BY id", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, r->id);
    r->mail = g_ptr_array_new_with_free_func((GDestroyNotify)report_mail_free);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        ReportMail *m = g_new0(ReportMail, 1);
        m->id = sqlite3_column_int64(stmt, 0);
        m->kind = column_text(stmt, 1);
        m->rcpt = column_text(stmt, 2);
        m->state = column_text(stmt, 3);
        g_ptr_array_add(r->mail, m);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "load mail");

    stmt = store_statement(
        store, "SELECT name, due FROM deadline WHERE report_id = ? ORDER BY name", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, r->id);
    r->deadlines = g_ptr_array_new_with_free_func((GDestroyNotify)report_deadline_free);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        ReportDeadline *d = g_new0(ReportDeadline, 1);
        d->name = column_text(stmt, 0);
        d->due = sqlite3_column_int64(stmt, 1);
        g_ptr_array_add(r->deadlines, d);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "load deadlines");
    return TRUE;
}

#define REPORT_COLUMNS                                                                             \
    "id, code, token, state, overdue, confidential, classification, rule, missing,"                \
    " received_at, updated_at, subject, body, message_id, citizen_name, citizen_address,"          \
    " citizen_id_number, citizen_phone, citizen_email, location_text, location_lat,"               \
    " location_lon, occurred_at, agency, coordinators"

static Report *report_from_row(sqlite3_stmt *stmt)
{
    Report *r = g_new0(Report, 1);
    r->id = sqlite3_column_int64(stmt, 0);
    r->code = column_text(stmt, 1);
    r->token = column_text(stmt, 2);
    r->state = column_text(stmt, 3);
    r->overdue = sqlite3_column_int(stmt, 4) != 0;
    r->confidential = sqlite3_column_int(stmt, 5) != 0;
    r->classification = column_text(stmt, 6);
    r->rule = column_text(stmt, 7);
    r->missing = split_list((const char *)sqlite3_column_text(stmt, 8));
    r->received_at = sqlite3_column_int64(stmt, 9);
    r->updated_at = sqlite3_column_int64(stmt, 10);
    r->subject = column_text(stmt, 11);
    r->text = column_text(stmt, 12);
    r->message_id = column_text(stmt, 13);
    r->citizen.name = column_text(stmt, 14);
    r->citizen.address = column_text(stmt, 15);
    r->citizen.id_number = column_text(stmt, 16);
    r->citizen.phone = column_text(stmt, 17);
    r->citizen.email = column_text(stmt, 18);
    r->location.text = column_text(stmt, 19);
    r->location.has_coordinates = sqlite3_column_type(stmt, 20) != SQLITE_NULL;
    r->location.lat = sqlite3_column_double(stmt, 20);
    r->location.lon = sqlite3_column_double(stmt, 21);
    r->occurred_at = column_text(stmt, 22);
    r->agency = column_text(stmt, 23);
    r->coordinators = split_list((const char *)sqlite3_column_text(stmt, 24));
    return r;
}

static Report *report_load_where(Store *store, const char *sql, gint64 id, const char *code,
                                 const char *asked, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store, sql, error);
    if (!stmt)
        return NULL;
    if (code)
        sqlite3_bind_text(stmt, 1, code, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_int64(stmt, 1, id);
    int rc = sqlite3_step(stmt);
    Report *r = NULL;
    if (rc == SQLITE_ROW)
        r = report_from_row(stmt);
    sqlite3_reset(stmt);
    if (!r) {
        if (rc == SQLITE_DONE)
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND, "no report %s", asked);
        else
            store_fail(store, error, "load report");
        return NULL;
    }
    if (!load_children(store, r, error)) {
        report_free(r);
        return NULL;
    }
    return r;
}

Report *report_load_id(Store *store, gint64 id, GError **error)
{
    g_autofree char *asked = g_strdup_printf("%" G_GINT64_FORMAT, id);
    return report_load_where(store, "SELECT " REPORT_COLUMNS " FROM report WHERE id = ?", id, NULL,
                             asked, error);
}

Report *report_load(Store *store, const char *id_or_code, GError **error)
{
    const char *p = id_or_code;
    while (*p && g_ascii_isdigit(*p))
        p++;
    if (*id_or_code && !*p) {
        gint64 id = g_ascii_strtoll(id_or_code, NULL, 10);
        return report_load_where(store, "SELECT " REPORT_COLUMNS " FROM report WHERE id = ?", id,
                                 NULL, id_or_code, error);
    }
    g_autofree char *upper = g_ascii_strup(id_or_code, -1);
    return report_load_where(store, "SELECT " REPORT_COLUMNS " FROM report WHERE code = ?", 0,
                             upper, id_or_code, error);
}

void report_summary_free(ReportSummary *s)
{
    if (!s)
        return;
    g_free(s->code);
    g_free(s->state);
    g_free(s->classification);
    g_free(s->subject);
    g_free(s->citizen_name);
    g_free(s->citizen_email);
    g_strfreev(s->missing);
    g_free(s);
}

GPtrArray *report_list_drafts(Store *store, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store,
        "SELECT r.id, r.code, r.state, r.classification, r.subject, r.citizen_name,"
        " r.citizen_email, r.received_at, r.missing, r.confidential, r.overdue,"
        " (SELECT count(*) FROM attachment a WHERE a.report_id = r.id AND a.role = 'citizen')"
        " FROM report r WHERE r.state IN ('draft', 'incomplete', 'returned')"
        " ORDER BY r.received_at, r.id",
        error);
    if (!stmt)
        return NULL;
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)report_summary_free);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        ReportSummary *s = g_new0(ReportSummary, 1);
        s->id = sqlite3_column_int64(stmt, 0);
        s->code = column_text(stmt, 1);
        s->state = column_text(stmt, 2);
        s->classification = column_text(stmt, 3);
        s->subject = column_text(stmt, 4);
        s->citizen_name = column_text(stmt, 5);
        s->citizen_email = column_text(stmt, 6);
        s->received_at = sqlite3_column_int64(stmt, 7);
        s->missing = split_list((const char *)sqlite3_column_text(stmt, 8));
        s->confidential = sqlite3_column_int(stmt, 9) != 0;
        s->overdue = sqlite3_column_int(stmt, 10) != 0;
        s->n_attachments = sqlite3_column_int(stmt, 11);
        g_ptr_array_add(list, s);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        g_ptr_array_unref(list);
        store_fail(store, error, "list drafts");
        return NULL;
    }
    return list;
}
