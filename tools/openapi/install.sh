#!/usr/bin/env bash
# Installs the OpenAPI linters pinned in package-lock.json into .tools/npm (gitignored), once:
# a second run with the same lock file does nothing. Prints the directory of their executables.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="$here/../../.tools/npm"
mkdir -p "$target"
stamp="$target/.lock.sha256"
want="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" || ! -x "$target/node_modules/.bin/redocly" ]]; then
  cp "$here/package.json" "$here/package-lock.json" "$target/"
  (cd "$target" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$want" > "$stamp"
fi
echo "$(cd "$target" && pwd)/node_modules/.bin"
