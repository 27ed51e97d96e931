# host: gengar-2
# command: sh -s
# stdin:
docker ps -a --filter label=oar-p2p.experiment --format '{{.Names}}'
docker ps -aq --no-trunc --filter label=oar-p2p.experiment | xargs -r docker rm -f >/dev/null
