-- A GP practice's day: 70% retrieve, 25% search, 5% read-then-update.
dofile("bench/wrk/common.lua")
request = function()
  local r = math.random()
  if r < 0.05 then
    return patch_next() or retrieve("read")
  elseif r < 0.30 then
    return search_family_birthdate()
  end
  return retrieve("read")
end
response = note_response
