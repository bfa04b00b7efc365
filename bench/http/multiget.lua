-- calendar-multiget of 100 objects (getetag and calendar-data) on the
-- calendar (the URL given to wrk). The body, with hrefs taken from a
-- PROPFIND of the seeded calendar, is BENCH_MULTIGET_BODY.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "REPORT"
wrk.headers["Depth"] = "1"
wrk.headers["Content-Type"] = "application/xml; charset=utf-8"
wrk.body = bench_read(bench_env("BENCH_MULTIGET_BODY"))
