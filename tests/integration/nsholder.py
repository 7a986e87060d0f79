"""Hold a network namespace for test_namespaces.sh the way a container's process does.

Usage: nsholder.py GO_FILE PORT
Waits until GO_FILE exists (the test configures the namespace first), then listens on TCP and UDP
PORT (all addresses), opens one TCP connection to itself over loopback, prints "ready" and sleeps
until killed.
"""
import os
import socket
import sys
import time

go, port = sys.argv[1], int(sys.argv[2])
while not os.path.exists(go):
    time.sleep(0.05)
lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lst.bind(("0.0.0.0", port))
lst.listen(8)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("0.0.0.0", port))
cli = socket.create_connection(("127.0.0.1", port))
srv, _ = lst.accept()
print("ready", flush=True)
while True:
    time.sleep(3600)
