/* JSON members, the way every JSON shape of the gateway writes them (pahtctl's output, the
 * letters' template contexts, the IOC digest). Defined in present.c. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

/* "name": value, or "name": null when value is NULL */
void json_member_string(JsonBuilder *b, const char *name, const char *value);
/* "name": value; nothing at all when value is NULL (a template section that is absent) */
void json_member_string_if(JsonBuilder *b, const char *name, const char *value);
void json_member_int(JsonBuilder *b, const char *name, gint64 value);
void json_member_bool(JsonBuilder *b, const char *name, gboolean value);
/* "name": [values...] (an empty array for NULL) */
void json_member_strv(JsonBuilder *b, const char *name, char **values);
/* "name": RFC 3339 in zone, or null for t <= 0 */
void json_member_time(JsonBuilder *b, const char *name, gint64 t, GTimeZone *zone);

/* a coordinate as written, to at most 7 decimals (about 1 cm): "9.6031", "105.9738889" */
char *coordinate_text(double degrees);
/* the JSON text of node, indented by two spaces; doubles as coordinate_text writes them */
char *json_text(JsonNode *node);
