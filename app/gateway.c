/* gateway: fetch (imap) -> record (queue) -> parse (parse) -> decide (queue) -> answer (notify).
 *
 * The invariant everything here keeps (SPEC §8): a message is moved out of the inbox only
 * after its raw copy, its draft, its attachments and its answers are committed; a crash at
 * any point leaves it either unrecorded and still in the inbox, or recorded exactly once. */
#include "app/gateway_private.h"
#include "app/scheduler.h"
#include "parse/parse.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

Store *gateway_store(Gateway *gw)
{
    return gw->store;
}

const Config *gateway_config(Gateway *gw)
{
    return gw->config;
}

void ingest_result_clear(IngestResult *r)
{
    g_clear_pointer(&r->code, g_free);
    g_clear_pointer(&r->classification, g_free);
    memset(r, 0, sizeof *r);
}

/* ---- setup ----------------------------------------------------------------------------------- */

void gateway_remove_tree(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    if (dir) {
        const char *name;
        while ((name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
                !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
                gateway_remove_tree(child);
            else
                unlink(child);
        }
        g_dir_close(dir);
    }
    rmdir(path);
}

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
        gateway_remove_tree(path);
    }
    g_dir_close(dir);
}

Gateway *gateway_open(const Config *config, GError **error)
{
    g_autoptr(Gateway) gw = g_new0(Gateway, 1);
    gw->config = config;
    gw->raw_dir = g_build_filename(config->gateway.data_dir, "raw", NULL);
    gw->att_dir = g_build_filename(config->gateway.data_dir, "att", NULL);
    g_autofree char *tmp_root = g_build_filename(config->gateway.data_dir, "tmp", NULL);
    if (!fs_make_private_dir(config->gateway.data_dir, error) ||
        !fs_make_private_dir(gw->raw_dir, error) || !fs_make_private_dir(gw->att_dir, error) ||
        !fs_make_private_dir(tmp_root, error))
        return NULL;
    remove_stale_work(tmp_root);
    g_autofree char *template = g_strdup_printf("%s/%d.XXXXXX", tmp_root, (int)getpid());
    if (!g_mkdtemp_full(template, 0700)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot create %s: %s", template,
                    g_strerror(errno));
        return NULL;
    }
    gw->tmp_dir = g_steal_pointer(&template);
    gw->store = store_open(config->gateway.database, error);
    if (!gw->store)
        return NULL;
    parse_init();
    return g_steal_pointer(&gw);
}

void gateway_close(Gateway *gw)
{
    if (!gw)
        return;
    imap_client_close(gw->imap);
    smtp_sender_free(gw->smtp);
    store_close(gw->store);
    if (gw->tmp_dir)
        gateway_remove_tree(gw->tmp_dir);
    g_free(gw->raw_dir);
    g_free(gw->att_dir);
    g_free(gw->tmp_dir);
    g_free(gw);
}

int gateway_lock_fetcher(const Config *config, GError **error)
{
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
/* ---- the daemon ------------------------------------------------------------------------------ */

static gboolean wait_or_stop(const RunOptions *options, int seconds)
{
    for (int i = 0; i < seconds * 10; i++) {
        if (options->stop_requested && *options->stop_requested)
            return FALSE;
        g_usleep(100 * 1000);
    }
    return !(options->stop_requested && *options->stop_requested);
}

gboolean gateway_run(Gateway *gw, const RunOptions *options, GError **error)
{
    const Config *c = gw->config;
    gboolean mailbox_ok = TRUE;
    for (;;) {
        scheduler_run_cycle(gw, NULL); /* first: it needs no server, and must never wait for one */
        int processed = 0;
        GError *sync_error = NULL;
        if (gateway_sync_mailbox(gw, &processed, &sync_error)) {
            if (!mailbox_ok)
                log_notice("mailbox %s reachable again", c->imap.server.host);
            mailbox_ok = TRUE;
        } else {
            if (options->once) {
                g_propagate_error(error, sync_error);
                /* still send what is queued: the outbox does not depend on the mailbox */
                gateway_flush_outbox(gw, NULL, NULL, NULL);
                return FALSE;
            }
            if (mailbox_ok)
                log_error("mailbox: %s", sync_error->message);
            mailbox_ok = FALSE;
            g_error_free(sync_error);
        }
        GError *flush_error = NULL;
        if (!gateway_flush_outbox(gw, NULL, NULL, &flush_error)) {
            log_error("outbox: %s", flush_error->message);
            if (options->once) {
                g_propagate_error(error, flush_error);
                return FALSE;
            }
            g_error_free(flush_error);
        }
        if (options->once)
            return TRUE;
        if (!wait_or_stop(options, c->imap.poll_seconds))
            return TRUE;
    }
}
