-- PUT of a new event: every request a new href and UID in the calendar
-- (the URL given to wrk, ending with /), If-None-Match: *, the body from
-- BENCH_PUT_TEMPLATE with @UID@ replaced. Names are unique per run
-- (BENCH_RUN_ID), thread and request.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local template = bench_read(bench_env("BENCH_PUT_TEMPLATE"))
local collection = wrk.path

wrk.headers["If-None-Match"] = "*"
wrk.headers["Content-Type"] = "text/calendar; charset=utf-8"

function request()
  local _, _, tag = bench_next()
  local name = "bench-" .. tag
  local body = (template:gsub("@UID@", name .. "@example.com", 1))
  return wrk.format("PUT", collection .. name .. ".ics", nil, body)
end
