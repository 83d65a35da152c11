#!/usr/bin/env bash
# The main job (README quick start): install what is missing, then run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
exec node bin/ringfence.js demo "$@"
