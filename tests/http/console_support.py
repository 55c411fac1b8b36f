"""Helpers for the console tests: its CSRF token, its forms, and the outcome a page shows."""

from __future__ import annotations

import html
import re
from typing import Any

from flask.testing import FlaskClient

ORIGIN = "http://localhost"
"""The origin the Flask test client's requests have (its default Host is localhost)."""


def csrf(client: FlaskClient, page: str = "/console/settings") -> str:
    """The session's CSRF token, read from a console form like a browser would."""
    text = client.get(page).get_data(as_text=True)
    match = re.search(r'name="csrf" value="([^"]+)"', text)
    assert match, f"{page} has no form with a CSRF token"
    return match.group(1)


def post_form(client: FlaskClient, path: str, fields: dict[str, str], **headers: str) -> Any:
    """POST a console form as a same-origin browser page would (Origin header and CSRF token)."""
    data = {"csrf": csrf(client), **fields}
    return client.post(path, data=data, headers={"Origin": ORIGIN, **headers})


def shown(client: FlaskClient, page: str) -> tuple[str, list[str], str]:
    """The outcome the next page shows (each action's result is shown once): ``ok`` or
    ``refused``, its lines, and the curl command offered for the same call ("" when none)."""
    text = client.get(page).get_data(as_text=True)
    section = re.search(r'<section class="outcome (ok|refused)".*?</section>', text, re.S)
    assert section, f"{page} shows no outcome"
    lines = [html.unescape(line) for line in re.findall(r"<li>(.*?)</li>", section.group(0), re.S)]
    curl = re.search(r'<pre class="curl">(.*?)</pre>', section.group(0), re.S)
    return section.group(1), lines, html.unescape(curl.group(1)) if curl else ""
