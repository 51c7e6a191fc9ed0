/* The store on real SQLite files: schema, privacy, tracking codes, raw messages, reports and
 * the outbox's exactly-once rules. */
#include "config_fixture.h"
#include "queue/queue.h"
#include "queue/store_internal.h"
#include "util/util.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    char *dir;
    char *path;
    Store *store;
    GTimeZone *zone;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("paht-store-XXXXXX", NULL);
    f->path = g_build_filename(f->dir, "db", "paht.db", NULL);
    GError *error = NULL;
    f->store = store_open(f->path, &error);
    g_assert_no_error(error);
    f->zone = g_time_zone_new_identifier("Asia/Ho_Chi_Minh");
    g_unsetenv("PAHT_NOW");
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    store_close(f->store);
    fs_remove_tree(f->dir);
    g_free(f->dir);
    g_free(f->path);
    g_time_zone_unref(f->zone);
    g_unsetenv("PAHT_NOW");
}

static Draft *complete_draft(void)
{
    Draft *d = draft_new();
    d->subject = g_strdup("Đèn đường hỏng");
    d->text = g_strdup("Đèn đường trước nhà số 12 bị hỏng.");
    d->message_id = g_strdup("abc@mail.example");
    d->classification = g_strdup("report");
    d->citizen.name = g_strdup("Nguyễn Văn An");
    d->citizen.address = g_strdup("12 Lê Lợi, Phường 1");
    d->citizen.id_number = g_strdup("094201001234");
    d->citizen.phone = g_strdup("0912345678");
    d->citizen.email = g_strdup("an@example.vn");
    d->location.text = g_strdup("Đường Lê Lợi");
    return d;
}

static gint64 t(const char *rfc3339)
{
    gint64 v = 0;
    g_assert_true(clock_parse_rfc3339(rfc3339, &v));
    return v;
}

/* a transaction begun, and a report created in it (ref) */
static void begin_with_report(Fixture *f, const Draft *d, ReportRef *ref)
{
    GError *error = NULL;
    g_assert_true(store_begin(f->store, &error));
    g_assert_true(report_create(f->store, d, NULL, "PAHT", f->zone, t("2026-11-28T02:00:00Z"), 0,
                                ref, &error));
    g_assert_no_error(error);
}

/* the raw message lookups, which must not fail here: the row, or NULL when there is none */
static RawMessage *find_uid(Store *store, const char *mailbox, guint32 uidvalidity, guint32 uid)
{
    RawMessage *raw = NULL;
    GError *error = NULL;
    g_assert_true(raw_message_find_uid(store, mailbox, uidvalidity, uid, &raw, &error));
    g_assert_no_error(error);
    return raw;
}

static RawMessage *find_same(Store *store, const char *sha256, const char *message_id,
                             const char *body_sha256)
{
    RawMessage *raw = NULL;
    GError *error = NULL;
    g_assert_true(raw_message_find_same(store, sha256, message_id, body_sha256, &raw, &error));
    g_assert_no_error(error);
    return raw;
}

static void test_created_private_wal_migrated(Fixture *f, gconstpointer data)
{
    struct stat st;
    g_assert_cmpint(g_stat(f->path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    g_autofree char *dir = g_path_get_dirname(f->path);
    g_assert_cmpint(g_stat(dir, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0700);
    g_assert_cmpint(store_schema_version(f->store), >=, 1);

    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open(f->path, &db), ==, SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL);
    g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
    g_assert_cmpstr((const char *)sqlite3_column_text(stmt, 0), ==, "wal");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

static void test_world_readable_database_refused(Fixture *f, gconstpointer data)
{
    store_close(f->store);
    f->store = NULL;
    g_assert_cmpint(g_chmod(f->path, 0644), ==, 0);
    GError *error = NULL;
    Store *s = store_open(f->path, &error);
    g_assert_null(s);
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, "chmod 600"));
    g_clear_error(&error);
    g_chmod(f->path, 0600);
    f->store = store_open(f->path, &error);
    g_assert_no_error(error);
}

static void test_tracking_codes_per_year_in_province_zone(Fixture *f, gconstpointer data)
{
    g_autoptr(Draft) d = complete_draft();
    GError *error = NULL;
    ReportRef a = {0}, b = {0}, c = {0};
    g_assert_true(store_begin(f->store, &error));
    g_assert_true(report_create(f->store, d, NULL, "PAHT", f->zone, t("2026-11-28T02:00:00Z"), 0,
                                &a, &error));
    g_assert_true(report_create(f->store, d, NULL, "PAHT", f->zone, t("2026-12-31T16:59:59Z"), 0,
                                &b, &error));
    /* 17:30 UTC on 31 December is already 00:30 on 1 January in Sóc Trăng */
    g_assert_true(report_create(f->store, d, NULL, "PAHT", f->zone, t("2026-12-31T17:30:00Z"), 0,
                                &c, &error));
    g_assert_true(store_commit(f->store, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(a.code, ==, "PAHT-2026-000001");
    g_assert_cmpstr(b.code, ==, "PAHT-2026-000002");
    g_assert_cmpstr(c.code, ==, "PAHT-2027-000001");
    g_assert_cmpstr(a.token, !=, b.token);
    g_assert_cmpuint(strlen(a.token), ==, 20);
    report_ref_clear(&a);
    report_ref_clear(&b);
    report_ref_clear(&c);
}

static void test_report_roundtrip_and_states(Fixture *f, gconstpointer data)
{
    g_autoptr(Draft) d = complete_draft();
    DraftAttachment *att = g_new0(DraftAttachment, 1);
    att->filename = g_strdup("ảnh hiện trường.jpg");
    att->content_type = g_strdup("image/jpeg");
    att->kind = g_strdup("image");
    att->size = 1234;
    att->sha256 = g_strdup("aa00");
    att->path = g_strdup("/var/lib/paht/att/aa/aa00");
    g_ptr_array_add(d->attachments, att);
    GError *error = NULL;
    ReportRef ref = {0};
    begin_with_report(f, d, &ref);
    g_assert_true(store_commit(f->store, &error));

    g_autoptr(Report) r = report_load(f->store, "paht-2026-000001", &error);
    g_assert_no_error(error);
    g_assert_cmpint(r->id, ==, ref.id);
    g_assert_cmpstr(r->state, ==, "draft");
    g_assert_cmpstr(r->missing[0], ==, NULL);
    g_assert_cmpstr(r->citizen.name, ==, "Nguyễn Văn An");
    g_assert_cmpstr(r->citizen.id_number, ==, "094201001234");
    g_assert_cmpstr(r->subject, ==, "Đèn đường hỏng");
    g_assert_cmpuint(r->attachments->len, ==, 1);
    StoredAttachment *sa = g_ptr_array_index(r->attachments, 0);
    g_assert_cmpstr(sa->filename, ==, "ảnh hiện trường.jpg");
    g_assert_cmpint(sa->size, ==, 1234);
    g_assert_cmpuint(r->events->len, ==, 1);
    ReportEvent *e = g_ptr_array_index(r->events, 0);
    g_assert_cmpstr(e->kind, ==, "received");
    report_ref_clear(&ref);

    /* without a phone and a location the report is incomplete, and says what is missing */
    g_clear_pointer(&d->citizen.phone, g_free);
    g_clear_pointer(&d->location.text, g_free);
    g_assert_true(store_begin(f->store, &error));
    g_assert_true(report_create(f->store, d, NULL, "PAHT", f->zone, t("2026-11-28T03:00:00Z"), 0,
                                &ref, &error));
    g_assert_true(store_commit(f->store, &error));
    g_autoptr(Report) r2 = report_load_id(f->store, ref.id, &error);
    g_assert_cmpstr(r2->state, ==, "incomplete");
    g_assert_cmpstr(r2->missing[0], ==, "phone");
    g_assert_cmpstr(r2->missing[1], ==, "location");
    g_assert_null(r2->missing[2]);
    report_ref_clear(&ref);

    /* a complaint lacking the same fields waits for the IOC as a draft */
    g_free(d->classification);
    d->classification = g_strdup("complaint");
    g_assert_true(store_begin(f->store, &error));
    g_assert_true(report_create(f->store, d, NULL, "PAHT", f->zone, t("2026-11-28T04:00:00Z"), 0,
                                &ref, &error));
    g_assert_true(store_commit(f->store, &error));
    g_autoptr(Report) r3 = report_load_id(f->store, ref.id, &error);
    g_assert_cmpstr(r3->state, ==, "draft");
    report_ref_clear(&ref);

    g_autoptr(GPtrArray) drafts = report_list_drafts(f->store, &error);
    g_assert_cmpuint(drafts->len, ==, 3);
    ReportSummary *first = g_ptr_array_index(drafts, 0);
    g_assert_cmpstr(first->code, ==, "PAHT-2026-000001");
    g_assert_cmpint(first->n_attachments, ==, 1);

    Report *none = report_load(f->store, "PAHT-2026-999999", &error);
    g_assert_null(none);
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND);
    g_clear_error(&error);
}

static void test_rollback_leaves_nothing(Fixture *f, gconstpointer data)
{
    g_autoptr(Draft) d = complete_draft();
    GError *error = NULL;
    ReportRef ref = {0};
    begin_with_report(f, d, &ref);
    /* a nested step that fails is undone on its own */
    g_assert_true(store_begin(f->store, &error));
    g_assert_true(event_add(f->store, ref.id, "test", "nested", NULL, &error));
    store_rollback(f->store);
    store_rollback(f->store);
    report_ref_clear(&ref);
    g_autoptr(GPtrArray) drafts = report_list_drafts(f->store, &error);
    g_assert_cmpuint(drafts->len, ==, 0);
    /* the code sequence rolled back too: the next report takes number 1 */
    begin_with_report(f, d, &ref);
    g_assert_true(store_commit(f->store, &error));
    g_assert_cmpstr(ref.code, ==, "PAHT-2026-000001");
    report_ref_clear(&ref);
}

static void test_raw_messages_recorded_once(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    RawMessage raw = {.mailbox = "INBOX",
                      .uidvalidity = 7,
                      .uid = 42,
                      .message_id = "m1@example.vn",
                      .sha256 = "ff01",
                      .path = "/x/ff01.eml",
                      .size = 100,
                      .received_at = 1};
    gint64 id = raw_message_insert(f->store, &raw, &error);
    g_assert_no_error(error);
    g_assert_cmpint(id, >, 0);
    /* the same mailbox position cannot be recorded twice */
    g_assert_cmpint(raw_message_insert(f->store, &raw, &error), ==, 0);
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_PERMANENT);
    g_clear_error(&error);

    g_autoptr(RawMessage) by_uid = find_uid(f->store, "INBOX", 7, 42);
    g_assert_nonnull(by_uid);
    g_assert_cmpstr(by_uid->state, ==, "fetched");
    g_assert_cmpint(by_uid->attempts, ==, 1);
    g_assert_null(find_uid(f->store, "INBOX", 8, 42));
    g_assert_no_error(error);

    g_autoptr(RawMessage) by_content = find_same(f->store, "ff01", NULL, NULL);
    g_assert_cmpint(by_content->id, ==, id);

    /* a crash while it had 1 attempt: 2; the same crash counted again (its note read by a
     * second start) changes nothing; a crash of the attempt after: 3 */
    int attempts = 0;
    g_assert_true(raw_message_count_attempt(f->store, id, 1, &attempts, &error));
    g_assert_cmpint(attempts, ==, 2);
    g_assert_true(raw_message_count_attempt(f->store, id, 1, &attempts, &error));
    g_assert_cmpint(attempts, ==, 2);
    g_assert_true(raw_message_count_attempt(f->store, id, 2, &attempts, &error));
    g_assert_cmpint(attempts, ==, 3);
    g_assert_true(raw_message_count_attempt(f->store, id, 1, &attempts, &error));
    g_assert_cmpint(attempts, ==, 3);

    g_autoptr(GPtrArray) unfinished = raw_message_list_unfinished(f->store, "INBOX", &error);
    g_assert_cmpuint(unfinished->len, ==, 1);
    g_assert_true(raw_message_mark_processed(f->store, id, "auto", 0, &error));
    g_assert_true(raw_message_relocate(f->store, id, "INBOX", 9, 3, &error));
    g_autoptr(RawMessage) moved = find_uid(f->store, "INBOX", 9, 3);
    g_assert_cmpstr(moved->state, ==, "processed");
    g_assert_cmpstr(moved->classification, ==, "auto");
    g_assert_true(raw_message_set_state(f->store, id, "moved", NULL, &error));
    g_autoptr(GPtrArray) none = raw_message_list_unfinished(f->store, "INBOX", &error);
    g_assert_cmpuint(none->len, ==, 0);

    /* files given to pahtctl ingest have no mailbox: any number of them */
    RawMessage local = {.sha256 = "ee02", .path = "/x/ee02.eml", .size = 5, .received_at = 1};
    g_assert_cmpint(raw_message_insert(f->store, &local, &error), >, 0);
    local.sha256 = "ee03";
    g_assert_cmpint(raw_message_insert(f->store, &local, &error), >, 0);
    g_assert_no_error(error);
}

/* A lookup tells "there is none" (TRUE, *out NULL) from "the store failed" (FALSE, *error),
 * and says so whether or not its caller asks for the error: a NULL with no error could mean
 * either, and a caller without an error pointer could not tell at all. */
static void test_lookups_tell_none_from_a_failure(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    RawMessage *raw = NULL;
    char *value = NULL;
    OutboxEntry *letter = NULL;
    g_assert_true(raw_message_find_uid(f->store, "INBOX", 1, 1, &raw, NULL));
    g_assert_null(raw);
    g_assert_true(daemon_state_get(f->store, "mailbox_down_since", &value, NULL));
    g_assert_null(value);
    g_assert_true(outbox_find_message_id(f->store, "paht.x@soctrang.gov.vn", &letter, NULL));
    g_assert_null(letter);

    g_assert_true(store_exec(f->store,
                             "DROP TABLE daemon_state; ALTER TABLE raw_message RENAME TO gone;"
                             " ALTER TABLE outbox RENAME TO gone_too",
                             &error));
    g_assert_no_error(error);
    g_assert_false(raw_message_find_uid(f->store, "INBOX", 1, 1, &raw, NULL));
    g_assert_false(raw_message_find_same(f->store, "aa", NULL, NULL, &raw, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_PERMANENT);
    g_clear_error(&error);
    g_assert_null(raw);
    g_assert_false(daemon_state_get(f->store, "mailbox_down_since", &value, NULL));
    g_assert_false(outbox_find_message_id(f->store, "paht.x@soctrang.gov.vn", &letter, NULL));
}

/* The same mail is found whatever its trace headers and line ends (the same Message-ID and
 * body), never by its Message-ID alone. */
static void test_raw_message_found_by_bytes_or_message_id_and_body(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    RawMessage ingested = {.message_id = "m1@example.vn",
                           .sha256 = "aa01",
                           .body_sha256 = "b0d1",
                           .path = "/x/aa01.eml",
                           .size = 100,
                           .received_at = 1};
    gint64 id = raw_message_insert(f->store, &ingested, &error);
    g_assert_no_error(error);

    g_autoptr(RawMessage) bytes = find_same(f->store, "aa01", NULL, NULL);
    g_assert_nonnull(bytes);
    g_assert_cmpint(bytes->id, ==, id);
    g_assert_cmpstr(bytes->body_sha256, ==, "b0d1");
    /* the same mail as an IMAP server serves it: other bytes, same Message-ID and body */
    g_autoptr(RawMessage) served = find_same(f->store, "cc03", "m1@example.vn", "b0d1");
    g_assert_nonnull(served);
    g_assert_cmpint(served->id, ==, id);
    /* a stranger reusing the Message-ID with another body is another mail */
    g_assert_null(find_same(f->store, "dd04", "m1@example.vn", "0the"));
    /* so is the same body under another Message-ID, and a mail without one */
    g_assert_null(find_same(f->store, "dd05", "m2@example.vn", "b0d1"));
    g_assert_null(find_same(f->store, "dd06", NULL, "b0d1"));
    g_assert_no_error(error);
}

/* a move by UID COPY + UID EXPUNGE is recorded step by step; moving or quarantining ends it */
static void test_raw_message_move_steps(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    RawMessage raw = {.mailbox = "INBOX",
                      .uidvalidity = 7,
                      .uid = 3,
                      .sha256 = "ab01",
                      .path = "/x/ab01.eml",
                      .size = 10,
                      .received_at = 1};
    gint64 id = raw_message_insert(f->store, &raw, &error);
    g_assert_true(raw_message_set_moving(f->store, id, "PAHT/Processed", FALSE, &error));
    g_autoptr(RawMessage) copying = raw_message_get(f->store, id, &error);
    g_assert_cmpstr(copying->moving_to, ==, "PAHT/Processed");
    g_assert_false(copying->copied);
    g_assert_true(raw_message_set_moving(f->store, id, "PAHT/Processed", TRUE, &error));
    g_autoptr(RawMessage) copied = raw_message_get(f->store, id, &error);
    g_assert_true(copied->copied);
    g_assert_true(raw_message_set_state(f->store, id, "moved", NULL, &error));
    g_autoptr(RawMessage) moved = raw_message_get(f->store, id, &error);
    g_assert_null(moved->moving_to);
    g_assert_false(moved->copied);
    g_assert_no_error(error);
}

/* a message that failed to be fetched: counted by its place, due again, given up */
static void test_message_failures(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    MessageFailure rec = {0};
    g_assert_false(message_failure_get(f->store, "INBOX", 7, 5, &rec, &error));
    g_assert_no_error(error);
    gboolean due = TRUE;
    g_assert_true(message_failure_any_due(f->store, "INBOX", 7, 1000, &due, &error));
    g_assert_false(due);

    g_assert_true(
        message_failure_add(f->store, "INBOX", 7, 5, "refused", 1000, 1300, &rec, &error));
    g_assert_cmpint(rec.failures, ==, 1);
    g_assert_cmpint(rec.first_at, ==, 1000);
    message_failure_clear(&rec);
    g_assert_true(
        message_failure_add(f->store, "INBOX", 7, 5, "dropped", 1400, 2000, &rec, &error));
    g_assert_cmpint(rec.failures, ==, 2);
    g_assert_cmpint(rec.first_at, ==, 1000);
    g_assert_cmpint(rec.last_at, ==, 1400);
    g_assert_cmpint(rec.next_at, ==, 2000);
    g_assert_cmpstr(rec.last_error, ==, "dropped");
    message_failure_clear(&rec);

    g_assert_true(message_failure_any_due(f->store, "INBOX", 7, 1999, &due, &error));
    g_assert_false(due);
    g_assert_true(message_failure_any_due(f->store, "INBOX", 7, 2000, &due, &error));
    g_assert_true(due);
    g_assert_true(message_failure_any_due(f->store, "INBOX", 8, 2000, &due, &error));
    g_assert_false(due); /* another UIDVALIDITY: other messages */

    g_autoptr(GArray) uids = message_failure_uids(f->store, "INBOX", 7, &error);
    g_assert_cmpuint(uids->len, ==, 1);
    g_assert_cmpuint(g_array_index(uids, guint32, 0), ==, 5);

    g_assert_true(message_failure_give_up(f->store, "INBOX", 7, 5, 2100, &error));
    g_assert_true(message_failure_get(f->store, "INBOX", 7, 5, &rec, &error));
    g_assert_cmpint(rec.given_up_at, ==, 2100);
    message_failure_clear(&rec);
    g_assert_true(message_failure_any_due(f->store, "INBOX", 7, 9999, &due, &error));
    g_assert_false(due); /* given up: never tried again */

    g_assert_true(message_failure_add(f->store, "INBOX", 7, 6, "x", 1, 2, NULL, &error));
    g_assert_true(message_failure_forget(f->store, "INBOX", 7, 6, &error));
    g_assert_false(message_failure_get(f->store, "INBOX", 7, 6, &rec, &error));
    g_assert_true(message_failure_forget_epochs(f->store, "INBOX", 8, &error));
    g_assert_false(message_failure_get(f->store, "INBOX", 7, 5, &rec, &error));
    g_assert_no_error(error);
}

static void test_mailbox_state(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    MailboxState s = {0};
    g_assert_false(mailbox_state_get(f->store, "INBOX", &s, &error));
    g_assert_no_error(error);
    MailboxState w = {.uidvalidity = 123, .uidnext = 456, .highestmodseq = 789};
    g_assert_true(mailbox_state_set(f->store, "INBOX", &w, &error));
    w.uidnext = 500;
    g_assert_true(mailbox_state_set(f->store, "INBOX", &w, &error));
    g_assert_true(mailbox_state_get(f->store, "INBOX", &s, &error));
    g_assert_cmpuint(s.uidvalidity, ==, 123);
    g_assert_cmpuint(s.uidnext, ==, 500);
    g_assert_cmpuint(s.highestmodseq, ==, 789);
}

static gint64 enqueue(Fixture *f, const char *key, gboolean *created)
{
    g_autoptr(GBytes) body = g_bytes_new_static("Subject: x\r\n\r\nhello\r\n", 21);
    OutboxNew item = {.dedupe_key = key,
                      .kind = "ack",
                      .rcpt = "an@example.vn",
                      .mail_from = "paht@soctrang.gov.vn",
                      .message_id = "paht.1@soctrang.gov.vn",
                      .message = body};
    gint64 id = 0;
    GError *error = NULL;
    g_assert_true(outbox_enqueue(f->store, &item, &id, created, &error));
    g_assert_no_error(error);
    return id;
}

static void test_outbox_enqueued_once(Fixture *f, gconstpointer data)
{
    gboolean created = FALSE;
    gint64 a = enqueue(f, "ack:1", &created);
    g_assert_true(created);
    gint64 b = enqueue(f, "ack:1", &created);
    g_assert_false(created);
    g_assert_cmpint(a, ==, b);
    GError *error = NULL;
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    g_assert_cmpuint(all->len, ==, 1);
    g_autoptr(GBytes) msg = outbox_message(f->store, a, &error);
    g_assert_cmpuint(g_bytes_get_size(msg), ==, 21);
}

static void test_outbox_lease_rules(Fixture *f, gconstpointer data)
{
    g_setenv("PAHT_NOW", "2026-11-28T01:00:00Z", TRUE);
    gint64 id = enqueue(f, "ack:2", NULL);
    GError *error = NULL;
    gint64 now = t("2026-11-28T02:00:00Z");
    g_autoptr(OutboxClaim) c1 = fixture_claim_next(f->store, now, NULL);
    g_assert_nonnull(c1);
    g_assert_cmpint(c1->id, ==, id);
    g_assert_cmpint(c1->attempts, ==, 1);
    g_assert_cmpuint(g_bytes_get_size(c1->message), ==, 21);
    /* leased: nobody else gets it */
    g_assert_null(fixture_claim_next(f->store, now + 10, NULL));
    g_assert_no_error(error);
    /* the holder died: after the lease, someone else takes it over */
    g_autoptr(OutboxClaim) c2 = fixture_claim_next(f->store, now + 301, NULL);
    g_assert_nonnull(c2);
    g_assert_cmpint(c2->attempts, ==, 2);
    g_assert_cmpstr(c1->lease_token, !=, c2->lease_token);
    /* the first holder comes back too late: its completion is refused */
    g_assert_false(outbox_complete(f->store, c1, OUTBOX_SENT, "250 ok", 0, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED);
    g_clear_error(&error);
    /* temporary failure: queued again for later, not claimable before */
    g_assert_true(
        outbox_complete(f->store, c2, OUTBOX_RETRY, "451 4.3.0 later", now + 1000, &error));
    g_assert_null(fixture_claim_next(f->store, now + 999, NULL));
    g_autoptr(OutboxClaim) c3 = fixture_claim_next(f->store, now + 1000, NULL);
    g_assert_nonnull(c3);
    g_assert_cmpint(c3->attempts, ==, 3);
    /* our side broken: held, the attempt not counted */
    g_assert_true(outbox_complete(f->store, c3, OUTBOX_HOLD, "login refused", now + 2000, &error));
    g_autoptr(OutboxClaim) c4 = fixture_claim_next(f->store, now + 2000, NULL);
    g_assert_cmpint(c4->attempts, ==, 3);
    g_assert_true(outbox_complete(f->store, c4, OUTBOX_SENT, "250 2.0.0 Ok", 0, &error));
    g_assert_null(fixture_claim_next(f->store, now + 99999, NULL));
    g_autoptr(GPtrArray) sent = outbox_list(f->store, "sent", &error);
    g_assert_cmpuint(sent->len, ==, 1);
    OutboxEntry *e = g_ptr_array_index(sent, 0);
    g_assert_cmpstr(e->last_reply, ==, "250 2.0.0 Ok");

    /* permanent failure: failed for good, with the server's words */
    enqueue(f, "ack:3", NULL);
    g_autoptr(OutboxClaim) c5 = fixture_claim_next(f->store, now, NULL);
    g_assert_true(
        outbox_complete(f->store, c5, OUTBOX_FAILED, "550 5.1.1 unknown user", 0, &error));
    g_assert_null(fixture_claim_next(f->store, now + 99999, NULL));
    g_autoptr(GPtrArray) failed = outbox_list(f->store, "failed", &error);
    g_assert_cmpuint(failed->len, ==, 1);
    OutboxEntry *fe = g_ptr_array_index(failed, 0);
    g_assert_cmpstr(fe->last_reply, ==, "550 5.1.1 unknown user");
    g_assert_no_error(error);
}

static void test_outbox_oldest_first(Fixture *f, gconstpointer data)
{
    g_setenv("PAHT_NOW", "2026-11-28T09:00:00+07:00", TRUE);
    gint64 first = enqueue(f, "a", NULL);
    g_setenv("PAHT_NOW", "2026-11-28T08:00:00+07:00", TRUE);
    gint64 second = enqueue(f, "b", NULL);
    gint64 later = t("2026-11-28T10:00:00+07:00");
    g_autoptr(OutboxClaim) c1 = fixture_claim_next(f->store, later, NULL);
    g_autoptr(OutboxClaim) c2 = fixture_claim_next(f->store, later, NULL);
    /* due time decides, not insertion order */
    g_assert_cmpint(c1->id, ==, second);
    g_assert_cmpint(c2->id, ==, first);
}

/* pahtd creating its database while pahtctl opens it (or two first openers): every process
 * opens it, in WAL mode, with the schema made once. Forked processes all released at once on
 * fresh databases, several rounds, because the losing interleaving is a matter of timing. */
static void test_first_openers_race(Fixture *f, gconstpointer data)
{
    enum { ROUNDS = 12, OPENERS = 6 };
    for (int round = 0; round < ROUNDS; round++) {
        g_autofree char *name = g_strdup_printf("race-%d.db", round);
        g_autofree char *path = g_build_filename(f->dir, name, NULL);
        int go[2];
        g_assert_cmpint(pipe(go), ==, 0);
        pid_t pids[OPENERS];
        for (int i = 0; i < OPENERS; i++) {
            pids[i] = fork();
            g_assert_cmpint(pids[i], >=, 0);
            if (pids[i] == 0) {
                close(go[1]);
                char c;
                /* wait for the start: the parent closes its end */
                while (read(go[0], &c, 1) > 0)
                    ;
                GError *error = NULL;
                Store *s = store_open(path, &error);
                if (!s) {
                    g_printerr("opener %d: %s\n", i, error->message);
                    _exit(1);
                }
                store_close(s);
                _exit(0);
            }
        }
        close(go[0]);
        close(go[1]);
        for (int i = 0; i < OPENERS; i++) {
            int status = 0;
            g_assert_cmpint(waitpid(pids[i], &status, 0), ==, pids[i]);
            g_assert_true(WIFEXITED(status));
            g_assert_cmpint(WEXITSTATUS(status), ==, 0);
        }
        GError *error = NULL;
        Store *s = store_open(path, &error);
        g_assert_no_error(error);
        store_close(s);
    }
}

/* ---- who changes the schema (issue 11.5) ---------------------------------------------------- */

static int version_on_disk(const char *path)
{
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    g_assert_cmpint(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
    int version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return version;
}

/* a database as an earlier release left it, made by that release's migrations */
static char *older_database(Fixture *f, int version)
{
    g_autofree char *name = g_strdup_printf("v%d.db", version);
    char *path = g_build_filename(f->dir, name, NULL);
    GError *error = NULL;
    Store *s = store_open_at(path, STORE_SCHEMA_MIGRATE, version, &error);
    g_assert_no_error(error);
    g_assert_cmpint(store_schema_version(s), ==, version);
    store_close(s);
    return path;
}

static void test_older_schema_refused_unless_migrating(Fixture *f, gconstpointer data)
{
    const int latest = store_schema_latest();
    for (int version = 1; version < latest; version++) {
        g_autofree char *path = older_database(f, version);
        GError *error = NULL;
        g_assert_null(store_open_with(path, STORE_SCHEMA_EXACT, &error));
        g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
        g_autofree char *older = g_strdup_printf("schema version %d, older than this program's "
                                                 "(%d)",
                                                 version, latest);
        g_assert_nonnull(strstr(error->message, older));
        g_assert_nonnull(strstr(error->message, "pahtctl migrate"));
        g_clear_error(&error);
        g_assert_cmpint(version_on_disk(path), ==, version); /* left as it was */

        Store *s = store_open_with(path, STORE_SCHEMA_MIGRATE, &error);
        g_assert_no_error(error);
        g_assert_cmpint(store_schema_version_found(s), ==, version);
        g_assert_cmpint(store_schema_version(s), ==, latest);
        store_close(s);
        s = store_open_with(path, STORE_SCHEMA_EXACT, &error);
        g_assert_no_error(error);
        g_assert_cmpint(store_schema_version_found(s), ==, latest);
        store_close(s);
    }
}

static void test_newer_schema_refused_by_every_policy(Fixture *f, gconstpointer data)
{
    const int latest = store_schema_latest();
    g_autofree char *set = g_strdup_printf("PRAGMA user_version = %d", latest + 1);
    GError *error = NULL;
    g_assert_true(store_exec(f->store, set, &error));
    store_close(f->store);
    f->store = NULL;
    const StoreSchemaPolicy policies[] = {STORE_SCHEMA_EXACT, STORE_SCHEMA_MIGRATE};
    for (gsize i = 0; i < G_N_ELEMENTS(policies); i++) {
        g_assert_null(store_open_with(f->path, policies[i], &error));
        g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
        g_assert_nonnull(strstr(error->message, "newer than this program's"));
        g_clear_error(&error);
    }
    g_assert_cmpint(version_on_disk(f->path), ==, latest + 1);
    g_autofree char *back = g_strdup_printf("PRAGMA user_version = %d", latest);
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open(f->path, &db), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_exec(db, back, NULL, NULL, NULL), ==, SQLITE_OK);
    sqlite3_close(db);
    f->store = store_open(f->path, &error);
    g_assert_no_error(error);
}

static void test_new_database_made_at_this_version_by_exact(Fixture *f, gconstpointer data)
{
    g_autofree char *path = g_build_filename(f->dir, "fresh", "paht.db", NULL);
    GError *error = NULL;
    Store *s = store_open_with(path, STORE_SCHEMA_EXACT, &error);
    g_assert_no_error(error);
    g_assert_cmpint(store_schema_version_found(s), ==, 0);
    g_assert_cmpint(store_schema_version(s), ==, store_schema_latest());
    store_close(s);
}

/* ---- issue 14: agencies act by mail ---------------------------------------------------------- */

static DraftAttachment *file_named(const char *name)
{
    DraftAttachment *a = g_new0(DraftAttachment, 1);
    a->filename = g_strdup(name);
    a->content_type = g_strdup("application/pdf");
    a->kind = g_strdup("document");
    a->size = 1000;
    a->sha256 = sha256_bytes(name, strlen(name));
    a->path = g_strdup_printf("/nonexistent/%s", name);
    return a;
}

static gint64 stored_report(Fixture *f)
{
    g_autoptr(Draft) d = complete_draft();
    g_ptr_array_add(d->attachments, file_named("anh-hien-truong.jpg"));
    ReportRef ref = {0};
    GError *error = NULL;
    g_assert_true(store_begin(f->store, &error));
    g_assert_true(report_create(f->store, d, NULL, "PAHT", f->zone, t("2026-11-23T08:00:00+07:00"),
                                0, &ref, &error));
    g_assert_true(store_commit(f->store, &error));
    g_assert_no_error(error);
    gint64 id = ref.id;
    report_ref_clear(&ref);
    return id;
}

static void test_agency_files_kept_apart_and_a_result_replaces_its_files(Fixture *f,
                                                                         gconstpointer data)
{
    gint64 id = stored_report(f);
    GError *error = NULL;
    g_autoptr(GPtrArray) first =
        g_ptr_array_new_with_free_func((GDestroyNotify)draft_attachment_free);
    g_ptr_array_add(first, file_named("ket-qua-1.pdf"));
    g_autoptr(GPtrArray) second =
        g_ptr_array_new_with_free_func((GDestroyNotify)draft_attachment_free);
    g_ptr_array_add(second, file_named("ket-qua-2.pdf"));
    g_autoptr(GPtrArray) opinion =
        g_ptr_array_new_with_free_func((GDestroyNotify)draft_attachment_free);
    g_ptr_array_add(opinion, file_named("y-kien.pdf"));
    g_assert_true(report_add_files(f->store, id, 0, ATTACHMENT_RESULT, first, &error));
    g_assert_true(report_add_files(f->store, id, 0, ATTACHMENT_OPINION, opinion, &error));
    g_assert_true(report_add_files(f->store, id, 0, ATTACHMENT_RESULT, second, &error));
    g_assert_no_error(error);
    g_autoptr(Report) r = report_load_id(f->store, id, &error);
    g_assert_no_error(error);
    /* the citizen's file is the report's; the agencies' are apart, the first result replaced */
    g_assert_cmpuint(r->attachments->len, ==, 1);
    g_assert_cmpstr(((StoredAttachment *)g_ptr_array_index(r->attachments, 0))->role, ==,
                    ATTACHMENT_CITIZEN);
    g_assert_cmpuint(r->agency_files->len, ==, 3);
    static const char *const expected[][2] = {{"ket-qua-1.pdf", ATTACHMENT_RESULT_REPLACED},
                                              {"y-kien.pdf", ATTACHMENT_OPINION},
                                              {"ket-qua-2.pdf", ATTACHMENT_RESULT}};
    for (guint i = 0; i < 3; i++) {
        const StoredAttachment *a = g_ptr_array_index(r->agency_files, i);
        g_assert_cmpstr(a->filename, ==, expected[i][0]);
        g_assert_cmpstr(a->role, ==, expected[i][1]);
    }
    g_autoptr(GPtrArray) drafts = report_list_drafts(f->store, &error);
    g_assert_cmpint(((ReportSummary *)g_ptr_array_index(drafts, 0))->n_attachments, ==, 1);
}

/* the files a batch's messages were written to, for the page cache to let go after its sync:
 * each one's raw mail and the attachments it brought (to its own report or, a reply, to the
 * report it answers), and none of another message's */
static gint64 raw_with_report(Fixture *f, const char *name, gint64 report_id,
                              const char *const *files)
{
    GError *error = NULL;
    g_autofree char *path = g_strdup_printf("/x/%s.eml", name);
    RawMessage raw = {.sha256 = (char *)name, .path = path, .size = 10, .received_at = 1};
    gint64 id = raw_message_insert(f->store, &raw, &error);
    g_assert_no_error(error);
    g_autoptr(GPtrArray) atts =
        g_ptr_array_new_with_free_func((GDestroyNotify)draft_attachment_free);
    for (int i = 0; files[i]; i++)
        g_ptr_array_add(atts, file_named(files[i]));
    g_assert_true(store_begin(f->store, &error));
    if (report_id == 0) {
        g_autoptr(Draft) d = complete_draft();
        g_ptr_array_extend_and_steal(d->attachments, g_steal_pointer(&atts));
        ReportRef ref = {0};
        g_assert_true(report_create(f->store, d, NULL, "PAHT", f->zone,
                                    t("2026-11-23T08:00:00+07:00"), id, &ref, &error));
        report_id = ref.id;
        report_ref_clear(&ref);
    } else {
        g_assert_true(report_add_files(f->store, report_id, id, ATTACHMENT_CITIZEN, atts, &error));
    }
    g_assert_true(raw_message_mark_processed(f->store, id, "report", report_id, &error));
    g_assert_true(store_commit(f->store, &error));
    g_assert_no_error(error);
    return id;
}

static int by_text(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_files_of_raw_messages(Fixture *f, gconstpointer data)
{
    static const char *const two[] = {"a1.jpg", "a2.jpg", NULL}, *const one[] = {"b1.jpg", NULL},
                             *const reply[] = {"c1.jpg", NULL}, *const none[] = {NULL};
    gint64 a = raw_with_report(f, "aa", 0, two);
    gint64 b = raw_with_report(f, "bb", 0, one);
    g_autoptr(RawMessage) first = raw_message_get(f->store, a, NULL);
    gint64 c = raw_with_report(f, "cc", first->report_id, reply);
    gint64 d = raw_with_report(f, "dd", 0, none);
    GError *error = NULL;
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    const gint64 ids[] = {a, 0, c, d, -1};
    g_assert_true(raw_message_files(f->store, ids, G_N_ELEMENTS(ids), paths, &error));
    g_assert_no_error(error);
    g_ptr_array_sort(paths, by_text);
    static const char *const expected[] = {"/nonexistent/a1.jpg", "/nonexistent/a2.jpg",
                                           "/nonexistent/c1.jpg", "/x/aa.eml",
                                           "/x/cc.eml",           "/x/dd.eml"};
    g_assert_cmpuint(paths->len, ==, G_N_ELEMENTS(expected));
    for (guint i = 0; i < paths->len; i++)
        g_assert_cmpstr(paths->pdata[i], ==, expected[i]);
    /* appended to what the array holds; none of b's */
    g_assert_true(raw_message_files(f->store, &b, 1, paths, &error));
    g_assert_cmpuint(paths->len, ==, G_N_ELEMENTS(expected) + 2);
    g_assert_cmpstr(paths->pdata[G_N_ELEMENTS(expected)], ==, "/x/bb.eml");
    g_assert_cmpstr(paths->pdata[G_N_ELEMENTS(expected) + 1], ==, "/nonexistent/b1.jpg");
}

static void test_action_address_acts_once(Fixture *f, gconstpointer data)
{
    gint64 id = stored_report(f);
    GError *error = NULL;
    const char *token = "0123456789abcdef01234567";
    g_assert_true(action_address_record(f->store, token, id, "result", "vanthu@sxd.example.vn",
                                        "assignment:1:1:xd", t("2026-11-23T09:00:00+07:00"),
                                        &error));
    ActionAddress *none = NULL;
    g_assert_true(action_address_find(f->store, "ffffffffffffffffffffffff", &none, &error));
    g_assert_null(none);
    g_autoptr(ActionAddress) a = NULL;
    g_assert_true(action_address_find(f->store, token, &a, &error));
    g_assert_nonnull(a);
    g_assert_cmpint(a->report_id, ==, id);
    g_assert_cmpstr(a->action, ==, "result");
    g_assert_cmpstr(a->recipient, ==, "vanthu@sxd.example.vn");
    g_assert_cmpint(a->used_at, ==, 0);
    gboolean first = FALSE;
    g_assert_true(
        action_address_use(f->store, a->id, 0, t("2026-11-24T10:00:00+07:00"), &first, &error));
    g_assert_true(first);
    g_assert_true(
        action_address_use(f->store, a->id, 0, t("2026-11-25T10:00:00+07:00"), &first, &error));
    g_assert_false(first);
    /* the same letter offered again: the address keeps its first life */
    g_assert_true(action_address_record(f->store, token, id, "result", "vanthu@sxd.example.vn",
                                        "assignment:1:1:xd", t("2026-11-30T09:00:00+07:00"),
                                        &error));
    g_autoptr(ActionAddress) again = NULL;
    g_assert_true(action_address_find(f->store, token, &again, &error));
    g_assert_no_error(error);
    g_assert_cmpint(again->created_at, ==, t("2026-11-23T09:00:00+07:00"));
    g_assert_cmpint(again->used_at, ==, t("2026-11-24T10:00:00+07:00"));
}

/* the files of reports stored before issue 14 are the citizens' */
static void test_files_before_the_upgrade_are_the_citizens(Fixture *f, gconstpointer data)
{
    const int before = store_schema_first_with("ADD COLUMN role") - 1;
    g_assert_cmpint(before, >, 0);
    g_autofree char *path = older_database(f, before);
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_exec(db,
                                 "INSERT INTO report(id, code, token, state, classification,"
                                 " received_at, updated_at) VALUES (1, 'PAHT-2026-000001', 'ab',"
                                 " 'draft', 'report', 0, 0);"
                                 "INSERT INTO attachment(report_id, filename, content_type, kind,"
                                 " size, sha256, path) VALUES (1, 'anh.jpg', 'image/jpeg',"
                                 " 'image', 1, 'x', '/x')",
                                 NULL, NULL, NULL),
                    ==, SQLITE_OK);
    sqlite3_close(db);
    GError *error = NULL;
    Store *s = store_open(path, &error);
    g_assert_no_error(error);
    Report *r = report_load_id(s, 1, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(r->attachments->len, ==, 1);
    g_assert_cmpuint(r->agency_files->len, ==, 0);
    report_free(r);
    store_close(s);
}

/* ---- SQLite's statement journal and busy waits ---- */

/* the default VFS with its file opens counted: a statement journal that spills to disk opens
 * a file with SQLITE_OPEN_SUBJOURNAL (in /var/tmp, deleted at once) */
static sqlite3_vfs *real_vfs;
static sqlite3_vfs counting_vfs;
static int subjournal_files;

static int counting_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags,
                         int *out_flags)
{
    (void)vfs;
    if (flags & SQLITE_OPEN_SUBJOURNAL)
        subjournal_files++;
    return real_vfs->xOpen(real_vfs, name, file, flags, out_flags);
}

static void exec_ok(Store *store, const char *sql)
{
    char *message = NULL;
    int rc = sqlite3_exec(store_connection(store), sql, NULL, NULL, &message);
    if (rc != SQLITE_OK)
        g_error("%s: %s", sql, message);
}

static gint64 count_rows(Store *store, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    g_assert_cmpint(sqlite3_prepare_v2(store_connection(store), sql, -1, &stmt, NULL), ==,
                    SQLITE_OK);
    g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
    gint64 n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
}

/* An insert whose FTS5 index merged segments changed more than 64 KiB of pages in one
 * statement of a transaction; SQLite spilled their old copies to a temporary file, created and
 * deleted each time (one every three mails of an ingest). Up to 8 MiB stays in memory now. */
/* A full disk in the middle of a transaction: SQLite rolls the whole of it back on its own
 * (SQLITE_FULL on a plain INSERT, inside a savepoint too). The levels still open must fail,
 * not begin a new transaction that their commit would make durable without the work before
 * the error (a parser commits the messages of its queue in one transaction, a savepoint
 * each). */
static void test_transaction_sqlite_rolled_back_stays_failed(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(Draft) d = complete_draft();
    GError *error = NULL;
    ReportRef ref = {0};
    begin_with_report(f, d, &ref);
    g_assert_true(store_begin(f->store, &error));
    g_assert_true(event_add(f->store, ref.id, "test", "kept", NULL, &error));
    g_assert_true(store_commit(f->store, &error));

    /* the database may not grow: the next big row fills it */
    sqlite3 *db = store_connection(f->store);
    g_autofree char *limit =
        g_strdup_printf("PRAGMA max_page_count = %" G_GINT64_FORMAT,
                        count_rows(f->store, "SELECT page_count FROM pragma_page_count()") + 1);
    exec_ok(f->store, limit);
    g_autofree char *big = g_strnfill(300000, 'x');
    g_assert_true(store_begin(f->store, &error));
    g_assert_false(event_add(f->store, ref.id, "test", big, NULL, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY);
    g_assert_nonnull(strstr(error->message, "full"));
    g_clear_error(&error);
    g_assert_cmpint(sqlite3_get_autocommit(db), ==, 1); /* SQLite rolled it all back */
    store_rollback(f->store);
    exec_ok(f->store, "PRAGMA max_page_count = 1073741823");

    /* a step after it fails, and writes nothing */
    g_assert_false(store_begin(f->store, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY);
    g_assert_nonnull(strstr(error->message, "rolled back after an earlier error"));
    g_assert_nonnull(strstr(error->message, "full"));
    g_clear_error(&error);
    g_assert_cmpint(sqlite3_get_autocommit(db), ==, 1);
    /* and so does the outermost commit */
    g_assert_false(store_commit(f->store, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY);
    g_clear_error(&error);
    report_ref_clear(&ref);
    g_assert_cmpint(count_rows(f->store, "SELECT COUNT(*) FROM report"), ==, 0);
    g_assert_cmpint(count_rows(f->store, "SELECT COUNT(*) FROM event"), ==, 0);

    /* closed, the store works again, from the first level */
    begin_with_report(f, d, &ref);
    g_assert_true(store_commit(f->store, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(ref.code, ==, "PAHT-2026-000001");
    report_ref_clear(&ref);
    g_assert_cmpint(count_rows(f->store, "SELECT COUNT(*) FROM report"), ==, 1);
}

static void test_statement_journal_kept_in_memory(Fixture *f, gconstpointer data)
{
    (void)data;
    real_vfs = sqlite3_vfs_find(NULL);
    counting_vfs = *real_vfs;
    counting_vfs.zName = "paht-counting";
    counting_vfs.xOpen = counting_open;
    g_assert_cmpint(sqlite3_vfs_register(&counting_vfs, 1), ==, SQLITE_OK);

    g_autofree char *path = g_build_filename(f->dir, "journal.db", NULL);
    GError *error = NULL;
    Store *s = store_open(path, &error);
    g_assert_no_error(error);
    /* from here: the migrations' own statements spill past the sanitizer build's 64 KiB */
    subjournal_files = 0;
    /* rows of 2 KB, a seventh of the spill in all (1.2 MB; 8 KB in the sanitizer build); a
     * trigger, as FTS5's, makes every statement that fires it keep a statement journal inside
     * a transaction */
    int rows = STORE_STATEMENT_JOURNAL_SPILL / 14000;
    exec_ok(s, "CREATE TABLE big(id INTEGER PRIMARY KEY, v TEXT);"
               "CREATE TABLE seen(n INTEGER);"
               "CREATE TRIGGER big_seen AFTER UPDATE ON big BEGIN"
               "  INSERT INTO seen VALUES (new.id); END;");
    g_autofree char *fill = g_strdup_printf(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
        "  INSERT INTO big SELECT i, lower(hex(randomblob(1000))) FROM n;",
        rows);
    exec_ok(s, fill);
    g_assert_true(store_begin(s, &error));
    exec_ok(s, "INSERT INTO seen VALUES (0)");
    exec_ok(s, "UPDATE big SET v = upper(v)");
    g_assert_true(store_commit(s, &error));
    g_assert_no_error(error);
    g_assert_cmpint(count_rows(s, "SELECT COUNT(*) FROM seen"), ==, rows + 1);
    g_assert_cmpint(count_rows(s, "SELECT COUNT(*) FROM big WHERE v = upper(v)"), ==, rows);
    store_close(s);
    sqlite3_vfs_unregister(&counting_vfs);
    g_assert_cmpint(subjournal_files, ==, 0);
}

/* pahtd's parser process leaves the WAL's checkpoints to pahtd: its commits never run one,
 * however long the WAL grows (SQLite's automatic checkpoint would copy it back at 1,000 pages
 * and the next writer would start the WAL anew) */
static void test_checkpoints_left_to_another_connection(Fixture *f, gconstpointer data)
{
    (void)data;
    GError *error = NULL;
    g_assert_true(store_sync_each_commit(f->store, TRUE, &error)); /* checkpoints at 1,000 */
    g_assert_true(store_checkpoint_elsewhere(f->store, &error));
    g_assert_no_error(error);
    exec_ok(f->store, "CREATE TABLE filler(v BLOB)");
    for (int i = 0; i < 30; i++)
        exec_ok(f->store, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                          "WHERE i < 100) INSERT INTO filler SELECT randomblob(3000) FROM n");
    /* 3,000 rows of 3,000 bytes: over 2,000 pages, all still in the WAL (none copied back) */
    sqlite3_stmt *stmt = NULL;
    g_assert_cmpint(sqlite3_prepare_v2(store_connection(f->store), "PRAGMA wal_checkpoint(PASSIVE)",
                                       -1, &stmt, NULL),
                    ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
    gint64 frames = sqlite3_column_int64(stmt, 1);
    sqlite3_finalize(stmt);
    g_assert_cmpint(frames, >, 2000);
}

static gint64 file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (gint64)st.st_size : -1;
}

/* After a failed sync (gateway.c), the database is copied whole into its file and the WAL
 * emptied: a crash must not read back frames a failed write may have spoiled. Another
 * connection keeps its rows; the WAL file is then empty until the next commit. */
static void test_checkpoint_whole_empties_the_wal(Fixture *f, gconstpointer data)
{
    (void)data;
    GError *error = NULL;
    g_assert_true(store_sync_each_commit(f->store, FALSE, &error));
    g_assert_true(store_checkpoint_elsewhere(f->store, &error));
    g_assert_no_error(error);
    exec_ok(f->store, "CREATE TABLE filler(v BLOB)");
    exec_ok(f->store, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                      "WHERE i < 200) INSERT INTO filler SELECT randomblob(3000) FROM n");
    g_autofree char *wal = g_strconcat(f->path, "-wal", NULL);
    g_assert_cmpint(file_size(wal), >, 200 * 3000);
    gint64 before = file_size(f->path);
    gint64 wal_bytes = 0;
    g_assert_true(store_checkpoint_whole(f->store, &wal_bytes, &error));
    g_assert_no_error(error);
    g_assert_cmpint(wal_bytes, >, 200 * 3000);
    g_assert_cmpint(file_size(wal), ==, 0);
    g_assert_cmpint(file_size(f->path), >, before + 200 * 3000);
    Store *other = store_open(f->path, &error);
    g_assert_no_error(error);
    g_assert_cmpint(count_rows(other, "SELECT COUNT(*) FROM filler"), ==, 200);
    /* and the next commit writes the WAL anew */
    exec_ok(other, "INSERT INTO filler VALUES (x'00')");
    g_assert_cmpint(file_size(wal), >, 0);
    g_assert_cmpint(count_rows(f->store, "SELECT COUNT(*) FROM filler"), ==, 201);
    store_close(other);
}

typedef struct {
    Store *store;
    gboolean began;
} Waiter;

static gpointer begin_in_thread(gpointer data)
{
    Waiter *w = data;
    GError *error = NULL;
    w->began = store_begin(w->store, &error);
    g_assert_no_error(error);
    return NULL;
}

/* SQLite's own busy timeout slept 1, 2, 5, 10 ms and more between two asks, where the other
 * pahtd process holds the lock well under a millisecond: the first 5 ms are asked every
 * 100 µs now, then every millisecond, then every 10 ms, and the wait ends after 15 s */
static void test_busy_lock_asked_again_soon(Fixture *f, gconstpointer data)
{
    (void)data;
    g_assert_cmpint(store_busy_pause_us(0), ==, 100);
    g_assert_cmpint(store_busy_pause_us(4999), ==, 100);
    g_assert_cmpint(store_busy_pause_us(5000), ==, 1000);
    g_assert_cmpint(store_busy_pause_us(99999), ==, 1000);
    g_assert_cmpint(store_busy_pause_us(100000), ==, 10000);
    g_assert_cmpint(store_busy_pause_us(14999999), ==, 10000);
    g_assert_cmpint(store_busy_pause_us(15000000), ==, 0);

    /* and a writer that found the lock taken gets it once the holder commits */
    GError *error = NULL;
    Waiter w = {store_open(f->path, &error), FALSE};
    g_assert_no_error(error);
    g_assert_true(store_begin(f->store, &error));
    GThread *thread = g_thread_new("waiter", begin_in_thread, &w);
    gint64 give_up = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    /* busy_since is set by the waiter's busy handler when it first finds the lock taken */
    while (*(volatile gint64 *)&w.store->busy_since == 0 && g_get_monotonic_time() < give_up)
        g_usleep(1000);
    g_assert_cmpint(w.store->busy_since, !=, 0); /* it was kept waiting */
    g_assert_true(store_commit(f->store, &error));
    g_thread_join(thread);
    g_assert_true(w.began);
    store_rollback(w.store);
    store_close(w.store);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_init("test");
    log_set_level(LOG_LEVEL_ERROR);
#define ADD(name, fn) g_test_add("/store/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("created-private-wal-migrated", test_created_private_wal_migrated);
    ADD("lookups-tell-none-from-a-failure", test_lookups_tell_none_from_a_failure);
    ADD("world-readable-database-refused", test_world_readable_database_refused);
    ADD("first-openers-race", test_first_openers_race);
    ADD("older-schema-refused-unless-migrating", test_older_schema_refused_unless_migrating);
    ADD("newer-schema-refused-by-every-policy", test_newer_schema_refused_by_every_policy);
    ADD("new-database-made-at-this-version-by-exact",
        test_new_database_made_at_this_version_by_exact);
    ADD("tracking-codes-per-year-in-province-zone", test_tracking_codes_per_year_in_province_zone);
    ADD("report-roundtrip-and-states", test_report_roundtrip_and_states);
    ADD("rollback-leaves-nothing", test_rollback_leaves_nothing);
    ADD("transaction-sqlite-rolled-back-stays-failed",
        test_transaction_sqlite_rolled_back_stays_failed);
    ADD("raw-messages-recorded-once", test_raw_messages_recorded_once);
    ADD("raw-message-found-by-bytes-or-message-id-and-body",
        test_raw_message_found_by_bytes_or_message_id_and_body);
    ADD("raw-message-move-steps", test_raw_message_move_steps);
    ADD("files-of-raw-messages", test_files_of_raw_messages);
    ADD("message-failures-counted-due-given-up", test_message_failures);
    ADD("mailbox-state", test_mailbox_state);
    ADD("outbox-enqueued-once", test_outbox_enqueued_once);
    ADD("outbox-lease-rules", test_outbox_lease_rules);
    ADD("outbox-oldest-first", test_outbox_oldest_first);
    ADD("agency-files-kept-apart-and-a-result-replaces-its-files",
        test_agency_files_kept_apart_and_a_result_replaces_its_files);
    ADD("action-address-acts-once", test_action_address_acts_once);
    ADD("statement-journal-kept-in-memory", test_statement_journal_kept_in_memory);
    ADD("busy-lock-asked-again-soon", test_busy_lock_asked_again_soon);
    ADD("checkpoints-left-to-another-connection", test_checkpoints_left_to_another_connection);
    ADD("checkpoint-whole-empties-the-wal", test_checkpoint_whole_empties_the_wal);
    ADD("files-before-the-upgrade-are-the-citizens",
        test_files_before_the_upgrade_are_the_citizens);
    return g_test_run();
}
