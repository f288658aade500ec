# Makes queries-graphql.json and queries-odata.json (benign API query
# languages, issue 17) from checkouts of graphql/graphql-spec and
# oasis-tcs/odata-abnf under /work/.mirror (run once; not part of the build).
import json, re, subprocess
import yaml

def git(repo, *args):
    return subprocess.run(["git", "-C", f"/work/.mirror/{repo}/repo", *args], capture_output=True).stdout.decode()

def show(repo, path):
    return git(repo, "show", f"HEAD:{path}")

GQL = "graphql+graphql-spec"
docs = []
files = ["Section 2 -- Language.md", "Section 3 -- Type System.md", "Section 4 -- Introspection.md",
         "Section 5 -- Validation.md", "Section 6 -- Execution.md", "Section 7 -- Response.md"]
for f in files:
    for m in re.finditer(r"```graphql( [a-z-]+)?\n(.*?)```", show(GQL, "spec/" + f), re.S):
        body = m.group(2).strip()
        # Executable documents (operations and fragments), examples and
        # counter-examples alike: a counter-example breaks a validation
        # rule, not the grammar, and is as benign for a WAF.
        if re.match(r"^(query|mutation|subscription|fragment|\{|\")", body) and body not in docs:
            docs.append(body)
json.dump({"class": "graphql", "sources": [{"repo": "graphql/graphql-spec", "commit": git(GQL, "rev-parse", "HEAD").strip(),
           "licence": "OWFa-1.0 (specification text)", "files": ["spec/" + f for f in files], "taken": len(docs)}],
           "payloads": docs}, open("queries-graphql.json", "w"), indent=0, ensure_ascii=False)

OD = "oasis-tcs+odata-abnf"
class L(yaml.SafeLoader):
    pass
L.yaml_implicit_resolvers = {k: [(t, r) for t, r in v if t != "tag:yaml.org,2002:timestamp"]
                             for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
targets = []
odfiles = ["abnf/odata-abnf-testcases.yaml", "abnf/odata-aggregation-testcases.yaml"]
for f in odfiles:
    for t in yaml.load(show(OD, f).replace("\t", "  "), Loader=L)["TestCases"]:
        if "FailAt" in t:
            continue  # negative cases: input the grammar refuses
        rule, inp = t["Rule"], str(t["Input"])
        if rule in ("odataRelativeUri", "odataUri") and "?" in inp:
            tgt = re.sub(r"^https?://[^/]+/(OData/OData\.svc/)?", "", inp)
        elif rule in ("queryOptions", "filter", "expand", "select", "orderby", "search", "compute", "apply"):
            tgt = "Products?" + inp
        elif rule in ("boolCommonExpr", "commonExpr"):
            tgt = "Products?$filter=" + inp
        else:
            continue
        if tgt not in targets:
            targets.append(tgt)
json.dump({"class": "odata", "sources": [{"repo": "oasis-tcs/odata-abnf", "commit": git(OD, "rev-parse", "HEAD").strip(),
           "licence": "OASIS IPR Policy (copyright OASIS Open; copies with this notice)", "files": odfiles, "taken": len(targets)}],
           "payloads": targets}, open("queries-odata.json", "w"), indent=0, ensure_ascii=False)
print(len(docs), len(targets))
