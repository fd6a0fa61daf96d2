"""The drill's figures and targets: printed, and written as markdown to
bench/results/<date>-ha-drill[-short].md."""
import collections
import datetime
import glob
import os
import re
import subprocess

from . import cluster

READS = ("retrieve", "search")


def gap(times, start, end):
    """Longest stretch in [start, end] without one of `times`, counted from
    start; and the wait for the first."""
    inside = sorted(t for t in times if start < t <= end)
    if not inside:
        return end - start, None
    edges = [start, *inside]
    return max(b - a for a, b in zip(edges, edges[1:])), inside[0] - start


def mark_logs():
    return {p: os.path.getsize(p) for p in glob.glob(f"{cluster.HA_DIR}/log/pds*.log")}


def scan_logs(marks):
    """5xx answers the instances logged since `marks`, and their WARN/ERROR lines."""
    statuses, lines = collections.Counter(), []
    for path in sorted(glob.glob(f"{cluster.HA_DIR}/log/pds*.log")):
        with open(path, errors="replace") as f:
            f.seek(marks.get(path, 0))
            for line in f:
                m = re.search(r"status=(5\d\d)", line)
                if m:
                    statuses[(os.path.basename(path), m.group(1))] += 1
                if " ERROR " in line or " WARN " in line:
                    lines.append(f"{os.path.basename(path)}: {line.strip()[:400]}")
    return statuses, lines


def since(ev, t):
    return f"+{t - ev['start']:.1f} s" if t is not None else "never"


def figures(ev, load, mon, checks, notes):
    """(measure, value, target, met) rows."""
    ok = [r for r in load.records if r[0] == "haproxy"]
    reads = [r for r in ok if r[1] in READS]
    read_ok = [r[3] for r in reads if r[4] == 200]
    writes = [a[6] for a in load.acks if a[0] == "haproxy"]
    pk, ik, es, ee, end = ev["primary_kill"], ev.get("instance_kill"), ev.get("etcd_stop"), ev.get("etcd_start"), ev["stop"]
    rows = []
    w_gap, _ = gap(writes, pk, ik or end)
    r_gap, _ = gap(read_ok, pk, ik or end)
    rows.append(("seconds without a successful write after the primary kill", f"{w_gap:.2f}", "<= 15", w_gap <= 15))
    rows.append(("seconds without a successful read after the primary kill", f"{r_gap:.2f}", "", None))
    new_leader = next((t for t, name in mon.leaders if t > pk and name), None)
    rows.append(("new leader seen in Patroni after the kill (s)", f"{new_leader - pk:.2f}" if new_leader else "never", "", None))
    if ik:
        w2, _ = gap(writes, ik, es or end)
        r2, _ = gap(read_ok, ik, es or end)
        rows.append(("seconds without a successful write after the instance kill", f"{w2:.2f}", "", None))
        rows.append(("seconds without a successful read after the instance kill", f"{r2:.2f}", "", None))
    for i in cluster.INSTANCES:
        probe = [a[6] for a in load.acks if a[0] == f"pds{i}"]
        _, first = gap(probe, pk, ik or end)
        rows.append((f"pds{i}: first write it answered after the primary kill (s)",
                     f"{first:.2f}" if first is not None else "none", "answers, no restart", first is not None))
    if ev.get("instance_restart"):
        killed = f"pds{cluster.KILLED_INSTANCE}"
        probe = [a[6] for a in load.acks if a[0] == killed]
        _, first = gap(probe, ev["instance_restart"], end)
        rows.append((f"killed {killed}: first write after its restart (s)",
                     f"{first:.2f}" if first is not None else "none", "answers", first is not None))
    bare = sum(1 for r in load.records if r[4] == 503 and not r[5])
    n503 = sum(1 for r in load.records if r[4] == 503)
    rows.append(("503 answers without Retry-After (whole drill)", f"{bare} of {n503}", "0", bare == 0))
    n500 = sum(1 for r in load.records if r[4] == 500)
    rows.append(("500 answers (whole drill)", str(n500), "0", n500 == 0))
    other = sum(1 for r in load.records if isinstance(r[4], int) and r[4] > 500 and r[4] != 503)
    rows.append(("other 5xx answers (HAProxy's 502/504, whole drill)", str(other), "", None))
    rate = 100.0 * len(read_ok) / max(1, len(reads))
    rows.append(("reads succeeded, whole drill", f"{rate:.2f}% of {len(reads)}", ">= 99%", rate >= 99))
    if es and ee:
        window = [r for r in ok if es <= r[2] <= ee]
        bad_w = [r for r in window if r[1] == "patch" and not (r[4] == 200 or (r[4] == 503 and r[5]))]
        bad_r = [r for r in window if r[1] in READS and r[4] != 200]
        w_ok = sum(1 for r in window if r[1] == "patch" and r[4] == 200)
        rows.append(("etcd away: PATCHes answered 200 / other than 200 or 503+Retry-After",
                     f"{w_ok} / {len(bad_w)}", "- / 0", not bad_w))
        rows.append(("etcd away: failed reads", f"{len(bad_r)} of {sum(1 for r in window if r[1] in READS)}", "0",
                     not bad_r))
        hangs = sum(1 for r in window if r[4] == "timeout")
        rows.append(("etcd away: requests that hung (no answer in 10 s)", str(hangs), "0", hangs == 0))
    rej = ev.get("rejoined")
    rows.append(("killed node back as a replica after (s)", f"{rej - pk:.1f}" if rej else "never", "rejoins", rej is not None))
    rows.append(("acknowledged PATCHes", str(checks["acked"]), "", None))
    rows.append(("acknowledged PATCHes missing after recovery", str(len(checks["lost"])), "0", not checks["lost"]))
    rows.append(("acknowledged request ids without their kept answer", str(len(checks["key_mismatch"])), "0",
                 not checks["key_mismatch"]))
    rows.append(("retried PATCHes (logical, more than one attempt)", str(checks["retried"]), "", None))
    rows.append(("PATCHes the service answered as a replay of a kept answer (audit update-replay)",
                 str(checks["replays"]), "", None))
    wrong = [r for r in load.resends if r[3] != r[2]]
    rows.append(("acknowledged PATCHes sent again (same X-Request-ID, >= 1 s later) / answered otherwise than"
                 " with the acknowledged version", f"{len(load.resends)} / {len(wrong)}", "- / 0", not wrong))
    if ev.get("primary_kill"):
        acked_at = {a[1]: a[6] for a in load.acks}
        across = [r for r in load.resends if acked_at[r[1]] < ev["primary_kill"] < r[4]]
        rows.append(("... of them acknowledged before the primary kill and sent again after it", str(len(across)), "", None))
    stale = "; ".join(f"{v} {n}: read v{r} after v{a} was acknowledged, at {since(ev, t)}"
                      for v, n, r, a, t in load.stale[:3])
    rows.append(("reads older than the reader's own acknowledged PATCH (read-your-writes)",
                 f"{len(load.stale)}" + (f" ({stale})" if stale else ""), "0", not load.stale))
    rows.append(("retried PATCHes applied twice", str(len(checks["retried_twice"])), "0", not checks["retried_twice"]))
    rows.append(("PATCH values found in two versions (any)", str(len(checks["twice"])), "0", not checks["twice"]))
    rows.append(("versions made that no request id accounts for", str(checks["unexplained_versions"]), "0",
                 checks["unexplained_versions"] == 0))
    rows.append(("PATCHes never acknowledged (gave up after 30 s or refused)", str(len(load.unacked)), "", None))
    lag, member, at = mon.patroni_lag
    rows.append(("largest replica lag, Patroni /cluster (bytes)",
                 f"{lag}" + (f" ({member}, at {since(ev, at)})" if member else ""), "", None))
    rows.append(("largest replay lag, pg_stat_replication (bytes / s)",
                 f"{mon.replay_lag_bytes} / {mon.replay_lag_seconds:.3f}", "", None))
    rows.append(("drill phases that timed out", str(len(notes)), "0", not notes))
    return rows


def statuses(load):
    c = collections.Counter((r[0], r[1], str(r[4])) for r in load.records)
    return sorted(c.items())


def write(args, plan, ev, load, mon, checks, notes, load_before, old, marks):
    rows = figures(ev, load, mon, checks, notes)
    logged, log_lines = scan_logs(marks)
    ok = all(r[3] is not False for r in rows)
    timeline = [("load started", ev["start"]), (f"primary ({old}) postmaster killed", ev.get("primary_kill")),
                *((f"leader now {n}", t) for t, n in mon.leaders if t > ev["start"]),
                (f"pds{cluster.KILLED_INSTANCE} killed", ev.get("instance_kill")),
                (f"pds{cluster.KILLED_INSTANCE} restarted", ev.get("instance_restart")),
                (f"{old} back as a replica", ev.get("rejoined")), ("etcd stopped", ev.get("etcd_stop")),
                ("etcd started", ev.get("etcd_start")), ("cluster healthy", ev.get("healthy")),
                ("load stopped", ev["stop"])]
    timeline = sorted(((t, what) for what, t in timeline if t is not None))
    config = cluster.get_json(cluster.rest_url("node1") + "/config")
    commit = subprocess.run(["git", "-C", cluster.ENV["REPO"], "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    md = [f"# HA failover drill{' (short)' if args.short else ''}, {datetime.date.today()}", "",
          f"Command: `{args.command}` (commit {commit}; service binary `{cluster.PDS}`). Result: **{'all targets met' if ok else 'TARGETS MISSED'}**.", "",
          f"Machine: {os.cpu_count()} cores, load average {load_before[0]:.2f} / {load_before[1]:.2f} "
          f"/ {load_before[2]:.2f} (1/5/15 min) at the start, {os.getloadavg()[0]:.2f} at the end.", "",
          "| measure | value | target | met |", "|---|---|---|---|"]
    md += [f"| {m} | {v} | {t} | {'' if o is None else ('yes' if o else '**no**')} |" for m, v, t, o in rows]
    md += ["", "## Timeline", ""] + [f"- {since(ev, t)}: {what}" for t, what in timeline]
    md += ["", "## Requests by status", "",
           "`haproxy`: the load through HAProxy's service port; `pdsN`: the probe sent to that instance directly.", "",
           "| via | kind | status | count |", "|---|---|---|---|"]
    md += [f"| {via} | {kind} | {st} | {n} |" for (via, kind, st), n in statuses(load)]
    md += ["", "## Settings", "",
           f"- Patroni (dynamic configuration, from /config): `{config}`",
           "- " + ", ".join(f"{k}={cluster.ENV[k]}" for k in sorted(cluster.ENV) if k.startswith("HA_") and k != "HA_HERE"),
           f"- load: {plan}; 3 retrieve threads, 1 search thread, 3 read-then-PATCH threads (6 patients each)"
           ", one read-then-PATCH probe per instance (every 0.25 s); PATCH retried with the same X-Request-ID"
           " every 0.25 s on 502/503/504 or a failed connection, for up to 30 s",
           "", "## Service logs during the drill", ""]
    md += [f"- {f}: {n} answers with status {s}" for (f, s), n in sorted(logged.items())] or ["- no 5xx answers logged"]
    md += [f"- WARN/ERROR lines: {len(log_lines)}"] + [f"  - `{line}`" for line in log_lines[:12]]
    if notes:
        md += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    text = "\n".join(md) + "\n"
    name = "-".join(x for x in ("ha-drill", "short" if args.short else "", args.label) if x)
    path = f"{cluster.ENV['REPO']}/bench/results/{datetime.date.today()}-{name}.md"
    with open(path, "w") as f:
        f.write(text)
    print(text)
    print(f"wrote {path}")
    return ok
