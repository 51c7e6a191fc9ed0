"""Automatic mail is never answered, and a bounce fails the letter it reports on, on the real
path (issue 11 items 7 and 8): a citizen's incomplete report gets its "please complete" letter
through Postfix; then an out-of-office reply to that letter, without Auto-Submitted, must not
get a second one, and an Exim-style bounce of it (with "Auto-Submitted: auto-replied", as Exim
writes it) must mark the letter failed instead of being filed as an auto-reply.
"""
import json
import os
import tempfile
import unittest

import pahttest


class AutomaticMail(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = pahttest.shared_stack()
        cls.gw = pahttest.Gateway(cls.stack, pahttest.unique("automail"))
        cls.citizen = "%s@%s" % (pahttest.unique("dan"), cls.stack.domain)
        report = pahttest.make_mail(
            '"Nguyễn Hoàng Nam" <%s>' % cls.citizen, cls.gw.address, "Rác thải ở chợ Phường 5",
            "Rác thải ở chợ Phường 5 không được thu gom.\n\nHọ tên: Nguyễn Hoàng Nam\n")
        cls.stack.deliver(cls.gw.address, report, sender=cls.citizen)
        pahttest.wait_for(lambda: cls.gw.count() == 1, what="the report in the inbox")
        first = cls.gw.pahtd("--once")
        assert first.returncode == 0, first.stderr
        cls.letter = pahttest.wait_for(lambda: pahttest.messages(cls.stack, cls.citizen),
                                       timeout=30, what="the please-complete letter")[0]
        cls.tmp = tempfile.mkdtemp(prefix="paht-automail-")

    def ingest(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        p = self.gw.pahtctl("ingest", "--json", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)[0]

    def letters_to_citizen(self):
        return [m for m in self.gw.pahtctl_json("outbox") if m["to"] == self.citizen]

    def test_1_letter_sent(self):
        letters = self.letters_to_citizen()
        self.assertEqual([(m["kind"], m["state"]) for m in letters], [("incomplete", "sent")])

    def test_2_out_of_office_reply_gets_no_second_letter(self):
        # Outlook: an empty Return-Path, no Auto-Submitted, the tracking code in the subject
        ooo = pahttest.make_mail(
            '"Nguyễn Hoàng Nam" <%s>' % self.citizen, self.gw.address,
            "Automatic reply: " + self.letter["Subject"],
            "I am out of the office until Monday.\n",
            headers=[("Return-Path", "<>"), ("In-Reply-To", self.letter["Message-ID"])])
        result = self.ingest("ooo-en.eml", ooo)
        self.assertEqual(result["classification"], "auto")
        self.assertIsNone(result["id"])
        # Vietnamese, by its words only
        vi = pahttest.make_mail(
            self.citizen, self.gw.address, "Re: " + self.letter["Subject"],
            "Tôi hiện không có mặt tại cơ quan đến hết ngày 4/12. Việc gấp xin gọi văn phòng.\n",
            headers=[("In-Reply-To", self.letter["Message-ID"])])
        result = self.ingest("ooo-vi.eml", vi)
        self.assertEqual(result["classification"], "auto")
        self.assertEqual([m["kind"] for m in self.letters_to_citizen()], ["incomplete"])

    def test_3_exim_bounce_with_auto_submitted_fails_the_letter(self):
        envelope = self.letter["Return-Path"].strip("<> ")
        self.assertTrue(envelope.startswith(self.gw.address.split("@")[0] + "+"), envelope)
        bounce = (
            "Return-path: <>\r\n"
            "X-Failed-Recipients: %(citizen)s\r\n"
            "Auto-Submitted: auto-replied\r\n"
            "From: Mail Delivery System <Mailer-Daemon@mx.example.org>\r\n"
            "To: %(envelope)s\r\n"
            "Subject: Mail delivery failed: returning message to sender\r\n"
            "Date: Sat, 28 Nov 2026 02:40:41 +0000\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            "This message was created automatically by mail delivery software.\r\n\r\n"
            "A message that you sent could not be delivered to one or more of its\r\n"
            "recipients. This is a permanent error. The following address(es) failed:\r\n\r\n"
            "  %(citizen)s\r\n"
            "    SMTP error from remote mail server after RCPT TO:<%(citizen)s>:\r\n"
            "    550 5.1.1 User unknown\r\n\r\n"
            "------ This is a copy of the message, including all the headers. ------\r\n\r\n"
            "Message-ID: %(id)s\r\n"
            "Subject: x\r\n"
        ) % {"citizen": self.citizen, "envelope": envelope, "id": self.letter["Message-ID"]}
        result = self.ingest("exim-bounce.eml", bounce.encode("ascii"))
        self.assertEqual(result["classification"], "bounce")
        self.assertIsNone(result["id"])
        letters = self.letters_to_citizen()
        self.assertEqual([(m["kind"], m["state"]) for m in letters], [("incomplete", "failed")])
        self.assertIn("5.1.1", letters[0]["last_reply"])


if __name__ == "__main__":
    unittest.main()
