/* Integration test of notify against the real Postfix and Dovecot of the mail stack: an
 * acknowledgement composed from the shipped templates is sent over STARTTLS with the CA
 * verified, and read back from the recipient's mailbox with doveadm. Failures are the real
 * server's: 451 and 550 from its fault map, a refused password, an unknown certificate.
 *
 * Needs PAHT_MAILSTACK_ENV (the stack's env file) and PAHT_TEMPLATES_DIR; CTest sets both. */
#include "notify/notify.h"
#include "util/util.h"

#include <gmime/gmime.h>
#include <string.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeMessage, g_object_unref)

#define DELIVERY_TIMEOUT_SECONDS 20
#define REPORT_CODE              "PAHT-2026-000123"
#define REPORT_SUBJECT           "Đèn đường hỏng, ổ gà ở đường Lê Lợi, phường 6, TP. Sóc Trăng"

static GHashTable *stack; /* MAILSTACK_* -> value */
static const char *templates_dir;

static const char *stack_get(const char *key)
{
    const char *value = g_hash_table_lookup(stack, key);
    if (!value || !*value)
        g_error("the mail stack env file has no %s", key);
    return value;
}

static int stack_port(const char *key)
{
    return (int)g_ascii_strtoll(stack_get(key), NULL, 10);
}

/* KEY=VALUE lines, values never quoted (tests/CMakeLists.txt, the harness) */
static GHashTable *stack_load(const char *path, GError **error)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, error))
        return NULL;
    GHashTable *table = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        char *line = g_strstrip(lines[i]);
        char *eq = strchr(line, '=');
        if (!*line || *line == '#' || !eq)
            continue;
        g_hash_table_insert(table, g_strndup(line, (gsize)(eq - line)), g_strdup(eq + 1));
    }
    return table;
}

/* a mailbox of its own for each letter: notifytest-RANDOM@domain */
static char *unique_address(const char *prefix)
{
    g_autofree char *random = random_hex(6);
    return g_strdup_printf("%s-%s@%s", prefix, random, stack_get("MAILSTACK_DOMAIN"));
}

/* tempfail+RANDOM@domain: the stack's fault map answers "tempfail*" and "permfail*" */
static char *fault_address(const char *prefix)
{
    g_autofree char *random = random_hex(6);
    return g_strdup_printf("%s+%s@%s", prefix, random, stack_get("MAILSTACK_DOMAIN"));
}

static char *sender_address(void)
{
    return g_strdup_printf("paht@%s", stack_get("MAILSTACK_DOMAIN"));
}

/* SMTP port, STARTTLS, our CA, AUTH as the gateway's account */
static SmtpOptions starttls_options(void)
{
    static char *user;
    if (!user)
        user = sender_address();
    SmtpOptions opts = {.host = stack_get("MAILSTACK_LISTEN"),
                        .port = stack_port("MAILSTACK_SMTP_PORT"),
                        .implicit_tls = FALSE,
                        .tls_verify = TRUE,
                        .ca_file = stack_get("MAILSTACK_CA"),
                        .user = user,
                        .password = stack_get("MAILSTACK_PASSWORD"),
                        .timeout_seconds = 30};
    return opts;
}

static JsonNode *ack_context(const char *citizen_email)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "gateway");
    json_builder_begin_object(b);
    const char *gateway[][2] = {{"name", "Trung tâm IOC tỉnh Sóc Trăng"},
                                {"place", "Sóc Trăng"},
                                {"email", "paht@soctrang.gov.vn"},
                                {"portal", "https://paht.soctrang.gov.vn"},
                                {"hotline", "1022"},
                                {"app", "Công dân Sóc Trăng"}};
    for (gsize i = 0; i < G_N_ELEMENTS(gateway); i++) {
        json_builder_set_member_name(b, gateway[i][0]);
        json_builder_add_string_value(b, gateway[i][1]);
    }
    json_builder_end_object(b);
    json_builder_set_member_name(b, "today");
    json_builder_add_string_value(b, "ngày 28 tháng 11 năm 2026");
    json_builder_set_member_name(b, "report");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "code");
    json_builder_add_string_value(b, REPORT_CODE);
    json_builder_set_member_name(b, "subject");
    json_builder_add_string_value(b, REPORT_SUBJECT);
    json_builder_set_member_name(b, "received_at");
    json_builder_add_string_value(b, "08:15 ngày 28/11/2026");
    json_builder_set_member_name(b, "attachment_count");
    json_builder_add_int_value(b, 1);
    json_builder_set_member_name(b, "attachments");
    json_builder_begin_array(b);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "filename");
    json_builder_add_string_value(b, "ảnh hiện trường.jpg");
    json_builder_set_member_name(b, "kind");
    json_builder_add_string_value(b, "image");
    json_builder_end_object(b);
    json_builder_end_array(b);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "citizen");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, "Nguyễn Thị Ánh Tuyết");
    json_builder_set_member_name(b, "email");
    json_builder_add_string_value(b, citizen_email);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "deadline");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "assign");
    json_builder_add_string_value(b, "11:15 ngày 30/11/2026");
    json_builder_end_object(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static Letter *compose_ack(const char *to)
{
    JsonNode *context = ack_context(to);
    g_autofree char *from = sender_address();
    g_autofree char *reply_to =
        g_strdup_printf("paht+tok%s@%s", "abc123", stack_get("MAILSTACK_DOMAIN"));
    LetterSpec spec = {.templates_dir = templates_dir,
                       .kind = "ack",
                       .context = context,
                       .from_name = "Trung tâm IOC tỉnh Sóc Trăng",
                       .from_address = from,
                       .to_name = "Nguyễn Thị Ánh Tuyết",
                       .to_address = to,
                       .reply_to = reply_to,
                       .in_reply_to = "citizen-original@mail.example",
                       .auto_submitted = "auto-replied",
                       .date = clock_now_unix()};
    g_autoptr(GError) error = NULL;
    Letter *letter = letter_compose(&spec, &error);
    g_assert_no_error(error);
    json_node_unref(context);
    return letter;
}

/* what a program of the stack printed on stdout */
static char *run_tool(const char *const *argv)
{
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status = 0;
    g_autoptr(GError) error = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                      &status, &error))
        g_error("cannot run %s: %s", argv[0], error->message);
    return g_steal_pointer(&out);
}

/* The message with this Message-ID in user's INBOX now, as doveadm prints it, or NULL */
static char *delivered_now(const char *user, const char *message_id)
{
    const char *conf = stack_get("MAILSTACK_DOVECOT_CONF");
    const char *argv[] = {"doveadm", "-c",    conf,     "fetch",      "-u",       user, "text",
                          "mailbox", "INBOX", "header", "Message-ID", message_id, NULL};
    g_autofree char *out = run_tool(argv);
    const char *text = out ? strstr(out, "text:\n") : NULL;
    if (text && strstr(text, message_id))
        return g_strdup(text + strlen("text:\n"));
    return NULL;
}

/* The message with this Message-ID in user's INBOX, as doveadm prints it; NULL if it has not
 * arrived within the timeout. */
static char *wait_for_delivery(const char *user, const char *message_id)
{
    gint64 deadline = g_get_monotonic_time() + DELIVERY_TIMEOUT_SECONDS * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < deadline) {
        char *text = delivered_now(user, message_id);
        if (text)
            return text;
        g_usleep(200 * 1000);
    }
    return NULL;
}

/* TRUE when Postfix's queue holds mail for address: Postfix keeps a letter there from its
 * 250 to the sender until Dovecot has stored it */
static gboolean postfix_holds(const char *address)
{
    const char *argv[] = {"postqueue", "-c", stack_get("MAILSTACK_POSTFIX_CONF"), "-j", NULL};
    g_autofree char *out = run_tool(argv);
    g_autofree char *quoted = g_strdup_printf("\"%s\"", address);
    return out && strstr(out, quoted) != NULL;
}

static GMimeMessage *parse_text(const char *text)
{
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(text, strlen(text));
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *message = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    g_object_unref(stream);
    g_assert_nonnull(message);
    return message;
}

static void assert_delivered_ack(const char *to, const Letter *letter)
{
    g_autofree char *delivered = wait_for_delivery(to, letter->message_id);
    if (!delivered)
        g_error("the letter to %s did not arrive within %d s", to, DELIVERY_TIMEOUT_SECONDS);
    g_autoptr(GMimeMessage) message = parse_text(delivered);
    g_assert_cmpstr(g_mime_message_get_subject(message), ==,
                    "[" REPORT_CODE "] Đã tiếp nhận phản ánh: " REPORT_SUBJECT);
    g_assert_cmpstr(g_mime_message_get_message_id(message), ==, letter->message_id);
    GMimeObject *object = GMIME_OBJECT(message);
    g_autofree char *from = sender_address();
    g_assert_cmpstr(g_mime_object_get_header(object, "X-PAHT-Loop"), ==, from);
    g_assert_cmpstr(g_mime_object_get_header(object, "Auto-Submitted"), ==, "auto-replied");
    g_assert_cmpstr(g_mime_object_get_header(object, "In-Reply-To"), ==,
                    "<citizen-original@mail.example>");
    InternetAddress *to0 = internet_address_list_get_address(g_mime_message_get_to(message), 0);
    g_assert_cmpstr(internet_address_get_name(to0), ==, "Nguyễn Thị Ánh Tuyết");
    /* the plain part survived the trip, diacritics and all */
    GMimeMultipart *body = GMIME_MULTIPART(g_mime_message_get_mime_part(message));
    g_autofree char *text =
        g_mime_text_part_get_text(GMIME_TEXT_PART(g_mime_multipart_get_part(body, 0)));
    g_assert_nonnull(strstr(text, "Kính gửi Ông/Bà Nguyễn Thị Ánh Tuyết,"));
    g_assert_nonnull(strstr(text, "ảnh hiện trường.jpg"));
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_ack_delivered_over_starttls(void)
{
    g_autofree char *to = unique_address("notifytest");
    g_autoptr(Letter) letter = compose_ack(to);
    SmtpOptions opts = starttls_options();
    g_autoptr(SmtpSender) sender = smtp_sender_new(&opts);
    g_autofree char *from = sender_address();
    g_autofree char *reply = NULL;
    g_autoptr(GError) error = NULL;
    g_assert_true(smtp_sender_send(sender, from, to, letter->message, &reply, &error));
    g_assert_no_error(error);
    g_assert_nonnull(reply);
    g_assert_true(g_str_has_prefix(reply, "250"));
    g_assert_cmpint(smtp_sender_connections(sender), ==, 1);
    assert_delivered_ack(to, letter);
}

static void test_ack_delivered_over_implicit_tls(void)
{
    g_autofree char *to = unique_address("notifytest");
    g_autoptr(Letter) letter = compose_ack(to);
    SmtpOptions opts = starttls_options();
    opts.port = stack_port("MAILSTACK_SMTPS_PORT");
    opts.implicit_tls = TRUE;
    g_autoptr(SmtpSender) sender = smtp_sender_new(&opts);
    g_autofree char *from = sender_address();
    g_autoptr(GError) error = NULL;
    g_assert_true(smtp_sender_send(sender, from, to, letter->message, NULL, &error));
    g_assert_no_error(error);
    assert_delivered_ack(to, letter);
}

static void test_many_letters_one_connection(void)
{
    SmtpOptions opts = starttls_options();
    g_autoptr(SmtpSender) sender = smtp_sender_new(&opts);
    g_autofree char *from = sender_address();
    Letter *letters[3];
    char *to[3];
    for (int i = 0; i < 3; i++) {
        to[i] = unique_address("notifytest");
        letters[i] = compose_ack(to[i]);
        g_autoptr(GError) error = NULL;
        g_autofree char *reply = NULL;
        g_assert_true(smtp_sender_send(sender, from, to[i], letters[i]->message, &reply, &error));
        g_assert_no_error(error);
        g_assert_true(g_str_has_prefix(reply, "250"));
    }
    /* one TLS handshake, one EHLO, one AUTH for all three */
    g_assert_cmpint(smtp_sender_connections(sender), ==, 1);
    for (int i = 0; i < 3; i++) {
        assert_delivered_ack(to[i], letters[i]);
        letter_free(letters[i]);
        g_free(to[i]);
    }
}

static void test_tempfail_is_temporary(void)
{
    g_autofree char *to = fault_address("tempfail");
    g_autoptr(Letter) letter = compose_ack(to);
    SmtpOptions opts = starttls_options();
    g_autoptr(SmtpSender) sender = smtp_sender_new(&opts);
    g_autofree char *from = sender_address();
    g_autofree char *reply = NULL;
    g_autoptr(GError) error = NULL;
    g_assert_false(smtp_sender_send(sender, from, to, letter->message, &reply, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY);
    g_assert_nonnull(reply);
    if (!strstr(reply, "451"))
        g_error("reply \"%s\" has no 451", reply);
}

static void test_permfail_is_permanent_and_sender_recovers(void)
{
    g_autofree char *bad = fault_address("permfail");
    g_autoptr(Letter) bad_letter = compose_ack(bad);
    SmtpOptions opts = starttls_options();
    g_autoptr(SmtpSender) sender = smtp_sender_new(&opts);
    g_autofree char *from = sender_address();
    g_autofree char *reply = NULL;
    g_autoptr(GError) error = NULL;
    g_assert_false(smtp_sender_send(sender, from, bad, bad_letter->message, &reply, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_PERMANENT);
    g_assert_nonnull(reply);
    if (!strstr(reply, "550"))
        g_error("reply \"%s\" has no 550", reply);

    /* the same sender goes on with the next letter */
    g_autofree char *good = unique_address("notifytest");
    g_autoptr(Letter) good_letter = compose_ack(good);
    g_autofree char *good_reply = NULL;
    g_autoptr(GError) good_error = NULL;
    g_assert_true(
        smtp_sender_send(sender, from, good, good_letter->message, &good_reply, &good_error));
    g_assert_no_error(good_error);
    g_assert_true(g_str_has_prefix(good_reply, "250"));
    assert_delivered_ack(good, good_letter);
}

static void test_unknown_certificate_is_config(void)
{
    /* no ca_file: the system store does not know the stack's own CA */
    g_autofree char *to = unique_address("notifytest");
    g_autoptr(Letter) letter = compose_ack(to);
    SmtpOptions opts = starttls_options();
    opts.ca_file = NULL;
    g_autoptr(SmtpSender) sender = smtp_sender_new(&opts);
    g_autofree char *from = sender_address();
    g_autoptr(GError) error = NULL;
    g_assert_false(smtp_sender_send(sender, from, to, letter->message, NULL, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
}

static void test_wrong_password_is_config(void)
{
    g_autofree char *to = unique_address("notifytest");
    g_autoptr(Letter) letter = compose_ack(to);
    SmtpOptions opts = starttls_options();
    opts.port = stack_port("MAILSTACK_SUBMISSION_PORT");
    g_autofree char *wrong = g_strdup_printf("wrong-%s", stack_get("MAILSTACK_PASSWORD"));
    opts.password = wrong;
    g_autoptr(SmtpSender) sender = smtp_sender_new(&opts);
    g_autofree char *from = sender_address();
    g_autofree char *reply = NULL;
    g_autoptr(GError) error = NULL;
    g_assert_false(smtp_sender_send(sender, from, to, letter->message, &reply, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    /* the password is nowhere in what we hand back */
    g_assert_null(strstr(error->message, wrong));
    g_assert_true(!reply || !strstr(reply, wrong));
}

/* how often a gate was asked, and its answer */
typedef struct {
    int calls;
    gboolean open;
} Gate;

static gboolean gate_answer(gpointer data)
{
    Gate *gate = data;
    gate->calls++;
    return gate->open;
}

/* the letter with 330 KB after its last MIME boundary (an epilogue, which readers ignore):
 * curl takes it in several pieces, and the gate must come before the last one only */
static GBytes *padded(const Letter *letter)
{
    gsize len = 0;
    const char *data = g_bytes_get_data(letter->message, &len);
    GString *s = g_string_new_len(data, (gssize)len);
    for (int i = 0; i < 10000; i++)
        g_string_append(s, "padding after the last boundary\r\n");
    return g_string_free_to_bytes(s);
}

/* pahtd's outbox lets a letter end (the "." of DATA) only once the commit of its claim is on
 * disk, and abandons it when that commit fails. A letter whose gate says no never reaches the
 * server whole: nothing is delivered, the connection is dropped, and the same sender goes on
 * with the next letter over a new one; a gate that says yes lets the letter arrive. */
static void test_gate_refusal_abandons_the_letter_unended(void)
{
    g_autofree char *to = unique_address("notifytest");
    g_autoptr(Letter) abandoned = compose_ack(to);
    g_autoptr(Letter) next = compose_ack(to);
    g_assert_cmpstr(abandoned->message_id, !=, next->message_id);
    SmtpOptions opts = starttls_options();
    g_autoptr(SmtpSender) sender = smtp_sender_new(&opts);
    g_autofree char *from = sender_address();

    /* a long letter: most of it has gone out when the gate says no */
    g_autoptr(GBytes) abandoned_bytes = padded(abandoned);
    Gate no = {.open = FALSE};
    g_autoptr(GError) error = NULL;
    g_assert_false(
        smtp_sender_send_gated(sender, from, to, abandoned_bytes, gate_answer, &no, NULL, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY);
    g_assert_cmpint(no.calls, ==, 1);

    Gate yes = {.open = TRUE};
    g_autoptr(GError) next_error = NULL;
    g_autofree char *reply = NULL;
    g_autoptr(GBytes) next_bytes = padded(next);
    g_assert_true(smtp_sender_send_gated(sender, from, to, next_bytes, gate_answer, &yes, &reply,
                                         &next_error));
    g_assert_no_error(next_error);
    g_assert_true(g_str_has_prefix(reply, "250"));
    g_assert_cmpint(yes.calls, ==, 1);
    g_assert_cmpint(smtp_sender_connections(sender), ==, 2);
    assert_delivered_ack(to, next);
    /* the abandoned letter, had Postfix accepted it, would have been accepted before the next
     * one: in its queue or in the mailbox now (looked at in that order) */
    g_assert_false(postfix_holds(to));
    g_autofree char *found = delivered_now(to, abandoned->message_id);
    g_assert_null(found);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_init("itest_notify_smtp");
    g_mime_init();

    const char *env = g_getenv("PAHT_MAILSTACK_ENV");
    g_autoptr(GError) error = NULL;
    if (!env || !(stack = stack_load(env, &error))) {
        g_printerr("itest_notify_smtp: no mail stack: PAHT_MAILSTACK_ENV %s%s (start one with "
                   "tests/harness/mailstack.py or run through CTest)\n",
                   env ? "names an unreadable file: " : "is not set", error ? error->message : "");
        return 1;
    }
    templates_dir = g_getenv("PAHT_TEMPLATES_DIR");
    if (!templates_dir) {
        g_printerr("itest_notify_smtp: PAHT_TEMPLATES_DIR is not set\n");
        return 1;
    }

    g_test_add_func("/notify/smtp/ack_delivered_over_starttls", test_ack_delivered_over_starttls);
    g_test_add_func("/notify/smtp/ack_delivered_over_implicit_tls",
                    test_ack_delivered_over_implicit_tls);
    g_test_add_func("/notify/smtp/many_letters_one_connection", test_many_letters_one_connection);
    g_test_add_func("/notify/smtp/tempfail_is_temporary", test_tempfail_is_temporary);
    g_test_add_func("/notify/smtp/permfail_is_permanent_and_sender_recovers",
                    test_permfail_is_permanent_and_sender_recovers);
    g_test_add_func("/notify/smtp/unknown_certificate_is_config",
                    test_unknown_certificate_is_config);
    g_test_add_func("/notify/smtp/wrong_password_is_config", test_wrong_password_is_config);
    g_test_add_func("/notify/smtp/gate_refusal_abandons_the_letter_unended",
                    test_gate_refusal_abandons_the_letter_unended);
    int status = g_test_run();
    g_hash_table_unref(stack);
    return status;
}
