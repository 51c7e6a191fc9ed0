/* What a failed SMTP send means (notify/smtp.c, smtp_failure_kind): the code a failure gets
 * decides whether a letter is retried, failed (and its address suspended), or held while the
 * administrator fixes our side. A 5xx before any recipient was named is about us: failing
 * every letter for it would suspend every citizen's address. */
#include "notify/notify_private.h"

#include <curl/curl.h>

static void test_reply_codes(void)
{
    /* RCPT TO 550 and a 554 after DATA: the letter, for good */
    g_assert_cmpint(smtp_failure_kind(CURLE_SEND_ERROR, 550, SMTP_STAGE_RCPT, NULL), ==,
                    PAHT_ERROR_PERMANENT);
    g_assert_cmpint(smtp_failure_kind(CURLE_WEIRD_SERVER_REPLY, 554, SMTP_STAGE_DATA, NULL), ==,
                    PAHT_ERROR_PERMANENT);
    /* 4xx anywhere: later */
    g_assert_cmpint(smtp_failure_kind(CURLE_SEND_ERROR, 451, SMTP_STAGE_RCPT, NULL), ==,
                    PAHT_ERROR_TEMPORARY);
    g_assert_cmpint(smtp_failure_kind(CURLE_SEND_ERROR, 421, SMTP_STAGE_SESSION, NULL), ==,
                    PAHT_ERROR_TEMPORARY);
    g_assert_cmpint(smtp_failure_kind(CURLE_SEND_ERROR, 452, SMTP_STAGE_MAIL, NULL), ==,
                    PAHT_ERROR_TEMPORARY);
    /* no answer at all: refused, reset, timeout */
    g_assert_cmpint(smtp_failure_kind(CURLE_COULDNT_CONNECT, 0, SMTP_STAGE_SESSION, NULL), ==,
                    PAHT_ERROR_TEMPORARY);
    g_assert_cmpint(smtp_failure_kind(CURLE_OPERATION_TIMEDOUT, 0, SMTP_STAGE_DATA, NULL), ==,
                    PAHT_ERROR_TEMPORARY);
}

static void test_our_side(void)
{
    /* the server refuses our envelope sender (a VERP address it does not allow) or us */
    g_assert_cmpint(smtp_failure_kind(CURLE_SEND_ERROR, 553, SMTP_STAGE_MAIL, NULL), ==,
                    PAHT_ERROR_CONFIG);
    g_assert_cmpint(smtp_failure_kind(CURLE_SEND_ERROR, 550, SMTP_STAGE_MAIL, NULL), ==,
                    PAHT_ERROR_CONFIG);
    g_assert_cmpint(smtp_failure_kind(CURLE_WEIRD_SERVER_REPLY, 554, SMTP_STAGE_SESSION, NULL), ==,
                    PAHT_ERROR_CONFIG);
    /* ... except 552 to MAIL FROM: this letter is too large (RFC 1870 SIZE) */
    g_assert_cmpint(smtp_failure_kind(CURLE_SEND_ERROR, 552, SMTP_STAGE_MAIL, NULL), ==,
                    PAHT_ERROR_PERMANENT);
    /* Postfix refuses a sender the login may not use, and relaying, at RCPT TO */
    g_assert_cmpint(smtp_failure_kind(CURLE_SEND_ERROR, 553, SMTP_STAGE_RCPT,
                                      "553 5.7.1 <paht+b-1-0123456789abcdef@soctrang.gov.vn>: "
                                      "Sender address rejected: not owned by user paht"),
                    ==, PAHT_ERROR_CONFIG);
    g_assert_cmpint(smtp_failure_kind(CURLE_SEND_ERROR, 554, SMTP_STAGE_RCPT,
                                      "554 5.7.1 <an@gmail.com>: Relay access denied"),
                    ==, PAHT_ERROR_CONFIG);
    g_assert_cmpint(smtp_failure_kind(CURLE_SEND_ERROR, 553, SMTP_STAGE_RCPT,
                                      "553 5.1.7 The sender address is not valid"),
                    ==, PAHT_ERROR_CONFIG);
    /* ... but a recipient refused by name is the letter's */
    g_assert_cmpint(smtp_failure_kind(CURLE_SEND_ERROR, 550, SMTP_STAGE_RCPT,
                                      "550 5.1.1 <an@soctrang.gov.vn>: Recipient address "
                                      "rejected: User unknown in virtual mailbox table"),
                    ==, PAHT_ERROR_PERMANENT);
    g_assert_cmpint(smtp_failure_kind(CURLE_SEND_ERROR, 550, SMTP_STAGE_RCPT, "550 5.1.17 odd"), ==,
                    PAHT_ERROR_PERMANENT);
    /* login and TLS */
    g_assert_cmpint(smtp_failure_kind(CURLE_LOGIN_DENIED, 535, SMTP_STAGE_SESSION, NULL), ==,
                    PAHT_ERROR_CONFIG);
    g_assert_cmpint(smtp_failure_kind(CURLE_SEND_ERROR, 530, SMTP_STAGE_MAIL, NULL), ==,
                    PAHT_ERROR_CONFIG);
    g_assert_cmpint(smtp_failure_kind(CURLE_PEER_FAILED_VERIFICATION, 0, SMTP_STAGE_SESSION, NULL),
                    ==, PAHT_ERROR_CONFIG);
    g_assert_cmpint(smtp_failure_kind(CURLE_USE_SSL_FAILED, 0, SMTP_STAGE_SESSION, NULL), ==,
                    PAHT_ERROR_CONFIG);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/notify/failures/reply_codes", test_reply_codes);
    g_test_add_func("/notify/failures/our_side", test_our_side);
    return g_test_run();
}
