/* outbound: sending what the outbox holds, over one SMTP connection per pass.
 *
 * Exactly once, as far as SMTP allows (SPEC §8): a letter is claimed with a lease, sent
 * outside any transaction, and its completion is committed (synchronous=FULL) before the
 * next letter is sent. The completion of letter n and the claim of letter n+1 share one
 * commit: one fsync per letter instead of two, and still never more than one letter whose
 * fate is not on disk. Completing letters in batches would be faster and is not done: a crash
 * after a batch was sent and before it was committed would send the whole batch twice.
 * That commit runs in a thread while letter n+1's envelope and data go to the server, and
 * letter n+1 is only ended (the "." of DATA) once it is on disk: the fsync overlaps the SMTP
 * round trips instead of adding to them, and a letter the server has whole was always
 * claimed on disk first. Should the commit fail, the letter is abandoned unended and the
 * server discards it.
 *
 * The lease names its holder (host:pid:instance). A pahtd killed mid-send leaves one letter
 * "sending"; the next pass of a new pahtd sees the holder is dead and sends it again at once,
 * instead of waiting for the lease: that letter may reach its reader twice, no other can.
 *
 * Failures (SPEC §8): a temporary one (4xx, refused, timeout) is retried with exponential
 * backoff and jitter for 3 days from the letter's creation (or its resend); a permanent one
 * (5xx) fails the letter with the server's words, and a recipient refused for good (5.x.x
 * except 5.2.2 mailbox full) is suspended for 60 days; a configuration failure (login, TLS,
 * the server refusing our sender) stops sending, holds the letter without counting the
 * attempt, and alerts the IOC once per outage. Failed letters reach the IOC as one digest,
 * at most once an hour, never as one mail each.
 */
#include "gateway/gateway_private.h"
#include "notify/notify.h"
#include "letters/letters.h"
#include "util/util.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* The lease only matters when its holder hangs alive (a dead holder is detected, see
 * owner_is_dead): longer than any single SMTP transaction, so a slow 50 MB letter is never
 * taken over while it is being sent. */
#define OUTBOX_LEASE_SECONDS 300
/* temporary SMTP failures are retried for this long (SPEC §8) */
#define OUTBOX_RETRY_HORIZON (3 * 24 * 3600)
/* after a configuration failure, this process waits this long before trying again; a
 * restarted pahtd (the administrator fixed the configuration) tries at once */
#define OUTBOX_HOLD_SECONDS 300
/* SPEC §8: a permanent failure suspends mail to the address for 60 days */
#define SUSPENSION_SECONDS (60 * 24 * 3600)
/* one digest of failed letters to the IOC per hour at most */
#define DIGEST_MIN_INTERVAL 3600
#define DIGEST_MAX_LETTERS  200
/* the local part of an address has at most 64 characters (RFC 5321 §4.5.3.1.1) */
#define LOCAL_PART_MAX   64
#define ENVELOPE_MAC_HEX 16

#define STATUS_OUTAGE "smtp_outage" /* value: since when; detail: why */
#define STATUS_HOLD   "smtp_hold"   /* value: until when; detail: the holding process */

/* ---- who we are: the lease owner ----------------------------------------------------------- */

static gpointer identity_once(gpointer unused)
{
    g_autofree char *instance = random_hex(6);
    return g_strdup_printf("%s:%d:%s", g_get_host_name(), (int)getpid(), instance);
}

/* "host:pid:instance" of this process, for the leases it takes */
static const char *sender_identity(void)
{
    static GOnce once = G_ONCE_INIT;
    return g_once(&once, identity_once, NULL);
}

/* A lease holder is dead when it is this very process (a pass never leaves a lease behind
 * unless it failed), an earlier process that had our pid, or a process of this host that no
 * longer exists. A holder on another host, or one we may not signal, is alive: its lease is
 * left to expire. */
static gboolean owner_is_dead(const char *owner, gpointer unused)
{
    const char *self = sender_identity();
    if (g_str_equal(owner, self))
        return TRUE;
    g_auto(GStrv) parts = g_strsplit(owner, ":", 3);
    if (g_strv_length(parts) != 3 || !g_str_equal(parts[0], g_get_host_name()))
        return FALSE;
    char *end = NULL;
    long pid = strtol(parts[1], &end, 10);
    if (!end || *end || pid <= 0)
        return FALSE;
    if ((pid_t)pid == getpid())
        return TRUE; /* our pid, another instance: that process is gone */
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* ---- envelope senders (VERP) ----------------------------------------------------------------- */

gboolean outbound_bounce_key(const Config *c, gboolean create, GBytes **key, GError **error)
{
    /* one key signs envelope senders and the reply addresses that act (issue 14) */
    return reply_address_key(c, create, key, error);
}

static char *envelope_mac(GBytes *key, gint64 id, const char *message_id)
{
    g_autofree char *data =
        g_strdup_printf("b-%" G_GINT64_FORMAT "-%s", id, message_id ? message_id : "");
    gsize key_len = 0;
    const guchar *key_data = g_bytes_get_data(key, &key_len);
    g_autofree char *hex = g_compute_hmac_for_data(G_CHECKSUM_SHA256, key_data, key_len,
                                                   (const guchar *)data, strlen(data));
    return g_strndup(hex, ENVELOPE_MAC_HEX);
}

gboolean outbound_check_bounce_key(const Config *config, GError **error)
{
    GError *local = NULL;
    g_autoptr(GBytes) key = NULL;
    if (!outbound_bounce_key(config, FALSE, &key, &local)) {
        g_propagate_prefixed_error(error, local, "[smtp] bounce key: ");
        return FALSE;
    }
    return TRUE;
}

char *outbound_envelope_address(const char *from, gint64 id, const char *message_id, GBytes *key)
{
    const char *at = from ? strrchr(from, '@') : NULL;
    if (!at || at == from || !key || id <= 0)
        return NULL;
    g_autofree char *mac = envelope_mac(key, id, message_id);
    g_autofree char *local =
        g_strdup_printf("%.*s+b-%" G_GINT64_FORMAT "-%s", (int)(at - from), from, id, mac);
    if (strlen(local) > LOCAL_PART_MAX)
        return NULL;
    return g_strconcat(local, at, NULL);
}

gint64 outbound_envelope_letter(const char *address, const char *our_from)
{
    const char *at = address ? strrchr(address, '@') : NULL;
    const char *our_at = our_from ? strrchr(our_from, '@') : NULL;
    if (!at || !our_at || g_ascii_strcasecmp(at, our_at) != 0)
        return 0;
    gsize our_len = (gsize)(our_at - our_from);
    gsize len = (gsize)(at - address);
    if (len <= our_len + 3 || g_ascii_strncasecmp(address, our_from, our_len) != 0 ||
        g_ascii_strncasecmp(address + our_len, "+b-", 3) != 0)
        return 0;
    const char *p = address + our_len + 3;
    gint64 id = 0;
    const char *digits = p;
    while (p < at && g_ascii_isdigit(*p) && p - digits < 18)
        id = id * 10 + (*p++ - '0');
    if (p == digits || p >= at || *p != '-')
        return 0;
    p++;
    if (at - p != ENVELOPE_MAC_HEX)
        return 0;
    for (; p < at; p++) {
        if (!g_ascii_isxdigit(*p))
            return 0;
    }
    return id;
}

/* ---- failures -------------------------------------------------------------------------------- */

gboolean outbound_status_suspends(const char *status)
{
    if (!status || status[0] != '5' || status[1] != '.')
        return FALSE;
    /* RFC 3463 subjects: 5.3.x and 5.6.x are about our letter (size, content), 5.7.x about
     * policy (the remote server refuses our mail, e.g. as spam): none says the address is
     * wrong, and suspending on them would silence every citizen of a provider at once */
    return !g_str_equal(status, "5.2.2") && !g_str_has_prefix(status, "5.3.") &&
           !g_str_has_prefix(status, "5.6.") && !g_str_has_prefix(status, "5.7.");
}

/* "550 5.1.1 <x@y>: Recipient address rejected" -> "5.1.1" (RFC 3463 in RFC 2034 replies) */
static char *reply_enhanced_status(const char *reply)
{
    if (!reply)
        return NULL;
    g_autoptr(GRegex) re =
        g_regex_new("^[245][0-9][0-9][ -]([245]\\.[0-9]{1,3}\\.[0-9]{1,3})\\b", 0, 0, NULL);
    g_autoptr(GMatchInfo) match = NULL;
    if (!g_regex_match(re, reply, 0, &match))
        return NULL;
    return g_match_info_fetch(match, 1);
}

/* addresses the configuration names: a failure there is for the administrator to fix, and
 * silencing it for 60 days would hide it */
static char *format_day(const Config *c, gint64 t)
{
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(t);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, c->calendar.zone);
    return g_date_time_format(local, "%d/%m/%Y");
}

gboolean outbound_letter_failed(Gateway *gw, gint64 letter_id, gint64 report_id, const char *kind,
                                const char *rcpt, const char *status, const char *reason,
                                gboolean suspend, gint64 *until_out, GError **error)
{
    const Config *c = gw->config;
    gint64 now = clock_now_unix();
    gint64 until = 0;
    g_autofree char *who = log_redact_address(rcpt);
    if (suspend && redact_address_is_official(c, rcpt)) {
        log_error("letter %" G_GINT64_FORMAT " (%s) to %s failed for good (%s): this address "
                  "is in the configuration; correct it there",
                  letter_id, kind, who, status ? status : "5xx");
    } else if (suspend) {
        until = now + SUSPENSION_SECONDS;
        if (!address_suspend(gw->store, rcpt, until, status, reason, letter_id, error))
            return FALSE;
        log_notice("address %s suspended for 60 days after %s (letter %" G_GINT64_FORMAT ")", who,
                   status ? status : "a permanent failure", letter_id);
    }
    if (until_out)
        *until_out = until;
    if (report_id <= 0)
        return TRUE;
    g_autofree char *day = until ? format_day(c, until) : NULL;
    g_autofree char *detail =
        g_strdup_printf("%s to %s failed: %s%s%s", kind, rcpt, reason ? reason : "?",
                        day ? "; no more mail to this address until " : "", day ? day : "");
    return event_add(gw->store, report_id, "pahtd", "mail_failed", detail, error);
}

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

/* ---- one pass -------------------------------------------------------------------------------- */

typedef struct {
    Gateway *gw;
    GBytes *key; /* for envelope tokens; NULL: letters go with the plain sender */
    gint64 outage_since;
    int sent, failed, retried;
    GError *config_error; /* the server refused us: sending stopped */
} FlushPass;

/* what became of one letter, decided outside any transaction */
typedef struct {
    OutboxResult result;
    char *reply, *status, *envelope;
    gboolean suspend; /* the recipient was refused for good */
    GError *send_error;
} Attempt;

static void attempt_clear(Attempt *a)
{
    g_free(a->reply);
    g_free(a->status);
    g_free(a->envelope);
    g_clear_error(&a->send_error);
}

static SmtpSender *pass_sender(FlushPass *pass)
{
    Gateway *gw = pass->gw;
    const Config *c = gw->config;
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
    return gw->smtp;
}

/* Letters that fail before any SMTP: no content, an address that never gets automatic mail,
 * a suspended address. *refused TRUE with the reason in a. */
static gboolean attempt_refuse(FlushPass *pass, const OutboxClaim *claim, Attempt *a,
                               gboolean *refused, GError **error)
{
    const Config *c = pass->gw->config;
    *refused = FALSE;
    if (g_bytes_get_size(claim->message) == 0) {
        a->reply = g_strdup("not sent: the letter has no content");
    } else if (letters_never_answer(c, claim->rcpt) &&
               g_ascii_strcasecmp(claim->rcpt, c->gateway.ioc_alert_to) != 0) {
        /* SPEC §3.6: mailer-daemon, postmaster, noreply, ourselves ... never get automatic
         * mail; letters_enqueue already refuses them, this holds for every other way in */
        a->reply = g_strdup("not sent: this address never gets automatic mail (SPEC §3.6)");
    } else {
        g_autoptr(AddressSuspension) s = NULL;
        if (!address_suspension_get(pass->gw->store, claim->rcpt, clock_now_unix(), &s, error))
            return FALSE;
        if (s) {
            g_autofree char *day = format_day(c, s->until);
            a->status = g_strdup(s->status);
            a->reply = g_strdup_printf(
                "not sent: mail to this address is suspended until %s after a permanent "
                "failure (%s, letter %" G_GINT64_FORMAT ")",
                day, s->status ? s->status : "5xx", s->outbox_id);
        }
    }
    if (a->reply) {
        a->result.outcome = OUTBOX_FAILED;
        *refused = TRUE;
    }
    return TRUE;
}

/* ---- the store's work for a letter, done while the next is sent ---------------------------- */

/* one letter of the pass: its claim, and what became of it */
typedef struct {
    OutboxClaim *claim;
    Attempt a;
    gboolean refused;  /* decided without SMTP (attempt_refuse) */
    gboolean reserved; /* reserved, not begun yet (outbox_reserve_next_for) */
} Turn;

static void turn_clear(Turn *t)
{
    attempt_clear(&t->a);
    outbox_claim_free(t->claim);
    *t = (Turn){0};
}

/* One thread per pass runs a letter's work in the store while the next letter goes to the
 * server (settle). It and the main thread never use the store at the same time: the main
 * thread waits for the work before it touches the store again, and before the next letter's
 * data ends (the gate). */
typedef struct {
    FlushPass *pass;
    GThread *thread;
    GAsyncQueue *requests; /* the Committer itself: do the work; anything else: stop */
    GAsyncQueue *done;     /* the Committer, after each piece of work */
    gboolean pending;      /* work asked for and not waited for yet */
    gboolean ok;
    gboolean lost; /* the letter to begin was no longer reserved for us */
    GError *error;
    /* the work (settle's arguments) */
    Turn *finished, *next, *after;
    gboolean release;
} Committer;

static gboolean settle(FlushPass *pass, Turn *finished, Turn *next, Turn *after, gboolean release,
                       gboolean *lost, GError **error);

static void committer_work(Committer *c)
{
    c->ok = settle(c->pass, c->finished, c->next, c->after, c->release, &c->lost, &c->error);
}

/* the work's outcome: FALSE with its error if it failed (it has rolled back) */
static gboolean committer_result(Committer *c, GError **error)
{
    if (c->ok)
        return TRUE;
    g_propagate_error(error, g_steal_pointer(&c->error));
    c->ok = TRUE;
    return FALSE;
}

static gpointer committer_main(gpointer data)
{
    Committer *c = data;
    while (g_async_queue_pop(c->requests) == c) {
        committer_work(c);
        g_async_queue_push(c->done, c);
    }
    return NULL;
}

/* settle(finished, next, after, release): in the committer's thread when next goes to the
 * server meanwhile (SQLite is built thread-safe), here otherwise */
static gboolean committer_start(Committer *c, Turn *finished, Turn *next, Turn *after,
                                gboolean release, gboolean in_thread, GError **error)
{
    c->finished = finished;
    c->next = next;
    c->after = after;
    c->release = release;
    if (!in_thread || !store_may_change_thread()) {
        committer_work(c);
        return committer_result(c, error);
    }
    if (!c->thread) {
        c->requests = g_async_queue_new();
        c->done = g_async_queue_new();
        c->thread = g_thread_new("outbox-commit", committer_main, c);
    }
    c->pending = TRUE;
    g_async_queue_push(c->requests, c);
    return TRUE;
}

/* the send's gate: the letter ends only once the one before it is recorded and it is marked
 * as being sent, on disk */
static gboolean committer_gate(gpointer data)
{
    Committer *c = data;
    if (c->pending) {
        g_async_queue_pop(c->done);
        c->pending = FALSE;
    }
    return c->ok && !c->lost;
}

/* waits for the work; its outcome */
static gboolean committer_wait(Committer *c, GError **error)
{
    committer_gate(c);
    return committer_result(c, error);
}

static void committer_stop(Committer *c)
{
    committer_gate(c);
    if (c->thread) {
        g_async_queue_push(c->requests, &c->thread);
        g_thread_join(g_steal_pointer(&c->thread));
        g_async_queue_unref(c->requests);
        g_async_queue_unref(c->done);
    }
    g_clear_error(&c->error);
}

static void attempt_send(FlushPass *pass, const OutboxClaim *claim, Attempt *a,
                         Committer *committer)
{
    gint64 now = clock_now_unix();
    const char *from = claim->mail_from;
    if (pass->key) {
        a->envelope =
            outbound_envelope_address(claim->mail_from, claim->id, claim->message_id, pass->key);
        if (a->envelope)
            from = a->envelope;
    }
    a->result.envelope_from = a->envelope;
    SmtpSender *smtp = pass_sender(pass);
    if (smtp_sender_send_gated(smtp, from, claim->rcpt, claim->message, committer_gate, committer,
                               &a->reply, &a->send_error)) {
        a->result.outcome = OUTBOX_SENT;
        return;
    }
    if (!a->reply)
        a->reply = g_strdup(a->send_error->message);
    a->status = reply_enhanced_status(a->reply);
    switch (a->send_error->code) {
    case PAHT_ERROR_PERMANENT:
        a->result.outcome = OUTBOX_FAILED;
        /* the address is at fault only when the server says so with an RFC 3463 status
         * (5.1.1 unknown user ...): a bare "550" may be about anything */
        a->suspend = outbound_status_suspends(a->status);
        break;
    case PAHT_ERROR_CONFIG:
        a->result.outcome = OUTBOX_HOLD;
        a->result.retry_at = now + OUTBOX_HOLD_SECONDS;
        break;
    default:
        if (now - claim->retry_since >= OUTBOX_RETRY_HORIZON) {
            a->result.outcome = OUTBOX_FAILED;
            g_autofree char *last = g_steal_pointer(&a->reply);
            a->reply =
                g_strdup_printf("gave up after 3 days of temporary failures; last: %s", last);
        } else {
            a->result.outcome = OUTBOX_RETRY;
            a->result.retry_at = now + retry_delay(claim->attempts);
        }
        break;
    }
}

/* The server refuses us. Remembered in the store, so that the IOC hears of it once per outage
 * and this process stops trying for a while. why goes to the log (curl's words: no address);
 * reply, the server's own line (it may name a recipient), only to the IOC. */
static gboolean outage_begin(FlushPass *pass, const char *why, const char *reply, GError **error)
{
    Gateway *gw = pass->gw;
    const Config *c = gw->config;
    gint64 now = clock_now_unix();
    if (!outbound_status_set(gw->store, STATUS_HOLD, now + OUTBOX_HOLD_SECONDS, sender_identity(),
                             error))
        return FALSE;
    if (pass->outage_since > 0) {
        log_warning("smtp: still refused by %s: %s", c->smtp.server.host, why);
        return TRUE;
    }
    if (!outbound_status_set(gw->store, STATUS_OUTAGE, now, why, error))
        return FALSE;
    pass->outage_since = now;
    log_error("smtp: %s refuses the gateway's configuration, sending stopped (letters are kept "
              "and sent when it is fixed): %s",
              c->smtp.server.host, why);
    g_autofree char *key = g_strdup_printf("alert:smtp:%" G_GINT64_FORMAT, now);
    g_autoptr(JsonBuilder) facts = letters_alert_facts();
    json_member_string(facts, "server", c->smtp.server.host);
    json_member_string(facts, "url", c->smtp.server.url);
    json_member_string(facts, "reason", reply && *reply ? reply : why);
    json_member_int(facts, "retry_minutes", OUTBOX_HOLD_SECONDS / 60);
    return letters_ioc_alert(c, gw->store, "smtp_refused", key, 0, facts, error);
}

static gboolean outage_end(FlushPass *pass, GError **error)
{
    gint64 minutes = (clock_now_unix() - pass->outage_since) / 60;
    log_notice("smtp: %s accepts letters again after %" G_GINT64_FORMAT " min",
               pass->gw->config->smtp.server.host, minutes);
    pass->outage_since = 0;
    return outbound_status_clear(pass->gw->store, STATUS_OUTAGE, error) &&
           outbound_status_clear(pass->gw->store, STATUS_HOLD, error);
}

static void log_attempt(const OutboxClaim *claim, const Attempt *a)
{
    g_autofree char *who = log_redact_address(claim->rcpt);
    const char *why = a->send_error ? a->send_error->message : a->reply;
    switch (a->result.outcome) {
    case OUTBOX_SENT:
        log_info("letter %" G_GINT64_FORMAT " (%s) sent to %s", claim->id, claim->kind, who);
        break;
    case OUTBOX_RETRY:
        log_warning("letter %" G_GINT64_FORMAT " (%s) to %s: %s; retry in %" G_GINT64_FORMAT " s",
                    claim->id, claim->kind, who, why, a->result.retry_at - clock_now_unix());
        break;
    case OUTBOX_FAILED:
        log_warning("letter %" G_GINT64_FORMAT " (%s) to %s failed: %s", claim->id, claim->kind,
                    who, why);
        break;
    case OUTBOX_HOLD:
        log_warning("letter %" G_GINT64_FORMAT " (%s) held: %s", claim->id, claim->kind, why);
        break;
    }
}

/* claims the next letter due, if any, and decides whether it may be sent at all */
static gboolean turn_claim(FlushPass *pass, Turn *t, GError **error)
{
    *t = (Turn){0};
    return outbox_claim_next_for(pass->gw->store, clock_now_unix(), OUTBOX_LEASE_SECONDS,
                                 sender_identity(), &t->claim, error) &&
           (!t->claim || attempt_refuse(pass, t->claim, &t->a, &t->refused, error));
}

/* reserves the letter to send after the one in hand, if any (outbox_reserve_next_for), and
 * decides whether it may be sent at all */
static gboolean turn_reserve(FlushPass *pass, Turn *t, GError **error)
{
    *t = (Turn){0};
    if (!outbox_reserve_next_for(pass->gw->store, clock_now_unix(), OUTBOX_LEASE_SECONDS,
                                 sender_identity(), &t->claim, error))
        return FALSE;
    t->reserved = t->claim != NULL;
    return !t->claim || attempt_refuse(pass, t->claim, &t->a, &t->refused, error);
}

/* records what became of a letter, in the caller's transaction */
static gboolean finish_letter(FlushPass *pass, const OutboxClaim *claim, Attempt *a, GError **error)
{
    Gateway *gw = pass->gw;
    a->result.reply = a->reply;
    a->result.status = a->status;
    GError *finish_error = NULL;
    if (!outbox_finish(gw->store, claim, &a->result, &finish_error)) {
        if (!g_error_matches(finish_error, PAHT_ERROR, PAHT_ERROR_REFUSED)) {
            g_propagate_error(error, finish_error);
            return FALSE;
        }
        /* someone took the letter over: it is theirs to record */
        log_warning("%s", finish_error->message);
        g_error_free(finish_error);
        return TRUE;
    }
    switch (a->result.outcome) {
    case OUTBOX_FAILED:
        pass->failed++;
        return outbound_letter_failed(gw, claim->id, claim->report_id, claim->kind, claim->rcpt,
                                      a->status, a->reply, a->suspend, NULL, error);
    case OUTBOX_SENT:
        pass->sent++;
        return pass->outage_since <= 0 || outage_end(pass, error);
    case OUTBOX_RETRY:
        pass->retried++;
        return TRUE;
    case OUTBOX_HOLD:
        if (!outage_begin(pass, a->send_error->message, a->reply, error))
            return FALSE;
        if (!pass->config_error)
            pass->config_error = g_error_copy(a->send_error);
        return TRUE;
    }
    return TRUE;
}

/* One transaction: what became of finished (if any); then next, the letter to send now: if
 * reserved, begun (marked sending), or given back when release; if none, the next letter due
 * claimed into it (unless release or the server refused us); then the letter after it
 * reserved into *after (if after is given). *lost when next was no longer reserved for us.
 * issue 18: the main thread only sends; this runs in the committer's thread while next goes
 * to the server, so that nothing of the store stands between one letter's end and the next
 * letter's first command (0.21 ms a letter, a tenth of a letter's time to the local Postfix). */
static gboolean settle(FlushPass *pass, Turn *finished, Turn *next, Turn *after, gboolean release,
                       gboolean *lost, GError **error)
{
    Store *store = pass->gw->store;
    *lost = FALSE;
    if (!store_begin(store, error))
        return FALSE;
    gboolean ok =
        !finished || !finished->claim || finish_letter(pass, finished->claim, &finished->a, error);
    gboolean begun = FALSE;
    if (ok && next->claim && next->reserved) {
        if (release)
            ok = outbox_release(store, next->claim, error);
        else if ((ok = outbox_begin_reserved(store, next->claim, clock_now_unix(), &begun, error)))
            *lost = !begun;
    } else if (ok && !next->claim && !release && !pass->config_error) {
        ok = turn_claim(pass, next, error);
    }
    if (ok && after && next->claim && !release && !*lost && !pass->config_error)
        ok = turn_reserve(pass, after, error);
    if (ok && store_commit(store, error)) {
        if (begun || release)
            next->reserved = FALSE; /* begun, or back in the queue */
        return TRUE;
    }
    if (!ok)
        store_rollback(store); /* a failed commit has rolled back already */
    if (after)
        turn_clear(after);
    return FALSE;
}

/* Sends every due letter; stops when none is left or the server refuses us. The letter in hand
 * is sent while the committer records the one before, marks this one as being sent, and
 * reserves the next (settle); its data ends only once that is on disk, so at most the letter
 * in flight is ever sent twice. A letter reserved and not sent goes back to the queue. */
static gboolean send_all(FlushPass *pass, Committer *committer, GError **error)
{
    Turn done = {0}, turn = {0}, next = {0};
    gboolean ok = committer_start(committer, NULL, &turn, &next, FALSE, FALSE, error);
    while (ok && turn.claim) {
        if (!turn.refused)
            attempt_send(pass, turn.claim, &turn.a, committer);
        /* the letter before's fate and this letter's start are on disk now, or neither is:
         * then this letter was abandoned unended (or failed before its data) */
        ok = committer_wait(committer, error);
        turn_clear(&done);
        if (!ok)
            break;
        if (committer->lost) {
            /* given back or taken over before it was begun (a lease outlived): not ours,
             * abandoned before its end; the next pass sends what is left */
            log_warning("outbox: letter %" G_GINT64_FORMAT " was no longer reserved for this "
                        "sender; not sent",
                        turn.claim->id);
            turn_clear(&turn);
            break;
        }
        log_attempt(turn.claim, &turn.a);
        gboolean stop = pass->config_error || turn.a.result.outcome == OUTBOX_HOLD;
        done = turn;
        turn = next;
        next = (Turn){0};
        /* in the thread when turn is known and goes to the server meanwhile */
        gboolean in_thread = turn.claim && !turn.refused && !stop;
        ok = committer_start(committer, &done, &turn, &next, stop, in_thread, error);
        if (stop)
            break;
    }
    gboolean waited = committer_wait(committer, ok ? error : NULL);
    ok = ok && waited;
    turn_clear(&done);
    /* reserved and not begun: back to the queue (if this fails, the lease expires) */
    Turn *left[] = {&turn, &next};
    for (gsize i = 0; i < G_N_ELEMENTS(left); i++) {
        Turn *t = left[i];
        if (t->claim && t->reserved) {
            GError *local = NULL;
            gboolean back = store_begin(pass->gw->store, &local);
            if (back && !(outbox_release(pass->gw->store, t->claim, &local) &&
                          store_commit(pass->gw->store, &local)))
                store_rollback(pass->gw->store);
            if (local) {
                log_warning("outbox: letter %" G_GINT64_FORMAT " stays reserved until its lease "
                            "ends: %s",
                            t->claim->id, local->message);
                g_error_free(local);
            }
        }
        turn_clear(t);
    }
    return ok;
}

static gboolean send_due(FlushPass *pass, GError **error)
{
    Committer committer = {.pass = pass, .ok = TRUE};
    gboolean ok = send_all(pass, &committer, error);
    committer_stop(&committer);
    return ok;
}

/* ---- the digest ------------------------------------------------------------------------------ */

/* one failed letter as the digest lists it; *suspended counts the addresses suspended */
static gboolean add_failed_letter(Gateway *gw, const Labels *labels, JsonBuilder *b,
                                  const OutboxEntry *e, gint64 now, int *suspended, GError **error)
{
    const Config *c = gw->config;
    g_autofree char *kind_name = labels_kind_name(labels, e->kind, error);
    if (e->kind && !kind_name)
        return FALSE;
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "id");
    json_builder_add_int_value(b, e->id);
    json_member_string_if(b, "kind", e->kind);
    json_member_string_if(b, "kind_name", kind_name);
    /* the IOC's mailbox gets no citizen's address (Điều 4.5): shortened, in the reason
     * too (servers quote the recipient); pahtctl outbox shows them whole */
    g_autofree char *to = redact_alert_line(c, e->rcpt, NULL);
    json_member_string_if(b, "to", to);
    g_autofree char *when = letters_format_time(c, e->updated_at);
    json_member_string_if(b, "failed_at", when);
    g_autofree char *reason = redact_alert_line(c, e->last_reply ? e->last_reply : "?", NULL);
    json_member_string_if(b, "reason", reason);
    if (e->report_id > 0) {
        g_autoptr(Report) r = report_load_id(gw->store, e->report_id, NULL);
        json_member_string_if(b, "report", r ? r->code : NULL);
    }
    g_autoptr(AddressSuspension) s = NULL;
    gboolean ok = address_suspension_get(gw->store, e->rcpt, now, &s, error);
    if (s) {
        g_autofree char *day = format_day(c, s->until);
        json_member_string_if(b, "suspended_until", day);
        (*suspended)++;
    }
    json_builder_end_object(b);
    return ok;
}

/* One letter to the IOC listing the letters that failed since the last digest, with the
 * suspended addresses (the citizen must be reached another way). At most one an hour:
 * failures in between wait for the next one. Listing and marking share the transaction, so a
 * failure recorded meanwhile by another process is in this digest or the next, never lost. */
static gboolean digest_enqueue(FlushPass *pass, gboolean *enqueued, GError **error)
{
    Gateway *gw = pass->gw;
    const Config *c = gw->config;
    gint64 now = clock_now_unix();
    *enqueued = FALSE;
    gint64 newest = outbox_newest_of_kind(gw->store, "digest", error);
    if (newest < 0)
        return FALSE;
    gboolean too_soon = newest > 0 && now - newest < DIGEST_MIN_INTERVAL;
    if (!store_begin(gw->store, error))
        return FALSE;
    int total = 0;
    g_autoptr(GPtrArray) failed = outbox_list_unreported(
        gw->store, c->gateway.ioc_alert_to, too_soon ? 0 : DIGEST_MAX_LETTERS, &total, error);
    if (!failed) {
        store_rollback(gw->store);
        return FALSE;
    }
    if (total == 0 || too_soon) {
        store_rollback(gw->store);
        if (total > 0)
            log_info("outbox: %d failed letter(s) wait for the next digest to the IOC", total);
        return TRUE;
    }
    /* read now, as the templates are: a name the province changed is in this digest */
    g_autoptr(Labels) labels = labels_load(c, error);
    if (!labels) {
        store_rollback(gw->store);
        return FALSE;
    }
    g_autoptr(JsonBuilder) b = letters_context_new(c, now);
    json_builder_set_member_name(b, "digest");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "count");
    json_builder_add_int_value(b, total);
    g_autofree char *at = letters_format_time(c, now);
    json_member_string_if(b, "at", at);
    int suspended = 0;
    json_builder_set_member_name(b, "letters");
    json_builder_begin_array(b);
    gboolean ok = TRUE;
    for (guint i = 0; ok && i < failed->len; i++)
        ok = add_failed_letter(gw, labels, b, g_ptr_array_index(failed, i), now, &suspended, error);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "more");
    json_builder_add_int_value(b, total - (int)failed->len);
    json_builder_set_member_name(b, "suspended_count");
    json_builder_add_int_value(b, suspended);
    json_builder_end_object(b);
    const OutboxEntry *first = g_ptr_array_index(failed, 0);
    g_autofree char *key =
        g_strdup_printf("digest:%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, now, first->id);
    LetterRequest req = {
        .kind = "digest",
        .dedupe_key = key,
        .to_address = c->gateway.ioc_alert_to,
    };
    ok = ok && letters_enqueue(c, gw->store, &req, b, enqueued, error) &&
         outbox_mark_reported(gw->store, c->gateway.ioc_alert_to, now, error) &&
         store_commit(gw->store, error);
    if (!ok) {
        store_rollback(gw->store);
        return FALSE;
    }
    log_notice("outbox: digest of %d failed letter(s) for the IOC", total);
    return TRUE;
}

/* ---- the pass -------------------------------------------------------------------------------- */

/* TRUE when this process saw the server refuse us a moment ago: not again yet */
static gboolean held(FlushPass *pass, GError **error)
{
    gint64 until = 0;
    g_autofree char *holder = NULL;
    if (!outbound_status_get(pass->gw->store, STATUS_HOLD, &until, &holder, error))
        return FALSE;
    return until > clock_now_unix() && holder && g_str_equal(holder, sender_identity());
}

static gboolean flush_pass(FlushPass *pass, GError **error)
{
    Gateway *gw = pass->gw;
    GError *local = NULL;
    if (held(pass, &local)) {
        log_debug("outbox: sending paused after a configuration failure");
        return TRUE;
    }
    if (local) {
        g_propagate_error(error, local);
        return FALSE;
    }
    if (!outbound_status_get(gw->store, STATUS_OUTAGE, &pass->outage_since, NULL, &local) &&
        local) {
        g_propagate_error(error, local);
        return FALSE;
    }
    int released = 0;
    if (!outbox_reclaim_leases(gw->store, clock_now_unix(), owner_is_dead, NULL, &released, error))
        return FALSE;
    if (released > 0)
        log_notice("outbox: %d letter(s) a dead sender had in flight or reserved are due again",
                   released);
    if (!outbound_bounce_key(gw->config, TRUE, &pass->key, &local)) {
        log_warning("outbox: no key for envelope tokens, letters go without (bounces are "
                    "matched by Message-ID only): %s",
                    local ? local->message : "?");
        g_clear_error(&local);
    }
    if (!send_due(pass, error))
        return FALSE;
    if (pass->config_error)
        return TRUE;
    gboolean digest = FALSE;
    if (!digest_enqueue(pass, &digest, error))
        return FALSE;
    return !digest || send_due(pass, error);
}

gboolean outbound_flush(Gateway *gw, int *sent, int *failed, GError **error)
{
    FlushPass pass = {.gw = gw};
    gint64 start = g_get_monotonic_time();
    /* a letter leaves only once everything committed is on the disk (group commit: a
     * mailbox pass that could not sync at its end tries again here, and nothing is sent
     * while it cannot) */
    if (!gateway_make_durable(gw, error))
        return FALSE;
    gboolean ok = flush_pass(&pass, error);
    int connections = smtp_sender_connections(gw->smtp);
    /* one connection per pass: a connection idle until the next pass would be closed by the
     * server meanwhile, and the first letter of that pass would fail on it */
    g_clear_pointer(&gw->smtp, smtp_sender_free);
    if (pass.sent + pass.failed + pass.retried > 0) {
        double seconds = (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
        log_notice("outbox: %d sent, %d failed, %d to retry in %.2f s (%.0f letters/s) over %d "
                   "SMTP connection(s)",
                   pass.sent, pass.failed, pass.retried, seconds,
                   seconds > 0 ? (pass.sent + pass.failed + pass.retried) / seconds : 0.0,
                   connections);
    }
    if (pass.key)
        g_bytes_unref(pass.key);
    if (sent)
        *sent = pass.sent;
    if (failed)
        *failed = pass.failed;
    if (ok && pass.config_error) {
        g_propagate_error(error, pass.config_error);
        return FALSE;
    }
    g_clear_error(&pass.config_error);
    return ok;
}

/* ---- pahtctl resend -------------------------------------------------------------------------- */

gboolean outbound_resend(Gateway *gw, gint64 letter_id, gboolean *lifted, GError **error)
{
    gint64 now = clock_now_unix();
    gboolean was_suspended = FALSE;
    if (!store_begin(gw->store, error))
        return FALSE;
    g_autoptr(OutboxEntry) letter = outbox_get(gw->store, letter_id, error);
    gboolean ok = letter && outbox_resend(gw->store, letter_id, now, error) &&
                  address_suspension_lift(gw->store, letter->rcpt, now, &was_suspended, error);
    if (ok && letter->report_id > 0) {
        g_autofree char *detail =
            g_strdup_printf("%s to %s queued again by the operator%s", letter->kind, letter->rcpt,
                            was_suspended ? "; the suspension of the address is lifted" : "");
        ok = event_add(gw->store, letter->report_id, "operator", "mail_resent", detail, error);
    }
    if (!ok || !store_commit(gw->store, error)) {
        store_rollback(gw->store);
        return FALSE;
    }
    if (lifted)
        *lifted = was_suspended;
    return TRUE;
}
