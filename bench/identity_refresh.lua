-- wrk script for bench/identity_load.py --client wrk: chained refreshes. Each connection
-- sends one request at a time; a response's new refresh token goes to the back of the
-- thread's queue and the next request takes the oldest one, so every token is used once (a
-- reused token would revoke its family). GW_TOKENS names a file of refresh tokens (one a
-- line, at least one per connection); GW_THREADS is wrk's -t; GW_PATH the refresh path.
q = {}

function setup(thread)
    setup_n = (setup_n or 0) + 1
    thread:set("id", setup_n)
end

function init(args)
    local n = tonumber(os.getenv("GW_THREADS"))
    local i = 0
    for line in io.lines(os.getenv("GW_TOKENS")) do
        if i % n == id - 1 then
            q[#q + 1] = line
        end
        i = i + 1
    end
    path = os.getenv("GW_PATH") or "/auth/refresh"
    headers = {["Content-Type"] = "application/json"}
end

function request()
    local t = table.remove(q, 1) or "exhausted"
    return wrk.format("POST", path, headers, '{"refresh_token":"' .. t .. '"}')
end

function response(status, hdrs, body)
    local t = status == 200 and body:match('"refresh_token":"([^"]+)"')
    if t then
        q[#q + 1] = t
    end
end
