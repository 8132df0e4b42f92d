"""rnnkit/training/config.py: TrainConfig's fields and their checks, make_optimizer, make_schedule."""

import dataclasses

import pytest

from rnnkit.errors import ConfigError
from rnnkit.layers.linear import Linear
from rnnkit.optim import SGD, Adagrad, Adam, AdamW, ExponentialAfter, ReduceLROnPlateau, RMSprop, StepLR
from rnnkit.training.config import (ADAMW_DEFAULT_WEIGHT_DECAY, OPTIMIZERS, SCHEDULES, TrainConfig, check,
                                    help_text, make_optimizer, make_schedule, problem, value_range)


def model():
    return Linear(3, 2, rng=0)


def hyperparameters(optimizer) -> dict:
    """Every scalar an optimizer keeps (lr, momentum, betas, eps, ...) and its class name."""
    _, scalars = optimizer.state_dict()
    return scalars


# -- make_optimizer: every branch, with values that differ from every default ---------------------------------
SET = dict(lr=0.05, momentum=0.5, weight_decay=0.02, rmsprop_alpha=0.9, adagrad_eps=1e-6)

EXPECTED_OPTIMIZERS = {
    "adam": (Adam, dict(lr=0.05, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.02)),
    "adamw": (AdamW, dict(lr=0.05, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.02)),
    "sgd": (SGD, dict(lr=0.05, momentum=0.5, nesterov=False, weight_decay=0.02, dampening=0.0)),
    "adagrad": (Adagrad, dict(lr=0.05, eps=1e-6, weight_decay=0.02)),
    "rmsprop": (RMSprop, dict(lr=0.05, alpha=0.9, eps=1e-8, momentum=0.5, weight_decay=0.02)),
}


def test_every_optimizer_has_a_test():
    assert sorted(EXPECTED_OPTIMIZERS) == sorted(OPTIMIZERS)


@pytest.mark.parametrize("name", sorted(EXPECTED_OPTIMIZERS))
def test_make_optimizer_builds_the_named_optimizer_with_the_configured_values(name):
    kind, expected = EXPECTED_OPTIMIZERS[name]
    optimizer = make_optimizer(TrainConfig(optimizer=name, **SET), model())
    assert type(optimizer) is kind                 # not a subclass: AdamW is an Adam
    assert hyperparameters(optimizer) == {"type": kind.__name__, "step_count": 0, **expected}


def test_adamw_without_weight_decay_gets_its_customary_decay():
    config = TrainConfig(optimizer="adamw")
    assert config.weight_decay == 0 and config.effective_weight_decay == ADAMW_DEFAULT_WEIGHT_DECAY == 0.01
    assert make_optimizer(config, model()).weight_decay == 0.01
    assert make_optimizer(TrainConfig(optimizer="adam"), model()).weight_decay == 0.0   # only adamw


@pytest.mark.parametrize("name, field, value, attribute", [
    ("rmsprop", "rmsprop_alpha", 0.5, "alpha"),
    ("adagrad", "adagrad_eps", 1e-3, "eps"),
    ("sgd", "momentum", 0.9, "momentum"),
    ("rmsprop", "momentum", 0.25, "momentum"),
])
def test_each_optimizer_field_reaches_the_optimizer(name, field, value, attribute):
    assert getattr(make_optimizer(TrainConfig(optimizer=name, **{field: value}), model()), attribute) == value


# -- make_schedule: every branch ------------------------------------------------------------------------------
EXPECTED_SCHEDULES = {
    "none": None,
    "step": (StepLR, dict(epoch=0, step_size=3, gamma=0.5)),
    "char-rnn": (ExponentialAfter, dict(epoch=0, start_epoch=3, factor=0.5)),
    "plateau": (ReduceLROnPlateau, dict(epoch=0, factor=0.5, patience=4, threshold=1e-4, min_lr=0.0,
                                        best=None, bad_epochs=0)),
}


def test_every_schedule_has_a_test():
    assert sorted(EXPECTED_SCHEDULES) == sorted(SCHEDULES)


@pytest.mark.parametrize("name", sorted(EXPECTED_SCHEDULES))
def test_make_schedule_builds_the_named_schedule_with_the_configured_values(name):
    config = TrainConfig(schedule=name, decay=0.5, decay_after=3, plateau_patience=4)
    optimizer = make_optimizer(config, model())
    schedule = make_schedule(config, optimizer)
    if EXPECTED_SCHEDULES[name] is None:
        assert schedule is None
        return
    kind, expected = EXPECTED_SCHEDULES[name]
    assert type(schedule) is kind and schedule.optimizer is optimizer
    assert schedule.state_dict() == {"type": kind.__name__, **expected}


@pytest.mark.parametrize("name, lrs", [
    ("step", [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]),            # x0.5 at the end of epochs 3 and 6
    ("char-rnn", [1.0, 1.0, 1.0, 0.5, 0.25, 0.125, 0.0625]),   # x0.5 at the end of epoch 3 and each later one
])
def test_epoch_schedules_decay_as_configured(name, lrs):
    config = TrainConfig(lr=1.0, schedule=name, decay=0.5, decay_after=3)
    optimizer = make_optimizer(config, model())
    schedule = make_schedule(config, optimizer)
    seen = [optimizer.lr]                           # lr during epoch 1, 2, ...
    for _ in range(6):
        schedule.step()
        seen.append(optimizer.lr)
    assert seen == lrs


@pytest.mark.parametrize("patience", [0, 2, 3])
def test_plateau_schedule_waits_plateau_patience_validations(patience):
    config = TrainConfig(lr=1.0, schedule="plateau", decay=0.5, plateau_patience=patience)
    optimizer = make_optimizer(config, model())
    schedule = make_schedule(config, optimizer)
    schedule.step(1.0)                              # the first: the best so far
    for _ in range(patience):                       # this many without improvement are tolerated
        schedule.step(1.0)
        assert optimizer.lr == 1.0
    schedule.step(1.0)                              # one more decays the rate
    assert optimizer.lr == 0.5


# -- ranges: ConfigError naming the field, never a flag ---------------------------------------------------------
OUT_OF_RANGE = [
    ("epochs", 0, {}, "must be at least 1"),
    ("max_steps", -1, {}, "must not be negative"),
    ("max_minutes", -0.5, {}, "must not be negative"),
    ("optimizer", "lbfgs", {}, "must be one of adam, adamw, sgd, adagrad, rmsprop"),
    ("lr", 0.0, {}, "must be positive"),
    ("lr", -1e-3, {}, "must be positive"),
    ("lr", float("nan"), {}, "must be a finite number"),
    ("lr", float("inf"), {}, "must be a finite number"),
    ("momentum", 5, {}, "must lie in [0, 1)"),
    ("momentum", 1.0, {"optimizer": "sgd"}, "must lie in [0, 1)"),
    ("momentum", -0.1, {}, "must lie in [0, 1)"),
    ("weight_decay", -0.01, {}, "must not be negative"),
    ("rmsprop_alpha", 1.0, {"optimizer": "rmsprop"}, "must lie in [0, 1)"),
    ("rmsprop_alpha", -0.5, {}, "must lie in [0, 1)"),
    ("adagrad_eps", 0.0, {}, "must be positive"),
    ("adagrad_eps", -1e-8, {}, "must be positive"),
    ("clip_norm", -1.0, {}, "must not be negative"),
    ("clip_value", -1.0, {}, "must not be negative"),
    ("schedule", "cosine", {}, "must be one of none, step, char-rnn, plateau"),
    ("decay", 0.0, {}, "must be positive"),
    ("decay", -0.5, {"schedule": "step"}, "must be positive"),
    ("decay", 1.0, {"schedule": "plateau"}, "must lie in (0, 1) with `schedule` 'plateau'"),
    ("decay", 1.5, {"schedule": "plateau"}, "must lie in (0, 1) with `schedule` 'plateau'"),
    ("decay_after", 0, {"schedule": "step"}, "must be at least 1"),
    ("plateau_patience", -1, {"schedule": "plateau"}, "must not be negative"),
    ("eval_every", 0, {}, "must be at least 1"),
    ("log_every", 0, {}, "must be at least 1"),
    ("sample_every", -1, {}, "must not be negative"),
    ("checkpoint_every", 0, {}, "must be at least 1"),
    ("patience", -2, {}, "must not be negative"),
    ("min_delta", -1e-4, {}, "must not be negative"),
    ("on_nan", "ignore", {}, "must be one of stop, reduce-lr"),
    ("seed", -1, {}, "must not be negative"),
    ("epochs", 2.5, {}, "must be an integer"),
    ("seed", True, {}, "must be an integer"),
    ("lr", "fast", {}, "must be a number"),
    ("monitor", 3, {}, "must be a string"),
]


@pytest.mark.parametrize("name, value, others, message", OUT_OF_RANGE,
                         ids=[f"{name}={value!r}" for name, value, _, _ in OUT_OF_RANGE])
def test_an_out_of_range_value_is_a_config_error_naming_the_field(name, value, others, message):
    with pytest.raises(ConfigError) as caught:
        TrainConfig(**others, **{name: value})
    text = str(caught.value)
    assert text.startswith(f"`{name}` {message}")
    assert "--" not in text and text.endswith(f"got {value!r}")
    # the function the command line calls at parse time says the same, without the field's name
    assert problem(name, value, others) == text[len(f"`{name}` "):]
    with pytest.raises(ConfigError, match=f"^`{name}` "):
        check(name, value, others)


def test_every_field_has_a_range_or_choices_but_the_monitor():
    for spec in dataclasses.fields(TrainConfig):
        has = "range" in spec.metadata or "choices" in spec.metadata
        assert has == (spec.name != "monitor"), spec.name


@pytest.mark.parametrize("name, value, others", [
    ("momentum", 0.999, {}), ("momentum", 0.0, {}), ("rmsprop_alpha", 0.0, {}), ("rmsprop_alpha", 0.999, {}),
    ("decay", 1.5, {"schedule": "step"}), ("decay", 2.0, {"schedule": "char-rnn"}),
    ("decay", 0.999, {"schedule": "plateau"}), ("decay", 1e-9, {"schedule": "plateau"}),
    ("plateau_patience", 0, {"schedule": "plateau"}), ("decay_after", 1, {"schedule": "step"}),
    ("lr", 1e-12, {}), ("seed", 0, {}), ("max_minutes", 3, {}),     # an int where a float is asked
])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_what_the_config_accepts_the_optimizer_and_schedule_accept(name, value, others, optimizer):
    config = TrainConfig(optimizer=optimizer, **others, **{name: value})
    assert problem(name, value, others) is None and check(name, value, others) == value
    make_schedule(config, make_optimizer(config, model()))     # no ValueError from the optimizer or schedule


@pytest.mark.parametrize("optimizer, field, value", [
    ("sgd", "momentum", 1.0), ("rmsprop", "momentum", 1.0), ("rmsprop", "rmsprop_alpha", 1.0),
    ("adagrad", "adagrad_eps", -1.0), ("sgd", "weight_decay", -1.0), ("adam", "lr", -1.0),
])
def test_what_the_optimizer_refuses_the_config_refuses_first(optimizer, field, value):
    base = TrainConfig(optimizer=optimizer)
    with pytest.raises(ValueError):                 # the optimizer's own check, bypassing the config's
        object.__setattr__(base, field, value)
        make_optimizer(base, model())
    with pytest.raises(ConfigError, match=f"^`{field}`"):
        TrainConfig(optimizer=optimizer, **{field: value})


def test_value_range_depends_on_the_schedule_for_decay():
    assert 1.5 in value_range("decay") and 1.5 in value_range("decay", {"schedule": "step"})
    assert 1.5 not in value_range("decay", {"schedule": "plateau"})
    assert 0.5 in value_range("decay", {"schedule": "plateau"}) and 0.0 not in value_range("decay")
    assert value_range("monitor") is None
    assert value_range("momentum").describe() == "must lie in [0, 1)"


def test_an_unknown_field_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown training option `nesterov`"):
        check("nesterov", True)


def test_every_field_has_one_line_of_help_without_its_default():
    for spec in dataclasses.fields(TrainConfig):
        text = help_text(spec.name)
        assert text and "\n" not in text and text == spec.metadata["help"], spec.name
        assert "default" not in text.lower(), spec.name
        assert "--" not in text, spec.name


# -- configs saved by older runs ---------------------------------------------------------------------------------
# train_config as an older run saved it in its checkpoint metadata: no rmsprop_alpha, adagrad_eps or
# plateau_patience, whose values were fixed in make_optimizer / make_schedule (0.95, 1e-8, 2).
OLD_SAVED = {"epochs": 10, "max_steps": 0, "max_minutes": 30.0, "optimizer": "adam", "lr": 0.002,
             "momentum": 0.0, "weight_decay": 0.0, "clip_norm": 5.0, "clip_value": 0.0, "schedule": "plateau",
             "decay": 0.5, "decay_after": 10, "eval_every": 200, "log_every": 1, "sample_every": 1000,
             "checkpoint_every": 500, "patience": 0, "min_delta": 0.0001, "monitor": "val_loss", "on_nan": "stop",
             "seed": 0}

# what those old runs built, written out by hand
OLD_BEHAVIOUR = {
    "adam": {"type": "Adam", "lr": 0.002, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0},
    "adamw": {"type": "AdamW", "lr": 0.002, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01},
    "sgd": {"type": "SGD", "lr": 0.002, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0,
            "dampening": 0.0},
    "adagrad": {"type": "Adagrad", "lr": 0.002, "eps": 1e-8, "weight_decay": 0.0},
    "rmsprop": {"type": "RMSprop", "lr": 0.002, "alpha": 0.95, "eps": 1e-8, "momentum": 0.0, "weight_decay": 0.0},
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_config_saved_by_an_older_run_builds_the_same_optimizer_and_schedule(name):
    config = TrainConfig(**(OLD_SAVED | {"optimizer": name}))
    assert hyperparameters(make_optimizer(config, model())) == {"step_count": 0, **OLD_BEHAVIOUR[name]}
    schedule = make_schedule(config, make_optimizer(config, model()))
    assert schedule.patience == 2 and schedule.factor == 0.5 and schedule.threshold == 1e-4


def test_new_fields_default_to_the_old_constants_and_round_trip_through_json():
    config = TrainConfig(**OLD_SAVED)
    assert (config.rmsprop_alpha, config.adagrad_eps, config.plateau_patience) == (0.95, 1e-8, 2)
    saved = config.to_json()
    assert set(saved) == set(OLD_SAVED) | {"rmsprop_alpha", "adagrad_eps", "plateau_patience"}
    assert TrainConfig(**saved) == config
