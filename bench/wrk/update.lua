-- update: seeded appointments 1..seeded in turn, unchanged but for a newer updatedAt
-- (`stamp` + g seconds, so every write of an id is newer than the last). Expect 200.
-- Each thread updates its own ids (g % threads is fixed per thread, and the bench checks that
-- `seeded` is a multiple of the thread count), so no two writes of one id race to a 409.
local bench = require("common")

function bench.request(g)
  local a = bench.arg
  local i = g % a.seeded + 1
  local start = bench.seed_start(i)
  return bench.post(i, bench.seed_calendar(i), start, start + a.slot_seconds, a.seed_stamp,
    a.stamp + g)
end
