"""The regularisers of a recurrent stack, options of ``RNN``, ``LSTM`` and ``GRU``, all off (0) by default.

    LSTM(I, H, num_layers=2, input_dropout=0.2, locked_dropout=0.2, output_dropout=0.3,
         recurrent_dropout=0.2, weight_dropout=0.5, zoneout_h=0.05, zoneout_c=0.1)

With x (T, B, I) the stack's input, y^k (T, B, D*H_out) the output of layer k (of L)
and y = y^{L-1} the stack's output, each option p in [0, 1) is a probability:

    input_dropout      x~    = x * M_x                   M_x (1, B, I): one mask per sequence, every step
    locked_dropout     y~^k  = y^k * M_k, k < L-1        M_k (1, B, D*H_out): between layers, per sequence
    output_dropout     y~    = y * M_y                   M_y (1, B, D*H_out): per sequence
    recurrent_dropout  ĥ_{t-1} = h_{t-1} * m_h           m_h (B, H_out) per sequence, layer and direction,
                       where W_hh reads h_{t-1}          (not the GRU's z * h_{t-1}; ``rnnkit.cells.base``)
    weight_dropout     W~_hh = W_hh * M_W                M_W (G*H, H_out) per call, layer and direction
                                                         (DropConnect; ``rnnkit.layers.weight_drop``)
    zoneout_h, _c      s_t = d_t * s_{t-1} + (1 - d_t) * s~_t      d_t (T, B, N) 0/1 per unit, step and
                                                         sequence (``rnnkit.layers.zoneout``); _c: LSTM only

The dropout masks are 1/(1-p) with probability 1-p and 0 otherwise (inverted dropout, so
nothing is rescaled at evaluation); d_t is 1 with probability p. The locked masks are
those of Gal & Ghahramani 2016 ("variational" dropout; AWD-LSTM's LockedDropout),
backward multiplies by the same mask (dx_t = dx~_t * M_x, ...). Every mask is drawn from
the layer's ``rng`` in ``forward``, only for the options that are on (so a layer without
them draws exactly what it drew before), kept in the call's ``StackCache`` (``StackNoise``
and the time loop's caches), never on the layer, and reused by ``backward``.

In evaluation mode every one of them is off, but zoneout, which uses its expectation
s_t = p * s_{t-1} + (1 - p) * s~_t (so does ``Stepper``, generation).

``dropout`` (PyTorch's: a fresh mask at every step, between layers) stays as it was;
``locked_dropout`` is its per-sequence form, and a layer takes one of the two.
Gal & Ghahramani's variational RNN is input_dropout + locked_dropout + recurrent_dropout
(+ output_dropout); AWD-LSTM's recipe is input/locked/output_dropout + weight_dropout,
with the embedding's ``embedding_dropout`` (``rnnkit.layers.embedding``).

The compiled fast path keeps running with every option on (no fallback to the NumPy
steps): the locked masks and the dropped W~_hh act outside the steps, recurrent dropout
inside the NumPy products of the compiled steps (``rnnkit.kernels.steps``), zoneout in
the time loop after each step. What they cost, measured by ``benchmarks/bench_regularisers.py
--threads 1 --cpu-time`` (a training step of 2 layers, batch 32 x 50 steps, input 64,
hidden 256, float32, p = 0.25; CPU time of one thread, medians of 7 rounds; two runs):

    option                                   compiled steps     NumPy steps
    input/locked/output/recurrent dropout    0.98 - 1.04        0.98 - 1.05     (the runs' noise)
    weight_dropout                           1.01 - 1.07        1.00 - 1.02
    zoneout_h, zoneout_c                     1.02 - 1.08        1.02 - 1.06     (T*B*H draws per state)
    all of them, LSTM                        1.10 - 1.14        1.07 - 1.08
    all of them, GRU                         1.06 - 1.13        1.06 - 1.07

(ratios to the same step with every option off). The LSTM with all of them on the compiled
steps (125 ms) is faster than the plain LSTM on the NumPy steps (129 ms), and 0.44 - 0.47
of the time of the same equations written by hand in torch autograd.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from rnnkit.layers.dropout import locked_dropout_mask
from rnnkit.layers.weight_drop import WeightDrop
from rnnkit.layers.zoneout import Zoneout


@dataclass(frozen=True)
class Regularisers:
    """The regularisers' probabilities of one stack; ``check(cell, dropout)`` before use."""

    input_dropout: float = 0.0
    locked_dropout: float = 0.0
    output_dropout: float = 0.0
    recurrent_dropout: float = 0.0
    weight_dropout: float = 0.0
    zoneout_h: float = 0.0
    zoneout_c: float = 0.0

    def __post_init__(self):
        for option in fields(self):
            value = getattr(self, option.name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) \
                    or not 0.0 <= value < 1.0:
                raise ValueError(f"`{option.name}` must be a number in [0, 1), got {value!r}")

    def check(self, cell, dropout: float) -> None:
        """ValueError naming the option that ``cell`` (or ``dropout``) rules out."""
        if self.locked_dropout and dropout:
            raise ValueError("`dropout` (a mask per step) and `locked_dropout` (a mask per sequence) both drop "
                             "between layers: set one of them to 0")
        if self.recurrent_dropout and not cell.masks_hidden_input:
            raise ValueError(f"`recurrent_dropout` is not implemented for {type(cell).__name__}: "
                             "set it to 0 (or build the layer without `layer_norm`)")
        if self.zoneout_c and "c" not in cell.state_names:
            raise ValueError("`zoneout_c` zones out the LSTM's cell state c: this layer has none, set it to 0")
        if self.zoneout_c and getattr(cell, "peephole", False):
            raise ValueError("`zoneout_c` with peepholes is not implemented (the output gate's peephole reads "
                             "the new c before zoneout): set `peephole=False` or `zoneout_c=0`")

    def changed(self) -> dict[str, float]:
        """The options that are on, by name."""
        return {option.name: getattr(self, option.name) for option in fields(self) if getattr(self, option.name)}

    # -- what one call draws ------------------------------------------------------------
    def locked_mask(self, rng, p: float, a: np.ndarray, training: bool) -> np.ndarray | None:
        """The (1, B, N) mask of a locked-dropout option of probability ``p`` for a (T, B, N) array; None if off."""
        return locked_dropout_mask(rng, a.shape, p, a.dtype) if training and p else None

    def weight_drop(self, rng, params, training: bool) -> WeightDrop | None:
        """DropConnect's mask on W_hh for one layer and direction; None if off."""
        return WeightDrop.draw(rng, params, self.weight_dropout) if training and self.weight_dropout else None

    def sequence_noise(self, rng, cell, steps: int, batch: int, dtype, training: bool) -> dict:
        """``forward_through_time``'s keyword arguments for one layer and direction: recurrent dropout's mask
        ``hidden_mask`` (B, H_out) and ``zoneout`` per state (drawn d_t, or the expectation)."""
        noise = {}
        if training and self.recurrent_dropout:
            noise["hidden_mask"] = locked_dropout_mask(rng, (1, batch, cell.output_size), self.recurrent_dropout,
                                                       dtype)[0]
        zoneouts = tuple(Zoneout.draw(rng, p, (steps, batch, size), training, dtype)
                         for p, size in zip(self.zoneout(cell), cell.state_sizes))
        if any(zoneouts):
            noise["zoneout"] = zoneouts
        return noise

    def zoneout(self, cell) -> tuple[float, ...]:
        """p of zoneout for each of ``cell``'s states, in ``state_names`` order."""
        return tuple(self.zoneout_c if name == "c" else self.zoneout_h if name == "h" else 0.0
                     for name in cell.state_names)

    def evaluation_zoneout(self, cell) -> tuple[Zoneout | None, ...]:
        """Zoneout's expectation for each of ``cell``'s states (None where off): what a ``Stepper`` mixes."""
        return tuple(Zoneout(p, None) if p else None for p in self.zoneout(cell))


@dataclass
class StackNoise:
    """What the regularisers outside the time loops drew for one call, kept for ``backward``."""

    input_mask: np.ndarray | None = None          # (1, B, I): input_dropout's M_x
    output_mask: np.ndarray | None = None         # (1, B, D*H_out): output_dropout's M_y
    weight_drops: list[WeightDrop | None] = field(default_factory=list)   # per (layer, direction)
