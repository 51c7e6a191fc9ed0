/* The pieces every file of the lifecycle uses: the report row's head a transition decides on,
 * a statement run to its end, a transaction ended, a time as the events write it. */
#include "lifecycle/lifecycle_private.h"
#include "util/util.h"

char *lifecycle_time_text(const Lifecycle *lc, gint64 t)
{
    return clock_format_rfc3339(t, calendar_zone(lc->calendar));
}

void lifecycle_head_clear(Head *h)
{
    g_free(h->code);
    g_free(h->state);
    g_free(h->agency);
    g_free(h->coordinators);
    g_free(h->missing);
}

gboolean lifecycle_head_load(Store *store, gint64 id, Head *out, GError **error)
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

gboolean lifecycle_exec_bound(Store *store, sqlite3_stmt *stmt, const char *what, GError **error)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store_fail(store, error, what);
    return TRUE;
}

gboolean lifecycle_finish(Store *store, gboolean ok, GError **error)
{
    if (!ok) {
        store_rollback(store);
        return FALSE;
    }
    return store_commit(store, error);
}
