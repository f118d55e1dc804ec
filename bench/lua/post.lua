-- wrk script: POST the file $BENCH_BODY with $BENCH_KEY (optional) as a
-- bearer key; at the end print one JSON line (prefixed "WRKJSON ") with
-- requests, duration, errors and latency percentiles (microseconds).
-- $BENCH_BODY may list several files separated by ":", sent round-robin.
local function slurp(path)
   local f = assert(io.open(path, "rb"))
   local s = f:read("*a")
   f:close()
   return s
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_KEY")
if key and key ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. key
end

local paths = {}
for p in string.gmatch(os.getenv("BENCH_BODY"), "[^:]+") do
   paths[#paths + 1] = p
end
if #paths == 1 then
   wrk.body = slurp(paths[1])
else
   local reqs, i = {}, 0
   function init(args)
      for n, p in ipairs(paths) do
         reqs[n] = wrk.format(nil, nil, nil, slurp(p))
      end
   end
   function request()
      i = i % #reqs + 1
      return reqs[i]
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d,' ..
      '"lat_mean_us":%.1f,"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_p999_us":%d,"lat_max_us":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max))
end
