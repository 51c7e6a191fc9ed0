/* worker: every message is parsed and committed in a child process, under its own time limit
 * (SPEC §3: a message that fails, hangs or crashes the parser is kept aside and never blocks
 * the mail behind it).
 *
 * Why this shape:
 * - Long-lived children, not a fork per message: thousands of messages a minute must not each
 *   pay for a process start. A child is replaced only after it timed out or crashed, or after
 *   SIGHUP.
 * - [gateway] parser_processes children (2 by default), each with its own queue: parsing a
 *   mail is most of an ingest's CPU, and one child used one core while the mailbox, the mail
 *   server and the disk kept the other busy only in part (issue 18). All the mail of one
 *   sender goes to the same child (worker_slot_of), which takes it in order, so that mail
 *   which depends on an earlier mail (a citizen's second mail, the same mail twice) finds it
 *   committed, as with one child. The children commit in turns (SQLite's write lock).
 * - The child is our own binary started again (/proc/self/exe --worker), not a bare fork():
 *   it opens its own SQLite connection (a connection must never cross fork()), begins with a
 *   clean GMime, and holds none of the parent's IMAP socket or TLS state. It reads hostile
 *   mail, so it holds no password either: it reads the configuration without them, and gets
 *   an environment filtered by an allow-list (never PAHT_IMAP_PASSWORD/PAHT_SMTP_PASSWORD).
 *   The one secret it needs, the key that verifies bounce tokens, it reads itself when a
 *   bounce comes (outbound_bounce_key: [smtp] bounce_secret_file, mode-checked).
 * - The child is started in the background (worker_prepare) while the daemon connects to the
 *   mailbox; its READY is awaited when the first message needs it, or at the end of the cycle
 *   (worker_settle), so that one that cannot start is still reported at once. A pass with
 *   nothing to parse no longer waits for the child's start (with the pidfd of reap(): a
 *   pahtd --once with nothing to do, 56 -> 41 ms).
 * - The parent does all IMAP work and waits for each answer with the message's time limit. On
 *   a timeout it kills the child, on a crash it reaps it; either way the message is marked
 *   unparsed (kept: raw file and row) and goes to quarantine, and the next message gets a new
 *   child.
 * - The parent may give the child several messages before it collects the first answer (a
 *   queue of up to PARSER_QUEUE_MAX, mailbox.c): a 2 MB mail with photos and a 20 KB one take
 *   very different times, and with one at a time the child waited for the next download (and
 *   the download for the child) a quarter of an ingest.
 * - The child takes the messages already waiting in its queue together (PARSER_BATCH_MAX):
 *   it parses each in turn, outside any transaction, then commits them all in one, each in a
 *   savepoint of its own, and only then answers them, in order (pahtd moves a message out of
 *   the inbox on its DONE). A message alone in the queue is processed at once. Before each
 *   message, and before its part of the commit, the child notes it in data_dir (note_taken):
 *   the message in its hands is the one it names, which is not always the oldest unanswered.
 *   A time limit runs from when the child took the message; a timeout or a crash is the noted
 *   message's (the oldest unanswered one's when there is no note), and the others of the
 *   queue, not begun or not committed, go to a new child in the same order. A message lost
 *   that is not the oldest is kept aside at once and collected in its turn (gw->settled).
 * - The child ignores SIGTERM, SIGINT and SIGHUP: systemd signals the whole control group, and
 *   a stop must let the messages in hand finish. It exits when the parent closes the socket,
 *   and dies with the parent (PR_SET_PDEATHSIG); a commit it might still make is guarded by
 *   raw_message_mark_processed, which succeeds only once per message.
 *
 * The protocol is one line each way over a socketpair:
 *   child:  READY <database>                   once, after opening the store
 *           ERROR <error code> <text>          instead of READY when it cannot start
 *   parent: PROCESS <raw id>                   (several may be waiting: taken together)
 *   child:  DONE <raw id> <unparsed 0|1> <report id> <classification> <code or ->
 *                                              once committed, in the order asked
 *   parent: VERIFY <raw id>                    (after a crash: inbound_repair_attachments)
 *   child:  VERIFIED <raw id> <attachments written again>
 *           FAIL <raw id> <error code> <text>  the database or the configuration failed: the
 *                                              message stays "fetched" and is tried again
 *
 * PAHT_TEST_FAULT (tests only, like PAHT_NOW; never set it in production) makes the child
 * misbehave on purpose, for a message whose Subject header contains TEXT:
 *   hang-on-subject:TEXT    it sleeps forever (the time limit must end it)
 *   crash-on-subject:TEXT   it aborts (SIGABRT)
 *   garble-on-subject:TEXT  it answers a line that is not the protocol, without processing
 *   start-gate:FIFO         it opens FIFO for reading before anything else, so it starts only
 *                           when the test opens FIFO for writing
 *   hold-on-subject:TEXT    with hold-gate:FIFO: it opens FIFO for reading before it begins
 *                           the message, which waits until the test opens FIFO for writing
 * Several faults may be given, separated by commas (mailbox.c reads some of its own). Unset,
 * nothing of this runs.
 */
#include "gateway/gateway_private.h"
#include "parse/parse.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* How much address space the parser may take beyond what it has once started (libraries and
 * the store: about 70 MB). Real mail needs far less (text is cut at 8 MB, a TNEF attachment
 * is read up to 64 MB, everything else is streamed to disk); a message built to exhaust
 * memory makes the child fail its allocation and die alone, and the message is kept aside,
 * instead of taking the host down. (systemd's MemoryMax= bounds pahtd and its child
 * together; this bounds the child, which reads what strangers send.) */
#define PARSER_ADDRESS_SPACE_HEADROOM (512 * 1024 * 1024)

/* the child's end of the socket, as the child sees it */
#define WORKER_FD 3
/* how long a new child may take to open the store and say READY */
#define WORKER_START_SECONDS 30
/* how long a child asked to leave may take before it is killed */
#define WORKER_EXIT_SECONDS 5
/* no protocol line is longer (error texts are cut) */
#define WORKER_LINE_MAX 4096
/* a parser's process name (at most 15 bytes): what top and ps show for it */
#define WORKER_PROCESS_NAME "pahtd-parser"
/* a parser's note of the message it took: its id and the attempts it had (taken_path),
 * zero-padded so that each note overwrites the last whole */
#define WORKER_TAKEN_FORMAT "%020" G_GINT64_FORMAT " %010d\n"
#define WORKER_TAKEN_LENGTH 32
/* A parser takes the messages already waiting in its queue together, up to this many and,
 * past the first, while their raw mail stays under PARSER_BATCH_BYTES (memory stays flat:
 * their drafts are held until the commit): each is parsed outside any transaction, and all
 * are committed in one. A mail's commit rewrote the same last pages of some 30 indexes, 51
 * pages to the WAL, which the next mail wrote again (issue 18); in one transaction they are
 * written once. A message alone in the queue is processed at once, as before. */
#define PARSER_BATCH_MAX   8
#define PARSER_BATCH_BYTES (1024 * 1024)

struct Worker {
    pid_t pid;
    int fd;
    gboolean ready;        /* it said READY (worker_await_ready) */
    gint64 ready_deadline; /* ... or must have by then (monotonic microseconds) */
    GString *input;        /* bytes read and not yet a whole line */
    GArray *queue;         /* gint64: the raw ids submitted and not yet answered, oldest first */
    gint64 deadline;       /* of the one in the child's hands (monotonic microseconds) */
    gint64 clock_for;      /* ... which is this one, as far as pahtd knows (worker_moved_on) */
};

/* ---- lines over the socket ---------------------------------------------------------------- */

static gboolean write_line(int fd, const char *line)
{
    gsize len = strlen(line), done = 0;
    while (done < len) {
        /* MSG_NOSIGNAL: a dead peer is an error here, not a SIGPIPE */
        ssize_t n = send(fd, line + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        done += (gsize)n;
    }
    return TRUE;
}

/* one protocol line: the text with every control character (a newline in an error message)
 * made a space, and cut to fit */
static char *protocol_text(const char *text)
{
    g_autofree char *valid = g_utf8_make_valid(text ? text : "", -1);
    char *clean = text_header_sanitize(valid);
    if (strlen(clean) > WORKER_LINE_MAX / 2)
        clean[WORKER_LINE_MAX / 2] = '\0';
    return clean;
}

typedef enum {
    READ_LINE,
    READ_EOF,     /* the other side closed (or died) */
    READ_TIMEOUT, /* the deadline passed */
} ReadOutcome;

/* Reads one line (without its newline) into *line. deadline: monotonic microseconds, or 0 for
 * none. gw (may be NULL) gets its watchdog pinged while waiting. */
static ReadOutcome read_line(int fd, GString *input, gint64 deadline, Gateway *gw, char **line)
{
    for (;;) {
        char *nl = memchr(input->str, '\n', input->len);
        if (nl) {
            gsize len = (gsize)(nl - input->str);
            *line = g_strndup(input->str, len);
            g_string_erase(input, 0, (gssize)len + 1);
            return READ_LINE;
        }
        if (input->len > WORKER_LINE_MAX)
            return READ_EOF; /* not our protocol: treat the peer as gone */
        /* What the peer sent counts however late it is read: the parent may come for the
         * answer long after the deadline (a slow download), and the time limit is for a child
         * that has not answered, never for one waiting to be heard. */
        gboolean expired = FALSE;
        int wait_ms = -1;
        if (deadline > 0) {
            gint64 left = deadline - g_get_monotonic_time();
            expired = left <= 0;
            wait_ms = expired ? 0 : (int)MIN(left / 1000 + 1, 1000);
        } else if (gw) {
            wait_ms = 1000;
        }
        if (gw)
            gateway_keepalive(gw);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, wait_ms);
        if (n < 0 && errno != EINTR)
            return READ_EOF;
        if (n == 0 && expired)
            return READ_TIMEOUT;
        if (n <= 0)
            continue;
        char buf[1024];
        ssize_t got = read(fd, buf, sizeof buf);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0)
            return READ_EOF;
        g_string_append_len(input, buf, got);
    }
}

/* ---- the parent's side -------------------------------------------------------------------- */

static void worker_free(Worker *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    g_string_free(w->input, TRUE);
    g_array_unref(w->queue);
    g_free(w);
}

/* waits for the child to exit, at most seconds; then kills it. Returns its wait status.
 * A pidfd says the moment it exits: polling waitpid() every 10 ms added 5 ms on average to
 * every stop, and every pahtd --once stops its child. */
static int reap(pid_t pid, int seconds)
{
    int status = 0;
    gint64 deadline = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;
    int pidfd = pidfd_open(pid, 0);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) {
            if (pidfd >= 0)
                close(pidfd);
            return status;
        }
        gint64 left = deadline - g_get_monotonic_time();
        if (left <= 0)
            break;
        if (pidfd >= 0) {
            struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
            poll(&pfd, 1, (int)MIN(left / 1000 + 1, 1000));
        } else {
            g_usleep(MIN(left, 10 * 1000)); /* no pidfd (a kernel before 5.3) */
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

/* ends one parser process (it finishes nothing) */
static void worker_stop_one(Worker **slot)
{
    Worker *w = *slot;
    if (!w)
        return;
    *slot = NULL;
    /* end of input: the child leaves its loop and exits (worker_stop may have told it so) */
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    reap(w->pid, WORKER_EXIT_SECONDS);
    worker_free(w);
}

void worker_stop(Gateway *gw)
{
    /* each is told to leave first, so that they exit together */
    for (int i = 0; i < PARSER_PROCESSES_MAX; i++) {
        if (gw->workers[i] && gw->workers[i]->fd >= 0) {
            close(gw->workers[i]->fd);
            gw->workers[i]->fd = -1;
        }
    }
    for (int i = 0; i < PARSER_PROCESSES_MAX; i++)
        worker_stop_one(&gw->workers[i]);
}

/* the child died or was killed: collect it, and say how it ended */
static char *worker_lost(Gateway *gw, Worker **slot, gboolean kill_first)
{
    Worker *w = *slot;
    *slot = NULL;
    if (kill_first)
        kill(w->pid, SIGKILL);
    int status = reap(w->pid, kill_first ? 0 : WORKER_EXIT_SECONDS);
    worker_free(w);
    gateway_remove_dead_work(gw);
    if (WIFSIGNALED(status))
        return g_strdup_printf("signal %d, %s", WTERMSIG(status), g_strsignal(WTERMSIG(status)));
    return g_strdup_printf("exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* The parser process reads hostile mail: it gets only the environment it needs (issue
 * 11.13), never what pahtd was given besides, PAHT_IMAP_PASSWORD and PAHT_SMTP_PASSWORD
 * above all. The names it keeps: */
static const char *const worker_environment[] = {
    /* the clock, logging, the tests' faults, log lines in journald's form */
    "PAHT_NOW", "PAHT_LOG_LEVEL", "PAHT_TEST_FAULT", "JOURNAL_STREAM",
    /* time zone and locale (iconv, GMime), SQLite's temporary files */
    "TZ", "LANG", "LANGUAGE", "LC_*", "TMPDIR",
    /* debugging builds */
    "G_DEBUG", "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"};

static gboolean worker_keeps(const char *entry)
{
    const char *eq = strchr(entry, '=');
    if (!eq)
        return FALSE;
    gsize len = (gsize)(eq - entry);
    for (gsize i = 0; i < G_N_ELEMENTS(worker_environment); i++) {
        const char *name = worker_environment[i];
        gsize n = strlen(name);
        if (name[n - 1] == '*' ? len >= n && strncmp(entry, name, n - 1) == 0
                               : len == n && strncmp(entry, name, n) == 0)
            return TRUE;
    }
    return FALSE;
}

/* the environment of a new parser process: ours, filtered (the strings are borrowed) */
static const char **worker_environ(void)
{
    GPtrArray *kept = g_ptr_array_new();
    for (char **e = environ; e && *e; e++) {
        if (worker_keeps(*e))
            g_ptr_array_add(kept, *e);
    }
    g_ptr_array_add(kept, NULL);
    return (const char **)g_ptr_array_free(kept, FALSE);
}

/* Starts a parser process and returns at once: it loads its libraries and opens the store
 * while the daemon connects to the mailbox (worker_await_ready waits for its READY when the
 * first message needs it, or at the end of the cycle). */
static gboolean worker_spawn(Gateway *gw, Worker **slot, GError **error)
{
    const Config *c = gw->config;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot create a socket pair: %s",
                    g_strerror(errno));
        return FALSE;
    }
    /* everything the child needs is prepared before fork(): between fork() and exec() only
     * async-signal-safe calls are allowed */
    /* the configuration is the one pahtd runs with, as it read it, and the keyword lists the
     * copy it checked (gateway.c): not the files on disk now, which an administrator may be
     * editing (a parser started after an edit, for a second sender or after a crash, would
     * otherwise stop at a typo pahtd itself had not accepted) */
    if (!gw->config_snapshot) {
        g_autofree char *path = g_build_filename(gw->tmp_dir, "paht.conf.running", NULL);
        if (!config_write_snapshot(c, path, error))
            return FALSE;
        gw->config_snapshot = g_steal_pointer(&path);
    }
    char slot_text[16];
    g_snprintf(slot_text, sizeof slot_text, "%d", (int)(slot - gw->workers));
    char *argv[] = {(char *)"pahtd",
                    (char *)"--worker",
                    (char *)"-c",
                    c->file,
                    (char *)"--config-snapshot",
                    gw->config_snapshot,
                    (char *)"--keywords",
                    gw->keywords_copy ? gw->keywords_copy : (char *)"",
                    (char *)"--parser-slot",
                    slot_text,
                    NULL};
    g_autofree const char **envp = worker_environ();
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(sv[0]);
        close(sv[1]);
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot start the parser process: %s",
                    g_strerror(saved));
        return FALSE;
    }
    if (pid == 0) {
        if (sv[1] == WORKER_FD ? fcntl(WORKER_FD, F_SETFD, 0) < 0 /* dup2 would keep CLOEXEC */
                               : dup2(sv[1], WORKER_FD) < 0)
            _exit(127);
        /* nothing else of ours goes along: no IMAP socket, no database, no lock */
        if (close_range(WORKER_FD + 1, ~0U, 0) != 0) {
            for (int fd = WORKER_FD + 1; fd < 1024; fd++)
                close(fd);
        }
        struct sigaction ignore = {.sa_handler = SIG_IGN};
        sigaction(SIGTERM, &ignore, NULL);
        sigaction(SIGINT, &ignore, NULL);
        sigaction(SIGHUP, &ignore, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127); /* the parent died before PR_SET_PDEATHSIG took effect */
        execve("/proc/self/exe", argv, (char **)envp);
        _exit(127);
    }
    close(sv[1]);
    Worker *w = g_new0(Worker, 1);
    w->pid = pid;
    w->fd = sv[0];
    w->input = g_string_new(NULL);
    w->queue = g_array_new(FALSE, FALSE, sizeof(gint64));
    w->ready_deadline = g_get_monotonic_time() + WORKER_START_SECONDS * G_USEC_PER_SEC;
    *slot = w;
    return TRUE;
}

/* waits for the new child's first line: READY, or why it cannot start (then it is gone) */
static gboolean worker_await_ready(Gateway *gw, Worker **slot, GError **error)
{
    const Config *c = gw->config;
    Worker *w = *slot;
    g_autofree char *line = NULL;
    ReadOutcome got = read_line(w->fd, w->input, w->ready_deadline, gw, &line);
    if (got == READ_LINE && g_str_has_prefix(line, "READY ")) {
        if (!g_str_equal(line + 6, c->gateway.database)) {
            /* never, while it reads pahtd's snapshot: it would write elsewhere */
            worker_stop_one(slot);
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "the parser process would use the database %s, not pahtd's %s; restart "
                        "pahtd",
                        line + 6, c->gateway.database);
            return FALSE;
        }
        w->ready = TRUE;
        log_info("parser process %d ready", (int)w->pid);
        return TRUE;
    }
    if (got == READ_LINE && g_str_has_prefix(line, "ERROR ")) {
        char *end = NULL;
        long code = strtol(line + 6, &end, 10);
        worker_stop_one(slot);
        g_set_error(error, PAHT_ERROR,
                    code >= 0 && code <= PAHT_ERROR_NOT_FOUND ? (int)code : PAHT_ERROR_TEMPORARY,
                    "the parser process cannot start: %s", end && *end ? end + 1 : line);
        return FALSE;
    }
    g_autofree char *how = worker_lost(gw, slot, got == READ_TIMEOUT);
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "the parser process did not start (%s)",
                how);
    return FALSE;
}

/* a parser process that has said READY: the one there, or a new one */
static gboolean worker_ensure(Gateway *gw, Worker **slot, GError **error)
{
    if (!*slot && !worker_spawn(gw, slot, error))
        return FALSE;
    return (*slot)->ready || worker_await_ready(gw, slot, error);
}

/* the parser processes the configuration asks for ([gateway] parser_processes) */
static int worker_count(const Gateway *gw)
{
    return CLAMP(gw->config->gateway.parser_processes, 1, PARSER_PROCESSES_MAX);
}

void worker_prepare(Gateway *gw)
{
    for (int i = 0; i < worker_count(gw); i++) {
        if (gw->workers[i])
            continue;
        GError *error = NULL;
        if (!worker_spawn(gw, &gw->workers[i], &error)) {
            log_error("%s", error->message);
            g_error_free(error);
            return;
        }
    }
}

void worker_settle(Gateway *gw)
{
    for (int i = 0; i < PARSER_PROCESSES_MAX; i++) {
        if (!gw->workers[i] || gw->workers[i]->ready)
            continue;
        GError *error = NULL;
        if (!worker_await_ready(gw, &gw->workers[i], &error)) {
            log_error("%s", error->message);
            g_error_free(error);
        }
    }
}

/* The worker did not answer for this message: unless it managed to commit first, the message
 * is kept aside with the reason. */
static gboolean settle_lost_message(Gateway *gw, gint64 raw_id, const char *why, IngestResult *out,
                                    GError **error)
{
    g_autoptr(RawMessage) now = raw_message_get(gw->store, raw_id, error);
    if (!now)
        return FALSE;
    out->raw_id = raw_id;
    if (raw_message_is_done(now)) {
        out->report_id = now->report_id;
        out->classification =
            g_strdup(now->classification ? now->classification : CLASSIFICATION_REPORT);
        return TRUE;
    }
    log_warning("message %" G_GINT64_FORMAT " is kept aside: %s", raw_id, why);
    if (!raw_message_set_state(gw->store, raw_id, RAW_UNPARSED, why, error))
        return FALSE;
    out->unparsed = TRUE;
    out->classification = g_strdup(CLASSIFICATION_UNPARSED);
    return TRUE;
}

/* "DONE id unparsed report_id classification code" */
static gboolean parse_done(const char *line, gint64 raw_id, IngestResult *out)
{
    g_auto(GStrv) f = g_strsplit(line, " ", 7);
    if (g_strv_length(f) != 6 || g_ascii_strtoll(f[1], NULL, 10) != raw_id)
        return FALSE;
    out->raw_id = raw_id;
    out->unparsed = g_str_equal(f[2], "1");
    out->report_id = g_ascii_strtoll(f[3], NULL, 10);
    out->classification = g_strdup(f[4]);
    out->code = g_str_equal(f[5], "-") ? NULL : g_strdup(f[5]);
    return TRUE;
}

static void worker_start_clock(Gateway *gw, Worker *w, gint64 raw_id)
{
    w->deadline = g_get_monotonic_time() +
                  (gint64)gw->config->gateway.message_timeout_seconds * G_USEC_PER_SEC;
    w->clock_for = raw_id;
}

/* the oldest message has its answer: the next one is the child's now */
static void worker_answered(Gateway *gw, Worker *w)
{
    g_array_remove_index(w->queue, 0);
    if (w->queue->len > 0)
        worker_start_clock(gw, w, g_array_index(w->queue, gint64, 0));
}

static gboolean submit_to(Gateway *gw, Worker **slot, gint64 raw_id, GError **error);

/* The child was lost on the message it had in hand; the others of its queue it had not begun
 * or not committed (it takes several together, and commits them at once): they go to a new
 * child in the same place, in the same order (a message is collected from the head of its
 * own parser's queue). One that cannot be given (no child starts) is not the parser's any
 * more: its collect fails, and the message, still "fetched", is taken again by the next pass. */
static void worker_give_again(Gateway *gw, Worker **slot, GArray *behind)
{
    if (behind->len > 0)
        log_notice("%u other message(s) of its queue given to a new parser process", behind->len);
    for (guint i = 0; i < behind->len; i++) {
        GError *e = NULL;
        if (!submit_to(gw, slot, g_array_index(behind, gint64, i), &e)) {
            log_warning("%s; %u messages wait for the next pass", e->message, behind->len - i);
            g_error_free(e);
            return;
        }
    }
}

static gboolean submit_to(Gateway *gw, Worker **slot, gint64 raw_id, GError **error)
{
    g_autofree char *request = g_strdup_printf("PROCESS %" G_GINT64_FORMAT "\n", raw_id);
    for (int attempt = 0;; attempt++) {
        if (!worker_ensure(gw, slot, error))
            return FALSE;
        if (write_line((*slot)->fd, request))
            break;
        if ((*slot)->queue->len > 0) {
            /* it died on the message in its hands: collecting that one finds out, and gives
             * this one with the others behind it to a new child (worker_give_again) */
            g_array_append_val((*slot)->queue, raw_id);
            return TRUE;
        }
        /* it died while waiting for work (killed from outside): a new one takes the message */
        g_autofree char *how = worker_lost(gw, slot, TRUE);
        if (attempt > 0) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY,
                        "the parser process keeps dying before it gets work (%s)", how);
            return FALSE;
        }
        log_warning("the idle parser process was gone (%s); starting another", how);
    }
    /* the child commits without syncing (group commit): the next gateway_make_durable must */
    gw->unsynced = TRUE;
    /* the time limit of the message the child takes first runs from here until it answers
     * (read_line), whatever the daemon does meanwhile; a message queued behind others gets
     * its own when the one before it is answered */
    if ((*slot)->queue->len == 0)
        worker_start_clock(gw, *slot, raw_id);
    g_array_append_val((*slot)->queue, raw_id);
    log_debug("message %" G_GINT64_FORMAT " given to parser process %d (%u in its queue)", raw_id,
              (int)(*slot)->pid, (*slot)->queue->len);
    return TRUE;
}

/* The head of a message read for one of its fields: the fields read here (From, and the tests'
 * Subject) come after the trace fields (Received, DKIM, ARC), which in real mail stay far
 * below this */
#define RAW_HEAD_BYTES (64 * 1024)

/* the first field called name in the head of the raw file at path (mail_header_find); NULL
 * when there is none or the file cannot be read */
static char *raw_file_field(const char *path, const char *name)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    g_autofree char *head = g_malloc(RAW_HEAD_BYTES);
    ssize_t n;
    do
        n = read(fd, head, RAW_HEAD_BYTES);
    while (n < 0 && errno == EINTR);
    close(fd);
    return n > 0 ? mail_header_find(head, (gsize)n, name) : NULL;
}

/* The sender of the message in the file at path, as the parser will read it (GMime, the first
 * mailbox of From), case folded; NULL when there is none or the file cannot be read. */
static char *raw_file_sender(const char *path)
{
    g_autofree char *from = raw_file_field(path, "From");
    if (!from)
        return NULL;
    parse_init(); /* GMime, here in the daemon as in the parser */
    g_autofree char *address = quarantine_sender_address(from);
    return address ? g_utf8_strdown(address, -1) : NULL;
}

/* With several parser processes, all the mail of one sender goes to the same one, which takes
 * its queue in order. So a citizen's second mail (the photo forgotten, an answer to their own
 * first mail: queue/reply.c) finds the report the first one made, as with one parser, and the
 * same mail given twice is seen as such; mail of different senders does not depend on each
 * other's order. The oldest message of all is still at the head of its parser's queue, where
 * collecting (in the order submitted) looks for it, and a crash or a time limit is pinned on
 * the one message its parser had in hand. */
int worker_slot_of(const Gateway *gw, const char *raw_path)
{
    int n = worker_count(gw);
    if (n == 1 || !raw_path)
        return 0;
    g_autofree char *sender = raw_file_sender(raw_path);
    return sender ? (int)(g_str_hash(sender) % (guint)n) : 0;
}

/* The note of the message parser process N took last: data_dir/parser-N.taken, its id and
 * the attempts it had then. A parser writes it (no sync) before it begins each message, so
 * that a pahtd killed meanwhile (kill -9, the OOM killer) finds, at its next start, the
 * message that was in a parser's hands and charges that one an attempt, and no other: a
 * message only queued, or one whose parser was still starting, was never begun. (Before, the
 * oldest unfinished message of each parser's share was charged, begun or not: pahtd killed
 * again and again during start-up set innocent mail aside.)
 * A parser done with a message, well or not, notes that it has none in hand: a message given
 * back cleanly (a busy database) is tried again without a charge. So does pahtd for a parser
 * it ends itself at a stop (worker_abandon): the message it had was not at fault.
 * The charge brings the message's attempts to one more than the note says (never adds one
 * more), so the same note read again (pahtd killed again before a parser took anything, a
 * first pass that failed and is run again) charges that crash once, and pahtd never clears a
 * note: cleared before the charge was committed, a kill in between lost the charge. The notes
 * are read once a process, before any parser of its own writes one. The note is not synced:
 * after a power cut it may be lost or older than the database, and then no message is
 * charged, or one that was not in hand. */
static char *taken_path(const char *data_dir, int slot)
{
    g_autofree char *name = g_strdup_printf("parser-%d.taken", slot);
    return g_build_filename(data_dir, name, NULL);
}

/* notes, in the open parser-N.taken, that its parser takes message id, which had attempts;
 * id 0: it has none in hand */
static void note_taken(int taken, gint64 id, int attempts)
{
    if (taken < 0)
        return;
    char text[WORKER_TAKEN_LENGTH + 1];
    g_snprintf(text, sizeof text, WORKER_TAKEN_FORMAT, id, attempts);
    if (pwrite(taken, text, WORKER_TAKEN_LENGTH, 0) != WORKER_TAKEN_LENGTH)
        log_warning("cannot note a parser's message in hand: %s", g_strerror(errno));
}

/* parser process slot's note: TRUE with the message it names, FALSE when there is none (no
 * file, or no message in hand); *written (may be NULL): when it was written (real time,
 * microseconds) */
static gboolean read_note(const char *data_dir, int slot, TakenNote *note, gint64 *written)
{
    g_autofree char *path = taken_path(data_dir, slot);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return FALSE;
    char text[WORKER_TAKEN_LENGTH + 1] = {0};
    ssize_t n = pread(fd, text, WORKER_TAKEN_LENGTH, 0);
    struct stat st;
    if (written)
        *written = fstat(fd, &st) == 0
                       ? (gint64)st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000
                       : g_get_real_time();
    close(fd);
    char *end = NULL;
    gint64 id = n > 0 ? g_ascii_strtoll(text, &end, 10) : 0;
    /* a note without the attempts (an older pahtd's) charges nothing */
    if (id <= 0 || !end || *end != ' ')
        return FALSE;
    gint64 attempts = g_ascii_strtoll(end + 1, &end, 10);
    if (*end != '\n' || attempts < 1 || attempts > G_MAXINT)
        return FALSE;
    *note = (TakenNote){.id = id, .attempts = (int)attempts};
    return TRUE;
}

void worker_read_taken(Gateway *gw)
{
    if (gw->taken_read)
        return;
    gw->taken_read = TRUE;
    /* the Gateway is zeroed: a slot without a note keeps no message */
    for (int i = 0; i < PARSER_PROCESSES_MAX; i++)
        read_note(gw->config->gateway.data_dir, i, &gw->in_hand_at_crash[i], NULL);
}

int worker_taken_with(const Gateway *gw, const RawMessage *raw)
{
    int attempts = 0;
    for (int i = 0; i < PARSER_PROCESSES_MAX; i++) {
        if (gw->in_hand_at_crash[i].id == raw->id)
            attempts = MAX(attempts, gw->in_hand_at_crash[i].attempts);
    }
    return attempts;
}

gboolean worker_submit(Gateway *gw, const RawMessage *raw, GError **error)
{
    return submit_to(gw, &gw->workers[worker_slot_of(gw, raw->path)], raw->id, error);
}

void worker_abandon(Gateway *gw)
{
    /* set aside and recorded so: the next start moves them */
    g_clear_pointer(&gw->settled, g_hash_table_unref);
    for (int i = 0; i < PARSER_PROCESSES_MAX; i++) {
        if (!gw->workers[i] || gw->workers[i]->queue->len == 0)
            continue;
        log_info("stopping: %u message(s) queued for the parser are left for the next start",
                 gw->workers[i]->queue->len);
        g_free(worker_lost(gw, &gw->workers[i], TRUE));
        /* ended (and reaped) by us, not by its message: none of them is charged an attempt */
        g_autofree char *path = taken_path(gw->config->gateway.data_dir, i);
        int taken = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        note_taken(taken, 0, 0);
        if (taken >= 0)
            close(taken);
    }
}

/* the parser whose queue begins with raw_id, or NULL */
static Worker **holder_of(Gateway *gw, gint64 raw_id)
{
    for (int i = 0; i < PARSER_PROCESSES_MAX; i++) {
        Worker *w = gw->workers[i];
        if (w && w->queue->len > 0 && g_array_index(w->queue, gint64, 0) == raw_id)
            return &gw->workers[i];
    }
    return NULL;
}

gboolean worker_has_answer(Gateway *gw, gint64 raw_id)
{
    if (gw->settled && g_hash_table_contains(gw->settled, &raw_id))
        return TRUE;
    Worker **slot = holder_of(gw, raw_id);
    if (!slot)
        return FALSE;
    Worker *w = *slot;
    if (memchr(w->input->str, '\n', w->input->len))
        return TRUE;
    struct pollfd pfd = {.fd = w->fd, .events = POLLIN};
    return poll(&pfd, 1, 0) > 0;
}

/* A parser that answered raw_id with anything but its protocol spent the message's attempt, as
 * a crash of pahtd would have: after MAX_PROCESSING_ATTEMPTS of them it is kept aside
 * (process_begin), by a pahtd that stays up as across restarts (before, only a restart counted
 * it, through the parser's note, and the daemon tried it again without end, every other
 * message of the pass waiting behind it). Counted with the attempts the parser noted (nothing
 * else changes them meanwhile), the note read at a restart does not count it twice. */
static void charge_garbled(Gateway *gw, gint64 raw_id)
{
    GError *e = NULL;
    g_autoptr(RawMessage) raw = raw_message_get(gw->store, raw_id, &e);
    if (!raw || !raw_message_count_attempt(gw->store, raw_id, raw->attempts, NULL, &e)) {
        log_warning("message %" G_GINT64_FORMAT ": its attempt is not counted: %s", raw_id,
                    e ? e->message : "not found");
        g_clear_error(&e);
    }
}

/* The position in w's queue of the message its parser notes it has in hand (read_note), or
 * -1. A parser takes the messages waiting in its queue together (PARSER_BATCH_MAX), so the
 * one in its hands is not always the oldest unanswered. */
static int noted_in_queue(Gateway *gw, Worker **slot, gint64 *written)
{
    TakenNote note;
    if (!read_note(gw->config->gateway.data_dir, (int)(slot - gw->workers), &note, written))
        return -1;
    for (guint i = 0; i < (*slot)->queue->len; i++) {
        if (g_array_index((*slot)->queue, gint64, i) == note.id)
            return (int)i;
    }
    return -1;
}

/* The time limit ran out: if the parser has another message in hand than the one the clock
 * ran for (it took several together, and is on a later one now), that one's time limit runs
 * from when the parser noted it took it, and TRUE. */
static gboolean worker_moved_on(Gateway *gw, Worker **slot)
{
    gint64 written = 0;
    int at = noted_in_queue(gw, slot, &written);
    gint64 noted = at >= 0 ? g_array_index((*slot)->queue, gint64, at) : 0;
    if (!noted || noted == (*slot)->clock_for)
        return FALSE;
    worker_start_clock(gw, *slot, noted);
    (*slot)->deadline -= CLAMP(g_get_real_time() - written, 0, (*slot)->deadline);
    return TRUE;
}

static void settled_free(gpointer data)
{
    ingest_result_clear(data);
    g_free(data);
}

gboolean worker_collect(Gateway *gw, gint64 raw_id, IngestResult *out, GError **error)
{
    memset(out, 0, sizeof *out);
    IngestResult *settled = gw->settled ? g_hash_table_lookup(gw->settled, &raw_id) : NULL;
    if (settled) {
        /* set aside while the one before it was collected */
        *out = *settled;
        memset(settled, 0, sizeof *settled);
        g_hash_table_remove(gw->settled, &raw_id);
        return TRUE;
    }
    int limit = gw->config->gateway.message_timeout_seconds;
    for (;;) {
        Worker **slot = holder_of(gw, raw_id);
        if (!slot) {
            /* its child was lost and no other could take it (worker_give_again) */
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY,
                        "message %" G_GINT64_FORMAT " is not in the parser process's hands",
                        raw_id);
            return FALSE;
        }
        Worker *w = *slot;
        g_autofree char *line = NULL;
        ReadOutcome got = read_line(w->fd, w->input, w->deadline, gw, &line);
        if (got == READ_LINE && g_str_has_prefix(line, "DONE ") && parse_done(line, raw_id, out)) {
            worker_answered(gw, w);
            return TRUE;
        }
        if (got == READ_LINE && g_str_has_prefix(line, "FAIL ")) {
            worker_answered(gw, w);
            g_auto(GStrv) f = g_strsplit(line, " ", 4);
            int code = g_strv_length(f) == 4 ? atoi(f[2]) : PAHT_ERROR_TEMPORARY;
            if (code == PAHT_ERROR_REFUSED) /* someone else finished it: see what it became */
                return settle_lost_message(gw, raw_id, "processed elsewhere", out, error);
            g_set_error(error, PAHT_ERROR,
                        code >= 0 && code <= PAHT_ERROR_NOT_FOUND ? code : PAHT_ERROR_TEMPORARY,
                        "message %" G_GINT64_FORMAT ": %s", raw_id,
                        g_strv_length(f) == 4 ? f[3] : line);
            return FALSE;
        }
        if (got == READ_TIMEOUT && worker_moved_on(gw, slot))
            continue;
        if (got == READ_LINE) {
            /* not our protocol: the child cannot be trusted with the next message (it answers
             * in order, so the nonsense is raw_id's) */
            g_autoptr(GArray) behind = g_array_new(FALSE, FALSE, sizeof(gint64));
            g_array_append_vals(behind, &g_array_index(w->queue, gint64, 1), w->queue->len - 1);
            g_free(worker_lost(gw, slot, TRUE));
            charge_garbled(gw, raw_id);
            worker_give_again(gw, slot, behind);
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY,
                        "the parser process answered nonsense for message %" G_GINT64_FORMAT,
                        raw_id);
            return FALSE;
        }
        /* lost on the message it had in hand: its note says which, the oldest if none */
        int at = MAX(noted_in_queue(gw, slot, NULL), 0);
        gint64 culprit = g_array_index(w->queue, gint64, at);
        g_autoptr(GArray) others = g_array_new(FALSE, FALSE, sizeof(gint64));
        for (guint i = 0; i < w->queue->len; i++) {
            if ((int)i != at)
                g_array_append_val(others, g_array_index(w->queue, gint64, i));
        }
        g_autofree char *how = worker_lost(gw, slot, got == READ_TIMEOUT);
        g_autofree char *why =
            got == READ_TIMEOUT
                ? g_strdup_printf("processing took longer than %d s (message_timeout_seconds)",
                                  limit)
                : g_strdup_printf("processing crashed (%s)", how);
        if (culprit == raw_id) {
            gboolean ok = settle_lost_message(gw, raw_id, why, out, error);
            worker_give_again(gw, slot, others);
            return ok;
        }
        /* a message taken after raw_id was in hand: it is set aside, to be collected in its
         * turn, and raw_id goes with the others to a new parser (uncommitted, it was not
         * done) */
        log_debug("the parser process was lost on message %" G_GINT64_FORMAT
                  ", behind message %" G_GINT64_FORMAT " of its queue",
                  culprit, raw_id);
        IngestResult *result = g_new0(IngestResult, 1);
        if (!settle_lost_message(gw, culprit, why, result, error)) {
            settled_free(result);
            worker_give_again(gw, slot, others);
            return FALSE;
        }
        if (!gw->settled)
            gw->settled = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, settled_free);
        g_hash_table_insert(gw->settled, g_memdup2(&culprit, sizeof culprit), result);
        worker_give_again(gw, slot, others);
    }
}

gboolean worker_verify(Gateway *gw, gint64 raw_id, GError **error)
{
    Worker **slot = &gw->workers[0];
    g_autofree char *request = g_strdup_printf("VERIFY %" G_GINT64_FORMAT "\n", raw_id);
    if (!worker_ensure(gw, slot, error))
        return FALSE;
    if ((*slot)->queue->len > 0) {
        /* between passes only: the answers of the queued messages would come first */
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY,
                    "message %" G_GINT64_FORMAT ": the parser process is busy", raw_id);
        return FALSE;
    }
    if (!write_line((*slot)->fd, request)) {
        g_autofree char *how = worker_lost(gw, slot, TRUE);
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "the parser process is gone (%s)",
                    how);
        return FALSE;
    }
    gw->unsynced = TRUE;
    gint64 deadline = g_get_monotonic_time() +
                      (gint64)gw->config->gateway.message_timeout_seconds * G_USEC_PER_SEC;
    g_autofree char *line = NULL;
    ReadOutcome got = read_line((*slot)->fd, (*slot)->input, deadline, gw, &line);
    if (got == READ_LINE && g_str_has_prefix(line, "VERIFIED "))
        return TRUE;
    if (got == READ_LINE && g_str_has_prefix(line, "FAIL ")) {
        g_auto(GStrv) f = g_strsplit(line, " ", 4);
        log_warning("message %" G_GINT64_FORMAT ": its attachments could not be checked: %s",
                    raw_id, g_strv_length(f) == 4 ? f[3] : line);
        return TRUE;
    }
    g_autofree char *how = worker_lost(gw, slot, TRUE);
    log_warning("message %" G_GINT64_FORMAT ": the parser process died checking its attachments "
                "(%s); left as it is",
                raw_id, how);
    return TRUE;
}

gboolean worker_process(Gateway *gw, const RawMessage *raw, IngestResult *out, GError **error)
{
    memset(out, 0, sizeof *out);
    return worker_submit(gw, raw, error) && worker_collect(gw, raw->id, out, error);
}

/* ---- the child's side --------------------------------------------------------------------- */

/* PAHT_TEST_FAULT: is a fault of this kind asked for this message? (tests only) */
static gboolean test_fault(const char *kind, const char *path)
{
    g_autofree char *name = g_strconcat(kind, "-on-subject", NULL);
    g_autofree char *marker = gateway_test_fault(name);
    if (!marker || !*marker)
        return FALSE;
    g_autofree char *subject = raw_file_field(path, "Subject");
    return subject && strstr(subject, marker);
}

/* RLIMIT_AS: the address space now plus PARSER_ADDRESS_SPACE_HEADROOM */
static void limit_parser_memory(void)
{
    /* AddressSanitizer reserves terabytes of address space for its shadow memory */
    if (PAHT_UNDER_ASAN)
        return;
    g_autofree char *statm = NULL;
    if (!g_file_get_contents("/proc/self/statm", &statm, NULL, NULL)) {
        log_warning("parser process: cannot read /proc/self/statm: no memory limit");
        return;
    }
    guint64 pages = g_ascii_strtoull(statm, NULL, 10);
    long page = sysconf(_SC_PAGESIZE);
    rlim_t limit =
        (rlim_t)(pages * (guint64)(page > 0 ? page : 4096)) + (rlim_t)PARSER_ADDRESS_SPACE_HEADROOM;
    struct rlimit rl = {limit, limit};
    if (setrlimit(RLIMIT_AS, &rl) != 0)
        log_warning("parser process: cannot limit its memory: %s", g_strerror(errno));
    else
        log_debug("parser process: address space limited to %" G_GUINT64_FORMAT " MB",
                  (guint64)limit / (1024 * 1024));
}

static void child_reply(int fd, const char *format, ...) G_GNUC_PRINTF(2, 3);

static void child_reply(int fd, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *text = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_autofree char *line = g_strconcat(text, "\n", NULL);
    if (!write_line(fd, line))
        _exit(0); /* the parent is gone: nothing left to do */
}

static void child_fail(int fd, gint64 id, const GError *e)
{
    g_autofree char *text = protocol_text(e->message);
    child_reply(fd, "FAIL %" G_GINT64_FORMAT " %d %s", id, e->domain == PAHT_ERROR ? e->code : 0,
                text);
}

/* A message a parser process takes, from its request to its answer */
typedef struct {
    gint64 id;
    RawMessage *raw;
    Draft *draft; /* parsed, to be decided */
    IngestResult result;
    GError *error; /* answered FAIL */
} Taken;

static void taken_clear(Taken *t)
{
    g_clear_pointer(&t->raw, raw_message_free);
    g_clear_pointer(&t->draft, draft_free);
    ingest_result_clear(&t->result);
    g_clear_error(&t->error);
}

/* Takes one message up to its draft (t->draft), or to its end (a message done before, one
 * parse refuses, an error: t->result or t->error). FALSE when the message is to be answered
 * with nonsense (PAHT_TEST_FAULT garble-on-subject), which the caller does in its turn. */
static gboolean child_take(Gateway *gw, int taken, Taken *t)
{
    t->raw = raw_message_get(gw->store, t->id, &t->error);
    if (!t->raw)
        return TRUE;
    if (g_str_equal(t->raw->state, RAW_UNPARSED)) {
        /* kept aside already: by this parser, in a batch that was not committed, before a
         * message behind it in the batch was lost */
        t->result.raw_id = t->id;
        t->result.unparsed = TRUE;
        t->result.classification = g_strdup(CLASSIFICATION_UNPARSED);
        return TRUE;
    }
    if (raw_message_is_done(t->raw)) {
        /* done before (a crash came between the commit and our answer) */
        t->result.raw_id = t->id;
        t->result.report_id = t->raw->report_id;
        t->result.classification =
            g_strdup(t->raw->classification ? t->raw->classification : CLASSIFICATION_REPORT);
        return TRUE;
    }
    note_taken(taken, t->id, t->raw->attempts);
    if (test_fault("hang", t->raw->path)) {
        log_debug("PAHT_TEST_FAULT: hanging on message %" G_GINT64_FORMAT, t->id);
        for (;;)
            pause();
    }
    if (test_fault("hold", t->raw->path)) {
        log_debug("PAHT_TEST_FAULT: holding message %" G_GINT64_FORMAT, t->id);
        g_autofree char *gate = gateway_test_fault("hold-gate");
        gateway_test_gate(gate);
    }
    if (test_fault("crash", t->raw->path)) {
        log_debug("PAHT_TEST_FAULT: crashing on message %" G_GINT64_FORMAT, t->id);
        abort();
    }
    if (test_fault("garble", t->raw->path)) {
        log_debug("PAHT_TEST_FAULT: answering nonsense for message %" G_GINT64_FORMAT, t->id);
        return FALSE;
    }
    gboolean ok = FALSE;
    t->draft = inbound_parse_stage(gw, t->raw, &t->result, &ok, &t->error);
    return TRUE;
}

/* What the drafts of taken[0..n) become, committed in one transaction, each message in a
 * savepoint of its own (one that fails leaves the others), then every message answered in
 * order. Answers come only after the commit: pahtd moves a message out of the inbox on its
 * DONE. */
static void child_commit_and_answer(Gateway *gw, int fd, int taken, Taken *t, int n)
{
    int drafts = 0;
    for (int i = 0; i < n; i++)
        drafts += t[i].draft != NULL;
    GError *failed = NULL; /* the transaction's, for every message in it */
    gboolean outer = drafts > 1 && store_begin(gw->store, &failed);
    for (int i = 0; i < n && !failed; i++) {
        if (!t[i].draft)
            continue;
        /* the note names the message whose part of the transaction is made: a crash or a
         * hang there is its */
        note_taken(taken, t[i].id, t[i].raw->attempts);
        if (!inbound_decide_stage(gw, t[i].raw, t[i].draft, &t[i].result, &t[i].error))
            ingest_result_clear(&t[i].result);
    }
    if (drafts > 0)
        log_debug("parser: %d message(s) committed in one transaction", drafts);
    if (outer && !failed && !store_commit(gw->store, &failed))
        log_warning("%d messages not committed: %s", drafts, failed->message);
    /* done with them, well or not, before pahtd hears of it: a clean failure (a busy
     * database) is tried again, and is not an attempt a crash took */
    note_taken(taken, 0, 0);
    for (int i = 0; i < n; i++) {
        if (failed && t[i].draft && !t[i].error) {
            t[i].error = g_error_copy(failed);
            ingest_result_clear(&t[i].result);
        }
        if (t[i].error) {
            child_fail(fd, t[i].id, t[i].error);
        } else {
            IngestResult *r = &t[i].result;
            if (t[i].draft)
                inbound_log_done(r);
            child_reply(fd, "DONE %" G_GINT64_FORMAT " %d %" G_GINT64_FORMAT " %s %s", t[i].id,
                        r->unparsed ? 1 : 0, r->report_id,
                        r->classification ? r->classification : CLASSIFICATION_UNPARSED,
                        r->code ? r->code : "-");
        }
        taken_clear(&t[i]);
    }
    g_clear_error(&failed);
}

static gint64 child_next_waiting(int fd, GString *input);

/* The messages given[0..n) pahtd sent, taken together, with those it sends while they are
 * parsed (up to PARSER_BATCH_MAX, while under PARSER_BATCH_BYTES): each parsed in turn,
 * outside any transaction, then all committed in one (child_commit_and_answer). */
static void child_process(Gateway *gw, int fd, GString *input, int taken, const gint64 *given,
                          int n)
{
    gint64 ids[PARSER_BATCH_MAX];
    memcpy(ids, given, (gsize)n * sizeof *ids);
    Taken t[PARSER_BATCH_MAX];
    memset(t, 0, sizeof t);
    gint64 bytes = 0;
    for (int i = 0; i < n; i++) {
        t[i].id = ids[i];
        if (!child_take(gw, taken, &t[i])) {
            /* answered in its turn: the ones before it first */
            child_commit_and_answer(gw, fd, taken, t, i);
            note_taken(taken, 0, 0);
            child_reply(fd, "GARBLED %" G_GINT64_FORMAT, ids[i]);
            taken_clear(&t[i]);
            if (i + 1 < n)
                child_process(gw, fd, input, taken, ids + i + 1, n - i - 1);
            return;
        }
        bytes += t[i].raw ? t[i].raw->size : 0;
        if (bytes >= PARSER_BATCH_BYTES) {
            if (i + 1 == n)
                break;
            /* enough held: these first, the rest as a batch of its own */
            child_commit_and_answer(gw, fd, taken, t, i + 1);
            child_process(gw, fd, input, taken, ids + i + 1, n - i - 1);
            return;
        }
        /* what pahtd sent while this one was parsed joins the batch */
        if (i + 1 == n && n < PARSER_BATCH_MAX) {
            gint64 more = child_next_waiting(fd, input);
            if (more > 0)
                ids[n++] = more;
        }
    }
    child_commit_and_answer(gw, fd, taken, t, n);
}

/* The next request, when it is a PROCESS one pahtd has already sent: its id, taken from
 * input; 0 otherwise (nothing is waited for: a message alone in the queue is processed at
 * once). */
static gint64 child_next_waiting(int fd, GString *input)
{
    for (;;) {
        char *nl = memchr(input->str, '\n', input->len);
        if (nl) {
            char *end = NULL;
            gint64 id = g_str_has_prefix(input->str, "PROCESS ")
                            ? g_ascii_strtoll(input->str + 8, &end, 10)
                            : 0;
            if (id <= 0 || end != nl)
                return 0; /* another request: the main loop reads it */
            g_string_erase(input, 0, nl - input->str + 1);
            return id;
        }
        if (input->len > WORKER_LINE_MAX)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 0) <= 0)
            return 0;
        char buf[1024];
        ssize_t got = read(fd, buf, sizeof buf);
        if (got <= 0)
            return 0; /* the main loop finds the end */
        g_string_append_len(input, buf, got);
    }
}

static void child_verify(Gateway *gw, int fd, gint64 id)
{
    GError *error = NULL;
    g_autoptr(RawMessage) raw = raw_message_get(gw->store, id, &error);
    int repaired = 0;
    if (!raw || !inbound_repair_attachments(gw, raw, &repaired, &error)) {
        child_fail(fd, id, error);
        g_error_free(error);
        return;
    }
    child_reply(fd, "VERIFIED %" G_GINT64_FORMAT " %d", id, repaired);
}

int worker_main(const char *config_path, const char *snapshot_path, const char *keywords_path,
                int slot, int fd)
{
    /* the parent decides when we stop (see above) */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    /* started as /proc/self/exe, the process is named "exe" (top, ps -e, the journal's _COMM,
     * perf): say what it is */
    prctl(PR_SET_NAME, WORKER_PROCESS_NAME, 0, 0, 0);

    /* PAHT_TEST_FAULT start-gate:FIFO (tests only): held before anything is read, until the
     * test opens the FIFO for writing */
    g_autofree char *gate = gateway_test_fault("start-gate");
    gateway_test_gate(gate);

    g_autoptr(GError) error = NULL;
    g_autoptr(Config) config =
        snapshot_path ? config_load_snapshot(snapshot_path, CONFIG_LOAD_DEFAULT, &error)
                      : config_load(config_path, CONFIG_LOAD_DEFAULT, &error);
    if (!config) {
        g_autofree char *text = protocol_text(error->message);
        child_reply(fd, "ERROR %d %s", error->code, text);
        return 2;
    }
    log_set_level((LogLevel)config->gateway.log_level);
    if (keywords_path) {
        g_free(config->gateway.keywords_file);
        config->gateway.keywords_file = *keywords_path ? g_strdup(keywords_path) : NULL;
    }
    g_autoptr(Gateway) gw = gateway_open(config, &error);
    if (!gw) {
        g_autofree char *text = protocol_text(error->message);
        child_reply(fd, "ERROR %d %s", error->code, text);
        return error->code == PAHT_ERROR_CONFIG ? 2 : 1;
    }
    /* group commit: this process writes attachments and commits without an fsync each;
     * pahtd syncs them all before the message leaves the inbox or a letter the outbox */
    /* ... and the WAL's checkpoints, which copy every page written since the last one, are
     * run by pahtd's own commits (perf: 2-5 % of this process's time in an ingest) */
    if (!gateway_defer_sync(gw, &error) || !store_checkpoint_elsewhere(gw->store, &error)) {
        g_autofree char *text = protocol_text(error->message);
        child_reply(fd, "ERROR %d %s", error->code, text);
        return 1;
    }
    /* one message after another, each read into memory whole (parse.c) */
    memory_tune(PARSE_IN_MEMORY_MAX);
    limit_parser_memory();
    int taken = -1;
    if (slot >= 0 && slot < PARSER_PROCESSES_MAX) {
        g_autofree char *path = taken_path(config->gateway.data_dir, slot);
        taken = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (taken < 0)
            log_warning("parser process: cannot open %s: %s", path, g_strerror(errno));
    }
    child_reply(fd, "READY %s", config->gateway.database);

    GString *input = g_string_new(NULL);
    for (;;) {
        g_autofree char *line = NULL;
        if (read_line(fd, input, 0, NULL, &line) != READ_LINE)
            break; /* the parent closed the socket (or died) */
        char *end = NULL;
        gboolean verify = g_str_has_prefix(line, "VERIFY ");
        gint64 id = g_str_has_prefix(line, "PROCESS ") || verify
                        ? g_ascii_strtoll(line + (verify ? 7 : 8), &end, 10)
                        : 0;
        if (id <= 0 || !end || *end) {
            log_error("parser process: unexpected request \"%.40s\"", line);
            break;
        }
        if (verify) {
            child_verify(gw, fd, id);
            continue;
        }
        /* the messages already waiting behind it, taken together (PARSER_BATCH_MAX) */
        gint64 ids[PARSER_BATCH_MAX] = {id};
        int n = 1;
        while (n < PARSER_BATCH_MAX && (ids[n] = child_next_waiting(fd, input)) > 0)
            n++;
        child_process(gw, fd, input, taken, ids, n);
    }
    g_string_free(input, TRUE);
    if (taken >= 0)
        close(taken);
    return 0;
}
