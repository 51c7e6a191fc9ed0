/* bounce: delivery status notifications (RFC 3464) about letters we sent (SPEC §3.5, §8).
 *
 * Every DSN is recorded (table bounce) and never answered. It is matched to its letter by
 * the envelope token in the address it was sent to (paht+b-<id>-<mac>@..., see outbound.c),
 * which must be exactly the envelope sender that letter went out with (or, for a letter sent
 * before the envelope was recorded, carry the right mac); else by the original Message-ID
 * the report quotes (ours are random, so a match is ours). A DSN that matches nothing is
 * recorded and left alone: it may be a forgery, or about mail we never sent.
 *
 * A matched failure (5.x.x, or no status at all) fails the letter with the DSN's status; a
 * permanent one except 5.2.2 (mailbox full) suspends the address for 60 days, and the IOC
 * reads in the next digest that the citizen must be reached another way. Delay notices
 * (4.x.x) and delivery notices (2.x.x) are recorded and change nothing.
 *
 * Only the envelope token proves that a DSN is about our letter: a Message-ID is seen by
 * everyone the letter reaches (a citizen, an agency) and by whoever they forward it to, so a
 * DSN matched by it alone fails the letter (the IOC reads it in the digest) but suspends
 * nobody (issue 11): a forged one must not cut a citizen off. If the address is really gone,
 * the DSN of the next letter, which carries the token, suspends it.
 */
#include "gateway/gateway_private.h"
#include "util/util.h"

#include <string.h>

/* the letter the envelope token of address names, if the token is genuine */
static gboolean match_envelope(Gateway *gw, const char *address, GBytes *key, OutboxEntry **out,
                               GError **error)
{
    *out = NULL;
    gint64 id = outbound_envelope_letter(address, gw->config->smtp.from);
    if (id <= 0)
        return TRUE;
    GError *local = NULL;
    g_autoptr(OutboxEntry) letter = outbox_get(gw->store, id, &local);
    if (!letter) {
        if (!g_error_matches(local, PAHT_ERROR, PAHT_ERROR_NOT_FOUND)) {
            g_propagate_error(error, local);
            return FALSE;
        }
        g_error_free(local);
        log_notice("bounce: envelope token names letter %" G_GINT64_FORMAT ", which does not "
                   "exist",
                   id);
        return TRUE;
    }
    gboolean genuine = FALSE;
    if (letter->envelope_from) {
        genuine = g_ascii_strcasecmp(letter->envelope_from, address) == 0;
    } else if (key) {
        g_autofree char *expected =
            outbound_envelope_address(letter->mail_from, letter->id, letter->message_id, key);
        genuine = expected && g_ascii_strcasecmp(expected, address) == 0;
    }
    if (!genuine) {
        log_warning("bounce: the envelope token for letter %" G_GINT64_FORMAT " does not "
                    "verify: not trusted",
                    id);
        return TRUE;
    }
    *out = g_steal_pointer(&letter);
    return TRUE;
}

/* "<id@host>" or "id@host" -> "id@host" */
static char *message_id_bare(const char *id)
{
    g_autofree char *copy = g_strstrip(g_strdup(id));
    gsize len = strlen(copy);
    if (len >= 2 && copy[0] == '<' && copy[len - 1] == '>')
        return g_strndup(copy + 1, len - 2);
    return g_steal_pointer(&copy);
}

gboolean bounce_intake(Gateway *gw, gint64 raw_id, const Draft *draft, GError **error)
{
    g_autoptr(OutboxEntry) letter = NULL;
    const char *matched_by = NULL;

    /* the key that signed the tokens: [smtp] bounce_secret_file, else the gateway's own
     * (read here, in the parser process or pahtctl, with its mode checked). Without it, a
     * letter's recorded envelope still verifies the token; only letters sent before
     * envelopes were recorded need the key. */
    GError *key_error = NULL;
    g_autoptr(GBytes) key = NULL;
    if (!outbound_bounce_key(gw->config, FALSE, &key, &key_error)) {
        log_warning("bounce in message %" G_GINT64_FORMAT ": the envelope key is not used: %s",
                    raw_id, key_error->message);
        g_clear_error(&key_error);
    }
    for (guint i = 0; !letter && draft->recipients && i < draft->recipients->len; i++) {
        if (!match_envelope(gw, g_ptr_array_index(draft->recipients, i), key, &letter, error))
            return FALSE;
        if (letter)
            matched_by = "envelope";
    }
    if (!letter && draft->dsn_original_message_id) {
        g_autofree char *id = message_id_bare(draft->dsn_original_message_id);
        if (!outbox_find_message_id(gw->store, id, &letter, error))
            return FALSE;
        if (letter)
            matched_by = "message_id";
    }

    BounceNew record = {
        .raw_id = raw_id,
        .outbox_id = letter ? letter->id : 0,
        .matched_by = matched_by,
        .status = draft->dsn_status,
        .recipient = draft->dsn_recipient,
        .diagnostic = draft->dsn_diagnostic,
    };
    if (!bounce_record(gw->store, &record, error))
        return FALSE;
    if (!letter) {
        log_notice("bounce in message %" G_GINT64_FORMAT " matches no letter of ours: recorded, "
                   "nothing else done",
                   raw_id);
        return TRUE;
    }

    const char *status = draft->dsn_status;
    if (status && (status[0] == '2' || status[0] == '4')) {
        log_info("letter %" G_GINT64_FORMAT ": %s notice (%s) recorded", letter->id,
                 status[0] == '4' ? "delay" : "delivery", status);
        return TRUE;
    }
    g_autofree char *diagnostic =
        draft->dsn_diagnostic ? text_header_sanitize(draft->dsn_diagnostic) : NULL;
    g_autofree char *reply =
        g_strdup_printf("bounced (DSN %s): %s", status ? status : "without status",
                        diagnostic && *diagnostic ? diagnostic : "no diagnostic");
    gboolean changed = FALSE;
    if (!outbox_mark_bounced(gw->store, letter->id, status, reply, &changed, error))
        return FALSE;
    if (!changed) {
        log_info("letter %" G_GINT64_FORMAT " is %s: its bounce changes nothing", letter->id,
                 letter->state);
        return TRUE;
    }
    g_autofree char *who = log_redact_address(letter->rcpt);
    log_notice("letter %" G_GINT64_FORMAT " (%s) to %s bounced with %s (matched by %s)", letter->id,
               letter->kind, who, status ? status : "no status", matched_by);
    gboolean verified = g_str_equal(matched_by, "envelope");
    gboolean suspends = outbound_status_suspends(status);
    if (!outbound_letter_failed(gw, letter->id, letter->report_id, letter->kind, letter->rcpt,
                                status, reply, verified && suspends, NULL, error))
        return FALSE;
    if (verified || !suspends || letter->report_id <= 0)
        return TRUE;
    log_notice("letter %" G_GINT64_FORMAT ": the bounce quotes its Message-ID but not its signed "
               "envelope: %s is not suspended",
               letter->id, who);
    g_autofree char *detail = g_strdup_printf(
        "the DSN (%s) for letter %" G_GINT64_FORMAT " matches it only by the Message-ID it "
        "quotes, not by the letter's signed envelope: it may be forged, so %s is not suspended. "
        "If the address is really gone, the next letter's own DSN suspends it",
        status ? status : "no status", letter->id, letter->rcpt);
    return event_add(gw->store, letter->report_id, "pahtd", "bounce_unverified", detail, error);
}
