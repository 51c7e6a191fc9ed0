/* The console's pages: templates_dir/web/PAGE.html rendered with the letters' mustache
 * renderer ({{value}} is HTML-escaped; only {{{content}}} of the layout takes HTML, the page
 * just rendered), partials from NAME.partial.html, every word a province may change in the
 * templates or in labels.ini. Read through the letters' template cache, which sees an edit
 * at the next request (the file's inode, size, mtime and ctime), so that an edit shows at
 * once, as with the letters. */
#include "web/web_private.h"
#include "letters/letters.h"
#include "notify/notify.h"
#include "util/util.h"

#include <string.h>

/* ---- values -------------------------------------------------------------------------------------
 */

void json_add_string(JsonBuilder *b, const char *name, const char *value)
{
    if (!value)
        return;
    json_builder_set_member_name(b, name);
    json_builder_add_string_value(b, value);
}

void json_add_int(JsonBuilder *b, const char *name, gint64 value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, value);
}

void json_add_bool(JsonBuilder *b, const char *name, gboolean value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_boolean_value(b, value);
}

char *page_time(Request *req, gint64 t)
{
    if (t <= 0)
        return g_strdup("");
    g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(t);
    g_autoptr(GDateTime) local = g_date_time_to_timezone(utc, req->app->config->calendar.zone);
    return g_date_time_format(local, "%H:%M %d/%m/%Y");
}

void json_add_working_time(JsonBuilder *b, WorkingTimeLeft left)
{
    json_add_bool(b, "overdue", left.overdue);
    json_add_int(b, "days", left.days);
    json_add_int(b, "hours", left.hours);
    json_add_int(b, "minutes", left.minutes);
    json_add_bool(b, "zero", !left.days && !left.hours && !left.minutes);
}

void json_add_time_left(JsonBuilder *b, const char *name, Request *req, gint64 due)
{
    if (due <= 0)
        return;
    WorkingTimeLeft left = http_working_time_left(req->app->calendar, clock_now_unix(), due);
    json_builder_set_member_name(b, name);
    json_builder_begin_object(b);
    json_add_working_time(b, left);
    g_autofree char *at = page_time(req, due);
    json_add_string(b, "at", at);
    json_builder_end_object(b);
}

/* ---- where the files are -------------------------------------------------------------------- */

void pages_dirs(const Config *c, char **dir, char **behind)
{
    const char *installed = letters_fallback_dir(c);
    *dir = g_build_filename(c->gateway.templates_dir, "web", NULL);
    *behind = installed ? g_build_filename(installed, "web", NULL) : NULL;
    if (*behind && !g_file_test(*behind, G_FILE_TEST_IS_DIR))
        g_clear_pointer(behind, g_free);
    if (*behind && !g_file_test(*dir, G_FILE_TEST_IS_DIR)) {
        g_free(*dir);
        *dir = g_steal_pointer(behind);
    }
}

/* a labels.ini parsed, or an empty one (logged) while the file is wrong: every label its key */
static GKeyFile *labels_of(const char *path)
{
    GError *error = NULL;
    GKeyFile *labels = labels_ini_load(path, &error);
    if (labels)
        return labels;
    log_warning("labels of the console: %s", error->message);
    g_error_free(error);
    return g_key_file_new();
}

/* ---- the files a page was made of ------------------------------------------------------------
 * Stamped before they are read: a file changed in between has another stamp than the text
 * read, so that a page kept with it is made again, never served with a stale stamp. */

static gboolean same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void page_stamp_read(PageStamp *stamp)
{
    if (stat(stamp->path, &stamp->st) != 0)
        memset(&stamp->st, 0, sizeof stamp->st);
}

gboolean page_stamp_holds(const PageStamp *stamp)
{
    PageStamp now = {.path = stamp->path};
    page_stamp_read(&now);
    return same_stat(&now.st, &stamp->st);
}

void page_stamp_clear(PageStamp *stamp)
{
    g_free(stamp->path);
}

static void note_page_file(Request *req, const char *path)
{
    if (!req->pages_read)
        return;
    PageStamp stamp = {.path = g_strdup(path)};
    page_stamp_read(&stamp);
    g_array_append_val(req->pages_read, stamp);
}

char *label(Request *req, const char *group, const char *key)
{
    if (!req->labels) {
        const WebApp *app = req->app;
        g_autofree char *own = g_build_filename(app->pages_dir, "labels.ini", NULL);
        g_autofree char *behind =
            app->pages_behind ? g_build_filename(app->pages_behind, "labels.ini", NULL) : NULL;
        note_page_file(req, own);
        if (behind && !g_file_test(behind, G_FILE_TEST_EXISTS))
            g_clear_pointer(&behind, g_free);
        gboolean have_own = !behind || g_file_test(own, G_FILE_TEST_EXISTS);
        req->labels = labels_of(have_own ? own : behind);
        if (behind) {
            note_page_file(req, behind);
            if (have_own) /* a label a later version added, which the province's lacks */
                req->labels_behind = labels_ini_load(behind, NULL);
        }
    }
    char *text = key ? g_key_file_get_string(req->labels, group, key, NULL) : NULL;
    if (!text && key && req->labels_behind && !g_key_file_has_key(req->labels, group, key, NULL))
        text = g_key_file_get_string(req->labels_behind, group, key, NULL);
    return text ? text : g_strdup(key ? key : "");
}

/* ---- templates
 * ----------------------------------------------------------------------------------- */

static char *read_page_file(Request *req, const char *file, GError **error)
{
    const WebApp *app = req->app;
    g_autofree char *path = template_file_path(app->pages_dir, app->pages_behind, file);
    g_autofree char *own = g_build_filename(app->pages_dir, file, NULL);
    if (!g_str_equal(path, own))
        note_page_file(req, own); /* the province's own, if it appears, makes a kept page again */
    note_page_file(req, path);
    return template_file_text(path, error);
}

/* {{> name}}: templates/web/name.partial.html; a missing one is an error, as in the letters */
static char *partial_file(const char *name, GError **error)
{
    if (template_name_is_safe(name))
        return g_strdup_printf("%s.partial.html", name);
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "bad partial name \"%s\"", name);
    return NULL;
}

static char *partial_lookup(const char *name, gpointer user_data, GError **error)
{
    g_autofree char *file = partial_file(name, error);
    return file ? read_page_file(user_data, file, error) : NULL;
}

/* the pages' partials when no request is being served (pages_check) */
typedef struct {
    const char *dir, *behind;
} PageDirs;

static char *partial_in_dir(const char *name, gpointer user_data, GError **error)
{
    const PageDirs *dirs = user_data;
    g_autofree char *file = partial_file(name, error);
    g_autofree char *path = file ? template_file_path(dirs->dir, dirs->behind, file) : NULL;
    return path ? template_file_text(path, error) : NULL;
}

/* the pages of folder (NAME.html) that dirs reads from there: all of dirs->dir's, and those
 * of dirs->behind that dirs->dir lacks */
static gboolean pages_check_folder(const PageDirs *dirs, const char *folder, GError **error)
{
    g_autoptr(GDir) dir = g_dir_open(folder, 0, error);
    if (!dir)
        return FALSE;
    const char *entry;
    while ((entry = g_dir_read_name(dir))) {
        if (!g_str_has_suffix(entry, ".html"))
            continue;
        g_autofree char *name = g_strndup(entry, strlen(entry) - strlen(".html"));
        if (!template_name_is_safe(name)) /* a partial (x.partial), or no page's name */
            continue;
        g_autofree char *path = template_file_path(dirs->dir, dirs->behind, entry);
        g_autofree char *here = g_build_filename(folder, entry, NULL);
        if (!g_str_equal(path, here))
            continue; /* behind's page, which the province's folder has */
        GError *local = NULL;
        g_autofree char *text = template_file_text(path, &local);
        if (text && template_check_full(text, 1, partial_in_dir, (gpointer)dirs, &local))
            continue;
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "%s%s%s", text ? path : "",
                    text ? ": " : "", local->message);
        g_error_free(local);
        return FALSE;
    }
    return TRUE;
}

gboolean pages_check(const char *dir, const char *behind, GError **error)
{
    PageDirs dirs = {dir, behind};
    return pages_check_folder(&dirs, dir, error) &&
           (!behind || pages_check_folder(&dirs, behind, error));
}

static char *render_file(Request *req, const char *name, JsonNode *context, GError **error)
{
    g_autofree char *file = g_strdup_printf("%s.html", name);
    g_autofree char *text = read_page_file(req, file, error);
    if (!text)
        return NULL;
    return template_render_full(text, context, TRUE, 1, partial_lookup, req, error);
}

/* ---- pages
 * ---------------------------------------------------------------------------------------- */

static void add_user(JsonBuilder *b, Request *req)
{
    const Account *u = req->user;
    RoleBit role = access_role(u);
    json_builder_set_member_name(b, "user");
    json_builder_begin_object(b);
    json_add_string(b, "login", u->login);
    json_add_string(b, "name", u->name);
    g_autofree char *role_label = label(req, "role", u->role);
    json_add_string(b, "role", role_label);
    const Agency *a = u->agency ? config_find_agency(req->app->config, u->agency) : NULL;
    json_add_string(b, "agency", a ? a->name : u->agency);
    json_add_bool(b, "ioc", role == ROLE_IOC);
    json_add_bool(b, "admin", role == ROLE_ADMIN);
    json_add_bool(b, "agency_staff", role == ROLE_AGENCY);
    json_add_bool(b, "leader", role == ROLE_LEADER);
    json_add_bool(b, "sees_reports", role != ROLE_ADMIN);
    json_builder_end_object(b);
}

JsonBuilder *page_context(Request *req, const char *page)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    g_autofree char *title = label(req, "title", page);
    json_add_string(b, "title", title);
    json_add_string(b, "page", page);
    json_add_string(b, "gateway_name", req->app->config->gateway.name);
    if (req->user && req->session) {
        add_user(b, req);
        json_add_string(b, "csrf", req->session->csrf);
    }
    return b;
}

void page_render(Request *req, Response *res, int status, const char *page, JsonBuilder *b)
{
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_object_unref(b);
    GError *error = NULL;
    g_autofree char *content = render_file(req, page, root, &error);
    char *html = NULL;
    if (content) {
        json_object_set_string_member(json_node_get_object(root), "content", content);
        html = render_file(req, "layout", root, &error);
    }
    if (!html) {
        /* a broken template is the administrator's to fix; the user gets a plain line */
        log_error("console page %s: %s", page, error->message);
        g_error_free(error);
        static const char text[] = "Lỗi mẫu trang (xem nhật ký: journalctl -u pahtweb)\n";
        response_body(res, 500, "text/plain; charset=utf-8", g_strdup(text), sizeof text - 1);
        return;
    }
    response_body(res, status, "text/html; charset=utf-8", html, strlen(html));
}

void page_error(Request *req, Response *res, int status, const char *key, const char *detail)
{
    JsonBuilder *b = page_context(req, "error");
    g_autofree char *message = label(req, "message", key);
    json_add_string(b, "message", message);
    json_add_string(b, "detail", detail);
    json_add_int(b, "status", status);
    page_render(req, res, status, "error", b);
}

void page_not_found(Request *req, Response *res)
{
    page_error(req, res, 404, "not_found", NULL);
}
