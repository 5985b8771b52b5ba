-- wrk script of the `webhook_events` figure; bench/webhooks.py writes its input:
--
--   wrk -s bench/webhooks.lua http://127.0.0.1:PORT/pay/webhooks/sandbox/ -- FILE THREADS
--
-- FILE holds one signed event a line, "<Stripe-Signature header>\t<JSON body>". Of THREADS
-- threads, thread i POSTs lines i+1, i+1+THREADS, ... to the URL's path, each once; should
-- its share run out it starts it again, and done() reports those repeats as "sent" beyond
-- "prepared" (wrk also calls request() once on its own, to check the script). Every response is counted: 2xx "ok" (a new event stored), 2xx "duplicate"
-- (an event seen before), anything else. done() writes the totals as one line:
--
--   webhook_events: prepared N, sent N, acknowledged N, duplicate N, other N

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   local file_name, thread_count = args[1], tonumber(args[2])
   requests = {}
   local file = assert(io.open(file_name, "rb"))
   local line_number = 0
   for line in file:lines() do
      if line_number % thread_count == id then
         local tab = assert(string.find(line, "\t", 1, true), "no tab in a line")
         local headers = {
            ["Content-Type"] = "application/json",
            ["Stripe-Signature"] = string.sub(line, 1, tab - 1),
         }
         requests[#requests + 1] = wrk.format("POST", wrk.path, headers, string.sub(line, tab + 1))
      end
      line_number = line_number + 1
   end
   file:close()
   assert(#requests > 0, "no request for thread " .. id)
   prepared, sent, acknowledged, duplicate, other = #requests, 0, 0, 0, 0
end

function request()
   sent = sent + 1
   return requests[(sent - 1) % prepared + 1]
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      other = other + 1
   elseif body == "ok" then
      acknowledged = acknowledged + 1
   elseif body == "duplicate" then
      duplicate = duplicate + 1
   else
      other = other + 1
   end
end

function done()
   local names = { "prepared", "sent", "acknowledged", "duplicate", "other" }
   local totals = {}
   for _, name in ipairs(names) do
      totals[name] = 0
      for _, thread in ipairs(threads) do
         totals[name] = totals[name] + thread:get(name)
      end
   end
   io.write(string.format(
      "webhook_events: prepared %d, sent %d, acknowledged %d, duplicate %d, other %d\n",
      totals.prepared, totals.sent, totals.acknowledged, totals.duplicate, totals.other
   ))
end
