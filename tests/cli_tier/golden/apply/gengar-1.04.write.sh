# host: gengar-1
# command: sudo -n bash -c 'f=$(mktemp /tmp/oar-p2p-script.XXXXXX) && cat > "$f" && bash "$f"; r=$?; rm -f "$f"; exit $r'
# stdin:
{
set -euo pipefail
umask 022
_t() { local t=${EPOCHREALTIME/[.,]/}; echo "${t}000"; }
_done() { echo "oar-p2p-timing $1 $(( $(_t) - $2 ))"; }
s=$(_t)
ip -b - <<'OARP2P_IP'
addr add 10.16.0.1/32 dev bond0
addr add 10.16.0.2/32 dev bond0
route replace 10.0.0.0/8 dev bond0
OARP2P_IP
_done ip $s
s=$(_t)
tc -b - <<'OARP2P_TC'
qdisc replace dev bond0 root handle 1: htb default fffe r2q 100000
class add dev bond0 parent 1: classid 1:1 htb rate 10gbit
qdisc add dev bond0 parent 1:1 handle 2: netem delay 0us
filter add dev bond0 parent 1: protocol ip prio 1 handle 1 fw flowid 1:1
class add dev bond0 parent 1: classid 1:1a htb rate 10gbit
qdisc add dev bond0 parent 1:1a handle 1b: netem delay 2500us
filter add dev bond0 parent 1: protocol ip prio 1 handle 26 fw flowid 1:1a
class add dev bond0 parent 1: classid 1:101 htb rate 10gbit
qdisc add dev bond0 parent 1:101 handle 102: netem delay 25600us
filter add dev bond0 parent 1: protocol ip prio 1 handle 257 fw flowid 1:101
class add dev bond0 parent 1: classid 1:279 htb rate 10gbit
qdisc add dev bond0 parent 1:279 handle 27a: netem delay 63200us
filter add dev bond0 parent 1: protocol ip prio 1 handle 633 fw flowid 1:279
class add dev bond0 parent 1: classid 1:313 htb rate 10gbit
qdisc add dev bond0 parent 1:313 handle 314: netem delay 78600us
filter add dev bond0 parent 1: protocol ip prio 1 handle 787 fw flowid 1:313
class add dev bond0 parent 1: classid 1:344 htb rate 10gbit
qdisc add dev bond0 parent 1:344 handle 345: netem delay 83500us
filter add dev bond0 parent 1: protocol ip prio 1 handle 836 fw flowid 1:344
class add dev bond0 parent 1: classid 1:fffe htb rate 10gbit
qdisc replace dev lo root handle 1: htb default fffe r2q 100000
class add dev lo parent 1: classid 1:1 htb rate 10gbit
qdisc add dev lo parent 1:1 handle 2: netem delay 0us
filter add dev lo parent 1: protocol ip prio 1 handle 1 fw flowid 1:1
class add dev lo parent 1: classid 1:1a htb rate 10gbit
qdisc add dev lo parent 1:1a handle 1b: netem delay 2500us
filter add dev lo parent 1: protocol ip prio 1 handle 26 fw flowid 1:1a
class add dev lo parent 1: classid 1:101 htb rate 10gbit
qdisc add dev lo parent 1:101 handle 102: netem delay 25600us
filter add dev lo parent 1: protocol ip prio 1 handle 257 fw flowid 1:101
class add dev lo parent 1: classid 1:279 htb rate 10gbit
qdisc add dev lo parent 1:279 handle 27a: netem delay 63200us
filter add dev lo parent 1: protocol ip prio 1 handle 633 fw flowid 1:279
class add dev lo parent 1: classid 1:313 htb rate 10gbit
qdisc add dev lo parent 1:313 handle 314: netem delay 78600us
filter add dev lo parent 1: protocol ip prio 1 handle 787 fw flowid 1:313
class add dev lo parent 1: classid 1:344 htb rate 10gbit
qdisc add dev lo parent 1:344 handle 345: netem delay 83500us
filter add dev lo parent 1: protocol ip prio 1 handle 836 fw flowid 1:344
class add dev lo parent 1: classid 1:fffe htb rate 10gbit
OARP2P_TC
_done tc $s
mkdir -p /run/oar-p2p
echo '{"state": "pending"}' > /run/oar-p2p/record.json; rm -f /run/oar-p2p/rows.gz /run/oar-p2p/rows.patch
s=$(_t)
nft -f - <<'OARP2P_NFT'
add table ip oar-p2p
delete table ip oar-p2p
table ip oar-p2p {
  map mark_pairs { type ipv4_addr . ipv4_addr : mark; }
  chain prerouting {
    type filter hook prerouting priority -300; policy accept;
    ip saddr 10.0.0.0/8 notrack
    ip daddr 10.0.0.0/8 notrack
  }
  chain output {
    type filter hook output priority -300; policy accept;
    ip saddr 10.0.0.0/8 notrack
    ip daddr 10.0.0.0/8 notrack
  }
  chain postrouting {
    type filter hook postrouting priority -151; policy accept;
    meta mark set ip saddr . ip daddr map @mark_pairs counter
  }
}
add element ip oar-p2p mark_pairs { 10.16.0.1 . 10.16.0.1 : 1, 10.16.0.1 . 10.17.0.1 : 257, 10.16.0.1 . 10.16.0.2 : 787, 10.16.0.1 . 10.17.0.2 : 836, 10.16.0.2 . 10.16.0.1 : 787, 10.16.0.2 . 10.17.0.1 : 633, 10.16.0.2 . 10.16.0.2 : 1, 10.16.0.2 . 10.17.0.2 : 26 }
OARP2P_NFT
_done nft $s
base64 -d > /run/oar-p2p/rows.gz <<'OARP2P_ROWS'
# rows.gz, decompressed:
{"ips": ["10.16.0.1", "10.17.0.1", "10.16.0.2", "10.17.0.2"], "local": ["10.16.0.1", "10.16.0.2"], "resolution_us": 100, "steps": "AAAAARIDQwMSA3gCAAAZAA=="}
OARP2P_ROWS
cat > /run/oar-p2p/record.json.tmp <<'OARP2P_REC'
{"version": 1, "state": "applied", "digest": "919ff5e98651bca4f442667ac2fb7527", "size": 8, "chains": "22b106e516355b05", "layout": "0d71b755a6ecc05f", "applied_at": TIME}
OARP2P_REC
mv /run/oar-p2p/record.json.tmp /run/oar-p2p/record.json
}
