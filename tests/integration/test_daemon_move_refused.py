"""A move the server refuses for good. pahtd moves a message out of the inbox only after it is
recorded; a server that answers the move with a plain NO ([NOPERM]: a folder without write
rights; [OVERQUOTA]: a full mailbox) leaves the mail, drafted and answered, in the inbox. Before,
that was logged at every pass and nobody was told, while the inbox grew towards the quota at
which the server refuses citizens' mail. Now the refusal is logged when it begins and ends, the
mail is never processed twice, and the IOC gets one alert per period once it has lasted 30
minutes. The server is Dovecot with its ACL plugin, the processed folder's rights without
"insert", as an administrator may leave them."""
import os
import unittest

import daemontest
import mailboxtest
import pahttest
import webtest
from mailboxtest import once

SUBJECT = "Không chuyển được thư sang thư mục \"PAHT/Processed\""


def header_bomb(gw):
    """A mail whose header block is over the parser's 256 KiB: kept aside, to quarantine"""
    filler = "".join(f"X-Filler-{i}: {'a' * 900}\r\n" for i in range(320))
    return (f"From: bomb@example.test\r\nTo: {gw.address}\r\nSubject: bom\r\n"
            f"Message-ID: <{pahttest.unique('bomb')}@x>\r\n{filler}\r\nbody\r\n").encode()


class MoveRefused(mailboxtest.PrivateStack, unittest.TestCase):
    unusual = {"acl": "vfile"}

    def rights_file(self, gw):
        return os.path.join(daemontest.maildir(self.stack, gw.address), ".PAHT.Processed",
                            "dovecot-acl")

    def refuse_moves(self, gw):
        """The processed folder readable, not writable (Dovecot reads the file at each use)"""
        path = self.rights_file(gw)
        with open(path, "w") as f:
            f.write("owner lrwstek\n")
        os.chmod(path, 0o644)

    def deliver(self, gw, subject):
        who = daemontest.citizen(self.stack)
        self.stack.deliver(gw.address, mailboxtest.report(who, gw, subject,
                                                          f"{pahttest.unique('m')}@x"),
                           sender=who)
        return who

    def alerts(self, gw):
        return [m["Subject"] for m in pahttest.messages(self.stack, gw.ioc_address)]

    def test_drafted_once_left_in_the_inbox_the_ioc_told_once_a_period(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"))
        once(gw, 0)  # the folders made
        self.refuse_moves(gw)
        citizens = [self.deliver(gw, s) for s in ("Ổ gà", "Cống nghẹt")]

        first = once(gw, 1)
        self.assertEqual(len(gw.pahtctl_json("drafts")), 2)
        self.assertEqual(gw.count("INBOX"), 2)
        self.assertEqual(gw.count("PAHT/Processed"), 0)
        self.assertEqual(first.stderr.count("[NOPERM]"), 1, first.stderr)
        self.assertIn("2 message(s), drafted and answered, stay in the inbox", first.stderr)
        pahttest.wait_for(lambda: all(pahttest.count(self.stack, c) == 1 for c in citizens),
                          what="the two acknowledgements")

        # passes within the half hour: the move tried again, the mail not processed again,
        # one line a run, nobody told. Meanwhile a mail kept aside goes to the quarantine
        # folder, which accepts it: the processed folder's refusal is a record of its own and
        # goes on (its period still began at minute 1: the alert comes at minute 31)
        self.stack.deliver(gw.address, header_bomb(gw), sender="bomb@example.test")
        for minutes in (10, 29):
            run = once(gw, minutes)
            self.assertEqual(run.stderr.count("[NOPERM]"), 1, run.stderr)
            self.assertIn("refused since", run.stderr)
            self.assertNotIn("accepted again", run.stderr)
        self.assertEqual(gw.count("PAHT/Quarantine"), 1)
        self.assertEqual(len(gw.pahtctl_json("drafts")), 2)
        self.assertEqual(self.alerts(gw)[1:], [], "only the kept-aside mail's own alert")

        told = once(gw, 31)
        self.assertIn("the IOC is alerted", told.stderr)
        alert = pahttest.wait_for(lambda: len(self.alerts(gw)) == 2
                                  and pahttest.messages(self.stack, gw.ioc_address),
                                  what="the IOC alert")[1]
        self.assertIn(SUBJECT, alert["Subject"])
        self.assertIn("09:01 ngày 01/12/2026", alert["Subject"])
        text = pahttest.plain_text(alert)
        self.assertIn("[NOPERM]", text)
        self.assertIn("đã được tạo phản ánh và đã trả lời người gửi", text)
        self.assertIn("quota", text)
        for minutes in (40, 50):
            once(gw, minutes)
        self.assertEqual(len(self.alerts(gw)), 2, "once a period")
        # the administrator's health page says it too
        console = webtest.Console(gw)
        console.user("quantri", "admin")
        console.start(now=mailboxtest.at(50))
        self.addCleanup(console.stop)
        admin = console.login("quantri")
        refused = 'Máy chủ từ chối chuyển thư sang thư mục "PAHT/Processed" từ 09:01 01/12/2026'
        self.assertIn(refused, admin.get("/health").text)

        # the rights mended: moved at the next pass, nothing drafted or answered again
        os.unlink(self.rights_file(gw))
        back = once(gw, 55)
        self.assertIn("accepted again, after 54 min of refusals", back.stderr)
        self.assertEqual(gw.count("INBOX"), 0)
        self.assertEqual(gw.count("PAHT/Processed"), 2)
        self.assertEqual(len(gw.pahtctl_json("drafts")), 2)
        self.assertEqual([pahttest.count(self.stack, c) for c in citizens], [1, 1])
        quiet = once(gw, 60)
        self.assertNotIn("refused", quiet.stderr)
        self.assertNotIn("Máy chủ từ chối chuyển thư", admin.get("/health").text)

        # refused again later: another period, another alert
        self.refuse_moves(gw)
        self.deliver(gw, "Đèn đường hỏng")
        again = once(gw, 120)
        self.assertIn("refused from", again.stderr)
        once(gw, 151)
        pahttest.wait_for(lambda: len(self.alerts(gw)) == 3, what="the second period's alert")
        self.assertIn("11:00 ngày 01/12/2026", self.alerts(gw)[2])


if __name__ == "__main__":
    unittest.main()
