dofile("bench/wrk/common.lua")
request = function() return retrieve() end
