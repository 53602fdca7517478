-- read: the default list page, GET /appointments (the first 100 by start, then id).
local bench = require("common")

function bench.request()
  return bench.get("/appointments")
end
