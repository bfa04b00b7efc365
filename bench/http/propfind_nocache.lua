-- Opt-in (BENCH_SCENARIOS=propfind_nocache): the PROPFIND of propfind.lua
-- with a unique XML comment in every body. The server's render cache is
-- keyed by the request body, so this measures rendering the 2,000
-- members from the views, as after any change to the calendar.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local run = bench_env("BENCH_RUN_ID")
local thread_id = 0
local counter = 0

wrk.method = "PROPFIND"
wrk.headers["Depth"] = "1"
wrk.headers["Content-Type"] = "application/xml; charset=utf-8"

function init(args)
  thread_id = tonumber(wrk.thread:get("bench_thread")) or 0
end

function request()
  counter = counter + 1
  local body = string.format('<?xml version="1.0" encoding="utf-8"?>\n' ..
    '<!-- %s-t%d-%d -->\n<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>',
    run, thread_id, counter)
  return wrk.format(nil, nil, nil, body)
end
