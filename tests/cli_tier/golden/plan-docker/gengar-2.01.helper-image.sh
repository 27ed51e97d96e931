# host: gengar-2
# command: docker image inspect local/oar-p2p-networking:testbed >/dev/null
# stdin:
