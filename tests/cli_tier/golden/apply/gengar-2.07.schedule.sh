# host: gengar-2
# command: sh -s
# stdin:
rm -rf /tmp/oar-p2p-signal/ack
rm -rf /tmp/oar-p2p-timeline/cli-tier && mkdir -p /tmp/oar-p2p-timeline/cli-tier || exit 1
cat > /tmp/oar-p2p-timeline/cli-tier/scheduler.sh <<'OARP2P_FILE_e8375466c83eb6c4' || exit 1
#!/bin/bash
d=$1
stopping=0
trap 'stopping=1' TERM INT
echo $$ > "$d/pid"
# first in line for the CPU at a deadline (root only; an ordinary user keeps its priority)
renice -n -10 -p $$ > /dev/null 2>&1 || true
# `wait` returns at once (128 + 15) when the trapped TERM arrives: wait for the end
finish() { while :; do wait "$1"; rc=$?; kill -0 "$1" 2>/dev/null || break; done; }
mkfifo "$d/tick" && exec 4<> "$d/tick"  # never written: `read -t` on it is a sleep
t0=
while read -r n off mode; do
  [ "$stopping" = 1 ] && break
  rc=0 np=
  if [ "$mode" = split ]; then
    if [ -s "$d/$n.pre" ]; then
      tc -b "$d/$n.pre" > "$d/$n.pre.out" 2> "$d/$n.pre.err" < /dev/null || rc=$?
    fi
    if [ "$rc" = 0 ] && [ -s "$d/$n.nft" ]; then
      # the FIFO opened read-write first (never blocks), so nft's open finds a writer;
      # nft reads it as stdin: it keeps stdin in memory, where it would reopen a file
      # path to quote an error (and block on the FIFO forever)
      mkfifo "$d/$n.fifo" && exec 3<> "$d/$n.fifo" &&
        { nft -f - < "$d/$n.fifo" 3>&- > "$d/$n.out" 2> "$d/$n.err" & np=$!; }
      text=$(< "$d/$n.nft")
    fi
  fi
  # the first step's pre part runs before t0 is known (while the containers start)
  if [ -z "$t0" ]; then read -r t0 < "$d/go" || exit 1; fi
  due=$(( t0 + off ))
  while [ "$stopping" = 0 ]; do
    t=${EPOCHREALTIME/[.,]/}
    rest=$(( due - t - 2000 ))
    (( rest > 0 )) || break
    (( rest > 200000 )) && rest=200000  # a trapped TERM does not cut `read -t` short
    printf -v secs '%d.%06d' $(( rest / 1000000 )) $(( rest % 1000000 ))
    read -r -t "$secs" -u 4 _ || true
  done
  while [ "$stopping" = 0 ]; do t=${EPOCHREALTIME/[.,]/}; (( t >= due )) && break; done
  if [ "$stopping" = 1 ]; then [ -n "$np" ] && { exec 3>&-; finish "$np"; }; break; fi
  if [ "$mode" = source ]; then
    . "$d/$n.sh" > "$d/$n.out" 2> "$d/$n.err" < /dev/null
    a=${EPOCHREALTIME/[.,]/}
  elif [ "$mode" != split ]; then
    bash "$d/$n.sh" > "$d/$n.out" 2> "$d/$n.err" < /dev/null; rc=$?
    a=${EPOCHREALTIME/[.,]/}
  elif [ "$rc" = 0 ]; then
    if [ -n "$np" ]; then
      printf '%s\n' "$text" >&3; exec 3>&-
      finish "$np"
    fi
    a=${EPOCHREALTIME/[.,]/}
    if [ "$rc" = 0 ] && [ -s "$d/$n.post" ]; then
      tc -b "$d/$n.post" > "$d/$n.post.out" 2> "$d/$n.post.err" < /dev/null || rc=$?
    fi
  else
    a=$t
  fi
  echo "$n $t $a ${EPOCHREALTIME/[.,]/} $rc" >> "$d/status"
done < "$d/schedule"
if [ "$stopping" = 1 ]; then echo stopped >> "$d/status"; else echo end >> "$d/status"; fi
OARP2P_FILE_e8375466c83eb6c4
cat > /tmp/oar-p2p-timeline/cli-tier/s0000.sh <<'OARP2P_FILE_a1c3bb46a15dc40c' || exit 1
printf '%s' "$EPOCHSECONDS" > /tmp/oar-p2p-signal/start.tmp && mv -f /tmp/oar-p2p-signal/start.tmp /tmp/oar-p2p-signal/start || rc=1
OARP2P_FILE_a1c3bb46a15dc40c
cat > /tmp/oar-p2p-timeline/cli-tier/schedule <<'OARP2P_FILE_5ccf20270afbe554' || exit 1
s0000 1000000 source
OARP2P_FILE_5ccf20270afbe554
mkfifo -m 0600 /tmp/oar-p2p-timeline/cli-tier/go && : > /tmp/oar-p2p-timeline/cli-tier/status || exit 1
setsid nohup bash /tmp/oar-p2p-timeline/cli-tier/scheduler.sh /tmp/oar-p2p-timeline/cli-tier </dev/null >/dev/null 2>&1 &
