"""A local stand-in for the Stripe API: lists with Stripe's pagination, scripted failures, key checking.

    with FakeStripe(api_key="sk_test_...") as server:
        server.events = [...]            # any order; served newest first, as Stripe does
        server.fail("events", 429)        # the next GET /v1/events answers 429 once
        pull_stripe(..., api_base=server.url)

Lists are served newest first (by `created`, then by position: later in the list is newer among equals),
`limit` items at a time, with `has_more`; `starting_after=X` returns the items after X (older),
`ending_before=X` the `limit` items just before X (newer), still newest first, as Stripe does. An
`ending_before` or `starting_after` id the list does not hold answers 400 resource_missing.
Every request is recorded in `requests` (path and query) so tests can check what was asked.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

RESOURCES = ("events", "customers", "subscriptions", "invoices", "prices", "coupons")


class FakeStripe:
    def __init__(self, api_key: str = "sk_test_fake_0123456789abcdef"):
        self.api_key = api_key
        self.events: list[dict] = []
        self.customers: list[dict] = []
        self.subscriptions: list[dict] = []
        self.invoices: list[dict] = []
        self.prices: list[dict] = []
        self.coupons: list[dict] = []
        self.failures: dict[str, deque] = {r: deque() for r in RESOURCES}
        self.requests: list[tuple[str, dict]] = []
        # called after each answered list request with (resource, query): e.g. an event arriving mid-pull
        self.after_request = None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def fail(self, resource: str, status: int, times: int = 1, headers: dict | None = None) -> None:
        for _ in range(times):
            self.failures[resource].append((status, headers or {}))

    def requests_to(self, resource: str) -> list[dict]:
        return [query for path, query in self.requests if path == f"/v1/{resource}"]

    def __enter__(self) -> FakeStripe:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Request-Id", "req_fake")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(url.query).items()}
                fake.requests.append((url.path, query))
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    given = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                    # Stripe's own message names the key it was given (masked); this one does not mask it,
                    # so a test shows the key never reaches a message even when the server echoes it.
                    return self._send(401, {"error": {"message": f"Invalid API Key provided: {given}",
                                                      "type": "invalid_request_error"}})
                resource = url.path.removeprefix("/v1/")
                if resource not in RESOURCES:
                    return self._send(404, {"error": {"message": f"Unrecognized request URL (GET: {url.path})",
                                                      "type": "invalid_request_error"}})
                if fake.failures[resource]:
                    status, headers = fake.failures[resource].popleft()
                    kind = "rate_limit_error" if status == 429 else "api_error"
                    return self._send(status, {"error": {"message": f"scripted {status}", "type": kind}}, headers)
                items = list(getattr(fake, resource))
                if resource == "subscriptions" and query.get("status") != "all":
                    items = [s for s in items if s.get("status") != "canceled"]
                if "created[gte]" in query:
                    items = [i for i in items if i["created"] >= int(query["created[gte]"])]
                # newest first; among equal `created`, later in the list is newer
                items = [item for _, item in sorted(enumerate(items), key=lambda p: (-p[1]["created"], -p[0]))]
                limit = int(query.get("limit", 10))
                ids = [i["id"] for i in items]
                for param in ("starting_after", "ending_before"):
                    if param in query and query[param] not in ids:
                        return self._send(400, {"error": {
                            "message": f"No such {resource[:-1]}: '{query[param]}'", "type": "invalid_request_error",
                            "code": "resource_missing", "param": param}})
                if "starting_after" in query:
                    rest = items[ids.index(query["starting_after"]) + 1:]
                    page, has_more = rest[:limit], len(rest) > limit
                elif "ending_before" in query:
                    before = items[:ids.index(query["ending_before"])]
                    page, has_more = before[-limit:], len(before) > limit
                else:
                    page, has_more = items[:limit], len(items) > limit
                body = {"object": "list", "url": url.path, "has_more": has_more, "data": page}
                if fake.after_request is not None:  # after the page was read, before the client has it
                    fake.after_request(resource, query)
                self._send(200, body)

        return Handler
