/* Statistics of the reports (Điều 11.6, 11.8), counted as they stand now, by the periods of
 * Decree 09/2019/NĐ-CP Art. 12 or any range of days; and the CSV the province sends upward.
 * Data in, data out: pahtctl, pahtd's digest and the web console print what these return. */
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

/* the period kinds of Decree 09/2019/NĐ-CP Art. 12, by the months their periods end in */
static gboolean period_ends_in(const char *kind, int month)
{
    if (g_str_equal(kind, "month"))
        return TRUE;
    if (g_str_equal(kind, "quarter"))
        return month % 3 == 0;
    if (g_str_equal(kind, "half"))
        return month % 6 == 0;
    return g_str_equal(kind, "year") && month == 12;
}

gboolean stats_period_last_closed(const char *kind, GTimeZone *zone, gint64 now, char **name,
                                  gint64 *from, gint64 *to)
{
    static const char *const kinds[] = {"month", "quarter", "half", "year", NULL};
    if (!kind || !g_strv_contains(kinds, kind))
        return FALSE;
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(now);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, zone);
    int year = g_date_time_get_year(local), month = g_date_time_get_month(local);
    /* a period ends on the 15th at midnight: walk back from this month to the first end */
    for (int i = 0; i < 13; i++) {
        if (period_ends_in(kind, month) && local_midnight(zone, year, month, 15) <= now) {
            if (g_str_equal(kind, "month"))
                *name = g_strdup_printf("month:%04d-%02d", year, month);
            else if (g_str_equal(kind, "quarter"))
                *name = g_strdup_printf("quarter:%04d-Q%d", year, month / 3);
            else if (g_str_equal(kind, "half"))
                *name = g_strdup_printf("half:%04d-H%d", year, month / 6);
            else
                *name = g_strdup_printf("year:%04d", year);
            g_autofree char *why = NULL;
            return stats_period_parse(*name, zone, from, to, &why);
        }
        if (--month == 0) {
            month = 12;
            year--;
        }
    }
    return FALSE;
}

static gboolean parse_day(const char *text, GTimeZone *zone, gint64 *out)
{
    int year = 0, month = 0, day = 0;
    char tail = 0;
    if (!text || sscanf(text, "%4d-%2d-%2d%c", &year, &month, &day, &tail) != 3 ||
        !g_date_valid_dmy((GDateDay)day, (GDateMonth)month, (GDateYear)year) || year < 2000 ||
        year > 9998)
        return FALSE;
    *out = local_midnight(zone, year, month, day);
    return *out > 0;
}

gboolean stats_range_parse(const char *first_day, const char *last_day, GTimeZone *zone,
                           gint64 *from, gint64 *to, char **why)
{
    gint64 last = 0;
    if (!parse_day(first_day, zone, from) || !parse_day(last_day, zone, &last)) {
        *why = g_strdup_printf("--from and --to take days, YYYY-MM-DD (got \"%s\" and \"%s\")",
                               first_day ? first_day : "", last_day ? last_day : "");
        return FALSE;
    }
    /* the last day is inclusive: up to the next midnight (23 or 25 hours away in a zone that
     * changes its clock) */
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(last);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, zone);
    g_autoptr(GDateTime) next = g_date_time_add_days(local, 1);
    *to = g_date_time_to_unix(next);
    if (*to <= *from) {
        *why = g_strdup_printf("--to %s is before --from %s", last_day, first_day);
        return FALSE;
    }
    return TRUE;
}

const char *const stats_reject_reasons[STATS_REJECT_REASONS + 1] = {
    "incomplete", "complaint", "out-of-scope", "duplicate", "spam", NULL};

void stats_line_free(StatsLine *line)
{
    if (!line)
        return;
    g_free(line->agency);
    g_free(line);
}

double stats_mean_working_days(const StatsLine *l)
{
    if (l->timed == 0 || l->seconds_per_day <= 0)
        return -1;
    return (double)l->working_seconds / l->timed / (double)l->seconds_per_day;
}

double stats_share_rated(const StatsLine *l)
{
    if (l->answered == 0)
        return -1;
    return 100.0 * (l->ratings[1] + l->ratings[2] + l->ratings[3]) / l->answered;
}

/* one report as the statistics see it */
typedef struct {
    const char *state, *reject_reason;
    gboolean overdue, assigned, extended;
    int rating;
    gint64 received_at, first_result; /* first_result 0: never published */
} Counted;

static void stats_count(StatsLine *line, const Counted *r, const Calendar *calendar)
{
    line->received++;
    if (g_str_equal(r->state, "rejected")) {
        line->rejected++;
        for (int i = 0; i < STATS_REJECT_REASONS; i++) {
            if (g_strcmp0(r->reject_reason, stats_reject_reasons[i]) == 0)
                line->rejected_by[i]++;
        }
        return;
    }
    if (r->first_result > 0) {
        line->accepted++;
        line->answered++;
        if (r->overdue)
            line->late++;
        else
            line->on_time++;
        if (calendar) {
            line->timed++;
            line->working_seconds +=
                calendar_working_seconds_between(calendar, r->received_at, r->first_result);
            line->seconds_per_day = calendar_seconds_per_day(calendar);
        }
    } else if (r->assigned) {
        line->accepted++;
        line->open++;
        if (r->overdue)
            line->open_overdue++;
    } else {
        line->waiting++;
    }
    if (r->overdue)
        line->overdue++;
    if (r->extended)
        line->extended++;
    if (r->rating >= 1 && r->rating <= 3)
        line->ratings[r->rating]++;
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

static StatsLine *line_of(GPtrArray *lines, GHashTable *by_agency, const char *agency)
{
    StatsLine *line = g_hash_table_lookup(by_agency, agency);
    if (!line) {
        line = g_new0(StatsLine, 1);
        line->agency = g_strdup(agency);
        g_ptr_array_add(lines, line);
        g_hash_table_insert(by_agency, line->agency, line);
    }
    return line;
}

GPtrArray *stats_collect(Store *store, const Calendar *calendar, gint64 from, gint64 to,
                         GError **error)
{
    /* through report_received: the cost follows the period, not the whole history. The first
     * publication is an event: a clarification publishes again, and the citizen had a result
     * from the first one. A purge keeps every column read here. */
    sqlite3_stmt *stmt = store_statement(
        store,
        "SELECT r.state, r.overdue, r.agency, coalesce(l.rating, 0), l.reject_reason,"
        " l.assigned_at IS NOT NULL, l.extended_until IS NOT NULL OR EXISTS (SELECT 1 FROM"
        " event e WHERE e.report_id = r.id AND e.kind = 'extended'), r.received_at,"
        " (SELECT min(e.at) FROM event e WHERE e.report_id = r.id AND e.kind = 'published')"
        " FROM report r LEFT JOIN report_lifecycle l ON l.report_id = r.id"
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
        const char *agency = (const char *)sqlite3_column_text(stmt, 2);
        Counted r = {
            .state = state ? state : "",
            .overdue = sqlite3_column_int(stmt, 1) != 0,
            .rating = sqlite3_column_int(stmt, 3),
            .reject_reason = (const char *)sqlite3_column_text(stmt, 4),
            .assigned = sqlite3_column_int(stmt, 5) != 0,
            .extended = sqlite3_column_int(stmt, 6) != 0,
            .received_at = sqlite3_column_int64(stmt, 7),
            .first_result = sqlite3_column_int64(stmt, 8),
        };
        stats_count(g_ptr_array_index(lines, 0), &r, calendar);
        if (agency && *agency)
            stats_count(line_of(lines, by_agency, agency), &r, calendar);
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

GPtrArray *lifecycle_stats(Store *store, gint64 from, gint64 to, GError **error)
{
    return stats_collect(store, NULL, from, to, error);
}

/* ---- CSV (RFC 4180) ----------------------------------------------------------------------- */

/* a field and its comma; csv_end_row turns the row's last comma into the line end */
static void csv_field(GString *out, const char *value)
{
    if (!value || !strpbrk(value, ",\"\r\n")) {
        g_string_append_printf(out, "%s,", value ? value : "");
        return;
    }
    g_string_append_c(out, '"');
    for (const char *p = value; *p; p++) {
        if (*p == '"')
            g_string_append_c(out, '"');
        g_string_append_c(out, *p);
    }
    g_string_append(out, "\",");
}

static void csv_int(GString *out, int value)
{
    char text[16];
    g_snprintf(text, sizeof text, "%d", value);
    csv_field(out, text);
}

/* a decimal with a point whatever the locale; empty for "none" */
static void csv_decimal(GString *out, double value)
{
    char text[G_ASCII_DTOSTR_BUF_SIZE];
    if (value < 0)
        csv_field(out, "");
    else
        csv_field(out, g_ascii_formatd(text, sizeof text, "%.1f", value));
}

static void csv_end_row(GString *out)
{
    g_string_truncate(out, out->len - 1);
    g_string_append(out, "\r\n");
}

static void csv_line(GString *out, const StatsLine *l, const Config *config)
{
    const Agency *a = l->agency ? config_find_agency(config, l->agency) : NULL;
    csv_field(out, l->agency ? l->agency : "");
    csv_field(out, l->agency ? (a ? a->name : l->agency) : "Tổng cộng");
    const int counts[] = {l->received, l->waiting, l->accepted, l->rejected};
    for (gsize i = 0; i < G_N_ELEMENTS(counts); i++)
        csv_int(out, counts[i]);
    for (int i = 0; i < STATS_REJECT_REASONS; i++)
        csv_int(out, l->rejected_by[i]);
    const int more[] = {l->answered, l->on_time,    l->late,       l->open,      l->open_overdue,
                        l->extended, l->ratings[1], l->ratings[2], l->ratings[3]};
    for (gsize i = 0; i < G_N_ELEMENTS(more); i++)
        csv_int(out, more[i]);
    csv_decimal(out, stats_share_rated(l));
    csv_decimal(out, stats_mean_working_days(l));
    csv_end_row(out);
}

char *stats_csv(const GPtrArray *lines, const Config *config)
{
    static const char *const header[] = {"Mã cơ quan",
                                         "Cơ quan",
                                         "Tiếp nhận",
                                         "Chờ xem xét",
                                         "Đã chấp nhận",
                                         "Từ chối",
                                         "Từ chối: thiếu thông tin",
                                         "Từ chối: khiếu nại, tố cáo",
                                         "Từ chối: ngoài phạm vi",
                                         "Từ chối: trùng lặp",
                                         "Từ chối: thư rác",
                                         "Đã trả lời",
                                         "Trả lời đúng hạn",
                                         "Trả lời quá hạn",
                                         "Đang xử lý",
                                         "Đang xử lý quá hạn",
                                         "Được gia hạn",
                                         "Rất hài lòng",
                                         "Hài lòng",
                                         "Không hài lòng",
                                         "Tỷ lệ được đánh giá (%)",
                                         "Số ngày làm việc trung bình đến khi có kết quả"};
    GString *out = g_string_new(NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(header); i++)
        csv_field(out, header[i]);
    csv_end_row(out);
    for (guint i = 1; i < lines->len; i++)
        csv_line(out, g_ptr_array_index(lines, i), config);
    if (lines->len > 0)
        csv_line(out, g_ptr_array_index(lines, 0), config);
    g_string_prepend(out, "\xEF\xBB\xBF");
    return g_string_free(out, FALSE);
}

/* ---- the overdue reports ------------------------------------------------------------------ */

void stats_overdue_free(StatsOverdue *item)
{
    if (!item)
        return;
    g_free(item->code);
    g_free(item->state);
    g_free(item->agency);
    g_free(item);
}

GPtrArray *stats_overdue(Store *store, gint64 from, gint64 to, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store,
        "SELECT r.id, r.code, r.state, r.agency, r.received_at,"
        " (SELECT d.due FROM deadline d WHERE d.report_id = r.id AND d.name = 'result'),"
        " EXISTS (SELECT 1 FROM event e WHERE e.report_id = r.id AND e.kind = 'published')"
        " FROM report r WHERE r.received_at >= ?1 AND r.received_at < ?2 AND r.overdue = 1"
        " AND r.classification NOT IN ('auto', 'bounce', 'reply')"
        " ORDER BY r.received_at, r.id",
        error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, from);
    sqlite3_bind_int64(stmt, 2, to);
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)stats_overdue_free);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        StatsOverdue *o = g_new0(StatsOverdue, 1);
        o->id = sqlite3_column_int64(stmt, 0);
        o->code = column_text(stmt, 1);
        o->state = column_text(stmt, 2);
        o->agency = column_text(stmt, 3);
        o->received_at = sqlite3_column_int64(stmt, 4);
        o->due = sqlite3_column_int64(stmt, 5);
        o->answered = sqlite3_column_int(stmt, 6) != 0;
        g_ptr_array_add(list, o);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        g_ptr_array_unref(list);
        store_fail(store, error, "list overdue reports");
        return NULL;
    }
    return list;
}
