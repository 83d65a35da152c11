#!/usr/bin/env bash
# The main job (README quick start): install what is missing, show what a sandbox allows and
# denies, then run one agent session (scripted model unless ANTHROPIC_API_KEY is set) over the
# sample project and verify its audit log.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
export RINGFENCE_HOME="${RINGFENCE_HOME:-$PWD/.ringfence}"
node bin/ringfence.cjs demo
printf '\n== an agent session in a sandbox ==\n'
node bin/ringfence.cjs run "Fix the failing test in this project and run the tests."
printf '\n== the audit log ==\n'
node bin/ringfence.cjs audit verify
