-- read: one seeded appointment by id, GET /appointments/{id}, uniformly over the whole book.
local bench = require("common")

function bench.request()
  return bench.by_id()
end
