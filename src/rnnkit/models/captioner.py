"""Image captioning: the translator's decoder conditioned on an image's feature vector.

A frozen convolutional network (``rnnkit.data.images``) turns an image into a feature vector
x (F,); a recurrent decoder writes the caption from it. For a batch of features x (B, F) and
captions y_in = <bos> y_1 .. y_n, y_out = y_1 .. y_n <eos> (both (T, B), padded):

    image        x'   = dropout(x)
    conditioning, one of ``conditioning``:
      "concat"   v    = x' W_v^T + b_v  (B, E)         an extra input at every step: x_t = [i_t; v]
                                                       (the founding text's design: the CNN's last
                                                       layer feeds the RNN's first layer)
      "init"     s0_k = tanh(x' W_k^T + b_k)           per state k (h, and c for an LSTM), (B, L H)
                                                       read as (L, B, H): the initial state of each layer
      "first"    v    = x' W_v^T + b_v  (B, E)         the first input, i_0 = v, in place of <bos>'s
                                                       embedding: the image is the first "word"
    decoder      i_t  = dropout(E[y_in_t]),  s_t = dec(x_t, s_{t-1}),  z_t = dropout(s_t) W_o^T + b_o

``rnnkit.models.decoder.ConditionedDecoder`` (the one translation uses) does the decoder's
part, forward and backward. Backward, from the decoder's gradients of what conditioned it:

    "concat"   dv = sum_t dx_t[v]           "first"   dv = dx_0[i]
    "init"     dpre_k = ds0_k * (1 - s0_k^2)    (B, L H)
    then, with d = dv (or dpre_k for W_k, b_k):  dW += d^T x',  db += sum_b d   (no gradient flows
               into the features: the encoder is frozen)

Which paper does what: Vinyals et al. 2015 ("Show and Tell") feed the image once, as the first
input ("first" here), and report that feeding it at every step overfitted; the initial-state form
("init") is how many re-implementations of it read; Karpathy and Fei-Fei 2015 (NeuralTalk) add
the projected image to the recurrence's input at the first step only; the founding text gives it
to every step ("concat").

There is no attention: attention weighs several vectors (Xu et al. 2015 attend over a 14x14 grid
of CNN features), but the pooled feature is one vector, so its softmax weight is always 1 and its
context always v: attention would add a combine layer and nothing to attend. The decoder is
therefore the translator's without a memory (h~_t = s_t).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.layers.dropout import Dropout
from rnnkit.layers.linear import Linear
from rnnkit.models.decoder import CELLS, ConditionedDecoder, DecoderStepper, Targets
from rnnkit.models.decoding import Decoding, check_positive
from rnnkit.models.json_config import (
    JsonConfig,
    check_positive_ints,
    check_probability,
    check_size_from_data,
    require_size_from_data,
)

CONDITIONING = ("concat", "init", "first")


@dataclass
class CaptionerConfig(JsonConfig):
    vocab_size: int = 0                  # 0 until the training captions are read
    feature_size: int = 0                # F, the image encoder's output size; 0 until the features are read
    conditioning: str = "concat"         # concat | init | first: how the image enters the decoder
    cell: str = "lstm"                   # lstm | gru
    embedding_dim: int = 256
    hidden_size: int = 256
    num_layers: int = 1
    tied_embeddings: bool = False        # output weights = embeddings (embedding_dim = hidden_size)
    label_smoothing: float = 0.0
    dropout: float = 0.3                 # on the features, the embeddings, between layers, before the output
    feature_dropout: float = -1.0        # on the features alone; < 0: ``dropout``

    def __post_init__(self):
        for name, value, choices in (("cell", self.cell, CELLS), ("conditioning", self.conditioning, CONDITIONING)):
            if value not in choices:
                raise ConfigError(f"unknown `{name}` {value!r}: choose one of {', '.join(choices)}")
        check_size_from_data(self, "vocab_size")
        check_size_from_data(self, "feature_size")
        check_positive_ints(self, "embedding_dim", "hidden_size", "num_layers")
        if self.tied_embeddings and self.embedding_dim != self.hidden_size:
            raise ConfigError(f"`tied_embeddings` needs `embedding_dim` = `hidden_size`, got "
                              f"{self.embedding_dim} and {self.hidden_size}")
        check_probability("label_smoothing", self.label_smoothing)
        check_probability("dropout", self.dropout)
        if self.feature_dropout >= 0:
            check_probability("feature_dropout", self.feature_dropout)

    @property
    def image_dropout(self) -> float:
        return self.dropout if self.feature_dropout < 0 else self.feature_dropout


@dataclass(frozen=True)
class CaptionBatch(Targets):
    """A batch of captions with their images' features; captions time-major, padded with PAD_ID."""

    features: np.ndarray           # (B, F)
    target_inputs: np.ndarray      # (T, B): <bos> y_1 .. y_n
    target_outputs: np.ndarray     # (T, B): y_1 .. y_n <eos>


@dataclass
class _ImageCache:
    """What the backward of the image's part reads."""

    initial_state: list[np.ndarray] | None    # s0_k (L, B, H) per state, with "init"


class Captioner(ConditionedDecoder):
    """``logits = model(features, target_inputs)`` (T, B, V); ``model.backward(dlogits)``."""

    def __init__(self, config: CaptionerConfig, dtype=np.float32, rng=None):
        super().__init__()
        require_size_from_data(config, "vocab_size")
        require_size_from_data(config, "feature_size")
        self.config, self.dtype = config, np.dtype(dtype)
        rng = np.random.default_rng(rng)
        E, H, L, F = config.embedding_dim, config.hidden_size, config.num_layers, config.feature_size
        self.feature_dropout = Dropout(config.image_dropout, rng=rng)
        if config.conditioning == "init":
            self.image_h = Linear(F, L * H, dtype=dtype, rng=rng)
            if config.cell == "lstm":
                self.image_c = Linear(F, L * H, dtype=dtype, rng=rng)
        else:
            self.image = Linear(F, E, dtype=dtype, rng=rng)
        self.build_decoder(config.cell, config.vocab_size, E, H, L, config.dropout, dtype, rng,
                           extra_size=E if config.conditioning == "concat" else 0,
                           tied_embeddings=config.tied_embeddings)
        self._image_cache: _ImageCache | None = None

    # -- forward --------------------------------------------------------------------------------
    def forward(self, features: np.ndarray, target_inputs: np.ndarray) -> np.ndarray:
        """Image features (B, F) and caption inputs (T, B) -> logits (T, B, V)."""
        features = self.check_features(features)
        if target_inputs.ndim != 2 or target_inputs.shape[1] != len(features):
            raise ValueError(f"target_inputs: expected shape (T, {len(features)}) (the features' batch), "
                             f"got {target_inputs.shape}")
        conditioning = self.condition(self.feature_dropout(features))
        self._image_cache = _ImageCache(conditioning.get("initial_state"))
        return self.decode(target_inputs, **conditioning)

    def condition(self, features: np.ndarray) -> dict:
        """What the decoder reads of the image: ``decode``'s keyword arguments (extra, first or initial_state)."""
        mode = self.config.conditioning
        if mode == "init":
            return {"initial_state": [self._layers(np.tanh(projection(features))) for projection in self._initial()]}
        return {"extra" if mode == "concat" else "first": self.image(features)}

    def _initial(self) -> list[Linear]:
        return [self.image_h, self.image_c] if self.config.cell == "lstm" else [self.image_h]

    def _layers(self, projected: np.ndarray) -> np.ndarray:
        """(B, L H) -> (L, B, H)."""
        batch = len(projected)
        return np.ascontiguousarray(projected.reshape(batch, self.config.num_layers, -1).transpose(1, 0, 2))

    def check_features(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features)
        if features.ndim != 2 or features.shape[1] != self.config.feature_size:
            raise ValueError(f"features: expected shape (B, {self.config.feature_size}), got {features.shape}")
        if not np.issubdtype(features.dtype, np.floating):
            raise ValueError(f"features must be floating-point numbers, got {features.dtype}")
        return features.astype(self.dtype, copy=False)

    # -- backward -------------------------------------------------------------------------------
    def backward(self, dlogits: np.ndarray) -> None:
        """Accumulate every parameter's gradient from dL/dlogits (T, B, V)."""
        cache = self._image_cache
        if cache is None:
            raise RuntimeError("Captioner.backward called before forward")
        grads = self.decode_backward(dlogits)
        mode = self.config.conditioning
        if mode == "init":
            for projection, dstate, state in zip(self._initial(), grads.initial_state, cache.initial_state):
                dpre = dstate * (1.0 - state * state)                     # (L, B, H)
                projection.backward(dpre.transpose(1, 0, 2).reshape(dpre.shape[1], -1))
        else:
            self.image.backward(grads.extra if mode == "concat" else grads.first)

    # -- decoding -------------------------------------------------------------------------------
    def stepper(self, features: np.ndarray, repeats: int = 1) -> DecoderStepper:
        """The decoder one token at a time over images ``features`` (B, F), each on ``repeats`` rows
        (``DecoderStepper``; the image enters as in ``forward``, without dropout)."""
        features = self.check_features(features)
        was_training = self.feature_dropout.training
        self.feature_dropout.eval()
        try:
            conditioning = self.condition(features)
        finally:
            self.feature_dropout.train(was_training)
        return DecoderStepper(self, len(features), repeats, **conditioning)

    def decoding(self, features: np.ndarray, max_length: int = 30) -> Decoding:
        """The ``Decoding`` of images ``features`` (B, F): captions of at most ``max_length`` tokens,
        the <eos> included (``rnnkit.models.decoding``'s decode_greedy, decode_sample, decode_beam)."""
        features = self.check_features(features)
        check_positive("max_length", max_length)
        return Decoding(self, lambda items, repeats: self.stepper(features[items], repeats),
                        np.full(len(features), max_length))
