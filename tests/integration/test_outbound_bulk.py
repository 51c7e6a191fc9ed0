"""Outbound mail in bulk on real Postfix and Dovecot (issue 6, SPEC §8-9).

- pahtd killed with SIGKILL in the middle of a batch of 500 letters delivers each exactly once
  after a restart, counted in the citizens' mailboxes. The one letter in flight at the kill
  (sent, its completion not yet committed) may arrive twice: SMTP gives no way to know whether
  the server kept a letter whose answer we never read. No other may repeat, none may be lost,
  and the restart does not wait for the dead process's lease to expire.
- 1,000 letters leave over one SMTP connection (counted in Postfix's log) and all arrive; the
  rate is printed (pahtd logs it), not asserted: timing belongs to the benchmarks.

The letters are real acknowledgements: the mails are generated and fed to pahtctl ingest, one
citizen address each (so no per-sender limit of automatic answers can cut them), and the limits
per domain and per hour are lifted (every citizen is on the stack's one domain). Both tests
run on a private stack, so that Postfix's log holds only their connections."""
import os
import re
import signal
import sqlite3
import time
import unittest

import pahttest
from pahttest import MailStack


# thousands of answers in minutes, all to one domain: not what the rate limits are about here
UNLIMITED_ANSWERS = {("gateway", "auto_replies_per_domain_per_hour"): 1000000,
                     ("gateway", "auto_replies_per_hour"): 1000000}


def generate(gw, n, prefix):
    """n citizen mails to gw in files; returns (paths, citizen addresses)."""
    folder = os.path.join(gw.dir, "generated")
    os.makedirs(folder, exist_ok=True)
    paths, citizens = [], []
    for i in range(n):
        citizen = f"{prefix}{i}-{gw.name}@{gw.stack.domain}"
        data = pahttest.make_mail(f"Người dân số {i} <{citizen}>", gw.address,
                                  f"Phản ánh số {i}: đèn đường hỏng",
                                  f"Đèn đường số {i} trên đường Lê Lợi bị hỏng.\n")
        path = os.path.join(folder, f"{i:04d}.eml")
        with open(path, "wb") as f:
            f.write(data)
        paths.append(path)
        citizens.append(citizen)
    return paths, citizens


def ingest_all(gw, paths):
    run = gw.pahtctl("ingest", *paths, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]


def delivered(stack, address):
    """Letters Dovecot delivered into ADDRESS's Maildir (new and cur), counted on disk: one
    IMAP login per citizen would cost more than the sending itself."""
    local, _, domain = address.partition("@")
    maildir = os.path.join(stack.dir, "mail", domain, local, "Maildir")
    total = 0
    for sub in ("new", "cur"):
        try:
            total += len(os.listdir(os.path.join(maildir, sub)))
        except FileNotFoundError:
            pass
    return total


def sent_count(database):
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute("SELECT count(*) FROM outbox WHERE state = 'sent'").fetchone()[0]
    finally:
        db.close()


class Bulk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = MailStack.start()

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop(remove=True)

    def postfix_log(self):
        with open(self.stack.postfix_log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def test_sigkill_mid_batch_of_500_delivers_each_exactly_once(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"), overrides=UNLIMITED_ANSWERS)
        paths, citizens = generate(gw, 500, "k")
        ingest_all(gw, paths)

        proc = gw.start_pahtd()
        pahttest.wait_for(lambda: sent_count(gw.database) >= 100 or proc.poll() is not None,
                          timeout=120, interval=0.01, what="100 letters sent")
        self.assertIsNone(proc.poll(), gw.log())
        self.assertEqual(gw.stop_pahtd(proc, signal.SIGKILL), -signal.SIGKILL)
        before = {e["id"]: e for e in gw.pahtctl_json("outbox")}
        sent_before = sum(1 for e in before.values() if e["state"] == "sent")
        self.assertLess(sent_before, 500, "the kill came too late to test anything")
        in_flight = [e for e in before.values() if e["state"] == "sending"]
        self.assertLessEqual(len(in_flight), 1)

        # the restart resends the letter in flight at once, and the one reserved after it in its
        # turn: no waiting for their leases
        run = gw.pahtd("--once", timeout=300)
        self.assertEqual(run.returncode, 0, run.stderr[-2000:])
        after = gw.pahtctl_json("outbox")
        self.assertEqual(len(after), 500)
        self.assertEqual({e["state"] for e in after}, {"sent"})
        for e in after:  # a letter sent before the kill was not sent again
            if before[e["id"]]["state"] == "sent":
                self.assertEqual(e["sent_at"], before[e["id"]]["sent_at"])
                self.assertEqual(e["attempts"], 1)

        def all_arrived():
            return all(delivered(self.stack, c) >= 1 for c in citizens)

        # both pahtd runs have ended: once Postfix holds nothing more for the citizens, every
        # letter it accepted is in a mailbox, and a duplicate would show in the counts
        self.stack.wait_delivered(citizens)
        self.assertTrue(all_arrived())
        counts = {c: delivered(self.stack, c) for c in citizens}
        twice = [c for c, n in counts.items() if n > 1]
        self.assertFalse([c for c, n in counts.items() if n == 0])
        # at most the one letter in flight at the kill arrives twice, and only that one
        self.assertLessEqual(len(twice), 1, twice)
        if twice:
            self.assertEqual(len(in_flight), 1)
            self.assertEqual(twice, [in_flight[0]["to"]])
            self.assertEqual(counts[twice[0]], 2)
        print(f"\nkilled after {sent_before} of 500 sent; in flight: "
              f"{[e['id'] for e in in_flight]}; delivered twice: {len(twice)}")

    def test_1000_letters_over_one_connection(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"), overrides=UNLIMITED_ANSWERS)
        paths, citizens = generate(gw, 1000, "b")
        ingest_all(gw, paths)
        connects_before = self.postfix_log().count(": connect from ")
        run = gw.pahtd("--once", timeout=300)
        self.assertEqual(run.returncode, 0, run.stderr[-2000:])
        summary = re.search(r"outbox: 1000 sent, 0 failed, 0 to retry in ([0-9.]+) s "
                            r"\(([0-9]+) letters/s\) over 1 SMTP connection", run.stderr)
        self.assertIsNotNone(summary, run.stderr[-2000:])
        log = self.postfix_log()
        self.assertEqual(log.count(": connect from ") - connects_before, 1)
        self.assertIn("mail=1000 rcpt=1000 data=1000", log)
        outbox = gw.pahtctl_json("outbox")
        self.assertEqual(len(outbox), 1000)
        self.assertEqual({e["state"] for e in outbox}, {"sent"})
        pahttest.wait_for(lambda: all(delivered(self.stack, c) == 1 for c in citizens),
                          timeout=180, interval=0.5, what="1000 letters delivered")
        print(f"\n1000 letters sent in {summary.group(1)} s ({summary.group(2)} letters/s) "
              "over one SMTP connection")


if __name__ == "__main__":
    unittest.main()
