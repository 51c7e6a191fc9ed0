"""Every letter the registry of letter kinds (letters/kinds.c) says can be previewed is, with
`pahtctl preview`, on a report it is meant for: one accepted and assigned, one missing details,
one emergency. The names come from pahtctl itself (an unknown name is refused with the list),
so a letter added to the registry is previewed here without a word of this test changing.
No server is reached: no mail stack, no root (CTest: unit/offline_letter_previews).
"""
import json
import os
import re
import unittest

import pahttest

NOW = "2026-11-23T09:00:00+07:00"
ENV = {"PAHT_NOW": NOW}
MAIL_DIR = os.environ.get("PAHT_TEST_MAIL_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, "mail")

# one report of each shape: accepted (the lifecycle's letters), incomplete (the "please
# complete" answer), emergency (the call-1022 answer and the IOC's alert)
REPORTS = ["labelled-fields-diacritics.eml", "plain-utf8-vietnamese.eml", "emergency-fire.eml"]


class LetterPreviews(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = pahttest.Gateway(pahttest.OfflineStack(), pahttest.unique("previews"))
        cls.gw.write_agencies({"xd": ("Sở Xây dựng", "vanthu@sxd.example.vn",
                                      "giamdoc@sxd.example.vn", "Nguyễn Văn A")})
        cls.codes = []
        for name in REPORTS:
            run = cls.gw.pahtctl("ingest", "--json", os.path.join(MAIL_DIR, name), env=ENV)
            assert run.returncode == 0, run.stderr
            cls.codes.append(json.loads(run.stdout)[0]["code"])
        run = cls.gw.pahtctl("accept", cls.codes[0], "--agency", "xd", env=ENV)
        assert run.returncode == 0, run.stderr

    def names(self):
        """the letters pahtctl can preview, as it lists them for a name it does not know"""
        run = self.gw.pahtctl("preview", "no-such-letter", self.codes[0], env=ENV)
        self.assertEqual(run.returncode, 2, run.stderr)
        known = re.search(r"\(known: ([a-z_, ]+)\)", run.stderr)
        self.assertIsNotNone(known, run.stderr)
        return known.group(1).split(", ")

    def test_every_previewable_letter_previews(self):
        names = self.names()
        # the registry's letters of every kind of reader are among them
        for name in ("ack", "incomplete", "emergency", "emergency_alert", "assignment",
                     "reminder", "result_sent_back", "returned"):
            self.assertIn(name, names)
        outbox = self.gw.pahtctl_json("outbox", env=ENV)
        for name in names:
            with self.subTest(name):
                shown = []
                for code in self.codes:
                    run = self.gw.pahtctl("preview", name, code, env=ENV)
                    if run.returncode == 0:
                        shown.append((code, run.stdout))
                    else:  # nobody to send it to for this report: exit 1, never a crash
                        self.assertEqual(run.returncode, 1, run.stderr)
                self.assertTrue(shown, f"{name}: no report to preview it with")
                code, text = shown[0]
                subject = re.search(r"^Subject: (.*)$", text, re.M)
                self.assertIsNotNone(subject, text)
                self.assertIn(code, subject.group(1))
                self.assertNotIn("{{", text)
        # a preview enqueues nothing
        self.assertEqual(self.gw.pahtctl_json("outbox", env=ENV), outbox)


if __name__ == "__main__":
    unittest.main()
