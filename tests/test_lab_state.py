"""The Addressing lab's state (ntm.lab): URL parameters in and out, validated with plain-text
warnings; the named scenarios show what they say; the hint when sharpening cannot break a tie."""

import numpy as np
import pytest

from ntm import lab
from ntm.lab import SCENARIOS, LabState, parse_params, sharpening_hint, tied_maxima, to_params


def run(state: LabState) -> lab.HandAddressing:
    memory = lab.seeded_memory(state.slots, state.width, state.seed)
    s, _ = lab.shift_kernel(state.shift)
    return lab.address_by_hand(memory, state.key_vector(), lab.previous_weighting(state.slots, state.previous),
                               state.beta, state.g, s, state.gamma)


def test_no_parameters_is_the_default_state_without_warnings():
    assert parse_params({}) == (LabState(), [])


def test_a_state_survives_the_round_trip_through_the_url():
    state = LabState(slots=12, width=3, seed=7, key=(0.5, -1.25, 2.0), beta=12.5, g=0.25, previous=None,
                     shift=(0.2, 0.3, 0.5), gamma=3.5)
    params = to_params(state)
    assert all(isinstance(v, str) for v in params.values())
    assert parse_params(params) == (state, [])
    # A key given as "slot 2's content" comes back as those numbers.
    default = parse_params(to_params(LabState()))[0]
    np.testing.assert_allclose(default.key_vector(), LabState().key_vector(), atol=1e-6)


@pytest.mark.parametrize("param,value,fragment", [
    ("n", "2", "n is not a whole number from 3 to 32"), ("n", "8.5", "n is not"), ("m", "nine", "m is not"),
    ("seed", "-1", "seed is not"), ("beta", "51", "beta is not a number from 0 to 50"), ("g", "nan", "g is not"),
    ("gamma", "0.5", "gamma is not a number from 1 to 50"), ("prev", "8", "prev is not a slot from 0 to 7"),
    ("s", "1,2", "s is not three comma-separated weights"), ("s", "-1,0,1", "s is not"),
    ("key", "1,2,3", "key is not 4 comma-separated numbers"), ("key", "1,2,3,inf", "key is not"),
    ("scenario", "<b>x</b>", "scenario is not one of content-lookup"),
])
def test_a_bad_value_warns_in_plain_text_and_falls_back(param, value, fragment):
    state, warnings = parse_params({param: value, "beta": "7"} if param != "beta" else {param: value})
    assert len(warnings) == 1 and fragment in warnings[0]
    assert "<b>" not in warnings[0] and (len(value) < 4 or value not in warnings[0])   # not echoed
    want = LabState(beta=7.0) if param != "beta" else LabState()
    assert state == want


def test_parameters_override_a_scenario_and_are_clamped_to_its_memory():
    state, warnings = parse_params({"scenario": "location-iteration", "gamma": "4", "n": "3"})
    assert not warnings
    base = SCENARIOS["location-iteration"].state
    assert (state.g, state.shift, state.gamma, state.slots) == (base.g, base.shift, 4.0, 3)
    assert state.previous == 2 and state.key_slot == 2                  # slot 3 no longer exists
    state, _ = parse_params({"prev": "uniform"})
    assert state.previous is None


def test_every_scenario_has_a_link_and_shows_what_it_says():
    assert len(SCENARIOS) >= 4
    for name, scenario in SCENARIOS.items():
        assert parse_params({"scenario": name}) == (scenario.state, [])
        assert parse_params(to_params(scenario.state))[0].key_vector() == pytest.approx(scenario.state.key_vector())
    out = {name: run(s.state).stages for name, s in SCENARIOS.items()}
    assert int(np.argmax(out["content-lookup"].content)) == 5 and out["content-lookup"].weights.max() > 0.9
    it = out["location-iteration"]
    assert int(np.argmax(it.gated)) == 3 and int(np.argmax(it.weights)) == 4 and it.weights[4] > 0.99
    frac = out["fractional-shift-sharpen"]
    np.testing.assert_allclose(frac.shifted[[3, 4]], [0.4, 0.6], atol=1e-6)
    assert frac.weights[4] > 0.95
    inter = out["interpolation"]
    np.testing.assert_allclose(inter.gated[[1, 6]], [0.5, 0.5], atol=0.02)
    tie = out["exact-tie"]
    assert tied_maxima(tie.weights) == [2, 3, 4]
    assert sharpening_hint(tie.shifted, SCENARIOS["exact-tie"].state.gamma) is not None
    assert all(sharpening_hint(out[n].shifted, SCENARIOS[n].state.gamma) is None for n in out if n != "exact-tie")


def test_tied_maxima_tolerates_float32_rounding_only():
    assert tied_maxima(np.array([0.1, 1 / 3, np.float32(1 / 3), 0.2])) == [1, 2]
    assert tied_maxima(np.array([0.1, 0.334, 0.333, 0.2])) == [1]


def test_the_sharpening_hint_names_a_tie_or_a_flat_weighting_and_nothing_else():
    assert sharpening_hint(np.full(8, 1 / 8), 50.0).startswith("The shifted weighting is flat")
    assert "Slots 2, 4 tie" in sharpening_hint(np.array([0.1, 0.1, 0.3, 0.2, 0.3]), 5.0)
    assert sharpening_hint(np.array([0.1, 0.1, 0.3, 0.2, 0.3]), 1.0) is None       # γ = 1: no sharpening
    assert sharpening_hint(np.array([0.1, 0.2, 0.7]), 50.0) is None
    # What the hint says is so: sharpening keeps the tie, and a flat weighting flat.
    s, _ = lab.shift_kernel([1, 1, 1])
    out = lab.address_by_hand(np.eye(5), np.ones(5), lab.previous_weighting(5, 2), 0.0, 0.0, s, 50.0)
    assert tied_maxima(out.stages.weights) == [1, 2, 3]
    flat = lab.address_by_hand(np.eye(5), np.ones(5), lab.previous_weighting(5), 0.0, 0.0, s, 50.0)
    np.testing.assert_allclose(flat.stages.weights, np.full(5, 0.2), atol=1e-6)
