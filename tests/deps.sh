#!/usr/bin/env bash
# Installs the Debian packages the tests need, idempotently (CI runs as root on a fresh machine).
set -euo pipefail
# libxml2-utils: xmllint validates JUnit output against junit-10.xsd
# tmux: the console's end-to-end test runs `kube-guardian tui` in a real terminal (tests/tui_e2e.rs)
packages=(libxml2-utils tmux)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "[deps] Debian packages present: ${packages[*]}"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "[deps] missing Debian packages: ${missing[*]}; install them (as root: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "[deps] installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
