# host: gengar-1
# command: sh -s
# stdin:
c() { n=$1; shift; if "$@" >/dev/null </dev/null; then echo "created $n"; else echo "failed $n"; fi; }
docker ps -aq --no-trunc --filter label=oar-p2p.experiment=cli-tier | xargs -r docker rm -f >/dev/null
rm -f /tmp/oar-p2p-signal/start /tmp/oar-p2p-signal/start.tmp
c peer-0 docker create --pull=never --network=host --restart=no --volume /tmp/oar-p2p-signal:/oar-p2p --name peer-0 --label oar-p2p.experiment=cli-tier --label oar-p2p.run=c7439414a6b89f99221ab948783cfa9aaf3861dff6580fa8aa550cb587f02902 --label oar-p2p.config=a2891b28feaa98dbaee0194a7a2ff4bd878d2d46479a1ebf9044302aa06b7f4a --label oar-p2p.address=10.16.0.1 --label oar-p2p.index=0 --label oar-p2p.machine=gengar-1 --env ADDRESS=10.16.0.1 --env 'MESSAGE=I am container 0 on gengar-1' oar-p2p/demo:latest sh -c 'echo "$MESSAGE"; while [ ! -e /oar-p2p/start ]; do sleep 0.1; done; echo started' &
wait
