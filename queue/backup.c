/* The store's part of backups (issue 16): a consistent copy of the database while pahtd and
 * pahtctl write to it (SQLite's online backup API), the files it refers to, its own
 * integrity check, and the paths moved when a backup is restored into another data folder. */
#include "queue/store_internal.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

gboolean store_backup_to(Store *store, const char *dest_path, GError **error)
{
    /* created 0600 by us: SQLite would make it 0644 & ~umask, and it holds personal data */
    int fd = open(dest_path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot create %s: %s", dest_path,
                    g_strerror(errno));
        return FALSE;
    }
    close(fd);
    sqlite3 *dest = NULL;
    if (sqlite3_open_v2(dest_path, &dest, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot open %s: %s", dest_path,
                    dest ? sqlite3_errmsg(dest) : "out of memory");
        sqlite3_close(dest);
        return FALSE;
    }
    /* one step for the whole database: a snapshot at one read transaction. Stepping in pieces
     * would start over each time another process writes, and under load never end. */
    sqlite3_backup *backup = sqlite3_backup_init(dest, "main", store->db, "main");
    int rc = backup ? sqlite3_backup_step(backup, -1) : sqlite3_errcode(dest);
    if (backup)
        sqlite3_backup_finish(backup);
    if (rc == SQLITE_DONE)
        rc = sqlite3_exec(dest, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
    if (rc != SQLITE_OK && rc != SQLITE_DONE) {
        g_set_error(error, PAHT_ERROR,
                    (rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_BUSY ? PAHT_ERROR_TEMPORARY
                                                                             : PAHT_ERROR_PERMANENT,
                    "backup of %s to %s: %s", store->path, dest_path, sqlite3_errstr(rc));
        sqlite3_close(dest);
        return FALSE;
    }
    return sqlite3_close(dest) == SQLITE_OK;
}

gboolean store_integrity_check(Store *store, char **problem, GError **error)
{
    *problem = NULL;
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(store->db, "PRAGMA integrity_check", -1, &stmt, NULL) != SQLITE_OK)
        return store_fail(store, error, "integrity check");
    GString *found = g_string_new(NULL);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(stmt, 0);
        if (line && !g_str_equal(line, "ok"))
            g_string_append_printf(found, "%s%s", found->len ? "; " : "", line);
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
        g_string_free(found, TRUE);
        return store_fail(store, error, "integrity check");
    }
    *problem = g_string_free(found, found->len == 0);
    return TRUE;
}

void stored_file_free(StoredFile *f)
{
    if (!f)
        return;
    g_free(f->path);
    g_free(f->sha256);
    g_free(f);
}

GPtrArray *store_file_refs(Store *store, GError **error)
{
    /* each file once: the same attachment may be in several reports, and a purged one ('')
     * names nothing */
    sqlite3_stmt *stmt = store_statement(
        store,
        "SELECT path, max(size), max(sha256) FROM (SELECT path, size, sha256 FROM raw_message"
        " UNION ALL SELECT path, size, sha256 FROM attachment) WHERE path <> ''"
        " GROUP BY path ORDER BY path",
        error);
    if (!stmt)
        return NULL;
    GPtrArray *files = g_ptr_array_new_with_free_func((GDestroyNotify)stored_file_free);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        StoredFile *f = g_new0(StoredFile, 1);
        f->path = column_text(stmt, 0);
        f->size = sqlite3_column_int64(stmt, 1);
        f->sha256 = column_text(stmt, 2);
        g_ptr_array_add(files, f);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        g_ptr_array_unref(files);
        store_fail(store, error, "list the files");
        return NULL;
    }
    return files;
}

gboolean store_relocate_files(Store *store, const char *old_dir, const char *new_dir,
                              GError **error)
{
    static const char *const tables[] = {
        "UPDATE raw_message SET path = ?2 || substr(path, length(?1) + 1)"
        " WHERE substr(path, 1, length(?1) + 1) = ?1 || '/'",
        "UPDATE attachment SET path = ?2 || substr(path, length(?1) + 1)"
        " WHERE substr(path, 1, length(?1) + 1) = ?1 || '/'",
        "UPDATE file_removal SET path = ?2 || substr(path, length(?1) + 1)"
        " WHERE substr(path, 1, length(?1) + 1) = ?1 || '/'",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(tables); i++) {
        sqlite3_stmt *stmt = store_statement(store, tables[i], error);
        if (!stmt)
            return FALSE;
        sqlite3_bind_text(stmt, 1, old_dir, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(stmt, 2, new_dir, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(stmt);
        sqlite3_reset(stmt);
        if (rc != SQLITE_DONE)
            return store_fail(store, error, "move the files' paths");
    }
    return TRUE;
}

gboolean store_holds_mail(Store *store, gboolean *holds, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store,
                        "SELECT EXISTS (SELECT 1 FROM report) OR EXISTS (SELECT 1 FROM raw_message)"
                        " OR EXISTS (SELECT 1 FROM outbox)",
                        error);
    if (!stmt)
        return FALSE;
    int rc = sqlite3_step(stmt);
    *holds = rc == SQLITE_ROW && sqlite3_column_int(stmt, 0) != 0;
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW)
        return store_fail(store, error, "look for data");
    return TRUE;
}
