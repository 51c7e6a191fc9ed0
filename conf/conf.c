/* conf: the configuration contract (SPEC §6), validated as a table of typed entries. */
#include "conf/conf.h"
#include "conf/conf_private.h"
#include "util/util.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef enum {
    KEY_STRING,   /* any non-empty text */
    KEY_TEXT,     /* text that may be empty */
    KEY_PATH,     /* a path, relative to the config folder */
    KEY_SECRET,   /* a password file: mode 0600/0400 */
    KEY_INT,      /* integer within [min, max] */
    KEY_BOOL,     /* true/false */
    KEY_EMAIL,    /* local@domain */
    KEY_LOGLEVEL, /* error .. debug */
    KEY_SPECIAL,  /* validated by hand after the table (urls, hours, workdays, zone) */
} KeyType;

typedef struct {
    const char *group;
    const char *key;
    KeyType type;
    gboolean required;
    const char *fallback; /* default value, as text; NULL = none */
    gint64 min, max;      /* KEY_INT */
    size_t offset;        /* into Config */
} KeySpec;

#define AT(field) offsetof(Config, field)

/* conf/CMakeLists.txt defines these from the install prefix (issue 17) */
#if !defined(PAHT_VERSION) || !defined(PAHT_CONFIG_FILE) || !defined(PAHT_TEMPLATES_DIR)
#error "PAHT_VERSION, PAHT_CONFIG_FILE and PAHT_TEMPLATES_DIR come from conf/CMakeLists.txt"
#endif

const char *config_default_file(void)
{
    return PAHT_CONFIG_FILE;
}

const char *config_default_templates_dir(void)
{
    return PAHT_TEMPLATES_DIR;
}

char *config_version_text(const char *program)
{
    return g_strdup_printf("%s (paht-mail) %s\n"
                           "configuration file: %s\n"
                           "templates: %s\n",
                           program, PAHT_VERSION, PAHT_CONFIG_FILE, PAHT_TEMPLATES_DIR);
}

int config_main_options(GOptionContext *options, int *argc, char ***argv, const char *program,
                        const gboolean *version)
{
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(options, argc, argv, &error)) {
        log_error("%s", error->message);
        return 2;
    }
    if (*argc > 1) {
        log_error("unexpected argument \"%s\" (see --help)", (*argv)[1]);
        return 2;
    }
    if (*version) {
        g_autofree char *text = config_version_text(program);
        fputs(text, stdout);
        return 0;
    }
    return -1;
}

static const KeySpec keys[] = {
    {"gateway", "name", KEY_STRING, FALSE, "Trung tâm IOC tỉnh Sóc Trăng", 0, 0, AT(gateway.name)},
    {"gateway", "place", KEY_STRING, FALSE, "Sóc Trăng", 0, 0, AT(gateway.place)},
    {"gateway", "code_prefix", KEY_STRING, FALSE, "PAHT", 0, 0, AT(gateway.code_prefix)},
    {"gateway", "database", KEY_PATH, TRUE, NULL, 0, 0, AT(gateway.database)},
    {"gateway", "data_dir", KEY_PATH, TRUE, NULL, 0, 0, AT(gateway.data_dir)},
    {"gateway", "templates_dir", KEY_PATH, FALSE, PAHT_TEMPLATES_DIR, 0, 0,
     AT(gateway.templates_dir)},
    {"gateway", "agencies_file", KEY_PATH, FALSE, NULL, 0, 0, AT(gateway.agencies_file)},
    {"gateway", "categories_file", KEY_PATH, FALSE, NULL, 0, 0, AT(gateway.categories_file)},
    {"gateway", "keywords_file", KEY_PATH, FALSE, NULL, 0, 0, AT(gateway.keywords_file)},
    {"gateway", "max_message_bytes", KEY_INT, FALSE, "52428800", 1024, G_GINT64_CONSTANT(1) << 40,
     AT(gateway.max_message_bytes)},
    {"gateway", "auto_replies_per_day", KEY_INT, FALSE, "5", 0, 1000,
     AT(gateway.auto_replies_per_day)},
    {"gateway", "auto_replies_per_domain_per_hour", KEY_INT, FALSE, "30", 1, 1000000,
     AT(gateway.auto_replies_per_domain_per_hour)},
    {"gateway", "auto_replies_per_hour", KEY_INT, FALSE, "100", 1, 1000000,
     AT(gateway.auto_replies_per_hour)},
    {"gateway", "trusted_authserv_id", KEY_SPECIAL, FALSE, NULL, 0, 0, 0},
    {"gateway", "ioc_alert_to", KEY_EMAIL, TRUE, NULL, 0, 0, AT(gateway.ioc_alert_to)},
    {"gateway", "portal", KEY_STRING, FALSE, "https://paht.soctrang.gov.vn", 0, 0,
     AT(gateway.portal)},
    {"gateway", "hotline", KEY_STRING, FALSE, "1022", 0, 0, AT(gateway.hotline)},
    {"gateway", "app_name", KEY_STRING, FALSE, "Công dân Sóc Trăng", 0, 0, AT(gateway.app_name)},
    {"gateway", "log_level", KEY_LOGLEVEL, FALSE, "info", 0, 0, AT(gateway.log_level)},
    {"gateway", "min_free_mb", KEY_INT, FALSE, "200", 0, 1000000, AT(gateway.min_free_mb)},
    {"gateway", "message_timeout_seconds", KEY_INT, FALSE, "120", 1, 3600,
     AT(gateway.message_timeout_seconds)},
    {"gateway", "parser_processes", KEY_INT, FALSE, "2", 1, 16, AT(gateway.parser_processes)},

    {"imap", "url", KEY_SPECIAL, TRUE, NULL, 0, 0, 0},
    {"imap", "user", KEY_STRING, TRUE, NULL, 0, 0, AT(imap.user)},
    {"imap", "password_file", KEY_SECRET, FALSE, NULL, 0, 0, AT(imap.password)},
    {"imap", "processed_folder", KEY_STRING, FALSE, "PAHT/Processed", 0, 0,
     AT(imap.processed_folder)},
    {"imap", "quarantine_folder", KEY_STRING, FALSE, "PAHT/Quarantine", 0, 0,
     AT(imap.quarantine_folder)},
    {"imap", "poll_seconds", KEY_INT, FALSE, "60", 1, 86400, AT(imap.poll_seconds)},
    {"imap", "idle", KEY_BOOL, FALSE, "true", 0, 0, AT(imap.idle)},
    {"imap", "tls_verify", KEY_BOOL, FALSE, "true", 0, 0, AT(imap.tls_verify)},
    {"imap", "ca_file", KEY_PATH, FALSE, NULL, 0, 0, AT(imap.ca_file)},
    {"imap", "timeout_seconds", KEY_INT, FALSE, "60", 1, 3600, AT(imap.timeout_seconds)},

    {"smtp", "url", KEY_SPECIAL, TRUE, NULL, 0, 0, 0},
    {"smtp", "user", KEY_TEXT, FALSE, NULL, 0, 0, AT(smtp.user)},
    {"smtp", "password_file", KEY_SECRET, FALSE, NULL, 0, 0, AT(smtp.password)},
    {"smtp", "from", KEY_EMAIL, TRUE, NULL, 0, 0, AT(smtp.from)},
    {"smtp", "reply_to", KEY_SPECIAL, FALSE, NULL, 0, 0, 0},
    {"smtp", "tls_verify", KEY_BOOL, FALSE, "true", 0, 0, AT(smtp.tls_verify)},
    {"smtp", "ca_file", KEY_PATH, FALSE, NULL, 0, 0, AT(smtp.ca_file)},
    {"smtp", "timeout_seconds", KEY_INT, FALSE, "60", 1, 3600, AT(smtp.timeout_seconds)},
    {"smtp", "bounce_secret_file", KEY_SECRET, FALSE, NULL, 0, 0, AT(smtp.bounce_secret)},
    /* the same key again, as a path: the parser process and pahtctl, which read no
     * passwords, read this one file when a bounce needs it (issue 11.13) */
    {"smtp", "bounce_secret_file", KEY_PATH, FALSE, NULL, 0, 0, AT(smtp.bounce_secret_file)},

    {"calendar", "timezone", KEY_SPECIAL, FALSE, "Asia/Ho_Chi_Minh", 0, 0, 0},
    {"calendar", "hours", KEY_SPECIAL, FALSE, "07:00-11:00,13:00-17:00", 0, 0, 0},
    {"calendar", "workdays", KEY_SPECIAL, FALSE, "mon,tue,wed,thu,fri", 0, 0, 0},
    {"calendar", "holidays_file", KEY_PATH, FALSE, NULL, 0, 0, AT(calendar.holidays_file)},

    /* pahtweb (issue 13); pahtd and pahtctl read the same file and ignore the group */
    {"web", "listen", KEY_SPECIAL, FALSE, "127.0.0.1:8080", 0, 0, 0},
    {"web", "public_url", KEY_SPECIAL, FALSE, NULL, 0, 0, 0},
    {"web", "tls_cert_file", KEY_PATH, FALSE, NULL, 0, 0, AT(web.tls_cert_file)},
    {"web", "tls_key_file", KEY_PATH, FALSE, NULL, 0, 0, AT(web.tls_key_file)},
    {"web", "session_idle_minutes", KEY_INT, FALSE, "30", 1, 24 * 60, AT(web.session_idle_minutes)},
    {"web", "session_max_hours", KEY_INT, FALSE, "12", 1, 7 * 24, AT(web.session_max_hours)},
    {"web", "max_connections", KEY_INT, FALSE, "64", 1, 10000, AT(web.max_connections)},
    {"web", "client_timeout_seconds", KEY_INT, FALSE, "30", 1, 3600,
     AT(web.client_timeout_seconds)},
    {"web", "threads", KEY_INT, FALSE, "4", 1, 64, AT(web.threads)},
    {"web", "behind_proxy", KEY_BOOL, FALSE, "false", 0, 0, AT(web.behind_proxy)},

    {"privacy", "retain_days", KEY_INT, FALSE, "0", 0, 36500, AT(privacy.retain_days)},
    {"privacy", "contact", KEY_EMAIL, FALSE, NULL, 0, 0, AT(privacy.contact)},

    {"reports", "recipients", KEY_SPECIAL, FALSE, NULL, 0, 0, 0},
    {"reports", "periods", KEY_SPECIAL, FALSE, "month,quarter,half,year", 0, 0, 0},

    /* Open311 GeoReport v2 (issue 15), served by pahtweb */
    {"open311", "jurisdiction_id", KEY_STRING, FALSE, NULL, 0, 0, AT(open311.jurisdiction_id)},
    {"open311", "api_keys_file", KEY_PATH, FALSE, NULL, 0, 0, AT(open311.api_keys_file)},
    {"open311", "requests_per_hour", KEY_INT, FALSE, "60", 1, 100000,
     AT(open311.requests_per_hour)},
    {"open311", "description_max_chars", KEY_INT, FALSE, "4000", 10, 100000,
     AT(open311.description_max_chars)},
};

static const char *const groups[] = {"gateway", "imap",    "smtp",    "calendar",
                                     "web",     "privacy", "reports", "open311"};

static gboolean config_fail(GError **error, const Config *c, const char *group, const char *key,
                            const char *fmt, ...) G_GNUC_PRINTF(5, 6);

static gboolean config_fail(GError **error, const Config *c, const char *group, const char *key,
                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (key)
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "%s: [%s] %s: %s", c->file, group, key,
                    why);
    else if (group)
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "%s: [%s]: %s", c->file, group, why);
    else
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "%s: %s", c->file, why);
    return FALSE;
}

gboolean config_is_email(const char *value)
{
    if (!value || !*value)
        return FALSE;
    const char *at = strrchr(value, '@');
    if (!at || at == value || !at[1] || !strchr(at + 1, '.'))
        return FALSE;
    for (const char *p = value; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',' || *p == '"' ||
            *p == 0x7f)
            return FALSE;
    }
    return TRUE;
}

static char *resolve_path(const Config *c, const char *value)
{
    if (g_path_is_absolute(value))
        return g_strdup(value);
    return g_build_filename(c->dir, value, NULL);
}

/* Secrets: a regular file readable by its owner only (0600 or 0400). The first line is the
 * secret; trailing white space is dropped. */
static char *read_secret_file(const Config *c, const char *group, const char *key, const char *path,
                              GError **error)
{
    GError *local = NULL;
    char *secret = fs_read_secret_file(path, &local);
    if (!secret) {
        config_fail(error, c, group, key, "%s", local->message);
        g_error_free(local);
    }
    return secret;
}

gboolean server_url_parse(const char *url, const char *const *schemes, ServerUrl *out, char **why)
{
    memset(out, 0, sizeof *out);
    GError *local = NULL;
    g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, &local);
    if (!uri) {
        *why = g_strdup_printf("not a URL (%s)", local->message);
        g_error_free(local);
        return FALSE;
    }
    const char *scheme = g_uri_get_scheme(uri);
    gboolean known = FALSE;
    for (const char *const *s = schemes; *s; s++)
        known = known || g_ascii_strcasecmp(scheme, *s) == 0;
    if (!known) {
        g_autofree char *list = g_strjoinv(", ", (char **)schemes);
        *why = g_strdup_printf("scheme \"%s\" not supported (use %s)", scheme, list);
        return FALSE;
    }
    if (!g_uri_get_host(uri) || !*g_uri_get_host(uri)) {
        *why = g_strdup("no host");
        return FALSE;
    }
    if (g_uri_get_userinfo(uri)) {
        *why = g_strdup("credentials do not belong in the URL: use user and password_file");
        return FALSE;
    }
    out->url = g_strdup(url);
    out->scheme = g_ascii_strdown(scheme, -1);
    out->host = g_strdup(g_uri_get_host(uri));
    out->implicit_tls = g_str_has_suffix(out->scheme, "s");
    int port = g_uri_get_port(uri);
    if (port <= 0) {
        if (g_str_equal(out->scheme, "imap"))
            port = 143;
        else if (g_str_equal(out->scheme, "imaps"))
            port = 993;
        else if (g_str_equal(out->scheme, "smtp"))
            port = 587;
        else
            port = 465;
    }
    out->port = port;
    const char *path = g_uri_get_path(uri);
    while (path && *path == '/')
        path++;
    out->path = g_strdup(path && *path ? path : "");
    return TRUE;
}

void server_url_clear(ServerUrl *url)
{
    g_clear_pointer(&url->url, g_free);
    g_clear_pointer(&url->scheme, g_free);
    g_clear_pointer(&url->host, g_free);
    g_clear_pointer(&url->path, g_free);
}

/* "07:00-11:00,13:00-17:00" */
static gboolean parse_hours(const char *text, WorkPeriod **out, int *n_out, char **why)
{
    g_auto(GStrv) parts = g_strsplit(text, ",", -1);
    GArray *periods = g_array_new(FALSE, FALSE, sizeof(WorkPeriod));
    for (int i = 0; parts[i]; i++) {
        int h1, m1, h2, m2;
        char tail;
        g_strstrip(parts[i]);
        if (sscanf(parts[i], "%d:%d-%d:%d%c", &h1, &m1, &h2, &m2, &tail) != 4 || h1 < 0 ||
            h1 > 24 || h2 < 0 || h2 > 24 || m1 < 0 || m1 > 59 || m2 < 0 || m2 > 59) {
            *why = g_strdup_printf("\"%s\" is not HH:MM-HH:MM", parts[i]);
            goto fail;
        }
        WorkPeriod p = {h1 * 60 + m1, h2 * 60 + m2};
        if (p.end_minute <= p.start_minute || p.end_minute > 24 * 60) {
            *why = g_strdup_printf("\"%s\" ends before it starts", parts[i]);
            goto fail;
        }
        if (periods->len > 0 &&
            g_array_index(periods, WorkPeriod, periods->len - 1).end_minute > p.start_minute) {
            *why =
                g_strdup_printf("\"%s\" overlaps or comes before the period before it", parts[i]);
            goto fail;
        }
        g_array_append_val(periods, p);
    }
    if (periods->len == 0) {
        *why = g_strdup("no working period");
        goto fail;
    }
    *n_out = (int)periods->len;
    *out = (WorkPeriod *)g_array_free(periods, FALSE);
    return TRUE;
fail:
    g_array_free(periods, TRUE);
    return FALSE;
}

static gboolean parse_workdays(const char *text, guint8 *mask, char **why)
{
    static const char *const names[] = {NULL, "mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    g_auto(GStrv) parts = g_strsplit(text, ",", -1);
    *mask = 0;
    for (int i = 0; parts[i]; i++) {
        g_strstrip(parts[i]);
        int found = 0;
        for (int d = 1; d <= 7; d++) {
            if (g_ascii_strcasecmp(parts[i], names[d]) == 0)
                found = d;
        }
        if (!found) {
            *why = g_strdup_printf("\"%s\" is not a day (mon, tue, wed, thu, fri, sat, sun)",
                                   parts[i]);
            return FALSE;
        }
        *mask |= (guint8)(1u << found);
    }
    if (!*mask) {
        *why = g_strdup("no working day");
        return FALSE;
    }
    return TRUE;
}

static void holiday_free(gpointer p)
{
    Holiday *h = p;
    g_free(h->name);
    g_free(h);
}

static gboolean parse_iso_date(const char *text, GDate *out)
{
    int y, m, d;
    char tail;
    if (sscanf(text, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || strlen(text) != 10)
        return FALSE;
    if (!g_date_valid_dmy((GDateDay)d, (GDateMonth)m, (GDateYear)y))
        return FALSE;
    g_date_clear(out, 1);
    g_date_set_dmy(out, (GDateDay)d, (GDateMonth)m, (GDateYear)y);
    return TRUE;
}

static GPtrArray *holidays_read(Config *from, const char *path, GError **error)
{
    g_autoptr(GBytes) bytes = conf_source(from, path, error);
    if (!bytes)
        return NULL;
    gsize len = 0;
    const char *data = g_bytes_get_data(bytes, &len);
    g_autofree char *content = g_strndup(data ? data : "", len);
    if (!g_utf8_validate(content, -1, NULL)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "%s: not UTF-8", path);
        return NULL;
    }
    GPtrArray *list = g_ptr_array_new_with_free_func(holiday_free);
    g_auto(GStrv) lines = g_strsplit(content, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        char *line = lines[i];
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        g_strstrip(line);
        if (!*line)
            continue;
        /* DATE[..DATE] WS off|work [WS NAME] */
        char *sp = line + strcspn(line, " \t");
        char *dates = g_strndup(line, (gsize)(sp - line));
        char *rest = g_strchug(sp);
        char *sp2 = rest + strcspn(rest, " \t");
        g_autofree char *kind = g_strndup(rest, (gsize)(sp2 - rest));
        char *name = g_strchug(sp2);
        Holiday h = {0};
        char *dots = strstr(dates, "..");
        gboolean ok;
        if (dots) {
            *dots = 0;
            ok = parse_iso_date(dates, &h.first) && parse_iso_date(dots + 2, &h.last);
        } else {
            ok = parse_iso_date(dates, &h.first);
            h.last = h.first;
        }
        g_free(dates);
        if (!ok || g_date_compare(&h.first, &h.last) > 0) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "%s:%d: expected YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD", path, i + 1);
            g_ptr_array_unref(list);
            return NULL;
        }
        if (g_str_equal(kind, "off"))
            h.kind = HOLIDAY_OFF;
        else if (g_str_equal(kind, "work"))
            h.kind = HOLIDAY_WORK;
        else {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "%s:%d: expected \"off\" or \"work\" after the date, not \"%s\"", path,
                        i + 1, kind);
            g_ptr_array_unref(list);
            return NULL;
        }
        Holiday *copy = g_new(Holiday, 1);
        *copy = h;
        copy->name = text_nfc(name);
        g_ptr_array_add(list, copy);
    }
    return list;
}

static void agency_free(gpointer p)
{
    Agency *a = p;
    g_free(a->code);
    g_free(a->name);
    g_free(a->contact);
    g_free(a->leader);
    g_free(a->leader_name);
    g_free(a);
}

GPtrArray *holidays_load(const char *path, GError **error)
{
    return holidays_read(NULL, path, error);
}

static GPtrArray *agencies_read(Config *from, const char *path, GError **error)
{
    g_autoptr(GKeyFile) kf = keyfile_load(from, path, error);
    if (!kf)
        return NULL;
    GPtrArray *list = g_ptr_array_new_with_free_func(agency_free);
    g_auto(GStrv) names = g_key_file_get_groups(kf, NULL);
    static const char *const fields[] = {"name", "contact", "leader", "leader_name"};
    for (int i = 0; names[i]; i++) {
        if (!g_str_has_prefix(names[i], "agency ") || !names[i][7]) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "%s: [%s]: groups must be named [agency CODE]", path, names[i]);
            goto fail;
        }
        if (!keyfile_keys_known(kf, path, names[i], fields, G_N_ELEMENTS(fields), error))
            goto fail;
        Agency *a = g_new0(Agency, 1);
        a->code = g_ascii_strdown(g_strstrip(names[i] + 7), -1);
        g_ptr_array_add(list, a);
        char **slots[] = {&a->name, &a->contact, &a->leader, &a->leader_name};
        for (gsize f = 0; f < G_N_ELEMENTS(fields); f++) {
            g_autofree char *v = g_key_file_get_string(kf, names[i], fields[f], NULL);
            if (!v || !*g_strstrip(v)) {
                g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "%s: [%s] %s: missing", path,
                            names[i], fields[f]);
                goto fail;
            }
            if ((f == 1 || f == 2) && !config_is_email(v)) {
                g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                            "%s: [%s] %s: \"%s\" is not an e-mail address", path, names[i],
                            fields[f], v);
                goto fail;
            }
            *slots[f] = text_nfc(v);
        }
    }
    return list;
fail:
    g_ptr_array_unref(list);
    return NULL;
}

GPtrArray *agencies_load(const char *path, GError **error)
{
    return agencies_read(NULL, path, error);
}

const Agency *config_find_agency(const Config *config, const char *code)
{
    if (!config->agencies || !code)
        return NULL;
    for (guint i = 0; i < config->agencies->len; i++) {
        const Agency *a = g_ptr_array_index(config->agencies, i);
        if (g_ascii_strcasecmp(a->code, code) == 0)
            return a;
    }
    return NULL;
}

/* GKeyFile knows only whole-line comments; the configuration contract (SPEC §6) also writes
 * "key = value   # comment". White space then '#' ends the value. */
static char *get_value(GKeyFile *kf, const char *group, const char *key)
{
    char *v = g_key_file_get_string(kf, group, key, NULL);
    if (!v)
        return NULL;
    for (char *p = v; *p; p++) {
        if (*p == '#' && (p == v || p[-1] == ' ' || p[-1] == '\t')) {
            *p = 0;
            break;
        }
    }
    return g_strstrip(v);
}

static gboolean load_value(Config *c, GKeyFile *kf, const KeySpec *spec, ConfigLoadFlags flags,
                           GError **error)
{
    g_autofree char *raw = get_value(kf, spec->group, spec->key);
    const char *value = raw && (*raw || spec->type == KEY_TEXT) ? raw : NULL;
    if (!value && spec->required)
        return config_fail(error, c, spec->group, spec->key, "required");
    if (!value)
        value = spec->fallback;
    if (spec->type == KEY_SPECIAL)
        return TRUE;
    void *slot = (char *)c + spec->offset;
    if (!value) {
        if (spec->type == KEY_BOOL || spec->type == KEY_INT || spec->type == KEY_LOGLEVEL)
            return config_fail(error, c, spec->group, spec->key, "required");
        return TRUE; /* optional string left NULL */
    }
    if (!g_utf8_validate(value, -1, NULL))
        return config_fail(error, c, spec->group, spec->key, "not UTF-8");

    switch (spec->type) {
    case KEY_STRING:
    case KEY_TEXT:
        *(char **)slot = text_nfc(value);
        return TRUE;
    case KEY_PATH:
        *(char **)slot = resolve_path(c, value);
        return TRUE;
    case KEY_SECRET: {
        if (!(flags & CONFIG_LOAD_SECRETS))
            return TRUE;
        g_autofree char *path = resolve_path(c, value);
        char *secret = read_secret_file(c, spec->group, spec->key, path, error);
        if (!secret)
            return FALSE;
        *(char **)slot = secret;
        return TRUE;
    }
    case KEY_INT: {
        char *end = NULL;
        errno = 0;
        gint64 v = g_ascii_strtoll(value, &end, 10);
        if (errno || !end || *end || end == value)
            return config_fail(error, c, spec->group, spec->key, "\"%s\" is not a whole number",
                               value);
        if (v < spec->min || v > spec->max)
            return config_fail(error, c, spec->group, spec->key,
                               "%" G_GINT64_FORMAT " is outside %" G_GINT64_FORMAT
                               "..%" G_GINT64_FORMAT,
                               v, spec->min, spec->max);
        if (spec->offset == AT(gateway.max_message_bytes))
            *(gint64 *)slot = v;
        else
            *(int *)slot = (int)v;
        return TRUE;
    }
    case KEY_BOOL:
        if (!g_ascii_strcasecmp(value, "true") || !g_ascii_strcasecmp(value, "yes") ||
            !strcmp(value, "1"))
            *(gboolean *)slot = TRUE;
        else if (!g_ascii_strcasecmp(value, "false") || !g_ascii_strcasecmp(value, "no") ||
                 !strcmp(value, "0"))
            *(gboolean *)slot = FALSE;
        else
            return config_fail(error, c, spec->group, spec->key, "\"%s\" is not true or false",
                               value);
        return TRUE;
    case KEY_EMAIL:
        if (!config_is_email(value))
            return config_fail(error, c, spec->group, spec->key, "\"%s\" is not an e-mail address",
                               value);
        *(char **)slot = g_strdup(value);
        return TRUE;
    case KEY_LOGLEVEL: {
        LogLevel level;
        if (!log_level_from_string(value, &level))
            return config_fail(error, c, spec->group, spec->key,
                               "\"%s\" is not one of error, warning, notice, info, debug", value);
        *(int *)slot = (int)level;
        return TRUE;
    }
    case KEY_SPECIAL:
        break;
    }
    return TRUE;
}

static char *special_value(GKeyFile *kf, const char *group, const char *key)
{
    for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
        if (g_str_equal(keys[i].group, group) && g_str_equal(keys[i].key, key)) {
            char *v = get_value(kf, group, key);
            if (v && *g_strstrip(v))
                return v;
            g_free(v);
            return g_strdup(keys[i].fallback);
        }
    }
    g_assert_not_reached();
}

/* RFC 8601 §2.2: authserv-id is a value (RFC 2045 token); in practice the mail server's host
 * name. A token is what the header's parser compares it with, so nothing else is accepted. */
static gboolean authserv_id_is_valid(const char *id)
{
    for (const char *p = id; *p; p++) {
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
            strchr("()<>@,;:\\\"/[]?=", *p))
            return FALSE;
    }
    return *id != '\0';
}

/* "127.0.0.1:8080", "[::1]:8080", "localhost:0": a host and a port (0: any free one) */
static gboolean parse_listen(const char *text, char **host, int *port)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || !colon[1])
        return FALSE;
    gint64 number = 0;
    if (!g_ascii_string_to_signed(colon + 1, 10, 0, 65535, &number, NULL))
        return FALSE;
    g_autofree char *name = g_strndup(text, colon - text);
    if (name[0] == '[') {
        gsize n = strlen(name);
        if (n < 3 || name[n - 1] != ']')
            return FALSE;
        name[n - 1] = '\0';
        memmove(name, name + 1, n - 1);
    }
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr(".-:", *p))
            return FALSE;
    }
    *host = g_steal_pointer(&name);
    *port = (int)number;
    return TRUE;
}

/* public_url: an absolute http(s) URL without query or fragment; links in letters and the
 * console's own origin (Origin checks, Secure cookies) come from it */
static gboolean public_url_is_valid(const char *url)
{
    g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
    if (!uri || !g_uri_get_host(uri) || !*g_uri_get_host(uri))
        return FALSE;
    /* letters carry it in links: no space, quote or angle bracket (issue 14) */
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '<' || *p == '>')
            return FALSE;
    }
    const char *scheme = g_uri_get_scheme(uri);
    return (g_ascii_strcasecmp(scheme, "http") == 0 || g_ascii_strcasecmp(scheme, "https") == 0) &&
           !g_uri_get_query(uri) && !g_uri_get_fragment(uri) && !g_uri_get_userinfo(uri);
}

static gboolean load_web_specials(Config *c, GKeyFile *kf, GError **error)
{
    g_autofree char *listen = special_value(kf, "web", "listen");
    if (!parse_listen(listen, &c->web.listen_host, &c->web.listen_port))
        return config_fail(error, c, "web", "listen",
                           "\"%s\" is not host:port (e.g. 127.0.0.1:8080 or [::1]:8080)", listen);
    c->web.listen = g_steal_pointer(&listen);
    g_autofree char *public_url = special_value(kf, "web", "public_url");
    if (public_url) {
        if (!public_url_is_valid(public_url))
            return config_fail(error, c, "web", "public_url",
                               "\"%s\" is not an http:// or https:// address (e.g. "
                               "https://paht.soctrang.gov.vn)",
                               public_url);
        while (g_str_has_suffix(public_url, "/"))
            public_url[strlen(public_url) - 1] = '\0';
        c->web.public_url = g_steal_pointer(&public_url);
    }
    if (!c->web.tls_cert_file != !c->web.tls_key_file)
        return config_fail(error, c, "web", c->web.tls_cert_file ? "tls_key_file" : "tls_cert_file",
                           "TLS needs both tls_cert_file and tls_key_file");
    return TRUE;
}

/* [reports] recipients: addresses separated by commas; periods: which kinds of closed period
 * get a digest (Decree 09/2019 Art. 12: monthly, quarterly, half-yearly, yearly) */
static gboolean load_reports(Config *c, GKeyFile *kf, GError **error)
{
    g_autofree char *recipients = special_value(kf, "reports", "recipients");
    g_auto(GStrv) list = g_strsplit(recipients ? recipients : "", ",", -1);
    GPtrArray *addresses = g_ptr_array_new();
    for (int i = 0; list[i]; i++) {
        char *a = g_strstrip(list[i]);
        if (!*a)
            continue;
        if (!config_is_email(a)) {
            g_ptr_array_free(addresses, TRUE);
            return config_fail(error, c, "reports", "recipients", "\"%s\" is not an e-mail address",
                               a);
        }
        g_ptr_array_add(addresses, g_strdup(a));
    }
    g_ptr_array_add(addresses, NULL);
    c->reports.recipients = (char **)g_ptr_array_free(addresses, FALSE);
    static const char *const kinds[] = {"month", "quarter", "half", "year", NULL};
    g_autofree char *periods = special_value(kf, "reports", "periods");
    g_auto(GStrv) names = g_strsplit(periods ? periods : "", ",", -1);
    GPtrArray *chosen = g_ptr_array_new();
    for (int i = 0; names[i]; i++) {
        char *n = g_strstrip(names[i]);
        if (!*n)
            continue;
        if (!g_strv_contains(kinds, n)) {
            g_ptr_array_free(chosen, TRUE);
            return config_fail(error, c, "reports", "periods",
                               "\"%s\" is not month, quarter, half or year", n);
        }
        g_ptr_array_add(chosen, g_strdup(n));
    }
    g_ptr_array_add(chosen, NULL);
    c->reports.periods = (char **)g_ptr_array_free(chosen, FALSE);
    return TRUE;
}

static gboolean load_specials(Config *c, GKeyFile *kf, GError **error)
{
    static const char *const imap_schemes[] = {"imap", "imaps", NULL};
    static const char *const smtp_schemes[] = {"smtp", "smtps", NULL};
    g_autofree char *why = NULL;

    g_autofree char *imap_url = special_value(kf, "imap", "url");
    if (!server_url_parse(imap_url, imap_schemes, &c->imap.server, &why))
        return config_fail(error, c, "imap", "url", "%s", why);
    if (!*c->imap.server.path) {
        g_free(c->imap.server.path);
        c->imap.server.path = g_strdup("INBOX");
    }
    g_autofree char *smtp_url = special_value(kf, "smtp", "url");
    if (!server_url_parse(smtp_url, smtp_schemes, &c->smtp.server, &why))
        return config_fail(error, c, "smtp", "url", "%s", why);

    g_autofree char *reply_to = special_value(kf, "smtp", "reply_to");
    if (reply_to) {
        g_autofree char *probe = NULL;
        GString *s = g_string_new(reply_to);
        g_string_replace(s, "{token}", "t0", 0);
        probe = g_string_free(s, FALSE);
        if (!config_is_email(probe))
            return config_fail(error, c, "smtp", "reply_to",
                               "\"%s\" is not an e-mail address (with {token} for the "
                               "report's token)",
                               reply_to);
        c->smtp.reply_to = g_steal_pointer(&reply_to);
    }

    g_autofree char *authserv = special_value(kf, "gateway", "trusted_authserv_id");
    if (authserv) {
        if (!authserv_id_is_valid(authserv))
            return config_fail(error, c, "gateway", "trusted_authserv_id",
                               "\"%s\" is not an authserv-id (RFC 8601: the name the "
                               "province's mail server writes first in its "
                               "Authentication-Results header, e.g. mx.soctrang.gov.vn)",
                               authserv);
        c->gateway.trusted_authserv_id = g_steal_pointer(&authserv);
    }

    if (!load_reports(c, kf, error))
        return FALSE;

    g_autofree char *zone = special_value(kf, "calendar", "timezone");
    c->calendar.zone = g_time_zone_new_identifier(zone);
    if (!c->calendar.zone)
        return config_fail(error, c, "calendar", "timezone", "unknown time zone \"%s\"", zone);
    c->calendar.timezone = g_steal_pointer(&zone);

    g_autofree char *hours = special_value(kf, "calendar", "hours");
    if (!parse_hours(hours, &c->calendar.periods, &c->calendar.n_periods, &why))
        return config_fail(error, c, "calendar", "hours", "%s", why);
    g_autofree char *workdays = special_value(kf, "calendar", "workdays");
    if (!parse_workdays(workdays, &c->calendar.workdays, &why))
        return config_fail(error, c, "calendar", "workdays", "%s", why);
    return load_web_specials(c, kf, error);
}

/* a configuration to be read from file (absolute), its sources empty */
static Config *config_new(char *file)
{
    Config *c = g_new0(Config, 1);
    c->file = file;
    c->dir = g_path_get_dirname(c->file);
    c->sources =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);
    return c;
}

/* reads c (config_new, and its sources when from a snapshot) */
static Config *config_read(Config *owned, ConfigLoadFlags flags, GError **error)
{
    g_autoptr(Config) c = owned;
    GError *local = NULL;
    g_autoptr(GKeyFile) kf = keyfile_load(c, c->file, error); /* its errors name the file */
    if (!kf)
        return NULL;

    /* unknown groups and keys are errors: a typo must not silently fall back to a default */
    g_auto(GStrv) present_groups = g_key_file_get_groups(kf, NULL);
    for (int g = 0; present_groups[g]; g++) {
        gboolean known = FALSE;
        for (gsize i = 0; i < G_N_ELEMENTS(groups); i++)
            known = known || g_str_equal(groups[i], present_groups[g]);
        if (!known) {
            /* the list from the table itself, so that a new group is never left out */
            g_autoptr(GString) names = g_string_new(NULL);
            for (gsize i = 0; i < G_N_ELEMENTS(groups); i++)
                g_string_append_printf(names, "%s%s", i ? ", " : "", groups[i]);
            config_fail(error, c, present_groups[g], NULL, "unknown group (known: %s)", names->str);
            return NULL;
        }
        g_auto(GStrv) present_keys = g_key_file_get_keys(kf, present_groups[g], NULL, NULL);
        for (int k = 0; present_keys && present_keys[k]; k++) {
            gboolean key_known = FALSE;
            for (gsize i = 0; i < G_N_ELEMENTS(keys); i++)
                key_known = key_known || (g_str_equal(keys[i].group, present_groups[g]) &&
                                          g_str_equal(keys[i].key, present_keys[k]));
            if (!key_known) {
                config_fail(error, c, present_groups[g], present_keys[k], "unknown key");
                return NULL;
            }
        }
    }
    for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
        if (!g_key_file_has_group(kf, keys[i].group) && keys[i].required) {
            config_fail(error, c, keys[i].group, NULL, "missing group");
            return NULL;
        }
        if (!load_value(c, kf, &keys[i], flags, error))
            return NULL;
    }
    if (!load_specials(c, kf, error))
        return NULL;

    if (flags & CONFIG_LOAD_SECRETS) {
        if (!c->imap.password)
            c->imap.password = g_strdup(g_getenv("PAHT_IMAP_PASSWORD"));
        if (!c->imap.password) {
            config_fail(error, c, "imap", "password_file",
                        "no IMAP password: set password_file or PAHT_IMAP_PASSWORD");
            return NULL;
        }
        if (c->smtp.user && *c->smtp.user && !c->smtp.password)
            c->smtp.password = g_strdup(g_getenv("PAHT_SMTP_PASSWORD"));
        if (c->smtp.user && *c->smtp.user && !c->smtp.password) {
            config_fail(error, c, "smtp", "password_file",
                        "smtp user is set but no password: set password_file or "
                        "PAHT_SMTP_PASSWORD");
            return NULL;
        }
    }
    if (c->smtp.user && !*c->smtp.user)
        g_clear_pointer(&c->smtp.user, g_free);

    if (c->calendar.holidays_file) {
        c->calendar.holidays = holidays_read(c, c->calendar.holidays_file, &local);
        if (!c->calendar.holidays) {
            config_fail(error, c, "calendar", "holidays_file", "%s", local->message);
            g_error_free(local);
            return NULL;
        }
    } else {
        c->calendar.holidays = g_ptr_array_new_with_free_func(holiday_free);
    }
    if (c->gateway.agencies_file) {
        c->agencies = agencies_read(c, c->gateway.agencies_file, &local);
        if (!c->agencies) {
            config_fail(error, c, "gateway", "agencies_file", "%s", local->message);
            g_error_free(local);
            return NULL;
        }
    } else {
        c->agencies = g_ptr_array_new_with_free_func(agency_free);
    }
    if (c->gateway.categories_file) {
        c->categories = categories_read(c, c->gateway.categories_file, c->agencies, &local);
        if (!c->categories) {
            config_fail(error, c, "gateway", "categories_file", "%s", local->message);
            g_error_free(local);
            return NULL;
        }
    } else {
        c->categories = g_ptr_array_new_with_free_func((GDestroyNotify)category_free);
    }
    if (c->from_snapshot)
        return g_steal_pointer(&c); /* what follows was checked when it was accepted */
    if (!g_file_test(c->gateway.templates_dir, G_FILE_TEST_IS_DIR)) {
        config_fail(error, c, "gateway", "templates_dir", "%s is not a folder",
                    c->gateway.templates_dir);
        return NULL;
    }
    if (c->gateway.keywords_file &&
        !g_file_test(c->gateway.keywords_file, G_FILE_TEST_IS_REGULAR)) {
        config_fail(error, c, "gateway", "keywords_file", "%s is not a file",
                    c->gateway.keywords_file);
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        const char *ca = i == 0 ? c->imap.ca_file : c->smtp.ca_file;
        if (ca && !g_file_test(ca, G_FILE_TEST_IS_REGULAR)) {
            config_fail(error, c, i == 0 ? "imap" : "smtp", "ca_file", "%s is not a file", ca);
            return NULL;
        }
    }
    return g_steal_pointer(&c);
}

Config *config_load(const char *path, ConfigLoadFlags flags, GError **error)
{
    return config_read(config_new(g_canonicalize_filename(path, NULL)), flags, error);
}

/* the snapshot: [snapshot] file = the configuration file; [source N] path, data (base64) */
gboolean config_write_snapshot(const Config *config, const char *path, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_key_file_set_string(kf, "snapshot", "file", config->file);
    GHashTableIter it;
    gpointer key, value;
    int n = 0;
    g_hash_table_iter_init(&it, config->sources);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        g_autofree char *group = g_strdup_printf("source %d", n++);
        gsize len = 0;
        const guchar *data = g_bytes_get_data(value, &len);
        g_autofree char *text = g_base64_encode(data, len);
        g_key_file_set_string(kf, group, "path", key);
        g_key_file_set_string(kf, group, "data", text);
    }
    gsize len = 0;
    g_autofree char *text = g_key_file_to_data(kf, &len, NULL);
    return fs_write_file_atomic(path, text, len, error);
}

Config *config_load_snapshot(const char *path, ConfigLoadFlags flags, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    GError *local = NULL;
    g_autofree char *file = NULL;
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local) ||
        !(file = g_key_file_get_string(kf, "snapshot", "file", &local))) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "configuration snapshot %s: %s", path,
                    local->message);
        g_error_free(local);
        return NULL;
    }
    g_autoptr(Config) c = config_new(g_steal_pointer(&file));
    c->from_snapshot = TRUE;
    g_auto(GStrv) parts = g_key_file_get_groups(kf, NULL);
    for (int i = 0; parts[i]; i++) {
        if (!g_str_has_prefix(parts[i], "source "))
            continue;
        g_autofree char *source = g_key_file_get_string(kf, parts[i], "path", NULL);
        g_autofree char *data = g_key_file_get_string(kf, parts[i], "data", NULL);
        if (!source || !data) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "configuration snapshot %s: [%s] is incomplete", path, parts[i]);
            return NULL;
        }
        gsize len = 0;
        guchar *bytes = g_base64_decode(data, &len);
        g_hash_table_replace(c->sources, g_steal_pointer(&source), g_bytes_new_take(bytes, len));
    }
    return config_read(g_steal_pointer(&c), flags, error);
}

static void secret_free(char *secret)
{
    if (secret)
        memset(secret, 0, strlen(secret)); /* do not leave passwords in freed memory */
    g_free(secret);
}

void config_free(Config *c)
{
    if (!c)
        return;
    g_free(c->file);
    g_free(c->dir);
    if (c->sources)
        g_hash_table_unref(c->sources);
    g_free(c->gateway.name);
    g_free(c->gateway.place);
    g_free(c->gateway.code_prefix);
    g_free(c->gateway.database);
    g_free(c->gateway.data_dir);
    g_free(c->gateway.templates_dir);
    g_free(c->gateway.agencies_file);
    g_free(c->gateway.keywords_file);
    g_free(c->gateway.categories_file);
    g_free(c->open311.jurisdiction_id);
    g_free(c->open311.api_keys_file);
    g_free(c->gateway.ioc_alert_to);
    g_free(c->gateway.trusted_authserv_id);
    g_free(c->gateway.portal);
    g_free(c->gateway.hotline);
    g_free(c->gateway.app_name);
    server_url_clear(&c->imap.server);
    g_free(c->imap.user);
    secret_free(c->imap.password);
    g_free(c->imap.processed_folder);
    g_free(c->imap.quarantine_folder);
    g_free(c->imap.ca_file);
    server_url_clear(&c->smtp.server);
    g_free(c->smtp.user);
    secret_free(c->smtp.password);
    g_free(c->smtp.from);
    g_free(c->smtp.reply_to);
    g_free(c->smtp.ca_file);
    secret_free(c->smtp.bounce_secret);
    g_free(c->smtp.bounce_secret_file);
    g_free(c->privacy.contact);
    g_strfreev(c->reports.recipients);
    g_strfreev(c->reports.periods);
    g_free(c->calendar.timezone);
    if (c->calendar.zone)
        g_time_zone_unref(c->calendar.zone);
    g_free(c->calendar.periods);
    g_free(c->calendar.holidays_file);
    if (c->calendar.holidays)
        g_ptr_array_unref(c->calendar.holidays);
    g_free(c->web.listen);
    g_free(c->web.listen_host);
    g_free(c->web.public_url);
    g_free(c->web.tls_cert_file);
    g_free(c->web.tls_key_file);
    if (c->agencies)
        g_ptr_array_unref(c->agencies);
    if (c->categories)
        g_ptr_array_unref(c->categories);
    g_free(c);
}
