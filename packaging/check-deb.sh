#!/usr/bin/env bash
# Checks Herald's Debian package the way an administrator meets it, on this machine (as root):
# builds it (packaging/build-deb.sh), lints it (lintian: no errors), installs it with dpkg -i,
# verifies the unit (systemd-analyze verify), starts the unit's ExecStart line as the herald user
# with the unit's environment and /etc/herald/herald.env (no systemd as PID 1 is needed), waits
# until /readyz (else /healthz) answers, runs `herald key set`, `herald smtp set`,
# `herald test-email` and `herald apikey create` from PATH as root against the service's data,
# sees both the test email and a message the service delivered arrive in a private smtp-sink,
# removes the package (the data and settings stay), reinstalls it (the settings are there),
# and purges it (data, settings and user gone). It cleans up after itself, whatever happens,
# and refuses to run where a herald package, user or data directory already exists.
#
#   packaging/check-deb.sh            build, then check
#   HERALD_DEB=path.deb packaging/check-deb.sh   check a package built before
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
started=$SECONDS

say() { echo "check-deb: $*"; }
fail() {
  echo "check-deb: FAILED: $*" >&2
  exit 1
}

[[ $(id -u) == 0 ]] || fail "run as root: this check installs, removes and purges the herald package."
status=$(dpkg-query -W -f='${Status}' herald 2>/dev/null || true)
if [[ -n $status && $status != *not-installed* ]]; then
  echo "check-deb: a herald package is already on this machine ($status), and this check would purge it with its data; remove it first, or run the check on another machine." >&2
  exit 1
fi
if getent passwd herald >/dev/null || [[ -e /var/lib/herald || -e /etc/herald ]]; then
  echo "check-deb: a herald user, /var/lib/herald or /etc/herald exists without the package, and this check would delete it; move it away first, or run the check on another machine." >&2
  exit 1
fi

# The tools this check uses, installed once (as test.sh installs the test peers).
tools=()
command -v lintian >/dev/null || tools+=(lintian)
command -v systemd-analyze >/dev/null || tools+=(systemd)
command -v smtp-sink >/dev/null || tools+=(postfix)
command -v curl >/dev/null || tools+=(curl)
command -v runuser >/dev/null || tools+=(util-linux)
if ((${#tools[@]})); then
  say "installing ${tools[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${tools[@]}" >/dev/null
fi

work=$(mktemp -d)
installed=false
serve_pid=""
sink_pid=""
sink=""
cleanup() {
  local code=$?
  # Process groups (setsid below): the runuser wrapper and herald, smtp-sink and its children.
  [[ -n $serve_pid ]] && kill -TERM -- "-$serve_pid" 2>/dev/null || true
  [[ -n $sink_pid ]] && kill -TERM -- "-$sink_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if $installed; then
    dpkg --purge herald >/dev/null 2>&1 || true
  fi
  rm -rf "$work" "${sink:-}"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

# 1. Build.
if [[ -n ${HERALD_DEB:-} ]]; then
  deb=$HERALD_DEB
else
  build_started=$SECONDS
  HERALD_PACKAGE_OUT=$work/out packaging/build-deb.sh linux-x64
  deb=$(ls "$work"/out/herald_*_amd64.deb)
  say "built $(basename "$deb") and its tarball in $((SECONDS - build_started)) s"
fi

# 2. Lint: errors fail the check, warnings are reported.
lintian_output=$(lintian --allow-root --tag-display-limit 0 "$deb" 2>&1) || true
[[ -z $lintian_output ]] || printf '%s\n' "$lintian_output" | sed 's/^/  lintian: /'
errors=$(printf '%s\n' "$lintian_output" | grep -c '^E:' || true)
warnings=$(printf '%s\n' "$lintian_output" | grep -c '^W:' || true)
((errors == 0)) || fail "lintian found $errors error(s) in $(basename "$deb")."
say "lintian: 0 errors, $warnings warning(s)"

# 3. Install, with what the package depends on.
apt-get satisfy -y -qq "$(dpkg-deb -f "$deb" Depends)" >/dev/null
dpkg -i "$deb" >/dev/null
installed=true
unit=/lib/systemd/system/herald.service
[[ -x /usr/bin/herald && -f $unit && -f /etc/herald/herald.env ]] || fail "dpkg -i left no /usr/bin/herald, $unit or /etc/herald/herald.env."
getent passwd herald >/dev/null || fail "the package made no herald user."
[[ $(stat -c '%U:%G %a' /etc/herald/herald.env) == "root:herald 640" ]] || fail "/etc/herald/herald.env is $(stat -c '%U:%G %a' /etc/herald/herald.env), not root:herald 640."
say "installed: $(dpkg-query -W -f='${Package} ${Version} ${Architecture}' herald)"

# 4. The unit as systemd reads it. systemd-analyze verify needs no running systemd; it loads the
# unit file offline (it checks the directives, that ExecStart's binary exists and the user).
if ! verify=$(systemd-analyze verify "$unit" 2>&1); then
  printf '%s\n' "$verify" | sed 's/^/  systemd-analyze: /'
  fail "systemd-analyze verify found problems in $unit."
fi
[[ -z $verify ]] || printf '%s\n' "$verify" | sed 's/^/  systemd-analyze: /'
say "systemd-analyze verify $unit: no problems"
# The sandbox as systemd would build it, rated from the file (no running manager needed).
say "systemd-analyze security: $(systemd-analyze security --offline=yes "$unit" 2>/dev/null | tail -n1 | sed 's/^→ //')"

# 5. Start the unit's ExecStart line as its user, with its environment, as systemd would.
port=$(free_port)
sink_port=$(free_port)
# The administrator's one change to the settings file: where the HTTP API listens.
echo "HERALD_URLS=http://127.0.0.1:$port" >>/etc/herald/herald.env
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
user=$(sed -n 's/^User=//p' "$unit")
workdir=$(sed -n 's/^WorkingDirectory=//p' "$unit")
mapfile -t unit_environment < <(sed -n 's/^Environment=//p' "$unit")
mapfile -t file_environment < <(grep -E '^[A-Za-z_][A-Za-z0-9_]*=' /etc/herald/herald.env)
read -r -a command <<<"$exec_start"
(
  cd "$workdir"
  umask 0077
  exec setsid runuser -u "$user" -- env -i PATH=/usr/bin:/bin HOME=/var/lib/herald \
    "${unit_environment[@]}" "${file_environment[@]}" "${command[@]}"
) >"$work/serve.log" 2>&1 &
serve_pid=$!

base=http://127.0.0.1:$port
ready=""
for _ in $(seq 1 600); do
  # /readyz once the node has one; /healthz (alive) until then.
  readyz=$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz" || true)
  if [[ $readyz == 200 ]]; then
    ready=/readyz
    break
  elif [[ $readyz == 404 ]] && [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/healthz" || true) == 200 ]]; then
    ready=/healthz
    break
  fi
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.1
done
[[ -n $ready ]] || { cat "$work/serve.log" >&2; fail "herald serve (the unit's ExecStart line, as $user) did not answer on $base."; }
say "the service answers $base$ready (started as $user: $exec_start)"
grep -q "No XML encryptor" "$work/serve.log" && fail "serve's first start logged Data Protection's 'No XML encryptor' warning."
grep -q "No credential key is set.*Next: run 'herald key set'" "$work/serve.log" || fail "serve's first start did not say what to do about the credential key."

# 6. The herald command on PATH, run by root, works on the service's data.
# smtp-sink drops to nobody after binding: its dump directory is its own, outside $work (0700).
sink=$(mktemp -d)
chown nobody "$sink"
setsid smtp-sink -u nobody -d "$sink/%H%M%S." "127.0.0.1:$sink_port" 16 >"$work/sink.log" 2>&1 &
sink_pid=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$sink_port") 2>/dev/null && break
  sleep 0.1
done
[[ $(command -v herald) == /usr/bin/herald ]] || fail "herald on PATH is $(command -v herald), not /usr/bin/herald."
printf '%s\n' "check-deb passphrase, amber kestrel of the dunes" | herald key set >/dev/null
herald smtp set --server 127.0.0.1 --port "$sink_port" --security none --from herald@example.org >/dev/null
herald test-email --to admin@example.org --subject "check-deb test email" >"$work/test-email.out" 2>&1 ||
  { cat "$work/test-email.out" >&2; fail "herald test-email did not send."; }
api_key=$(herald apikey create --scope / --role sender --name check-deb | tail -n1)
curl -sf "$base/api/v1/messages" -H "Authorization: Bearer $api_key" -H 'Content-Type: application/json' \
  -d '{"scope":"/","to":["user@example.org"],"subject":"check-deb through the service","text":"Sent by the service."}' >/dev/null ||
  fail "the service did not accept a message through its API."
for _ in $(seq 1 300); do
  (($(grep -l 'check-deb' "$sink"/* 2>/dev/null | wc -l) >= 2)) && break
  sleep 0.1
done
grep -q "Subject: check-deb test email" "$sink"/* || fail "the test email did not reach smtp-sink."
grep -q "Subject: check-deb through the service" "$sink"/* ||
  { cat "$work/serve.log" >&2; fail "the message given to the service did not reach smtp-sink: the service does not use the settings the command changed."; }
not_herald=$(find /var/lib/herald ! -user herald)
[[ -z $not_herald ]] || fail "files in /var/lib/herald not owned by herald after root ran the command: $not_herald"
say "as root: key set, smtp set, test-email and apikey create on the service's data; smtp-sink got the test email and the service's delivery; every file in /var/lib/herald is herald's"

kill -TERM -- "-$serve_pid"
wait "$serve_pid" 2>/dev/null || true
serve_pid=""

# 7. Remove keeps the data and the settings; reinstalling finds them.
dpkg -r herald >/dev/null
[[ ! -e /usr/bin/herald && ! -e /usr/lib/herald/herald ]] || fail "dpkg -r left the binary."
[[ -f /var/lib/herald/herald.db && -f /var/lib/herald/credential.key ]] || fail "dpkg -r removed the data in /var/lib/herald."
grep -q "^HERALD_URLS=http://127.0.0.1:$port" /etc/herald/herald.env || fail "dpkg -r removed or reset /etc/herald/herald.env."
dpkg -i --force-confold "$deb" >/dev/null
herald smtp show >"$work/show.out"
grep -q "$sink_port" "$work/show.out" || { cat "$work/show.out" >&2; fail "after dpkg -r and dpkg -i the settings are gone."; }
herald key status >/dev/null || fail "after dpkg -r and dpkg -i the credential key no longer opens the database."
say "dpkg -r kept /var/lib/herald and /etc/herald/herald.env; after dpkg -i the settings and the key are there"

# 8. Purge deletes data, settings and user.
dpkg --purge herald >/dev/null
installed=false
[[ ! -e /var/lib/herald && ! -e /etc/herald ]] || fail "dpkg --purge left /var/lib/herald or /etc/herald."
! getent passwd herald >/dev/null || fail "dpkg --purge left the herald user."
say "dpkg --purge removed /var/lib/herald, /etc/herald and the herald user"
say "passed in $((SECONDS - started)) s"
