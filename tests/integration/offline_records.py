"""Records the province can keep, prove and restore, and personal data kept no longer than the
law asks (issue 16), through pahtctl on real SQLite files and real data folders: no server.

Statistics before and after a purge or an erasure are the same numbers; a purged report keeps
its code, dates, agency, result and rating and nothing of its citizen; verify finds a removed
and a corrupted file; a backup restored into a fresh folder has the same reports, letters and
attachments.
"""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest
import zipfile

import pahttest

MAIL = os.environ.get("PAHT_TEST_MAIL_DIR", "")
NOW = "2026-12-01T09:00:00+07:00"        # a Tuesday
LATER = "2028-03-01T09:00:00+07:00"      # past a year of retention
# the fixtures' citizens: what must be gone after a purge
SARINH = ["Thạch Thị Sa Rinh", "094305009911", "0345678901", "ấp Trà Tim", "sarinh.thach@icloud.com"]


def new_gateway(**overrides):
    gw = pahttest.Gateway(pahttest.OfflineStack(), pahttest.unique("rec"),
                          overrides={("privacy", "retain_days"): "365", **overrides})
    gw.write_agencies({"xd": ("Sở Xây dựng", "xd@example.test", "lead-xd@example.test",
                              "Nguyễn Văn A"),
                       "gtvt": ("Sở Giao thông vận tải", "gtvt@example.test",
                                "lead-gtvt@example.test", "Trần Thị B")})
    return gw


class Records(unittest.TestCase):
    def setUp(self):
        self.gw = new_gateway()
        self.addCleanup(self.gw.close)

    def ctl(self, *args, now=NOW, code=0):
        p = self.gw.pahtctl(*args, env={"PAHT_NOW": now})
        self.assertEqual(p.returncode, code, f"pahtctl {args}: {p.stdout}\n{p.stderr}")
        for value in SARINH:
            self.assertNotIn(value, p.stderr, f"pahtctl {args} logs personal data")
        return p

    def json(self, *args, now=NOW):
        return json.loads(self.ctl(*args, "--json", now=now).stdout)

    def ingest(self, name):
        return self.json("ingest", os.path.join(MAIL, name))[0]["id"]

    def answer(self, rid, agency="xd", rating=None):
        self.ctl("accept", rid, "--agency", agency)
        answer = os.path.join(self.gw.dir, "answer.txt")
        with open(answer, "w", encoding="utf-8") as f:
            f.write("Đã thay bóng đèn.\n")
        self.ctl("result", rid, "--file", answer)
        self.ctl("approve", rid)
        self.ctl("publish", rid)
        if rating:
            self.ctl("reply", rid, "--text", rating)

    def story(self):
        """three reports: one answered and rated, one rejected, one still open"""
        answered = self.ingest("exif-gps-photo.eml")
        self.answer(answered, rating="1")
        rejected = self.ingest("complete-report.eml")
        self.ctl("reject", rejected, "--reason", "duplicate")
        still_open = self.ingest("labelled-fields-diacritics.eml")
        self.ctl("accept", still_open, "--agency", "gtvt")
        return answered, rejected, still_open

    def search(self, words):
        """how many reports the console's search index (FTS5) finds for words"""
        with sqlite3.connect(self.gw.database) as db:
            return db.execute("SELECT count(*) FROM report_search WHERE report_search MATCH ?",
                              (f'"{words}"',)).fetchone()[0]

    def stats(self, now=NOW):
        return self.json("stats", "--period", "month:2026-12", now=now)

    def test_purge_keeps_the_statistics_and_nothing_of_the_citizen(self):
        answered, rejected, still_open = self.story()
        before = self.stats()
        self.assertEqual(before["total"]["received"], 3)
        self.assertEqual(before["total"]["answered"], 1)
        shown = self.json("show", answered)
        files = [a for a in self.gw.pahtctl_json("show", answered)["attachments"]]
        self.assertTrue(files)
        dry = self.json("purge", "--dry-run", now=LATER)
        self.assertEqual(sorted(dry["would be purged"]), sorted([shown["code"],
                                                                 self.json("show", rejected)["code"]]))
        self.assertEqual(self.json("show", answered)["citizen"]["name"], "Thạch Thị Sa Rinh")
        # the console has shown the photo: its thumbnail lies beside it (web/thumbs.c), a copy
        # of the citizen's photo that verify counts with it and the purge removes with it
        with sqlite3.connect(self.gw.database) as db:
            photo = db.execute("SELECT path FROM attachment WHERE report_id = ?",
                               (answered,)).fetchone()[0]
        thumb = photo + ".thumb.jpg"
        with open(thumb, "wb") as f:
            f.write(b"\xff\xd8 a thumbnail")
        self.assertEqual(self.json("verify")["unreferenced"], [])
        self.assertEqual(self.search("rinh"), 1)  # the console's search finds her
        done = self.json("purge", now=LATER)
        self.assertEqual(len(done["purged"]), 2)
        self.assertGreaterEqual(done["files_removed"], 2)  # the raw mails and the photo
        self.assertFalse(os.path.exists(thumb))
        self.assertEqual(self.search("rinh"), 0)
        self.assertEqual(self.search("0345678901"), 0)
        self.assertEqual(self.stats(now=LATER), before)
        after = self.ctl("show", answered, "--json", now=LATER).stdout
        for value in SARINH:
            self.assertNotIn(value, after)
        report = json.loads(after)
        self.assertEqual(report["code"], shown["code"])
        self.assertEqual(report["agency"], "xd")
        self.assertEqual(report["received_at"], shown["received_at"])
        self.assertEqual(report["events"][-1]["kind"], "purged")
        # the open report keeps everything
        self.assertIsNotNone(self.json("show", still_open)["citizen"]["name"])
        # nothing left on disk that a row names, nothing left that none does
        verify = self.json("verify", "--deep", now=LATER)
        self.assertEqual((verify["missing"], verify["damaged"], verify["unreferenced"]), (0, 0, []))
        self.assertEqual(self.json("purge", now=LATER)["purged"], [])  # once

    def test_legal_hold_and_public_attachments_survive_the_purge(self):
        answered, rejected, _ = self.story()
        code = self.json("show", answered)["code"]
        self.ctl("hold", rejected, code=2)  # a hold needs its reason
        self.ctl("hold", rejected, "--note", "Tòa án yêu cầu giữ hồ sơ")
        self.ctl("attachment", answered, "1", "--public")
        done = self.json("purge", now=LATER)
        self.assertEqual(done["purged"], [code])
        self.assertEqual(len(done["held"]), 1)
        held = self.json("show", rejected, now=LATER)
        self.assertIsNotNone(held["citizen"]["email"])
        photo = self.json("show", answered, now=LATER)["attachments"][0]
        self.assertEqual(photo["filename"], "IMG_4821.JPG")
        self.assertEqual(self.json("verify", "--deep", now=LATER)["missing"], 0)
        self.ctl("hold", rejected, "--release")
        self.assertEqual(len(self.json("purge", now=LATER)["purged"]), 1)

    def test_person_export_then_erase_refuses_open_reports(self):
        answered, _, still_open = self.story()
        email = self.json("show", answered)["citizen"]["email"]
        listed = self.json("person", "--email", email.upper())
        self.assertEqual([r["id"] for r in listed], [answered])
        by_phone = self.json("person", "--phone", "+84 345 678 901")
        self.assertEqual([r["id"] for r in by_phone], [answered])
        export = os.path.join(self.gw.dir, "sarinh.zip")
        self.ctl("person", "--id", "094305009911", "--export", export)
        self.assertEqual(os.stat(export).st_mode & 0o777, 0o600)
        with zipfile.ZipFile(export) as z:
            self.assertIsNone(z.testzip())
            reports = json.loads(z.read("reports.json"))
            self.assertEqual(reports[0]["citizen"]["name"], "Thạch Thị Sa Rinh")
            photo = [n for n in z.namelist() if n.endswith("IMG_4821.JPG")]
            self.assertEqual(len(photo), 1)
            sha = hashlib.sha256(z.read(photo[0])).hexdigest()
            self.assertEqual(sha, reports[0]["attachments"][0]["sha256"])
        before = self.stats()
        # the open report's citizen asks too: refused for it, by name
        open_email = self.json("show", still_open)["citizen"]["email"]
        self.assertIsNotNone(open_email)
        refused = self.gw.pahtctl("person", "--email", open_email, "--erase",
                                  env={"PAHT_NOW": NOW})
        self.assertEqual(refused.returncode, 1, refused.stderr)
        self.assertIn(self.json("show", still_open)["code"] + " is still open", refused.stderr)
        self.ctl("person", "--email", email, "--erase")
        self.assertEqual(self.stats(), before)
        erased = self.json("show", answered)
        self.assertIsNone(erased["citizen"]["name"])
        self.assertEqual(erased["events"][-1]["kind"], "erased")

    def test_export_of_hostile_file_names_stays_in_its_folder(self):
        rid = self.ingest("attachment-hostile-names.eml")
        code = self.json("show", rid)["code"]
        export = os.path.join(self.gw.dir, "someone.zip")
        self.ctl("person", "--email", "someone@example.vn", "--export", export)
        with zipfile.ZipFile(export) as z:
            names = z.namelist()
        self.assertEqual(names[0], "reports.json")
        self.assertGreaterEqual(len(names), 3)
        for name in names[1:]:
            self.assertTrue(name.startswith(f"{code}/attachments/"), name)
            rest = name[len(f"{code}/attachments/"):]
            self.assertNotIn("/", rest)
            self.assertNotIn("\\", rest)
            self.assertFalse(any(ord(c) < 0x20 for c in rest), name)
        # never over an existing file
        again = self.gw.pahtctl("person", "--email", "someone@example.vn", "--export", export,
                                env={"PAHT_NOW": NOW})
        self.assertEqual(again.returncode, 1)

    def test_verify_finds_a_removed_and_a_corrupted_file(self):
        self.story()
        self.assertEqual(self.json("verify", "--deep")["problems"], [])
        store = os.path.join(self.gw.data_dir, "att")
        files = sorted(os.path.join(d, f) for d, _, fs in os.walk(store) for f in fs)
        raws = sorted(os.path.join(d, f) for d, _, fs in os.walk(os.path.join(
            self.gw.data_dir, "raw")) for f in fs)
        self.assertTrue(files and raws)
        os.unlink(raws[0])
        with open(files[0], "r+b") as f:  # the same size, one byte changed
            first = f.read(1)
            f.seek(0)
            f.write(bytes([first[0] ^ 0xFF]))
        stray = os.path.join(store, "ab", "stray")
        os.makedirs(os.path.dirname(stray), exist_ok=True)
        with open(stray, "w") as f:
            f.write("nobody's")
        shallow = self.gw.pahtctl("verify", "--json", env={"PAHT_NOW": NOW})
        self.assertEqual(shallow.returncode, 1)
        shallow = json.loads(shallow.stdout)
        self.assertEqual((shallow["missing"], shallow["damaged"]), (1, 0))
        self.assertEqual(shallow["problems"], [f"missing: {raws[0]}"])
        self.assertEqual(shallow["unreferenced"], [stray])
        deep = json.loads(self.gw.pahtctl("verify", "--deep", "--json",
                                          env={"PAHT_NOW": NOW}).stdout)
        self.assertEqual((deep["missing"], deep["damaged"]), (1, 1))
        self.assertIn(f"wrong SHA-256: {files[0]}", deep["problems"])

    def test_backup_restores_the_same_reports_letters_and_attachments(self):
        ids = self.story()
        backups = os.path.join(self.gw.dir, "backups")
        first = self.json("backup", backups)
        self.assertFalse(first["incremental"])
        self.assertEqual(first["problems"], [])
        later = self.json("backup", backups, now="2026-12-02T09:00:00+07:00")
        self.assertTrue(later["incremental"])
        self.assertEqual(later["reused"], first["linked"] + first["copied"])
        self.assertEqual(later["linked"] + later["copied"], 0)
        self.assertEqual(self.json("verify", "--deep", later["folder"])["problems"], [])
        fresh = new_gateway()
        self.addCleanup(fresh.close)
        restored = fresh.pahtctl("restore", backups, env={"PAHT_NOW": NOW})
        self.assertEqual(restored.returncode, 0, restored.stderr)
        for rid in ids:
            a = self.json("show", rid)
            b = fresh.pahtctl_json("show", rid, env={"PAHT_NOW": NOW})
            self.assertEqual(a, b)
        self.assertEqual(self.json("outbox"), fresh.pahtctl_json("outbox", env={"PAHT_NOW": NOW}))
        check = fresh.pahtctl_json("verify", "--deep", env={"PAHT_NOW": NOW})
        self.assertEqual((check["files"], check["problems"]), (first["files"], []))
        self.assertTrue(all(p.startswith(fresh.data_dir) for p in
                            [os.path.join(fresh.data_dir, x) for x in os.listdir(fresh.data_dir)]))
        # never over data
        again = fresh.pahtctl("restore", backups, env={"PAHT_NOW": NOW})
        self.assertEqual(again.returncode, 1)
        self.assertIn("restore only", again.stderr)

    def test_a_damaged_backup_is_not_restored(self):
        self.story()
        backups = os.path.join(self.gw.dir, "backups")
        made = self.json("backup", backups)
        raw = os.path.join(made["folder"], "raw")
        victim = sorted(os.path.join(d, f) for d, _, fs in os.walk(raw) for f in fs)[0]
        os.unlink(victim)  # a hard link: the live file stays as it is
        with open(victim, "wb") as f:
            f.write(b"Subject: not what was backed up\r\n\r\n")
        fresh = new_gateway()
        self.addCleanup(fresh.close)
        p = fresh.pahtctl("restore", made["folder"], env={"PAHT_NOW": NOW})
        self.assertEqual(p.returncode, 1)
        self.assertIn("damaged", p.stderr)
        self.assertFalse(os.path.exists(fresh.database))

    def test_acknowledgement_carries_the_privacy_notice(self):
        self.gw.config["privacy"] = {"retain_days": "1825", "contact": "baomat@soctrang.gov.vn"}
        self.gw.write_config()
        rid = self.ingest("labelled-fields-diacritics.eml")
        text = self.ctl("preview", "ack", rid).stdout
        self.assertIn("được lưu để tiếp nhận, xác minh và xử lý phản ánh", text)  # what, why
        self.assertIn("Sau 5 năm kể từ khi phản ánh kết thúc, thông tin cá nhân", text)  # how long
        self.assertIn("yêu cầu xóa thông tin cá nhân của mình (Luật Bảo vệ dữ liệu cá nhân): xin "
                      "gửi yêu cầu đến baomat@soctrang.gov.vn", text)  # whom to ask
        html = self.ctl("preview", "ack", rid, "--html").stdout
        self.assertIn('<a href="mailto:baomat@soctrang.gov.vn">', html)

    def test_stats_csv_is_utf8_with_a_bom_and_ranges_are_inclusive(self):
        self.story()
        p = self.gw.pahtctl("stats", "--from", "2026-12-01", "--to", "2026-12-01", "--csv",
                            env={"PAHT_NOW": NOW})
        self.assertEqual(p.returncode, 0, p.stderr)
        raw = subprocess.run([self.gw.binary("pahtctl"), "-c", self.gw.config_path, "stats",
                              "--from", "2026-12-01", "--to", "2026-12-01", "--csv"],
                             env=dict(os.environ, PAHT_NOW=NOW, LANG="C"), capture_output=True,
                             check=True).stdout
        self.assertTrue(raw.startswith(b"\xef\xbb\xbfM\xc3\xa3 c\xc6\xa1 quan,"), raw[:40])
        lines = raw.decode("utf-8-sig").split("\r\n")
        self.assertEqual(lines[-2].split(",")[1:3], ["Tổng cộng", "3"])
        none = self.json("stats", "--from", "2026-11-30", "--to", "2026-11-30")
        self.assertEqual(none["total"]["received"], 0)
        overdue = self.json("stats", "--period", "month:2026-12", "--overdue")
        self.assertEqual(overdue, [])


if __name__ == "__main__":
    unittest.main()
