-- GET of a mailbox's seen flags (BENCH_SEEN_MAILBOX, seeded by
-- bench/http.sh with 100,000 messages): what a mail front-end asks when
-- it opens the mailbox.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local path = bench_env("BENCH_MAIL_PATH") .. "/mailboxes/" ..
  bench_env("BENCH_SEEN_MAILBOX") .. "/seen"

function request()
  return wrk.format("GET", path)
end
