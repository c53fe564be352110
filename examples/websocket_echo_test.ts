// Copyright 2026 the basehttp authors. MIT license.
// Testing a WebSocket handler with `deno test`, no permission needed:
//
//   deno test examples/websocket_echo_test.ts
//
// In your own project, import from "@basehttp/server/testing".
import assert from "node:assert/strict";
import { testClient } from "../testing.ts";
import { EchoHandler } from "./websocket_echo.ts";

Deno.test("the socket echoes text and bytes, and closes cleanly", async () => {
  await using client = testClient(EchoHandler);
  await using ws = await client.webSocket("/ws");
  await ws.send("hello");
  assert.equal(await ws.next(), "hello");
  await ws.send(new Uint8Array([1, 2, 3]));
  assert.deepEqual(await ws.next(), new Uint8Array([1, 2, 3]));
  assert.deepEqual(await ws.close(), { code: 1000, reason: "" });
});

Deno.test("a GET of /ws that is not a handshake gets 400", async () => {
  await using client = testClient(EchoHandler);
  const response = await client.request("GET", "/ws");
  assert.equal(response.status, 400);
});
