"""Generalisation: an NTM and an LSTM trained on the same task, tested on longer sequences.

Presets → ``ntm.evaluation.evaluate`` at each length (cached per preset, length, sequences and
seed) → ``ntm.training_figures.generalisation_figure``; one long example through both models
→ ``examples_figure``.
"""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st
import torch

from ntm.evaluation import default_lengths, evaluate, max_length
from ntm.presets import BundleError, list_presets, load_preset
from ntm.training_figures import examples_figure, generalisation_figure

MAX_TEST_LENGTH = 1000
DEFAULT_NTM, DEFAULT_LSTM = "copy", "lstm-copy"
TRAIN_PAGE = "pages/train.py"
ROOT = Path(__file__).resolve().parent.parent


def catalogue() -> list[dict]:
    """Every preset's name, path, model type, task and config mtime (read from config.json only)."""
    found = []
    for path in list_presets():
        try:
            cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
            found.append({"name": path.name, "path": str(path), "model_type": cfg["model_type"],
                          "task": cfg["task"]["name"], "mtime": (path / "config.json").stat().st_mtime_ns})
        except (OSError, ValueError, KeyError, TypeError):
            continue                        # unreadable presets are reported where they are opened
    return found


@st.cache_resource(show_spinner=False, max_entries=16)
def load(path: str, mtime: int):
    """A preset's model, shared by every session; ``mtime`` makes a re-saved preset a new entry."""
    return load_preset(path)


@st.cache_data(show_spinner=False, max_entries=4000)
def evaluate_cached(path: str, mtime: int, length: int, sequences: int, seed: int) -> dict:
    preset = load(path, mtime)
    return evaluate(preset.model, preset.task, length, sequences, seed)


@st.cache_data(show_spinner=False, max_entries=200)
def example_cached(paths: tuple[tuple[str, int], ...], length: int, seed: int) -> dict:
    """One episode at ``length`` (from the first preset's task) through each preset's model:
    the scored steps of the target and of each output (sigmoid), as ``[T, W]`` lists."""
    presets = [load(p, m) for p, m in paths]
    batch = presets[0].task.sample(1, torch.Generator().manual_seed(seed), length=length)
    mask = batch.mask[0]
    outputs = {}
    with torch.no_grad():
        for preset in presets:
            logits, _, _ = preset.model(batch.inputs)
            outputs[preset.name] = torch.sigmoid(logits[0][mask]).tolist()
    return {"target": batch.targets[0][mask].tolist(), "outputs": outputs}


def parse_lengths(text: str, minimum: int) -> list[int]:
    try:
        values = sorted({int(v) for v in text.replace(",", " ").split()})
    except ValueError:
        raise ValueError(f"lengths must be whole numbers separated by commas; got {text!r}") from None
    if not values:
        raise ValueError("give at least one length")
    bad = [v for v in values if not minimum <= v <= MAX_TEST_LENGTH]
    if bad:
        raise ValueError(f"lengths must be between {minimum} and {MAX_TEST_LENGTH}; got {bad}")
    return values


st.title("Generalisation")
st.markdown(
    "The paper's central result (section 4.1, figures 4 and 5): trained on copies of up to 20 vectors, "
    "the NTM keeps copying far longer sequences, while an LSTM fails soon past the lengths it saw. "
    "Pick an NTM and an LSTM trained on the same task, and test both on longer sequences: the "
    "measure is **bit errors per sequence**, the output bits on the wrong side of ½, averaged over "
    "test sequences.")

presets = catalogue()
tasks = sorted({p["task"] for p in presets})
if not tasks:
    st.info("There are no presets yet: train an NTM and an LSTM on the Train page.")
    st.stop()
c_task, c_ntm, c_lstm = st.columns(3)
default_task = DEFAULT_NTM if DEFAULT_NTM in tasks else tasks[0]
task = c_task.selectbox("Task", tasks, index=tasks.index(default_task), key="gen_task")
ntms = [p["name"] for p in presets if p["task"] == task and p["model_type"] == "ntm"]
lstms = [p["name"] for p in presets if p["task"] == task and p["model_type"] == "lstm"]
ntm_name = c_ntm.selectbox("NTM preset", ntms, index=ntms.index(DEFAULT_NTM) if DEFAULT_NTM in ntms else 0,
                           key=f"gen_ntm_{task}") if ntms else None
lstm_name = c_lstm.selectbox("LSTM preset", lstms, index=lstms.index(DEFAULT_LSTM) if DEFAULT_LSTM in lstms else 0,
                             key=f"gen_lstm_{task}") if lstms else None
missing = [kind for kind, name in (("an NTM", ntm_name), ("an LSTM", lstm_name)) if name is None]
if missing:
    st.info(f"There is no preset of {' or '.join(missing)} trained on {task} yet: train one on the Train page. "
            f"What there is is shown below on its own.")
if (ROOT / TRAIN_PAGE).is_file() and missing:
    try:
        st.page_link(TRAIN_PAGE, label="Train a model", icon=":material/model_training:")
    except st.errors.StreamlitAPIException:
        pass                                # the page is not registered (e.g. this page run on its own)

chosen = {}                                  # label -> (catalogue entry, Preset)
for kind, name in (("NTM", ntm_name), ("LSTM", lstm_name)):
    if name is None:
        continue
    entry = next(p for p in presets if p["name"] == name and p["task"] == task)
    try:
        chosen[f"{kind} · {name}"] = (entry, load(entry["path"], entry["mtime"]))
    except BundleError as exc:
        st.error(f"Preset {name} cannot be opened: {exc}")
if not chosen:
    st.stop()
first = next(iter(chosen.values()))[1]
sizes = {(p.task.input_size, p.task.output_size) for _, p in chosen.values()}
if len(sizes) > 1:
    st.error("These presets read and write vectors of different widths (their task parameters differ), "
             "so they cannot be tested on the same sequences: choose presets made with the same task settings.")
    st.stop()
ntm_preset = next((p for label, (_, p) in chosen.items() if label.startswith("NTM")), None)
train_lo, train_hi = first.task.train_lengths
length_name = first.task.length_name

# ---- inputs ----
proposed = default_lengths(first.task, ntm_preset.model if ntm_preset else None) or [train_hi]
c_len, c_seq, c_seed, c_log = st.columns([3, 1, 1, 1])
lengths_text = c_len.text_input(f"Test lengths ({length_name})", value=", ".join(map(str, proposed)),
                                key=f"gen_lengths_{task}",
                                help=f"Trained on {train_lo}–{train_hi}. Defaults stop where the NTM's memory is full.")
sequences = c_seq.number_input("Sequences per length", min_value=1, max_value=1000, value=100, step=10,
                               key="gen_sequences")
seed = c_seed.number_input("Seed", min_value=0, max_value=2**31 - 1, value=1, step=1, key="gen_seed")
log_y = c_log.toggle("Log scale", value=False, key="gen_log")
try:
    lengths = parse_lengths(lengths_text, first.task.min_length)
except ValueError as exc:
    st.error(str(exc))
    st.stop()
limit = max_length(first.task, ntm_preset.model) if ntm_preset else None
if limit is not None and lengths[-1] > limit:
    st.caption(f"Lengths above {limit} need more slots than the NTM's memory has: errors there measure "
               f"the memory's size, not what the NTM learned.")

request = (tuple((e["path"], e["mtime"]) for e, _ in chosen.values()), tuple(lengths), int(sequences), int(seed))
if st.button("Evaluate", type="primary", icon=":material/play_arrow:", key="gen_evaluate"):
    st.session_state["gen_request"] = request
fresh = {}
if st.session_state.get("gen_request") == request:
    total, done = len(chosen) * len(lengths), 0
    bar = st.progress(0.0, text="Evaluating…")
    for label, (entry, _) in chosen.items():
        rows = []
        for length in lengths:
            bar.progress(done / total, text=f"Evaluating {label} at {length_name} {length} "
                                            f"({done + 1} of {total})…")
            rows.append(evaluate_cached(entry["path"], entry["mtime"], length, int(sequences), int(seed)))
            done += 1
        fresh[label] = rows
    bar.empty()

# ---- the curves ----
as_trained = {f"{label} (as trained)": p.metrics.get("generalisation") or []
              for label, (_, p) in chosen.items()}
as_trained = {k: v for k, v in as_trained.items() if v}
if not fresh:
    st.caption("Press **Evaluate** to test on these lengths." +
               (" Meanwhile, dashed: the tables saved when the presets were trained." if as_trained else ""))
elif as_trained and not st.checkbox("Also show the tables saved when the presets were trained (dashed)",
                                    key="gen_show_trained"):
    as_trained = {}
series = {**fresh, **as_trained}
if series:
    st.plotly_chart(generalisation_figure(series, train_lengths=(train_lo, train_hi), length_name=length_name,
                                          log_y=log_y, dashed=as_trained,
                                          same_color={k: k.removesuffix(" (as trained)") for k in as_trained}),
                    key="gen_curves")
if fresh:
    table = {length: {"length": length} for length in lengths}
    for label, rows in fresh.items():
        for row in rows:
            table[row["length"]][f"{label}: bit errors"] = round(row["bit_errors"], 3)
            table[row["length"]][f"{label}: perfect"] = f"{row['perfect']:.0%}"
    st.dataframe(list(table.values()), hide_index=True, key="gen_table")

# ---- one long example ----
st.subheader("One long example")
options = sorted(set(lengths) | {train_hi})
c_ex_len, c_ex_seed = st.columns([3, 1])
example_length = c_ex_len.select_slider(f"Example {length_name}", options=options, value=options[-1],
                                        key=f"gen_example_length_{task}")
example_seed = c_ex_seed.number_input("Example seed", min_value=0, max_value=2**31 - 1, value=0, step=1,
                                      key="gen_example_seed")
with st.spinner("Running the models…"):
    example = example_cached(tuple((e["path"], e["mtime"]) for e, _ in chosen.values()), int(example_length),
                             int(example_seed))
names = {p.name: label.split(" · ")[0] + f" ({p.name})" for label, (_, p) in chosen.items()}
st.plotly_chart(examples_figure(example["target"], {names[n]: out for n, out in example["outputs"].items()},
                                title=f"{length_name} {example_length} (trained on {train_lo}–{train_hi})"),
                key="gen_example")
