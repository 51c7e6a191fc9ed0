"""Big mail is streamed, never held in memory (SPEC §3.1): a 100 MB message with a 75 MB video
becomes a draft whose attachment has the right SHA-256, while neither pahtd nor its parser
process ever has more than 40 MB resident (VmHWM, measured here)."""
import hashlib
import os
import random
import unittest

import daemontest
import pahttest

PEAK_LIMIT_KB = 40 * 1024


class BigMail(unittest.TestCase):
    def test_100_mb_message_is_drafted_with_flat_memory(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"), overrides={
            ("gateway", "max_message_bytes"): 200 * 1024 * 1024,
            ("imap", "poll_seconds"): 600,
        })
        who = daemontest.citizen(stack)
        # incompressible, like a real video, and reproducible
        payload = random.Random(20261128).randbytes(75 * 1024 * 1024)
        digest = hashlib.sha256(payload).hexdigest()
        mail = daemontest.big_mail(who, gw.address, "Video ngập nước đường Lê Lợi",
                                   "Video quay lúc 7 giờ sáng.", "ngap-nuoc.mp4", "video/mp4",
                                   payload)
        self.assertGreater(len(mail), 100 * 1000 * 1000)
        del payload
        stack.deliver(gw.address, mail, sender=who)
        del mail

        proc = gw.start_pahtd()
        drafts = pahttest.wait_for(lambda: gw.pahtctl_json("drafts"), timeout=240,
                                   what="the draft of the 100 MB message")
        # the acknowledgement is sent after the draft, in the same pass: stopping pahtd before
        # its outbox row says "sent" would leave it queued (on a loaded machine, it did)
        pahttest.wait_for(lambda: [o["state"] for o in gw.pahtctl_json("outbox")] == ["sent"],
                          timeout=120, what="the acknowledgement sent")
        workers = daemontest.children(proc.pid)
        self.assertEqual(len(workers), 2, "two parser processes (parser_processes' default)")
        peaks = {"pahtd": daemontest.peak_rss_kb(proc.pid),
                 **{f"parser {pid}": daemontest.peak_rss_kb(pid) for pid in workers}}
        self.assertEqual(gw.stop_pahtd(proc), 0)
        print(f"\n# peak RSS (VmHWM) while ingesting 100 MB: {peaks} kB")

        report = gw.pahtctl_json("show", drafts[0]["code"])
        self.assertEqual(len(report["attachments"]), 1)
        attachment = report["attachments"][0]
        self.assertEqual(attachment["filename"], "ngap-nuoc.mp4")
        self.assertEqual(attachment["kind"], "video")
        self.assertEqual(attachment["size"], 75 * 1024 * 1024)
        self.assertEqual(attachment["sha256"], digest)
        self.assertEqual(gw.count("PAHT/Processed"), 1)
        stack.wait_delivered([who])
        self.assertEqual(pahttest.count(stack, who), 1)

        if daemontest.built_with_asan():
            self.skipTest(f"AddressSanitizer build: resident memory is not the program's "
                          f"({peaks} kB); the bound is checked in the normal build")
        for name, peak in peaks.items():
            self.assertLess(peak, PEAK_LIMIT_KB, f"{name} peak RSS {peak} kB")


if __name__ == "__main__":
    unittest.main()
