"""Route churn against netinv: the churner's own record decides whether each run's table is true.

Usage: churn_check.py NETINV NS CHURN RATE RUNS DIR FAMILY BASE

Starts tests/tools/churn in namespace NS (RATE changes a second among PREFIXES host routes), runs
`netinv --dry-run --only routes` RUNS times there, stops the churner and replays its log: a run's
table is true when its churned routes are exactly what existed after some change k of the log whose
time overlaps the run, and its BASE untouched routes are all there. Prints one JSON line: runs,
consistent (not marked inconsistent), torn (marked consistent but true at no instant), flagged
(marked inconsistent), reconciled (brought up to date from notifications), changes made, the rate
achieved, and the worst run's attempts.
"""
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time

PREFIXES = 1000
MARGIN = 0.002  # s: a change is applied a moment before its acknowledgement is read


def churn_index(dest, family):
    if "/" not in dest:  # "default"
        return None
    net = ipaddress.ip_network(dest, strict=False)
    if family == 4:
        if net.prefixlen != 32 or not dest.startswith("10.200."):
            return None
        b = net.network_address.packed
        return b[2] * 256 + b[3]
    if net.prefixlen != 128 or not net.subnet_of(ipaddress.ip_network("2001:db8:200::/112")):
        return None
    b = net.network_address.packed
    return b[14] * 256 + b[15]


def main():
    netinv, ns, churn, rate, runs, work, family, base = sys.argv[1:9]
    rate, runs, family, base = float(rate), int(runs), int(family), int(base)
    log = os.path.join(work, f"churn-{family}-{int(rate)}.log")
    ch = subprocess.Popen(["ip", "netns", "exec", ns, churn, log, str(rate), "600", str(PREFIXES)] +
                          (["6"] if family == 6 else []))
    results = []
    try:
        time.sleep(0.5)
        if ch.poll() is not None:
            raise SystemExit(f"churner exited {ch.returncode}")
        for run in range(runs):
            out = os.path.join(work, "r.json")
            t_a = time.monotonic()
            r = subprocess.run(["ip", "netns", "exec", ns, netinv, "--dry-run", "--compact", "--only", "routes",
                                "--state-dir", os.path.join(work, "none"), "-o", out],
                               capture_output=True, text=True)
            t_b = time.monotonic()
            if r.returncode != 0:
                raise SystemExit(f"run {run}: netinv exited {r.returncode}: {r.stderr.strip()}")
            rep = json.load(open(out))
            st = rep["metadata"]["stats"]["tables"]["routes"]
            fam = [x for x in rep["routes"] if (":" in x["destination"]) == (family == 6)]
            seen, untouched, dups = set(), 0, 0
            for x in fam:
                i = churn_index(x["destination"], family)
                if i is None:
                    untouched += x.get("gateway") == ("10.0.0.2" if family == 4 else "fe80::2")
                elif i in seen:
                    dups += 1
                else:
                    seen.add(i)
            results.append(dict(t_a=t_a, t_b=t_b, seen=seen, untouched=untouched, dups=dups,
                                inconsistent=st["inconsistent"], attempts=st["attempts"],
                                notifications=st.get("notifications", 0)))
    finally:
        ch.send_signal(signal.SIGTERM)
        ch.wait(timeout=30)
    if ch.returncode != 0:
        raise SystemExit(f"churner exited {ch.returncode}")
    lines = open(log).read().split("\n")
    start = float(lines[0].split()[1])
    ops = [(int(a), float(b)) for a, b in (ln.split() for ln in lines[1:] if ln)]
    times = [start] + [t for _, t in ops] + [float("inf")]
    summary = dict(runs=runs, consistent=0, torn=0, flagged=0, flagged_true=0, reconciled=0, untrue_base=0,
                   changes=len(ops), rate=len(ops) / max(ops[-1][1] - start, 1e-9) if ops else 0,
                   max_attempts=0, duplicates=0)
    for res in results:
        # replay: mismatch = |state xor seen|; state k holds from change k to change k + 1
        state = bytearray(PREFIXES)
        mismatch = len(res["seen"])
        true_at = False
        for k in range(len(ops) + 1):
            if k:
                i = ops[k - 1][0]
                state[i] ^= 1
                mismatch += -1 if (bool(state[i]) == (i in res["seen"])) else 1
            if times[k] - MARGIN > res["t_b"]:
                break
            if times[k + 1] >= res["t_a"] and mismatch == 0:
                true_at = True
                break
        true_at = true_at and res["untouched"] == base and not res["dups"]
        summary["max_attempts"] = max(summary["max_attempts"], res["attempts"])
        summary["duplicates"] += res["dups"]
        summary["reconciled"] += res["notifications"] > 0
        if res["inconsistent"]:
            summary["flagged"] += 1
            summary["flagged_true"] += true_at
        else:
            summary["consistent"] += 1
            summary["torn"] += not true_at
            summary["untrue_base"] += res["untouched"] != base
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
