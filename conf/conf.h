/* conf: the configuration contract of SPEC §6, read with GKeyFile and validated whole at
 * start-up. Every unknown group or key and every bad value is an error that names the file,
 * the group and the key (PAHT_ERROR_CONFIG); the programs exit 2 on it.
 *
 * Also here: the two data files the province edits, the holidays file and the agencies file,
 * since a mistake in them is a configuration error too.
 *
 * Relative paths in the file are relative to the folder of the configuration file.
 * Secrets come only from password_file (refused unless a regular file of mode 0600 or 0400)
 * or from the environment (PAHT_IMAP_PASSWORD, PAHT_SMTP_PASSWORD), never the command line.
 */
#ifndef PAHT_CONF_H
#define PAHT_CONF_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    int start_minute; /* minutes after local midnight, inclusive */
    int end_minute;   /* exclusive */
} WorkPeriod;

typedef enum {
    HOLIDAY_OFF,  /* a workday with no work (holiday, bridge day) */
    HOLIDAY_WORK, /* a weekend day worked in exchange (làm bù) */
} HolidayKind;

typedef struct {
    GDate first; /* inclusive */
    GDate last;  /* inclusive */
    HolidayKind kind;
    char *name;
} Holiday;

typedef struct {
    char *code;        /* "xd" from [agency xd] */
    char *name;        /* Sở Xây dựng */
    char *contact;     /* the agency's contact mailbox (văn thư / đầu mối) */
    char *leader;      /* the leader's mailbox */
    char *leader_name; /* signs the Phụ lục I result letter */
} Agency;

/* A report category (lĩnh vực): one Open311 service (issue 15). The IOC files each accepted
 * report under one; pahtctl accept --category and the console's accept form take its code. */
typedef struct {
    char *code;        /* "chieu-sang" from [category chieu-sang]: the Open311 service_code */
    char *name;        /* Chiếu sáng công cộng */
    char *description; /* one sentence: what reports of it are about */
    char *group;       /* Hạ tầng đô thị: the Open311 group */
    char *agency;      /* the agency it usually goes to (a code of the agencies file) */
} Category;

typedef struct {
    char *url;    /* as written */
    char *scheme; /* "imap", "imaps", "smtp", "smtps" */
    char *host;
    int port;
    char *path;            /* IMAP: the watched folder ("INBOX"); SMTP: unused (EHLO name) */
    gboolean implicit_tls; /* imaps:// and smtps:// */
} ServerUrl;

typedef struct {
    char *file; /* the configuration file, absolute */
    char *dir;  /* its folder: base of relative paths */
    /* the bytes of every file it was read from (this file, the holidays, agencies and
     * categories files), by path (GBytes): config_write_snapshot */
    GHashTable *sources;
    gboolean from_snapshot; /* read from a snapshot: nothing was read from the disk */

    struct {
        char *name;        /* sender name in letters */
        char *place;       /* "Sóc Trăng, ngày ... tháng ... năm ..." */
        char *code_prefix; /* PAHT -> PAHT-2026-000123 */
        char *database;
        char *data_dir;
        char *templates_dir;
        char *agencies_file;
        char *categories_file; /* report categories (Open311 services); optional */
        char *keywords_file;   /* classification word lists (optional; built-in list if unset) */
        gint64 max_message_bytes;
        int auto_replies_per_day;             /* per sender address (case, +tag folded) */
        int auto_replies_per_domain_per_hour; /* per recipient domain, last hour */
        int auto_replies_per_hour;            /* in total, last hour */
        char *trusted_authserv_id; /* RFC 8601 id of the province's MX; NULL: not checked */
        char *ioc_alert_to;
        char *portal;                /* the province's PAHT portal, named in letters */
        char *hotline;               /* 1022 */
        char *app_name;              /* the citizen app, "Công dân Sóc Trăng" */
        int log_level;               /* LogLevel */
        int message_timeout_seconds; /* each message's own time limit */
        int parser_processes;        /* pahtd's parser processes (worker.c), 1 to 16 */
        int min_free_mb; /* below this free space (data_dir, database) no mail is fetched */
    } gateway;

    struct {
        int retain_days; /* finished reports keep personal data this long; 0: forever */
        char *contact;   /* whom citizens ask about their data (the privacy notice) */
    } privacy;

    struct {
        char **recipients; /* the statistics digest (stats_digest), NULL-terminated; may be
                              empty: no digest */
        char **periods;    /* month, quarter, half, year: which closed periods get one */
    } reports;

    struct {
        ServerUrl server;
        char *user;
        char *password; /* from password_file or PAHT_IMAP_PASSWORD; NULL without secrets */
        char *processed_folder;
        char *quarantine_folder;
        int poll_seconds;
        gboolean idle;
        gboolean tls_verify;
        char *ca_file; /* NULL: the system's trust store */
        int timeout_seconds;
    } imap;

    struct {
        ServerUrl server;
        char *user; /* NULL: no AUTH */
        char *password;
        char *from;     /* our address: envelope and From: */
        char *reply_to; /* with {token} replaced by the report's reply token */
        gboolean tls_verify;
        char *ca_file;
        int timeout_seconds;
        char *bounce_secret;      /* HMAC key for VERP bounce tokens, from bounce_secret_file */
        char *bounce_secret_file; /* its path (absolute), whether read or not; NULL: not set */
    } smtp;

    struct {
        char *timezone; /* "Asia/Ho_Chi_Minh" */
        GTimeZone *zone;
        WorkPeriod *periods; /* sorted, non-overlapping */
        int n_periods;
        guint8 workdays; /* bit (1 << n) for GDateWeekday n (1 = Monday .. 7 = Sunday) */
        char *holidays_file;
        GPtrArray *holidays; /* Holiday * */
    } calendar;

    /* pahtweb, the console (issue 13): where it listens and how it keeps sessions */
    struct {
        char *listen;      /* "host:port" as written; default 127.0.0.1:8080 */
        char *listen_host; /* "127.0.0.1", "::1" (brackets removed) */
        int listen_port;   /* 0: any free port (tests; pahtweb says which) */
        char *public_url;  /* "https://paht.soctrang.gov.vn/console"; NULL: unset */
        char *tls_cert_file, *tls_key_file; /* both or neither: TLS without a proxy */
        int session_idle_minutes;           /* a session unused this long ends */
        int session_max_hours;              /* and every session ends this long after login */
        int max_connections;                /* open connections at most */
        int client_timeout_seconds;         /* a client silent this long is cut off */
        int threads;                        /* the server's thread pool */
        gboolean behind_proxy; /* a loopback peer's X-Real-IP / X-Forwarded-For is the client */
    } web;

    /* Open311 GeoReport v2 under pahtweb's /open311/v2/ (issue 15) */
    struct {
        char *jurisdiction_id;     /* checked when a client sends one; NULL: none is accepted */
        char *api_keys_file;       /* "KEY CLIENT-NAME" a line, 0600/0400; NULL: no POST */
        int requests_per_hour;     /* POSTs one key may make in an hour */
        int description_max_chars; /* a POST's description at most */
    } open311;

    GPtrArray *agencies;   /* Agency *, in file order */
    GPtrArray *categories; /* Category *, in file order; empty without categories_file */
} Config;

typedef enum {
    CONFIG_LOAD_DEFAULT = 0,
    CONFIG_LOAD_SECRETS = 1 << 0, /* read passwords too (pahtd); pahtctl never needs them */
} ConfigLoadFlags;

/* Where this build looks when nothing says otherwise: paths from CMake's install prefix, so
 * that a build for /usr reads /etc/paht/paht.conf and /usr/share/paht/templates, and one for
 * /usr/local reads /usr/local/etc/paht/paht.conf and /usr/local/share/paht/templates, the
 * folders its own `cmake --install` fills (issue 17). */
const char *config_default_file(void);
const char *config_default_templates_dir(void);
/* what --version prints: "PROGRAM (paht-mail) VERSION", then those two paths, one a line;
 * the caller frees it */
char *config_version_text(const char *program);
/* The start of a daemon's main, the same for pahtd and pahtweb: parses the options, refuses a
 * stray argument, prints --version (*version is the option's flag, set by the parse). Returns
 * the exit code when the program is done (2 after a usage error, 0 after --version), or -1
 * when it goes on. */
int config_main_options(GOptionContext *options, int *argc, char ***argv, const char *program,
                        const gboolean *version);

/* NULL and a PAHT_ERROR_CONFIG error naming file, group and key on any problem */
Config *config_load(const char *path, ConfigLoadFlags flags, GError **error);
/* The files config was read from, as they were read (config->sources, not the files as they
 * are now), in one private file at path (0600, replaced at once). pahtd's parser processes
 * load the configuration pahtd runs with from it (config_load_snapshot): a file edited since,
 * even a broken one, changes nothing until pahtd accepts it on SIGHUP. */
gboolean config_write_snapshot(const Config *config, const char *path, GError **error);
/* the configuration a snapshot holds, read as config_load reads its files (relative paths
 * stay those of the original file); the folders and files it only names (templates_dir,
 * keywords_file, ca_file) were checked when it was accepted, and are not looked at again */
Config *config_load_snapshot(const char *path, ConfigLoadFlags flags, GError **error);
void config_free(Config *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Config, config_free)

/* the agency with this code (case-insensitive), or NULL */
const Agency *config_find_agency(const Config *config, const char *code);

/* the category with this code (case-insensitive), or NULL */
const Category *config_find_category(const Config *config, const char *code);

/* holidays file (SPEC §6): "DATE[..DATE] off|work NAME", '#' comments. Errors name the line. */
GPtrArray *holidays_load(const char *path, GError **error);
/* agencies file: one [agency CODE] group each with name, contact, leader, leader_name */
GPtrArray *agencies_load(const char *path, GError **error);
/* categories file (conf/categories.c): one [category CODE] group each with name,
 * description, group and agency; agencies (may be NULL) are the codes agency may name */
GPtrArray *categories_load(const char *path, const GPtrArray *agencies, GError **error);
void category_free(Category *category);

/* "imap://host:143/INBOX" etc.; FALSE with a message in *why */
gboolean server_url_parse(const char *url, const char *const *schemes, ServerUrl *out, char **why);
void server_url_clear(ServerUrl *url);

/* a plain address check for configuration values: local@domain with no spaces */
gboolean config_is_email(const char *value);

G_END_DECLS

#endif
