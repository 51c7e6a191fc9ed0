"""The Debian package paht-mail (issue 17): `dpkg-buildpackage -us -uc -b` builds it, lintian
finds neither error nor warning in it, and it installs like a Debian daemon.

SourcePackage checks debian/control against the build: a Build-Depends for every library
CMake looks for (libmicrohttpd and libsodium were missing when the console came).
PackageContents unpacks it with `dpkg -x` and checks what it holds: the programs (pahtd,
pahtctl and the console pahtweb: PIE, looking in /etc/paht and /usr/share/paht), the
libraries they need in Depends, the letters and pages, the examples, the manual pages (which
render), the units, /etc/paht's configuration files as conffiles, and maintainer scripts that
migrate the database before any daemon starts again.

PackageInstall installs it for real with dpkg, in an overlay of this machine's root (writes
kept aside, the machine untouched): the paht user, /etc/paht and /var/lib/paht with their
owners and modes, a database at this version; systemd-analyze verifies the installed unit and
rates its hardening (pahtd's and pahtweb's); the configuration pahtd(8) describes, against the test mail stack, gives
a gateway that drafts and answers a citizen's mail; an upgrade migrates a first-release
database as the paht user and keeps the administrator's edits; a database the daemon could not
use stops the upgrade with the fix; remove keeps the data, purge deletes it. No systemd runs
as PID 1 here: the units are verified and rated, not started.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

import packagetest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "integration"))
import pahttest  # noqa: E402  (the mail stack of the integration tests)

SOURCE = os.environ.get("PAHT_SOURCE_DIR", "")
V1_DUMP = os.path.join(HERE, os.pardir, "integration", "ops-schema-v1.sql")
NOW = "2026-12-01T09:00:00+07:00"  # a Tuesday morning, no holiday near (PAHT_NOW)
PROGRAMS = ("usr/sbin/pahtd", "usr/bin/pahtctl", "usr/sbin/pahtweb")


def sh(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, **kw)


def package_files(debs):
    """{path: (mode, owner/group)} of the regular files and folders in the package."""
    listing = sh(["dpkg-deb", "-c", debs["paht-mail"]]).stdout
    files = {}
    for line in listing.splitlines():
        perms, owner, _size, _date, _time, path = line.split(None, 5)
        files[path[1:].rstrip("/") or "/"] = (perms, owner)
    return files


def expected_files():
    """What the package must hold, from the source tree."""
    want = {"/usr/sbin/pahtd", "/usr/bin/pahtctl", "/usr/sbin/pahtweb",
            "/lib/systemd/system/pahtd.service", "/lib/systemd/system/pahtweb.service",
            "/etc/paht/paht.conf", "/etc/paht/agencies.conf", "/etc/paht/holidays.txt",
            "/etc/paht/categories.conf",
            "/usr/share/man/man8/pahtd.8.gz", "/usr/share/man/man8/pahtweb.8.gz",
            "/usr/share/man/man1/pahtctl.1.gz", "/usr/share/man/man5/paht.conf.5.gz",
            "/usr/share/doc/paht-mail/copyright", "/usr/share/doc/paht-mail/changelog.gz",
            "/usr/share/lintian/overrides/paht-mail"}
    for name in ("paht.conf.example", "agencies.conf", "categories.conf", "holidays.txt",
                 "keywords.conf", "paht-backup.service", "paht-backup.timer"):
        want.add(f"/usr/share/paht/examples/{name}")
    for doc in ("README.md", "operation.md", "mail-server.md", "parser.md", "tutorial.md"):
        want.add(f"/usr/share/doc/paht-mail/{doc}")  # compressed or not, by size
    for top, _dirs, files in os.walk(os.path.join(SOURCE, "templates")):
        rel = os.path.relpath(top, os.path.join(SOURCE, "templates"))
        for f in files:
            want.add(os.path.normpath(f"/usr/share/paht/templates/{rel}/{f}"))
    return want


class SourcePackage(unittest.TestCase):
    def test_build_depends_name_every_library_cmake_looks_for(self):
        """Each pkg-config module of the top CMakeLists.txt comes from a -dev package that
        debian/control's Build-Depends names: a clean build machine (a buildd, a CI image)
        installs those and nothing else."""
        with open(os.path.join(SOURCE, "CMakeLists.txt"), encoding="utf-8") as f:
            cmake = f.read()
        modules = []
        for args in re.findall(r"pkg_check_modules\(([^)]*)\)", cmake):
            words = args.split()[1:]
            modules += [re.split(r"[<>=]", w)[0] for w in words
                        if w not in ("REQUIRED", "QUIET", "IMPORTED_TARGET")]
        self.assertIn("libmicrohttpd", modules)
        with open(os.path.join(SOURCE, "debian", "control"), encoding="utf-8") as f:
            control = f.read()
        field = re.search(r"(?ms)^Build-Depends:(.*?)^\S", control).group(1)
        named = {re.split(r"[\s(]", alt.strip())[0] for dep in field.split(",")
                 for alt in dep.split("|") if alt.strip()}
        for module in modules:
            with self.subTest(module=module):
                pcdir = sh(["pkg-config", "--variable=pcfiledir", module])
                self.assertEqual(pcdir.returncode, 0, pcdir.stderr)
                owner = sh(["dpkg", "-S", os.path.join(pcdir.stdout.strip(), f"{module}.pc")])
                self.assertEqual(owner.returncode, 0, owner.stderr)
                package = owner.stdout.split(":")[0]
                self.assertIn(package, named, f"{module}.pc comes from {package}")


class PackageContents(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.debs = packagetest.package()
        cls.tmp = tempfile.TemporaryDirectory(prefix="paht-deb-")
        cls.root = os.path.join(cls.tmp.name, "root")
        cls.control = os.path.join(cls.tmp.name, "DEBIAN")
        for argv in (["dpkg-deb", "-x", cls.debs["paht-mail"], cls.root],
                     ["dpkg-deb", "-e", cls.debs["paht-mail"], cls.control]):
            p = sh(argv)
            if p.returncode != 0:
                raise AssertionError(f"{' '.join(argv)}: {p.stderr}")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def control_file(self, name):
        with open(os.path.join(self.control, name), encoding="utf-8") as f:
            return f.read()

    def test_lintian_finds_no_error_or_warning(self):
        p = sh(["lintian", "--fail-on", "error,warning", "--no-tag-display-limit",
                self.debs["changes"]])
        tags = [l for l in p.stdout.splitlines() if re.match(r"[EW]: ", l)]
        self.assertEqual(tags, [], p.stdout)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_files_owners_and_modes(self):
        files = package_files(self.debs)
        regular = {p[:-3] if p.startswith("/usr/share/doc/paht-mail/") and p.endswith(".md.gz")
                   else p for p, (perms, _) in files.items() if perms.startswith("-")}
        want = expected_files()
        self.assertEqual(sorted(want - regular), [], "missing from the package")
        self.assertEqual(sorted(regular - want), [], "in the package, not expected")
        programs = {"/" + p for p in PROGRAMS}
        for path, (perms, owner) in sorted(files.items()):
            with self.subTest(path=path):
                self.assertEqual(owner, "root/root")
                if perms.startswith("d"):
                    self.assertEqual(perms, "drwxr-xr-x")
                elif path in programs:
                    self.assertEqual(perms, "-rwxr-xr-x")
                else:
                    self.assertEqual(perms, "-rw-r--r--")

    def test_configuration_files_are_conffiles(self):
        self.assertEqual(sorted(self.control_file("conffiles").split()),
                         ["/etc/paht/agencies.conf", "/etc/paht/categories.conf",
                          "/etc/paht/holidays.txt", "/etc/paht/paht.conf"])
        with open(os.path.join(self.root, "etc/paht/paht.conf"), encoding="utf-8") as f:
            conf = f.read()
        self.assertIn("database = /var/lib/paht/paht.db", conf)
        self.assertRegex(conf, r"(?m)^#templates_dir = ")  # the built-in default applies

    def test_programs_are_pie_and_look_in_etc_and_usr_share(self):
        for program in PROGRAMS:
            with self.subTest(program=program):
                path = os.path.join(self.root, program)
                with open(path, "rb") as f:
                    header = f.read(18)
                # ELF e_type ET_DYN: position-independent, so its code is randomised (ASLR)
                self.assertEqual(header[:4], b"\x7fELF")
                self.assertEqual(int.from_bytes(header[16:18], "little"), 3)
                p = sh([path, "--version"])
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn("configuration file: /etc/paht/paht.conf\n", p.stdout)
                self.assertIn("templates: /usr/share/paht/templates\n", p.stdout)
        with open(os.path.join(SOURCE, "debian", "changelog"), encoding="utf-8") as f:
            version = re.match(r"paht-mail \(([^)]+)\)", f.read()).group(1)
        p = sh([os.path.join(self.root, "usr/sbin/pahtd"), "--version"])
        self.assertIn(f"(paht-mail) {version}\n", p.stdout, "debian/changelog and CMake differ")

    def test_depends_name_the_libraries_the_programs_link(self):
        """${shlibs:Depends}: the package of every library a program needs (NEEDED), the
        console's HTTP server and password hashes among them, is in Depends."""
        depends = re.search(r"(?m)^Depends: (.*)$", self.control_file("control")).group(1)
        named = {re.split(r"[\s(:]", d.strip())[0] for d in re.split(r"[,|]", depends)}
        known = {}
        for line in sh(["ldconfig", "-p"]).stdout.splitlines():
            found = re.match(r"\s+(\S+) \([^)]*\) => (\S+)$", line)
            if found:
                known.setdefault(found.group(1), found.group(2))
        needed = set()
        for program in PROGRAMS:
            dynamic = sh(["readelf", "-d", os.path.join(self.root, program)]).stdout
            needed |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
        self.assertIn("libmicrohttpd.so.12", needed)
        for library in sorted(needed):
            with self.subTest(library=library):
                self.assertIn(library, known)
                owner = sh(["dpkg", "-S", os.path.realpath(known[library])])
                if owner.returncode != 0:  # a usrmerge alias: dpkg knows the other path
                    owner = sh(["dpkg", "-S", known[library]])
                self.assertEqual(owner.returncode, 0, owner.stderr)
                package = owner.stdout.split(":")[0]
                self.assertIn(package, named, f"{library} comes from {package}: {depends}")

    def test_manual_pages_render_with_the_package_paths(self):
        for page in ("man8/pahtd.8.gz", "man8/pahtweb.8.gz", "man1/pahtctl.1.gz",
                     "man5/paht.conf.5.gz"):
            with self.subTest(page=page):
                p = sh(["man", "--warnings", "-l", os.path.join(self.root, "usr/share/man", page)],
                       env=dict(os.environ, MANWIDTH="100", LANG="C.UTF-8"))
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stderr.strip(), "")
                self.assertIn("/etc/paht/paht.conf", p.stdout)
        p = sh(["man", "-l", os.path.join(self.root, "usr/share/man/man8/pahtd.8.gz")],
               env=dict(os.environ, MANWIDTH="100", LANG="C.UTF-8"))
        self.assertIn("SETTING UP", p.stdout)
        self.assertIn("runuser -u paht -- pahtd --check-config", p.stdout)

    def test_units_run_the_installed_programs_as_paht(self):
        for unit, program in (("pahtd", "/usr/sbin/pahtd"), ("pahtweb", "/usr/sbin/pahtweb")):
            with self.subTest(unit=unit):
                with open(os.path.join(self.root, f"lib/systemd/system/{unit}.service"),
                          encoding="utf-8") as f:
                    text = f.read()
                self.assertRegex(text, rf"(?m)^ExecStart={re.escape(program)} -c /etc/paht/paht.conf")
                self.assertRegex(text, r"(?m)^User=paht$")
                self.assertRegex(text, rf"(?m)^Documentation=man:{unit}\(8\)")

    def test_maintainer_scripts_migrate_before_any_daemon_starts(self):
        for script in ("preinst", "postinst", "prerm", "postrm"):
            with self.subTest(script=script):
                p = sh(["sh", "-n", os.path.join(self.control, script)])
                self.assertEqual(p.returncode, 0, p.stderr)
        postinst = self.control_file("postinst")
        migrate = postinst.index("runuser -u paht -- pahtctl")
        starts = [m.start() for m in re.finditer(r"deb-systemd-invoke (start|restart)", postinst)]
        self.assertTrue(starts)
        self.assertLess(migrate, min(starts), "a daemon could start on the old schema")
        self.assertNotIn("deb-systemd-invoke restart", postinst)  # stopped before, started after
        self.assertRegex(self.control_file("preinst"),
                         r'"\$1" = upgrade .*\n\s*deb-systemd-invoke stop')
        # enabled by the administrator only (the configuration comes first)
        self.assertIn("deb-systemd-helper debian-installed", postinst)


def user_version(host, path="/var/lib/paht/paht.db"):
    """The schema version of the database at PATH in HOST, read as the service user (so that
    SQLite's -wal and -shm files stay the daemon's)."""
    p = host.run("runuser", "-u", "paht", "--", "sqlite3", path, "PRAGMA user_version;",
                 check=True)
    return int(p.stdout)


class PackageInstall(unittest.TestCase):
    """dpkg -i in an overlay of this machine's root (root, overlayfs)."""

    @classmethod
    def setUpClass(cls):
        cls.debs = packagetest.package()

    def install(self, host, expect_ok=True):
        # a previous install on this machine (the lower layer) must not turn this into an
        # upgrade: start from a machine without the package
        if host.run("dpkg-query", "-W", "paht-mail").returncode == 0:
            host.run("dpkg", "--purge", "paht-mail", check=True)
        return self.dpkg_i(host, expect_ok)

    def dpkg_i(self, host, expect_ok=True):
        p = host.run("dpkg", "-i", host.copy_in(self.debs["paht-mail"]))
        if expect_ok:
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p

    def stat(self, host, path):
        """(mode, user, group) of PATH in HOST, by name."""
        out = host.run("stat", "-c", "%a %U %G", path, check=True).stdout.split()
        return int(out[0], 8), out[1], out[2]

    def test_fresh_install_makes_the_user_the_folders_and_the_database(self):
        with packagetest.Overlay() as host:
            p = self.install(host)
            self.assertRegex(p.stdout, r"/var/lib/paht/paht.db: schema version 0 upgraded to \d+")
            self.assertRegex(host.run("getent", "passwd", "paht").stdout,
                             r"^paht:x:\d+:\d+:[^:]*:/var/lib/paht:/usr/sbin/nologin$")
            self.assertEqual(self.stat(host, "/var/lib/paht"), (0o700, "paht", "paht"))
            self.assertEqual(self.stat(host, "/var/lib/paht/paht.db"), (0o600, "paht", "paht"))
            self.assertEqual(self.stat(host, "/etc/paht"), (0o750, "root", "paht"))
            self.assertEqual(self.stat(host, "/etc/paht/paht.conf"), (0o640, "root", "paht"))
            self.assertGreater(user_version(host), 1)
            # the units wait for the administrator
            wants = host.run("sh", "-c", "ls /etc/systemd/system/*.wants/ 2>/dev/null").stdout
            self.assertNotIn("paht", wants)
            self.assertEqual(host.run("man", "-w", "pahtd").stdout.strip(),
                             "/usr/share/man/man8/pahtd.8.gz")

    def test_installed_units_verify_and_are_hardened(self):
        with packagetest.Overlay() as host:
            self.install(host)
            for unit in ("pahtd.service", "pahtweb.service"):
                with self.subTest(unit=unit):
                    path = f"/lib/systemd/system/{unit}"
                    p = host.run("systemd-analyze", "verify", path)
                    self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))
                    p = host.run("systemd-analyze", "security", "--offline=true", "--no-pager",
                                 path)
                    level = re.search(rf"Overall exposure level for {re.escape(unit)}: ([\d.]+)",
                                      p.stdout)
                    self.assertTrue(level, p.stdout + p.stderr)
                    # systemd rates 0 (sandboxed) to 10 (exposed); "OK" is below 2.0
                    # (measured: 1.8 for both)
                    self.assertLessEqual(float(level.group(1)), 2.0, p.stdout)

    def test_setup_from_the_manual_gives_a_gateway_that_answers(self):
        """pahtd(8), SETTING UP, on the test mail stack: the configuration, the passwords as
        the page writes them, the check as the service user, one pass as systemd would run
        it (User=paht, the default configuration)."""
        stack = pahttest.shared_stack()
        name = pahttest.unique("paket")
        gw, ioc = f"{name}@{stack.domain}", f"{name}-ioc@{stack.domain}"
        citizen = f"{pahttest.unique('dan')}@{stack.domain}"
        with packagetest.Overlay() as host:
            self.install(host)
            conf = host.read("/etc/paht/paht.conf")
            for group, key, value in (
                    ("gateway", "ioc_alert_to", ioc),
                    ("imap", "url", f"imap://{stack.listen}:{stack.imap_port}/INBOX"),
                    ("imap", "user", gw), ("imap", "poll_seconds", "1"),
                    ("imap", "#ca_file", "/etc/paht/ca.pem"),
                    ("smtp", "url", f"smtp://{stack.listen}:{stack.smtp_port}"),
                    ("smtp", "user", gw), ("smtp", "from", gw),
                    ("smtp", "reply_to", f"{name}+{{token}}@{stack.domain}"),
                    ("smtp", "#ca_file", "/etc/paht/ca.pem")):
                conf = set_key(conf, group, key, value)
            host.write("/etc/paht/paht.conf", conf, 0o640)  # the file keeps root:paht
            with open(stack.ca, encoding="ascii") as f:
                host.write("/etc/paht/ca.pem", f.read(), 0o644)
            host.sh(f"""cd /etc/paht
                install -m 0600 -o paht -g paht /dev/null imap.secret
                install -m 0600 -o paht -g paht /dev/null smtp.secret
                printf '%s\\n' '{stack.password}' >imap.secret
                printf '%s\\n' '{stack.password}' >smtp.secret""", check=True)
            p = host.run("runuser", "-u", "paht", "--", "pahtd", "--check-config")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, "/etc/paht/paht.conf: configuration OK\n")

            stack.deliver(gw, pahttest.make_mail(
                citizen, gw, "Đèn đường hỏng trước chợ Phường 2",
                "Đèn đường trước cổng chợ Phường 2 đã hỏng hơn một tuần.\n"
                + pahttest.complete_details()), sender=citizen)
            p = host.run("runuser", "-u", "paht", "--", "pahtd", "--once", env={"PAHT_NOW": NOW})
            self.assertEqual(p.returncode, 0, p.stderr)
            drafts = host.run("pahtctl", "--json", "drafts", env={"PAHT_NOW": NOW}, check=True)
            self.assertEqual(len(json.loads(drafts.stdout)), 1, drafts.stdout)
            ack = pahttest.wait_for(lambda: pahttest.messages(stack, citizen), timeout=60,
                                    what="the acknowledgement in the citizen's mailbox")
            self.assertRegex(str(ack[0]["Subject"]), r"PAHT-2026-\d{6}")
            # every file the daemon made is the service user's, private
            found = host.run("find", "/var/lib/paht", "!", "-user", "paht", "-o",
                             "-perm", "/077", check=True).stdout
            self.assertEqual(found, "")

    def test_upgrade_migrates_as_paht_and_keeps_the_administrators_edits(self):
        with packagetest.Overlay() as host:
            self.install(host)
            latest = user_version(host)
            conf = set_key(host.read("/etc/paht/paht.conf"), "gateway", "place", "Vĩnh Châu")
            host.write("/etc/paht/paht.conf", conf, 0o640)
            host.run("sh", "-c", "rm -f /var/lib/paht/paht.db*", check=True)
            first_release_database(host)

            p = self.dpkg_i(host)  # the same version again: dpkg runs the upgrade path
            self.assertIn(f"/var/lib/paht/paht.db: schema version 1 upgraded to {latest}",
                          p.stdout)
            self.assertEqual(user_version(host), latest)
            self.assertEqual(self.stat(host, "/var/lib/paht/paht.db"), (0o600, "paht", "paht"))
            self.assertIn("place = Vĩnh Châu", host.read("/etc/paht/paht.conf"))
            self.assertEqual(self.stat(host, "/etc/paht/paht.conf"), (0o640, "root", "paht"))
            shown = host.run("pahtctl", "show", "PAHT-2026-000001", env={"PAHT_NOW": NOW})
            self.assertEqual(shown.returncode, 0, shown.stderr)
            self.assertIn("PAHT-2026-000001", shown.stdout)

    def test_upgrade_stops_on_a_database_the_daemon_could_not_use(self):
        with packagetest.Overlay() as host:
            self.install(host)
            host.run("chown", "root:root", "/var/lib/paht/paht.db", check=True)
            p = self.dpkg_i(host, expect_ok=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("chown -R paht:paht /var/lib/paht", p.stderr)
            self.assertIn("dpkg --configure -a", p.stderr)
            state = host.run("dpkg-query", "-W", "-f", "${Status}", "paht-mail").stdout
            self.assertIn("half-configured", state)
            host.run("chown", "-R", "paht:paht", "/var/lib/paht", check=True)
            p = host.run("dpkg", "--configure", "-a")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            state = host.run("dpkg-query", "-W", "-f", "${Status}", "paht-mail").stdout
            self.assertEqual(state, "install ok installed")

    def test_remove_keeps_the_data_and_purge_deletes_it(self):
        with packagetest.Overlay() as host:
            self.install(host)
            host.sh("install -m 0600 -o paht -g paht /dev/null /etc/paht/imap.secret", check=True)
            host.run("dpkg", "--remove", "paht-mail", check=True)
            for path in ("/var/lib/paht/paht.db", "/etc/paht/paht.conf", "/etc/paht/imap.secret"):
                self.assertTrue(os.path.exists(host.path(path)), f"remove deleted {path}")
            self.assertFalse(os.path.exists(host.path("/usr/sbin/pahtd")))
            host.run("dpkg", "--purge", "paht-mail", check=True)
            for path in ("/var/lib/paht", "/etc/paht"):
                self.assertFalse(os.path.exists(host.path(path)), f"purge left {path}")
            overrides = host.run("dpkg-statoverride", "--list").stdout
            self.assertNotIn("/etc/paht", overrides)


def set_key(conf, group, key, value):
    """CONF with KEY of [GROUP] set to VALUE, as an administrator edits it: "#key" uncomments
    the example's commented line."""
    plain = key.lstrip("#")
    lines, current, done = conf.split("\n"), None, False
    for i, line in enumerate(lines):
        header = re.match(r"\[(\w+)\]", line)
        if header:
            current = header.group(1)
        elif current == group and re.match(rf"#?{re.escape(plain)}\s*=", line) and not done:
            if line.startswith("#") and not key.startswith("#"):
                continue
            lines[i] = f"{plain} = {value}"
            done = True
    if not done:
        raise AssertionError(f"[{group}] {key} is not in the example configuration")
    return "\n".join(lines)


def first_release_database(host):
    """/var/lib/paht/paht.db as the first release left it (schema version 1), the paht
    user's, 0600."""
    with open(V1_DUMP, encoding="utf-8") as f:
        dump = f.read()
    host.run("runuser", "-u", "paht", "--", "sh", "-c",
             "umask 077 && sqlite3 /var/lib/paht/paht.db", input=dump, check=True)
    assert user_version(host) == 1


if __name__ == "__main__":
    unittest.main()
