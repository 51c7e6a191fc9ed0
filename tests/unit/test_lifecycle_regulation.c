/* The lifecycle on a real SQLite file and the real 2026 calendar: every transition of SPEC §4
 * with its event and deadlines (SPEC §5), every refusal, the citizen's turn (Điều 10) and the
 * scheduler's view of the deadlines. The clock is PAHT_NOW. */
#include "config_fixture.h"
#include "lifecycle/lifecycle.h"
#include "queue/store_sql.h"
#include "util/util.h"

#include <locale.h>

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

typedef struct {
    char *dir;
    Config *config;
    Calendar *calendar;
    Store *store;
    Lifecycle lc;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    FixtureConfig opts = {
        .agencies = FIXTURE_AGENCY_XD FIXTURE_AGENCY_GTVT FIXTURE_AGENCY_TNMT,
        .holidays = TRUE,
    };
    f->config = fixture_config_open("lifecycle", &opts, &f->dir);
    f->calendar = calendar_new_from_config(f->config);
    GError *error = NULL;
    f->store = store_open(f->config->gateway.database, &error);
    g_assert_no_error(error);
    f->lc = (Lifecycle){.config = f->config, .calendar = f->calendar, .actor = "ioc.lan"};
    fixture_now_is("2026-11-23T08:00:00+07:00");
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    store_close(f->store);
    calendar_free(f->calendar);
    fixture_config_close(f->config, f->dir);
    g_unsetenv("PAHT_NOW");
}

static gint64 at(const char *rfc3339)
{
    gint64 v = 0;
    g_assert_true(clock_parse_rfc3339(rfc3339, &v));
    return v;
}

/* a citizen's complete report, received now; missing names fields left out */
static gint64 new_report(Fixture *f, gboolean confidential, const char *missing)
{
    g_autoptr(Draft) d = draft_new();
    d->subject = g_strdup("Đèn đường hỏng");
    d->text = g_strdup("Đèn đường trước nhà số 12 bị hỏng.");
    d->classification = g_strdup("report");
    d->confidential = confidential;
    d->citizen.name = g_strdup("Nguyễn Văn An");
    d->citizen.address = g_strdup("12 Lê Lợi, Phường 1");
    d->citizen.id_number = g_strdup("094201001234");
    d->citizen.phone = missing && strstr(missing, "phone") ? NULL : g_strdup("0912345678");
    d->citizen.email = g_strdup("an@example.vn");
    d->location.text = g_strdup("Đường Lê Lợi");
    return fixture_store_report(f->store, f->config, d);
}

static Report *load(Fixture *f, gint64 id)
{
    GError *error = NULL;
    Report *r = report_load_id(f->store, id, &error);
    g_assert_no_error(error);
    return r;
}

static const ReportDeadline *deadline(const Report *r, const char *name)
{
    for (guint i = 0; i < r->deadlines->len; i++) {
        const ReportDeadline *d = g_ptr_array_index(r->deadlines, i);
        if (g_str_equal(d->name, name))
            return d;
    }
    return NULL;
}

static void assert_due(Fixture *f, gint64 id, const char *name, const char *expected)
{
    g_autoptr(Report) r = load(f, id);
    const ReportDeadline *d = deadline(r, name);
    if (!d)
        g_error("report %" G_GINT64_FORMAT " has no deadline %s", id, name);
    g_autofree char *got = clock_format_rfc3339(d->due, f->config->calendar.zone);
    g_assert_cmpstr(got, ==, expected);
}

/* the status of a deadline row: open | met | cancelled */
static char *deadline_status(Fixture *f, gint64 id, const char *name)
{
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open_v2(f->config->gateway.database, &db, SQLITE_OPEN_READONLY, NULL),
                    ==, SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    g_assert_cmpint(sqlite3_prepare_v2(db,
                                       "SELECT status FROM deadline WHERE report_id = ? AND"
                                       " name = ?",
                                       -1, &stmt, NULL),
                    ==, SQLITE_OK);
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
    char *status = NULL;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        status = g_strdup((const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return status;
}

static void assert_status(Fixture *f, gint64 id, const char *name, const char *expected)
{
    g_autofree char *got = deadline_status(f, id, name);
    g_assert_cmpstr(got, ==, expected);
}

static const char *last_event(const Report *r)
{
    g_assert_cmpuint(r->events->len, >, 0);
    const ReportEvent *e = g_ptr_array_index(r->events, r->events->len - 1);
    return e->kind;
}

static void assert_state(Fixture *f, gint64 id, const char *state)
{
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, state);
}

/* a refused action: the error says why, and nothing changed */
#define assert_refused(f, id, call, needle)                                                        \
    do {                                                                                           \
        g_autoptr(Report) before_ = load((f), (id));                                               \
        GError *error_ = NULL;                                                                     \
        gboolean ok_ = (call);                                                                     \
        g_assert_false(ok_);                                                                       \
        g_assert_error(error_, PAHT_ERROR, PAHT_ERROR_REFUSED);                                    \
        if (!strstr(error_->message, (needle)))                                                    \
            g_error("refusal \"%s\" does not say \"%s\"", error_->message, (needle));              \
        g_assert_null(strchr(error_->message, '\n'));                                              \
        g_error_free(error_);                                                                      \
        g_autoptr(Report) after_ = load((f), (id));                                                \
        g_assert_cmpstr(after_->state, ==, before_->state);                                        \
        g_assert_cmpuint(after_->events->len, ==, before_->events->len);                           \
    } while (0)

static void ok(gboolean result, GError *error)
{
    g_assert_no_error(error);
    g_assert_true(result);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_accept_single_agency(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE, NULL);
    GError *error = NULL;
    ok(lifecycle_draft_waiting(f->store, &f->lc, id, 0, &error), error);
    assert_due(f, id, "assign", "2026-11-23T14:00:00+07:00");

    fixture_now_is("2026-11-23T09:00:00+07:00");
    ok(lifecycle_accept(f->store, &f->lc, id, "XD", NULL, "Hạ tầng đô thị", &error), error);
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, "assigned");
    g_assert_cmpstr(r->agency, ==, "xd");
    g_assert_null(r->coordinators[0]);
    const ReportEvent *accepted = g_ptr_array_index(r->events, r->events->len - 2);
    const ReportEvent *assigned = g_ptr_array_index(r->events, r->events->len - 1);
    g_assert_cmpstr(accepted->kind, ==, "accepted");
    g_assert_cmpstr(accepted->actor, ==, "ioc.lan");
    g_assert_cmpstr(accepted->detail, ==, "category: Hạ tầng đô thị");
    g_assert_cmpstr(assigned->kind, ==, "assigned");
    g_assert_cmpstr(assigned->detail, ==, "xd");
    g_assert_cmpint(assigned->at, ==, at("2026-11-23T09:00:00+07:00"));
    /* Điều 8.1: 6 working days; 1 to give it back */
    assert_due(f, id, "result", "2026-12-01T09:00:00+07:00");
    assert_due(f, id, "return", "2026-11-24T09:00:00+07:00");
    assert_status(f, id, "assign", "met");
    assert_status(f, id, "result", "open");
    g_assert_null(deadline(r, "coordinate"));
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(f->store, id, &error);
    g_assert_cmpstr(rec->category, ==, "Hạ tầng đô thị");
    g_assert_cmpint(rec->assigned_at, ==, at("2026-11-23T09:00:00+07:00"));
}

static void test_accept_coordinated(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE, NULL);
    fixture_now_is("2026-11-23T09:00:00+07:00");
    GError *error = NULL;
    const char *const with[] = {"gtvt", "tnmt", NULL};
    ok(lifecycle_accept(f->store, &f->lc, id, "xd", with, NULL, &error), error);
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, "coordinating");
    g_assert_cmpstr(r->coordinators[0], ==, "gtvt");
    g_assert_cmpstr(r->coordinators[1], ==, "tnmt");
    g_assert_cmpstr(last_event(r), ==, "assigned");
    /* Điều 8.2: forward 1 + coordinating agencies 4 = 5; + main agency 2 = 7 working days */
    assert_due(f, id, "coordinate", "2026-11-30T09:00:00+07:00");
    assert_due(f, id, "result", "2026-12-02T09:00:00+07:00");
    /* the main agency's result ends the coordination */
    fixture_now_is("2026-11-27T10:00:00+07:00");
    ok(lifecycle_submit_result(f->store, &f->lc, id, "Đã phối hợp sửa chữa.", &error), error);
    assert_status(f, id, "coordinate", "met");
    assert_due(f, id, "approve", "2026-11-30T10:00:00+07:00");
}

/* Điều 8.2 (issue 14): each coordinating agency's opinion is recorded; when all have given
 * theirs, the coordination deadline is met; the report stays with the main agency */
static void test_opinions_of_coordinating_agencies(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE, NULL);
    fixture_now_is("2026-11-23T09:00:00+07:00");
    GError *error = NULL;
    const char *const with[] = {"gtvt", "tnmt", NULL};
    ok(lifecycle_accept(f->store, &f->lc, id, "xd", with, NULL, &error), error);
    fixture_now_is("2026-11-25T10:00:00+07:00");
    assert_refused(f, id, lifecycle_record_opinion(f->store, &f->lc, id, "xd", "Ý kiến", &error_),
                   "not one of its coordinating agencies");
    Lifecycle by_mail = f->lc;
    by_mail.actor = "vanthu@sgtvt.example.vn";
    ok(lifecycle_record_opinion(f->store, &by_mail, id, "gtvt", "Thuộc đường tỉnh 934.", &error),
       error);
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, "coordinating");
    const ReportEvent *e = g_ptr_array_index(r->events, r->events->len - 1);
    g_assert_cmpstr(e->kind, ==, "opinion");
    g_assert_cmpstr(e->actor, ==, "vanthu@sgtvt.example.vn");
    g_assert_cmpstr(e->detail, ==, "gtvt: Thuộc đường tỉnh 934.");
    assert_status(f, id, "coordinate", "open"); /* tnmt has not answered */
    ok(lifecycle_record_opinion(f->store, &f->lc, id, "tnmt", "Không có ý kiến.", &error), error);
    assert_status(f, id, "coordinate", "met");
    assert_state(f, id, "coordinating");
    /* once the main agency answered, the coordination is over */
    ok(lifecycle_submit_result(f->store, &f->lc, id, "Đã sửa.", &error), error);
    assert_refused(f, id, lifecycle_record_opinion(f->store, &f->lc, id, "gtvt", "Muộn", &error_),
                   "Điều 8.2");
}

/* Điều 8.4 (issue 14): the leader does not approve and sends the result back with a reason */
static void test_leader_sends_a_result_back(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE, NULL);
    fixture_now_is("2026-11-23T09:00:00+07:00");
    GError *error = NULL;
    ok(lifecycle_accept(f->store, &f->lc, id, "xd", NULL, NULL, &error), error);
    assert_refused(f, id, lifecycle_send_back(f->store, &f->lc, id, "Sai", &error_),
                   "only a submitted result");
    fixture_now_is("2026-11-25T10:00:00+07:00");
    ok(lifecycle_extend(f->store, &f->lc, id, at("2026-12-10T17:00:00+07:00"), "Chờ vật tư",
                        &error),
       error);
    ok(lifecycle_submit_result(f->store, &f->lc, id, "Đã thay bóng đèn.", &error), error);
    assert_refused(f, id, lifecycle_send_back(f->store, &f->lc, id, "  \n", &error_),
                   "needs a reason");
    fixture_now_is("2026-11-26T10:00:00+07:00");
    Lifecycle leader = f->lc;
    leader.actor = "giamdoc@sxd.example.vn";
    ok(lifecycle_send_back(f->store, &leader, id, "Chưa nêu ngày thay.", &error), error);
    /* back where the agency works (extended), the approval met, the processing deadline on */
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, "extended");
    const ReportEvent *e = g_ptr_array_index(r->events, r->events->len - 1);
    g_assert_cmpstr(e->kind, ==, "sent_back_to_agency");
    g_assert_cmpstr(e->actor, ==, "giamdoc@sxd.example.vn");
    g_assert_cmpstr(e->detail, ==, "Chưa nêu ngày thay.");
    assert_status(f, id, "approve", "met");
    assert_status(f, id, "result", "open");
    assert_due(f, id, "result", "2026-12-10T17:00:00+07:00");
    ok(lifecycle_submit_result(f->store, &f->lc, id, "Ngày 25/11 đã thay bóng đèn.", &error),
       error);
    ok(lifecycle_approve(f->store, &f->lc, id, &error), error);
    assert_state(f, id, "approved");
}

static void test_accept_refusals(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE, NULL);
    assert_refused(f, id, lifecycle_accept(f->store, &f->lc, id, "sxd", NULL, NULL, &error_),
                   "unknown agency code \"sxd\"");
    const char *const self[] = {"xd", NULL};
    assert_refused(f, id, lifecycle_accept(f->store, &f->lc, id, "xd", self, NULL, &error_),
                   "itself");
    const char *const twice[] = {"gtvt", "GTVT", NULL};
    assert_refused(f, id, lifecycle_accept(f->store, &f->lc, id, "xd", twice, NULL, &error_),
                   "twice");
    const char *const unknown[] = {"gtvt", "nope", NULL};
    assert_refused(f, id, lifecycle_accept(f->store, &f->lc, id, "xd", unknown, NULL, &error_),
                   "\"nope\"");
    GError *error = NULL;
    ok(lifecycle_accept(f->store, &f->lc, id, "xd", NULL, NULL, &error), error);
    /* a transition from the wrong state */
    assert_refused(f, id, lifecycle_accept(f->store, &f->lc, id, "gtvt", NULL, NULL, &error_),
                   "is assigned");
    assert_refused(f, id, lifecycle_approve(f->store, &f->lc, id, &error_), "is assigned");
    assert_refused(f, id, lifecycle_publish(f->store, &f->lc, id, NULL, &error_), "is assigned");
    assert_refused(f, id, lifecycle_reject(f->store, &f->lc, id, "spam", NULL, &error_),
                   "is assigned");

    /* an incomplete draft: the IOC verified it (Điều 7.1); the event says what was missing */
    gint64 incomplete = new_report(f, FALSE, "phone");
    assert_state(f, incomplete, "incomplete");
    ok(lifecycle_accept(f->store, &f->lc, incomplete, "xd", NULL, NULL, &error), error);
    g_autoptr(Report) verified = load(f, incomplete);
    g_assert_cmpstr(verified->state, ==, "assigned");
    const ReportEvent *e = g_ptr_array_index(verified->events, verified->events->len - 2);
    g_assert_cmpstr(e->kind, ==, "accepted");
    g_assert_cmpstr(e->detail, ==, "verified by the IOC; the parser found missing: phone");

    error = NULL;
    g_assert_false(lifecycle_accept(f->store, &f->lc, 999, "xd", NULL, NULL, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND);
    g_clear_error(&error);
}

static void test_reject(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE, NULL);
    GError *error = NULL;
    ok(lifecycle_draft_waiting(f->store, &f->lc, id, 0, &error), error);
    assert_refused(f, id, lifecycle_reject(f->store, &f->lc, id, "boring", NULL, &error_),
                   "unknown reason");
    ok(lifecycle_reject(f->store, &f->lc, id, "complaint", "Đơn khiếu nại quyết định thu hồi đất",
                        &error),
       error);
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, "rejected");
    const ReportEvent *e = g_ptr_array_index(r->events, r->events->len - 1);
    g_assert_cmpstr(e->kind, ==, "rejected");
    g_assert_cmpstr(e->detail, ==, "complaint: Đơn khiếu nại quyết định thu hồi đất");
    assert_status(f, id, "assign", "met");
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(f->store, id, &error);
    g_assert_cmpstr(rec->reject_reason, ==, "complaint");
    /* an incomplete report can be rejected as such */
    gint64 incomplete = new_report(f, FALSE, "phone");
    ok(lifecycle_reject(f->store, &f->lc, incomplete, "incomplete", NULL, &error), error);
    assert_state(f, incomplete, "rejected");
    assert_refused(f, id, lifecycle_reject(f->store, &f->lc, id, "spam", NULL, &error_),
                   "is rejected");
}

static void test_return_and_reassign(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE, NULL);
    fixture_now_is("2026-11-23T09:00:00+07:00");
    GError *error = NULL;
    ok(lifecycle_accept(f->store, &f->lc, id, "xd", NULL, NULL, &error), error);
    assert_refused(f, id, lifecycle_return(f->store, &f->lc, id, "  ", &error_), "--note");
    fixture_now_is("2026-11-23T15:30:00+07:00");
    ok(lifecycle_return(f->store, &f->lc, id, "Thuộc thẩm quyền Sở Giao thông vận tải", &error),
       error);
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, "returned");
    const ReportEvent *e = g_ptr_array_index(r->events, r->events->len - 1);
    g_assert_cmpstr(e->kind, ==, "returned");
    g_assert_cmpstr(e->detail, ==, "xd: Thuộc thẩm quyền Sở Giao thông vận tải");
    assert_status(f, id, "return", "met");
    assert_status(f, id, "result", "cancelled");
    /* back with the IOC: 4 working hours again (1.5 today, 2.5 tomorrow morning) */
    assert_due(f, id, "assign", "2026-11-24T09:30:00+07:00");
    assert_status(f, id, "assign", "open");

    fixture_now_is("2026-11-24T08:00:00+07:00");
    ok(lifecycle_accept(f->store, &f->lc, id, "gtvt", NULL, NULL, &error), error);
    g_autoptr(Report) again = load(f, id);
    g_assert_cmpstr(again->state, ==, "assigned");
    g_assert_cmpstr(again->agency, ==, "gtvt");
    assert_due(f, id, "result", "2026-12-02T08:00:00+07:00");
    assert_status(f, id, "result", "open");

    /* a late return is taken, and says so */
    fixture_now_is("2026-11-26T08:00:00+07:00");
    ok(lifecycle_return(f->store, &f->lc, id, "Không thuộc thẩm quyền", &error), error);
    g_autoptr(Report) late = load(f, id);
    e = g_ptr_array_index(late->events, late->events->len - 1);
    g_assert_nonnull(strstr(e->detail, "after the 1 working day"));
}

static void test_extension_once_and_before_the_deadline(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE, NULL);
    fixture_now_is("2026-11-23T09:00:00+07:00");
    GError *error = NULL;
    ok(lifecycle_accept(f->store, &f->lc, id, "xd", NULL, NULL, &error), error);
    fixture_now_is("2026-11-27T10:00:00+07:00");
    assert_refused(
        f, id, lifecycle_extend(f->store, &f->lc, id, at("2026-12-10T17:00:00+07:00"), "", &error_),
        "--note");
    assert_refused(f, id,
                   lifecycle_extend(f->store, &f->lc, id, at("2026-11-30T17:00:00+07:00"),
                                    "Cần khảo sát", &error_),
                   "later than the current deadline 2026-12-01T09:00:00+07:00");
    ok(lifecycle_extend(f->store, &f->lc, id, at("2026-12-10T17:00:00+07:00"),
                        "Cần khảo sát, đo đạc hiện trường", &error),
       error);
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, "extended");
    g_assert_cmpstr(last_event(r), ==, "extended");
    assert_due(f, id, "result", "2026-12-10T17:00:00+07:00");
    /* Điều 8.3: once only */
    assert_refused(
        f, id,
        lifecycle_extend(f->store, &f->lc, id, at("2026-12-20T17:00:00+07:00"), "Lần nữa", &error_),
        "Điều 8.3");
    /* still once only after a result was sent back to processing */
    ok(lifecycle_submit_result(f->store, &f->lc, id, "", &error), error);
    ok(lifecycle_approve(f->store, &f->lc, id, &error), error);
    gboolean sent_back = FALSE;
    ok(lifecycle_publish(f->store, &f->lc, id, &sent_back, &error), error);
    g_assert_true(sent_back);
    assert_state(f, id, "extended");
    assert_refused(
        f, id,
        lifecycle_extend(f->store, &f->lc, id, at("2026-12-20T17:00:00+07:00"), "Lần nữa", &error_),
        "already extended once");

    /* after the deadline: too late (Điều 8.3) */
    gint64 late = new_report(f, FALSE, NULL);
    fixture_now_is("2026-11-23T09:00:00+07:00");
    ok(lifecycle_accept(f->store, &f->lc, late, "xd", NULL, NULL, &error), error);
    fixture_now_is("2026-12-01T09:00:01+07:00");
    assert_refused(f, late,
                   lifecycle_extend(f->store, &f->lc, late, at("2026-12-10T17:00:00+07:00"),
                                    "Cần khảo sát", &error_),
                   "has passed");
}

static void test_result_approve_publish(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE, NULL);
    fixture_now_is("2026-11-23T09:00:00+07:00");
    GError *error = NULL;
    ok(lifecycle_accept(f->store, &f->lc, id, "xd", NULL, NULL, &error), error);
    fixture_now_is("2026-11-26T14:00:00+07:00");
    ok(lifecycle_submit_result(f->store, &f->lc, id, "Ngày 25/11/2026, đã thay bóng đèn.\n\n",
                               &error),
       error);
    assert_state(f, id, "result_submitted");
    assert_due(f, id, "approve", "2026-11-27T14:00:00+07:00");
    assert_refused(f, id, lifecycle_publish(f->store, &f->lc, id, NULL, &error_),
                   "is result_submitted");

    fixture_now_is("2026-11-27T08:30:00+07:00");
    Lifecycle leader = f->lc;
    leader.actor = "giamdoc.xd";
    ok(lifecycle_approve(f->store, &leader, id, &error), error);
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, "approved");
    const ReportEvent *e = g_ptr_array_index(r->events, r->events->len - 1);
    g_assert_cmpstr(e->kind, ==, "approved");
    g_assert_cmpstr(e->actor, ==, "giamdoc.xd");
    g_assert_null(e->detail);
    assert_status(f, id, "approve", "met");
    assert_status(f, id, "result", "met");
    /* Điều 9.2: the IOC publishes within 4 working hours */
    assert_due(f, id, "publish", "2026-11-27T14:30:00+07:00");
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(f->store, id, &error);
    g_assert_cmpstr(rec->result_text, ==, "Ngày 25/11/2026, đã thay bóng đèn.");
    g_assert_null(rec->letter_number);
    g_assert_cmpstr(rec->approved_by, ==, "giamdoc.xd");

    fixture_now_is("2026-11-27T09:00:00+07:00");
    gboolean sent_back = TRUE;
    ok(lifecycle_publish(f->store, &f->lc, id, &sent_back, &error), error);
    g_assert_false(sent_back);
    g_autoptr(Report) published = load(f, id);
    g_assert_cmpstr(published->state, ==, "published");
    e = g_ptr_array_index(published->events, published->events->len - 1);
    g_assert_cmpstr(e->kind, ==, "published");
    g_assert_cmpstr(e->detail, ==,
                    "letter 1/KQ-XD to the citizen and for publication (Điều 9.3.a)");
    g_autoptr(LifecycleRecord) numbered = lifecycle_record_load(f->store, id, &error);
    g_assert_cmpstr(numbered->letter_number, ==, "1/KQ-XD");
    assert_status(f, id, "publish", "met");
    g_assert_false(published->overdue);

    /* the next approval of the agency this year gets the next number */
    gint64 second = new_report(f, TRUE, NULL);
    ok(lifecycle_accept(f->store, &f->lc, second, "xd", NULL, NULL, &error), error);
    ok(lifecycle_submit_result(f->store, &f->lc, second, "Đã xử lý.", &error), error);
    ok(lifecycle_approve(f->store, &f->lc, second, &error), error);
    ok(lifecycle_publish(f->store, &f->lc, second, NULL, &error), error);
    g_autoptr(LifecycleRecord) rec2 = lifecycle_record_load(f->store, second, &error);
    g_assert_cmpstr(rec2->letter_number, ==, "2/KQ-XD");
    g_autoptr(Report) confidential = load(f, second);
    e = g_ptr_array_index(confidential->events, confidential->events->len - 1);
    g_assert_cmpstr(e->detail, ==,
                    "letter 2/KQ-XD to the citizen only, not for publication (Điều 9.3.b)");
}

static void test_publish_without_answer_text_is_sent_back(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE, NULL);
    fixture_now_is("2026-11-23T09:00:00+07:00");
    GError *error = NULL;
    ok(lifecycle_accept(f->store, &f->lc, id, "xd", NULL, NULL, &error), error);
    ok(lifecycle_submit_result(f->store, &f->lc, id, " \n\t\n", &error), error);
    g_autoptr(Report) r = load(f, id);
    const ReportEvent *e = g_ptr_array_index(r->events, r->events->len - 1);
    g_assert_cmpstr(e->detail, ==, "no answer text");
    ok(lifecycle_approve(f->store, &f->lc, id, &error), error);
    assert_status(f, id, "result", "met");
    gboolean sent_back = FALSE;
    ok(lifecycle_publish(f->store, &f->lc, id, &sent_back, &error), error);
    g_assert_true(sent_back);
    g_autoptr(Report) back = load(f, id);
    g_assert_cmpstr(back->state, ==, "assigned");
    g_assert_cmpstr(last_event(back), ==, "sent_back");
    /* the agency owes its result again, by the same deadline */
    assert_status(f, id, "result", "open");
    assert_due(f, id, "result", "2026-12-01T09:00:00+07:00");
    assert_status(f, id, "publish", "met");
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(f->store, id, &error);
    g_assert_null(rec->letter_number);
    ok(lifecycle_submit_result(f->store, &f->lc, id, "Đã sửa xong.", &error), error);
    ok(lifecycle_approve(f->store, &f->lc, id, &error), error);
    ok(lifecycle_publish(f->store, &f->lc, id, &sent_back, &error), error);
    g_assert_false(sent_back);
    assert_state(f, id, "published");
}

static void test_rating_words(Fixture *f, gconstpointer data)
{
    static const struct {
        const char *text;
        CitizenRating rating;
    } cases[] = {
        {"1", CITIZEN_RATING_VERY_SATISFIED},
        {"  2  \n", CITIZEN_RATING_SATISFIED},
        {"3.", CITIZEN_RATING_DISSATISFIED},
        {"Rất hài lòng", CITIZEN_RATING_VERY_SATISFIED},
        {"rat hai long!", CITIZEN_RATING_VERY_SATISFIED},
        {"Hài lòng", CITIZEN_RATING_SATISFIED},
        {"hai long", CITIZEN_RATING_SATISFIED},
        /* contains "hài lòng", and is the opposite */
        {"Không hài lòng", CITIZEN_RATING_DISSATISFIED},
        {"KHÔNG HÀI LÒNG", CITIZEN_RATING_DISSATISFIED},
        {"khong hai long", CITIZEN_RATING_DISSATISFIED},
        /* decomposed (NFD) input, as some phones send it */
        {"Kho\xcc\x82ng ha\xcc\x80i lo\xcc\x80ng", CITIZEN_RATING_DISSATISFIED},
        {"3 - Không hài lòng", CITIZEN_RATING_DISSATISFIED},
        {"\n\n1 (Rất hài lòng)\n", CITIZEN_RATING_VERY_SATISFIED},
        /* feedback that mentions the words is not a rating */
        {"Tôi không hài lòng vì đèn vẫn chưa sáng", CITIZEN_RATING_NONE},
        {"Hài lòng một phần, nhưng rác vẫn còn", CITIZEN_RATING_NONE},
        {"12", CITIZEN_RATING_NONE},
        {"4", CITIZEN_RATING_NONE},
        {"", CITIZEN_RATING_NONE},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        CitizenRating got = lifecycle_parse_rating(cases[i].text, NULL);
        if (got != cases[i].rating)
            g_error("\"%s\": rating %d, expected %d", cases[i].text, got, cases[i].rating);
    }
    g_autofree char *rest = NULL;
    g_assert_cmpint(lifecycle_parse_rating("3\nĐèn vẫn chưa sáng.\n", &rest), ==,
                    CITIZEN_RATING_DISSATISFIED);
    g_assert_cmpstr(rest, ==, "Đèn vẫn chưa sáng.");
}

static gint64 published_report(Fixture *f)
{
    gint64 id = new_report(f, FALSE, NULL);
    fixture_now_is("2026-11-23T09:00:00+07:00");
    GError *error = NULL;
    ok(lifecycle_accept(f->store, &f->lc, id, "xd", NULL, NULL, &error), error);
    ok(lifecycle_submit_result(f->store, &f->lc, id, "Đã thay bóng đèn.", &error), error);
    ok(lifecycle_approve(f->store, &f->lc, id, &error), error);
    ok(lifecycle_publish(f->store, &f->lc, id, NULL, &error), error);
    return id;
}

static void test_rating_recorded_once(Fixture *f, gconstpointer data)
{
    gint64 draft = new_report(f, FALSE, NULL);
    CitizenReply reply;
    assert_refused(f, draft, lifecycle_citizen_reply(f->store, draft, "1", &f->lc, &reply, &error_),
                   "Điều 10");

    gint64 id = published_report(f);
    fixture_now_is("2026-11-24T10:00:00+07:00");
    GError *error = NULL;
    ok(lifecycle_citizen_reply(f->store, id, "Không hài lòng", &f->lc, &reply, &error), error);
    g_assert_cmpint(reply.rated, ==, CITIZEN_RATING_DISSATISFIED);
    g_assert_false(reply.feedback);
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, "closed");
    const ReportEvent *rated = g_ptr_array_index(r->events, r->events->len - 1);
    g_assert_cmpstr(rated->kind, ==, "rated");
    g_assert_cmpstr(rated->actor, ==, "citizen");
    g_assert_cmpstr(rated->detail, ==, "3 (Không hài lòng)");
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(f->store, id, &error);
    g_assert_cmpint(rec->rating, ==, 3);

    /* a second rating changes nothing */
    ok(lifecycle_citizen_reply(f->store, id, "1", &f->lc, &reply, &error), error);
    g_assert_true(reply.already_rated);
    g_assert_cmpint(reply.rated, ==, CITIZEN_RATING_NONE);
    g_autoptr(LifecycleRecord) rec2 = lifecycle_record_load(f->store, id, &error);
    g_assert_cmpint(rec2->rating, ==, 3);
    g_autoptr(Report) same = load(f, id);
    g_assert_cmpuint(same->events->len, ==, r->events->len);
}

/* ---- two ratings at once ------------------------------------------------------------------- */

typedef struct {
    GMutex lock;
    GCond cond;
    gboolean waiting; /* the second connection waits for the write lock */
    Store *store;
    gint64 id;
    const Lifecycle *lc;
    CitizenReply reply;
    gboolean ok;
} SecondRating;

/* SQLite's busy handler of the second connection: it says when the second rating waits for
 * the first one's transaction, and keeps waiting */
static int second_waits(void *data, int count)
{
    SecondRating *s = data;
    g_mutex_lock(&s->lock);
    s->waiting = TRUE;
    g_cond_signal(&s->cond);
    g_mutex_unlock(&s->lock);
    g_usleep(1000);
    return 1;
}

static gpointer rate_from_second_connection(gpointer data)
{
    SecondRating *s = data;
    GError *error = NULL;
    s->ok = lifecycle_citizen_reply(s->store, s->id, "1", s->lc, &s->reply, &error);
    g_assert_no_error(error);
    return NULL;
}

/* issue 11: the rating is checked inside the write transaction, so that two ratings arriving
 * at once (pahtd and pahtctl, two connections) cannot both find the report unrated */
static void test_two_ratings_at_once_count_once(Fixture *f, gconstpointer data)
{
    gint64 id = published_report(f);
    fixture_now_is("2026-11-24T10:00:00+07:00");
    GError *error = NULL;
    SecondRating second = {.id = id, .lc = &f->lc};
    g_mutex_init(&second.lock);
    g_cond_init(&second.cond);
    second.store = store_open(f->config->gateway.database, &error);
    g_assert_no_error(error);
    sqlite3_busy_handler(store_connection(second.store), second_waits, &second);

    /* the first rating (with feedback: the report stays published), its transaction still
     * open */
    g_assert_true(store_begin(f->store, &error));
    CitizenReply first;
    ok(lifecycle_citizen_reply(f->store, id, "3\nĐèn vẫn chưa sáng.", &f->lc, &first, &error),
       error);
    g_assert_cmpint(first.rated, ==, CITIZEN_RATING_DISSATISFIED);
    GThread *thread = g_thread_new("second-rating", rate_from_second_connection, &second);
    g_mutex_lock(&second.lock);
    while (!second.waiting)
        g_cond_wait(&second.cond, &second.lock);
    g_mutex_unlock(&second.lock);
    g_assert_true(store_commit(f->store, &error));
    g_thread_join(thread);

    g_assert_true(second.ok);
    g_assert_true(second.reply.already_rated);
    g_assert_cmpint(second.reply.rated, ==, CITIZEN_RATING_NONE);
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(f->store, id, &error);
    g_assert_cmpint(rec->rating, ==, 3);
    g_autoptr(Report) r = load(f, id);
    int rated = 0;
    for (guint i = 0; i < r->events->len; i++)
        rated += g_str_equal(((ReportEvent *)g_ptr_array_index(r->events, i))->kind, "rated");
    g_assert_cmpint(rated, ==, 1);
    store_close(second.store);
    g_mutex_clear(&second.lock);
    g_cond_clear(&second.cond);
}

static void test_feedback_opens_clarification(Fixture *f, gconstpointer data)
{
    gint64 id = published_report(f);
    fixture_now_is("2026-11-24T10:00:00+07:00");
    GError *error = NULL;
    CitizenReply reply;
    ok(lifecycle_citizen_reply(f->store, id,
                               "Đèn đã thay nhưng đến tối vẫn không sáng, đề nghị kiểm tra lại.",
                               &f->lc, &reply, &error),
       error);
    g_assert_true(reply.feedback);
    g_assert_cmpint(reply.rated, ==, CITIZEN_RATING_NONE);
    g_autoptr(Report) r = load(f, id);
    g_assert_cmpstr(r->state, ==, "published");
    g_assert_cmpstr(last_event(r), ==, "feedback");
    /* Điều 10.2: 2 working days */
    assert_due(f, id, "clarify", "2026-11-26T10:00:00+07:00");
    g_autoptr(LifecycleRecord) rec = lifecycle_record_load(f->store, id, &error);
    g_assert_nonnull(strstr(rec->feedback_text, "vẫn không sáng"));

    /* rating plus feedback: both */
    ok(lifecycle_citizen_reply(f->store, id, "3\nVẫn chưa sáng.", &f->lc, &reply, &error), error);
    g_assert_cmpint(reply.rated, ==, CITIZEN_RATING_DISSATISFIED);
    g_assert_true(reply.feedback);
    assert_state(f, id, "published");

    /* the agency clarifies: a new result, approved, published again; rated, so closed */
    fixture_now_is("2026-11-25T09:00:00+07:00");
    ok(lifecycle_submit_result(f->store, &f->lc, id, "Đã kiểm tra lại và thay dây dẫn.", &error),
       error);
    ok(lifecycle_approve(f->store, &f->lc, id, &error), error);
    assert_status(f, id, "clarify", "met");
    ok(lifecycle_publish(f->store, &f->lc, id, NULL, &error), error);
    assert_state(f, id, "closed");
    g_autoptr(LifecycleRecord) done = lifecycle_record_load(f->store, id, &error);
    g_assert_cmpint(done->publications, ==, 2);
}

static void test_scheduler_stages(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE, NULL);
    fixture_now_is("2026-11-23T09:00:00+07:00");
    GError *error = NULL;
    ok(lifecycle_accept(f->store, &f->lc, id, "xd", NULL, NULL, &error), error);

    /* nothing is due yet: the "return" window has no reminders */
    g_autoptr(GPtrArray) none =
        deadline_list_due(f->store, at("2026-11-27T17:00:00+07:00"), 100, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(none->len, ==, 0);

    /* stage 0: one working day before the deadline (Monday 30/11 09:00) */
    g_autoptr(GPtrArray) before =
        deadline_list_due(f->store, at("2026-11-30T09:00:00+07:00"), 100, &error);
    g_assert_cmpuint(before->len, ==, 1);
    DeadlineAction *a = g_ptr_array_index(before, 0);
    g_assert_cmpstr(a->name, ==, "result");
    g_assert_cmpstr(a->owner, ==, "agency");
    g_assert_cmpint(a->stage, ==, 0);
    g_assert_cmpint(a->next_action_at, ==, at("2026-11-30T09:00:00+07:00"));
    ok(deadline_advance(f->store, f->calendar, a, at("2026-11-30T09:00:00+07:00"), &error), error);

    /* stage 1: at the deadline */
    g_autoptr(GPtrArray) due =
        deadline_list_due(f->store, at("2026-12-01T09:00:00+07:00"), 100, &error);
    g_assert_cmpuint(due->len, ==, 1);
    a = g_ptr_array_index(due, 0);
    g_assert_cmpint(a->stage, ==, 1);
    g_assert_cmpint(a->next_action_at, ==, at("2026-12-01T09:00:00+07:00"));
    g_assert_true(lifecycle_deadline_marks_overdue(a->name));
    gboolean marked = FALSE;
    ok(lifecycle_mark_overdue(f->store, &f->lc, id, a->name, a->due, &marked, &error), error);
    g_assert_true(marked);
    g_autoptr(Report) r = load(f, id);
    g_assert_true(r->overdue);
    const ReportEvent *e = g_ptr_array_index(r->events, r->events->len - 1);
    g_assert_cmpstr(e->kind, ==, "overdue");
    g_assert_cmpstr(e->detail, ==, "result: due 2026-12-01T09:00:00+07:00 passed (Điều 8.5)");
    ok(lifecycle_mark_overdue(f->store, &f->lc, id, a->name, a->due, &marked, &error), error);
    g_assert_false(marked);
    ok(deadline_advance(f->store, f->calendar, a, at("2026-12-01T09:00:05+07:00"), &error), error);

    /* stages 2..: once each working day; days the daemon missed are skipped */
    g_autoptr(GPtrArray) daily =
        deadline_list_due(f->store, at("2026-12-02T09:00:00+07:00"), 100, &error);
    g_assert_cmpuint(daily->len, ==, 1);
    a = g_ptr_array_index(daily, 0);
    g_assert_cmpint(a->stage, ==, 2);
    g_assert_cmpint(a->next_action_at, ==, at("2026-12-02T09:00:00+07:00"));
    ok(deadline_advance(f->store, f->calendar, a, at("2026-12-07T10:00:00+07:00"), &error), error);
    g_autoptr(GPtrArray) later =
        deadline_list_due(f->store, at("2026-12-31T00:00:00+07:00"), 100, &error);
    a = g_ptr_array_index(later, 0);
    /* Friday 4/12 and Monday 7/12 09:00 were missed: next is Tuesday 8/12 09:00 */
    g_assert_cmpint(a->next_action_at, ==, at("2026-12-08T09:00:00+07:00"));
    g_assert_cmpint(a->stage, ==, 6);

    /* done: the approval ends it */
    ok(lifecycle_submit_result(f->store, &f->lc, id, "Xong.", &error), error);
    ok(lifecycle_approve(f->store, &f->lc, id, &error), error);
    g_autoptr(GPtrArray) after =
        deadline_list_due(f->store, at("2026-12-31T00:00:00+07:00"), 100, &error);
    for (guint i = 0; i < after->len; i++) {
        DeadlineAction *left = g_ptr_array_index(after, i);
        g_assert_cmpstr(left->name, !=, "result");
    }
}

static void test_short_deadline_has_no_early_reminder(Fixture *f, gconstpointer data)
{
    gint64 id = new_report(f, FALSE, NULL);
    GError *error = NULL;
    ok(lifecycle_draft_waiting(f->store, &f->lc, id, 0, &error), error);
    /* 4 working hours: shorter than the 1 working day of a reminder before */
    g_autoptr(GPtrArray) list =
        deadline_list_due(f->store, at("2026-11-23T14:00:00+07:00"), 100, &error);
    g_assert_cmpuint(list->len, ==, 1);
    DeadlineAction *a = g_ptr_array_index(list, 0);
    g_assert_cmpstr(a->name, ==, "assign");
    g_assert_cmpstr(a->owner, ==, "ioc");
    g_assert_cmpint(a->stage, ==, 1);
    g_assert_false(lifecycle_deadline_marks_overdue("assign"));
    g_assert_true(lifecycle_deadline_applies("assign", "draft"));
    g_assert_false(lifecycle_deadline_applies("assign", "incomplete"));
    g_assert_true(lifecycle_deadline_applies("clarify", "published"));
    g_assert_false(lifecycle_deadline_applies("nonsense", "draft"));
}

static void test_catch_up_gives_new_drafts_their_deadline(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    int seen = -1;
    ok(lifecycle_catch_up(f->store, &f->lc, 100, &seen, &error), error);
    g_assert_cmpint(seen, ==, 0);
    fixture_now_is("2026-11-23T16:00:00+07:00");
    gint64 draft = new_report(f, FALSE, NULL);
    gint64 incomplete = new_report(f, FALSE, "phone");
    ok(lifecycle_catch_up(f->store, &f->lc, 100, &seen, &error), error);
    g_assert_cmpint(seen, ==, 2);
    assert_due(f, draft, "assign", "2026-11-24T10:00:00+07:00");
    g_autofree char *none = deadline_status(f, incomplete, "assign");
    g_assert_null(none);
    /* the mark moved: nothing is read twice */
    ok(lifecycle_catch_up(f->store, &f->lc, 100, &seen, &error), error);
    g_assert_cmpint(seen, ==, 0);
    /* a limit is a limit: the rest comes next time */
    for (int i = 0; i < 3; i++)
        new_report(f, FALSE, NULL);
    ok(lifecycle_catch_up(f->store, &f->lc, 2, &seen, &error), error);
    g_assert_cmpint(seen, ==, 2);
    ok(lifecycle_catch_up(f->store, &f->lc, 2, &seen, &error), error);
    g_assert_cmpint(seen, ==, 1);
}

static void test_due_query_uses_the_index(Fixture *f, gconstpointer data)
{
    /* the scheduler's cost must not grow with the number of reports (the benchmark compares
     * 1,000 and 100,000 open reports): its query goes through deadline_next_action */
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open_v2(f->config->gateway.database, &db, SQLITE_OPEN_READONLY, NULL),
                    ==, SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    g_assert_cmpint(
        sqlite3_prepare_v2(db,
                           "EXPLAIN QUERY PLAN SELECT report_id, name, owner, due, set_at,"
                           " next_action_at, stage FROM deadline WHERE status = 'open' AND"
                           " next_action_at IS NOT NULL AND next_action_at <= ?1"
                           " ORDER BY next_action_at LIMIT ?2",
                           -1, &stmt, NULL),
        ==, SQLITE_OK);
    GString *plan = g_string_new(NULL);
    while (sqlite3_step(stmt) == SQLITE_ROW)
        g_string_append_printf(plan, "%s\n", sqlite3_column_text(stmt, 3));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    if (!strstr(plan->str, "USING INDEX deadline_next_action") || strstr(plan->str, "TEMP B-TREE"))
        g_error("the due query does not use its index: %s", plan->str);
    g_string_free(plan, TRUE);
}

static void test_statistics_periods(Fixture *f, gconstpointer data)
{
    /* Decree 09/2019/NĐ-CP Art. 12: from the 15th of the month before to the 14th */
    static const struct {
        const char *period, *from, *to;
    } cases[] = {
        {"month:2026-11", "2026-10-15T00:00:00+07:00", "2026-11-15T00:00:00+07:00"},
        {"month:2026-01", "2025-12-15T00:00:00+07:00", "2026-01-15T00:00:00+07:00"},
        {"quarter:2026-Q1", "2025-12-15T00:00:00+07:00", "2026-03-15T00:00:00+07:00"},
        {"quarter:2026-Q4", "2026-09-15T00:00:00+07:00", "2026-12-15T00:00:00+07:00"},
        {"half:2026-H1", "2025-12-15T00:00:00+07:00", "2026-06-15T00:00:00+07:00"},
        {"half:2026-H2", "2026-06-15T00:00:00+07:00", "2026-12-15T00:00:00+07:00"},
        {"year:2026", "2025-12-15T00:00:00+07:00", "2026-12-15T00:00:00+07:00"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        gint64 from = 0, to = 0;
        g_autofree char *why = NULL;
        g_assert_true(
            stats_period_parse(cases[i].period, f->config->calendar.zone, &from, &to, &why));
        g_autofree char *a = clock_format_rfc3339(from, f->config->calendar.zone);
        g_autofree char *b = clock_format_rfc3339(to, f->config->calendar.zone);
        g_assert_cmpstr(a, ==, cases[i].from);
        g_assert_cmpstr(b, ==, cases[i].to);
    }
    static const char *const bad[] = {"month:2026-13",
                                      "quarter:2026-Q5",
                                      "half:2026-H3",
                                      "year:26",
                                      "week:2026-01",
                                      "month:2026-11x",
                                      "",
                                      "year:2026 "};
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        gint64 from = 0, to = 0;
        g_autofree char *why = NULL;
        if (stats_period_parse(bad[i], f->config->calendar.zone, &from, &to, &why))
            g_error("\"%s\" accepted as a period", bad[i]);
        g_assert_nonnull(why);
    }
}

static void test_statistics_counts(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    /* received 14/11: last day of the November report */
    fixture_now_is("2026-11-14T10:00:00+07:00");
    gint64 late = new_report(f, FALSE, NULL);
    fixture_now_is("2026-11-16T09:00:00+07:00"); /* December's report from here on */
    ok(lifecycle_accept(f->store, &f->lc, late, "xd", NULL, NULL, &error), error);
    fixture_now_is("2026-11-25T09:00:00+07:00");
    gboolean marked;
    ok(lifecycle_mark_overdue(f->store, &f->lc, late, "result", clock_now_unix(), &marked, &error),
       error);
    ok(lifecycle_submit_result(f->store, &f->lc, late, "Xong.", &error), error);
    ok(lifecycle_approve(f->store, &f->lc, late, &error), error);
    ok(lifecycle_publish(f->store, &f->lc, late, NULL, &error), error);
    CitizenReply reply;
    ok(lifecycle_citizen_reply(f->store, late, "3", &f->lc, &reply, &error), error);

    fixture_now_is("2026-11-15T08:00:00+07:00");
    gint64 quick = new_report(f, FALSE, NULL);
    ok(lifecycle_accept(f->store, &f->lc, quick, "gtvt", NULL, NULL, &error), error);
    ok(lifecycle_submit_result(f->store, &f->lc, quick, "Xong.", &error), error);
    ok(lifecycle_approve(f->store, &f->lc, quick, &error), error);
    ok(lifecycle_publish(f->store, &f->lc, quick, NULL, &error), error);
    ok(lifecycle_citizen_reply(f->store, quick, "Rất hài lòng", &f->lc, &reply, &error), error);
    gint64 open = new_report(f, FALSE, NULL);
    ok(lifecycle_accept(f->store, &f->lc, open, "xd", NULL, NULL, &error), error);
    gint64 spam = new_report(f, FALSE, NULL);
    ok(lifecycle_reject(f->store, &f->lc, spam, "spam", NULL, &error), error);

    gint64 from = 0, to = 0;
    g_autofree char *why = NULL;
    g_assert_true(stats_period_parse("month:2026-11", f->config->calendar.zone, &from, &to, &why));
    g_autoptr(GPtrArray) november = lifecycle_stats(f->store, from, to, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(november->len, ==, 2);
    StatsLine *all = g_ptr_array_index(november, 0);
    g_assert_null(all->agency);
    g_assert_cmpint(all->received, ==, 1);
    g_assert_cmpint(all->answered, ==, 1);
    g_assert_cmpint(all->on_time, ==, 0);
    g_assert_cmpint(all->overdue, ==, 1);
    g_assert_cmpint(all->ratings[3], ==, 1);

    g_assert_true(stats_period_parse("month:2026-12", f->config->calendar.zone, &from, &to, &why));
    g_autoptr(GPtrArray) december = lifecycle_stats(f->store, from, to, &error);
    g_assert_cmpuint(december->len, ==, 3);
    all = g_ptr_array_index(december, 0);
    g_assert_cmpint(all->received, ==, 3);
    g_assert_cmpint(all->rejected, ==, 1);
    g_assert_cmpint(all->open, ==, 1);
    g_assert_cmpint(all->answered, ==, 1);
    g_assert_cmpint(all->on_time, ==, 1);
    g_assert_cmpint(all->ratings[1], ==, 1);
    StatsLine *gtvt = g_ptr_array_index(december, 1);
    StatsLine *xd = g_ptr_array_index(december, 2);
    g_assert_cmpstr(gtvt->agency, ==, "gtvt");
    g_assert_cmpint(gtvt->received, ==, 1);
    g_assert_cmpint(gtvt->on_time, ==, 1);
    g_assert_cmpstr(xd->agency, ==, "xd");
    g_assert_cmpint(xd->received, ==, 1);
    g_assert_cmpint(xd->open, ==, 1);
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C.UTF-8"); /* failures quote Vietnamese */
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn)                                                                              \
    g_test_add("/lifecycle/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("accept-single", test_accept_single_agency);
    ADD("accept-coordinated", test_accept_coordinated);
    ADD("accept-refusals", test_accept_refusals);
    ADD("opinions-of-coordinating-agencies", test_opinions_of_coordinating_agencies);
    ADD("leader-sends-a-result-back", test_leader_sends_a_result_back);
    ADD("reject", test_reject);
    ADD("return-and-reassign", test_return_and_reassign);
    ADD("extension-once-before-deadline", test_extension_once_and_before_the_deadline);
    ADD("result-approve-publish", test_result_approve_publish);
    ADD("publish-without-text-sent-back", test_publish_without_answer_text_is_sent_back);
    ADD("rating-words", test_rating_words);
    ADD("rating-once", test_rating_recorded_once);
    ADD("two-ratings-at-once-count-once", test_two_ratings_at_once_count_once);
    ADD("feedback-clarification", test_feedback_opens_clarification);
    ADD("scheduler-stages", test_scheduler_stages);
    ADD("short-deadline-no-early-reminder", test_short_deadline_has_no_early_reminder);
    ADD("catch-up", test_catch_up_gives_new_drafts_their_deadline);
    ADD("due-query-uses-index", test_due_query_uses_the_index);
    ADD("statistics-periods", test_statistics_periods);
    ADD("statistics-counts", test_statistics_counts);
    return g_test_run();
}
