/* The outbox: a durable queue of letters. Enqueued once (unique dedupe key, in the same
 * transaction as the decision that wants the letter), claimed with a lease, sent outside any
 * transaction, completed only by the holder of the lease. A sender that dies mid-send loses
 * its lease; the letter is claimed again after it expires, so at most the one letter in
 * flight can go out twice (notes/libraries.md, queue pattern). */
#include "queue/store_internal.h"
#include "util/util.h"

/* the row and its body in one transaction (a savepoint inside the caller's) */
static gboolean enqueue_rows(Store *store, const OutboxNew *letter, gint64 now, gint64 *id_out,
                             gboolean *created, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store,
        "INSERT INTO outbox(dedupe_key, kind, report_id, rcpt, mail_from, message_id,"
        " state, attempts, next_attempt_at, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', 0, ?7, ?8, ?8)"
        " ON CONFLICT(dedupe_key) DO NOTHING",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, letter->dedupe_key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, letter->kind, -1, SQLITE_TRANSIENT);
    if (letter->report_id > 0)
        sqlite3_bind_int64(stmt, 3, letter->report_id);
    sqlite3_bind_text(stmt, 4, letter->rcpt, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 5, letter->mail_from, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 6, letter->message_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 7, letter->not_before > now ? letter->not_before : now);
    sqlite3_bind_int64(stmt, 8, now);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "enqueue letter");
    gboolean inserted = sqlite3_changes(store->db) == 1;
    *created = inserted;
    if (inserted) {
        *id_out = sqlite3_last_insert_rowid(store->db);
        sqlite3_stmt *body =
            store_statement(store, "INSERT INTO outbox_body(id, message) VALUES (?1, ?2)", error);
        if (!body)
            return FALSE;
        gsize size = 0;
        const void *data = g_bytes_get_data(letter->message, &size);
        sqlite3_bind_int64(body, 1, *id_out);
        sqlite3_bind_blob64(body, 2, data, size, SQLITE_STATIC);
        rc = sqlite3_step(body);
        sqlite3_reset(body);
        sqlite3_clear_bindings(body); /* the blob was bound without a copy */
        if (rc != SQLITE_DONE)
            return store_fail(store, error, "enqueue letter body");
        return TRUE;
    }
    sqlite3_stmt *q = store_statement(store, "SELECT id FROM outbox WHERE dedupe_key = ?", error);
    if (!q)
        return FALSE;
    sqlite3_bind_text(q, 1, letter->dedupe_key, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(q);
    *id_out = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_reset(q);
    return TRUE;
}

gboolean outbox_enqueue(Store *store, const OutboxNew *letter, gint64 *id_out, gboolean *created,
                        GError **error)
{
    gint64 id = 0;
    gboolean inserted = FALSE;
    if (!store_begin(store, error))
        return FALSE;
    if (!enqueue_rows(store, letter, clock_now_unix(), &id, &inserted, error) ||
        !store_commit(store, error)) {
        store_rollback(store);
        return FALSE;
    }
    if (created)
        *created = inserted;
    if (id_out)
        *id_out = id;
    return TRUE;
}

void outbox_claim_free(OutboxClaim *claim)
{
    if (!claim)
        return;
    g_free(claim->lease_token);
    g_free(claim->kind);
    g_free(claim->rcpt);
    g_free(claim->mail_from);
    g_free(claim->message_id);
    if (claim->message)
        g_bytes_unref(claim->message);
    g_free(claim);
}

static GBytes *read_body(Store *store, gint64 id, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store, "SELECT message FROM outbox_body WHERE id = ?", error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, id);
    int rc = sqlite3_step(stmt);
    GBytes *bytes = NULL;
    if (rc == SQLITE_ROW)
        bytes = g_bytes_new(sqlite3_column_blob(stmt, 0), (gsize)sqlite3_column_bytes(stmt, 0));
    sqlite3_reset(stmt);
    if (!bytes) {
        if (rc == SQLITE_DONE)
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND,
                        "no letter %" G_GINT64_FORMAT " in the outbox", id);
        else
            store_fail(store, error, "read letter");
    }
    return bytes;
}

static gboolean run_update(Store *store, sqlite3_stmt *stmt, const char *what, int *changes,
                           GError **error);

/* A queued letter with a lease is reserved by a sender that sends the letter before it
 * (outbox_reserve_next_for): no one else takes it while the lease lasts. */
#define OUTBOX_NOT_RESERVED " AND (lease_until IS NULL OR lease_until < ?2)"

/* runs sql, an UPDATE ... RETURNING the claim's columns that binds ?1 a new lease token, ?2
 * now, ?3 the lease's seconds and ?4 its owner; *out the letter it took, with its body, or
 * NULL */
static gboolean take_letter(Store *store, const char *sql, gint64 now, int lease_seconds,
                            const char *owner, OutboxClaim **out, GError **error)
{
    *out = NULL;
    sqlite3_stmt *stmt = store_statement(store, sql, error);
    if (!stmt)
        return FALSE;
    g_autofree char *token = random_hex(12);
    sqlite3_bind_text(stmt, 1, token, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, now);
    sqlite3_bind_int(stmt, 3, lease_seconds);
    bind_text_or_null(stmt, 4, owner);
    int rc = sqlite3_step(stmt);
    g_autoptr(OutboxClaim) claim = NULL;
    if (rc == SQLITE_ROW) {
        claim = g_new0(OutboxClaim, 1);
        claim->id = sqlite3_column_int64(stmt, 0);
        claim->kind = column_text(stmt, 1);
        claim->rcpt = column_text(stmt, 2);
        claim->mail_from = column_text(stmt, 3);
        claim->message_id = column_text(stmt, 4);
        claim->report_id = sqlite3_column_int64(stmt, 5);
        claim->attempts = sqlite3_column_int(stmt, 6);
        claim->created_at = sqlite3_column_int64(stmt, 7);
        claim->retry_since = sqlite3_column_int64(stmt, 8);
        claim->lease_token = g_steal_pointer(&token);
    }
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "claim letter");
    if (!claim)
        return TRUE;
    /* a row without its body cannot happen (one transaction makes both); should it anyway,
     * the empty letter is refused by the sender and the row failed */
    GError *local = NULL;
    claim->message = read_body(store, claim->id, &local);
    if (!claim->message) {
        if (!g_error_matches(local, PAHT_ERROR, PAHT_ERROR_NOT_FOUND)) {
            g_propagate_error(error, local);
            return FALSE;
        }
        g_error_free(local);
        claim->message = g_bytes_new(NULL, 0);
    }
    *out = g_steal_pointer(&claim);
    return TRUE;
}

/* Two candidates, each found through its own partial index: a letter whose sender died
 * (lease expired) first, then the oldest letter due. One UPDATE ... RETURNING claims it.
 * INDEXED BY, because SQLite's planner, without statistics, prefers the equality on state of
 * outbox_state(state, id) and then reads and sorts every letter in that state: each claim of
 * a flush cost as much as the whole queue (1.1 M instructions per letter with 1,000 queued).
 * The partial indexes hold the letters in the order wanted, rowid last: the first entry is
 * the answer. */
gboolean outbox_claim_next_for(Store *store, gint64 now, int lease_seconds, const char *owner,
                               OutboxClaim **out, GError **error)
{
    *out = NULL;
    static const char *const claims[] = {
        "UPDATE outbox SET state = 'sending', lease_token = ?1, lease_until = ?2 + ?3,"
        " lease_owner = ?4, attempts = attempts + 1, updated_at = ?2"
        " WHERE id = (SELECT id FROM outbox INDEXED BY outbox_lease"
        "             WHERE state = 'sending' AND lease_until < ?2"
        "             ORDER BY lease_until LIMIT 1)"
        " RETURNING id, kind, rcpt, mail_from, message_id, report_id, attempts,"
        " created_at, coalesce(retry_from, created_at)",
        "UPDATE outbox SET state = 'sending', lease_token = ?1, lease_until = ?2 + ?3,"
        " lease_owner = ?4, attempts = attempts + 1, updated_at = ?2"
        " WHERE id = (SELECT id FROM outbox INDEXED BY outbox_due"
        "             WHERE state = 'queued' AND next_attempt_at <= ?2" OUTBOX_NOT_RESERVED
        "             ORDER BY next_attempt_at, id LIMIT 1)"
        " RETURNING id, kind, rcpt, mail_from, message_id, report_id, attempts,"
        " created_at, coalesce(retry_from, created_at)",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(claims); i++) {
        if (!take_letter(store, claims[i], now, lease_seconds, owner, out, error))
            return FALSE;
        if (*out)
            return TRUE;
    }
    return TRUE;
}

gboolean outbox_reserve_next_for(Store *store, gint64 now, int lease_seconds, const char *owner,
                                 OutboxClaim **out, GError **error)
{
    /* attempts + 1: what outbox_begin_reserved makes it, as a claim returns it */
    return take_letter(store,
                       "UPDATE outbox SET lease_token = ?1, lease_until = ?2 + ?3, lease_owner = ?4"
                       " WHERE id = (SELECT id FROM outbox INDEXED BY outbox_due"
                       "             WHERE state = 'queued' AND next_attempt_at <= ?2"
                       "             " OUTBOX_NOT_RESERVED
                       "             ORDER BY next_attempt_at, id LIMIT 1)"
                       " RETURNING id, kind, rcpt, mail_from, message_id, report_id, attempts + 1,"
                       " created_at, coalesce(retry_from, created_at)",
                       now, lease_seconds, owner, out, error);
}

/* runs sql, an UPDATE of the letter claim reserved (?1 its id, ?2 its lease token, ?3 now if
 * it asks for it); *changed TRUE when the reservation was still claim's */
static gboolean update_reserved(Store *store, const char *sql, const OutboxClaim *claim, gint64 now,
                                const char *what, gboolean *changed, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store, sql, error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, claim->id);
    sqlite3_bind_text(stmt, 2, claim->lease_token, -1, SQLITE_TRANSIENT);
    if (sqlite3_bind_parameter_count(stmt) >= 3)
        sqlite3_bind_int64(stmt, 3, now);
    int n = 0;
    if (!run_update(store, stmt, what, &n, error))
        return FALSE;
    *changed = n == 1;
    return TRUE;
}

gboolean outbox_begin_reserved(Store *store, const OutboxClaim *claim, gint64 now, gboolean *begun,
                               GError **error)
{
    return update_reserved(store,
                           "UPDATE outbox SET state = 'sending', attempts = attempts + 1,"
                           " updated_at = ?3"
                           " WHERE id = ?1 AND lease_token = ?2 AND state = 'queued'",
                           claim, now, "begin a reserved letter", begun, error);
}

gboolean outbox_release(Store *store, const OutboxClaim *claim, GError **error)
{
    gboolean released = FALSE;
    return update_reserved(store,
                           "UPDATE outbox SET lease_token = NULL, lease_until = NULL,"
                           " lease_owner = NULL"
                           " WHERE id = ?1 AND lease_token = ?2 AND state = 'queued'",
                           claim, 0, "give back a reserved letter", &released, error);
}

gboolean outbox_claim_next(Store *store, gint64 now, int lease_seconds, OutboxClaim **out,
                           GError **error)
{
    return outbox_claim_next_for(store, now, lease_seconds, NULL, out, error);
}

gboolean outbox_reclaim_leases(Store *store, gint64 now, OutboxOwnerIsDead is_dead,
                               gpointer user_data, int *released, GError **error)
{
    if (released)
        *released = 0;
    /* the letters in flight and the ones reserved, each through its own partial index */
    sqlite3_stmt *stmt =
        store_statement(store,
                        "SELECT id, lease_owner FROM outbox INDEXED BY outbox_lease"
                        " WHERE state = 'sending' AND lease_until >= ?1 AND lease_owner IS NOT NULL"
                        " UNION ALL "
                        "SELECT id, lease_owner FROM outbox INDEXED BY outbox_reserved"
                        " WHERE state = 'queued' AND lease_until IS NOT NULL AND lease_until >= ?1"
                        " AND lease_owner IS NOT NULL",
                        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, now);
    g_autoptr(GArray) dead = g_array_new(FALSE, FALSE, sizeof(gint64));
    g_autoptr(GPtrArray) owners = g_ptr_array_new_with_free_func(g_free);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        gint64 id = sqlite3_column_int64(stmt, 0);
        const char *owner = (const char *)sqlite3_column_text(stmt, 1);
        if (owner && is_dead(owner, user_data)) {
            g_array_append_val(dead, id);
            g_ptr_array_add(owners, g_strdup(owner));
        }
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "list leases");
    for (guint i = 0; i < dead->len; i++) {
        /* expired now: the next claim takes it first (a letter in flight), or as the queue
         * comes to it (a reserved one). Only if the same holder still has it. */
        sqlite3_stmt *u = store_statement(store,
                                          "UPDATE outbox SET lease_until = ?2 - 1"
                                          " WHERE id = ?1 AND state IN ('sending', 'queued')"
                                          " AND lease_owner = ?3",
                                          error);
        if (!u)
            return FALSE;
        sqlite3_bind_int64(u, 1, g_array_index(dead, gint64, i));
        sqlite3_bind_int64(u, 2, now);
        sqlite3_bind_text(u, 3, g_ptr_array_index(owners, i), -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(u);
        sqlite3_reset(u);
        if (rc != SQLITE_DONE)
            return store_fail(store, error, "release lease");
        if (released)
            *released += sqlite3_changes(store->db);
    }
    return TRUE;
}

gboolean outbox_finish(Store *store, const OutboxClaim *claim, const OutboxResult *result,
                       GError **error)
{
    static const char *const updates[] = {
        [OUTBOX_SENT] = "UPDATE outbox SET state = 'sent', sent_at = ?3, updated_at = ?3,"
                        " last_reply = ?4, failure_status = NULL,"
                        " envelope_from = coalesce(?6, envelope_from),"
                        " lease_token = NULL, lease_until = NULL, lease_owner = NULL"
                        " WHERE id = ?1 AND lease_token = ?2 AND state = 'sending'",
        [OUTBOX_RETRY] = "UPDATE outbox SET state = 'queued', next_attempt_at = ?5,"
                         " updated_at = ?3, last_reply = ?4, failure_status = ?7,"
                         " envelope_from = coalesce(?6, envelope_from),"
                         " lease_token = NULL, lease_until = NULL, lease_owner = NULL"
                         " WHERE id = ?1 AND lease_token = ?2 AND state = 'sending'",
        [OUTBOX_FAILED] = "UPDATE outbox SET state = 'failed', updated_at = ?3, last_reply = ?4,"
                          " failure_status = ?7, reported_at = NULL,"
                          " envelope_from = coalesce(?6, envelope_from),"
                          " lease_token = NULL, lease_until = NULL, lease_owner = NULL"
                          " WHERE id = ?1 AND lease_token = ?2 AND state = 'sending'",
        /* our side is broken (login refused, TLS): the letter is not at fault, so the
         * attempt does not count against its retry budget */
        [OUTBOX_HOLD] = "UPDATE outbox SET state = 'queued', next_attempt_at = ?5,"
                        " attempts = max(attempts - 1, 0), updated_at = ?3, last_reply = ?4,"
                        " failure_status = ?7, envelope_from = coalesce(?6, envelope_from),"
                        " lease_token = NULL, lease_until = NULL, lease_owner = NULL"
                        " WHERE id = ?1 AND lease_token = ?2 AND state = 'sending'",
    };
    sqlite3_stmt *stmt = store_statement(store, updates[result->outcome], error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, claim->id);
    sqlite3_bind_text(stmt, 2, claim->lease_token, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 3, clock_now_unix());
    bind_text_or_null(stmt, 4, result->reply);
    sqlite3_bind_int64(stmt, 5, result->retry_at);
    bind_text_or_null(stmt, 6, result->envelope_from);
    bind_text_or_null(stmt, 7, result->status);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "complete letter");
    if (sqlite3_changes(store->db) != 1) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "letter %" G_GINT64_FORMAT ": lease lost to another sender", claim->id);
        return FALSE;
    }
    return TRUE;
}

gboolean outbox_complete(Store *store, const OutboxClaim *claim, OutboxOutcome outcome,
                         const char *reply, gint64 retry_at, GError **error)
{
    OutboxResult result = {.outcome = outcome, .reply = reply, .retry_at = retry_at};
    return outbox_finish(store, claim, &result, error);
}

void outbox_entry_free(OutboxEntry *e)
{
    if (!e)
        return;
    g_free(e->dedupe_key);
    g_free(e->kind);
    g_free(e->rcpt);
    g_free(e->state);
    g_free(e->message_id);
    g_free(e->last_reply);
    g_free(e->mail_from);
    g_free(e->envelope_from);
    g_free(e->failure_status);
    g_free(e);
}

#define ENTRY_COLUMNS                                                                              \
    "id, dedupe_key, kind, rcpt, state, message_id, last_reply, report_id, attempts,"              \
    " created_at, updated_at, sent_at, next_attempt_at, mail_from, envelope_from,"                 \
    " failure_status, reported_at"

static OutboxEntry *entry_from_row(sqlite3_stmt *stmt)
{
    OutboxEntry *e = g_new0(OutboxEntry, 1);
    e->id = sqlite3_column_int64(stmt, 0);
    e->dedupe_key = column_text(stmt, 1);
    e->kind = column_text(stmt, 2);
    e->rcpt = column_text(stmt, 3);
    e->state = column_text(stmt, 4);
    e->message_id = column_text(stmt, 5);
    e->last_reply = column_text(stmt, 6);
    e->report_id = sqlite3_column_int64(stmt, 7);
    e->attempts = sqlite3_column_int(stmt, 8);
    e->created_at = sqlite3_column_int64(stmt, 9);
    e->updated_at = sqlite3_column_int64(stmt, 10);
    e->sent_at = sqlite3_column_int64(stmt, 11);
    e->next_attempt_at = sqlite3_column_int64(stmt, 12);
    e->mail_from = column_text(stmt, 13);
    e->envelope_from = column_text(stmt, 14);
    e->failure_status = column_text(stmt, 15);
    e->reported_at = sqlite3_column_int64(stmt, 16);
    return e;
}

/* every row of a prepared statement whose columns are ENTRY_COLUMNS */
static GPtrArray *entries_from(Store *store, sqlite3_stmt *stmt, GError **error)
{
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)outbox_entry_free);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        g_ptr_array_add(list, entry_from_row(stmt));
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        g_ptr_array_unref(list);
        store_fail(store, error, "list outbox");
        return NULL;
    }
    return list;
}

GPtrArray *outbox_list(Store *store, const char *state, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "SELECT " ENTRY_COLUMNS " FROM outbox WHERE ?1 IS NULL OR state = ?1 ORDER BY id",
        error);
    if (!stmt)
        return NULL;
    bind_text_or_null(stmt, 1, state);
    return entries_from(store, stmt, error);
}

GBytes *outbox_message(Store *store, gint64 id, GError **error)
{
    return read_body(store, id, error);
}

OutboxEntry *outbox_get(Store *store, gint64 id, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store, "SELECT " ENTRY_COLUMNS " FROM outbox WHERE id = ?", error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, id);
    g_autoptr(GPtrArray) rows = entries_from(store, stmt, error);
    if (!rows)
        return NULL;
    if (rows->len == 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND,
                    "no letter %" G_GINT64_FORMAT " in the outbox", id);
        return NULL;
    }
    return g_ptr_array_steal_index(rows, 0);
}

gboolean outbox_find_message_id(Store *store, const char *message_id, OutboxEntry **out,
                                GError **error)
{
    *out = NULL;
    if (!message_id || !*message_id)
        return TRUE;
    sqlite3_stmt *stmt = store_statement(
        store, "SELECT " ENTRY_COLUMNS " FROM outbox WHERE message_id = ? ORDER BY id LIMIT 1",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, message_id, -1, SQLITE_TRANSIENT);
    g_autoptr(GPtrArray) rows = entries_from(store, stmt, error);
    if (!rows)
        return FALSE;
    if (rows->len > 0)
        *out = g_ptr_array_steal_index(rows, 0);
    return TRUE;
}

/* adds the letters a query on one parameter returns (id, message) that are not in seen yet */
static gboolean add_letters(Store *store, sqlite3_stmt *stmt, GHashTable *seen, GPtrArray *letters,
                            guint limit)
{
    int rc = SQLITE_DONE;
    while (letters->len < limit && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        gint64 id = sqlite3_column_int64(stmt, 0);
        if (!g_hash_table_add(seen, GINT_TO_POINTER((gint)id)))
            continue;
        g_ptr_array_add(letters, g_bytes_new(sqlite3_column_blob(stmt, 1),
                                             (gsize)sqlite3_column_bytes(stmt, 1)));
    }
    if (letters->len >= limit)
        rc = SQLITE_DONE;
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE;
}

GPtrArray *outbox_letters_quoted(Store *store, const char *const *message_ids, gint64 report_id,
                                 guint limit, GError **error)
{
    g_autoptr(GPtrArray) letters = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    sqlite3_stmt *by_id = store_statement(store,
                                          "SELECT o.id, b.message FROM outbox o JOIN outbox_body b"
                                          " ON b.id = o.id WHERE o.message_id = ?1",
                                          error);
    if (!by_id)
        return NULL;
    for (const char *const *id = message_ids; id && *id && letters->len < limit; id++) {
        sqlite3_bind_text(by_id, 1, *id, -1, SQLITE_TRANSIENT);
        if (!add_letters(store, by_id, seen, letters, limit)) {
            store_fail(store, error, "read the letters a reply quotes");
            return NULL;
        }
    }
    if (report_id <= 0)
        return g_steal_pointer(&letters);
    sqlite3_stmt *to_citizen = store_statement(
        store,
        "SELECT o.id, b.message FROM outbox o JOIN outbox_body b ON b.id = o.id"
        " JOIN report r ON r.id = o.report_id WHERE o.report_id = ?1"
        " AND (o.rcpt = r.citizen_email COLLATE NOCASE OR o.rcpt = r.sender COLLATE NOCASE)"
        " ORDER BY o.id DESC",
        error);
    if (!to_citizen)
        return NULL;
    sqlite3_bind_int64(to_citizen, 1, report_id);
    if (!add_letters(store, to_citizen, seen, letters, limit)) {
        store_fail(store, error, "read the letters a reply quotes");
        return NULL;
    }
    return g_steal_pointer(&letters);
}

/* runs a one-row UPDATE; *changes gets how many rows it touched */
static gboolean run_update(Store *store, sqlite3_stmt *stmt, const char *what, int *changes,
                           GError **error)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, what);
    if (changes)
        *changes = sqlite3_changes(store->db);
    return TRUE;
}

gboolean outbox_mark_bounced(Store *store, gint64 id, const char *status, const char *reply,
                             gboolean *changed, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store,
                        "UPDATE outbox SET state = 'failed', failure_status = ?2, last_reply = ?3,"
                        " updated_at = ?4, reported_at = NULL WHERE id = ?1 AND state = 'sent'",
                        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, id);
    bind_text_or_null(stmt, 2, status);
    bind_text_or_null(stmt, 3, reply);
    sqlite3_bind_int64(stmt, 4, clock_now_unix());
    int n = 0;
    if (!run_update(store, stmt, "mark letter bounced", &n, error))
        return FALSE;
    if (changed)
        *changed = n == 1;
    return TRUE;
}

gboolean outbox_resend(Store *store, gint64 id, gint64 now, GError **error)
{
    g_autoptr(OutboxEntry) entry = outbox_get(store, id, error);
    if (!entry)
        return FALSE;
    if (!g_str_equal(entry->state, "failed")) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "letter %" G_GINT64_FORMAT " is %s, not failed: nothing to resend", id,
                    entry->state);
        return FALSE;
    }
    sqlite3_stmt *stmt = store_statement(
        store,
        "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = ?2,"
        " retry_from = ?2, updated_at = ?2, failure_status = NULL, reported_at = NULL"
        " WHERE id = ?1 AND state = 'failed'",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, now);
    int n = 0;
    if (!run_update(store, stmt, "resend letter", &n, error))
        return FALSE;
    if (n != 1) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "letter %" G_GINT64_FORMAT " changed meanwhile: nothing resent", id);
        return FALSE;
    }
    return TRUE;
}

/* the IOC is never told by mail that mail to the IOC failed (it would fail the same way) */
#define UNREPORTED_WHERE                                                                           \
    " WHERE state = 'failed' AND reported_at IS NULL AND (?1 IS NULL OR lower(rcpt) != lower(?1))"

GPtrArray *outbox_list_unreported(Store *store, const char *except_rcpt, int limit, int *total,
                                  GError **error)
{
    sqlite3_stmt *count =
        store_statement(store, "SELECT count(*) FROM outbox" UNREPORTED_WHERE, error);
    if (!count)
        return NULL;
    bind_text_or_null(count, 1, except_rcpt);
    int rc = sqlite3_step(count);
    int n = rc == SQLITE_ROW ? sqlite3_column_int(count, 0) : 0;
    sqlite3_reset(count);
    if (rc != SQLITE_ROW) {
        store_fail(store, error, "count failed letters");
        return NULL;
    }
    if (total)
        *total = n;
    sqlite3_stmt *stmt = store_statement(
        store, "SELECT " ENTRY_COLUMNS " FROM outbox" UNREPORTED_WHERE " ORDER BY id LIMIT ?2",
        error);
    if (!stmt)
        return NULL;
    bind_text_or_null(stmt, 1, except_rcpt);
    sqlite3_bind_int(stmt, 2, limit);
    return entries_from(store, stmt, error);
}

gboolean outbox_mark_reported(Store *store, const char *except_rcpt, gint64 now, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store, "UPDATE outbox SET reported_at = ?2" UNREPORTED_WHERE, error);
    if (!stmt)
        return FALSE;
    bind_text_or_null(stmt, 1, except_rcpt);
    sqlite3_bind_int64(stmt, 2, now);
    return run_update(store, stmt, "mark failures reported", NULL, error);
}

gint64 outbox_newest_of_kind(Store *store, const char *kind, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store, "SELECT max(created_at) FROM outbox WHERE kind = ?", error);
    if (!stmt)
        return -1;
    sqlite3_bind_text(stmt, 1, kind, -1, SQLITE_TRANSIENT);
    gint64 newest = 0;
    return store_step_int64(store, stmt, &newest, "newest letter", error) ? newest : -1;
}

/* ---- address suspension -------------------------------------------------------------------- */

void address_suspension_free(AddressSuspension *s)
{
    if (!s)
        return;
    g_free(s->address);
    g_free(s->status);
    g_free(s->reason);
    g_free(s);
}

gboolean address_suspend(Store *store, const char *address, gint64 until, const char *status,
                         const char *reason, gint64 outbox_id, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store,
        "INSERT INTO address_suspension(address, until, status, reason, outbox_id, created_at)"
        " VALUES (lower(?1), ?2, ?3, ?4, ?5, ?6)"
        " ON CONFLICT(address) DO UPDATE SET until = max(until, excluded.until),"
        " status = excluded.status, reason = excluded.reason, outbox_id = excluded.outbox_id,"
        " created_at = excluded.created_at",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, address, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, until);
    bind_text_or_null(stmt, 3, status);
    bind_text_or_null(stmt, 4, reason);
    if (outbox_id > 0)
        sqlite3_bind_int64(stmt, 5, outbox_id);
    sqlite3_bind_int64(stmt, 6, clock_now_unix());
    return run_update(store, stmt, "suspend address", NULL, error);
}

gboolean address_suspension_get(Store *store, const char *address, gint64 now,
                                AddressSuspension **out, GError **error)
{
    *out = NULL;
    sqlite3_stmt *stmt = store_statement(
        store,
        "SELECT address, until, status, reason, outbox_id, created_at FROM address_suspension"
        " WHERE address = lower(?1) AND until > ?2",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, address ? address : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, now);
    int rc = sqlite3_step(stmt);
    AddressSuspension *s = NULL;
    if (rc == SQLITE_ROW) {
        s = g_new0(AddressSuspension, 1);
        s->address = column_text(stmt, 0);
        s->until = sqlite3_column_int64(stmt, 1);
        s->status = column_text(stmt, 2);
        s->reason = column_text(stmt, 3);
        s->outbox_id = sqlite3_column_int64(stmt, 4);
        s->created_at = sqlite3_column_int64(stmt, 5);
        rc = sqlite3_step(stmt);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        address_suspension_free(s);
        return store_fail(store, error, "read suspension");
    }
    *out = s;
    return TRUE;
}

gboolean address_suspension_lift(Store *store, const char *address, gint64 now, gboolean *lifted,
                                 GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "DELETE FROM address_suspension WHERE address = lower(?1) AND until > ?2", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, address ? address : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, now);
    int n = 0;
    if (!run_update(store, stmt, "lift suspension", &n, error))
        return FALSE;
    if (lifted)
        *lifted = n > 0;
    return TRUE;
}

/* ---- bounces ------------------------------------------------------------------------------- */

gboolean bounce_record(Store *store, const BounceNew *b, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store,
        "INSERT INTO bounce(raw_id, outbox_id, matched_by, status, recipient, diagnostic,"
        " received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        error);
    if (!stmt)
        return FALSE;
    if (b->raw_id > 0)
        sqlite3_bind_int64(stmt, 1, b->raw_id);
    if (b->outbox_id > 0)
        sqlite3_bind_int64(stmt, 2, b->outbox_id);
    bind_text_or_null(stmt, 3, b->matched_by);
    bind_text_or_null(stmt, 4, b->status);
    bind_text_or_null(stmt, 5, b->recipient);
    bind_text_or_null(stmt, 6, b->diagnostic);
    sqlite3_bind_int64(stmt, 7, clock_now_unix());
    return run_update(store, stmt, "record bounce", NULL, error);
}

/* ---- outbound status ----------------------------------------------------------------------- */

gboolean outbound_status_get(Store *store, const char *name, gint64 *value, char **detail,
                             GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store, "SELECT value, detail FROM outbound_status WHERE name = ?", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    gboolean found = rc == SQLITE_ROW;
    if (found) {
        if (value)
            *value = sqlite3_column_int64(stmt, 0);
        if (detail)
            *detail = column_text(stmt, 1);
        rc = sqlite3_step(stmt);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "read outbound status");
    return found;
}

gboolean outbound_status_set(Store *store, const char *name, gint64 value, const char *detail,
                             GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store,
        "INSERT INTO outbound_status(name, value, detail) VALUES (?1, ?2, ?3)"
        " ON CONFLICT(name) DO UPDATE SET value = excluded.value, detail = excluded.detail",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, value);
    bind_text_or_null(stmt, 3, detail);
    return run_update(store, stmt, "write outbound status", NULL, error);
}

gboolean outbound_status_clear(Store *store, const char *name, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store, "DELETE FROM outbound_status WHERE name = ?", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
    return run_update(store, stmt, "clear outbound status", NULL, error);
}

/* ---- letters of a report, read back (pahtctl preview) ---------------------------------------- */

gboolean outbox_last_id(Store *store, gint64 *id, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store, "SELECT coalesce(max(id), 0) FROM outbox", error);
    return stmt && store_step_int64(store, stmt, id, "read the outbox", error);
}

gboolean outbox_message_first(Store *store, gint64 report_id, const char *kind, gint64 after_id,
                              GBytes **out, GError **error)
{
    *out = NULL;
    sqlite3_stmt *stmt = store_statement(store,
                                         "SELECT b.message FROM outbox o JOIN outbox_body b"
                                         " ON b.id = o.id WHERE o.report_id = ?1 AND"
                                         " o.kind = ?2 AND o.id > ?3 ORDER BY o.id LIMIT 1",
                                         error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    sqlite3_bind_text(stmt, 2, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 3, after_id);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *out = g_bytes_new(sqlite3_column_blob(stmt, 0), (gsize)sqlite3_column_bytes(stmt, 0));
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(store, error, "read a letter");
    return TRUE;
}
