/* The console's search (issue 13) on real SQLite files: the FTS5 index of reports folds
 * Vietnamese diacritics ("den duong" finds "Đèn đường"), follows every write of a report row
 * (a correction, an erasure of personal data, a deletion), and is built by its migration for
 * the reports a database already held. */
#include "queue/queue.h"
#include "store_fixture.h"
#include "queue/store_internal.h"
#include "util/util.h"

#include <sqlite3.h>
#include <string.h>

typedef struct {
    const char *subject, *text, *place, *name, *phone, *email;
    double lat, lon; /* both 0: no coordinates */
    int days_ago;
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
    d->location.has_coordinates = m->lat != 0 || m->lon != 0;
    d->location.lat = m->lat;
    d->location.lon = m->lon;
    ReportRef ref = {0};
    GError *error = NULL;
    g_assert_true(report_create(store, d, NULL, "PAHT", zone,
                                clock_now_unix() - m->days_ago * 86400, 0, &ref, &error));
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

static void exec_sql(Store *store, const char *sql);

static int index_bytes_holding(Store *store, const char *word)
{
    return sql_count_of_text(store_connection(store),
                             "SELECT count(*) FROM report_search_data"
                             " WHERE instr(block, CAST(?1 AS BLOB)) > 0",
                             word);
}

/* an erasure of personal data (issue 16) leaves no trace of the erased words in the index's
 * files once report_search_forget ran */
static void test_erased_words_leave_the_index_files(Fixture *f, gconstpointer data)
{
    gint64 id =
        report_in(f->store, f->zone, &(Mail){.subject = "Ngập nước", .name = "Quách Xuyên"});
    report_in(f->store, f->zone, &(Mail){.subject = "Rác thải"});
    assert_finds(f->store, "quach xuyen", id); /* indexed (the search caught up) */
    g_autofree char *erase =
        g_strdup_printf("UPDATE report SET citizen_name = NULL WHERE id = %" G_GINT64_FORMAT, id);
    exec_sql(f->store, erase);
    assert_finds(f->store, "quach xuyen", 0);
    g_assert_cmpint(index_bytes_holding(f->store, "xuyen"), >, 0); /* FTS5's deletion marker */
    GError *error = NULL;
    g_assert_true(report_search_forget(f->store, &error));
    g_assert_no_error(error);
    g_assert_cmpint(index_bytes_holding(f->store, "xuyen"), ==, 0);
    g_assert_cmpint(index_bytes_holding(f->store, "quach"), ==, 0);
    assert_finds(f->store, "ngap nuoc", id);
}

/* an agency sees nothing personal of a confidential report (Điều 9.3.b): its search must
 * not tell that a name, a phone or a word of the text belongs to one */
static void test_confidential_reports_found_by_code_only_when_redacted(Fixture *f,
                                                                       gconstpointer data)
{
    report_in(f->store, f->zone,
              &(Mail){.subject = "Đèn đường", .name = "Lê Văn Tám", .phone = "0901000111"});
    gint64 secret = report_in(f->store, f->zone,
                              &(Mail){.subject = "Tố giác",
                                      .text = "Bãi cát lậu ở bến phà",
                                      .name = "Lê Văn Tám",
                                      .phone = "0901000111"});
    GError *error = NULL;
    g_autofree char *mark =
        g_strdup_printf("UPDATE report SET confidential = 1 WHERE id = %" G_GINT64_FORMAT, secret);
    g_assert_true(store_exec(f->store, mark, &error));
    Report *r = report_load_id(f->store, secret, &error);
    g_assert_no_error(error);
    g_autofree char *code = g_strdup(r->code);
    report_free(r);
    const char *personal[] = {"le van tam", "0901000111", "+84 901 000 111", "cat lau"};
    for (gsize i = 0; i < G_N_ELEMENTS(personal); i++) {
        ReportQuery q = {
            .search = personal[i], .search_redacted = TRUE, .now = clock_now_unix(), .limit = 50};
        int total = -1;
        g_autoptr(GPtrArray) items = report_query(f->store, &q, &total, &error);
        g_assert_no_error(error);
        for (guint k = 0; k < items->len; k++)
            g_assert_cmpint(((ReportListItem *)g_ptr_array_index(items, k))->id, !=, secret);
        g_assert_cmpint(total, ==, i < 3 ? 1 : 0); /* the other report is found as before */
    }
    ReportQuery by_code = {
        .search = code, .search_redacted = TRUE, .now = clock_now_unix(), .limit = 50};
    g_autoptr(GPtrArray) by_its_code = report_query(f->store, &by_code, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(by_its_code->len, ==, 1);
    g_assert_cmpint(((ReportListItem *)g_ptr_array_index(by_its_code, 0))->id, ==, secret);
    /* the IOC finds it by anything */
    assert_finds(f->store, "cat lau", secret);
    g_autoptr(GArray) both = found(f->store, "0901000111");
    g_assert_cmpuint(both->len, ==, 2);
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

/* a database at the version before the migration that holds change (a statement of it) */
static Store *store_before(const char *path, const char *change)
{
    int before = store_schema_first_with(change) - 1;
    g_assert_cmpint(before, >, 0);
    GError *error = NULL;
    Store *older = store_open_at(path, STORE_SCHEMA_MIGRATE, before, &error);
    g_assert_no_error(error);
    return older;
}

/* a database of the release before the index: its reports are found after the migration */
static void test_migration_indexes_reports_already_kept(Fixture *f, gconstpointer data)
{
    g_autofree char *path = g_build_filename(f->dir, "older.db", NULL);
    GError *error = NULL;
    Store *older = store_before(path, "CREATE VIRTUAL TABLE report_search");
    gint64 id = report_in(older, f->zone,
                          &(Mail){.subject = "Cây đổ", .text = "Cây đổ chắn đường Trần Hưng Đạo"});
    store_close(older);
    Store *store = store_open(path, &error);
    g_assert_no_error(error);
    assert_finds(store, "cay do", id);
    assert_finds(store, "tran hung dao", id);
    store_close(store);
}

/* the tables whose rows hold text anywhere in a column, by name, comma-separated */
static char *tables_holding(Store *store, const char *text)
{
    sqlite3 *db = store_connection(store);
    sqlite3_stmt *tables = NULL;
    g_assert_cmpint(sqlite3_prepare_v2(db,
                                       "SELECT name FROM sqlite_schema WHERE type = 'table'"
                                       " ORDER BY name",
                                       -1, &tables, NULL),
                    ==, SQLITE_OK);
    GString *found = g_string_new(NULL);
    while (sqlite3_step(tables) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(tables, 0);
        g_autofree char *sql = g_strdup_printf("SELECT * FROM \"%s\"", name);
        sqlite3_stmt *rows = NULL;
        g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &rows, NULL), ==, SQLITE_OK);
        gboolean holds = FALSE;
        while (!holds && sqlite3_step(rows) == SQLITE_ROW)
            for (int c = 0; c < sqlite3_column_count(rows) && !holds; c++) {
                const void *bytes = sqlite3_column_blob(rows, c);
                int n = sqlite3_column_bytes(rows, c);
                holds = bytes && memmem(bytes, n, text, strlen(text)) != NULL;
            }
        sqlite3_finalize(rows);
        if (holds)
            g_string_append_printf(found, "%s%s", found->len ? "," : "", name);
    }
    sqlite3_finalize(tables);
    return g_string_free(found, FALSE);
}

/* issue 18: the index holds the words to find a report by, not a second copy of the
 * citizen's name, phone and text (written again in every mail's transaction, and personal
 * data kept twice) */
static void test_index_keeps_no_copy_of_the_report(Fixture *f, gconstpointer data)
{
    gint64 id = report_in(f->store, f->zone,
                          &(Mail){.subject = "Ngập nước hẻm 7",
                                  .text = "Nước ngập tới gối trước nhà bà Quách Thị Xuyến.",
                                  .name = "Quách Thị Xuyến",
                                  .phone = "0977123456"});
    assert_finds(f->store, "quach thi xuyen", id);
    assert_finds(f->store, "0977123456", id);
    assert_finds(f->store, "ngap toi goi", id);
    const char *personal[] = {"Quách Thị Xuyến", "0977123456", "Nước ngập tới gối"};
    for (gsize i = 0; i < G_N_ELEMENTS(personal); i++) {
        g_autofree char *where = tables_holding(f->store, personal[i]);
        g_assert_cmpstr(where, ==, "report");
    }
}

/* a database whose index kept its own copy (schema before issue 18): after the migration
 * the same reports are found by the same words, and a change of a row takes its old words
 * out of the index (the triggers name them: the index cannot read them back) */
static void test_migration_to_an_index_without_copy(Fixture *f, gconstpointer data)
{
    g_autofree char *path = g_build_filename(f->dir, "copy.db", NULL);
    GError *error = NULL;
    Store *older = store_before(path, "content = ''");
    gint64 tree = report_in(
        older, f->zone, &(Mail){.subject = "Cây đổ", .text = "Cây đổ chắn đường Trần Hưng Đạo"});
    gint64 flood =
        report_in(older, f->zone, &(Mail){.subject = "Ngập nước", .name = "Quách Xuyên"});
    g_autofree char *rename = g_strdup_printf(
        "UPDATE report SET citizen_name = 'Đỗ Văn Khoa' WHERE id = %" G_GINT64_FORMAT, tree);
    exec_sql(older, rename);
    store_close(older);

    Store *store = store_open(path, &error);
    g_assert_no_error(error);
    g_autofree char *where =
        tables_holding(store, "Trần Hưng"); /* "Đ" is folded to "d" in the index */
    g_assert_cmpstr(where, ==, "report");
    assert_finds(store, "cay do", tree);
    assert_finds(store, "tran hung dao", tree);
    assert_finds(store, "do van khoa", tree);
    assert_finds(store, "nguyen van an", 0); /* the name before the correction */
    assert_finds(store, "quach xuyen", flood);
    g_autofree char *erase = g_strdup_printf(
        "UPDATE report SET citizen_name = NULL WHERE id = %" G_GINT64_FORMAT, flood);
    exec_sql(store, erase);
    assert_finds(store, "quach xuyen", 0);
    g_assert_true(report_search_forget(store, &error));
    g_assert_no_error(error);
    g_assert_cmpint(index_bytes_holding(store, "xuyen"), ==, 0);
    assert_finds(store, "ngap nuoc", flood);
    store_close(store);
}

static gint64 count_of(Store *store, const char *sql);

static gint64 pending_reports(Store *store)
{
    return count_of(store, "SELECT count(*) FROM report_search_pending");
}

static void assert_index_whole(Store *store)
{
    exec_sql(store, "INSERT INTO report_search(report_search) VALUES ('integrity-check')");
}

/* issue 18: the index is written in batches (report_search_catch_up), not in each mail's
 * transaction. A new report waits in report_search_pending and the search catches up first,
 * so it is found at once; one corrected or deleted while it waits ends in the index as the
 * row is then (its new words, or nothing), and the index stays whole */
static void test_search_index_catches_up(Fixture *f, gconstpointer data)
{
    gint64 kept = report_in(f->store, f->zone,
                            &(Mail){.subject = "Cống thoát nước nghẹt", .name = "Lý Thị Hoa"});
    gint64 corrected =
        report_in(f->store, f->zone, &(Mail){.subject = "Cây xanh ngã", .name = "Đỗ Văn Bình"});
    gint64 deleted =
        report_in(f->store, f->zone, &(Mail){.subject = "Trụ điện nghiêng", .name = "Hồ Văn Nam"});
    g_assert_cmpint(pending_reports(f->store), ==, 3);
    g_assert_cmpint(index_rows(f->store, kept), ==, 0);
    g_autofree char *correct = g_strdup_printf(
        "UPDATE report SET citizen_name = 'Đỗ Thị Cúc' WHERE id = %" G_GINT64_FORMAT, corrected);
    exec_sql(f->store, correct);
    g_autofree char *drop =
        g_strdup_printf("DELETE FROM event WHERE report_id = %" G_GINT64_FORMAT ";"
                        "DELETE FROM report WHERE id = %" G_GINT64_FORMAT,
                        deleted, deleted);
    exec_sql(f->store, drop);
    g_assert_cmpint(pending_reports(f->store), ==, 2);

    assert_finds(f->store, "ly thi hoa", kept); /* the search caught up */
    g_assert_cmpint(pending_reports(f->store), ==, 0);
    g_assert_cmpint(index_rows(f->store, kept), ==, 1);
    assert_finds(f->store, "do thi cuc", corrected);
    assert_finds(f->store, "do van binh", 0);
    assert_finds(f->store, "tru dien", 0);
    assert_finds(f->store, "ho van nam", 0);
    g_assert_cmpint(index_rows(f->store, deleted), ==, 0);
    assert_index_whole(f->store);

    /* once indexed, a correction takes the old words out at once, as before */
    g_autofree char *again = g_strdup_printf(
        "UPDATE report SET citizen_name = 'Lý Thị Lan' WHERE id = %" G_GINT64_FORMAT, kept);
    exec_sql(f->store, again);
    g_assert_cmpint(pending_reports(f->store), ==, 0);
    assert_finds(f->store, "ly thi hoa", 0);
    assert_finds(f->store, "ly thi lan", kept);
    assert_index_whole(f->store);

    /* with nothing waiting, a catch-up writes nothing */
    gint64 before = store_changes(f->store);
    GError *error = NULL;
    g_assert_true(report_search_catch_up(f->store, &error));
    g_assert_no_error(error);
    g_assert_cmpint(store_changes(f->store), ==, before);
}

/* a database whose index was written in each report's transaction: after the migration its
 * reports are still found (nothing waits), and the new ones wait for the catch-up */
static void test_migration_to_a_batched_index(Fixture *f, gconstpointer data)
{
    g_autofree char *path = g_build_filename(f->dir, "each.db", NULL);
    GError *error = NULL;
    Store *older = store_before(path, "report_search_pending");
    gint64 old = report_in(older, f->zone, &(Mail){.subject = "Ổ gà", .name = "Vũ Thị Mai"});
    store_close(older);

    Store *store = store_open(path, &error);
    g_assert_no_error(error);
    g_assert_cmpint(pending_reports(store), ==, 0);
    g_assert_cmpint(index_rows(store, old), ==, 1);
    gint64 fresh = report_in(store, f->zone, &(Mail){.subject = "Ổ gà", .name = "Tạ Văn Long"});
    g_assert_cmpint(pending_reports(store), ==, 1);
    g_autoptr(GArray) both = found(store, "o ga");
    g_assert_cmpuint(both->len, ==, 2);
    assert_finds(store, "vu thi mai", old);
    assert_finds(store, "ta van long", fresh);
    g_autofree char *erase =
        g_strdup_printf("UPDATE report SET citizen_name = NULL WHERE id = %" G_GINT64_FORMAT, old);
    exec_sql(store, erase);
    assert_finds(store, "vu thi mai", 0);
    assert_index_whole(store);
    store_close(store);
}

/* ---- possible duplicates ---------------------------------------------------------------------
 * The fixtures that set SEARCH_DUPLICATE_MIN_DICE: three citizens report the light of Lê Lợi
 * street in their own words (one without diacritics); the others are a different problem in
 * the same street, the same problem in another street, and unrelated reports. Measured: the
 * three pairs of the light score 0.23, 0.16 and 0.14; every other pair at most 0.08. */
static const Mail light_1 = {.place = "Đường Lê Lợi, Phường 1",
                             .subject = "Đèn đường hỏng",
                             .text = "Đèn đường trước nhà số 12 đường Lê Lợi không sáng mấy hôm "
                                     "nay, buổi tối rất tối."};
static const Mail light_2 = {.place = "trước số 14 Lê Lợi, Phường 1",
                             .subject = "Phản ánh đèn đường Lê Lợi bị hư",
                             .text = "Cột đèn đường gần nhà số 14 Lê Lợi không sáng ba đêm rồi, "
                                     "đi đường rất nguy hiểm."};
static const Mail light_3 = {.place = "Le Loi, phuong 1",
                             .subject = "den duong khong sang",
                             .text = "Den duong o Le Loi phuong 1 khong sang ca tuan nay."};
static const Mail rubbish_same_street = {
    .place = "Đường Lê Lợi, Phường 1",
    .subject = "Rác thải",
    .text = "Rác thải đổ trên vỉa hè đường Lê Lợi gần chợ, bốc mùi hôi."};
static const Mail light_other_street = {
    .place = "Hẻm 5 Trần Hưng Đạo, Phường 3",
    .subject = "Đèn đường hỏng",
    .text = "Đèn đường trong hẻm 5 Trần Hưng Đạo bị hỏng, nhờ cơ quan sửa."};
static const Mail flood = {.place = "Phường 2",
                           .subject = "Ngập nước",
                           .text = "Mưa lớn làm ngập nước đường Nguyễn Huệ, xe không đi được."};
static const Mail market_rubbish = {
    .place = "Chợ Phường 1",
    .subject = "Xin phản ánh về rác",
    .text = "Kính gửi Trung tâm. Rác ở chợ Phường 1 không được thu gom, xin cảm ơn."};

static double similarity(const Mail *a, const Mail *b)
{
    return search_text_similarity(a->place, a->subject, a->text, b->place, b->subject, b->text);
}

static void test_similar_reports_pass_the_threshold_and_others_do_not(void)
{
    const Mail *same[][2] = {{&light_1, &light_2}, {&light_1, &light_3}, {&light_2, &light_3}};
    for (gsize i = 0; i < G_N_ELEMENTS(same); i++) {
        g_assert_cmpfloat(similarity(same[i][0], same[i][1]), >=, SEARCH_DUPLICATE_MIN_DICE);
        g_assert_cmpfloat(similarity(same[i][1], same[i][0]), >=, SEARCH_DUPLICATE_MIN_DICE);
    }
    const Mail *all[] = {
        &light_1, &light_2,       &light_3, &rubbish_same_street, &light_other_street,
        &flood,   &market_rubbish};
    for (gsize i = 0; i < G_N_ELEMENTS(all); i++)
        for (gsize j = 3; j < G_N_ELEMENTS(all); j++)
            if (i != j)
                g_assert_cmpfloat(similarity(all[i], all[j]), <, SEARCH_DUPLICATE_MIN_DICE);
    /* the labelled lines of the province's template, the same in every report, do not make
     * two reports alike */
    const char *details = "\nHọ và tên: Nguyễn Văn An\nĐịa chỉ: 25 Trần Hưng Đạo, Phường 2\n"
                          "CCCD: 094201001234\nĐiện thoại: 0912 345 678\n"
                          "Địa điểm: trước cổng chợ Phường 1\nVị trí: https://www.google.com/maps/"
                          "search/?api=1&query=9.6025%2C105.9739\n";
    g_autofree char *light_text = g_strconcat(light_1.text, details, NULL);
    g_autofree char *flood_text = g_strconcat(flood.text, details, NULL);
    g_assert_cmpfloat(search_text_similarity(light_1.place, light_1.subject, light_text,
                                             light_1.place, flood.subject, flood_text),
                      <, SEARCH_DUPLICATE_MIN_DICE);
    /* the margin: the weakest duplicate and the strongest other are not a hair apart */
    g_assert_cmpfloat(similarity(&light_2, &light_3) - similarity(&light_3, &market_rubbish), >,
                      0.04);
}

static void test_distance_in_metres(void)
{
    /* 0.001 degree of latitude is 111 m everywhere */
    g_assert_cmpfloat_with_epsilon(search_distance_m(9.6, 105.97, 9.601, 105.97), 111.2, 0.5);
    /* a degree of longitude shrinks with the latitude: 0.001 at 9.6 N is 109.6 m */
    g_assert_cmpfloat_with_epsilon(search_distance_m(9.6, 105.97, 9.6, 105.971), 109.7, 0.5);
}

static GPtrArray *duplicates_of(Store *store, gint64 id)
{
    GError *error = NULL;
    Report *r = report_load_id(store, id, &error);
    g_assert_no_error(error);
    GPtrArray *list = report_possible_duplicates(store, r, clock_now_unix(), 10, &error);
    g_assert_no_error(error);
    report_free(r);
    return list;
}

static const PossibleDuplicate *duplicate_in(GPtrArray *list, gint64 id)
{
    for (guint i = 0; i < list->len; i++)
        if (((PossibleDuplicate *)g_ptr_array_index(list, i))->id == id)
            return g_ptr_array_index(list, i);
    return NULL;
}

static void test_possible_duplicates_near_or_alike_open_and_recent(Fixture *f, gconstpointer data)
{
    Mail here = light_1;
    here.lat = 9.6025, here.lon = 105.9739;
    gint64 me = report_in(f->store, f->zone, &here);
    /* 100 m north, about something else: near */
    Mail close = flood;
    close.lat = 9.6034, close.lon = 105.9739;
    gint64 near = report_in(f->store, f->zone, &close);
    /* 300 m away and unlike: neither */
    Mail far = flood;
    far.lat = 9.6052, far.lon = 105.9739;
    gint64 away = report_in(f->store, f->zone, &far);
    /* the same light in other words, no coordinates: alike */
    gint64 alike = report_in(f->store, f->zone, &light_2);
    /* the same light, but 31 days ago; and another one since closed */
    Mail old = light_3;
    old.days_ago = 31;
    gint64 too_old = report_in(f->store, f->zone, &old);
    gint64 closed = report_in(f->store, f->zone, &light_3);
    g_autofree char *close_it =
        g_strdup_printf("UPDATE report SET state = 'closed' WHERE id = %" G_GINT64_FORMAT, closed);
    GError *error = NULL;
    g_assert_true(store_exec(f->store, close_it, &error));
    report_in(f->store, f->zone, &rubbish_same_street);

    g_autoptr(GPtrArray) list = duplicates_of(f->store, me);
    g_assert_cmpuint(list->len, ==, 2);
    const PossibleDuplicate *first = g_ptr_array_index(list, 0);
    g_assert_cmpint(first->id, ==, near); /* the near one first */
    g_assert_true(first->near);
    g_assert_cmpfloat_with_epsilon(first->distance_m, 100.1, 1.0);
    const PossibleDuplicate *second = duplicate_in(list, alike);
    g_assert_nonnull(second);
    g_assert_false(second->near);
    g_assert_cmpfloat(second->distance_m, <, 0);
    g_assert_cmpstr(second->state, ==, "incomplete"); /* no address: an open state */
    /* the words both share, as this report writes them (diacritics and all) */
    g_assert_true(g_strv_contains((const char *const *)second->shared, "đèn đường"));
    g_assert_true(g_strv_contains((const char *const *)second->shared, "không sáng"));
    g_assert_null(duplicate_in(list, away));
    g_assert_null(duplicate_in(list, too_old));
    g_assert_null(duplicate_in(list, closed));
    g_assert_null(duplicate_in(list, me));
}

static gint64 count_of(Store *store, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    g_assert_cmpint(sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
    gint64 n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
}

static void assert_same_duplicates(GPtrArray *a, GPtrArray *b)
{
    g_assert_cmpuint(a->len, ==, b->len);
    for (guint i = 0; i < a->len; i++) {
        const PossibleDuplicate *x = g_ptr_array_index(a, i), *y = g_ptr_array_index(b, i);
        g_assert_cmpint(x->id, ==, y->id);
        g_assert_cmpfloat(x->similarity, ==, y->similarity);
        g_assert_cmpuint(g_strv_length(x->shared), ==, g_strv_length(y->shared));
        for (guint k = 0; x->shared[k]; k++)
            g_assert_true(g_strv_contains((const char *const *)y->shared, x->shared[k]));
    }
}

/* A report page folds each neighbour's words once: the pairs are kept per report, the next
 * page reads them and finds the very same duplicates, and a change of a neighbour's place,
 * subject or text (whoever writes it) drops its kept pairs, so that no page compares an old
 * text. */
static void test_duplicates_word_pairs_kept_until_the_text_changes(Fixture *f, gconstpointer data)
{
    gint64 me = report_in(f->store, f->zone, &light_1);
    gint64 alike = report_in(f->store, f->zone, &light_2);
    report_in(f->store, f->zone, &light_3);
    report_in(f->store, f->zone, &flood);
    g_autoptr(GPtrArray) first = duplicates_of(f->store, me);
    const PossibleDuplicate *d = duplicate_in(first, alike);
    g_assert_nonnull(d);
    /* the page's measure is the one of two reports compared on their own */
    g_assert_cmpfloat(d->similarity, ==,
                      search_text_similarity(light_1.place, light_1.subject, light_1.text,
                                             light_2.place, light_2.subject, light_2.text));
    /* the three neighbours' pairs are kept, folded: "đèn đường" as "den duong" */
    g_assert_cmpint(count_of(f->store, "SELECT count(*) FROM report_word_pairs"), ==, 3);
    g_autofree char *kept_sql =
        g_strdup_printf("SELECT count(*) FROM report_word_pairs WHERE report_id = %" G_GINT64_FORMAT
                        " AND text LIKE '%%den duong%%' AND place LIKE '%%le loi%%'",
                        alike);
    g_assert_cmpint(count_of(f->store, kept_sql), ==, 1);
    g_autoptr(GPtrArray) again = duplicates_of(f->store, me);
    assert_same_duplicates(first, again);

    /* the citizen's text corrected into another problem: no longer alike */
    g_autofree char *edit = g_strdup_printf(
        "UPDATE report SET subject = 'Ngập nước', body = 'Mưa lớn làm ngập nước đường Nguyễn "
        "Huệ, xe không đi được.', location_text = 'Phường 2' WHERE id = %" G_GINT64_FORMAT,
        alike);
    GError *error = NULL;
    g_assert_true(store_exec(f->store, edit, &error));
    g_assert_cmpint(count_of(f->store, kept_sql), ==, 0);
    g_autoptr(GPtrArray) after = duplicates_of(f->store, me);
    g_assert_null(duplicate_in(after, alike));
    /* its pairs are kept again, from the new text */
    g_autofree char *new_sql =
        g_strdup_printf("SELECT count(*) FROM report_word_pairs WHERE report_id = %" G_GINT64_FORMAT
                        " AND text LIKE '%%ngap nuoc%%'",
                        alike);
    g_assert_cmpint(count_of(f->store, new_sql), ==, 1);
    g_assert_cmpint(count_of(f->store, kept_sql), ==, 0);
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
    ADD("erased-words-leave-the-index-files", test_erased_words_leave_the_index_files);
    ADD("confidential-reports-found-by-code-only-when-redacted",
        test_confidential_reports_found_by_code_only_when_redacted);
    ADD("migration-indexes-reports-already-kept", test_migration_indexes_reports_already_kept);
    ADD("index-keeps-no-copy-of-the-report", test_index_keeps_no_copy_of_the_report);
    ADD("migration-to-an-index-without-copy", test_migration_to_an_index_without_copy);
    ADD("index-catches-up", test_search_index_catches_up);
    ADD("migration-to-a-batched-index", test_migration_to_a_batched_index);
    g_test_add_func("/queue/search/similar-reports-pass-the-threshold-and-others-do-not",
                    test_similar_reports_pass_the_threshold_and_others_do_not);
    g_test_add_func("/queue/search/distance-in-metres", test_distance_in_metres);
    ADD("possible-duplicates-near-or-alike-open-and-recent",
        test_possible_duplicates_near_or_alike_open_and_recent);
    ADD("duplicates-word-pairs-kept-until-the-text-changes",
        test_duplicates_word_pairs_kept_until_the_text_changes);
    return g_test_run();
}
