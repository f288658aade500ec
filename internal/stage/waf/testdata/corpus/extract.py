import json, subprocess, re, os, random
random.seed(17)
OUT = "/work/wt-waf/internal/stage/waf/testdata/corpus"
def git(repo, path):
    return subprocess.run(["git", "-C", f"/work/.mirror/{repo}/repo", "show", f"HEAD:{path}"], capture_output=True).stdout.decode("utf-8", "replace")
def commit(repo):
    return subprocess.run(["git", "-C", f"/work/.mirror/{repo}/repo", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
PATT, PB_CMD, PB_XSS, FDB, WSTG = "swisskyrepo+PayloadsAllTheThings", "payloadbox+command-injection-payload-list", "payloadbox+xss-payload-list", "fuzzdb-project+fuzzdb", "OWASP+wstg"
LIC = {PATT: "MIT", PB_CMD: "MIT", PB_XSS: "MIT", FDB: "BSD-3-Clause", WSTG: "CC-BY-SA-4.0"}
def lines(repo, path):
    out = []
    for l in git(repo, path).splitlines():
        l = l.rstrip("\r")
        if l.strip() == "" or l.startswith("#") and len(l) < 3: continue
        out.append(l)
    return out
classes = {}
def add(cls, repo, paths, cap=None, filt=None):
    c = classes.setdefault(cls, {"payloads": [], "sources": []})
    got = []
    for p in paths:
        for l in lines(repo, p):
            if filt and not filt(l): continue
            got.append(l)
    seen = set(c["payloads"])
    got = [g for g in dict.fromkeys(got) if g not in seen and len(g) <= 2000]
    if cap and len(got) > cap:
        got = random.sample(got, cap)
    c["payloads"] += got
    c["sources"].append({"repo": repo.replace("+", "/"), "commit": commit(repo), "licence": LIC[repo], "files": paths, "taken": len(got)})
S = "SQL Injection/Intruder/"
add("sqli", PATT, [S+f for f in ["Auth_Bypass.txt","Generic_ErrorBased.txt","Generic_Fuzz.txt","Generic_TimeBased.txt","Generic_UnionSelect.txt","SQLi_Polyglots.txt","FUZZDB_MYSQL.txt","FUZZDB_MSSQL.txt","FUZZDB_Oracle.txt","FUZZDB_Postgres_Enumeration.txt","payloads-sql-blind-MySQL-WHERE"]], cap=500)
X = "XSS Injection/Intruders/"
add("xss", PATT, [X+f for f in ["IntrudersXSS.txt","BRUTELOGIC-XSS-STRINGS.txt","xss_payloads_quick.txt","XSS_Polyglots.txt","RSNAKE_XSS.txt","JHADDIX_XSS.txt"]], cap=350)
add("xss", PB_XSS, ["Intruder/xss-payload-list.txt"], cap=250)
add("xss-js", PATT, [X+"BRUTELOGIC-XSS-JS.txt"])
add("cmdi", PATT, ["Command Injection/Intruder/command-execution-unix.txt","Command Injection/Intruder/command_exec.txt"], cap=300)
add("cmdi", PB_CMD, ["README.md"], cap=150, filt=lambda l: not l.startswith(("#","!","[","<","|","*","-","Command")) and len(l) < 200 and any(ch in l for ch in ";|&`$\n%"))
add("cmdi", FDB, ["attack/os-cmd-execution/command-execution-unix.txt","attack/os-cmd-execution/OSCommandInject.Windows.txt"], cap=300)
add("traversal", PATT, ["Directory Traversal/Intruder/directory_traversal.txt","Directory Traversal/Intruder/deep_traversal.txt","File Inclusion/Intruders/JHADDIX_LFI.txt"], cap=400)
add("nosql", PATT, ["NoSQL Injection/Intruder/MongoDB.txt","NoSQL Injection/Intruder/NoSQL.txt"])
add("ldap", PATT, ["LDAP Injection/Intruder/LDAP_FUZZ.txt"])
add("ldap", FDB, ["attack/ldap/ldap-injection.txt"])
add("ssti", PATT, ["Server Side Template Injection/Intruder/ssti.fuzz"])
add("ssi", PATT, ["Server Side Include Injection/Files/ssi_esi.txt"])
add("crlf", PATT, ["CRLF Injection/Files/crlfinjection.txt"])
# Whole XXE documents are one payload each file? the intruder files are one per line.
add("xxe", PATT, ["XXE Injection/Intruders/XXE_Fuzzing.txt","XXE Injection/Intruders/xml-attacks.txt"])
# Windows commands and PowerShell: fuzzdb's command lists, each joined to every shell delimiter fuzzdb lists.
delims = [d for d in lines(FDB, "attack/os-cmd-execution/shell-delimiters.txt")]
wcmds = lines(FDB, "attack/os-cmd-execution/Commands-Windows.txt") + lines(FDB, "attack/os-cmd-execution/Commands-WindowsPowershell.txt")
c = classes.setdefault("cmdi-windows", {"payloads": [], "sources": []})
pl = []
for cmd in wcmds:
    for d in delims:
        pl.append(d + cmd)
pl = random.sample(sorted(set(pl)), min(400, len(set(pl))))
c["payloads"] = pl
c["sources"].append({"repo": "fuzzdb-project/fuzzdb", "commit": commit(FDB), "licence": "BSD-3-Clause", "files": ["attack/os-cmd-execution/Commands-Windows.txt","attack/os-cmd-execution/Commands-WindowsPowershell.txt","attack/os-cmd-execution/shell-delimiters.txt"], "taken": len(pl), "how": "every command joined to every shell delimiter, 400 sampled"})
# Unix commands beyond a short list: fuzzdb Commands-Linux / useful-commands-unix with delimiters
ucmds = lines(FDB, "attack/os-cmd-execution/Commands-Linux.txt") + lines(FDB, "attack/os-cmd-execution/useful-commands-unix.txt")
pl = sorted(set(d + cmd for cmd in ucmds for d in delims))
pl = random.sample(pl, min(400, len(pl)))
classes["cmdi-unix-long"] = {"payloads": pl, "sources": [{"repo": "fuzzdb-project/fuzzdb", "commit": commit(FDB), "licence": "BSD-3-Clause", "files": ["attack/os-cmd-execution/Commands-Linux.txt","attack/os-cmd-execution/useful-commands-unix.txt","attack/os-cmd-execution/shell-delimiters.txt"], "taken": len(pl), "how": "every command joined to every shell delimiter, 400 sampled"}]}
# Code blocks of the deserialisation pages (YAML, pickle, PHP, Java, .NET, Node).
def blocks(repo, path, langs=None):
    t = git(repo, path)
    out = []
    for m in re.finditer(r"```(\w*)\n(.*?)```", t, re.S):
        if langs and m.group(1).lower() not in langs: continue
        b = m.group(2).strip()
        if 10 <= len(b) <= 1500: out.append(b)
    return out
D = "Insecure Deserialization/"
pl = []
for f, langs in [("Python.md", {"yaml","python","py",""}), ("Ruby.md", {"yaml","ruby",""}), ("Java.md", {"yaml","java","xml",""}), ("PHP.md", {"php",""}), ("Node.md", {"js","javascript","json",""}), ("DotNET.md", {"xml","json","ps1","powershell",""})]:
    pl += blocks(PATT, D+f, langs)
pl.append(git(PATT, D+"Files/ruby-serialize.yaml").strip())
classes["deserialization"] = {"payloads": list(dict.fromkeys(pl)), "sources": [{"repo": "swisskyrepo/PayloadsAllTheThings", "commit": commit(PATT), "licence": "MIT", "files": [D+"*.md code blocks", D+"Files/ruby-serialize.yaml"], "taken": len(pl), "how": "every fenced code block of the pages, 10-1500 bytes"}]}
# Mail (IMAP/SMTP) injection: the WSTG page's injected strings.
t = git(WSTG, "document/4-Web_Application_Security_Testing/07-Input_Validation_Testing/10-Testing_for_IMAP_SMTP_Injection.md")
mail = []
for m in re.finditer(r"mailbox=([^&`]*)|message_id=([^`&]*%0d%0a[^`]*)|Body\s*=\s*(.*)", t):
    v = next((g for g in m.groups() if g), "")
    if "%0d%0a" in v.lower(): mail.append(v.strip())
for m in re.finditer(r"```[a-z]*\n(.*?)```", t, re.S):
    b = m.group(1).strip()
    if re.search(r"(?m)^(V\d+|[A-Z]+ )", b) and len(b) < 600: mail.append(b)
classes["mail"] = {"payloads": list(dict.fromkeys(mail)), "sources": [{"repo": "OWASP/wstg", "commit": commit(WSTG), "licence": "CC-BY-SA-4.0", "files": ["document/4-Web_Application_Security_Testing/07-Input_Validation_Testing/10-Testing_for_IMAP_SMTP_Injection.md"], "taken": len(mail)}]}
for cls, c in classes.items():
    json.dump({"class": cls, "sources": c["sources"], "payloads": c["payloads"]}, open(f"{OUT}/attack-{cls}.json", "w"), indent=0, ensure_ascii=False)
    print(cls, len(c["payloads"]))
# Benign: valid e-mail addresses and user agents.
em = lines(FDB, "attack/email/valid-email-addresses.txt")
json.dump({"class": "emails", "sources": [{"repo": "fuzzdb-project/fuzzdb", "commit": commit(FDB), "licence": "BSD-3-Clause", "files": ["attack/email/valid-email-addresses.txt"]}], "payloads": em}, open(f"{OUT}/benign-emails.json", "w"), indent=0)
ua = lines(FDB, "discovery/UserAgent/UserAgentListCommon.txt")
json.dump({"class": "user-agents", "sources": [{"repo": "fuzzdb-project/fuzzdb", "commit": commit(FDB), "licence": "BSD-3-Clause", "files": ["discovery/UserAgent/UserAgentListCommon.txt"]}], "payloads": ua}, open(f"{OUT}/benign-user-agents.json", "w"), indent=0)
print("emails", len(em), "ua", len(ua))
# Post-processing: keep the deserialisation blocks that are serialised data (YAML documents and tags,
# PHP serialize(), Java/.NET/Node JSON or XML gadgets, base64 Java streams), not the commands around them.
d = classes["deserialization"]
keep = [p for p in d["payloads"] if re.match(r"^(---|!!|- !|!ruby|O:\d|a:\d|\{|\[|rO0|<\?xml|<java|<ObjectDataProvider|<ResourceDictionary|<root|_\$\$ND_FUNC|\(dp|c__builtin__|cos\n|cposix|\w+:\s*!)", p.lstrip())]
d["payloads"] = keep
d["sources"][0]["how"] += "; only blocks that are serialised data (YAML documents or tags, PHP serialize, JSON/XML gadgets, base64 Java streams, pickle text)"
d["sources"][0]["taken"] = len(keep)
# Mail: the WSTG strings, and the same injection shape (a CRLF, a tag, a command) for every command of
# RFC 3501 section 6 (IMAP) and RFC 5321 section 4.1 (SMTP), each plain and URL-encoded.
imap = ["CAPABILITY","NOOP","LOGOUT","STARTTLS","AUTHENTICATE PLAIN","LOGIN admin secret","SELECT INBOX","EXAMINE INBOX","CREATE test","DELETE INBOX","RENAME INBOX old","SUBSCRIBE INBOX","UNSUBSCRIBE INBOX",'LIST "" *','LSUB "" *',"STATUS INBOX (MESSAGES)","APPEND INBOX {10}","CHECK","CLOSE","EXPUNGE","SEARCH ALL","FETCH 1:* (BODY[])","STORE 1 +FLAGS (\\Deleted)","COPY 1:* Trash","UID FETCH 1:* (FLAGS)"]
smtp = ["HELO attacker.example","EHLO attacker.example","MAIL FROM:<attacker@example.com>","RCPT TO:<victim@example.com>","DATA","RSET","VRFY root","EXPN staff","HELP","NOOP","QUIT"]
mail = classes["mail"]["payloads"]
for i, cmd in enumerate(imap):
    mail.append("INBOX\r\nV%d %s\r\n" % (100 + i, cmd))
    mail.append("INBOX%%0d%%0aV%d %s%%0d%%0a" % (100 + i, cmd.replace(" ", "%20")))
for cmd in smtp:
    mail.append("user@example.com\r\n%s\r\n" % cmd)
    mail.append("Subject\r\n%s\r\n" % cmd)
    mail.append("user@example.com%%0d%%0a%s%%0d%%0a" % cmd.replace(" ", "%20"))
mail.append("user@example.com\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n")
classes["mail"]["sources"].append({"how": "the WSTG injection shape (CRLF, tag, command) applied to every IMAP command of RFC 3501 section 6 and SMTP command of RFC 5321 section 4.1, plain and URL-encoded: written for this project from the RFC command lists, so a floor", "taken": len(mail) - 4})
for cls in ["deserialization", "mail"]:
    c = classes[cls]
    json.dump({"class": cls, "sources": c["sources"], "payloads": c["payloads"]}, open(f"{OUT}/attack-{cls}.json", "w"), indent=0, ensure_ascii=False)
    print(cls, len(c["payloads"]))
