/* Private to app/: the daemon's clock of the regulation. Each cycle of pahtd: the new drafts
 * get their IOC deadline, every deadline whose time came is acted on (reminders, the overdue
 * flag of Điều 8.5, escalations), with its letters queued for working hours. It only touches
 * the database, so it runs even while the mailbox or the SMTP server is unreachable. */
#ifndef PAHT_APP_SCHEDULER_H
#define PAHT_APP_SCHEDULER_H

#include "app/gateway.h"

typedef struct {
    int drafts_seen; /* events read by the catch-up */
    int actions;     /* deadline actions done */
    int overdue;     /* reports newly flagged overdue */
    int failed;      /* actions that failed (logged; retried next cycle) */
} SchedulerStats;

/* One cycle. Errors are logged here, where they are decided: the daemon goes on. stats may be
 * NULL. Returns FALSE when something failed (the rest of the cycle still ran). */
gboolean scheduler_run_cycle(Gateway *gateway, SchedulerStats *stats);

#endif
