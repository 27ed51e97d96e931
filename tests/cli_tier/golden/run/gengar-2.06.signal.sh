# host: gengar-2
# command: sh -s
# stdin:
printf '%s' TIME > /tmp/oar-p2p-signal/start.tmp && mv -f /tmp/oar-p2p-signal/start.tmp /tmp/oar-p2p-signal/start || exit 1
