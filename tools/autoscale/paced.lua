-- wrk script: one static request per connection every DELAY_MS milliseconds, so
-- the offered rate is about connections x 1000 / (DELAY_MS + latency): raising the
-- connection count raises the load in steps, unlike wrk's default loop, which
-- offers whatever the server can take. BODY_FILE holds the JSON body. `done`
-- prints one machine-readable line (latencies in microseconds).
wrk.method = "POST"
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
-- Each request computed, as fresh market data would be: no cache hits.
wrk.headers["Cache-Control"] = "no-store"
local delay_ms = tonumber(os.getenv("DELAY_MS") or "1")

function delay()
  return delay_ms
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %.1f %.1f %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
