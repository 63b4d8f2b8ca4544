#!/bin/sh
# Packs programs built here for a run on the device machine (another distribution, no Debian -dev
# packages): the named binaries from BUILD/bin, every loadable backend module beside them, and the
# shared libraries they need that a bare machine may lack, into .devbin/ (git-ignored). Usage:
#   scripts/device-bundle.sh BUILD_DIR PROGRAM...     then carry ".devbin" and on the device run
#   export LD_LIBRARY_PATH=$PWD/.devbin/lib; .devbin/PROGRAM ...
# DEVBIN=DIR packs into DIR instead (two people preparing runs at once).
set -eu
build=$1
shift
dst=${DEVBIN:-.devbin}
rm -rf "$dst"
mkdir -p "$dst/lib"
for p in "$@"; do cp "$build/bin/$p" "$dst/"; done
for m in "$build"/bin/libhearth-*.so; do [ -e "$m" ] && cp "$m" "$dst/"; done
# The C runtime, libstdc++ and the GPU drivers' own libraries come from the device machine.
for f in "$dst"/*; do
  [ -f "$f" ] || continue
  ldd "$f" 2>/dev/null | awk '/=> \// {print $3}'
done | sort -u | grep -v -E '/(libc|libm|libdl|libpthread|librt|libgcc_s|libstdc\+\+|ld-linux[^/]*|libvulkan|libcuda|libcudart|libamdhip64)\.so' |
  while read -r lib; do cp -L "$lib" "$dst/lib/"; done
strip --strip-unneeded "$dst"/* "$dst"/lib/* 2>/dev/null || true
grep -qx "/$dst/" "$(git rev-parse --git-common-dir)/info/exclude" 2>/dev/null || echo "/$dst/" >> "$(git rev-parse --git-common-dir)/info/exclude"
du -sh "$dst"
