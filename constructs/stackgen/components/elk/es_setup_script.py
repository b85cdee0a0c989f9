"""The setup Jobs' program (rendered into a ConfigMap, run by python:3.13 with the standard library only).

`setup.py elasticsearch <plan.json>`: waits for the cluster, PUTs every request of the plan (ILM policy,
index template, snapshot repository, SLM policy, roles) and makes sure each user of the plan exists with
the password kept in its Secret: read from the Secret when it exists, generated once otherwise, and the
Secret written through the Kubernetes API (with the cluster's CA when the plan asks, for clients in
other namespaces). `setup.py kibana <url> <file.ndjson>`: waits for Kibana and imports the saved objects
with overwrite=true. Every step is idempotent: a second run changes nothing.
"""
import base64
import json
import os
import secrets
import ssl
import sys
import time
import urllib.error
import urllib.request

ELASTIC_PASSWORD_FILE = "/etc/elastic-user/elastic"
CA_FILE = "/etc/stack-ca/ca.crt"
SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
# The API server as the kubelet tells every pod (set even without service links).
KUBERNETES = "https://{KUBERNETES_SERVICE_HOST}:{KUBERNETES_SERVICE_PORT}"
WAIT_SECONDS = 1500


def call(method, url, body=None, *, headers=None, cafile=None, raw=None):
    """(status, parsed JSON or None). Non-2xx statuses are returned, not raised."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers={
        **({"Content-Type": "application/json"} if raw is None and body is not None else {}), **(headers or {})})
    context = ssl.create_default_context(cafile=cafile)
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text) if text else None
        except ValueError:
            return error.code, {"raw": text.decode(errors="replace")}


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def wait_until(what, check):
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            if check():
                return
        except OSError as error:  # not resolvable or refusing yet
            print(f"waiting for {what}: {error}", flush=True)
        if time.monotonic() > deadline:
            sys.exit(f"{what} not ready after {WAIT_SECONDS}s")
        time.sleep(10)


def elastic_auth():
    with open(ELASTIC_PASSWORD_FILE) as handle:
        return basic("elastic", handle.read().strip())


class Kubernetes:
    def __init__(self):
        with open(f"{SERVICE_ACCOUNT}/token") as handle:
            self.headers = {"Authorization": f"Bearer {handle.read().strip()}"}

    def call(self, method, path, body=None):
        return call(method, KUBERNETES.format(**os.environ) + path, body, headers=self.headers, cafile=f"{SERVICE_ACCOUNT}/ca.crt")

    def read_secret(self, namespace, name):
        """(status, current object or None, its data decoded)."""
        status, current = self.call("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        if status not in (200, 404):
            sys.exit(f"GET secret {namespace}/{name}: {status} {current}")
        data = {key: base64.b64decode(value).decode() for key, value in ((current or {}).get("data") or {}).items()}
        return status, current, data

    def ensure_secret(self, namespace, name, wanted, labels):
        """Create the Secret, or update it where a key differs; unchanged, nothing is written."""
        status, current, existing = self.read_secret(namespace, name)
        if status == 200 and existing == wanted:
            return
        body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "data": {key: base64.b64encode(value.encode()).decode() for key, value in wanted.items()},
                "metadata": {"name": name, "namespace": namespace, "labels": labels}}
        if status == 200:
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            result, answer = self.call("PUT", f"/api/v1/namespaces/{namespace}/secrets/{name}", body)
        else:
            result, answer = self.call("POST", f"/api/v1/namespaces/{namespace}/secrets", body)
        if result not in (200, 201):
            sys.exit(f"writing secret {namespace}/{name}: {result} {answer}")
        print(f"secret {namespace}/{name}: {'updated' if status == 200 else 'created'}", flush=True)


def setup_elasticsearch(plan_file):
    with open(plan_file) as handle:
        plan = json.load(handle)
    url, auth = plan["url"], elastic_auth()
    wait_until("Elasticsearch", lambda: call("GET", f"{url}/_cluster/health?wait_for_status=yellow&timeout=10s",
                                             headers=auth, cafile=CA_FILE)[0] == 200)
    for step in plan["requests"]:
        status, answer = call(step["method"], url + step["path"], step["body"], headers=auth, cafile=CA_FILE)
        if status not in (200, 201):
            sys.exit(f"{step['method']} {step['path']}: {status} {answer}")
        print(f"{step['method']} {step['path']}: {status}", flush=True)
    kubernetes = Kubernetes()
    with open(CA_FILE) as handle:
        ca = handle.read()
    for user in plan["users"]:
        target = user["secret"]
        _, _, existing = kubernetes.read_secret(target["namespace"], target["name"])
        # Generated once; every later run sets the same password again.
        wanted = {"username": user["username"], "password": existing.get("password") or secrets.token_urlsafe(24)}
        if user.get("with_ca"):
            wanted["ca.crt"] = ca
        kubernetes.ensure_secret(target["namespace"], target["name"], wanted, plan["labels"])
        status, answer = call("PUT", f"{url}/_security/user/{user['username']}",
                              {"password": wanted["password"], "roles": user["roles"]}, headers=auth, cafile=CA_FILE)
        if status != 200:
            sys.exit(f"PUT /_security/user/{user['username']}: {status} {answer}")
        print(f"user {user['username']}: {status}", flush=True)


def multipart(file_name, content):
    boundary = "stackgen-" + secrets.token_hex(12)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n"
            "Content-Type: application/ndjson\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def import_saved_objects(url, ndjson_file):
    auth = elastic_auth()
    wait_until("Kibana", lambda: call("GET", f"{url}/api/status", headers=auth, cafile=CA_FILE)[0] == 200)
    with open(ndjson_file, "rb") as handle:
        body, content_type = multipart(os.path.basename(ndjson_file), handle.read())
    status, answer = call("POST", f"{url}/api/saved_objects/_import?overwrite=true", raw=body, cafile=CA_FILE,
                          headers={**auth, "kbn-xsrf": "true", "Content-Type": content_type})
    if status != 200 or not (answer or {}).get("success"):
        sys.exit(f"saved objects import: {status} {answer}")
    print(f"saved objects imported: {answer.get('successCount')}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "elasticsearch":
        setup_elasticsearch(sys.argv[2])
    else:
        import_saved_objects(sys.argv[2], sys.argv[3])
