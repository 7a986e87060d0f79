#!/usr/bin/env python3
"""The server's inventory converges to the host whatever happens to a check-in: a property test of
netinv against the loopback test server, in a network namespace of its own.

Each step makes a random change to the namespace (routes, addresses, neighbours, sockets: added,
deleted or changed; now and then 150 routes at once, so reports go in parts), then runs one
check-in under a random fault: accepted; reply lost after the server stored the report; a 5xx; a
timeout (the server stores the report after netinv gave up); the connection refused; the server
closing the connection unread; netinv killed with SIGKILL at a random moment. After every accepted
check-in the server's inventory (upserts and `removed` applied) must equal a full snapshot of the
namespace taken then, record for record; at the end no sequence number may have carried two
different bodies.

Usage: converge.py --netinv PATH [--steps N] [--seed S]. Root. Seeded and reproducible (the same
seed gives the same changes and faults; the kill moments depend on timing). Prints TAP-like lines.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from server import ident, LISTS  # noqa: E402

FAULTS = ("accepted", "lost-reply", "5xx", "timeout", "conn-refused", "closed-unread", "kill")
WEIGHTS = (30, 14, 10, 10, 10, 8, 18)

# Runs in the namespace: holds the test's sockets and talks to the server's admin side, one JSON
# command per line on stdin, one JSON answer per line on stdout.
HELPER = r'''
import json, socket, subprocess, sys, urllib.request
socks, kids = {}, {}
for line in sys.stdin:
    c = json.loads(line)
    op, out = c["op"], {"ok": True}
    try:
        if op == "listen":
            kind = socket.SOCK_STREAM if c["proto"] == "tcp" else socket.SOCK_DGRAM
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.1", c["port"]))
            if kind == socket.SOCK_STREAM:
                s.listen()
            socks[c["port"]] = s
        elif op == "close":
            if c["port"] in socks:
                socks.pop(c["port"]).close()
            if c["port"] in kids:
                k = kids.pop(c["port"]); k.kill(); k.wait()
        elif op == "handoff":  # another process owns the socket now: its pid and name change
            s = socks.pop(c["port"])
            kids[c["port"]] = subprocess.Popen(["sleep", "100000"], pass_fds=(s.fileno(),))
            s.close()
        elif op == "http":
            req = urllib.request.Request("http://127.0.0.1:%d%s" % (c["port"], c["path"]),
                                         data=c.get("body", "").encode() if c.get("post") else None)
            with urllib.request.urlopen(req, timeout=30) as r:
                out["body"] = json.loads(r.read() or b"null")
    except Exception as e:  # noqa: BLE001 - reported to the driver
        out = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(out), flush=True)
for k in kids.values():
    k.kill()
'''


class Test:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.ns = "netinv-cv-%d" % os.getpid()
        self.tmp = tempfile.mkdtemp(prefix="netinv-converge.")
        self.state = os.path.join(self.tmp, "state")
        self.procs = []
        self.fails = 0
        self.routes, self.addrs, self.neigh, self.socks = {}, {}, {}, {}
        self.counts = {f: 0 for f in FAULTS}
        self.free_port = None

    # -- plumbing --------------------------------------------------------------------------------
    def sh(self, *cmd, check=True, **kw):
        r = subprocess.run(cmd, capture_output=True, text=True, **kw)
        if check and r.returncode != 0:
            raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
        return r

    def nsx(self, *cmd):
        return ["ip", "netns", "exec", self.ns] + list(cmd)

    def ip(self, *args):
        return self.sh("ip", "-n", self.ns, *args)

    def helper(self, **c):
        self.hp.stdin.write(json.dumps(c) + "\n")
        self.hp.stdin.flush()
        r = json.loads(self.hp.stdout.readline())
        if not r["ok"]:
            raise RuntimeError("helper %s: %s" % (c, r["error"]))
        return r.get("body")

    def admin(self, what, body=None):
        if body is None:
            return self.helper(op="http", port=self.port, path="/admin/" + what)
        return self.helper(op="http", port=self.port, path="/admin/" + what, post=True,
                           body=json.dumps(body))

    def wait_idle(self):
        for _ in range(600):
            if self.admin("state")["stats"]["inflight"] == 0:
                return
            time.sleep(0.02)
        raise RuntimeError("the server is still handling a request after 12 s")

    def env(self, **extra):
        e = dict(os.environ, NETINV_CONFIG=os.path.join(self.tmp, "netinv.conf"), NETINV_NAMESPACES="host",
                 NETINV_STATE_DIR=self.state, NETINV_IMPORT_FROM=os.path.join(self.tmp, "none"),
                 NETINV_SERVER_URL="http://127.0.0.1:%d" % self.port,
                 NETINV_ENROLLMENT_KEY_FILE=os.path.join(self.tmp, "ek"), NETINV_TIMEOUT="5")
        e.update(extra)
        return e

    def netinv(self, *args, env=None):
        return subprocess.run(self.nsx(self.a.netinv, "--no-jitter", *args), env=env or self.env(),
                              capture_output=True, text=True)

    # -- set-up and tear-down --------------------------------------------------------------------
    def setup(self):
        self.sh("ip", "netns", "add", self.ns)
        # Nothing changes in the namespace but what the test changes: no IPv6 on the veth pair
        # (link-local addresses, DAD, router solicitations would come and go between a check-in
        # and the comparison), and a deleted primary address promotes a secondary instead of
        # taking every secondary with it.
        self.sh(*self.nsx("sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1",
                          "net.ipv4.conf.default.promote_secondaries=1"))
        self.ip("link", "set", "lo", "up")
        self.ip("link", "add", "cv0", "type", "veth", "peer", "name", "cv1")
        self.ip("link", "set", "cv0", "up")
        self.ip("link", "set", "cv1", "up")
        self.ip("addr", "add", "192.0.2.10/24", "dev", "cv0")
        with open(os.path.join(self.tmp, "netinv.conf"), "w"):
            pass
        with open(os.path.join(self.tmp, "ek"), "w") as f:
            f.write("gaek_" + "A" * 43 + "\n")
        os.chmod(os.path.join(self.tmp, "ek"), 0o600)
        portfile = os.path.join(self.tmp, "port")
        self.srv = subprocess.Popen(self.nsx(sys.executable, os.path.join(HERE, "server.py"), portfile),
                                    stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.tmp, "server.log"), "w"))
        self.procs.append(self.srv)
        for _ in range(100):
            if os.path.exists(portfile) and os.path.getsize(portfile):
                break
            time.sleep(0.05)
        self.port = int(open(portfile).read())
        self.hp = subprocess.Popen(self.nsx(sys.executable, "-c", HELPER), stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
        self.procs.append(self.hp)
        # a port nothing listens on: "connection refused"
        self.free_port = 9 if self.port != 9 else 10

    def cleanup(self):
        for p in self.procs:
            try:
                if p is getattr(self, "hp", None):
                    p.stdin.close()
                    p.wait(timeout=5)
                else:
                    p.terminate()
                    p.wait(timeout=5)
            except Exception:  # noqa: BLE001 - cleanup must go on
                p.kill()
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- changes ---------------------------------------------------------------------------------
    def change(self):
        what = self.rng.choice(("route", "route", "addr", "neigh", "sock", "sock")
                               + (("bulk",) if self.rng.random() < 0.15 else ()))
        op = self.rng.choice(("add", "del", "mod"))
        if what == "route":
            live = sorted(self.routes)
            if op == "add" or not live:
                d = "10.%d.%d.0/24" % (self.rng.randrange(1, 200), self.rng.randrange(256))
                if d not in self.routes:
                    self.ip("route", "add", d, "via", "192.0.2.1")
                    self.routes[d] = "boot"
            elif op == "del":
                d = self.rng.choice(live)
                self.ip("route", "del", d)
                del self.routes[d]
            else:
                d = self.rng.choice(live)
                proto = self.rng.choice([p for p in ("boot", "static", "bird", "zebra") if p != self.routes[d]])
                self.ip("route", "replace", d, "via", "192.0.2.1", "proto", proto)
                self.routes[d] = proto
        elif what == "bulk":
            live = sorted(d for d in self.routes if d.startswith("10.2"))
            lines = []
            if live and self.rng.random() < 0.5:
                for d in live[:150]:
                    lines.append("route del %s" % d)
                    del self.routes[d]
            else:
                for _ in range(150):
                    d = "10.%d.%d.0/24" % (self.rng.randrange(200, 250), self.rng.randrange(256))
                    if d not in self.routes:
                        lines.append("route add %s via 192.0.2.1" % d)
                        self.routes[d] = "boot"
            batch = os.path.join(self.tmp, "batch")
            with open(batch, "w") as f:
                f.write("\n".join(lines) + "\n")
            self.ip("-batch", batch)
        elif what == "addr":
            live = sorted(self.addrs)
            if op == "add" or not live:
                a = "10.250.%d.%d/24" % (self.rng.randrange(8), self.rng.randrange(1, 255))
                if a not in self.addrs:
                    self.ip("addr", "add", a, "dev", "cv0")
                    self.addrs[a] = False
            elif op == "del":
                a = self.rng.choice(live)
                self.ip("addr", "del", a, "dev", "cv0")
                del self.addrs[a]
            else:  # its flags change
                a = self.rng.choice(live)
                self.addrs[a] = not self.addrs[a]
                self.ip("addr", "replace", a, "dev", "cv0", *(("noprefixroute",) if self.addrs[a] else ()))
        elif what == "neigh":
            live = sorted(self.neigh)
            mac = "02:00:00:%02x:%02x:%02x" % tuple(self.rng.randrange(256) for _ in range(3))
            if op == "del" and live:
                n = self.rng.choice(live)
                self.ip("neigh", "del", n, "dev", "cv0")
                del self.neigh[n]
            else:  # add, or a new link-layer address
                n = self.rng.choice(live) if op == "mod" and live else "192.0.2.%d" % self.rng.randrange(20, 250)
                self.ip("neigh", "replace", n, "lladdr", mac, "dev", "cv0", "nud", "permanent")
                self.neigh[n] = mac
        else:
            live = sorted(self.socks)
            if op == "add" or not live:
                port = self.rng.randrange(20000, 21000)
                if port not in self.socks:
                    proto = self.rng.choice(("tcp", "udp"))
                    self.helper(op="listen", proto=proto, port=port)
                    self.socks[port] = "mine"
            elif op == "del":
                port = self.rng.choice(live)
                self.helper(op="close", port=port)
                del self.socks[port]
            else:
                cand = [p for p in live if self.socks[p] == "mine"]
                if cand:
                    port = self.rng.choice(cand)
                    self.helper(op="handoff", port=port)
                    self.socks[port] = "kid"

    # -- the check-in under a fault --------------------------------------------------------------
    def checkin(self, fault):
        self.admin("fault", {"mode": ""})
        env = self.env()
        if fault == "lost-reply":
            self.admin("fault", {"mode": "drop-after-accept", "count": 1})
        elif fault == "5xx":
            self.admin("fault", {"mode": "5xx", "count": 1, "status": self.rng.choice((500, 502, 503))})
        elif fault == "timeout":
            self.admin("fault", {"mode": "slow", "count": 1, "seconds": 1.6})
            env = self.env(NETINV_TIMEOUT="1")
        elif fault == "conn-refused":
            env = self.env(NETINV_SERVER_URL="http://127.0.0.1:%d" % self.free_port)
        elif fault == "closed-unread":
            self.admin("fault", {"mode": "refuse", "count": 1})
        if fault != "kill":
            r = self.netinv("--check-in-only", "--force", env=env)
            self.wait_idle()
            return r.returncode, r.stderr
        if self.rng.random() < 0.6:  # the kill may land while the server holds the request
            self.admin("fault", {"mode": "slow", "count": 1, "seconds": self.rng.uniform(0.05, 0.3)})
        p = subprocess.Popen(self.nsx(self.a.netinv, "--no-jitter", "--check-in-only", "--force"),
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(self.rng.uniform(0, 0.4))
        p.send_signal(signal.SIGKILL)
        _, err = p.communicate()
        self.wait_idle()
        return p.returncode, err

    # -- the property ----------------------------------------------------------------------------
    def mismatches(self):
        full = json.loads(self.netinv("--dry-run", "--full", "--compact").stdout)
        inv = self.helper(op="http", port=self.port, path="/admin/inventory?agent_uuid=" + self.uuid)
        # the server shares the namespace: connections to and from its port come and go
        ours = lambda l, r: l in ("connections", "listeners") and r.get("state") != "listen" and \
            self.port in (r.get("local_port"), r.get("remote_port"))
        out = []
        for l in LISTS:
            a = {json.dumps(ident(l, r), default=str): r for r in full.get(l) or [] if not ours(l, r)}
            b = {json.dumps(ident(l, r), default=str): r for r in inv.get(l) or [] if not ours(l, r)}
            for k in sorted(set(a) - set(b))[:3]:
                out.append("%s missing on the server: %s" % (l, k))
            for k in sorted(set(b) - set(a))[:3]:
                out.append("%s on the server, gone from the host: %s" % (l, k))
            for k in sorted(set(a) & set(b)):
                if a[k] != b[k]:
                    out.append("%s stale on the server: %s has %s, host %s" % (l, k, b[k], a[k]))
                    break
        return out

    def run(self):
        self.setup()
        r = self.netinv("--register-only")
        self.uuid = open(os.path.join(self.state, "agent_uuid")).read().strip()
        self.admin("approve", {"agent_uuid": self.uuid})
        self.admin("policy", {"max_report_bytes": 16384})
        r = self.netinv()  # receives the agent key, then the first (full) check-in
        if r.returncode != 0:
            raise RuntimeError("the first check-in failed: %s" % r.stderr.strip())
        r = self.netinv("--check-in-only", "--force")  # learns the 16 KiB parts from the reply
        # every fault kind early, then at random
        order = list(FAULTS)
        self.rng.shuffle(order)
        checked = 0
        for step in range(self.a.steps):
            for _ in range(self.rng.randrange(1, 4)):
                self.change()
            fault = order[step] if step < len(order) else self.rng.choices(FAULTS, WEIGHTS)[0]
            self.counts[fault] += 1
            rc, err = self.checkin(fault)
            want = 0 if fault == "accepted" else 75
            if fault != "kill" and rc != want:
                self.fails += 1
                print("not ok - step %d (%s): exit %d, want %d: %s" % (step, fault, rc, want, err.strip()[-300:]))
                continue
            if rc != 0:
                continue
            checked += 1
            bad = self.mismatches()
            if bad:
                self.fails += 1
                print("not ok - step %d (%s, seed %d): the server's inventory differs from the host: %s"
                      % (step, fault, self.a.seed, "; ".join(bad)))
                if self.fails > 5:
                    break
        st = self.admin("state")
        conflicts = st["stats"]["seq_conflicts"]
        agent = next(iter(st["agents"].values()))
        print("# %d steps, seed %d: %s; %d accepted check-ins compared; %d check-ins stored"
              % (self.a.steps, self.a.seed, ", ".join("%s %d" % kv for kv in self.counts.items()),
                 checked, agent["checkins"]))
        if self.fails == 0:
            print("ok - %d steps under every fault (%s): after each of %d accepted check-ins the "
                  "server's inventory equals the host's snapshot" % (self.a.steps, " ".join(FAULTS), checked))
        if conflicts:
            self.fails += 1
            print("not ok - sequence numbers that carried two different bodies: %s" % conflicts[:10])
        else:
            print("ok - no sequence number carried two different bodies (%d numbers sent)"
                  % len(set(agent["seqs"])))
        return self.fails


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--netinv", required=True)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(1))
    t = Test(a)
    try:
        fails = t.run()
    except Exception as e:  # noqa: BLE001 - one line, then the cleanup
        print("not ok - converge: %s" % e)
        fails = 1
    finally:
        t.cleanup()
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
