"""How long the Generalisation page's default comparison takes: click Evaluate with the defaults.

    python bench/bench_generalisation.py --repeats 3 --out bench/generalisation.json

Issue 11 asks for the default comparison (the shipped copy NTM against the LSTM baseline) to be
ready in <= 10 s on this machine. The page is run as the app runs it (``app.py``, so torch at the
app's thread count, ``ntm.threads``) in Streamlit's AppTest, with the shipped presets; each repeat
clears Streamlit's caches first, so every length is evaluated afresh. Timed: the rerun a click on
Evaluate makes, from the click until the page's script has finished (every length evaluated and
drawn into the page's elements), wall and this process's CPU. Not timed: the browser drawing the
figures (a few Plotly charts) and the WebSocket trip. Prints JSON, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

TARGET_SECONDS = 10.0


def one_click() -> dict:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from ntm.io import ROOT

    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.run()
    at.switch_page("pages/generalisation.py").run()
    if at.exception:
        raise SystemExit(f"the page failed to open: {at.exception[0].message}")
    inputs = {w.label: w.value for w in [*at.text_input, *at.number_input]}
    button = at.button(key="gen_evaluate")
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    button.click().run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if at.exception:
        raise SystemExit(f"Evaluate failed: {at.exception[0].message}")
    request = at.session_state["gen_request"]              # (preset paths, lengths, repeats, sequences, seed)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "load_average_1min": round(load, 2),
            "presets": [Path(path).name for path, _ in request[0]], "lengths": list(request[1]),
            "sequences_per_length": request[3], "charts_on_page": len(at.get("plotly_chart")), "inputs": inputs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    runs = [one_click() for _ in range(args.repeats)]
    walls = [r["wall_s"] for r in runs]
    report = {"what": "Generalisation page, default comparison, click Evaluate -> script done (AppTest)",
              "target_s": TARGET_SECONDS, "median_wall_s": statistics.median(walls),
              "median_cpu_s": statistics.median(r["cpu_s"] for r in runs),
              "met": statistics.median(walls) <= TARGET_SECONDS,
              "threads": __import__("torch").get_num_threads(), "runs": runs,
              "load_average_1min_end": round(os.getloadavg()[0], 2)}
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
