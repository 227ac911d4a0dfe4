#!/usr/bin/env bash
# Checks every link in README.md and docs/*.md with markdown-link-check (pinned in
# package-lock.json, installed on first use): each file and anchor it names must exist. The
# repository stands alone, so a link outside it (other than to a loopback address in an example)
# fails too, with its own sentence, before anything tries to reach it.
set -uo pipefail
cd "$(dirname "$0")/../.."
if ! tools=$(tools/npm-install.sh tools/docs); then
  echo "Links: markdown-link-check could not be installed."
  exit 1
fi
files=(README.md docs/*.md)
status=0
outside=$(grep -noE '\]\((https?|ftp)://[^)]+\)|<(https?|ftp)://[^>]+>' "${files[@]}" \
  | grep -vE '://(127\.[0-9.]+|localhost|\[::1\])([:/]|[)>]|$)' || true)
if [[ -n "$outside" ]]; then
  echo "Links: README.md and docs/ link only inside the repository; these point outside it:"
  echo "$outside"
  status=1
fi
echo "Links: markdown-link-check on ${files[*]}"
for file in "${files[@]}"; do
  "$tools/markdown-link-check" --quiet --config tools/docs/links.json "$file" || status=1
done
exit "$status"
