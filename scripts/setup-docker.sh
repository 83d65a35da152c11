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

# Register runsc with Docker: no network inside gVisor's sandbox either, and permission to
# connect (only connect) to host unix sockets bound in, which is how egress reaches the
# session's proxy socket (--host-uds=open; runsc releases before 2021 spell it --fsgofer-host-uds).
RUNSC=$(command -v runsc)
RUNSC_FLAGS=$(runsc flags 2>&1 || true)
if grep -q -- '-host-uds value' <<<"$RUNSC_FLAGS"; then UDS_FLAG="--host-uds=open"; else UDS_FLAG="--fsgofer-host-uds"; fi
if [ ! -f /etc/docker/daemon.json ] || ! grep -q '"runsc"' /etc/docker/daemon.json \
  || ! grep -q -- "$UDS_FLAG" /etc/docker/daemon.json; then
  log "registering runsc in /etc/docker/daemon.json with --network=none $UDS_FLAG"
  $SUDO mkdir -p /etc/docker
  [ -s /etc/docker/daemon.json ] || echo '{}' | $SUDO tee /etc/docker/daemon.json >/dev/null
  $SUDO python3 - "$RUNSC" "$UDS_FLAG" <<'PY'
import json, sys
p = "/etc/docker/daemon.json"
cfg = json.load(open(p))
cfg.setdefault("runtimes", {})["runsc"] = {"path": sys.argv[1], "runtimeArgs": ["--network=none", sys.argv[2]]}
with open(p + ".tmp", "w") as f:
    json.dump(cfg, f, indent=2)
    f.write("\n")
__import__("os").replace(p + ".tmp", p)
PY
  if [ -S /var/run/docker.sock ] && pgrep -x dockerd >/dev/null; then
    log "reloading dockerd (SIGHUP) for the runsc runtime arguments"
    $SUDO kill -HUP "$(pgrep -x dockerd | head -1)"
    for _ in $(seq 1 40); do
      docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q -- "$UDS_FLAG" && break
      sleep 0.25
    done
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
docker info --format '{{json .Runtimes}}' | grep -q -- "$UDS_FLAG" || { log "runsc runtime (with $UDS_FLAG) not registered in dockerd"; exit 1; }

# Default sandbox image (skips itself when the tag is cached).
npx tsx src/sandbox/image/build-main.ts "$@"
