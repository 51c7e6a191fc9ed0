"""The parser process starts in the background (gateway/worker.c): pahtd connects to the
mailbox and does its pass while the child loads its libraries and opens the store, and waits
for the child's READY only when a message needs it, or at the end of the cycle, so that a child
that cannot start is still reported in that cycle, mail or no mail.

The child is held at its start by PAHT_TEST_FAULT=start-gate:FIFO (it opens the FIFO before it
reads anything) and let go when the test has seen what pahtd did meanwhile: the pass's SELECT of
the inbox (the IMAP session itself is made while the database opens, before the child exists:
mailbox_connect_ahead)."""
import os
import re
import unittest

import daemontest
import mailboxtest
import pahttest

READY = re.compile(r"parser process \d+ ready")


class ParserStartsInBackground(unittest.TestCase):
    def setUp(self):
        self.stack = pahttest.shared_stack()
        self.gw = pahttest.Gateway(self.stack, pahttest.unique("pstart"))
        self.gate = daemontest.Gate(self.gw.dir, "start-gate")
        self.env = {"PAHT_TEST_FAULT": f"start-gate:{self.gate.path}", "PAHT_LOG_LEVEL": "info",
                    "PAHT_IMAP_PROTOCOL_LOG": mailboxtest.protocol_log_path(self.gw)}

    def tearDown(self):
        self.gate.close()
        self.gw.close()

    def pass_began(self):
        """The pass selected the inbox (after the child was started, worker_prepare)."""
        commands = daemontest.protocol_log(mailboxtest.protocol_log_path(self.gw))
        return any(" SELECT " in c for c in commands)

    def release(self):
        """Lets the held children go on; one that comes to the gate later (there are two)
        passes it at once."""
        self.gate.open("the parser process at its start gate")

    def test_the_mailbox_pass_does_not_wait_for_the_parser(self):
        proc = self.gw.start_pahtd("--once", env=self.env)
        # the child is held: the pass gets to the mailbox all the same
        pahttest.wait_for(self.pass_began, timeout=60,
                          what="pahtd's pass at the mailbox while its parser is held")
        self.assertIsNone(READY.search(self.gw.log()), self.gw.log())
        self.release()
        self.assertEqual(proc.wait(timeout=60), 0, self.gw.log())
        log = self.gw.log()
        # ... and before it ended it waited for the child to say READY
        ready = READY.search(log)
        self.assertIsNotNone(ready, log)
        self.assertLess(log.index("imap: connected"), ready.start(), log)
        self.assertNotIn("cannot start", log)

    def test_a_parser_that_cannot_start_is_reported_without_mail(self):
        proc = self.gw.start_pahtd("--once", env=self.env)
        pahttest.wait_for(self.pass_began, timeout=60,
                          what="pahtd's pass at the mailbox while its parser is held")
        # the copy of the configuration the child is to read is gone (a clean-up of the data
        # folder's tmp/ under the running daemon): the child cannot start, and pahtd must say
        # so though no mail came
        tmp = os.path.join(self.gw.data_dir, "tmp")
        copies = [os.path.join(d, f) for d, _, files in os.walk(tmp) for f in files
                  if f == "paht.conf.running"]
        self.assertEqual(len(copies), 1, copies)
        os.unlink(copies[0])
        self.release()
        proc.wait(timeout=60)
        log = self.gw.log()
        self.assertRegex(log, r"parser process cannot start: .*paht\.conf\.running")
        self.assertIsNone(READY.search(log), log)


if __name__ == "__main__":
    unittest.main()
