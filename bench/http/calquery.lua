-- calendar-query REPORT (Depth 1) for one month of VEVENTs, asking
-- getetag and calendar-data, on the calendar (the URL given to wrk).
-- Successive requests walk the 24 months of the seeded data (2024-2025),
-- so at 1 connection every month is asked in turn. The server caches
-- rendered answers by request body and calendar state: after the first
-- pass this measures that cache, like clients re-asking an unchanged
-- month. calquery_nocache.lua sets bench_unique to defeat the cache.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "REPORT"
wrk.headers["Depth"] = "1"
wrk.headers["Content-Type"] = "application/xml; charset=utf-8"

function request()
  local counter, thread_id, tag = bench_next()
  local month = (counter + thread_id * 7) % 24
  local y1, m1 = 2024 + math.floor(month / 12), month % 12 + 1
  local y2, m2 = y1, m1 + 1
  if m2 == 13 then y2, m2 = y1 + 1, 1 end
  local comment = ""
  if bench_unique then
    comment = "<!-- " .. tag .. " -->\n"
  end
  local body = string.format('<?xml version="1.0" encoding="utf-8"?>\n%s' ..
    '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">' ..
    '<D:prop><D:getetag/><C:calendar-data/></D:prop>' ..
    '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">' ..
    '<C:time-range start="%04d%02d01T000000Z" end="%04d%02d01T000000Z"/>' ..
    '</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>',
    comment, y1, m1, y2, m2)
  return wrk.format(nil, nil, nil, body)
end
