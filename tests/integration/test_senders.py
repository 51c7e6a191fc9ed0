"""Who may make the province act by mail (issue 11), end to end on real Dovecot and Postfix:

- pahtd says once at start when it cannot tell forged senders (no [gateway]
  trusted_authserv_id), and not when it can;
- a mail the province's MX found failing DMARC is drafted and marked, gets no automatic
  answer, and reaches its sender only when the IOC answers it by hand (pahtctl answer);
- a mail tied to a report only by its From address and the tracking code waits for the IOC
  (show --json lists it), completes nothing and is answered by nothing until pahtctl
  supplement --confirm, after which the citizen gets the acknowledgement.

The MX's Authentication-Results header is written into the test mail as the MX would have
prepended it: the harness's Postfix checks no DMARC. The clock is pinned (a Monday morning)."""
import unittest

import pahttest

MX = "mx.example.test"
NOW = {"PAHT_NOW": "2026-11-23T09:00:00+07:00"}
NOT_CHECKED = "trusted_authserv_id is not set: senders are NOT checked"


class Senders(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = pahttest.shared_stack()
        cls.gw = pahttest.Gateway(cls.stack, pahttest.unique("paht"),
                                  overrides={("gateway", "trusted_authserv_id"): MX})

    def once(self, gw=None):
        run = (gw or self.gw).pahtd("--once", env=NOW)
        self.assertEqual(run.returncode, 0, run.stderr[-2000:])
        return run

    def ctl_json(self, *args):
        return self.gw.pahtctl_json(*args, env=NOW)

    def letters_to(self, address):
        return [o for o in self.ctl_json("outbox") if o["to"] == address]

    def test_start_says_once_that_senders_are_not_checked(self):
        plain = pahttest.Gateway(self.stack, pahttest.unique("paht"))
        try:
            run = self.once(plain)
            self.assertEqual(run.stderr.count(NOT_CHECKED), 1, run.stderr[-2000:])
        finally:
            plain.close()
        self.assertNotIn(NOT_CHECKED, self.once().stderr)

    def test_dmarc_failure_drafted_marked_and_answered_only_by_hand(self):
        sender = f"{pahttest.unique('forged')}@{self.stack.domain}"
        mail = (f"Authentication-Results: {MX};\r\n\tdmarc=fail (p=reject) "
                f"header.from={self.stack.domain}\r\n").encode() + pahttest.make_mail(
                    sender, self.gw.address, "Mua hàng giảm giá 90%", "Đèn đường hỏng.\n")
        self.gw.deliver(mail, sender=sender)
        self.once()
        drafts = [d for d in self.ctl_json("drafts") if d["citizen"]["email"] == sender]
        self.assertEqual(len(drafts), 1)
        report = self.ctl_json("show", drafts[0]["code"])
        self.assertTrue(report["sender_unverified"])
        self.assertIn("sender_unverified", [e["kind"] for e in report["events"]])
        self.assertEqual(report["mail"], [])
        self.assertEqual(self.letters_to(sender), [])

        answer = self.gw.pahtctl("answer", drafts[0]["code"], "--actor", "truc.ban", env=NOW)
        self.assertEqual(answer.returncode, 0, answer.stderr)
        self.once()
        pahttest.wait_for(lambda: pahttest.count(self.stack, sender) == 1, timeout=30,
                          what="the answer the IOC sent by hand")
        letter = pahttest.messages(self.stack, sender)[0]
        self.assertIn(drafts[0]["code"], letter["Subject"])
        again = self.gw.pahtctl("answer", drafts[0]["code"], env=NOW)
        self.assertEqual(again.returncode, 1, again.stderr)

    def test_code_alone_waits_for_the_ioc(self):
        citizen = f"{pahttest.unique('dan')}@{self.stack.domain}"
        self.gw.deliver(pahttest.make_mail(citizen, self.gw.address, "Rác thải tồn đọng",
                                           "Rác thải tồn đọng ở chợ.\n"), sender=citizen)
        self.once()
        code = [d for d in self.ctl_json("drafts") if d["citizen"]["email"] == citizen][0]["code"]
        self.assertEqual([o["kind"] for o in self.letters_to(citizen)], ["incomplete"])

        # the details, quoting the code, but answering none of our letters
        self.gw.deliver(pahttest.make_mail(citizen, self.gw.address, f"[{code}] bổ sung",
                                           "Bổ sung thông tin:\n" + pahttest.complete_details()),
                        sender=citizen)
        self.once()
        report = self.ctl_json("show", code)
        self.assertEqual(report["state"], "incomplete")
        pending = report["pending_supplements"]
        self.assertEqual([(p["state"], p["from"], p["matched_by"]) for p in pending],
                         [("pending", citizen, "tracking code")])
        self.assertEqual([o["kind"] for o in self.letters_to(citizen)], ["incomplete"])

        confirm = self.gw.pahtctl("supplement", pending[0]["id"], "--confirm", env=NOW)
        self.assertEqual(confirm.returncode, 0, confirm.stderr)
        report = self.ctl_json("show", code)
        self.assertEqual(report["state"], "draft")
        self.assertEqual(report["pending_supplements"][0]["state"], "confirmed")
        self.once()
        self.assertEqual([o["kind"] for o in self.letters_to(citizen)], ["incomplete", "ack"])
        pahttest.wait_for(lambda: pahttest.count(self.stack, citizen) == 2, timeout=30,
                          what="the acknowledgement after the confirmation")
        twice = self.gw.pahtctl("supplement", pending[0]["id"], "--discard", env=NOW)
        self.assertEqual(twice.returncode, 1, twice.stderr)


if __name__ == "__main__":
    unittest.main()
