"""rnnkit/serve/: the page's HTTP API against a real server on 127.0.0.1 (a free port, a thread),
and ``App`` without a socket: streamed generation equal to the Python API's, poems, classification,
requests at once that do not disturb each other, and every bad request a 4xx with one line of JSON."""

import contextlib
import gc
import json
import socket
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rnnkit.errors import ConfigError
from rnnkit.serve import App, Limits, make_server, serve
from rnnkit.tasks import classification, language_model, runs
from rnnkit.tasks.poems import generate_poem
from serve_helpers import (dechunk, port_of, post, raw, request, running, train_classifier_run, train_poem_run,
                           train_text_run)


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    return train_text_run(tmp_path_factory.mktemp("serve-text"))


@pytest.fixture(scope="module")
def poem_run(tmp_path_factory):
    return train_poem_run(tmp_path_factory.mktemp("serve-poems"))


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    return train_classifier_run(tmp_path_factory.mktemp("serve-classifier"))


@pytest.fixture(scope="module")
def text_server(text_run):
    with running(text_run) as server:
        yield server


@pytest.fixture(scope="module")
def classifier_server(classifier_run):
    with running(classifier_run) as server:
        yield server


def expected_text(run_dir, length, prime="", temperature=0.8, top_k=0, seed=0) -> str:
    """What the Python API writes with the same options and seed."""
    run = runs.load_run(run_dir)
    return "".join(language_model.sample(run, length, prime, temperature, top_k, rng=np.random.default_rng(seed)))


TEXT = "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n" * 5
PRIMES = [TEXT[7 * k:7 * k + 200] for k in range(5)] + ["", "q"]  # one length: the forward reuses its buffers


@contextlib.contextmanager
def frequent_thread_switches():
    """Threads switch every microsecond instead of every 5 ms, so that requests at once really
    interleave inside the model's calls (a tiny model's forward takes less than 5 ms)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def at_once(work, count: int) -> list:
    """``work(k)`` for k < count, in threads started together; their results."""
    results = [None] * count
    barrier = threading.Barrier(count)

    def run(k):
        barrier.wait()
        results[k] = work(k)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(count)]
    with frequent_thread_switches():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    return results


def error_of(status_headers_body, status: int) -> str:
    """The one-line message of a JSON error answer with ``status``."""
    got, headers, body = status_headers_body
    text = body.decode("utf-8")
    assert got == status, text
    assert headers["content-type"].startswith("application/json")
    assert "\n" not in text and "Traceback" not in text
    return json.loads(text)["error"]


# -- the page -----------------------------------------------------------------------------------


def test_the_page_and_its_files_are_served_with_a_strict_content_policy(text_server):
    status, headers, body = request(text_server, "GET", "/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert b'<script src="app.js"' in body and b'href="style.css"' in body
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    for path, kind in (("/app.js", "text/javascript"), ("/style.css", "text/css")):
        status, headers, body = request(text_server, "GET", path)
        assert status == 200 and headers["content-type"].startswith(kind) and len(body) > 1000


def test_info_tells_the_task_the_model_and_the_limits(text_server, text_run):
    status, _, body = request(text_server, "GET", "/api/info")
    info = json.loads(body)
    run = runs.load_run(text_run)
    assert status == 200
    assert (info["task"], info["run"], info["vocab_size"], info["poem"]) == ("char-lm", "run", len(run.spec.vocab),
                                                                            False)
    assert info["model"] == {"cell": "lstm", "layers": "1 × 8"}
    assert info["limits"]["max_length"] == Limits().max_length
    assert info["defaults"]["temperature"] == language_model.SAMPLE_TEMPERATURE


# -- generation ---------------------------------------------------------------------------------


def test_generation_streams_the_characters_the_python_api_writes(text_server, text_run):
    options = {"prime": "the quick ", "length": 120, "temperature": 0.7, "top_k": 5, "seed": 11}
    status, headers, body = post(text_server, "/api/generate", options)
    assert status == 200 and headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["transfer-encoding"] == "chunked"
    assert body.decode("utf-8") == expected_text(text_run, 120, "the quick ", 0.7, 5, seed=11)


def test_each_character_is_its_own_chunk_sent_as_it_is_drawn(text_server, text_run):
    payload = json.dumps({"length": 50, "seed": 3}).encode()
    answer = raw(text_server, b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                              b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    chunks = dechunk(body)
    assert [c.decode() for c in chunks] == list(expected_text(text_run, 50, seed=3))


def test_the_defaults_apply_and_a_seed_repeats_a_generation(text_server, text_run):
    first = post(text_server, "/api/generate", {"seed": 5})[2].decode()
    assert first == post(text_server, "/api/generate", {"seed": 5})[2].decode()
    assert first == expected_text(text_run, 500, seed=5)


def test_simultaneous_generations_write_what_each_writes_alone(text_server, text_run):
    """Requests at once through the server: primes of one length (read by the model's forward, whose
    buffers its layers reuse), an empty one and one of one character (the stepper alone)."""
    options = [{"prime": prime, "length": 300, "temperature": 0.5 + 0.25 * seed, "top_k": (0, 3)[seed % 2],
                "seed": seed} for seed, prime in enumerate(PRIMES)]
    alone = [post(text_server, "/api/generate", o)[2].decode() for o in options]
    assert alone[0] == expected_text(text_run, 300, PRIMES[0], 0.5, 0, seed=0)
    for _ in range(2):
        assert at_once(lambda k: post(text_server, "/api/generate", options[k])[2].decode(), len(options)) == alone


def test_many_rounds_of_requests_at_once_inside_the_model_never_mix(text_run, classifier_run):
    """``App`` without sockets, so that the requests really meet inside the model. With its lock taken
    out, this failed in every try: generations mixed in some rounds, classifications in 11 to 18 of
    40 (or crashed in a layer's length check)."""
    headers = {"Content-Type": "application/json"}
    text_app, classifier_app = App(runs.load_run(text_run)), App(runs.load_run(classifier_run))

    def generate(k):
        options = {"prime": PRIMES[k], "length": 30, "seed": k}
        return b"".join(text_app.handle("POST", "/api/generate", headers, json.dumps(options).encode()).body)

    texts = [["a great film with actors", "an awful plot"], ["the story is average", "wonderful music"],
             ["terrible actors and plot", "the film is okay"], ["music with the story", "a wonderful film"]]

    def classify(k):
        return classifier_app.handle("POST", "/api/classify", headers, json.dumps({"texts": texts[k]}).encode()).body

    for work, count in ((generate, 6), (classify, 4)):
        alone = [work(k) for k in range(count)]
        for _ in range(40):
            assert at_once(work, count) == alone


def test_a_client_that_goes_away_frees_its_place_and_the_server_goes_on(text_run):
    with running(text_run, limits=Limits(max_length=500_000, max_active=1)) as server:
        payload = json.dumps({"length": 500_000, "seed": 1}).encode()
        with socket.create_connection(("127.0.0.1", port_of(server))) as connection:
            connection.sendall(b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                               b"\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
            assert b"200 OK" in connection.recv(4096)
        deadline = time.monotonic() + 20
        while server.app.active and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.app.active == 0
        assert post(server, "/api/generate", {"length": 10})[0] == 200


@pytest.mark.parametrize("options, message", [
    ({"length": 0}, "`length` must be an integer from 1 to 2000, got 0"),
    ({"length": 2001}, "`length` must be an integer from 1 to 2000, got 2001"),
    ({"length": "10"}, "`length` must be an integer from 1 to 2000, got '10'"),
    ({"length": True}, "`length` must be an integer from 1 to 2000, got true"),
    ({"length": 2.5}, "`length` must be an integer"),
    ({"temperature": 0}, "`temperature` must be a number above 0 and at most 10, got 0"),
    ({"temperature": -1}, "`temperature` must be a number above 0"),
    ({"temperature": 11}, "at most 10"),
    ({"temperature": "hot"}, "`temperature` must be a number"),
    ({"top_k": -1}, "`top_k` must be an integer from 0 to 30"),
    ({"top_k": 31}, "`top_k` must be an integer from 0 to 30, got 31"),
    ({"seed": -1}, "`seed` must be an integer from 0"),
    ({"prime": "x" * 1001}, "`prime` has 1001 characters; it takes 0 to 1000"),
    ({"prime": 12}, "`prime` must be a string"),
    ({"prime": "the €¥ QUICK"}, "`prime` has characters the model has never seen ('CIKQU¥€'): remove them"),
    ({"path": "/etc/passwd"}, "unknown field `path`: this request takes prime, length, temperature, top_k, seed"),
])
def test_bad_generation_options_are_refused_naming_the_field(text_server, options, message):
    assert message in error_of(post(text_server, "/api/generate", options), 400)


# -- bad requests -------------------------------------------------------------------------------


def test_bodies_that_are_not_json_objects_are_refused(text_server):
    def send(body, content_type="application/json"):
        return request(text_server, "POST", "/api/generate", body=body, headers={"Content-Type": content_type})

    assert "not JSON" in error_of(send(b"{length: 3"), 400)
    assert "not JSON" in error_of(send(b'{"length": NaN}'), 400)
    assert "not JSON" in error_of(send(b"\xff\xfe"), 400)
    assert "must be a JSON object, got list" in error_of(send(b"[1, 2]"), 400)
    assert "send JSON (Content-Type: application/json), not 'text/plain'" in error_of(
        send(b'{"length": 3}', "text/plain"), 415)
    assert "not 'application/x-www-form-urlencoded'" in error_of(
        send(b"length=3", "application/x-www-form-urlencoded"), 415)


def test_unknown_paths_and_methods_get_json_errors_and_no_file_is_read(text_server):
    for path in ("/etc/passwd", "/../../etc/passwd", "/static/../app.py", "/%2e%2e/README.md", "/api/", "/app.py"):
        assert "no such page" in error_of(request(text_server, "GET", path), 404)
    status, headers, _ = request(text_server, "GET", "/api/generate")
    assert status == 405 and headers["allow"] == "POST"
    assert "DELETE is not allowed here: use GET" in error_of(request(text_server, "DELETE", "/"), 405)
    status, headers, body = request(text_server, "HEAD", "/")
    assert status == 200 and int(headers["content-length"]) > 1000 and body == b""
    assert "Unsupported method ('BREW')" in error_of(request(text_server, "BREW", "/"), 501)


def test_the_standard_librarys_own_errors_are_json_too(text_server):
    # a request line it cannot parse is answered as HTTP/0.9 (no status line): the body alone
    assert json.loads(raw(text_server, b"NONSENSE\r\n\r\n")) == {"error": "Bad request syntax ('NONSENSE')"}
    answer = raw(text_server, b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 414") and answer.endswith(b'\r\n\r\n{"error": "Request-URI Too Long"}')
    answer = raw(text_server, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431") and b"application/json" in head
    assert json.loads(body) == {"error": "Line too long"}


def test_large_bodies_are_refused_unread_and_bodies_need_a_length(text_server):
    answer = raw(text_server, b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                              b"Content-Length: 1000000\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413") and b"the request body has 1000000 bytes; the limit is 65536" in answer
    answer = raw(text_server, b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                              b"Transfer-Encoding: chunked\r\n\r\n3\r\n{}\n\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 411") and b"Content-Length" in answer
    answer = raw(text_server, b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              b"Content-Type: application/json\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 411")
    answer = raw(text_server, b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400") and b"Content-Length is not a number" in answer


def test_a_local_server_answers_only_requests_for_a_local_name(text_server):
    """DNS rebinding: a page elsewhere cannot reach it through a name of its own."""
    assert "is not this server" in error_of(request(text_server, "GET", "/api/info",
                                                    headers={"Host": "attacker.example:8000"}), 403)
    for host in ("localhost:1234", "127.0.0.1", "[::1]:8000"):
        assert request(text_server, "GET", "/api/info", headers={"Host": host})[0] == 200


def test_a_full_server_answers_503_until_a_stream_ends_or_is_dropped(text_run):
    app = App(runs.load_run(text_run), Limits(max_active=1))
    headers = {"Content-Type": "application/json"}
    body = json.dumps({"length": 20, "seed": 2}).encode()
    first = app.handle("POST", "/api/generate", headers, body)
    assert first.status == 200 and app.active == 1
    busy = app.handle("POST", "/api/generate", headers, body)
    assert busy.status == 503 and busy.headers["Retry-After"] == "1" and b"busy" in busy.body
    assert b"".join(first.body).decode() == expected_text(text_run, 20, seed=2)
    assert app.active == 0
    second = app.handle("POST", "/api/generate", headers, body)
    second.close()
    assert app.active == 0
    third = app.handle("POST", "/api/generate", headers, body)
    del third
    gc.collect()
    assert app.active == 0 and app.handle("POST", "/api/generate", headers, body).status == 200


def test_a_bug_is_a_one_line_500_and_logged_not_a_traceback(text_run, monkeypatch, caplog):
    app = App(runs.load_run(text_run))
    monkeypatch.setattr(App, "info", lambda self: 1 / 0)
    response = app.handle("GET", "/api/info")
    assert response.status == 500
    assert json.loads(response.body) == {"error": "internal error (ZeroDivisionError); see the server's log"}
    assert "ZeroDivisionError" in caplog.text


# -- poems --------------------------------------------------------------------------------------


def test_a_poem_model_writes_acrostics_and_octaves(poem_run):
    run = runs.load_run(poem_run)
    with running(poem_run) as server:
        assert json.loads(request(server, "GET", "/api/info")[2])["poem"] is True
        status, _, body = post(server, "/api/poem", {"acrostic": "春花明月", "temperature": 0.9, "seed": 4})
        lines = json.loads(body)["lines"]
        assert status == 200
        assert lines == generate_poem(run.model, run.spec.vocab, 5, 4, "春花明月", 0.9, 0, np.random.default_rng(4))
        assert [line[0] for line in lines] == list("春花明月") and [len(line) for line in lines] == [6] * 4
        status, _, body = post(server, "/api/poem", {"chars_per_line": 7, "lines": 8, "top_k": 5})
        lines = json.loads(body)["lines"]
        assert status == 200 and [len(line) for line in lines] == [8] * 8
        assert [line[-1] for line in lines] == ["，", "。"] * 4
        assert "`chars_per_line` must be one of 5, 7, got 6" in error_of(
            post(server, "/api/poem", {"chars_per_line": 6}), 400)
        assert "`lines` must be one of 4, 8, got 5" in error_of(post(server, "/api/poem", {"lines": 5}), 400)
        assert "vocabulary lacks ['a', 'b', 'c', 'd']" in error_of(
            post(server, "/api/poem", {"acrostic": "abcd"}), 400)
        assert "`acrostic` needs one character per line (4), got 3" in error_of(
            post(server, "/api/poem", {"acrostic": "春花明", "lines": 4}), 400)
        assert "`acrostic` has 9 characters; it takes 0 to 8" in error_of(
            post(server, "/api/poem", {"acrostic": "春" * 9}), 400)


def test_a_model_of_other_text_writes_no_poems_and_classifies_nothing(text_server):
    assert "this model was not trained on poems" in error_of(post(text_server, "/api/poem", {}), 400)
    assert "/api/classify is for classifiers" in error_of(post(text_server, "/api/classify", {"texts": ["a"]}), 400)


# -- classification -----------------------------------------------------------------------------


def test_classification_gives_each_texts_label_and_probabilities(classifier_server, classifier_run):
    texts = ["the film is great", "an awful plot", "the music is okay", "the story with actors"]
    status, _, body = post(classifier_server, "/api/classify", {"texts": texts})
    answer = json.loads(body)
    run = runs.load_run(classifier_run)
    expected = classification.predict([run], texts)
    assert status == 200 and answer["labels"] == run.spec.labels == ["mid", "neg", "pos"]
    assert [r["text"] for r in answer["results"]] == texts
    assert np.allclose([r["probabilities"] for r in answer["results"]], expected, rtol=0, atol=1e-12)
    assert [r["label"] for r in answer["results"]] == [run.spec.labels[k] for k in expected.argmax(axis=1)]
    assert [r["label"] for r in answer["results"][:3]] == ["pos", "neg", "mid"]
    info = json.loads(request(classifier_server, "GET", "/api/info")[2])
    assert info["task"] == "classify" and info["labels"] == ["mid", "neg", "pos"]
    assert info["model"] == {"cell": "lstm", "layers": "1 × 8, bidirectional"}


def test_simultaneous_classifications_give_what_each_gives_alone(classifier_server):
    batches = [["a great film", "terrible"], ["an awful film", "wonderful"], ["the plot is okay", "music"],
               ["story with actors", "average"], ["wonderful", "the film"], ["film " * 50, "terrible plot"]]
    alone = [json.loads(post(classifier_server, "/api/classify", {"texts": t})[2]) for t in batches]
    assert at_once(lambda k: json.loads(post(classifier_server, "/api/classify", {"texts": batches[k]})[2]),
                   len(batches)) == alone


@pytest.mark.parametrize("payload, message", [
    ({}, "`texts` is missing"),
    ({"texts": "one text"}, "`texts` must be a list of strings"),
    ({"texts": [1, 2]}, "`texts` must be a list of strings"),
    ({"texts": []}, "`texts` has 0 texts; it takes 1 to 32"),
    ({"texts": ["a"] * 33}, "`texts` has 33 texts; it takes 1 to 32"),
    ({"texts": ["fine", "x" * 2001]}, "text 2 has 2001 characters; the limit is 2000"),
    ({"texts": ["fine", "  "]}, "text 2 of 2 is blank"),
    ({"texts": ["fine"], "labels": ["pos"]}, "unknown field `labels`"),
])
def test_bad_classification_requests_are_refused(classifier_server, payload, message):
    assert message in error_of(post(classifier_server, "/api/classify", payload), 400)


def test_a_classifier_does_not_generate(classifier_server):
    assert "/api/generate is for character models" in error_of(post(classifier_server, "/api/generate", {}), 400)


# -- starting a server --------------------------------------------------------------------------


def test_runs_of_other_tasks_are_refused():
    run = SimpleNamespace(path=Path("runs/sales"), spec=SimpleNamespace(TASK="forecast"))
    with pytest.raises(ConfigError, match="runs/sales is a 'forecast' run: the page serves character models"):
        App(run)


def test_word_models_are_refused():
    run = SimpleNamespace(path=Path("runs/ptb"), spec=SimpleNamespace(TASK="char-lm", tokens="words"))
    with pytest.raises(ConfigError, match="runs/ptb is a model of words: the page serves character models"):
        App(run)


def test_a_port_in_use_or_out_of_range_is_a_config_error(text_run, text_server):
    with pytest.raises(ConfigError, match=rf"`port` {port_of(text_server)} on 127.0.0.1 is in use"):
        make_server(text_run, "127.0.0.1", port_of(text_server))
    with pytest.raises(ConfigError, match="`port` must be from 0 to 65535, got 70000"):
        make_server(text_run, "127.0.0.1", 70000)
    with pytest.raises(ConfigError, match="`max_length` must be positive"):
        Limits(max_length=0)


def test_serve_says_where_the_page_is_and_stops_on_ctrl_c(text_run):
    said = []

    def echo(line):
        said.append(line)
        raise KeyboardInterrupt        # as if Ctrl-C came while it serves

    serve(text_run, port=0, echo=echo)
    assert len(said) == 1 and said[0].startswith("serving ") and "at http://127.0.0.1:" in said[0]
    assert said[0].endswith("/ (Ctrl-C to stop)")
