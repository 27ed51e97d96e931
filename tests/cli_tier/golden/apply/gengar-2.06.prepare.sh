# host: gengar-2
# command: sh -s
# stdin:
c() { n=$1; shift; if "$@" >/dev/null </dev/null; then echo "created $n"; else echo "failed $n"; fi; }
docker ps -aq --no-trunc --filter label=oar-p2p.experiment=cli-tier | xargs -r docker rm -f >/dev/null
rm -f /tmp/oar-p2p-signal/start /tmp/oar-p2p-signal/start.tmp
c peer-1 docker create --pull=never --network=host --restart=no --volume /tmp/oar-p2p-signal:/oar-p2p --name peer-1 --label oar-p2p.experiment=cli-tier --label oar-p2p.run=c7439414a6b89f99221ab948783cfa9aaf3861dff6580fa8aa550cb587f02902 --label oar-p2p.config=a3c0a5d6b456cc352dc7bd53f54de4a741aa50f1b153861d35a979f3518965fb --label oar-p2p.address=10.17.0.1 --label oar-p2p.index=1 --label oar-p2p.machine=gengar-2 --env ADDRESS=10.17.0.1 --env 'MESSAGE=I am container 1 on gengar-2' oar-p2p/demo:latest sh -c 'echo "$MESSAGE"; while [ ! -e /oar-p2p/start ]; do sleep 0.1; done; echo started' &
wait
