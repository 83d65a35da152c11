#!/bin/sh
# Builds the C in-sandbox supervisor (src/sandbox/bubblewrap/supervisor.c) into build/rf-supervisor:
# a static binary, so it runs inside the sandbox whatever the image's libc layout. Idempotent.
set -eu

root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
src="$root/src/sandbox/bubblewrap/supervisor.c"
out="$root/build/rf-supervisor"

if [ -x "$out" ] && [ "$out" -nt "$src" ] && [ "${FORCE:-0}" != 1 ]; then
  echo "build-supervisor: $out is up to date" >&2
  exit 0
fi

if ! command -v gcc >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "build-supervisor: installing gcc and libc6-dev" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev >&2
  else
    echo "build-supervisor: gcc is missing (apt-get install gcc libc6-dev); the Python supervisor stays in use" >&2
    exit 1
  fi
fi

mkdir -p "$root/build"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
flags="-O2 -Wall -Wextra -std=gnu11 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -s"
# static-pie keeps ASLR for the supervisor; plain -static where the toolchain lacks it.
link="-static"
if echo 'int main(void) { return 0; }' | gcc -static-pie -fPIE -x c -o /dev/null - 2>/dev/null; then
  link="-static-pie -fPIE"
fi
gcc $flags $link -o "$tmp" "$src"
if ldd "$tmp" 2>&1 | grep -q '=>'; then
  echo "build-supervisor: $tmp is dynamically linked; refusing it" >&2
  exit 1
fi
chmod 0755 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
echo "build-supervisor: built $out ($(wc -c <"$out") bytes)" >&2
