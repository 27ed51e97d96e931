# host: gengar-2
# command: sh -s
# stdin:
c() { n=$1; shift; if "$@" >/dev/null </dev/null; then echo "created $n"; else echo "failed $n"; fi; }
docker ps -aq --no-trunc --filter label=oar-p2p.experiment=oar-p2p | xargs -r docker rm -f >/dev/null
rm -f /tmp/oar-p2p-signal/start /tmp/oar-p2p-signal/start.tmp
c 10.17.0.1 docker create --pull=never --network=host --restart=no --volume /tmp/oar-p2p-signal:/oar-p2p --name 10.17.0.1 --label oar-p2p.experiment=oar-p2p --label oar-p2p.run=c380bb631cf3dc39099cc0cb37f7da45017db453fc32ea9343982a73d1246dea --label oar-p2p.config=84f1e8e262e5615a048672507c733be4a513cb5e22ac41cf74198987f6e51e05 --label oar-p2p.address=10.17.0.1 --label oar-p2p.index=1 --label oar-p2p.machine=gengar-2 --env 'MESSAGE=hello from 10.17.0.1' oar-p2p/cli-tier-run:latest &
wait
