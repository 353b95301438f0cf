"""Generalisation: an NTM, a DNC and an LSTM trained on the same task, tested on longer sequences.

Presets → ``ntm.evaluation.evaluate`` at each length (cached per preset, length, sequences, seed and
repeats) → ``ntm.figures.training.generalisation_figure``, redrawn after every length so the curves
grow while the models run; few sequences at first (ready in seconds), **Refine** for more. Repeat copy
also varies the number of repeats: the (length, repeats) grid of ``generalisation_grid``, cell by cell,
→ ``repeats_grid_figure``. One long example through every model → ``examples_figure``.
"""

from __future__ import annotations

import streamlit as st

from ntm import evaluation
from ntm.figures.training import GRID_MEASURES, comparison_figure, examples_figure
from ntm.jobs import JobError, evaluations
from ntm.presets import BundleError, catalogue, load_preset
from pages._shared import page_link, plain

DEFAULT_TASK = "copy"
QUICK_SEQUENCES, REFINED_SEQUENCES = 20, 100     # sequences per length: the first look, then Refine


@st.cache_resource(show_spinner=False, max_entries=16)
def load(path: str, stamp: tuple):
    """A preset's model, shared by every session; ``stamp`` makes a re-saved preset a new entry."""
    return load_preset(path)


@st.cache_data(show_spinner=False, max_entries=4000)
def evaluate_cached(path: str, stamp: tuple, length: int, sequences: int, seed: int, repeats: int | None = None) -> dict:
    preset = load(path, stamp)          # with ``repeats``: one cell of ``evaluation.generalisation_grid``
    return evaluation.evaluate(preset.model, preset.task, length, sequences, seed, repeats=repeats)


@st.cache_data(show_spinner=False, max_entries=200)
def example_cached(paths: tuple[tuple[str, tuple], ...], length: int, seed: int) -> dict:
    presets = [load(p, stamp) for p, stamp in paths]
    return evaluation.example_outputs({p.name: p.model for p in presets}, presets[0].task, length, seed)


def refine() -> None:
    """on_click of Refine: more sequences per length (or grid cell), evaluated at once (the cached ones stay)."""
    st.session_state["gen_sequences"] = REFINED_SEQUENCES
    st.session_state["gen_refine"] = True


def draw_curves(slot, fresh: dict, as_trained: dict, figure_args: dict | None, key: str) -> None:
    """The comparison so far (``fresh``: label -> rows evaluated) beside the tables saved at training; for a
    task scored by cost against an optimum (``figure_args`` None: dynamic N-grams) its table, as it grows."""
    if figure_args is None and fresh:
        slot.dataframe(evaluation.comparison_table(fresh), hide_index=True, key=key)
    elif figure_args is not None and (figure := comparison_figure(fresh, as_trained, **figure_args)) is not None:
        slot.plotly_chart(figure, key=key)


# The background panel is a fragment: its buttons rerun only the fragment, so their messages are
# kept for it to draw (a flash would wait for the next full run).
def start_background(models: dict, lengths: list[int], sequences: int, seed: int) -> None:
    try:
        evaluations.start_evaluation(models, lengths, sequences, seed)
    except JobError as exc:
        st.session_state["gen_background_error"] = f"Could not start it: {exc}."


@st.fragment(run_every=2.0)
def background_panel(models: dict, lengths: list[int], sequences: int, seed: int, as_trained: dict,
                     figure_args: dict | None) -> None:
    """The background evaluation of this request: a start button, its progress and the curves so far,
    or its outcome."""
    found = evaluations.find_evaluation(models, lengths, sequences, seed)
    if "gen_background_error" in st.session_state:
        st.error(plain(st.session_state.pop("gen_background_error"), 600))
    partial = {}
    if found is None or found.state in ("cancelled", "failed", "interrupted"):
        if found is not None:
            why = f" ({found.message})" if found.message and found.message != found.state else ""
            st.warning(plain(f"The last background evaluation of this request was {found.state}{why}. "
                             f"It can be started again; the results it finished are not drawn.", 400))
        st.button("Evaluate in the background", type="primary", icon=":material/schedule:", key="gen_background",
                  on_click=start_background, args=(models, lengths, sequences, seed))
    else:
        partial = {label: rows for label, rows in found.results.items() if label in models}
        if found.active:
            c_bar, c_cancel = st.columns([5, 1])
            c_bar.progress(found.fraction, text=f"Evaluating in the background: {found.done} of {found.total} "
                                                f"done (drawn as they come)…")
            c_cancel.button("Cancel", key="gen_background_cancel", on_click=evaluations.cancel_evaluation,
                            args=(found.id,))
        elif st.session_state.get("gen_background_shown") != found.id:
            st.session_state["gen_background_shown"] = found.id
            st.rerun()                                  # the page's table of the results
    draw_curves(st.container(), partial, as_trained, figure_args, key="gen_curves")


st.title("Generalisation")
st.markdown(
    "The paper's central result (section 4.1, figures 4 and 5): trained on copies of up to 20 vectors, "
    "the NTM keeps copying far longer sequences, while an LSTM fails soon past the lengths it saw. "
    "Pick an NTM, an LSTM and a DNC (the NTM's successor, Graves et al. 2016) trained on the same task, and "
    "test them on longer sequences: the "
    "measure is **bit errors per sequence**, the output bits on the wrong side of ½, averaged over "
    "test sequences. Dynamic N-grams, whose bits stay random, is measured as the paper's figure 13 measures it: "
    "**cost in bits per sequence** against the Bayesian optimal estimator on the same sequences, and chance.")

presets = [e for e in catalogue() if e.usable]
tasks = sorted({e.task for e in presets if evaluation.family_of(e.model_type)})   # tasks with a comparable model
if not tasks:
    st.info("There are no presets yet: train an NTM, a DNC or an LSTM on the Train page.")
    st.stop()
c_task, *c_family = st.columns(1 + len(evaluation.FAMILIES))
default_task = DEFAULT_TASK if DEFAULT_TASK in tasks else tasks[0]
task = c_task.selectbox("Task", tasks, index=tasks.index(default_task), key="gen_task")
by_family = evaluation.presets_by_family(presets, task)
picked = {family: column.selectbox(f"{family} preset", ids, key=f"gen_{family.lower()}_{task}") if ids else None
         for column, (family, ids) in zip(c_family, by_family.items())}
missing = [family for family, name in picked.items() if name is None]
if missing:
    st.info(f"There is no {' or '.join(missing)} preset trained on {task} yet: train one on the Train page. "
            f"What there is is compared below.")
    page_link("train", "Train a model")

chosen = {}                                  # label -> (catalogue entry, Preset)
for family, name in picked.items():
    if name is None:
        continue
    entry = next(e for e in presets if e.id == name)
    try:
        chosen[f"{family} · {name}"] = (entry, load(str(entry.path), entry.stamp))
    except BundleError as exc:
        st.error(plain(f"Preset {name} cannot be opened: {exc}", 600))
if not chosen:
    st.stop()
first = next(iter(chosen.values()))[1]
sizes = {(p.task.input_size, p.task.output_size) for _, p in chosen.values()}
if len(sizes) > 1:
    st.error("These presets read and write vectors of different widths (their task parameters differ), "
             "so they cannot be tested on the same sequences: choose presets made with the same task settings.")
    st.stop()
# The memory model with the fewest slots bounds the useful test lengths.
with_memory = [p for _, p in chosen.values() if evaluation.memory_slots(p.model)]
ntm_preset = min(with_memory, key=lambda p: evaluation.memory_slots(p.model), default=None)
train_lo, train_hi = first.task.train_lengths
length_name = first.task.length_name
repeats_task = evaluation.takes_repeats(first.task)       # repeat copy: the number of repeats is a second axis
by_cost = evaluation.scored_by_cost(first.task)  # N-grams: a table of costs (no saved tables: other sequences)

# ---- inputs ----
proposed = evaluation.default_lengths(first.task, ntm_preset.model if ntm_preset else None) or [train_hi]
c_len, c_seq, c_seed, c_log = st.columns([3, 1, 1, 1])
if repeats_task:
    (c_len, c_rep), (rep_lo, rep_hi) = c_len.columns(2), evaluation.train_repeats(first.task)
    repeats_text = c_rep.text_input("Numbers of repeats", ", ".join(map(str, evaluation.default_repeats(first.task))),
                                    key=f"gen_repeats_{task}", help=f"Trained on {rep_lo}–{rep_hi}; empty: curves by length.")
lengths_text = c_len.text_input(f"Test lengths ({length_name})", value=", ".join(map(str, proposed)),
                                key=f"gen_lengths_{task}",
                                help=f"Trained on {train_lo}–{train_hi}. Defaults stop where the smallest memory is full.")
per = "cell" if repeats_task and repeats_text.strip() else "length"     # the grid's cells: one (length, repeats) each
sequences = c_seq.number_input(f"Sequences per {per}", min_value=1, max_value=1000, value=QUICK_SEQUENCES,
                               step=10, key="gen_sequences")
seed = c_seed.number_input("Seed", min_value=0, max_value=2**31 - 1, value=1, step=1, key="gen_seed")
log_y = c_log.toggle("Log scale", value=False, key="gen_log")
try:
    lengths = evaluation.parse_lengths(lengths_text, first.task)
    repeats = evaluation.parse_repeats(repeats_text) if repeats_task else []
except ValueError as exc:
    st.error(plain(f"Cannot evaluate: {exc}.", 400))
    st.stop()
limit = evaluation.max_length(first.task, ntm_preset.model) if ntm_preset else None
if limit is not None and lengths[-1] > limit:
    st.caption(f"Lengths above {limit} need more slots than {ntm_preset.name}'s memory has: errors there measure "
               f"the memory's size, not what the model learned.")

paths = tuple((str(e.path), e.stamp) for e, _ in chosen.values())
models = {label: (str(e.path), e.stamp) for label, (e, _) in chosen.items()}
request = (paths, tuple(lengths), tuple(repeats), int(sequences), int(seed))
if st.session_state.pop("gen_refine", False):       # Refine asked for more sequences: evaluate them now
    st.session_state["gen_request"] = request
work = evaluation.grid_work(lengths, int(sequences), repeats)
figure_args = None if by_cost else dict(train_lengths=(train_lo, train_hi), length_name=length_name, log_y=log_y)
if repeats:                                           # the grid's heatmaps: no log axis, a choice of colour
    figure_args = dict(train_lengths=(train_lo, train_hi), train_repeats=(rep_lo, rep_hi), lengths=lengths,
                       repeats=repeats, length_name=length_name, measure=st.radio(
                           "Colour the grid by", list(GRID_MEASURES), format_func=lambda m: GRID_MEASURES[m][0],
                           horizontal=True, key="gen_measure"))
as_trained = {f"{label} (as trained)": p.metrics.get("generalisation") or [] for label, (_, p) in chosen.items()}
as_trained = {k: v for k, v in as_trained.items() if v and not repeats and not by_cost}   # by length only
background = work > evaluation.MAX_WORK              # by length: offered in the background; a grid: refused
found = evaluations.find_evaluation(models, lengths, int(sequences), int(seed)) if background and not repeats else None
evaluating = not background and st.session_state.get("gen_request") == request
if not background:
    c_eval, c_refine = st.columns([1, 3])
    if c_eval.button("Evaluate", type="primary", icon=":material/play_arrow:", key="gen_evaluate"):
        st.session_state["gen_request"], evaluating = request, True
    if evaluating and int(sequences) < REFINED_SEQUENCES and \
            evaluation.grid_work(lengths, REFINED_SEQUENCES, repeats) <= evaluation.MAX_WORK:
        c_refine.button(f"Refine: {REFINED_SEQUENCES} sequences per {per}", icon=":material/tune:",
                        key="gen_refine_button", on_click=refine,
                        help=f"{int(sequences)} sequences per {per} give a first look in seconds; "
                             f"{REFINED_SEQUENCES} give steadier averages.")
if as_trained and (evaluating or (found is not None and found.results)) and \
        not st.checkbox("Also show the tables saved when the presets were trained (dashed)", key="gen_show_trained"):
    as_trained = {}
fresh = {}
if background and repeats:                            # a grid is not run in the background: say how to shrink it
    st.warning(f"This grid is too large to evaluate here: {evaluation.grid_too_large(lengths, repeats, int(sequences))}.")
elif background:
    st.info(f"{int(sequences):,} sequences at these lengths is {work:,} sequence-steps per model, more than one "
            f"click evaluates while you wait ({evaluation.MAX_WORK:,}). It can run in the background: its "
            f"results are drawn length by length as they come, and stay when you leave and come back.")
    background_panel(models, lengths, int(sequences), int(seed), as_trained, figure_args)
    if found is not None and found.state == "done":
        fresh = {label: rows for label, rows in found.results.items() if label in chosen}
else:
    status, slot = st.empty(), st.empty()
    if evaluating:
        total, done = len(chosen) * len(lengths) * max(len(repeats), 1), 0
        fresh = {label: [] for label in chosen}
        for length in lengths:                   # every model at one length, then the next: the curves grow
            for label, (entry, _) in chosen.items():
                for r in repeats or [None]:      # repeat copy: the grid's cells at this length, row by row
                    status.progress(done / total, text=f"Evaluating {label} at {length_name} {length}"
                                    f"{f', {r} repeats' if r else ''} ({done + 1} of {total})…")
                    fresh[label].append(evaluate_cached(str(entry.path), entry.stamp, length, int(sequences), int(seed), r))
                    done += 1
            draw_curves(slot, fresh, as_trained, figure_args, key=f"gen_curves_{done}")
        status.empty()
    draw_curves(slot, fresh, as_trained, figure_args, key="gen_curves")
if not fresh and not background:
    st.caption("Press **Evaluate** to test on these lengths." +
               (" Meanwhile, dashed: the tables saved when the presets were trained." if as_trained else ""))
if fresh and not by_cost:                          # by cost, draw_curves drew the table
    st.dataframe(evaluation.comparison_table(fresh), hide_index=True, key="gen_table")

# ---- one long example ----
st.subheader("One long example")
options = sorted(set(lengths) | {train_hi})
c_ex_len, c_ex_seed = st.columns([3, 1])
example_length = c_ex_len.select_slider(f"Example {length_name}", options=options, value=options[-1],
                                        key=f"gen_example_length_{task}")
example_seed = c_ex_seed.number_input("Example seed", min_value=0, max_value=2**31 - 1, value=0, step=1,
                                      key="gen_example_seed")
with st.spinner("Running the models…"):
    example = example_cached(paths, int(example_length), int(example_seed))
names = {p.name: label.split(" · ")[0] + f" ({p.name})" for label, (_, p) in chosen.items()}
st.plotly_chart(examples_figure(example["target"], {names[n]: out for n, out in example["outputs"].items()},
                                title=f"{length_name} {example_length} (trained on {train_lo}–{train_hi})"),
                key="gen_example")
