"""Tests of the test harness itself (tests/harness/mailstack.py and pahttest's mail helpers).

They use a PRIVATE stack started in setUpClass, never the shared one: they take servers down.
Every test leaves its stack up for the next one.
"""

import imaplib
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

from pahttest import MailStack, count, make_mail, messages, unique, wait_for

HARNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "harness",
                       "mailstack.py")


def mail(to, subject="Phản ánh: đèn đường hỏng", body="Đèn đường trước nhà số 12 bị hỏng.",
         frm="Nguyễn Văn An <citizen@example.test>", **kw):
    return make_mail(frm, to, subject, body, **kw)


def cli(*args):
    return subprocess.run([sys.executable, HARNESS, *args], capture_output=True, text=True,
                          timeout=60, check=False)


def group_alive(pgid):
    """Non-zombie processes in process group PGID, from /proc."""
    alive = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != b"Z":
            alive.append(int(name))
    return alive


def refused(port):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
    except ConnectionRefusedError:
        return True
    finally:
        s.close()
    return False


class MailStackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = MailStack.start()
        shared = os.environ.get("PAHT_MAILSTACK_ENV")
        if shared and os.path.isfile(shared):
            # the private stack must not be the shared one, nor share a port with it
            other = MailStack.load(shared)
            assert other.dir != cls.stack.dir
            assert other.imap_port != cls.stack.imap_port

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop(remove=True)

    def find(self, user, message_id, folder="INBOX", timeout=20):
        return wait_for(
            lambda: [m for m in messages(self.stack, user, folder) if m["Message-ID"] == message_id],
            timeout=timeout, what=f"{message_id} in {user}'s {folder}")[0]

    # ---- the env file and the start

    def test_env_file_has_every_key_in_order(self):
        with open(os.path.join(self.stack.dir, "mailstack.env")) as f:
            lines = f.read().splitlines()
        keys = [ln.split("=", 1)[0] for ln in lines]
        self.assertEqual(keys, [
            "MAILSTACK_DIR", "MAILSTACK_DOMAIN", "MAILSTACK_PASSWORD", "MAILSTACK_LISTEN",
            "MAILSTACK_IMAP_PORT", "MAILSTACK_IMAPS_PORT", "MAILSTACK_SMTP_PORT",
            "MAILSTACK_SMTPS_PORT", "MAILSTACK_SUBMISSION_PORT", "MAILSTACK_LMTP_PORT",
            "MAILSTACK_CA", "MAILSTACK_DOVECOT_CONF", "MAILSTACK_POSTFIX_CONF",
            "MAILSTACK_DOVECOT_PID", "MAILSTACK_POSTFIX_PID"])
        for line in lines:
            value = line.split("=", 1)[1]
            self.assertTrue(value and not any(c.isspace() or c in "\"'" for c in value), line)
        ports = {self.stack.imap_port, self.stack.imaps_port, self.stack.smtp_port,
                 self.stack.smtps_port, self.stack.submission_port, self.stack.lmtp_port}
        self.assertEqual(len(ports), 6)
        self.assertEqual(self.stack.listen, "127.0.0.1")
        self.assertEqual(oct(os.stat(self.stack.dir).st_mode & 0o777), "0o755")

    def test_listens_on_loopback_only(self):
        with open("/proc/net/tcp") as f:
            rows = [ln.split() for ln in f.readlines()[1:]]
        ours = {self.stack.imap_port, self.stack.imaps_port, self.stack.smtp_port,
                self.stack.smtps_port, self.stack.submission_port, self.stack.lmtp_port}
        bound = {}
        for row in rows:
            if row[3] == "0A":
                ip, port = row[1].split(":")
                if int(port, 16) in ours:
                    bound.setdefault(int(port, 16), set()).add(ip)
        self.assertEqual(set(bound), ours)
        for port, ips in bound.items():
            self.assertEqual(ips, {"0100007F"}, port)

    # ---- delivery

    def test_lmtp_delivery_visible_over_imap_starttls(self):
        user = unique("lmtp")
        data = mail(f"{user}@example.test", subject="Ngập nước ở phường 5",
                    attachments=[("ảnh hiện trường.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + bytes(300))])
        self.stack.deliver(user, data)
        conn = self.stack.imap(user)
        try:
            self.assertIsInstance(conn.sock, ssl.SSLSocket)  # STARTTLS happened
            typ, data_ = conn.select("INBOX", readonly=True)
            self.assertEqual((typ, data_), ("OK", [b"1"]))
        finally:
            conn.logout()
        got = messages(self.stack, user)
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["Subject"], "Ngập nước ở phường 5")
        self.assertEqual(got[0].get_body(("plain",)).get_content().strip(),
                         "Đèn đường trước nhà số 12 bị hỏng.")
        [att] = list(got[0].iter_attachments())
        self.assertEqual(att.get_filename(), "ảnh hiện trường.jpg")
        self.assertEqual(len(att.get_content()), 304)
        self.assertEqual(count(self.stack, user), 1)
        self.assertEqual(count(self.stack, user, "PAHT/Processed"), 0)  # no such folder
        # the mail store is where the env promises, owned by the mail uid
        home = os.path.join(self.stack.dir, "mail", "example.test", user)
        self.assertTrue(os.path.isdir(os.path.join(home, "Maildir")))

    def test_imap_certificate_is_verified(self):
        conn = imaplib.IMAP4(self.stack.listen, self.stack.imap_port, timeout=10)
        try:
            caps = conn.capabilities
            self.assertIn("STARTTLS", caps)
            ctx = ssl.create_default_context()  # the system trust store only: must fail
            with self.assertRaises(ssl.SSLCertVerificationError):
                conn.starttls(ctx)
        finally:
            try:
                conn.shutdown()
            except OSError:
                pass  # the failed handshake closed it already
        conn = self.stack.imaps("capcheck")
        try:
            typ, data = conn.capability()
            caps = data[0].decode().split()
            for cap in ("IDLE", "MOVE", "UIDPLUS", "CONDSTORE", "QRESYNC"):
                self.assertIn(cap, caps)
        finally:
            conn.logout()

    def test_wrong_password_refused(self):
        conn = imaplib.IMAP4(self.stack.listen, self.stack.imap_port, timeout=10)
        try:
            conn.starttls(self.stack.ssl_context())
            with self.assertRaises(imaplib.IMAP4.error):
                conn.login("someone@example.test", self.stack.password + "x")
        finally:
            conn.shutdown()
        self.stack.imap("someone").logout()  # the right password still logs in

    def test_smtp_starttls_delivers_to_local_user(self):
        user = unique("smtp")
        with smtplib.SMTP(self.stack.listen, self.stack.smtp_port, timeout=10) as s:
            s.ehlo()
            self.assertTrue(s.has_extn("starttls"))
            self.assertFalse(s.has_extn("auth"))  # AUTH only after STARTTLS
            s.starttls(context=self.stack.ssl_context())
            s.ehlo()
            self.assertTrue(s.has_extn("auth"))
            data = mail(f"{user}@example.test", subject="Rác thải tồn đọng")
            self.assertEqual(s.sendmail("citizen@example.test", [f"{user}@example.test"], data), {})
        msg = wait_for(lambda: messages(self.stack, user), what="SMTP delivery")[0]
        self.assertEqual(msg["Subject"], "Rác thải tồn đọng")

    def test_submission_requires_tls_and_auth(self):
        user = unique("sub")
        data = mail(f"{user}@example.test")
        with smtplib.SMTP(self.stack.listen, self.stack.submission_port, timeout=10) as s:
            with self.assertRaises(smtplib.SMTPSenderRefused) as cm:  # no STARTTLS yet
                s.sendmail("citizen@example.test", [f"{user}@example.test"], data)
            self.assertEqual(cm.exception.smtp_code, 530)
        with self.assertRaises(smtplib.SMTPRecipientsRefused):  # TLS but no AUTH
            self.stack.smtp_send(user, data, port=self.stack.submission_port)
        self.assertEqual(self.stack.smtp_send(user, data, port=self.stack.submission_port,
                                              login="paht"), {})
        self.assertEqual(self.stack.smtp_send(user, data, implicit_tls=True, login="paht"), {})
        wait_for(lambda: count(self.stack, user) == 2, what="2 messages")

    def test_nothing_leaves_the_machine(self):
        sender = unique("relay")
        data = mail("someone@gmail.com")
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:  # no AUTH: relay denied
            self.stack.smtp_send("someone@gmail.com", data, sender=f"{sender}@example.test")
        self.assertEqual(cm.exception.recipients["someone@gmail.com"][0], 554)
        # authenticated: accepted, then bounced back to the sender instead of relayed
        self.assertEqual(self.stack.smtp_send("someone@gmail.com", data, login=sender,
                                              sender=f"{sender}@example.test"), {})
        dsn = wait_for(lambda: messages(self.stack, sender), what="the DSN")[0]
        self.assertEqual(dsn.get_content_type(), "multipart/report")
        self.assertIn("someone@gmail.com", dsn.as_string())

    def test_plus_address_delivers_to_base_mailbox(self):
        user = unique("plus")
        data = mail(f"{user}+tok9f3@example.test")
        self.stack.smtp_send(f"{user}+tok9f3@example.test", data)
        msg = wait_for(lambda: messages(self.stack, user), what="plus-addressed mail")[0]
        self.assertEqual(msg["To"], f"{user}+tok9f3@example.test")
        self.assertFalse(os.path.exists(
            os.path.join(self.stack.dir, "mail", "example.test", f"{user}+tok9f3")))

    # ---- faults

    def rcpt_reply(self, rcpt):
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
            self.stack.smtp_send(rcpt, mail(rcpt))
        return cm.exception.recipients[rcpt][0]

    def test_static_faults(self):
        self.assertEqual(self.rcpt_reply("tempfail@example.test"), 451)
        self.assertEqual(self.rcpt_reply("tempfail+x1@example.test"), 451)
        self.assertEqual(self.rcpt_reply("permfail@example.test"), 550)
        self.assertEqual(self.rcpt_reply("permfail+x2@example.test"), 550)

    def test_dynamic_fault_then_clear(self):
        user = unique("fault")
        rcpt = f"{user}@example.test"
        self.stack.fault_rcpt(rcpt, 451)
        self.assertEqual(self.rcpt_reply(rcpt), 451)
        self.stack.fault_rcpt(rcpt, 550, "hộp thư bị khoá")  # replaces, within the same second
        self.assertEqual(self.rcpt_reply(rcpt), 550)
        self.stack.fault_clear()
        self.assertEqual(self.stack.smtp_send(rcpt, mail(rcpt)), {})
        wait_for(lambda: count(self.stack, user) == 1, what="delivery after fault-clear")

    def test_unknown_user_is_accepted_then_bounced_with_dsn(self):
        sender = unique("dsn")
        rcpt = "nouser2@example.test"
        data = mail(rcpt, frm=f"{sender}@example.test", subject="Gửi nhầm địa chỉ")
        self.assertEqual(self.stack.smtp_send(rcpt, data, sender=f"{sender}@example.test"), {})
        dsn = wait_for(lambda: messages(self.stack, sender), what="the DSN")[0]
        self.assertEqual(dsn.get_content_type(), "multipart/report")
        self.assertEqual(dsn.get_param("report-type"), "delivery-status")
        status = [p for p in dsn.walk() if p.get_content_type() == "message/delivery-status"]
        self.assertEqual(len(status), 1)
        text = status[0].as_string()
        self.assertIn("nouser2@example.test", text)
        self.assertIn("5.1.1", text)
        self.assertEqual(count(self.stack, "nouser2"), 0)

    # ---- breaking the servers

    def test_imap_down_refuses_and_up_keeps_uidvalidity(self):
        user = unique("down")
        self.stack.deliver(user, mail(f"{user}@example.test"))
        conn = self.stack.imap(user)
        conn.select("INBOX")
        before = conn.response("UIDVALIDITY")[1][0]
        old_pid = self.stack.current_dovecot_pid()
        try:
            self.stack.imap_down()
            self.assertFalse(self.stack.dovecot_up())
            self.assertTrue(refused(self.stack.imap_port))
            self.assertTrue(refused(self.stack.imaps_port))
            self.assertTrue(refused(self.stack.lmtp_port))
            with self.assertRaises((imaplib.IMAP4.abort, OSError)):  # the open session died
                conn.noop()
        finally:
            conn.shutdown()
            self.stack.imap_up()
        conn = self.stack.imap(user)
        try:
            conn.select("INBOX")
            self.assertEqual(conn.response("UIDVALIDITY")[1][0], before)
            self.assertEqual(conn.uid("SEARCH", None, "ALL")[1][0], b"1")
        finally:
            conn.logout()
        env = MailStack.load(self.stack.env_path)
        self.assertNotEqual(env.dovecot_pid, old_pid)
        self.assertEqual(env.dovecot_pid, self.stack.current_dovecot_pid())
        self.assertEqual(group_alive(old_pid), [])

    def test_mail_sent_while_dovecot_down_arrives_after_up_and_flush(self):
        user = unique("defer")
        self.stack.imap_down()
        try:
            self.assertEqual(self.stack.smtp_send(user, mail(f"{user}@example.test")), {})
            wait_for(lambda: any(r["address"] == f"{user}@example.test"
                                 for q in self.stack.queue() for r in q["recipients"]),
                     what="the deferred message in the queue")
        finally:
            self.stack.imap_up()
        self.stack.flush()
        wait_for(lambda: count(self.stack, user) == 1, what="delivery after flush")

    def test_imap_crash_drops_sessions_without_bye(self):
        user = unique("crash")
        conn = self.stack.imap(user)
        conn.select("INBOX")
        old_pid = self.stack.current_dovecot_pid()
        try:
            self.stack.imap_crash()
            self.assertEqual(group_alive(old_pid), [])
            self.assertEqual(conn.sock.recv(100), b"")  # plain EOF: no "* BYE" first
        finally:
            conn.shutdown()
            self.stack.imap_up()
        self.assertEqual(count(self.stack, user), 0)

    def test_imap_freeze_hangs_and_thaw_resumes(self):
        user = unique("freeze")
        conn = self.stack.imap(user)
        conn.select("INBOX")
        self.stack.imap_freeze()
        try:
            fresh = socket.create_connection((self.stack.listen, self.stack.imap_port), timeout=0.5)
            try:
                with self.assertRaises(socket.timeout):  # accepted by the kernel, never greeted
                    fresh.recv(100)
            finally:
                fresh.close()
            # imaplib cannot read after a timeout: read the session's socket directly (gotcha 19)
            conn.sock.settimeout(0.5)
            conn.send(b"F1 NOOP\r\n")
            with self.assertRaises(socket.timeout):
                conn.sock.recv(100)
        finally:
            self.stack.imap_thaw()
        conn.sock.settimeout(10)
        got = b""
        while b"F1 " not in got:
            chunk = conn.sock.recv(1000)
            self.assertNotEqual(chunk, b"", "EOF after thaw")
            got += chunk
        self.assertIn(b"F1 OK", got)
        conn.shutdown()
        self.assertEqual(count(self.stack, user), 0)

    def test_smtp_down_and_up(self):
        user = unique("smtpdown")
        old_pid = self.stack.current_postfix_pid()
        try:
            self.stack.smtp_down()
            self.assertTrue(refused(self.stack.smtp_port))
            self.assertTrue(refused(self.stack.submission_port))
            self.assertEqual(group_alive(old_pid), [])
        finally:
            self.stack.smtp_up()
        self.stack.smtp_send(user, mail(f"{user}@example.test"))
        wait_for(lambda: count(self.stack, user) == 1, what="delivery after smtp-up")
        env = MailStack.load(self.stack.env_path)
        self.assertEqual(env.postfix_pid, self.stack.current_postfix_pid())
        self.assertNotEqual(env.postfix_pid, old_pid)

    # ---- the command line

    def test_cli_control_commands(self):
        d = self.stack.dir
        user = unique("cli")
        p = cli("status", d)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"dovecot \d+ up\npostfix \d+ up")
        with tempfile.NamedTemporaryFile(suffix=".eml") as f:
            f.write(mail(f"{user}@example.test", subject="Qua dòng lệnh"))
            f.flush()
            p = cli("deliver", d, f"{user}@example.test", f.name)
            self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(messages(self.stack, user)[0]["Subject"], "Qua dòng lệnh")
        p = cli("fault-rcpt", d, f"{user}@example.test", "451", "thử", "lỗi")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.rcpt_reply(f"{user}@example.test"), 451)
        p = cli("fault-clear", d)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.stack.smtp_send(user, mail(f"{user}@example.test")), {})
        p = cli("flush", d)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = cli("status", os.path.join(d, "nonexistent"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("mailstack.env", p.stderr)


class LifecycleTest(unittest.TestCase):
    """Stacks of their own: two at once, rawlog, and a stop that leaves nothing behind."""

    def test_two_stacks_rawlog_and_clean_stop(self):
        with tempfile.TemporaryDirectory() as parent:
            os.chmod(parent, 0o755)  # the daemons must traverse it
            d1 = os.path.join(parent, "one")
            p = cli("start", d1)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.strip(), d1)
            one = MailStack.load(d1)
            two = MailStack.start(rawlog=True)
            sessions = []
            try:
                ports1 = {one.imap_port, one.imaps_port, one.smtp_port, one.smtps_port,
                          one.submission_port, one.lmtp_port}
                ports2 = {two.imap_port, two.imaps_port, two.smtp_port, two.smtps_port,
                          two.submission_port, two.lmtp_port}
                self.assertEqual(ports1 & ports2, set())
                self.assertNotEqual(one.password, two.password)
                # each stack has its own CA: one's certificate does not verify two's server
                conn = imaplib.IMAP4(two.listen, two.imap_port, timeout=10)
                try:
                    with self.assertRaises(ssl.SSLCertVerificationError):
                        conn.starttls(one.ssl_context())
                finally:
                    try:
                        conn.shutdown()
                    except OSError:
                        pass

                # rawlog: count what a client sent after login
                self.assertTrue(two.rawlog_enabled())
                self.assertFalse(one.rawlog_enabled())
                conn = two.imap("Raw")
                conn.select("INBOX")
                conn.noop()
                conn.noop()
                conn.logout()
                cmds = wait_for(lambda: two.rawlog_commands("raw"), what="rawlog")
                verbs = [c.split()[1].upper() for c in cmds]
                self.assertEqual(verbs, ["SELECT", "NOOP", "NOOP", "LOGOUT"])
                two.rawlog_clear("raw")
                self.assertEqual(two.rawlog_commands("raw"), [])

                # a connected client must not keep a Dovecot process alive after stop
                sessions += [one.imap("linger"), two.imap("linger")]
                pgids = [one.dovecot_pid, one.postfix_pid, two.dovecot_pid, two.postfix_pid]
                for pgid in pgids:
                    self.assertNotEqual(group_alive(pgid), [])
                p = cli("stop", d1)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(group_alive(one.dovecot_pid), [])
                self.assertEqual(group_alive(one.postfix_pid), [])
                self.assertTrue(refused(one.imap_port))
                self.assertFalse(refused(two.imap_port))  # the other stack is untouched
                self.assertEqual(cli("status", d1).returncode, 1)
                p = cli("stop", d1, "--rm")  # again: already stopped is fine
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertFalse(os.path.exists(d1))
                self.assertEqual(cli("stop", d1).returncode, 0)  # and with DIR gone
            finally:
                two.stop(remove=True)
            self.assertEqual(group_alive(two.dovecot_pid), [])
            self.assertEqual(group_alive(two.postfix_pid), [])
            self.assertFalse(os.path.exists(two.dir))
            for s in sessions:
                s.shutdown()

    def test_start_reuses_its_own_dir_and_refuses_others(self):
        with tempfile.TemporaryDirectory() as parent:
            p = cli("start", os.path.join(parent, "hidden"))  # parent is 0700
            self.assertEqual(p.returncode, 1)
            self.assertIn("cannot be traversed", p.stderr)
            self.assertFalse(os.path.exists(os.path.join(parent, "hidden")))
            os.chmod(parent, 0o755)
            foreign = os.path.join(parent, "foreign")
            os.mkdir(foreign)
            with open(os.path.join(foreign, "keep.txt"), "w") as f:
                f.write("not a stack")
            p = cli("start", foreign)
            self.assertEqual(p.returncode, 1)
            self.assertIn("not a mail stack folder", p.stderr)
            self.assertTrue(os.path.exists(os.path.join(foreign, "keep.txt")))

            d = os.path.join(parent, "again")
            first = MailStack.start(d)
            first.deliver("old", mail("old@example.test"))
            second = MailStack.start(d)  # stops the first and starts clean in the same folder
            try:
                self.assertEqual(group_alive(first.dovecot_pid), [])
                self.assertEqual(group_alive(first.postfix_pid), [])
                self.assertEqual(count(second, "old"), 0)
                self.assertNotEqual(first.password, second.password)
            finally:
                second.stop(remove=True)


if __name__ == "__main__":
    unittest.main()
