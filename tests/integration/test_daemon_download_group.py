"""A download group's messages are recorded together, in one transaction, once the group is in
(gateway/mailbox.c, record_arrived). One message of the group whose raw file cannot be stored
must cost the others nothing: they are drafted and moved; it stays in the inbox, is counted as
a failure and is taken again when its retry is due."""
import hashlib
import os
import re
import sqlite3
import unittest

import daemontest
import mailboxtest
import pahttest


def fetched_bytes(stack, gw):
    """Each INBOX message as pahtd downloads it (UID FETCH BODY.PEEK[]), by UID."""
    imap = stack.imap(gw.address)
    try:
        imap.select("INBOX", readonly=True)
        typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[])")
        assert typ == "OK", data
    finally:
        imap.logout()
    out = {}
    for item in data:
        if isinstance(item, tuple):
            uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
            out[uid] = item[1]
    return out


def tapered(first, count, later=0):
    """The download groups of `count` new UIDs from index `first` on, followed by `later` more in
    the pass: at most 32 a group (DOWNLOAD_GROUP_MAX), and half of what is left from a group's
    first UID on, at least 4, near the end of the pass (gateway/mailbox.c, group_limit). As
    (start, end) index pairs, end excluded."""
    groups, j = [], 0
    while j < count:
        limit = max(4, min(32, (count - j + later) // 2))
        size = min(limit, count - j)
        groups.append((first + j, first + j + size))
        j += size
    return groups


def gateway_with_reports(subjects):
    """A new gateway whose INBOX holds one complete report from one citizen per subject;
    returns it with the bytes of each message as pahtd downloads them, by UID."""
    stack = pahttest.shared_stack()
    gw = pahttest.Gateway(stack, pahttest.unique("paht"))
    who = daemontest.citizen(stack)
    mails = [pahttest.make_mail(who, gw.address, s, "Nội dung.\n" + pahttest.complete_details())
             for s in subjects]
    daemontest.deliver_many(stack, gw.address, [(who, m) for m in mails])
    return gw, fetched_bytes(stack, gw)


class DownloadGroup(unittest.TestCase):
    def test_a_file_that_cannot_be_stored_costs_the_rest_of_its_group_nothing(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"))
        who = daemontest.citizen(stack)
        subjects = ["Rác thải trước chợ", "Cây đổ giữa đường", "Đèn đường hỏng"]
        mails = [pahttest.make_mail(who, gw.address, s, "Nội dung.\n" + pahttest.complete_details())
                 for s in subjects]
        daemontest.deliver_many(stack, gw.address, [(who, m) for m in mails])
        raw = fetched_bytes(stack, gw)
        self.assertEqual(len(raw), 3)
        digests = {uid: hashlib.sha256(data).hexdigest() for uid, data in raw.items()}
        middle = sorted(digests)[1]
        # where the middle message's raw file goes, a folder that is not empty: the rename
        # onto it fails, and only that message's file cannot be stored
        blocked = os.path.join(gw.data_dir, "raw", digests[middle][:2], digests[middle] + ".eml")
        os.makedirs(os.path.join(blocked, "in-the-way"), 0o700)

        first = gw.pahtd("--once", env={"PAHT_NOW": mailboxtest.at(0)})
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertRegex(first.stderr, rf"message UID {middle} of INBOX could not be taken "
                                       r"\(failure 1\)")
        drafts = gw.pahtctl_json("drafts", env={"PAHT_NOW": mailboxtest.at(0)})
        self.assertEqual(sorted(d["subject"] for d in drafts), sorted([subjects[0], subjects[2]]))
        self.assertEqual(gw.count("INBOX"), 1)
        self.assertEqual(gw.count("PAHT/Processed"), 2)
        with sqlite3.connect(f"file:{gw.database}?mode=ro", uri=True, timeout=30) as db:
            stored = sorted(r[0] for r in db.execute("SELECT sha256 FROM raw_message"))
            failures = db.execute("SELECT uid, failures FROM message_failure").fetchall()
        # the two recorded are the bytes the server gave
        self.assertEqual(stored, sorted(d for u, d in digests.items() if u != middle))
        self.assertEqual(failures, [(middle, 1)])

        # the way cleared and its retry due (5 minutes): taken, drafted, moved, counted once
        os.rmdir(os.path.join(blocked, "in-the-way"))
        os.rmdir(blocked)
        again = gw.pahtd("--once", env={"PAHT_NOW": mailboxtest.at(10)})
        self.assertEqual(again.returncode, 0, again.stderr)
        drafts = gw.pahtctl_json("drafts", env={"PAHT_NOW": mailboxtest.at(10)})
        self.assertEqual(sorted(d["subject"] for d in drafts), sorted(subjects))
        self.assertEqual(gw.count("INBOX"), 0)
        self.assertEqual(gw.count("PAHT/Processed"), 3)
        acks = [o for o in gw.pahtctl_json("outbox") if o["kind"] == "ack"]
        self.assertEqual(len(acks), 3)

    def test_the_next_group_is_asked_for_while_one_is_recorded(self):
        """The next group's UID FETCH goes out before the group before it is recorded and
        given to the parser (the server sends while we record), and a message of that group
        whose file cannot be stored is still taken on its own before any later group is
        recorded: nothing lost, nothing out of order."""
        subjects = [f"Phản ánh số {i}: đèn đường hỏng" for i in range(70)]
        gw, raw = gateway_with_reports(subjects)
        uids = sorted(raw)
        self.assertEqual(len(uids), 70)
        # groups of 32, 19, 9, 5, 4, 1 (smaller towards the end of the pass); the fifth
        # message's file is blocked
        groups = tapered(0, 70)
        self.assertEqual(groups, [(0, 32), (32, 51), (51, 60), (60, 65), (65, 69), (69, 70)])
        stuck = uids[4]
        digest = hashlib.sha256(raw[stuck]).hexdigest()
        blocked = os.path.join(gw.data_dir, "raw", digest[:2], digest + ".eml")
        os.makedirs(os.path.join(blocked, "in-the-way"), 0o700)

        run = gw.pahtd("--once", env={"PAHT_NOW": mailboxtest.at(0), "PAHT_LOG_LEVEL": "debug"})
        self.assertEqual(run.returncode, 0, run.stderr)
        log = run.stderr.splitlines()

        def first(pattern):
            for i, line in enumerate(log):
                if re.search(pattern, line):
                    return i
            self.fail(f"no line matches {pattern!r}:\n{run.stderr}")

        second_asked = first(rf"UIDs {uids[32]}-{uids[50]} asked for, the 32 before them "
                             r"recorded meanwhile")
        third_asked = first(rf"UIDs {uids[51]}-{uids[59]} asked for, the 19 before them "
                            r"recorded meanwhile")
        # the last groups, ever smaller: the parser has each while the next arrives
        for (a, b), (c, d) in zip(groups[2:], groups[3:]):
            first(rf"UIDs {uids[c]}-{uids[d - 1]} asked for, the {b - a} before them "
                  r"recorded meanwhile")
        given = first(r"message \d+ given to parser process")
        stuck_failed = first(rf"message UID {stuck} of INBOX could not be taken \(failure 1\)")
        # the first group went to the parser only once the second was asked for
        self.assertLess(second_asked, given)
        # the stuck message was tried on its own before the third group was asked for, so
        # before the second group was recorded
        self.assertLess(stuck_failed, third_asked)

        drafts = gw.pahtctl_json("drafts", env={"PAHT_NOW": mailboxtest.at(0)})
        self.assertEqual(len(drafts), 69)
        self.assertNotIn(subjects[4], [d["subject"] for d in drafts])
        self.assertEqual(gw.count("INBOX"), 1)
        self.assertEqual(gw.count("PAHT/Processed"), 69)
        with sqlite3.connect(f"file:{gw.database}?mode=ro", uri=True, timeout=30) as db:
            failures = db.execute("SELECT uid, failures FROM message_failure").fetchall()
            rows = db.execute("SELECT COUNT(*) FROM raw_message").fetchone()[0]
        self.assertEqual(failures, [(stuck, 1)])
        self.assertEqual(rows, 69)

    def test_a_chunk_s_last_group_is_recorded_while_the_next_chunk_s_first_arrives(self):
        """The sizes of new mail are asked for a chunk at a time (512 UIDs; 32 here, by the
        size-chunk test fault). The last group of one chunk is not recorded at the chunk's end,
        with the server idle: the next chunk's sizes are asked for, its first group's UID FETCH
        goes out, and the group before is recorded while the server sends it. Every message
        ends as one draft, moved once. The last groups of the pass are smaller, and the disk
        syncs while the parser finishes the last of them."""
        subjects = [f"Ngập nước điểm {i}" for i in range(70)]
        gw, raw = gateway_with_reports(subjects)
        uids = sorted(raw)
        self.assertEqual(len(uids), 70)

        run = mailboxtest.once(gw, 0, PAHT_LOG_LEVEL="debug", PAHT_TEST_FAULT="size-chunk:32")
        commands = daemontest.protocol_log(mailboxtest.protocol_log_path(gw))
        sizes = [c for c in commands if "RFC822.SIZE" in c]
        bodies = [c for c in commands if "BODY.PEEK[]" in c]
        # three chunks (32, 32, 6), one size FETCH each; the chunks' groups: 32; 19, 9, 4;
        # 4, 2 (a group ends with its chunk, and the last ones are smaller)
        chunks = [tapered(0, 32, 38), tapered(32, 32, 6), tapered(64, 6)]
        self.assertEqual(chunks, [[(0, 32)], [(32, 51), (51, 60), (60, 64)], [(64, 68), (68, 70)]])
        self.assertEqual(len(sizes), 3, commands)
        self.assertEqual(len(bodies), 6, commands)
        # each chunk's size FETCH went out before its downloads, and after the chunk before's
        expected = []
        downloads = iter(bodies)
        for k, groups in enumerate(chunks):
            expected.append(sizes[k])
            expected += [next(downloads) for _ in groups]
        places = [commands.index(c) for c in expected]
        self.assertEqual(places, sorted(places), commands)
        # the last group of one chunk was recorded while the next chunk's first group arrived
        for (a, b), before in (((32, 51), 32), ((64, 68), 4)):
            self.assertRegex(run.stderr, rf"UIDs {uids[a]}-{uids[b - 1]} asked for, the {before} "
                                         r"before them recorded meanwhile")
        # with no batch syncing at the end, the disk syncs while the parser finishes
        self.assertRegex(run.stderr, r"the disk syncs while the parser finishes the last \d+ "
                                     r"messages")

        drafts = gw.pahtctl_json("drafts", env={"PAHT_NOW": mailboxtest.at(0)})
        self.assertEqual(sorted(d["subject"] for d in drafts), sorted(subjects))
        self.assertEqual(gw.count("INBOX"), 0)
        self.assertEqual(gw.count("PAHT/Processed"), 70)
        self.assertEqual(mailboxtest.rows(gw, "SELECT state, count(*) FROM raw_message"
                                              " GROUP BY state"), [("moved", 70)])

    def test_the_search_index_catches_up_while_a_group_arrives(self):
        """The console's search index is brought up to date during a long pass while the
        server sends a download group (every 256 messages collected; 32 here, by the
        search-step test fault), not all at the end of the pass with the server idle. The
        parser queue holds at most 64 messages, so by the fourth group 32 are collected
        whatever the machine's speed. Every report ends in the index once."""
        subjects = [f"Cống thoát nước số {i} bị tắc" for i in range(160)]
        gw, raw = gateway_with_reports(subjects)
        self.assertEqual(len(raw), 160)

        run = mailboxtest.once(gw, 0, PAHT_LOG_LEVEL="debug", PAHT_TEST_FAULT="search-step:32")
        log = run.stderr.splitlines()
        caught_up = [i for i, line in enumerate(log)
                     if re.search(r"the search index catches up while UIDs \d+-\d+ arrive", line)]
        given = [i for i, line in enumerate(log) if re.search(r"message \d+ given to parser", line)]
        self.assertTrue(caught_up, run.stderr)
        self.assertEqual(len(given), 160, run.stderr)
        # during the pass: messages still went to the parser after the first catch-up
        self.assertLess(caught_up[0], given[-1], run.stderr)

        with sqlite3.connect(f"file:{gw.database}?mode=ro", uri=True, timeout=30) as db:
            counts = [db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                      for table in ("report_search_docsize", "report_search_pending", "report")]
        self.assertEqual(counts, [160, 0, 160])
        self.assertEqual(gw.count("PAHT/Processed"), 160)
        # the last reports were indexed while the last batch synced, before it moved
        last = [i for i, line in enumerate(log)
                if re.search(r"the search index catches up while the last \d+ messages sync", line)]
        self.assertEqual(len(last), 1, run.stderr)


if __name__ == "__main__":
    unittest.main()
