dofile("bench/wrk/common.lua")
request = search_family_birthdate
