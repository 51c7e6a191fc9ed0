/* retention: what pahtctl purge, pahtctl person and pahtd's daily purge do with the store's
 * retention (lifecycle/retention.c): one transaction per report, then the files unlinked,
 * never while a backup copies them (issue 16). */
#include "gateway/gateway_private.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* files unlinked per transaction: the write lock is held while a batch goes */
#define REMOVAL_BATCH 200

void purge_summary_clear(PurgeSummary *s)
{
    g_clear_pointer(&s->purged, g_ptr_array_unref);
    g_clear_pointer(&s->held, g_ptr_array_unref);
    g_clear_pointer(&s->refused, g_ptr_array_unref);
}

int retention_backup_lock(const Config *c, gboolean exclusive, GError **error)
{
    g_autofree char *path = g_build_filename(c->gateway.data_dir, "backup.lock", NULL);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot open %s: %s", path,
                    g_strerror(errno));
        return -1;
    }
    if (flock(fd, (exclusive ? LOCK_EX | LOCK_NB : LOCK_SH)) != 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY,
                    "a backup is copying the files (%s): they are removed after it", path);
        close(fd);
        return -1;
    }
    return fd;
}

/* one batch of the removal queue, under the write lock: a file still named by a row (the
 * same attachment in another report, or received again meanwhile) stays */
static gboolean remove_batch(Gateway *gw, int *removed, gboolean *more, GError **error)
{
    if (!store_begin(gw->store, error))
        return FALSE;
    g_autoptr(GPtrArray) paths = retention_files_queued(gw->store, REMOVAL_BATCH, error);
    gboolean ok = paths != NULL;
    for (guint i = 0; ok && i < paths->len; i++) {
        const char *path = g_ptr_array_index(paths, i);
        gboolean in_use = FALSE;
        ok = retention_file_release(gw->store, path, &in_use, error);
        if (!ok || in_use)
            continue;
        /* a thumbnail is a copy of the citizen's photo: it goes with it */
        fs_remove_derived(path);
        if (unlink(path) == 0)
            (*removed)++;
        else if (errno != ENOENT)
            log_warning("cannot remove a purged file %s: %s", path, g_strerror(errno));
    }
    *more = ok && paths->len == REMOVAL_BATCH;
    if (!ok) {
        store_rollback(gw->store);
        return FALSE;
    }
    return store_commit(gw->store, error);
}

gboolean retention_remove_files(Gateway *gw, int *removed, GError **error)
{
    *removed = 0;
    GError *busy = NULL;
    int lock = retention_backup_lock(gw->config, TRUE, &busy);
    if (lock < 0) {
        log_info("%s", busy->message);
        g_error_free(busy);
        return TRUE;
    }
    gboolean more = TRUE, ok = TRUE;
    while (ok && more)
        ok = remove_batch(gw, removed, &more, error);
    close(lock);
    if (ok && *removed > 0)
        log_notice("retention: %d file(s) of purged reports removed", *removed);
    return ok;
}

/* one report's purge in its own transaction; refused ones are not errors */
static gboolean purge_one(Gateway *gw, const RetainedReport *r, const char *actor, const char *kind,
                          PurgeSummary *s, GError **error)
{
    if (!store_begin(gw->store, error))
        return FALSE;
    GError *local = NULL;
    if (retention_purge_report(gw->store, r->id, actor, kind, NULL, &local) &&
        store_commit(gw->store, &local)) {
        g_ptr_array_add(s->purged, g_strdup(r->code));
        return TRUE;
    }
    store_rollback(gw->store);
    if (!g_error_matches(local, PAHT_ERROR, PAHT_ERROR_REFUSED)) {
        g_propagate_error(error, local);
        return FALSE;
    }
    g_ptr_array_add(s->refused, g_strdup(local->message));
    g_error_free(local);
    return TRUE;
}

/* after a batch of purges or erasures: the search index keeps no trace of the erased words
 * (report_search_forget), and the files go */
static gboolean purges_done(Gateway *gw, PurgeSummary *s, GError **error)
{
    if (s->purged->len > 0 && !report_search_forget(gw->store, error))
        return FALSE;
    return retention_remove_files(gw, &s->files_removed, error);
}

static void summary_init(PurgeSummary *s)
{
    s->purged = g_ptr_array_new_with_free_func(g_free);
    s->held = g_ptr_array_new_with_free_func(g_free);
    s->refused = g_ptr_array_new_with_free_func(g_free);
}

gboolean retention_purge(Gateway *gw, gint64 before, gboolean dry_run, const char *actor,
                         PurgeSummary *s, GError **error)
{
    summary_init(s);
    g_autoptr(GPtrArray) due = retention_due(gw->store, before, error);
    if (!due)
        return FALSE;
    for (guint i = 0; i < due->len; i++) {
        const RetainedReport *r = g_ptr_array_index(due, i);
        if (r->legal_hold) {
            g_ptr_array_add(s->held, g_strdup(r->code));
        } else if (dry_run) {
            g_ptr_array_add(s->purged, g_strdup(r->code));
        } else if (!purge_one(gw, r, actor, "purged", s, error)) {
            return FALSE;
        }
    }
    if (!dry_run && s->purged->len > 0)
        log_notice("retention: personal data of %u finished report(s) removed (%u under legal "
                   "hold kept)",
                   s->purged->len, s->held->len);
    return dry_run || purges_done(gw, s, error);
}

gboolean retention_daily(Gateway *gw, GError **error)
{
    const Config *c = gw->config;
    if (c->privacy.retain_days <= 0)
        return TRUE;
    gint64 now = clock_now_unix();
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(now);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, c->calendar.zone);
    g_autofree char *today = g_date_time_format(local, "%Y-%m-%d");
    g_autofree char *last = NULL;
    if (!daemon_state_get(gw->store, "retention_last_day", &last, error))
        return FALSE;
    if (last && g_str_equal(last, today))
        return TRUE;
    PurgeSummary s = {0};
    gboolean ok = retention_purge(gw, now - (gint64)c->privacy.retain_days * 86400, FALSE, "pahtd",
                                  &s, error) &&
                  daemon_state_set(gw->store, "retention_last_day", today, error);
    purge_summary_clear(&s);
    return ok;
}

/* ---- a person's request -------------------------------------------------------------------- */

char *retention_digits(const char *written)
{
    GString *digits = g_string_new(NULL);
    for (const char *p = written; p && *p; p++) {
        if (g_ascii_isdigit(*p))
            g_string_append_c(digits, *p);
    }
    return g_string_free(digits, FALSE);
}

/* "+84 912-345-678" -> "0912345678": the national form the parser stores (SPEC §3.4) */
char *retention_phone_normalise(const char *written)
{
    g_autofree char *only = retention_digits(written);
    GString *digits = g_string_new(only);
    if (g_str_has_prefix(digits->str, "84") && digits->len >= 11) {
        g_string_erase(digits, 0, 2);
        g_string_prepend_c(digits, '0');
    }
    return g_string_free(digits, FALSE);
}

gboolean retention_erase(Gateway *gw, const GPtrArray *reports, const char *actor, PurgeSummary *s,
                         GError **error)
{
    summary_init(s);
    for (guint i = 0; i < reports->len; i++) {
        const RetainedReport *r = g_ptr_array_index(reports, i);
        if (r->purged_at > 0)
            continue;
        if (!retention_is_finished(r->state)) {
            g_ptr_array_add(s->refused, g_strdup_printf("%s is still open (%s): erased when it "
                                                        "is finished",
                                                        r->code, r->state));
        } else if (r->legal_hold) {
            g_ptr_array_add(s->held, g_strdup(r->code));
        } else if (!purge_one(gw, r, actor, "erased", s, error)) {
            return FALSE;
        }
    }
    if (s->purged->len > 0)
        log_notice("a citizen's request: personal data of %u report(s) erased", s->purged->len);
    return purges_done(gw, s, error);
}
