"""pahtctl and pahtd writing the same database at the same time, as on a busy morning: pahtd
drafting and answering a full inbox while the IOC ingests files and accepts reports with
pahtctl. No "database is locked" may reach anyone (pahtctl's user, pahtd's log), and no write
may be lost: every mail drafted once with one acknowledgement, every acceptance recorded once,
with its letters."""
import collections
import json
import os
import sqlite3
import threading
import unittest

import daemontest
import pahttest

IMAP_MAILS = 120
FILES = 40


class ConcurrentWriters(unittest.TestCase):
    def test_pahtctl_and_pahtd_writing_together_lose_nothing_and_never_say_locked(self):
        stack = pahttest.shared_stack()
        name = pahttest.unique("paht")
        gw = pahttest.Gateway(stack, name, overrides={("imap", "poll_seconds"): 1})
        contact, leader = f"{name}-xd@{stack.domain}", f"{name}-xd-leader@{stack.domain}"
        # ten citizens of one domain write 160 mails: the answer limits (per mailbox, per
        # domain, per hour) are not what this test is about
        for key in ("auto_replies_per_day", "auto_replies_per_domain_per_hour",
                    "auto_replies_per_hour"):
            gw.config["gateway"][key] = "1000"
        gw.write_agencies({"xd": ("Sở Xây dựng", contact, leader, "Nguyễn Văn A")})

        citizens = [daemontest.citizen(stack, "dong") for _ in range(10)]
        mails = [(citizens[i % 10], pahttest.make_mail(
            citizens[i % 10], gw.address, f"Phản ánh qua hộp thư số {i:03d}",
            f"Nội dung số {i:03d}.\n" + pahttest.complete_details())) for i in range(IMAP_MAILS)]
        daemontest.deliver_many(stack, gw.address, mails)
        files = []
        for i in range(FILES):
            path = os.path.join(gw.dir, f"file-{i:03d}.eml")
            with open(path, "wb") as f:
                f.write(pahttest.make_mail(citizens[i % 10], gw.address,
                                           f"Phản ánh qua tệp số {i:03d}",
                                           f"Tệp số {i:03d}.\n" + pahttest.complete_details()))
            files.append(path)

        runs = []  # (what, CompletedProcess) of every pahtctl call
        accepted = set()
        lock = threading.Lock()

        def record(what, run):
            with lock:
                runs.append((what, run))
            return run

        def ingest_files():
            for path in files:
                record("ingest", gw.pahtctl("ingest", path))

        def accept_drafts():
            # accept what is drafted, as it comes in, until every report is accepted
            for _ in range(20 * (IMAP_MAILS + FILES)):
                if len(accepted) == IMAP_MAILS + FILES:
                    return
                listed = record("drafts", gw.pahtctl("drafts", "--json"))
                if listed.returncode != 0:
                    continue
                for draft in json.loads(listed.stdout):
                    if draft["code"] not in accepted:
                        run = record("accept", gw.pahtctl("accept", draft["code"],
                                                          "--agency", "xd"))
                        if run.returncode == 0:
                            accepted.add(draft["code"])

        workers = [threading.Thread(target=ingest_files), threading.Thread(target=accept_drafts)]
        for t in workers:
            t.start()
        # pahtd starts once pahtctl has accepted a first draft, so that their writes overlap
        # (checked at the end): started first, under ASan it once took the 120 mails before
        # pahtctl's first acceptance
        pahttest.wait_for(lambda: accepted or not any(t.is_alive() for t in workers),
                          timeout=120, what="pahtctl's first acceptance")
        proc = gw.start_pahtd()
        for t in workers:
            t.join()
        pahttest.wait_for(lambda: gw.count("INBOX") == 0, timeout=120, what="the inbox drained")
        self.assertEqual(gw.stop_pahtd(proc), 0, gw.log()[-3000:])

        print(f"\n# {len(runs)} pahtctl calls beside pahtd: "
              f"{dict(collections.Counter(w for w, _ in runs))}")
        failed = [(w, r.returncode, r.stderr.strip()[-300:]) for w, r in runs if r.returncode]
        self.assertEqual(failed, [])
        said = [r.stderr for _, r in runs] + [gw.log()]
        self.assertFalse([s for s in said if "locked" in s or "busy" in s.lower()], said[-1][-2000:])

        # nothing lost, nothing twice
        self.assertEqual(len(accepted), IMAP_MAILS + FILES)
        self.assertEqual(gw.pahtctl_json("drafts"), [])
        outbox = gw.pahtctl_json("outbox")
        kinds = collections.Counter(o["kind"] for o in outbox)
        self.assertEqual(kinds["ack"], IMAP_MAILS + FILES, kinds)
        self.assertEqual(kinds["acceptance"], IMAP_MAILS + FILES, kinds)
        for code in sorted(accepted)[:: max(1, len(accepted) // 20)]:  # a sample, shown whole
            report = gw.pahtctl_json("show", code)
            self.assertEqual(report["state"], "assigned", code)
            events = [e["kind"] for e in report["events"]]
            self.assertEqual(events.count("accepted"), 1, events)
            self.assertEqual(events.count("assigned"), 1, events)
        self.assertEqual(gw.count("PAHT/Processed"), IMAP_MAILS)

        # and the writes did overlap: pahtctl's first acceptance was committed before pahtd's
        # last mail from the inbox (event ids follow the commits)
        with sqlite3.connect(f"file:{gw.database}?mode=ro", uri=True) as db:
            first_accept = db.execute("SELECT min(id) FROM event WHERE kind = 'accepted'"
                                      ).fetchone()[0]
            last_from_inbox = db.execute(
                "SELECT max(e.id) FROM event e JOIN raw_message r ON r.report_id = e.report_id"
                " WHERE e.kind = 'received' AND r.mailbox IS NOT NULL").fetchone()[0]
        self.assertLess(first_accept, last_from_inbox, "pahtctl and pahtd never wrote together")


if __name__ == "__main__":
    unittest.main()
