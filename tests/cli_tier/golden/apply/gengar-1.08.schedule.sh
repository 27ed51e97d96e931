# host: gengar-1
# command: sh -s
# stdin:
rm -rf /tmp/oar-p2p-signal/ack
rm -rf /tmp/oar-p2p-timeline/cli-tier && mkdir -p /tmp/oar-p2p-timeline/cli-tier || exit 1
cat > /tmp/oar-p2p-timeline/cli-tier/scheduler.sh <<'OARP2P_FILE_cb66ccd69926627e' || exit 1
#!/bin/bash
d=$1
stopping=0
trap 'stopping=1' TERM INT
# `go` held open read-write from the start: t0, or the stop's poke, written before this
# shell reads it is kept in the FIFO, not lost with the writer's close
exec 8<> "$d/go"
# written whole before it is seen (a stop reading it at once gets the pid, never "")
echo $$ > "$d/pid.new" && mv -f "$d/pid.new" "$d/pid"
# first in line for the CPU at a deadline (root only; an ordinary user keeps its priority);
# the tc and nft it feeds run at the usual priority (`low`), so that where machines share a
# CPU (the testbed's guest) a scheduler whose deadline comes is not queued behind another
# machine's nft work
low=()
renice -n -10 -p $$ > /dev/null 2>&1 && command -v nice > /dev/null && low=(nice -n 10)
# `wait` returns at once (128 + 15) when the trapped TERM arrives: wait for the end
finish() { while :; do wait "$1"; rc=$?; kill -0 "$1" 2>/dev/null || break; done; }
mkfifo "$d/tick" "$d/nft.fifo" "$d/tc.in" "$d/tc.err" "$d/nft.in" "$d/nft.err" \
  "$d/sig.fifo" && exec 4<> "$d/tick"
tcp= nftp= k=0 bg=()
# the long-lived tc and nft, started at their first batch. Their input FIFO is held open
# read-write (an open never blocks; their stdin ends when ours closes); their error FIFO
# is opened read-only once they hold its only write end, so that their end is an end of
# file there, and it is read without `read -t` (but for the sentinel's last line): a timed
# `read` costs a timer's system calls per byte, 30-40 ms for the few lines of one batch in
# the testbed's guest, against 2 ms untimed (the read of one machine's batch took the CPU
# from another's commit)
start_tc() {
  [ -n "$tcp" ] && return 0
  exec {tc_in}<> "$d/tc.in"
  "${low[@]}" tc -force -b - < "$d/tc.in" 2> "$d/tc.err" {tc_in}>&- > "$d/tc.out" & tcp=$!
  exec {tc_err}< "$d/tc.err"
}
start_nft() {
  [ -n "$nftp" ] && return 0
  exec {nft_in}<> "$d/nft.in"
  TERM=dumb "${low[@]}" nft -i < "$d/nft.in" 2> "$d/nft.err" {nft_in}>&- > "$d/nft.out" &
  nftp=$!
  exec {nft_err}< "$d/nft.err"
  # what it prints as it starts (a terminal warning) is no step's; an empty transaction
  # (the table exists: `add` changes nothing) runs its commit path once before a deadline
  batch nft "add table ip oar-p2p" "$d/nft.start"
  return 0
}
# One batch, $2, through the long-lived $1 (tc: lines of commands; nft: one line, one
# transaction); its error lines go to $3; 0 when there are none. The batch ends with a
# sentinel that fails naming `oarp2p-s<k>`: tc says `Cannot find device "oarp2p-s<k>"` and
# then `Command failed`; nft, reading `oarp2p-s<k>` as a command, says `Error: syntax
# error...`, echoes the line and underlines it. Everything before is the batch's.
batch() {
  local in err pid line tag held= ended
  start_"$1" || { echo "$1 did not start" > "$3"; return 1; }
  in=$nft_in err=$nft_err pid=$nftp
  [ "$1" = tc ] && in=$tc_in err=$tc_err pid=$tcp
  k=$(( k + 1 )); tag="oarp2p-s$k"
  : > "$3"
  if [ "$1" = tc ]; then
    printf '%s\nclass show dev %s\n' "$2" "$tag" >&"$in" || return 1
  else
    printf '%s\n%s\n' "$2" "$tag" >&"$in" || return 1
  fi
  # (a TERM that comes meanwhile is trapped once the line is read: the batch goes on).
  # The sentinel's last line (tc's `Command failed`, nft's underline) is read with a
  # timeout: a tc or nft that printed none would otherwise hold this read until the next
  # batch, which never comes (one timed read of a short line: a few ms)
  ended=1
  while IFS= read -r -u "$err" line; do
    if [[ $1 == tc && $line == *"\"$tag\""* || $1 == nft && $line == *"$tag" ]]; then
      IFS= read -r -t 5 -u "$err" line; ended=0; break
    fi
    [ -n "$held" ] && printf '%s\n' "$held" >> "$3"
    held=$line
  done
  if [ "$ended" = 1 ]; then
    # end of file: the process ended (what it printed last is kept)
    [ -n "$held" ] && printf '%s\n' "$held" >> "$3"
    [ -n "$line" ] && printf '%s\n' "$line" >> "$3"
    wait "$pid"; echo "$1 ended (status $?)" >> "$3"
    if [ "$1" = tc ]; then
      tcp=; exec {tc_in}>&- {tc_err}<&-
    else
      nftp=; exec {nft_in}>&- {nft_err}<&-
    fi
    return 1
  fi
  # the line before tc's sentinel is the batch's; before nft's, the sentinel's `Error:`
  [ "$1" = tc ] && [ -n "$held" ] && printf '%s\n' "$held" >> "$3"
  [ ! -s "$3" ]
}
# a batch file through the long-lived tc
tcb() { local body=; IFS= read -r -d '' body < "$1"; batch tc "${body%$'\n'}" "$2"; }
rename_all() {  # the pairs of $@ (temp file, final file) renamed in order; absent temp
  # files (renamed already, or never written: that step's rc says so) are passed over
  while [ $# -gt 1 ]; do
    if [ -e "$1" ]; then mv -f "$1" "$2" || return 1; fi
    shift 2
  done
}
t0=
while read -r n off mode; do
  [ "$stopping" = 1 ] && break
  rc=0 np=
  if [ "$mode" = split ]; then
    if [ -s "$d/$n.pre" ]; then tcb "$d/$n.pre" "$d/$n.pre.err" || rc=1; fi
    text=
    if [ "$rc" = 0 ] && [ -s "$d/$n.nft" ]; then
      IFS= read -r -d '' text < "$d/$n.nft"; text=${text%$'\n'}
      if (( ${#text} > 65536 )); then
        # a long transaction: an nft of its own, started ahead on a FIFO opened read-write
        # first (never blocks); nft reads it as stdin: it keeps stdin in memory, where it
        # would reopen a file path to quote an error (and block on the FIFO forever)
        exec 3<> "$d/nft.fifo" &&
          { "${low[@]}" nft -f - < "$d/nft.fifo" 3>&- > "$d/$n.out" 2> "$d/$n.err" & np=$!; }
      else
        start_nft
      fi
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
      # Time::HiRes loaded before the wait: loading it after the renames took 0.2 s
      perl -e 'my $hr = eval { require Time::HiRes; 1 }; <STDIN>;
        while (@ARGV) { rename(shift, shift) or exit 1 }
        printf "%.0f\n", Time::HiRes::time() * 1e6 if $hr' \
        "${pairs[@]}" < "$d/sig.fifo" 7>&- > "$d/$n.out" \
        2> "$d/$n.err" & np=$!
    else
      { read -r _; rename_all "${pairs[@]}" && echo ${EPOCHREALTIME/[.,]/}; } \
        < "$d/sig.fifo" 7>&- > "$d/$n.out" 2> "$d/$n.err" & np=$!
    fi
  fi
  if [ "$mode" = release ]; then
    fifos=()
    while IFS= read -r f; do fifos+=("$f"); done < "$d/$n.rel"
  fi
  if [ "$mode" = api ]; then
    exec 7<> "$d/sig.fifo"
    perl "$d/api.pl" "$d/$n.api" < "$d/sig.fifo" 7>&- > "$d/$n.out" 2> "$d/$n.err" & np=$!
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
  if [ "$mode" = api ]; then
    printf 'go\n' >&7; exec 7>&-
    finish "$np"
    if [ "$rc" = 3 ] || [ "$rc" = 127 ]; then  # no usable API (or no perl): the CLI
      rc=0
      . "$d/$n.sh" > "$d/$n.out" 2>> "$d/$n.err" < /dev/null
    fi
    a=${EPOCHREALTIME/[.,]/}
  elif [ "$mode" = signal ]; then
    prc=$rc
    printf 'go\n' >&7; exec 7>&-
    finish "$np"
    a=
    [ "$rc" = 0 ] && { read -r a < "$d/$n.out" || a=${EPOCHREALTIME/[.,]/}; }
    if [ -z "$a" ]; then  # the renamer failed: what is left, renamed here, late
      rc=0
      rename_all "${pairs[@]}" || rc=1
      a=${EPOCHREALTIME/[.,]/}
    fi
    [ "$prc" = 0 ] || rc=$prc
  elif [ "$mode" = prestart ]; then
    (
      perl "$d/api.pl" "$d/$n.api" < /dev/null > "$d/$n.out" 2> "$d/$n.err"; rc=$?
      if [ "$rc" = 3 ] || [ "$rc" = 127 ]; then
        rc=0; . "$d/$n.sh" > "$d/$n.out" 2>> "$d/$n.err" < /dev/null
      fi
      e=${EPOCHREALTIME/[.,]/}; echo "$n $t $e $e $rc" >> "$d/status"
    ) &
    bg+=($!)
    continue
  elif [ "$mode" = release ]; then
    fds=()
    for f in "${fifos[@]}"; do
      [ -p "$f" ] && exec {fd}<> "$f" && printf 'go\n' >&"$fd" && fds+=("$fd")
    done
    a=${EPOCHREALTIME/[.,]/}
    rm -f "${fifos[@]}" || rc=1
    for fd in "${fds[@]}"; do exec {fd}>&-; done
  elif [ "$mode" != split ]; then
    bash "$d/$n.sh" > "$d/$n.out" 2> "$d/$n.err" < /dev/null; rc=$?
    a=${EPOCHREALTIME/[.,]/}
  elif [ "$rc" = 0 ]; then
    if [ -n "$np" ]; then
      printf '%s\n' "$text" >&3; exec 3>&-
      finish "$np"
    elif [ -n "$text" ]; then
      batch nft "$text" "$d/$n.err" || rc=1
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
# both inputs closed before either is waited for: the one started second holds a copy of
# the other's input FIFO, which its end closes
[ -n "$tcp" ] && exec {tc_in}>&-
[ -n "$nftp" ] && exec {nft_in}>&-
[ -n "$tcp" ] && wait "$tcp"
[ -n "$nftp" ] && wait "$nftp"
for p in "${bg[@]}"; do finish "$p"; done  # the prestarts' status lines come first
if [ "$stopping" = 1 ]; then echo stopped >> "$d/status"; else echo end >> "$d/status"; fi
OARP2P_FILE_cb66ccd69926627e
cat > /tmp/oar-p2p-timeline/cli-tier/s0000.sig <<'OARP2P_FILE_2e7148b2ea771cce' || exit 1
/tmp/oar-p2p-signal/start
OARP2P_FILE_2e7148b2ea771cce
cat > /tmp/oar-p2p-timeline/cli-tier/schedule <<'OARP2P_FILE_059cf4951005e854' || exit 1
s0000 1000000 signal
OARP2P_FILE_059cf4951005e854
mkfifo -m 0600 /tmp/oar-p2p-timeline/cli-tier/go && : > /tmp/oar-p2p-timeline/cli-tier/status || exit 1
setsid nohup bash /tmp/oar-p2p-timeline/cli-tier/scheduler.sh /tmp/oar-p2p-timeline/cli-tier </dev/null >/dev/null 2>&1 &
