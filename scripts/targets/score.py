#!/usr/bin/env python3
"""Scores one run against a target's documented flaws and prints the
Markdown table of docs/scan.md:

    score.py FLAWS.tsv PORTCULLIS-report.json WAPITI.json SQLMAP.tsv

FLAWS.tsv: one documented flaw a line, tab-separated: name, the
portcullis check ids that name it (comma-separated), the operations it is
in ("METHOD /path", comma-separated, or * for any), a regular expression
on wapiti's vulnerability categories (or -), and "sqli" when sqlmap is the
tool for it (or -). SQLMAP.tsv: "METHOD<TAB>URL<TAB>found|not found" per
request sqlmap was given.

It also lists the portcullis findings that match no documented flaw, for
the reader to judge (each is checked by hand in docs/scan.md)."""
import json
import re
import sys


def load_flaws(path):
    out = []
    for line in open(path):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        name, checks, ops, wapiti, sqlmap = line.split("\t")
        out.append({"name": name, "checks": checks.split(","), "ops": None if ops == "*" else ops.split(","),
                    "wapiti": None if wapiti == "-" else re.compile(wapiti, re.I), "sqlmap": sqlmap == "sqli",
                    "path_hint": [o.split(" ", 1)[1] for o in ops.split(",")] if ops != "*" else None})
    return out


def path_matches(template, path):
    rx = "^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template)) + "/?$"
    return re.match(rx, path) is not None


def main():
    flaws = load_flaws(sys.argv[1])
    rep = json.load(open(sys.argv[2]))
    findings = [f for f in rep["findings"] if not f.get("blocked")]
    try:
        wap = json.load(open(sys.argv[3]))
    except (OSError, ValueError):
        wap = {"vulnerabilities": {}}
    sql = []
    try:
        for line in open(sys.argv[4]):
            m, u, r = line.rstrip("\n").split("\t")
            sql.append((m, u, r))
    except OSError:
        pass
    used = set()
    rows = []
    counts = {"portcullis": 0, "wapiti": 0, "sqlmap": 0}
    for i, fl in enumerate(flaws, 1):
        hit = None
        for j, f in enumerate(findings):
            if f["check_id"] in fl["checks"] and (fl["ops"] is None or f.get("operation") in fl["ops"]):
                used.add(j)
                hit = hit or f
        p = "found (`%s`)" % hit["check_id"] if hit else "not found"
        w = "-"
        if fl["wapiti"] is not None or True:
            w = "not found"
            for cat, items in (wap.get("vulnerabilities") or {}).items():
                if fl["wapiti"] is None or not fl["wapiti"].search(cat):
                    continue
                for it in items:
                    if fl["path_hint"] is None or any(path_matches(t, it.get("path", "")) for t in fl["path_hint"]):
                        w = "found (%s)" % cat
        s = "not found"
        for m, u, r in sql:
            path = re.sub(r"^https?://[^/]+", "", u).split("?")[0]
            if r == "found" and (fl["path_hint"] is None or any(path_matches(t, path) for t in fl["path_hint"])):
                s = "found"
        for k, v in (("portcullis", p), ("wapiti", w), ("sqlmap", s)):
            if v.startswith("found"):
                counts[k] += 1
        rows.append("| %d | %s | %s | %s | %s |" % (i, fl["name"], p, w, s))
    n = len(flaws)
    print("| # | documented flaw | portcullis | wapiti | sqlmap |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print("| | **found** | **%d of %d (%d%%)** | **%d of %d** | **%d of %d** |" % (
        counts["portcullis"], n, round(100 * counts["portcullis"] / n), counts["wapiti"], n, counts["sqlmap"], n))
    print()
    print("portcullis: %d findings (%d blocked), %d requests" % (len(rep["findings"]), len(rep["findings"]) - len(findings), rep["requests"]))
    others = {}
    for j, f in enumerate(findings):
        if j not in used:
            others.setdefault((f["check_id"], f.get("operation", "")), f)
    if others:
        print("\nFindings outside the documented flaws (judge each):")
        for (c, o), f in sorted(others.items()):
            print("- `%s` %s %s: %s" % (c, o, f.get("location", ""), f["evidence"].get("detail", "")[:200]))
    wcats = {k: len(v) for k, v in (wap.get("vulnerabilities") or {}).items() if v}
    print("\nwapiti vulnerabilities by category:", json.dumps(wcats))
    print("sqlmap: %d of %d requests injectable" % (sum(1 for x in sql if x[2] == "found"), len(sql)))


if __name__ == "__main__":
    main()
