set -u
cd /var/tmp/oar-p2p-scale
ip netns add chk-one; ip netns add chk-chunks
/usr/bin/time -f "one: %e s %M KB" ip netns exec chk-one nft -f g3.nft
s=$(date +%s.%N); for f in chunks3/c*.nft; do /usr/bin/time -f "$f %e s %M KB" ip netns exec chk-chunks nft -f $f; done; echo "chunks total $(echo "$(date +%s.%N) - $s" | bc) s"
for n in one chunks; do
  ip netns exec chk-$n nft list table ip oar-p2p > list-$n.txt
  grep -v -E '^[[:space:]]*(elements = |10\.)' list-$n.txt | md5sum
  tr ',{}' '\n\n\n' < list-$n.txt | sed 's/^[[:space:]]*//; s/^elements = //' | grep -E '^10\..* : ' | sort > elems-$n.txt
  wc -l < elems-$n.txt; md5sum < elems-$n.txt
done
cmp list-one.txt list-chunks.txt && echo "listings identical"
ip netns del chk-one; ip netns del chk-chunks
