"""The baseline: a bare Flask route that parses a JSON body and answers about 600 bytes of JSON.

Whatever the sandbox costs on top of this is the sandbox's own work (auth, validation, the domain,
rendering, the journal). Served two ways, like the sandbox:

    python bench/bare_app.py --port 8001              # waitress, 8 threads
    granian --interface wsgi --working-dir bench bare_app:app
"""

from __future__ import annotations

import argparse
import json

from _common import ANSWER
from flask import Flask, Response, request

app = Flask("bare")


@app.post("/api/v3/conversation")
def create() -> Response:
    body = request.get_json()
    answer = {**ANSWER, "title": body.get("title", ANSWER["title"])}
    return Response(json.dumps(answer), status=201, mimetype="application/json")


@app.get("/health")
def health() -> Response:
    return Response('{"status": "ok"}', mimetype="application/json")


def main() -> None:
    from waitress import serve

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="bare")


if __name__ == "__main__":
    main()
