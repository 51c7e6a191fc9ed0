/* What the console (pahtweb, issue 13) keeps in the store, on a real SQLite file: accounts
 * and their sessions, the login throttle, the queue of each user, corrections of fields,
 * duplicates and their undoing, the audit trail. The clock is PAHT_NOW. */
#include "lifecycle/lifecycle.h"
#include "util/util.h"

#include <string.h>

typedef struct {
    char *dir;
    Config *config;
    Calendar *calendar;
    Store *store;
    Lifecycle lc;
} Console;

static void clock_at(const char *rfc3339)
{
    g_setenv("PAHT_NOW", rfc3339, TRUE);
}

static void console_setup(Console *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("paht-console-XXXXXX", NULL);
    const char *templates = g_getenv("PAHT_TEMPLATES_DIR");
    g_autofree char *agencies = g_build_filename(f->dir, "agencies.conf", NULL);
    g_assert_true(g_file_set_contents(
        agencies,
        "[agency xd]\nname = Sở Xây dựng\ncontact = xd@sxd.example.vn\nleader = gd@sxd.example.vn\n"
        "leader_name = Nguyễn Văn A\n[agency gtvt]\nname = Sở Giao thông vận tải\n"
        "contact = vt@sgtvt.example.vn\nleader = gd@sgtvt.example.vn\nleader_name = Trần Thị B\n",
        -1, NULL));
    g_autofree char *path = g_build_filename(f->dir, "paht.conf", NULL);
    g_autofree char *conf = g_strdup_printf(
        "[gateway]\ndatabase = console.db\ndata_dir = data\ntemplates_dir = %s\n"
        "agencies_file = agencies.conf\nioc_alert_to = ioc@soctrang.gov.vn\n"
        "[imap]\nurl = imaps://mail.soctrang.gov.vn/INBOX\nuser = paht@soctrang.gov.vn\n"
        "[smtp]\nurl = smtp://mail.soctrang.gov.vn\nfrom = paht@soctrang.gov.vn\n",
        templates ? templates : f->dir);
    g_assert_true(g_file_set_contents(path, conf, -1, NULL));
    GError *error = NULL;
    f->config = config_load(path, CONFIG_LOAD_DEFAULT, &error);
    g_assert_no_error(error);
    f->calendar = calendar_new_from_config(f->config);
    f->store = store_open(f->config->gateway.database, &error);
    g_assert_no_error(error);
    f->lc = (Lifecycle){.config = f->config, .calendar = f->calendar, .actor = "ioc.lan"};
    clock_at("2026-12-01T09:00:00+07:00"); /* a Tuesday */
}

static void console_teardown(Console *f, gconstpointer data)
{
    store_close(f->store);
    calendar_free(f->calendar);
    config_free(f->config);
    fs_remove_tree(f->dir);
    g_free(f->dir);
    g_unsetenv("PAHT_NOW");
}

typedef struct {
    const char *subject, *name, *email, *phone, *classification;
    gboolean confidential, no_address;
} Mail;

/* a report as ingestion makes it, waiting for the IOC (its "assign" deadline open) */
static gint64 report_of(Console *f, const Mail *m)
{
    g_autoptr(Draft) d = draft_new();
    d->subject = g_strdup(m->subject);
    d->text = g_strdup("Nội dung phản ánh.");
    d->classification = g_strdup(m->classification ? m->classification : "report");
    d->confidential = m->confidential;
    d->citizen.name = g_strdup(m->name ? m->name : "Nguyễn Văn An");
    d->citizen.address = m->no_address ? NULL : g_strdup("12 Lê Lợi, Phường 1");
    d->citizen.id_number = g_strdup("094201001234");
    d->citizen.phone = g_strdup(m->phone ? m->phone : "0912345678");
    d->citizen.email = g_strdup(m->email ? m->email : "an@example.vn");
    d->location.text = g_strdup("Đường Lê Lợi");
    g_ptr_array_add(d->warnings, g_strdup("the HTML part was used: no text part"));
    ReportRef ref = {0};
    GError *error = NULL;
    g_assert_true(store_begin(f->store, &error));
    g_assert_true(report_create(f->store, d, NULL, "PAHT", f->config->calendar.zone,
                                clock_now_unix(), 0, &ref, &error));
    g_assert_true(lifecycle_report_waits(f->store, &f->lc, ref.id, clock_now_unix(), &error));
    g_assert_true(store_commit(f->store, &error));
    g_assert_no_error(error);
    gint64 id = ref.id;
    report_ref_clear(&ref);
    return id;
}

static Report *load(Console *f, gint64 id)
{
    GError *error = NULL;
    Report *r = report_load_id(f->store, id, &error);
    g_assert_no_error(error);
    return r;
}

static int events_of_kind(const Report *r, const char *kind)
{
    int n = 0;
    for (guint i = 0; i < r->events->len; i++)
        n += g_str_equal(((ReportEvent *)g_ptr_array_index(r->events, i))->kind, kind);
    return n;
}

static const ReportEvent *last_event(const Report *r, const char *kind)
{
    for (guint i = r->events->len; i-- > 0;) {
        const ReportEvent *e = g_ptr_array_index(r->events, i);
        if (g_str_equal(e->kind, kind))
            return e;
    }
    return NULL;
}

/* ---- accounts and sessions ------------------------------------------------------------------- */

static gint64 account_made(Console *f, const char *login, const char *role, const char *agency)
{
    Account a = {.login = (char *)login,
                 .role = (char *)role,
                 .agency = (char *)agency,
                 .name = (char *)"Lê Thị Lan",
                 .password_hash = (char *)"$argon2id$fake"};
    gint64 id = 0;
    GError *error = NULL;
    g_assert_true(account_add(f->store, &a, "root", &id, &error));
    g_assert_no_error(error);
    return id;
}

static void test_login_taken_whatever_its_case(Console *f, gconstpointer data)
{
    account_made(f, "ioc.lan", "ioc", NULL);
    Account again = {.login = (char *)"IOC.Lan",
                     .role = (char *)"admin",
                     .name = (char *)"Ai đó",
                     .password_hash = (char *)"x"};
    GError *error = NULL;
    g_assert_false(account_add(f->store, &again, "root", NULL, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED);
    g_clear_error(&error);
    g_autoptr(Account) found = account_get(f->store, "IOC.LAN", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(found->role, ==, "ioc");
    g_assert_null(account_get(f->store, "nobody", &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND);
    g_clear_error(&error);
}

static void test_new_password_and_disabling_end_sessions(Console *f, gconstpointer data)
{
    gint64 user = account_made(f, "xd.an", "agency", "xd");
    GError *error = NULL;
    g_assert_true(console_session_create(f->store, user, "hash-1", "csrf-1", "10.0.0.1", &error));
    g_autoptr(ConsoleSession) s = console_session_find(f->store, "hash-1", &error);
    g_assert_nonnull(s);
    g_assert_cmpstr(s->csrf, ==, "csrf-1");
    g_assert_true(account_set_password(f->store, "xd.an", "$argon2id$new", "root", &error));
    g_assert_no_error(error);
    g_assert_null(console_session_find(f->store, "hash-1", &error));
    g_assert_no_error(error);

    g_assert_true(console_session_create(f->store, user, "hash-2", "csrf-2", "10.0.0.1", &error));
    g_assert_true(account_set_disabled(f->store, "xd.an", TRUE, "root", &error));
    g_assert_null(console_session_find(f->store, "hash-2", &error));
    g_autoptr(Account) a = account_get(f->store, "xd.an", &error);
    g_assert_true(a->disabled);
    g_assert_cmpstr(a->password_hash, ==, "$argon2id$new");
    /* every change is in the audit trail, by its actor */
    g_autoptr(GPtrArray) trail = audit_list(f->store, 0, G_MAXINT64, "root", 0, 0, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(trail->len, ==, 3);
    const char *kinds[] = {"account_added", "password_changed", "account_disabled"};
    for (guint i = 0; i < trail->len; i++) {
        const AuditEntry *e = g_ptr_array_index(trail, i);
        g_assert_cmpstr(e->kind, ==, kinds[i]);
        g_assert_cmpstr(e->login, ==, "xd.an");
        g_assert_null(e->code);
    }
}

/* ---- the login throttle ---------------------------------------------------------------------- */

static const LoginThrottle throttle = {5, 15 * 60, 60};

static gint64 attempt(Console *f, const char *login, const char *client)
{
    gint64 id = 0;
    GError *error = NULL;
    g_assert_true(login_attempt_begin(f->store, login, client, &throttle, &id, &error));
    g_assert_no_error(error);
    return id;
}

static void fail_attempt(Console *f, const char *login, const char *client)
{
    gint64 id = attempt(f, login, client);
    g_assert_cmpint(id, >, 0);
    g_assert_true(login_attempt_finish(f->store, id, FALSE, NULL));
}

static void test_five_failures_then_one_attempt_a_minute(Console *f, gconstpointer data)
{
    for (int i = 0; i < 5; i++)
        fail_attempt(f, "ioc.lan", "10.0.0.1");
    /* the sixth, in the same minute: held, whoever tries and from wherever */
    g_assert_cmpint(attempt(f, "ioc.lan", "10.0.0.9"), ==, 0);
    g_assert_cmpint(attempt(f, "IOC.LAN", "10.0.0.1"), ==, 0);
    /* the address is held for other accounts too */
    g_assert_cmpint(attempt(f, "xd.an", "10.0.0.1"), ==, 0);
    g_assert_cmpint(attempt(f, "xd.an", "10.0.0.2"), >, 0);
    /* a minute later: one attempt, then held again */
    clock_at("2026-12-01T09:01:01+07:00");
    gint64 one = attempt(f, "ioc.lan", "10.0.0.3");
    g_assert_cmpint(one, >, 0);
    g_assert_cmpint(attempt(f, "ioc.lan", "10.0.0.4"), ==, 0);
    /* the right password then: the account is free again */
    g_assert_true(login_attempt_finish(f->store, one, TRUE, NULL));
    clock_at("2026-12-01T09:01:30+07:00");
    g_assert_cmpint(attempt(f, "ioc.lan", "10.0.0.5"), >, 0);
}

static void test_failures_older_than_fifteen_minutes_forgotten(Console *f, gconstpointer data)
{
    for (int i = 0; i < 4; i++)
        fail_attempt(f, "ioc.lan", "10.0.0.1");
    clock_at("2026-12-01T09:16:00+07:00");
    fail_attempt(f, "ioc.lan", "10.0.0.1");
    g_assert_cmpint(attempt(f, "ioc.lan", "10.0.0.1"), >, 0);
}

/* ---- the queue ------------------------------------------------------------------------------- */

static GPtrArray *query(Console *f, const ReportQuery *q, int *total)
{
    GError *error = NULL;
    GPtrArray *list = report_query(f->store, q, total, &error);
    g_assert_no_error(error);
    return list;
}

static void test_queue_oldest_deadline_first_with_pages(Console *f, gconstpointer data)
{
    static const char *const waiting[] = {"draft", "incomplete", "returned", NULL};
    static const char *const ioc[] = {"ioc", NULL};
    clock_at("2026-12-01T10:00:00+07:00");
    gint64 late = report_of(f, &(Mail){.subject = "mới hơn"});
    clock_at("2026-12-01T09:00:00+07:00");
    gint64 early = report_of(f, &(Mail){.subject = "sớm hơn"});
    gint64 lacking = report_of(f, &(Mail){.subject = "thiếu địa chỉ", .no_address = TRUE});
    int total = 0;
    ReportQuery q = {.states = waiting, .owners = ioc, .now = clock_now_unix(), .limit = 2};
    g_autoptr(GPtrArray) page1 = query(f, &q, &total);
    g_assert_cmpint(total, ==, 3);
    g_assert_cmpuint(page1->len, ==, 2);
    const ReportListItem *first = g_ptr_array_index(page1, 0);
    g_assert_cmpint(first->id, ==, early);
    g_assert_cmpstr(first->due_name, ==, "assign");
    g_assert_cmpint(((ReportListItem *)g_ptr_array_index(page1, 1))->id, ==, late);
    /* an incomplete report has no deadline yet: last */
    q.offset = 2;
    g_autoptr(GPtrArray) page2 = query(f, &q, NULL);
    g_assert_cmpuint(page2->len, ==, 1);
    const ReportListItem *last = g_ptr_array_index(page2, 0);
    g_assert_cmpint(last->id, ==, lacking);
    g_assert_cmpint(last->due, ==, 0);
    g_assert_cmpstr(last->missing[0], ==, "address");
}

static void test_queue_flags_and_search(Console *f, gconstpointer data)
{
    report_of(f, &(Mail){.subject = "Cháy nhà", .classification = "emergency"});
    gint64 secret = report_of(f, &(Mail){.subject = "Bí mật",
                                         .confidential = TRUE,
                                         .email = "b_c%d@example.vn",
                                         .phone = "0987654321",
                                         .name = "Trần Thị Bích"});
    report_of(f, &(Mail){.subject = "Thường"});
    ReportQuery q = {.now = clock_now_unix(), .limit = 50, .flag = "confidential"};
    g_autoptr(GPtrArray) confidential = query(f, &q, NULL);
    g_assert_cmpuint(confidential->len, ==, 1);
    g_assert_cmpint(((ReportListItem *)g_ptr_array_index(confidential, 0))->id, ==, secret);
    q.flag = "emergency";
    g_autoptr(GPtrArray) emergency = query(f, &q, NULL);
    g_assert_cmpuint(emergency->len, ==, 1);

    /* by phone as people write it, by part of an address (LIKE's wildcards are literal), by
     * name, by code */
    q.flag = NULL;
    const char *searches[] = {"+84 987 654 321", "b_c%d@", "Bích", "PAHT-2026-000002"};
    for (gsize i = 0; i < G_N_ELEMENTS(searches); i++) {
        q.search = searches[i];
        int total = 0;
        g_autoptr(GPtrArray) found = query(f, &q, &total);
        g_assert_cmpint(total, ==, 1);
        g_assert_cmpint(((ReportListItem *)g_ptr_array_index(found, 0))->id, ==, secret);
    }
    q.search = "b%d@"; /* a wildcard would match "b_c%d@" */
    g_autoptr(GPtrArray) none = query(f, &q, NULL);
    g_assert_cmpuint(none->len, ==, 0);
}

static void test_queue_of_an_agency(Console *f, gconstpointer data)
{
    gint64 main_xd = report_of(f, &(Mail){.subject = "xd chủ trì"});
    gint64 helps_xd = report_of(f, &(Mail){.subject = "xd phối hợp"});
    report_of(f, &(Mail){.subject = "chưa giao"});
    GError *error = NULL;
    g_assert_true(lifecycle_accept(f->store, &f->lc, main_xd, "xd", NULL, NULL, &error));
    const char *const coordinating[] = {"xd", NULL};
    g_assert_true(lifecycle_accept(f->store, &f->lc, helps_xd, "gtvt", coordinating, NULL, &error));
    g_assert_no_error(error);
    ReportQuery q = {.agency = "xd", .now = clock_now_unix(), .limit = 50};
    int total = 0;
    g_autoptr(GPtrArray) all = query(f, &q, &total);
    g_assert_cmpint(total, ==, 2);
    q.main_agency_only = TRUE;
    g_autoptr(GPtrArray) main_only = query(f, &q, &total);
    g_assert_cmpint(total, ==, 1);
    g_assert_cmpint(((ReportListItem *)g_ptr_array_index(main_only, 0))->id, ==, main_xd);
}

/* ---- corrections ----------------------------------------------------------------------------- */

static void test_correction_completes_an_incomplete_report(Console *f, gconstpointer data)
{
    gint64 id = report_of(f, &(Mail){.subject = "thiếu", .no_address = TRUE});
    g_autoptr(Report) before = load(f, id);
    g_assert_cmpstr(before->state, ==, "incomplete");
    ReportEdit edit = {.field = "address", .value = "25 Trần Hưng Đạo, Phường 2"};
    gboolean changed = FALSE;
    GError *error = NULL;
    g_assert_true(report_edit(f->store, &f->lc, id, &edit, &changed, &error));
    g_assert_no_error(error);
    g_assert_true(changed);
    g_autoptr(Report) after = load(f, id);
    g_assert_cmpstr(after->state, ==, "draft");
    g_assert_null(after->missing[0]);
    g_assert_cmpstr(after->citizen.address, ==, "25 Trần Hưng Đạo, Phường 2");
    const ReportEvent *e = last_event(after, "edited");
    g_assert_cmpstr(e->actor, ==, "ioc.lan");
    g_assert_cmpstr(e->detail, ==, "address: (trống) → 25 Trần Hưng Đạo, Phường 2");
    g_assert_cmpint(events_of_kind(after, "completed"), ==, 1);
    /* waiting for the IOC now: 4 working hours from now */
    gint64 due = 0;
    g_assert_true(lifecycle_deadline_due(f->store, id, "assign", &due, &error));
    g_assert_cmpint(due, ==, calendar_add_working_hours(f->calendar, clock_now_unix(), 4));

    /* the same value again changes nothing and records nothing */
    g_assert_true(report_edit(f->store, &f->lc, id, &edit, &changed, &error));
    g_assert_false(changed);
    g_autoptr(Report) again = load(f, id);
    g_assert_cmpint(events_of_kind(again, "edited"), ==, 1);
}

static void test_correction_of_category_and_coordinates(Console *f, gconstpointer data)
{
    gint64 id = report_of(f, &(Mail){.subject = "đèn"});
    gboolean changed = FALSE;
    GError *error = NULL;
    ReportEdit category = {.field = "category", .value = "Hạ tầng đô thị"};
    g_assert_true(report_edit(f->store, &f->lc, id, &category, &changed, &error));
    ReportEdit place = {.field = "location",
                        .value = "Đường Lê Lợi (9.6, 105.97)",
                        .has_coordinates = TRUE,
                        .lat = 9.6,
                        .lon = 105.97};
    g_assert_true(report_edit(f->store, &f->lc, id, &place, &changed, &error));
    g_assert_no_error(error);
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(f->store, id, &error);
    g_assert_cmpstr(rec->category, ==, "Hạ tầng đô thị");
    g_autoptr(Report) r = load(f, id);
    g_assert_true(r->location.has_coordinates);
    g_assert_cmpfloat(r->location.lat, ==, 9.6);
    g_assert_cmpint(events_of_kind(r, "edited"), ==, 2);
    ReportEdit unknown = {.field = "subject", .value = "x"};
    g_assert_false(report_edit(f->store, &f->lc, id, &unknown, &changed, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_INPUT);
    g_clear_error(&error);
    g_assert_true(lifecycle_reject(f->store, &f->lc, id, "spam", NULL, &error));
    g_assert_false(report_edit(f->store, &f->lc, id, &category, &changed, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED);
    g_clear_error(&error);
}

/* ---- duplicates ------------------------------------------------------------------------------ */

static void test_duplicate_linked_both_ways_and_undone(Console *f, gconstpointer data)
{
    gint64 original = report_of(f, &(Mail){.subject = "đèn hỏng"});
    clock_at("2026-12-01T10:00:00+07:00");
    gint64 copy = report_of(f, &(Mail){.subject = "đèn hỏng nữa", .email = "b@example.vn"});
    gint64 due_before = 0;
    GError *error = NULL;
    g_assert_true(lifecycle_deadline_due(f->store, copy, "assign", &due_before, &error));
    clock_at("2026-12-01T10:30:00+07:00");
    g_assert_true(store_begin(f->store, &error));
    g_assert_true(lifecycle_reject(f->store, &f->lc, copy, "duplicate", NULL, &error));
    g_assert_true(duplicate_link_add(f->store, copy, original, "draft", "ioc.lan", &error));
    g_assert_true(store_commit(f->store, &error));
    g_assert_no_error(error);
    g_autoptr(GPtrArray) links = duplicate_links(f->store, original, &error);
    g_assert_cmpuint(links->len, ==, 1);
    const DuplicateLink *l = g_ptr_array_index(links, 0);
    g_assert_cmpint(l->report_id, ==, copy);
    g_assert_cmpstr(l->of_code, ==, "PAHT-2026-000001");
    g_autoptr(Report) linked = load(f, original);
    g_assert_cmpstr(last_event(linked, "duplicate_linked")->detail, ==, "PAHT-2026-000002");

    /* a wrong merge undone: back to the draft it was, with the deadline it had */
    clock_at("2026-12-01T11:00:00+07:00");
    g_assert_true(duplicate_undo(f->store, &f->lc, copy, &error));
    g_assert_no_error(error);
    g_autoptr(Report) back = load(f, copy);
    g_assert_cmpstr(back->state, ==, "draft");
    gint64 due_after = 0;
    g_assert_true(lifecycle_deadline_due(f->store, copy, "assign", &due_after, &error));
    g_assert_cmpint(due_after, ==, due_before);
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(f->store, copy, &error);
    g_assert_null(rec->reject_reason);
    g_autoptr(Report) unlinked = load(f, original);
    g_assert_cmpint(events_of_kind(unlinked, "duplicate_unlinked"), ==, 1);
    /* once only */
    g_assert_false(duplicate_undo(f->store, &f->lc, copy, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED);
    g_clear_error(&error);
    /* and the report can be accepted as any draft */
    g_assert_true(lifecycle_accept(f->store, &f->lc, copy, "xd", NULL, NULL, &error));
    g_assert_no_error(error);
}

static void test_warnings_kept_with_the_report(Console *f, gconstpointer data)
{
    gint64 id = report_of(f, &(Mail){.subject = "html"});
    GError *error = NULL;
    g_auto(GStrv) warnings = report_warnings(f->store, id, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(g_strv_length(warnings), ==, 1);
    g_assert_cmpstr(warnings[0], ==, "the HTML part was used: no text part");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_init("test");
    log_set_level(LOG_LEVEL_ERROR);
#define ADD(name, fn)                                                                              \
    g_test_add("/console/" name, Console, NULL, console_setup, fn, console_teardown)
    ADD("login-taken-whatever-its-case", test_login_taken_whatever_its_case);
    ADD("new-password-and-disabling-end-sessions", test_new_password_and_disabling_end_sessions);
    ADD("five-failures-then-one-attempt-a-minute", test_five_failures_then_one_attempt_a_minute);
    ADD("failures-older-than-fifteen-minutes-forgotten",
        test_failures_older_than_fifteen_minutes_forgotten);
    ADD("queue-oldest-deadline-first-with-pages", test_queue_oldest_deadline_first_with_pages);
    ADD("queue-flags-and-search", test_queue_flags_and_search);
    ADD("queue-of-an-agency", test_queue_of_an_agency);
    ADD("correction-completes-an-incomplete-report",
        test_correction_completes_an_incomplete_report);
    ADD("correction-of-category-and-coordinates", test_correction_of_category_and_coordinates);
    ADD("duplicate-linked-both-ways-and-undone", test_duplicate_linked_both_ways_and_undone);
    ADD("warnings-kept-with-the-report", test_warnings_kept_with_the_report);
    return g_test_run();
}
