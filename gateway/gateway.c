/* gateway: fetch (imap) -> record (queue) -> parse (parse) -> decide (queue) -> answer (notify).
 *
 * The invariant everything here keeps (SPEC §8): a message is moved out of the inbox only
 * after its raw copy, its draft, its attachments and its answers are committed; a crash at
 * any point leaves it either unrecorded and still in the inbox, or recorded exactly once. */
#include "gateway/gateway_private.h"
#include "gateway/gateway.h"
#include "letters/letters.h"
#include "parse/parse.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
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
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "the database %s belongs to %s but data_dir %s to %s: both must belong to "
                    "the user pahtd runs as (e.g. chown -R %s: %s %s*)",
                    db, db_user, data, data_user, db_user, data, db);
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

gboolean gateway_check_bounce_key(const Config *config, GError **error)
{
    GError *local = NULL;
    g_autoptr(GBytes) key = outbound_bounce_key(config, FALSE, &local);
    if (local) {
        g_propagate_prefixed_error(error, local, "[smtp] bounce key: ");
        return FALSE;
    }
    return TRUE;
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
    gw->signal_fd = -1;
    gw->recovering = TRUE;
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
    gw->store = store_open_with(config->gateway.database, policy, error);
    if (!gw->store)
        return NULL;
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

void gateway_close(Gateway *gw)
{
    if (!gw)
        return;
    worker_stop(gw);
    imap_client_close(gw->imap);
    smtp_sender_free(gw->smtp);
    store_close(gw->store);
    if (gw->tmp_dir)
        fs_remove_tree(gw->tmp_dir);
    g_free(gw->raw_dir);
    g_free(gw->att_dir);
    g_free(gw->tmp_dir);
    g_free(gw->keywords_copy);
    config_free(gw->owned_config);
    g_free(gw);
}

/* ---- the keyword lists -----------------------------------------------------------------------
 * keywords.conf decides what is an emergency, a complaint, a request for secrecy; the province
 * edits it. A file that does not parse made every message fail in the parser while
 * --check-config said OK, so it is checked with the rest of the configuration. The daemon's
 * parser reads a private copy of the file as it was checked, never the file itself: an edit
 * reaches it through a reload that accepts it (SIGHUP), and a broken edit that was refused, or
 * never announced, changes nothing for the mail. */

gboolean gateway_check_config(const Config *config, GError **error)
{
    return parse_keywords_check(config->gateway.keywords_file, error);
}

/* Checks keywords_file (NULL: the built-in lists) and makes it the copy the parser reads
 * (gw->keywords_copy). On any error the copy in use stays as it was. */
static gboolean keywords_take_copy(Gateway *gw, const char *keywords_file, GError **error)
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

/* ---- the daemon ------------------------------------------------------------------------------
 * The loop reads like what it does:
 *
 *     sync the mailbox -> (scheduler) -> flush the outbox -> wait (IDLE, or poll_seconds)
 *
 * Waiting is never longer than poll_seconds, so that the outbox (and the scheduler) get a turn
 * however quiet the mailbox is; new mail ends an IDLE wait at once, a signal ends any wait.
 * A mailbox that fails is tried again with exponential backoff and jitter, while the rest of
 * the loop keeps running. */

/* the first retry after a failure, and the longest wait between retries */
#define BACKOFF_FIRST_SECONDS 1.0
#define BACKOFF_MAX_SECONDS   300.0
/* a mailbox unreachable this long is reported to the IOC (and again when it is back) */
#define OUTAGE_ALERT_SECONDS (30 * 60)
/* daemon_state keys: the outage survives restarts (a restart is a common first remedy) */
#define STATE_DOWN_SINCE   "mailbox_down_since"
#define STATE_DOWN_ALERTED "mailbox_down_alerted"

typedef struct {
    int failures;          /* consecutive failed passes; 0 while the mailbox is fine */
    gint64 next_attempt;   /* monotonic microseconds: no pass before this */
    int last_code;         /* PahtErrorCode of the last failure */
    gboolean check_stored; /* an outage recorded by an earlier run may still be open */
} MailboxHealth;

gboolean gateway_stopping(Gateway *gw)
{
    if (gw->signal_fd >= 0) {
        struct signalfd_siginfo info;
        while (read(gw->signal_fd, &info, sizeof info) == (ssize_t)sizeof info) {
            if (info.ssi_signo == SIGHUP) {
                gw->reload = TRUE;
            } else if (!gw->stop) {
                gw->stop = TRUE;
                log_notice("signal %u: finishing the message in hand, then stopping",
                           info.ssi_signo);
            }
        }
    }
    return gw->stop;
}

void gateway_keepalive(Gateway *gw)
{
    if (gw->watchdog_usec <= 0)
        return;
    gint64 now = g_get_monotonic_time();
    if (now - gw->watchdog_last < gw->watchdog_usec / 4)
        return;
    gw->watchdog_last = now;
    sd_notify(0, "WATCHDOG=1");
}

/* 1 s, 2 s, 4 s ... up to 5 minutes, each drawn at random from its upper half so that many
 * gateways (or one after a server restart) do not knock in step */
static double backoff_seconds(int failures)
{
    double delay = BACKOFF_FIRST_SECONDS;
    for (int i = 1; i < failures && delay < BACKOFF_MAX_SECONDS; i++)
        delay *= 2;
    delay = MIN(delay, BACKOFF_MAX_SECONDS);
    return delay / 2 + g_random_double() * delay / 2;
}

static gint64 stored_down_since(Gateway *gw)
{
    g_autofree char *text = daemon_state_get(gw->store, STATE_DOWN_SINCE, NULL);
    return text ? g_ascii_strtoll(text, NULL, 10) : 0;
}

static void alert_outage(Gateway *gw, gint64 since, const char *what)
{
    const Config *c = gw->config;
    g_autofree char *at = letters_format_time(c, since);
    g_autofree char *key =
        g_strdup_printf("mailbox_down:%s:%" G_GINT64_FORMAT, c->imap.user, since);
    g_autofree char *title =
        g_strdup_printf("Không kết nối được hộp thư %s từ %s", c->imap.user, at);
    g_autofree char *error_line = g_strdup_printf("Lỗi gần nhất: %s", what);
    const char *lines[] = {
        error_line,
        "Thư của người dân vẫn nằm an toàn trên máy chủ thư; hệ thống tự thử kết nối lại và sẽ "
        "xử lý chúng ngay khi kết nối được.",
        "Trong lúc này không có phản ánh mới nào được tiếp nhận qua thư điện tử; thư đi (xác "
        "nhận, nhắc hạn) vẫn được gửi bình thường.",
        "Cần kiểm tra: máy chủ thư, mạng, mật khẩu và chứng chỉ TLS của hộp thư (xem nhật ký: "
        "journalctl -u pahtd).",
        NULL,
    };
    GError *error = NULL;
    gboolean ok = store_begin(gw->store, &error) &&
                  letters_ioc_alert(c, gw->store, key, 0, title, lines, &error) &&
                  daemon_state_set(gw->store, STATE_DOWN_ALERTED, "1", &error) &&
                  store_commit(gw->store, &error);
    if (!ok) {
        store_rollback(gw->store);
        log_error("cannot enqueue the mailbox alert: %s", error->message);
        g_error_free(error);
        return;
    }
    log_warning("mailbox %s unreachable for %" G_GINT64_FORMAT " min: the IOC is alerted (%s)",
                c->imap.user, (clock_now_unix() - since) / 60, c->gateway.ioc_alert_to);
}

static void mailbox_failed(Gateway *gw, MailboxHealth *h, const GError *e)
{
    const Config *c = gw->config;
    h->failures++;
    double delay = backoff_seconds(h->failures);
    h->next_attempt = g_get_monotonic_time() + (gint64)(delay * G_USEC_PER_SEC);
    gint64 now = clock_now_unix();
    gint64 since = stored_down_since(gw);
    if (!since) {
        since = now;
        g_autofree char *text = g_strdup_printf("%" G_GINT64_FORMAT, since);
        GError *local = NULL;
        if (!daemon_state_set(gw->store, STATE_DOWN_SINCE, text, &local)) {
            log_warning("cannot record the outage: %s", local->message);
            g_error_free(local);
        }
    }
    /* once per change of state: the first failure, or a different kind of failure */
    if (h->failures == 1)
        log_error("mailbox %s: %s (retrying with backoff)", c->imap.user, e->message);
    else if (e->code != h->last_code)
        log_error("mailbox %s still failing, now: %s", c->imap.user, e->message);
    else
        log_debug("mailbox %s: %s; next try in %.0f s", c->imap.user, e->message, delay);
    h->last_code = e->code;
    h->check_stored = TRUE;
    if (h->failures == 1) {
        g_autofree char *at = letters_format_time(c, since);
        sd_notifyf(0, "STATUS=Mailbox %s unreachable since %s", c->imap.user, at);
    }
    if (now - since >= OUTAGE_ALERT_SECONDS) {
        g_autofree char *alerted = daemon_state_get(gw->store, STATE_DOWN_ALERTED, NULL);
        if (!alerted)
            alert_outage(gw, since, e->message);
    }
}

static void mailbox_fine(Gateway *gw, MailboxHealth *h)
{
    const Config *c = gw->config;
    gboolean was_down = h->failures > 0;
    h->failures = 0;
    h->next_attempt = 0;
    if (!h->check_stored)
        return;
    h->check_stored = FALSE;
    gint64 since = stored_down_since(gw);
    if (!since) {
        if (was_down)
            log_notice("mailbox %s reachable again", c->imap.user);
        return;
    }
    g_autofree char *alerted = daemon_state_get(gw->store, STATE_DOWN_ALERTED, NULL);
    gint64 minutes = (clock_now_unix() - since) / 60;
    log_notice("mailbox %s reachable again after %" G_GINT64_FORMAT " min", c->imap.user, minutes);
    GError *error = NULL;
    gboolean ok = store_begin(gw->store, &error);
    if (ok && alerted) {
        g_autofree char *key =
            g_strdup_printf("mailbox_up:%s:%" G_GINT64_FORMAT, c->imap.user, since);
        g_autofree char *from = letters_format_time(c, since);
        g_autofree char *title = g_strdup_printf("Đã kết nối lại hộp thư %s", c->imap.user);
        g_autofree char *line = g_strdup_printf(
            "Hộp thư không kết nối được từ %s, trong khoảng %" G_GINT64_FORMAT " phút.", from,
            minutes);
        const char *lines[] = {
            line, "Thư đến trong thời gian gián đoạn đang được xử lý bình thường.", NULL};
        ok = letters_ioc_alert(c, gw->store, key, 0, title, lines, &error);
    }
    ok = ok && daemon_state_set(gw->store, STATE_DOWN_SINCE, NULL, &error) &&
         daemon_state_set(gw->store, STATE_DOWN_ALERTED, NULL, &error) &&
         store_commit(gw->store, &error);
    if (!ok) {
        store_rollback(gw->store);
        log_error("cannot record the end of the mailbox outage: %s", error->message);
        g_error_free(error);
        h->check_stored = TRUE;
    }
}

static void notify_watching(Gateway *gw)
{
    const Config *c = gw->config;
    gboolean idle = c->imap.idle && gw->imap && imap_client_can_idle(gw->imap);
    sd_notifyf(0, "STATUS=Watching %s of %s (%s)", c->imap.server.path, c->imap.user,
               idle ? "IDLE" : "polling");
}

/* 2. the mailbox: one pass, unless a failure asked us to wait a while */
static gboolean mailbox_step(Gateway *gw, MailboxHealth *h, gboolean once, GError **error)
{
    if (!once && h->failures > 0 && g_get_monotonic_time() < h->next_attempt)
        return TRUE;
    gboolean first = !gw->imap;
    int processed = 0;
    GError *local = NULL;
    if (!gateway_sync_mailbox(gw, &processed, &local)) {
        mailbox_failed(gw, h, local);
        g_propagate_error(error, local);
        return FALSE;
    }
    gboolean was_down = h->failures > 0 || h->check_stored;
    mailbox_fine(gw, h);
    if (first || was_down)
        notify_watching(gw);
    return TRUE;
}

/* sleeps at most usec, or until a signal comes */
static void sleep_or_signal(Gateway *gw, gint64 usec)
{
    if (usec <= 0)
        return;
    struct pollfd pfd = {.fd = gw->signal_fd, .events = POLLIN};
    if (gw->signal_fd >= 0)
        poll(&pfd, 1, (int)MIN(usec / 1000 + 1, G_MAXINT));
    else
        g_usleep((gulong)usec);
}

/* 4. the wait: in IDLE when the server offers it (new mail ends it at once), else sleep and
 * then one NOOP; either way one IMAP command, whatever the size of the mailbox */
static void wait_for_mail(Gateway *gw, const MailboxHealth *h)
{
    const Config *c = gw->config;
    gint64 usec = (gint64)c->imap.poll_seconds * G_USEC_PER_SEC;
    if (h->failures > 0)
        usec = MIN(usec, MAX(0, h->next_attempt - g_get_monotonic_time()));
    if (gw->watchdog_usec > 0)
        usec = MIN(usec, gw->watchdog_usec / 2);
    gboolean connected = gw->imap && gw->selected && h->failures == 0;
    if (connected && (gw->sync_pending || imap_client_has_news(gw->imap)))
        return; /* more to do at once */
    GError *error = NULL;
    if (connected && c->imap.idle && imap_client_can_idle(gw->imap)) {
        int ms = (int)MIN(usec / 1000, G_MAXINT);
        if (!imap_client_idle(gw->imap, ms, gw->signal_fd, &error)) {
            log_info("mailbox: %s; connecting again", error->message);
            g_error_free(error);
            mailbox_disconnect(gw);
        }
        return;
    }
    sleep_or_signal(gw, usec);
    if (connected && !gateway_stopping(gw) && !gw->reload && !imap_client_noop(gw->imap, &error)) {
        log_info("mailbox: %s; connecting again", error->message);
        g_error_free(error);
        mailbox_disconnect(gw);
    }
}

/* SIGHUP: the new configuration, if it is whole and valid, keywords file included; NULL (and
 * a log line saying why) when it is refused and the running one stays */
static Config *reload_accepted(Gateway *gw, const char *path)
{
    GError *error = NULL;
    Config *fresh = path ? config_load(path, CONFIG_LOAD_SECRETS, &error) : NULL;
    if (fresh && (!g_str_equal(fresh->gateway.database, gw->config->gateway.database) ||
                  !g_str_equal(fresh->gateway.data_dir, gw->config->gateway.data_dir)))
        g_set_error(&error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "database and data_dir cannot change while pahtd runs (restart it)");
    else if (fresh)
        keywords_take_copy(gw, fresh->gateway.keywords_file, &error);
    if (!fresh || error) {
        log_error("SIGHUP: the new configuration is refused, the running one is kept: %s",
                  error ? error->message : "no configuration file");
        g_clear_error(&error);
        config_free(fresh);
        return NULL;
    }
    return fresh;
}

static void reload_config(Gateway *gw, const char *path)
{
    sd_notify(0, "RELOADING=1");
    Config *fresh = reload_accepted(gw, path);
    if (fresh) {
        /* new servers, accounts, folders, templates and keywords apply from the next
         * connection and the next message (the worker reads the file again) */
        mailbox_disconnect(gw);
        g_clear_pointer(&gw->smtp, smtp_sender_free);
        worker_stop(gw);
        config_free(gw->owned_config);
        gw->owned_config = fresh;
        gw->config = fresh;
        log_set_level((LogLevel)fresh->gateway.log_level);
        if (!fresh->imap.tls_verify)
            log_warning("imap tls_verify = false: the mail server's identity is NOT checked");
        if (!fresh->smtp.tls_verify)
            log_warning("smtp tls_verify = false: the mail server's identity is NOT checked");
        log_notice("configuration reloaded from %s", path);
        worker_prepare(gw);
    }
    sd_notify(0, "READY=1");
}

gboolean gateway_run(Gateway *gw, const RunOptions *options, GError **error)
{
    gw->signal_fd = options->signal_fd;
    MailboxHealth health = {.last_code = -1, .check_stored = TRUE};
    uint64_t watchdog = 0;
    if (!options->once && sd_watchdog_enabled(0, &watchdog) > 0)
        gw->watchdog_usec = (gint64)watchdog;
    if (!keywords_take_copy(gw, gw->config->gateway.keywords_file, error))
        return FALSE;
    if (!options->once)
        sd_notify(0, "READY=1");
    worker_prepare(gw);

    gboolean ok = TRUE;
    for (;;) {
        if (gateway_stopping(gw))
            break;
        if (gw->reload) {
            gw->reload = FALSE;
            reload_config(gw, options->config_path);
        }
        gateway_keepalive(gw);

        /* 1. the scheduler (deadlines, overdue flags, reminders, escalations) first: it needs
         *    no server, so a mailbox or SMTP outage never stops a report turning overdue */
        scheduler_run_cycle(gw, NULL);

        /* 2. sync the mailbox: new mail in, recorded, answered, moved */
        GError *sync_error = NULL;
        gboolean synced = mailbox_step(gw, &health, options->once, &sync_error);
        if (gateway_stopping(gw) && !options->once) {
            g_clear_error(&sync_error);
            break;
        }

        /* 3. flush the outbox: it runs whether or not the mailbox can be reached; what the
         *    scheduler enqueued goes out in this turn */
        GError *flush_error = NULL;
        gboolean flushed = gateway_flush_outbox(gw, NULL, NULL, &flush_error);
        if (!flushed)
            log_error("outbox: %s", flush_error->message);

        if (options->once) {
            ok = synced && flushed;
            if (!synced) {
                g_propagate_error(error, sync_error);
                sync_error = NULL;
            } else if (!flushed) {
                g_propagate_error(error, flush_error);
                flush_error = NULL;
            }
            g_clear_error(&sync_error);
            g_clear_error(&flush_error);
            break;
        }
        g_clear_error(&sync_error);
        g_clear_error(&flush_error);

        /* 4. wait: IDLE (new mail wakes us at once) or poll_seconds, at most */
        if (!gateway_stopping(gw) && !gw->reload)
            wait_for_mail(gw, &health);
    }
    if (!options->once)
        sd_notify(0, "STOPPING=1");
    worker_stop(gw);
    gw->signal_fd = -1;
    return ok;
}
