-- wrk script: GET a path picked at random for each request from a list file,
-- one path a line: wrk -s random_paths.lua URL -- LIST_FILE
init = function(args)
  requests = {}
  for path in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format("GET", path)
  end
  if #requests == 0 then
    error("no paths in " .. tostring(args[1]))
  end
end

request = function()
  return requests[math.random(#requests)]
end
