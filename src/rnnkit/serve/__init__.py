"""A local web page to play with a trained run: ``rnnkit serve RUN_DIR [--port P]``.

For a character model: type a prime, choose temperature, top-k and length, and watch
the text stream in; a model trained on poems also writes 5- or 7-character quatrains
and octaves, acrostics too. For a classifier: type texts, see each one's label and
class probabilities.

    from rnnkit.serve import serve, make_server
    serve("runs/shakespeare", port=8000)            # blocks until Ctrl-C; 127.0.0.1 by default

    server = make_server("runs/shakespeare", port=0) # any free port; server.url
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ...; server.shutdown(); server.server_close()

``App`` (app.py) answers requests without a server; ``server.py`` puts it behind the
standard library's ThreadingHTTPServer. The page itself is ``static/``.
"""

from rnnkit.serve.app import App, Limits, Response
from rnnkit.serve.server import make_server, serve

__all__ = ["App", "Limits", "Response", "make_server", "serve"]
