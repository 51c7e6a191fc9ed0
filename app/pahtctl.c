/* pahtctl: the operator's and the agencies' command line. Each command parses its options
 * and calls the gateway; output is text for people or JSON (--json) for programs.
 * Exit status: 0 success, 1 a refused action (one-line reason on stderr), 2 usage or
 * configuration error. The CLI never talks SMTP: it records and enqueues; pahtd sends. */
#include "gateway/gateway.h"
#include "app/present.h"
#include "notify/notify.h"
#include "letters/letters.h"
#include "conf/conf.h"
#include "parse/parse.h"
#include "util/util.h"
#include "web/web.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
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
    g_autofree char *text = json_text(node);
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

/* the service user root became (main), NULL when pahtctl runs as who started it */
static char *became_owner = NULL;

/* A file named on the command line is read as the owner of the database, not as root: one
 * of root's own private files cannot be read then, which deserves more than "Permission
 * denied". */
static void explain_unreadable(const char *path)
{
    if (became_owner && path && access(path, R_OK) != 0 && errno == EACCES)
        fprintf(stderr,
                "pahtctl: pahtctl runs as %s, the owner of the database, and %s may not read %s: "
                "make it readable to %s (or copy it to /tmp)\n",
                became_owner, became_owner, path, became_owner);
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
               g_str_equal(s->classification, CLASSIFICATION_REPORT) ? "" : "  [",
               g_str_equal(s->classification, CLASSIFICATION_REPORT) ? "" : s->classification,
               *missing ? "  missing: "
                        : (g_str_equal(s->classification, CLASSIFICATION_REPORT) ? "" : "]"),
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
    g_autoptr(GPtrArray) pending = pending_reply_list(ctl->store, r->id, &error);
    if (!pending)
        return fail(error);
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(ctl->store, r->id, &error);
    if (!rec)
        return fail(error);
    if (ctl->json) {
        g_autoptr(JsonNode) node = report_to_json(r, zone);
        json_object_set_member(json_node_get_object(node), "pending_supplements",
                               pending_replies_to_json(pending, zone));
        json_object_set_member(json_node_get_object(node), "result",
                               lifecycle_record_to_json(rec, zone));
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
        if (r->location.has_coordinates) {
            g_autofree char *lat = coordinate_text(r->location.lat);
            g_autofree char *lon = coordinate_text(r->location.lon);
            printf(" (%s, %s)", lat, lon);
        }
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
    if (rec->result_text || r->agency_files->len)
        printf("\nresult%s%s:\n%s\n\n", rec->result_by ? " by " : "",
               rec->result_by ? rec->result_by : "", rec->result_text ? rec->result_text : "");
    for (guint i = 0; i < r->agency_files->len; i++) {
        const StoredAttachment *a = g_ptr_array_index(r->agency_files, i);
        printf("%s file: %s (%s, %s, %" G_GINT64_FORMAT " bytes)%s\n", a->role, a->filename,
               a->kind, a->content_type, a->size, a->dangerous ? "  DANGEROUS: do not open" : "");
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
    for (guint i = 0; i < pending->len; i++) {
        const PendingReply *p = g_ptr_array_index(pending, i);
        g_autofree char *at = local_time(ctl, p->created_at);
        printf("supplement %" G_GINT64_FORMAT " %s from %s (message %" G_GINT64_FORMAT "): %s%s\n",
               p->id, at, p->sender ? p->sender : "?", p->raw_id, p->state,
               g_str_equal(p->state, "pending") ? " - pahtctl supplement ID --confirm|--discard"
                                                : "");
    }
    return 0;
}

static int cmd_ingest(Ctl *ctl, int argc, char **argv)
{
    if (argc < 2)
        return usage_error("ingest needs at least one FILE.eml");
    GError *config_error = NULL;
    if (!gateway_check_config(ctl->config, &config_error))
        return fail(config_error);
    /* file after file, each read into memory whole by the parser: its buffer is kept for the
     * next, as in pahtd's parser process (500 of the bench's mails: 37,000 minor page faults
     * with the default, 3,100 so) */
    memory_tune(PARSE_IN_MEMORY_MAX);
    g_autoptr(JsonArray) array = json_array_new();
    int status = 0;
    for (int i = 1; i < argc; i++) {
        IngestResult result = {0};
        GError *error = NULL;
        if (!inbound_ingest_file(ctl->gateway, argv[i], &result, &error)) {
            fprintf(stderr, "pahtctl: %s: %s\n", argv[i], error->message);
            explain_unreadable(argv[i]);
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
    /* the new reports in the console's search index, in one batch (queue.h) */
    GError *search_error = NULL;
    if (!report_search_catch_up(ctl->store, &search_error)) {
        fprintf(stderr, "pahtctl: search index: %s (caught up by the next search or pass)\n",
                search_error->message);
        g_error_free(search_error);
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

/* ---- the report's lifecycle (SPEC §4) ------------------------------------------------------ */

/* GOption allocates the strings it parses: freed by lifecycle_options_free. Free text is read
 * as bytes (G_OPTION_ARG_FILENAME: no conversion through the locale's charset, which in a C
 * locale refuses Vietnamese) and checked as UTF-8 by options_are_utf8. */
static char *opt_actor, *opt_agency, *opt_coordinate, *opt_category, *opt_reason, *opt_note,
    *opt_until, *opt_file, *opt_text, *opt_from, *opt_period, *opt_role, *opt_name, *opt_email,
    *opt_to, *opt_report;
static int opt_hours = -1, opt_days = -1, opt_limit = 1000;
static gboolean opt_raw, opt_html, opt_public, opt_private;

#define ACTOR_ENTRY                                                                                \
    {                                                                                              \
        "actor", 0, 0, G_OPTION_ARG_FILENAME, &opt_actor, "who acts (default: the login name)",    \
            "NAME"                                                                                 \
    }
#define END_ENTRY                                                                                  \
    {                                                                                              \
        NULL, 0, 0, 0, NULL, NULL, NULL                                                            \
    }

static GOptionEntry accept_entries[] = {
    {"agency", 0, 0, G_OPTION_ARG_FILENAME, &opt_agency, "the main agency's code", "CODE"},
    {"coordinate", 0, 0, G_OPTION_ARG_FILENAME, &opt_coordinate, "coordinating agencies",
     "CODE,..."},
    {"category", 0, 0, G_OPTION_ARG_FILENAME, &opt_category,
     "the report's category (a code of the categories file)", "CODE"},
    ACTOR_ENTRY,
    END_ENTRY,
};
static GOptionEntry image_entries[] = {
    {"public", 0, 0, G_OPTION_ARG_NONE, &opt_public, "show it on the portal (Open311 media_url)",
     NULL},
    {"private", 0, 0, G_OPTION_ARG_NONE, &opt_private, "no longer", NULL},
    ACTOR_ENTRY,
    END_ENTRY,
};
static GOptionEntry reject_entries[] = {
    {"reason", 0, 0, G_OPTION_ARG_FILENAME, &opt_reason,
     "incomplete, complaint, out-of-scope, duplicate or spam", "REASON"},
    {"note", 0, 0, G_OPTION_ARG_FILENAME, &opt_note, "a note for the citizen", "TEXT"},
    ACTOR_ENTRY,
    END_ENTRY,
};
static GOptionEntry return_entries[] = {
    {"note", 0, 0, G_OPTION_ARG_FILENAME, &opt_note, "why, and whose competence it is", "TEXT"},
    ACTOR_ENTRY,
    END_ENTRY,
};
static GOptionEntry extend_entries[] = {
    {"until", 0, 0, G_OPTION_ARG_FILENAME, &opt_until, "the committed date", "RFC3339"},
    {"note", 0, 0, G_OPTION_ARG_FILENAME, &opt_note, "why, and the commitment", "TEXT"},
    ACTOR_ENTRY,
    END_ENTRY,
};
static GOptionEntry result_entries[] = {
    {"file", 0, 0, G_OPTION_ARG_FILENAME, &opt_file, "the answer (UTF-8 text; - for stdin)",
     "FILE"},
    ACTOR_ENTRY,
    END_ENTRY,
};
static GOptionEntry send_back_entries[] = {
    {"note", 0, 0, G_OPTION_ARG_FILENAME, &opt_note, "why: what the agency must do again", "TEXT"},
    ACTOR_ENTRY,
    END_ENTRY,
};
static GOptionEntry actor_entries[] = {
    ACTOR_ENTRY,
    END_ENTRY,
};
static GOptionEntry reply_entries[] = {
    {"text", 0, 0, G_OPTION_ARG_FILENAME, &opt_text, "the citizen's words", "TEXT"},
    {"file", 0, 0, G_OPTION_ARG_FILENAME, &opt_file, "the citizen's words from a file", "FILE"},
    ACTOR_ENTRY,
    END_ENTRY,
};
static GOptionEntry due_entries[] = {
    {"from", 0, 0, G_OPTION_ARG_FILENAME, &opt_from, "the start", "RFC3339"},
    {"working-hours", 0, 0, G_OPTION_ARG_INT, &opt_hours, "working hours to add", "N"},
    {"working-days", 0, 0, G_OPTION_ARG_INT, &opt_days, "working days to add", "N"},
    END_ENTRY,
};
static GOptionEntry preview_entries[] = {
    {"raw", 0, 0, G_OPTION_ARG_NONE, &opt_raw, "the letter's bytes, exactly as sent", NULL},
    {"html", 0, 0, G_OPTION_ARG_NONE, &opt_html, "the HTML part instead of the text part", NULL},
    END_ENTRY,
};

static gboolean opt_csv, opt_overdue;
static GOptionEntry stats_entries[] = {
    {"period", 0, 0, G_OPTION_ARG_FILENAME, &opt_period,
     "month:YYYY-MM, quarter:YYYY-Qn, half:YYYY-Hn or year:YYYY", "PERIOD"},
    {"from", 0, 0, G_OPTION_ARG_FILENAME, &opt_from, "the first day of a range", "YYYY-MM-DD"},
    {"to", 0, 0, G_OPTION_ARG_FILENAME, &opt_until, "its last day (inclusive)", "YYYY-MM-DD"},
    {"csv", 0, 0, G_OPTION_ARG_NONE, &opt_csv, "CSV for a spreadsheet (UTF-8 with BOM)", NULL},
    {"overdue", 0, 0, G_OPTION_ARG_NONE, &opt_overdue, "the overdue reports of the period", NULL},
    END_ENTRY,
};

static GOptionEntry user_entries[] = {
    {"role", 0, 0, G_OPTION_ARG_FILENAME, &opt_role, "ioc, admin, agency:CODE or leader:CODE",
     "ROLE"},
    {"name", 0, 0, G_OPTION_ARG_FILENAME, &opt_name, "the person's full name", "NAME"},
    {"email", 0, 0, G_OPTION_ARG_FILENAME, &opt_email, "the person's address", "ADDR"},
    ACTOR_ENTRY,
    END_ENTRY,
};

static GOptionEntry audit_entries[] = {
    {"from", 0, 0, G_OPTION_ARG_FILENAME, &opt_from, "from (default: the beginning)", "RFC3339"},
    {"to", 0, 0, G_OPTION_ARG_FILENAME, &opt_to, "until, not included (default: now)", "RFC3339"},
    {"actor", 0, 0, G_OPTION_ARG_FILENAME, &opt_actor, "only what this login did", "LOGIN"},
    {"report", 0, 0, G_OPTION_ARG_FILENAME, &opt_report, "only this report", "ID|CODE"},
    {"limit", 0, 0, G_OPTION_ARG_INT, &opt_limit, "at most N lines (default 1000)", "N"},
    END_ENTRY,
};

static void lifecycle_options_free(void)
{
    char **all[] = {&opt_actor, &opt_agency, &opt_coordinate, &opt_category, &opt_reason, &opt_note,
                    &opt_until, &opt_file,   &opt_text,       &opt_from,     &opt_period, &opt_role,
                    &opt_name,  &opt_email,  &opt_to,         &opt_report};
    for (gsize i = 0; i < G_N_ELEMENTS(all); i++)
        g_clear_pointer(all[i], g_free);
}

static gboolean options_are_utf8(void)
{
    const char *all[] = {opt_actor, opt_agency, opt_coordinate, opt_category, opt_reason,
                         opt_note,  opt_until,  opt_text,       opt_from,     opt_period,
                         opt_role,  opt_name,   opt_email,      opt_to,       opt_report};
    for (gsize i = 0; i < G_N_ELEMENTS(all); i++) {
        if (all[i] && !g_utf8_validate(all[i], -1, NULL))
            return FALSE;
    }
    return TRUE;
}

/* who ran the command, noted before pahtctl becomes the service user (main): the person
 * behind sudo when there is one, since "root" or "paht" says nothing of who acted */
static const char *invoking_user = NULL;

static void note_invoking_user(void)
{
    const char *sudo_user = g_getenv("SUDO_USER");
    invoking_user = sudo_user && *sudo_user && g_utf8_validate(sudo_user, -1, NULL)
                        ? sudo_user
                        : g_get_user_name();
}

static const char *actor(void)
{
    return opt_actor && *opt_actor ? opt_actor : invoking_user;
}

/* the report an action names: its id, or an exit status (unknown report: 1) */
static int report_id_of(Ctl *ctl, int argc, char **argv, const char *command, gint64 *id)
{
    if (!options_are_utf8())
        return usage_error("%s: an option is not UTF-8 text", command);
    if (argc != 2)
        return usage_error("%s takes one report id or tracking code", command);
    GError *error = NULL;
    g_autoptr(Report) r = report_load(ctl->store, argv[1], &error);
    if (!r)
        return fail(error);
    *id = r->id;
    return 0;
}

/* after an action: the report as it is now (--json), or one line */
static int print_after(Ctl *ctl, gint64 id, const char *what)
{
    GError *error = NULL;
    g_autoptr(Report) r = report_load_id(ctl->store, id, &error);
    if (!r)
        return fail(error);
    if (ctl->json) {
        g_autoptr(JsonNode) node = report_to_json(r, ctl->config->calendar.zone);
        print_json(node);
        return 0;
    }
    printf("%s: %s (state %s%s)\n", r->code, what, r->state, r->overdue ? ", OVERDUE" : "");
    for (guint i = 0; i < r->deadlines->len; i++) {
        const ReportDeadline *d = g_ptr_array_index(r->deadlines, i);
        g_autofree char *due = clock_format_rfc3339(d->due, ctl->config->calendar.zone);
        printf("  deadline %-10s %s\n", d->name, due);
    }
    return 0;
}

static int cmd_accept(Ctl *ctl, int argc, char **argv)
{
    gint64 id = 0;
    int status = report_id_of(ctl, argc, argv, "accept", &id);
    if (status)
        return status;
    if (!opt_agency)
        return usage_error("accept needs --agency CODE");
    g_auto(GStrv) coordinators = opt_coordinate ? g_strsplit(opt_coordinate, ",", -1) : NULL;
    for (char **c = coordinators; c && *c; c++)
        g_strstrip(*c);
    GError *error = NULL;
    if (!lifecycle_letters_accept(ctl->config, ctl->store, actor(), id, opt_agency,
                                  (const char *const *)coordinators, opt_category, &error))
        return fail(error);
    return print_after(ctl, id, "accepted and assigned");
}

static int cmd_reject(Ctl *ctl, int argc, char **argv)
{
    gint64 id = 0;
    int status = report_id_of(ctl, argc, argv, "reject", &id);
    if (status)
        return status;
    if (!opt_reason)
        return usage_error(
            "reject needs --reason incomplete|complaint|out-of-scope|duplicate|spam");
    GError *error = NULL;
    if (!lifecycle_letters_reject(ctl->config, ctl->store, actor(), id, opt_reason, opt_note,
                                  &error))
        return fail(error);
    return print_after(ctl, id, "rejected");
}

static int cmd_return(Ctl *ctl, int argc, char **argv)
{
    gint64 id = 0;
    int status = report_id_of(ctl, argc, argv, "return", &id);
    if (status)
        return status;
    GError *error = NULL;
    if (!lifecycle_letters_return(ctl->config, ctl->store, actor(), id, opt_note, &error))
        return fail(error);
    return print_after(ctl, id, "returned to the IOC");
}

static int cmd_extend(Ctl *ctl, int argc, char **argv)
{
    gint64 id = 0;
    int status = report_id_of(ctl, argc, argv, "extend", &id);
    if (status)
        return status;
    gint64 until = 0;
    if (!opt_until || !clock_parse_rfc3339(opt_until, &until))
        return usage_error("extend needs --until RFC3339 (e.g. 2026-12-10T17:00:00+07:00)");
    GError *error = NULL;
    if (!lifecycle_letters_extend(ctl->config, ctl->store, actor(), id, until, opt_note, &error))
        return fail(error);
    return print_after(ctl, id, "extended");
}

static int cmd_result(Ctl *ctl, int argc, char **argv)
{
    gint64 id = 0;
    int status = report_id_of(ctl, argc, argv, "result", &id);
    if (status)
        return status;
    if (!opt_file)
        return usage_error("result needs --file FILE (the answer, UTF-8 text)");
    g_autofree char *text = NULL;
    GError *error = NULL;
    if (g_str_equal(opt_file, "-")) {
        GString *in = g_string_new(NULL);
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
            g_string_append_len(in, buf, (gssize)n);
        text = g_string_free(in, FALSE);
    } else if (!g_file_get_contents(opt_file, &text, NULL, &error)) {
        fprintf(stderr, "pahtctl: %s\n", error->message);
        explain_unreadable(opt_file);
        g_error_free(error);
        return 2;
    }
    if (!lifecycle_letters_submit_result(ctl->config, ctl->store, actor(), id, text, &error))
        return fail(error);
    return print_after(ctl, id, "result submitted for approval");
}

/* Open311 (issue 15): pahtctl image ID N --public|--private */
static int cmd_image(Ctl *ctl, int argc, char **argv)
{
    gint64 number = 0;
    if (argc != 3 || !g_ascii_string_to_signed(argv[2], 10, 1, G_MAXUINT, &number, NULL) ||
        opt_public == opt_private)
        return usage_error("image takes a report, a file number (from 1, as show lists them) "
                           "and --public or --private");
    gint64 id = 0;
    int status = report_id_of(ctl, 2, argv, "image", &id);
    if (status)
        return status;
    Lifecycle lc = {.config = ctl->config, .actor = actor()};
    GError *error = NULL;
    if (!lifecycle_image_public(ctl->store, &lc, id, (guint)number, opt_public, &error))
        return fail(error);
    return print_after(ctl, id, opt_public ? "image made public" : "image no longer public");
}

static int cmd_approve(Ctl *ctl, int argc, char **argv)
{
    gint64 id = 0;
    int status = report_id_of(ctl, argc, argv, "approve", &id);
    if (status)
        return status;
    GError *error = NULL;
    if (!lifecycle_letters_approve(ctl->config, ctl->store, actor(), id, &error))
        return fail(error);
    return print_after(ctl, id, "result approved");
}

static int cmd_send_back(Ctl *ctl, int argc, char **argv)
{
    gint64 id = 0;
    int status = report_id_of(ctl, argc, argv, "send-back", &id);
    if (status)
        return status;
    GError *error = NULL;
    if (!lifecycle_letters_send_back(ctl->config, ctl->store, actor(), id, opt_note, &error))
        return fail(error);
    return print_after(ctl, id, "result sent back to the agency");
}

static int cmd_publish(Ctl *ctl, int argc, char **argv)
{
    gint64 id = 0;
    int status = report_id_of(ctl, argc, argv, "publish", &id);
    if (status)
        return status;
    GError *error = NULL;
    if (!lifecycle_letters_publish(ctl->config, ctl->store, actor(), id, &error))
        return fail(error);
    return print_after(ctl, id, "result published");
}

static int cmd_reply(Ctl *ctl, int argc, char **argv)
{
    gint64 id = 0;
    int status = report_id_of(ctl, argc, argv, "reply", &id);
    if (status)
        return status;
    g_autofree char *text = NULL;
    GError *error = NULL;
    if (opt_file && !g_file_get_contents(opt_file, &text, NULL, &error)) {
        fprintf(stderr, "pahtctl: %s\n", error->message);
        explain_unreadable(opt_file);
        g_error_free(error);
        return 2;
    }
    if (!text && opt_text)
        text = g_strdup(opt_text);
    if (!text)
        return usage_error("reply needs --text TEXT or --file FILE");
    CitizenReply outcome = {0};
    if (!lifecycle_letters_citizen_reply(ctl->config, ctl->store, opt_actor ? opt_actor : "citizen",
                                         id, text, &outcome, &error))
        return fail(error);
    const char *what = outcome.rated           ? "rating recorded"
                       : outcome.already_rated ? "already rated: rating ignored"
                                               : "feedback sent to the agency";
    if (outcome.rated && outcome.feedback)
        what = "rating recorded; feedback sent to the agency";
    return print_after(ctl, id, what);
}

static gboolean opt_confirm, opt_discard;
static GOptionEntry supplement_entries[] = {
    {"confirm", 0, 0, G_OPTION_ARG_NONE, &opt_confirm, "add it to its report as a reply", NULL},
    {"discard", 0, 0, G_OPTION_ARG_NONE, &opt_discard, "leave it out of the report", NULL},
    ACTOR_ENTRY,
    END_ENTRY,
};

static int cmd_supplement(Ctl *ctl, int argc, char **argv)
{
    if (!options_are_utf8())
        return usage_error("supplement: an option is not UTF-8 text");
    gint64 id = 0;
    if (argc != 2 || !g_ascii_string_to_signed(argv[1], 10, 1, G_MAXINT64, &id, NULL))
        return usage_error("supplement takes one pending supplement id (see pahtctl show)");
    if (opt_confirm == opt_discard)
        return usage_error("supplement needs --confirm or --discard");
    IngestResult result = {0};
    GError *error = NULL;
    if (!held_supplement_decide(ctl->gateway, id, opt_confirm, actor(), &result, &error))
        return fail(error);
    gint64 report = result.report_id;
    ingest_result_clear(&result);
    return print_after(ctl, report, opt_confirm ? "supplement added" : "supplement discarded");
}

static int cmd_answer(Ctl *ctl, int argc, char **argv)
{
    gint64 id = 0;
    int status = report_id_of(ctl, argc, argv, "answer", &id);
    if (status)
        return status;
    GError *error = NULL;
    if (!held_answer_by_ioc(ctl->gateway, id, actor(), &error))
        return fail(error);
    return print_after(ctl, id, "answer queued");
}

static int cmd_preview(Ctl *ctl, int argc, char **argv)
{
    if (argc != 3)
        return usage_error("preview takes a letter kind and a report id or tracking code");
    GError *error = NULL;
    g_autoptr(Report) r = report_load(ctl->store, argv[2], &error);
    if (!r)
        return fail(error);
    g_autoptr(GBytes) letter =
        lifecycle_letters_preview(ctl->config, ctl->store, argv[1], r->id, &error);
    if (!letter) {
        if (error->code == PAHT_ERROR_INPUT) {
            int status = usage_error("%s", error->message);
            g_error_free(error);
            return status;
        }
        return fail(error);
    }
    if (opt_raw) {
        gsize len = 0;
        const char *data = g_bytes_get_data(letter, &len);
        fwrite(data, 1, len, stdout);
        return 0;
    }
    g_autofree char *readable = lifecycle_letters_readable(letter, opt_html, &error);
    if (!readable)
        return fail(error);
    fputs(readable, stdout);
    return 0;
}

static JsonNode *stats_line_to_json(const Ctl *ctl, const StatsLine *l)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    const Agency *a = l->agency ? config_find_agency(ctl->config, l->agency) : NULL;
    json_member_string(b, "agency", l->agency);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, a ? a->name : l->agency ? l->agency : "");
    json_member_int(b, "received", l->received);
    json_member_int(b, "waiting", l->waiting);
    json_member_int(b, "accepted", l->accepted);
    json_member_int(b, "rejected", l->rejected);
    json_builder_set_member_name(b, "rejected_by");
    json_builder_begin_object(b);
    for (int i = 0; i < STATS_REJECT_REASONS; i++)
        json_member_int(b, stats_reject_reasons[i], l->rejected_by[i]);
    json_builder_end_object(b);
    json_member_int(b, "answered", l->answered);
    json_member_int(b, "on_time", l->on_time);
    json_member_int(b, "late", l->late);
    json_member_int(b, "open", l->open);
    json_member_int(b, "open_overdue", l->open_overdue);
    json_member_int(b, "in_progress", l->open);
    json_member_int(b, "overdue", l->overdue);
    json_member_int(b, "extended", l->extended);
    json_builder_set_member_name(b, "ratings");
    json_builder_begin_object(b);
    json_member_int(b, "very_satisfied", l->ratings[1]);
    json_member_int(b, "satisfied", l->ratings[2]);
    json_member_int(b, "dissatisfied", l->ratings[3]);
    json_builder_end_object(b);
    double share = stats_share_rated(l), days = stats_mean_working_days(l);
    json_builder_set_member_name(b, "rated_percent");
    if (share < 0)
        json_builder_add_null_value(b);
    else
        json_builder_add_double_value(b, share);
    json_builder_set_member_name(b, "mean_working_days");
    if (days < 0)
        json_builder_add_null_value(b);
    else
        json_builder_add_double_value(b, days);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* the period of pahtctl stats: --period, or --from and --to (days, inclusive) */
static int stats_range(Ctl *ctl, gint64 *from, gint64 *to, char **label)
{
    if (!options_are_utf8())
        return usage_error("stats: an option is not UTF-8 text");
    g_autofree char *why = NULL;
    GTimeZone *zone = ctl->config->calendar.zone;
    if (opt_period && (opt_from || opt_until))
        return usage_error("stats takes --period or --from and --to, not both");
    if (opt_period) {
        if (!stats_period_parse(opt_period, zone, from, to, &why))
            return usage_error("%s", why);
        *label = g_strdup(opt_period);
        return 0;
    }
    if (!opt_from || !opt_until)
        return usage_error("stats needs --period month:YYYY-MM|quarter:YYYY-Qn|half:YYYY-Hn|"
                           "year:YYYY, or --from YYYY-MM-DD --to YYYY-MM-DD");
    if (!stats_range_parse(opt_from, opt_until, zone, from, to, &why))
        return usage_error("%s", why);
    *label = g_strdup_printf("%s..%s", opt_from, opt_until);
    return 0;
}

static int print_stats_overdue(Ctl *ctl, gint64 from, gint64 to)
{
    GError *error = NULL;
    g_autoptr(GPtrArray) list = stats_overdue(ctl->store, from, to, &error);
    if (!list)
        return fail(error);
    GTimeZone *zone = ctl->config->calendar.zone;
    if (ctl->json) {
        g_autoptr(JsonArray) array = json_array_new();
        for (guint i = 0; i < list->len; i++) {
            const StatsOverdue *o = g_ptr_array_index(list, i);
            g_autoptr(JsonBuilder) b = json_builder_new();
            json_builder_begin_object(b);
            json_member_int(b, "id", o->id);
            json_member_string(b, "code", o->code);
            json_member_string(b, "state", o->state);
            json_member_string(b, "agency", o->agency);
            json_member_time(b, "received_at", o->received_at, zone);
            json_member_time(b, "due", o->due, zone);
            json_member_bool(b, "answered", o->answered);
            json_builder_end_object(b);
            json_array_add_element(array, json_builder_get_root(b));
        }
        g_autoptr(JsonNode) root = json_node_init_array(json_node_alloc(), array);
        print_json(root);
        return 0;
    }
    if (list->len == 0) {
        printf("No overdue report in this period.\n");
        return 0;
    }
    printf("%-17s %-8s %-16s %-16s %-16s %s\n", "CODE", "AGENCY", "STATE", "RECEIVED", "DUE",
           "ANSWERED");
    for (guint i = 0; i < list->len; i++) {
        const StatsOverdue *o = g_ptr_array_index(list, i);
        g_autofree char *received = local_time(ctl, o->received_at);
        g_autofree char *due = local_time(ctl, o->due);
        printf("%-17s %-8s %-16s %-16s %-16s %s\n", o->code, o->agency ? o->agency : "-", o->state,
               received, due, o->answered ? "late" : "not yet");
    }
    return 0;
}

static void print_stats_text(Ctl *ctl, const GPtrArray *lines, const char *label, const char *first,
                             const char *end)
{
    printf("%s: reports received from %.10s to the day before %.10s (Decree 09/2019, Art. 12)\n",
           label, first, end);
    printf("%-10s %5s %5s %5s %5s %5s %5s %5s %5s %5s %5s  %-8s %6s %6s\n", "AGENCY", "RECV",
           "WAIT", "ACCPT", "REJ", "ANSW", "ONTM", "LATE", "OPEN", "OVRD", "EXT", "RATED1/2/3",
           "RATED%", "DAYS");
    for (guint i = 0; i < lines->len; i++) {
        const StatsLine *l = g_ptr_array_index(lines, i);
        g_autofree char *ratings =
            g_strdup_printf("%d/%d/%d", l->ratings[1], l->ratings[2], l->ratings[3]);
        double share = stats_share_rated(l), days = stats_mean_working_days(l);
        g_autofree char *share_text = share < 0 ? g_strdup("-") : g_strdup_printf("%.1f", share);
        g_autofree char *days_text = days < 0 ? g_strdup("-") : g_strdup_printf("%.1f", days);
        printf("%-10s %5d %5d %5d %5d %5d %5d %5d %5d %5d %5d  %-10s %6s %6s\n",
               l->agency ? l->agency : "(all)", l->received, l->waiting, l->accepted, l->rejected,
               l->answered, l->on_time, l->late, l->open, l->open_overdue, l->extended, ratings,
               share_text, days_text);
    }
    const StatsLine *all = g_ptr_array_index(lines, 0);
    printf("rejected by reason:");
    for (int i = 0; i < STATS_REJECT_REASONS; i++)
        printf(" %s %d%s", stats_reject_reasons[i], all->rejected_by[i],
               i + 1 < STATS_REJECT_REASONS ? "," : "\n");
}

/* Điều 11.6, 11.8: received, on time, overdue, satisfaction, per agency */
static int cmd_stats(Ctl *ctl, int argc, char **argv)
{
    if (argc > 1)
        return usage_error("stats takes no argument, got \"%s\"", argv[1]);
    gint64 from = 0, to = 0;
    g_autofree char *label = NULL;
    int status = stats_range(ctl, &from, &to, &label);
    if (status)
        return status;
    if (opt_overdue)
        return print_stats_overdue(ctl, from, to);
    GError *error = NULL;
    g_autoptr(Calendar) calendar = calendar_new_from_config(ctl->config);
    g_autoptr(GPtrArray) lines = stats_collect(ctl->store, calendar, from, to, &error);
    if (!lines)
        return fail(error);
    if (opt_csv) {
        g_autofree char *csv = stats_csv(lines, ctl->config);
        fputs(csv, stdout);
        return 0;
    }
    GTimeZone *zone = ctl->config->calendar.zone;
    g_autofree char *first = clock_format_rfc3339(from, zone);
    g_autofree char *end = clock_format_rfc3339(to, zone);
    if (ctl->json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        json_member_string(b, "period", label);
        json_member_string(b, "from", first);
        json_member_string(b, "to", end);
        json_builder_set_member_name(b, "total");
        json_builder_add_value(b, stats_line_to_json(ctl, g_ptr_array_index(lines, 0)));
        json_builder_set_member_name(b, "agencies");
        json_builder_begin_array(b);
        for (guint i = 1; i < lines->len; i++)
            json_builder_add_value(b, stats_line_to_json(ctl, g_ptr_array_index(lines, i)));
        json_builder_end_array(b);
        json_builder_end_object(b);
        g_autoptr(JsonNode) root = json_builder_get_root(b);
        print_json(root);
        return 0;
    }
    print_stats_text(ctl, lines, label, first, end);
    return 0;
}

static int cmd_due(Ctl *ctl, int argc, char **argv)
{
    if (argc > 1)
        return usage_error("due takes no argument, got \"%s\"", argv[1]);
    gint64 from = 0;
    if (!opt_from || !clock_parse_rfc3339(opt_from, &from))
        return usage_error("due needs --from RFC3339 (e.g. 2026-11-27T16:30:00+07:00)");
    if ((opt_hours >= 0) == (opt_days >= 0))
        return usage_error("due needs one of --working-hours N and --working-days N (N >= 0)");
    /* the calendar looks ten years ahead at most */
    if (opt_hours > 8 * 1000 || opt_days > 1000)
        return usage_error("due counts at most 1000 working days (8000 working hours)");
    g_autoptr(Calendar) calendar = calendar_new_from_config(ctl->config);
    gint64 due = opt_hours >= 0 ? calendar_add_working_hours(calendar, from, opt_hours)
                                : calendar_add_working_days(calendar, from, opt_days);
    if (due < 0) {
        fprintf(stderr, "pahtctl: the calendar has no working time in ten years: check "
                        "[calendar] and the holidays file\n");
        return 2;
    }
    g_autofree char *text = clock_format_rfc3339(due, ctl->config->calendar.zone);
    if (ctl->json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        g_autofree char *start = clock_format_rfc3339(from, ctl->config->calendar.zone);
        json_builder_set_member_name(b, "from");
        json_builder_add_string_value(b, start);
        json_builder_set_member_name(b, opt_hours >= 0 ? "working_hours" : "working_days");
        json_builder_add_int_value(b, opt_hours >= 0 ? opt_hours : opt_days);
        json_builder_set_member_name(b, "due");
        json_builder_add_string_value(b, text);
        json_builder_end_object(b);
        g_autoptr(JsonNode) root = json_builder_get_root(b);
        print_json(root);
        return 0;
    }
    printf("%s\n", text);
    return 0;
}

static int cmd_resend(Ctl *ctl, int argc, char **argv)
{
    if (argc != 2)
        return usage_error("resend takes one letter id (see pahtctl outbox --state failed)");
    char *end = NULL;
    gint64 id = g_ascii_strtoll(argv[1], &end, 10);
    if (!end || *end || id <= 0)
        return usage_error("\"%s\" is not a letter id", argv[1]);
    GError *error = NULL;
    gboolean lifted = FALSE;
    if (!outbound_resend(ctl->gateway, id, &lifted, &error))
        return fail(error);
    if (ctl->json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "id");
        json_builder_add_int_value(b, id);
        json_builder_set_member_name(b, "state");
        json_builder_add_string_value(b, "queued");
        json_builder_set_member_name(b, "suspension_lifted");
        json_builder_add_boolean_value(b, lifted);
        json_builder_end_object(b);
        g_autoptr(JsonNode) root = json_builder_get_root(b);
        print_json(root);
        return 0;
    }
    printf("letter %" G_GINT64_FORMAT " queued again: pahtd sends it on its next pass%s\n", id,
           lifted ? "; the suspension of its address is lifted" : "");
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
    GError *error = NULL;
    if (!gateway_check_config(ctl->config, &error))
        return fail(error);
    signal(SIGALRM, on_reprocess_timeout);
    alarm((unsigned)ctl->config->gateway.message_timeout_seconds);
    IngestResult result = {0};
    gboolean ok = quarantine_reprocess(ctl->gateway, id, &result, &error);
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

/* Only pahtd (at start) and this command change the schema of a database (issue 11.5); main
 * opened the database with it brought up to date, holding the fetcher's lock */
static int cmd_migrate(Ctl *ctl, int argc, char **argv)
{
    if (argc > 1)
        return usage_error("migrate takes no argument, got \"%s\"", argv[1]);
    int found = store_schema_version_found(ctl->store);
    int now = store_schema_version(ctl->store);
    if (ctl->json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        json_member_string(b, "database", ctl->config->gateway.database);
        json_member_int(b, "from", found);
        json_member_int(b, "to", now);
        json_builder_end_object(b);
        g_autoptr(JsonNode) root = json_builder_get_root(b);
        print_json(root);
    } else if (found == now) {
        printf("%s: schema version %d, up to date\n", ctl->config->gateway.database, now);
    } else {
        printf("%s: schema version %d upgraded to %d\n", ctl->config->gateway.database, found, now);
    }
    return 0;
}

/* ---- the console's accounts (issue 13) ------------------------------------------------------ */

/* one line of standard input; on a terminal asked for without echo */
static char *read_password_line(const char *prompt)
{
    gboolean tty = isatty(STDIN_FILENO);
    struct termios was, quiet;
    if (tty && tcgetattr(STDIN_FILENO, &was) == 0) {
        quiet = was;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        fprintf(stderr, "%s", prompt);
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    } else {
        tty = FALSE;
    }
    char buf[2048];
    char *line = fgets(buf, sizeof buf, stdin) ? g_strdup(buf) : NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &was);
        fprintf(stderr, "\n");
    }
    memset(buf, 0, sizeof buf);
    if (line)
        line[strcspn(line, "\r\n")] = '\0';
    return line;
}

/* the new password, checked and hashed; NULL after saying why */
static char *new_password_hash(const char *login)
{
    g_autofree char *prompt = g_strdup_printf("Password for %s: ", login);
    char *password = read_password_line(prompt);
    if (password && isatty(STDIN_FILENO)) {
        char *again = read_password_line("Again: ");
        if (!again || !g_str_equal(again, password)) {
            fprintf(stderr, "pahtctl: the two passwords differ\n");
            g_free(again);
            g_free(password);
            return NULL;
        }
        g_free(again);
    }
    g_autofree char *why = NULL;
    GError *error = NULL;
    char *hash = NULL;
    if (!password)
        fprintf(stderr, "pahtctl: no password on standard input (one line)\n");
    else if (!web_password_acceptable(login, password, &why))
        fprintf(stderr, "pahtctl: %s\n", why);
    else if (!(hash = web_password_hash(password, &error)))
        fail(error);
    if (password)
        memset(password, 0, strlen(password));
    g_free(password);
    return hash;
}

static int user_add(Ctl *ctl, const char *login)
{
    if (!opt_role || !opt_name || !*opt_name)
        return usage_error("user add needs --role ioc|admin|agency:CODE|leader:CODE and --name");
    if (g_utf8_strlen(login, -1) > 100 || !text_is_header_safe(login) || strchr(login, ' '))
        return usage_error("a login is one word of at most 100 characters");
    if (opt_email && !config_is_email(opt_email))
        return usage_error("\"%s\" is not an e-mail address", opt_email);
    Account account = {.login = (char *)login, .name = opt_name, .email = opt_email};
    GError *error = NULL;
    if (!web_role_parse(ctl->config, opt_role, &account.role, &account.agency, &error)) {
        int status = usage_error("%s", error->message);
        g_error_free(error);
        return status;
    }
    account.password_hash = new_password_hash(login);
    gboolean ok = account.password_hash && account_add(ctl->store, &account, actor(), NULL, &error);
    g_free(account.role);
    g_free(account.agency);
    g_free(account.password_hash);
    if (!ok)
        return error ? fail(error) : 1;
    printf("account %s added (%s)\n", login, opt_role);
    return 0;
}

static JsonNode *account_to_json(const Account *a, GTimeZone *zone)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_member_string(b, "login", a->login);
    json_member_string(b, "role", a->role);
    json_member_string(b, "agency", a->agency);
    json_member_string(b, "name", a->name);
    json_member_string(b, "email", a->email);
    json_member_bool(b, "disabled", a->disabled);
    json_member_time(b, "created_at", a->created_at, zone);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static int user_list(Ctl *ctl)
{
    GError *error = NULL;
    g_autoptr(GPtrArray) list = account_list(ctl->store, &error);
    if (!list)
        return fail(error);
    if (ctl->json) {
        print_json_list(ctl, list, (ToJson)account_to_json);
        return 0;
    }
    printf("%-20s %-16s %-9s %s\n", "LOGIN", "ROLE", "STATE", "NAME");
    for (guint i = 0; i < list->len; i++) {
        const Account *a = g_ptr_array_index(list, i);
        g_autofree char *role =
            a->agency ? g_strdup_printf("%s:%s", a->role, a->agency) : g_strdup(a->role);
        printf("%-20s %-16s %-9s %s\n", a->login, role, a->disabled ? "disabled" : "enabled",
               a->name);
    }
    return 0;
}

static int user_passwd(Ctl *ctl, const char *login)
{
    GError *error = NULL;
    g_autoptr(Account) a = account_get(ctl->store, login, &error);
    if (!a)
        return fail(error);
    g_autofree char *hash = new_password_hash(a->login);
    if (!hash)
        return 1;
    if (!account_set_password(ctl->store, a->login, hash, actor(), &error))
        return fail(error);
    printf("password of %s changed; its sessions have ended\n", a->login);
    return 0;
}

static int user_enable(Ctl *ctl, const char *login, gboolean enable)
{
    GError *error = NULL;
    if (!account_set_disabled(ctl->store, login, !enable, actor(), &error))
        return fail(error);
    printf("account %s %s\n", login, enable ? "enabled" : "disabled; its sessions have ended");
    return 0;
}

static int cmd_user(Ctl *ctl, int argc, char **argv)
{
    if (!options_are_utf8())
        return usage_error("user: an option is not UTF-8 text");
    const char *what = argc > 1 ? argv[1] : NULL;
    if (what && g_str_equal(what, "list") && argc == 2)
        return user_list(ctl);
    if (!what || argc != 3 || !g_utf8_validate(argv[2], -1, NULL))
        return usage_error("user add|passwd|disable|enable LOGIN, or user list");
    if (g_str_equal(what, "add"))
        return user_add(ctl, argv[2]);
    if (g_str_equal(what, "passwd"))
        return user_passwd(ctl, argv[2]);
    if (g_str_equal(what, "disable") || g_str_equal(what, "enable"))
        return user_enable(ctl, argv[2], g_str_equal(what, "enable"));
    return usage_error("user add|passwd|disable|enable LOGIN, or user list");
}

static JsonNode *audit_entry_to_json(const AuditEntry *e, GTimeZone *zone)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_member_time(b, "at", e->at, zone);
    json_member_string(b, "actor", e->actor);
    json_member_string(b, "report", e->code);
    json_member_string(b, "account", e->login);
    json_member_string(b, "kind", e->kind);
    json_member_string(b, "detail", e->detail);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* who did what when: every event of the reports and of the console's accounts */
static int cmd_audit(Ctl *ctl, int argc, char **argv)
{
    if (argc > 1)
        return usage_error("audit takes no argument, got \"%s\"", argv[1]);
    if (!options_are_utf8())
        return usage_error("audit: an option is not UTF-8 text");
    gint64 from = 0, to = clock_now_unix() + 1, report = 0;
    if (opt_from && !clock_parse_rfc3339(opt_from, &from))
        return usage_error("--from takes RFC 3339 (e.g. 2026-12-01T00:00:00+07:00)");
    if (opt_to && !clock_parse_rfc3339(opt_to, &to))
        return usage_error("--to takes RFC 3339 (e.g. 2026-12-31T00:00:00+07:00)");
    GError *error = NULL;
    if (opt_report) {
        g_autoptr(Report) r = report_load(ctl->store, opt_report, &error);
        if (!r)
            return fail(error);
        report = r->id;
    }
    g_autoptr(GPtrArray) list =
        audit_list(ctl->store, from, to, opt_actor, report, opt_limit, &error);
    if (!list)
        return fail(error);
    if (ctl->json) {
        print_json_list(ctl, list, (ToJson)audit_entry_to_json);
        return 0;
    }
    for (guint i = 0; i < list->len; i++) {
        const AuditEntry *e = g_ptr_array_index(list, i);
        g_autofree char *at = local_time(ctl, e->at);
        printf("%s  %-16s %-17s %-18s %s\n", at, e->actor, e->code ? e->code : e->login, e->kind,
               e->detail ? e->detail : "");
    }
    return 0;
}

/* ---- records (issue 16): backup, verify, restore, purge, hold, a person's data ------------- */

static char *opt_before, *opt_phone, *opt_id_number, *opt_export;
static gboolean opt_dry_run, opt_erase, opt_release, opt_deep, opt_public, opt_private;

static GOptionEntry verify_entries[] = {
    {"deep", 0, 0, G_OPTION_ARG_NONE, &opt_deep, "read every file and check its SHA-256", NULL},
    END_ENTRY,
};
static GOptionEntry purge_entries[] = {
    {"before", 0, 0, G_OPTION_ARG_FILENAME, &opt_before,
     "reports finished before this day (default: [privacy] retain_days ago)", "YYYY-MM-DD"},
    {"dry-run", 0, 0, G_OPTION_ARG_NONE, &opt_dry_run, "list them, change nothing", NULL},
    ACTOR_ENTRY,
    END_ENTRY,
};
static GOptionEntry hold_entries[] = {
    {"note", 0, 0, G_OPTION_ARG_FILENAME, &opt_note, "why (the case, the request)", "TEXT"},
    {"release", 0, 0, G_OPTION_ARG_NONE, &opt_release, "end the legal hold", NULL},
    ACTOR_ENTRY,
    END_ENTRY,
};
static GOptionEntry person_entries[] = {
    {"email", 0, 0, G_OPTION_ARG_FILENAME, &opt_email, "the person's e-mail address", "ADDR"},
    {"phone", 0, 0, G_OPTION_ARG_FILENAME, &opt_phone, "their phone number", "N"},
    {"id", 0, 0, G_OPTION_ARG_FILENAME, &opt_id_number, "their ID number (CCCD, CMND)", "N"},
    {"export", 0, 0, G_OPTION_ARG_FILENAME, &opt_export, "write all their data (a ZIP)", "FILE"},
    {"erase", 0, 0, G_OPTION_ARG_NONE, &opt_erase, "remove it from their finished reports", NULL},
    ACTOR_ENTRY,
    END_ENTRY,
};
static GOptionEntry attachment_entries[] = {
    {"public", 0, 0, G_OPTION_ARG_NONE, &opt_public, "published: kept by the purge", NULL},
    {"private", 0, 0, G_OPTION_ARG_NONE, &opt_private, "not public (the default)", NULL},
    ACTOR_ENTRY,
    END_ENTRY,
};

static void records_options_free(void)
{
    char **all[] = {&opt_before, &opt_phone, &opt_id_number, &opt_export};
    for (gsize i = 0; i < G_N_ELEMENTS(all); i++)
        g_clear_pointer(all[i], g_free);
}

static void print_lines(const char *title, const GPtrArray *lines, guint most)
{
    for (guint i = 0; i < lines->len && i < most; i++)
        printf("%s%s\n", title, (const char *)g_ptr_array_index(lines, i));
    if (lines->len > most)
        printf("%s... and %u more\n", title, lines->len - most);
}

static JsonNode *backup_report_to_json(const BackupReport *r)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_member_string(b, "folder", r->folder);
    json_member_bool(b, "incremental", r->incremental);
    json_member_int(b, "files", r->files);
    json_member_int(b, "linked", r->linked);
    json_member_int(b, "copied", r->copied);
    json_member_int(b, "reused", r->reused);
    json_member_int(b, "bytes", r->bytes);
    json_member_int(b, "missing", r->missing);
    json_member_int(b, "damaged", r->damaged);
    json_builder_set_member_name(b, "problems");
    json_builder_begin_array(b);
    for (guint i = 0; i < r->problems->len; i++)
        json_builder_add_string_value(b, g_ptr_array_index(r->problems, i));
    json_builder_end_array(b);
    json_builder_set_member_name(b, "unreferenced");
    json_builder_begin_array(b);
    for (guint i = 0; i < r->unreferenced->len; i++)
        json_builder_add_string_value(b, g_ptr_array_index(r->unreferenced, i));
    json_builder_end_array(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

typedef void (*BackupText)(const Ctl *ctl, const BackupReport *r);

/* what backup and restore print: the report (JSON) or text's line, then the warnings; exit 1
 * when there were any */
static int backup_command_done(Ctl *ctl, gboolean ok, BackupReport *r, GError *error,
                               BackupText text)
{
    if (!ok) {
        backup_report_clear(r);
        return fail(error);
    }
    if (ctl->json) {
        g_autoptr(JsonNode) node = backup_report_to_json(r);
        print_json(node);
    } else {
        text(ctl, r);
        print_lines("warning: ", r->problems, 50);
    }
    int status = r->problems->len > 0 ? 1 : 0;
    backup_report_clear(r);
    return status;
}

static void backup_text(const Ctl *ctl, const BackupReport *r)
{
    printf("%s: %u files (%u new: %u linked, %u copied, %" G_GINT64_FORMAT
           " bytes; %u from the previous backup), the database and MANIFEST\n",
           r->folder, r->files, r->linked + r->copied, r->linked, r->copied, r->bytes, r->reused);
}

static int cmd_backup(Ctl *ctl, int argc, char **argv)
{
    if (argc != 2)
        return usage_error("backup takes one folder (DIR: each backup goes into a folder of it)");
    BackupReport r;
    GError *error = NULL;
    gboolean ok = backup_create(ctl->gateway, argv[1], &r, &error);
    return backup_command_done(ctl, ok, &r, error, backup_text);
}

static int print_verify(Ctl *ctl, BackupReport *r)
{
    int status = r->problems->len > 0 ? 1 : 0;
    if (ctl->json) {
        g_autoptr(JsonNode) node = backup_report_to_json(r);
        print_json(node);
    } else {
        printf("%s: %u files checked (%s), %u missing, %u damaged%s\n",
               r->folder ? r->folder : ctl->config->gateway.data_dir, r->files,
               opt_deep ? "size and SHA-256" : "size", r->missing, r->damaged,
               status ? "" : ": all good");
        print_lines("", r->problems, 200);
        if (r->unreferenced->len > 0)
            printf("%u file(s) nobody refers to:\n", r->unreferenced->len);
        print_lines("unreferenced: ", r->unreferenced, 200);
    }
    backup_report_clear(r);
    return status;
}

static int cmd_verify(Ctl *ctl, int argc, char **argv)
{
    if (argc > 2)
        return usage_error("verify takes at most one backup folder");
    BackupReport r;
    GError *error = NULL;
    gboolean ok = argc == 2 ? backup_verify_copy(argv[1], opt_deep, &r, &error)
                            : backup_verify_live(ctl->gateway, opt_deep, &r, &error);
    if (!ok) {
        backup_report_clear(&r);
        return fail(error);
    }
    return print_verify(ctl, &r);
}

static void restore_text(const Ctl *ctl, const BackupReport *r)
{
    printf("%s restored into %s and %s: %u files checked, %u linked, %u copied\n", r->folder,
           ctl->config->gateway.database, ctl->config->gateway.data_dir, r->files, r->linked,
           r->copied);
}

static int cmd_restore(Ctl *ctl, int argc, char **argv)
{
    if (argc != 2)
        return usage_error("restore takes one backup folder");
    BackupReport r;
    GError *error = NULL;
    gboolean ok = backup_restore(ctl->config, argv[1], &r, &error);
    return backup_command_done(ctl, ok, &r, error, restore_text);
}

static void print_summary(const Ctl *ctl, const PurgeSummary *s, const char *verb)
{
    if (ctl->json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        const struct {
            const char *name;
            const GPtrArray *list;
        } lists[] = {{verb, s->purged}, {"held", s->held}, {"refused", s->refused}};
        for (gsize i = 0; i < G_N_ELEMENTS(lists); i++) {
            json_builder_set_member_name(b, lists[i].name);
            json_builder_begin_array(b);
            for (guint j = 0; j < lists[i].list->len; j++)
                json_builder_add_string_value(b, g_ptr_array_index(lists[i].list, j));
            json_builder_end_array(b);
        }
        json_member_int(b, "files_removed", s->files_removed);
        json_builder_end_object(b);
        g_autoptr(JsonNode) root = json_builder_get_root(b);
        print_json(root);
        return;
    }
    printf("%u report(s) %s, %d file(s) removed; %u kept under legal hold\n", s->purged->len, verb,
           s->files_removed, s->held->len);
    print_lines(g_str_equal(verb, "would be purged") ? "would purge " : "", s->purged, 1000);
    print_lines("held: ", s->held, 1000);
}

static int cmd_purge(Ctl *ctl, int argc, char **argv)
{
    if (argc > 1)
        return usage_error("purge takes no argument, got \"%s\"", argv[1]);
    gint64 before = 0, to = 0;
    g_autofree char *why = NULL;
    if (opt_before) {
        if (!stats_range_parse(opt_before, opt_before, ctl->config->calendar.zone, &before, &to,
                               &why))
            return usage_error("--before takes a day, YYYY-MM-DD (got \"%s\")", opt_before);
    } else if (ctl->config->privacy.retain_days > 0) {
        before = clock_now_unix() - (gint64)ctl->config->privacy.retain_days * 86400;
    } else {
        return usage_error("purge needs --before DATE, or [privacy] retain_days in %s",
                           ctl->config->file);
    }
    if (before > clock_now_unix())
        return usage_error("--before %s is in the future", opt_before);
    PurgeSummary s = {0};
    GError *error = NULL;
    if (!retention_purge(ctl->gateway, before, opt_dry_run, actor(), &s, &error)) {
        purge_summary_clear(&s);
        return fail(error);
    }
    print_summary(ctl, &s, opt_dry_run ? "would be purged" : "purged");
    purge_summary_clear(&s);
    return 0;
}

static int cmd_hold(Ctl *ctl, int argc, char **argv)
{
    gint64 id = 0;
    int status = report_id_of(ctl, argc, argv, "hold", &id);
    if (status)
        return status;
    if (opt_release == (opt_note && *opt_note))
        return usage_error("hold needs --note TEXT (why), or --release");
    GError *error = NULL;
    gboolean ok = store_begin(ctl->store, &error) &&
                  retention_hold(ctl->store, id, opt_release ? NULL : opt_note, actor(), &error) &&
                  store_commit(ctl->store, &error);
    if (!ok) {
        store_rollback(ctl->store);
        return fail(error);
    }
    return print_after(ctl, id, opt_release ? "legal hold released" : "under legal hold");
}

static int cmd_attachment(Ctl *ctl, int argc, char **argv)
{
    gint64 id = 0, number = 0;
    if (argc != 3 || !g_ascii_string_to_signed(argv[2], 10, 1, 10000, &number, NULL))
        return usage_error("attachment takes a report and an attachment number (from 1, as "
                           "pahtctl show lists them)");
    int status = report_id_of(ctl, 2, argv, "attachment", &id);
    if (status)
        return status;
    if (opt_public == opt_private)
        return usage_error("attachment needs --public or --private");
    GError *error = NULL;
    gboolean ok = store_begin(ctl->store, &error) &&
                  retention_set_public(ctl->store, id, (int)number, opt_public, actor(), &error) &&
                  store_commit(ctl->store, &error);
    if (!ok) {
        store_rollback(ctl->store);
        return fail(error);
    }
    return print_after(ctl, id, opt_public ? "attachment public" : "attachment not public");
}

static void print_person(const Ctl *ctl, const GPtrArray *reports)
{
    if (ctl->json) {
        g_autoptr(JsonArray) array = json_array_new();
        for (guint i = 0; i < reports->len; i++) {
            const RetainedReport *r = g_ptr_array_index(reports, i);
            g_autoptr(JsonBuilder) b = json_builder_new();
            json_builder_begin_object(b);
            json_member_int(b, "id", r->id);
            json_member_string(b, "code", r->code);
            json_member_string(b, "state", r->state);
            json_member_bool(b, "finished", retention_is_finished(r->state));
            json_member_string(b, "legal_hold", r->legal_hold);
            json_member_time(b, "purged_at", r->purged_at, ctl->config->calendar.zone);
            json_builder_end_object(b);
            json_array_add_element(array, json_builder_get_root(b));
        }
        g_autoptr(JsonNode) root = json_node_init_array(json_node_alloc(), array);
        print_json(root);
        return;
    }
    if (reports->len == 0)
        printf("No report of this person.\n");
    for (guint i = 0; i < reports->len; i++) {
        const RetainedReport *r = g_ptr_array_index(reports, i);
        printf("%-17s %-16s %s%s%s\n", r->code, r->state,
               r->purged_at                      ? "personal data removed"
               : retention_is_finished(r->state) ? "finished"
                                                 : "open",
               r->legal_hold ? ", under legal hold: " : "", r->legal_hold ? r->legal_hold : "");
    }
}

static int person_act(Ctl *ctl, const GPtrArray *reports)
{
    GError *error = NULL;
    if (opt_export) {
        g_autoptr(GPtrArray) ids = g_ptr_array_new();
        for (guint i = 0; i < reports->len; i++)
            g_ptr_array_add(ids, &((RetainedReport *)g_ptr_array_index(reports, i))->id);
        if (!person_export(ctl->store, ids, ctl->config->calendar.zone, opt_export, &error))
            return fail(error);
        printf("%u report(s) written to %s\n", reports->len, opt_export);
        return 0;
    }
    PurgeSummary s = {0};
    if (!retention_erase(ctl->gateway, reports, actor(), &s, &error)) {
        purge_summary_clear(&s);
        return fail(error);
    }
    print_summary(ctl, &s, "erased");
    for (guint i = 0; i < s.refused->len; i++)
        fprintf(stderr, "pahtctl: not erased: %s\n", (char *)g_ptr_array_index(s.refused, i));
    for (guint i = 0; i < s.held->len; i++)
        fprintf(stderr, "pahtctl: not erased: %s is under legal hold\n",
                (char *)g_ptr_array_index(s.held, i));
    int status = s.refused->len + s.held->len > 0 ? 1 : 0;
    purge_summary_clear(&s);
    return status;
}

static int cmd_person(Ctl *ctl, int argc, char **argv)
{
    if (argc > 1)
        return usage_error("person takes no argument, got \"%s\"", argv[1]);
    if (!options_are_utf8() || (opt_email && !g_utf8_validate(opt_email, -1, NULL)))
        return usage_error("person: an option is not UTF-8 text");
    if (!!opt_email + !!opt_phone + !!opt_id_number != 1)
        return usage_error("person needs one of --email ADDR, --phone N, --id N");
    if (opt_export && opt_erase)
        return usage_error("person takes --export FILE or --erase, not both");
    g_autofree char *phone = opt_phone ? retention_phone_normalise(opt_phone) : NULL;
    g_autofree char *id_number = opt_id_number ? retention_digits(opt_id_number) : NULL;
    if ((phone && strlen(phone) < 8) || (id_number && strlen(id_number) < 9))
        return usage_error("person: \"%s\" is too short to be a phone or an ID number",
                           opt_phone ? opt_phone : opt_id_number);
    GError *error = NULL;
    g_autoptr(GPtrArray) reports =
        retention_find_person(ctl->store, opt_email, phone, id_number, &error);
    if (!reports)
        return fail(error);
    if (!opt_export && !opt_erase) {
        print_person(ctl, reports);
        return 0;
    }
    if (reports->len == 0) {
        fprintf(stderr, "pahtctl: no report of this person\n");
        return 1;
    }
    return person_act(ctl, reports);
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
    {"resend", cmd_resend, NULL, "ID", "queue a failed letter again (lifts its suspension)"},
    {"accept", cmd_accept, accept_entries, "ID --agency CODE [--coordinate CODE,...]",
     "accept a draft and assign it (Điều 7.3)"},
    {"reject", cmd_reject, reject_entries, "ID --reason REASON [--note TEXT]",
     "refuse a draft, with the letter for its reason"},
    {"return", cmd_return, return_entries, "ID --note TEXT",
     "agency: not our competence, back to the IOC (Điều 8.1)"},
    {"extend", cmd_extend, extend_entries, "ID --until RFC3339 --note TEXT",
     "agency: extend the deadline, once (Điều 8.3)"},
    {"result", cmd_result, result_entries, "ID --file FILE", "agency: submit the answer"},
    {"approve", cmd_approve, actor_entries, "ID", "leader: approve the result (Điều 8.4)"},
    {"send-back", cmd_send_back, send_back_entries, "ID --note TEXT",
     "leader: do not approve; the result goes back to the agency (Điều 8.4)"},
    {"publish", cmd_publish, actor_entries, "ID",
     "IOC: send the Phụ lục I letter to the citizen (Điều 9)"},
    {"image", cmd_image, image_entries, "ID N --public|--private",
     "IOC: file N of a report shown on the portal (Open311) or not"},
    {"reply", cmd_reply, reply_entries, "ID --text TEXT|--file FILE",
     "record the citizen's rating or feedback (Điều 10)"},
    {"preview", cmd_preview, preview_entries, "KIND ID [--raw|--html]",
     "a letter as it would be sent"},
    {"due", cmd_due, due_entries, "--from T --working-hours N|--working-days N",
     "the working-time calendar"},
    {"stats", cmd_stats, stats_entries, "--period PERIOD|--from DAY --to DAY [--csv|--overdue]",
     "received, on time, overdue, ratings, per agency (Điều 11)"},
    {"reprocess", cmd_reprocess, NULL, "ID", "run a message kept aside (quarantine) again"},
    {"migrate", cmd_migrate, NULL, "", "upgrade the database's schema (pahtd stopped)"},
    {"supplement", cmd_supplement, supplement_entries, "ID --confirm|--discard",
     "IOC: a reply waiting because its sender is not proven (pahtctl show lists them)"},
    {"answer", cmd_answer, actor_entries, "ID",
     "IOC: send the automatic answer a report did not get (sender unverified, rate limit)"},
    {"user", cmd_user, user_entries,
     "add LOGIN --role ROLE --name NAME [--email ADDR] | list | passwd|disable|enable LOGIN",
     "the console's accounts (pahtweb); the password is read from standard input"},
    {"audit", cmd_audit, audit_entries, "[--from T] [--to T] [--actor LOGIN] [--report CODE]",
     "who did what when: the events of reports and accounts"},
    {"backup", cmd_backup, NULL, "DIR", "a consistent backup while pahtd runs (incremental)"},
    {"verify", cmd_verify, verify_entries, "[--deep] [BACKUP]",
     "the database and every file it refers to are whole"},
    {"restore", cmd_restore, NULL, "BACKUP", "a backup into an empty data folder (pahtd stopped)"},
    {"purge", cmd_purge, purge_entries, "[--before DAY] [--dry-run]",
     "remove the personal data of reports finished long ago ([privacy] retain_days)"},
    {"hold", cmd_hold, hold_entries, "ID --note TEXT|--release",
     "legal hold: the report is never purged nor erased"},
    {"attachment", cmd_attachment, attachment_entries, "ID N --public|--private",
     "IOC: an attachment published with the result survives the purge"},
    {"person", cmd_person, person_entries, "--email A|--phone N|--id N [--export F|--erase]",
     "a citizen's request: their reports, their data, its erasure"},
};

static void print_usage(void)
{
    printf("Usage: pahtctl [-c FILE] [--json] COMMAND [ARGS]\n\nCommands:\n");
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (strlen(commands[i].args) <= 14)
            printf("  %-10s %-14s %s\n", commands[i].name, commands[i].args, commands[i].summary);
        else /* a long synopsis gets its own line */
            printf("  %-10s %s\n  %-10s %-14s %s\n", commands[i].name, commands[i].args, "", "",
                   commands[i].summary);
    }
    printf("\nOptions: -c FILE (default %s), --json, --version.\n"
           "PAHT_NOW=RFC3339 in the environment replaces the clock (tests, demos).\n",
           config_default_file());
}

int main(int argc, char **argv)
{
    log_init("pahtctl");
    memory_tune(0);
    g_autofree char *command_line = command_line_quoted(argc, argv);
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
        if (g_str_equal(argv[i], "--version")) {
            g_autofree char *text = config_version_text("pahtctl");
            fputs(text, stdout);
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
        config_load(config_path ? config_path : config_default_file(), CONFIG_LOAD_DEFAULT, &error);
    if (!config) {
        fprintf(stderr, "pahtctl: %s\n", error->message);
        g_error_free(error);
        return 2;
    }
    log_set_level((LogLevel)config->gateway.log_level);
    note_invoking_user();
    /* sudo pahtctl ...: root becomes the owner of the database before it opens anything, so
     * that every file it makes is the daemon's too (issue 11.4) */
    g_autofree char *run_as = NULL;
    uid_t was = geteuid();
    if (!gateway_become_owner(config, &run_as, &error)) {
        fprintf(stderr, "pahtctl: %s\n", error->message);
        if (run_as)
            fprintf(stderr, "pahtctl: run it as that user: sudo -u %s %s\n", run_as, command_line);
        g_error_free(error);
        return 2;
    }
    if (geteuid() != was)
        became_owner = user_name_of(geteuid());
    /* only migrate may change the schema: every other command refuses a database of another
     * version than its own (issue 11.5) */
    gboolean migrates = commands[found].run == cmd_migrate;
    gboolean restores = commands[found].run == cmd_restore;
    int lock = -1;
    if ((migrates || restores) && (lock = gateway_lock_fetcher(config, &error)) < 0) {
        fprintf(stderr, "pahtctl: %s\npahtctl: stop pahtd first (systemctl stop pahtd)%s\n",
                error->message,
                restores ? ""
                         : ", or just restart it: pahtd brings the schema up to date when "
                           "it starts");
        g_error_free(error);
        return 2;
    }
    /* restore writes the database and data_dir itself: nothing may have them open */
    g_autoptr(Gateway) gateway =
        restores ? NULL
                 : gateway_open_with(config, migrates ? STORE_SCHEMA_MIGRATE : STORE_SCHEMA_EXACT,
                                     &error);
    if (!gateway && !restores)
        return fail(error);
    Ctl ctl = {.config = config,
               .gateway = gateway,
               .store = gateway ? gateway_store(gateway) : NULL,
               .json = json};
    /* argv[0] stays the program name: commands see their arguments from argv[1] */
    int status = commands[found].run(&ctl, argc, argv);
    g_free(outbox_state);
    g_free(became_owner);
    lifecycle_options_free();
    records_options_free();
    if (lock >= 0)
        close(lock);
    return status;
}
