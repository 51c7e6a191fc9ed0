"""Agencies and leaders act by answering their mail (issue 14), end to end on the real Dovecot
and Postfix: the letters reach the agencies' and the leader's mailboxes, their answers go
back through Postfix to the reply addresses the letters offer, and pahtd acts on them.

The story (Monday 23 November 2026 onwards, PAHT_NOW):
  A  the whole path: the assignment's Reply-To gets a result text and a PDF; the leader
     approves by replying; pahtctl publish; the citizen holds the Phụ lục I letter quoting the
     result. Then the same answer again (refused: once) and the approval request's other
     address, to send it back (refused: the state does not allow it).
  B  an extension by mail from the assignment's link; a second one from the reminder's link,
     refused (Điều 8.3).
  C  a return by mail.
  D  coordinated: the coordinating agency's opinion, recorded and forwarded to the main
     agency.
  E  refused and nothing changed: from another address; from an out-of-office robot (no
     answer at all); after 30 days.
"""
import json
import os
import re
import unittest

import pahttest

T0 = "2026-11-23T08:00:00+07:00"  # Monday: the citizens' mail arrives
T1 = "2026-11-23T09:00:00+07:00"  # the IOC accepts
T2 = "2026-11-24T10:00:00+07:00"  # the agency answers A
T3 = "2026-11-24T14:00:00+07:00"  # the leader approves
T4 = "2026-11-24T15:00:00+07:00"  # the IOC publishes A; the agencies answer the others
T5 = "2026-11-30T09:05:00+07:00"  # one working day before B's deadline: its reminder
T6 = "2026-11-30T10:00:00+07:00"  # B extended, then extended again
T_LATE = "2026-12-24T10:00:00+07:00"  # 31 days after the assignments

PDF = (b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
       b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
       b"trailer <</Root 1 0 R>>\n%%EOF\n")

BODY = ("Kính gửi Trung tâm IOC,\n\n{what}\n\nHọ và tên: {name}\n"
        "Địa chỉ: 15 Trần Hưng Đạo, Phường 2, TP Sóc Trăng\nCCCD: 094201009876\n"
        "Điện thoại: 0987 654 321\nĐịa điểm: {where}\n")

MAILS = {
    "a": ("Nguyễn Văn An", "Đèn đường hỏng trước chợ Phường 2",
          "Đèn đường trước cổng chợ Phường 2 đã hỏng hơn một tuần.", "cổng chợ Phường 2"),
    "b": ("Trần Thị Bích", "Ống nước vỡ trên đường Lê Lợi",
          "Ống nước trên đường Lê Lợi bị vỡ, nước tràn ra mặt đường.", "đường Lê Lợi"),
    "c": ("Lê Hoàng Phúc", "Cống thoát nước bị lấp",
          "Cống thoát nước đầu hẻm 12 bị lấp.", "hẻm 12 Nguyễn Trãi"),
    "d": ("Phạm Thị Dung", "Cây xanh nghiêng sắp đổ",
          "Cây dầu trước trường tiểu học nghiêng, sắp đổ ra đường.", "đường Phú Lợi"),
    "e": ("Võ Văn Em", "Ổ gà trên đường Trần Phú",
          "Ổ gà lớn giữa đường Trần Phú, xe máy dễ té ngã.", "đường Trần Phú"),
}


class AgencyMail(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = pahttest.shared_stack()
        name = pahttest.unique("paht")
        cls.name = name
        cls.gw = pahttest.Gateway(cls.stack, name)
        domain = cls.stack.domain
        cls.addr = {key: f"{name}-{key}@{domain}"
                    for key in ("xd-contact", "xd-leader", "gtvt-contact", "gtvt-leader",
                                "stranger", *(f"citizen-{k}" for k in MAILS))}
        cls.addr["ioc"] = cls.gw.ioc_address
        cls.gw.write_agencies({
            "xd": ("Sở Xây dựng", cls.addr["xd-contact"], cls.addr["xd-leader"], "Nguyễn Văn A"),
            "gtvt": ("Sở Giao thông vận tải", cls.addr["gtvt-contact"], cls.addr["gtvt-leader"],
                     "Trần Thị B"),
        })
        for key, (person, subject, what, where) in MAILS.items():
            sender = cls.addr["citizen-" + key]
            body = BODY.format(what=what, name=person, where=where)
            cls.stack.deliver(cls.gw.address,
                              pahttest.make_mail(f'"{person}" <{sender}>', cls.gw.address,
                                                 subject, body),
                              sender=sender)
        cls.daemon(T0)
        drafts = cls.gw.pahtctl_json("drafts", env={"PAHT_NOW": T0})
        by_subject = {d["subject"]: d["code"] for d in drafts}
        cls.code = {key: by_subject[MAILS[key][1]] for key in MAILS}
        for key in "abce":
            cls.act(T1, "accept", cls.code[key], "--agency", "xd", "--actor", "ioc.lan")
        cls.act(T1, "accept", cls.code["d"], "--agency", "xd", "--coordinate", "gtvt",
                "--actor", "ioc.lan")
        cls.daemon(T1)

    # ---- helpers

    @classmethod
    def daemon(cls, now):
        run = cls.gw.pahtd("--once", env={"PAHT_NOW": now})
        if run.returncode != 0:
            raise AssertionError(f"pahtd --once at {now}: {run.returncode}: {run.stderr}")

    @classmethod
    def act(cls, now, *args):
        run = cls.gw.pahtctl(*args, env={"PAHT_NOW": now})
        if run.returncode != 0:
            raise AssertionError(f"pahtctl {' '.join(args)}: {run.stderr}")

    def show(self, key, now=T4):
        return self.gw.pahtctl_json("show", self.code[key], env={"PAHT_NOW": now})

    def letters(self, who):
        """WHO's letters once Postfix holds nothing more for them (oldest first)."""
        self.stack.wait_delivered([self.addr[who]])
        return pahttest.messages(self.stack, self.addr[who])

    def letter(self, who, key, words):
        """WHO's newest letter about report KEY whose subject has WORDS."""
        found = [m for m in self.letters(who)
                 if self.code[key] in str(m["Subject"]) and words in str(m["Subject"])]
        self.assertTrue(found, f"{who} has no letter \"{words}\" about {self.code[key]}: "
                               + " | ".join(str(m["Subject"]) for m in self.letters(who)))
        # the addresses and their prepared subjects fit the plain text's lines of 78 octets
        # (RFC 5322 §2.1.1): a percent-encoded mailto: link does not
        plain = found[-1].get_body(("plain",)).get_content().replace("\r\n", "\n")
        for line in plain.split("\n"):
            self.assertLessEqual(len(line.encode("utf-8")), 78, line)
        return found[-1]

    def offered(self, msg, action):
        """The address of ACTION the letter offers (its text names it)."""
        pattern = rf"{re.escape(self.name)}\+{action}-[0-9a-f]{{24}}@{re.escape(self.stack.domain)}"
        found = re.search(pattern, pahttest.plain_text(msg))
        self.assertIsNotNone(found, f"no {action} address in \"{msg['Subject']}\"")
        return found.group(0)

    def answer(self, who, to, letter, body, now, attachments=None, headers=None, sender=None):
        """WHO answers LETTER to address TO through Postfix, as a mail client does (the quote
        of the letter below); then one pass of pahtd at NOW."""
        quoted = "\n".join("> " + line for line in pahttest.plain_text(letter).splitlines()[:8])
        text = f"{body}\n\nVào 09:00 ngày 23/11/2026, Trung tâm IOC tỉnh Sóc Trăng đã viết:\n{quoted}\n"
        extra = {"In-Reply-To": letter["Message-ID"], "References": letter["Message-ID"]}
        extra.update(headers or {})
        data = pahttest.make_mail(self.addr[who], to, "Re: " + str(letter["Subject"]), text,
                                  attachments=attachments, headers=extra)
        refused = self.stack.smtp_send([to], data, sender=sender or self.addr[who])
        self.assertEqual(refused, {})
        self.stack.wait_delivered([to])
        self.daemon(now)

    def assertNothingChanged(self, before, after):
        """A refused mail changes nothing: state, deadlines, result, files; its events are the
        refusal's only."""
        for field in ("state", "overdue", "deadlines", "result", "agency_files", "agency"):
            self.assertEqual(before[field], after[field], field)
        added = [e["kind"] for e in after["events"][len(before["events"]):]]
        self.assertTrue(set(added) <= {"mail_refused", "note", "automatic_mail"}, added)

    def mail_kinds(self, report, to):
        return [m["kind"] for m in report["mail"] if m["to"] == self.addr[to]]

    # ---- the story, in order

    def test_1_the_whole_path_with_a_pdf(self):
        a = self.code["a"]
        assignment = self.letter("xd-contact", "a", "Chuyển xử lý phản ánh")
        result = self.offered(assignment, "result")
        self.assertEqual(assignment["Reply-To"].addresses[0].addr_spec, result)
        self.answer("xd-contact", result, assignment,
                    "Ngày 24/11/2026, Sở Xây dựng đã thay bóng đèn trước cổng chợ Phường 2.\n"
                    "Đèn đã sáng bình thường.\n\n-- \nVăn thư Sở Xây dựng",
                    T2, attachments=[("ket-qua-xu-ly.pdf", "application/pdf", PDF)])
        r = self.show("a", T2)
        self.assertEqual(r["state"], "result_submitted")
        self.assertEqual(r["result"]["text"],
                         "Ngày 24/11/2026, Sở Xây dựng đã thay bóng đèn trước cổng chợ Phường 2.\n"
                         "Đèn đã sáng bình thường.")
        self.assertEqual(r["result"]["by"], self.addr["xd-contact"])
        self.assertEqual([(f["role"], f["filename"], f["size"]) for f in r["agency_files"]],
                         [("result", "ket-qua-xu-ly.pdf", len(PDF))])
        self.assertEqual(r["attachments"], [])  # the citizen's files are the citizen's
        submitted = [e for e in r["events"] if e["kind"] == "result_submitted"]
        self.assertEqual(submitted[-1]["actor"], self.addr["xd-contact"])
        done = self.letter("xd-contact", "a", "Đã thực hiện")
        self.assertIn("gửi kết quả xử lý", pahttest.plain_text(done))

        # the leader's approval request: its Reply-To approves
        request = self.letter("xd-leader", "a", "Đề nghị phê duyệt")
        approve = self.offered(request, "approve")
        self.assertEqual(request["Reply-To"].addresses[0].addr_spec, approve)
        self.assertIn("ket-qua-xu-ly.pdf", pahttest.plain_text(request))
        self.answer("xd-leader", approve, request, "Đồng ý.", T3)
        r = self.show("a", T3)
        self.assertEqual(r["state"], "approved")
        self.assertEqual([e["actor"] for e in r["events"] if e["kind"] == "approved"],
                         [self.addr["xd-leader"]])
        note = [e for e in r["events"] if e["kind"] == "note"][-1]
        self.assertEqual((note["actor"], note["detail"]), (self.addr["xd-leader"], "Đồng ý."))

        self.act(T4, "publish", a, "--actor", "ioc.lan")
        self.daemon(T4)
        result_letter = self.letter("citizen-a", "a", "Kết quả xử lý phản ánh")
        text = pahttest.plain_text(result_letter)
        for line in ("SỞ XÂY DỰNG", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                     "Sở Xây dựng đã thay bóng đèn trước cổng chợ Phường 2.",
                     "Đèn đã sáng bình thường.", "THỦ TRƯỞNG ĐƠN VỊ", "Nguyễn Văn A"):
            self.assertIn(line, text)
        self.assertNotIn("Văn thư Sở Xây dựng", text)  # the signature was cut


    def test_2_return_by_mail(self):
        assignment = self.letter("xd-contact", "c", "Chuyển xử lý phản ánh")
        self.answer("xd-contact", self.offered(assignment, "return"), assignment,
                    "Cống thuộc thẩm quyền UBND thành phố Sóc Trăng.", T4)
        r = self.show("c", T4)
        self.assertEqual(r["state"], "returned")
        returned = [e for e in r["events"] if e["kind"] == "returned"][-1]
        self.assertEqual(returned["actor"], self.addr["xd-contact"])
        self.assertIn("Cống thuộc thẩm quyền UBND thành phố Sóc Trăng.", returned["detail"])
        alert = self.letter("ioc", "c", "trả lại")
        self.assertIn("Cống thuộc thẩm quyền UBND thành phố Sóc Trăng.", pahttest.plain_text(alert))


    def test_3_coordinating_agency_opinion(self):
        assignment = self.letter("gtvt-contact", "d", "(phối hợp)")
        opinion = self.offered(assignment, "opinion")
        self.assertEqual(assignment["Reply-To"].addresses[0].addr_spec, opinion)
        self.answer("gtvt-contact", opinion, assignment,
                    "Cây thuộc hành lang đường Phú Lợi do Sở Giao thông vận tải quản lý; "
                    "đã cử đội cây xanh chằng chống.", T4,
                    attachments=[("bien-ban.pdf", "application/pdf", PDF)])
        r = self.show("d", T4)
        self.assertEqual(r["state"], "coordinating")
        given = [e for e in r["events"] if e["kind"] == "opinion"][-1]
        self.assertEqual(given["actor"], self.addr["gtvt-contact"])
        self.assertTrue(given["detail"].startswith("gtvt: Cây thuộc hành lang đường Phú Lợi"))
        self.assertEqual([(f["role"], f["filename"]) for f in r["agency_files"]],
                         [("opinion", "bien-ban.pdf")])
        forwarded = self.letter("xd-contact", "d", "Ý kiến phối hợp")
        text = pahttest.plain_text(forwarded)
        self.assertIn("đã cử đội cây xanh chằng chống", text)
        self.assertIn("bien-ban.pdf", text)


    def test_4_another_address_and_a_robot_change_nothing(self):
        assignment = self.letter("xd-contact", "e", "Chuyển xử lý phản ánh")
        result = self.offered(assignment, "result")
        before = self.show("e", T4)
        self.answer("stranger", result, assignment, "Đã xử lý xong, xin đóng phản ánh.", T4)
        after = self.show("e", T4)
        self.assertNothingChanged(before, after)
        refusal = self.letter("stranger", "e", "Chưa thực hiện được")
        self.assertIn("không được gửi từ địa chỉ đã nhận thư", pahttest.plain_text(refusal))
        self.assertEqual(refusal["Reply-To"].addresses[0].addr_spec, self.addr["ioc"])
        self.assertNotIn(f"{self.name}+", pahttest.plain_text(refusal))

        # the contact's out-of-office robot answers the assignment: recorded, never answered
        contact_before = len(self.letters("xd-contact"))
        self.answer("xd-contact", result, assignment, "Tôi đang nghỉ phép đến ngày 30/11/2026.",
                    T4, headers={"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"})
        robot = self.show("e", T4)
        self.assertNothingChanged(after, robot)
        self.assertEqual(robot["events"][-1]["kind"], "automatic_mail")
        self.assertEqual(len(self.letters("xd-contact")), contact_before)
        self.assertEqual(len(robot["mail"]), len(after["mail"]))


    def test_5_the_same_answer_twice_and_in_the_wrong_state(self):
        assignment = self.letter("xd-contact", "a", "Chuyển xử lý phản ánh")
        request = self.letter("xd-leader", "a", "Đề nghị phê duyệt")
        before = self.show("a")
        self.answer("xd-contact", self.offered(assignment, "result"), assignment,
                    "Gửi lại kết quả lần nữa.", T4)
        self.answer("xd-leader", self.offered(request, "sendback"), request,
                    "Chưa đạt, xin làm lại.", T4)
        after = self.show("a")
        self.assertNothingChanged(before, after)
        refused = [e["detail"] for e in after["events"] if e["kind"] == "mail_refused"]
        self.assertEqual(len(refused), 2, refused)
        self.assertIn("refused (used)", refused[0])
        self.assertIn("refused (state)", refused[1])
        self.assertIn("Gửi lại kết quả lần nữa.",
                      [e for e in after["events"] if e["kind"] == "note"][-1]["detail"])
        twice = self.letter("xd-contact", "a", "Chưa thực hiện được")
        self.assertIn("mỗi địa chỉ chỉ dùng được một lần", pahttest.plain_text(twice))
        wrong = self.letter("xd-leader", "a", "Chưa thực hiện được")
        self.assertIn("Phản ánh hiện ở giai đoạn: đã công bố kết quả", pahttest.plain_text(wrong))
        alerts = [m for m in self.letters("ioc") if "không được thực hiện" in str(m["Subject"])
                  and self.code["a"] in str(m["Subject"])]
        self.assertEqual(len(alerts), 2, [str(m["Subject"]) for m in alerts])


    def test_6_extension_by_mail_and_a_second_refused(self):
        assignment = self.letter("xd-contact", "b", "Chuyển xử lý phản ánh")
        first = self.offered(assignment, "extend")
        # one working day before the deadline: the reminder offers an extension too
        self.daemon(T5)
        reminder = self.letter("xd-contact", "b", "Nhắc hạn")
        second = self.offered(reminder, "extend")
        self.assertNotEqual(first, second)
        self.answer("xd-contact", first, assignment,
                    "Gia hạn đến 16/12/2026\nCần khảo sát, thay đoạn ống ngầm dưới mặt đường.",
                    T6)
        r = self.show("b", T6)
        self.assertEqual(r["state"], "extended", r["events"][-1])
        self.assertEqual(r["deadlines"]["result"], "2026-12-16T17:00:00+07:00")
        self.assertEqual(r["result"]["extension_note"],
                         "Cần khảo sát, thay đoạn ống ngầm dưới mặt đường.")
        self.assertEqual([e["actor"] for e in r["events"] if e["kind"] == "extended"],
                         [self.addr["xd-contact"]])
        notice = self.letter("citizen-b", "b", "Gia hạn xử lý phản ánh")
        self.assertIn("chậm nhất 17:00 ngày 16/12/2026", pahttest.plain_text(notice))

        # Điều 8.3: once
        self.answer("xd-contact", second, reminder, "Gia hạn đến 20/12/2026\nLần nữa.", T6)
        again = self.show("b", T6)
        self.assertNothingChanged(r, again)
        refusal = self.letter("xd-contact", "b", "Chưa thực hiện được")
        self.assertIn("khoản 3 Điều 8", pahttest.plain_text(refusal))
        self.assertIn("chỉ thực hiện một lần", pahttest.plain_text(refusal))
        self.assertEqual(self.mail_kinds(again, "citizen-b"), ["ack", "acceptance", "extension"])


    def test_7_after_30_days(self):
        assignment = self.letter("xd-contact", "e", "Chuyển xử lý phản ánh")
        self.daemon(T_LATE)  # the scheduler catches up first: overdue, reminders
        before = self.show("e", T_LATE)
        self.answer("xd-contact", self.offered(assignment, "return"), assignment,
                    "Không thuộc thẩm quyền.", T_LATE)
        after = self.show("e", T_LATE)
        self.assertNothingChanged(before, after)
        self.assertIn("refused (expired)", after["events"][-1]["detail"])
        refusal = self.letter("xd-contact", "e", "Chưa thực hiện được")
        self.assertIn("chỉ có hiệu lực trong 30 ngày", pahttest.plain_text(refusal))


if __name__ == "__main__":
    unittest.main()
