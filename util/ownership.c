/* util: who owns the gateway's files, and the secrets among them.
 *
 * The database and every file and folder of data_dir belong to one user, the service user
 * (paht) that runs pahtd (issue 11.4). A file made by anyone else (root, after a
 * "sudo pahtctl ingest") is a folder the daemon later cannot write into: EACCES, and the
 * inbox stalls. So root becomes that user before it opens anything, and the programs check
 * what they find. */
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* a secret is one line: a password, a key. Anything bigger is not the file we were meant to
 * read (a log, a device), and is not read into memory. */
#define SECRET_FILE_MAX (64 * 1024)

/* ---- secrets ------------------------------------------------------------------------------- */

static char *read_open_secret(int fd, const char *path, GError **error)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "cannot read %s: %s", path,
                    g_strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "%s is not a regular file", path);
        return NULL;
    }
    /* SPEC §6: a secret readable by anyone but its owner is refused, not used */
    mode_t mode = st.st_mode & 07777;
    if (mode != 0600 && mode != 0400) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "%s has mode %04o; a secret file must be 0600 or 0400 (chmod 600 %s)", path,
                    (unsigned)mode, path);
        return NULL;
    }
    if (st.st_size > SECRET_FILE_MAX) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "%s is %lld bytes: too big to be a secret (one line is expected)", path,
                    (long long)st.st_size);
        return NULL;
    }
    g_autofree char *content = g_malloc0(SECRET_FILE_MAX + 1);
    gsize used = 0;
    for (;;) {
        ssize_t n = read(fd, content + used, SECRET_FILE_MAX - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "cannot read %s: %s", path,
                        g_strerror(errno));
            return NULL;
        }
        if (n == 0 || (used += (gsize)n) == SECRET_FILE_MAX)
            break;
    }
    content[used] = 0;
    char *line_end = strpbrk(content, "\r\n");
    if (line_end)
        *line_end = 0;
    g_strchomp(content);
    char *secret = g_strdup(content);
    memset(content, 0, SECRET_FILE_MAX); /* no copy of a password left in freed memory */
    if (!*secret) {
        g_free(secret);
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "%s is empty", path);
        return NULL;
    }
    return secret;
}

char *fs_read_secret_file(const char *path, GError **error)
{
    /* the mode is checked on the file that is read (fstat of the open descriptor): a file
     * swapped between a check and the read cannot slip through */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int saved = errno;
        g_set_error(error, PAHT_ERROR, saved == ENOENT ? PAHT_ERROR_NOT_FOUND : PAHT_ERROR_CONFIG,
                    "cannot read %s: %s", path, g_strerror(saved));
        return NULL;
    }
    char *secret = read_open_secret(fd, path, error);
    close(fd);
    return secret;
}

/* ---- owners -------------------------------------------------------------------------------- */

gboolean fs_owner(const char *path, uid_t *uid, char **found)
{
    g_autofree char *at = g_canonicalize_filename(path, NULL);
    for (;;) {
        struct stat st;
        if (stat(at, &st) == 0) {
            *uid = st.st_uid;
            if (found)
                *found = g_steal_pointer(&at);
            return TRUE;
        }
        /* not there, or not visible to us (a user outside a 0700 folder): its folder's
         * owner is who decides */
        if (errno != ENOENT && errno != ENOTDIR && errno != EACCES)
            return FALSE;
        char *parent = g_path_get_dirname(at);
        gboolean top = g_str_equal(parent, at);
        g_free(at);
        at = parent;
        if (top)
            return FALSE;
    }
}

/* the first folder or file in dir, depth levels down at most, that uid does not own */
static char *find_foreign_below(const char *dir, uid_t uid, int depth)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return NULL;
    char *found = NULL;
    const char *name;
    while (!found && (name = g_dir_read_name(d))) {
        g_autofree char *child = g_build_filename(dir, name, NULL);
        struct stat st;
        if (lstat(child, &st) != 0)
            continue;
        if (st.st_uid != uid)
            found = g_steal_pointer(&child);
        else if (S_ISDIR(st.st_mode) && depth > 1)
            found = find_foreign_below(child, uid, depth - 1);
    }
    g_dir_close(d);
    return found;
}

char *fs_find_foreign(const char *root, uid_t uid, int depth)
{
    struct stat st;
    if (stat(root, &st) != 0)
        return NULL;
    if (st.st_uid != uid)
        return g_strdup(root);
    return S_ISDIR(st.st_mode) && depth > 0 ? find_foreign_below(root, uid, depth) : NULL;
}

/* ---- users --------------------------------------------------------------------------------- */

char *user_name_of(uid_t uid)
{
    struct passwd *pw = getpwuid(uid);
    return pw && pw->pw_name && *pw->pw_name ? g_strdup(pw->pw_name)
                                             : g_strdup_printf("%u", (unsigned)uid);
}

static gboolean become_failed(GError **error, const char *what, uid_t uid)
{
    int saved = errno;
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "cannot become user %u (%s): %s",
                (unsigned)uid, what, g_strerror(saved));
    return FALSE;
}

gboolean process_become_user(uid_t uid, GError **error)
{
    if (geteuid() == uid && getuid() == uid)
        return TRUE;
    /* the account's own groups and nothing of root's: initgroups for a known account, none
     * at all for a bare uid (a file chowned to a number) */
    struct passwd *pw = getpwuid(uid);
    gid_t gid = pw ? pw->pw_gid : (gid_t)uid;
    if (pw ? initgroups(pw->pw_name, gid) != 0 : setgroups(0, NULL) != 0)
        return become_failed(error, "groups", uid);
    /* group first: once the uid is not root, the group can no longer be changed */
    if (setresgid(gid, gid, gid) != 0)
        return become_failed(error, "group", uid);
    if (setresuid(uid, uid, uid) != 0)
        return become_failed(error, "user", uid);
    /* for good: there must be no way back to root */
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        errno = EPERM;
        return become_failed(error, "root could be regained", uid);
    }
    return TRUE;
}

char *command_line_quoted(int argc, char **argv)
{
    GString *out = g_string_new(NULL);
    for (int i = 0; i < argc && argv[i]; i++) {
        const char *arg = argv[i];
        gboolean plain = *arg != 0;
        for (const char *p = arg; *p && plain; p++)
            plain = g_ascii_isalnum(*p) || strchr("-_./=:,@+%", *p) || (guchar)*p >= 0x80;
        if (i > 0)
            g_string_append_c(out, ' ');
        if (plain) {
            g_string_append(out, arg);
        } else {
            g_autofree char *quoted = g_shell_quote(arg);
            g_string_append(out, quoted);
        }
    }
    return g_string_free(out, FALSE);
}
