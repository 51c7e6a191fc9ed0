"""Open311 GeoReport v2 from pahtweb (issue 15), against the real program and database:
the services of the categories file, in JSON checked against the Open311 community's JSON
schemas (tests/open311-schema, CC BY 3.0) and in XML read element by element; the category
codes the accept takes; the jurisdiction and the error list of the spec."""
import json
import os
import re
import subprocess
import unittest
import warnings
import xml.etree.ElementTree as ET

import pahttest
import webtest

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "open311-schema")
JURISDICTION = "soctrang.gov.vn"

CATEGORIES = {
    "chieu-sang": ("Chiếu sáng công cộng", "Đèn đường hỏng, tắt, sáng ban ngày.",
                   "Hạ tầng đô thị", "xd"),
    "giao-thong": ("Giao thông", "Đường, cầu hư hỏng; ổ gà; biển báo hỏng.",
                   "Hạ tầng đô thị", "gtvt"),
}


def schema_validator(name):
    """A validator of tests/open311-schema/NAME.json, its $refs resolved in that folder."""
    import jsonschema
    store = {}
    for f in os.listdir(SCHEMA_DIR):
        if f.endswith(".json"):
            with open(os.path.join(SCHEMA_DIR, f), encoding="utf-8") as fh:
                store[f] = json.load(fh)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        resolver = jsonschema.RefResolver("", store[name + ".json"], store=store)
        cls = jsonschema.validators.validator_for(store[name + ".json"], jsonschema.Draft4Validator)
        return cls(store[name + ".json"], resolver=resolver)


RFC3339_VN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00$")


def open311_gateway(open311=None):
    """A gateway with agencies, categories and [open311]; its console (not started)."""
    stack = pahttest.shared_stack()
    gw = pahttest.Gateway(stack, pahttest.unique("o311"))
    console = webtest.Console(gw)
    gw.write_categories(CATEGORIES)
    gw.config["open311"] = {"jurisdiction_id": JURISDICTION, **(open311 or {})}
    gw.write_config()
    return gw, console


class Services(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw, cls.console = open311_gateway()
        cls.console.user("ioc.lan", "ioc")
        cls.console.start()
        cls.client = cls.console.client()

    @classmethod
    def tearDownClass(cls):
        cls.console.stop()
        cls.gw.close()

    def get(self, path):
        return self.client.get("/open311/v2/" + path)

    def test_services_json_follows_the_schema_and_lists_every_category(self):
        r = self.get("services.json")
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.header("Content-Type"), "application/json; charset=utf-8")
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "*")
        services = json.loads(r.body.decode("utf-8"))
        schema_validator("services").validate(services)
        self.assertEqual([s["service_code"] for s in services], list(CATEGORIES))
        for s in services:
            name, description, group, _ = CATEGORIES[s["service_code"]]
            self.assertEqual((s["service_name"], s["description"], s["group"]),
                             (name, description, group))
            self.assertEqual((s["metadata"], s["type"]), (False, "realtime"))

    def test_services_xml_element_by_element(self):
        r = self.get("services.xml")
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.header("Content-Type"), "text/xml; charset=utf-8")
        root = ET.fromstring(r.body)
        self.assertEqual(root.tag, "services")
        self.assertEqual(len(root), len(CATEGORIES))
        for service, (code, (name, description, group, _)) in zip(root, CATEGORIES.items()):
            self.assertEqual(service.tag, "service")
            self.assertEqual([(e.tag, e.text or "") for e in service],
                             [("service_code", code), ("service_name", name),
                              ("description", description), ("metadata", "false"),
                              ("type", "realtime"), ("keywords", ""), ("group", group)])

    def test_service_definition_in_both_formats_and_unknown_service_404(self):
        r = self.get("services/giao-thong.json")
        self.assertEqual(r.status, 200, r.text)
        definition = json.loads(r.body)
        schema_validator("service-definition").validate(definition)
        self.assertEqual(definition, {"service_code": "giao-thong", "attributes": []})
        root = ET.fromstring(self.get("services/giao-thong.xml").body)
        self.assertEqual([(e.tag, e.text) for e in root],
                         [("service_code", "giao-thong"), ("attributes", None)])
        self.assertEqual(root.tag, "service_definition")
        for ext in ("json", "xml"):
            r = self.get(f"services/khong-co.{ext}")
            self.assertEqual(r.status, 404, r.text)
            self.assertEqual(self.errors(r, ext), [(404, "service_code not found")])

    def errors(self, r, ext):
        if ext == "json":
            return [(e["code"], e["description"]) for e in json.loads(r.body)]
        root = ET.fromstring(r.body)
        self.assertEqual(root.tag, "errors")
        return [(int(e.find("code").text), e.find("description").text) for e in root]

    def test_discovery_names_this_endpoint_and_its_formats(self):
        d = json.loads(self.get("discovery.json").body)
        self.assertEqual(d["endpoints"][0]["url"], f"{self.console.url}/open311/v2")
        self.assertEqual(d["endpoints"][0]["formats"], ["text/xml", "application/json"])
        self.assertEqual(d["endpoints"][0]["specification"], "http://wiki.open311.org/GeoReport_v2")
        root = ET.fromstring(self.get("discovery.xml").body)
        self.assertEqual(root.tag, "discovery")
        endpoint = root.find("endpoints/endpoint")
        self.assertEqual([f.text for f in endpoint.find("formats")],
                         ["text/xml", "application/json"])
        self.assertEqual(endpoint.find("url").text, f"{self.console.url}/open311/v2")

    def test_jurisdiction_checked_when_sent(self):
        self.assertEqual(self.get(f"services.json?jurisdiction_id={JURISDICTION}").status, 200)
        for ext in ("json", "xml"):
            r = self.get(f"services.{ext}?jurisdiction_id=hanoi.gov.vn")
            self.assertEqual(r.status, 404)
            self.assertEqual(self.errors(r, ext), [(404, "jurisdiction_id not found")])


class CategoryOfAccept(unittest.TestCase):
    """pahtctl accept --category and the console's accept take the categories file's codes."""

    def setUp(self):
        self.gw, self.console = open311_gateway()
        self.console.user("ioc.lan", "ioc")

    def tearDown(self):
        self.console.stop()
        self.gw.close()

    def test_unknown_category_refused_known_one_stored_as_its_code(self):
        first, second = webtest.ingest(self.gw, webtest.report_mail(self.gw, "Đèn hỏng"),
                                       webtest.report_mail(self.gw, "Ổ gà"))
        run = self.gw.pahtctl("accept", first, "--agency", "xd", "--category", "Hạ tầng đô thị")
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertIn("unknown category", run.stderr)
        self.assertIn("chieu-sang, giao-thong", run.stderr)
        self.assertEqual(self.console.query("SELECT state FROM report WHERE code = ?", first),
                         [("draft",)])
        run = self.gw.pahtctl("accept", first, "--agency", "xd", "--category", "CHIEU-SANG")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(self.console.query(
            "SELECT category FROM report_lifecycle JOIN report ON report.id = report_id"
            " WHERE code = ?", first), [("chieu-sang",)])
        # the console: its form offers the codes, and refuses another
        self.console.start()
        client = self.console.login("ioc.lan")
        page = client.get(f"/reports/{second}")
        self.assertIn('<option value="giao-thong">Giao thông (Hạ tầng đô thị)</option>', page.text)
        r = client.post(f"/reports/{second}/accept", {"agency": "gtvt", "category": "ổ gà"})
        self.assertEqual(r.status, 409, r.text)
        r = client.post(f"/reports/{second}/accept", {"agency": "gtvt", "category": "giao-thong"})
        self.assertEqual(r.status, 303, r.text)


MAIL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mail")


class Requests(unittest.TestCase):
    """GET requests and requests/ID: only what the IOC accepted, as the public may see it."""

    def setUp(self):
        self.gw, self.console = open311_gateway()
        self.console.start()
        self.client = self.console.client()

    def tearDown(self):
        self.console.stop()
        self.gw.close()

    def get(self, path):
        return self.client.get("/open311/v2/" + path)

    def requests(self, query="", ext="json"):
        r = self.get(f"requests.{ext}{query}")
        self.assertEqual(r.status, 200, r.text)
        if ext == "xml":
            return ET.fromstring(r.body)
        found = json.loads(r.body)
        schema_validator("requests").validate(found)
        for item in found:
            for key in ("requested_datetime", "updated_datetime", "expected_datetime"):
                if item[key] is not None:
                    self.assertRegex(item[key], RFC3339_VN)
        return found

    def one(self, code):
        r = self.get(f"requests/{code}.json")
        if r.status == 404:
            self.assertEqual(json.loads(r.body), [{"code": 404,
                                                   "description": "service_request_id not found"}])
            return None
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "*")
        found = json.loads(r.body)
        schema_validator("requests").validate(found)
        self.assertEqual(len(found), 1)
        return found[0]

    def act(self, *args):
        run = self.gw.pahtctl(*args)
        self.assertEqual(run.returncode, 0, f"{args}: {run.stderr}")

    def test_a_reports_life_through_requests_id(self):
        code, = webtest.ingest(self.gw, webtest.report_mail(
            self.gw, "Đèn đường hỏng", who="Trần Thị Bích"))
        self.assertIsNone(self.one(code), "a draft is not public")
        self.act("accept", code, "--agency", "xd", "--category", "chieu-sang")
        shown = self.gw.pahtctl_json("show", code)
        r = self.one(code)
        self.assertEqual((r["service_request_id"], r["status"], r["status_notes"]),
                         (code, "open", None))
        self.assertEqual((r["service_code"], r["service_name"]),
                         ("chieu-sang", "Chiếu sáng công cộng"))
        self.assertEqual(r["agency_responsible"], "Sở Xây dựng")
        self.assertEqual(r["requested_datetime"], shown["received_at"])
        self.assertEqual(r["expected_datetime"], shown["deadlines"]["result"])
        self.assertEqual(r["address"], "trước cổng chợ Phường 2")
        self.assertIn("Đèn đường trước nhà bị hỏng.", r["description"])
        self.assertIsNone(r["media_url"])
        answer = os.path.join(self.gw.dir, "ket-qua.txt")
        with open(answer, "w", encoding="utf-8") as f:
            f.write("Sở Xây dựng đã thay bóng đèn; đèn sáng bình thường.\n")
        self.act("result", code, "--file", answer, "--actor", "nv.xd")
        self.assertEqual(self.one(code)["status"], "open")
        self.act("approve", code, "--actor", "gd.xd")
        self.act("publish", code, "--actor", "ioc.lan")
        r = self.one(code)
        self.assertEqual((r["status"], r["status_notes"]),
                         ("closed", "Sở Xây dựng đã thay bóng đèn; đèn sáng bình thường."))
        # the XML says the same, element by element
        root = ET.fromstring(self.get(f"requests/{code}.xml").body)
        self.assertEqual(root.tag, "service_requests")
        request, = list(root)
        self.assertEqual(request.tag, "request")
        self.assertEqual([e.tag for e in request], list(r))
        for e in request:
            want = r[e.tag]
            self.assertEqual(e.text, None if want is None else str(want), e.tag)

    def test_a_place_that_is_the_citizens_home_address_is_not_shown(self):
        home = "25 Trần Hưng Đạo, Phường 2, TP Sóc Trăng"
        body = ("Cống trước nhà tôi bị nghẹt.\n\nHọ và tên: Võ Thị Mai\n"
                f"Địa chỉ: {home}\nCCCD: 094201001234\nĐiện thoại: 0912 345 678\n"
                f"Địa điểm: {home}\n")
        data = pahttest.make_mail(f'"Võ Thị Mai" <{pahttest.unique("mai")}@{self.gw.stack.domain}>',
                                  self.gw.address, "Cống nghẹt", body)
        code, = webtest.ingest(self.gw, webtest.mail_file(self.gw, "home.eml", data))
        shown = self.gw.pahtctl_json("show", code)
        self.assertEqual((shown["citizen"]["address"], shown["location"]["text"]), (home, home))
        self.act("accept", code, "--agency", "xd", "--category", "chieu-sang")
        r = self.one(code)
        self.assertIsNone(r["address"])
        self.assertNotIn("Trần Hưng Đạo", json.dumps(r, ensure_ascii=False))

    def test_filters_window_and_errors(self):
        codes = webtest.ingest(self.gw, *[webtest.report_mail(self.gw, f"Phản ánh {i}")
                                          for i in range(4)])
        self.act("accept", codes[0], "--agency", "xd", "--category", "chieu-sang")
        self.act("accept", codes[1], "--agency", "gtvt", "--category", "giao-thong")
        self.act("reject", codes[2], "--reason", "spam")
        # codes[3] stays a draft
        self.assertEqual([r["service_request_id"] for r in self.requests()],
                         [codes[1], codes[0]])
        self.assertEqual([r["service_request_id"] for r in self.requests(
            "?service_code=giao-thong")], [codes[1]])
        self.assertEqual(self.requests("?status=closed"), [])
        self.assertEqual(len(self.requests("?status=open")), 2)
        listed = self.requests("?service_request_id=" + ",".join(c.lower() for c in codes))
        self.assertEqual(sorted(r["service_request_id"] for r in listed), sorted(codes[:2]))
        self.assertEqual(len(self.requests("?start_date=2026-11-20T00:00:00%2B07:00")), 2)
        self.assertEqual(self.requests("?end_date=2026-11-30T00:00:00%2B07:00"), [])
        root = self.requests(ext="xml")
        self.assertEqual([e.find("service_request_id").text for e in root], [codes[1], codes[0]])
        for query, why in (("?start_date=2026-01-01T00:00:00Z&end_date=2026-12-01T00:00:00Z",
                            "start_date and end_date: at most 90 days apart"),
                           ("?start_date=hôm-qua", "start_date: not an RFC 3339 date and time"),
                           ("?status=pending", "status: open or closed")):
            r = self.get("requests.json" + query.replace("ô", "%C3%B4"))
            self.assertEqual(r.status, 400, query)
            self.assertEqual(json.loads(r.body), [{"code": 400, "description": why}])
            root = ET.fromstring(self.get("requests.xml" + query.replace("ô", "%C3%B4")).body)
            self.assertEqual([(e.find("code").text, e.find("description").text) for e in root],
                             [("400", why)])

    def test_image_public_only_when_the_ioc_marks_it(self):
        png = webtest.png_2x2()
        code, = webtest.ingest(self.gw, webtest.report_mail(
            self.gw, "Ổ gà", attachments=[("o-ga.png", "image/png", png),
                                          ("don.pdf", "application/pdf", b"%PDF-1.4\n%%EOF\n")]))
        self.act("accept", code, "--agency", "gtvt", "--category", "giao-thong")
        self.assertIsNone(self.one(code)["media_url"])
        run = self.gw.pahtctl("image", code, "2", "--public")
        self.assertEqual(run.returncode, 1)
        self.assertIn("not an image", run.stderr)
        self.act("image", code, "1", "--public", "--actor", "ioc.lan")
        url = self.one(code)["media_url"]
        self.assertTrue(url.startswith(f"{self.console.url}/open311/v2/media/{code}/"), url)
        r = self.console.client().get(url[len(self.console.url):])  # no session
        self.assertEqual((r.status, r.header("Content-Type"), r.body), (200, "image/png", png))
        self.act("image", code, "1", "--private")
        self.assertIsNone(self.one(code)["media_url"])
        self.assertEqual(self.console.client().get(url[len(self.console.url):]).status, 404)
        events = self.console.query(
            "SELECT actor, kind, detail FROM event JOIN report ON report.id = report_id"
            " WHERE code = ? AND kind LIKE 'image_%' ORDER BY event.id", code)
        self.assertEqual([e[1:] for e in events], [("image_public", "tệp 1"),
                                                   ("image_private", "tệp 1")])
        self.assertEqual(events[0][0], "ioc.lan")

    def test_image_made_public_from_the_console_by_the_ioc_only(self):
        self.console.stop()
        self.console.user("ioc.lan", "ioc")
        self.console.user("nv.gtvt", "agency:gtvt")
        self.console.start()
        code, = webtest.ingest(self.gw, webtest.report_mail(
            self.gw, "Ổ gà", attachments=[("o-ga.png", "image/png", webtest.png_2x2())]))
        self.act("accept", code, "--agency", "gtvt", "--category", "giao-thong")
        agency = self.console.login("nv.gtvt")
        agency.get(f"/reports/{code}")
        self.assertEqual(agency.post(f"/reports/{code}/image", {"file": "1", "public": "1"}).status,
                         403)
        self.assertIsNone(self.one(code)["media_url"])
        ioc = self.console.login("ioc.lan")
        page = ioc.get(f"/reports/{code}")
        self.assertIn("Tệp 1: không công khai", page.text)
        self.assertEqual(ioc.post(f"/reports/{code}/image", {"file": "1", "public": "1"}).status,
                         303)
        self.assertIsNotNone(self.one(code)["media_url"])
        self.assertIn("Tệp 1: đang công khai", ioc.get(f"/reports/{code}").text)
        self.assertEqual(ioc.post(f"/reports/{code}/image", {"file": "9", "public": "1"}).status,
                         409)


class NoPersonalData(unittest.TestCase):
    """Every fixture mail of tests/mail that makes a report, accepted: no name, phone, ID
    number, postal address or e-mail in any Open311 answer; confidential ones never appear."""

    def test_no_personal_data_for_any_fixture_mail(self):
        gw, console = open311_gateway()
        self.addCleanup(gw.close)
        self.addCleanup(console.stop)
        mails = sorted(os.path.join(MAIL_DIR, f) for f in os.listdir(MAIL_DIR)
                       if f.endswith(".eml"))
        made = [o for o in gw.pahtctl_json("ingest", *mails) if o.get("code")]
        self.assertGreater(len(made), 30)
        public, secret, personal = [], [], set()
        for o in made:
            shown = gw.pahtctl_json("show", o["code"])
            if shown["state"] not in ("draft", "incomplete"):
                continue
            run = gw.pahtctl("accept", o["code"], "--agency", "xd", "--category", "chieu-sang")
            self.assertEqual(run.returncode, 0, run.stderr)
            (secret if shown["confidential"] else public).append(o["code"])
            for key, value in shown["citizen"].items():
                if value and len(value) >= 5:
                    personal.add((o["code"], key, value))
        self.assertTrue(secret, "the fixtures include a confidential report")
        console.start()
        client = console.client()
        bodies = []
        for ext in ("json", "xml"):
            r = client.get(f"/open311/v2/requests.{ext}")
            self.assertEqual(r.status, 200)
            bodies.append(r.body.decode("utf-8"))
            for code in public + secret:
                r = client.get(f"/open311/v2/requests/{code}.{ext}")
                self.assertEqual(r.status, 404 if code in secret else 200, code)
                bodies.append(r.body.decode("utf-8"))
        listed = json.loads(bodies[0])
        schema_validator("requests").validate(listed)
        self.assertEqual(sorted(x["service_request_id"] for x in listed), sorted(public))
        everything = "\n".join(bodies)
        for code in secret:
            self.assertNotIn(code, everything)
        digits = re.sub(r"\D", "", everything)
        for code, key, value in sorted(personal):
            self.assertFalse(value.casefold() in everything.casefold(), f"{code}: its {key}")
            if key in ("phone", "id_number"):
                self.assertFalse(value in digits, f"{code}: its {key} (digits)")


API_KEY = "k3y-của-cổng-tỉnh".encode().hex() + "0123456789"


def with_api_key(gw, requests_per_hour=None, mode=0o600):
    path = os.path.join(gw.dir, "open311.keys")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(f"# the province's portal\n{API_KEY} cong-tinh\n")
    os.chmod(path, mode)
    gw.config["open311"]["api_keys_file"] = path
    if requests_per_hour:
        gw.config["open311"]["requests_per_hour"] = str(requests_per_hour)
    gw.write_config()


class Post(unittest.TestCase):
    """POST requests: a report filed with an API key runs the pipeline of a mail."""

    def setUp(self):
        self.gw, self.console = open311_gateway()
        with_api_key(self.gw, requests_per_hour=12)
        self.console.start()
        self.client = self.console.client()

    def tearDown(self):
        self.console.stop()
        self.gw.close()

    def post(self, fields, ext="json", key=API_KEY, headers=None):
        body = dict(fields)
        if key:
            body["api_key"] = key
        return self.client.post(f"/open311/v2/requests.{ext}", body, csrf=False,
                                headers=headers)

    def errors(self, r, ext="json"):
        if ext == "json":
            return [(e["code"], e["description"]) for e in json.loads(r.body)]
        return [(int(e.find("code").text), e.find("description").text)
                for e in ET.fromstring(r.body)]

    GOOD = {"service_code": "giao-thong", "lat": "9.602521", "long": "105.973904",
            "description": "Ổ gà lớn giữa đường Trần Hưng Đạo, xe máy dễ té ngã.",
            "first_name": "Lâm", "last_name": "Thị Sương", "phone": "0907 111 222",
            "address_string": "Trước số 40 Trần Hưng Đạo, Phường 2"}

    def reports(self):
        return self.console.query("SELECT code FROM report")

    def test_without_or_with_a_wrong_key_403_and_nothing_filed(self):
        for ext in ("json", "xml"):
            for key in (None, "không-phải-khóa-này-0123456789"):
                r = self.post(self.GOOD, ext=ext, key=key)
                self.assertEqual(r.status, 403, r.text)
                self.assertEqual(self.errors(r, ext), [(403, "api_key: missing or not valid")])
        self.assertEqual(self.reports(), [])
        self.assertNotIn(API_KEY, self.console.log())

    def test_a_report_filed_with_email_gets_the_mail_answer(self):
        email = f"{pahttest.unique('suong')}@{self.gw.stack.domain}"
        fields = dict(self.GOOD, email=email, **{"attribute[address]": "12 Lê Lợi, Phường 6",
                                                  "attribute[id_number]": "094301005566"})
        # from the portal's page on another site: the key, not a cookie, is the credential
        r = self.post(fields, headers={"Origin": "https://paht.soctrang.gov.vn"})
        self.assertEqual(r.status, 201, r.text)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "*")
        answer, = json.loads(r.body)
        code = answer["service_request_id"]
        self.assertRegex(code, r"^PAHT-2026-\d{6}$")
        self.assertIn("4 giờ làm việc", answer["service_notice"])
        shown = self.gw.pahtctl_json("show", code)
        self.assertEqual((shown["state"], shown["classification"], shown["missing"]),
                         ("draft", "report", []))
        self.assertEqual(shown["citizen"], {"name": "Lâm Thị Sương", "address":
                                            "12 Lê Lợi, Phường 6", "id_number": "094301005566",
                                            "phone": "0907111222", "email": email})
        self.assertEqual((shown["location"]["lat"], shown["location"]["lon"]),
                         (9.602521, 105.973904))
        self.assertIn("Ổ gà lớn giữa đường Trần Hưng Đạo", shown["text"])
        self.assertEqual([(m["kind"], m["to"]) for m in shown["mail"]], [("ack", email)])
        self.assertIn("assign", shown["deadlines"])
        raw = self.console.query("SELECT path FROM raw_message JOIN report"
                                 " ON report.raw_id = raw_message.id WHERE code = ?", code)
        with open(raw[0][0], "rb") as f:
            self.assertIn(b"X-PAHT-Open311-Client: cong-tinh", f.read())
        # the same answer in XML
        r = self.post(dict(fields, description="Ổ gà thứ hai."), ext="xml")
        self.assertEqual(r.status, 201, r.text)
        root = ET.fromstring(r.body)
        self.assertEqual([e.tag for e in root.find("request")],
                         ["service_request_id", "service_notice", "account_id"])

    def test_without_email_incomplete_and_nobody_answered(self):
        r = self.post(self.GOOD)
        self.assertEqual(r.status, 201, r.text)
        code = json.loads(r.body)[0]["service_request_id"]
        shown = self.gw.pahtctl_json("show", code)
        self.assertEqual((shown["state"], shown["missing"]), ("incomplete", ["address", "id_number"]))
        self.assertEqual(shown["mail"], [])

    def test_an_emergency_is_told_to_call_1022(self):
        email = f"{pahttest.unique('khan')}@{self.gw.stack.domain}"
        r = self.post(dict(self.GOOD, email=email,
                           description="Nhà kho đang cháy, lửa bốc cao, có người mắc kẹt!"))
        self.assertEqual(r.status, 201, r.text)
        answer, = json.loads(r.body)
        self.assertIn("1022", answer["service_notice"])
        shown = self.gw.pahtctl_json("show", answer["service_request_id"])
        self.assertEqual(shown["classification"], "emergency")
        self.assertIn(("emergency", email), [(m["kind"], m["to"]) for m in shown["mail"]])

    def test_bad_input_400_with_every_problem_listed(self):
        cases = [
            (dict(self.GOOD, lat="200"), ["lat, long: WGS84 degrees, lat -90..90 and long "
                                          "-180..180, both"]),
            (dict(self.GOOD, long="đông"), ["lat, long: WGS84 degrees, lat -90..90 and long "
                                            "-180..180, both"]),
            (dict(self.GOOD, description="x" * 4001), ["description: at most 4000 characters"]),
            (dict(self.GOOD, service_code="khong-co"), ["service_code: not a service here"]),
            ({k: v for k, v in self.GOOD.items() if k not in ("lat", "long", "address_string")},
             ["lat and long, or address_string: required"]),
            (dict(self.GOOD, email="a@b", phone="0907; rm -rf", first_name="A\r\nBcc: x@y.vn"),
             ["first_name: one line of at most 200 characters", "email: not an e-mail address",
              "phone: digits, spaces and + - . ( ) only"]),
        ]
        for fields, want in cases:
            for ext in ("json", "xml"):
                r = self.post(fields, ext=ext)
                self.assertEqual(r.status, 400, r.text)
                self.assertEqual(self.errors(r, ext), [(400, w) for w in want])
        self.assertEqual(self.reports(), [])
        r = self.post(dict(self.GOOD, jurisdiction_id="cantho.gov.vn"))
        self.assertEqual((r.status, self.errors(r)), (404, [(404, "jurisdiction_id not found")]))

    def test_each_key_has_its_hourly_limit(self):
        statuses = [self.post(dict(self.GOOD, description=f"Ổ gà số {i}.")).status
                    for i in range(13)]
        self.assertEqual(statuses, [201] * 12 + [429])
        self.assertEqual(len(self.reports()), 12)


class KeysFile(unittest.TestCase):
    def test_a_keys_file_readable_by_others_is_refused(self):
        gw, console = open311_gateway()
        self.addCleanup(gw.close)
        with_api_key(gw, mode=0o644)
        run = subprocess.run([gw.binary("pahtweb"), "-c", gw.config_path, "--check-config"],
                             env=gw._env({}), capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn("chmod 600", run.stderr)
        self.assertNotIn(API_KEY, run.stderr)


if __name__ == "__main__":
    unittest.main()
