"""Split a trial file into two files by participant, for a surrogate fitted on one half and people
held out of that fit in the other (experiments/robustness.py).

    python experiments/split_people.py --data ../shared/data/bandit_choice_engineering.csv \
        --data-format bandit-choice-engineering --fraction 0.5 --seed 0 --out out/bandit_split

Writes `a` and `b` files in the input's own format and compression (a: `--fraction` of the people,
drawn with `--seed`; b: the rest) and split.json: the source's sha256 and each half's participants.
Every row of a participant goes to the same half, in the input's order.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shaping_core.data import DATA_FORMATS, participant_column  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--data-format", choices=DATA_FORMATS, default="platform")
    parser.add_argument("--fraction", type=float, default=0.5, help="the share of people in half a")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    if not 0 < args.fraction < 1:
        parser.error(f"--fraction must lie strictly between 0 and 1, got {args.fraction:g}")
    if not args.data.is_file():
        parser.error(f"{args.data}: file not found")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    column = participant_column(args.data_format)
    parquet = args.data.suffix == ".parquet"
    table = pd.read_parquet(args.data) if parquet else pd.read_csv(args.data, dtype={column: str})
    if column not in table.columns:
        raise SystemExit(f"split_people.py: {args.data} has no column {column!r} ({args.data_format} format)")
    people = np.array(sorted(table[column].astype(str).unique()))
    np.random.default_rng(args.seed).shuffle(people)
    in_a = set(people[: round(len(people) * args.fraction)])
    chosen = table[column].astype(str).isin(in_a)
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "".join(args.data.suffixes)
    for name, rows in (("a", table[chosen]), ("b", table[~chosen])):
        path = args.out / f"{name}{suffix}"
        rows.to_parquet(path, index=False) if parquet else rows.to_csv(path, index=False)
    split = {"source": str(args.data.resolve()), "sha256": hashlib.sha256(args.data.read_bytes()).hexdigest(),
             "data_format": args.data_format, "fraction": args.fraction, "seed": args.seed,
             "a": sorted(in_a), "b": sorted(set(people) - in_a)}
    (args.out / "split.json").write_text(json.dumps(split, indent=2))
    print(json.dumps({"a": len(split["a"]), "b": len(split["b"]), "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
