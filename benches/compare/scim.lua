-- wrk script of benches/compare/run: one SCIM request kind per run, every
-- answer checked.
--
--   wrk -t2 -c32 -d8s -s scim.lua http://127.0.0.1:PORT -- MODE BASE TOKEN IDS NAME RUN THREADS
--
-- MODE  get | filter | post | patch | floor
-- BASE  the SCIM base path (/scim/v2, /v2); floor: the path to GET (/healthz)
-- TOKEN the bearer token ("-" for none)
-- IDS   a file of user ids, one a line (get: the first; patch: all of them)
-- NAME  the userName the filter looks up
-- RUN   a prefix that makes this run's new userNames unique
-- THREADS the -t value (patch: which users are this thread's)
--
-- Every response outside 2xx is counted (wrk itself only counts >= 400) and
-- the first one is kept; done() prints one machine-readable WRK_RESULT line.

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

local function read_lines(path)
  local lines = {}
  local file = assert(io.open(path, "r"), "cannot open " .. path)
  for line in file:lines() do
    if line ~= "" then table.insert(lines, line) end
  end
  file:close()
  return lines
end

-- Per-thread state (each wrk thread runs its own copy of this script).
bad = 0
first_bad = ""
local counter = 0
local headers = {}

-- wrk gives init() no thread count: it comes as the 7th argument.
local function thread_count_arg(args)
  return tonumber(args[7] or "1") or 1
end

local USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
local PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

function init(args)
  local mode, base, token = args[1], args[2], args[3]
  local ids_file, name, run = args[4], args[5], args[6]
  if token ~= nil and token ~= "-" then
    headers["Authorization"] = "Bearer " .. token
  end
  headers["Accept"] = "application/scim+json"

  if mode == "floor" then
    local req = wrk.format("GET", base, headers)
    request = function() return req end

  elseif mode == "get" then
    local id = read_lines(ids_file)[1]
    local req = wrk.format("GET", base .. "/Users/" .. id, headers)
    request = function() return req end

  elseif mode == "filter" then
    local filter = 'userName eq "' .. name .. '"'
    local req = wrk.format("GET", base .. "/Users?filter=" .. urlencode(filter), headers)
    request = function() return req end

  elseif mode == "post" then
    headers["Content-Type"] = "application/scim+json"
    local prefix = run .. "-t" .. tid .. "-"
    request = function()
      counter = counter + 1
      local user = prefix .. counter
      local body = '{"schemas":[' .. json_string(USER_SCHEMA) .. '],'
        .. '"userName":' .. json_string(user .. "@example.com") .. ','
        .. '"externalId":' .. json_string("ext-" .. user) .. ','
        .. '"name":{"givenName":"Bench","familyName":' .. json_string(user) .. '},'
        .. '"displayName":' .. json_string("Bench " .. user) .. ','
        .. '"emails":[{"value":' .. json_string(user .. "@example.com")
        .. ',"type":"work","primary":true}],'
        .. '"active":true}'
      return wrk.format("POST", base .. "/Users", headers, body)
    end

  elseif mode == "patch" then
    -- This thread's share of the users, taken in turn: requests in flight
    -- on one connection never wait on another's row lock, and each value
    -- carries the thread and a counter, so every PATCH is a real change.
    headers["Content-Type"] = "application/scim+json"
    local ids = read_lines(ids_file)
    local mine = {}
    for i = 1, #ids do
      if (i - 1) % thread_count_arg(args) == tid then table.insert(mine, ids[i]) end
    end
    if #mine == 0 then mine = ids end
    request = function()
      counter = counter + 1
      local id = mine[(counter - 1) % #mine + 1]
      local value = "t" .. tid .. "-" .. counter
      local body = '{"schemas":[' .. json_string(PATCH_SCHEMA) .. '],"Operations":['
        .. '{"op":"replace","path":"displayName","value":' .. json_string("Patched " .. value) .. '},'
        .. '{"op":"replace","path":"name.givenName","value":' .. json_string("Given " .. value) .. '}]}'
      return wrk.format("PATCH", base .. "/Users/" .. id, headers, body)
    end

  else
    error("unknown mode " .. tostring(mode) .. " (get, filter, post, patch, floor)")
  end
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
    if first_bad == "" then
      first_bad = status .. " " .. string.sub(body or "", 1, 200):gsub("%s+", " ")
    end
  end
end

function done(summary, latency, requests)
  local non2xx, sample = 0, ""
  for _, thread in ipairs(threads) do
    non2xx = non2xx + thread:get("bad")
    local first = thread:get("first_bad")
    if sample == "" and first ~= nil then sample = first end
  end
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d duration_us=%d non2xx=%d socket_errors=%d timeouts=%d p50_us=%d p99_us=%d first_error=%s\n",
    summary.requests, summary.duration, non2xx, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), sample))
end
