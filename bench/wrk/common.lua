-- Shared by every scenario: inputs sampled from the loaded population, the
-- headers every /Patient request needs, and one machine-readable result line.
-- The bench script sets BENCH_WORK (where the inputs are) and BENCH_TOKEN.
local work = os.getenv("BENCH_WORK")

ids = {}
for line in io.lines(work .. "/ids.txt") do ids[#ids + 1] = line end

-- `pds sample` lines: NHS number, family, given, birth date, gender, postcode
people = {}
for line in io.lines(work .. "/people.txt") do
  local p = {}
  for field in line:gmatch("%S+") do p[#p + 1] = field end
  if #p == 6 then people[#people + 1] = p end
end

wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.headers["X-Request-ID"] = "60e0b220-8136-4ca5-ae46-1d97ef59d068"

-- wrk.format sends only the headers it is given, so add ours to a copy.
local function headers(extra)
  local all = {}
  for k, v in pairs(wrk.headers) do all[k] = v end
  for k, v in pairs(extra) do all[k] = v end
  return all
end

function random_id() return ids[math.random(#ids)] end
function random_person() return people[math.random(#people)] end

function retrieve(tag)
  local id = random_id()
  if tag then
    return wrk.format("GET", "/Patient/" .. id, headers({ ["X-Correlation-ID"] = tag .. "-" .. id }))
  end
  return wrk.format("GET", "/Patient/" .. id)
end

function search_family_birthdate()
  local p = random_person()
  return wrk.format("GET", "/Patient?family=" .. p[2] .. "&birthdate=eq" .. p[4])
end

function search_wildcard()
  local p = random_person()
  return wrk.format("GET", "/Patient?family=" .. p[2]:sub(1, 3) .. "*&birthdate=eq" .. p[4])
end

function search_fuzzy()
  local p = random_person()
  local f = p[2]
  -- Two letters swapped: a typing slip only the fuzzy search forgives.
  local typo = f:sub(1, 1) .. f:sub(3, 3) .. f:sub(2, 2) .. f:sub(4)
  return wrk.format("GET", "/Patient?family=" .. typo .. "&given=" .. p[3]
    .. "&birthdate=eq" .. p[4] .. "&_fuzzy-match=true")
end

-- Writes need a fresh X-Request-ID each: a repeated one replays the first
-- answer (or is refused when the request differs).
local function uuid()
  return string.format("%04x%04x-%04x-4%03x-%04x-%04x%04x%04x",
    math.random(0, 0xffff), math.random(0, 0xffff), math.random(0, 0xffff),
    math.random(0, 0xfff), 0x8000 + math.random(0, 0x3fff),
    math.random(0, 0xffff), math.random(0, 0xffff), math.random(0, 0xffff))
end

-- Read-then-update: a retrieve tagged "read-<id>" leaves the record's ETag
-- and the patch to make here, and a later request of the same wrk thread
-- sends that patch.
readable = {}
patched, patch_failed = 0, 0

local add_mobile = '{"patches":[{"op":"add","path":"/telecom/-","value":'
  .. '{"system":"phone","value":"07700900123","use":"mobile"}}]}'

-- A new value for the record's first telecom (same id, system and use, as
-- PDS requires), or a mobile number for a record with none. The patient's
-- own telecom list is the last member of the rendered record. Plain finds
-- near the end of the body: wrk shares the CPU with the server.
local function telecom_patch(body)
  local tail = body:sub(-1500)
  local at, from = nil, 1
  while true do
    local found = tail:find('"telecom":[', from, true)
    if not found then break end
    at, from = found, found + 1
  end
  local list = at and tail:match('^"telecom":(%b[])}$', at)
  local first = list and list:match("^%[(%b{})")
  if not first then return add_mobile end
  local id = first:match('"id":"([^"]+)"')
  local system = first:match('"system":"([^"]+)"')
  local use = first:match('"use":"([^"]+)"')
  if not id or not system or first:find('"extension"', 1, true) then return add_mobile end
  local value = system == "email"
    and string.format("patient%06d@example.nhs.uk", math.random(0, 999999))
    or string.format("07700 9%05d", math.random(0, 99999))
  local telecom = string.format('{"id":"%s","system":"%s",%s"value":"%s"}',
    id, system, use and ('"use":"' .. use .. '",') or "", value)
  return '{"patches":[{"op":"replace","path":"/telecom/0","value":' .. telecom .. '}]}'
end

-- A GP system without the sensitive-records activity cannot update a
-- restricted record: leave those alone.
local function restricted(body)
  local at = body:find('"security":[{"code":"', 1, true)
  local label = at and body:sub(at + 21, at + 21)
  return label == "R" or label == "V"
end

function patch_next()
  local r = table.remove(readable)
  if not r then return nil end
  return wrk.format("PATCH", "/Patient/" .. r[1], headers({
    ["If-Match"] = r[2],
    ["Content-Type"] = "application/json-patch+json",
    ["X-Correlation-ID"] = "patch-" .. r[1],
    ["X-Request-ID"] = uuid(),
  }), r[3])
end

function note_response(status, headers, body)
  local tag = headers["x-correlation-id"] or headers["X-Correlation-ID"]
  if not tag then return end
  local kind, id = tag:match("^(%a+)%-(%d+)$")
  if kind == "read" and status == 200 and #readable < 64 and not restricted(body) then
    readable[#readable + 1] = { id, headers["etag"] or headers["ETag"], telecom_patch(body) }
  elseif kind == "patch" then
    if status == 200 then patched = patched + 1 else patch_failed = patch_failed + 1 end
  end
end

local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_number", #threads)
end

-- Each wrk thread has its own Lua state: seed each differently, or all
-- would draw the same patients in the same order.
function init(args)
  math.randomseed(os.time() * 100 + thread_number)
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  local patches, failed = 0, 0
  for _, t in ipairs(threads) do
    patches = patches + (t:get("patched") or 0)
    failed = failed + (t:get("patch_failed") or 0)
  end
  io.write(string.format("RESULT %.0f %.2f %.2f %.2f %d %.0f %d\n",
    summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, errors, patches / seconds, failed))
end
