"""webtest: helpers for the tests of pahtweb, the console (issue 13). Standard library only
(the browser tests add Selenium themselves).

    gw = pahttest.Gateway(stack, pahttest.unique("web"))
    console = Console(gw)
    console.user("ioc.lan", "ioc")                 # pahtctl user add, password on stdin
    console.start()                                # pahtweb on a free loopback port
    client = console.login("ioc.lan")              # a browser-like client with its session
    page = client.get("/")
    client.post("/reports/PAHT-2026-000001/note", {"text": "..."})   # csrf added

pahtweb is started with listen = 127.0.0.1:0 and says its address on its first line of
standard output; its log (stderr) is kept in DIR/pahtweb.log. Every client keeps its cookies
and the last csrf token it saw in a page.
"""

import hashlib
import http.client
import os
import re
import secrets
import sqlite3
import subprocess
import urllib.parse

import pahttest

CSP = ("default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
       "base-uri 'none'; form-action 'self'")

AGENCIES = {
    "xd": ("Sở Xây dựng", "xd", "xd-leader", "Nguyễn Văn A"),
    "gtvt": ("Sở Giao thông vận tải", "gtvt", "gtvt-leader", "Trần Thị B"),
}


def password_of(login):
    """The tests' password of an account: long enough, and never the login."""
    return f"Mật khẩu của {login} 2026"


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return f"<Response {self.status} {self.text[:200]!r}>"


def multipart(fields, files):
    """A multipart/form-data body: FIELDS {name: value or [values]}, FILES [(field, filename,
    content_type, bytes)]."""
    boundary = "paht-" + secrets.token_hex(12)
    out = []
    for name, values in fields.items():
        for value in values if isinstance(values, (list, tuple)) else [values]:
            out.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                       .encode() + str(value).encode() + b"\r\n")
    for field, filename, ctype, data in files:
        quoted = filename.replace('"', "%22")
        out.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
                   f"filename=\"{quoted}\"\r\nContent-Type: {ctype}\r\n\r\n".encode() + data
                   + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


class Client:
    """One browser: its cookies, the csrf token of the last page it read."""

    def __init__(self, console):
        self.console = console
        self.cookies = {}
        self.csrf = None

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.console.port, timeout=120)
        sent = {"Host": f"127.0.0.1:{self.console.port}"}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        sent.update(headers or {})
        chunked = sent.get("Transfer-Encoding") == "chunked"
        try:
            try:
                conn.request(method, path, body=body, headers=sent, encode_chunked=chunked)
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused before the body was read: the answer is there to read
            r = conn.getresponse()
            response = Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()
        for value in response.all("Set-Cookie"):
            name, _, rest = value.partition("=")
            cookie_value = rest.split(";", 1)[0]
            if "Max-Age=0" in value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = cookie_value
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def post(self, path, fields=None, files=None, headers=None, csrf=True):
        """POST FIELDS (urlencoded, or multipart with FILES); the csrf field is added unless
        CSRF is False (or a string to send instead)."""
        fields = dict(fields or {})
        if csrf is True:
            fields.setdefault("csrf", self.csrf or "")
        elif csrf:
            fields["csrf"] = csrf
        if files:
            body, ctype = multipart(fields, files)
        else:
            body = urllib.parse.urlencode(fields, doseq=True).encode()
            ctype = "application/x-www-form-urlencoded"
        sent = {"Content-Type": ctype}
        sent.update(headers or {})
        return self.request("POST", path, body=body, headers=sent)

    def login(self, login, password=None):
        self.get("/login")
        return self.post("/login", {"login": login,
                                    "password": password if password is not None
                                    else password_of(login)})


class Console:
    """pahtweb over a pahttest.Gateway's configuration and database."""

    def __init__(self, gw, web=None, agencies=True):
        self.gw = gw
        self.proc = None
        self.port = None
        self.log_path = os.path.join(gw.dir, "pahtweb.log")
        if agencies:
            domain = gw.stack.domain
            gw.write_agencies({code: (name, f"{gw.name}-{contact}@{domain}",
                                      f"{gw.name}-{leader}@{domain}", leader_name)
                               for code, (name, contact, leader, leader_name) in AGENCIES.items()})
        gw.config["web"] = {"listen": "127.0.0.1:0", "threads": "4"}
        gw.config["web"].update({k: str(v) for k, v in (web or {}).items()})
        gw.write_config()

    def user(self, login, role, name="Cán bộ thử nghiệm", password=None, email=None):
        args = ["user", "add", login, "--role", role, "--name", name]
        if email:
            args += ["--email", email]
        run = self.gw.pahtctl(*args, input=(password or password_of(login)) + "\n")
        if run.returncode != 0:
            raise AssertionError(f"pahtctl user add {login}: {run.stderr}")
        return login

    def start(self, now=None, env=None):
        """pahtweb with PAHT_NOW=NOW (a datetime or RFC 3339 text; default: the gateway's)."""
        merged = dict(env or {})
        if now is not None:
            merged["PAHT_NOW"] = now if isinstance(now, str) else now.isoformat()
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            self.proc = subprocess.Popen(
                [self.gw.binary("pahtweb"), "-c", self.gw.config_path],
                env=self.gw._env(merged), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=log, text=True)
        finally:
            os.close(log)
        self.gw._procs.append(self.proc)
        line = self.proc.stdout.readline()
        found = re.search(r"listening on https?://127\.0\.0\.1:(\d+)", line)
        if not found:
            self.proc.wait(timeout=30)
            raise AssertionError(f"pahtweb did not start ({self.proc.returncode}): {self.log()}")
        self.port = int(found.group(1))
        return self

    def stop(self):
        if self.proc:
            status = self.gw.stop_pahtd(self.proc)
            self.proc.stdout.close()
            self.proc = None
            return status
        return None

    def restart(self, now=None):
        self.stop()
        return self.start(now=now)

    def log(self):
        return pahttest.read_log(self.log_path)

    def client(self):
        return Client(self)

    def login(self, login, password=None):
        c = self.client()
        r = c.login(login, password)
        if r.status != 303:
            raise AssertionError(f"login of {login}: {r.status} {r.text[:300]}")
        c.get("/")
        return c

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    # ---- the database, read only

    def db(self):
        return sqlite3.connect(f"file:{self.gw.database}?mode=ro", uri=True, timeout=30)

    def query(self, sql, *args):
        with self.db() as db:
            return db.execute(sql, args).fetchall()

    def snapshot(self):
        """What any action would change: reports' states and fields, events, letters, files,
        links, sessions aside."""
        tables = {
            "report": "SELECT id, state, citizen_name, citizen_phone, agency, coordinators,"
                      " overdue FROM report ORDER BY id",
            "event": "SELECT count(*), max(id) FROM event",
            "outbox": "SELECT count(*), max(id) FROM outbox",
            "lifecycle": "SELECT * FROM report_lifecycle ORDER BY report_id",
            "result_file": "SELECT count(*) FROM result_file",
            "duplicate": "SELECT * FROM report_duplicate ORDER BY id",
        }
        return {name: self.query(sql) for name, sql in tables.items()}


def console_with_users(users, web=None):
    """A gateway of its own on the shared stack and its console (not started), with USERS
    {login: role or (role, full name)}: (stack, gw, console)."""
    stack = pahttest.shared_stack()
    gw = pahttest.Gateway(stack, pahttest.unique("web"))
    console = Console(gw, web=web)
    for login, role in users.items():
        role, name = role if isinstance(role, tuple) else (role, "Cán bộ thử nghiệm")
        console.user(login, role, name=name)
    return stack, gw, console


def ingest(gw, *paths):
    """pahtctl ingest PATHS; the codes it gave, in order."""
    out = gw.pahtctl_json("ingest", *paths)
    return [o.get("code") for o in out]


def mail_file(gw, name, data):
    path = os.path.join(gw.dir, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def report_mail(gw, subject, body="Đèn đường trước nhà bị hỏng.", who="Nguyễn Văn An",
                sender=None, attachments=None):
    """A complete citizen's report as a file, ready for ingest."""
    sender = sender or f"{pahttest.unique('dan')}@{gw.stack.domain}"
    data = pahttest.make_mail(f'"{who}" <{sender}>', gw.address, subject,
                              body + "\n" + pahttest.complete_details(who),
                              attachments=attachments)
    return mail_file(gw, f"{pahttest.unique('mail')}.eml", data)


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def png_2x2():
    """A small real PNG (a 2x2 image)."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    raw = b"".join(b"\x00" + b"\xff\xcc\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
