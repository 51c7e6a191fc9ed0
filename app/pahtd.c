/* pahtd: the gateway daemon. Parses its options and runs the gateway; nothing else.
 * Exit status: 0 done, 1 a temporary failure (--once: mailbox or database unreachable),
 * 2 usage or configuration error (including a server that refuses our TLS or login). */
#include "gateway/gateway.h"
#include "conf/conf.h"
#include "util/util.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* the socket to pahtd, in its parser process (gateway/worker.c) */
#define WORKER_FD 3

/* a full disk (SQLITE_FULL, ENOSPC) or a busy database at start is waited out, never an exit
 * that systemd would answer with a restart every few seconds (issue 16); NULL without error:
 * SIGTERM came while waiting */
static Gateway *open_or_wait(const Config *config, gboolean once, int signal_fd, GError **error)
{
    gboolean told = FALSE;
    for (;;) {
        Gateway *gateway = gateway_open(config, error);
        if (gateway || once || (*error)->code != PAHT_ERROR_TEMPORARY)
            return gateway;
        if (!told)
            log_error("%s; trying again every minute", (*error)->message);
        told = TRUE;
        g_clear_error(error);
        struct pollfd pfd = {.fd = signal_fd, .events = POLLIN};
        if (poll(&pfd, 1, 60 * 1000) > 0) {
            struct signalfd_siginfo info;
            if (read(signal_fd, &info, sizeof info) == (ssize_t)sizeof info &&
                info.ssi_signo != SIGHUP)
                return NULL;
        }
    }
}

int main(int argc, char **argv)
{
    /* GOption allocates the strings it parses: ours to free */
    g_autofree char *config_path = NULL, *keywords_path = NULL, *snapshot_path = NULL;
    gboolean once = FALSE, check_config = FALSE, worker = FALSE, version = FALSE;
    int parser_slot = -1;
    GOptionEntry entries[] = {
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "configuration file", "FILE"},
        {"once", 0, 0, G_OPTION_ARG_NONE, &once,
         "sync the mailbox, process, flush the outbox, then exit", NULL},
        {"check-config", 0, 0, G_OPTION_ARG_NONE, &check_config,
         "validate the configuration and exit", NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &version,
         "print the version and the built-in paths, then exit", NULL},
        {"worker", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &worker,
         "internal: the parser process pahtd starts itself", NULL},
        {"config-snapshot", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &snapshot_path,
         "internal: the configuration pahtd runs with, as it read it", "FILE"},
        {"keywords", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &keywords_path,
         "internal: the parser's keyword lists, as pahtd checked them", "FILE"},
        {"parser-slot", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &parser_slot,
         "internal: which of pahtd's parser processes this is", "N"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    log_init("pahtd");
    memory_tune(0);
    g_autofree char *command_line = command_line_quoted(argc, argv);
    g_autoptr(GOptionContext) options = g_option_context_new("- PAHT mail gateway daemon");
    g_option_context_add_main_entries(options, entries, NULL);
    g_option_context_set_description(
        options, "SIGTERM finishes the message in hand and exits; SIGHUP reloads the "
                 "configuration.\n"
                 "PAHT_NOW=RFC3339 in the environment replaces the clock (tests, demos).\n");
    int done = config_main_options(options, &argc, &argv, "pahtd", &version);
    if (done >= 0)
        return done;
    g_autoptr(GError) error = NULL;
    const char *path = config_path ? config_path : config_default_file();
    if (worker) {
        log_init("pahtd[parser]");
        return worker_main(path, snapshot_path, keywords_path, parser_slot, WORKER_FD);
    }
    g_autoptr(Config) config = config_load(path, CONFIG_LOAD_SECRETS, &error);
    if (!config) {
        log_error("%s", error->message);
        return 2;
    }
    log_set_level((LogLevel)config->gateway.log_level);
    /* started by hand as root: the daemon becomes the owner of the database (paht) before it
     * opens or makes anything, as systemd would have started it */
    g_autofree char *run_as = NULL;
    if (!check_config && !gateway_become_owner(config, &run_as, &error)) {
        log_error("%s", error->message);
        if (run_as)
            log_error("start it with systemctl start pahtd, or as that user: sudo -u %s %s", run_as,
                      command_line);
        return 2;
    }
    if (!outbound_check_bounce_key(config, &error)) {
        log_error("%s", error->message);
        return 2;
    }
    if (!gateway_check_config(config, &error)) {
        log_error("%s: %s", config->file, error->message);
        return 2;
    }
    if (check_config) {
        printf("%s: configuration OK\n", config->file);
        return 0;
    }
    if (!config->imap.tls_verify)
        log_warning("imap tls_verify = false: the mail server's identity is NOT checked");
    if (!config->smtp.tls_verify)
        log_warning("smtp tls_verify = false: the mail server's identity is NOT checked");
    /* issue 11: without the MX's verdict a forged sender gets the answers (backscatter) */
    if (!config->gateway.trusted_authserv_id)
        log_warning("[gateway] trusted_authserv_id is not set: senders are NOT checked (SPF, "
                    "DKIM, DMARC, spam flags): mail with a forged From gets automatic answers");

    int lock = gateway_lock_fetcher(config, &error);
    if (lock < 0) {
        log_error("%s", error->message);
        return 2;
    }

    /* Signals are read from a signalfd, never caught by a handler: a handler would interrupt
     * libetpan's reads, which take EINTR for a lost connection. Blocked before any thread or
     * child exists; the parser process inherits the mask and ignores them. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd < 0) {
        log_error("cannot create a signalfd: %s", g_strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    /* the IMAP session is begun while the database opens (its migrations on a first start):
     * after the lock, so that a second pahtd never logs in, and with the signals blocked, which
     * its thread inherits */
    MailboxAhead *ahead = mailbox_connect_ahead(config);
    g_autoptr(Gateway) gateway = open_or_wait(config, once, signal_fd, &error);
    if (gateway)
        mailbox_take_ahead(gateway, ahead);
    else
        mailbox_ahead_free(ahead);
    if (!gateway) {
        if (!error)
            return 0; /* stopped while waiting */
        log_error("%s", error->message);
        return error->code == PAHT_ERROR_CONFIG ? 2 : 1;
    }

    RunOptions run = {.once = once, .signal_fd = signal_fd, .config_path = config->file};
    if (!once)
        log_notice("started: watching %s on %s", config->imap.server.path,
                   config->imap.server.host);
    if (!daemon_run(gateway, &run, &error)) {
        log_error("%s", error->message);
        return error->code == PAHT_ERROR_CONFIG ? 2 : 1;
    }
    if (!once)
        log_notice("stopped");
    close(signal_fd);
    close(lock);
    return 0;
}
