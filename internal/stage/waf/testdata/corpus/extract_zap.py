# Makes attack-zap-*.json from the payloads OWASP ZAP's active scan rules
# send (zaproxy/zap-extensions, Apache-2.0), expanded from the rules'
# sources into the literal values ZAP puts into a parameter (templates
# filled with fixed values: delay 5, marker "zapmarker", callback host
# oob.example.com) and saved as zap-payloads.json beside the checkout.
# Run once; not part of the build.
#
# Left out as no attack on their own: the classes whose payloads are
# plain URLs (remote file include and open redirect probes: a URL is an
# ordinary value), XPath's bad-character probes, pure arithmetic ("10/2":
# ZAP compares the answers), the template probe without any template
# syntax ("zj 2614*1450 zj"), and a header line without a line break.
import json, re, sys

src = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "/tmp/zap-payloads.json"))
groups = {
    "zap-sqli": ["sqli"], "zap-xss": ["xss"], "zap-cmdi": ["cmdi"], "zap-ssti": ["ssti", "el"],
    "zap-traversal": ["traversal"],
    "zap-misc": ["ldap", "ssrf-metadata", "xslt", "ssi", "crlf", "log4shell", "code", "format-string",
                 "nosql", "shellshock", "xxe", "spring4shell"],
}

def keep(p):
    t = p.strip()
    if re.fullmatch(r"\d+\s*[-+*/]\s*\d+", t):
        return False
    if re.fullmatch(r"""['"1]?\s*zj \d+\*\d+ zj""", t):
        return False
    if re.fullmatch(r"(?i)set-cookie:.*", t):
        return False
    return True

for name, classes in groups.items():
    payloads = []
    for c in classes:
        for p in src["classes"].get(c, []):
            if keep(p) and p not in payloads:
                payloads.append(p)
    json.dump({"class": name, "sources": [{"repo": src["source"]["repo"], "commit": src["source"]["commit"],
               "licence": src["source"]["licence"], "files": ["addOns/ascanrules*/src/main/java/**/*ScanRule.java"],
               "classes": classes, "taken": len(payloads)}], "payloads": payloads},
              open(f"attack-{name}.json", "w"), indent=0, ensure_ascii=False)
    print(name, len(payloads))
