"""The queue page kept for a session (web/queue_cache.c, issue 18) is never stale and never
another's: a change written by another process (pahtctl, as pahtd would) or by another request
of pahtweb shows at the next view of a page already kept, and two agencies viewing the same
query each see their own reports only. (Edited page files and labels: test_web_templates.)"""
import re
import unittest

import webtest

USERS = {"ioc": "ioc", "ioc-2": "ioc", "xd": "agency:xd", "vt": "agency:gtvt"}


def codes_on(client, path="/"):
    page = client.get(path)
    if page.status != 200:
        raise AssertionError(f"queue {page.status} {page.text[:300]}")
    return re.findall(r'href="/reports/(PAHT-\d{4}-\d{6})"', page.text)


def state_of(page, code):
    """the state a queue page shows for the report CODE"""
    row = re.search(rf'href="/reports/{code}".*?<td data-label="Trạng thái">([^<(]*)', page, re.S)
    if not row:
        raise AssertionError(f"{code} is not on the page")
    return row.group(1).strip()


class KeptQueuePage(unittest.TestCase):
    def setUp(self):
        self.stack, self.gw, self.console = webtest.console_with_users(USERS)
        self.codes = webtest.ingest(
            self.gw, *[webtest.report_mail(self.gw, f"Phản ánh số {i}") for i in range(4)])
        self.console.start()

    def tearDown(self):
        self.console.stop()

    def viewed_twice(self, client, path="/"):
        """the page, viewed twice so that the second answer was the one kept"""
        first = codes_on(client, path)
        self.assertEqual(codes_on(client, path), first)
        return first

    def test_a_report_filed_by_another_process_shows_at_the_next_view(self):
        ioc = self.console.login("ioc")
        self.assertEqual(sorted(self.viewed_twice(ioc)), sorted(self.codes))
        # pahtctl writes through a connection of its own: pahtweb's data_version moves
        (new,) = webtest.ingest(self.gw, webtest.report_mail(self.gw, "Phản ánh mới đến"))
        self.assertEqual(sorted(codes_on(ioc)), sorted(self.codes + [new]))
        # and a change of a report already listed: accepted elsewhere, it leaves the IOC's queue
        run = self.gw.pahtctl("accept", self.codes[0], "--agency", "xd")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertNotIn(self.codes[0], codes_on(ioc))

    def test_a_change_by_another_request_shows_at_the_next_view(self):
        ioc, other = self.console.login("ioc"), self.console.login("ioc-2")
        self.assertIn(self.codes[1], self.viewed_twice(ioc))
        # one request after another: the write goes through the very connection that made the
        # kept page (the pool gives the last one back first), whose data_version does not move
        r = other.post(f"/reports/{self.codes[1]}/accept", {"agency": "gtvt"})
        self.assertEqual(r.status, 303, r)
        self.assertNotIn(self.codes[1], codes_on(ioc))
        # the session's own action too, with the query of a page it kept
        path = "/?state=all&page=1"
        self.assertIn(self.codes[2], self.viewed_twice(ioc, path))
        self.assertEqual(state_of(ioc.get(path).text, self.codes[2]), "Chờ tiếp nhận")
        r = ioc.post("/bulk/reject", {"code": self.codes[2], "reason": "spam"})
        self.assertEqual(r.status, 303, r)
        self.assertEqual(state_of(ioc.get(path).text, self.codes[2]), "Đã từ chối")

    def test_each_agency_sees_its_own_queue_under_the_same_query(self):
        for code, agency in ((self.codes[0], "xd"), (self.codes[1], "gtvt")):
            run = self.gw.pahtctl("accept", code, "--agency", agency)
            self.assertEqual(run.returncode, 0, run.stderr)
        xd, vt = self.console.login("xd"), self.console.login("vt")
        for path in ("/", "/?state=all"):
            self.assertEqual(self.viewed_twice(xd, path), [self.codes[0]], path)
            self.assertEqual(self.viewed_twice(vt, path), [self.codes[1]], path)
            self.assertEqual(codes_on(xd, path), [self.codes[0]], path)
        # an assignment made while both pages are kept shows to its agency only
        run = self.gw.pahtctl("accept", self.codes[3], "--agency", "xd")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(sorted(codes_on(xd)), sorted([self.codes[0], self.codes[3]]))
        self.assertEqual(codes_on(vt), [self.codes[1]])


if __name__ == "__main__":
    unittest.main()
