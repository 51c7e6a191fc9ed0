/* The one path every letter takes: context, never-answer addresses, IOC alerts, once-only. */
#include "app/letters.h"
#include "util/util.h"

#include <glib/gstdio.h>
#include <gmime/gmime.h>
#include <string.h>

/* GMime 3.2 defines no g_autoptr cleanup for its types */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeMessage, g_object_unref)

typedef struct {
    char *dir;
    Config *config;
    Store *store;
} Fixture;

static char *templates_dir(void)
{
    const char *env = g_getenv("PAHT_TEMPLATES_DIR");
    if (env)
        return g_strdup(env);
    g_autofree char *here = g_path_get_dirname(__FILE__);
    return g_build_filename(here, "..", "..", "templates", NULL);
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("paht-letters-XXXXXX", NULL);
    g_autofree char *templates = templates_dir();
    g_autofree char *conf = g_build_filename(f->dir, "paht.conf", NULL);
    g_autofree char *text = g_strconcat("[gateway]\ndatabase = paht.db\ndata_dir = data\n"
                                        "templates_dir = ",
                                        templates,
                                        "\nioc_alert_to = ioc@soctrang.gov.vn\n"
                                        "[imap]\nurl = imaps://mail.soctrang.gov.vn/INBOX\n"
                                        "user = paht@soctrang.gov.vn\n"
                                        "[smtp]\nurl = smtp://mail.soctrang.gov.vn\n"
                                        "from = paht@soctrang.gov.vn\n"
                                        "reply_to = paht+{token}@soctrang.gov.vn\n",
                                        NULL);
    g_assert_true(g_file_set_contents(conf, text, -1, NULL));
    GError *error = NULL;
    f->config = config_load(conf, CONFIG_LOAD_DEFAULT, &error);
    g_assert_no_error(error);
    f->store = store_open(f->config->gateway.database, &error);
    g_assert_no_error(error);
    g_setenv("PAHT_NOW", "2026-11-28T09:00:00+07:00", TRUE);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    store_close(f->store);
    config_free(f->config);
    const char *names[] = {"paht.db", "paht.db-wal", "paht.db-shm", "paht.conf"};
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *p = g_build_filename(f->dir, names[i], NULL);
        g_remove(p);
    }
    g_rmdir(f->dir);
    g_free(f->dir);
    g_unsetenv("PAHT_NOW");
}

static GMimeMessage *parse_letter(Store *store, gint64 id)
{
    g_autoptr(GBytes) bytes = outbox_message(store, id, NULL);
    g_assert_nonnull(bytes);
    gsize len = 0;
    const char *data = g_bytes_get_data(bytes, &len);
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    g_object_unref(stream);
    g_assert_nonnull(msg);
    return msg;
}

static char *plain_text(GMimeMessage *msg)
{
    GMimeObject *body = g_mime_message_get_body(msg);
    g_assert_true(GMIME_IS_MULTIPART(body));
    GMimeObject *first = g_mime_multipart_get_part(GMIME_MULTIPART(body), 0);
    return g_mime_text_part_get_text(GMIME_TEXT_PART(first));
}

static void test_never_answer_addresses(Fixture *f, gconstpointer data)
{
    const char *never[] = {"MAILER-DAEMON@x.vn", "postmaster@x.vn", "abuse@x.vn", "root@x.vn",
                           "noreply@zalo.vn", "no-reply@accounts.google.com", "donotreply@bank.vn",
                           /* the word anywhere in the local part (issue 11 item 8) */
                           "gmail-noreply@google.com", "dmarc-noreply@example.com",
                           "bounce.no_reply@bank.vn", "post_master@vtext.com",
                           "Mail.Delivery.System@mx.example.com", "paht@soctrang.gov.vn",
                           "PAHT+abc123@soctrang.gov.vn", "", "not-an-address"};
    for (gsize i = 0; i < G_N_ELEMENTS(never); i++)
        g_assert_true(letters_never_answer(f->config, never[i]));
    const char *fine[] = {"nguyen.van.an@gmail.com", "paht@other.gov.vn",
                          "rootbeer@x.vn",           "replyto@x.vn",
                          "tran.reply@x.vn",         "norah.reyes@x.vn"};
    for (gsize i = 0; i < G_N_ELEMENTS(fine); i++)
        g_assert_false(letters_never_answer(f->config, fine[i]));
}

static void test_ioc_alert_once(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    const char *lines[] = {"Hộp thư không kết nối được từ 07:00.", "Đang thử lại.", NULL};
    g_assert_true(letters_ioc_alert(f->config, f->store, "alert:mailbox:1", 0,
                                    "Không kết nối được hộp thư", lines, &error));
    g_assert_no_error(error);
    g_assert_true(letters_ioc_alert(f->config, f->store, "alert:mailbox:1", 0,
                                    "Không kết nối được hộp thư", lines, &error));
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    g_assert_cmpuint(all->len, ==, 1);
    OutboxEntry *e = g_ptr_array_index(all, 0);
    g_assert_cmpstr(e->kind, ==, "ioc_alert");
    g_assert_cmpstr(e->rcpt, ==, "ioc@soctrang.gov.vn");

    g_autoptr(GMimeMessage) msg = parse_letter(f->store, e->id);
    g_assert_cmpstr(g_mime_message_get_subject(msg), ==, "[PAHT] Không kết nối được hộp thư");
    g_assert_cmpstr(g_mime_object_get_header(GMIME_OBJECT(msg), "Auto-Submitted"), ==,
                    "auto-generated");
    g_autofree char *text = plain_text(msg);
    g_assert_nonnull(strstr(text, "- Hộp thư không kết nối được từ 07:00."));
    g_assert_nonnull(strstr(text, "09:00 ngày 28/11/2026"));
}

static void test_alert_about_a_report(Fixture *f, gconstpointer data)
{
    g_autoptr(Draft) d = draft_new();
    d->subject = g_strdup("Cháy chợ");
    d->classification = g_strdup("emergency");
    GError *error = NULL;
    ReportRef ref = {0};
    g_assert_true(store_begin(f->store, &error));
    g_assert_true(report_create(f->store, d, "PAHT", f->config->calendar.zone, clock_now_unix(), 0,
                                &ref, &error));
    g_assert_true(letters_ioc_alert(f->config, f->store, "alert:emergency:1", ref.id,
                                    "Phản ánh khẩn cấp", NULL, &error));
    g_assert_true(store_commit(f->store, &error));
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    OutboxEntry *e = g_ptr_array_index(all, 0);
    g_assert_cmpint(e->report_id, ==, ref.id);
    g_autoptr(GMimeMessage) msg = parse_letter(f->store, e->id);
    g_assert_cmpstr(g_mime_message_get_subject(msg), ==,
                    "[PAHT] Phản ánh khẩn cấp (PAHT-2026-000001)");
    g_autofree char *text = plain_text(msg);
    g_assert_nonnull(strstr(text, "pahtctl show PAHT-2026-000001"));
    report_ref_clear(&ref);
}

static void test_never_answer_recorded_not_sent(Fixture *f, gconstpointer data)
{
    g_autoptr(Draft) d = draft_new();
    d->subject = g_strdup("Thông báo");
    d->from_address = g_strdup("no-reply@dichvucong.gov.vn");
    d->citizen.email = g_strdup("no-reply@dichvucong.gov.vn");
    GError *error = NULL;
    ReportRef ref = {0};
    g_assert_true(store_begin(f->store, &error));
    g_assert_true(report_create(f->store, d, "PAHT", f->config->calendar.zone, clock_now_unix(), 0,
                                &ref, &error));
    g_assert_true(
        letters_answer_new_report(f->config, f->store, &ref, d, clock_now_unix(), &error));
    g_assert_true(store_commit(f->store, &error));
    g_autoptr(GPtrArray) all = outbox_list(f->store, NULL, &error);
    g_assert_cmpuint(all->len, ==, 0);
    g_autoptr(Report) r = report_load_id(f->store, ref.id, &error);
    ReportEvent *last = g_ptr_array_index(r->events, r->events->len - 1);
    g_assert_cmpstr(last->kind, ==, "no_answer");
    report_ref_clear(&ref);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_mime_init();
    log_init("test");
    log_set_level(LOG_LEVEL_ERROR);
#define ADD(name, fn)                                                                              \
    g_test_add("/letters/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("never-answer-addresses", test_never_answer_addresses);
    ADD("ioc-alert-once", test_ioc_alert_once);
    ADD("alert-about-a-report", test_alert_about_a_report);
    ADD("never-answer-recorded-not-sent", test_never_answer_recorded_not_sent);
    int status = g_test_run();
    g_mime_shutdown();
    return status;
}
