/* gateway: fetch (imap) -> record (queue) -> parse (parse) -> decide (queue) -> answer (notify).
 *
 * The invariant everything here keeps (SPEC §8): a message is moved out of the inbox only
 * after its raw copy, its draft, its attachments and its answers are committed; a crash at
 * any point leaves it either unrecorded and still in the inbox, or recorded exactly once. */
#include "app/gateway.h"
#include "app/letters.h"
#include "imap/imap.h"
#include "notify/notify.h"
#include "parse/parse.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* a message whose processing was started this many times without finishing (the process
 * died each time: a crash in a library, a hang killed by the watchdog) is set aside */
#define MAX_PROCESSING_ATTEMPTS 3
/* an outbox lease: longer than any single SMTP transaction can take */
#define OUTBOX_LEASE_SECONDS 300
/* temporary SMTP failures are retried for this long (SPEC §8) */
#define OUTBOX_RETRY_HORIZON (3 * 24 * 3600)

struct Gateway {
    const Config *config;
    Store *store;
    char *raw_dir, *att_dir, *tmp_dir;
    ImapClient *imap;
    gboolean folders_ready;
    SmtpSender *smtp;
};

Store *gateway_store(Gateway *gw)
{
    return gw->store;
}

const Config *gateway_config(Gateway *gw)
{
    return gw->config;
}

void ingest_result_clear(IngestResult *r)
{
    g_clear_pointer(&r->code, g_free);
    g_clear_pointer(&r->classification, g_free);
    memset(r, 0, sizeof *r);
}

/* ---- setup ----------------------------------------------------------------------------------- */

static void remove_tree(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    if (dir) {
        const char *name;
        while ((name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
                !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
                remove_tree(child);
            else
                unlink(child);
        }
        g_dir_close(dir);
    }
    rmdir(path);
}

/* Work folders are per process ("tmp/<pid>.XXXXXX") so that pahtctl and pahtd never clean
 * up each other's work; those of processes that died are removed here. */
static void remove_stale_work(const char *tmp_root)
{
    GDir *dir = g_dir_open(tmp_root, 0, NULL);
    if (!dir)
        return;
    const char *name;
    while ((name = g_dir_read_name(dir))) {
        char *end = NULL;
        long pid = strtol(name, &end, 10);
        if (pid <= 0 || !end || *end != '.')
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        g_autofree char *path = g_build_filename(tmp_root, name, NULL);
        remove_tree(path);
    }
    g_dir_close(dir);
}

Gateway *gateway_open(const Config *config, GError **error)
{
    g_autoptr(Gateway) gw = g_new0(Gateway, 1);
    gw->config = config;
    gw->raw_dir = g_build_filename(config->gateway.data_dir, "raw", NULL);
    gw->att_dir = g_build_filename(config->gateway.data_dir, "att", NULL);
    g_autofree char *tmp_root = g_build_filename(config->gateway.data_dir, "tmp", NULL);
    if (!fs_make_private_dir(config->gateway.data_dir, error) ||
        !fs_make_private_dir(gw->raw_dir, error) || !fs_make_private_dir(gw->att_dir, error) ||
        !fs_make_private_dir(tmp_root, error))
        return NULL;
    remove_stale_work(tmp_root);
    g_autofree char *template = g_strdup_printf("%s/%d.XXXXXX", tmp_root, (int)getpid());
    if (!g_mkdtemp_full(template, 0700)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot create %s: %s", template,
                    g_strerror(errno));
        return NULL;
    }
    gw->tmp_dir = g_steal_pointer(&template);
    gw->store = store_open(config->gateway.database, error);
    if (!gw->store)
        return NULL;
    parse_init();
    return g_steal_pointer(&gw);
}

void gateway_close(Gateway *gw)
{
    if (!gw)
        return;
    imap_client_close(gw->imap);
    smtp_sender_free(gw->smtp);
    store_close(gw->store);
    if (gw->tmp_dir)
        remove_tree(gw->tmp_dir);
    g_free(gw->raw_dir);
    g_free(gw->att_dir);
    g_free(gw->tmp_dir);
    g_free(gw);
}

int gateway_lock_fetcher(const Config *config, GError **error)
{
    g_autofree char *path = g_strconcat(config->gateway.database, ".lock", NULL);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "cannot open lock %s: %s", path,
                    g_strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char holder[32] = "";
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = 0;
        g_strstrip(holder);
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "another pahtd (pid %s) is already running on %s; only one may fetch "
                    "from a database",
                    *holder ? holder : "?", config->gateway.database);
        close(fd);
        return -1;
    }
    g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, strlen(pid), 0) < 0)
        log_debug("cannot write pid to %s", path);
    return fd;
}

/* ---- inbound --------------------------------------------------------------------------------- */

/* Stores the attachments parse streamed into its work folder at their content-addressed
 * places (durable before the commit that refers to them). */
static gboolean commit_attachments(Gateway *gw, Draft *draft, GError **error)
{
    for (guint i = 0; i < draft->attachments->len; i++) {
        DraftAttachment *a = g_ptr_array_index(draft->attachments, i);
        g_autofree char *final = fs_content_path(gw->att_dir, a->sha256, NULL, error);
        if (!final || !fs_commit_content(a->path, final, error))
            return FALSE;
        g_free(a->path);
        a->path = g_steal_pointer(&final);
    }
    return TRUE;
}

/* The decision and the answers, in the caller's transaction. */
static gboolean decide(Gateway *gw, gint64 raw_id, const Draft *draft, gint64 received_at,
                       IngestResult *out, GError **error)
{
    const char *classification = draft->classification ? draft->classification : "report";
    out->classification = g_strdup(classification);
    /* auto-replies and bounces are recorded, never answered and never drafted (SPEC §3.5) */
    if (g_str_equal(classification, "auto") || g_str_equal(classification, "bounce"))
        return raw_message_mark_processed(gw->store, raw_id, classification, 0, error);

    ReportRef ref = {0};
    if (!report_create(gw->store, draft, gw->config->gateway.code_prefix, gw->config->calendar.zone,
                       received_at, raw_id, &ref, error))
        return FALSE;
    out->report_id = ref.id;
    out->code = g_strdup(ref.code);
    gboolean ok =
        letters_answer_new_report(gw->config, gw->store, &ref, draft, received_at, error) &&
        raw_message_mark_processed(gw->store, raw_id, classification, ref.id, error);
    report_ref_clear(&ref);
    return ok;
}

/* Parses a recorded raw message and commits what it becomes. A message parse refuses is
 * marked unparsed (kept, never lost) and reported in out->unparsed: that is not an error. */
static gboolean process_raw(Gateway *gw, const RawMessage *raw, IngestResult *out, GError **error)
{
    out->raw_id = raw->id;
    g_autofree char *work = g_build_filename(gw->tmp_dir, "parse-XXXXXX", NULL);
    if (!g_mkdtemp_full(work, 0700)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot create %s: %s", work,
                    g_strerror(errno));
        return FALSE;
    }
    ParseOptions opts = {
        .attachments_dir = work,
        .our_address = gw->config->smtp.from,
        .keywords_file = gw->config->gateway.keywords_file,
    };
    GError *parse_error = NULL;
    g_autoptr(Draft) draft = parse_message_file(raw->path, &opts, &parse_error);
    if (!draft) {
        remove_tree(work);
        if (!g_error_matches(parse_error, PAHT_ERROR, PAHT_ERROR_INPUT)) {
            g_propagate_error(error, parse_error);
            return FALSE;
        }
        log_warning("message %" G_GINT64_FORMAT " cannot be parsed and is kept aside: %s", raw->id,
                    parse_error->message);
        gboolean ok =
            raw_message_set_state(gw->store, raw->id, "unparsed", parse_error->message, error);
        g_error_free(parse_error);
        out->unparsed = TRUE;
        out->classification = g_strdup("unparsed");
        return ok;
    }
    gboolean ok = commit_attachments(gw, draft, error);
    if (ok && (ok = store_begin(gw->store, error))) {
        ok = decide(gw, raw->id, draft, raw->received_at, out, error) &&
             store_commit(gw->store, error);
        if (!ok)
            store_rollback(gw->store);
    }
    remove_tree(work);
    if (ok)
        log_info("message %" G_GINT64_FORMAT " -> %s%s%s", raw->id, out->classification,
                 out->code ? " " : "", out->code ? out->code : "");
    return ok;
}

/* Takes a finished temp file into the raw store: content-addressed, durable. */
static char *commit_raw_file(Gateway *gw, const char *temp_path, char **sha256_out,
                             gint64 *size_out, GError **error)
{
    g_autofree char *sha = sha256_file(temp_path, size_out, error);
    if (!sha)
        return NULL;
    g_autofree char *final = fs_content_path(gw->raw_dir, sha, ".eml", error);
    if (!final || !fs_commit_content(temp_path, final, error))
        return NULL;
    *sha256_out = g_steal_pointer(&sha);
    return g_steal_pointer(&final);
}

gboolean gateway_ingest_file(Gateway *gw, const char *path, IngestResult *out, GError **error)
{
    memset(out, 0, sizeof *out);
    /* a private copy first: the caller's file may change or vanish */
    g_autofree char *temp = NULL;
    int fd = fs_open_private_temp(gw->tmp_dir, "ingest-", &temp, error);
    if (fd < 0)
        return FALSE;
    close(fd);
    g_autoptr(GFile) src = g_file_new_for_path(path);
    g_autoptr(GFile) dst = g_file_new_for_path(temp);
    GError *local = NULL;
    if (!g_file_copy(src, dst, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, &local)) {
        unlink(temp);
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "%s", local->message);
        g_error_free(local);
        return FALSE;
    }
    g_autofree char *sha = NULL;
    gint64 size = 0;
    g_autofree char *stored = commit_raw_file(gw, temp, &sha, &size, error);
    if (!stored) {
        unlink(temp);
        return FALSE;
    }
    g_autoptr(RawMessage) existing = raw_message_find_content(gw->store, NULL, sha, error);
    if (!existing && error && *error)
        return FALSE;
    if (existing && !g_str_equal(existing->state, "fetched")) {
        out->raw_id = existing->id;
        out->report_id = existing->report_id;
        out->duplicate = TRUE;
        out->unparsed = g_str_equal(existing->state, "unparsed");
        out->classification =
            g_strdup(existing->classification ? existing->classification : existing->state);
        if (existing->report_id > 0) {
            g_autoptr(Report) r = report_load_id(gw->store, existing->report_id, NULL);
            if (r)
                out->code = g_strdup(r->code);
        }
        return TRUE;
    }
    RawMessage raw = {
        .sha256 = sha,
        .path = stored,
        .size = size,
        .received_at = clock_now_unix(),
    };
    if (existing) {
        /* recorded before but never finished (a crash mid-parse): finish it now */
        return process_raw(gw, existing, out, error);
    }
    raw.id = raw_message_insert(gw->store, &raw, error);
    if (!raw.id)
        return FALSE;
    return process_raw(gw, &raw, out, error);
}

/* ---- IMAP ------------------------------------------------------------------------------------ */

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
        g_autofree char *stored = commit_raw_file(gw, temp, &sha, &size, error);
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
        gboolean ok = process_raw(gw, raw, &result, error);
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

/* ---- outbound -------------------------------------------------------------------------------- */

static gint64 retry_delay(int attempts)
{
    /* 1, 2, 4 ... minutes, at most 2 hours, with jitter so a crowd of letters does not
     * retry in lockstep */
    gint64 base = 60;
    for (int i = 1; i < attempts && base < 7200; i++)
        base *= 2;
    if (base > 7200)
        base = 7200;
    return base + g_random_int_range(0, (gint32)(base / 4) + 1);
}

gboolean gateway_flush_outbox(Gateway *gw, int *sent, int *failed, GError **error)
{
    const Config *c = gw->config;
    int n_sent = 0, n_failed = 0;
    if (!gw->smtp) {
        SmtpOptions opts = {
            .host = c->smtp.server.host,
            .port = c->smtp.server.port,
            .implicit_tls = c->smtp.server.implicit_tls,
            .tls_verify = c->smtp.tls_verify,
            .ca_file = c->smtp.ca_file,
            .user = c->smtp.user,
            .password = c->smtp.password,
            .timeout_seconds = c->smtp.timeout_seconds,
        };
        gw->smtp = smtp_sender_new(&opts);
    }
    for (;;) {
        gint64 now = clock_now_unix();
        g_autoptr(OutboxClaim) claim =
            outbox_claim_next(gw->store, now, OUTBOX_LEASE_SECONDS, error);
        if (!claim) {
            if (error && *error)
                return FALSE;
            break;
        }
        g_autofree char *reply = NULL;
        GError *send_error = NULL;
        OutboxOutcome outcome = OUTBOX_SENT;
        gint64 retry_at = 0;
        if (!smtp_sender_send(gw->smtp, claim->mail_from, claim->rcpt, claim->message, &reply,
                              &send_error)) {
            if (!reply)
                reply = g_strdup(send_error->message);
            switch (send_error->code) {
            case PAHT_ERROR_PERMANENT:
                outcome = OUTBOX_FAILED;
                break;
            case PAHT_ERROR_CONFIG:
                outcome = OUTBOX_HOLD;
                retry_at = now + 300;
                break;
            default:
                if (now - claim->created_at >= OUTBOX_RETRY_HORIZON) {
                    outcome = OUTBOX_FAILED;
                } else {
                    outcome = OUTBOX_RETRY;
                    retry_at = now + retry_delay(claim->attempts);
                }
                break;
            }
        }
        g_autofree char *who = log_redact_address(claim->rcpt);
        if (outcome == OUTBOX_SENT) {
            n_sent++;
            log_info("letter %" G_GINT64_FORMAT " (%s) sent to %s", claim->id, claim->kind, who);
        } else {
            log_warning("letter %" G_GINT64_FORMAT " (%s) to %s: %s", claim->id, claim->kind, who,
                        send_error->message);
            if (outcome == OUTBOX_FAILED)
                n_failed++;
        }
        gboolean config_problem = outcome == OUTBOX_HOLD;
        g_clear_error(&send_error);
        if (!outbox_complete(gw->store, claim, outcome, reply, retry_at, error))
            return FALSE;
        /* our side is broken: every other letter would fail the same way */
        if (config_problem)
            break;
    }
    if (sent)
        *sent = n_sent;
    if (failed)
        *failed = n_failed;
    return TRUE;
}

/* ---- the daemon ------------------------------------------------------------------------------ */

static gboolean wait_or_stop(const RunOptions *options, int seconds)
{
    for (int i = 0; i < seconds * 10; i++) {
        if (options->stop_requested && *options->stop_requested)
            return FALSE;
        g_usleep(100 * 1000);
    }
    return !(options->stop_requested && *options->stop_requested);
}

gboolean gateway_run(Gateway *gw, const RunOptions *options, GError **error)
{
    const Config *c = gw->config;
    gboolean mailbox_ok = TRUE;
    for (;;) {
        int processed = 0;
        GError *sync_error = NULL;
        if (gateway_sync_mailbox(gw, &processed, &sync_error)) {
            if (!mailbox_ok)
                log_notice("mailbox %s reachable again", c->imap.server.host);
            mailbox_ok = TRUE;
        } else {
            if (options->once) {
                g_propagate_error(error, sync_error);
                /* still send what is queued: the outbox does not depend on the mailbox */
                gateway_flush_outbox(gw, NULL, NULL, NULL);
                return FALSE;
            }
            if (mailbox_ok)
                log_error("mailbox: %s", sync_error->message);
            mailbox_ok = FALSE;
            g_error_free(sync_error);
        }
        GError *flush_error = NULL;
        if (!gateway_flush_outbox(gw, NULL, NULL, &flush_error)) {
            log_error("outbox: %s", flush_error->message);
            if (options->once) {
                g_propagate_error(error, flush_error);
                return FALSE;
            }
            g_error_free(flush_error);
        }
        if (options->once)
            return TRUE;
        if (!wait_or_stop(options, c->imap.poll_seconds))
            return TRUE;
    }
}
