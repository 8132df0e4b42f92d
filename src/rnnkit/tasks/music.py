"""Polyphonic music: the run spec, the training task, and its workflows (train, eval, generate).

A piece is a piano roll (T, 88) of sounding keys (``rnnkit.data.piano_roll``). ``MusicModel``
reads the frames and gives log p(v_t | v_<t); training minimises the mean NLL of a batch's
frames (``losses_music.frame_nll``, every frame of each piece), and validation scores the
valid pieces' frames 2 .. T in nats per frame (as Bai et al. 2018 and the baselines do).

The pieces come from the user's own data (``MusicSource(file=...)``): a JSON file
``{"train": [...], "valid": [...], "test": [...]}`` of pieces (each a list of frames, each a
list of MIDI pitches), or a folder of MIDI files read at ``frames_per_beat`` and cut into
train / valid / test by a split seeded with ``split_seed``; or from the built-in JSB chorales
(``MusicSource.built_in("jsb")``)::

    spec = MusicSpec(MusicSource(file="chorales.json"))
    train(spec, train_config(epochs=5), Path("runs/chorales"))
    run = load_run("runs/chorales")
    evaluate(run, "test", Path("runs/chorales"))
    generate(run, Path("samples"), length=64, prime=8)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from rnnkit.baselines_music import MarginalKeys, PreviousFrameKeys, score
from rnnkit.data.batches import EpochBatches
from rnnkit.data.datasets import default_data_dir
from rnnkit.data.midi import SynthesizerMissing, _ticks_per_frame, read_midi_folder, render_wav, write_midi
from rnnkit.data.piano_roll import OUT_OF_RANGE, SPLITS, check_out_of_range, pad_rolls, plot_piano_roll, read_roll_json
from rnnkit.data.tables import file_sha256
from rnnkit.errors import ConfigError, DataError
from rnnkit.losses_music import frame_nll, scored_frames
from rnnkit.models.music import MusicConfig, MusicModel, generate as generate_roll, score_rolls
from rnnkit.music_stats import RollStatistics, chord_set, roll_statistics
from rnnkit.tasks import runs
from rnnkit.tasks.epochs import EpochTask
from rnnkit.training.config import TrainConfig

TASK = "music"
DATASETS = {"jsb": Path("jsb_chorales") / "jsb_chorales_quarter.json"}   # built-in: path under the data dir
BASELINES = {"marginal": MarginalKeys, "previous frame": PreviousFrameKeys}


# -- where the pieces come from -----------------------------------------------------------------


@dataclass
class MusicSource:
    """Pieces of music: the user's own ``file`` (a JSON file of train/valid/test pieces, or a folder of
    MIDI files), or a built-in ``dataset`` (``jsb``: the JSB chorales, one frame per quarter note), whose
    ``file`` is then where it was read (``built_in``).

    A MIDI folder's pieces (read at ``frames_per_beat``) go to train / valid / test by a shuffle seeded
    with ``split_seed``: ``valid_fraction`` and ``test_fraction`` of them, at least one piece each.
    Pitches outside the piano's 88 keys follow ``out_of_range``: error, drop or fold.
    """

    file: str | None = None
    dataset: str | None = None
    frames_per_beat: float = 1.0
    out_of_range: str = "error"
    split_seed: int = 0
    valid_fraction: float = 0.1
    test_fraction: float = 0.1
    sha256: str | None = None        # of a JSON file, kept by prepare(): a resumed run checks it

    def __post_init__(self):
        runs.check_field_types(self)
        if self.file is None:
            raise ConfigError("give a `file` of pieces (JSON or a folder of MIDI files), or a built-in `dataset`")
        if self.dataset is not None and self.dataset not in DATASETS:
            raise ConfigError(f"unknown `dataset` {self.dataset!r}: choose one of {', '.join(DATASETS)}")
        if self.out_of_range not in OUT_OF_RANGE:
            check_out_of_range(self.out_of_range)
        _ticks_per_frame(self.frames_per_beat)       # a generated piece must be writable as MIDI
        for name in ("valid_fraction", "test_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"`{name}` must be in [0, 1), got {getattr(self, name)}")
        if self.split_seed < 0:
            raise ConfigError(f"`split_seed` must be a non-negative integer, got {self.split_seed}")

    @classmethod
    def built_in(cls, dataset: str, data_dir: str | Path | None = None, **options) -> "MusicSource":
        """A built-in dataset, read from under ``data_dir`` (default: ``$RNNKIT_DATA``)."""
        if dataset not in DATASETS:
            raise ConfigError(f"unknown `dataset` {dataset!r}: choose one of {', '.join(DATASETS)}")
        path = Path(data_dir or default_data_dir()) / DATASETS[dataset]
        return cls(file=str(path.resolve()), dataset=dataset, **options)

    @property
    def name(self) -> str:
        """What results are filed under: the dataset's name, or the file's (folder's) stem."""
        return self.dataset or Path(self.file).stem

    def moved(self, data_dir: str | Path | None = None, file: str | Path | None = None) -> "MusicSource":
        """The same pieces at a new place: a built-in dataset under another ``data_dir``, or a moved ``file``."""
        if data_dir is None and file is None:
            return self
        if self.dataset and file is None:
            return replace(self, file=str((Path(data_dir) / DATASETS[self.dataset]).resolve()))
        if not self.dataset and data_dir is None:
            return replace(self, file=str(Path(file).resolve()))
        raise ConfigError(f"the run reads {'the built-in ' + self.dataset if self.dataset else self.file}: "
                          f"give {'`data_dir`' if self.dataset else '`file`'} to say where it is now")

    def read(self) -> dict[str, list[np.ndarray]]:
        """The pieces by split (train and valid always; test if the data has it), each a bool roll (T, 88)."""
        path = Path(self.file)
        if self.dataset or path.suffix.lower() == ".json" or path.is_file():
            if not path.exists() and self.dataset:
                raise DataError(f"{path} not found: the built-in dataset {self.dataset!r} is read from the data "
                                "directory (`data_dir`, $RNNKIT_DATA)")
            splits = read_roll_json(path, self.out_of_range).splits
        else:
            if not path.exists():
                raise DataError(f"{path} not found: pass a JSON file of pieces or a folder of MIDI files")
            pieces = [m.roll for m in read_midi_folder(path, self.frames_per_beat, out_of_range=self.out_of_range)]
            splits = self._split(pieces, path)
        if "valid" not in splits:
            raise DataError(f"{path} has no \"valid\" pieces: add a \"valid\" list of pieces (validation picks "
                            "the best checkpoint)")
        return splits

    def _split(self, pieces: list[np.ndarray], path: Path) -> dict[str, list[np.ndarray]]:
        count = len(pieces)
        held = {name: max(1, round(count * getattr(self, f"{name}_fraction")))
                for name in ("valid", "test") if getattr(self, f"{name}_fraction") > 0}
        if "valid" not in held:
            raise ConfigError("`valid_fraction` must be positive for a folder of MIDI files: validation needs "
                              "pieces of its own")
        if count - sum(held.values()) < 1:
            raise DataError(f"{path} holds {count} MIDI file(s): a folder needs at least {sum(held.values()) + 1} "
                            "(one or more each to train, validate and test on)")
        order = np.random.default_rng(self.split_seed).permutation(count)
        valid = order[:held["valid"]]
        test = order[held["valid"]:held["valid"] + held.get("test", 0)]
        train = order[held["valid"] + held.get("test", 0):]
        splits = {"train": [pieces[i] for i in train], "valid": [pieces[i] for i in valid]}
        if len(test):
            splits["test"] = [pieces[i] for i in test]
        return splits


# -- the run spec ---------------------------------------------------------------------------------


@dataclass
class MusicSpec:
    """A music model's run: where the pieces come from, the model, and how many pieces make a batch
    (one, found best on the JSB chorales)."""

    TASK = TASK
    data: MusicSource
    model: MusicConfig = field(default_factory=MusicConfig)
    batch_size: int = 1
    dtype: str = "float32"

    def __post_init__(self):
        runs.check_field_types(self)
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ConfigError(f"`batch_size` must be a positive integer, got {self.batch_size!r}")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"`dtype` must be float32 or float64, got {self.dtype!r}")

    def to_json(self) -> dict:
        return {"data": asdict(self.data), "model_config": self.model.to_json(), "batch_size": self.batch_size,
                "dtype": self.dtype}

    @classmethod
    def from_json(cls, data: dict) -> "MusicSpec":
        return cls(data=MusicSource(**data["data"]), model=MusicConfig.from_json(data["model_config"]),
                   batch_size=data["batch_size"], dtype=data["dtype"])

    def build_model(self, rng=None) -> MusicModel:
        return MusicModel(self.model, dtype=self.dtype, rng=rng)

    @property
    def model_name(self) -> str:
        """The model in words, as results name it: "lstm bernoulli"."""
        return f"{self.model.cell} {self.model.output}"


Spec = MusicSpec


# -- the training task --------------------------------------------------------------------------


class MusicTask(EpochTask):
    """Batches of ``batch_size`` whole pieces, shuffled by [seed, epoch] and padded; the loss is the mean
    NLL of their frames; validation is the valid pieces' NLL per frame (frames 2 .. T)."""

    unit = "frame"

    def __init__(self, model: MusicModel, train: list[np.ndarray], valid: list[np.ndarray], batch_size: int,
                 seed: int = 0):
        if batch_size < 1:
            raise ConfigError(f"`batch_size` must be at least 1, got {batch_size}")
        if not train:
            raise DataError("the training set is empty")
        if not any(len(roll) >= 2 for roll in valid):
            raise DataError("the valid pieces have a single frame each: nothing to validate on (frames 2 .. T "
                            "are scored)")
        self.model, self.train_set, self.val_set = model, train, valid
        self.batch_size, self.seed = batch_size, seed
        self.batch_order = EpochBatches(self.epoch_batches, same="the same data and `batch_size`")

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The piece indices of each batch of ``epoch``, in an order fixed by seed and epoch."""
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.train_set))
        return [order[first:first + self.batch_size] for first in range(0, len(order), self.batch_size)]

    def train_step(self, batch: np.ndarray) -> tuple[float, int]:
        frames, lengths = pad_rolls([self.train_set[i] for i in batch], self.model.dtype)
        self.model.train()
        mask = scored_frames(lengths, len(frames), first_frame=True)
        loss, dlog_probs = frame_nll(self.model(frames, lengths), mask)
        self.model.backward(dlog_probs)
        return loss, int(mask.sum())

    def evaluate(self) -> dict[str, float]:
        return {"val_loss": score_rolls(self.model, self.val_set).nats_per_frame}


# -- workflows -------------------------------------------------------------------------------

# The TrainConfig fields whose defaults differ for this task: Adam at 4e-3 (on the JSB chorales' valid pieces
# the best of 1e-3 .. 1.6e-2 for GRU and RNN and near it for LSTM, docs/results.md), the rate halved after 2
# validations without improvement, stopped after 8, at most 10 minutes.
TRAIN_DEFAULTS = {"sample_every": 0, "epochs": 100, "lr": 4e-3, "schedule": "plateau", "decay": 0.5,
                  "plateau_patience": 2, "eval_every": 200, "patience": 8, "max_minutes": 10.0}


def train_config(**options) -> TrainConfig:
    """TrainConfig with this task's defaults (TRAIN_DEFAULTS) under ``options``."""
    return TrainConfig(**{**TRAIN_DEFAULTS, **options})


def prepare(spec: MusicSpec) -> MusicSpec:
    """The spec with its data checked readable (train and valid pieces) and a JSON file's SHA-256 kept."""
    spec.data.read()
    path = Path(spec.data.file)
    if spec.data.dataset is None and path.is_file():
        return replace(spec, data=replace(spec.data, sha256=file_sha256(path)))
    return spec


def train(spec: MusicSpec, config: TrainConfig, run_dir: Path, progress: bool = True,
          echo=print) -> runs.TrainResult:
    """A new run: a model seeded by ``config.seed`` whose output starts at the training pieces' key
    frequencies, trained into ``run_dir`` with early stopping on the valid pieces."""
    with runs.new_run_dir(run_dir) as run_dir:
        spec = prepare(spec)
        splits = spec.data.read()
        model = spec.build_model(rng=config.seed)
        if spec.model.num_keys == 88:
            model.output.init_key_bias(MarginalKeys().fit(splits["train"]).key_probabilities)
        task = MusicTask(model, splits["train"], splits["valid"], spec.batch_size, config.seed)
        return runs.fit(task, spec, config, run_dir, progress=progress, echo=echo)


def resume(run_dir: Path, changes: dict | None = None, file: Path | None = None, data_dir: Path | None = None,
           progress: bool = True, echo=print) -> runs.TrainResult:
    """Continue the run in ``run_dir`` exactly; ``changes`` of the resumable options (``runs.RESUMABLE``);
    ``file`` or ``data_dir``: where its pieces are now, if they moved."""
    changes = changes or {}
    with runs.resumed_run_dir(run_dir) as run_dir:
        tensors, spec, trainer = runs.read_run(run_dir, "last", TASK)
        model = runs.fresh_model(tensors, spec, run_dir)
        spec = replace(spec, data=spec.data.moved(data_dir, file))
        if spec.data.sha256 is not None:
            runs.check_same_file(spec.data.file, spec.data.sha256, "file")
        config = runs.resumed_config(trainer, changes, run_dir)
        splits = spec.data.read()
        task = MusicTask(model, splits["train"], splits["valid"], spec.batch_size, config.seed)
        return runs.fit(task, spec, config, run_dir, resume=True, new_lr=changes.get("lr"), progress=progress,
                        echo=echo)


def load_run(path, which: str = "best") -> runs.TrainedRun:
    return runs.load_run(path, which, TASK)


def _source(run: runs.TrainedRun, data_dir, file) -> MusicSource:
    return run.spec.data.moved(data_dir, file)


def evaluate(run: runs.TrainedRun, split: str, out_dir: Path, data_dir: Path | None = None,
             file: Path | None = None, echo=None) -> dict:
    """NLL in nats per frame (frames 2 .. T of each piece of ``split``) of the model and of the baselines
    ``marginal`` and ``previous frame`` (fitted on the training pieces): {method: {"nll", "frames"}},
    also under the key "DATA-SPLIT" of OUT_DIR/results.json; ``echo`` (if given) gets "wrote PATH"."""
    if split not in SPLITS:
        raise ConfigError(f"unknown `split` {split!r}: use one of {', '.join(SPLITS)}")
    out_dir = Path(out_dir)
    runs.check_results_file(out_dir)
    source = _source(run, data_dir, file)
    splits = source.read()
    if split not in splits:
        raise DataError(f"{source.file} has no {split} pieces: evaluate on another `split`")
    rolls = splits[split]
    if not any(len(roll) >= 2 for roll in rolls):
        raise DataError(f"the {split} pieces of {source.name} have a single frame each: nothing to score")
    model_score = score_rolls(run.model, rolls)
    results = {run.spec.model_name: {"nll": model_score.nats_per_frame, "frames": model_score.frames}}
    for name, baseline_class in BASELINES.items():
        baseline_score = score(baseline_class().fit(splits["train"]), rolls)
        results[name] = {"nll": baseline_score.nats_per_frame, "frames": baseline_score.frames}
    written = runs.write_results(out_dir, f"{source.name}-{split}", results)
    if echo:
        echo(f"wrote {written}")
    return results


@dataclass
class GeneratedPiece:
    """A generated roll (bool (T, 88), the primer's frames first), the files written, and (when no WAV
    could be made) why not; the statistics (``rnnkit.music_stats``) of its generated frames and of the
    test pieces, chords known from the training pieces (without the run's data: no known-chord share, no
    test statistics, and ``statistics_note`` says why)."""

    roll: np.ndarray
    paths: list[Path]
    note: str | None = None
    statistics: RollStatistics | None = None
    test_statistics: RollStatistics | None = None
    statistics_note: str | None = None


def generate(run: runs.TrainedRun, out_dir: Path, length: int = 64, temperature: float = 1.0, prime: int = 0,
             seed: int = 0, data_dir: Path | None = None, file: Path | None = None,
             name: str | None = None) -> GeneratedPiece:
    """``length`` frames drawn from the model at ``temperature`` (seeded by ``seed``), after the first
    ``prime`` frames of test piece 0 of the run's data (0: from nothing); written to ``out_dir`` as
    NAME.mid, NAME.png and, when fluidsynth and a soundfont are installed, NAME.wav."""
    if not isinstance(prime, (int, np.integer)) or prime < 0:
        raise ConfigError(f"`prime` must be a non-negative number of frames, got {prime!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"`seed` must be a non-negative integer, got {seed!r}")
    source = _source(run, data_dir, file)
    primer, splits, data_note = None, None, None
    try:
        splits = source.read()
    except DataError as error:
        if prime:
            raise
        data_note = f"no known chords or test pieces to compare with: {error}"
    if prime:
        if "test" not in splits:
            raise DataError(f"{source.file} has no test pieces to prime with: generate without `prime`")
        piece = splits["test"][0]
        if prime > len(piece):
            raise ConfigError(f"`prime` {prime} is longer than test piece 0 of {source.name} ({len(piece)} frames)")
        primer = piece[:prime]
    if run.model.config.num_keys != 88:
        raise ConfigError(f"the model has {run.model.config.num_keys} keys: only 88-key piano rolls can be written")
    run.model.eval()
    roll = generate_roll(run.model, length, np.random.default_rng(seed), temperature, primer=primer)
    out_dir = Path(out_dir)
    name = name or ("primed" if prime else "sample")
    fpb = run.spec.data.frames_per_beat
    midi = write_midi(roll, out_dir / f"{name}.mid", frames_per_beat=fpb)
    title = f"{run.spec.model_name}: " + (f"primed with {prime} frames of test piece 0" if prime else "from nothing")
    png = out_dir / f"{name}.png"
    plot_piano_roll(roll, png, title, primer_frames=prime, frames_per_beat=fpb)
    paths, note = [midi, png], None
    try:
        paths.append(render_wav(midi, out_dir / f"{name}.wav"))
    except SynthesizerMissing as missing:
        note = str(missing)
    known = chord_set(splits["train"]) if splits else None
    test = roll_statistics(splits["test"], known) if splits and "test" in splits else None
    return GeneratedPiece(roll, paths, note, roll_statistics([roll[prime:]], known), test, data_note)
