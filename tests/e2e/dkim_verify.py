"""dkim_verify.py - verify a message's DKIM signature with python3-dkim
(run with /usr/bin/python3), handing it the public key in place of DNS.

  dkim_verify.py PUBKEY.pem MESSAGE [SELECTOR._domainkey.DOMAIN]

PUBKEY.pem is the signer's public key (`openssl pkey -pubout`). The key
record answered for the DNS query is "v=DKIM1; k=rsa; p=<the key>"; when
the third argument is given, a query for any other name gets nothing, so
a wrong d= or s= fails. Prints True or False and exits 0 or 1; 2 on bad
usage. The message is read as bytes, exactly as received.
"""
import sys

import dkim


def main():
    if len(sys.argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    with open(sys.argv[1], "rb") as f:
        pem = f.read()
    lines = [l.strip() for l in pem.splitlines()]
    if not lines or lines[0] != b"-----BEGIN PUBLIC KEY-----":
        sys.stderr.write("dkim_verify.py: %s is not a PEM public key\n" % sys.argv[1])
        return 2
    p = b"".join(l for l in lines if l and not l.startswith(b"-----"))
    want = sys.argv[3].encode().lower().rstrip(b".") if len(sys.argv) == 4 else None
    asked = []

    def dnsfunc(name, timeout=5):
        n = name.lower().rstrip(b".")
        asked.append(n)
        if want is not None and n != want:
            return None
        return b"v=DKIM1; k=rsa; p=" + p

    with open(sys.argv[2], "rb") as f:
        msg = f.read()
    try:
        ok = dkim.verify(msg, dnsfunc=dnsfunc)
    except Exception as e:  # a malformed signature is a failure, with why
        sys.stderr.write("dkim_verify.py: %s\n" % e)
        ok = False
    if not ok and asked and want is not None and asked[-1] != want:
        sys.stderr.write("dkim_verify.py: asked for %r, want %r\n" % (asked[-1], want))
    print("True" if ok else "False")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
