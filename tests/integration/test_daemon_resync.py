"""UIDVALIDITY changes (RFC 3501 §2.3.1.1): the server renumbers the inbox, every UID we knew
is void. pahtd must resynchronise by Message-ID and SHA-256: the messages it already has are
recognised and only moved, the new one is processed, and nothing is drafted or answered
twice."""
import glob
import os
import unittest

import daemontest
import pahttest


class Resync(unittest.TestCase):
    def test_uidvalidity_change_resynchronises_without_duplicates(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"))
        citizens = [daemontest.citizen(stack) for _ in range(4)]
        subjects = ["Rác ở chợ", "Đèn hỏng", "Ống nước vỡ", "Cây đổ sau khi đổi UIDVALIDITY"]
        mails = [pahttest.make_mail(who, gw.address, subject, f"{subject}.\n")
                 for who, subject in zip(citizens, subjects)]
        daemontest.deliver_many(stack, gw.address, list(zip(citizens[:3], mails[:3])))
        self.assertEqual(gw.pahtd("--once").returncode, 0)
        self.assertEqual(len(gw.pahtctl_json("drafts")), 3)

        # the same three come back into the inbox (an operator, a restore), a fourth arrives,
        # and the server then rebuilds the inbox's UID list: new UIDVALIDITY, UIDs from 1
        imap = stack.imap(gw.address)
        try:
            imap.select('"PAHT/Processed"')
            self.assertEqual(imap.uid("COPY", "1:*", "INBOX")[0], "OK")
        finally:
            imap.logout()
        stack.deliver(gw.address, mails[3], sender=citizens[3])
        before = daemontest.doveadm(stack, "mailbox", "status", "-u", gw.address,
                                    "uidvalidity uidnext", "INBOX")
        box = daemontest.maildir(stack, gw.address)
        for name in ["dovecot-uidlist", *map(os.path.basename,
                                             glob.glob(os.path.join(box, "dovecot.index*")))]:
            os.unlink(os.path.join(box, name))
        daemontest.doveadm(stack, "force-resync", "-u", gw.address, "INBOX")
        after = daemontest.doveadm(stack, "mailbox", "status", "-u", gw.address,
                                   "uidvalidity uidnext", "INBOX")
        self.assertNotEqual(before.split("uidvalidity=")[1], after.split("uidvalidity=")[1])
        self.assertIn("uidnext=5", after)  # renumbered from 1: below the UIDNEXT pahtd knew

        log = os.path.join(gw.dir, "imap.log")
        run = gw.pahtd("--once", env={"PAHT_IMAP_PROTOCOL_LOG": log})
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("UIDVALIDITY of INBOX changed", run.stderr)
        self.assertEqual(run.stderr.count("not processed twice"), 3, run.stderr)

        drafts = gw.pahtctl_json("drafts")
        self.assertEqual(sorted(d["subject"] for d in drafts), sorted(subjects))
        self.assertEqual(len(gw.pahtctl_json("outbox")), 4)
        self.assertEqual(gw.count("INBOX"), 0)
        self.assertEqual(gw.count("PAHT/Processed"), 7)  # three copies were moved back in
        pahttest.wait_for(lambda: all(pahttest.count(stack, w) == 1 for w in citizens),
                          timeout=20, what="one acknowledgement each")
        # one listing of the renumbered inbox, from UID 1, and one FETCH of all Message-IDs
        commands = [daemontest.command_name(line) for line in daemontest.protocol_log(log)]
        self.assertEqual(commands.count("UID SEARCH"), 1)
        self.assertTrue(any(line.endswith(" UID SEARCH UID 1:*")
                            for line in daemontest.protocol_log(log)))

        again = gw.pahtd("--once")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertNotIn("UIDVALIDITY", again.stderr)
        self.assertEqual(len(gw.pahtctl_json("outbox")), 4)


if __name__ == "__main__":
    unittest.main()
