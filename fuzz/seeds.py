#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora from fixtures/: fuzz/corpus/<target>/.

Each fixture case becomes a seed in the input format of every target it
fits (see fuzz/src/lib.rs and each target's documentation):

- scheme_<scheme>: the case's headers as header lines, for cases verified
  with that scheme;
- normalize_<vendor>: the case's raw body, for cases of that vendor;
- process_detect: the case's headers, an empty line and its body;
- process_json: the case as process_json's four NUL-separated arguments;
- config: the case's configuration as JSON and as TOML, and
  host/demo/switchboard.toml.

Seeds are named by their SHA-1, as libFuzzer names what it adds, so that
rerunning only adds what is missing. The corpora are generated, not
committed: libFuzzer also grows them with what it finds (fuzz/.gitignore).
"""

import base64
import hashlib
import json
import pathlib
import sys

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
FIXTURES = ROOT / "fixtures"

FAMILY_SCHEMES = {"varda": "varda", "atoms": "atoms", "opencx": None}


def vendor_of(case):
    """The vendor a case is processed as: named, or its only enabled one."""
    if case.get("vendor"):
        return case["vendor"]
    vendors = list(case["config"].get("vendors", {}))
    return vendors[0] if len(vendors) == 1 else None


def scheme_of(case, vendor):
    """The scheme that verifies the case, as the core resolves it."""
    settings = case["config"].get("vendors", {}).get(vendor)
    if settings is None:
        return None
    scheme = settings.get("scheme", "vendor-default")
    if isinstance(scheme, dict):
        scheme = scheme.get("type")
    if scheme in ("vendor-default", "default"):
        if vendor == "openphone":
            names = {name.lower() for name, _ in case["request"]["headers"]}
            return "standard-webhooks" if "webhook-signature" in names else "openphone"
        return FAMILY_SCHEMES.get(vendor)
    return scheme


def body_of(case):
    request = case["request"]
    if "body_base64" in request:
        return base64.b64decode(request["body_base64"])
    return request["body"].encode()


def header_lines(case):
    return "\n".join(f"{n}: {v}" for n, v in case["request"]["headers"]).encode()


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        # A JSON string without \u escapes of surrogates is a TOML basic string.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    items = (f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items())
    return "{ " + ", ".join(items) + " }"


def toml_config(config):
    lines = [f"{k} = {toml_value(v)}" for k, v in config.items() if k != "vendors"]
    if config.get("vendors") == {}:
        lines.append("vendors = {}")
    for name, settings in config.get("vendors", {}).items():
        lines.append(f"\n[vendors.{json.dumps(name)}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in settings.items()]
    return "\n".join(lines).encode() + b"\n"


def main():
    seeds = {}

    def add(target, data):
        seeds.setdefault(target, set()).add(data)

    cases = sorted(FIXTURES.rglob("*.json"))
    for path in cases:
        case = json.loads(path.read_text())
        vendor = vendor_of(case)
        body = body_of(case)
        scheme = scheme_of(case, vendor) if vendor else None
        if scheme and scheme != "none":
            add("scheme_" + scheme.replace("-", "_"), header_lines(case))
        if vendor in ("varda", "opencx", "openphone", "atoms"):
            add("normalize_" + vendor, body)
        add("process_detect", header_lines(case) + b"\n\n" + body)
        request = {"headers": case["request"]["headers"]}
        if "body_base64" in case["request"]:
            request["body_base64"] = case["request"]["body_base64"]
        else:
            request["body"] = case["request"]["body"]
        add(
            "process_json",
            b"\0".join(
                [
                    json.dumps(request).encode(),
                    (case.get("vendor") or "").encode(),
                    json.dumps(case["config"]).encode(),
                    str(case["now"]).encode(),
                ]
            ),
        )
        add("config", json.dumps(case["config"], indent=2).encode())
        add("config", toml_config(case["config"]))
    add("config", (ROOT / "host/demo/switchboard.toml").read_bytes())

    for target, datas in sorted(seeds.items()):
        directory = FUZZ / "corpus" / target
        directory.mkdir(parents=True, exist_ok=True)
        for data in datas:
            (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)
    counts = ", ".join(f"{t} {len(d)}" for t, d in sorted(seeds.items()))
    print(f"seeds from {len(cases)} fixtures: {counts}", file=sys.stderr)


if __name__ == "__main__":
    main()
