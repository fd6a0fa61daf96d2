dofile("bench/wrk/common.lua")
request = search_wildcard
