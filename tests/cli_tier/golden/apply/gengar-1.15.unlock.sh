# host: gengar-1
# command: if [ "$(cat /tmp/oar-p2p.lock/token 2>/dev/null)" = TOKEN ]; then rm -rf /tmp/oar-p2p.lock; fi

# stdin:
