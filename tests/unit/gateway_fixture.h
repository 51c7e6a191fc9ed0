/* A gateway for the unit tests of gateway/ (tests/unit/test_gateway_*.c): the configuration of
 * config_fixture.h, its database and its data folder, opened. Static functions: include it
 * from the test program that uses it. */
#ifndef PAHT_TESTS_GATEWAY_FIXTURE_H
#define PAHT_TESTS_GATEWAY_FIXTURE_H

#include "config_fixture.h"
#include "gateway/gateway.h"

typedef struct {
    char *dir;
    Config *config;
    Gateway *gw;
    Store *store; /* the gateway's */
    int serial;   /* the test's own count (of the mails it wrote, say) */
} GatewayFixture;

/* opens it in a new folder named after name, configured as opts (may be NULL) say */
static inline void gateway_fixture_open_with(GatewayFixture *f, const char *name,
                                             const FixtureConfig *opts)
{
    f->config = fixture_config_open(name, opts, &f->dir);
    GError *error = NULL;
    f->gw = gateway_open(f->config, &error);
    g_assert_no_error(error);
    f->store = gateway_store(f->gw);
    f->serial = 0;
}

/* the same with extra configuration lines only (or NULL) */
static inline void gateway_fixture_open(GatewayFixture *f, const char *name, const char *extra)
{
    FixtureConfig opts = {.extra = extra};
    gateway_fixture_open_with(f, name, &opts);
}

static inline void gateway_fixture_close(GatewayFixture *f)
{
    gateway_close(f->gw);
    fixture_config_close(f->config, f->dir);
}

#endif
