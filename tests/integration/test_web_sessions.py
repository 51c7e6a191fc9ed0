"""Logins and sessions of pahtweb (issue 13), with the clock moved by PAHT_NOW across restarts
of the real program: the throttle after five failures in fifteen minutes (per account and per
client address, the same answer as a wrong password, failures logged masked), idle and
absolute expiry, logout, a new token at every login, only the token's hash in the database,
and the cookie's attributes with and without TLS."""
import datetime
import http.client
import os
import re
import shutil
import ssl
import subprocess
import unittest

import pahttest
import webtest

T0 = pahttest.TEST_NOW  # Tuesday 09:00


def at(minutes=0, seconds=0):
    return (T0 + datetime.timedelta(minutes=minutes, seconds=seconds)).isoformat()


def message_of(page):
    found = re.search(r'<p class="alert" role="alert">(.*?)</p>', page)
    return found.group(1) if found else None


class LoginThrottle(unittest.TestCase):
    def setUp(self):
        self.gw = pahttest.Gateway(pahttest.shared_stack(), pahttest.unique("web"))
        # behind the province's nginx: the client address is nginx's word for it
        self.console = webtest.Console(self.gw, web={"behind_proxy": "true"})
        for login in ("ioc.lan", "ioc.binh"):
            self.console.user(login, "ioc")
        self.console.start(now=at())

    def attempt(self, login, password, client):
        """a login from CLIENT, as nginx names it"""
        c = self.console.client()
        c.get("/login", headers={"X-Real-IP": client})
        return c.post("/login", {"login": login, "password": password},
                      headers={"X-Real-IP": client})

    def test_five_failures_hold_the_account_and_the_address_with_the_same_answer(self):
        wrong = []
        for i in range(5):
            r = self.attempt("ioc.lan", f"sai mật khẩu {i}", "10.1.1.1")
            self.assertEqual(r.status, 401)
            wrong.append(message_of(r.text))
        self.assertEqual(set(wrong), {"Tên đăng nhập hoặc mật khẩu không đúng."})
        right = webtest.password_of("ioc.lan")
        # the right password, within the minute: the same answer, from anywhere
        for client in ("10.1.1.1", "10.2.2.2"):
            r = self.attempt("ioc.lan", right, client)
            self.assertEqual((r.status, message_of(r.text)), (401, wrong[0]), client)
            self.assertFalse([v for v in r.all("Set-Cookie") if v.startswith("paht_session=")])
        # the address is held for the other accounts too; another address is not
        self.assertEqual(self.attempt("ioc.binh", webtest.password_of("ioc.binh"),
                                      "10.1.1.1").status, 401)
        self.assertEqual(self.attempt("ioc.binh", webtest.password_of("ioc.binh"),
                                      "10.3.3.3").status, 303)
        outcomes = self.console.query(
            "SELECT outcome, count(*) FROM login_attempt WHERE login = 'ioc.lan'"
            " GROUP BY outcome ORDER BY outcome")
        self.assertEqual(outcomes, [("failed", 5), ("throttled", 2)])
        # a minute later: one attempt
        self.console.restart(now=at(minutes=1, seconds=1))
        self.assertEqual(self.attempt("ioc.lan", right, "10.2.2.2").status, 303)
        # every failure logged, the login masked, never a password
        log = self.console.log()
        failures = [l for l in log.splitlines() if l.endswith("login failed for i*** from 10.1.1.1")]
        self.assertEqual(len(failures), 5, log)
        self.assertIn("held: 5 failures in 15 minutes", log)
        self.assertNotIn("ioc.lan", log)
        self.assertNotIn("sai mật khẩu", log)
        self.assertNotIn(right, log)

    def test_an_unknown_login_gets_the_answer_of_a_wrong_password(self):
        unknown = self.attempt("khong.co", "bất kỳ mật khẩu nào", "10.4.4.4")
        known = self.attempt("ioc.lan", "bất kỳ mật khẩu nào", "10.5.5.5")
        self.assertEqual(unknown.status, known.status)
        self.assertEqual(message_of(unknown.text), message_of(known.text))

    def test_a_disabled_account_cannot_log_in(self):
        run = self.gw.pahtctl("user", "disable", "ioc.binh")
        self.assertEqual(run.returncode, 0, run.stderr)
        r = self.attempt("ioc.binh", webtest.password_of("ioc.binh"), "10.6.6.6")
        self.assertEqual(r.status, 401)


class Sessions(unittest.TestCase):
    def setUp(self):
        self.gw = pahttest.Gateway(pahttest.shared_stack(), pahttest.unique("web"))
        self.console = webtest.Console(self.gw)
        self.console.user("ioc.lan", "ioc")

    def session_rows(self):
        return self.console.query("SELECT token_hash, ended_at IS NOT NULL, end_reason"
                                  " FROM web_session ORDER BY id")

    def test_idle_sessions_end_after_thirty_minutes(self):
        self.console.start(now=at())
        c = self.console.login("ioc.lan")
        token = c.cookies["paht_session"]
        self.assertEqual(len(token), 64)
        # only the hash of the token is kept
        self.assertEqual(self.session_rows(), [(webtest.token_hash(token), 0, None)])
        dump = "\n".join(self.console.db().iterdump())
        self.assertNotIn(token, dump)
        self.console.restart(now=at(minutes=29))
        self.assertEqual(c.get("/").status, 200)
        self.console.restart(now=at(minutes=29 + 31))
        r = c.get("/")
        self.assertEqual((r.status, r.header("Location")), (303, "/login"))
        self.assertEqual(self.session_rows()[0][1:], (1, "idle"))

    def test_every_session_ends_after_its_hours(self):
        self.gw.config["web"].update(session_idle_minutes="600", session_max_hours="1")
        self.gw.write_config()
        self.console.start(now=at())
        c = self.console.login("ioc.lan")
        self.console.restart(now=at(minutes=59))
        self.assertEqual(c.get("/").status, 200)
        self.console.restart(now=at(minutes=61))
        self.assertEqual(c.get("/").status, 303)
        self.assertEqual(self.session_rows()[0][1:], (1, "expired"))

    def test_logout_ends_the_session_for_good(self):
        self.console.start(now=at())
        c = self.console.login("ioc.lan")
        token = c.cookies["paht_session"]
        r = c.post("/logout")
        self.assertEqual((r.status, r.header("Location")), (303, "/login"))
        deleted = [v for v in r.all("Set-Cookie") if v.startswith("paht_session=")]
        self.assertEqual(deleted, ["paht_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"])
        # the old cookie, kept by an attacker or a back button, opens nothing
        c.cookies["paht_session"] = token
        self.assertEqual(c.get("/").status, 303)
        self.assertEqual(self.session_rows()[0][1:], (1, "logout"))
        kinds = [a["kind"] for a in self.gw.pahtctl_json("audit", "--actor", "ioc.lan")]
        self.assertEqual(kinds, ["login", "logout"])

    def test_a_login_always_makes_a_new_token(self):
        self.console.start(now=at())
        # two tabs: the login form opened in one, a login done in the other, then the first
        # form sent: the session the browser had ends, a new token replaces it
        c = self.console.client()
        c.get("/login")
        form_token, form_cookie = c.csrf, c.cookies["paht_login"]
        self.assertEqual(c.login("ioc.lan").status, 303)
        first = c.cookies["paht_session"]
        c.cookies["paht_login"] = form_token
        r = c.post("/login", {"login": "ioc.lan", "password": webtest.password_of("ioc.lan")},
                   csrf=form_cookie)
        self.assertEqual(r.status, 303)
        self.assertNotEqual(c.cookies["paht_session"], first)
        self.assertEqual([row[1:] for row in self.session_rows()], [(1, "login"), (0, None)])
        # a token planted before the login (fixation) is never the session's
        planted = "a" * 64
        fresh = self.console.client()
        fresh.cookies["paht_session"] = planted
        self.assertEqual(fresh.login("ioc.lan").status, 303)
        self.assertNotEqual(fresh.cookies["paht_session"], planted)

    def test_a_new_password_or_a_disabled_account_ends_its_sessions(self):
        self.console.start(now=at())
        c = self.console.login("ioc.lan")
        run = self.gw.pahtctl("user", "passwd", "ioc.lan", input="Mật khẩu mới 2026\n")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(c.get("/").status, 303)
        c = self.console.login("ioc.lan", "Mật khẩu mới 2026")
        self.assertEqual(self.gw.pahtctl("user", "disable", "ioc.lan").returncode, 0)
        self.assertEqual(c.get("/").status, 303)

    def test_cookies_are_secure_with_their_host_prefix_over_https(self):
        self.console.start(now=at())
        r = self.console.client().login("ioc.lan")
        cookie = [v for v in r.all("Set-Cookie") if v.startswith("paht_session=")][0]
        self.assertRegex(cookie, r"^paht_session=[0-9a-f]{64}; Path=/; HttpOnly; SameSite=Lax; "
                                 r"Max-Age=43200$")
        # behind the province's nginx with TLS: Secure, and a name only this host can set
        self.console.stop()
        self.gw.config["web"]["public_url"] = "https://paht.soctrang.gov.vn"
        self.gw.write_config()
        self.console.start(now=at())
        c = self.console.client()
        c.get("/login")
        r = c.post("/login", {"login": "ioc.lan", "password": webtest.password_of("ioc.lan")},
                   headers={"Origin": "https://paht.soctrang.gov.vn"})
        self.assertEqual(r.status, 303)
        cookie = [v for v in r.all("Set-Cookie") if "paht_session=" in v][0]
        self.assertRegex(cookie, r"^__Host-paht_session=[0-9a-f]{64}; Path=/; HttpOnly; "
                                 r"SameSite=Lax; Secure; Max-Age=43200$")
        # the console's own origin is the public one now: a form from the loopback address is
        # another site's
        r = c.post("/reports/PAHT-2026-000001/note", {"text": "x"},
                   headers={"Origin": self.console.url})
        self.assertEqual(r.status, 403)


class Tls(unittest.TestCase):
    """TLS without a proxy ([web] tls_cert_file, tls_key_file): the stack's test certificate."""

    def setUp(self):
        self.stack = pahttest.shared_stack()
        self.gw = pahttest.Gateway(self.stack, pahttest.unique("web"))
        self.console = webtest.Console(self.gw)
        self.console.user("ioc.lan", "ioc")
        tls = os.path.join(self.stack.dir, "tls")
        for name, mode in (("cert.pem", 0o644), ("key.pem", 0o600)):
            shutil.copy(os.path.join(tls, name), os.path.join(self.gw.dir, name))
            os.chmod(os.path.join(self.gw.dir, name), mode)
        self.gw.config["web"].update(tls_cert_file="cert.pem", tls_key_file="key.pem")
        self.gw.write_config()

    def test_served_over_tls_with_secure_cookies(self):
        self.console.start(now=at())
        context = ssl.create_default_context(cafile=self.stack.ca)
        conn = http.client.HTTPSConnection("127.0.0.1", self.console.port, context=context,
                                           timeout=30)
        conn.request("GET", "/login")
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Strict-Transport-Security"), "max-age=31536000")
        self.assertEqual(r.getheader("Content-Security-Policy"), webtest.CSP)
        login_cookie = r.getheader("Set-Cookie")
        self.assertRegex(login_cookie, r"^__Host-paht_login=[0-9a-f]{32}; Path=/; HttpOnly; "
                                       r"SameSite=Lax; Secure; Max-Age=3600$")
        conn.close()
        # plain HTTP on the TLS port gets nothing
        plain = http.client.HTTPConnection("127.0.0.1", self.console.port, timeout=30)
        with self.assertRaises((http.client.HTTPException, ConnectionError)):
            plain.request("GET", "/login")
            plain.getresponse()

    def test_a_key_readable_by_others_is_refused(self):
        os.chmod(os.path.join(self.gw.dir, "key.pem"), 0o644)
        run = subprocess.run([self.gw.binary("pahtweb"), "-c", self.gw.config_path,
                              "--check-config"], env=self.gw._env(None), capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(run.returncode, 2)
        self.assertIn("readable by others", run.stderr)
        self.assertIn("chmod 600", run.stderr)


class Accounts(unittest.TestCase):
    """pahtctl user: the password on standard input, checked; roles named by the agencies."""

    def setUp(self):
        self.gw = pahttest.Gateway(pahttest.shared_stack(), pahttest.unique("web"))
        webtest.Console(self.gw)  # the agencies file

    def test_accounts_made_listed_and_refused_with_reasons(self):
        gw = self.gw
        run = gw.pahtctl("user", "add", "xd.an", "--role", "agency:XD", "--name", "Phạm Văn An",
                         "--email", "an@sxd.soctrang.gov.vn", input="mật khẩu đủ dài\n")
        self.assertEqual(run.returncode, 0, run.stderr)
        refusals = [
            (["user", "add", "ngan", "--role", "ioc", "--name", "X"], "ngắn\n", "at least 8"),
            (["user", "add", "yt", "--role", "agency:yt", "--name", "X"], "mật khẩu đủ dài\n",
             'no agency "yt"'),
            (["user", "add", "root2", "--role", "root", "--name", "X"], "mật khẩu đủ dài\n",
             "ioc, admin, agency:CODE or leader:CODE"),
            (["user", "add", "XD.AN", "--role", "ioc", "--name", "X"], "mật khẩu đủ dài\n",
             "taken"),
            (["user", "add", "trong", "--role", "ioc", "--name", "X"], "", "no password"),
            (["user", "passwd", "khong.co"], "mật khẩu đủ dài\n", "no account"),
        ]
        for argv, password, needle in refusals:
            run = gw.pahtctl(*argv, input=password)
            self.assertNotEqual(run.returncode, 0, argv)
            self.assertIn(needle, run.stderr, argv)
        listed = gw.pahtctl_json("user", "list")
        self.assertEqual([(a["login"], a["role"], a["agency"], a["name"], a["disabled"])
                          for a in listed], [("xd.an", "agency", "xd", "Phạm Văn An", False)])
        # the hash is argon2id; the password is nowhere in the database
        console = webtest.Console(gw, agencies=False)
        (stored,) = console.query("SELECT password_hash FROM web_user")[0]
        self.assertTrue(stored.startswith("$argon2id$"))
        dump = "\n".join(console.db().iterdump())
        self.assertNotIn("mật khẩu đủ dài", dump)


if __name__ == "__main__":
    unittest.main()
