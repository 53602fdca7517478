-- Shared by every scenario script (bench/meters.py puts this directory on LUA_PATH).
--
-- A scenario does `local bench = require("common")` and defines `bench.request(g)`, which
-- returns the g-th request. g is unique across wrk's threads (thread t makes t, t+T, t+2T...),
-- so requests built from it (new ids, slots) never collide. The bench passes the numbers
-- a scenario needs as `key=value` after `--` (they arrive in `bench.arg`), so the layout of the
-- seeded book is defined once, in bench/database.py.
--
-- Latency is timed here, not taken from wrk: wrk 4 "corrects" its histogram for coordinated
-- omission before reporting it (every response slower than twice the mean interval adds
-- made-up samples below it), so its percentiles are not what it measured, while pgbench's,
-- which every figure is compared with, are. The bench gives each wrk thread one connection, so
-- a thread's request() and response() strictly alternate and the time between them is that
-- request's latency (the points where wrk starts and stops its own clock).
--
-- `done()` prints two lines for bench/meters.py: `BENCH_JSON {...}` (requests, duration,
-- errors, the count of each status code) and `BENCH_LATENCIES_US` followed by every latency.

local ffi = require("ffi")
ffi.cdef([[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock, bench_timespec *now);
]])
local CLOCK_MONOTONIC = 1
local clock = ffi.new("bench_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000000 + math.floor(tonumber(clock.tv_nsec) / 1000)
end

local bench = { arg = {} }
local threads = {}
local n = 0 -- requests this thread has generated
local sent_at = nil -- when this thread's one connection sent its request
-- Globals, so that done() can collect them from each thread with thread:get.
status_counts = {}
latencies = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  for _, pair in ipairs(args) do
    local key, value = pair:match("^([%w_]+)=(.*)$")
    bench.arg[key] = tonumber(value) or value
  end
  bench.tid = tid or 0
  bench.threads = bench.arg.threads or 1
  math.randomseed(1000 + bench.tid) -- the same sequence on every run
end

function request()
  local g = n * bench.threads + bench.tid
  n = n + 1
  local built = bench.request(g)
  sent_at = now_us()
  return built
end

function response(status)
  latencies[#latencies + 1] = now_us() - sent_at
  status_counts[status] = (status_counts[status] or 0) + 1
end

-- Request builders ------------------------------------------------------------------------

local JSON = { ["Content-Type"] = "application/json" }

-- With `key=...` (the feature rows' API keys), every request carries it as a bearer token.
local function headers(extra)
  local all = {}
  for name, value in pairs(extra or {}) do
    all[name] = value
  end
  if bench.arg.key then
    all["Authorization"] = "Bearer " .. bench.arg.key
  end
  return all
end

function bench.iso(epoch) -- the API's ISO 8601 form, UTC
  return os.date("!%Y-%m-%dT%H:%M:%SZ", epoch)
end

function bench.minute(epoch) -- the short request form, "YYYY-MM-DD HH:MM"
  return os.date("!%Y-%m-%d %H:%M", epoch)
end

function bench.get(path)
  return wrk.format("GET", path, headers())
end

-- POST /appointments; times are Unix epoch seconds. With `held=1` (the hold row), a hold.
function bench.post(id, calendar, start, stop, created, updated)
  local hold = bench.arg.held and ', "status": "held", "holdFor": 900' or ""
  local body = string.format(
    '{"id": %d, "calendar": "%s", "start": "%s", "end": "%s", "createdAt": "%s", "updatedAt": "%s"%s}',
    id, calendar, bench.minute(start), bench.minute(stop), bench.iso(created), bench.iso(updated),
    hold)
  return wrk.format("POST", "/appointments", headers(JSON), body)
end

-- A new appointment: id `id_base + g`, slot g spread over `calendars` calendars, each slot a
-- fresh one from `slot_base` on (so no two of them ever overlap).
function bench.create(g)
  local a = bench.arg
  local calendars = a.calendars or 100
  local start = a.slot_base + math.floor(g / calendars) * a.slot_seconds
  return bench.post(a.id_base + g, "cal-" .. (g % calendars), start, start + a.slot_seconds,
    a.stamp, a.stamp)
end

-- The seeded book (bench/database.py, seed_appointment): appointment i is in calendar
-- cal-((i-1) % 100), slot (i-1) // 100 from seed_base.
function bench.seed_calendar(i)
  return "cal-" .. ((i - 1) % bench.arg.calendars)
end

function bench.seed_start(i)
  return bench.arg.seed_base + math.floor((i - 1) / bench.arg.calendars) * bench.arg.slot_seconds
end

function bench.by_id()
  return bench.get("/appointments/" .. math.random(1, bench.arg.seeded))
end

-- One calendar's day among the first `days` days of the seeded book (each holds the same
-- number of appointments at every growth step).
function bench.calendar_day()
  local a = bench.arg
  local calendar = "cal-" .. math.random(0, a.calendars - 1)
  local from = a.seed_base + math.random(0, a.days - 1) * 86400
  return bench.get(string.format("/appointments?calendar=%s&from=%s&to=%s",
    calendar, bench.iso(from), bench.iso(from + 86400)))
end

-- The report -------------------------------------------------------------------------------

local function encode(value)
  if type(value) == "table" then
    local parts = {}
    for k, v in pairs(value) do
      table.insert(parts, string.format('"%s": %s', tostring(k), encode(v)))
    end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return string.format("%.17g", value)
end

function done(summary)
  local statuses, all = {}, {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("status_counts")) do
      statuses[status] = (statuses[status] or 0) + count
    end
    for _, latency in ipairs(thread:get("latencies")) do
      all[#all + 1] = latency
    end
  end
  print("BENCH_JSON " .. encode({
    requests = summary.requests,
    duration_us = summary.duration,
    bytes = summary.bytes,
    errors = summary.errors,
    statuses = statuses,
  }))
  print("BENCH_LATENCIES_US " .. table.concat(all, " "))
end

return bench
