"""Write latency.txt for the per-cpu example: a deterministic 128 x 128 matrix.

Every address gets a point on a 2-D "map" (a few regional clusters) and the one-way latency
between two addresses is their distance plus a small per-pair jitter, in ms with
sub-millisecond precision (3 decimals), symmetric, 0 on the diagonal. The same seed always
writes the same file:

    python examples/per-cpu/generate.py            # 128 addresses = 4 machines x 8 cpus x 4
    python examples/per-cpu/generate.py --size 256 --out /tmp/m.txt
"""

from __future__ import annotations

import argparse
import math
import random
from pathlib import Path

SEED = 20240501
REGIONS = [(0.0, 0.0), (30.0, 5.0), (12.0, 40.0), (55.0, 35.0)]


def matrix(size: int, seed: int = SEED) -> list[list[float]]:
    rng = random.Random(seed)
    points = []
    for _ in range(size):
        cx, cy = rng.choice(REGIONS)
        points.append((cx + rng.gauss(0, 2.5), cy + rng.gauss(0, 2.5)))
    rows = [[0.0] * size for _ in range(size)]
    for i in range(size):
        for j in range(i + 1, size):
            d = math.dist(points[i], points[j])
            value = round(0.05 + d * 0.5 + rng.uniform(0, 0.4), 3)
            rows[i][j] = rows[j][i] = value
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("latency.txt"))
    args = parser.parse_args()
    text = "\n".join(" ".join(f"{v:.3f}" for v in row) for row in matrix(args.size, args.seed))
    args.out.write_text(text + "\n")
    print(f"wrote {args.out} ({args.size} x {args.size})")


if __name__ == "__main__":
    main()
