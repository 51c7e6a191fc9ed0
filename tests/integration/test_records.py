"""Records end to end with the real mail stack (issue 16): the statistics digest reaches its
recipients once per closed period however often pahtd restarts; a backup taken while pahtd
takes in mail, and pahtd killed in the middle of it, restores onto a fresh folder with the same
reports, letters and attachments; below [gateway] min_free_mb pahtd fetches nothing, tells the
IOC once, and goes on when there is room again; a disk full at start or filling while pahtd
runs (SQLITE_FULL) is waited out, never an exit."""
import hashlib
import json
import os
import sqlite3
import subprocess
import tempfile
import threading
import unittest

import daemontest
import pahttest

CLOSED = "2026-12-15T06:00:00+07:00"   # Tuesday: December's periods closed at midnight
OPENING = "2026-12-15T07:30:00+07:00"  # the first working minutes after them


class Records(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = pahttest.shared_stack()

    def gateway(self, overrides=None):
        gw = pahttest.Gateway(self.stack, pahttest.unique("rec"), overrides=overrides)
        self.addCleanup(gw.close)
        return gw

    def run_once(self, gw, now):
        p = gw.pahtd("--once", env={"PAHT_NOW": now})
        self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def test_digest_once_per_period_on_the_first_working_day_across_restarts(self):
        names = [pahttest.unique("so-tttt"), pahttest.unique("ubnd")]
        recipients = [f"{n}@{self.stack.domain}" for n in names]
        gw = self.gateway({("reports", "recipients"): ", ".join(recipients)})
        citizen = daemontest.citizen(self.stack)
        gw.deliver(pahttest.make_mail(citizen, gw.address, "Đèn đường hỏng",
                                      "Đèn đường hỏng.\n" + pahttest.complete_details()),
                   sender=citizen)
        self.run_once(gw, "2026-12-10T09:00:00+07:00")
        self.run_once(gw, CLOSED)  # the periods closed, but it is not a working minute yet
        digests = [e for e in gw.pahtctl_json("outbox") if e["kind"] == "stats_digest"]
        self.assertEqual(digests, [])
        for restart in range(3):
            self.run_once(gw, OPENING)
        digests = [e for e in gw.pahtctl_json("outbox") if e["kind"] == "stats_digest"]
        # month 2026-12, quarter 2026-Q4, half 2026-H2, year 2026, to each recipient once
        self.assertEqual(len(digests), 8, digests)
        self.assertEqual(sorted(e["to"] for e in digests), sorted(recipients * 4))
        mail = pahttest.wait_for(lambda: len(pahttest.messages(self.stack, recipients[0])) == 4
                                 and pahttest.messages(self.stack, recipients[0]), timeout=30)
        subjects = sorted(str(m["Subject"]) for m in mail)
        self.assertIn("[PAHT] Thống kê phản ánh hiện trường tháng 12/2026 (15/11/2026 - "
                      "14/12/2026)", subjects)
        self.assertIn("quý IV/2026", " ".join(subjects))
        month = [m for m in mail if "tháng 12/2026" in str(m["Subject"])][0]
        csv = [p for p in month.iter_attachments()][0]
        self.assertEqual(csv.get_filename(), "thong-ke-paht-month-2026-12.csv")
        data = csv.get_payload(decode=True)
        self.assertTrue(data.startswith(b"\xef\xbb\xbf"))
        total = data.decode("utf-8-sig").split("\r\n")[-2].split(",")
        self.assertEqual(total[1:3], ["Tổng cộng", "1"])
        self.assertIn("Tiếp nhận:                 1", pahttest.plain_text(month))
        # the next month's digest comes in January, not before
        self.run_once(gw, "2027-01-14T09:00:00+07:00")
        self.assertEqual(len([e for e in gw.pahtctl_json("outbox")
                              if e["kind"] == "stats_digest"]), 8)

    def test_backup_under_load_with_pahtd_killed_restores_the_same(self):
        gw = self.gateway()
        citizens = [daemontest.citizen(self.stack) for _ in range(4)]
        photo = b"\xff\xd8\xff\xe0" + os.urandom(30000)
        batch = [(c, pahttest.make_mail(c, gw.address, f"Ổ gà số {i}",
                                        f"Ổ gà số {i}.\n" + pahttest.complete_details(),
                                        attachments=[(f"anh-{i}.jpg", "image/jpeg",
                                                      photo + bytes([i]))]))
                 for i, c in enumerate(citizens * 15)]
        daemontest.deliver_many(self.stack, gw.address, batch[:20])
        self.run_once(gw, pahttest.TEST_NOW.isoformat())
        daemontest.deliver_many(self.stack, gw.address, batch[20:])
        pahtd = gw.start_pahtd()
        backups = os.path.join(gw.dir, "backups")
        result = {}

        go_on = os.path.join(gw.dir, "go-on")

        def backup():
            result["run"] = gw.pahtctl("backup", backups, "--json",
                                       env={"PAHT_TEST_FAULT": f"backup_pause:{go_on}"})

        pahttest.wait_for(lambda: len(gw.pahtctl_json("drafts")) > 22, timeout=60)
        worker = threading.Thread(target=backup)
        worker.start()
        # the database is copied, the files not yet: pahtd, still taking in mail, dies here
        pahttest.wait_for(lambda: os.path.exists(go_on + ".paused"), timeout=60)
        self.assertIsNone(pahtd.poll())
        gw.stop_pahtd(pahtd, sig=9)
        open(go_on, "w").close()
        worker.join(timeout=120)
        run = result["run"]
        self.assertEqual(run.returncode, 0, run.stderr)
        made = json.loads(run.stdout)
        self.assertEqual(gw.pahtctl_json("verify", "--deep", made["folder"])["problems"], [])
        # what the copy holds, read from it directly
        db = sqlite3.connect(f"file:{made['folder']}/paht.db?mode=ro", uri=True)
        codes = [r[0] for r in db.execute("SELECT code FROM report ORDER BY id")]
        letters = [tuple(r) for r in db.execute("SELECT id, kind, rcpt FROM outbox ORDER BY id")]
        files = {r[0]: r[1] for r in db.execute("SELECT filename, sha256 FROM attachment")}
        db.close()
        self.assertGreaterEqual(len(codes), 20)
        fresh = self.gateway()
        restored = fresh.pahtctl("restore", backups)
        self.assertEqual(restored.returncode, 0, restored.stderr)
        shown = [fresh.pahtctl_json("show", code) for code in codes]
        self.assertEqual([r["code"] for r in shown], codes)
        self.assertEqual([(e["id"], e["kind"], e["to"]) for e in fresh.pahtctl_json("outbox")],
                         letters)
        for report in shown:
            for a in report["attachments"]:
                self.assertEqual(files[a["filename"]], a["sha256"])
        check = fresh.pahtctl_json("verify", "--deep")
        self.assertEqual((check["problems"], check["unreferenced"]), ([], []))
        self.assertGreaterEqual(check["files"], 2 * len(codes))
        # the restored gateway works: it takes in the mail the killed one left
        self.run_once(fresh, pahttest.TEST_NOW.isoformat())

    def test_restore_while_pahtd_runs_is_refused_without_advice_to_restart(self):
        # restarting pahtd helps migrate (pahtd migrates at start) but never restore
        gw = self.gateway()
        backups = os.path.join(gw.dir, "backups")
        self.assertEqual(gw.pahtctl("backup", backups).returncode, 0)
        pahtd = gw.start_pahtd()
        pahttest.wait_for(lambda: "parser process" in gw.log(), timeout=60, what="pahtd started")
        p = gw.pahtctl("restore", backups)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("stop pahtd first (systemctl stop pahtd)\n", p.stderr)
        self.assertNotIn("restart", p.stderr)
        self.assertEqual(gw.stop_pahtd(pahtd), 0)

    def test_low_disk_stops_fetching_tells_the_ioc_once_and_resumes(self):
        # more than any disk here has free (1 TB): the real statvfs says "below"
        gw = self.gateway({("gateway", "min_free_mb"): "1000000"})
        citizen = daemontest.citizen(self.stack)
        gw.deliver(pahttest.make_mail(citizen, gw.address, "Cống tắc",
                                      "Cống tắc.\n" + pahttest.complete_details()),
                   sender=citizen)
        p = self.run_once(gw, pahttest.TEST_NOW.isoformat())
        self.assertIn("no mail is fetched", p.stderr)
        p = self.run_once(gw, pahttest.TEST_NOW.isoformat())  # a restart: said once
        self.assertNotIn("no mail is fetched", p.stderr)
        self.assertEqual(gw.count(), 1)  # still waiting on the server
        alerts = [e for e in gw.pahtctl_json("outbox") if e["kind"] == "ioc_alert"]
        self.assertEqual(len(alerts), 1, alerts)
        alert = pahttest.wait_for(lambda: pahttest.messages(self.stack, gw.ioc_address))
        self.assertIn("Ổ đĩa của cổng thư sắp đầy", str(alert[0]["Subject"]))
        gw.config["gateway"]["min_free_mb"] = "1"
        gw.write_config()
        p = self.run_once(gw, pahttest.TEST_NOW.isoformat())
        self.assertIn("free space is back", p.stderr)
        self.assertEqual(gw.count(), 0)
        self.assertEqual(len(gw.pahtctl_json("drafts")), 1)


class FullDisk(unittest.TestCase):
    """A disk with no room at all (a real tmpfs, full to its last byte), at start or filling
    while pahtd runs: pahtd waits, it does not exit (exit 2 is a configuration error that
    systemd does not restart; exit 1 would be restarted every 10 s, a crash loop), and no
    citizen's mail is lost."""

    def gateway_on_tmpfs(self, stack, size):
        mount = tempfile.mkdtemp(prefix="paht-full-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", mount],
                       check=True)
        self.addCleanup(os.rmdir, mount)
        self.addCleanup(subprocess.run, ["umount", "-l", mount], check=False)
        gw = pahttest.Gateway(stack, pahttest.unique("full"), overrides={
            ("gateway", "database"): os.path.join(mount, "paht.db"),
            ("gateway", "data_dir"): os.path.join(mount, "data"),
            ("gateway", "min_free_mb"): "0"})
        self.addCleanup(gw.close)
        return gw, mount

    @staticmethod
    def fill_up(mount):
        """Fill MOUNT to its last byte; returns the file that holds it."""
        filler = os.path.join(mount, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        return filler

    def test_full_disk_at_start_is_waited_out_not_an_exit(self):
        gw, mount = self.gateway_on_tmpfs(pahttest.OfflineStack(), "3m")
        p = gw.pahtctl("ingest", os.path.join(os.environ["PAHT_TEST_MAIL_DIR"],
                                              "complete-report.eml"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.fill_up(mount)
        pahtd = gw.start_pahtd()
        pahttest.wait_for(lambda: "trying again every minute" in gw.log()
                          or pahtd.poll() is not None, timeout=60)
        self.assertIsNone(pahtd.poll(), gw.log())
        self.assertIn("is the disk full?", gw.log())
        self.assertEqual(gw.stop_pahtd(pahtd), 0)
        # pahtctl says what it is, as a temporary failure (1), not a configuration error (2)
        p = gw.pahtctl("drafts")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("is the disk full?", p.stderr)

    def test_a_disk_filling_while_pahtd_runs_is_waited_out_and_the_mail_kept(self):
        stack = pahttest.shared_stack()
        gw, mount = self.gateway_on_tmpfs(stack, "16m")
        pahtd = gw.start_pahtd(env={"PAHT_NOW": pahttest.TEST_NOW.isoformat()})
        pahttest.wait_for(lambda: "parser process" in gw.log(), timeout=60, what="pahtd started")
        filler = self.fill_up(mount)
        citizen = daemontest.citizen(stack)
        gw.deliver(pahttest.make_mail(citizen, gw.address, "Ổ gà trên đường",
                                      "Ổ gà.\n" + pahttest.complete_details()),
                   sender=citizen)
        # SQLITE_FULL while recording it: a temporary failure, retried
        pahttest.wait_for(lambda: "disk is full (retrying with backoff)" in gw.log()
                          or pahtd.poll() is not None, timeout=120, what="the full disk noticed")
        self.assertIsNone(pahtd.poll(), gw.log())
        self.assertEqual(gw.count(), 1)  # the mail waits on the server
        os.unlink(filler)
        pahttest.wait_for(lambda: gw.count() == 0, timeout=180, what="the mail taken in")
        self.assertEqual(gw.stop_pahtd(pahtd), 0)
        self.assertEqual(len(gw.pahtctl_json("drafts")), 1)

if __name__ == "__main__":
    unittest.main()
