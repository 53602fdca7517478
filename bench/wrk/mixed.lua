-- mixed: 80% reads, 20% writes. Of every 5 requests: 1 create (as create.lua, 100
-- calendars), 2 reads by id, 1 default list page, 1 calendar's day.
local bench = require("common")

function bench.request(g)
  local kind = g % 5
  if kind == 0 then
    return bench.create(math.floor(g / 5)) -- every 5th g: still unique, all 100 calendars
  elseif kind == 3 then
    return bench.get("/appointments")
  elseif kind == 4 then
    return bench.calendar_day()
  end
  return bench.by_id()
end
