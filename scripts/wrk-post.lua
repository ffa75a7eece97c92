-- wrk script: one static request per run (wrk's fastest mode: no per-request Lua),
-- set from the environment: BODY_FILE (the body), CONTENT_TYPE (default
-- application/json), HEADER_LEN (V2 binary's Inference-Header-Content-Length, if
-- set). `done` prints one machine-readable line: RESULT requests duration_us p50_us
-- p99_us non_2xx socket_errors. Used by scripts/loadbench.sh and
-- scripts/peers.sh.
wrk.method = "POST"
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/json"
local header_len = os.getenv("HEADER_LEN")
if header_len and header_len ~= "" then
  wrk.headers["Inference-Header-Content-Length"] = header_len
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %.1f %.1f %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
