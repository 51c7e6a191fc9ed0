/* The store's SQL, for the modules that keep tables of their own in it (lifecycle/: the
 * report's lifecycle record and its deadlines) and for their tests: the statement cache and
 * the translation of SQLite's errors. Nothing else includes it: the rest of the program speaks
 * queue/queue.h. */
#ifndef PAHT_QUEUE_STORE_SQL_H
#define PAHT_QUEUE_STORE_SQL_H

#include "queue/queue.h"
#include <sqlite3.h>

/* A cached statement, reset and with bindings cleared; NULL + error on failure. */
sqlite3_stmt *store_statement(Store *store, const char *sql, GError **error);
/* Translates the last SQLite error of the connection into the project's error set. */
gboolean store_fail(Store *store, GError **error, const char *what);
/* sqlite3_exec for statements without results */
gboolean store_exec(Store *store, const char *sql, GError **error);
/* the connection itself (sqlite3_changes, a test's busy handler) */
sqlite3 *store_connection(Store *store);

/* the next number of a yearly sequence (tracking codes, result letter numbers), in the
 * caller's transaction */
gboolean store_sequence_next(Store *store, const char *prefix, int year, gint64 *out,
                             GError **error);

/* steps a bound statement that returns no row, and resets it; store_fail(what) otherwise */
gboolean store_step_done(Store *store, sqlite3_stmt *stmt, const char *what, GError **error);
/* every row of a bound statement through read_row into a new list (items freed with
 * free_item), and resets it; NULL and store_fail(what) on a failure */
typedef gpointer (*StoreRowReader)(sqlite3_stmt *stmt);
GPtrArray *store_collect_rows(Store *store, sqlite3_stmt *stmt, StoreRowReader read_row,
                              GDestroyNotify free_item, const char *what, GError **error);
/* store_collect_rows of sql, whose one parameter is a report's id */
GPtrArray *store_report_rows(Store *store, const char *sql, gint64 report_id,
                             StoreRowReader read_row, GDestroyNotify free_item, const char *what,
                             GError **error);
/* a row reader: the first column's text */
gpointer store_row_first_text(sqlite3_stmt *stmt);
/* the first column of a statement's one row (bound by the caller, stepped here and reset);
 * no row is an error, said as what */
gboolean store_step_int64(Store *store, sqlite3_stmt *stmt, gint64 *out, const char *what,
                          GError **error);

/* column helpers: NULL-safe copies */
char *column_text(sqlite3_stmt *stmt, int col);
void bind_text_or_null(sqlite3_stmt *stmt, int index, const char *value);

#endif
