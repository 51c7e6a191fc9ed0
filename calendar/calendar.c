/* The working-time calendar of SPEC §5: every deadline of the regulation (Phụ lục II) is
 * counted in working time, not in clock time.
 *
 * A working day is a configured workday (Monday to Friday) that the holidays file does not
 * mark "off", or any day it marks "work" (a Saturday worked in exchange for a bridge day,
 * làm bù). On a working day the working periods of [calendar] hours count (default 07:00-11:00
 * and 13:00-17:00), in the province's zone. "N working hours from t" walks forward from t and
 * counts only seconds inside working periods; a time outside them (night, lunch break,
 * weekend, holiday) starts counting at the next working minute. "N working days" is N times
 * the working time of one day (8 hours by default), not "the same hour N days later": the two
 * differ when t is outside working hours, and the regulation counts hours (Phụ lục II,
 * "thời gian thực hiện (giờ làm việc)"). */
#include "calendar/calendar.h"
#include "util/util.h"

/* No real calendar goes this long without a working minute; a broken one (every day "off")
 * must not hang the daemon. */
#define CALENDAR_MAX_DAYS (366 * 10)

struct Calendar {
    GTimeZone *zone;
    WorkPeriod *periods;
    int n_periods;
    guint8 workdays;     /* bit (1 << GDateWeekday) */
    GHashTable *special; /* julian day -> HolidayKind + 1 */
    gint64 seconds_per_day;
};

Calendar *calendar_new(GTimeZone *zone, const WorkPeriod *periods, int n_periods, guint8 workdays,
                       const GPtrArray *holidays)
{
    g_return_val_if_fail(zone != NULL && periods != NULL && n_periods > 0, NULL);
    Calendar *cal = g_new0(Calendar, 1);
    cal->zone = g_time_zone_ref(zone);
    cal->periods = g_memdup2(periods, sizeof(WorkPeriod) * (gsize)n_periods);
    cal->n_periods = n_periods;
    cal->workdays = workdays;
    cal->special = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (int i = 0; i < n_periods; i++)
        cal->seconds_per_day += (gint64)(periods[i].end_minute - periods[i].start_minute) * 60;
    /* "work" entries win over "off" ranges that cover the same day: a swap is the more
     * specific statement (the holidays file lists it on purpose) */
    for (int pass = 0; pass < 2 && holidays; pass++) {
        HolidayKind wanted = pass == 0 ? HOLIDAY_OFF : HOLIDAY_WORK;
        for (guint i = 0; i < holidays->len; i++) {
            const Holiday *h = g_ptr_array_index(holidays, i);
            if (h->kind != wanted || !g_date_valid(&h->first) || !g_date_valid(&h->last))
                continue;
            for (guint32 j = g_date_get_julian(&h->first); j <= g_date_get_julian(&h->last); j++)
                g_hash_table_insert(cal->special, GUINT_TO_POINTER(j),
                                    GINT_TO_POINTER((int)h->kind + 1));
        }
    }
    return cal;
}

Calendar *calendar_new_from_config(const Config *config)
{
    return calendar_new(config->calendar.zone, config->calendar.periods, config->calendar.n_periods,
                        config->calendar.workdays, config->calendar.holidays);
}

void calendar_free(Calendar *cal)
{
    if (!cal)
        return;
    g_time_zone_unref(cal->zone);
    g_free(cal->periods);
    g_hash_table_destroy(cal->special);
    g_free(cal);
}

GTimeZone *calendar_zone(const Calendar *cal)
{
    return cal->zone;
}

gint64 calendar_seconds_per_day(const Calendar *cal)
{
    return cal->seconds_per_day;
}

gboolean calendar_is_working_day(const Calendar *cal, const GDate *date)
{
    gpointer kind = g_hash_table_lookup(cal->special, GUINT_TO_POINTER(g_date_get_julian(date)));
    if (kind)
        return GPOINTER_TO_INT(kind) - 1 == HOLIDAY_WORK;
    return (cal->workdays & (1u << g_date_get_weekday(date))) != 0;
}

/* ---- local days and their working periods ---------------------------------------------------- */

static void local_date(const Calendar *cal, gint64 t, GDate *out)
{
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(t);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, cal->zone);
    g_date_clear(out, 1);
    g_date_set_dmy(out, (GDateDay)g_date_time_get_day_of_month(local),
                   (GDateMonth)g_date_time_get_month(local),
                   (GDateYear)g_date_time_get_year(local));
}

/* the unix time of a wall-clock minute of a local date (24:00 is the next day's midnight) */
static gint64 local_minute(const Calendar *cal, const GDate *date, int minute)
{
    GDate day = *date;
    if (minute >= 24 * 60) {
        g_date_add_days(&day, 1);
        minute -= 24 * 60;
    }
    g_autoptr(GDateTime) dt =
        g_date_time_new(cal->zone, g_date_get_year(&day), g_date_get_month(&day),
                        g_date_get_day(&day), minute / 60, minute % 60, 0);
    return dt ? g_date_time_to_unix(dt) : 0;
}

gboolean calendar_is_working_time(const Calendar *cal, gint64 t)
{
    GDate date;
    local_date(cal, t, &date);
    if (!calendar_is_working_day(cal, &date))
        return FALSE;
    for (int i = 0; i < cal->n_periods; i++) {
        if (t >= local_minute(cal, &date, cal->periods[i].start_minute) &&
            t < local_minute(cal, &date, cal->periods[i].end_minute))
            return TRUE;
    }
    return FALSE;
}

/* ---- walking ----------------------------------------------------------------------------------
 */

gint64 calendar_add_working_seconds(const Calendar *cal, gint64 from, gint64 seconds)
{
    g_return_val_if_fail(seconds >= 0, -1);
    gint64 cursor = from;
    gint64 remaining = seconds;
    GDate date;
    local_date(cal, from, &date);
    for (int day = 0; day < CALENDAR_MAX_DAYS; day++, g_date_add_days(&date, 1)) {
        if (!calendar_is_working_day(cal, &date))
            continue;
        for (int i = 0; i < cal->n_periods; i++) {
            gint64 start = local_minute(cal, &date, cal->periods[i].start_minute);
            gint64 end = local_minute(cal, &date, cal->periods[i].end_minute);
            if (end <= cursor)
                continue;
            if (cursor < start)
                cursor = start;
            /* "<=": a count that ends exactly at 11:00 ends at 11:00, not at 13:00 */
            if (remaining <= end - cursor)
                return cursor + remaining;
            remaining -= end - cursor;
            cursor = end;
        }
    }
    return -1;
}

gint64 calendar_subtract_working_seconds(const Calendar *cal, gint64 from, gint64 seconds)
{
    g_return_val_if_fail(seconds >= 0, -1);
    gint64 cursor = from;
    gint64 remaining = seconds;
    GDate date;
    local_date(cal, from, &date);
    for (int day = 0; day < CALENDAR_MAX_DAYS; day++, g_date_subtract_days(&date, 1)) {
        if (!calendar_is_working_day(cal, &date))
            continue;
        for (int i = cal->n_periods - 1; i >= 0; i--) {
            gint64 start = local_minute(cal, &date, cal->periods[i].start_minute);
            gint64 end = local_minute(cal, &date, cal->periods[i].end_minute);
            if (start >= cursor)
                continue;
            if (cursor > end)
                cursor = end;
            if (remaining <= cursor - start)
                return cursor - remaining;
            remaining -= cursor - start;
            cursor = start;
        }
    }
    return -1;
}

gint64 calendar_next_working_time(const Calendar *cal, gint64 t)
{
    return calendar_add_working_seconds(cal, t, 0);
}

gint64 calendar_add_working_hours(const Calendar *cal, gint64 from, int hours)
{
    return hours < 0 ? -1 : calendar_add_working_seconds(cal, from, (gint64)hours * 3600);
}

gint64 calendar_add_working_days(const Calendar *cal, gint64 from, int days)
{
    return days < 0 ? -1 : calendar_add_working_seconds(cal, from, days * cal->seconds_per_day);
}

gint64 calendar_working_seconds_between(const Calendar *cal, gint64 from, gint64 to)
{
    if (to <= from)
        return 0;
    gint64 total = 0;
    GDate date, last;
    local_date(cal, from, &date);
    local_date(cal, to, &last);
    for (int day = 0; day < CALENDAR_MAX_DAYS && g_date_compare(&date, &last) <= 0;
         day++, g_date_add_days(&date, 1)) {
        if (!calendar_is_working_day(cal, &date))
            continue;
        for (int i = 0; i < cal->n_periods; i++) {
            gint64 start = MAX(local_minute(cal, &date, cal->periods[i].start_minute), from);
            gint64 end = MIN(local_minute(cal, &date, cal->periods[i].end_minute), to);
            if (end > start)
                total += end - start;
        }
    }
    return total;
}
