/* parse: the sender's authenticity as the province's own MX judged it (issue 11, RFC 8601).
 * Only Authentication-Results headers naming the trusted authserv-id count, and they are read
 * so that a header the sender wrote can only make the mail look worse; the spam filter's
 * topmost X-Spam-Flag / X-Spam-Status is the MX's. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "parse/parse_private.h"
#include "util/util.h"

#define MX "mx.soctrang.gov.vn"

/* ---- one header value ------------------------------------------------------------------------ */

static char *dmarc_of(const char *value, gboolean *trusted)
{
    char *dmarc = NULL;
    *trusted = auth_results_read(value, MX, &dmarc);
    return dmarc;
}

static void test_header_values(void)
{
    static const struct {
        const char *value;
        gboolean trusted;
        const char *dmarc;
    } cases[] = {
        {MX "; dmarc=fail (p=REJECT sp=REJECT dis=NONE) header.from=gmail.com", TRUE, "fail"},
        {"MX.SocTrang.gov.vn; spf=pass smtp.mailfrom=x; DMARC = Pass header.from=x", TRUE, "pass"},
        /* RFC 8601 §2.2: a version after the id, comments anywhere, nested */
        {MX " 1; (a comment (nested; dmarc=pass)) dkim=pass; dmarc/1=fail", TRUE, "fail"},
        /* a quoted authserv-id; a ';' inside a quoted value does not start a result */
        {"\"" MX "\"; dkim=pass reason=\"a; dmarc=pass\"; dmarc=none", TRUE, "none"},
        {MX "; none", TRUE, NULL},
        {MX "; dkim=pass header.d=example.vn", TRUE, NULL},
        /* another server, or a name that only begins like ours */
        {"mx.other.example; dmarc=fail", FALSE, NULL},
        {MX ".evil.example; dmarc=pass", FALSE, NULL},
        {"mx; dmarc=pass", FALSE, NULL},
        /* hostile shapes: nothing, unclosed comments and quotes */
        {"", FALSE, NULL},
        {";;;", FALSE, NULL},
        {MX "; dmarc=(unclosed", TRUE, NULL},
        {MX "; dkim=\"unclosed; dmarc=fail", TRUE, NULL},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        gboolean trusted = FALSE;
        g_autofree char *dmarc = dmarc_of(cases[i].value, &trusted);
        if (trusted != cases[i].trusted || g_strcmp0(dmarc, cases[i].dmarc) != 0)
            g_error("\"%s\": trusted %d dmarc %s, expected %d %s", cases[i].value, trusted,
                    dmarc ? dmarc : "(none)", cases[i].trusted,
                    cases[i].dmarc ? cases[i].dmarc : "(none)");
    }
}

/* issue 14: a DKIM signature of the sender's domain vouches for an agency's reply */
static void test_dkim_passes(void)
{
    static const struct {
        const char *value, *domains;
    } cases[] = {
        {MX "; dkim=pass (2048-bit key) header.d=SXD.example.vn header.s=mail; dmarc=none",
         "sxd.example.vn"},
        {MX "; dkim=pass header.i=@sgtvt.example.vn; dkim=pass header.d=relay.example",
         "sgtvt.example.vn,relay.example"},
        /* a failure, a neutral, a comment that only looks like a pass: nothing */
        {MX "; dkim=fail header.d=sxd.example.vn", NULL},
        {MX "; dkim=neutral (no key) header.d=sxd.example.vn", NULL},
        {MX "; dkim=none (dkim=pass header.d=sxd.example.vn)", NULL},
        {MX "; dkim=pass", NULL},
        /* another server's verdict is not read */
        {"mx.other.example; dkim=pass header.d=sxd.example.vn", NULL},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *domains = auth_results_dkim_passes(cases[i].value, MX);
        if (g_strcmp0(domains, cases[i].domains) != 0)
            g_error("\"%s\": %s, expected %s", cases[i].value, domains ? domains : "(none)",
                    cases[i].domains ? cases[i].domains : "(none)");
    }
}

/* ---- whole messages -------------------------------------------------------------------------- */

typedef struct {
    char *dir;
    Draft *draft;
} Parsed;

static Parsed parse_headers(const char *headers, const char *trusted_id)
{
    Parsed p = {g_dir_make_tmp("paht-auth-XXXXXX", NULL), NULL};
    g_autofree char *text =
        g_strconcat(headers,
                    "From: an@gmail.com\r\nTo: paht@soctrang.gov.vn\r\n"
                    "Subject: Den hong\r\nMessage-ID: <a@gmail.com>\r\n"
                    "Date: Sat, 28 Nov 2026 09:00:00 +0700\r\n\r\nDen hong.\r\n",
                    NULL);
    g_autofree char *path = g_build_filename(p.dir, "mail.eml", NULL);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    ParseOptions opts = {.attachments_dir = p.dir, .trusted_authserv_id = trusted_id};
    GError *error = NULL;
    p.draft = parse_message_file(path, &opts, &error);
    g_assert_no_error(error);
    g_unlink(path);
    return p;
}

static void parsed_clear(Parsed *p)
{
    draft_free(p->draft);
    g_rmdir(p->dir);
    g_free(p->dir);
}

static void test_forged_pass_below_does_not_hide_a_failure(void)
{
    /* the MX's verdict on top, the sender's own copy below */
    Parsed p =
        parse_headers("Authentication-Results: " MX ";\r\n\tdmarc=fail header.from=gmail.com\r\n"
                      "Received: from spam.example by " MX " with ESMTP\r\n"
                      "Authentication-Results: " MX "; dmarc=pass header.from=gmail.com\r\n",
                      MX);
    g_assert_cmpstr(p.draft->auth_dmarc, ==, "fail");
    g_assert_cmpstr(p.draft->auth_results, ==, MX "; dmarc=fail header.from=gmail.com");
    parsed_clear(&p);
    /* a milter's failure below the MX's first header still counts */
    p = parse_headers("Authentication-Results: " MX "; spf=softfail smtp.mailfrom=gmail.com\r\n"
                      "Authentication-Results: " MX "; dmarc=fail header.from=gmail.com\r\n",
                      MX);
    g_assert_cmpstr(p.draft->auth_dmarc, ==, "fail");
    parsed_clear(&p);
}

static void test_only_the_trusted_id_is_read(void)
{
    Parsed p = parse_headers("Authentication-Results: mx.google.com; dmarc=fail\r\n"
                             "Authentication-Results: " MX "; dmarc=pass header.from=gmail.com\r\n",
                             MX);
    g_assert_cmpstr(p.draft->auth_dmarc, ==, "pass");
    g_assert_false(p.draft->spam_flagged);
    parsed_clear(&p);
    /* without a trusted id nothing is read at all */
    p = parse_headers("Authentication-Results: " MX "; dmarc=fail\r\nX-Spam-Flag: YES\r\n", NULL);
    g_assert_null(p.draft->auth_dmarc);
    g_assert_null(p.draft->auth_results);
    g_assert_false(p.draft->spam_flagged);
    parsed_clear(&p);
}

static void test_topmost_spam_verdict_is_the_mx(void)
{
    Parsed p = parse_headers("X-Spam-Status: Yes, score=12.5 required=5.0 tests=BAYES_99\r\n"
                             "X-Spam-Status: No, score=-1.0\r\n",
                             MX);
    g_assert_true(p.draft->spam_flagged);
    g_assert_cmpstr(p.draft->spam_status, ==, "Yes, score=12.5 required=5.0 tests=BAYES_99");
    parsed_clear(&p);
    p = parse_headers("X-Spam-Flag: YES\r\n", MX);
    g_assert_true(p.draft->spam_flagged);
    parsed_clear(&p);
    /* the MX said no; a "YES" the sender wrote below is not its verdict */
    p = parse_headers("X-Spam-Flag: NO\r\nX-Spam-Status: No, score=0.1\r\nX-Spam-Flag: YES\r\n",
                      MX);
    g_assert_false(p.draft->spam_flagged);
    parsed_clear(&p);
    /* "Yesterday" is not a yes */
    p = parse_headers("X-Spam-Status: Yesterday\r\n", MX);
    g_assert_false(p.draft->spam_flagged);
    parsed_clear(&p);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    parse_init();
    log_init("test");
    log_set_level(LOG_LEVEL_ERROR);
    g_test_add_func("/authenticity/header-values", test_header_values);
    g_test_add_func("/authenticity/dkim-passes", test_dkim_passes);
    g_test_add_func("/authenticity/forged-pass-below-does-not-hide-a-failure",
                    test_forged_pass_below_does_not_hide_a_failure);
    g_test_add_func("/authenticity/only-the-trusted-id", test_only_the_trusted_id_is_read);
    g_test_add_func("/authenticity/topmost-spam-verdict", test_topmost_spam_verdict_is_the_mx);
    return g_test_run();
}
