#!/usr/bin/env bash
# Installs the npm tools pinned in TOOL_DIR/package-lock.json (tools/openapi, tools/docs) into
# .tools/npm/NAME (gitignored), once: a second run with the same lock file does nothing. Prints the
# directory of their executables. Usage: tools/npm-install.sh tools/NAME
set -euo pipefail
here="$(cd "$1" && pwd)"
name="$(basename "$here")"
target="$(cd "$(dirname "$0")/.." && pwd)/.tools/npm/$name"
mkdir -p "$target"
stamp="$target/.lock.sha256"
want="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" || ! -d "$target/node_modules/.bin" ]]; then
  cp "$here/package.json" "$here/package-lock.json" "$target/"
  (cd "$target" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$want" > "$stamp"
fi
echo "$target/node_modules/.bin"
