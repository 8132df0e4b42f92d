"""rnnkit/inspect/clipping.py: the exploding configuration, and the three runs from one start."""

import numpy as np
import pytest

from rnnkit.inspect.clipping import ClippingSetup, clipping_experiment, exploding_model, plot_clipping


def test_exploding_model_has_the_spectral_radius_asked_for():
    model = exploding_model(ClippingSetup(spectral_radius=2.5, hidden_size=6))
    weight = model.rnn.parameters()["weight_hh_l0"]
    assert np.abs(np.linalg.eigvals(weight)).max() == pytest.approx(2.5)
    assert model.rnn.cell.nonlinearity == "tanh"


def test_clipping_keeps_the_exploding_run_finite_and_bounded(tmp_path):
    setup = ClippingSetup(steps=80)              # the default configuration, explodes by update ~40
    results = clipping_experiment(setup)
    assert set(results) == {"none", "value", "norm"}
    first_norms = {mode: curves["grad_norm"][0] for mode, curves in results.items()}
    assert len(set(first_norms.values())) == 1                     # the same start, the same first batch
    unclipped = results["none"]["loss"]
    assert not np.all(np.isfinite(unclipped)) or np.nanmax(unclipped) > 1e6
    for mode in ("value", "norm"):
        assert np.all(np.isfinite(results[mode]["loss"])) and np.nanmax(results[mode]["loss"][20:]) < 10
    plot_clipping(results, tmp_path / "clip.png", setup)
    assert (tmp_path / "clip.png").read_bytes().startswith(b"\x89PNG")
