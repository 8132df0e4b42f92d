"""Optimizers, learning-rate schedules and gradient clipping."""

from rnnkit.optim.clipping import clip_grad_norm, clip_grad_value
from rnnkit.optim.optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from rnnkit.optim.schedules import ExponentialAfter, ReduceLROnPlateau, StepLR

__all__ = [
    "SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop",
    "ExponentialAfter", "ReduceLROnPlateau", "StepLR",
    "clip_grad_norm", "clip_grad_value",
]
