#!/usr/bin/env bash
# Lints the OpenAPI contract (docs/openapi.json) with Redocly's recommended ruleset and Spectral's
# spectral:oas, installing both (pinned in package-lock.json) on first use. Fails on any error;
# warnings are printed and counted, not fatal.
set -uo pipefail
cd "$(dirname "$0")"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
document=../../docs/openapi.json
if ! linters=$(../npm-install.sh .); then
  echo "OpenAPI: the linters could not be installed."
  exit 1
fi
status=0
echo "OpenAPI: Redocly (recommended) on docs/openapi.json"
"$linters/redocly" lint --config redocly.yaml --format=stylish "$document" || status=1
echo "OpenAPI: Spectral (spectral:oas) on docs/openapi.json"
"$linters/spectral" lint --ruleset .spectral.yaml --fail-severity=error "$document" || status=1
exit "$status"
