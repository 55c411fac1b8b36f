"""A loopback webhook receiver and a world whose supplier account has a webhook, for the tests of
webhook deliveries (one process, a restart, many workers)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from simulator.loading.resources import default_world_path

SECRET = "whsec-restart"


class Receiver:
    """A loopback receiver that answers each POST with the next status (the last one repeats)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.arrived:
                    receiver.posts.append((dict(self.headers.items()), body))
                    status = receiver.statuses[min(len(receiver.posts), len(receiver.statuses)) - 1]
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.posts) >= count, timeout)


def world_with_webhook(path: Path, url: str) -> Path:
    world = json.loads(default_world_path().read_text("utf-8"))
    [acme] = [a for a in world["accounts"] if a["dscoAccountId"] == "2000001"]
    acme["webhook"] = {"url": url, "secret": SECRET}
    path.write_text(json.dumps(world), "utf-8")
    return path
