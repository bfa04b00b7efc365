-- Seen-flag writes near the top of a 100,000-message mailbox, as a mail
-- client sends them: three messages marked read, or three marked unread
-- again, one POST each. Each run writes its own mailbox, "bench-" ..
-- BENCH_RUN_ID, seeded by bench/http.sh (bench/http/seed.py seen) so that
-- every write changes something and so appends one event:
--
-- each wrk thread owns a band of 2,400 UIDs from BENCH_SEEN_TOP (thread t
-- at BENCH_SEEN_TOP + 2,500 t), seen as 800 ranges R0..R799 of three
-- UIDs; the seed leaves R0..R399 unseen and R400..R799 seen. Step s
-- marks R(s mod 800) seen, then R(s + 400 mod 800) unseen: before step
-- s, R(s) is unseen and R(s + 400) is seen, and the two requests of a
-- step are 400 steps away from the last ones on the same ranges, far
-- more than the requests in flight.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local top = tonumber(bench_env("BENCH_SEEN_TOP"))
local path = bench_env("BENCH_MAIL_PATH") .. "/mailboxes/bench-" ..
  bench_env("BENCH_RUN_ID") .. "/seen"
local ranges = 800

wrk.headers["Content-Type"] = "application/json"

function request()
  local counter, thread = bench_next()
  local k = counter - 1
  local step = math.floor(k / 2)
  local field, r
  if k % 2 == 0 then
    field, r = "add", step % ranges
  else
    field, r = "remove", (step + ranges / 2) % ranges
  end
  local first = top + thread * 2500 + r * 3
  local body = string.format('{"%s":"%d:%d"}', field, first, first + 2)
  return wrk.format("POST", path, nil, body)
end
