# host: gengar-1
# command: sh -s
# stdin:
c() { n=$1; shift; if "$@" >/dev/null </dev/null; then echo "created $n"; else echo "failed $n"; fi; }
docker ps -aq --no-trunc --filter label=oar-p2p.experiment=oar-p2p | xargs -r docker rm -f >/dev/null
rm -f /tmp/oar-p2p-signal/start /tmp/oar-p2p-signal/start.tmp
c 10.16.0.1 docker create --pull=never --network=host --restart=no --volume /tmp/oar-p2p-signal:/oar-p2p --name 10.16.0.1 --label oar-p2p.experiment=oar-p2p --label oar-p2p.run=c380bb631cf3dc39099cc0cb37f7da45017db453fc32ea9343982a73d1246dea --label oar-p2p.config=4cb3388c5fd517f5321e6df0675cec0d3cb9e84c660a89d85b8c5f19f7353132 --label oar-p2p.address=10.16.0.1 --label oar-p2p.index=0 --label oar-p2p.machine=gengar-1 --env 'MESSAGE=hello from 10.16.0.1' oar-p2p/cli-tier-run:latest &
wait
