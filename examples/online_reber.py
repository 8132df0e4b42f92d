"""Issue 16: the embedded Reber grammar learned online, one symbol at a time, as LSTM.java learns it.

    python examples/online_reber.py                               # the chosen LSTM, seed 0
    python examples/online_reber.py --methods fast --seeds 5      # truncated, BPTT, RTRL (8 cells), RNN, LSTM.java's
    python examples/online_reber.py --methods all --seeds 5       # and RTRL with 15 cells, the RNN with BPTT
    python examples/online_reber.py --methods ablations --seeds 5 # CHOSEN with one setting changed at a time
    python examples/online_reber.py --timing                      # RTRL, truncated and BPTT per step, by size
    python examples/online_reber.py --methods fast --out DIR --plot methods.png   # the curves of DIR's runs
    python examples/online_reber.py --methods truncated,sigmoid-output --seeds 3 --latching 20  # latched cells

Each run is LSTM.java's Test.java: epochs of a training pass and a validation pass of
5,000 symbols each (``rnnkit.online.reber_epoch``), the state reset at the start of each
pass and never in between. A run stops once its validation long-transition error has
been zero for ``--streak`` (100) epochs in a row, or after ``--epochs`` (300). Every
epoch is appended to OUT/METHOD/seed-K.jsonl and every finished run to OUT/runs.jsonl
(a run found there is not run again: the script resumes), and the table of runs is
printed as Markdown: the first error-free epoch, the epoch that began the first
100-epoch streak ("solved at"), the longest streak, and the wall time. Epochs count
from 0, as Test.java prints them. ``--plot PNG`` draws the validation long-transition
error per epoch of the runs already in OUT, a panel per method and a line per seed.

The anchor (issue 16): LSTM.java, 15 cell blocks, seed 1234, 1,000 epochs: first zero
at epoch 208, never 100 in a row (6 of its last 100 epochs under 0.05), 5 min 38 s.

CHOSEN, the setting that solves it (peephole LSTM of 15 cells, truncated gradient):
a linear read-out trained with squared error (as LSTM.java's), Adam at 1e-3 with
beta2 = 0.9999, forget-gate bias 1, rnnkit's initialisation. What decided it: with a
sigmoid read-out and cross-entropy, cells with peepholes latch on the 5,000 symbols
of a pass, never reset in between: input and forget gates held at 1 by the cell's own
state through w_ci and w_cf (both of the sign of c), c growing by ~1 a symbol into the
thousands, tanh(c) saturated, so that δc = dh o tanh'(tanh c) is 0 and no gradient
reaches those gates again. After 20 epochs, seeds 0-2, 9, 10 and 9 of the 15 cells
had latched so (|c| > 100 at the end of a validation pass, i and f > 0.99 over its
last 1,000 symbols); 0, 2 and 2 with CHOSEN; none without peepholes (``--latching 20``).
The ablations change one setting of CHOSEN at a time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from rnnkit.data import reber
from rnnkit.online import (
    OnlineConfig,
    build_learner,
    build_schedule,
    reber_epoch,
    rtrl_gradients,
    truncated_gradients,
)
from rnnkit.online.reber import streak_summary
from rnnkit.tasks.online import stream_rng

SYMBOLS = len(reber.SYMBOLS)
CHOSEN = OnlineConfig(cell="lstm", hidden_size=15, peephole=True, forget_bias=1.0, output="linear",
                      gradient="truncated", optimizer="adam", lr=1e-3, betas=(0.9, 0.9999))
METHODS = {
    "truncated": CHOSEN,
    "rtrl-8": dataclasses.replace(CHOSEN, gradient="rtrl", hidden_size=8),
    "rtrl": dataclasses.replace(CHOSEN, gradient="rtrl"),
    "bptt-20": dataclasses.replace(CHOSEN, gradient="bptt", window=20, update_every=10),
    "rnn-rtrl": dataclasses.replace(CHOSEN, cell="rnn", gradient="rtrl", forget_bias=None),
    "rnn-bptt-20": dataclasses.replace(CHOSEN, cell="rnn", gradient="bptt", window=20, update_every=10,
                                       forget_bias=None),
    "lstm.java-settings": OnlineConfig(hidden_size=15, peephole=True, forget_bias=-2.0, init_range=0.1,
                                       output="linear", optimizer="sgd", lr=0.07),
}
ABLATIONS = {                              # CHOSEN with one setting changed
    "sigmoid-output": dataclasses.replace(CHOSEN, output="sigmoid"),
    "no-forget-bias": dataclasses.replace(CHOSEN, forget_bias=None),
    "forget-bias--2": dataclasses.replace(CHOSEN, forget_bias=-2.0),
    "no-peepholes": dataclasses.replace(CHOSEN, peephole=False),
    "peepholes-from-0": dataclasses.replace(CHOSEN, peephole_range=0.0),
    "adam-beta2-0.999": dataclasses.replace(CHOSEN, betas=(0.9, 0.999)),
    "adam-lr-3e-3": dataclasses.replace(CHOSEN, lr=3e-3),
    "adam-lr-3e-4": dataclasses.replace(CHOSEN, lr=3e-4),
    "sgd-0.07": dataclasses.replace(CHOSEN, optimizer="sgd", lr=0.07),
    "momentum-0.01": dataclasses.replace(CHOSEN, optimizer="momentum", lr=0.01),
}
GROUPS = {"chosen": ["truncated"], "all": list(METHODS), "ablations": ["truncated", *ABLATIONS],
          "fast": ["truncated", "bptt-20", "rtrl-8", "rnn-rtrl", "lstm.java-settings"]}


def run(name: str, config: OnlineConfig, seed: int, epochs: int, streak: int, log: Path) -> dict:
    """One run: epochs until ``streak`` error-free validations in a row, or ``epochs``."""
    learner = build_learner(config, SYMBOLS, SYMBOLS, seed)
    schedule = build_schedule(config, learner.optimizer)
    rng = stream_rng(seed)                               # the streams: apart from the weights' draws
    errors, started = [], time.perf_counter()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        for epoch in range(epochs):
            result = reber_epoch(learner, rng)
            errors.append(result.validation.long_error)
            out.write(json.dumps({"epoch": epoch, **result.to_json(),
                                  "seconds": time.perf_counter() - started}) + "\n")
            out.flush()
            if schedule is not None:
                schedule.step()
            if streak_summary(errors, streak)["solved_at"] is not None:
                break
    return {"method": name, "seed": seed, "config": config.to_json(), "seconds": time.perf_counter() - started,
            **streak_summary(errors, streak)}


def table(runs: list[dict], streak: int) -> str:
    """Markdown: one row per method, over its seeds."""
    lines = [(f"| method | seeds | first zero (epoch) | solved at ({streak} in a row) | solved | longest streak "
              "| zeros in last 100 | wall time per run (s) |"), "|---|---|---|---|---|---|---|---|"]
    by_method: dict[str, list[dict]] = {}
    for entry in runs:
        by_method.setdefault(entry["method"], []).append(entry)

    def listed(values):
        return ", ".join("—" if v is None else str(v) for v in values)

    for method, entries in by_method.items():
        entries.sort(key=lambda e: e["seed"])
        solved = sum(e["solved_at"] is not None for e in entries)
        lines.append(f"| {method} | {listed(e['seed'] for e in entries)} | {listed(e['first_zero'] for e in entries)} "
                     f"| {listed(e['solved_at'] for e in entries)} | {solved}/{len(entries)} "
                     f"| {listed(e['longest_streak'] for e in entries)} "
                     f"| {listed(e['zeros_in_last_100'] for e in entries)} "
                     f"| {listed(round(e['seconds']) for e in entries)} |")
    return "\n".join(lines)


ANCHOR_FIRST_ZERO = 208                    # LSTM.java, seed 1234: its first error-free validation epoch


def plot(runs: list[dict], out: Path, path: Path, columns: int = 3) -> None:
    """Validation long-transition error per epoch: a panel per method, a thin line per seed.

    ``runs`` are entries of OUT/runs.jsonl; each run's epochs are read from
    OUT/METHOD/seed-K.jsonl. A dot marks the epoch that began a run's first streak.
    """
    from matplotlib import colormaps

    from rnnkit.inspect.figures import new_figure, save_png

    methods = list(dict.fromkeys(entry["method"] for entry in runs))
    rows = -(-len(methods) // columns)
    figure = new_figure(4.0 * columns, 2.6 * rows)
    axes_grid = figure.subplots(rows, columns, sharex=True, sharey=True, squeeze=False)
    colours = colormaps["tab10"]
    longest = max(entry["epochs"] for entry in runs)
    for axes, method in zip(axes_grid.flat, methods):
        entries = sorted((e for e in runs if e["method"] == method), key=lambda e: e["seed"])
        for entry in entries:
            log = out / method / f"seed-{entry['seed']}.jsonl"
            errors = [json.loads(line)["validation"]["long_error"] for line in log.read_text().splitlines()]
            colour = colours(entry["seed"] % 10)
            axes.plot(range(len(errors)), errors, lw=0.7, alpha=0.85, color=colour, label=f"seed {entry['seed']}")
            if entry["solved_at"] is not None:
                axes.plot([entry["solved_at"]], [0.0], "o", ms=4, color=colour)
        solved = sum(e["solved_at"] is not None for e in entries)
        axes.axvline(ANCHOR_FIRST_ZERO, color="grey", ls=":", lw=1)
        axes.set_title(f"{method}: solved {solved}/{len(entries)}", fontsize=10)
        axes.set_xlim(0, longest)
        axes.set_ylim(-0.03, 1.03)
        axes.grid(alpha=0.3)
    for axes in axes_grid.flat[len(methods):]:
        axes.set_axis_off()
    for axes in axes_grid[:, 0]:
        axes.set_ylabel("validation long error")
    for column in range(columns):                        # the lowest panel of each column
        lowest = axes_grid[(len(methods) - 1 - column) // columns, column] if column < len(methods) else None
        if lowest is not None:
            lowest.xaxis.set_tick_params(labelbottom=True)
            lowest.set_xlabel("epoch")
    handles, labels = axes_grid.flat[0].get_legend_handles_labels()
    handles.append(axes_grid.flat[0].axvline(ANCHOR_FIRST_ZERO, color="grey", ls=":", lw=1))
    labels.append(f"LSTM.java's first zero (epoch {ANCHOR_FIRST_ZERO})")
    figure.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=9)
    figure.suptitle("Embedded Reber grammar, online: validation long-transition error per epoch\n"
                    "(dot: the first of 100 error-free epochs in a row; a run stops at the end of them)", fontsize=11)
    save_png(figure, path)


def latching(name: str, config: OnlineConfig, seed: int, epochs: int) -> str:
    """A Markdown row: after ``epochs`` epochs, the cells latched on a fresh validation pass.

    Latched: |c| > 100 at the end of the pass and i, f > 0.99 over its last 1,000 symbols.
    With peepholes, also how many latched cells have w_ci and w_cf of the sign of their c
    (the peepholes holding their own gates open).
    """
    from rnnkit.online.single_step import SingleStep

    learner = build_learner(config, SYMBOLS, SYMBOLS, seed)
    rng = stream_rng(seed)
    for _ in range(epochs):
        result = reber_epoch(learner, rng)
    network, H = learner.network, config.hidden_size
    step, inputs = SingleStep(network.cell, 1, network.dtype), reber.stream(rng, reber.SYMBOLS_PER_EPOCH)
    cells, gates = [], []
    for x_t in inputs.inputs(network.dtype):
        step(network.cell_params, x_t[None])
        cells.append(step.cache.c[1, 0].copy())
        gates.append(step.cache.gates[0, 0, :2 * H].copy())              # i, f
    c, gates = np.array(cells), np.array(gates)
    latched = (np.abs(c[-1]) > 100) & (gates[-1000:, :H].min(0) > 0.99) & (gates[-1000:, H:].min(0) > 0.99)
    agree = "—"
    if config.peephole:
        sign, p = np.sign(c[-1, latched]), network.cell_params
        agree = str(int(((sign * p["weight_ci"][latched] > 0) & (sign * p["weight_cf"][latched] > 0)).sum()))
    return (f"| {name} | {seed} | {result.validation.long_error:.3f} | {int(latched.sum())} of {H} "
            f"| {np.abs(c[-1]).max():.0f} | {agree} |")


def timing(sizes=(8, 16, 32, 64, 128), steps: int = 8, seconds: float = 0.5) -> str:
    """Time per step of RTRL, the truncated gradient and BPTT on a peephole LSTM (float64, batch 1).

    Each is run over ``steps`` steps again and again for at least ``seconds``; the time
    per step is the mean. The time is this process's CPU time, BLAS held to one thread,
    so that other work on a shared machine does not count.
    """
    from rnnkit import LSTM
    from rnnkit.layers.time_loop import BlasThreads
    lines = ["| H | parameters | BPTT (µs/step) | truncated (µs/step) | RTRL (µs/step) | RTRL / BPTT |",
             "|---|---|---|---|---|---|"]
    rng = np.random.default_rng(0)
    for hidden in sizes:
        layer = LSTM(SYMBOLS, hidden, peephole=True, dtype=np.float64, rng=0)
        x, dy = rng.standard_normal((steps, 1, SYMBOLS)), rng.standard_normal((steps, 1, hidden))

        def bptt(layer=layer, x=x, dy=dy):
            layer(x)
            layer.backward(dy)

        per_step = {}
        for label, work in (("bptt", bptt), ("truncated", truncated_gradients), ("rtrl", rtrl_gradients)):
            arguments = () if label == "bptt" else (layer, x, dy)
            with BlasThreads(1):
                work(*arguments)                          # warm up
                runs, started = 0, time.process_time()
                while time.process_time() - started < seconds:
                    work(*arguments)
                    runs += 1
                per_step[label] = (time.process_time() - started) / (runs * steps) * 1e6
        size = sum(p.size for p in layer.parameters().values())
        lines.append(f"| {hidden} | {size} | {per_step['bptt']:.0f} | {per_step['truncated']:.0f} "
                     f"| {per_step['rtrl']:.0f} | {per_step['rtrl'] / per_step['bptt']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", default="chosen",
                        help=f"comma-separated names of {', '.join([*METHODS, *ABLATIONS])}, or a group: "
                             f"{', '.join(GROUPS)}")
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0 .. N-1")
    parser.add_argument("--epochs", type=int, default=300, help="the most epochs a run takes")
    parser.add_argument("--streak", type=int, default=100, help="error-free validations in a row that solve it")
    parser.add_argument("--out", type=Path, default=Path("runs/online-reber"))
    parser.add_argument("--timing", action="store_true", help="only time RTRL, truncated and BPTT per step")
    parser.add_argument("--latching", type=int, metavar="EPOCHS",
                        help="only count the latched cells of --methods after EPOCHS epochs, for each seed")
    parser.add_argument("--plot", type=Path, metavar="PNG",
                        help="only draw the curves of the runs of --methods already in --out, into PNG")
    args = parser.parse_args()
    if args.timing:
        print(timing())
        return
    names = GROUPS.get(args.methods) or args.methods.split(",")
    configs = {**METHODS, **ABLATIONS}
    unknown = [name for name in names if name not in configs]
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {', '.join(configs)} or {', '.join(GROUPS)}")
    if args.latching:
        print(f"| method | seed | validation long error, epoch {args.latching - 1} | cells latched | largest abs(c) "
              "| latched cells held by their peepholes |\n|---|---|---|---|---|---|")
        for name in names:
            for seed in range(args.seeds):
                print(latching(name, configs[name], seed, args.latching), flush=True)
        return
    done_file = args.out / "runs.jsonl"
    done = [json.loads(line) for line in done_file.read_text().splitlines()] if done_file.exists() else []
    if args.plot:
        found = [e for name in names for e in done if e["method"] == name and e["config"] == configs[name].to_json()]
        if not found:
            parser.error(f"no finished runs of {', '.join(names)} in {done_file}")
        plot(found, args.out, args.plot)
        print(args.plot)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for name in names:
        for seed in range(args.seeds):
            if any(e["method"] == name and e["seed"] == seed and e["config"] == configs[name].to_json() for e in done):
                continue
            entry = run(name, configs[name], seed, args.epochs, args.streak, args.out / name / f"seed-{seed}.jsonl")
            print(json.dumps({k: v for k, v in entry.items() if k != "config"}), flush=True)
            done.append(entry)
            with done_file.open("a") as out:
                out.write(json.dumps(entry) + "\n")
    print(table([e for e in done if e["method"] in names], args.streak))


if __name__ == "__main__":
    main()
