"""Watches the cluster during the drill: the leader over time (Patroni
/cluster, every 0.5 s) and replication lag, both as Patroni reports it and
from pg_stat_replication on the primary (every 2 s)."""
import subprocess
import threading
import time

from . import cluster

LAG_SQL = ("SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0),"
           " coalesce(max(extract(epoch FROM replay_lag)), 0) FROM pg_stat_replication")


class Monitor:
    def __init__(self):
        self.stop = threading.Event()
        self.leaders = []  # (t, leader name or None), on each change
        self.changes = []  # (t, member, role, state, timeline), on each change
        self.patroni_lag = (0, None, None)  # the largest lag Patroni reported: bytes, member, t
        self.replay_lag_bytes = 0
        self.replay_lag_seconds = 0.0
        self.polls = {"cluster": 0, "sql": 0}
        self.thread = threading.Thread(target=self.run, daemon=True)

    def last(self, name):
        return next(c[2:] for c in reversed(self.changes) if c[1] == name)

    def back_as_replica(self, name, since):
        """When `name` was first seen running as a replica after `since`."""
        return next((c[0] for c in self.changes if c[0] > since and c[1] == name
                     and c[2] in ("replica", "sync_standby") and c[3] in ("running", "streaming")), None)

    def run(self):
        last_sql = 0.0
        while not self.stop.is_set():
            now = time.monotonic()
            m = cluster.members()
            if m is not None:
                self.polls["cluster"] += 1
                lead = next((x["name"] for x in m if x["role"] == "leader"), None)
                for x in m:
                    now_is = (x["role"], x["state"], x.get("timeline"))
                    if not any(c[1] == x["name"] for c in self.changes) or self.last(x["name"]) != now_is:
                        self.changes.append((now, x["name"], *now_is))
                if not self.leaders or self.leaders[-1][1] != lead:
                    self.leaders.append((now, lead))
                for x in m:
                    if isinstance(x.get("lag"), int) and x["lag"] > self.patroni_lag[0]:
                        self.patroni_lag = (x["lag"], x["name"], now)
            if now - last_sql >= 2:
                last_sql = now
                try:
                    (b, s), = cluster.psql(LAG_SQL, timeout=5)
                    self.replay_lag_bytes = max(self.replay_lag_bytes, int(float(b)))
                    self.replay_lag_seconds = max(self.replay_lag_seconds, float(s))
                    self.polls["sql"] += 1
                except (subprocess.SubprocessError, ValueError):
                    pass
            self.stop.wait(0.5)
