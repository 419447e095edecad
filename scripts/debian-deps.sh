#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real (Chromium for the browser
# tests; FUSE 3 for the power-cut file system of tests/powercut; openssl and jq for the
# checks by hand of docs/integrity.md; Swift and memcached come
# through scripts/swift/start-swift.sh). Only what is missing is installed; without root
# and without sudo, it says what is missing and stops.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v rclone >/dev/null || need+=(rclone)
command -v openssl >/dev/null || need+=(openssl)
command -v jq >/dev/null || need+=(jq)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
command -v fusermount3 >/dev/null || need+=(fuse3)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "missing Debian packages: ${need[*]} (install them as root)" >&2; exit 1; fi
echo "installing Debian packages: ${need[*]}" >&2
$SUDO apt-get update -qq || echo "apt-get update failed; trying the install anyway" >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
