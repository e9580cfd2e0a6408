"""`make bench`: switchboard from Python on the benchmark mix, as the
hand-written handler (../shared/bench/python_handler.py) is measured: every
delivery of MIX in turn for SECONDS, after one pass to warm up, through one
configuration of every vendor of the mix (`configure`, then `process` per
delivery, the CloudEvent back as a dict).

usage: bench.py MIX.jsonl [SECONDS] [--json | --decompose]
  --json       take the event back as its JSON text (`process_to_json`)
  --decompose  where the time goes: a call that does nothing, the crossing
               per KB of body, the guest, the Python side
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the package in the source tree

from switchboard import Processor  # noqa: E402


def load(path):
    deliveries = []
    vendors = {}
    for line in open(path, encoding="utf-8"):
        d = json.loads(line)
        vendors[d["vendor"]] = {
            "secrets": [d["secret"]],
            "scheme": "vendor-default" if d["scheme"] == d["vendor"] else d["scheme"],
        }
        deliveries.append((list(d["headers"].items()), d["body"].encode("utf-8"), d["now"], d["vendor"]))
    return deliveries, {"vendors": vendors}


def per_event(deliveries, run, seconds):
    for delivery in deliveries:
        run(*delivery)
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for delivery in deliveries:
            run(*delivery)
        n += len(deliveries)
    return (time.perf_counter() - start) / n * 1e6, n


def decompose(processor, configured, deliveries, seconds):
    """The parts of a call from Python, each measured alone."""
    text = processor._text
    config = configured._config
    # A call that does nothing: no header, an empty body, refused at once
    # (no vendor detected) before any hashing or parsing.
    empty = [([], b"", 0, None)]
    nothing, _ = per_event(empty, lambda h, b, n, v: text(h, b, v, config, n), seconds)
    # The crossing: 64 KB of body, refused before it is read (too large).
    big = b" " * 65536
    small = {"vendors": json.loads(config)["vendors"], "body_limit": 1}
    small = json.dumps(small).encode("utf-8")
    crossing, _ = per_event([([], big, 0, "varda")], lambda h, b, n, v: text(h, b, v, small, n), seconds)
    per_kb = (crossing - nothing) / 64
    # The guest's share is what the component takes in wasmtime itself,
    # measured by `cargo bench` (the reused-instance line); here: the whole
    # call through the fast path, and the Python side around it.
    through, _ = per_event(deliveries, lambda h, b, n, v: text(h, b, v, config, n), seconds)
    whole, _ = per_event(deliveries, configured.process, seconds)
    mean_kb = sum(len(d[1]) for d in deliveries) / len(deliveries) / 1024
    print(f"a call that does nothing: {nothing:.2f} us")
    print(f"crossing, per KB of body: {per_kb:.2f} us (mean body {mean_kb:.1f} KB: {per_kb * mean_kb:.2f} us/event)")
    print(f"process-text, the mix: {through:.2f} us/event (the call, the crossing and the guest)")
    print(f"Python side (argument checks, json.loads of the event): {whole - through:.2f} us/event")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    if not args:
        sys.exit(__doc__)
    seconds = float(args[1]) if len(args) > 1 else 3.0
    deliveries, config = load(args[0])
    processor = Processor()
    configured = processor.configure(config)
    if "--decompose" in flags:
        decompose(processor, configured, deliveries, seconds)
        return
    run = configured.process_to_json if "--json" in flags else configured.process
    micros, n = per_event(deliveries, run, seconds)
    name = "process_to_json" if "--json" in flags else "process"
    print(f"switchboard from python (wasmtime-py, {name}): {micros:.2f} us/event over {n} events")


if __name__ == "__main__":
    main()
