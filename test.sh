#!/usr/bin/env bash
# Runs every Herald test. On a fresh Debian machine it first installs the real peers the tests
# start themselves (a private Postfix on loopback ports, Cyrus SASL's sasldb tools, OpenSSL,
# PostgreSQL for the storage tests on both engines, swaks, nmap and testssl.sh as clients
# of the relay listener, chromium, which Playwright drives for the web console's tests, and
# Dovecot's submission service, the OAuth 2.0 tests' SMTP server, its IMAP, POP3 and LMTP services
# for the bounce mailbox the fixture's Postfix delivers DSNs into, with dovecot-gssapi and Samba's
# ntlm_auth (winbind) for GSSAPI and NTLM, and MIT Kerberos's KDC, kadmin.local and kinit for
# the Kerberos tests' private realm, SpamAssassin, which scores every kind of mail Herald writes,
# and Prometheus, which the observability tests start on a private port to scrape /metrics),
# then runs the whole solution with dotnet test, lints the OpenAPI contract (docs/openapi.json)
# with Redocly and Spectral from npm (pinned in tools/openapi, installed once into .tools/npm),
# checks every link in README.md and docs/ with markdown-link-check (pinned in tools/docs), and
# as root runs the Debian package's check (packaging/check-deb.sh, which installs what it needs:
# lintian, systemd-analyze). Extra arguments go to dotnet test.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/sbin:/sbin"

packages=()
have_package() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for package in postfix sasl2-bin libsasl2-modules libsasl2-modules-db openssl postgresql swaks nmap testssl.sh chromium dovecot-core dovecot-submissiond dovecot-imapd dovecot-pop3d dovecot-lmtpd \
  dovecot-gssapi winbind krb5-kdc krb5-admin-server krb5-user spamassassin prometheus slapd ldap-utils; do
  have_package "$package" || packages+=("$package")
done
# Node.js and npm for the OpenAPI linters and the link check (any install that puts npm on the PATH will do).
command -v npm >/dev/null || packages+=(nodejs npm)
if ((${#packages[@]})); then
  echo "Installing test peers: ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${packages[@]}" >/dev/null
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
dotnet test --solution Herald.slnx "$@" 2>&1 | tee "$log" || status=$?

# The contract clients generate from: docs/openapi.json is what the server serves (the test
# Api/OpenApiContractTests says so); each linter's own ruleset must find no error in it.
lint=0
tools/openapi/lint.sh || lint=1
# README.md and docs/ stand alone: every file and anchor they link to exists, nothing outside.
links=0
tools/docs/check-links.sh || links=1

# One closing line any reader understands: "N passed, N failed".
passed=$(grep -E '^\s+succeeded: [0-9]+' "$log" | awk '{s += $2} END {print s + 0}')
failed=$(grep -E '^\s+failed: [0-9]+' "$log" | awk '{s += $2} END {print s + 0}')

# The Debian package as an administrator meets it: built, linted, installed, run, removed and
# purged on this machine, which it leaves as it was. It installs a package, so only as root (CI is).
if [[ $(id -u) == 0 ]]; then
  if bash packaging/check-deb.sh; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    status=1
    echo "failed packaging/check-deb.sh" >>"$log"
  fi
else
  echo "packaging/check-deb.sh not run: it installs the herald package, so it needs root"
fi
# The names of the failed tests, last, where a reader of only the end of the output sees them.
if grep -qE '^failed ' "$log"; then
  echo "Failed tests:"
  grep -A3 -E '^failed ' "$log" | grep -vE '^\s+at |^--$' | cut -c1-400
fi
echo "${passed} passed, ${failed} failed"
if ((lint)); then
  echo "The OpenAPI contract (docs/openapi.json) has lint errors: see Redocly's and Spectral's output above."
  ((status)) || status=1
fi
if ((links)); then
  echo "README.md or docs/ has broken links or links outside the repository: see the link check above."
  ((status)) || status=1
fi
exit "$status"
