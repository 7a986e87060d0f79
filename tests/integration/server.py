"""A loopback fleet server for netinv's tests: the Graphēon agent API as shared/PROTOCOL.md describes
it (validation, limits, status codes), an inventory per agent kept by upsert (a re-sent report is
idempotent) and by the `removed` extension, an admin side, and fault modes.

Usage: server.py PORTFILE [--max-report-bytes N] [--interval S] [--key-header NAME] [--tls CERT KEY]
Binds 127.0.0.1 on a free port and writes it to PORTFILE. Stops on SIGTERM. Test-only.

An accepted check-in is answered as the Graphēon server answers it: every address, neighbour and
remote IP of the report (and every MAC) echoed three times, in summary, checkin.summary and agent
(shared/PROTOCOL.md), so the reply grows with the report as the real one does. GET /admin/state
reports the largest reply sent (max_reply_bytes).

Admin (JSON bodies): POST /admin/approve|reject|revoke {"agent_uuid"}; POST /admin/rotate
{"agent_uuid"} -> {"api_key"}; POST /admin/fault {"mode", "count", "seconds", "status", "over"};
fault "pad" stores the report, then pads the reply to exactly netinv's reply bound (64 KiB + 4 bytes
per decoded report byte) plus "over" bytes;
POST /admin/policy {...}; GET /admin/state; GET /admin/inventory?agent_uuid=U.
Commands (netinv's extension): POST /admin/commands {"agent_uuid", "commands": [{id, name, args,
script?}]} queues them; every check-in reply carries the queued ones until a result with their id
arrives (as a real server would resend); GET /admin/results?agent_uuid=U lists every
command_results entry received, duplicates included.
"""
import datetime
import gzip
import hashlib
import ipaddress
import json
import re
import secrets
import signal
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.RLock()  # reply() takes it too, also from inside a locked handler
ENROLLMENT = {  # key -> state
    "gaek_" + "A" * 43: "active",
    "gaek_" + "I" * 43: "inactive",
    "gaek_" + "E" * 43: "expired",
}
AGENTS = {}  # uuid -> dict(status, key, enrollment, id, key_sent, inventory, checkins, seqs)
FAULT = {"mode": None, "count": 0}
POLICY = {"checkin_interval_seconds": 900, "jitter_seconds": 0, "command_timeout_seconds": 15,
          "enabled_commands": {"ip_addr": True, "ip_neigh": True, "ip_route": True, "ss_tunap": True},
          "max_report_bytes": 262144}
MAX_COMPRESSED = 262144
STATES = {"listen", "established", "time_wait", "close_wait", "fin_wait1", "fin_wait2", "syn_recv",
          "syn_sent", "closing", "last_ack", "closed", "unknown"}
PROTOCOLS = {"tcp", "udp", "sctp", "ip", "icmp"}
MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
STATS = {"register": 0, "checkin": 0, "accepted": 0, "max_reply_bytes": 0, "inflight": 0,
         "seq_conflicts": []}
SEQ_BODIES = {}  # sequence_number -> digest of the first decoded body that carried it
CHECKIN_IDS = [0]
KEY_PREFIX = ["gpak_"]  # POST /admin/keystyle {"prefix": ""}: keys a redaction cannot spot by shape


def now():
    return datetime.datetime.utcnow().replace(microsecond=0).isoformat()  # naive UTC, like the server


def valid_ip(v, allow_unspecified=False):
    try:
        a = ipaddress.ip_address(v)
    except (ValueError, TypeError):
        return False
    if a.is_unspecified and not allow_unspecified:
        return False
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped and a.ipv4_mapped.is_unspecified:
        return allow_unspecified
    return True


RESULT_FIELDS = {"id": str, "name": str, "status": str, "timed_out": bool, "duration_ms": int,
                 "stdout": str, "stderr": str, "stdout_truncated": bool, "stderr_truncated": bool}


def validate(report):
    errors = []

    def err(field, message):
        errors.append({"field": field, "message": message})

    cr = report.get("command_results")
    if cr is not None:
        if not isinstance(cr, list):
            err("command_results", "must be a list")
        for i, r in enumerate(cr if isinstance(cr, list) else []):
            for k, t in RESULT_FIELDS.items():
                if not isinstance(r.get(k), t) or (t is int and isinstance(r.get(k), bool)):
                    err(f"command_results[{i}].{k}", f"must be {t.__name__}")
            for k in ("exit_code", "signal"):
                if r.get(k) is not None and not isinstance(r.get(k), int):
                    err(f"command_results[{i}].{k}", "must be an integer or null")

    if not isinstance(report.get("agent_uuid"), str):
        err("agent_uuid", "required")
    if not isinstance(report.get("sequence_number"), int) or report["sequence_number"] < 0:
        err("sequence_number", "must be an integer >= 0")
    for lst in ("addresses", "neighbors", "routes", "connections"):
        # PROTOCOL.md: a missing list defaults to empty (netinv leaves out what it did not collect)
        if lst in report and not isinstance(report[lst], list):
            err(lst, "must be a list")
    for i, a in enumerate(report.get("addresses") or []):
        if not valid_ip(a.get("ip_address")):
            err(f"addresses[{i}].ip_address", "invalid or unspecified")
        pl = a.get("prefix_length")
        if pl is not None and not (isinstance(pl, int) and 0 <= pl <= 128):
            err(f"addresses[{i}].prefix_length", "out of range")
        if a.get("mac_address") is not None and not MAC.match(str(a.get("mac_address"))):
            err(f"addresses[{i}].mac_address", "not a 6-octet MAC")
    for i, n in enumerate(report.get("neighbors") or []):
        if not valid_ip(n.get("ip_address")):
            err(f"neighbors[{i}].ip_address", "invalid or unspecified")
        if n.get("mac_address") is not None and not MAC.match(str(n.get("mac_address"))):
            err(f"neighbors[{i}].mac_address", "not a 6-octet MAC")
        if n.get("state") is not None and len(str(n.get("state"))) > 50:
            err(f"neighbors[{i}].state", "too long")
    for i, r in enumerate(report.get("routes") or []):
        d = r.get("destination")
        if d != "default":
            try:
                ipaddress.ip_network(d, strict=False)
            except (ValueError, TypeError):
                err(f"routes[{i}].destination", "not a CIDR or default")
        for f in ("gateway", "source_ip"):
            if r.get(f) is not None and not valid_ip(r.get(f)):
                err(f"routes[{i}].{f}", "invalid or unspecified")
    for i, c in enumerate(report.get("connections") or []):
        # the trap: an unspecified local_ip rejects the whole check-in
        if not valid_ip(c.get("local_ip")):
            err(f"connections[{i}].local_ip", "invalid or unspecified")
        if not valid_ip(c.get("remote_ip"), allow_unspecified=True):
            err(f"connections[{i}].remote_ip", "invalid")
        lp = c.get("local_port")
        if not (isinstance(lp, int) and 0 <= lp <= 65535):
            err(f"connections[{i}].local_port", "out of range")
        if c.get("protocol") not in PROTOCOLS:
            err(f"connections[{i}].protocol", "unknown")
        if c.get("state") is not None and c.get("state") not in STATES:
            err(f"connections[{i}].state", "unknown")
    return errors


def ident(lst, r):
    """The identity the server keeps records under (mirrors netinv's keys)."""
    if lst == "links":
        return (r.get("ifindex"), r.get("name"))
    if lst in ("rules", "nexthops"):
        return r.get("id")  # a rule's id is its every field; a nexthop object's, the kernel's
    if lst == "addresses":
        return (r.get("ip_address"), r.get("prefix_length"), r.get("interface"))
    if lst == "neighbors":
        return (r.get("ip_address"), r.get("interface"), bool(r.get("proxy")))
    if lst == "routes":
        single = "nexthops" not in r and not r.get("interface_index") == 0
        return (r.get("family"), r.get("table"), r.get("destination"), r.get("tos"), r.get("metric"),
                r.get("type"), r.get("interface") if single else None, r.get("gateway") if single else None)
    return (r.get("protocol"), r.get("local_ip"), r.get("local_port"), r.get("remote_ip"),
            r.get("remote_port"), r.get("interface"))


LISTS = ("links", "addresses", "neighbors", "routes", "connections", "listeners", "rules", "nexthops")


def apply_report(agent, rep):
    inv = agent["inventory"]
    if rep.get("full_snapshot"):
        for lst in LISTS:
            inv[lst] = {}
    for lst in LISTS:
        for r in rep.get(lst) or []:
            inv.setdefault(lst, {})[ident(lst, r)] = r  # upsert: a re-send changes nothing
    for lst, keys in (rep.get("removed") or {}).items():
        for k in keys:
            if lst == "routes" and "nexthops" not in k and k.get("interface_index") == 0:
                k = dict(k, interface_index=0)
            inv.setdefault(lst, {}).pop(ident(lst, k), None)
    agent["seqs"].append(rep.get("sequence_number"))
    agent["checkins"] += 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, obj=None, raw=None, ctype="application/json", headers=()):
        # compact, as the real server's JSON responses are
        body = raw if raw is not None else json.dumps(obj, separators=(",", ":")).encode()
        with LOCK:
            STATS["max_reply_bytes"] = max(STATS["max_reply_bytes"], len(body))
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def fault(self):
        """Apply a pending fault to an agent call; True when the reply was taken care of."""
        with LOCK:
            if not FAULT["mode"] or FAULT["count"] <= 0:
                return None
            FAULT["count"] -= 1
            mode = FAULT["mode"]
            f = dict(FAULT)
        if mode == "slow":
            time.sleep(f.get("seconds", 5))
            return None
        if mode == "5xx":
            self.reply(f.get("status", 503), {"detail": "backend unavailable"})
        elif mode == "retry-after":
            self.reply(f.get("status", 429), {"detail": "slow down"},
                       headers=[("Retry-After", str(f.get("seconds", 120)))])
        elif mode == "garbage":
            self.reply(200, raw=b"\x00\x01not json at all{{{", ctype="application/json")
        elif mode == "html":
            self.reply(200, raw=b"<html><body>Welcome to nginx!</body></html>", ctype="text/html")
        elif mode == "gzipbomb":
            self.reply(200, raw=gzip.compress(b"\x00" * (20 << 20)), headers=[("Content-Encoding", "gzip")])
        elif mode == "endless":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            end = time.time() + f.get("seconds", 20)
            try:
                while time.time() < end:
                    self.wfile.write(b"400\r\n" + b" " * 1024 + b"\r\n")
                    self.wfile.flush()
            except OSError:
                pass
            self.close_connection = True
        elif mode == "bigheader":
            self.send_response(200)
            self.send_header("X-Pad", "x" * (1 << 20))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
        elif mode == "wrong-status":
            self.reply(200, {"status": "maybe"})
        elif mode in ("drop-after-accept", "pad"):
            return mode
        elif mode == "refuse":
            # as if the server were down: the connection closes before any reply, nothing stored
            self.close_connection = True
            self.connection.shutdown(2)
        elif mode == "invalid":
            self.reply(422, {"detail": "Validation failed",
                             "errors": [{"field": "routes[3].gateway", "message": "invalid or unspecified"},
                                        {"field": "connections[0].local_ip", "message": "invalid"}]})
        else:
            return None
        return True

    def do_GET(self):
        u = urlparse(self.path)
        with LOCK:
            if u.path == "/admin/state":
                self.reply(200, {"stats": STATS, "agents": {
                    k: {"status": a["status"], "id": a["id"], "checkins": a["checkins"], "seqs": a["seqs"],
                        "sizes": {l: len(a["inventory"].get(l, {})) for l in LISTS}}
                    for k, a in AGENTS.items()}})
            elif u.path == "/admin/results":
                a = AGENTS.get(parse_qs(u.query).get("agent_uuid", [""])[0])
                self.reply(200, a.get("results", []) if a else [])
            elif u.path == "/admin/inventory":
                a = AGENTS.get(parse_qs(u.query).get("agent_uuid", [""])[0])
                if not a:
                    self.reply(404, {"detail": "no such agent"})
                else:
                    self.reply(200, {l: list(a["inventory"].get(l, {}).values()) for l in LISTS})
            else:
                self.reply(404, {"detail": "not found"})

    def do_POST(self):
        u = urlparse(self.path)
        if u.path.startswith("/admin/"):
            return self.admin(u.path[7:], json.loads(self.body() or b"{}"))
        raw = self.body()
        # a server_url with a path of its own (a reverse proxy's prefix) reaches the same API
        i = u.path.find("/api/agents/")
        u = u._replace(path=u.path[i:]) if i > 0 else u
        if u.path == "/api/agents/register":
            with LOCK:
                STATS["register"] += 1
            f = self.fault()
            if f is True:
                return
            return self.register(raw)
        if u.path == "/api/agents/check-in":
            with LOCK:
                STATS["checkin"] += 1
                STATS["inflight"] += 1
            try:
                self.note_sequence(raw)
                f = self.fault()
                if f is True:
                    return
                return self.checkin(raw, fault=f)
            finally:
                with LOCK:
                    STATS["inflight"] -= 1
        self.reply(404, {"detail": "not found"})

    def admin(self, what, req):
        with LOCK:
            if what == "fault":
                FAULT.clear()
                FAULT.update(req)
                return self.reply(200, {"ok": True})
            if what == "keystyle":
                KEY_PREFIX[0] = req.get("prefix", "gpak_")
                return self.reply(200, {"prefix": KEY_PREFIX[0]})
            if what == "policy":
                POLICY.update(req)
                return self.reply(200, POLICY)
            a = AGENTS.get(req.get("agent_uuid"))
            if not a:
                return self.reply(404, {"detail": "no such agent"})
            if what == "agent_id":  # the number the server gives the agent (it places its slot)
                a["id"] = req["id"]
                return self.reply(200, {"id": a["id"]})
            if what in ("approve", "reject", "revoke"):
                a["status"] = {"approve": "active", "reject": "rejected", "revoke": "revoked"}[what]
                return self.reply(200, {"status": a["status"]})
            if what == "commands":
                a.setdefault("commands", []).extend(req.get("commands", []))
                if req.get("sticky"):  # resent even after a result: a server that lost track
                    a.setdefault("sticky", set()).update(c.get("id") for c in req.get("commands", []))
                return self.reply(200, {"queued": len(a["commands"])})
            if what == "rotate":
                a["key"] = KEY_PREFIX[0] + secrets.token_urlsafe(32)[:43]
                a["key_sent"] = True
                return self.reply(200, {"api_key": a["key"]})
        self.reply(404, {"detail": "unknown admin call"})

    def register(self, raw):
        if self.headers.get("Content-Encoding"):
            return self.reply(422, {"detail": "Validation failed",
                                    "errors": [{"field": "body", "message": "registration must be plain JSON"}]})
        try:
            req = json.loads(raw)
        except ValueError:
            return self.reply(422, {"detail": "Validation failed", "errors": [{"field": "body", "message": "not JSON"}]})
        key, uuid = req.get("enrollment_key"), req.get("agent_uuid")
        if not isinstance(uuid, str) or not uuid or len(uuid) > 128:
            return self.reply(422, {"detail": "Validation failed", "errors": [{"field": "agent_uuid", "message": "required"}]})
        with LOCK:
            st = ENROLLMENT.get(key)
            if st is None or st == "inactive":
                return self.reply(401, {"detail": "Invalid or inactive enrollment key"})
            if st == "expired":
                return self.reply(403, {"detail": "Enrollment key expired"})
            a = AGENTS.get(uuid)
            if a is None:
                a = AGENTS[uuid] = {"status": "pending", "key": None, "enrollment": key, "id": len(AGENTS) + 1,
                                    "key_sent": False, "inventory": {}, "checkins": 0, "seqs": []}
            elif a["enrollment"] != key:
                return self.reply(409, {"detail": "Agent is bound to another enrollment key"})
            if a["status"] in ("rejected", "revoked"):
                return self.reply(403, {"detail": f"Agent {a['status']}"})
            api_key = None
            if a["status"] == "active" and not a["key_sent"]:
                a["key"] = a["key"] or KEY_PREFIX[0] + secrets.token_urlsafe(32)[:43]
                a["key_sent"] = True
                api_key = a["key"]
            self.reply(200, {"status": a["status"], "approval_required": a["status"] == "pending",
                             "message": "ok", "api_key": api_key, "server_time": now(),
                             "agent": {"id": a["id"]}, "policy": POLICY if a["status"] == "active" else None})

    def note_sequence(self, raw):
        """Every body received, stored or not: a sequence number must never carry two different ones."""
        try:
            body = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, 64 << 20)
            seq = json.loads(body).get("sequence_number")
        except (zlib.error, ValueError, AttributeError):
            return
        digest = hashlib.sha256(body).hexdigest()
        with LOCK:
            if SEQ_BODIES.setdefault(seq, digest) != digest and seq not in STATS["seq_conflicts"]:
                STATS["seq_conflicts"].append(seq)

    def checkin(self, raw, fault=None):
        if self.headers.get("Content-Encoding", "").lower() != "gzip":
            return self.reply(415, {"detail": "Content-Encoding must be gzip"})
        if len(raw) > MAX_COMPRESSED:
            return self.reply(413, {"detail": "compressed body too large"})
        try:
            # the decoded limit is enforced while decompressing: a bomb costs nothing
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = d.decompress(raw, POLICY["max_report_bytes"] + 1)
            if len(body) > POLICY["max_report_bytes"]:
                return self.reply(413, {"detail": "decoded report too large"})
            body += d.flush()
            rep = json.loads(body)
            decoded_len = len(body)
        except (zlib.error, OSError, EOFError):
            return self.reply(400, {"detail": "body is not gzip"})
        except ValueError:
            return self.reply(422, {"detail": "Validation failed", "errors": [{"field": "body", "message": "not JSON"}]})
        hdr = self.server.key_header
        key = self.headers.get(hdr)
        with LOCK:
            a = next((x for x in AGENTS.values() if key and x["key"] == key), None)
            if a is None:
                return self.reply(401, {"detail": "Invalid API key"})
            if a["status"] != "active":
                return self.reply(403, {"detail": f"Agent {a['status']}"})
            uuid = next(u for u, x in AGENTS.items() if x is a)
            if rep.get("agent_uuid") != uuid:
                return self.reply(409, {"detail": "agent_uuid does not match the API key"})
            errors = validate(rep)
            if errors:
                return self.reply(422, {"detail": "Validation failed", "errors": errors})
            apply_report(a, rep)
            STATS["accepted"] += 1
            for r in rep.get("command_results") or []:
                a.setdefault("results", []).append(r)
            done = {r.get("id") for r in a.get("results", [])}
            a["commands"] = [c for c in a.get("commands", [])
                             if c.get("id") not in done or c.get("id") in a.get("sticky", set())]
            queued = list(a["commands"])
        if fault == "drop-after-accept":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        body = self.accepted_reply(a, uuid, key, rep, queued)
        if fault == "pad":
            # exactly netinv's bound for this report, plus "over" bytes
            target = 65536 + 4 * decoded_len + FAULT.get("over", 0)
            enc = json.dumps(body, separators=(",", ":")).encode()
            pad = target - len(enc) - len(',"pad":""')
            body["pad"] = "x" * max(pad, 0)
        self.reply(200, body)

    def accepted_reply(self, a, uuid, key, rep, queued):
        """The Graphēon server's reply: the report's addresses three times over."""
        ips, macs = set(), set()
        for lst, f in (("addresses", "ip_address"), ("neighbors", "ip_address"), ("connections", "remote_ip")):
            for r in rep.get(lst) or []:
                if isinstance(r.get(f), str):
                    ips.add(r[f])
        for lst in ("addresses", "neighbors"):
            for r in rep.get(lst) or []:
                if isinstance(r.get("mac_address"), str):
                    macs.add(r["mac_address"].lower())
        ips, macs = sorted(ips), sorted(macs)
        with LOCK:
            CHECKIN_IDS[0] += 1
            cid = CHECKIN_IDS[0]
        n = {k: len(rep.get(k) or []) for k in ("addresses", "neighbors", "routes", "connections")}
        summary = {"hosts_created": 0, "arp_entries_created": n["neighbors"],
                   "connections_created": n["connections"], "neighbor_count": n["neighbors"],
                   "connection_count": n["connections"], "route_count": n["routes"], "raw_import_id": cid,
                   "ip_addresses_seen": ips, "mac_addresses_seen": macs}
        checkin = {"id": cid, "agent_id": a["id"], "raw_import_id": cid, "observed_at": rep.get("observed_at"),
                   "received_at": now(), "sequence_number": rep.get("sequence_number"),
                   "full_snapshot": bool(rep.get("full_snapshot")), "content_encoding": "gzip",
                   "source_ip": self.client_address[0], "auth_method": "api_key",
                   "api_key_prefix": (key or "")[:12], "status": "processed", "error_message": None,
                   "records_created": sum(n.values()), "summary": summary}
        agent = {"id": a["id"], "agent_uuid": uuid, "hostname": rep.get("hostname"), "status": a["status"],
                 "platform": rep.get("platform"), "agent_version": rep.get("agent_version"),
                 "last_seen_at": now(), "last_ip_addresses": ips, "last_mac_addresses": macs}
        body = {"status": "accepted", "server_time": now(), "agent": agent, "policy": POLICY,
                "checkin": checkin, "summary": summary}
        if queued:
            body["commands"] = queued
        return body


def main():
    portfile = sys.argv[1]
    args = sys.argv[2:]
    header = "X-Agent-Api-Key"
    tls = None
    while args:
        a = args.pop(0)
        if a == "--max-report-bytes":
            POLICY["max_report_bytes"] = int(args.pop(0))
        elif a == "--interval":
            POLICY["checkin_interval_seconds"] = int(args.pop(0))
        elif a == "--key-header":
            header = args.pop(0)
        elif a == "--tls":
            tls = (args.pop(0), args.pop(0))
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.key_header = header
    srv.daemon_threads = True
    if tls:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    srv.serve_forever()


if __name__ == "__main__":
    main()
