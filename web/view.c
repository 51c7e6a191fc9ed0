/* A report as each user may see it (issue 13; Điều 4.5, 9.3.b, 15.6).
 *
 * The IOC sees everything the gateway knows. An agency's staff and its leader see what the
 * assignment letter shows them: the citizen's name, phone and e-mail to verify on site, never
 * the ID number or the postal address, and nothing personal at all for a confidential
 * report; the text, subject, place, file names and the timeline through the letters'
 * redaction (letters/redact.c), the one code that decides what an agency reads. The citizen's
 * mail is shown as the parsed text, never as HTML. */
#include "web/web_private.h"
#include "notify/notify.h"
#include "letters/letters.h"
#include "util/util.h"

#include <fcntl.h>
#include <string.h>

#define POSSIBLE_DUPLICATES_SHOWN 10
#include <unistd.h>

/* the fields of Điều 4 in the order the page shows them; which a non-IOC reader gets */
static const struct {
    const char *name;
    gboolean agency_reads; /* ordinary reports only; confidential: none */
} citizen_fields[] = {
    {"name", TRUE}, {"address", FALSE}, {"id_number", FALSE}, {"phone", TRUE}, {"email", TRUE},
};

static gboolean reads_everything(Request *req)
{
    return access_role(req->user) == ROLE_IOC;
}

static RedactCitizen who_of(const Report *r)
{
    return (RedactCitizen){.citizen = &r->citizen, .confidential = r->confidential};
}

static const char *citizen_value(const Report *r, const char *field)
{
    const char *const values[] = {r->citizen.name, r->citizen.address, r->citizen.id_number,
                                  r->citizen.phone, r->citizen.email};
    for (gsize i = 0; i < G_N_ELEMENTS(citizen_fields); i++) {
        if (g_str_equal(citizen_fields[i].name, field))
            return values[i];
    }
    return NULL;
}

static void add_label(JsonBuilder *b, Request *req, const char *name, const char *group,
                      const char *key)
{
    if (!key)
        return;
    g_autofree char *text = label(req, group, key);
    json_add_string(b, name, text);
}

static void add_time(JsonBuilder *b, Request *req, const char *name, gint64 t)
{
    if (t <= 0)
        return;
    g_autofree char *text = page_time(req, t);
    json_add_string(b, name, text);
}

/* ---- which report
 * ---------------------------------------------------------------------------- */

Report *view_load_report(Request *req, Response *res)
{
    const char *code = req->params[0];
    GError *error = NULL;
    Store *store = request_store(req, &error);
    Report *r = store && code ? report_load(store, code, &error) : NULL;
    if (!r && error && error->code != PAHT_ERROR_NOT_FOUND) {
        log_error("report %s: %s", code, error->message);
        g_error_free(error);
        page_error(req, res, 503, "busy", NULL);
        return NULL;
    }
    g_clear_error(&error);
    if (!r || !access_sees_report(req->user, r->agency, r->coordinators, r->state)) {
        report_free(r);
        page_not_found(req, res);
        return NULL;
    }
    return r;
}

/* ---- the citizen and the place ------------------------------------------------------------------
 */

static void add_field(JsonBuilder *b, Request *req, const char *field, const char *value,
                      gboolean missing)
{
    json_builder_begin_object(b);
    json_add_string(b, "field", field);
    add_label(b, req, "label", "field", field);
    json_add_string(b, "value", value ? value : "");
    json_add_bool(b, "missing", missing);
    json_builder_end_object(b);
}

static void add_citizen(JsonBuilder *b, Request *req, const Report *r)
{
    gboolean all = reads_everything(req);
    json_add_bool(b, "citizen_hidden", !all && r->confidential);
    json_builder_set_member_name(b, "fields");
    json_builder_begin_array(b);
    for (gsize i = 0; i < G_N_ELEMENTS(citizen_fields); i++) {
        const char *field = citizen_fields[i].name;
        if (!all && (r->confidential || !citizen_fields[i].agency_reads))
            continue;
        add_field(b, req, field, citizen_value(r, field),
                  g_strv_contains((const char *const *)r->missing, field));
    }
    RedactCitizen who = who_of(r);
    g_autofree char *location =
        all ? g_strdup(r->location.text) : redact_text(r->location.text, &who);
    add_field(b, req, "location", location,
              g_strv_contains((const char *const *)r->missing, "location"));
    add_field(b, req, "occurred_at", r->occurred_at, FALSE);
    json_builder_end_array(b);
}

static void add_place(JsonBuilder *b, const Report *r)
{
    if (!r->location.has_coordinates)
        return;
    g_autofree char *lat = coordinate_text(r->location.lat);
    g_autofree char *lon = coordinate_text(r->location.lon);
    json_builder_set_member_name(b, "coordinates");
    json_builder_begin_object(b);
    json_add_string(b, "lat", lat);
    json_add_string(b, "lon", lon);
    /* a link, not an embedded map: nothing is loaded from another origin */
    g_autofree char *osm = g_strdup_printf(
        "https://www.openstreetmap.org/?mlat=%s&mlon=%s#map=17/%s/%s", lat, lon, lat, lon);
    json_add_string(b, "osm_url", osm);
    json_builder_end_object(b);
}

/* ---- files
 * ---------------------------------------------------------------------------------------- */

static char *size_text(gint64 bytes)
{
    if (bytes < 1024)
        return g_strdup_printf("%" G_GINT64_FORMAT " byte", bytes);
    double kb = (double)bytes / 1024.0;
    g_autofree char *text =
        kb < 1024.0 ? g_strdup_printf("%.1f KB", kb) : g_strdup_printf("%.1f MB", kb / 1024.0);
    /* Vietnamese writes a decimal comma */
    for (char *p = text; *p; p++) {
        if (*p == '.')
            *p = ',';
    }
    return g_steal_pointer(&text);
}

/* whether the page shows a thumbnail of the file: its bytes are an image libvips may make
 * one of (read here, never the mail's word), and it was not found unreadable before */
static gboolean file_gets_thumb(const char *path)
{
    guchar head[16];
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return FALSE;
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    g_autofree char *none = thumbs_path(path, FS_NO_THUMB_SUFFIX);
    return n > 0 && thumbs_candidate(head, (gsize)n) && !g_file_test(none, G_FILE_TEST_EXISTS);
}

char *view_attachment_name(Request *req, const Report *r, guint index)
{
    const StoredAttachment *a = g_ptr_array_index(r->attachments, index);
    if (reads_everything(req))
        return g_strdup(a->filename);
    RedactCitizen who = who_of(r);
    return redact_filename(a->filename, index + 1, &who);
}

static void add_attachments(JsonBuilder *b, Request *req, const Report *r)
{
    json_add_bool(b, "has_attachments", r->attachments->len > 0);
    json_builder_set_member_name(b, "attachments");
    json_builder_begin_array(b);
    for (guint i = 0; i < r->attachments->len; i++) {
        const StoredAttachment *a = g_ptr_array_index(r->attachments, i);
        json_builder_begin_object(b);
        g_autofree char *name = view_attachment_name(req, r, i);
        json_add_string(b, "filename", name);
        g_autofree char *url = g_strdup_printf("/reports/%s/attachments/%u", r->code, i + 1);
        json_add_string(b, "url", url);
        g_autofree char *size = size_text(a->size);
        json_add_string(b, "size", size);
        json_add_string(b, "content_type", a->content_type);
        add_label(b, req, "kind", "kind", a->kind);
        json_add_bool(b, "dangerous", a->dangerous);
        json_add_bool(b, "thumb", !a->dangerous && file_gets_thumb(a->path));
        g_autofree char *thumb_url = g_strdup_printf("%s/thumb", url);
        json_add_string(b, "thumb_url", thumb_url);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static void add_result(JsonBuilder *b, Request *req, const Report *r)
{
    GError *error = NULL;
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(req->store, r->id, &error);
    g_autoptr(GPtrArray) files = result_file_list(req->store, r->id, error ? NULL : &error);
    if (error) {
        log_warning("report %s: %s", r->code, error->message);
        g_error_free(error);
        return;
    }
    const Category *category = config_find_category(req->app->config, rec->category);
    json_add_string(b, "category", category ? category->name : rec->category);
    json_builder_set_member_name(b, "result");
    json_builder_begin_object(b);
    json_add_string(b, "text", rec->result_text && *rec->result_text ? rec->result_text : NULL);
    json_add_string(b, "by", rec->result_by);
    add_time(b, req, "at", rec->result_at);
    json_add_string(b, "approved_by", rec->approved_by);
    add_time(b, req, "approved_at", rec->approved_at);
    json_add_string(b, "letter_number", rec->letter_number);
    add_time(b, req, "published_at", rec->published_at);
    json_add_bool(b, "has_files", files->len > 0);
    json_builder_set_member_name(b, "files");
    json_builder_begin_array(b);
    for (guint i = 0; i < files->len; i++) {
        const ResultFile *f = g_ptr_array_index(files, i);
        json_builder_begin_object(b);
        json_add_string(b, "filename", f->filename);
        g_autofree char *url = g_strdup_printf("/reports/%s/results/%u", r->code, i + 1);
        json_add_string(b, "url", url);
        g_autofree char *size = size_text(f->size);
        json_add_string(b, "size", size);
        json_add_string(b, "by", f->uploaded_by);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
}

/* ---- the timeline
 * --------------------------------------------------------------------------------- */

static char *event_detail(Request *req, const Report *r, const ReportEvent *e)
{
    if (!e->detail || reads_everything(req))
        return g_strdup(e->detail);
    /* a correction's values are the citizen's: an agency learns which field, not what */
    if (g_str_equal(e->kind, "edited")) {
        const char *colon = strchr(e->detail, ':');
        return colon ? g_strndup(e->detail, (gsize)(colon - e->detail)) : NULL;
    }
    RedactCitizen who = who_of(r);
    return redact_alert_line(req->app->config, e->detail, &who);
}

static void add_events(JsonBuilder *b, Request *req, const Report *r)
{
    json_builder_set_member_name(b, "events");
    json_builder_begin_array(b);
    for (guint i = 0; i < r->events->len; i++) {
        const ReportEvent *e = g_ptr_array_index(r->events, i);
        json_builder_begin_object(b);
        add_time(b, req, "at", e->at);
        json_add_string(b, "actor", e->actor);
        add_label(b, req, "kind", "event", e->kind);
        g_autofree char *detail = event_detail(req, r, e);
        json_add_string(b, "detail", detail);
        json_add_bool(b, "note", g_str_equal(e->kind, "note"));
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static void add_letter(JsonBuilder *b, Request *req, const Report *r, const ReportMail *m)
{
    g_autoptr(OutboxEntry) e = outbox_get(req->store, m->id, NULL);
    gboolean all = reads_everything(req);
    RedactCitizen who = who_of(r);
    json_builder_begin_object(b);
    add_label(b, req, "kind", "mail", m->kind);
    if (all || redact_address_is_official(req->app->config, m->rcpt))
        json_add_string(b, "to", m->rcpt);
    else
        add_label(b, req, "to", "message", "to_citizen");
    add_label(b, req, "state", "mail_state", m->state);
    json_add_bool(b, "failed", g_str_equal(m->state, "failed"));
    if (e) {
        add_time(b, req, "at", e->sent_at ? e->sent_at : e->created_at);
        g_autofree char *reply = all ? g_strdup(e->last_reply)
                                     : redact_alert_line(req->app->config, e->last_reply, &who);
        json_add_string(b, "reply", reply);
    }
    json_builder_end_object(b);
}

static void add_letters(JsonBuilder *b, Request *req, const Report *r)
{
    json_builder_set_member_name(b, "mail");
    json_builder_begin_array(b);
    for (guint i = 0; i < r->mail->len; i++)
        add_letter(b, req, r, g_ptr_array_index(r->mail, i));
    json_builder_end_array(b);
}

static void add_deadlines(JsonBuilder *b, Request *req, const Report *r)
{
    g_autoptr(GPtrArray) list = report_deadlines(req->store, r->id, NULL);
    json_builder_set_member_name(b, "deadlines");
    json_builder_begin_array(b);
    for (guint i = 0; list && i < list->len; i++) {
        const DeadlineInfo *d = g_ptr_array_index(list, i);
        gboolean open = g_str_equal(d->status, "open");
        json_builder_begin_object(b);
        add_label(b, req, "name", "deadline", d->name);
        add_time(b, req, "due", d->due);
        add_label(b, req, "status", "deadline_status", d->status);
        json_add_bool(b, "open", open);
        if (open)
            json_add_time_left(b, "left", req, d->due);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

/* ---- what only the IOC reads
 * ---------------------------------------------------------------------- */

static void add_review(JsonBuilder *b, Request *req, const Report *r)
{
    json_add_string(b, "rule", r->rule);
    json_add_bool(b, "has_missing", r->missing && r->missing[0]);
    json_builder_set_member_name(b, "missing");
    json_builder_begin_array(b);
    for (char **m = r->missing; m && *m; m++) {
        g_autofree char *text = label(req, "field", *m);
        json_builder_add_string_value(b, text);
    }
    json_builder_end_array(b);
    g_auto(GStrv) warnings = report_warnings(req->store, r->id, NULL);
    json_add_bool(b, "has_warnings", warnings && warnings[0]);
    json_builder_set_member_name(b, "warnings");
    json_builder_begin_array(b);
    for (char **w = warnings; w && *w; w++)
        json_builder_add_string_value(b, *w);
    json_builder_end_array(b);
    g_autoptr(GPtrArray) links = duplicate_links(req->store, r->id, NULL);
    json_add_bool(b, "has_duplicates", links && links->len > 0);
    json_builder_set_member_name(b, "duplicates");
    json_builder_begin_array(b);
    for (guint i = 0; links && i < links->len; i++) {
        const DuplicateLink *l = g_ptr_array_index(links, i);
        gboolean here = l->report_id == r->id;
        json_builder_begin_object(b);
        json_add_bool(b, "is_duplicate", here);
        json_add_string(b, "other", here ? l->of_code : l->code);
        json_add_string(b, "by", l->created_by);
        add_time(b, req, "at", l->created_at);
        json_add_string(b, "undone_by", l->undone_by);
        add_time(b, req, "undone_at", l->undone_at);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

/* other open reports that may be this one (queue/search.c): the IOC merges them with one
 * click of the duplicate action */
static void add_possible_duplicates(JsonBuilder *b, Request *req, const Report *r)
{
    g_autoptr(GPtrArray) list = report_possible_duplicates(req->store, r, clock_now_unix(),
                                                           POSSIBLE_DUPLICATES_SHOWN, NULL);
    json_add_bool(b, "has_possible_duplicates", list && list->len > 0);
    json_builder_set_member_name(b, "possible_duplicates");
    json_builder_begin_array(b);
    for (guint i = 0; list && i < list->len; i++) {
        const PossibleDuplicate *d = g_ptr_array_index(list, i);
        json_builder_begin_object(b);
        json_add_string(b, "code", d->code);
        add_label(b, req, "state", "state", d->state);
        add_time(b, req, "received_at", d->received_at);
        json_add_bool(b, "has_distance", d->distance_m >= 0);
        json_add_int(b, "distance", d->distance_m >= 0 ? (gint64)(d->distance_m + 0.5) : 0);
        g_autofree char *shared = d->shared && d->shared[0] ? g_strjoinv("; ", d->shared) : NULL;
        json_add_string(b, "shared", shared);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

void view_report(JsonBuilder *b, Request *req, const Report *r)
{
    gboolean all = reads_everything(req);
    RedactCitizen who = who_of(r);
    json_builder_set_member_name(b, "report");
    json_builder_begin_object(b);
    json_add_string(b, "code", r->code);
    json_add_string(b, "state", r->state);
    add_label(b, req, "state_label", "state", r->state);
    json_add_bool(b, "overdue", r->overdue);
    json_add_bool(b, "confidential", r->confidential);
    add_label(b, req, "classification", "classification", r->classification);
    json_add_bool(b, "emergency", g_str_equal(r->classification, "emergency"));
    json_add_bool(b, "complaint", g_str_equal(r->classification, "complaint"));
    add_time(b, req, "received_at", r->received_at);
    g_autofree char *subject =
        all ? g_strdup(r->subject) : redact_subject(r->subject, r->code, &who);
    json_add_string(b, "subject", subject && *subject ? subject : NULL);
    g_autofree char *text = all ? g_strdup(r->text) : redact_text(r->text, &who);
    json_add_string(b, "text", text && *text ? text : NULL);
    add_citizen(b, req, r);
    add_place(b, r);
    const Agency *a = r->agency ? config_find_agency(req->app->config, r->agency) : NULL;
    json_add_string(b, "agency", a ? a->name : r->agency);
    json_add_bool(b, "has_coordinators", r->coordinators && r->coordinators[0]);
    json_builder_set_member_name(b, "coordinators");
    json_builder_begin_array(b);
    for (char **c = r->coordinators; c && *c; c++) {
        const Agency *ca = config_find_agency(req->app->config, *c);
        json_builder_add_string_value(b, ca ? ca->name : *c);
    }
    json_builder_end_array(b);
    add_attachments(b, req, r);
    add_result(b, req, r);
    add_deadlines(b, req, r);
    add_events(b, req, r);
    add_letters(b, req, r);
    if (all) {
        add_review(b, req, r);
        add_possible_duplicates(b, req, r);
    }
    json_builder_end_object(b);
}

void view_queue_item(JsonBuilder *b, Request *req, const ReportListItem *item)
{
    gboolean all = reads_everything(req);
    json_builder_begin_object(b);
    json_add_string(b, "code", item->code);
    add_label(b, req, "state", "state", item->state);
    DraftCitizen citizen = {.name = item->citizen_name, .email = item->citizen_email};
    RedactCitizen who = {.citizen = &citizen, .confidential = item->confidential};
    g_autofree char *subject =
        all ? g_strdup(item->subject) : redact_subject(item->subject, item->code, &who);
    json_add_string(b, "subject", subject && *subject ? subject : NULL);
    if (all) {
        json_add_string(b, "citizen_name", item->citizen_name);
        json_add_string(b, "citizen_email", item->citizen_email);
    }
    add_time(b, req, "received_at", item->received_at);
    add_label(b, req, "due_name", "deadline", item->due_name);
    json_add_time_left(b, "left", req, item->due);
    json_add_bool(b, "overdue", item->overdue || (item->due && item->due <= clock_now_unix()));
    json_add_bool(b, "emergency", g_str_equal(item->classification, "emergency"));
    json_add_bool(b, "complaint", g_str_equal(item->classification, "complaint"));
    json_add_bool(b, "confidential", item->confidential);
    json_add_bool(b, "stranger", item->stranger);
    json_add_int(b, "missing", g_strv_length(item->missing));
    json_add_int(b, "attachments", item->n_attachments);
    static const char *const reviewable[] = {"draft", "incomplete", "returned", NULL};
    json_add_bool(b, "selectable", all && g_strv_contains(reviewable, item->state));
    json_builder_end_object(b);
}
