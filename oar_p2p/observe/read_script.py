"""The one read script per machine, and the splitting of its output into sections.

The script prints sections delimited by ``### oar-p2p:<name> ###`` lines (`oar_p2p.wire`):
`record` first (whether the nft map is trusted is known from it before anything else
runs), `helper` when the script started the command's helper ahead of a write (see
`prestart`), `hostname`, `ip` (one `ip -b` batch: the addresses and the route),
`tc-listing` (one `tc -b` batch: the classes and filters of the cluster interface and of
`lo`; `observe.listings` splits both), `tc-qdisc:<if>` (for the cluster interface and
`lo`; with `tc-egress:<if>` and `tc-ingress:<if>`, the `tc -j filter` listings of a
``clsact``, when one is there), and for the cap stage, when its IFB exists, `ifb-link`,
`tc-qdisc:oarp2p-ifb` and `tc-class:oarp2p-ifb`; then `sysctl`, `nft` (the table as
`nft -j`, or the word `skipped` when the record is trusted) and `rows` (base64 of the
record's rows, only when the map is large and its digest differs from the desired one,
then with `rows-patch`: the record's patch, see `oar_p2p.record`). A failed nft listing
other than "no such table" adds an `nft-error` section.

Everything but the nft listing works as an ordinary user (`ip`, `tc`, `/proc/sys`, the
record, which the write script leaves world-readable), so the script runs unprivileged
and `nft` is the executor's privileged command for that one listing, started only when
the record is not trusted: a no-op read of a large map starts no helper container. A
machine whose user cannot run `ip` or `tc` answers with a `need-privilege` section only;
the caller then runs the script privileged.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from oar_p2p.record import LARGE
from oar_p2p.vocab import RECORD_DIR
from oar_p2p.wire import sections

__all__ = ["read_script", "split_sections"]


def read_script(
    interface: str,
    sysctls: list[str],
    *,
    refresh: str = "auto",
    desired_digest: str = "",
    large: int = LARGE,
    record_dir: str = RECORD_DIR,
    nft: Sequence[str] = ("nft",),
    unprivileged: bool = False,
    prestart: bool = False,
) -> str:
    """Bash text of the read script (no user strings: interface and keys are validated,
    every value is quoted).

    `nft`: the argv that runs nft with privileges (e.g. in the helper container);
    `unprivileged`: the script runs as an ordinary user and checks first that it can.
    `prestart`: `nft` starts this command's helper container (`HelperPool.listing_argv`);
    when the trusted map differs from the desired one, a write will follow, and the
    script runs ``nft --version`` through it in the background before the listings: the
    helper starts while the machine is read and diffed (section `helper`), and the write
    finds it running.
    Few processes: on a slow machine (the testbed's guest) every fork costs; sysctls and
    the record are read with bash builtins. The script is sent to `bash -s` (no spool).
    """
    q = shlex.quote
    head = (
        f"IF={q(interface)}; REFRESH={q(refresh)}; WANT={q(desired_digest)}; LARGE={int(large)}\n"
        f"PRESTART={int(prestart)}\n"
        f"R={q(record_dir)}; NFT=({' '.join(q(a) for a in nft)})\n"
        f"KEYS=({' '.join(q(k) for k in sysctls)})\n"
        's() { echo "### oar-p2p:$1 ###"; }\n'
    )
    # one `{ ... }` group: bash reads it whole before running any of it, so a command
    # in it that reads stdin never eats the rest of a script sent to `bash -s`
    body = (_CAN_READ if unprivileged else "") + _RECORD + _PRESTART + _KERNEL + _NFT
    return head + "{\n" + body + "} </dev/null\n"


# ip, tc and the sysctls: what every user can read. The two qdisc listings stay two
# processes: one `tc -j -b` batch prints both on two lines, but splitting 300 KB in bash
# (`${q#*$'\n'}`) took 7 s of the testbed guest's CPU, `${q%%$'\n'*}` 0.3 s: more than
# the process start it would save (0.18 s).
_KERNEL = r"""s hostname; echo "$HOSTNAME"
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
"""

# The record, and whether it is trusted (then the nft listing is skipped).
_RECORD = r"""s record
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
"""

# A write will follow (the trusted map is not the desired one): start the helper now.
_PRESTART = r"""if [ "$PRESTART" = 1 ] && [ "$differs" = 1 ]; then
  "${NFT[@]}" --version >/dev/null 2>&1 </dev/null &
  s helper; echo starting
fi
"""

# The nft listing (privileged: through $NFT) unless trusted, and the record's rows when
# the trusted map differs from the desired one.
_NFT = r"""s nft
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
"""


# An ordinary user may lack /sbin on PATH; one without ip or tc cannot read the machine.
_CAN_READ = """\
export PATH="$PATH:/usr/sbin:/sbin"
if ! command -v ip >/dev/null || ! command -v tc >/dev/null; then s need-privilege; exit 0; fi
"""


def split_sections(text: str) -> dict[str, str]:
    """The read script's output -> {section name: body} (`oar_p2p.wire.sections`);
    anything printed before the first mark is dropped.

    >>> split_sections("noise\\n### oar-p2p:a ###\\nx\\n### oar-p2p:b ###\\n")
    {'a': 'x\\n', 'b': ''}
    """
    out = sections(text)
    out.pop("", None)
    return out
