"""rnnkit/inspect/memory.py: the memory-task models (gradchecked), one run, the success table."""

import numpy as np
import pytest

from rnnkit.errors import ConfigError
from rnnkit.gradcheck import gradcheck
from rnnkit.inspect.memory import (TASKS, MemoryModel, MemoryRunConfig, memory_task_table, summarise,
                                   train_memory_task)


@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_memory_models_backward_matches_finite_differences(task, cell):
    """The read-out at each sequence's own last step (lengths differ) or at every step, through ``backward``."""
    spec = TASKS[task]
    model = MemoryModel(spec, cell, 4, dtype=np.float64, rng=0)
    batch = spec.make_batch(3, 24 if task != "copy" else 3, rng=1, dtype=np.float64)

    def loss():
        return spec.loss(model(batch), batch)[0]

    model.zero_grad()
    y = model(batch)
    model.backward(spec.loss(y, batch)[1])
    result = gradcheck(loss, model.parameters(), model.grads)
    assert result.max_error < 1e-6, result


def test_gru_solves_the_adding_problem_at_a_short_lag():
    config = MemoryRunConfig(hidden_size=16, time_budget_s=60, max_steps=1500, eval_every=50, test_size=200)
    row = train_memory_task("adding", "gru", 22, config, seed=0)
    assert row["solved"] and row["test_accuracy"] >= 0.95
    assert row["solved_at_step"] == row["steps"] <= 1500


def test_memory_task_table_writes_csv_and_png(tmp_path):
    config = MemoryRunConfig(hidden_size=4, time_budget_s=5, max_steps=3, eval_every=2, test_size=16)
    seen = []
    rows = memory_task_table(["adding", "copy", "temporal_order"], ["rnn", "lstm-fb1"], [22, 30], seeds=[0],
                             config=config, csv_path=tmp_path / "m.csv", png_path=tmp_path / "m.png",
                             progress=seen.append)
    assert len(rows) == len(seen) == 3 * 2 * 2
    assert {(r["task"], r["cell"], r["T"]) for r in rows} == {(t, c, T) for t in ("adding", "copy", "temporal_order")
                                                              for c in ("rnn", "lstm-fb1") for T in (22, 30)}
    lines = (tmp_path / "m.csv").read_text().splitlines()
    assert lines[0].startswith("# hidden_size=4") and lines[1].startswith("task,cell,T,seed") and len(lines) == 14
    assert (tmp_path / "m.png").read_bytes().startswith(b"\x89PNG")
    summary = summarise(rows)
    assert all(0.0 <= s["accuracy"] <= 1.0 and s["runs"] == 1 for s in summary.values())


def test_forget_bias_one_starts_the_forget_gate_open():
    model = MemoryModel(TASKS["adding"], "lstm-fb1", 8, rng=0)
    p = model.rnn.cell_parameters(0)
    np.testing.assert_array_equal(p["bias_ih"][8:16] + p["bias_hh"][8:16], 1.0)


def test_unknown_task_and_cell_are_config_errors():
    with pytest.raises(ConfigError, match="unknown `task` 'x'"):
        train_memory_task("x", "lstm", 30)
    with pytest.raises(ConfigError, match="unknown `cell` 'y'"):
        MemoryModel(TASKS["adding"], "y", 4)
