#!/usr/bin/env bash
# Herald's end-to-end benchmark, in one command: builds Release, then for SQLite and PostgreSQL
# starts a node of its own (fresh data directory; for PostgreSQL a private cluster from
# tests/fixtures/postgres with a fresh database), posts messages through the HTTP API to
# smtp-sink and prints a table: messages/second end to end, API acknowledgement and delivery
# latency p50/p99. Figures only; nothing passes or fails on them.
#
#   bench/run.sh                          # both engines, defaults below
#   bench/run.sh --engines sqlite --messages 5000
#   bench/run.sh --help                   # every option
#   bench/run.sh relay                    # the relay benchmark (below)
#   bench/run.sh relay --help
#
# Run A: --messages (20000) posted with --concurrency (64) requests in flight; msgs/s from the
# first POST until smtp-sink has counted the last one. Run B: --rate (500) messages/s offered
# open-loop for --duration (20) s. Everything listens on 127.0.0.1; every process it starts is
# ended on exit, Ctrl-C included; --time-limit (1800 s) bounds the whole run.
# Needs: the .NET SDK, Postfix's smtp-sink (package postfix), PostgreSQL for the second engine.
#
# relay: smtp-source → Herald's relay listener → smtp-sink, then in the same run smtp-source →
# a private Postfix (tests/fixtures/postfix/postfix-fixture.sh --relayhost: its own queue,
# connection caching to the relayhost) → smtp-sink. Same client command for both:
# smtp-source -d -s 20 -m 20000 -l 1024 (20 sessions, each sending message after message).
# Prints msgs/s accepted and end to end (until the sink counted the last) for each, and the
# ratio. Needs root (the Postfix master) and smtp-source (package postfix).
#
# matching: the subscription index in process (bench/Herald.Bench.Matching): 1,000,000
# subscriptions, 100,000 random events, matching time per event p50/p99/max. Needs only .NET.
#   bench/run.sh matching [subscriptions] [events] [seed]
#
# directory-sync: a private slapd (tests' OpenLdap fixture, StartTLS, size limit 1,000) loaded with
# slapadd with 100,000 users and 10,000 nested groups, synced in process into a fresh SQLite
# database (paged, 500 per page), then the directory view rebuilt; then a full sync with nothing
# changed and a delta sync after one change. Needs slapd, ldap-utils and openssl.
#   bench/run.sh directory-sync [users] [groups]
#
# webhooks: deliveries written as recorded outcomes write them (a fresh SQLite database), then
# delivered by the real WebhookWorker (claim, lease, sign, batched outcomes) to a Kestrel receiver
# on loopback; deliveries/second. Needs only .NET.
#   bench/run.sh webhooks [deliveries (50000)] [per transaction (500)]
#
# bounces: a private Dovecot (plain IMAP on loopback) holding --dsns (5000) DSNs, each addressed to
# the signed bounce address of a recipient that is `sent` in a fresh SQLite database; timed while
# the production BounceReader (ReadOnceAsync, as `herald bounce-mailbox read`) reads the mailbox to
# its end; then checks every recipient is bounced, every address suppressed, the INBOX empty.
# Prints DSNs, seconds, DSNs/s and the target (1,000/s). Needs dovecot-imapd.
#   bench/run.sh bounces [--dsns 5000] [--batch 200] [--mail-format maildir|mdbox]
#
# fanout: one item.changed event to an immediate subscription of a group of 100,000 users
# (--members), on a fresh SQLite node, timed from the POST until smtp-sink counted one mail per
# member. Needs smtp-sink (package postfix).
#   bench/run.sh fanout [--members 100000] [--explain on|off|both]
# With --explain both (the default) it runs twice, explain records on and off, and prints for each
# the time until the event's explanation was stored and how much the database (file and WAL) grew.
#
# outage: one node (SQLite, or --engine postgres with a private cluster). After a warm-up, a fresh
# run with the upstream up (--fresh 20000 messages, as run A) gives the rate to compare with;
# then the upstream goes down (a listener on smtp-sink's port counts every connection and closes
# it) while --messages (1,000,000) are posted through the API; the node rests --rest (60) s with
# the backlog; then smtp-sink comes back on the same port and the run waits for every message.
# Prints the acceptance rate during the outage, herald serve's peak and resting RSS (from
# /proc/PID/status), its CPU at rest, connections to the dead upstream per minute, and the drain
# time and rate (and its share of the fresh rate). Needs smtp-sink (package postfix).
#   bench/run.sh outage [--messages 1000000] [--engine sqlite|postgres]
#
# chaos: API producers (Idempotency-Key per message) and relay sessions submit while herald serve
# is killed with SIGKILL and restarted at random moments (--kills N, uptime 0.3–3 s); then the
# queue drains and it prints acknowledged, delivered, lost (acknowledged, never delivered) and
# duplicated, matched by X-Chaos-Id at smtp-sink -d.
#   bench/run.sh chaos [--kills 200] [--engine sqlite|postgres]
#
# relay-memory: --sessions (100) relay sessions at once, each sending one --message-bytes (25 MiB)
# message to a fresh SQLite node, relayed to smtp-sink -d; prints herald serve's peak RSS during
# the transfers and the delivery, and checks every body arrived byte for byte.
#   bench/run.sh relay-memory [--sessions 100] [--message-bytes 26214400]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "directory-sync" ]; then
  shift
  echo "Building Release…" >&2
  dotnet build bench/Herald.Bench.DirectorySync/Herald.Bench.DirectorySync.csproj -c Release -nologo -v:q >&2
  exec dotnet "$(dotnet msbuild bench/Herald.Bench.DirectorySync/Herald.Bench.DirectorySync.csproj -getProperty:TargetPath -p:Configuration=Release)" "$@"
fi
if [ "${1:-}" = "webhooks" ]; then
  shift
  echo "Building Release…" >&2
  dotnet build bench/Herald.Bench.Webhooks/Herald.Bench.Webhooks.csproj -c Release -nologo -v:q >&2
  exec dotnet "$(dotnet msbuild bench/Herald.Bench.Webhooks/Herald.Bench.Webhooks.csproj -getProperty:TargetPath -p:Configuration=Release)" "$@"
fi
if [ "${1:-}" = "bounces" ]; then
  shift
  echo "Building Release…" >&2
  dotnet build bench/Herald.Bench.Bounces/Herald.Bench.Bounces.csproj -c Release -nologo -v:q >&2
  exec dotnet "$(dotnet msbuild bench/Herald.Bench.Bounces/Herald.Bench.Bounces.csproj -getProperty:TargetPath -p:Configuration=Release)" "$@"
fi
if [ "${1:-}" = "matching" ]; then
  shift
  echo "Building Release…" >&2
  dotnet build bench/Herald.Bench.Matching/Herald.Bench.Matching.csproj -c Release -nologo -v:q >&2
  exec dotnet "$(dotnet msbuild bench/Herald.Bench.Matching/Herald.Bench.Matching.csproj -getProperty:TargetPath -p:Configuration=Release)" "$@"
fi
export PATH="$PATH:/usr/sbin:/sbin"

if ! command -v smtp-sink >/dev/null; then
  echo "smtp-sink is missing: apt-get install postfix (./test.sh installs it too)." >&2
  exit 2
fi

echo "Building Release…" >&2
dotnet build src/Herald/Herald.csproj -c Release -nologo -v:q >&2
dotnet build bench/Herald.Bench/Herald.Bench.csproj -c Release -nologo -v:q >&2
herald=$(dotnet msbuild src/Herald/Herald.csproj -getProperty:TargetPath -p:Configuration=Release)
bench=$(dotnet msbuild bench/Herald.Bench/Herald.Bench.csproj -getProperty:TargetPath -p:Configuration=Release)

# The arguments first: a subcommand (relay) must come before the options.
exec dotnet "$bench" "$@" --herald "$herald" --repository-root "$PWD"
