/* gateway: fetch (imap) -> record (queue) -> parse (parse) -> decide (queue) -> answer (notify).
 *
 * The invariant everything here keeps (SPEC §8): a message is moved out of the inbox only
 * after its raw copy, its draft, its attachments and its answers are committed; a crash at
 * any point leaves it either unrecorded and still in the inbox, or recorded exactly once.
 *
 * This file is what the others stand on: opening and closing a gateway (its folders, its
 * owner, its database), the fetcher's lock, the keyword lists, and what a long pass may ask of
 * whoever runs it (the daemon: stop? still alive). It calls nothing else of gateway/. */
#include "gateway/gateway_private.h"
#include "letters/letters.h"
#include "parse/parse.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

Store *gateway_store(Gateway *gw)
{
    return gw->store;
}

const Config *gateway_config(Gateway *gw)
{
    return gw->config;
}

/* ---- one owner for every file (issue 11.4) --------------------------------------------------
 * The database and data_dir belong to the service user (paht). A folder made by anyone else
 * (root, after "sudo pahtctl ingest") is one the daemon cannot write into later: EACCES, and
 * the inbox stalls. So root becomes the owner before it opens anything, another user is
 * refused, and what an earlier version left behind is found at start, not at the first
 * write. */

/* whether path itself was examined (not an ancestor standing in for it) */
static gboolean owner_of(const char *path, uid_t *uid, gboolean *exists)
{
    g_autofree char *found = NULL;
    if (!fs_owner(path, uid, &found))
        return FALSE;
    g_autofree char *canonical = g_canonicalize_filename(path, NULL);
    *exists = g_str_equal(found, canonical);
    return TRUE;
}

/* the database, then data_dir, decide; when neither exists yet (or a user outside them cannot
 * see them), whoever owns the folder the database is, or will be, made in */
static gboolean install_owner(const Config *c, uid_t *owner, GError **error)
{
    const char *db = c->gateway.database, *data = c->gateway.data_dir;
    uid_t db_uid = 0, data_uid = 0;
    gboolean db_exists = FALSE, data_exists = FALSE;
    if (!owner_of(db, &db_uid, &db_exists) || !owner_of(data, &data_uid, &data_exists)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "cannot examine %s or %s: %s", db, data,
                    g_strerror(errno));
        return FALSE;
    }
    if (db_exists && data_exists && db_uid != data_uid) {
        g_autofree char *db_user = user_name_of(db_uid);
        g_autofree char *data_user = user_name_of(data_uid);
        /* a root-owned side is what "sudo pahtctl" of an earlier version left: the service
         * user is the other one */
        const char *service = db_uid == 0 ? data_user : db_user;
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "the database %s belongs to %s but data_dir %s to %s: both must belong to "
                    "the user pahtd runs as (e.g. chown -R %s: %s %s*)",
                    db, db_user, data, data_user, service, data, db);
        return FALSE;
    }
    *owner = db_exists || !data_exists ? db_uid : data_uid;
    return TRUE;
}

gboolean gateway_become_owner(const Config *config, char **run_as, GError **error)
{
    uid_t owner = 0;
    if (!install_owner(config, &owner, error))
        return FALSE;
    uid_t me = geteuid();
    if (me == owner)
        return TRUE;
    g_autofree char *name = user_name_of(owner);
    if (me == 0) {
        /* before anything is opened: every file made from here on is the owner's */
        if (!process_become_user(owner, error))
            return FALSE;
        log_debug("running as %s, the owner of %s", name, config->gateway.database);
        return TRUE;
    }
    g_autofree char *mine = user_name_of(me);
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                "%s and %s belong to %s, and this runs as %s: run it as %s, or what it writes "
                "would be %s's and the daemon could not use it",
                config->gateway.database, config->gateway.data_dir, name, mine, name, mine);
    if (run_as)
        *run_as = g_steal_pointer(&name);
    return FALSE;
}

static gboolean foreign_file_found(const Config *c, const char *foreign, GError **error)
{
    struct stat st;
    uid_t owner = lstat(foreign, &st) == 0 ? st.st_uid : 0;
    g_autofree char *theirs = user_name_of(owner);
    g_autofree char *ours = user_name_of(geteuid());
    gboolean in_data = g_str_has_prefix(foreign, c->gateway.data_dir);
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                "%s belongs to %s, not to %s, who owns the database and data_dir: the gateway "
                "cannot write into it (was pahtctl run as %s by an earlier version?). Give it "
                "back: chown -R %s: %s%s",
                foreign, theirs, ours, theirs, ours,
                in_data ? c->gateway.data_dir : c->gateway.database, in_data ? "" : "*");
    return FALSE;
}

/* the database's own files: the lock, the WAL and its index */
static gboolean database_files_owned(const Config *c, GError **error)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", ".lock"};
    for (gsize i = 0; i < G_N_ELEMENTS(suffixes); i++) {
        g_autofree char *path = g_strconcat(c->gateway.database, suffixes[i], NULL);
        g_autofree char *foreign = fs_find_foreign(path, geteuid(), 0);
        if (foreign)
            return foreign_file_found(c, foreign, error);
    }
    return TRUE;
}

/* data_dir, its folders (raw, att, tmp) and theirs (raw/ab ...): the files inside are not
 * walked, there may be millions, and a folder is where a write fails */
static gboolean data_dir_owned(const Config *c, GError **error)
{
    g_autofree char *foreign = fs_find_foreign(c->gateway.data_dir, geteuid(), 2);
    return foreign ? foreign_file_found(c, foreign, error) : database_files_owned(c, error);
}

/* ---- setup ----------------------------------------------------------------------------------- */

/* Work folders are per process ("tmp/<pid>.XXXXXX") so that pahtctl and pahtd never clean
 * up each other's work; those of processes that died are removed here. */
static void remove_stale_work(const char *tmp_root)
{
    GDir *dir = g_dir_open(tmp_root, 0, NULL);
    if (!dir)
        return;
    const char *name;
    while ((name = g_dir_read_name(dir))) {
        char *end = NULL;
        long pid = strtol(name, &end, 10);
        if (pid <= 0 || !end || *end != '.')
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        g_autofree char *path = g_build_filename(tmp_root, name, NULL);
        fs_remove_tree(path);
    }
    g_dir_close(dir);
}

Gateway *gateway_open_with(const Config *config, StoreSchemaPolicy policy, GError **error)
{
    g_autoptr(Gateway) gw = g_new0(Gateway, 1);
    gw->config = config;
    gw->recovering = TRUE;
    gw->sync_fds[0] = gw->sync_fds[1] = -1;
    gw->raw_dir = g_build_filename(config->gateway.data_dir, "raw", NULL);
    gw->att_dir = g_build_filename(config->gateway.data_dir, "att", NULL);
    g_autofree char *tmp_root = g_build_filename(config->gateway.data_dir, "tmp", NULL);
    if (!fs_make_private_dir(config->gateway.data_dir, error) ||
        !fs_make_private_dir(gw->raw_dir, error) || !fs_make_private_dir(gw->att_dir, error) ||
        !fs_make_private_dir(tmp_root, error) || !data_dir_owned(config, error))
        return NULL;
    remove_stale_work(tmp_root);
    g_autofree char *template = g_strdup_printf("%s/%d.XXXXXX", tmp_root, (int)getpid());
    if (!g_mkdtemp_full(template, 0700)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot create %s: %s", template,
                    g_strerror(errno));
        return NULL;
    }
    gw->tmp_dir = g_steal_pointer(&template);
    g_autofree char *gate = gateway_test_fault("open-gate");
    gateway_test_gate(gate); /* PAHT_TEST_FAULT open-gate:FIFO (tests only) */
    gw->store = store_open_with(config->gateway.database, policy, error);
    if (!gw->store)
        return NULL;
    /* a process that died before its group commit's sync may have left writes that only the
     * page cache holds: the first sync covers them */
    gw->unsynced = TRUE;
    struct stat db_st, data_st;
    gw->database_apart = stat(config->gateway.database, &db_st) != 0 ||
                         stat(config->gateway.data_dir, &data_st) != 0 ||
                         db_st.st_dev != data_st.st_dev;
    /* the database's folder rather than its file: closing any descriptor of the database file
     * would drop SQLite's locks on it in this process */
    g_autofree char *database_dir = g_path_get_dirname(config->gateway.database);
    const char *sync_paths[2] = {config->gateway.data_dir, database_dir};
    for (int i = 0; i < (gw->database_apart ? 2 : 1); i++) {
        gw->sync_fds[i] = open(sync_paths[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (gw->sync_fds[i] < 0) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot open %s: %s",
                        sync_paths[i], g_strerror(errno));
            return NULL;
        }
    }
    parse_init();
    return g_steal_pointer(&gw);
}

Gateway *gateway_open(const Config *config, GError **error)
{
    return gateway_open_with(config, STORE_SCHEMA_MIGRATE, error);
}

void gateway_remove_dead_work(Gateway *gw)
{
    g_autofree char *tmp_root = g_path_get_dirname(gw->tmp_dir);
    remove_stale_work(tmp_root);
}

static void close_after_sync_failure(Gateway *gw);

void gateway_close(Gateway *gw)
{
    if (!gw)
        return;
    /* the parser process is the daemon's: daemon_run stops it before it returns */
    for (int i = 0; i < PARSER_PROCESSES_MAX; i++)
        g_warn_if_fail(!gw->workers[i]);
    g_clear_pointer(&gw->settled, g_hash_table_unref);
    g_warn_if_fail(!gw->imap_ahead); /* the daemon's too: daemon_run takes or closes it */
    close_after_sync_failure(gw);
    imap_client_close(gw->imap);
    smtp_sender_free(gw->smtp);
    store_close(gw->store);
    if (gw->tmp_dir)
        fs_remove_tree(gw->tmp_dir);
    for (int i = 0; i < 2; i++)
        if (gw->sync_fds[i] >= 0)
            close(gw->sync_fds[i]);
    g_free(gw->sync_error);
    g_free(gw->raw_dir);
    g_free(gw->att_dir);
    g_free(gw->tmp_dir);
    g_free(gw->keywords_copy);
    g_free(gw->config_snapshot);
    config_free(gw->owned_config);
    g_free(gw);
}

/* ---- group commit -------------------------------------------------------------------------- */

gboolean gateway_defer_sync(Gateway *gw, GError **error)
{
    if (gw->defer_sync)
        return TRUE;
    if (!store_sync_each_commit(gw->store, FALSE, error))
        return FALSE;
    gw->defer_sync = TRUE;
    return TRUE;
}

/* something was written since the last sync (changes: the store's now) */
static gboolean durable_owed(const Gateway *gw, gint64 changes)
{
    return gw->unsynced || (gw->defer_sync && changes != gw->synced_changes);
}

/* how many syncs this process has run, for PAHT_TEST_FAULT sync-fail:N */
static gint syncs_run;

/* One sync of the file systems open in fds (see gw->sync_fds), told by path in errors.
 * PAHT_TEST_FAULT sync-fail:N (tests only): the process's Nth sync fails as a write-back error
 * would. Runs in the job's thread too: it touches none of the gateway's state. */
static gboolean sync_disks(const int fds[2], const char *const paths[2], const char *fault,
                           GError **error)
{
    int n = g_atomic_int_add(&syncs_run, 1) + 1;
    if (fault && atoi(fault) == n) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY,
                    "cannot sync the file system of %s: %s (PAHT_TEST_FAULT sync-fail)", paths[0],
                    g_strerror(EIO));
        return FALSE;
    }
    /* one syncfs is one flush of the disk's cache for every file of the batch, where an
     * fsync per file and per folder was one each (4.8 per mail) */
    for (int i = 0; i < 2 && fds[i] >= 0; i++)
        if (!fs_sync_fd(fds[i], paths[i], error))
            return FALSE;
    return TRUE;
}

/* the database's folder when it is on a file system of its own, else NULL */
static char *database_sync_path(const Gateway *gw)
{
    return gw->database_apart ? g_path_get_dirname(gw->config->gateway.database) : NULL;
}

/* A sync failed: the disk said that something written before it is not there. The file
 * that lost its write keeps the right bytes in the page cache, marked clean, so no later sync
 * writes it again or is told of it again, and no read sees the loss. Nothing more may leave the
 * inbox or the outbox on the strength of a sync until the next pass has checked, from the disk, the
 * files of the messages still in the inbox (what a crash would make it do). */
static void note_sync_failed(Gateway *gw, const GError *e)
{
    if (!gw->sync_failed)
        log_error("%s: nothing leaves the inbox or the outbox until the next pass has checked "
                  "the files of the messages still in the inbox",
                  e->message);
    gw->sync_failed = TRUE;
    gw->files_unsure = TRUE;
    g_free(gw->sync_error);
    gw->sync_error = g_strdup(e->message);
}

static gboolean refuse_after_sync_failure(const Gateway *gw, GError **error)
{
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY,
                "not synced: a sync of the disk failed earlier in this pass (%s)", gw->sync_error);
    return FALSE;
}

gboolean gateway_sync_retry(Gateway *gw, GError **error)
{
    /* the database's rows cannot be checked like the files: what the WAL holds is copied into
     * the database file from the cache and the WAL emptied, then the sync makes both, and the
     * files' names, durable (and a sync that fails again is noted again) */
    gint64 wal_bytes = 0;
    if (!store_checkpoint_whole(gw->store, &wal_bytes, error))
        return FALSE;
    gw->sync_failed = FALSE;
    g_clear_pointer(&gw->sync_error, g_free);
    gw->unsynced = TRUE; /* the next sync is one, whatever was written since */
    if (!gateway_make_durable(gw, error))
        return FALSE;
    log_notice("the disk was synced again after a failed sync, with the database copied whole "
               "into its file (%" G_GINT64_FORMAT " KiB of WAL): the files of the messages still "
               "in the inbox are checked before they leave it",
               wal_bytes / 1024);
    return TRUE;
}

/* A gateway that closes after a failed sync that no pass tried again (pahtd --once, a stop):
 * SQLite copies the WAL into the database file when its last connection closes, but another one
 * left open (pahtweb's) keeps it, and a crash after this process would read its frames from
 * the disk, where the failed write may have spoiled them: the rows of messages that already
 * left the inbox. So it is copied whole now, as the next pass would have. The files need no
 * more: the next start checks those of the messages still in the inbox from the disk. */
static void close_after_sync_failure(Gateway *gw)
{
    if (!gw->sync_failed || !gw->store)
        return;
    GError *local = NULL;
    if (!gateway_sync_retry(gw, &local)) {
        log_error("%s: the database's last changes may not be whole on the disk; look at the "
                  "disk before pahtd is started again",
                  local->message);
        g_error_free(local);
    }
}

gboolean gateway_make_durable(Gateway *gw, GError **error)
{
    if (gw->sync_failed)
        return refuse_after_sync_failure(gw, error);
    gint64 changes = store_changes(gw->store);
    if (!durable_owed(gw, changes))
        return TRUE;
    g_autofree char *database_dir = database_sync_path(gw);
    const char *paths[2] = {gw->config->gateway.data_dir, database_dir};
    g_autofree char *fault = gateway_test_fault("sync-fail");
    GError *local = NULL;
    if (!sync_disks(gw->sync_fds, paths, fault, &local)) {
        note_sync_failed(gw, local);
        g_propagate_error(error, local);
        return FALSE;
    }
    gw->unsynced = FALSE;
    gw->synced_changes = changes;
    return TRUE;
}

/* The same sync in a thread of its own (issue 18): a syncfs waits for the disk, a tenth of a
 * second for a batch of 200 mails, and pahtd's mailbox pass, which the parser waits for, sat
 * in it: 0.64 s of a 4.4 s ingest of 2,000 mails (strace). */
struct DurableJob {
    Gateway *gw;     /* told of a failure by gateway_durable_finish, never by the thread */
    GThread *thread; /* NULL: nothing was to be synced */
    int fds[2];      /* gw->sync_fds: open as long as the gateway, which outlives its jobs */
    char *paths[2];  /* data_dir, and the database's folder when on another file system */
    char *gate;      /* PAHT_TEST_FAULT sync-gate:FIFO */
    char *fault;     /* PAHT_TEST_FAULT sync-fail:N */
    GError *error;
    gboolean refused;  /* begun after a failure: error is that refusal, not a failure */
    GPtrArray *forget; /* paths whose pages the cache lets go after a sync that succeeded */
    guint forgotten;   /* how many were let go, for gateway_durable_finish to tell */
    gint done;
};

static gpointer durable_job_run(gpointer data)
{
    DurableJob *job = data;
    gateway_test_gate(job->gate); /* PAHT_TEST_FAULT sync-gate:FIFO (tests only) */
    if (sync_disks(job->fds, (const char *const *)job->paths, job->fault, &job->error) &&
        job->forget) {
        for (guint i = 0; i < job->forget->len; i++)
            fs_forget_cached(job->forget->pdata[i]);
        job->forgotten = job->forget->len;
    }
    g_atomic_int_set(&job->done, 1);
    return NULL;
}

DurableJob *gateway_make_durable_start(Gateway *gw, GPtrArray *forget)
{
    DurableJob *job = g_new0(DurableJob, 1);
    job->gw = gw;
    job->forget = forget;
    if (gw->sync_failed) {
        refuse_after_sync_failure(gw, &job->error);
        job->refused = TRUE;
        job->done = 1;
        return job;
    }
    if (!durable_owed(gw, store_changes(gw->store))) {
        job->done = 1;
        return job;
    }
    job->fds[0] = gw->sync_fds[0];
    job->fds[1] = gw->sync_fds[1];
    job->paths[0] = g_strdup(gw->config->gateway.data_dir);
    job->paths[1] = database_sync_path(gw);
    job->gate = gateway_test_fault("sync-gate");
    job->fault = gateway_test_fault("sync-fail");
    GError *no_thread = NULL;
    job->thread = g_thread_try_new("pahtd-sync", durable_job_run, job, &no_thread);
    if (!job->thread) {
        /* no thread to be had: the sync is done here and now, as before */
        g_error_free(no_thread);
        durable_job_run(job);
    }
    return job;
}

gboolean gateway_durable_ready(const DurableJob *job)
{
    return g_atomic_int_get(&job->done) != 0;
}

gboolean gateway_durable_finish(DurableJob *job, GError **error)
{
    if (job->thread)
        g_thread_join(job->thread);
    gboolean ok = job->error == NULL;
    if (!ok && !job->refused)
        note_sync_failed(job->gw, job->error);
    if (!ok)
        g_propagate_error(error, job->error);
    if (job->forgotten)
        log_debug("the page cache let go of the %u files the sync made durable", job->forgotten);
    if (job->forget)
        g_ptr_array_unref(job->forget);
    for (int i = 0; i < 2; i++)
        g_free(job->paths[i]);
    g_free(job->gate);
    g_free(job->fault);
    g_free(job);
    return ok;
}

gboolean gateway_sync_each(Gateway *gw, GError **error)
{
    if (!gateway_make_durable(gw, error))
        return FALSE;
    if (gw->defer_sync && !store_sync_each_commit(gw->store, TRUE, error))
        return FALSE;
    gw->defer_sync = FALSE;
    return TRUE;
}

FsSyncWhen gateway_sync_when(Gateway *gw)
{
    return gw->defer_sync ? FS_SYNC_LATER : FS_SYNC_NOW;
}

/* ---- lasting failures ------------------------------------------------------------------------ */

static char *lasting_key(const char *name, const char *what)
{
    return g_strdup_printf("%s_%s", name, what);
}

static char *lasting_value(Gateway *gw, const char *name, const char *what)
{
    g_autofree char *key = lasting_key(name, what);
    char *value = NULL;
    GError *error = NULL;
    if (!daemon_state_get(gw->store, key, &value, &error)) {
        log_warning("cannot read the record %s: %s", key, error->message);
        g_error_free(error);
    }
    return value;
}

gint64 lasting_since(Gateway *gw, const char *name)
{
    g_autofree char *text = lasting_value(gw, name, "since");
    return text ? g_ascii_strtoll(text, NULL, 10) : 0;
}

gboolean lasting_alerted(Gateway *gw, const char *name)
{
    g_autofree char *text = lasting_value(gw, name, "alerted");
    return text != NULL;
}

gint64 lasting_begin(Gateway *gw, const char *name, gint64 now)
{
    gint64 since = lasting_since(gw, name);
    if (since)
        return since;
    g_autofree char *key = lasting_key(name, "since");
    g_autofree char *text = g_strdup_printf("%" G_GINT64_FORMAT, now);
    GError *error = NULL;
    if (!daemon_state_set(gw->store, key, text, &error)) {
        log_warning("cannot record %s: %s", key, error->message);
        g_error_free(error);
    }
    return now;
}

gboolean lasting_set_alerted(Gateway *gw, const char *name, GError **error)
{
    g_autofree char *key = lasting_key(name, "alerted");
    return daemon_state_set(gw->store, key, "1", error);
}

gboolean lasting_clear(Gateway *gw, const char *name, GError **error)
{
    g_autofree char *since = lasting_key(name, "since");
    g_autofree char *alerted = lasting_key(name, "alerted");
    return daemon_state_set(gw->store, since, NULL, error) &&
           daemon_state_set(gw->store, alerted, NULL, error);
}

/* ---- the keyword lists -----------------------------------------------------------------------
 * keywords.conf decides what is an emergency, a complaint, a request for secrecy; the province
 * edits it. A file that does not parse made every message fail in the parser while
 * --check-config said OK, so it is checked with the rest of the configuration. The daemon's
 * parser reads a private copy of the file as it was checked, never the file itself: an edit
 * reaches it through a reload that accepts it (SIGHUP), and a broken edit that was refused, or
 * never announced, changes nothing for the mail.
 * The letters' templates are checked with them (letters_check_templates): a template is read
 * at each letter, so a broken one would otherwise show only at the first letter that needs it,
 * the acknowledgement of every mail or a reminder weeks later. */

gboolean gateway_check_config(const Config *config, GError **error)
{
    return parse_keywords_check(config->gateway.keywords_file, error) &&
           letters_check_templates(config, error);
}

gboolean gateway_take_keywords(Gateway *gw, const char *keywords_file, GError **error)
{
    if (!parse_keywords_check(keywords_file, error))
        return FALSE;
    if (!keywords_file) {
        g_clear_pointer(&gw->keywords_copy, g_free);
        return TRUE;
    }
    g_autofree char *data = NULL;
    gsize len = 0;
    GError *local = NULL;
    if (!g_file_get_contents(keywords_file, &data, &len, &local)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "keywords file %s: %s", keywords_file,
                    local->message);
        g_error_free(local);
        return FALSE;
    }
    g_autofree char *fresh = g_build_filename(gw->tmp_dir, "keywords.conf.new", NULL);
    g_autofree char *copy = g_build_filename(gw->tmp_dir, "keywords.conf", NULL);
    if (!fs_write_file_atomic(fresh, data, len, error))
        return FALSE;
    /* the bytes copied are the bytes checked: the file may have changed since the check */
    if (!parse_keywords_check(fresh, &local)) {
        unlink(fresh);
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "keywords file %s changed while it was read; try again (%s)", keywords_file,
                    local->message);
        g_error_free(local);
        return FALSE;
    }
    if (rename(fresh, copy) != 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot rename %s: %s", fresh,
                    g_strerror(errno));
        unlink(fresh);
        return FALSE;
    }
    g_free(gw->keywords_copy);
    gw->keywords_copy = g_steal_pointer(&copy);
    return TRUE;
}

int gateway_lock_fetcher(const Config *config, GError **error)
{
    /* a fresh install with a database in a folder of its own: the lock goes there, first */
    g_autofree char *folder = g_path_get_dirname(config->gateway.database);
    if (!fs_make_private_dir(folder, error) || !database_files_owned(config, error))
        return -1;
    g_autofree char *path = g_strconcat(config->gateway.database, ".lock", NULL);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "cannot open lock %s: %s", path,
                    g_strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char holder[32] = "";
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = 0;
        g_strstrip(holder);
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "another pahtd (pid %s) is already running on %s; only one may fetch "
                    "from a database",
                    *holder ? holder : "?", config->gateway.database);
        close(fd);
        return -1;
    }
    g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, strlen(pid), 0) < 0)
        log_debug("cannot write pid to %s", path);
    return fd;
}

/* ---- what a pass may ask of whoever runs it ------------------------------------------------ */

void gateway_watch(Gateway *gw, const GatewayWatch *watch)
{
    gw->watch = watch ? *watch : (GatewayWatch){0};
}

gboolean gateway_stopping(Gateway *gw)
{
    return gw->watch.stopping && gw->watch.stopping(gw->watch.data);
}

void gateway_keepalive(Gateway *gw)
{
    if (gw->watch.alive)
        gw->watch.alive(gw->watch.data);
}

/* ---- PAHT_TEST_FAULT (tests only) ----------------------------------------------------------- */

char *gateway_test_fault(const char *name)
{
    const char *spec = g_getenv("PAHT_TEST_FAULT");
    if (!spec || !*spec)
        return NULL;
    g_auto(GStrv) faults = g_strsplit(spec, ",", -1);
    gsize n = strlen(name);
    char *found = NULL;
    for (guint i = 0; faults[i]; i++) {
        if (strncmp(faults[i], name, n) == 0 && (faults[i][n] == '\0' || faults[i][n] == ':')) {
            g_free(found);
            found = g_strdup(faults[i][n] ? faults[i] + n + 1 : "");
        }
    }
    return found;
}

void gateway_test_gate(const char *fifo)
{
    if (!fifo || !*fifo)
        return;
    int g = open(fifo, O_RDONLY | O_CLOEXEC);
    if (g >= 0)
        close(g);
}
