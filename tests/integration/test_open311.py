"""Open311 GeoReport v2 from pahtweb (issue 15), against the real program and database:
the services of the categories file, in JSON checked against the Open311 community's JSON
schemas (tests/open311-schema, CC BY 3.0) and in XML read element by element; the category
codes the accept takes; the jurisdiction and the error list of the spec."""
import json
import os
import re
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


if __name__ == "__main__":
    unittest.main()
