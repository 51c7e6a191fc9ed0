/* bench_hostile: the "hostile" figure. How long the gateway takes to be done with input and
 * peers built to waste its time, each beside what the same work costs without our guard. The
 * unit tests assert what happens (refused, cut, converted, timed out); how fast it happens is
 * measured here, where a loaded machine makes a slow figure, not a failed test.
 *
 *   bench_hostile WORK_DIR
 *
 * Prints one line per case: NAME OURS_SECONDS BASELINE_SECONDS, where
 *   parts          a 2.4 MB message of 300,000 empty MIME parts, refused (max_parts) by
 *                  parse_message_file before GMime builds them; baseline: GMime parsing it
 *   header         a 120 KB Subject and 5,000 encoded words in one header (the header block
 *                  just under MAIL_HEADER_MAX_BYTES, 256 KiB: a longer one is refused before
 *                  it is read), parsed and cut to 2,000 bytes; baseline: GMime parsing it
 *                  and decoding the Subject
 *   nfc            512 KiB of decomposed (NFD) Vietnamese to NFC, util's text_nfc_len;
 *                  baseline: GLib's g_utf8_normalize, quadratic on such text
 *   nfc_tail       512 KiB of composed text ending in an emoji (its only unstable character)
 *   nfc_marks      one letter under 20,000 combining marks of two classes ("Zalgo")
 *   smtp_timeout   an SMTP server that accepts and never greets, timeout_seconds = 1;
 *                  baseline: the timeout itself
 *   imap_timeout   the same for an IMAP server
 * Exit 1 if a case did not end as the tests say it must (a benchmark that measures the wrong
 * outcome lies). */
#include "imap/imap.h"
#include "notify/notify.h"
#include "parse/parse.h"
#include "util/util.h"

#include <gio/gio.h>
#include <gmime/gmime.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define TIMEOUT_SECONDS 1

static double seconds_since(gint64 start)
{
    return (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
}

static G_NORETURN void broken(const char *name, const char *what)
{
    fprintf(stderr, "bench_hostile: %s: %s\n", name, what);
    exit(1);
}

static char *write_message(const char *dir, const char *name, const GString *text)
{
    char *path = g_build_filename(dir, name, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_file_set_contents(path, text->str, (gssize)text->len, &error))
        broken(name, error->message);
    return path;
}

/* GMime alone: the message built, the Subject decoded */
static double parse_gmime(const char *path)
{
    gint64 start = g_get_monotonic_time();
    GMimeStream *stream = g_mime_stream_file_open(path, "rb", NULL);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *message = g_mime_parser_construct_message(parser, NULL);
    if (message) {
        volatile gsize n = strlen(g_mime_message_get_subject(message) ?: "");
        (void)n;
        g_object_unref(message);
    }
    g_object_unref(parser);
    g_object_unref(stream);
    return seconds_since(start);
}

/* Writes MESSAGE (freed) to WORK/NAME.eml, times parse_message_file on it (attachments in a
 * fresh folder) and prints "NAME OURS GMIME". CHECK says whether the outcome is the one the
 * unit tests require (NULL when it is, else what is wrong). */
static void time_parse(const char *work, const char *name, GString *message,
                       const char *(*check)(const Draft *draft, const GError *error))
{
    g_autofree char *file = g_strconcat(name, ".eml", NULL);
    g_autofree char *path = write_message(work, file, message);
    g_string_free(message, TRUE);
    g_autofree char *attachments = g_build_filename(work, "att", NULL);
    fs_remove_tree(attachments);
    if (!fs_make_private_dir(attachments, NULL))
        broken("work folder", attachments);
    ParseOptions opts = {.attachments_dir = attachments};
    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time();
    g_autoptr(Draft) draft = parse_message_file(path, &opts, &error);
    double ours = seconds_since(start);
    const char *wrong = check(draft, error);
    if (wrong)
        broken(name, wrong);
    printf("%s %.4f %.4f\n", name, ours, parse_gmime(path));
}

static const char *refused_for_max_parts(const Draft *draft, const GError *error)
{
    return !draft && error && strstr(error->message, "max_parts") ? NULL
                                                                  : "not refused for max_parts";
}

static const char *subject_cut(const Draft *draft, const GError *error)
{
    return draft && strlen(draft->subject) <= 2000 ? NULL
                                                   : "no draft with a subject cut to 2,000 bytes";
}

static void case_parts(const char *work)
{
    GString *m = g_string_new("From: x@example.vn\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
                              "Content-Type: multipart/mixed; boundary=\"p\"\r\n\r\n");
    for (int i = 0; i < 300000; i++)
        g_string_append(m, "--p\r\n\r\n");
    g_string_append(m, "--p--\r\n");
    time_parse(work, "parts", m, refused_for_max_parts);
}

static void case_header(const char *work)
{
    GString *m = g_string_new("From: a@example.vn\r\nSubject: ");
    for (int i = 0; i < 11000; i++)
        g_string_append(m, "Phản ánh ");
    g_string_append(m, "\r\nX-Long: ");
    for (int i = 0; i < 5000; i++)
        g_string_append(m, "=?UTF-8?B?4bqi?= ");
    g_string_append(m, "\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nNội dung.\r\n");
    time_parse(work, "header", m, subject_cut);
}

/* times text_nfc_len and g_utf8_normalize on text (freed) and prints "NAME OURS GLIB"; SAME:
 * both must give the same bytes (a cut run of marks may differ: see util.c) */
static void time_nfc(const char *name, GString *text, gboolean same)
{
    gint64 start = g_get_monotonic_time();
    g_autofree char *ours = text_nfc_len(text->str, (gssize)text->len);
    double ours_s = seconds_since(start);
    start = g_get_monotonic_time();
    g_autofree char *glib = g_utf8_normalize(text->str, (gssize)text->len, G_NORMALIZE_NFC);
    double glib_s = seconds_since(start);
    if (!ours || !glib || !g_utf8_validate(ours, -1, NULL) || (same && strcmp(ours, glib) != 0))
        broken(name, "text_nfc_len and g_utf8_normalize disagree");
    g_string_free(text, TRUE);
    printf("%s %.4f %.4f\n", name, ours_s, glib_s);
}

static void case_nfc(void)
{
    g_autofree char *line =
        g_utf8_normalize("Người dân phản ánh việc lấn chiếm vỉa hè. ", -1, G_NORMALIZE_NFD);
    GString *big = g_string_new(NULL);
    while (big->len < 512 * 1024)
        g_string_append(big, line);
    time_nfc("nfc", big, TRUE);
    /* composed text whose only unstable character is its last one (an emoji, U+FFFD) */
    GString *tail = g_string_new(NULL);
    while (tail->len < 512 * 1024)
        g_string_append(tail, "Người dân phản ánh việc lấn chiếm vỉa hè. ");
    g_string_append(tail, "\xf0\x9f\x98\x80");
    time_nfc("nfc_tail", tail, TRUE);
    /* "Zalgo": one letter under 20,000 marks of two combining classes */
    GString *marks = g_string_new("a");
    for (int i = 0; i < 10000; i++)
        g_string_append(marks, "\xcc\x81\xcc\xa3"); /* U+0301 (230), U+0323 (220) */
    time_nfc("nfc_marks", marks, FALSE);
}

/* a loopback socket that listens and never accepts: the kernel completes the handshake and
 * the greeting never comes */
static GSocket *silent_server(int *port)
{
    g_autoptr(GError) error = NULL;
    GSocket *listener =
        g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
    g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(loopback, 0);
    if (!listener || !g_socket_bind(listener, any, TRUE, &error) ||
        !g_socket_listen(listener, &error))
        broken("silent server", error ? error->message : "no socket");
    g_autoptr(GSocketAddress) bound = g_socket_get_local_address(listener, &error);
    *port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
    return listener;
}

static void case_smtp_timeout(void)
{
    int port = 0;
    g_autoptr(GSocket) listener = silent_server(&port);
    SmtpOptions opts = {
        .host = "127.0.0.1", .port = port, .tls_verify = TRUE, .timeout_seconds = TIMEOUT_SECONDS};
    g_autoptr(SmtpSender) sender = smtp_sender_new(&opts);
    g_autoptr(GBytes) letter = g_bytes_new_static("Subject: x\r\n\r\nx\r\n", 17);
    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time();
    gboolean sent =
        smtp_sender_send(sender, "paht@example.test", "dan@example.test", letter, NULL, &error);
    double ours = seconds_since(start);
    if (sent || !g_error_matches(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY))
        broken("smtp_timeout", "not a temporary failure");
    printf("smtp_timeout %.4f %.4f\n", ours, (double)TIMEOUT_SECONDS);
}

static void case_imap_timeout(void)
{
    int port = 0;
    g_autoptr(GSocket) listener = silent_server(&port);
    ImapOptions opts = {.host = "127.0.0.1",
                        .port = port,
                        .tls_verify = TRUE,
                        .user = "paht@example.test",
                        .password = "x",
                        .timeout_seconds = TIMEOUT_SECONDS};
    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time();
    g_autoptr(ImapClient) client = imap_client_connect(&opts, &error);
    double ours = seconds_since(start);
    if (client || !g_error_matches(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY))
        broken("imap_timeout", "not a temporary failure");
    printf("imap_timeout %.4f %.4f\n", ours, (double)TIMEOUT_SECONDS);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_hostile WORK_DIR\n");
        return 2;
    }
    log_init("bench_hostile");
    log_set_level(LOG_LEVEL_ERROR);
    signal(SIGPIPE, SIG_IGN);
    parse_init();
    case_parts(argv[1]);
    case_header(argv[1]);
    case_nfc();
    case_smtp_timeout();
    case_imap_timeout();
    return 0;
}
