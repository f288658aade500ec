#!/usr/bin/env python3
"""Prints one request per operation of an OpenAPI JSON document, for the
peer tools (wapiti takes start URLs, sqlmap one request at a time):

    METHOD<TAB>URL<TAB>JSON-BODY-or-empty

Values come from the description (example, default, first enum value) or
from the type (strings "pcscan", numbers 1). Operations whose id, path or
summary look destructive (reset, drop, createdb...) are left out, as
portcullis leaves them out."""
import json
import re
import sys
from urllib.parse import urlencode

DANGER = re.compile(r"(?i)(reset[-_]?(db|database|all)|createdb|initdb|drop|purge|truncate|wipe|delete[-_]?all)")


def resolve(doc, schema, depth=0):
    if not isinstance(schema, dict) or depth > 8:
        return schema or {}
    if "$ref" in schema:
        node = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        return resolve(doc, node, depth + 1)
    if "allOf" in schema:
        merged = {}
        for sub in schema["allOf"]:
            merged.update(resolve(doc, sub, depth + 1))
        return merged
    return schema


def sample(doc, schema, depth=0):
    s = resolve(doc, schema, depth)
    for k in ("example", "default"):
        if k in s:
            return s[k]
    if s.get("enum"):
        return s["enum"][0]
    t = s.get("type")
    if t == "object" or "properties" in s:
        return {k: sample(doc, v, depth + 1) for k, v in s.get("properties", {}).items() if depth < 4}
    if t == "array":
        return [sample(doc, s.get("items", {}), depth + 1)]
    if t in ("integer", "number"):
        return 1
    if t == "boolean":
        return True
    return "pcscan"


def main():
    doc = json.load(open(sys.argv[1]))
    base = sys.argv[2].rstrip("/")
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            if DANGER.search(path + " " + op.get("operationId", "") + " " + op.get("summary", "")):
                continue
            params = item.get("parameters", []) + op.get("parameters", [])
            p, query = path, {}
            for prm in params:
                prm = resolve(doc, prm)
                v = prm.get("example", sample(doc, prm.get("schema", {})))
                if prm.get("in") == "path":
                    p = p.replace("{" + prm["name"] + "}", str(v))
                elif prm.get("in") == "query":
                    query[prm["name"]] = v
            url = base + p + ("?" + urlencode(query) if query else "")
            body = ""
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                body = json.dumps(sample(doc, content["application/json"].get("schema", {})))
            print("\t".join([method.upper(), url, body]))


if __name__ == "__main__":
    main()
