"""Parameter checking: shaping_core/params.py and each game's params dataclass."""

import math

import pytest

from shaping_core.games import GAMES, GameParamsError, make_game
from shaping_core.games.bandit import BanditParams
from shaping_core.games.gonogo import GoNoGoParams
from shaping_core.games.ipd import IPDParams
from shaping_core.games.trust import TrustParams
from shaping_core.params import ParamsError

# --- from_mapping: keys and types -------------------------------------------------------------


def test_unknown_keys_are_listed_sorted_with_the_expected_ones():
    with pytest.raises(ParamsError) as error:
        IPDParams.from_mapping({"rounds": 5, "zeta": 1, "alpha": 2})
    message = str(error.value)
    assert "unknown parameter(s) alpha, zeta" in message
    for field in ("reward", "sucker", "temptation", "punishment", "rounds",
                  "continuation_probability", "max_rounds"):
        assert field in message


def test_empty_and_none_mappings_give_defaults():
    assert IPDParams.from_mapping(None) == IPDParams()
    assert IPDParams.from_mapping({}) == IPDParams()
    assert TrustParams.from_mapping(None).return_fractions == (0.0, 0.25, 0.5, 0.75, 1.0)


@pytest.mark.parametrize("value", [True, False, 2.0, 2.5, "20", [20]])
def test_int_field_rejects_non_integers(value):
    with pytest.raises(ParamsError, match="rounds must be a whole number"):
        IPDParams.from_mapping({"rounds": value})


@pytest.mark.parametrize("value", [True, "3", "3.0", [3.0], {"a": 1}])
def test_float_field_rejects_non_numbers(value):
    with pytest.raises(ParamsError, match="reward must be a number"):
        IPDParams.from_mapping({"reward": value})


def test_int_given_for_float_is_converted_to_float():
    params = IPDParams.from_mapping({"reward": 4, "temptation": 6})
    assert params.reward == 4.0 and isinstance(params.reward, float)
    assert isinstance(params.temptation, float)


@pytest.mark.parametrize("name", ["reward", "rounds", "max_rounds"])
def test_none_for_non_optional_is_rejected(name):
    with pytest.raises(ParamsError, match=f"{name} must not be empty"):
        IPDParams.from_mapping({name: None})


def test_none_for_optional_is_accepted():
    params = IPDParams.from_mapping({"continuation_probability": None})
    assert params.continuation_probability is None


def test_optional_float_still_checks_type():
    with pytest.raises(ParamsError, match="continuation_probability must be a number"):
        IPDParams.from_mapping({"continuation_probability": "0.9"})
    with pytest.raises(ParamsError, match="continuation_probability must be a number"):
        IPDParams.from_mapping({"continuation_probability": True})


# --- list parameters (trust return_fractions) -------------------------------------------------


def test_return_fractions_list_becomes_tuple_of_floats():
    params = TrustParams.from_mapping({"return_fractions": [0, 0.5, 1]})
    assert params.return_fractions == (0.0, 0.5, 1.0)
    assert all(isinstance(f, float) for f in params.return_fractions)


@pytest.mark.parametrize("value", [[], 0.5, "0.5", None])
def test_return_fractions_must_be_a_non_empty_list(value):
    with pytest.raises(ParamsError, match="return_fractions must"):
        TrustParams.from_mapping({"return_fractions": value})


def test_return_fractions_items_are_type_checked_with_their_index():
    with pytest.raises(ParamsError, match=r"return_fractions\[1\] must be a number"):
        TrustParams.from_mapping({"return_fractions": [0.0, "half", 1.0]})
    with pytest.raises(ParamsError, match=r"return_fractions\[0\] must be a number"):
        TrustParams.from_mapping({"return_fractions": [True]})
    with pytest.raises(ParamsError, match=r"return_fractions\[2\] must not be empty"):
        TrustParams.from_mapping({"return_fractions": [0.0, 0.5, None]})


@pytest.mark.parametrize("fractions", [[-0.1, 0.5], [0.5, 1.2], [float("nan")]])
def test_return_fractions_outside_unit_interval_rejected(fractions):
    with pytest.raises(GameParamsError, match=r"return_fractions must lie in \[0, 1\]"):
        TrustParams.from_mapping({"return_fractions": fractions})


@pytest.mark.parametrize("fractions", [[0.5, 0.25], [0.5, 0.5], [0.0, 1.0, 0.5]])
def test_return_fractions_must_increase_without_repeats(fractions):
    with pytest.raises(GameParamsError, match="increasing without repeats"):
        TrustParams.from_mapping({"return_fractions": fractions})


@pytest.mark.parametrize("changes, match", [
    ({"endowment": 0}, "endowment must lie in 1..1000"),
    ({"endowment": 1001}, "endowment must lie in 1..1000"),
    ({"multiplier": 0.5}, "multiplier must be at least 1"),
    ({"multiplier": float("nan")}, "multiplier must be at least 1"),
    ({"rounds": 0}, "rounds must be at least 1"),
])
def test_trust_rules(changes, match):
    with pytest.raises(GameParamsError, match=match):
        TrustParams.from_mapping(changes)


# --- IPD rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize("payoffs", [
    dict(temptation=3, reward=3),  # T == R
    dict(reward=1, punishment=1),  # R == P
    dict(punishment=0, sucker=0),  # P == S
    dict(temptation=2, reward=3),  # T < R
    dict(sucker=2),  # S > P
])
def test_ipd_ordering_rule(payoffs):
    with pytest.raises(GameParamsError) as error:
        IPDParams.from_mapping(payoffs)
    assert "temptation > reward > punishment > sucker" in str(error.value)


@pytest.mark.parametrize("payoffs", [
    dict(temptation=10.0, reward=3.0, punishment=1.0, sucker=0.0),  # 6 < 10
    dict(temptation=6.0, reward=3.0, punishment=1.0, sucker=0.0),  # 6 == 6
])
def test_ipd_alternation_rule(payoffs):
    with pytest.raises(GameParamsError) as error:
        IPDParams.from_mapping(payoffs)
    message = str(error.value)
    assert "2 * reward > temptation + sucker" in message
    assert "temptation > reward > punishment > sucker" not in message


def test_ipd_valid_custom_payoffs_accepted():
    params = IPDParams.from_mapping(dict(temptation=6, reward=4, punishment=0.5, sucker=-1))
    assert (params.temptation, params.reward, params.punishment, params.sucker) == (6, 4, 0.5, -1)


@pytest.mark.parametrize("d", [0, 1, -0.1, 1.5, 0.0, 1.0, float("nan")])
def test_continuation_probability_outside_open_unit_interval(d):
    with pytest.raises(GameParamsError, match="continuation_probability must lie strictly between 0 and 1"):
        IPDParams.from_mapping({"continuation_probability": d})


@pytest.mark.parametrize("d", [1e-6, 0.5, 0.999])
def test_continuation_probability_inside_accepted(d):
    assert IPDParams.from_mapping({"continuation_probability": d}).continuation_probability == d


@pytest.mark.parametrize("changes, match", [
    ({"rounds": 0}, "rounds must be at least 1"),
    ({"max_rounds": 0}, "max_rounds must be at least 1"),
])
def test_ipd_length_rules(changes, match):
    with pytest.raises(GameParamsError, match=match):
        IPDParams.from_mapping(changes)


# --- bandit and go/no-go rules ----------------------------------------------------------------


@pytest.mark.parametrize("changes, match", [
    ({"trials": 10, "rewards_per_option": 11}, r"rewards_per_option must lie in 0..trials \(10\), got 11"),
    ({"rewards_per_option": -1}, "rewards_per_option must lie in 0..trials"),
    ({"trials": 0, "rewards_per_option": 0}, "trials must be at least 1"),
    ({"target_option": 2}, "target_option must be 0 or 1"),
    ({"target_option": -1}, "target_option must be 0 or 1"),
])
def test_bandit_rules(changes, match):
    with pytest.raises(GameParamsError, match=match):
        BanditParams.from_mapping(changes)


def test_bandit_edges_accepted():
    assert BanditParams.from_mapping({"trials": 10, "rewards_per_option": 10}).rewards_per_option == 10
    assert BanditParams.from_mapping({"trials": 10, "rewards_per_option": 0}).rewards_per_option == 0
    assert BanditParams.from_mapping({"target_option": 1}).target_option == 1


@pytest.mark.parametrize("changes, match", [
    ({"trials": 10, "nogo_trials": 11}, r"nogo_trials must lie in 0..trials \(10\), got 11"),
    ({"nogo_trials": -1}, "nogo_trials must lie in 0..trials"),
    ({"trials": 0, "nogo_trials": 0}, "trials must be at least 1"),
    ({"response_window_ms": 99}, "response_window_ms must lie in 100..5000"),
    ({"response_window_ms": 5001}, "response_window_ms must lie in 100..5000"),
    ({"response_window_ms": 0}, "response_window_ms must lie in 100..5000"),
])
def test_gonogo_rules(changes, match):
    with pytest.raises(GameParamsError, match=match):
        GoNoGoParams.from_mapping(changes)


@pytest.mark.parametrize("window", [100, 5000])
def test_gonogo_window_bounds_inclusive(window):
    assert GoNoGoParams.from_mapping({"response_window_ms": window}).response_window_ms == window


def test_gonogo_window_must_be_whole_number():
    with pytest.raises(ParamsError, match="response_window_ms must be a whole number"):
        GoNoGoParams.from_mapping({"response_window_ms": 750.5})


# --- make_game and round trips ------------------------------------------------------------------


def test_make_game_unknown_name():
    with pytest.raises(GameParamsError) as error:
        make_game("chess")
    message = str(error.value)
    assert "unknown game 'chess'" in message
    for name in ("ipd", "bandit", "gonogo", "trust"):
        assert name in message


def test_make_game_builds_each_game_with_its_params():
    assert set(GAMES) == {"ipd", "bandit", "gonogo", "trust"}
    game = make_game("bandit", {"trials": 12, "rewards_per_option": 3})
    assert game.spec.name == "bandit"
    assert game.params == BanditParams(trials=12, rewards_per_option=3)
    with pytest.raises(GameParamsError, match="rewards_per_option"):
        make_game("bandit", {"trials": 2, "rewards_per_option": 3})


def test_game_accepts_a_params_instance():
    params = IPDParams(rounds=7)
    assert make_game("ipd", params).params is params


def test_make_game_wraps_all_param_errors_in_game_params_error():
    """make_game's docstring promises GameParamsError on bad input, as Policy wraps its errors in
    PolicyParamsError; unknown keys and wrong types must not escape as a bare ParamsError."""
    with pytest.raises(GameParamsError):
        make_game("ipd", {"roundz": 5})
    with pytest.raises(GameParamsError):
        make_game("ipd", {"rounds": "5"})


ROUND_TRIP = [
    ("ipd", {}),
    ("ipd", {"reward": 4, "sucker": -1, "temptation": 6, "punishment": 0.5, "rounds": 3}),
    ("ipd", {"continuation_probability": 0.9, "max_rounds": 50}),
    ("bandit", {}),
    ("bandit", {"trials": 12, "rewards_per_option": 3, "target_option": 1}),
    ("gonogo", {}),
    ("gonogo", {"trials": 20, "nogo_trials": 5, "response_window_ms": 600}),
    ("trust", {}),
    ("trust", {"rounds": 3, "endowment": 10, "multiplier": 2.5, "return_fractions": [0, 0.2, 0.9]}),
]


@pytest.mark.parametrize("name, mapping", ROUND_TRIP)
def test_to_mapping_round_trips(name, mapping):
    params = make_game(name, mapping).params
    plain = params.to_mapping()
    # Plain JSON-like values: lists, not tuples.
    assert all(not isinstance(v, tuple) for v in plain.values())
    for key, value in mapping.items():
        expected = [float(v) for v in value] if isinstance(value, list) else value
        assert plain[key] == expected
    again = type(params).from_mapping(plain)
    assert again == params
    assert again.to_mapping() == plain


def test_to_mapping_lists_every_field():
    plain = IPDParams().to_mapping()
    assert set(plain) == {"reward", "sucker", "temptation", "punishment", "rounds",
                          "continuation_probability", "max_rounds"}
    assert plain["continuation_probability"] is None
    assert TrustParams().to_mapping()["return_fractions"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert math.isclose(TrustParams().to_mapping()["multiplier"], 3.0)


def test_game_rejects_params_of_another_game():
    """A Params instance is taken as it is, but only if it is this game's params class; otherwise
    the game breaks later with an AttributeError far from the mistake."""
    with pytest.raises((TypeError, ParamsError)):
        make_game("ipd", BanditParams())
    with pytest.raises((TypeError, ParamsError)):
        make_game("trust", GoNoGoParams())
