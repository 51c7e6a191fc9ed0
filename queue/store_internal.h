/* Private to queue/: the store's connection and its statement cache. */
#ifndef PAHT_QUEUE_STORE_INTERNAL_H
#define PAHT_QUEUE_STORE_INTERNAL_H

#include "queue/queue.h"
#include <sqlite3.h>

struct Store {
    sqlite3 *db;
    char *path;
    int depth;              /* open transactions: 0 none, 1 BEGIN, >1 savepoints */
    GHashTable *statements; /* SQL text -> sqlite3_stmt *, prepared once */
    int found_version;      /* the schema version at open, before any migration */
};

/* store_open_with, migrating (STORE_SCHEMA_MIGRATE) no further than version target: the
 * tests make the databases of earlier versions with it */
Store *store_open_at(const char *path, StoreSchemaPolicy policy, int target, GError **error);

/* A cached statement, reset and with bindings cleared; NULL + error on failure. */
sqlite3_stmt *store_statement(Store *store, const char *sql, GError **error);
/* Translates the last SQLite error of the connection into the project's error set. */
gboolean store_fail(Store *store, GError **error, const char *what);
/* sqlite3_exec for statements without results */
gboolean store_exec(Store *store, const char *sql, GError **error);

/* the next number of a yearly sequence (tracking codes, result letter numbers), in the
 * caller's transaction */
gboolean store_sequence_next(Store *store, const char *prefix, int year, gint64 *out,
                             GError **error);
/* one attachment row of a report (the file is already at a->path) */
gboolean store_attachment_insert(Store *store, gint64 report_id, gint64 raw_id,
                                 const DraftAttachment *a, GError **error);

/* steps a bound statement that returns no row, and resets it; store_fail(what) otherwise */
gboolean store_step_done(Store *store, sqlite3_stmt *stmt, const char *what, GError **error);
/* every row of a bound statement through read_row into a new list (items freed with
 * free_item), and resets it; NULL and store_fail(what) on a failure */
typedef gpointer (*StoreRowReader)(sqlite3_stmt *stmt);
GPtrArray *store_collect_rows(Store *store, sqlite3_stmt *stmt, StoreRowReader read_row,
                              GDestroyNotify free_item, const char *what, GError **error);

/* the parser's warnings about a report's message (console.c), in the caller's transaction */
gboolean report_warnings_add(Store *store, gint64 report_id, const GPtrArray *warnings,
                             GError **error);

/* column helpers: NULL-safe copies */
char *column_text(sqlite3_stmt *stmt, int col);
void bind_text_or_null(sqlite3_stmt *stmt, int index, const char *value);

#endif
