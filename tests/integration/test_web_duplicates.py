"""Possible duplicates on the report page (issue 13, phase 2), over HTTP against the real
pahtweb and a real database: the IOC sees the other open reports near the same coordinates
(with the distance) or with a similar place and text (with the words they share), each with a
one-click "duplicate of" form that merges them as the duplicate action does."""
import html
import re
import unittest

import webtest

MAPS = "https://www.google.com/maps/search/?api=1&query={}%2C{}"


class WebPossibleDuplicates(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack, cls.gw, cls.console = webtest.console_with_users({"ioc": "ioc"})
        mail = lambda subject, body: webtest.report_mail(cls.gw, subject, body=body)  # noqa
        cls.light, cls.same_light, cls.pipe, cls.flood, cls.far_pipe = webtest.ingest(
            cls.gw,
            mail("Đèn đường hỏng", "Đèn đường trước cổng chợ không sáng ba đêm nay.\n"
                 + MAPS.format("9.6025", "105.9739")),
            mail("Báo hỏng đèn", "Cột đèn đường ở cổng chợ không sáng, tối đi rất nguy hiểm."),
            mail("Vỡ ống nước", "Ống nước bị vỡ, nước chảy ra lòng đường.\n"
                 + MAPS.format("9.6030", "105.9739")),
            mail("Ngập nước", "Mưa lớn làm ngập nước, xe máy chết máy giữa đường."),
            mail("Vỡ ống nước", "Ống nước bị vỡ ở xa.\n" + MAPS.format("9.6100", "105.9739")))
        cls.console.start()
        cls.ioc = cls.console.login("ioc")

    def maybe(self, code):
        """CODE's possible duplicates on its page: {code: the item's text}."""
        page = self.ioc.get(f"/reports/{code}").text
        section = re.search(r'<section class="possible-duplicates".*?</section>', page, re.S)
        if not section:
            return {}
        items = re.findall(r'<li><a href="/reports/([^"]+)">.*?</li>', section.group(0), re.S)
        texts = re.findall(r'<li>(.*?)</li>', section.group(0), re.S)
        return {c: html.unescape(t) for c, t in zip(items, texts)}

    def test_1_near_and_alike_reports_are_listed_with_why(self):
        found = self.maybe(self.light)
        self.assertEqual(set(found), {self.same_light, self.pipe})
        self.assertIn("Cách 56 m", found[self.pipe])  # 0.0005 degree of latitude
        self.assertRegex(found[self.same_light], r"Chung: <q>[^<]*đèn đường")
        self.assertNotIn("Cách", found[self.same_light])  # no coordinates of its own
        self.assertIn("Phản ánh này trùng với " + self.same_light, found[self.same_light])
        # the other way round too; the unrelated and the far ones are in no list
        self.assertIn(self.light, self.maybe(self.same_light))
        self.assertNotIn(self.flood, found)
        self.assertNotIn(self.far_pipe, found)

    def test_2_one_click_marks_the_duplicate(self):
        page = self.ioc.get(f"/reports/{self.same_light}").text
        form = re.search(r'<form method="post" action="([^"]+)" class="inline">'
                         r'<input type="hidden" name="csrf" value="([^"]+)">'
                         r'<input type="hidden" name="of" value="' + self.light + '">', page)
        self.assertIsNotNone(form, page)
        r = self.ioc.post(form.group(1), {"of": self.light}, csrf=form.group(2))
        self.assertEqual(r.status, 303, r)
        rows = self.console.query(
            "SELECT r.state, o.code FROM report_duplicate d JOIN report r ON r.id = d.report_id"
            " JOIN report o ON o.id = d.of_report_id WHERE r.code = ?", self.same_light)
        self.assertEqual(rows, [("rejected", self.light)])
        # a rejected report is no longer open: it leaves the list of the original
        self.assertNotIn(self.same_light, self.maybe(self.light))


if __name__ == "__main__":
    unittest.main()
