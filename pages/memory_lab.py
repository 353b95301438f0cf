"""Memory lab: how the DNC chooses where to write and where to read, with every input set by hand.

Widgets set the previous usage, the previous writes in order, where each read head read, the free,
allocation and write gates, the write and read keys and the read modes; ``ntm.dnc.lab.run`` runs
them through the model's own ``ntm.dnc.addressing`` functions; each row of
``ntm.dnc.addressing.STAGES`` (and the link matrix) is then shown with its equation, its line of
``access_step`` and the library source of the function that line calls, beside its result.
The inputs live in the URL (``?scenario=free``, or every value), so a link reproduces the view.
"""

from __future__ import annotations

import streamlit as st

from ntm import figures as F
from ntm.dnc import addressing, lab
from pages._shared import flash, plain, teacher_mode

K = "mlab_"
STAGE = {stage.key: stage for stage in addressing.STAGES}


@st.cache_data(show_spinner=False)
def library_source(name: str) -> tuple[str, str]:
    """(``ntm/dnc/addressing.py:first-last``, the body of the function a stage row names)."""
    return lab.stage_source(name)


def _show(s: lab.Settings) -> None:
    """Put ``s`` into the widgets (only before they are drawn, or in a callback)."""
    state = st.session_state
    state.update({K + "n": s.slots, K + "heads": s.heads, K + "order": " ".join(map(str, s.order)),
                  K + "ga": s.allocation_gate, K + "gw": s.write_gate, K + "wkey": s.write_key,
                  K + "wbeta": s.write_strength, K + "rbeta": s.read_strength})
    state.update({f"{K}u_{i}": u for i, u in enumerate(s.usage)})
    for h in range(s.heads):
        state.update({f"{K}read_{h}": s.reads[h], f"{K}free_{h}": s.free_gates[h], f"{K}rkey_{h}": s.read_keys[h]})
        state.update({f"{K}pi_{h}_{m}": x for m, x in enumerate(s.read_modes[h])})


def _pick_scenario() -> None:
    _show(lab.SCENARIOS[st.session_state[K + "scenario"]].settings)


def _step_on(s: lab.Settings, out: lab.MemoryLab) -> None:
    new = lab.advance(s, out)
    _show(new)
    written = f"slot {new.order[-1]} joins the write order" if new.order != s.order else "nothing was written"
    flash(f"Stepped on: u_t became the previous usage and {written}.", "info")


def _defaults(n: int, heads: int) -> None:
    """Keys for slots and heads that appeared since the last run; slot choices kept inside 0..n-1."""
    state = st.session_state
    for i in range(n):
        state.setdefault(f"{K}u_{i}", 0.0)
    for h in range(heads):
        new_head = {f"{K}read_{h}": None, f"{K}free_{h}": 0.0, f"{K}rkey_{h}": 0,
                    **{f"{K}pi_{h}_{m}": float(m == 1) for m in range(3)}}      # content lookup
        for key, value in new_head.items():
            state.setdefault(key, value)
        if state[f"{K}read_{h}"] is not None:
            state[f"{K}read_{h}"] = min(state[f"{K}read_{h}"], n - 1)
        state[f"{K}rkey_{h}"] = min(state[f"{K}rkey_{h}"], n - 1)
    state[K + "wkey"] = min(state[K + "wkey"], n - 1)


teacher = teacher_mode()
st.title("Memory lab")
st.markdown("Set the DNC's memory state and gates by hand and watch where it writes and reads: retention, "
            "usage, allocation, the write weighting, the write order's links and the read modes. Every result "
            "is computed by the same `ntm.dnc.addressing` functions the model uses.")

# Read the link on the first visit, and whenever the URL asks for another view than the one this page
# last wrote (a pasted link, an edited address); the sidebar navigation keeps the current view.
asked = {k: st.query_params[k] for k in lab.URL_PARAMS if k in st.query_params}
warnings: list[str] = []
if K + "n" not in st.session_state or (asked and asked != st.session_state.get(K + "url_written")):
    settings, warnings = lab.read_link(asked)
    _show(settings)
    sid = asked.get("scenario")
    st.session_state[K + "scenario"] = sid if sid in lab.SCENARIOS else lab.DEFAULT_SCENARIO
for w in warnings:
    st.warning(plain(w, 600))

c_pick, c_lesson = st.columns([1, 2], vertical_alignment="top")
with c_pick:
    sid = st.selectbox("Scenario", list(lab.SCENARIOS), key=K + "scenario", on_change=_pick_scenario,
                       format_func=lambda i: lab.SCENARIOS[i].title)
    st.button("Reset to this scenario", key=K + "reset", on_click=_pick_scenario)

with st.expander("Set the inputs by hand", expanded=not teacher):
    c_state, c_write, c_read = st.columns([1.3, 1, 1.3], gap="large")
    with c_state:
        st.markdown("**Before this step**")
        a, b = st.columns(2)
        n = a.number_input("Slots N", *lab.SLOTS, key=K + "n", persist_state="session")
        heads = b.number_input("Read heads R", *lab.HEADS, key=K + "heads", persist_state="session")
        _defaults(n, heads)
        st.caption("Usage u₍ₜ₋₁₎ of each slot, 0 (free) to 1 (used)")
        cols = st.columns(5)
        usage = [cols[i % 5].number_input(f"u[{i}]", 0.0, 1.0, step=0.1, format="%.2f", key=f"{K}u_{i}")
                 for i in range(n)]
        order_text = st.text_input("Previous writes, oldest first", key=K + "order",
                                   help="Slot numbers separated by spaces, e.g. '3 0 4 1'. Each is a full write to "
                                        "that slot; together they build L and p, and the last one is wʷ₍ₜ₋₁₎.")
    with c_write:
        st.markdown("**Write**")
        ga = st.slider(STAGE["write_weights"].parameter.title, 0.0, 1.0, step=0.05, key=K + "ga",
                       help="1: write to the free slot allocation finds; 0: write where the write key points.")
        gw = st.slider("gʷ, write gate", 0.0, 1.0, step=0.05, key=K + "gw", help="0 writes nothing.")
        wkey = st.selectbox("Write key kʷ: the content of", range(n), key=K + "wkey", format_func=lambda i: f"slot {i}")
        wbeta = st.slider(STAGE["write_content"].parameter.title, 0.0, lab.MAX_STRENGTH, step=0.5, key=K + "wbeta")
    with c_read:
        st.markdown("**Read heads**")
        rbeta = st.slider(STAGE["read_content"].parameter.title, 0.0, lab.MAX_STRENGTH, step=0.5, key=K + "rbeta")
        reads, free, rkeys, modes = [], [], [], []
        for h in range(heads):
            a, b, c = st.columns(3)
            reads.append(a.selectbox(f"Read {h + 1} read at t−1", [None, *range(n)], key=f"{K}read_{h}",
                                     format_func=lambda i: "nothing" if i is None else f"slot {i}"))
            free.append(b.number_input(f"free gate f{h + 1}", 0.0, 1.0, step=0.1, key=f"{K}free_{h}"))
            rkeys.append(c.selectbox("key: content of", range(n), key=f"{K}rkey_{h}", format_func=lambda i: f"slot {i}"))
            m = st.columns(3)
            modes.append(tuple(m[j].number_input(f"π {name}", 0.0, lab.MAX_MODE, step=0.5, key=f"{K}pi_{h}_{j}")
                               for j, name in enumerate(lab.MODES)))

order, problem = lab.parse_order(order_text, n)
if problem:
    st.error(f"The previous writes cannot be used: {plain(problem, 300)}.")
    st.stop()
settings = lab.Settings(slots=n, usage=tuple(usage), order=order, reads=tuple(reads), free_gates=tuple(free),
                        allocation_gate=ga, write_gate=gw, write_key=wkey, write_strength=wbeta,
                        read_keys=tuple(rkeys), read_strength=rbeta, read_modes=tuple(modes))
written = settings.url()                                   # the URL says exactly what is shown
for k in lab.URL_PARAMS:
    if k not in written:
        st.query_params.pop(k, None)
st.query_params.update(written)
st.session_state[K + "url_written"] = written
out = lab.run(settings)

with c_lesson:
    scenario = lab.SCENARIOS[sid]
    changed = "" if settings == scenario.settings else " (You have changed its inputs since.)"
    st.info(f"**{scenario.title}.** {scenario.lesson}{changed}")
    st.button("Step on", key=K + "step", on_click=_step_on, args=(settings, out), type="primary",
              help="Carry this step into the next: u_t becomes the previous usage, the slot written joins the "
                   "write order, and each head's previous read is the slot it read most.")
for h, fell_back in enumerate(out.modes_fell_back):
    if fell_back:
        st.warning(f"Read {h + 1}'s modes are all zero; using pure content lookup, π = (0, 1, 0), instead.")

# ---- each stage: heading, equation, note and source on the left; its result on the right --------
def _gates(values) -> str:
    return ", ".join(f"{v:.3g}" for v in values)


order_now = lab.write_order(settings, out)
steps = [f"write {k + 1}: slot {slot}" for k, slot in enumerate(settings.order)] + ["this step"]
rows = [
    (STAGE["write_content"], f"βʷ = {wbeta:g}, key = M[{wkey}]",
     [F.lab_bars(out.write_content, "write content weighting cʷ")]),
    (STAGE["retention"], f"f = {_gates(free)}",
     [F.lab_bars(out.retention, "retention ψ")]),
    (STAGE["usage"], None,
     [F.lab_bars(out.usage, "usage u (grey: before this step)", previous=out.prev_usage, previous_label="usage before")]),
    (STAGE["allocation"], None, [F.lab_allocation_figure(out.usage, out.allocation, out.phi)]),
    (STAGE["write_weights"], f"gᵃ = {ga:.3g}, gʷ = {gw:.3g}",
     [F.lab_write_figure(out.allocation, out.write_content, ga, gw)]),
    (STAGE["precedence"], None,
     [F.lab_bars(out.precedence, "precedence p (grey: before this step)", previous=out.prev_precedence,
                 previous_label="precedence before"), F.lab_precedence_figure(out.precedences, steps)]),
    (lab.LINK, None, [F.lab_link_figure(out.link, order_now)]),
    (STAGE["forward"], None, [F.lab_heads_figure(out.forward, "forward f (grey: previous read)", previous=out.prev_read)]),
    (STAGE["backward"], None,
     [F.lab_heads_figure(out.backward, "backward b (grey: previous read)", previous=out.prev_read)]),
    (STAGE["read_content"], f"βʳ = {rbeta:g}, keys = " + ", ".join(f"M[{k}]" for k in rkeys),
     [F.lab_heads_figure(out.read_content, "read content weighting cʳ")]),
    (STAGE["read_weights"], None,
     [F.lab_read_modes_figure(out.read_modes), F.lab_read_figure(out.backward, out.read_content, out.forward,
                                                                 out.read_modes)]),
]
for number, (stage, detail, figs) in enumerate(rows, start=1):
    left, right = st.columns([2, 3], vertical_alignment="center")
    with left:
        st.markdown(f"#### {number}. {stage.title}" + (f" ({detail})" if detail else ""))
        st.latex(stage.equation)
        st.caption(stage.note)
        where, source = library_source(stage.function)
        st.code(f"{stage.code}\n\n# {where}\n{source}", language="python", wrap_lines=True)
    with right:
        for i, fig in enumerate(figs):
            if teacher:
                F.enlarge(fig, 1.25)
            st.plotly_chart(fig, config=F.plotly_config(f"memory-lab-{stage.key}"), key=f"{K}fig_{stage.key}_{i}")
with st.expander("The memory M the keys are taken from"):
    st.plotly_chart(F.matrix_figure(out.memory, "Memory M (seeded; the lab does not change it)",
                                    height=120 + 28 * n), key=K + "fig_memory", config=F.plotly_config("memory-lab-M"))
st.caption("Weightings are drawn on a fixed 0–1 scale; hover a bar or cell for its exact value.")
