#!/bin/sh
# Runs every fuzz target (or the ones named) for SECONDS each and prints
# how many inputs each executed; exits 1 if any target failed (a panic, a
# timeout of 10 s on one input, or running out of memory), after showing
# where its log and the failing input are.
#
#     fuzz/run.sh SECONDS [TARGET...]
#
# `make fuzz` and `make fuzz-smoke` call it. Seeds come from fixtures/
# (fuzz/seeds.py) into fuzz/corpus/<target>/, which libFuzzer grows with
# every input that finds new coverage; failing inputs land in
# fuzz/artifacts/<target>/. Everything is built in fuzz/target.
#
# Environment: CARGO (cargo), FUZZ_FEATURES (features of the fuzz crate,
# such as secret-leak), FUZZ_ARGS (more libFuzzer flags), FUZZ_JOBS (targets
# run at once; the number of cores), FUZZ_ONCE (when set, as `make
# fuzz-smoke` sets it: skip the run if these exact target binaries already
# passed a run of SECONDS; any change to the core or a target rebuilds them
# and so runs it again).

set -eu
cd "$(dirname "$0")/.."

if [ $# -lt 1 ]; then
    echo "usage: fuzz/run.sh SECONDS [TARGET...]" >&2
    exit 2
fi
seconds=$1
shift
cargo=${CARGO:-cargo}

if ! $cargo fuzz --version >/dev/null 2>&1; then
    $cargo install cargo-fuzz --locked
fi
# cargo-fuzz has no --locked: refuse a fuzz/Cargo.lock that needs changes.
$cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null
# Stable Rust: no sanitizer (they need nightly); debug assertions and
# overflow checks on, so that an overflow is a crash rather than a wrap.
flags="--sanitizer none --debug-assertions"
if [ -n "${FUZZ_FEATURES:-}" ]; then
    flags="$flags --features $FUZZ_FEATURES"
fi
# shellcheck disable=SC2086 # $flags is a list of options
$cargo fuzz build $flags

targets=${*:-$($cargo fuzz list)}
# The binaries cargo fuzz built, run directly (`cargo fuzz run` would check
# the build again for each), as many at a time as there are cores.
bin=fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release
jobs=${FUZZ_JOBS:-$(nproc)}
logs=fuzz/target/logs
mkdir -p "$logs"

# fuzz TARGET: runs it for $seconds, its log in $logs/TARGET.log and its
# exit status and time in $logs/TARGET.status.
fuzz() {
    mkdir -p "fuzz/corpus/$1" "fuzz/artifacts/$1"
    start=$(date +%s)
    code=0
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    "$bin/$1" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="fuzz/artifacts/$1/" ${FUZZ_ARGS:-} "fuzz/corpus/$1" \
        >"$logs/$1.log" 2>&1 || code=$?
    echo "$code $(($(date +%s) - start))" >"$logs/$1.status"
}

# What FUZZ_ONCE compares: the binaries to run (the helpers' code is in
# them), the fixtures the seeds come from, and SECONDS. A binary by its
# inode, size and modification time: cargo writes a new file whenever it
# links one again, and hashing 13 binaries of 20 MB cost a second of CPU.
stamp=$logs/passed
digest=$({ (cd "$bin" && stat -c '%n %i %s %.9Y' $targets); find fixtures -type f | sort | xargs sha256sum; } |
    sha256sum | cut -d' ' -f1)-$seconds
if [ -n "${FUZZ_ONCE:-}" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$digest" ]; then
    echo "fuzz: these exact $(echo $targets | wc -w) target binaries passed a ${seconds} s run on these fixtures before; not run again"
    exit 0
fi
rm -f "$stamp"

# The helpers' own tests (the input formats, the RFC 3339 check).
$cargo test --locked -q --manifest-path fuzz/Cargo.toml --lib >&2
python3 fuzz/seeds.py

running=0
for target in $targets; do
    fuzz "$target" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait
        running=0
    fi
done
wait

failed=""
printf '%-26s %12s %10s %7s\n' target executions "exec/s" seconds
for target in $targets; do
    log=$logs/$target.log
    read -r code elapsed <"$logs/$target.status"
    status=""
    if [ "$code" -ne 0 ]; then
        status="FAILED"
        failed="$failed $target"
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    printf '%-26s %12s %10s %7s %s\n' "$target" "${runs:-?}" "${rate:-?}" "$elapsed" "$status"
done

if [ -n "$failed" ]; then
    for target in $failed; do
        echo
        echo "--- $target failed; its log is $logs/$target.log:"
        grep -E -A 12 'panicked at|ERROR: libFuzzer|==[0-9]+== ERROR' "$logs/$target.log" | head -40
        grep -E 'Test unit written to' "$logs/$target.log" || true
    done
    exit 1
fi
echo "$digest" >"$stamp"
