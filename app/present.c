/* What pahtctl shows: the JSON shapes of SPEC §6. Times are RFC 3339 in the province's zone. */
#include "app/present.h"
#include "notify/notify.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <unistd.h>
#include <string.h>

static gboolean report_has_event(const Report *r, const char *kind)
{
    for (guint i = 0; r->events && i < r->events->len; i++) {
        const ReportEvent *e = g_ptr_array_index(r->events, i);
        if (g_str_equal(e->kind, kind))
            return TRUE;
    }
    return FALSE;
}

JsonNode *pending_replies_to_json(const GPtrArray *pending, GTimeZone *zone)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_array(b);
    for (guint i = 0; pending && i < pending->len; i++) {
        const PendingReply *p = g_ptr_array_index(pending, i);
        json_builder_begin_object(b);
        json_member_int(b, "id", p->id);
        json_member_int(b, "raw_id", p->raw_id);
        json_member_string(b, "state", p->state);
        json_member_string(b, "from", p->sender);
        json_member_string(b, "matched_by", p->matched_by);
        json_member_string(b, "reason", p->reason);
        json_member_time(b, "received_at", p->created_at, zone);
        json_member_time(b, "decided_at", p->decided_at, zone);
        json_member_string(b, "decided_by", p->decided_by);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    return json_builder_get_root(b);
}

/* ---- the JSON text -----------------------------------------------------------------------------
 * JSON-GLib prints every double with 17 significant digits (g_ascii_dtostr), so that the
 * 9.6031 a citizen wrote came out as 9.6030999999999995. The gateway's doubles are
 * coordinates: they print as coordinate_text (notify/notify.h) writes them. */

/* RFC 8259 §7: quotation mark, reverse solidus and control characters escaped; UTF-8 as is */
static void json_write_string(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            g_string_append(out, "\\\"");
            break;
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\r':
            g_string_append(out, "\\r");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        default:
            if (*p < 0x20)
                g_string_append_printf(out, "\\u%04x", *p);
            else
                g_string_append_c(out, (char)*p);
        }
    }
    g_string_append_c(out, '"');
}

static void json_write_node(GString *out, JsonNode *node, int depth);

static void json_write_newline(GString *out, int depth)
{
    g_string_append_c(out, '\n');
    for (int i = 0; i < depth; i++)
        g_string_append(out, "  ");
}

static void json_write_value(GString *out, JsonNode *node)
{
    GType type = json_node_get_value_type(node);
    if (type == G_TYPE_INT64) {
        g_string_append_printf(out, "%" G_GINT64_FORMAT, json_node_get_int(node));
    } else if (type == G_TYPE_DOUBLE) {
        g_autofree char *text = coordinate_text(json_node_get_double(node));
        g_string_append(out, text);
    } else if (type == G_TYPE_BOOLEAN) {
        g_string_append(out, json_node_get_boolean(node) ? "true" : "false");
    } else {
        json_write_string(out, json_node_get_string(node) ? json_node_get_string(node) : "");
    }
}

static void json_write_object(GString *out, JsonObject *object, int depth)
{
    g_string_append_c(out, '{');
    g_autoptr(GList) members = json_object_get_members(object);
    for (GList *m = members; m; m = m->next) {
        json_write_newline(out, depth + 1);
        json_write_string(out, m->data);
        g_string_append(out, " : ");
        json_write_node(out, json_object_get_member(object, m->data), depth + 1);
        if (m->next)
            g_string_append_c(out, ',');
    }
    if (members)
        json_write_newline(out, depth);
    g_string_append_c(out, '}');
}

static void json_write_array(GString *out, JsonArray *array, int depth)
{
    g_string_append_c(out, '[');
    guint n = json_array_get_length(array);
    for (guint i = 0; i < n; i++) {
        json_write_newline(out, depth + 1);
        json_write_node(out, json_array_get_element(array, i), depth + 1);
        if (i + 1 < n)
            g_string_append_c(out, ',');
    }
    if (n)
        json_write_newline(out, depth);
    g_string_append_c(out, ']');
}

static void json_write_node(GString *out, JsonNode *node, int depth)
{
    switch (node ? json_node_get_node_type(node) : JSON_NODE_NULL) {
    case JSON_NODE_OBJECT:
        json_write_object(out, json_node_get_object(node), depth);
        break;
    case JSON_NODE_ARRAY:
        json_write_array(out, json_node_get_array(node), depth);
        break;
    case JSON_NODE_VALUE:
        json_write_value(out, node);
        break;
    case JSON_NODE_NULL:
        g_string_append(out, "null");
        break;
    }
}

char *json_text(JsonNode *node)
{
    GString *out = g_string_new(NULL);
    json_write_node(out, node, 0);
    return g_string_free(out, FALSE);
}

static void add_files(JsonBuilder *b, const char *member, const GPtrArray *files,
                      gboolean with_role)
{
    json_builder_set_member_name(b, member);
    json_builder_begin_array(b);
    for (guint i = 0; files && i < files->len; i++) {
        const StoredAttachment *a = g_ptr_array_index(files, i);
        json_builder_begin_object(b);
        if (with_role)
            json_member_string(b, "role", a->role);
        json_member_string(b, "filename", a->filename);
        json_member_string(b, "content_type", a->content_type);
        json_member_int(b, "size", a->size);
        json_member_string(b, "sha256", a->sha256);
        json_member_string(b, "kind", a->kind);
        json_member_bool(b, "dangerous", a->dangerous);
        json_member_string(b, "content_id", a->content_id);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

JsonNode *lifecycle_record_to_json(const LifecycleRecord *rec, GTimeZone *zone)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_member_string(b, "text", rec->result_text);
    json_member_string(b, "by", rec->result_by);
    json_member_time(b, "submitted_at", rec->result_at, zone);
    json_member_string(b, "approved_by", rec->approved_by);
    json_member_time(b, "approved_at", rec->approved_at, zone);
    json_member_string(b, "letter_number", rec->letter_number);
    json_member_time(b, "published_at", rec->published_at, zone);
    json_member_time(b, "extended_until", rec->extended_until, zone);
    json_member_string(b, "extension_note", rec->extension_note);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

JsonNode *report_to_json(const Report *r, GTimeZone *zone)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_member_int(b, "id", r->id);
    json_member_string(b, "code", r->code);
    json_member_string(b, "state", r->state);
    json_member_bool(b, "overdue", r->overdue);
    json_member_string(b, "classification", r->classification);
    json_member_string(b, "rule", r->rule);
    json_member_strv(b, "missing", r->missing);
    json_member_bool(b, "confidential", r->confidential);
    /* issue 11: the province's MX doubted the sender (DMARC, spam): no automatic answer */
    json_member_bool(b, "sender_unverified", report_has_event(r, "sender_unverified"));
    json_member_time(b, "received_at", r->received_at, zone);
    json_member_time(b, "updated_at", r->updated_at, zone);
    json_member_string(b, "subject", r->subject);
    json_member_string(b, "text", r->text);

    json_builder_set_member_name(b, "citizen");
    json_builder_begin_object(b);
    json_member_string(b, "name", r->citizen.name);
    json_member_string(b, "address", r->citizen.address);
    json_member_string(b, "id_number", r->citizen.id_number);
    json_member_string(b, "phone", r->citizen.phone);
    json_member_string(b, "email", r->citizen.email);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "location");
    json_builder_begin_object(b);
    json_member_string(b, "text", r->location.text);
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
    json_member_string(b, "occurred_at", r->occurred_at);

    add_files(b, "attachments", r->attachments, FALSE);
    /* issue 14: what agencies sent by mail (role result, opinion, note) */
    add_files(b, "agency_files", r->agency_files, TRUE);

    json_member_string(b, "agency", r->agency);
    json_member_strv(b, "coordinators", r->coordinators);

    json_builder_set_member_name(b, "deadlines");
    json_builder_begin_object(b);
    for (guint i = 0; r->deadlines && i < r->deadlines->len; i++) {
        const ReportDeadline *d = g_ptr_array_index(r->deadlines, i);
        json_member_time(b, d->name, d->due, zone);
    }
    json_builder_end_object(b);

    json_builder_set_member_name(b, "events");
    json_builder_begin_array(b);
    for (guint i = 0; r->events && i < r->events->len; i++) {
        const ReportEvent *e = g_ptr_array_index(r->events, i);
        json_builder_begin_object(b);
        json_member_time(b, "at", e->at, zone);
        json_member_string(b, "actor", e->actor);
        json_member_string(b, "kind", e->kind);
        json_member_string(b, "detail", e->detail);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);

    json_builder_set_member_name(b, "mail");
    json_builder_begin_array(b);
    for (guint i = 0; r->mail && i < r->mail->len; i++) {
        const ReportMail *m = g_ptr_array_index(r->mail, i);
        json_builder_begin_object(b);
        json_member_int(b, "id", m->id);
        json_member_string(b, "kind", m->kind);
        json_member_string(b, "to", m->rcpt);
        json_member_string(b, "state", m->state);
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
    json_member_int(b, "id", s->id);
    json_member_string(b, "code", s->code);
    json_member_string(b, "state", s->state);
    json_member_bool(b, "overdue", s->overdue);
    json_member_string(b, "classification", s->classification);
    json_member_strv(b, "missing", s->missing);
    json_member_bool(b, "confidential", s->confidential);
    json_member_time(b, "received_at", s->received_at, zone);
    json_member_string(b, "subject", s->subject);
    json_builder_set_member_name(b, "citizen");
    json_builder_begin_object(b);
    json_member_string(b, "name", s->citizen_name);
    json_member_string(b, "email", s->citizen_email);
    json_builder_end_object(b);
    json_member_int(b, "attachments", s->n_attachments);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

JsonNode *outbox_entry_to_json(const OutboxEntry *e, GTimeZone *zone)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_member_int(b, "id", e->id);
    json_member_string(b, "kind", e->kind);
    json_builder_set_member_name(b, "report_id");
    if (e->report_id > 0)
        json_builder_add_int_value(b, e->report_id);
    else
        json_builder_add_null_value(b);
    json_member_string(b, "to", e->rcpt);
    json_member_string(b, "state", e->state);
    json_member_int(b, "attempts", e->attempts);
    json_member_string(b, "last_reply", e->last_reply);
    json_member_string(b, "message_id", e->message_id);
    json_member_time(b, "created_at", e->created_at, zone);
    json_member_time(b, "sent_at", e->sent_at, zone);
    json_member_time(b, "next_attempt_at", g_str_equal(e->state, "queued") ? e->next_attempt_at : 0,
                     zone);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

JsonNode *ingest_result_to_json(const char *file, const IngestResult *r)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_member_string(b, "file", file);
    json_builder_set_member_name(b, "id");
    if (r->report_id > 0)
        json_builder_add_int_value(b, r->report_id);
    else
        json_builder_add_null_value(b);
    json_member_string(b, "code", r->code);
    json_member_string(b, "classification", r->classification);
    json_member_bool(b, "duplicate", r->duplicate);
    json_member_int(b, "raw_id", r->raw_id);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* ---- a person's data, exported (issue 16) ----------------------------------------------------
 * A ZIP file (PKWARE APPNOTE 6.3, entries stored, not compressed: photos and videos are
 * compressed already) written with nothing but GLib: person.json, then each report's files. */

typedef struct {
    int fd;
    GArray *central; /* the central directory, built as entries are written */
    guint16 count;
    guint32 offset;
    gboolean failed;
} Zip;

static guint32 zip_crc32(const guint8 *data, gsize len)
{
    static guint32 table[256];
    if (!table[1]) {
        for (guint32 i = 0; i < 256; i++) {
            guint32 c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    }
    guint32 crc = 0xFFFFFFFFu;
    for (gsize i = 0; i < len; i++)
        crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

static void le16(GByteArray *a, guint16 v)
{
    guint8 b[2] = {v & 0xFF, v >> 8};
    g_byte_array_append(a, b, 2);
}

static void le32(GByteArray *a, guint32 v)
{
    guint8 b[4] = {v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF, v >> 24};
    g_byte_array_append(a, b, 4);
}

/* the fields local and central headers share, from "version needed" to the name's length */
static void zip_common(GByteArray *h, guint32 crc, guint32 size, gsize name_len)
{
    le16(h, 20);     /* version needed: 2.0 */
    le16(h, 0x0800); /* bit 11: the name is UTF-8 */
    le16(h, 0);      /* stored */
    le16(h, 0);      /* time */
    le16(h, 0x21);   /* date: 1980-01-01 */
    le32(h, crc);
    le32(h, size);
    le32(h, size);
    le16(h, (guint16)name_len);
}

static void zip_add(Zip *z, const char *name, GBytes *data)
{
    if (z->failed)
        return;
    gsize len = 0, name_len = strlen(name);
    const guint8 *bytes = g_bytes_get_data(data, &len);
    if (len > G_MAXUINT32 - 1024 || (guint64)z->offset + len > G_MAXUINT32 - 1024 ||
        z->count == G_MAXUINT16) {
        z->failed = TRUE; /* past what ZIP without its 64-bit extension holds */
        return;
    }
    guint32 crc = zip_crc32(bytes, len);
    g_autoptr(GByteArray) local = g_byte_array_new();
    le32(local, 0x04034b50);
    zip_common(local, crc, (guint32)len, name_len);
    le16(local, 0);
    g_byte_array_append(local, (const guint8 *)name, (guint)name_len);
    GByteArray *central = g_byte_array_new();
    le32(central, 0x02014b50);
    le16(central, 0x031E); /* made by: Unix, 3.0 */
    zip_common(central, crc, (guint32)len, name_len);
    le16(central, 0);                      /* extra */
    le16(central, 0);                      /* comment */
    le16(central, 0);                      /* disk */
    le16(central, 0);                      /* internal attributes */
    le32(central, (guint32)0100600 << 16); /* a private file */
    le32(central, z->offset);
    g_byte_array_append(central, (const guint8 *)name, (guint)name_len);
    g_array_append_val(z->central, central);
    z->failed = !fs_write_all(z->fd, local->data, local->len) || !fs_write_all(z->fd, bytes, len);
    z->offset += local->len + (guint32)len;
    z->count++;
}

static gboolean zip_finish(Zip *z)
{
    g_autoptr(GByteArray) end = g_byte_array_new();
    guint32 start = z->offset, size = 0;
    for (guint i = 0; i < z->central->len; i++) {
        GByteArray *c = g_array_index(z->central, GByteArray *, i);
        size += c->len;
        z->failed = z->failed || !fs_write_all(z->fd, c->data, c->len);
        g_byte_array_unref(c);
    }
    le32(end, 0x06054b50);
    le16(end, 0);
    le16(end, 0);
    le16(end, z->count);
    le16(end, z->count);
    le32(end, size);
    le32(end, start);
    le16(end, 0);
    z->failed = z->failed || !fs_write_all(z->fd, end->data, end->len);
    g_array_unref(z->central);
    return !z->failed;
}

/* "ảnh hiện trường.jpg" stays, numbered; separators of any system ('/', '\\', ':') and
 * control characters become '_', so that no unzip puts it outside its folder */
static char *zip_safe_name(const char *name, guint number)
{
    if (!name || !*name || !g_utf8_validate(name, -1, NULL))
        return g_strdup_printf("%u", number);
    g_autofree char *safe = g_strdup(name);
    for (char *p = safe; *p; p++) {
        if (*p == '/' || *p == '\\' || *p == ':' || (unsigned char)*p < 0x20)
            *p = '_';
    }
    return g_strdup_printf("%u-%s", number, safe);
}

static void export_report_files(Zip *z, const Report *r)
{
    for (guint i = 0; i < r->attachments->len; i++) {
        const StoredAttachment *a = g_ptr_array_index(r->attachments, i);
        g_autoptr(GMappedFile) file =
            a->path && *a->path ? g_mapped_file_new(a->path, FALSE, NULL) : NULL;
        if (!file)
            continue; /* purged: nothing left to give */
        g_autoptr(GBytes) data = g_mapped_file_get_bytes(file);
        g_autofree char *safe = zip_safe_name(a->filename, i + 1);
        g_autofree char *name = g_strdup_printf("%s/attachments/%s", r->code, safe);
        zip_add(z, name, data);
    }
}

gboolean person_export(Store *store, const GPtrArray *ids, GTimeZone *zone, const char *path,
                       GError **error)
{
    g_autoptr(GPtrArray) reports = g_ptr_array_new_with_free_func((GDestroyNotify)report_free);
    g_autoptr(JsonArray) array = json_array_new();
    for (guint i = 0; i < ids->len; i++) {
        Report *r = report_load_id(store, *(gint64 *)g_ptr_array_index(ids, i), error);
        if (!r)
            return FALSE;
        g_ptr_array_add(reports, r);
        json_array_add_element(array, report_to_json(r, zone));
    }
    g_autoptr(JsonNode) root = json_node_init_array(json_node_alloc(), array);
    g_autofree char *json = json_text(root);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "cannot create %s: %s%s", path,
                    g_strerror(errno), errno == EEXIST ? " (it is not overwritten)" : "");
        return FALSE;
    }
    Zip z = {.fd = fd, .central = g_array_new(FALSE, FALSE, sizeof(GByteArray *))};
    g_autoptr(GBytes) json_bytes = g_bytes_new(json, strlen(json));
    zip_add(&z, "reports.json", json_bytes);
    for (guint i = 0; i < reports->len; i++)
        export_report_files(&z, g_ptr_array_index(reports, i));
    gboolean written = zip_finish(&z) && fsync(fd) == 0;
    if (close(fd) != 0 || !written) {
        unlink(path);
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot write %s", path);
        return FALSE;
    }
    return TRUE;
}
