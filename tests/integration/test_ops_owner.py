"""One owner for every file of the gateway (issue 11, items 4 and 5), on real files and the real
mail stack.

The database and data_dir belong to the service user (`paht`; here `nobody`). Before this,
`sudo pahtctl ingest` made root-owned content folders into which the daemon, running as the
service user, could not write later (EACCES, and the inbox stalled). Now:
- pahtctl and pahtd run by root become the owner of the database before they open anything,
  so every file they make is the owner's;
- another user is refused with the command to run instead (`sudo -u OWNER pahtctl ...`);
- a database and a data_dir of two owners, or a folder left by another user, are refused
  with the chown that fixes them, at start rather than at the first write;
- pahtd on a fresh install whose database lives in a folder of its own starts (the lock file
  used to be opened before that folder existed: exit 2).

The tests run as root (the mail servers need it), which is exactly the case of item 4.
"""
import os
import pwd
import shutil
import subprocess
import unittest

import pahttest

NOBODY = pwd.getpwnam("nobody")


def chown_tree(path, uid, gid):
    """chown -R UID:GID PATH (symbolic links themselves, never followed)."""
    os.chown(path, uid, gid, follow_symlinks=False)
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(top, name), uid, gid, follow_symlinks=False)


def not_owned_by(uid, *roots):
    """Every path under ROOTS (files and folders, recursively) that UID does not own."""
    found = []
    for root in roots:
        if not os.path.lexists(root):
            continue
        if os.lstat(root).st_uid != uid:
            found.append(root)
        for top, dirs, files in os.walk(root):
            for name in dirs + files:
                path = os.path.join(top, name)
                if os.lstat(path).st_uid != uid:
                    found.append(path)
    return found


def database_files(gw):
    return [gw.database + suffix for suffix in ("", "-wal", "-shm", ".lock")]


def write_mail(gw, subject, with_photo=True):
    """A citizen's report with a photo (the photo makes an att/ folder) in gw.dir; its path."""
    citizen = f"{pahttest.unique('dan')}@example.vn"
    photo = [("ảnh hiện trường.jpg", "image/jpeg",
              b"\xff\xd8\xff\xe0" + os.urandom(3000) + b"\xff\xd9")] if with_photo else []
    path = os.path.join(gw.dir, pahttest.unique("mail") + ".eml")
    with open(path, "wb") as f:
        f.write(pahttest.make_mail(citizen, gw.address, subject,
                                   "Cột điện nghiêng sắp đổ.\n" + pahttest.complete_details(),
                                   attachments=photo))
    return path


def run_as(user, gw, program, *args, env=None):
    """PROGRAM -c CONFIG ARGS as USER (a pwd entry): what `sudo -u USER` does."""
    return subprocess.run(
        [gw.binary(program), "-c", gw.config_path, *args], env=gw._env(env),
        user=user.pw_uid, group=user.pw_gid, extra_groups=[], stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120, check=False)


def give_to_nobody(gw):
    """The installation as the Debian package would leave it: everything the service user's
    (the configuration too: the parser process reads it again as that user)."""
    chown_tree(gw.dir, NOBODY.pw_uid, NOBODY.pw_gid)


class RootBecomesTheOwner(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = pahttest.shared_stack()

    def test_root_pahtctl_ingest_makes_only_files_of_the_owner(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("own"))
        give_to_nobody(gw)  # no database yet: data_dir's owner decides
        first = [write_mail(gw, f"Cột điện nghiêng số {i}") for i in range(3)]
        out = gw.pahtctl_json("ingest", *first)  # as root, like `sudo pahtctl ingest`
        self.assertEqual([o.get("classification") for o in out], ["report"] * 3, out)
        self.assertEqual(not_owned_by(NOBODY.pw_uid, gw.data_dir, *database_files(gw)), [])
        # the service user goes on writing into what root's command made
        later = write_mail(gw, "Cột điện nghiêng thêm")
        run = run_as(NOBODY, gw, "pahtctl", "ingest", later)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(len(gw.pahtctl_json("drafts")), 4)
        self.assertEqual(not_owned_by(NOBODY.pw_uid, gw.data_dir, *database_files(gw)), [])

    def test_a_file_of_roots_that_the_owner_cannot_read_is_explained(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("own"))
        give_to_nobody(gw)
        private = write_mail(gw, "Thư riêng của root")  # root's, 0600
        os.chmod(private, 0o600)
        run = gw.pahtctl("ingest", private)
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertIn(f"pahtctl runs as nobody, the owner of the database, and nobody may not "
                      f"read {private}", run.stderr)
        os.chmod(private, 0o644)
        self.assertEqual(gw.pahtctl_json("ingest", private)[0]["classification"], "report")

    def test_root_action_is_recorded_under_the_person_behind_sudo(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("own"))
        give_to_nobody(gw)
        code = gw.pahtctl_json("ingest", write_mail(gw, "Rác thải", with_photo=False))[0]["code"]
        run = gw.pahtctl("reject", code, "--reason", "spam", env={"SUDO_USER": "nguyenvanan"})
        self.assertEqual(run.returncode, 0, run.stderr)
        events = gw.pahtctl_json("show", code)["events"]
        self.assertEqual([e["actor"] for e in events if e["kind"] == "rejected"],
                         ["nguyenvanan"])

    def test_pahtd_started_by_root_runs_as_the_owner(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("own"))
        give_to_nobody(gw)
        citizen = f"{pahttest.unique('dan')}@{self.stack.domain}"
        self.stack.deliver(gw.address, pahttest.make_mail(
            citizen, gw.address, "Ổ gà trên đường",
            "Ổ gà lớn giữa đường.\n" + pahttest.complete_details(),
            attachments=[("o-ga.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + os.urandom(2000))]),
            sender=citizen)
        pahttest.wait_for(lambda: gw.count() == 1, what="the mail in the gateway INBOX")
        run = gw.pahtd("--once")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual([d["subject"] for d in gw.pahtctl_json("drafts")], ["Ổ gà trên đường"])
        self.assertEqual([o["state"] for o in gw.pahtctl_json("outbox")], ["sent"])
        self.assertEqual(not_owned_by(NOBODY.pw_uid, gw.data_dir, *database_files(gw)), [])


class OthersAreRefused(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = pahttest.shared_stack()

    def test_another_user_is_refused_with_the_command_to_run(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("own"))
        self.assertEqual(gw.pahtctl_json("drafts"), [])  # root's installation
        # an operator who may read the configuration but does not own the database
        os.chmod(gw.dir, 0o755)
        os.chmod(gw.config_path, 0o644)
        run = run_as(NOBODY, gw, "pahtctl", "drafts", "--json")
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn("belong to root", run.stderr)
        self.assertIn(f"sudo -u root {gw.binary('pahtctl')} -c {gw.config_path} drafts --json",
                      run.stderr)
        self.assertEqual(run.stdout, "")
        self.assertEqual(not_owned_by(0, gw.data_dir, *database_files(gw)), [])
        for secret in ("imap.secret", "smtp.secret"):  # readable by nobody, still 0600
            os.chown(os.path.join(gw.dir, secret), NOBODY.pw_uid, NOBODY.pw_gid)
        daemon = run_as(NOBODY, gw, "pahtd", "--once")
        self.assertEqual(daemon.returncode, 2, daemon.stderr)
        self.assertIn("sudo -u root", daemon.stderr)
        self.assertEqual(not_owned_by(0, gw.data_dir, *database_files(gw)), [])

    def test_user_outside_the_closed_folder_is_refused_with_the_command_to_run(self):
        # /var/lib/paht as Debian has it: 0700, the service user's; the configuration
        # readable by an operator (here: user daemon), who cannot see inside
        gw = pahttest.Gateway(self.stack, pahttest.unique("own"))
        give_to_nobody(gw)
        operator = pwd.getpwnam("daemon")
        etc = gw.dir + "-etc"
        os.mkdir(etc, 0o755)
        self.addCleanup(shutil.rmtree, etc, True)
        config = os.path.join(etc, "paht.conf")
        shutil.copyfile(gw.config_path, config)
        os.chmod(config, 0o644)
        run = subprocess.run(
            [gw.binary("pahtctl"), "-c", config, "drafts"], env=gw._env(None),
            user=operator.pw_uid, group=operator.pw_gid, extra_groups=[],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False)
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn("belong to nobody, and this runs as daemon", run.stderr)
        self.assertIn(f"sudo -u nobody {gw.binary('pahtctl')} -c {config} drafts", run.stderr)

    def test_database_and_data_dir_of_two_owners_refused(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("own"))
        self.assertEqual(gw.pahtctl_json("drafts"), [])
        chown_tree(gw.data_dir, NOBODY.pw_uid, NOBODY.pw_gid)
        run = gw.pahtctl("drafts")
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn(f"the database {gw.database} belongs to root but data_dir {gw.data_dir} "
                      "to nobody", run.stderr)
        # the root-owned side is the stray one: the fix names the service user
        self.assertIn(f"chown -R nobody: {gw.data_dir} {gw.database}*", run.stderr)

    def test_folder_left_by_another_user_stops_the_daemon_at_start_with_the_fix(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("own"))
        give_to_nobody(gw)
        gw.pahtctl_json("ingest", write_mail(gw, "Cây đổ"))
        # what `sudo pahtctl ingest` of an earlier version left: a root-owned content folder
        legacy = os.path.join(gw.data_dir, "att", "zz")
        os.mkdir(legacy, 0o700)
        self.stack.deliver(gw.address, pahttest.make_mail(
            "dan@example.vn", gw.address, "Cây đổ chắn đường", "Cây đổ.\n"))
        pahttest.wait_for(lambda: gw.count() == 1, what="the mail in the gateway INBOX")
        run = gw.pahtd("--once")
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn(f"{legacy} belongs to root, not to nobody", run.stderr)
        self.assertIn(f"chown -R nobody: {gw.data_dir}", run.stderr)
        self.assertEqual(gw.count(), 1)  # the mail waits on the server, untouched
        os.chown(legacy, NOBODY.pw_uid, NOBODY.pw_gid)
        run = gw.pahtd("--once")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(gw.count("PAHT/Processed"), 1)
        self.assertIn("Cây đổ chắn đường", [d["subject"] for d in gw.pahtctl_json("drafts")])


class FreshInstall(unittest.TestCase):
    def test_pahtd_starts_with_its_database_in_a_folder_not_yet_made(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("own"))
        database = os.path.join(gw.dir, "state", "db", "paht.db")
        gw.config["gateway"]["database"] = database
        gw.write_config()
        run = gw.pahtd("--once")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertTrue(os.path.isfile(database))
        self.assertTrue(os.path.isfile(database + ".lock"))
        for folder in (os.path.dirname(database), os.path.dirname(os.path.dirname(database))):
            self.assertEqual(os.stat(folder).st_mode & 0o777, 0o700, folder)


if __name__ == "__main__":
    unittest.main()
