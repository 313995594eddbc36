-- wrk script of `walletbot bench`: multi-turn conversations against POST /api/chat.
--
-- Run with as many threads as connections (wrk -t N -c N), so that each thread's state below is
-- one connection: it sends one conversation's messages in turn, each with the conversation id
-- and token of the first reply and a message_id as the widget sends, then starts the next one.
--
--   wrk -t 8 -c 8 -d 10s -s chat.lua http://127.0.0.1:8000 -- conversations.txt 8
--
-- conversations.txt: one conversation per line, its messages as JSON strings separated by tabs
-- (JSON escapes a tab inside a string, so the separator is unambiguous); the last argument is
-- the thread count.
-- done() prints one line "walletbot-wrk {json}" with the counts and latencies in microseconds.

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local conversations = {}
local stride = 1
local current, turn, sent = 1, 1, 0
local conversation, token = nil, nil
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  for line in io.lines(args[1]) do
    local messages = {}
    for message in string.gmatch(line, "[^\t]+") do
      messages[#messages + 1] = message
    end
    if #messages > 0 then
      conversations[#conversations + 1] = messages
    end
  end
  -- Connections start at different conversations and go through them in steps of the thread
  -- count, so no two connections send the same conversation at the same time.
  stride = tonumber(args[2]) or 1
  current = (id % #conversations) + 1
end

local function next_conversation()
  current = ((current - 1 + stride) % #conversations) + 1
  turn, conversation, token = 1, nil, nil
end

function request()
  sent = sent + 1
  local text = conversations[current][turn]
  local body
  if conversation then
    body = string.format('{"conversation":"%s","token":"%s","text":%s,"message_id":"w%d-%d"}', conversation, token, text, id, sent)
  else
    body = string.format('{"text":%s,"message_id":"w%d-%d"}', text, id, sent)
  end
  return wrk.format("POST", "/api/chat", headers, body)
end

function response(status, _headers, body)
  if status ~= 200 then
    next_conversation()
    return
  end
  if not conversation then
    conversation = string.match(body, '"conversation"%s*:%s*"([^"]+)"')
    token = string.match(body, '"token"%s*:%s*"([^"]+)"')
  end
  turn = turn + 1
  if turn > #conversations[current] then
    next_conversation()
  end
end

function done(summary, latency, _requests)
  local e = summary.errors
  io.write(string.format(
    'walletbot-wrk {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, latency.max))
end
