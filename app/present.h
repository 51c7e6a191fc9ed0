/* present: what pahtctl shows, the JSON shapes of SPEC §6 (times RFC 3339 in the province's
 * zone), and the JSON text it prints. */
#ifndef PAHT_APP_PRESENT_H
#define PAHT_APP_PRESENT_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include "gateway/gateway.h"

G_BEGIN_DECLS

JsonNode *report_to_json(const Report *report, GTimeZone *zone);
/* the lifecycle's record of a report as show --json's "result": the agency's answer, who
 * submitted and approved it, the letter's number, the extension */
JsonNode *lifecycle_record_to_json(const LifecycleRecord *record, GTimeZone *zone);
/* a report's pending supplements (PendingReply *), for show --json */
JsonNode *pending_replies_to_json(const GPtrArray *pending, GTimeZone *zone);
JsonNode *report_summary_to_json(const ReportSummary *summary, GTimeZone *zone);
JsonNode *outbox_entry_to_json(const OutboxEntry *entry, GTimeZone *zone);
JsonNode *ingest_result_to_json(const char *file, const IngestResult *result);

/* the JSON text of node, indented by two spaces; doubles as coordinate_text writes them */
char *json_text(JsonNode *node);

/* A person's data (issue 16, the right of access): the reports of ids (gint64 * each) as
 * show --json writes them, in reports.json, and their attachments, zipped into path (a new
 * file, 0600; an existing one is refused) */
gboolean person_export(Store *store, const GPtrArray *ids, GTimeZone *zone, const char *path,
                       GError **error);

G_END_DECLS

#endif
