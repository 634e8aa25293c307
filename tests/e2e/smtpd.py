"""smtpd.py - the SMTP server of the smtp tests (aiosmtpd; run with
/usr/bin/python3). It listens on 127.0.0.1, on a port the kernel picks,
and writes that port to --port-file (atomically) once it accepts.

  smtpd.py --dir DIR --port-file FILE [--cert PEM --key PEM]
           [--starttls | --implicit] [--auth-user U --auth-pass-env VAR]
           [--slow SECONDS]

  --starttls     offer STARTTLS with --cert/--key and require it before MAIL
  --implicit     TLS from the first byte (port 465 style), with --cert/--key
  --auth-user    require AUTH (PLAIN or LOGIN) as U with the password held in
                 the environment variable VAR (never on the command line)

Failure injection, by the recipient's local part:
  defer*@    RCPT gets 451 4.3.0 (transient)
  reject*@   RCPT gets 550 5.1.1 user unknown (hard bounce)
  policy*@   RCPT gets 550 5.7.1 (permanent, not a bad address)
  slow*@     RCPT waits --slow seconds (default 5) before its 250
  garbage*@  RCPT is answered with a line that is no SMTP reply
  drop*@     the connection is cut after the message data, with no reply
and by the envelope sender's: badsender*@ gets 553 5.1.7 at MAIL.

Each message accepted is DIR/msg-N.eml (the bytes as received, CRLF line
ends, dot-unstuffed) with DIR/msg-N.json beside it: {"mail_from",
"rcpt_tos", "conn" (the connection's number), "tls", "tls_version", "auth"}. Every
connection appends "conn N" to DIR/connections.log, so a test can count
sessions. The reply to a message is "250 2.0.0 OK queued as QN".
"""
import argparse
import asyncio
import json
import os
import socket
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class State:
    conns = 0
    msgs = 0


class Handler:
    def __init__(self, args):
        self.args = args

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if address.lower().startswith("badsender"):
            return "553 5.1.7 <%s>: sender address rejected" % address
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("defer"):
            return "451 4.3.0 <%s>: mailbox busy, try again later" % address
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: user unknown" % address
        if local.startswith("policy"):
            return "550 5.7.1 <%s>: rejected by policy" % address
        if local.startswith("garbage"):
            return "hello? this is no smtp reply"
        if local.startswith("slow"):
            await asyncio.sleep(self.args.slow)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(r.lower().startswith("drop") for r in envelope.rcpt_tos):
            server.transport.abort()  # no reply: the client cannot know
            return "421 4.4.2 never sent"
        State.msgs += 1
        n = State.msgs
        base = os.path.join(self.args.dir, "msg-%d" % n)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "conn": getattr(session, "conn_no", 0),
            "tls": bool(session.ssl) or self.args.implicit,
            "tls_version": tls_version(server),
            "auth": session.authenticated,
        }
        with open(base + ".json", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 OK queued as Q%d" % n


def tls_version(server):
    """the TLS version of the connection ("TLSv1.2"), or None"""
    try:
        obj = server.transport.get_extra_info("ssl_object")
        return obj.version() if obj else None
    except Exception:
        return None


class CountingSMTP(SMTP):
    def connection_made(self, transport):
        first = self.transport is None
        super().connection_made(transport)
        if first:
            State.conns += 1
            self.session.conn_no = State.conns
            with open(os.path.join(self.args_dir, "connections.log"), "a") as f:
                f.write("conn %d\n" % State.conns)
        else:  # after STARTTLS: a new session object, the same connection
            self.session.conn_no = State.conns


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--starttls", action="store_true")
    ap.add_argument("--implicit", action="store_true")
    ap.add_argument("--auth-user")
    ap.add_argument("--auth-pass-env")
    ap.add_argument("--slow", type=float, default=5.0)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    ctx = None
    if args.starttls or args.implicit:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
    password = None
    if args.auth_user:
        password = os.environ.get(args.auth_pass_env or "", "")
        if not password:
            sys.exit("smtpd.py: --auth-pass-env names no set variable")

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == args.auth_user.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535

    handler = Handler(args)

    def factory():
        kw = dict(hostname="localhost", timeout=60)
        if args.starttls:
            kw.update(tls_context=ctx, require_starttls=True)
        if args.auth_user:
            kw.update(
                authenticator=authenticator,
                auth_required=True,
                auth_require_tls=bool(args.starttls),  # implicit: TLS from the start
            )
        s = CountingSMTP(handler, **kw)
        s.args_dir = args.dir
        return s

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(factory, sock=sock, ssl=ctx if args.implicit else None)
    )
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % sock.getsockname()[1])
    os.rename(tmp, args.port_file)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
