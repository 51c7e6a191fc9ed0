/* The outbound store on real SQLite files (issue 6): letter bodies apart from their state,
 * leases that name their holder and are taken back from a dead one, outcomes with their
 * status and envelope, bounces, resends, the digest's bookkeeping, address suspensions and
 * the outbound status. */
#include "config_fixture.h"
#include "queue/queue.h"
#include "queue/store_sql.h"
#include "util/util.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

typedef struct {
    char *dir;
    char *path;
    Store *store;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("paht-outbox-XXXXXX", NULL);
    f->path = g_build_filename(f->dir, "paht.db", NULL);
    GError *error = NULL;
    f->store = store_open(f->path, &error);
    g_assert_no_error(error);
    g_setenv("PAHT_NOW", "2026-11-30T09:00:00+07:00", TRUE);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    store_close(f->store);
    fs_remove_tree(f->dir);
    g_free(f->dir);
    g_free(f->path);
    g_unsetenv("PAHT_NOW");
}

static gint64 enqueue_to(Fixture *f, const char *key, const char *rcpt)
{
    static const char text[] = "Subject: x\r\n\r\nhello\r\n";
    g_autoptr(GBytes) body = g_bytes_new_static(text, sizeof text - 1);
    g_autofree char *message_id = g_strdup_printf("paht.%s@soctrang.gov.vn", key);
    OutboxNew item = {.dedupe_key = key,
                      .kind = "ack",
                      .rcpt = rcpt,
                      .mail_from = "paht@soctrang.gov.vn",
                      .message_id = message_id,
                      .message = body};
    gint64 id = 0;
    GError *error = NULL;
    g_assert_true(outbox_enqueue(f->store, &item, &id, NULL, &error));
    g_assert_no_error(error);
    return id;
}

static OutboxEntry *get(Fixture *f, gint64 id)
{
    GError *error = NULL;
    OutboxEntry *e = outbox_get(f->store, id, &error);
    g_assert_no_error(error);
    return e;
}

/* the body lives in its own table: state changes never rewrite it, and it is read back */
static void test_body_apart_from_state(Fixture *f, gconstpointer data)
{
    gint64 id = enqueue_to(f, "k1", "an@example.vn");
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    /* no message column left in outbox */
    g_assert_cmpint(sqlite3_prepare_v2(db, "SELECT message FROM outbox", -1, &stmt, NULL), !=,
                    SQLITE_OK);
    g_assert_cmpint(sqlite3_prepare_v2(db, "SELECT length(message) FROM outbox_body WHERE id = ?",
                                       -1, &stmt, NULL),
                    ==, SQLITE_OK);
    sqlite3_bind_int64(stmt, 1, id);
    g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
    g_assert_cmpint(sqlite3_column_int(stmt, 0), ==, 21);
    sqlite3_finalize(stmt);
    sqlite3_close(db);

    GError *error = NULL;
    g_autoptr(OutboxClaim) c = fixture_claim_next(f->store, clock_now_unix(), NULL);
    g_assert_nonnull(c);
    g_assert_cmpuint(g_bytes_get_size(c->message), ==, 21);
    g_assert_cmpint(c->retry_since, ==, c->created_at);
    g_autoptr(GBytes) again = outbox_message(f->store, id, &error);
    g_assert_true(g_bytes_equal(again, c->message));
}

static gboolean owner_dead(const char *owner, gpointer dead_owner)
{
    return g_str_equal(owner, dead_owner);
}

/* a lease whose holder is dead is due again at once; a living holder's lease is kept */
static void test_dead_holder_lease_taken_back(Fixture *f, gconstpointer data)
{
    gint64 now = clock_now_unix();
    gint64 a = enqueue_to(f, "k1", "an@example.vn");
    gint64 b = enqueue_to(f, "k2", "binh@example.vn");
    GError *error = NULL;
    g_autoptr(OutboxClaim) ca = fixture_claim_next(f->store, now, "h:1:dead");
    g_autoptr(OutboxClaim) cb = fixture_claim_next(f->store, now, "h:2:alive");
    g_assert_cmpint(ca->id, ==, a);
    g_assert_cmpint(cb->id, ==, b);
    g_assert_null(fixture_claim_next(f->store, now + 1, "h:3:new"));
    g_assert_no_error(error);

    int released = -1;
    g_assert_true(
        outbox_reclaim_leases(f->store, now + 1, owner_dead, "h:1:dead", &released, &error));
    g_assert_cmpint(released, ==, 1);
    g_autoptr(OutboxClaim) again = fixture_claim_next(f->store, now + 1, "h:3:new");
    g_assert_nonnull(again);
    g_assert_cmpint(again->id, ==, a);
    g_assert_cmpint(again->attempts, ==, 2);
    /* the dead holder cannot complete it any more; the new one can */
    g_assert_false(outbox_complete(f->store, ca, OUTBOX_SENT, "250 ok", 0, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED);
    g_clear_error(&error);
    g_assert_true(outbox_complete(f->store, again, OUTBOX_SENT, "250 ok", 0, &error));
    /* the living holder's letter stays taken */
    g_assert_null(fixture_claim_next(f->store, now + 2, "h:3:new"));
    g_assert_no_error(error);
}

static OutboxClaim *reserve(Fixture *f, gint64 now, const char *owner)
{
    OutboxClaim *claim = NULL;
    GError *error = NULL;
    g_assert_true(outbox_reserve_next_for(f->store, now, 300, owner, &claim, &error));
    g_assert_no_error(error);
    return claim;
}

static void assert_state(Fixture *f, gint64 id, const char *state, int attempts)
{
    g_autoptr(OutboxEntry) e = get(f, id);
    g_assert_cmpstr(e->state, ==, state);
    g_assert_cmpint(e->attempts, ==, attempts);
}

/* issue 18: the letter after the one in flight is reserved while that one is sent. It stays
 * queued (the letter in flight is the only one sending), and neither a claim nor another
 * reservation takes it while its lease lasts; begun, it is its sender's as a claim is; given
 * back, it is anyone's again, its attempt not counted. */
static void test_reserved_letter_waits_for_its_sender(Fixture *f, gconstpointer data)
{
    gint64 now = clock_now_unix();
    gint64 a = enqueue_to(f, "k1", "an@example.vn");
    gint64 b = enqueue_to(f, "k2", "binh@example.vn");
    gint64 c = enqueue_to(f, "k3", "chi@example.vn");
    GError *error = NULL;
    g_autoptr(OutboxClaim) ra = reserve(f, now, "h:1:alive");
    g_assert_cmpint(ra->id, ==, a);
    g_assert_cmpint(ra->attempts, ==, 1); /* as it will be once begun */
    g_assert_cmpuint(g_bytes_get_size(ra->message), ==, 21);
    assert_state(f, a, "queued", 0);

    g_autoptr(OutboxClaim) cb = fixture_claim_next(f->store, now, "h:2:other");
    g_assert_cmpint(cb->id, ==, b);
    g_autoptr(OutboxClaim) rc = reserve(f, now, "h:2:other");
    g_assert_cmpint(rc->id, ==, c);
    g_assert_null(fixture_claim_next(f->store, now, "h:3:new"));
    g_assert_null(reserve(f, now, "h:3:new"));

    gboolean begun = FALSE;
    g_assert_true(outbox_begin_reserved(f->store, ra, now, &begun, &error));
    g_assert_true(begun);
    assert_state(f, a, "sending", 1);
    g_assert_true(outbox_begin_reserved(f->store, ra, now, &begun, &error));
    g_assert_false(begun); /* once */
    g_assert_true(outbox_complete(f->store, ra, OUTBOX_SENT, "250 ok", 0, &error));
    assert_state(f, a, "sent", 1);

    g_assert_true(outbox_release(f->store, rc, &error));
    assert_state(f, c, "queued", 0);
    g_autoptr(OutboxClaim) again = fixture_claim_next(f->store, now, "h:3:new");
    g_assert_cmpint(again->id, ==, c);
    g_assert_cmpint(again->attempts, ==, 1);
    /* a reservation given back is not begun any more */
    g_assert_true(outbox_begin_reserved(f->store, rc, now, &begun, &error));
    g_assert_false(begun);
    assert_state(f, c, "sending", 1);
    g_assert_no_error(error);
}

/* a dead sender's reservation is anyone's at once (its restart sends it in its turn); a living
 * sender's waits for the end of its lease */
static void test_dead_holder_reservation_taken_back(Fixture *f, gconstpointer data)
{
    gint64 now = clock_now_unix();
    gint64 a = enqueue_to(f, "k1", "an@example.vn");
    gint64 b = enqueue_to(f, "k2", "binh@example.vn");
    GError *error = NULL;
    g_autoptr(OutboxClaim) ra = reserve(f, now, "h:1:dead");
    g_autoptr(OutboxClaim) rb = reserve(f, now, "h:2:alive");
    g_assert_cmpint(ra->id, ==, a);
    g_assert_cmpint(rb->id, ==, b);
    g_assert_null(fixture_claim_next(f->store, now + 1, "h:3:new"));

    int released = -1;
    g_assert_true(
        outbox_reclaim_leases(f->store, now + 1, owner_dead, "h:1:dead", &released, &error));
    g_assert_cmpint(released, ==, 1);
    g_autoptr(OutboxClaim) ca = fixture_claim_next(f->store, now + 1, "h:3:new");
    g_assert_nonnull(ca);
    g_assert_cmpint(ca->id, ==, a);
    g_assert_cmpint(ca->attempts, ==, 1);
    gboolean begun = TRUE;
    g_assert_true(outbox_begin_reserved(f->store, ra, now + 1, &begun, &error));
    g_assert_false(begun); /* the dead holder's claim on it is gone */
    g_assert_null(fixture_claim_next(f->store, now + 2, "h:3:new"));
    g_autoptr(OutboxClaim) cb = fixture_claim_next(f->store, now + 301, "h:3:new");
    g_assert_nonnull(cb);
    g_assert_cmpint(cb->id, ==, b);
    g_assert_no_error(error);
}

/* outcomes keep the status and the envelope; a hold gives the attempt back */
static void test_finish_records_status_and_envelope(Fixture *f, gconstpointer data)
{
    gint64 now = clock_now_unix();
    gint64 id = enqueue_to(f, "k1", "an@example.vn");
    GError *error = NULL;
    g_autoptr(OutboxClaim) c1 = fixture_claim_next(f->store, now, NULL);
    OutboxResult hold = {.outcome = OUTBOX_HOLD,
                         .reply = "535 5.7.8 auth failed",
                         .status = "5.7.8",
                         .envelope_from = "paht+b-1-0123456789abcdef@soctrang.gov.vn",
                         .retry_at = now + 300};
    g_assert_true(outbox_finish(f->store, c1, &hold, &error));
    g_autoptr(OutboxEntry) e1 = get(f, id);
    g_assert_cmpstr(e1->state, ==, "queued");
    g_assert_cmpint(e1->attempts, ==, 0);
    g_assert_cmpstr(e1->failure_status, ==, "5.7.8");
    g_assert_cmpstr(e1->envelope_from, ==, "paht+b-1-0123456789abcdef@soctrang.gov.vn");

    g_autoptr(OutboxClaim) c2 = fixture_claim_next(f->store, now + 300, NULL);
    OutboxResult failed = {.outcome = OUTBOX_FAILED, .reply = "550 5.1.1 no", .status = "5.1.1"};
    g_assert_true(outbox_finish(f->store, c2, &failed, &error));
    g_autoptr(OutboxEntry) e2 = get(f, id);
    g_assert_cmpstr(e2->state, ==, "failed");
    g_assert_cmpstr(e2->failure_status, ==, "5.1.1");
    g_assert_cmpstr(e2->last_reply, ==, "550 5.1.1 no");
    /* an outcome without an envelope keeps the one recorded */
    g_assert_cmpstr(e2->envelope_from, ==, "paht+b-1-0123456789abcdef@soctrang.gov.vn");
    g_assert_cmpint(e2->reported_at, ==, 0);
}

/* a bounce fails only a sent letter; a resend requeues only a failed one, with a new window */
static void test_bounce_and_resend_rules(Fixture *f, gconstpointer data)
{
    gint64 now = clock_now_unix();
    gint64 id = enqueue_to(f, "k1", "an@example.vn");
    GError *error = NULL;
    gboolean changed = TRUE;
    g_assert_true(outbox_mark_bounced(f->store, id, "5.1.1", "DSN", &changed, &error));
    g_assert_false(changed); /* queued: an old bounce must not fail a new attempt */
    g_assert_false(outbox_resend(f->store, id, now, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED);
    g_clear_error(&error);

    g_autoptr(OutboxClaim) c = fixture_claim_next(f->store, now, NULL);
    g_assert_true(outbox_complete(f->store, c, OUTBOX_SENT, "250 ok", 0, &error));
    g_assert_true(outbox_mark_bounced(f->store, id, "5.1.1", "bounced (DSN 5.1.1): unknown",
                                      &changed, &error));
    g_assert_true(changed);
    g_autoptr(OutboxEntry) e = get(f, id);
    g_assert_cmpstr(e->state, ==, "failed");
    g_assert_cmpstr(e->failure_status, ==, "5.1.1");
    g_assert_true(outbox_mark_bounced(f->store, id, "5.1.1", "again", &changed, &error));
    g_assert_false(changed);

    gint64 later = now + 5 * 24 * 3600;
    g_assert_true(outbox_resend(f->store, id, later, &error));
    g_autoptr(OutboxClaim) r = fixture_claim_next(f->store, later, NULL);
    g_assert_nonnull(r);
    g_assert_cmpint(r->id, ==, id);
    g_assert_cmpint(r->attempts, ==, 1);
    g_assert_cmpint(r->retry_since, ==, later); /* three more days from the resend */
    g_assert_cmpint(r->created_at, ==, now);

    g_assert_false(outbox_resend(f->store, 9999, now, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND);
    g_clear_error(&error);
}

static void fail_letter(Fixture *f, gint64 id)
{
    GError *error = NULL;
    g_autoptr(OutboxClaim) c = fixture_claim_next(f->store, clock_now_unix(), NULL);
    g_assert_nonnull(c);
    g_assert_cmpint(c->id, ==, id);
    g_assert_true(outbox_complete(f->store, c, OUTBOX_FAILED, "550 no", 0, &error));
    g_assert_no_error(error);
}

/* failures wait for a digest; letters to the IOC are never listed; marking takes all */
static void test_unreported_failures(Fixture *f, gconstpointer data)
{
    gint64 a = enqueue_to(f, "k1", "an@example.vn");
    gint64 b = enqueue_to(f, "k2", "IOC@soctrang.gov.vn");
    gint64 c = enqueue_to(f, "k3", "binh@example.vn");
    fail_letter(f, a);
    fail_letter(f, b);
    fail_letter(f, c);
    GError *error = NULL;
    int total = 0;
    g_autoptr(GPtrArray) one =
        outbox_list_unreported(f->store, "ioc@soctrang.gov.vn", 1, &total, &error);
    g_assert_cmpint(total, ==, 2);
    g_assert_cmpuint(one->len, ==, 1);
    g_assert_cmpint(((OutboxEntry *)g_ptr_array_index(one, 0))->id, ==, a);
    gint64 now = clock_now_unix();
    g_assert_true(outbox_mark_reported(f->store, "ioc@soctrang.gov.vn", now, &error));
    g_autoptr(GPtrArray) none =
        outbox_list_unreported(f->store, "ioc@soctrang.gov.vn", 10, &total, &error);
    g_assert_cmpint(total, ==, 0);
    g_autoptr(OutboxEntry) ea = get(f, a);
    g_autoptr(OutboxEntry) eb = get(f, b);
    g_assert_cmpint(ea->reported_at, ==, now);
    g_assert_cmpint(eb->reported_at, ==, 0);
    g_assert_cmpint(outbox_newest_of_kind(f->store, "ack", &error), ==, now);
    g_assert_cmpint(outbox_newest_of_kind(f->store, "digest", &error), ==, 0);
    g_assert_no_error(error);
}

static void test_address_suspension(Fixture *f, gconstpointer data)
{
    gint64 now = clock_now_unix();
    GError *error = NULL;
    g_assert_null(fixture_suspension(f->store, "an@example.vn", now));
    g_assert_no_error(error);
    g_assert_true(
        address_suspend(f->store, "An@Example.VN", now + 100, "5.1.1", "unknown", 0, &error));
    g_autoptr(AddressSuspension) s = fixture_suspension(f->store, "an@example.vn", now);
    g_assert_nonnull(s);
    g_assert_cmpstr(s->address, ==, "an@example.vn");
    g_assert_cmpint(s->until, ==, now + 100);
    g_assert_cmpstr(s->status, ==, "5.1.1");
    /* a shorter suspension never shortens one in force */
    g_assert_true(address_suspend(f->store, "an@example.vn", now + 50, "5.1.2", "x", 0, &error));
    g_autoptr(AddressSuspension) s2 = fixture_suspension(f->store, "AN@example.vn", now);
    g_assert_cmpint(s2->until, ==, now + 100);
    /* it ends by itself */
    g_assert_null(fixture_suspension(f->store, "an@example.vn", now + 100));
    gboolean lifted = TRUE;
    g_assert_true(address_suspension_lift(f->store, "an@example.vn", now + 100, &lifted, &error));
    g_assert_false(lifted);
    g_assert_true(address_suspension_lift(f->store, "AN@EXAMPLE.VN", now, &lifted, &error));
    g_assert_true(lifted);
    g_assert_null(fixture_suspension(f->store, "an@example.vn", now));
    g_assert_no_error(error);
}

static void test_bounce_record_and_status(Fixture *f, gconstpointer data)
{
    gint64 id = enqueue_to(f, "k1", "an@example.vn");
    GError *error = NULL;
    BounceNew matched = {.outbox_id = id, .matched_by = "envelope", .status = "5.1.1"};
    BounceNew stray = {.status = "5.0.0", .recipient = "x@example.vn"};
    g_assert_true(bounce_record(f->store, &matched, &error));
    g_assert_true(bounce_record(f->store, &stray, &error));
    BounceNew bad = {.matched_by = "guess"};
    g_assert_false(bounce_record(f->store, &bad, &error)); /* CHECK constraint */
    g_clear_error(&error);

    gint64 value = 0;
    g_autofree char *detail = NULL;
    g_assert_false(outbound_status_get(f->store, "smtp_outage", &value, &detail, &error));
    g_assert_no_error(error);
    g_assert_true(outbound_status_set(f->store, "smtp_outage", 42, "535 refused", &error));
    g_assert_true(outbound_status_set(f->store, "smtp_outage", 43, NULL, &error));
    g_assert_true(outbound_status_get(f->store, "smtp_outage", &value, &detail, &error));
    g_assert_cmpint(value, ==, 43);
    g_assert_null(detail);
    g_assert_true(outbound_status_clear(f->store, "smtp_outage", &error));
    g_assert_false(outbound_status_get(f->store, "smtp_outage", &value, NULL, &error));
    g_assert_no_error(error);
}

/* SQLite's virtual machine steps run while claiming the next letter: a count that does not
 * depend on the machine's speed or load */
static int count_step(void *counter)
{
    (*(guint64 *)counter)++;
    return 0;
}

static guint64 claim_cost(Fixture *f, gint64 now)
{
    guint64 steps = 0;
    sqlite3_progress_handler(store_connection(f->store), 1, count_step, &steps);
    g_autoptr(OutboxClaim) c = fixture_claim_next(f->store, now, "h:1:x");
    sqlite3_progress_handler(store_connection(f->store), 0, NULL, NULL);
    g_assert_nonnull(c);
    return steps;
}

static void enqueue_many(Fixture *f, int from, int count)
{
    GError *error = NULL;
    g_assert_true(store_begin(f->store, &error));
    for (int i = from; i < from + count; i++) {
        g_autofree char *key = g_strdup_printf("k%d", i);
        enqueue_to(f, key, "an@example.vn");
    }
    g_assert_true(store_commit(f->store, &error));
    g_assert_no_error(error);
}

/* Each letter of a flush claims the next one: a claim that read every queued letter (the
 * planner took the index on (state, id) and sorted) made a flush of n letters cost n^2, 1.1 M
 * instructions per letter with 1,000 queued. The claim walks the due letters' own index and
 * stops at the first, whatever the length of the queue. */
static void test_claim_cost_independent_of_queue_length(Fixture *f, gconstpointer data)
{
    gint64 now = clock_now_unix();
    enqueue_many(f, 0, 10);
    guint64 short_queue = claim_cost(f, now);
    enqueue_many(f, 10, 3000);
    guint64 long_queue = claim_cost(f, now);
    g_test_message("claim: %" G_GUINT64_FORMAT " steps with 9 queued, %" G_GUINT64_FORMAT
                   " with 3,008",
                   short_queue, long_queue);
    g_assert_cmpuint(long_queue, <, short_queue * 2);
}

static guint64 reclaim_cost(Fixture *f, gint64 now)
{
    guint64 steps = 0;
    GError *error = NULL;
    int released = -1;
    sqlite3_progress_handler(store_connection(f->store), 1, count_step, &steps);
    g_assert_true(outbox_reclaim_leases(f->store, now, owner_dead, "h:1:dead", &released, &error));
    sqlite3_progress_handler(store_connection(f->store), 0, NULL, NULL);
    g_assert_no_error(error);
    g_assert_cmpint(released, ==, 2);
    return steps;
}

/* Each pass first takes back what dead senders left: the letters in flight and the ones they
 * had reserved, read through their own indexes, never the whole queue (an SMTP outage queues
 * thousands) */
static void test_reclaim_cost_independent_of_queue_length(Fixture *f, gconstpointer data)
{
    gint64 now = clock_now_unix();
    enqueue_many(f, 0, 10);
    g_autoptr(OutboxClaim) a = fixture_claim_next(f->store, now, "h:1:dead");
    g_autoptr(OutboxClaim) b = reserve(f, now, "h:1:dead");
    guint64 short_queue = reclaim_cost(f, now);
    enqueue_many(f, 10, 3000);
    g_autoptr(OutboxClaim) c = fixture_claim_next(f->store, now, "h:1:dead");
    g_autoptr(OutboxClaim) d = reserve(f, now, "h:1:dead");
    guint64 long_queue = reclaim_cost(f, now);
    g_test_message("reclaim: %" G_GUINT64_FORMAT " steps with 8 queued, %" G_GUINT64_FORMAT
                   " with 3,006",
                   short_queue, long_queue);
    g_assert_cmpuint(long_queue, <, short_queue * 2);
}

static guint64 newest_digest_cost(Fixture *f)
{
    guint64 steps = 0;
    GError *error = NULL;
    sqlite3_progress_handler(store_connection(f->store), 1, count_step, &steps);
    gint64 newest = outbox_newest_of_kind(f->store, "digest", &error);
    sqlite3_progress_handler(store_connection(f->store), 0, NULL, NULL);
    g_assert_no_error(error);
    g_assert_cmpint(newest, ==, 0);
    return steps;
}

/* Every pass asks when the last digest of failures went out: the answer is read from an
 * index on the kind, not from every letter the outbox ever held */
static void test_newest_of_kind_cost_independent_of_outbox_length(Fixture *f, gconstpointer data)
{
    enqueue_many(f, 0, 10);
    guint64 short_outbox = newest_digest_cost(f);
    enqueue_many(f, 10, 3000);
    guint64 long_outbox = newest_digest_cost(f);
    g_test_message("newest digest: %" G_GUINT64_FORMAT " steps with 10 letters, %" G_GUINT64_FORMAT
                   " with 3,010",
                   short_outbox, long_outbox);
    g_assert_cmpuint(long_outbox, <, short_outbox * 2);
}

/* Every index of the outbox is read by some statement: each letter writes an entry in each
 * (issue 18: outbox_rcpt was written for every letter and read by none). A new index must
 * name its reader here. */
static void test_every_index_has_a_reader(Fixture *f, gconstpointer data)
{
    static const char *const read_by[] = {
        "outbox_due",        /* outbox_claim_next_for, outbox_reserve_next_for: the next due */
        "outbox_lease",      /* outbox_claim_next_for, outbox_reclaim_leases: expired leases */
        "outbox_reserved",   /* outbox_reclaim_leases: the letters reserved */
        "outbox_report",     /* a report's letters (report, console, retention) */
        "outbox_message_id", /* a reply's In-Reply-To (reply.c), outbox_find_message_id */
        "outbox_state",      /* the console's counts by state, pahtctl outbox --state */
        "outbox_unreported", /* the digest's failed letters */
        "outbox_kind",       /* outbox_newest_of_kind (the digest's last one) */
        "sqlite_autoindex_outbox_1", /* UNIQUE dedupe_key: a letter enqueued once */
        NULL,
    };
    enqueue_to(f, "one", "dan@example.vn");
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    g_assert_cmpint(sqlite3_prepare_v2(db,
                                       "SELECT name FROM pragma_index_list('outbox') ORDER BY name",
                                       -1, &stmt, NULL),
                    ==, SQLITE_OK);
    guint n = 0;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(stmt, 0);
        if (!g_strv_contains(read_by, name))
            g_test_message("outbox index %s has no reader listed", name);
        g_assert_true(g_strv_contains(read_by, name));
        n++;
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    g_assert_cmpuint(n, ==, g_strv_length((char **)read_by));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_init("test");
    log_set_level(LOG_LEVEL_ERROR);
#define ADD(name, fn)                                                                              \
    g_test_add("/outbox/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("body-apart-from-state", test_body_apart_from_state);
    ADD("dead-holder-lease-taken-back", test_dead_holder_lease_taken_back);
    ADD("reserved-letter-waits-for-its-sender", test_reserved_letter_waits_for_its_sender);
    ADD("dead-holder-reservation-taken-back", test_dead_holder_reservation_taken_back);
    ADD("finish-records-status-and-envelope", test_finish_records_status_and_envelope);
    ADD("bounce-and-resend-rules", test_bounce_and_resend_rules);
    ADD("unreported-failures", test_unreported_failures);
    ADD("address-suspension", test_address_suspension);
    ADD("bounce-record-and-status", test_bounce_record_and_status);
    ADD("claim-cost-independent-of-queue-length", test_claim_cost_independent_of_queue_length);
    ADD("reclaim-cost-independent-of-queue-length", test_reclaim_cost_independent_of_queue_length);
    ADD("newest-of-kind-cost-independent-of-outbox-length",
        test_newest_of_kind_cost_independent_of_outbox_length);
    ADD("every-index-has-a-reader", test_every_index_has_a_reader);
    return g_test_run();
}
