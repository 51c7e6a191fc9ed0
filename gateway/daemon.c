/* daemon: pahtd's loop over the pipeline, and what only the daemon keeps (its signals,
 * systemd's readiness, status and watchdog, the reload on SIGHUP, the mailbox's backoff and
 * the outage alerts to the IOC). */
#include "gateway/gateway_private.h"
#include "letters/letters.h"
#include "util/util.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

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
/* the outage's record (lasting_*): a mailbox unreachable LASTING_ALERT_SECONDS is reported to
 * the IOC, and again when it is back */
#define OUTAGE "mailbox_down"

typedef struct {
    int failures;          /* consecutive failed passes; 0 while the mailbox is fine */
    gint64 next_attempt;   /* monotonic microseconds: no pass before this */
    int last_code;         /* PahtErrorCode of the last failure */
    gboolean check_stored; /* an outage recorded by an earlier run may still be open */
} MailboxHealth;

/* pahtd's loop and what only it keeps: its signals, systemd's watchdog, the mailbox's health */
typedef struct {
    Gateway *gw;
    int signal_fd;        /* -1: none */
    gboolean stop;        /* SIGTERM/SIGINT seen: finish the message in hand, then stop */
    gboolean reload;      /* SIGHUP seen */
    gint64 watchdog_usec; /* systemd's WatchdogSec, 0 when off */
    gint64 watchdog_last; /* monotonic time of the last ping */
    MailboxHealth health;
} Daemon;

/* reads pending signals (never blocks): sets d->stop / d->reload; TRUE if stopping */
static gboolean daemon_stopping(Daemon *d)
{
    if (d->signal_fd >= 0) {
        struct signalfd_siginfo info;
        while (read(d->signal_fd, &info, sizeof info) == (ssize_t)sizeof info) {
            if (info.ssi_signo == SIGHUP) {
                d->reload = TRUE;
            } else if (!d->stop) {
                d->stop = TRUE;
                log_notice("signal %u: finishing the message in hand, then stopping",
                           info.ssi_signo);
            }
        }
    }
    return d->stop;
}

/* tells systemd we are alive, when its watchdog is on and a ping is due */
static void daemon_keepalive(Daemon *d)
{
    if (d->watchdog_usec <= 0)
        return;
    gint64 now = g_get_monotonic_time();
    if (now - d->watchdog_last < d->watchdog_usec / 4)
        return;
    d->watchdog_last = now;
    sd_notify(0, "WATCHDOG=1");
}

/* GatewayWatch: what a long pass (mailbox.c, worker.c) asks of the daemon */
static gboolean watch_stopping(gpointer data)
{
    return daemon_stopping(data);
}

static void watch_alive(gpointer data)
{
    daemon_keepalive(data);
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

/* the outage's facts, for the alert that it began and the one that it ended */
static JsonBuilder *outage_facts(const Config *c, gint64 since)
{
    JsonBuilder *facts = letters_alert_facts();
    json_member_string(facts, "mailbox", c->imap.user);
    g_autofree char *from = letters_format_time(c, since);
    json_member_string(facts, "since", from);
    return facts;
}

static void alert_outage(Gateway *gw, gint64 since, const char *what)
{
    const Config *c = gw->config;
    g_autofree char *key =
        g_strdup_printf("mailbox_down:%s:%" G_GINT64_FORMAT, c->imap.user, since);
    g_autoptr(JsonBuilder) facts = outage_facts(c, since);
    json_member_string(facts, "error", what);
    GError *error = NULL;
    gboolean ok = store_begin(gw->store, &error) &&
                  letters_ioc_alert(c, gw->store, "mailbox_down", key, 0, facts, &error) &&
                  lasting_set_alerted(gw, OUTAGE, &error) && store_commit(gw->store, &error);
    if (!ok) {
        store_rollback(gw->store);
        log_error("cannot enqueue the mailbox alert: %s", error->message);
        g_error_free(error);
        return;
    }
    log_warning("mailbox %s unreachable for %" G_GINT64_FORMAT " min: the IOC is alerted (%s)",
                c->imap.user, (clock_now_unix() - since) / 60, c->gateway.ioc_alert_to);
}

static void health_failed(Gateway *gw, MailboxHealth *h, const GError *e)
{
    const Config *c = gw->config;
    h->failures++;
    double delay = backoff_seconds(h->failures);
    h->next_attempt = g_get_monotonic_time() + (gint64)(delay * G_USEC_PER_SEC);
    gint64 now = clock_now_unix();
    gint64 since = lasting_begin(gw, OUTAGE, now);
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
    if (now - since >= LASTING_ALERT_SECONDS && !lasting_alerted(gw, OUTAGE))
        alert_outage(gw, since, e->message);
}

static void health_fine(Gateway *gw, MailboxHealth *h)
{
    const Config *c = gw->config;
    gboolean was_down = h->failures > 0;
    h->failures = 0;
    h->next_attempt = 0;
    if (!h->check_stored)
        return;
    h->check_stored = FALSE;
    gint64 since = lasting_since(gw, OUTAGE);
    if (!since) {
        if (was_down)
            log_notice("mailbox %s reachable again", c->imap.user);
        return;
    }
    gboolean alerted = lasting_alerted(gw, OUTAGE);
    gint64 minutes = (clock_now_unix() - since) / 60;
    log_notice("mailbox %s reachable again after %" G_GINT64_FORMAT " min", c->imap.user, minutes);
    GError *error = NULL;
    gboolean ok = store_begin(gw->store, &error);
    if (ok && alerted) {
        g_autofree char *key =
            g_strdup_printf("mailbox_up:%s:%" G_GINT64_FORMAT, c->imap.user, since);
        g_autoptr(JsonBuilder) facts = outage_facts(c, since);
        json_member_int(facts, "minutes", minutes);
        ok = letters_ioc_alert(c, gw->store, "mailbox_up", key, 0, facts, &error);
    }
    ok = ok && lasting_clear(gw, OUTAGE, &error) && store_commit(gw->store, &error);
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
static gboolean sync_step(Gateway *gw, MailboxHealth *h, gboolean once, GError **error)
{
    if (!once && h->failures > 0 && g_get_monotonic_time() < h->next_attempt)
        return TRUE;
    gboolean first = !gw->imap;
    int processed = 0;
    GError *local = NULL;
    if (!mailbox_sync(gw, &processed, &local)) {
        health_failed(gw, h, local);
        g_propagate_error(error, local);
        return FALSE;
    }
    gboolean was_down = h->failures > 0 || h->check_stored;
    health_fine(gw, h);
    if (first || was_down)
        notify_watching(gw);
    return TRUE;
}

/* sleeps at most usec, or until a signal comes */
static void sleep_or_signal(Daemon *d, gint64 usec)
{
    if (usec <= 0)
        return;
    struct pollfd pfd = {.fd = d->signal_fd, .events = POLLIN};
    if (d->signal_fd >= 0)
        poll(&pfd, 1, (int)MIN(usec / 1000 + 1, G_MAXINT));
    else
        g_usleep((gulong)usec);
}

/* 4. the wait: in IDLE when the server offers it (new mail ends it at once), else sleep and
 * then one NOOP; either way one IMAP command, whatever the size of the mailbox */
static void wait_for_mail(Daemon *d)
{
    Gateway *gw = d->gw;
    const MailboxHealth *h = &d->health;
    const Config *c = gw->config;
    gint64 usec = (gint64)c->imap.poll_seconds * G_USEC_PER_SEC;
    if (h->failures > 0)
        usec = MIN(usec, MAX(0, h->next_attempt - g_get_monotonic_time()));
    if (d->watchdog_usec > 0)
        usec = MIN(usec, d->watchdog_usec / 2);
    gboolean connected = gw->imap && gw->selected && h->failures == 0;
    if (connected && (gw->sync_pending || imap_client_has_news(gw->imap)))
        return; /* more to do at once */
    GError *error = NULL;
    if (connected && c->imap.idle && imap_client_can_idle(gw->imap)) {
        int ms = (int)MIN(usec / 1000, G_MAXINT);
        if (!imap_client_idle(gw->imap, ms, d->signal_fd, &error)) {
            log_info("mailbox: %s; connecting again", error->message);
            g_error_free(error);
            mailbox_disconnect(gw);
        }
        return;
    }
    sleep_or_signal(d, usec);
    if (connected && !daemon_stopping(d) && !d->reload && !imap_client_noop(gw->imap, &error)) {
        log_info("mailbox: %s; connecting again", error->message);
        g_error_free(error);
        mailbox_disconnect(gw);
    }
}

/* SIGHUP after an edit of the letters' templates (the usual one): a broken template in a new
 * templates_dir refuses the reload, and the running folder stays. One broken in the running
 * folder cannot be refused, since every letter reads its files as they are: it is said, and
 * the letters that need it fail until it is mended. */
static void templates_looked_at(Gateway *gw, const Config *fresh, GError **error)
{
    GError *local = NULL;
    if (letters_check_templates(fresh, &local))
        return;
    if (!g_str_equal(fresh->gateway.templates_dir, gw->config->gateway.templates_dir)) {
        g_propagate_error(error, local);
        return;
    }
    log_error("SIGHUP: %s (letters that need it cannot be sent until it is mended)",
              local->message);
    g_error_free(local);
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
    else if (fresh && gateway_take_keywords(gw, fresh->gateway.keywords_file, &error))
        templates_looked_at(gw, fresh, &error);
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

/* 1b. the records (issue 16): the statistics digest when a period has closed, the daily
 * purge of personal data past [privacy] retain_days. Failures are logged; the next turn tries
 * again (a full disk must not stop the daemon). */
static void records_step(Gateway *gw)
{
    GError *error = NULL;
    if (!reports_digest(gw, NULL, &error)) {
        log_error("statistics digest: %s", error->message);
        g_clear_error(&error);
    }
    if (!retention_daily(gw, &error)) {
        log_error("retention: %s", error->message);
        g_clear_error(&error);
    }
}

gboolean daemon_run(Gateway *gw, const RunOptions *options, GError **error)
{
    Daemon daemon = {
        .gw = gw,
        .signal_fd = options->signal_fd,
        .health = {.last_code = -1, .check_stored = TRUE},
    };
    Daemon *d = &daemon;
    uint64_t watchdog = 0;
    if (!options->once && sd_watchdog_enabled(0, &watchdog) > 0)
        d->watchdog_usec = (gint64)watchdog;
    if (!gateway_take_keywords(gw, gw->config->gateway.keywords_file, error))
        return FALSE;
    GatewayWatch watch = {.stopping = watch_stopping, .alive = watch_alive, .data = d};
    gateway_watch(gw, &watch);
    if (!options->once)
        sd_notify(0, "READY=1");
    worker_prepare(gw);

    gboolean ok = TRUE;
    for (;;) {
        if (daemon_stopping(d))
            break;
        if (d->reload) {
            d->reload = FALSE;
            reload_config(gw, options->config_path);
        }
        daemon_keepalive(d);

        /* 1. the scheduler (deadlines, overdue flags, reminders, escalations) first: it needs
         *    no server, so a mailbox or SMTP outage never stops a report turning overdue */
        scheduler_run_cycle(gw, NULL);
        records_step(gw);

        /* 2. sync the mailbox: new mail in, recorded, answered, moved; not while the disk is
         *    nearly full (the mail waits on the server, issue 16) */
        GError *sync_error = NULL;
        gboolean synced =
            !reports_space_ok(gw) || sync_step(gw, &d->health, options->once, &sync_error);
        if (daemon_stopping(d) && !options->once) {
            g_clear_error(&sync_error);
            break;
        }

        /* 3. flush the outbox: it runs whether or not the mailbox can be reached; what the
         *    scheduler enqueued goes out in this turn */
        GError *flush_error = NULL;
        gboolean flushed = outbound_flush(gw, NULL, NULL, &flush_error);
        if (!flushed)
            log_error("outbox: %s", flush_error->message);
        /* the parser started in the background (worker_prepare): one that cannot start is
         * reported now, mail or no mail */
        worker_settle(gw);

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
        if (!daemon_stopping(d) && !d->reload)
            wait_for_mail(d);
    }
    if (!options->once)
        sd_notify(0, "STOPPING=1");
    worker_stop(gw);
    gateway_watch(gw, NULL);
    return ok;
}
