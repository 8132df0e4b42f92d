"""``rnnkit classify``: sentiment / text classification with a (Bi)LSTM, GRU or RNN.

    rnnkit classify train --dataset sst2            train; report dev and test accuracy vs bag of words
    rnnkit classify eval RUN_DIR --split test       accuracy, F1, confusion matrix (PNG)
    rnnkit classify eval RUN1 RUN2 RUN3             the ensemble: mean of the runs' class probabilities
    rnnkit classify predict RUN_DIR "text" ...      label and p(positive) per text (or per stdin line)
    rnnkit classify predict RUN1 "text" --ensemble RUN2 --ensemble RUN3       the same by an ensemble

SST-2 uses its official train/dev/test split; ChnSentiCorp hotel reviews have none,
so a fixed stratified 80/10/10 split (seed 0) is made. Embeddings are learned from scratch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from rnnkit.baselines import BagOfWordsLogisticRegression
from rnnkit.cli import common
from rnnkit.cli.options import fraction, positive
from rnnkit.data.sentiment import load_chnsenticorp, load_sst2
from rnnkit.data.tokenize import Vocabulary
from rnnkit.errors import ConfigError
from rnnkit.layers.pooling import POOLINGS
from rnnkit.models.char_lm import RECURRENT_LAYERS
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.plots import plot_confusion_matrix
from rnnkit.tasks.classification import (TOKENIZERS, ClassificationTask, class_weights, classification_metrics,
                                         encode_examples, encode_texts, ensemble_probabilities, tokenize)
from rnnkit.training.trained import load_trained_model

TASK = "classify"
DATASETS = {  # name: (folder under the data directory, loader, tokenizer)
    "sst2": ("sentiment_sst2", load_sst2, "words"),
    "chnsenticorp": ("sentiment_chnsenticorp_htl", load_chnsenticorp, "chinese"),
}
LABELS = ("negative", "positive")
ENSEMBLE_DATA_KEYS = ("dataset", "tokenizer", "max_len")   # what members of an ensemble must share


def register(subcommands) -> None:
    common.register_actions(subcommands, "classify", "train and use a text classifier", __doc__,
                            (register_train, register_eval, register_predict))


def register_train(actions) -> None:
    parser = actions.add_parser("train", help="train a classifier", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=sorted(DATASETS), default="sst2", help="(sst2)")
    common.add_data_dir_argument(data)
    data.add_argument("--tokenizer", choices=sorted(TOKENIZERS), help="words or chinese (default: the dataset's)")
    data.add_argument("--min-count", type=positive(int), default=1, help="rarer tokens become <unk> (1)")
    data.add_argument("--max-len", type=positive(int), default=200, help="tokens kept per text (200)")
    data.add_argument("--batch", type=positive(int), default=32, help="texts per batch (32)")
    data.add_argument("--class-weights", default="none", help="none, balanced, or one weight per class: 1,2 (none)")
    model = parser.add_argument_group("model")
    model.add_argument("--cell", choices=sorted(RECURRENT_LAYERS), default="lstm", help="(lstm)")
    model.add_argument("--layers", type=positive(int), default=1, help="stacked recurrent layers (1)")
    model.add_argument("--hidden", type=positive(int), default=128, help="hidden units per direction (128)")
    model.add_argument("--embedding", type=positive(int), default=128, help="embedding size (128)")
    model.add_argument("--unidirectional", action="store_true", help="read left to right only")
    model.add_argument("--pooling", choices=sorted(POOLINGS), default="max", help="over time (max)")
    model.add_argument("--dropout", type=fraction, default=0.5, help="before the output layer (0.5)")
    model.add_argument("--embedding-dropout", type=fraction, default=0.3, help="on embeddings (0.3)")
    model.add_argument("--embedding-scale", type=positive(float), default=0.1,
                       help="initial embeddings ~ N(0, scale^2) (0.1)")
    model.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    common.add_learning_arguments(parser, epochs=10, lr=1e-3, eval_every=100, patience=5,
                                  monitors=("val_loss", "val_accuracy", "val_f1"))
    parser.set_defaults(run=run_train)


def register_eval(actions) -> None:
    parser = actions.add_parser("eval", help="accuracy, F1 and confusion matrix of a trained classifier")
    common.add_run_dirs_arguments(parser, "the same dataset and vocabulary")
    parser.add_argument("--split", choices=("dev", "test"), default="test", help="(test)")
    parser.add_argument("--data-dir", type=Path, help="folder of the datasets (default: where training read it)")
    parser.add_argument("--baseline", action="store_true", help="also fit and score the bag-of-words baseline")
    parser.add_argument("--out", type=Path, help="folder for confusion-SPLIT.png and results.json "
                                                 "(the run's; for several runs, their common parent folder)")
    parser.set_defaults(run=run_eval)


def register_predict(actions) -> None:
    parser = actions.add_parser("predict", help="classify texts given as arguments or stdin lines")
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    parser.add_argument("--ensemble", type=Path, action="append", default=[], metavar="RUN_DIR",
                        help="another run (same dataset and vocabulary) whose class probabilities are "
                             "averaged in; repeat for more, after the texts")
    common.add_which_argument(parser)
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify (default: stdin, one per line)")
    parser.set_defaults(run=run_predict)


# -- train -------------------------------------------------------------------------------
def run_train(args) -> int:
    if args.resume:
        meta, model = common.resumed_run(args.resume, TASK, build_model)
        run_dir, config, resume = args.resume, common.resumed_config(args, meta), True
        vocab = Vocabulary.from_json(meta["vocab"])
    else:
        meta, vocab = new_meta(args)
        run_dir, config, resume = common.new_run_dir(args, args.dataset), common.train_config(args), False
        model = SequenceClassifier(ClassifierConfig.from_json(meta["model_config"]), meta["dtype"], rng=args.seed)
        model.embedding.weight *= args.embedding_scale
    spec = meta["data"]
    train_set = encode_examples(load_split(spec, "train"), spec["tokenizer"], vocab, spec["max_len"])
    dev_set = encode_examples(load_split(spec, "dev"), spec["tokenizer"], vocab, spec["max_len"])
    weights = class_weights(train_set.labels, model.config.num_classes, spec["class_weights"])
    task = ClassificationTask(model, train_set, dev_set, meta["batch_size"], config.seed, weights)
    common.train(task, config, run_dir, meta, args, resume)
    best, _ = load_trained_model(run_dir, "best", TASK, build_model)
    report([best], meta, ("dev", "test"), run_dir, with_baseline=True)
    return 0


def new_meta(args) -> tuple[dict, Vocabulary]:
    folder, _, default_tokenizer = DATASETS[args.dataset]
    spec = {"dataset": args.dataset, "folder": str((args.data_dir / folder).resolve()),
            "tokenizer": args.tokenizer or default_tokenizer, "max_len": args.max_len,
            "min_count": args.min_count, "class_weights": args.class_weights}
    train_texts = [text for text, _ in load_split(spec, "train")]
    vocab = Vocabulary.build(tokenize(train_texts, spec["tokenizer"]), min_count=args.min_count)
    config = ClassifierConfig(
        vocab_size=len(vocab), cell=args.cell, embedding_dim=args.embedding, hidden_size=args.hidden,
        num_layers=args.layers, bidirectional=not args.unidirectional, pooling=args.pooling,
        dropout=args.dropout, embedding_dropout=args.embedding_dropout)
    meta = {"task": TASK, "model_config": config.to_json(), "vocab": vocab.to_json(), "data": spec,
            "batch_size": args.batch, "dtype": args.dtype, "labels": list(LABELS)}
    return meta, vocab


def load_split(spec: dict, split: str) -> list[tuple[str, int]]:
    _, loader, _ = DATASETS[spec["dataset"]]
    return loader(spec["folder"], split)


def build_model(meta: dict, stored: dict) -> SequenceClassifier:
    config = ClassifierConfig.from_json(meta.get("model_config"))
    if len(Vocabulary.from_json(meta.get("vocab"))) != config.vocab_size:
        raise ConfigError("the checkpoint's vocabulary does not fit its model: the checkpoint is damaged")
    return SequenceClassifier(config, dtype=meta.get("dtype", "float32"))


# -- eval --------------------------------------------------------------------------------
def report(models: list, meta: dict, splits: tuple[str, ...], out_dir: Path, with_baseline: bool) -> dict:
    """Score each split; print it (and the baseline's), write confusion-SPLIT.png and results.json.

    Several models are scored as one ensemble, "rnn ensemble": the mean of their class probabilities.
    """
    spec, vocab = meta["data"], Vocabulary.from_json(meta["vocab"])
    baseline = fit_baseline(spec, vocab) if with_baseline else None
    name = "rnn" if len(models) == 1 else "rnn ensemble"
    all_results = {}
    for split in splits:
        examples = encode_examples(load_split(spec, split), spec["tokenizer"], vocab, spec["max_len"])
        metrics = classification_metrics(examples.labels, ensemble_probabilities(models, examples.sequences))
        results = {name: {"accuracy": metrics["accuracy"], "f1": metrics["f1"],
                          "confusion": metrics["confusion"].tolist(), "examples": len(examples)}}
        if len(models) > 1:
            results[name]["members"] = len(models)
        if baseline is not None:
            predicted = np.eye(2)[baseline.predict(examples.sequences)]
            scores = classification_metrics(examples.labels, predicted)
            results["bag-of-words"] = {"accuracy": scores["accuracy"], "f1": scores["f1"]}
        for method, scores in results.items():
            members = f" of {len(models)}" if method == "rnn ensemble" else ""
            print(f"{spec['dataset']} {split} {method}{members}: accuracy {scores['accuracy']:.4f}, "
                  f"F1 {scores['f1']:.4f}")
        plot_confusion_matrix(metrics["confusion"], meta["labels"], out_dir / f"confusion-{split}.png",
                              title=f"{spec['dataset']} {split}: accuracy {metrics['accuracy']:.3f}")
        common.write_results(out_dir, f"{spec['dataset']}-{split}", results)
        all_results[split] = results
    return all_results


def fit_baseline(spec: dict, vocab: Vocabulary) -> BagOfWordsLogisticRegression:
    """Bag-of-words logistic regression on the same training texts, tokens and vocabulary."""
    train_set = encode_examples(load_split(spec, "train"), spec["tokenizer"], vocab, spec["max_len"])
    return BagOfWordsLogisticRegression(len(vocab)).fit(train_set.sequences, train_set.labels)


def load_ensemble(paths: list[Path], which: str) -> tuple[list[SequenceClassifier], dict]:
    """The models of one or more runs, and the first one's meta; every run must read text as the first does."""
    loaded = common.load_ensemble(paths, which, TASK, build_model, ENSEMBLE_DATA_KEYS, ("vocab", "labels"),
                                  "runs trained on the same dataset with the same --tokenizer, --max-len "
                                  "and --min-count")
    return [model for model, _ in loaded], loaded[0][1]


def run_eval(args) -> int:
    models, meta = load_ensemble(args.run_dirs, args.which)
    if args.data_dir:
        meta["data"]["folder"] = str(args.data_dir / DATASETS[meta["data"]["dataset"]][0])
    report(models, meta, (args.split,), common.ensemble_report_dir(args.run_dirs, args.out), args.baseline)
    return 0


# -- predict -----------------------------------------------------------------------------
def run_predict(args) -> int:
    models, meta = load_ensemble([args.run_dir, *args.ensemble], args.which)
    texts = args.texts or [line.rstrip("\n") for line in sys.stdin]
    if not texts:
        raise ConfigError("no text to classify: pass texts as arguments or on stdin")
    spec = meta["data"]
    sequences = encode_texts(texts, spec["tokenizer"], Vocabulary.from_json(meta["vocab"]), spec["max_len"])
    probabilities = ensemble_probabilities(models, sequences)
    for text, p in zip(texts, probabilities):
        print(f"{meta['labels'][int(p.argmax())]}\t{p[1]:.4f}\t{text}")
    return 0
