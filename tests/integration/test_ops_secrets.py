"""Secrets stay where they belong (issue 11, item 13), on the real mail stack.

- The parser process, which reads hostile mail, gets a filtered environment: never the
  PAHT_IMAP_PASSWORD / PAHT_SMTP_PASSWORD pahtd was given (it used to inherit everything).
- The key that signs envelope senders is used only from a private file: data_dir/bounce.key
  readable by others is refused (it used to be read without a mode check).
- The parser verifies bounce tokens with the configured [smtp] bounce_secret_file (it used to
  ignore it, and fall back to data_dir/bounce.key, which then did not exist or was another key).
"""
import hashlib
import hmac
import os
import re
import secrets
import signal
import sqlite3
import unittest

import pahttest


def outbox_row(gw, letter_id):
    with sqlite3.connect(f"file:{gw.database}?mode=ro", uri=True, timeout=30) as db:
        return db.execute("SELECT message_id, envelope_from, state FROM outbox WHERE id = ?",
                          (letter_id,)).fetchone()


def bounces(gw):
    with sqlite3.connect(f"file:{gw.database}?mode=ro", uri=True, timeout=30) as db:
        return db.execute("SELECT outbox_id, matched_by, status FROM bounce").fetchall()


def ingest(gw, citizen, subject):
    path = os.path.join(gw.dir, pahttest.unique("mail") + ".eml")
    with open(path, "wb") as f:
        f.write(pahttest.make_mail(f"Nguyễn Văn An <{citizen}>", gw.address, subject,
                                   "Biển báo bị đổ.\n" + pahttest.complete_details()))
    out = gw.pahtctl_json("ingest", path)
    assert len(out) == 1 and out[0].get("code"), out


def environ_of(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        entries = [e for e in f.read().split(b"\0") if e]
    return dict(e.decode("utf-8", "replace").partition("=")[::2] for e in entries)


class ParserEnvironment(unittest.TestCase):
    def test_parser_process_gets_no_passwords_from_the_environment(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("sec"),
                              overrides={("imap", "password_file"): None,
                                         ("smtp", "password_file"): None})
        canary = secrets.token_hex(8)
        env = {"PAHT_IMAP_PASSWORD": stack.password, "PAHT_SMTP_PASSWORD": stack.password,
               "PAHT_CANARY": canary, "PAHT_LOG_LEVEL": "info", "LC_ALL": "C.UTF-8"}
        proc = gw.start_pahtd(env=env)
        try:
            found = pahttest.wait_for(
                lambda: re.search(r"parser process (\d+) ready", gw.log()), timeout=30,
                what="the parser process")
            parser = environ_of(int(found.group(1)))
            daemon = environ_of(proc.pid)
            self.assertEqual(daemon["PAHT_IMAP_PASSWORD"], stack.password)  # pahtd has them
            # (never printed: a failure must not put the passwords in the test log)
            for name in ("PAHT_IMAP_PASSWORD", "PAHT_SMTP_PASSWORD", "PAHT_CANARY", "HOME",
                         "PAHT_MAILSTACK_ENV"):
                self.assertFalse(name in parser, f"{name} reached the parser process")
            self.assertFalse(any(stack.password in v for v in parser.values()),
                             "the password reached the parser process")
            # what it needs it keeps: the log level, the locale
            self.assertEqual(parser["PAHT_LOG_LEVEL"], "info")
            self.assertEqual(parser["LC_ALL"], "C.UTF-8")
            # and it works: a mail is parsed and drafted
            stack.deliver(gw.address, pahttest.make_mail(
                "dan@example.vn", gw.address, "Đèn đường hỏng", "Đèn hỏng.\n"))
            drafts = pahttest.wait_for(lambda: gw.pahtctl_json("drafts"), timeout=60,
                                       what="the draft")
            self.assertEqual([d["subject"] for d in drafts], ["Đèn đường hỏng"])
        finally:
            self.assertEqual(gw.stop_pahtd(proc, signal.SIGTERM), 0, gw.log())


class BounceKey(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = pahttest.shared_stack()

    def test_world_readable_bounce_key_refused(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("sec"))
        key = os.path.join(gw.data_dir, "bounce.key")
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, secrets.token_hex(32).encode() + b"\n")
        os.close(fd)
        os.chmod(key, 0o644)
        for run in (gw.pahtd("--check-config"), gw.pahtd("--once")):
            self.assertEqual(run.returncode, 2, run.stderr)
            self.assertIn(f"{key} has mode 0644", run.stderr)
            self.assertIn(f"chmod 600 {key}", run.stderr)
        os.chmod(key, 0o600)
        run = gw.pahtd("--check-config")
        self.assertEqual(run.returncode, 0, run.stderr)

    def test_parser_verifies_bounce_tokens_with_the_configured_key(self):
        secret = secrets.token_hex(32)
        gw = pahttest.Gateway(self.stack, pahttest.unique("sec"))
        path = gw._write("bounce.secret", secret + "\n", 0o600)
        gw.config["smtp"]["bounce_secret_file"] = path
        gw.write_config()
        citizen = f"{pahttest.unique('nouser')}@{self.stack.domain}"  # accepted, then bounced
        ingest(gw, citizen, "Biển báo bị đổ")
        run = gw.pahtd("--once")
        self.assertEqual(run.returncode, 0, run.stderr)
        ack = [o for o in gw.pahtctl_json("outbox") if o["kind"] == "ack"][0]
        message_id, envelope, state = outbox_row(gw, ack["id"])
        self.assertEqual(state, "sent")
        # signed with the configured key: HMAC-SHA256(key, "b-<id>-<Message-ID>"), 16 digits
        mac = hmac.new(secret.encode(), f"b-{ack['id']}-{message_id}".encode(),
                       hashlib.sha256).hexdigest()[:16]
        self.assertEqual(envelope, f"{gw.name}+b-{ack['id']}-{mac}@{self.stack.domain}")
        pahttest.wait_for(lambda: gw.count() == 1, timeout=30, what="the DSN in the gateway INBOX")
        self.assertEqual(gw.messages()[0]["Delivered-To"], envelope)
        # a letter sent before envelopes were recorded: only the key can verify its token
        with sqlite3.connect(gw.database, timeout=30) as db:
            db.execute("UPDATE outbox SET envelope_from = NULL WHERE id = ?", (ack["id"],))

        run = gw.pahtd("--once")  # the DSN goes through the parser process
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(bounces(gw), [(ack["id"], "envelope", "5.1.1")])
        self.assertEqual(outbox_row(gw, ack["id"])[2], "failed")
        self.assertFalse(os.path.exists(os.path.join(gw.data_dir, "bounce.key")))


if __name__ == "__main__":
    unittest.main()
