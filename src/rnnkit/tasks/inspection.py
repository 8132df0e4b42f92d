"""The workflows of ``rnnkit inspect``: the lessons of the founding texts, drawn for trained runs.

Each takes run directories (character models of ``rnnkit train``), a text to read and an
output folder, and returns what ``rnnkit.inspect`` measured; the pictures, CSVs and HTML
go to the folder:

    gradients(runs, text, out)    ||dE_t/dh_{t-d}|| against d, each run's cell trained and at initialisation
    cell_path(run, text, out)     the LSTM's dc_t/dc_{t-d} beside the product of its forget gates
    cells(run, text, out)         the cell that best tracks each feature of the text; gate saturation
    states(run, text, out)        every step's states and gates, for LSTMVis (states.h5) and as safetensors
    clipping(out)                 an exploding RNN trained without clipping, by value, by global norm
    memory(out, ...)              success against sequence length on the memory tasks
"""

from __future__ import annotations

from pathlib import Path

from rnnkit import inspect
from rnnkit.data.text import read_text
from rnnkit.errors import ConfigError
from rnnkit.inspect.reports import encode
from rnnkit.tasks import language_model

MAX_CHARACTERS = 20000       # of the text, read by cells and states
GRADIENT_CHARACTERS = 200000  # of the text, from which gradients draws its windows


INSPECTED_CELLS = ("rnn", "lstm", "gru")


def load_char_model(run_dir: Path, which: str = "best"):
    """The trained character model of a run and its vocabulary: characters, and a plain RNN, LSTM or GRU
    stack (the measurements read their gates and W_hh; word models, layer-normalised cells and the
    min cells are refused by name)."""
    run = language_model.load_run(run_dir, which)
    config = run.spec.model
    if run.spec.tokens != "chars":
        raise ConfigError(f"{run_dir} is a model of {run.spec.tokens}: the measurements read character models")
    if config.cell not in INSPECTED_CELLS or config.layer_norm:
        what = "layer-normalised " + config.cell if config.layer_norm else config.cell
        raise ConfigError(f"{run_dir} is a {what} model: the measurements read plain "
                          f"{', '.join(INSPECTED_CELLS)} layers")
    return run, run.model, run.spec.vocab


def gradients(run_dirs: list[Path], text_path: Path, out_dir: Path, max_distance: int = 100, windows: int = 64,
              seed: int = 0) -> dict:
    """Each run's model, and a fresh one of the same config (seeded), on the same windows of the text:
    OUT/gradients.png and gradients.csv. Runs must differ in their cell (e.g. rnn, lstm, gru)."""
    models = {}
    ids = None
    for run_dir in run_dirs:
        run, model, vocab = load_char_model(run_dir)
        cell = run.spec.model.cell
        if cell in models:
            raise ConfigError(f"two runs of the cell {cell!r}: give one run per cell")
        models[cell] = {"init": run.spec.build_model(rng=seed).eval(), "trained": model}
        if ids is None:
            _, ids = encode(vocab, read_text(text_path), GRADIENT_CHARACTERS)
    out_dir.mkdir(parents=True, exist_ok=True)
    return inspect.compare_gradient_distance(models, ids, out_dir / "gradients.png", out_dir / "gradients.csv",
                                             max_distance=max_distance, windows=windows, rng=seed)


def cell_path(run_dir: Path, text_path: Path, out_dir: Path, max_distance: int = 60) -> dict:
    """OUT/cell_path.png and cell_path.csv for an LSTM run."""
    run, model, vocab = load_char_model(run_dir)
    if run.spec.model.cell != "lstm":
        raise ConfigError(f"the cell path is the LSTM's; {run_dir} is a {run.spec.model.cell} run")
    out_dir.mkdir(parents=True, exist_ok=True)
    return inspect.cell_path_report(model, vocab, read_text(text_path), out_dir, max_distance=max_distance)


def cells(run_dir: Path, text_path: Path, out_dir: Path) -> dict:
    """OUT/cells.csv, a page and a PNG per found cell, and the gates' saturation."""
    _, model, vocab = load_char_model(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return inspect.cells_report(model, vocab, read_text(text_path), out_dir, max_chars=MAX_CHARACTERS)


def states(run_dir: Path, text_path: Path, out_dir: Path) -> dict[str, Path]:
    """OUT/lstmvis/ (states.h5, train.h5, words.dict, lstm.yml) and OUT/states.safetensors."""
    _, model, vocab = load_char_model(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return inspect.export_states(model, vocab, read_text(text_path), out_dir, max_chars=MAX_CHARACTERS)


def clipping(out_dir: Path, setup: inspect.ClippingSetup | None = None) -> dict:
    """OUT/clipping.png: loss and gradient norm without clipping, clipped by value, clipped by norm."""
    setup = setup or inspect.ClippingSetup()
    results = inspect.clipping_experiment(setup)
    out_dir.mkdir(parents=True, exist_ok=True)
    inspect.plot_clipping(results, out_dir / "clipping.png", setup)
    return results


def memory(out_dir: Path, tasks, cells, lengths, seconds: float, seeds=(0,), progress=None) -> list[dict]:
    """OUT/memory.csv and memory.png: every task x cell x length x seed, ``seconds`` of training each."""
    out_dir.mkdir(parents=True, exist_ok=True)
    config = inspect.MemoryRunConfig(time_budget_s=seconds)
    return inspect.memory_task_table(tasks, cells, lengths, seeds, config, out_dir / "memory.csv",
                                     out_dir / "memory.png", progress)
