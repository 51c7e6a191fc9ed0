/* The server: the glue to libmicrohttpd, with its own pool of threads (each thread runs its
 * own poll loop over many connections, so a slow client costs a socket, not a thread); the
 * request bodies (bounded, files streamed to disk); the headers every answer carries; and
 * the dispatch through routes.c's table, the top of web/'s files.
 *
 * A request goes: first look (route, method, another site's POST refused, a body too large
 * refused, no upload accepted without a session) -> body -> session, csrf and role -> the
 * route's handler. Each request takes a database connection from the pool (store_pool.c)
 * when it first needs one and gives it back when it ends. */
#include "web/web_private.h"
#include "gateway/gateway.h"
#include "letters/letters.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* a form without files: logins, notes, corrections (a note of 10,000 words is 100 KB) */
#define FORM_MAX_BYTES (1024 * 1024)
/* what a request's headers may take in memory: far above any browser's cookies and headers */
#define CONNECTION_MEMORY_BYTES (128 * 1024)

static const char content_security_policy[] =
    "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'";

struct WebServer {
    WebApp app;
    struct MHD_Daemon *daemon;
    Gateway *gateway; /* its checks at start (owner, folders, schema); held for the process */
    char *tls_cert, *tls_key;
    int port;
};

/* ---- a request's exchange -----------------------------------------------------------------------
 */

typedef struct {
    Request req;
    Response res;
    const Route *route;
    struct MHD_PostProcessor *post;
    gint64 body_bytes, body_limit;
    gboolean files; /* the form may carry files (the result's); any other form none */
    gboolean too_large, bad_body;
    Upload *upload; /* the file part being received */
    gboolean answered;
} Exchange;

static void upload_free(Upload *u)
{
    if (!u)
        return;
    if (u->fd >= 0)
        close(u->fd);
    if (u->path)
        unlink(u->path);
    g_free(u->field);
    g_free(u->filename);
    g_free(u->content_type);
    g_free(u->path);
    g_free(u);
}

static void values_free(gpointer p)
{
    g_ptr_array_unref(p);
}

static void exchange_free(Exchange *x)
{
    if (x->post)
        MHD_destroy_post_processor(x->post);
    Request *req = &x->req;
    store_pool_give(req->app->stores, req->store);
    account_free(req->user);
    console_session_free(req->session);
    g_hash_table_unref(req->form);
    g_ptr_array_unref(req->uploads);
    if (req->labels)
        g_key_file_unref(req->labels);
    if (req->labels_behind)
        g_key_file_unref(req->labels_behind);
    if (req->pages_read)
        g_array_unref(req->pages_read);
    for (int i = 0; i < ROUTE_PARAMS_MAX; i++)
        g_free(req->params[i]);
    g_free(req->method);
    g_free(req->path);
    g_free(req->client);
    g_free(x->res.content_type);
    if (x->res.body)
        g_bytes_unref(x->res.body);
    g_free(x->res.file);
    g_ptr_array_unref(x->res.headers);
    g_free(x);
}

static char *sockaddr_text(const struct sockaddr *sa)
{
    char buf[INET6_ADDRSTRLEN] = "?";
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, sizeof buf);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, sizeof buf);
    return g_strdup(buf);
}

/* the client: the peer, or, behind the province's proxy (a loopback peer), the address the
 * proxy names; used for the login throttle and the logs */
static char *client_address(WebApp *app, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    g_autofree char *peer = sockaddr_text(info ? info->client_addr : NULL);
    gboolean loopback = g_str_has_prefix(peer, "127.") || g_str_equal(peer, "::1");
    if (!app->config->web.behind_proxy || !loopback)
        return g_steal_pointer(&peer);
    const char *real = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Real-IP");
    const char *forwarded = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-For");
    /* the proxy appends the address it saw last: what the client wrote before it is not proof */
    const char *named = real;
    if (!named && forwarded) {
        const char *comma = strrchr(forwarded, ',');
        named = comma ? comma + 1 : forwarded;
    }
    if (!named)
        return g_steal_pointer(&peer);
    g_autofree char *clean = g_strstrip(g_strdup(named));
    return *clean && strlen(clean) <= 64 && text_is_header_safe(clean) ? g_steal_pointer(&clean)
                                                                       : g_steal_pointer(&peer);
}

static Exchange *exchange_new(WebServer *server, struct MHD_Connection *conn, const char *url,
                              const char *method)
{
    Exchange *x = g_new0(Exchange, 1);
    Request *req = &x->req;
    req->app = &server->app;
    req->connection = conn;
    req->method = g_strdup(method);
    req->path = g_utf8_make_valid(url, -1);
    req->client = client_address(&server->app, conn);
    req->form = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, values_free);
    req->uploads = g_ptr_array_new_with_free_func((GDestroyNotify)upload_free);
    x->res.headers = g_ptr_array_new_with_free_func(g_free);
    x->res.status = 200;
    return x;
}

/* ---- the answer, sent
 * ------------------------------------------------------------------------------ */

static struct MHD_Response *mhd_response(Response *res)
{
    if (res->file) {
        int fd = open(res->file, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0)
            return MHD_create_response_from_fd((uint64_t)st.st_size, fd);
        if (fd >= 0)
            close(fd);
        log_error("cannot read %s: %s", res->file, g_strerror(errno));
        static const char text[] = "500";
        res->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        g_free(res->content_type);
        res->content_type = g_strdup("text/plain; charset=utf-8");
        return MHD_create_response_from_buffer(sizeof text - 1, (void *)text,
                                               MHD_RESPMEM_PERSISTENT);
    }
    gsize len = 0;
    const void *data = res->body ? g_bytes_get_data(res->body, &len) : "";
    return MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result send_response(Exchange *x)
{
    Response *res = &x->res;
    struct MHD_Response *r = mhd_response(res);
    if (!r)
        return MHD_NO;
    /* every answer, whatever it is (issue 13): no inline script, no sniffing, no referrer to
     * other sites, never framed */
    MHD_add_response_header(r, "Content-Security-Policy", content_security_policy);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "same-origin");
    MHD_add_response_header(r, "Content-Type",
                            res->content_type ? res->content_type : "text/plain; charset=utf-8");
    gboolean cached = FALSE;
    for (guint i = 0; i + 1 < res->headers->len; i += 2) {
        const char *name = g_ptr_array_index(res->headers, i);
        cached |= g_ascii_strcasecmp(name, "Cache-Control") == 0;
        MHD_add_response_header(r, name, g_ptr_array_index(res->headers, i + 1));
    }
    /* pages hold citizens' personal data: no copy in a shared cache or the browser's */
    if (!cached)
        MHD_add_response_header(r, "Cache-Control", "no-store");
    if (x->req.app->tls)
        MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
    enum MHD_Result ok = MHD_queue_response(x->req.connection, (unsigned)res->status, r);
    MHD_destroy_response(r);
    x->answered = TRUE;
    return ok;
}

static enum MHD_Result answer_error(Exchange *x, int status, const char *key)
{
    page_error(&x->req, &x->res, status, key, NULL);
    return send_response(x);
}

/* ---- bodies
 * --------------------------------------------------------------------------------------- */

static gboolean upload_start(Exchange *x, const char *key, const char *filename,
                             const char *content_type)
{
    Upload *u = g_new0(Upload, 1);
    u->fd = -1;
    u->field = g_strdup(key);
    u->filename = http_safe_filename(filename);
    u->content_type = g_strdup(content_type ? content_type : "application/octet-stream");
    GError *error = NULL;
    u->fd = fs_open_private_temp(x->req.app->upload_dir, "up-", &u->path, &error);
    g_ptr_array_add(x->req.uploads, u);
    x->upload = u;
    if (u->fd < 0) {
        log_error("cannot keep an upload: %s", error->message);
        g_error_free(error);
        return FALSE;
    }
    return TRUE;
}

static gboolean upload_write(Exchange *x, const char *data, size_t size)
{
    Upload *u = x->upload;
    if (!u || u->fd < 0)
        return FALSE;
    if (size && !fs_write_all(u->fd, data, size)) {
        log_error("cannot write an upload: %s", g_strerror(errno));
        return FALSE;
    }
    u->size += (gint64)size;
    return TRUE;
}

static void form_append(Exchange *x, const char *key, const char *data, size_t size,
                        gboolean continued)
{
    GPtrArray *values = g_hash_table_lookup(x->req.form, key);
    if (!values) {
        values = g_ptr_array_new_with_free_func(g_free);
        g_hash_table_insert(x->req.form, g_strdup(key), values);
    }
    if (continued && values->len) {
        /* a long value comes in pieces */
        char **last = (char **)&g_ptr_array_index(values, values->len - 1);
        gsize had = strlen(*last);
        *last = g_realloc(*last, had + size + 1);
        memcpy(*last + had, data, size);
        (*last)[had + size] = '\0';
        return;
    }
    g_ptr_array_add(values, g_strndup(data, size));
}

static enum MHD_Result on_form_data(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *filename, const char *content_type,
                                    const char *transfer_encoding, const char *data, uint64_t off,
                                    size_t size)
{
    Exchange *x = cls;
    if (!key)
        return MHD_YES;
    if (filename) {
        /* a file where the form takes none is no form of ours: refused, never kept on disk */
        if (!x->files || (off == 0 && !upload_start(x, key, filename, content_type)))
            return MHD_NO;
        return upload_write(x, data, size) ? MHD_YES : MHD_NO;
    }
    form_append(x, key, data, size, off > 0);
    return MHD_YES;
}

/* every value UTF-8 (NFC from here on); empty file fields (nothing chosen) left out */
static gboolean form_finish(Request *req)
{
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, req->form);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        GPtrArray *values = value;
        if (!g_utf8_validate(key, -1, NULL))
            return FALSE;
        for (guint i = 0; i < values->len; i++) {
            char *nfc = text_nfc(g_ptr_array_index(values, i));
            if (!nfc)
                return FALSE;
            g_free(g_ptr_array_index(values, i));
            g_ptr_array_index(values, i) = nfc;
        }
    }
    for (guint i = req->uploads->len; i-- > 0;) {
        Upload *u = g_ptr_array_index(req->uploads, i);
        if (u->size == 0 && g_str_equal(u->filename, "tep"))
            g_ptr_array_remove_index(req->uploads, i);
    }
    return TRUE;
}

static void body_feed(Exchange *x, const char *data, size_t size)
{
    x->body_bytes += (gint64)size;
    if (x->body_bytes > x->body_limit)
        x->too_large = TRUE;
    if (x->too_large || x->bad_body || !x->post)
        return;
    if (MHD_post_process(x->post, data, size) != MHD_YES)
        x->bad_body = TRUE;
}

/* ---- the first look: what can be refused before reading the body -------------------------------
 */

static char *expected_origin(Request *req)
{
    if (req->app->origin)
        return g_strdup(req->app->origin);
    const char *host = request_header(req, "Host");
    if (!host || !text_is_header_safe(host))
        return NULL;
    g_autofree char *url = g_strdup_printf("%s://%s/", req->app->tls ? "https" : "http", host);
    return http_origin_of(url);
}

static gboolean csrf_matches(const char *sent, const char *expected)
{
    gsize n = expected ? strlen(expected) : 0;
    return sent && n && strlen(sent) == n && sodium_memcmp(sent, expected, n) == 0;
}

static gboolean route_sessionless(const Route *route)
{
    return route->guard == GUARD_OPEN || route->guard == GUARD_API_KEY;
}

static enum MHD_Result first_look(Exchange *x)
{
    Request *req = &x->req;
    const char *method = req->method;
    if (!g_str_equal(method, "GET") && !g_str_equal(method, "HEAD") &&
        !g_str_equal(method, "POST")) {
        response_header(&x->res, "Allow", "GET, HEAD, POST");
        return answer_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method");
    }
    x->route = routes_find(method, req->path, req->params);
    if (!x->route || !g_str_equal(method, "POST"))
        return MHD_YES;
    /* a form another site made the browser post (CSRF) is refused unread; an Open311 POST
     * carries an API key, no cookie, and may come from any site's page */
    g_autofree char *origin = expected_origin(req);
    if (x->route->guard != GUARD_API_KEY &&
        !http_request_is_same_origin(request_header(req, "Origin"),
                                     request_header(req, "Sec-Fetch-Site"), origin)) {
        log_notice("refused a POST to %s from another site (Origin %s)", req->path,
                   request_header(req, "Origin") ? "given" : "absent");
        return answer_error(x, MHD_HTTP_FORBIDDEN, "forbidden");
    }
    /* files (up to max_message_bytes) for the actions that take them, not for every action */
    x->files = x->route->files && actions_take_files(req->params[1]);
    x->body_limit = x->files ? req->app->config->gateway.max_message_bytes + 65536 : FORM_MAX_BYTES;
    const char *length = request_header(req, "Content-Length");
    gint64 declared = length ? g_ascii_strtoll(length, NULL, 10) : 0;
    if (declared > x->body_limit)
        return answer_error(x, MHD_HTTP_CONTENT_TOO_LARGE, "too_large");
    /* no upload without a session: nobody else fills the disk */
    if (!route_sessionless(x->route) && !session_resume(req)) {
        response_redirect(&x->res, "/login");
        return send_response(x);
    }
    x->post = MHD_create_post_processor(req->connection, 64 * 1024, on_form_data, x);
    if (!x->post)
        return answer_error(x, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "bad_form");
    return MHD_YES;
}

/* ---- the last call: the whole request is in ----------------------------------------------------
 */

static enum MHD_Result answer(Exchange *x)
{
    Request *req = &x->req;
    if (!x->route)
        return answer_error(x, MHD_HTTP_NOT_FOUND, "not_found");
    if (x->too_large)
        return answer_error(x, MHD_HTTP_CONTENT_TOO_LARGE, "too_large");
    if (x->post) {
        /* a body cut short leaves the processor incomplete */
        gboolean complete = MHD_destroy_post_processor(x->post) == MHD_YES;
        x->post = NULL;
        if (x->bad_body || !complete || !form_finish(req))
            return answer_error(x, MHD_HTTP_BAD_REQUEST, "bad_form");
    }
    if (!route_sessionless(x->route) && !req->session && !session_resume(req)) {
        response_redirect(&x->res, "/login");
        return send_response(x);
    }
    if (x->route->guard == GUARD_FORM &&
        !csrf_matches(form_value(req, "csrf"), req->session->csrf)) {
        log_notice("refused a POST to %s without the session's csrf field (user %" G_GINT64_FORMAT
                   ")",
                   req->path, req->user->id);
        return answer_error(x, MHD_HTTP_FORBIDDEN, "forbidden");
    }
    if (!routes_permit(x->route, req->user))
        return answer_error(x, MHD_HTTP_FORBIDDEN, "not_yours");
    x->route->handler(req, &x->res);
    return send_response(x);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    Exchange *x = *con_cls;
    if (!x) {
        x = exchange_new(cls, conn, url, method);
        *con_cls = x;
        return first_look(x);
    }
    if (*upload_data_size) {
        if (!x->answered)
            body_feed(x, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (x->answered)
        return MHD_YES;
    return answer(x);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    if (*con_cls)
        exchange_free(*con_cls);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    g_strchomp(text);
    log_warning("http: %s", text);
}

/* ---- start and stop
 * ------------------------------------------------------------------------------- */

/* the TLS key is a secret like the mail passwords: private, or refused */
static char *read_tls_file(const char *path, gboolean secret, GError **error)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "[web] %s: %s", path, g_strerror(errno));
        return NULL;
    }
    if (secret && (st.st_mode & 0077)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "[web] tls_key_file %s is readable by others (mode %04o): chmod 600 %s", path,
                    (unsigned)(st.st_mode & 07777), path);
        return NULL;
    }
    char *text = NULL;
    GError *local = NULL;
    if (!g_file_get_contents(path, &text, NULL, &local)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "[web] %s", local->message);
        g_error_free(local);
    }
    return text;
}

static gboolean listen_address(const Config *c, struct sockaddr_storage *out, GError **error)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    struct addrinfo *found = NULL;
    g_autofree char *port = g_strdup_printf("%d", c->web.listen_port);
    int rc = getaddrinfo(c->web.listen_host, port, &hints, &found);
    if (rc != 0 || !found) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "%s: [web] listen: %s: %s", c->file,
                    c->web.listen, gai_strerror(rc));
        return FALSE;
    }
    memset(out, 0, sizeof *out);
    memcpy(out, found->ai_addr, MIN(found->ai_addrlen, sizeof *out));
    freeaddrinfo(found);
    return TRUE;
}

/* the pahtctl of this installation: beside pahtweb (the build tree, /usr/bin beside a
 * packaged /usr/bin/pahtweb), else the one the prefix installs */
static char *find_pahtctl(void)
{
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *dir = self ? g_path_get_dirname(self) : NULL;
    g_autofree char *beside = dir ? g_build_filename(dir, "pahtctl", NULL) : NULL;
    if (beside && g_file_test(beside, G_FILE_TEST_IS_EXECUTABLE))
        return g_steal_pointer(&beside);
    return g_build_filename(PAHT_BINDIR, "pahtctl", NULL);
}

gboolean web_check_config(const Config *c, GError **error)
{
    g_autofree char *pages = NULL, *behind = NULL;
    pages_dirs(c, &pages, &behind);
    if (!g_file_test(pages, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "%s: [gateway] templates_dir: %s has no web/ folder (the console's pages)",
                    c->file, c->gateway.templates_dir);
        return FALSE;
    }
    if (!pages_check(pages, behind, error) || !letters_check_templates(c, error))
        return FALSE;
    g_autoptr(GHashTable) keys = open311_keys_load(c, error);
    if (!keys)
        return FALSE;
    if (!c->web.tls_cert_file)
        return TRUE;
    g_autofree char *cert = read_tls_file(c->web.tls_cert_file, FALSE, error);
    g_autofree char *key = cert ? read_tls_file(c->web.tls_key_file, TRUE, error) : NULL;
    if (key)
        memset(key, 0, strlen(key));
    return key != NULL;
}

static gboolean app_init(WebServer *s, const Config *c, GError **error)
{
    WebApp *app = &s->app;
    app->config = c;
    app->calendar = calendar_new_from_config(c);
    pages_dirs(c, &app->pages_dir, &app->pages_behind);
    app->att_dir = g_build_filename(c->gateway.data_dir, "att", NULL);
    app->tls = c->web.tls_cert_file != NULL;
    app->origin = c->web.public_url ? http_origin_of(c->web.public_url) : NULL;
    app->secure = app->tls || (app->origin && g_str_has_prefix(app->origin, "https:"));
    app->pahtctl = find_pahtctl();
    if (!web_check_config(c, error))
        return FALSE;
    g_autofree char *tmp = g_build_filename(c->gateway.data_dir, "tmp", NULL);
    app->upload_dir = g_strdup_printf("%s/%d.web-XXXXXX", tmp, (int)getpid());
    if (!fs_make_private_dir(tmp, error))
        return FALSE;
    if (!g_mkdtemp_full(app->upload_dir, 0700)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot create %s: %s",
                    app->upload_dir, g_strerror(errno));
        g_clear_pointer(&app->upload_dir, g_free);
        return FALSE;
    }
    app->gateway = s->gateway;
    app->open311_use = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (!(app->open311_keys = open311_keys_load(c, error)))
        return FALSE;
    app->stores = store_pool_new(c->gateway.database, error);
    return app->stores != NULL;
}

static gboolean daemon_start(WebServer *s, GError **error)
{
    const Config *c = s->app.config;
    struct sockaddr_storage addr;
    if (!listen_address(c, &addr, error))
        return FALSE;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (s->app.tls)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem options[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &addr},
        {MHD_OPTION_THREAD_POOL_SIZE, c->web.threads, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, c->web.max_connections, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, c->web.client_timeout_seconds, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY_BYTES, NULL},
        /* without TLS the list ends here: libmicrohttpd warns of TLS options without TLS */
        {s->app.tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, s->tls_key},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert},
        {MHD_OPTION_END, 0, NULL},
    };
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
                                 on_mhd_log, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_ARRAY, options, MHD_OPTION_END);
    if (!s->daemon) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "%s: [web] listen: cannot serve on %s (in use, or not an address of this "
                    "machine%s)",
                    c->file, c->web.listen, s->app.tls ? ", or a bad certificate or key" : "");
        return FALSE;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : c->web.listen_port;
    return TRUE;
}

WebServer *web_server_start(const Config *config, GError **error)
{
    WebServer *s = g_new0(WebServer, 1);
    g_mutex_init(&s->app.open311_lock);
    if (sodium_init() < 0) {
        g_set_error_literal(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "libsodium did not start");
        g_free(s);
        return NULL;
    }
    gboolean ok = (s->gateway = gateway_open_with(config, STORE_SCHEMA_EXACT, error)) != NULL &&
                  app_init(s, config, error);
    if (ok && s->app.tls) {
        ok = (s->tls_cert = read_tls_file(config->web.tls_cert_file, FALSE, error)) &&
             (s->tls_key = read_tls_file(config->web.tls_key_file, TRUE, error));
    }
    if (!ok || !daemon_start(s, error)) {
        web_server_stop(s);
        return NULL;
    }
    return s;
}

int web_server_port(const WebServer *s)
{
    return s->port;
}

char *web_server_address(const WebServer *s)
{
    const Config *c = s->app.config;
    const char *host = c->web.listen_host;
    if (!*host || g_str_equal(host, "0.0.0.0"))
        host = "127.0.0.1";
    else if (g_str_equal(host, "::"))
        host = "::1";
    gboolean ipv6 = strchr(host, ':') != NULL;
    return g_strdup_printf("%s://%s%s%s:%d", s->app.tls ? "https" : "http", ipv6 ? "[" : "", host,
                           ipv6 ? "]" : "", s->port);
}

void web_server_stop(WebServer *s)
{
    if (!s)
        return;
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    WebApp *app = &s->app;
    store_pool_free(app->stores);
    if (app->upload_dir)
        fs_remove_tree(app->upload_dir);
    g_clear_pointer(&app->calendar, calendar_free);
    g_clear_pointer(&app->open311_keys, g_hash_table_unref);
    g_clear_pointer(&app->open311_use, g_hash_table_unref);
    g_mutex_clear(&app->open311_lock);
    g_free(app->pages_dir);
    g_free(app->pages_behind);
    g_free(app->att_dir);
    g_free(app->upload_dir);
    g_free(app->origin);
    g_free(app->pahtctl);
    gateway_close(s->gateway);
    if (s->tls_key)
        memset(s->tls_key, 0, strlen(s->tls_key));
    g_free(s->tls_key);
    g_free(s->tls_cert);
    g_free(s);
}
