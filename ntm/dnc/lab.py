"""The Memory lab's library side: the DNC's memory management with every input set by hand.

The page (``pages/memory_lab.py``) holds only widgets; what it shows is computed here, on a batch
of one, by the model's own functions in ``ntm.dnc.addressing``, in the order ``access_step`` calls
them, so the lab cannot drift from the model:

    s = SCENARIOS["free"].settings            # or Settings(slots=6, usage=(...), order=(0, 1), ...)
    out = run(s)                              # retention -> usage -> allocation (and phi) -> write
                                              # weighting; the write order's precedence and links;
                                              # forward/backward, read content and read weightings
    s = advance(s, out)                       # the next step's inputs: u_t, the strongest write, reads
    s, warnings = read_link(query_params)     # a link's values, checked, one warning per value not used
    s.url()                                   # the query that gives ``s`` back (``scenario=`` if it is one)

What is set by hand (t is the step shown):

    usage            u_{t-1} [N]             how used each slot was
    order            slots written before t, oldest first, each fully (w = 1 on one slot); they
                     build L_{t-1} and p_{t-1}, and the last one is w^w_{t-1}
    reads            the slot each read head read at t-1 (w^{r,i}_{t-1} one-hot, or zero)
    free_gates       f^i_t, one per read head
    allocation_gate  g^a_t;  write_gate g^w_t
    write_key        the write key is slot ``write_key``'s content in a small seeded memory M
                     (the Addressing lab's, seed 0), so c^w_t = C(M, M[write_key], beta^w)
    read_keys        the same for each read head's content weighting c^{r,i}_t
    read_modes       pi^i_t, one (backward, content, forward) triple per head, normalised here

The memory's contents are not changed by the write (the lab shows where the write goes, not what
it writes), so the read content weighting looks up the same M. No Streamlit here; the tests are
``tests/test_dnc_lab.py``.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import torch

from ..addressing import Stage
from ..lab import seeded_memory, source_of
from . import addressing
from .addressing import TemporalLinkage

SLOTS = (3, 10)                    # N, smallest and largest
HEADS = (1, 3)                     # R
MAX_ORDER = 12                     # previous writes remembered by the lab
MAX_STRENGTH = 50.0                # beta^w and beta^r
MAX_MODE = 10.0                    # each raw read-mode weight, before normalising
WIDTH, MEMORY_SEED = 4, 0          # the seeded memory M the keys are taken from
MODES = ("backward", "content", "forward")
URL_PARAMS = ("scenario", "slots", "usage", "order", "read", "free", "ga", "gw", "wkey", "wbeta", "rkey", "rbeta",
              "modes")
_SHOWN = 40                        # characters of a rejected link value quoted back

# The link matrix is computed inside ``temporal_linkage`` (the precedence row of STAGES); the lab
# draws it as a stage of its own, as the Addressing lab draws the similarity K.
LINK = Stage("link", "link", "Temporal link matrix", "L", None,
             r"L_t[i, j] = (1 - w^w_t[i] - w^w_t[j])\, L_{t-1}[i, j] + w^w_t[i]\, p_{t-1}[j], \quad L_t[i, i] = 0",
             "linkage = temporal_linkage(TemporalLinkage(state.link, state.precedence), write)", "link",
             "L[i, j] is how much slot i was written right after slot j: the order of the writes.")


@dataclass(frozen=True)
class Settings:
    """Every hand-set input of one memory-management step (see the module docstring)."""

    slots: int = 6
    usage: tuple[float, ...] = ()                          # u_{t-1}; () means all zero
    order: tuple[int, ...] = ()                            # previous writes, oldest first
    reads: tuple[int | None, ...] = (None,)                # w^{r,i}_{t-1}: a slot, or None (no read)
    free_gates: tuple[float, ...] = (0.0,)                 # f^i_t
    allocation_gate: float = 1.0                           # g^a_t
    write_gate: float = 1.0                                # g^w_t
    write_key: int = 0                                     # k^w_t = M[write_key]
    write_strength: float = 10.0                           # beta^w_t
    read_keys: tuple[int, ...] = (0,)                      # k^{r,i}_t = M[read_keys[i]]
    read_strength: float = 10.0                            # beta^{r,i}_t, one for every head
    read_modes: tuple[tuple[float, float, float], ...] = ((0.0, 1.0, 0.0),)   # raw (backward, content, forward)

    def __post_init__(self) -> None:
        n = self.slots
        if not isinstance(n, (int, np.integer)) or not SLOTS[0] <= n <= SLOTS[1]:
            raise ValueError(f"the memory needs {SLOTS[0]} to {SLOTS[1]} slots; got {n}")
        usage = tuple(float(u) for u in self.usage) or (0.0,) * n
        object.__setattr__(self, "usage", usage)
        object.__setattr__(self, "read_modes", tuple(tuple(float(x) for x in m) for m in self.read_modes))
        r = len(self.reads)
        if not HEADS[0] <= r <= HEADS[1]:
            raise ValueError(f"the lab has {HEADS[0]} to {HEADS[1]} read heads; got {r}")
        if len(usage) != n:
            raise ValueError(f"usage needs one value per slot ({n}); got {len(usage)}")
        _check_range("usage", usage, 0.0, 1.0)
        if len(self.order) > MAX_ORDER:
            raise ValueError(f"the write order holds at most {MAX_ORDER} writes; got {len(self.order)}")
        _check_slots("write order", self.order, n)
        _check_slots("previous read", [s for s in self.reads if s is not None], n)
        for name in ("free_gates", "read_keys", "read_modes"):
            if len(getattr(self, name)) != r:
                raise ValueError(f"{name.replace('_', ' ')} need one entry per read head ({r}); "
                                 f"got {len(getattr(self, name))}")
        _check_range("free gates", self.free_gates, 0.0, 1.0)
        _check_range("allocation gate", [self.allocation_gate], 0.0, 1.0)
        _check_range("write gate", [self.write_gate], 0.0, 1.0)
        _check_slots("write key", [self.write_key], n)
        _check_slots("read key", self.read_keys, n)
        _check_range("write strength", [self.write_strength], 0.0, MAX_STRENGTH)
        _check_range("read strength", [self.read_strength], 0.0, MAX_STRENGTH)
        for m in self.read_modes:
            if len(m) != 3:
                raise ValueError("read modes need three weights per head: backward, content, forward")
            _check_range("read modes", m, 0.0, MAX_MODE)

    @property
    def heads(self) -> int:
        return len(self.reads)

    def url(self) -> dict[str, str]:
        """The query parameters that give these settings back: ``{"scenario": id}`` when they are
        a scenario's, else every value (see ``read_link`` for the format)."""
        for sid, scenario in SCENARIOS.items():
            if scenario.settings == self:
                return {"scenario": sid}
        return {"slots": str(self.slots), "usage": _floats(self.usage), "order": " ".join(map(str, self.order)),
                "read": ",".join("-" if s is None else str(s) for s in self.reads),
                "free": _floats(self.free_gates), "ga": _num(self.allocation_gate), "gw": _num(self.write_gate),
                "wkey": str(self.write_key), "wbeta": _num(self.write_strength),
                "rkey": ",".join(map(str, self.read_keys)), "rbeta": _num(self.read_strength),
                "modes": ";".join(_floats(m) for m in self.read_modes)}


def _num(x: float) -> str:
    return f"{float(x):.4g}"


def _floats(xs: Sequence[float]) -> str:
    return ",".join(_num(x) for x in xs)


def _check_range(name: str, values: Sequence[float], lo: float, hi: float) -> None:
    for v in values:
        if not lo <= v <= hi:          # also rejects nan
            raise ValueError(f"{name} must lie in [{lo:g}, {hi:g}]; got {v:g}")


def _check_slots(name: str, slots: Sequence[int], n: int) -> None:
    for s in slots:
        if not isinstance(s, (int, np.integer)) or not 0 <= s < n:
            raise ValueError(f"{name}: {s} is not a slot of this memory (0..{n - 1})")


# ---- the computation -----------------------------------------------------------------------------

class MemoryLab(NamedTuple):
    """One hand-set step, as NumPy arrays (N slots, R read heads, K = len(order) previous writes)."""

    memory: np.ndarray            # [N, W] the seeded memory M the keys come from
    write_content: np.ndarray     # [N] c^w_t
    prev_write: np.ndarray        # [N] w^w_{t-1}: the last write of the order
    prev_read: np.ndarray         # [R, N] w^{r,i}_{t-1}
    retention: np.ndarray         # [N] psi_t
    prev_usage: np.ndarray        # [N] u_{t-1}
    usage: np.ndarray             # [N] u_t
    phi: np.ndarray               # [N] slots from least to most used (ties: lowest slot first)
    allocation: np.ndarray        # [N] a_t
    write: np.ndarray             # [N] w^w_t
    links: np.ndarray             # [K + 1, N, N] L after each previous write, then L_t
    precedences: np.ndarray       # [K + 1, N] p after each previous write, then p_t
    prev_link: np.ndarray         # [N, N] L_{t-1}
    prev_precedence: np.ndarray   # [N] p_{t-1}
    link: np.ndarray              # [N, N] L_t
    precedence: np.ndarray        # [N] p_t
    forward: np.ndarray           # [R, N] f^i_t
    backward: np.ndarray          # [R, N] b^i_t
    read_content: np.ndarray      # [R, N] c^{r,i}_t
    read_modes: np.ndarray        # [R, 3] pi^i_t, normalised (backward, content, forward)
    modes_fell_back: tuple[bool, ...]  # a head's modes were all zero and became pure content
    read_weights: np.ndarray      # [R, N] w^{r,i}_t


def one_hot(slot: int | None, n: int) -> np.ndarray:
    """``[n]`` all weight on ``slot``, or zeros for None."""
    w = np.zeros(n)
    if slot is not None:
        w[slot] = 1.0
    return w


def normalised_modes(raw: Sequence[float]) -> tuple[np.ndarray, bool]:
    """Non-negative (backward, content, forward) weights -> (pi on the simplex, fell_back); an
    all-zero triple cannot be normalised and becomes pure content lookup (fell_back True)."""
    m = np.asarray(raw, dtype=float)
    if m.sum() <= 0:
        return np.array([0.0, 1.0, 0.0]), True
    return m / m.sum(), False


def sort_order(u: np.ndarray) -> np.ndarray:
    """phi_t = SortIndicesAscending(u_t), with ``allocation``'s own stable torch sort (ties: lowest slot first)."""
    return torch.sort(torch.as_tensor(u), stable=True).indices.numpy()


def run(s: Settings) -> MemoryLab:
    """Every weighting of one step, by ``ntm.dnc.addressing`` in ``access_step``'s order (float32, as the model)."""
    n = s.slots

    def batch(x) -> torch.Tensor:                      # [1, ...]: a batch of one
        return torch.as_tensor(np.asarray(x, dtype=np.float32)).unsqueeze(0)

    memory = seeded_memory(n, WIDTH, MEMORY_SEED)
    mem = batch(memory)                                                       # [1, N, W]
    prev_read = np.stack([one_hot(slot, n) for slot in s.reads])             # [R, N]
    prev_write = one_hot(s.order[-1] if s.order else None, n)
    pis, fell_back = zip(*(normalised_modes(m) for m in s.read_modes))

    # The write order before t, one full write at a time: L_{t-1}, p_{t-1}.
    linkage = TemporalLinkage(torch.zeros(1, n, n), torch.zeros(1, n))
    links, precedences = [], []
    for slot in s.order:
        linkage = addressing.temporal_linkage(linkage, batch(one_hot(slot, n)))
        links.append(linkage.link[0].numpy())
        precedences.append(linkage.precedence[0].numpy())

    write_content = addressing.content_weights(mem, mem[:, s.write_key], torch.tensor([[s.write_strength]]))
    psi = addressing.retention(batch(s.free_gates), batch(prev_read))
    u = addressing.usage(batch(s.usage), batch(prev_write), psi)
    alloc = addressing.allocation(u)
    write = addressing.write_weights(alloc, write_content, torch.tensor([[s.allocation_gate]]),
                                     torch.tensor([[s.write_gate]]))
    new = addressing.temporal_linkage(linkage, write)
    forward, backward = addressing.directional_weights(new.link, batch(prev_read))
    read_content = addressing.content_weights(mem, mem[:, list(s.read_keys)],
                                              torch.full((1, s.heads, 1), float(s.read_strength)))
    weights = addressing.read_weights(backward, read_content, forward, batch(np.stack(pis)))
    links.append(new.link[0].numpy())
    precedences.append(new.precedence[0].numpy())
    return MemoryLab(
        memory=memory, write_content=write_content[0].numpy(), prev_write=prev_write, prev_read=prev_read,
        retention=psi[0].numpy(), prev_usage=np.asarray(s.usage), usage=u[0].numpy(), phi=sort_order(u[0]),
        allocation=alloc[0].numpy(), write=write[0].numpy(), links=np.stack(links), precedences=np.stack(precedences),
        prev_link=linkage.link[0].numpy(), prev_precedence=linkage.precedence[0].numpy(), link=new.link[0].numpy(),
        precedence=new.precedence[0].numpy(), forward=forward[0].numpy(), backward=backward[0].numpy(),
        read_content=read_content[0].numpy(), read_modes=np.stack(pis), modes_fell_back=tuple(fell_back),
        read_weights=weights[0].numpy())


def write_order(s: Settings, out: MemoryLab) -> tuple[int, ...]:
    """The previous writes, then this step's if at least half a write went to one slot (that slot)."""
    return s.order + (int(np.argmax(out.write)),) if out.write.max() >= 0.5 else s.order


def advance(s: Settings, out: MemoryLab) -> Settings:
    """The next step's inputs after ``out = run(s)``: u_{t} becomes the previous usage (to 3
    decimals), the slot most written (if at least half a write went there) joins the write order,
    and each read head's previous read is the slot it read most (if at least half its weight).
    Gates, keys and modes stay. The lab keeps hard writes and reads, so this rounds soft ones."""
    order = write_order(s, out)[-MAX_ORDER:]
    reads = tuple(int(np.argmax(w)) if w.max() >= 0.5 else None for w in out.read_weights)
    usage = tuple(float(np.clip(round(float(u), 3), 0.0, 1.0)) for u in out.usage)
    return replace(s, usage=usage, order=order, reads=reads)


def stage_source(function: str) -> tuple[str, str]:
    """(``ntm/dnc/addressing.py:first-last``, body) of a function a stage row names, read from the
    module that defines it (``content_weights`` is the NTM's, ``ntm/addressing.py``)."""
    return source_of(function, inspect.getmodule(getattr(addressing, function)) or addressing)


# ---- scenarios a lecturer picks ------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    title: str
    lesson: str                   # what to look at, one or two sentences
    settings: Settings = field(default_factory=Settings)


_FULL = (1.0,) * 6
SCENARIOS: dict[str, Scenario] = {
    "empty": Scenario(
        "Empty memory fills in order",
        "Nothing is used, so every slot ties at u = 0 and allocation picks slot 0. Press 'Step on' "
        "to carry the usage forward and watch the writes fill slots 1, 2, 3, … in turn (u_t counts "
        "the writes up to t − 1, so a write shows in the usage one step later).",
        Settings()),
    "ties": Scenario(
        "Ties in usage go to the lowest slot",
        "Slots 1, 3 and 5 are all half used. The stable sort keeps them in slot order, so slot 1 "
        "gets 1 − u = 0.5, slot 3 what is left of that (0.25), slot 5 half again.",
        Settings(usage=(1.0, 0.5, 1.0, 0.5, 1.0, 0.5))),
    "full": Scenario(
        "A full memory has nowhere to allocate",
        "Every slot is used (u = 1), so the allocation weighting is zero everywhere and an "
        "allocating write writes nothing: the machine must free a slot first.",
        Settings(usage=_FULL, order=(0, 1, 2, 3, 4, 5))),
    "free": Scenario(
        "Free gate releases what was read",
        "The memory is full, but the read head read slot 2 last step and its free gate is 1: "
        "retention ψ drops slot 2 to 0, its usage follows, and the write is allocated there.",
        Settings(usage=_FULL, order=(0, 1, 2, 3, 4, 5), reads=(2,), free_gates=(1.0,))),
    "content": Scenario(
        "Content write overwrites instead of allocating",
        "Slots 3-5 are free, but the allocation gate is 0: the write goes where the write key "
        "points (slot 1's content), overwriting it, and slot 1 becomes the latest in the write order.",
        Settings(usage=(1.0, 1.0, 1.0, 0.0, 0.0, 0.0), order=(0, 1, 2), allocation_gate=0.0, write_key=1,
                 write_strength=30.0)),
    "forward": Scenario(
        "Reading forward along the write order",
        "Slots were written in the order 3, 0, 4, 1. The head read slot 0 last step; in forward mode "
        "it follows the link matrix to slot 4, the one written next. Nothing is written this step.",
        Settings(usage=(1.0, 1.0, 0.0, 1.0, 1.0, 0.0), order=(3, 0, 4, 1), reads=(0,), write_gate=0.0,
                 read_modes=((0.0, 0.0, 1.0),))),
    "both-ways": Scenario(
        "Two heads: one reads back, one forward",
        "The same write order 3, 0, 4, 1, both heads at slot 0: head 1 in backward mode moves to "
        "slot 3 (written before), head 2 in forward mode to slot 4 (written after).",
        Settings(usage=(1.0, 1.0, 0.0, 1.0, 1.0, 0.0), order=(3, 0, 4, 1), reads=(0, 0), free_gates=(0.0, 0.0),
                 write_gate=0.0, read_keys=(0, 0), read_modes=((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)))),
}
DEFAULT_SCENARIO = "empty"


# ---- links ---------------------------------------------------------------------------------------

def shown(value: Any) -> str:
    """A value from a link as quoted back in a message: one line, at most ``_SHOWN`` characters."""
    text = " ".join(str(value).split())
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN - 1] + "…")


def parse_order(text: str, n: int) -> tuple[tuple[int, ...] | None, str | None]:
    """'3 0 4 1' (or '3,0,4,1', '3-0-4-1', '3 → 0') -> slots, or (None, what is wrong); '' is no writes."""
    parts = [p for p in re.split(r"[\s,;.\-→>]+", str(text).strip()) if p]
    if len(parts) > MAX_ORDER:
        return None, f"it lists {len(parts)} writes; at most {MAX_ORDER} are kept"
    slots = []
    for p in parts:
        if not p.isdigit() or not 0 <= int(p) < n:
            return None, f"{shown(p)} is not a slot; write slot numbers 0..{n - 1} separated by spaces, e.g. '2 0 3'"
        slots.append(int(p))
    return tuple(slots), None


def _parse_numbers(raw: str, count: int, lo: float, hi: float, whole: bool = False,
                   none: bool = False) -> tuple[list | None, str | None]:
    parts = [p.strip() for p in str(raw).split(",")]
    out: list = []
    for p in parts:
        if none and p in ("-", "", "none"):
            out.append(None)
            continue
        try:
            x = float(p) if len(p) <= 20 else float("nan")
        except ValueError:
            return None, f"{shown(p)} is not a number"
        if whole and x != int(x):
            return None, f"{shown(p)} is not a whole number"
        if not lo <= x <= hi:
            return None, f"{shown(p)} is outside {lo:g}…{hi:g}"
        out.append(int(x) if whole else x)
    if len(out) != count:
        return None, f"it has {len(out)} value{'s' if len(out) != 1 else ''}, but {count} {'are' if count != 1 else 'is'} needed"
    return out, None


def read_link(params: Mapping[str, str]) -> tuple[Settings, list[str]]:
    """The settings a link asks for, with a warning for every value that cannot be used.

    ``scenario=<id>`` starts from a scenario (else the default one); the other parameters
    override single inputs: ``slots=6``, ``usage=0,0.5,1,...`` (one per slot), ``order=3 0 4 1``,
    ``read=2,-`` (one slot or ``-`` per read head; their number sets R), ``free=1,0``,
    ``ga=``/``gw=`` (gates), ``wkey=``/``wbeta=``, ``rkey=0,2``/``rbeta=``, and
    ``modes=0,0,1;1,0,0`` (backward, content, forward per head). A value that cannot be used
    keeps the scenario's (or, where the slots or heads changed, a neutral default).
    """
    warnings: list[str] = []

    def warn(name: str, problem: str) -> None:
        warnings.append(f"The link's {name} value {shown(params[name])} cannot be used: {problem}; "
                        "using the default instead.")

    sid = params.get("scenario")
    if sid is not None and sid not in SCENARIOS:
        warnings.append(f"The link's scenario {shown(sid)} is not one of the lab's ({', '.join(SCENARIOS)}); "
                        f"showing '{SCENARIOS[DEFAULT_SCENARIO].title}' instead.")
        sid = None
    base = SCENARIOS[sid or DEFAULT_SCENARIO].settings
    values = {f.name: getattr(base, f.name) for f in fields(Settings)}

    if "slots" in params:
        got, problem = _parse_numbers(params["slots"], 1, *SLOTS, whole=True)
        if problem:
            warn("slots", problem)
        elif got[0] != base.slots:
            n = got[0]
            values.update(slots=n, usage=(), order=tuple(s for s in base.order if s < n),
                          reads=tuple(s if s is not None and s < n else None for s in base.reads),
                          write_key=min(base.write_key, n - 1), read_keys=tuple(min(k, n - 1) for k in base.read_keys))
    n = values["slots"]
    if "read" in params:
        parts = str(params["read"]).split(",")
        got, problem = (None, f"it names {len(parts)} heads; the lab has {HEADS[0]} to {HEADS[1]}") \
            if not HEADS[0] <= len(parts) <= HEADS[1] else _parse_numbers(params["read"], len(parts), 0, n - 1,
                                                                          whole=True, none=True)
        if problem:
            warn("read", problem)
        else:
            r = len(got)
            if r != len(values["reads"]):
                values.update(free_gates=(0.0,) * r, read_keys=(0,) * r, read_modes=((0.0, 1.0, 0.0),) * r)
            values["reads"] = tuple(got)
    r = len(values["reads"])
    if "usage" in params:
        got, problem = _parse_numbers(params["usage"], n, 0.0, 1.0)
        if problem:
            warn("usage", problem)
        else:
            values["usage"] = tuple(got)
    if "order" in params:
        got, problem = parse_order(params["order"], n)
        if problem:
            warn("order", problem)
        else:
            values["order"] = got
    for name, key, count, lo, hi, whole in (("free", "free_gates", r, 0.0, 1.0, False),
                                            ("ga", "allocation_gate", 1, 0.0, 1.0, False),
                                            ("gw", "write_gate", 1, 0.0, 1.0, False),
                                            ("wkey", "write_key", 1, 0, n - 1, True),
                                            ("wbeta", "write_strength", 1, 0.0, MAX_STRENGTH, False),
                                            ("rkey", "read_keys", r, 0, n - 1, True),
                                            ("rbeta", "read_strength", 1, 0.0, MAX_STRENGTH, False)):
        if name in params:
            got, problem = _parse_numbers(params[name], count, lo, hi, whole=whole)
            if problem:
                warn(name, problem)
            else:
                values[key] = tuple(got) if key in ("free_gates", "read_keys") else got[0]
    if "modes" in params:
        heads = str(params["modes"]).split(";")
        parsed = [_parse_numbers(h, 3, 0.0, MAX_MODE) for h in heads] if len(heads) == r else None
        if parsed is None:
            warn("modes", f"it gives {len(heads)} heads' modes (separated by ';'), but there are {r} read heads")
        elif any(problem for _, problem in parsed):
            warn("modes", next(problem for _, problem in parsed if problem) + " (three weights per head: "
                 "backward, content, forward)")
        else:
            values["read_modes"] = tuple(tuple(got) for got, _ in parsed)
    return Settings(**values), warnings


__all__ = ["Settings", "MemoryLab", "Scenario", "SCENARIOS", "DEFAULT_SCENARIO", "LINK", "URL_PARAMS", "MODES",
           "SLOTS", "HEADS", "MAX_ORDER", "MAX_STRENGTH", "MAX_MODE", "run", "write_order", "advance", "one_hot",
           "normalised_modes", "sort_order", "stage_source", "parse_order", "read_link", "shown"]
