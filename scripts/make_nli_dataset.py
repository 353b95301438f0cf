"""Write the synthetic CDCL-NLI dataset this project ships (data/cdcl-nli/), seeded.

    python scripts/make_nli_dataset.py [--out data/cdcl-nli] [--seed 0]

See ntm/nli/synthetic.py for the patterns, languages and what is held out of training.
"""

from __future__ import annotations

import argparse

from ntm.io import ROOT
from ntm.nli.synthetic import write_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "data" / "cdcl-nli"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    counts = write_dataset(args.out, args.seed)
    print(", ".join(f"{split}: {n}" for split, n in counts.items()), "->", args.out)


if __name__ == "__main__":
    main()
