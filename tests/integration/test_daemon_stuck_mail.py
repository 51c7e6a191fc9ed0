"""Mail is never skipped or stuck behind one bad message (issue 11, items 1 and 2).

One of three delivered messages cannot be read by the server (its Maildir file made
unreadable: Dovecot drops the session on it, or, told to, answers the FETCH with NO):
  - the two others are drafted and answered in the first pass, and the pass is no failure of
    the mailbox (no "mailbox unreachable" state, no such alert);
  - the bad one is never passed over: the stored cursor stays at it, it is tried again later
    (not at every pass), and once readable it is drafted, once;
  - if it stays unreadable, it is given up only after several tries spread over more than an
    hour (PAHT_NOW moves the clock): moved to quarantine, the IOC told once.
"""
import os
import unittest

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
        self.assertEqual(self.drafted_subjects(gw), ["Ngập nước", "Rác thải", "Đèn đường hỏng"])
        self.assertEqual(gw.count("INBOX"), 0)
        self.assertEqual(gw.count("PAHT/Processed"), 3)
        self.assertEqual(rows(gw, "SELECT count(*) FROM message_failure"), [(0,)])
        pahttest.wait_for(lambda: self.acks(stack, 1) == 1, what="the third acknowledgement")
        self.assertEqual([self.acks(stack, i) for i in range(3)], [1, 1, 1])
        self.assertEqual(pahttest.count(stack, gw.ioc_address), 0)

    def test_given_up_after_an_hour_moved_to_quarantine_and_told_once(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"))
        self.deliver_three(stack, gw)
        bad_uid = None
        minutes = 0
        passes = 0
        while passes < 12 and gw.count("PAHT/Quarantine") == 0:
            once(gw, minutes)
            bad_uid = bad_uid or mailboxtest.uid_of(stack, gw, self.ids[1])
            passes += 1
            minutes += 20
        self.assertEqual(gw.count("PAHT/Quarantine"), 1, "given up in the end")
        self.assertIsNone(mailboxtest.uid_of(stack, gw, self.ids[1]))
        (failures, first_at, last_at, given_up), = rows(
            gw, "SELECT failures, first_at, last_at, given_up_at FROM message_failure")
        self.assertGreaterEqual(failures, 4)
        self.assertGreaterEqual(last_at - first_at, 3600, "tries spread over an hour at least")
        self.assertIsNotNone(given_up)
        self.assertEqual(self.drafted_subjects(gw), ["Rác thải", "Đèn đường hỏng"])

        # the IOC is told once what failed, and never that the mailbox is unreachable
        for extra in (0, 1):
            once(gw, minutes + 60 * extra)
        alerts = pahttest.wait_for(lambda: pahttest.messages(stack, gw.ioc_address),
                                   what="the IOC alert")
        self.assertEqual(len(alerts), 1, [a["Subject"] for a in alerts])
        self.assertIn("cách ly", alerts[0]["Subject"])
        self.assertIn(f"UID {bad_uid}", alerts[0]["Subject"])
        text = alerts[0].get_body(("plain",)).get_content()
        self.assertIn("Lỗi gần nhất", text)
        self.assertIn(f"{failures} lần", text)
        self.assertNotIn(OUTAGE, alerts[0]["Subject"])
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


if __name__ == "__main__":
    unittest.main()
