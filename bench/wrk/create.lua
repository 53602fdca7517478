-- create: new ids, disjoint slots spread over `calendars` calendars (100, or 1 for the worst
-- case, every write in one calendar). Expect 201.
local bench = require("common")

bench.request = bench.create
