/* Private to queue/: the store's connection and its statement cache. */
#ifndef PAHT_QUEUE_STORE_INTERNAL_H
#define PAHT_QUEUE_STORE_INTERNAL_H

#include "queue/queue.h"
#include "queue/store_sql.h"

struct Store {
    sqlite3 *db;
    char *path;
    int depth;              /* open transactions: 0 none, 1 BEGIN, >1 savepoints */
    char *lost;             /* why SQLite rolled the open transaction back on its own, once it
                               has (store_fail): depth still counts the levels to be closed */
    GHashTable *statements; /* SQL text -> sqlite3_stmt *, prepared once */
    int found_version;      /* the schema version at open, before any migration */
    gint64 busy_since;      /* monotonic µs when the lock now waited for was first busy */
};

/* SQLite's process-wide settings (the statement journal kept in memory up to 8 MiB), once,
 * before the library is first used; store_open_at calls it */
void store_library_configure(void);

/* how long to sleep before asking again for a lock busy for waited_us (0: give up) */
gint64 store_busy_pause_us(gint64 waited_us);

/* store_open_with, migrating (STORE_SCHEMA_MIGRATE) no further than version target: the
 * tests make the databases of earlier versions with it */
Store *store_open_at(const char *path, StoreSchemaPolicy policy, int target, GError **error);
/* the version made by the first migration whose SQL contains sql, 0 if none: a test makes the
 * database of the release before a change with store_open_at(store_schema_first_with(a
 * statement of that change) - 1), which stays right when later migrations are added (a
 * "latest - 1" silently stops being the release before) */
int store_schema_first_with(const char *sql);

/* one attachment row of a report (the file is already at a->path) */
gboolean store_attachment_insert(Store *store, gint64 report_id, gint64 raw_id,
                                 const DraftAttachment *a, GError **error);

/* the parser's warnings about a report's message (console.c), in the caller's transaction */
gboolean report_warnings_add(Store *store, gint64 report_id, const GPtrArray *warnings,
                             GError **error);

#endif
