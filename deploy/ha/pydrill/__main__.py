"""The failover drill: mixed load through HAProxy while the primary's
postmaster, then a service instance, then etcd are taken away; figures and
targets in bench/results/<date>-ha-drill[-short].md. Run by deploy/ha/drill."""
import argparse
import datetime
import json
import os
import sys
import time

from . import cluster, report
from .load import Client, Load, PATCH_DEADLINE, TIMEOUT
from .monitor import Monitor
from .verify import verify

# Seconds: warm-up; primary kill to instance kill; after the instance is
# back; etcd away; steady load at the end.
PLANS = {
    "short": {"warmup": 8, "to_instance_kill": 20, "settle": 5, "etcd_down": 15, "tail": 5},
    "full": {"warmup": 30, "to_instance_kill": 20, "settle": 20, "etcd_down": 15, "tail": 60},
}
READERS, SEARCHERS, PATCHERS, PER_PATCHER = 3, 1, 3, 6


def pick_patients(load, count):
    """Unrestricted patients with a first telecom, and their versions now."""
    cli, chosen = Client(cluster.SERVICE), {}
    for p in load.people:
        status, hdrs, data, _, _ = cli.request("GET", f"/Patient/{p[0]}", load.headers())
        if status != 200:
            continue
        r = json.loads(data)
        security = {s["code"] for s in r["meta"].get("security", [])}
        if security <= {"U"} and r.get("telecom") and "id" in r["telecom"][0]:
            chosen[p[0]] = int(r["meta"]["versionId"])
            if len(chosen) == count:
                return chosen
    raise RuntimeError(f"found only {len(chosen)} patients to patch")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", action="store_true")
    ap.add_argument("--command", default="deploy/ha/drill")
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    plan = PLANS["short" if args.short else "full"]
    token = cluster.pds("token", "clinician").strip()
    people = [line.split() for line in cluster.pds("sample", "--count", "500").splitlines()]
    load = Load(token, people)
    probes = {i: cluster.instance_addr(i) for i in cluster.INSTANCES}
    initial = pick_patients(load, PATCHERS * PER_PATCHER + len(probes))
    patched = list(initial)
    ev, notes, load_before, marks, old = {}, [], os.getloadavg(), report.mark_logs(), None
    started_at = datetime.datetime.now(datetime.timezone.utc).isoformat()
    mon = Monitor()
    mon.thread.start()
    for _ in range(READERS):
        load.start(load.reader, cluster.SERVICE, "haproxy")
    for _ in range(SEARCHERS):
        load.start(load.searcher, cluster.SERVICE, "haproxy")
    for k in range(PATCHERS):
        load.start(load.patcher, cluster.SERVICE, "haproxy", patched[k * PER_PATCHER:(k + 1) * PER_PATCHER])
    for k, (i, addr) in enumerate(probes.items()):
        load.start(load.patcher, addr, f"pds{i}", [patched[PATCHERS * PER_PATCHER + k]], 0.25)
    ev["start"] = time.monotonic()

    def acked_since(t, via="haproxy"):
        return lambda: any(a[6] > t and a[0] == via for a in load.acks)

    def phase(name, pred, seconds):
        try:
            return cluster.wait(pred, seconds, name)
        except TimeoutError as e:
            notes.append(str(e))
            return None

    try:
        time.sleep(plan["warmup"])
        old = cluster.leader()
        ev["primary_kill"] = time.monotonic()
        pid = cluster.kill_postmaster(old)
        print(f"killed the primary's postmaster: {old}, pid {pid}", flush=True)
        for via in ["haproxy"] + [f"pds{i}" for i in probes]:
            phase(f"a write through {via} after the primary kill", acked_since(ev["primary_kill"], via), 60)
        time.sleep(max(0.0, ev["primary_kill"] + plan["to_instance_kill"] - time.monotonic()))
        ev["instance_kill"] = time.monotonic()
        pid = cluster.kill_instance(cluster.KILLED_INSTANCE)
        print(f"killed service instance pds{cluster.KILLED_INSTANCE}, pid {pid}", flush=True)
        phase("a write after the instance kill", acked_since(ev["instance_kill"]), 30)
        time.sleep(plan["settle"])
        ev["instance_restart"] = time.monotonic()
        cluster.ctl("start", "pds", str(cluster.KILLED_INSTANCE))
        phase(f"pds{cluster.KILLED_INSTANCE} writing after its restart",
              acked_since(ev["instance_restart"], f"pds{cluster.KILLED_INSTANCE}"), 60)
        phase(f"{old} back as a replica", lambda: mon.back_as_replica(old, ev["primary_kill"]) and cluster.healthy(), 120)
        ev["etcd_stop"] = time.monotonic()
        cluster.ctl("stop", "etcd")
        print("stopped etcd", flush=True)
        time.sleep(max(0.0, ev["etcd_stop"] + plan["etcd_down"] - time.monotonic()))
        ev["etcd_start"] = time.monotonic()
        cluster.ctl("start", "etcd")
        print("started etcd", flush=True)
        phase("a healthy cluster after etcd returned", lambda: cluster.etcd_healthy() and cluster.healthy(), 60)
        ev["healthy"] = time.monotonic()
        time.sleep(plan["tail"])
    except Exception as e:  # noqa: BLE001 - the figures so far are still reported
        notes.append(f"drill aborted: {e!r}")
    finally:
        ev["stop"] = time.monotonic()
        load.stop.set()
        stuck = load.join(PATCH_DEADLINE + TIMEOUT + 5)
        mon.stop.set()
        mon.thread.join(10)
        if stuck:
            notes.append(f"{len(stuck)} load threads did not finish")
        for part in (["etcd"], ["pds", str(cluster.KILLED_INSTANCE)]):
            try:
                cluster.ctl("start", *part)
            except Exception as e:  # noqa: BLE001 - report it, keep going
                notes.append(f"could not start {' '.join(part)} again: {e}")
    ev["rejoined"] = mon.back_as_replica(old, ev["primary_kill"]) if old else None
    checks = verify(load, initial, started_at)
    ok = report.write(args, plan, ev, load, mon, checks, notes, load_before, old, marks)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
