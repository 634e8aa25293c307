"""webhook_check.py - check the requests the webhook transport sent.

  webhook_check.py LOG SPEC

LOG is tests/e2e/httpd.py's request log (one JSON object a line). SPEC is a
JSON file:

  {"now": 1772359200,
   "expect": [{"path": "/slack", "flavor": "slack", "format": "markdown",
               "text": "...", "count": 1, ...}, ...]}

For every expectation, the requests whose path starts with "path" must number
"count" (default 1), and each must carry exactly the payload the flavor's
service documents for "text" (trailing blanks removed), built here
independently of the C code:

  slack     {"text": T} or, format text, {"text": T, "mrkdwn": false}
  teams     an Adaptive Card message, a bold "title" TextBlock first if given
  discord   {"content": T, "allowed_mentions": {"parse": []}}, query wait=true
  feishu    {"msg_type": "text", "content": {"text": T}} or an interactive
            card with a markdown element (header if "title")
  dingtalk  {"msgtype": "markdown", "markdown": {"title", "text"}} or text
  wecom     {"msgtype": "markdown"|"text", ...: {"content": T}}
  telegram  {"chat_id": ID, "text": "html" or T[, "parse_mode": "HTML"]}
  generic   {"send_id", "campaign", "step", "to", "text", "format"}

With "secret", the signature is recomputed from the service's documented
recipe and must match, and must not match under a wrong secret:

  feishu    body timestamp == str(now), sign == b64(HMAC(ts "\\n" secret, ""))
  dingtalk  query timestamp == now*1000, sign == urlenc(b64(HMAC(secret,
            ts "\\n" secret)))
  generic   X-Outreach-Timestamp == now, X-Outreach-Signature ==
            "sha256=" hex(HMAC(secret, ts "." raw body))

Without "secret", no signature may be present. "query" (a list) names
strings the raw query must contain. Optional keys: "title", "chat_id",
"html", "campaign", "step", "to" (generic; "to" defaults to null).

Prints "ok N" (requests checked) or the first problem, exiting 1.
Run with /usr/bin/python3.
"""
import base64
import hashlib
import hmac
import json
import sys
import urllib.parse


class Bad(Exception):
    pass


def need(cond, what):
    if not cond:
        raise Bad(what)


def b64hmac(key, msg):
    return base64.b64encode(hmac.new(key.encode(), msg.encode(), hashlib.sha256).digest()).decode()


def derived_title(t):
    for line in t.split("\n"):
        s = line.lstrip("# \t").rstrip()
        if s:
            return s.encode()[:100].decode("utf-8", "ignore")
    return "message"


def expected(e, got):
    f = e["flavor"]
    t = e["text"].rstrip()
    md = e.get("format", "markdown") == "markdown"
    title = e.get("title")
    if f == "slack":
        return {"text": t} if md else {"text": t, "mrkdwn": False}
    if f == "teams":
        body = []
        if title:
            body.append({"type": "TextBlock", "text": title, "weight": "Bolder",
                         "size": "Medium", "wrap": True})
        body.append({"type": "TextBlock", "text": t, "wrap": True})
        return {"type": "message", "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
            "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard", "version": "1.2", "body": body}}]}
    if f == "discord":
        return {"content": t, "allowed_mentions": {"parse": []}}
    if f == "feishu":
        if not md:
            p = {"msg_type": "text", "content": {"text": t}}
        else:
            card = {}
            if title:
                card["header"] = {"title": {"tag": "plain_text", "content": title}}
            card["elements"] = [{"tag": "markdown", "content": t}]
            p = {"msg_type": "interactive", "card": card}
        if e.get("secret"):
            p["timestamp"] = got.get("timestamp")
            p["sign"] = got.get("sign")
        return p
    if f == "dingtalk":
        if md:
            return {"msgtype": "markdown",
                    "markdown": {"title": title or derived_title(t), "text": t}}
        return {"msgtype": "text", "text": {"content": t}}
    if f == "wecom":
        k = "markdown" if md else "text"
        return {"msgtype": k, k: {"content": t}}
    if f == "telegram":
        cid = e["chat_id"]
        cid = int(cid) if cid.lstrip("-").isdigit() else cid
        if md:
            return {"chat_id": cid, "text": e["html"], "parse_mode": "HTML"}
        return {"chat_id": cid, "text": t}
    if f == "generic":
        sid = got.get("send_id")
        need(isinstance(sid, int) and sid > 0, "generic send_id %r is not a send id" % (sid,))
        return {"send_id": sid, "campaign": e.get("campaign"), "step": e.get("step"),
                "to": e.get("to"), "text": t, "format": "markdown" if md else "text"}
    raise Bad("unknown flavor %s" % f)


def check_sig(e, r, got, now):
    f = e["flavor"]
    secret = e.get("secret")
    q = urllib.parse.parse_qs(r["query"], keep_blank_values=True)
    h = r["headers"]
    if f == "feishu":
        if not secret:
            need("sign" not in got and "timestamp" not in got, "feishu: unsigned wanted, got a sign")
            return
        ts = got.get("timestamp")
        need(ts == str(now), "feishu timestamp %r, want %r (seconds, a string)" % (ts, str(now)))
        need(got.get("sign") == b64hmac(ts + "\n" + secret, ""), "feishu sign does not verify")
        need(got.get("sign") != b64hmac(ts + "\n" + secret + "x", ""),
             "feishu sign verifies under a wrong secret")
    elif f == "dingtalk":
        if not secret:
            need("sign" not in q and "timestamp" not in q, "dingtalk: unsigned wanted, got a sign")
            return
        need(q.get("timestamp") == [str(now * 1000)],
             "dingtalk timestamp %r, want %d (milliseconds)" % (q.get("timestamp"), now * 1000))
        raw = [p.split("=", 1)[1] for p in r["query"].split("&") if p.startswith("sign=")]
        need(len(raw) == 1, "dingtalk query has %d signs" % len(raw))
        need(not any(c in raw[0] for c in "+/="), "dingtalk sign is not url-encoded: %s" % raw[0])
        sign = urllib.parse.unquote(raw[0])
        ts = q["timestamp"][0]
        need(sign == b64hmac(secret, ts + "\n" + secret), "dingtalk sign does not verify")
        need(sign != b64hmac(secret + "x", ts + "\n" + secret + "x"),
             "dingtalk sign verifies under a wrong secret")
    elif f == "generic":
        if not secret:
            need("x-outreach-signature" not in h and "x-outreach-timestamp" not in h,
                 "generic: unsigned wanted, got a signature")
            return
        ts = h.get("x-outreach-timestamp")
        need(ts == str(now), "generic X-Outreach-Timestamp %r, want %d" % (ts, now))
        msg = (ts + ".").encode() + r["body"].encode("utf-8")

        def sig(k):
            return "sha256=" + hmac.new(k.encode(), msg, hashlib.sha256).hexdigest()
        need(h.get("x-outreach-signature") == sig(secret),
             "generic X-Outreach-Signature does not verify")
        need(h.get("x-outreach-signature") != sig(secret + "x"),
             "generic signature verifies under a wrong secret")


def check_one(e, r, now):
    f = e["flavor"]
    need(r["method"] == "POST", "%s: method %s" % (f, r["method"]))
    ct = r["headers"].get("content-type", "")
    need(ct.startswith("application/json"), "%s: content-type %r" % (f, ct))
    try:
        got = json.loads(r["body"])
    except ValueError:
        raise Bad("%s: body is not JSON: %s" % (f, r["body"][:200]))
    need("\\u" not in r["body"], "%s: body escapes non-ASCII: %s" % (f, r["body"][:200]))
    want = expected(e, got)
    need(got == want, "%s: payload\n  got  %s\n  want %s" % (
        f, json.dumps(got, ensure_ascii=False), json.dumps(want, ensure_ascii=False)))
    if f == "discord":
        need("wait=true" in r["query"].split("&"), "discord: query %r lacks wait=true" % r["query"])
    for s in e.get("query", []):
        need(s in r["query"], "%s: query lacks %r" % (f, s))
    check_sig(e, r, got, now)


def main():
    log = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
    spec = json.load(open(sys.argv[2], encoding="utf-8"))
    now = spec["now"]
    n = 0
    try:
        for e in spec["expect"]:
            rs = [r for r in log if r["path"].startswith(e["path"])]
            need(len(rs) == e.get("count", 1), "%s: %d requests on %s, want %d" % (
                e["flavor"], len(rs), e["path"], e.get("count", 1)))
            for r in rs:
                check_one(e, r, now)
                n += 1
    except Bad as x:
        print(x)
        sys.exit(1)
    print("ok %d" % n)


if __name__ == "__main__":
    main()
