"""The regulation's clock, end to end on real Dovecot and Postfix, driven with PAHT_NOW through
the real 2026 calendar: reports accepted, reminded, overdue, extended, answered, approved,
published and rated, with the exact letters each agency contact, leader, the IOC and each
citizen find in their mailboxes; the actions the regulation refuses; the Phụ lục I letter.

The timeline (Monday 23 November 2026 onwards; 07:00-11:00, 13:00-17:00):
  A  single agency, left to run late: reminder the day before, overdue at the deadline
     (Điều 8.5), escalation the next working day, a refused late extension, then result,
     approval, publication and a rating (Điều 10.3).
  B  extended in time (Điều 8.3), a result without answer text sent back (Điều 9.4), then
     published; the citizen's feedback goes to the agency with its 2-day deadline (Điều 10.2).
  C  confidential and coordinated: no personal data in any agency mail (Điều 9.3.b); returned
     by the agency (Điều 8.1), then rejected as a duplicate.
Until field extraction lands, the test sets C's extracted fields in the database, as the parser
will."""
import email.policy
import json
import os
import re
import sqlite3
import unittest

import pahttest

T0 = "2026-11-23T08:00:00+07:00"  # Monday: the mails arrive
T1 = "2026-11-23T09:00:00+07:00"  # the IOC accepts
T_EXT = "2026-11-27T10:00:00+07:00"  # Friday: B extended, answered, published
T2 = "2026-11-30T09:05:00+07:00"  # Monday: one working day before A's deadline
T3 = "2026-12-01T09:05:00+07:00"  # Tuesday: A's deadline (09:00) has passed
T4 = "2026-12-02T09:10:00+07:00"  # Wednesday: the next working day
T5 = "2026-12-02T10:00:00+07:00"  # A's result
T6 = "2026-12-02T14:00:00+07:00"  # approved
T7 = "2026-12-02T15:00:00+07:00"  # published
T8 = "2026-12-02T15:30:00+07:00"  # the citizens answer

BODY = (
    "Kính gửi Trung tâm IOC,\n\n{what}\n\n"
    "Họ và tên: {name}\nĐịa chỉ: 15 Trần Hưng Đạo, Phường 2, TP Sóc Trăng\n"
    "CCCD: 094201009876\nĐiện thoại: 0987 654 321\nĐịa điểm: {where}\n"
)


class Lifecycle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = pahttest.shared_stack()
        name = pahttest.unique("paht")
        cls.gw = pahttest.Gateway(cls.stack, name)
        domain = cls.stack.domain
        cls.addr = {
            key: f"{name}-{key}@{domain}"
            for key in ("xd-contact", "xd-leader", "gtvt-contact", "gtvt-leader",
                        "citizen-a", "citizen-b", "citizen-c")
        }
        cls.addr["ioc"] = cls.gw.ioc_address
        agencies = os.path.join(cls.gw.dir, "agencies.conf")
        with open(agencies, "w", encoding="utf-8") as f:
            f.write(
                "[agency xd]\nname = Sở Xây dựng\n"
                f"contact = {cls.addr['xd-contact']}\nleader = {cls.addr['xd-leader']}\n"
                "leader_name = Nguyễn Văn A\n\n"
                "[agency gtvt]\nname = Sở Giao thông vận tải\n"
                f"contact = {cls.addr['gtvt-contact']}\nleader = {cls.addr['gtvt-leader']}\n"
                "leader_name = Trần Thị B\n"
            )
        cls.gw.config["gateway"]["agencies_file"] = agencies
        cls.gw.config["gateway"]["portal"] = "https://paht.soctrang.gov.vn"
        cls.gw.write_config()

        mails = {
            "a": ("Nguyễn Văn An", "Đèn đường hỏng trước chợ Phường 2",
                  "Đèn đường trước cổng chợ Phường 2 đã hỏng hơn một tuần.", "cổng chợ Phường 2"),
            "b": ("Trần Thị Bích", "Ống nước vỡ trên đường Lê Lợi",
                  "Ống nước trên đường Lê Lợi bị vỡ, nước tràn ra mặt đường.", "đường Lê Lợi"),
            "c": ("Lê Hoàng Phúc", "Cống thoát nước bị lấp",
                  "Cống thoát nước đầu hẻm 12 bị lấp, xin giữ bí mật thông tin của tôi.",
                  "hẻm 12 Nguyễn Trãi"),
        }
        for key, (person, subject, what, where) in mails.items():
            sender = cls.addr["citizen-" + key]
            body = BODY.format(what=what, name=person, where=where)
            cls.stack.deliver(cls.gw.address,
                              pahttest.make_mail(f'"{person}" <{sender}>', cls.gw.address,
                                                 subject, body),
                              sender=sender)
            cls.daemon(T0)
        drafts = cls.gw.pahtctl_json("drafts", env={"PAHT_NOW": T0})
        by_subject = {d["subject"]: d for d in drafts}
        cls.code = {key: by_subject[mails[key][1]]["code"] for key in mails}
        cls.id = {key: by_subject[mails[key][1]]["id"] for key in mails}
        # what issue 4's field extraction will store; C asked for secrecy (Điều 9.3.b)
        db = sqlite3.connect(cls.gw.database)
        with db:
            db.execute(
                "UPDATE report SET confidential = 1, citizen_name = 'Lê Hoàng Phúc',"
                " citizen_address = '15 Trần Hưng Đạo, Phường 2, TP Sóc Trăng',"
                " citizen_id_number = '094201009876', citizen_phone = '0987654321'"
                " WHERE id = ?", (cls.id["c"],))
        db.close()

    # ---- helpers

    @classmethod
    def daemon(cls, now):
        """One pass of pahtd at NOW: scheduler, mailbox, outbox."""
        run = cls.gw.pahtd("--once", env={"PAHT_NOW": now})
        if run.returncode != 0:
            raise AssertionError(f"pahtd --once at {now}: {run.returncode}: {run.stderr}")
        return run

    def ctl(self, now, *args):
        return self.gw.pahtctl(*args, env={"PAHT_NOW": now})

    def act(self, now, *args):
        """A pahtctl action that must succeed; then the daemon sends its letters."""
        run = self.ctl(now, *args)
        self.assertEqual(run.returncode, 0, f"pahtctl {' '.join(args)}: {run.stderr}")
        self.daemon(now)
        return run

    def refused(self, now, needle, *args):
        """A pahtctl action the rules refuse: exit 1, one line saying why."""
        run = self.ctl(now, *args)
        self.assertEqual(run.returncode, 1, f"pahtctl {' '.join(args)} should be refused: "
                                            f"{run.stdout} {run.stderr}")
        lines = [line for line in run.stderr.splitlines() if not line.startswith("<")]
        self.assertEqual(len(lines), 1, run.stderr)
        self.assertIn(needle, lines[0])
        return lines[0]

    def show(self, key, now=T8):
        return self.gw.pahtctl_json("show", self.code[key], env={"PAHT_NOW": now})

    def mailbox(self, who, expected):
        """Wait for WHO to have EXPECTED letters; return them (oldest first)."""
        addr = self.addr[who]
        # every pahtd run has ended: once Postfix holds nothing more for WHO, a letter too
        # many would be in the mailbox
        self.stack.wait_delivered([addr])
        got = pahttest.messages(self.stack, addr)
        self.assertEqual(len(got), expected,
                         f"{who}: " + " | ".join(str(m["Subject"]) for m in got))
        return got

    @staticmethod
    def text(msg):
        return pahttest.plain_text(msg)

    @staticmethod
    def html(msg):
        return msg.get_body(("html",)).get_content()

    # ---- the story, in order

    def test_1_accept_assigns_and_mails(self):
        self.refused(T1, "unknown agency code \"sxd\"", "accept", self.code["a"], "--agency", "sxd")
        for key in ("a", "b"):
            self.act(T1, "accept", self.code[key], "--agency", "xd", "--category",
                     "Hạ tầng đô thị", "--actor", "ioc.lan")
        r = self.show("a", T1)
        self.assertEqual(r["state"], "assigned")
        self.assertEqual(r["agency"], "xd")
        self.assertFalse(r["overdue"])
        # Điều 8.1: 6 working days from Monday 09:00; 1 to give it back
        self.assertEqual(r["deadlines"]["result"], "2026-12-01T09:00:00+07:00")
        self.assertEqual(r["deadlines"]["return"], "2026-11-24T09:00:00+07:00")
        kinds = [(e["actor"], e["kind"]) for e in r["events"]]
        self.assertEqual(kinds[-2:], [("ioc.lan", "accepted"), ("ioc.lan", "assigned")])
        self.assertIn({"kind": "acceptance", "to": self.addr["citizen-a"], "state": "sent"},
                      [{k: m[k] for k in ("kind", "to", "state")} for m in r["mail"]])

        # C: coordinated and confidential
        self.act(T1, "accept", self.code["c"], "--agency", "xd", "--coordinate", "gtvt",
                 "--actor", "ioc.lan")
        c = self.show("c", T1)
        self.assertEqual(c["state"], "coordinating")
        self.assertEqual(c["coordinators"], ["gtvt"])
        self.assertTrue(c["confidential"])
        self.assertEqual(c["deadlines"]["coordinate"], "2026-11-30T09:00:00+07:00")
        self.assertEqual(c["deadlines"]["result"], "2026-12-02T09:00:00+07:00")

        citizen = self.mailbox("citizen-a", 2)
        self.assertIn("Đã tiếp nhận phản ánh", citizen[0]["Subject"])
        acceptance = citizen[1]
        self.assertEqual(acceptance["Subject"], f"[{self.code['a']}] Phản ánh đã được tiếp nhận "
                                                "và chuyển đến Sở Xây dựng")
        self.assertIn("chậm nhất 09:00 ngày 01/12/2026", self.text(acceptance))
        self.assertIn("+", acceptance["Reply-To"])  # the report's token: answers come back

    def test_2_agencies_get_the_report_not_the_secrets(self):
        contact = self.mailbox("xd-contact", 3)  # a, b, c
        by_code = {next(c for c in self.code.values() if c in m["Subject"]): m for m in contact}
        a = by_code[self.code["a"]]
        # issue 14: the agency's answer submits the result, to its own signed address
        local, domain = self.gw.address.split("@")
        self.assertRegex(a["Reply-To"].addresses[0].addr_spec,
                         rf"^{re.escape(local)}\+result-[0-9a-f]{{24}}@{re.escape(domain)}$")
        text = self.text(a)
        self.assertIn("Đèn đường trước cổng chợ Phường 2", text)
        self.assertIn("chậm nhất 09:00 ngày 24/11/2026", text)
        self.assertIn(f"pahtctl result {self.code['a']} --file", text)
        # an ordinary report: name and contact to verify, never the ID number or address
        self.assertIn("Nguyễn Văn An", text)
        for secret in ("094201009876", "15 Trần Hưng Đạo"):
            self.assertNotIn(secret, text)
            self.assertNotIn(secret, self.html(a))
        # the confidential one: nothing of the citizen, to either agency
        coordinator = self.mailbox("gtvt-contact", 1)[0]
        self.assertIn("(phối hợp)", coordinator["Subject"])
        for letter in (by_code[self.code["c"]], coordinator):
            for part in (self.text(letter), self.html(letter)):
                for secret in ("094201009876", "15 Trần Hưng Đạo", "Lê Hoàng Phúc",
                               "0987 654 321", "0987654321", self.addr["citizen-c"]):
                    self.assertNotIn(secret, part)
                self.assertIn("giữ bí mật", part)
                self.assertIn("Cống thoát nước đầu hẻm 12", part)

    def test_3_return_and_reject(self):
        self.refused(T1, "--note", "return", self.code["c"], "--note", " ")
        self.act(T1, "return", self.code["c"], "--note",
                 "Thuộc thẩm quyền UBND thành phố Sóc Trăng", "--actor", "nv.xd")
        c = self.show("c", T1)
        self.assertEqual(c["state"], "returned")
        # back in the IOC's queue: 4 working hours (09:00-11:00, 13:00-15:00)
        self.assertEqual(c["deadlines"]["assign"], "2026-11-23T15:00:00+07:00")
        ioc = self.mailbox("ioc", 1)
        self.assertIn("Cơ quan xử lý trả lại phản ánh", ioc[0]["Subject"])
        self.assertIn("Thuộc thẩm quyền UBND thành phố Sóc Trăng", self.text(ioc[0]))
        for secret in ("094201009876", "Lê Hoàng Phúc", "0987 654 321"):
            self.assertNotIn(secret, self.text(ioc[0]))
        self.refused(T1, "unknown reason", "reject", self.code["c"], "--reason", "boring")
        self.act(T1, "reject", self.code["c"], "--reason", "duplicate", "--note",
                 f"Trùng với phản ánh {self.code['a']}", "--actor", "ioc.lan")
        self.assertEqual(self.show("c", T1)["state"], "rejected")
        citizen = self.mailbox("citizen-c", 3)  # ack, acceptance, rejection
        rejection = citizen[2]
        self.assertIn("Thông báo không tiếp nhận phản ánh", rejection["Subject"])
        self.assertIn("trùng với một phản ánh đã được Hệ thống tiếp nhận", self.text(rejection))

    def test_4_extension_sent_back_and_published(self):
        b = self.code["b"]
        self.act(T_EXT, "extend", b, "--until", "2026-12-10T17:00:00+07:00", "--note",
                 "Cần khảo sát, thay đoạn ống ngầm", "--actor", "nv.xd")
        r = self.show("b", T_EXT)
        self.assertEqual(r["state"], "extended")
        self.assertEqual(r["deadlines"]["result"], "2026-12-10T17:00:00+07:00")
        self.refused(T_EXT, "Điều 8.3", "extend", b, "--until", "2026-12-20T17:00:00+07:00",
                     "--note", "Lần nữa")

        empty = os.path.join(self.gw.dir, "empty.txt")
        with open(empty, "w", encoding="utf-8") as f:
            f.write("\n")
        self.act(T_EXT, "result", b, "--file", empty, "--actor", "nv.xd")
        self.act(T_EXT, "approve", b, "--actor", "gd.xd")
        line = self.refused(T_EXT, "Điều 9.4", "publish", b, "--actor", "ioc.lan")
        self.assertIn("Sở Xây dựng", line)
        self.daemon(T_EXT)
        r = self.show("b", T_EXT)
        self.assertEqual(r["state"], "extended")
        self.assertEqual(r["events"][-1]["kind"], "sent_back")

        answer = os.path.join(self.gw.dir, "ket-qua-b.txt")
        with open(answer, "w", encoding="utf-8") as f:
            f.write("Ngày 26/11/2026, Công ty Cấp nước Sóc Trăng đã thay đoạn ống bị vỡ.\n")
        self.act(T_EXT, "result", b, "--file", answer, "--actor", "nv.xd")
        self.act(T_EXT, "approve", b, "--actor", "gd.xd")
        self.act(T_EXT, "publish", b, "--actor", "ioc.lan")
        self.assertEqual(self.show("b", T_EXT)["state"], "published")

        citizen = self.mailbox("citizen-b", 4)  # ack, acceptance, extension, result
        self.assertIn("Gia hạn xử lý phản ánh", citizen[2]["Subject"])
        self.assertIn("chậm nhất 17:00 ngày 10/12/2026", self.text(citizen[2]))
        self.assertIn("Cần khảo sát, thay đoạn ống ngầm", self.text(citizen[2]))
        self.assertIn("Kết quả xử lý phản ánh", citizen[3]["Subject"])
        self.assertIn("đã thay đoạn ống bị vỡ", self.text(citizen[3]))

        # the leader: approval request, the result sent back, approval request again
        leader = self.mailbox("xd-leader", 3)
        self.assertIn("Đề nghị phê duyệt kết quả", leader[0]["Subject"])
        self.assertIn("Trả lại kết quả xử lý chưa có nội dung trả lời", leader[1]["Subject"])
        self.assertIn("khoản 4 Điều 9", self.text(leader[1]))
        self.assertIn("Đề nghị phê duyệt kết quả", leader[2]["Subject"])
        # the IOC: the return of C, then B's publish request (only the one with text)
        ioc = self.mailbox("ioc", 3)
        self.assertIn("đề nghị công bố", ioc[1]["Subject"])
        self.assertIn("đề nghị công bố", ioc[2]["Subject"])

    def test_5_reminder_the_day_before(self):
        before = len(pahttest.messages(self.stack, self.addr["xd-contact"]))
        self.daemon(T2)
        self.daemon(T2)  # a restart: nothing twice
        contact = self.mailbox("xd-contact", before + 1)
        reminder = contact[-1]
        self.assertIn(self.code["a"], reminder["Subject"])
        self.assertIn("còn 01 ngày làm việc", reminder["Subject"])
        self.assertIn("09:00 ngày 01/12/2026", self.text(reminder))
        self.assertFalse(self.show("a", T2)["overdue"])

    def test_6_overdue_at_the_deadline(self):
        self.daemon(T3)
        r = self.show("a", T3)
        self.assertTrue(r["overdue"])
        self.assertEqual(r["events"][-1]["kind"], "overdue")
        self.assertEqual(r["events"][-1]["actor"], "pahtd")
        self.assertIn("Điều 8.5", r["events"][-1]["detail"])
        contact = self.mailbox("xd-contact", 5)  # 3 assignments, 2 reminders
        self.assertIn("(đến hạn)", contact[-1]["Subject"])
        leader = self.mailbox("xd-leader", 4)
        self.assertIn(f"[{self.code['a']}] TRỄ HẠN", leader[-1]["Subject"])
        ioc = self.mailbox("ioc", 4)
        self.assertIn("TRỄ HẠN", ioc[-1]["Subject"])
        # Điều 8.3: too late to extend
        self.refused(T3, "has passed", "extend", self.code["a"], "--until",
                     "2026-12-10T17:00:00+07:00", "--note", "Muộn")

    def test_7_escalation_each_working_day(self):
        self.daemon(T4)
        self.daemon(T4)
        leader = self.mailbox("xd-leader", 5)
        self.assertIn("TRỄ HẠN 1 ngày làm việc", leader[-1]["Subject"])
        ioc = self.mailbox("ioc", 5)
        self.assertIn("TRỄ HẠN 1 ngày làm việc", ioc[-1]["Subject"])
        self.mailbox("xd-contact", 5)

    def test_8_result_approved_published_and_rated(self):
        a = self.code["a"]
        self.refused(T5, "is assigned", "approve", a)
        answer = os.path.join(self.gw.dir, "ket-qua-a.txt")
        with open(answer, "w", encoding="utf-8") as f:
            f.write("Ngày 01/12/2026, Sở Xây dựng đã phối hợp với Công ty Công trình đô thị "
                    "thay bóng đèn trước cổng chợ Phường 2.\nĐèn đã sáng bình thường.\n")
        self.act(T5, "result", a, "--file", answer, "--actor", "nv.xd")
        self.assertEqual(self.show("a", T5)["deadlines"]["approve"], "2026-12-03T10:00:00+07:00")
        self.act(T6, "approve", a, "--actor", "gd.xd")
        r = self.show("a", T6)
        self.assertEqual(r["state"], "approved")
        # Điều 9.2: 4 working hours: 14:00-17:00 and 07:00-08:00
        self.assertEqual(r["deadlines"]["publish"], "2026-12-03T08:00:00+07:00")
        self.act(T7, "publish", a, "--actor", "ioc.lan")
        self.assertEqual(self.show("a", T7)["state"], "published")

        leader = self.mailbox("xd-leader", 6)
        self.assertIn("Đề nghị phê duyệt kết quả", leader[-1]["Subject"])
        ioc = self.mailbox("ioc", 6)
        self.assertIn("đề nghị công bố", ioc[-1]["Subject"])
        self.assertIn("chậm nhất 08:00 ngày 03/12/2026", self.text(ioc[-1]))

        citizen = self.mailbox("citizen-a", 3)
        result = citizen[-1]
        self.assertEqual(result["Subject"],
                         f"[{a}] Kết quả xử lý phản ánh: Đèn đường hỏng trước chợ Phường 2")
        text = self.text(result)
        for line in ("SỞ XÂY DỰNG", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                     "Độc lập - Tự do - Hạnh phúc",
                     "Số: 2/KQ-XD",  # B's letter was the first; its result sent back used none
                     "Sóc Trăng, ngày 2 tháng 12 năm 2026",
                     "Kính gửi: Quý ông/bà",
                     "Sở Xây dựng xin thông báo kết quả xử lý phản ánh của Quý ông/bà như sau:",
                     "thay bóng đèn trước cổng chợ Phường 2",
                     "Chúng tôi cảm ơn Quý ông/bà và mong tiếp tục nhận được phản ánh.",
                     "Trân trọng./.", "Nơi nhận:", "- Như trên;", "- Lưu: VT.",
                     "THỦ TRƯỞNG ĐƠN VỊ", "Nguyễn Văn A", "1 - Rất hài lòng",
                     "3 - Không hài lòng"):
            self.assertIn(line, text)
            self.assertIn(line, self.html(result))
        self.assertIn("+", result["Reply-To"])

        # the citizen answers the result letter by mail with a rating (Điều 10.3), from a
        # phone: the rating on the first line, the quoted letter below
        reply = pahttest.make_mail(
            self.addr["citizen-a"], str(result["Reply-To"]), "Re: " + str(result["Subject"]),
            "Rất hài lòng\n\nVào 09:00 ngày 2/12/2026, Trung tâm IOC đã viết:\n> "
            + "\n> ".join(text.splitlines()[:5]) + "\n",
            headers={"In-Reply-To": result["Message-ID"], "References": result["Message-ID"]})
        self.stack.deliver(result["Reply-To"].addresses[0].addr_spec, reply,
                           sender=self.addr["citizen-a"])
        pahttest.wait_for(lambda: pahttest.count(self.stack, self.gw.address) >= 1)
        self.daemon(T8)
        r = self.show("a")
        self.assertEqual(r["state"], "closed")
        self.assertEqual(r["events"][-1]["kind"], "rated")
        self.assertEqual(r["events"][-1]["detail"], "1 (Rất hài lòng)")
        self.assertEqual(r["mail"][-1]["kind"], "result")  # a rating is not answered
        # a second rating (here given by phone and recorded by the IOC) changes nothing
        run = self.ctl(T8, "reply", a, "--text", "3")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("already rated", run.stdout)
        self.assertEqual(self.show("a")["events"][-1]["detail"], "1 (Rất hài lòng)")

    def test_9_feedback_goes_to_the_agency(self):
        b = self.code["b"]
        self.act(T8, "reply", b, "--text",
                 "Đoạn ống đã thay nhưng mặt đường chưa được hoàn trả, xe qua lại rất nguy hiểm.")
        r = self.show("b")
        self.assertEqual(r["state"], "published")
        self.assertEqual(r["events"][-1]["kind"], "feedback")
        # Điều 10.2: 2 working days
        self.assertEqual(r["deadlines"]["clarify"], "2026-12-04T15:30:00+07:00")
        contact = self.mailbox("xd-contact", 6)
        feedback = contact[-1]
        self.assertIn("Phản hồi của người phản ánh", feedback["Subject"])
        self.assertIn("mặt đường chưa được hoàn trả", self.text(feedback))
        self.assertIn("chậm nhất 15:30 ngày 04/12/2026", self.text(feedback))

    def test_z_every_mailbox_holds_exactly_its_letters(self):
        """Nothing more than the story told: the counts, and no letter twice."""
        expected = {"citizen-a": 3, "citizen-b": 4, "citizen-c": 3, "xd-contact": 6,
                    "xd-leader": 6, "gtvt-contact": 1, "gtvt-leader": 0, "ioc": 6}
        self.daemon(T8)
        self.stack.wait_delivered([self.addr[who] for who in expected])
        for who, n in expected.items():
            got = pahttest.messages(self.stack, self.addr[who])
            subjects = [str(m["Subject"]) for m in got]
            self.assertEqual(len(got), n, f"{who}: {subjects}")
            ids = [m["Message-ID"] for m in got]
            self.assertEqual(len(set(ids)), len(ids), who)
        outbox = self.gw.pahtctl_json("outbox", env={"PAHT_NOW": T8})
        self.assertTrue(all(letter["state"] == "sent" for letter in outbox),
                        [(m["kind"], m["to"], m["state"]) for m in outbox])


class Outage(unittest.TestCase):
    """The clock keeps time while the mail servers are away: a report still turns overdue and its
    reminders are still queued; they go out once SMTP is back."""

    def test_overdue_while_mailbox_and_smtp_are_down(self):
        stack = pahttest.shared_stack()
        name = pahttest.unique("paht")
        gw = pahttest.Gateway(stack, name)
        contact, leader = f"{name}-contact@{stack.domain}", f"{name}-leader@{stack.domain}"
        gw.write_agencies({"xd": ("Sở Xây dựng", contact, leader, "Nguyễn Văn A")})
        citizen = f"{name}-citizen@{stack.domain}"
        eml = os.path.join(gw.dir, "report.eml")
        with open(eml, "wb") as f:
            f.write(pahttest.make_mail(citizen, gw.address, "Cây đổ chắn đường",
                                       "Cây đổ chắn ngang đường Phạm Hùng.\n"))
        env = {"PAHT_NOW": T1}
        report = gw.pahtctl_json("ingest", eml, env=env)[0]
        run = gw.pahtctl("accept", report["code"], "--agency", "xd", env=env)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(gw.pahtd("--once", env=env).returncode, 0)
        pahttest.wait_for(lambda: pahttest.count(stack, contact) == 1, timeout=30)

        # both servers gone: nothing listens on port 1
        real = dict(gw.config["imap"]), dict(gw.config["smtp"])
        gw.config["imap"]["url"] = "imap://127.0.0.1:1/INBOX"
        gw.config["smtp"]["url"] = "smtp://127.0.0.1:1"
        gw.write_config()
        down = gw.pahtd("--once", env={"PAHT_NOW": T3})
        self.assertEqual(down.returncode, 1, down.stderr)  # the mailbox is unreachable
        r = gw.pahtctl_json("show", report["code"], env={"PAHT_NOW": T3})
        self.assertTrue(r["overdue"])
        self.assertEqual(r["events"][-1]["kind"], "overdue")
        queued = sorted((m["kind"], m["to"]) for m in r["mail"] if m["state"] == "queued")
        self.assertEqual(queued, [("overdue", gw.ioc_address), ("overdue", leader),
                                  ("reminder", contact)])

        # SMTP back, the mailbox still down: the queued letters go out, once
        gw.config["smtp"] = real[1]
        gw.write_config()
        later = "2026-12-01T11:00:00+07:00"
        self.assertEqual(gw.pahtd("--once", env={"PAHT_NOW": later}).returncode, 1)
        self.assertEqual(gw.pahtd("--once", env={"PAHT_NOW": later}).returncode, 1)
        pahttest.wait_for(lambda: pahttest.count(stack, leader) == 1, timeout=30)
        pahttest.wait_for(lambda: pahttest.count(stack, contact) == 2, timeout=30)
        # the IOC: the overdue notice, and (the mailbox down since 09:05, now 11:00) the alert
        # that the mailbox has been unreachable for more than 30 minutes
        pahttest.wait_for(lambda: pahttest.count(stack, gw.ioc_address) == 2, timeout=30)
        stack.wait_delivered([leader, contact, gw.ioc_address])
        self.assertEqual(pahttest.count(stack, leader), 1)
        self.assertEqual(pahttest.count(stack, contact), 2)
        ioc = sorted(str(m["Subject"]) for m in pahttest.messages(stack, gw.ioc_address))
        self.assertEqual(len(ioc), 2, ioc)
        self.assertTrue(any("trễ hạn" in s.lower() or "quá hạn" in s.lower() for s in ioc), ioc)


class Calendar(unittest.TestCase):
    """pahtctl due: the calendar seen from outside."""

    @classmethod
    def setUpClass(cls):
        cls.gw = pahttest.Gateway(pahttest.shared_stack(), pahttest.unique("paht"))

    def due(self, *args):
        run = self.gw.pahtctl("due", *args)
        self.assertEqual(run.returncode, 0, run.stderr)
        return run.stdout.strip()

    def test_due(self):
        self.assertEqual(self.due("--from", "2026-02-13T15:00:00+07:00", "--working-hours", "4"),
                         "2026-02-23T09:00:00+07:00")
        self.assertEqual(self.due("--from", "2026-08-21T16:00:00+07:00", "--working-hours", "2"),
                         "2026-08-22T08:00:00+07:00")
        self.assertEqual(self.due("--from", "2026-11-23T09:00:00+07:00", "--working-days", "6"),
                         "2026-12-01T09:00:00+07:00")
        run = self.gw.pahtctl("due", "--from", "2026-11-27T18:00:00+07:00", "--working-days",
                              "1", "--json")
        self.assertEqual(json.loads(run.stdout)["due"], "2026-11-30T17:00:00+07:00")

    def test_due_usage(self):
        for args in (("--from", "yesterday", "--working-hours", "4"),
                     ("--from", "2026-11-23T09:00:00+07:00"),
                     ("--from", "2026-11-23T09:00:00+07:00", "--working-hours", "1",
                      "--working-days", "1")):
            run = self.gw.pahtctl("due", *args)
            self.assertEqual(run.returncode, 2, args)


if __name__ == "__main__":
    unittest.main()
