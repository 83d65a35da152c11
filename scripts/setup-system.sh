#!/usr/bin/env bash
# Installs what ringfence needs from Debian (when missing) and the npm dependencies.
# Safe to run again: every step checks before it acts. Runs as root (CI) or with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pair in bwrap:bubblewrap socat:socat ip:iproute2 curl:curl python3:python3 pip3:python3-pip git:git nsenter:util-linux gcc:gcc; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  [ -x "/usr/bin/$cmd" ] || [ -x "/bin/$cmd" ] || [ -x "/usr/sbin/$cmd" ] || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "ringfence setup: installing Debian packages: ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ringfence setup: installing npm dependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

# The C programs: the supervisor (fast sandbox start, 4 MiB per idle sandbox) and the egress relay
# (spliced tunnels); without them the Python supervisor and socat are used.
bash scripts/build-supervisor.sh || echo "ringfence setup: C supervisor and relay not built; the Python supervisor and socat stay in use" >&2

# The CLI runs from dist/ (fast start-up); rebuild when any source is newer than the last build.
if [ ! -f dist/.stamp ] || [ -n "$(find src -newer dist/.stamp -print -quit)" ]; then
  echo "ringfence setup: building" >&2
  npm run --silent build
fi
