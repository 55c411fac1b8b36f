-- getConversationMessages: POST {prefix}/conversation/message/list, first page; `until` is set so
-- that the page holds the ~100 seeded messages (and none of those added during the run).
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "POST"
wrk.path = common.prefix .. "/conversation/message/list"
wrk.headers = common.json_headers()
wrk.body = '{"until":"' .. common.until_time .. '"}'

done = common.done
