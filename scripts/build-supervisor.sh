#!/bin/sh
# Builds the C programs into build/: the in-sandbox supervisor (src/sandbox/bubblewrap/supervisor.c
# -> build/rf-supervisor), the bubblewrap launcher stub (stub.c -> build/rf-stub) and the egress
# relay (src/egress/relay.c -> build/rf-relay). Static
# binaries, so the supervisor runs inside any sandbox image whatever its libc. Idempotent.
set -eu

root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)

if ! command -v gcc >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "build-supervisor: installing gcc and libc6-dev" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev >&2
  else
    echo "build-supervisor: gcc is missing (apt-get install gcc libc6-dev); the Python supervisor and socat stay in use" >&2
    exit 1
  fi
fi

mkdir -p "$root/build"
flags="-O2 -Wall -Wextra -std=gnu11 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -s"
# static-pie keeps ASLR; plain -static where the toolchain lacks it.
link="-static"
if echo 'int main(void) { return 0; }' | gcc -static-pie -fPIE -x c -o /dev/null - 2>/dev/null; then
  link="-static-pie -fPIE"
fi

build() {
  src="$root/$1"
  out="$root/build/$2"
  if [ -x "$out" ] && [ "$out" -nt "$src" ] && [ "${FORCE:-0}" != 1 ]; then
    echo "build-supervisor: $out is up to date" >&2
    return 0
  fi
  tmp="$out.tmp.$$"
  trap 'rm -f "$tmp"' EXIT
  gcc $flags $link -o "$tmp" "$src"
  if ldd "$tmp" 2>&1 | grep -q '=>'; then
    echo "build-supervisor: $tmp is dynamically linked; refusing it" >&2
    exit 1
  fi
  chmod 0755 "$tmp"
  mv -f "$tmp" "$out"
  trap - EXIT
  echo "build-supervisor: built $out ($(wc -c <"$out") bytes)" >&2
}

build src/sandbox/bubblewrap/supervisor.c rf-supervisor
build src/egress/relay.c rf-relay
build src/sandbox/bubblewrap/stub.c rf-stub
