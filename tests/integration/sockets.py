"""Hold a known set of TCP and UDP sockets open in the current network namespace.

Prints "ready" once every socket exists, then sleeps until killed. With an argument N it also opens N
extra loopback TCP connections (2 sockets each) for the benchmark scales.
"""
import ctypes
import os
import resource
import signal
import socket
import sys
import time

keep = []


def tcp_listen(fam, addr, port, v6only=False):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6only:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    s.listen(4096)
    keep.append(s)
    return s


def drop_inherited(keep, but):
    """A forked side closes the parent's sockets it inherited (the limit is per process)."""
    for s in keep:
        if s is not but:
            s.close()
    keep[:] = [but] if but else []


def serve(lst, n):
    """Accept n connections, then hold them until killed (a further slice's accepting process)."""
    conns = [lst.accept()[0] for _ in range(n)]
    while conns:
        time.sleep(3600)


def main():
    extra = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] else 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # Each side of the extra connections may live in its own process: one process may hold at most
    # the hard limit of descriptors (no CAP_SYS_RESOURCE to raise it here).
    want = min(hard, extra + 64)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    tcp_listen(socket.AF_INET, "0.0.0.0", 8080)
    tcp_listen(socket.AF_INET6, "::", 8443, v6only=True)
    srv = tcp_listen(socket.AF_INET, "127.0.0.1", 9000)
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.bind(("127.0.0.1", 40001))
    c.connect(("127.0.0.1", 9000))
    a, _ = srv.accept()
    keep.extend([c, a])
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", 5353))
    u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u6.bind(("::1", 5354))
    uc = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    uc.bind(("127.0.0.1", 40002))
    uc.connect(("127.0.0.1", 5353))
    keep.extend([u, u6, uc])
    # in slices of at most `chunk` connections, each slice's two sides in processes of their own
    # (listener 9100 + slice): no process holds more descriptors than the hard limit allows
    chunk = max(1, hard - 64)
    for k, lo in enumerate(range(0, extra, chunk)):
        n = min(chunk, extra - lo)
        big = tcp_listen(socket.AF_INET, "127.0.0.1", 9100 + k)
        rd, wr = os.pipe()
        if k:
            if os.fork() == 0:
                # the accepting side of a further slice; dies with the parent (PR_SET_PDEATHSIG)
                ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
                drop_inherited(keep, big)
                serve(big, n)
            keep.remove(big)
            big.close()
        if os.fork() == 0:
            # the client side; dies with the parent (PR_SET_PDEATHSIG), never outlives the test
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
            os.close(rd)
            drop_inherited(keep, None)
            for i in range(n):
                cl = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                cl.connect(("127.0.0.1", 9100 + k))
                keep.append(cl)
            os.write(wr, b"x")
            while True:
                time.sleep(3600)
        os.close(wr)
        if k == 0:
            for i in range(n):
                acc, _ = big.accept()
                keep.append(acc)
        os.read(rd, 1)
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
