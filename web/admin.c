/* The figures (issue 13): /stats, pahtctl stats' counts for a period of Decree 09/2019/NĐ-CP
 * Art. 12 with a CSV download (UTF-8 with a BOM, so that Excel shows Vietnamese), and
 * /health for the administrators: the mailbox, the outbox, suspended addresses and the mail
 * kept aside, with a button to process a message again. */
#include "web/web_private.h"
#include "util/util.h"

#include <string.h>

#define HEALTH_LIST_MAX 100

/* ---- statistics
 * ------------------------------------------------------------------------------------ */

/* the month period (Art. 12: the 15th of the month before to the 14th) holding t */
static char *month_period(GTimeZone *zone, gint64 t, int months_back)
{
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(t);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, zone);
    int year = g_date_time_get_year(local), month = g_date_time_get_month(local);
    int index =
        year * 12 + (month - 1) + (g_date_time_get_day_of_month(local) >= 15 ? 1 : 0) - months_back;
    return g_strdup_printf("month:%04d-%02d", index / 12, index % 12 + 1);
}

static char *year_period(GTimeZone *zone, gint64 t)
{
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(t);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, zone);
    gboolean next = g_date_time_get_month(local) == 12 && g_date_time_get_day_of_month(local) >= 15;
    return g_strdup_printf("year:%04d", g_date_time_get_year(local) + (next ? 1 : 0));
}

typedef struct {
    char *period;
    gint64 from, to;
    GPtrArray *lines;
} Stats;

static void stats_clear(Stats *s)
{
    g_free(s->period);
    if (s->lines)
        g_ptr_array_unref(s->lines);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Stats, stats_clear)

/* the period asked (or this month) and its counts; FALSE with the page answered */
static gboolean stats_load(Request *req, Response *res, Stats *s)
{
    GTimeZone *zone = req->app->config->calendar.zone;
    const char *asked = request_query(req, "period");
    s->period = asked && *asked ? g_strdup(asked) : month_period(zone, clock_now_unix(), 0);
    g_autofree char *why = NULL;
    if (strlen(s->period) > 40 || !stats_period_parse(s->period, zone, &s->from, &s->to, &why)) {
        page_error(req, res, 400, "bad_period", why);
        return FALSE;
    }
    GError *error = NULL;
    Store *store = request_store(req, &error);
    s->lines = store ? lifecycle_stats(store, s->from, s->to, &error) : NULL;
    if (!s->lines) {
        log_error("stats: %s", error->message);
        g_error_free(error);
        page_error(req, res, 503, "busy", NULL);
        return FALSE;
    }
    return TRUE;
}

static char *line_name(Request *req, const StatsLine *l)
{
    if (!l->agency)
        return label(req, "stats", "total");
    const Agency *a = config_find_agency(req->app->config, l->agency);
    return g_strdup(a ? a->name : l->agency);
}

static void add_stats_line(JsonBuilder *b, Request *req, const StatsLine *l)
{
    json_builder_begin_object(b);
    g_autofree char *name = line_name(req, l);
    json_add_string(b, "name", name);
    json_add_bool(b, "total", l->agency == NULL);
    json_add_int(b, "received", l->received);
    json_add_int(b, "rejected", l->rejected);
    json_add_int(b, "in_progress", l->open);
    json_add_int(b, "answered", l->answered);
    json_add_int(b, "on_time", l->on_time);
    json_add_int(b, "overdue", l->overdue);
    json_add_int(b, "very_satisfied", l->ratings[1]);
    json_add_int(b, "satisfied", l->ratings[2]);
    json_add_int(b, "dissatisfied", l->ratings[3]);
    json_builder_end_object(b);
}

static void add_period_links(JsonBuilder *b, Request *req)
{
    GTimeZone *zone = req->app->config->calendar.zone;
    gint64 now = clock_now_unix();
    char *periods[] = {month_period(zone, now, 0), month_period(zone, now, 1),
                       year_period(zone, now)};
    json_builder_set_member_name(b, "periods");
    json_builder_begin_array(b);
    for (gsize i = 0; i < G_N_ELEMENTS(periods); i++) {
        json_builder_begin_object(b);
        json_add_string(b, "period", periods[i]);
        g_autofree char *url = g_strdup_printf("/stats?period=%s", periods[i]);
        json_add_string(b, "url", url);
        json_builder_end_object(b);
        g_free(periods[i]);
    }
    json_builder_end_array(b);
}

void handle_stats(Request *req, Response *res)
{
    g_auto(Stats) s = {0};
    if (!stats_load(req, res, &s))
        return;
    JsonBuilder *b = page_context(req, "stats");
    json_add_string(b, "period", s.period);
    g_autofree char *from = page_time(req, s.from);
    g_autofree char *to = page_time(req, s.to);
    json_add_string(b, "from", from);
    json_add_string(b, "to", to);
    g_autofree char *csv = g_strdup_printf("/stats.csv?period=%s", s.period);
    json_add_string(b, "csv_url", csv);
    json_builder_set_member_name(b, "lines");
    json_builder_begin_array(b);
    for (guint i = 0; i < s.lines->len; i++)
        add_stats_line(b, req, g_ptr_array_index(s.lines, i));
    json_builder_end_array(b);
    add_period_links(b, req);
    page_render(req, res, 200, "stats", b);
}

void handle_stats_csv(Request *req, Response *res)
{
    g_auto(Stats) s = {0};
    if (!stats_load(req, res, &s))
        return;
    /* the same file as pahtctl stats --csv: every count of Điều 11.6, a BOM for Excel */
    g_autofree char *csv = stats_csv(s.lines, req->app->config);
    g_autofree char *safe = g_strdelimit(g_strdup(s.period), ":", '-');
    g_autofree char *filename = g_strdup_printf("paht-thong-ke-%s.csv", safe);
    g_autofree char *disposition = http_content_disposition(FALSE, filename);
    response_header(res, "Content-Disposition", disposition);
    gsize len = strlen(csv);
    response_body(res, 200, "text/csv; charset=utf-8", g_steal_pointer(&csv), len);
}

/* ---- health
 * ------------------------------------------------------------------------------------------- */

static void add_mailbox(JsonBuilder *b, Request *req, Store *store)
{
    const Config *c = req->app->config;
    json_builder_set_member_name(b, "mailbox");
    json_builder_begin_object(b);
    json_add_string(b, "user", c->imap.user);
    json_add_string(b, "folder", c->imap.server.path);
    json_add_string(b, "host", c->imap.server.host);
    json_add_bool(b, "idle", c->imap.idle);
    json_add_int(b, "poll_seconds", c->imap.poll_seconds);
    g_autofree char *down = NULL;
    daemon_state_get(store, "mailbox_down_since", &down, NULL); /* unknown: not shown failing */
    gint64 since = down ? g_ascii_strtoll(down, NULL, 10) : 0;
    json_add_bool(b, "failing", since > 0);
    g_autofree char *since_text = page_time(req, since);
    json_add_string(b, "failing_since", since > 0 ? since_text : NULL);
    /* passes failing on the gateway's side while the server answers (gateway/daemon.c) */
    g_autofree char *stalled = NULL;
    daemon_state_get(store, "processing_failed_since", &stalled, NULL);
    gint64 stalled_since = stalled ? g_ascii_strtoll(stalled, NULL, 10) : 0;
    g_autofree char *stalled_text = page_time(req, stalled_since);
    json_add_string(b, "not_processed_since", stalled_since > 0 ? stalled_text : NULL);
    /* moves out of the inbox the server refuses (gateway/mailbox.c): the mail stays there */
    static const char *const refusals[] = {"move_refused_since", "move_refused_quarantine_since"};
    json_builder_set_member_name(b, "moves_refused");
    json_builder_begin_array(b);
    for (gsize i = 0; i < G_N_ELEMENTS(refusals); i++) {
        g_autofree char *refused = NULL;
        daemon_state_get(store, refusals[i], &refused, NULL);
        gint64 from = refused ? g_ascii_strtoll(refused, NULL, 10) : 0;
        if (from <= 0)
            continue;
        g_autofree char *from_text = page_time(req, from);
        json_builder_begin_object(b);
        json_add_string(b, "folder", i == 0 ? c->imap.processed_folder : c->imap.quarantine_folder);
        json_add_string(b, "since", from_text);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    gint64 moved = 0;
    mailbox_state_updated_at(store, c->imap.server.path, &moved, NULL);
    g_autofree char *moved_text = page_time(req, moved);
    json_add_string(b, "position_at", moved > 0 ? moved_text : NULL);
    json_builder_end_object(b);
}

static void add_outbox(JsonBuilder *b, Request *req, Store *store)
{
    OutboxCounts counts = {0};
    outbox_counts(store, &counts, NULL);
    json_builder_set_member_name(b, "outbox");
    json_builder_begin_object(b);
    json_add_int(b, "queued", counts.queued + counts.sending);
    json_add_int(b, "sent", counts.sent);
    json_add_int(b, "failed", counts.failed);
    gint64 since = 0;
    g_autofree char *why = NULL;
    if (outbound_status_get(store, "smtp_outage", &since, &why, NULL) && since > 0) {
        g_autofree char *at = page_time(req, since);
        json_add_string(b, "outage_since", at);
        json_add_string(b, "outage_why", why);
    }
    g_autoptr(GPtrArray) failed = outbox_list(store, "failed", NULL);
    json_builder_set_member_name(b, "failures");
    json_builder_begin_array(b);
    for (guint i = failed ? failed->len : 0; i-- > 0 && failed->len - i <= HEALTH_LIST_MAX;) {
        const OutboxEntry *e = g_ptr_array_index(failed, i);
        json_builder_begin_object(b);
        json_add_int(b, "id", e->id);
        g_autofree char *kind = label(req, "mail", e->kind);
        json_add_string(b, "kind", kind);
        /* an administrator keeps the system; a citizen's address is not theirs to read */
        g_autofree char *to = log_redact_address(e->rcpt);
        json_add_string(b, "to", to);
        g_autofree char *at = page_time(req, e->updated_at);
        json_add_string(b, "at", at);
        json_add_string(b, "status", e->failure_status);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
}

static void add_suspensions(JsonBuilder *b, Request *req, Store *store)
{
    g_autoptr(GPtrArray) list = address_suspension_list(store, clock_now_unix(), NULL);
    json_builder_set_member_name(b, "suspended");
    json_builder_begin_array(b);
    for (guint i = 0; list && i < list->len && i < HEALTH_LIST_MAX; i++) {
        const AddressSuspension *s = g_ptr_array_index(list, i);
        json_builder_begin_object(b);
        g_autofree char *address = log_redact_address(s->address);
        json_add_string(b, "address", address);
        json_add_string(b, "status", s->status);
        g_autofree char *until = page_time(req, s->until);
        json_add_string(b, "until", until);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static void add_quarantine(JsonBuilder *b, Request *req, Store *store)
{
    g_autoptr(GPtrArray) list = raw_message_list_aside(store, HEALTH_LIST_MAX, NULL);
    json_builder_set_member_name(b, "aside");
    json_builder_begin_array(b);
    for (guint i = 0; list && i < list->len; i++) {
        const RawMessage *m = g_ptr_array_index(list, i);
        json_builder_begin_object(b);
        json_add_int(b, "id", m->id);
        g_autofree char *at = page_time(req, m->received_at);
        json_add_string(b, "at", at);
        json_add_int(b, "size", m->size);
        g_autofree char *state = label(req, "raw_state", m->state);
        json_add_string(b, "state", state);
        json_add_string(b, "error", m->error);
        g_autofree char *url = g_strdup_printf("/health/reprocess/%" G_GINT64_FORMAT, m->id);
        json_add_string(b, "reprocess_url", url);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

/* the administrators' alone: routes.c refuses the others */
void handle_health(Request *req, Response *res)
{
    GError *error = NULL;
    Store *store = request_store(req, &error);
    if (!store) {
        log_error("health: %s", error->message);
        g_error_free(error);
        page_error(req, res, 503, "busy", NULL);
        return;
    }
    JsonBuilder *b = page_context(req, "health");
    add_mailbox(b, req, store);
    add_outbox(b, req, store);
    add_suspensions(b, req, store);
    add_quarantine(b, req, store);
    const char *done = request_query(req, "reprocessed");
    json_add_string(b, "reprocessed", done && strlen(done) < 24 ? done : NULL);
    page_render(req, res, 200, "health", b);
}

/* Processing a message again parses a citizen's mail: hostile input, which pahtd parses in a
 * separate process under a time limit. The console does the same with pahtctl reprocess, in
 * a process of its own, and keeps nothing of it but its answer. The administrators' alone
 * (routes.c). */
void handle_reprocess(Request *req, Response *res)
{
    gint64 id = 0;
    if (!g_ascii_string_to_signed(req->params[0], 10, 1, G_MAXINT64, &id, NULL)) {
        page_not_found(req, res);
        return;
    }
    g_autofree char *number = g_strdup_printf("%" G_GINT64_FORMAT, id);
    const char *argv[] = {req->app->pahtctl, "-c",   req->app->config->file,
                          "reprocess",       number, NULL};
    g_autofree char *out = NULL, *err = NULL;
    int status = 0;
    GError *error = NULL;
    gboolean ran = g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL,
                                &out, &err, &status, &error);
    account_event_add(req->store, req->user->login, req->user->login, "reprocess", number, NULL);
    if (!ran || !g_spawn_check_wait_status(status, NULL)) {
        g_autofree char *said = err ? text_header_sanitize(err) : NULL;
        log_notice("reprocess %s: %s", number, ran ? said : error->message);
        page_error(req, res, 409, "reprocess_failed", ran ? said : error->message);
        g_clear_error(&error);
        return;
    }
    g_autofree char *back = g_strdup_printf("/health?reprocessed=%s", number);
    response_redirect(res, back);
}
