/* The bottom of the console: a request as the handlers read it (its headers, query, cookies,
 * form and database connection) and the answer they build (status, body, headers, a
 * redirect); and the HTTP details it gets right once, as pure functions: cookies, origins,
 * file names in headers, what an attachment's bytes are, and the working time left before a
 * deadline. Nothing here calls another file of web/ but the pool of connections. */
#include "web/web_private.h"
#include "util/util.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

/* ---- the request ---------------------------------------------------------------------------- */

const char *request_header(Request *req, const char *name)
{
    return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
}

const char *request_query(Request *req, const char *name)
{
    const char *v = MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, name);
    return v && g_utf8_validate(v, -1, NULL) ? v : NULL;
}

const char *request_cookie(Request *req, const char *name)
{
    return MHD_lookup_connection_value(req->connection, MHD_COOKIE_KIND, name);
}

GPtrArray *form_values(Request *req, const char *name)
{
    return g_hash_table_lookup(req->form, name);
}

const char *form_value(Request *req, const char *name)
{
    GPtrArray *values = form_values(req, name);
    return values && values->len ? g_ptr_array_index(values, 0) : NULL;
}

Store *request_store(Request *req, GError **error)
{
    if (!req->store)
        req->store = store_pool_take(req->app->stores, error);
    return req->store;
}

/* ---- the answer ----------------------------------------------------------------------------- */

void response_header(Response *res, const char *name, const char *value)
{
    g_ptr_array_add(res->headers, g_strdup(name));
    g_ptr_array_add(res->headers, g_strdup(value));
}

void response_body(Response *res, int status, const char *content_type, char *body, gsize len)
{
    res->status = status;
    g_free(res->content_type);
    res->content_type = g_strdup(content_type);
    if (res->body)
        g_bytes_unref(res->body);
    res->body = g_bytes_new_take(body, len);
}

void response_redirect(Response *res, const char *location)
{
    response_header(res, "Location", location);
    response_body(res, MHD_HTTP_SEE_OTHER, "text/plain; charset=utf-8", g_strdup(""), 0);
}

/* ---- cookies ------------------------------------------------------------------------------------
 */

char *http_cookie_name(gboolean secure, const char *base)
{
    /* RFC 6265bis §4.1.3.2: a "__Host-" cookie is only accepted with Secure, Path=/ and no
     * Domain, so no other host or path of the site can set or shadow it */
    return secure ? g_strconcat("__Host-", base, NULL) : g_strdup(base);
}

char *http_cookie_header(const char *name, const char *value, gboolean secure, gint64 max_age)
{
    /* HttpOnly: no script reads it; SameSite=Lax: no other site's form posts it */
    return g_strdup_printf("%s=%s; Path=/; HttpOnly; SameSite=Lax%s; Max-Age=%" G_GINT64_FORMAT,
                           name, max_age > 0 ? value : "", secure ? "; Secure" : "",
                           MAX(max_age, 0));
}

/* ---- origins ------------------------------------------------------------------------------------
 */

char *http_origin_of(const char *url)
{
    g_autoptr(GUri) uri = url ? g_uri_parse(url, G_URI_FLAGS_NONE, NULL) : NULL;
    if (!uri || !g_uri_get_host(uri) || !*g_uri_get_host(uri) || !g_uri_get_scheme(uri))
        return NULL;
    g_autofree char *scheme = g_ascii_strdown(g_uri_get_scheme(uri), -1);
    g_autofree char *host = g_ascii_strdown(g_uri_get_host(uri), -1);
    int port = g_uri_get_port(uri);
    gboolean default_port = port < 0 || (g_str_equal(scheme, "http") && port == 80) ||
                            (g_str_equal(scheme, "https") && port == 443);
    gboolean ipv6 = strchr(host, ':') != NULL;
    g_autofree char *bracketed = ipv6 ? g_strdup_printf("[%s]", host) : g_strdup(host);
    if (default_port)
        return g_strdup_printf("%s://%s", scheme, bracketed);
    return g_strdup_printf("%s://%s:%d", scheme, bracketed, port);
}

gboolean http_request_is_same_origin(const char *origin, const char *sec_fetch_site,
                                     const char *expected_origin)
{
    /* Fetch Metadata: a form another site posts says cross-site (or same-site for a sibling
     * subdomain, which is another origin all the same) */
    if (sec_fetch_site && !g_str_equal(sec_fetch_site, "same-origin") &&
        !g_str_equal(sec_fetch_site, "none"))
        return FALSE;
    if (!origin)
        return TRUE;
    /* RFC 6454 §7.3: a privacy-sensitive context sends "null": never ours */
    g_autofree char *normal = http_origin_of(origin);
    return normal && expected_origin && g_ascii_strcasecmp(normal, expected_origin) == 0;
}

/* ---- file names
 * ---------------------------------------------------------------------------------- */

char *http_content_disposition(gboolean inline_, const char *filename)
{
    /* the quoted fallback: ASCII only, no quote, backslash or control character */
    GString *ascii = g_string_new(NULL);
    for (const char *p = filename ? filename : ""; *p; p++) {
        guchar c = (guchar)*p;
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            g_string_append_c(ascii, (char)c);
        else if (c < 0x80 || (c & 0xc0) == 0xc0)
            g_string_append_c(ascii, '_');
    }
    if (ascii->len == 0)
        g_string_append(ascii, "tep");
    g_autofree char *encoded =
        g_uri_escape_string(filename && *filename ? filename : "tep", NULL, FALSE);
    char *header = g_strdup_printf("%s; filename=\"%s\"; filename*=UTF-8''%s",
                                   inline_ ? "inline" : "attachment", ascii->str, encoded);
    g_string_free(ascii, TRUE);
    return header;
}

const char *http_sniff_image(const guchar *data, gsize len)
{
    /* the WHATWG MIME Sniffing signatures of the four raster formats browsers show */
    if (len >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return "image/jpeg";
    if (len >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (len >= 6 && (memcmp(data, "GIF87a", 6) == 0 || memcmp(data, "GIF89a", 6) == 0))
        return "image/gif";
    if (len >= 14 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBPVP", 6) == 0)
        return "image/webp";
    return NULL;
}

char *http_safe_filename(const char *name)
{
    const char *base = name ? name : "";
    for (const char *p = base; *p; p++) {
        if (*p == '/' || *p == '\\')
            base = p + 1;
    }
    g_autofree char *valid = g_utf8_make_valid(base, -1);
    g_autofree char *nfc = text_nfc(valid);
    GString *out = g_string_new(NULL);
    glong kept = 0;
    for (const char *p = nfc; p && *p && kept < 120; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (g_unichar_iscntrl(c) || c == '"')
            continue;
        g_string_append_unichar(out, c);
        kept++;
    }
    g_strstrip(out->str);
    out->len = strlen(out->str);
    while (out->len && out->str[0] == '.')
        g_string_erase(out, 0, 1);
    if (!out->len)
        g_string_assign(out, "tep");
    return g_string_free(out, FALSE);
}

gboolean http_parse_time(const char *text, GTimeZone *zone, gint64 *out)
{
    if (!text || !*text)
        return FALSE;
    if (clock_parse_rfc3339(text, out))
        return TRUE;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0;
    char tail = 0;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d%c", &y, &mo, &d, &h, &mi, &tail) != 5)
        return FALSE;
    g_autoptr(GDateTime) t = g_date_time_new(zone, y, mo, d, h, mi, 0);
    if (!t)
        return FALSE;
    *out = g_date_time_to_unix(t);
    return TRUE;
}

/* ---- working time
 * -------------------------------------------------------------------------------- */

WorkingTimeLeft http_working_time_left(const Calendar *calendar, gint64 now, gint64 due)
{
    WorkingTimeLeft left = {.overdue = due <= now};
    gint64 seconds = left.overdue ? calendar_working_seconds_between(calendar, due, now)
                                  : calendar_working_seconds_between(calendar, now, due);
    gint64 day = calendar_seconds_per_day(calendar);
    gint64 minutes = seconds / 60;
    /* a working day is the calendar's (8 hours by default), not 24 hours */
    left.days = day > 0 ? seconds / day : 0;
    minutes -= left.days * (day / 60);
    left.hours = minutes / 60;
    left.minutes = minutes % 60;
    return left;
}
