"""The drill's load: closed-loop HTTP workers (retrieves, searches,
read-then-PATCH) through HAProxy, and a probe on each service instance
directly. Every request is recorded: who sent it where, its kind, start
and end (monotonic seconds), status (or how the connection failed) and
Retry-After."""
import http.client
import itertools
import json
import random
import socket
import threading
import time
import urllib.parse
import uuid

# A request slower than this is a hang: the drill gives up on it.
TIMEOUT = 10.0
# A PATCH is retried, with the same X-Request-ID and body, this long.
PATCH_DEADLINE = 30.0
# Pause after a failed request (the service says Retry-After: 5; the drill
# retries sooner to measure recovery to a quarter of a second).
BACKOFF = 0.25
RETRY = {502, 503, 504, "refused", "reset", "timeout", "error"}
# Share of acknowledged PATCHes sent once more, a second or more later, as a
# client that never saw the answer would: the service must answer with the
# version it acknowledged, and apply nothing (also across a failover).
RESEND_SHARE = 0.1


def failure(e):
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(e, (ConnectionError, http.client.RemoteDisconnected, http.client.IncompleteRead)):
        return "reset"
    return "error"


class Client:
    """One keep-alive connection, reopened after any failure."""

    def __init__(self, addr):
        self.addr, self.conn = addr, None

    def request(self, method, path, headers, body=None):
        t0 = time.monotonic()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(*self.addr, timeout=TIMEOUT)
            self.conn.request(method, path, body=body, headers=headers)
            r = self.conn.getresponse()
            data = r.read()
            if r.getheader("connection", "").lower() == "close":
                self.close()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data, t0, time.monotonic()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return failure(e), {}, b"", t0, time.monotonic()

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def version_of(headers):
    return int(headers["etag"].split('"')[1])


class Load:
    def __init__(self, token, people):
        self.token, self.people = token, people
        self.stop = threading.Event()
        self.records = []  # (via, kind, t0, t1, status, retry_after)
        self.acks = []  # (via, request_id, nhs, version, marker, attempts, t1)
        self.unacked = []  # (via, request_id, nhs, marker, attempts, last status)
        self.resends = []  # (via, request_id, version acknowledged, version or status now, t1)
        # Read-your-writes: each patient is patched by one worker only, so
        # a read of it older than its last acknowledged PATCH is stale.
        self.acked_version = {}  # nhs -> version of the last acknowledged PATCH
        self.stale = []  # (via, nhs, version read, version acknowledged, t1)
        self.markers = itertools.count(1)
        self.threads = []

    def headers(self, **extra):
        h = {"Authorization": "Bearer " + self.token, "X-Request-ID": str(uuid.uuid4())}
        h.update(extra)
        return h

    def call(self, cli, via, kind, method, path, headers=None, body=None):
        status, hdrs, data, t0, t1 = cli.request(method, path, headers or self.headers(), body)
        self.records.append((via, kind, t0, t1, status, hdrs.get("retry-after")))
        return status, hdrs, data

    def start(self, target, *args):
        t = threading.Thread(target=target, args=args, daemon=True)
        t.start()
        self.threads.append(t)

    def join(self, seconds):
        deadline = time.monotonic() + seconds
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return [t for t in self.threads if t.is_alive()]

    def reader(self, addr, via):
        cli = Client(addr)
        while not self.stop.is_set():
            nhs = random.choice(self.people)[0]
            if self.call(cli, via, "retrieve", "GET", f"/Patient/{nhs}")[0] != 200:
                time.sleep(BACKOFF)

    def searcher(self, addr, via):
        cli = Client(addr)
        while not self.stop.is_set():
            p = random.choice(self.people)
            q = urllib.parse.urlencode({"family": p[1], "birthdate": "eq" + p[3]})
            if self.call(cli, via, "search", "GET", f"/Patient?{q}")[0] != 200:
                time.sleep(BACKOFF)

    def patcher(self, addr, via, patients, pause=0.0):
        cli, pending = Client(addr), []
        while not self.stop.is_set():
            for nhs in patients:
                if self.stop.is_set():
                    break
                if pending and pending[0][0] < time.monotonic() - 1:
                    self.resend(cli, via, *pending.pop(0)[1:])
                self.read_and_patch(cli, via, nhs, pending)
                time.sleep(pause)

    def read_and_patch(self, cli, via, nhs, pending):
        """Read the patient, then give its first telecom a value no other
        PATCH of this drill uses, with If-Match of the version read."""
        status, hdrs, data = self.call(cli, via, "retrieve", "GET", f"/Patient/{nhs}")
        if status != 200:
            time.sleep(BACKOFF)
            return
        read, acked = version_of(hdrs), self.acked_version.get(nhs, 0)
        if read < acked:
            self.stale.append((via, nhs, read, acked, time.monotonic()))
        item = json.loads(data)["telecom"][0]
        n = next(self.markers)
        marker = f"drill{n}@example.com" if item["system"] == "email" else f"07700{n:06d}"
        value = {k: item[k] for k in ("id", "system", "use") if k in item}
        value["value"] = marker
        body = json.dumps({"patches": [{"op": "replace", "path": "/telecom/0", "value": value}]}).encode()
        headers = self.headers(**{"If-Match": hdrs["etag"], "Content-Type": "application/json-patch+json"})
        rid = headers["X-Request-ID"]
        status, h, attempts = self.send(cli, via, "patch", nhs, headers, body)
        if status == 200:
            self.acks.append((via, rid, nhs, version_of(h), marker, attempts, time.monotonic()))
            self.acked_version[nhs] = max(self.acked_version.get(nhs, 0), version_of(h))
            if random.random() < RESEND_SHARE:
                pending.append((time.monotonic(), nhs, headers, body, version_of(h)))
        else:
            self.unacked.append((via, rid, nhs, marker, attempts, status))

    def resend(self, cli, via, nhs, headers, body, version):
        status, h, _ = self.send(cli, via, "patch resent", nhs, headers, body)
        now = version_of(h) if status == 200 else status
        self.resends.append((via, headers["X-Request-ID"], version, now, time.monotonic()))

    def send(self, cli, via, kind, nhs, headers, body):
        """The PATCH, retried as it is until answered or PATCH_DEADLINE:
        (status, headers, attempts)."""
        start = time.monotonic()
        for attempt in itertools.count(1):
            status, h, _ = self.call(cli, via, kind, "PATCH", f"/Patient/{nhs}", headers, body)
            if status not in RETRY or time.monotonic() - start > PATCH_DEADLINE:
                return status, h, attempt
            time.sleep(BACKOFF)
