"""The cluster under test: settings, Patroni's REST API, the processes the
drill kills, and deploy/ha/ctl for what it starts again."""
import json
import os
import signal
import subprocess
import time
import urllib.request

ENV = os.environ
HA_DIR = ENV["HA_DIR"]
HERE = ENV["HA_HERE"]
PDS = ENV["PDS"]
NODES = ("node1", "node2", "node3")
INSTANCES = (1, 2)
KILLED_INSTANCE = 2  # the one the drill SIGKILLs


def port(name, offset=0):
    return int(ENV[name]) + offset


PRIMARY_URL = f"postgres://postgres@127.0.0.1:{port('HA_PRIMARY_PORT')}/pds"
SERVICE = ("127.0.0.1", port("HA_HTTP_PORT"))
CHECKER = ("127.0.0.1", port("HA_CHECK_PORT"))


def instance_addr(i):
    return ("127.0.0.1", port("HA_PDS_BASE_PORT", i))


def rest_url(node):
    return f"http://127.0.0.1:{port('HA_REST_BASE_PORT', int(node[-1]))}"


def get_json(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


def members():
    """Patroni's view of the cluster from the first node that answers, or None."""
    for node in NODES:
        try:
            return get_json(rest_url(node) + "/cluster")["members"]
        except (OSError, ValueError, KeyError):
            continue
    return None


def leader():
    return next((m["name"] for m in members() or [] if m["role"] == "leader"), None)


def healthy():
    """A leader, a synchronous standby and a replica, all running on one timeline."""
    m = members() or []
    roles = sorted(x["role"] for x in m if x["state"] in ("running", "streaming"))
    return roles == ["leader", "replica", "sync_standby"] and len({x.get("timeline") for x in m}) == 1


def etcd_healthy():
    try:
        return get_json(f"http://127.0.0.1:{port('HA_ETCD_PORT')}/health", 1).get("health") == "true"
    except (OSError, ValueError):
        return False


def postmaster_pid(node):
    with open(f"{HA_DIR}/{node}/data/postmaster.pid") as f:
        return int(f.readline())


def kill_postmaster(node):
    pid = postmaster_pid(node)
    os.kill(pid, signal.SIGKILL)
    return pid


def kill_instance(i):
    with open(f"{HA_DIR}/run/pds{i}.pid") as f:
        pid = int(f.read())
    os.kill(pid, signal.SIGKILL)
    return pid


def ctl(*args, timeout=360):
    subprocess.run([f"{HERE}/ctl", *args], check=True, timeout=timeout, stdout=subprocess.DEVNULL)


def psql(sql, timeout=15):
    """Rows (tuples of strings) of a query on the primary, through HAProxy."""
    env = dict(ENV, PGCONNECT_TIMEOUT="3")
    out = subprocess.run(["psql", PRIMARY_URL, "-XAtq", "-F", "\t", "-v", "ON_ERROR_STOP=1"], input=sql,
                         capture_output=True, text=True, timeout=timeout, env=env, check=True).stdout
    return [tuple(line.split("\t")) for line in out.splitlines() if line]


def pds(*args):
    env = dict(ENV, DEV_KEYS_DIR=f"{HA_DIR}/dev-keys", DATABASE_URL=PRIMARY_URL)
    return subprocess.run([PDS, *args], capture_output=True, text=True, timeout=60, env=env,
                          check=True).stdout


def wait(pred, seconds, what):
    """Seconds until pred() holds; TimeoutError after `seconds`."""
    start = time.monotonic()
    while not pred():
        if time.monotonic() - start > seconds:
            raise TimeoutError(f"{what}: not within {seconds} s")
        time.sleep(0.25)
    return time.monotonic() - start
