"""helper.py - small parsers for tests/e2e/run.sh (run with /usr/bin/python3).

  helper.py eml FILE FIELD        print one decoded part of an .eml:
                                  subject | to | toname | type | plain | html |
                                  crlf (ok or why not)
  helper.py json FILE KEY         print one top-level key of a JSON file
  helper.py sum REPORT FIELD [CAMPAIGN [STEP]]
                                  sum FIELD over `report --format json` rows
  helper.py send SHOW CAMPAIGN STEP [KEY]
                                  from `contacts show` JSON: KEY (default id)
                                  of the send for CAMPAIGN/STEP, or nothing
  helper.py segments SHOW         the contact's segments, one per line
  helper.py find DIR ADDR FIELD   over the outbox DIR, the messages to ADDR (an
                                  e-mail address or phone number): FIELD is count,
                                  or of the only one: file, text (sms/chat), a key
                                  of the .json, or a FIELD of `eml`
Output is UTF-8 written as raw bytes, with no newline added.
"""
import email
import email.policy
import json
import sys


def out(s):
    if not isinstance(s, str):
        s = json.dumps(s) if not isinstance(s, (int, float)) else str(s)
    sys.stdout.buffer.write(s.encode("utf-8"))


def eml(path, field):
    raw = open(path, "rb").read()
    if field == "crlf":
        lines = raw.split(b"\r\n")
        bad = [i + 1 for i, l in enumerate(lines) if b"\n" in l or b"\r" in l]
        out("ok" if not bad else "bare LF/CR on line(s) %s" % bad[:5])
        return
    eml_field(email.message_from_bytes(raw, policy=email.policy.default), field)


def eml_field(msg, field):
    if field == "toname":
        addrs = msg["to"].addresses if msg["to"] is not None else ()
        if len(addrs) != 1:
            out("<%d addresses in To: %s>" % (len(addrs), msg["to"]))
        else:
            out(addrs[0].display_name)
    elif field == "type":
        out(msg.get_content_type())
    elif field == "subject":
        out(str(msg["subject"]))
    elif field == "to":
        out(str(msg["to"]))
    elif field in ("plain", "html"):
        body = msg.get_body(preferencelist=(field,))
        if body is None:
            out("")
        else:
            out(body.get_content().replace("\r\n", "\n"))
    else:
        out(str(msg[field] or ""))


def find(d, addr, field):
    import os
    hits = []
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        path = os.path.join(d, name)
        if name.endswith(".json"):
            m = json.load(open(path, encoding="utf-8"))
            if m.get("to") == addr:
                hits.append((path, m, None))
        elif name.endswith(".eml"):
            msg = email.message_from_bytes(open(path, "rb").read(), policy=email.policy.default)
            to = msg["to"]
            addrs = [a.addr_spec for a in to.addresses] if to is not None else []
            if addr in addrs:
                hits.append((path, None, msg))
    if field == "count":
        out(str(len(hits)))
        return
    if len(hits) != 1:
        out("<%d messages to %s>" % (len(hits), addr))
        return
    path, m, msg = hits[0]
    if field == "file":
        out(os.path.basename(path))
    elif m is not None:
        out(m.get(field, "<no %s in json>" % field))
    else:
        eml_field(msg, field)


def main():
    cmd = sys.argv[1]
    if cmd == "eml":
        eml(sys.argv[2], sys.argv[3])
    elif cmd == "json":
        out(json.load(open(sys.argv[2], encoding="utf-8")).get(sys.argv[3], ""))
    elif cmd == "sum":
        rep = json.load(open(sys.argv[2], encoding="utf-8"))
        camp = sys.argv[4] if len(sys.argv) > 4 else None
        step = int(sys.argv[5]) if len(sys.argv) > 5 else None
        n = 0
        for r in rep["rows"]:
            if camp and r["campaign"] != camp:
                continue
            if step is not None and r["step"] != step:
                continue
            n += int(r.get(sys.argv[3], 0))
        out(str(n))
    elif cmd == "send":
        show = json.load(open(sys.argv[2], encoding="utf-8"))
        key = sys.argv[5] if len(sys.argv) > 5 else "id"
        for s in show.get("sends", []):
            if s["campaign"] == sys.argv[3] and s["step"] == int(sys.argv[4]):
                v = s.get(key)
                out("" if v is None else str(v))
                return
    elif cmd == "segments":
        show = json.load(open(sys.argv[2], encoding="utf-8"))
        out("".join(x + "\n" for x in show.get("segments", [])))
    elif cmd == "find":
        find(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit("helper.py: unknown command " + cmd)


if __name__ == "__main__":
    main()
