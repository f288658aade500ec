#!/usr/bin/env bash
# Installs what the test suite needs when it is missing. As root it uses
# apt-get (Debian); otherwise it only reports what is missing.
set -euo pipefail

# command → Debian package
declare -A need=(
  [curl]=curl              # the demo test runs the printed curl commands
  [redis-server]=redis-server  # store, multi-node and Redis fault tests
  [chromium]=chromium      # the HTML scan report is loaded in headless Chromium (internal/scan/report)
)

missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing test dependencies: ${missing[*]} (install them: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi
echo "installing test dependencies: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
