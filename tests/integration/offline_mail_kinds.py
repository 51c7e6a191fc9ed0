"""Every kind of mail citizens really send is read right, classified, and answered right.

Each fixture in tests/mail is one behaviour (one charset, one client, one way of writing the
details of Điều 4, one kind of mail). They go through the whole inbound pipeline with
`pahtctl ingest --json`, and each report is checked field by field with `pahtctl show --json`
(SPEC §6). No server is reached: this runs without the mail stack and without root (CTest:
unit/offline_mail_kinds). The same answers over the real IMAP and SMTP path are
test_mail_kinds.py's.
"""
import json
import os
import unicodedata
import unittest

import pahttest

NOW = "2026-11-28T09:00:00+07:00"
ENV = {"PAHT_NOW": NOW}
MAIL_DIR = os.environ.get("PAHT_TEST_MAIL_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, "mail")

ALL = ["name", "address", "id_number", "phone", "location"]

# file -> what show --json must say. citizen/location: the keys given must match exactly (a
# None means the field must be empty); mail: the letters, in order. "rule" is compared whole.
EXPECTED = {
    # ---- Điều 4 fields, every way people write them
    "labelled-fields-diacritics.eml": dict(
        classification="report", state="draft", missing=[], rule="default",
        citizen=dict(name="Nguyễn Thị Mai", address="18 Lê Lợi, phường 6, thành phố Sóc Trăng",
                     id_number="094301004567", phone="0912345678",
                     email="mai.nguyen.st@gmail.com"),
        location=dict(text="trước nhà số 30 đường Lê Lợi, phường 6", lat=None),
        occurred_at="2026-11-27T07:30:00+07:00", mail=["ack"]),
    "labelled-fields-no-diacritics.eml": dict(
        classification="report", state="draft", missing=[],
        citizen=dict(name="Tran Thi Be", address="ap Hoa Thanh, xa Hoa Tu 1, huyen My Xuyen",
                     id_number="365123456", phone="0987654321"),
        location=dict(text="duong Tran Hung Dao, doan gan cau Kenh Xang"),
        occurred_at="2026-11-26", mail=["ack"]),
    "labelled-fields-short-forms.eml": dict(
        classification="report", state="draft", missing=[],
        citizen=dict(name="Lý Văn Cường", address="5 Hùng Vương, phường 3",
                     id_number="094201009876", phone="02993822111", email="lyvanc@vnn.vn"),
        location=dict(text="cổng trường tiểu học Phường 3"),
        occurred_at="2026-11-28T06:15:00+07:00", mail=["ack"]),
    "html-table-fields.eml": dict(
        classification="report", state="draft", missing=[],
        citizen=dict(name="Đoàn Văn Khải", address="ấp Phú Giao, xã Phú Tâm, huyện Châu Thành",
                     id_number="094095001122", phone="0355123456"),
        location=dict(text="bờ kênh ấp Phú Giao, cạnh cầu Phú Tâm"),
        occurred_at="2026-11-25", mail=["ack"]),
    "running-text-fields.eml": dict(
        classification="report", state="draft", missing=[],
        citizen=dict(name="Hồ Văn Tài", address="số 42 đường Phạm Hùng, phường 8, TP. Sóc Trăng",
                     id_number="094088003344", phone="0376555111"),
        location=dict(text="hẻm 12 đường Phạm Hùng, phường 8"), mail=["ack"]),
    "outlook-windows-1258-fields.eml": dict(
        classification="report", state="draft", missing=[],
        subject="Đường vào ấp Hòa Thành bị lún",
        citizen=dict(name="Phạm Thị Thủy", address="ấp Hòa Thành, xã Hòa Tú 1, huyện Mỹ Xuyên",
                     id_number="094300012345", phone="02993822111", email="thuypham@vnn.vn"),
        location=dict(text="đường vào ấp Hòa Thành, cách chợ Hòa Tú 200 mét"), mail=["ack"]),
    "plain-utf8-vietnamese.eml": dict(
        classification="report", state="incomplete", missing=["id_number", "location"],
        citizen=dict(name="Nguyễn Văn An", address="123 Lê Lợi, phường 6, TP Sóc Trăng",
                     phone="0912345678", id_number=None, email="An.Nguyen.ST@gmail.com"),
        mail=["incomplete"]),
    "alternative-qp-text-base64-html.eml": dict(
        classification="report", state="incomplete", missing=["address", "id_number", "phone"],
        citizen=dict(name="Lê Thị Hồng"), location=dict(text="hẻm 14 Phú Lợi, khóm 3, phường 2"),
        occurred_at="2026-01-10", mail=["incomplete"]),
    "html-only-script-style-table-links.eml": dict(
        classification="report", state="incomplete", missing=["address", "id_number"],
        citizen=dict(name="Trần Văn Bình", phone="0939111222"), mail=["incomplete"]),
    "phone-plus84.eml": dict(
        classification="report", missing=["address", "id_number", "location"],
        citizen=dict(name="Trịnh Văn Lộc", phone="0832111222"), mail=["incomplete"]),
    "bad-id-shapes.eml": dict(
        classification="report", state="incomplete", missing=["id_number", "phone"],
        citizen=dict(name="Mạc Văn Tuấn", id_number=None, phone=None), mail=["incomplete"]),
    "outlook-windows-1258-combining-tones.eml": dict(
        classification="report", missing=["address", "id_number", "location"],
        citizen=dict(name="Phạm Thị Thủy", phone="02993822111"), mail=["incomplete"]),
    "outlook-desktop-reply-original-message.eml": dict(
        classification="report", missing=["id_number", "phone", "location"],
        citizen=dict(name="Tô Văn Hải", address="12 Trần Phú, phường 7"), mail=["incomplete"]),
    "outlook-web-reply-divrplyfwdmsg.eml": dict(
        classification="report", missing=["name", "address", "id_number", "location"],
        citizen=dict(phone="0907654321"), mail=["incomplete"]),
    "gmail-reply-quote.eml": dict(  # a reply to a letter this database never sent
        classification="report", missing=["name", "phone", "location"],
        citizen=dict(address="56 Nguyễn Văn Linh, phường 2", id_number="094201001234"),
        mail=["incomplete"]),
    "no-charset-utf8-bytes.eml": dict(
        classification="report", citizen=dict(name="Võ Minh Tâm"), mail=["incomplete"]),
    "no-charset-windows-1258-bytes.eml": dict(
        classification="report", citizen=dict(name="Võ Minh Tâm"), mail=["incomplete"]),
    "viscii-text.eml": dict(
        classification="report", citizen=dict(name="Lâm Văn Sáu"), mail=["incomplete"]),
    "outlook-utf8-labelled-windows-1258.eml": dict(
        classification="report", citizen=dict(name="Đặng Quốc Việt"), mail=["incomplete"]),
    # ---- places: coordinates in text, map links, a photo's EXIF
    "google-maps-link.eml": dict(
        classification="report", state="draft", missing=[],
        location=dict(lat=9.6031, lon=105.9802), mail=["ack"]),
    "coordinates-in-text.eml": dict(  # "nguy cơ sạt lở đất" is a risk, not an emergency
        classification="report", state="draft", missing=[], rule="default",
        location=dict(text=None, lat=9.6025, lon=105.9739), mail=["ack"]),
    "coordinates-dms.eml": dict(
        classification="report", missing=["address", "id_number", "phone"],
        location=dict(lat=9.6025, lon=105.973889), mail=["incomplete"]),
    "exif-gps-photo.eml": dict(
        classification="report", state="draft", missing=[],
        citizen=dict(name="Thạch Thị Sa Rinh", id_number="094305009911", phone="0345678901"),
        location=dict(text=None, lat=9.6025, lon=105.9739),
        attachments=[("IMG_4821.JPG", "image/jpeg", "image")], mail=["ack"]),
    # ---- attachments (parse's own fixtures) as the report shows them
    "iphone-heic-nfd-filename.eml": dict(
        classification="report", missing=ALL,
        attachments=[("Ảnh hiện trường.HEIC", "image/heic", "image")], mail=["incomplete"]),
    "forwarded-message-rfc822.eml": dict(
        classification="report", citizen=dict(name="Huỳnh Thị Ngọc",
                                               email="phuong7@soctrang.gov.vn"),
        attachments=[("o-ga.jpg", "image/jpeg", "image")], mail=["incomplete"]),
    "outlook-winmail-dat.eml": dict(
        classification="report",
        attachments=[("Đèn đường hỏng.jpg", "image/jpeg", "image"),
                     ("Đơn đề nghị.pdf", "application/pdf", "document")],
        mail=["incomplete"]),
    "outlook-tnef-only-body.eml": dict(classification="report", mail=["incomplete"]),
    "inline-cid-image.eml": dict(
        classification="report", attachments=[("tep-dinh-kem-1.png", "image/png", "image")],
        mail=["incomplete"]),
    "attachment-duplicate-names.eml": dict(classification="report", mail=["incomplete"]),
    "attachment-hostile-names.eml": dict(classification="report", mail=["incomplete"]),
    "attachment-dangerous-executables.eml": dict(classification="report", mail=["incomplete"]),
    "base64-midstream-padding.eml": dict(classification="report", mail=["incomplete"]),
    "broken-boundary-truncated.eml": dict(classification="report", mail=["incomplete"]),
    "nul-bytes.eml": dict(classification="report", mail=["incomplete"]),
    "iso-8859-1-text.eml": dict(classification="report", missing=ALL, mail=["incomplete"]),
    "rfc2047-adjacent-b-words.eml": dict(classification="report", mail=["incomplete"]),
    "rfc2047-vietnamese-subject-split.eml": dict(classification="report", mail=["incomplete"]),
    # ---- emergencies (Điều 8.6): call 1022 at once, the IOC alerted
    "emergency-fire.eml": dict(
        classification="emergency", state="draft", rule='keyword emergency "đang cháy" (text)',
        citizen=dict(phone="0933444555"), mail=["emergency", "ioc_alert"]),
    "emergency-accident.eml": dict(
        classification="emergency", state="draft",
        rule='keyword emergency "vừa xảy ra tai nạn" (text)', location=dict(text=None),
        mail=["emergency", "ioc_alert"]),
    "emergency-subject.eml": dict(
        classification="emergency", rule='keyword emergency "đánh nhau" (subject)',
        mail=["emergency", "ioc_alert"]),
    # ... and what only looks like one
    "not-emergency-sunburn.eml": dict(
        classification="report", state="draft", rule="default", missing=[], mail=["ack"]),
    "not-emergency-past-robbery.eml": dict(
        classification="report", rule="default", mail=["incomplete"]),
    "not-emergency-fire-risk.eml": dict(
        classification="report", rule="default", mail=["incomplete"]),
    # ---- complaints (Điều 1.1.c, 3.9): no acknowledgement, refusal suggested to the IOC
    "complaint-subject.eml": dict(
        classification="complaint", state="draft",
        rule='keyword complaint "đơn khiếu nại" (subject)', mail=[],
        events=["received", "refusal_suggested"]),
    "complaint-denunciation.eml": dict(
        classification="complaint", rule='keyword complaint "đơn tố cáo" (text)', mail=[],
        events=["received", "refusal_suggested"]),
    # ---- confidentiality (Điều 9.3.b)
    "confidential-request.eml": dict(
        classification="report", confidential=True, state="draft",
        rule='default; confidential: keyword "giữ bí mật" (text)', mail=["ack"]),
    "confidential-not-needed.eml": dict(
        classification="report", confidential=False, rule="default", mail=["incomplete"]),
    # ---- answered or not
    "complete-report.eml": dict(
        classification="report", state="draft", missing=[],
        citizen=dict(name="Lê Văn Phước", address="120 Lê Hồng Phong, phường 3",
                     id_number="094078001234", phone="0939000111"),
        occurred_at="2026-11-27T16:00:00+07:00", mail=["ack"]),
    "noreply-sender.eml": dict(
        classification="report", mail=[], events=["received", "no_answer"]),
}

# never drafted, never answered
NOT_DRAFTED = {
    "out-of-office-vietnamese.eml": "auto",
    "out-of-office-english.eml": "auto",
    "mailing-list-mail.eml": "auto",
    "postfix-dsn-bounce.eml": "bounce",
    "nesting-bomb.eml": "unparsed",
    "two-thousand-parts.eml": "unparsed",
}

REPLY_FIXTURES = ["incomplete-then-reply-1.eml", "incomplete-then-reply-2.eml",
                  "stranger-quotes-code.eml"]


def fixture(name):
    return os.path.join(MAIL_DIR, name)


class MailKinds(unittest.TestCase):
    """Every fixture through `pahtctl ingest --json`, each report through `show --json`."""

    @classmethod
    def setUpClass(cls):
        cls.gw = pahttest.Gateway(pahttest.OfflineStack(), pahttest.unique("kinds"))
        files = sorted(EXPECTED) + sorted(NOT_DRAFTED)
        result = cls.gw.pahtctl("ingest", "--json", *map(fixture, files), env=ENV)
        cls.ingested = {os.path.basename(r["file"]): r for r in json.loads(result.stdout)}
        cls.shown = {}
        for name, r in cls.ingested.items():
            if r.get("id"):
                cls.shown[name] = cls.gw.pahtctl_json("show", r["code"], env=ENV)

    def test_at_least_forty_kinds_of_mail(self):
        on_disk = [f for f in os.listdir(MAIL_DIR) if f.endswith(".eml")]
        covered = set(EXPECTED) | set(NOT_DRAFTED) | set(REPLY_FIXTURES)
        # replies quoting our own letters: checked by test_reply_quotes.py
        covered |= {f for f in on_disk if f.startswith("reply-quotes-")}
        self.assertGreaterEqual(len(covered), 40)
        self.assertEqual(sorted(set(on_disk) - covered), [], "a fixture nobody checks")

    def test_every_fixture_ingested(self):
        for name in list(EXPECTED) + list(NOT_DRAFTED):
            self.assertIn(name, self.ingested)
            self.assertNotIn("error", self.ingested[name], name)

    def test_not_drafted(self):
        for name, kind in NOT_DRAFTED.items():
            with self.subTest(name):
                r = self.ingested[name]
                self.assertEqual(r["classification"], kind)
                self.assertIsNone(r["id"])
                self.assertIsNone(r["code"])

    def test_show_fields(self):
        for name, want in EXPECTED.items():
            with self.subTest(name):
                r = self.ingested[name]
                self.assertEqual(r["classification"], want["classification"])
                self.assertRegex(r["code"] or "", r"^PAHT-2026-\d{6}$")
                s = self.shown[name]
                self.assertEqual(s["id"], r["id"])
                self.assertEqual(s["classification"], want["classification"])
                for key in ("state", "missing", "rule", "confidential", "occurred_at", "subject"):
                    if key in want:
                        self.assertEqual(s[key], want[key], key)
                for key, value in want.get("citizen", {}).items():
                    self.assertEqual(s["citizen"][key], value, "citizen." + key)
                for key, value in want.get("location", {}).items():
                    if isinstance(value, float):
                        self.assertAlmostEqual(s["location"][key], value, places=5)
                    else:
                        self.assertEqual(s["location"][key], value, "location." + key)
                if "attachments" in want:
                    got = [(a["filename"], a["content_type"], a["kind"])
                           for a in s["attachments"]]
                    self.assertEqual(got, want["attachments"])
                    for a in s["attachments"]:
                        self.assertRegex(a["sha256"], r"^[0-9a-f]{64}$")
                        self.assertGreater(a["size"], 0)
                self.assertEqual([m["kind"] for m in s["mail"]], want["mail"])
                if "events" in want:
                    self.assertEqual([e["kind"] for e in s["events"]], want["events"])
                # SPEC §6: the fields are there, the text NFC, the missing list consistent
                for key in ("id", "code", "state", "overdue", "classification", "missing",
                            "confidential", "received_at", "subject", "text", "citizen",
                            "location", "occurred_at", "attachments", "agency", "coordinators",
                            "deadlines", "events", "mail"):
                    self.assertIn(key, s)
                self.assertEqual(s["text"], unicodedata.normalize("NFC", s["text"]))
                self.assertTrue(set(s["missing"]) <= set(ALL))
                if s["classification"] == "report":
                    self.assertEqual(s["state"], "incomplete" if s["missing"] else "draft")

    def test_letters_go_to_the_citizen(self):
        outbox = self.gw.pahtctl_json("outbox", env=ENV)
        for entry in outbox:
            if entry["kind"] == "ioc_alert":
                self.assertEqual(entry["to"], self.gw.ioc_address)
            else:
                self.assertNotEqual(entry["to"], self.gw.ioc_address)
        kinds = sorted({e["kind"] for e in outbox})
        self.assertEqual(kinds, ["ack", "emergency", "incomplete", "ioc_alert"])

    def test_personal_data_never_logged(self):
        gw = pahttest.Gateway(pahttest.OfflineStack(), pahttest.unique("quiet"))
        p = gw.pahtctl("ingest", fixture("labelled-fields-diacritics.eml"),
                       env=dict(ENV, PAHT_LOG_LEVEL="debug"))
        self.assertEqual(p.returncode, 0, p.stderr)
        for secret in ("094301004567", "0912345678", "0912.345.678", "18 Lê Lợi"):
            self.assertNotIn(secret, p.stderr)


class Replies(unittest.TestCase):
    """SPEC §3.5 with fixture mails: an incomplete report, the citizen's Gmail reply quoting
    the code completes it once the IOC confirms it (issue 11: it answers none of our letters,
    and a From address proves nothing), a stranger quoting the same code gets a report of
    their own."""

    @classmethod
    def setUpClass(cls):
        cls.gw = pahttest.Gateway(pahttest.OfflineStack(), pahttest.unique("replies"))
        result = cls.gw.pahtctl("ingest", "--json", *map(fixture, REPLY_FIXTURES), env=ENV)
        cls.results = json.loads(result.stdout)

    def test_reply_joins_and_completes(self):
        first, reply, stranger = self.results
        self.assertEqual(first["code"], "PAHT-2026-000001")
        self.assertEqual(first["classification"], "report")
        self.assertEqual(reply["classification"], "reply")
        self.assertEqual(reply["id"], first["id"])
        self.assertEqual(reply["code"], "PAHT-2026-000001")
        r = self.gw.pahtctl_json("show", "PAHT-2026-000001", env=ENV)
        self.assertEqual(r["state"], "incomplete")
        pending = r["pending_supplements"]
        self.assertEqual([(p["state"], p["matched_by"]) for p in pending],
                         [("pending", "tracking code")])
        confirm = self.gw.pahtctl("supplement", pending[0]["id"], "--confirm", env=ENV)
        self.assertEqual(confirm.returncode, 0, confirm.stderr)
        r = self.gw.pahtctl_json("show", "PAHT-2026-000001", env=ENV)
        self.assertEqual(r["state"], "draft")
        self.assertEqual(r["missing"], [])
        self.assertEqual(r["citizen"]["name"], "Nguyễn Hoàng Nam")
        self.assertEqual(r["citizen"]["address"], "14 Trần Quốc Toản, phường 5")
        self.assertEqual(r["citizen"]["id_number"], "094092004455")
        self.assertEqual(r["citizen"]["phone"], "0919222333")
        self.assertEqual(r["location"]["text"], "cổng sau chợ Phường 5, đường Trần Quốc Toản")
        self.assertEqual([e["kind"] for e in r["events"]],
                         ["received", "supplement_pending", "supplement_confirmed",
                          "citizen_reply", "completed"])
        self.assertEqual([m["kind"] for m in r["mail"]], ["incomplete", "ioc_alert", "ack"])
        # the quoted letter was cut: its empty labels did not overwrite anything
        self.assertNotIn("> Họ và tên", r["text"])

    def test_stranger_quoting_the_code_gets_a_new_report(self):
        stranger = self.results[2]
        self.assertEqual(stranger["classification"], "report")
        self.assertEqual(stranger["code"], "PAHT-2026-000002")
        r = self.gw.pahtctl_json("show", stranger["code"], env=ENV)
        self.assertEqual(r["citizen"]["email"], "stranger.st@gmail.com")
        self.assertIn("code_not_joined", [e["kind"] for e in r["events"]])
        original = self.gw.pahtctl_json("show", "PAHT-2026-000001", env=ENV)
        self.assertNotIn("chợ Phường 6", original["text"])


if __name__ == "__main__":
    unittest.main()
