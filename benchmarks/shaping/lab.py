"""The shaping lab (issue 16 groundwork): netem jitter/loss accuracy and per-address caps.

    sudo python3 benchmarks/shaping/lab.py [--sections netem,caps,stages,change,scale,...]
    sudo python3 benchmarks/shaping/lab.py up | down     # keep one lab testbed between runs

Boots a private two-machine testbed (/run/oar-p2p-testbed-lab-<pid>, name lab<pid>; always
taken down, failures included) unless `up` left one running (its state is then reused and
left up), sets the candidate layouts up by hand with tc/nft on gengar-1's `bond0` and
measures, with ping and iperf3 towards gengar-2:

    netem    delay/jitter/loss classes: RTT mean and standard deviation against the
             expected, reordered replies, loss against its binomial 95% interval
    caps     per-address egress caps (10 and 50 mbit): two-level HTB, a separate cap stage
             on an IFB device (class chosen by skb->priority, or by a masked fw mark),
             nft `limit` policing, an ingress cap on the receiver (IFB): TCP and UDP
             throughput, TCP retransmits, setup time
    stages   the separate-stage layouts: pings through both stages, both classes count them
    change   one address's cap changed by one `tc class change` while iperf3 runs
    scale    `tc -b` time (and guest memory) to install the two-level layout at 5k, 20k,
             60k leaves (stops at a failed or > 400 s size) and the separate-stage layout
             at 1,000 tuples + 250 caps
    scale-classes  the same for 20k and 60k bare HTB classes (no netem, no filter)

All sections take about 25 minutes on the testbed (scale and scale-classes most of it).
    capture  tc/nft JSON of these layouts from the guest kernel, for the parsers
             (tests/fixtures/observed/tc/shaping/); `--captures a,b` takes only those

Prints tables and writes benchmarks/results/<date>-shaping.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(HERE)]

import captures  # noqa: E402  (benchmarks/shaping/captures.py)
import measure  # noqa: E402  (benchmarks/shaping/measure.py)
from labbed import Lab  # noqa: E402

from oar_p2p.testbed import Testbed  # noqa: E402

KEEP = Path("/run/oar-p2p-testbed-lab")  # `up` / `down`: a lab testbed kept between runs
SECTIONS: dict[str, Callable[[Lab], Any]] = {
    "netem": measure.netem,
    "caps": measure.caps,
    "stages": measure.stages,
    "change": measure.change,
    "scale": measure.scale,
    "scale-classes": measure.scale_classes,
    "capture": measure.capture,
}


def kept() -> Testbed:
    return Testbed(KEEP, name="labkeep")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", nargs="?", default="run", choices=["run", "up", "down"])
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument(
        "--captures", default="", help="with --sections capture: only these cases (a,b,...)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    if args.action == "up":
        print(kept().up(machines=2).model_dump_json(indent=2))
        return 0
    if args.action == "down":
        kept().down()
        return 0
    names = [s for s in args.sections.split(",") if s]
    captures.ONLY = {c for c in args.captures.split(",") if c}
    unknown = set(names) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    bed = kept()
    own = bed.status() is None
    if own:
        bed = Testbed(Path(f"/run/oar-p2p-testbed-lab-{os.getpid()}"), name=f"lab{os.getpid()}")
    results: dict[str, Any] = {"started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    try:
        if own:
            info = bed.up(machines=2)
            print(f"testbed up in {info.boot_seconds} s", flush=True)
        lab = Lab(bed)
        results["guest"] = lab.versions()
        results["host"] = {"cpus": os.cpu_count(), "machine": platform.node()}
        print(json.dumps(results["guest"]), flush=True)
        for name in names:
            print(f"\n== {name} ==", flush=True)
            try:
                results[name] = SECTIONS[name](lab)
            except Exception as exc:  # one failed section must not lose the others
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"section {name} FAILED: {exc}", flush=True)
            finally:
                lab.reset()
    finally:
        if own:
            bed.down()
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d-%H%M")
    path = args.out / f"{stamp}-shaping.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
