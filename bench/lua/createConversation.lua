-- createConversation: POST {prefix}/conversation with a typical ~220-byte body (bench/_common.py's CREATE_BODY).
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "POST"
wrk.path = common.prefix .. "/conversation"
wrk.headers = common.json_headers()
wrk.body = '{"otherPartyTradingPartnerId":"aaa-bbb-ccc","title":"Late order on PO 123",'
  .. '"type":{"type":"customer_care","consumerId":"12345"},'
  .. '"context":{"type":"order","poNumber":"123-456-789"},'
  .. '"initialMessage":{"message":"Why is my order late?"}}'

done = common.done
