/* Retention (issue 16): what of a finished report the law lets the province keep, and what it
 * must let go. Vietnam's Law on Personal Data Protection (in force 1 January 2026) and Điều 4.5
 * keep personal data no longer than its purpose needs; Điều 5.1 and 11.6 keep the record of
 * every report for the state and its statistics. So a purge removes the citizen (name, ID
 * number, phone, address, e-mail, the sender's address), the words they wrote (subject, text,
 * feedback, notes and event details that may quote them), the raw mail, the attachments the
 * IOC did not mark public and the bodies of the letters; it keeps the code, the dates, the
 * category, the agency, the result and the rating, which are all statistics read (stats.c).
 *
 * Files are not unlinked here: their paths go into file_removal in the same transaction, and
 * the caller unlinks them after the commit (a crash in between only delays it). */
#include "lifecycle/lifecycle_private.h"
#include "util/util.h"

#include <string.h>

static const char *const finished_states[] = {"published", "closed", "rejected", NULL};

gboolean retention_is_finished(const char *state)
{
    return state && g_strv_contains(finished_states, state);
}

void retained_report_free(RetainedReport *r)
{
    if (!r)
        return;
    g_free(r->code);
    g_free(r->state);
    g_free(r->legal_hold);
    g_free(r);
}

static GPtrArray *retained_list(Store *store, sqlite3_stmt *stmt, const char *what, GError **error)
{
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)retained_report_free);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        RetainedReport *r = g_new0(RetainedReport, 1);
        r->id = sqlite3_column_int64(stmt, 0);
        r->code = column_text(stmt, 1);
        r->state = column_text(stmt, 2);
        r->finished_at = sqlite3_column_int64(stmt, 3);
        r->legal_hold = column_text(stmt, 4);
        r->purged_at = sqlite3_column_int64(stmt, 5);
        g_ptr_array_add(list, r);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        g_ptr_array_unref(list);
        store_fail(store, error, what);
        return NULL;
    }
    return list;
}

GPtrArray *retention_due(Store *store, gint64 before, GError **error)
{
    /* through report_finished: finished, not purged yet; the last change of state (a rating
     * that closes it, a clarification) is when it finished */
    sqlite3_stmt *stmt = store_statement(
        store,
        "SELECT id, code, state, updated_at, legal_hold, coalesce(purged_at, 0) FROM report"
        " WHERE state IN ('published', 'closed', 'rejected') AND purged_at IS NULL"
        " AND updated_at < ?1 ORDER BY updated_at, id",
        error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, before);
    return retained_list(store, stmt, "list reports to purge", error);
}

GPtrArray *retention_find_person(Store *store, const char *email, const char *phone,
                                 const char *id_number, GError **error)
{
    /* one indexed lookup per way of naming the person (a NULL one finds nothing): the ORs of
     * one WHERE made SQLite read every report of the store, its whole text included, and
     * left the four indexes of issue 16 unused though written for every mail (issue 18) */
    sqlite3_stmt *stmt = store_statement(
        store,
        "SELECT id, code, state, updated_at, legal_hold, coalesce(purged_at, 0) FROM report"
        " WHERE id IN (SELECT id FROM report WHERE lower(citizen_email) = lower(?1)"
        " UNION ALL SELECT id FROM report WHERE lower(sender) = lower(?1)"
        " UNION ALL SELECT id FROM report WHERE citizen_phone = ?2"
        " UNION ALL SELECT id FROM report WHERE citizen_id_number = ?3) ORDER BY id",
        error);
    if (!stmt)
        return NULL;
    bind_text_or_null(stmt, 1, email);
    bind_text_or_null(stmt, 2, phone);
    bind_text_or_null(stmt, 3, id_number);
    return retained_list(store, stmt, "find a person's reports", error);
}

/* runs sql with ?1 the report id (and ?2 now); what names it in an error */
static gboolean on_report(Store *store, gint64 id, gint64 now, const char *sql, const char *what,
                          GError **error)
{
    sqlite3_stmt *stmt = store_statement(store, sql, error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, id);
    if (sqlite3_bind_parameter_count(stmt) >= 2)
        sqlite3_bind_int64(stmt, 2, now);
    return lifecycle_exec_bound(store, stmt, what, error);
}

static gint64 count_of(Store *store, gint64 id, const char *sql, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store, sql, error);
    if (!stmt)
        return -1;
    sqlite3_bind_int64(stmt, 1, id);
    gint64 n = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sqlite3_reset(stmt);
    if (n < 0)
        store_fail(store, error, "count what a purge removes");
    return n;
}

/* the statements of a purge, in order: files queued first, while the rows still name them;
 * the citizen's letters found by the addresses before those go */
static const struct {
    const char *what, *sql;
} purge_steps[] = {
    {"queue raw mail for removal",
     "INSERT OR IGNORE INTO file_removal(path, queued_at) SELECT path, ?2 FROM raw_message"
     " WHERE path <> '' AND (report_id = ?1 OR id = (SELECT raw_id FROM report WHERE id = ?1)"
     " OR id IN (SELECT raw_id FROM pending_reply WHERE report_id = ?1)"
     " OR id IN (SELECT b.raw_id FROM bounce b JOIN outbox o ON o.id = b.outbox_id"
     " WHERE o.report_id = ?1))"},
    {"queue attachments for removal",
     "INSERT OR IGNORE INTO file_removal(path, queued_at) SELECT path, ?2 FROM attachment"
     " WHERE report_id = ?1 AND public = 0 AND path <> ''"},
    {"forget raw mail",
     "UPDATE raw_message SET path = '', message_id = NULL, error = NULL"
     " WHERE report_id = ?1 OR id = (SELECT raw_id FROM report WHERE id = ?1)"
     " OR id IN (SELECT raw_id FROM pending_reply WHERE report_id = ?1)"
     " OR id IN (SELECT b.raw_id FROM bounce b JOIN outbox o ON o.id = b.outbox_id"
     " WHERE o.report_id = ?1)"},
    {"forget attachments", "UPDATE attachment SET filename = '', path = '', content_id = NULL"
                           " WHERE report_id = ?1 AND public = 0"},
    {"forget the citizen's address on letters",
     "UPDATE outbox SET rcpt = 'purged' WHERE report_id = ?1 AND lower(rcpt) IN"
     " (SELECT lower(sender) FROM report WHERE id = ?1 AND sender IS NOT NULL UNION"
     " SELECT lower(citizen_email) FROM report WHERE id = ?1 AND citizen_email IS NOT NULL)"},
    {"forget server replies", "UPDATE outbox SET last_reply = NULL WHERE report_id = ?1"},
    {"forget letter bodies",
     "UPDATE outbox_body SET message = x'' WHERE id IN (SELECT id FROM outbox"
     " WHERE report_id = ?1)"},
    {"forget bounces", "UPDATE bounce SET recipient = NULL, diagnostic = NULL WHERE outbox_id IN"
                       " (SELECT id FROM outbox WHERE report_id = ?1)"},
    {"forget counted answers",
     "DELETE FROM auto_answer WHERE outbox_id IN (SELECT id FROM outbox WHERE report_id = ?1)"},
    {"forget suspensions", "DELETE FROM address_suspension WHERE outbox_id IN"
                           " (SELECT id FROM outbox WHERE report_id = ?1)"},
    {"forget pending supplements' senders",
     "UPDATE pending_reply SET sender = NULL WHERE report_id = ?1"},
    {"forget the citizen's words",
     "UPDATE report_lifecycle SET feedback_text = NULL, note = NULL, extension_note = NULL"
     " WHERE report_id = ?1"},
    {"forget event details", "UPDATE event SET detail = NULL WHERE report_id = ?1"},
    {"forget the citizen",
     "UPDATE report SET citizen_name = NULL, citizen_address = NULL,"
     " citizen_id_number = NULL, citizen_phone = NULL, citizen_email = NULL, sender = NULL,"
     " subject = NULL, body = NULL, message_id = NULL, location_text = NULL,"
     " location_lat = NULL, location_lon = NULL, purged_at = ?2 WHERE id = ?1"},
};

gboolean retention_purge_report(Store *store, gint64 report_id, const char *actor, const char *kind,
                                RetentionCounts *counts, GError **error)
{
    g_auto(Head) h = {0};
    if (!lifecycle_head_load(store, report_id, &h, error))
        return FALSE;
    if (!retention_is_finished(h.state)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "%s is %s: only a finished report (published, closed or rejected) loses its "
                    "personal data",
                    h.code, h.state);
        return FALSE;
    }
    g_autofree char *hold = NULL;
    sqlite3_stmt *stmt =
        store_statement(store, "SELECT legal_hold FROM report WHERE id = ?1", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        hold = column_text(stmt, 0);
    sqlite3_reset(stmt);
    if (hold) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "%s is under legal hold (%s): pahtctl hold %s --release first", h.code, hold,
                    h.code);
        return FALSE;
    }
    RetentionCounts n = {0};
    n.files = count_of(store, report_id,
                       "SELECT count(*) FROM attachment WHERE report_id = ?1 AND public = 0"
                       " AND path <> ''",
                       error);
    n.kept_public =
        count_of(store, report_id,
                 "SELECT count(*) FROM attachment WHERE report_id = ?1 AND public = 1", error);
    n.letters =
        count_of(store, report_id, "SELECT count(*) FROM outbox WHERE report_id = ?1", error);
    if (n.files < 0 || n.kept_public < 0 || n.letters < 0)
        return FALSE;
    gint64 now = clock_now_unix();
    for (gsize i = 0; i < G_N_ELEMENTS(purge_steps); i++) {
        if (!on_report(store, report_id, now, purge_steps[i].sql, purge_steps[i].what, error))
            return FALSE;
    }
    g_autofree char *detail = g_strdup_printf(
        "personal data removed: the citizen's details and words, the raw mail, %" G_GINT64_FORMAT
        " attachment(s) (%" G_GINT64_FORMAT " public kept), the bodies of %" G_GINT64_FORMAT
        " letter(s)",
        n.files, n.kept_public, n.letters);
    if (!event_add(store, report_id, actor, kind, detail, error))
        return FALSE;
    if (counts)
        *counts = n;
    return TRUE;
}

gboolean retention_hold(Store *store, gint64 report_id, const char *note, const char *actor,
                        GError **error)
{
    g_auto(Head) h = {0};
    if (!lifecycle_head_load(store, report_id, &h, error))
        return FALSE;
    sqlite3_stmt *stmt =
        store_statement(store,
                        "UPDATE report SET legal_hold = ?2 WHERE id = ?1 AND purged_at IS NULL"
                        " AND (?2 IS NULL) = (legal_hold IS NOT NULL)",
                        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    bind_text_or_null(stmt, 2, note);
    if (!lifecycle_exec_bound(store, stmt, "set the legal hold", error))
        return FALSE;
    if (sqlite3_changes(store_connection(store)) != 1) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED, "%s %s", h.code,
                    note ? "is already under legal hold, or its personal data is gone"
                         : "is not under legal hold");
        return FALSE;
    }
    return event_add(store, report_id, actor, note ? "legal_hold" : "legal_hold_released", note,
                     error);
}

gboolean retention_set_public(Store *store, gint64 report_id, int number, gboolean public,
                              const char *actor, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store,
                        "UPDATE attachment SET public = ?3 WHERE id = (SELECT id FROM attachment"
                        " WHERE report_id = ?1 ORDER BY id LIMIT 1 OFFSET ?2) AND path <> ''",
                        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    sqlite3_bind_int(stmt, 2, number - 1);
    sqlite3_bind_int(stmt, 3, public ? 1 : 0);
    if (number < 1 || !lifecycle_exec_bound(store, stmt, "mark an attachment", error) ||
        sqlite3_changes(store_connection(store)) != 1) {
        if (error && !*error)
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND,
                        "report %" G_GINT64_FORMAT " has no attachment %d (or it was purged)",
                        report_id, number);
        return FALSE;
    }
    g_autofree char *detail = g_strdup_printf("attachment %d %s", number,
                                              public ? "public: kept by the purge" : "not public");
    return event_add(store, report_id, actor, "attachment_public", detail, error);
}

GPtrArray *retention_files_queued(Store *store, int limit, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "SELECT path FROM file_removal ORDER BY queued_at, path LIMIT ?1", error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int(stmt, 1, limit);
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        g_ptr_array_add(paths, column_text(stmt, 0));
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        g_ptr_array_unref(paths);
        store_fail(store, error, "list files to remove");
        return NULL;
    }
    return paths;
}

gboolean retention_file_release(Store *store, const char *path, gboolean *in_use, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store,
                                         "SELECT EXISTS (SELECT 1 FROM attachment WHERE path = ?1)"
                                         " OR EXISTS (SELECT 1 FROM raw_message WHERE path = ?1)",
                                         error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, path, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    *in_use = rc == SQLITE_ROW && sqlite3_column_int(stmt, 0) != 0;
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW)
        return store_fail(store, error, "look up a file");
    stmt = store_statement(store, "DELETE FROM file_removal WHERE path = ?1", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, path, -1, SQLITE_TRANSIENT);
    return lifecycle_exec_bound(store, stmt, "forget a removed file", error);
}
