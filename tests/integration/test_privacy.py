"""What leaves the gateway, read where it lands: pahtctl's output, the letters in the IOC's
and the citizens' mailboxes (real Dovecot and Postfix), pahtd's log. Issue 11 items 9, 10 and
16: no personal data for those who should not have it, numbers as the citizen wrote them,
deadlines as the letters state them, lines a mail reader can show."""
import os
import re
import tempfile
import unittest

import pahttest

NOW = "2026-11-23T08:00:00+07:00"  # Monday, a working morning


# Trần Thị Bích, as her mail and her client name her
BICH = ["094078001234", "0939000111", "0939 000 111", "Trần Thị Bích", "Tran Thi Bich",
        "Tran_Thi_Bich", "Thị Bích", "45 Trần Hưng Đạo"]


def texts(msg):
    """Subject, plain text and HTML of a letter, decoded."""
    return [str(msg["Subject"]), pahttest.plain_text(msg),
            msg.get_body(("html",)).get_content()]


class Privacy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = pahttest.shared_stack()
        name = pahttest.unique("paht")
        cls.gw = pahttest.Gateway(cls.stack, name, overrides={("gateway", "log_level"): "debug"})
        cls.tmp = tempfile.mkdtemp(prefix="paht-privacy-", dir=cls.gw.dir)
        cls.contact = f"{name}-xd@{cls.stack.domain}"
        cls.leader = f"{name}-xd-leader@{cls.stack.domain}"
        agencies = os.path.join(cls.gw.dir, "agencies.conf")
        with open(agencies, "w", encoding="utf-8") as f:
            f.write(f"[agency xd]\nname = Sở Xây dựng\ncontact = {cls.contact}\n"
                    f"leader = {cls.leader}\nleader_name = Nguyễn Văn A\n")
        cls.gw.config["gateway"]["agencies_file"] = agencies
        cls.gw.write_config()

    def assert_nobody_named(self, where, what):
        for form in BICH + [self.citizen_address]:
            self.assertNotIn(form, where, f"{what} names the citizen")

    def arrived(self, address, what):
        """The one letter Postfix delivers to ADDRESS (it delivers after pahtd returns)."""
        found = pahttest.wait_for(lambda: pahttest.messages(self.stack, address), timeout=30,
                                  what=what)
        self.assertEqual(len(found), 1, [str(m["Subject"]) for m in found])
        self.assert_short_lines(found[0])
        return found

    def assert_short_lines(self, msg):
        """16: lines of 150-250 characters without format=flowed; now flowed, each line at
        most 78 octets (RFC 5322 §2.1.1, RFC 3676 §4.2), as it came through Postfix."""
        part = msg.get_body(("plain",))
        self.assertEqual(part.get_param("format"), "flowed")
        for line in part.get_content().replace("\r\n", "\n").split("\n"):
            self.assertLessEqual(len(line.encode("utf-8")), 78, line)

    def run_pahtd(self, now):
        run = self.gw.pahtd("--once", env={"PAHT_NOW": now})
        self.assertEqual(run.returncode, 0, run.stderr)
        # SPEC §8: personal data never in the logs, at the most talkative level
        self.assert_nobody_named(run.stderr, "pahtd's log")
        return run

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()

    citizen_address = "nobody@example.test"

    def ingest(self, mail):
        """pahtctl ingest of MAIL (bytes) at NOW: the report's JSON from pahtctl show."""
        path = os.path.join(self.tmp, pahttest.unique("mail") + ".eml")
        with open(path, "wb") as f:
            f.write(mail)
        out = self.gw.pahtctl_json("ingest", path, env={"PAHT_NOW": NOW})
        self.assertIsNotNone(out[0]["id"], out)
        return out[0]["id"]

    # ---- numbers as written

    def test_coordinates_print_as_written(self):
        """16: pahtctl printed 9.6030999999999995 for the 9.6031 the citizen wrote."""
        citizen = pahttest.unique("citizen") + "@example.test"
        body = ("Cây đổ chắn ngang đường Lê Lợi.\nTọa độ: 9.6031, 105.98012345678\n"
                + pahttest.complete_details())
        report = self.ingest(pahttest.make_mail(citizen, self.gw.address, "Cây đổ", body))
        shown = self.gw.pahtctl("show", str(report), "--json", env={"PAHT_NOW": NOW})
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertRegex(shown.stdout, r'"lat" : 9\.6031,')
        # at most 7 decimals: a centimetre
        self.assertRegex(shown.stdout, r'"lon" : 105\.9801235\n')
        self.assertNotIn("99999", shown.stdout)
        text = self.gw.pahtctl("show", str(report), env={"PAHT_NOW": NOW})
        self.assertIn("(9.6031, 105.9801235)", text.stdout)

    # ---- deadlines as the letters state them

    def test_assign_deadline_is_open_when_the_ack_states_it(self):
        """16: after pahtd --once the acknowledgement stated the IOC's deadline (Điều 7.3)
        and the report had none until the scheduler's next cycle."""
        citizen = pahttest.unique("an") + "@" + self.stack.domain
        mail = pahttest.make_mail(citizen, self.gw.address, "Đèn đường hỏng",
                                  "Đèn đường hỏng.\n" + pahttest.complete_details())
        self.stack.deliver(self.gw.address, mail, sender=citizen)
        self.run_pahtd(NOW)
        ack = self.arrived(citizen, "the acknowledgement")[0]
        code = re.search(r"PAHT-\d{4}-\d{6}", str(ack["Subject"])).group(0)
        report = self.gw.pahtctl_json("show", code, env={"PAHT_NOW": NOW})
        # Monday 08:00 + 4 working hours (07:00-11:00, 13:00-17:00)
        self.assertEqual(report["deadlines"].get("assign"), "2026-11-23T14:00:00+07:00", report)
        self.assertIn("chậm nhất lúc 14:00 ngày 23/11/2026", pahttest.plain_text(ack))
        # pahtctl ingest runs no scheduler at all: the same
        other = self.ingest(pahttest.make_mail(citizen, self.gw.address, "Cống tắc",
                                               "Cống tắc.\n" + pahttest.complete_details()))
        shown = self.gw.pahtctl_json("show", str(other), env={"PAHT_NOW": NOW})
        self.assertEqual(shown["deadlines"].get("assign"), "2026-11-23T14:00:00+07:00", shown)

    # ---- items 9, 10: nothing personal for the IOC or the agency, end to end

    def test_confidential_emergency_reaches_officials_without_personal_data(self):
        self.citizen_address = pahttest.unique("bich") + "@" + self.stack.domain
        body = ("Đang cháy lớn ở dãy ki-ốt chợ Phường 2, lửa lan sang nhà bên cạnh. Xin giữ bí "
                "mật thông tin của tôi.\n\nHọ và tên: Trần Thị Bích\n"
                "Địa chỉ: 45 Trần Hưng Đạo, Phường 2, TP Sóc Trăng\nCCCD: 094078001234\n"
                "Điện thoại: 0939 000 111\nĐịa điểm: chợ Phường 2, TP Sóc Trăng\n")
        mail = pahttest.make_mail(
            f'"Trần Thị Bích" <{self.citizen_address}>', self.gw.address,
            "Cháy nhà Tran Thi Bich, CCCD 094078001234, SĐT 0939000111", body,
            attachments=[("CCCD_Tran_Thi_Bich_094078001234.jpg", "image/jpeg",
                          b"\xff\xd8\xff\xe0" + b"0" * 2000)])
        self.stack.deliver(self.gw.address, mail, sender=self.citizen_address)
        self.run_pahtd(NOW)
        alerts = self.arrived(self.gw.ioc_address, "the IOC alert")
        subject, text, html = texts(alerts[0])
        for part in (subject, text, html):
            self.assert_nobody_named(part, "the IOC alert")
        code = re.search(r"PAHT-\d{4}-\d{6}", subject).group(0)
        self.assertIn(f"KHẨN CẤP: Phản ánh {code} (bảo mật)", subject)
        self.assertIn("Địa điểm: chợ Phường 2, TP Sóc Trăng", text)
        self.assertIn("Trích nội dung: Đang cháy lớn ở dãy ki-ốt chợ Phường 2", text)
        self.assertIn(f"pahtctl show {code}", text)
        # the citizen is told to call 1022, in her own words
        answer = self.arrived(self.citizen_address, "the call-1022 answer")
        self.assertIn("1022", str(answer[0]["Subject"]))

        accepted = self.gw.pahtctl("accept", code, "--agency", "xd", env={"PAHT_NOW": NOW})
        self.assertEqual(accepted.returncode, 0, accepted.stderr)
        self.assert_nobody_named(accepted.stderr + accepted.stdout, "pahtctl accept")
        self.run_pahtd(NOW)
        letters = self.arrived(self.contact, "the assignment")
        subject, text, html = texts(letters[0])
        for part in (subject, text, html):
            self.assert_nobody_named(part, "the assignment")
        self.assertIn(f"Phản ánh {code} (bảo mật)", subject)
        self.assertIn("Tệp 1.jpg", text)
        self.assertIn("yêu cầu giữ bí mật", text)


if __name__ == "__main__":
    unittest.main()
