/* backup: pahtctl backup, verify and restore (issue 16). A backup is a folder
 * DIR/YYYYMMDDTHHMMSSZ holding paht.db (a consistent copy taken with SQLite's online backup
 * API while pahtd runs), every raw mail and attachment the copy refers to, under the paths
 * they have in data_dir (raw/ab/..., att/ab/...), bounce.key, and MANIFEST: one line per
 * file, "SHA-256 SIZE PATH". Files are content-addressed and never change, so each is hard
 * linked (from the previous backup in DIR when it has it, else from data_dir) and copied only
 * where the file system refuses a link: a backup costs what is new since the last one. The
 * folder is written as NAME.partial and renamed when its MANIFEST is complete: a backup
 * killed half-way is never taken for one. */
#include "gateway/gateway_private.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST   "MANIFEST"
#define BACKUP_DB  "paht.db"
#define BOUNCE_KEY "bounce.key"

void backup_report_clear(BackupReport *r)
{
    g_clear_pointer(&r->folder, g_free);
    g_clear_pointer(&r->problems, g_ptr_array_unref);
    g_clear_pointer(&r->unreferenced, g_ptr_array_unref);
}

static void report_init(BackupReport *r)
{
    *r = (BackupReport){0};
    r->problems = g_ptr_array_new_with_free_func(g_free);
    r->unreferenced = g_ptr_array_new_with_free_func(g_free);
}

/* path relative to dir ("raw/ab/..."), or NULL when it is not inside */
static const char *inside(const char *dir, const char *path)
{
    gsize n = strlen(dir);
    if (strncmp(path, dir, n) != 0 || path[n] != '/')
        return NULL;
    return path + n + 1;
}

/* ---- the manifest -------------------------------------------------------------------------- */

typedef struct {
    char *sha256;
    gint64 size;
} Entry;

static void entry_free(Entry *e)
{
    g_free(e->sha256);
    g_free(e);
}

/* MANIFEST of folder: relative path -> Entry; NULL (and *data_dir NULL) when it has none */
static GHashTable *manifest_read(const char *folder, char **data_dir)
{
    g_autofree char *path = g_build_filename(folder, MANIFEST, NULL);
    g_autofree char *text = NULL;
    if (data_dir)
        *data_dir = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    GHashTable *entries =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)entry_free);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], "# data_dir ") && data_dir && !*data_dir)
            *data_dir = g_strdup(lines[i] + strlen("# data_dir "));
        if (lines[i][0] == '#' || !lines[i][0])
            continue;
        g_auto(GStrv) f = g_strsplit(lines[i], " ", 3);
        if (g_strv_length(f) != 3 || strlen(f[0]) != 64 || strstr(f[2], "..") || f[2][0] == '/')
            continue;
        Entry *e = g_new0(Entry, 1);
        e->sha256 = g_strdup(f[0]);
        e->size = g_ascii_strtoll(f[1], NULL, 10);
        g_hash_table_replace(entries, g_strdup(f[2]), e);
    }
    return entries;
}

/* the newest complete backup in dir (a folder with a MANIFEST), or NULL */
static char *newest_backup(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return NULL;
    char *best = NULL;
    const char *name;
    while ((name = g_dir_read_name(d))) {
        g_autofree char *manifest = g_build_filename(dir, name, MANIFEST, NULL);
        if (g_str_has_suffix(name, ".partial") || !g_file_test(manifest, G_FILE_TEST_EXISTS))
            continue;
        if (!best || strcmp(name, best) > 0) {
            g_free(best);
            best = g_strdup(name);
        }
    }
    g_dir_close(d);
    char *path = best ? g_build_filename(dir, best, NULL) : NULL;
    g_free(best);
    return path;
}

/* ---- files --------------------------------------------------------------------------------- */

/* dst (new, its folders made 0700) gets src's content: a hard link where the file system
 * allows, else a private copy made durable. *linked tells which. */
static gboolean place_file(const char *src, const char *dst, gboolean *linked, GError **error)
{
    g_autofree char *folder = g_path_get_dirname(dst);
    if (!fs_make_private_dir(folder, error))
        return FALSE;
    *linked = link(src, dst) == 0;
    if (*linked || errno == EEXIST)
        return TRUE;
    g_autofree char *tmp = NULL;
    int fd = fs_open_private_temp(folder, ".copy", &tmp, error);
    if (fd < 0)
        return FALSE;
    gboolean ok = fs_copy_to_fd(src, fd, error);
    if (ok && fsync(fd) != 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "%s: %s", tmp, g_strerror(errno));
        ok = FALSE;
    }
    close(fd);
    if (ok && rename(tmp, dst) != 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "%s: %s", dst, g_strerror(errno));
        ok = FALSE;
    }
    if (!ok)
        unlink(tmp);
    return ok;
}

/* the size and digest of a file as it is; FALSE (problem recorded) when it cannot be read */
static gboolean file_facts(const char *path, gboolean deep, gint64 *size, char **sha256)
{
    GStatBuf st;
    if (g_stat(path, &st) != 0)
        return FALSE;
    *size = st.st_size;
    *sha256 = deep ? sha256_file(path, NULL, NULL) : NULL;
    return !deep || *sha256;
}

/* ---- backup -------------------------------------------------------------------------------- */

typedef struct {
    Gateway *gw;
    const char *folder;   /* the new backup, .partial */
    GHashTable *previous; /* its manifest, or NULL */
    const char *prev_dir; /* the previous backup */
    GString *manifest;
    BackupReport *out;
} BackupRun;

static gboolean backup_file(BackupRun *b, const StoredFile *f, GError **error)
{
    const char *data_dir = b->gw->config->gateway.data_dir;
    const char *rel = inside(data_dir, f->path);
    if (!rel) {
        g_ptr_array_add(b->out->problems,
                        g_strdup_printf("%s is outside data_dir: not in the backup", f->path));
        return TRUE;
    }
    g_autofree char *dst = g_build_filename(b->folder, rel, NULL);
    const Entry *before = b->previous ? g_hash_table_lookup(b->previous, rel) : NULL;
    gboolean linked = FALSE;
    if (before && g_strcmp0(before->sha256, f->sha256) == 0 && before->size == f->size) {
        g_autofree char *src = g_build_filename(b->prev_dir, rel, NULL);
        if (place_file(src, dst, &linked, NULL)) {
            b->out->reused++;
            g_string_append_printf(b->manifest, "%s %" G_GINT64_FORMAT " %s\n", before->sha256,
                                   before->size, rel);
            return TRUE;
        }
    }
    gint64 size = 0;
    g_autofree char *sha = NULL;
    if (!file_facts(f->path, TRUE, &size, &sha)) {
        g_ptr_array_add(b->out->problems, g_strdup_printf("%s is missing: not in the backup "
                                                          "(pahtctl verify)",
                                                          f->path));
        return TRUE;
    }
    if (size != f->size || g_strcmp0(sha, f->sha256) != 0)
        g_ptr_array_add(b->out->problems,
                        g_strdup_printf("%s does not match the database (size %" G_GINT64_FORMAT
                                        ", SHA-256 %.12s...): backed up as it is",
                                        f->path, size, sha));
    if (!place_file(f->path, dst, &linked, error))
        return FALSE;
    if (linked)
        b->out->linked++;
    else
        b->out->copied++;
    b->out->bytes += size;
    g_string_append_printf(b->manifest, "%s %" G_GINT64_FORMAT " %s\n", sha, size, rel);
    return TRUE;
}

/* paht.db and bounce.key: copied, with their manifest lines */
static gboolean backup_add_plain(BackupRun *b, const char *name, GError **error)
{
    g_autofree char *path = g_build_filename(b->folder, name, NULL);
    gint64 size = 0;
    g_autofree char *sha = sha256_file(path, &size, error);
    if (!sha)
        return FALSE;
    g_string_append_printf(b->manifest, "%s %" G_GINT64_FORMAT " %s\n", sha, size, name);
    return TRUE;
}

/* PAHT_TEST_FAULT=backup_pause:PATH (tests only): between the database's copy and the files',
 * PATH.paused appears and the backup waits (a minute at most) for PATH: a test kills pahtd
 * there, in the middle of a backup */
static void test_pause(void)
{
    g_autofree char *path = gateway_test_fault("backup_pause");
    if (!path || !*path)
        return;
    g_autofree char *paused = g_strconcat(path, ".paused", NULL);
    g_file_set_contents(paused, "", 0, NULL);
    for (int i = 0; i < 600 && !g_file_test(path, G_FILE_TEST_EXISTS); i++)
        g_usleep(100 * 1000);
}

static gboolean backup_files(BackupRun *b, GError **error)
{
    g_autofree char *db = g_build_filename(b->folder, BACKUP_DB, NULL);
    if (!store_backup_to(b->gw->store, db, error))
        return FALSE;
    /* the files of the copy, not of the live database: the copy is what a restore brings
     * back, and a file named by a later row is not needed by it */
    test_pause();
    g_autoptr(Store) copy = store_open_with(db, STORE_SCHEMA_EXACT, error);
    if (!copy)
        return FALSE;
    g_autoptr(GPtrArray) files = store_file_refs(copy, error);
    g_clear_pointer(&copy, store_close);
    g_autofree char *wal = g_strconcat(db, "-wal", NULL), *shm = g_strconcat(db, "-shm", NULL);
    unlink(wal);
    unlink(shm);
    if (!files)
        return FALSE;
    for (guint i = 0; i < files->len; i++) {
        if (!backup_file(b, g_ptr_array_index(files, i), error))
            return FALSE;
    }
    b->out->files = files->len;
    g_autofree char *key = g_build_filename(b->gw->config->gateway.data_dir, BOUNCE_KEY, NULL);
    g_autofree char *key_copy = g_build_filename(b->folder, BOUNCE_KEY, NULL);
    gboolean linked = FALSE;
    if (g_file_test(key, G_FILE_TEST_IS_REGULAR) &&
        (!place_file(key, key_copy, &linked, error) || !backup_add_plain(b, BOUNCE_KEY, error)))
        return FALSE;
    return backup_add_plain(b, BACKUP_DB, error);
}

gboolean backup_create(Gateway *gw, const char *dir, BackupReport *out, GError **error)
{
    report_init(out);
    const Config *c = gw->config;
    if (!fs_make_private_dir(dir, error))
        return FALSE;
    g_autoptr(GDateTime) now = clock_now_utc();
    g_autofree char *stamp = g_date_time_format(now, "%Y%m%dT%H%M%SZ");
    g_autofree char *final = g_build_filename(dir, stamp, NULL);
    g_autofree char *partial = g_strconcat(final, ".partial", NULL);
    if (g_file_test(final, G_FILE_TEST_EXISTS)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "%s exists already: one backup a "
                    "second",
                    final);
        return FALSE;
    }
    fs_remove_tree(partial);
    if (g_mkdir(partial, 0700) != 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot create %s: %s", partial,
                    g_strerror(errno));
        return FALSE;
    }
    /* while this runs, purged files stay (retention.c waits for the exclusive lock) */
    int lock = retention_backup_lock(c, FALSE, error);
    if (lock < 0)
        return FALSE;
    g_autofree char *prev = newest_backup(dir);
    g_autoptr(GHashTable) previous = prev ? manifest_read(prev, NULL) : NULL;
    g_autofree char *created = clock_format_rfc3339(g_date_time_to_unix(now), c->calendar.zone);
    BackupRun b = {.gw = gw,
                   .folder = partial,
                   .previous = previous,
                   .prev_dir = prev,
                   .out = out,
                   .manifest = g_string_new(NULL)};
    g_string_append_printf(b.manifest,
                           "# paht-mail backup: SHA-256 SIZE PATH, one file a line\n"
                           "# created %s\n# data_dir %s\n# database %s\n# schema %d\n",
                           created, c->gateway.data_dir, c->gateway.database,
                           store_schema_version(gw->store));
    gboolean ok = backup_files(&b, error);
    close(lock);
    g_autofree char *manifest_path = g_build_filename(partial, MANIFEST, NULL);
    ok = ok && fs_write_file_atomic(manifest_path, b.manifest->str, b.manifest->len, error);
    g_string_free(b.manifest, TRUE);
    if (ok && rename(partial, final) != 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot rename %s: %s", partial,
                    g_strerror(errno));
        ok = FALSE;
    }
    if (!ok) {
        fs_remove_tree(partial);
        return FALSE;
    }
    out->folder = g_steal_pointer(&final);
    out->incremental = prev != NULL;
    return fs_sync_dir(dir, error);
}

/* ---- verify -------------------------------------------------------------------------------- */

/* files under data_dir/raw and data_dir/att that refs (path set) does not name */
static void find_unreferenced(const char *dir, GHashTable *refs, GPtrArray *out, int depth)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return;
    const char *name;
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
            if (depth < 3)
                find_unreferenced(path, refs, out, depth + 1);
        } else if (!g_hash_table_contains(refs, path)) {
            /* a thumbnail counts with its image, while the image is referred to */
            g_autofree char *from = fs_derived_from(path);
            if (!from || !g_hash_table_contains(refs, from))
                g_ptr_array_add(out, g_steal_pointer(&path));
        }
    }
    g_dir_close(d);
}

/* one file against what is expected of it */
static void check_file(BackupReport *r, const char *path, gint64 size, const char *sha256,
                       gboolean deep)
{
    gint64 found = 0;
    g_autofree char *digest = NULL;
    r->files++;
    if (!file_facts(path, deep, &found, &digest)) {
        r->missing++;
        g_ptr_array_add(r->problems, g_strdup_printf("missing: %s", path));
    } else if (found != size) {
        r->damaged++;
        g_ptr_array_add(r->problems,
                        g_strdup_printf("wrong size: %s (%" G_GINT64_FORMAT " bytes, the record "
                                        "says %" G_GINT64_FORMAT ")",
                                        path, found, size));
    } else if (deep && g_strcmp0(digest, sha256) != 0) {
        r->damaged++;
        g_ptr_array_add(r->problems, g_strdup_printf("wrong SHA-256: %s", path));
    } else {
        r->bytes += found;
    }
}

static gboolean check_database(Store *store, BackupReport *r, GError **error)
{
    g_autofree char *problem = NULL;
    if (!store_integrity_check(store, &problem, error))
        return FALSE;
    if (problem) {
        r->damaged++;
        g_ptr_array_add(r->problems, g_strdup_printf("database: %s", problem));
    }
    return TRUE;
}

gboolean backup_verify_live(Gateway *gw, gboolean deep, BackupReport *out, GError **error)
{
    report_init(out);
    if (!check_database(gw->store, out, error))
        return FALSE;
    g_autoptr(GPtrArray) files = store_file_refs(gw->store, error);
    if (!files)
        return FALSE;
    g_autoptr(GHashTable) refs = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < files->len; i++) {
        const StoredFile *f = g_ptr_array_index(files, i);
        g_hash_table_add(refs, f->path);
        check_file(out, f->path, f->size, f->sha256, deep);
    }
    find_unreferenced(gw->raw_dir, refs, out->unreferenced, 0);
    find_unreferenced(gw->att_dir, refs, out->unreferenced, 0);
    return TRUE;
}

/* a backup folder: DIR itself when it has a MANIFEST, else its newest complete backup */
static char *backup_folder(const char *dir, GError **error)
{
    g_autofree char *manifest = g_build_filename(dir, MANIFEST, NULL);
    char *folder = g_file_test(manifest, G_FILE_TEST_EXISTS) ? g_strdup(dir) : newest_backup(dir);
    if (!folder)
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND,
                    "%s holds no complete backup (a folder with a MANIFEST)", dir);
    return folder;
}

gboolean backup_verify_copy(const char *dir, gboolean deep, BackupReport *out, GError **error)
{
    report_init(out);
    out->folder = backup_folder(dir, error);
    if (!out->folder)
        return FALSE;
    g_autoptr(GHashTable) entries = manifest_read(out->folder, NULL);
    if (!entries || !g_hash_table_contains(entries, BACKUP_DB)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "%s: its MANIFEST names no %s",
                    out->folder, BACKUP_DB);
        return FALSE;
    }
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, entries);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        g_autofree char *path = g_build_filename(out->folder, key, NULL);
        const Entry *e = value;
        check_file(out, path, e->size, e->sha256, deep || g_str_equal(key, BACKUP_DB));
    }
    return TRUE;
}

/* ---- restore ------------------------------------------------------------------------------- */

/* a data folder with no file below raw/ and att/, and a database that is absent or holds no
 * mail (a fresh install's): anything else would be overwritten */
static gboolean target_is_empty(const Config *c, GError **error)
{
    static const char *const subs[] = {"raw", "att"};
    for (gsize i = 0; i < G_N_ELEMENTS(subs); i++) {
        g_autofree char *sub = g_build_filename(c->gateway.data_dir, subs[i], NULL);
        g_autoptr(GHashTable) none = g_hash_table_new(g_str_hash, g_str_equal);
        g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
        find_unreferenced(sub, none, found, 0);
        if (found->len > 0) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                        "%s holds files (%s ...): restore only into an empty data folder",
                        c->gateway.data_dir, (char *)g_ptr_array_index(found, 0));
            return FALSE;
        }
    }
    if (!g_file_test(c->gateway.database, G_FILE_TEST_EXISTS))
        return TRUE;
    g_autoptr(Store) store = store_open_with(c->gateway.database, STORE_SCHEMA_MIGRATE, error);
    gboolean holds = TRUE;
    if (!store || !store_holds_mail(store, &holds, error))
        return FALSE;
    if (holds)
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "the database %s holds reports or mail: restore only onto an empty one "
                    "(move it away first)",
                    c->gateway.database);
    return !holds;
}

static gboolean restore_database(const Config *c, const char *folder, const char *old_data_dir,
                                 GError **error)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (gsize i = 0; i < G_N_ELEMENTS(suffixes); i++) {
        g_autofree char *path = g_strconcat(c->gateway.database, suffixes[i], NULL);
        if (unlink(path) != 0 && errno != ENOENT) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot remove %s: %s", path,
                        g_strerror(errno));
            return FALSE;
        }
    }
    g_autofree char *src = g_build_filename(folder, BACKUP_DB, NULL);
    g_autofree char *db_dir = g_path_get_dirname(c->gateway.database);
    g_autofree char *tmp = NULL;
    int fd = fs_open_private_temp(db_dir, ".restore", &tmp, error);
    if (fd < 0)
        return FALSE;
    gboolean ok = fs_copy_to_fd(src, fd, error) && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, c->gateway.database) != 0) {
        unlink(tmp);
        if (error && !*error)
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot write %s: %s",
                        c->gateway.database, g_strerror(errno));
        return FALSE;
    }
    g_autoptr(Store) store = store_open_with(c->gateway.database, STORE_SCHEMA_MIGRATE, error);
    if (!store)
        return FALSE;
    if (old_data_dir && !g_str_equal(old_data_dir, c->gateway.data_dir) &&
        !store_relocate_files(store, old_data_dir, c->gateway.data_dir, error))
        return FALSE;
    g_autofree char *problem = NULL;
    if (!store_integrity_check(store, &problem, error))
        return FALSE;
    if (problem) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_PERMANENT, "restored database: %s", problem);
        return FALSE;
    }
    return TRUE;
}

gboolean backup_restore(const Config *c, const char *dir, BackupReport *out, GError **error)
{
    /* every byte checked before anything is written */
    if (!backup_verify_copy(dir, TRUE, out, error))
        return FALSE;
    if (out->problems->len > 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED, "%s is damaged (%s): not restored",
                    out->folder, (char *)g_ptr_array_index(out->problems, 0));
        return FALSE;
    }
    if (!target_is_empty(c, error))
        return FALSE;
    g_autofree char *old_data_dir = NULL;
    g_autoptr(GHashTable) entries = manifest_read(out->folder, &old_data_dir);
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, entries);
    out->linked = out->copied = 0;
    while (g_hash_table_iter_next(&it, &key, &value)) {
        if (g_str_equal(key, BACKUP_DB))
            continue;
        g_autofree char *src = g_build_filename(out->folder, key, NULL);
        g_autofree char *dst = g_build_filename(c->gateway.data_dir, key, NULL);
        gboolean linked = FALSE;
        if (!place_file(src, dst, &linked, error))
            return FALSE;
        if (linked)
            out->linked++;
        else
            out->copied++;
    }
    return restore_database(c, out->folder, old_data_dir, error);
}
