"""Outbound mail on real Postfix and Dovecot (issue 6, SPEC §7-8): every letter arrives once or
someone is told why it did not.

- a 451 letter is retried after its backoff (PAHT_NOW moves past it) and delivered once the
  server accepts; a letter refused with 4xx for three days fails;
- a 550 letter fails at once with the server's words, its address is suspended (the next
  letter there fails without any SMTP), the IOC gets one digest, and pahtctl resend queues it
  again;
- a login the server refuses holds the letters without using up their attempts and alerts
  the IOC once per outage;
- a DSN that Postfix generates for an unknown user comes back to the gateway mailbox through
  the VERP envelope address and is matched to its letter; a DSN without the token is matched
  by Message-ID; a forged token matches nothing;
- every letter carries the SPEC §7 headers, and hostile names and subjects cannot add a
  header or a recipient (pahtctl ingest, pahtd sending, the letter read back over IMAP).

Tests that inject SMTP faults run on a private stack: fault_clear() is global, and the Postfix
log is counted. The bulk tests (500 letters and a SIGKILL, 1,000 letters on one connection)
are in test_outbound_bulk.py."""
import base64
import datetime
import email
import email.policy
import os
import re
import signal
import sqlite3
import subprocess
import time
import unittest

import pahttest
from pahttest import MailStack

T0 = datetime.datetime(2026, 11, 30, 9, 0, tzinfo=pahttest.VN_TZ)  # a Monday morning


def at(**delta):
    """PAHT_NOW for T0 + delta (datetime.timedelta keywords)."""
    return {"PAHT_NOW": (T0 + datetime.timedelta(**delta)).isoformat()}


def ingest(gw, citizen, subject, body="Đèn đường trước chợ bị hỏng.\n" + pahttest.complete_details(),
           env=None, raw=None):
    """Runs one citizen mail through pahtctl ingest; returns the report code."""
    path = os.path.join(gw.dir, pahttest.unique("mail") + ".eml")
    data = raw if raw is not None else pahttest.make_mail(
        f"Nguyễn Văn An <{citizen}>", gw.address, subject, body)
    with open(path, "wb") as f:
        f.write(data)
    out = gw.pahtctl_json("ingest", path, env=env)
    assert len(out) == 1 and "error" not in out[0], out
    return out[0].get("code")


def letters(gw, kind=None, to=None):
    return [e for e in gw.pahtctl_json("outbox")
            if (kind is None or e["kind"] == kind) and (to is None or e["to"] == to)]


def one_letter(gw, kind, to):
    found = letters(gw, kind, to)
    assert len(found) == 1, f"{kind} letters to {to}: {found}"
    return found[0]


def db(gw):
    """The gateway's database, read-only (pahtctl shows no bounce records)."""
    return sqlite3.connect(f"file:{gw.database}?mode=ro", uri=True, timeout=30)


def postfix_log(stack):
    with open(stack.postfix_log, encoding="utf-8", errors="replace") as f:
        return f.read()


def text_of(msg):
    return pahttest.plain_text(msg)


def assert_spec7_headers(test, msg, auto_submitted):
    """SPEC §7: headers that keep every other system from answering an automatic letter."""
    test.assertEqual(msg["Auto-Submitted"], auto_submitted)
    test.assertEqual(msg["Precedence"], "bulk")
    test.assertEqual(msg["X-Auto-Response-Suppress"], "All")
    test.assertIsNotNone(msg["X-PAHT-Loop"])


class FailurePolicy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = MailStack.start()

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop(remove=True)

    def citizen(self, prefix="citizen"):
        return f"{pahttest.unique(prefix)}@{self.stack.domain}"

    def test_451_is_retried_after_backoff_and_delivered_once_lifted(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"))
        citizen = self.citizen()
        self.stack.fault_rcpt(citizen, 451)
        ingest(gw, citizen, "Ống nước bị vỡ", env=at())
        run = gw.pahtd("--once", env=at())
        self.assertEqual(run.returncode, 0, run.stderr)
        ack = one_letter(gw, "ack", citizen)
        self.assertEqual(ack["state"], "queued")
        self.assertEqual(ack["attempts"], 1)
        self.assertRegex(ack["last_reply"], r"^451 4\.3\.0 ")
        self.assertGreater(ack["next_attempt_at"], at()["PAHT_NOW"])
        # before the backoff (at least a minute) nothing is tried
        run = gw.pahtd("--once", env=at(seconds=30))
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(one_letter(gw, "ack", citizen)["attempts"], 1)

        self.stack.fault_clear()
        run = gw.pahtd("--once", env=at(minutes=10))
        self.assertEqual(run.returncode, 0, run.stderr)
        ack = one_letter(gw, "ack", citizen)
        self.assertEqual(ack["state"], "sent")
        self.assertEqual(ack["attempts"], 2)
        self.assertRegex(ack["last_reply"], r"^250 ")
        pahttest.wait_for(lambda: pahttest.count(self.stack, citizen) == 1, timeout=30)
        self.assertEqual(pahttest.count(self.stack, citizen), 1)

    def test_4xx_for_three_days_fails_the_letter(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"))
        citizen = f"tempfail+{pahttest.unique('x')}@{self.stack.domain}"  # 451, always
        ingest(gw, citizen, "Rác thải tồn đọng", env=at())
        gw.pahtd("--once", env=at())
        run = gw.pahtd("--once", env=at(days=2, hours=23))
        self.assertEqual(run.returncode, 0, run.stderr)
        ack = one_letter(gw, "ack", citizen)
        self.assertEqual((ack["state"], ack["attempts"]), ("queued", 2))
        run = gw.pahtd("--once", env=at(days=3, minutes=1))
        self.assertEqual(run.returncode, 0, run.stderr)
        ack = one_letter(gw, "ack", citizen)
        self.assertEqual(ack["state"], "failed")
        self.assertIn("gave up after 3 days", ack["last_reply"])
        self.assertIn("451 4.3.0", ack["last_reply"])
        # a temporary failure is no reason to stop writing to the address
        self.assertEqual(db(gw).execute("SELECT count(*) FROM address_suspension").fetchone()[0], 0)

    def test_550_fails_at_once_suspends_the_address_and_the_ioc_gets_a_digest(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"))
        citizen = f"permfail+{pahttest.unique('x')}@{self.stack.domain}"  # 550 5.1.1, always
        code = ingest(gw, citizen, "Cây đổ chắn đường", env=at())
        run = gw.pahtd("--once", env=at())
        self.assertEqual(run.returncode, 0, run.stderr)
        ack = one_letter(gw, "ack", citizen)
        self.assertEqual(ack["state"], "failed")
        self.assertEqual(ack["attempts"], 1)
        self.assertRegex(ack["last_reply"], r"^550 5\.1\.1 .*injected permanent failure")
        failed = gw.pahtctl_json("outbox", "--state", "failed")
        self.assertEqual([e["id"] for e in failed], [ack["id"]])
        text = gw.pahtctl("outbox", "--state", "failed").stdout
        self.assertIn("injected permanent failure", text)

        # the IOC hears of it once, in a digest, with the reason and the suspension
        pahttest.wait_for(lambda: pahttest.count(self.stack, gw.ioc_address) == 1, timeout=30)
        digest = pahttest.messages(self.stack, gw.ioc_address)[0]
        assert_spec7_headers(self, digest, "auto-generated")
        self.assertIn("1 thư không gửi được", digest["Subject"])
        body = text_of(digest)
        self.assertIn(f"Thư số {ack['id']}", body)
        # the citizen's address shortened, in the server's reply too: the IOC's mailbox holds
        # no personal data (pahtctl outbox --state failed has it)
        self.assertIn(pahttest.shortened(citizen), body)
        self.assertNotIn(citizen, body)
        self.assertIn(code, body)
        self.assertIn("injected permanent failure", body)
        self.assertIn("tạm ngừng gửi thư đến ngày", body)
        self.assertIn("liên hệ người dân qua kênh khác", body)
        show = gw.pahtctl_json("show", code)
        self.assertIn("mail_failed", [e["kind"] for e in show["events"]])

        # the address is suspended: the next letter fails at once, without SMTP
        rejects = lambda: postfix_log(self.stack).count(f"<{citizen}>: Recipient address rejected")
        self.assertEqual(rejects(), 1)
        ingest(gw, citizen, "Thêm thông tin về cây đổ", env=at(minutes=5))
        run = gw.pahtd("--once", env=at(minutes=5))
        self.assertEqual(run.returncode, 0, run.stderr)
        second = [e for e in letters(gw, "ack", citizen) if e["id"] != ack["id"]][0]
        self.assertEqual(second["state"], "failed")
        self.assertIn("suspended until", second["last_reply"])
        self.assertEqual(rejects(), 1)
        # not a second digest within the hour; the next one lists the new failure
        self.assertEqual(len(letters(gw, "digest")), 1)
        run = gw.pahtd("--once", env=at(hours=2))
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(len(letters(gw, "digest")), 2)
        pahttest.wait_for(lambda: pahttest.count(self.stack, gw.ioc_address) == 2, timeout=30)
        later = pahttest.messages(self.stack, gw.ioc_address)[1]
        self.assertIn(f"Thư số {second['id']}", text_of(later))
        self.assertNotIn(f"Thư số {ack['id']} ", text_of(later))

        # pahtctl resend: the operator vouches for the address; the letter is tried again
        out = gw.pahtctl("resend", str(second["id"]), env=at(hours=3))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("suspension of its address is lifted", out.stdout)
        again = [e for e in letters(gw, "ack", citizen) if e["id"] == second["id"]][0]
        self.assertEqual((again["state"], again["attempts"]), ("queued", 0))
        run = gw.pahtd("--once", env=at(hours=3))
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(rejects(), 2)
        refused = gw.pahtctl("resend", str(ack["id"] + 1000))
        self.assertEqual(refused.returncode, 1)
        sent_digest = letters(gw, "digest")[0]
        refused = gw.pahtctl("resend", str(sent_digest["id"]))
        self.assertEqual(refused.returncode, 1)
        self.assertIn("not failed", refused.stderr)

    def test_refused_login_holds_letters_and_alerts_the_ioc_once(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"))
        gw._write("smtp.secret", "not-the-password\n", 0o600)
        citizen = self.citizen()
        ingest(gw, citizen, "Đường ngập nước", env=at())
        for minutes in (0, 10):
            run = gw.pahtd("--once", env=at(minutes=minutes))
            self.assertEqual(run.returncode, 2, run.stderr)  # the administrator must act
            self.assertRegex(run.stderr, r"535|[Ll]ogin")
            ack = one_letter(gw, "ack", citizen)
            self.assertEqual(ack["state"], "queued")
            self.assertEqual(ack["attempts"], 0)  # attempts are not used up
            self.assertEqual(len(letters(gw, "ioc_alert")), 1)  # once per outage
        gw._write("smtp.secret", self.stack.password + "\n", 0o600)
        run = gw.pahtd("--once", env=at(minutes=20))
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("accepts letters again", run.stderr)
        ack = one_letter(gw, "ack", citizen)
        self.assertEqual((ack["state"], ack["attempts"]), ("sent", 1))
        alert = letters(gw, "ioc_alert")[0]
        self.assertEqual(alert["state"], "sent")
        pahttest.wait_for(lambda: pahttest.count(self.stack, citizen) == 1, timeout=30)
        pahttest.wait_for(lambda: pahttest.count(self.stack, gw.ioc_address) == 1, timeout=30)
        mail = pahttest.messages(self.stack, gw.ioc_address)[0]
        self.assertIn("Cổng thư không gửi được thư đi", mail["Subject"])
        self.assertIn("535", text_of(mail))


    def refuse_sender_on_submission(self, sender, owner):
        """The private stack's submission port refuses SENDER to every login but OWNER
        (Postfix reject_sender_login_mismatch; Postfix looks the sender up without its
        +extension, and says no at RCPT TO, not at MAIL FROM)."""
        conf = self.stack.postfix_conf
        with open(os.path.join(conf, "senders"), "w") as f:
            f.write(f"{sender} {owner}\n")
        subprocess.run(["postmap", "-c", conf, f"hash:{conf}/senders"], check=True)
        with open(os.path.join(conf, "main.cf"), "a") as f:
            f.write(f"smtpd_sender_login_maps = hash:{conf}/senders\n")
        with open(os.path.join(conf, "master.cf")) as f:
            master = f.read()
        rule = "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n"
        master = master.replace(rule, rule + "  -o smtpd_sender_restrictions="
                                "reject_sender_login_mismatch\n", 1)
        with open(os.path.join(conf, "master.cf"), "w") as f:
            f.write(master)
        old = time.time() - 5  # Postfix ignores files younger than a second
        for name in ("main.cf", "master.cf", "senders", "senders.db"):
            os.utime(os.path.join(conf, name), (old, old))
        reloads = postfix_log(self.stack).count("reload -- version")
        os.kill(self.stack.current_postfix_pid(), signal.SIGHUP)
        # Postfix's master logs the reload once it has read the new files
        pahttest.wait_for(lambda: postfix_log(self.stack).count("reload -- version") > reloads,
                          timeout=30, what="Postfix's reload")

    def test_sender_refused_at_rcpt_holds_letters_and_suspends_nobody(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"),
                              overrides={("smtp", "url"): f"smtp://{self.stack.listen}:"
                                                          f"{self.stack.submission_port}"})
        self.refuse_sender_on_submission(gw.address, f"someone-else@{self.stack.domain}")
        citizen = self.citizen()
        ingest(gw, citizen, "Nắp cống bị mất", env=at())
        seen = len(postfix_log(self.stack))
        run = gw.pahtd("--once", env=at())
        self.assertEqual(run.returncode, 2, run.stderr)
        # Postfix's own line for this gateway's letter: searched for among what it logged
        # since, not in the log's last lines, which the tests running alongside fill too; and
        # waited for, since Postfix's log writer is a process of its own
        def refused():
            return [line for line in postfix_log(self.stack)[seen:].splitlines()
                    if "Sender address rejected" in line and gw.name in line]
        pahttest.wait_for(refused, timeout=30, what="Postfix logging the refused sender")
        ack = one_letter(gw, "ack", citizen)
        self.assertEqual((ack["state"], ack["attempts"]), ("queued", 0))
        self.assertIn("Sender address rejected", ack["last_reply"])
        self.assertEqual(len(letters(gw, "ioc_alert")), 1)
        self.assertEqual(db(gw).execute("SELECT count(*) FROM address_suspension").fetchone()[0], 0)


class Bounces(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = pahttest.shared_stack()

    def test_postfix_dsn_comes_back_through_the_envelope_address_and_fails_the_letter(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"))
        citizen = f"{pahttest.unique('nouser')}@{self.stack.domain}"  # accepted, then bounced
        code = ingest(gw, citizen, "Biển báo bị đổ")
        run = gw.pahtd("--once")
        self.assertEqual(run.returncode, 0, run.stderr)
        ack = one_letter(gw, "ack", citizen)
        self.assertEqual(ack["state"], "sent")  # Postfix took it; the DSN comes later
        pahttest.wait_for(lambda: gw.count() == 1, timeout=30, what="the DSN in the gateway INBOX")
        dsn = gw.messages()[0]
        envelope = rf"^{re.escape(gw.name)}\+b-{ack['id']}-[0-9a-f]{{16}}@{re.escape(self.stack.domain)}$"
        self.assertRegex(dsn["Delivered-To"], envelope)

        run = gw.pahtd("--once")
        self.assertEqual(run.returncode, 0, run.stderr)
        ack = one_letter(gw, "ack", citizen)
        self.assertEqual(ack["state"], "failed")
        self.assertIn("DSN 5.1.1", ack["last_reply"])
        self.assertIn("User unknown", ack["last_reply"])
        rows = db(gw).execute(
            "SELECT outbox_id, matched_by, status, recipient FROM bounce").fetchall()
        self.assertEqual(rows, [(ack["id"], "envelope", "5.1.1", citizen)])
        until = db(gw).execute("SELECT until FROM address_suspension WHERE address = ?",
                               (citizen,)).fetchone()
        self.assertIsNotNone(until)
        self.assertEqual(until[0] - int(gw.now.timestamp()), 60 * 86400)
        show = gw.pahtctl_json("show", code)
        self.assertIn("mail_failed", [e["kind"] for e in show["events"]])
        # the DSN is never answered: the only other letter is the digest to the IOC
        self.assertEqual(sorted(e["kind"] for e in letters(gw)), ["ack", "digest"])
        pahttest.wait_for(lambda: pahttest.count(self.stack, gw.ioc_address) == 1, timeout=30)
        body = text_of(pahttest.messages(self.stack, gw.ioc_address)[0])
        self.assertIn(pahttest.shortened(citizen), body)
        self.assertNotIn(citizen, body)
        self.assertIn("liên hệ người dân qua kênh khác", body)
        self.assertEqual(gw.count("PAHT/Processed"), 1)

    def dsn_for(self, gw, rcpt_header, message_id, failed_rcpt, status="5.1.1"):
        """A Postfix-style DSN (tests/mail/postfix-dsn-bounce.eml) addressed to rcpt_header,
        quoting message_id as the returned letter's Message-ID."""
        src = os.path.join(os.environ["PAHT_TEST_MAIL_DIR"], "postfix-dsn-bounce.eml")
        with open(src, "rb") as f:
            raw = f.read()
        raw = raw.replace(b"Delivered-To: paht@soctrang.gov.vn\n", b"")
        raw = raw.replace(b"To: paht@soctrang.gov.vn", f"To: {rcpt_header}".encode())
        raw = raw.replace(b"paht.ack.2026-000123.8f3a2c@soctrang.gov.vn", message_id.encode())
        raw = raw.replace(b"tranthib@Example.VN", failed_rcpt.encode())
        raw = raw.replace(b"Status: 5.1.1", f"Status: {status}".encode())
        unique = pahttest.unique("dsn").encode()
        return raw.replace(b"4Xk9Rt2Wb7z9sQ@mail", unique + b"@mail")

    def test_dsn_without_token_matched_by_message_id_and_forged_token_matches_nothing(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"))
        citizen = f"{pahttest.unique('citizen')}@{self.stack.domain}"
        ingest(gw, citizen, "Hố sâu giữa đường")
        self.assertEqual(gw.pahtd("--once").returncode, 0)
        ack = one_letter(gw, "ack", citizen)
        self.assertEqual(ack["state"], "sent")

        # a forged token (wrong mac) and a Message-ID that is not ours: recorded, nothing else
        forged = f"{gw.name}+b-{ack['id']}-0123456789abcdef@{self.stack.domain}"
        ingest(gw, None, None, raw=self.dsn_for(gw, forged, "not.ours@example.vn", citizen))
        self.assertEqual(one_letter(gw, "ack", citizen)["state"], "sent")
        # a 4.x.x delay notice for our letter: recorded, the letter stays sent
        ingest(gw, None, None, raw=self.dsn_for(gw, gw.address, ack["message_id"], citizen,
                                                status="4.4.1"))
        self.assertEqual(one_letter(gw, "ack", citizen)["state"], "sent")
        # a real failure without the token: the returned headers name the letter
        ingest(gw, None, None, raw=self.dsn_for(gw, gw.address, ack["message_id"], citizen,
                                                status="5.2.2"))
        ack = one_letter(gw, "ack", citizen)
        self.assertEqual(ack["state"], "failed")
        self.assertIn("DSN 5.2.2", ack["last_reply"])
        rows = db(gw).execute("SELECT outbox_id, matched_by, status FROM bounce ORDER BY id").fetchall()
        self.assertEqual(rows, [(None, None, "5.1.1"), (ack["id"], "message_id", "4.4.1"),
                                (ack["id"], "message_id", "5.2.2")])
        # 5.2.2, mailbox full, is the citizen's to fix: no suspension
        self.assertEqual(db(gw).execute("SELECT count(*) FROM address_suspension").fetchone()[0], 0)
        self.assertEqual(sorted(e["kind"] for e in letters(gw)), ["ack"])


class LettersOnTheWire(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = pahttest.shared_stack()

    def test_spec7_headers_and_the_verp_envelope(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"))
        citizen = f"{pahttest.unique('citizen')}@{self.stack.domain}"
        ingest(gw, citizen, "Đèn giao thông không hoạt động")
        self.assertEqual(gw.pahtd("--once").returncode, 0)
        ack = one_letter(gw, "ack", citizen)
        pahttest.wait_for(lambda: pahttest.count(self.stack, citizen) == 1, timeout=30)
        msg = pahttest.messages(self.stack, citizen)[0]
        assert_spec7_headers(self, msg, "auto-replied")
        self.assertRegex(msg["Return-Path"],
                         rf"^<{re.escape(gw.name)}\+b-{ack['id']}-[0-9a-f]{{16}}@"
                         rf"{re.escape(self.stack.domain)}>$")
        self.assertEqual(msg["From"].addresses[0].addr_spec, gw.address)  # From: unchanged
        key = os.path.join(gw.data_dir, "bounce.key")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)

    def test_hostile_names_and_subjects_cannot_add_headers_or_recipients(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"))
        citizen = f"{pahttest.unique('citizen')}@{self.stack.domain}"
        victim = f"{pahttest.unique('victim')}@{self.stack.domain}"
        # CR LF hidden in encoded words (B in the name, Q in the subject), a comma list in a
        # quoted Reply-To name, a Bcc line in the text: none of it may become a header or a
        # recipient of our answer
        name_b = "=?utf-8?b?" + base64.b64encode(
            f"Nguyễn An\r\nBcc: {victim}\r\nX-Injected: yes".encode()).decode() + "?="
        subject_q = f"=?utf-8?q?Ph=E1=BA=A3n_=C3=A1nh=0D=0ABcc:_{victim}=0D=0AX-Injected:_yes?="
        raw = (
            f"From: {name_b} <{citizen}>\r\n"
            f"To: {gw.address}\r\n"
            f"Reply-To: \"{victim}, x\" <{citizen}>\r\n"
            f"Subject: {subject_q}\r\n"
            f"Message-ID: <{pahttest.unique('m')}@example.test>\r\n"
            "Date: Mon, 30 Nov 2026 09:00:00 +0700\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n"
            "\r\n"
            "Bcc: " + victim + "\r\nĐèn đường hỏng.\r\n"
        ).encode()
        ingest(gw, None, None, raw=raw)
        run = gw.pahtd("--once")
        self.assertEqual(run.returncode, 0, run.stderr)
        pahttest.wait_for(lambda: pahttest.count(self.stack, citizen) == 1, timeout=30)
        msg = pahttest.messages(self.stack, citizen)[0]
        self.assertIsNone(msg["Bcc"])
        self.assertIsNone(msg["Cc"])
        self.assertIsNone(msg["X-Injected"])
        self.assertEqual([a.addr_spec for a in msg["To"].addresses], [citizen])
        self.assertIn("Nguyễn An", msg["To"].addresses[0].display_name)  # the name, made harmless
        self.assertNotIn("\n", msg["Subject"])
        self.assertIn("Phản ánh", msg["Subject"])
        for name in msg.keys():
            self.assertNotIn(name.lower(), ("bcc", "x-injected"))
        self.assertEqual([e["to"] for e in letters(gw)], [citizen])
        self.assertEqual(pahttest.count(self.stack, victim), 0)


if __name__ == "__main__":
    unittest.main()
