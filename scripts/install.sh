#!/usr/bin/env bash
# Set-up command 1: installs every dependency (Debian's apt), builds Hearth (Release, with the
# Vulkan module) and runs the main job: a story from the bundled model, offline.
# Usage: scripts/install.sh [--prefix DIR]   (with --prefix, also installs hearth into DIR/bin)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=""
if [ "${1:-}" = "--prefix" ]; then prefix=${2:?--prefix needs a directory}; fi

scripts/setup-deps.sh
# The web UI's npm packages: the build bundles the UI into hearth (HEARTH_WEB).
scripts/setup-npm.sh apps/server/web
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/hearth-ccache}
cmake --preset release -DHEARTH_TESTS=OFF -DHEARTH_BENCH=OFF -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build --preset release -j"$(nproc)"
if [ -n "$prefix" ]; then
  cmake --install build/release --prefix "$prefix"
  echo "installed: $prefix/bin/hearth"
fi
echo "--- hearth run (bundled model: stories260K) ---"
build/release/bin/hearth run
