-- addressbook-query REPORT (Depth 1) on the seeded address book
-- (BENCH_ADDRESSBOOK_PATH): FN contains a name fragment (i;unicode-casemap),
-- asking getetag and address-data. Successive requests cycle through a
-- few fragments; like calquery.lua this measures the render cache after
-- the first pass, and cardquery_nocache.lua defeats it.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local path = bench_env("BENCH_ADDRESSBOOK_PATH")
local fragments = { "mar", "dub", "léa", "son", "chen", "ann", "ber", "rob" }

wrk.method = "REPORT"
wrk.headers["Depth"] = "1"
wrk.headers["Content-Type"] = "application/xml; charset=utf-8"

function request()
  local counter, thread_id, tag = bench_next()
  local fragment = fragments[(counter + thread_id) % #fragments + 1]
  local comment = ""
  if bench_unique then
    comment = "<!-- " .. tag .. " -->\n"
  end
  local body = string.format('<?xml version="1.0" encoding="utf-8"?>\n%s' ..
    '<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">' ..
    '<D:prop><D:getetag/><C:address-data/></D:prop>' ..
    '<C:filter><C:prop-filter name="FN">' ..
    '<C:text-match collation="i;unicode-casemap" match-type="contains">%s</C:text-match>' ..
    '</C:prop-filter></C:filter></C:addressbook-query>',
    comment, fragment)
  return wrk.format(nil, path, nil, body)
end
