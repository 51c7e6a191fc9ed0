"""Who may change the database's schema (issue 11, item 5), on real SQLite files.

Only pahtd (when it starts) and an explicit `pahtctl migrate` (with pahtd stopped) upgrade a
database; every other pahtctl command refuses a database of another schema version than its
own, older or newer, with exit status 2 and what to run, and leaves it as it was. Before this,
any pahtctl command migrated the database, under a running pahtd of the older version.

The older database is a real one of the first release (schema version 1,
ops-schema-v1.sql, a `.dump` with one report, its event, deadline and sent acknowledgement).
"""
import datetime
import os
import sqlite3
import unittest

import pahttest

HERE = os.path.dirname(os.path.abspath(__file__))
V1_DUMP = os.path.join(HERE, "ops-schema-v1.sql")
CODE = "PAHT-2026-000001"  # the report in the dump
# the morning after the dump's report arrived (Monday 12 January 2026, 09:10)
NOW = {"PAHT_NOW": datetime.datetime(2026, 1, 12, 10, 0, tzinfo=pahttest.VN_TZ).isoformat()}


def user_version(path):
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def schema(path):
    """The tables and indexes of the database at path, as SQL."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return sorted(r[0] for r in db.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"))


def set_user_version(path, version):
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {int(version)}")


def first_release_database(gw):
    """gw's database as the first release left it (schema version 1), 0600."""
    with open(V1_DUMP, encoding="utf-8") as f:
        dump = f.read()
    fd = os.open(gw.database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    with sqlite3.connect(gw.database) as db:
        db.executescript(dump)
    assert user_version(gw.database) == 1


class SchemaVersions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = pahttest.shared_stack()
        fresh = pahttest.Gateway(cls.stack, pahttest.unique("schema"))
        fresh.pahtctl_json("drafts")
        cls.latest = user_version(fresh.database)  # this build's version

    def gateway(self):
        return pahttest.Gateway(self.stack, pahttest.unique("schema"))

    def mail(self, gw):
        path = os.path.join(gw.dir, "report.eml")
        with open(path, "wb") as f:
            f.write(pahttest.make_mail("dan@example.vn", gw.address, "Ổ gà", "Ổ gà lớn.\n"))
        return path

    def test_a_new_database_gets_this_version_from_any_command(self):
        gw = self.gateway()
        self.assertEqual(gw.pahtctl_json("drafts"), [])
        self.assertEqual(user_version(gw.database), self.latest)
        self.assertGreater(self.latest, 1)

    def test_pahtctl_refuses_an_older_database_and_leaves_it_as_it_was(self):
        gw = self.gateway()
        first_release_database(gw)
        before = schema(gw.database)
        for args in (["drafts"], ["show", CODE, "--json"], ["ingest", self.mail(gw)],
                     ["reject", CODE, "--reason", "spam"]):
            run = gw.pahtctl(*args, env=NOW)
            self.assertEqual(run.returncode, 2, f"pahtctl {args}: {run.stderr}")
            self.assertIn(f"database {gw.database} has schema version 1, older than this "
                          f"program's ({self.latest})", run.stderr)
            self.assertIn("pahtctl migrate", run.stderr)
            self.assertIn("systemctl restart pahtd", run.stderr)
            self.assertEqual(run.stdout, "")
        self.assertEqual(user_version(gw.database), 1)
        self.assertEqual(schema(gw.database), before)

    def test_pahtctl_migrate_upgrades_an_older_database_keeping_its_reports(self):
        gw = self.gateway()
        first_release_database(gw)
        self.assertEqual(gw.pahtctl_json("migrate", env=NOW),
                         {"database": gw.database, "from": 1, "to": self.latest})
        self.assertEqual(user_version(gw.database), self.latest)
        report = gw.pahtctl_json("show", CODE, env=NOW)
        self.assertEqual(report["citizen"]["name"], "Nguyễn Văn An")
        self.assertEqual(report["subject"], "Đèn đường hỏng trước chợ Phường 2")
        self.assertEqual([(m["kind"], m["state"]) for m in report["mail"]], [("ack", "sent")])
        self.assertEqual([o["kind"] for o in gw.pahtctl_json("outbox", env=NOW)], ["ack"])
        again = gw.pahtctl("migrate", env=NOW)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(again.stdout.strip(),
                         f"{gw.database}: schema version {self.latest}, up to date")

    def test_pahtd_upgrades_an_older_database_when_it_starts(self):
        gw = self.gateway()
        first_release_database(gw)
        run = gw.pahtd("--once", env=NOW)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn(f"database {gw.database} migrated to schema version {self.latest}",
                      run.stderr)
        self.assertEqual(user_version(gw.database), self.latest)
        self.assertEqual(gw.pahtctl_json("show", CODE, env=NOW)["code"], CODE)

    def test_a_newer_database_is_refused_by_every_program(self):
        gw = self.gateway()
        self.assertEqual(gw.pahtctl_json("drafts"), [])
        set_user_version(gw.database, self.latest + 1)
        for run in (gw.pahtctl("drafts"), gw.pahtctl("migrate"), gw.pahtd("--once")):
            self.assertEqual(run.returncode, 2, run.stderr)
            self.assertIn(f"has schema version {self.latest + 1}, newer than this program's "
                          f"({self.latest})", run.stderr)
        self.assertEqual(user_version(gw.database), self.latest + 1)

    def test_migrate_refused_while_pahtd_runs(self):
        gw = self.gateway()
        proc = gw.start_pahtd()
        try:
            lock = gw.database + ".lock"

            def holder():
                try:
                    with open(lock, encoding="ascii") as f:
                        return f.read().strip() == str(proc.pid)
                except FileNotFoundError:
                    return False

            pahttest.wait_for(holder, what="pahtd holding the fetcher's lock")
            run = gw.pahtctl("migrate")
            self.assertEqual(run.returncode, 2, run.stderr)
            self.assertIn(f"another pahtd (pid {proc.pid}) is already running", run.stderr)
            self.assertIn("stop pahtd first", run.stderr)
        finally:
            self.assertEqual(gw.stop_pahtd(proc), 0, gw.log())


if __name__ == "__main__":
    unittest.main()
