-- slots: GET /slots for `slot_calendars` of the calendars with booking hours (the last five
-- of the seeded book, bench/plan.py SLOT_CALENDARS), 30 minutes on a 15-minute grid, over 7
-- days from one of the seeded book's first days. Expect 200.
local bench = require("common")

function bench.request()
  local a = bench.arg
  local count = a.slot_calendars or 1
  local first = math.random(0, 5 - count)
  local names = {}
  for n = first, first + count - 1 do
    table.insert(names, "calendar=cal-" .. (a.calendars - 5 + n))
  end
  local from = a.seed_base + math.random(0, a.days - 1) * 86400
  return bench.get(string.format("/slots?%s&from=%s&to=%s&duration=30&interval=15",
    table.concat(names, "&"), bench.iso(from), bench.iso(from + 7 * 86400)))
end
