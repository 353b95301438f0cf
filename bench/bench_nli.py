"""NLI accuracy of trained presets on one file, side by side, against the file's majority class.

    python bench/bench_nli.py --presets presets/nli-dual /tmp/nli-off /tmp/nli-lstm \
        --data data/cdcl-nli/test.json --out bench/nli_accuracy.json

Each preset is scored as ``python -m ntm evaluate --preset P --data FILE`` scores it
(``ntm.dual.cli.evaluate_file``: a dual preset reads its exported graph from a throwaway store).
Prints JSON: per preset its accuracy, per-label accuracy and the margin over the majority class
in points, its accuracy by reasoning pattern and by premise language (``ntm.dual.nli_eval.BREAKDOWNS``),
and the issue's target (majority + 25 points).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

TARGET_POINTS = 25.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", required=True, help="preset folders or catalogue ids")
    parser.add_argument("--data", default="data/cdcl-nli/test.json")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()

    import torch

    from ntm.dual.cli import evaluate_file
    from ntm.dual.nli_eval import BREAKDOWNS
    from ntm.presets import load_preset

    torch.set_num_threads(1)
    rows = {}
    majority = None
    for name in args.presets:
        start = time.perf_counter()
        preset = load_preset(name)
        result = evaluate_file(preset, args.data, breakdown=BREAKDOWNS)
        majority = result["majority"]
        rows[name] = {"model_type": preset.model_type,
                      "long_term": bool(preset.config.get("model", {}).get("long_term", False)),
                      "trained_batches": preset.metrics.get("batches"),
                      "accuracy": round(result["accuracy"], 4),
                      "per_label": {k: (round(v, 4) if v is not None else None) for k, v in result["per_label"].items()},
                      "points_over_majority": round(100 * (result["accuracy"] - result["majority"]), 1),
                      **{f"by_{part}": {key: {"accuracy": round(v["accuracy"], 4), "examples": v["examples"]}
                                        for key, v in result[f"by_{part}"].items()} for part in BREAKDOWNS},
                      "seconds": round(time.perf_counter() - start, 1)}
    report = {"data": Path(args.data).name, "examples": result["examples"], "majority": round(majority, 4),
              "target_points_over_majority": TARGET_POINTS, "presets": rows,
              "load_average_1min": round(os.getloadavg()[0], 2)}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
