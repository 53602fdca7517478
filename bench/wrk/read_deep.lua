-- read: one list page deep in the book, GET /appointments?limit=100&<page>, where the bench
-- passes `page` as `offset=N` or as `cursor=<the keyset cursor of row N>`: the same rows both
-- ways, to show what each costs as the book grows.
local bench = require("common")

function bench.request()
  return bench.get("/appointments?limit=100&" .. bench.arg.page)
end
