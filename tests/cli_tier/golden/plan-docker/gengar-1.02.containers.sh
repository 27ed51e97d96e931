# host: gengar-1
# command: sh -s
# stdin:
ids=$(docker ps -aq --no-trunc --filter label=oar-p2p.experiment=cli-tier) || exit 1
if [ -n "$ids" ]; then docker inspect $ids 2>/dev/null || true; else echo "[]"; fi
