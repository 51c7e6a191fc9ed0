/* The configuration contract (SPEC §6): what loads, what is refused, and that every refusal
 * names the file, the group and the key. */
#include "conf/conf.h"
#include "util/util.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char *dir;
    char *path;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("paht-conf-XXXXXX", NULL);
    f->path = g_build_filename(f->dir, "paht.conf", NULL);
    g_autofree char *secret = g_build_filename(f->dir, "imap.secret", NULL);
    g_assert_true(g_file_set_contents(secret, "s3cret\n", -1, NULL));
    g_assert_cmpint(g_chmod(secret, 0600), ==, 0);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    g_autoptr(GDir) dir = g_dir_open(f->dir, 0, NULL);
    const char *name;
    while ((name = g_dir_read_name(dir))) {
        g_autofree char *p = g_build_filename(f->dir, name, NULL);
        g_remove(p);
    }
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f->path);
}

/* writes the base config with extra lines in each group */
static void write_config(Fixture *f, const char *gateway, const char *imap, const char *smtp,
                         const char *calendar)
{
    g_autofree char *text =
        g_strconcat("[gateway]\n"
                    "database = paht.db\n"
                    "data_dir = data\n"
                    "templates_dir = ",
                    f->dir,
                    "\n"
                    "ioc_alert_to = ioc@soctrang.gov.vn\n",
                    gateway ? gateway : "",
                    "[imap]\n"
                    "url = imaps://mail.soctrang.gov.vn:993/INBOX\n"
                    "user = paht@soctrang.gov.vn\n"
                    "password_file = imap.secret\n",
                    imap ? imap : "",
                    "[smtp]\n"
                    "url = smtp://mail.soctrang.gov.vn:587\n"
                    "from = paht@soctrang.gov.vn\n"
                    "reply_to = paht+{token}@soctrang.gov.vn\n",
                    smtp ? smtp : "", "[calendar]\n", calendar ? calendar : "", NULL);
    g_assert_true(g_file_set_contents(f->path, text, -1, NULL));
}

static void write_file(Fixture *f, const char *name, const char *content, int mode)
{
    g_autofree char *p = g_build_filename(f->dir, name, NULL);
    g_assert_true(g_file_set_contents(p, content, -1, NULL));
    g_assert_cmpint(g_chmod(p, mode), ==, 0);
}

/* loading must fail with a configuration error whose message has every needle */
static void assert_refused(Fixture *f, ConfigLoadFlags flags, const char *const *needles)
{
    GError *error = NULL;
    Config *c = config_load(f->path, flags, &error);
    g_assert_null(c);
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, f->path));
    for (const char *const *n = needles; *n; n++) {
        if (!strstr(error->message, *n))
            g_error("message \"%s\" lacks \"%s\"", error->message, *n);
    }
    g_error_free(error);
}

static void test_defaults_and_relative_paths(Fixture *f, gconstpointer data)
{
    write_config(f, NULL, NULL, NULL, NULL);
    GError *error = NULL;
    g_autoptr(Config) c = config_load(f->path, CONFIG_LOAD_DEFAULT, &error);
    g_assert_no_error(error);
    g_autofree char *db = g_build_filename(f->dir, "paht.db", NULL);
    g_assert_cmpstr(c->gateway.database, ==, db);
    g_assert_cmpstr(c->gateway.name, ==, "Trung tâm IOC tỉnh Sóc Trăng");
    g_assert_cmpstr(c->gateway.code_prefix, ==, "PAHT");
    g_assert_cmpint(c->gateway.max_message_bytes, ==, 52428800);
    g_assert_cmpint(c->gateway.auto_replies_per_day, ==, 5);
    g_assert_cmpint(c->gateway.auto_replies_per_domain_per_hour, ==, 30);
    g_assert_cmpint(c->gateway.auto_replies_per_hour, ==, 100);
    g_assert_null(c->gateway.trusted_authserv_id); /* senders not checked unless configured */
    g_assert_cmpstr(c->imap.server.host, ==, "mail.soctrang.gov.vn");
    g_assert_cmpint(c->imap.server.port, ==, 993);
    g_assert_true(c->imap.server.implicit_tls);
    g_assert_cmpstr(c->imap.server.path, ==, "INBOX");
    g_assert_cmpint(c->imap.poll_seconds, ==, 60);
    g_assert_true(c->imap.idle);
    g_assert_true(c->imap.tls_verify);
    g_assert_cmpstr(c->imap.processed_folder, ==, "PAHT/Processed");
    g_assert_false(c->smtp.server.implicit_tls);
    g_assert_cmpint(c->smtp.server.port, ==, 587);
    g_assert_null(c->smtp.user);
    /* no secrets asked for: none read */
    g_assert_null(c->imap.password);
    g_assert_cmpstr(c->calendar.timezone, ==, "Asia/Ho_Chi_Minh");
    g_assert_cmpint(c->calendar.n_periods, ==, 2);
    g_assert_cmpint(c->calendar.periods[0].start_minute, ==, 7 * 60);
    g_assert_cmpint(c->calendar.periods[1].end_minute, ==, 17 * 60);
    g_assert_cmpint(c->calendar.workdays, ==, (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5));
}

static void test_secret_from_file(Fixture *f, gconstpointer data)
{
    write_config(f, NULL, NULL, NULL, NULL);
    GError *error = NULL;
    g_autoptr(Config) c = config_load(f->path, CONFIG_LOAD_SECRETS, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(c->imap.password, ==, "s3cret");
}

static void test_secret_file_readable_by_others_refused(Fixture *f, gconstpointer data)
{
    write_config(f, NULL, NULL, NULL, NULL);
    write_file(f, "imap.secret", "s3cret\n", 0644);
    assert_refused(f, CONFIG_LOAD_SECRETS,
                   (const char *[]){"[imap] password_file", "0644", "0600", NULL});
}

static void test_secret_from_environment(Fixture *f, gconstpointer data)
{
    write_config(f, NULL, NULL, "user = paht@soctrang.gov.vn\n", NULL);
    g_autofree char *text = NULL;
    g_file_get_contents(f->path, &text, NULL, NULL);
    /* drop the password_file line: the environment supplies the secrets */
    GString *s = g_string_new(text);
    g_string_replace(s, "password_file = imap.secret\n", "", 0);
    g_assert_true(g_file_set_contents(f->path, s->str, -1, NULL));
    g_string_free(s, TRUE);

    g_unsetenv("PAHT_IMAP_PASSWORD");
    g_unsetenv("PAHT_SMTP_PASSWORD");
    assert_refused(f, CONFIG_LOAD_SECRETS, (const char *[]){"PAHT_IMAP_PASSWORD", NULL});
    g_setenv("PAHT_IMAP_PASSWORD", "from-env", TRUE);
    assert_refused(f, CONFIG_LOAD_SECRETS, (const char *[]){"[smtp]", "PAHT_SMTP_PASSWORD", NULL});
    g_setenv("PAHT_SMTP_PASSWORD", "smtp-env", TRUE);
    GError *error = NULL;
    g_autoptr(Config) c = config_load(f->path, CONFIG_LOAD_SECRETS, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(c->imap.password, ==, "from-env");
    g_assert_cmpstr(c->smtp.password, ==, "smtp-env");
    g_unsetenv("PAHT_IMAP_PASSWORD");
    g_unsetenv("PAHT_SMTP_PASSWORD");
}

static void test_inline_comments(Fixture *f, gconstpointer data)
{
    /* the contract's own example writes "key = value   # comment" (SPEC §6) */
    write_config(f, "name = Trung tâm IOC tỉnh Sóc Trăng          # sender name, letters\n",
                 "poll_seconds = 30    # seconds\nidle = false\t# no push\n", NULL, NULL);
    GError *error = NULL;
    g_autoptr(Config) c = config_load(f->path, 0, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(c->gateway.name, ==, "Trung tâm IOC tỉnh Sóc Trăng");
    g_assert_cmpint(c->imap.poll_seconds, ==, 30);
    g_assert_false(c->imap.idle);
}

static void test_unknown_key_named(Fixture *f, gconstpointer data)
{
    write_config(f, NULL, "pol_seconds = 30\n", NULL, NULL);
    assert_refused(f, 0, (const char *[]){"[imap] pol_seconds", "unknown key", NULL});
}

static void test_unknown_group_named(Fixture *f, gconstpointer data)
{
    write_config(f, NULL, NULL, NULL, "[smpt]\nurl = x\n");
    assert_refused(f, 0, (const char *[]){"[smpt]", "unknown group", NULL});
}

static void test_bad_values_named(Fixture *f, gconstpointer data)
{
    struct {
        const char *gateway, *imap, *smtp, *calendar;
        const char *needle1, *needle2;
    } cases[] = {
        {NULL, "poll_seconds = soon\n", NULL, NULL, "[imap] poll_seconds", "whole number"},
        {NULL, "poll_seconds = 0\n", NULL, NULL, "[imap] poll_seconds", "outside"},
        {NULL, "idle = maybe\n", NULL, NULL, "[imap] idle", "true or false"},
        {"ioc_alert_to = ioc at soctrang\n", NULL, NULL, NULL, "[gateway] ioc_alert_to", "e-mail"},
        {"log_level = loud\n", NULL, NULL, NULL, "[gateway] log_level", "loud"},
        {"trusted_authserv_id = mx.soctrang.gov.vn; dmarc=pass\n", NULL, NULL, NULL,
         "[gateway] trusted_authserv_id", "RFC 8601"},
        {"auto_replies_per_hour = 0\n", NULL, NULL, NULL, "[gateway] auto_replies_per_hour",
         "outside"},
        {NULL, NULL, NULL, "hours = 7-11\n", "[calendar] hours", "HH:MM-HH:MM"},
        {NULL, NULL, NULL, "hours = 13:00-17:00,07:00-11:00\n", "[calendar] hours", "overlaps"},
        {NULL, NULL, NULL, "workdays = monday\n", "[calendar] workdays", "monday"},
        {NULL, NULL, NULL, "timezone = Mars/Olympus\n", "[calendar] timezone", "Mars/Olympus"},
        {NULL, NULL, NULL, "holidays_file = nowhere.txt\n", "[calendar] holidays_file",
         "nowhere.txt"},
        {NULL, NULL, "reply_to = paht at soctrang\n", NULL, "[smtp] reply_to", "e-mail"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        write_config(f, cases[i].gateway, cases[i].imap, cases[i].smtp, cases[i].calendar);
        assert_refused(f, 0, (const char *[]){cases[i].needle1, cases[i].needle2, NULL});
    }
}

static void test_urls_checked(Fixture *f, gconstpointer data)
{
    g_autofree char *text = NULL;
    write_config(f, NULL, NULL, NULL, NULL);
    g_file_get_contents(f->path, &text, NULL, NULL);
    struct {
        const char *replacement;
        const char *needle;
    } cases[] = {
        {"url = http://mail.soctrang.gov.vn/INBOX", "scheme"},
        {"url = imaps://paht:pw@mail.soctrang.gov.vn/INBOX", "credentials"},
        {"url = not a url", "[imap] url"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        GString *s = g_string_new(text);
        g_string_replace(s, "url = imaps://mail.soctrang.gov.vn:993/INBOX", cases[i].replacement,
                         1);
        g_assert_true(g_file_set_contents(f->path, s->str, -1, NULL));
        g_string_free(s, TRUE);
        assert_refused(f, 0, (const char *[]){"[imap] url", cases[i].needle, NULL});
    }
    /* imap:// means STARTTLS on 143 */
    GString *s = g_string_new(text);
    g_string_replace(s, "imaps://mail.soctrang.gov.vn:993/INBOX", "imap://127.0.0.1/PAHT", 1);
    g_assert_true(g_file_set_contents(f->path, s->str, -1, NULL));
    g_string_free(s, TRUE);
    GError *error = NULL;
    g_autoptr(Config) c = config_load(f->path, 0, &error);
    g_assert_no_error(error);
    g_assert_false(c->imap.server.implicit_tls);
    g_assert_cmpint(c->imap.server.port, ==, 143);
    g_assert_cmpstr(c->imap.server.path, ==, "PAHT");
}

/* issue 14: letters to agencies and leaders link to the report in the web console */
static void test_console_url(Fixture *f, gconstpointer data)
{
    write_config(f, NULL, NULL, NULL, NULL);
    GError *error = NULL;
    Config *none = config_load(f->path, 0, &error);
    g_assert_no_error(error);
    g_assert_null(none->web.public_url); /* no link unless configured */
    config_free(none);
    write_config(f, NULL, NULL, NULL, "[web]\npublic_url = https://paht.soctrang.gov.vn/paht//\n");
    g_autoptr(Config) c = config_load(f->path, 0, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(c->web.public_url, ==, "https://paht.soctrang.gov.vn/paht");
    static const char *const bad[] = {
        "ftp://paht.soctrang.gov.vn",          "paht.soctrang.gov.vn",
        "https://paht.soctrang.gov.vn/?a=1",   "https://paht.soctrang.gov.vn/#top",
        "https://ioc:pw@paht.soctrang.gov.vn", "https:///reports",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *line = g_strdup_printf("[web]\npublic_url = %s\n", bad[i]);
        write_config(f, NULL, NULL, NULL, line);
        assert_refused(f, 0, (const char *[]){"[web] public_url", bad[i], NULL});
    }
}

static void test_missing_required_key(Fixture *f, gconstpointer data)
{
    write_config(f, NULL, NULL, NULL, NULL);
    g_autofree char *text = NULL;
    g_file_get_contents(f->path, &text, NULL, NULL);
    GString *s = g_string_new(text);
    g_string_replace(s, "database = paht.db\n", "", 1);
    g_assert_true(g_file_set_contents(f->path, s->str, -1, NULL));
    g_string_free(s, TRUE);
    assert_refused(f, 0, (const char *[]){"[gateway] database", "required", NULL});
}

static void test_holidays_file(Fixture *f, gconstpointer data)
{
    write_file(f, "holidays.txt",
               "# Sóc Trăng 2026\n"
               "2026-02-16..2026-02-20  off   Tết Nguyên đán\n"
               "2026-08-22              work  Làm bù cho ngày 31/8\n"
               "\n"
               "2026-08-31 off Nghỉ hoán đổi  # bridge day\n",
               0644);
    write_config(f, NULL, NULL, NULL, "holidays_file = holidays.txt\n");
    GError *error = NULL;
    g_autoptr(Config) c = config_load(f->path, 0, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(c->calendar.holidays->len, ==, 3);
    Holiday *tet = g_ptr_array_index(c->calendar.holidays, 0);
    g_assert_cmpint(tet->kind, ==, HOLIDAY_OFF);
    g_assert_cmpint(g_date_get_day(&tet->first), ==, 16);
    g_assert_cmpint(g_date_get_day(&tet->last), ==, 20);
    g_assert_cmpstr(tet->name, ==, "Tết Nguyên đán");
    Holiday *work = g_ptr_array_index(c->calendar.holidays, 1);
    g_assert_cmpint(work->kind, ==, HOLIDAY_WORK);
    Holiday *bridge = g_ptr_array_index(c->calendar.holidays, 2);
    g_assert_cmpstr(bridge->name, ==, "Nghỉ hoán đổi");

    write_file(f, "holidays.txt", "2026-02-16 off Tết\n2026-13-01 off Bad\n", 0644);
    assert_refused(f, 0, (const char *[]){"holidays.txt:2", "YYYY-MM-DD", NULL});
    write_file(f, "holidays.txt", "2026-02-16 holiday Tết\n", 0644);
    assert_refused(f, 0, (const char *[]){"holidays.txt:1", "\"off\" or \"work\"", NULL});
    write_file(f, "holidays.txt", "2026-02-20..2026-02-16 off Tết\n", 0644);
    assert_refused(f, 0, (const char *[]){"holidays.txt:1", NULL});
}

static void test_agencies_file(Fixture *f, gconstpointer data)
{
    write_file(f, "agencies.conf",
               "[agency xd]\nname = Sở Xây dựng\ncontact = vanthu@sxd.soctrang.gov.vn\n"
               "leader = giamdoc@sxd.soctrang.gov.vn\nleader_name = Nguyễn Văn A\n"
               "[agency GTVT]\nname = Sở Giao thông vận tải\ncontact = vt@gt.soctrang.gov.vn\n"
               "leader = gd@gt.soctrang.gov.vn\nleader_name = Trần Thị B\n",
               0644);
    write_config(f, "agencies_file = agencies.conf\n", NULL, NULL, NULL);
    GError *error = NULL;
    g_autoptr(Config) c = config_load(f->path, 0, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(c->agencies->len, ==, 2);
    const Agency *xd = config_find_agency(c, "XD");
    g_assert_nonnull(xd);
    g_assert_cmpstr(xd->name, ==, "Sở Xây dựng");
    g_assert_cmpstr(xd->leader_name, ==, "Nguyễn Văn A");
    g_assert_nonnull(config_find_agency(c, "gtvt"));
    g_assert_null(config_find_agency(c, "yt"));

    write_file(f, "agencies.conf", "[agency yt]\nname = Sở Y tế\ncontact = not-an-address\n", 0644);
    assert_refused(f, 0, (const char *[]){"agencies.conf", "[agency yt] contact", NULL});
    write_file(f, "agencies.conf",
               "[agency yt]\nname = Sở Y tế\ncontact = a@b.vn\nleader = c@d.vn\n"
               "leader_name = X\nphone = 123\n",
               0644);
    assert_refused(f, 0, (const char *[]){"[agency yt] phone", "unknown key", NULL});
    write_file(f, "agencies.conf", "[yt]\nname = Sở Y tế\n", 0644);
    assert_refused(f, 0, (const char *[]){"[agency CODE]", NULL});
}

/* The snapshot pahtd's parser processes load: the configuration as pahtd read it, whatever
 * the files on disk have become since (an edit not yet reloaded, even a broken one). */
static void test_snapshot_is_the_configuration_as_read(Fixture *f, gconstpointer data)
{
    write_file(f, "agencies.conf",
               "[agency xd]\nname = Sở Xây dựng\ncontact = vanthu@sxd.soctrang.gov.vn\n"
               "leader = giamdoc@sxd.soctrang.gov.vn\nleader_name = Nguyễn Văn A\n",
               0644);
    write_file(f, "holidays.txt", "2026-09-02..2026-09-03 off Quốc khánh\n", 0644);
    write_config(f, "agencies_file = agencies.conf\nname = Trung tâm IOC tỉnh Sóc Trăng\n", NULL,
                 NULL, "holidays_file = holidays.txt\n");
    GError *error = NULL;
    g_autoptr(Config) c = config_load(f->path, CONFIG_LOAD_SECRETS, &error);
    g_assert_no_error(error);
    g_autofree char *snapshot = g_build_filename(f->dir, "paht.conf.running", NULL);
    g_assert_true(config_write_snapshot(c, snapshot, &error));
    g_assert_no_error(error);
    GStatBuf st;
    g_assert_cmpint(g_stat(snapshot, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0077, ==, 0); /* it may name secret files: private */

    /* every file edited since, and broken */
    write_config(f, "agencies_file = agencies.conf\nname = Trung tâm IOC\ntypo = 1\n", NULL, NULL,
                 "holidays_file = holidays.txt\n");
    write_file(f, "agencies.conf", "[agency yt]\nname = Sở Y tế\n", 0644);
    write_file(f, "holidays.txt", "không phải ngày\n", 0644);
    Config *now = config_load(f->path, 0, &error);
    g_assert_null(now);
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_clear_error(&error);

    g_autoptr(Config) kept = config_load_snapshot(snapshot, 0, &error);
    g_assert_no_error(error);
    g_assert_true(kept->from_snapshot);
    g_assert_cmpstr(kept->file, ==, c->file);
    g_assert_cmpstr(kept->gateway.name, ==, "Trung tâm IOC tỉnh Sóc Trăng");
    g_assert_cmpstr(kept->gateway.database, ==, c->gateway.database); /* relative: the same */
    g_assert_cmpstr(kept->imap.user, ==, "paht@soctrang.gov.vn");
    g_assert_null(kept->imap.password); /* no secrets unless asked, as config_load */
    g_assert_cmpuint(kept->agencies->len, ==, 1);
    g_assert_cmpstr(config_find_agency(kept, "xd")->leader_name, ==, "Nguyễn Văn A");
    g_assert_cmpuint(kept->calendar.holidays->len, ==, c->calendar.holidays->len);
    g_assert_cmpuint(kept->calendar.holidays->len, >, 0);

    /* a damaged snapshot is refused, naming it */
    write_file(f, "paht.conf.running", "[source 0]\npath = /x\n", 0600);
    g_assert_null(config_load_snapshot(snapshot, 0, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, snapshot));
    g_clear_error(&error);
}

/* issue 15: the categories file, each category an Open311 service; its agency must exist */
static void test_categories_file(Fixture *f, gconstpointer data)
{
    write_file(f, "agencies.conf",
               "[agency xd]\nname = Sở Xây dựng\ncontact = vanthu@sxd.soctrang.gov.vn\n"
               "leader = giamdoc@sxd.soctrang.gov.vn\nleader_name = Nguyễn Văn A\n",
               0644);
    write_file(f, "categories.conf",
               "[category Chieu-Sang]\nname = Chiếu sáng công cộng\ndescription = Đèn hỏng.\n"
               "group = Hạ tầng đô thị\nagency = XD\n",
               0644);
    write_config(f, "agencies_file = agencies.conf\ncategories_file = categories.conf\n", NULL,
                 NULL, NULL);
    GError *error = NULL;
    g_autoptr(Config) c = config_load(f->path, 0, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(c->categories->len, ==, 1);
    const Category *cat = config_find_category(c, "CHIEU-SANG");
    g_assert_nonnull(cat);
    g_assert_cmpstr(cat->code, ==, "chieu-sang");
    g_assert_cmpstr(cat->name, ==, "Chiếu sáng công cộng");
    g_assert_cmpstr(cat->group, ==, "Hạ tầng đô thị");
    g_assert_null(config_find_category(c, "Chiếu sáng công cộng"));

    write_file(f, "categories.conf",
               "[category rac]\nname = Rác\ndescription = Rác.\ngroup = Môi trường\n"
               "agency = tnmt\n",
               0644);
    assert_refused(f, 0,
                   (const char *[]){"categories.conf", "[category rac] agency", "tnmt", NULL});
    write_file(f, "categories.conf",
               "[category rac]\nname = Rác\ndescription = Rác.\ngroup = Môi trường\n"
               "agency = xd\nicon = x\n",
               0644);
    assert_refused(f, 0, (const char *[]){"[category rac] icon", "unknown key", NULL});
    write_file(f, "categories.conf", "[category rác thải]\nname = Rác\n", 0644);
    assert_refused(f, 0, (const char *[]){"a category code is", NULL});
    write_file(f, "categories.conf", "[category rac]\nname = Rác\n", 0644);
    assert_refused(f, 0, (const char *[]){"[category rac] description", "missing", NULL});
}

/* issue 13: the console's group, with the defaults the issue gives */
static void test_web_defaults(Fixture *f, gconstpointer data)
{
    write_config(f, NULL, NULL, NULL, NULL);
    GError *error = NULL;
    g_autoptr(Config) c = config_load(f->path, CONFIG_LOAD_DEFAULT, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(c->web.listen_host, ==, "127.0.0.1");
    g_assert_cmpint(c->web.listen_port, ==, 8080);
    g_assert_null(c->web.public_url);
    g_assert_null(c->web.tls_cert_file);
    g_assert_cmpint(c->web.session_idle_minutes, ==, 30);
    g_assert_cmpint(c->web.session_max_hours, ==, 12);
    g_assert_false(c->web.behind_proxy);
}

static void test_web_values_read(Fixture *f, gconstpointer data)
{
    write_config(f, NULL, NULL, NULL,
                 "[web]\nlisten = [::1]:0\npublic_url = https://paht.soctrang.gov.vn/\n"
                 "tls_cert_file = cert.pem\ntls_key_file = key.pem\nsession_idle_minutes = 10\n"
                 "session_max_hours = 8\nmax_connections = 100\nclient_timeout_seconds = 15\n"
                 "threads = 2\nbehind_proxy = true\n");
    GError *error = NULL;
    g_autoptr(Config) c = config_load(f->path, CONFIG_LOAD_DEFAULT, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(c->web.listen_host, ==, "::1");
    g_assert_cmpint(c->web.listen_port, ==, 0);
    g_assert_cmpstr(c->web.public_url, ==, "https://paht.soctrang.gov.vn");
    g_autofree char *cert = g_build_filename(f->dir, "cert.pem", NULL);
    g_assert_cmpstr(c->web.tls_cert_file, ==, cert);
    g_assert_cmpint(c->web.session_idle_minutes, ==, 10);
    g_assert_cmpint(c->web.session_max_hours, ==, 8);
    g_assert_cmpint(c->web.max_connections, ==, 100);
    g_assert_cmpint(c->web.client_timeout_seconds, ==, 15);
    g_assert_cmpint(c->web.threads, ==, 2);
    g_assert_true(c->web.behind_proxy);
}

static void test_web_bad_values_named(Fixture *f, gconstpointer data)
{
    write_config(f, NULL, NULL, NULL, "[web]\nlisten = 8080\n");
    assert_refused(f, 0, (const char *[]){"[web] listen", "host:port", NULL});
    write_config(f, NULL, NULL, NULL, "[web]\nlisten = 127.0.0.1:99999\n");
    assert_refused(f, 0, (const char *[]){"[web] listen", NULL});
    write_config(f, NULL, NULL, NULL, "[web]\npublic_url = ftp://x.vn\n");
    assert_refused(f, 0, (const char *[]){"[web] public_url", NULL});
    write_config(f, NULL, NULL, NULL, "[web]\npublic_url = https://x.vn/?a=1\n");
    assert_refused(f, 0, (const char *[]){"[web] public_url", NULL});
    write_config(f, NULL, NULL, NULL, "[web]\ntls_cert_file = cert.pem\n");
    assert_refused(f, 0, (const char *[]){"[web] tls_key_file", "both", NULL});
    write_config(f, NULL, NULL, NULL, "[web]\nsession_idle_minutes = 0\n");
    assert_refused(f, 0, (const char *[]){"[web] session_idle_minutes", NULL});
    write_config(f, NULL, NULL, NULL, "[web]\nport = 80\n");
    assert_refused(f, 0, (const char *[]){"[web] port", "unknown key", NULL});
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_init("test");
    log_set_level(LOG_LEVEL_ERROR);
#define ADD(name, fn) g_test_add("/conf/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("defaults-and-relative-paths", test_defaults_and_relative_paths);
    ADD("secret-from-file", test_secret_from_file);
    ADD("secret-file-readable-by-others-refused", test_secret_file_readable_by_others_refused);
    ADD("secret-from-environment", test_secret_from_environment);
    ADD("inline-comments", test_inline_comments);
    ADD("unknown-key-named", test_unknown_key_named);
    ADD("unknown-group-named", test_unknown_group_named);
    ADD("bad-values-named", test_bad_values_named);
    ADD("urls-checked", test_urls_checked);
    ADD("console-url", test_console_url);
    ADD("missing-required-key", test_missing_required_key);
    ADD("holidays-file", test_holidays_file);
    ADD("agencies-file", test_agencies_file);
    ADD("snapshot-is-the-configuration-as-read", test_snapshot_is_the_configuration_as_read);
    ADD("categories-file", test_categories_file);
    ADD("web-defaults", test_web_defaults);
    ADD("web-values-read", test_web_values_read);
    ADD("web-bad-values-named", test_web_bad_values_named);
    return g_test_run();
}
