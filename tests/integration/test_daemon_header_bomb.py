"""Headers cannot blow up memory (issue 11, item 3). Two mails built to do it (150,000 To:
addresses in 3.2 MB; an 8 MB Subject) and a citizen's report behind them: the daemon fetches
sizes, never an ENVELOPE; the parser refuses both header blocks (kept aside, quarantined, the
IOC told); the report is drafted and answered; and neither pahtd nor its parser process ever
has 40 MB resident (VmHWM, the README's promise), nor does the daemon restart its parser."""
import os
import re
import unittest

import daemontest
import header_bombs
import mailboxtest
import pahttest

PEAK_LIMIT_KB = 40 * 1024


class HeaderBomb(unittest.TestCase):
    def test_header_bombs_set_aside_within_40_mb_and_mail_behind_answered(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"),
                              overrides={("imap", "poll_seconds"): 600})
        spammer = daemontest.citizen(stack, "spam")
        who = daemontest.citizen(stack, "dan")
        bombs = header_bombs.both(spammer, gw.address)
        self.assertGreater(len(bombs[0]), 3 * 1000 * 1000)
        self.assertGreater(len(bombs[1]), 8 * 1000 * 1000)
        for bomb in bombs:
            daemontest.maildir_drop(stack, gw.address, bomb)
        stack.deliver(gw.address, mailboxtest.report(who, gw, "Đèn đường hỏng", "behind@x"),
                      sender=who)
        del bombs

        log = mailboxtest.protocol_log_path(gw)
        proc = gw.start_pahtd(env={"PAHT_NOW": mailboxtest.at(0),
                                   "PAHT_IMAP_PROTOCOL_LOG": log})
        pahttest.wait_for(lambda: gw.count("PAHT/Quarantine") == 2 and gw.count("INBOX") == 0,
                          timeout=120, what="both bombs in quarantine, the inbox empty")
        drafts = pahttest.wait_for(lambda: gw.pahtctl_json("drafts"), what="the draft")
        pahttest.wait_for(lambda: pahttest.count(stack, who) == 1, what="the acknowledgement")
        workers = daemontest.children(proc.pid)
        self.assertEqual(len(workers), 2, "two parser processes (parser_processes' default)")
        peaks = {"pahtd": daemontest.peak_rss_kb(proc.pid),
                 **{f"parser {pid}": daemontest.peak_rss_kb(pid) for pid in workers}}
        self.assertEqual(gw.stop_pahtd(proc), 0)
        print(f"\n# peak RSS (VmHWM) with both header bombs: {peaks} kB")

        self.assertEqual([d["subject"] for d in drafts], ["Đèn đường hỏng"])
        # no parser was replaced (they refused; they did not die)
        self.assertEqual(len(re.findall(r"parser process \d+ ready", gw.log())), 2, gw.log())
        reasons = [m.get_body(("plain",)).get_content()
                   for m in pahttest.wait_for(
                       lambda: len(pahttest.messages(stack, gw.ioc_address)) == 2
                       and pahttest.messages(stack, gw.ioc_address), what="two IOC alerts")]
        for text in reasons:
            self.assertIn("header block over 256 KiB", text)
        # sizes first, never an ENVELOPE
        commands = daemontest.protocol_log(log)
        self.assertFalse([c for c in commands if "ENVELOPE" in c], commands)
        self.assertTrue([c for c in commands if "RFC822.SIZE" in c], commands)
        self.assertEqual(pahttest.count(stack, spammer), 0)  # nothing answered to them

        if daemontest.built_with_asan():
            self.skipTest(f"AddressSanitizer build: resident memory is not the program's "
                          f"({peaks} kB); the bound is checked in the normal build")
        for name, peak in peaks.items():
            self.assertLess(peak, PEAK_LIMIT_KB, f"{name} peak RSS {peak} kB")

    def test_parser_process_memory_is_capped(self):
        """The parser process runs under an address-space limit (setrlimit), so that mail
        built to exhaust memory ends that process alone, never the host."""
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"),
                              overrides={("imap", "poll_seconds"): 600})
        proc = gw.start_pahtd()
        pahttest.wait_for(lambda: "parser process" in gw.log(), what="the parser process")
        workers = pahttest.wait_for(lambda: len(daemontest.children(proc.pid)) == 2
                                    and daemontest.children(proc.pid),
                                    what="both parser processes")
        # a parser limits itself before it says READY, which pahtd logs: a child just forked
        # still has pahtd's limits (this test once read them)
        pahttest.wait_for(lambda: all(f"parser process {pid} ready" in gw.log() for pid in workers),
                          what="both parser processes ready")
        lines = []
        for pid in workers:
            with open(f"/proc/{pid}/limits") as f:
                lines.append([l for l in f if l.startswith("Max address space")][0])
        with open(f"/proc/{proc.pid}/limits") as f:
            daemon_line = [l for l in f if l.startswith("Max address space")][0]
        self.assertEqual(gw.stop_pahtd(proc), 0)
        self.assertIn("unlimited", daemon_line)
        for line in lines:
            if daemontest.built_with_asan():
                self.assertIn("unlimited", line)  # ASan needs its shadow memory
                continue
            soft = int(line.split()[3])
            self.assertLess(soft, 2 * 1024 * 1024 * 1024, line)

    def test_service_unit_bounds_memory(self):
        """systemd bounds pahtd and its parser together (MemoryMax=)."""
        unit = os.path.join(os.environ["PAHT_SOURCE_DIR"], "conf", "pahtd.service.in")
        with open(unit, encoding="utf-8") as f:
            settings = dict(line.strip().split("=", 1) for line in f
                            if "=" in line and not line.startswith("#"))
        self.assertTrue(settings.get("MemoryMax", "").endswith("M"), settings)
        self.assertLessEqual(int(settings["MemoryMax"][:-1]), 512)


if __name__ == "__main__":
    unittest.main()
