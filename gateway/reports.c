/* reports: what pahtd sends the province without being asked (issue 16), and what it watches
 * so that it can go on doing so.
 *
 * The statistics digest (kind stats_digest, Điều 11.6, 11.8): when a period of Decree 09/2019
 * Art. 12 closes (the 14th ends), on the first working day after it, one letter to each of
 * [reports] recipients with the totals, the table per agency and the CSV attached; monthly,
 * quarterly, half-yearly and yearly as [reports] periods says. Once per period across
 * restarts: the period sent is recorded in the same transaction as the letters, whose dedupe
 * keys name the period and the recipient.
 *
 * Free space: below [gateway] min_free_mb in data_dir or the database's folder, pahtd fetches
 * no mail (it waits safely on the server), tells the IOC once, and goes on when space is back. */
#include "gateway/gateway_private.h"
#include "letters/letters.h"
#include "notify/notify.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#define STATE_DISK_LOW "disk_low_since"

/* The period as the letter names it (labels_period_words): "tháng 11/2026" for
 * "month:2026-11", quý IV/2026, 6 tháng cuối năm 2026, năm 2026. NULL with the error when
 * labels.ini lacks it. */
static char *period_words(const Config *c, const char *name, GError **error)
{
    int year = 0, n = 0;
    const char *kind = NULL;
    if (sscanf(name, "month:%4d-%2d", &year, &n) == 2)
        kind = "month";
    else if (sscanf(name, "quarter:%4d-Q%1d", &year, &n) == 2 && n >= 1 && n <= 4)
        kind = "quarter";
    else if (sscanf(name, "half:%4d-H%1d", &year, &n) == 2)
        kind = "half";
    else if (sscanf(name, "year:%4d", &year) == 1)
        kind = "year";
    else
        return g_strdup(name);
    g_autoptr(Labels) labels = labels_load(c, error);
    return labels ? labels_period_words(labels, kind, year, n, error) : NULL;
}

static char *day_text(const Config *c, gint64 t)
{
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(t);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, c->calendar.zone);
    return g_date_time_format(local, "%d/%m/%Y");
}

static char *decimal_text(double value)
{
    char text[G_ASCII_DTOSTR_BUF_SIZE];
    return value < 0 ? g_strdup("-") : g_strdup(g_ascii_formatd(text, sizeof text, "%.1f", value));
}

static void add_line(JsonBuilder *b, const Config *c, const StatsLine *l)
{
    json_builder_begin_object(b);
    const Agency *a = l->agency ? config_find_agency(c, l->agency) : NULL;
    json_member_string_if(b, "code", l->agency);
    /* the total's name is the template's words */
    json_member_string_if(b, "name", l->agency ? (a ? a->name : l->agency) : NULL);
    const struct {
        const char *name;
        int value;
    } counts[] = {
        {"received", l->received},
        {"waiting", l->waiting},
        {"accepted", l->accepted},
        {"rejected", l->rejected},
        {"answered", l->answered},
        {"on_time", l->on_time},
        {"late", l->late},
        {"open", l->open},
        {"open_overdue", l->open_overdue},
        {"extended", l->extended},
        {"very_satisfied", l->ratings[1]},
        {"satisfied", l->ratings[2]},
        {"dissatisfied", l->ratings[3]},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(counts); i++)
        json_member_int(b, counts[i].name, counts[i].value);
    g_autofree char *share = decimal_text(stats_share_rated(l));
    g_autofree char *days = decimal_text(stats_mean_working_days(l));
    json_member_string_if(b, "rated_percent", share);
    json_member_string_if(b, "mean_days", days);
    json_builder_end_object(b);
}

/* the digest's values: period, total, agencies */
static JsonBuilder *digest_context(const Config *c, const char *name, const char *words,
                                   gint64 from, gint64 to, const GPtrArray *lines,
                                   const char *csv_name)
{
    JsonBuilder *b = letters_context_new(c, clock_now_unix());
    json_builder_set_member_name(b, "period");
    json_builder_begin_object(b);
    g_autofree char *first = day_text(c, from);
    g_autofree char *last = day_text(c, to - 1);
    json_member_string_if(b, "name", name);
    json_member_string_if(b, "label", words);
    json_member_string_if(b, "from", first);
    json_member_string_if(b, "to", last);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "total");
    add_line(b, c, g_ptr_array_index(lines, 0));
    json_builder_set_member_name(b, "agencies");
    json_builder_begin_array(b);
    for (guint i = 1; i < lines->len; i++)
        add_line(b, c, g_ptr_array_index(lines, i));
    json_builder_end_array(b);
    json_member_string_if(b, "csv_name", csv_name);
    return b;
}

/* the letters of one period, one per recipient, and the record that it was sent */
static gboolean digest_send(Gateway *gw, const Calendar *cal, const char *kind, const char *name,
                            gint64 from, gint64 to, GError **error)
{
    const Config *c = gw->config;
    g_autoptr(GPtrArray) lines = stats_collect(gw->store, cal, from, to, error);
    if (!lines)
        return FALSE;
    g_autofree char *csv = stats_csv(lines, c);
    g_autofree char *csv_name = g_strdup_printf("thong-ke-paht-%s.csv", name);
    g_strdelimit(csv_name, ":", '-');
    g_autoptr(GBytes) data = g_bytes_new(csv, strlen(csv));
    LetterAttachment attachment = {csv_name, "text/csv; charset=utf-8", data};
    g_autofree char *words = period_words(c, name, error);
    if (!words)
        return FALSE;
    g_autofree char *state_key = g_strdup_printf("stats_digest:%s", kind);
    for (char **r = c->reports.recipients; *r; r++) {
        g_autoptr(JsonBuilder) b = digest_context(c, name, words, from, to, lines, csv_name);
        g_autofree char *key = g_strdup_printf("stats_digest:%s:%s", name, *r);
        LetterRequest req = {
            .kind = "stats_digest",
            .dedupe_key = key,
            .to_address = *r,
            .attachments = &attachment,
            .n_attachments = 1,
        };
        if (!letters_enqueue(c, gw->store, &req, b, NULL, error))
            return FALSE;
    }
    return daemon_state_set(gw->store, state_key, name, error);
}

static gboolean same_local_day(const Config *c, gint64 a, gint64 b)
{
    g_autofree char *x = day_text(c, a);
    g_autofree char *y = day_text(c, b);
    return g_str_equal(x, y);
}

gboolean reports_digest(Gateway *gw, int *sent, GError **error)
{
    const Config *c = gw->config;
    if (sent)
        *sent = 0;
    if (!c->reports.recipients || !c->reports.recipients[0])
        return TRUE;
    g_autoptr(Calendar) cal = calendar_new_from_config(c);
    gint64 now = clock_now_unix();
    for (char **kind = c->reports.periods; kind && *kind; kind++) {
        g_autofree char *name = NULL;
        gint64 from = 0, to = 0;
        if (!stats_period_last_closed(*kind, c->calendar.zone, now, &name, &from, &to))
            continue;
        /* on the first working day after the period: from its first working minute */
        gint64 start = calendar_next_working_time(cal, to);
        if (start < 0 || now < start)
            continue;
        g_autofree char *state_key = g_strdup_printf("stats_digest:%s", *kind);
        g_autofree char *last = NULL;
        if (!daemon_state_get(gw->store, state_key, &last, error))
            return FALSE;
        if (last && g_str_equal(last, name))
            continue;
        /* a first pahtd (a new install, an upgrade) starts with the periods to come: the
         * latest closed one gets its digest only on its own first working day */
        gboolean late_start = !last && !same_local_day(c, start, now);
        if (!store_begin(gw->store, error))
            return FALSE;
        if ((late_start ? !daemon_state_set(gw->store, state_key, name, error)
                        : !digest_send(gw, cal, *kind, name, from, to, error)) ||
            !store_commit(gw->store, error)) {
            store_rollback(gw->store);
            return FALSE;
        }
        if (late_start)
            continue;
        log_notice("statistics digest %s queued for %u recipient(s)", name,
                   g_strv_length(c->reports.recipients));
        if (sent)
            (*sent)++;
    }
    return TRUE;
}

/* ---- free space ------------------------------------------------------------------------------ */

static guint64 free_mb(const char *path)
{
    struct statvfs st;
    if (statvfs(path, &st) != 0)
        return G_MAXUINT64; /* cannot tell: the writes will say */
    return (guint64)st.f_bavail * st.f_frsize / (1024 * 1024);
}

gboolean reports_space_ok(Gateway *gw)
{
    const Config *c = gw->config;
    g_autofree char *db_dir = g_path_get_dirname(c->gateway.database);
    guint64 data = free_mb(c->gateway.data_dir), db = free_mb(db_dir);
    guint64 least = MIN(data, db);
    gboolean ok = least >= (guint64)c->gateway.min_free_mb;
    g_autofree char *since = NULL;
    GError *error = NULL;
    if (!daemon_state_get(gw->store, STATE_DISK_LOW, &since, &error)) {
        log_warning("cannot read the free-space record: %s", error->message);
        g_clear_error(&error);
        return ok;
    }
    if (ok && since) {
        log_notice("free space is back (%" G_GUINT64_FORMAT " MB): fetching mail again", least);
        if (!daemon_state_set(gw->store, STATE_DISK_LOW, NULL, &error)) {
            log_warning("cannot clear the free-space record: %s", error->message);
            g_clear_error(&error);
        }
    }
    if (ok || since)
        return ok;
    log_error("only %" G_GUINT64_FORMAT " MB free where the data lives (min_free_mb = %d): no "
              "mail is fetched until there is more (it waits on the mail server)",
              least, c->gateway.min_free_mb);
    g_autofree char *now = g_strdup_printf("%" G_GINT64_FORMAT, clock_now_unix());
    g_autofree char *key = g_strdup_printf("disk_low:%s", now);
    g_autoptr(JsonBuilder) facts = letters_alert_facts();
    json_member_int(facts, "free_mb", (gint64)least);
    json_member_string(facts, "where", data <= db ? c->gateway.data_dir : db_dir);
    json_member_int(facts, "min_free_mb", c->gateway.min_free_mb);
    gboolean done = store_begin(gw->store, &error) &&
                    letters_ioc_alert(c, gw->store, "disk_low", key, 0, facts, &error) &&
                    daemon_state_set(gw->store, STATE_DISK_LOW, now, &error) &&
                    store_commit(gw->store, &error);
    if (!done) {
        store_rollback(gw->store);
        log_error("cannot enqueue the free-space alert: %s", error ? error->message : "?");
        g_clear_error(&error);
    }
    return FALSE;
}
