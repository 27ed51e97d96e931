# host: gengar-1
# command: sh -s
# stdin:
rm -rf /tmp/oar-p2p-signal/ack
rm -rf /tmp/oar-p2p-timeline/cli-tier && mkdir -p /tmp/oar-p2p-timeline/cli-tier || exit 1
cat > /tmp/oar-p2p-timeline/cli-tier/scheduler.sh <<'OARP2P_FILE_dc0638fa22d31b9d' || exit 1
#!/bin/bash
d=$1
stopping=0
trap 'stopping=1' TERM INT
# `go` held open read-write from the start: t0, or the stop's poke, written before this
# shell reads it is kept in the FIFO, not lost with the writer's close
exec 8<> "$d/go"
echo $$ > "$d/pid"
# first in line for the CPU at a deadline (root only; an ordinary user keeps its priority)
renice -n -10 -p $$ > /dev/null 2>&1 || true
# `wait` returns at once (128 + 15) when the trapped TERM arrives: wait for the end
finish() { while :; do wait "$1"; rc=$?; kill -0 "$1" 2>/dev/null || break; done; }
mkfifo "$d/tick" "$d/nft.fifo" "$d/tc.in" "$d/tc.err" "$d/sig.fifo" && exec 4<> "$d/tick"
tcp= tck=0 part=
# one batch ($1) through the long-lived tc; its error lines to $2; 0 when all ran
tcb() {
  local body= line tag
  if [ -z "$tcp" ]; then
    exec 5<> "$d/tc.in" 6<> "$d/tc.err"
    tc -force -b - < "$d/tc.in" 2>&6 5>&- 6>&- > "$d/tc.out" & tcp=$!
  fi
  tck=$(( tck + 1 )); tag="oarp2p-s$tck"
  IFS= read -r -d '' body < "$1"
  : > "$2"
  printf '%s\nclass show dev %s\n' "${body%$'\n'}" "$tag" >&5 || return 1
  while :; do
    if IFS= read -r -t 1 -u 6 line; then
      line=$part$line part=
      if [[ $line == *"\"$tag\""* ]]; then IFS= read -r -t 5 -u 6 line; break; fi
      printf '%s\n' "$line" >> "$2"
    else
      part+=$line
      kill -0 "$tcp" 2> /dev/null && continue
      wait "$tcp"; echo "tc ended (status $?)" >> "$2"; tcp=; exec 5>&- 6>&-
      return 1
    fi
  done
  [ ! -s "$2" ]
}
rename_all() {  # the pairs of $@ (temp file, final file), renamed in order
  while [ $# -gt 1 ]; do mv -f "$1" "$2" || return 1; shift 2; done
}
t0=
while read -r n off mode; do
  [ "$stopping" = 1 ] && break
  rc=0 np=
  if [ "$mode" = split ]; then
    if [ -s "$d/$n.pre" ]; then tcb "$d/$n.pre" "$d/$n.pre.err" || rc=1; fi
    if [ "$rc" = 0 ] && [ -s "$d/$n.nft" ]; then
      # the FIFO opened read-write first (never blocks), so nft's open finds a writer;
      # nft reads it as stdin: it keeps stdin in memory, where it would reopen a file
      # path to quote an error (and block on the FIFO forever)
      exec 3<> "$d/nft.fifo" &&
        { nft -f - < "$d/nft.fifo" 3>&- > "$d/$n.out" 2> "$d/$n.err" & np=$!; }
      text=
      IFS= read -r -d '' text < "$d/$n.nft"
    fi
  fi
  # the first step's pre part runs before t0 is known (while the containers start)
  if [ -z "$t0" ]; then
    until read -r t0 <&8; do [ "$stopping" = 1 ] && break; done  # a TERM cuts `read` short
  fi
  due=$(( t0 + off ))
  if [ "$mode" = signal ]; then
    pairs=()
    while IFS= read -r f; do
      printf '%s' $(( due / 1000000 )) > "$f.tmp" || rc=1
      pairs+=("$f.tmp" "$f")
    done < "$d/$n.sig"
    exec 7<> "$d/sig.fifo"
    if command -v perl > /dev/null; then
      perl -e '<STDIN>; while (@ARGV) { rename(shift, shift) or exit 1 }
        printf "%.0f\n", Time::HiRes::time() * 1e6 if eval { require Time::HiRes }' \
        "${pairs[@]}" < "$d/sig.fifo" 7>&- > "$d/$n.out" \
        2> "$d/$n.err" & np=$!
    else
      { read -r _; rename_all "${pairs[@]}" && echo ${EPOCHREALTIME/[.,]/}; } \
        < "$d/sig.fifo" 7>&- > "$d/$n.out" 2> "$d/$n.err" & np=$!
    fi
  fi
  while [ "$stopping" = 0 ]; do
    t=${EPOCHREALTIME/[.,]/}
    rest=$(( due - t - 2000 ))
    (( rest > 0 )) || break
    (( rest > 200000 )) && rest=200000  # a trapped TERM does not cut `read -t` short
    printf -v secs '%d.%06d' $(( rest / 1000000 )) $(( rest % 1000000 ))
    read -r -t "$secs" -u 4 _ || true
  done
  while [ "$stopping" = 0 ]; do t=${EPOCHREALTIME/[.,]/}; (( t >= due )) && break; done
  if [ "$stopping" = 1 ]; then
    if [ -n "$np" ]; then exec 3>&- 7>&-; kill "$np" 2> /dev/null; finish "$np"; fi
    break
  fi
  if [ "$mode" = source ]; then
    . "$d/$n.sh" > "$d/$n.out" 2> "$d/$n.err" < /dev/null
    a=${EPOCHREALTIME/[.,]/}
  elif [ "$mode" = signal ]; then
    prc=$rc
    printf 'go\n' >&7; exec 7>&-
    finish "$np"
    a=
    [ "$rc" = 0 ] && { read -r a < "$d/$n.out" || a=${EPOCHREALTIME/[.,]/}; }
    if [ -z "$a" ]; then  # the renamer failed: what is left, renamed here, late
      rc=0
      for (( i = 0; i < ${#pairs[@]}; i += 2 )); do
        [ -e "${pairs[i]}" ] && { mv -f "${pairs[i]}" "${pairs[i+1]}" || rc=1; }
      done
      a=${EPOCHREALTIME/[.,]/}
    fi
    [ "$prc" = 0 ] || rc=$prc
  elif [ "$mode" != split ]; then
    bash "$d/$n.sh" > "$d/$n.out" 2> "$d/$n.err" < /dev/null; rc=$?
    a=${EPOCHREALTIME/[.,]/}
  elif [ "$rc" = 0 ]; then
    if [ -n "$np" ]; then
      printf '%s' "$text" >&3; exec 3>&-
      finish "$np"
    fi
    a=${EPOCHREALTIME/[.,]/}
    if [ "$rc" = 0 ] && [ -s "$d/$n.post" ]; then
      tcb "$d/$n.post" "$d/$n.post.err" || rc=1
    fi
  else
    a=$t
  fi
  echo "$n $t $a ${EPOCHREALTIME/[.,]/} $rc" >> "$d/status"
done < "$d/schedule"
if [ -n "$tcp" ]; then exec 5>&-; wait "$tcp"; fi
if [ "$stopping" = 1 ]; then echo stopped >> "$d/status"; else echo end >> "$d/status"; fi
OARP2P_FILE_dc0638fa22d31b9d
cat > /tmp/oar-p2p-timeline/cli-tier/s0000.sig <<'OARP2P_FILE_2e7148b2ea771cce' || exit 1
/tmp/oar-p2p-signal/start
OARP2P_FILE_2e7148b2ea771cce
cat > /tmp/oar-p2p-timeline/cli-tier/schedule <<'OARP2P_FILE_059cf4951005e854' || exit 1
s0000 1000000 signal
OARP2P_FILE_059cf4951005e854
mkfifo -m 0600 /tmp/oar-p2p-timeline/cli-tier/go && : > /tmp/oar-p2p-timeline/cli-tier/status || exit 1
setsid nohup bash /tmp/oar-p2p-timeline/cli-tier/scheduler.sh /tmp/oar-p2p-timeline/cli-tier </dev/null >/dev/null 2>&1 &
