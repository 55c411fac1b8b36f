"""The baseline: bare Flask routes that parse a JSON body and answer a body the sandbox's size.

``POST /api/v3/conversation`` answers about 600 bytes of JSON (a conversation); the two list routes
answer a fixed, already-encoded 100-item page of the size the sandbox's first pages have (~50 KB):
what the stack alone costs to move that much, the strictest baseline there is. Whatever the sandbox
costs on top of these is its own work (auth, validation, the domain, rendering, the journal).
Served two ways, like the sandbox:

    python bench/bare_app.py --port 8001              # waitress, 8 threads
    granian --interface wsgi --working-dir bench bare_app:app
"""

from __future__ import annotations

import argparse
import json

from _common import ANSWER, LIST_ANSWERS
from flask import Flask, Response, request

app = Flask("bare")


@app.post("/api/v3/conversation")
def create() -> Response:
    body = request.get_json()
    answer = {**ANSWER, "title": body.get("title", ANSWER["title"])}
    return Response(json.dumps(answer), status=201, mimetype="application/json")


def _list_route(path: str, answer: str) -> None:
    def listed() -> Response:
        request.get_json()
        return Response(answer, status=200, mimetype="application/json")

    app.add_url_rule(path, endpoint=path, view_func=listed, methods=["POST"])


for _path, _answer in LIST_ANSWERS.items():
    _list_route(_path, _answer)


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
