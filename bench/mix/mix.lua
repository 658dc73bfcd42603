-- The issue 24 mix for wrk (bench/mix.py writes the plan and runs wrk; see bench/README.md).
--
-- Run with one connection per thread (wrk -t N -c N): a thread's request() and response()
-- then alternate for its single connection, so each response is timed (CLOCK_MONOTONIC through
-- LuaJIT's ffi) and tagged with its kind. Environment: MIX_PLAN (the plan, one request a line:
-- kind, method, path, auth, body, second body; tab-separated), MIX_OUT (where done() writes
-- "kind status microseconds" per response), MIX_HOST (the Host header), MIX_RUN (a prefix that
-- makes every Idempotency-Key unique across runs).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } mix_timespec;
int clock_gettime(int clk_id, mix_timespec *tp);
]]
local ts = ffi.new("mix_timespec[1]")
local function now_us()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts[0].tv_sec) * 1000000 + tonumber(ts[0].tv_nsec) / 1000
end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
  table.insert(threads, thread)
end

local plan = {}
local idx = 1
samples = {}
local n = 0
local t0 = 0
local cur_kind = nil
local pending = nil
local host = os.getenv("MIX_HOST") or "localhost"
local run = os.getenv("MIX_RUN") or "mix"
local keys = 0

local function split(line)
  local out = {}
  local start = 1
  while true do
    local i = string.find(line, "\t", start, true)
    if not i then
      table.insert(out, string.sub(line, start))
      return out
    end
    table.insert(out, string.sub(line, start, i - 1))
    start = i + 1
  end
end

function init(args)
  math.randomseed(thread_no)
  for line in io.lines(os.getenv("MIX_PLAN")) do
    local f = split(line)
    table.insert(plan, { kind = f[1], method = f[2], path = f[3], auth = f[4], body = f[5], body2 = f[6] })
  end
  -- threads start at different places of the same plan
  local threads_total = tonumber(os.getenv("MIX_THREADS") or "1")
  idx = math.floor((thread_no - 1) * #plan / threads_total) + 1

end

local function headers_for(e)
  local h = { ["Host"] = host }
  local kind = string.sub(e.auth, 1, 1)
  if kind == "B" then
    h["Authorization"] = "Bearer " .. string.sub(e.auth, 2)
  else
    h["Cookie"] = "pingan_session=" .. string.sub(e.auth, 2)
  end
  if e.method == "POST" then
    keys = keys + 1
    h["Content-Type"] = "application/json"
    h["Idempotency-Key"] = run .. "-" .. thread_no .. "-" .. keys
  end
  return h
end

local function urlencode(v)
  return (string.gsub(v, "[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  local e
  if pending then
    e = pending
    pending = nil
  else
    e = plan[idx]
    idx = idx % #plan + 1
  end
  cur_entry = e
  if e.kind == "register_new" and e.body2 ~= "" then
    cur_kind = "person"   -- POST /api/persons first; its response makes the registration
  else
    cur_kind = e.kind
  end
  local body = nil
  if e.body ~= "" then body = e.body end
  t0 = now_us()
  return wrk.format(e.method, e.path, headers_for(e), body)
end

function response(status, headers, body)
  local us = now_us() - t0
  n = n + 1
  samples[n] = cur_kind .. " " .. status .. " " .. math.floor(us)
  if cur_kind == "person" then
    local id = status == 201 and string.match(body, '"id"%s*:%s*(%d+)')
    if id then
      pending = { kind = "register_new", method = "POST", path = "/api/cases", auth = cur_entry.auth,
                  body = string.gsub(cur_entry.body2, "%%PERSON%%", id), body2 = "" }
    end
  elseif cur_kind == "list" and status == 200 and math.random() < 0.3 then
    -- the next page of the same list, a third of the time (keyset cursor)
    local cursor = string.match(body, '"next_cursor"%s*:%s*"([^"]+)"')
    if cursor then
      local path = string.gsub(cur_entry.path, "&cursor=[^&]*", "")
      pending = { kind = "list", method = "GET", path = path .. "&cursor=" .. urlencode(cursor), auth = cur_entry.auth,
                  body = "", body2 = "" }
    end
  end
end

function done(summary, latency, requests)
  local out = assert(io.open(os.getenv("MIX_OUT"), "w"))
  for _, t in ipairs(threads) do
    local s = t:get("samples")
    if s then
      for i = 1, #s do
        out:write(s[i], "\n")
      end
    end
  end
  out:write("# wrk ", summary.requests, " requests ", summary.duration, " us errors connect ",
    summary.errors.connect, " read ", summary.errors.read, " write ", summary.errors.write,
    " status ", summary.errors.status, " timeout ", summary.errors.timeout, "\n")
  out:close()
end
