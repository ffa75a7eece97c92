-- wrk script: each connection sends one request every DELAY_MS milliseconds, so
-- the offered rate is about connections x 1000 / (DELAY_MS + latency): raising the
-- connection count raises the load in steps, unlike wrk's default loop, which
-- offers whatever the server can take. BODY_FILE holds one JSON body per line;
-- requests take them in turn (pre-formatted once, so the rotation costs wrk
-- nothing per request), which spreads them over a load balancer that hashes the
-- body. `done` prints one machine-readable line (latencies in microseconds).
local delay_ms = tonumber(os.getenv("DELAY_MS") or "1")
local requests_ = {}
local next_ = 0

function init(args)
  local headers = {
    ["Content-Type"] = "application/json",
    -- Each request computed, as fresh market data would be: no cache hits.
    ["Cache-Control"] = "no-store",
  }
  for line in io.lines(os.getenv("BODY_FILE")) do
    if line ~= "" then
      requests_[#requests_ + 1] = wrk.format("POST", nil, headers, line)
    end
  end
  assert(#requests_ > 0, "BODY_FILE has no body")
end

function request()
  next_ = next_ % #requests_ + 1
  return requests_[next_]
end

function delay()
  return delay_ms
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %.1f %.1f %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
