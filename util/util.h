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

/* PAHT_LOG_LEVEL in the environment sets the level, and log_set_level (the configuration's
 * log_level) then changes nothing */
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

/* The mailbox an address reaches, as far as counting goes (SPEC §3.6 rate limits): lowercase
 * and without the "+tag" of its local part ("An+x@Example.VN" -> "an@example.vn"); NULL when
 * it is no local@domain address. *domain (may be NULL) gets its lowercase domain. */
char *address_normalise(const char *address, char **domain);

/* Keeps freed heap memory for reuse instead of handing it back to the kernel after every
 * letter or message (glibc trims the heap top past 128 KB by default: seen, 7 brk calls and
 * fresh zeroed pages per letter sent, about 10 % of the outbox's time). Up to 8 MB stay
 * mapped; buffers over 128 KB are mmap'ed and returned at once. Call at start; a process
 * that turns to reading messages calls it again with big_buffers (below).
 *
 * big_buffers: a process that reads one message after another into a buffer of up to this
 * many bytes (the parser: PARSE_IN_MEMORY_MAX) takes those from the heap too and keeps them
 * for the next message: mmap'ed, every message took its pages from the kernel again, zeroed
 * (perf of an ingest: 100,000 page faults, a tenth of the parser's time). At most 16 MiB; 0
 * for the default above. */
#define MEMORY_BIG_BUFFERS_MAX (16 * 1024 * 1024)
void memory_tune(gsize big_buffers);

/* Under AddressSanitizer (GCC says so with __SANITIZE_ADDRESS__, clang with __has_feature)
 * its own allocator and shadow memory replace glibc's: no address-space limit can be set and
 * malloc's settings do nothing */
#if defined(__SANITIZE_ADDRESS__)
#define PAHT_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PAHT_UNDER_ASAN 1
#endif
#endif
#ifndef PAHT_UNDER_ASAN
#define PAHT_UNDER_ASAN 0
#endif

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
/* For tests only: hook is called with the path of every file and folder these functions fsync
 * (NULL: none). Durability cannot be observed without a power cut; what was synced can. */
typedef void (*FsSyncHook)(const char *path, gpointer data);
void fs_set_sync_hook(FsSyncHook hook, gpointer data);
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
/* dir/ab/abcdef... for a SHA-256 hex digest, with the two-level folder created (and, when it
 * is new, its entry in dir made durable: a file renamed into a folder whose own entry is lost
 * in a crash is lost with it) */
char *fs_content_path(const char *dir, const char *sha256_hex, const char *suffix, GError **error);
/* Files made from a content file and kept beside it, named path + suffix: the console's
 * thumbnail of an image, or the mark that it has none (web/thumbs.c). They belong to that
 * content file: verify counts them with it, and they are removed when it is. */
#define FS_THUMB_SUFFIX    ".thumb.jpg"
#define FS_NO_THUMB_SUFFIX ".thumb.none"
/* the file at content_path (itself not derived) with what was made from it, or NULL when
 * path is no derived file */
char *fs_derived_from(const char *path);
/* removes the files made from content_path; ENOENT is no error; the count removed */
int fs_remove_derived(const char *content_path);
/* When the data and the name of a file reach the disk. */
typedef enum {
    FS_SYNC_NOW,   /* the file, then its folder, are synced before the call returns */
    FS_SYNC_LATER, /* group commit: the caller syncs the whole file system
                      (fs_sync_filesystem) before anything outside this machine depends on the
                      file: one flush for a batch of files instead of two per file */
} FsSyncWhen;
/* Renames a finished temp file onto its content-addressed place (same file system), the
 * content whose SHA-256 is sha256_hex. If the place is taken by that content already (same
 * size and digest: checked, since a crash can leave a name over a cut-short file), the temp
 * file is removed instead, and the one there synced all the same under FS_SYNC_NOW (whoever
 * put it there may not have synced it yet: a process running now, or one that died); a file
 * there with other bytes is replaced. */
gboolean fs_commit_content(const char *temp_path, const char *final_path, const char *sha256_hex,
                           FsSyncWhen when, GError **error);
/* the file at path is there, size bytes long, and its SHA-256 is sha256_hex (a content file
 * written FS_SYNC_LATER may be cut short by a power cut before its sync) */
gboolean fs_content_whole(const char *path, gint64 size, const char *sha256_hex);
/* fs_content_whole read from the disk: the page cache's clean copy is dropped first. A write
 * to the disk that failed leaves the right bytes in the cache, marked clean, while the disk
 * has others: a check after a crash or a failed sync must not read the cache's. */
gboolean fs_content_whole_on_disk(const char *path, gint64 size, const char *sha256_hex);
/* lets the page cache drop its clean copy of the file at path (POSIX_FADV_DONTNEED); pages
 * not yet written to the disk stay. Best effort: a file that cannot be opened is left as it is.
 * Only after a sync that succeeded, for files written once: the mailbox pass's raw mail and
 * photos, which nobody reads again soon, would otherwise push the database and the next
 * batch's pages out of the cache (and on a virtual machine each new page the cache grows by
 * can cost its host a fault, where a page let go is taken again by the next write cheaply). */
void fs_forget_cached(const char *path);
/* fs_content_path, a new folder's entry synced as when says */
char *fs_content_path_when(const char *dir, const char *sha256_hex, const char *suffix,
                           FsSyncWhen when, GError **error);
/* syncfs(2): everything written on the file system holding path (data, names, folders) on the
 * disk; told to the sync hook like an fsync */
gboolean fs_sync_filesystem(const char *path, GError **error);
/* The same through fd, open on path. The kernel tells a write-back error once to each file
 * that was open when it came; a file opened later hears of it only while nobody has been told.
 * So a program that syncs again and again keeps one open: a sync by another program, or by
 * another thread of its own on a new descriptor, cannot hide an error from it. */
gboolean fs_sync_fd(int fd, const char *path, GError **error);

/* ---- owners and secrets (util/ownership.c) ---------------------------------------------------
 * The database and all of data_dir belong to one user, the service user (issue 11.4). */

/* A secret (SPEC §6): the first line of path, trailing white space removed. Refused unless a
 * regular file of mode 0600 or 0400 (checked on the file actually read). PAHT_ERROR_NOT_FOUND
 * when it does not exist; PAHT_ERROR_CONFIG otherwise, the message saying how to fix it. */
char *fs_read_secret_file(const char *path, GError **error);
/* The owner of path; when path does not exist yet (or cannot be seen: a folder above it is
 * closed to us), of its nearest ancestor that can (who owns what is created there). *found
 * (may be NULL) gets the canonical path examined. FALSE with errno set when no ancestor can be
 * examined. A symbolic link counts as its target. */
gboolean fs_owner(const char *path, uid_t *uid, char **found);
/* The first file or folder, root itself or at most depth levels below it, that does not
 * belong to uid; NULL when all do (or root does not exist). Below root, symbolic links are
 * examined themselves, never followed. */
char *fs_find_foreign(const char *root, uid_t uid, int depth);
/* the account name of uid, or the number as text when it has no account */
char *user_name_of(uid_t uid);
/* argv as a shell would take it back (arguments quoted where needed): the command to give
 * in a "sudo -u OWNER ..." hint */
char *command_line_quoted(int argc, char **argv);
/* Root becomes user uid for good (real, effective and saved ids): that account's groups
 * (initgroups), its group, its uid; a uid without an account gets gid = uid and no
 * supplementary groups. Nothing of root remains. TRUE at once when the process is uid. */
gboolean process_become_user(uid_t uid, GError **error);

/* ---- mail files ------------------------------------------------------------------------------
 * What the gateway learns of a message file without parsing it, reading its header block with
 * a bound, in one pass over the file. */

/* The longest header block a message may have. RFC 5322 bounds lines, not the block; real
 * header blocks (long References, DKIM and ARC chains, a few hundred recipients) stay far
 * below this, and Postfix cuts any one header at 100 KiB (header_size_limit). The parser
 * refuses a message whose header block is longer, since its memory grows with the headers
 * (seen: 150,000 To: addresses in 3.2 MB cost it 125 MB), and nothing reads further into one. */
#define MAIL_HEADER_MAX_BYTES (256 * 1024)

typedef struct {
    char *sha256;      /* of every byte of the file */
    char *body_sha256; /* of what follows the header block, CRLF read as LF (a file saved on
                          Unix and the same mail served by IMAP with CRLF agree); only from
                          mail_file_identity_with_body, else NULL */
    char *message_id;  /* the first Message-ID, without <> and white space; NULL if none */
    gint64 size;
    gint64 header_bytes; /* length of the header block, with the empty line that ends it */
} MailFileIdentity;

/* Reads the file at path once: its digest, size and Message-ID (looked for in the first
 * MAIL_HEADER_MAX_BYTES only: nothing more of the headers is held). I/O errors are
 * PAHT_ERROR_TEMPORARY. */
gboolean mail_file_identity(const char *path, MailFileIdentity *out, GError **error);
/* The same with the body digest, a second SHA-256 of nearly every byte: only where a mail
 * must be compared with another of the same Message-ID (gateway/inbound.c). */
gboolean mail_file_identity_with_body(const char *path, MailFileIdentity *out, GError **error);
/* The same but the body digest, learnt from the bytes as they stream in (a download): feed
 * every byte of the message in order, then finish (which frees the builder) or free it to
 * give up. */
typedef struct MailIdentityBuilder MailIdentityBuilder;
MailIdentityBuilder *mail_identity_new(void);
void mail_identity_feed(MailIdentityBuilder *builder, const void *data, gsize len);
void mail_identity_finish(MailIdentityBuilder *builder, MailFileIdentity *out);
void mail_identity_free(MailIdentityBuilder *builder);
void mail_file_identity_clear(MailFileIdentity *identity);
/* *length: the length of the header block of the message open at fd (read from offset 0
 * with pread), with the empty line that ends it; the whole file when it has none; max + 1
 * when it is longer than max (no more is read). PAHT_ERROR_TEMPORARY when it cannot be read. */
gboolean mail_header_block_length(int fd, gsize max, gsize *length, GError **error);
/* the same for a message held in memory (data, len bytes) */
gsize mail_header_block_length_of(const char *data, gsize len, gsize max);
/* the value of the first header called name (case-insensitive) in the header block of len
 * bytes (it may run on into the body: the first empty line ends it), unfolded and trimmed, as
 * written (RFC 2047 words stay encoded); NULL if there is none */
char *mail_header_find(const char *block, gsize len, const char *name);
/* "<abc@example.com>" -> "abc@example.com": the first msg-id of a header value, without <>,
 * white space or control characters; NULL when nothing fit is left */
char *mail_message_id_clean(const char *value);

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

/* ---- base64 (util/base64.c) --------------------------------------------------------------- */

/* g_base64_decode_step, the same output for any input cut anywhere (padding in the middle of
 * the data included, which GMime's decoder gets wrong), several times faster on whole lines.
 * out needs room for (len / 4) * 3 + 3 bytes; *state and *save start at 0. */
gsize base64_decode_step(const char *in, gsize len, guchar *out, gint *state, guint *save);

/* len bytes as base64 in lines of 76 characters, each ending in LF, into out (room for
 * base64_encoded_lines_size(len) characters; no NUL): the same text as GMime's encoder
 * (g_mime_encoding_base64_encode_close), and as GLib's with break_lines but for the empty line
 * GLib adds after a last line that is full. Returns its length. */
gsize base64_encoded_lines_size(gsize len);
gsize base64_encode_lines(const guchar *data, gsize len, char *out);

/* ---- patterns ----------------------------------------------------------------------------- */

/* The GRegex of pattern with flags, compiled once per process and kept: for patterns made
 * from the configuration (our address, the code prefix), the same for every mail, where
 * compiling each time cost more than matching (callgrind: several per cent of a parse). A new
 * reference (g_regex_unref it), or NULL when pattern does not compile. At most 64 patterns
 * are kept; any others are compiled each time. Thread-safe. */
GRegex *regex_kept(const char *pattern, GRegexCompileFlags flags);

/* ---- text --------------------------------------------------------------------------------- */

/* only octets 0x20-0x7E (spaces and visible ASCII), or empty: what most header values are,
 * and what needs no decoding, cleaning or normalising */
gboolean text_is_visible_ascii(const char *s);
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
/* text_fold of len bytes of UTF-8 (bytes that are not UTF-8 left out), its length in
 * *folded_len; with origin, *origin (g_free) gives for each byte of the result the offset in
 * utf8 of the character it came from: a match in the folded text is cut out of the original */
char *text_fold_mapped(const char *utf8, gsize len, gsize *folded_len, guint **origin);
/* text_fold, then only letters and digits, single spaces between them: "- Số CCCD:" ->
 * "so cccd", "Rất hài lòng!" -> "rat hai long" (labels and set phrases, for matching) */
char *text_fold_words(const char *utf8);
/* TRUE if the string has no CR, LF or other C0 control character: safe in a header */
gboolean text_is_header_safe(const char *s);
/* copy with CR, LF and other controls replaced by spaces, trimmed */
char *text_header_sanitize(const char *s);

G_END_DECLS

#endif
