"""Argument types that turn bad numbers into argparse's one-line usage errors."""

from __future__ import annotations

import argparse


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


def _parse(kind, text: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}")
