-- PROPFIND Depth 1 asking getetag on the calendar (the URL given to wrk):
-- what a client does to find out which objects changed.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "PROPFIND"
wrk.headers["Depth"] = "1"
wrk.headers["Content-Type"] = "application/xml; charset=utf-8"
wrk.body = '<?xml version="1.0" encoding="utf-8"?>\n' ..
  '<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>'
