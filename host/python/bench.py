"""`make bench`: time per call from Python for a signed 1 KB Varda webhook,
through one reused instance (median of rounds)."""

import hashlib
import hmac
import json
import statistics
import time

from switchboard import Processor

SECRET = "bench-secret"
NOW = 1774463400


def one_kb_request():
    payload = {"event": "message.created", "timestamp": "2026-03-25T18:31:00Z", "data": {
        "id": 789, "conversation_id": 123, "direction": "inbound", "sender_type": "contact",
        "sender_name": "Jane Doe", "content": "", "channel_type": "webchat",
        "contact": {"id": 456, "name": "Jane Doe", "email": "jane@example.com", "phone": "+18005551234"}}}
    filler = 1024 - len(json.dumps(payload, separators=(",", ":")))
    payload["data"]["content"] = "x" * filler
    body = json.dumps(payload, separators=(",", ":")).encode()
    assert len(body) == 1024, len(body)
    signature = hmac.new(SECRET.encode(), f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()
    return [("X-Varda-Signature", f"t={NOW},v1={signature}")], body


def main():
    processor = Processor()
    headers, body = one_kb_request()
    config = {"vendors": {"varda": {"secrets": [SECRET]}}}
    assert processor.process(headers, body, config, NOW)["type"] == "message.received"
    calls, rounds = 200, 25
    per_call = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            processor.process(headers, body, config, NOW)
        per_call.append((time.perf_counter() - start) / calls)
    print(f"python (wasmtime-py, process-json), 1 KB webhook: {statistics.median(per_call) * 1e6:.1f} µs per call "
          f"(median of {rounds} rounds of {calls})")


if __name__ == "__main__":
    main()
