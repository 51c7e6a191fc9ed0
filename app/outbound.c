/* outbound: sending what the outbox holds, over one SMTP connection. */
#include "app/gateway_private.h"
#include "util/util.h"

/* an outbox lease: longer than any single SMTP transaction can take */
#define OUTBOX_LEASE_SECONDS 300
/* temporary SMTP failures are retried for this long (SPEC §8) */
#define OUTBOX_RETRY_HORIZON (3 * 24 * 3600)

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
