"""Where an LSTM layer's forward+backward goes, part by part (issue 19's profile).

    python benchmarks/profile_lstm.py

For each configuration: the whole forward+backward of ``rnnkit.LSTM``, and, timed on their
own at the same shapes and threads, its parts:

- per-step products: h_{t-1} W_hh^T forward and dz_t W_hh backward, T of each per layer and direction;
- gate kernels: the compiled LSTM step, T forward and T backward;
- products over all steps: x W_ih^T, dx = dz W_ih, dW_ih = dz^T x, dW_hh = dz^T h.

What is left ("rest") is Python, NumPy's smaller operations and the memory traffic between
them. Medians of 15 runs, float32, on 1 and then 2 BLAS threads.
"""

from __future__ import annotations

import numpy as np
from common import median_seconds
from threadpoolctl import threadpool_limits

import rnnkit
from rnnkit.kernels import load

REPEATS = 15
CONFIGS = [(32, 100, 64, 128, dict(num_layers=2)), (32, 100, 64, 128, dict(bidirectional=True)),
           (64, 50, 128, 512, dict(num_layers=1)), (64, 50, 128, 512, dict(num_layers=2))]


def parts(batch: int, steps: int, input_size: int, hidden: int, layers: int, directions: int) -> dict:
    """The three timed parts of one forward+backward, as callables."""
    rng = np.random.default_rng(0)

    def array(*shape):
        return (0.1 * rng.standard_normal(shape)).astype(np.float32)

    h, weight_hh_T, weight_hh, dz = array(batch, hidden), array(hidden, 4 * hidden), array(4 * hidden, hidden), \
        array(batch, 4 * hidden)
    product, dh = np.empty((batch, 4 * hidden), np.float32), np.empty((batch, hidden), np.float32)

    def step_products():
        for _ in range(steps * layers * directions):
            np.dot(h, weight_hh_T, out=product)
            np.dot(dz, weight_hh, out=dh)

    lstm = load("lstm")
    xw, hw, c_prev, zeros = array(batch, 4 * hidden), array(batch, 4 * hidden), array(batch, hidden), \
        np.zeros(hidden, np.float32)
    gates, dxw = np.empty((batch, 4 * hidden), np.float32), np.empty((batch, 4 * hidden), np.float32)
    c, tanh_c, m, dc_prev = (np.empty((batch, hidden), np.float32) for _ in range(4))

    def gate_kernels():
        for _ in range(steps * layers * directions):
            lstm.forward(xw, hw, c_prev, zeros, zeros, zeros, gates, c, tanh_c, m)
            lstm.backward(m, c_prev, gates, c_prev, tanh_c, zeros, zeros, zeros, dxw, dc_prev)

    operands = []
    for layer_input in [input_size] + [directions * hidden] * (layers - 1):
        rows = steps * batch
        operands.append((array(rows, layer_input), array(4 * hidden, layer_input), array(rows, 4 * hidden),
                         array(rows, hidden)))

    def all_step_products():
        for x, weight_ih, dxw_all, h_all in operands:
            for _ in range(directions):
                x @ weight_ih.T, dxw_all @ weight_ih, dxw_all.T @ x, dxw_all.T @ h_all

    return {"per-step products": step_products, "gate kernels": gate_kernels,
            "all-step products": all_step_products}


def profile(batch: int, steps: int, input_size: int, hidden: int, options: dict, threads: int) -> str:
    layer = rnnkit.LSTM(input_size, hidden, **options)
    directions = 2 if options.get("bidirectional") else 1
    layers = options.get("num_layers", 1)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((steps, batch, input_size)).astype(np.float32)
    dy = rng.standard_normal((steps, batch, directions * hidden)).astype(np.float32)

    def whole():
        layer.zero_grad()
        layer(x)
        layer.backward(dy)

    with threadpool_limits(threads):
        total = median_seconds(whole, REPEATS, warmup=2)
        times = {name: median_seconds(run, REPEATS, warmup=2) for name, run in
                 parts(batch, steps, input_size, hidden, layers, directions).items()}
    times["rest"] = total - sum(times.values())
    shape = "bidirectional" if directions == 2 else f"{layers} layer{'s' if layers > 1 else ''}"
    columns = " | ".join(f"{name} {seconds * 1e3:6.1f} ({seconds / total:4.0%})" for name, seconds in times.items())
    return f"LSTM {batch}x{steps}x{input_size}x{hidden} {shape:13s} threads {threads}: total {total * 1e3:6.1f} ms | " \
           + columns


def main() -> None:
    for threads in (1, 2):
        for batch, steps, input_size, hidden, options in CONFIGS:
            print(profile(batch, steps, input_size, hidden, options, threads))


if __name__ == "__main__":
    main()
