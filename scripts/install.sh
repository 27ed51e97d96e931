#!/usr/bin/env bash
# Install everything oar-p2p and its tests need on a fresh Debian 12 machine (as root):
# the Debian packages of scripts/apt-packages*.txt, then the package itself with its test
# extras. Safe to re-run.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
pkgs="$(cat "$here"/scripts/apt-packages*.txt 2>/dev/null | sed 's/#.*//' | tr -s ' \n' '\n' | sort -u | tr '\n' ' ')"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "install: apt-get install$missing" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check -e "$here[test]"
