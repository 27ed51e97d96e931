# host: gengar-1
# command: bash -s
# stdin:
IF=bond0; REFRESH=auto; WANT=919ff5e98651bca4f442667ac2fb7527; LARGE=100000
PRESTART=0
R=/run/oar-p2p; NFT=(sudo -n nft)
KEYS=(net.ipv4.neigh.default.gc_thresh1 net.ipv4.neigh.default.gc_thresh2 net.ipv4.neigh.default.gc_thresh3 net.ipv4.tcp_max_orphans)
s() { echo "### oar-p2p:$1 ###"; }
{
export PATH="$PATH:/usr/sbin:/sbin"
if ! command -v ip >/dev/null || ! command -v tc >/dev/null; then s need-privilege; exit 0; fi
s record
rec=; [ -r "$R/record.json" ] && IFS= read -r -d '' rec <"$R/record.json"
printf '%s' "$rec"
state=; size=0; digest=
p='"state": *"([a-z]*)"'; [[ $rec =~ $p ]] && state=${BASH_REMATCH[1]}
p='"size": *([0-9]+)'; [[ $rec =~ $p ]] && size=${BASH_REMATCH[1]}
p='"digest": *"([0-9a-f]*)"'; [[ $rec =~ $p ]] && digest=${BASH_REMATCH[1]}
big=0; [ "$state" = applied ] && [ "$size" -gt "$LARGE" ] && big=1
trust=0; [ "$REFRESH" != full ] && { [ "$state" = pending ] || [ "$big" = 1 ]; } && trust=1
# the trusted map is not the desired one: its rows are sent, and a write will follow
differs=0; [ "$trust" = 1 ] && [ "$big" = 1 ] && [ "$digest" != "$WANT" ] && differs=1
if [ "$PRESTART" = 1 ] && [ "$differs" = 1 ]; then
  "${NFT[@]}" --version >/dev/null 2>&1 </dev/null &
  s helper; echo starting
fi
s hostname; echo "$HOSTNAME"
s ip; ip -force -j -b - 2>/dev/null <<< "addr show dev $IF
route show exact 10.0.0.0/8" || true
s tc-listing; tc -force -b - 2>/dev/null <<< "class show dev $IF
filter show dev $IF
qdisc show dev lo
class show dev lo
filter show dev lo" || true
for d in "$IF" lo; do
  s "tc-qdisc:$d"; q=$(tc -j qdisc show dev "$d" 2>/dev/null) || true; printf '%s\n' "$q"
  if [[ $q == *'"kind":"clsact"'* || $q == *'"kind":"ingress"'* ]]; then
    s "tc-egress:$d"; tc -j filter show dev "$d" egress 2>/dev/null || true
    s "tc-ingress:$d"; tc -j filter show dev "$d" ingress 2>/dev/null || true
  fi
done
if [ -e /sys/class/net/oarp2p-ifb ]; then
  s ifb-link; ip -j link show dev oarp2p-ifb 2>/dev/null || true
  s tc-qdisc:oarp2p-ifb; tc -j qdisc show dev oarp2p-ifb 2>/dev/null || true
  s tc-class:oarp2p-ifb; tc class show dev oarp2p-ifb 2>/dev/null || true
fi
s sysctl
for k in "${KEYS[@]}"; do
  v=; read -r v 2>/dev/null <"/proc/sys/${k//.//}"; echo "$k=$v"
done
s nft
if [ "$trust" = 1 ]; then
  echo skipped
else
  # the listing to stdout, its stderr kept in $e
  if ! { e=$("${NFT[@]}" -j list table ip oar-p2p 2>&1 >&3); } 3>&1 \
    && [[ $e != *"No such file or directory"* ]]; then
    s nft-error; printf '%s\n\n' "${e:0:2000}"
  fi
fi
s rows
if [ "$differs" = 1 ]; then
  base64 "$R/rows.gz" 2>/dev/null || true
  s rows-patch; p=; [ -r "$R/rows.patch" ] && IFS= read -r -d '' p < "$R/rows.patch"
  printf '%s' "$p"
fi
s end
} </dev/null
