/* inbound: record -> parse -> decide and answer, for one message already on disk. */
#include "gateway/gateway_private.h"
#include "letters/letters.h"
#include "parse/parse.h"
#include "util/util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void ingest_result_clear(IngestResult *r)
{
    g_clear_pointer(&r->code, g_free);
    g_clear_pointer(&r->classification, g_free);
    memset(r, 0, sizeof *r);
}

/* Stores the attachments parse streamed into its work folder at their content-addressed
 * places (durable before the commit that refers to them). */
static gboolean commit_attachments(Gateway *gw, Draft *draft, GError **error)
{
    for (guint i = 0; i < draft->attachments->len; i++) {
        DraftAttachment *a = g_ptr_array_index(draft->attachments, i);
        g_autofree char *final =
            fs_content_path_when(gw->att_dir, a->sha256, NULL, gateway_sync_when(gw), error);
        if (!final || !fs_commit_content(a->path, final, a->sha256, gateway_sync_when(gw), error))
            return FALSE;
        g_free(a->path);
        a->path = g_steal_pointer(&final);
    }
    return TRUE;
}

/* auto-replies and bounces: recorded, never answered and never drafted (SPEC §3.5) */
static gboolean is_automatic(const Draft *draft)
{
    const char *c = draft->classification ? draft->classification : CLASSIFICATION_REPORT;
    return g_str_equal(c, CLASSIFICATION_AUTO) || g_str_equal(c, CLASSIFICATION_BOUNCE);
}

/* Điều 7.3: a report that waits for the IOC has its 4-working-hour deadline from since on,
 * opened in this transaction: the acknowledgement enqueued with it states it */
static gboolean report_waits(Gateway *gw, gint64 report_id, gint64 since, GError **error)
{
    g_autoptr(Calendar) calendar = calendar_new_from_config(gw->config);
    Lifecycle lc = {.config = gw->config, .calendar = calendar, .actor = "pahtd"};
    return lifecycle_report_waits(gw->store, &lc, report_id, since, error);
}

/* A citizen's reply, added to its report in the caller's transaction (SPEC §3.5), with what
 * it causes: feedback or a rating on a published result (Điều 10), else the answers. */
static gboolean add_reply(Gateway *gw, gint64 raw_id, const Draft *draft, const ReplyMatch *match,
                          GError **error)
{
    ReplyOutcome outcome = {0};
    if (!reply_add_to_report(gw->store, match->report_id, draft, raw_id, match->how, &outcome,
                             error))
        return FALSE;
    gboolean ok = TRUE;
    if (g_str_equal(outcome.state_before, "published") ||
        g_str_equal(outcome.state_before, "closed")) {
        /* feedback on the result (Điều 10.1) or a satisfaction rating (Điều 10.3), in this
         * transaction (a savepoint of its own) */
        GError *refused = NULL;
        ok = lifecycle_letters_citizen_reply(gw->config, gw->store, "citizen", match->report_id,
                                             draft->text ? draft->text : "", NULL, &refused);
        if (!ok && g_error_matches(refused, PAHT_ERROR, PAHT_ERROR_REFUSED)) {
            /* e.g. a second rating: the reply stays recorded as its citizen_reply event */
            log_info("reply to %s kept as an event: %s", match->code, refused->message);
            g_clear_error(&refused);
            ok = TRUE;
        } else if (!ok) {
            g_propagate_error(error, refused);
        }
    } else {
        ok = (!outcome.completed || report_waits(gw, match->report_id, clock_now_unix(), error)) &&
             letters_answer_reply(gw->config, gw->store, match, &outcome, draft, raw_id, error);
    }
    reply_outcome_clear(&outcome);
    return ok;
}

static gboolean processed_as_reply(Gateway *gw, gint64 raw_id, const ReplyMatch *match,
                                   IngestResult *out, GError **error)
{
    g_free(out->classification);
    out->classification = g_strdup(CLASSIFICATION_REPLY);
    out->report_id = match->report_id;
    out->code = g_strdup(match->code);
    return raw_message_mark_processed(gw->store, raw_id, CLASSIFICATION_REPLY, match->report_id,
                                      error);
}

/* a mail to a reply address that acts (report_id 0: an unknown address): a reply */
static gboolean processed_as_agency_mail(Gateway *gw, gint64 raw_id, gint64 report_id,
                                         IngestResult *out, GError **error)
{
    g_free(out->classification);
    out->classification = g_strdup(CLASSIFICATION_REPLY);
    out->report_id = report_id;
    if (report_id > 0) {
        g_autoptr(Report) r = report_load_id(gw->store, report_id, error);
        if (!r)
            return FALSE;
        out->code = g_strdup(r->code);
    }
    return raw_message_mark_processed(gw->store, raw_id, CLASSIFICATION_REPLY, report_id, error);
}

/* A reply whose sender proved to be the citizen (ReplyMatch.proven) and that the MX did not
 * doubt: added to its report, never a new one. */
static gboolean decide_reply(Gateway *gw, gint64 raw_id, const Draft *draft,
                             const ReplyMatch *match, IngestResult *out, GError **error)
{
    return add_reply(gw, raw_id, draft, match, error) &&
           processed_as_reply(gw, raw_id, match, out, error);
}

/* Issue 11: a reply tied to its report only by its From address (forgeable: codes are
 * sequential and agencies see citizens' addresses), or one the MX doubts, changes nothing
 * and is answered by nothing until the IOC confirms it: no rating, no completed draft, no
 * letter to an address that may not be the citizen's. */
static gboolean decide_pending(Gateway *gw, gint64 raw_id, const Draft *draft,
                               const ReplyMatch *match, const char *suspect, IngestResult *out,
                               GError **error)
{
    const char *reason =
        suspect ? suspect
                : "only its From address, which anyone can forge, ties it to the report: it "
                  "answers none of our letters and was not sent to the report's reply address";
    gint64 pending = 0;
    return pending_reply_add(gw->store, match->report_id, raw_id, draft->from_address, match->how,
                             reason, &pending, error) &&
           letters_supplement_pending(gw->config, gw->store, pending, match, draft, raw_id,
                                      error) &&
           processed_as_reply(gw, raw_id, match, out, error);
}

/* a new report from a sender the MX doubts: marked, and answered by nothing automatic */
static gboolean mark_unverified(Gateway *gw, const ReportRef *ref, const char *suspect,
                                GError **error)
{
    g_autofree char *why = g_strdup_printf("%s; no automatic answer was sent (the IOC may send "
                                           "it: pahtctl answer %s)",
                                           suspect, ref->code);
    return event_add(gw->store, ref->id, "pahtd", "sender_unverified", why, error);
}

/* The decision and the answers, in the caller's transaction (SPEC §3.5-3.6). */
static gboolean decide(Gateway *gw, gint64 raw_id, const Draft *draft, gint64 received_at,
                       IngestResult *out, GError **error)
{
    const char *classification =
        draft->classification ? draft->classification : CLASSIFICATION_REPORT;
    out->classification = g_strdup(classification);
    if (g_str_equal(classification, CLASSIFICATION_BOUNCE) &&
        !bounce_intake(gw, raw_id, draft, error))
        return FALSE;
    /* automatic mail is recorded only, and not acted upon when sent to a reply address that
     * acts (issue 14) */
    if (is_automatic(draft))
        return agency_mail_automatic(gw, raw_id, draft, error) &&
               raw_message_mark_processed(gw->store, raw_id, classification, 0, error);

    /* issue 14: mail to a reply address that acts is an agency's or a leader's, never a
     * citizen's, whatever its words (a result may well speak of a fire) */
    gboolean by_agency = FALSE;
    gint64 acted_on = 0;
    if (!agency_mail_decide(gw, raw_id, draft, received_at, FALSE, &acted_on, &by_agency, error))
        return FALSE;
    if (by_agency)
        return processed_as_agency_mail(gw, raw_id, acted_on, out, error);

    g_autofree char *suspect = letters_sender_suspect(gw->config, draft);
    /* reply comes before emergency, complaint and report (SPEC §3.5: first match wins) */
    ReplyMatch match = {0};
    if (!reply_find_report(gw->store, draft, gw->config->gateway.code_prefix,
                           gw->config->smtp.reply_to, &match, error))
        return FALSE;
    if (match.report_id > 0) {
        gboolean ok = match.proven && !suspect
                          ? decide_reply(gw, raw_id, draft, &match, out, error)
                          : decide_pending(gw, raw_id, draft, &match, suspect, out, error);
        reply_match_clear(&match);
        return ok;
    }

    ReportRef ref = {0};
    /* the sender goes in with the row: an UPDATE after the INSERT made the search index's
     * trigger delete and index the new report again, the largest statement of an ingest */
    gboolean ok = report_create(gw->store, draft, letters_answer_address(draft),
                                gw->config->gateway.code_prefix, gw->config->calendar.zone,
                                received_at, raw_id, &ref, error);
    if (ok && suspect)
        ok = mark_unverified(gw, &ref, suspect, error);
    if (ok && match.refused_code) {
        /* a stranger quoting someone else's tracking code: a report of its own */
        g_autofree char *why = g_strdup_printf(
            "the subject quotes %s, whose citizen is another address: not joined to it",
            match.refused_code);
        ok = event_add(gw->store, ref.id, "pahtd", "code_not_joined", why, error);
    }
    if (ok && g_str_equal(classification, CLASSIFICATION_COMPLAINT)) {
        /* Điều 1.1.c, 3.9: complaints and denunciations are not received by this system; the
         * IOC confirms with "pahtctl reject ID --reason complaint" (the refusal letter says
         * where such petitions go) */
        g_autofree char *why = g_strdup_printf(
            "refusal suggested: a complaint or denunciation (khiếu nại, tố cáo) is not a field "
            "report (Điều 1.1.c, 3.9); %s",
            draft->rule ? draft->rule : "");
        ok = event_add(gw->store, ref.id, "pahtd", "refusal_suggested", why, error);
    }
    reply_match_clear(&match);
    if (!ok) {
        report_ref_clear(&ref);
        return FALSE;
    }
    out->report_id = ref.id;
    out->code = g_strdup(ref.code);
    ok = report_waits(gw, ref.id, received_at, error) &&
         letters_answer_new_report(gw->config, gw->store, &ref, draft, received_at, error) &&
         raw_message_mark_processed(gw->store, raw_id, classification, ref.id, error);
    report_ref_clear(&ref);
    return ok;
}

/* Attachments the parser wrote to the work folder and that did not reach the content store
 * (a failed commit): removed, so that the work folder only ever holds the message at hand. */
static void discard_uncommitted(Gateway *gw, const Draft *draft)
{
    gsize prefix = strlen(gw->tmp_dir);
    for (guint i = 0; i < draft->attachments->len; i++) {
        const DraftAttachment *a = g_ptr_array_index(draft->attachments, i);
        if (a->path && strncmp(a->path, gw->tmp_dir, prefix) == 0 && a->path[prefix] == '/')
            unlink(a->path);
    }
}

/* a reply quotes the letters we sent; these are the ones parse compares it with */
#define QUOTED_LETTERS_MAX 12

/* ParseLettersFunc (parse/parse.h): the letters the mail's In-Reply-To and References name
 * (newest first), then the newest letters to the citizen of the report it answers (SPEC
 * §3.5's matching: a stranger quoting a code is given none of that citizen's letters). */
static gboolean letters_a_reply_quotes(const Draft *headers, GPtrArray **letters_out,
                                       gpointer user_data, GError **error)
{
    Gateway *gw = user_data;
    g_autoptr(GPtrArray) ids = g_ptr_array_new();
    if (headers->in_reply_to)
        g_ptr_array_add(ids, headers->in_reply_to);
    for (guint i = headers->references->len; i > 0 && ids->len < QUOTED_LETTERS_MAX; i--)
        g_ptr_array_add(ids, headers->references->pdata[i - 1]);
    g_ptr_array_add(ids, NULL);
    ReplyMatch match = {0};
    if (!reply_find_report(gw->store, headers, gw->config->gateway.code_prefix,
                           gw->config->smtp.reply_to, &match, error))
        return FALSE;
    *letters_out = outbox_letters_quoted(gw->store, (const char *const *)ids->pdata,
                                         match.report_id, QUOTED_LETTERS_MAX, error);
    reply_match_clear(&match);
    return *letters_out != NULL;
}

static ParseOptions parse_options(Gateway *gw)
{
    return (ParseOptions){
        .attachments_dir = gw->tmp_dir,
        .our_address = gw->config->smtp.from,
        .keywords_file = gw->config->gateway.keywords_file,
        .code_prefix = gw->config->gateway.code_prefix,
        .our_letters = letters_a_reply_quotes,
        .our_letters_data = gw,
        .trusted_authserv_id = gw->config->gateway.trusted_authserv_id,
    };
}

gboolean inbound_confirm_supplement(Gateway *gw, const PendingReply *pending, const char *actor,
                                    IngestResult *out, GError **error)
{
    memset(out, 0, sizeof *out);
    out->raw_id = pending->raw_id;
    g_autoptr(RawMessage) raw = raw_message_get(gw->store, pending->raw_id, error);
    if (!raw)
        return FALSE;
    ParseOptions opts = parse_options(gw);
    g_autoptr(Draft) draft = parse_message_file(raw->path, &opts, error);
    if (!draft)
        return FALSE;
    g_autofree char *how = g_strdup_printf("%s, confirmed by the IOC", pending->matched_by);
    ReplyMatch match = {0};
    gboolean by_agency = FALSE;
    gint64 acted_on = 0;
    gboolean ok = commit_attachments(gw, draft, error) && store_begin(gw->store, error);
    if (ok) {
        /* a mail to a reply address that acts, vouched for by the IOC: it acts now (issue 14) */
        ok = pending_reply_decide(gw->store, pending->id, TRUE, actor, error) &&
             agency_mail_decide(gw, raw->id, draft, raw->received_at, TRUE, &acted_on, &by_agency,
                                error);
        if (ok && !by_agency)
            ok = reply_match_report(gw->store, pending->report_id, how, &match, error) &&
                 add_reply(gw, raw->id, draft, &match, error);
        ok = ok && store_commit(gw->store, error);
        if (!ok)
            store_rollback(gw->store);
    }
    discard_uncommitted(gw, draft);
    if (ok) {
        out->report_id = by_agency ? acted_on : match.report_id;
        if (by_agency) {
            g_autoptr(Report) r = report_load_id(gw->store, acted_on, NULL);
            out->code = r ? g_strdup(r->code) : NULL;
        } else {
            out->code = g_strdup(match.code);
        }
        out->classification = g_strdup(CLASSIFICATION_REPLY);
    }
    reply_match_clear(&match);
    return ok;
}

Draft *inbound_parse_stage(Gateway *gw, const RawMessage *raw, IngestResult *out, gboolean *ok,
                           GError **error)
{
    out->raw_id = raw->id;
    *ok = FALSE;
    /* The parser writes attachments straight into this process's private work folder (no
     * folder per message): each attachment is renamed into the content store, and no inode
     * is made and deleted per message only to hold them. (On ext4 without a journal, every
     * inode deleted in the last minutes is skipped, one by one, by each new file's
     * allocation: a folder made and removed per message made a big ingest quadratic.) */
    ParseOptions opts = parse_options(gw);
    GError *parse_error = NULL;
    g_autoptr(Draft) draft = parse_message_file(raw->path, &opts, &parse_error);
    if (!draft) {
        /* the parser removed what it had written */
        if (!g_error_matches(parse_error, PAHT_ERROR, PAHT_ERROR_INPUT)) {
            g_propagate_error(error, parse_error);
            return NULL;
        }
        log_warning("message %" G_GINT64_FORMAT " cannot be parsed and is kept aside: %s", raw->id,
                    parse_error->message);
        *ok = raw_message_set_state(gw->store, raw->id, RAW_UNPARSED, parse_error->message, error);
        g_error_free(parse_error);
        out->unparsed = TRUE;
        out->classification = g_strdup(CLASSIFICATION_UNPARSED);
        return NULL;
    }
    /* Automatic mail (auto-replies, bounces) is recorded, never drafted nor answered (SPEC
     * §3.5): no row refers to its attachments (a bounce's returned letter, a report's XML),
     * so they stay out of the content store, where `pahtctl verify` listed each as a file
     * nobody refers to; the raw message keeps them. They are removed with the work folder's
     * files (inbound_decide_stage). */
    if (!is_automatic(draft) && !commit_attachments(gw, draft, error)) {
        discard_uncommitted(gw, draft);
        return NULL;
    }
    *ok = TRUE;
    return g_steal_pointer(&draft);
}

gboolean inbound_decide_stage(Gateway *gw, const RawMessage *raw, const Draft *draft,
                              IngestResult *out, GError **error)
{
    gboolean ok = store_begin(gw->store, error);
    if (ok) {
        ok = decide(gw, raw->id, draft, raw->received_at, out, error) &&
             store_commit(gw->store, error);
        if (!ok)
            store_rollback(gw->store);
    }
    discard_uncommitted(gw, draft);
    return ok;
}

void inbound_log_done(const IngestResult *out)
{
    log_info("message %" G_GINT64_FORMAT " -> %s%s%s", out->raw_id, out->classification,
             out->code ? " " : "", out->code ? out->code : "");
}

gboolean inbound_process_raw(Gateway *gw, const RawMessage *raw, IngestResult *out, GError **error)
{
    gboolean ok = FALSE;
    g_autoptr(Draft) draft = inbound_parse_stage(gw, raw, out, &ok, error);
    if (!draft)
        return ok;
    if (!inbound_decide_stage(gw, raw, draft, out, error))
        return FALSE;
    inbound_log_done(out);
    return TRUE;
}

gboolean inbound_repair_attachments(Gateway *gw, const RawMessage *raw, int *repaired,
                                    GError **error)
{
    *repaired = 0;
    if (raw->report_id <= 0)
        return TRUE;
    g_autoptr(GPtrArray) stored = attachment_list_of_raw(gw->store, raw->report_id, raw->id, error);
    if (!stored)
        return FALSE;
    g_autoptr(GPtrArray) damaged = g_ptr_array_new();
    for (guint i = 0; i < stored->len; i++) {
        StoredAttachment *a = stored->pdata[i];
        if (!fs_content_whole_on_disk(a->path, a->size, a->sha256))
            g_ptr_array_add(damaged, a);
    }
    if (damaged->len == 0)
        return TRUE;
    /* the same mail gives the same attachments: parsed again, only into the work folder */
    ParseOptions opts = parse_options(gw);
    g_autoptr(Draft) draft = parse_message_file(raw->path, &opts, error);
    if (!draft)
        return FALSE;
    gboolean ok = TRUE;
    for (guint i = 0; i < draft->attachments->len && ok; i++) {
        DraftAttachment *a = g_ptr_array_index(draft->attachments, i);
        for (guint k = 0; k < damaged->len && ok; k++) {
            StoredAttachment *s = damaged->pdata[k];
            if (!a->path || !g_str_equal(a->sha256, s->sha256))
                continue;
            ok = fs_commit_content(a->path, s->path, s->sha256, FS_SYNC_NOW, error);
            g_clear_pointer(&a->path, g_free);
            if (ok)
                (*repaired)++;
            break;
        }
    }
    discard_uncommitted(gw, draft);
    if (ok && (guint)*repaired < damaged->len)
        log_warning("message %" G_GINT64_FORMAT ": %u of its attachments were damaged by a crash "
                    "and %d could be written again from it",
                    raw->id, damaged->len, *repaired);
    return ok;
}

/* The body digest of the mail at path (NULL if it cannot be read, or is no longer the file
 * sha256 names: a row's file damaged by a crash, or removed) */
static char *body_digest_of(const char *path, const char *sha256)
{
    MailFileIdentity id = {0};
    char *body = NULL;
    if (mail_file_identity_with_body(path, &id, NULL) && g_str_equal(id.sha256, sha256))
        body = g_steal_pointer(&id.body_sha256);
    mail_file_identity_clear(&id);
    return body;
}

/* The same Message-ID and the same body are the same mail (raw_message_find_same). The body
 * digests are worked out only when a row with this Message-ID exists: hashing every body as it
 * streamed in, for the rare second delivery, was a tenth of pahtd's mailbox process in an
 * ingest (issue 18). Then the new file's is worked out (*body_out, recorded with it), and the
 * first row's of that Message-ID if it has none yet: each later one had its own worked out
 * when it came, for it met the first. */
static RecordOutcome same_body_recorded(Gateway *gw, const char *temp_path,
                                        const MailFileIdentity *identity, char **body_out,
                                        RawMessage **out, GError **error)
{
    g_autoptr(RawMessage) first = NULL;
    if (!raw_message_first_with_message_id(gw->store, identity->message_id, &first, error))
        return RECORD_FAILED;
    if (!first)
        return RECORD_NEW;
    *body_out = body_digest_of(temp_path, identity->sha256);
    if (!*body_out) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot read %s again", temp_path);
        return RECORD_FILE_FAILED;
    }
    if (!first->body_sha256) {
        g_autofree char *theirs = body_digest_of(first->path, first->sha256);
        if (theirs && !raw_message_set_body_sha256(gw->store, first->id, theirs, error))
            return RECORD_FAILED;
    }
    if (!raw_message_find_same(gw->store, NULL, identity->message_id, *body_out, out, error))
        return RECORD_FAILED;
    return *out ? RECORD_KNOWN : RECORD_NEW;
}

/* under the write lock: the same mail recorded before, or the file stored and its row */
static RecordOutcome record_locked(Gateway *gw, const char *temp_path, const RawPlace *place,
                                   const MailFileIdentity *identity, RawMessage **out,
                                   GError **error)
{
    if (!raw_message_find_same(gw->store, identity->sha256, NULL, NULL, out, error))
        return RECORD_FAILED;
    g_autofree char *body_sha256 = NULL;
    if (!*out && identity->message_id) {
        RecordOutcome same = same_body_recorded(gw, temp_path, identity, &body_sha256, out, error);
        if (same == RECORD_FAILED || same == RECORD_FILE_FAILED)
            return same;
    }
    if (*out) {
        unlink(temp_path);
        return RECORD_KNOWN;
    }
    g_autofree char *stored =
        fs_content_path_when(gw->raw_dir, identity->sha256, ".eml", gateway_sync_when(gw), error);
    if (!stored ||
        !fs_commit_content(temp_path, stored, identity->sha256, gateway_sync_when(gw), error))
        return RECORD_FILE_FAILED;
    RawMessage raw = {
        .mailbox = place ? (char *)place->mailbox : NULL,
        .uidvalidity = place ? place->uidvalidity : 0,
        .uid = place ? place->uid : 0,
        .message_id = identity->message_id,
        .sha256 = identity->sha256,
        .body_sha256 = body_sha256,
        .path = stored,
        .size = identity->size,
        .received_at = clock_now_unix(),
    };
    gint64 id = raw_message_insert(gw->store, &raw, error);
    if (!id)
        return RECORD_FAILED;
    *out = raw_message_get(gw->store, id, error);
    return *out ? RECORD_NEW : RECORD_FAILED;
}

gboolean inbound_record_fetched_many(Gateway *gw, FetchedFile *files, guint n, GError **error)
{
    /* one transaction: pahtctl and pahtd recording the same mail at once make one row, and a
     * download group takes the write lock once (the parser process waits for each taking) */
    gboolean ok = store_begin(gw->store, error);
    for (guint i = 0; ok && i < n; i++) {
        FetchedFile *f = &files[i];
        f->outcome = record_locked(gw, f->temp_path, f->place, f->identity, &f->raw, &f->error);
        if (f->outcome == RECORD_FAILED) {
            g_propagate_error(error, g_steal_pointer(&f->error));
            ok = FALSE;
        }
    }
    if (ok)
        ok = store_commit(gw->store, error);
    else
        store_rollback(gw->store);
    for (guint i = 0; i < n; i++) {
        FetchedFile *f = &files[i];
        if (!ok) {
            /* none is recorded: the files stored meanwhile are content, found again later */
            f->outcome = RECORD_FAILED;
            g_clear_pointer(&f->raw, raw_message_free);
            g_clear_error(&f->error);
        }
        if (f->outcome == RECORD_FAILED || f->outcome == RECORD_FILE_FAILED)
            unlink(f->temp_path);
    }
    return ok;
}

RecordOutcome inbound_record_fetched(Gateway *gw, const char *temp_path,
                                     const MailFileIdentity *identity, const RawPlace *place,
                                     RawMessage **out, GError **error)
{
    FetchedFile f = {.temp_path = temp_path, .identity = identity, .place = place};
    *out = NULL;
    if (!inbound_record_fetched_many(gw, &f, 1, error))
        return RECORD_FAILED;
    if (f.error)
        g_propagate_error(error, f.error);
    *out = f.raw;
    return f.outcome;
}

RecordOutcome inbound_record_raw_file(Gateway *gw, const char *temp_path, const RawPlace *place,
                                      RawMessage **out, GError **error)
{
    *out = NULL;
    MailFileIdentity identity = {0};
    if (!mail_file_identity(temp_path, &identity, error)) {
        unlink(temp_path);
        return RECORD_FILE_FAILED;
    }
    RecordOutcome outcome = inbound_record_fetched(gw, temp_path, &identity, place, out, error);
    mail_file_identity_clear(&identity);
    return outcome;
}

/* a message recorded before: what it became, as ingest reports it */
static void report_duplicate(Gateway *gw, const RawMessage *existing, IngestResult *out)
{
    out->raw_id = existing->id;
    out->report_id = existing->report_id;
    out->duplicate = TRUE;
    out->unparsed = g_str_equal(existing->state, RAW_UNPARSED);
    out->classification =
        g_strdup(existing->classification ? existing->classification : existing->state);
    if (existing->report_id > 0) {
        g_autoptr(Report) r = report_load_id(gw->store, existing->report_id, NULL);
        if (r)
            out->code = g_strdup(r->code);
    }
}

gboolean inbound_ingest_temp(Gateway *gw, const char *temp, IngestResult *out, GError **error)
{
    g_autoptr(RawMessage) raw = NULL;
    RecordOutcome outcome = inbound_record_raw_file(gw, temp, NULL, &raw, error);
    if (outcome == RECORD_FAILED || outcome == RECORD_FILE_FAILED)
        return FALSE;
    if (outcome == RECORD_KNOWN && !g_str_equal(raw->state, RAW_FETCHED)) {
        report_duplicate(gw, raw, out);
        return TRUE;
    }
    /* new, or recorded before but never finished (a crash mid-parse): processed now */
    return inbound_process_raw(gw, raw, out, error);
}

gboolean inbound_ingest_file(Gateway *gw, const char *path, IngestResult *out, GError **error)
{
    memset(out, 0, sizeof *out);
    /* a private copy first: the caller's file may change or vanish */
    g_autofree char *temp = NULL;
    int fd = fs_open_private_temp(gw->tmp_dir, "ingest-", &temp, error);
    if (fd < 0)
        return FALSE;
    gboolean copied = fs_copy_to_fd(path, fd, error);
    close(fd);
    if (!copied) {
        unlink(temp);
        return FALSE;
    }
    return inbound_ingest_temp(gw, temp, out, error);
}
