# host: gengar-1
# command: if mkdir /tmp/oar-p2p.lock 2>/dev/null; then printf '%s' TOKEN > /tmp/oar-p2p.lock/token; printf '%s' 'USER@HOST pid PID (clean) since=TIME' > /tmp/oar-p2p.lock/holder; echo acquired; else printf 'held %s\n' "$(tr '\n' ' ' < /tmp/oar-p2p.lock/holder 2>/dev/null)"; fi

# stdin:
