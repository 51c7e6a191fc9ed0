/* What pahtctl shows: the JSON shapes of SPEC §6. Times are RFC 3339 in the province's zone. */
#include "app/gateway.h"
#include "util/util.h"

static void member_string(JsonBuilder *b, const char *name, const char *value)
{
    json_builder_set_member_name(b, name);
    if (value)
        json_builder_add_string_value(b, value);
    else
        json_builder_add_null_value(b);
}

static void member_time(JsonBuilder *b, const char *name, gint64 t, GTimeZone *zone)
{
    json_builder_set_member_name(b, name);
    if (t > 0) {
        g_autofree char *text = clock_format_rfc3339(t, zone);
        json_builder_add_string_value(b, text);
    } else {
        json_builder_add_null_value(b);
    }
}

static void member_strv(JsonBuilder *b, const char *name, char **values)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_array(b);
    for (char **v = values; v && *v; v++)
        json_builder_add_string_value(b, *v);
    json_builder_end_array(b);
}

static void member_bool(JsonBuilder *b, const char *name, gboolean value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_boolean_value(b, value);
}

static void member_int(JsonBuilder *b, const char *name, gint64 value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, value);
}

JsonNode *report_to_json(const Report *r, GTimeZone *zone)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    member_int(b, "id", r->id);
    member_string(b, "code", r->code);
    member_string(b, "state", r->state);
    member_bool(b, "overdue", r->overdue);
    member_string(b, "classification", r->classification);
    member_string(b, "rule", r->rule);
    member_strv(b, "missing", r->missing);
    member_bool(b, "confidential", r->confidential);
    member_time(b, "received_at", r->received_at, zone);
    member_time(b, "updated_at", r->updated_at, zone);
    member_string(b, "subject", r->subject);
    member_string(b, "text", r->text);

    json_builder_set_member_name(b, "citizen");
    json_builder_begin_object(b);
    member_string(b, "name", r->citizen.name);
    member_string(b, "address", r->citizen.address);
    member_string(b, "id_number", r->citizen.id_number);
    member_string(b, "phone", r->citizen.phone);
    member_string(b, "email", r->citizen.email);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "location");
    json_builder_begin_object(b);
    member_string(b, "text", r->location.text);
    json_builder_set_member_name(b, "lat");
    if (r->location.has_coordinates)
        json_builder_add_double_value(b, r->location.lat);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "lon");
    if (r->location.has_coordinates)
        json_builder_add_double_value(b, r->location.lon);
    else
        json_builder_add_null_value(b);
    json_builder_end_object(b);
    member_string(b, "occurred_at", r->occurred_at);

    json_builder_set_member_name(b, "attachments");
    json_builder_begin_array(b);
    for (guint i = 0; r->attachments && i < r->attachments->len; i++) {
        const StoredAttachment *a = g_ptr_array_index(r->attachments, i);
        json_builder_begin_object(b);
        member_string(b, "filename", a->filename);
        member_string(b, "content_type", a->content_type);
        member_int(b, "size", a->size);
        member_string(b, "sha256", a->sha256);
        member_string(b, "kind", a->kind);
        member_bool(b, "dangerous", a->dangerous);
        member_string(b, "content_id", a->content_id);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);

    member_string(b, "agency", r->agency);
    member_strv(b, "coordinators", r->coordinators);

    json_builder_set_member_name(b, "deadlines");
    json_builder_begin_object(b);
    for (guint i = 0; r->deadlines && i < r->deadlines->len; i++) {
        const ReportDeadline *d = g_ptr_array_index(r->deadlines, i);
        member_time(b, d->name, d->due, zone);
    }
    json_builder_end_object(b);

    json_builder_set_member_name(b, "events");
    json_builder_begin_array(b);
    for (guint i = 0; r->events && i < r->events->len; i++) {
        const ReportEvent *e = g_ptr_array_index(r->events, i);
        json_builder_begin_object(b);
        member_time(b, "at", e->at, zone);
        member_string(b, "actor", e->actor);
        member_string(b, "kind", e->kind);
        member_string(b, "detail", e->detail);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);

    json_builder_set_member_name(b, "mail");
    json_builder_begin_array(b);
    for (guint i = 0; r->mail && i < r->mail->len; i++) {
        const ReportMail *m = g_ptr_array_index(r->mail, i);
        json_builder_begin_object(b);
        member_int(b, "id", m->id);
        member_string(b, "kind", m->kind);
        member_string(b, "to", m->rcpt);
        member_string(b, "state", m->state);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

JsonNode *report_summary_to_json(const ReportSummary *s, GTimeZone *zone)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    member_int(b, "id", s->id);
    member_string(b, "code", s->code);
    member_string(b, "state", s->state);
    member_bool(b, "overdue", s->overdue);
    member_string(b, "classification", s->classification);
    member_strv(b, "missing", s->missing);
    member_bool(b, "confidential", s->confidential);
    member_time(b, "received_at", s->received_at, zone);
    member_string(b, "subject", s->subject);
    json_builder_set_member_name(b, "citizen");
    json_builder_begin_object(b);
    member_string(b, "name", s->citizen_name);
    member_string(b, "email", s->citizen_email);
    json_builder_end_object(b);
    member_int(b, "attachments", s->n_attachments);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

JsonNode *outbox_entry_to_json(const OutboxEntry *e, GTimeZone *zone)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    member_int(b, "id", e->id);
    member_string(b, "kind", e->kind);
    json_builder_set_member_name(b, "report_id");
    if (e->report_id > 0)
        json_builder_add_int_value(b, e->report_id);
    else
        json_builder_add_null_value(b);
    member_string(b, "to", e->rcpt);
    member_string(b, "state", e->state);
    member_int(b, "attempts", e->attempts);
    member_string(b, "last_reply", e->last_reply);
    member_string(b, "message_id", e->message_id);
    member_time(b, "created_at", e->created_at, zone);
    member_time(b, "sent_at", e->sent_at, zone);
    member_time(b, "next_attempt_at", g_str_equal(e->state, "queued") ? e->next_attempt_at : 0,
                zone);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

JsonNode *ingest_result_to_json(const char *file, const IngestResult *r)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    member_string(b, "file", file);
    json_builder_set_member_name(b, "id");
    if (r->report_id > 0)
        json_builder_add_int_value(b, r->report_id);
    else
        json_builder_add_null_value(b);
    member_string(b, "code", r->code);
    member_string(b, "classification", r->classification);
    member_bool(b, "duplicate", r->duplicate);
    member_int(b, "raw_id", r->raw_id);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}
