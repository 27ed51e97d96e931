# -------------------- gengar-1 --------------------
{
set -euo pipefail
umask 022
_t() { local t=${EPOCHREALTIME/[.,]/}; echo "${t}000"; }
_done() { echo "oar-p2p-timing $1 $(( $(_t) - $2 ))"; }
mkdir -p /run/oar-p2p
echo '{"state": "pending"}' > /run/oar-p2p/record.json; rm -f /run/oar-p2p/rows.gz /run/oar-p2p/rows.patch
s=$(_t)
nft -f - <<'OARP2P_NFT'
delete element ip oar-p2p mark_pairs { 10.16.0.1 . 10.17.0.1 }
add element ip oar-p2p mark_pairs { 10.16.0.1 . 10.17.0.1 : 26 }
OARP2P_NFT
_done nft $s
rm -f /run/oar-p2p/record.json /run/oar-p2p/rows.gz /run/oar-p2p/rows.patch
s=$(_t)
tc -b - <<'OARP2P_TC'
filter del dev bond0 parent 1: protocol ip prio 1 handle 257 fw
class del dev bond0 classid 1:101
filter del dev lo parent 1: protocol ip prio 1 handle 257 fw
class del dev lo classid 1:101
OARP2P_TC
_done tc $s
}
# -------------------- gengar-2 --------------------
{
set -euo pipefail
umask 022
_t() { local t=${EPOCHREALTIME/[.,]/}; echo "${t}000"; }
_done() { echo "oar-p2p-timing $1 $(( $(_t) - $2 ))"; }
}
