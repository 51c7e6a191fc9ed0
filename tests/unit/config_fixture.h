/* The configuration the unit tests run with (tests/unit/test_*.c above conf/): a private folder
 * of its own holding paht.conf of the province's usual shape (the letter templates of the
 * source tree, no server ever reached) and what it names (database, data folder, agencies
 * file). Static functions: include it from the test program that uses it. gateway_fixture.h
 * builds a whole gateway on it. */
#ifndef PAHT_TESTS_CONFIG_FIXTURE_H
#define PAHT_TESTS_CONFIG_FIXTURE_H

#include "conf/conf.h"
#include "queue/queue.h"
#include "util/util.h"

#include <glib.h>

typedef struct {
    const char *agencies; /* the agencies file's text (agencies_file = agencies.conf), or NULL */
    gboolean holidays;    /* [calendar] holidays_file: the source tree's conf/holidays.txt */
    /* lines appended to paht.conf, or NULL: a group named again is merged and a key given
     * again wins ("[smtp]\nurl = smtp://127.0.0.1:9\n") */
    const char *extra;
} FixtureConfig;

/* agencies for FixtureConfig.agencies, to be joined as needed */
#define FIXTURE_AGENCY_XD                                                                          \
    "[agency xd]\nname = Sở Xây dựng\ncontact = vanthu@sxd.example.vn\n"                      \
    "leader = giamdoc@sxd.example.vn\nleader_name = Nguyễn Văn A\n"
#define FIXTURE_AGENCY_GTVT                                                                        \
    "[agency gtvt]\nname = Sở Giao thông vận tải\ncontact = vanthu@sgtvt.example.vn\n"      \
    "leader = giamdoc@sgtvt.example.vn\nleader_name = Trần Thị B\n"
#define FIXTURE_AGENCY_TNMT                                                                           \
    "[agency tnmt]\nname = Sở Tài nguyên và Môi trường\ncontact = vanthu@stnmt.example.vn\n" \
    "leader = giamdoc@stnmt.example.vn\nleader_name = Lê Văn C\n"

/* the clock of the programs under test (PAHT_NOW) */
static inline void fixture_now_is(const char *rfc3339)
{
    g_setenv("PAHT_NOW", rfc3339, TRUE);
}

/* a file of the source tree (PAHT_SOURCE_DIR, else found from this header) */
static inline char *fixture_source_path(const char *relative)
{
    const char *source = g_getenv("PAHT_SOURCE_DIR");
    if (source)
        return g_build_filename(source, relative, NULL);
    g_autofree char *here = g_path_get_dirname(__FILE__);
    return g_build_filename(here, "..", "..", relative, NULL);
}

static inline char *fixture_templates_dir(void)
{
    const char *env = g_getenv("PAHT_TEMPLATES_DIR");
    return env ? g_strdup(env) : fixture_source_path("templates");
}

/* the files of templates/ (not web/) copied into the folder into, made if need be: a copy a
 * test may break */
static inline void fixture_templates_copy(const char *into)
{
    g_autofree char *templates = fixture_templates_dir();
    g_assert_cmpint(g_mkdir_with_parents(into, 0700), ==, 0);
    g_autoptr(GDir) dir = g_dir_open(templates, 0, NULL);
    g_assert_nonnull(dir);
    for (const char *name; (name = g_dir_read_name(dir));) {
        g_autofree char *from = g_build_filename(templates, name, NULL);
        g_autofree char *to = g_build_filename(into, name, NULL);
        g_autofree char *bytes = NULL;
        gsize len = 0;
        if (g_file_test(from, G_FILE_TEST_IS_REGULAR)) {
            g_assert_true(g_file_get_contents(from, &bytes, &len, NULL));
            g_assert_true(g_file_set_contents(to, bytes, (gssize)len, NULL));
        }
    }
}

/* writes the folder paht-NAME-XXXXXX (*dir, new) and its paht.conf as opts (may be NULL) say;
 * returns the configuration loaded from it */
static inline Config *fixture_config_open(const char *name, const FixtureConfig *opts, char **dir)
{
    static const FixtureConfig plain = {0};
    if (!opts)
        opts = &plain;
    g_autofree char *pattern = g_strdup_printf("paht-%s-XXXXXX", name);
    *dir = g_dir_make_tmp(pattern, NULL);
    g_assert_nonnull(*dir);
    if (opts->agencies) {
        g_autofree char *agencies = g_build_filename(*dir, "agencies.conf", NULL);
        g_assert_true(g_file_set_contents(agencies, opts->agencies, -1, NULL));
    }
    g_autofree char *templates = fixture_templates_dir();
    g_autofree char *holidays = fixture_source_path("conf/holidays.txt");
    g_autofree char *text = g_strdup_printf(
        "[gateway]\ndatabase = paht.db\ndata_dir = data\ntemplates_dir = %s\n"
        "ioc_alert_to = ioc@soctrang.gov.vn\n%s"
        "[imap]\nurl = imaps://mail.soctrang.gov.vn/INBOX\nuser = paht@soctrang.gov.vn\n"
        "[smtp]\nurl = smtp://mail.soctrang.gov.vn\nfrom = paht@soctrang.gov.vn\n"
        "reply_to = paht+{token}@soctrang.gov.vn\n%s%s%s%s",
        templates, opts->agencies ? "agencies_file = agencies.conf\n" : "",
        opts->holidays ? "[calendar]\nholidays_file = " : "", opts->holidays ? holidays : "",
        opts->holidays ? "\n" : "", opts->extra ? opts->extra : "");
    g_autofree char *conf = g_build_filename(*dir, "paht.conf", NULL);
    g_assert_true(g_file_set_contents(conf, text, -1, NULL));
    GError *error = NULL;
    Config *config = config_load(conf, CONFIG_LOAD_DEFAULT, &error);
    g_assert_no_error(error);
    return config;
}

/* frees the configuration and removes the folder with all in it */
static inline void fixture_config_close(Config *config, char *dir)
{
    config_free(config);
    fs_remove_tree(dir);
    g_free(dir);
}

/* the next letter claimed (lease 300 s, by owner, may be NULL), or NULL when none is due; the
 * store must not fail */
static inline OutboxClaim *fixture_claim_next(Store *store, gint64 now, const char *owner)
{
    OutboxClaim *claim = NULL;
    GError *error = NULL;
    g_assert_true(outbox_claim_next_for(store, now, 300, owner, &claim, &error));
    g_assert_no_error(error);
    return claim;
}

/* the suspension of address in force at now, or NULL; the store must not fail */
static inline AddressSuspension *fixture_suspension(Store *store, const char *address, gint64 now)
{
    AddressSuspension *suspension = NULL;
    GError *error = NULL;
    g_assert_true(address_suspension_get(store, address, now, &suspension, &error));
    g_assert_no_error(error);
    return suspension;
}

/* the draft as a report of store received now (tracking code PAHT-YYYY-NNNNNN); its id */
static inline gint64 fixture_store_report(Store *store, const Config *config, const Draft *draft)
{
    ReportRef ref = {0};
    GError *error = NULL;
    g_assert_true(store_begin(store, &error));
    g_assert_true(report_create(store, draft, NULL, "PAHT", config->calendar.zone, clock_now_unix(),
                                0, &ref, &error));
    g_assert_no_error(error);
    g_assert_true(store_commit(store, &error));
    gint64 id = ref.id;
    report_ref_clear(&ref);
    return id;
}

#endif
