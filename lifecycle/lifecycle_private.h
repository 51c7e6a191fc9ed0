/* Private to lifecycle/: what its files share. lifecycle.c: the report row's head, running a
 * statement, ending a transaction; deadlines.c: opening and closing a report's deadlines for
 * the transitions (transitions.c). The tables are the store's, read and written through
 * queue/store_sql.h. */
#ifndef PAHT_LIFECYCLE_PRIVATE_H
#define PAHT_LIFECYCLE_PRIVATE_H

#include "lifecycle/lifecycle.h"
#include "queue/store_sql.h"

/* the report row's few columns a transition decides on */
typedef struct {
    gint64 id;
    char *code, *state, *agency, *coordinators;
    gboolean confidential, overdue;
    char *missing;
} Head;

void lifecycle_head_clear(Head *h);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Head, lifecycle_head_clear)
/* PAHT_ERROR_NOT_FOUND for no such report */
gboolean lifecycle_head_load(Store *store, gint64 id, Head *out, GError **error);

/* t in RFC 3339, in the calendar's zone: how events write times */
char *lifecycle_time_text(const Lifecycle *lc, gint64 t);
/* steps a bound statement to its end (and resets it); what names it in an error */
gboolean lifecycle_exec_bound(Store *store, sqlite3_stmt *stmt, const char *what, GError **error);
/* ends the transaction store_begin opened: committed when ok, else rolled back (FALSE) */
gboolean lifecycle_finish(Store *store, gboolean ok, GError **error);

/* deadlines.c: a report's deadlines, in the caller's transaction */

/* opens (or reopens with a new due time) a deadline; PAHT_ERROR_CONFIG when due is not a
 * time (the calendar has no working time) */
gboolean deadline_set(Store *store, const Lifecycle *lc, gint64 report_id, const char *name,
                      gint64 due, gint64 now, GError **error);
/* the due time of an open deadline, or 0 */
gboolean deadline_open_due(Store *store, gint64 report_id, const char *name, gint64 *due,
                           GError **error);
/* status met | cancelled, for an open deadline (nothing if it is not open) */
gboolean deadline_close(Store *store, gint64 report_id, const char *name, const char *status,
                        gint64 now, GError **error);
/* a met deadline opened again with its old due time (a result sent back, Điều 9.4) */
gboolean deadline_reopen(Store *store, const Lifecycle *lc, gint64 report_id, const char *name,
                         gint64 now, GError **error);

#endif
