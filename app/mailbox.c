/* mailbox: one pass over the IMAP inbox. Every new UID is recorded, processed and moved;
 * what a crash left half done is finished first. */
#include "app/gateway_private.h"
#include "util/util.h"

#include <string.h>
#include <unistd.h>

static void imap_drop(Gateway *gw)
{
    imap_client_close(gw->imap);
    gw->imap = NULL;
    gw->folders_ready = FALSE;
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

/* the last step of a message: out of the inbox, then recorded as such */
static gboolean finish_message(Gateway *gw, const RawMessage *raw, gboolean unparsed,
                               GError **error)
{
    const Config *c = gw->config;
    const char *folder = unparsed ? c->imap.quarantine_folder : c->imap.processed_folder;
    if (!imap_client_move(gw->imap, raw->uid, folder, error))
        return FALSE;
    return raw_message_set_state(gw->store, raw->id, unparsed ? "quarantined" : "moved", NULL,
                                 error);
}

/* One UID: record it (unless known), process it, move it. */
static gboolean sync_one(Gateway *gw, const char *mailbox, guint32 uidvalidity,
                         const ImapMessageInfo *info, GError **error)
{
    g_autoptr(RawMessage) raw =
        raw_message_find_uid(gw->store, mailbox, uidvalidity, info->uid, error);
    if (!raw && error && *error)
        return FALSE;

    if (!raw) {
        g_autofree char *temp = NULL;
        int fd = fs_open_private_temp(gw->tmp_dir, "fetch-", &temp, error);
        if (fd < 0)
            return FALSE;
        gint64 written = 0;
        gboolean fetched =
            imap_client_fetch_to_fd(gw->imap, info->uid, fd, info->size, &written, error);
        close(fd);
        if (!fetched) {
            unlink(temp);
            return FALSE;
        }
        g_autofree char *sha = NULL;
        gint64 size = 0;
        g_autofree char *stored = inbound_commit_raw_file(gw, temp, &sha, &size, error);
        if (!stored) {
            unlink(temp);
            return FALSE;
        }
        /* the same message seen under another UID (the server renumbered the mailbox):
         * it is already ours; only its place on the server changed */
        g_autoptr(RawMessage) same =
            raw_message_find_content(gw->store, info->message_id, sha, error);
        if (!same && error && *error)
            return FALSE;
        if (same) {
            log_notice("message %" G_GINT64_FORMAT " found again at UID %u: not processed twice",
                       same->id, info->uid);
            if (!raw_message_relocate(gw->store, same->id, mailbox, uidvalidity, info->uid, error))
                return FALSE;
            raw = raw_message_get(gw->store, same->id, error);
            if (!raw)
                return FALSE;
        } else {
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
                return FALSE;
            raw = raw_message_get(gw->store, id, error);
            if (!raw)
                return FALSE;
        }
    } else if (g_str_equal(raw->state, "fetched")) {
        /* an earlier attempt died while processing this message */
        int attempts = 0;
        if (!raw_message_count_attempt(gw->store, raw->id, &attempts, error))
            return FALSE;
        if (attempts > MAX_PROCESSING_ATTEMPTS) {
            log_warning("message %" G_GINT64_FORMAT " did not finish processing %d times: kept "
                        "aside",
                        raw->id, attempts - 1);
            if (!raw_message_set_state(gw->store, raw->id, "unparsed",
                                       "processing did not finish after repeated attempts", error))
                return FALSE;
            g_free(raw->state);
            raw->state = g_strdup("unparsed");
        }
    }

    if (g_str_equal(raw->state, "fetched")) {
        IngestResult result = {0};
        gboolean ok = inbound_process_raw(gw, raw, &result, error);
        gboolean unparsed = result.unparsed;
        ingest_result_clear(&result);
        if (!ok)
            return FALSE;
        return finish_message(gw, raw, unparsed, error);
    }
    if (g_str_equal(raw->state, "unparsed") || g_str_equal(raw->state, "quarantined"))
        return finish_message(gw, raw, TRUE, error);
    /* processed (a crash came between commit and move) or moved (the move was lost) */
    return finish_message(gw, raw, FALSE, error);
}

gboolean gateway_sync_mailbox(Gateway *gw, int *processed, GError **error)
{
    const Config *c = gw->config;
    const char *mailbox = c->imap.server.path;
    if (processed)
        *processed = 0;
    if (!imap_ready(gw, error)) {
        imap_drop(gw);
        return FALSE;
    }
    ImapMailboxInfo info = {0};
    if (!imap_client_select(gw->imap, mailbox, &info, error)) {
        imap_drop(gw);
        return FALSE;
    }
    MailboxState known = {0};
    GError *local = NULL;
    gboolean seen = mailbox_state_get(gw->store, mailbox, &known, &local);
    if (local) {
        g_propagate_error(error, local);
        return FALSE;
    }
    guint32 first = 1;
    if (seen && known.uidvalidity == info.uidvalidity)
        first = known.uidnext > 0 ? known.uidnext : 1;
    else if (seen)
        log_notice("UIDVALIDITY of %s changed (%u -> %u): resynchronising by content", mailbox,
                   known.uidvalidity, info.uidvalidity);
    /* messages a crash left behind in this mailbox (committed but not moved) come first */
    g_autoptr(GPtrArray) unfinished = raw_message_list_unfinished(gw->store, mailbox, error);
    if (!unfinished)
        return FALSE;
    for (guint i = 0; i < unfinished->len; i++) {
        RawMessage *raw = g_ptr_array_index(unfinished, i);
        if (raw->uidvalidity == info.uidvalidity && raw->uid < first)
            first = raw->uid;
    }

    g_autoptr(GArray) uids = NULL;
    if (info.exists > 0 && (info.uidnext == 0 || first < info.uidnext)) {
        uids = imap_client_search_from(gw->imap, first, error);
        if (!uids) {
            imap_drop(gw);
            return FALSE;
        }
    }
    guint32 next = first;
    gboolean ok = TRUE;
    if (uids && uids->len > 0) {
        g_autoptr(GPtrArray) infos =
            imap_client_fetch_info(gw->imap, &g_array_index(uids, guint32, 0), uids->len, error);
        if (!infos) {
            imap_drop(gw);
            return FALSE;
        }
        for (guint i = 0; i < infos->len && ok; i++) {
            const ImapMessageInfo *m = g_ptr_array_index(infos, i);
            GError *one = NULL;
            if (sync_one(gw, mailbox, info.uidvalidity, m, &one)) {
                next = m->uid + 1;
                if (processed)
                    (*processed)++;
                continue;
            }
            if (g_error_matches(one, PAHT_ERROR, PAHT_ERROR_PERMANENT)) {
                /* gone from the server under us (another client moved it): nothing to do */
                log_notice("UID %u vanished before it could be handled: %s", m->uid, one->message);
                g_error_free(one);
                next = m->uid + 1;
                continue;
            }
            g_propagate_error(error, one);
            ok = FALSE;
        }
    }
    if (ok && info.uidnext > next)
        next = info.uidnext;
    MailboxState now = {info.uidvalidity, next, info.highestmodseq};
    GError *save_error = NULL;
    if (!mailbox_state_set(gw->store, mailbox, &now, &save_error)) {
        if (ok)
            g_propagate_error(error, save_error);
        else
            g_error_free(save_error);
        ok = FALSE;
    }
    if (!ok && error && *error && (*error)->code == PAHT_ERROR_TEMPORARY)
        imap_drop(gw);
    return ok;
}
