# Makes benign-json-schemas.json (JSON Schema documents as API bodies carry
# them: schema registries, form builders, LLM tool definitions; issue 17)
# from a checkout of json-schema-org/JSON-Schema-Test-Suite under
# /work/.mirror (run once; not part of the build): every distinct "schema"
# of the draft 2020-12 and draft 7 test files, optional ones included,
# but those with control characters or __proto__ (see below), and the
# suite's local server renamed.
import json, subprocess

REPO = "json-schema-org+JSON-Schema-Test-Suite"

def git(*args):
    return subprocess.run(["git", "-C", f"/work/.mirror/{REPO}/repo", *args], capture_output=True).stdout.decode()

files = sorted(f for f in git("ls-tree", "-r", "--name-only", "HEAD").split()
               if (f.startswith("tests/draft2020-12/") or f.startswith("tests/draft7/")) and f.endswith(".json"))
docs, seen = [], set()
for f in files:
    for group in json.loads(git("show", f"HEAD:{f}")):
        s = group["schema"]
        if not isinstance(s, dict):
            continue  # true and false are schemas too, but no body
        text = json.dumps(s, ensure_ascii=False, sort_keys=True)
        if "__proto__" in text or any(ord(c) < 0x20 for c in json.dumps(s, ensure_ascii=False)
                                          .encode().decode("unicode_escape", "ignore")):
            # The suite tests validators with control characters, NUL and
            # __proto__ in names and values: what the gateway refuses by
            # design, no benign body.
            continue
        # The suite's remote references point at its own local server
        # (http://localhost:1234, a request to loopback to the SSRF
        # rules); a published schema names its public home.
        text = text.replace("http://localhost:1234", "https://schemas.example.com")
        if text not in seen:
            seen.add(text)
            docs.append(text)
json.dump({"class": "json-schemas", "sources": [{"repo": "json-schema-org/JSON-Schema-Test-Suite",
           "commit": git("rev-parse", "HEAD").strip(), "licence": "MIT", "files": files, "taken": len(docs)}],
           "payloads": docs}, open("benign-json-schemas.json", "w"), indent=0, ensure_ascii=False)
print(len(docs))
