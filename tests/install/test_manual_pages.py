"""The manual (issue 17): pahtd(8), pahtctl(1), paht.conf(5) and pahtweb(8), written in scdoc
(man/*.scd), made into roff by the build and installed by CMake.

Each page renders with man(1) without a warning, and says what the programs do: pahtctl(1)
documents every command and option `pahtctl --help` lists, pahtd(8) and pahtweb(8) every
option of their --help and their exit statuses, paht.conf(5) every group and key of the
configuration contract (the table in conf/conf.c). A command or key added without its manual
entry fails here.
"""
import glob
import os
import re
import subprocess
import tempfile
import unittest

SOURCE = os.environ.get("PAHT_SOURCE_DIR", "")
BUILD = os.environ.get("PAHT_BUILD_DIR", "")
BIN = os.environ.get("PAHT_BIN_DIR", "")
PAGES = ("pahtd.8", "pahtweb.8", "pahtctl.1", "paht.conf.5")


def render(path):
    """(text, warnings) of the man page at PATH, as man -l formats it, 100 columns wide."""
    p = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True,
                       env=dict(os.environ, MANWIDTH="100", LANG="C.UTF-8", MAN_KEEP_FORMATTING=""),
                       timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"man -l {path} exited {p.returncode}: {p.stderr}")
    return p.stdout, p.stderr.strip()


def help_of(*argv):
    p = subprocess.run([os.path.join(BIN, argv[0]), *argv[1:]], capture_output=True, text=True,
                       env=dict(os.environ, LANG="C.UTF-8"), timeout=60)
    return p.stdout


def long_options(help_text):
    """The --options a GOption --help lists under "Application Options"."""
    section = help_text.split("Application Options:", 1)[-1]
    return sorted(set(re.findall(r"^\s+(?:-\w, )?(--[a-z][a-z-]*)", section, re.M)))


class ManualPages(unittest.TestCase):
    def assertHas(self, pattern, text, what):
        """PATTERN (a regex) in TEXT; the failure names WHAT, not the whole page."""
        self.assertTrue(re.search(pattern, text), f"{what}: no match for {pattern!r}")

    @classmethod
    def setUpClass(cls):
        for name, value in (("PAHT_SOURCE_DIR", SOURCE), ("PAHT_BUILD_DIR", BUILD),
                            ("PAHT_BIN_DIR", BIN)):
            if not value:
                raise RuntimeError(f"{name} is not set: run the tests through CTest")
        cls.text = {}
        for page in PAGES:
            path = os.path.join(BUILD, "man", page)
            if not os.path.isfile(path):
                raise RuntimeError(f"{path} was not built (cmake --build)")
            cls.text[page], warnings = render(path)
            cls.text[page + " warnings"] = warnings

    def test_every_page_renders_without_a_warning(self):
        for page in PAGES:
            with self.subTest(page=page):
                self.assertEqual(self.text[page + " warnings"], "")
                for heading in ("NAME", "SYNOPSIS", "DESCRIPTION", "FILES", "SEE ALSO"):
                    self.assertHas(rf"(?m)^{heading}$", self.text[page], page)

    def test_every_source_page_renders_as_it_is(self):
        """Every man/*.scd, placeholders and all, is a valid page."""
        with tempfile.TemporaryDirectory() as tmp:
            for source in sorted(glob.glob(os.path.join(SOURCE, "man", "*.scd"))):
                with self.subTest(page=os.path.basename(source)):
                    with open(source, encoding="utf-8") as f:
                        text = re.sub(r"@[A-Z_]+@", "/PLACEHOLDER", f.read())
                    out = os.path.join(tmp, os.path.basename(source)[:-4])
                    with open(out, "w", encoding="utf-8") as f:
                        p = subprocess.run(["scdoc"], input=text, stdout=f,
                                           stderr=subprocess.PIPE, text=True, timeout=60)
                    self.assertEqual(p.returncode, 0, p.stderr)
                    self.assertEqual(render(out)[1], "")

    def test_no_line_of_a_source_starts_where_roff_or_scdoc_would_eat_it(self):
        """A line that begins with "." is a roff request (scdoc loses its first dot: "..."
        became ".."), one that begins with "-" a list item, one that begins with "[" (even
        indented) a table: the sentence broken there is silently mangled or refused."""
        for source in sorted(glob.glob(os.path.join(SOURCE, "man", "*.scd"))):
            literal = False
            with open(source, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    if line.startswith("```"):
                        literal = not literal
                        continue
                    stripped = line.lstrip("\t")
                    bad = (not literal and (re.match(r"\.(?! )", line) or
                                            re.match(r"-(?! )", line) or
                                            re.match(r"\[(?!\[)", stripped)))
                    self.assertFalse(bad, f"{os.path.basename(source)}:{number}: {line!r}")

    def test_built_pages_name_this_builds_paths(self):
        """The paths come from the install prefix, as the programs' own (--version)."""
        version = help_of("pahtd", "--version")
        config = re.search(r"^configuration file: (\S+)$", version, re.M).group(1)
        templates = re.search(r"^templates: (\S+)$", version, re.M).group(1)
        roff = {}
        for page in PAGES:
            with open(os.path.join(BUILD, "man", page), encoding="utf-8") as f:
                # the roff text, without the zero-width escapes scdoc puts after periods (the
                # rendered text may hyphenate a long path)
                roff[page] = f.read().replace("\\&", "")
            self.assertNotRegex(roff[page], r"@[A-Za-z_]+@", f"{page}: a placeholder is left")
        self.assertHas(re.escape(config), roff["pahtd.8"], "pahtd(8)")
        self.assertHas(re.escape(config), roff["pahtweb.8"], "pahtweb(8)")
        self.assertHas(re.escape(templates + "/web/"), roff["pahtweb.8"], "pahtweb(8)")
        self.assertHas(re.escape(config), roff["pahtctl.1"], "pahtctl(1)")
        self.assertHas(re.escape(config), roff["paht.conf.5"], "paht.conf(5)")
        self.assertHas(re.escape(templates), roff["paht.conf.5"], "paht.conf(5)")

    def test_pahtctl_page_documents_every_command_and_option(self):
        page = self.text["pahtctl.1"]
        listing = help_of("pahtctl", "--help")
        commands = re.findall(r"^  ([a-z][a-z-]*)\s", listing.split("Commands:", 1)[1], re.M)
        self.assertIn("migrate", commands)
        for command in commands:
            with self.subTest(command=command):
                self.assertHas(rf"(?m)^       {command}\b", page, "pahtctl(1)")
                for option in long_options(help_of("pahtctl", command, "--help")):
                    self.assertHas(re.escape(option) + r"\b", page, f"pahtctl(1), {command}")

    def test_daemon_pages_document_every_option(self):
        for program in ("pahtd", "pahtweb"):
            options = long_options(help_of(program, "--help"))
            self.assertIn("--check-config", options)
            self.assertIn("--version", options)
            for option in options:
                with self.subTest(program=program, option=option):
                    self.assertHas(rf"(?m)^       (-\w, )?{option}\b",
                                   self.text[f"{program}.8"], f"{program}(8)")

    def test_daemons_answer_usage_errors_with_the_documented_status_2(self):
        """pahtd and pahtweb share one start (config_main_options): a stray argument or an
        unknown option is exit 2 with the reason on stderr, never a daemon that starts."""
        for program in ("pahtd", "pahtweb"):
            for argv in (["stray"], ["--no-such-option"]):
                with self.subTest(program=program, argv=argv):
                    p = subprocess.run([os.path.join(BIN, program), *argv], capture_output=True,
                                       text=True, timeout=60, stdin=subprocess.DEVNULL)
                    self.assertEqual(p.returncode, 2, p.stderr)
                    self.assertRegex(p.stderr, r"stray|no-such-option")
                    self.assertEqual(p.stdout, "")

    def test_pahtweb_page_matches_the_console(self):
        """pahtweb(8) was written from the issue before the program: it promised an Open311
        API there is not, and left out --check-config and exit status 1. It names each [web]
        key of the contract, each exit status pahtweb has, and its unit."""
        page = self.text["pahtweb.8"]
        with open(os.path.join(SOURCE, "conf", "conf.c"), encoding="utf-8") as f:
            keys = re.findall(r'^\s*\{"web", "([a-z_]+)", KEY_', f.read(), re.M)
        self.assertIn("behind_proxy", keys)
        joined = re.sub(r"\u2010\n\s*", "", page)  # words man hyphenated at a line end
        for key in keys:
            with self.subTest(key=key):
                self.assertHas(rf"\b{key}\b", joined, "pahtweb(8)")
        # 0 stopped, 1 a temporary failure (the unit restarts it), 2 configuration
        exits = page.split("\nEXIT STATUS\n", 1)[1].split("\nENVIRONMENT\n", 1)[0]
        self.assertEqual(re.findall(r"(?m)^       (\d)$", exits), ["0", "1", "2"])
        self.assertIn("pahtweb.service", page)
        # issue 15: every Open311 path of the route table is described
        with open(os.path.join(SOURCE, "web", "routes.c"), encoding="utf-8") as f:
            paths = re.findall(r'"(/open311/v2/[a-z]+)[./]', f.read())
        self.assertIn("/open311/v2/discovery", paths)
        for path in paths:
            with self.subTest(path=path):
                self.assertIn(path, joined)

    def test_paht_conf_page_documents_every_key_of_the_contract(self):
        with open(os.path.join(SOURCE, "conf", "conf.c"), encoding="utf-8") as f:
            table = f.read()
        keys = sorted(set(re.findall(r'^\s*\{"([a-z]+)", "([a-z_]+)", KEY_', table, re.M)))
        self.assertGreater(len(keys), 30)
        page = self.text["paht.conf.5"]
        sections = dict(re.findall(r"(?ms)^\[(\w+)\]\n(.*?)(?=^\S)", page))
        for group, key in keys:
            with self.subTest(group=group, key=key):
                self.assertIn(group, sections, f"no [{group}] section")
                self.assertHas(rf"(?m)^       {key} = ", sections[group], f"paht.conf(5) [{group}]")


if __name__ == "__main__":
    unittest.main()
