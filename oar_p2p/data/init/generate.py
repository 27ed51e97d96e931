#!/usr/bin/env python3
"""Write a random latency matrix for this experiment (standard library only).

The matrix is symmetric with a zero diagonal: m[i][j] = m[j][i] is the one-way latency, in
milliseconds, from address i to address j (a round trip is twice that). The same size and
seed always write the same file, so the matrix can be regenerated instead of reviewed:

    python3 generate.py                          # 8 x 8, seed 1 -> latency.txt
    python3 generate.py --size 64 --seed 7 --min 2 --max 150 --out latency.txt

Give the spec at least as many addresses' rows as it uses (`network.addresses`), or set
`network.matrix_wrap: true` to reuse rows.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path


def matrix(size: int, seed: int, low: float, high: float) -> list[list[float]]:
    """A size x size symmetric matrix of values in [low, high], 0 on the diagonal."""
    rng = random.Random(seed)
    rows = [[0.0] * size for _ in range(size)]
    for i in range(size):
        for j in range(i + 1, size):
            rows[i][j] = rows[j][i] = round(rng.uniform(low, high), 1)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a random latency matrix.")
    parser.add_argument("--size", type=int, default=8, help="rows and columns (default 8)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--min", type=float, default=1.0, help="smallest latency, ms")
    parser.add_argument("--max", type=float, default=100.0, help="largest latency, ms")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("latency.txt"), help="output file"
    )
    args = parser.parse_args()
    if args.size < 1 or not 0 <= args.min <= args.max:
        parser.error("need --size >= 1 and 0 <= --min <= --max")
    rows = matrix(args.size, args.seed, args.min, args.max)
    args.out.write_text("".join(" ".join(f"{v:.1f}" for v in row) + "\n" for row in rows))
    print(f"wrote {args.out} ({args.size} x {args.size}, seed {args.seed})")


if __name__ == "__main__":
    main()
