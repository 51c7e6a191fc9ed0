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


class Privacy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = pahttest.shared_stack()
        cls.gw = pahttest.Gateway(cls.stack, pahttest.unique("paht"))
        cls.tmp = tempfile.mkdtemp(prefix="paht-privacy-", dir=cls.gw.dir)

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()

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


if __name__ == "__main__":
    unittest.main()
