"""The self-hosted deployment, used as its operator and users would, through caddy only.

Run by tests/compose/run.sh (which prepares the engine, the images' inputs and the
environment). Each step is a function named for what it shows; a failed check raises with
what was seen, and run.sh prints the services' logs.

1. install.sh's first run: .env written once with mode 0600, every service healthy, the first
   tenant and admin created, the dashboard's address printed.
2. Only caddy publishes a port; its responses carry the security headers.
3. The admin signs in, points Slack at a loopback catcher, adds the sample's account.
4. The bundled sample, moved to the last days, is pushed to /v1/events while the scorer is
   stopped; the scorer is started, killed (SIGKILL) after its first commits and started again;
   every pushed cost event is scored exactly once.
5. Anomalies are listed by the API, an alert reaches Slack, the dashboard signs in (Chromium).
6. Three scorers: a second batch is scored exactly once too. A dd0c-agent on the host reads an
   SQS queue in moto (when scripts/test.sh runs it) and forwards through caddy's gRPC route.
7. pg_dump backup and pg_restore, as docs/self-hosted.md says.
8. install.sh again (the upgrade): data and the scale intact, the same password works.
9. --uninstall keeps the volumes; --purge removes them and .env.
"""

import argparse
import copy
import gzip
import http.server
import json
import os
import pathlib
import re
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

ROOT = pathlib.Path(__file__).resolve().parents[2]
BASE = f"http://127.0.0.1:{os.environ['DD0C_TEST_HTTP_PORT']}"
SAMPLE = ROOT / "samples/cloudtrail/AWSLogs"
ACCOUNTS = sorted(p.name for p in SAMPLE.iterdir())
TENANT = "acme"
ADMIN = "admin@example.com"
SERVICES = ["ingestion", "scorer", "zombie-hunter", "notifier", "api", "dashboard",
            "postgres", "redis", "caddy"]
DISPATCHERS = ["ingestion", "scorer", "zombie-hunter", "notifier", "api"]


def step(text):
    print(f"compose test: {text}", file=sys.stderr, flush=True)


def run(*args, input=None, check=True):
    done = subprocess.run(args, cwd=ROOT, input=input, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def compose(*args, input=None, check=True):
    return run("docker-compose", *args, input=input, check=check)


def install(*args):
    done = run("./install.sh", *args)
    sys.stderr.write(done.stderr)
    return done.stdout


def request(method, path, body=None, token=None, data=None, headers=None):
    """(status, headers, parsed JSON or text) of one request to caddy."""
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, got, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as error:
        status, got, raw = error.code, error.headers, error.read()
    text = raw.decode("utf-8", "replace")
    kind = got.get("Content-Type", "")
    return status, got, json.loads(text) if "json" in kind and text else text


def expect(status, wanted, what, answer):
    if status != wanted:
        raise AssertionError(f"{what}: HTTP {status}, wanted {wanted}: {str(answer)[:500]}")


def wait_for(what, check, seconds=180):
    """check() until it returns something true; its last value otherwise fails the test."""
    deadline = time.monotonic() + seconds
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        time.sleep(2)


class Catcher(http.server.BaseHTTPRequestHandler):
    """A Slack incoming webhook on loopback: keeps every POST body."""
    received = []

    def do_POST(self):
        Catcher.received.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def sample_batches(suffix):
    """The bundled sample's trail files as (account, gzip body), moved so the newest record is
    minutes old (as the demo does); `suffix` renames the event ids, so a second batch is new to
    the deduplication."""
    files = sorted(SAMPLE.rglob("*.json.gz"))
    trails = [json.loads(gzip.decompress(f.read_bytes())) for f in files]

    def when(text):
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)

    newest = max(when(r["eventTime"]) for t in trails for r in t["Records"])
    shift = datetime.now(timezone.utc) - timedelta(minutes=5) - newest
    shift = timedelta(days=shift.days)  # whole days: the hours of day, and so bursts, stay
    out = []
    for path, trail in zip(files, trails):
        trail = copy.deepcopy(trail)
        for record in trail["Records"]:
            record["eventTime"] = (when(record["eventTime"]) + shift).strftime("%Y-%m-%dT%H:%M:%SZ")
            record["eventID"] = record["eventID"] + suffix
        account = path.relative_to(SAMPLE).parts[0]
        out.append((account, gzip.compress(json.dumps(trail).encode())))
    return out


def push(ingest_tokens, batches):
    """POSTs each batch with its account's token; returns the priced cost events queued (stops and
    ends are queued too, to be followed, but teach no baseline)."""
    priced = 0
    for account, batch in batches:
        status, _, answer = request("POST", "/v1/events", data=batch, token=ingest_tokens[account],
                                    headers={"Content-Encoding": "gzip",
                                             "Content-Type": "application/json"})
        expect(status, 202, "POST /v1/events", answer)
        priced += answer["priced"]
    return priced


def scored(token):
    """How many cost events the account-wide baselines of the tenant have learned."""
    status, _, baselines = request("GET", "/v1/baselines", token=token)
    expect(status, 200, "GET /v1/baselines", baselines)
    return sum(b["stats"]["n"] for b in baselines if b["key"]["resource_kind"] == "*")


def scored_exactly(token, wanted):
    got = wait_for(f"{wanted} cost events scored", lambda: scored(token) >= wanted and scored(token))
    time.sleep(6)  # redeliveries after a kill come within the visibility timeout's reach
    got = scored(token)
    if got != wanted:
        raise AssertionError(f"{got} cost events scored, {wanted} pushed: each must be scored once")


def anomaly_ids(token):
    """Every anomaly's id, page by page."""
    ids, cursor = [], ""
    while True:
        status, _, page = request("GET", f"/v1/anomalies?limit=200&cursor={cursor}", token=token)
        expect(status, 200, "GET /v1/anomalies", page)
        ids += [a["anomaly_id"] for a in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return ids


def containers(service):
    return compose("ps", "-q", service).stdout.split()


def healthy(service, count=1):
    ids = containers(service)
    states = [run("docker", "inspect", "--format", "{{.State.Health.Status}}", i).stdout.strip()
              for i in ids]
    return len(ids) == count and all(s == "healthy" for s in states)


def psql(sql):
    return compose("exec", "-T", "postgres", "psql", "-U", "dd0c", "-d", "dd0c", "-tAc", sql).stdout.strip()


def first_install():
    step("install.sh, first run")
    out = install("--tenant", TENANT, "--admin-email", ADMIN)
    env = ROOT / ".env"
    mode = stat.S_IMODE(env.stat().st_mode)
    assert mode == 0o600, f".env has mode {oct(mode)}"
    settings = dict(line.split("=", 1) for line in env.read_text().splitlines()
                    if "=" in line and not line.startswith("#"))
    for name in ["DD0C_JWT_SECRET", "DD0C_SECRETS_KEY", "POSTGRES_PASSWORD", "DD0C_APP_PASSWORD"]:
        assert len(settings.get(name, "")) == 64, f".env has no generated {name}"
    for service in SERVICES:
        assert healthy(service), f"{service} is not healthy after install.sh"
    lines = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    assert lines.get("tenant") == TENANT and lines.get("admin") == ADMIN, out
    assert lines.get("dashboard", "").startswith("http://localhost"), out
    return lines["password"], env.read_text()


def only_caddy_publishes():
    step("only caddy publishes a port; its security headers")
    config = run("docker-compose", "-f", "docker-compose.yml", "config").stdout
    services = ("\n" + config).split("\nservices:\n", 1)[1].split("\nvolumes:\n", 1)[0]
    blocks = re.split(r"\n(?=  [a-z][a-z-]*:\n)", "\n" + services)
    published = sorted(b.strip().split(":", 1)[0] for b in blocks if "\n    ports:" in b)
    assert published == ["caddy"], f"services publishing ports: {published}"
    status, headers, page = request("GET", "/")
    expect(status, 200, "GET / (the dashboard)", page)
    assert "script-src 'self'" in headers.get("Content-Security-Policy", ""), dict(headers)
    assert headers.get("X-Content-Type-Options") == "nosniff", dict(headers)
    assert headers.get("Referrer-Policy"), dict(headers)
    assert "Strict-Transport-Security" not in headers, "HSTS on plain HTTP"
    status, headers, problem = request("GET", "/v1/anomalies")
    expect(status, 401, "GET /v1/anomalies without a token", problem)
    assert headers.get("Content-Security-Policy", "").startswith("default-src 'none'"), dict(headers)


def sign_in(password):
    status, _, answer = request("POST", "/v1/auth/login", {"email": ADMIN, "password": password})
    expect(status, 200, "POST /v1/auth/login", answer)
    return answer["access_token"]


def set_up(token, catcher_port):
    step("settings: Slack to a loopback catcher; the sample's accounts")
    status, _, settings = request("GET", "/v1/settings", token=token)
    expect(status, 200, "GET /v1/settings", settings)
    settings["slack_webhook_url"] = f"http://127.0.0.1:{catcher_port}/hook"
    status, _, answer = request("PUT", "/v1/settings", settings, token=token)
    expect(status, 200, "PUT /v1/settings", answer)
    tokens = {}
    for account in ACCOUNTS:
        status, _, added = request("POST", "/v1/accounts", {"account_id": account}, token=token)
        expect(status, 201, "POST /v1/accounts", added)
        tokens[account] = added["ingest_token"]
    return tokens


def push_killing_a_scorer(token, ingest_tokens):
    step("push the sample with the scorer stopped; start it, kill it mid-run, start it again")
    compose("stop", "scorer")
    # Four copies under event ids of their own: enough commits that the kill, which takes the
    # docker CLI a moment, lands among them.
    priced = sum(push(ingest_tokens, sample_batches(suffix)) for suffix in ["", "-b", "-c", "-d"])
    assert priced > 0, "the sample priced no cost event"
    compose("start", "scorer")
    (scorer,) = containers("scorer")
    deadline = time.monotonic() + 120
    while scored(token) == 0:  # polled tightly: the kill must land between commits
        assert time.monotonic() < deadline, "the scorer scored nothing in 120 s"
        time.sleep(0.02)
    run("docker", "kill", scorer)
    at_kill = scored(token)
    assert at_kill < priced, f"the scorer had scored all {priced} before the kill: nothing was tested"
    compose("up", "-d", "--no-recreate", "scorer")
    wait_for("the scorer healthy again", lambda: healthy("scorer"))
    scored_exactly(token, priced)
    step(f"killed the scorer with {at_kill} of {priced} cost events scored; all scored once")
    return priced


def anomalies_and_alerts(token, password):
    step("anomalies in the API; an alert in Slack; the dashboard in Chromium")
    anomalies = anomaly_ids(token)
    assert anomalies, "no anomaly from the sample"
    wait_for("an alert at the Slack catcher", lambda: Catcher.received)
    assert any(a.encode() in body for body in Catcher.received for a in ACCOUNTS), Catcher.received[:1]
    shown = run("node", "tests/compose/signin.mjs", BASE + "/", ADMIN, password)
    assert "anomaly rows:" in shown.stdout, shown.stdout


def three_scorers(token, ingest_tokens, before):
    step("three scorers; a second batch scored once")
    compose("up", "-d", "--no-recreate", "--scale", "scorer=3")
    wait_for("three healthy scorers", lambda: healthy("scorer", 3))
    priced = push(ingest_tokens, sample_batches("-2"))
    scored_exactly(token, before + priced)
    return before + priced


def sqs(endpoint, action, body):
    """One call of SQS's JSON protocol to the emulator at `endpoint`."""
    req = urllib.request.Request(endpoint, data=json.dumps(body).encode(), method="POST", headers={
        "X-Amz-Target": f"AmazonSQS.{action}", "Content-Type": "application/x-amz-json-1.0",
        # The emulator picks the service from the credential's scope; it checks no signature.
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"{}")


def agent_events():
    """The sample's EventBridge export, as the agent's queue would hold it: moved to a minute
    ago, with event ids of its own."""
    now = (datetime.now(timezone.utc) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []
    for line in (ROOT / "samples/cloudtrail/agent/eventbridge-export.jsonl").read_text().splitlines():
        event = json.loads(line)
        event["time"] = event["detail"]["eventTime"] = now
        event["detail"]["eventID"] = event["detail"]["eventID"] + "-agent"
        out.append((event["account"], json.dumps(event)))
    return out


def an_agent_through_caddy(token, ingest_tokens, state):
    """dd0c-agent on the host reads an SQS queue in the emulator and forwards over gRPC
    (cleartext HTTP/2) to caddy, which routes it to `ingestion`. Returns the events it added."""
    endpoint = os.environ.get("DD0C_TEST_AWS_ENDPOINT")
    if not endpoint:
        step("no agent step: DD0C_TEST_AWS_ENDPOINT (moto, which scripts/test.sh starts) is not set")
        return 0
    step("an agent through caddy's gRPC route: SQS (moto) → dd0c-agent → ingestion")
    queue = sqs(endpoint, "CreateQueue", {"QueueName": f"dd0c-compose-{os.getpid()}"})["QueueUrl"]
    events = agent_events()
    (account,) = {a for a, _ in events}
    for _, body in events:
        sqs(endpoint, "SendMessage", {"QueueUrl": queue, "MessageBody": body})
    before = scored(token)
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1", DD0C_LOG="warn")
    log = (pathlib.Path(state) / "agent.log").open("w")
    agent = subprocess.Popen(
        [os.environ.get("DD0C_AGENT_BIN", str(ROOT / "target/debug/dd0c-agent")),
         "--endpoint", BASE, "--token", ingest_tokens[account], "--sqs-queue-url", queue,
         "--spool-dir", str(pathlib.Path(state) / "spool"), "--heartbeat-seconds", "1"],
        env=env, stdout=log, stderr=log)
    try:
        def listed():
            status, _, agents = request("GET", "/v1/agents", token=token)
            expect(status, 200, "GET /v1/agents", agents)
            return [a for a in agents if a["account_id"] == account and a["seconds_since_seen"] < 10]
        wait_for("the agent's heartbeat in /v1/agents", listed, seconds=60)
        wait_for("the agent's cost events scored", lambda: scored(token) > before, seconds=60)
    finally:
        agent.terminate()
        agent.wait()
    time.sleep(3)
    return scored(token) - before


def backup_and_restore(state):
    step("pg_dump, a change, pg_restore: the change is gone")
    dump = pathlib.Path(state) / "dd0c.dump"
    with dump.open("wb") as out:
        subprocess.run(["docker-compose", "exec", "-T", "postgres", "pg_dump", "-U", "dd0c",
                        "-Fc", "dd0c"], cwd=ROOT, stdout=out, check=True)
    compose("exec", "-T", "api", "dd0c-cost", "tenant", "add", "scratch")
    assert psql("SELECT count(*) FROM tenants WHERE name = 'scratch'") == "1"
    compose("stop", *DISPATCHERS)
    with dump.open("rb") as source:
        subprocess.run(["docker-compose", "exec", "-T", "postgres", "pg_restore", "-U", "dd0c",
                        "-d", "dd0c", "--clean", "--if-exists"], cwd=ROOT, stdin=source, check=True)
    compose("start", *DISPATCHERS)
    assert psql("SELECT count(*) FROM tenants WHERE name = 'scratch'") == "0"
    for service in DISPATCHERS:
        wait_for(f"{service} healthy after the restore",
                 lambda s=service: healthy(s, 3 if s == "scorer" else 1))


def upgrade(password, env_before, anomalies, events):
    step("install.sh again: the upgrade keeps data, secrets and scale")
    # A new build: another binary, so every dd0c container is recreated and migrates as it starts.
    with (ROOT / "docker/prebuilt/dd0c-cost").open("ab") as binary:
        binary.write(b"\0a new build\0")
    before = containers("api")
    out = install()
    assert containers("api") != before, "the upgrade did not recreate the api's container"
    assert "password" not in out, f"the upgrade created another admin: {out}"
    assert (ROOT / ".env").read_text() == env_before, ".env changed"
    assert healthy("scorer", 3), "the upgrade changed the scorers' scale"
    token = sign_in(password)
    after = anomaly_ids(token)
    assert sorted(after) == sorted(anomalies), f"{len(after)} anomalies, {len(anomalies)} before"
    assert scored(token) == events, "the baselines changed in the upgrade"


def uninstall_and_purge():
    step("--uninstall keeps the volumes; --purge removes them")
    install("--uninstall")
    volumes = run("docker", "volume", "ls", "-q").stdout.split()
    assert "dd0c_pgdata" in volumes, volumes
    assert not compose("ps", "-q").stdout.strip()
    install("--uninstall", "--purge")
    volumes = run("docker", "volume", "ls", "-q").stdout.split()
    assert not [v for v in volumes if v.startswith("dd0c_")], volumes
    assert not (ROOT / ".env").exists(), ".env was kept by --purge"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", required=True)
    state = parser.parse_args().state
    catcher = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Catcher)
    threading.Thread(target=catcher.serve_forever, daemon=True).start()

    password, env_before = first_install()
    only_caddy_publishes()
    token = sign_in(password)
    ingest_tokens = set_up(token, catcher.server_address[1])
    events = push_killing_a_scorer(token, ingest_tokens)
    anomalies_and_alerts(token, password)
    events = three_scorers(token, ingest_tokens, events)
    events += an_agent_through_caddy(token, ingest_tokens, state)
    anomalies = anomaly_ids(token)
    backup_and_restore(state)
    upgrade(password, env_before, anomalies, events)
    uninstall_and_purge()
    step(f"passed: {events} cost events scored once each, {len(anomalies)} anomalies kept")


if __name__ == "__main__":
    main()
