-- PUT of a new event into a user's default calendar with that user's own
-- credentials, cycling through the users (SCALE_PUT_LIST: "BASIC
-- CALENDAR-PATH PRINCIPAL" per line, from bench/scale/scale.py tokens);
-- If-None-Match: *, the body from BENCH_PUT_TEMPLATE with @UID@ and
-- @ORGANIZER@ filled in. Names are unique per run (BENCH_RUN_ID), thread
-- and request. Every PUT is durable in the log and applied before it is
-- answered.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local template = bench_read(bench_env("BENCH_PUT_TEMPLATE"))
local users = {}
for line in bench_read(bench_env("SCALE_PUT_LIST")):gmatch("[^\n]+") do
  local basic, path, principal = line:match("^(%S+) (%S+) (%S+)$")
  if basic then
    users[#users + 1] = { "Basic " .. basic, path, principal }
  end
end
if #users == 0 then
  error("no users in SCALE_PUT_LIST")
end
local threads = tonumber(bench_env("SCALE_WRK_THREADS"))

function request()
  local counter, thread_id, tag = bench_next()
  -- A stride through the list (prime to any realistic length), so that
  -- the writes spread over the users rather than following the polling.
  local u = users[((counter - 1) * threads + thread_id) * 7919 % #users + 1]
  local name = "scale-" .. tag
  local body = template:gsub("@UID@", name .. "@bench.example", 1)
  body = body:gsub("@ORGANIZER@", u[3], 1)
  return wrk.format("PUT", u[2] .. name .. ".ics", {
    ["Authorization"] = u[1],
    ["If-None-Match"] = "*",
    ["Content-Type"] = "text/calendar; charset=utf-8",
    ["User-Agent"] = "reprise-bench (wrk)",
  }, body)
end
