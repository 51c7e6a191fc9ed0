"""The keywords file (conf/keywords.conf format, [gateway] keywords_file) is configuration: a
broken one is refused where the configuration is checked (pahtd at start and --check-config,
SIGHUP, pahtctl ingest and reprocess), and the daemon's parser keeps the lists it was given
until a reload accepts new ones. Before, --check-config said OK and then every ingest failed."""
import os
import shutil
import signal
import tempfile
import unittest

import daemontest
import pahttest

# a phrase no built-in list has: only the province's file makes it an emergency
OLD_PHRASE = "cột điện gãy đổ"
NEW_PHRASE = "dây điện rơi xuống đường"
GOOD = f"[emergency]\n{OLD_PHRASE}\n"
BROKEN = f"[emergency]\n{OLD_PHRASE}\n\n[khẩn cấp]\nđang cháy\n"  # line 4: no such section


def keywords_gateway(stack, text):
    gw = pahttest.Gateway(stack, pahttest.unique("paht"),
                          overrides={("imap", "poll_seconds"): 600})
    path = os.path.join(gw.dir, "keywords.conf")
    write(path, text)
    gw.config["gateway"]["keywords_file"] = path
    gw.write_config()
    return gw, path


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def mail(gw, who, subject, body):
    return pahttest.make_mail(who, gw.address, subject, body + pahttest.complete_details())


def classified(gw, n):
    """once GW has N drafts: each draft's classification, by subject"""
    drafts = pahttest.wait_for(lambda: len(gw.pahtctl_json("drafts")) == n
                               and gw.pahtctl_json("drafts"), timeout=30, what=f"{n} drafts")
    return {d["subject"]: d["classification"] for d in drafts}


class BrokenKeywordsRefused(unittest.TestCase):
    def assert_names_the_fault(self, run, path):
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn(path, run.stderr)
        self.assertIn("line 4", run.stderr)
        self.assertIn("[khẩn cấp]", run.stderr)

    def test_check_config_start_and_ingest_refuse_a_broken_keywords_file(self):
        stack = pahttest.shared_stack()
        gw, path = keywords_gateway(stack, BROKEN)
        self.assert_names_the_fault(gw.pahtd("--check-config"), path)

        # pahtd does not start: the mail stays on the server, untouched and unrecorded
        who = daemontest.citizen(stack)
        gw.deliver(mail(gw, who, "Cột điện", f"Có {OLD_PHRASE} ở đầu hẻm."), sender=who)
        self.assert_names_the_fault(gw.pahtd("--once"), path)
        self.assertEqual(gw.count("INBOX"), 1)
        self.assertEqual(gw.pahtctl_json("drafts"), [])

        # pahtctl ingest refuses before it records anything
        eml = os.path.join(gw.dir, "report.eml")
        with open(eml, "wb") as f:
            f.write(mail(gw, who, "Cột điện", f"Có {OLD_PHRASE} ở đầu hẻm."))
        self.assert_names_the_fault(gw.pahtctl("ingest", eml), path)
        self.assert_names_the_fault(gw.pahtctl("reprocess", "1"), path)
        self.assertEqual(gw.pahtctl_json("drafts"), [])

        # mended, everything goes through, and the province's phrase counts
        write(path, GOOD)
        ok = gw.pahtd("--check-config")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertEqual(gw.pahtctl_json("ingest", eml)[0]["classification"], "emergency")


class Reload(unittest.TestCase):
    def test_sighup_refuses_a_broken_keywords_file_and_the_parser_keeps_its_lists(self):
        stack = pahttest.shared_stack()
        gw, path = keywords_gateway(stack, GOOD)
        proc = gw.start_pahtd()
        pahttest.wait_for(lambda: "parser process" in gw.log(), what="pahtd started")
        who = daemontest.citizen(stack)

        # broken on disk and refused on SIGHUP: the mail is still read with the lists in use
        write(path, BROKEN)
        proc.send_signal(signal.SIGHUP)
        pahttest.wait_for(lambda: "configuration is refused" in gw.log(), what="the refusal")
        refusal = [line for line in gw.log().splitlines() if "is refused" in line]
        self.assertIn(path, refusal[0])
        self.assertIn("line 4", refusal[0])
        gw.deliver(mail(gw, who, "Sự cố điện 1", f"Có {OLD_PHRASE} ở đầu hẻm."), sender=who)
        drafts = pahttest.wait_for(lambda: gw.pahtctl_json("drafts"), timeout=30,
                                   what="the first mail drafted with the running lists")
        self.assertEqual([d["classification"] for d in drafts], ["emergency"])
        self.assertEqual(gw.count("PAHT/Quarantine"), 0)

        # mended with another phrase and reloaded: the new lists apply from the next mail
        write(path, f"[emergency]\n{NEW_PHRASE}\n")
        proc.send_signal(signal.SIGHUP)
        pahttest.wait_for(lambda: "configuration reloaded" in gw.log(), what="the reload")
        gw.deliver(mail(gw, who, "Sự cố điện 2", f"Có {OLD_PHRASE} ở đầu hẻm."), sender=who)
        gw.deliver(mail(gw, who, "Sự cố điện 3", f"Có {NEW_PHRASE} trước nhà số 5."),
                   sender=who)
        self.assertEqual(classified(gw, 3), {"Sự cố điện 1": "emergency",
                                             "Sự cố điện 2": "report",
                                             "Sự cố điện 3": "emergency"})
        self.assertEqual(gw.stop_pahtd(proc), 0)
        self.assertNotIn("cannot be parsed", gw.log())

    def test_a_reload_refused_for_a_template_leaves_the_parsers_lists(self):
        # a good keywords file and a broken template in one reload: refused, and a parser
        # started after it (here after a crash) still reads the lists in use
        stack = pahttest.shared_stack()
        gw, path = keywords_gateway(stack, GOOD)
        broken = tempfile.mkdtemp(prefix="paht-templates-")
        self.addCleanup(shutil.rmtree, broken, ignore_errors=True)
        shutil.copytree(gw.config["gateway"]["templates_dir"], broken, dirs_exist_ok=True)
        with open(os.path.join(broken, "reminder.txt"), "a", encoding="utf-8") as f:
            f.write("{{#never_closed}}\n")
        proc = gw.start_pahtd(env={"PAHT_TEST_FAULT": "crash-on-subject:crash-the-parser"})
        pahttest.wait_for(lambda: "parser process" in gw.log(), what="pahtd started")
        write(path, f"[emergency]\n{NEW_PHRASE}\n")
        gw.config["gateway"]["templates_dir"] = broken
        gw.write_config()
        proc.send_signal(signal.SIGHUP)
        pahttest.wait_for(lambda: "configuration is refused" in gw.log(), what="the refusal")
        self.assertIn("reminder.txt", gw.log())
        who = daemontest.citizen(stack)
        gw.deliver(mail(gw, who, "crash-the-parser", "Thư thử."), sender=who)
        pahttest.wait_for(lambda: gw.count("PAHT/Quarantine") == 1, timeout=30,
                          what="the mail the parser crashed on kept aside")
        gw.deliver(mail(gw, who, "Sự cố điện 1", f"Có {OLD_PHRASE} ở đầu hẻm."), sender=who)
        gw.deliver(mail(gw, who, "Sự cố điện 2", f"Có {NEW_PHRASE} trước nhà số 5."),
                   sender=who)
        self.assertEqual(classified(gw, 2), {"Sự cố điện 1": "emergency",
                                             "Sự cố điện 2": "report"})
        self.assertEqual(gw.stop_pahtd(proc), 0)


if __name__ == "__main__":
    unittest.main()
