/* A person's reports (issue 16: a citizen's request for their data) are found through the
 * indexes each mail's INSERT writes, on a real SQLite file; and the indexes of a phone and an
 * ID number hold the reports that have one, not an entry per report for its NULL (issue 18:
 * every index page an ingested mail writes is a page of its commit). */
#include "lifecycle/lifecycle.h"
#include "queue/store_sql.h"
#include "store_fixture.h"
#include "util/util.h"

#include <sqlite3.h>
#include <string.h>

/* a report of citizen n; phone and ID number only when given */
static gint64 report_of(Fixture *f, int n, const char *sender, const char *phone,
                        const char *id_number)
{
    g_autoptr(Draft) d = draft_new();
    d->subject = g_strdup("Đèn đường hỏng");
    d->text = g_strdup("Đèn đường trước nhà bị hỏng.");
    d->classification = g_strdup("report");
    d->citizen.name = g_strdup_printf("Người dân %d", n);
    d->citizen.email = g_strdup_printf("dan%d@example.vn", n);
    d->citizen.phone = g_strdup(phone);
    d->citizen.id_number = g_strdup(id_number);
    d->location.text = g_strdup("Phường 1");
    ReportRef ref = {0};
    GError *error = NULL;
    g_assert_true(
        report_create(f->store, d, sender, "PAHT", f->zone, clock_now_unix(), 0, &ref, &error));
    g_assert_no_error(error);
    gint64 id = ref.id;
    report_ref_clear(&ref);
    return id;
}

/* the ids retention_find_person gives, and how many rows its statement read by scanning */
static GArray *find_person(Fixture *f, const char *email, const char *phone, const char *id_number,
                           int *scanned)
{
    GError *error = NULL;
    g_autoptr(GPtrArray) found = retention_find_person(f->store, email, phone, id_number, &error);
    g_assert_no_error(error);
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(gint64));
    for (guint i = 0; i < found->len; i++)
        g_array_append_val(ids, ((RetainedReport *)g_ptr_array_index(found, i))->id);
    *scanned = -1;
    sqlite3 *db = store_connection(f->store);
    for (sqlite3_stmt *s = sqlite3_next_stmt(db, NULL); s; s = sqlite3_next_stmt(db, s))
        if (strstr(sqlite3_sql(s), "citizen_id_number = ?3"))
            *scanned = sqlite3_stmt_status(s, SQLITE_STMTSTATUS_FULLSCAN_STEP, TRUE);
    g_assert_cmpint(*scanned, >=, 0);
    return ids;
}

static void assert_ids(GArray *ids, gint64 a, gint64 b)
{
    g_assert_cmpuint(ids->len, ==, b ? 2 : 1);
    g_assert_cmpint(g_array_index(ids, gint64, 0), ==, a);
    if (b)
        g_assert_cmpint(g_array_index(ids, gint64, 1), ==, b);
}

static void test_person_found_through_indexes_not_a_scan(Fixture *f, gconstpointer data)
{
    gint64 first = 0, second = 0, by_sender = 0;
    for (int n = 0; n < 60; n++) {
        g_autofree char *phone = g_strdup_printf("09120000%02d", n);
        gint64 id = report_of(f, n, NULL, phone, n == 7 ? "094201001234" : NULL);
        if (n == 7)
            first = id;
    }
    /* the same citizen again, and a mail whose sender is the citizen's address */
    second = report_of(f, 7, NULL, NULL, "094201001234");
    by_sender = report_of(f, 99, "Dan7@Example.VN", NULL, NULL);

    int scanned = -1;
    g_autoptr(GArray) by_email = find_person(f, "DAN7@example.vn", NULL, NULL, &scanned);
    g_assert_cmpuint(by_email->len, ==, 3);
    g_assert_cmpint(g_array_index(by_email, gint64, 0), ==, first);
    g_assert_cmpint(g_array_index(by_email, gint64, 1), ==, second);
    g_assert_cmpint(g_array_index(by_email, gint64, 2), ==, by_sender);
    g_assert_cmpint(scanned, ==, 0);
    g_autoptr(GArray) by_phone = find_person(f, NULL, "0912000007", NULL, &scanned);
    assert_ids(by_phone, first, 0);
    g_assert_cmpint(scanned, ==, 0);
    g_autoptr(GArray) by_id = find_person(f, NULL, NULL, "094201001234", &scanned);
    assert_ids(by_id, first, second);
    g_assert_cmpint(scanned, ==, 0);
    g_autoptr(GArray) nobody = find_person(f, NULL, NULL, "079300000000", &scanned);
    g_assert_cmpuint(nobody->len, ==, 0);
    g_assert_cmpint(scanned, ==, 0);
}

/* the entries of an index, counted in its pages (dbstat) */
static int index_entries(Fixture *f, const char *index)
{
    return sql_count_of_text(store_connection(f->store),
                             "SELECT coalesce(sum(ncell), 0) FROM dbstat"
                             " WHERE name = ?1 AND pagetype = 'leaf'",
                             index);
}

static void test_reports_without_phone_or_id_write_no_entry_for_them(Fixture *f, gconstpointer data)
{
    for (int n = 0; n < 5; n++)
        report_of(f, n, NULL, NULL, NULL);
    report_of(f, 5, NULL, "0912345678", NULL);
    report_of(f, 6, NULL, "0912345679", "094201001234");
    g_assert_cmpint(index_entries(f, "report_citizen_phone"), ==, 2);
    g_assert_cmpint(index_entries(f, "report_citizen_id_number"), ==, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn)                                                                              \
    g_test_add("/lifecycle/person/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("found-through-indexes-not-a-scan", test_person_found_through_indexes_not_a_scan);
    ADD("reports-without-phone-or-id-write-no-entry-for-them",
        test_reports_without_phone_or_id_write_no_entry_for_them);
    return g_test_run();
}
