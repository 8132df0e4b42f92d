"""Exploding gradients and clipping (issue 15, part 4).

    python examples/inspect_clipping.py                       tanh RNN, spectral radius 2, adding problem T = 50
    python examples/inspect_clipping.py --radius 3 --steps 500

Trains the same initial model on the same batches three times with plain SGD: no
clipping, clipping by value, clipping by global norm (rnnkit.inspect.clipping), and
draws each update's loss and gradient norm into OUT/clipping.png.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rnnkit.inspect.clipping import ClippingSetup, clipping_experiment, plot_clipping

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--radius", type=float, default=ClippingSetup.spectral_radius)
    parser.add_argument("--steps", type=int, default=ClippingSetup.steps)
    parser.add_argument("--lr", type=float, default=ClippingSetup.lr)
    parser.add_argument("--out", type=Path, default=Path("runs") / "inspect-clipping")
    args = parser.parse_args()
    setup = ClippingSetup(spectral_radius=args.radius, steps=args.steps, lr=args.lr)
    results = clipping_experiment(setup)
    plot_clipping(results, args.out / "clipping.png", setup)
    for mode, curves in results.items():
        loss, norm = curves["loss"], curves["grad_norm"]
        finite = np.isfinite(loss)
        print(f"{mode:5}: {finite.sum()} finite updates, largest gradient norm {np.nanmax(norm):.3g}, "
              f"median {np.nanmedian(norm):.3g}; mean loss of the last 50 updates {np.mean(loss[-50:]):.4g}")
