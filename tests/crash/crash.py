"""crash.py - the data and the verdict of tests/crash/crash.sh (run with
/usr/bin/python3; standard library only).

  crash.py people N AT CSV JSONL
      contacts c00001..cN (each with an email and a phone) and one signup
      event per contact at AT: the campaign is one email and one sms each
  crash.py port
      a free loopback TCP port (for smtp-sink, which cannot report one)
  crash.py check N SENDS RELEASES KILLS STARTS HTTPLOG MAILDIR MODE
      the verdict on one variant. Inputs (written by crash.sh from the store
      with portable SQL, so that SQLite and PostgreSQL read alike):
        SENDS     "id|contact|campaign|state" for every send
        RELEASES  "send_id|pid" for every claim released because its worker
                  died ("worker H:P (pid P) died; claim released")
        KILLS     "k|pid|claims" per worker process killed: the kill's
                  number, the worker's pid and how many sends it held
                  'sending' when it died
        STARTS    "k|ms": when the run ended by kill k was started (epoch ms)
        HTTPLOG   tests/e2e/httpd.py's request log (the sms sink)
        MAILDIR   smtp-sink's -d directory (the email sink), one file per
                  mail transaction; the send id is in the Message-ID
                  <outreach.ID.HASH@domain> the worker gives every email
        MODE      kill: duplicates are allowed where a release after a kill
                  explains them; clean: no duplicate at all (SIGTERM, disk
                  full, locked store)
      Checks: every send is in a final state; the 2N sends are there, one
      email and one sms per contact; each reached its sink at least once
      (none lost) and on the right channel for the right contact; a send
      received k > 1 times has at least k - 1 releases after kills of a
      worker that held it (at-least-once only across a crash). Each copy
      but the last (the one recorded) is charged to the kill of the run
      that sent it: the latest run, among those whose kill released the
      send, that had started when the sink got the copy (a run that
      claimed a send and died before sending it released it too, so the
      order of the releases alone would charge the wrong kill). No kill
      has more duplicates than its workers held claims; with CRASH_STRICT
      set and not 0, none more than CRASH_CONNS (the transports'
      connections: one message per connection between the server's
      acceptance and the store's record). Prints one
      line of JSON with the numbers; exit 1 and a one-line reason on stderr
      when a check fails.
"""
import collections
import json
import os
import re
import socket
import sys

FINAL = {"sent", "failed", "suppressed", "expired", "cancelled"}
MSGID = re.compile(r"^Message-ID:\s*<outreach\.(\d+)\.[0-9a-f]+@", re.I | re.M)
RCPT = re.compile(r"^X-Rcpt-Args:\s*<([^>]*)>", re.M)


def people(n, at, csv_path, jsonl_path):
    with open(csv_path, "w") as c, open(jsonl_path, "w") as e:
        c.write("id,name,email,phone,timezone,locale\n")
        for i in range(1, n + 1):
            c.write("c%05d,User %05d,u%05d@example.com,+1212%07d,America/New_York,en\n"
                    % (i, i, i, i))
            e.write(json.dumps({"id": "s%05d" % i, "contact": "c%05d" % i,
                                "type": "signup", "at": at}) + "\n")


def rows(path, ncol):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                out.append(line.split("|", ncol - 1))
    return out


def fail(msg):
    sys.stderr.write(msg + "\n")
    sys.exit(1)


def check(n, sends_p, rel_p, kills_p, starts_p, httplog, maildir, mode):
    sends = {int(r[0]): (r[1], r[2], r[3]) for r in rows(sends_p, 4)}
    want = 2 * n
    if len(sends) != want:
        fail("%d sends in the store, want %d (one email and one sms per contact)"
             % (len(sends), want))
    states = collections.Counter(s for _, _, s in sends.values())
    notfinal = {s: k for s, k in states.items() if s not in FINAL}
    if notfinal:
        fail("sends not in a final state: %s" % dict(notfinal))
    if states.get("sent", 0) != want:
        fail("only %d of %d sends are sent: %s" % (states.get("sent", 0), want, dict(states)))
    per = collections.Counter((c, camp) for c, camp, _ in sends.values())
    if len(per) != want or max(per.values()) != 1:
        fail("not exactly one send per contact and campaign")

    # what the sinks received, by send id
    got = collections.Counter()
    at = collections.defaultdict(list)  # send -> when the sink got each copy (epoch s)
    for line in open(httplog, encoding="utf-8"):
        if not line.strip():
            continue
        req = json.loads(line)
        body = json.loads(req["body"])
        sid = int(body["send"])
        if req["headers"].get("x-request-id") != str(sid):
            fail("sms request for send %d carries X-Request-Id %r"
                 % (sid, req["headers"].get("x-request-id")))
        c, camp, _ = sends.get(sid, ("?", "?", "?"))
        if camp != "text" or body["to"] != "+1212%07d" % int(c[1:]):
            fail("sms sink: send %d (%s %s) went to %s" % (sid, camp, c, body["to"]))
        got[sid] += 1
        at[sid].append(float(req["t"]))
    nmail = 0
    for name in os.listdir(maildir):
        with open(os.path.join(maildir, name), "rb") as f:
            text = f.read(16384).decode("utf-8", "replace")
            mtime = os.fstat(f.fileno()).st_mtime
        m = MSGID.search(text)
        if not m:
            fail("email sink: %s has no outreach Message-ID" % name)
        sid = int(m.group(1))
        rc = RCPT.search(text)
        c, camp, _ = sends.get(sid, ("?", "?", "?"))
        if camp != "mail" or not rc or rc.group(1) != "u%05d@example.com" % int(c[1:]):
            fail("email sink: send %d (%s %s) went to %s"
                 % (sid, camp, c, rc.group(1) if rc else "?"))
        got[sid] += 1
        at[sid].append(mtime)
        nmail += 1
    lost = sorted(set(sends) - set(got))
    if lost:
        fail("%d sends never reached their sink (lost), e.g. %s" % (len(lost), lost[:5]))
    extra = sorted(set(got) - set(sends))
    if extra:
        fail("the sinks got sends the store does not know: %s" % extra[:5])

    released = collections.defaultdict(list)  # send -> pids that died holding it
    for sid, pid in rows(rel_p, 2):
        released[int(sid)].append(int(pid))
    kills = rows(kills_p, 3)
    kill_of = {int(p): k for k, p, _ in kills}
    started = {k: int(ms) / 1000.0 for k, ms in rows(starts_p, 2)}
    claims_at = collections.Counter()
    for k, _, c in kills:
        claims_at[k] += int(c)
    dups = {sid: k - 1 for sid, k in got.items() if k > 1}
    per_kill = collections.Counter()
    for sid, extra_copies in sorted(dups.items()):
        if mode != "kill":
            fail("send %d reached its sink %d times with no crash to explain it"
                 % (sid, extra_copies + 1))
        pids = [p for p in released[sid] if p in kill_of]
        if len(pids) < extra_copies:
            fail("send %d reached its sink %d times but only %d killed workers held it "
                 "(send_log: released from pids %s)" % (sid, extra_copies + 1, len(pids),
                                                        released[sid]))
        ks = sorted({kill_of[p] for p in pids}, key=lambda k: started.get(k, 0.0))
        for t in sorted(at[sid])[:extra_copies]:
            runs = [k for k in ks if started.get(k, 0.0) <= t]
            if not runs:
                fail("send %d: a copy reached its sink at %.3f, before any run whose kill "
                     "released it had started" % (sid, t))
            ks.remove(runs[-1])
            per_kill[runs[-1]] += 1
    # a kill's duplicates are sends its workers held: never more than that
    over = [k for k in per_kill if per_kill[k] > claims_at[k]]
    if over:
        fail("kill %s: %d duplicates but its workers held only %d claims"
             % (over[0], per_kill[over[0]], claims_at[over[0]]))
    claims = list(claims_at.values())
    # the bound: at most one per transport connection (CRASH_CONNS:
    # the connections the config allows), see docs/CRASH.md
    conns = int(os.environ.get("CRASH_CONNS", "0"))
    over_conns = sum(1 for k in per_kill.values() if conns and k > conns)
    if over_conns and os.environ.get("CRASH_STRICT", "") not in ("", "0"):
        fail("%d kills duplicated more sends than the %d transport connections (max %d)"
             % (over_conns, conns, max(per_kill.values())))
    print(json.dumps({
        "kills_seen": len(claims_at),
        "sends": want,
        "received": sum(got.values()),
        "emails": nmail,
        "duplicates": sum(dups.values()),
        "dup_max_per_kill": max(per_kill.values()) if per_kill else 0,
        "kills_with_dups": len(per_kill),
        "claims_max_at_kill": max(claims) if claims else 0,
        "claims_mean_at_kill": round(sum(claims) / len(claims), 1) if claims else 0,
        "connections": conns,
        "kills_over_connections": over_conns,
        "released": sum(len(v) for v in released.values()),
        "per_kill": dict(per_kill),
        "lost": 0,
    }))


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "people" and len(sys.argv) == 6:
        people(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
    elif cmd == "port" and len(sys.argv) == 2:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
        s.close()
    elif cmd == "check" and len(sys.argv) == 10:
        check(int(sys.argv[2]), *sys.argv[3:10])
    else:
        fail("usage: crash.py people N AT CSV JSONL | port | "
             "check N SENDS RELEASES KILLS STARTS HTTPLOG MAILDIR MODE")


if __name__ == "__main__":
    main()
