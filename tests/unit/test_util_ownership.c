/* util/ownership.c on real files: secrets read only from private files, the owner of what
 * does not exist yet, folders of another user found, the command for a "sudo -u" hint, and
 * root becoming another user for good (issue 11, items 4 and 13). The parts that need root
 * (chown, setuid) say so when skipped: the suite runs as root. */
#include "util/util.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534

typedef struct {
    char *dir;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("paht-owner-XXXXXX", NULL);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    fs_remove_tree(f->dir);
    g_free(f->dir);
}

static char *file_in(Fixture *f, const char *name, const char *content, int mode)
{
    char *path = g_build_filename(f->dir, name, NULL);
    g_assert_true(g_file_set_contents(path, content, -1, NULL));
    g_assert_cmpint(g_chmod(path, mode), ==, 0);
    return path;
}

static gboolean root_or_skip(void)
{
    if (geteuid() == 0)
        return TRUE;
    g_test_skip("needs root (chown, setuid): run the suite as root, as tools/test.sh does");
    return FALSE;
}

static void test_secret_read_only_from_a_private_file(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    g_autofree char *ok = file_in(f, "ok.secret", "s3cret  \nsecond line\n", 0600);
    g_autofree char *secret = fs_read_secret_file(ok, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(secret, ==, "s3cret");
    g_autofree char *ro = file_in(f, "ro.secret", "k3y", 0400);
    g_autofree char *key = fs_read_secret_file(ro, &error);
    g_assert_cmpstr(key, ==, "k3y");

    static const int refused_modes[] = {0644, 0640, 0604, 0660, 0700};
    for (gsize i = 0; i < G_N_ELEMENTS(refused_modes); i++) {
        g_autofree char *path = file_in(f, "open.secret", "s3cret\n", refused_modes[i]);
        g_assert_null(fs_read_secret_file(path, &error));
        g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
        g_autofree char *mode = g_strdup_printf("has mode %04o", refused_modes[i]);
        g_assert_nonnull(strstr(error->message, mode));
        g_assert_nonnull(strstr(error->message, "chmod 600"));
        g_clear_error(&error);
    }
}

static void test_secret_refuses_what_is_not_one(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    g_autofree char *missing = g_build_filename(f->dir, "missing.secret", NULL);
    g_assert_null(fs_read_secret_file(missing, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND);
    g_clear_error(&error);

    g_autofree char *empty = file_in(f, "empty.secret", " \n", 0600);
    g_assert_null(fs_read_secret_file(empty, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, "is empty"));
    g_clear_error(&error);

    /* a FIFO would block a reader for ever: refused at once */
    g_autofree char *fifo = g_build_filename(f->dir, "fifo.secret", NULL);
    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    g_assert_null(fs_read_secret_file(fifo, &error));
    g_assert_nonnull(strstr(error->message, "not a regular file"));
    g_clear_error(&error);

    g_autofree char *big_text = g_strnfill(100 * 1024, 'k');
    g_autofree char *big = file_in(f, "big.secret", big_text, 0600);
    g_assert_null(fs_read_secret_file(big, &error));
    g_assert_nonnull(strstr(error->message, "too big to be a secret"));
    g_clear_error(&error);
}

static void test_owner_of_what_does_not_exist_yet(Fixture *f, gconstpointer data)
{
    g_autofree char *deep = g_build_filename(f->dir, "state", "db", "paht.db", NULL);
    uid_t uid = 12345;
    g_autofree char *found = NULL;
    g_assert_true(fs_owner(deep, &uid, &found));
    g_assert_cmpuint(uid, ==, geteuid());
    g_autofree char *canonical = g_canonicalize_filename(f->dir, NULL);
    g_assert_cmpstr(found, ==, canonical);
}

static void test_foreign_folder_found_within_depth(Fixture *f, gconstpointer data)
{
    g_autofree char *att = g_build_filename(f->dir, "att", NULL);
    g_autofree char *ab = g_build_filename(att, "ab", NULL);
    g_autofree char *deeper = g_build_filename(ab, "cd", NULL);
    g_assert_cmpint(g_mkdir_with_parents(deeper, 0700), ==, 0);
    g_assert_null(fs_find_foreign(f->dir, geteuid(), 2));
    g_autofree char *root_itself = fs_find_foreign(f->dir, geteuid() + 1, 2);
    g_assert_cmpstr(root_itself, ==, f->dir);
    if (!root_or_skip())
        return;
    g_assert_cmpint(chown(deeper, NOBODY, NOBODY), ==, 0);
    g_assert_null(fs_find_foreign(f->dir, geteuid(), 2)); /* three levels down: not looked at */
    g_assert_cmpint(chown(ab, NOBODY, NOBODY), ==, 0);
    g_autofree char *found = fs_find_foreign(f->dir, geteuid(), 2);
    g_assert_cmpstr(found, ==, ab);
}

static void test_command_line_quoted_for_a_shell(Fixture *f, gconstpointer data)
{
    char *argv[] = {"/usr/bin/pahtctl",
                    "-c",
                    "/etc/paht/paht.conf",
                    "reject",
                    "PAHT-2026-000123",
                    "--reason",
                    "spam",
                    "--note",
                    "Nguyễn; rm -rf / 'x'",
                    "",
                    NULL};
    g_autofree char *line = command_line_quoted(G_N_ELEMENTS(argv) - 1, argv);
    g_assert_cmpstr(line, ==,
                    "/usr/bin/pahtctl -c /etc/paht/paht.conf reject PAHT-2026-000123 --reason spam "
                    "--note 'Nguyễn; rm -rf / '\\''x'\\''' ''");
}

static void test_root_becomes_another_user_for_good(Fixture *f, gconstpointer data)
{
    if (!root_or_skip())
        return;
    pid_t pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        GError *error = NULL;
        if (!process_become_user(NOBODY, &error))
            _exit(1);
        if (getuid() != NOBODY || geteuid() != NOBODY || getgid() != NOBODY || getegid() != NOBODY)
            _exit(2);
        gid_t groups[64];
        int n = getgroups(G_N_ELEMENTS(groups), groups);
        for (int i = 0; i < n; i++) {
            if (groups[i] == 0)
                _exit(3); /* root's group kept */
        }
        if (setuid(0) == 0 || seteuid(0) == 0)
            _exit(4);
        /* what it makes is the user's */
        g_autofree char *made = g_build_filename(g_get_tmp_dir(), "paht-owner-made-XXXXXX", NULL);
        if (!g_mkdtemp_full(made, 0700))
            _exit(5);
        struct stat st;
        int ok = stat(made, &st) == 0 && st.st_uid == NOBODY;
        rmdir(made);
        _exit(ok ? 0 : 6);
    }
    int status = 0;
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn)                                                                              \
    g_test_add("/ownership/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("secret-read-only-from-a-private-file", test_secret_read_only_from_a_private_file);
    ADD("secret-refuses-what-is-not-one", test_secret_refuses_what_is_not_one);
    ADD("owner-of-what-does-not-exist-yet", test_owner_of_what_does_not_exist_yet);
    ADD("foreign-folder-found-within-depth", test_foreign_folder_found_within_depth);
    ADD("command-line-quoted-for-a-shell", test_command_line_quoted_for_a_shell);
    ADD("root-becomes-another-user-for-good", test_root_becomes_another_user_for_good);
    return g_test_run();
}
