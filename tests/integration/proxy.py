"""A loopback HTTP CONNECT proxy for test_proxy.sh.

Usage: proxy.py PORTFILE LOGFILE MODE [USER:PASSWORD]
MODE: ok (tunnels every CONNECT), refuse (answers 403), auth (answers 407 unless the request
carries Proxy-Authorization: Basic for USER:PASSWORD). Binds 127.0.0.1 on a free port, writes it to
PORTFILE, logs one line per request to LOGFILE ("CONNECT host:port -> 200" and so on). Test-only.
"""
import base64
import socket
import sys
import threading


def relay(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(c, log, mode, cred):
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 65536:
        d = c.recv(4096)
        if not d:
            c.close()
            return
        head += d
    lines = head.split(b"\r\n")
    method, target = lines[0].split(b" ")[:2]
    auth = [l for l in lines[1:] if l.lower().startswith(b"proxy-authorization:")]
    ok_auth = bool(auth) and auth[0].split(b":", 1)[1].strip() == b"Basic " + base64.b64encode(cred.encode())
    if method != b"CONNECT":
        code = 405
    elif mode == "refuse":
        code = 403
    elif mode == "auth" and not ok_auth:
        code = 407
    else:
        code = 200
    with open(log, "a") as f:
        f.write(f"{method.decode()} {target.decode()} -> {code}{' (authenticated)' if ok_auth else ''}\n")
    if code != 200:
        extra = b'Proxy-Authenticate: Basic realm="netinv-test"\r\n' if code == 407 else b""
        c.sendall(b"HTTP/1.1 %d No\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n" % (code, extra))
        c.close()
        return
    host, port = target.decode().rsplit(":", 1)
    try:
        u = socket.create_connection((host, int(port)), timeout=10)
    except OSError:
        c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        c.close()
        return
    c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    threading.Thread(target=relay, args=(c, u), daemon=True).start()
    relay(u, c)


def main():
    portfile, log, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    cred = sys.argv[4] if len(sys.argv) > 4 else ""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    open(log, "a").close()
    with open(portfile, "w") as f:
        f.write(str(s.getsockname()[1]))
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c, log, mode, cred), daemon=True).start()


if __name__ == "__main__":
    main()
