"""daemontest: helpers shared by the tests of the running daemon (tests/integration/test_daemon_*.py).

Python standard library only, on top of pahttest (the gateway under test) and the harness
(tests/harness/mailstack.py).
"""

import base64
import email.utils
import errno
import os
import re
import smtplib
import subprocess
import time

import pahttest


def citizen(stack, prefix="dan"):
    """A fresh citizen address on STACK."""
    return f"{pahttest.unique(prefix)}@{stack.domain}"


class Gate:
    """A FIFO where pahtd waits, given to it as a PAHT_TEST_FAULT ...-gate:FIFO: it opens the
    FIFO for reading, which blocks until the test opens it for writing. Made in DIRECTORY
    under NAME; close() when done (a TestCase's cleanup)."""

    def __init__(self, directory, name):
        self.path = os.path.join(directory, name)
        os.mkfifo(self.path, 0o600)
        self.writer = None

    def open(self, what, timeout=60):
        """Lets what waits at the gate go on (ENXIO until something does) and keeps the FIFO
        open, so that whatever comes to the gate later passes it at once."""
        def opened():
            try:
                self.writer = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as e:
                if e.errno == errno.ENXIO:
                    return False
                raise
            return True
        pahttest.wait_for(opened, timeout=timeout, what=what)

    def close(self):
        if self.writer is not None:
            os.close(self.writer)
            self.writer = None


def deliver_many(stack, rcpt, messages, sender="citizen@example.test"):
    """LMTP-deliver every (sender, bytes) of MESSAGES to RCPT over one connection: hundreds a
    second, as a busy day's mail arrives."""
    with smtplib.LMTP(stack.listen, stack.lmtp_port, timeout=60) as lmtp:
        for frm, data in messages:
            refused = lmtp.sendmail(frm or sender, [rcpt], data)
            if refused:
                raise AssertionError(f"LMTP refused {refused}")


def big_mail(frm, to, subject, body, filename, content_type, payload):
    """A multipart message carrying PAYLOAD base64-encoded, built directly (the email package
    takes seconds per 100 MB)."""
    boundary = "=_paht_big_" + os.urandom(8).hex()
    head = (
        f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: {email.utils.formatdate(localtime=True)}\r\n"
        f"Message-ID: {email.utils.make_msgid(domain='example.test')}\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        f"{body}\r\n"
        f"--{boundary}\r\nContent-Type: {content_type}\r\n"
        f'Content-Disposition: attachment; filename="{filename}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode("utf-8")
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    return head + encoded + f"--{boundary}--\r\n".encode()


def doveadm(stack, *args):
    """doveadm with STACK's configuration; returns its output (raises on failure)."""
    return subprocess.run(["doveadm", "-c", stack.dovecot_conf, *args], check=True,
                          capture_output=True, text=True, timeout=300).stdout


def maildir(stack, address):
    """The Maildir of ADDRESS on STACK (the harness keeps mail under DIR/mail/DOMAIN/LOCAL)."""
    local, _, domain = address.partition("@")
    return os.path.join(stack.dir, "mail", domain, local, "Maildir")


def maildir_drop(stack, address, data):
    """Put DATA into ADDRESS's INBOX the way a local delivery agent does, straight into
    Maildir/new, with no Dovecot involved (it may be down): Dovecot finds it at its next look."""
    box = maildir(stack, address)
    owner = os.stat(os.path.join(stack.dir, "mail"))
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(box, sub), exist_ok=True)
    for d in (os.path.dirname(os.path.dirname(box)), os.path.dirname(box), box,
              *(os.path.join(box, s) for s in ("tmp", "new", "cur"))):
        os.chown(d, owner.st_uid, owner.st_gid)
        os.chmod(d, 0o700)
    name = f"{time.time():.6f}.P{os.getpid()}_{os.urandom(4).hex()}.mailstack"
    tmp = os.path.join(box, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.chown(tmp, owner.st_uid, owner.st_gid)
    os.chmod(tmp, 0o600)
    os.rename(tmp, os.path.join(box, "new", name))


def protocol_log(path):
    """The IMAP commands pahtd sent (PAHT_IMAP_PROTOCOL_LOG), one string each."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


TAGGED = re.compile(r"^\S+ ([A-Za-z]+(?: [A-Za-z]+)?)")


def command_name(line):
    """"12 UID FETCH 3 (...)" -> "UID FETCH"; "5 IDLE" -> "IDLE"; "DONE" (the end of IDLE,
    RFC 2177, not a command of its own) -> None."""
    if line.strip() == "DONE":
        return None
    m = TAGGED.match(line)
    if not m:
        return None
    words = m.group(1).upper().split()
    return " ".join(words) if words[0] == "UID" else words[0]


def peak_rss_kb(pid):
    """VmHWM of process PID (kB): the most memory it ever had resident."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmHWM for {pid}")


def children(pid):
    """PIDs of the children of PID."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(x) for x in f.read().split()]
        except FileNotFoundError:
            pass
    return found


def built_with_asan():
    """The programs under test carry AddressSanitizer (its shadow memory and quarantine make
    resident-memory bounds meaningless)."""
    with open(pahttest.Gateway.binary("pahtd"), "rb") as f:
        return b"__asan_init" in f.read()


def ids_in_alerts(messages):
    """Raw message numbers named by "pahtctl reprocess N" in IOC alerts."""
    found = []
    for m in messages:
        text = pahttest.plain_text(m)
        found += [int(n) for n in re.findall(r"pahtctl reprocess (\d+)", text)]
    return found
