"""A quiet mailbox costs next to nothing, however big: with 20,000 mails already processed
in the gateway's folders, a cycle with nothing new issues at most two IMAP commands (counted
on the server's side, from Dovecot's rawlog, on a private stack that records it): one IDLE
(ended by DONE) when the server offers IDLE, one NOOP when polling."""
import os
import unittest

import daemontest
import pahttest
from mailstack import MailStack

PROCESSED = 20000


def pahtd_lines(lines):
    """pahtd's lines of the rawlog: libetpan tags its commands with numbers (the test's own
    imaplib sessions, counting folders, use letters), and DONE ends its IDLEs."""
    return [line for line in lines if line.split(" ", 1)[0].isdigit() or line.strip() == "DONE"]


def tagged(lines):
    """Command names of pahtd's rawlog lines (DONE ends an IDLE, it is no command)."""
    return [c for c in map(daemontest.command_name, pahtd_lines(lines)) if c]


class CheapCycle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = MailStack.start(rawlog=True)
        cls.gw = pahttest.Gateway(cls.stack, pahttest.unique("paht"),
                                  overrides={("imap", "poll_seconds"): 1})
        # 20,000 mails in PAHT/Processed, written straight into its Maildir (Maildir++ keeps
        # it in .PAHT.Processed) as a delivery agent would; Dovecot indexes them when asked
        folder = os.path.join(daemontest.maildir(cls.stack, cls.gw.address), ".PAHT.Processed")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(folder, sub))
        open(os.path.join(folder, "maildirfolder"), "w").close()
        for i in range(PROCESSED):
            with open(os.path.join(folder, "cur", f"1795900000.M{i}P1.mailstack:2,S"), "wb") as f:
                f.write(b"From: citizen%d@example.test\nTo: %s\nSubject: Phan anh cu %d\n"
                        b"Message-ID: <old-%d@example.test>\n"
                        b"Date: Sat, 28 Nov 2026 09:00:00 +0700\n\nNoi dung %d\n"
                        % (i % 97, cls.gw.address.encode(), i, i, i))
        owner = os.stat(os.path.join(cls.stack.dir, "mail"))
        domain = os.path.join(cls.stack.dir, "mail", cls.stack.domain)
        for root, _, files in os.walk(domain):
            os.chown(root, owner.st_uid, owner.st_gid)
            for name in files:
                os.chown(os.path.join(root, name), owner.st_uid, owner.st_gid)
        assert cls.gw.count("PAHT/Processed") == PROCESSED
        # and one new mail, so that the daemon does real work before it goes quiet
        who = daemontest.citizen(cls.stack)
        cls.stack.deliver(cls.gw.address, pahttest.make_mail(who, cls.gw.address, "Ổ gà",
                                                             "Ổ gà lớn.\n"), sender=who)

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()
        cls.stack.stop(remove=True)

    def quiet_run(self, idle, cycles=4):
        """pahtd until it has waited CYCLES quiet cycles after its first pass (counted in its
        own protocol log, so that a slow machine only takes longer); the commands it sent, as
        the server recorded them."""
        self.stack.rawlog_clear(self.gw.address)
        self.gw.config["imap"]["idle"] = "true" if idle else "false"
        self.gw.write_config()
        log = os.path.join(self.gw.dir, f"imap-idle-{idle}.log")
        proc = self.gw.start_pahtd(env={"PAHT_IMAP_PROTOCOL_LOG": log})
        pahttest.wait_for(lambda: self.gw.count("INBOX") == 0, timeout=30)
        wait = "IDLE" if idle else "NOOP"

        def quiet_cycles():
            names = [n for n in map(daemontest.command_name, daemontest.protocol_log(log)) if n]
            marks = [i for i, n in enumerate(names) if n in ("SELECT", "UID MOVE")]
            return marks and names[marks[-1] + 1:].count(wait) >= cycles

        pahttest.wait_for(quiet_cycles, timeout=120, what=f"{cycles} quiet cycles")
        self.assertEqual(self.gw.stop_pahtd(proc), 0)  # logs out: the rawlog is complete
        return pahtd_lines(self.stack.rawlog_commands(self.gw.address))

    def test_1_idle_cycle(self):
        lines = self.quiet_run(idle=True)
        commands = tagged(lines)
        self.assertEqual(self.gw.count("PAHT/Processed"), PROCESSED + 1)
        # after the last MOVE, the daemon only idles: each cycle is IDLE ... DONE
        quiet = commands[len(commands) - commands[::-1].index("UID MOVE"):]
        self.assertEqual(quiet[-1], "LOGOUT")
        cycles = quiet[:-1]
        print(f"\n# IDLE mode, quiet: {cycles}")
        self.assertGreaterEqual(len(cycles), 3, lines)  # poll_seconds 1: re-issued every second
        self.assertEqual(set(cycles), {"IDLE"}, lines)
        self.assertEqual(sum(1 for line in lines if line.strip() == "DONE"), len(cycles))
        # nothing ever lists the 20,000 processed mails or the mailbox's UIDs
        self.assertNotIn("STATUS", commands)
        self.assertEqual([c for c in commands if c == "SELECT"], ["SELECT"])
        self.assertFalse(any('"PAHT/Processed"' in line and "SELECT" in line for line in lines))

    def test_2_polling_cycle(self):
        lines = self.quiet_run(idle=False)
        commands = tagged(lines)
        select = commands.index("SELECT")
        quiet = commands[select + 1:-1]
        print(f"\n# polling mode, quiet: {quiet}")
        self.assertEqual(commands[-1], "LOGOUT")
        self.assertGreaterEqual(len(quiet), 3, lines)
        self.assertEqual(set(quiet), {"NOOP"}, lines)  # one command per cycle


if __name__ == "__main__":
    unittest.main()
