-- A GP system's update: read the record (for its ETag), then patch a telecom.
dofile("bench/wrk/common.lua")
request = function() return patch_next() or retrieve("read") end
response = note_response
