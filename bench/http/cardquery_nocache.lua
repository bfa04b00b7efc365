-- Opt-in: cardquery.lua with a unique XML comment in every body, which
-- defeats the render cache.
bench_unique = true
dofile(os.getenv("BENCH_LUA_DIR") .. "/cardquery.lua")
