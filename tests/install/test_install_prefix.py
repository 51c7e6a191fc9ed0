"""Paths from the install prefix (issue 17), on a real `cmake --install`.

Before, `cmake --install --prefix /usr/local` put the templates under /usr/local while the
programs still looked for /etc/paht/paht.conf and /usr/share/paht/templates, and the unit
started /usr/sbin/pahtd. Now the configuration file, the templates folder, the units' ExecStart
and the manual's paths all follow the prefix the build was configured with, `--version` prints
them, and an install to another prefix is refused. The console, pahtweb, is one of the
programs: it once read /etc/paht/paht.conf whatever the prefix, and had no --version.

The tree is configured for a prefix in a temporary folder (nothing outside it is written),
built (pahtd, pahtctl, pahtweb, the manual) and installed there.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import urllib.request


PROGRAMS = ("sbin/pahtd", "bin/pahtctl", "sbin/pahtweb")
# the installed programs use the templates they installed, as in production (the other tests
# set none: see tests/CMakeLists.txt)
os.environ.pop("PAHT_TEST_INSTALLED_TEMPLATES", None)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=1200, **kw)


def edit(path, change):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    changed = change(text)
    if changed == text:
        raise AssertionError(f"{path}: the edit changed nothing")
    with open(path, "w", encoding="utf-8") as f:
        f.write(changed)


class InstallPrefix(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        source = os.environ.get("PAHT_SOURCE_DIR")
        if not source:
            raise RuntimeError("PAHT_SOURCE_DIR is not set: run the tests through CTest")
        cls.dir = tempfile.mkdtemp(prefix="paht-prefix-")
        # an "_" in the prefix, always: scdoc once read the one mkdtemp sometimes puts in a
        # name as the end of an italic span, and the manual lost the path (a prefix such as
        # /opt_/paht would too)
        cls.prefix = os.path.join(cls.dir, "opt_", "paht")
        build = os.path.join(cls.dir, "build")
        cls.build = build
        steps = (
            ["cmake", "-S", source, "-B", build, f"-DCMAKE_INSTALL_PREFIX={cls.prefix}",
             "-DBUILD_TESTING=OFF"],
            ["cmake", "--build", build, "-j2", "--target", "pahtd", "pahtctl", "pahtweb",
             "man"],
            ["cmake", "--install", build],
        )
        for argv in steps:
            p = run(argv)
            if p.returncode != 0:
                shutil.rmtree(cls.dir, ignore_errors=True)
                raise AssertionError(f"{' '.join(argv)} exited {p.returncode}:\n"
                                     f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def under(self, *parts):
        return os.path.join(self.prefix, *parts)

    def test_version_prints_the_paths_under_the_prefix(self):
        for program in PROGRAMS:
            with self.subTest(program=program):
                p = run([self.under(program), "--version"])
                self.assertEqual(p.returncode, 0, p.stderr)
                name = os.path.basename(program)
                self.assertRegex(p.stdout, rf"^{name} \(paht-mail\) \d+\.\d+\.\d+\n")
                self.assertIn(f"configuration file: {self.under('etc/paht/paht.conf')}\n", p.stdout)
                self.assertIn(f"templates: {self.under('share/paht/templates')}\n", p.stdout)

    def test_installed_programs_are_position_independent(self):
        """Debian 12's libetpan.pc adds -specs=/usr/share/dpkg/no-pie-link.specs to whatever
        links it: the daemons lost the address randomisation of their code."""
        for program in PROGRAMS:
            with self.subTest(program=program):
                with open(self.under(program), "rb") as f:
                    header = f.read(18)
                self.assertEqual(header[:4], b"\x7fELF")
                # e_type: 3 (ET_DYN) is a position-independent executable, 2 (ET_EXEC) is not
                self.assertEqual(int.from_bytes(header[16:18], "little"), 3)

    def test_installed_programs_find_their_configuration_and_letters_untold(self):
        """The example configuration, set up as the manual says, in PREFIX/etc/paht: neither
        program is told where it is, nor where the letters are."""
        etc = self.under("etc", "paht")
        os.makedirs(etc, mode=0o750, exist_ok=True)
        examples = self.under("share", "paht", "examples")
        for name in ("agencies.conf", "categories.conf", "holidays.txt"):
            shutil.copy(os.path.join(examples, name), etc)
        with open(os.path.join(examples, "paht.conf.example"), encoding="utf-8") as f:
            conf = f.read()
        data = os.path.join(self.dir, "data")
        os.makedirs(data, mode=0o700)
        conf = re.sub(r"(?m)^database = .*$", f"database = {data}/paht.db", conf)
        conf = re.sub(r"(?m)^data_dir = .*$", f"data_dir = {data}", conf)
        with open(os.path.join(etc, "paht.conf"), "w", encoding="utf-8") as f:
            f.write(conf)
        for secret in ("imap.secret", "smtp.secret"):
            fd = os.open(os.path.join(etc, secret), os.O_WRONLY | os.O_CREAT, 0o600)
            os.write(fd, b"not-a-real-password\n")
            os.close(fd)

        for daemon in ("pahtd", "pahtweb"):
            p = run([self.under("sbin", daemon), "--check-config"])
            self.assertEqual(p.returncode, 0, f"{daemon}: {p.stderr}")
            self.assertEqual(p.stdout, f"{etc}/paht.conf: configuration OK\n")
        p = run([self.under("bin", "pahtctl"), "--json", "drafts"],
                env=dict(os.environ, PAHT_NOW="2026-12-01T09:00:00+07:00"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "[]")
        self.assertTrue(os.path.isfile(os.path.join(data, "paht.db")))
        # found by default, not because the example names a folder that happens to exist
        self.assertRegex(conf, r"(?m)^#templates_dir = ", "the example pins the letters")

        # the province's own copy of the letters, made from an older version that lacked one
        # (move_refused): it comes from the installed folder, and a fault in the province's own
        # files is refused, named in its folder
        own = os.path.join(etc, "templates")
        shutil.copytree(self.under("share", "paht", "templates"), own)
        for name in ("move_refused.txt", "move_refused.html"):
            os.unlink(os.path.join(own, name))
        with open(os.path.join(etc, "paht.conf"), "w", encoding="utf-8") as f:
            f.write(re.sub(r"(?m)^#templates_dir = .*$", f"templates_dir = {own}", conf, count=1))
        p = run([self.under("sbin", "pahtd"), "--check-config"])
        self.assertEqual(p.returncode, 0, p.stderr)
        ack = os.path.join(own, "ack.txt")
        with open(ack, encoding="utf-8") as f:
            text = f.read()
        with open(ack, "w", encoding="utf-8") as f:
            f.write(text.replace("{{/", "{{/sai_", 1))
        p = run([self.under("sbin", "pahtd"), "--check-config"])
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(f"template {ack}: line ", p.stderr)
        self.older_copy_of_the_labels_and_pages(etc, conf, own)
        with open(os.path.join(etc, "paht.conf"), "w", encoding="utf-8") as f:
            f.write(conf)

    def older_copy_of_the_labels_and_pages(self, etc, conf, own):
        """The province's copy, older than the labels and the console's pages: a labels.ini
        group, a console page and a console label it lacks come from the installed folder,
        while an empty value of its own is refused, naming its file."""
        shutil.rmtree(own)
        shutil.copytree(self.under("share", "paht", "templates"), own)
        edit(os.path.join(own, "labels.ini"),
             lambda t: re.sub(r"(?ms)^\[deadline clarify\]\n.*?\n\n", "", t, count=1))
        edit(os.path.join(own, "web", "labels.ini"),
             lambda t: re.sub(r"(?m)^login = .*\n", "", t, count=1))
        os.unlink(os.path.join(own, "web", "login.html"))
        with open(os.path.join(etc, "paht.conf"), "w", encoding="utf-8") as f:
            f.write(re.sub(r"(?m)^listen = 127\.0\.0\.1:8080", "listen = 127.0.0.1:0",
                           re.sub(r"(?m)^#templates_dir = .*$", f"templates_dir = {own}", conf,
                                  count=1), count=1))
        for daemon in ("pahtd", "pahtweb"):
            p = run([self.under("sbin", daemon), "--check-config"])
            self.assertEqual(p.returncode, 0, f"{daemon}: {p.stderr}")

        web = subprocess.Popen([self.under("sbin", "pahtweb")], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = web.stdout.readline()
            port = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            self.assertIsNotNone(port, f"pahtweb: {line} {web.stderr.read() if web.poll() else ''}")
            with urllib.request.urlopen(f"http://127.0.0.1:{port.group(1)}/login",
                                        timeout=30) as page:
                self.assertEqual(page.status, 200)
                html = page.read().decode()
        finally:
            web.terminate()
            web.wait(timeout=30)
            web.stdout.close()
            web.stderr.close()
        self.assertIn("<title>Đăng nhập – ", html)  # the label, not its key "login"
        self.assertIn('<label for="password">Mật khẩu</label>', html)  # the page

        edit(os.path.join(own, "labels.ini"),
             lambda t: re.sub(r"(?m)^(\[field phone\]\n(?:\w+ = .*\n)*?)hint = .*$", r"\1hint =",
                              t, count=1))
        p = run([self.under("sbin", "pahtd"), "--check-config"])
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(f"{own}/labels.ini: [field phone] hint: empty", p.stderr)

    def test_units_start_the_installed_daemons_with_the_installed_configuration(self):
        for name in ("pahtd", "pahtweb"):
            with self.subTest(unit=name):
                unit = self.under("lib", "systemd", "system", f"{name}.service")
                self.assertTrue(os.path.isfile(unit), f"no unit installed at {unit}")
                with open(unit, encoding="utf-8") as f:
                    lines = dict(line.rstrip("\n").split("=", 1) for line in f
                                 if "=" in line and not line.startswith("#"))
                daemon = self.under("sbin", name)
                config = self.under("etc", "paht", "paht.conf")
                self.assertEqual(lines["ExecStart"], f"{daemon} -c {config}")
                self.assertEqual(lines["ExecStartPre"], f"{daemon} -c {config} --check-config")
                self.assertEqual(lines["Documentation"], f"man:{name}(8) man:paht.conf(5)")
                self.assertTrue(os.access(daemon, os.X_OK))

    def test_manual_names_files_that_are_installed(self):
        for name in ("pahtd", "pahtweb"):
            page = self.under("share", "man", "man8", f"{name}.8")
            with open(page, encoding="utf-8") as f:
                roff = f.read().replace("\\&", "")
            self.assertIn(self.under("etc", "paht", "paht.conf"), roff)
            named = set(re.findall(re.escape(self.under("share")) + r"[\w/.-]*\w", roff))
            if name == "pahtd":
                self.assertIn(self.under("share", "doc", "paht-mail", "mail-server.md"), named)
            else:
                unit = self.under("lib", "systemd", "system", "pahtweb.service")
                self.assertIn(unit, roff)
                named.add(unit)
            for path in sorted(named):
                with self.subTest(page=name, path=path):
                    self.assertTrue(os.path.exists(path), f"{name}(8) names {path}, not installed")

    def test_install_to_another_prefix_is_refused(self):
        elsewhere = os.path.join(self.dir, "elsewhere")
        p = run(["cmake", "--install", self.build, "--prefix", elsewhere])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"-DCMAKE_INSTALL_PREFIX={elsewhere}", p.stderr.replace("\n  ", " "))
        self.assertFalse(os.path.exists(elsewhere), "something was installed there")


if __name__ == "__main__":
    unittest.main()
