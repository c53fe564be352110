-- wrk script: send 16 GET requests per write (HTTP/1.1 pipelining).
init = function(args)
  local requests = {}
  for i = 1, 16 do
    requests[i] = wrk.format("GET", "/")
  end
  batch = table.concat(requests)
end

request = function()
  return batch
end
