"""One recording path for pahtctl ingest and IMAP (issue 11, item 5): a mail the IOC saved to a
file and ran through `pahtctl ingest`, and that reaches the mailbox too, is drafted and
answered once. The server adds its trace headers and serves CRLF line ends, so the bytes
differ from the saved file: the mail is known by its Message-ID and its body."""
import os
import unittest

import mailboxtest
import pahttest
from mailboxtest import once, rows


class IngestThenImap(unittest.TestCase):
    def check_one_report_one_ack(self, as_saved, append=False):
        """The mail saved to a file as as_saved(bytes) makes it, ingested; then the mail
        delivered (LMTP: with the server's trace headers), or APPENDed as it is (the same
        bytes)."""
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"))
        who = f"{pahttest.unique('dan')}@{stack.domain}"
        mail = mailboxtest.report(who, gw, "Cây đổ chắn đường", f"{pahttest.unique('m')}@x")
        path = os.path.join(gw.dir, "saved.eml")
        with open(path, "wb") as f:
            f.write(as_saved(mail))
        ingested = gw.pahtctl("ingest", path, "--json", env={"PAHT_NOW": mailboxtest.at(0)})
        self.assertEqual(ingested.returncode, 0, ingested.stderr)

        if append:
            imap = stack.imap(gw.address)
            try:
                self.assertEqual(imap.append("INBOX", None, None, mail)[0], "OK")
            finally:
                imap.logout()
        else:
            stack.deliver(gw.address, mail, sender=who)
        run = once(gw, 5)
        self.assertIn("found again", run.stderr)
        self.assertEqual(len(gw.pahtctl_json("drafts")), 1)
        self.assertEqual(gw.count("INBOX"), 0)
        self.assertEqual(gw.count("PAHT/Processed"), 1)
        self.assertEqual([kind for kind, in rows(gw, "SELECT kind FROM outbox")], ["ack"])
        self.assertEqual(rows(gw, "SELECT count(*), count(message_id) FROM raw_message"), [(1, 1)])
        once(gw, 10)
        pahttest.wait_for(lambda: pahttest.count(stack, who) == 1, what="the one ack")
        self.assertEqual(pahttest.count(stack, who), 1)

    def test_same_bytes_ingested_then_fetched_make_one_report_and_one_ack(self):
        self.check_one_report_one_ack(lambda mail: mail, append=True)

    def test_same_mail_ingested_then_delivered_make_one_report_and_one_ack(self):
        self.check_one_report_one_ack(lambda mail: mail)

    def test_file_saved_on_unix_then_delivered_make_one_report_and_one_ack(self):
        self.check_one_report_one_ack(lambda mail: mail.replace(b"\r\n", b"\n"))


class DeliveredTwice(unittest.TestCase):
    def test_same_mail_delivered_twice_is_drafted_once_and_both_leave_the_inbox(self):
        """The same mail reaching the mailbox twice (sent to two of its addresses, or
        redelivered by a relay): each copy has its own trace headers, one report."""
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"))
        who = f"{pahttest.unique('dan')}@{stack.domain}"
        mail = mailboxtest.report(who, gw, "Nắp cống bị mất", f"{pahttest.unique('m')}@x")
        stack.deliver(gw.address, mail, sender=who)
        stack.deliver(gw.address, mail, sender=who)
        run = once(gw, 0)
        self.assertIn("delivered again", run.stderr)
        self.assertEqual(len(gw.pahtctl_json("drafts")), 1)
        self.assertEqual(gw.count("INBOX"), 0)
        self.assertEqual(gw.count("PAHT/Processed"), 2)
        pahttest.wait_for(lambda: pahttest.count(stack, who) == 1, what="the one ack")
        once(gw, 1)
        self.assertEqual(pahttest.count(stack, who), 1)
        self.assertEqual([kind for kind, in rows(gw, "SELECT kind FROM outbox")], ["ack"])


if __name__ == "__main__":
    unittest.main()
