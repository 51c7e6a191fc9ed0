"""Mail is never skipped or stuck behind one bad message (issue 11, items 1 and 2).

One of three delivered messages cannot be read by the server (its Maildir file made
unreadable: Dovecot drops the session on it, or, told to, answers the FETCH with NO):
  - the two others are drafted and answered in the first pass, and the pass is no failure of
    the mailbox (no "mailbox unreachable" state, no such alert);
  - the bad one is never passed over: the stored cursor stays at it, it is tried again later
    (not at every pass), and once readable it is drafted, once;
  - if it stays unreadable, it is given up only after several tries spread over more than an
    hour (PAHT_NOW moves the clock): moved to quarantine, the IOC told once.
The same holds for a message that is recorded but whose processing fails for a reason of its
own (the store refuses its report): tried again later, not at every pass, and kept aside after
an hour of tries, for `pahtctl reprocess` once the cause is mended.
"""
import json
import os
import re
import sqlite3
import unittest

import daemontest
import mailboxtest
import pahttest
from mailboxtest import once, rows

OUTAGE = "Không kết nối được hộp thư"


class _ThreeMails:
    """Three reports from three citizens; the second one's file made unreadable."""

    def deliver_three(self, stack, gw):
        self.citizens = [f"{pahttest.unique(n)}@{stack.domain}" for n in ("an", "binh", "chi")]
        self.ids = [f"{pahttest.unique('m')}@example.test" for _ in range(3)]
        for who, mid, subject in zip(self.citizens, self.ids,
                                     ("Đèn đường hỏng", "Ngập nước", "Rác thải")):
            stack.deliver(gw.address, mailboxtest.report(who, gw, subject, mid), sender=who)
        self.bad_path = mailboxtest.maildir_file(stack, gw.address, self.ids[1])
        os.chmod(self.bad_path, 0)

    def readable_again(self, stack, gw):
        os.chmod(mailboxtest.maildir_file(stack, gw.address, self.ids[1]), 0o600)

    def drafted_subjects(self, gw):
        return sorted(d["subject"] for d in gw.pahtctl_json("drafts"))

    def acks(self, stack, i):
        return pahttest.count(stack, self.citizens[i])

    def all_three_drafted_and_answered_once(self, stack, gw):
        """The bad one drafted at last: nothing left in the inbox or on record as failed, each
        citizen answered once, the IOC told nothing."""
        self.assertEqual(self.drafted_subjects(gw), ["Ngập nước", "Rác thải", "Đèn đường hỏng"])
        self.assertEqual(gw.count("INBOX"), 0)
        self.assertEqual(gw.count("PAHT/Processed"), 3)
        self.assertEqual(rows(gw, "SELECT count(*) FROM message_failure"), [(0,)])
        pahttest.wait_for(lambda: self.acks(stack, 1) == 1, what="the third acknowledgement")
        self.assertEqual([self.acks(stack, i) for i in range(3)], [1, 1, 1])
        self.assertEqual(pahttest.count(stack, gw.ioc_address), 0)

    def passes_until_quarantined(self, gw, minutes):
        """pahtd --once every 20 minutes from MINUTES until a message is in quarantine (at
        most 12 passes); the passes it took, and the minute of the next one."""
        passes = 0
        while passes < 12 and gw.count("PAHT/Quarantine") == 0:
            once(gw, minutes)
            passes += 1
            minutes += 20
        self.assertEqual(gw.count("PAHT/Quarantine"), 1, "kept aside in the end")
        return passes, minutes

    def the_one_alert(self, stack, gw, minutes):
        """Two more passes an hour apart from MINUTES, then the IOC's alerts: one only."""
        for extra in (0, 1):
            once(gw, minutes + 60 * extra)
        alerts = pahttest.wait_for(lambda: pahttest.messages(stack, gw.ioc_address),
                                   what="the IOC alert")
        self.assertEqual(len(alerts), 1, [a["Subject"] for a in alerts])
        return alerts[0]


class UnreadableMessage(_ThreeMails, unittest.TestCase):
    """Dovecot's way (imap_fetch_failure = disconnect-immediately): the session dropped."""

    def test_others_answered_and_the_bad_one_drafted_once_when_readable(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"))
        self.deliver_three(stack, gw)

        first = once(gw, 0)
        self.assertEqual(self.drafted_subjects(gw), ["Rác thải", "Đèn đường hỏng"])
        pahttest.wait_for(lambda: self.acks(stack, 0) == 1 and self.acks(stack, 2) == 1,
                          what="the acknowledgements of the two readable mails")
        self.assertIn("tried again in 5 min", first.stderr)
        bad_uid = mailboxtest.uid_of(stack, gw, self.ids[1])
        self.assertIsNotNone(bad_uid, "the unreadable mail stays in the inbox")
        self.assertEqual(gw.count("PAHT/Processed"), 2)
        # a failure of that message, not of the mailbox
        self.assertEqual(rows(gw, "SELECT uid, failures FROM message_failure"), [(bad_uid, 1)])
        self.assertEqual(rows(gw, "SELECT key FROM daemon_state"
                                  " WHERE key LIKE 'mailbox_down%'"), [])
        # the cursor does not pass it
        (uidnext,), = rows(gw, "SELECT uidnext FROM mailbox_state")
        self.assertLessEqual(uidnext, bad_uid)

        # before its retry time a pass leaves it alone (no download)
        fetched = mailboxtest.fetches_of(gw, bad_uid)
        once(gw, 2)
        self.assertEqual(mailboxtest.fetches_of(gw, bad_uid), fetched)

        # readable again: drafted at its next try, once
        self.readable_again(stack, gw)
        once(gw, 6)
        once(gw, 7)
        self.all_three_drafted_and_answered_once(stack, gw)

    def test_given_up_after_an_hour_moved_to_quarantine_and_told_once(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"))
        self.deliver_three(stack, gw)
        once(gw, 0)
        bad_uid = mailboxtest.uid_of(stack, gw, self.ids[1])
        _, minutes = self.passes_until_quarantined(gw, 20)
        self.assertIsNone(mailboxtest.uid_of(stack, gw, self.ids[1]))
        (failures, first_at, last_at, given_up), = rows(
            gw, "SELECT failures, first_at, last_at, given_up_at FROM message_failure")
        self.assertGreaterEqual(failures, 4)
        self.assertGreaterEqual(last_at - first_at, 3600, "tries spread over an hour at least")
        self.assertIsNotNone(given_up)
        self.assertEqual(self.drafted_subjects(gw), ["Rác thải", "Đèn đường hỏng"])

        # the IOC is told once what failed, and never that the mailbox is unreachable
        alert = self.the_one_alert(stack, gw, minutes)
        self.assertIn("cách ly", alert["Subject"])
        self.assertIn(f"UID {bad_uid}", alert["Subject"])
        text = alert.get_body(("plain",)).get_content()
        self.assertIn("Lỗi gần nhất", text)
        self.assertIn(f"{failures} lần", text)
        self.assertNotIn(OUTAGE, alert["Subject"])
        # passed over at last: the cursor is beyond it
        (uidnext,), = rows(gw, "SELECT uidnext FROM mailbox_state")
        self.assertGreater(uidnext, bad_uid)


class RefusedFetch(mailboxtest.PrivateStack, _ThreeMails, unittest.TestCase):
    """A server that answers the FETCH of the bad message with NO (Exchange: "The requested
    message could not be converted to an RFC-822 compatible format"; Dovecot told so with
    imap_fetch_failure = no-after). A NO is never taken for "vanished"."""

    imap_settings = {"imap_fetch_failure": "no-after"}

    def test_refused_message_is_not_passed_over(self):
        stack = self.stack
        gw = pahttest.Gateway(stack, pahttest.unique("paht"))
        self.deliver_three(stack, gw)
        once(gw, 0)
        bad_uid = mailboxtest.uid_of(stack, gw, self.ids[1])
        self.assertIsNotNone(bad_uid)
        self.assertEqual(mailboxtest.fetches_of(gw, bad_uid), 1, "it was asked for, and refused")
        self.assertEqual(self.drafted_subjects(gw), ["Rác thải", "Đèn đường hỏng"])
        (uidnext,), = rows(gw, "SELECT uidnext FROM mailbox_state")
        self.assertLessEqual(uidnext, bad_uid)
        (error,), = rows(gw, "SELECT last_error FROM message_failure")
        self.assertIn("Internal error occurred", error)  # the server's own words

        self.readable_again(stack, gw)
        once(gw, 6)
        self.assertEqual(self.drafted_subjects(gw), ["Ngập nước", "Rác thải", "Đèn đường hỏng"])
        self.assertEqual(gw.count("INBOX"), 0)


class RefusedByTheStore(_ThreeMails, unittest.TestCase):
    """The second mail is downloaded and recorded, but the store refuses its report (a trigger
    stands for a row the schema will not take: SQLite's constraint error, a failure that no
    retry within the minute mends). Before, it was tried again at every pass for ever, and
    nobody was told."""

    def refuse_the_second(self, gw):
        with sqlite3.connect(gw.database, timeout=30) as db:
            db.execute("CREATE TRIGGER refuse_second BEFORE INSERT ON report"
                       " WHEN instr(NEW.subject, 'Ngập') > 0"
                       " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")

    def mend(self, gw):
        with sqlite3.connect(gw.database, timeout=30) as db:
            db.execute("DROP TRIGGER refuse_second")

    def gateway(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"))
        once(gw, 0)  # the store, made by the first pass over an empty inbox
        self.refuse_the_second(gw)
        self.deliver_three(stack, gw)
        self.readable_again(stack, gw)  # readable: it is the store that refuses it
        return stack, gw

    def second(self, gw):
        (row,) = rows(gw, "SELECT id, state, error FROM raw_message WHERE message_id = ?",
                      self.ids[1])
        return row

    def test_tried_again_later_and_drafted_once_mended(self):
        stack, gw = self.gateway()
        first = once(gw, 1)
        self.assertEqual(self.drafted_subjects(gw), ["Rác thải", "Đèn đường hỏng"])
        self.assertRegex(first.stderr, r"could not be processed \(failure 1\): .*refused by the "
                                       r"test.*tried again in 5 min")
        raw_id, state, error = self.second(gw)
        self.assertEqual(state, "fetched")
        self.assertIn("refused by the test", error)
        self.assertIsNotNone(mailboxtest.uid_of(stack, gw, self.ids[1]), "still in the inbox")
        self.assertEqual(gw.count("PAHT/Processed"), 2)
        self.assertEqual(rows(gw, "SELECT failures FROM message_failure"), [(1,)])

        # before its next try a pass leaves it alone: no second failure, no line about it
        early = once(gw, 3)
        self.assertNotIn(f"message {raw_id} ", early.stderr)
        self.assertEqual(rows(gw, "SELECT failures FROM message_failure"), [(1,)])

        # mended: drafted at its next try, once, and its failures forgotten
        self.mend(gw)
        once(gw, 7)
        once(gw, 8)
        self.all_three_drafted_and_answered_once(stack, gw)
        self.assertEqual(self.second(gw)[1:], ("moved", None))

    def test_kept_aside_after_an_hour_the_ioc_told_once_and_reprocessed(self):
        stack, gw = self.gateway()
        passes, minutes = self.passes_until_quarantined(gw, 1)
        self.assertIsNone(mailboxtest.uid_of(stack, gw, self.ids[1]))
        raw_id, state, error = self.second(gw)
        self.assertEqual(state, "quarantined")
        failures, spread = map(int, re.search(r"processing failed (\d+) times in (\d+) min",
                                              error).groups())
        self.assertGreaterEqual(failures, 4)
        self.assertGreaterEqual(spread, 60, "tries spread over an hour at least")
        self.assertLessEqual(passes, 6, "tried again at the growing delay, not given up late")
        self.assertIn("refused by the test", error)
        self.assertEqual(rows(gw, "SELECT count(*) FROM message_failure"), [(0,)])
        self.assertEqual(self.drafted_subjects(gw), ["Rác thải", "Đèn đường hỏng"])

        # the IOC is told once, with the reason and the command that runs it again
        alert = self.the_one_alert(stack, gw, minutes)
        self.assertIn("Thư không xử lý được", alert["Subject"])
        self.assertEqual(daemontest.ids_in_alerts([alert]), [raw_id])
        self.assertIn("refused by the test", pahttest.plain_text(alert))

        # mended, the IOC runs it again: one report, answered once
        self.mend(gw)
        out = gw.pahtctl("reprocess", raw_id, "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        shown = gw.pahtctl_json("show", json.loads(out.stdout)["code"])
        self.assertEqual(shown["subject"], "Ngập nước")
        self.assertEqual([m["kind"] for m in shown["mail"]], ["ack"])


if __name__ == "__main__":
    unittest.main()
