-- conflict: new ids whose 20 minutes all fall inside seeded appointment 1 (cal-0, the first
-- slot): every request takes the 409 time_range_unavailable path.
local bench = require("common")

function bench.request(g)
  local a = bench.arg
  local start = bench.seed_start(1) + 300
  return bench.post(a.id_base + g, bench.seed_calendar(1), start, start + 1200, a.stamp, a.stamp)
end
