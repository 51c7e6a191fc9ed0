/* held: what waits for the IOC because its sender could not be trusted (issue 11).
 *
 * A reply tied to its report only by its From address and a tracking code (or its own thread),
 * or one the province's MX doubts, is a pending supplement: the IOC confirms it (it is then
 * added to the report as any reply, with the answers a reply gets) or discards it. A new
 * report whose sender failed DMARC, or that the spam filter flagged, got no automatic answer:
 * the IOC may send it by hand. */
#include "gateway/gateway_private.h"
#include "letters/letters.h"
#include "util/util.h"

#include <string.h>

gboolean held_supplement_decide(Gateway *gw, gint64 pending_id, gboolean confirm, const char *actor,
                                IngestResult *out, GError **error)
{
    memset(out, 0, sizeof *out);
    g_autoptr(PendingReply) p = pending_reply_get(gw->store, pending_id, error);
    if (!p || !pending_reply_is_open(p, error))
        return FALSE;
    if (confirm) {
        if (!inbound_confirm_supplement(gw, p, actor, out, error))
            return FALSE;
        log_notice("supplement %" G_GINT64_FORMAT " (message %" G_GINT64_FORMAT
                   ") confirmed into %s",
                   pending_id, p->raw_id, out->code ? out->code : "its report");
        return TRUE;
    }
    if (!store_begin(gw->store, error))
        return FALSE;
    if (!pending_reply_decide(gw->store, pending_id, FALSE, actor, error)) {
        store_rollback(gw->store);
        return FALSE;
    }
    if (!store_commit(gw->store, error))
        return FALSE;
    out->raw_id = p->raw_id;
    out->report_id = p->report_id;
    out->classification = g_strdup("discarded");
    return TRUE;
}

gboolean held_answer_by_ioc(Gateway *gw, gint64 report_id, const char *actor, GError **error)
{
    g_autoptr(Report) r = report_load_id(gw->store, report_id, error);
    if (!r)
        return FALSE;
    static const char *const waiting[] = {"draft", "incomplete", NULL};
    if (!g_strv_contains(waiting, r->state) ||
        g_str_equal(r->classification, CLASSIFICATION_COMPLAINT)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "%s is %s%s: only a report waiting for the IOC gets its first answer", r->code,
                    r->state,
                    g_str_equal(r->classification, CLASSIFICATION_COMPLAINT) ? " (a complaint)"
                                                                             : "");
        return FALSE;
    }
    g_autofree char *sender = NULL;
    if (!report_sender(gw->store, report_id, &sender, error))
        return FALSE;
    if (!sender) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "%s: the message has no sender address to answer", r->code);
        return FALSE;
    }
    gint64 before = 0, after = 0;
    if (!store_begin(gw->store, error))
        return FALSE;
    gboolean ok = outbox_last_id(gw->store, &before, error) &&
                  letters_answer_by_ioc(gw->config, gw->store, r, sender, error) &&
                  outbox_last_id(gw->store, &after, error);
    if (ok && after == before) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "%s: no answer to send (it went already, or the address never gets "
                    "automatic mail: see pahtctl show %s)",
                    r->code, r->code);
        ok = FALSE;
    }
    if (ok) {
        g_autofree char *detail =
            g_strdup_printf("the automatic answer sent to %s at the IOC's request", sender);
        ok = event_add(gw->store, report_id, actor && *actor ? actor : "pahtctl", "answered_by_ioc",
                       detail, error);
    }
    if (!ok) {
        store_rollback(gw->store);
        return FALSE;
    }
    return store_commit(gw->store, error);
}
