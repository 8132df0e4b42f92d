"""Online learning: exact real-time recurrent learning, LSTM's truncated gradient, a learner that
updates at every symbol, and the embedded Reber grammar it is measured on.

    rtrl_gradients(layer, x, dy, h0=None)        exact RTRL: the gradient BPTT computes, carried forward
    truncated_gradients(layer, x, dy, h0=None)   the truncated gradient of the LSTM papers (LSTM.java's)
    OnlineNetwork(layer, output_size)            a one-layer cell and a read-out, in one vector θ
    OnlineLearner(network, gradient, optimizer)  learn / predict / run one symbol at a time
    OnlineConfig, build_learner(config, ...)     the same from JSON-able settings
    reber_epoch(learner, rng)                    LSTM.java's training and validation passes
"""

from rnnkit.online.config import (
    OnlineConfig,
    build_learner,
    build_network,
    build_schedule,
)
from rnnkit.online.learner import OnlineLearner
from rnnkit.online.network import OnlineNetwork
from rnnkit.online.reber import ReberEpoch, reber_epoch, reber_pass
from rnnkit.online.rtrl import RTRL, rtrl_gradients
from rnnkit.online.rules import GRADIENTS
from rnnkit.online.truncated import TruncatedLSTM, truncated_gradients

__all__ = [
    "GRADIENTS", "RTRL", "OnlineConfig", "OnlineLearner", "OnlineNetwork", "ReberEpoch", "TruncatedLSTM",
    "build_learner", "build_network", "build_schedule", "reber_epoch", "reber_pass", "rtrl_gradients",
    "truncated_gradients",
]
