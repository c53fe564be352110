// Copyright 2026 the basehttp authors. MIT license.
// Hello world on node:http, run by Node itself: `node node_http.mjs PORT`.
import { createServer } from "node:http";

const body = Buffer.from("Hello, World!");
createServer((_req, res) => {
  res.writeHead(200, {
    "Content-Type": "text/plain",
    "Content-Length": body.length,
  });
  res.end(body);
}).listen(Number(process.argv[2]), "127.0.0.1");
