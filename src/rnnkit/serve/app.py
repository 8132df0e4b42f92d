"""The page's application, apart from any server: requests in, responses out.

``App(run).handle(method, target, headers, body)`` answers one HTTP request with a
``Response`` whose body is bytes or, for a generation, an iterator of UTF-8 pieces
sent as they are made. ``server.py`` puts it behind the standard library's
``ThreadingHTTPServer``; tests call it directly, without a socket.

Routes (nothing else; no path of a request is ever read from disk):

    GET  /              the page (static/index.html), /app.js, /style.css
    GET  /api/info      what the run is: its task, model, vocabulary size or labels, the limits
    POST /api/generate  {"prime", "length", "temperature", "top_k", "seed"} -> the characters, streamed
    POST /api/poem      {"chars_per_line": 5|7, "lines": 4|8, "acrostic", "temperature", "top_k", "seed"}
                        -> {"lines": [...]}                               (models trained on poems)
    POST /api/classify  {"texts": [...]} -> {"labels": [...], "results": [{"text", "label", "probabilities"}]}

Every answer that is not a success is a 4xx or 5xx with a one-line JSON body
``{"error": "..."}``; a bug is logged on the server, never sent as a traceback.

Sharing one model between requests: the weights are read-only, but a model's
``forward`` keeps buffers in its layers and ``classification.predict`` switches it
between eval and train mode, so every call into the model (each character drawn, each
poem, each batch classified) holds ``App.model_lock``. What a generation keeps between
characters (its stepper's state, its random generator) belongs to that request alone.
The lock is held per character, so simultaneous generations take turns character by
character, and a request that is slow to read its stream holds no lock while it waits.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from rnnkit.errors import ConfigError, RnnkitError

log = logging.getLogger("rnnkit.serve")

TASKS = ("char-lm", "classify")
POEM_MARKS = ("\n", "，", "。")          # what a poem model's vocabulary must hold (tasks/poems.py)
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/style.css": ("style.css", "text/css; charset=utf-8")}
API = {"/api/info": "GET", "/api/generate": "POST", "/api/poem": "POST", "/api/classify": "POST"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
DEFAULT_LENGTH = 500              # characters, as rnnkit sample
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Limits:
    """What one request may ask for. Larger requests get a 4xx naming the limit."""

    max_body: int = 64 * 1024        # bytes of a request's body
    max_length: int = 2000           # characters generated per request
    max_prime: int = 1000            # characters of a prime
    max_acrostic: int = 8            # characters of an acrostic (one per line: 4 or 8)
    max_texts: int = 32              # texts classified per request
    max_text: int = 2000             # characters per text
    max_temperature: float = 10.0
    max_active: int = 8              # requests using the model at once; more get 503

    def __post_init__(self):
        for name, value in asdict(self).items():
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0):
                raise ConfigError(f"`{name}` must be positive, got {value!r}")


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes | Iterator[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def streamed(self) -> bool:
        return not isinstance(self.body, bytes)

    def close(self) -> None:
        """Stop a streamed body early (the client went away): frees what it holds."""
        if self.streamed and hasattr(self.body, "close"):
            self.body.close()


class RequestError(Exception):
    """A request the page or a client got wrong: answered with ``status`` and a one-line message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def json_response(status: int, payload, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(status, "application/json; charset=utf-8", body, dict(headers or {}))


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """``{"error": message}`` on one line, whatever ``message`` holds."""
    return json_response(status, {"error": " ".join(str(message).split())}, headers)


def static_files() -> dict[str, bytes]:
    """The page's files, read once from the package (``rnnkit/serve/static``)."""
    folder = resources.files("rnnkit.serve") / "static"
    return {name: (folder / name).read_bytes() for name, _ in set(STATIC.values())}


class App:
    """The page and its API for one trained run (``runs.TrainedRun`` of a character model or classifier)."""

    def __init__(self, run, limits: Limits | None = None, allowed_hosts: Iterable[str] | None = None):
        task = getattr(run.spec, "TASK", None)
        if task not in TASKS:
            raise ConfigError(f"{run.path} is a {task!r} run: the page serves character models "
                              f"(rnnkit train) and classifiers (rnnkit classify train)")
        if task == "char-lm" and run.spec.tokens != "chars":
            raise ConfigError(f"{run.path} is a model of {run.spec.tokens}: the page serves character models")
        self.run, self.task = run, task
        self.limits = limits or Limits()
        self.allowed_hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}
        self.model_lock = threading.Lock()
        self._active = 0                                   # requests using the model now
        self._active_lock = threading.Lock()
        self._static = static_files()
        self.poem = task == "char-lm" and is_poem_vocab(run.spec.vocab)
        self.default_length = min(DEFAULT_LENGTH, self.limits.max_length)

    # -- dispatch -----------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"") -> Response:
        """One request: ``target`` as in the request line (a query string is ignored), ``headers``
        by lower-case name. Never raises: every failure is a response."""
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        try:
            response = self._route(method.upper(), target.split("?", 1)[0].split("#", 1)[0], headers, body)
        except RequestError as error:
            response = error_response(error.status, error.message, error.headers)
        except RnnkitError as error:                       # the library's own one-line errors
            response = error_response(400, str(error))
        except Exception as error:                         # a bug: logged here, one line to the client
            log.exception("error answering %s %s", method, target[:200])
            response = error_response(500, f"internal error ({type(error).__name__}); see the server's log")
        response.headers = {**SECURITY_HEADERS, **response.headers}
        return response

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        self._check_host(headers.get("host"))
        if path in STATIC:
            self._check_method(method, "GET")
            name, content_type = STATIC[path]
            return Response(200, content_type, self._static[name])
        if path not in API:
            raise RequestError(404, f"no such page: {path[:100]!r} (the page is at /)")
        self._check_method(method, API[path])
        if path == "/api/info":
            return json_response(200, self.info())
        params = self._json_body(headers, body)
        if path == "/api/classify":
            if self.task != "classify":
                raise RequestError(400, f"{path} is for classifiers; this run is a character model "
                                        "(use /api/generate)")
            return self._with_slot(lambda: json_response(200, self.classify(params)))
        if self.task != "char-lm":
            raise RequestError(400, f"{path} is for character models; this run is a classifier (use /api/classify)")
        if path == "/api/poem":
            return self._with_slot(lambda: json_response(200, self.poem_lines(params)))
        return self._generate_response(params)

    def _check_host(self, host: str | None) -> None:
        """Refuse requests for another host name (DNS rebinding) when the server is local."""
        if self.allowed_hosts is None:
            return
        name = (host or "").strip().lower()
        if name.startswith("["):                           # [::1]:8000
            name = name[1:name.find("]")] if "]" in name else name
        else:
            name = name.rsplit(":", 1)[0]
        if name not in self.allowed_hosts:
            raise RequestError(403, f"the Host {host!r} is not this server: open it as http://127.0.0.1:PORT/")

    @staticmethod
    def _check_method(method: str, allowed: str) -> None:
        if method != allowed and not (method == "HEAD" and allowed == "GET"):
            raise RequestError(405, f"{method} is not allowed here: use {allowed}", {"Allow": allowed})

    def _json_body(self, headers: dict[str, str], body: bytes) -> dict:
        if len(body) > self.limits.max_body:
            raise RequestError(413, f"the request body has {len(body)} bytes; the limit is {self.limits.max_body}")
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise RequestError(415, f"send JSON (Content-Type: application/json), not {content_type or 'nothing'!r}")
        try:
            params = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError) as error:
            raise RequestError(400, f"the body is not JSON: {error}") from None
        if not isinstance(params, dict):
            raise RequestError(400, f"the body must be a JSON object, got {type(params).__name__}")
        return params

    @property
    def active(self) -> int:
        """How many requests are using the model (a stream counts until it ends or is closed)."""
        return self._active

    def _with_slot(self, answer: Callable[[], Response]) -> Response:
        self._take_slot()
        try:
            return answer()
        finally:
            self._release_slot()

    def _take_slot(self) -> None:
        with self._active_lock:
            if self._active >= self.limits.max_active:
                raise RequestError(503, f"busy: {self.limits.max_active} requests are running; try again shortly",
                                   {"Retry-After": "1"})
            self._active += 1

    def _release_slot(self) -> None:
        with self._active_lock:
            self._active -= 1

    # -- the endpoints ------------------------------------------------------------------------
    def info(self) -> dict:
        spec, limits = self.run.spec, self.limits
        model = spec.model
        layers = f"{model.num_layers} × {model.hidden_size}"
        if getattr(model, "bidirectional", False):
            layers += ", bidirectional"
        described = {"cell": model.cell, "layers": layers}
        info = {"task": self.task, "run": Path(self.run.path).name, "step": self.run.trainer.get("step"),
                "model": described, "limits": asdict(limits)}
        if self.task == "char-lm":
            from rnnkit.tasks.language_model import SAMPLE_TEMPERATURE
            info.update(vocab_size=len(spec.vocab), poem=self.poem,
                        defaults={"temperature": SAMPLE_TEMPERATURE, "length": self.default_length,
                                  "top_k": 0})
        else:
            info.update(labels=list(spec.labels))
        return info

    def _generate_response(self, params: dict) -> Response:
        from rnnkit.tasks import language_model
        limits, vocab = self.limits, self.run.spec.vocab
        fields = Fields(params, ("prime", "length", "temperature", "top_k", "seed"))
        length = fields.integer("length", 1, limits.max_length, default=self.default_length)
        prime = fields.text("prime", 0, limits.max_prime, default="")
        temperature, top_k, seed = self._sampling(fields)
        unknown = sorted(set(prime) - set(vocab.characters))
        if unknown:
            shown = "".join(unknown[:20]) + ("..." if len(unknown) > 20 else "")
            raise RequestError(400, f"`prime` has characters the model has never seen ({shown!r}): remove them")
        self._take_slot()
        try:
            characters = language_model.sample(self.run, length, prime, temperature, top_k,
                                               rng=np.random.default_rng(seed))
            stream = Stream(characters, self.model_lock, self._release_slot)
        except BaseException:
            self._release_slot()
            raise
        try:
            stream.start()                # errors of the sampling options come here, before any header is sent
        except BaseException:
            stream.close()
            raise
        return Response(200, "text/plain; charset=utf-8", stream, {"X-Accel-Buffering": "no"})

    def poem_lines(self, params: dict) -> dict:
        from rnnkit.tasks.poems import generate_poem
        fields = Fields(params, ("chars_per_line", "lines", "acrostic", "temperature", "top_k", "seed"))
        chars_per_line = fields.choice("chars_per_line", (5, 7), default=5)
        acrostic = fields.text("acrostic", 0, self.limits.max_acrostic, default="")
        lines = fields.choice("lines", (4, 8), default=len(acrostic) if len(acrostic) in (4, 8) else 4)
        temperature, top_k, seed = self._sampling(fields)
        if not self.poem:
            raise RequestError(400, "this model was not trained on poems: its vocabulary lacks "
                                    f"{[c for c in POEM_MARKS if c not in self.run.spec.vocab.characters]}")
        with self.model_lock:
            poem = generate_poem(self.run.model, self.run.spec.vocab, chars_per_line, lines, acrostic,
                                 temperature, top_k, np.random.default_rng(seed))
        return {"lines": poem}

    def classify(self, params: dict) -> dict:
        from rnnkit.tasks import classification
        limits = self.limits
        fields = Fields(params, ("texts",))
        texts = fields.texts("texts", limits.max_texts, limits.max_text)
        with self.model_lock:
            probabilities = classification.predict([self.run], texts)
        labels = list(self.run.spec.labels)
        results = [{"text": text, "label": labels[int(np.argmax(row))], "probabilities": [float(p) for p in row]}
                   for text, row in zip(texts, probabilities)]
        return {"labels": labels, "results": results}

    def _sampling(self, fields: "Fields") -> tuple[float, int, int | None]:
        from rnnkit.tasks.language_model import SAMPLE_TEMPERATURE
        temperature = fields.number("temperature", 0.0, self.limits.max_temperature, default=SAMPLE_TEMPERATURE)
        top_k = fields.integer("top_k", 0, len(self.run.spec.vocab), default=0)
        seed = fields.integer("seed", 0, 2**63 - 1, default=None)
        fields.done()
        return temperature, top_k, seed


class Stream:
    """A generation's characters as UTF-8, each drawn under the model's lock; ``release`` is called once,
    when the stream ends, fails or is closed (the client went away), started or not."""

    def __init__(self, characters: Iterator[str], lock: threading.Lock, release: Callable[[], None]):
        self._characters, self._lock, self._release = characters, lock, release
        self._first: bytes | None = None
        self._closed = False

    def start(self) -> None:
        """Draw the first character now (the model reads the prime), so that bad options fail early."""
        self._first = self._draw()

    def _draw(self) -> bytes:
        if self._closed:
            raise StopIteration
        try:
            with self._lock:
                character = next(self._characters)
        except BaseException:
            self.close()
            raise
        return character.encode("utf-8")

    def __iter__(self) -> "Stream":
        return self

    def __next__(self) -> bytes:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return self._draw()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._characters.close()     # GeneratorExit at its yield: no call into the model
            finally:
                self._release()

    def __del__(self):                       # a stream dropped unread still frees its slot
        self.close()


def is_poem_vocab(vocab) -> bool:
    """Whether a character model can write poems (tasks/poems.py): it knows the marks and Chinese characters."""
    from rnnkit.tasks.poems import is_chinese
    characters = set(vocab.characters)
    return all(c in characters for c in POEM_MARKS) and any(is_chinese(c) for c in characters)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


class Fields:
    """The fields of a request's JSON object, each checked as it is read; ``done`` refuses unknown ones."""

    _missing = object()

    def __init__(self, params: dict, known: tuple[str, ...]):
        self.params, self.known = params, known

    def _get(self, name: str, default):
        value = self.params.get(name, self._missing)
        if value is self._missing or value is None:
            if default is self._missing:
                raise RequestError(400, f"`{name}` is missing")
            return default
        return value

    def done(self) -> None:
        unknown = sorted(set(self.params) - set(self.known))
        if unknown:
            raise RequestError(400, f"unknown field `{unknown[0][:50]}`: this request takes {', '.join(self.known)}")

    def integer(self, name: str, low: int, high: int, default=_missing):
        value = self._get(name, default)
        if value is default:
            return value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
            raise RequestError(400, f"`{name}` must be an integer from {low} to {high}, got {_shown(value)}")
        return value

    def number(self, name: str, low: float, high: float, default=_missing) -> float:
        """A number above ``low`` and at most ``high``."""
        value = self._get(name, default)
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                and low < value <= high):
            raise RequestError(400, f"`{name}` must be a number above {low:g} and at most {high:g}, "
                                    f"got {_shown(value)}")
        return float(value)

    def choice(self, name: str, choices: tuple, default=_missing):
        value = self._get(name, default)
        if isinstance(value, bool) or value not in choices:
            raise RequestError(400, f"`{name}` must be one of {', '.join(map(str, choices))}, got {_shown(value)}")
        return value

    def text(self, name: str, shortest: int, longest: int, default=_missing) -> str:
        value = self._get(name, default)
        if not isinstance(value, str):
            raise RequestError(400, f"`{name}` must be a string, got {_shown(value)}")
        if not shortest <= len(value) <= longest:
            raise RequestError(400, f"`{name}` has {len(value)} characters; it takes {shortest} to {longest}")
        return value

    def texts(self, name: str, most: int, longest: int) -> list[str]:
        value = self._get(name, self._missing)
        if not (isinstance(value, list) and all(isinstance(t, str) for t in value)):
            raise RequestError(400, f"`{name}` must be a list of strings")
        if not 1 <= len(value) <= most:
            raise RequestError(400, f"`{name}` has {len(value)} texts; it takes 1 to {most}")
        for number, text in enumerate(value, start=1):
            if len(text) > longest:
                raise RequestError(400, f"text {number} has {len(text)} characters; the limit is {longest}")
        self.done()
        return value


def _shown(value) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def loopback(host: str) -> bool:
    return host in LOOPBACK_NAMES or host.startswith("127.")
