/* The console's search (issue 13) on real SQLite files: the FTS5 index of reports folds
 * Vietnamese diacritics ("den duong" finds "Đèn đường"), follows every write of a report row
 * (a correction, an erasure of personal data, a deletion), and is built by its migration for
 * the reports a database already held. */
#include "queue/queue.h"
#include "queue/store_internal.h"
#include "util/util.h"

#include <sqlite3.h>
#include <string.h>

typedef struct {
    char *dir;
    char *path;
    Store *store;
    GTimeZone *zone;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("paht-search-XXXXXX", NULL);
    f->path = g_build_filename(f->dir, "paht.db", NULL);
    GError *error = NULL;
    f->store = store_open(f->path, &error);
    g_assert_no_error(error);
    f->zone = g_time_zone_new_identifier("Asia/Ho_Chi_Minh");
    g_setenv("PAHT_NOW", "2026-12-01T09:00:00+07:00", TRUE);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    store_close(f->store);
    fs_remove_tree(f->dir);
    g_free(f->dir);
    g_free(f->path);
    g_time_zone_unref(f->zone);
    g_unsetenv("PAHT_NOW");
}

typedef struct {
    const char *subject, *text, *place, *name, *phone, *email;
} Mail;

static gint64 report_in(Store *store, GTimeZone *zone, const Mail *m)
{
    g_autoptr(Draft) d = draft_new();
    d->subject = g_strdup(m->subject);
    d->text = g_strdup(m->text ? m->text : "Nội dung phản ánh.");
    d->classification = g_strdup("report");
    d->citizen.name = g_strdup(m->name ? m->name : "Nguyễn Văn An");
    d->citizen.phone = g_strdup(m->phone ? m->phone : "0912345678");
    d->citizen.email = g_strdup(m->email ? m->email : "an@example.vn");
    d->location.text = g_strdup(m->place ? m->place : "Phường 1");
    ReportRef ref = {0};
    GError *error = NULL;
    g_assert_true(report_create(store, d, "PAHT", zone, clock_now_unix(), 0, &ref, &error));
    g_assert_no_error(error);
    gint64 id = ref.id;
    report_ref_clear(&ref);
    return id;
}

/* the ids the queue's search finds, in the queue's order */
static GArray *found(Store *store, const char *search)
{
    ReportQuery q = {.search = search, .now = clock_now_unix(), .limit = 50};
    GError *error = NULL;
    int total = -1;
    g_autoptr(GPtrArray) items = report_query(store, &q, &total, &error);
    g_assert_no_error(error);
    g_assert_cmpint(total, ==, (int)items->len);
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(gint64));
    for (guint i = 0; i < items->len; i++)
        g_array_append_val(ids, ((ReportListItem *)g_ptr_array_index(items, i))->id);
    return ids;
}

static void assert_finds(Store *store, const char *search, gint64 only)
{
    g_autoptr(GArray) ids = found(store, search);
    if (only == 0) {
        g_assert_cmpuint(ids->len, ==, 0);
        return;
    }
    if (ids->len != 1 || g_array_index(ids, gint64, 0) != only)
        g_error("search \"%s\": %u reports, not only report %" G_GINT64_FORMAT, search, ids->len,
                only);
}

static void test_match_query_of_what_a_user_types(void)
{
    const struct {
        const char *typed, *query;
    } cases[] = {
        {"den duong", "\"den\"* \"duong\"*"},
        {"Đèn ĐƯỜNG", "\"dèn\"* \"dường\"*"}, /* the tokenizer drops the other marks */
        {"PAHT-2026-0000", "\"paht\" + \"2026\" + \"0000\"*"},
        {"b%d@", "\"b\" + \"d\"*"},
        {"a\"b OR c*", "\"a\" + \"b\"* \"or\"* \"c\"*"}, /* FTS5's syntax stays words */
        {" ", NULL},
        {"%%", NULL},
        {"\xff\xfe", NULL}, /* not UTF-8 */
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *query = search_match_query(cases[i].typed);
        g_assert_cmpstr(query, ==, cases[i].query);
    }
    /* decomposed input (NFD, as some keyboards send it) folds as the composed one */
    g_autofree char *nfd = search_fold("\u0111e\u0300n");
    g_autofree char *nfc = search_fold("đèn");
    g_assert_cmpstr(nfd, ==, nfc);
}

static void test_search_folds_diacritics(Fixture *f, gconstpointer data)
{
    gint64 light = report_in(f->store, f->zone,
                             &(Mail){.subject = "Đèn đường hỏng",
                                     .text = "Đèn đường trước nhà số 12 không sáng.",
                                     .place = "Đường Lê Lợi, Phường 1"});
    gint64 trash = report_in(f->store, f->zone,
                             &(Mail){.subject = "Rác thải",
                                     .text = "Rác để ở vỉa hè nhiều ngày.",
                                     .place = "Hẻm 5, Phường Ngã Bảy",
                                     .name = "Trần Thị Bích",
                                     .phone = "0987654321",
                                     .email = "bich.tran@example.vn"});
    /* the letters without their marks, in either case, and "đ" as "d" */
    assert_finds(f->store, "den duong", light);
    assert_finds(f->store, "DEN DUONG", light);
    assert_finds(f->store, "đèn đường", light);
    assert_finds(f->store, "khong sang", light); /* words of the text */
    assert_finds(f->store, "le loi", light);     /* of the place */
    assert_finds(f->store, "nga bay", trash);
    assert_finds(f->store, "via he", trash);
    /* the citizen: name, phone (written as people write it), e-mail address, and the code */
    assert_finds(f->store, "Bich", trash);
    assert_finds(f->store, "tran thi", trash);
    assert_finds(f->store, "0987654321", trash);
    assert_finds(f->store, "+84 987 654 321", trash);
    assert_finds(f->store, "bich.tran@example.vn", trash);
    assert_finds(f->store, "PAHT-2026-000002", trash);
    /* every word must match; a word may be the start of one */
    assert_finds(f->store, "den rac", 0);
    assert_finds(f->store, "duo", light);
    g_autoptr(GArray) both = found(f->store, "phuong");
    g_assert_cmpuint(both->len, ==, 2);
    /* nothing to search for finds nothing; no search is the whole queue */
    assert_finds(f->store, "%%", 0);
    g_autoptr(GArray) all = found(f->store, "");
    g_assert_cmpuint(all->len, ==, 2);
}

static void exec_sql(Store *store, const char *sql)
{
    GError *error = NULL;
    g_assert_true(store_exec(store, sql, &error));
    g_assert_no_error(error);
}

static int index_rows(Store *store, gint64 id)
{
    sqlite3_stmt *stmt = NULL;
    g_assert_cmpint(sqlite3_prepare_v2(store_connection(store),
                                       "SELECT count(*) FROM report_search WHERE rowid = ?", -1,
                                       &stmt, NULL),
                    ==, SQLITE_OK);
    sqlite3_bind_int64(stmt, 1, id);
    g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
    int n = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
}

/* the index is derived from the row: whatever writes the row (a correction, a confirmed
 * reply, issue 16's erasure of personal data, or a plain UPDATE) rewrites the index's entry */
static void test_search_follows_every_write_of_a_report(Fixture *f, gconstpointer data)
{
    gint64 id = report_in(f->store, f->zone,
                          &(Mail){.subject = "Ngập nước",
                                  .name = "Lê Văn Đức",
                                  .phone = "0909111222",
                                  .email = "duc@example.vn"});
    assert_finds(f->store, "le van duc", id);
    g_autofree char *erase = g_strdup_printf(
        "UPDATE report SET citizen_name = NULL, citizen_phone = NULL, citizen_email = NULL,"
        " sender = NULL, body = '[đã xoá]' WHERE id = %" G_GINT64_FORMAT,
        id);
    exec_sql(f->store, erase);
    assert_finds(f->store, "duc", 0);
    assert_finds(f->store, "0909111222", 0);
    assert_finds(f->store, "duc@example.vn", 0);
    assert_finds(f->store, "noi dung", 0);
    assert_finds(f->store, "ngap nuoc", id); /* what the row kept is still found */
    assert_finds(f->store, "da xoa", id);
    g_assert_cmpint(index_rows(f->store, id), ==, 1);

    /* a correction of the name is found by its new words only */
    g_autofree char *correct = g_strdup_printf(
        "UPDATE report SET citizen_name = 'Phạm Thị Đào' WHERE id = %" G_GINT64_FORMAT, id);
    exec_sql(f->store, correct);
    assert_finds(f->store, "pham thi dao", id);
    /* a write of other columns leaves the entry as it was */
    g_autofree char *state = g_strdup_printf(
        "UPDATE report SET state = 'accepted', overdue = 1 WHERE id = %" G_GINT64_FORMAT, id);
    exec_sql(f->store, state);
    assert_finds(f->store, "pham thi dao", id);

    g_autofree char *drop =
        g_strdup_printf("DELETE FROM event WHERE report_id = %" G_GINT64_FORMAT ";"
                        "DELETE FROM report WHERE id = %" G_GINT64_FORMAT,
                        id, id);
    exec_sql(f->store, drop);
    g_assert_cmpint(index_rows(f->store, id), ==, 0);
}

/* a database of the release before the index: its reports are found after the migration */
static void test_migration_indexes_reports_already_kept(Fixture *f, gconstpointer data)
{
    g_autofree char *path = g_build_filename(f->dir, "older.db", NULL);
    GError *error = NULL;
    Store *older = store_open_at(path, STORE_SCHEMA_MIGRATE, store_schema_latest() - 1, &error);
    g_assert_no_error(error);
    gint64 id = report_in(older, f->zone,
                          &(Mail){.subject = "Cây đổ", .text = "Cây đổ chắn đường Trần Hưng Đạo"});
    store_close(older);
    Store *store = store_open(path, &error);
    g_assert_no_error(error);
    assert_finds(store, "cay do", id);
    assert_finds(store, "tran hung dao", id);
    store_close(store);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn)                                                                              \
    g_test_add("/queue/search/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    g_test_add_func("/queue/search/match-query-of-what-a-user-types",
                    test_match_query_of_what_a_user_types);
    ADD("folds-diacritics", test_search_folds_diacritics);
    ADD("follows-every-write-of-a-report", test_search_follows_every_write_of_a_report);
    ADD("migration-indexes-reports-already-kept", test_migration_indexes_reports_already_kept);
    return g_test_run();
}
