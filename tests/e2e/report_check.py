#!/usr/bin/python3
"""report_check.py - check `outreach report --format html` against the json.

  report_check.py REPORT.html REPORT.json WORKDIR

1. The file alone: one self-contained page (UTF-8 meta, inline style, no
   script, no URL, no src/href), every name escaped.
2. Headless Chromium (Debian's /usr/bin/chromium), with every host name
   unresolvable so nothing could come from a network, dumps the DOM: each
   chart is an <svg> whose bars (<rect data-series data-value>) carry the
   numbers of the json (the funnel of every campaign, sends and replies per
   day, treated against holdout).
3. Chromium's screenshot of the page is decoded (PNG by hand: zlib and
   struct) and must show the bars: many pixels of each series' colour.

Without /usr/bin/chromium, steps 2 and 3 are skipped with a "# skipped:
no chromium" line on stdout. Exits non-zero with the reason on stderr.
"""
import html.parser
import json
import os
import struct
import subprocess
import sys
import zlib

CHROMIUM = "/usr/bin/chromium"
COLORS = {  # as cmd_report_html.c draws them
    "sent": (0x25, 0x63, 0xEB),
    "replied": (0xEA, 0x58, 0x0C),
    "converted": (0x16, 0xA3, 0x4A),
    "opened": (0x7C, 0x3A, 0xED),
}


def die(msg):
    sys.stderr.write("report_check: " + msg + "\n")
    sys.exit(1)


class Charts(html.parser.HTMLParser):
    """Every <svg data-chart> with its bars, and every text node."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.charts = []  # (attrs, [bar attrs])
        self.cur = None
        self.tags = {}
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "svg" and "data-chart" in a:
            self.cur = (a, [])
            self.charts.append(self.cur)
        elif tag == "rect" and self.cur is not None and "data-series" in a:
            self.cur[1].append(a)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "svg":
            self.cur = None

    def handle_endtag(self, tag):
        if tag == "svg":
            self.cur = None

    def handle_data(self, data):
        self.text.append(data)


def parse(text):
    p = Charts()
    p.feed(text)
    p.close()
    return p


def bars(chart):
    """series -> value (the funnel and goal charts have one bar each)"""
    out = {}
    for b in chart[1]:
        out[b["data-series"]] = float(b["data-value"])
    return out


def check_dom(p, rep, where):
    funnels = {c[0].get("data-campaign"): c for c in p.charts if c[0]["data-chart"] == "funnel"}
    names = [c["campaign"] for c in rep["campaigns"]]
    if sorted(funnels) != sorted(names):
        die("%s: funnel charts for %r, want %r" % (where, sorted(funnels), sorted(names)))
    for c in rep["campaigns"]:
        got = bars(funnels[c["campaign"]])
        want = {k: c[k] for k in ("sent", "delivered", "opened", "clicked", "replied")}
        if c["goal"]:
            want["converted"] = c["converted"]
        if got != {k: float(v) for k, v in want.items()}:
            die("%s: funnel of %r: %r, want %r" % (where, c["campaign"], got, want))
        if c["goal"] and c["holdout"]:
            goal = [g for g in p.charts if g[0]["data-chart"] == "goal"
                    and g[0].get("data-campaign") == c["campaign"]]
            if len(goal) != 1:
                die("%s: %d goal charts for %r" % (where, len(goal), c["campaign"]))
            g = bars(goal[0])
            want = {"treated": c["conversion_rate"], "holdout": c["holdout"]["conversion_rate"]}
            for v in c["variants"]:
                want["variant:" + v["variant"]] = v["conversion_rate"]
            if set(g) != set(want) or any(abs(g[k] - want[k]) > 1e-5 for k in want):
                die("%s: goal chart of %r: %r, want %r" % (where, c["campaign"], g, want))
    daily = [c for c in p.charts if c[0]["data-chart"] == "daily"]
    if len(daily) != 1:
        die("%s: %d daily charts" % (where, len(daily)))
    got = sorted((b["data-date"], b["data-series"], int(b["data-value"])) for b in daily[0][1])
    want = sorted([(d["date"], "sent", d["sent"]) for d in rep["daily"]] +
                  [(d["date"], "replied", d["replied"]) for d in rep["daily"]])
    if got != want:
        die("%s: daily bars %r, want %r" % (where, got, want))


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG"""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        die("%s is not a PNG" % path)
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        die("screenshot PNG: depth %d colour type %d interlace %d not handled" %
            (depth, ctype, interlace))
    bpp = 4 if ctype == 6 else 3
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 255
        rows.append(line)
        prev = line
    return w, h, rows, bpp


def colour_counts(path):
    w, h, rows, bpp = png_pixels(path)
    counts = {k: 0 for k in COLORS}
    ink = 0
    for line in rows:
        for x in range(0, w * bpp, bpp):
            px = (line[x], line[x + 1], line[x + 2])
            if px != (255, 255, 255):
                ink += 1
            for k, c in COLORS.items():
                if all(abs(px[i] - c[i]) <= 6 for i in range(3)):
                    counts[k] += 1
    return w, h, ink, counts


def chromium(work, *args):
    env = dict(os.environ, HOME=work)
    cmd = [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
           "--disable-dev-shm-usage", "--user-data-dir=" + os.path.join(work, "chromium"),
           "--host-resolver-rules=MAP * ~NOTFOUND"] + list(args)
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        die("chromium %s: timed out" % args[0])
    return r


def main():
    page, rep_path, work = sys.argv[1], sys.argv[2], sys.argv[3]
    text = open(page, encoding="utf-8").read()
    rep = json.load(open(rep_path, encoding="utf-8"))
    # 1. the file alone
    low = text.lower()
    if not low.startswith("<!doctype html>") or '<meta charset="utf-8">' not in low:
        die("not an HTML5 page declaring UTF-8")
    for bad in ("<script", "http:", "https:", "//", " src=", " href=", "url(", "@import", "<link",
                "<img", "<iframe", "<object"):
        if bad in low:
            die("the page is not self-contained: it has %r" % bad)
    if "<b>" in text or '"x"' in text.replace("&quot;x&quot;", ""):
        die("a campaign name is not escaped")
    if "春季回访, &lt;b&gt;&quot;x&quot;&lt;/b&gt; &amp; co" not in text:
        die("the escaped campaign name is missing")
    p = parse(text)
    if p.tags.get("style", 0) != 1:
        die("want one inline <style>")
    check_dom(p, rep, "the file")
    if not any("春季回访" in t for t in p.text):
        die("the Chinese name is not in the text")
    if not os.access(CHROMIUM, os.X_OK):
        print("# skipped: no chromium (%s): the page was checked, not rendered" % CHROMIUM)
        return
    url = "file://" + os.path.abspath(page)
    # 2. the DOM as Chromium built it
    r = chromium(work, "--dump-dom", url)
    dom = r.stdout.decode("utf-8", "replace")
    if r.returncode != 0 or "<svg" not in dom:
        die("chromium --dump-dom: exit %d: %s" % (r.returncode, r.stderr.decode()[-300:]))
    d = parse(dom)
    check_dom(d, rep, "chromium's DOM")
    if "春季回访, <b>\"x\"</b> & co" not in "".join(d.text):
        die("chromium's DOM does not show the campaign name as text")
    # 3. what Chromium drew
    shot = os.path.join(work, "report.png")
    r = chromium(work, "--screenshot=" + shot, "--window-size=1280,2400",
                 "--hide-scrollbars", url)
    if not os.path.exists(shot):
        die("chromium --screenshot wrote nothing: exit %d: %s" %
            (r.returncode, r.stderr.decode()[-300:]))
    w, h, ink, counts = colour_counts(shot)
    print("# screenshot %dx%d: %d non-white pixels, by colour %r" % (w, h, ink, counts))
    if ink < 5000:
        die("the screenshot is blank (%d non-white pixels)" % ink)
    for k in ("sent", "replied", "converted", "opened"):
        if counts[k] < 150:
            die("the screenshot shows no %s bars (%d pixels of %s)" % (k, counts[k], COLORS[k]))
    print("ok: %d charts checked in the file and in chromium's DOM, rendered" % len(d.charts))


if __name__ == "__main__":
    main()
