#!/usr/bin/env bash
# Installs Docker and gVisor (runsc) from Debian when missing, registers the runsc runtime,
# starts dockerd when it is not running and builds the default sandbox image when not cached.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
log() { echo "ringfence setup-docker: $*" >&2; }

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v runsc >/dev/null 2>&1 || need+=(runsc)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  log "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Register runsc with Docker (no network inside gVisor's sandbox either).
RUNSC=$(command -v runsc)
want=$(printf '{\n  "runtimes": {\n    "runsc": { "path": "%s", "runtimeArgs": ["--network=none"] }\n  }\n}\n' "$RUNSC")
if [ ! -f /etc/docker/daemon.json ] || ! grep -q '"runsc"' /etc/docker/daemon.json; then
  if [ -s /etc/docker/daemon.json ]; then
    log "/etc/docker/daemon.json exists without runsc; merging"
    python3 - "$RUNSC" <<'PY'
import json, sys
p = "/etc/docker/daemon.json"
cfg = json.load(open(p))
cfg.setdefault("runtimes", {})["runsc"] = {"path": sys.argv[1], "runtimeArgs": ["--network=none"]}
json.dump(cfg, open(p, "w"), indent=2)
PY
  else
    $SUDO mkdir -p /etc/docker
    echo "$want" | $SUDO tee /etc/docker/daemon.json >/dev/null
  fi
  if [ -S /var/run/docker.sock ] && pgrep -x dockerd >/dev/null; then
    log "reloading dockerd for the new runtime"
    $SUDO kill -HUP "$(pgrep -x dockerd | head -1)"
    sleep 1
  fi
fi

if ! docker version >/dev/null 2>&1; then
  log "starting dockerd"
  $SUDO sh -c 'nohup dockerd >/var/log/ringfence-dockerd.log 2>&1 &'
  for _ in $(seq 1 120); do
    [ -S /var/run/docker.sock ] && docker version >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker version >/dev/null 2>&1 || { log "dockerd did not come up; see /var/log/ringfence-dockerd.log"; tail -20 /var/log/ringfence-dockerd.log >&2; exit 1; }
fi
docker info --format '{{json .Runtimes}}' | grep -q runsc || { log "runsc runtime not registered in dockerd"; exit 1; }

# Default sandbox image (skips itself when the tag is cached).
npx tsx src/sandbox/image/build-main.ts "$@"
