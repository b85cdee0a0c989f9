"""The setup Job's program against an in-memory Elasticsearch and Kubernetes API: it applies every
request of the plan, creates each user's Secret once with a generated password, reuses it on a second
run (idempotent: no Secret is written twice, the same password is set again), and fails loudly on an
error answer."""
from __future__ import annotations

import base64
import json

import pytest
from stackgen.components.elk import es_setup_script as script

PLAN = {
    "url": "https://es:9200", "labels": {"app.kubernetes.io/name": "elasticsearch-setup"},
    "requests": [{"method": "PUT", "path": "/_ilm/policy/p", "body": {"policy": {}}},
                 {"method": "PUT", "path": "/_security/role/r", "body": {"indices": []}}],
    "users": [{"username": "fluent-bit", "roles": ["r"], "with_ca": True,
               "secret": {"namespace": "monitoring-agents", "name": "elasticsearch-fluent-bit"}}],
}


class Fake:
    """Elasticsearch and the Kubernetes API as the program calls them."""

    def __init__(self, fail: str | None = None):
        self.secrets, self.calls, self.users, self.fail = {}, [], {}, fail

    def __call__(self, method, url, body=None, *, headers=None, cafile=None, raw=None):
        self.calls.append((method, url))
        if self.fail and self.fail in url:
            return 400, {"error": "bad"}
        if "/_cluster/health" in url:
            return 200, {"status": "green"}
        if "/_security/user/" in url:
            self.users[url.rsplit("/", 1)[1]] = body
            return 200, {"created": True}
        if url.startswith("https://es:9200"):
            return 200, {"acknowledged": True}
        path = url.split("443", 1)[1]
        if method == "GET":
            secret = self.secrets.get(path)
            return (200, secret) if secret else (404, {"reason": "NotFound"})
        if method == "POST":
            name = body["metadata"]["name"]
            self.secrets[f"{path}/{name}"] = {**body, "metadata": {**body["metadata"], "resourceVersion": "1"}}
            return 201, body
        if method == "PUT":
            self.secrets[path] = body
            return 200, body
        raise AssertionError((method, url))


@pytest.fixture
def files(tmp_path, monkeypatch):
    (tmp_path / "elastic").write_text("elastic-password\n")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n")
    (tmp_path / "token").write_text("token")
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    monkeypatch.setattr(script, "ELASTIC_PASSWORD_FILE", str(tmp_path / "elastic"))
    monkeypatch.setattr(script, "CA_FILE", str(tmp_path / "ca.crt"))
    monkeypatch.setattr(script, "SERVICE_ACCOUNT", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.100.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    return tmp_path


def secret_data(fake):
    (secret,) = fake.secrets.values()
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def test_applies_the_plan_and_creates_the_users_secret_once(files, monkeypatch):
    fake = Fake()
    monkeypatch.setattr(script, "call", fake)
    script.setup_elasticsearch(str(files / "plan.json"))
    assert ("PUT", "https://es:9200/_ilm/policy/p") in fake.calls and ("PUT", "https://es:9200/_security/role/r") in fake.calls
    data = secret_data(fake)
    assert data["username"] == "fluent-bit" and len(data["password"]) >= 24 and "CA" in data["ca.crt"]
    assert fake.users["fluent-bit"] == {"password": data["password"], "roles": ["r"]}
    writes = [c for c in fake.calls if c[0] in ("POST", "PUT") and "/api/v1/" in c[1]]

    script.setup_elasticsearch(str(files / "plan.json"))  # the Job again: nothing new
    assert secret_data(fake) == data and fake.users["fluent-bit"]["password"] == data["password"]
    assert [c for c in fake.calls if c[0] in ("POST", "PUT") and "/api/v1/" in c[1]] == writes


def test_a_changed_ca_updates_the_secret_and_keeps_the_password(files, monkeypatch):
    fake = Fake()
    monkeypatch.setattr(script, "call", fake)
    script.setup_elasticsearch(str(files / "plan.json"))
    password = secret_data(fake)["password"]
    (files / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nNEW\n-----END CERTIFICATE-----\n")
    script.setup_elasticsearch(str(files / "plan.json"))
    assert "NEW" in secret_data(fake)["ca.crt"] and secret_data(fake)["password"] == password


def test_an_error_answer_fails_the_job(files, monkeypatch):
    monkeypatch.setattr(script, "call", Fake(fail="/_ilm/"))
    with pytest.raises(SystemExit, match="_ilm/policy/p: 400"):
        script.setup_elasticsearch(str(files / "plan.json"))


def test_the_kibana_import_sends_multipart_ndjson_with_overwrite(files, monkeypatch):
    sent = {}

    def fake(method, url, body=None, *, headers=None, cafile=None, raw=None):
        if url.endswith("/api/status"):
            return 200, {}
        sent.update(method=method, url=url, headers=headers, raw=raw)
        return 200, {"success": True, "successCount": 16}
    monkeypatch.setattr(script, "call", fake)
    (files / "s.ndjson").write_text('{"type": "search"}\n')
    script.import_saved_objects("https://kb:5601", str(files / "s.ndjson"))
    assert sent["url"] == "https://kb:5601/api/saved_objects/_import?overwrite=true" and sent["method"] == "POST"
    assert sent["headers"]["kbn-xsrf"] == "true" and sent["headers"]["Content-Type"].startswith("multipart/form-data")
    assert b'filename="s.ndjson"' in sent["raw"] and b'{"type": "search"}' in sent["raw"]
