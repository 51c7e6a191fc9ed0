"""The letters' templates (and the console's pages) are configuration the province edits: a
broken one is found where the configuration is checked, whatever letter would meet it and
whatever is in that letter. Before, `pahtd --check-config` said OK and pahtd started; the
fault showed at the first letter that needed the template: every acknowledgement (each pass
failing, the IOC told after 30 minutes that the mailbox was unreachable), or a reminder on the
day its deadline neared."""
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

import daemontest
import pahttest


def templates_gateway(stack):
    templates = tempfile.mkdtemp(prefix="paht-templates-")
    shutil.copytree(os.environ["PAHT_TEMPLATES_DIR"], templates, dirs_exist_ok=True)
    gw = pahttest.Gateway(stack, pahttest.unique("tpl"),
                          overrides={("imap", "poll_seconds"): 600})
    gw.config["gateway"]["templates_dir"] = templates
    gw.write_config()
    return gw, templates


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def break_a_section(path, from_line=3):
    """The first closing tag on line FROM_LINE or later gets a wrong name (the editor's typo);
    returns the file as it was and the line of the typo."""
    was = read(path)
    lines = was.split("\n")
    for i in range(from_line - 1, len(lines)):
        if "{{/" in lines[i]:
            lines[i] = lines[i].replace("{{/", "{{/sai_", 1)
            write(path, "\n".join(lines))
            return was, i + 1
    raise AssertionError(f"{path}: no closing tag from line {from_line}")


def mail(gw, who, subject):
    return pahttest.make_mail(who, gw.address, subject,
                              "Đèn đường hỏng ở đầu hẻm 12." + pahttest.complete_details())


class BrokenTemplateRefused(unittest.TestCase):
    def assert_names_the_fault(self, run, path, line):
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn(path, run.stderr)
        self.assertIn(f"line {line}: closing tag {{{{/sai_", run.stderr)

    def pahtweb_check(self, gw):
        return subprocess.run(
            [gw.binary("pahtweb"), "-c", gw.config_path, "--check-config"],
            env=gw._env(None), stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=60, check=False)

    def test_check_config_start_ingest_and_the_console_refuse_a_broken_template(self):
        stack = pahttest.shared_stack()
        gw, templates = templates_gateway(stack)
        self.addCleanup(shutil.rmtree, templates, ignore_errors=True)
        gw.config["web"] = {"listen": "127.0.0.1:0"}
        gw.write_config()

        # a reminder goes out a day before a deadline: its fault would wait until then
        reminder = os.path.join(templates, "reminder.txt")
        was, line = break_a_section(reminder)
        self.assert_names_the_fault(gw.pahtd("--check-config"), reminder, line)

        # pahtd does not start: the mail stays on the server, untouched and unrecorded
        who = daemontest.citizen(stack)
        gw.deliver(mail(gw, who, "Đèn đường"), sender=who)
        self.assert_names_the_fault(gw.pahtd("--once"), reminder, line)
        self.assertEqual(gw.count("INBOX"), 1)
        self.assertEqual(gw.pahtctl_json("drafts"), [])
        eml = os.path.join(gw.dir, "report.eml")
        with open(eml, "wb") as f:
            f.write(mail(gw, who, "Đèn đường"))
        self.assert_names_the_fault(gw.pahtctl("ingest", eml), reminder, line)
        # the console's actions send letters: pahtweb checks them too
        self.assert_names_the_fault(self.pahtweb_check(gw), reminder, line)
        write(reminder, was)

        # a page of the console: pahtweb's to refuse; pahtd renders no page
        queue = os.path.join(templates, "web", "queue.html")
        page, page_line = break_a_section(queue, from_line=1)
        self.assert_names_the_fault(self.pahtweb_check(gw), queue, page_line)
        self.assertEqual(gw.pahtd("--check-config").returncode, 0)
        write(queue, page)

        # mended, everything goes through
        ok = self.pahtweb_check(gw)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        run = gw.pahtd("--once")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(len(gw.pahtctl_json("drafts")), 1)
        self.assertEqual(gw.count("INBOX"), 0)


class Reload(unittest.TestCase):
    def acknowledged(self, stack, who, n):
        """the subjects of the first N letters in WHO's mailbox"""
        return pahttest.wait_for(
            lambda: len(pahttest.messages(stack, who)) >= n
            and [m["Subject"] for m in pahttest.messages(stack, who)],
            timeout=60, what=f"{n} letters to the citizen")

    def test_sighup_refuses_a_broken_folder_and_tells_of_a_fault_in_the_running_one(self):
        stack = pahttest.shared_stack()
        gw, running = templates_gateway(stack)
        self.addCleanup(shutil.rmtree, running, ignore_errors=True)
        ack = os.path.join(running, "ack.txt")
        write(ack, read(ack).replace("Đã tiếp nhận phản ánh", "Đã tiếp nhận phản ánh (A)", 1))
        proc = gw.start_pahtd()
        pahttest.wait_for(lambda: "parser process" in gw.log(), what="pahtd started")
        who = daemontest.citizen(stack)

        # another folder, with a fault: refused, and the letters still come from the running one
        other = tempfile.mkdtemp(prefix="paht-templates-")
        self.addCleanup(shutil.rmtree, other, ignore_errors=True)
        shutil.copytree(running, other, dirs_exist_ok=True)
        reminder = os.path.join(other, "reminder.txt")
        _, line = break_a_section(reminder)
        gw.config["gateway"]["templates_dir"] = other
        gw.write_config()
        proc.send_signal(signal.SIGHUP)
        pahttest.wait_for(lambda: "configuration is refused" in gw.log(), what="the refusal")
        refusal = [ln for ln in gw.log().splitlines() if "is refused" in ln]
        self.assertIn(reminder, refusal[0])
        self.assertIn(f"line {line}", refusal[0])
        gw.deliver(mail(gw, who, "Đèn đường 1"), sender=who)
        subjects = self.acknowledged(stack, who, 1)
        self.assertIn("Đã tiếp nhận phản ánh (A): Đèn đường 1", subjects[0])

        # a fault in the running folder cannot be refused (each letter reads its file): it is
        # said at the reload, which goes on, and the mail with it
        gw.config["gateway"]["templates_dir"] = running
        gw.write_config()
        digest = os.path.join(running, "stats_digest.html")
        _, digest_line = break_a_section(digest, from_line=1)
        proc.send_signal(signal.SIGHUP)
        pahttest.wait_for(lambda: "configuration reloaded" in gw.log(), what="the reload")
        told = [ln for ln in gw.log().splitlines() if "SIGHUP: template" in ln]
        self.assertEqual(len(told), 1, gw.log())
        self.assertIn(digest, told[0])
        self.assertIn(f"line {digest_line}", told[0])
        self.assertIn("cannot be sent until it is mended", told[0])
        gw.deliver(mail(gw, who, "Đèn đường 2"), sender=who)
        subjects = self.acknowledged(stack, who, 2)
        self.assertIn("Đã tiếp nhận phản ánh (A): Đèn đường 2", subjects[1])
        self.assertEqual(len(gw.pahtctl_json("drafts")), 2)
        self.assertEqual(gw.stop_pahtd(proc), 0)


if __name__ == "__main__":
    unittest.main()
