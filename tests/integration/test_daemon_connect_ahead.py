"""pahtd begins its IMAP session while it opens the database (gateway/mailbox.c,
mailbox_connect_ahead): the connection, STARTTLS, LOGIN and the two folders in a thread of
their own, so that a first start's migrations and the login to the server do not wait for each
other. PAHT_TEST_FAULT=open-gate:FIFO holds the opening of the database until the test opens
the FIFO: the session is made meanwhile, or the test times out. A session that cannot be made
is the first pass's failure, told once, with no second attempt."""
import unittest

import daemontest
import mailboxtest
import pahttest


class ConnectAhead(unittest.TestCase):
    def setUp(self):
        self.stack = pahttest.shared_stack()
        self.gw = pahttest.Gateway(self.stack, pahttest.unique("ahead"))
        self.gate = daemontest.Gate(self.gw.dir, "open-gate")

    def tearDown(self):
        self.gate.close()
        self.gw.close()

    def test_the_session_is_made_while_the_database_opens(self):
        gw = self.gw
        who = daemontest.citizen(self.stack)
        gw.deliver(pahttest.make_mail(who, gw.address, "Rác thải ven sông",
                                      "Rác thải ven sông.\n" + pahttest.complete_details()),
                   sender=who)
        proc = gw.start_pahtd("--once", env={
            "PAHT_NOW": mailboxtest.at(0), "PAHT_TEST_FAULT": f"open-gate:{self.gate.path}",
            "PAHT_IMAP_PROTOCOL_LOG": mailboxtest.protocol_log_path(gw)})
        # the database is held shut: the session is made and the folders are there all the same
        pahttest.wait_for(lambda: 'created folder "PAHT/Quarantine"' in gw.log(), timeout=60,
                          what="the IMAP session made while the database is held")
        self.assertIsNone(proc.poll(), gw.log())
        self.gate.open("pahtd at its open gate")
        self.assertEqual(proc.wait(timeout=120), 0, gw.log())
        # ... and the pass used that session: one login, then the mail taken and moved
        commands = daemontest.protocol_log(mailboxtest.protocol_log_path(gw))
        self.assertEqual(sum(1 for c in commands if " LOGIN " in c), 1, commands)
        self.assertEqual(gw.count("INBOX"), 0)
        self.assertEqual(gw.count("PAHT/Processed"), 1)
        drafts = gw.pahtctl_json("drafts", env={"PAHT_NOW": mailboxtest.at(0)})
        self.assertEqual([d["subject"] for d in drafts], ["Rác thải ven sông"])

    def test_a_session_refused_ahead_is_the_pass_s_failure_once(self):
        gw = self.gw
        gw._write("imap.secret", "not-the-password\n", 0o600)
        run = gw.pahtd("--once", env={"PAHT_NOW": mailboxtest.at(0),
                                      "PAHT_IMAP_PROTOCOL_LOG": mailboxtest.protocol_log_path(gw)})
        # the server's refusal is the administrator's to fix (exit status 2)
        self.assertEqual(run.returncode, 2, run.stderr)
        commands = daemontest.protocol_log(mailboxtest.protocol_log_path(gw))
        # refused once, not tried again by the pass
        self.assertEqual(sum(1 for c in commands if " LOGIN " in c), 1, commands)


if __name__ == "__main__":
    unittest.main()
