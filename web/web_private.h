/* Private to web/: what its files share, and what its unit tests may call.
 *
 * The files form layers, each using only those above it in this list (tools/check-layers
 * fails on a circle):
 *
 *   store_pool.c   the connections to the database
 *   http.c         the request, the answer, and HTTP details as pure functions
 *   thumbs.c       thumbnails of the images attached to reports (libvips)
 *   password.c     argon2id hashes and their gate
 *   access.c       the roles: who sees which report
 *   render.c       pages from templates_dir/web
 *   session.c      the session of a request's cookie
 *   view.c         which report a request may see, and what it shows of it
 *   queue_cache.c  the queue page as last made for a session, while nothing it shows changed
 *   open311_format.c, open311_keys.c
 *                  Open311's two formats (one JSON tree, written as JSON or XML); its API
 *                  keys and their rate limit
 *   login.c, actions.c, pages.c, admin.c, open311.c
 *                  the handlers (open311.c: Open311 GeoReport v2, issue 15)
 *   routes.c       the one table of routes: method, path, guard, roles, handler
 *   server.c       libmicrohttpd: bodies, headers, the dispatch through routes.c
 */
#ifndef PAHT_WEB_PRIVATE_H
#define PAHT_WEB_PRIVATE_H

#include "gateway/gateway.h"
#include "lifecycle/lifecycle.h"
#include "web/web.h"

#include <json-glib/json-glib.h>
#include <sys/stat.h>

G_BEGIN_DECLS

struct MHD_Connection;

/* ---- connections to the database (store_pool.c) ---------------------------------------------
 * A Store is one SQLite connection and is used by one thread at a time: each request takes one
 * from the pool and gives it back. */

typedef struct StorePool StorePool;
StorePool *store_pool_new(const char *path, GError **error);
Store *store_pool_take(StorePool *pool, GError **error);
void store_pool_give(StorePool *pool, Store *store);
/* the connection's serial, never another's (an address may be reused after a close); 0 for
 * a store not of this pool */
guint64 store_pool_serial(StorePool *pool, Store *store);
void store_pool_free(StorePool *pool);

/* ---- the application ------------------------------------------------------------------------ */

typedef struct {
    const Config *config;
    Calendar *calendar; /* read only: shared by the threads */
    StorePool *stores;
    char *pages_dir;    /* templates_dir/web: pages, partials, labels.ini, paht.css */
    char *pages_behind; /* the installed templates' web/ behind a province's own, or NULL:
                           a file the province's older copy lacks is read from there */
    char *att_dir;      /* data_dir/att: attachments and result files, content-addressed */
    char *upload_dir;   /* data_dir/tmp/<pid>.web-XXXXXX: uploads in progress */
    char *origin;       /* public_url's "scheme://host[:port]", or NULL */
    gboolean tls;       /* served over TLS by pahtweb itself */
    gboolean secure;    /* TLS here or an https public_url: Secure cookies, __Host- names */
    char *pahtctl;      /* the pahtctl that reprocesses a message kept aside */
    /* Open311 (issue 15) */
    Gateway *gateway;         /* files Open311 reports: one at a time (open311_lock) */
    GHashTable *open311_keys; /* SHA-256 hex of an API key -> the client's name */
    GHashTable *open311_use;  /* SHA-256 hex -> its POSTs this hour */
    GMutex open311_lock;
} WebApp;

/* ---- a request (http.c) --------------------------------------------------------------------- */

/* the most {} segments a route's pattern has */
#define ROUTE_PARAMS_MAX 3

typedef struct {
    char *path;
    struct stat st; /* all zero: it could not be stat'ed */
} PageStamp;

typedef struct {
    char *field, *filename, *content_type;
    char *path; /* the upload's temp file in upload_dir (removed with the request) */
    int fd;
    gint64 size;
} Upload;

typedef struct {
    WebApp *app;
    struct MHD_Connection *connection;
    char *method, *path;
    char *params[ROUTE_PARAMS_MAX]; /* what the route's {} matched */
    char *client;                   /* the client's address (behind_proxy: the proxy's word) */
    GHashTable *form;               /* field -> GPtrArray of values (UTF-8, NFC) */
    GPtrArray *uploads;
    GKeyFile *labels;        /* labels.ini, read on first use */
    GKeyFile *labels_behind; /* ... and the installed one behind it, or NULL */
    /* PageStamp: when not NULL (a page being kept, queue_cache.c), each page file read for
     * it, labels.ini included, as it was just before it was read */
    GArray *pages_read;
    gboolean dry_run; /* an action run to preview its letters, then rolled back */
    /* once the session is known */
    Store *store;
    Account *user;
    ConsoleSession *session;
} Request;

const char *request_header(Request *req, const char *name);
const char *request_query(Request *req, const char *name);
const char *request_cookie(Request *req, const char *name);
/* the first value of a form field, or NULL; all of them (borrowed), or NULL */
const char *form_value(Request *req, const char *name);
GPtrArray *form_values(Request *req, const char *name);
/* the request's store, taken from the pool on first use; NULL (and a 503 page) when the
 * database cannot be reached */
Store *request_store(Request *req, GError **error);

/* ---- the answer (http.c) -------------------------------------------------------------------- */

typedef struct {
    int status;
    char *content_type;
    GBytes *body;
    char *file;         /* a file to send instead of body (attachments) */
    GPtrArray *headers; /* name, value, name, value, ... */
} Response;

void response_header(Response *res, const char *name, const char *value);
/* takes body */
void response_body(Response *res, int status, const char *content_type, char *body, gsize len);
void response_redirect(Response *res, const char *location);

typedef void (*Handler)(Request *req, Response *res);

/* ---- HTTP details (http.c, pure) ------------------------------------------------------------ */

/* the cookie's name: "__Host-" + base when secure (RFC 6265bis: Secure, Path=/, no Domain) */
char *http_cookie_name(gboolean secure, const char *base);
/* Set-Cookie: HttpOnly, SameSite=Lax, Path=/, Secure when secure; max_age 0 deletes it */
char *http_cookie_header(const char *name, const char *value, gboolean secure, gint64 max_age);
/* "https://paht.soctrang.gov.vn:8443" of a URL, lowercase, default port left out; NULL if it
 * has no host */
char *http_origin_of(const char *url);
/* A state-changing request may come from our own pages only: an Origin header, when sent,
 * must be expected_origin; Sec-Fetch-Site, when sent, must be same-origin or none (typed or
 * bookmarked). Both absent (curl, old browsers) passes: the csrf field is the guard then. */
gboolean http_request_is_same_origin(const char *origin, const char *sec_fetch_site,
                                     const char *expected_origin);
/* Content-Disposition with an ASCII fallback and the UTF-8 name (RFC 6266, RFC 8187) */
char *http_content_disposition(gboolean inline_, const char *filename);
/* the raster image type the bytes are, whatever a mail said: image/jpeg, image/png,
 * image/gif, image/webp; NULL for anything else (SVG and PDF included: they can run script) */
const char *http_sniff_image(const guchar *data, gsize len);
/* an uploaded file's name fit to keep and show: its last path part, NFC, no control
 * characters, at most 120 characters; "tep" when nothing is left */
char *http_safe_filename(const char *name);
/* "2026-12-10T17:00" (a datetime-local field, in zone) or RFC 3339 */
gboolean http_parse_time(const char *text, GTimeZone *zone, gint64 *out);

/* working time between now and a due time (SPEC §5): what "còn 2 giờ 15 phút làm việc" says */
typedef struct {
    gboolean overdue; /* due <= now: the working time since it passed */
    gint64 days, hours, minutes;
} WorkingTimeLeft;

WorkingTimeLeft http_working_time_left(const Calendar *calendar, gint64 now, gint64 due);

/* ---- thumbnails (thumbs.c) ------------------------------------------------------------------ */

/* whether a file starting with these bytes may get a thumbnail: a raster image browsers show,
 * or a HEIC/HEIF photo (which they cannot) */
gboolean thumbs_candidate(const guchar *head, gsize len);
/* attachment_path with suffix: where its thumbnail (".thumb.jpg") or the mark that it has
 * none (".thumb.none") is kept */
char *thumbs_path(const char *attachment_path, const char *suffix);
/* the path of src's thumbnail, made now if it is the first request; NULL when libvips cannot
 * or may not read src (remembered: it is not tried again). Safe from any thread. */
char *thumbs_get(const char *src);

/* ---- passwords (password.c) ----------------------------------------------------------------- */

/* for the unit tests: the most password checks that ran at once so far */
int web_password_checks_peak(void);

/* ---- who may see what (access.c) ------------------------------------------------------------ */

typedef enum {
    ROLE_IOC = 1 << 0,
    ROLE_ADMIN = 1 << 1,
    ROLE_AGENCY = 1 << 2,
    ROLE_LEADER = 1 << 3,
} RoleBit;

/* every role a signed-in user may have */
#define ROLES_ALL (ROLE_IOC | ROLE_ADMIN | ROLE_AGENCY | ROLE_LEADER)

RoleBit access_role(const Account *user);
/* ioc: every report; agency and leader: those whose main or coordinating agency is theirs
 * (not while returned to the IOC); admin: none */
gboolean access_sees_report(const Account *user, const char *agency, char **coordinators,
                            const char *state);
/* agency and leader: the report's main agency is theirs */
gboolean access_is_main_agency(const Account *user, const char *agency);

/* ---- pages (render.c) ----------------------------------------------------------------------- */

/* a label of labels.ini ([group] key), or key itself when the file has none */
char *label(Request *req, const char *group, const char *key);
/* the console's folder of pages (templates_dir/web) and the installed one behind it (NULL
 * when there is none, or templates_dir is the installed folder); a province's templates_dir
 * without web/ is served from the installed one */
void pages_dirs(const Config *config, char **dir, char **behind);
/* whether every page of dir (NAME.html), or of behind where dir lacks it, would render
 * whatever its context, partials included (template_check_full); PAHT_ERROR_CONFIG naming
 * the file and line */
gboolean pages_check(const char *dir, const char *behind, GError **error);
/* a page's context: an object begun with what every page shows (the user, the csrf token,
 * the gateway's name, the title of labels.ini [title] page) */
JsonBuilder *page_context(Request *req, const char *page);
/* ends the context, renders templates/web/PAGE.html into layout.html */
void page_render(Request *req, Response *res, int status, const char *page, JsonBuilder *b);
/* whether a file is still what stamp saw (inode, size, mtime and ctime) */
gboolean page_stamp_holds(const PageStamp *stamp);
void page_stamp_clear(PageStamp *stamp);
/* an error page: the message of labels.ini [message] key, and detail (may be NULL) */
void page_error(Request *req, Response *res, int status, const char *key, const char *detail);
/* the one answer for a report that does not exist and one this user may not see */
void page_not_found(Request *req, Response *res);
/* "08:15 28/11/2026" in the province's zone ("" for t <= 0) */
char *page_time(Request *req, gint64 t);
void json_add_string(JsonBuilder *b, const char *name, const char *value);
void json_add_int(JsonBuilder *b, const char *name, gint64 value);
void json_add_bool(JsonBuilder *b, const char *name, gboolean value);
/* the members the time_left partial reads: overdue, days, hours, minutes, zero */
void json_add_working_time(JsonBuilder *b, WorkingTimeLeft left);
/* the working time left (or overdue) as the time_left partial shows it */
void json_add_time_left(JsonBuilder *b, const char *name, Request *req, gint64 due);

/* ---- sessions (session.c) ------------------------------------------------------------------- */

#define SESSION_COOKIE "paht_session"
#define LOGIN_COOKIE   "paht_login"

/* the request's session from its cookie, checked against idle and absolute expiry (an expired
 * one is ended) and the account (disabled: ended); sets req->session and req->user */
gboolean session_resume(Request *req);
/* a new session for user (the browser's old one ended): its cookie set on res, the login
 * form's cookie deleted */
gboolean session_start(Request *req, Response *res, const Account *user, GError **error);
/* ends the console session id for why (console_session_end), and drops the queue pages kept
 * for it first (queue_cache_forget): every session pahtweb ends goes through here */
gboolean session_end(Store *store, gint64 id, const char *why, GError **error);
/* the login's name as the logs show it: "i***", "n***@gmail.com" */
char *login_masked(const char *login);

/* ---- report views (view.c) ------------------------------------------------------------------ */

/* the report CODE (params[0]) when it exists and the user may see it; else the 404 page is
 * answered and NULL returned */
Report *view_load_report(Request *req, Response *res);
/* the report as this user may see it: all of it for the IOC; for an agency and its leader
 * what the assignment letter shows (no ID number, no postal address; nothing personal when
 * confidential), through the letters' redaction */
void view_report(JsonBuilder *b, Request *req, const Report *r);
void view_queue_item(JsonBuilder *b, Request *req, const ReportListItem *item);
/* the name of attachment index (from 0) as this user may read it */
char *view_attachment_name(Request *req, const Report *r, guint index);

/* ---- Open311's formats (open311_format.c) --------------------------------------------------- */

typedef enum { OPEN311_XML, OPEN311_JSON } Open311Format;

/* the format the last path segment names ("services.json", "PAHT-2026-000001.xml"); *stem
 * (may be NULL) gets what precedes it. FALSE for neither. */
gboolean open311_format_of(const char *segment, Open311Format *format, char **stem);
/* root as the spec's XML: root_name holds it, each list's items named after it ("services"
 * holds "service"s), members as elements, null as an empty element */
char *open311_xml(JsonNode *root, const char *root_name, gsize *len);
/* the answer in format: JSON as it is, XML under root_name (UTF-8 both) */
void open311_answer(Response *res, int status, Open311Format format, JsonNode *root,
                    const char *root_name);
/* the spec's error list: [{code, description}] / <errors><error>... (descriptions: char *) */
void open311_errors(Response *res, Open311Format format, int status, GPtrArray *descriptions);
void open311_error(Response *res, Open311Format format, int status, const char *description);

/* ---- Open311's API keys (open311_keys.c) ---------------------------------------------------- */

/* [open311] api_keys_file read: SHA-256 hex of each key -> its client's name (empty without
 * the key); NULL and PAHT_ERROR_CONFIG for a file readable by others or a bad line */
GHashTable *open311_keys_load(const Config *config, GError **error);
char *open311_key_digest(const char *key);
/* one more POST of the key at now, unless its hour's requests_per_hour are spent (FALSE) */
gboolean open311_key_admit(WebApp *app, const char *digest, gint64 now);

/* ---- logins (login.c) ----------------------------------------------------------------------- */

#define LOGIN_MAX_FAILURES     5
#define LOGIN_WINDOW_SECONDS   (15 * 60)
#define LOGIN_INTERVAL_SECONDS 60

void handle_login_form(Request *req, Response *res);
void handle_login(Request *req, Response *res);
void handle_logout(Request *req, Response *res);

/* ---- actions (actions.c) -------------------------------------------------------------------- */

/* "actions": the forms this user may use on the report now, with what they need */
void actions_offered(JsonBuilder *b, Request *req, const Report *r);
/* TRUE when the user may preview letters of this kind of this report */
gboolean actions_preview_allowed(const Account *user, const Report *r, const char *kind);
/* TRUE for an action whose form may carry files (its body may reach max_message_bytes) */
gboolean actions_take_files(const char *name);
void handle_action(Request *req, Response *res);
/* POST /reports/CODE/ACTION/preview: the action run with the form's values in a transaction
 * that is rolled back, and the letters it would have enqueued shown */
void handle_action_preview(Request *req, Response *res);
void handle_bulk_reject(Request *req, Response *res);
void handle_preview(Request *req, Response *res);

/* ---- the pages' handlers (pages.c, admin.c) ------------------------------------------------- */

void handle_queue(Request *req, Response *res);
void handle_report(Request *req, Response *res);
void handle_attachment(Request *req, Response *res);
void handle_attachment_thumb(Request *req, Response *res);
void handle_result_file(Request *req, Response *res);
void handle_static(Request *req, Response *res);
void handle_stats(Request *req, Response *res);
void handle_stats_csv(Request *req, Response *res);
void handle_health(Request *req, Response *res);
void handle_reprocess(Request *req, Response *res);

/* ---- Open311 GeoReport v2 (open311.c) ------------------------------------------------------- */

/* where clients reach the server: [web] public_url (no trailing '/'), else the request's Host */
char *open311_base_url(Request *req);
void handle_open311_discovery(Request *req, Response *res);
void handle_open311_services(Request *req, Response *res);
void handle_open311_service(Request *req, Response *res);
void handle_open311_requests(Request *req, Response *res);
void handle_open311_request(Request *req, Response *res);
void handle_open311_media(Request *req, Response *res);
void handle_open311_post(Request *req, Response *res);

/* ---- the routes (routes.c) ------------------------------------------------------------------ */

typedef enum {
    GUARD_OPEN,      /* anyone: the login page, the style sheet */
    GUARD_SIGNED_IN, /* a session */
    GUARD_FORM,      /* a session and its csrf field: every state-changing request */
    GUARD_API_KEY,   /* no session: an Open311 API key the handler checks (from any site) */
} Guard;

typedef struct {
    const char *method;
    const char *pattern; /* "{}" matches one path segment */
    Guard guard;
    guint roles;    /* RoleBit: who may use it (403 for the others); 0 with GUARD_OPEN */
    gboolean files; /* an action's files may come (actions_take_files): max_message_bytes */
    Handler handler;
} Route;

/* the route of method (HEAD as GET) and path, with params set to what its {} matched (the
 * caller frees them); NULL when none */
const Route *routes_find(const char *method, const char *path, char **params);
/* TRUE when user's role may use route (an open route: anyone) */
gboolean routes_permit(const Route *route, const Account *user);
/* the table, for the tests that walk it */
const Route *routes_all(gsize *n);

/* ---- the queue page kept (queue_cache.c) ----------------------------------------------------- */

typedef struct {
    guint64 connection;   /* the store's serial in the pool */
    StoreVersion version; /* what that connection saw of the database */
    gint64 at;            /* clock_now_unix() */
    gint64 valid_until;   /* the next minute, or the next open deadline's due time if sooner */
} QueueCacheStamp;

/* when a page made at now stops being true with nothing written: the next minute, or
 * next_due (0: none) if it falls due before */
gint64 queue_cache_valid_until(gint64 now, gint64 next_due);
/* whether a page made at made may be served at now (the files aside) */
gboolean queue_cache_fresh(const QueueCacheStamp *made, const QueueCacheStamp *now);
/* what decides the queue page besides the database, the time and the files: the session,
 * its user and csrf token, and the page's query */
char *queue_cache_key(Request *req);
/* the request's connection, what it sees of the database, and the time (valid_until is
 * queue_cache_watch's); FALSE when the database cannot be read */
gboolean queue_cache_stamp(Request *req, QueueCacheStamp *stamp, GError **error);
/* answers with the page kept under key if it is still fresh at now; FALSE otherwise */
gboolean queue_cache_serve(Request *req, Response *res, const char *key,
                           const QueueCacheStamp *now);
/* a page about to be made at stamp: until when it stays true with nothing written, and
 * every page file the request reads from now on stamped */
void queue_cache_watch(Request *req, QueueCacheStamp *stamp);
/* keeps the page just made (a 200 only) under key, stamped made, for the request's session;
 * the pages kept that cannot be served at made->at or later are dropped first */
void queue_cache_keep(Request *req, const Response *res, const char *key,
                      const QueueCacheStamp *made);
/* drops every page of session (0: none) and every page that cannot be served at now or later
 * (a session that ended: its pages go with it) */
void queue_cache_forget(gint64 session, gint64 now);
/* the pages kept for session (0: all of them), for the tests */
guint queue_cache_kept(gint64 session);

G_END_DECLS

#endif
