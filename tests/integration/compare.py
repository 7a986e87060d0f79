"""Compare a netinv report with what iproute2 says about the same network namespace.

Usage: compare.py REPORT.json IPDIR
IPDIR holds link.json addr.json neigh.json proxy.json route4.json route6.json (ip -json) and
ss.txt (ss -tunaH) and ssp.txt (ss -tunapH), all taken in the same namespace around the report.
Prints one line per mismatch and exits 1 if there is any; record for record, both directions.
"""
import ipaddress
import json
import os
import re
import sys


def load(d, name):
    with open(os.path.join(d, name)) as f:
        return json.load(f)


def norm_flag(f):
    return f.lower().replace("_", "").replace("-", "")


def full_prefix(dst, family):
    if dst == "default":
        return "default"
    if "/" not in dst:
        dst += "/32" if family == "inet" else "/128"
    return str(ipaddress.ip_network(dst, strict=False))


def compare_sets(what, mine, theirs, problems):
    for k in sorted(set(mine) - set(theirs), key=str):
        problems.append(f"{what}: only in netinv: {k}")
    for k in sorted(set(theirs) - set(mine), key=str):
        problems.append(f"{what}: only in iproute2: {k}")


def links(rep, d, problems):
    mine = {}
    for l in rep["links"]:
        flags = {norm_flag(f) for f in l["flags"]}
        # iproute2 shows the kernel flags minus RUNNING, plus NO-CARRIER when up but not running
        if "up" in flags and "running" not in flags:
            flags.add("nocarrier")
        flags.discard("running")
        mine[l["ifindex"]] = (l["name"], l["mtu"], l["mac_address"], l["master"], l["operstate"].upper(),
                              frozenset(flags), l["kind"])
    theirs = {}
    kinds = {l["ifindex"]: (l.get("linkinfo") or {}).get("info_kind") for l in load(d, "linkd.json")}
    for l in load(d, "link.json"):
        mac = l.get("address")
        if l.get("link_type") == "none":
            mac = None
        theirs[l["ifindex"]] = (l["ifname"], l["mtu"], mac, l.get("master"), l["operstate"],
                                frozenset(norm_flag(f) for f in l["flags"]), kinds.get(l["ifindex"]))
    compare_sets("links", mine.items(), theirs.items(), problems)


def link_details(rep, d, problems):
    """What each link is, against ip -d -json link show: the link's own details and, for the kinds
    this kernel can create, linkinfo (ip's names; a key ip leaves out is not compared)."""
    theirs = {l["ifindex"]: l for l in load(d, "linkd.json")}
    for l in rep["links"]:
        t = theirs.get(l["ifindex"])
        if t is None:
            continue  # links() reports the difference
        for k in ("permaddr", "min_mtu", "max_mtu", "txqlen", "qdisc", "parentbus", "parentdev",
                  "link_netnsid", "altnames"):
            if k in t and t.get(k) != l.get(k):
                problems.append(f"links: {l['name']} {k}: netinv {l.get(k)!r}, ip {t.get(k)!r}")
        if "link_index" in t and t["link_index"] != l.get("link_index"):
            problems.append(f"links: {l['name']} link_index: netinv {l.get('link_index')}, ip {t['link_index']}")
        mine, their = l.get("linkinfo") or {}, t.get("linkinfo") or {}
        for k in ("info_kind", "info_slave_kind"):
            if mine.get(k) != their.get(k):
                problems.append(f"links: {l['name']} {k}: netinv {mine.get(k)!r}, ip {their.get(k)!r}")
        for part in ("info_data", "info_slave_data"):
            for k, v in (mine.get(part) or {}).items():
                tv = (their.get(part) or {}).get(k)
                if tv is not None and tv != v:
                    problems.append(f"links: {l['name']} {part}.{k}: netinv {v!r}, ip {tv!r}")


def bridge_ports(rep, d, problems):
    """Bridge ports against `bridge -json link show` (state, priority, cost) and their VLANs
    against `bridge -json vlan show` (empty where no bridge filters by VLAN)."""
    mine = {}
    vl = {}
    for l in rep["links"]:
        sd = (l.get("linkinfo") or {}).get("info_slave_data")
        if (l.get("linkinfo") or {}).get("info_slave_kind") == "bridge":
            mine[l["name"]] = (sd["state"], sd["priority"], sd["cost"], l["master"])
        if "vlans" in l:
            vl[l["name"]] = [(v["vlan"], v.get("vlanEnd"), tuple(v["flags"])) for v in l["vlans"]]
    theirs = {p["ifname"]: (p.get("state"), p.get("priority"), p.get("cost"), p.get("master"))
              for p in load(d, "bridgelink.json")}
    compare_sets("bridge ports", mine.items(), theirs.items(), problems)
    tv = {p["ifname"]: [(v["vlan"], v.get("vlanEnd"), tuple(v.get("flags", []))) for v in p["vlans"]]
          for p in load(d, "bridgevlan.json")}
    if vl != tv:
        problems.append(f"bridge vlans: netinv {vl}, bridge {tv}")


def addresses(rep, d, problems):
    mine = set()
    for a in rep["addresses"]:
        peer = a["peer"].split("/")[0] if a["peer"] else None
        mine.add((a["interface"], a["ip_address"], a["prefix_length"], a["scope"], peer, a["label"]))
    theirs = set()
    for l in load(d, "addr.json"):
        for a in l["addr_info"]:
            peer = a.get("address") if a.get("address") and a.get("address") != a["local"] else None
            label = a.get("label")
            theirs.add((l["ifname"], a["local"], a["prefixlen"], a["scope"], peer, label))
    compare_sets("addresses", mine, theirs, problems)


def neighbours(rep, d, problems):
    mine = set()
    for n in rep["neighbors"]:
        if n["proxy"]:
            mine.add((n["interface"], n["ip_address"], "proxy", None))
        else:
            mine.add((n["interface"], n["ip_address"], n["state"], n["lladdr"]))
    theirs = set()
    unspecified = 0
    for n in load(d, "neigh.json"):
        if n["dst"] in ("0.0.0.0", "::"):
            unspecified += 1  # netinv drops these for the server and counts them
            continue
        theirs.add((n["dev"], n["dst"], ",".join(n["state"]), n.get("lladdr")))
    # a namespace's lists (test_namespaces.sh) come without the report's metadata
    dropped = rep.get("metadata", {}).get("stats", {}).get("compat", {}).get(
        "neighbors_unspecified_dropped", unspecified)
    if dropped != unspecified:
        problems.append(f"neighbours: {unspecified} unspecified entries, netinv counted {dropped}")
    for n in load(d, "proxy.json"):
        theirs.add((n["dev"], n["dst"], "proxy", None))
    compare_sets("neighbours", mine, theirs, problems)


def routes(rep, d, problems):
    mine = set()
    for r in rep["routes"]:
        hops = None
        if "nexthops" in r:
            hops = tuple((h["gateway"], h["interface"], h["weight"]) for h in r["nexthops"])
        gw = r["gateway"] if "nexthops" not in r else None
        dev = r["interface"] if "nexthops" not in r else None
        flow = (r["flow"].get("from"), r["flow"]["to"]) if "flow" in r else None
        mine.add((r["family"], r["table"], full_prefix(r["destination"], r["family"]), r["metric"],
                  r["type"], r["protocol"], r["scope"], gw, dev, r["source_ip"], hops, flow))
    theirs = set()
    for fam, name in (("inet", "route4.json"), ("inet6", "route6.json")):
        for r in load(d, name):
            hops = None
            if "nexthops" in r:
                hops = tuple((h.get("gateway"), h.get("dev"), h.get("weight", 1)) for h in r["nexthops"])
            gw = r.get("gateway")
            if "via" in r:
                gw = r["via"]["host"]
            theirs.add((fam, r.get("table", "main"), full_prefix(r["dst"], fam), r.get("metric", 0),
                        r.get("type", "unicast"), r.get("protocol", "boot"), r.get("scope", "global"),
                        gw, r.get("dev"), r.get("prefsrc"), hops,
                        (r["flow"].get("from"), r["flow"]["to"]) if "flow" in r else None))
    compare_sets("routes", mine, theirs, problems)


SS_LINE = re.compile(r"^(\S+)\s+(\S+)\s+\d+\s+\d+\s+(\S+)\s+(\S+)(?:\s+(.*))?$")


def endpoint(s):
    host, port = s.rsplit(":", 1)
    host = host.strip("[]").split("%")[0]
    if host == "*":
        host = "*"
    return host, 0 if port == "*" else int(port)


def sockets(rep, d, problems):
    mine = []
    for s in rep["connections"] + rep["listeners"]:
        mine.append((s["protocol"], s["kernel_state"], s["local_ip"], s["local_port"], s["remote_ip"],
                     s["remote_port"]))
    theirs = []
    for line in open(os.path.join(d, "ss.txt")):
        m = SS_LINE.match(line.strip())
        if not m:
            continue
        proto, state, local, peer = m.group(1), m.group(2), m.group(3), m.group(4)
        lh, lp = endpoint(local)
        ph, pp = endpoint(peer)
        theirs.append((proto, state, lh, lp, ph, pp))
    # ss prints a wildcard as * or [::] or 0.0.0.0 depending on family and version: map netinv's
    # unspecified addresses the same way before comparing
    def wild(t):
        p, st, lh, lp, ph, pp = t
        lh = "*" if lh in ("0.0.0.0", "::", "*") else lh
        ph = "*" if ph in ("0.0.0.0", "::", "*") else ph
        return (p, st, lh, lp, ph, pp)
    mine_n = sorted(map(wild, mine))
    theirs_n = sorted(map(wild, theirs))
    if mine_n != theirs_n:
        for t in sorted(set(mine_n) - set(theirs_n)):
            problems.append(f"sockets: only in netinv: {t}")
        for t in sorted(set(theirs_n) - set(mine_n)):
            problems.append(f"sockets: only in ss: {t}")
        if set(mine_n) == set(theirs_n):
            problems.append("sockets: same set, different multiplicity")
    # process attribution against ss -p
    owners = {}
    for line in open(os.path.join(d, "ssp.txt")):
        m = SS_LINE.match(line.strip())
        if not m or not m.group(5):
            continue
        u = re.search(r'users:\(\("([^"]*)",pid=(\d+)', m.group(5))
        if u:
            lh, lp = endpoint(m.group(3))
            owners[(m.group(1), lp, m.group(2))] = (u.group(1), int(u.group(2)))
    checked = 0
    for s in rep["connections"] + rep["listeners"]:
        key = (s["protocol"], s["local_port"], s["kernel_state"])
        if key in owners and s["pid"] is not None:
            name, pid = owners[key]
            if s["process_name"] != name:
                problems.append(f"sockets: process of {key}: netinv {s['process_name']} ss {name}")
            checked += 1
    # (a namespace without sockets has nothing to attribute)
    if not checked and (rep["connections"] or rep["listeners"]):
        problems.append("sockets: no socket attributed to a process was checked")


def rules(rep, d, problems):
    mine = set()
    for r in rep["rules"]:
        mine.add((r["family"], r["priority"], r.get("src"), r.get("dst"), r.get("iif"), r.get("oif"),
                  r.get("fwmark"), r.get("fwmask"), r["not"], r["action"], r.get("table"),
                  (r["uid_range"]["start"], r["uid_range"]["end"]) if "uid_range" in r else None,
                  r.get("suppress_prefixlen")))
    theirs = set()
    for fam, name in (("inet", "rule4.json"), ("inet6", "rule6.json")):
        for r in load(d, name):
            def pfx(k):
                if r.get(k, "all") == "all":
                    return None
                n = r.get(k + "len", 32 if fam == "inet" else 128)
                return str(ipaddress.ip_network(f"{r[k]}/{n}", strict=False))
            action = r.get("action", "goto" if "goto" in r else "lookup" if "table" in r else "unknown")
            mark = r.get("fwmark")
            mask = r.get("fwmask")
            theirs.add((fam, r["priority"], pfx("src"), pfx("dst"), r.get("iif"), r.get("oif"),
                        int(mark, 16) if mark else None, int(mask, 16) if mask else None,
                        "not" in r, action, r.get("table") if action == "lookup" else None,
                        (r["uid_start"], r["uid_end"]) if "uid_start" in r else None,
                        r.get("suppress_prefixlen")))
    compare_sets("rules", mine, theirs, problems)


def nexthops(rep, d, problems):
    mine = set()
    for n in rep["nexthops"]:
        grp = tuple((g["id"], g["weight"]) for g in n.get("group", []))
        mine.add((n["id"], n.get("gateway"), n.get("interface"), n["blackhole"], grp))
    theirs = set()
    for n in load(d, "nexthop.json"):
        grp = tuple((g["id"], g.get("weight", 1)) for g in n.get("group", []))
        theirs.add((n["id"], n.get("gateway"), n.get("dev"), "blackhole" in n, grp))
    compare_sets("nexthops", mine, theirs, problems)


def main():
    rep = json.load(open(sys.argv[1]))
    d = sys.argv[2]
    problems = []
    only = os.environ.get("NETINV_COMPARE_ONLY")  # one list's function, by name
    for f in (links, link_details, bridge_ports, addresses, neighbours, routes, sockets, rules,
              nexthops):
        if not only or f.__name__ == only:
            f(rep, d, problems)
    for p in problems:
        print(p)
    counts = {k: len(rep[k]) for k in ("links", "addresses", "neighbors", "routes", "connections",
                                        "listeners", "rules", "nexthops")}
    print("compared:", counts)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
