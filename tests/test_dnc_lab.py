"""The Memory lab's library side (ntm.dnc.lab): hand-set settings checked, every weighting computed
by ntm.dnc.addressing and equal to the float64 reference (ntm.dnc_reference), the scenarios doing
what their lessons say, and a link's values read back with a warning for each one not used."""

import numpy as np
import pytest

from ntm import dnc_reference as ref
from ntm.dnc import addressing, lab
from ntm.dnc.lab import SCENARIOS, Settings

ATOL = 1e-6


def reference_step(s: Settings) -> dict[str, np.ndarray]:
    """The same step by the float64 reference, one equation at a time."""
    n = s.slots
    memory = lab.seeded_memory(n, lab.WIDTH, lab.MEMORY_SEED).astype(np.float64)
    prev_read = np.stack([lab.one_hot(r, n) for r in s.reads])
    prev_write = lab.one_hot(s.order[-1] if s.order else None, n)
    link, prec = np.zeros((n, n)), np.zeros(n)
    for slot in s.order:
        w = lab.one_hot(slot, n)
        link, prec = ref.link(link, prec, w), ref.precedence(prec, w)
    c_w = ref.content_weights(memory, memory[s.write_key], s.write_strength)
    psi = ref.retention(np.asarray(s.free_gates), prev_read)
    u = ref.usage(np.asarray(s.usage), prev_write, psi)
    a = ref.allocation(u)
    w = ref.write_weights(a, c_w, s.allocation_gate, s.write_gate)
    new_link, new_prec = ref.link(link, prec, w), ref.precedence(prec, w)
    fwd = np.stack([ref.forward_weights(new_link, prev_read[h]) for h in range(s.heads)])
    bwd = np.stack([ref.backward_weights(new_link, prev_read[h]) for h in range(s.heads)])
    c_r = np.stack([ref.content_weights(memory, memory[k], s.read_strength) for k in s.read_keys])
    pi = np.stack([lab.normalised_modes(m)[0] for m in s.read_modes])
    w_r = np.stack([ref.read_weights(bwd[h], c_r[h], fwd[h], pi[h]) for h in range(s.heads)])
    return {"write_content": c_w, "retention": psi, "usage": u, "allocation": a, "write": w, "prev_link": link,
            "prev_precedence": prec, "link": new_link, "precedence": new_prec, "forward": fwd, "backward": bwd,
            "read_content": c_r, "read_weights": w_r}


HAND_SET = Settings(slots=7, usage=(0.9, 0.2, 0.5, 0.2, 1.0, 0.0, 0.7), order=(4, 0, 6, 2, 0),
                    reads=(2, None, 6), free_gates=(0.6, 1.0, 0.3), allocation_gate=0.7, write_gate=0.8,
                    write_key=3, write_strength=4.0, read_keys=(1, 5, 6), read_strength=7.5,
                    read_modes=((1.0, 1.0, 2.0), (0.0, 0.0, 0.0), (3.0, 0.0, 1.0)))


@pytest.mark.parametrize("settings", [HAND_SET] + [s.settings for s in SCENARIOS.values()],
                         ids=["hand-set"] + list(SCENARIOS))
def test_every_weighting_equals_the_float64_reference(settings):
    out, want = lab.run(settings), reference_step(settings)
    for name, value in want.items():
        np.testing.assert_allclose(getattr(out, name), value, atol=ATOL, err_msg=name)
    np.testing.assert_allclose(out.links[-1], out.link)
    assert out.links.shape == (len(settings.order) + 1, settings.slots, settings.slots)


def test_the_sort_order_is_the_allocations_own_with_ties_to_the_lowest_slot():
    out = lab.run(SCENARIOS["ties"].settings)
    assert out.phi.tolist() == [1, 3, 5, 0, 2, 4]
    np.testing.assert_allclose(out.allocation, [0, 0.5, 0, 0.25, 0, 0.125], atol=ATOL)
    # a[phi[j]] = (1 - u[phi[j]]) prod_{i<j} u[phi[i]], read off phi
    u = out.usage
    for j, slot in enumerate(out.phi):
        assert out.allocation[slot] == pytest.approx((1 - u[slot]) * np.prod(u[out.phi[:j]]), abs=ATOL)


def test_the_invariants_hold_for_the_hand_set_step():
    out = lab.run(HAND_SET)
    assert ((0 <= out.usage) & (out.usage <= 1)).all() and out.allocation.sum() <= 1 + ATOL
    assert out.write.sum() <= 1 + ATOL and out.precedence.sum() <= 1 + ATOL
    assert np.diag(out.link).tolist() == [0.0] * 7
    assert (out.link.sum(axis=0) <= 1 + ATOL).all() and (out.link.sum(axis=1) <= 1 + ATOL).all()
    np.testing.assert_allclose(out.read_modes.sum(axis=1), 1.0, atol=ATOL)
    assert out.modes_fell_back == (False, True, False)            # head 2's modes were all zero
    np.testing.assert_allclose(out.read_modes[1], [0, 1, 0])


@pytest.mark.parametrize("sid,written,read", [
    ("empty", 0, None), ("free", 2, None), ("content", 1, None), ("forward", None, [4]), ("both-ways", None, [3, 4])])
def test_each_scenario_does_what_its_lesson_says(sid, written, read):
    s = SCENARIOS[sid].settings
    out = lab.run(s)
    if written is None:
        assert out.write.max() == 0.0
    else:
        assert int(np.argmax(out.write)) == written and out.write[written] > 0.9
    if read is not None:
        assert [int(np.argmax(w)) for w in out.read_weights] == read and out.read_weights.max(axis=1).min() > 0.99


def test_a_full_memory_allocates_nothing_until_a_free_gate_releases_a_read_slot():
    full = lab.run(SCENARIOS["full"].settings)
    assert full.allocation.max() == 0.0 and full.write.max() == 0.0
    freed = lab.run(SCENARIOS["free"].settings)
    assert freed.retention[2] == 0.0 and freed.usage[2] == 0.0 and freed.allocation[2] == 1.0
    assert freed.phi[0] == 2


def test_a_content_write_goes_to_a_used_slot_while_free_slots_wait():
    out = lab.run(SCENARIOS["content"].settings)
    assert int(np.argmax(out.allocation)) == 3                   # where allocation would have written
    assert lab.write_order(SCENARIOS["content"].settings, out) == (0, 1, 2, 1)
    assert out.link[1, 2] > 0.9                                   # slot 1 now comes right after slot 2


def test_stepping_on_fills_an_empty_memory_in_slot_order():
    s = SCENARIOS["empty"].settings
    for _ in range(5):
        s = lab.advance(s, lab.run(s))
    assert s.order == (0, 1, 2, 3, 4)
    assert s.usage == (1.0, 1.0, 1.0, 1.0, 0.0, 0.0)             # the last write counts one step later
    out = lab.run(s)
    assert int(np.argmax(out.write)) == 5 and out.link[1, 0] == pytest.approx(1.0)


def test_stepping_on_keeps_the_write_order_bounded_and_ignores_weak_writes():
    s = Settings(order=tuple(i % 6 for i in range(lab.MAX_ORDER)), write_gate=0.4)
    after = lab.advance(s, lab.run(s))
    assert after.order == s.order                                 # 0.4 of a write is not a hard write
    s = Settings(order=tuple(i % 6 for i in range(lab.MAX_ORDER)))
    assert len(lab.advance(s, lab.run(s)).order) == lab.MAX_ORDER


@pytest.mark.parametrize("kwargs,message", [
    (dict(slots=2), "3 to 10 slots"), (dict(slots=11), "3 to 10 slots"),
    (dict(usage=(0.5,) * 5), "one value per slot"), (dict(usage=(1.5,) + (0.0,) * 5), r"usage must lie in \[0, 1\]"),
    (dict(usage=(float("nan"),) + (0.0,) * 5), "usage must lie"),
    (dict(order=(6,)), "write order: 6 is not a slot"), (dict(order=(0,) * 13), "at most 12"),
    (dict(reads=()), "1 to 3 read heads"), (dict(reads=(0, 1)), "free gates need one entry per read head"),
    (dict(free_gates=(2.0,)), "free gates must lie"), (dict(allocation_gate=-0.1), "allocation gate"),
    (dict(write_key=9), "write key: 9"), (dict(write_strength=60.0), "write strength"),
    (dict(read_modes=((1.0, 2.0),)), "three weights"), (dict(read_modes=((-1.0, 0.0, 1.0),)), "read modes must lie"),
])
def test_settings_out_of_range_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Settings(**kwargs)


def test_a_scenario_round_trips_as_its_name_and_custom_settings_as_values():
    for sid, scenario in SCENARIOS.items():
        assert scenario.settings.url() == {"scenario": sid}
        assert lab.read_link(scenario.settings.url()) == (scenario.settings, [])
    params = HAND_SET.url()
    assert "scenario" not in params and set(params) <= set(lab.URL_PARAMS)
    assert params["order"] == "4 0 6 2 0" and params["read"] == "2,-,6" and params["modes"] == "1,1,2;0,0,0;3,0,1"
    assert lab.read_link(params) == (HAND_SET, [])


def test_a_link_overrides_single_inputs_of_a_scenario():
    s, warnings = lab.read_link({"scenario": "forward", "modes": "1,0,0"})
    assert not warnings and s.read_modes == ((1.0, 0.0, 0.0),) and s.order == (3, 0, 4, 1)
    s, warnings = lab.read_link({"slots": "4", "read": "1,-"})
    assert not warnings and s.slots == 4 and s.usage == (0.0,) * 4 and s.reads == (1, None)
    assert s.free_gates == (0.0, 0.0) and len(s.read_modes) == 2
    s, warnings = lab.read_link({"scenario": "forward", "slots": "4"})     # the write order loses slot 4
    assert not warnings and s.order == (3, 0, 1)


@pytest.mark.parametrize("params,fragment", [
    ({"scenario": "nope"}, "scenario 'nope' is not one of the lab's"),
    ({"slots": "twelve"}, "'twelve' is not a number"),
    ({"slots": "40"}, "'40' is outside 3…10"),
    ({"slots": "4.5"}, "not a whole number"),
    ({"usage": "0,0.5"}, "it has 2 values, but 6 are needed"),
    ({"usage": "x"}, "'x' is not a number"),
    ({"ga": "1,0"}, "it has 2 values, but 1 is needed"),
    ({"usage": "0,0,0,0,0,7"}, "'7' is outside 0…1"),
    ({"usage": "0,0,0,0,0,nan"}, "outside 0…1"),
    ({"order": "0 1 x"}, "'x' is not a slot"),
    ({"order": "0 9"}, "'9' is not a slot"),
    ({"read": "1,2,3,4"}, "it names 4 heads"),
    ({"free": "2"}, "'2' is outside 0…1"),
    ({"ga": "-1"}, "outside 0…1"),
    ({"wkey": "6"}, "'6' is outside 0…5"),
    ({"rbeta": "1e9"}, "outside 0…50"),
    ({"modes": "1,0"}, "three weights per head"),
    ({"modes": "1,0,0;0,1,0"}, "2 heads' modes"),
    ({"usage": "<b>" + "9" * 100}, "…"),
])
def test_bad_link_values_warn_and_fall_back(params, fragment):
    s, warnings = lab.read_link(params)
    assert len(warnings) == 1 and fragment in warnings[0], warnings
    assert "default" in warnings[0] or "instead" in warnings[0]
    assert s == SCENARIOS[lab.DEFAULT_SCENARIO].settings         # nothing else changed
    assert len(warnings[0]) < 300


def test_parse_order_accepts_the_usual_separators():
    for text in ("3 0 4 1", "3,0,4,1", "3-0-4-1", "3 → 0 → 4 → 1", " 3  0 4 1 "):
        assert lab.parse_order(text, 6) == ((3, 0, 4, 1), None)
    assert lab.parse_order("", 6) == ((), None)


def test_stage_sources_are_read_from_the_module_that_defines_them():
    where, code = lab.stage_source("allocation")
    assert where.startswith("ntm/dnc/addressing.py:") and "torch.sort(u, dim=-1, stable=True)" in code
    where, code = lab.stage_source("content_weights")
    assert where.startswith("ntm/addressing.py:") and "softmax" in code
    for stage in addressing.STAGES + (lab.LINK,):
        assert lab.stage_source(stage.function)[1]
