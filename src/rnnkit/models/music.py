"""A model of polyphonic music: a recurrent stack reads piano-roll frames and gives the
distribution of the next frame.

For a piece of frames v_1 .. v_T (each v_t in {0, 1}^K, K = 88 keys, MIDI 21-108):

    x_1 = [0, 1],  x_t = [v_{t-1}, 0]          (K + 1,)  the previous frame; the last bit marks the start
    h_t = stack(input_dropout(x_t), h_{t-1})   num_layers of the chosen cell
    log p(v_t | v_<t) = output(dropout(h_t), v_t)

The output is ``"bernoulli"`` (88 independent sigmoids: ``layers.bernoulli``) or
``"nade"`` (the keys of a frame one after another, so that a frame's notes can depend
on each other: ``layers.nade``). ``forward`` gives log p(v_t | v_<t) (T, B) for a
padded batch, 0 past each piece's end; ``losses_music.frame_nll`` averages the scored
ones into nats per frame and ``backward`` takes its gradient. The start bit lets the
model learn how pieces begin, so it can generate from nothing.

Why NADE for the joint output rather than a softmax over the chords seen in training:
the JSB training split holds 2,420 distinct frames, and 10 % of the test frames (473 of
4,648) are chords it never holds, so a chord softmax leans on its back-off for one frame
in ten; NADE gives every one of the 2^88 frames an exact, normalised probability from
the same parameters, is trained by the same likelihood, and is the output of RNN-NADE
(Boulanger-Lewandowski et al. 2012), measured on these very chorales.

Generation (``RollStepper``, ``generate``) runs one frame at a time: the recurrent
stack's ``Stepper`` gives the context of the next frame, the output layer draws it,
and it becomes the next input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rnnkit.data.piano_roll import check_roll, pad_rolls
from rnnkit.errors import ConfigError
from rnnkit.layers.bernoulli import IndependentBernoulli
from rnnkit.layers.dropout import Dropout
from rnnkit.layers.lengths import valid_steps
from rnnkit.layers.nade import NADE
from rnnkit.losses_music import FrameScore, scored_frames
from rnnkit.models.char_lm import RECURRENT_LAYERS
from rnnkit.models.json_config import JsonConfig, check_positive_ints, check_probability
from rnnkit.module import Module

OUTPUTS = ("bernoulli", "nade")


@dataclass
class MusicConfig(JsonConfig):
    cell: str = "lstm"
    hidden_size: int = 200
    num_layers: int = 1
    dropout: float = 0.5             # between recurrent layers and before the output layer
    input_dropout: float = 0.2       # on the input frames in training: the model learns from notes it misses
    output: str = "bernoulli"        # "bernoulli": independent keys; "nade": keys of a frame jointly
    nade_hidden_size: int = 150      # M, NADE's hidden units (unused by "bernoulli")
    num_keys: int = 88               # keys per frame (88 for piano rolls; fewer in small tests)

    def __post_init__(self):
        if self.cell not in RECURRENT_LAYERS:
            raise ConfigError(f"unknown `cell` {self.cell!r}: choose one of {', '.join(RECURRENT_LAYERS)}")
        if self.output not in OUTPUTS:
            raise ConfigError(f"unknown `output` {self.output!r}: choose one of {', '.join(OUTPUTS)}")
        check_positive_ints(self, "hidden_size", "num_layers", "nade_hidden_size", "num_keys")
        check_probability("dropout", self.dropout)
        check_probability("input_dropout", self.input_dropout)


class MusicModel(Module):
    """``log_probs = model(frames, lengths)``: (T, B, K) -> (T, B); ``model.backward(dlog_probs)``."""

    def __init__(self, config: MusicConfig, dtype=np.float32, rng=None):
        super().__init__()
        self.config, self.dtype = config, np.dtype(dtype)
        rng = np.random.default_rng(rng)
        keys, hidden = config.num_keys, config.hidden_size
        self.rnn = RECURRENT_LAYERS[config.cell](keys + 1, hidden, config.num_layers, dropout=config.dropout,
                                                 dtype=dtype, rng=rng)
        self.input_dropout = Dropout(config.input_dropout, rng=rng)
        self.dropout = Dropout(config.dropout, rng=rng)
        self.output = (NADE(hidden, keys, config.nade_hidden_size, dtype=dtype, rng=rng) if config.output == "nade"
                       else IndependentBernoulli(hidden, keys, dtype=dtype, rng=rng))
        self._valid: np.ndarray | None = None     # (T, B): frames within their piece, from the last forward

    def forward(self, frames: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """log p(v_t | v_<t) (T, B) for frames (T, B, K) of pieces ``lengths`` long (None: all T)."""
        self._check_frames(frames)
        steps, batch, _ = frames.shape
        hidden, _ = self.rnn(self.input_dropout(self.inputs(frames)), lengths=lengths)
        log_probs = self.output(self.dropout(hidden), frames)
        self._valid = (np.ones((steps, batch), dtype=bool) if lengths is None
                       else valid_steps(np.asarray(lengths), steps)[:, :, 0])
        return np.where(self._valid, log_probs, 0.0).astype(self.dtype, copy=False)

    def backward(self, dlog_probs: np.ndarray) -> None:
        """Accumulate every parameter's gradient from dL/d log p (T, B); frames past an end get none."""
        if self._valid is None:
            raise RuntimeError("MusicModel.backward called before forward")
        dcontext = self.output.backward(np.where(self._valid, dlog_probs, 0.0).astype(self.dtype, copy=False))
        self.rnn.backward(self.dropout.backward(dcontext))

    def inputs(self, frames: np.ndarray) -> np.ndarray:
        """x (T, B, K + 1): the start bit at t = 0, then frame t - 1 at step t."""
        steps, batch, keys = frames.shape
        x = np.zeros((steps, batch, keys + 1), dtype=self.dtype)
        x[0, :, keys] = 1.0
        x[1:, :, :keys] = frames[:-1]
        return x

    def _check_frames(self, frames: np.ndarray) -> None:
        if frames.ndim != 3 or frames.shape[2] != self.config.num_keys:
            raise ValueError(f"frames: expected shape (T, B, {self.config.num_keys}), got {frames.shape}")

    def stepper(self, batch: int = 1) -> RollStepper:
        return RollStepper(self, batch)


class RollStepper:
    """One frame at a time, for generation and priming.

    ``stepper.context`` (B, H) is the recurrent output that conditions the next frame.
    ``observe(frames)`` scores given frames (B, K) and feeds them in; ``sample(rng,
    temperature)`` draws frames and feeds them in. Dropout is off, as in eval mode.
    """

    def __init__(self, model: MusicModel, batch: int = 1):
        self.model = model
        self.recurrent = model.rnn.stepper(batch=batch)
        start = np.zeros((batch, model.config.num_keys + 1), dtype=model.dtype)
        start[:, -1] = 1.0
        self.context = self.recurrent(start)

    def observe(self, frames: np.ndarray) -> np.ndarray:
        """log p(frames | the frames before) (B,), then step past ``frames``."""
        log_probs = self.model.output.log_prob(self.context, frames)
        self._advance(frames)
        return log_probs

    def sample(self, rng: np.random.Generator, temperature: float = 1.0) -> np.ndarray:
        """Draw the next frame (bool (B, K)) at ``temperature``, then step past it."""
        frames = self.model.output.sample(self.context, rng, temperature)
        self._advance(frames)
        return frames

    def _advance(self, frames: np.ndarray) -> None:
        x = np.zeros((len(frames), self.model.config.num_keys + 1), dtype=self.model.dtype)
        x[:, :-1] = frames
        self.context = self.recurrent(x)


def generate(model: MusicModel, length: int, rng: np.random.Generator, temperature: float = 1.0,
             primer: np.ndarray | None = None) -> np.ndarray:
    """A roll (P + length, K) of bool: the ``primer`` (P, K), if any, then ``length`` sampled frames."""
    if not isinstance(length, (int, np.integer)) or length < 1:
        raise ConfigError(f"`length` must be a positive number of frames, got {length!r}")
    if not temperature > 0:
        raise ConfigError(f"`temperature` must be positive, got {temperature!r}")
    keys = model.config.num_keys
    primer = np.zeros((0, keys), dtype=bool) if primer is None else _check_primer(primer, keys)
    stepper = model.stepper(batch=1)
    for frame in primer:
        stepper.observe(frame[None])
    sampled = [stepper.sample(rng, temperature)[0] for _ in range(length)]
    return np.concatenate([primer, np.array(sampled, dtype=bool).reshape(length, keys)])


def _check_primer(primer: np.ndarray, keys: int) -> np.ndarray:
    primer = np.asarray(primer)
    if keys == 88:
        return check_roll(primer, "primer")
    if primer.ndim != 2 or primer.shape[1] != keys:
        raise ConfigError(f"`primer`: expected shape (P, {keys}), got {primer.shape}")
    return primer.astype(bool)


def score_rolls(model: MusicModel, rolls: Sequence[np.ndarray], batch_size: int = 16,
                first_frame: bool = False) -> FrameScore:
    """The model's NLL of the rolls (eval mode): frames 2 .. T of each piece, and frame 1 with ``first_frame``."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    order = np.argsort([len(roll) for roll in rolls], kind="stable")     # similar lengths pad little
    try:
        for start in range(0, len(order), batch_size):
            frames, lengths = pad_rolls([rolls[i] for i in order[start:start + batch_size]], model.dtype)
            mask = scored_frames(lengths, len(frames), first_frame)
            total -= float(np.sum(model(frames, lengths), where=mask, dtype=np.float64))
            count += int(mask.sum())
    finally:
        model.train(was_training)
    return FrameScore(total, count)
