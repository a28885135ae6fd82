#!/bin/sh
# Compiles the in-kernel forwarder: build.sh <source.bpf.c> <output.o>.
# Without clang the daemon still builds and runs; kernel forwarding then
# reports that its object is missing and the daemon stays in user space.
set -e
src="$1"
out="$2"
if ! command -v clang >/dev/null 2>&1; then
  echo "warning: clang not found, in-kernel forwarding not built" >&2
  exit 0
fi
# Debian keeps the asm/ headers under the multiarch triplet.
arch=$(uname -m)
case "$arch" in
  x86_64) triplet=x86_64-linux-gnu ;;
  aarch64) triplet=aarch64-linux-gnu ;;
  armv7l) triplet=arm-linux-gnueabihf ;;
  ppc64le) triplet=powerpc64le-linux-gnu ;;
  s390x) triplet=s390x-linux-gnu ;;
  *) triplet="$arch-linux-gnu" ;;
esac
mkdir -p "$(dirname "$out")"
exec clang -O2 -g -target bpf -D__BPF__ -I"/usr/include/$triplet" -I"$(dirname "$src")" -c "$src" -o "$out"
