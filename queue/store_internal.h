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

/* A statement that changes many pages inside a larger transaction (an insert whose FTS5
 * index merges its segments) keeps their old copies in a statement journal; past SQLite's
 * 64 KiB it spills them to a file in /var/tmp, created and deleted again (seen: one for every
 * three mails of an ingest). Each deleted inode is then skipped for minutes by ext4's inode
 * allocator on a file system without a journal, so every new raw file and attachment paid
 * for the ones before. Up to 8 MiB a statement stays in memory; beyond that it still spills.
 *
 * SQLite keeps that journal in memory as one chunk of the spill's size, allocated at its first
 * page and freed at the statement's end. AddressSanitizer poisons the shadow of each chunk it
 * frees, 1 MiB for 8 MiB, and faults those pages in again for the next: about 10 ms a
 * statement, so that test_queue_outbox's 3,000 inserts in one transaction took 94 s instead
 * of 0.4 s. The sanitizer build keeps SQLite's own 64 KiB, which only spills more often. */
#if defined(__SANITIZE_ADDRESS__)
#define STORE_STATEMENT_JOURNAL_SPILL (64 * 1024)
#else
#define STORE_STATEMENT_JOURNAL_SPILL (8 * 1024 * 1024)
#endif

/* SQLite's process-wide settings (the statement journal kept in memory up to
 * STORE_STATEMENT_JOURNAL_SPILL), once, before the library is first used; store_open_at calls
 * it */
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
