"""The page's server: the standard library's ThreadingHTTPServer against Starlette on uvicorn.

    python benchmarks/bench_serve.py [--quick]        # needs: pip install starlette uvicorn

Both serve the same ``rnnkit.serve.App`` (a 2 x 256 LSTM character model, 65 characters,
random weights): the standard library through ``rnnkit.serve.server``, Starlette through
the small adapter below (``StreamingResponse`` of the same character stream). Each server
runs in a process of its own; the clients (http.client) in this one. Measured:

- small requests: GET /api/info, one after another on one keep-alive connection;
- one generation of 2000 characters: time to the first character and characters/s;
- four generations at once (threads): characters/s over all of them;
- the server process: its memory after the runs (VmRSS), and the time to import the server
  (http.server, or starlette and uvicorn; rnnkit's own imports are the same for both).

Each figure is the median of three runs after one that warms up.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import string
import subprocess
import sys
import threading
import time
from pathlib import Path

LENGTH = 2000
SERVERS = ("stdlib", "starlette")


def bench_app():
    from rnnkit.data.vocab import CharVocab
    from rnnkit.models.char_lm import CharLM, CharLMConfig
    from rnnkit.serve import App, Limits
    from rnnkit.tasks.language_model import LanguageModelSpec
    from rnnkit.tasks.runs import TrainedRun
    vocab = CharVocab(string.printable[:65])
    config = CharLMConfig(len(vocab), "lstm", 256, 2, 64)
    spec = LanguageModelSpec(model=config, vocab=vocab)
    run = TrainedRun(Path("bench"), spec, CharLM(config, rng=0).eval(), {"step": 0})
    return App(run, Limits(max_active=16))


def starlette_asgi(app):
    """``App`` as an ASGI application: every request to ``app.handle`` (in the thread pool), a
    streamed body through ``StreamingResponse`` (which draws each piece in the thread pool)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    async def endpoint(request):
        body = await request.body()
        answer = await run_in_threadpool(app.handle, request.method, request.url.path, dict(request.headers), body)
        if answer.streamed:
            return StreamingResponse(answer.body, answer.status, answer.headers, answer.content_type)
        return Response(answer.body, answer.status, answer.headers, answer.content_type)

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])


def run_server(kind: str, port: int) -> None:
    """The server process: serve until killed; print the import time of the server first."""
    start = time.perf_counter()
    if kind == "stdlib":
        import http.server  # noqa: F401
        imported = time.perf_counter() - start
        from rnnkit.serve.server import Server
        app = bench_app()
        app.allowed_hosts = None
        server = Server(app, "127.0.0.1", port)
        print(json.dumps({"import_s": imported}), flush=True)
        server.serve_forever()
    else:
        import starlette.applications  # noqa: F401
        import uvicorn
        imported = time.perf_counter() - start
        app = bench_app()
        app.allowed_hosts = None
        config = uvicorn.Config(starlette_asgi(app), host="127.0.0.1", port=port, log_level="warning",
                                access_log=False)
        print(json.dumps({"import_s": imported}), flush=True)
        uvicorn.Server(config).run()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the server did not start")


def small_requests(port: int, count: int) -> float:
    """Requests/s of GET /api/info on one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    start = time.perf_counter()
    for _ in range(count):
        connection.request("GET", "/api/info")
        response = connection.getresponse()
        assert response.status == 200
        response.read()
    seconds = time.perf_counter() - start
    connection.close()
    return count / seconds


def generation(port: int, seed: int) -> tuple[float, float, int]:
    """(seconds to the first character, seconds in all, characters) of one streamed generation."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    body = json.dumps({"length": LENGTH, "seed": seed, "prime": "The"})
    start = time.perf_counter()
    connection.request("POST", "/api/generate", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200, response.read()
    first = response.read1(1)
    first_s = time.perf_counter() - start
    rest = response.read()
    total_s = time.perf_counter() - start
    connection.close()
    return first_s, total_s, len((first + rest).decode("utf-8"))


def generations_at_once(port: int, clients: int) -> float:
    """Characters/s over ``clients`` generations started together."""
    counts = [0] * clients
    barrier = threading.Barrier(clients + 1)

    def client(k):
        barrier.wait()
        counts[k] = generation(port, k)[2]

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - start)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(kind: str, quick: bool) -> dict:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port)],
                               stdout=subprocess.PIPE, text=True)
    try:
        imported = json.loads(process.stdout.readline())["import_s"]
        wait_until_up(port)
        repeats = 1 if quick else 3
        small_requests(port, 50)
        generation(port, 0)
        rates = [small_requests(port, 200 if quick else 1000) for _ in range(repeats)]
        single = [generation(port, k) for k in range(repeats)]
        together = [generations_at_once(port, 4) for _ in range(repeats)]
        assert all(count == LENGTH for _, _, count in single)
        return {"server": kind, "import_s": imported,
                "info_per_s": statistics.median(rates),
                "first_char_ms": 1000 * statistics.median(first for first, _, _ in single),
                "chars_per_s": statistics.median(count / total for _, total, count in single),
                "chars_per_s_4": statistics.median(together),
                "rss_mb": rss_mb(process.pid)}
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one run of each, fewer requests")
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_server(args.serve, args.port)
        return
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    rows = [measure(kind, args.quick) for kind in SERVERS]
    print(f"{'server':<10} {'import s':>9} {'GET info/s':>11} {'1st char ms':>12} {'chars/s':>9} "
          f"{'4 at once':>10} {'RSS MB':>7}")
    for row in rows:
        print(f"{row['server']:<10} {row['import_s']:>9.3f} {row['info_per_s']:>11.0f} {row['first_char_ms']:>12.2f} "
              f"{row['chars_per_s']:>9.0f} {row['chars_per_s_4']:>10.0f} {row['rss_mb']:>7.1f}")


if __name__ == "__main__":
    main()
