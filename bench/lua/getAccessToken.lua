-- getAccessToken: POST {prefix}/oauth2/token with the client credentials as a form body.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "POST"
wrk.path = common.prefix .. "/oauth2/token"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials&client_id=retailer-demo&client_secret=retailer-demo-secret"

done = common.done
