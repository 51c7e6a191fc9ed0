/* Statistics of the reports (Điều 11.6, 11.8), counted as they stand now, by the periods of
 * Decree 09/2019/NĐ-CP Art. 12. */
#include "lifecycle/lifecycle_private.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>

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
