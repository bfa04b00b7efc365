-- Shared by the bench/http.sh scenario scripts (loaded with dofile).
-- Configuration comes from the environment that bench/http.sh sets:
--   BENCH_AUTH       the Basic credentials, base64
--   BENCH_SCENARIO   the scenario's name, for the result line
--   BENCH_RUN_ID     unique per wrk run (PUT hrefs and UIDs use it)
-- plus what each script reads itself (body files).

function bench_env(name)
  local value = os.getenv(name)
  if value == nil or value == "" then
    error(name .. " is not set (run the scenarios through bench/http.sh)")
  end
  return value
end

function bench_read(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

wrk.headers["Authorization"] = "Basic " .. bench_env("BENCH_AUTH")
wrk.headers["User-Agent"] = "reprise-bench (wrk)"

-- Threads are numbered here (main Lua state), so that scripts can make
-- per-thread unique names.
local threads = 0
function setup(thread)
  thread:set("bench_thread", threads)
  threads = threads + 1
end

-- Per thread: its number (set by init) and a request counter, so that
-- scripts can make names unique per run (BENCH_RUN_ID), thread and
-- request. bench_next() counts one request and returns the counter, the
-- thread number and such a tag, "<run>-t<thread>-<counter>".
local thread_id = 0
local counter = 0

function init(args)
  thread_id = tonumber(wrk.thread:get("bench_thread")) or 0
end

function bench_next()
  counter = counter + 1
  return counter, thread_id,
    string.format("%s-t%d-%d", bench_env("BENCH_RUN_ID"), thread_id, counter)
end

-- One JSON line per run. wrk reports latency in microseconds;
-- summary.errors.status counts answers with status > 399 (wrk's
-- "Non-2xx or 3xx responses").
function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  local function ms(us) return us / 1000 end
  io.write(string.format(
    '{"scenario":"%s","connections":%d,"threads":%d,"duration_s":%.2f,' ..
    '"requests":%d,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,' ..
    '"mean_ms":%.3f,"max_ms":%.3f,"non2xx":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"timeouts":%d,"bytes":%d}\n',
    bench_env("BENCH_SCENARIO"), tonumber(bench_env("BENCH_CONNECTIONS")), threads,
    seconds, summary.requests, summary.requests / seconds,
    ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(99)),
    ms(latency.mean), ms(latency.max), e.status, e.connect, e.read, e.write, e.timeout,
    summary.bytes))
end
