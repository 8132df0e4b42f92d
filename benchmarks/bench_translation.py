"""Translation speed: a Seq2Seq training step and beam-search decoding, rnnkit against PyTorch.

    python benchmarks/bench_translation.py [--quick] [--threads 1]

The model: LSTM, embeddings and hidden size 256, a bidirectional 1-layer encoder, the
linear bridge, general attention, with and without input feeding; source and target
vocabularies of 8,000 and 10,000 (eng->fra at min count 1), batches of 64 pairs of
4-12 tokens (Tatoeba's short sentences). PyTorch runs the same equations with the
same weights: nn.LSTM over the packed source; the decoder as one nn.LSTM call over the
target without input feeding, one call per step with it; attention and the rest as
tensor operations.

- training step: forward, loss, backward, float32; the figure is rnnkit's time / torch's.
- beam search (width 5, α = 0.6, at most 2 L + 10 tokens): sentences per second of
  ``rnnkit.models.decoding.beam_search`` against two straightforward torch loops under
  ``torch.no_grad``: one sentence at a time (its k beams a batch, as tutorials write it),
  and all sentences at once (B k rows, ``topk`` over each sentence's k V candidates).
  The best hypotheses of rnnkit and the batched torch loop are compared too.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from common import add_threads_argument, compare, print_table, set_threads

from rnnkit.data.padding import pad_batch
from rnnkit.models.decoding import beam_search
from rnnkit.models.seq2seq import BOS_ID, EOS_ID, PAD_ID, Seq2Seq, Seq2SeqConfig, TranslationBatch

SOURCE_VOCAB, TARGET_VOCAB, SIZE, BATCH, BEAM, ALPHA = 8000, 10000, 256, 64, 5, 0.6


def random_batch(rng, batch=BATCH) -> TranslationBatch:
    sources = [rng.integers(4, SOURCE_VOCAB, rng.integers(4, 13)) for _ in range(batch)]
    targets = [rng.integers(4, TARGET_VOCAB, rng.integers(4, 13)) for _ in range(batch)]
    source, lengths = pad_batch(sources)
    target_inputs, _ = pad_batch([np.r_[BOS_ID, t] for t in targets])
    target_outputs, _ = pad_batch([np.r_[t, EOS_ID] for t in targets])
    return TranslationBatch(source, lengths, target_inputs, target_outputs)


class TorchSeq2Seq(torch.nn.Module):
    """rnnkit's Seq2Seq (general attention, linear bridge, LSTM) in PyTorch, with its weights."""

    def __init__(self, model: Seq2Seq):
        super().__init__()
        c = model.config
        self.feeding, H = c.input_feeding, c.hidden_size
        self.source_embedding = torch.nn.Embedding(c.source_vocab_size, c.embedding_dim)
        self.encoder = torch.nn.LSTM(c.embedding_dim, H // 2, c.num_layers, bidirectional=True)
        self.bridge_h, self.bridge_c = torch.nn.Linear(H, H), torch.nn.Linear(H, H)
        self.target_embedding = torch.nn.Embedding(c.target_vocab_size, c.embedding_dim)
        self.decoder = torch.nn.LSTM(c.embedding_dim + (H if c.input_feeding else 0), H, c.num_layers)
        self.weight_a = torch.nn.Parameter(torch.empty(H, H))
        self.combine = torch.nn.Linear(2 * H, H, bias=False)
        self.output = torch.nn.Linear(H, c.target_vocab_size)
        names = {"attention.weight_a": "weight_a"}
        self.load_state_dict({names.get(k, k): torch.tensor(v) for k, v in model.parameters().items()})

    def encode(self, source, lengths):
        packed = torch.nn.utils.rnn.pack_padded_sequence(self.source_embedding(source), lengths, enforce_sorted=False)
        outputs, (h, c) = self.encoder(packed)
        memory, _ = torch.nn.utils.rnn.pad_packed_sequence(outputs, total_length=source.shape[0])
        joined = [torch.cat([s[0::2], s[1::2]], -1) for s in (h, c)]
        state = (torch.tanh(self.bridge_h(joined[0])), torch.tanh(self.bridge_c(joined[1])))
        mask = torch.arange(source.shape[0])[None, :] < lengths[:, None]
        keys = memory.transpose(0, 1) @ self.weight_a.T                 # (B, S, H)
        return memory.transpose(0, 1), keys, mask, state

    def attend(self, states, memory, keys, mask):
        """states (B, T, H) -> h~ (B, T, H)."""
        scores = (states @ keys.transpose(1, 2)).masked_fill(~mask[:, None, :], -torch.inf)
        context = torch.softmax(scores, -1) @ memory
        return torch.tanh(self.combine(torch.cat([context, states], -1)))

    def forward(self, source, lengths, target_inputs):
        memory, keys, mask, state = self.encode(source, lengths)
        embedded = self.target_embedding(target_inputs)
        if not self.feeding:
            states, _ = self.decoder(embedded, state)
            return self.output(self.attend(states.transpose(0, 1), memory, keys, mask).transpose(0, 1))
        feed, outputs = torch.zeros(source.shape[1], memory.shape[2]), []
        for t in range(target_inputs.shape[0]):
            output, state = self.decoder(torch.cat([embedded[t], feed], -1)[None], state)
            feed = self.attend(output[0][:, None], memory, keys, mask)[:, 0]
            outputs.append(feed)
        return self.output(torch.stack(outputs))

    def step(self, ids, feed, state, memory, keys, mask):
        inputs = self.target_embedding(ids)
        inputs = torch.cat([inputs, feed], -1) if self.feeding else inputs
        output, state = self.decoder(inputs[None], state)
        attentional = self.attend(output[0][:, None], memory, keys, mask)[:, 0]
        return torch.log_softmax(self.output(attentional), -1), attentional, state


def torch_beam_search(net: TorchSeq2Seq, source, lengths, k=BEAM) -> list[list[int]]:
    """All sentences at once: B k rows; each step the top 2k of each sentence's k V candidates."""
    batch, vocab = source.shape[1], net.output.out_features
    memory, keys, mask, state = net.encode(source, lengths)
    rows = torch.arange(batch).repeat_interleave(k)
    memory, keys, mask = memory[rows], keys[rows], mask[rows]
    state = tuple(s[:, rows] for s in state)
    feed = torch.zeros(batch * k, memory.shape[2])
    scores = torch.full((batch, k), -torch.inf)
    scores[:, 0] = 0
    ids, paths = torch.full((batch * k,), BOS_ID), [[] for _ in range(batch * k)]
    finished = [[] for _ in range(batch)]
    limits = 2 * lengths + 10
    for t in range(int(limits.max())):
        log_probs, feed, state = net.step(ids, feed, state, memory, keys, mask)
        log_probs[:, [PAD_ID, BOS_ID]] = -torch.inf
        ending = (t == limits - 1).repeat_interleave(k)
        log_probs[ending] = torch.where(torch.arange(vocab) == EOS_ID, log_probs[ending], -torch.inf)
        candidates = (scores.reshape(-1, 1) + log_probs).reshape(batch, k * vocab)
        top, index = candidates.topk(2 * k, dim=1)
        new_rows, new_ids, new_scores = [], [], []
        for b in range(batch):
            going = []
            for rank in range(2 * k):
                candidate, score = int(index[b, rank]), float(top[b, rank])
                row, token = b * k + candidate // vocab, candidate % vocab
                if token == EOS_ID:
                    if rank < k and score > -np.inf and len(finished[b]) < k:
                        finished[b].append((score / ((5 + t + 1) / 6) ** ALPHA, paths[row]))
                elif len(going) < k:
                    going.append((row, token, score))
            for row, token, score in going:
                new_rows.append(row), new_ids.append(token), new_scores.append(score)
        if all(len(f) >= k for f in finished):
            break
        select = torch.tensor(new_rows)
        paths = [paths[row] + [token] for row, token in zip(new_rows, new_ids)]
        state, feed = tuple(s[:, select] for s in state), feed[select]
        ids, scores = torch.tensor(new_ids), torch.tensor(new_scores).reshape(batch, k)
    return [max(f)[1] for f in finished]


def torch_beam_search_one_by_one(net: TorchSeq2Seq, source, lengths) -> None:
    for b in range(source.shape[1]):
        torch_beam_search(net, source[: lengths[b], b : b + 1], lengths[b : b + 1])


def rnnkit_train_step(model: Seq2Seq, batch: TranslationBatch):
    def run():
        model.zero_grad()
        loss, dlogits = model.loss(model(batch.source, batch.source_lengths, batch.target_inputs), batch)
        model.backward(dlogits)
    return run


def torch_train_step(net: TorchSeq2Seq, batch: TranslationBatch):
    source, lengths = torch.tensor(batch.source), torch.tensor(batch.source_lengths)
    inputs, outputs = torch.tensor(batch.target_inputs), torch.tensor(batch.target_outputs)

    def run():
        net.zero_grad()
        logits = net(source, lengths, inputs)
        torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), outputs.reshape(-1),
                                          ignore_index=PAD_ID).backward()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and sentences")
    add_threads_argument(parser)
    args = parser.parse_args()
    set_threads(args.threads)
    rng = np.random.default_rng(0)
    training_rows, beam_rows = [], []
    for feeding in (False, True):
        config = Seq2SeqConfig(SOURCE_VOCAB, TARGET_VOCAB, embedding_dim=SIZE, hidden_size=SIZE,
                               input_feeding=feeding, dropout=0.0)
        model = Seq2Seq(config, rng=0)
        net = TorchSeq2Seq(model)
        batch = random_batch(rng)
        ours, theirs, ratio = compare(rnnkit_train_step(model, batch), torch_train_step(net, batch),
                                      rounds=3 if args.quick else 7)
        training_rows.append([f"feeding={feeding}", ours * 1e3, theirs * 1e3, ratio])
        beam_rows.append(beam_row(model, net, random_batch(rng, 16 if args.quick else BATCH), feeding))
    print_table(["model", "rnnkit ms", "torch ms", "ratio"], training_rows, "training step (forward + backward)")
    print_table(["model", "rnnkit sent/s", "torch one by one", "torch batched", "speedup vs one by one",
                 "vs batched", "same best"], beam_rows, f"beam search, width {BEAM}")


def beam_row(model: Seq2Seq, net: TorchSeq2Seq, batch: TranslationBatch, feeding: bool) -> list:
    model.eval()
    source, lengths = torch.tensor(batch.source), torch.tensor(batch.source_lengths)
    count = batch.source.shape[1]
    timings = {}
    with torch.no_grad():
        for name, run in (("rnnkit", lambda: beam_search(model, batch.source, batch.source_lengths, BEAM, ALPHA)),
                          ("one by one", lambda: torch_beam_search_one_by_one(net, source, lengths)),
                          ("batched", lambda: torch_beam_search(net, source, lengths))):
            run()
            start = time.perf_counter()
            result = run()
            timings[name] = count / (time.perf_counter() - start)
            if name == "rnnkit":
                ours = [n_best[0].tokens for n_best in result]
            if name == "batched":
                same = sum(a == b for a, b in zip(ours, result)) / count
    return [f"feeding={feeding}", timings["rnnkit"], timings["one by one"], timings["batched"],
            timings["rnnkit"] / timings["one by one"], timings["rnnkit"] / timings["batched"], same]


if __name__ == "__main__":
    main()
