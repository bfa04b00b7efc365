-- Opt-in: calquery.lua with a unique XML comment in every body, which
-- defeats the render cache: each request runs the query (time index,
-- filter over the candidates, rendering), as after any calendar change.
bench_unique = true
dofile(os.getenv("BENCH_LUA_DIR") .. "/calquery.lua")
