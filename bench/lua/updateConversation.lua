-- updateConversation: PUT {prefix}/conversation, alternating between two titles so that every call
-- really changes the conversation.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local requests = {}
local count = 0

function init(args)
  for i, title in ipairs({ "Late order complaint (A)", "Late order complaint (B)" }) do
    local body = '{"dscoConversationId":"' .. common.conversation_id .. '","title":"' .. title .. '"}'
    requests[i] = wrk.format("PUT", common.prefix .. "/conversation", common.json_headers(), body)
  end
end

function request()
  count = count + 1
  return requests[(count % 2) + 1]
end

done = common.done
