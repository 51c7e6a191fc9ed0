#!/bin/bash
# Installs what paht-mail needs on Debian 12 (build, run, test, the manual and the Debian
# package), skipping what is present.
# Needs root. Never starts system mail daemons: the package scripts are told not to, and
# Postfix is installed with "No configuration" (the tests run their own servers on loopback).
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-dev
  libetpan-dev libgmime-3.0-dev libglib2.0-dev libsqlite3-dev libcurl4-gnutls-dev
  libxml2-dev libjson-glib-dev libgnutls28-dev libsystemd-dev libytnef0-dev
  dovecot-imapd dovecot-lmtpd postfix openssl curl python3 sqlite3 ca-certificates
  isync hyperfine wrk nginx-light
  scdoc man-db debhelper dpkg-dev fakeroot lintian systemd
  libmicrohttpd-dev libsodium-dev libvips-dev chromium chromium-driver python3-selenium
  python3-jsonschema
)

if [ "$(id -u)" != 0 ]; then
  echo "install-deps: run as root (sudo $0)" >&2
  exit 1
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${missing[@]}" ||
  { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; }
