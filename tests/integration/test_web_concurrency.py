"""pahtweb, pahtd and pahtctl writing one database at once (issue 13): twenty console sessions
note, correct and accept reports while pahtd ingests five hundred mails from Dovecot. No
"database is locked" may reach anyone (a page, pahtweb's log, pahtd's log), and every action
the console confirmed (303) is recorded exactly once; the ones it refused (409) not at all."""
import collections
import random
import re
import threading
import unittest

import daemontest
import pahttest
import webtest

MAILS = 500
SESSIONS = 20
ACTIONS = 15


def codes_on(client, path, login):
    """the reports a queue page lists"""
    page = client.get(path)
    if page.status != 200:
        raise AssertionError(f"{login}: queue {page.status} {page.text[:300]}")
    return re.findall(r'href="/reports/(PAHT-\d{4}-\d{6})"', page.text)


class ConsoleBesideTheDaemon(unittest.TestCase):
    def test_twenty_sessions_act_while_pahtd_ingests_five_hundred_mails(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("web"),
                              overrides={("imap", "poll_seconds"): 1})
        # the answer limits are not what this test is about
        for key in ("auto_replies_per_day", "auto_replies_per_domain_per_hour",
                    "auto_replies_per_hour"):
            gw.config["gateway"][key] = "1000"
        console = webtest.Console(gw, web={"threads": "4", "max_connections": "64"})
        logins = [console.user(f"ioc-{i:02d}", "ioc") for i in range(SESSIONS)]
        # reports already waiting when the morning starts
        waiting = webtest.ingest(
            gw, *[webtest.report_mail(gw, f"Phản ánh sẵn có {i}") for i in range(30)])
        contested = waiting[0]  # every session accepts this one first: one of them wins
        citizens = [daemontest.citizen(stack, "dong") for _ in range(10)]
        daemontest.deliver_many(stack, gw.address, [
            (citizens[i % 10], pahttest.make_mail(
                citizens[i % 10], gw.address, f"Phản ánh qua hộp thư số {i:03d}",
                f"Nội dung số {i:03d}.\n" + pahttest.complete_details()))
            for i in range(MAILS)])
        console.start()

        done = []  # (login, action, code, status, token)
        lock = threading.Lock()
        failures = []
        # pahtd starts once every session has logged in (a password check each), so that the
        # sessions' writes begin with its ingest: started first, it once took the five hundred
        # mails before the first session had logged in, and nothing overlapped
        logged_in = threading.Barrier(SESSIONS + 1)

        def session(login, seed):
            rng = random.Random(seed)
            try:
                client = console.login(login)
                logged_in.wait(timeout=300)
                r = client.post(f"/reports/{contested}/accept", {"agency": "gtvt"})
                with lock:
                    done.append((login, "accept", contested, r.status, "contested"))
                for n in range(ACTIONS):
                    # the first page, or the second when pahtd has drafted enough
                    codes = codes_on(client, f"/?state=all&page={rng.randint(1, 2)}", login)
                    codes = codes or codes_on(client, "/?state=all", login)
                    if not codes:
                        raise AssertionError(f"{login}: an empty queue")
                    code = rng.choice(codes)
                    action = rng.choice(["note", "note", "edit", "accept"])
                    token = f"{login}-{n}"
                    fields = {"note": {"text": f"Đã gọi điện xác minh ({token})"},
                              "edit": {"category": f"Lĩnh vực {token}"},
                              "accept": {"agency": "xd"}}[action]
                    r = client.post(f"/reports/{code}/{action}", fields)
                    with lock:
                        done.append((login, action, code, r.status, token))
                    if r.status not in (303, 409) or "bận" in r.text or "locked" in r.text:
                        raise AssertionError(f"{login} {action} {code}: {r.status} {r.text[:300]}")
            except Exception as e:  # noqa: BLE001 (reported below, with the thread's login)
                logged_in.abort()  # the others do not wait for this one
                with lock:
                    failures.append(f"{login}: {e!r}")

        threads = [threading.Thread(target=session, args=(login, i))
                   for i, login in enumerate(logins)]
        for t in threads:
            t.start()
        try:
            logged_in.wait(timeout=300)
        except threading.BrokenBarrierError:
            pass  # a session failed: its error is reported below
        pahtd = gw.start_pahtd()
        for t in threads:
            t.join()
        pahttest.wait_for(lambda: gw.count("INBOX") == 0, timeout=600, what="the inbox drained")
        self.assertEqual(gw.stop_pahtd(pahtd), 0, gw.log()[-3000:])
        self.assertEqual(console.stop(), 0)

        self.assertEqual(failures, [])
        print(f"\n# {len(done)} console actions beside pahtd: "
              f"{dict(collections.Counter((a, s) for _, a, _, s, _ in done))}")
        for said in (console.log(), gw.log()):
            self.assertNotRegex(said, r"(?i)locked|busy")

        # every mail drafted once
        self.assertEqual(console.query(
            "SELECT count(*) FROM raw_message WHERE mailbox IS NOT NULL")[0][0], MAILS)
        self.assertEqual(console.query(
            "SELECT count(*) FROM report r JOIN raw_message m ON m.id = r.raw_id"
            " WHERE m.mailbox IS NOT NULL")[0][0], MAILS)
        # every confirmed action recorded once, every refused one not at all
        events = collections.Counter(
            (kind, actor, detail) for kind, actor, detail in console.query(
                "SELECT kind, actor, detail FROM event WHERE actor LIKE 'ioc-%'"))
        accepted = collections.Counter(code for (code,) in console.query(
            "SELECT r.code FROM event e JOIN report r ON r.id = e.report_id"
            " WHERE e.kind = 'accepted'"))
        self.assertTrue(all(n == 1 for n in accepted.values()), accepted.most_common(3))
        confirmed_accepts = set()
        for login, action, code, status, token in done:
            if action == "note":
                key = ("note", login, f"Đã gọi điện xác minh ({token})")
            elif action == "edit":
                key = next(((k, a, d) for k, a, d in events
                            if k == "edited" and a == login and d.endswith(f"Lĩnh vực {token}")),
                           ("edited", login, token))
            else:
                if status == 303:
                    confirmed_accepts.add(code)
                continue
            self.assertEqual(events[key], 1 if status == 303 else 0, (action, code, token))
        self.assertEqual(set(accepted), confirmed_accepts)
        race = [status for _, _, code, status, token in done if token == "contested"]
        self.assertEqual(sorted(race), [303] + [409] * (SESSIONS - 1))
        # and the writes did overlap: a console action was committed before pahtd's last mail
        first_web = console.query("SELECT min(id) FROM event WHERE actor LIKE 'ioc-%'")[0][0]
        last_mail = console.query(
            "SELECT max(e.id) FROM event e JOIN raw_message m ON m.report_id = e.report_id"
            " WHERE e.kind = 'received' AND m.mailbox IS NOT NULL")[0][0]
        self.assertLess(first_web, last_mail, "pahtweb and pahtd never wrote together")


if __name__ == "__main__":
    unittest.main()
