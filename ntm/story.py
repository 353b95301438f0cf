"""The story of a recorded run, in words a lecturer can point at: its phases and what to look at.

``phases(trace)`` splits the T timesteps into the episode's phases as its task names them (copy:
input, delimiter, answer; repeat copy adds the repeat count and the end marker; associative recall:
items, query, answer; dynamic N-grams: warm-up, predict). The task class reads them from the
episode's own marker channels and mask (``Task.phases``); the trace's ``meta["task"]`` says which
task it is, and without it the phases are the mask's runs (not scored: input, scored: answer).

``what_to_look_at(trace)`` gives one short line per timestep, computed from the trace's values, never
written in advance: during the input the write head's focus and how far it moves a step (the mean of
the argmax's step-to-step shift over the phase, on a circular memory), during the answer where the
read head starts and how it moves; for the DNC the allocation and write gates, and each read head's
read modes pi_t. Every line ends with what the head in focus does at t: its slot (argmax_i w_t[i])
and its sharpness (max_i w_t[i]).

    for phase in phases(trace):                  # Phase(name, start, stop, label), stop exclusive
        ...
    what_to_look_at(trace)[t]
    # 'input (t = 0–9): write 1 moves +1 slot every step. Now: write 1 at slot 3 (w = 1.00).'

Library code: no Streamlit, and the figures do not import it (they draw ``meta["phases"]``, which
``phase_meta`` writes).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .tasks import TASKS, Phase, Task
from .trace import HeadRecord, Trace

SHARP = 0.5           # a weighting whose largest weight is at least this is "focused" on its argmax
WRITES = 0.5          # a DNC step writes when sum_i w^w_t[i] >= this (as ntm.figures.dnc.WRITE_THRESHOLD)
SHOWN_SLOTS = 5       # slots listed in a line before "…"
DNC_TYPES = ("dnc", "sdnc")
MODES = ("backward", "content", "forward")        # pi_t[1..3], as recorded in DNCReadHead.read_modes


# ---- phases ------------------------------------------------------------------------------------

def task_class(trace: Trace) -> type[Task]:
    """The trace's task class (from ``meta["task"]``), or the ``Task`` base, whose phases come from the mask."""
    return TASKS.get(str(trace.meta.get("task")), Task)


def phases(trace: Trace) -> list[Phase]:
    """The episode's phases, in order, tiling 0..T (``stop`` exclusive)."""
    return task_class(trace).phases(trace.inputs, trace.mask)


def phase_meta(trace: Trace) -> list[dict[str, Any]]:
    """The phases as JSON-able dicts, for ``trace.meta["phases"]`` (what the figures shade)."""
    return [p._asdict() for p in phases(trace)]


def phase_at(spans: Sequence[Phase], t: int) -> Phase:
    """The phase holding timestep ``t``."""
    for p in spans:
        if p.start <= t < p.stop:
            return p
    raise ValueError(f"timestep t={t} is in no phase")


def _when(p: Phase) -> str:
    return f"t = {p.start}" if p.stop - p.start == 1 else f"t = {p.start}–{p.stop - 1}"


# ---- a head's focus -----------------------------------------------------------------------------

def focus(w: np.ndarray) -> tuple[int, float]:
    """(argmax_i w[i], max_i w[i]): the slot a weighting ``[N]`` points at, and how sharply."""
    w = np.asarray(w)
    i = int(w.argmax())
    return i, float(w[i])


def moves(weights: np.ndarray, start: int, stop: int) -> list[int]:
    """The focus's shift from step t-1 to t for start < t < stop where both steps are focused
    (max w >= ``SHARP``), on the circular memory of N slots: in -N/2..N/2-1."""
    w = np.asarray(weights)
    n, out = w.shape[1], []
    for t in range(start + 1, stop):
        (a, wa), (b, wb) = focus(w[t - 1]), focus(w[t])
        if wa >= SHARP and wb >= SHARP:
            out.append((b - a + n // 2) % n - n // 2)
    return out


def mean_shift(weights: np.ndarray, start: int, stop: int) -> float | None:
    """Mean of ``moves`` over the steps start..stop-1, or None when no two consecutive steps are focused."""
    m = moves(weights, start, stop)
    return float(np.mean(m)) if m else None


def _slots(slots: Sequence[int]) -> str:
    distinct = [s for k, s in enumerate(slots) if not k or slots[k - 1] != s]
    shown = ", ".join(map(str, distinct[:SHOWN_SLOTS]))
    return shown + (", …" if len(distinct) > SHOWN_SLOTS else "")


def _motion(head: HeadRecord, p: Phase) -> str:
    """How the head's focus moves over a phase: 'write 1 moves +1 slot every step', or its most
    common move and the others: 'read 1 moves +1 slot a step (10 of 14 moves; also -2 ×4)'. Only
    steps where the head is focused count ('while focused' says when some were not)."""
    m = moves(head.weights, p.start, p.stop)
    if not m:
        return f"{head.name} is not focused on one slot"
    partly = " while focused" if len(m) < p.stop - p.start - 1 else ""
    values, counts = np.unique(m, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    d, c = int(values[order[0]]), int(counts[order[0]])

    def step(x: int) -> str:
        return "stays on its slot" if x == 0 else f"moves {x:+d} slot{'s' if abs(x) != 1 else ''}"
    if c == len(m):
        return f"{head.name} {step(d)}" + ("" if d == 0 else " every step") + partly
    others = ", ".join(f"{int(values[k]):+d} ×{int(counts[k])}" for k in order[1:4])
    more = ", …" if len(order) > 4 else ""
    return f"{head.name} {step(d)}{'' if d == 0 else ' a step'} ({c} of {len(m)} moves{partly}; also {others}{more})"


def _now(head: HeadRecord, t: int) -> str:
    """'write 1 at slot 3 (w = 1.00)' or 'read 1 spread out (max w = 0.21)'."""
    i, w = focus(head.weights[t])
    return f"{head.name} at slot {i} (w = {w:.2f})" if w >= SHARP else f"{head.name} spread out (max w = {w:.2f})"


def _first_written(writer: HeadRecord | None, slot: int, before: int) -> int | None:
    """The first step < ``before`` whose write weighting was focused on ``slot``, or None."""
    if writer is None:
        return None
    for k in range(before):
        i, w = focus(writer.weights[k])
        if i == slot and w >= SHARP:
            return k
    return None


# ---- what to look at -------------------------------------------------------------------------------

def _heads(trace: Trace) -> tuple[HeadRecord | None, HeadRecord | None]:
    write = next((h for h in trace.heads if h.kind == "write"), None)
    read = next((h for h in trace.heads if h.kind == "read"), None)
    return write, read


def _ntm_summary(trace: Trace, p: Phase, scored: bool) -> str:
    """What a phase of an NTM run shows, over the whole phase."""
    write, read = _heads(trace)
    if p.stop - p.start == 1:                     # one step: where every head is
        return " · ".join(_now(h, p.start) for h in (write, read) if h is not None)
    head = (read if scored else write) or write or read
    text = _motion(head, p)
    if scored and head is read:
        i, w = focus(read.weights[p.start])
        if w >= SHARP:
            k = _first_written(write, i, p.start)
            text = f"{read.name} starts at slot {i}" + (f" (written at t = {k})" if k is not None else "") \
                + f"; {text.removeprefix(read.name + ' ')}"
    return text


def _dnc_summary(trace: Trace, p: Phase, scored: bool) -> str:
    """What a phase of a DNC run shows: on input the write head's gates and the slots it writes, on the
    answer each read head's mean read modes."""
    write, read = _heads(trace)
    span = slice(p.start, p.stop)
    if scored and read is not None:
        pi = np.asarray(read.read_modes[span]).mean(axis=0)
        mode = MODES[int(pi.argmax())]
        slots = [focus(w)[0] for w in read.weights[span] if focus(w)[1] >= SHARP]
        return (f"{read.name} reads mostly {mode} (mean π: " + " · ".join(
            f"{m[0]} {v:.2f}" for m, v in zip(MODES, pi)) + ")" + (f", slot{'s' if len(set(slots)) > 1 else ''} {_slots(slots)}" if slots else ""))
    if write is None:
        return ""
    ga = float(np.mean(write.allocation_gate[span]))
    gw = float(np.mean(write.write_gate[span]))
    w = np.asarray(write.weights[span])
    written = [focus(x)[0] for x in w if float(x.sum()) >= WRITES]
    how = "by allocation" if ga >= 0.5 else "by content"
    return (f"{write.name} writes {how} (mean gᵃ = {ga:.2f}, gʷ = {gw:.2f})"
            + (f" to slot{'s' if len(set(written)) > 1 else ''} {_slots(written)}" if written
               else ", but hardly at all"))


def _dnc_now(trace: Trace, t: int, scored: bool) -> str:
    write, read = _heads(trace)
    if scored and read is not None:
        pi = np.asarray(read.read_modes[t])
        return f"{_now(read, t)}, mostly {MODES[int(pi.argmax())]} (π = {float(pi.max()):.2f})"
    if write is None:
        return ""
    w = np.asarray(write.weights[t])
    if float(w.sum()) < WRITES:
        return f"{write.name} hardly writes (Σwʷ = {float(w.sum()):.2f})"
    i = int(w.argmax())
    usage = trace.extras.get("usage")
    before = f", its usage before: {float(usage[t - 1][i]):.2f}" if usage is not None and t >= 1 else ""
    return f"{write.name} writes slot {i} (wʷ = {float(w[i]):.2f}{before})"


def what_to_look_at(trace: Trace) -> list[str]:
    """One line per timestep t (``[T]``): the phase holding t, what that whole phase shows, and what the
    head in focus does at t, all computed from the trace:

        'input (t = 0–9): write 1 moves +1 slot every step. Now: write 1 at slot 3 (w = 1.00).'
        'answer (t = 11–20): read 1 starts at slot 0 (written at t = 0); moves +1 slot every step. Now: …'

    The head in focus is the write head in unscored phases and the read head in scored ones (the first
    of each kind). Lines of one phase share their first part."""
    spans, mask = phases(trace), np.asarray(trace.mask, dtype=bool)
    dnc = trace.model_type in DNC_TYPES
    write, read = _heads(trace)
    lines = []
    for p in spans:
        scored = bool(mask[p.start:p.stop].any())
        summary = (_dnc_summary if dnc else _ntm_summary)(trace, p, scored)
        for t in range(p.start, p.stop):
            if dnc:
                now = _dnc_now(trace, t, scored)
            else:
                head = (read if scored else write) or write or read
                now = _now(head, t) if head is not None else ""
            single = p.stop - p.start == 1 and not dnc
            lines.append(f"{p.label} ({_when(p)}): {summary}." + ("" if single or not now else f" Now: {now}."))
    return lines


__all__ = ["Phase", "SHARP", "task_class", "phases", "phase_meta", "phase_at", "focus", "moves", "mean_shift",
           "what_to_look_at"]
