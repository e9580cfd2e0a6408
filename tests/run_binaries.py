#!/usr/bin/env python3
"""`make test`'s Rust suites: every test binary at once.

Builds the test binaries of the packages named on the command line (the
Makefile's TESTED selection) with `cargo test --no-run` (or, with
TEST_BINARIES set, takes cargo's messages from that build as `make build`
saved them, which spares a second cargo run), then runs all of
them at the same time, each in its package's directory as `cargo test`
would, each with TEST_THREADS test threads, plus the receiver's suite
(tests/serve.rs) a second time with its receivers on PostgreSQL
(RECEIVER_TEST_STORE=postgres). Most tests wait on a receiver, a timeout, a
runtime or a database rather than on the cores, so the binaries overlap
well; one process per binary (not one per test) keeps each binary's
compiled component and started runtimes shared by its tests.

Prints one line per binary that passed (its summary and wall time) and the
whole output of any that failed; exits 1 if any failed or outlived
SUITE_TIMEOUT seconds (600), which is killed.
"""

import json
import os
import subprocess
import sys
import tempfile
import time


def test_binaries(cargo, selection):
    """(package directory, executable) of every test binary: built first,
    or as TEST_BINARIES lists them."""
    saved = os.environ.get("TEST_BINARIES")
    if saved:
        with open(saved, encoding="utf-8") as messages:
            return executables(messages.read())
    command = [cargo, "test", "--release", "--locked", *selection, "--no-run",
               "--message-format=json-render-diagnostics"]
    built = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if built.returncode != 0:
        sys.exit(built.returncode)
    return executables(built.stdout)


def executables(messages):
    """The test executables in cargo's JSON messages."""
    binaries = []
    for line in messages.splitlines():
        message = json.loads(line)
        if (message.get("reason") == "compiler-artifact"
                and message.get("executable")
                and message["profile"]["test"]):
            directory = os.path.dirname(message["manifest_path"])
            binaries.append((directory, message["executable"]))
    return binaries


def main():
    cargo = os.environ.get("CARGO", "cargo")
    threads = os.environ.get("TEST_THREADS", "8")
    timeout = float(os.environ.get("SUITE_TIMEOUT", "600"))
    runs = []
    for directory, executable in test_binaries(cargo, sys.argv[1:]):
        # `serve-0123abcd` → `serve`
        name = os.path.basename(executable).rsplit("-", 1)[0]
        runs.append((name, directory, executable, {}))
        if name == "serve":
            runs.append((name + " (RECEIVER_TEST_STORE=postgres)", directory,
                         executable, {"RECEIVER_TEST_STORE": "postgres"}))

    started = time.monotonic()
    running = []
    for name, directory, executable, extra in runs:
        output = tempfile.TemporaryFile()
        process = subprocess.Popen(
            [executable, "--test-threads", threads, "-q"],
            cwd=directory, env={**os.environ, **extra},
            stdout=output, stderr=subprocess.STDOUT)
        running.append((name, process, output))

    failed = []
    waiting = list(running)
    while waiting:
        time.sleep(0.05)
        elapsed = time.monotonic() - started
        for run in list(waiting):
            name, process, output = run
            status = process.poll()
            if status is None and elapsed < timeout:
                continue
            if status is None:
                process.kill()
                process.wait()
                status = f"killed after {timeout:.0f} s"
            waiting.remove(run)
            output.seek(0)
            text = output.read().decode("utf-8", "replace")
            if status == 0:
                summary = [l for l in text.splitlines() if l.startswith("test result:")]
                print(f"{name}: {summary[-1] if summary else 'no summary'} "
                      f"(done at {elapsed:.1f} s)", flush=True)
            else:
                failed.append(name)
                print(f"---- {name}: FAILED ({status}) ----")
                print(text, end="" if text.endswith("\n") else "\n", flush=True)
    print(f"{len(running)} test binaries in {time.monotonic() - started:.1f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
