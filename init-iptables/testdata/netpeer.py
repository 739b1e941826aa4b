#!/usr/bin/python3
# Test peer for the capture kernel tests (Node has no getsockopt, so SO_ORIGINAL_DST is read here).
#   netpeer.py serve NAME PORT[,PORT...] [--transparent]
#       listens on 0.0.0.0 and :: on each port; prints "ready" once listening; answers every
#       connection with one JSON line {name, listener, orig, peer} and closes it. `orig` is the
#       original destination: SO_ORIGINAL_DST after REDIRECT, else the local address (TPROXY).
#   netpeer.py dial HOST PORT [--bind ADDR]
#       connects, prints the answer line, exits 0; prints the error and exits 1 on failure.
import json
import socket
import struct
import sys
import threading

SO_ORIGINAL_DST = 80
IP_TRANSPARENT = 19
IPV6_TRANSPARENT = 75


def original_dst(conn, family):
    try:
        if family == socket.AF_INET:
            raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
            port = struct.unpack("!H", raw[2:4])[0]
            return "%s:%d" % (socket.inet_ntop(socket.AF_INET, raw[4:8]), port)
        raw = conn.getsockopt(socket.IPPROTO_IPV6, SO_ORIGINAL_DST, 28)
        port = struct.unpack("!H", raw[2:4])[0]
        return "[%s]:%d" % (socket.inet_ntop(socket.AF_INET6, raw[8:24]), port)
    except OSError:
        local = conn.getsockname()
        return ("%s:%d" if family == socket.AF_INET else "[%s]:%d") % (local[0], local[1])


def serve_one(sock, family, name, port):
    while True:
        conn, peer = sock.accept()
        try:
            fmt = "%s:%d" if family == socket.AF_INET else "[%s]:%d"
            msg = {"name": name, "listener": port, "orig": original_dst(conn, family), "peer": fmt % (peer[0], peer[1])}
            conn.sendall((json.dumps(msg) + "\n").encode())
        finally:
            conn.close()


def serve(name, ports, transparent):
    threads = []
    for port in ports:
        for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if transparent:
                if family == socket.AF_INET:
                    s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
                else:
                    s.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
            s.bind((host, port))
            s.listen(64)
            t = threading.Thread(target=serve_one, args=(s, family, name, port), daemon=True)
            t.start()
            threads.append(t)
    print("ready", flush=True)
    sys.stdin.read()  # run until the test closes stdin


def dial(host, port, bind):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        if bind:
            s.bind((bind, 0))
        s.connect((host, port))
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        sys.stdout.write(data.decode())
        return 0
    except OSError as e:
        sys.stdout.write("error: %s\n" % e)
        return 1


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], [int(p) for p in sys.argv[3].split(",")], "--transparent" in sys.argv)
    else:
        b = sys.argv[sys.argv.index("--bind") + 1] if "--bind" in sys.argv else None
        sys.exit(dial(sys.argv[2], int(sys.argv[3]), b))
