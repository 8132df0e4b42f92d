"""Tiny trained runs for the page of ``rnnkit serve`` (a character model, a poem model, a classifier),
a server of one started in a thread on a free port of 127.0.0.1, and small HTTP clients."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from pathlib import Path

from rnnkit.data.corpus import CorpusSource
from rnnkit.models.char_lm import CharLMConfig
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.serve import make_server
from rnnkit.tasks import classification, language_model
from rnnkit.tasks.classification import ClassifySpec, TextSource
from rnnkit.tasks.language_model import LanguageModelSpec
from labelled_texts import labelled_rows, write_labelled
from tiny_lm import quiet, tiny_config, train_tiny, write_corpus

POEMS = ("author\ttitle\tpoem\n"
         "孟浩然\t春曉\t春眠不覺曉，處處聞啼鳥。夜來風雨聲，花落知多少。\n"
         "李白\t靜夜思\t床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。\n"
         "王之渙\t登鸛雀樓\t白日依山盡，黃河入海流。欲窮千里目，更上一層樓。\n")


def train_text_run(root: Path) -> Path:
    train_tiny(write_corpus(root), root / "run", max_steps=10)
    return root / "run"


def train_poem_run(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    poems = root / "poems.tsv"
    poems.write_text(POEMS, encoding="utf-8")
    spec = LanguageModelSpec(CorpusSource.from_paths([poems], column="poem"),
                             CharLMConfig(vocab_size=1, hidden_size=8, num_layers=1, embedding_dim=4),
                             val_fraction=0.2, batch_size=2, seq_len=8)
    language_model.train(spec, tiny_config(max_steps=3), root / "run", progress=False, echo=quiet)
    return root / "run"


def train_classifier_run(root: Path) -> Path:
    data = write_labelled(root / "reviews.csv", labelled_rows(30))
    tiny = ClassifierConfig(vocab_size=1, embedding_dim=8, hidden_size=8, dropout=0.0, embedding_dropout=0.0)
    spec = ClassifySpec(TextSource(file=str(data), text_column="review", label_column="stars"), tiny,
                        embedding_scale=1.0, batch_size=8)
    config = classification.train_config(epochs=6, lr=0.02, eval_every=5)
    classification.train(spec, config, root / "run", progress=False, echo=quiet)
    return root / "run"


@contextlib.contextmanager
def running(run, **options):
    """``make_server(run, port=0, ...)`` serving in a thread; shut down and closed at the end."""
    server = make_server(run, "127.0.0.1", 0, **options)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def port_of(server) -> int:
    return server.server_address[1]


def request(server, method: str, path: str, payload=None, headers: dict | None = None, body: bytes | None = None):
    """(status, headers as a dict of lower-case names, body bytes) of one request on a new connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port_of(server), timeout=30)
    headers = dict(headers or {})
    if payload is not None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers.setdefault("Content-Type", "application/json")
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def post(server, path: str, payload, **options):
    return request(server, "POST", path, payload, **options)


def raw(server, data: bytes, read: bool = True) -> bytes:
    """Send ``data`` as it is on a new socket and read the whole answer (until the server closes)."""
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=30) as connection:
        connection.sendall(data)
        if not read:
            return b""
        chunks = []
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def dechunk(body: bytes) -> list[bytes]:
    """The chunks of a chunked HTTP body, in order (the last, empty one left out)."""
    chunks = []
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return chunks
        chunks.append(body[:size])
        assert body[size:size + 2] == b"\r\n"
        body = body[size + 2:]
