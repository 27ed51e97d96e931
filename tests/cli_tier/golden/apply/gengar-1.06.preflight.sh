# host: gengar-1
# command: sh -s
# stdin:
r() { echo "image $1 $2"; }
mkdir -p /tmp/oar-p2p-signal 2>/dev/null
if [ -d /tmp/oar-p2p-signal ] && [ -w /tmp/oar-p2p-signal ]; then echo "signal-dir ok"; else echo "signal-dir unwritable"; fi
if docker image inspect oar-p2p/demo:latest >/dev/null 2>&1; then r 0 present; elif docker pull oar-p2p/demo:latest >&2 </dev/null; then r 0 pulled; else r 0 pull-failed; fi
echo '### oar-p2p:containers ###'
docker ps -a --no-trunc --format '{{json .}}'
