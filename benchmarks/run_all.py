"""Every benchmark, one after the other, then the speed targets (issue 19) with their figures.

    python benchmarks/run_all.py            # the full runs (about 5 minutes on 2 cores)
    python benchmarks/run_all.py --quick    # under a minute

Each benchmark prints its own table; the last tables say, target by target, what
was measured and whether it is met, then the min cells' ratios, layer normalisation's,
the regularisers' and the PTB word model's (issue 17). Run it on an otherwise idle machine:
the figures move with whatever else the cores are doing.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

BENCHMARKS = ("bench_layers.py", "bench_train_step.py", "bench_generate.py", "bench_min_rnn.py",
              "bench_layer_norm.py", "bench_regularisers.py", "bench_ptb.py")


def targets(figures: dict) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for each speed target (issue 19, which tightened issue 4's); met is None
    where nothing was measured or a figure has no target."""
    layers, step, generation = (figures[name] for name in ("bench_layers.py", "bench_train_step.py",
                                                           "bench_generate.py"))
    efficiency = layers["min_efficiency_h256"]
    return [
        ("1. layers: every ratio <= 1.0",
         f"max {layers['max_ratio']:.2f} ({layers['worst']}); {layers['configs_slower_than_torch']} of "
         f"{layers['configs']} above 1", layers["max_ratio"] <= 1.0),
        ("1. layers: geometric mean <= 0.50", f"{layers['geometric_mean_ratio']:.3f}",
         layers["geometric_mean_ratio"] <= 0.5),
        ("2. efficiency >= 70 % at H >= 256",
         "no H >= 256 config in --quick" if efficiency is None else
         f"min {100 * efficiency:.0f} %, median {100 * layers['median_efficiency_h256']:.0f} %",
         None if efficiency is None else efficiency >= 0.7),
        ("3. training step ratio <= 0.85",
         f"{step['time_ratio']:.3f} ({step['rnnkit_chars_per_second']:,.0f} vs "
         f"{step['torch_chars_per_second']:,.0f} chars/s)", step["time_ratio"] <= 0.85),
        ("4. generation >= 10x, 2 x 256", f"{generation['speedup_256x2']:.1f}x", generation["speedup_256x2"] >= 10),
        ("   generation, 2 x 512 (no target)", f"{generation['speedup_512x2']:.1f}x", None),
        ("5. peak memory <= torch's", f"{step['memory_ratio']:.3f} ({step['rnnkit_peak_mb']:.0f} vs "
         f"{step['torch_peak_mb']:.0f} MB)", step["memory_ratio"] <= 1.0),
    ]


def min_cell_ratios(figures: dict) -> list[tuple[str, str]]:
    """(what, ratio) of a training step of the min cells (issue 17); below 1: the min cell is faster."""
    min_rnn = figures["bench_min_rnn.py"]
    config = min_rnn["config"]
    return [(f"minGRU / rnnkit GRU, {config}", f"{min_rnn['minGRU/GRU']:.3f}"),
            (f"minLSTM / rnnkit LSTM, {config}", f"{min_rnn['minLSTM/LSTM']:.3f}"),
            (f"minGRU / the same cell in torch, {config}", f"{min_rnn['minGRU/torch minGRU']:.3f}"),
            (f"minLSTM / the same cell in torch, {config}", f"{min_rnn['minLSTM/torch minLSTM']:.3f}")]


def layer_norm_ratios(figures: dict) -> list[tuple[str, str]]:
    """(what, ratio) of a training step of the layer-normalised LSTM (issue 17), which runs on the NumPy steps."""
    lstm = figures["bench_layer_norm.py"]["lstm"]
    return [("LN-LSTM / rnnkit LSTM (compiled), 32x50x64x256", f"{lstm['ln_over_compiled']:.3f}"),
            ("LN-LSTM / the same cell in torch autograd", f"{lstm['ln_over_torch_ln']:.3f}")]


def regulariser_ratios(figures: dict) -> list[tuple[str, str]]:
    """(what, ratio) of a training step of the LSTM with every regulariser on (issue 17)."""
    lstm = figures["bench_regularisers.py"]["lstm"]
    return [("LSTM, all regularisers / none (compiled), 32x50x64x256", f"{lstm['all']['compiled_over_off']:.3f}"),
            ("LSTM, all regularisers / none (NumPy steps)", f"{lstm['all']['numpy_over_off']:.3f}"),
            ("LSTM, all regularisers / the same in torch autograd", f"{lstm['all_over_torch']:.3f}")]


def ptb_ratios(figures: dict) -> list[tuple[str, str]]:
    """(what, ratio) of a training step of Zaremba et al.'s small PTB model against the same in torch (issue 17)."""
    ptb = figures["bench_ptb.py"]
    return [("PTB small, 2 x 200 LSTM, 10k words, batch 20 x 20: rnnkit / torch per step (and epoch)",
             f"{ptb['time_ratio']:.3f} ({ptb['rnnkit_s_per_epoch']:.0f} s vs {ptb['torch_s_per_epoch']:.0f} s "
             "an epoch)")]


def print_ratios(title: str, ratios: list[tuple[str, str]]) -> None:
    print(f"\n===== {title}")
    width = max(len(name) for name, _ in ratios)
    for name, ratio in ratios:
        print(f"{name.ljust(width)}  {ratio}")


def main() -> int:
    here = Path(__file__).parent
    options = [arg for arg in sys.argv[1:] if arg == "--quick"]
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        for script in BENCHMARKS:
            print(f"\n===== {script} {' '.join(options)}", flush=True)
            summary = Path(folder) / f"{script}.json"
            result = subprocess.run([sys.executable, str(here / script), *options, "--summary", str(summary)],
                                    cwd=here.parent)
            if result.returncode:
                return result.returncode
            figures[script] = json.loads(summary.read_text())
    rows = targets(figures)
    width = max(len(name) for name, _, _ in rows)
    print("\n===== targets (issue 19)")
    for name, measured, met in rows:
        verdict = "n/a   " if met is None else "met   " if met else "MISSED"
        print(f"{name.ljust(width)}  {verdict}  {measured}")
    print_ratios("min cells, training step time ratios (issue 17)", min_cell_ratios(figures))
    print_ratios("layer normalisation, training step time ratios (issue 17)", layer_norm_ratios(figures))
    print_ratios("regularisers, training step time ratios (issue 17)", regulariser_ratios(figures))
    print_ratios("word-level language model, training step time ratio (issue 17)", ptb_ratios(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
