-- addConversationMessage: POST {prefix}/conversation/message to one seeded conversation.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "POST"
wrk.path = common.prefix .. "/conversation/message"
wrk.headers = common.json_headers()
wrk.body = '{"dscoConversationId":"' .. common.conversation_id .. '",'
  .. '"message":"Sorry for the wait! It ships tomorrow; the tracking number follows by e-mail."}'

done = common.done
