/* The console's HTTP details and account rules (issue 13), as pure functions: cookies,
 * origins, file names and types of attachments, the working time left before a deadline, the
 * roles, and the password hashes with their gate of two checks at a time. */
#include "notify/notify.h"
#include "web/web_private.h"
#include "util/util.h"

#include <string.h>

static void test_session_cookie_attributes(void)
{
    g_autofree char *plain_name = http_cookie_name(FALSE, "paht_session");
    g_autofree char *secure_name = http_cookie_name(TRUE, "paht_session");
    g_assert_cmpstr(plain_name, ==, "paht_session");
    g_assert_cmpstr(secure_name, ==, "__Host-paht_session");
    g_autofree char *plain = http_cookie_header(plain_name, "abc", FALSE, 43200);
    g_assert_cmpstr(plain, ==, "paht_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=43200");
    g_autofree char *secure = http_cookie_header(secure_name, "abc", TRUE, 43200);
    g_assert_cmpstr(secure, ==,
                    "__Host-paht_session=abc; Path=/; HttpOnly; SameSite=Lax; Secure; "
                    "Max-Age=43200");
    /* deleting: no value, no age */
    g_autofree char *gone = http_cookie_header(secure_name, "abc", TRUE, 0);
    g_assert_cmpstr(gone, ==,
                    "__Host-paht_session=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0");
}

static void test_only_our_origin_may_post(void)
{
    const char *ours = "https://paht.soctrang.gov.vn";
    g_autofree char *origin = http_origin_of("https://PAHT.soctrang.gov.vn:443/console/");
    g_assert_cmpstr(origin, ==, ours);
    g_autofree char *with_port = http_origin_of("http://127.0.0.1:8080/x");
    g_assert_cmpstr(with_port, ==, "http://127.0.0.1:8080");
    g_autofree char *v6 = http_origin_of("http://[::1]:8080/");
    g_assert_cmpstr(v6, ==, "http://[::1]:8080");
    g_assert_null(http_origin_of("null"));

    g_assert_true(http_request_is_same_origin(NULL, NULL, ours));
    g_assert_true(http_request_is_same_origin(ours, "same-origin", ours));
    g_assert_true(http_request_is_same_origin(NULL, "none", ours));
    g_assert_false(http_request_is_same_origin("https://evil.example", NULL, ours));
    g_assert_false(http_request_is_same_origin("null", NULL, ours));
    g_assert_false(http_request_is_same_origin(NULL, "cross-site", ours));
    /* a sibling subdomain is another origin */
    g_assert_false(http_request_is_same_origin(NULL, "same-site", ours));
    g_assert_false(http_request_is_same_origin("http://paht.soctrang.gov.vn", NULL, ours));
    g_assert_false(http_request_is_same_origin(ours, NULL, NULL));
}

static void test_file_names_in_headers(void)
{
    g_autofree char *vn = http_content_disposition(FALSE, "Ảnh \"đèn\" hỏng.jpg");
    g_assert_cmpstr(vn, ==,
                    "attachment; filename=\"_nh ___n_ h_ng.jpg\"; "
                    "filename*=UTF-8''%E1%BA%A2nh%20%22%C4%91%C3%A8n%22%20h%E1%BB%8Fng.jpg");
    g_autofree char *evil = http_content_disposition(TRUE, "a\r\nSet-Cookie: x=1.png");
    g_assert_null(strchr(evil, '\r'));
    g_assert_null(strchr(evil, '\n'));
    g_assert_true(g_str_has_prefix(evil, "inline; "));

    g_autofree char *base = http_safe_filename("C:\\Users\\an\\..\\bao cao.pdf");
    g_assert_cmpstr(base, ==, "bao cao.pdf");
    g_autofree char *dots = http_safe_filename("../../etc/passwd");
    g_assert_cmpstr(dots, ==, "passwd");
    g_autofree char *hidden = http_safe_filename("..");
    g_assert_cmpstr(hidden, ==, "tep");
    g_autofree char *nfd = g_utf8_normalize("Ảnh.jpg", -1, G_NORMALIZE_NFD);
    g_autofree char *nfc = http_safe_filename(nfd);
    g_assert_cmpstr(nfc, ==, "Ảnh.jpg");
}

static void test_only_raster_images_shown(void)
{
    static const guchar jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 0x10};
    static const guchar png[] = "\x89PNG\r\n\x1a\n\0\0";
    static const guchar gif[] = "GIF89a\x01\x00";
    static const guchar webp[] = "RIFF\x24\0\0\0WEBPVP8 ";
    static const guchar svg[] = "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>";
    static const guchar pdf[] = "%PDF-1.7\n";
    static const guchar html[] = "<html><script>alert(1)</script>";
    g_assert_cmpstr(http_sniff_image(jpeg, sizeof jpeg), ==, "image/jpeg");
    g_assert_cmpstr(http_sniff_image(png, sizeof png - 1), ==, "image/png");
    g_assert_cmpstr(http_sniff_image(gif, sizeof gif - 1), ==, "image/gif");
    g_assert_cmpstr(http_sniff_image(webp, sizeof webp - 1), ==, "image/webp");
    g_assert_null(http_sniff_image(svg, sizeof svg - 1));
    g_assert_null(http_sniff_image(pdf, sizeof pdf - 1));
    g_assert_null(http_sniff_image(html, sizeof html - 1));
    g_assert_null(http_sniff_image(jpeg, 2));
}

static void test_times_from_the_form(void)
{
    g_autoptr(GTimeZone) zone = g_time_zone_new_identifier("Asia/Ho_Chi_Minh");
    gint64 t = 0, expected = 0;
    g_assert_true(clock_parse_rfc3339("2026-12-10T17:00:00+07:00", &expected));
    g_assert_true(http_parse_time("2026-12-10T17:00", zone, &t));
    g_assert_cmpint(t, ==, expected);
    g_assert_true(http_parse_time("2026-12-10T10:00:00Z", zone, &t));
    g_assert_cmpint(t, ==, expected);
    g_assert_false(http_parse_time("10/12/2026", zone, &t));
    g_assert_false(http_parse_time("2026-13-40T25:00", zone, &t));
    g_assert_false(http_parse_time("2026-12-10T17:00junk", zone, &t));
}

static Calendar *province_calendar(GTimeZone *zone)
{
    static const WorkPeriod hours[] = {{7 * 60, 11 * 60}, {13 * 60, 17 * 60}};
    return calendar_new(zone, hours, 2, 0x3e /* mon..fri */, NULL);
}

static WorkingTimeLeft left_between(const Calendar *cal, const char *now, const char *due)
{
    gint64 n = 0, d = 0;
    g_assert_true(clock_parse_rfc3339(now, &n));
    g_assert_true(clock_parse_rfc3339(due, &d));
    return http_working_time_left(cal, n, d);
}

/* the words of the queue's "time left" column, from its template */
static char *time_left_words(WorkingTimeLeft left)
{
    g_autofree char *path =
        g_build_filename(g_getenv("PAHT_TEMPLATES_DIR"), "web", "time_left.partial.html", NULL);
    g_autofree char *template = NULL;
    g_assert_true(g_file_get_contents(path, &template, NULL, NULL));
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_add_working_time(b, left);
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    GError *error = NULL;
    char *text = template_render(template, root, TRUE, &error);
    g_assert_no_error(error);
    return text;
}

static void test_working_time_left_in_words(void)
{
    g_autoptr(GTimeZone) zone = g_time_zone_new_identifier("Asia/Ho_Chi_Minh");
    g_autoptr(Calendar) cal = province_calendar(zone);
    static const struct {
        const char *now, *due, *words;
    } cases[] = {
        /* the morning's last working hours */
        {"2026-12-01T08:45:00+07:00", "2026-12-01T11:00:00+07:00", "còn 2 giờ 15 phút làm việc"},
        /* an evening and a night are not working time */
        {"2026-12-01T16:00:00+07:00", "2026-12-02T08:15:00+07:00", "còn 2 giờ 15 phút làm việc"},
        /* a weekend neither; a working day is 8 hours */
        {"2026-12-04T09:00:00+07:00", "2026-12-08T10:00:00+07:00", "còn 2 ngày 1 giờ làm việc"},
        /* the lunch break does not count against the late */
        {"2026-12-01T13:30:00+07:00", "2026-12-01T10:00:00+07:00",
         "quá hạn 1 giờ 30 phút làm việc"},
        {"2026-12-01T10:00:00+07:00", "2026-12-01T10:00:00+07:00", "quá hạn dưới 1 phút làm việc"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *words = time_left_words(left_between(cal, cases[i].now, cases[i].due));
        g_assert_cmpstr(words, ==, cases[i].words);
    }
}

static void test_logins_masked_in_logs(void)
{
    g_autofree char *plain = login_masked("ioc.lan");
    g_assert_cmpstr(plain, ==, "i***");
    g_autofree char *vn = login_masked("đặng.an");
    g_assert_cmpstr(vn, ==, "đ***");
    g_autofree char *address = login_masked("nguyen.van.an@gmail.com");
    g_assert_cmpstr(address, ==, "n***@gmail.com");
}

static Config *config_with_agencies(char **dir)
{
    *dir = g_dir_make_tmp("paht-web-XXXXXX", NULL);
    g_autofree char *agencies = g_build_filename(*dir, "agencies.conf", NULL);
    g_assert_true(g_file_set_contents(agencies,
                                      "[agency xd]\nname = Sở Xây dựng\ncontact = a@xd.vn\n"
                                      "leader = b@xd.vn\nleader_name = Nguyễn Văn A\n",
                                      -1, NULL));
    g_autofree char *path = g_build_filename(*dir, "paht.conf", NULL);
    g_autofree char *text = g_strdup_printf(
        "[gateway]\ndatabase = paht.db\ndata_dir = data\ntemplates_dir = %s\n"
        "agencies_file = agencies.conf\nioc_alert_to = ioc@soctrang.gov.vn\n"
        "[imap]\nurl = imaps://mail.soctrang.gov.vn/INBOX\nuser = paht@soctrang.gov.vn\n"
        "[smtp]\nurl = smtp://mail.soctrang.gov.vn\nfrom = paht@soctrang.gov.vn\n",
        *dir);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    GError *error = NULL;
    Config *c = config_load(path, CONFIG_LOAD_DEFAULT, &error);
    g_assert_no_error(error);
    return c;
}

static void test_roles_named_as_pahtctl_takes_them(void)
{
    g_autofree char *dir = NULL;
    g_autoptr(Config) c = config_with_agencies(&dir);
    const struct {
        const char *text, *role, *agency;
    } good[] = {{"ioc", "ioc", NULL},
                {"admin", "admin", NULL},
                {"agency:XD", "agency", "xd"},
                {"leader:xd", "leader", "xd"}};
    for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autofree char *role = NULL, *agency = NULL;
        GError *error = NULL;
        g_assert_true(web_role_parse(c, good[i].text, &role, &agency, &error));
        g_assert_no_error(error);
        g_assert_cmpstr(role, ==, good[i].role);
        g_assert_cmpstr(agency, ==, good[i].agency);
    }
    const char *bad[] = {"agency", "agency:yt", "leader:", "root", "IOC", ""};
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *role = NULL, *agency = NULL;
        GError *error = NULL;
        g_assert_false(web_role_parse(c, bad[i], &role, &agency, &error));
        g_assert_error(error, PAHT_ERROR, PAHT_ERROR_INPUT);
        g_error_free(error);
    }
    fs_remove_tree(dir);
}

static void test_passwords_acceptable(void)
{
    g_autofree char *why = NULL;
    g_assert_false(web_password_acceptable("ioc.lan", "ngắn", &why));
    g_clear_pointer(&why, g_free);
    g_assert_false(web_password_acceptable("ioc.lan.2026", "IOC.LAN.2026", &why));
    g_clear_pointer(&why, g_free);
    g_assert_false(web_password_acceptable("ioc.lan", "\xff\xfe invalid", &why));
    g_clear_pointer(&why, g_free);
    g_assert_true(web_password_acceptable("ioc.lan", "mật khẩu đủ dài", &why));
}

static gpointer verify_thread(gpointer hash)
{
    return GINT_TO_POINTER(web_password_verify(hash, "mật khẩu đủ dài"));
}

static void test_argon2id_two_checks_at_a_time(void)
{
    GError *error = NULL;
    g_autofree char *hash = web_password_hash("mật khẩu đủ dài", &error);
    g_assert_no_error(error);
    g_assert_true(g_str_has_prefix(hash, "$argon2id$"));
    g_assert_false(web_password_verify(hash, "mật khẩu sai"));
    g_assert_false(web_password_verify("not a hash", "mật khẩu đủ dài"));
    GThread *threads[6];
    for (gsize i = 0; i < G_N_ELEMENTS(threads); i++)
        threads[i] = g_thread_new("verify", verify_thread, hash);
    for (gsize i = 0; i < G_N_ELEMENTS(threads); i++)
        g_assert_true(GPOINTER_TO_INT(g_thread_join(threads[i])));
    g_assert_cmpint(web_password_checks_peak(), >=, 1);
    g_assert_cmpint(web_password_checks_peak(), <=, 2);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_init("test");
    log_set_level(LOG_LEVEL_ERROR);
    g_test_add_func("/web/session-cookie-attributes", test_session_cookie_attributes);
    g_test_add_func("/web/only-our-origin-may-post", test_only_our_origin_may_post);
    g_test_add_func("/web/file-names-in-headers", test_file_names_in_headers);
    g_test_add_func("/web/only-raster-images-shown", test_only_raster_images_shown);
    g_test_add_func("/web/times-from-the-form", test_times_from_the_form);
    g_test_add_func("/web/working-time-left-in-words", test_working_time_left_in_words);
    g_test_add_func("/web/logins-masked-in-logs", test_logins_masked_in_logs);
    g_test_add_func("/web/roles-named-as-pahtctl-takes-them",
                    test_roles_named_as_pahtctl_takes_them);
    g_test_add_func("/web/passwords-acceptable", test_passwords_acceptable);
    g_test_add_func("/web/argon2id-two-checks-at-a-time", test_argon2id_two_checks_at_a_time);
    return g_test_run();
}
