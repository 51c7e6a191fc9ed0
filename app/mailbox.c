/* mailbox: keeping the gateway in step with the IMAP inbox (SPEC §3 steps 1, 2 and 7, §8).
 *
 * A pass finishes what a crash left half done, then fetches, records, processes and moves
 * every new message, oldest first. Whether anything is new is decided cheaply, whatever the
 * size of the mailbox: on a fresh connection by SELECT's UIDNEXT against the one we stored;
 * afterwards by the EXISTS responses the wait (IDLE, or NOOP when polling) brought. A pass
 * with nothing new sends no command at all: the wait is the cycle's only command. No list of
 * all UIDs is ever asked for: UID SEARCH starts at the first UID we have not seen.
 *
 * Crash safety: every step is decided by the message's row, and a message leaves the inbox
 * only after its row and everything it became are committed. kill -9 at any point leaves a
 * message untouched on the server or recorded once; the next pass finishes the job:
 *   no row      -> fetch (streamed to disk), record: fetched
 *   fetched     -> process in the worker: processed, or unparsed
 *   processed   -> move to processed_folder: moved
 *   unparsed    -> alert the IOC, move to quarantine_folder: quarantined
 *
 * UIDVALIDITY change (RFC 3501 §2.3.1.1): every UID we knew is void. The mailbox is read again
 * from UID 1 and each message recognised by content: one FETCH gives every Message-ID and
 * size; a download then either confirms a message we have (same SHA-256: it is relocated to
 * its new UID and only moved, never processed or answered again) or brings a new one. A
 * Message-ID alone is never trusted as proof: broken mailers reuse them, and a stranger could
 * copy one to have a citizen's mail dropped.
 */
#include "app/gateway_private.h"
#include "util/util.h"

#include <string.h>
#include <unistd.h>

void mailbox_disconnect(Gateway *gw)
{
    imap_client_close(gw->imap);
    gw->imap = NULL;
    gw->folders_ready = FALSE;
    gw->selected = FALSE;
}

static gboolean imap_ready(Gateway *gw, GError **error)
{
    const Config *c = gw->config;
    if (!gw->imap) {
        ImapOptions opts = {
            .host = c->imap.server.host,
            .port = c->imap.server.port,
            .implicit_tls = c->imap.server.implicit_tls,
            .tls_verify = c->imap.tls_verify,
            .ca_file = c->imap.ca_file,
            .user = c->imap.user,
            .password = c->imap.password,
            .timeout_seconds = c->imap.timeout_seconds,
            .protocol_log = g_getenv("PAHT_IMAP_PROTOCOL_LOG"),
        };
        gw->imap = imap_client_connect(&opts, error);
        if (!gw->imap)
            return FALSE;
    }
    if (!gw->folders_ready) {
        if (!imap_client_ensure_folder(gw->imap, c->imap.processed_folder, error) ||
            !imap_client_ensure_folder(gw->imap, c->imap.quarantine_folder, error))
            return FALSE;
        gw->folders_ready = TRUE;
    }
    return TRUE;
}

static gboolean is_done(const RawMessage *raw)
{
    return g_str_equal(raw->state, "processed") || g_str_equal(raw->state, "moved");
}

/* Processing a recorded message that is still "fetched", in the worker, in two halves: the
 * daemon fetches the next message meanwhile. One found so at start is one the previous pahtd
 * died on; after MAX_PROCESSING_ATTEMPTS of those it is set aside without another try.
 * (Within one process the worker catches crashes and hangs itself, and a clean failure such
 * as a busy database is simply tried again: it does not count.) *submitted tells whether the
 * worker has it (then process_end must follow) or it was set aside at once. */
static gboolean process_begin(Gateway *gw, RawMessage *raw, gboolean *submitted, GError **error)
{
    *submitted = FALSE;
    int attempts = raw->attempts;
    if (gw->recovering && raw->attempts > 0 &&
        !raw_message_count_attempt(gw->store, raw->id, &attempts, error))
        return FALSE;
    if (attempts > MAX_PROCESSING_ATTEMPTS) {
        log_warning("message %" G_GINT64_FORMAT " did not finish processing %d times: kept aside",
                    raw->id, attempts - 1);
        if (!raw_message_set_state(gw->store, raw->id, "unparsed",
                                   "processing did not finish after repeated attempts", error))
            return FALSE;
        g_free(raw->state);
        raw->state = g_strdup("unparsed");
        return TRUE;
    }
    if (!worker_submit(gw, raw->id, error))
        return FALSE;
    *submitted = TRUE;
    return TRUE;
}

/* the worker's answer for raw, and what the message became, as recorded (state, reason) */
static gboolean process_end(Gateway *gw, RawMessage *raw, GError **error)
{
    IngestResult result = {0};
    gboolean ok = worker_collect(gw, raw->id, &result, error);
    ingest_result_clear(&result);
    if (!ok)
        return FALSE;
    RawMessage *now = raw_message_get(gw->store, raw->id, error);
    if (!now)
        return FALSE;
    g_free(raw->state);
    g_free(raw->error);
    raw->state = g_steal_pointer(&now->state);
    raw->error = g_steal_pointer(&now->error);
    raw_message_free(now);
    return TRUE;
}

static gboolean process_fetched(Gateway *gw, RawMessage *raw, GError **error)
{
    gboolean submitted = FALSE;
    if (!process_begin(gw, raw, &submitted, error))
        return FALSE;
    return !submitted || process_end(gw, raw, error);
}

/* The last step of a message that is still in the inbox at raw->uid: out, then recorded. */
static gboolean move_message(Gateway *gw, const RawMessage *raw, GError **error)
{
    const Config *c = gw->config;
    gboolean aside = !is_done(raw);
    if (aside && !quarantine_alert_unparsed(gw, raw, error))
        return FALSE;
    const char *folder = aside ? c->imap.quarantine_folder : c->imap.processed_folder;
    if (!imap_client_move(gw->imap, raw->uid, folder, error))
        return FALSE;
    return raw_message_set_state(gw->store, raw->id, aside ? "quarantined" : "moved", NULL, error);
}

/* Moves out of the inbox, together, messages whose drafts and answers are committed: one
 * UID MOVE per folder for the whole batch (a MOVE per message makes the server rework its
 * index each time: most of the server's work in a big ingest), then their rows say so in one
 * transaction. A crash in between leaves them "processed" in the inbox; the next pass finishes
 * them (finish_unfinished), so the rule "moved only after the commit" holds. */
typedef struct {
    GArray *uids[2]; /* [0] processed folder, [1] quarantine */
    GArray *ids[2];
} MoveBatch;

#define MOVE_BATCH_MAX 200

static void move_batch_init(MoveBatch *b)
{
    for (int i = 0; i < 2; i++) {
        b->uids[i] = g_array_new(FALSE, FALSE, sizeof(guint32));
        b->ids[i] = g_array_new(FALSE, FALSE, sizeof(gint64));
    }
}

static void move_batch_clear(MoveBatch *b)
{
    for (int i = 0; i < 2; i++) {
        g_array_unref(b->uids[i]);
        g_array_unref(b->ids[i]);
    }
}

static guint move_batch_size(const MoveBatch *b)
{
    return b->uids[0]->len + b->uids[1]->len;
}

static gboolean move_batch_flush(Gateway *gw, MoveBatch *b, GError **error)
{
    const Config *c = gw->config;
    for (int i = 0; i < 2; i++) {
        if (b->uids[i]->len == 0)
            continue;
        const char *folder = i == 0 ? c->imap.processed_folder : c->imap.quarantine_folder;
        if (!imap_client_move_uids(gw->imap, &g_array_index(b->uids[i], guint32, 0),
                                   b->uids[i]->len, folder, error))
            return FALSE;
        if (!store_begin(gw->store, error))
            return FALSE;
        for (guint k = 0; k < b->ids[i]->len; k++) {
            if (!raw_message_set_state(gw->store, g_array_index(b->ids[i], gint64, k),
                                       i == 0 ? "moved" : "quarantined", NULL, error)) {
                store_rollback(gw->store);
                return FALSE;
            }
        }
        if (!store_commit(gw->store, error))
            return FALSE;
        g_array_set_size(b->uids[i], 0);
        g_array_set_size(b->ids[i], 0);
    }
    return TRUE;
}

/* Takes a recorded message (at raw->uid in the selected mailbox) to its end, alone (what a
 * crash left half done). The row's state says where it stands; nothing done before is done
 * again. */
static gboolean advance_message(Gateway *gw, RawMessage *raw, GError **error)
{
    if (g_str_equal(raw->state, "fetched") && !process_fetched(gw, raw, error))
        return FALSE;
    return move_message(gw, raw, error);
}

/* A recorded message whose UID belongs to an earlier UIDVALIDITY: it cannot be addressed on
 * the server any more. If it is still there under a new UID, the resynchronisation finds it
 * by content and moves it; here it is only finished as a record (processed if it never was),
 * so that nothing stays half done. */
static gboolean settle_old_epoch(Gateway *gw, RawMessage *raw, GError **error)
{
    if (g_str_equal(raw->state, "fetched") && !process_fetched(gw, raw, error))
        return FALSE;
    if (is_done(raw))
        return raw_message_set_state(gw->store, raw->id, "moved", NULL, error);
    if (!quarantine_alert_unparsed(gw, raw, error))
        return FALSE;
    return raw_message_set_state(gw->store, raw->id, "quarantined", NULL, error);
}

/* What a crash (or a failed move) left half done in this mailbox. Only the database is read
 * when there is nothing: no IMAP command. */
static gboolean finish_unfinished(Gateway *gw, const char *mailbox, guint32 uidvalidity,
                                  int *handled, GError **error)
{
    g_autoptr(GPtrArray) unfinished = raw_message_list_unfinished(gw->store, mailbox, error);
    if (!unfinished)
        return FALSE;
    for (guint i = 0; i < unfinished->len; i++) {
        if (gateway_stopping(gw))
            return TRUE;
        RawMessage *raw = g_ptr_array_index(unfinished, i);
        GError *one = NULL;
        gboolean ok = raw->uidvalidity == uidvalidity ? advance_message(gw, raw, &one)
                                                      : settle_old_epoch(gw, raw, &one);
        if (ok) {
            (*handled)++;
            continue;
        }
        if (one->code == PAHT_ERROR_TEMPORARY || one->code == PAHT_ERROR_CONFIG) {
            g_propagate_error(error, one);
            return FALSE;
        }
        /* this one message cannot be finished (the server refuses to move it): the others
         * must not wait for it */
        log_warning("message %" G_GINT64_FORMAT " cannot be finished: %s", raw->id, one->message);
        g_error_free(one);
    }
    return TRUE;
}

/* Streams the message at info->uid to disk and records it, unless the same content is
 * recorded already (then only its place on the server changed). */
static RawMessage *fetch_and_record(Gateway *gw, const char *mailbox, guint32 uidvalidity,
                                    const ImapMessageInfo *info, GError **error)
{
    g_autofree char *temp = NULL;
    int fd = fs_open_private_temp(gw->tmp_dir, "fetch-", &temp, error);
    if (fd < 0)
        return NULL;
    gint64 written = 0;
    gboolean fetched =
        imap_client_fetch_to_fd(gw->imap, info->uid, fd, info->size, &written, error);
    close(fd);
    if (!fetched) {
        unlink(temp);
        return NULL;
    }
    g_autofree char *sha = NULL;
    gint64 size = 0;
    g_autofree char *stored = inbound_commit_raw_file(gw, temp, &sha, &size, error);
    if (!stored) {
        unlink(temp);
        return NULL;
    }
    GError *local = NULL;
    g_autoptr(RawMessage) same = raw_message_find_content(gw->store, info->message_id, sha, &local);
    if (local) {
        g_propagate_error(error, local);
        return NULL;
    }
    if (same) {
        log_notice("message %" G_GINT64_FORMAT " found again at UID %u: not processed twice",
                   same->id, info->uid);
        if (!raw_message_relocate(gw->store, same->id, mailbox, uidvalidity, info->uid, error))
            return NULL;
        return raw_message_get(gw->store, same->id, error);
    }
    RawMessage fresh = {
        .mailbox = (char *)mailbox,
        .uidvalidity = uidvalidity,
        .uid = info->uid,
        .message_id = info->message_id,
        .sha256 = sha,
        .path = stored,
        .size = size,
        .received_at = clock_now_unix(),
    };
    gint64 id = raw_message_insert(gw->store, &fresh, error);
    if (!id)
        return NULL;
    RawMessage *raw = raw_message_get(gw->store, id, error);
    if (raw)
        raw->attempts = 0; /* this first attempt was counted by the insert */
    return raw;
}

/* One UID found by the search: recorded (unless known). *out: the message's row, to be
 * processed and moved by the caller; NULL when nothing more is to be done (too large: set
 * aside on the server). */
static gboolean sync_record(Gateway *gw, const char *mailbox, guint32 uidvalidity,
                            const ImapMessageInfo *info, RawMessage **out, GError **error)
{
    *out = NULL;
    GError *local = NULL;
    RawMessage *raw = raw_message_find_uid(gw->store, mailbox, uidvalidity, info->uid, &local);
    if (local) {
        g_propagate_error(error, local);
        return FALSE;
    }
    if (!raw) {
        if (info->size > gw->config->gateway.max_message_bytes) {
            /* SPEC §3.1: never downloaded; stays on the server, in quarantine */
            return quarantine_too_large(gw, mailbox, uidvalidity, info, error) &&
                   imap_client_move(gw->imap, info->uid, gw->config->imap.quarantine_folder, error);
        }
        raw = fetch_and_record(gw, mailbox, uidvalidity, info, error);
        if (!raw)
            return FALSE;
    }
    *out = raw;
    return TRUE;
}

/* the move of a message whose processing is over (or was never needed) goes to the batch */
static gboolean batch_add(Gateway *gw, RawMessage *raw, MoveBatch *batch, GError **error)
{
    gboolean aside = !is_done(raw);
    if (aside && !quarantine_alert_unparsed(gw, raw, error))
        return FALSE;
    g_array_append_val(batch->uids[aside], raw->uid);
    g_array_append_val(batch->ids[aside], raw->id);
    return TRUE;
}

/* The new UIDs from first on: each recorded, processed and moved, in order. *next: the first
 * UID not yet handled. */
static gboolean sync_new(Gateway *gw, const char *mailbox, guint32 uidvalidity, guint32 first,
                         guint32 *next, int *handled, GError **error)
{
    g_autoptr(GArray) uids = imap_client_search_from(gw->imap, first, error);
    if (!uids)
        return FALSE;
    if (uids->len == 0)
        return TRUE;
    g_autoptr(GPtrArray) infos =
        imap_client_fetch_info(gw->imap, &g_array_index(uids, guint32, 0), uids->len, error);
    if (!infos)
        return FALSE;
    MoveBatch batch;
    move_batch_init(&batch);
    gboolean ok = TRUE;
    /* one message in the parser while the next is fetched: the server and the parser work
     * at the same time. *next only passes a message once it is wholly handled. */
    RawMessage *pending = NULL;
    guint32 pending_next = 0;
    for (guint i = 0; i < infos->len && ok; i++) {
        if (gateway_stopping(gw))
            break; /* SIGTERM: the message in hand is finished; the rest can wait */
        gateway_keepalive(gw);
        const ImapMessageInfo *m = g_ptr_array_index(infos, i);
        GError *one = NULL;
        RawMessage *raw = NULL;
        gboolean recorded = sync_record(gw, mailbox, uidvalidity, m, &raw, &one);
        if (pending) {
            /* the message in the parser first: its outcome stands whatever this one did */
            ok = process_end(gw, pending, error) && batch_add(gw, pending, &batch, error);
            g_clear_pointer(&pending, raw_message_free);
            if (!ok) {
                g_clear_error(&one);
                g_clear_pointer(&raw, raw_message_free);
                break;
            }
            *next = pending_next;
            (*handled)++;
        }
        if (!recorded) {
            if (g_error_matches(one, PAHT_ERROR, PAHT_ERROR_PERMANENT)) {
                /* gone from the server under us (another client moved it): nothing to do */
                log_notice("UID %u vanished before it could be handled: %s", m->uid, one->message);
                g_error_free(one);
                *next = m->uid + 1;
                continue;
            }
            g_propagate_error(error, one);
            ok = FALSE;
            break;
        }
        if (!raw) { /* set aside on the server (too large) */
            *next = m->uid + 1;
            (*handled)++;
            continue;
        }
        gboolean submitted = FALSE;
        if (g_str_equal(raw->state, "fetched") && !process_begin(gw, raw, &submitted, error)) {
            raw_message_free(raw);
            ok = FALSE;
            break;
        }
        if (submitted) {
            pending = raw;
            pending_next = m->uid + 1;
        } else {
            ok = batch_add(gw, raw, &batch, error);
            raw_message_free(raw);
            if (ok) {
                *next = m->uid + 1;
                (*handled)++;
            }
        }
        if (ok && move_batch_size(&batch) >= MOVE_BATCH_MAX)
            ok = move_batch_flush(gw, &batch, error);
    }
    if (pending) {
        /* every submit is collected, also after a failure or a stop */
        GError *last = NULL;
        if (process_end(gw, pending, &last) && batch_add(gw, pending, &batch, &last)) {
            *next = pending_next;
            (*handled)++;
        } else if (ok) {
            g_propagate_error(error, last);
            ok = FALSE;
        } else {
            g_clear_error(&last);
        }
        raw_message_free(pending);
    }
    /* what is committed goes out of the inbox now, even after a failure further on */
    if (move_batch_size(&batch) > 0) {
        GError *move_error = NULL;
        if (!move_batch_flush(gw, &batch, &move_error)) {
            if (ok)
                g_propagate_error(error, move_error);
            else
                g_error_free(move_error);
            ok = FALSE;
        }
    }
    move_batch_clear(&batch);
    return ok;
}

gboolean gateway_sync_mailbox(Gateway *gw, int *processed, GError **error)
{
    const Config *c = gw->config;
    const char *mailbox = c->imap.server.path;
    int handled = 0;
    if (processed)
        *processed = 0;
    if (!imap_ready(gw, error)) {
        mailbox_disconnect(gw);
        return FALSE;
    }

    /* once per connection: SELECT, whose UIDNEXT tells whether anything came meanwhile */
    ImapMailboxInfo info = {0};
    gboolean fresh = !gw->selected;
    if (fresh) {
        if (!imap_client_select(gw->imap, mailbox, &info, error)) {
            mailbox_disconnect(gw);
            return FALSE;
        }
        gw->selected = TRUE;
        gw->uidvalidity = info.uidvalidity;
    }
    MailboxState known = {0};
    GError *local = NULL;
    gboolean seen = mailbox_state_get(gw->store, mailbox, &known, &local);
    if (local) {
        g_propagate_error(error, local);
        return FALSE;
    }
    guint32 uidvalidity = gw->uidvalidity;
    gboolean same_epoch = seen && known.uidvalidity == uidvalidity;
    if (seen && !same_epoch)
        log_notice("UIDVALIDITY of %s changed (%u -> %u): resynchronising by content", mailbox,
                   known.uidvalidity, uidvalidity);
    guint32 first = same_epoch && known.uidnext > 0 ? known.uidnext : 1;

    gboolean look;
    if (fresh)
        look = info.exists > 0 && (!same_epoch || info.uidnext == 0 || info.uidnext > first);
    else
        look = gw->sync_pending || imap_client_has_news(gw->imap);
    gw->sync_pending = TRUE; /* until this pass ends well */

    guint32 next = first;
    gboolean ok = finish_unfinished(gw, mailbox, uidvalidity, &handled, error);
    if (ok)
        gw->recovering = FALSE;
    if (ok && look && !gateway_stopping(gw))
        ok = sync_new(gw, mailbox, uidvalidity, first, &next, &handled, error);
    if (ok && !gateway_stopping(gw) && fresh && info.uidnext > next)
        next = info.uidnext;

    if (!same_epoch || next != known.uidnext) {
        MailboxState now = {uidvalidity, next, fresh ? info.highestmodseq : known.highestmodseq};
        GError *save_error = NULL;
        if (!mailbox_state_set(gw->store, mailbox, &now, &save_error)) {
            if (ok)
                g_propagate_error(error, save_error);
            else
                g_error_free(save_error);
            ok = FALSE;
        }
    }
    if (processed)
        *processed = handled;
    gw->sync_pending = !ok || gateway_stopping(gw);
    if (!ok && error && *error && (*error)->code == PAHT_ERROR_TEMPORARY)
        mailbox_disconnect(gw);
    return ok;
}
