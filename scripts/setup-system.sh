#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo run for real: Orthanc + its DICOMweb
# plugin (PACS), Chromium (browser tests) with a CJK font (Chinese advice on screen),
# PostgreSQL (store tests). Idempotent: does
# nothing when all are present. Needs root or passwordless sudo on a fresh machine.
set -euo pipefail
want=(orthanc orthanc-dicomweb chromium postgresql fonts-wqy-microhei)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo -n"
echo "setup-system: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# --no-install-recommends keeps the install small; policy-rc.d stops Debian from starting
# the orthanc/postgresql system services: tests start their own on loopback.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
