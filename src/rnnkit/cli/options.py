"""Argument types that turn bad numbers into argparse's one-line usage errors."""

from __future__ import annotations

import argparse
import math


def positive(kind):
    """An argparse type: ``kind(text)`` that must be > 0."""
    def parse(text: str):
        value = _parse(kind, text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def non_negative(kind):
    """An argparse type: ``kind(text)`` that must be >= 0."""
    def parse(text: str):
        value = _parse(kind, text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
        return value
    return parse


def fraction(text: str) -> float:
    """An argparse type: a number in [0, 1), such as a dropout rate or a validation share."""
    value = _parse(float, text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, got {text}")
    return value


def _parse(kind, text: str):
    """``kind(text)``, refusing text that is no number and numbers that are infinite or NaN."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value
