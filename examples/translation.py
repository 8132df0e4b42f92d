"""A translation sanity check on the library API: train a Seq2Seq on Tatoeba pairs for a few minutes,
then score greedy and beam-search translations of the held-out pairs with sacrebleu.

    python examples/translation.py                                   # eng->fra, the first 2,000 pairs, 4 minutes
    python examples/translation.py --pairs 10000 --minutes 20 --hidden 256
    python examples/translation.py --data translation_cmn_eng/cmn.txt --reverse --source-tokenizer char

It prints the training and dev loss as they fall, then BLEU and chrF (with sacrebleu's
signatures) of the test part, a few translations, and writes the attention of the
first test sentence to OUT/attention.png. The `rnnkit translate` command will do the
same through a task with checkpoints; this script only shows the pieces fit.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from rnnkit.data.datasets import default_data_dir
from rnnkit.data.pairs import PairsOptions, display_tokens, prepare_corpus, read_pairs, to_text
from rnnkit.metrics_translation import corpus_bleu, corpus_chrf
from rnnkit.models.decoding import beam_search, greedy
from rnnkit.models.seq2seq import EOS_ID, Seq2Seq, Seq2SeqConfig, label_smoothed_cross_entropy
from rnnkit.optim.clipping import clip_grad_norm
from rnnkit.optim.optimizers import Adam
from rnnkit.plot_attention import plot_attention


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="translation_eng_fra/fra_first80000.txt", help="relative to $RNNKIT_DATA")
    parser.add_argument("--reverse", action="store_true")
    parser.add_argument("--pairs", type=int, default=2000, help="the first PAIRS pairs of the file")
    parser.add_argument("--source-tokenizer", default="word")
    parser.add_argument("--target-tokenizer", default="word")
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--embedding", type=int, default=128)
    parser.add_argument("--attention", default="general")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("runs/translation-example"))
    args = parser.parse_args()

    pairs = read_pairs(default_data_dir() / args.data, reverse=args.reverse)
    pairs = pairs.take(range(min(args.pairs, len(pairs))))
    corpus = prepare_corpus(pairs, PairsOptions(args.source_tokenizer, args.target_tokenizer))
    print(f"{len(pairs)} pairs: " + ", ".join(f"{name} {len(part)}" for name, part in corpus.parts.items())
          + f"; vocabularies {len(corpus.source_vocab)} / {len(corpus.target_vocab)}")
    config = Seq2SeqConfig(len(corpus.source_vocab), len(corpus.target_vocab), embedding_dim=args.embedding,
                           hidden_size=args.hidden, attention=args.attention, dropout=0.2, label_smoothing=0.1)
    model = Seq2Seq(config, rng=0)
    train(model, corpus, args)
    evaluate(model, corpus, args)


def train(model: Seq2Seq, corpus, args) -> None:
    optimizer, rng = Adam(model, lr=args.lr), np.random.default_rng(0)
    start, step, epoch = time.perf_counter(), 0, 0
    while time.perf_counter() - start < 60 * args.minutes:
        epoch += 1
        losses = []
        for batch in corpus.parts["train"].batches(args.batch, rng):
            model.train()
            model.zero_grad()
            loss, dlogits = model.loss(model(batch.source, batch.source_lengths, batch.target_inputs), batch)
            model.backward(dlogits)
            clip_grad_norm(model.grads, 5.0)
            optimizer.step()
            losses.append(loss)
            step += 1
            if time.perf_counter() - start > 60 * args.minutes:
                break
        print(f"epoch {epoch}  step {step}  {time.perf_counter() - start:6.0f} s  "
              f"train loss {np.mean(losses):.3f}  dev nll {dev_loss(model, corpus):.3f}", flush=True)


def dev_loss(model: Seq2Seq, corpus) -> float:
    """Mean negative log-likelihood per target token of the dev part (no smoothing, no dropout)."""
    model.eval()
    total = tokens = 0.0
    for batch in corpus.parts["dev"].batches(64, shuffle=False):
        logits = model(batch.source, batch.source_lengths, batch.target_inputs)
        loss, _ = label_smoothed_cross_entropy(logits, batch.target_outputs, batch.target_mask)
        total, tokens = total + loss * batch.target_tokens, tokens + batch.target_tokens
    return total / tokens


def evaluate(model: Seq2Seq, corpus, args) -> None:
    test = corpus.parts["test"]
    references = test.pairs.targets
    decoders = {"greedy": lambda source, lengths: greedy(model, source, lengths),
                f"beam {args.beam}": lambda source, lengths: [n_best[0] for n_best in
                                                              beam_search(model, source, lengths, args.beam)]}
    for name, decode in decoders.items():
        start, hypotheses = time.perf_counter(), []
        for begin in range(0, len(test), 64):
            batch = test.batch(range(begin, min(begin + 64, len(test))))
            hypotheses += decode(batch.source, batch.source_lengths)
        texts = [to_text(h.tokens, corpus.target_vocab, args.target_tokenizer) for h in hypotheses]
        seconds = time.perf_counter() - start
        print(f"{name}: {corpus_bleu(texts, references)}; {corpus_chrf(texts, references)}; "
              f"{len(texts) / seconds:.0f} sentences/s")
    for source, reference, text in list(zip(test.pairs.sources, references, texts))[:8]:
        print(f"  {source}  ->  {text}   (reference: {reference})")
    batch = test.batch([0])
    best = beam_search(model, batch.source, batch.source_lengths, args.beam)[0][0]
    output = display_tokens([*best.tokens, EOS_ID], corpus.target_vocab)
    source_tokens = display_tokens(batch.source[:, 0], corpus.source_vocab)
    plot_attention(best.attention, source_tokens, output, args.out / "attention.png", test.pairs.sources[0])
    print(f"attention of the first test sentence: {args.out / 'attention.png'}")


if __name__ == "__main__":
    main()
