#!/usr/bin/env bash
# Captures real simulator answers as fuzz seeds (fuzz/corpus/<target>/seed-*) and the
# adverse-media bench fixture (crates/deepidv-core/benches/fixtures/adverse_media_many.json).
# Needs curl. Re-running overwrites the same files (the simulator is deterministic, apart
# from job ids, request ids and timestamps).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cargo build --release -q -p deepidv-mock
key=sk_test_deepidv_sandbox
log="$(mktemp)"
./target/release/deepidv-mock --addr 127.0.0.1:0 --pending 300ms --processing 300ms >"$log" &
mock=$!
trap 'kill $mock 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q '^listening on' "$log" && break; sleep 0.05; done
url="$(sed -n 's/^listening on //p' "$log")"
echo "simulator at $url"

c=fuzz/corpus
mkdir -p $c/parse_job $c/parse_response $c/error_body $c/job_id $c/poller
mkdir -p crates/deepidv-core/benches/fixtures

create() { # first last -> job id
  curl -s -X POST "$url/v1/screening/adverse-media" -H "x-api-key: $key" -H 'content-type: application/json' \
    -d "{\"firstName\":\"$1\",\"lastName\":\"$2\",\"email\":\"a@example.com\",\"dateOfBirth\":\"1980-01-31\",\"country\":\"GB\"}" \
    | sed -n 's/.*"jobId":"\([^"]*\)".*/\1/p'
}
get() { curl -s "$url/v1/async-jobs/$1" -H "x-api-key: $key"; }
geti() { curl -si "$url/v1/async-jobs/$1" -H "x-api-key: ${2:-$key}"; }
fault() { curl -s -X POST "$url/__mock/faults" -d "{\"scope\":\"all\",\"fault\":$1,\"times\":1}" >/dev/null; }

ada="$(create Ada Lovelace)"; clean="$(create Ada Clean)"; fail="$(create Ada Fail)"; many="$(create Many Smith)"
get "$ada" >$c/parse_job/seed-pending.json
geti "$ada" >$c/parse_response/seed-200-pending
sleep 0.35
get "$ada" >$c/parse_job/seed-processing.json
sleep 0.4
get "$ada" >$c/parse_job/seed-ready.json
get "$clean" >$c/parse_job/seed-ready-clean.json
get "$fail" >$c/parse_job/seed-failed.json
geti "$clean" >$c/parse_response/seed-200-ready-clean
geti "$fail" >$c/parse_response/seed-200-failed
get "$many" >crates/deepidv-core/benches/fixtures/adverse_media_many.json
fault '"legacy"'; get "$ada" >$c/parse_job/seed-legacy.json
fault '{"unknownStatus":"on_hold"}'; get "$ada" >$c/parse_job/seed-unknown-status.json
fault '"wrongShape"'; get "$ada" >$c/parse_job/seed-wrong-shape.json
fault '"malformed"'; geti "$ada" >$c/parse_response/seed-malformed
geti job_doesnotexist000000000000 >$c/error_body/seed-404
geti "$ada" sk_test_unknown >$c/error_body/seed-401
curl -si "$url/v1/async-jobs/$ada" >$c/error_body/seed-403
geti 'bad%20id' >$c/error_body/seed-400
fault '{"rateLimit":{"seconds":2}}'; geti "$ada" >$c/error_body/seed-429-seconds
fault '{"rateLimit":{"httpDateIn":2}}'; geti "$ada" >$c/error_body/seed-429-date
fault '{"status":503,"body":"html"}'; geti "$ada" >$c/error_body/seed-503-html
fault '{"status":500,"body":"text"}'; geti "$ada" >$c/error_body/seed-500-text
cp $c/error_body/seed-429-seconds $c/error_body/seed-404 $c/parse_response/

printf '%s' "$ada" >$c/job_id/seed-real
printf '%s' 'job_a%2F..%2Fadmin' >$c/job_id/seed-encoded
printf '%s' 'ünï;x=[1]' >$c/job_id/seed-unicode
printf '%s' '../admin' >$c/job_id/seed-traversal

# Poller scripts (format in fuzz/checks.rs, `poller`): 20 config bytes, a seed, a start
# time, then steps. Body indices: 0 pending, 1 processing, 2 ready, 3 failed.
cfg_wait='\x01\x00\x01\x02\x02\x64\x00\x05\x03\x05\x10\x3c\x1d'
seed8='\x2a\x00\x00\x00\x00\x00\x00\x00'
start4='\x10\x27\x00\x00'
# wait: pending, processing, ready (each answered at once, each wait slept exactly)
printf "$cfg_wait$seed8$start4"'\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x02' >$c/poller/seed-wait-ready
# wait: 503, 429 with Retry-After 2, connection reset, then failed
printf "$cfg_wait$seed8$start4"'\x00\x04\x0c\x0f\xff\x00\x00\x04\x09\x0f\x02\x00\x00\x05\x02\x00\x00\x00\x03' >$c/poller/seed-wait-retries-failed
# get: 500 then ready
printf '\x00\x00\x01\x02\x02\x64\x00\x05\x03\x05\x10\x3c\x1d'"$seed8$start4"'\x00\x04\x0a\x0f\xff\x00\x00\x00\x02' >$c/poller/seed-get-retry-ready
echo "seeds written under $c; fixture $(wc -c <crates/deepidv-core/benches/fixtures/adverse_media_many.json) bytes"
