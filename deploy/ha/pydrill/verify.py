"""After recovery: is every acknowledged PATCH there, at the version it was
acknowledged with, and was none applied twice? Read through a service
instance whose reads and writes both go to the primary, and in SQL."""
import collections
import json
import time
import urllib.parse

from . import cluster
from .load import Client


def history(cli, load, nhs):
    """{version: first telecom value} of every version the service holds."""
    values, path = {}, f"/Patient/{nhs}/_history?_count=50"
    while path:
        for _ in range(20):
            status, _, data, _, _ = cli.request("GET", path, load.headers())
            if status == 200:
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"history of {nhs}: {status}")
        bundle = json.loads(data)
        for e in bundle.get("entry", []):
            r = e["resource"]
            values[int(r["meta"]["versionId"])] = (r.get("telecom") or [{}])[0].get("value")
        nxt = [x["url"] for x in bundle["link"] if x["relation"] == "next"]
        path = None
        if nxt:
            u = urllib.parse.urlsplit(nxt[0])
            path = f"{u.path}?{u.query}"
    return values


def verify(load, initial, started_at):
    """initial: {nhs: version before the drill} of every patched patient;
    started_at: when the load started (ISO 8601)."""
    cluster.ctl("start", "check")
    try:
        cli = Client(cluster.CHECKER)
        held = {nhs: history(cli, load, nhs) for nhs in initial}
    finally:
        cluster.ctl("stop", "check")
    lost = [a for a in load.acks if held[a[2]].get(a[3]) != a[4]]
    # Every PATCH wrote a value of its own: one seen in two versions was
    # applied twice.
    seen = collections.Counter(v for nhs, vs in held.items() for ver, v in vs.items() if ver > initial[nhs])
    twice = sorted(v for v, c in seen.items() if c > 1)
    retried = {a[4] for a in load.acks if a[5] > 1} | {u[3] for u in load.unacked if u[4] > 1}
    # In SQL: versions made during the drill that no request id accounts for,
    # and acknowledged request ids whose kept answer is missing or differs.
    d = ", ".join(f"({nhs}, {v})" for nhs, v in initial.items())
    (unexplained,), = cluster.psql(f"""
        WITH d(nhs, v0) AS (VALUES {d}),
        made AS (SELECT d.nhs, p.version - d.v0 AS n FROM d JOIN patients p ON p.nhs_number = d.nhs),
        keyed AS (SELECT d.nhs, count(DISTINCT k.version) AS n FROM d
                  JOIN idempotency_keys k ON k.nhs_number = d.nhs AND k.version > d.v0 GROUP BY d.nhs)
        SELECT coalesce(sum(made.n - coalesce(keyed.n, 0)), 0) FROM made LEFT JOIN keyed USING (nhs)""")
    acked = {a[1]: a[3] for a in load.acks}
    keys = dict(cluster.psql("SELECT request_id, version FROM idempotency_keys WHERE request_id IN ("
                             + ", ".join(f"'{r}'" for r in acked) + ")")) if acked else {}
    key_mismatch = [r for r, v in acked.items() if keys.get(r) != str(v)]
    # Retries the service answered from the kept answer (also those HAProxy
    # resent to the other instance, unseen by the client).
    (replays,), = cluster.psql(f"SELECT count(*) FROM audit_trail WHERE action = 'update-replay'"
                               f" AND at >= '{started_at}'")
    return {
        "acked": len(load.acks),
        "lost": lost,
        "twice": twice,
        "retried_twice": sorted(set(twice) & retried),
        "retried": len(retried),
        "replays": int(replays),
        "unexplained_versions": int(unexplained),
        "key_mismatch": key_mismatch,
        "versions_checked": sum(len(v) for v in held.values()),
    }
