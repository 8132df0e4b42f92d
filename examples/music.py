"""Polyphonic music on the JSB chorales (issue 14): baselines, a recurrent model, a generated chorale.

    python examples/music.py --baselines-only
    python examples/music.py --cell lstm --output bernoulli --out runs/music-lstm     # test 8.42 in ~3 min
    python examples/music.py --cell lstm --output nade --out runs/music-lstm-nade     # test 5.56 in ~8 min

Reads ``$RNNKIT_DATA/jsb_chorales/jsb_chorales_quarter.json`` (229 / 76 / 77 chorales, one
frame per quarter note). Prints the two baselines of ``rnnkit.baselines_music`` on every
split, then trains ``MusicModel`` with Adam on whole chorales (one per update by default,
as Bai et al.), for at most ``--minutes`` (validation NLL after every epoch, the best parameters kept) and prints its
NLL in nats per frame (frames 2 .. T of each piece, as Bai et al. 2018) on valid and test.
Finally it generates one chorale from nothing and one primed with the first ``--primer``
frames of test chorale 0, each as MIDI (mido), a piano-roll PNG and, when fluidsynth
and a General MIDI soundfont are installed, a WAV, into ``--out``.

Until ``rnnkit music`` exists, this is the training loop: the library's API, no CLI.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from rnnkit.baselines_music import MarginalKeys, PreviousFrameKeys, score
from rnnkit.data.datasets import default_data_dir
from rnnkit.data.midi import SynthesizerMissing, render_wav, write_midi
from rnnkit.data.piano_roll import pad_rolls, plot_piano_roll, read_roll_json
from rnnkit.losses_music import frame_nll, scored_frames
from rnnkit.models.music import MusicConfig, MusicModel, generate, score_rolls
from rnnkit.optim import Adam, ReduceLROnPlateau, clip_grad_norm

SPLITS = ("train", "valid", "test")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $RNNKIT_DATA or ../shared/data")
    parser.add_argument("--out", type=Path, default=Path("runs/music"))
    parser.add_argument("--baselines-only", action="store_true")
    parser.add_argument("--cell", default="lstm", choices=("lstm", "gru", "rnn"))
    parser.add_argument("--output", default="bernoulli", choices=("bernoulli", "nade"))
    parser.add_argument("--hidden", type=int, default=MusicConfig.hidden_size)
    parser.add_argument("--layers", type=int, default=MusicConfig.num_layers)
    parser.add_argument("--nade-hidden", type=int, default=MusicConfig.nade_hidden_size)
    parser.add_argument("--dropout", type=float, default=MusicConfig.dropout)
    parser.add_argument("--input-dropout", type=float, default=MusicConfig.input_dropout)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch", type=int, default=1, help="chorales per update")
    parser.add_argument("--clip", type=float, default=5.0, help="gradient norm clipping")
    parser.add_argument("--minutes", type=float, default=10.0, help="the most training time")
    parser.add_argument("--max-epochs", type=int, default=1000)
    parser.add_argument("--patience", type=int, default=8, help="stop after this many epochs without a better "
                        "validation NLL")
    parser.add_argument("--lr-patience", type=int, default=2, help="halve the learning rate after this many "
                        "epochs without a better validation NLL")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="Adam's L2 penalty")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--primer", type=int, default=8, help="frames of test chorale 0 that prime a sample")
    parser.add_argument("--length", type=int, default=64, help="frames to generate")
    parser.add_argument("--temperature", type=float, default=1.0)
    return parser.parse_args()


def baselines(splits) -> dict:
    rows = {}
    for baseline in (MarginalKeys(), PreviousFrameKeys()):
        baseline.fit(splits["train"])
        rows[type(baseline).__name__] = {s: score(baseline, splits[s]).nats_per_frame for s in SPLITS}
    return rows


def train(model: MusicModel, splits, args) -> list[dict]:
    """Adam on batches of ``args.batch`` chorales, its learning rate halved when validation stalls, until
    ``args.minutes`` pass or ``args.patience`` epochs bring no better validation NLL; keeps the best state."""
    rng = np.random.default_rng(args.seed)
    optimizer = Adam(model, lr=args.lr, weight_decay=args.weight_decay)
    schedule = ReduceLROnPlateau(optimizer, factor=0.5, patience=args.lr_patience)
    train_rolls, history = splits["train"], []
    best, best_state, best_epoch, start = np.inf, model.state_dict(), 0, time.perf_counter()
    for epoch in range(1, args.max_epochs + 1):
        model.train()
        order, losses = rng.permutation(len(train_rolls)), []
        for first in range(0, len(order), args.batch):
            frames, lengths = pad_rolls([train_rolls[i] for i in order[first:first + args.batch]], model.dtype)
            loss, dlog_probs = frame_nll(model(frames, lengths), scored_frames(lengths, len(frames), first_frame=True))
            model.zero_grad()
            model.backward(dlog_probs)
            clip_grad_norm(model.grads, args.clip)
            optimizer.step()
            losses.append(loss)
        valid = score_rolls(model, splits["valid"]).nats_per_frame
        schedule.step(valid)
        minutes = (time.perf_counter() - start) / 60
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "val_nll": valid, "minutes": minutes})
        print(f"epoch {epoch:3d}  train {np.mean(losses):.3f}  valid {valid:.3f}  ({minutes:.1f} min)", flush=True)
        if valid < best:
            best, best_state, best_epoch = valid, model.state_dict(), epoch
        if minutes >= args.minutes or epoch - best_epoch >= args.patience:
            break
    model.load_state_dict(best_state)
    return history


def write_sample(roll: np.ndarray, out: Path, name: str, title: str, primer_frames: int = 0) -> list[str]:
    """MIDI, PNG and (when it can) WAV of a generated roll; what was written or why not."""
    midi = write_midi(roll, out / f"{name}.mid")
    plot_piano_roll(roll, out / f"{name}.png", title, primer_frames=primer_frames)
    written = [str(midi), str(out / f"{name}.png")]
    try:
        written.append(str(render_wav(midi, out / f"{name}.wav")))
    except SynthesizerMissing as missing:
        written.append(str(missing))
    return written


def main() -> None:
    args = parse_args()
    path = Path(args.data_dir or default_data_dir()) / "jsb_chorales" / "jsb_chorales_quarter.json"
    splits = read_roll_json(path)
    results = {"baselines": baselines(splits)}
    for name, row in results["baselines"].items():
        print(f"{name:18s}  " + "  ".join(f"{s} {row[s]:.3f}" for s in SPLITS))
    if args.baselines_only:
        return
    config = MusicConfig(cell=args.cell, hidden_size=args.hidden, num_layers=args.layers, dropout=args.dropout,
                         input_dropout=args.input_dropout, output=args.output, nade_hidden_size=args.nade_hidden)
    model = MusicModel(config, rng=args.seed)
    model.output.init_key_bias(MarginalKeys().fit(splits["train"]).key_probabilities)
    results["history"] = train(model, splits, args)
    results["model"] = {s: score_rolls(model, splits[s]).nats_per_frame for s in ("valid", "test")}
    print(f"{args.cell} {args.output}: valid {results['model']['valid']:.3f}  test {results['model']['test']:.3f} "
          "nats per frame")
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    model.eval()
    free = generate(model, args.length, rng, args.temperature)
    primed = generate(model, args.length, rng, args.temperature, primer=splits["test"][0][:args.primer])
    results["samples"] = (write_sample(free, args.out, "sample", f"{args.cell} {args.output}: from nothing")
                          + write_sample(primed, args.out, "primed", f"{args.cell} {args.output}: primed with "
                                         f"{args.primer} frames of test chorale 0", args.primer))
    print("\n".join(results["samples"]))
    (args.out / "results.json").write_text(json.dumps({"config": config.to_json(), **results}, indent=1))


if __name__ == "__main__":
    main()
