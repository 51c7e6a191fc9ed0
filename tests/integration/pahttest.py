"""pahttest: helpers for the end-to-end tests of pahtd and pahtctl (Python standard library only).

The tests run against the real mail stack of tests/harness/mailstack.py. Under CTest the shared
stack is a fixture and its env file is in PAHT_MAILSTACK_ENV; the programs are in PAHT_BIN_DIR,
the letter templates in PAHT_TEMPLATES_DIR and the source tree in PAHT_SOURCE_DIR.

    stack = shared_stack()
    gw = Gateway(stack, unique("paht"))                 # its own mailbox, database, folder
    stack.deliver(gw.address, make_mail(citizen, gw.address, "Phản ánh ...", "..."))
    gw.pahtd("--once")
    wait_for(lambda: count(stack, citizen) == 1)

Every test takes fresh addresses from unique(), so tests sharing one stack (even running at the
same time) never see each other's mail.
"""

import atexit
import ctypes
import datetime
import email
import email.policy
import email.utils
import imaplib
import json
import mmap
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, os.pardir, "harness"))

from mailstack import MailStack, MailStackError  # noqa: E402  (path set just above)

__all__ = [
    "MailStack",
    "MailStackError",
    "SetupError",
    "shared_stack",
    "OfflineStack",
    "unique",
    "messages",
    "count",
    "wait_for",
    "read_log",
    "Gateway",
    "make_mail",
    "VN_TZ",
    "TEST_NOW",
]

_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")

VN_TZ = datetime.timezone(datetime.timedelta(hours=7), "ICT")

# The clock of pahtd and pahtctl in the tests (PAHT_NOW), unless a test passes its own: a
# working-day morning, no holiday near. Deadlines, working hours, reminders, holidays and daily
# limits all follow it, so the suite gives the same answers on a Saturday night or during Tết
# as on a Tuesday morning. A test that means the real clock says so (Gateway(now=None)).
TEST_NOW = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=VN_TZ)  # a Tuesday, 09:00


class SetupError(RuntimeError):
    """The test environment is incomplete (stack, binaries, variables): never a silent pass."""


_shared = None


def shared_stack():
    """The stack CTest started for all integration tests (PAHT_MAILSTACK_ENV)."""
    global _shared
    if _shared is not None:
        return _shared
    path = os.environ.get("PAHT_MAILSTACK_ENV")
    if not path:
        raise SetupError(
            "PAHT_MAILSTACK_ENV is not set: run the integration tests through CTest (its "
            "mailstack_start fixture starts the stack), or start one with "
            "tests/harness/mailstack.py start DIR and export PAHT_MAILSTACK_ENV=DIR/mailstack.env"
        )
    if not os.path.isfile(path):
        raise SetupError(
            f"PAHT_MAILSTACK_ENV={path} does not exist: the mail stack was not started "
            "(did the mailstack_start fixture fail?)"
        )
    stack = MailStack.load(path)
    if not (stack.dovecot_up() and stack.postfix_up()):
        raise SetupError(f"the mail stack in {stack.dir} is not running: {stack.status()}")
    _shared = stack
    return stack


class OfflineStack:
    """What a Gateway needs of a mail stack when no server is ever reached: for the tests that
    only run pahtctl (ingest, show, outbox, ...), which need neither the stack nor root."""

    domain = "example.test"
    listen = "127.0.0.1"
    imap_port = 9  # discard: nothing is ever connected to
    smtp_port = 9
    password = "unused"
    ca = None  # no ca_file in the configuration


def unique(prefix):
    """A fresh local part, "prefix-3f9a1c": nobody else's mail lands there."""
    return f"{prefix}-{secrets.token_hex(3)}"


def _mailbox(folder):
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def messages(stack, user, folder="INBOX"):
    """USER's messages in FOLDER (oldest UID first) as email.message.EmailMessage, fetched
    with BODY.PEEK[] (nothing gets \\Seen). A folder that does not exist gives []. Each message
    carries its UID as the attribute imap_uid."""
    conn = stack.imap(user)
    try:
        typ, _ = conn.select(_mailbox(folder), readonly=True)
        if typ != "OK":
            return []
        typ, data = conn.uid("SEARCH", None, "ALL")
        if typ != "OK" or not data or not data[0]:
            return []
        found = []
        typ, data = conn.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
        for item in data:
            if not isinstance(item, tuple):
                continue
            head, raw = item
            tokens = head.decode("ascii", "replace").replace("(", " ").split()
            uid = int(tokens[tokens.index("UID") + 1]) if "UID" in tokens else 0
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            msg.imap_uid = uid
            found.append(msg)
        found.sort(key=lambda m: m.imap_uid)
        return found
    finally:
        try:
            conn.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def count(stack, user, folder="INBOX"):
    """How many messages USER has in FOLDER (0 if the folder does not exist)."""
    conn = stack.imap(user)
    try:
        typ, data = conn.status(_mailbox(folder), "(MESSAGES)")
        if typ != "OK":
            return 0
        text = data[0].decode("ascii", "replace")
        return int(text.rsplit("MESSAGES", 1)[1].strip(" )"))
    finally:
        try:
            conn.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def read_log(path):
    """The text of a program's log file so far ("" before it exists)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def pages_cached(path):
    """How many of the file's pages the page cache holds (mincore(2) over a mapping of it that
    is never touched), or None on tmpfs, whose pages are the file and are never dropped."""
    kind = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True,
                          check=True).stdout.strip()
    if kind == "tmpfs":
        return None
    size = os.path.getsize(path)
    if size == 0:
        return 0
    page = os.sysconf("SC_PAGE_SIZE")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), f"cannot map {path}")
        try:
            vec = (ctypes.c_ubyte * ((size + page - 1) // page))()
            if libc.mincore(addr, size, vec) != 0:
                raise OSError(ctypes.get_errno(), f"mincore of {path}")
            return sum(b & 1 for b in vec)
        finally:
            libc.munmap(addr, size)
    finally:
        os.close(fd)


def wait_for(predicate, timeout=20, interval=0.1, what=None):
    """Call PREDICATE until it returns something true, and return that; AssertionError after
    TIMEOUT seconds (naming WHAT, or the predicate)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            name = what or getattr(predicate, "__name__", "condition")
            raise AssertionError(f"timed out after {timeout} s waiting for {name}")
        time.sleep(interval)


# ----------------------------------------------------------------------------- gateway

_gateways = []


@atexit.register
def _cleanup_gateways():
    """No pahtd outlives the test process; the folders go too unless PAHT_KEEP_TEST_DIRS=1."""
    keep = os.environ.get("PAHT_KEEP_TEST_DIRS") == "1"
    for gw in _gateways:
        gw.close(remove=not keep)


def _required_env(name):
    value = os.environ.get(name)
    if not value:
        raise SetupError(f"{name} is not set: run the integration tests through CTest")
    return value


class Gateway:
    """One pahtd/pahtctl installation for a test: a private folder (0700) holding the
    configuration (SPEC §6), the secrets, the database and the data folder, and a gateway
    mailbox <name>@example.test on STACK.

    OVERRIDES: {("group", "key"): value, or None to delete the key}, applied before writing.
    NOW: the datetime its programs take for now (PAHT_NOW) unless a call's env names another;
    None: the real clock.
    """

    def __init__(self, stack, name, overrides=None, tmpdir=None, now=TEST_NOW):
        self.stack = stack
        self.now = now
        self.name = name
        self.address = f"{name}@{stack.domain}"
        self.ioc_address = f"{name}-ioc@{stack.domain}"
        self.dir = tempfile.mkdtemp(prefix=f"paht-{name}-", dir=tmpdir)
        os.chmod(self.dir, 0o700)
        self.config_path = os.path.join(self.dir, "paht.conf")
        self.database = os.path.join(self.dir, "paht.db")
        self.data_dir = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "pahtd.log")
        self._procs = []
        _gateways.append(self)
        os.mkdir(self.data_dir, 0o700)
        for secret in ("imap.secret", "smtp.secret"):
            self._write(secret, stack.password + "\n", 0o600)

        self.config = {
            "gateway": {
                "name": "Trung tâm IOC tỉnh Sóc Trăng",
                "place": "Sóc Trăng",
                "code_prefix": "PAHT",
                "database": self.database,
                "data_dir": self.data_dir,
                "templates_dir": _required_env("PAHT_TEMPLATES_DIR"),
                "ioc_alert_to": self.ioc_address,
            },
            "imap": {
                "url": f"imap://{stack.listen}:{stack.imap_port}/INBOX",
                "user": self.address,
                "password_file": os.path.join(self.dir, "imap.secret"),
                "processed_folder": "PAHT/Processed",
                "quarantine_folder": "PAHT/Quarantine",
                "poll_seconds": "1",
                "ca_file": stack.ca,
            },
            "smtp": {
                "url": f"smtp://{stack.listen}:{stack.smtp_port}",
                "user": self.address,
                "password_file": os.path.join(self.dir, "smtp.secret"),
                "from": self.address,
                "reply_to": f"{name}+{{token}}@{stack.domain}",
                "ca_file": stack.ca,
            },
            "calendar": {},
        }
        source = os.environ.get("PAHT_SOURCE_DIR")
        holidays = os.path.join(source, "conf", "holidays.txt") if source else None
        if holidays and os.path.isfile(holidays):
            self.config["calendar"]["holidays_file"] = holidays
        for (group, key), value in (overrides or {}).items():
            if value is None:
                self.config.get(group, {}).pop(key, None)
            else:
                self.config.setdefault(group, {})[key] = str(value)
        self.write_config()

    def _write(self, name, text, mode):
        path = os.path.join(self.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def write_config(self):
        """(Re)write the configuration file from self.config (e.g. after changing it)."""
        lines = ["# written by tests/integration/pahttest.py"]
        for group, keys in self.config.items():
            if not keys:
                continue
            lines.append(f"\n[{group}]")
            for key, value in keys.items():
                if value is None:
                    continue  # absent (e.g. an OfflineStack's ca_file)
                if "\n" in str(value):
                    raise ValueError(f"[{group}] {key}: a value cannot hold a newline")
                lines.append(f"{key} = {value}")
        self._write("paht.conf", "\n".join(lines) + "\n", 0o600)

    def _write_groups(self, key, kind, fields, groups):
        """A GKeyFile of [KIND CODE] groups ({code: values in the order of FIELDS}) named by
        the configuration's [gateway] KEY (rewritten)."""
        path = os.path.join(self.dir, f"{key[:-len('_file')]}.conf")
        with open(path, "w", encoding="utf-8") as f:
            for code, values in groups.items():
                f.write(f"[{kind} {code}]\n")
                f.write("".join(f"{n} = {v}\n" for n, v in zip(fields, values)) + "\n")
        self.config["gateway"][key] = path
        self.write_config()
        return path

    def write_agencies(self, agencies):
        """An agencies file ({code: (name, contact, leader, leader_name)}) named by the
        configuration (rewritten)."""
        return self._write_groups("agencies_file", "agency",
                                  ("name", "contact", "leader", "leader_name"), agencies)

    def write_categories(self, categories):
        """A categories file ({code: (name, description, group, agency)}, issue 15) named by
        the configuration (rewritten)."""
        return self._write_groups("categories_file", "category",
                                  ("name", "description", "group", "agency"), categories)

    # ---- programs

    @staticmethod
    def binary(name):
        path = os.path.join(_required_env("PAHT_BIN_DIR"), name)
        if not os.access(path, os.X_OK):
            raise SetupError(f"{path} does not exist or is not executable: build it first")
        return path

    def _env(self, env):
        merged = dict(os.environ)
        merged.pop("PAHT_NOW", None)
        if self.now is not None:
            merged["PAHT_NOW"] = self.now.isoformat()
        for key, value in (env or {}).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = str(value)
        return merged

    def keep_log(self, text):
        """Issue 16: with PAHT_TEST_LOG_DIR set (CTest sets it), every line the programs log
        is kept there for tests/integration/test_logs_hold_no_personal_data.py, which reads
        them after the suite; beside them, the addresses this gateway's configuration names
        (the only ones a log may write whole)."""
        folder = os.environ.get("PAHT_TEST_LOG_DIR")
        if not folder or not text:
            return
        os.makedirs(folder, exist_ok=True)
        base = os.path.join(folder, f"{os.getpid()}-{self.name}")
        with open(base + ".log", "a", encoding="utf-8", errors="replace") as f:
            f.write(text if text.endswith("\n") else text + "\n")
        official = set()
        for name in ("paht.conf", "agencies.conf"):
            try:
                with open(os.path.join(self.dir, name), encoding="utf-8") as f:
                    official.update(_ADDRESS.findall(f.read()))
            except FileNotFoundError:
                pass
        with open(base + ".official", "w", encoding="utf-8") as f:
            f.write("\n".join(sorted(official)) + "\n")

    def pahtd(self, *args, env=None, timeout=120):
        """Run pahtd -c CONFIG ARGS to the end (text, output captured)."""
        p = subprocess.run(
            [self.binary("pahtd"), "-c", self.config_path, *map(str, args)],
            env=self._env(env), stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=timeout, check=False,
        )
        self.keep_log(p.stderr)
        return p

    def pahtctl(self, *args, env=None, input=None, timeout=120):
        """Run pahtctl -c CONFIG ARGS (text, output captured; INPUT goes to its stdin)."""
        p = subprocess.run(
            [self.binary("pahtctl"), "-c", self.config_path, *map(str, args)],
            env=self._env(env), input=input, capture_output=True, text=True,
            timeout=timeout, check=False,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        self.keep_log(p.stderr)
        return p

    def pahtctl_json(self, *args, env=None):
        """pahtctl ARGS --json; asserts exit 0 and returns the parsed output."""
        p = self.pahtctl(*args, "--json", env=env)
        if p.returncode != 0:
            raise AssertionError(
                f"pahtctl {' '.join(map(str, args))} --json exited {p.returncode}: "
                f"{p.stderr.strip()}"
            )
        try:
            return json.loads(p.stdout)
        except json.JSONDecodeError as e:
            raise AssertionError(f"pahtctl {' '.join(map(str, args))} --json printed no JSON "
                                 f"({e}): {p.stdout[:500]!r}")

    def start_pahtd(self, *args, env=None):
        """Start pahtd -c CONFIG ARGS in the background (output appended to self.log_path)."""
        # 0600 like every file of the gateway (tests check that nothing is group/world-readable)
        log = os.fdopen(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        try:
            proc = subprocess.Popen(
                [self.binary("pahtd"), "-c", self.config_path, *map(str, args)],
                env=self._env(env), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )
        finally:
            log.close()
        self._procs.append(proc)
        return proc

    def stop_pahtd(self, proc, sig=signal.SIGTERM, timeout=30):
        """Send SIG and wait for the exit; returns the exit status (negative: killed by a
        signal). AssertionError if it does not exit within TIMEOUT seconds (it is then killed)."""
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"pahtd did not exit within {timeout} s of signal {sig}")
        finally:
            if proc in self._procs:
                self._procs.remove(proc)

    def log(self):
        """What the background pahtd processes wrote so far."""
        return read_log(self.log_path)

    # ---- mail

    def deliver(self, data, sender="citizen@example.test"):
        """Put DATA (bytes) into the gateway's INBOX (LMTP)."""
        self.stack.deliver(self.address, data, sender=sender)

    def messages(self, folder="INBOX"):
        return messages(self.stack, self.address, folder)

    def count(self, folder="INBOX"):
        return count(self.stack, self.address, folder)

    # ---- cleanup

    def close(self, remove=True):
        """Kill pahtd processes still running and (REMOVE) delete the folder."""
        for proc in list(self._procs):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self._procs.clear()
        if not getattr(self, "_log_kept", False):
            self._log_kept = True
            self.keep_log(self.log())
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# ------------------------------------------------------------------------------- mail


def complete_details(name="Nguyễn Văn An"):
    """The Điều 4 details that make a report complete (it then gets the acknowledgement, not
    the "please complete" letter), as a citizen writes them under the report."""
    return (f"\nHọ và tên: {name}\nĐịa chỉ: 25 Trần Hưng Đạo, Phường 2, TP Sóc Trăng\n"
            "CCCD: 094201001234\nĐiện thoại: 0912 345 678\n"
            "Địa điểm: trước cổng chợ Phường 2\n")


def make_mail(frm, to, subject, body, attachments=None, headers=None, date=None,
              message_id=None, html=None, cte=None):
    """A citizen's mail as bytes (CRLF, UTF-8, RFC 2047 headers), as a mail client sends it.

    FRM, TO: "Nguyễn Văn An <an@example.test>" or a bare address (TO may be a list).
    ATTACHMENTS: [(filename, "type/subtype", bytes)] (names RFC 2231-encoded).
    HEADERS: {name: value} or [(name, value)], added as given (e.g. In-Reply-To,
    Auto-Submitted). DATE: a datetime (default: TEST_NOW, the tests' clock). HTML: an HTML alternative
    of BODY. CTE: the text parts' transfer encoding ("8bit" by default for UTF-8 text,
    "quoted-printable" or "base64").
    """
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = frm
    msg["To"] = ", ".join(to) if isinstance(to, (list, tuple)) else to
    msg["Subject"] = subject
    when = date or TEST_NOW
    msg["Date"] = email.utils.format_datetime(when)
    sender_domain = email.utils.parseaddr(frm)[1].rpartition("@")[2] or "example.test"
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain=sender_domain)
    msg["MIME-Version"] = "1.0"
    msg["User-Agent"] = "Thunderbird/115.3.1"
    for name, value in (headers.items() if isinstance(headers, dict) else headers or []):
        msg[name] = value
    msg.set_content(body, charset="utf-8", cte=cte)
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8", cte=cte)
    for filename, content_type, data in attachments or []:
        maintype, _, subtype = content_type.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream",
                           filename=filename)
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]  # the email package repeats it in every part; clients don't
    return msg.as_bytes(policy=email.policy.SMTP)


def plain_text(msg):
    """The plain part of MSG as a mail reader shows it: our letters are format=flowed (RFC
    3676), so the lines of a paragraph are joined and space-stuffing is removed."""
    part = msg.get_body(("plain",))
    text = part.get_content().replace("\r\n", "\n")
    if (part.get_param("format") or "").lower() != "flowed":
        return text
    delsp = (part.get_param("delsp") or "").lower() == "yes"
    out = []
    for line in text.split("\n"):
        if line.startswith(" "):
            line = line[1:]
        if line.endswith(" ") and line != "-- ":
            out.append(line[:-1] if delsp else line)
        else:
            out.append(line + "\n")
    return "".join(out)[:-1] if text.endswith("\n") else "".join(out)


def shortened(address):
    """ADDRESS as pahtd's log and the IOC's mail show a citizen's: "n***@domain"."""
    return address[0] + "***@" + address.rpartition("@")[2]
