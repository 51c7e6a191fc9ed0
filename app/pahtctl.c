/* pahtctl: the operator's and the agencies' command line. Each command parses its options
 * and calls the gateway; output is text for people or JSON (--json) for programs.
 * Exit status: 0 success, 1 a refused action (one-line reason on stderr), 2 usage or
 * configuration error. The CLI never talks SMTP: it records and enqueues; pahtd sends. */
#include "app/gateway.h"
#include "util/util.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const Config *config;
    Gateway *gateway;
    Store *store;
    gboolean json;
} Ctl;

typedef int (*CommandFn)(Ctl *ctl, int argc, char **argv);

/* ---- output helpers -------------------------------------------------------------------------- */

static void print_json(JsonNode *node)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    json_generator_set_pretty(gen, TRUE);
    json_generator_set_root(gen, node);
    g_autofree char *text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
}

typedef JsonNode *(*ToJson)(gconstpointer item, GTimeZone *zone);

/* a listing as one JSON array, each item through to_json */
static void print_json_list(const Ctl *ctl, GPtrArray *list, ToJson to_json)
{
    g_autoptr(JsonArray) array = json_array_new();
    for (guint i = 0; i < list->len; i++)
        json_array_add_element(array,
                               to_json(g_ptr_array_index(list, i), ctl->config->calendar.zone));
    g_autoptr(JsonNode) root = json_node_init_array(json_node_alloc(), array);
    print_json(root);
}

static char *local_time(const Ctl *ctl, gint64 t)
{
    if (t <= 0)
        return g_strdup("-");
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(t);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, ctl->config->calendar.zone);
    return g_date_time_format(local, "%Y-%m-%d %H:%M");
}

/* exit status for an error: refused actions and unknown reports are the operator's to fix
 * (1); configuration problems are 2; anything else (database busy) 1 */
static int fail(GError *error)
{
    fprintf(stderr, "pahtctl: %s\n", error->message);
    int status = error->code == PAHT_ERROR_CONFIG ? 2 : 1;
    g_error_free(error);
    return status;
}

static int usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "pahtctl: %s (see pahtctl --help)\n", text);
    return 2;
}

/* ---- commands -------------------------------------------------------------------------------- */

static int cmd_drafts(Ctl *ctl, int argc, char **argv)
{
    if (argc > 1)
        return usage_error("drafts takes no argument, got \"%s\"", argv[1]);
    GError *error = NULL;
    g_autoptr(GPtrArray) list = report_list_drafts(ctl->store, &error);
    if (!list)
        return fail(error);
    if (ctl->json) {
        print_json_list(ctl, list, (ToJson)report_summary_to_json);
        return 0;
    }
    if (list->len == 0) {
        printf("No drafts waiting.\n");
        return 0;
    }
    printf("%-5s %-17s %-11s %-16s %-4s %s\n", "ID", "CODE", "STATE", "RECEIVED", "ATT", "SUBJECT");
    for (guint i = 0; i < list->len; i++) {
        const ReportSummary *s = g_ptr_array_index(list, i);
        g_autofree char *when = local_time(ctl, s->received_at);
        g_autofree char *missing = g_strjoinv(", ", s->missing);
        printf("%-5" G_GINT64_FORMAT " %-17s %-11s %-16s %-4d %s%s%s%s%s\n", s->id, s->code,
               s->state, when, s->n_attachments, s->subject ? s->subject : "",
               g_str_equal(s->classification, "report") ? "" : "  [",
               g_str_equal(s->classification, "report") ? "" : s->classification,
               *missing ? "  missing: " : (g_str_equal(s->classification, "report") ? "" : "]"),
               *missing ? missing : "");
    }
    return 0;
}

static int cmd_show(Ctl *ctl, int argc, char **argv)
{
    if (argc != 2)
        return usage_error("show takes one report id or tracking code");
    GError *error = NULL;
    g_autoptr(Report) r = report_load(ctl->store, argv[1], &error);
    if (!r)
        return fail(error);
    GTimeZone *zone = ctl->config->calendar.zone;
    if (ctl->json) {
        g_autoptr(JsonNode) node = report_to_json(r, zone);
        print_json(node);
        return 0;
    }
    g_autofree char *received = local_time(ctl, r->received_at);
    g_autofree char *missing = g_strjoinv(", ", r->missing);
    printf("%s (id %" G_GINT64_FORMAT ")  state: %s%s%s\n", r->code, r->id, r->state,
           r->overdue ? "  OVERDUE" : "", r->confidential ? "  CONFIDENTIAL" : "");
    printf("classification: %s%s%s%s\n", r->classification, r->rule ? " (rule: " : "",
           r->rule ? r->rule : "", r->rule ? ")" : "");
    printf("received: %s\n", received);
    printf("subject:  %s\n", r->subject ? r->subject : "");
    printf("citizen:  %s <%s>\n", r->citizen.name ? r->citizen.name : "?",
           r->citizen.email ? r->citizen.email : "?");
    if (r->citizen.address)
        printf("address:  %s\n", r->citizen.address);
    if (r->citizen.id_number)
        printf("ID:       %s\n", r->citizen.id_number);
    if (r->citizen.phone)
        printf("phone:    %s\n", r->citizen.phone);
    if (r->location.text || r->location.has_coordinates) {
        printf("location: %s", r->location.text ? r->location.text : "");
        if (r->location.has_coordinates)
            printf(" (%.6f, %.6f)", r->location.lat, r->location.lon);
        printf("\n");
    }
    if (r->occurred_at)
        printf("when:     %s\n", r->occurred_at);
    if (*missing)
        printf("missing:  %s\n", missing);
    if (r->agency)
        printf("agency:   %s\n", r->agency);
    printf("\n%s\n\n", r->text ? r->text : "");
    for (guint i = 0; i < r->attachments->len; i++) {
        const StoredAttachment *a = g_ptr_array_index(r->attachments, i);
        printf("attachment: %s (%s, %s, %" G_GINT64_FORMAT " bytes)%s\n", a->filename, a->kind,
               a->content_type, a->size, a->dangerous ? "  DANGEROUS: do not open" : "");
    }
    for (guint i = 0; i < r->deadlines->len; i++) {
        const ReportDeadline *d = g_ptr_array_index(r->deadlines, i);
        g_autofree char *due = local_time(ctl, d->due);
        printf("deadline %s: %s\n", d->name, due);
    }
    for (guint i = 0; i < r->events->len; i++) {
        const ReportEvent *e = g_ptr_array_index(r->events, i);
        g_autofree char *at = local_time(ctl, e->at);
        printf("event %s %s: %s%s%s\n", at, e->actor, e->kind, e->detail ? " - " : "",
               e->detail ? e->detail : "");
    }
    for (guint i = 0; i < r->mail->len; i++) {
        const ReportMail *m = g_ptr_array_index(r->mail, i);
        printf("mail %" G_GINT64_FORMAT " %s to %s: %s\n", m->id, m->kind, m->rcpt, m->state);
    }
    return 0;
}

static int cmd_ingest(Ctl *ctl, int argc, char **argv)
{
    if (argc < 2)
        return usage_error("ingest needs at least one FILE.eml");
    g_autoptr(JsonArray) array = json_array_new();
    int status = 0;
    for (int i = 1; i < argc; i++) {
        IngestResult result = {0};
        GError *error = NULL;
        if (!gateway_ingest_file(ctl->gateway, argv[i], &result, &error)) {
            fprintf(stderr, "pahtctl: %s: %s\n", argv[i], error->message);
            if (ctl->json) {
                g_autoptr(JsonBuilder) b = json_builder_new();
                json_builder_begin_object(b);
                json_builder_set_member_name(b, "file");
                json_builder_add_string_value(b, argv[i]);
                json_builder_set_member_name(b, "error");
                json_builder_add_string_value(b, error->message);
                json_builder_end_object(b);
                json_array_add_element(array, json_builder_get_root(b));
            }
            status = error->code == PAHT_ERROR_CONFIG ? 2 : 1;
            g_error_free(error);
            continue;
        }
        if (ctl->json)
            json_array_add_element(array, ingest_result_to_json(argv[i], &result));
        else
            printf("%s: %s %s%s\n", argv[i], result.code ? result.code : "-", result.classification,
                   result.duplicate ? " (already recorded)" : "");
        ingest_result_clear(&result);
    }
    if (ctl->json) {
        g_autoptr(JsonNode) root = json_node_init_array(json_node_alloc(), array);
        print_json(root);
    }
    return status;
}

static char *outbox_state = NULL; /* allocated by GOption */
static GOptionEntry outbox_entries[] = {
    {"state", 0, 0, G_OPTION_ARG_STRING, &outbox_state, "only letters in this state", "S"},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

static int cmd_outbox(Ctl *ctl, int argc, char **argv)
{
    if (argc > 1)
        return usage_error("outbox takes no argument, got \"%s\"", argv[1]);
    static const char *const states[] = {"queued", "sending", "sent", "failed", NULL};
    if (outbox_state && !g_strv_contains(states, outbox_state))
        return usage_error("--state must be queued, sending, sent or failed, not \"%s\"",
                           outbox_state);
    GError *error = NULL;
    g_autoptr(GPtrArray) list = outbox_list(ctl->store, outbox_state, &error);
    if (!list)
        return fail(error);
    if (ctl->json) {
        print_json_list(ctl, list, (ToJson)outbox_entry_to_json);
        return 0;
    }
    printf("%-6s %-16s %-8s %-3s %-16s %-32s %s\n", "ID", "KIND", "STATE", "TRY", "CREATED", "TO",
           "LAST REPLY");
    for (guint i = 0; i < list->len; i++) {
        const OutboxEntry *e = g_ptr_array_index(list, i);
        g_autofree char *created = local_time(ctl, e->created_at);
        printf("%-6" G_GINT64_FORMAT " %-16s %-8s %-3d %-16s %-32s %s\n", e->id, e->kind, e->state,
               e->attempts, created, e->rcpt, e->last_reply ? e->last_reply : "");
    }
    return 0;
}

/* a reprocessed message has its time limit here too: past it, the process ends and the
 * message stays where it was (the transaction in progress is never committed) */
static void on_reprocess_timeout(int signo)
{
    (void)signo;
    static const char text[] = "pahtctl: reprocess: time limit (message_timeout_seconds) "
                               "reached; the message stays in quarantine\n";
    if (write(STDERR_FILENO, text, sizeof text - 1) < 0) {
        /* nothing more can be done in a signal handler */
    }
    _exit(1);
}

static int cmd_reprocess(Ctl *ctl, int argc, char **argv)
{
    if (argc != 2)
        return usage_error("reprocess takes one message number (from the IOC alert)");
    char *end = NULL;
    gint64 id = g_ascii_strtoll(argv[1], &end, 10);
    if (id <= 0 || !end || *end)
        return usage_error("reprocess: \"%s\" is not a message number (e.g. 42, as in the IOC "
                           "alert)",
                           argv[1]);
    signal(SIGALRM, on_reprocess_timeout);
    alarm((unsigned)ctl->config->gateway.message_timeout_seconds);
    IngestResult result = {0};
    GError *error = NULL;
    gboolean ok = gateway_reprocess(ctl->gateway, id, &result, &error);
    alarm(0);
    if (!ok)
        return fail(error);
    int status = 0;
    if (result.unparsed) {
        g_autoptr(RawMessage) raw = raw_message_get(ctl->store, id, NULL);
        fprintf(stderr, "pahtctl: message %" G_GINT64_FORMAT " still cannot be processed: %s\n", id,
                raw && raw->error ? raw->error : "unknown reason");
        status = 1;
    }
    if (ctl->json) {
        g_autoptr(JsonNode) node = ingest_result_to_json(NULL, &result);
        print_json(node);
    } else if (!result.unparsed) {
        printf("message %" G_GINT64_FORMAT ": %s %s\n", id, result.code ? result.code : "-",
               result.classification);
    }
    ingest_result_clear(&result);
    return status;
}

/* ---- dispatch -------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    CommandFn run;
    GOptionEntry *entries;
    const char *args;
    const char *summary;
} commands[] = {
    {"drafts", cmd_drafts, NULL, "", "reports waiting for the IOC"},
    {"show", cmd_show, NULL, "ID|CODE", "one report in full"},
    {"ingest", cmd_ingest, NULL, "FILE.eml...", "run the inbound pipeline on local files"},
    {"outbox", cmd_outbox, outbox_entries, "[--state S]", "letters and their delivery"},
    {"reprocess", cmd_reprocess, NULL, "ID", "run a message kept aside (quarantine) again"},
};

static void print_usage(void)
{
    printf("Usage: pahtctl [-c FILE] [--json] COMMAND [ARGS]\n\nCommands:\n");
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
        printf("  %-10s %-14s %s\n", commands[i].name, commands[i].args, commands[i].summary);
    printf("\nOptions: -c FILE (default /etc/paht/paht.conf), --json.\n"
           "PAHT_NOW=RFC3339 in the environment replaces the clock (tests, demos).\n");
}

int main(int argc, char **argv)
{
    log_init("pahtctl");
    int command_index = 0;
    for (int i = 1; i < argc; i++) {
        if (g_str_equal(argv[i], "-c") || g_str_equal(argv[i], "--config")) {
            i++;
            continue;
        }
        if (argv[i][0] != '-') {
            command_index = i;
            break;
        }
        if (g_str_equal(argv[i], "--help") || g_str_equal(argv[i], "-h")) {
            print_usage();
            return 0;
        }
    }
    if (!command_index) {
        print_usage();
        return 2;
    }
    const char *name = argv[command_index];
    gssize found = -1;
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (g_str_equal(commands[i].name, name))
            found = (gssize)i;
    }
    if (found < 0)
        return usage_error("unknown command \"%s\"", name);

    /* the command word out of the way, the rest is options and the command's arguments */
    memmove(&argv[command_index], &argv[command_index + 1],
            sizeof(char *) * (size_t)(argc - command_index));
    argc--;

    /* GOption allocates the strings it parses: ours to free */
    g_autofree char *config_path = NULL;
    gboolean json = FALSE;
    GOptionEntry common[] = {
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "configuration file", "FILE"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "machine-readable output", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autofree char *parameter = g_strdup_printf("%s %s", name, commands[found].args);
    g_autoptr(GOptionContext) options = g_option_context_new(parameter);
    g_option_context_set_summary(options, commands[found].summary);
    g_option_context_add_main_entries(options, common, NULL);
    if (commands[found].entries)
        g_option_context_add_main_entries(options, commands[found].entries, NULL);
    GError *error = NULL;
    if (!g_option_context_parse(options, &argc, &argv, &error)) {
        fprintf(stderr, "pahtctl %s: %s\n", name, error->message);
        g_error_free(error);
        return 2;
    }
    g_autoptr(Config) config =
        config_load(config_path ? config_path : "/etc/paht/paht.conf", CONFIG_LOAD_DEFAULT, &error);
    if (!config) {
        fprintf(stderr, "pahtctl: %s\n", error->message);
        g_error_free(error);
        return 2;
    }
    log_set_level((LogLevel)config->gateway.log_level);
    g_autoptr(Gateway) gateway = gateway_open(config, &error);
    if (!gateway)
        return fail(error);
    Ctl ctl = {.config = config, .gateway = gateway, .store = gateway_store(gateway), .json = json};
    /* argv[0] stays the program name: commands see their arguments from argv[1] */
    int status = commands[found].run(&ctl, argc, argv);
    g_free(outbox_state);
    return status;
}
