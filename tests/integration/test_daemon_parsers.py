"""Two parser processes ([gateway] parser_processes, 2 by default; gateway/worker.c). All the
mail of one sender goes to the same one, which takes it in the order it came; another sender's
mail is parsed by the other meanwhile.

- A citizen's first mail is held in its parser (PAHT_TEST_FAULT hold-on-subject with
  hold-gate:FIFO) while their second mail, an answer to the first, waits behind it; the other
  citizens' reports are drafted by the other parser meanwhile. Let go, the first makes a report
  and the second joins it (queue/reply.c: an answer to the citizen's own message), as with one
  parser. Parsed first, it would have made a report of its own.
- pahtd killed while both parsers hang on a message: at the next start the message each had in
  hand is charged an attempt, and none of the ones queued behind them; killed again before
  the parsers take them up, still one attempt each.
- A parser that gives its message back cleanly (the database locked past its wait) has nothing
  in hand: pahtd killed then charges nothing. Nor does a stop (SIGTERM) that ends a parser
  with a message in hand.
- pahtd killed while its parsers are still starting: the messages it recorded were in no
  parser's hands, and the next start charges none of them (it once charged the oldest of each
  parser's share, begun or not, so that pahtd killed during start-up a few times set innocent
  mail aside: the chaos test saw it)."""
import os
import re
import signal
import sqlite3
import unittest

import daemontest
import pahttest

HOLD = "XYZ-HOLD"
HANG = "XYZ-HANG"
PARSERS = 2  # the default


def parser_of(address, parsers=PARSERS):
    """The parser process worker_slot_of gives ADDRESS's mail: GLib's g_str_hash of the address
    in lower case (h = h * 33 + c over signed chars, from 5381), modulo the processes."""
    h = 5381
    for b in address.lower().encode():
        h = (h * 33 + (b - 256 if b >= 128 else b)) & 0xFFFFFFFF
    return h % parsers


def citizens_apart(stack, n):
    """N fresh citizen addresses, the first in one parser, the others all in the other."""
    first = daemontest.citizen(stack, "an")
    others = []
    while len(others) < n - 1:
        who = daemontest.citizen(stack, "dan")
        if parser_of(who) != parser_of(first):
            others.append(who)
    return [first] + others


def process_names(parent):
    """the names (/proc/PID/comm) of PARENT's child processes"""
    names = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/comm") as fh:
                name = fh.read().strip()
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if ppid == parent:
            names.append(name)
    return names


def recorded(gw):
    """how many messages are recorded and not processed yet (0 before the database exists)"""
    try:
        return len(attempts(gw, "state = 'fetched'"))
    except sqlite3.OperationalError:  # pahtd has not made the database yet
        return 0


def attempts(gw, where="1"):
    """each message's processing attempts by UID"""
    with sqlite3.connect(f"file:{gw.database}?mode=ro", uri=True, timeout=30) as db:
        return dict(db.execute("SELECT uid, attempts FROM raw_message WHERE " + where).fetchall())


def in_hand(gw):
    """the messages the parser processes note they have in hand (data_dir/parser-N.taken, each
    "ID ATTEMPTS": pahtd(8))"""
    held = set()
    for name in os.listdir(gw.data_dir):
        if re.fullmatch(r"parser-\d+\.taken", name):
            with open(os.path.join(gw.data_dir, name)) as fh:
                held.update(int(note.split()[0]) for note in fh.readlines()[:1])
    return held - {0}  # 0: none; a parser that took nothing yet has an empty file


class OneSenderOneParser(unittest.TestCase):
    def setUp(self):
        self.stack = pahttest.shared_stack()
        self.gw = pahttest.Gateway(self.stack, pahttest.unique("parsers"))
        self.assertNotIn("parser_processes", self.gw.config["gateway"])  # the default
        self.gate = daemontest.Gate(self.gw.dir, "hold-gate")

    def tearDown(self):
        self.gate.close()
        self.gw.close()

    def test_a_senders_second_mail_waits_for_the_first_while_others_are_parsed(self):
        gw = self.gw
        an, *others = citizens_apart(self.stack, 4)
        first = pahttest.make_mail(an, gw.address, f"Ổ gà đường Lê Lợi {HOLD}",
                                   "Ổ gà sâu giữa đường.\n" + pahttest.complete_details(),
                                   message_id="<first-of-an@example.test>")
        second = pahttest.make_mail(an, gw.address, "Re: Ổ gà đường Lê Lợi",
                                    "Tôi gửi thêm ảnh chụp ổ gà.\n",
                                    headers={"In-Reply-To": "<first-of-an@example.test>",
                                             "References": "<first-of-an@example.test>"},
                                    attachments=[("o-ga.jpg", "image/jpeg",
                                                  b"\xff\xd8\xff\xe0" + os.urandom(2048))])
        subjects = ["Rác thải trước chợ", "Đèn đường hỏng", "Cống nghẹt"]
        mails = [(an, first), (an, second)] + [
            (who, pahttest.make_mail(who, gw.address, s,
                                     "Nội dung.\n" + pahttest.complete_details()))
            for who, s in zip(others, subjects)]
        daemontest.deliver_many(self.stack, gw.address, mails)

        proc = gw.start_pahtd("--once", env={
            "PAHT_TEST_FAULT": f"hold-on-subject:{HOLD},hold-gate:{self.gate.path}"})
        # the other parser drafts the other citizens' reports while the first mail is held
        pahttest.wait_for(
            lambda: sorted(d["subject"] for d in gw.pahtctl_json("drafts")) == sorted(subjects),
            timeout=120, what="the other citizens' drafts while the first mail is held")
        self.assertIsNone(proc.poll())
        # named for what they are (top, ps, the journal), not "exe" (/proc/self/exe)
        self.assertEqual(sorted(process_names(proc.pid)), ["pahtd-parser"] * PARSERS)
        self.gate.open("the first mail held in its parser")
        self.assertEqual(proc.wait(timeout=120), 0, gw.log())

        drafts = gw.pahtctl_json("drafts")
        self.assertEqual(sorted(d["subject"] for d in drafts),
                         sorted(subjects + [f"Ổ gà đường Lê Lợi {HOLD}"]))
        report = [d for d in drafts if HOLD in d["subject"]][0]
        with sqlite3.connect(f"file:{gw.database}?mode=ro", uri=True, timeout=30) as db:
            joined = db.execute(
                "SELECT m.classification, r.subject FROM raw_message m"
                " JOIN report r ON r.id = m.report_id WHERE m.uid = 2").fetchall()
        self.assertEqual(joined, [("reply", report["subject"])])
        log = gw.log()
        self.assertEqual(len(re.findall(r"parser process \d+ ready", log)), PARSERS, log)
        self.assertEqual(gw.count("INBOX"), 0)
        self.assertEqual(gw.count("PAHT/Processed"), 5)


class KilledWithTwoParsers(unittest.TestCase):
    def gateway_with(self, mails):
        """A gateway of its own (its log says what the faults do) with MAILS, each (sender,
        subject), in its inbox"""
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("parsers"),
                              overrides={("gateway", "message_timeout_seconds"): 60,
                                         ("gateway", "log_level"): "debug"})
        self.addCleanup(gw.close)
        daemontest.deliver_many(stack, gw.address, [
            (who, pahttest.make_mail(who, gw.address, subject,
                                     "Nội dung.\n" + pahttest.complete_details()))
            for who, subject in mails])
        return gw

    def test_each_parsers_message_in_hand_is_charged(self):
        an, binh = citizens_apart(pahttest.shared_stack(), 2)
        gw = self.gateway_with([(an, f"Ngập nước {HANG}"), (an, "Cây đổ"),
                                (binh, f"Sạt lở {HANG}"), (binh, "Ổ gà")])
        proc = gw.start_pahtd(env={"PAHT_TEST_FAULT": f"hang-on-subject:{HANG}"})
        # all four recorded and given to the parsers, each of which hangs on its first
        pahttest.wait_for(lambda: recorded(gw) == 4, timeout=60, what="the four mails recorded")
        # each parser has begun its first message (PAHT_TEST_FAULT logs it as it hangs)
        pahttest.wait_for(lambda: sorted(re.findall(r"hanging on message (\d+)", gw.log()))
                          == ["1", "3"], timeout=60, what="both parsers hanging on a message")
        self.assertEqual(gw.stop_pahtd(proc, sig=signal.SIGKILL), -signal.SIGKILL)
        self.assertEqual(attempts(gw, "state = 'fetched'"), {1: 1, 2: 1, 3: 1, 4: 1})

        # killed twice more while its parsers start (never, here): the first start charges
        # message 1 and then waits for its parser, so it never comes to message 3. The notes
        # stay: a crash is charged once, however often it is read (once they were cleared as
        # they were read, and message 3's charge was lost)
        gate = daemontest.Gate(gw.dir, "start-gate")  # never opened
        self.addCleanup(gate.close)
        for run in range(2):
            proc = gw.start_pahtd(env={"PAHT_TEST_FAULT": f"start-gate:{gate.path}"})
            pahttest.wait_for(lambda: attempts(gw, "uid = 1")[1] > 1
                              and gw.log().count("started:") > run + 1,
                              timeout=60, what=f"message 1 charged (run {run + 1})")
            self.assertEqual(gw.stop_pahtd(proc, sig=signal.SIGKILL), -signal.SIGKILL)
        self.assertEqual(attempts(gw, "state = 'fetched'"), {1: 2, 2: 1, 3: 1, 4: 1})

        run = gw.pahtd("--once")  # the fault gone: all four are processed now
        self.assertEqual(run.returncode, 0, run.stderr)
        # the first of each sender was in its parser's hands; the second of each was not begun
        self.assertEqual(attempts(gw), {1: 2, 2: 1, 3: 2, 4: 1})
        self.assertEqual(len(gw.pahtctl_json("drafts")), 4)
        self.assertEqual(gw.count("INBOX"), 0)

    def test_mail_no_parser_took_is_not_charged(self):
        an, binh = citizens_apart(pahttest.shared_stack(), 2)
        gw = self.gateway_with([(an, "Ngập nước"), (binh, "Sạt lở"), (an, "Cây đổ")])
        gate = daemontest.Gate(gw.dir, "start-gate")  # never opened: the parsers never start
        self.addCleanup(gate.close)
        for run in range(3):
            proc = gw.start_pahtd(env={"PAHT_TEST_FAULT": f"start-gate:{gate.path}"})
            # the first run records what it downloads, then waits for a parser that does not
            # come; the next ones take up what is recorded and wait the same
            pahttest.wait_for(lambda: recorded(gw) > 0 and gw.log().count("started:") > run,
                              timeout=60, what=f"mail recorded and pahtd started (run {run + 1})")
            self.assertEqual(gw.stop_pahtd(proc, sig=signal.SIGKILL), -signal.SIGKILL)
        fetched = attempts(gw, "state = 'fetched'")
        self.assertTrue(fetched)
        self.assertEqual(set(fetched.values()), {1}, fetched)

        run = gw.pahtd("--once")  # the parsers start now
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(attempts(gw), {1: 1, 2: 1, 3: 1})
        self.assertEqual(sorted(d["subject"] for d in gw.pahtctl_json("drafts")),
                         ["Cây đổ", "Ngập nước", "Sạt lở"])
        self.assertNotIn("kept aside", gw.log() + run.stderr)
        self.assertEqual(gw.count("PAHT/Quarantine"), 0)

    def test_a_message_given_back_cleanly_is_not_charged(self):
        gw = self.gateway_with([(daemontest.citizen(pahttest.shared_stack(), "an"),
                                 f"Ngập nước {HOLD}")])
        gate = daemontest.Gate(gw.dir, "hold-gate")
        self.addCleanup(gate.close)
        proc = gw.start_pahtd(env={
            "PAHT_TEST_FAULT": f"hold-on-subject:{HOLD},hold-gate:{gate.path}"})
        pahttest.wait_for(lambda: "holding message 1" in gw.log(), timeout=60,
                          what="the mail held in its parser")
        self.assertEqual(in_hand(gw), {1})
        # the write lock held past the parser's wait (15 s): it cannot commit, gives the
        # message back (a clean failure, tried again later, not an attempt) and has nothing
        # in hand when pahtd is killed
        db = sqlite3.connect(gw.database, timeout=30, isolation_level=None)
        self.addCleanup(db.close)
        db.execute("BEGIN IMMEDIATE")
        gate.open("the mail held in its parser")
        pahttest.wait_for(lambda: 1 not in in_hand(gw), timeout=60,
                          what="the parser giving the message back")
        self.assertEqual(gw.stop_pahtd(proc, sig=signal.SIGKILL), -signal.SIGKILL)
        db.execute("ROLLBACK")
        self.assertEqual(attempts(gw), {1: 1})

        run = gw.pahtd("--once")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(attempts(gw), {1: 1})  # once it was charged: 2
        self.assertEqual([d["subject"] for d in gw.pahtctl_json("drafts")],
                         [f"Ngập nước {HOLD}"])

    def test_a_message_a_stop_took_from_its_parser_is_not_charged(self):
        an, binh = citizens_apart(pahttest.shared_stack(), 2)
        gw = self.gateway_with([(an, f"Ngập nước {HOLD}"), (binh, f"Sạt lở {HANG}")])
        gate = daemontest.Gate(gw.dir, "hold-gate")
        self.addCleanup(gate.close)
        proc = gw.start_pahtd(env={"PAHT_TEST_FAULT": f"hold-on-subject:{HOLD},"
                                                      f"hold-gate:{gate.path},"
                                                      f"hang-on-subject:{HANG}"})
        pahttest.wait_for(lambda: "holding message 1" in gw.log()
                          and "hanging on message 2" in gw.log(),
                          timeout=60, what="a message in each parser's hands")
        self.assertEqual(in_hand(gw), {1, 2})
        # SIGTERM finishes the oldest message in the parsers' hands (let go now) and ends the
        # other parser: its message was not at fault, and is not charged
        proc.send_signal(signal.SIGTERM)
        gate.open("the oldest message held in its parser")
        self.assertEqual(proc.wait(timeout=60), 0, gw.log())
        self.assertIn("left for the next start", gw.log())
        self.assertEqual(in_hand(gw), set())

        run = gw.pahtd("--once")  # the faults gone
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(attempts(gw), {1: 1, 2: 1})  # once a stop charged message 2: 2
        self.assertEqual(sorted(d["subject"] for d in gw.pahtctl_json("drafts")),
                         [f"Ngập nước {HOLD}", f"Sạt lở {HANG}"])


if __name__ == "__main__":
    unittest.main()
