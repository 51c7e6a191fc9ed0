/* Integration tests of imap/ against the real Dovecot of the test mail stack.
 *
 * The stack is found through PAHT_MAILSTACK_ENV (see tests/CMakeLists.txt); messages are put
 * into the mailbox with "doveadm save". Every run uses its own user (imaptest-<random>), so
 * runs never see each other's mail; PAHT_ITEST_IMAP_USER names a fixed user instead, for a
 * stack that only knows its listed users (its mailboxes are emptied first).
 */
#include "imap/imap.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define BIG_MESSAGE_BYTES (30 * 1024 * 1024)

static GHashTable *stack; /* MAILSTACK_* settings */
static char *user;        /* test user's address */
static char *work_dir;    /* private temp folder of this run */
static char *big_sha256;  /* of the big message as the server serves it (CRLF) */
static gint64 big_size;

/* the three messages of the mailbox tests, in the order they are saved */
typedef struct {
    const char *name;
    const char *content;
    const char *message_id; /* expected from fetch_info, NULL = none */
} TestMessage;

static const TestMessage messages[] = {
    {"crlf", /* already CRLF, as on the wire */
     "From: Nguyen Van A <citizen@example.test>\r\n"
     "To: paht@example.test\r\n"
     "Subject: =?UTF-8?B?UGjhuqNuIMOhbmg=?=\r\n"
     "Message-ID: <crlf-1@example.test>\r\n"
     "Date: Sat, 28 Nov 2026 09:00:00 +0700\r\n"
     "MIME-Version: 1.0\r\n"
     "Content-Type: text/plain; charset=utf-8\r\n"
     "Content-Transfer-Encoding: 8bit\r\n"
     "\r\n"
     "\xc4\x90\xc6\xb0\xe1\xbb\x9dng b\xe1\xbb\x8b ng\xe1\xba\xadp n\xc6\xb0\xe1\xbb\x9b"
     "c.\r\n"
     "D\xc3\xb2ng 2.\r\n",
     "crlf-1@example.test"},
    {"lf", /* bare LF line ends, as a Unix file */
     "From: citizen2@example.test\n"
     "To: paht@example.test\n"
     "Subject: lf\n"
     "Message-ID:   <lf-2@example.test>  \n"
     "\n"
     "line one\n"
     "line two\n"
     "\n"
     "line four\n",
     "lf-2@example.test"},
    {"noid", /* no Message-ID at all */
     "From: citizen3@example.test\r\n"
     "To: paht@example.test\r\n"
     "Subject: no id\r\n"
     "\r\n"
     "body\r\n",
     NULL},
};

/* ---- the stack ------------------------------------------------------------------------- */

static const char *setting(const char *key)
{
    const char *value = g_hash_table_lookup(stack, key);
    if (!value)
        g_error("%s missing from the mail stack env file", key);
    return value;
}

static GHashTable *env_from_text(const char *text)
{
    GHashTable *env = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        char *eq = strchr(lines[i], '=');
        if (lines[i][0] != '#' && eq)
            g_hash_table_insert(env, g_strndup(lines[i], (gsize)(eq - lines[i])),
                                g_strdup(g_strstrip(eq + 1)));
    }
    return env;
}

static gboolean load_stack(GError **error)
{
    const char *path = g_getenv("PAHT_MAILSTACK_ENV");
    if (!path || !*path) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                    "PAHT_MAILSTACK_ENV is not set: run through ctest (fixture mailstack), or "
                    "point it at a mail stack env file");
        return FALSE;
    }
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, error)) {
        g_prefix_error(error, "mail stack env file (PAHT_MAILSTACK_ENV): ");
        return FALSE;
    }
    stack = env_from_text(text);
    return TRUE;
}

static int port_of(const char *key)
{
    return atoi(setting(key));
}

static ImapOptions options(gboolean implicit_tls)
{
    return (ImapOptions){
        .host = setting("MAILSTACK_LISTEN"),
        .port = port_of(implicit_tls ? "MAILSTACK_IMAPS_PORT" : "MAILSTACK_IMAP_PORT"),
        .implicit_tls = implicit_tls,
        .tls_verify = TRUE,
        .ca_file = setting("MAILSTACK_CA"),
        .user = user,
        .password = setting("MAILSTACK_PASSWORD"),
        .timeout_seconds = 20,
        .protocol_log = NULL,
    };
}

static ImapClient *connect_ok(const ImapOptions *opts)
{
    g_autoptr(GError) error = NULL;
    ImapClient *client = imap_client_connect(opts, &error);
    g_assert_no_error(error);
    g_assert_nonnull(client);
    return client;
}

/* runs doveadm with the stack's config; stdin from a file when given */
static gboolean doveadm(const char *stdin_path, char **stdout_text, GError **error,
                        const char *first_arg, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_ptr_array_add(argv, (char *)"doveadm");
    g_ptr_array_add(argv, (char *)"-c");
    g_ptr_array_add(argv, (char *)setting("MAILSTACK_DOVECOT_CONF"));
    va_list ap;
    va_start(ap, first_arg);
    for (const char *arg = first_arg; arg; arg = va_arg(ap, const char *))
        g_ptr_array_add(argv, (char *)arg);
    va_end(ap);
    g_ptr_array_add(argv, NULL);

    g_autoptr(GSubprocessLauncher) launcher =
        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
    if (stdin_path)
        g_subprocess_launcher_set_stdin_file_path(launcher, stdin_path);
    g_autoptr(GSubprocess) process =
        g_subprocess_launcher_spawnv(launcher, (const char *const *)argv->pdata, error);
    if (!process)
        return FALSE;
    g_autofree char *out = NULL;
    if (!g_subprocess_communicate_utf8(process, NULL, NULL, &out, NULL, error))
        return FALSE;
    if (!g_subprocess_get_successful(process)) {
        g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "doveadm %s failed: %s", first_arg,
                    out ? out : "");
        return FALSE;
    }
    if (stdout_text)
        *stdout_text = g_steal_pointer(&out);
    return TRUE;
}

static void save_message(const char *path, const char *mailbox)
{
    g_autoptr(GError) error = NULL;
    doveadm(path, NULL, &error, "save", "-u", user, "-m", mailbox, NULL);
    g_assert_no_error(error);
}

static char *write_work_file(const char *name, const char *content)
{
    char *path = g_build_filename(work_dir, name, NULL);
    g_autoptr(GError) error = NULL;
    g_file_set_contents(path, content, -1, &error);
    g_assert_no_error(error);
    return path;
}

/* what IMAP serves for a stored message: every line ended by CRLF (RFC 3501 §4.3) */
static char *crlf_normalised(const char *text)
{
    GString *out = g_string_new(NULL);
    for (const char *p = text; *p; p++) {
        if (*p == '\n' && (p == text || p[-1] != '\r'))
            g_string_append_c(out, '\r');
        g_string_append_c(out, *p);
    }
    return g_string_free(out, FALSE);
}

static char *read_file(const char *path)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_file_get_contents(path, &text, NULL, &error);
    g_assert_no_error(error);
    return g_steal_pointer(&text);
}

/* ---- connecting -------------------------------------------------------------------------- */

static void test_starttls_with_ca_logs_in(void)
{
    ImapOptions opts = options(FALSE);
    g_autoptr(ImapClient) client = connect_ok(&opts);
    /* the capabilities are the ones after login: Dovecot lists MOVE only then */
    g_assert_true(imap_client_has_capability(client, "IMAP4rev1"));
    g_assert_true(imap_client_has_capability(client, "MOVE"));
    g_assert_true(imap_client_has_capability(client, "UIDPLUS"));
    g_assert_false(imap_client_has_capability(client, "STARTTLS"));
    g_assert_false(imap_client_has_capability(client, "X-NO-SUCH-THING"));
}

static void test_implicit_tls_with_ca_logs_in(void)
{
    ImapOptions opts = options(TRUE);
    g_autoptr(ImapClient) client = connect_ok(&opts);
    ImapMailboxInfo info;
    g_autoptr(GError) error = NULL;
    g_assert_true(imap_client_select(client, "INBOX", &info, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(info.uidvalidity, >, 0);
}

static void test_host_name_is_verified_too(void)
{
    /* by name (DNS SAN "localhost") as well as by address (IP SAN 127.0.0.1) */
    for (int implicit = 0; implicit <= 1; implicit++) {
        ImapOptions opts = options(implicit);
        opts.host = "localhost";
        g_autoptr(ImapClient) client = connect_ok(&opts);
        g_assert_true(imap_client_has_capability(client, "IMAP4rev1"));
    }
}

static void test_self_signed_refused_with_system_trust(void)
{
    for (int implicit = 0; implicit <= 1; implicit++) {
        ImapOptions opts = options(implicit);
        opts.ca_file = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *log_path = g_build_filename(work_dir, "untrusted.log", NULL);
        opts.protocol_log = log_path;
        ImapClient *client = imap_client_connect(&opts, &error);
        g_assert_null(client);
        g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
        g_assert_nonnull(strstr(error->message, "certificate"));
        g_assert_nonnull(strstr(error->message, opts.host));
        g_assert_nonnull(strstr(error->message, "issuer"));
        /* refused before LOGIN: the credentials never crossed the untrusted connection */
        g_autofree char *log = read_file(log_path);
        g_assert_null(strstr(log, "LOGIN"));
    }
}

static void test_tls_verify_off_connects(void)
{
    ImapOptions opts = options(TRUE);
    opts.ca_file = NULL;
    opts.tls_verify = FALSE;
    g_autoptr(ImapClient) client = connect_ok(&opts);
    g_assert_true(imap_client_has_capability(client, "IMAP4rev1"));
}

/* the harness (tests/harness/mailstack.py) run with ARGS; its standard output */
static char *run_harness(const char *const *args)
{
    const char *source = g_getenv("PAHT_SOURCE_DIR");
    if (!source)
        g_error("PAHT_SOURCE_DIR is not set: run through ctest");
    g_autofree char *harness = g_build_filename(source, "tests", "harness", "mailstack.py", NULL);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_ptr_array_add(argv, (char *)"/usr/bin/python3");
    g_ptr_array_add(argv, harness);
    for (gsize i = 0; args[i]; i++)
        g_ptr_array_add(argv, (char *)args[i]);
    g_ptr_array_add(argv, NULL);
    char *out = NULL;
    g_autofree char *err = NULL;
    int status = 0;
    g_autoptr(GError) error = NULL;
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                               &err, &status, &error));
    if (!g_spawn_check_wait_status(status, NULL))
        g_error("mailstack.py %s failed: %s", args[0], err);
    return out;
}

static GHashTable *read_env_file(const char *path)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, &error));
    return env_from_text(text);
}

static void test_name_mismatch_refused(void)
{
    /* A second stack of real servers whose certificate, from the CA we trust, names only
     * other.example.test: whatever address or name we connect to is not in it. (No second
     * host name is needed, so nothing depends on /etc/hosts.) */
    const char *start[] = {"start", "--unusual", "cert_names=DNS:other.example.test", NULL};
    g_autofree char *started = run_harness(start);
    const char *dir = g_strstrip(started);
    g_autofree char *env_path = g_build_filename(dir, "mailstack.env", NULL);
    g_autoptr(GHashTable) other = read_env_file(env_path);
    for (int implicit = 0; implicit <= 1; implicit++) {
        ImapOptions opts = options(implicit);
        opts.port = atoi(
            g_hash_table_lookup(other, implicit ? "MAILSTACK_IMAPS_PORT" : "MAILSTACK_IMAP_PORT"));
        opts.ca_file = g_hash_table_lookup(other, "MAILSTACK_CA");
        opts.password = g_hash_table_lookup(other, "MAILSTACK_PASSWORD");
        g_autofree char *log_path = g_build_filename(work_dir, "mismatch.log", NULL);
        opts.protocol_log = log_path;
        g_autoptr(GError) error = NULL;
        ImapClient *client = imap_client_connect(&opts, &error);
        g_assert_null(client);
        g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
        g_assert_nonnull(strstr(error->message, opts.host));
        g_assert_nonnull(strstr(error->message, "name in the certificate does not match"));
        /* refused before LOGIN: the credentials never crossed the connection */
        g_autofree char *log = read_file(log_path);
        g_assert_null(strstr(log, "LOGIN"));
    }
    const char *stop[] = {"stop", dir, "--rm", NULL};
    g_free(run_harness(stop));
}

static void test_wrong_password_is_config_error(void)
{
    ImapOptions opts = options(FALSE);
    g_autofree char *wrong = g_strconcat(opts.password, "-wrong", NULL);
    opts.password = wrong;
    g_autoptr(GError) error = NULL;
    ImapClient *client = imap_client_connect(&opts, &error);
    g_assert_null(client);
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, "login refused for user"));
    g_assert_null(strstr(error->message, wrong));
}

/* a TCP socket bound to a free port of 127.0.0.1, and that port */
static GSocket *loopback_socket(int *port)
{
    GSocket *socket =
        g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
    g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(loopback, 0);
    g_assert_true(g_socket_bind(socket, any, FALSE, NULL));
    g_autoptr(GSocketAddress) bound = g_socket_get_local_address(socket, NULL);
    *port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
    return socket;
}

static void test_nothing_listening_is_temporary(void)
{
    /* bind a port, then close it: nobody listens there */
    int port = 0;
    g_autoptr(GSocket) socket = loopback_socket(&port);
    g_socket_close(socket, NULL);

    ImapOptions opts = options(FALSE);
    opts.host = "127.0.0.1";
    opts.port = port;
    g_autoptr(GError) error = NULL;
    g_assert_null(imap_client_connect(&opts, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY);
}

static void test_silent_server_times_out_as_temporary(void)
{
    /* plaintext IMAP against the implicit-TLS port: the server waits for a TLS hello and
     * never greets; the timeout must end the wait (without it the test would hang until
     * CTest's limit; how soon it ends is bench/run's "hostile_imap_timeout" figure) */
    ImapOptions opts = options(FALSE);
    opts.port = port_of("MAILSTACK_IMAPS_PORT");
    opts.timeout_seconds = 2;
    g_autoptr(GError) error = NULL;
    g_assert_null(imap_client_connect(&opts, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY);
    g_assert_nonnull(strstr(error->message, "timed out"));
}

/* A hostile peer (not a stand-in for Dovecot): it offers STARTTLS, and answers it with OK and,
 * in the same plaintext, a line of its own, as a man in the middle would to have it read as
 * the server's once TLS is up (RFC 2595 §3.1). */
static gpointer injecting_peer(gpointer data)
{
    GSocket *listener = data;
    g_autoptr(GSocket) peer = g_socket_accept(listener, NULL, NULL);
    if (!peer)
        return GINT_TO_POINTER(-1);
    static const char greeting[] = "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n";
    static const char answer[] = "1 OK Begin TLS negotiation now.\r\n* 5 EXISTS\r\n";
    char line[256];
    g_socket_send(peer, greeting, sizeof greeting - 1, NULL, NULL);
    g_socket_receive(peer, line, sizeof line, NULL, NULL); /* 1 STARTTLS */
    g_socket_send(peer, answer, sizeof answer - 1, NULL, NULL);
    /* what the client sends next, until it leaves: a TLS hello or a command would be a
     * session going on over what the man in the middle said */
    gssize sent = 0, n;
    while ((n = g_socket_receive(peer, line, sizeof line, NULL, NULL)) > 0)
        sent += n;
    return GINT_TO_POINTER((int)sent);
}

static void test_plaintext_after_starttls_is_refused(void)
{
    int port = 0;
    g_autoptr(GSocket) listener = loopback_socket(&port);
    g_assert_true(g_socket_listen(listener, NULL));
    GThread *peer = g_thread_new("injecting-peer", injecting_peer, listener);

    ImapOptions opts = options(FALSE);
    opts.host = "127.0.0.1";
    opts.port = port;
    opts.timeout_seconds = 5;
    g_autoptr(GError) error = NULL;
    g_assert_null(imap_client_connect(&opts, &error));
    int sent_after = GPOINTER_TO_INT(g_thread_join(peer));
    /* libetpan refuses a STARTTLS answer with more behind it: the client leaves without a
     * TLS hello, let alone a LOGIN */
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "STARTTLS"));
    g_assert_cmpint(sent_after, ==, 0);
}

/* a new session with INBOX selected */
static ImapClient *connect_to_inbox(ImapMailboxInfo *info)
{
    ImapOptions opts = options(FALSE);
    ImapClient *client = connect_ok(&opts);
    g_autoptr(GError) error = NULL;
    g_assert_true(imap_client_select(client, "INBOX", info, &error));
    g_assert_no_error(error);
    return client;
}

/* A server that ends the session says why in a BYE line (RFC 3501 §7.1.5), which libetpan
 * reports only as a failed read. "doveadm kick" is what an administrator does, and what
 * Dovecot does to every session when it stops: the failure names the server's words, not a
 * lost connection, and it is the server's side (imap_client_server_failed). */
static void test_server_ending_the_session_is_named(void)
{
    ImapMailboxInfo info;
    g_autoptr(ImapClient) client = connect_to_inbox(&info);
    g_autoptr(GError) error = NULL;
    doveadm(NULL, NULL, &error, "kick", user, NULL);
    g_assert_no_error(error);
    /* the session's process says BYE once it has the signal: NOOP until it did */
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (imap_client_noop(client, &error)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(20 * 1000);
    }
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY);
    g_assert_nonnull(strstr(error->message, "the server closed the connection: "
                                            "Server shutting down."));
    g_assert_null(strstr(error->message, "connection lost"));
    g_assert_true(imap_client_server_failed(client));
    /* the session is over: the next command says so without a word to the server */
    g_clear_error(&error);
    g_assert_false(imap_client_noop(client, &error));
    g_assert_nonnull(strstr(error->message, "already failed"));
}

/* ---- one mailbox ------------------------------------------------------------------------- */

static guint32 saved_uids[G_N_ELEMENTS(messages)];

static void test_select_and_search(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(messages); i++) {
        g_autofree char *name = g_strconcat(messages[i].name, ".eml", NULL);
        g_autofree char *path = write_work_file(name, messages[i].content);
        save_message(path, "INBOX");
    }
    ImapOptions opts = options(FALSE);
    g_autoptr(ImapClient) client = connect_ok(&opts);
    g_autoptr(GError) error = NULL;
    ImapMailboxInfo info;
    g_assert_true(imap_client_select(client, "INBOX", &info, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(info.exists, ==, G_N_ELEMENTS(messages));
    g_assert_cmpuint(info.uidvalidity, >, 0);
    g_assert_cmpuint(info.highestmodseq, >, 0); /* Dovecot has CONDSTORE */

    g_autoptr(GArray) all = imap_client_search_from(client, 1, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(all->len, ==, G_N_ELEMENTS(messages));
    for (guint i = 0; i < all->len; i++) {
        saved_uids[i] = g_array_index(all, guint32, i);
        if (i > 0)
            g_assert_cmpuint(saved_uids[i], >, saved_uids[i - 1]);
    }
    /* UIDNEXT is one above the last UID that was given out */
    g_assert_cmpuint(info.uidnext, ==, saved_uids[all->len - 1] + 1);

    /* the n:* quirk: "UIDNEXT:*" matches the highest UID on the server, we drop it */
    g_autoptr(GArray) none = imap_client_search_from(client, info.uidnext, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(none->len, ==, 0);
    g_autoptr(GArray) none_far = imap_client_search_from(client, info.uidnext + 1000, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(none_far->len, ==, 0);

    g_autoptr(GArray) tail = imap_client_search_from(client, saved_uids[1], &error);
    g_assert_no_error(error);
    g_assert_cmpuint(tail->len, ==, 2);
    g_assert_cmpuint(g_array_index(tail, guint32, 0), ==, saved_uids[1]);
    g_assert_cmpuint(g_array_index(tail, guint32, 1), ==, saved_uids[2]);

    /* UIDVALIDITY is stable across sessions */
    g_autoptr(ImapClient) again = connect_ok(&opts);
    ImapMailboxInfo info2;
    g_assert_true(imap_client_select(again, "INBOX", &info2, &error));
    g_assert_cmpuint(info2.uidvalidity, ==, info.uidvalidity);
    g_assert_cmpuint(info2.uidnext, ==, info.uidnext);
}

static void test_fetch_sizes(void)
{
    ImapOptions opts = options(TRUE);
    g_autoptr(ImapClient) client = connect_ok(&opts);
    g_autoptr(GError) error = NULL;
    g_assert_true(imap_client_select(client, "INBOX", NULL, &error));

    /* asked in disorder, with a duplicate and a UID that does not exist */
    guint32 ask[] = {saved_uids[2], saved_uids[0], 999999, saved_uids[1], saved_uids[0]};
    g_autoptr(GArray) infos = imap_client_fetch_sizes(client, ask, G_N_ELEMENTS(ask), &error);
    g_assert_no_error(error);
    g_assert_cmpuint(infos->len, ==, G_N_ELEMENTS(messages));
    for (guint i = 0; i < infos->len; i++) {
        ImapMessageInfo *info = &g_array_index(infos, ImapMessageInfo, i);
        g_assert_cmpuint(info->uid, ==, saved_uids[i]);
        g_autofree char *served = crlf_normalised(messages[i].content);
        g_assert_cmpint(info->size, ==, (gint64)strlen(served));
    }

    g_autoptr(GArray) empty = imap_client_fetch_sizes(client, NULL, 0, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(empty->len, ==, 0);
    guint32 gone[] = {999999};
    g_autoptr(GArray) vanished = imap_client_fetch_sizes(client, gone, 1, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(vanished->len, ==, 0);

    gboolean exists = FALSE;
    g_assert_true(imap_client_uid_exists(client, saved_uids[1], &exists, &error));
    g_assert_true(exists);
    g_assert_true(imap_client_uid_exists(client, 999999, &exists, &error));
    g_assert_false(exists);
}

/* the headers of a message too large to download, and never more than asked for */
static void test_fetch_header_fields_is_bounded(void)
{
    ImapOptions opts = options(FALSE);
    g_autoptr(ImapClient) client = connect_ok(&opts);
    g_autoptr(GError) error = NULL;
    g_assert_true(imap_client_select(client, "INBOX", NULL, &error));
    const char *fields[] = {"From", "Message-ID", NULL};
    g_autoptr(GBytes) head =
        imap_client_fetch_header_fields(client, saved_uids[0], fields, 4096, &error);
    g_assert_no_error(error);
    gsize len = 0;
    const char *text = g_bytes_get_data(head, &len);
    g_autofree char *from = mail_header_find(text, len, "From");
    g_assert_cmpstr(from, ==, "Nguyen Van A <citizen@example.test>");
    g_autofree char *id = mail_header_find(text, len, "Message-ID");
    g_autofree char *clean = mail_message_id_clean(id);
    g_assert_cmpstr(clean, ==, "crlf-1@example.test");
    g_autofree char *subject = mail_header_find(text, len, "Subject");
    g_assert_null(subject); /* only what was asked for */

    g_autoptr(GBytes) cut =
        imap_client_fetch_header_fields(client, saved_uids[0], fields, 10, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(g_bytes_get_size(cut), ==, 10);
}

static void test_fetch_to_fd_is_exact_and_peeks(void)
{
    ImapOptions opts = options(FALSE);
    g_autoptr(ImapClient) client = connect_ok(&opts);
    g_autoptr(GError) error = NULL;
    g_assert_true(imap_client_select(client, "INBOX", NULL, &error));
    g_autoptr(GArray) infos =
        imap_client_fetch_sizes(client, saved_uids, G_N_ELEMENTS(saved_uids), &error);
    g_assert_no_error(error);

    for (guint i = 0; i < infos->len; i++) {
        ImapMessageInfo *info = &g_array_index(infos, ImapMessageInfo, i);
        g_autofree char *out_path = NULL;
        int fd = fs_open_private_temp(work_dir, "fetched-", &out_path, &error);
        g_assert_no_error(error);
        gint64 written = -1;
        gboolean ok =
            imap_client_fetch_to_fd(client, info->uid, fd, info->size, 0, &written, &error);
        close(fd);
        g_assert_no_error(error);
        g_assert_true(ok);
        g_assert_cmpint(written, ==, info->size);

        /* Dovecot serves every line with CRLF whatever the stored file had: the CRLF message
         * comes back byte for byte, the LF one with CR added before each LF, nothing else */
        g_autofree char *served = crlf_normalised(messages[i].content);
        g_autofree char *expected_sha = sha256_bytes(served, strlen(served));
        gint64 size = 0;
        g_autofree char *got_sha = sha256_file(out_path, &size, &error);
        g_assert_no_error(error);
        g_assert_cmpint(size, ==, written);
        g_assert_cmpstr(got_sha, ==, expected_sha);
        if (strcmp(messages[i].name, "crlf") == 0) {
            g_autofree char *original_sha =
                sha256_bytes(messages[i].content, strlen(messages[i].content));
            g_assert_cmpstr(got_sha, ==, original_sha);
        }
        struct stat st;
        g_assert_cmpint(stat(out_path, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    }

    /* BODY.PEEK: none of them became \Seen */
    g_autofree char *flags = NULL;
    doveadm(NULL, &flags, &error, "fetch", "-u", user, "flags", "mailbox", "INBOX", NULL);
    g_assert_no_error(error);
    g_assert_nonnull(strstr(flags, "flags:"));
    g_assert_null(strstr(flags, "\\Seen"));
}

/* a receiver keeping each message's bytes, and the UID each ended with */
typedef struct {
    GPtrArray *bodies; /* GString */
    GArray *uids;
} Bodies;

static gboolean bodies_begin(gpointer data, GError **error)
{
    (void)error;
    Bodies *b = data;
    g_ptr_array_add(b->bodies, g_string_new(NULL));
    return TRUE;
}

static gboolean bodies_write(gpointer data, const void *bytes, gsize len, GError **error)
{
    (void)error;
    Bodies *b = data;
    g_string_append_len(g_ptr_array_index(b->bodies, b->bodies->len - 1), bytes, (gssize)len);
    return TRUE;
}

static void bodies_end(gpointer data, guint32 uid, gint64 size)
{
    Bodies *b = data;
    GString *last = g_ptr_array_index(b->bodies, b->bodies->len - 1);
    g_assert_cmpint(size, ==, (gint64)last->len);
    g_array_append_val(b->uids, uid);
}

static void free_string(gpointer s)
{
    g_string_free(s, TRUE);
}

/* Bodies sent for in one command, read later: the caller works between the two (mailbox.c
 * records the group before meanwhile). Runs and single UIDs in the set, every byte as the
 * server has it, in UID order. No other command may go out before the answer is read: one
 * that tries fails, and the session with it, instead of reading the FETCH's answer as its
 * own. */
static void test_fetch_bodies_sent_then_received(void)
{
    ImapMailboxInfo info;
    g_autoptr(ImapClient) client = connect_to_inbox(&info);
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) infos =
        imap_client_fetch_sizes(client, saved_uids, G_N_ELEMENTS(saved_uids), &error);
    g_assert_no_error(error);
    g_assert_cmpuint(infos->len, ==, 3);
    const ImapMessageInfo *all = &g_array_index(infos, ImapMessageInfo, 0);
    /* the first and the last: "a,c"; then all three: "a:c" */
    ImapMessageInfo ends[] = {all[0], all[2]};
    struct {
        const ImapMessageInfo *asked;
        guint n;
        guint index[3];
    } rounds[] = {{ends, 2, {0, 2}}, {all, 3, {0, 1, 2}}};
    for (guint r = 0; r < G_N_ELEMENTS(rounds); r++) {
        g_assert_true(
            imap_client_fetch_bodies_send(client, rounds[r].asked, rounds[r].n, 0, &error));
        g_assert_no_error(error);
        Bodies b = {g_ptr_array_new_with_free_func(free_string),
                    g_array_new(FALSE, FALSE, sizeof(guint32))};
        ImapBodyReceiver rx = {bodies_begin, bodies_write, bodies_end, &b};
        guint delivered = 0;
        g_assert_true(imap_client_fetch_bodies_receive(client, &rx, &delivered, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(delivered, ==, rounds[r].n);
        g_assert_cmpuint(b.uids->len, ==, rounds[r].n);
        for (guint i = 0; i < rounds[r].n; i++) {
            guint k = rounds[r].index[i];
            g_assert_cmpuint(g_array_index(b.uids, guint32, i), ==, saved_uids[k]);
            g_autofree char *served = crlf_normalised(messages[k].content);
            GString *got = g_ptr_array_index(b.bodies, i);
            g_assert_cmpuint(got->len, ==, strlen(served));
            g_assert_true(memcmp(got->str, served, got->len) == 0);
        }
        g_ptr_array_unref(b.bodies);
        g_array_unref(b.uids);
    }
    g_assert_true(imap_client_usable(client));

    /* another command while the answer waits unread */
    g_assert_true(imap_client_fetch_bodies_send(client, all, 3, 0, &error));
    g_autoptr(GArray) sizes = imap_client_fetch_sizes(client, saved_uids, 1, &error);
    g_assert_null(sizes);
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY);
    g_assert_nonnull(strstr(error->message, "before the answer to UID FETCH was read"));
    g_assert_false(imap_client_usable(client));
}

static void test_fetch_of_vanished_uid_is_not_found(void)
{
    ImapMailboxInfo info;
    g_autoptr(ImapClient) client = connect_to_inbox(&info);
    g_autoptr(GError) error = NULL;
    g_autofree char *out_path = NULL;
    int fd = fs_open_private_temp(work_dir, "vanished-", &out_path, &error);
    g_assert_no_error(error);
    gint64 written = -1;
    g_assert_false(imap_client_fetch_to_fd(client, info.uidnext + 50, fd, -1, 0, &written, &error));
    /* confirmed gone (UID SEARCH does not list it): the one error a caller may pass over */
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND);
    g_assert_cmpint(written, ==, 0);
    g_clear_error(&error);

    /* the client is still usable */
    g_assert_true(imap_client_usable(client));
    g_assert_true(imap_client_fetch_to_fd(client, saved_uids[0], fd, -1, 0, &written, &error));
    g_assert_no_error(error);
    g_assert_cmpint(written, >, 0);
    close(fd);
}

/* RFC822.SIZE is the server's estimate: a literal of another length is the message, taken
 * with a warning (a message whose size is off by a few bytes must not fail for ever) */
static void test_fetch_size_mismatch_is_kept(void)
{
    ImapOptions opts = options(FALSE);
    g_autoptr(ImapClient) client = connect_ok(&opts);
    g_autoptr(GError) error = NULL;
    g_assert_true(imap_client_select(client, "INBOX", NULL, &error));
    g_autofree char *out_path = NULL;
    int fd = fs_open_private_temp(work_dir, "short-", &out_path, &error);
    g_assert_no_error(error);
    gint64 written = -1;
    g_autofree char *served = crlf_normalised(messages[0].content);
    gint64 real = (gint64)strlen(served);
    g_assert_true(
        imap_client_fetch_to_fd(client, saved_uids[0], fd, real + 5, 0, &written, &error));
    g_assert_no_error(error);
    close(fd);
    g_assert_cmpint(written, ==, real);
    g_assert_true(imap_client_usable(client));
}

/* the literal is taken up to max(announced size, max_bytes), never further */
static void test_fetch_stops_at_the_bound(void)
{
    ImapOptions opts = options(FALSE);
    g_autoptr(ImapClient) client = connect_ok(&opts);
    g_autoptr(GError) error = NULL;
    g_assert_true(imap_client_select(client, "INBOX", NULL, &error));
    g_autofree char *out_path = NULL;
    int fd = fs_open_private_temp(work_dir, "bounded-", &out_path, &error);
    g_assert_no_error(error);
    gint64 written = -1;
    g_assert_false(imap_client_fetch_to_fd(client, saved_uids[0], fd, 40, 100, &written, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_PERMANENT);
    g_assert_nonnull(strstr(error->message, "longer than 100 bytes"));
    close(fd);
    g_assert_cmpint(written, <=, 100);
    struct stat st;
    g_assert_cmpint(stat(out_path, &st), ==, 0);
    g_assert_cmpint(st.st_size, <=, 100);
    /* the rest of the literal was never read: the session says so */
    g_assert_false(imap_client_usable(client));
}

/* A message the server cannot read (its Maildir file unreadable: Dovecot drops the session)
 * is a failure of that message, never "vanished": it is still there for the next session. */
static void test_fetch_of_unreadable_message_is_not_vanished(void)
{
    ImapOptions opts = options(FALSE);
    g_autoptr(GError) error = NULL;
    g_autofree char *path = write_work_file("unreadable.eml", messages[1].content);
    {
        g_autoptr(ImapClient) setup = connect_ok(&opts);
        g_assert_true(imap_client_ensure_folder(setup, "Unreadable", &error));
        g_assert_no_error(error);
    }
    save_message(path, "Unreadable");
    g_autoptr(ImapClient) client = connect_ok(&opts);
    ImapMailboxInfo info;
    g_assert_true(imap_client_select(client, "Unreadable", &info, &error));
    /* Maildir++: the folder is .Unreadable beside the inbox's cur/ (where SELECT put it) */
    g_auto(GStrv) at = g_strsplit(user, "@", 2);
    g_autofree char *cur = g_build_filename(setting("MAILSTACK_DIR"), "mail", at[1], at[0],
                                            "Maildir", ".Unreadable", "cur", NULL);
    g_autoptr(GDir) dir = g_dir_open(cur, 0, &error);
    g_assert_no_error(error);
    const char *name = g_dir_read_name(dir);
    g_assert_nonnull(name);
    g_autofree char *file = g_build_filename(cur, name, NULL);
    g_assert_cmpint(chmod(file, 0), ==, 0);
    g_autoptr(GArray) uids = imap_client_search_from(client, 1, &error);
    g_assert_cmpuint(uids->len, ==, 1);
    guint32 uid = g_array_index(uids, guint32, 0);
    g_autofree char *out_path = NULL;
    int fd = fs_open_private_temp(work_dir, "unreadable-", &out_path, &error);
    g_assert_no_error(error);
    gboolean fetched = imap_client_fetch_to_fd(client, uid, fd, -1, 0, NULL, &error);
    close(fd);
    g_assert_false(fetched);
    g_assert_nonnull(error);
    g_assert_cmpint(error->code, !=, PAHT_ERROR_NOT_FOUND);
    g_clear_error(&error);

    /* still there, and whole once readable again */
    g_assert_cmpint(chmod(file, 0600), ==, 0);
    g_autoptr(ImapClient) again = connect_ok(&opts);
    g_assert_true(imap_client_select(again, "Unreadable", NULL, &error));
    gboolean exists = FALSE;
    g_assert_true(imap_client_uid_exists(again, uid, &exists, &error));
    g_assert_true(exists);
    g_autofree char *again_path = NULL;
    fd = fs_open_private_temp(work_dir, "readable-", &again_path, &error);
    gint64 written = 0;
    g_assert_true(imap_client_fetch_to_fd(again, uid, fd, -1, 0, &written, &error));
    g_assert_no_error(error);
    close(fd);
    g_assert_cmpint(written, >, 0);
}

static void test_fetch_to_unwritable_fd_is_temporary(void)
{
    ImapOptions opts = options(FALSE);
    g_autoptr(ImapClient) client = connect_ok(&opts);
    g_autoptr(GError) error = NULL;
    g_assert_true(imap_client_select(client, "INBOX", NULL, &error));
    int fd = open("/dev/null", O_RDONLY);
    g_assert_cmpint(fd, >=, 0);
    g_assert_false(imap_client_fetch_to_fd(client, saved_uids[0], fd, -1, 0, NULL, &error));
    close(fd);
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY);
    g_clear_error(&error);
    /* the response was left half read: the client says so instead of misreading */
    g_assert_null(imap_client_search_from(client, 1, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY);
}

/* ---- folders and moving ------------------------------------------------------------------ */

static int count_lines_with(const char *text, const char *needle)
{
    int n = 0;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        if (strstr(lines[i], needle))
            n++;
    }
    return n;
}

static void test_ensure_folder_creates_once(void)
{
    ImapOptions opts = options(FALSE);
    g_autofree char *log_path = g_build_filename(work_dir, "folders.log", NULL);
    opts.protocol_log = log_path;
    g_autoptr(ImapClient) client = connect_ok(&opts);
    g_autoptr(GError) error = NULL;

    g_assert_true(imap_client_ensure_folder(client, "PAHT/Processed", &error));
    g_assert_no_error(error);
    g_assert_true(imap_client_ensure_folder(client, "PAHT/Processed", &error));
    g_assert_no_error(error);
    /* Vietnamese names travel as modified UTF-7 (RFC 3501 §5.1.3) */
    g_assert_true(
        imap_client_ensure_folder(client, "PAHT/\xc4\x90\xc3\xa3 x\xe1\xbb\xad l\xc3\xbd", &error));
    g_assert_no_error(error);
    g_assert_true(imap_client_ensure_folder(client, "INBOX", &error));
    g_assert_no_error(error);

    ImapMailboxInfo info;
    g_assert_true(imap_client_select(client, "PAHT/Processed", &info, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(info.exists, ==, 0);

    /* a folder that is not there cannot be selected, and says so as a CONFIG problem */
    g_assert_false(imap_client_select(client, "PAHT/Nowhere", &info, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_clear_error(&error);
    g_assert_false(imap_client_ensure_folder(client, "PAHT//Empty", &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_clear_error(&error);

    g_autofree char *log = read_file(log_path);
    g_assert_cmpint(count_lines_with(log, " CREATE \"PAHT/Processed\""), ==, 1);
    g_assert_cmpint(count_lines_with(log, " CREATE \"PAHT/&ARAA4w- x&Hu0- l&AP0-\""), ==, 1);

    g_autofree char *list = NULL;
    doveadm(NULL, &list, &error, "mailbox", "list", "-u", user, "-s", "PAHT/*", NULL);
    g_assert_no_error(error);
    g_assert_nonnull(strstr(list, "PAHT/Processed"));
    g_assert_nonnull(strstr(list, "PAHT/\xc4\x90\xc3\xa3 x\xe1\xbb\xad l\xc3\xbd"));
}

static void test_move_empties_inbox(void)
{
    ImapOptions opts = options(FALSE);
    g_autoptr(ImapClient) client = connect_ok(&opts);
    g_autoptr(GError) error = NULL;
    g_assert_true(imap_client_ensure_folder(client, "PAHT/Processed", &error));
    g_assert_true(imap_client_select(client, "INBOX", NULL, &error));
    for (gsize i = 0; i < G_N_ELEMENTS(saved_uids); i++) {
        g_assert_true(imap_client_move(client, saved_uids[i], "PAHT/Processed", &error));
        g_assert_no_error(error);
    }
    /* already gone counts as moved */
    g_assert_true(imap_client_move(client, saved_uids[0], "PAHT/Processed", &error));
    g_assert_no_error(error);
    /* a folder that does not exist is the administrator's problem */
    g_autofree char *extra = write_work_file("extra.eml", messages[2].content);
    save_message(extra, "INBOX");
    ImapMailboxInfo info;
    g_assert_true(imap_client_select(client, "INBOX", &info, &error));
    g_assert_cmpuint(info.exists, ==, 1);
    g_autoptr(GArray) left = imap_client_search_from(client, 1, &error);
    g_assert_cmpuint(left->len, ==, 1);
    guint32 extra_uid = g_array_index(left, guint32, 0);
    g_assert_false(imap_client_move(client, extra_uid, "PAHT/Missing", &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_clear_error(&error);
    g_assert_true(imap_client_move(client, extra_uid, "PAHT/Processed", &error));
    g_assert_no_error(error);

    g_assert_true(imap_client_select(client, "INBOX", &info, &error));
    g_assert_cmpuint(info.exists, ==, 0);
    g_assert_true(imap_client_select(client, "PAHT/Processed", &info, &error));
    g_assert_cmpuint(info.exists, ==, G_N_ELEMENTS(messages) + 1);
    g_autoptr(GArray) moved = imap_client_search_from(client, 1, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(moved->len, ==, G_N_ELEMENTS(messages) + 1);

    /* seen from the inbox: the messages are in PAHT/Processed, by Message-ID */
    g_assert_true(imap_client_select(client, "INBOX", &info, &error));
    const char *ids[] = {"crlf-1@example.test", "lf-2@example.test", "nowhere@example.test", NULL};
    gboolean found[G_N_ELEMENTS(ids)] = {TRUE, TRUE, TRUE, TRUE};
    g_assert_true(imap_client_folder_has_message_ids(client, "PAHT/Processed", ids,
                                                     G_N_ELEMENTS(ids), found, &error));
    g_assert_no_error(error);
    g_assert_true(found[0]);
    g_assert_true(found[1]);
    g_assert_false(found[2]);
    g_assert_false(found[3]);
    /* and the inbox is selected again */
    g_autoptr(GArray) inbox = imap_client_search_from(client, 1, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(inbox->len, ==, 0);
}

/* without MOVE a move is two steps, each on its own: a copy, then the original deleted */
static void test_copy_then_delete(void)
{
    ImapOptions opts = options(FALSE);
    g_autoptr(ImapClient) client = connect_ok(&opts);
    g_autoptr(GError) error = NULL;
    g_assert_true(imap_client_ensure_folder(client, "PAHT/Copies", &error));
    g_autofree char *path = write_work_file("copied.eml", messages[0].content);
    save_message(path, "INBOX");
    g_assert_true(imap_client_select(client, "INBOX", NULL, &error));
    g_autoptr(GArray) uids = imap_client_search_from(client, 1, &error);
    g_assert_cmpuint(uids->len, ==, 1);
    guint32 uid = g_array_index(uids, guint32, 0);

    g_assert_true(imap_client_copy_uids(client, &uid, 1, "PAHT/Copies", &error));
    g_assert_no_error(error);
    gboolean exists = FALSE;
    g_assert_true(imap_client_uid_exists(client, uid, &exists, &error));
    g_assert_true(exists); /* a copy only */
    g_assert_true(imap_client_delete_uids(client, &uid, 1, &error));
    g_assert_no_error(error);
    g_assert_true(imap_client_uid_exists(client, uid, &exists, &error));
    g_assert_false(exists);
    ImapMailboxInfo info;
    g_assert_true(imap_client_select(client, "PAHT/Copies", &info, &error));
    g_assert_cmpuint(info.exists, ==, 1);
}

/* ---- protocol log ------------------------------------------------------------------------ */

static void test_protocol_log_one_line_per_command(void)
{
    g_autofree char *log_path = g_build_filename(work_dir, "protocol.log", NULL);
    g_autoptr(GError) error = NULL;
    const char *password = setting("MAILSTACK_PASSWORD");
    ImapMailboxInfo info;
    {
        ImapOptions opts = options(FALSE);
        opts.protocol_log = log_path;
        g_autoptr(ImapClient) client = connect_ok(&opts);
        g_assert_true(imap_client_select(client, "INBOX", &info, &error));
        g_autoptr(GArray) uids = imap_client_search_from(client, info.uidnext, &error);
        g_assert_no_error(error);
    }
    {
        ImapOptions opts = options(TRUE);
        opts.protocol_log = log_path;
        g_autofree char *wrong = g_strconcat(password, "-wrong", NULL);
        opts.password = wrong;
        g_assert_null(imap_client_connect(&opts, &error));
        g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
        g_clear_error(&error);
    }
    struct stat st;
    g_assert_cmpint(stat(log_path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);

    g_autofree char *log = read_file(log_path);
    g_assert_null(strstr(log, password));
    g_assert_null(strstr(log, user));
    g_auto(GStrv) lines = g_strsplit(log, "\n", -1);
    /* STARTTLS session: greeting capabilities, STARTTLS, CAPABILITY again (RFC 3501 §6.2.1),
     * LOGIN (its reply carries the new capabilities), SELECT, UID SEARCH, LOGOUT; then the
     * implicit-TLS session whose LOGIN is refused */
    g_autofree char *search = g_strdup_printf("5 UID SEARCH UID %u:*", info.uidnext);
    const char *expected[] = {
        "1 STARTTLS", "2 CAPABILITY", "3 LOGIN <redacted>", "4 SELECT INBOX (CONDSTORE)",
        search,       "6 LOGOUT",     "1 LOGIN <redacted>"};
    g_assert_cmpuint(g_strv_length(lines), ==, G_N_ELEMENTS(expected) + 1);
    for (gsize i = 0; i < G_N_ELEMENTS(expected); i++)
        g_assert_cmpstr(lines[i], ==, expected[i]);
    g_assert_cmpstr(lines[G_N_ELEMENTS(expected)], ==, "");
}

/* ---- a big message ----------------------------------------------------------------------- */

static void write_big_message(const char *path)
{
    FILE *f = fopen(path, "w");
    g_assert_nonnull(f);
    fputs("From: citizen@example.test\r\nTo: paht@example.test\r\nSubject: big\r\n"
          "Message-ID: <big@example.test>\r\nMIME-Version: 1.0\r\n"
          "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n",
          f);
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    guint32 seed = 12345;
    char line[78];
    while (ftell(f) < BIG_MESSAGE_BYTES) {
        for (int i = 0; i < 76; i++) {
            seed = seed * 1103515245u + 12345u;
            line[i] = alphabet[(seed >> 16) & 63];
        }
        line[76] = '\r';
        line[77] = '\n';
        fwrite(line, 1, sizeof line, f);
    }
    g_assert_cmpint(fclose(f), ==, 0);
}

/* Under AddressSanitizer the RSS says little (freed blocks wait in a quarantine of up to
 * 256 MB), so the live heap is watched instead: its peak, sampled at every allocation. */
#if PAHT_UNDER_ASAN
size_t __sanitizer_get_current_allocated_bytes(void);
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
static volatile size_t peak_live_bytes;

static void watch_malloc(const volatile void *ptr, size_t size)
{
    size_t now = __sanitizer_get_current_allocated_bytes();
    if (now > peak_live_bytes)
        peak_live_bytes = now;
}

static void watch_free(const volatile void *ptr)
{
}
#endif

static long peak_rss_kb(void)
{
    struct rusage usage;
    g_assert_cmpint(getrusage(RUSAGE_SELF, &usage), ==, 0);
    return usage.ru_maxrss;
}

static void test_big_message_streams_with_flat_memory(void)
{
    if (g_test_subprocess()) {
        /* a fresh process: its peak RSS so far is only what connecting cost */
        g_autofree char *facts_path = g_build_filename(work_dir, "big.facts", NULL);
        g_autofree char *facts = read_file(facts_path);
        g_auto(GStrv) words = g_strsplit(facts, " ", 2);
        g_assert_cmpuint(g_strv_length(words), ==, 2);
        big_sha256 = g_strdup(words[0]);
        big_size = g_ascii_strtoll(words[1], NULL, 10);
        ImapOptions opts = options(FALSE);
        g_autoptr(ImapClient) client = connect_ok(&opts);
        g_autoptr(GError) error = NULL;
        ImapMailboxInfo info;
        g_assert_true(imap_client_select(client, "Big", &info, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(info.exists, ==, 1);
        g_autoptr(GArray) uids = imap_client_search_from(client, 1, &error);
        g_assert_cmpuint(uids->len, ==, 1);
        g_autoptr(GArray) infos =
            imap_client_fetch_sizes(client, &g_array_index(uids, guint32, 0), 1, &error);
        g_assert_cmpuint(infos->len, ==, 1);
        ImapMessageInfo *mi = &g_array_index(infos, ImapMessageInfo, 0);
        g_assert_cmpint(mi->size, ==, big_size);

        g_autofree char *out_path = NULL;
        int fd = fs_open_private_temp(work_dir, "big-", &out_path, &error);
        g_assert_no_error(error);
        long before = peak_rss_kb();
#if PAHT_UNDER_ASAN
        size_t live_before = __sanitizer_get_current_allocated_bytes();
        peak_live_bytes = live_before;
        __sanitizer_install_malloc_and_free_hooks(watch_malloc, watch_free);
#endif
        gint64 written = 0;
        guint64 asked = 0;
        guint64 reads = imap_client_socket_reads(client, &asked);
        guint64 asked_before = asked;
        g_assert_true(imap_client_fetch_to_fd(client, mi->uid, fd, mi->size, 0, &written, &error));
        g_assert_no_error(error);
        reads = imap_client_socket_reads(client, &asked) - reads;
        asked -= asked_before;
        long after = peak_rss_kb();
        close(fd);
        g_assert_cmpint(written, ==, big_size);
        g_printerr("# peak RSS %ld KB before, %ld KB after streaming %" G_GINT64_FORMAT " bytes\n",
                   before, after, written);
        /* the TLS stream reads what the socket holds: at most one read a TLS record, where
         * GnuTLS reading the socket itself made two, its header and its body */
        g_printerr("# %" G_GUINT64_FORMAT " socket reads for %" G_GINT64_FORMAT
                   " bytes, GnuTLS asked %" G_GUINT64_FORMAT "\n",
                   reads, written, asked);
        g_assert_cmpuint(reads, >, 0);
        g_assert_cmpuint(asked, >=, (guint64)(written / (16 * 1024)) * 2); /* records: 16 KiB */
        g_assert_cmpuint(reads * 3, <, asked * 2);
        /* flat: growth far below the message (a buffered body would add >= 30 MB) */
#if PAHT_UNDER_ASAN
        __sanitizer_install_malloc_and_free_hooks(NULL, NULL);
        g_printerr("# peak live heap +%zu KB while streaming\n",
                   (peak_live_bytes - live_before) / 1024);
        g_assert_cmpuint(peak_live_bytes - live_before, <, (gsize)(big_size / 8));
#else
        g_assert_cmpint(after - before, <, (long)(big_size / 1024 / 8));
#endif
        g_autofree char *sha = sha256_file(out_path, NULL, &error);
        g_assert_cmpstr(sha, ==, big_sha256);
        unlink(out_path);
        return;
    }

    g_autofree char *path = g_build_filename(work_dir, "big.eml", NULL);
    write_big_message(path);
    g_autoptr(GError) error = NULL;
    big_sha256 = sha256_file(path, &big_size, &error);
    g_assert_no_error(error);
    {
        ImapOptions opts = options(FALSE);
        g_autoptr(ImapClient) client = connect_ok(&opts);
        g_assert_true(imap_client_ensure_folder(client, "Big", &error));
        g_assert_no_error(error);
    }
    save_message(path, "Big");
    unlink(path);
    /* the child learns the expected digest from a file (setenv is unsafe once GLib's
     * threads run) */
    g_autofree char *facts = g_strdup_printf("%s %" G_GINT64_FORMAT, big_sha256, big_size);
    g_autofree char *facts_path = write_work_file("big.facts", facts);
    g_test_trap_subprocess(NULL, 300 * G_USEC_PER_SEC,
                           G_TEST_SUBPROCESS_INHERIT_STDOUT | G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed();
}

/* ---- main ---------------------------------------------------------------------------------- */

static void clean_fixed_user(void)
{
    /* a fixed user keeps its mail between runs: start from an empty INBOX */
    doveadm(NULL, NULL, NULL, "expunge", "-u", user, "mailbox", "*", "all", NULL);
    doveadm(NULL, NULL, NULL, "mailbox", "delete", "-u", user, "-r", "-s", "PAHT", "Big", NULL);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_init("itest_imap_client");
    /* as pahtd does: libetpan writes to sockets without MSG_NOSIGNAL (see imap.h) */
    signal(SIGPIPE, SIG_IGN);

    g_autoptr(GError) error = NULL;
    if (!load_stack(&error)) {
        g_printerr("itest_imap_client: %s\n", error->message);
        return 1;
    }
    const char *fixed = g_getenv("PAHT_ITEST_IMAP_USER");
    if (g_test_subprocess()) {
        /* the parent's user and folder (set before any thread existed) */
        user = g_strdup(g_getenv("PAHT_ITEST_RUN_USER"));
        work_dir = g_strdup(g_getenv("PAHT_ITEST_WORK_DIR"));
        g_assert_nonnull(user);
        g_assert_nonnull(work_dir);
    } else {
        if (fixed && *fixed) {
            user = g_strdup(fixed);
        } else {
            g_autofree char *tag = random_hex(6);
            user = g_strdup_printf("imaptest-%s@%s", tag, setting("MAILSTACK_DOMAIN"));
        }
        work_dir = g_dir_make_tmp("itest-imap-XXXXXX", &error);
        g_assert_no_error(error);
        g_setenv("PAHT_ITEST_RUN_USER", user, TRUE);
        g_setenv("PAHT_ITEST_WORK_DIR", work_dir, TRUE);
        if (fixed && *fixed)
            clean_fixed_user();
    }

    g_test_add_func("/imap/connect/starttls-with-ca", test_starttls_with_ca_logs_in);
    g_test_add_func("/imap/connect/implicit-tls-with-ca", test_implicit_tls_with_ca_logs_in);
    g_test_add_func("/imap/connect/host-name-verified", test_host_name_is_verified_too);
    g_test_add_func("/imap/connect/self-signed-refused-by-system-trust",
                    test_self_signed_refused_with_system_trust);
    g_test_add_func("/imap/connect/tls-verify-off", test_tls_verify_off_connects);
    g_test_add_func("/imap/connect/name-mismatch-refused", test_name_mismatch_refused);
    g_test_add_func("/imap/connect/wrong-password", test_wrong_password_is_config_error);
    g_test_add_func("/imap/connect/nothing-listening", test_nothing_listening_is_temporary);
    g_test_add_func("/imap/connect/silent-server-times-out",
                    test_silent_server_times_out_as_temporary);
    g_test_add_func("/imap/connect/plaintext-after-starttls-refused",
                    test_plaintext_after_starttls_is_refused);
    g_test_add_func("/imap/session/server-ending-it-is-named",
                    test_server_ending_the_session_is_named);
    g_test_add_func("/imap/mailbox/select-and-search", test_select_and_search);
    g_test_add_func("/imap/mailbox/fetch-sizes", test_fetch_sizes);
    g_test_add_func("/imap/mailbox/fetch-header-fields-bounded",
                    test_fetch_header_fields_is_bounded);
    g_test_add_func("/imap/mailbox/fetch-to-fd", test_fetch_to_fd_is_exact_and_peeks);
    g_test_add_func("/imap/mailbox/fetch-bodies-sent-then-received",
                    test_fetch_bodies_sent_then_received);
    g_test_add_func("/imap/mailbox/fetch-vanished-is-not-found",
                    test_fetch_of_vanished_uid_is_not_found);
    g_test_add_func("/imap/mailbox/fetch-size-mismatch-kept", test_fetch_size_mismatch_is_kept);
    g_test_add_func("/imap/mailbox/fetch-stops-at-the-bound", test_fetch_stops_at_the_bound);
    g_test_add_func("/imap/mailbox/fetch-unreadable-is-not-vanished",
                    test_fetch_of_unreadable_message_is_not_vanished);
    g_test_add_func("/imap/mailbox/fetch-unwritable-fd", test_fetch_to_unwritable_fd_is_temporary);
    g_test_add_func("/imap/folders/ensure", test_ensure_folder_creates_once);
    g_test_add_func("/imap/folders/move", test_move_empties_inbox);
    g_test_add_func("/imap/folders/copy-then-delete", test_copy_then_delete);
    g_test_add_func("/imap/log/one-line-per-command", test_protocol_log_one_line_per_command);
    g_test_add_func("/imap/big/flat-memory", test_big_message_streams_with_flat_memory);

    int result = g_test_run();

    if (!g_test_subprocess()) {
        g_autoptr(GFile) dir = g_file_new_for_path(work_dir);
        g_autoptr(GFileEnumerator) files = g_file_enumerate_children(
            dir, G_FILE_ATTRIBUTE_STANDARD_NAME, G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
        GFileInfo *info;
        while (files && (info = g_file_enumerator_next_file(files, NULL, NULL))) {
            g_autofree char *path = g_build_filename(work_dir, g_file_info_get_name(info), NULL);
            unlink(path);
            g_object_unref(info);
        }
        rmdir(work_dir);
    }
    g_hash_table_unref(stack);
    g_free(user);
    g_free(work_dir);
    g_free(big_sha256);
    return result;
}
