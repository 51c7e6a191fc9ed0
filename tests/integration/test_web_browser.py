"""The console in a real browser (issue 13): Debian's headless Chromium driven by Selenium
against pahtweb, pahtd, Dovecot and Postfix.

The story: a citizen's mail delivered through Dovecot reaches the IOC's queue; the operator
corrects the phone number the parser could not read, previews and sends the acceptance to
the Sở Xây dựng; the agency's officer logs in, sees only that report (another agency's is a
404), answers with a file; the leader approves; the IOC publishes; the citizen's mailbox holds
the Phụ lục I letter. A screenshot of every page is kept under the build folder
(web-screenshots/), on a 1366x768 laptop and on a phone; the queue and the report page also
under web-screenshots/readme/, which tools/readme-screenshots copies to doc/ for the README.

Then every hostile fixture of tests/mail/ rendered in the console runs no script: window.onerror
and the dialog functions are hooked before any page script could run, and the CSP's violation
events are collected (a control proves the hook sees a blocked script)."""
import glob
import os
import shutil
import tempfile
import unittest

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

import pahttest
import webtest

LAPTOP = (1366, 768)
PHONE = (390, 844)

HOOKS = """
window.__paht = {errors: [], dialogs: [], csp: []};
window.addEventListener('error', function (e) { window.__paht.errors.push(String(e.message)); });
['alert', 'confirm', 'prompt', 'print'].forEach(function (name) {
  window[name] = function (m) { window.__paht.dialogs.push(name + ':' + m); };
});
document.addEventListener('securitypolicyviolation', function (e) {
  window.__paht.csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def chromium():
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="paht-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--user-data-dir={profile}", f"--window-size={LAPTOP[0]},{LAPTOP[1]}",
                 "--lang=vi"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOOKS})
    return driver, profile


class Browser:
    """Chromium on the console, with a screenshot of each page."""

    def __init__(self, console, shots):
        self.console = console
        self.shots = shots
        self.driver, self.profile = chromium()
        self.count = 0

    def close(self):
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)

    def open(self, path):
        self.driver.get(self.console.url + path)
        return self.driver

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def submit(self, css):
        """Click a button that sends a form, and wait for the next page (a mark set on this
        page is gone from the next one)."""
        self.driver.execute_script("window.__pahtPage = true;")
        self.find(css).click()
        WebDriverWait(self.driver, 30).until(lambda d: d.execute_script(
            "return window.__pahtPage === undefined && document.readyState === 'complete'"))

    def shot(self, name, size=LAPTOP):
        self.driver.set_window_size(*size)
        self.count += 1
        path = os.path.join(self.shots, f"{self.count:02d}-{name}.png")
        self.driver.save_screenshot(path)
        self.driver.set_window_size(*LAPTOP)
        return path

    def login(self, login):
        if self.driver.current_url.startswith("http"):
            self.driver.delete_all_cookies()  # a fresh login whatever came before
        self.open("/login")
        self.find("#login").send_keys(login)
        self.find("#password").send_keys(webtest.password_of(login))
        self.submit("form.stack button[type=submit]")

    def logout(self):
        self.submit("form.logout button")

    def heading(self):
        return self.find("h1").text

    def hooks(self):
        return self.driver.execute_script("return window.__paht")


class ConsoleInChromium(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack, cls.gw, cls.console = webtest.console_with_users({
            "ioc.lan": ("ioc", "Lê Thị Lan"), "xd.an": ("agency:xd", "Phạm Văn An"),
            "xd.lanhdao": ("leader:xd", "Nguyễn Văn A"), "quantri": ("admin", "Quản trị viên")})
        cls.console.start()
        cls.shots = os.path.join(os.environ["PAHT_BUILD_DIR"], "web-screenshots")
        shutil.rmtree(cls.shots, ignore_errors=True)
        os.makedirs(cls.shots)
        cls.browser = Browser(cls.console, cls.shots)

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()

    def readme_shot(self, path, name):
        """The README's pictures (1366x768), under the build folder: tools/readme-screenshots
        copies them to doc/; the tests never write into the source tree."""
        folder = os.path.join(self.shots, "readme")
        os.makedirs(folder, exist_ok=True)
        shutil.copyfile(path, os.path.join(folder, name))

    def assert_labelled_and_fits(self, size=LAPTOP):
        """Every field has a label, the page has one h1, and nothing runs off the screen."""
        d = self.browser.driver
        unlabelled = d.execute_script("""
            return Array.from(document.querySelectorAll('input, select, textarea'))
              .filter(e => e.type !== 'hidden')
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
              .map(e => e.name || e.id);""")
        self.assertEqual(unlabelled, [])
        self.assertEqual(len(d.find_elements(By.TAG_NAME, "h1")), 1)
        d.set_window_size(*size)
        overflow = d.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        d.set_window_size(*LAPTOP)
        self.assertLessEqual(overflow, 0)

    def test_1_a_mail_goes_from_the_queue_to_the_citizens_result_letter(self):
        b = self.browser
        citizen = f"{pahttest.unique('dan')}@{self.stack.domain}"
        body = ("Kính gửi Trung tâm IOC,\n\nĐèn đường trước cổng chợ Phường 2 đã hỏng hơn một tuần, "
                "buổi tối rất tối.\n\nHọ và tên: Nguyễn Văn An\n"
                "Địa chỉ: 25 Trần Hưng Đạo, Phường 2, TP Sóc Trăng\nCCCD: 094201001234\n"
                "Điện thoại: 0912 345 67\nĐịa điểm: trước cổng chợ Phường 2 (9.6031, 105.9738)\n")
        photo = ("den-hong.png", "image/png", webtest.png_2x2())
        self.stack.deliver(self.gw.address,
                           pahttest.make_mail(f'"Nguyễn Văn An" <{citizen}>', self.gw.address,
                                              "Đèn đường hỏng trước chợ Phường 2", body,
                                              attachments=[photo]),
                           sender=citizen)
        run = self.gw.pahtd("--once")
        self.assertEqual(run.returncode, 0, run.stderr)
        other = webtest.ingest(self.gw, webtest.report_mail(self.gw, "Ổ gà đường Lê Lợi"))[0]
        self.assertEqual(self.gw.pahtctl("accept", other, "--agency", "gtvt").returncode, 0)

        # the IOC's queue
        b.open("/")
        self.assertEqual(b.heading(), "Đăng nhập")
        b.shot("dang-nhap")
        b.login("ioc.lan")
        self.assertEqual(b.heading(), "Hàng chờ của Trung tâm IOC")
        row = b.find("table.queue tbody tr")
        self.assertIn("Đèn đường hỏng trước chợ Phường 2", row.text)
        self.assertIn("Thiếu thông tin", row.text)  # the phone could not be read
        self.assert_labelled_and_fits()
        self.assert_labelled_and_fits(PHONE)
        self.readme_shot(b.shot("hang-cho-ioc"), "console-queue.png")
        b.shot("hang-cho-ioc-dien-thoai", PHONE)
        code = row.find_element(By.CSS_SELECTOR, "a").text
        b.submit(f"a[href='/reports/{code}']")
        self.assertEqual(b.heading(), f"Phản ánh {code} Thiếu thông tin")
        # the photo as its thumbnail (made by libvips on this first view), linking to the file
        thumb = b.find(".files img.thumb")
        self.assertEqual(thumb.get_attribute("alt"), "Ảnh thu nhỏ: den-hong.png")
        WebDriverWait(b.driver, 30).until(lambda d: d.execute_script(
            "const i = document.querySelector('.files img.thumb');"
            " return i.complete && i.naturalWidth > 0"))
        self.assertIn("openstreetmap.org/?mlat=9.6031&mlon=105.9738",
                      b.find(".fields a[href*=openstreetmap]").get_attribute("href"))
        self.assert_labelled_and_fits()
        self.assert_labelled_and_fits(PHONE)
        self.readme_shot(b.shot("phan-anh-ioc"), "console-report.png")
        b.shot("phan-anh-ioc-dien-thoai", PHONE)

        # the operator corrects the phone: the report is complete
        field = b.find("#edit-phone")
        field.clear()
        field.send_keys("0912 345 678")
        b.submit("#act-edit + form button[type=submit]")
        self.assertIn("Chờ tiếp nhận", b.heading())
        self.assertIn("phone: (trống) → 0912345678", b.find(".timeline").text)

        # a look at the letter first, then accept and assign
        Select(b.find("#accept-agency")).select_by_value("xd")
        b.find("#accept-category").send_keys("Hạ tầng đô thị")
        b.submit("button[formaction$='/accept/preview']")
        letters = b.driver.find_elements(By.CSS_SELECTOR, "pre.letter")
        self.assertTrue(any("chuyển đến Sở Xây dựng" in l.text for l in letters))
        b.shot("xem-truoc-thu")
        self.assertEqual(self.console.query("SELECT state FROM report WHERE code = ?", code),
                         [("draft",)])
        b.driver.back()
        Select(b.find("#accept-agency")).select_by_value("xd")
        b.submit("#act-accept + form button[type=submit]")
        self.assertIn("Đang xử lý", b.heading())
        b.logout()

        # the agency: its report only
        b.login("xd.an")
        rows = b.driver.find_elements(By.CSS_SELECTOR, "table.queue tbody tr")
        self.assertEqual([r.find_element(By.CSS_SELECTOR, "a").text for r in rows], [code])
        b.shot("hang-cho-so-xay-dung")
        b.open(f"/reports/{other}")
        self.assertEqual(b.heading(), "Không tìm thấy trang hoặc phản ánh này.")
        b.open(f"/reports/{code}")
        page = b.find("main").text
        self.assertIn("Nguyễn Văn An", page)
        self.assertNotIn("094201001234", page)
        b.find("#result-text").send_keys("Sở Xây dựng đã thay bóng đèn ngày 02/12/2026.")
        answer = os.path.join(self.gw.dir, "bien-ban-nghiem-thu.pdf")
        with open(answer, "wb") as f:
            f.write(b"%PDF-1.4\n% bien ban nghiem thu\n")
        b.find("#result-files").send_keys(answer)
        b.shot("phan-anh-so-xay-dung")
        b.submit("#act-result + form button[type=submit]")
        self.assertIn("Chờ lãnh đạo duyệt", b.heading())
        self.assertIn("bien-ban-nghiem-thu.pdf", b.find("main").text)
        b.logout()

        # the leader approves
        b.login("xd.lanhdao")
        self.assertEqual(b.heading(), "Kết quả chờ duyệt – Sở Xây dựng")
        b.submit(f"a[href='/reports/{code}']")
        b.shot("lanh-dao-duyet")
        b.submit("#act-approve + form button[type=submit]")
        self.assertIn("Chờ công khai", b.heading())
        b.logout()

        # the IOC publishes
        b.login("ioc.lan")
        b.open(f"/reports/{code}")
        b.submit("#act-publish + form button[type=submit]")
        self.assertIn("Đã công khai kết quả", b.heading())
        b.shot("da-cong-khai")
        b.open("/stats")
        b.shot("thong-ke")
        b.logout()
        b.login("quantri")
        self.assertEqual(b.heading(), "Tình trạng hệ thống")
        b.shot("tinh-trang-he-thong")
        b.logout()

        # pahtd sends what the console enqueued: the citizen gets the Phụ lục I letter
        run = self.gw.pahtd("--once")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.stack.wait_delivered([citizen])
        letters = pahttest.messages(self.stack, citizen)
        results = [m for m in letters if "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
                   in pahttest.plain_text(m)]
        self.assertEqual(len(results), 1, [str(m["Subject"]) for m in letters])
        text = pahttest.plain_text(results[0])
        self.assertIn("Sở Xây dựng đã thay bóng đèn ngày 02/12/2026.", text)
        self.assertIn(code, str(results[0]["Subject"]))
        actors = self.console.query(
            "SELECT kind, actor FROM event e JOIN report r ON r.id = e.report_id"
            " WHERE r.code = ? AND kind IN ('edited', 'accepted', 'result_submitted',"
            " 'approved', 'published') ORDER BY e.id", code)
        self.assertEqual(actors, [("edited", "ioc.lan"), ("accepted", "ioc.lan"),
                                  ("result_submitted", "xd.an"), ("approved", "xd.lanhdao"),
                                  ("published", "ioc.lan")])
        shots = sorted(os.listdir(self.shots))
        self.assertGreaterEqual(len(shots), 12, shots)

    def test_2_hostile_mail_runs_no_script_in_the_console(self):
        fixtures = sorted(glob.glob(os.path.join(os.environ["PAHT_TEST_MAIL_DIR"], "*.eml")))
        out = self.gw.pahtctl_json("ingest", *fixtures)
        codes = sorted({o["code"] for o in out if o.get("code")})
        self.assertGreater(len(codes), 40)
        b = self.browser
        b.login("ioc.lan")
        for code in codes:
            b.open(f"/reports/{code}")
            self.assertTrue(b.heading().startswith(f"Phản ánh {code}"), code)
            found = b.driver.execute_script("""
                var attrs = [];
                document.querySelectorAll('*').forEach(function (e) {
                  for (var a of e.attributes) if (/^on/i.test(a.name)) attrs.push(a.name);
                });
                return {scripts: document.scripts.length, handlers: attrs,
                        frames: document.querySelectorAll('iframe, object, embed').length};""")
            self.assertEqual(found, {"scripts": 0, "handlers": [], "frames": 0}, code)
            self.assertEqual(b.hooks(), {"errors": [], "dialogs": [], "csp": []}, code)
            for img in b.driver.find_elements(By.CSS_SELECTOR, "img"):
                self.assertTrue(img.get_attribute("src").startswith(self.console.url), code)
        # the script-laden HTML mail is shown as its text, never as HTML
        html_mail = [o["code"] for o in out
                     if o["file"].endswith("html-only-script-style-table-links.eml")][0]
        b.open(f"/reports/{html_mail}")
        self.assertGreater(len(b.find(".citizen-text").text), 20)
        # control: the hooks do see a script the CSP blocks
        b.driver.execute_script("var s = document.createElement('script');"
                                "s.textContent = 'alert(1)'; document.body.appendChild(s);")
        WebDriverWait(b.driver, 10).until(lambda d: b.hooks()["csp"])
        self.assertEqual(b.hooks()["dialogs"], [])
        b.logout()


if __name__ == "__main__":
    unittest.main()
