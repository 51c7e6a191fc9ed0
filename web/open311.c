/* Open311 GeoReport v2 under /open311/v2/ (issue 15, http://wiki.open311.org/GeoReport_v2):
 * the province's portal, its app and partners read the reports the IOC accepted, and file new
 * ones into the same pipeline as a mail.
 *
 * What is public is decided here and nowhere else: only reports the IOC accepted, never a
 * confidential one (Điều 9.3.b); never a name, phone, ID number, postal address or e-mail
 * (Điều 4.5): the text goes out through the letters' redaction, as a confidential text; an
 * image only when the IOC marked it public. Every answer is UTF-8, in XML or JSON as the
 * path's extension says; errors are the spec's error list. */
#include "web/web_private.h"
#include "letters/letters.h"
#include "util/util.h"

#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#define OPEN311_SPECIFICATION "http://wiki.open311.org/GeoReport_v2"
/* the date this interface last changed (discovery's changeset) */
#define OPEN311_CHANGESET "2026-12-05T00:00:00+07:00"

/* ---- what every Open311 request goes through ----------------------------------------------- */

/* the path's format; a GET may be read by any site's script (CORS, the spec's clients are
 * often pages of other sites); jurisdiction_id, when sent, must be ours. FALSE when answered. */
static gboolean open311_begin(Request *req, Response *res, Open311Format *format)
{
    const char *last = strrchr(req->path, '/');
    *format = OPEN311_JSON;
    if (!open311_format_of(last ? last + 1 : req->path, format, NULL)) {
        open311_error(res, OPEN311_JSON, 404, "the path ends in neither .xml nor .json");
        return FALSE;
    }
    /* any site's page may read what is public, and read the answer to a POST it made with
     * its key (the key, not a cookie, is the credential: nothing of a user's leaks) */
    response_header(res, "Access-Control-Allow-Origin", "*");
    const char *jurisdiction = request_query(req, "jurisdiction_id");
    if (!jurisdiction)
        jurisdiction = form_value(req, "jurisdiction_id");
    const char *ours = req->app->config->open311.jurisdiction_id;
    if (jurisdiction && *jurisdiction && g_strcmp0(jurisdiction, ours) != 0) {
        open311_error(res, *format, 404, "jurisdiction_id not found");
        return FALSE;
    }
    return TRUE;
}

/* where clients reach us: [web] public_url, else the Host the client used */
char *open311_base_url(Request *req)
{
    const char *public_url = req->app->config->web.public_url;
    if (public_url) {
        char *base = g_strdup(public_url);
        gsize n = strlen(base);
        while (n > 0 && base[n - 1] == '/')
            base[--n] = '\0';
        return base;
    }
    const char *host = request_header(req, "Host");
    if (!host || !*host || !text_is_header_safe(host) || strpbrk(host, "/\\ \"<>"))
        host = "localhost";
    return g_strdup_printf("%s://%s", req->app->tls ? "https" : "http", host);
}

static void answer_builder(Response *res, Open311Format format, JsonBuilder *b,
                           const char *root_name)
{
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    open311_answer(res, 200, format, root, root_name);
}

/* ---- discovery ------------------------------------------------------------------------------ */

void handle_open311_discovery(Request *req, Response *res)
{
    Open311Format format;
    if (!open311_begin(req, res, &format))
        return;
    const Config *c = req->app->config;
    g_autofree char *base = open311_base_url(req);
    g_autofree char *url = g_strdup_printf("%s/open311/v2", base);
    g_autofree char *contact = g_strdup_printf("%s, %s, %s %s", c->gateway.name, c->gateway.portal,
                                               "đường dây nóng", c->gateway.hotline);
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_add_string(b, "changeset", OPEN311_CHANGESET);
    json_add_string(b, "contact", contact);
    json_add_string(b, "key_service", c->gateway.ioc_alert_to);
    json_builder_set_member_name(b, "endpoints");
    json_builder_begin_array(b);
    json_builder_begin_object(b);
    json_add_string(b, "specification", OPEN311_SPECIFICATION);
    json_add_string(b, "url", url);
    json_add_string(b, "changeset", OPEN311_CHANGESET);
    json_add_string(b, "type", "production");
    json_builder_set_member_name(b, "formats");
    json_builder_begin_array(b);
    json_builder_add_string_value(b, "text/xml");
    json_builder_add_string_value(b, "application/json");
    json_builder_end_array(b);
    json_builder_end_object(b);
    json_builder_end_array(b);
    json_builder_end_object(b);
    answer_builder(res, format, b, "discovery");
}

/* ---- services: the categories file ---------------------------------------------------------- */

static void add_service(JsonBuilder *b, const Category *cat)
{
    json_builder_begin_object(b);
    json_add_string(b, "service_code", cat->code);
    json_add_string(b, "service_name", cat->name);
    json_add_string(b, "description", cat->description);
    json_add_bool(b, "metadata", FALSE);
    json_add_string(b, "type", "realtime");
    json_add_string(b, "keywords", "");
    json_add_string(b, "group", cat->group);
    json_builder_end_object(b);
}

void handle_open311_services(Request *req, Response *res)
{
    Open311Format format;
    if (!open311_begin(req, res, &format))
        return;
    const GPtrArray *categories = req->app->config->categories;
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_array(b);
    for (guint i = 0; i < categories->len; i++)
        add_service(b, g_ptr_array_index((GPtrArray *)categories, i));
    json_builder_end_array(b);
    answer_builder(res, format, b, "services");
}

/* services/CODE: the service definition. A category asks nothing beyond the spec's fields:
 * its list of attributes is empty (metadata false in services). */
void handle_open311_service(Request *req, Response *res)
{
    Open311Format format;
    if (!open311_begin(req, res, &format))
        return;
    g_autofree char *code = NULL;
    open311_format_of(req->params[0], &format, &code);
    const Category *cat = config_find_category(req->app->config, code);
    if (!cat) {
        open311_error(res, format, 404, "service_code not found");
        return;
    }
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_add_string(b, "service_code", cat->code);
    json_builder_set_member_name(b, "attributes");
    json_builder_begin_array(b);
    json_builder_end_array(b);
    json_builder_end_object(b);
    answer_builder(res, format, b, "service_definition");
}

/* ---- requests: the reports the IOC accepted ------------------------------------------------- */

/* Open311 dates: RFC 3339 in the province's zone, "+07:00" written out */
static void add_time(JsonBuilder *b, Request *req, const char *name, gint64 t)
{
    json_builder_set_member_name(b, name);
    if (t <= 0) {
        json_builder_add_null_value(b);
        return;
    }
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(t);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, req->app->config->calendar.zone);
    g_autofree char *text = g_date_time_format(local, "%Y-%m-%dT%H:%M:%S%:z");
    json_builder_add_string_value(b, text);
}

static void add_text(JsonBuilder *b, const char *name, const char *value)
{
    json_builder_set_member_name(b, name);
    if (value && *value)
        json_builder_add_string_value(b, value);
    else
        json_builder_add_null_value(b);
}

static void add_coordinate(JsonBuilder *b, const char *name, gboolean has, double value)
{
    json_builder_set_member_name(b, name);
    if (has)
        json_builder_add_double_value(b, value);
    else
        json_builder_add_null_value(b);
}

/* the result's due time (SPEC §5: working time; an extension replaced it, Điều 8.3) */
static gint64 result_due(Request *req, const Report *r)
{
    g_autoptr(GPtrArray) deadlines = report_deadlines(req->store, r->id, NULL);
    gint64 due = 0, set_at = -1;
    for (guint i = 0; deadlines && i < deadlines->len; i++) {
        const DeadlineInfo *d = g_ptr_array_index(deadlines, i);
        if (g_str_equal(d->name, "result") && g_strcmp0(d->status, "cancelled") != 0 &&
            d->set_at >= set_at) {
            due = d->due;
            set_at = d->set_at;
        }
    }
    return due;
}

/* the first image the IOC made public, at its public address */
static char *media_url(Request *req, const Report *r)
{
    g_autoptr(GPtrArray) images = public_image_list(req->store, r->id, NULL);
    if (!images || images->len == 0)
        return NULL;
    g_autofree char *base = open311_base_url(req);
    return g_strdup_printf("%s/open311/v2/media/%s/%s", base, r->code,
                           (const char *)g_ptr_array_index(images, 0));
}

static gboolean report_is_closed(const Report *r)
{
    return g_str_equal(r->state, "published") || g_str_equal(r->state, "closed");
}

/* Điều 4.5: the citizen's words as a reader other than the citizen may see them, and less:
 * redacted as a confidential text (no name, phone, ID number, address or e-mail, labelled
 * lines dropped), on one line */
static char *public_text(Request *req, const Report *r, const char *text)
{
    RedactCitizen who = {.citizen = &r->citizen, .confidential = TRUE};
    return text && *text
               ? redact_excerpt(text, &who, req->app->config->open311.description_max_chars)
               : NULL;
}

/* the place of the report, unless it is the citizen's own postal address (a report about
 * one's own house): that is never public (Điều 4.5) */
static char *public_place(const Report *r, const RedactCitizen *who)
{
    const char *place = r->location.text, *home = r->citizen.address;
    if (!place || !*place)
        return NULL;
    g_autofree char *p = g_utf8_casefold(place, -1);
    g_autofree char *h = home && *home ? g_utf8_casefold(home, -1) : NULL;
    if (h && (strstr(p, h) || strstr(h, p)))
        return NULL;
    return redact_line(place, who);
}

static void add_request(JsonBuilder *b, Request *req, const Report *r)
{
    const Config *c = req->app->config;
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(req->store, r->id, NULL);
    const Category *category = rec ? config_find_category(c, rec->category) : NULL;
    const Agency *agency = config_find_agency(c, r->agency);
    gboolean closed = report_is_closed(r);
    g_autofree char *description = public_text(req, r, r->text);
    g_autofree char *notes = closed && rec ? public_text(req, r, rec->result_text) : NULL;
    RedactCitizen who = {.citizen = &r->citizen, .confidential = TRUE};
    g_autofree char *place = public_place(r, &who);
    g_autofree char *media = media_url(req, r);
    json_builder_begin_object(b);
    json_add_string(b, "service_request_id", r->code);
    json_add_string(b, "status", closed ? "closed" : "open");
    add_text(b, "status_notes", notes);
    add_text(b, "service_name", category ? category->name : NULL);
    json_add_string(b, "service_code", rec && rec->category ? rec->category : "");
    add_text(b, "description", description);
    add_text(b, "agency_responsible", agency ? agency->name : NULL);
    add_text(b, "service_notice", NULL);
    add_time(b, req, "requested_datetime", r->received_at);
    add_time(b, req, "updated_datetime", r->updated_at);
    add_time(b, req, "expected_datetime", result_due(req, r));
    add_text(b, "address", place);
    add_text(b, "address_id", NULL);
    add_text(b, "zipcode", NULL);
    add_coordinate(b, "lat", r->location.has_coordinates, r->location.lat);
    add_coordinate(b, "long", r->location.has_coordinates, r->location.lon);
    add_text(b, "media_url", media);
    json_builder_end_object(b);
}

static void answer_requests(Request *req, Response *res, Open311Format format, GArray *ids)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_array(b);
    for (guint i = 0; i < ids->len; i++) {
        g_autoptr(Report) r = report_load_id(req->store, g_array_index(ids, gint64, i), NULL);
        if (r)
            add_request(b, req, r);
    }
    json_builder_end_array(b);
    answer_builder(res, format, b, "service_requests");
}

#define OPEN311_MAX_DAYS  90
#define OPEN311_MAX_ITEMS 1000

/* an RFC 3339 parameter, or *t untouched when absent; FALSE for a bad one */
static gboolean query_time(Request *req, const char *name, gint64 *t)
{
    const char *text = request_query(req, name);
    if (!text)
        return TRUE;
    g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(text, NULL);
    if (!dt)
        return FALSE;
    *t = g_date_time_to_unix(dt);
    return TRUE;
}

/* the spec's window: start_date and end_date at most 90 days apart; one of them alone
 * reaches 90 days from it; neither: the last 90 days */
static gboolean requests_window(Request *req, PublicQuery *q, GPtrArray *errors)
{
    gint64 from = 0, to = 0, span = (gint64)OPEN311_MAX_DAYS * 86400;
    if (!query_time(req, "start_date", &from))
        g_ptr_array_add(errors, g_strdup("start_date: not an RFC 3339 date and time"));
    if (!query_time(req, "end_date", &to))
        g_ptr_array_add(errors, g_strdup("end_date: not an RFC 3339 date and time"));
    if (errors->len)
        return FALSE;
    if (!from && !to)
        to = clock_now_unix() + 1;
    if (!from)
        from = to - span;
    if (!to)
        to = from + span;
    if (to < from || to - from > span) {
        g_ptr_array_add(errors, g_strdup_printf("start_date and end_date: at most %d days apart",
                                                OPEN311_MAX_DAYS));
        return FALSE;
    }
    q->from = from;
    q->to = to + 1; /* end_date inclusive */
    return TRUE;
}

void handle_open311_requests(Request *req, Response *res)
{
    Open311Format format;
    if (!open311_begin(req, res, &format))
        return;
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    PublicQuery q = {.limit = OPEN311_MAX_ITEMS};
    const char *ids = request_query(req, "service_request_id");
    g_auto(GStrv) codes = ids ? g_strsplit(ids, ",", OPEN311_MAX_ITEMS) : NULL;
    for (int i = 0; codes && codes[i]; i++)
        g_strstrip(codes[i]);
    /* the spec: a list of ids overrides every other parameter */
    q.codes = (const char *const *)codes;
    if (!codes) {
        q.category = request_query(req, "service_code");
        q.status = request_query(req, "status");
        if (q.status && !g_str_equal(q.status, "open") && !g_str_equal(q.status, "closed"))
            g_ptr_array_add(errors, g_strdup("status: open or closed"));
        requests_window(req, &q, errors);
    }
    if (errors->len) {
        open311_errors(res, format, 400, errors);
        return;
    }
    GError *error = NULL;
    Store *store = request_store(req, &error);
    g_autoptr(GArray) found = store ? public_report_ids(store, &q, &error) : NULL;
    if (!found) {
        log_warning("open311 requests: %s", error ? error->message : "no store");
        g_clear_error(&error);
        open311_error(res, format, 503, "the reports cannot be read now; try again later");
        return;
    }
    answer_requests(req, res, format, found);
}

/* a report the public may see, by its code; 0 when there is none */
static gint64 public_report_id(Request *req, const char *code)
{
    const char *codes[] = {code, NULL};
    PublicQuery q = {.codes = codes, .limit = 1};
    Store *store = request_store(req, NULL);
    g_autoptr(GArray) found = store ? public_report_ids(store, &q, NULL) : NULL;
    return found && found->len ? g_array_index(found, gint64, 0) : 0;
}

void handle_open311_request(Request *req, Response *res)
{
    Open311Format format;
    if (!open311_begin(req, res, &format))
        return;
    g_autofree char *code = NULL;
    open311_format_of(req->params[0], &format, &code);
    gint64 id = public_report_id(req, code);
    if (!id) {
        /* one answer for a report that does not exist and one that is not public */
        open311_error(res, format, 404, "service_request_id not found");
        return;
    }
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
    g_array_append_val(ids, id);
    answer_requests(req, res, format, ids);
}

/* ---- the images the IOC made public ---------------------------------------------------------- */

static const StoredAttachment *public_image(Request *req, const Report *r, const char *sha256)
{
    g_autoptr(GPtrArray) images = public_image_list(req->store, r->id, NULL);
    guint index = 0;
    if (!images || !g_ptr_array_find_with_equal_func(images, sha256, g_str_equal, &index))
        return NULL;
    for (guint i = 0; r->attachments && i < r->attachments->len; i++) {
        const StoredAttachment *a = g_ptr_array_index(r->attachments, i);
        if (g_str_equal(a->sha256, sha256) && !a->dangerous)
            return a;
    }
    return NULL;
}

/* the raster type the file's bytes are (whatever the mail said), or NULL */
static const char *image_type_of(const char *path)
{
    guchar head[16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, head, sizeof head) : -1;
    if (fd >= 0)
        close(fd);
    return n > 0 ? http_sniff_image(head, (gsize)n) : NULL;
}

/* GET /open311/v2/media/CODE/SHA256: without login, only an image the IOC marked public of a
 * report the public may see; anything else is the same 404 */
void handle_open311_media(Request *req, Response *res)
{
    gint64 id = public_report_id(req, req->params[0]);
    g_autoptr(Report) r = id ? report_load_id(req->store, id, NULL) : NULL;
    const StoredAttachment *a = r ? public_image(req, r, req->params[1]) : NULL;
    const char *type = a ? image_type_of(a->path) : NULL;
    if (!type) {
        response_body(res, 404, "text/plain; charset=utf-8", g_strdup("404"), 3);
        return;
    }
    response_header(res, "Access-Control-Allow-Origin", "*");
    res->status = 200;
    g_free(res->content_type);
    res->content_type = g_strdup(type);
    res->file = g_strdup(a->path);
}

/* ---- POST requests: a report filed into the pipeline of a mail --------------------------- */

#define OPEN311_FIELD_MAX_CHARS     200
#define OPEN311_ATTRIBUTE_MAX_CHARS 1000
#define OPEN311_ATTRIBUTES_MAX      20
#define OPEN311_URL_MAX_CHARS       2000

/* a form value trimmed, NULL when absent or empty */
static char *post_value(Request *req, const char *name)
{
    const char *v = form_value(req, name);
    g_autofree char *copy = v ? g_strstrip(g_strdup(v)) : NULL;
    return copy && *copy ? g_steal_pointer(&copy) : NULL;
}

/* one line of text: no control character, at most max characters */
static void check_line(GPtrArray *errors, const char *name, const char *value, glong max)
{
    if (!value)
        return;
    gboolean control = FALSE;
    for (const char *p = value; *p; p = g_utf8_next_char(p))
        control |= g_unichar_iscntrl(g_utf8_get_char(p));
    if (control || g_utf8_strlen(value, -1) > max)
        g_ptr_array_add(errors,
                        g_strdup_printf("%s: one line of at most %ld characters", name, max));
}

static gboolean parse_degrees(const char *text, double limit, double *out)
{
    char *end = NULL;
    double v = text ? g_ascii_strtod(text, &end) : 0;
    *out = v;
    return text && end && !*end && end != text && isfinite(v) && fabs(v) <= limit;
}

static void check_place(Request *req, Submission *s, GPtrArray *errors)
{
    const char *lat = form_value(req, "lat"), *lon = form_value(req, "long");
    if (lat || lon) {
        s->has_coordinates = parse_degrees(lat, 90, &s->lat) && parse_degrees(lon, 180, &s->lon);
        if (!s->has_coordinates)
            g_ptr_array_add(errors, g_strdup("lat, long: WGS84 degrees, lat -90..90 and long "
                                             "-180..180, both"));
    }
    check_line(errors, "address_string", s->address_string, OPEN311_FIELD_MAX_CHARS);
    if (!lat && !lon && !s->address_string)
        g_ptr_array_add(errors, g_strdup("lat and long, or address_string: required"));
}

static void check_description(Request *req, const Submission *s, GPtrArray *errors)
{
    int max = req->app->config->open311.description_max_chars;
    if (!s->description)
        g_ptr_array_add(errors, g_strdup("description: required"));
    else if (g_utf8_strlen(s->description, -1) > max)
        g_ptr_array_add(errors, g_strdup_printf("description: at most %d characters", max));
}

static void check_contact(const Submission *s, GPtrArray *errors)
{
    check_line(errors, "first_name", s->first_name, OPEN311_FIELD_MAX_CHARS);
    check_line(errors, "last_name", s->last_name, OPEN311_FIELD_MAX_CHARS);
    if (s->email && (!config_is_email(s->email) || strlen(s->email) > 254))
        g_ptr_array_add(errors, g_strdup("email: not an e-mail address"));
    if (s->phone &&
        (strlen(s->phone) > 30 || strspn(s->phone, "0123456789 +-.()") != strlen(s->phone)))
        g_ptr_array_add(errors, g_strdup("phone: digits, spaces and + - . ( ) only"));
    if (s->media_url && (strlen(s->media_url) > OPEN311_URL_MAX_CHARS ||
                         (!g_str_has_prefix(s->media_url, "https://") &&
                          !g_str_has_prefix(s->media_url, "http://")) ||
                         !g_uri_is_valid(s->media_url, G_URI_FLAGS_NONE, NULL)))
        g_ptr_array_add(errors, g_strdup("media_url: an http or https URL"));
}

/* attribute[CODE]=VALUE, as code, value pairs */
static GPtrArray *post_attributes(Request *req, GPtrArray *errors)
{
    GPtrArray *pairs = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer key, values;
    g_hash_table_iter_init(&it, req->form);
    while (g_hash_table_iter_next(&it, &key, &values)) {
        const char *name = key;
        gsize n = strlen(name);
        if (!g_str_has_prefix(name, "attribute[") || name[n - 1] != ']')
            continue;
        g_autofree char *code = g_strndup(name + 10, n - 11);
        GPtrArray *list = values;
        const char *value = list->len ? g_ptr_array_index(list, 0) : "";
        check_line(errors, name, code, 64);
        check_line(errors, name, value, OPEN311_ATTRIBUTE_MAX_CHARS);
        g_ptr_array_add(pairs, g_steal_pointer(&code));
        g_ptr_array_add(pairs, g_strdup(value));
    }
    if (pairs->len > 2 * OPEN311_ATTRIBUTES_MAX)
        g_ptr_array_add(errors, g_strdup_printf("attribute: at most %d", OPEN311_ATTRIBUTES_MAX));
    g_ptr_array_add(pairs, NULL);
    return pairs;
}

typedef struct {
    char *service_code, *description, *address_string, *email, *first_name, *last_name, *phone,
        *media_url;
} PostFields;

static void post_fields_clear(PostFields *f)
{
    char **all[] = {&f->service_code, &f->description, &f->address_string, &f->email,
                    &f->first_name,   &f->last_name,   &f->phone,          &f->media_url};
    for (gsize i = 0; i < G_N_ELEMENTS(all); i++)
        g_clear_pointer(all[i], g_free);
}

/* the fields read and checked: every problem in errors (the spec's list) */
static void post_read(Request *req, PostFields *f, Submission *s, GPtrArray *errors)
{
    const char *names[] = {"service_code", "description", "address_string", "email",
                           "first_name",   "last_name",   "phone",          "media_url"};
    char **slots[] = {&f->service_code, &f->description, &f->address_string, &f->email,
                      &f->first_name,   &f->last_name,   &f->phone,          &f->media_url};
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
        *slots[i] = post_value(req, names[i]);
    const Category *cat = config_find_category(req->app->config, f->service_code);
    if (!cat)
        g_ptr_array_add(errors, g_strdup(f->service_code ? "service_code: not a service here"
                                                         : "service_code: required"));
    *s = (Submission){
        .service_code = cat ? cat->code : NULL,
        .service_name = cat ? cat->name : NULL,
        .description = f->description,
        .address_string = f->address_string,
        .email = f->email,
        .first_name = f->first_name,
        .last_name = f->last_name,
        .phone = f->phone,
        .media_url = f->media_url,
    };
    check_place(req, s, errors);
    check_description(req, s, errors);
    check_contact(s, errors);
}

/* the key's client, or NULL (403) */
static const char *post_client(Request *req, Response *res, Open311Format format)
{
    const char *key = form_value(req, "api_key");
    g_autofree char *digest = key ? open311_key_digest(key) : NULL;
    const char *client = digest ? g_hash_table_lookup(req->app->open311_keys, digest) : NULL;
    if (!client) {
        log_notice("open311: a POST from %s with %s API key refused", req->client,
                   key ? "an unknown" : "no");
        open311_error(res, format, 403, "api_key: missing or not valid");
        return NULL;
    }
    if (!open311_key_admit(req->app, digest, clock_now_unix())) {
        log_notice("open311: %s is over its %d requests an hour", client,
                   req->app->config->open311.requests_per_hour);
        open311_error(res, format, 429, "too many requests with this api_key: try in an hour");
        return NULL;
    }
    return client;
}

static void answer_submitted(Request *req, Response *res, Open311Format format,
                             const IngestResult *done)
{
    gboolean emergency = g_strcmp0(done->classification, CLASSIFICATION_EMERGENCY) == 0;
    g_autofree char *notice = label(req, "open311", emergency ? "notice_emergency" : "notice");
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_array(b);
    json_builder_begin_object(b);
    json_add_string(b, "service_request_id", done->code);
    json_add_string(b, "service_notice", notice);
    json_builder_set_member_name(b, "account_id");
    json_builder_add_null_value(b);
    json_builder_end_object(b);
    json_builder_end_array(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    open311_answer(res, 201, format, root, "service_requests");
}

void handle_open311_post(Request *req, Response *res)
{
    Open311Format format;
    if (!open311_begin(req, res, &format))
        return;
    const char *client = post_client(req, res, format);
    if (!client)
        return;
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    PostFields f = {0};
    Submission s;
    post_read(req, &f, &s, errors);
    g_autoptr(GPtrArray) attributes = post_attributes(req, errors);
    s.attributes = (const char *const *)attributes->pdata;
    s.client = client;
    IngestResult done = {0};
    GError *error = NULL;
    if (errors->len) {
        open311_errors(res, format, 400, errors);
    } else {
        g_mutex_lock(&req->app->open311_lock);
        gboolean ok = inbound_submit(req->app->gateway, &s, &done, &error);
        g_mutex_unlock(&req->app->open311_lock);
        if (ok && done.code) {
            answer_submitted(req, res, format, &done);
        } else {
            log_warning("open311: a report from %s not filed: %s", client,
                        error ? error->message : done.classification);
            open311_error(res, format, 503, "the report could not be filed now; try again later");
        }
    }
    g_clear_error(&error);
    ingest_result_clear(&done);
    post_fields_clear(&f);
}
