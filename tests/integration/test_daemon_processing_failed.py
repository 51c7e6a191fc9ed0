"""The mail is not processed while the mail server answers: a failure on the gateway's side.

A pass can fail with the server answering every command: the gateway's storage refuses a
write (a full or broken disk), the database fails, a template edited in place has a fault.
Before, every failed pass counted as the mailbox being unreachable, and after 30 minutes the
IOC was told "Không kết nối được hộp thư" with a hint to check the mail server, the network and
the password: the administrator looked at the wrong machine. Now such a pass is a failure of
its own: logged as the mail not processed, told to the IOC once it has lasted 30 minutes (the
last error, and what to check on the gateway's side), shown on the health page, and told again
when the mail is processed again. An outage of the server still is the outage, and one that
ends while the gateway's own fault goes on says so.

The fault: the folder an attachment's file goes into (data_dir/att/XX) is a plain file, so the
parser cannot store the photo and the pass fails (as a full disk makes it fail); as root too.
"""
import hashlib
import os
import unittest

import daemontest
import mailboxtest
import pahttest
import webtest
from mailboxtest import at, rows

NOT_PROCESSED = "không xử lý được từ"
UNREACHABLE = "Không kết nối được hộp thư"


class ProcessingFailed(mailboxtest.PrivateStack, unittest.TestCase):

    def run_pass(self, gw, minutes):
        """pahtd --once at START + MINUTES; it fails (exit 1) while the fault lasts"""
        return gw.pahtd("--once", env={"PAHT_NOW": at(minutes)})

    def report_with_photo(self, gw, deliver=None):
        """A complete report with a photo, delivered (by DELIVER(who, mail) if given), the
        photo's folder made unusable. Returns the citizen and the plain file standing where
        the folder must be."""
        who = daemontest.citizen(self.stack)
        photo = b"\xff\xd8\xff\xe0" + os.urandom(4096) + b"\xff\xd9"
        mail = pahttest.make_mail(who, gw.address, "Ổ gà trước cổng trường",
                                  "Nội dung phản ánh.\n" + pahttest.complete_details(),
                                  attachments=[("o-ga.jpg", "image/jpeg", photo)],
                                  message_id=f"<{pahttest.unique('m')}@x>")
        blocker = os.path.join(gw.data_dir, "att", hashlib.sha256(photo).hexdigest()[:2])
        os.makedirs(os.path.dirname(blocker), exist_ok=True)
        with open(blocker, "w") as f:
            f.write("not a folder\n")
        if deliver:
            deliver(who, mail)
        else:
            self.stack.deliver(gw.address, mail, sender=who)
        return who, blocker

    def alerts(self, gw, relay=None):
        """The IOC's letters, in the mailbox on RELAY (default: this stack)"""
        pahttest.wait_for(lambda: all(o["state"] == "sent" for o in gw.pahtctl_json("outbox")),
                          timeout=20, what="the outbox sent")
        return pahttest.messages(relay or self.stack, gw.ioc_address)

    def alerts_now(self, gw, n, relay=None, what="the IOC's letters"):
        """The IOC's letters once there are N of them"""
        return pahttest.wait_for(lambda: len(got := self.alerts(gw, relay)) == n and got,
                                 what=what)

    def records(self, gw):
        return sorted(k for (k,) in rows(gw, "SELECT key FROM daemon_state WHERE key LIKE"
                                             " 'mailbox_down%' OR key LIKE 'processing_failed%'"))

    def test_told_as_the_gateways_fault_not_the_mailboxs(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"))
        who, blocker = self.report_with_photo(gw)

        first = self.run_pass(gw, 0)
        self.assertEqual(first.returncode, 1, first.stderr)
        self.assertIn(f"mail of {gw.address} not processed (the IMAP server answers): ",
                      first.stderr)
        self.assertIn("Not a directory (retrying with backoff)", first.stderr)
        self.assertNotIn("unreachable", first.stderr)
        self.assertEqual(self.records(gw), ["processing_failed_since"])
        self.assertEqual(gw.count("INBOX"), 1, "the mail stays safely on the server")
        self.assertEqual(gw.pahtctl_json("drafts"), [])

        for minutes in (10, 29):
            self.assertEqual(self.run_pass(gw, minutes).returncode, 1)
        self.assertEqual(self.alerts(gw), [], "no alert before 30 minutes")
        told = self.run_pass(gw, 31)
        self.assertIn(f"mail of {gw.address} not processed (the IMAP server answers) for 31 min:"
                      " the IOC is alerted", told.stderr)
        got = self.alerts_now(gw, 1, what="the IOC alert")
        self.assertIn(NOT_PROCESSED + " 09:00 ngày 01/12/2026", got[0]["Subject"])
        self.assertNotIn(UNREACHABLE, got[0]["Subject"])
        text = pahttest.plain_text(got[0])
        self.assertIn("Máy chủ thư vẫn trả lời bình thường", text)
        self.assertIn("Not a directory", text)  # the last error, as it was
        self.assertIn("data_dir", text)
        for minutes in (40, 50):
            self.run_pass(gw, minutes)
        self.assertEqual(len(self.alerts(gw)), 1, "once per period")
        self.assertEqual(self.records(gw),
                         ["processing_failed_alerted", "processing_failed_since"])

        # the administrator's health page says which side fails
        console = webtest.Console(gw)
        console.user("quantri", "admin")
        console.start(now=at(50))
        self.addCleanup(console.stop)
        admin = console.login("quantri")
        page = admin.get("/health").text
        self.assertIn("Thư đến không xử lý được từ 09:00 01/12/2026", page)
        self.assertNotIn("Không kết nối được từ", page)

        # mended: drafted and answered once, the IOC told that the mail flows again
        os.unlink(blocker)
        back = self.run_pass(gw, 55)
        self.assertEqual(back.returncode, 0, back.stderr)
        self.assertIn(f"mail of {gw.address} processed again after 55 min", back.stderr)
        self.assertEqual(len(gw.pahtctl_json("drafts")), 1)
        self.assertEqual(gw.count("INBOX"), 0)
        pahttest.wait_for(lambda: pahttest.count(self.stack, who) == 1,
                          what="the acknowledgement")
        got = self.alerts_now(gw, 2, what="the IOC told that the mail flows again")
        self.assertIn("đã được xử lý lại", got[1]["Subject"])
        self.assertIn("55 phút", pahttest.plain_text(got[1]))
        self.assertEqual(self.records(gw), [])
        self.assertNotIn("Thư đến không xử lý được", admin.get("/health").text)

    def test_an_outage_that_ends_while_the_gateways_fault_goes_on(self):
        # the letters go through another server (the shared stack), as in many provinces:
        # this stack's Postfix needs its Dovecot to let pahtd in
        relay = pahttest.shared_stack()
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"), overrides={
            ("smtp", "url"): f"smtp://{relay.listen}:{relay.smtp_port}",
            ("smtp", "ca_file"): relay.ca,
            ("smtp", "user"): None, ("smtp", "password_file"): None,
        })
        self.assertEqual(self.run_pass(gw, 0).returncode, 0)  # folders made
        self.stack.imap_down()
        try:
            down = self.run_pass(gw, 1)
            self.assertIn(f"mailbox {gw.address} unreachable: ", down.stderr)
            self.run_pass(gw, 32)
            self.assertEqual(self.records(gw), ["mailbox_down_alerted", "mailbox_down_since"])
            # put into the Maildir: Postfix cannot deliver while Dovecot is down
            who, blocker = self.report_with_photo(gw, deliver=lambda who, mail: (
                daemontest.maildir_drop(self.stack, gw.address, mail)))
        finally:
            self.stack.imap_up()
        # the server answers again, the gateway's own fault remains: the outage is over (and
        # its letter says the mail is still not processed), the other failure begins
        run = self.run_pass(gw, 40)
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertIn(f"mailbox {gw.address} reachable again after 39 min", run.stderr)
        self.assertIn(f"mail of {gw.address} not processed (the IMAP server answers): ",
                      run.stderr)
        self.assertEqual(self.records(gw), ["processing_failed_since"])
        got = self.alerts_now(gw, 2, relay, what="the outage's two letters")
        self.assertEqual(sorted(UNREACHABLE in m["Subject"] for m in got), [False, True])
        back, = (m for m in got if "Đã kết nối lại hộp thư" in m["Subject"])
        self.assertIn("vẫn chưa xử lý được, do lỗi ở phía cổng thư", pahttest.plain_text(back))
        self.assertNotIn("đang được xử lý bình thường", pahttest.plain_text(back))
        self.run_pass(gw, 71)
        got = self.alerts_now(gw, 3, relay, what="the gateway's fault told")
        stalled = [m["Subject"] for m in got if NOT_PROCESSED in m["Subject"]]
        self.assertEqual(len(stalled), 1, stalled)
        self.assertIn(NOT_PROCESSED + " 09:40 ngày 01/12/2026", stalled[0])

        os.unlink(blocker)
        self.assertEqual(self.run_pass(gw, 80).returncode, 0)
        self.assertEqual(len(gw.pahtctl_json("drafts")), 1)
        pahttest.wait_for(lambda: pahttest.count(relay, who) == 1,
                          what="the acknowledgement")
        self.assertEqual(self.records(gw), [])


if __name__ == "__main__":
    unittest.main()
