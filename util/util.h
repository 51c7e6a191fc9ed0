/* util: what every module of paht-mail shares and nothing else.
 *
 * - the project's error set (a GError domain): every module translates its library's codes
 *   (libetpan, curl, SQLite, GMime) into these where the library is called;
 * - logging to stderr in a form journald understands, never with personal data;
 * - the clock (PAHT_NOW), private files and folders, text helpers (NFC, diacritics folding).
 *
 * Ownership: functions returning char * or GBytes * give the caller a new reference to free
 * with g_free / g_bytes_unref; const char * results are borrowed.
 */
#ifndef PAHT_UTIL_H
#define PAHT_UTIL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* ---- errors ------------------------------------------------------------------------------ */

#define PAHT_ERROR (paht_error_quark())
GQuark paht_error_quark(void);

typedef enum {
    PAHT_ERROR_TEMPORARY, /* try again later: connection lost, 4xx, timeout, database busy */
    PAHT_ERROR_PERMANENT, /* will never work as asked: 5xx, a message the server lost */
    PAHT_ERROR_CONFIG,    /* the administrator must act: bad key, login refused, TLS refused */
    PAHT_ERROR_INPUT,     /* hostile or broken input: the caller keeps it aside, never crashes */
    PAHT_ERROR_REFUSED,   /* an action the rules forbid (Điều 8.3: a second extension, ...) */
    PAHT_ERROR_NOT_FOUND, /* no such report, letter or message */
} PahtErrorCode;

/* ---- logging -----------------------------------------------------------------------------
 * Lines go to stderr with a syslog priority prefix ("<4>...") that journald reads, or, on a
 * terminal, as "pahtd: warning: ...". Never pass ID numbers, phone numbers or postal addresses:
 * log report ids, tracking codes and mail domains instead (see log_redact_address). */

typedef enum {
    LOG_LEVEL_ERROR = 3,
    LOG_LEVEL_WARNING = 4,
    LOG_LEVEL_NOTICE = 5,
    LOG_LEVEL_INFO = 6,
    LOG_LEVEL_DEBUG = 7,
} LogLevel;

void log_init(const char *program_name);
void log_set_level(LogLevel max_level);
/* "error", "warning", "notice", "info", "debug"; FALSE for anything else */
gboolean log_level_from_string(const char *name, LogLevel *out);
void log_message(LogLevel level, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
#define log_error(...)   log_message(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_message(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...)  log_message(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...)    log_message(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)   log_message(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* "nguyen.van.a@gmail.com" -> "n***@gmail.com": enough for an administrator to tell mail
 * apart, not enough to identify a citizen. */
char *log_redact_address(const char *address);

/* Keeps freed heap memory for reuse instead of handing it back to the kernel after every
 * letter or message (glibc trims the heap top past 128 KB by default: seen, 7 brk calls and
 * fresh zeroed pages per letter sent, about 10 % of the outbox's time). Up to 8 MB stay
 * mapped; large buffers are still mmap'ed and returned at once. Call once, at start. */
void memory_tune(void);

/* ---- clock -------------------------------------------------------------------------------
 * PAHT_NOW=RFC3339 in the environment replaces the clock in both programs, so that tests and
 * demonstrations can move through deadlines. Read on every call: a test may change it. */

gint64 clock_now_unix(void);    /* seconds since the epoch */
GDateTime *clock_now_utc(void); /* new reference */
/* RFC 3339 with the offset of zone (e.g. "2026-11-28T09:00:00+07:00"); zone NULL = UTC */
char *clock_format_rfc3339(gint64 unix_time, GTimeZone *zone);
/* parses RFC 3339 (a missing offset is refused); FALSE on bad input */
gboolean clock_parse_rfc3339(const char *text, gint64 *unix_time);

/* ---- files -------------------------------------------------------------------------------
 * Everything the gateway writes is private: folders 0700, files 0600 (Điều 4.5, SPEC §8). */

/* mkdir -p with mode 0700 for the folders it creates; an existing folder is left as is */
gboolean fs_make_private_dir(const char *path, GError **error);
/* write data to path atomically and durably: temp file in the same folder, fsync, rename,
 * fsync the folder. Mode 0600. */
gboolean fs_write_file_atomic(const char *path, const void *data, gsize len, GError **error);
/* removes a folder and everything in it, best effort; symbolic links inside are removed, never
 * followed */
void fs_remove_tree(const char *path);
/* fsync a folder so that a rename or unlink inside it survives a crash */
gboolean fs_sync_dir(const char *path, GError **error);
/* open a new private temp file "dir/prefixXXXXXX"; returns the fd, *path_out the name */
int fs_open_private_temp(const char *dir, const char *prefix, char **path_out, GError **error);
/* write(2) until all of data is written (EINTR retried); FALSE with errno set otherwise */
gboolean fs_write_all(int fd, const void *data, gsize len);

/* Buffered writing to a file descriptor, for data that arrives in small pieces (network
 * reads, decoder output): the file gets 64 KiB writes. Small appends are not only more system
 * calls: ext4 zeroes the rest of each new block a write starts, so 4 KB appends make the kernel
 * clear nearly every page once before filling it. Errors are errno values (0: none). */
typedef struct FdWriter FdWriter;
FdWriter *fd_writer_new(int fd);
/* appends; FALSE and *err when a write failed (what was buffered is then lost) */
gboolean fd_writer_write(FdWriter *w, const void *data, gsize len, int *err);
/* writes out what is buffered */
gboolean fd_writer_flush(FdWriter *w, int *err);
/* frees the buffer without flushing; the fd is the caller's */
void fd_writer_free(FdWriter *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FdWriter, fd_writer_free)

/* copies the file at src_path into the open fd (from its current offset); the fd stays open.
 * A source that cannot be read is PAHT_ERROR_INPUT, a write that fails PAHT_ERROR_TEMPORARY. */
gboolean fs_copy_to_fd(const char *src_path, int fd, GError **error);
/* dir/ab/abcdef... for a SHA-256 hex digest, with the two-level folder created */
char *fs_content_path(const char *dir, const char *sha256_hex, const char *suffix, GError **error);
/* rename a finished temp file onto its content-addressed place (same file system); if the
 * place is already taken by the same content, the temp file is removed instead */
gboolean fs_commit_content(const char *temp_path, const char *final_path, GError **error);

/* ---- hashing and randomness --------------------------------------------------------------- */

/* SHA-256 with GnuTLS (hardware-accelerated where the CPU offers it: five times GLib's speed
 * on these machines, and every message and attachment is hashed) */
typedef struct Sha256 Sha256;
Sha256 *sha256_new(void);
void sha256_update(Sha256 *sum, const void *data, gsize len);
/* the lowercase hex digest; frees sum */
char *sha256_finish(Sha256 *sum);
void sha256_free(Sha256 *sum); /* without a digest (error paths) */

/* a SHA-256 hex digest of a file, streamed */
char *sha256_file(const char *path, gint64 *size_out, GError **error);
char *sha256_bytes(const void *data, gsize len);
/* n random bytes from the kernel as 2n lowercase hex digits */
char *random_hex(gsize n_bytes);

/* ---- text --------------------------------------------------------------------------------- */

/* NFC-normalised copy of valid UTF-8 (NULL stays NULL); invalid UTF-8 returns NULL */
char *text_nfc(const char *utf8);
/* NFC of len bytes (-1: up to the NUL) of VALID UTF-8, in linear time: GLib 2.74's
 * g_utf8_normalize is quadratic in the number of compositions, so only the small pieces that
 * may change are given to it */
char *text_nfc_len(const char *utf8, gssize len);
/* trim, collapse runs of white space (including NBSP) to one space, NFC */
char *text_clean_line(const char *utf8);
/* for matching, not display: NFD, combining marks dropped, đ/Đ -> d, lowercase.
 * "Họ và tên" -> "ho va ten", "ĐỊA CHỈ" -> "dia chi". */
char *text_fold(const char *utf8);
/* text_fold, then only letters and digits, single spaces between them: "- Số CCCD:" ->
 * "so cccd", "Rất hài lòng!" -> "rat hai long" (labels and set phrases, for matching) */
char *text_fold_words(const char *utf8);
/* TRUE if the string has no CR, LF or other C0 control character: safe in a header */
gboolean text_is_header_safe(const char *s);
/* copy with CR, LF and other controls replaced by spaces, trimmed */
char *text_header_sanitize(const char *s);

G_END_DECLS

#endif
