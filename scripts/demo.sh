#!/usr/bin/env bash
# The main job on the built-in default: a local OAR cluster in a box (3 machines), the
# README walkthrough applied to it as a spec (network + two containers pinging each other),
# every pair's RTT measured against the matrix, then everything taken down.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/oar-p2p-demo.XXXXXX)"
cp "$here"/examples/ping-demo/* "$work"/
# The example leaves the machines to the job (the testbed's job 4242 holds gengar-1..3);
# the demo runs on gengar-1 and gengar-2, as it always did: name them in the copy.
sed -i 's/^cluster:$/cluster:\n  machines: [gengar-1, gengar-2]/' "$work/spec.yaml"
grep -qx '  machines: \[gengar-1, gengar-2\]' "$work/spec.yaml"
scripts_kernel="$("$here"/scripts/build-uml-kernel.sh | tail -n 1)"
echo "kernel: $scripts_kernel"
trap 'oar-p2p testbed down || true' EXIT
oar-p2p testbed up --machines 3
cd "$work"
oar-p2p testbed run -- oar-p2p plan spec.yaml || true
oar-p2p testbed run -- oar-p2p apply spec.yaml --output-dir "$work/runs"
echo "---- logs of the run ($work/runs/latest) ----"
tail -n +1 "$work"/runs/latest/*.stdout
oar-p2p testbed run -- oar-p2p apply spec.yaml --output-dir "$work/runs"   # No changes
oar-p2p testbed run -- oar-p2p verify spec.yaml --pairs all --parallel 1 --plot "$work/verify.png"
oar-p2p testbed run -- oar-p2p destroy spec.yaml
echo "demo done: logs and verify.png in $work"
