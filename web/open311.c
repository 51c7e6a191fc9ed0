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

#include <string.h>

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
    if (g_str_equal(req->method, "GET") || g_str_equal(req->method, "HEAD"))
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
