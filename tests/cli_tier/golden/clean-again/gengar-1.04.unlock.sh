# host: gengar-1
# command: rm -rf /tmp/oar-p2p.lock
# stdin:
