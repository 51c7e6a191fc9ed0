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
/* A pass that fails is one of two lasting failures (lasting_*), each told to the IOC once it
 * has lasted LASTING_ALERT_SECONDS and again when it ends:
 *  - the mailbox unreachable: no connection, a lost one, or a command the server refused
 *    (login, SELECT): the mail server, the network, the credentials;
 *  - the mail not processed while the server answers every command: the pass failed on the
 *    gateway's side (storage that refuses writes, the database, a template edited in place
 *    with a fault). Told as the first, it sent the administrator to the wrong machine. */
typedef struct {
    const char *record; /* lasting_* name */
    const char *began;  /* the IOC's alert once it has lasted (its letter's kind) */
    const char *ended;  /* ... and when it is over, if the first was sent */
    /* for the log and systemd's status: the words before and after the mailbox's name, while
     * it lasts and once it is over */
    const char *state[2], *over[2];
} LastingFailure;

static const LastingFailure OUTAGE = {"mailbox_down",
                                      "mailbox_down",
                                      "mailbox_up",
                                      {"mailbox ", " unreachable"},
                                      {"mailbox ", " reachable again"}};
static const LastingFailure STALLED = {"processing_failed",
                                       "processing_failed",
                                       "processing_resumed",
                                       {"mail of ", " not processed (the IMAP server answers)"},
                                       {"mail of ", " processed again"}};

static char *failure_words(const char *const words[2], const Config *c)
{
    return g_strconcat(words[0], c->imap.user, words[1], NULL);
}

typedef struct {
    int failures;          /* consecutive failed passes; 0 while the mailbox is fine */
    gint64 next_attempt;   /* monotonic microseconds: no pass before this */
    int last_code;         /* PahtErrorCode of the last failure */
    gboolean last_ours;    /* ... and whether it was the gateway's side (STALLED) */
    gboolean check_stored; /* a failure recorded by an earlier run may still be open */
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

/* a lasting failure's facts, for the alert that it began and the one that it ended */
static JsonBuilder *failure_facts(const Config *c, gint64 since)
{
    JsonBuilder *facts = letters_alert_facts();
    json_member_string(facts, "mailbox", c->imap.user);
    g_autofree char *from = letters_format_time(c, since);
    json_member_string(facts, "since", from);
    return facts;
}

static void alert_began(Gateway *gw, const LastingFailure *f, gint64 since, const char *what)
{
    const Config *c = gw->config;
    g_autofree char *key =
        g_strdup_printf("%s:%s:%" G_GINT64_FORMAT, f->began, c->imap.user, since);
    g_autoptr(JsonBuilder) facts = failure_facts(c, since);
    json_member_string(facts, "error", what);
    GError *error = NULL;
    gboolean ok = store_begin(gw->store, &error) &&
                  letters_ioc_alert(c, gw->store, f->began, key, 0, facts, &error) &&
                  lasting_set_alerted(gw, f->record, &error) && store_commit(gw->store, &error);
    if (!ok) {
        store_rollback(gw->store);
        log_error("cannot enqueue the %s alert: %s", f->began, error->message);
        g_error_free(error);
        return;
    }
    g_autofree char *state = failure_words(f->state, c);
    log_warning("%s for %" G_GINT64_FORMAT " min: the IOC is alerted (%s)", state,
                (clock_now_unix() - since) / 60, c->gateway.ioc_alert_to);
}

/* The failure f is over: its record ended, and the IOC told if it was told that it began.
 * said: this run logged it, so its end is logged even without a record. still: the other
 * failure, which goes on (the letter must not say all is well), or NULL. FALSE when the
 * record could not be ended (logged): the next turn tries again. */
static gboolean failure_over(Gateway *gw, const LastingFailure *f, gboolean said, const char *still)
{
    const Config *c = gw->config;
    g_autofree char *over = failure_words(f->over, c);
    gint64 since = lasting_since(gw, f->record);
    if (!since) {
        if (said)
            log_notice("%s", over);
        return TRUE;
    }
    gboolean alerted = lasting_alerted(gw, f->record);
    gint64 minutes = (clock_now_unix() - since) / 60;
    log_notice("%s after %" G_GINT64_FORMAT " min", over, minutes);
    GError *error = NULL;
    gboolean ok = store_begin(gw->store, &error);
    if (ok && alerted) {
        g_autofree char *key =
            g_strdup_printf("%s:%s:%" G_GINT64_FORMAT, f->ended, c->imap.user, since);
        g_autoptr(JsonBuilder) facts = failure_facts(c, since);
        json_member_int(facts, "minutes", minutes);
        if (still)
            json_member_string(facts, "still_failing", still);
        ok = letters_ioc_alert(c, gw->store, f->ended, key, 0, facts, &error);
    }
    ok = ok && lasting_clear(gw, f->record, &error) && store_commit(gw->store, &error);
    if (!ok) {
        store_rollback(gw->store);
        log_error("cannot record the end of a failure (%s): %s", f->record, error->message);
        g_error_free(error);
    }
    return ok;
}

static void health_failed(Gateway *gw, MailboxHealth *h, const GError *e)
{
    const Config *c = gw->config;
    gboolean ours = !gw->failed_at_server;
    const LastingFailure *f = ours ? &STALLED : &OUTAGE;
    gboolean was_outage = h->failures > 0 && !h->last_ours;
    h->failures++;
    double delay = backoff_seconds(h->failures);
    h->next_attempt = g_get_monotonic_time() + (gint64)(delay * G_USEC_PER_SEC);
    gint64 now = clock_now_unix();
    /* the server answers: an outage, of this run or on record from an earlier one, is over.
     * An outage while the mail was not processed leaves that record as it is: nobody knows
     * yet whether the fault on our side is mended. */
    if (ours)
        failure_over(gw, &OUTAGE, was_outage, e->message);
    gint64 since = lasting_begin(gw, f->record, now);
    /* once per change of state: the first failure, another kind, or the other side */
    g_autofree char *state = failure_words(f->state, c);
    if (h->failures == 1 || ours != h->last_ours)
        log_error("%s: %s (retrying with backoff)", state, e->message);
    else if (e->code != h->last_code)
        log_error("%s, still failing, now: %s", state, e->message);
    else
        log_debug("%s: %s; next try in %.0f s", state, e->message, delay);
    h->last_code = e->code;
    if (h->failures == 1 || ours != h->last_ours) {
        g_autofree char *at = letters_format_time(c, since);
        sd_notifyf(0, "STATUS=%c%s since %s", g_ascii_toupper(state[0]), state + 1, at);
    }
    h->last_ours = ours;
    h->check_stored = TRUE;
    if (now - since >= LASTING_ALERT_SECONDS && !lasting_alerted(gw, f->record))
        alert_began(gw, f, since, e->message);
}

static void health_fine(Gateway *gw, MailboxHealth *h)
{
    gboolean was_failing = h->failures > 0;
    h->failures = 0;
    h->next_attempt = 0;
    if (!h->check_stored)
        return;
    gboolean ended = failure_over(gw, &OUTAGE, was_failing && !h->last_ours, NULL);
    ended = failure_over(gw, &STALLED, was_failing && h->last_ours, NULL) && ended;
    h->check_stored = !ended;
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
    else if (fresh)
        templates_looked_at(gw, fresh, &error);
    /* last: it replaces the lists the parsers read, which a refusal must leave as they are */
    if (fresh && !error)
        gateway_take_keywords(gw, fresh->gateway.keywords_file, &error);
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
         * connection and the next message (a new parser process, from a new snapshot) */
        mailbox_disconnect(gw);
        g_clear_pointer(&gw->smtp, smtp_sender_free);
        worker_stop(gw);
        config_free(gw->owned_config);
        gw->owned_config = fresh;
        gw->config = fresh;
        g_clear_pointer(&gw->config_snapshot, g_free); /* the parsers' copy is of the old one */
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
    /* a session begun ahead that no pass took (a disk nearly full, a stop before the first) */
    mailbox_disconnect(gw);
    gateway_watch(gw, NULL);
    return ok;
}
