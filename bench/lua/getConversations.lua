-- getConversations: POST {prefix}/conversation/list, first page; `until` is set so that the page
-- holds the ~100 seeded conversations (and none of those created during the run).
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "POST"
wrk.path = common.prefix .. "/conversation/list"
wrk.headers = common.json_headers()
wrk.body = '{"until":"' .. common.until_time .. '"}'

done = common.done
