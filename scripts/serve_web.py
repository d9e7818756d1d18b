#!/usr/bin/env python3
"""Serve the demo chat page (web/) on http://127.0.0.1:$WEB_PORT (default 8080). Stdlib only.

Install the page's one dependency first: ``npm ci --prefix web``.
"""
from __future__ import annotations

import functools
import http.server
import os
import sys
from pathlib import Path

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
HOST = "127.0.0.1"


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".css": "text/css",
        ".html": "text/html; charset=utf-8",
        ".map": "application/json",
    }

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")  # the token is in the page URL
        super().end_headers()


def main() -> int:
    port = int(os.environ.get("WEB_PORT", "8080"))
    if not (WEB_DIR / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js").exists():
        print("Manca socket.io-client: esegui `npm ci --prefix web`.", file=sys.stderr)
    handler = functools.partial(Handler, directory=str(WEB_DIR))
    with http.server.ThreadingHTTPServer((HOST, port), handler) as server:
        print(f"Pagina di chat su http://{HOST}:{port}/ (aggiungi ?token=... per l'accesso)",
              flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
