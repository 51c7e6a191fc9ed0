/* The statistics the province sends upward (Điều 11.6, 11.8), on a real SQLite file and the
 * real 2026 calendar, checked against numbers counted by hand: reports received on either side
 * of a period's edge (the 14th at 23:59:59 and the 15th at midnight, Decree 09/2019 Art. 12),
 * every column of the CSV, the mean working days, and the periods pahtd's digest closes. */
#include "config_fixture.h"
#include "lifecycle/lifecycle.h"
#include "util/util.h"

#include <locale.h>
#include <string.h>

typedef struct {
    char *dir;
    Config *config;
    Calendar *calendar;
    Store *store;
    Lifecycle lc;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    FixtureConfig opts = {
        .agencies = FIXTURE_AGENCY_XD FIXTURE_AGENCY_GTVT,
        .holidays = TRUE,
    };
    f->config = fixture_config_open("statistics", &opts, &f->dir);
    f->calendar = calendar_new_from_config(f->config);
    GError *error = NULL;
    f->store = store_open(f->config->gateway.database, &error);
    g_assert_no_error(error);
    f->lc = (Lifecycle){.config = f->config, .calendar = f->calendar, .actor = "ioc.lan"};
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    store_close(f->store);
    calendar_free(f->calendar);
    fixture_config_close(f->config, f->dir);
    g_unsetenv("PAHT_NOW");
}

static void ok(gboolean done, GError *error)
{
    g_assert_no_error(error);
    g_assert_true(done);
}

static gint64 at(const char *rfc3339)
{
    gint64 v = 0;
    g_assert_true(clock_parse_rfc3339(rfc3339, &v));
    return v;
}

/* a citizen's report received at when; without a phone it is incomplete */
static gint64 report_at(Fixture *f, const char *when, gboolean complete)
{
    fixture_now_is(when);
    g_autoptr(Draft) d = draft_new();
    d->subject = g_strdup("Đèn đường hỏng");
    d->text = g_strdup("Đèn đường trước nhà số 12 bị hỏng.");
    d->classification = g_strdup("report");
    d->citizen.name = g_strdup("Nguyễn Văn An");
    d->citizen.address = g_strdup("12 Lê Lợi, Phường 1");
    d->citizen.id_number = g_strdup("094201001234");
    d->citizen.phone = complete ? g_strdup("0912345678") : NULL;
    d->citizen.email = g_strdup("an@example.vn");
    d->location.text = g_strdup("Đường Lê Lợi");
    return fixture_store_report(f->store, f->config, d);
}

static void answer(Fixture *f, gint64 id, const char *when)
{
    GError *error = NULL;
    fixture_now_is(when);
    ok(lifecycle_submit_result(f->store, &f->lc, id, "Đã sửa xong.", &error), error);
    ok(lifecycle_approve(f->store, &f->lc, id, &error), error);
    ok(lifecycle_publish(f->store, &f->lc, id, NULL, &error), error);
}

static void accept(Fixture *f, gint64 id, const char *agency, const char *when)
{
    GError *error = NULL;
    fixture_now_is(when);
    ok(lifecycle_accept(f->store, &f->lc, id, agency, NULL, NULL, &error), error);
}

static void overdue(Fixture *f, gint64 id, const char *when)
{
    GError *error = NULL;
    gboolean marked = FALSE;
    fixture_now_is(when);
    ok(lifecycle_mark_overdue(f->store, &f->lc, id, "result", clock_now_unix(), &marked, &error),
       error);
    g_assert_true(marked);
}

static void reject(Fixture *f, gint64 id, const char *reason, const char *when)
{
    GError *error = NULL;
    fixture_now_is(when);
    ok(lifecycle_reject(f->store, &f->lc, id, reason, NULL, &error), error);
}

/* The story counted by hand below (2026-12-01 is a Tuesday; no holiday in these weeks):
 *   A 14/11 23:59:59 (Sat)  xd, published Tue 17/11 10:00, rated "hài lòng"   -> November
 *   B 15/11 00:00:00 (Sun)  gtvt, extended, flagged overdue, still open        -> December
 *   F 01/12 09:00           incomplete: waits for the citizen                  -> December
 *   C 14/12 10:00           rejected: duplicate                                -> December
 *   D 14/12 16:00           rejected: spam                                     -> December
 *   E 15/12 00:00 (Tue)     xd, flagged overdue, published Mon 28/12 10:00     -> January 2027 */
static void tell_the_story(Fixture *f)
{
    GError *error = NULL;
    gint64 a = report_at(f, "2026-11-14T23:59:59+07:00", TRUE);
    gint64 b = report_at(f, "2026-11-15T00:00:00+07:00", TRUE);
    accept(f, a, "xd", "2026-11-16T08:00:00+07:00");
    accept(f, b, "gtvt", "2026-11-16T08:00:00+07:00");
    answer(f, a, "2026-11-17T10:00:00+07:00");
    CitizenReply reply;
    ok(lifecycle_citizen_reply(f->store, a, "2", &f->lc, &reply, &error), error);
    fixture_now_is("2026-11-18T09:00:00+07:00");
    ok(lifecycle_extend(f->store, &f->lc, b, at("2026-11-30T17:00:00+07:00"), "cần khảo sát",
                        &error),
       error);
    overdue(f, b, "2026-12-01T08:00:00+07:00");
    report_at(f, "2026-12-01T09:00:00+07:00", FALSE);
    gint64 c = report_at(f, "2026-12-14T10:00:00+07:00", TRUE);
    gint64 d = report_at(f, "2026-12-14T16:00:00+07:00", TRUE);
    reject(f, c, "duplicate", "2026-12-14T11:00:00+07:00");
    reject(f, d, "spam", "2026-12-14T16:30:00+07:00");
    gint64 e = report_at(f, "2026-12-15T00:00:00+07:00", TRUE);
    accept(f, e, "xd", "2026-12-15T08:00:00+07:00");
    overdue(f, e, "2026-12-24T08:00:00+07:00");
    answer(f, e, "2026-12-28T10:00:00+07:00");
}

static GPtrArray *collect(Fixture *f, const char *period)
{
    gint64 from = 0, to = 0;
    g_autofree char *why = NULL;
    g_assert_true(stats_period_parse(period, f->config->calendar.zone, &from, &to, &why));
    GError *error = NULL;
    GPtrArray *lines = stats_collect(f->store, f->calendar, from, to, &error);
    g_assert_no_error(error);
    return lines;
}

static const StatsLine *line(GPtrArray *lines, const char *agency)
{
    for (guint i = 0; i < lines->len; i++) {
        const StatsLine *l = g_ptr_array_index(lines, i);
        if (g_strcmp0(l->agency, agency) == 0)
            return l;
    }
    g_error("no line for %s", agency ? agency : "the total");
}

static void test_report_on_the_14th_at_midnight_counts_in_its_own_month(Fixture *f,
                                                                        gconstpointer data)
{
    tell_the_story(f);
    g_autoptr(GPtrArray) november = collect(f, "month:2026-11");
    g_assert_cmpuint(november->len, ==, 2); /* the total and xd */
    const StatsLine *all = line(november, NULL);
    g_assert_cmpint(all->received, ==, 1);
    g_assert_cmpint(all->accepted, ==, 1);
    g_assert_cmpint(all->answered, ==, 1);
    g_assert_cmpint(all->on_time, ==, 1);
    g_assert_cmpint(all->late, ==, 0);
    g_assert_cmpint(all->ratings[2], ==, 1);
    g_assert_cmpfloat(stats_share_rated(all), ==, 100.0);
    /* Sat 23:59:59 -> Mon 16/11 (8 h) + Tue 17/11 07:00-10:00 (3 h) = 11 h = 1.375 days */
    g_assert_cmpfloat_with_epsilon(stats_mean_working_days(all), 1.375, 1e-9);
    g_assert_cmpstr(line(november, "xd")->agency, ==, "xd");
}

static void test_december_counted_by_hand(Fixture *f, gconstpointer data)
{
    tell_the_story(f);
    g_autoptr(GPtrArray) december = collect(f, "month:2026-12");
    const StatsLine *all = line(december, NULL);
    g_assert_cmpint(all->received, ==, 4); /* B, F, C, D */
    g_assert_cmpint(all->waiting, ==, 1);  /* F */
    g_assert_cmpint(all->accepted, ==, 1); /* B */
    g_assert_cmpint(all->rejected, ==, 2);
    g_assert_cmpint(all->rejected_by[3], ==, 1); /* duplicate */
    g_assert_cmpint(all->rejected_by[4], ==, 1); /* spam */
    g_assert_cmpint(all->rejected_by[0] + all->rejected_by[1] + all->rejected_by[2], ==, 0);
    g_assert_cmpint(all->answered, ==, 0);
    g_assert_cmpint(all->open, ==, 1);
    g_assert_cmpint(all->open_overdue, ==, 1);
    g_assert_cmpint(all->extended, ==, 1);
    g_assert_cmpfloat(stats_share_rated(all), ==, -1);
    g_assert_cmpfloat(stats_mean_working_days(all), ==, -1);
    g_assert_cmpint(all->received, ==, all->waiting + all->rejected + all->answered + all->open);
    const StatsLine *gtvt = line(december, "gtvt");
    g_assert_cmpint(gtvt->received, ==, 1);
    g_assert_cmpint(gtvt->open_overdue, ==, 1);
    g_assert_cmpint(gtvt->extended, ==, 1);
    g_assert_cmpuint(december->len, ==, 2); /* no xd report was received in December */

    g_autoptr(GPtrArray) january = collect(f, "month:2027-01");
    all = line(january, NULL);
    g_assert_cmpint(all->received, ==, 1); /* E, received on the 15th at midnight */
    g_assert_cmpint(all->answered, ==, 1);
    g_assert_cmpint(all->late, ==, 1);
    g_assert_cmpint(all->on_time, ==, 0);
    /* Tue 15/12 .. Fri 25/12: 9 working days, then Mon 28/12 07:00-10:00 */
    g_assert_cmpfloat_with_epsilon(stats_mean_working_days(all), 9.375, 1e-9);
}

static void test_quarters_and_ranges_follow_the_same_edges(Fixture *f, gconstpointer data)
{
    tell_the_story(f);
    g_autoptr(GPtrArray) q4 = collect(f, "quarter:2026-Q4"); /* 15/09 .. 14/12/2026 */
    const StatsLine *all = line(q4, NULL);
    g_assert_cmpint(all->received, ==, 5);
    g_assert_cmpint(all->accepted, ==, 2);
    g_assert_cmpint(all->answered, ==, 1);
    g_assert_cmpint(all->open_overdue, ==, 1);
    g_autoptr(GPtrArray) q1 = collect(f, "quarter:2027-Q1");
    g_assert_cmpint(line(q1, NULL)->received, ==, 1);

    gint64 from = 0, to = 0;
    g_autofree char *why = NULL;
    g_assert_true(
        stats_range_parse("2026-11-14", "2026-11-15", f->config->calendar.zone, &from, &to, &why));
    g_assert_cmpint(from, ==, at("2026-11-14T00:00:00+07:00"));
    g_assert_cmpint(to, ==, at("2026-11-16T00:00:00+07:00"));
    GError *error = NULL;
    g_autoptr(GPtrArray) two_days = stats_collect(f->store, f->calendar, from, to, &error);
    g_assert_no_error(error);
    g_assert_cmpint(line(two_days, NULL)->received, ==, 2); /* A and B */
    static const char *const bad[][2] = {{"2026-11-15", "2026-11-14"},
                                         {"2026-02-30", "2026-03-01"},
                                         {"15/11/2026", "2026-12-14"},
                                         {"2026-11-15", NULL}};
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_clear_pointer(&why, g_free);
        g_assert_false(
            stats_range_parse(bad[i][0], bad[i][1], f->config->calendar.zone, &from, &to, &why));
        g_assert_nonnull(why);
    }
}

static void test_csv_is_what_a_spreadsheet_reads(Fixture *f, gconstpointer data)
{
    tell_the_story(f);
    g_autoptr(GPtrArray) november = collect(f, "month:2026-11");
    g_autofree char *csv = stats_csv(november, f->config);
    g_assert_true(g_str_has_prefix(csv, "\xEF\xBB\xBF"
                                        "Mã cơ quan,Cơ quan,Tiếp nhận,"));
    g_auto(GStrv) rows = g_strsplit(csv, "\r\n", -1);
    g_assert_cmpuint(g_strv_length(rows), ==, 4); /* header, xd, the total, "" after the last */
    g_assert_cmpstr(rows[1], ==, "xd,Sở Xây dựng,1,0,1,0,0,0,0,0,0,1,1,0,0,0,0,0,1,0,100.0,1.4");
    g_assert_cmpstr(rows[2], ==, ",Tổng cộng,1,0,1,0,0,0,0,0,0,1,1,0,0,0,0,0,1,0,100.0,1.4");
    g_assert_cmpstr(rows[3], ==, "");
    g_assert_null(strchr(rows[0], '\n'));
    /* a header with a comma is quoted (RFC 4180), and every row has the header's 22 fields */
    g_assert_nonnull(strstr(rows[0], ",\"Từ chối: khiếu nại, tố cáo\","));
    g_auto(GStrv) header = g_strsplit(rows[0], ",", -1);
    g_auto(GStrv) fields = g_strsplit(rows[1], ",", -1);
    g_assert_cmpuint(g_strv_length(header), ==, 22 + 1);
    g_assert_cmpuint(g_strv_length(fields), ==, 22);

    g_autoptr(GPtrArray) december = collect(f, "month:2026-12");
    g_autofree char *dec = stats_csv(december, f->config);
    g_assert_nonnull(strstr(dec, "\r\ngtvt,Sở Giao thông vận tải,1,0,1,0,0,0,0,0,0,0,0,0,1,1,1,"
                                 "0,0,0,,\r\n"));
    g_assert_true(g_str_has_suffix(dec, ",Tổng cộng,4,1,1,2,0,0,0,1,1,0,0,0,1,1,1,0,0,0,,\r\n"));
}

static void test_overdue_list_names_late_and_open_reports(Fixture *f, gconstpointer data)
{
    tell_the_story(f);
    GError *error = NULL;
    g_autoptr(GPtrArray) q4 = stats_overdue(f->store, at("2026-09-15T00:00:00+07:00"),
                                            at("2027-01-15T00:00:00+07:00"), &error);
    g_assert_no_error(error);
    g_assert_cmpuint(q4->len, ==, 2); /* B (open) and E (answered late) */
    const StatsOverdue *b = g_ptr_array_index(q4, 0), *e = g_ptr_array_index(q4, 1);
    g_assert_cmpstr(b->agency, ==, "gtvt");
    g_assert_false(b->answered);
    g_assert_cmpint(b->due, ==, at("2026-11-30T17:00:00+07:00")); /* the extension's date */
    g_assert_cmpstr(e->agency, ==, "xd");
    g_assert_true(e->answered);
}

static void test_last_closed_period_turns_at_midnight_of_the_15th(Fixture *f, gconstpointer data)
{
    static const struct {
        const char *now, *kind, *name;
    } cases[] = {
        {"2026-12-15T00:00:00+07:00", "month", "month:2026-12"},
        {"2026-12-15T00:00:00+07:00", "quarter", "quarter:2026-Q4"},
        {"2026-12-15T00:00:00+07:00", "half", "half:2026-H2"},
        {"2026-12-15T00:00:00+07:00", "year", "year:2026"},
        {"2026-12-14T23:59:59+07:00", "month", "month:2026-11"},
        {"2026-12-14T23:59:59+07:00", "quarter", "quarter:2026-Q3"},
        {"2026-12-14T23:59:59+07:00", "half", "half:2026-H1"},
        {"2026-12-14T23:59:59+07:00", "year", "year:2025"},
        {"2027-01-02T09:00:00+07:00", "month", "month:2026-12"},
        {"2026-06-20T09:00:00+07:00", "half", "half:2026-H1"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *name = NULL;
        gint64 from = 0, to = 0;
        g_assert_true(stats_period_last_closed(cases[i].kind, f->config->calendar.zone,
                                               at(cases[i].now), &name, &from, &to));
        g_assert_cmpstr(name, ==, cases[i].name);
        g_assert_cmpint(to, <=, at(cases[i].now));
    }
    g_autofree char *name = NULL;
    gint64 from = 0, to = 0;
    g_assert_false(
        stats_period_last_closed("week", f->config->calendar.zone, 0, &name, &from, &to));
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C.UTF-8");
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn)                                                                              \
    g_test_add("/statistics/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("edge-of-the-14th", test_report_on_the_14th_at_midnight_counts_in_its_own_month);
    ADD("december-by-hand", test_december_counted_by_hand);
    ADD("quarters-and-ranges", test_quarters_and_ranges_follow_the_same_edges);
    ADD("csv", test_csv_is_what_a_spreadsheet_reads);
    ADD("overdue-list", test_overdue_list_names_late_and_open_reports);
    ADD("last-closed-period", test_last_closed_period_turns_at_midnight_of_the_15th);
    return g_test_run();
}
