/* The working-time calendar on the real 2026 calendar of the civil service (conf/holidays.txt):
 * every rule of SPEC §5 with the days that make it interesting (Tết, the worked Saturdays
 * 10/1 and 22/8, the bridge day 31/8, Giỗ Tổ, 30/4-1/5), at 07:00-11:00 and 13:00-17:00. */
#include "calendar/calendar.h"
#include "util/util.h"

#include <locale.h>

static GPtrArray *holidays;
static GTimeZone *zone;

static char *holidays_path(void)
{
    const char *source = g_getenv("PAHT_SOURCE_DIR");
    if (source)
        return g_build_filename(source, "conf", "holidays.txt", NULL);
    g_autofree char *here = g_path_get_dirname(__FILE__);
    return g_build_filename(here, "..", "..", "conf", "holidays.txt", NULL);
}

static Calendar *province(void)
{
    static const WorkPeriod periods[] = {{7 * 60, 11 * 60}, {13 * 60, 17 * 60}};
    guint8 mon_fri = 0;
    for (int d = G_DATE_MONDAY; d <= G_DATE_FRIDAY; d++)
        mon_fri |= (guint8)(1u << d);
    return calendar_new(zone, periods, 2, mon_fri, holidays);
}

static gint64 at(const char *rfc3339)
{
    gint64 v = 0;
    g_assert_true(clock_parse_rfc3339(rfc3339, &v));
    return v;
}

/* assert a result as RFC 3339 in the province's zone: failures then read like the calendar */
#define assert_time(t, expected)                                                                   \
    do {                                                                                           \
        g_autofree char *got_ = clock_format_rfc3339((t), zone);                                   \
        g_assert_cmpstr(got_, ==, (expected));                                                     \
    } while (0)

static void test_hours_inside_a_working_day(void)
{
    g_autoptr(Calendar) cal = province();
    g_assert_cmpint(calendar_seconds_per_day(cal), ==, 8 * 3600);
    /* Monday 23/11/2026: 08:00 + 2 h stays in the morning */
    assert_time(calendar_add_working_hours(cal, at("2026-11-23T08:00:00+07:00"), 2),
                "2026-11-23T10:00:00+07:00");
    /* seconds are kept: a report at 08:00:30 is due at 09:00:30 */
    assert_time(calendar_add_working_hours(cal, at("2026-11-23T08:00:30+07:00"), 1),
                "2026-11-23T09:00:30+07:00");
}

static void test_count_ending_at_noon_ends_at_eleven(void)
{
    g_autoptr(Calendar) cal = province();
    /* the last working minute before the break ends at 11:00, not after the break */
    assert_time(calendar_add_working_hours(cal, at("2026-11-23T09:00:00+07:00"), 2),
                "2026-11-23T11:00:00+07:00");
    assert_time(calendar_add_working_hours(cal, at("2026-11-23T13:00:00+07:00"), 4),
                "2026-11-23T17:00:00+07:00");
}

static void test_lunch_break_skipped(void)
{
    g_autoptr(Calendar) cal = province();
    /* 4 working hours from 08:00: 3 before the break, 1 after it */
    assert_time(calendar_add_working_hours(cal, at("2026-11-23T08:00:00+07:00"), 4),
                "2026-11-23T14:00:00+07:00");
    /* arriving in the break: counting starts at 13:00 */
    assert_time(calendar_add_working_hours(cal, at("2026-11-23T11:30:00+07:00"), 4),
                "2026-11-23T17:00:00+07:00");
    /* arriving at 11:00 sharp is arriving in the break */
    assert_time(calendar_add_working_hours(cal, at("2026-11-23T11:00:00+07:00"), 1),
                "2026-11-23T14:00:00+07:00");
}

static void test_night_arrival_starts_next_morning(void)
{
    g_autoptr(Calendar) cal = province();
    assert_time(calendar_add_working_hours(cal, at("2026-11-23T20:00:00+07:00"), 4),
                "2026-11-24T11:00:00+07:00");
    assert_time(calendar_add_working_hours(cal, at("2026-11-24T05:10:00+07:00"), 1),
                "2026-11-24T08:00:00+07:00");
    /* 17:00 is after hours: the count spills into the next morning */
    assert_time(calendar_add_working_hours(cal, at("2026-11-23T16:00:00+07:00"), 4),
                "2026-11-24T10:00:00+07:00");
    /* midnight in UTC is 07:00 here: the zone, not UTC, decides */
    assert_time(calendar_add_working_hours(cal, at("2026-11-23T00:00:00Z"), 1),
                "2026-11-23T08:00:00+07:00");
}

static void test_weekend_skipped(void)
{
    g_autoptr(Calendar) cal = province();
    /* Friday 27/11 16:00: 1 hour on Friday, 3 on Monday 30/11 */
    assert_time(calendar_add_working_hours(cal, at("2026-11-27T16:00:00+07:00"), 4),
                "2026-11-30T10:00:00+07:00");
    /* a report on Saturday waits for Monday */
    assert_time(calendar_add_working_hours(cal, at("2026-11-28T10:00:00+07:00"), 4),
                "2026-11-30T11:00:00+07:00");
    assert_time(calendar_next_working_time(cal, at("2026-11-29T23:59:00+07:00")),
                "2026-11-30T07:00:00+07:00");
}

static void test_days_are_eight_working_hours(void)
{
    g_autoptr(Calendar) cal = province();
    /* Điều 8.1: 6 working days from Monday 23/11 09:00 -> Tuesday 1/12 09:00 */
    assert_time(calendar_add_working_days(cal, at("2026-11-23T09:00:00+07:00"), 6),
                "2026-12-01T09:00:00+07:00");
    /* a day from Friday evening is Monday's whole day, not Saturday */
    assert_time(calendar_add_working_days(cal, at("2026-11-27T18:00:00+07:00"), 1),
                "2026-11-30T17:00:00+07:00");
    /* a day from the lunch break: 4 h in the afternoon, 4 h the next morning, and the count
     * ends at 11:00 (not "the same time tomorrow", which would be 12:00 or 13:00) */
    assert_time(calendar_add_working_days(cal, at("2026-11-23T12:00:00+07:00"), 1),
                "2026-11-24T11:00:00+07:00");
    assert_time(calendar_add_working_days(cal, at("2026-11-23T09:00:00+07:00"), 0),
                "2026-11-23T09:00:00+07:00");
    g_assert_cmpint(calendar_add_working_days(cal, 0, -1), ==, -1);
}

static void test_tet_2026(void)
{
    g_autoptr(Calendar) cal = province();
    GDate d;
    g_date_clear(&d, 1);
    for (int day = 14; day <= 22; day++) {
        g_date_set_dmy(&d, (GDateDay)day, G_DATE_FEBRUARY, 2026);
        g_assert_false(calendar_is_working_day(cal, &d));
    }
    g_date_set_dmy(&d, 13, G_DATE_FEBRUARY, 2026);
    g_assert_true(calendar_is_working_day(cal, &d));
    /* Friday 13/2 15:00 + 4 h: 2 h before Tết, 2 h after it on Monday 23/2 */
    assert_time(calendar_add_working_hours(cal, at("2026-02-13T15:00:00+07:00"), 4),
                "2026-02-23T09:00:00+07:00");
    /* Thursday 12/2 10:00 + 2 days: 5 h Thursday, 8 h Friday, 3 h after Tết */
    assert_time(calendar_add_working_days(cal, at("2026-02-12T10:00:00+07:00"), 2),
                "2026-02-23T10:00:00+07:00");
    /* a report sent on the first day of Tết counts from the first morning after it */
    assert_time(calendar_add_working_hours(cal, at("2026-02-17T09:00:00+07:00"), 4),
                "2026-02-23T11:00:00+07:00");
}

static void test_new_year_and_worked_saturday_10_january(void)
{
    g_autoptr(Calendar) cal = province();
    GDate d;
    g_date_clear(&d, 1);
    g_date_set_dmy(&d, 2, G_DATE_JANUARY, 2026); /* Friday, swapped */
    g_assert_false(calendar_is_working_day(cal, &d));
    g_date_set_dmy(&d, 10, G_DATE_JANUARY, 2026); /* Saturday, worked in exchange */
    g_assert_true(calendar_is_working_day(cal, &d));
    g_date_set_dmy(&d, 17, G_DATE_JANUARY, 2026); /* an ordinary Saturday */
    g_assert_false(calendar_is_working_day(cal, &d));
    /* Wednesday 31/12/2025 16:00 + 2 h: 1 h, then Thursday 1/1 to Sunday 4/1 off */
    assert_time(calendar_add_working_hours(cal, at("2025-12-31T16:00:00+07:00"), 2),
                "2026-01-05T08:00:00+07:00");
    /* Friday 9/1 16:00 + 4 h: 1 h Friday, 3 h on the worked Saturday */
    assert_time(calendar_add_working_hours(cal, at("2026-01-09T16:00:00+07:00"), 4),
                "2026-01-10T10:00:00+07:00");
    /* and a report arriving that Saturday is counted at once */
    g_assert_true(calendar_is_working_time(cal, at("2026-01-10T08:00:00+07:00")));
}

static void test_worked_saturday_22_august_and_bridge_day_31_august(void)
{
    g_autoptr(Calendar) cal = province();
    GDate d;
    g_date_clear(&d, 1);
    g_date_set_dmy(&d, 22, G_DATE_AUGUST, 2026);
    g_assert_true(calendar_is_working_day(cal, &d));
    g_date_set_dmy(&d, 31, G_DATE_AUGUST, 2026); /* Monday, the bridge day */
    g_assert_false(calendar_is_working_day(cal, &d));
    g_date_set_dmy(&d, 3, G_DATE_SEPTEMBER, 2026);
    g_assert_true(calendar_is_working_day(cal, &d));
    /* Friday 21/8 16:00 + 2 h: 1 h, then Saturday 22/8 07:00-08:00 */
    assert_time(calendar_add_working_hours(cal, at("2026-08-21T16:00:00+07:00"), 2),
                "2026-08-22T08:00:00+07:00");
    /* Friday 28/8 16:00 + 4 h: 1 h, then Saturday 29/8 to Wednesday 2/9 off */
    assert_time(calendar_add_working_hours(cal, at("2026-08-28T16:00:00+07:00"), 4),
                "2026-09-03T10:00:00+07:00");
    /* 6 working days from Monday 24/8 09:00: 25, 26, 27, 28/8, then 3/9 and 4/9 */
    assert_time(calendar_add_working_days(cal, at("2026-08-24T09:00:00+07:00"), 6),
                "2026-09-04T09:00:00+07:00");
}

static void test_gio_to_and_reunification_day(void)
{
    g_autoptr(Calendar) cal = province();
    /* Friday 24/4 16:00 + 4 h: Monday 27/4 is Giỗ Tổ (moved from Sunday 26/4) */
    assert_time(calendar_add_working_hours(cal, at("2026-04-24T16:00:00+07:00"), 4),
                "2026-04-28T10:00:00+07:00");
    /* Wednesday 29/4 16:00 + 4 h: Thursday 30/4 to Sunday 3/5 off */
    assert_time(calendar_add_working_hours(cal, at("2026-04-29T16:00:00+07:00"), 4),
                "2026-05-04T10:00:00+07:00");
}

static void test_walking_backwards(void)
{
    g_autoptr(Calendar) cal = province();
    gint64 day = calendar_seconds_per_day(cal);
    /* the reminder one working day before a deadline */
    assert_time(calendar_subtract_working_seconds(cal, at("2026-12-01T09:00:00+07:00"), day),
                "2026-11-30T09:00:00+07:00");
    /* ... across Tết: 2 h on Monday 23/2, 6 h on Friday 13/2 */
    assert_time(calendar_subtract_working_seconds(cal, at("2026-02-23T09:00:00+07:00"), day),
                "2026-02-13T09:00:00+07:00");
    /* ... and the two walks are inverses */
    gint64 from = at("2026-08-20T14:25:00+07:00");
    for (int hours = 1; hours <= 40; hours += 3) {
        gint64 due = calendar_add_working_hours(cal, from, hours);
        g_assert_cmpint(calendar_subtract_working_seconds(cal, due, (gint64)hours * 3600), ==,
                        from);
        g_assert_cmpint(calendar_working_seconds_between(cal, from, due), ==, (gint64)hours * 3600);
    }
}

static void test_working_time_between(void)
{
    g_autoptr(Calendar) cal = province();
    /* a whole week of Tết holds no working time */
    g_assert_cmpint(calendar_working_seconds_between(cal, at("2026-02-14T00:00:00+07:00"),
                                                     at("2026-02-23T07:00:00+07:00")),
                    ==, 0);
    g_assert_cmpint(calendar_working_seconds_between(cal, at("2026-11-23T10:00:00+07:00"),
                                                     at("2026-11-23T14:00:00+07:00")),
                    ==, 2 * 3600);
    g_assert_cmpint(calendar_working_seconds_between(cal, at("2026-11-23T14:00:00+07:00"),
                                                     at("2026-11-23T10:00:00+07:00")),
                    ==, 0);
}

static void test_working_time_predicate(void)
{
    g_autoptr(Calendar) cal = province();
    g_assert_true(calendar_is_working_time(cal, at("2026-11-23T07:00:00+07:00")));
    g_assert_true(calendar_is_working_time(cal, at("2026-11-23T10:59:59+07:00")));
    g_assert_false(calendar_is_working_time(cal, at("2026-11-23T11:00:00+07:00")));
    g_assert_false(calendar_is_working_time(cal, at("2026-11-23T06:59:59+07:00")));
    g_assert_false(calendar_is_working_time(cal, at("2026-11-23T17:00:00+07:00")));
    g_assert_false(calendar_is_working_time(cal, at("2026-11-28T09:00:00+07:00")));
    g_assert_false(calendar_is_working_time(cal, at("2026-09-02T09:00:00+07:00")));
    assert_time(calendar_next_working_time(cal, at("2026-11-23T11:59:00+07:00")),
                "2026-11-23T13:00:00+07:00");
    assert_time(calendar_next_working_time(cal, at("2026-11-23T09:15:00+07:00")),
                "2026-11-23T09:15:00+07:00");
}

static void test_work_entry_wins_over_off_range(void)
{
    /* a province that marks a whole week off but works its Saturday: the explicit swap
     * counts, whichever order the file lists them in */
    static const WorkPeriod periods[] = {{7 * 60, 11 * 60}, {13 * 60, 17 * 60}};
    guint8 mon_fri = 0;
    for (int d = G_DATE_MONDAY; d <= G_DATE_FRIDAY; d++)
        mon_fri |= (guint8)(1u << d);
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);
    Holiday *work = g_new0(Holiday, 1);
    g_date_clear(&work->first, 1);
    g_date_set_dmy(&work->first, 7, G_DATE_NOVEMBER, 2026);
    work->last = work->first;
    work->kind = HOLIDAY_WORK;
    Holiday *off = g_new0(Holiday, 1);
    g_date_clear(&off->first, 1);
    g_date_set_dmy(&off->first, 2, G_DATE_NOVEMBER, 2026);
    g_date_clear(&off->last, 1);
    g_date_set_dmy(&off->last, 8, G_DATE_NOVEMBER, 2026);
    off->kind = HOLIDAY_OFF;
    g_ptr_array_add(list, work);
    g_ptr_array_add(list, off);
    g_autoptr(Calendar) cal = calendar_new(zone, periods, 2, mon_fri, list);
    assert_time(calendar_add_working_hours(cal, at("2026-11-02T09:00:00+07:00"), 1),
                "2026-11-07T08:00:00+07:00");
}

static void test_configured_hours_and_days(void)
{
    /* Huế's hours (notes/calendar.md): 08:00-11:30, 13:00-17:30, so a day is 8 h too, and a
     * province that also works Saturday mornings would list sat in workdays */
    static const WorkPeriod hue[] = {{8 * 60, 11 * 60 + 30}, {13 * 60, 17 * 60 + 30}};
    guint8 mon_sat = 0;
    for (int d = G_DATE_MONDAY; d <= G_DATE_SATURDAY; d++)
        mon_sat |= (guint8)(1u << d);
    g_autoptr(Calendar) cal = calendar_new(zone, hue, 2, mon_sat, holidays);
    g_assert_cmpint(calendar_seconds_per_day(cal), ==, 8 * 3600);
    assert_time(calendar_add_working_hours(cal, at("2026-11-27T16:00:00+07:00"), 4),
                "2026-11-28T10:30:00+07:00");
    /* a single long period: a day is its length */
    static const WorkPeriod one[] = {{9 * 60, 15 * 60}};
    g_autoptr(Calendar) six = calendar_new(zone, one, 1, mon_sat, NULL);
    g_assert_cmpint(calendar_seconds_per_day(six), ==, 6 * 3600);
    assert_time(calendar_add_working_days(six, at("2026-11-23T10:00:00+07:00"), 2),
                "2026-11-25T10:00:00+07:00");
}

static void test_calendar_without_working_time_gives_up(void)
{
    static const WorkPeriod periods[] = {{7 * 60, 11 * 60}};
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);
    Holiday *off = g_new0(Holiday, 1);
    g_date_clear(&off->first, 1);
    g_date_set_dmy(&off->first, 1, G_DATE_JANUARY, 2010);
    g_date_clear(&off->last, 1);
    g_date_set_dmy(&off->last, 31, G_DATE_DECEMBER, 2040);
    off->kind = HOLIDAY_OFF;
    g_ptr_array_add(list, off);
    g_autoptr(Calendar) cal = calendar_new(zone, periods, 1, (guint8)(1u << G_DATE_MONDAY), list);
    g_assert_cmpint(calendar_add_working_hours(cal, at("2026-11-23T08:00:00+07:00"), 1), ==, -1);
    g_assert_cmpint(calendar_subtract_working_seconds(cal, at("2026-11-23T08:00:00+07:00"), 60), ==,
                    -1);
}

static void test_holidays_file_matches_the_published_schedules(void)
{
    /* notes/calendar.md, checked day by day: every civil-service day off of 2024-2026 is off,
     * every worked Saturday is worked, and the fixed-date holidays of 2027 are there */
    g_autoptr(Calendar) cal = province();
    static const char *const off[] = {
        "2024-01-01", "2024-02-08", "2024-02-14", "2024-04-18", "2024-04-29", "2024-04-30",
        "2024-05-01", "2024-09-02", "2024-09-03", "2025-01-01", "2025-01-27", "2025-01-31",
        "2025-04-07", "2025-04-30", "2025-05-01", "2025-05-02", "2025-09-01", "2025-09-02",
        "2026-01-01", "2026-01-02", "2026-02-16", "2026-02-20", "2026-04-27", "2026-04-30",
        "2026-05-01", "2026-08-31", "2026-09-01", "2026-09-02", "2027-01-01", "2027-04-30",
        "2027-05-03", "2027-09-02",
    };
    static const char *const worked[] = {"2024-05-04", "2025-04-26", "2026-01-10", "2026-08-22"};
    static const char *const ordinary[] = {"2024-02-15", "2025-02-03", "2026-02-23",
                                           "2026-04-28", "2026-05-04", "2026-09-03"};
    for (gsize i = 0; i < G_N_ELEMENTS(off); i++) {
        GDate d;
        g_date_clear(&d, 1);
        g_date_set_parse(&d, off[i]);
        g_assert_true(g_date_valid(&d));
        if (calendar_is_working_day(cal, &d))
            g_error("%s should be a day off", off[i]);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(worked); i++) {
        GDate d;
        g_date_clear(&d, 1);
        g_date_set_parse(&d, worked[i]);
        g_assert_cmpint(g_date_get_weekday(&d), ==, G_DATE_SATURDAY);
        if (!calendar_is_working_day(cal, &d))
            g_error("%s should be worked", worked[i]);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(ordinary); i++) {
        GDate d;
        g_date_clear(&d, 1);
        g_date_set_parse(&d, ordinary[i]);
        if (!calendar_is_working_day(cal, &d))
            g_error("%s should be an ordinary working day", ordinary[i]);
    }
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C.UTF-8"); /* failures quote Vietnamese */
    g_test_init(&argc, &argv, NULL);
    g_autofree char *path = holidays_path();
    GError *error = NULL;
    holidays = holidays_load(path, &error);
    g_assert_no_error(error);
    zone = g_time_zone_new_identifier("Asia/Ho_Chi_Minh");
    g_assert_nonnull(zone);
    g_test_add_func("/calendar/hours-inside-a-day", test_hours_inside_a_working_day);
    g_test_add_func("/calendar/count-ending-at-eleven", test_count_ending_at_noon_ends_at_eleven);
    g_test_add_func("/calendar/lunch-break", test_lunch_break_skipped);
    g_test_add_func("/calendar/night-arrival", test_night_arrival_starts_next_morning);
    g_test_add_func("/calendar/weekend", test_weekend_skipped);
    g_test_add_func("/calendar/days-are-8-hours", test_days_are_eight_working_hours);
    g_test_add_func("/calendar/tet-2026", test_tet_2026);
    g_test_add_func("/calendar/new-year-and-saturday-10-1",
                    test_new_year_and_worked_saturday_10_january);
    g_test_add_func("/calendar/saturday-22-8-and-bridge-31-8",
                    test_worked_saturday_22_august_and_bridge_day_31_august);
    g_test_add_func("/calendar/gio-to-and-30-4", test_gio_to_and_reunification_day);
    g_test_add_func("/calendar/backwards", test_walking_backwards);
    g_test_add_func("/calendar/between", test_working_time_between);
    g_test_add_func("/calendar/is-working-time", test_working_time_predicate);
    g_test_add_func("/calendar/work-wins-over-off", test_work_entry_wins_over_off_range);
    g_test_add_func("/calendar/configured-hours", test_configured_hours_and_days);
    g_test_add_func("/calendar/no-working-time", test_calendar_without_working_time_gives_up);
    g_test_add_func("/calendar/holidays-file", test_holidays_file_matches_the_published_schedules);
    int status = g_test_run();
    g_ptr_array_unref(holidays);
    g_time_zone_unref(zone);
    return status;
}
