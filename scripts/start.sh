#!/usr/bin/env bash
# The main job (README quick start): install what is missing, then bring up the service on the
# embedded default (SQLite under RINGFENCE_HOME, bubblewrap sandboxes, the scripted model when
# no ANTHROPIC_API_KEY is set) and run one demo session through its HTTP API. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
exec node bin/ringfence.cjs serve --demo "$@"
