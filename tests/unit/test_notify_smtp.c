/* Unit tests of the SMTP sender that need no mail server: what happens before any SMTP is
 * spoken (bad envelopes, a closed port, a server that never greets). The conversation with a
 * real Postfix is in tests/integration/itest_notify_smtp.c. */
#include "notify/notify.h"
#include "util/util.h"

#include <gio/gio.h>
#include <string.h>

static GBytes *small_letter(void)
{
    static const char text[] = "From: a@example.test\r\nTo: b@example.test\r\nSubject: x\r\n"
                               "\r\nbody\r\n";
    return g_bytes_new_static(text, sizeof text - 1);
}

/* a loopback port where nothing listens: bind, read the port, close */
static int closed_port(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GSocket) socket =
        g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
    g_assert_no_error(error);
    g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(loopback, 0);
    g_assert_true(g_socket_bind(socket, any, TRUE, &error));
    g_autoptr(GSocketAddress) bound = g_socket_get_local_address(socket, &error);
    int port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
    g_socket_close(socket, NULL);
    return port;
}

static SmtpOptions options_for(int port, int timeout)
{
    SmtpOptions opts = {.host = "127.0.0.1",
                        .port = port,
                        .implicit_tls = FALSE,
                        .tls_verify = TRUE,
                        .ca_file = NULL,
                        .user = NULL,
                        .password = NULL,
                        .timeout_seconds = timeout};
    return opts;
}

static void test_connection_refused_is_temporary(void)
{
    SmtpOptions opts = options_for(closed_port(), 5);
    g_autoptr(SmtpSender) sender = smtp_sender_new(&opts);
    g_autoptr(GBytes) message = small_letter();
    g_autoptr(GError) error = NULL;
    char *reply = (char *)"untouched";
    g_assert_false(smtp_sender_send(sender, "paht@example.test", "citizen1@example.test", message,
                                    &reply, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY);
    g_assert_null(reply); /* the server said nothing */
    g_assert_cmpint(smtp_sender_connections(sender), ==, 0);
}

static void test_silent_server_times_out_as_temporary(void)
{
    /* a socket that listens but never accepts: the kernel completes the handshake, and the
     * greeting never comes */
    g_autoptr(GError) error = NULL;
    g_autoptr(GSocket) listener =
        g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
    g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(loopback, 0);
    g_assert_true(g_socket_bind(listener, any, TRUE, &error));
    g_assert_true(g_socket_listen(listener, &error));
    g_autoptr(GSocketAddress) bound = g_socket_get_local_address(listener, &error);
    int port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));

    SmtpOptions opts = options_for(port, 1);
    g_autoptr(SmtpSender) sender = smtp_sender_new(&opts);
    g_autoptr(GBytes) message = small_letter();
    g_autofree char *reply = NULL;
    g_assert_false(smtp_sender_send(sender, "paht@example.test", "citizen1@example.test", message,
                                    &reply, &error));
    /* the timeout ended it (how soon: bench/run's "hostile_smtp_timeout" figure) */
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY);
    /* curl says "response timeout", or under load, when the handshake itself is late,
     * "Connection timed out after 1001 milliseconds": either is the timeout */
    g_assert_true(g_regex_match_simple("time(d )?out", error->message, G_REGEX_CASELESS, 0));
    g_assert_cmpint(smtp_sender_connections(sender), ==, 1);
    g_socket_close(listener, NULL);
}

static void test_bad_envelope_is_refused_before_connecting(void)
{
    /* a closed port: had the sender tried to connect, the error would be TEMPORARY */
    SmtpOptions opts = options_for(closed_port(), 5);
    g_autoptr(SmtpSender) sender = smtp_sender_new(&opts);
    g_autoptr(GBytes) message = small_letter();
    static const char *const bad_rcpt[] = {
        "a@example.test\r\nRCPT TO:<evil@attacker.example>",
        "a@example.test>\r\nDATA",
        "a@example.test, b@example.test",
        "<a@example.test>",
        "",
        NULL,
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad_rcpt); i++) {
        g_autoptr(GError) error = NULL;
        g_assert_false(
            smtp_sender_send(sender, "paht@example.test", bad_rcpt[i], message, NULL, &error));
        g_assert_error(error, PAHT_ERROR, PAHT_ERROR_PERMANENT);
    }
    g_autoptr(GError) error = NULL;
    g_assert_false(smtp_sender_send(sender, "paht@example.test>\r\nRSET", "a@example.test", message,
                                    NULL, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_assert_cmpint(smtp_sender_connections(sender), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_init("test_notify_smtp");
    g_test_add_func("/notify/smtp/connection_refused_is_temporary",
                    test_connection_refused_is_temporary);
    g_test_add_func("/notify/smtp/silent_server_times_out_as_temporary",
                    test_silent_server_times_out_as_temporary);
    g_test_add_func("/notify/smtp/bad_envelope_is_refused_before_connecting",
                    test_bad_envelope_is_refused_before_connecting);
    return g_test_run();
}
