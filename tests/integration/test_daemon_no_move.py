"""Moving without MOVE is idempotent (issue 11, item 5). On a server without RFC 6851 MOVE a
move is UID COPY, then \\Deleted and UID EXPUNGE; pahtd killed right after the COPY must not
copy again when it restarts: each mail ends up once in the processed folder, drafted and
answered once. The server here is Dovecot offering what a MOVE-less server offers."""
import unittest

import mailboxtest
import pahttest
from mailboxtest import once, rows

# Dovecot 2.3's capabilities after login, less MOVE (older Exchange and Courier lack it)
WITHOUT_MOVE = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT UNSELECT CHILDREN "
                "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH "
                "SEARCHRES WITHIN LIST-STATUS BINARY LITERAL+ SPECIAL-USE")


class NoMove(mailboxtest.PrivateStack, unittest.TestCase):
    imap_settings = {"imap_capability": WITHOUT_MOVE}

    def deliver_two(self, gw):
        citizens = [f"{pahttest.unique(n)}@{self.stack.domain}" for n in ("an", "binh")]
        for who, subject in zip(citizens, ("Ổ gà", "Cống nghẹt")):
            self.stack.deliver(gw.address,
                               mailboxtest.report(who, gw, subject, f"{pahttest.unique('m')}@x"),
                               sender=who)
        return citizens

    def kill_after_copy(self, gw, fault):
        """pahtd --once dying (like kill -9) right after its UID COPY: the mails copied, and
        still in the inbox"""
        env = {"PAHT_NOW": mailboxtest.at(0), "PAHT_TEST_FAULT": fault,
               "PAHT_IMAP_PROTOCOL_LOG": mailboxtest.protocol_log_path(gw)}
        killed = gw.pahtd("--once", env=env)
        self.assertEqual(killed.returncode, 3, killed.stderr)
        self.assertIn("exiting right after a UID COPY", killed.stderr)
        self.assertEqual(gw.count("PAHT/Processed"), 2)  # copied ...
        self.assertEqual(gw.count("INBOX"), 2)           # ... and not yet removed
        with open(mailboxtest.protocol_log_path(gw)) as f:
            self.before = len(f.read().splitlines())

    def commands_since_kill(self, gw):
        with open(mailboxtest.protocol_log_path(gw)) as f:
            return f.read().splitlines()[self.before:]

    def check_finished_once(self, gw, citizens):
        self.assertEqual(gw.count("INBOX"), 0)
        self.assertEqual(gw.count("PAHT/Processed"), 2, "not copied a second time")
        commands = self.commands_since_kill(gw)
        self.assertFalse([c for c in commands if " UID COPY " in c or " UID MOVE " in c],
                         commands)
        self.assertEqual(rows(gw, "SELECT state, moving_to, copied FROM raw_message"),
                         [("moved", None, 0)] * 2)
        self.assertEqual(sorted(d["subject"] for d in gw.pahtctl_json("drafts")),
                         ["Cống nghẹt", "Ổ gà"])
        for who in citizens:
            pahttest.wait_for(lambda: pahttest.count(self.stack, who) == 1, what="one ack each")
        # a third pass has nothing left to do
        once(gw, 2)
        self.assertEqual(gw.count("PAHT/Processed"), 2)

    def test_killed_after_copy_copies_nothing_twice(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"))
        citizens = self.deliver_two(gw)
        self.kill_after_copy(gw, "exit-after-copy")
        # the copy was made but not recorded: the next pass looks for it in the target
        self.assertEqual(rows(gw, "SELECT count(*) FROM raw_message"
                                  " WHERE moving_to = 'PAHT/Processed' AND copied = 0"), [(2,)])
        again = once(gw, 1)
        self.assertIn("without copying it again", again.stderr)
        self.assertTrue([c for c in self.commands_since_kill(gw) if " EXAMINE " in c])
        self.check_finished_once(gw, citizens)

    def test_killed_after_the_copy_was_recorded_only_deletes(self):
        gw = pahttest.Gateway(self.stack, pahttest.unique("paht"))
        citizens = self.deliver_two(gw)
        self.kill_after_copy(gw, "exit-after-copy:recorded")
        self.assertEqual(rows(gw, "SELECT count(*) FROM raw_message"
                                  " WHERE moving_to = 'PAHT/Processed' AND copied = 1"), [(2,)])
        again = once(gw, 1)
        self.assertIn("without copying it again", again.stderr)
        # known copied: no need to look in the target folder
        self.assertFalse([c for c in self.commands_since_kill(gw) if " EXAMINE " in c])
        self.check_finished_once(gw, citizens)


if __name__ == "__main__":
    unittest.main()
