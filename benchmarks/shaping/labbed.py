"""`Lab`: the two machines of a lab testbed, scripts run as root through `Testbed.exec`."""

from __future__ import annotations

import re

from setups import RESET, a_addr, addresses_script, b_addr, timed

from oar_p2p.testbed import Testbed

_TIMED = re.compile(r"^@@ (\S+) (\S+) (\d+)$", re.M)


class LabError(RuntimeError):
    pass


class Lab:
    """Machine A (the shaped sender) and B (the receiver) of a running testbed."""

    def __init__(self, bed: Testbed) -> None:
        self.bed = bed
        machines = bed.info().machines
        self.a, self.b = machines[0], machines[1]

    def sh(self, host: str, script: str, *, timeout: float = 120, check: bool = True) -> str:
        """`script` through `bash -s` (stdin: no argument size limit) -> stdout."""
        r = self.bed.exec(host, ["bash", "-s"], input=script.encode(), timeout=timeout)
        out = r.stdout.decode(errors="replace")
        if check and r.returncode != 0:
            err = r.stderr.decode(errors="replace")
            raise LabError(
                f"{host}: exit {r.returncode}: {err[-800:]}\n--- script:\n{script[:600]}"
            )
        return out

    def timed(self, host: str, script: str, *, timeout: float = 600) -> tuple[float, str]:
        """(guest seconds, output) of `script`; a LabError when it fails."""
        out = self.sh(host, timed(script), timeout=timeout, check=False)
        m = _TIMED.search(out)
        if m is None:
            raise LabError(f"{host}: no timing line: {out[-600:]}")
        if m.group(3) != "0":
            raise LabError(f"{host}: exit {m.group(3)}: {out[-800:]}")
        return float(m.group(2)) - float(m.group(1)), out[: m.start()]

    def reset(self) -> None:
        for h in (self.a, self.b):
            self.sh(h, RESET, check=False)

    def base(self, a_count: int = 20, b_count: int = 4) -> None:
        """Both machines clean, with test addresses, the 10/8 route and B's iperf3 server."""
        self.reset()
        self.sh(self.a, addresses_script("10.16.0", a_count))
        self.sh(self.b, addresses_script("10.17.0", b_count))
        # one server per address: a UDP reply must leave from the address the client used
        for k in (1, 2):
            self.sh(
                self.b, f"iperf3 -s -D -B {b_addr(k)} -p {5200 + k} -I /tmp/lab-iperf-{k}.pid\n"
            )
        self.sh(self.b, "sleep 0.5\n")
        # neighbours learnt once, so the first probe of a measurement waits for no ARP
        self.sh(self.a, f"ping -c 1 -W 2 -I {a_addr(1)} {b_addr(1)} >/dev/null || true\n")

    def versions(self) -> dict[str, str]:
        out = self.sh(self.a, "uname -r; tc -V; nft -v; iperf3 --version | head -1; ping -V\n")
        lines = [x.strip() for x in out.splitlines() if x.strip()]
        return {
            "kernel": lines[0],
            "tc": lines[1],
            "nft": lines[2],
            "iperf3": lines[3],
            "ping": lines[4] if len(lines) > 4 else "",
        }
