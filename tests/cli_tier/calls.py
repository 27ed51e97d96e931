"""What a call the CLI sends is, and its volatile parts: shared by the tier and its capture.

`what(command, stdin)` names the kind of a call (`read`, `write`, `lock`, `containers`...)
from the text the tool sends; it keys the captured answers
(`tests/fixtures/cli_tier/<step>/<host>.<what>.json`) and the golden file names.

`normalise(text)` is the ONE place where volatile parts of what the CLI sends or prints are
replaced by fixed words before a comparison:

    lock holder   root@box pid 4242 (apply) since=1764662400 -> USER@HOST pid PID (apply) since=TIME
    lock token    the random token the lock and its release carry -> TOKEN
    signal time   printf '%s' 1764662400 > '/tmp/...'        -> printf '%s' TIME > '/tmp/...'
    t0 (go)       printf '%s\\n' 1764662400123456 > .../go      -> printf '%s\\n' TIME > .../go
    apply record  "applied_at": 1764662400.123                -> "applied_at": TIME
    rows.gz       the base64 of the gzip (whose header holds the time it was made) -> the
                  decompressed rows, under a `# rows.gz, decompressed:` line
    run dirs      runs/20261202-074012, runs/20261202-074012-2 -> runs/RUN
    the test's temporary directory (`tmp`)                     -> <TMP>

Nothing else is loosened: every other byte of every script is compared. (Container ids
never reach a script: the scripts select containers by label and name, `docker inspect $ids`.)
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from pathlib import Path

from oar_p2p.remote.clock_probe import CLOCK_LOOP, READ_CLOCK

__all__ = ["digest", "normalise", "what"]

_HOLDER = re.compile(r"[^\s']+@[^\s']+ pid \d+ \(([^)]*)\) since=\d+")
_ROWS = re.compile(r"<<'OARP2P_ROWS'\n(?P<b64>[A-Za-z0-9+/=\n]*?)\nOARP2P_ROWS\n")
_APPLIED_AT = re.compile(r'"applied_at": [\d.]+')
_SIGNAL_TIME = re.compile(r"printf '%s' \d+ > ")
_GO_TIME = re.compile(r"printf '%s\\n' \d+ > ")
_RUN_DIR = re.compile(r"\b\d{8}-\d{6}(?:-\d+)?\b")
_LOCK_TOKEN = re.compile(
    r"(printf '%s' |\" = )[0-9a-f]{16}( > /tmp/oar-p2p\.lock/token| \]; then rm)"
)


def normalise(text: str, tmp: Path | None = None) -> str:
    """`text` with its volatile parts replaced (see the module docstring)."""
    if tmp is not None:
        text = text.replace(str(tmp.resolve()), "<TMP>").replace(str(tmp), "<TMP>")
    text = _HOLDER.sub(r"USER@HOST pid PID (\1) since=TIME", text)
    text = _LOCK_TOKEN.sub(r"\1TOKEN\2", text)
    text = _SIGNAL_TIME.sub("printf '%s' TIME > ", text)
    text = _GO_TIME.sub(lambda _m: "printf '%s\\n' TIME > ", text)
    text = _ROWS.sub(_rows, text)
    text = _APPLIED_AT.sub('"applied_at": TIME', text)
    return _RUN_DIR.sub("RUN", text)


def _rows(match: re.Match[str]) -> str:
    try:
        rows = gzip.decompress(base64.b64decode(match["b64"])).decode()
    except (ValueError, OSError, EOFError):
        return match[0]  # not a gzip: compared as sent
    return f"<<'OARP2P_ROWS'\n# rows.gz, decompressed:\n{rows}\nOARP2P_ROWS\n"


def digest(data: bytes) -> str:
    """sha256 of the normalised stdin (so a lock script's digest does not depend on the pid)."""
    text = normalise(data.decode("utf-8", errors="replace"))
    return hashlib.sha256(text.encode()).hexdigest()


# (marker in the stdin, kind) for the scripts sent to `sh -s`, first match wins
_SH_SCRIPTS = (
    # the run's machine-local schedulers (oar_p2p.workflows.timeline): not captured, the
    # replay answers them as a scheduler would (tests/cli_tier/replay.py)
    ("kill -TERM", "schedule-stop"),
    ("scheduler.sh", "schedule"),
    ("/oar-p2p-timeline/", "go"),
    ('echo "cpus $(nproc)"', "discovery"),
    ("docker inspect $ids", "containers"),
    ("--format '{{.Names}}'", "destroy-containers"),
    ('r() { echo "image', "preflight"),
    ("c() { n=$1; shift;", "prepare"),
    ("docker start", "start"),
    ("/tmp/oar-p2p-signal/", "signal"),
    ("docker wait", "wait"),
    ("docker logs", "logs"),
    ("docker stop", "stop"),
    ("docker rm -f", "remove"),
)


def what(command: str, stdin: bytes) -> str:
    """The kind of a call, from its command line and stdin; `unknown` if none fits."""
    text = stdin.decode("utf-8", errors="replace")
    if command.startswith("oarstat"):
        return "oarstat"
    if command in (READ_CLOCK, CLOCK_LOOP):
        return "clock"
    if "mkdir /tmp/oar-p2p.lock" in command:
        return "lock"
    if command.startswith('if [ "$(cat /tmp/oar-p2p.lock/token'):
        return "unlock"
    if "docker image inspect" in command or "docker build" in command:
        return "helper-image"
    if 'echo "### oar-p2p:$1 ###"' in text:
        return "read"
    if "oar-p2p-script" in command:  # the spooled bash of a privileged (write) script
        return "write"
    if command == "sh -s":
        for marker, kind in _SH_SCRIPTS:
            if marker in text:
                return kind
    return "unknown"
