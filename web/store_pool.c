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
    GPtrArray *idle; /* Store * */
};

StorePool *store_pool_new(const char *path, GError **error)
{
    Store *first = store_open_with(path, STORE_SCHEMA_EXACT, error);
    if (!first)
        return NULL;
    StorePool *pool = g_new0(StorePool, 1);
    g_mutex_init(&pool->lock);
    pool->path = g_strdup(path);
    pool->idle = g_ptr_array_new_with_free_func((GDestroyNotify)store_close);
    g_ptr_array_add(pool->idle, first);
    return pool;
}

Store *store_pool_take(StorePool *pool, GError **error)
{
    g_mutex_lock(&pool->lock);
    Store *store =
        pool->idle->len ? g_ptr_array_steal_index(pool->idle, pool->idle->len - 1) : NULL;
    g_mutex_unlock(&pool->lock);
    return store ? store : store_open_with(pool->path, STORE_SCHEMA_EXACT, error);
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
    g_mutex_unlock(&pool->lock);
    if (!keep)
        store_close(store);
}

void store_pool_free(StorePool *pool)
{
    if (!pool)
        return;
    g_ptr_array_unref(pool->idle);
    g_mutex_clear(&pool->lock);
    g_free(pool->path);
    g_free(pool);
}
