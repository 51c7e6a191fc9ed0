"""The mailbox goes away and comes back (private mail stacks: these tests stop Dovecot).

- Dovecot stopped and started again under a running pahtd: no crash, one error line for the
  outage and one for the return, and the mail that arrived meanwhile is processed once.
- Unreachable for 30 minutes (the clock moved with PAHT_NOW): the IOC is told once, and told
  again when the mailbox is back; the outbox keeps sending throughout.
"""
import datetime
import os
import unittest

import daemontest
import pahttest
from mailstack import MailStack

T0 = datetime.datetime(2026, 11, 30, 9, 0, tzinfo=pahttest.VN_TZ)


def at(minutes):
    return (T0 + datetime.timedelta(minutes=minutes)).isoformat()


class Restart(unittest.TestCase):
    def test_dovecot_restart_under_a_running_pahtd(self):
        with MailStack.start() as stack:
            # log_level debug: every failed attempt is logged ("next try in"), not only the first
            gw = pahttest.Gateway(stack, pahttest.unique("paht"),
                                  overrides={("imap", "poll_seconds"): 2,
                                             ("gateway", "log_level"): "debug"})
            first, second = daemontest.citizen(stack), daemontest.citizen(stack)
            proc = gw.start_pahtd()
            stack.deliver(gw.address, pahttest.make_mail(first, gw.address, "Trước khi dừng",
                                                         "Thư thứ nhất.\n"), sender=first)
            pahttest.wait_for(lambda: pahttest.count(stack, first) == 1, timeout=30,
                              what="the first acknowledgement")

            stack.imap_down()
            # mail arrives meanwhile, put into the Maildir by another delivery agent (Postfix
            # cannot: its smtpd needs Dovecot's SASL socket here)
            daemontest.maildir_drop(stack, gw.address, pahttest.make_mail(
                second, gw.address, "Trong lúc máy chủ dừng", "Thư thứ hai.\n"))
            pahttest.wait_for(lambda: "retrying with backoff" in gw.log(), timeout=30,
                              what="pahtd noticing the outage")
            pahttest.wait_for(lambda: gw.log().count("; next try in ") >= 2, timeout=60,
                              what="two more failed attempts")
            self.assertIsNone(proc.poll(), "pahtd must survive the outage")

            stack.imap_up()
            pahttest.wait_for(lambda: len(gw.pahtctl_json("drafts")) == 2, timeout=60,
                              what="the mail that arrived meanwhile")
            pahttest.wait_for(lambda: pahttest.count(stack, second) == 1, timeout=60,
                              what="its acknowledgement")
            self.assertEqual(gw.stop_pahtd(proc), 0)

            subjects = sorted(d["subject"] for d in gw.pahtctl_json("drafts"))
            self.assertEqual(subjects, ["Trong lúc máy chủ dừng", "Trước khi dừng"])
            self.assertEqual(pahttest.count(stack, first), 1)
            self.assertEqual(gw.count("PAHT/Processed"), 2)
            log = gw.log()
            # logged once per change of state, not once per attempt
            self.assertEqual(log.count("retrying with backoff"), 1, log)
            self.assertEqual(log.count("reachable again"), 1, log)


class Alerts(unittest.TestCase):
    def test_ioc_told_after_30_minutes_and_when_back(self):
        # two servers, as in many provinces: the mailbox (stopped) and the mail relay with the
        # IOC's mailbox (up), so the letters pahtd sends during the outage are seen arriving
        with MailStack.start() as mailbox, MailStack.start() as relay:
            gw = pahttest.Gateway(mailbox, pahttest.unique("paht"), overrides={
                ("smtp", "url"): f"smtp://{relay.listen}:{relay.smtp_port}",
                ("smtp", "ca_file"): relay.ca,
                ("smtp", "user"): None, ("smtp", "password_file"): None,
            })
            self.assertEqual(gw.pahtd("--once", env={"PAHT_NOW": at(0)}).returncode, 0)
            mailbox.imap_down()

            def alerts():
                pahttest.wait_for(lambda: all(o["state"] == "sent" for o in gw.pahtctl_json(
                    "outbox")), timeout=10, what="the outbox sent")
                return pahttest.messages(relay, gw.ioc_address)

            for minutes in (0, 10, 29):
                run = gw.pahtd("--once", env={"PAHT_NOW": at(minutes)})
                self.assertEqual(run.returncode, 1, run.stderr)
                self.assertIn("retrying with backoff", run.stderr)
            self.assertEqual(alerts(), [], "no alert before 30 minutes")
            run = gw.pahtd("--once", env={"PAHT_NOW": at(31)})
            self.assertEqual(run.returncode, 1)
            self.assertIn("the IOC is alerted", run.stderr)
            # the outbox ran without the mailbox: the alert is in the IOC's mailbox already
            pahttest.wait_for(lambda: pahttest.count(relay, gw.ioc_address) == 1, timeout=20)
            got = alerts()
            self.assertIn("Không kết nối được hộp thư", got[0]["Subject"])
            self.assertIn("09:00 ngày 30/11/2026", got[0]["Subject"])
            for minutes in (40, 50):
                gw.pahtd("--once", env={"PAHT_NOW": at(minutes)})
            self.assertEqual(len(alerts()), 1, "once per outage")

            mailbox.imap_up()
            run = gw.pahtd("--once", env={"PAHT_NOW": at(55)})
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertIn("reachable again after 55 min", run.stderr)
            pahttest.wait_for(lambda: pahttest.count(relay, gw.ioc_address) == 2, timeout=20)
            gw.pahtd("--once", env={"PAHT_NOW": at(60)})
            got = alerts()
            self.assertEqual(len(got), 2)
            self.assertIn("Đã kết nối lại hộp thư", got[1]["Subject"])
            self.assertIn("55 phút", pahttest.plain_text(got[1]))

            # a new outage is a new alert
            mailbox.imap_down()
            gw.pahtd("--once", env={"PAHT_NOW": at(120)})
            gw.pahtd("--once", env={"PAHT_NOW": at(151)})
            pahttest.wait_for(lambda: pahttest.count(relay, gw.ioc_address) == 3, timeout=20)


if __name__ == "__main__":
    unittest.main()
