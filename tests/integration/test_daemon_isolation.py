"""Mail that cannot be processed never blocks the mail behind it (SPEC §3): a message the parser
refuses, one that makes it hang and one that crashes it are each kept, moved to quarantine and
reported to the IOC, while the next message is processed; `pahtctl reprocess` runs a kept one
again. Mail above max_message_bytes stays on the server, and its sender is answered once."""
import json
import os
import re
import signal
import sqlite3
import unittest

import daemontest
import pahttest

HANG = "XYZ-HANG"
CRASH = "XYZ-CRASH"
GARBLE = "XYZ-GARBLE"


class Quarantine(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = pahttest.shared_stack()
        # a short time limit: the hanging message costs the test 3 s
        cls.gw = pahttest.Gateway(cls.stack, pahttest.unique("paht"),
                                  overrides={("gateway", "message_timeout_seconds"): 3})
        gw = cls.gw
        cls.who = daemontest.citizen(cls.stack)
        mail_dir = os.environ["PAHT_TEST_MAIL_DIR"]
        with open(os.path.join(mail_dir, "nesting-bomb.eml"), "rb") as f:
            bomb = f.read()
        cls.subjects = ["Rác thải trước chợ", "bomb", f"Ngập nước {HANG}",
                        f"Cây đổ {CRASH}", "Đèn đường hỏng"]
        mails = [
            pahttest.make_mail(cls.who, gw.address, cls.subjects[0], "Rác thải ùn ứ.\n" + pahttest.complete_details()),
            bomb,
            pahttest.make_mail(cls.who, gw.address, cls.subjects[2], "Nước ngập sâu.\n" + pahttest.complete_details()),
            pahttest.make_mail(cls.who, gw.address, cls.subjects[3], "Cây đổ giữa đường.\n" + pahttest.complete_details()),
            pahttest.make_mail(cls.who, gw.address, cls.subjects[4], "Đèn không sáng.\n" + pahttest.complete_details()),
        ]
        daemontest.deliver_many(cls.stack, gw.address, [(cls.who, m) for m in mails])
        cls.first = gw.pahtd("--once", env={
            "PAHT_TEST_FAULT": f"hang-on-subject:{HANG},crash-on-subject:{CRASH}"})
        pahttest.wait_for(lambda: pahttest.count(cls.stack, gw.ioc_address) >= 3, timeout=30,
                          what="three IOC alerts")
        cls.alerts = pahttest.messages(cls.stack, gw.ioc_address)

    def test_1_the_mail_behind_is_processed(self):
        self.assertEqual(self.first.returncode, 0, self.first.stderr)
        drafts = self.gw.pahtctl_json("drafts")
        self.assertEqual(sorted(d["subject"] for d in drafts),
                         sorted([self.subjects[0], self.subjects[4]]))
        self.assertEqual(self.gw.count("INBOX"), 0)
        self.assertEqual(self.gw.count("PAHT/Processed"), 2)
        self.assertEqual(self.gw.count("PAHT/Quarantine"), 3)
        # the parsers that were killed left no partial work (citizens' data) behind
        self.assertEqual(os.listdir(os.path.join(self.gw.data_dir, "tmp")), [])
        # the five came in one download and were queued to the parser together: the ones
        # around the hanging one (the crashing one and the last behind it, and those before it
        # it had taken with it and not committed) went to a new parser process, then the rest
        # to a third when the crash killed the second
        given = re.findall(r"(\d+) other message\(s\) of its queue given to a new parser process",
                           self.first.stderr)
        self.assertEqual(len(given), 2, self.first.stderr)
        self.assertGreaterEqual(int(given[0]), 2)
        self.assertGreaterEqual(int(given[1]), 1)

    def test_2_each_kept_message_is_reported_once_with_its_reason(self):
        self.assertEqual(len(self.alerts), 3)
        reasons = [pahttest.plain_text(a) for a in self.alerts]
        self.assertTrue(any("nested deeper" in r for r in reasons), reasons)
        self.assertTrue(any("longer than 3 s" in r for r in reasons), reasons)
        self.assertTrue(any("crashed" in r and "signal 6" in r for r in reasons), reasons)
        for a in self.alerts:
            self.assertIn("cách ly", a["Subject"])
        self.assertEqual(len(set(daemontest.ids_in_alerts(self.alerts))), 3)
        # the citizen got answers for the two drafts only: nothing for the kept messages
        pahttest.wait_for(lambda: pahttest.count(self.stack, self.who) >= 2, timeout=20)
        self.assertEqual(pahttest.count(self.stack, self.who), 2)
        self.assertIn("kept aside", self.first.stderr)

    def test_3_a_second_pass_does_nothing_again(self):
        again = self.gw.pahtd("--once")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(len(self.gw.pahtctl_json("drafts")), 2)
        self.assertEqual(self.gw.count("PAHT/Quarantine"), 3)
        self.assertEqual(len(pahttest.messages(self.stack, self.gw.ioc_address)), 3)

    def test_4_reprocess_after_the_fix(self):
        ids = daemontest.ids_in_alerts(self.alerts)
        by_reason = {}
        for a in self.alerts:
            text = pahttest.plain_text(a)
            n = daemontest.ids_in_alerts([a])[0]
            by_reason["hang" if "longer than" in text else
                      "crash" if "crashed" in text else "bomb"] = n
        self.assertEqual(sorted(by_reason.values()), sorted(ids))

        # the hang was a fault of the parser, now gone: the message becomes a report
        out = self.gw.pahtctl("reprocess", by_reason["hang"], "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        result = json.loads(out.stdout)
        self.assertRegex(result["code"], r"^PAHT-\d{4}-\d{6}$")
        shown = self.gw.pahtctl_json("show", result["code"])
        self.assertEqual(shown["subject"], self.subjects[2])
        self.assertEqual([m["kind"] for m in shown["mail"]], ["ack"])
        # once only
        twice = self.gw.pahtctl("reprocess", by_reason["hang"])
        self.assertEqual(twice.returncode, 1)
        self.assertIn("processed already", twice.stderr)
        self.assertIn(result["code"], twice.stderr)

        # the parser still refuses the bomb: it stays in quarantine, with the reason
        bomb = self.gw.pahtctl("reprocess", by_reason["bomb"])
        self.assertEqual(bomb.returncode, 1)
        self.assertIn("still cannot be processed", bomb.stderr)
        self.assertIn("nested deeper", bomb.stderr)

        # nonsense and unknown numbers
        self.assertEqual(self.gw.pahtctl("reprocess", "abc").returncode, 2)
        missing = self.gw.pahtctl("reprocess", "999999")
        self.assertEqual(missing.returncode, 1)

        # pahtd sends the new acknowledgement; nothing moves on the server
        run = self.gw.pahtd("--once")
        self.assertEqual(run.returncode, 0, run.stderr)
        pahttest.wait_for(lambda: pahttest.count(self.stack, self.who) == 3, timeout=20)
        self.assertEqual(self.gw.count("PAHT/Quarantine"), 3)
        self.assertEqual(len(self.gw.pahtctl_json("drafts")), 3)


class Garbled(unittest.TestCase):
    """A parser process that answers something other than its protocol is not trusted with
    another message (worker.c): the pass ends with an error, what was drafted before stands,
    and the message it garbled stays on the server, recorded, to be processed once by a sound
    parser (the fault was the parser's, not the mail's). The queue behind a lost parser is
    Quarantine's (a hang and a crash)."""

    def test_a_parser_answering_nonsense_is_replaced_and_nothing_is_lost_or_doubled(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"))
        who = daemontest.citizen(stack)
        # the garbled one last: the parser has nothing queued behind it, whatever the timing
        subjects = ["Rác thải trước chợ", "Đèn đường hỏng", f"Ổ gà {GARBLE}"]
        mails = [pahttest.make_mail(who, gw.address, s, "Mô tả.\n" + pahttest.complete_details())
                 for s in subjects]
        daemontest.deliver_many(stack, gw.address, [(who, m) for m in mails])
        first = gw.pahtd("--once", env={"PAHT_TEST_FAULT": f"garble-on-subject:{GARBLE}"})
        # the pass ends in an error (exit 1, and only that: a sanitizer's leak report would
        # abort), after the mail before the garbled one was drafted and moved
        self.assertEqual(first.returncode, 1, first.stderr)
        self.assertIn("the parser process answered nonsense for message", first.stderr)
        self.assertEqual(sorted(d["subject"] for d in gw.pahtctl_json("drafts")),
                         sorted(subjects[:2]))
        self.assertEqual((gw.count("INBOX"), gw.count("PAHT/Processed"),
                          gw.count("PAHT/Quarantine")), (1, 2, 0))
        self.assertEqual(os.listdir(os.path.join(gw.data_dir, "tmp")), [])

        # with a sound parser the garbled message becomes one report, and only one
        second = gw.pahtd("--once")
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertEqual(len(re.findall(r"-> report PAHT-", second.stderr)), 1, second.stderr)
        drafts = gw.pahtctl_json("drafts")
        self.assertEqual(sorted(d["subject"] for d in drafts), sorted(subjects))
        self.assertEqual(len({d["code"] for d in drafts}), 3)
        self.assertEqual((gw.count("INBOX"), gw.count("PAHT/Processed"),
                          gw.count("PAHT/Quarantine")), (0, 3, 0))
        pahttest.wait_for(lambda: pahttest.count(stack, who) >= 3, timeout=20,
                          what="three acknowledgements")
        self.assertEqual(pahttest.count(stack, who), 3)

    def test_a_message_garbled_three_times_is_kept_aside_by_the_running_daemon(self):
        """pahtd(8): after three such passes it is kept aside like one that hangs. Only a
        restart counted them (the parser's note), so the daemon tried it again without end and
        the mail behind it waited."""
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"),
                              overrides={("imap", "poll_seconds"): 1})
        self.addCleanup(gw.close)
        who = daemontest.citizen(stack)
        subjects = [f"Ổ gà {GARBLE}", "Đèn đường hỏng"]
        daemontest.deliver_many(stack, gw.address, [
            (who, pahttest.make_mail(who, gw.address, s, "Mô tả.\n" + pahttest.complete_details()))
            for s in subjects])
        proc = gw.start_pahtd(env={"PAHT_TEST_FAULT": f"garble-on-subject:{GARBLE}"})
        pahttest.wait_for(lambda: gw.count("PAHT/Quarantine") == 1 and gw.count("INBOX") == 0,
                          timeout=90, what="the garbled message kept aside, the other drafted")
        # the alert goes out with the outbox after the pass that kept the message aside: a
        # stop that comes first (the mailbox shows the move before the outbox is flushed)
        # leaves it queued for the next start, so it is waited for with pahtd running
        pahttest.wait_for(lambda: len(pahttest.messages(stack, gw.ioc_address)) == 1,
                          timeout=60, what="the IOC alert")
        self.assertEqual(gw.stop_pahtd(proc), 0, gw.log())
        self.assertIn("message 1 did not finish processing 3 times: kept aside", gw.log())
        self.assertEqual([d["subject"] for d in gw.pahtctl_json("drafts")], subjects[1:])
        with sqlite3.connect(f"file:{gw.database}?mode=ro", uri=True) as db:
            self.assertEqual(db.execute("SELECT state, attempts FROM raw_message WHERE id = 1"
                                        ).fetchone(), ("quarantined", 4))
        self.assertEqual(len(pahttest.messages(stack, gw.ioc_address)), 1)


class TooLarge(unittest.TestCase):
    def test_too_large_mail_stays_on_the_server_and_its_sender_is_answered_once(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"),
                              overrides={("gateway", "max_message_bytes"): 200000})
        big_sender = daemontest.citizen(stack, "big")
        small_sender = daemontest.citizen(stack, "small")
        big = pahttest.make_mail(f'"Lê Văn Tám" <{big_sender}>', gw.address,
                                 "Video ngập lụt", "Xem video đính kèm.\n",
                                 attachments=[("ngap.mp4", "video/mp4", os.urandom(300000))])
        small = pahttest.make_mail(small_sender, gw.address, "Ổ gà", "Ổ gà trước nhà.\n" + pahttest.complete_details())
        daemontest.deliver_many(stack, gw.address, [(big_sender, big), (small_sender, small)])
        log = os.path.join(gw.dir, "imap.log")
        env = {"PAHT_IMAP_PROTOCOL_LOG": log}
        for _ in range(2):
            run = gw.pahtd("--once", env=env)
            self.assertEqual(run.returncode, 0, run.stderr)

        # the small one is a report; the big one was never downloaded
        self.assertEqual([d["subject"] for d in gw.pahtctl_json("drafts")], ["Ổ gà"])
        fetches = [line for line in daemontest.protocol_log(log) if "BODY.PEEK[]" in line]
        self.assertEqual(len(fetches), 1, fetches)
        raw_dir = os.path.join(gw.data_dir, "raw")
        stored = [f for _, _, files in os.walk(raw_dir) for f in files]
        self.assertEqual(len(stored), 1)
        self.assertEqual(gw.count("INBOX"), 0)
        self.assertEqual(gw.count("PAHT/Quarantine"), 1)
        self.assertEqual(gw.count("PAHT/Processed"), 1)

        # its sender is asked, politely and in Vietnamese, for fewer or smaller files
        pahttest.wait_for(lambda: pahttest.count(stack, big_sender) == 1, timeout=20)
        answer = pahttest.messages(stack, big_sender)[0]
        self.assertIn("quá lớn", answer["Subject"])
        sent = pahttest.messages(stack, gw.address, "PAHT/Quarantine")[0]
        self.assertEqual(answer["In-Reply-To"].strip(), sent["Message-ID"].strip())
        self.assertEqual(answer["Auto-Submitted"], "auto-replied")
        text = pahttest.plain_text(answer)
        self.assertIn("196 KB", text)  # the limit (200000 bytes), as a citizen reads it
        self.assertIn("ít tệp đính kèm hơn hoặc với các tệp nhỏ hơn", text)
        self.assertIn("1022", text)
        # and the IOC is told
        pahttest.wait_for(lambda: pahttest.count(stack, gw.ioc_address) == 1, timeout=20)
        alert = pahttest.messages(stack, gw.ioc_address)[0]
        self.assertIn("Thư quá lớn", alert["Subject"])
        # the sender shortened as in the logs: the IOC's mailbox holds no citizen's address
        alert_text = pahttest.plain_text(alert)
        self.assertIn(pahttest.shortened(big_sender), alert_text)
        self.assertNotIn(big_sender, alert_text)

        # dragged back to the inbox by someone: still answered only once
        imap = stack.imap(gw.address)
        try:
            imap.select('"PAHT/Quarantine"')
            self.assertEqual(imap.uid("MOVE", "1:*", "INBOX")[0], "OK")
        finally:
            imap.logout()
        run = gw.pahtd("--once")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(gw.count("PAHT/Quarantine"), 1)
        outbox = gw.pahtctl_json("outbox")
        self.assertEqual(sorted(o["kind"] for o in outbox), ["ack", "ioc_alert", "too_large"])



def rows(gw, sql):
    """the rows of a read-only query of GW's database ([] before it exists, or before pahtd
    made its tables)"""
    if not os.path.exists(gw.database):
        return []
    with sqlite3.connect(f"file:{gw.database}?mode=ro", uri=True, timeout=30) as db:
        try:
            return db.execute(sql).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []
            raise


def in_a_parsers_hands(gw, raw_id):
    """whether a parser process of GW notes that it has message RAW_ID in hand
    (data_dir/parser-N.taken: the message's id, then its attempts)"""
    for name in os.listdir(gw.data_dir):
        if re.fullmatch(r"parser-\d+\.taken", name):
            with open(os.path.join(gw.data_dir, name)) as f:
                fields = f.read().split()
            if fields and int(fields[0]) == raw_id:
                return True
    return False


class StopWithAQueue(unittest.TestCase):
    """The parser is given a whole download group at once, and takes the messages waiting in
    its queue together (parsed one by one, committed at once). SIGTERM finishes what the parser
    has in hand, as a stop promises, and does not wait for the rest of its queue: it stays
    recorded in the inbox for the next start, and nothing is lost or done twice."""

    SUBJECTS = ["Rác thải trước chợ", f"Ngập nước {HANG}", "Cây đổ", "Đèn đường hỏng",
                "Ổ gà trên đường"]

    def hanging_on_the_second(self, timeout):
        """Five mails delivered together, pahtd started with the parser hanging on the second
        (for TIMEOUT seconds): returned once the second is in the parser's hands (its note),
        when the whole download is in the parser's queue. The first is committed or not, as
        the parser took it alone or with the second."""
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"),
                              overrides={("gateway", "message_timeout_seconds"): timeout})
        who = daemontest.citizen(stack)
        mails = [pahttest.make_mail(who, gw.address, s, "Nội dung.\n" + pahttest.complete_details())
                 for s in self.SUBJECTS]
        daemontest.deliver_many(stack, gw.address, [(who, m) for m in mails])
        proc = gw.start_pahtd(env={"PAHT_TEST_FAULT": f"hang-on-subject:{HANG}"})

        def hanging():
            second = rows(gw, "SELECT id FROM raw_message WHERE uid = 2")
            return bool(second) and in_a_parsers_hands(gw, second[0][0])
        pahttest.wait_for(hanging, timeout=30, what="the second in the parser's hands")
        return gw, self.SUBJECTS, proc

    def test_sigterm_finishes_the_message_in_hand_and_leaves_the_queue(self):
        # the stop must come while the second hangs: 20 s leave room on a loaded machine
        gw, subjects, proc = self.hanging_on_the_second(timeout=20)
        self.assertEqual(gw.stop_pahtd(proc), 0, gw.log())
        log = gw.log()
        self.assertIn("longer than 20 s", log)  # the one in hand was finished (kept aside)
        # what the stop left is still on the server, and every one of them has a row
        self.assertEqual(gw.count("PAHT/Quarantine"), 1)
        self.assertEqual(gw.count("INBOX") + gw.count("PAHT/Processed"), 4)
        self.assertEqual(len(rows(gw, "SELECT id FROM raw_message")), 5)

        run = gw.pahtd("--once")
        self.assertEqual(run.returncode, 0, run.stderr)
        drafts = gw.pahtctl_json("drafts")
        self.assertEqual(sorted(d["subject"] for d in drafts),
                         sorted(s for s in subjects if HANG not in s))
        self.assertEqual(gw.count("INBOX"), 0)
        self.assertEqual(gw.count("PAHT/Processed"), 4)
        self.assertEqual(gw.count("PAHT/Quarantine"), 1)
        acks = [o for o in gw.pahtctl_json("outbox") if o["kind"] == "ack"]
        self.assertEqual(len(acks), 4)

    def test_sigkill_charges_only_the_message_in_hand(self):
        """pahtd killed while the parser has a queue: at the next start only the message the
        parser had in hand is charged an attempt (after MAX_PROCESSING_ATTEMPTS such deaths it
        is set aside); the ones queued behind it were never begun and are not charged."""
        gw, _, proc = self.hanging_on_the_second(timeout=30)
        self.assertEqual(gw.stop_pahtd(proc, sig=signal.SIGKILL), -signal.SIGKILL)

        def attempts(where="1"):
            """each message's processing attempts by UID"""
            with sqlite3.connect(f"file:{gw.database}?mode=ro", uri=True, timeout=30) as db:
                return dict(db.execute("SELECT uid, attempts FROM raw_message WHERE "
                                       + where).fetchall())
        # as recorded; the first is done, or not committed with the second
        fetched = attempts("state = 'fetched'")
        self.assertEqual({uid: n for uid, n in fetched.items() if uid != 1},
                         {2: 1, 3: 1, 4: 1, 5: 1})
        self.assertEqual(fetched.get(1, 1), 1)

        run = gw.pahtd("--once")  # the fault gone: the hanging one is processed now
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(attempts(), {1: 1, 2: 2, 3: 1, 4: 1, 5: 1})
        self.assertEqual(len(gw.pahtctl_json("drafts")), 5)
        self.assertEqual(gw.count("INBOX"), 0)


class LostInABatch(unittest.TestCase):
    """A parser takes the messages waiting in its queue together: it parses them one by one and
    commits them at once. When it hangs or crashes on one of them, the loss is that message's
    (the parser notes each message it takes), not the oldest unanswered one's: the messages it
    had taken before it, parsed and not committed, go to a new parser with the rest of the
    queue and are drafted, never kept aside."""

    def test_a_hang_and_a_crash_behind_the_oldest_are_pinned_on_their_messages(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"),
                              overrides={("gateway", "message_timeout_seconds"): 3})
        gate = daemontest.Gate(gw.dir, "hold-gate")
        self.addCleanup(gate.close)
        who = daemontest.citizen(stack)
        hold = "XYZ-HOLD"
        subjects = [f"Rác thải {hold}", "Đèn đường hỏng", f"Ngập nước {HANG}",
                    f"Cây đổ {CRASH}", "Ổ gà trên đường"]
        daemontest.deliver_many(stack, gw.address, [
            (who, pahttest.make_mail(who, gw.address, s, "Nội dung.\n" + pahttest.complete_details()))
            for s in subjects])
        proc = gw.start_pahtd("--once", env={"PAHT_LOG_LEVEL": "debug", "PAHT_TEST_FAULT": (
            f"hold-on-subject:{hold},hold-gate:{gate.path},hang-on-subject:{HANG},"
            f"crash-on-subject:{CRASH}")})
        # the first held in its parser while the four behind it (one sender: one parser) wait
        # in its queue, so that it takes them together: with the first, or, when it read the
        # first before the others were sent, as the next batch
        first = lambda: rows(gw, "SELECT id FROM raw_message WHERE uid = 1")
        last = lambda: rows(gw, "SELECT id FROM raw_message WHERE uid = 5")
        pahttest.wait_for(lambda: first() and in_a_parsers_hands(gw, first()[0][0]) and last()
                          and f"message {last()[0][0]} given to parser process" in gw.log(),
                          timeout=30, what="the first mail held, the others in its queue")
        gate.open("the first mail held in its parser")
        self.assertEqual(proc.wait(timeout=120), 0, gw.log())
        # the hang and the crash came behind an older message of the same batch
        ids = dict(rows(gw, "SELECT uid, id FROM raw_message"))
        for uid in (3, 4):
            behind = re.search(rf"lost on message {ids[uid]}, behind message (\d+) ", gw.log())
            self.assertIsNotNone(behind, gw.log())
            self.assertIn(int(behind.group(1)), (ids[1], ids[2]))

        drafts = gw.pahtctl_json("drafts")
        self.assertEqual(sorted(d["subject"] for d in drafts),
                         sorted([subjects[0], subjects[1], subjects[4]]))
        by_uid = dict(rows(gw, "SELECT uid, state FROM raw_message"))
        self.assertEqual(by_uid, {1: "moved", 2: "moved", 3: "quarantined", 4: "quarantined",
                                  5: "moved"})
        reasons = dict(rows(gw, "SELECT uid, error FROM raw_message WHERE uid IN (3, 4)"))
        self.assertIn("longer than 3 s", reasons[3])
        self.assertIn("crashed", reasons[4])
        # nothing charged to the ones taken with them
        self.assertEqual(dict(rows(gw, "SELECT uid, attempts FROM raw_message")),
                         {1: 1, 2: 1, 3: 1, 4: 1, 5: 1})
        self.assertEqual(gw.count("PAHT/Processed"), 3)
        self.assertEqual(gw.count("PAHT/Quarantine"), 2)
        self.assertEqual(gw.count("INBOX"), 0)
        pahttest.wait_for(lambda: pahttest.count(stack, gw.ioc_address) >= 2, timeout=30,
                          what="two IOC alerts")
        alerts = pahttest.messages(stack, gw.ioc_address)
        self.assertEqual(len(alerts), 2)
        ids = dict(rows(gw, "SELECT uid, id FROM raw_message WHERE uid IN (3, 4)"))
        self.assertEqual(sorted(daemontest.ids_in_alerts(alerts)), sorted(ids.values()))


if __name__ == "__main__":
    unittest.main()
