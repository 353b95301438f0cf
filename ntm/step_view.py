"""The Step-through view as data: what a link asks for, checked, and the trace it shows.

The page keeps its whole view in the URL (``?preset=&seed=&length=&t=&bits=``) so that a pasted
link reproduces it. This module turns those strings into a checked ``View`` (with one warning
per value it cannot use), encodes a user's own input sequence as text and back (the bits codec:
rows of ``0``/``1`` joined by ``.``), builds the episode a view stands for, and records its trace,
for any model type with a memory and heads (``STEPPABLE``: the NTM, the DNC and the sparse DNC), and
says which of the DNC's own panels a trace has (``dnc_panels``) and which stage-table rows explain
each. It knows nothing of Streamlit; the page only lays out what it returns.

    view, warnings = read_link(dict(st.query_params), catalogue_ids, default="copy")
    batch = episode(task, view.seed, view.length, view.bits)
    trace = record_view(preset, view)
    examples = failing_examples(preset.metrics)        # sequences its evaluation got wrong, to open
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch

from .presets import (MAX_NAME, USER_PREFIX, BundleError, Preset, PresetEntry, builtin_presets_dir,
                      find_preset, load_preset, user_presets_dir)
from .story import phase_at, phase_meta, phases
from .tasks import Batch, Task
from .trace import RecordedStage, Trace, record

DEFAULT_PRESET = "copy"
DEFAULT_SEED, DEFAULT_LENGTH = 0, 10
MAX_LENGTH = 64                        # longest input sequence; a copy episode has 2L + 1 steps
MAX_SEED = 2**31 - 1
URL_PARAMS = ("preset", "seed", "length", "t", "bits")   # the view, as the URL holds it
_SHOWN = 40                            # characters of a rejected value echoed back in a warning

Bits = tuple[str, ...]                 # one string of '0'/'1' per timestep

STEPPABLE = {"ntm": "NTM", "dnc": "DNC", "sdnc": "sparse DNC"}   # model types with memory and heads, by name
# The DNC's own panels, in page order: panel -> (heading, the stage-table rows it draws, by head kind and key).
DNC_PANELS = {
    "allocation": ("Which slot is written, and why", (("write", "usage"), ("write", "allocation"),
                                                      ("write", "write_weights"))),
    "link": ("The order of writes, remembered in the link matrix", (("write", "precedence"),)),
    "read_modes": ("How each read head reads: back, by content, or forward", (("read", "read_weights"),)),
    "free_gates": ("Free gates release what was read", (("write", "retention"),)),
}


@dataclass(frozen=True)
class View:
    """Everything that defines what the Step-through page shows.

    Attributes:
        preset: catalogue id of the preset.
        seed: seeds the random sequence (and the task's other random choices).
        length: the task's size knob; with ``bits``, the number of rows.
        bits: the user's own input sequence, or None for the seed's random one.
        t: the timestep, or None until the trace (and so its last step) is known.
    """

    preset: str = DEFAULT_PRESET
    seed: int = DEFAULT_SEED
    length: int = DEFAULT_LENGTH
    bits: Bits | None = None
    t: int | None = None

    def url(self) -> dict[str, str]:
        """The query parameters that reproduce this view (``length`` or ``bits``, never both)."""
        params = {"preset": self.preset, "seed": str(self.seed)}
        if self.bits is None:
            params["length"] = str(self.length)
        else:
            params["bits"] = encode_bits(self.bits)
        if self.t is not None:
            params["t"] = str(self.t)
        return params


def shown(value: Any) -> str:
    """A value from a link as it is quoted back in a message: one line, at most ``_SHOWN`` characters."""
    text = " ".join(str(value).split())
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN - 1] + "…")


# ---- the bits codec ------------------------------------------------------------------------------

def encode_bits(bits: Bits) -> str:
    """('0110', '1001') -> '0110.1001'."""
    return ".".join(bits)


def parse_bits(text: str, width: int) -> tuple[Bits | None, str | None]:
    """'0110.1001' (rows joined by '.' or '-') -> rows, or (None, what is wrong)."""
    rows = text.replace("-", ".").split(".")
    if not text or any(not r for r in rows):
        return None, "it has an empty row"
    bad = sorted({c for r in rows for c in r} - {"0", "1"})
    if bad:
        listed = ", ".join(shown(c) for c in bad[:5]) + (", …" if len(bad) > 5 else "")
        return None, f"it contains {listed}; only 0 and 1 are bits"
    if len(rows) > MAX_LENGTH:
        return None, f"it has {len(rows)} rows; at most {MAX_LENGTH} are allowed"
    widths = sorted({len(r) for r in rows})
    if widths != [width]:
        return None, f"its rows have {', '.join(map(str, widths[:5]))} bits, but this preset's vectors have {width}"
    return tuple(rows), None


def bits_from_rows(rows: Sequence[Sequence[Any]], width: int, columns: Sequence[str] = ()) -> tuple[Bits | None, str | None]:
    """An edited grid (rows of cells) -> rows of bits, or (None, what is wrong): every cell 0 or
    1, exactly ``width`` columns, 1..MAX_LENGTH rows. ``columns`` names the columns in messages."""
    if any(len(row) != width for row in rows):
        got = next(len(row) for row in rows if len(row) != width)
        return None, f"The grid has {got} columns, but this preset's vectors have {width} bits."
    if not 1 <= len(rows) <= MAX_LENGTH:
        return None, f"The sequence needs between 1 and {MAX_LENGTH} rows; it has {len(rows)}."
    out = []
    for i, row in enumerate(rows):
        cells = []
        for j, v in enumerate(row):
            col = columns[j] if j < len(columns) else f"bit {j}"
            if v is None or (isinstance(v, float) and v != v):
                return None, f"Row {i} has an empty cell in column '{col}'. Fill it with 0 or 1."
            try:
                x = float(v)
            except (TypeError, ValueError):
                x = None
            if x not in (0.0, 1.0):
                return None, f"Row {i}, column '{col}' holds {shown(v)}; bits must be 0 or 1."
            cells.append(str(int(x)))
        out.append("".join(cells))
    return tuple(out), None


def random_bits(task: Task, seed: int, length: int) -> Bits:
    """The input sequence the task draws for (seed, length), as rows of '0'/'1'."""
    batch = task.sample(1, torch.Generator().manual_seed(seed), length=length)
    seq = batch.inputs[0, :length, :task.sequence_width].to(torch.int64).tolist()
    return tuple("".join(str(b) for b in row) for row in seq)


# ---- links ---------------------------------------------------------------------------------------

def parse_int(name: str, raw: str | None, lo: int, hi: int) -> tuple[int | None, str | None]:
    """A whole number in lo..hi from a link's ``name=raw``, or (None, a warning)."""
    if raw is None:
        return None, None
    try:
        value = int(str(raw).strip()) if len(str(raw)) <= 20 else None
    except ValueError:
        value = None
    if value is None:
        return None, f"The link's {name} value {shown(raw)} is not a whole number; using the default."
    if not lo <= value <= hi:
        return None, f"The link's {name} value {value} is outside {lo}…{hi}; using the default."
    return value, None


def why_not(pid: str) -> str:
    """Why the catalogue id ``pid`` cannot be stepped through ('' when it is not a preset at all)."""
    entry = find_preset(pid)
    if entry is None:                     # not listed: a folder without a (readable) config.json?
        for root in (builtin_presets_dir(), user_presets_dir()):
            folder = root / pid.removeprefix(USER_PREFIX)
            if find_preset(folder.name) is None and pid and "/" not in pid and pid not in (".", "..") \
                    and len(pid) <= MAX_NAME and folder.is_dir():
                try:
                    load_preset(folder)
                except BundleError as exc:
                    return f": {exc}"
        return ""
    if entry.problem:
        return f": {entry.problem}"
    if entry.model_type not in STEPPABLE:
        return f": it is an {entry.model_type.upper()} model, which has no memory or heads to step through"
    return ""


def steppable(entry: PresetEntry) -> bool:
    """Whether the catalogue entry is offered: a model with memory and heads, or a broken preset
    (offered so that choosing it says what is wrong)."""
    return entry.model_type in STEPPABLE or not entry.usable


def unlisted_note(entries: Sequence[PresetEntry]) -> str:
    """'Not listed: lstm-copy (LSTM baselines have no memory or heads to step through).', or ''."""
    left = [e.id for e in entries if not steppable(e)]
    return (f"Not listed: {', '.join(left)} (LSTM baselines have no memory or heads to step through)."
            if left else "")


def read_link(params: Mapping[str, str], preset_ids: Sequence[str], default: str) -> tuple[View, list[str]]:
    """The view a link asks for, with a warning for every value that cannot be used.

    ``bits`` and ``t`` are kept as given (checked later, against the preset's vector width and the
    trace's length, by ``check_bits`` and ``check_t``); every other value is checked here.
    """
    warnings: list[str] = []
    preset = params.get("preset")
    if preset is not None and preset not in preset_ids:
        warnings.append(f"The link's preset {shown(preset)} is not an available NTM preset or DNC preset"
                        f"{why_not(preset)} "
                        f"(available: {', '.join(preset_ids) or 'none'}); showing {default} instead.")
        preset = None
    seed, problem = parse_int("seed", params.get("seed"), 0, MAX_SEED)
    warnings += [problem] if problem else []
    length, problem = parse_int("length", params.get("length"), 1, MAX_LENGTH)
    warnings += [problem] if problem else []
    view = View(preset or default, DEFAULT_SEED if seed is None else seed,
                DEFAULT_LENGTH if length is None else length)
    return view, warnings


def check_bits(raw: str, task: Task) -> tuple[Bits | None, str | None]:
    """A link's ``bits`` for this task, or (None, a warning: a random sequence is used instead)."""
    if task.sequence_width is None:
        return None, (f"The link has bits, but the {task.name} task's input cannot be typed; "
                      "using a random sequence.")
    bits, problem = parse_bits(raw, task.sequence_width)
    if problem:
        return None, f"The link's bits cannot be used: {problem}. Using a random sequence."
    return bits, None


def check_t(raw: str | None, last: int, current: int = 0) -> tuple[int, str | None]:
    """The timestep to show: a link's ``t`` within 0..last (else 0, with a warning), or without
    one the ``current`` t clamped to this run's 0..last."""
    if raw is None:
        return min(max(int(current), 0), last), None
    t, problem = parse_int("t", raw, 0, last)
    if problem:
        return 0, problem.replace(f"outside 0…{last}", f"outside this run (0…{last})").replace(
            "using the default", "starting at t = 0")
    return t, None


def step_caption(trace: Trace, t: int) -> str:
    """What timestep ``t`` of the trace is: 'of 20 · answer phase: the output is scored · 2 wrong bits'
    (the phase as the task names it: 'delimiter phase' at t = L of a copy run)."""
    last, phase = trace.steps - 1, phase_at(phases(trace), t).label
    if not bool(trace.mask[t]):
        return f"of {last} · {phase} phase: the output is not scored"
    errors = int(trace.bit_errors_per_step()[t])
    return f"of {last} · {phase} phase: the output is scored · {errors} wrong bit{'s' if errors != 1 else ''}"


def play_tick(t: int, last: int, last_tick: float, now: float, interval: float) -> tuple[int, float, bool]:
    """One timer tick while playing: the next t once ``interval`` (less a fifth, for timer jitter)
    has passed since ``last_tick``. Returns (t, last_tick, whether to keep playing)."""
    if now - last_tick >= 0.8 * interval:
        t, last_tick = min(t + 1, last), now
    return t, last_tick, t < last


def model_name(trace: Trace) -> str:
    """'NTM', 'DNC' or 'sparse DNC'."""
    return STEPPABLE.get(trace.model_type, trace.model_type.upper())


def dnc_panels(trace: Trace) -> list[str]:
    """The keys of ``DNC_PANELS`` this trace can draw, in page order (none for an NTM): the sparse DNC
    has no usage, free gates or retention (its allocation is least recently used) and records its
    link matrix only for small memories."""
    if trace.model_type not in ("dnc", "sdnc"):
        return []
    reads = [h for h in trace.heads if h.kind == "read"]
    gates = all(getattr(h, "free_gate", None) is not None for h in reads)
    has = {"allocation": True, "link": "link" in trace.extras, "read_modes": bool(reads),
           "free_gates": "retention" in trace.extras and gates}
    return [key for key in DNC_PANELS if has[key]]


def panel_stages(trace: Trace, panel: str) -> list[RecordedStage]:
    """The stage-table rows (label, symbol, equation, code, note) that explain a DNC panel, taken from
    the first head of each kind that has them; rows the model did not record are left out."""
    out = []
    for kind, key in DNC_PANELS[panel][1]:
        head = next((h for h in trace.heads if h.kind == kind), None)
        out += [s for s in (head.stages() if head is not None else []) if s.key == key]
    return out


# ---- a preset's rare failures ---------------------------------------------------------------------

RARE = 0.05                            # a failure rate up to this is "rare"


@dataclass(frozen=True)
class FailingExample:
    """A sequence the preset's own evaluation (metrics.json, ``ntm.evaluation``) found it gets wrong.

    Attributes:
        seed, length: the view that shows it (``View(preset, seed, length)``).
        bit_errors: its wrong bits.
        failed, sequences: how many of the sequences evaluated beside it failed, of how many.
        where: which evaluation: ``"at length 20"`` or ``"on its training distribution"``.
    """

    seed: int
    length: int
    bit_errors: int
    failed: int
    sequences: int
    where: str


def _rows(metrics: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(where, row) of every evaluation in a preset's metrics that counts its failures."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    dist = metrics.get("training_distribution")
    if isinstance(dist, Mapping):
        out.append(("on its training distribution", dist))
    for row in metrics.get("generalisation") or []:
        if isinstance(row, Mapping) and isinstance(row.get("length"), int):
            out.append((f"at length {row['length']}", row))
    return [(w, r) for w, r in out if isinstance(r.get("failed"), int) and isinstance(r.get("sequences"), int)]


def failing_examples(metrics: Mapping[str, Any], max_length: int = MAX_LENGTH) -> list[FailingExample]:
    """The failing sequences a preset's metrics list that this page can step through (length at most
    ``max_length``; a repeat count fixed by hand cannot be), the training distribution's first, then by
    length; each (seed, length) once."""
    out, seen = [], set()
    for where, row in _rows(metrics):
        for f in row.get("failures") or []:
            try:
                seed, length, errors = int(f["seed"]), int(f["length"]), int(f["bit_errors"])
            except (KeyError, TypeError, ValueError):
                continue
            if "repeats" in f or not 0 <= seed <= MAX_SEED or not 1 <= length <= max_length or (seed, length) in seen:
                continue
            seen.add((seed, length))
            out.append(FailingExample(seed, length, errors, int(row["failed"]), int(row["sequences"]), where))
    return out


def failure_at(examples: Sequence[FailingExample], seed: int, length: int) -> FailingExample | None:
    """The listed failure the view (seed, length) shows, if it is one."""
    return next((e for e in examples if (e.seed, e.length) == (seed, length)), None)


def failure_caption(example: FailingExample) -> str:
    """'Seed 12962, length 20 is one of this preset's rare failures: 1 of 1,000 sequences at length 20
    failed in its evaluation. This one has 70 wrong bits.'"""
    rare = "rare failures" if example.failed <= RARE * example.sequences else "failures"
    return (f"Seed {example.seed}, length {example.length} is one of this preset's {rare}: {example.failed:,} of "
            f"{example.sequences:,} sequences {example.where} failed in its evaluation. This one has "
            f"{example.bit_errors:,} wrong bit{'s' if example.bit_errors != 1 else ''}.")


def no_failure_note(metrics: Mapping[str, Any], max_length: int = MAX_LENGTH) -> str:
    """Why no failing example is offered: none was found (in how many sequences), the ones found are too
    long for this page, or the preset's metrics do not record failures (evaluated before they were)."""
    rows = _rows(metrics)
    evaluated = [metrics.get("training_distribution"), *(metrics.get("generalisation") or [])]
    if not rows and any(isinstance(r, Mapping) and "optimal_bits" in r for r in evaluated):
        return ("This task is scored by its cost against the optimal estimator, not by right or wrong "
                "sequences, so there are no failing examples: any seed shows how far the model is from the optimum.")
    if not rows:
        return ("This preset's evaluation does not list failing sequences; `python -m ntm evaluate --preset "
                "NAME --sequences 1000 --update-preset` records them.")
    failed = [(w, r) for w, r in rows if r["failed"]]
    if not failed:
        counts = sorted({r["sequences"] for _, r in rows})
        each = " and ".join(f"{n:,}" for n in counts)
        return (f"No failure was found in {each} sequences, on its training distribution and at every "
                f"length it was evaluated at.")
    listed = ", ".join(f"{r['failed']:,} of {r['sequences']:,} {w}" for w, r in failed[:3])
    return (f"Its failures ({listed}) are all longer than this page steps through ({max_length}); "
            f"`python -m ntm evaluate --failures` lists them and `python -m ntm trace` records one.")


# ---- the trace of a view -------------------------------------------------------------------------

def episode(task: Task, seed: int, length: int, bits: Bits | None) -> Batch:
    """One episode (batch of 1): drawn from the seed, with the user's bits as its input if given."""
    generator = torch.Generator().manual_seed(seed)
    if bits is None:
        return task.sample(1, generator, length=length)
    sequence = torch.tensor([[float(c) for c in row] for row in bits])      # [L, W]
    return task.with_sequence(sequence, generator)


def record_view(preset: Preset, view: View) -> Trace:
    """The recorded run of the preset's model (any model type that records: NTM, DNC, sparse DNC) on
    the view's episode, with the view in its meta."""
    length = len(view.bits) if view.bits is not None else view.length
    batch = episode(preset.task, view.seed, length, view.bits)
    meta = {"preset": view.preset, "task": preset.task.name, "seed": view.seed, "length": length,
            "bits": encode_bits(view.bits) if view.bits else None, "config": preset.config.get("model")}
    trace = record(preset.model, batch.inputs, batch.targets, batch.mask, meta=meta)
    trace.meta["phases"] = phase_meta(trace)          # the task's phases, which the figures shade
    return trace


__all__ = ["View", "DEFAULT_PRESET", "STEPPABLE", "DNC_PANELS", "steppable", "unlisted_note", "model_name",
           "dnc_panels", "panel_stages", "MAX_LENGTH", "MAX_SEED", "URL_PARAMS", "encode_bits", "parse_bits",
           "bits_from_rows", "random_bits", "parse_int", "read_link", "check_bits", "check_t", "why_not",
           "episode", "record_view", "shown", "step_caption", "play_tick", "FailingExample", "failing_examples",
           "failure_at", "failure_caption", "no_failure_note"]
