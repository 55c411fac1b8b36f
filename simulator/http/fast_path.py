"""The vendor API's fast path: its routes answered without Flask's per-request machinery.

This is the one place in the sandbox where speed bought complexity, and the only one. Flask wraps
every request in an application and a request context (context variables pushed and popped, the
URL map bound to the request, signals, the before- and after-request hooks, the session), which
cost about as much as the sandbox's own work on a create. The vendor API needs none of it: its
pipeline (``api.py``) takes the request as an argument and reads nothing from Flask's context.

So a request whose method and path name one of the API's routes exactly goes straight to that
route's pipeline, with the same routes (``VendorApi.routes``, read from the operations table), the
same ``Host`` check the app runs before every route (``site_guard.HostGuard``) and the same error
answers (``errors.answer_for``). Everything else, including a route's ``HEAD``, ``OPTIONS``, a
wrong method and any near-miss of a path, goes to the Flask app, which has every vendor route in
its routing table too and answers it through the very same pipeline. A test sends the same
requests both ways and compares the answers, and another fails if the app gains a request hook on
these routes that the fast path would skip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Flask
from werkzeug.wrappers import Request, Response

from .api import ApiRoute, VendorApi
from .errors import answer_for
from .site_guard import HostGuard

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]


class ApiRequest(Request):
    """A request on the fast path: the body limits Flask applies are set from the app's config,
    and the environ keeps no reference back to the request (a cycle the collector would have to
    break, for every request)."""

    populate_request = False


class ApiFastPath:
    """The WSGI app in front of a Flask app that answers the vendor routes itself."""

    def __init__(self, app: Flask, api: VendorApi, hosts: HostGuard) -> None:
        self._app = app.wsgi_app
        self._config = app.config
        self._api = api
        self._hosts = hosts
        self._routes: Mapping[tuple[str, str], ApiRoute] = {
            (route.operation.method, route.path): route for route in api.routes
        }

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        route = self._routes.get((environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")))
        if route is None:
            return self._app(environ, start_response)
        request = ApiRequest(environ)
        config = self._config
        request.max_content_length = config["MAX_CONTENT_LENGTH"]
        request.max_form_memory_size = config["MAX_FORM_MEMORY_SIZE"]
        request.max_form_parts = config["MAX_FORM_PARTS"]
        try:
            self._hosts.check(environ)
            response: Response = self._api.respond(route, request)
        except Exception as error:  # the app's error handlers would answer it so: a refused Host, a bug
            response = answer_for(error, request.method, request.path)
        finally:
            request.close()
        if not response.is_sequence:
            return response(environ, start_response)  # a dropped connection's stream
        # What werkzeug's ``response(environ, start_response)`` would send, without its copy and
        # scan of the headers: they matter for a Location header, a HEAD or a 1xx, 204 or 304
        # status, none of which the vendor routes answer, and the body is already encoded bytes.
        start_response(response.status, response.headers.to_wsgi_list())
        return response.response  # type: ignore[return-value]
