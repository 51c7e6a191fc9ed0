"""pahtweb's guards (issue 13), over HTTP against the real program and a real database: the
security headers on every answer, the csrf field and the origin of every state-changing
request, who may see and do what (a report one may not see is the same 404 as a missing one),
the lifecycle's refusals (409 with pahtctl's words), the parser's checks on corrections,
attachments shown only when their bytes are a raster image, bodies bounded, the statistics
and the health page. Every refusal is checked to have changed nothing in the database."""
import html
import os
import re
import urllib.parse
import select
import socket
import unittest

import pahttest
import webtest

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7"
       b"\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")

ROLES = {
    "ioc": "ioc", "quantri": "admin", "xd": "agency:xd", "xd-lanhdao": "leader:xd",
    "vt": "agency:gtvt", "vt-lanhdao": "leader:gtvt",
}

# every action, with fields that would make it succeed for its rightful user
ACTION_FIELDS = {
    "accept": {"agency": "xd"},
    "reject": {"reason": "out-of-scope", "note": "Không thuộc phạm vi"},
    "duplicate": {"of": "PAHT-2026-000001"},
    "duplicate_undo": {},
    "edit": {"phone": "0911222333"},
    "note": {"text": "Ghi chú nội bộ"},
    "return": {"note": "Không đúng thẩm quyền"},
    "extend": {"until": "2026-12-31T17:00", "note": "Cần khảo sát thêm"},
    "result": {"text": "Đã sửa xong."},
    "approve": {},
    "publish": {},
}


def detail_of(page):
    """The reason an error page gives (its detail paragraph), unescaped."""
    found = re.search(r'<p class="detail" role="alert">(.*?)</p>', page, re.S)
    return html.unescape(found.group(1)) if found else None


class WebSecurity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack, cls.gw, cls.console = webtest.console_with_users(ROLES)
        files = [webtest.report_mail(cls.gw, f"Phản ánh số {i}") for i in range(3)]
        files.append(webtest.report_mail(
            cls.gw, "Ảnh và tệp", attachments=[
                ("anh.png", "image/png", PNG),
                ("gia.jpg", "image/jpeg", b"<html><script>alert(1)</script></html>"),
                ("ve.svg", "image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'>"
                                            b"<script>alert(1)</script></svg>"),
                ("van-ban.pdf", "application/pdf", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\n"),
            ]))
        codes = webtest.ingest(cls.gw, *files)
        cls.xd_report, cls.vt_report, cls.draft, cls.files_report = codes
        for code, agency in ((cls.xd_report, "xd"), (cls.vt_report, "gtvt")):
            run = cls.gw.pahtctl("accept", code, "--agency", agency)
            assert run.returncode == 0, run.stderr
        cls.console.start()
        cls.clients = {login: cls.console.login(login) for login in ROLES}

    def unchanged(self, before):
        self.assertEqual(self.console.snapshot(), before)

    # ---- every answer

    def test_every_answer_carries_the_security_headers(self):
        ioc = self.clients["ioc"]
        anonymous = self.console.client()
        answers = [
            anonymous.get("/login"), anonymous.get("/"), anonymous.get("/static/paht.css"),
            anonymous.get("/no/such/page"), anonymous.post("/login", {"login": "x"}, csrf=False),
            ioc.get("/"), ioc.get(f"/reports/{self.draft}"), ioc.get("/reports/PAHT-2099-000001"),
            ioc.get(f"/reports/{self.files_report}/attachments/1"), ioc.get("/stats"),
            ioc.get("/stats.csv"), ioc.get("/health"), ioc.post(f"/reports/{self.draft}/note", {}),
            ioc.request("DELETE", "/"),
        ]
        statuses = sorted({a.status for a in answers})
        self.assertEqual(statuses, [200, 303, 400, 403, 404, 405])
        for a in answers:
            self.assertEqual(a.header("Content-Security-Policy"), webtest.CSP, a)
            self.assertEqual(a.header("X-Content-Type-Options"), "nosniff", a)
            self.assertEqual(a.header("Referrer-Policy"), "same-origin", a)
        # no script anywhere, and nothing from another origin
        for a in answers:
            if "html" in (a.header("Content-Type") or ""):
                self.assertNotIn("<script", a.text)
                self.assertNotRegex(a.text, r'(src|href)="(https?:)?//(?!www\.openstreetmap)')

    # ---- csrf and origin

    def form_of(self, action):
        """The user who may take ACTION and the report they would take it on."""
        if action in ("return", "extend", "result"):
            return self.clients["xd"], self.xd_report
        if action == "approve":
            return self.clients["xd-lanhdao"], self.xd_report
        return self.clients["ioc"], self.draft

    def test_every_form_without_its_csrf_or_from_another_site_is_refused_unchanged(self):
        other_session = self.clients["vt"].csrf
        attempts = [
            ("no csrf field", {}, False),
            ("a wrong csrf", {}, "0" * 64),
            ("another session's csrf", {}, other_session),
            ("another site's Origin", {"Origin": "https://evil.example"}, True),
            ("a null Origin", {"Origin": "null"}, True),
            ("Sec-Fetch-Site cross-site", {"Sec-Fetch-Site": "cross-site"}, True),
            ("Sec-Fetch-Site same-site", {"Sec-Fetch-Site": "same-site"}, True),
        ]
        posts = [(a, *self.form_of(a)) for a in ACTION_FIELDS]
        for what, headers, csrf in attempts:
            for action, client, code in posts:
                before = self.console.snapshot()
                r = client.post(f"/reports/{code}/{action}", ACTION_FIELDS[action],
                                headers=headers, csrf=csrf)
                self.assertEqual(r.status, 403, f"{action} with {what}: {r}")
                self.unchanged(before)
            ioc = self.clients["ioc"]
            before = self.console.snapshot()
            r = ioc.post("/bulk/reject", {"code": self.draft, "reason": "spam"}, headers=headers,
                         csrf=csrf)
            self.assertEqual(r.status, 403, f"bulk rejection with {what}")
            self.unchanged(before)
            r = self.clients["quantri"].post("/health/reprocess/1", headers=headers, csrf=csrf)
            self.assertEqual(r.status, 403, f"reprocess with {what}")
            r = ioc.post("/logout", headers=headers, csrf=csrf)
            self.assertEqual(r.status, 403, f"logout with {what}")
            self.assertEqual(ioc.get("/").status, 200, "the session survives a refused logout")
        # the same note with its csrf and our own origin goes through: the refusals above were
        # the guards, not a broken form
        ioc = self.clients["ioc"]
        before = self.console.snapshot()
        r = ioc.post(f"/reports/{self.draft}/note", {"text": "Ghi chú thật"},
                     headers={"Origin": self.console.url, "Sec-Fetch-Site": "same-origin"})
        self.assertEqual(r.status, 303, r)
        self.assertNotEqual(self.console.snapshot(), before)

    def test_the_login_form_has_its_own_token(self):
        anonymous = self.console.client()
        anonymous.get("/login")
        r = anonymous.post("/login", {"login": "ioc", "password": webtest.password_of("ioc")},
                           csrf="f" * 32)
        self.assertEqual(r.status, 403)
        r = self.console.client().post("/login", {"login": "ioc",
                                                  "password": webtest.password_of("ioc")})
        self.assertEqual(r.status, 403)

    # ---- who sees and does what

    def test_a_report_one_may_not_see_is_the_same_404_as_a_missing_one(self):
        missing = "PAHT-2026-999999"
        hidden = {
            "xd": [self.vt_report, self.draft, self.files_report],
            "xd-lanhdao": [self.vt_report, self.draft],
            "vt": [self.xd_report, self.draft],
            "vt-lanhdao": [self.xd_report, self.files_report],
            "quantri": [self.xd_report, self.vt_report, self.draft],
        }
        suffixes = ["", "/attachments/1", "/results/1", "/preview/acceptance",
                    "/preview/approval_request"]
        for login, codes in hidden.items():
            client = self.clients[login]
            for suffix in suffixes:
                absent = client.get(f"/reports/{missing}{suffix}")
                self.assertEqual(absent.status, 404)
                for code in codes:
                    r = client.get(f"/reports/{code}{suffix}")
                    self.assertEqual((r.status, r.body), (404, absent.body),
                                     f"{login} GET {code}{suffix}")
            for action, fields in ACTION_FIELDS.items():
                absent = client.post(f"/reports/{missing}/{action}", fields)
                self.assertEqual(absent.status, 404)
                for code in codes:
                    before = self.console.snapshot()
                    r = client.post(f"/reports/{code}/{action}", fields)
                    self.assertEqual((r.status, r.body), (404, absent.body),
                                     f"{login} {action} on {code}")
                    self.unchanged(before)

    def test_each_role_may_take_only_its_own_actions(self):
        own = {
            "ioc": {"accept", "reject", "duplicate", "duplicate_undo", "edit", "note", "publish"},
            "xd": {"return", "extend", "result", "note"},
            "xd-lanhdao": {"approve", "note"},
        }
        for login, allowed in own.items():
            client = self.clients[login]
            for action, fields in ACTION_FIELDS.items():
                if action in allowed:
                    continue
                before = self.console.snapshot()
                r = client.post(f"/reports/{self.xd_report}/{action}", fields)
                self.assertEqual(r.status, 403, f"{login} {action}: {r}")
                self.unchanged(before)
        # a coordinating agency sees the report and writes notes, and acts as nobody's main
        helped = webtest.ingest(self.gw, webtest.report_mail(self.gw, "Phối hợp"))[0]
        run = self.gw.pahtctl("accept", helped, "--agency", "gtvt", "--coordinate", "xd")
        self.assertEqual(run.returncode, 0, run.stderr)
        xd = self.clients["xd"]
        self.assertEqual(xd.get(f"/reports/{helped}").status, 200)
        self.assertEqual(xd.post(f"/reports/{helped}/note", {"text": "Sở Xây dựng đã xem"}).status,
                         303)
        for action in ("return", "extend", "result"):
            before = self.console.snapshot()
            r = xd.post(f"/reports/{helped}/{action}", ACTION_FIELDS[action])
            self.assertEqual(r.status, 403, action)
            self.unchanged(before)
        for login in ("xd", "vt", "xd-lanhdao"):
            before = self.console.snapshot()
            r = self.clients[login].post("/bulk/reject", {"code": self.draft, "reason": "spam"})
            self.assertEqual(r.status, 403)
            self.unchanged(before)
            self.assertEqual(self.clients[login].get("/health").status, 403)

    def test_agencies_read_what_their_letters_show(self):
        sender = f"{pahttest.unique('phuc')}@{self.stack.domain}"
        code = webtest.ingest(self.gw, webtest.report_mail(
            self.gw, "Cống bị lấp, xin giữ bí mật", who="Lê Hoàng Phúc", sender=sender,
            body="Cống đầu hẻm 12 bị lấp. Xin giữ bí mật thông tin của tôi."))[0]
        self.assertEqual(self.gw.pahtctl("accept", code, "--agency", "xd").returncode, 0)
        ioc_page = self.clients["ioc"].get(f"/reports/{code}").text
        for value in ("Lê Hoàng Phúc", "094201001234", "25 Trần Hưng Đạo", "0912345678"):
            self.assertIn(value, ioc_page)
        page = self.clients["xd"].get(f"/reports/{code}").text
        self.assertIn("Cống đầu hẻm 12 bị lấp", page)
        # confidential (Điều 9.3.b): nothing personal; never the ID number or the address
        for value in ("Lê Hoàng Phúc", "094201001234", "25 Trần Hưng Đạo", "0912345678",
                      sender):
            self.assertNotIn(value, page)
        ordinary = self.clients["xd"].get(f"/reports/{self.xd_report}").text
        self.assertIn("Nguyễn Văn An", ordinary)
        self.assertIn("0912345678", ordinary)
        for value in ("094201001234", "25 Trần Hưng Đạo"):
            self.assertNotIn(value, ordinary)

    # ---- the lifecycle and the parser judge

    def test_a_refused_action_answers_409_with_pahtctls_reason(self):
        cases = [("ioc", "accept", self.xd_report, {"agency": "gtvt"},
                  ["accept", self.xd_report, "--agency", "gtvt"]),
                 ("ioc", "accept", self.draft, {"agency": "sxd"},
                  ["accept", self.draft, "--agency", "sxd"]),
                 ("xd-lanhdao", "approve", self.xd_report, {}, ["approve", self.xd_report])]
        for login, action, code, fields, argv in cases:
            before = self.console.snapshot()
            r = self.clients[login].post(f"/reports/{code}/{action}", fields)
            self.assertEqual(r.status, 409, r)
            self.unchanged(before)
            run = self.gw.pahtctl(*argv)
            self.assertEqual(run.returncode, 1)
            said = [l for l in run.stderr.splitlines() if l.startswith("pahtctl: ")][0]
            self.assertEqual(detail_of(r.text), said[len("pahtctl: "):])

    def test_corrections_pass_the_parsers_checks_and_record_old_and_new(self):
        code = webtest.ingest(self.gw, webtest.report_mail(self.gw, "Sửa thông tin"))[0]
        ioc = self.clients["ioc"]
        before = self.console.snapshot()
        r = ioc.post(f"/reports/{code}/edit", {"phone": "0123", "name": "Trần Văn Bảy"})
        self.assertEqual(r.status, 400)
        self.assertIn("Số điện thoại", detail_of(r.text))
        self.unchanged(before)
        r = ioc.post(f"/reports/{code}/edit",
                     {"phone": "+84 987 000 111", "name": "  Trần   Văn Bảy ",
                      "address": "25 Trần Hưng Đạo, Phường 2, TP Sóc Trăng",
                      "category": "Hạ tầng đô thị"})
        self.assertEqual(r.status, 303, r)
        self.assertEqual(r.header("Location"), f"/reports/{code}")
        row = self.console.query("SELECT citizen_phone, citizen_name FROM report WHERE code = ?",
                                 code)
        self.assertEqual(row, [("0987000111", "Trần Văn Bảy")])
        events = self.console.query(
            "SELECT actor, detail FROM event e JOIN report r ON r.id = e.report_id"
            " WHERE r.code = ? AND kind = 'edited' ORDER BY e.id", code)
        self.assertEqual(events, [("ioc", "name: Nguyễn Văn An → Trần Văn Bảy"),
                                  ("ioc", "phone: 0912345678 → 0987000111"),
                                  ("ioc", "category: (trống) → Hạ tầng đô thị")])

    def test_duplicates_linked_and_undone_and_several_rejected_at_once(self):
        original, copy, spam1, spam2 = webtest.ingest(
            self.gw, *[webtest.report_mail(self.gw, f"Trùng {i}") for i in range(4)])
        ioc = self.clients["ioc"]
        r = ioc.post(f"/reports/{copy}/duplicate", {"of": original})
        self.assertEqual(r.status, 303, r)
        self.assertIn(f'href="/reports/{copy}"', ioc.get(f"/reports/{original}").text)
        self.assertIn("duplicate_undo", ioc.get(f"/reports/{copy}").text)
        r = ioc.post(f"/reports/{copy}/duplicate_undo", {})
        self.assertEqual(r.status, 303, r)
        self.assertEqual(self.console.query("SELECT state FROM report WHERE code = ?", copy),
                         [("draft",)])
        r = ioc.post(f"/reports/{copy}/duplicate", {"of": copy})
        self.assertEqual(r.status, 400)
        r = ioc.post("/bulk/reject", {"code": [spam1, spam2, self.xd_report], "reason": "spam"})
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), f"/?rejected=2&refused={self.xd_report}")
        states = self.console.query("SELECT code, state FROM report WHERE code IN (?, ?)",
                                    spam1, spam2)
        self.assertEqual(sorted(states), [(spam1, "rejected"), (spam2, "rejected")])
        audit = self.gw.pahtctl_json("audit", "--actor", "ioc")
        kinds = [(a["report"], a["kind"]) for a in audit]
        for expected in [(copy, "duplicate_of"), (original, "duplicate_linked"),
                         (copy, "duplicate_undone"), (spam1, "rejected"), (spam2, "rejected")]:
            self.assertIn(expected, kinds)
        self.assertIn((None, "login"), kinds)

    def test_the_queue_filters_and_finds(self):
        ioc = self.clients["ioc"]
        page = ioc.get("/").text
        for code in (self.draft, self.files_report):
            self.assertIn(f'href="/reports/{code}"', page)
        self.assertNotIn(f'href="/reports/{self.xd_report}"', page)  # assigned: not the IOC's
        everything = ioc.get("/?state=all").text
        self.assertIn(f'href="/reports/{self.xd_report}"', everything)
        found = ioc.get(f"/?state=all&q={self.vt_report}").text
        self.assertEqual(re.findall(r'href="/reports/(PAHT-[^"]+)"', found), [self.vt_report])
        xd = self.clients["xd"]
        mine = re.findall(r'href="/reports/(PAHT-[^"]+)"', xd.get("/?state=all").text)
        self.assertIn(self.xd_report, mine)
        self.assertNotIn(self.vt_report, mine)
        self.assertNotIn(self.draft, mine)

    def test_the_queue_finds_words_typed_without_diacritics(self):
        def codes(client, q):
            page = client.get("/?state=all&q=" + urllib.parse.quote_plus(q)).text
            return sorted(re.findall(r'href="/reports/(PAHT-[^"]+)"', page))
        ioc = self.clients["ioc"]
        self.assertEqual(codes(ioc, "anh va tep"), [self.files_report])  # the subject
        self.assertEqual(codes(ioc, "ẢNH VÀ TỆP"), [self.files_report])
        # the text (other tests add reports with the same text)
        every = {self.xd_report, self.vt_report, self.draft, self.files_report}
        self.assertLessEqual(every, set(codes(ioc, "den duong truoc nha")))
        self.assertEqual(codes(ioc, "den duong khong co"), [])
        # an agency finds only among its own reports
        mine = codes(self.clients["xd"], "den duong")
        self.assertIn(self.xd_report, mine)
        self.assertFalse({self.vt_report, self.draft, self.files_report} & set(mine))

    # ---- files

    def test_only_raster_images_are_shown_inline(self):
        ioc = self.clients["ioc"]
        page = ioc.get(f"/reports/{self.files_report}").text
        self.assertEqual(re.findall(r'<img class="thumb" src="([^"]+)"', page),
                         [f"/reports/{self.files_report}/attachments/1/thumb"])
        self.assertEqual(len(re.findall(r'<img ', page)), 1)
        expected = [("image/png", "inline"), ("application/octet-stream", "attachment"),
                    ("application/octet-stream", "attachment"),
                    ("application/octet-stream", "attachment")]
        for n, (ctype, disposition) in enumerate(expected, 1):
            r = ioc.get(f"/reports/{self.files_report}/attachments/{n}")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Content-Type"), ctype, n)
            self.assertTrue(r.header("Content-Disposition").startswith(disposition + ";"), n)
        for bad in ("0", "5", "99999999999999999999", "-1", "1x"):
            self.assertEqual(ioc.get(f"/reports/{self.files_report}/attachments/{bad}").status,
                             404, bad)

    # ---- hostile requests

    def test_hostile_requests_get_clear_errors(self):
        ioc = self.clients["ioc"]
        for path in ("/static/../paht.conf", "/reports/../../etc/passwd",
                     "/reports/%2e%2e%2fpaht.conf", "/reports/PAHT-2026-000001/attachments/1/x"):
            self.assertEqual(ioc.get(path).status, 404, path)
        huge = ioc.get("/", headers={"X-Filler": "a" * 200_000})
        self.assertIn(huge.status, (413, 431))
        broken = ioc.request("POST", f"/reports/{self.draft}/note",
                             body=b"--paht-b\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\n",
                             headers={"Content-Type": "multipart/form-data; boundary=paht-b"})
        self.assertEqual(broken.status, 400)
        before = self.console.snapshot()
        r = ioc.post(f"/reports/{self.draft}/note", {"text": b"\xff\xfe not UTF-8"})
        self.assertEqual(r.status, 400)
        self.unchanged(before)
        self.assertEqual(ioc.request("POST", "/reports/x/note", body=b"{}",
                                     headers={"Content-Type": "application/json"}).status, 415)

    # ---- figures

    def test_statistics_for_a_period_with_a_csv_for_excel(self):
        ioc = self.clients["xd"]
        page = ioc.get("/stats?period=month:2026-12")
        self.assertEqual(page.status, 200)
        self.assertIn("Toàn tỉnh", page.text)
        self.assertIn("Sở Xây dựng", page.text)
        csv = ioc.get("/stats.csv?period=month:2026-12")
        self.assertEqual(csv.header("Content-Type"), "text/csv; charset=utf-8")
        self.assertTrue(csv.header("Content-Disposition").startswith("attachment;"))
        self.assertTrue(csv.body.startswith(b"\xef\xbb\xbf"))
        # the very file pahtctl stats --csv writes: every count of Điều 11.6, one code for both
        want = self.gw.pahtctl("stats", "--period", "month:2026-12", "--csv")
        self.assertEqual(want.returncode, 0, want.stderr)
        self.assertIn(b"\r\n", csv.body)  # RFC 4180 lines; pahtctl's are read in text mode
        self.assertEqual(csv.body.decode("utf-8").replace("\r\n", "\n"), want.stdout)
        header = csv.body[3:].decode("utf-8").split("\r\n")[0].split(",")
        self.assertEqual(header[:4], ["Mã cơ quan", "Cơ quan", "Tiếp nhận", "Chờ xem xét"])
        self.assertEqual(ioc.get("/stats?period=month:2026-13").status, 400)

    def test_health_lists_mail_kept_aside_and_reprocesses_it(self):
        bomb = os.path.join(os.environ["PAHT_TEST_MAIL_DIR"], "nesting-bomb.eml")
        raw_id = self.gw.pahtctl_json("ingest", bomb)[0]["raw_id"]
        admin = self.clients["quantri"]
        page = admin.get("/health")
        self.assertEqual(page.status, 200)
        self.assertIn(f"/health/reprocess/{raw_id}", page.text)
        self.assertIn("max_depth", page.text)
        r = admin.post(f"/health/reprocess/{raw_id}")
        self.assertEqual(r.status, 409)
        self.assertIn("still cannot be processed", detail_of(r.text))
        trail = self.gw.pahtctl_json("audit", "--actor", "quantri")
        self.assertIn(("reprocess", str(raw_id)), [(a["kind"], a["detail"]) for a in trail])
        self.assertEqual(admin.get("/").status, 303)  # administrators keep the system only


class WebLimits(unittest.TestCase):
    """Bodies are bounded: uploads by max_message_bytes, other forms by a megabyte; whatever
    the client says of its length."""

    @classmethod
    def setUpClass(cls):
        cls.stack, cls.gw, cls.console = webtest.console_with_users({"xd": "agency:xd"})
        cls.gw.config["gateway"]["max_message_bytes"] = "100000"
        cls.gw.write_config()
        cls.code = webtest.ingest(cls.gw, webtest.report_mail(cls.gw, "Giới hạn"))[0]
        assert cls.gw.pahtctl("accept", cls.code, "--agency", "xd").returncode == 0
        cls.console.start()
        cls.xd = cls.console.login("xd")

    def test_1_uploads_over_max_message_bytes_are_refused_unread(self):
        before = self.console.snapshot()
        big = ("files", "bien-ban.pdf", "application/pdf", b"%PDF-1.4\n" + b"0" * 250_000)
        r = self.xd.post(f"/reports/{self.code}/result", {"text": "Đã xử lý."}, files=[big])
        self.assertEqual(r.status, 413)
        self.assertEqual(self.console.snapshot(), before)
        # sent in chunks, without a length to refuse it by: counted as it comes
        body, ctype = webtest.multipart({"csrf": self.xd.csrf, "text": "Đã xử lý."}, [big])
        chunks = (body[i:i + 8192] for i in range(0, len(body), 8192))
        r = self.xd.request("POST", f"/reports/{self.code}/result", body=chunks,
                            headers={"Content-Type": ctype, "Transfer-Encoding": "chunked"})
        self.assertEqual(r.status, 413)
        self.assertEqual(self.console.snapshot(), before)
        # a form without files stops at a megabyte
        r = self.xd.post(f"/reports/{self.code}/note", {"text": "x" * 1_100_000})
        self.assertEqual(r.status, 413)
        self.assertEqual(self.console.snapshot(), before)
        self.assertEqual(os.listdir(self.upload_dirs()[0]), [])

    def upload_dirs(self):
        tmp = os.path.join(self.gw.data_dir, "tmp")
        return [os.path.join(tmp, d) for d in os.listdir(tmp) if ".web-" in d]

    def test_2_an_upload_within_the_limit_is_kept_with_the_result(self):
        data = b"%PDF-1.4\n% bien ban\n" + bytes(range(256)) * 100
        r = self.xd.post(f"/reports/{self.code}/result", {"text": "Đã thay bóng đèn."},
                         files=[("files", "Biên bản nghiệm thu.pdf", "application/pdf", data),
                                ("files", "../../ảnh.jpg", "image/jpeg", b"\xff\xd8\xff\xe0jpg")])
        self.assertEqual(r.status, 303, r)
        rows = self.console.query("SELECT filename, size, uploaded_by FROM result_file ORDER BY id")
        self.assertEqual(rows, [("Biên bản nghiệm thu.pdf", len(data), "xd"), ("ảnh.jpg", 7, "xd")])
        got = self.xd.get(f"/reports/{self.code}/results/1")
        self.assertEqual(got.body, data)
        self.assertTrue(got.header("Content-Disposition").startswith("attachment;"))
        self.assertEqual(self.xd.get(f"/reports/{self.code}/results/2").header("Content-Type"),
                         "image/jpeg")
        # kept private, like every file of the gateway
        (path,) = self.console.query("SELECT path FROM result_file ORDER BY id LIMIT 1")[0]
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertEqual(os.listdir(self.upload_dirs()[0]), [])


class WebFormsWithoutFiles(unittest.TestCase):
    """Only the result form takes files, up to max_message_bytes; every other form (a note, an
    acceptance, the login) is a few fields: it stops at a megabyte and carries no file. Every
    action's route once took max_message_bytes (50 MB by default) and files that were written
    to disk and dropped, the note recorded all the same."""

    @classmethod
    def setUpClass(cls):
        cls.stack, cls.gw, cls.console = webtest.console_with_users({"ioc": "ioc"})
        cls.code = webtest.ingest(cls.gw, webtest.report_mail(cls.gw, "Không kèm tệp"))[0]
        cls.console.start()
        cls.ioc = cls.console.login("ioc")

    def test_a_form_of_another_action_stops_at_a_megabyte(self):
        before = self.console.snapshot()
        big = ("files", "bien-ban.pdf", "application/pdf", b"%PDF-1.4\n" + b"0" * 2_000_000)
        for action in ("note", "accept", "edit"):
            r = self.ioc.post(f"/reports/{self.code}/{action}",
                              {"text": "Ghi chú", "agency": "xd", "name": "Nguyễn Văn Bình"},
                              files=[big])
            self.assertEqual(r.status, 413, (action, r))
        self.assertEqual(self.console.snapshot(), before)

    def test_a_file_where_the_form_takes_none_is_refused(self):
        before = self.console.snapshot()
        small = ("files", "ghi-chu.txt", "text/plain", b"ghi chu")
        r = self.ioc.post(f"/reports/{self.code}/note", {"text": "Ghi chú"}, files=[small])
        self.assertEqual(r.status, 400, r)
        self.assertEqual(self.console.snapshot(), before)
        # nor may anyone without a session leave a file on the disk through the login form
        anonymous = self.console.client()
        anonymous.get("/login")
        r = anonymous.post("/login", {"login": "ioc", "password": webtest.password_of("ioc")},
                           files=[small])
        self.assertEqual(r.status, 400, r)
        self.assertNotIn("paht_session", anonymous.cookies)


class WebBrokenBodies(unittest.TestCase):
    def test_bodies_the_form_parser_rejects_leave_nothing_behind(self):
        """A multipart body libmicrohttpd's parser gives up on is a 400, and its parser is freed
        with the request (it was kept, 200 KB a request, until the sanitizer build's leak check
        at exit caught it: pahtweb exits 0 only with nothing leaked)."""
        _, gw, console = webtest.console_with_users({"ioc": "ioc"})
        code = webtest.ingest(gw, webtest.report_mail(gw, "Thân thư hỏng"))[0]
        console.start()
        ioc = console.login("ioc")
        broken = [b"--paht-b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n"
                  b"--paht-bjunk\r\n",
                  b"--paht-bXX\r\n\r\n"]
        for body in broken:
            r = ioc.request("POST", f"/reports/{code}/note", body=body,
                            headers={"Content-Type": "multipart/form-data; boundary=paht-b"})
            self.assertEqual(r.status, 400, body)
        self.assertEqual(console.stop(), 0, console.log()[-3000:])


class WebConnections(unittest.TestCase):
    def test_slow_clients_are_cut_off_and_connections_are_bounded(self):
        """A client that sends half a request and waits (slowloris) holds a socket only until
        client_timeout_seconds; max_connections bounds how many sockets that can be."""
        _, gw, console = webtest.console_with_users(
            {"ioc": "ioc"}, web={"max_connections": "4", "client_timeout_seconds": "2",
                                 "threads": "1"})
        console.start()
        slow = []
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", console.port), timeout=60)
            s.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\n")  # and never the end
            slow.append(s)
        # a fifth waits: it is answered only once the server has cut off a slow one
        extra = socket.create_connection(("127.0.0.1", console.port), timeout=60)
        extra.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        pending = {s: "cut" for s in slow}
        pending[extra] = "answered"
        order = []
        while pending:
            readable, _, _ = select.select(list(pending), [], [], 60)
            self.assertTrue(readable, f"nothing happened in 60 s after {order}")
            for s in readable:
                try:
                    data = s.recv(65536)
                except ConnectionResetError:
                    data = b""
                if s is extra:
                    self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:100])
                elif data:
                    continue  # whatever a server says before closing; the end is what counts
                order.append(pending.pop(s))
                s.close()
        self.assertEqual(sorted(order), ["answered"] + ["cut"] * 4)
        self.assertNotEqual(order[0], "answered", order)
        self.assertEqual(console.client().get("/login").status, 200)


class WebWithoutSecrets(unittest.TestCase):
    def test_pahtweb_never_needs_the_mail_passwords(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("web"))
        console = webtest.Console(gw)
        console.user("ioc", "ioc")
        for secret in ("imap.secret", "smtp.secret"):
            os.unlink(os.path.join(gw.dir, secret))
        self.assertNotEqual(gw.pahtd("--check-config").returncode, 0)
        console.start()
        self.assertEqual(console.login("ioc").get("/").status, 200)


if __name__ == "__main__":
    unittest.main()
