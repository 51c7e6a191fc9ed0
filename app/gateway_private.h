/* Private to app/: the Gateway's parts, shared by the files of the pipeline
 * (gateway.c: setup and the daemon loop; inbound.c: record, parse, decide; mailbox.c: IMAP;
 * outbound.c: the outbox; bounce.c: delivery status notifications). */
#ifndef PAHT_APP_GATEWAY_PRIVATE_H
#define PAHT_APP_GATEWAY_PRIVATE_H

#include "app/gateway.h"
#include "imap/imap.h"
#include "notify/notify.h"

/* a message whose processing was started this many times without finishing (the process
 * died each time: a crash in a library, a hang killed by the watchdog) is set aside */
#define MAX_PROCESSING_ATTEMPTS 3

struct Gateway {
    const Config *config;
    Store *store;
    char *raw_dir, *att_dir, *tmp_dir;
    ImapClient *imap;
    gboolean folders_ready;
    SmtpSender *smtp;
};

/* inbound.c */

/* Parses a recorded raw message and commits what it becomes. A message parse refuses is
 * marked unparsed (kept, never lost) and reported in out->unparsed: that is not an error. */
gboolean inbound_process_raw(Gateway *gw, const RawMessage *raw, IngestResult *out, GError **error);
/* Takes a finished temp file into the raw store (content-addressed, durable); returns its
 * stored path, with its digest and size. */
char *inbound_commit_raw_file(Gateway *gw, const char *temp_path, char **sha256_out,
                              gint64 *size_out, GError **error);

/* gateway.c */
void gateway_remove_tree(const char *path);

/* outbound.c: the envelope sender of every letter is VERP-style (SPEC §8 bounces):
 * <local>+b-<letter id>-<mac>@<domain> of [smtp] from, mac the first 16 hex digits of
 * HMAC-SHA256(key, "b-<id>-<Message-ID>"), so that a bounce names its letter and a stranger
 * cannot fail someone else's letter. */

/* The HMAC key: [smtp] bounce_secret_file when pahtd read it; else the gateway's own key in
 * data_dir/bounce.key (64 hex digits, 0600), created when create is TRUE and it is missing.
 * NULL with no error when there is none and create is FALSE. */
GBytes *outbound_bounce_key(const Config *config, gboolean create, GError **error);
/* the envelope sender for letter id; NULL when from has no room for the token (local part
 * longer than 64 characters with it) or is not an address */
char *outbound_envelope_address(const char *from, gint64 id, const char *message_id, GBytes *key);
/* the letter id an address of the form above names (our from's local part and domain), or 0;
 * the mac is not checked here */
gint64 outbound_envelope_letter(const char *address, const char *our_from);
/* TRUE for an RFC 3463 status that suspends the address (SPEC §8): 5.x.x except 5.2.2,
 * mailbox full, which is the citizen's to fix and no reason to stop writing to them, and
 * except 5.3.x, 5.6.x and 5.7.x, which are about our letter or our mail, not the address */
gboolean outbound_status_suspends(const char *status);
/* A letter failed for good (an SMTP 5xx, a DSN), in the caller's transaction: an event on its
 * report and, when suspend, the address suspended for 60 days (never the IOC's, an agency's
 * or our own: those must be fixed in the configuration, not silenced). *until (may be NULL)
 * gets the end of the suspension, 0 if none. */
gboolean outbound_letter_failed(Gateway *gw, gint64 letter_id, gint64 report_id, const char *kind,
                                const char *rcpt, const char *status, const char *reason,
                                gboolean suspend, gint64 *until, GError **error);

/* bounce.c: a delivery status notification (classification bounce), in the caller's
 * transaction: recorded, matched to its letter (envelope token, else the original
 * Message-ID), and the letter failed; one that matches nothing is only recorded. */
gboolean bounce_intake(Gateway *gw, gint64 raw_id, const Draft *draft, GError **error);

#endif
