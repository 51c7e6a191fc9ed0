#!/usr/bin/python3
"""mailstack: a real loopback mail stack for paht-mail's tests (Dovecot + Postfix).

Dovecot 2.3 (IMAP with STARTTLS, IMAPS, LMTP) and Postfix 3.7 (SMTP with STARTTLS, SMTPS,
submission; SASL through Dovecot; delivery to Dovecot LMTP) run from one folder, on free
127.0.0.1 ports picked at each start, with no systemd and no /etc configuration. Several stacks
can run side by side. Python 3 standard library only; run it with Debian's /usr/bin/python3 as
root (the daemons need it). Missing packages are reported, never installed here (CI does that).

CLI
    mailstack.py start [DIR]               start; print DIR; write DIR/mailstack.env
    mailstack.py stop DIR [--rm]           TERM both process groups, wait for the masters,
                                           KILL what is left; fine if already stopped
    mailstack.py status DIR                exit 0 if both daemons are up, 1 if not
    mailstack.py deliver DIR RCPT FILE     one message straight into RCPT's INBOX (LMTP)
    mailstack.py fault-rcpt DIR ADDR CODE [TEXT]   RCPT TO ADDR answers CODE (next connection)
    mailstack.py fault-clear DIR
    mailstack.py imap-down|imap-up|imap-crash|imap-freeze|imap-thaw DIR
    mailstack.py smtp-down|smtp-up|flush|queue DIR
    mailstack.py start DIR --unusual NAME=VALUE ...   a stack in an unusual configuration
                                           (below), for tests of clients facing one
DIR must be reachable by other users (its parents o+x). start reuses a DIR only if an earlier
start made it; imap-up and smtp-up rewrite the PIDs in DIR/mailstack.env.

Module
    with MailStack.start() as stack:          # or MailStack.load(os.environ[...])
        stack.deliver("paht@example.test", raw_bytes)
        imap = stack.imap("paht")             # logged in over STARTTLS, CA verified
        stack.smtp_send("x@example.test", raw_bytes)   # through Postfix
        stack.wait_delivered(["x@example.test"])        # Postfix holds nothing more for them
        stack.imap_down(); stack.imap_up(); stack.fault_rcpt("x@example.test", 451)

What every stack offers
  * every user@example.test exists, all with one password (MAILSTACK_PASSWORD, new at each
    start); Maildir under DIR/mail/<domain>/<local part>, owned by the system user "mailstack";
  * Postfix accepts mail for any local part, and for nouser*@example.test too, which it then
    bounces with a real DSN (multipart/report) to the envelope sender;
    paht+token@example.test lands in paht@example.test's INBOX (recipient_delimiter +);
  * RCPT TO tempfail*@ answers 451 4.3.0 and permfail*@ 550 5.1.1, always; fault-rcpt adds
    per-address answers that apply from the next SMTP connection;
  * MAILSTACK_RAWLOG=1 at start records every IMAP session (after login) under
    DIR/rawlog/<user>/ (Dovecot's rawlog_dir), so a test can count the commands a client sent.

Unusual configurations (MailStack.start(unusual={...}), or --unusual NAME=VALUE), each a real
server set up the way some server out there is, for testing what a client does about it:
  * cert_names="DNS:other.example.test": the servers' certificate (signed by the same CA) names
    only these, so a client connecting to 127.0.0.1 or localhost must see a name mismatch;
  * imap_tls=none: Dovecot with ssl = no: no STARTTLS offered, no IMAPS port;
  * imap_tls=starttls-refused: Dovecot with ssl = no that still lists STARTTLS in its
    capabilities, and so refuses the STARTTLS command itself;
  * smtp_tls=none: Postfix offering no STARTTLS;
  * preauth=USER: an extra plaintext port (MAILSTACK_PREAUTH_PORT in the env file) where every
    connection gets Dovecot's own imap process already logged in as USER ("* PREAUTH"), run
    inetd-style by systemd-socket-activate, the way "doveadm exec imap" serves a local user.
  * acl=vfile: Dovecot's ACL plugins (acl, imap_acl) with per-folder rights files: a test
    writes "owner lrwstek" into a folder's dovecot-acl (MailStack.folder_rights) and the
    server refuses what those rights leave out, as a server whose administrator restricted a
    folder does (a COPY or MOVE into it: NO [NOPERM]).
The stack writes its choices to DIR/unusual.json. Dovecot and Postfix log every session
(DIR/log/dovecot.log, postfix.log): what a client sent before it gave up can be read there
(imap-login's "Disconnected (no auth attempts ...)", smtpd's "disconnect from ... ehlo=1 ...").

Known limit: Dovecot treats a connection whose remote IP equals its local IP as secure, so on
127.0.0.1 a plaintext LOGIN without STARTTLS is accepted despite ssl = required. Tests cannot
prove "the client refused to log in without TLS" by a refusal of the server; they read the
server's log of what the client sent instead.

The lessons behind the odd-looking details (numbered as in the project notes on the rig):
daemons never inherit our stdout (1), Postfix's master is run directly (3), generated Postfix
files are back-dated (4), maillog_file_prefixes (5), DIR is 0755 (6), no auth penalty (8), no
TLS 1.3 session tickets in Postfix (9), fault-map mtimes always move forward (10), stop kills
the leftovers of both process groups (11), zombies count as dead and stale pid files go (12),
freezing stops the whole Dovecot group (13), processes are found by /proc, not by name (14).
"""

import argparse
import hashlib
import imaplib
import json
import os
import pwd
import random
import secrets
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time

DOMAIN = "example.test"
LISTEN = "127.0.0.1"
MAIL_USER = "mailstack"
PACKAGES = "dovecot-imapd dovecot-lmtpd postfix openssl"
DEFAULT_SENDER = "citizen@" + DOMAIN
MARKER = ".mailstack"  # marks a folder this harness may wipe on the next start

# The env file: the order and the keys are the contract shared with the C tests.
ENV_KEYS = (
    "MAILSTACK_DIR",
    "MAILSTACK_DOMAIN",
    "MAILSTACK_PASSWORD",
    "MAILSTACK_LISTEN",
    "MAILSTACK_IMAP_PORT",
    "MAILSTACK_IMAPS_PORT",
    "MAILSTACK_SMTP_PORT",
    "MAILSTACK_SMTPS_PORT",
    "MAILSTACK_SUBMISSION_PORT",
    "MAILSTACK_LMTP_PORT",
    "MAILSTACK_CA",
    "MAILSTACK_DOVECOT_CONF",
    "MAILSTACK_POSTFIX_CONF",
    "MAILSTACK_DOVECOT_PID",
    "MAILSTACK_POSTFIX_PID",
)
PORT_NAMES = ("imap", "imaps", "smtp", "smtps", "submission", "lmtp")

# Where Debian puts things; PATH in CTest or cron may lack /usr/sbin, so look there too.
_SEARCH_PATH = os.pathsep.join(
    [os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]
)
DOVECOT_LIBEXEC = "/usr/lib/dovecot"
POSTFIX_DAEMONS = "/usr/lib/postfix/sbin"
DOVECOT_DH = "/usr/share/dovecot/dh.pem"
POSTFIX_FILES = "/etc/postfix/postfix-files"

START_ATTEMPTS = 3  # a port picked free can be taken before the daemon binds it: pick again
PORT_WAIT = 10.0  # seconds for every listener to appear
TERM_WAIT = 5.0  # seconds for a master to exit on SIGTERM before the group gets SIGKILL


class MailStackError(RuntimeError):
    """The stack could not be started, found or controlled (the message says why)."""


class _PortTaken(MailStackError):
    pass


# --------------------------------------------------------------------------- processes


def _stat(pid):
    """(state, pgrp) of a process, or None if there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # "pid (comm) S ppid pgrp ...": comm may hold spaces and parentheses
    fields = raw[raw.rfind(b")") + 2 :].split()
    return fields[0].decode(), int(fields[2])


def _alive(pid):
    """True if PID runs. A zombie is dead: PID 1 here reaps orphans 1-2 s late (gotcha 12)."""
    if not pid:
        return False
    st = _stat(pid)
    return st is not None and st[0] != "Z"


def _exe(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def _is_mail_daemon(pid):
    # Process titles change with instance_name (gotcha 14): trust the executable instead.
    exe = _exe(pid)
    return exe.startswith((DOVECOT_LIBEXEC + "/", POSTFIX_DAEMONS + "/")) or exe in (
        "/usr/sbin/dovecot",
    )


def _group(pgid):
    """Living (non-zombie) processes of process group PGID."""
    if not pgid:
        return []
    members = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(name)
            if st and st[1] == pgid and st[0] != "Z":
                members.append(int(name))
    return members


def _wait(predicate, timeout, interval=0.01):
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _signal_group(pgid, sig):
    """Signal the group of a master we started, if anything of ours is still in it."""
    if not pgid or not any(_is_mail_daemon(p) for p in _group(pgid)):
        return
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _stop_masters(pids):
    """TERM the masters' process groups, wait for the masters, then KILL what is left.

    The whole group gets SIGTERM, not just the master: Dovecot's master alone takes 1.1 s to
    exit on SIGTERM, the group 0.1 s; every process still ends through its own TERM handler
    (imap sessions say BYE). Whatever is still there after the masters exit is SIGKILLed:
    Dovecot leaves the imap processes of connected clients running otherwise (gotcha 11).
    """
    pids = sorted({p for p in pids if p})
    for pid in pids:
        if _alive(pid) and _is_mail_daemon(pid):
            _signal_group(pid, signal.SIGTERM)
            _signal_group(pid, signal.SIGCONT)  # a frozen (imap-freeze) group acts on it too
    _wait(lambda: not any(_alive(p) for p in pids), TERM_WAIT)
    for pid in pids:
        _signal_group(pid, signal.SIGKILL)
    if not _wait(lambda: not any(_group(p) for p in pids), 5.0):
        left = [q for p in pids for q in _group(p)]
        raise MailStackError(f"processes {left} of group(s) {pids} did not die")


# ------------------------------------------------------------------------------ ports


def _listening():
    """Set of (hex ip, port) in LISTEN state, from /proc/net/tcp (makes no connection)."""
    found = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[3] == "0A":
                ip, port = parts[1].split(":")
                found.add((ip, int(port, 16)))
    return found


def _ip_hex(ip):
    return socket.inet_aton(ip)[::-1].hex().upper()


def _is_listening(port, listening=None):
    listening = _listening() if listening is None else listening
    return (_ip_hex(LISTEN), port) in listening or ("00000000", port) in listening


def _pick_ports(n):
    """N distinct free ports on LISTEN.

    Random ports below the kernel's ephemeral range first: there no outgoing connection can
    grab one between this probe and the daemon's bind. Each candidate is bound here (no
    SO_REUSEADDR) and held until all are found. If the range is unusable, the kernel picks.
    """
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    held, ports = [], []
    listening = _listening()
    rng = random.SystemRandom()
    try:
        tries = 0
        while len(ports) < n and low > 12000 and tries < 200:
            tries += 1
            port = rng.randrange(10000, low)
            if port in ports or _is_listening(port, listening):
                continue
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((LISTEN, port))
            except OSError:
                s.close()
                continue
            held.append(s)
            ports.append(port)
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LISTEN, 0))
            held.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in held:
            s.close()
    return ports


def _nodelay(sock):
    """TCP_NODELAY on a client socket. With TLS 1.3 the client's first command otherwise
    waits for the ACK of its Finished message, which the server delays 40 ms (Nagle and
    delayed ACK): an SMTP STARTTLS session took 48 ms instead of 4.5 ms."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


# ----------------------------------------------------------------------- environment


def _tool(name):
    path = shutil.which(name, path=_SEARCH_PATH)
    if not path:
        raise MailStackError(_missing(name))
    return path


def _missing(what):
    return (
        f"mailstack: {what} not found. Install the Debian packages {PACKAGES} "
        f"(apt-get install -y --no-install-recommends {PACKAGES}); the harness does not "
        "install packages itself."
    )


def _check_tools():
    tools = {
        "dovecot": _tool("dovecot"),
        "doveadm": _tool("doveadm"),
        "postmap": _tool("postmap"),
        "postqueue": _tool("postqueue"),
        "openssl": _tool("openssl"),
        "master": os.path.join(POSTFIX_DAEMONS, "master"),
    }
    for path in (
        tools["master"],
        os.path.join(DOVECOT_LIBEXEC, "imap"),
        os.path.join(DOVECOT_LIBEXEC, "imap-login"),
        os.path.join(DOVECOT_LIBEXEC, "lmtp"),
    ):
        if not os.access(path, os.X_OK):
            raise MailStackError(_missing(path))
    if not os.path.exists(POSTFIX_FILES):
        raise MailStackError(_missing(POSTFIX_FILES))
    return tools


def _require_root():
    if os.geteuid() != 0:
        raise MailStackError("mailstack: must run as root (Dovecot and Postfix drop privileges)")


def _ensure_mail_user():
    """uid, gid of the system user owning the mailboxes; created on first use."""
    try:
        pw = pwd.getpwnam(MAIL_USER)
    except KeyError:
        subprocess.run(
            [
                _tool("useradd"),
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                MAIL_USER,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        try:  # another stack may have created it at the same moment: look again
            pw = pwd.getpwnam(MAIL_USER)
        except KeyError:
            raise MailStackError(f"mailstack: cannot create the system user {MAIL_USER}")
    return pw.pw_uid, pw.pw_gid


def _check_traversable(d):
    """Postfix's daemons and the mail uid must reach DIR: every folder above it needs o+x.
    (Postfix's master would fail with nothing in its log; better to say why here.)"""
    parent = os.path.dirname(d)
    while True:
        mode = os.stat(parent).st_mode
        if not mode & 0o001:
            raise MailStackError(
                f"mailstack: {parent} (mode {oct(mode & 0o777)}) cannot be traversed by other "
                f"users, so Postfix and the mail user cannot reach {d}: use a folder whose "
                "parents are all world-executable (e.g. 0755)"
            )
        if parent == "/":
            return
        parent = os.path.dirname(parent)


def _write(path, text, mode=0o644, age=None):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, mode)
    if age is not None:
        # Postfix will not read a file younger than 1 s: it dozes and rereads (gotcha 4)
        t = time.time() - age
        os.utime(tmp, (t, t))
    os.replace(tmp, path)


def _run(argv, what, **kw):
    p = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        **kw,
    )
    if p.returncode != 0:
        raise MailStackError(f"mailstack: {what} failed (exit {p.returncode}): {p.stdout.strip()}")
    return p.stdout


def _tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def _short_root(d):
    """Where a long DIR keeps its sockets: Unix socket paths are limited to 107 bytes, and
    both Dovecot's base_dir and Postfix's queue (its postlog socket has an absolute path)
    hold sockets. Named after DIR, so that every command finds it again."""
    return "/tmp/mailstack-" + hashlib.sha256(d.encode()).hexdigest()[:12]


def _long(d):
    return len(d) > 48


def _dovecot_base(d):
    """Dovecot's runtime folder (sockets, master.pid)."""
    return os.path.join(_short_root(d), "dovecot") if _long(d) else os.path.join(d, "run", "dovecot")


def _postfix_spool(d):
    """Postfix's queue_directory (queue files, sockets, pid/master.pid)."""
    return os.path.join(_short_root(d), "spool") if _long(d) else os.path.join(d, "postfix", "spool")


# ---------------------------------------------------------------------------- configs


DEFAULT_CERT_NAMES = f"DNS:localhost,IP:{LISTEN}"
UNUSUAL_DEFAULTS = {"cert_names": DEFAULT_CERT_NAMES, "imap_tls": "required", "smtp_tls": "may",
                    "preauth": "", "acl": ""}
OPTIONAL_ENV_KEYS = ("MAILSTACK_PREAUTH_PORT",)


def _unusual(given):
    """The unusual configuration asked for, completed with the defaults (MailStackError for
    a name or value it does not know)."""
    chosen = dict(UNUSUAL_DEFAULTS)
    for key, value in (given or {}).items():
        if key not in chosen:
            raise MailStackError(f"mailstack: unknown unusual setting {key!r} "
                                 f"(known: {', '.join(UNUSUAL_DEFAULTS)})")
        chosen[key] = str(value)
    if chosen["imap_tls"] not in ("required", "none", "starttls-refused"):
        raise MailStackError(f"mailstack: imap_tls={chosen['imap_tls']}: required, none or "
                             "starttls-refused")
    if chosen["smtp_tls"] not in ("may", "none"):
        raise MailStackError(f"mailstack: smtp_tls={chosen['smtp_tls']}: may or none")
    if chosen["acl"] not in ("", "vfile"):
        raise MailStackError(f"mailstack: acl={chosen['acl']}: vfile or nothing")
    if any(c.isspace() or c in "\"'$;{}" for v in chosen.values() for c in v):
        raise MailStackError("mailstack: unusual values cannot hold spaces or quotes")
    return chosen


def _openssl_conf(d, cert_names=DEFAULT_CERT_NAMES):
    return f"""# generated by mailstack.py: a throwaway CA and the servers' certificate
[req]
distinguished_name = dn
prompt = no
[dn]
CN = mailstack
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = {cert_names}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def _make_certs(d, openssl, cert_names=DEFAULT_CERT_NAMES):
    tls = os.path.join(d, "tls")
    cnf = os.path.join(tls, "openssl.cnf")
    _write(cnf, _openssl_conf(d, cert_names))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30"]
    _run(
        [openssl, "req", "-x509", "-config", cnf, "-extensions", "ca_ext", *ec]
        + ["-subj", "/CN=mailstack throwaway test CA", "-keyout", f"{tls}/ca.key"]
        + ["-out", f"{tls}/ca.pem"],
        "openssl (CA)",
    )
    _run(
        [openssl, "req", "-x509", "-config", cnf, "-extensions", "server_ext", *ec]
        + ["-CA", f"{tls}/ca.pem", "-CAkey", f"{tls}/ca.key", "-subj", "/CN=localhost"]
        + ["-keyout", f"{tls}/key.pem", "-out", f"{tls}/cert.pem"],
        "openssl (server certificate)",
    )
    for name, mode in (("ca.key", 0o600), ("key.pem", 0o600), ("ca.pem", 0o644), ("cert.pem", 0o644)):
        os.chmod(os.path.join(tls, name), mode)


def _dovecot_conf(d, ports, password, uid, gid, rawlog, unusual=UNUSUAL_DEFAULTS,
                  imap_settings=None):
    base = _dovecot_base(d)
    imap_tls = unusual["imap_tls"]
    ssl = "required" if imap_tls == "required" else "no"
    imaps_listener = f"""  inet_listener imaps {{
    address = {LISTEN}
    port = {ports['imaps']}
    ssl = yes
  }}
""" if imap_tls == "required" else ""
    # what Dovecot 2.3 lists before login, STARTTLS included although ssl = no: the server
    # then refuses the command itself
    capability = ("imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
                  "STARTTLS\n" if imap_tls == "starttls-refused" else "")
    dh = f"ssl_dh = <{DOVECOT_DH}\n" if os.path.exists(DOVECOT_DH) else ""
    rawlog_conf = ""
    imap_service = ""
    if rawlog:
        # Dovecot records nothing unless the folder exists, and users appear on the fly: a
        # post-login script makes DIR/rawlog/<user> for the mail uid before imap starts. It
        # runs as root (with $default_internal_user it could not create the folder).
        rawlog_conf = f"  rawlog_dir = {d}/rawlog/%u\n"
        imap_service = f"""service imap {{
  executable = imap imap-postlogin
}}
service imap-postlogin {{
  executable = script-login {d}/etc/postlogin.sh
  unix_listener imap-postlogin {{
  }}
}}
"""
    acl = unusual["acl"] == "vfile"
    acl_conf = "mail_plugins = $mail_plugins acl\nplugin {\n  acl = vfile\n}\n" if acl else ""
    imap_acl = "  mail_plugins = $mail_plugins imap_acl\n" if acl else ""
    return f"""# generated by mailstack.py (paht-mail test harness); /etc/dovecot is not used
instance_name = mailstack-{ports['imap']}
base_dir = {base}
state_dir = {d}/state
protocols = imap lmtp
listen = {LISTEN}
hostname = mailstack.localhost
log_path = {d}/log/dovecot.log
verbose_proctitle = yes
ssl = {ssl}
{capability}ssl_cert = <{d}/tls/cert.pem
ssl_key = <{d}/tls/key.pem
{dh}ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_username_format = %Lu
auth_verbose = yes
# no delay after a failed login and no per-IP penalty: else one wrong-password test slows
# every later login from 127.0.0.1, IMAP and SMTP AUTH alike, by 2-15 s (gotcha 8)
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
# every user@{DOMAIN} exists, all with the same password
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/mail/%d/%n allow_all_users=yes
}}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:~/Maildir
mail_fsync = never
{acl_conf}namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
}}
protocol imap {{
  mail_max_userip_connections = 200
{imap_acl}{rawlog_conf}{_imap_settings_conf(imap_settings)}}}
protocol lmtp {{
  postmaster_address = postmaster@{DOMAIN}
}}
service imap-login {{
  # login processes forked ahead: a new connection is greeted in ~1 ms instead of ~10 ms
  process_min_avail = 4
  inet_listener imap {{
    address = {LISTEN}
    port = {ports['imap']}
  }}
{imaps_listener}}}
service lmtp {{
  inet_listener lmtp {{
    address = {LISTEN}
    port = {ports['lmtp']}
  }}
}}
service auth {{
  unix_listener auth-postfix {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
{imap_service}"""


def _imap_settings_conf(settings):
    """Extra lines for Dovecot's "protocol imap" block, e.g. {"imap_fetch_failure": "no-after"}
    (a FETCH of an unreadable message answers NO instead of dropping the session) or
    {"imap_capability": "..."} (what the server offers after login, e.g. without MOVE)."""
    lines = ""
    for key, value in (settings or {}).items():
        if not key.replace("_", "").isalnum() or "\n" in str(value):
            raise MailStackError(f"mailstack: bad Dovecot setting {key!r}")
        lines += f"  {key} = {value}\n"
    return lines


def _postfix_main(d, ports, unusual=UNUSUAL_DEFAULTS):
    p = f"{d}/postfix/etc"
    smtp_tls = unusual["smtp_tls"]
    return f"""# generated by mailstack.py (paht-mail test harness); /etc/postfix is not used
compatibility_level = 3.6
queue_directory = {_postfix_spool(d)}
data_directory = {d}/postfix/data
# maillog_file outside /var is refused unless its prefix is allowed (gotcha 5);
# it needs the postlog service in master.cf
maillog_file_prefixes = {d}/log
maillog_file = {d}/log/postfix.log
myhostname = mailstack.localhost
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
biff = no
local_transport = error:5.1.1 mailstack: no local delivery
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
# nothing ever leaves this machine
default_transport = error:5.7.1 mailstack: delivers to loopback mailboxes only
relay_transport = error:5.7.1 mailstack: delivers to loopback mailboxes only
relay_domains =
virtual_mailbox_domains = {DOMAIN}
# every local part exists except nouser*. smtpd accepts nouser* mail anyway (so that the
# sender's MTA, not the SMTP dialogue, reports the failure), and since nothing checks
# virtual_mailbox_maps after smtpd when the transport is LMTP, the transport map sends it to
# error(8), which bounces it with a real DSN to the envelope sender.
virtual_mailbox_maps = regexp:{p}/vmailbox
smtpd_reject_unlisted_recipient = no
virtual_transport = lmtp:inet:{LISTEN}:{ports['lmtp']}
transport_maps = regexp:{p}/transport
recipient_delimiter = +
smtputf8_enable = yes
message_size_limit = 52428800
# TLS 1.3 session tickets make every TLS session 40 ms slower here (Nagle + delayed ACK,
# gotcha 9): Postfix has no knob, OpenSSL's NumTickets = 0 through tls_config_file
tls_config_file = {d}/etc/openssl-postfix.cnf
tls_config_name = mailstack
tls_ssl_options = NO_TICKET
smtpd_tls_security_level = {smtp_tls}
smtpd_tls_auth_only = yes
smtpd_tls_cert_file = {d}/tls/cert.pem
smtpd_tls_key_file = {d}/tls/key.pem
smtpd_tls_loglevel = 1
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {_dovecot_base(d)}/auth-postfix
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions =
  check_recipient_access regexp:{p}/faults.regexp,
  check_recipient_access hash:{p}/faults,
  permit
# fast tests: no tarpitting, no flow-control pauses, quick retries
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
in_flow_delay = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 5s
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
delay_warning_time = 0
"""


def _postfix_master(ports):
    return f"""# generated by mailstack.py
# service type  private unpriv chroot wakeup maxproc command
{LISTEN}:{ports['smtp']} inet n - n - - smtpd
{LISTEN}:{ports['smtps']} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes
{LISTEN}:{ports['submission']} inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


OPENSSL_POSTFIX = """# read by Postfix (tls_config_file, tls_config_name = mailstack): no TLS 1.3 session
# tickets; smtpd's EHLO reply would wait 40 ms for the ticket's delayed ACK (gotcha 9)
mailstack = mailstack_conf
[mailstack_conf]
ssl_conf = mailstack_ssl
[mailstack_ssl]
system_default = mailstack_tls
[mailstack_tls]
NumTickets = 0
"""

FAULTS_REGEXP = """# static faults: always on, no setup
/^tempfail(\\+.*)?@/   451 4.3.0 mailstack: injected temporary failure
/^permfail(\\+.*)?@/   550 5.1.1 mailstack: injected permanent failure
"""

TRANSPORT = """# unknown users: accepted by smtpd, then bounced with a DSN by error(8)
/^nouser/   error:5.1.1 User unknown in virtual mailbox table
"""

VMAILBOX = """# every local part is a mailbox, except nouser*: mail to those is bounced with a DSN
!/^nouser/ OK
"""


def _make_queue_tree(d):
    """The queue folders as the package's postfix-files lists them ("postfix start" would do
    this in postfix-script, which we bypass: gotcha 3)."""
    spool, data = _postfix_spool(d), f"{d}/postfix/data"
    pf = pwd.getpwnam("postfix")
    try:
        import grp

        postdrop = grp.getgrnam("postdrop").gr_gid
    except KeyError:
        raise MailStackError(_missing("group postdrop"))
    with open(POSTFIX_FILES) as f:
        for line in f:
            fields = line.rstrip("\n").split(":")
            if len(fields) < 5 or fields[1] != "d":
                continue
            path, owner, group, mode = fields[0], fields[2], fields[3], fields[4]
            if path.startswith("$queue_directory"):
                path = spool + path[len("$queue_directory") :]
            elif path.startswith("$data_directory"):
                path = data + path[len("$data_directory") :]
            else:
                continue
            os.makedirs(path, exist_ok=True)
            uid = pf.pw_uid if owner == "$mail_owner" else 0
            gid = postdrop if group == "$setgid_group" else -1
            os.chown(path, uid, gid)
            os.chmod(path, int(mode, 8))


# -------------------------------------------------------------------------- the stack


class MailStack:
    """One running (or stopped) stack, described by its DIR/mailstack.env."""

    def __init__(self, env):
        missing = [k for k in ENV_KEYS if k not in env]
        if missing:
            raise MailStackError(f"mailstack: env file lacks {', '.join(missing)}")
        self.env = dict(env)
        self.dir = env["MAILSTACK_DIR"]
        self.domain = env["MAILSTACK_DOMAIN"]
        self.password = env["MAILSTACK_PASSWORD"]
        self.listen = env["MAILSTACK_LISTEN"]
        self.imap_port = int(env["MAILSTACK_IMAP_PORT"])
        self.imaps_port = int(env["MAILSTACK_IMAPS_PORT"])
        self.smtp_port = int(env["MAILSTACK_SMTP_PORT"])
        self.smtps_port = int(env["MAILSTACK_SMTPS_PORT"])
        self.submission_port = int(env["MAILSTACK_SUBMISSION_PORT"])
        self.lmtp_port = int(env["MAILSTACK_LMTP_PORT"])
        self.ca = env["MAILSTACK_CA"]
        self.dovecot_conf = env["MAILSTACK_DOVECOT_CONF"]
        self.postfix_conf = env["MAILSTACK_POSTFIX_CONF"]
        self.dovecot_pid = int(env["MAILSTACK_DOVECOT_PID"] or 0)
        self.postfix_pid = int(env["MAILSTACK_POSTFIX_PID"] or 0)
        self.env_path = os.path.join(self.dir, "mailstack.env")
        self.dovecot_log = os.path.join(self.dir, "log", "dovecot.log")
        self.postfix_log = os.path.join(self.dir, "log", "postfix.log")
        self.rawlog_root = os.path.join(self.dir, "rawlog")
        self.preauth_port = int(env.get("MAILSTACK_PREAUTH_PORT") or 0)
        try:
            with open(os.path.join(self.dir, "unusual.json")) as f:
                self.unusual = _unusual(json.load(f))
        except (OSError, ValueError):
            self.unusual = dict(UNUSUAL_DEFAULTS)
        self.owns_dir = False
        self.start_seconds = None

    # ---- finding a stack

    @classmethod
    def load(cls, env_path):
        """The stack described by ENV_PATH (the env file, or the folder holding it)."""
        if os.path.isdir(env_path):
            env_path = os.path.join(env_path, "mailstack.env")
        try:
            with open(env_path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise MailStackError(f"mailstack: cannot read {env_path}: {e.strerror}")
        env = {}
        for line in text.splitlines():
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                env[k.strip()] = v.strip()
        return cls(env)

    # ---- starting

    @classmethod
    def start(cls, directory=None, rawlog=None, unusual=None, imap_settings=None):
        """Start a fresh stack in DIRECTORY (None: a new mkdtemp folder) and return it.

        An existing DIRECTORY is reused only if an earlier start made it (it is wiped first,
        after stopping what still runs there); any other non-empty folder is refused.
        RAWLOG None follows the environment variable MAILSTACK_RAWLOG=1. UNUSUAL: the
        unusual configuration, {name: value} (see the top of this file). IMAP_SETTINGS: extra
        Dovecot settings for IMAP sessions ({name: value}), for tests of other servers' ways.
        """
        t0 = time.monotonic()
        unusual = _unusual(unusual)
        tools = _check_tools()
        _require_root()
        if rawlog is None:
            rawlog = os.environ.get("MAILSTACK_RAWLOG", "") == "1"
        uid, gid = _ensure_mail_user()
        made = directory is None
        d = os.path.abspath(directory or os.path.join(tempfile.gettempdir(), "mailstack.X"))
        if any(c.isspace() or c in "\"'$\\" for c in d):
            raise MailStackError(f"mailstack: unusable folder name {d!r} (env values are unquoted)")
        _check_traversable(d)
        if made:
            d = tempfile.mkdtemp(prefix="mailstack.")
        else:
            _prepare_dir(d)
        try:
            stack = cls._start_in(d, tools, uid, gid, rawlog, unusual, imap_settings)
        except BaseException:
            _stop_dir(d)
            if made:
                _remove_dir(d)
            raise
        stack.start_seconds = time.monotonic() - t0
        stack.owns_dir = made
        return stack

    @classmethod
    def _start_in(cls, d, tools, uid, gid, rawlog, unusual=UNUSUAL_DEFAULTS, imap_settings=None):
        # the daemons and the mail uid must be able to traverse DIR: mkdtemp makes 0700 (gotcha 6)
        os.chmod(d, 0o755)
        with open(os.path.join(d, MARKER), "w") as f:
            f.write("made by paht-mail tests/harness/mailstack.py; wiped on the next start\n")
        for sub in ("etc", "run", "state", "log", "tls", "mail", "rawlog", "postfix/etc"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chmod(os.path.join(d, "tls"), 0o755)
        for sub in ("mail", "rawlog"):
            os.chown(os.path.join(d, sub), uid, gid)
            os.chmod(os.path.join(d, sub), 0o755)
        if _long(d):  # sockets in a short folder; symlinks show where
            root = _short_root(d)
            shutil.rmtree(root, ignore_errors=True)
            os.mkdir(root, 0o755)
            os.chmod(root, 0o755)
            os.makedirs(os.path.join(d, "postfix"), exist_ok=True)
            os.symlink(_dovecot_base(d), os.path.join(d, "run", "dovecot"))
            os.symlink(_postfix_spool(d), os.path.join(d, "postfix", "spool"))
        _make_queue_tree(d)
        _make_certs(d, tools["openssl"], unusual["cert_names"])
        _write(os.path.join(d, "unusual.json"), json.dumps(unusual) + "\n")

        p = f"{d}/postfix/etc"
        password = secrets.token_urlsafe(18)
        _write(f"{d}/etc/openssl-postfix.cnf", OPENSSL_POSTFIX, age=5)
        _write(f"{p}/faults.regexp", FAULTS_REGEXP, age=5)
        _write(f"{p}/vmailbox", VMAILBOX, age=5)
        _write(f"{p}/transport", TRANSPORT, age=5)
        _write(f"{p}/faults", "", age=5)
        if rawlog:
            _write(
                f"{d}/etc/postlogin.sh",
                "#!/bin/sh\n# Dovecot post-login script: the rawlog folder of the user logging in\n"
                f'install -d -o {uid} -g {gid} -m 0750 "{d}/rawlog/$USER"\nexec "$@"\n',
                mode=0o755,
            )

        last = None
        for _ in range(START_ATTEMPTS):
            ports = dict(zip(PORT_NAMES + ("preauth",), _pick_ports(len(PORT_NAMES) + 1)))
            _write(f"{d}/etc/dovecot.conf",
                   _dovecot_conf(d, ports, password, uid, gid, rawlog, unusual, imap_settings))
            _write(f"{p}/main.cf", _postfix_main(d, ports, unusual), age=5)
            _write(f"{p}/master.cf", _postfix_master(ports), age=5)
            env = {
                "MAILSTACK_DIR": d,
                "MAILSTACK_DOMAIN": DOMAIN,
                "MAILSTACK_PASSWORD": password,
                "MAILSTACK_LISTEN": LISTEN,
                "MAILSTACK_IMAP_PORT": ports["imap"],
                "MAILSTACK_IMAPS_PORT": ports["imaps"],
                "MAILSTACK_SMTP_PORT": ports["smtp"],
                "MAILSTACK_SMTPS_PORT": ports["smtps"],
                "MAILSTACK_SUBMISSION_PORT": ports["submission"],
                "MAILSTACK_LMTP_PORT": ports["lmtp"],
                "MAILSTACK_CA": f"{d}/tls/ca.pem",
                "MAILSTACK_DOVECOT_CONF": f"{d}/etc/dovecot.conf",
                "MAILSTACK_POSTFIX_CONF": p,
                "MAILSTACK_DOVECOT_PID": 0,
                "MAILSTACK_POSTFIX_PID": 0,
            }
            if unusual["preauth"]:
                env["MAILSTACK_PREAUTH_PORT"] = ports["preauth"]
            stack = cls({k: str(v) for k, v in env.items()})
            stack.tools = tools
            try:
                stack._launch(postmap=True)
                if unusual["preauth"]:
                    stack._start_preauth(unusual["preauth"])
            except MailStackError as e:
                stack._stop_all()
                # Postfix's master reports a failed bind nowhere we can read (its log daemon
                # is not up yet): with ours stopped, a port still listening was taken meanwhile
                taken = [port for port in ports.values() if _is_listening(port)]
                if not isinstance(e, _PortTaken) and not taken:
                    raise
                last = f"{e} (taken: {taken})"
                continue
            stack._record_pids()
            return stack
        raise MailStackError(f"mailstack: no free ports after {START_ATTEMPTS} attempts: {last}")

    def _launch(self, postmap=False, dovecot=True, postfix=True):
        """Start the daemons (in parallel) and wait until their ports listen."""
        procs = []
        log = os.path.join(self.dir, "log")
        if dovecot:
            self._drop_stale_pidfile()
            # never our stdout/stderr: $(mailstack.py start) would wait for them (gotcha 1)
            out = open(os.path.join(log, "dovecot-start.log"), "ab")
            procs.append(
                ("dovecot", out, subprocess.Popen(
                    [self._tool("dovecot"), "-c", self.dovecot_conf],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                ))
            )
        if postmap:
            procs.append(("postmap", None, self._postmap_popen()))
        if postfix:
            out = open(os.path.join(log, "postfix-start.log"), "ab")
            # master -w directly: "postfix start" spends ~2 s in postfix-script (gotcha 3)
            procs.append(
                ("postfix", out, subprocess.Popen(
                    [os.path.join(POSTFIX_DAEMONS, "master"), "-c", self.postfix_conf, "-w"],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                ))
            )
        failed = []
        for name, out, proc in procs:
            rc = proc.wait(timeout=60)
            if out:
                out.close()
            if rc != 0:
                failed.append((name, rc))
        ports = []
        if dovecot:
            ports += [self.imap_port, self.lmtp_port]
            if self.unusual["imap_tls"] == "required":
                ports.append(self.imaps_port)
        if postfix:
            ports += [self.smtp_port, self.smtps_port, self.submission_port]
        if not failed and _wait(lambda: all(_is_listening(p) for p in ports), PORT_WAIT):
            return
        text = ""
        for name in ("dovecot-start.log", "dovecot.log", "postfix-start.log", "postfix.log"):
            tail = _tail(os.path.join(log, name), 8)
            if tail.strip():
                text += f"\n--- {log}/{name}\n{tail}"
        if "in use" in text:
            raise _PortTaken(f"a port was taken{text}")
        what = ", ".join(f"{n} exit {rc}" for n, rc in failed) or "ports did not open in time"
        raise MailStackError(f"mailstack: start failed in {self.dir} ({what}){text}")

    def _tool(self, name):
        tools = getattr(self, "tools", None)
        if tools is None:
            tools = self.tools = _check_tools()
        return tools[name]

    def _postmap_popen(self):
        return subprocess.Popen(
            [self._tool("postmap"), "-c", self.postfix_conf, f"hash:{self.postfix_conf}/faults"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    # ---- pids and env file

    def _dovecot_pidfile(self):
        return os.path.join(_dovecot_base(self.dir), "master.pid")

    def current_dovecot_pid(self):
        try:
            with open(self._dovecot_pidfile()) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def current_postfix_pid(self):
        try:
            with open(os.path.join(_postfix_spool(self.dir), "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def _drop_stale_pidfile(self):
        # a killed master may stay a zombie for a while; Dovecot would then refuse to start
        # ("already running"), so a pid file whose process is dead goes (gotcha 12)
        pid = self.current_dovecot_pid()
        if pid and not _alive(pid):
            try:
                os.unlink(self._dovecot_pidfile())
            except FileNotFoundError:
                pass

    def _record_pids(self):
        self.dovecot_pid = self.current_dovecot_pid()
        self.postfix_pid = self.current_postfix_pid()
        self.env["MAILSTACK_DOVECOT_PID"] = str(self.dovecot_pid)
        self.env["MAILSTACK_POSTFIX_PID"] = str(self.postfix_pid)
        keys = ENV_KEYS + tuple(k for k in OPTIONAL_ENV_KEYS if k in self.env)
        _write(self.env_path, "".join(f"{k}={self.env[k]}\n" for k in keys))

    # ---- state

    def dovecot_up(self):
        return _alive(self.current_dovecot_pid())

    def postfix_up(self):
        return _alive(self.current_postfix_pid())

    def status(self):
        return {
            "dovecot": (self.current_dovecot_pid(), self.dovecot_up()),
            "postfix": (self.current_postfix_pid(), self.postfix_up()),
        }

    # ---- stopping

    def _stop_all(self):
        _stop_preauth(self.dir)
        _stop_masters([self.current_postfix_pid(), self.current_dovecot_pid(),
                       self.dovecot_pid, self.postfix_pid])

    # ---- the PREAUTH listener (unusual preauth=USER)

    def _start_preauth(self, user):
        """systemd-socket-activate listens on the preauth port and runs, for each connection,
        Dovecot's imap process logged in as USER, the socket as its stdin and stdout (what
        "doveadm exec imap -u USER" does on a terminal). As the mail user: run as root with a
        socket for stdout, imap refuses ("must not be started from inetd")."""
        log = open(os.path.join(self.dir, "log", "preauth.log"), "ab")
        proc = subprocess.Popen(
            [_tool("systemd-socket-activate"), "--inetd", "--accept",
             "--listen", f"{self.listen}:{self.preauth_port}",
             _tool("setpriv"), f"--reuid={MAIL_USER}", f"--regid={MAIL_USER}", "--init-groups",
             os.path.join(DOVECOT_LIBEXEC, "imap"), "-c", self.dovecot_conf,
             "-u", self.address(user)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        _write(os.path.join(self.dir, "run", "preauth.pid"), f"{proc.pid}\n")
        if not _wait(lambda: _is_listening(self.preauth_port), PORT_WAIT):
            raise MailStackError(f"mailstack: the preauth listener did not open "
                                 f"{self.preauth_port}: {_tail(os.path.join(self.dir, 'log', 'preauth.log'))}")

    def stop(self, remove=False):
        """Stop both daemons (also fine when already stopped); REMOVE deletes the folder."""
        self._stop_all()
        if remove:
            _remove_dir(self.dir)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # stop; the folder goes too if start() made it (a folder given by the caller stays)
        self.stop(remove=self.owns_dir)
        return False

    # ---- mail in and out

    def address(self, user):
        return user if "@" in user else f"{user}@{self.domain}"

    def ssl_context(self):
        return ssl.create_default_context(cafile=self.ca)

    def deliver(self, rcpt, data, sender=DEFAULT_SENDER):
        """Put DATA (bytes) straight into RCPT's mailbox through Dovecot's LMTP."""
        with smtplib.LMTP(self.listen, self.lmtp_port, timeout=30) as lmtp:
            _nodelay(lmtp.sock)
            refused = lmtp.sendmail(sender, [self.address(rcpt)], data)
        if refused:
            raise MailStackError(f"mailstack: LMTP refused {refused}")

    def smtp_send(self, rcpts, data, sender=DEFAULT_SENDER, port=None, starttls=True,
                  implicit_tls=False, login=None, timeout=30):
        """Send DATA (bytes) through Postfix; returns smtplib's dict of refused recipients.

        Defaults: the SMTP port with STARTTLS, no AUTH (mail to local users needs none).
        LOGIN (a user name) authenticates with the common password; smtplib raises on a
        refused MAIL, DATA, or when every recipient is refused."""
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        rcpts = [self.address(r) for r in rcpts]
        if implicit_tls:
            conn = smtplib.SMTP_SSL(self.listen, port or self.smtps_port, timeout=timeout,
                                    context=self.ssl_context())
        else:
            conn = smtplib.SMTP(self.listen, port or self.smtp_port, timeout=timeout)
        with conn:
            _nodelay(conn.sock)
            if starttls and not implicit_tls:
                conn.starttls(context=self.ssl_context())
            if login:
                conn.login(self.address(login), self.password)
            return conn.sendmail(sender, rcpts, data)

    def imap(self, user, timeout=30):
        """An imaplib.IMAP4 logged in as USER over STARTTLS, the certificate verified."""
        conn = imaplib.IMAP4(self.listen, self.imap_port, timeout=timeout)
        _nodelay(conn.sock)
        try:
            conn.starttls(self.ssl_context())
            conn.login(self.address(user), self.password)
        except BaseException:
            conn.shutdown()
            raise
        return conn

    def imaps(self, user, timeout=30):
        """The same over implicit TLS (the IMAPS port)."""
        conn = imaplib.IMAP4_SSL(self.listen, self.imaps_port, ssl_context=self.ssl_context(),
                                 timeout=timeout)
        _nodelay(conn.sock)
        try:
            conn.login(self.address(user), self.password)
        except BaseException:
            conn.shutdown()
            raise
        return conn

    # ---- rawlog (only with MAILSTACK_RAWLOG=1 at start)

    def rawlog_enabled(self):
        with open(self.dovecot_conf) as f:
            return "rawlog_dir" in f.read()

    def rawlog_commands(self, user):
        """The lines the clients of USER sent after login ("TAG COMMAND ARGS", literal data
        lines included), oldest session first, from Dovecot's rawlog *.in files with the
        timestamps taken off. Empty if nothing was recorded. A session's file is complete
        once the client has logged out."""
        folder = os.path.join(self.rawlog_root, self.address(user).lower())
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".in"))
        except FileNotFoundError:
            return []
        lines = []
        for name in names:
            with open(os.path.join(folder, name), "rb") as f:
                for raw in f.read().splitlines():
                    line = raw.decode("utf-8", "replace")
                    stamp, _, rest = line.partition(" ")
                    if stamp.replace(".", "", 1).isdigit():
                        line = rest
                    if line:
                        lines.append(line)
        return lines

    def rawlog_clear(self, user):
        """Forget what was recorded for USER so far (sessions still open keep writing)."""
        folder = os.path.join(self.rawlog_root, self.address(user).lower())
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            os.unlink(os.path.join(folder, name))

    # ---- faults

    def fault_rcpt(self, address, code, text=None):
        """RCPT TO ADDRESS gets CODE (e.g. 451, 550, or "452 4.2.2") from the next SMTP
        connection on; replaces an earlier entry for ADDRESS."""
        code = str(code).strip()
        if " " not in code:
            code += " 4.3.0" if code.startswith("4") else " 5.1.1"
        address = self.address(address).lower()
        entries = [
            ln for ln in self._fault_lines() if ln.split(None, 1)[0] != address
        ]
        entries.append(f"{address} {code} {text or 'mailstack: injected failure'}")
        self._rebuild_faults(entries)

    def fault_clear(self):
        self._rebuild_faults([])

    def _fault_lines(self):
        try:
            with open(os.path.join(self.postfix_conf, "faults")) as f:
                return [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
        except FileNotFoundError:
            return []

    def _rebuild_faults(self, entries):
        src = os.path.join(self.postfix_conf, "faults")
        db = src + ".db"
        try:
            old = int(os.stat(db).st_mtime)
        except FileNotFoundError:
            old = 0
        _write(src, "".join(e + "\n" for e in entries), age=5)
        _run([self._tool("postmap"), "-c", self.postfix_conf, f"hash:{src}"], "postmap")
        # smtpd notices a changed table by whole-second mtimes: two changes within one second
        # would look like none, so the new table always gets a strictly newer mtime (gotcha 10)
        new = max(int(time.time()), old + 1)
        os.utime(db, (new, new))

    # ---- breaking and mending the servers

    def imap_down(self):
        """Stop Dovecot (IMAP, IMAPS, LMTP and SMTP AUTH): connections are refused."""
        _stop_masters([self.current_dovecot_pid()])

    def imap_up(self):
        """Start Dovecot again: same mail store, same UIDVALIDITY; the env file's PIDs follow."""
        if self.dovecot_up():
            return
        self._launch(dovecot=True, postfix=False)
        self._record_pids()

    def imap_crash(self):
        """SIGKILL all of Dovecot at once, like a crash (clients see EOF with no BYE)."""
        pid = self.current_dovecot_pid()
        _signal_group(pid, signal.SIGKILL)
        _wait(lambda: not _group(pid), 5.0)

    def imap_freeze(self):
        """SIGSTOP the whole Dovecot group: sessions hang, new connections are accepted by the
        kernel but never greeted; LMTP and SMTP AUTH hang too (gotcha 13)."""
        _signal_group(self.current_dovecot_pid(), signal.SIGSTOP)

    def imap_thaw(self):
        _signal_group(self.current_dovecot_pid(), signal.SIGCONT)

    def smtp_down(self):
        _stop_masters([self.current_postfix_pid()])

    def smtp_up(self):
        if self.postfix_up():
            return
        self._launch(dovecot=False, postfix=True)
        self._record_pids()

    def flush(self):
        """Retry deferred mail now (postqueue -f)."""
        _run([self._tool("postqueue"), "-c", self.postfix_conf, "-f"], "postqueue -f")

    def queue(self):
        """Postfix's queue as a list of dicts (postqueue -j)."""
        out = _run([self._tool("postqueue"), "-c", self.postfix_conf, "-j"], "postqueue -j")
        return [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]

    def pending_for(self, recipients):
        """The queue entries (postqueue -j) that still hold mail for any of RECIPIENTS."""
        wanted = {self.address(r).lower() for r in recipients}
        return [item for item in self.queue()
                if any(r.get("address", "").lower() in wanted for r in item.get("recipients", []))]

    def wait_delivered(self, recipients, timeout=120):
        """Wait until Postfix holds no mail for any of RECIPIENTS (deferred mail is flushed).

        Every message Postfix accepted for them is then in their mailboxes (or bounced): a
        count taken afterwards is final, so a duplicate, had one been sent, is seen, with no
        sleep. Only what was accepted before the call counts: call it once the sender has
        finished (its process ended, or its outbox rows say sent). Postfix keeps a message in
        its queue (incoming, active or deferred; postqueue lists them all) from before its
        250 to the sender until Dovecot's LMTP has stored it. MailStackError after TIMEOUT
        seconds, naming what is left."""
        self.flush()
        deadline = time.monotonic() + timeout
        while True:
            left = self.pending_for(recipients)
            if not left:
                return
            if time.monotonic() >= deadline:
                raise MailStackError(f"mailstack: after {timeout} s Postfix still holds mail for "
                                     f"{[r['address'] for i in left for r in i['recipients']]}")
            time.sleep(0.05)


def _pids_in_dir(d):
    """Master pids a stack in D may still run (env file and pid files)."""
    pids = []
    try:
        stack = MailStack.load(d)
        pids += [stack.dovecot_pid, stack.postfix_pid,
                 stack.current_dovecot_pid(), stack.current_postfix_pid()]
    except MailStackError:
        for path in (os.path.join(_dovecot_base(d), "master.pid"),
                     os.path.join(_postfix_spool(d), "pid", "master.pid")):
            try:
                with open(path) as f:
                    pids.append(int(f.read().split()[0]))
            except (OSError, ValueError, IndexError):
                pass
    return [p for p in pids if p]


def _stop_preauth(d):
    """Stop the PREAUTH listener of the stack in D and its sessions (its own process group)."""
    path = os.path.join(d, "run", "preauth.pid")
    try:
        with open(path) as f:
            pid = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return
    st = _stat(pid)
    if st and st[1] == pid and "systemd-socket" in _exe(pid):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            if _wait(lambda: not _group(pid), TERM_WAIT):
                break
    os.unlink(path)


def _stop_dir(d):
    _stop_preauth(d)
    _stop_masters(_pids_in_dir(d))


def _remove_dir(d):
    if _long(d):
        shutil.rmtree(_short_root(d), ignore_errors=True)
    shutil.rmtree(d, ignore_errors=True)


def _prepare_dir(d):
    """Make D usable for a fresh start: absent, empty, or left by an earlier start."""
    if not os.path.exists(d):
        os.makedirs(d, mode=0o755)
        return
    entries = os.listdir(d)
    if not entries:
        return
    if MARKER not in entries:
        raise MailStackError(f"mailstack: {d} exists, is not empty and is not a mail stack folder")
    _stop_dir(d)
    if _long(d):
        shutil.rmtree(_short_root(d), ignore_errors=True)
    for name in entries:
        path = os.path.join(d, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


# ------------------------------------------------------------------------------- CLI


def _load_cli(d):
    if not os.path.isfile(os.path.join(d, "mailstack.env")):
        raise MailStackError(f"mailstack: {d} holds no mailstack.env (not started?)")
    return MailStack.load(d)


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="mailstack.py", description="Dovecot + Postfix on loopback for paht-mail tests"
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("start", help="start a fresh stack, print DIR")
    p.add_argument("dir", nargs="?")
    p.add_argument("--unusual", action="append", default=[], metavar="NAME=VALUE",
                   help="an unusual configuration (cert_names, imap_tls, smtp_tls, preauth, "
                        "acl)")
    p = sub.add_parser("stop", help="stop (TERM, then KILL leftovers)")
    p.add_argument("dir")
    p.add_argument("--rm", action="store_true", help="delete DIR afterwards")
    for name in ("status", "fault-clear", "imap-down", "imap-up", "imap-crash", "imap-freeze",
                 "imap-thaw", "smtp-down", "smtp-up", "flush", "queue"):
        sub.add_parser(name).add_argument("dir")
    p = sub.add_parser("deliver", help="LMTP-deliver FILE to RCPT")
    p.add_argument("dir")
    p.add_argument("rcpt")
    p.add_argument("file")
    p.add_argument("--from", dest="sender", default=DEFAULT_SENDER)
    p = sub.add_parser("fault-rcpt", help="RCPT TO ADDR answers CODE from the next connection")
    p.add_argument("dir")
    p.add_argument("addr")
    p.add_argument("code")
    p.add_argument("text", nargs="*")
    args = ap.parse_args(argv)

    try:
        if args.cmd == "start":
            unusual = dict(item.split("=", 1) for item in args.unusual if "=" in item)
            if len(unusual) != len(args.unusual):
                raise MailStackError("mailstack: --unusual takes NAME=VALUE")
            stack = MailStack.start(args.dir, unusual=unusual)
            print(f"mailstack: up in {stack.start_seconds:.2f} s: {stack.dir}", file=sys.stderr)
            print(stack.dir)
            return 0
        d = os.path.abspath(args.dir)
        if args.cmd == "stop":
            if os.path.isdir(d):
                _stop_dir(d)
                if args.rm:
                    _remove_dir(d)
            return 0
        stack = _load_cli(d)
        if args.cmd == "status":
            st = stack.status()
            for name, (pid, up) in st.items():
                frozen = up and _stat(pid)[0] == "T"
                print(f"{name} {pid} {'frozen' if frozen else 'up' if up else 'down'}")
            return 0 if all(up for _, up in st.values()) else 1
        if args.cmd == "deliver":
            with open(args.file, "rb") as f:
                stack.deliver(args.rcpt, f.read(), sender=args.sender)
        elif args.cmd == "fault-rcpt":
            stack.fault_rcpt(args.addr, args.code, " ".join(args.text) or None)
        elif args.cmd == "queue":
            for item in stack.queue():
                print(json.dumps(item))
        else:
            getattr(stack, args.cmd.replace("-", "_"))()
        return 0
    except MailStackError as e:
        print(str(e), file=sys.stderr)
        return 1
    except (OSError, smtplib.SMTPException) as e:
        print(f"mailstack: {args.cmd}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
