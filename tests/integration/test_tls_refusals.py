"""Mail servers that would have us talk in the clear, or that are not who they say: pahtd
refuses each before any credential or mail crosses the connection, on real Dovecot and Postfix
set up that way (tests/harness/mailstack.py, unusual configurations):

  * an IMAP server offering no STARTTLS (Dovecot, ssl = no);
  * an IMAP server listing STARTTLS and then refusing it (Dovecot 2.3 answers BAD);
  * a PREAUTH greeting on a plaintext port (Dovecot's imap run for a user, inetd-style);
  * an SMTP server offering no STARTTLS (Postfix, smtpd_tls_security_level = none);
  * IMAP and SMTP servers whose certificate, from the trusted CA, names another host.

Dovecot treats 127.0.0.1 as a secure network, so it would accept a plaintext LOGIN here: the
proof that none was sent is the servers' own log of each session (imap-login's "no auth
attempts", the imap process's "in=0", smtpd's list of the commands it received)."""
import os
import re
import unittest

import daemontest
import pahttest
from mailstack import MailStack


def server_log(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def inbox_count(stack, address):
    """Messages in ADDRESS's INBOX, asked of Dovecot directly (no IMAP session, so this works
    whatever the stack's TLS)."""
    out = daemontest.doveadm(stack, "mailbox", "status", "-u", address, "messages", "INBOX")
    return int(out.split("=", 1)[1])


class Refusals(unittest.TestCase):
    def gateway(self, stack, imap_port=None, smtp_port=None):
        gw = pahttest.Gateway(stack, pahttest.unique("paht"))
        gw.config["imap"]["url"] = f"imap://{stack.listen}:{imap_port or stack.imap_port}/INBOX"
        gw.config["smtp"]["url"] = f"smtp://{stack.listen}:{smtp_port or stack.smtp_port}"
        gw.write_config()
        self.addCleanup(gw.close)
        return gw

    def deliver_one(self, stack, gw, to=None):
        who = daemontest.citizen(stack)
        stack.deliver(to or gw.address, pahttest.make_mail(
            who, gw.address, "Đèn đường hỏng", "Đèn đường hỏng.\n" + pahttest.complete_details()),
            sender=who)
        return who

    def assert_imap_refused(self, stack, gw, run, reason):
        """pahtd --once refused the IMAP server (exit 2, REASON said), the mail is untouched and
        unrecorded, and the server's log shows a session that never tried to log in."""
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertRegex(run.stderr, reason)
        self.assertEqual(gw.pahtctl_json("drafts"), [])
        self.assertEqual(inbox_count(stack, gw.address), 1)
        # imap-login logs the end of every session it served, with what the client tried
        log = pahttest.wait_for(lambda: "Disconnected" in server_log(stack.dovecot_log)
                                and server_log(stack.dovecot_log),
                                what="Dovecot's log of the session")
        sessions = [line for line in log.splitlines() if "imap-login: " in line
                    and "Disconnected" in line]
        self.assertTrue(sessions, log[-2000:])
        for line in sessions:
            self.assertIn("no auth attempts", line)
        self.assertNotIn("Login: user=", log)

    def test_imap_without_starttls_is_refused_before_login(self):
        with MailStack.start(unusual={"imap_tls": "none"}) as stack:
            gw = self.gateway(stack)
            self.deliver_one(stack, gw)
            run = gw.pahtd("--once")
            self.assert_imap_refused(stack, gw, run, "offers no STARTTLS; refusing to log in")

    def test_imap_starttls_refused_by_the_server_is_refused_before_login(self):
        with MailStack.start(unusual={"imap_tls": "starttls-refused"}) as stack:
            gw = self.gateway(stack)
            self.deliver_one(stack, gw)
            run = gw.pahtd("--once")
            self.assert_imap_refused(stack, gw, run, r"STARTTLS.*(TLS support isn't enabled|BAD|NO)")

    def test_preauth_greeting_on_plaintext_is_refused_unread(self):
        with MailStack.start(unusual={"preauth": "paht-preauth"}) as stack:
            gw = self.gateway(stack, imap_port=stack.preauth_port)
            self.deliver_one(stack, gw, to="paht-preauth")
            run = gw.pahtd("--once")
            self.assertEqual(run.returncode, 2, run.stderr)
            self.assertIn("greeted with PREAUTH on a plaintext connection; refused", run.stderr)
            self.assertEqual(gw.pahtctl_json("drafts"), [])
            self.assertEqual(inbox_count(stack, f"paht-preauth@{stack.domain}"), 1)
            # the imap process that served the session logs what it read from us: nothing
            log_path = os.path.join(stack.dir, "log", "preauth.log")
            log = pahttest.wait_for(lambda: "Disconnected" in server_log(log_path)
                                    and server_log(log_path), what="the session's end")
            ends = re.findall(r"Disconnected: .* in=(\d+) ", log)
            self.assertEqual(ends, ["0"], log[-2000:])

    def test_smtp_without_starttls_is_refused_before_auth_and_mail(self):
        with MailStack.start(unusual={"smtp_tls": "none"}) as stack:
            gw = self.gateway(stack)
            who = self.deliver_one(stack, gw)
            run = gw.pahtd("--once")
            self.assertEqual(run.returncode, 2, run.stderr)  # the administrator must act
            self.assertRegex(run.stderr, r"(?i)STARTTLS")
            # the mail was drafted; its acknowledgement waits, no attempt used up
            self.assertEqual(len(gw.pahtctl_json("drafts")), 1)
            ack = [o for o in gw.pahtctl_json("outbox") if o["to"] == who]
            self.assertEqual([(o["state"], o["attempts"]) for o in ack], [("queued", 0)])
            self.assert_smtp_sessions_sent_nothing(stack)

    def assert_smtp_sessions_sent_nothing(self, stack):
        """Every smtpd session ended with neither AUTH nor MAIL received (smtpd's disconnect
        line counts each command the client sent)."""
        log = pahttest.wait_for(lambda: "disconnect from" in server_log(stack.postfix_log)
                                and server_log(stack.postfix_log),
                                what="Postfix's log of the session")
        ends = [line for line in log.splitlines() if "disconnect from" in line]
        self.assertTrue(ends)
        for line in ends:
            commands = dict(re.findall(r" (\w+)=(\S+)", line.split("disconnect from", 1)[1]))
            self.assertNotIn("auth", commands, line)
            self.assertNotIn("mail", commands, line)
            self.assertNotIn("rcpt", commands, line)

    def test_certificate_naming_another_host_is_refused_by_imap_and_smtp(self):
        # the certificate comes from the CA the gateway trusts, for another name only
        with MailStack.start(unusual={"cert_names": "DNS:other.example.test"}) as stack:
            gw = self.gateway(stack)
            self.deliver_one(stack, gw)
            # a letter waiting in the outbox, so that pahtd also talks to the SMTP server
            eml = os.path.join(gw.dir, "report.eml")
            with open(eml, "wb") as f:
                f.write(pahttest.make_mail(daemontest.citizen(stack), gw.address, "Ổ gà",
                                           "Ổ gà lớn.\n" + pahttest.complete_details()))
            self.assertEqual(len(gw.pahtctl_json("ingest", eml)), 1)
            run = gw.pahtd("--once")
            self.assertEqual(run.returncode, 2, run.stderr)
            self.assertIn("name in the certificate does not match", run.stderr)
            self.assertRegex(run.stderr, r"(?i)SMTP .*(certificate|SSL|subject name)")
            self.assertEqual(inbox_count(stack, gw.address), 1)
            # the acknowledgement waits (and the IOC's alert that SMTP refuses us), none sent
            outbox = gw.pahtctl_json("outbox")
            self.assertEqual({(o["state"], o["attempts"]) for o in outbox}, {("queued", 0)})
            self.assertEqual(sorted(o["kind"] for o in outbox), ["ack", "ioc_alert"])
            self.assertEqual([d["subject"] for d in gw.pahtctl_json("drafts")], ["Ổ gà"])
            self.assertNotIn("Login: user=", server_log(stack.dovecot_log))
            self.assert_smtp_sessions_sent_nothing(stack)


if __name__ == "__main__":
    unittest.main()
