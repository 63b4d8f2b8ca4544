#!/usr/bin/env bash
# Installs every system dependency Hearth needs on Debian 12 (bookworm), from Debian's own archive.
# Idempotent: packages already present are left alone. Needs root (or sudo).
set -euo pipefail

pkgs=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git clang llvm libclang-rt-14-dev libfuzzer-14-dev
  # C++ libraries
  libcpp-httplib-dev nlohmann-json3-dev libcli11-dev libfmt-dev libcurl4-openssl-dev libpcre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev libssl-dev zlib1g-dev
  # Vulkan: headers, loader, shader compiler, lavapipe (CPU Vulkan device for CI), vulkaninfo
  libvulkan-dev glslc mesa-vulkan-drivers vulkan-tools spirv-tools
  # ROCm/HIP (compile-only on machines without an AMD GPU)
  hipcc libamdhip64-dev rocm-device-libs rocminfo
  # hardware survey: PCI names
  pciutils pci.ids
  # tests: python jinja2 oracle, pty driving, browsers
  python3 python3-jinja2 tmux expect curl chromium xz-utils zstd
)

# Node.js 20+ with npm (web UI build, SDK tests): use the machine's node when it is new enough,
# otherwise Debian's nodejs + npm.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
