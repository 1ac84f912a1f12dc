#!/usr/bin/env python3
"""Checks the crate's public API from rustdoc's JSON output.

Usage: scripts/api_check.py TARGET/doc/opencti_mock.json

The JSON is what `cargo +nightly rustdoc --lib --no-default-features -- -Z
unstable-options --output-format json` writes (scripts/test.sh runs both). Two rules,
both from issue 17's "a Rust test API as small and sure as wiremock's":

1. every item a dependent crate can reach from the root (re-exports, their methods and
   trait items) has a doc example (a fenced code block, which `cargo test --doc` runs),
   and the example uses the public API only: doc tests are compiled with the `internals`
   feature on (the package's dev-dependency on itself), so `cargo test --doc` alone would
   not catch an example that reaches into the implementation;
2. every type of this crate that a public signature or public field names is exported
   (a user can name it, e.g. to build an argument or write a helper's signature).

Prints what breaks a rule and exits 1; prints a one-line summary and exits 0 otherwise.
"""

import json
import re
import sys
from collections import Counter

# What exists only with the `internals` feature: the implementation's modules and the
# handle's methods that expose it.
INTERNAL = re.compile(
    r"opencti_mock::(amqp|buffer|config|conform|core|graphql|http|ingest|jobs|profile|scenario|stix|store|tasks|validate)::"
    r"|\.(core|broker|tasks_running)\(\)|\.read\(\||\.wait_until\("
)

# rustdoc's JSON format changes between nightlies; this reader knows these versions.
KNOWN_FORMATS = {57}


def kind_of(item):
    return next(iter(item["inner"]))


def main(path):
    doc = json.load(open(path))
    if doc.get("format_version") not in KNOWN_FORMATS:
        sys.exit(f"{path}: rustdoc JSON format {doc.get('format_version')} is not one this script reads "
                 f"({sorted(KNOWN_FORMATS)}); update scripts/api_check.py")
    index, paths = doc["index"], doc["paths"]
    root = index[str(doc["root"])]
    crate = root["crate_id"]

    # Every item reachable from the root, by the path a user writes.
    exported = {}

    def export(item_id, prefix):
        item = index[str(item_id)]
        if kind_of(item) == "use":
            use = item["inner"]["use"]
            target = use.get("id")
            if target is None or str(target) not in index:
                return
            exported[str(target)] = prefix + use["name"]
            if kind_of(index[str(target)]) == "module":
                for child in index[str(target)]["inner"]["module"]["items"]:
                    export(child, prefix + use["name"] + "::")
        else:
            exported[str(item_id)] = prefix + (item.get("name") or "")
            if kind_of(item) == "module":
                for child in item["inner"]["module"]["items"]:
                    export(child, prefix + item["name"] + "::")

    for child in root["inner"]["module"]["items"]:
        export(child, "")

    named = {}  # type id -> where a public signature or field names it

    def names_in(ty, where):
        if isinstance(ty, dict):
            if "resolved_path" in ty:
                named.setdefault(str(ty["resolved_path"]["id"]), set()).add(where)
            for value in ty.values():
                names_in(value, where)
        elif isinstance(ty, list):
            for value in ty:
                names_in(value, where)

    members = []  # (kind, path, item)
    for item_id, path_ in list(exported.items()):
        item = index.get(item_id)
        if item is None or item["crate_id"] != crate:
            continue
        kind = kind_of(item)
        inner = item["inner"][kind]
        members.append((kind, path_, item))
        if kind == "struct":
            fields = inner["kind"].get("plain", {}).get("fields", []) if isinstance(inner["kind"], dict) else []
            for field in fields:
                field_item = index[str(field)]
                if field_item.get("visibility") == "public":
                    names_in(field_item["inner"]["struct_field"], f"{path_}.{field_item['name']}")
        if kind == "enum":
            for variant in inner["variants"]:
                names_in(index[str(variant)]["inner"], f"{path_}::{index[str(variant)]['name']}")
        if kind in ("struct", "enum"):
            for impl_id in inner["impls"]:
                impl = index[str(impl_id)]["inner"]["impl"]
                if impl.get("trait") is not None:
                    continue
                for method_id in impl["items"]:
                    method = index[str(method_id)]
                    if method.get("visibility") == "public" and kind_of(method) == "function":
                        names_in(method["inner"]["function"]["sig"], f"{path_}::{method['name']}")
                        members.append(("method", f"{path_}::{method['name']}", method))
        if kind == "function":
            names_in(inner["sig"], path_)
        if kind == "trait":
            for child in inner["items"]:
                child_item = index[str(child)]
                members.append(("trait item", f"{path_}::{child_item['name']}", child_item))
                if kind_of(child_item) == "function":
                    names_in(child_item["inner"]["function"]["sig"], f"{path_}::{child_item['name']}")

    problems = []
    for kind, path_, item in members:
        if kind in ("module", "use", "variant", "struct_field", "constant", "assoc_type", "assoc_const"):
            continue
        docs = item.get("docs") or ""
        if "```" not in docs:
            problems.append(f"no runnable example: {kind} opencti_mock::{path_}")
        elif INTERNAL.search(docs):
            problems.append(f"example uses the implementation ({INTERNAL.search(docs).group(0)}): "
                            f"{kind} opencti_mock::{path_}")
    for type_id, where in sorted(named.items()):
        summary = paths.get(type_id)
        if summary and summary["crate_id"] == crate and type_id not in exported:
            problems.append(f"not exported, but named by {', '.join(sorted(where))}: {'::'.join(summary['path'])}")

    if problems:
        print("\n".join(problems))
        print(f"{len(problems)} problem(s) in the public API")
        return 1
    counts = Counter(kind for kind, _, _ in members if kind not in ("module", "use"))
    print("public API: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
          + "; each has a runnable example and every type it names is exported")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
