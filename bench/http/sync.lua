-- sync-collection from an empty token (an initial sync) asking getetag,
-- with Depth: 1 as Thunderbird sends it, on the calendar (the URL given
-- to wrk).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "REPORT"
wrk.headers["Depth"] = "1"
wrk.headers["Content-Type"] = "application/xml; charset=utf-8"
wrk.body = '<?xml version="1.0" encoding="utf-8"?>\n' ..
  '<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level>' ..
  '<prop><getetag/></prop></sync-collection>'
