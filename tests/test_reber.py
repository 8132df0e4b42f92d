"""The embedded Reber grammar (rnnkit/data/reber.py): its automaton, the stream, the targets, the scoring."""

import itertools

import numpy as np
import pytest

from rnnkit.data import reber
from rnnkit.errors import ConfigError

# The Reber grammar of Cleeremans et al. (1989) as a graph of its own: node -> {symbol: node},
# from its B to its E (node "end"). Written out independently of reber.TRANSITIONS.
REBER_GRAPH = {
    "start": {"T": "a", "P": "b"},
    "a": {"S": "a", "X": "c"},
    "b": {"T": "b", "V": "d"},
    "c": {"X": "b", "S": "e"},
    "d": {"P": "c", "V": "e"},
    "e": {"E": "end"},
}


def is_reber_string(text: str) -> bool:
    if not text.startswith("B"):
        return False
    node = "start"
    for symbol in text[1:]:
        if node == "end" or symbol not in REBER_GRAPH[node]:
            return False
        node = REBER_GRAPH[node][symbol]
    return node == "end"


def is_embedded(text: str) -> bool:
    """B, T or P, a Reber string, the same T or P, E."""
    return (len(text) >= 5 and text[0] == "B" and text[1] in "TP" and text[-2] == text[1]
            and text[-1] == "E" and is_reber_string(text[2:-2]))


def test_the_automaton_has_19_states_each_with_one_or_two_ways_out():
    assert reber.NUM_STATES == 19 and reber.SYMBOLS == "BTPSXVE"
    assert all(len(ways) in (1, 2) for ways in reber.TRANSITIONS)
    assert all(0 <= state < 19 for ways in reber.TRANSITIONS for _, state in ways)
    assert reber.next_symbols(1) == {"T", "P"}                   # the outer choice
    assert reber.next_symbols(7) == {"T"} and reber.next_symbols(16) == {"P"}   # the long transitions
    assert reber.LONG_STATES == {7, 16}


def test_every_string_the_automaton_makes_is_an_embedded_reber_string():
    rng = np.random.default_rng(0)
    strings = [reber.embedded_string(rng) for _ in range(500)]
    assert all(is_embedded(s) for s in strings)
    assert {s[1] for s in strings} == {"T", "P"}
    assert all(reber.accepts(s) for s in strings[:20])
    assert reber.accepts("".join(strings[:20]))


def test_the_automaton_makes_every_embedded_string_up_to_a_length():
    """Every path through the automaton, walked exhaustively, gives exactly the embedded strings."""
    made, frontier = set(), [("", 0)]
    while frontier:
        text, state = frontier.pop()
        for symbol, following in reber.TRANSITIONS[state]:
            longer = text + symbol
            if following == reber.START_STATE:
                made.add(longer)
            elif len(longer) < 12:
                frontier.append((longer, following))
    assert made and all(is_embedded(s) for s in made)
    assert "BTBTXSETE" in made and "BPBPVVEPE" in made and "BTBTSXSETE" in made
    assert not reber.accepts("BTBTXSEPE") and not reber.accepts("BPBPVVETE") and not reber.accepts("BTBTXSET")


def test_stream_runs_strings_back_to_back_from_state_0():
    data = reber.stream(np.random.default_rng(1), 3000)
    text = data.text()
    starts = [i for i in range(len(text)) if data.states[i] == 1]      # just read the outer B
    assert starts[0] == 0 and len(starts) > 100
    for begin, end in itertools.pairwise(starts):
        assert is_embedded(text[begin:end])


def test_targets_are_the_set_of_symbols_that_may_follow():
    data = reber.stream(np.random.default_rng(2), 4000)
    assert data.targets.shape == (4000, 7) and set(np.unique(data.targets)) <= {0.0, 1.0}
    following = data.symbols[1:]
    assert np.all(data.targets[np.arange(3999), following] == 1.0)         # what came next was allowed
    for state in range(reber.NUM_STATES):                                  # and every allowed one came
        allowed = {reber.SYMBOL_INDEX[s] for s in reber.next_symbols(state)}
        seen = set(following[data.states[:-1] == state].tolist())
        assert seen == allowed, state
        assert set(np.flatnonzero(reber.target_vector(state))) == allowed


def test_long_transitions_are_the_predictions_of_the_repeated_symbol():
    data = reber.stream(np.random.default_rng(3), 5000)
    text = data.text()
    long_steps = np.flatnonzero(data.long)
    starts = np.flatnonzero(data.states == 1)
    assert len(long_steps) > 300
    for t in long_steps:
        if t + 1 >= len(text):
            continue
        start = starts[starts < t].max()
        second = text[start + 1]                                     # the outer T or P
        assert text[t] == "E" and text[t + 1] == second
        assert data.targets[t].tolist() == reber.target_vector(7 if second == "T" else 16).tolist()
    inner_ends = [t for t in range(len(text) - 2) if text[t] == "E" and text[t + 2] == "E"]
    assert set(inner_ends) <= set(long_steps.tolist())


def test_the_same_generator_state_gives_the_same_stream():
    a, b = reber.stream(np.random.default_rng(9), 500), reber.stream(np.random.default_rng(9), 500)
    assert np.array_equal(a.symbols, b.symbols) and np.array_equal(a.targets, b.targets)
    assert np.array_equal(a.inputs(), np.eye(7)[a.symbols])


def test_score_counts_outputs_within_half_of_their_targets():
    data = reber.stream(np.random.default_rng(4), 2000)
    perfect = reber.score(data.targets, data)
    assert perfect.output_error == 0.0 and perfect.long_error == 0.0
    assert perfect.long_transitions == int(data.long.sum()) and perfect.steps == 2000
    assert reber.score(np.full_like(data.targets, 0.5), data).output_error == 1.0    # 0.5 off is wrong
    close = reber.score(np.clip(data.targets, 0.1, 0.9) + 0.0, data)
    assert close.output_error == 0.0
    outputs = data.targets.copy()
    first_long = np.flatnonzero(data.long)[0]
    outputs[first_long] = 1.0 - outputs[first_long]                 # all 7 wrong at one long transition
    outputs[0, 0] = np.nan
    scored = reber.score(outputs, data)
    assert scored.long_error == pytest.approx(1 / perfect.long_transitions)
    assert scored.output_error == pytest.approx(8 / (7 * 2000))


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="`length`"):
        reber.stream(np.random.default_rng(0), 0)
    with pytest.raises(ConfigError, match="`start`"):
        reber.stream(np.random.default_rng(0), 10, start=19)
    data = reber.stream(np.random.default_rng(0), 10)
    with pytest.raises(ConfigError, match="`outputs`"):
        reber.score(np.zeros((10, 6)), data)
