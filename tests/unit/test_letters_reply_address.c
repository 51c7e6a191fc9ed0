/* The reply addresses that act (issue 14): their shape, paht+<action>-<token>@<the domain of
 * [smtp] reply_to>; a token that signs the letter, report, action and recipient, the same
 * each time for the same letter and different for anything else; what is read back from an
 * address, case aside, and what is not an action address at all. */
#include "config_fixture.h"
#include "letters/letters.h"
#include "util/util.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct {
    char *dir;
    Config *config;
    Store *store;
} Fixture;

/* data: more configuration lines, or NULL */
static void fixture_setup(Fixture *f, gconstpointer data)
{
    FixtureConfig opts = {.extra = data};
    f->config = fixture_config_open("reply-address", &opts, &f->dir);
    GError *error = NULL;
    g_assert_true(fs_make_private_dir(f->config->gateway.data_dir, &error));
    f->store = store_open(f->config->gateway.database, &error);
    g_assert_no_error(error);
    fixture_now_is("2026-11-23T09:00:00+07:00");
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    store_close(f->store);
    fixture_config_close(f->config, f->dir);
    g_unsetenv("PAHT_NOW");
}

static gint64 a_report(Fixture *f)
{
    g_autoptr(Draft) d = draft_new();
    d->subject = g_strdup("Đèn đường hỏng");
    d->classification = g_strdup(CLASSIFICATION_REPORT);
    return fixture_store_report(f->store, f->config, d);
}

static char *make(Fixture *f, const char *letter, gint64 report, const char *action,
                  const char *recipient)
{
    char *address = NULL;
    GError *error = NULL;
    g_assert_true(reply_address_make(f->config, f->store, letter, report, action, recipient,
                                     &address, &error));
    g_assert_no_error(error);
    return address;
}

static void test_shape_and_signature(Fixture *f, gconstpointer data)
{
    gint64 id = a_report(f);
    g_autofree char *a = make(f, "assignment:1:1:xd", id, "result", "vanthu@sxd.example.vn");
    g_autoptr(GRegex) shape =
        g_regex_new("^paht\\+result-[0-9a-f]{24}@soctrang\\.gov\\.vn$", 0, 0, NULL);
    g_assert_true(g_regex_match(shape, a, 0, NULL));
    /* the same letter, action and recipient (case and +tag aside): the same address */
    g_autofree char *same = make(f, "assignment:1:1:xd", id, "result", "VanThu+x@SXD.example.vn");
    g_assert_cmpstr(same, ==, a);
    /* anything else signed: another token */
    const char *tokens[] = {
        make(f, "assignment:1:2:xd", id, "result", "vanthu@sxd.example.vn"),
        make(f, "assignment:1:1:xd", id, "return", "vanthu@sxd.example.vn"),
        make(f, "assignment:1:1:xd", id, "result", "giamdoc@sxd.example.vn"),
        make(f, "assignment:1:1:xd", a_report(f), "result", "vanthu@sxd.example.vn"),
    };
    const char *token = strchr(a, '-') + 1;
    for (gsize i = 0; i < G_N_ELEMENTS(tokens); i++) {
        g_assert_nonnull(tokens[i]);
        g_assert_cmpstr(strchr(tokens[i], '-') + 1, !=, token);
        g_free((char *)tokens[i]);
    }
    /* recorded as offered, for its recipient */
    g_autofree char *action = NULL, *read = NULL;
    g_assert_true(reply_address_parse(f->config, a, &action, &read));
    g_autoptr(ActionAddress) row = NULL;
    GError *error = NULL;
    g_assert_true(action_address_find(f->store, read, &row, &error));
    g_assert_nonnull(row);
    g_assert_cmpint(row->report_id, ==, id);
    g_assert_cmpstr(row->recipient, ==, "vanthu@sxd.example.vn");
    g_assert_cmpstr(row->letter, ==, "assignment:1:1:xd");
}

static void test_parse(Fixture *f, gconstpointer data)
{
    static const struct {
        const char *address, *action, *token;
    } cases[] = {
        {"paht+result-0123456789abcdef01234567@soctrang.gov.vn", "result",
         "0123456789abcdef01234567"},
        /* servers and people change case */
        {"PAHT+Extend-0123456789ABCDEF01234567@SocTrang.gov.vn", "extend",
         "0123456789abcdef01234567"},
        {"paht+sendback-0123456789abcdef01234567@soctrang.gov.vn", "sendback",
         "0123456789abcdef01234567"},
        /* the citizen's token, a bounce token, another action, a short token, another domain */
        {"paht+0123456789abcdef0123@soctrang.gov.vn", NULL, NULL},
        {"paht+b-12-0123456789abcdef@soctrang.gov.vn", NULL, NULL},
        {"paht+publish-0123456789abcdef01234567@soctrang.gov.vn", NULL, NULL},
        {"paht+result-0123456789abcdef0123456@soctrang.gov.vn", NULL, NULL},
        {"paht+result-0123456789abcdef0123456z@soctrang.gov.vn", NULL, NULL},
        {"paht+result-0123456789abcdef01234567@evil.example", NULL, NULL},
        {"other+result-0123456789abcdef01234567@soctrang.gov.vn", NULL, NULL},
        {"", NULL, NULL},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *action = NULL, *token = NULL;
        gboolean is = reply_address_parse(f->config, cases[i].address, &action, &token);
        g_assert_cmpint(is, ==, cases[i].action != NULL);
        g_assert_cmpstr(action, ==, cases[i].action);
        g_assert_cmpstr(token, ==, cases[i].token);
    }
}

/* without [smtp] reply_to: [smtp] from's local part with "+" */
static void test_from_without_reply_to(Fixture *f, gconstpointer data)
{
    g_free(f->config->smtp.reply_to);
    f->config->smtp.reply_to = NULL;
    gint64 id = a_report(f);
    g_autofree char *a = make(f, "k", id, "approve", "giamdoc@sxd.example.vn");
    g_assert_true(g_str_has_prefix(a, "paht+approve-"));
    g_assert_true(g_str_has_suffix(a, "@soctrang.gov.vn"));
}

/* a local part longer than 64 characters with the token: no address (the letter goes with
 * its Reply-To to the IOC instead) */
static void test_no_room_for_the_token(Fixture *f, gconstpointer data)
{
    gint64 id = a_report(f);
    g_autofree char *a = make(f, "k", id, "sendback", "giamdoc@sxd.example.vn");
    g_assert_null(a);
    g_autofree char *unknown = make(f, "k", id, "publish", "giamdoc@sxd.example.vn");
    g_assert_null(unknown);
}

/* one key for bounces and reply addresses: made once, never replaced, private */
static void test_the_key_is_made_once(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    g_autoptr(GBytes) none = NULL;
    g_assert_true(reply_address_key(f->config, FALSE, &none, &error));
    g_assert_null(none);
    g_autoptr(GBytes) made = NULL;
    g_assert_true(reply_address_key(f->config, TRUE, &made, &error));
    g_assert_no_error(error);
    g_autoptr(GBytes) again = NULL;
    g_assert_true(reply_address_key(f->config, TRUE, &again, &error));
    g_assert_true(g_bytes_equal(made, again));
    g_autofree char *path = g_build_filename(f->config->gateway.data_dir, "bounce.key", NULL);
    GStatBuf st;
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_init("test");
    log_set_level(LOG_LEVEL_ERROR);
#define ADD(name, fn, extra)                                                                       \
    g_test_add("/letters/reply-address/" name, Fixture, extra, fixture_setup, fn, fixture_teardown)
    ADD("shape-and-signature", test_shape_and_signature, NULL);
    ADD("parse", test_parse, NULL);
    ADD("from-without-reply-to", test_from_without_reply_to, NULL);
    ADD("no-room-for-the-token", test_no_room_for_the_token,
        "[smtp]\nreply_to = "
        "phan-anh-hien-truong-tinh-soc-trang-2026-hop-thu+{token}@soctrang.gov.vn\n");
    ADD("the-key-is-made-once", test_the_key_is_made_once, NULL);
    return g_test_run();
}
