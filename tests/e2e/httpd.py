"""httpd.py - a scriptable HTTP/1.1 server on loopback that records every request.

Used by unit tests (tests/unit/test_http.c) and end-to-end cases
(tests/e2e/cases_*.sh) to stand in for SMS gateways and chat webhooks.
Run it with /usr/bin/python3 (standard library only):

  /usr/bin/python3 tests/e2e/httpd.py --port-file FILE --log FILE
                                      [--script FILE] [--tls CERT KEY]

  --port-file FILE  written (atomically) with the port number once the server
                    listens on 127.0.0.1 (port 0: the kernel picks a free one)
  --log FILE        each request is appended as one JSON line, flushed at once,
                    BEFORE the answer is chosen (so a request that hangs or gets
                    its connection closed is still recorded):
                      {"n": 1,                 sequence number from 1
                       "method": "POST",
                       "path": "/v1/send",      without the query
                       "query": "a=1&b=2",      raw query string ("" if none)
                       "headers": {"content-type": "application/json", ...},
                                                names in lower case; a repeated
                                                header's values joined by ", "
                       "body": "...",           the body as UTF-8 text, or
                       "body_b64": "...",       instead, when it is not UTF-8
                       "conn": 1,               id of the TCP connection (the same
                                                id on a kept-alive connection)
                       "t": 1767225600.123}     time.time() at arrival
  --script FILE     a JSON list of rules, re-read on every request (a test may
                    rewrite it between runs; a missing or unreadable file means
                    no rules). The first rule that matches answers:
                      {"path": "/v1/",         prefix of the path (default "/")
                       "method": "POST",       optional: only this method
                       "status": 200,          default 200
                       "body": "...",          default "" ; "{n}" is replaced by
                                                the request's sequence number
                       "headers": {"Retry-After": "120"},
                       "times": 2,             optional: only the first 2 requests
                                                that this rule matches
                       "hang": 5,              optional: sleep 5 s, then answer
                       "close": true}          optional: close the connection
                                                without answering
                    Without a matching rule: 200 {"ok":true,"id":"m<n>"}.
  --tls CERT KEY    serve HTTPS with this PEM certificate and key (ALPN
                    http/1.1)

Every response carries Content-Length (default Content-Type application/json)
and the connection is kept alive (HTTP/1.1) unless a rule closes it. SIGTERM
and SIGINT exit at once, and so does the server when the process that
started it goes away. The server is quiet on stderr.
"""
import argparse
import base64
import http.server
import itertools
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time

LOCK = threading.Lock()
SEQ = itertools.count(1)
CONNS = itertools.count(1)
USED = {}  # rule (as canonical JSON) -> times applied
ARGS = None
LOG = None


def load_rules():
    if not ARGS.script:
        return []
    try:
        with open(ARGS.script, "rb") as f:
            rules = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError):
        return []
    return rules if isinstance(rules, list) else []


def pick(rules, method, path):
    """the first rule for this request, its use counted (under LOCK)"""
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        if not path.startswith(rule.get("path", "/")):
            continue
        if "method" in rule and rule["method"].upper() != method:
            continue
        key = json.dumps(rule, sort_keys=True)
        times = rule.get("times")
        if times is not None and USED.get(key, 0) >= times:
            continue
        USED[key] = USED.get(key, 0) + 1
        return rule
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in separate writes: without TCP_NODELAY,
    # Nagle's algorithm against the client's delayed ACK stalls every
    # kept-alive response by ~40 ms
    disable_nagle_algorithm = True

    def version_string(self):
        return "outreach-test-httpd"

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()
        with LOCK:
            self.conn_id = next(CONNS)

    def log_message(self, fmt, *args):  # quiet
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                line = self.rfile.readline()
                if not line:
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            return data
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def handle_any(self):
        body = self.read_body()
        path, _, query = self.path.partition("?")
        headers = {}
        for name, value in self.headers.items():
            k = name.lower()
            headers[k] = headers[k] + ", " + value if k in headers else value
        with LOCK:
            n = next(SEQ)
            entry = {"n": n, "method": self.command, "path": path, "query": query,
                     "headers": headers, "conn": self.conn_id, "t": time.time()}
            try:
                entry["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                entry["body_b64"] = base64.b64encode(body).decode("ascii")
            LOG.write(json.dumps(entry, ensure_ascii=False) + "\n")
            LOG.flush()
            rule = pick(load_rules(), self.command, path)
        if rule is None:
            rule = {"status": 200, "body": '{"ok":true,"id":"m{n}"}'}
        if rule.get("hang"):
            time.sleep(float(rule["hang"]))
        if rule.get("close"):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        out = str(rule.get("body", "")).replace("{n}", str(n)).encode("utf-8")
        try:
            self.send_response(int(rule.get("status", 200)))
            extra = rule.get("headers") or {}
            if not any(k.lower() == "content-type" for k in extra):
                self.send_header("Content-Type", "application/json")
            for k, v in extra.items():
                if k.lower() != "content-length":
                    self.send_header(k, str(v))
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls = None

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.tls:
            # the handshake runs in the connection's thread (Handler.setup),
            # so a client that never completes one blocks nobody else
            sock = self.tls.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):  # quiet on broken clients
        pass


def main():
    global ARGS, LOG
    p = argparse.ArgumentParser(description="scriptable loopback HTTP server")
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--script")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ARGS = p.parse_args()
    LOG = open(ARGS.log, "a", encoding="utf-8")

    def stop(signum, frame):
        try:
            LOG.flush()
        finally:
            os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # never outlive the test that started us (a failed test may not stop us)
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        stop(0, None)

    threading.Thread(target=watch, daemon=True).start()
    srv = Server(("127.0.0.1", 0), Handler)
    if ARGS.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls[0], ARGS.tls[1])
        ctx.set_alpn_protocols(["http/1.1"])
        srv.tls = ctx
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, ARGS.port_file)
    srv.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    sys.exit(main())
