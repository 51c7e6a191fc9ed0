/* calendar: the working time of the province (SPEC §5), in which every deadline of the
 * regulation is counted. Pure: no SQL, no I/O once made.
 */
#ifndef PAHT_CALENDAR_H
#define PAHT_CALENDAR_H

#include <glib.h>
#include "conf/conf.h"

G_BEGIN_DECLS

/* ---- the working-time calendar (SPEC §5) -------------------------------------------------
 * Zone, working periods and workdays from [calendar]; holidays ("off") and worked Saturdays
 * ("work") from the holidays file. Times are unix seconds. Every walk gives up after ten years
 * without a working minute and returns -1 (a calendar whose every day is "off"). */

typedef struct Calendar Calendar;

/* copies what it needs; holidays may be NULL */
Calendar *calendar_new(GTimeZone *zone, const WorkPeriod *periods, int n_periods, guint8 workdays,
                       const GPtrArray *holidays);
Calendar *calendar_new_from_config(const Config *config);
void calendar_free(Calendar *calendar);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Calendar, calendar_free)

GTimeZone *calendar_zone(const Calendar *calendar); /* borrowed */
/* the working time of one day: "N working days" is N times this (8 h by default) */
gint64 calendar_seconds_per_day(const Calendar *calendar);
gboolean calendar_is_working_day(const Calendar *calendar, const GDate *date);
gboolean calendar_is_working_time(const Calendar *calendar, gint64 t);
/* t itself inside working time, else the start of the next working period */
gint64 calendar_next_working_time(const Calendar *calendar, gint64 t);
/* "N working hours from t" (SPEC §5): walk forward from t counting only working seconds; the
 * result is the instant the last one ends (a count ending at 11:00 ends at 11:00) */
gint64 calendar_add_working_seconds(const Calendar *calendar, gint64 from, gint64 seconds);
gint64 calendar_add_working_hours(const Calendar *calendar, gint64 from, int hours);
gint64 calendar_add_working_days(const Calendar *calendar, gint64 from, int days);
/* the same walk backwards: "1 working day before the deadline" */
gint64 calendar_subtract_working_seconds(const Calendar *calendar, gint64 from, gint64 seconds);
/* working seconds in [from, to) */
gint64 calendar_working_seconds_between(const Calendar *calendar, gint64 from, gint64 to);

G_END_DECLS

#endif
