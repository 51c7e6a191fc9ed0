/* Tests of the store on a real SQLite file: a fresh database in a private folder, the
 * province's time zone, the clock pinned; and a reader of one number from the file. */
#ifndef PAHT_TESTS_STORE_FIXTURE_H
#define PAHT_TESTS_STORE_FIXTURE_H

#include "queue/queue.h"
#include "util/util.h"

#include <glib.h>
#include <sqlite3.h>

typedef struct {
    char *dir;
    char *path;
    Store *store;
    GTimeZone *zone;
} Fixture;

static inline void fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("paht-store-XXXXXX", NULL);
    f->path = g_build_filename(f->dir, "paht.db", NULL);
    GError *error = NULL;
    f->store = store_open(f->path, &error);
    g_assert_no_error(error);
    f->zone = g_time_zone_new_identifier("Asia/Ho_Chi_Minh");
    g_setenv("PAHT_NOW", "2026-12-01T09:00:00+07:00", TRUE);
}

static inline void fixture_teardown(Fixture *f, gconstpointer data)
{
    store_close(f->store);
    fs_remove_tree(f->dir);
    g_free(f->dir);
    g_free(f->path);
    g_time_zone_unref(f->zone);
    g_unsetenv("PAHT_NOW");
}

/* the first column of the only row of sql, its ?1 bound to text */
static inline int sql_count_of_text(sqlite3 *db, const char *sql, const char *text)
{
    sqlite3_stmt *stmt = NULL;
    g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
    sqlite3_bind_text(stmt, 1, text, -1, SQLITE_TRANSIENT);
    g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
    int n = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
}

#endif
