-- Opt-in (BENCH_SCENARIOS=propfind_nocache): the PROPFIND of propfind.lua
-- with a unique XML comment in every body. The server's render cache is
-- keyed by the request body, so this measures rendering the 2,000
-- members from the views, as after any change to the calendar.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "PROPFIND"
wrk.headers["Depth"] = "1"
wrk.headers["Content-Type"] = "application/xml; charset=utf-8"

function request()
  local _, _, tag = bench_next()
  local body = '<?xml version="1.0" encoding="utf-8"?>\n<!-- ' .. tag .. ' -->\n' ..
    '<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>'
  return wrk.format(nil, nil, nil, body)
end
