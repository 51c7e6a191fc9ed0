"""Every kind of mail citizens really send, answered over the real path: Dovecot in, Postfix
out, the citizens' mailboxes. The letters reach the citizen, the citizen's reply completes the
report, the IOC is alerted. What each fixture of tests/mail becomes is offline_mail_kinds.py's
(no mail stack needed).
"""
import re
import unittest

import pahttest


def _body(msg):
    return pahttest.plain_text(msg)


class OverImap(unittest.TestCase):
    """The same answers over the real path: Dovecot in, Postfix out, citizens' mailboxes."""

    @classmethod
    def setUpClass(cls):
        cls.stack = pahttest.shared_stack()
        cls.gw = pahttest.Gateway(cls.stack, pahttest.unique("imapkinds"))
        cls.citizen = "%s@%s" % (pahttest.unique("dan"), cls.stack.domain)
        cls.caller = "%s@%s" % (pahttest.unique("baochay"), cls.stack.domain)
        cls.stranger = "%s@%s" % (pahttest.unique("nguoila"), cls.stack.domain)
        incomplete = pahttest.make_mail(
            '"Nguyễn Hoàng Nam" <%s>' % cls.citizen, cls.gw.address, "Rác thải ở chợ Phường 5",
            "Rác thải ở chợ Phường 5 không được thu gom.\n\nHọ tên: Nguyễn Hoàng Nam\n")
        fire = pahttest.make_mail(cls.caller, cls.gw.address, "Báo cháy",
                                  "Nhà kho đầu hẻm 5 đang cháy!\nSĐT: 0933 444 555\n")
        cls.stack.deliver(cls.gw.address, incomplete, sender=cls.citizen)
        cls.stack.deliver(cls.gw.address, fire, sender=cls.caller)
        pahttest.wait_for(lambda: cls.gw.count() == 2)
        cls.first = cls.gw.pahtd("--once")

    def test_1_letters_arrive(self):
        self.assertEqual(self.first.returncode, 0, self.first.stderr)
        please = pahttest.wait_for(lambda: pahttest.messages(self.stack, self.citizen),
                                   timeout=30, what="the please-complete letter")
        self.assertEqual(len(please), 1)
        self.assertRegex(please[0]["Subject"],
                         r"^\[PAHT-\d{4}-\d{6}\] Đề nghị bổ sung thông tin phản ánh")
        text = _body(please[0])
        self.assertIn("địa chỉ liên hệ, số căn cước công dân, số điện thoại và địa điểm", text)
        self.assertIn("Số căn cước công dân: ", text)
        fire = pahttest.wait_for(lambda: pahttest.messages(self.stack, self.caller), timeout=30,
                                 what="the call-1022 letter")
        self.assertIn("KHẨN CẤP", fire[0]["Subject"])
        self.assertIn("1022", _body(fire[0]))
        alerts = pahttest.wait_for(lambda: pahttest.messages(self.stack, self.gw.ioc_address),
                                   timeout=30, what="the IOC alert")
        self.assertIn("KHẨN CẤP: Báo cháy", alerts[0]["Subject"])
        # what the IOC acts on, without the caller's phone (Điều 4.5: it is in the system)
        self.assertIn("từ khóa “đang cháy”", _body(alerts[0]))
        self.assertNotIn("0933444555", _body(alerts[0]))
        self.assertNotIn("0933 444 555", _body(alerts[0]))

    def test_2_reply_completes_report_and_gets_ack(self):
        please = pahttest.wait_for(lambda: pahttest.messages(self.stack, self.citizen),
                                   timeout=30)[0]
        code = re.search(r"PAHT-\d{4}-\d{6}", please["Subject"]).group(0)
        reply_to = please["Reply-To"].addresses[0].addr_spec
        quoted = "\n".join("> " + line for line in _body(please).splitlines())
        body = ("Địa chỉ liên hệ: 14 Trần Quốc Toản, phường 5\n"
                "Số căn cước công dân: 094092004455\nSố điện thoại: 0919 222 333\n"
                "Địa điểm xảy ra sự việc: cổng sau chợ Phường 5\n\n"
                "Vào Th 7, 28 thg 11, 2026 vào lúc 09:01 <%s> đã viết:\n%s\n"
                % (self.gw.address, quoted))
        reply = pahttest.make_mail(
            '"Nguyễn Hoàng Nam" <%s>' % self.citizen, reply_to, "Re: " + please["Subject"],
            body, headers={"In-Reply-To": please["Message-ID"],
                           "References": please["Message-ID"]})
        self.stack.deliver(self.gw.address, reply, sender=self.citizen)
        pahttest.wait_for(lambda: self.gw.count() == 1)
        run = self.gw.pahtd("--once")
        self.assertEqual(run.returncode, 0, run.stderr)
        r = self.gw.pahtctl_json("show", code)
        self.assertEqual(r["state"], "draft")
        self.assertEqual(r["missing"], [])
        self.assertEqual(r["citizen"]["id_number"], "094092004455")
        self.assertEqual([m["kind"] for m in r["mail"]], ["incomplete", "ack"])
        got = pahttest.wait_for(
            lambda: [m for m in pahttest.messages(self.stack, self.citizen)
                     if "Đã tiếp nhận phản ánh" in m["Subject"]],
            timeout=30, what="the acknowledgement")
        self.assertIn(code, got[0]["Subject"])
        self.assertEqual(len(self.gw.pahtctl_json("drafts")), 2)  # no new report

    def test_3_stranger_quoting_the_code(self):
        please = pahttest.messages(self.stack, self.citizen)[0]
        code = re.search(r"PAHT-\d{4}-\d{6}", please["Subject"]).group(0)
        mail = pahttest.make_mail(self.stranger, self.gw.address, "Re: [%s] Rác thải" % code,
                                  "Chợ Phường 6 cũng nhiều rác.\n")
        self.stack.deliver(self.gw.address, mail, sender=self.stranger)
        pahttest.wait_for(lambda: self.gw.count() == 1)
        run = self.gw.pahtd("--once")
        self.assertEqual(run.returncode, 0, run.stderr)
        drafts = self.gw.pahtctl_json("drafts")
        theirs = [d for d in drafts if d["citizen"]["email"] == self.stranger]
        self.assertEqual(len(theirs), 1)
        self.assertNotEqual(theirs[0]["code"], code)
        original = self.gw.pahtctl_json("show", code)
        self.assertNotIn("Chợ Phường 6", original["text"])


if __name__ == "__main__":
    unittest.main()
