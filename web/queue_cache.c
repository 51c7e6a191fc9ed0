/* The queue page as last made for a session (issue 18): the page an operator reloads, or a
 * few operators of one session's tabs do, is sent again while nothing it was made of has
 * changed, instead of being queried and rendered anew (about 1 ms of CPU each, most of it
 * json-glib and the mustache walk; bench/README.md, "web").
 *
 * A kept page is served only when all of these are what they were when it was made:
 *   - the session, its user, its csrf token and the page's query (state, flag, q, page, and
 *     a bulk rejection's outcome): the key; a page is never shared between sessions, so
 *     never between roles or agencies;
 *   - the database, as the very connection that made it sees it: SQLite's data_version
 *     (moved by any other connection's commit: pahtd, pahtctl, another request of pahtweb)
 *     and the rows this connection changed itself (store_version);
 *   - the time, to the minute (the working time left is shown in minutes) and before the
 *     next open deadline falls due (a report turns overdue with nothing written);
 *   - every page file and labels.ini it was made of (inode, size, mtime, ctime), stamped
 *     before they were read, so an edit shows at the next request as before.
 * The session check, and with it the idle and absolute expiry, still runs on every request
 * (server.c) before the handler; only a 200 page is kept.
 *
 * A kept page holds what an operator saw (citizens' names, places, texts): it is dropped as
 * soon as it can no longer be served, not left in memory until the cache happens to fill. A
 * session's pages go when pahtweb ends the session (logout, a new login in the same browser,
 * the session check finding it idle, expired or its account gone: session_end), and
 * every page past its time goes whenever a page is kept. A session ended elsewhere (an
 * account disabled, which ends its sessions in the database) or left to lapse keeps its
 * pages until the next page anyone keeps once they are past their time (which comes a minute
 * at most after they were made). */
#include "web/web_private.h"
#include "util/util.h"

#include <string.h>

/* kept pages (about 40 KB each): emptied when full, as a burst of other keys rarely comes */
#define QUEUE_CACHE_MAX 64

typedef struct {
    gint64 session;     /* the console session it was made for */
    guint64 connection; /* store_pool_serial */
    StoreVersion version;
    gint64 made_at, valid_until;
    GArray *files; /* PageStamp */
    GBytes *html;
} Kept;

static GMutex cache_lock;
static GHashTable *cache; /* key -> Kept * */

static void kept_free(gpointer data)
{
    Kept *k = data;
    g_array_unref(k->files);
    g_bytes_unref(k->html);
    g_free(k);
}

gint64 queue_cache_valid_until(gint64 now, gint64 next_due)
{
    gint64 next_minute = (now / 60 + 1) * 60;
    return next_due > now && next_due < next_minute ? next_due : next_minute;
}

gboolean queue_cache_fresh(const QueueCacheStamp *made, const QueueCacheStamp *now)
{
    return made->connection != 0 && made->connection == now->connection &&
           made->version.data_version == now->version.data_version &&
           made->version.own_changes == now->version.own_changes && made->at <= now->at &&
           now->at < made->valid_until;
}

static void append_part(GString *key, const char *part)
{
    /* a part may hold any text but NUL: a missing one and an empty one differ */
    if (part)
        g_string_append_printf(key, "%zu:%s", strlen(part), part);
    else
        g_string_append_c(key, '-');
}

char *queue_cache_key(Request *req)
{
    GString *key = g_string_new(NULL);
    g_string_append_printf(key, "%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT "/", req->session->id,
                           req->user->id);
    append_part(key, req->session->csrf);
    static const char *const names[] = {"state", "flag", "q", "page", "rejected", "refused"};
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
        append_part(key, request_query(req, names[i]));
    return g_string_free(key, FALSE);
}

gboolean queue_cache_stamp(Request *req, QueueCacheStamp *stamp, GError **error)
{
    Store *store = request_store(req, error);
    if (!store)
        return FALSE;
    stamp->connection = store_pool_serial(req->app->stores, store);
    stamp->at = clock_now_unix();
    stamp->valid_until = 0; /* a page about to be made: queue_cache_watch */
    return store_version(store, &stamp->version, error);
}

/* Kept per connection too: its versions say nothing of another's, and the two threads'
 * requests of one session, each on its connection, would otherwise drop each other's page. */
static char *kept_key_of(const char *key, const QueueCacheStamp *stamp)
{
    return g_strdup_printf("%" G_GUINT64_FORMAT "|%s", stamp->connection, key);
}

gboolean queue_cache_serve(Request *req, Response *res, const char *key, const QueueCacheStamp *now)
{
    GBytes *html = NULL;
    g_autofree char *kept_key = kept_key_of(key, now);
    g_mutex_lock(&cache_lock);
    Kept *k = cache ? g_hash_table_lookup(cache, kept_key) : NULL;
    QueueCacheStamp made = {0};
    if (k)
        made = (QueueCacheStamp){.connection = k->connection,
                                 .version = k->version,
                                 .at = k->made_at,
                                 .valid_until = k->valid_until};
    gboolean fresh = k && queue_cache_fresh(&made, now);
    for (guint i = 0; fresh && i < k->files->len; i++)
        fresh = page_stamp_holds(&g_array_index(k->files, PageStamp, i));
    if (fresh)
        html = g_bytes_ref(k->html);
    else if (k)
        g_hash_table_remove(cache, kept_key);
    g_mutex_unlock(&cache_lock);
    if (!html)
        return FALSE;
    res->status = 200;
    g_free(res->content_type);
    res->content_type = g_strdup("text/html; charset=utf-8");
    if (res->body)
        g_bytes_unref(res->body);
    res->body = html;
    return TRUE;
}

void queue_cache_watch(Request *req, QueueCacheStamp *stamp)
{
    /* until when what is about to be made stays true with nothing written: asked only of a
     * page being made (it reads every open deadline's due time) */
    gint64 next_due = 0;
    GError *error = NULL;
    if (!deadline_next_due(req->store, stamp->at, &next_due, &error)) {
        g_error_free(error);   /* the page's own queries say it, if the database is away */
        stamp->connection = 0; /* not kept */
        return;
    }
    stamp->valid_until = queue_cache_valid_until(stamp->at, next_due);
    if (req->pages_read)
        return;
    /* labels.ini read before the watch began is read again, stamped */
    g_clear_pointer(&req->labels, g_key_file_unref);
    g_clear_pointer(&req->labels_behind, g_key_file_unref);
    req->pages_read = g_array_new(FALSE, TRUE, sizeof(PageStamp));
    g_array_set_clear_func(req->pages_read, (GDestroyNotify)page_stamp_clear);
}

/* the pages of session (0: none) and those that cannot be served at now or later; with
 * cache_lock held */
static void forget_locked(gint64 session, gint64 now)
{
    if (!cache)
        return;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, cache);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const Kept *k = value;
        if ((session != 0 && k->session == session) || k->valid_until <= now)
            g_hash_table_iter_remove(&it);
    }
}

void queue_cache_forget(gint64 session, gint64 now)
{
    g_mutex_lock(&cache_lock);
    forget_locked(session, now);
    g_mutex_unlock(&cache_lock);
}

guint queue_cache_kept(gint64 session)
{
    guint n = 0;
    g_mutex_lock(&cache_lock);
    if (cache) {
        GHashTableIter it;
        gpointer value;
        g_hash_table_iter_init(&it, cache);
        while (g_hash_table_iter_next(&it, NULL, &value))
            n += session == 0 || ((const Kept *)value)->session == session;
    }
    g_mutex_unlock(&cache_lock);
    return n;
}

void queue_cache_keep(Request *req, const Response *res, const char *key,
                      const QueueCacheStamp *made)
{
    if (res->status != 200 || !res->body || !req->pages_read || made->connection == 0)
        return;
    Kept *k = g_new0(Kept, 1);
    k->session = req->session->id;
    k->connection = made->connection;
    k->version = made->version;
    k->made_at = made->at;
    k->valid_until = made->valid_until;
    k->files = g_steal_pointer(&req->pages_read);
    k->html = g_bytes_ref(res->body);
    g_mutex_lock(&cache_lock);
    if (!cache)
        cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, kept_free);
    forget_locked(0, made->at);
    if (g_hash_table_size(cache) >= QUEUE_CACHE_MAX)
        g_hash_table_remove_all(cache);
    g_hash_table_replace(cache, kept_key_of(key, made), k);
    g_mutex_unlock(&cache_lock);
}
