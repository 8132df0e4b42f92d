"""A mixin for model config dataclasses: to and from the plain JSON a checkpoint's meta.json holds."""

from __future__ import annotations

from dataclasses import asdict

from rnnkit.errors import ConfigError


class JsonConfig:
    """``to_json()`` gives a dict of the fields; ``from_json(data)`` checks the fields and builds one."""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict):
        if not isinstance(data, dict):
            raise ConfigError(f"model config must be a JSON object, got {type(data).__name__}")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"model config has unknown fields {sorted(unknown)}")
        return cls(**data)


def check_positive_ints(config, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"`{name}` must be a positive integer, got {value!r}")


def check_size_from_data(config, name: str) -> None:
    """A size the data decides (a vocabulary's, a number of classes): 0 until the data is read, then positive."""
    value = getattr(config, name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"`{name}` must be a positive integer (or 0 until the data sets it), got {value!r}")


def require_size_from_data(config, name: str) -> None:
    """Building a model needs the size the data decides."""
    if getattr(config, name) == 0:
        raise ConfigError(f"`{name}` is 0: it comes from the data; build the model once the data is read "
                          "(a task's prepare sets it)")


def check_probability(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"`{name}` must be in [0, 1), got {value}")
