-- wrk script: single-row /predict requests for the stock forecaster, the row drawn
-- from a fixed Zipf distribution over ZIPF_ROWS distinct rows (exponent ZIPF_S), so
-- a few rows are hot and most are rare, like repeated queries for popular tickers.
-- Used by scripts/fleet-e2e.sh (faults, metrics, cache policy; README "Scale-out").
--
--   ZIPF_ROWS=5000 ZIPF_S=1.0 wrk -t2 -c16 -d20s -s scripts/fleet-zipf.lua http://127.0.0.1:8080
--
-- Each thread draws from its own fixed seed, so a run's stream is reproducible.
-- At the end it prints one line `wrk-result {json}` with the counts the caller
-- checks: requests, failures (non-2xx and socket errors), cache hits seen in the
-- x-inferd-cache header, request rate and latency percentiles.

local rows = tonumber(os.getenv("ZIPF_ROWS") or "5000")
local s = tonumber(os.getenv("ZIPF_S") or "1.0")
-- Another model: MODEL=dense-net FEATURES=512 (its rows cost far more to compute).
local model = os.getenv("MODEL") or "stock-forecaster"
local features = tonumber(os.getenv("FEATURES") or "16")
-- CACHE_CONTROL=no-store makes every request compute.
local cache_control = os.getenv("CACHE_CONTROL")

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

-- The body of row i: 16 values in [-1, 1], a fixed function of i.
local function body(i)
   local values = {}
   for j = 1, features do
      values[j] = string.format("%.3f", ((i * 7919 + j * 104729) % 2001 - 1000) / 1000)
   end
   return '{"model":"' .. model .. '","instances":[[' .. table.concat(values, ",") .. ']]}'
end

local cdf = {}
local bodies = {}
local headers = { ["Content-Type"] = "application/json", ["Cache-Control"] = cache_control }
hits = 0
seen = 0
bad = ""

function init(args)
   math.randomseed(1000 + (id or 0))
   local total = 0
   for k = 1, rows do
      total = total + 1 / (k ^ s)
      cdf[k] = total
   end
   for k = 1, rows do
      cdf[k] = cdf[k] / total
   end
end

-- Binary search of the CDF: the rank whose cumulative share first reaches u.
local function draw()
   local u = math.random()
   local lo, hi = 1, rows
   while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if cdf[mid] < u then lo = mid + 1 else hi = mid end
   end
   return lo
end

function request()
   local k = draw()
   local b = bodies[k]
   if not b then
      b = body(k)
      bodies[k] = b
   end
   return wrk.format("POST", "/predict", headers, b)
end

function response(status, hdrs, resp_body)
   seen = seen + 1
   if status > 299 and #bad < 200 then
      -- The first failures' statuses, so a failed check says what went wrong.
      bad = bad .. status .. " "
   end
   if hdrs["x-inferd-cache"] == "hit" then
      hits = hits + 1
   end
end

function done(summary, latency, requests)
   local h, n, statuses = 0, 0, ""
   for _, t in ipairs(threads) do
      h = h + t:get("hits")
      n = n + t:get("seen")
      statuses = statuses .. t:get("bad")
   end
   local e = summary.errors
   local socket = e.connect + e.read + e.write + e.timeout
   io.write(string.format(
      'wrk-result {"requests":%d,"non2xx":%d,"socket_errors":%d,"failed":%d,' ..
      '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
      '"hits":%d,"responses":%d,"duration_s":%.3f,"rate":%.1f,' ..
      '"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"failed_statuses":"%s"}\n',
      summary.requests, e.status, socket, e.status + socket,
      e.connect, e.read, e.write, e.timeout, h, n,
      summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, statuses))
end
