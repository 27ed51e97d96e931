# -------------------- gengar-1 --------------------
{
set -euo pipefail
umask 022
_t() { local t=${EPOCHREALTIME/[.,]/}; echo "${t}000"; }
_done() { echo "oar-p2p-timing $1 $(( $(_t) - $2 ))"; }
s=$(_t)
ip -b - <<'OARP2P_IP'
addr del 10.16.0.1/32 dev bond0
addr del 10.16.0.2/32 dev bond0
route del 10.0.0.0/8 dev bond0
OARP2P_IP
_done ip $s
s=$(_t)
tc -b - <<'OARP2P_TC'
qdisc del dev bond0 root
qdisc del dev lo root
OARP2P_TC
_done tc $s
mkdir -p /run/oar-p2p
echo '{"state": "pending"}' > /run/oar-p2p/record.json; rm -f /run/oar-p2p/rows.gz /run/oar-p2p/rows.patch
s=$(_t)
nft -f - <<'OARP2P_NFT'
add table ip oar-p2p
delete table ip oar-p2p
OARP2P_NFT
_done nft $s
rm -f /run/oar-p2p/record.json /run/oar-p2p/rows.gz /run/oar-p2p/rows.patch
}
# -------------------- gengar-2 --------------------
{
set -euo pipefail
umask 022
_t() { local t=${EPOCHREALTIME/[.,]/}; echo "${t}000"; }
_done() { echo "oar-p2p-timing $1 $(( $(_t) - $2 ))"; }
s=$(_t)
ip -b - <<'OARP2P_IP'
addr del 10.17.0.1/32 dev bond0
addr del 10.17.0.2/32 dev bond0
route del 10.0.0.0/8 dev bond0
OARP2P_IP
_done ip $s
s=$(_t)
tc -b - <<'OARP2P_TC'
qdisc del dev bond0 root
qdisc del dev lo root
OARP2P_TC
_done tc $s
mkdir -p /run/oar-p2p
echo '{"state": "pending"}' > /run/oar-p2p/record.json; rm -f /run/oar-p2p/rows.gz /run/oar-p2p/rows.patch
s=$(_t)
nft -f - <<'OARP2P_NFT'
add table ip oar-p2p
delete table ip oar-p2p
OARP2P_NFT
_done nft $s
rm -f /run/oar-p2p/record.json /run/oar-p2p/rows.gz /run/oar-p2p/rows.patch
}
