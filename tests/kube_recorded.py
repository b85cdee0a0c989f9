"""A Kubernetes API stand-in for the doctor tests: recorded JSON responses (tests/recorded/kubernetes/<cluster>/
<URL path>.json) served by a stdlib HTTP server on 127.0.0.1 (a free port, stopped at the end), reached by the
real Kubernetes client through a generated kubeconfig. `ready` holds only what differs from `empty`. The
responses are written in the shapes the API server returns (the client's typed models parse each one), for
EKS Auto Mode after `flux bootstrap` (Flux 2.9's controllers), not captured from a live cluster.
A path with no recording answers 404 with the API server's NotFound Status; a test sets `errors` for others."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import yaml

RECORDED = Path(__file__).resolve().parent / "recorded" / "kubernetes"


def recorded(cluster: str) -> dict[str, dict]:
    """{URL path: body} of a recorded cluster; `ready` is `empty` plus its own recordings."""
    layers = ["empty"] + ([cluster] if cluster != "empty" else [])
    responses = {}
    for layer in layers:
        for file in sorted((RECORDED / layer).rglob("*.json")):
            responses["/" + file.relative_to(RECORDED / layer).with_suffix("").as_posix()] = json.loads(file.read_text())
    return responses


REASONS = {
    404: ("NotFound", '{qualified} "{name}" not found'),
    403: ("Forbidden", ('{qualified} "{name}" is forbidden: User "doctor" cannot get resource "{resource}" in API '
                        'group "{group}" at the cluster scope')),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
}


def status(code: int, path: str) -> dict:
    """The Status object (metav1.Status) the API server answers with for an error on this path."""
    parts = path.strip("/").split("/")
    name, resource = parts[-1], parts[-2] if len(parts) > 1 else ""
    group = parts[1] if parts[0] == "apis" and len(parts) > 3 else ""
    reason, message = REASONS[code]
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message.format(qualified=f"{resource}.{group}" if group else resource, name=name,
                                      resource=resource, group=group),
            "reason": reason, "details": {"name": name, **({"group": group} if group else {}), "kind": resource},
            "code": code}


class RecordedApi:
    """The server: GET answers from `responses` (editable by a test), keyed by method and path."""

    def __init__(self):
        self.responses: dict[str, dict] = {}
        self.errors: dict[str, int] = {}  # path -> HTTP status answered instead of the recording
        self.requests: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # http.server's naming
                path = self.path.split("?", 1)[0].rstrip("/")  # the client asks for /api/ and /apis/
                api.requests.append(f"GET {path}")
                code = api.errors.get(path) or (200 if path in api.responses else 404)
                body = json.dumps(api.responses[path] if code == 200 else status(code, path)).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def load(self, cluster: str) -> None:
        self.responses = recorded(cluster)
        self.errors = {}


def kubeconfig(path: Path, server: str, context: str = "recorded") -> Path:
    """A kubeconfig with one context pointing at `server` (a bearer token: no real credentials)."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": context, "cluster": {"server": server}}],
        "users": [{"name": "doctor", "user": {"token": "recorded-token"}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": "doctor"}}]}))
    return path
