"""Nothing personal in the logs (SPEC §8, issue 16): every line pahtd and pahtctl logged during
the end-to-end tests (kept by pahttest in PAHT_TEST_LOG_DIR) is searched for the fixtures'
citizens (names, phones, ID numbers, addresses, as the parser extracted them from every mail of
tests/mail and as the tests write them) and for full e-mail addresses other than those the
gateway's own configuration names. CTest runs it after the integration tests (a fixture
cleanup), over the logs they left; run alone, it has nothing to read and says so.
"""
import glob
import json
import os
import re
import tempfile
import unittest

import pahttest

LOGS = os.environ.get("PAHT_TEST_LOG_DIR", "")
MAIL = os.environ.get("PAHT_TEST_MAIL_DIR", "")
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")

# what the tests themselves write as citizens' details (pahttest.complete_details,
# test_privacy), beside the fixtures
WRITTEN = ["Nguyễn Văn An", "25 Trần Hưng Đạo", "094201001234", "0912345678", "0912 345 678",
           "Trần Thị Bích", "094078001234", "0939000111", "45 Trần Hưng Đạo"]


def fixture_values():
    """The citizens of every mail of tests/mail, as the gateway extracts them."""
    values = set(WRITTEN)
    saved = os.environ.pop("PAHT_TEST_LOG_DIR", None)  # this gateway's own logs are not read
    try:
        with tempfile.TemporaryDirectory() as tmp:
            gw = pahttest.Gateway(pahttest.OfflineStack(), pahttest.unique("grep"), tmpdir=tmp)
            try:
                for path in sorted(glob.glob(os.path.join(MAIL, "*.eml"))):
                    p = gw.pahtctl("ingest", path, "--json")
                    if p.returncode != 0:
                        continue
                    for item in json.loads(p.stdout):
                        if not item.get("id"):
                            continue
                        shown = gw.pahtctl_json("show", item["id"])
                        citizen = shown.get("citizen") or {}
                        for key in ("name", "address", "id_number", "phone", "email"):
                            value = citizen.get(key)
                            # a value short enough to be a common word is no evidence
                            if value and len(value) >= 8:
                                values.add(value)
            finally:
                gw.close()
    finally:
        if saved is not None:
            os.environ["PAHT_TEST_LOG_DIR"] = saved
    return values


class LogsHoldNoPersonalData(unittest.TestCase):
    def test_no_log_line_names_a_citizen(self):
        logs = sorted(glob.glob(os.path.join(LOGS, "*.log"))) if LOGS else []
        if not logs:
            self.skipTest("no logs of end-to-end tests in PAHT_TEST_LOG_DIR: run it with them "
                          "(ctest -L integration)")
        values = fixture_values()
        self.assertGreater(len(values), 40)  # the fixtures were read
        found, lines = [], 0
        for log in logs:
            official_path = log[:-len(".log")] + ".official"
            with open(official_path, encoding="utf-8") as f:
                official = {a.lower() for a in f.read().split()}
            with open(log, encoding="utf-8", errors="replace") as f:
                for number, line in enumerate(f, 1):
                    lines += 1
                    for value in values:
                        if value in line:
                            found.append(f"{os.path.basename(log)}:{number}: {value!r} in {line!r}")
                    for address in ADDRESS.findall(line):
                        # "n***@example.vn": how logs write a citizen's address
                        if re.fullmatch(r"[^@]\*\*\*@.+", address):
                            continue
                        if address.lower() not in official:
                            found.append(f"{os.path.basename(log)}:{number}: address "
                                         f"{address!r} in {line!r}")
        self.assertGreater(lines, 0, "log files without a line: pahttest kept nothing")
        self.maxDiff = None
        self.assertEqual(found[:30], [], f"{len(found)} finding(s)")


if __name__ == "__main__":
    unittest.main()
