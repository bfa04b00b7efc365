-- sync-collection REPORT (Depth 1, getetag) with each user's current sync
-- token, as 20,000 polling clients send it: every request is another
-- user's default calendar or default address book, with that user's own
-- Basic credentials, cycling through the list bench/scale/scale.py tokens
-- wrote (SCALE_SYNC_LIST: "BASIC PATH TOKEN" per line; a user's calendar
-- and address book are next to each other). wrk's threads interleave
-- (SCALE_WRK_THREADS of them), so together they walk the list in order,
-- and one pass through it is each client polling both collections once.
-- The tokens stay those collected before the run: a collection that a PUT
-- changed meanwhile answers with the few changes since, as it would to a
-- client that has not polled since.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local entries = {}
for line in bench_read(bench_env("SCALE_SYNC_LIST")):gmatch("[^\n]+") do
  local basic, path, token = line:match("^(%S+) (%S+) (%S+)$")
  if basic then
    entries[#entries + 1] = { "Basic " .. basic, path, token }
  end
end
if #entries == 0 then
  error("no entries in SCALE_SYNC_LIST")
end
local threads = tonumber(bench_env("SCALE_WRK_THREADS"))

local function body(token)
  return '<?xml version="1.0" encoding="utf-8"?>\n' ..
    '<sync-collection xmlns="DAV:"><sync-token>' .. token .. '</sync-token>' ..
    '<sync-level>1</sync-level><prop><getetag/></prop></sync-collection>'
end

function request()
  local counter, thread_id = bench_next()
  local e = entries[((counter - 1) * threads + thread_id) % #entries + 1]
  return wrk.format("REPORT", e[2], {
    ["Authorization"] = e[1],
    ["Depth"] = "1",
    ["Content-Type"] = "application/xml; charset=utf-8",
    ["User-Agent"] = "reprise-bench (wrk)",
  }, body(e[3]))
end
