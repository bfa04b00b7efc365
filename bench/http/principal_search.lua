-- principal-property-search REPORT on /dav/principals/ (Depth 0) with
-- BENCH_DIRECTORY_USERS users in the domain: what a client sends while
-- someone types an attendee's or a colleague's name. The bodies (one per
-- line of BENCH_SEARCH_BODIES, written by seed.py directory) are cycled
-- through; each finds at least one user.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local bodies = {}
for line in bench_read(bench_env("BENCH_SEARCH_BODIES")):gmatch("[^\n]+") do
  bodies[#bodies + 1] = line
end
if #bodies == 0 then
  error("no search bodies in BENCH_SEARCH_BODIES")
end

wrk.method = "REPORT"
wrk.headers["Depth"] = "0"
wrk.headers["Content-Type"] = "application/xml; charset=utf-8"

function request()
  local counter, thread_id = bench_next()
  return wrk.format(nil, "/dav/principals/", nil, bodies[(counter * 7 + thread_id) % #bodies + 1])
end
