/* Private to app/: the Gateway's parts, shared by the files of the pipeline
 * (gateway.c: setup and the daemon loop; inbound.c: record, parse, decide; mailbox.c: IMAP;
 * outbound.c: the outbox). */
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

#endif
