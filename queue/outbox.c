/* The outbox: a durable queue of letters. Enqueued once (unique dedupe key, in the same
 * transaction as the decision that wants the letter), claimed with a lease, sent outside any
 * transaction, completed only by the holder of the lease. A sender that dies mid-send loses
 * its lease; the letter is claimed again after it expires, so at most the one letter in
 * flight can go out twice (notes/libraries.md, queue pattern). */
#include "queue/store_internal.h"
#include "util/util.h"

gboolean outbox_enqueue(Store *store, const OutboxNew *letter, gint64 *id_out, gboolean *created,
                        GError **error)
{
    gint64 now = clock_now_unix();
    sqlite3_stmt *stmt = store_statement(
        store,
        "INSERT INTO outbox(dedupe_key, kind, report_id, rcpt, mail_from, message_id, message,"
        " state, attempts, next_attempt_at, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', 0, ?8, ?9, ?9)"
        " ON CONFLICT(dedupe_key) DO NOTHING",
        error);
    if (!stmt)
        return FALSE;
    gsize size = 0;
    const void *data = g_bytes_get_data(letter->message, &size);
    sqlite3_bind_text(stmt, 1, letter->dedupe_key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, letter->kind, -1, SQLITE_TRANSIENT);
    if (letter->report_id > 0)
        sqlite3_bind_int64(stmt, 3, letter->report_id);
    sqlite3_bind_text(stmt, 4, letter->rcpt, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 5, letter->mail_from, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 6, letter->message_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob64(stmt, 7, data, size, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 8, letter->not_before > now ? letter->not_before : now);
    sqlite3_bind_int64(stmt, 9, now);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt); /* the blob was bound without a copy */
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "enqueue letter");
    gboolean inserted = sqlite3_changes(store->db) == 1;
    if (created)
        *created = inserted;
    if (id_out) {
        if (inserted) {
            *id_out = sqlite3_last_insert_rowid(store->db);
        } else {
            sqlite3_stmt *q =
                store_statement(store, "SELECT id FROM outbox WHERE dedupe_key = ?", error);
            if (!q)
                return FALSE;
            sqlite3_bind_text(q, 1, letter->dedupe_key, -1, SQLITE_TRANSIENT);
            rc = sqlite3_step(q);
            *id_out = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
            sqlite3_reset(q);
        }
    }
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

/* Two candidates, each found through its own partial index: a letter whose sender died
 * (lease expired) first, then the oldest letter due. One UPDATE ... RETURNING claims it. */
OutboxClaim *outbox_claim_next(Store *store, gint64 now, int lease_seconds, GError **error)
{
    static const char *const claims[] = {
        "UPDATE outbox SET state = 'sending', lease_token = ?1, lease_until = ?2 + ?3,"
        " attempts = attempts + 1, updated_at = ?2"
        " WHERE id = (SELECT id FROM outbox WHERE state = 'sending' AND lease_until < ?2"
        "             ORDER BY lease_until LIMIT 1)"
        " RETURNING id, kind, rcpt, mail_from, message_id, report_id, message, attempts,"
        " created_at",
        "UPDATE outbox SET state = 'sending', lease_token = ?1, lease_until = ?2 + ?3,"
        " attempts = attempts + 1, updated_at = ?2"
        " WHERE id = (SELECT id FROM outbox WHERE state = 'queued' AND next_attempt_at <= ?2"
        "             ORDER BY next_attempt_at, id LIMIT 1)"
        " RETURNING id, kind, rcpt, mail_from, message_id, report_id, message, attempts,"
        " created_at",
    };
    g_autofree char *token = random_hex(12);
    for (gsize i = 0; i < G_N_ELEMENTS(claims); i++) {
        sqlite3_stmt *stmt = store_statement(store, claims[i], error);
        if (!stmt)
            return NULL;
        sqlite3_bind_text(stmt, 1, token, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(stmt, 2, now);
        sqlite3_bind_int(stmt, 3, lease_seconds);
        int rc = sqlite3_step(stmt);
        OutboxClaim *claim = NULL;
        if (rc == SQLITE_ROW) {
            claim = g_new0(OutboxClaim, 1);
            claim->id = sqlite3_column_int64(stmt, 0);
            claim->kind = column_text(stmt, 1);
            claim->rcpt = column_text(stmt, 2);
            claim->mail_from = column_text(stmt, 3);
            claim->message_id = column_text(stmt, 4);
            claim->report_id = sqlite3_column_int64(stmt, 5);
            claim->message =
                g_bytes_new(sqlite3_column_blob(stmt, 6), (gsize)sqlite3_column_bytes(stmt, 6));
            claim->attempts = sqlite3_column_int(stmt, 7);
            claim->created_at = sqlite3_column_int64(stmt, 8);
            claim->lease_token = g_strdup(token);
        }
        while (rc == SQLITE_ROW)
            rc = sqlite3_step(stmt);
        sqlite3_reset(stmt);
        if (rc != SQLITE_DONE) {
            outbox_claim_free(claim);
            store_fail(store, error, "claim letter");
            return NULL;
        }
        if (claim)
            return claim;
    }
    return NULL;
}

gboolean outbox_complete(Store *store, const OutboxClaim *claim, OutboxOutcome outcome,
                         const char *reply, gint64 retry_at, GError **error)
{
    static const char *const updates[] = {
        [OUTBOX_SENT] = "UPDATE outbox SET state = 'sent', sent_at = ?3, updated_at = ?3,"
                        " last_reply = ?4, lease_token = NULL, lease_until = NULL"
                        " WHERE id = ?1 AND lease_token = ?2 AND state = 'sending'",
        [OUTBOX_RETRY] = "UPDATE outbox SET state = 'queued', next_attempt_at = ?5,"
                         " updated_at = ?3, last_reply = ?4, lease_token = NULL,"
                         " lease_until = NULL"
                         " WHERE id = ?1 AND lease_token = ?2 AND state = 'sending'",
        [OUTBOX_FAILED] = "UPDATE outbox SET state = 'failed', updated_at = ?3, last_reply = ?4,"
                          " lease_token = NULL, lease_until = NULL"
                          " WHERE id = ?1 AND lease_token = ?2 AND state = 'sending'",
        /* our side is broken (login refused, TLS): the letter is not at fault, so the
         * attempt does not count against its retry budget */
        [OUTBOX_HOLD] = "UPDATE outbox SET state = 'queued', next_attempt_at = ?5,"
                        " attempts = max(attempts - 1, 0), updated_at = ?3, last_reply = ?4,"
                        " lease_token = NULL, lease_until = NULL"
                        " WHERE id = ?1 AND lease_token = ?2 AND state = 'sending'",
    };
    sqlite3_stmt *stmt = store_statement(store, updates[outcome], error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, claim->id);
    sqlite3_bind_text(stmt, 2, claim->lease_token, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 3, clock_now_unix());
    bind_text_or_null(stmt, 4, reply);
    sqlite3_bind_int64(stmt, 5, retry_at);
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
    g_free(e);
}

GPtrArray *outbox_list(Store *store, const char *state, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store,
        "SELECT id, dedupe_key, kind, rcpt, state, message_id, last_reply, report_id, attempts,"
        " created_at, updated_at, sent_at, next_attempt_at FROM outbox"
        " WHERE ?1 IS NULL OR state = ?1 ORDER BY id",
        error);
    if (!stmt)
        return NULL;
    bind_text_or_null(stmt, 1, state);
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)outbox_entry_free);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
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
        g_ptr_array_add(list, e);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        g_ptr_array_unref(list);
        store_fail(store, error, "list outbox");
        return NULL;
    }
    return list;
}

GBytes *outbox_message(Store *store, gint64 id, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store, "SELECT message FROM outbox WHERE id = ?", error);
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
