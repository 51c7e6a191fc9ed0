"""The first slice, end to end on real Dovecot and Postfix: a citizen's e-mail becomes a draft
and gets an acknowledgement; nothing is done twice; a server we cannot trust is refused; a bad
configuration is named."""
import contextlib
import email.policy
import json
import os
import re
import sqlite3
import stat
import unittest

import pahttest

# complete reports (Điều 4: name, address, ID, phone, place): each gets the acknowledgement
CITIZENS = [
    ("Nguyễn Văn An", "Đèn đường hỏng trước chợ Phường 2",
     "Kính gửi Trung tâm IOC,\n\nĐèn đường trước cổng chợ Phường 2 đã hỏng hơn một tuần, "
     "buổi tối rất tối và nguy hiểm.\n\nĐịa chỉ: 25 Trần Hưng Đạo, phường 2\n"
     "CCCD: 094201001234\nĐiện thoại: 0912 345 678\nĐịa điểm: cổng chợ Phường 2\n\n"
     "Trân trọng,\nNguyễn Văn An\n"),
    ("Trần Thị Bích Ngọc", "Rác thải tồn đọng trên đường Lê Lợi",
     "Xin chào,\n\nRác thải tồn đọng ở góc đường Lê Lợi – Hai Bà Trưng, bốc mùi hôi thối.\n"
     "Họ tên: Trần Thị Bích Ngọc\nĐịa chỉ: 3 Lê Lợi, phường 6\nCCCD: 094301002345\n"
     "SĐT: 0987 654 321\nĐịa điểm: góc đường Lê Lợi – Hai Bà Trưng\n"),
    ("Lê Hoàng Phúc", "Ống nước bị vỡ gây ngập",
     "Ống nước trên đường Trần Hưng Đạo bị vỡ từ sáng nay, nước tràn ra mặt đường.\n"
     "Họ tên: Lê Hoàng Phúc\nĐịa chỉ: 120 Trần Hưng Đạo, phường 2\nCCCD: 094085003456\n"
     "SĐT: 0939 111 222\nĐịa điểm: trước số 120 Trần Hưng Đạo\n"),
]


def search_index_state(database):
    """(reports in the search index, reports waiting for it, reports)"""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return tuple(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                     for table in ("report_search_docsize", "report_search_pending", "report"))


class FirstSlice(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = pahttest.shared_stack()
        cls.gw = pahttest.Gateway(cls.stack, pahttest.unique("paht"))
        cls.citizens = []
        for i, (name, subject, body) in enumerate(CITIZENS):
            local = pahttest.unique("citizen%d" % i)
            addr = "%s@%s" % (local, cls.stack.domain)
            photo = [("ảnh hiện trường.jpg", "image/jpeg",
                      b"\xff\xd8\xff\xe0" + os.urandom(2000) + b"\xff\xd9")] if i == 0 else []
            msg = pahttest.make_mail('"%s" <%s>' % (name, addr), cls.gw.address, subject, body,
                                     attachments=photo)
            cls.stack.deliver(cls.gw.address, msg, sender=addr)
            cls.citizens.append((local, addr, name, subject, msg))
        pahttest.wait_for(lambda: pahttest.count(cls.stack, cls.gw.address) == 3)
        cls.first = cls.gw.pahtd("--once")

    def test_1_three_drafts_listed(self):
        self.assertEqual(self.first.returncode, 0, self.first.stderr)
        drafts = self.gw.pahtctl_json("drafts")
        self.assertEqual(len(drafts), 3)
        codes = [d["code"] for d in drafts]
        self.assertEqual(len(set(codes)), 3)
        for d in drafts:
            self.assertRegex(d["code"], r"^PAHT-\d{4}-\d{6}$")
            self.assertEqual(d["classification"], "report")
        by_subject = {d["subject"]: d for d in drafts}
        for _, addr, _, subject, _ in self.citizens:
            self.assertIn(subject, by_subject)
            self.assertEqual(by_subject[subject]["citizen"]["email"], addr)
        self.assertEqual(by_subject[CITIZENS[0][1]]["attachments"], 1)

    def test_2_acknowledgements_arrive_in_citizens_mailboxes(self):
        drafts = {d["subject"]: d for d in self.gw.pahtctl_json("drafts")}
        for local, addr, name, subject, original in self.citizens:
            pahttest.wait_for(lambda: pahttest.count(self.stack, addr) >= 1, timeout=30)
            got = pahttest.messages(self.stack, addr)
            self.assertEqual(len(got), 1, "exactly one acknowledgement for %s" % addr)
            ack = got[0]
            code = drafts[subject]["code"]
            self.assertIn(code, ack["Subject"])
            self.assertIn("Đã tiếp nhận phản ánh", ack["Subject"])
            self.assertIn(subject, ack["Subject"])
            sent = email.message_from_bytes(original, policy=email.policy.default)
            self.assertEqual(ack["In-Reply-To"].strip(), sent["Message-ID"].strip())
            self.assertIn(sent["Message-ID"].strip(), ack["References"])
            self.assertEqual(ack["Auto-Submitted"], "auto-replied")
            self.assertEqual(ack["Precedence"], "bulk")
            self.assertEqual(ack["X-Auto-Response-Suppress"], "All")
            self.assertIsNotNone(ack["X-PAHT-Loop"])
            reply_to = ack["Reply-To"].addresses[0].addr_spec
            self.assertRegex(reply_to, r"^%s\+[0-9a-f]+@" % re.escape(self.gw.name))
            self.assertEqual(ack["To"].addresses[0].addr_spec, addr)
            text = pahttest.plain_text(ack)
            html = ack.get_body(("html",)).get_content()
            self.assertIn(code, text)
            self.assertIn(code, html)
            # correct Vietnamese, composed (NFC), in both parts
            self.assertIn("Trung tâm IOC tỉnh Sóc Trăng", text)
            self.assertIn("1022", text)
            import unicodedata
            self.assertEqual(text, unicodedata.normalize("NFC", text))
            self.assertIn("Trung tâm IOC tỉnh Sóc Trăng", html)

    def test_3_inbox_emptied_into_processed_folder(self):
        self.assertEqual(pahttest.count(self.stack, self.gw.address, "INBOX"), 0)
        self.assertEqual(pahttest.count(self.stack, self.gw.address, "PAHT/Processed"), 3)

    def test_4_outbox_records_the_server_reply(self):
        outbox = self.gw.pahtctl_json("outbox")
        self.assertEqual(len(outbox), 3)
        for letter in outbox:
            self.assertEqual(letter["kind"], "ack")
            self.assertEqual(letter["state"], "sent")
            self.assertRegex(letter["last_reply"] or "", r"^250")

    def test_5_show_gives_the_spec_fields(self):
        code = self.gw.pahtctl_json("drafts")[0]["code"]
        r = self.gw.pahtctl_json("show", code)
        for key in ("id", "code", "state", "overdue", "classification", "missing",
                    "confidential", "received_at", "subject", "text", "citizen", "location",
                    "occurred_at", "attachments", "agency", "coordinators", "deadlines",
                    "events", "mail"):
            self.assertIn(key, r)
        self.assertEqual(r["code"], code)
        self.assertRegex(r["received_at"], r"\+07:00$")
        self.assertEqual([m["kind"] for m in r["mail"]], ["ack"])
        self.assertEqual(r["mail"][0]["state"], "sent")
        self.assertEqual(r["events"][0]["kind"], "received")
        by_id = self.gw.pahtctl_json("show", str(r["id"]))
        self.assertEqual(by_id["code"], code)
        photo = [d for d in self.gw.pahtctl_json("drafts") if d["attachments"] == 1][0]
        shown = self.gw.pahtctl_json("show", photo["code"])
        att = shown["attachments"][0]
        self.assertEqual(att["filename"], "ảnh hiện trường.jpg")
        self.assertEqual(att["kind"], "image")
        self.assertEqual(att["size"], 2006)

    def test_6_second_run_changes_nothing(self):
        before = self.gw.pahtctl_json("outbox")
        again = self.gw.pahtd("--once")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(len(self.gw.pahtctl_json("drafts")), 3)
        self.assertEqual(self.gw.pahtctl_json("outbox"), before)
        # pahtd has exited: a second letter, had it sent one, is in Postfix's queue or delivered
        self.stack.wait_delivered([addr for _, addr, _, _, _ in self.citizens])
        for _, addr, _, _, _ in self.citizens:
            self.assertEqual(pahttest.count(self.stack, addr), 1)
        self.assertEqual(pahttest.count(self.stack, self.gw.address, "PAHT/Processed"), 3)

    def test_7_messages_put_back_are_not_drafted_twice(self):
        # what a crash between commit and move leaves, or an operator dragging mail back:
        # the same messages in the inbox under new UIDs
        imap = self.stack.imap(self.gw.address)
        try:
            imap.select('"PAHT/Processed"')
            typ, _ = imap.uid("COPY", "1:*", "INBOX")
            self.assertEqual(typ, "OK")
        finally:
            imap.logout()
        self.assertEqual(pahttest.count(self.stack, self.gw.address, "INBOX"), 3)
        run = self.gw.pahtd("--once")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(len(self.gw.pahtctl_json("drafts")), 3)
        self.assertEqual(len(self.gw.pahtctl_json("outbox")), 3)
        self.assertEqual(pahttest.count(self.stack, self.gw.address, "INBOX"), 0)
        self.stack.wait_delivered([addr for _, addr, _, _, _ in self.citizens])
        for _, addr, _, _, _ in self.citizens:
            self.assertEqual(pahttest.count(self.stack, addr), 1)

    def test_9_search_index_caught_up(self):
        # the index is written in batches (issue 18): what a pass made is indexed by its end
        indexed, waiting, reports = search_index_state(self.gw.database)
        self.assertEqual((indexed, waiting), (reports, 0))
        self.assertEqual(reports, 3)

    def test_8_data_files_are_private(self):
        for root, dirs, files in os.walk(self.gw.dir):
            for d in dirs:
                mode = stat.S_IMODE(os.stat(os.path.join(root, d)).st_mode)
                self.assertEqual(mode & 0o077, 0, os.path.join(root, d))
            for f in files:
                mode = stat.S_IMODE(os.stat(os.path.join(root, f)).st_mode)
                self.assertEqual(mode & 0o077, 0, os.path.join(root, f))


class Refusals(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = pahttest.shared_stack()

    def test_untrusted_certificate_refused(self):
        # no ca_file: the system trust store does not know the test CA
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"),
                              overrides={("imap", "ca_file"): None})
        addr = "%s@%s" % (pahttest.unique("citizen"), self.stack.domain)
        self.stack.deliver(gw.address, pahttest.make_mail(addr, gw.address, "Thử", "Nội dung\n"),
                           sender=addr)
        run = gw.pahtd("--once")
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertRegex(run.stderr, r"(?i)certificate")
        self.assertIn("127.0.0.1", run.stderr)
        self.assertEqual(gw.pahtctl_json("drafts"), [])
        # the message is still on the server, untouched
        self.assertEqual(pahttest.count(self.stack, gw.address, "INBOX"), 1)

    def test_bad_config_key_named(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"),
                              overrides={("imap", "pol_seconds"): "30"})
        for run in (gw.pahtd("--once"), gw.pahtd("--check-config"), gw.pahtctl("drafts")):
            self.assertEqual(run.returncode, 2, run.stderr)
            self.assertIn("[imap] pol_seconds", run.stderr)
            self.assertIn(gw.config_path, run.stderr)

    def test_bad_config_value_named(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"),
                              overrides={("imap", "poll_seconds"): "often"})
        run = gw.pahtd("--check-config")
        self.assertEqual(run.returncode, 2)
        self.assertIn("[imap] poll_seconds", run.stderr)
        good = pahttest.Gateway(self.stack, pahttest.unique("paht"))
        ok = good.pahtd("--check-config")
        self.assertEqual(ok.returncode, 0, ok.stderr)

    def test_world_readable_database_refused(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"))
        self.assertEqual(gw.pahtctl_json("drafts"), [])
        db = os.path.join(gw.dir, "paht.db")
        os.chmod(db, 0o644)
        run = gw.pahtctl("drafts")
        self.assertEqual(run.returncode, 2)
        self.assertIn("readable by others", run.stderr)

    def test_second_daemon_refused(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"))
        first = gw.start_pahtd()
        try:
            # the pid is written into the lock file once the lock is held
            lock = os.path.join(gw.dir, "paht.db.lock")
            pahttest.wait_for(lambda: os.path.exists(lock) and open(lock).read().strip()
                              == str(first.pid), what="the first pahtd holding the lock")
            second = gw.pahtd("--once")
            self.assertEqual(second.returncode, 2)
            self.assertIn("already running", second.stderr)
        finally:
            gw.stop_pahtd(first)
        self.assertEqual(first.returncode, 0)


class Ingest(unittest.TestCase):
    def test_ingest_files_without_imap(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"))
        paths = []
        for i in range(2):
            p = os.path.join(gw.dir, "mail%d.eml" % i)
            with open(p, "wb") as f:
                f.write(pahttest.make_mail("dan%d@example.vn" % i, gw.address,
                                           "Phản ánh số %d" % i, "Nội dung phản ánh %d\n" % i))
            paths.append(p)
        out = gw.pahtctl_json("ingest", *paths)
        self.assertEqual([o["file"] for o in out], paths)
        for o in out:
            self.assertRegex(o["code"], r"^PAHT-\d{4}-\d{6}$")
            self.assertEqual(o["classification"], "report")
            self.assertFalse(o["duplicate"])
        again = gw.pahtctl_json("ingest", paths[0])
        self.assertTrue(again[0]["duplicate"])
        self.assertEqual(again[0]["code"], out[0]["code"])
        self.assertEqual(len(gw.pahtctl_json("drafts")), 2)
        # ... and indexed for the console's search when the command ends
        self.assertEqual(search_index_state(gw.database), (2, 0, 2))
        # the CLI never sends: the answers wait in the outbox for pahtd
        queued = gw.pahtctl_json("outbox", "--state", "queued")
        self.assertEqual(sorted(q["to"] for q in queued), ["dan0@example.vn", "dan1@example.vn"])

    def test_ingest_unreadable_file_is_an_error(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"))
        run = gw.pahtctl("ingest", os.path.join(gw.dir, "missing.eml"))
        self.assertEqual(run.returncode, 1)
        self.assertIn("missing.eml", run.stderr)


if __name__ == "__main__":
    unittest.main()
