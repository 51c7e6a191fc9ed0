"""benchlib: what the figures of bench/run share (Python 3 standard library only).

- timing child processes with the OS's accounting (wait4 in bench_measure: wall clock, CPU,
  peak RSS);
- filling mailboxes of the test stack fast, the way Maildir is meant to be filled: files into
  new/, then one doveadm call that indexes them (the notes' table (a): ~3,000 mails/s, where
  LMTP does ~140);
- one gateway installation (configuration, secrets, database, data folder) per measurement;
- reading a gateway's database read-only for checks.
"""

import json
import os
import pwd
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE, "tests", "harness"))

from mailstack import MAIL_USER, MailStack  # noqa: E402  (path set just above)

# a trust store without the test stack's throwaway CA (see Gateway, smtp="held")
HELD_CA = "/etc/ssl/certs/ca-certificates.crt"

__all__ = ["MailStack", "Timing", "run_timed", "median", "Mailboxes", "Gateway", "db_query",
           "ParserCpu"]


class BenchError(RuntimeError):
    """A measurement could not be made as designed; the message says why."""


# ------------------------------------------------------------------------------ timing


class Timing:
    """One finished child: wall seconds, CPU seconds (user + system), peak RSS in KiB, minor
    page faults (its children's included)."""

    def __init__(self, wall, user, system, maxrss_kib, status, argv, minflt=0):
        self.wall = wall
        self.user = user
        self.sys = system
        self.cpu = user + system
        self.maxrss_kib = maxrss_kib
        self.minflt = minflt
        self.status = status
        self.argv = argv

    def check(self, what, log=None):
        if self.status != 0:
            tail = ""
            if log and os.path.exists(log):
                with open(log, errors="replace") as f:
                    tail = "".join(f.readlines()[-15:])
            raise BenchError(f"{what}: {' '.join(map(str, self.argv[:3]))} ... exited "
                             f"{self.status}\n{tail}")
        return self


# bench_measure (bench/measure.c), set by bench/run once the build is known: children are
# measured through it, because a child of this Python inherits its peak RSS (see measure.c)
MEASURE = None


def run_timed(argv, env=None, stdout=None, stderr=None, cwd=None, stdin=None):
    """Run ARGV to its end; the time, CPU and peak RSS are those of that one process, from
    the kernel (wait4 in bench_measure), not of the Python around it."""
    if MEASURE is None:
        raise BenchError("benchlib.MEASURE is not set: build bench/measure.c first")
    argv = list(map(str, argv))
    out = open(stdout, "wb") if isinstance(stdout, str) else stdout
    err = open(stderr, "ab") if isinstance(stderr, str) else stderr
    fd, report = tempfile.mkstemp(prefix="bench-measure-")
    os.close(fd)
    try:
        proc = subprocess.run([MEASURE, report] + argv, env=env, stdout=out, stderr=err,
                              stdin=stdin if stdin is not None else subprocess.DEVNULL, cwd=cwd)
        if proc.returncode != 0:
            raise BenchError(f"bench_measure could not run {argv[0]} (exit {proc.returncode})")
        with open(report) as f:
            wall, user, system, maxrss, status, minflt = f.read().split()
    finally:
        os.unlink(report)
        for f, given in ((out, stdout), (err, stderr)):
            if isinstance(given, str):
                f.close()
    return Timing(float(wall), float(user), float(system), int(maxrss), int(status), argv,
                  int(minflt))


def median(values):
    return statistics.median(values) if values else None


def paired_ratio(numerators, denominators):
    """The median of the rounds' own ratios, numerators[i] / denominators[i]. The contenders
    of a round run one right after the other, so a change of the machine's speed from one
    round to the next (these virtual machines: a fifth and more within minutes) divides out;
    in a ratio of two medians it does not (seen: 1.19 to 1.80 for the same code)."""
    return median([a / b for a, b in zip(numerators, denominators)])


def callgrind_prefix(report, out_file="/dev/null"):
    """The argv that runs a command under valgrind's callgrind, its summary written to the file
    REPORT (callgrind_collected reads it) and its profile to OUT_FILE; None when valgrind is
    not installed."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    return [valgrind, "--tool=callgrind", f"--callgrind-out-file={out_file}",
            f"--log-file={report}"]


def callgrind_collected(report, what, status=0):
    """The instructions callgrind's summary REPORT counted for WHAT, which ended with STATUS."""
    with open(report) as f:
        text = f.read()
    found = re.search(r"Collected : (\d+)", text)
    if status != 0 or not found:
        raise BenchError(f"callgrind could not count {what} (exit {status})\n" + text[-1000:])
    return int(found.group(1))


def callgrind_instructions(argv, stdout=None, stderr=None, out_file="/dev/null"):
    """The instructions ARGV executes, counted by valgrind's callgrind: the same count for the
    same program and input whatever the machine's load, where a timing here moves by a
    fifth. None when valgrind is not installed. OUT_FILE keeps the profile
    (callgrind_by_library reads it)."""
    fd, report = tempfile.mkstemp(prefix="bench-callgrind-")
    os.close(fd)
    try:
        prefix = callgrind_prefix(report, out_file)
        if prefix is None:
            return None
        proc = subprocess.run(prefix + list(map(str, argv)), stdout=stdout or subprocess.DEVNULL,
                              stderr=stderr, stdin=subprocess.DEVNULL)
        return callgrind_collected(report, argv[0], proc.returncode)
    finally:
        os.unlink(report)


def short_library(path):
    """libglib-2.0.so.0.7400.6 for /usr/lib/.../libglib-2.0.so.0.7400.6: libglib-2.0.so"""
    return re.sub(r"\.so(\.[\d.]+)?$", ".so", os.path.basename(path))


def callgrind_by_library(out_file):
    """The instructions of a callgrind profile (callgrind_instructions' OUT_FILE) by the
    library (or program) that executed them, named as short_library names them:
    {"libglib-2.0.so": n, ...}."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100",
                           "--auto=no", out_file], capture_output=True, text=True).stdout
    counts = {}
    for line in text.splitlines():
        found = re.match(r"\s*([\d,]+) \([^)]*\)\s+(?!PROGRAM TOTALS).*\[(.*)\]\s*$", line)
        if found:
            library = short_library(found.group(2))
            counts[library] = counts.get(library, 0) + int(found.group(1).replace(",", ""))
    return counts


def perf_profile(argv, env=None, stdout=None, stderr=None, who=None, top=12, hz=499,
                 statuses=(0,)):
    """Where the CPU time of ARGV, and of every process and thread it starts, goes: perf
    record samples them (cpu-clock, HZ a second: these virtual machines have no hardware
    counters) and perf report names each sample's thread, library and function. Returns
    (profile, None): the shares of all samples by WHO(tid, comm) (by default the thread's
    name) and library, and the TOP functions; or (None, why) when perf is missing or
    refused. The run is not timed: its figure's timings come from runs without perf.
    STATUSES: the exit statuses of ARGV that are not a failure."""
    perf = shutil.which("perf")
    if perf is None:
        return None, "perf is not installed (Debian: apt-get install linux-perf)"
    who = who or (lambda tid, comm: comm)
    fd, data = tempfile.mkstemp(prefix="bench-perf-", suffix=".data")
    os.close(fd)
    out = open(stdout, "ab") if isinstance(stdout, str) else (stdout or subprocess.DEVNULL)
    err = open(stderr, "ab") if isinstance(stderr, str) else (stderr or subprocess.DEVNULL)
    try:
        proc = subprocess.run([perf, "record", "-q", "-e", "cpu-clock", "-F", str(hz), "-o", data,
                               "--"] + list(map(str, argv)), env=env, stdout=out, stderr=err,
                              stdin=subprocess.DEVNULL)
        if proc.returncode not in statuses:  # perf record exits with its command's status
            return None, f"perf record exited {proc.returncode} (perf_event_paranoid?)"
        report = subprocess.run([perf, "report", "-i", data, "--stdio", "--no-children",
                                 "-g", "none", "-F", "sample,pid,dso,sym", "-t", "\t"],
                                capture_output=True, text=True)
    finally:
        for f, given in ((out, stdout), (err, stderr)):
            if isinstance(given, str):
                f.close()
        os.unlink(data)
    libraries, functions, total = {}, {}, 0
    for line in report.stdout.splitlines():
        cols = [c.strip() for c in line.split("\t")]
        if line.startswith("#") or len(cols) < 4 or not cols[0].isdigit():
            continue
        samples, (tid, _, comm) = int(cols[0]), cols[1].partition(":")
        library = short_library(cols[2])
        function = cols[3].split("] ", 1)[-1]
        key = who(int(tid) if tid.isdigit() else 0, comm)
        total += samples
        libraries[key, library] = libraries.get((key, library), 0) + samples
        functions[key, library, function] = functions.get((key, library, function), 0) + samples
    if total == 0:
        return None, "perf recorded no samples"

    def share(n):
        return round(100 * n / total, 1)

    return {"samples": total, "hz": hz,
            "by_library_pct": [[k[0], k[1], share(v)] for k, v in
                               sorted(libraries.items(), key=lambda kv: -kv[1])[:top]],
            "top_functions_pct": [[k[0], k[1], k[2], share(v)] for k, v in
                                  sorted(functions.items(), key=lambda kv: -kv[1])[:top]],
            "by_who_pct": {w: share(sum(v for k, v in libraries.items() if k[0] == w))
                           for w in sorted({k[0] for k in libraries})}}, None


def profile_text(profile, n=4):
    """A perf_profile in a line, for a reason or a note: the shares of each process or thread,
    then the first N of process and library."""
    who = ", ".join(f"{w} {pct:g} %" for w, pct in
                    sorted(profile["by_who_pct"].items(), key=lambda kv: -kv[1]))
    top = ", ".join(f"{w} in {lib} {pct:g} %" for w, lib, pct in profile["by_library_pct"][:n])
    return f"{who}; {top}"


def warm_page_cache(paths):
    """Read PATHS once so that every contender starts with them in the page cache (the
    benchmark compares programs, not the disk's cold reads)."""
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 20):
                pass


def group_cpu(leader):
    """CPU seconds used so far by the process group LEADER leads (a mail server: its master,
    the live workers, and the workers it has already reaped). Differences of two readings
    say what the server spent on a run."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is the state (field 3 of stat); pgrp is field 5, utime.. cstime 14..17
        if int(fields[2]) != leader:
            continue
        total += int(fields[11]) + int(fields[12])
        if int(pid) == leader:
            total += int(fields[13]) + int(fields[14])
    return total / tick


class ParserCpu:
    """The CPU time of pahtd's parser processes (pahtd --worker -c CONFIG), read from /proc
    while pahtd runs: wait4 gives pahtd's time with its children's, and this tells them
    apart. A thread finds the PARSERS parsers of that configuration ([gateway]
    parser_processes: 2 unless the configuration says otherwise; one scan of /proc every
    50 ms until all are seen) and then reads only their stat files every 50 ms; a parser's
    time is the last reading before it ends, so what it did in its last 50 ms (after the
    pass, an idle process closing its database) is missing. Use: with ParserCpu(config) as
    p: ...; p.seconds."""

    def __init__(self, config, interval=0.05, parsers=2):
        self.config = config
        self.interval = interval
        self.parsers = parsers
        self.ticks = {}  # pid -> latest utime + stime
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self):
        return sum(self.ticks.values()) / os.sysconf("SC_CLK_TCK")

    def _find(self):
        """the parsers of the configuration not seen before"""
        found = set()
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) in self.ticks:
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if b"--worker" in argv and self.config.encode() in argv:
                self.ticks[int(pid)] = 0
                found.add(int(pid))
        return found

    def _run(self):
        live = set()
        while not self._stop.wait(self.interval):
            if len(live) < self.parsers:
                live |= self._find()
            for pid in list(live):
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    live.discard(pid)  # it ended (a replaced parser: the next is looked for)
                    continue
                if fields[0] == "Z":
                    continue  # ended, not yet reaped: its last reading stands
                self.ticks[pid] = int(fields[11]) + int(fields[12])


# --------------------------------------------------------------------------- mailboxes


class Mailboxes:
    """Filling and inspecting mailboxes of a running stack without going through SMTP."""

    def __init__(self, stack):
        self.stack = stack
        pw = pwd.getpwnam(MAIL_USER)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.counter = 0

    def address(self, user):
        return self.stack.address(user)

    def maildir(self, user, folder="INBOX"):
        local, _, domain = self.address(user).partition("@")
        root = os.path.join(self.stack.dir, "mail", domain, local, "Maildir")
        if folder == "INBOX":
            return root
        # Maildir++ layout: "PAHT/Processed" is .PAHT.Processed with separator "/"
        return os.path.join(root, "." + folder.replace("/", "."))

    def _ensure(self, path):
        made = []
        p = path
        while not os.path.isdir(p):
            made.append(p)
            p = os.path.dirname(p)
        for d in reversed(made):
            os.mkdir(d, 0o700)
            os.chown(d, self.uid, self.gid)
        for sub in ("cur", "new", "tmp"):
            d = os.path.join(path, sub)
            if not os.path.isdir(d):
                os.mkdir(d, 0o700)
                os.chown(d, self.uid, self.gid)

    def drop(self, user, sources, folder="INBOX"):
        """Put SOURCES (paths, or bytes) into USER's FOLDER as new mail, named as Dovecot's
        delivery names it, then index them with doveadm so the first client does not pay for
        the discovery. Returns the count."""
        box = self.maildir(user, folder)
        self._ensure(os.path.dirname(box) if folder != "INBOX" else box)
        self._ensure(box)
        if folder != "INBOX":
            marker = os.path.join(box, "maildirfolder")
            if not os.path.exists(marker):
                open(marker, "w").close()
                os.chown(marker, self.uid, self.gid)
        new = os.path.join(box, "new")
        pid = os.getpid()
        now = int(time.time())
        n = 0
        for src in sources:
            self.counter += 1
            if isinstance(src, (bytes, bytearray)):
                data = bytes(src)
            else:
                with open(src, "rb") as f:
                    data = f.read()
            # named as Dovecot's own delivery (LMTP, LDA) names a file, with its size and its
            # size with CRLF line ends (RFC822.SIZE, and the length of a FETCH BODY[]
            # literal): without them Dovecot reads every file through once more to count its
            # lines before it can answer either, work no delivered mail asks of it
            crlf_size = len(data) + data.count(b"\n") - data.count(b"\r\n")
            name = f"{now}.M{self.counter}P{pid}.bench,S={len(data)},W={crlf_size}"
            dest = os.path.join(new, name)
            with open(dest, "wb") as f:
                f.write(data)
            os.chown(dest, self.uid, self.gid)
            n += 1
        if folder != "INBOX":
            self.doveadm("mailbox", "subscribe", "-u", self.address(user), folder, check=False)
        self.index(user, folder)
        return n

    def doveadm(self, *args, check=True):
        p = subprocess.run(["doveadm", "-c", self.stack.dovecot_conf, *args],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise BenchError(f"doveadm {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
        return p.stdout

    def index(self, user, folder="INBOX"):
        self.doveadm("index", "-u", self.address(user), folder)

    def status(self, user, folder="INBOX"):
        """{'messages': n, 'uidnext': n} as the server sees it now."""
        out = self.doveadm("-f", "flow", "mailbox", "status", "-u", self.address(user),
                           "messages uidnext", folder)
        return {k: int(v) for k, v in (item.split("=", 1) for item in out.split() if "=" in item)}

    def remove_user(self, user):
        """Forget a user's mail (frees the disk between repetitions)."""
        local, _, domain = self.address(user).partition("@")
        shutil.rmtree(os.path.join(self.stack.dir, "mail", domain, local), ignore_errors=True)


# ----------------------------------------------------------------------------- gateway


class Gateway:
    """One pahtd/pahtctl installation: DIR/paht.conf, secrets, DIR/paht.db, DIR/data. The
    gateway's mailbox is USER@example.test on STACK."""

    def __init__(self, bench, directory, user, smtp="ok", extra=None):
        self.bench = bench
        stack = bench.stack
        self.dir = directory
        self.user = user
        self.address = stack.address(user)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, 0o700)
        os.chmod(directory, 0o700)
        self.config_path = os.path.join(directory, "paht.conf")
        self.database = os.path.join(directory, "paht.db")
        self.data_dir = os.path.join(directory, "data")
        self.log = os.path.join(directory, "pahtd.log")
        self._secret("imap.secret", stack.password)
        self._secret("smtp.secret", stack.password)
        # smtp="held": the SMTP server's certificate is checked against a trust store that
        # lacks the test CA, so a pass stops its outbox at the first letter (a configuration
        # problem holds the queue) after one TLS handshake, about 10 ms. The ingest figures
        # use it: they time "drafted with the answer enqueued", not the sending, which has its
        # own figure. (A refused login would do the same but costs 0.5 s: the server's delay.)
        smtp_ca = stack.ca if smtp == "ok" else HELD_CA
        self.held = smtp != "ok"
        self.config = {
            "gateway": {
                "name": "Trung tâm IOC tỉnh Sóc Trăng",
                "place": "Sóc Trăng",
                "database": self.database,
                "data_dir": self.data_dir,
                "templates_dir": os.path.join(SOURCE, "templates"),
                "agencies_file": os.path.join(SOURCE, "conf", "agencies.conf"),
                "ioc_alert_to": stack.address("ioc"),
                "max_message_bytes": str(1 << 30),
                # a corpus answered in minutes: the answer rate limits are not measured here
                "auto_replies_per_domain_per_hour": "1000000",
                "auto_replies_per_hour": "1000000",
            },
            "imap": {
                "url": f"imap://{stack.listen}:{stack.imap_port}/INBOX",
                "user": self.address,
                "password_file": "imap.secret",
                "ca_file": stack.ca,
            },
            "smtp": {
                "url": f"smtp://{stack.listen}:{stack.smtp_port}",
                "user": self.address,
                "password_file": "smtp.secret",
                "from": self.address,
                "reply_to": f"{user}+{{token}}@{stack.domain}",
                "ca_file": smtp_ca,
            },
            "calendar": {"holidays_file": os.path.join(SOURCE, "conf", "holidays.txt")},
        }
        for (group, key), value in (extra or {}).items():
            self.config.setdefault(group, {})[key] = str(value)
        self.write_config()

    def write_config(self):
        """(Re)writes paht.conf from self.config."""
        lines = ["# written by bench/benchlib.py"]
        for group, keys in self.config.items():
            lines.append(f"\n[{group}]")
            lines += [f"{k} = {v}" for k, v in keys.items()]
        self._write("paht.conf", "\n".join(lines) + "\n")

    def daemon(self, seconds, **env):
        """pahtd running (not --once) for SECONDS, then SIGTERM; returns its exit status."""
        with open(self.log, "ab") as log:
            proc = subprocess.Popen([self.bench.binary("pahtd"), "-c", self.config_path],
                                    env=self.env(**env), stdout=log, stderr=log,
                                    stdin=subprocess.DEVNULL)
            time.sleep(seconds)
            proc.send_signal(signal.SIGTERM)
            return proc.wait(timeout=60)

    def _write(self, name, text, mode=0o600):
        path = os.path.join(self.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def _secret(self, name, value):
        self._write(name, value + "\n")

    def env(self, **extra):
        env = dict(os.environ)
        env.pop("PAHT_NOW", None)
        env.pop("PAHT_IMAP_PROTOCOL_LOG", None)
        env.update({k: str(v) for k, v in extra.items() if v is not None})
        return env

    def pahtd(self, *args, **env):
        t = run_timed([self.bench.binary("pahtd"), "-c", self.config_path, *args],
                      env=self.env(**env), stdout=self.log, stderr=self.log)
        if self.held and t.status == 2 and "--once" in args:
            # a held outbox is a configuration failure on purpose (the server's certificate is
            # not trusted), which pahtd --once reports with exit 2: that, and only that, is
            # the expected end of the pass
            with open(self.log, errors="replace") as f:  # this run's output only
                tail = f.read()
            if ("refuses the gateway's configuration, sending stopped" in tail
                    or "smtp: still refused by" in tail):
                t.status = 0
        return t

    def pahtctl(self, *args, stdout=None, **env):
        return run_timed([self.bench.binary("pahtctl"), "-c", self.config_path, *args],
                         env=self.env(**env), stdout=stdout or os.devnull, stderr=self.log)

    def pahtctl_json(self, *args, **env):
        out = os.path.join(self.dir, "pahtctl.out")
        t = self.pahtctl(*args, "--json", stdout=out, **env)
        with open(out, encoding="utf-8") as f:
            text = f.read()
        if t.status != 0:
            return t.status, None
        return 0, json.loads(text)

    def query(self, sql, *params):
        return db_query(self.database, sql, *params)

    def snapshot(self, name):
        """Copy the database (checkpointed) aside, to restore before each repetition."""
        db = sqlite3.connect(self.database, timeout=60)
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()  # explicitly: a connection left to the garbage collector keeps its locks
        dest = os.path.join(os.path.dirname(self.dir), name)
        shutil.copyfile(self.database, dest)
        return dest

    def restore(self, snapshot):
        for suffix in ("-wal", "-shm"):
            try:
                os.unlink(self.database + suffix)
            except FileNotFoundError:
                pass
        shutil.copyfile(snapshot, self.database)
        os.chmod(self.database, 0o600)


def db_query(path, sql, *params):
    """Rows of a read-only query on a gateway database (never writes, never locks long)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()
