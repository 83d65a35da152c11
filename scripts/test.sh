#!/usr/bin/env bash
# The one test command (README, .ci/run): set up, type-check, lint, then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
npx tsc -p tsconfig.json --noEmit
npx eslint . --max-warnings=0
npx prettier --check . >/dev/null
npx vitest run "$@"
