"""A reply that quotes our own letter is read for what the citizen wrote, never for our words
(issue 11 item 6, SPEC §3.3).

Through the whole pipeline (`pahtctl ingest`, the store giving parse the letters it sent): the
citizen's incomplete report gets our "please complete" letter; their reply (from mutt, s-nail,
Gmail, Outlook on the web, Thunderbird, iPhone: tests/mail/reply-quotes-*.eml) quotes it. Our
safety paragraph ("hỏa hoạn") must not make an emergency, our privacy paragraph ("không công
khai") a confidential report, "tiếp nhận lúc 09:00" the time of the incident, the block's hints
an address. Then over the real IMAP and SMTP path: the letter reaches the citizen's mailbox,
the citizen answers it as mutt does (the block filled inside the quote), pahtd completes the
same draft and sends no 1022 letter and no alert.
"""
import json
import os
import re
import shutil
import tempfile
import unittest

import pahttest

T0 = "2026-11-28T09:00:00+07:00"  # the reports (the fixtures quote letters of this time)
T1 = "2026-11-28T10:30:00+07:00"  # the replies
MAIL_DIR = os.environ.get("PAHT_TEST_MAIL_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, "mail")

# the fixtures quote letters sent from this address (tests/mail/reply-quotes-letters)
OURS = {("smtp", "from"): "paht@soctrang.gov.vn",
        ("smtp", "reply_to"): "paht+{token}@soctrang.gov.vn"}

FILLED = dict(address="27/5 Trần Hưng Đạo, khóm 2, phường 2, TP Sóc Trăng",
              id_number="094088002468", phone="0939135791")
LONG_PLACE = "đầu hẻm 5 đường Trần Hưng Đạo, cạnh tiệm tạp hóa Thanh Bình"
SHORT_PLACE = "đầu hẻm 5 đường Trần Hưng Đạo"

# reply -> (the report it answers, what the report must then say)
ONLY_A_PHOTO = dict(state="incomplete", address=None, place=None,
                    mail=["incomplete", "incomplete"], attachments=1)
SCENARIOS = {
    "reply-quotes-mutt-photo-only.eml": ("PAHT-2026-000001", ONLY_A_PHOTO),
    "reply-quotes-gmail-photo-only.eml": ("PAHT-2026-000001", ONLY_A_PHOTO),
    "reply-quotes-iphone-photo-only.eml": ("PAHT-2026-000001", ONLY_A_PHOTO),
    # our letter forwarded back (Gmail, inline) with a photo and a note: a forward answers
    # none of our letters, so it waits for the IOC as a pending supplement (issue 11, item
    # 12), and the IOC is told; our words in it are still not read
    "reply-quotes-gmail-forward-of-ours.eml": ("PAHT-2026-000001", dict(
        state="incomplete", address=None, place=None, mail=["incomplete", "ioc_alert"],
        attachments=0, pending=1)),
    "reply-quotes-mutt-filled-in-quote.eml": ("PAHT-2026-000001", dict(
        state="draft", place=LONG_PLACE, mail=["incomplete", "ack"], attachments=0, **FILLED)),
    "reply-quotes-mutt-filled-between-quote.eml": ("PAHT-2026-000001", dict(
        state="draft", place=LONG_PLACE, mail=["incomplete", "ack"], attachments=0, **FILLED)),
    "reply-quotes-gmail-filled-in-quote.eml": ("PAHT-2026-000001", dict(
        state="draft", place=LONG_PLACE, mail=["incomplete", "ack"], attachments=0, **FILLED)),
    "reply-quotes-outlook-web-filled-above.eml": ("PAHT-2026-000001", dict(
        state="draft", place=LONG_PLACE, mail=["incomplete", "ack"], attachments=0, **FILLED)),
    "reply-quotes-thunderbird-below-quote.eml": ("PAHT-2026-000001", dict(
        state="draft", place=SHORT_PLACE, mail=["incomplete", "ack"], attachments=0, **FILLED)),
    "reply-quotes-snail-filled-below-quote.eml": ("PAHT-2026-000001", dict(
        state="draft", place=SHORT_PLACE, mail=["incomplete", "ack"], attachments=1, **FILLED)),
    # the acknowledgement of a complete report, answered with a photo
    "reply-quotes-mutt-ack-photo-only.eml": ("PAHT-2026-000002", dict(
        state="draft", address="41 Mạc Đĩnh Chi, phường 4, TP Sóc Trăng",
        place="trước cổng trường tiểu học Mạc Đĩnh Chi", mail=["ack", "supplement"],
        attachments=1)),
    "reply-quotes-snail-ack-photo-only.eml": ("PAHT-2026-000002", dict(
        state="draft", address="41 Mạc Đĩnh Chi, phường 4, TP Sóc Trăng",
        place="trước cổng trường tiểu học Mạc Đĩnh Chi", mail=["ack", "supplement"],
        attachments=1)),
}


def templates_of_the_fixtures():
    """The letter templates as they were when the fixtures were captured (ack and incomplete
    in tests/mail/reply-quotes-letters/templates, the rest as shipped): the store must hold the
    very letters the replies quote. A province that edits its templates later is no different:
    each reply quotes the letter it got, which the store keeps as sent."""
    folder = os.path.join(MAIL_DIR, "reply-quotes-letters", "templates")
    target = tempfile.mkdtemp(prefix="paht-quoted-templates-")
    shutil.copytree(os.environ["PAHT_TEMPLATES_DIR"], target, dirs_exist_ok=True)
    for name in os.listdir(folder):
        shutil.copyfile(os.path.join(folder, name), os.path.join(target, name))
    return target


OURS[("gateway", "templates_dir")] = None  # set by setUpModule


def setUpModule():
    OURS[("gateway", "templates_dir")] = templates_of_the_fixtures()


def tearDownModule():
    shutil.rmtree(OURS[("gateway", "templates_dir")], ignore_errors=True)


def fixture(name):
    return os.path.join(MAIL_DIR, name)


def ingest(gw, *names, now):
    p = gw.pahtctl("ingest", "--json", *map(fixture, names), env={"PAHT_NOW": now})
    if p.returncode != 0:
        raise AssertionError(f"pahtctl ingest exited {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout)


def ingest_answer(gw, name, reports, now):
    """The fixture as the citizen's client sends it to this installation: answering the
    letter this installation sent (its Message-ID in In-Reply-To), since a reply joins its
    report only when it answers one of our letters (issue 11, item 12). The fixtures were
    captured against another installation, whose letters had other Message-IDs."""
    with open(fixture(name), "rb") as f:
        raw = f.read()
    m = re.search(rb"^In-Reply-To: <(paht\.[0-9a-f]+@[^>]+)>", raw, re.M)
    if m is None:
        return ingest(gw, name, now=now)
    # the letter each fixture answers: the please-complete letter of the incomplete report,
    # the acknowledgement of the complete one
    letters = {(e["report_id"], e["kind"]): e["message_id"]
               for e in gw.pahtctl_json("outbox", env={"PAHT_NOW": now})}
    first, second = sorted(reports)
    answered = letters.get((first, "incomplete")) if b"b998f65d" in m.group(1) \
        else letters.get((second, "ack"))
    assert answered, "no letter of ours to answer"
    copy = os.path.join(gw.dir, os.path.basename(name))
    with open(copy, "wb") as f:
        f.write(raw.replace(m.group(1), answered.encode()))
    p = gw.pahtctl("ingest", "--json", copy, env={"PAHT_NOW": now})
    if p.returncode != 0:
        raise AssertionError(f"pahtctl ingest exited {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout)


class RepliesQuotingOurLetters(unittest.TestCase):
    """Each reply on a fresh installation: the two reports, their letters, the reply."""

    def reply_to_reports(self, reply):
        gw = pahttest.Gateway(pahttest.shared_stack(), pahttest.unique("quotes"), OURS)
        first = ingest(gw, "reply-quotes-report.eml", "reply-quotes-report-complete.eml", now=T0)
        self.assertEqual([r["code"] for r in first], ["PAHT-2026-000001", "PAHT-2026-000002"])
        self.assertEqual([r["classification"] for r in first], ["report", "report"])
        return gw, ingest_answer(gw, reply, {r["id"]: r for r in first}, now=T1)[0]

    def test_our_words_never_make_an_emergency_a_secret_a_time_or_an_address(self):
        for reply, (code, want) in SCENARIOS.items():
            with self.subTest(reply):
                gw, result = self.reply_to_reports(reply)
                self.assertEqual((result["classification"], result["code"]), ("reply", code))
                r = gw.pahtctl_json("show", code, env={"PAHT_NOW": T1})
                self.assertEqual(r["classification"], "report")
                self.assertFalse(r["confidential"])
                self.assertIsNone(r["occurred_at"])
                self.assertEqual(r["state"], want["state"])
                self.assertEqual(r["citizen"]["address"], want["address"])
                for key in ("id_number", "phone"):
                    if key in want:
                        self.assertEqual(r["citizen"][key], want[key], key)
                self.assertEqual(r["location"]["text"], want["place"])
                self.assertEqual([m["kind"] for m in r["mail"]], want["mail"])
                self.assertEqual(len(r["attachments"]), want["attachments"])
                for ours in ("hỏa hoạn", "không công khai", "số nhà, tên đường", "Tổng đài"):
                    self.assertNotIn(ours, r["text"])
                self.assertEqual(len(r.get("pending_supplements", [])), want.get("pending", 0))
                kinds = {m["kind"] for m in gw.pahtctl_json("outbox", env={"PAHT_NOW": T1})}
                self.assertNotIn("emergency", kinds)
                if "ioc_alert" not in want["mail"]:
                    self.assertNotIn("ioc_alert", kinds)

    def test_emergency_written_above_the_quote_is_still_one(self):
        gw, result = self.reply_to_reports("reply-quotes-mutt-emergency-above.eml")
        self.assertEqual((result["classification"], result["code"]),
                         ("reply", "PAHT-2026-000001"))
        r = gw.pahtctl_json("show", "PAHT-2026-000001", env={"PAHT_NOW": T1})
        self.assertFalse(r["confidential"])
        self.assertIsNone(r["citizen"]["address"])
        self.assertEqual([m["kind"] for m in r["mail"]],
                         ["incomplete", "emergency", "ioc_alert", "incomplete"])

    def test_quote_of_a_letter_the_store_does_not_have_is_not_read(self):
        # another installation's letter (or one purged): ours by its Message-ID and header,
        # so none of it is read; the reply becomes a report of its own
        for reply in ("reply-quotes-mutt-photo-only.eml", "reply-quotes-gmail-photo-only.eml",
                      "reply-quotes-mutt-filled-in-quote.eml"):
            with self.subTest(reply):
                gw = pahttest.Gateway(pahttest.shared_stack(), pahttest.unique("quotes"), OURS)
                result = ingest(gw, reply, now=T1)[0]
                self.assertEqual(result["classification"], "report")
                r = gw.pahtctl_json("show", result["code"], env={"PAHT_NOW": T1})
                self.assertFalse(r["confidential"])
                self.assertIsNone(r["occurred_at"])
                self.assertIsNone(r["citizen"]["address"])
                self.assertIsNone(r["location"]["text"])
                self.assertEqual([m["kind"] for m in r["mail"]], ["incomplete"])


def _body(msg):
    return msg.get_body(("plain",)).get_content()


def mutt_reply_filled_in_quote(letter, values):
    """The text mutt (text_flowed) sends when the citizen types the values after the colons
    of the quoted block: the attribution, our letter with ">" and the filled lines."""
    lines = []
    for line in _body(letter).rstrip("\n").split("\n"):
        m = re.match(r"^(.+?):\s*$", line)
        if m and m.group(1) in values:
            line = "%s: %s" % (m.group(1), values[m.group(1)])
        lines.append(">" + line)
    return "On Sat, Nov 28, 2026 at 09:00:00AM +0700, %s wrote:\n%s\n" % (
        letter["From"].addresses[0].display_name, "\n".join(lines))


class OverImap(unittest.TestCase):
    """The citizen's incomplete report, our letter in their mailbox, their mutt-style reply
    filled inside the quote: the same draft completed, no emergency, no secrecy, no 1022."""

    def test_reply_filled_inside_the_quote_completes_the_same_draft(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("imapquotes"))
        citizen = "%s@%s" % (pahttest.unique("tu"), stack.domain)
        report = pahttest.make_mail(
            '"Trần Văn Tư" <%s>' % citizen, gw.address, "Cống thoát nước bị nghẹt ở hẻm 5",
            "Cống thoát nước đầu hẻm 5 bị nghẹt, nước tràn vào nhà dân.\n\nHọ và tên: Trần Văn Tư\n")
        stack.deliver(gw.address, report, sender=citizen)
        pahttest.wait_for(lambda: gw.count() == 1, what="the report in the gateway's inbox")
        run = gw.pahtd("--once", env={"PAHT_NOW": T0})
        self.assertEqual(run.returncode, 0, run.stderr)
        letters = pahttest.wait_for(lambda: pahttest.messages(stack, citizen), timeout=30,
                                    what="the please-complete letter")
        self.assertEqual(len(letters), 1)
        letter = letters[0]
        code = re.search(r"PAHT-\d{4}-\d{6}", letter["Subject"]).group(0)
        self.assertIn("hỏa hoạn", _body(letter))  # what must not be read back

        body = mutt_reply_filled_in_quote(letter, {
            "Địa chỉ liên hệ": "27/5 Trần Hưng Đạo, khóm 2, phường 2, TP Sóc Trăng",
            "Số căn cước công dân": "094088002468",
            "Số điện thoại": "0939 135 791",
            "Địa điểm xảy ra sự việc": "đầu hẻm 5 đường Trần Hưng Đạo"})
        reply = pahttest.make_mail(
            '"Trần Văn Tư" <%s>' % citizen, letter["Reply-To"].addresses[0].addr_spec,
            "Re: " + letter["Subject"], body,
            headers={"In-Reply-To": letter["Message-ID"], "References": letter["Message-ID"]})
        stack.deliver(gw.address, reply, sender=citizen)
        pahttest.wait_for(lambda: gw.count() == 1, what="the reply in the gateway's inbox")
        run = gw.pahtd("--once", env={"PAHT_NOW": T1})
        self.assertEqual(run.returncode, 0, run.stderr)

        r = gw.pahtctl_json("show", code, env={"PAHT_NOW": T1})
        self.assertEqual(r["state"], "draft")
        self.assertEqual(r["missing"], [])
        self.assertEqual(r["classification"], "report")
        self.assertFalse(r["confidential"])
        self.assertIsNone(r["occurred_at"])
        self.assertEqual(r["citizen"]["address"], FILLED["address"])
        self.assertEqual(r["citizen"]["id_number"], FILLED["id_number"])
        self.assertEqual(r["location"]["text"], SHORT_PLACE)
        self.assertEqual([e["kind"] for e in r["events"]],
                         ["received", "citizen_reply", "completed"])
        self.assertEqual([m["kind"] for m in r["mail"]], ["incomplete", "ack"])
        self.assertEqual(len(gw.pahtctl_json("drafts", env={"PAHT_NOW": T1})), 1)
        acks = pahttest.wait_for(
            lambda: [m for m in pahttest.messages(stack, citizen)
                     if "Đã tiếp nhận phản ánh" in m["Subject"]],
            timeout=30, what="the acknowledgement")
        self.assertIn(code, acks[0]["Subject"])
        # every letter pahtd sent has reached its mailbox: none was a 1022 letter or an alert
        outbox = gw.pahtctl_json("outbox", env={"PAHT_NOW": T1})
        self.assertEqual(sorted(m["kind"] for m in outbox), ["ack", "incomplete"])
        self.assertEqual({m["state"] for m in outbox}, {"sent"})
        subjects = [m["Subject"] for m in pahttest.messages(stack, citizen)]
        self.assertEqual(len(subjects), 2)
        self.assertFalse([s for s in subjects if "KHẨN CẤP" in s])
        self.assertEqual(pahttest.messages(stack, gw.ioc_address), [])


if __name__ == "__main__":
    unittest.main()
