/* pahtweb: the console of the IOC, the agencies and their leaders (issue 13). Parses its
 * options, starts the web module's server and waits for SIGTERM; nothing else.
 * It reads the configuration without the mail passwords: it never holds them.
 * Exit status: 0 stopped, 1 a temporary failure (the database), 2 usage or configuration. */
#include "gateway/gateway.h"
#include "util/util.h"
#include "web/web.h"

#include <signal.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

int main(int argc, char **argv)
{
    g_autofree char *config_path = NULL;
    gboolean check_config = FALSE, version = FALSE;
    GOptionEntry entries[] = {
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "configuration file", "FILE"},
        {"check-config", 0, 0, G_OPTION_ARG_NONE, &check_config,
         "validate the configuration and exit", NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &version,
         "print the version and the built-in paths, then exit", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    log_init("pahtweb");
    memory_tune(0);
    g_autofree char *command_line = command_line_quoted(argc, argv);
    g_autoptr(GOptionContext) options = g_option_context_new("- PAHT web console");
    g_option_context_add_main_entries(options, entries, NULL);
    g_option_context_set_description(
        options, "Serves the console on [web] listen until SIGTERM. Accounts: pahtctl user.\n"
                 "PAHT_NOW=RFC3339 in the environment replaces the clock (tests, demos).\n");
    int done = config_main_options(options, &argc, &argv, "pahtweb", &version);
    if (done >= 0)
        return done;
    g_autoptr(GError) error = NULL;
    /* the configuration of this build's prefix, as pahtd and pahtctl read it (issue 17) */
    g_autoptr(Config) config =
        config_load(config_path ? config_path : config_default_file(), CONFIG_LOAD_DEFAULT, &error);
    if (!config) {
        log_error("%s", error->message);
        return 2;
    }
    log_set_level((LogLevel)config->gateway.log_level);
    if (!web_check_config(config, &error)) {
        log_error("%s", error->message);
        return 2;
    }
    if (check_config) {
        printf("%s: configuration OK\n", config->file);
        return 0;
    }
    g_autofree char *run_as = NULL;
    if (!gateway_become_owner(config, &run_as, &error)) {
        log_error("%s", error->message);
        if (run_as)
            log_error("start it with systemctl start pahtweb, or as that user: sudo -u %s %s",
                      run_as, command_line);
        return 2;
    }
    /* the signals are waited for here; the server's threads inherit the mask */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    WebServer *server = web_server_start(config, &error);
    if (!server) {
        log_error("%s", error->message);
        return error->code == PAHT_ERROR_CONFIG ? 2 : 1;
    }
    g_autofree char *address = web_server_address(server);
    log_notice("serving the console at %s", address);
    printf("pahtweb: listening on %s\n", address);
    fflush(stdout);
    sd_notifyf(0, "READY=1\nSTATUS=Serving the console at %s", address);
    for (;;) {
        int signo = 0;
        if (sigwait(&mask, &signo) != 0 || signo != SIGHUP)
            break;
        log_notice("SIGHUP: restart pahtweb to read a changed configuration (templates and "
                   "labels are read at each request)");
    }
    sd_notify(0, "STOPPING=1");
    web_server_stop(server);
    log_notice("stopped");
    return 0;
}
