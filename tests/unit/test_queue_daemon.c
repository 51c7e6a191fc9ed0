/* What the daemon keeps in the store for crash safety and outages, on real SQLite files:
 * its own state across reopenings, and a message processed only once however many processes
 * try (an orphaned worker, two reprocess commands). */
#include "queue/queue.h"
#include "util/util.h"

#include <glib/gstdio.h>

typedef struct {
    char *dir;
    char *path;
    Store *store;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("paht-daemon-XXXXXX", NULL);
    f->path = g_build_filename(f->dir, "paht.db", NULL);
    GError *error = NULL;
    f->store = store_open(f->path, &error);
    g_assert_no_error(error);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    store_close(f->store);
    g_autofree char *wal = g_strconcat(f->path, "-wal", NULL);
    g_autofree char *shm = g_strconcat(f->path, "-shm", NULL);
    g_remove(wal);
    g_remove(shm);
    g_remove(f->path);
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f->path);
}

static void test_state_survives_reopening(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    g_autofree char *none = NULL;
    g_assert_true(daemon_state_get(f->store, "mailbox_down_since", &none, &error));
    g_assert_no_error(error);
    g_assert_null(none);

    g_assert_true(daemon_state_set(f->store, "mailbox_down_since", "1795900000", &error));
    g_assert_true(daemon_state_set(f->store, "mailbox_down_since", "1795900042", &error));
    g_assert_true(daemon_state_set(f->store, "other", "x", &error));
    g_assert_no_error(error);
    store_close(f->store);
    f->store = store_open(f->path, &error);
    g_assert_no_error(error);

    g_autofree char *since = NULL;
    g_assert_true(daemon_state_get(f->store, "mailbox_down_since", &since, &error));
    g_assert_cmpstr(since, ==, "1795900042");
    /* deleting one key leaves the others */
    g_assert_true(daemon_state_set(f->store, "mailbox_down_since", NULL, &error));
    g_autofree char *gone = NULL;
    g_assert_true(daemon_state_get(f->store, "mailbox_down_since", &gone, &error));
    g_assert_null(gone);
    g_autofree char *other = NULL;
    g_assert_true(daemon_state_get(f->store, "other", &other, &error));
    g_assert_cmpstr(other, ==, "x");
    g_assert_no_error(error);
}

static gint64 insert_raw(Fixture *f, const char *state)
{
    RawMessage raw = {
        .mailbox = (char *)"INBOX",
        .uidvalidity = 7,
        .uid = 1,
        .message_id = (char *)"m1@example.vn",
        .sha256 = (char *)"00ff",
        .path = (char *)"/nonexistent",
        .size = 10,
        .received_at = 1795900000,
    };
    GError *error = NULL;
    gint64 id = raw_message_insert(f->store, &raw, &error);
    g_assert_no_error(error);
    if (state)
        g_assert_true(raw_message_set_state(f->store, id, state, "why", &error));
    g_assert_no_error(error);
    return id;
}

static void test_processed_only_once(Fixture *f, gconstpointer data)
{
    gint64 id = insert_raw(f, NULL);
    GError *error = NULL;
    g_assert_true(store_begin(f->store, &error));
    g_assert_true(raw_message_mark_processed(f->store, id, "auto", 0, &error));
    g_assert_true(store_commit(f->store, &error));
    g_assert_no_error(error);

    /* a second process that parsed the same message must not commit it again */
    g_assert_true(store_begin(f->store, &error));
    g_assert_false(raw_message_mark_processed(f->store, id, "report", 0, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED);
    g_clear_error(&error);
    store_rollback(f->store);
    g_autoptr(RawMessage) raw = raw_message_get(f->store, id, &error);
    g_assert_cmpstr(raw->state, ==, "processed");
    g_assert_cmpstr(raw->classification, ==, "auto");

    /* moved is done too */
    g_assert_true(raw_message_set_state(f->store, id, "moved", NULL, &error));
    g_assert_false(raw_message_mark_processed(f->store, id, "report", 0, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED);
    g_clear_error(&error);
}

static void test_kept_aside_message_can_be_processed(Fixture *f, gconstpointer data)
{
    /* reprocess: an unparsed or quarantined message may still become processed, once */
    for (guint i = 0; i < 2; i++) {
        gint64 id = insert_raw(f, i == 0 ? "unparsed" : "quarantined");
        GError *error = NULL;
        g_assert_true(raw_message_mark_processed(f->store, id, "report", 0, &error));
        g_assert_no_error(error);
        g_assert_false(raw_message_mark_processed(f->store, id, "report", 0, &error));
        g_assert_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED);
        g_clear_error(&error);
        /* make the next insert a different message */
        g_assert_true(raw_message_relocate(f->store, id, "INBOX", 7, 100 + i, &error));
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_init("test_queue_daemon");
    g_test_add("/queue/daemon/state-survives-reopening", Fixture, NULL, fixture_setup,
               test_state_survives_reopening, fixture_teardown);
    g_test_add("/queue/daemon/processed-only-once", Fixture, NULL, fixture_setup,
               test_processed_only_once, fixture_teardown);
    g_test_add("/queue/daemon/kept-aside-can-be-processed", Fixture, NULL, fixture_setup,
               test_kept_aside_message_can_be_processed, fixture_teardown);
    return g_test_run();
}
