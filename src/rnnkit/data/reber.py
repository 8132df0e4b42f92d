"""The embedded Reber grammar, as a stream of symbols to predict one at a time.

The benchmark of the first LSTM papers (Hochreiter & Schmidhuber 1997, experiment 1;
Gers, Schmidhuber & Cummins 2000 for the stream that is never reset). A Reber string
(Cleeremans, Servan-Schreiber & McClelland 1989) is wrapped as

    B  T  <Reber string>  T  E        or        B  P  <Reber string>  P  E

so that the second-to-last symbol repeats the second one, across the whole inner
string. The automaton has 19 states; each emits one of two symbols (chosen with
equal chance) or a single one, and moves on. ``TRANSITIONS[s]`` lists the
``(symbol, next state)`` pairs out of state ``s``:

    0 -B-> 1                                    the outer B
    1 -T-> 2      1 -P-> 11                     the outer T or P: the symbol to remember
    upper path (after T):  2 -B-> 3, the Reber string in states 3, 4, 5, 9, 10, 6 -E-> 7,
                           then 7 -T-> 8       (the long transition: T, as at the start)
    lower path (after P):  11 -B-> 12, the Reber string in 12, 13, 14, 17, 18, 15 -E-> 16,
                           then 16 -P-> 8
    8 -E-> 0                                    the outer E; the next string starts

Inside, a Reber string goes (upper path's states) 3 -T-> 4 -S-> 4 | -X-> 5;
5 -S-> 6 | -X-> 9; 3 -P-> 9 -T-> 9 | -V-> 10; 10 -P-> 5 | -V-> 6.

The stream is LSTM.java's EmbeddedReberGrammar (evolvingstuff): it starts in state
0 and runs through one string after the other, never reset in between. At step t
the input is the symbol just emitted (one-hot over ``SYMBOLS``), and the target
the *set* of symbols that may come next: a multi-label 7-vector, 1 for each
symbol that can leave the state reached. A prediction at a state in
``LONG_STATES`` (7 and 16, right after the inner string's E) is a long
transition: its target is T or P alone, which only the symbol at the start tells.

Scoring (``score``), as LSTM.java's evaluation: an output is right when it is
within 0.5 of its target; ``output_error`` is the share of all outputs (7 per
step) that are not; ``long_error`` the share of long transitions at which any of
the 7 outputs is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.errors import ConfigError

SYMBOLS = "BTPSXVE"                     # LSTM.java's order: input and target index of each symbol
SYMBOL_INDEX = {symbol: index for index, symbol in enumerate(SYMBOLS)}
TRANSITIONS: tuple[tuple[tuple[str, int], ...], ...] = (
    (("B", 1),),                        # 0: start of a string
    (("T", 2), ("P", 11)),              # 1: the outer choice
    (("B", 3),),                        # 2: upper path, the inner B
    (("T", 4), ("P", 9)),               # 3
    (("S", 4), ("X", 5)),               # 4
    (("S", 6), ("X", 9)),               # 5
    (("E", 7),),                        # 6: the inner E
    (("T", 8),),                        # 7: long transition, upper path
    (("E", 0),),                        # 8: the outer E
    (("T", 9), ("V", 10)),              # 9
    (("P", 5), ("V", 6)),               # 10
    (("B", 12),),                       # 11: lower path, the inner B
    (("T", 13), ("P", 17)),             # 12
    (("S", 13), ("X", 14)),             # 13
    (("S", 15), ("X", 17)),             # 14
    (("E", 16),),                       # 15: the inner E
    (("P", 8),),                        # 16: long transition, lower path
    (("T", 17), ("V", 18)),             # 17
    (("P", 14), ("V", 15)),             # 18
)
NUM_STATES = len(TRANSITIONS)           # 19
LONG_STATES = frozenset({7, 16})
START_STATE = 0
SYMBOLS_PER_EPOCH = 5000                # LSTM.java's ``tests``
TOLERANCE = 0.5                         # an output is right within this distance of its target


def next_symbols(state: int) -> frozenset[str]:
    """The symbols that may leave ``state``: the target's set at a step that reached it."""
    return frozenset(symbol for symbol, _ in TRANSITIONS[state])


def target_vector(state: int) -> np.ndarray:
    """The 7-vector target of a step that reached ``state``: 1 at each symbol that may follow."""
    target = np.zeros(len(SYMBOLS))
    for symbol, _ in TRANSITIONS[state]:
        target[SYMBOL_INDEX[symbol]] = 1.0
    return target


TARGETS = np.stack([target_vector(state) for state in range(NUM_STATES)])   # (19, 7), by state reached
NEXT_STATE = np.array([[TRANSITIONS[s][k % len(TRANSITIONS[s])][1] for k in (0, 1)]
                       for s in range(NUM_STATES)])                          # (19, 2): by the choice drawn
EMITTED = np.array([[SYMBOL_INDEX[TRANSITIONS[s][k % len(TRANSITIONS[s])][0]] for k in (0, 1)]
                    for s in range(NUM_STATES)])
CHOICES = np.array([len(TRANSITIONS[s]) for s in range(NUM_STATES)])


@dataclass(frozen=True)
class ReberStream:
    """``len(symbols)`` steps of the stream: what each step reads, what it must predict."""

    symbols: np.ndarray      # (N,) int: the symbol read at each step, an index into SYMBOLS
    states: np.ndarray       # (N,) int: the automaton's state after that symbol
    targets: np.ndarray      # (N, 7) float64: 1 for each symbol that may come next
    long: np.ndarray         # (N,) bool: the step's prediction is a long transition

    def inputs(self, dtype=np.float64) -> np.ndarray:
        """The symbols one-hot, (N, 7)."""
        return np.eye(len(SYMBOLS), dtype=dtype)[self.symbols]

    def text(self) -> str:
        return "".join(SYMBOLS[s] for s in self.symbols)


def stream(rng: np.random.Generator, length: int = SYMBOLS_PER_EPOCH, start: int = START_STATE) -> ReberStream:
    """``length`` symbols of the grammar from state ``start``, strings back to back, never reset.

    At each state with two ways out, one is drawn with equal chance from ``rng``
    (one ``rng.integers(2)`` per such step, so the same generator state gives the same stream).
    """
    if not isinstance(length, (int, np.integer)) or length < 1:
        raise ConfigError(f"`length` must be a positive number of symbols, got {length!r}")
    if not 0 <= start < NUM_STATES:
        raise ConfigError(f"`start` must be a state in [0, {NUM_STATES}), got {start!r}")
    draws = rng.integers(2, size=length)
    symbols = np.empty(length, np.int64)
    states = np.empty(length, np.int64)
    state = start
    for t in range(length):
        choice = draws[t] if CHOICES[state] == 2 else 0
        symbols[t] = EMITTED[state, choice]
        state = states[t] = NEXT_STATE[state, choice]
    return ReberStream(symbols, states, TARGETS[states], np.isin(states, sorted(LONG_STATES)))


def embedded_string(rng: np.random.Generator) -> str:
    """One string of the embedded grammar, B to the outer E (e.g. ``BTBTSXSETE``)."""
    out, state = [], START_STATE
    while True:
        ways = TRANSITIONS[state]
        symbol, state = ways[rng.integers(len(ways))] if len(ways) > 1 else ways[0]
        out.append(symbol)
        if state == START_STATE:
            return "".join(out)


def accepts(text: str) -> bool:
    """Whether ``text`` is one or more whole strings of the embedded grammar, back to back."""
    state = START_STATE
    for symbol in text:
        moves = dict(TRANSITIONS[state])
        if symbol not in moves:
            return False
        state = moves[symbol]
    return bool(text) and state == START_STATE


@dataclass(frozen=True)
class ReberScore:
    """LSTM.java's numbers for one pass over a stream."""

    output_error: float      # share of the outputs (7 per step) not within TOLERANCE of their target
    long_error: float        # share of long transitions with any output not within TOLERANCE
    long_transitions: int    # how many long transitions the stream held
    steps: int

    def to_json(self) -> dict:
        return {"output_error": self.output_error, "long_error": self.long_error,
                "long_transitions": self.long_transitions, "steps": self.steps}


def score(outputs: np.ndarray, reber: ReberStream, tolerance: float = TOLERANCE) -> ReberScore:
    """Score ``outputs`` (N, 7), the predictions made at each step of ``reber``."""
    outputs = np.asarray(outputs)
    if outputs.shape != reber.targets.shape:
        raise ConfigError(f"`outputs` must have the targets' shape {reber.targets.shape}, got {outputs.shape}")
    wrong = np.abs(reber.targets - outputs) >= tolerance      # NaN counts as right in neither
    wrong |= np.isnan(outputs)
    long_count = int(reber.long.sum())
    long_wrong = int(wrong[reber.long].any(axis=1).sum())
    return ReberScore(output_error=float(wrong.mean()),
                      long_error=long_wrong / long_count if long_count else 0.0,
                      long_transitions=long_count, steps=len(reber.symbols))
