"""The sandbox as a WSGI application object, for serving it with another WSGI server (granian):

    granian --interface wsgi --workers 1 --blocking-threads 1 --working-dir bench sandbox_wsgi:app

The same app ``dsco-sandbox serve --no-rate-limit`` builds, without waitress around it.
"""

from __future__ import annotations

from simulator.domain.config import SandboxConfig
from simulator.http import ServerConfig, create_app

app = create_app(ServerConfig(sandbox=SandboxConfig(rate_limit=False, validate_responses=False)))
