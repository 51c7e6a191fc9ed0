/* mailbox: keeping the gateway in step with the IMAP inbox (SPEC §3 steps 1, 2 and 7, §8).
 *
 * A pass finishes what a crash left half done, then fetches, records, processes and moves
 * every new message, oldest first. Whether anything is new is decided cheaply, whatever the
 * size of the mailbox: on a fresh connection by SELECT's UIDNEXT against the one we stored;
 * afterwards by the EXISTS responses the wait (IDLE, or NOOP when polling) brought, or by a
 * failed message being due for another try. A pass with nothing new sends no command at all:
 * the wait is the cycle's only command. No list of all UIDs is ever asked for: UID SEARCH
 * starts at the first UID not yet handled, and only sizes are fetched before a download
 * (RFC822.SIZE, in chunks), never an ENVELOPE, whose size the sender decides.
 *
 * Nothing skipped, nothing stuck: a message that cannot be fetched or recorded (the server
 * refuses it or drops the session on it, its file cannot be written) is counted by its place
 * on the server and tried again later while the others go on; the stored cursor never passes
 * it until it is handled, confirmed gone by the server, or given up after an hour of tries
 * (then moved to quarantine, the IOC told once). See "one pass over the new mail" below.
 * A recorded message whose processing fails for a reason of its own (the store refuses its
 * rows, say) is counted and tried again the same way, and after an hour of tries kept aside
 * (quarantine, the IOC told once) for pahtctl reprocess once the cause is mended.
 *
 * Crash safety: every step is decided by the message's row, and a message leaves the inbox
 * only after its row and everything it became are committed. kill -9 at any point leaves a
 * message untouched on the server or recorded once; the next pass finishes the job:
 *   no row      -> fetch (streamed to disk), record: fetched
 *   fetched     -> process in the worker: processed, or unparsed
 *   processed   -> move to processed_folder: moved
 *   unparsed    -> alert the IOC, move to quarantine_folder: quarantined
 * (without MOVE, a move records its copy before deleting the original: see below)
 *
 * UIDVALIDITY change (RFC 3501 §2.3.1.1): every UID we knew is void. The mailbox is read again
 * from UID 1 and each message recognised by content: a download either confirms a message we
 * have (the same bytes, or the same Message-ID and body: it is relocated to its new UID and
 * only moved, never processed or answered again) or brings a new one. The same recognition
 * serves a mail that pahtctl ingest recorded first. A Message-ID alone is never trusted as
 * proof: broken mailers reuse them, and a stranger could copy one to have a citizen's mail
 * dropped.
 */
#include "gateway/gateway_private.h"
#include "letters/letters.h"
#include "util/util.h"

#include <string.h>
#include <unistd.h>

void mailbox_disconnect(Gateway *gw)
{
    mailbox_ahead_free(g_steal_pointer(&gw->imap_ahead));
    imap_client_close(gw->imap);
    gw->imap = NULL;
    gw->folders_ready = FALSE;
    gw->selected = FALSE;
}

static ImapOptions imap_options(const Config *c)
{
    return (ImapOptions){
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
}

static gboolean folders_ensure(ImapClient *imap, const Config *c, GError **error)
{
    return imap_client_ensure_folder(imap, c->imap.processed_folder, error) &&
           imap_client_ensure_folder(imap, c->imap.quarantine_folder, error);
}

/* ---- the session begun ahead (gateway.h) ----------------------------------------------------
 * Its thread uses nothing but its own ImapClient and the configuration, which outlives it
 * (pahtd's first, never freed before the thread is joined). A session it made long ago (a
 * daemon that waited for its database) is not trusted to be open still: the first pass
 * connects again. */
#define AHEAD_FRESH_SECONDS 30

struct MailboxAhead {
    const Config *config;
    GThread *thread;
    ImapClient *imap; /* connected, logged in, the folders there; or NULL and error */
    GError *error;
    gint64 done_at;
};

static gpointer ahead_run(gpointer data)
{
    MailboxAhead *a = data;
    ImapOptions opts = imap_options(a->config);
    a->imap = imap_client_connect(&opts, &a->error);
    if (a->imap && !folders_ensure(a->imap, a->config, &a->error))
        g_clear_pointer(&a->imap, imap_client_close);
    a->done_at = g_get_monotonic_time();
    return NULL;
}

MailboxAhead *mailbox_connect_ahead(const Config *config)
{
    MailboxAhead *a = g_new0(MailboxAhead, 1);
    a->config = config;
    a->thread = g_thread_try_new("pahtd-connect", ahead_run, a, NULL);
    if (!a->thread) {
        g_free(a); /* no thread to be had: the first pass connects, as before */
        return NULL;
    }
    return a;
}

/* waits for the thread; the session, or *error */
static ImapClient *ahead_finish(MailboxAhead *a, GError **error)
{
    g_thread_join(a->thread);
    ImapClient *imap = g_steal_pointer(&a->imap);
    GError *failed = g_steal_pointer(&a->error);
    gboolean stale = g_get_monotonic_time() - a->done_at > AHEAD_FRESH_SECONDS * G_USEC_PER_SEC;
    g_free(a);
    if (stale) {
        imap_client_close(imap);
        g_clear_error(&failed);
        return NULL;
    }
    if (!imap && error)
        g_propagate_error(error, g_steal_pointer(&failed));
    g_clear_error(&failed);
    return imap;
}

void mailbox_ahead_free(MailboxAhead *a)
{
    if (a)
        imap_client_close(ahead_finish(a, NULL));
}

void mailbox_take_ahead(Gateway *gw, MailboxAhead *a)
{
    mailbox_ahead_free(gw->imap_ahead);
    gw->imap_ahead = a;
}

static gboolean imap_ready(Gateway *gw, GError **error)
{
    const Config *c = gw->config;
    if (!gw->imap && gw->imap_ahead) {
        GError *failed = NULL;
        gw->imap = ahead_finish(g_steal_pointer(&gw->imap_ahead), &failed);
        gw->folders_ready = gw->imap != NULL;
        if (failed) {
            /* its failure is the first pass's: no second attempt to wait for */
            g_propagate_error(error, failed);
            return FALSE;
        }
    }
    if (!gw->imap) {
        ImapOptions opts = imap_options(c);
        gw->imap = imap_client_connect(&opts, error);
        if (!gw->imap)
            return FALSE;
    }
    if (!gw->folders_ready) {
        if (!folders_ensure(gw->imap, c, error))
            return FALSE;
        gw->folders_ready = TRUE;
    }
    return TRUE;
}

/* ---- failures of one message ------------------------------------------------------------------
 * A message that fails on its own (its download, or its processing once recorded) is counted
 * by its place on the server (message_failure) and tried again later while the others go on. */

/* a failed message is tried again after 5, 10, 20, 40 minutes, then every hour */
#define FAILURE_RETRY_FIRST_SECONDS (5 * 60)
#define FAILURE_RETRY_MAX_SECONDS   (60 * 60)
/* ... and given up after this many failures, spread over at least this long (a server being
 * restarted, a disk being fixed, must not cost a citizen's mail its answer) */
#define FAILURE_GIVE_UP_ATTEMPTS 4
#define FAILURE_GIVE_UP_SECONDS  (60 * 60)

/* the wait before the next try of a message that failed `previous` times before */
static gint64 retry_delay(int previous)
{
    gint64 delay = FAILURE_RETRY_FIRST_SECONDS;
    for (int i = 0; i < previous && delay < FAILURE_RETRY_MAX_SECONDS; i++)
        delay *= 2;
    return MIN(delay, FAILURE_RETRY_MAX_SECONDS);
}

static gboolean give_up_due(const MessageFailure *f)
{
    return !f->given_up_at && f->failures >= FAILURE_GIVE_UP_ATTEMPTS &&
           f->last_at - f->first_at >= FAILURE_GIVE_UP_SECONDS;
}

/* a failure of the message's own: neither a passing one (a busy database, a lost connection),
 * which is the pass's, nor one of the configuration */
static gboolean fails_on_its_own(const GError *e)
{
    return !g_error_matches(e, PAHT_ERROR, PAHT_ERROR_TEMPORARY) &&
           !g_error_matches(e, PAHT_ERROR, PAHT_ERROR_CONFIG);
}

/* the failure on record of the message at (mailbox, uidvalidity, uid), if any (*failed) */
static gboolean failure_on_record(Gateway *gw, const char *mailbox, guint32 uidvalidity,
                                  guint32 uid, MessageFailure *f, gboolean *failed, GError **error)
{
    GError *local = NULL;
    *failed = message_failure_get(gw->store, mailbox, uidvalidity, uid, f, &local);
    if (local) {
        g_propagate_error(error, local);
        return FALSE;
    }
    return TRUE;
}

/* Whether raw's processing failed before and its next try is not due yet. The row's error
 * says whether it ever failed (processing_failed writes it, the message's commit clears it):
 * a message that never failed costs no read. */
static gboolean processing_waits(Gateway *gw, const RawMessage *raw, gboolean *waits,
                                 GError **error)
{
    *waits = FALSE;
    if (!raw->error || !raw->mailbox)
        return TRUE;
    MessageFailure f = {0};
    gboolean failed = FALSE;
    gboolean ok =
        failure_on_record(gw, raw->mailbox, raw->uidvalidity, raw->uid, &f, &failed, error);
    *waits = failed && f.next_at > clock_now_unix();
    message_failure_clear(&f);
    return ok;
}

/* The processing of recorded message raw failed on its own (why, taken): counted on its
 * place, the reason written on its row, tried again after retry_delay; it stays "fetched" in
 * the inbox. Once given up it is kept aside (unparsed): the caller's batch moves it to
 * quarantine and tells the IOC, and pahtctl reprocess runs it again once the cause is
 * mended. One transaction: a crash counts the failure whole or not at all. */
static gboolean processing_failed(Gateway *gw, RawMessage *raw, GError *why, GError **error)
{
    if (!raw->mailbox) {
        g_propagate_error(error, why);
        return FALSE;
    }
    /* the worker's words name the message already */
    g_autofree char *named = g_strdup_printf("message %" G_GINT64_FORMAT ": ", raw->id);
    const char *text =
        g_str_has_prefix(why->message, named) ? why->message + strlen(named) : why->message;
    gint64 now = clock_now_unix();
    MessageFailure f = {0};
    gboolean failed = FALSE;
    g_autofree char *reason = NULL;
    gboolean ok = store_begin(gw->store, error);
    if (ok) {
        ok = failure_on_record(gw, raw->mailbox, raw->uidvalidity, raw->uid, &f, &failed, error);
        int previous = f.failures;
        message_failure_clear(&f);
        ok = ok &&
             message_failure_add(gw->store, raw->mailbox, raw->uidvalidity, raw->uid, text, now,
                                 now + retry_delay(previous), &f, error) &&
             raw_message_set_state(gw->store, raw->id, RAW_FETCHED, text, error);
    }
    gboolean aside = ok && give_up_due(&f);
    if (aside) {
        reason = g_strdup_printf("processing failed %d times in %" G_GINT64_FORMAT
                                 " min; the last time: %s",
                                 f.failures, (f.last_at - f.first_at) / 60, text);
        ok = raw_message_set_state(gw->store, raw->id, RAW_UNPARSED, reason, error) &&
             message_failure_forget(gw->store, raw->mailbox, raw->uidvalidity, raw->uid, error);
    }
    ok = ok && store_commit(gw->store, error);
    if (!ok) {
        store_rollback(gw->store);
    } else if (aside) {
        log_warning("message %" G_GINT64_FORMAT " could not be processed %d times in "
                    "%" G_GINT64_FORMAT " min: kept aside, the IOC is told (%s)",
                    raw->id, f.failures, (f.last_at - f.first_at) / 60, text);
        g_free(raw->state);
        raw->state = g_strdup(RAW_UNPARSED);
        g_free(raw->error);
        raw->error = g_steal_pointer(&reason);
    } else {
        log_warning("message %" G_GINT64_FORMAT " could not be processed (failure %d): %s; the "
                    "others go on, this one is tried again in %" G_GINT64_FORMAT " min",
                    raw->id, f.failures, text, (f.next_at - now) / 60);
        g_free(raw->error);
        raw->error = g_strdup(text);
    }
    message_failure_clear(&f);
    g_error_free(why);
    return ok;
}

/* Processing a recorded message that is still "fetched", in the worker, in two halves: the
 * daemon fetches the next message meanwhile. One a parser process had taken when the previous
 * pahtd died (worker_read_taken) is charged an attempt; after MAX_PROCESSING_ATTEMPTS of those
 * it is set aside without another try.
 * (Within one process the worker catches crashes and hangs itself, and a clean failure such
 * as a busy database is simply tried again: it does not count.) *submitted tells whether the
 * worker has it (then process_end must follow) or not: set aside at once, or still "fetched"
 * because a failure of its own (processing_failed) put its next try later. */
static gboolean process_begin(Gateway *gw, RawMessage *raw, gboolean *submitted, GError **error)
{
    *submitted = FALSE;
    gboolean waits = FALSE;
    if (!processing_waits(gw, raw, &waits, error))
        return FALSE;
    if (waits)
        return TRUE;
    int attempts = raw->attempts;
    int taken_with = gw->recovering && raw->attempts > 0 ? worker_taken_with(gw, raw) : 0;
    if (taken_with > 0 &&
        !raw_message_count_attempt(gw->store, raw->id, taken_with, &attempts, error))
        return FALSE;
    if (attempts > MAX_PROCESSING_ATTEMPTS) {
        log_warning("message %" G_GINT64_FORMAT " did not finish processing %d times: kept aside",
                    raw->id, attempts - 1);
        if (!raw_message_set_state(gw->store, raw->id, RAW_UNPARSED,
                                   "processing did not finish after repeated attempts", error))
            return FALSE;
        g_free(raw->state);
        raw->state = g_strdup(RAW_UNPARSED);
        return TRUE;
    }
    if (!worker_submit(gw, raw, error))
        return FALSE;
    *submitted = TRUE;
    return TRUE;
}

/* the worker's answer for raw, and what the message became, as recorded (state, reason). A
 * failure of the message's own is counted (processing_failed) and leaves it "fetched" or, given
 * up, unparsed: only a failure of the pass's is returned. */
static gboolean process_end(Gateway *gw, RawMessage *raw, GError **error)
{
    IngestResult result = {0};
    GError *local = NULL;
    gboolean failed_before = raw->error != NULL;
    gboolean ok = worker_collect(gw, raw->id, &result, &local);
    ingest_result_clear(&result);
    if (!ok && fails_on_its_own(local))
        return processing_failed(gw, raw, local, error);
    if (!ok) {
        g_propagate_error(error, local);
        return FALSE;
    }
    /* done at last: its failures are forgotten */
    if (failed_before && raw->mailbox &&
        !message_failure_forget(gw->store, raw->mailbox, raw->uidvalidity, raw->uid, error))
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

/* a recorded message whose processing is not over: it waits in the inbox for its next try */
static gboolean still_fetched(const RawMessage *raw)
{
    return g_str_equal(raw->state, RAW_FETCHED);
}

static gboolean process_fetched(Gateway *gw, RawMessage *raw, GError **error)
{
    gboolean submitted = FALSE;
    if (!process_begin(gw, raw, &submitted, error))
        return FALSE;
    return !submitted || process_end(gw, raw, error);
}

/* ---- moving out of the inbox ----------------------------------------------------------------
 * Messages whose drafts and answers are committed leave the inbox together: one UID MOVE per
 * folder for a whole batch (a MOVE per message makes the server rework its index each time:
 * most of the server's work in a big ingest), then their rows say so in one transaction. A
 * crash in between leaves them "processed" in the inbox; the next pass finishes them
 * (finish_unfinished), so the rule "moved only after the commit" holds.
 *
 * Before a batch leaves, what its messages became is made durable (the group commit's sync).
 * A full batch's sync runs in a thread while the pass downloads and parses the next messages
 * (batch_maybe_flush): the pass sat in each syncfs, and the parser with it once it had
 * parsed what it was given. The last batch of a pass is synced and moved at its end.
 *
 * Without MOVE (RFC 6851) a move is UID COPY, then \Deleted and UID EXPUNGE, and a crash
 * between the two would leave the copy made and the original in the inbox: the next pass
 * would copy it again. So each step is recorded before the next: the target folder before the
 * copy (moving_to), the copy once made (copied). A pass that finds a move under way deletes
 * the original when the copy is known made, or found in the target folder by Message-ID, and
 * only otherwise copies again. */

typedef struct {
    GArray *uids[2]; /* [0] processed folder, [1] quarantine */
    GArray *ids[2];  /* the raw message of each UID; 0 for a second delivery of a recorded
                        mail, which has no row of its own */
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

/* emptied, whether it was moved or not */
static void move_batch_reset(MoveBatch *b)
{
    for (int i = 0; i < 2; i++) {
        g_array_set_size(b->uids[i], 0);
        g_array_set_size(b->ids[i], 0);
    }
}

static guint move_batch_size(const MoveBatch *b)
{
    return b->uids[0]->len + b->uids[1]->len;
}

static void move_batch_append(MoveBatch *b, gboolean aside, guint32 uid, gint64 id)
{
    g_array_append_val(b->uids[aside], uid);
    g_array_append_val(b->ids[aside], id);
}

/* The files the batch's messages were written to (raw mail, photos), for its sync to let go
 * of in the page cache once they are on the disk (gateway_make_durable_start): the pass writes
 * them once and nobody reads them again soon. NULL (nothing let go) when they cannot be listed;
 * the pass goes on, since the list is only a saving. */
static GPtrArray *move_batch_files(Gateway *gw, const MoveBatch *b)
{
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
    for (int i = 0; i < 2; i++) {
        GError *error = NULL;
        if (!raw_message_files(gw->store, (const gint64 *)(void *)b->ids[i]->data, b->ids[i]->len,
                               paths, &error)) {
            log_warning("the page cache keeps a batch's files: %s", error->message);
            g_error_free(error);
            g_ptr_array_unref(paths);
            return NULL;
        }
    }
    return paths;
}

/* the move of a message whose processing is over (or was never needed) goes to the batch */
static gboolean batch_add(Gateway *gw, const RawMessage *raw, MoveBatch *batch, GError **error)
{
    gboolean aside = !raw_message_is_done(raw);
    if (aside && !quarantine_alert_unparsed(gw, raw, error))
        return FALSE;
    move_batch_append(batch, aside, raw->uid, raw->id);
    return TRUE;
}

/* each row of ids (0s skipped) updated in one transaction: a move step (state NULL) or the
 * end of the move (state "moved" or "quarantined") */
static gboolean batch_record(Gateway *gw, const GArray *ids, const char *folder, gboolean copied,
                             const char *state, GError **error)
{
    if (!store_begin(gw->store, error))
        return FALSE;
    for (guint k = 0; k < ids->len; k++) {
        gint64 id = g_array_index(ids, gint64, k);
        if (id > 0 && !(state ? raw_message_set_state(gw->store, id, state, NULL, error)
                              : raw_message_set_moving(gw->store, id, folder, copied, error))) {
            store_rollback(gw->store);
            return FALSE;
        }
    }
    return store_commit(gw->store, error);
}

/* ---- moves the server refuses ------------------------------------------------------------------
 * A move refused with a plain NO ([NOPERM], [OVERQUOTA]: a folder's rights, the mailbox's
 * quota) is the server's answer until someone changes it, not the pass's failure: the messages
 * are drafted and answered, stay in the inbox, and are tried again at every pass. Left so, the
 * inbox grows until the mailbox is full and citizens' mail is refused, with nobody told. So
 * the refusal is a lasting failure (lasting_*): logged when it begins, once a process while it
 * lasts and when it ends, and the IOC told once it has lasted LASTING_ALERT_SECONDS. */

static int refusal_side(Gateway *gw, const char *folder)
{
    return g_strcmp0(folder, gw->config->imap.quarantine_folder) == 0;
}

static const char *const refusal_record[2] = {"move_refused", "move_refused_quarantine"};

static void refusal_read(Gateway *gw, int side)
{
    if (gw->move_refusal[side].read)
        return;
    gw->move_refusal[side].read = TRUE;
    gw->move_refusal[side].since = lasting_since(gw, refusal_record[side]);
}

static void refusal_alert(Gateway *gw, int side, const char *folder, guint n, const char *why)
{
    const Config *c = gw->config;
    gint64 since = gw->move_refusal[side].since;
    g_autofree char *key = g_strdup_printf("move_refused:%s:%" G_GINT64_FORMAT, folder, since);
    g_autoptr(JsonBuilder) facts = letters_alert_facts();
    json_member_string(facts, "mailbox", c->imap.user);
    json_member_string(facts, "folder", folder);
    json_member_string(facts, "inbox", c->imap.server.path);
    json_member_bool(facts, "quarantine", side == 1);
    g_autofree char *from = letters_format_time(c, since);
    json_member_string(facts, "since", from);
    json_member_int(facts, "messages", n);
    json_member_string(facts, "error", why);
    GError *error = NULL;
    gboolean ok = store_begin(gw->store, &error) &&
                  letters_ioc_alert(c, gw->store, "move_refused", key, 0, facts, &error) &&
                  lasting_set_alerted(gw, refusal_record[side], &error) &&
                  store_commit(gw->store, &error);
    if (!ok) {
        store_rollback(gw->store);
        log_error("cannot enqueue the alert of the refused moves: %s", error->message);
        g_error_free(error);
        return;
    }
    gw->move_refusal[side].alerted = TRUE;
    log_warning("moves to \"%s\" refused for %" G_GINT64_FORMAT " min: the IOC is alerted (%s)",
                folder, (clock_now_unix() - since) / 60, c->gateway.ioc_alert_to);
}

static void moves_refused(Gateway *gw, const char *folder, guint n, const char *why)
{
    int side = refusal_side(gw, folder);
    refusal_read(gw, side);
    gint64 now = clock_now_unix();
    gboolean began = gw->move_refusal[side].since == 0;
    gint64 since =
        began ? lasting_begin(gw, refusal_record[side], now) : gw->move_refusal[side].since;
    gw->move_refusal[side].since = since;
    if (!gw->move_refusal[side].logged) {
        g_autofree char *at = letters_format_time(gw->config, since);
        log_warning("%s; %u message(s), %s, stay in the inbox and are tried again at every pass "
                    "(refused %s %s; the IOC is told after %d min)",
                    why, n, side == 0 ? "drafted and answered" : "kept aside",
                    began ? "from" : "since", at, LASTING_ALERT_SECONDS / 60);
        gw->move_refusal[side].logged = TRUE;
    } else {
        log_debug("%s; %u message(s) stay in the inbox", why, n);
    }
    if (now - since < LASTING_ALERT_SECONDS || gw->move_refusal[side].alerted)
        return;
    /* told by an earlier run of this period? */
    gw->move_refusal[side].alerted = lasting_alerted(gw, refusal_record[side]);
    if (!gw->move_refusal[side].alerted)
        refusal_alert(gw, side, folder, n, why);
}

static void moves_accepted(Gateway *gw, const char *folder)
{
    int side = refusal_side(gw, folder);
    refusal_read(gw, side);
    gint64 since = gw->move_refusal[side].since;
    if (!since)
        return;
    GError *error = NULL;
    if (!store_begin(gw->store, &error) || !lasting_clear(gw, refusal_record[side], &error) ||
        !store_commit(gw->store, &error)) {
        store_rollback(gw->store);
        log_warning("cannot record the end of the refused moves: %s", error->message);
        g_error_free(error);
        return;
    }
    log_notice("moves to \"%s\" accepted again, after %" G_GINT64_FORMAT " min of refusals", folder,
               (clock_now_unix() - since) / 60);
    memset(&gw->move_refusal[side], 0, sizeof gw->move_refusal[side]);
    gw->move_refusal[side].read = TRUE;
}

/* A move the server refused (NO) is not the pass's failure (above): the messages stay
 * recorded in the inbox and the next pass tries again. Anything else (connection, missing
 * folder) is. */
static gboolean move_refused_ok(Gateway *gw, const char *folder, guint n, GError *refused,
                                GError **error)
{
    if (!g_error_matches(refused, PAHT_ERROR, PAHT_ERROR_PERMANENT)) {
        g_propagate_error(error, refused);
        return FALSE;
    }
    moves_refused(gw, folder, n, refused->message);
    g_error_free(refused);
    return TRUE;
}

/* PAHT_TEST_FAULT exit-after-copy: dies like kill -9 right after a UID COPY, before its
 * record; exit-after-copy:recorded, right after the record (tests only) */
static void test_fault_exit_after_copy(gboolean recorded)
{
    g_autofree char *fault = gateway_test_fault("exit-after-copy");
    if (fault && g_str_equal(fault, "recorded") == recorded) {
        log_notice("PAHT_TEST_FAULT: exiting right after a UID COPY%s",
                   recorded ? " and its record" : "");
        _exit(3);
    }
}

/* PAHT_TEST_FAULT exit-before-move: dies like kill -9 right after the group commit's sync,
 * before the UID MOVE (tests only) */
static void test_fault_exit_before_move(void)
{
    g_autofree char *fault = gateway_test_fault("exit-before-move");
    if (fault) {
        log_notice("PAHT_TEST_FAULT: exiting after the sync, before a UID MOVE");
        _exit(3);
    }
}

/* the UIDs of one side of the batch to folder; *moved FALSE when the server refused. synced:
 * what the messages became is on the disk already (a sync that began after their commits
 * is over) */
static gboolean move_side(Gateway *gw, GArray *uids, GArray *ids, const char *folder,
                          gboolean synced, gboolean *moved, GError **error)
{
    const guint32 *u = &g_array_index(uids, guint32, 0);
    GError *refused = NULL;
    *moved = FALSE;
    /* the group commit: what the messages became, on the disk before they leave the inbox */
    if (!synced && !gateway_make_durable(gw, error))
        return FALSE;
    if (imap_client_can_move(gw->imap)) {
        test_fault_exit_before_move();
        if (!imap_client_move_uids(gw->imap, u, uids->len, folder, &refused))
            return move_refused_ok(gw, folder, uids->len, refused, error);
    } else {
        if (!batch_record(gw, ids, folder, FALSE, NULL, error) || !gateway_make_durable(gw, error))
            return FALSE;
        if (!imap_client_copy_uids(gw->imap, u, uids->len, folder, &refused))
            return move_refused_ok(gw, folder, uids->len, refused, error);
        test_fault_exit_after_copy(FALSE);
        if (!batch_record(gw, ids, folder, TRUE, NULL, error) || !gateway_make_durable(gw, error))
            return FALSE;
        test_fault_exit_after_copy(TRUE);
        if (!imap_client_delete_uids(gw->imap, u, uids->len, &refused))
            return move_refused_ok(gw, folder, uids->len, refused, error);
    }
    moves_accepted(gw, folder);
    *moved = TRUE;
    return TRUE;
}

/* the reports made so far, indexed for the console's search in one batch (store.c, migration
 * of issue 18): at the end of the pass, and every SEARCH_CATCH_UP_BATCH messages of a long one
 * (a transaction of a few tenths of a second). A report costs the index about 0.1-0.2 ms
 * whatever the batch (most of it tokenizing its text), and each catch-up holds the write lock
 * that both parser processes wait for. With a catch-up every 16 messages, at any moment, the
 * index held the lock 0.86 s of a 6.8 s pass of 2,000 mails, and an ingest took 5.74 s
 * against 5.53 s at the end only (medians of three, alternated). The console catches up
 * before each search, so a search never misses a report. The index is derived from the rows:
 * a failure is logged, and the next batch, pass or search catches up instead. */
#define SEARCH_CATCH_UP_BATCH 1024
/* In a pass of download groups, though, the index catches up once SEARCH_CATCH_UP_STEP
 * messages are collected, while the server sends the next group (download_group): the mailbox
 * process would wait for the socket then. At the end of the pass only the last step's reports
 * are left, where all of them were done with the server, and the other core, idle: 0.12 s of
 * the pass's last 0.35 s for 2,000 mails. Six alternated rounds: faster in five, means 5.25
 * against 5.44 s; steps of 128 and 512 did no better. */
#define SEARCH_CATCH_UP_STEP 256

static void search_catch_up(Gateway *gw)
{
    GError *error = NULL;
    if (!report_search_catch_up(gw->store, &error)) {
        log_warning("search index: %s (caught up later)", error->message);
        g_error_free(error);
    }
}

static gboolean move_batch_flush(Gateway *gw, MoveBatch *b, gboolean synced, GError **error)
{
    const Config *c = gw->config;
    for (int i = 0; i < 2; i++) {
        if (b->uids[i]->len == 0)
            continue;
        const char *folder = i == 0 ? c->imap.processed_folder : c->imap.quarantine_folder;
        gboolean moved = FALSE;
        if (!move_side(gw, b->uids[i], b->ids[i], folder, synced, &moved, error))
            return FALSE;
        if (moved &&
            !batch_record(gw, b->ids[i], NULL, FALSE, i == 0 ? RAW_MOVED : RAW_QUARANTINED, error))
            return FALSE;
        g_array_set_size(b->uids[i], 0);
        g_array_set_size(b->ids[i], 0);
    }
    return TRUE;
}

/* A move without MOVE that a crash interrupted (raw->moving_to set): the original is deleted
 * when its copy is known made or is found in the target folder; *done then. Otherwise the
 * message is moved as if for the first time. */
static gboolean resume_move(Gateway *gw, RawMessage *raw, gboolean *done, GError **error)
{
    *done = FALSE;
    gboolean copied = raw->copied;
    if (!copied && raw->message_id) {
        const char *ids[] = {raw->message_id};
        if (!imap_client_folder_has_message_ids(gw->imap, raw->moving_to, ids, 1, &copied, error))
            return FALSE;
    }
    if (!copied) {
        log_notice("message %" G_GINT64_FORMAT ": an interrupted move left no copy in \"%s\" "
                   "that can be recognised; moved again",
                   raw->id, raw->moving_to);
        return TRUE;
    }
    log_notice("message %" G_GINT64_FORMAT ": finishing an interrupted move to \"%s\" without "
               "copying it again",
               raw->id, raw->moving_to);
    if (!raw->copied && !raw_message_set_moving(gw->store, raw->id, raw->moving_to, TRUE, error))
        return FALSE;
    /* either way nothing is copied again: a refused delete is tried at the next pass */
    *done = TRUE;
    GError *refused = NULL;
    if (!gateway_make_durable(gw, error))
        return FALSE;
    if (!imap_client_delete_uids(gw->imap, &raw->uid, 1, &refused))
        return move_refused_ok(gw, raw->moving_to, 1, refused, error);
    if (!raw_message_is_done(raw) && !quarantine_alert_unparsed(gw, raw, error))
        return FALSE;
    return raw_message_set_state(
        gw->store, raw->id, raw_message_is_done(raw) ? RAW_MOVED : RAW_QUARANTINED, NULL, error);
}

/* Takes a recorded message (at raw->uid in the selected mailbox) to its end (what a crash left
 * half done); its move joins the batch. The row's state says where it stands; nothing done
 * before is done again. */
static gboolean advance_message(Gateway *gw, RawMessage *raw, MoveBatch *batch, GError **error)
{
    if (g_str_equal(raw->state, RAW_FETCHED) && !process_fetched(gw, raw, error))
        return FALSE;
    if (still_fetched(raw))
        return TRUE;
    if (raw->moving_to) {
        gboolean done = FALSE;
        if (!resume_move(gw, raw, &done, error))
            return FALSE;
        if (done)
            return TRUE;
    }
    return batch_add(gw, raw, batch, error);
}

/* A recorded message whose UID belongs to an earlier UIDVALIDITY: it cannot be addressed on
 * the server any more. If it is still there under a new UID, the resynchronisation finds it
 * by content and moves it; here it is only finished as a record (processed if it never was),
 * so that nothing stays half done. */
static gboolean settle_old_epoch(Gateway *gw, RawMessage *raw, GError **error)
{
    if (g_str_equal(raw->state, RAW_FETCHED) && !process_fetched(gw, raw, error))
        return FALSE;
    if (still_fetched(raw))
        return TRUE;
    if (raw_message_is_done(raw))
        return raw_message_set_state(gw->store, raw->id, RAW_MOVED, NULL, error);
    if (!quarantine_alert_unparsed(gw, raw, error))
        return FALSE;
    return raw_message_set_state(gw->store, raw->id, RAW_QUARANTINED, NULL, error);
}

/* ---- after a crash: are the files of the unfinished messages whole? ---------------------------
 * Group commit (gateway.c) writes a batch's files and rows without syncing each, and syncs
 * them all before the batch leaves the inbox. A power cut before that sync may lose rows (the
 * messages are still in the inbox: fetched again) but may also keep a row whose file did not
 * reach the disk, or only in part: SQLite's WAL is written back whenever the kernel likes,
 * in no order with the files. So the first pass of a process checks the files of the messages
 * it finds unfinished in the inbox (only those: a batch that left the inbox was synced first)
 * against their rows' sizes and digests: a damaged raw file is downloaded again (the message
 * is still on the server at its UID), damaged attachments are written again from the message
 * by the parser process. */

/* the raw file of raw, downloaded again; FALSE (no error) when the server's bytes are not the
 * recorded ones any more, or it has no such message */
static gboolean raw_file_restored(Gateway *gw, RawMessage *raw, GError **error)
{
    g_autofree char *temp = NULL;
    int fd = fs_open_private_temp(gw->tmp_dir, "fetch-", &temp, error);
    if (fd < 0)
        return FALSE;
    GError *local = NULL;
    gint64 written = 0;
    gboolean fetched = imap_client_fetch_to_fd(
        gw->imap, raw->uid, fd, raw->size, gw->config->gateway.max_message_bytes, &written, &local);
    close(fd);
    MailFileIdentity id = {0};
    gboolean same =
        fetched && mail_file_identity(temp, &id, &local) && g_str_equal(id.sha256, raw->sha256);
    mail_file_identity_clear(&id);
    if (same)
        return fs_commit_content(temp, raw->path, raw->sha256, FS_SYNC_NOW, error);
    unlink(temp);
    if (local && (local->code == PAHT_ERROR_TEMPORARY || local->code == PAHT_ERROR_CONFIG)) {
        g_propagate_error(error, local);
        return FALSE;
    }
    log_warning("message %" G_GINT64_FORMAT ": its raw file was damaged by a crash and UID %u "
                "no longer gives the same message (%s)",
                raw->id, raw->uid, local ? local->message : "other bytes");
    g_clear_error(&local);
    return TRUE;
}

static gboolean check_files_after_crash(Gateway *gw, RawMessage *raw, GError **error)
{
    if (!fs_content_whole_on_disk(raw->path, raw->size, raw->sha256)) {
        log_warning("message %" G_GINT64_FORMAT ": its raw file was damaged by a crash (a power "
                    "cut before the batch was synced, or a write the disk failed?): downloaded "
                    "again",
                    raw->id);
        if (!raw_file_restored(gw, raw, error))
            return FALSE;
        if (!fs_content_whole(raw->path, raw->size, raw->sha256)) {
            /* nothing to read it from: kept aside (and the IOC told), never parsed broken */
            if (g_str_equal(raw->state, RAW_FETCHED) &&
                !raw_message_set_state(gw->store, raw->id, RAW_UNPARSED,
                                       "its raw file was damaged by a crash and the server "
                                       "no longer has it",
                                       error))
                return FALSE;
            g_free(raw->state);
            raw->state = g_strdup(RAW_UNPARSED);
            return TRUE;
        }
    }
    if (g_str_equal(raw->state, RAW_PROCESSED) && raw->report_id > 0)
        return worker_verify(gw, raw->id, error);
    return TRUE;
}

/* What a crash (or a refused move) left half done in this mailbox. Only the database is read
 * when there is nothing: no IMAP command. The first pass of a process, and the first after a
 * sync that failed (gw->files_unsure), checks their files from the disk before any of them
 * leaves the inbox. */
static gboolean finish_unfinished(Gateway *gw, const char *mailbox, guint32 uidvalidity,
                                  int *handled, GError **error)
{
    g_autoptr(GPtrArray) unfinished = raw_message_list_unfinished(gw->store, mailbox, error);
    if (!unfinished)
        return FALSE;
    if (gw->recovering)
        worker_read_taken(gw); /* before any message goes to a parser */
    gboolean check = gw->recovering || gw->files_unsure;
    MoveBatch batch;
    move_batch_init(&batch);
    gboolean ok = TRUE;
    for (guint i = 0; i < unfinished->len && ok; i++) {
        if (gateway_stopping(gw))
            break;
        RawMessage *raw = g_ptr_array_index(unfinished, i);
        GError *one = NULL;
        gboolean same_epoch = raw->uidvalidity == uidvalidity;
        gboolean done =
            (!check || !same_epoch || check_files_after_crash(gw, raw, &one)) &&
            (same_epoch ? advance_message(gw, raw, &batch, &one) : settle_old_epoch(gw, raw, &one));
        if (done) {
            *handled += !still_fetched(raw);
        } else if (one->code == PAHT_ERROR_TEMPORARY || one->code == PAHT_ERROR_CONFIG) {
            g_propagate_error(error, one);
            ok = FALSE;
        } else {
            /* this one message cannot be finished: the others must not wait for it */
            log_warning("message %" G_GINT64_FORMAT " cannot be finished: %s", raw->id,
                        one->message);
            g_error_free(one);
        }
        if (ok && move_batch_size(&batch) >= MOVE_BATCH_MAX)
            ok = move_batch_flush(gw, &batch, FALSE, error);
    }
    if (ok && move_batch_size(&batch) > 0)
        ok = move_batch_flush(gw, &batch, FALSE, error);
    move_batch_clear(&batch);
    return ok;
}

/* ---- one pass over the new mail ---------------------------------------------------------------
 * Every message is tried in UID order, and one that fails (a refused FETCH, a connection the
 * server drops on it, a file that cannot be written) never stops the others: it is counted by
 * its place (mailbox, UIDVALIDITY, UID), tried again later with a growing delay, and after
 * FAILURE_GIVE_UP_ATTEMPTS failures spread over FAILURE_GIVE_UP_SECONDS it is moved to the
 * quarantine folder (or, if even that is refused, left where it is) and the IOC is told once.
 * The stored cursor (the UID the next pass starts from) never passes a message still waiting
 * for another try: only one that was handled, given up, or that the server confirms gone. */

/* UIDs per FETCH of RFC822.SIZE: the answer is held in memory. A multiple of
 * DOWNLOAD_GROUP_MAX, so that a chunk of plain messages ends with a whole download group. */
#define SIZE_CHUNK 512
/* the headers read of a message too large to download, to answer its sender */
#define TOO_LARGE_HEADER_BYTES 16384

typedef struct {
    Gateway *gw;
    const char *mailbox;
    guint32 uidvalidity;
    guint32 next;           /* the first UID not yet wholly handled */
    gboolean waiting;       /* a message waits for another try: next never passes it */
    guint32 waiting_uid;    /* ... the first such */
    gboolean epoch_changed; /* a reconnection found another UIDVALIDITY: stop at once */
    gboolean reconnected;
    /* the UIDs of the download group in flight (download_group) that have not arrived whole:
     * a group's messages finish out of UID order, and next never passes one of these */
    GArray *held;
    MoveBatch batch;
    /* the full batch before it, whose sync runs in the background (sync_job): it leaves the
     * inbox once that sync is over */
    MoveBatch syncing;
    DurableJob *sync_job;
    guint batch_max;      /* MOVE_BATCH_MAX, or PAHT_TEST_FAULT move-batch:N */
    guint32 last_fetched; /* the highest UID downloaded so far */
    GQueue in_parser;     /* InParser: submitted to the parser, not yet collected, in UID order */
    /* the download group whose answer was read last, to be recorded while the server sends the
     * next one (download_group) */
    struct Download *received;
    int handled;
    guint unindexed;     /* messages collected since the search index last caught up */
    guint catch_up_step; /* SEARCH_CATCH_UP_STEP, or PAHT_TEST_FAULT search-step:N */
} Pass;

/* a message in the parser's queue while the next ones are fetched */
typedef struct {
    RawMessage *raw;
    guint32 uid;
} InParser;

/* messages per UID FETCH, and their RFC822.SIZE together at most: the work a broken
 * connection can cost */
#define DOWNLOAD_GROUP_MAX   32
#define DOWNLOAD_GROUP_BYTES (32 * 1024 * 1024)

/* The last groups of a pass are smaller: a group takes at most half the messages left from its
 * first on (32 while 64 or more are left, then 16, 8, 4). The last group is given to the
 * parser only once it is in, and with nothing left to download its parse was the end of the
 * pass on its own: a group of 32 kept the pass 23-85 ms in collect_all (timestamped debug
 * log, 2,000 mails), 5-45 ms since, the parser having all but the last few while the rest
 * arrive. */
#define DOWNLOAD_GROUP_LAST 4

static guint group_limit(guint left)
{
    return CLAMP(left / 2, DOWNLOAD_GROUP_LAST, DOWNLOAD_GROUP_MAX);
}

/* messages given to the parser before the first of them is collected: a download group's,
 * given when the group is in, and the group's before, which the parser works on meanwhile;
 * each is a committed row and a file on disk, so a crash costs none of them */
#define PARSER_QUEUE_MAX (2 * DOWNLOAD_GROUP_MAX)

G_STATIC_ASSERT(SIZE_CHUNK % DOWNLOAD_GROUP_MAX == 0);

typedef enum {
    STEP_ERROR,    /* the pass cannot go on (*error) */
    STEP_DONE,     /* nothing more to do for this UID: the cursor may pass it */
    STEP_RECORDED, /* its row, to be processed and moved */
    STEP_FAILED,   /* this message failed (*error says why): counted, tried again later */
    STEP_WAIT,     /* it failed before and is not due again yet, or has just failed */
} Step;

/* the UID past - 1 is handled: every UID below past is handled (or waits), but for those
 * of the download group still held */
static void pass_over(Pass *p, guint32 past)
{
    for (guint i = 0; p->held && i < p->held->len; i++) {
        if (g_array_index(p->held, guint32, i) == past - 1)
            g_array_remove_index(p->held, i--);
        else
            past = MIN(past, g_array_index(p->held, guint32, i));
    }
    if (p->waiting)
        past = MIN(past, p->waiting_uid);
    /* nor a message still in the parser (the queue's first has the lowest UID) */
    const InParser *first = g_queue_peek_head(&p->in_parser);
    if (first)
        past = MIN(past, first->uid);
    p->next = MAX(p->next, past);
}

static void pass_wait(Pass *p, guint32 uid)
{
    p->waiting_uid = p->waiting ? MIN(p->waiting_uid, uid) : uid;
    p->waiting = TRUE;
}

/* an IMAP failure of one message: the administrator must act on a CONFIG one (a missing
 * folder); anything else is this message's */
static Step imap_step_failed(const GError *e)
{
    return g_error_matches(e, PAHT_ERROR, PAHT_ERROR_CONFIG) ? STEP_ERROR : STEP_FAILED;
}

/* the same for an error of our own, passed on to the caller's */
static Step imap_failed(GError *e, GError **error)
{
    Step step = imap_step_failed(e);
    g_propagate_error(error, e);
    return step;
}

/* A new session after one that broke on a message. If it cannot be had, the mailbox is what
 * failed, not the message. */
static gboolean reconnect(Pass *p, GError **error)
{
    Gateway *gw = p->gw;
    mailbox_disconnect(gw);
    ImapMailboxInfo info = {0};
    if (!imap_ready(gw, error) || !imap_client_select(gw->imap, p->mailbox, &info, error)) {
        mailbox_disconnect(gw);
        return FALSE;
    }
    gw->selected = TRUE;
    gw->uidvalidity = info.uidvalidity;
    p->reconnected = TRUE;
    if (info.uidvalidity != p->uidvalidity) {
        log_notice("UIDVALIDITY of %s changed during the pass (%u -> %u): resynchronising next",
                   p->mailbox, p->uidvalidity, info.uidvalidity);
        p->epoch_changed = TRUE;
    }
    return TRUE;
}

/* The message failed too often: to quarantine, and the IOC told once (in one transaction with
 * the record that it is given up). A crash between the move and that commit leaves the
 * message in quarantine untold; forget_departed forgets its record. */
static gboolean give_up(Pass *p, const ImapMessageInfo *m, const MessageFailure *f, GError **error)
{
    Gateway *gw = p->gw;
    const char *folder = gw->config->imap.quarantine_folder;
    GError *refused = NULL;
    if (!gateway_make_durable(gw, error))
        return FALSE;
    gboolean moved = imap_client_move(gw->imap, m->uid, folder, &refused);
    if (!moved && !g_error_matches(refused, PAHT_ERROR, PAHT_ERROR_PERMANENT)) {
        g_propagate_error(error, refused);
        return FALSE;
    }
    gboolean ok = store_begin(gw->store, error) &&
                  message_failure_give_up(gw->store, p->mailbox, p->uidvalidity, m->uid,
                                          clock_now_unix(), error) &&
                  quarantine_alert_unfetchable(gw, m->uid, m->size, f,
                                               moved ? NULL : refused->message, error) &&
                  store_commit(gw->store, error);
    if (!ok)
        store_rollback(gw->store);
    else if (moved)
        log_warning("message UID %u of %s failed %d times in %" G_GINT64_FORMAT " min: moved to "
                    "%s, the IOC is told",
                    m->uid, p->mailbox, f->failures, (f->last_at - f->first_at) / 60, folder);
    else
        log_warning("message UID %u of %s failed %d times and cannot be moved to %s either (%s): "
                    "left in the inbox and not tried again, the IOC is told",
                    m->uid, p->mailbox, f->failures, folder, refused->message);
    g_clear_error(&refused);
    return ok;
}

/* One more failure of the message at m->uid (why), counted; previous: its failures so far. */
static Step message_failed(Pass *p, const ImapMessageInfo *m, int previous, GError *why,
                           GError **error)
{
    Gateway *gw = p->gw;
    /* the session broke on this message: a new one for the others */
    if (!imap_client_usable(gw->imap) && !reconnect(p, error)) {
        g_error_free(why);
        return STEP_ERROR;
    }
    if (p->epoch_changed) {
        /* its UID means nothing any more: the resynchronisation meets it again */
        g_error_free(why);
        return STEP_WAIT;
    }
    gint64 now = clock_now_unix();
    gint64 delay = retry_delay(previous);
    MessageFailure f = {0};
    gboolean ok = message_failure_add(gw->store, p->mailbox, p->uidvalidity, m->uid, why->message,
                                      now, now + delay, &f, error);
    if (ok)
        log_warning("message UID %u of %s could not be taken (failure %d): %s; the others go on, "
                    "this one is tried again in %" G_GINT64_FORMAT " min",
                    m->uid, p->mailbox, f.failures, why->message, delay / 60);
    g_error_free(why);
    Step step = !ok ? STEP_ERROR : STEP_WAIT;
    if (ok && give_up_due(&f))
        step = give_up(p, m, &f, error) ? STEP_DONE : STEP_ERROR;
    message_failure_clear(&f);
    return step;
}

/* The mail at uid is one recorded before (same bytes, or same Message-ID and body): same. */
static Step found_again(Pass *p, guint32 uid, RawMessage *same, RawMessage **out, GError **error)
{
    Gateway *gw = p->gw;
    if (same->mailbox && g_str_equal(same->mailbox, p->mailbox) &&
        same->uidvalidity == p->uidvalidity) {
        /* the same mail delivered twice (to two of our addresses, say): it leaves with the
         * first, and has no row of its own */
        log_notice("UID %u is message %" G_GINT64_FORMAT " delivered again: not processed twice",
                   uid, same->id);
        move_batch_append(&p->batch, FALSE, uid, 0);
        raw_message_free(same);
        return STEP_DONE;
    }
    /* known from elsewhere (pahtctl ingest, an earlier UIDVALIDITY): it now lives here */
    log_notice("message %" G_GINT64_FORMAT " found again at UID %u: not processed twice", same->id,
               uid);
    gint64 id = same->id;
    raw_message_free(same);
    if (!raw_message_relocate(gw->store, id, p->mailbox, p->uidvalidity, uid, error))
        return STEP_ERROR;
    *out = raw_message_get(gw->store, id, error);
    return *out ? STEP_RECORDED : STEP_ERROR;
}

/* PAHT_TEST_FAULT slow-fetch:SECONDS: every download starts that much later (tests only: a
 * slow server, without a timing race) */
static void test_fault_slow_fetch(void)
{
    g_autofree char *seconds = gateway_test_fault("slow-fetch");
    if (seconds)
        g_usleep((gulong)g_ascii_strtoull(seconds, NULL, 10) * G_USEC_PER_SEC);
}

/* what recording the message at uid came to */
static Step recorded(Pass *p, guint32 uid, RecordOutcome outcome, RawMessage *raw, RawMessage **out,
                     GError **error)
{
    p->last_fetched = MAX(p->last_fetched, uid);
    switch (outcome) {
    case RECORD_FILE_FAILED:
        return STEP_FAILED;
    case RECORD_NEW:
        raw->attempts = 0; /* this first attempt was counted by the insert */
        *out = raw;
        return STEP_RECORDED;
    case RECORD_KNOWN:
        return found_again(p, uid, raw, out, error);
    case RECORD_FAILED:
        break;
    }
    return STEP_ERROR;
}

/* Streams the message at m->uid to disk and records it, unless the same mail is recorded
 * already. */
static Step fetch_and_record(Pass *p, const ImapMessageInfo *m, RawMessage **out, GError **error)
{
    Gateway *gw = p->gw;
    g_autofree char *temp = NULL;
    int fd = fs_open_private_temp(gw->tmp_dir, "fetch-", &temp, error);
    if (fd < 0)
        return STEP_FAILED;
    test_fault_slow_fetch();
    gint64 written = 0;
    GError *local = NULL;
    gboolean fetched = imap_client_fetch_to_fd(
        gw->imap, m->uid, fd, m->size, gw->config->gateway.max_message_bytes, &written, &local);
    close(fd);
    if (!fetched) {
        unlink(temp);
        if (!g_error_matches(local, PAHT_ERROR, PAHT_ERROR_NOT_FOUND))
            return imap_failed(local, error);
        /* gone from the server under us (another client moved it): nothing to do */
        log_notice("UID %u vanished before it could be handled: %s", m->uid, local->message);
        g_error_free(local);
        return STEP_DONE;
    }
    RawPlace place = {p->mailbox, p->uidvalidity, m->uid};
    RawMessage *raw = NULL;
    RecordOutcome outcome = inbound_record_raw_file(gw, temp, &place, &raw, error);
    return recorded(p, m->uid, outcome, raw, out, error);
}

/* SPEC §3.1: a message over max_message_bytes is never downloaded: its sender is answered and
 * it goes to quarantine, where it stays on the server */
static Step set_aside_too_large(Pass *p, const ImapMessageInfo *m, GError **error)
{
    Gateway *gw = p->gw;
    static const char *const fields[] = {"From", "Message-ID", NULL};
    GError *local = NULL;
    g_autoptr(GBytes) head =
        imap_client_fetch_header_fields(gw->imap, m->uid, fields, TOO_LARGE_HEADER_BYTES, &local);
    if (!head)
        return imap_failed(local, error);
    gsize len = 0;
    const char *text = g_bytes_get_data(head, &len);
    g_autofree char *id_value = mail_header_find(text, len, "Message-ID");
    g_autofree char *message_id = mail_message_id_clean(id_value);
    g_autofree char *from = mail_header_find(text, len, "From");
    if (!quarantine_too_large(gw, p->mailbox, p->uidvalidity, m, message_id, from, error) ||
        !gateway_make_durable(gw, error))
        return STEP_ERROR;
    if (!imap_client_move(gw->imap, m->uid, gw->config->imap.quarantine_folder, &local))
        return imap_failed(local, error);
    return STEP_DONE;
}

/* One UID found by the search: what it needs, short of processing (the caller's). */
static Step sync_one(Pass *p, const ImapMessageInfo *m, RawMessage **raw, int *failures,
                     GError **error)
{
    Gateway *gw = p->gw;
    if (!raw_message_find_uid(gw->store, p->mailbox, p->uidvalidity, m->uid, raw, error))
        return STEP_ERROR;
    if (*raw)
        return STEP_RECORDED;
    GError *local = NULL;
    MessageFailure f = {0};
    gboolean failed =
        message_failure_get(gw->store, p->mailbox, p->uidvalidity, m->uid, &f, &local);
    *failures = f.failures;
    Step step;
    if (local) {
        g_propagate_error(error, local);
        step = STEP_ERROR;
    } else if (failed && f.given_up_at) {
        step = STEP_DONE;
    } else if (failed && give_up_due(&f)) {
        step = give_up(p, m, &f, error) ? STEP_DONE : STEP_ERROR;
    } else if (failed && f.next_at > clock_now_unix()) {
        step = STEP_WAIT;
    } else if (m->size > gw->config->gateway.max_message_bytes) {
        step = set_aside_too_large(p, m, error);
    } else {
        step = fetch_and_record(p, m, raw, error);
    }
    if (failed && !f.given_up_at && (step == STEP_DONE || step == STEP_RECORDED) &&
        !message_failure_forget(gw->store, p->mailbox, p->uidvalidity, m->uid, error))
        step = STEP_ERROR;
    message_failure_clear(&f);
    return step;
}

/* the oldest message in the parser: its outcome, and its move to the batch */
static gboolean collect_pending(Pass *p, GError **error)
{
    InParser *first = g_queue_pop_head(&p->in_parser);
    RawMessage *raw = first->raw;
    guint32 uid = first->uid;
    g_free(first);
    gboolean ok = process_end(p->gw, raw, error);
    /* one that waits for its next try is recorded: finish_unfinished takes it up again */
    gboolean over = ok && !still_fetched(raw);
    ok = ok && (!over || batch_add(p->gw, raw, &p->batch, error));
    raw_message_free(raw);
    if (ok) {
        pass_over(p, uid + 1);
        p->handled += over;
    }
    if (++p->unindexed >= SEARCH_CATCH_UP_BATCH) {
        search_catch_up(p->gw);
        p->unindexed = 0;
    }
    return ok;
}

/* whether the oldest message in the parser has its answer */
static gboolean first_answered(Pass *p)
{
    const InParser *first = g_queue_peek_head(&p->in_parser);
    return first && worker_has_answer(p->gw, first->raw->id);
}

/* SIGTERM: the messages queued behind the ones the parser had in hand are not waited for
 * (each could take its time limit): what is answered already is collected, then the parser is
 * ended, and the rest stay "fetched" below the cursor for the next start */
static void abandon_queued(Pass *p)
{
    while (first_answered(p)) {
        GError *e = NULL;
        if (!collect_pending(p, &e)) {
            log_warning("stopping: %s", e->message);
            g_error_free(e);
        }
    }
    if (g_queue_is_empty(&p->in_parser))
        return;
    worker_abandon(p->gw);
    InParser *in;
    while ((in = g_queue_pop_head(&p->in_parser))) {
        raw_message_free(in->raw);
        g_free(in);
    }
}

/* every message in the parser collected (their outcomes stand whatever comes next); after a
 * failure the rest are still collected, and the first error is the one told. A stop finishes
 * the message in the parser's hands, as SIGTERM promises, and leaves the rest. */
static gboolean collect_all(Pass *p, GError **error)
{
    gboolean ok = TRUE;
    while (!g_queue_is_empty(&p->in_parser)) {
        GError *e = NULL;
        if (!collect_pending(p, &e)) {
            if (ok)
                g_propagate_error(error, e);
            else
                g_error_free(e);
            ok = FALSE;
        }
        if (gateway_stopping(p->gw) && !g_queue_is_empty(&p->in_parser))
            abandon_queued(p);
    }
    return ok;
}

/* room in the parser's queue for one more: what it has answered is collected, and the oldest
 * waited for only when the queue is full */
static gboolean make_room(Pass *p, GError **error)
{
    while (!g_queue_is_empty(&p->in_parser) &&
           (g_queue_get_length(&p->in_parser) >= PARSER_QUEUE_MAX || first_answered(p))) {
        if (!collect_pending(p, error))
            return FALSE;
    }
    return TRUE;
}

/* The batch whose sync ran in the background leaves the inbox: at once when wait, else only if
 * its sync is over already. A failed sync, or a pass that may not move (another UIDVALIDITY,
 * no connection), leaves its messages in the inbox, recorded: the next pass moves them
 * (finish_unfinished). */
static gboolean move_synced(Pass *p, gboolean wait, GError **error)
{
    if (!p->sync_job || (!wait && !gateway_durable_ready(p->sync_job)))
        return TRUE;
    gboolean ok = gateway_durable_finish(g_steal_pointer(&p->sync_job), error);
    if (ok && !p->epoch_changed && imap_client_usable(p->gw->imap))
        ok = move_batch_flush(p->gw, &p->syncing, TRUE, error);
    move_batch_reset(&p->syncing);
    return ok;
}

/* A full batch is synced in the background while the pass goes on, and moved when the sync is
 * over: at the next call that finds it over, or at the latest when the next batch is full (one
 * sync at a time) or the pass ends. Its messages were all collected, so their commits came
 * before the sync began. */
static gboolean batch_maybe_flush(Pass *p, GError **error)
{
    if (!move_synced(p, FALSE, error))
        return FALSE;
    if (move_batch_size(&p->batch) < p->batch_max)
        return TRUE;
    if (!move_synced(p, TRUE, error))
        return FALSE;
    log_debug("mailbox: %u messages leave the inbox once a sync of the disk is over, begun "
              "after UID %u",
              move_batch_size(&p->batch), p->last_fetched);
    MoveBatch full = p->batch;
    p->batch = p->syncing;
    p->syncing = full;
    p->sync_job = gateway_make_durable_start(p->gw, move_batch_files(p->gw, &p->syncing));
    return TRUE;
}

/* The message at uid has come to step (its row raw, or the error one): what the parser has
 * answered is collected first (those outcomes stand whatever this one did), then this one is
 * given to the parser, or passed over. No IMAP command: this also runs while a download is
 * under way. */
static gboolean pipeline_message(Pass *p, guint32 uid, Step step, RawMessage *raw, GError *one,
                                 GError **error)
{
    if (!make_room(p, error)) {
        g_clear_error(&one);
        raw_message_free(raw);
        return FALSE;
    }
    switch (step) {
    case STEP_ERROR:
        g_propagate_error(error, one);
        return FALSE;
    case STEP_FAILED: /* not reached: message_failed decides */
    case STEP_WAIT:
        pass_wait(p, uid);
        return TRUE;
    case STEP_DONE:
        pass_over(p, uid + 1);
        p->handled++;
        return TRUE;
    case STEP_RECORDED:
        break;
    }
    gboolean submitted = FALSE;
    if (g_str_equal(raw->state, RAW_FETCHED) && !process_begin(p->gw, raw, &submitted, error)) {
        raw_message_free(raw);
        return FALSE;
    }
    if (submitted) {
        InParser *in = g_new(InParser, 1);
        in->raw = raw;
        in->uid = uid;
        g_queue_push_tail(&p->in_parser, in);
        return TRUE;
    }
    gboolean over = !still_fetched(raw);
    gboolean ok = !over || batch_add(p->gw, raw, &p->batch, error);
    raw_message_free(raw);
    if (!ok)
        return FALSE;
    pass_over(p, uid + 1);
    p->handled += over;
    return TRUE;
}

/* One message, pipelined: it is fetched while the one before it is in the parser. */
static gboolean sync_message(Pass *p, const ImapMessageInfo *m, GError **error)
{
    RawMessage *raw = NULL;
    GError *one = NULL;
    int failures = 0;
    Step step = sync_one(p, m, &raw, &failures, &one);
    if (step == STEP_FAILED) {
        if (!collect_all(p, error)) {
            g_clear_error(&one);
            return FALSE;
        }
        step = message_failed(p, m, failures, g_steal_pointer(&one), &one);
    }
    return pipeline_message(p, m->uid, step, raw, one, error) && batch_maybe_flush(p, error);
}

/* ---- downloads: several messages in one command ---------------------------------------------
 * New messages that need nothing but a download (no row, no failure on record, a size within
 * max_message_bytes) are fetched in groups, one UID FETCH each (imap_client_fetch_bodies):
 * the server streams them back to back. Each is hashed as it is written (no reading it back);
 * the group's are recorded together once it is in, and given to the parser, which works on
 * them while the next group arrives. A message the group did not bring whole (the server
 * skipped it, refused it, or the connection broke on it) is then fetched on its own, which
 * says why and counts its failure: the group changes how fast, never what happens to a
 * message. */

/* a message of the group that arrived whole, to be recorded with the others */
typedef struct {
    guint32 uid;
    char *temp;
    MailFileIdentity identity;
} Arrived;

typedef struct Download {
    Pass *p;
    GArray *group;     /* ImapMessageInfo, ascending UIDs */
    GArray *arrived;   /* Arrived, in the order they came */
    GArray *whole;     /* guint32: the UIDs that arrived whole and were handled */
    GError *error;     /* the pass must stop (the database failed): the rest is dropped */
    gboolean fetched;  /* the command's answer was read whole, and OK */
    GError *failed;    /* ... else why not */
    guint delivered;   /* messages that reached download_end with their UID */
    gboolean recorded; /* record_arrived has run */
    /* the message arriving */
    int fd;
    char *temp;
    FdWriter *writer;
    MailIdentityBuilder *identity;
} Download;

static gboolean download_begin(gpointer data, GError **error)
{
    Download *d = data;
    test_fault_slow_fetch(); /* each message of a group, as each download alone */
    d->fd = fs_open_private_temp(d->p->gw->tmp_dir, "fetch-", &d->temp, error);
    if (d->fd < 0)
        return FALSE;
    d->writer = fd_writer_new(d->fd);
    d->identity = mail_identity_new();
    return TRUE;
}

static gboolean download_write(gpointer data, const void *bytes, gsize len, GError **error)
{
    Download *d = data;
    int err = 0;
    if (!fd_writer_write(d->writer, bytes, len, &err)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot write %s: %s", d->temp,
                    g_strerror(err));
        return FALSE;
    }
    mail_identity_feed(d->identity, bytes, len);
    return TRUE;
}

/* closes the message arriving; TRUE when its file is complete */
static gboolean download_close(Download *d)
{
    int err = 0;
    gboolean ok = fd_writer_flush(d->writer, &err);
    g_clear_pointer(&d->writer, fd_writer_free);
    ok = close(d->fd) == 0 && ok;
    d->fd = -1;
    return ok;
}

static gboolean download_expected(const Download *d, guint32 uid)
{
    for (guint i = 0; i < d->group->len; i++) {
        if (g_array_index(d->group, ImapMessageInfo, i).uid == uid)
            return TRUE;
    }
    return FALSE;
}

/* uid, of a download group, no longer held by it: it arrived whole and is in the parser or
 * handled (from now on it holds the cursor as any message does, the parser's until
 * collected), or the pass dropped the group. FALSE if it was not held. */
static gboolean release_held(Pass *p, guint32 uid)
{
    for (guint i = 0; p->held && i < p->held->len; i++) {
        if (g_array_index(p->held, guint32, i) == uid) {
            g_array_remove_index(p->held, i);
            return TRUE;
        }
    }
    return FALSE;
}

static void download_end(gpointer data, guint32 uid, gint64 size)
{
    Download *d = data;
    Pass *p = d->p;
    g_autofree char *temp = g_steal_pointer(&d->temp);
    MailIdentityBuilder *identity = g_steal_pointer(&d->identity);
    (void)size;
    if (!download_close(d) || uid == 0 || d->error || !download_expected(d, uid)) {
        /* cut off, not ours, or nothing more can be recorded: its own fetch will tell */
        mail_identity_free(identity);
        unlink(temp);
        return;
    }
    gateway_keepalive(p->gw);
    Arrived a = {.uid = uid, .temp = g_steal_pointer(&temp)};
    mail_identity_finish(identity, &a.identity);
    g_array_append_val(d->arrived, a);
}

/* The messages of the group that arrived whole, recorded in one transaction and then each
 * given to the parser (or passed over). Recorded one by one as each arrived, every message
 * took the write lock between two of the parser's, and each waited for the other: the parser
 * sat idle a quarter of an ingest. The parser has the group before's messages meanwhile. */
static void record_arrived(Download *d)
{
    Pass *p = d->p;
    d->recorded = TRUE;
    guint n = d->arrived->len;
    g_autofree FetchedFile *files = g_new0(FetchedFile, n);
    g_autofree RawPlace *places = g_new0(RawPlace, n);
    for (guint i = 0; i < n; i++) {
        Arrived *a = &g_array_index(d->arrived, Arrived, i);
        places[i] = (RawPlace){p->mailbox, p->uidvalidity, a->uid};
        files[i] =
            (FetchedFile){.temp_path = a->temp, .identity = &a->identity, .place = &places[i]};
    }
    GError *failed = NULL;
    gboolean recorded_all = n == 0 || inbound_record_fetched_many(p->gw, files, n, &failed);
    if (!recorded_all && !d->error)
        d->error = g_steal_pointer(&failed);
    g_clear_error(&failed);
    for (guint i = 0; i < n; i++) {
        guint32 uid = g_array_index(d->arrived, Arrived, i).uid;
        FetchedFile *f = &files[i];
        if (f->outcome == RECORD_FILE_FAILED || d->error) {
            /* its own fetch tries again (and counts the failure), or the pass stops */
            g_clear_error(&f->error);
            g_clear_pointer(&f->raw, raw_message_free);
            continue;
        }
        RawMessage *out = NULL;
        GError *one = NULL;
        Step step = recorded(p, uid, f->outcome, f->raw, &out, &one);
        if (pipeline_message(p, uid, step, out, one, &d->error)) {
            g_array_append_val(d->whole, uid);
            release_held(p, uid);
        }
    }
    for (guint i = 0; i < n; i++) {
        Arrived *a = &g_array_index(d->arrived, Arrived, i);
        g_free(a->temp);
        mail_file_identity_clear(&a->identity);
    }
    g_array_set_size(d->arrived, 0);
}

static gboolean download_was_whole(const Download *d, guint32 uid)
{
    for (guint i = 0; i < d->whole->len; i++) {
        if (g_array_index(d->whole, guint32, i) == uid)
            return TRUE;
    }
    return FALSE;
}

static Download *download_new(Pass *p, const GArray *group)
{
    Download *d = g_new0(Download, 1);
    d->p = p;
    d->fd = -1;
    d->group = g_array_copy((GArray *)group);
    d->whole = g_array_new(FALSE, FALSE, sizeof(guint32));
    d->arrived = g_array_new(FALSE, FALSE, sizeof(Arrived));
    if (!p->held)
        p->held = g_array_new(FALSE, FALSE, sizeof(guint32));
    for (guint i = 0; i < group->len; i++)
        g_array_append_val(p->held, g_array_index(group, ImapMessageInfo, i).uid);
    return d;
}

/* what the pass did not get to of d (it stops, it failed) is looked at again by the next; the
 * files of what arrived but was not recorded are removed */
static void download_free(Pass *p, Download *d)
{
    for (guint i = 0; i < d->group->len; i++) {
        guint32 uid = g_array_index(d->group, ImapMessageInfo, i).uid;
        if (release_held(p, uid))
            pass_wait(p, uid);
    }
    for (guint i = 0; i < d->arrived->len; i++) {
        Arrived *a = &g_array_index(d->arrived, Arrived, i);
        unlink(a->temp);
        g_free(a->temp);
        mail_file_identity_clear(&a->identity);
    }
    g_array_unref(d->arrived);
    g_array_unref(d->whole);
    g_array_unref(d->group);
    g_clear_error(&d->error);
    g_clear_error(&d->failed);
    g_free(d);
}

/* d's answer read: its messages recorded (unless they were while the next group arrived),
 * then what did not arrive whole fetched one by one */
static gboolean download_settle(Pass *p, Download *d, GError **error)
{
    Gateway *gw = p->gw;
    if (!d->recorded)
        record_arrived(d);
    gboolean ok = d->fetched;
    GError *failed = g_steal_pointer(&d->failed);
    if (d->error) {
        g_clear_error(&failed);
        g_propagate_error(error, g_steal_pointer(&d->error));
        ok = FALSE;
    } else if (!ok && imap_step_failed(failed) == STEP_ERROR) {
        g_propagate_error(error, failed);
    } else {
        if (!ok)
            log_info("imap: a download of %u messages stopped after %u (%s): the rest one by one",
                     d->group->len, d->delivered, failed->message);
        g_clear_error(&failed);
        ok = (imap_client_usable(gw->imap) || reconnect(p, error)) && batch_maybe_flush(p, error);
        for (guint i = 0; ok && i < d->group->len; i++) {
            const ImapMessageInfo *m = &g_array_index(d->group, ImapMessageInfo, i);
            if (gateway_stopping(gw) || p->epoch_changed)
                break;
            if (!download_was_whole(d, m->uid))
                ok = sync_message(p, m, error);
        }
    }
    download_free(p, d);
    return ok;
}

/* The group received last, settled now: before any command about one message, and at the end
 * of the pass. The next chunk's size FETCH leaves it be, so that it is recorded while the next
 * chunk's first group arrives. After a failure it is dropped (the next pass fetches it
 * again). */
static gboolean settle_received(Pass *p, gboolean ok, GError **error)
{
    Download *d = g_steal_pointer(&p->received);
    if (!d)
        return ok;
    if (ok)
        return download_settle(p, d, error);
    download_free(p, d);
    return FALSE;
}

/* The group downloaded, pipelined: its UID FETCH is sent, the group before it is recorded and
 * given to the parser while the server sends this one, and this one waits for the next. Sent
 * only once the group before was read whole, the command changes no message's order: the
 * group before is settled (its stragglers fetched one by one) before this one is recorded.
 * Recorded between two downloads, the groups of an ingest of 2,000 mails held the server idle
 * for 0.6 s of a 6 s pass. */
static gboolean download_group(Pass *p, GArray *group, GError **error)
{
    Gateway *gw = p->gw;
    Download *d = download_new(p, group);
    g_array_set_size(group, 0);
    Download *before = g_steal_pointer(&p->received);
    gboolean sent = imap_client_fetch_bodies_send(
        gw->imap, &g_array_index(d->group, ImapMessageInfo, 0), d->group->len,
        gw->config->gateway.max_message_bytes, &d->failed);
    if (sent && before)
        log_debug("mailbox: UIDs %u-%u asked for, the %u before them recorded meanwhile",
                  g_array_index(d->group, ImapMessageInfo, 0).uid,
                  g_array_index(d->group, ImapMessageInfo, d->group->len - 1).uid,
                  before->group->len);
    if (before)
        record_arrived(before);
    if (sent && p->unindexed >= p->catch_up_step) {
        log_debug("mailbox: the search index catches up while UIDs %u-%u arrive",
                  g_array_index(d->group, ImapMessageInfo, 0).uid,
                  g_array_index(d->group, ImapMessageInfo, d->group->len - 1).uid);
        search_catch_up(gw);
        p->unindexed = 0;
    }
    if (sent) {
        ImapBodyReceiver rx = {download_begin, download_write, download_end, d};
        d->fetched = imap_client_fetch_bodies_receive(gw->imap, &rx, &d->delivered, &d->failed);
    }
    gboolean ok = !before || download_settle(p, before, error);
    if (!ok) {
        download_free(p, d);
        return FALSE;
    }
    if (d->fetched && !gateway_stopping(gw) && !p->epoch_changed) {
        p->received = d;
        return TRUE;
    }
    return download_settle(p, d, error);
}

/* nothing but a download stands between this UID and its row */
static gboolean downloadable(Pass *p, const ImapMessageInfo *m, gboolean *yes, GError **error)
{
    Gateway *gw = p->gw;
    *yes = FALSE;
    if (m->size < 0 || m->size > gw->config->gateway.max_message_bytes)
        return TRUE;
    g_autoptr(RawMessage) raw = NULL;
    if (!raw_message_find_uid(gw->store, p->mailbox, p->uidvalidity, m->uid, &raw, error))
        return FALSE;
    if (raw)
        return TRUE;
    MessageFailure f = {0};
    gboolean failed = FALSE;
    gboolean ok = failure_on_record(p->gw, p->mailbox, p->uidvalidity, m->uid, &f, &failed, error);
    message_failure_clear(&f);
    *yes = ok && !failed;
    return ok;
}

/* A chunk of UIDs: their sizes in one FETCH, then each message. A size FETCH the server
 * refuses costs no message its turn: each is then downloaded within max_message_bytes.
 * after: how many UIDs of the pass come after the chunk. */
static gboolean sync_chunk(Pass *p, const guint32 *uids, guint n, guint after, GError **error)
{
    Gateway *gw = p->gw;
    GError *refused = NULL;
    g_autoptr(GArray) sizes = imap_client_fetch_sizes(gw->imap, uids, n, &refused);
    if (!sizes) {
        if (imap_step_failed(refused) == STEP_ERROR) {
            g_propagate_error(error, refused);
            return FALSE;
        }
        log_warning("%s; the messages are fetched without their sizes", refused->message);
        g_clear_error(&refused);
        if (!imap_client_usable(gw->imap) && !reconnect(p, error))
            return FALSE;
        sizes = g_array_new(FALSE, FALSE, sizeof(ImapMessageInfo));
    }
    g_autoptr(GArray) group = g_array_new(FALSE, FALSE, sizeof(ImapMessageInfo));
    gint64 group_bytes = 0;
    guint limit = DOWNLOAD_GROUP_MAX;
    gboolean ok = TRUE;
    guint k = 0;
    for (guint j = 0; j < n && ok; j++) {
        if (gateway_stopping(gw) || p->epoch_changed)
            break; /* SIGTERM: the message in hand is finished; the rest can wait */
        gateway_keepalive(gw);
        ImapMessageInfo m = {uids[j], -1};
        while (k < sizes->len && g_array_index(sizes, ImapMessageInfo, k).uid < uids[j])
            k++;
        if (k < sizes->len && g_array_index(sizes, ImapMessageInfo, k).uid == uids[j])
            m.size = g_array_index(sizes, ImapMessageInfo, k).size;
        gboolean plain = FALSE;
        if (!downloadable(p, &m, &plain, error))
            return FALSE; /* sync_new drops the group received last */
        if (plain && group->len > 0 && group_bytes + m.size > DOWNLOAD_GROUP_BYTES)
            ok = download_group(p, group, error);
        if (ok && plain) {
            if (group->len == 0) {
                group_bytes = 0;
                limit = group_limit(n - j + after); /* this UID and those after it */
            }
            group_bytes += m.size;
            g_array_append_val(group, m);
            if (group->len >= limit)
                ok = download_group(p, group, error);
            continue;
        }
        /* in UID order: the group before this one */
        if (ok && group->len > 0)
            ok = download_group(p, group, error);
        ok = settle_received(p, ok, error);
        if (ok)
            ok = sync_message(p, &m, error);
    }
    if (ok && group->len > 0 && !gateway_stopping(gw) && !p->epoch_changed)
        ok = download_group(p, group, error);
    /* the group received last is recorded while the next chunk's first arrives (or by sync_new
     * at the end, which also drops it after a failure) */
    return ok;
}

/* Failure records of UIDs from first on that the search no longer lists: the messages left
 * the inbox (another client, or a crash right after a move to quarantine). */
static gboolean forget_departed(Pass *p, guint32 first, const GArray *uids, GError **error)
{
    g_autoptr(GArray) failed =
        message_failure_uids(p->gw->store, p->mailbox, p->uidvalidity, error);
    if (!failed)
        return FALSE;
    for (guint i = 0; i < failed->len; i++) {
        guint32 uid = g_array_index(failed, guint32, i);
        gboolean listed = FALSE;
        for (guint j = 0; j < uids->len && !listed; j++)
            listed = g_array_index(uids, guint32, j) == uid;
        if (uid >= first && !listed &&
            !message_failure_forget(p->gw->store, p->mailbox, p->uidvalidity, uid, error))
            return FALSE;
    }
    return TRUE;
}

/* every submit is collected, and what is committed leaves the inbox now, also after a failure
 * further on (never into a mailbox whose UIDs changed meaning) */
static gboolean pass_finish(Pass *p, gboolean ok, GError **error)
{
    GError *last = NULL;
    /* with no sync under way, what the pass wrote since the last one (the raw files of a batch
     * of up to MOVE_BATCH_MAX) starts on its way to the disk while the parser finishes: the
     * last batch's own sync, after it, finds little left to write. A sync ahead costs nothing
     * but its time in a thread, and a small pass is not worth one. */
    guint pending = move_batch_size(&p->batch) + g_queue_get_length(&p->in_parser);
    if (!p->sync_job && pending >= DOWNLOAD_GROUP_MAX) {
        log_debug("mailbox: the disk syncs while the parser finishes the last %u messages",
                  g_queue_get_length(&p->in_parser));
        p->sync_job = gateway_make_durable_start(p->gw, NULL);
    }
    if (!collect_all(p, &last)) {
        if (ok)
            g_propagate_error(error, g_steal_pointer(&last));
        g_clear_error(&last);
        ok = FALSE;
    }
    if (!move_synced(p, TRUE, &last)) {
        if (ok)
            g_propagate_error(error, g_steal_pointer(&last));
        g_clear_error(&last);
        ok = FALSE;
    }
    if (move_batch_size(&p->batch) == 0 || p->epoch_changed || !imap_client_usable(p->gw->imap))
        return ok;
    /* the last batch's sync runs in a thread while the search index catches up: the index is
     * derived from the rows and need not be on the disk before the move. A sync that fails
     * there is done again, and told, by the move's own (move_side). */
    gboolean synced = FALSE;
    if (ok) {
        DurableJob *job = gateway_make_durable_start(p->gw, move_batch_files(p->gw, &p->batch));
        log_debug("mailbox: the search index catches up while the last %u messages sync",
                  move_batch_size(&p->batch));
        search_catch_up(p->gw);
        p->unindexed = 0;
        synced = gateway_durable_finish(job, &last);
        g_clear_error(&last);
    }
    if (!move_batch_flush(p->gw, &p->batch, synced, &last)) {
        if (ok)
            g_propagate_error(error, g_steal_pointer(&last));
        g_clear_error(&last);
        ok = FALSE;
    }
    return ok;
}

typedef struct {
    guint32 next;      /* where the next pass starts */
    gboolean complete; /* no message waits below UIDNEXT: the cursor may go there */
    gboolean again;    /* the session was replaced: look again next time without news */
    int handled;
} PassResult;

/* PAHT_TEST_FAULT name:N (tests only), N a positive multiple of multiple_of; else fallback */
static guint test_fault_number(const char *name, guint fallback, guint multiple_of)
{
    g_autofree char *value = gateway_test_fault(name);
    int n = value ? atoi(value) : 0;
    return n > 0 && (guint)n % multiple_of == 0 ? (guint)n : fallback;
}

/* The new UIDs from first on: each recorded, processed and moved, in order. */
static gboolean sync_new(Gateway *gw, const char *mailbox, guint32 uidvalidity, guint32 first,
                         PassResult *out, GError **error)
{
    g_autoptr(GArray) uids = imap_client_search_from(gw->imap, first, error);
    if (!uids)
        return FALSE;
    Pass p = {.gw = gw, .mailbox = mailbox, .uidvalidity = uidvalidity, .next = first};
    if (!forget_departed(&p, first, uids, error))
        return FALSE;
    move_batch_init(&p.batch);
    move_batch_init(&p.syncing);
    /* tests only (PAHT_TEST_FAULT): batches of N, so that a test sees several; the search
     * index caught up every N messages; chunks of N UIDs, so that a test sees a chunk's end
     * without 512 mails */
    p.batch_max = test_fault_number("move-batch", MOVE_BATCH_MAX, 1);
    p.catch_up_step = test_fault_number("search-step", SEARCH_CATCH_UP_STEP, 1);
    guint chunk = test_fault_number("size-chunk", SIZE_CHUNK, DOWNLOAD_GROUP_MAX);
    gboolean ok = TRUE;
    for (guint i = 0; i < uids->len && ok && !p.epoch_changed && !gateway_stopping(gw);
         i += chunk) {
        guint n = MIN(chunk, uids->len - i);
        ok = sync_chunk(&p, &g_array_index(uids, guint32, i), n, uids->len - i - n, error);
    }
    ok = settle_received(&p, ok, error);
    ok = pass_finish(&p, ok, error);
    g_clear_pointer(&p.held, g_array_unref);
    move_batch_clear(&p.batch);
    move_batch_clear(&p.syncing);
    out->next = p.next;
    out->complete = !p.waiting && !p.epoch_changed;
    out->again = p.reconnected;
    out->handled += p.handled;
    return ok;
}

/* SELECT once per connection: its UIDNEXT tells whether anything came meanwhile */
static gboolean select_inbox(Gateway *gw, const char *mailbox, ImapMailboxInfo *info,
                             GError **error)
{
    if (!imap_client_select(gw->imap, mailbox, info, error))
        return FALSE;
    gw->selected = TRUE;
    gw->uidvalidity = info->uidvalidity;
    return TRUE;
}

static gboolean sync_pass(Gateway *gw, int *processed, GError **error)
{
    const Config *c = gw->config;
    const char *mailbox = c->imap.server.path;
    if (processed)
        *processed = 0;
    if (!imap_ready(gw, error)) {
        mailbox_disconnect(gw);
        return FALSE;
    }

    ImapMailboxInfo info = {0};
    gboolean fresh = !gw->selected;
    if (fresh && !select_inbox(gw, mailbox, &info, error)) {
        mailbox_disconnect(gw);
        return FALSE;
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
    if (seen && !same_epoch) {
        log_notice("UIDVALIDITY of %s changed (%u -> %u): resynchronising by content", mailbox,
                   known.uidvalidity, uidvalidity);
        if (!message_failure_forget_epochs(gw->store, mailbox, uidvalidity, error))
            return FALSE;
    }
    guint32 first = same_epoch && known.uidnext > 0 ? known.uidnext : 1;

    gboolean look;
    if (fresh)
        look = info.exists > 0 && (!same_epoch || info.uidnext == 0 || info.uidnext > first);
    else
        look = gw->sync_pending || imap_client_has_news(gw->imap);
    /* a message that failed before is due for another try, news or not */
    if (!look &&
        !message_failure_any_due(gw->store, mailbox, uidvalidity, clock_now_unix(), &look, error))
        return FALSE;
    gw->sync_pending = TRUE; /* until this pass ends well */

    PassResult pass = {.next = first, .complete = TRUE};
    gboolean ok = finish_unfinished(gw, mailbox, uidvalidity, &pass.handled, error);
    if (ok)
        gw->recovering = FALSE;
    if (ok && !gw->sync_failed)
        gw->files_unsure = FALSE;
    if (ok && look && !gateway_stopping(gw))
        ok = sync_new(gw, mailbox, uidvalidity, first, &pass, error);
    guint32 next = pass.next;
    if (ok && pass.complete && !gateway_stopping(gw) && fresh && info.uidnext > next)
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
        *processed = pass.handled;
    gw->sync_pending = !ok || pass.again || gateway_stopping(gw);
    return ok;
}

gboolean mailbox_sync(Gateway *gw, int *processed, GError **error)
{
    GError *local = NULL;
    /* after a sync that failed, the disk is tried again first; this pass then checks the
     * files of what is still in the inbox before any of it leaves (finish_unfinished) */
    if (gw->sync_failed && !gateway_sync_retry(gw, &local)) {
        gw->failed_at_server = FALSE; /* the disk's: the gateway's side */
        g_propagate_error(error, local);
        return FALSE;
    }
    /* group commit for the pass (gateway.c): one sync before each batch leaves the inbox, and
     * one at its end, also after a failure, before any letter it enqueued can be sent */
    gboolean ok = gateway_defer_sync(gw, &local) && sync_pass(gw, processed, &local);
    search_catch_up(gw);
    GError *sync_error = NULL;
    if (!gateway_sync_each(gw, &sync_error)) {
        if (ok)
            local = g_steal_pointer(&sync_error);
        else
            log_error("%s", sync_error->message);
        g_clear_error(&sync_error);
        ok = FALSE;
    }
    if (ok)
        return TRUE;
    /* whose failure it was, for the daemon's alerts: asked before the session is closed */
    gw->failed_at_server = imap_client_server_failed(gw->imap);
    /* a temporary failure (a dropped connection, a timeout) leaves the session in a state
     * nobody knows: the next pass connects again, whether or not the caller asked for the
     * error */
    if (g_error_matches(local, PAHT_ERROR, PAHT_ERROR_TEMPORARY))
        mailbox_disconnect(gw);
    if (local)
        g_propagate_error(error, local);
    return FALSE;
}
