"""The anchor of issue 12: PyTorch's official seq2seq tutorial, trained on rnnkit's split and scored the same way.

    python examples/translation_torch_tutorial.py --dataset eng-fra --minutes 30 --out runs/torch-eng-fra
    python examples/translation_torch_tutorial.py --dataset cmn-eng --reverse --minutes 30 --out runs/torch-cmn-eng

The model is the tutorial's ("NLP From Scratch: Translation with a Sequence to Sequence
Network and Attention", pytorch.org/tutorials/intermediate/seq2seq_translation_tutorial):

    encoder    e_j = dropout(E_src[x_j]);  h_j = GRU(e_j, h_{j-1})                 one layer, one direction
    attention  score_tj = V_a . tanh(W_a s_{t-1} + U_a h_j);  a_t = softmax_j(score_t);  c_t = sum_j a_tj h_j
    decoder    s_t = GRU([dropout(E_tgt[y_{t-1}]); c_t], s_{t-1}),  s_{-1} = h_S      (Bahdanau attention)
    output     log p(y_t) = log_softmax(W_o s_t + b_o)

with its settings: hidden size 128 (embeddings 128), dropout 0.1, Adam at 1e-3, batch 32,
teacher forcing, greedy decoding. Two things differ, both in the model's favour, because
rnnkit's pairs are of any length up to 50 tokens where the tutorial's stop at 10: padding
is handled (the encoder reads each source packed to its own length, the attention masks
the padding, the loss skips padded targets), and decoding stops at <eos> or 2·S + 10 tokens.

The data are rnnkit's, unchanged: ``rnnkit.tasks.translation.prepare`` splits and numbers
the pairs exactly as ``rnnkit translate train --dataset ...`` does (same split seed, the
same tokenisers and vocabularies), and the test part's greedy translations are scored by
the same call as ``rnnkit translate eval`` (``rnnkit.metrics_translation``, sacrebleu).
It prints the training and dev loss as they fall, then test BLEU and chrF with their
signatures, and writes them to OUT/results.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rnnkit.data.pairs import to_text
from rnnkit.metrics_translation import corpus_bleu, corpus_chrf
from rnnkit.models.seq2seq import BOS_ID, EOS_ID, PAD_ID
from rnnkit.tasks.translation import PairsSource, TranslationSpec, prepare


class Encoder(nn.Module):
    def __init__(self, vocab_size: int, hidden_size: int, dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, source: torch.Tensor, lengths: torch.Tensor):
        packed = nn.utils.rnn.pack_padded_sequence(self.dropout(self.embedding(source)), lengths,
                                                   batch_first=True, enforce_sorted=False)
        outputs, hidden = self.gru(packed)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(outputs, batch_first=True, total_length=source.shape[1])
        return outputs, hidden


class BahdanauAttention(nn.Module):
    def __init__(self, hidden_size: int):
        super().__init__()
        self.Wa = nn.Linear(hidden_size, hidden_size)
        self.Ua = nn.Linear(hidden_size, hidden_size)
        self.Va = nn.Linear(hidden_size, 1)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, keys_projected: torch.Tensor, mask: torch.Tensor):
        scores = self.Va(torch.tanh(self.Wa(query) + keys_projected)).squeeze(2)        # (B, S)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        return torch.bmm(weights.unsqueeze(1), keys), weights


class AttnDecoder(nn.Module):
    def __init__(self, hidden_size: int, vocab_size: int, dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.attention = BahdanauAttention(hidden_size)
        self.gru = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)
        self.dropout = nn.Dropout(dropout)

    def step(self, ids, hidden, keys, keys_projected, mask):
        """One step: ids (B, 1), hidden (1, B, H) -> logits (B, V), the new hidden."""
        embedded = self.dropout(self.embedding(ids))
        context, _ = self.attention(hidden.permute(1, 0, 2), keys, keys_projected, mask)
        output, hidden = self.gru(torch.cat((embedded, context), dim=2), hidden)
        return self.out(output.squeeze(1)), hidden

    def forward(self, keys, hidden, mask, target_inputs):
        """Teacher forcing over target_inputs (B, T) -> logits (B, T, V)."""
        keys_projected = self.attention.Ua(keys)
        logits = []
        for t in range(target_inputs.shape[1]):
            step_logits, hidden = self.step(target_inputs[:, t:t + 1], hidden, keys, keys_projected, mask)
            logits.append(step_logits)
        return torch.stack(logits, dim=1)

    @torch.no_grad()
    def greedy(self, keys, hidden, mask, max_length: int) -> list[list[int]]:
        keys_projected = self.attention.Ua(keys)
        ids = torch.full((keys.shape[0], 1), BOS_ID, dtype=torch.long)
        found, done = [], torch.zeros(keys.shape[0], dtype=torch.bool)
        for _ in range(max_length):
            logits, hidden = self.step(ids, hidden, keys, keys_projected, mask)
            ids = logits.argmax(dim=1, keepdim=True)
            found.append(ids.squeeze(1))
            done |= ids.squeeze(1) == EOS_ID
            if done.all():
                break
        rows = torch.stack(found, dim=1).tolist()
        return [row[:row.index(EOS_ID)] if EOS_ID in row else row for row in rows]


def tensors(batch):
    """rnnkit's time-major TranslationBatch -> batch-first torch tensors."""
    return (torch.from_numpy(batch.source.T.astype(np.int64)), torch.from_numpy(batch.source_lengths.astype(np.int64)),
            torch.from_numpy(batch.target_inputs.T.astype(np.int64)),
            torch.from_numpy(batch.target_outputs.T.astype(np.int64)))


def batch_loss(encoder, decoder, batch, loss_function) -> tuple[torch.Tensor, int]:
    source, lengths, target_inputs, target_outputs = tensors(batch)
    keys, hidden = encoder(source, lengths)
    logits = decoder(keys, hidden, source != PAD_ID, target_inputs)
    tokens = int((target_outputs != PAD_ID).sum())
    return loss_function(logits.reshape(-1, logits.shape[-1]), target_outputs.reshape(-1)), tokens


def dev_loss(encoder, decoder, part) -> float:
    encoder.eval(), decoder.eval()
    total = tokens = 0.0
    loss_function = nn.CrossEntropyLoss(ignore_index=PAD_ID, reduction="sum")
    with torch.no_grad():
        for batch in part.batches(64, shuffle=False):
            loss, n = batch_loss(encoder, decoder, batch, loss_function)
            total, tokens = total + float(loss), tokens + n
    encoder.train(), decoder.train()
    return total / tokens


def translate(encoder, decoder, part) -> list[list[int]]:
    encoder.eval(), decoder.eval()
    found = []
    with torch.no_grad():
        for begin in range(0, len(part), 64):
            batch = part.batch(range(begin, min(begin + 64, len(part))))
            source, lengths, _, _ = tensors(batch)
            keys, hidden = encoder(source, lengths)
            found += decoder.greedy(keys, hidden, source != PAD_ID, 2 * source.shape[1] + 10)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=Path, help="a pairs file (source<TAB>target) instead of --dataset")
    parser.add_argument("--dataset", default="eng-fra", choices=("eng-fra", "cmn-eng"))
    parser.add_argument("--lowercase", action="store_true")
    parser.add_argument("--reverse", action="store_true", help="the second column is the source (cmn->eng)")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    source = (PairsSource(file=str(args.pairs.resolve()), reverse=args.reverse) if args.pairs
              else PairsSource.built_in(args.dataset, reverse=args.reverse))
    spec = prepare(TranslationSpec(source, lowercase=args.lowercase))
    corpus = spec.corpus()
    print(f"{spec.data.name}: " + ", ".join(f"{name} {len(part)}" for name, part in corpus.parts.items())
          + f" pairs; vocabularies {len(corpus.source_vocab)} / {len(corpus.target_vocab)}", flush=True)
    encoder = Encoder(len(corpus.source_vocab), args.hidden, args.dropout)
    decoder = AttnDecoder(args.hidden, len(corpus.target_vocab), args.dropout)
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=args.lr)
    loss_function = nn.CrossEntropyLoss(ignore_index=PAD_ID)

    rng, start, step, epoch, best = np.random.default_rng(args.seed), time.perf_counter(), 0, 0, (np.inf, None)
    while time.perf_counter() - start < 60 * args.minutes:
        epoch += 1
        losses = []
        for batch in corpus.parts["train"].batches(args.batch, rng):
            optimizer.zero_grad()
            loss, _ = batch_loss(encoder, decoder, batch, loss_function)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
            if time.perf_counter() - start > 60 * args.minutes:
                break
        dev = dev_loss(encoder, decoder, corpus.parts["dev"])
        if dev < best[0]:
            best = (dev, ({k: v.clone() for k, v in encoder.state_dict().items()},
                          {k: v.clone() for k, v in decoder.state_dict().items()}))
        print(f"epoch {epoch}  step {step}  {time.perf_counter() - start:6.0f} s  "
              f"train loss {np.mean(losses):.3f}  dev nll {dev:.3f}", flush=True)
    encoder.load_state_dict(best[1][0]), decoder.load_state_dict(best[1][1])

    test = corpus.parts["test"]
    started = time.perf_counter()
    texts = [to_text(ids, spec.target_vocab, spec.target_kind) for ids in translate(encoder, decoder, test)]
    seconds = time.perf_counter() - started
    references = [text.lower() for text in test.pairs.targets] if spec.lowercase else test.pairs.targets
    bleu = corpus_bleu(texts, references, tokenize=spec.bleu_tokenize)
    chrf = corpus_chrf(texts, references)
    print(f"test, greedy: {bleu}; {chrf}; {len(texts) / seconds:.0f} sentences/s")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "translations-test.txt").write_text("".join(text + "\n" for text in texts), encoding="utf-8")
    results = {"data": spec.data.name, "steps": step, "epochs": epoch, "minutes": args.minutes,
               "best_dev_nll": best[0], "bleu": bleu.score, "bleu_signature": bleu.signature,
               "chrf": chrf.score, "chrf_signature": chrf.signature, "sentences": len(texts)}
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
