/* A gateway for the unit tests of app/ (tests/unit/test_gateway_*.c): a private folder with a
 * configuration of the province's usual shape (the letter templates of the source tree, no
 * server ever reached), its database and its data folder. Static functions: include it from
 * the test program that uses it. */
#ifndef PAHT_TESTS_GATEWAY_FIXTURE_H
#define PAHT_TESTS_GATEWAY_FIXTURE_H

#include "gateway/gateway.h"
#include "util/util.h"

#include <glib.h>

typedef struct {
    char *dir;
    Config *config;
    Gateway *gw;
} GatewayFixture;

static inline char *gateway_fixture_templates_dir(void)
{
    const char *env = g_getenv("PAHT_TEMPLATES_DIR");
    if (env)
        return g_strdup(env);
    g_autofree char *here = g_path_get_dirname(__FILE__);
    return g_build_filename(here, "..", "..", "templates", NULL);
}

/* opens it in a new folder named after name; extra: more configuration lines, or NULL */
static inline void gateway_fixture_open(GatewayFixture *f, const char *name, const char *extra)
{
    g_autofree char *pattern = g_strdup_printf("paht-%s-XXXXXX", name);
    f->dir = g_dir_make_tmp(pattern, NULL);
    g_assert_nonnull(f->dir);
    g_autofree char *templates = gateway_fixture_templates_dir();
    g_autofree char *conf = g_build_filename(f->dir, "paht.conf", NULL);
    g_autofree char *text = g_strdup_printf(
        "[gateway]\ndatabase = paht.db\ndata_dir = data\ntemplates_dir = %s\n"
        "ioc_alert_to = ioc@soctrang.gov.vn\n"
        "[imap]\nurl = imaps://mail.soctrang.gov.vn/INBOX\nuser = paht@soctrang.gov.vn\n"
        "[smtp]\nurl = smtp://mail.soctrang.gov.vn\nfrom = paht@soctrang.gov.vn\n"
        "reply_to = paht+{token}@soctrang.gov.vn\n%s",
        templates, extra ? extra : "");
    g_assert_true(g_file_set_contents(conf, text, -1, NULL));
    GError *error = NULL;
    f->config = config_load(conf, CONFIG_LOAD_DEFAULT, &error);
    g_assert_no_error(error);
    f->gw = gateway_open(f->config, &error);
    g_assert_no_error(error);
}

static inline void gateway_fixture_close(GatewayFixture *f)
{
    gateway_close(f->gw);
    config_free(f->config);
    fs_remove_tree(f->dir);
    g_free(f->dir);
}

#endif
