#!/bin/bash
# The demonstration: installs what is missing, builds, starts a private mail stack on
# loopback (Dovecot + Postfix, in demo/mailstack), delivers three sample Vietnamese reports to
# the gateway's mailbox, runs the gateway once, and shows the drafts, one draft in full and the
# acknowledgement a citizen received, then starts the console (pahtweb) and prints its address
# and a demo login. Needs root (the mail servers).
#   tools/demo.sh          ... and stop the mail stack at the end (the console keeps running)
#   tools/demo.sh --keep   leave the mail stack running too, to play with
#   tools/demo.sh --stop   stop the console and the mail stack
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
demo=$root/demo
harness="python3 $root/tests/harness/mailstack.py"

stop_console() {
  if [ -f "$demo/pahtweb.pid" ]; then
    kill "$(cat "$demo/pahtweb.pid")" 2>/dev/null || true
    rm -f "$demo/pahtweb.pid"
  fi
}

if [ "${1:-}" = --stop ]; then
  stop_console
  [ -f "$demo/mailstack/mailstack.env" ] && $harness stop "$demo/mailstack"
  exit 0
fi

tools/install-deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "== built build/app/pahtd, build/app/pahtctl and build/app/pahtweb"

stop_console
[ -f "$demo/mailstack/mailstack.env" ] && $harness stop "$demo/mailstack" >/dev/null 2>&1 || true
rm -rf "$demo"
mkdir -p "$demo"
# the mail servers' own users must reach demo/mailstack; the gateway's files stay private
chmod 755 "$demo"
$harness start "$demo/mailstack" >/dev/null
mkdir -m 700 "$demo/gateway"
gw=$demo/gateway
# shellcheck disable=SC1091
. "$demo/mailstack/mailstack.env"
echo "== mail stack up: IMAP 127.0.0.1:$MAILSTACK_IMAP_PORT, SMTP 127.0.0.1:$MAILSTACK_SMTP_PORT"

umask 077
printf '%s\n' "$MAILSTACK_PASSWORD" >"$gw/imap.secret"
cp "$gw/imap.secret" "$gw/smtp.secret"
cat >"$gw/paht.conf" <<CONF
[gateway]
name = Trung tâm IOC tỉnh Sóc Trăng
place = Sóc Trăng
database = $gw/paht.db
data_dir = $gw/data
templates_dir = $root/templates
agencies_file = $root/conf/agencies.conf
categories_file = $root/conf/categories.conf
ioc_alert_to = ioc@$MAILSTACK_DOMAIN

[imap]
url = imap://127.0.0.1:$MAILSTACK_IMAP_PORT/INBOX
user = paht@$MAILSTACK_DOMAIN
password_file = imap.secret
ca_file = $MAILSTACK_CA
poll_seconds = 5

[smtp]
url = smtp://127.0.0.1:$MAILSTACK_SMTP_PORT
user = paht@$MAILSTACK_DOMAIN
password_file = smtp.secret
from = paht@$MAILSTACK_DOMAIN
reply_to = paht+{token}@$MAILSTACK_DOMAIN
ca_file = $MAILSTACK_CA

[calendar]
holidays_file = $root/conf/holidays.txt

[web]
listen = 127.0.0.1:0

[open311]
jurisdiction_id = soctrang.gov.vn
api_keys_file = open311.keys
CONF
# the portal's Open311 key (a secret: 0600, like the passwords)
open311_key=$(openssl rand -hex 24)
printf '# the province portal (demo)\n%s demo-portal\n' "$open311_key" >"$gw/open311.keys"

for f in tools/demo-mail/*.eml; do
  sender=$(sed -n 's/^From:.*<\(.*\)>.*/\1/p' "$f" | head -1)
  $harness deliver --from "$sender" "$demo/mailstack" "paht@$MAILSTACK_DOMAIN" "$f"
  echo "== delivered $f"
done

echo "== pahtd --once"
build/app/pahtd -c "$gw/paht.conf" --once
echo
echo "== pahtctl drafts"
build/app/pahtctl -c "$gw/paht.conf" drafts
first=$(build/app/pahtctl -c "$gw/paht.conf" drafts --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["code"])')
echo
echo "== pahtctl show $first"
build/app/pahtctl -c "$gw/paht.conf" show "$first"
echo
echo "== the acknowledgement in nguyen.van.an@$MAILSTACK_DOMAIN's mailbox"
python3 - "$MAILSTACK_IMAP_PORT" "$MAILSTACK_CA" "$MAILSTACK_PASSWORD" "nguyen.van.an@$MAILSTACK_DOMAIN" <<'PY'
import email, email.policy, imaplib, ssl, sys, time
port, ca, password, user = sys.argv[1:]
for _ in range(100):
    imap = imaplib.IMAP4("127.0.0.1", int(port))
    imap.starttls(ssl.create_default_context(cafile=ca))
    imap.login(user, password)
    imap.select("INBOX")
    _, data = imap.search(None, "ALL")
    if data[0]:
        _, msg = imap.fetch(data[0].split()[0], "(BODY.PEEK[])")
        m = email.message_from_bytes(msg[0][1], policy=email.policy.default)
        for h in ("From", "To", "Reply-To", "Subject", "In-Reply-To", "Auto-Submitted"):
            print("%s: %s" % (h, m[h]))
        print()
        print(m.get_body(("plain",)).get_content())
        break
    imap.logout()
    time.sleep(0.1)
else:
    print("(no acknowledgement arrived)")
PY

if [ "${1:-}" = --keep ]; then
  echo "== the mail stack keeps running; config: $gw/paht.conf; stop it: tools/demo.sh --stop"
else
  $harness stop "$demo/mailstack" >/dev/null
  echo "== mail stack stopped (tools/demo.sh --keep leaves it running)"
fi

# the console: an IOC operator and the Sở Xây dựng's officer, passwords on standard input
demo_password=demo-paht-2026
printf '%s\n' "$demo_password" | build/app/pahtctl -c "$gw/paht.conf" user add demo.ioc --role ioc \
  --name "Nguyễn Thị Demo" >/dev/null
printf '%s\n' "$demo_password" | build/app/pahtctl -c "$gw/paht.conf" user add demo.xd \
  --role agency:xd --name "Trần Văn Demo" >/dev/null
build/app/pahtweb -c "$gw/paht.conf" >"$demo/pahtweb.out" 2>"$demo/pahtweb.log" &
echo $! >"$demo/pahtweb.pid"
for _ in $(seq 100); do
  grep -q "listening on" "$demo/pahtweb.out" 2>/dev/null && break
  sleep 0.1
done
address=$(sed -n 's/^pahtweb: listening on //p' "$demo/pahtweb.out")
if [ -z "$address" ]; then
  echo "== pahtweb did not start:" >&2
  cat "$demo/pahtweb.log" >&2
  exit 1
fi
echo
echo "== the console (pahtweb) is running at $address"
echo "   log in as demo.ioc (the IOC) or demo.xd (Sở Xây dựng), password: $demo_password"
echo "   Open311: curl $address/open311/v2/services.json (doc/operation.md, Open311)"
echo "   its API key (demo/gateway/open311.keys): $open311_key"
echo "   stop it: tools/demo.sh --stop"
