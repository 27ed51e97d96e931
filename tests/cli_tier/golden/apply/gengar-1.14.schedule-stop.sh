# host: gengar-1
# command: sh -s
# stdin:
for f in /tmp/oar-p2p-signal/ack/*/*; do [ -f "$f" ] && printf 'ack %s %s\n' "${f#/tmp/oar-p2p-signal/ack/}" "$(head -c 40 "$f" | tr -d ' \n')"; done
[ -f /tmp/oar-p2p-timeline/cli-tier/pid ] && kill -TERM "$(cat /tmp/oar-p2p-timeline/cli-tier/pid)" 2>/dev/null
{ echo 0 >&3; } 2>/dev/null 3<>/tmp/oar-p2p-timeline/cli-tier/go || true
i=0; while [ $i -lt 300 ] && ! grep -qxE 'end|stopped' /tmp/oar-p2p-timeline/cli-tier/status 2>/dev/null; do sleep 0.1; i=$((i+1)); done
cat /tmp/oar-p2p-timeline/cli-tier/status 2>/dev/null
for f in /tmp/oar-p2p-timeline/cli-tier/*.err; do [ -s "$f" ] && { echo "== $f"; tail -c 2000 "$f"; }; done; true
rm -rf /tmp/oar-p2p-timeline/cli-tier
