"""``App`` behind the standard library's ``ThreadingHTTPServer``: one thread per connection.

A generation is sent with chunked transfer encoding, one chunk per character as it is
drawn, so the page shows the text as it is written. Bodies are read only up to
``Limits.max_body`` (a larger Content-Length is refused unread, 413); a request body
must come with a Content-Length (411). A connection idle for ``TIMEOUT`` seconds is
closed. Errors the standard library answers itself (a malformed request line, an
unknown method, a header line too long) are one-line JSON too.
"""

from __future__ import annotations

import errno
import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rnnkit.errors import ConfigError
from rnnkit.serve.app import LOOPBACK_NAMES, SECURITY_HEADERS, App, Limits, error_response, loopback

TIMEOUT = 60          # seconds a connection may sit idle (reading a request, or a client not reading)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"          # keep-alive, and chunked responses
    server_version = "rnnkit"
    timeout = TIMEOUT
    disable_nagle_algorithm = True         # headers, body and each chunk leave at once (else 40 ms stalls
    server: "Server"                       # on keep-alive: Nagle against the client's delayed ACK)

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self):
        self._answer()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def do_HEAD(self):
        self._answer(head=True)

    def _answer(self, head: bool = False) -> None:
        app = self.server.app
        body = self._read_body(app.limits.max_body)
        if body is None:
            return
        response = app.handle(self.command, self.path, dict(self.headers.items()), body)
        try:
            self._send(response, head)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True           # the client went away: stop, quietly
        finally:
            response.close()

    def _read_body(self, limit: int) -> bytes | None:
        """The body, or None once an error was sent (the connection is then closed)."""
        if "transfer-encoding" in {k.lower() for k in self.headers.keys()}:
            return self._refuse(411, "send the body with a Content-Length, not Transfer-Encoding")
        length = self.headers.get("Content-Length")
        if length is None:
            return self._refuse(411, "a request with a body needs a Content-Length") \
                if self.command in ("POST", "PUT", "PATCH") else b""
        if not length.strip().isdigit():
            return self._refuse(400, f"Content-Length is not a number: {length[:40]!r}")
        if int(length) > limit:
            return self._refuse(413, f"the request body has {int(length)} bytes; the limit is {limit}")
        return self.rfile.read(int(length))

    def _refuse(self, status: int, message: str) -> None:
        self.close_connection = True
        self._send(error_response(status, message, SECURITY_HEADERS), head=False)
        return None

    def _send(self, response, head: bool) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        if not response.streamed:
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if not head:
                self.wfile.write(response.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if head:
            return
        try:
            for piece in response.body:
                if piece:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            raise
        except Exception:                                  # a bug mid-stream: the status is sent already;
            self.close_connection = True                   # end the connection without the last chunk,
            self.log_error("generation failed:\n%s", _traceback())   # so the client sees it broke off
            return
        self.wfile.write(b"0\r\n\r\n")

    def send_error(self, code, message=None, explain=None):
        """The standard library's own errors (bad request line, unknown method, ...), as one-line JSON."""
        self.close_connection = True
        body = json.dumps({"error": " ".join(str(message or self.responses.get(code, ("error",))[0]).split())},
                          ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(code, message)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, format, *args):
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} - {format % args}")


def _traceback() -> str:
    import traceback
    return traceback.format_exc()


class Server(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` holding one ``App``; ``url`` is where the page is."""

    daemon_threads = True                  # a stream still being read does not keep the process alive

    def __init__(self, app: App, host: str, port: int, log=None):
        self.app, self.log = app, log
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), Handler)

    def handle_error(self, request, client_address) -> None:
        """A client that went away is no error worth a traceback on the console."""
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def make_server(run, host: str = "127.0.0.1", port: int = 8000, which: str = "best",
                limits: Limits | None = None, log=None) -> Server:
    """A server of the page for ``run`` (a run directory, a checkpoint folder or a loaded
    ``runs.TrainedRun``), bound to ``host``:``port`` (0: any free port) but not yet serving:
    call ``serve_forever()`` (in a thread, for tests) and ``shutdown()``/``server_close()``.
    ``log``: a callable taking one line per request, or None for silence."""
    from rnnkit.tasks import runs
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ConfigError(f"`port` must be from 0 to 65535, got {port!r}")
    if isinstance(run, (str, Path)):
        run = runs.load_run(run, which)
    allowed = None
    if loopback(host):                      # only names of this machine: no DNS rebinding
        allowed = set(LOOPBACK_NAMES) | {host}
    app = App(run, limits, allowed_hosts=allowed)
    try:
        return Server(app, host, port, log)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ConfigError(f"`port` {port} on {host} is in use: choose another") from None
        if error.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(error, socket.gaierror):
            raise ConfigError(f"cannot listen on `host` {host!r}: {error.strerror or error}") from None
        if error.errno == errno.EACCES:
            raise ConfigError(f"`port` {port} needs privileges: choose one above 1023") from None
        raise


def serve(run_dir, host: str = "127.0.0.1", port: int = 8000, which: str = "best", limits: Limits | None = None,
          echo=print, log=None) -> None:
    """Serve the page for the run in ``run_dir`` until Ctrl-C. ``echo`` gets one line saying where
    it is; ``log`` one line per request (default: none)."""
    server = make_server(run_dir, host, port, which, limits, log)
    try:
        echo(f"serving {server.app.run.source or run_dir} at {server.url} (Ctrl-C to stop)")
        if not loopback(host):
            echo(f"warning: {host} is reachable from other machines, and the page has no login")
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def stderr_log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
