/* The console's connections to the database. A Store is one SQLite connection and is used by
 * one thread at a time: each request takes one from the pool when it first needs one and
 * gives it back when it ends, with nothing left open; a few idle ones are kept for the next
 * requests. Writes are the lifecycle's and the store's, each one BEGIN IMMEDIATE with the
 * store's busy timeout, beside pahtd and pahtctl. */
#include "web/web_private.h"

/* idle database connections kept for the next requests */
#define STORE_POOL_IDLE 8

struct StorePool {
    GMutex lock;
    char *path;
    GPtrArray *idle;     /* Store * */
    GHashTable *serials; /* Store * -> its serial (guint64, boxed): never given twice */
    guint64 last_serial;
};

/* under the lock */
static void serial_assign(StorePool *pool, Store *store)
{
    guint64 *serial = g_new(guint64, 1);
    *serial = ++pool->last_serial;
    g_hash_table_replace(pool->serials, store, serial);
}

StorePool *store_pool_new(const char *path, GError **error)
{
    Store *first = store_open_with(path, STORE_SCHEMA_EXACT, error);
    if (!first)
        return NULL;
    StorePool *pool = g_new0(StorePool, 1);
    g_mutex_init(&pool->lock);
    pool->path = g_strdup(path);
    pool->idle = g_ptr_array_new_with_free_func((GDestroyNotify)store_close);
    pool->serials = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    g_ptr_array_add(pool->idle, first);
    serial_assign(pool, first);
    return pool;
}

Store *store_pool_take(StorePool *pool, GError **error)
{
    g_mutex_lock(&pool->lock);
    Store *store =
        pool->idle->len ? g_ptr_array_steal_index(pool->idle, pool->idle->len - 1) : NULL;
    g_mutex_unlock(&pool->lock);
    if (store)
        return store;
    store = store_open_with(pool->path, STORE_SCHEMA_EXACT, error);
    if (store) {
        g_mutex_lock(&pool->lock);
        serial_assign(pool, store);
        g_mutex_unlock(&pool->lock);
    }
    return store;
}

guint64 store_pool_serial(StorePool *pool, Store *store)
{
    g_mutex_lock(&pool->lock);
    const guint64 *serial = g_hash_table_lookup(pool->serials, store);
    guint64 found = serial ? *serial : 0;
    g_mutex_unlock(&pool->lock);
    return found;
}

void store_pool_give(StorePool *pool, Store *store)
{
    if (!store)
        return;
    store_rollback(store); /* nothing a request left open goes on */
    g_mutex_lock(&pool->lock);
    gboolean keep = pool->idle->len < STORE_POOL_IDLE;
    if (keep)
        g_ptr_array_add(pool->idle, store);
    else
        g_hash_table_remove(pool->serials, store); /* its address may be another's next */
    g_mutex_unlock(&pool->lock);
    if (!keep)
        store_close(store);
}

void store_pool_free(StorePool *pool)
{
    if (!pool)
        return;
    g_ptr_array_unref(pool->idle);
    g_hash_table_unref(pool->serials);
    g_mutex_clear(&pool->lock);
    g_free(pool->path);
    g_free(pool);
}
