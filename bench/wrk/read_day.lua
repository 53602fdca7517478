-- read: one calendar's day, GET /appointments?calendar=X&from=<day 00:00>&to=<next day 00:00>.
local bench = require("common")

function bench.request()
  return bench.calendar_day()
end
