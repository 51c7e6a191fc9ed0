/* Private to app/: which letters a decision produces, and their context for the templates.
 * Every function enqueues in the caller's transaction. */
#ifndef PAHT_APP_LETTERS_H
#define PAHT_APP_LETTERS_H

#include "conf/conf.h"
#include "queue/queue.h"

/* The answer to a citizen's new report (SPEC §3.6): the acknowledgement. Nothing is sent to
 * addresses that must never get automatic mail (SPEC §3.6). */
gboolean letters_answer_new_report(const Config *config, Store *store, const ReportRef *report,
                                   const Draft *draft, gint64 received_at, GError **error);

/* TRUE for addresses no automatic answer may go to: mailer-daemon, postmaster, abuse, root,
 * noreply/no-reply, and our own (SPEC §3.6). */
gboolean letters_never_answer(const Config *config, const char *address);

#endif
