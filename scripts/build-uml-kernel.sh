#!/usr/bin/env bash
# Build (or reuse) the user-mode-linux kernel the local test cluster boots.
#
# Debian's own linux.uml lacks the nf_tables ip/inet families, so we build one from
# Debian's linux-source-6.1 with the options in oar_p2p/testbed/data/uml-kernel.config and
# the patches oar_p2p/testbed/data/uml-*.patch (applied in name order).
# The result is cached outside the repository, keyed by the digest of the option file and
# the patches, and by the size of the source tarball:
#   ${OAR_P2P_CACHE:-~/.cache/oar-p2p}/uml-<key>/linux
# Prints the path of the kernel binary on its last line.
set -euo pipefail
export LC_ALL=C  # the patches glob sorts as Python sorts it (kernel.py computes the same key)

here="$(cd "$(dirname "$0")/.." && pwd)"
options="$here/oar_p2p/testbed/data/uml-kernel.config"
patches=("$here"/oar_p2p/testbed/data/uml-*.patch)
tarball=/usr/src/linux-source-6.1.tar.xz
cache="${OAR_P2P_CACHE:-$HOME/.cache/oar-p2p}"

if [ ! -f "$tarball" ] || ! command -v flex >/dev/null || ! command -v bison >/dev/null || ! command -v bc >/dev/null || ! command -v patch >/dev/null; then
    echo "build-uml-kernel: installing linux-source-6.1 and build tools" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-source-6.1 flex bison bc patch build-essential libelf-dev >&2
fi

# one build at a time: concurrent callers wait, then reuse the cached result
mkdir -p "$cache"
exec 9>"$cache/uml-build-script.lock"  # (the Python caller holds uml-build.lock)
flock 9

key="$( (cat "$options" "${patches[@]}" | sha256sum | cut -c1-16; stat -c %s "$tarball") | sha256sum | cut -c1-16)"
out="$cache/uml-$key"
if [ -x "$out/linux" ]; then
    echo "build-uml-kernel: reusing cached kernel $out/linux" >&2
    echo "$out/linux"
    exit 0
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/oar-p2p-kbuild.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "build-uml-kernel: building in $work (about 15-20 minutes on 2 cores)" >&2
start=$(date +%s)
tar -xf "$tarball" -C "$work"
src="$(find "$work" -maxdepth 1 -mindepth 1 -type d | head -n1)"
cd "$src"
for p in "${patches[@]}"; do
    patch -p1 -s --forward <"$p" || { echo "build-uml-kernel: $p does not apply" >&2; exit 1; }
done
make ARCH=um defconfig >/dev/null
ARCH=um scripts/kconfig/merge_config.sh -m .config "$options" >/dev/null
make ARCH=um olddefconfig >/dev/null
make ARCH=um -j"$(nproc)" linux >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; exit 1; }
mkdir -p "$out"
install -m 0755 linux "$out/linux.tmp"
cp .config "$out/config"
mv "$out/linux.tmp" "$out/linux"
echo "build-uml-kernel: built in $(( $(date +%s) - start )) s -> $out/linux" >&2
echo "$out/linux"
