#!/usr/bin/env bash
# Installs what actmap needs at run time on Debian/Ubuntu when it is missing:
# the Vulkan loader and Mesa's software Vulkan driver (lavapipe), so the GPU
# pipeline runs on machines without a GPU; with `--window`, also Xvfb and
# the X11 libraries winit loads, for the live-window tests; with `--browser`,
# Debian's Chromium (and a font for its page), for the browser-view tests,
# which drive it over the DevTools protocol. Safe to run repeatedly.
set -euo pipefail

need=()
ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' || need+=(libvulkan1)
ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
window=0 browser=0
for arg in "$@"; do
    case "$arg" in
        --window) window=1 ;;
        --browser) browser=1 ;;
        *) echo "setup: unknown option $arg" >&2; exit 2 ;;
    esac
done
if [ "$browser" = 1 ]; then
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
    [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
fi
if [ "$window" = 1 ]; then
    command -v Xvfb >/dev/null 2>&1 || need+=(xvfb xauth)
    have() { ldconfig -p 2>/dev/null | grep -q "$1"; }
    have 'libX11\.so\.6' || need+=(libx11-6)
    have 'libX11-xcb\.so\.1' || need+=(libx11-xcb1)
    have 'libXcursor\.so\.1' || need+=(libxcursor1)
    have 'libXrandr\.so\.2' || need+=(libxrandr2)
    have 'libXi\.so\.6' || need+=(libxi6)
    have 'libxkbcommon\.so\.0' || need+=(libxkbcommon0)
    have 'libxkbcommon-x11\.so\.0' || need+=(libxkbcommon-x11-0)
    [ -d /usr/share/X11/xkb ] || need+=(xkb-data)
fi

if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]}" >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "setup: need root (or sudo) to install ${need[*]}" >&2; exit 1; }
        SUDO="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
