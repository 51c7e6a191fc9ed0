/* Outbound without a mail server (issue 6): envelope tokens (VERP), the bounce key, DSN intake
 * rules, and a flush pass against a closed port: suspended and never-answer addresses fail
 * before any SMTP, a dead sender's letter is taken back at once, failures go into one digest
 * an hour, and pahtctl resend lifts a suspension. The conversation with a real Postfix is in
 * tests/integration/test_outbound*.py. */
#include "gateway/gateway_private.h"
#include "gateway_fixture.h"
#include "letter_fixture.h"
#include "letters/letters.h"
#include "util/util.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gmime/gmime.h>
#include <locale.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FROM "paht@soctrang.gov.vn"
#define IOC  "ioc@soctrang.gov.vn"

typedef GatewayFixture Fixture;

/* a loopback port where nothing listens */
static int closed_port(void)
{
    g_autoptr(GSocket) socket =
        g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
    g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(loopback, 0);
    g_assert_true(g_socket_bind(socket, any, TRUE, NULL));
    g_autoptr(GSocketAddress) bound = g_socket_get_local_address(socket, NULL);
    int port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
    g_socket_close(socket, NULL);
    return port;
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    FixtureConfig opts = {
        .agencies = "[agency xd]\nname = Sở Xây dựng\n"
                    "contact = vanthu@sxd.soctrang.gov.vn\n"
                    "leader = giamdoc@sxd.soctrang.gov.vn\n"
                    "leader_name = Nguyễn Văn A\n",
    };
    g_autofree char *smtp =
        g_strdup_printf("[smtp]\nurl = smtp://127.0.0.1:%d\ntimeout_seconds = 5\n", closed_port());
    opts.extra = smtp;
    gateway_fixture_open_with(f, "outbound", &opts);
    g_setenv("PAHT_NOW", "2026-11-30T09:00:00+07:00", TRUE);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    gateway_fixture_close(f);
    g_unsetenv("PAHT_NOW");
}

static GBytes *test_key(const char *fill)
{
    GString *s = g_string_new(NULL);
    while (s->len < 64)
        g_string_append(s, fill);
    gsize len = s->len;
    return g_bytes_new_take(g_string_free(s, FALSE), len);
}

static gint64 enqueue_kind(Fixture *f, const char *kind, const char *key, const char *rcpt,
                           const char *message_id)
{
    static const char text[] = "From: paht@soctrang.gov.vn\r\nSubject: x\r\n\r\nhello\r\n";
    g_autoptr(GBytes) body = g_bytes_new_static(text, sizeof text - 1);
    OutboxNew item = {.dedupe_key = key,
                      .kind = kind,
                      .rcpt = rcpt,
                      .mail_from = FROM,
                      .message_id = message_id,
                      .message = body};
    gint64 id = 0;
    GError *error = NULL;
    g_assert_true(outbox_enqueue(f->store, &item, &id, NULL, &error));
    g_assert_no_error(error);
    return id;
}

static gint64 enqueue(Fixture *f, const char *key, const char *rcpt, const char *message_id)
{
    return enqueue_kind(f, "ack", key, rcpt, message_id);
}

/* a letter sent with its envelope token recorded, as outbound.c does it */
static gint64 sent_letter(Fixture *f, const char *key, const char *rcpt, const char *message_id,
                          GBytes *bounce_key, char **envelope_out)
{
    gint64 id = enqueue(f, key, rcpt, message_id);
    GError *error = NULL;
    g_autoptr(OutboxClaim) c = fixture_claim_next(f->store, clock_now_unix(), NULL);
    g_assert_cmpint(c->id, ==, id);
    g_autofree char *envelope = outbound_envelope_address(FROM, id, message_id, bounce_key);
    OutboxResult r = {.outcome = OUTBOX_SENT, .reply = "250 ok", .envelope_from = envelope};
    g_assert_true(outbox_finish(f->store, c, &r, &error));
    g_assert_no_error(error);
    if (envelope_out)
        *envelope_out = g_steal_pointer(&envelope);
    return id;
}

static OutboxEntry *letter(Fixture *f, gint64 id)
{
    GError *error = NULL;
    OutboxEntry *e = outbox_get(f->store, id, &error);
    g_assert_no_error(error);
    return e;
}

static gboolean suspended(Fixture *f, const char *address)
{
    g_autoptr(AddressSuspension) s = fixture_suspension(f->store, address, clock_now_unix());
    return s != NULL;
}

/* ---- envelope tokens ----------------------------------------------------------------------- */

static void test_envelope_address_round_trip(Fixture *f, gconstpointer data)
{
    g_autoptr(GBytes) key = test_key("k");
    g_autofree char *a = outbound_envelope_address(FROM, 42, "paht.1@soctrang.gov.vn", key);
    g_assert_true(g_regex_match_simple("^paht\\+b-42-[0-9a-f]{16}@soctrang\\.gov\\.vn$", a, 0, 0));
    g_assert_cmpint(outbound_envelope_letter(a, FROM), ==, 42);
    g_autofree char *upper = g_ascii_strup(a, -1);
    g_assert_cmpint(outbound_envelope_letter(upper, FROM), ==, 42);
    /* the mac depends on the key, the letter and its Message-ID */
    g_autoptr(GBytes) other = test_key("z");
    g_autofree char *b = outbound_envelope_address(FROM, 42, "paht.1@soctrang.gov.vn", other);
    g_autofree char *c = outbound_envelope_address(FROM, 42, "paht.2@soctrang.gov.vn", key);
    g_autofree char *d = outbound_envelope_address(FROM, 43, "paht.1@soctrang.gov.vn", key);
    g_assert_cmpstr(a, !=, b);
    g_assert_cmpstr(a, !=, c);
    g_assert_cmpstr(strchr(a, '-') + 3, !=, strchr(d, '-') + 3);

    const char *not_ours[] = {
        "paht+b-42-0123456789abcdef@other.gov.vn",
        "pahtx+b-42-0123456789abcdef@soctrang.gov.vn",
        "paht+42-0123456789abcdef@soctrang.gov.vn",
        "paht+b--0123456789abcdef@soctrang.gov.vn",
        "paht+b-42-0123456789abcde@soctrang.gov.vn",
        "paht+b-42-0123456789abcdeg@soctrang.gov.vn",
        "paht+b-42@soctrang.gov.vn",
        "paht@soctrang.gov.vn",
        "paht+4f2a9c@soctrang.gov.vn", /* a report's reply token */
        "",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(not_ours); i++)
        g_assert_cmpint(outbound_envelope_letter(not_ours[i], FROM), ==, 0);
    g_assert_cmpint(outbound_envelope_letter(NULL, FROM), ==, 0);

    /* no room for the token in a 64-character local part: no VERP, never a broken address */
    g_autofree char *long_from =
        g_strdup_printf("%s@soctrang.gov.vn", "p123456789012345678901234567890123456789012345");
    g_assert_null(outbound_envelope_address(long_from, 42, "m", key));
    g_assert_null(outbound_envelope_address("no-at-sign", 42, "m", key));
}

static void test_status_suspends(Fixture *f, gconstpointer data)
{
    g_assert_true(outbound_status_suspends("5.1.1"));
    g_assert_true(outbound_status_suspends("5.1.2"));
    g_assert_true(outbound_status_suspends("5.4.4")); /* no route to the domain */
    g_assert_true(outbound_status_suspends("5.0.0"));
    g_assert_false(outbound_status_suspends("5.7.1")); /* policy: our mail, not the address */
    g_assert_false(outbound_status_suspends("5.3.4")); /* our letter too large */
    g_assert_false(outbound_status_suspends("5.6.0"));
    g_assert_false(outbound_status_suspends("5.2.2")); /* mailbox full */
    g_assert_false(outbound_status_suspends("4.2.2"));
    g_assert_false(outbound_status_suspends("2.0.0"));
    g_assert_false(outbound_status_suspends(NULL));
}

/* the envelope key, which must be there (or be made) */
static GBytes *bounce_key(Fixture *f, gboolean create)
{
    GBytes *key = NULL;
    GError *error = NULL;
    g_assert_true(outbound_bounce_key(f->config, create, &key, &error));
    g_assert_no_error(error);
    g_assert_nonnull(key);
    return key;
}

static void test_bounce_key_made_once_and_private(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    g_autoptr(GBytes) none = NULL;
    g_assert_true(outbound_bounce_key(f->config, FALSE, &none, &error));
    g_assert_null(none);
    g_autoptr(GBytes) made = bounce_key(f, TRUE);
    g_assert_cmpuint(g_bytes_get_size(made), ==, 64);
    g_autofree char *path = g_build_filename(f->config->gateway.data_dir, "bounce.key", NULL);
    GStatBuf st;
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    g_autoptr(GBytes) again = bounce_key(f, TRUE);
    g_assert_true(g_bytes_equal(made, again));
    /* [smtp] bounce_secret_file wins when pahtd read it */
    f->config->smtp.bounce_secret = g_strdup("a secret of the administrator's choosing");
    g_autoptr(GBytes) configured = bounce_key(f, FALSE);
    g_assert_cmpmem(g_bytes_get_data(configured, NULL), g_bytes_get_size(configured),
                    f->config->smtp.bounce_secret, strlen(f->config->smtp.bounce_secret));
}

/* ---- DSN intake ---------------------------------------------------------------------------- */

static Draft *dsn(const char *to, const char *original_message_id, const char *status)
{
    Draft *d = draft_new();
    d->classification = g_strdup("bounce");
    g_ptr_array_add(d->recipients, g_strdup(to));
    d->dsn_original_message_id = g_strdup(original_message_id);
    d->dsn_status = g_strdup(status);
    d->dsn_recipient = g_strdup("an@example.vn");
    d->dsn_diagnostic = g_strdup("550 5.1.1 <an@example.vn>: User unknown\r\nBcc: x@y");
    return d;
}

static void intake(Fixture *f, const Draft *d)
{
    GError *error = NULL;
    g_assert_true(store_begin(f->store, &error));
    g_assert_true(bounce_intake(f->gw, 0, d, &error));
    g_assert_true(store_commit(f->store, &error));
    g_assert_no_error(error);
}

static char *bounce_row(Fixture *f)
{
    /* the last bounce recorded, as "outbox_id matched_by status" */
    sqlite3_stmt *stmt = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *db = g_build_filename(f->dir, "paht.db", NULL);
    sqlite3 *handle = NULL;
    g_assert_cmpint(sqlite3_open_v2(db, &handle, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_prepare_v2(handle,
                                       "SELECT coalesce(outbox_id, 0), coalesce(matched_by, '-'),"
                                       " coalesce(status, '-') FROM bounce ORDER BY id DESC",
                                       -1, &stmt, NULL),
                    ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
    char *row = g_strdup_printf("%lld %s %s", sqlite3_column_int64(stmt, 0),
                                sqlite3_column_text(stmt, 1), sqlite3_column_text(stmt, 2));
    sqlite3_finalize(stmt);
    sqlite3_close(handle);
    return row;
}

static void test_dsn_matched_by_envelope_suspends(Fixture *f, gconstpointer data)
{
    g_autoptr(GBytes) key = bounce_key(f, TRUE);
    g_autofree char *envelope = NULL;
    gint64 id = sent_letter(f, "k1", "an@example.vn", "paht.1@soctrang.gov.vn", key, &envelope);
    g_autoptr(Draft) d = dsn(envelope, NULL, "5.1.1");
    intake(f, d);
    g_autoptr(OutboxEntry) e = letter(f, id);
    g_assert_cmpstr(e->state, ==, "failed");
    g_assert_cmpstr(e->failure_status, ==, "5.1.1");
    g_assert_nonnull(strstr(e->last_reply, "DSN 5.1.1"));
    g_assert_null(strchr(e->last_reply, '\n')); /* the remote server's words, one line */
    g_assert_true(suspended(f, "AN@example.vn"));
    g_autoptr(AddressSuspension) s =
        fixture_suspension(f->store, "an@example.vn", clock_now_unix());
    g_assert_cmpint(s->until - clock_now_unix(), ==, 60 * 24 * 3600);
    g_autofree char *row = bounce_row(f);
    g_autofree char *expected = g_strdup_printf("%" G_GINT64_FORMAT " envelope 5.1.1", id);
    g_assert_cmpstr(row, ==, expected);
}

static void test_dsn_forged_token_matches_nothing(Fixture *f, gconstpointer data)
{
    g_autoptr(GBytes) key = bounce_key(f, TRUE);
    gint64 id = sent_letter(f, "k1", "an@example.vn", "paht.1@soctrang.gov.vn", key, NULL);
    g_autofree char *forged =
        g_strdup_printf("paht+b-%" G_GINT64_FORMAT "-0123456789abcdef@soctrang.gov.vn", id);
    g_autoptr(Draft) d = dsn(forged, "someone.else@example.vn", "5.1.1");
    intake(f, d);
    g_autoptr(OutboxEntry) e = letter(f, id);
    g_assert_cmpstr(e->state, ==, "sent");
    g_assert_false(suspended(f, "an@example.vn"));
    g_autofree char *row = bounce_row(f);
    g_assert_cmpstr(row, ==, "0 - 5.1.1");
}

/* pahtctl has no secrets: a letter's recorded envelope verifies the token without the key;
 * one sent before envelopes were recorded is verified with the key */
static void test_dsn_token_verified_without_the_key_or_with_it(Fixture *f, gconstpointer data)
{
    g_autoptr(GBytes) key = test_key("s");
    f->config->smtp.bounce_secret = g_strndup(g_bytes_get_data(key, NULL), 64);
    g_autofree char *envelope = NULL;
    gint64 a = sent_letter(f, "k1", "an@example.vn", "paht.1@soctrang.gov.vn", key, &envelope);
    g_clear_pointer(&f->config->smtp.bounce_secret, g_free); /* as pahtctl sees it */
    g_autoptr(Draft) d1 = dsn(envelope, NULL, "5.1.1");
    intake(f, d1);
    g_autoptr(OutboxEntry) ea = letter(f, a);
    g_assert_cmpstr(ea->state, ==, "failed");

    gint64 b = sent_letter(f, "k2", "binh@example.vn", "paht.2@soctrang.gov.vn", NULL, NULL);
    g_autofree char *token = outbound_envelope_address(FROM, b, "paht.2@soctrang.gov.vn", key);
    g_autoptr(Draft) d2 = dsn(token, NULL, "5.1.1");
    intake(f, d2); /* no recorded envelope, no key: not trusted */
    g_autoptr(OutboxEntry) eb1 = letter(f, b);
    g_assert_cmpstr(eb1->state, ==, "sent");
    f->config->smtp.bounce_secret = g_strndup(g_bytes_get_data(key, NULL), 64);
    intake(f, d2);
    g_autoptr(OutboxEntry) eb2 = letter(f, b);
    g_assert_cmpstr(eb2->state, ==, "failed");
}

static void test_dsn_by_message_id_and_what_it_changes(Fixture *f, gconstpointer data)
{
    gint64 a = sent_letter(f, "k1", "an@example.vn", "paht.1@soctrang.gov.vn", NULL, NULL);
    /* delay and delivery notices: recorded, nothing changes */
    g_autoptr(Draft) delay = dsn(FROM, "<paht.1@soctrang.gov.vn>", "4.4.7");
    intake(f, delay);
    g_autoptr(Draft) delivered = dsn(FROM, "paht.1@soctrang.gov.vn", "2.0.0");
    intake(f, delivered);
    g_autoptr(OutboxEntry) e1 = letter(f, a);
    g_assert_cmpstr(e1->state, ==, "sent");
    g_autofree char *row = bounce_row(f);
    g_autofree char *expected = g_strdup_printf("%" G_GINT64_FORMAT " message_id 2.0.0", a);
    g_assert_cmpstr(row, ==, expected);
    /* mailbox full: failed, not suspended */
    g_autoptr(Draft) full = dsn(FROM, "paht.1@soctrang.gov.vn", "5.2.2");
    intake(f, full);
    g_autoptr(OutboxEntry) e2 = letter(f, a);
    g_assert_cmpstr(e2->state, ==, "failed");
    g_assert_false(suspended(f, "an@example.vn"));

    /* no status at all: failed, not suspended */
    gint64 b = sent_letter(f, "k2", "binh@example.vn", "paht.2@soctrang.gov.vn", NULL, NULL);
    g_autoptr(Draft) bare = dsn(FROM, "paht.2@soctrang.gov.vn", NULL);
    intake(f, bare);
    g_autoptr(OutboxEntry) eb = letter(f, b);
    g_assert_cmpstr(eb->state, ==, "failed");
    g_assert_false(suspended(f, "binh@example.vn"));

    /* the IOC's and an agency's addresses are never suspended: fix the configuration */
    gint64 c = sent_letter(f, "k3", IOC, "paht.3@soctrang.gov.vn", NULL, NULL);
    gint64 d =
        sent_letter(f, "k4", "vanthu@sxd.soctrang.gov.vn", "paht.4@soctrang.gov.vn", NULL, NULL);
    g_autoptr(Draft) ioc = dsn(FROM, "paht.3@soctrang.gov.vn", "5.1.1");
    g_autoptr(Draft) agency = dsn(FROM, "paht.4@soctrang.gov.vn", "5.1.1");
    intake(f, ioc);
    intake(f, agency);
    g_autoptr(OutboxEntry) ec = letter(f, c);
    g_autoptr(OutboxEntry) ed = letter(f, d);
    g_assert_cmpstr(ec->state, ==, "failed");
    g_assert_cmpstr(ed->state, ==, "failed");
    g_assert_false(suspended(f, IOC));
    g_assert_false(suspended(f, "vanthu@sxd.soctrang.gov.vn"));

    /* nothing is ever sent in answer to a DSN */
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, NULL);
    g_assert_cmpuint(all->len, ==, 4);
}

/* issue 11: a Message-ID is seen by everyone the letter reaches; only the signed envelope
 * proves that a DSN is about our letter, so a DSN matched by the Message-ID alone suspends
 * nobody (the letter is failed: the IOC reads it in the digest) */
static void test_dsn_by_message_id_alone_suspends_nobody(Fixture *f, gconstpointer data)
{
    gint64 id = sent_letter(f, "k1", "an@example.vn", "paht.1@soctrang.gov.vn", NULL, NULL);
    g_autoptr(Draft) d = dsn(FROM, "<paht.1@soctrang.gov.vn>", "5.1.1");
    intake(f, d);
    g_autoptr(OutboxEntry) e = letter(f, id);
    g_assert_cmpstr(e->state, ==, "failed");
    g_assert_cmpstr(e->failure_status, ==, "5.1.1");
    g_assert_false(suspended(f, "an@example.vn"));
    g_autofree char *row = bounce_row(f);
    g_autofree char *expected = g_strdup_printf("%" G_GINT64_FORMAT " message_id 5.1.1", id);
    g_assert_cmpstr(row, ==, expected);
}

/* ---- a pass against a closed port ---------------------------------------------------------- */

static int dead_pid(void)
{
    pid_t pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0)
        _exit(0);
    int status = 0;
    waitpid(pid, &status, 0);
    return (int)pid;
}

static void test_pass_without_server(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    gint64 now = clock_now_unix();
    g_assert_true(
        address_suspend(f->store, "an@example.vn", now + 3600, "5.1.1", "unknown", 0, &error));
    /* claimed by a pahtd that was killed: its lease would run for 5 more minutes */
    gint64 in_flight = enqueue(f, "k0", "chi@example.vn", "paht.0@soctrang.gov.vn");
    g_autofree char *owner = g_strdup_printf("%s:%d:dead", g_get_host_name(), dead_pid());
    g_autoptr(OutboxClaim) lost = fixture_claim_next(f->store, now, owner);
    g_assert_cmpint(lost->id, ==, in_flight);
    gint64 to_suspended = enqueue(f, "k1", "an@example.vn", "paht.1@soctrang.gov.vn");
    gint64 to_daemon = enqueue(f, "k2", "MAILER-DAEMON@example.vn", "paht.2@soctrang.gov.vn");
    gint64 normal = enqueue(f, "k3", "binh@example.vn", "paht.3@soctrang.gov.vn");

    int sent = -1, failed = -1;
    g_assert_true(outbound_flush(f->gw, &sent, &failed, &error));
    g_assert_no_error(error);
    g_assert_cmpint(sent, ==, 0);
    g_assert_cmpint(failed, ==, 2);
    g_autoptr(OutboxEntry) a = letter(f, to_suspended);
    g_assert_cmpstr(a->state, ==, "failed");
    g_assert_nonnull(strstr(a->last_reply, "suspended until"));
    g_assert_cmpstr(a->failure_status, ==, "5.1.1");
    g_autoptr(OutboxEntry) b = letter(f, to_daemon);
    g_assert_cmpstr(b->state, ==, "failed");
    g_assert_nonnull(strstr(b->last_reply, "never gets automatic mail"));
    g_autoptr(OutboxEntry) c = letter(f, normal);
    g_assert_cmpstr(c->state, ==, "queued"); /* connection refused: temporary */
    g_assert_cmpint(c->attempts, ==, 1);
    g_assert_null(c->failure_status);
    g_assert_cmpint(c->next_attempt_at, >=, now + 60);
    g_autoptr(OutboxEntry) d = letter(f, in_flight);
    g_assert_cmpstr(d->state, ==, "queued"); /* taken back from the dead holder, tried again */
    g_assert_cmpint(d->attempts, ==, 2);

    /* one digest for the IOC with both failures; it is queued like any letter */
    g_autoptr(GPtrArray) digests = outbox_list(f->store, NULL, &error);
    guint n_digests = 0;
    gint64 digest_id = 0;
    for (guint i = 0; i < digests->len; i++) {
        OutboxEntry *e = g_ptr_array_index(digests, i);
        if (g_str_equal(e->kind, "digest")) {
            n_digests++;
            digest_id = e->id;
            g_assert_cmpstr(e->rcpt, ==, IOC);
        }
    }
    g_assert_cmpuint(n_digests, ==, 1);
    g_autoptr(GMimeMessage) msg = fixture_letter(f->store, digest_id);
    g_assert_cmpstr(g_mime_message_get_subject(msg), ==,
                    "[PAHT] 2 thư không gửi được, 1 địa chỉ tạm ngừng nhận thư");
    g_autofree char *text = fixture_letter_plain(msg);
    /* the IOC's mailbox gets citizens' addresses shortened, as the logs have them (Điều
     * 4.5); pahtctl outbox --state failed shows them whole */
    g_autofree char *first = g_strdup_printf(
        "Thư số %" G_GINT64_FORMAT " (xác nhận tiếp nhận) gửi a***@example.vn", to_suspended);
    g_assert_nonnull(strstr(text, first));
    g_assert_nonnull(strstr(text, "M***@example.vn"));
    g_assert_null(strstr(text, "an@example.vn"));
    g_assert_null(strstr(text, "MAILER-DAEMON@example.vn"));
    g_assert_nonnull(strstr(text, "liên hệ người dân qua kênh khác"));

    /* within the hour, a new failure waits; after it, a second digest */
    enqueue(f, "k5", "an@example.vn", "paht.5@soctrang.gov.vn");
    g_setenv("PAHT_NOW", "2026-11-30T09:30:00+07:00", TRUE);
    g_assert_true(outbound_flush(f->gw, &sent, &failed, &error));
    g_assert_cmpint(failed, ==, 1);
    g_autoptr(GPtrArray) list1 = outbox_list(f->store, NULL, &error);
    g_setenv("PAHT_NOW", "2026-11-30T10:30:00+07:00", TRUE);
    g_assert_true(outbound_flush(f->gw, &sent, &failed, &error));
    g_autoptr(GPtrArray) list2 = outbox_list(f->store, NULL, &error);
    g_assert_cmpuint(list2->len, ==, list1->len + 1);
    OutboxEntry *newest = g_ptr_array_index(list2, list2->len - 1);
    g_assert_cmpstr(newest->kind, ==, "digest");
    g_assert_no_error(error);
}

static void test_resend_lifts_the_suspension(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    gint64 now = clock_now_unix();
    g_assert_true(
        address_suspend(f->store, "an@example.vn", now + 3600, "5.1.1", "unknown", 0, &error));
    gint64 id = enqueue(f, "k1", "an@example.vn", "paht.1@soctrang.gov.vn");
    g_assert_true(outbound_flush(f->gw, NULL, NULL, &error));
    gboolean lifted = FALSE;
    g_assert_true(outbound_resend(f->gw, id, &lifted, &error));
    g_assert_no_error(error);
    g_assert_true(lifted);
    g_assert_false(suspended(f, "an@example.vn"));
    g_autoptr(OutboxEntry) e = letter(f, id);
    g_assert_cmpstr(e->state, ==, "queued");
    g_assert_cmpint(e->attempts, ==, 0);
    g_assert_false(outbound_resend(f->gw, id, &lifted, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED);
    g_clear_error(&error);
}

/* The IOC reads which letter failed in its own words: every kind of the registry by its
 * Vietnamese name (labels.ini), never by its code (the digest's own list once lacked too_large and
 * supplement, and named a refusal that is never sent). */
static void test_digest_names_every_kind(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    g_assert_true(address_suspend(f->store, "an@example.vn", clock_now_unix() + 3600, "5.1.1",
                                  "unknown", 0, &error));
    int n = 0;
    /* (a digest queued now would hold back the next one for an hour: not this one) */
    for (const LetterKind *k = kinds_all(); k->name; k++) {
        if (g_str_equal(k->name, "digest"))
            continue;
        n++;
        g_autofree char *key = g_strdup_printf("k%d", n);
        g_autofree char *mid = g_strdup_printf("paht.%d@soctrang.gov.vn", n);
        enqueue_kind(f, k->name, key, "an@example.vn", mid);
    }
    int failed = 0;
    g_assert_true(outbound_flush(f->gw, NULL, &failed, &error));
    g_assert_no_error(error);
    g_assert_cmpint(failed, ==, n);
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    gint64 digest = 0;
    for (guint i = 0; i < all->len; i++) {
        const OutboxEntry *e = g_ptr_array_index(all, i);
        if (g_str_equal(e->kind, "digest") && g_str_equal(e->rcpt, IOC))
            digest = e->id;
    }
    g_assert_cmpint(digest, >, 0);
    g_autoptr(GMimeMessage) msg = fixture_letter(f->store, digest);
    g_autofree char *text = fixture_letter_plain(msg);
    g_autoptr(Labels) labels = labels_load(f->config, &error);
    g_assert_no_error(error);
    for (const LetterKind *k = kinds_all(); k->name; k++) {
        if (g_str_equal(k->name, "digest"))
            continue;
        g_autofree char *title = labels_kind_name(labels, k->name, &error);
        g_assert_no_error(error);
        g_autofree char *named = g_strdup_printf(" (%s) gửi a***@example.vn", title);
        g_autofree char *coded = g_strdup_printf(" (%s) gửi", k->name);
        if (!strstr(text, named) || strstr(text, coded))
            g_error("the digest does not name %s \"%s\":\n%s", k->name, title, text);
    }
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C.UTF-8"); /* failures quote Vietnamese */
    g_test_init(&argc, &argv, NULL);
    g_mime_init();
    log_init("test");
    log_set_level(LOG_LEVEL_ERROR);
#define ADD(name, fn)                                                                              \
    g_test_add("/outbound/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("envelope-address-round-trip", test_envelope_address_round_trip);
    ADD("status-suspends", test_status_suspends);
    ADD("bounce-key-made-once-and-private", test_bounce_key_made_once_and_private);
    ADD("dsn-matched-by-envelope-suspends", test_dsn_matched_by_envelope_suspends);
    ADD("dsn-forged-token-matches-nothing", test_dsn_forged_token_matches_nothing);
    ADD("dsn-token-verified-without-the-key-or-with-it",
        test_dsn_token_verified_without_the_key_or_with_it);
    ADD("dsn-by-message-id-and-what-it-changes", test_dsn_by_message_id_and_what_it_changes);
    ADD("dsn-by-message-id-alone-suspends-nobody", test_dsn_by_message_id_alone_suspends_nobody);
    ADD("pass-without-server", test_pass_without_server);
    ADD("resend-lifts-the-suspension", test_resend_lifts_the_suspension);
    ADD("digest-names-every-kind", test_digest_names_every_kind);
    int status = g_test_run();
    g_mime_shutdown();
    return status;
}
