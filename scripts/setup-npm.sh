#!/usr/bin/env bash
# Installs the npm packages of the project's package.json folders (exact versions from their
# package-lock.json). Run after scripts/setup-deps.sh, as the user who builds (not root).
#   scripts/setup-npm.sh                      every folder below
#   scripts/setup-npm.sh DIR...               only these (relative to the repository root)
#   scripts/setup-npm.sh --if-missing DIR...  skip folders whose node_modules is already there
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if_missing=0
if [ "${1:-}" = "--if-missing" ]; then if_missing=1; shift; fi
dirs=("$@")
if [ ${#dirs[@]} -eq 0 ]; then
  # The folders whose packages tests or builds use.
  dirs=(tests apps/server/web)
fi
for d in "${dirs[@]}"; do
  if [ $if_missing -eq 1 ] && [ -d "$root/$d/node_modules" ] && [ "$root/$d/node_modules/.package-lock.json" -nt "$root/$d/package-lock.json" ]; then
    continue
  fi
  echo "setup-npm: installing $d"
  (cd "$root/$d" && npm ci --no-audit --no-fund --loglevel=error)
done
