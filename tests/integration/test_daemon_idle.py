"""The daemon as an administrator meets it, on real Dovecot and Postfix: mail delivered while
pahtd idles is drafted and answered at once; polling costs one NOOP; SIGTERM finishes and exits
0; SIGHUP reloads a good configuration and refuses a bad one, and a parser started after an
edit runs with the configuration pahtd accepted; systemd hears READY, WATCHDOG and STOPPING."""
import os
import signal
import socket
import unittest

import daemontest
import pahttest


class Idle(unittest.TestCase):
    def test_mail_delivered_during_idle_is_drafted_and_acknowledged(self):
        stack = pahttest.shared_stack()
        # poll_seconds is ten minutes: only IDLE can bring the mail in within the timeouts below
        gw = pahttest.Gateway(stack, pahttest.unique("paht"),
                              overrides={("imap", "poll_seconds"): 600})
        log = os.path.join(gw.dir, "imap.log")
        proc = gw.start_pahtd(env={"PAHT_IMAP_PROTOCOL_LOG": log})
        pahttest.wait_for(lambda: "IDLE" in map(daemontest.command_name,
                                                daemontest.protocol_log(log)),
                          timeout=30, what="pahtd idling")
        who = daemontest.citizen(stack)
        stack.deliver(gw.address, pahttest.make_mail(
            f'"Nguyễn Thị Hoa" <{who}>', gw.address, "Cây đổ chắn đường Trần Hưng Đạo",
            "Một cây lớn đổ chắn ngang đường Trần Hưng Đạo, xe không qua được.\n"), sender=who)
        drafts = pahttest.wait_for(lambda: gw.pahtctl_json("drafts"), timeout=20,
                                   what="the draft (IDLE wake-up)")
        self.assertEqual(len(drafts), 1)
        self.assertEqual(drafts[0]["classification"], "report")
        self.assertEqual(drafts[0]["subject"], "Cây đổ chắn đường Trần Hưng Đạo")
        pahttest.wait_for(lambda: pahttest.count(stack, who) == 1, timeout=20,
                          what="the acknowledgement")
        ack = pahttest.messages(stack, who)[0]
        self.assertIn(drafts[0]["code"], ack["Subject"])
        self.assertEqual(gw.count("INBOX"), 0)
        self.assertEqual(gw.count("PAHT/Processed"), 1)
        # the mail came in by IDLE, not by a search of its own: one search, after the wake-up
        commands = [daemontest.command_name(line) for line in daemontest.protocol_log(log)]
        first_idle = commands.index("IDLE")
        self.assertEqual(commands.count("UID SEARCH"), 1)
        self.assertGreater(commands.index("UID SEARCH"), first_idle)

        self.assertEqual(gw.stop_pahtd(proc), 0)
        self.assertIn("stopped", gw.log())
        # it logged out properly
        self.assertEqual(daemontest.command_name(daemontest.protocol_log(log)[-1]), "LOGOUT")

    def test_a_session_the_server_ends_is_named_and_resumed(self):
        """Dovecot ends every session when it stops or restarts, and "doveadm kick" does the
        same: each says why in a BYE line. pahtd logs the server's words, not a lost
        connection, connects again and goes on idling: mail delivered after it is drafted."""
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"),
                              overrides={("imap", "poll_seconds"): 600})
        log = os.path.join(gw.dir, "imap.log")
        proc = gw.start_pahtd(env={"PAHT_IMAP_PROTOCOL_LOG": log})
        idles = lambda: list(map(daemontest.command_name, daemontest.protocol_log(log))).count(
            "IDLE")
        pahttest.wait_for(lambda: idles() >= 1, timeout=30, what="pahtd idling")
        daemontest.doveadm(stack, "kick", gw.address)
        pahttest.wait_for(lambda: gw.log().count("imap: connected") >= 2 and idles() >= 2,
                          timeout=30, what="pahtd connected again and idling")
        said = [line for line in gw.log().splitlines() if "connecting again" in line]
        self.assertEqual(len(said), 1, gw.log())
        self.assertIn("the server closed the connection: Server shutting down.", said[0])
        self.assertNotIn("connection lost", said[0])
        who = daemontest.citizen(stack)
        stack.deliver(gw.address, pahttest.make_mail(
            who, gw.address, "Ống nước vỡ trên đường Lê Lợi",
            "Ống nước vỡ, nước tràn ra đường Lê Lợi từ sáng nay.\n"), sender=who)
        drafts = pahttest.wait_for(lambda: gw.pahtctl_json("drafts"), timeout=20,
                                   what="the draft (IDLE wake-up after the new session)")
        self.assertEqual([d["subject"] for d in drafts], ["Ống nước vỡ trên đường Lê Lợi"])
        self.assertEqual(gw.stop_pahtd(proc), 0)

    def test_polling_costs_one_noop_per_cycle(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"),
                              overrides={("imap", "idle"): "false", ("imap", "poll_seconds"): 1})
        log = os.path.join(gw.dir, "imap.log")
        proc = gw.start_pahtd(env={"PAHT_IMAP_PROTOCOL_LOG": log})
        pahttest.wait_for(lambda: [daemontest.command_name(line) for line in
                                   daemontest.protocol_log(log)].count("NOOP") >= 4,
                          timeout=30, what="four polling cycles")
        who = daemontest.citizen(stack)
        photo = b"\xff\xd8\xff\xe0" + os.urandom(4000) + b"\xff\xd9"
        # the same photo twice: the second copy finds its content already stored
        stack.deliver(gw.address, pahttest.make_mail(
            who, gw.address, "Ổ gà đường 30/4", "Ổ gà lớn giữa đường.\n",
            attachments=[("o-ga.jpg", "image/jpeg", photo), ("o-ga-2.jpg", "image/jpeg", photo)]),
            sender=who)
        drafts = pahttest.wait_for(lambda: gw.pahtctl_json("drafts"), timeout=20, what="the draft")
        shown = gw.pahtctl_json("show", drafts[0]["code"])
        self.assertEqual([a["size"] for a in shown["attachments"]], [len(photo)] * 2)
        # the running daemon's work folders keep nothing of a finished message (only the copy
        # of the configuration its parsers run with)
        work = os.path.join(gw.data_dir, "tmp")
        left = [os.path.join(d, f) for d, _, files in os.walk(work) for f in files
                if f != "paht.conf.running"]
        self.assertEqual(left, [])
        self.assertEqual(gw.stop_pahtd(proc), 0)
        commands = [daemontest.command_name(line) for line in daemontest.protocol_log(log)]
        self.assertNotIn("IDLE", commands)
        # after SELECT: NOOPs, and the one sync the new mail caused
        steady = commands[commands.index("SELECT") + 1:]
        others = [c for c in steady if c not in ("NOOP", "LOGOUT")]
        self.assertEqual(others, ["UID SEARCH", "UID FETCH", "UID FETCH", "UID MOVE"], steady)


class Signals(unittest.TestCase):
    def test_sighup_reloads_a_good_configuration_and_refuses_a_bad_one(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"),
                              overrides={("imap", "poll_seconds"): 600})
        proc = gw.start_pahtd()
        pahttest.wait_for(lambda: "parser process" in gw.log(), what="pahtd started")

        # a broken file: refused with a line naming the problem; the running one is kept
        gw.config["imap"]["pol_seconds"] = "5"
        gw.write_config()
        proc.send_signal(signal.SIGHUP)
        pahttest.wait_for(lambda: "configuration is refused" in gw.log(), what="the refusal")
        self.assertIn("pol_seconds", gw.log())
        who = daemontest.citizen(stack)
        stack.deliver(gw.address, pahttest.make_mail(who, gw.address, "Thư thứ nhất", "Một.\n"),
                      sender=who)
        pahttest.wait_for(lambda: gw.count("PAHT/Processed") == 1, timeout=20,
                          what="the first mail processed with the running configuration")

        # a good change applies from the next message
        del gw.config["imap"]["pol_seconds"]
        gw.config["imap"]["processed_folder"] = "PAHT/Done"
        gw.write_config()
        proc.send_signal(signal.SIGHUP)
        pahttest.wait_for(lambda: "configuration reloaded" in gw.log(), what="the reload")
        stack.deliver(gw.address, pahttest.make_mail(who, gw.address, "Thư thứ hai", "Hai.\n"),
                      sender=who)
        pahttest.wait_for(lambda: gw.count("PAHT/Done") == 1, timeout=20,
                          what="the second mail in the new folder")
        self.assertEqual(gw.count("PAHT/Processed"), 1)
        self.assertIsNone(proc.poll())
        self.assertEqual(gw.stop_pahtd(proc), 0)
        self.assertEqual(len(gw.pahtctl_json("drafts")), 2)

    def test_a_parser_started_after_an_edit_runs_with_the_accepted_configuration(self):
        # A parser process starts after the file was edited, not reloaded: here after a crash
        # (a second sender's parser starts so too). It must run with what pahtd accepted, not
        # stop at a typo pahtd itself has not read yet (the mail would wait until the file is
        # mended). The same edit refused on SIGHUP, the test above, lost mail so when the
        # sender's parser started after the refusal.
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"),
                              overrides={("imap", "poll_seconds"): 600,
                                         ("gateway", "parser_processes"): 1})
        proc = gw.start_pahtd(env={"PAHT_TEST_FAULT": "crash-on-subject:crash-the-parser"})
        pahttest.wait_for(lambda: "parser process" in gw.log(), what="pahtd started")
        gw.config["imap"]["pol_seconds"] = "5"
        gw.write_config()
        who = daemontest.citizen(stack)
        stack.deliver(gw.address, pahttest.make_mail(who, gw.address, "crash-the-parser",
                                                     "Một.\n"), sender=who)
        pahttest.wait_for(lambda: gw.count("PAHT/Quarantine") == 1, timeout=30,
                          what="the mail the parser crashed on kept aside")
        stack.deliver(gw.address, pahttest.make_mail(who, gw.address, "Đèn đường hỏng",
                                                     "Hai.\n"), sender=who)
        pahttest.wait_for(lambda: gw.count("PAHT/Processed") == 1, timeout=30,
                          what="the next mail processed by a new parser")
        self.assertNotIn("cannot start", gw.log())
        self.assertNotIn("pol_seconds", gw.log())
        self.assertIsNone(proc.poll())
        self.assertEqual(gw.stop_pahtd(proc), 0)
        # pahtd itself reads the edit at its next start, and refuses it
        self.assertEqual(gw.pahtd("--check-config").returncode, 2)

    def test_systemd_hears_ready_watchdog_status_and_stopping(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"),
                              overrides={("imap", "poll_seconds"): 600})
        path = os.path.join(gw.dir, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(0.2)
        heard = []

        def listen_until(predicate, what):
            def heard_enough():
                try:
                    heard.extend(sock.recv(4096).decode().splitlines())
                except socket.timeout:
                    pass
                return predicate()
            pahttest.wait_for(heard_enough, timeout=60, interval=0, what=what)

        try:
            # a watchdog of 2 s: pahtd, idling with poll_seconds 600 (no cycle of its own for
            # ten minutes), must keep pinging while it waits in IDLE
            proc = gw.start_pahtd(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
            listen_until(lambda: any(h.startswith("STATUS=Watching INBOX") for h in heard),
                         "the status line")
            watching = len(heard)
            listen_until(lambda: heard[watching:].count("WATCHDOG=1") >= 4,
                         "four watchdog pings while idling")
            self.assertEqual(heard[0], "READY=1", heard)
            self.assertIn("IDLE", [h for h in heard if h.startswith("STATUS=")][-1])
            gw.stop_pahtd(proc)
            # it has exited: what it sent is in the socket
            listen_until(lambda: "STOPPING=1" in heard, "STOPPING=1")
        finally:
            sock.close()


if __name__ == "__main__":
    unittest.main()
