"""Group commit (issue 18): pahtd's mailbox pass writes a batch's raw files, attachments and rows
without an fsync each, and syncs them all at once before the batch's UID MOVE. The guarantees
stay those of SPEC §8: a message leaves the inbox only once what it became is on the disk, and
a crash anywhere loses and doubles nothing.

- pahtd killed (like kill -9) after the sync, before the MOVE: the next pass moves the batch,
  nothing is fetched, drafted or answered twice;
- what a power cut before the sync can leave (a row on the disk whose raw file or attachment is
  cut short, or its blocks never written): the next pass does not trust a file by its name; a
  damaged raw file is downloaded again from the inbox, a damaged attachment written again from
  the message, before the message leaves the inbox;
- the sync of a full batch runs in the background: the pass downloads and parses on, and the
  batch leaves the inbox only once its sync is over;
- a sync that fails (the disk could not write something): nothing more leaves the inbox in that
  pass, and the daemon's next pass checks the files of what is still there, from the disk,
  before any of it leaves; pahtd --once copies the database whole into its file before it
  exits, even with another connection open.
"""
import hashlib
import os
import re
import sqlite3
import unittest

import daemontest
import mailboxtest
import pahttest
from mailboxtest import once, rows

PHOTO = bytes(range(256)) * 64  # 16 KiB: "a photo of the pothole"


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class ThreeReports(unittest.TestCase):
    """A gateway and three citizens, whose reports (one with a photo) deliver_reports puts in
    the inbox (no test of its own: the classes below share it)."""

    def setUp(self):
        self.stack = pahttest.shared_stack()
        self.gw = pahttest.Gateway(self.stack, pahttest.unique("paht"))
        self.citizens = [f"{pahttest.unique(n)}@{self.stack.domain}" for n in ("an", "binh", "chi")]

    def deliver_reports(self):
        for i, who in enumerate(self.citizens):
            attachments = [("o-ga.jpg", "image/jpeg", PHOTO)] if i == 0 else None
            self.gw.deliver(pahttest.make_mail(
                who, self.gw.address, f"Ổ gà số {i}",
                "Nội dung phản ánh.\n" + pahttest.complete_details(), attachments=attachments,
                message_id=f"<{pahttest.unique('m')}@example.test>"), sender=who)
        self.assertEqual(self.gw.count("INBOX"), 3)

    def commands_since_mark(self):
        with open(mailboxtest.protocol_log_path(self.gw)) as f:
            return f.read().splitlines()[self.before:]

    def mark_commands(self):
        """What commands_since_mark leaves out: those sent so far."""
        with open(mailboxtest.protocol_log_path(self.gw)) as f:
            self.before = len(f.read().splitlines())

    def check_finished_once(self):
        gw = self.gw
        self.assertEqual(gw.count("INBOX"), 0)
        self.assertEqual(gw.count("PAHT/Processed"), 3)
        self.assertEqual(rows(gw, "SELECT state, count(*) FROM raw_message GROUP BY state"),
                         [("moved", 3)])
        self.assertEqual(rows(gw, "SELECT count(*) FROM report"), [(3,)])
        # one acknowledgement each in the outbox, and in the citizen's mailbox
        self.assertEqual(rows(gw, "SELECT rcpt, count(*) FROM outbox WHERE kind = 'ack'"
                                  " GROUP BY rcpt ORDER BY rcpt"),
                         [(who, 1) for who in sorted(self.citizens)])
        for who in self.citizens:
            pahttest.wait_for(lambda: pahttest.count(self.stack, who) == 1, what="one ack each")
        # every file is whole: its size and digest are its row's
        for path, size, digest in rows(gw, "SELECT path, size, sha256 FROM raw_message"
                                           " UNION ALL SELECT path, size, sha256 FROM attachment"):
            self.assertEqual(os.path.getsize(path), size, path)
            self.assertEqual(sha256_of(path), digest, path)


class GroupCommit(ThreeReports):
    def setUp(self):
        super().setUp()
        self.deliver_reports()

    def kill_before_move(self):
        """pahtd --once dying right after the group commit's sync, before its UID MOVE"""
        gw = self.gw
        env = {"PAHT_NOW": mailboxtest.at(0), "PAHT_TEST_FAULT": "exit-before-move",
               "PAHT_IMAP_PROTOCOL_LOG": mailboxtest.protocol_log_path(gw)}
        killed = gw.pahtd("--once", env=env)
        self.assertEqual(killed.returncode, 3, killed.stderr)
        self.assertIn("exiting after the sync, before a UID MOVE", killed.stderr)
        self.assertEqual(gw.count("INBOX"), 3)
        self.assertEqual(gw.count("PAHT/Processed"), 0)
        self.assertEqual(rows(gw, "SELECT state, count(*) FROM raw_message GROUP BY state"),
                         [("processed", 3)])
        self.mark_commands()

    def test_killed_between_the_sync_and_the_move_moves_once_and_answers_once(self):
        self.kill_before_move()
        again = once(self.gw, 1)
        self.assertNotIn("damaged", again.stderr)
        commands = self.commands_since_mark()
        # nothing downloaded again: the files the sync made durable are trusted once checked
        self.assertFalse([c for c in commands if "BODY.PEEK[]" in c], commands)
        self.assertEqual(len([c for c in commands if " UID MOVE " in c]), 1, commands)
        self.check_finished_once()

    def test_files_a_power_cut_damaged_are_written_again_not_trusted(self):
        gw = self.gw
        self.kill_before_move()
        # what a power cut before the sync can leave under the rows that reached the disk:
        # a raw file cut short, and an attachment of the right size whose blocks were never
        # written (zeros)
        (raw_path, raw_size), = rows(gw, "SELECT path, size FROM raw_message"
                                         " ORDER BY id LIMIT 1 OFFSET 1")
        with open(raw_path, "r+b") as f:
            f.truncate(raw_size // 2)
        (att_path, att_size, att_digest), = rows(gw, "SELECT path, size, sha256 FROM attachment")
        self.assertEqual(att_digest, hashlib.sha256(PHOTO).hexdigest())
        with open(att_path, "wb") as f:
            f.write(b"\0" * att_size)

        again = once(gw, 1)
        self.assertIn("its raw file was damaged by a crash", again.stderr)
        self.assertIn("downloaded again", again.stderr)
        commands = self.commands_since_mark()
        self.assertEqual(len([c for c in commands if "BODY.PEEK[]" in c]), 1, commands)
        self.check_finished_once()
        with open(att_path, "rb") as f:
            self.assertEqual(f.read(), PHOTO)


class PageCache(ThreeReports):
    """The pass writes each raw mail and photo once, and nobody reads them again soon (an
    operator opens the report later, from the disk). Once a batch's sync is over, the page
    cache lets go of their pages (fs_forget_cached) instead of growing by all the pass wrote
    and pushing the database's pages out; after a sync that failed they stay, holding the
    bytes the disk may lack (ExitAfterSyncFailure)."""

    def test_the_files_of_a_synced_batch_leave_the_page_cache(self):
        gw = self.gw
        self.deliver_reports()
        run = once(gw, 0, PAHT_LOG_LEVEL="debug")
        files = cached_files(gw)
        self.assertEqual(len(files), 4)  # three raw mails and the photo
        if None in files.values():
            self.skipTest("the gateway's folder is on tmpfs")
        self.assertEqual(files, {path: 0 for path in files})
        self.assertIn("the page cache let go of the 4 files the sync made durable", run.stderr)
        self.check_finished_once()  # and they read the same from the disk


def cached_files(gw):
    """{path: pages in the page cache} of the gateway's raw mail and attachments"""
    return {path: pahttest.pages_cached(path) for (path,) in rows(
        gw, "SELECT path FROM raw_message UNION ALL SELECT path FROM attachment")}


class ExitAfterSyncFailure(ThreeReports):
    """pahtd --once whose sync fails exits with no pass left to try the disk again. SQLite
    copies the WAL into the database file when its last connection closes, but another
    connection left open (pahtweb's) keeps it, and a crash after the exit would read its frames
    from the disk, where the failed write may have spoiled them. pahtd copies it whole before it
    exits; the next run checks the files and moves each message once."""

    def test_the_database_is_copied_whole_before_the_exit_with_another_connection_open(self):
        gw = self.gw
        once(gw, 0)  # an empty inbox: the database made
        other = sqlite3.connect(gw.database, timeout=30)  # pahtweb's, say: open all along
        self.addCleanup(other.close)
        self.assertEqual(other.execute("SELECT count(*) FROM report").fetchall(), [(0,)])
        self.deliver_reports()
        self.assertEqual(gw.count("INBOX"), 3)

        env = {"PAHT_NOW": mailboxtest.at(1), "PAHT_TEST_FAULT": "sync-fail:1",
               "PAHT_IMAP_PROTOCOL_LOG": mailboxtest.protocol_log_path(gw),
               "PAHT_LOG_LEVEL": "debug"}
        failed = gw.pahtd("--once", env=env)
        self.assertNotEqual(failed.returncode, 0, failed.stderr)
        self.assertIn("PAHT_TEST_FAULT sync-fail", failed.stderr)
        self.assertIn("nothing leaves the inbox or the outbox until the next pass",
                      failed.stderr)
        # the files the failed sync covered keep their pages: the cache may hold the only
        # right copy (the next pass reads them from the disk)
        self.assertNotIn("the page cache let go", failed.stderr)
        files = cached_files(gw)
        self.assertEqual(len(files), 4)
        if None not in files.values():
            self.assertEqual([p for p, n in files.items() if n == 0], [])
        # the pass's rows were in the WAL, copied whole into the database file before the exit
        copied = re.search(r"synced again after a failed sync, with the database copied whole "
                           r"into its file \((\d+) KiB of WAL\)", failed.stderr)
        self.assertIsNotNone(copied, failed.stderr)
        self.assertGreater(int(copied.group(1)), 0)
        self.assertEqual(os.path.getsize(gw.database + "-wal"), 0)
        self.assertEqual(gw.count("INBOX"), 3)
        self.assertEqual(gw.count("PAHT/Processed"), 0)
        self.assertEqual(other.execute("SELECT state, count(*) FROM raw_message"
                                       " GROUP BY state").fetchall(), [("processed", 3)])

        # the next run, the other connection still open, moves each message once
        self.mark_commands()
        once(gw, 2)
        commands = self.commands_since_mark()
        self.assertEqual(len([c for c in commands if " UID MOVE " in c]), 1, commands)
        self.check_finished_once()


class HeldSync(unittest.TestCase):
    """MAILS reports in the inbox and a FIFO for PAHT_TEST_FAULT sync-gate, which holds the
    background sync of a batch until open_gate (no test of its own: the two below share it)."""

    MAILS = 100  # download groups of 32, 32, 18, 9, 4, 4 and 1 (smaller at the end of a pass)
    NAME = "bgsync"
    OVERRIDES = None
    SUBJECT = "Ổ gà số {i}"
    BODY = "Ổ gà thứ {i} trên đường.\n"

    def setUp(self):
        self.stack = pahttest.shared_stack()
        self.gw = pahttest.Gateway(self.stack, pahttest.unique(self.NAME),
                                   overrides=self.OVERRIDES)
        mails = []
        for i in range(self.MAILS):
            who = daemontest.citizen(self.stack)
            mails.append((who, pahttest.make_mail(
                who, self.gw.address, self.SUBJECT.format(i=i),
                self.BODY.format(i=i) + pahttest.complete_details(),
                message_id=f"<{pahttest.unique('m')}@example.test>")))
        daemontest.deliver_many(self.stack, self.gw.address, mails)
        self.assertEqual(self.gw.count("INBOX"), self.MAILS)
        self.gate = daemontest.Gate(self.gw.dir, "sync-gate")

    def tearDown(self):
        self.gate.close()
        self.gw.close()

    def open_gate(self):
        """Lets the held sync go on; every later sync passes the gate at once."""
        self.gate.open("the sync thread at its gate")


class SyncInBackground(HeldSync):
    """A full batch's sync runs in a thread of its own while the pass downloads and parses the
    next messages (gateway.c, gateway_make_durable_start); the batch leaves the inbox only when
    that sync is over. PAHT_TEST_FAULT sync-gate:FIFO holds the sync thread until the test
    opens the FIFO for writing; move-batch:1 makes every download group's end a batch's."""

    def test_the_pass_goes_on_while_a_batch_syncs_and_the_batch_moves_after(self):
        gw = self.gw
        env = {"PAHT_NOW": mailboxtest.at(0), "PAHT_LOG_LEVEL": "debug",
               "PAHT_TEST_FAULT": f"sync-gate:{self.gate.path},move-batch:1",
               "PAHT_IMAP_PROTOCOL_LOG": mailboxtest.protocol_log_path(gw)}
        proc = gw.start_pahtd("--once", env=env)
        began = re.compile(r"leave the inbox once a sync of the disk is over, begun after UID (\d+)")
        found = pahttest.wait_for(lambda: began.search(gw.log()), timeout=120,
                                  what="a batch's sync begun in the background")
        after = int(found.group(1))
        # by the queue's bound (64 in the parser) the first batch is full at the end of the
        # third group at the latest: a fourth is still to come
        self.assertLess(after, self.MAILS)
        # the sync is held, and the pass downloads and records what comes after it
        def newest_uid():
            return rows(gw, "SELECT max(uid) FROM raw_message")[0][0] or 0
        pahttest.wait_for(lambda: newest_uid() > after, timeout=120,
                          what="a message downloaded while the sync is held")
        self.assertIsNone(proc.poll())
        # ... but nothing leaves the inbox before its sync is over
        self.assertEqual(gw.count("INBOX"), self.MAILS)
        self.assertEqual(gw.count("PAHT/Processed"), 0)
        self.open_gate()
        self.assertEqual(proc.wait(timeout=120), 0, gw.log())
        self.assertEqual(gw.count("INBOX"), 0)
        self.assertEqual(gw.count("PAHT/Processed"), self.MAILS)
        self.assertEqual(rows(gw, "SELECT state, count(*) FROM raw_message GROUP BY state"),
                         [("moved", self.MAILS)])
        # one report each, none twice
        self.assertEqual(rows(gw, "SELECT count(*), count(DISTINCT report_id) FROM raw_message"),
                         [(self.MAILS, self.MAILS)])
        self.assertEqual(rows(gw, "SELECT count(*) FROM report"), [(self.MAILS,)])
        with open(mailboxtest.protocol_log_path(gw)) as f:
            moves = [c for c in f.read().splitlines() if " UID MOVE " in c]
        # the batch synced in the background, and what came after it
        self.assertGreaterEqual(len(moves), 2, moves)


class SyncFails(HeldSync):
    """A sync that fails tells that something written before it did not reach the disk, and
    not what: a file whose write failed keeps its right bytes in the page cache, so no later
    sync writes it again and no read sees the loss. After one, nothing leaves the inbox in that
    pass; the daemon's next pass (the same process, which no crash check would otherwise make
    look) checks the files of the messages still in the inbox from the disk, downloads a
    damaged one again, and only then moves them. PAHT_TEST_FAULT sync-fail:1 makes the
    process's first sync fail as a write-back error would; sync-gate holds that sync (a batch's,
    in the background) while the test damages a raw file it covers, as the failed write
    would have left it on the disk."""

    # as many as SyncInBackground's (HeldSync.MAILS): the parser's queue bound (64) makes the
    # pass collect, and so begin a batch's sync, before its downloads end, however slow the
    # parser is (with fewer, a loaded machine can download them all first)
    NAME = "syncfail"
    OVERRIDES = {("imap", "poll_seconds"): 600}
    SUBJECT = "Đèn đường hỏng số {i}"
    BODY = "Đèn đường số {i} không sáng.\n"

    def test_nothing_leaves_the_inbox_until_the_files_are_checked_from_the_disk(self):
        gw = self.gw
        log = mailboxtest.protocol_log_path(gw)
        env = {"PAHT_NOW": mailboxtest.at(0), "PAHT_LOG_LEVEL": "debug",
               "PAHT_TEST_FAULT": f"sync-gate:{self.gate.path},sync-fail:1,move-batch:1",
               "PAHT_IMAP_PROTOCOL_LOG": log}
        proc = gw.start_pahtd(env=env)
        began = re.compile(r"leave the inbox once a sync of the disk is over, begun after UID (\d+)")
        after = int(pahttest.wait_for(lambda: began.search(gw.log()), timeout=120,
                                      what="a batch's sync begun in the background").group(1))
        # a raw file the held sync covers, as the failed write left it on the disk: cut short.
        # A message already processed (its batch began the sync): one still in a parser's
        # queue would be parsed from the cut file
        (uid, path, size, digest), = rows(
            gw, "SELECT uid, path, size, sha256 FROM raw_message"
                " WHERE uid <= ? AND state = 'processed' ORDER BY uid LIMIT 1", after)
        with open(path, "r+b") as f:
            f.truncate(size // 2)
        self.assertEqual(mailboxtest.fetches_of(gw, uid), 0)  # it came in a group
        self.open_gate()

        # the failed pass moved nothing, not even its last batch; the next pass downloaded the
        # damaged file again before its first move, and moved every message once
        pahttest.wait_for(lambda: gw.count("PAHT/Processed") == self.MAILS, timeout=120,
                          what="every message moved after the next pass")
        self.assertEqual(gw.count("INBOX"), 0)
        text = gw.log()
        self.assertIn("PAHT_TEST_FAULT sync-fail", text)
        self.assertIn("nothing leaves the inbox or the outbox until the next pass", text)
        # the database copied whole into its file, and all synced again, before the next pass
        copied = re.search(r"synced again after a failed sync, with the database copied whole "
                           r"into its file \((\d+) KiB of WAL\)", text)
        self.assertIsNotNone(copied, text[-3000:])
        self.assertGreater(int(copied.group(1)), 0)
        self.assertIn("its raw file was damaged", text)
        commands = daemontest.protocol_log(log)
        moves = [i for i, c in enumerate(commands) if " UID MOVE " in c]
        again = [i for i, c in enumerate(commands)
                 if f"UID FETCH {uid} " in c and "BODY.PEEK[]" in c]
        self.assertEqual(len(again), 1, commands)
        self.assertLess(again[0], moves[0], commands)
        moved = [u for i in moves for u in uids_of(commands[i])]
        self.assertEqual(sorted(moved), sorted(set(moved)))
        self.assertEqual(len(moved), self.MAILS)
        self.assertEqual(os.path.getsize(path), size)
        self.assertEqual(sha256_of(path), digest)
        self.assertEqual(rows(gw, "SELECT state, count(*) FROM raw_message GROUP BY state"),
                         [("moved", self.MAILS)])
        self.assertEqual(rows(gw, "SELECT count(*), count(DISTINCT report_id) FROM raw_message"),
                         [(self.MAILS, self.MAILS)])
        self.assertEqual(gw.stop_pahtd(proc), 0, gw.log())


def uids_of(command):
    """The UIDs of "TAG UID MOVE 3:5,9 folder" as a list."""
    uids = []
    for part in command.split()[3].split(","):
        first, _, last = part.partition(":")
        uids.extend(range(int(first), int(last or first) + 1))
    return uids


if __name__ == "__main__":
    unittest.main()
