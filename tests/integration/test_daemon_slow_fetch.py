"""The parser's time limit runs only while it owes an answer (issue 11, item 5). pahtd fetches
the next message while the parser works on this one; when that download outlasts
message_timeout_seconds (a slow server: PAHT_TEST_FAULT slow-fetch makes each download start
3 s late, over a 2 s limit), a parser that answered long ago must not be killed as "too slow":
its answer stands (here: a message it refused, with its own reason), and the same parser
process goes on with the next message."""
import os
import re
import unittest

import mailboxtest
import pahttest
from mailboxtest import once


class SlowFetch(unittest.TestCase):
    def test_parser_that_answered_is_not_killed_by_a_slow_download(self):
        stack = pahttest.shared_stack()
        gw = pahttest.Gateway(stack, pahttest.unique("paht"),
                              overrides={("gateway", "message_timeout_seconds"): 2})
        with open(os.path.join(os.environ["PAHT_TEST_MAIL_DIR"], "nesting-bomb.eml"), "rb") as f:
            bomb = f.read()
        stack.deliver(gw.address, bomb)
        citizens = [f"{pahttest.unique(n)}@{stack.domain}" for n in ("an", "binh")]
        for who, subject in zip(citizens, ("Ổ gà", "Cống nghẹt")):
            stack.deliver(gw.address,
                          mailboxtest.report(who, gw, subject, f"{pahttest.unique('m')}@x"),
                          sender=who)

        run = once(gw, 0, PAHT_TEST_FAULT="slow-fetch:3")
        self.assertNotIn("longer than", run.stderr)
        # no parser process was replaced: each of the two started once
        self.assertEqual(len(re.findall(r"parser process \d+ ready", run.stderr)), 2, run.stderr)
        self.assertEqual(sorted(d["subject"] for d in gw.pahtctl_json("drafts")),
                         ["Cống nghẹt", "Ổ gà"])
        self.assertEqual(gw.count("PAHT/Quarantine"), 1)
        alert = pahttest.wait_for(lambda: pahttest.messages(stack, gw.ioc_address),
                                  what="the IOC alert for the refused message")[0]
        self.assertIn("nested deeper", alert.get_body(("plain",)).get_content())


if __name__ == "__main__":
    unittest.main()
