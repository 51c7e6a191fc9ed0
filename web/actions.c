/* The console's actions (issue 13): POST /reports/CODE/ACTION with the names and options of
 * pahtctl, in one table that says who may take each action, in which states its form is
 * offered and which letter it sends (the preview). This file is the console's one door to
 * the gateway: every transition goes through the same gateway_*_report functions as
 * pahtctl, so it records the same events and enqueues the same letters in the same
 * transaction; the actor is the user's login.
 *
 * Answers: 303 to the report when done; 403 when the user's role may not take the action;
 * 409 with the lifecycle's reason (the words pahtctl prints) when the rules refuse it; 400
 * when a value does not pass the parser's checks. The state lists only decide which forms
 * a page shows: the lifecycle is the judge. */
#include "web/web_private.h"
#include "letters/letters.h"
#include "parse/parse.h"
#include "util/util.h"

#include <string.h>

#define NOTE_MAX_CHARS     10000
#define CATEGORY_MAX_CHARS 200

typedef gboolean (*ActionRun)(Request *req, const Report *r, GError **error);

typedef struct {
    const char *name;
    guint roles;               /* RoleBit */
    gboolean main_agency;      /* agency staff and leaders: only as the main agency */
    const char *const *states; /* when its form is offered; NULL: always */
    const char *preview;       /* the letter it sends (pahtctl preview KIND), or NULL */
    ActionRun run;
} WebAction;

static const char *const reviewing[] = {"draft", "incomplete", "returned", NULL};
static const char *const processing[] = {"assigned", "coordinating", "extended", NULL};
static const char *const extendable[] = {"assigned", "coordinating", NULL};
static const char *const answering[] = {"assigned", "coordinating", "extended", "result_submitted",
                                        NULL};
static const char *const submitted[] = {"result_submitted", NULL};
static const char *const approved[] = {"approved", NULL};
static const char *const rejected[] = {"rejected", NULL};
static const char *const correctable[] = {
    "draft",    "incomplete",       "returned", "accepted",  "assigned", "coordinating",
    "extended", "result_submitted", "approved", "published", NULL};

/* ---- helpers
 * ------------------------------------------------------------------------------------- */

static gboolean input_error(GError **error, Request *req, const char *key, const char *detail)
{
    g_autofree char *text = label(req, "message", key);
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "%s%s%s", text, detail ? ": " : "",
                detail ? detail : "");
    return FALSE;
}

/* a form value trimmed, NULL when empty */
static char *form_text(Request *req, const char *name)
{
    const char *value = form_value(req, name);
    g_autofree char *copy = value ? g_strstrip(g_strdup(value)) : NULL;
    return copy && *copy ? g_steal_pointer(&copy) : NULL;
}

static const char *actor(Request *req)
{
    return req->user->login;
}

static Lifecycle lifecycle_of(Request *req)
{
    return (Lifecycle){
        .config = req->app->config, .calendar = req->app->calendar, .actor = actor(req)};
}

/* several steps as one: everything or nothing */
static gboolean in_transaction(Store *store, gboolean ok, GError **error)
{
    if (!ok) {
        store_rollback(store);
        return FALSE;
    }
    return store_commit(store, error);
}

/* ---- the IOC ------------------------------------------------------------------------------------
 */

/* "coordinate" may come several times, each "CODE" or "CODE,CODE" as pahtctl takes it */
static char **coordinators_of(Request *req)
{
    GPtrArray *out = g_ptr_array_new();
    GPtrArray *values = form_values(req, "coordinate");
    for (guint i = 0; values && i < values->len; i++) {
        g_auto(GStrv) parts = g_strsplit(g_ptr_array_index(values, i), ",", -1);
        for (char **p = parts; *p; p++) {
            g_strstrip(*p);
            if (**p)
                g_ptr_array_add(out, g_strdup(*p));
        }
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

static gboolean run_accept(Request *req, const Report *r, GError **error)
{
    g_autofree char *agency = form_text(req, "agency");
    if (!agency)
        return input_error(error, req, "need_agency", NULL);
    g_auto(GStrv) coordinators = coordinators_of(req);
    g_autofree char *category = form_text(req, "category");
    return lifecycle_letters_accept(req->app->config, req->store, actor(req), r->id, agency,
                                    (const char *const *)coordinators, category, error);
}

static gboolean run_reject(Request *req, const Report *r, GError **error)
{
    g_autofree char *reason = form_text(req, "reason");
    if (!reason)
        return input_error(error, req, "need_reason", NULL);
    g_autofree char *note = form_text(req, "note");
    return lifecycle_letters_reject(req->app->config, req->store, actor(req), r->id, reason, note,
                                    error);
}

static gboolean run_publish(Request *req, const Report *r, GError **error)
{
    return lifecycle_letters_publish(req->app->config, req->store, actor(req), r->id, error);
}

/* Open311 (issue 15): one image made public (its media_url) or no longer */
static gboolean run_image(Request *req, const Report *r, GError **error)
{
    gint64 number = 0;
    const char *file = form_value(req, "file");
    if (!file || !g_ascii_string_to_signed(file, 10, 1, G_MAXUINT, &number, NULL))
        return input_error(error, req, "bad_value", NULL);
    Lifecycle lc = lifecycle_of(req);
    return lifecycle_image_public(req->store, &lc, r->id, (guint)number,
                                  g_strcmp0(form_value(req, "public"), "1") == 0, error);
}

static gboolean run_note(Request *req, const Report *r, GError **error)
{
    g_autofree char *text = form_text(req, "text");
    if (!text)
        return input_error(error, req, "need_text", NULL);
    if (g_utf8_strlen(text, -1) > NOTE_MAX_CHARS)
        return input_error(error, req, "too_long", NULL);
    /* internal: an event of the report, never a letter */
    return event_add(req->store, r->id, actor(req), "note", text, error);
}

static gboolean run_duplicate(Request *req, const Report *r, GError **error)
{
    g_autofree char *of_code = form_text(req, "of");
    if (!of_code)
        return input_error(error, req, "need_of", NULL);
    GError *missing = NULL;
    g_autoptr(Report) of = report_load(req->store, of_code, &missing);
    if (!of) {
        gboolean absent = missing->code == PAHT_ERROR_NOT_FOUND;
        if (!absent) {
            g_propagate_error(error, missing);
            return FALSE;
        }
        g_error_free(missing);
        return input_error(error, req, "no_such_report", of_code);
    }
    if (of->id == r->id)
        return input_error(error, req, "duplicate_self", NULL);
    g_autofree char *note = form_text(req, "note");
    Store *s = req->store;
    if (!store_begin(s, error))
        return FALSE;
    return in_transaction(s,
                          lifecycle_letters_reject(req->app->config, s, actor(req), r->id,
                                                   "duplicate", note, error) &&
                              duplicate_link_add(s, r->id, of->id, r->state, actor(req), error),
                          error);
}

static gboolean run_duplicate_undo(Request *req, const Report *r, GError **error)
{
    Lifecycle lc = lifecycle_of(req);
    return duplicate_undo(req->store, &lc, r->id, error);
}

/* ---- corrections
 * ---------------------------------------------------------------------------------- */

static const char *const edit_fields[] = {"name",  "address",  "id_number",   "phone",
                                          "email", "location", "occurred_at", "category"};

typedef struct {
    ReportEdit edit;
    char *value;
} CheckedEdit;

static void checked_edit_free(gpointer p)
{
    CheckedEdit *c = p;
    g_free(c->value);
    g_free(c);
}

/* every field of the form checked as the parser checks it; the reasons it refuses, or NULL */
static char *edits_check(Request *req, GPtrArray *edits)
{
    GString *why = g_string_new(NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(edit_fields); i++) {
        const char *field = edit_fields[i];
        const char *written = form_value(req, field);
        if (!written)
            continue;
        CheckedEdit *c = g_new0(CheckedEdit, 1);
        c->edit.field = field;
        g_autofree char *reason = NULL;
        gboolean ok = TRUE;
        if (g_str_equal(field, "category")) {
            c->value = g_strstrip(g_strdup(written));
            ok = g_utf8_strlen(c->value, -1) <= CATEGORY_MAX_CHARS;
            if (!*c->value)
                g_clear_pointer(&c->value, g_free);
            if (!ok)
                reason = label(req, "message", "too_long");
        } else {
            ok = parse_check_field(field, written, clock_now_unix(), &c->value,
                                   &c->edit.has_coordinates, &c->edit.lat, &c->edit.lon, &reason);
        }
        c->edit.value = c->value;
        if (ok) {
            g_ptr_array_add(edits, c);
            continue;
        }
        g_autofree char *name = label(req, "field", field);
        g_string_append_printf(why, "%s%s: %s", why->len ? "; " : "", name, reason);
        checked_edit_free(c);
    }
    return g_string_free(why, why->len == 0);
}

static gboolean run_edit(Request *req, const Report *r, GError **error)
{
    g_autoptr(GPtrArray) edits = g_ptr_array_new_with_free_func(checked_edit_free);
    g_autofree char *why = edits_check(req, edits);
    if (why)
        return input_error(error, req, "bad_value", why);
    Lifecycle lc = lifecycle_of(req);
    Store *s = req->store;
    if (!store_begin(s, error))
        return FALSE;
    gboolean ok = TRUE;
    for (guint i = 0; ok && i < edits->len; i++) {
        const CheckedEdit *c = g_ptr_array_index(edits, i);
        gboolean changed = FALSE;
        ok = report_edit(s, &lc, r->id, &c->edit, &changed, error);
    }
    return in_transaction(s, ok, error);
}

/* ---- the agency and its leader
 * -------------------------------------------------------------------- */

static gboolean run_return(Request *req, const Report *r, GError **error)
{
    g_autofree char *note = form_text(req, "note");
    return lifecycle_letters_return(req->app->config, req->store, actor(req), r->id, note, error);
}

static gboolean run_extend(Request *req, const Report *r, GError **error)
{
    g_autofree char *until_text = form_text(req, "until");
    gint64 until = 0;
    if (!http_parse_time(until_text, req->app->config->calendar.zone, &until))
        return input_error(error, req, "need_until", NULL);
    g_autofree char *note = form_text(req, "note");
    return lifecycle_letters_extend(req->app->config, req->store, actor(req), r->id, until, note,
                                    error);
}

/* an uploaded file kept with the report: content-addressed beside the attachments */
static gboolean keep_result_file(Request *req, const Report *r, Upload *u, GError **error)
{
    if (u->fd >= 0 && fsync(u->fd) != 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot keep %s", u->filename);
        return FALSE;
    }
    gint64 size = 0;
    g_autofree char *sha = sha256_file(u->path, &size, error);
    g_autofree char *final = sha ? fs_content_path(req->app->att_dir, sha, NULL, error) : NULL;
    if (!final || !fs_commit_content(u->path, final, sha, FS_SYNC_NOW, error))
        return FALSE;
    ResultFile f = {.report_id = r->id,
                    .filename = u->filename,
                    .content_type = u->content_type,
                    .sha256 = sha,
                    .path = final,
                    .uploaded_by = (char *)actor(req),
                    .size = size};
    return result_file_add(req->store, &f, error);
}

static gboolean keep_result_files(Request *req, const Report *r, GError **error)
{
    if (req->dry_run)
        return TRUE; /* a preview keeps nothing */
    GString *names = g_string_new(NULL);
    gboolean ok = TRUE;
    for (guint i = 0; ok && i < req->uploads->len; i++) {
        Upload *u = g_ptr_array_index(req->uploads, i);
        if (!g_str_equal(u->field, "files"))
            continue;
        ok = keep_result_file(req, r, u, error);
        g_string_append_printf(names, "%s%s", names->len ? ", " : "", u->filename);
    }
    if (ok && names->len)
        ok = event_add(req->store, r->id, actor(req), "result_files", names->str, error);
    g_string_free(names, TRUE);
    return ok;
}

static gboolean run_result(Request *req, const Report *r, GError **error)
{
    const char *text = form_value(req, "text");
    Store *s = req->store;
    if (!store_begin(s, error))
        return FALSE;
    return in_transaction(s,
                          lifecycle_letters_submit_result(req->app->config, s, actor(req), r->id,
                                                          text ? text : "", error) &&
                              keep_result_files(req, r, error),
                          error);
}

static gboolean run_approve(Request *req, const Report *r, GError **error)
{
    return lifecycle_letters_approve(req->app->config, req->store, actor(req), r->id, error);
}

/* ---- the table
 * -------------------------------------------------------------------------------------- */

static const WebAction actions[] = {
    {"accept", ROLE_IOC, FALSE, reviewing, "acceptance", run_accept},
    {"reject", ROLE_IOC, FALSE, reviewing, "rejection", run_reject},
    {"duplicate", ROLE_IOC, FALSE, reviewing, "rejection", run_duplicate},
    {"duplicate_undo", ROLE_IOC, FALSE, rejected, NULL, run_duplicate_undo},
    {"edit", ROLE_IOC, FALSE, correctable, NULL, run_edit},
    {"note", ROLE_IOC | ROLE_AGENCY | ROLE_LEADER, FALSE, NULL, NULL, run_note},
    {"return", ROLE_AGENCY, TRUE, processing, NULL, run_return},
    {"extend", ROLE_AGENCY, TRUE, extendable, "extension", run_extend},
    {"result", ROLE_AGENCY, TRUE, answering, "approval_request", run_result},
    {"approve", ROLE_LEADER, TRUE, submitted, "publish_request", run_approve},
    {"publish", ROLE_IOC, FALSE, approved, "result", run_publish},
    {"image", ROLE_IOC, FALSE, NULL, NULL, run_image},
};

static const WebAction *action_find(const char *name)
{
    for (gsize i = 0; name && i < G_N_ELEMENTS(actions); i++) {
        if (g_str_equal(actions[i].name, name))
            return &actions[i];
    }
    return NULL;
}

gboolean actions_take_files(const char *name)
{
    /* the agency's result: the answer and its files (multipart) */
    return g_strcmp0(name, "result") == 0;
}

static gboolean action_permitted(const WebAction *a, const Account *user, const Report *r)
{
    RoleBit role = access_role(user);
    if (!(a->roles & role))
        return FALSE;
    gboolean agency_side = role == ROLE_AGENCY || role == ROLE_LEADER;
    return !a->main_agency || !agency_side || access_is_main_agency(user, r->agency);
}

/* the states a form is offered in, and what only the store knows: a result may also clarify
 * a published report after the citizen's feedback (Điều 10.2); an undo needs a link */
static gboolean action_in_season(const WebAction *a, Request *req, const Report *r)
{
    if (g_str_equal(a->name, "result") &&
        (g_str_equal(r->state, "published") || g_str_equal(r->state, "closed"))) {
        gint64 due = 0;
        return lifecycle_deadline_due(req->store, r->id, "clarify", &due, NULL) && due > 0;
    }
    if (a->states && !g_strv_contains(a->states, r->state))
        return FALSE;
    if (g_str_equal(a->name, "duplicate_undo")) {
        g_autoptr(GPtrArray) links = duplicate_links(req->store, r->id, NULL);
        for (guint i = 0; links && i < links->len; i++) {
            const DuplicateLink *l = g_ptr_array_index(links, i);
            if (l->report_id == r->id && !l->undone_at)
                return TRUE;
        }
        return FALSE;
    }
    return TRUE;
}

gboolean actions_preview_allowed(const Account *user, const Report *r, const char *kind)
{
    /* letters to the citizen carry personal data: the IOC's to read; an agency previews the
     * letters its own actions send to its leader and to the IOC */
    RoleBit role = access_role(user);
    if (role == ROLE_IOC)
        return TRUE;
    if (!access_is_main_agency(user, r->agency))
        return FALSE;
    return (role == ROLE_AGENCY && g_str_equal(kind, "approval_request")) ||
           (role == ROLE_LEADER && g_str_equal(kind, "publish_request"));
}

/* ---- what a page offers
 * ------------------------------------------------------------------------------ */

/* issue 15: the categories file's codes, the only ones accept takes when there is one */
static void add_categories(JsonBuilder *b, const Config *c)
{
    json_add_bool(b, "has_categories", c->categories->len > 0);
    json_builder_set_member_name(b, "categories");
    json_builder_begin_array(b);
    for (guint i = 0; i < c->categories->len; i++) {
        const Category *cat = g_ptr_array_index(c->categories, i);
        json_builder_begin_object(b);
        json_add_string(b, "code", cat->code);
        json_add_string(b, "name", cat->name);
        json_add_string(b, "group", cat->group);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

/* the report's images by number, and whether each is public (Open311's media_url) */
static void add_images(JsonBuilder *b, Request *req, const Report *r)
{
    g_autoptr(GPtrArray) shown = public_image_list(req->store, r->id, NULL);
    gboolean any = FALSE;
    json_builder_set_member_name(b, "images");
    json_builder_begin_array(b);
    for (guint i = 0; r->attachments && i < r->attachments->len; i++) {
        const StoredAttachment *a = g_ptr_array_index(r->attachments, i);
        if (!g_str_equal(a->kind, "image") || a->dangerous)
            continue;
        any = TRUE;
        json_builder_begin_object(b);
        json_add_int(b, "number", i + 1);
        json_add_bool(b, "public",
                      shown &&
                          g_ptr_array_find_with_equal_func(shown, a->sha256, g_str_equal, NULL));
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_add_bool(b, "has_images", any);
}

static void add_action_extras(JsonBuilder *b, Request *req, const WebAction *a, const Report *r)
{
    const Config *c = req->app->config;
    if (g_str_equal(a->name, "accept")) {
        json_builder_set_member_name(b, "agencies");
        json_builder_begin_array(b);
        for (guint i = 0; c->agencies && i < c->agencies->len; i++) {
            const Agency *ag = g_ptr_array_index(c->agencies, i);
            json_builder_begin_object(b);
            json_add_string(b, "code", ag->code);
            json_add_string(b, "name", ag->name);
            json_builder_end_object(b);
        }
        json_builder_end_array(b);
        add_categories(b, c);
    } else if (g_str_equal(a->name, "image")) {
        add_images(b, req, r);
    } else if (g_str_equal(a->name, "reject")) {
        static const char *const reasons[] = {"incomplete", "complaint", "out-of-scope",
                                              "duplicate", "spam"};
        json_builder_set_member_name(b, "reasons");
        json_builder_begin_array(b);
        for (gsize i = 0; i < G_N_ELEMENTS(reasons); i++) {
            json_builder_begin_object(b);
            json_add_string(b, "code", reasons[i]);
            g_autofree char *text = label(req, "reason", reasons[i]);
            json_add_string(b, "label", text);
            json_add_bool(b, "suggested",
                          g_str_equal(reasons[i], "complaint") &&
                              g_str_equal(r->classification, "complaint"));
            json_builder_end_object(b);
        }
        json_builder_end_array(b);
    }
}

void actions_offered(JsonBuilder *b, Request *req, const Report *r)
{
    json_builder_set_member_name(b, "actions");
    json_builder_begin_object(b);
    gboolean any = FALSE;
    for (gsize i = 0; i < G_N_ELEMENTS(actions); i++) {
        const WebAction *a = &actions[i];
        if (!action_permitted(a, req->user, r) || !action_in_season(a, req, r))
            continue;
        any = TRUE;
        json_builder_set_member_name(b, a->name);
        json_builder_begin_object(b);
        g_autofree char *url = g_strdup_printf("/reports/%s/%s", r->code, a->name);
        json_add_string(b, "url", url);
        if (a->preview && actions_preview_allowed(req->user, r, a->preview)) {
            g_autofree char *preview = g_strdup_printf("%s/preview", url);
            json_add_string(b, "preview_url", preview);
        }
        add_action_extras(b, req, a, r);
        json_builder_end_object(b);
    }
    json_add_bool(b, "any", any);
    json_builder_end_object(b);
}

/* ---- the handlers
 * ------------------------------------------------------------------------------------- */

static void answer_failure(Request *req, Response *res, const Report *r, const WebAction *a,
                           GError *error)
{
    g_autofree char *who = login_masked(actor(req));
    switch (error->code) {
    case PAHT_ERROR_REFUSED: /* the lifecycle's reason, as pahtctl prints it */
        page_error(req, res, 409, "refused", error->message);
        break;
    case PAHT_ERROR_INPUT:
        page_error(req, res, 400, "bad_input", error->message);
        break;
    case PAHT_ERROR_TEMPORARY:
        log_error("%s %s by %s: %s", r->code, a->name, who, error->message);
        page_error(req, res, 503, "busy", NULL);
        break;
    default:
        log_error("%s %s by %s: %s", r->code, a->name, who, error->message);
        page_error(req, res, 500, "broken", NULL);
        break;
    }
}

void handle_action(Request *req, Response *res)
{
    g_autoptr(Report) r = view_load_report(req, res);
    if (!r)
        return;
    const WebAction *a = action_find(req->params[1]);
    if (!a) {
        page_not_found(req, res);
        return;
    }
    if (!action_permitted(a, req->user, r)) {
        page_error(req, res, 403, "not_yours", NULL);
        return;
    }
    GError *error = NULL;
    if (!a->run(req, r, &error)) {
        answer_failure(req, res, r, a, error);
        g_error_free(error);
        return;
    }
    g_autofree char *who = login_masked(actor(req));
    log_info("%s: %s by %s", r->code, a->name, who);
    g_autofree char *back = g_strdup_printf("/reports/%s", r->code);
    response_redirect(res, back);
}

/* one report of a bulk rejection: TRUE when rejected */
static gboolean bulk_reject_one(Request *req, const char *code, const char *reason,
                                const char *note)
{
    GError *error = NULL;
    g_autoptr(Report) r = report_load(req->store, code, &error);
    gboolean ok = r && lifecycle_letters_reject(req->app->config, req->store, actor(req), r->id,
                                                reason, note, &error);
    if (!ok) {
        log_notice("bulk rejection of %s: %s", code, error->message);
        g_error_free(error);
    }
    return ok;
}

/* the IOC's alone: routes.c refuses the others */
void handle_bulk_reject(Request *req, Response *res)
{
    g_autofree char *reason = form_text(req, "reason");
    /* what several at once is for: spam, and many mails about one thing */
    if (!reason || (!g_str_equal(reason, "spam") && !g_str_equal(reason, "duplicate"))) {
        page_error(req, res, 400, "bulk_reason", NULL);
        return;
    }
    GError *error = NULL;
    if (!request_store(req, &error)) {
        log_error("bulk rejection: %s", error->message);
        g_error_free(error);
        page_error(req, res, 503, "busy", NULL);
        return;
    }
    g_autofree char *note = form_text(req, "note");
    GPtrArray *codes = form_values(req, "code");
    int done = 0;
    GString *refused = g_string_new(NULL);
    for (guint i = 0; codes && i < codes->len; i++) {
        const char *code = g_ptr_array_index(codes, i);
        if (bulk_reject_one(req, code, reason, note))
            done++;
        else if (refused->len < 2000)
            g_string_append_printf(refused, "%s%s", refused->len ? "," : "", code);
    }
    g_autofree char *escaped = g_uri_escape_string(refused->str, ",", FALSE);
    g_autofree char *back = g_strdup_printf(
        "/?rejected=%d%s%s", done, refused->len ? "&refused=" : "", refused->len ? escaped : "");
    g_string_free(refused, TRUE);
    response_redirect(res, back);
}

/* ---- letters as they would be sent
 * -------------------------------------------------------------------- */

void handle_preview(Request *req, Response *res)
{
    g_autoptr(Report) r = view_load_report(req, res);
    if (!r)
        return;
    const char *kind = req->params[1];
    if (!actions_preview_allowed(req->user, r, kind)) {
        page_error(req, res, 403, "not_yours", NULL);
        return;
    }
    GError *error = NULL;
    g_autoptr(GBytes) letter =
        lifecycle_letters_preview(req->app->config, req->store, kind, r->id, &error);
    g_autofree char *text = letter ? lifecycle_letters_readable(letter, FALSE, &error) : NULL;
    if (!text) {
        if (error->code == PAHT_ERROR_INPUT)
            page_not_found(req, res);
        else if (error->code == PAHT_ERROR_NOT_FOUND || error->code == PAHT_ERROR_REFUSED)
            page_error(req, res, 409, "no_letter", error->message);
        else
            answer_failure(req, res, r, &(WebAction){.name = "preview"}, error);
        g_error_free(error);
        return;
    }
    JsonBuilder *b = page_context(req, "preview");
    json_add_string(b, "code", r->code);
    json_builder_set_member_name(b, "letters");
    json_builder_begin_array(b);
    json_builder_begin_object(b);
    g_autofree char *kind_label = label(req, "mail", kind);
    json_add_string(b, "kind", kind_label);
    json_add_string(b, "letter", text);
    json_builder_end_object(b);
    json_builder_end_array(b);
    page_render(req, res, 200, "preview", b);
}

/* the letters of a dry run, readable: [{kind, letter}] */
static gboolean add_letters_after(JsonBuilder *b, Request *req, const Report *r, gint64 mark,
                                  GError **error)
{
    g_autoptr(GArray) ids = outbox_ids_after(req->store, r->id, mark, error);
    if (!ids)
        return FALSE;
    json_builder_set_member_name(b, "letters");
    json_builder_begin_array(b);
    for (guint i = 0; i < ids->len; i++) {
        gint64 id = g_array_index(ids, gint64, i);
        g_autoptr(OutboxEntry) e = outbox_get(req->store, id, error);
        g_autoptr(GBytes) bytes = e ? outbox_message(req->store, id, error) : NULL;
        g_autofree char *text = bytes ? lifecycle_letters_readable(bytes, FALSE, error) : NULL;
        if (!text) {
            json_builder_end_array(b);
            return FALSE;
        }
        json_builder_begin_object(b);
        g_autofree char *kind = label(req, "mail", e->kind);
        json_add_string(b, "kind", kind);
        json_add_string(b, "letter", text);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_add_bool(b, "none", ids->len == 0);
    return TRUE;
}

void handle_action_preview(Request *req, Response *res)
{
    g_autoptr(Report) r = view_load_report(req, res);
    if (!r)
        return;
    const WebAction *a = action_find(req->params[1]);
    if (!a || !a->preview) {
        page_not_found(req, res);
        return;
    }
    if (!action_permitted(a, req->user, r) || !actions_preview_allowed(req->user, r, a->preview)) {
        page_error(req, res, 403, "not_yours", NULL);
        return;
    }
    /* the action itself, with what the form says, in a transaction nobody commits: the
     * letters are exactly those it would send now */
    Store *s = req->store;
    GError *error = NULL;
    gint64 mark = 0;
    JsonBuilder *b = page_context(req, "preview");
    json_add_string(b, "code", r->code);
    req->dry_run = TRUE;
    gboolean ok = outbox_last_id(s, &mark, &error) && store_begin(s, &error) &&
                  a->run(req, r, &error) && add_letters_after(b, req, r, mark, &error);
    store_rollback(s);
    if (!ok) {
        g_object_unref(b);
        answer_failure(req, res, r, a, error);
        g_error_free(error);
        return;
    }
    page_render(req, res, 200, "preview", b);
}
