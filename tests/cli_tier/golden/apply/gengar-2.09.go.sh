# host: gengar-2
# command: sh -s
# stdin:
printf '%s\n' TIME > /tmp/oar-p2p-timeline/cli-tier/go
