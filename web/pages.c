/* The pages people work in (issue 13): the queue (/), a report (/reports/CODE), its files,
 * and the style sheet. */
#include "web/web_private.h"
#include "notify/notify.h"
#include "util/util.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define QUEUE_PAGE_SIZE  50
#define SEARCH_MAX_CHARS 100

/* ---- the queue ----------------------------------------------------------------------------------
 */

/* the states each role works on, and those its filter offers */
static const char *const ioc_waiting[] = {"draft", "incomplete", "returned", "approved", NULL};
static const char *const agency_working[] = {"assigned", "coordinating", "extended",
                                             "result_submitted", NULL};
static const char *const leader_waiting[] = {"result_submitted", NULL};
static const char *const every_state[] = {
    "draft",        "incomplete", "returned",         "assigned",
    "coordinating", "extended",   "result_submitted", "approved",
    "published",    "closed",     "rejected",         NULL};
/* what an agency may see: every state but those before assignment and a return to the IOC */
static const char *const agency_states[] = {
    "assigned", "coordinating", "extended", "result_submitted",
    "approved", "published",    "closed",   NULL};
static const char *const flags[] = {"emergency", "complaint", "confidential",
                                    "stranger",  "overdue",   NULL};

typedef struct {
    const char *state, *flag, *q;
    int page;
    const char *one_state[2];
} QueueFilter;

static void queue_filter_read(Request *req, QueueFilter *f, const char *const *offered)
{
    const char *state = request_query(req, "state");
    const char *flag = request_query(req, "flag");
    const char *q = request_query(req, "q");
    const char *page = request_query(req, "page");
    f->state =
        state && (g_str_equal(state, "all") || g_strv_contains(offered, state)) ? state : NULL;
    f->flag = flag && g_strv_contains(flags, flag) ? flag : NULL;
    f->q = q && *q && g_utf8_strlen(q, -1) <= SEARCH_MAX_CHARS ? q : NULL;
    gint64 n = 1;
    f->page = page && g_ascii_string_to_signed(page, 10, 1, 100000, &n, NULL) ? (int)n : 1;
}

/* the query of the user's queue: the role decides the states, the agency and the deadlines
 * that order it; the filter narrows it */
static void queue_query_for(Request *req, QueueFilter *f, ReportQuery *q)
{
    RoleBit role = access_role(req->user);
    static const char *const ioc_owner[] = {"ioc", NULL};
    static const char *const agency_owner[] = {"agency", "coordinators", NULL};
    static const char *const leader_owner[] = {"leader", NULL};
    *q = (ReportQuery){.flag = f->flag,
                       .search = f->q,
                       .now = clock_now_unix(),
                       .offset = (f->page - 1) * QUEUE_PAGE_SIZE,
                       .limit = QUEUE_PAGE_SIZE};
    const char *const *defaults = ioc_waiting, *const *all = NULL;
    if (role == ROLE_IOC) {
        q->owners = ioc_owner;
    } else {
        q->agency = req->user->agency;
        q->search_redacted = TRUE; /* what view.c shows them of a confidential report */
        q->main_agency_only = role == ROLE_LEADER;
        q->owners = role == ROLE_LEADER ? leader_owner : agency_owner;
        defaults = role == ROLE_LEADER ? leader_waiting : agency_working;
        all = agency_states;
    }
    f->one_state[0] = f->state;
    q->states = !f->state ? defaults : g_str_equal(f->state, "all") ? all : f->one_state;
}

static char *queue_url(const QueueFilter *f, int page)
{
    GString *url = g_string_new("/?");
    const char *names[] = {"state", "flag", "q"};
    const char *values[] = {f->state, f->flag, f->q};
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        if (!values[i])
            continue;
        g_autofree char *v = g_uri_escape_string(values[i], NULL, FALSE);
        g_string_append_printf(url, "%s=%s&", names[i], v);
    }
    g_string_append_printf(url, "page=%d", page);
    return g_string_free(url, FALSE);
}

static void add_options(JsonBuilder *b, Request *req, const char *member, const char *group,
                        const char *const *values, const char *selected)
{
    json_builder_set_member_name(b, member);
    json_builder_begin_array(b);
    for (const char *const *v = values; *v; v++) {
        json_builder_begin_object(b);
        json_add_string(b, "value", *v);
        g_autofree char *text = label(req, group, *v);
        json_add_string(b, "label", text);
        json_add_bool(b, "selected", g_strcmp0(selected, *v) == 0);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static void add_pages(JsonBuilder *b, const QueueFilter *f, int total)
{
    int pages = MAX(1, (total + QUEUE_PAGE_SIZE - 1) / QUEUE_PAGE_SIZE);
    json_add_int(b, "total", total);
    json_add_int(b, "page", f->page);
    json_add_int(b, "pages", pages);
    if (f->page > 1) {
        g_autofree char *prev = queue_url(f, f->page - 1);
        json_add_string(b, "prev_url", prev);
    }
    if (f->page < pages) {
        g_autofree char *next = queue_url(f, f->page + 1);
        json_add_string(b, "next_url", next);
    }
}

/* what a bulk rejection did, said on the queue it came back to */
static void add_bulk_outcome(JsonBuilder *b, Request *req)
{
    const char *rejected = request_query(req, "rejected");
    const char *refused = request_query(req, "refused");
    gint64 n = 0;
    if (rejected && g_ascii_string_to_signed(rejected, 10, 0, 100000, &n, NULL))
        json_add_int(b, "bulk_rejected", n);
    if (refused && g_utf8_strlen(refused, -1) <= 2000)
        json_add_string(b, "bulk_refused", refused);
}

void handle_queue(Request *req, Response *res)
{
    RoleBit role = access_role(req->user);
    if (role == ROLE_ADMIN) {
        response_redirect(res, "/health");
        return;
    }
    GError *error = NULL;
    /* the page as last made for this session, if nothing it shows has changed since */
    QueueCacheStamp stamp;
    g_autofree char *key = queue_cache_key(req);
    gboolean stamped = queue_cache_stamp(req, &stamp, &error);
    if (stamped && queue_cache_serve(req, res, key, &stamp))
        return;
    g_clear_error(&error); /* the queries below say it again if the database is away */
    if (stamped)
        queue_cache_watch(req, &stamp);
    const char *const *offered = role == ROLE_IOC ? every_state : agency_states;
    QueueFilter f = {0};
    queue_filter_read(req, &f, offered);
    ReportQuery q;
    queue_query_for(req, &f, &q);
    q.now = stamped ? stamp.at : q.now;
    int total = 0;
    Store *store = request_store(req, &error);
    g_autoptr(GPtrArray) items = store ? report_query(store, &q, &total, &error) : NULL;
    if (!items) {
        log_error("queue: %s", error->message);
        g_error_free(error);
        page_error(req, res, 503, "busy", NULL);
        return;
    }
    JsonBuilder *b = page_context(req, "queue");
    json_builder_set_member_name(b, "items");
    json_builder_begin_array(b);
    for (guint i = 0; i < items->len; i++)
        view_queue_item(b, req, g_ptr_array_index(items, i));
    json_builder_end_array(b);
    json_add_bool(b, "bulk", role == ROLE_IOC && items->len > 0);
    add_pages(b, &f, total);
    add_options(b, req, "states", "state", offered, f.state);
    add_options(b, req, "flags", "flag", flags, f.flag);
    json_add_bool(b, "all_states", f.state && g_str_equal(f.state, "all"));
    json_add_string(b, "q", f.q);
    add_bulk_outcome(b, req);
    page_render(req, res, 200, "queue", b);
    if (stamped)
        queue_cache_keep(req, res, key, &stamp);
}

/* ---- a report
 * ------------------------------------------------------------------------------------ */

void handle_report(Request *req, Response *res)
{
    g_autoptr(Report) r = view_load_report(req, res);
    if (!r)
        return;
    JsonBuilder *b = page_context(req, "report");
    view_report(b, req, r);
    actions_offered(b, req, r);
    page_render(req, res, 200, "report", b);
}

/* A file of a report as the browser gets it: a raster image whose bytes are one (whatever the
 * mail said) inline, everything else, SVG and PDF included, as a download. */
static void serve_file(Request *req, Response *res, const char *path, const char *filename,
                       gboolean may_show)
{
    guchar head[16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, head, sizeof head) : -1;
    if (fd >= 0)
        close(fd);
    if (n < 0) {
        log_error("cannot read a stored file: %s", path);
        page_error(req, res, 500, "broken", NULL);
        return;
    }
    const char *image = may_show ? http_sniff_image(head, (gsize)n) : NULL;
    g_autofree char *disposition = http_content_disposition(image != NULL, filename);
    response_header(res, "Content-Disposition", disposition);
    res->status = 200;
    g_free(res->content_type);
    res->content_type = g_strdup(image ? image : "application/octet-stream");
    res->file = g_strdup(path);
}

/* the n-th (from 1) of a list, or NULL */
static gpointer nth(GPtrArray *list, const char *number)
{
    gint64 n = 0;
    if (!list || !number || !g_ascii_string_to_signed(number, 10, 1, list->len, &n, NULL))
        return NULL;
    return g_ptr_array_index(list, n - 1);
}

void handle_attachment(Request *req, Response *res)
{
    g_autoptr(Report) r = view_load_report(req, res);
    if (!r)
        return;
    const StoredAttachment *a = nth(r->attachments, req->params[1]);
    if (!a) {
        page_not_found(req, res);
        return;
    }
    guint index = 0;
    g_ptr_array_find(r->attachments, a, &index);
    g_autofree char *name = view_attachment_name(req, r, index);
    serve_file(req, res, a->path, name, !a->dangerous);
}

/* an attachment's thumbnail (web/thumbs.c), made on this first request for it: the report
 * page that links it was already served */
void handle_attachment_thumb(Request *req, Response *res)
{
    g_autoptr(Report) r = view_load_report(req, res);
    if (!r)
        return;
    const StoredAttachment *a = nth(r->attachments, req->params[1]);
    g_autofree char *thumb = a && !a->dangerous ? thumbs_get(a->path) : NULL;
    if (!thumb) {
        page_not_found(req, res);
        return;
    }
    response_header(res, "Content-Disposition", "inline");
    response_header(res, "Cache-Control", "private, max-age=86400");
    res->status = 200;
    g_free(res->content_type);
    res->content_type = g_strdup("image/jpeg");
    res->file = g_steal_pointer(&thumb);
}

void handle_result_file(Request *req, Response *res)
{
    g_autoptr(Report) r = view_load_report(req, res);
    if (!r)
        return;
    g_autoptr(GPtrArray) files = result_file_list(req->store, r->id, NULL);
    const ResultFile *f = nth(files, req->params[1]);
    if (!f) {
        page_not_found(req, res);
        return;
    }
    serve_file(req, res, f->path, f->filename, TRUE);
}

/* ---- the style sheet
 * ------------------------------------------------------------------------------ */

void handle_static(Request *req, Response *res)
{
    g_autofree char *path =
        template_file_path(req->app->pages_dir, req->app->pages_behind, "paht.css");
    char *text = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &text, &len, NULL)) {
        page_not_found(req, res);
        return;
    }
    response_header(res, "Cache-Control", "max-age=3600");
    response_body(res, 200, "text/css; charset=utf-8", text, len);
}
