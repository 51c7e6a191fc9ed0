"""mailboxtest: helpers for the tests of mail that must never be skipped or stuck
(tests/integration/test_daemon_stuck_*.py and their neighbours), on top of pahttest and
daemontest. Python standard library only.
"""

import datetime
import glob
import os
import sqlite3

import daemontest
import pahttest
from mailstack import MailStack

# A Tuesday, inside working hours (Asia/Ho_Chi_Minh): every test here says when "now" is.
START = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=pahttest.VN_TZ)


def at(minutes):
    """PAHT_NOW for START + MINUTES."""
    return (START + datetime.timedelta(minutes=minutes)).isoformat()


def maildir_file(stack, address, message_id):
    """The Maildir file (new/ or cur/) of ADDRESS's INBOX holding MESSAGE_ID; it moves from
    new/ to cur/ when a client first looks, so look again after every session."""
    box = daemontest.maildir(stack, address)
    needle = f"<{message_id}>".encode()
    for path in glob.glob(os.path.join(box, "new", "*")) + glob.glob(os.path.join(box, "cur", "*")):
        with open(path, "rb") as f:
            if needle in f.read():
                return path
    raise AssertionError(f"no Maildir file of {address} holds {message_id}")


def rows(gw, sql, *args):
    """The rows of SQL on GW's database (read-only)."""
    with sqlite3.connect(f"file:{gw.database}?mode=ro", uri=True, timeout=30) as db:
        return db.execute(sql, args).fetchall()


def once(gw, minutes, **env):
    """pahtd --once with the clock at START + MINUTES, its IMAP commands logged to
    gw.dir/imap.log; asserts it exits 0 and returns the run."""
    env.setdefault("PAHT_IMAP_PROTOCOL_LOG", protocol_log_path(gw))
    env["PAHT_NOW"] = at(minutes)
    run = gw.pahtd("--once", env=env)
    if run.returncode != 0:
        raise AssertionError(f"pahtd --once exited {run.returncode}: {run.stderr}")
    return run


def protocol_log_path(gw):
    return os.path.join(gw.dir, "imap.log")


def fetches_of(gw, uid):
    """How many times pahtd asked for the body of UID."""
    return sum(1 for line in daemontest.protocol_log(protocol_log_path(gw))
               if f"UID FETCH {uid} " in line and "BODY.PEEK[]" in line)


def uid_of(stack, gw, message_id):
    """The UID of MESSAGE_ID in GW's INBOX, or None when it is not there. Read from Dovecot's
    own list (Maildir/dovecot-uidlist), so that it works for a message the server cannot read."""
    try:
        path = maildir_file(stack, gw.address, message_id)
    except AssertionError:
        return None
    base = os.path.basename(path).split(":2,")[0]
    with open(os.path.join(daemontest.maildir(stack, gw.address), "dovecot-uidlist")) as f:
        for line in f.read().splitlines()[1:]:
            head, _, name = line.partition(":")
            if name == base:
                return int(head.split()[0])
    return None


def report(who, gw, subject, message_id):
    """A complete citizen's report from WHO (it gets the acknowledgement, not the "please
    complete" letter)."""
    return pahttest.make_mail(who, gw.address, subject,
                              "Nội dung phản ánh.\n" + pahttest.complete_details(),
                              message_id=f"<{message_id}>")


class PrivateStack:
    """Mixin for a unittest.TestCase class on a stack of its own, whose IMAP server behaves as
    IMAP_SETTINGS (Dovecot settings) and UNUSUAL (the harness's unusual configurations) make
    it: another server's ways."""

    imap_settings = {}
    unusual = {}

    @classmethod
    def setUpClass(cls):
        cls.stack = MailStack.start(imap_settings=cls.imap_settings, unusual=cls.unusual)

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop(remove=True)
