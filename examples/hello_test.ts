// Copyright 2026 the basehttp authors. MIT license.
// Testing a handler with `deno test`, no permission needed:
//
//   deno test examples/hello_test.ts
//
// In your own project, import from "@basehttp/server/testing".
import assert from "node:assert/strict";
import { testClient } from "../testing.ts";
import { Hello } from "./hello.ts";

Deno.test("GET answers with the path", async () => {
  await using client = testClient(Hello);
  const response = await client.request("GET", "/world");
  assert.equal(response.status, 200);
  assert.equal(
    response.headers.get("Content-Type"),
    "text/plain; charset=utf-8",
  );
  assert.equal(response.text(), "Hello from /world\n");
});

Deno.test("requests share one kept-alive connection", async () => {
  await using client = testClient(Hello);
  await client.request("GET", "/1");
  await client.request("GET", "/2");
  assert.equal(client.connections, 1);
});

Deno.test("an unknown method gets 501, logged", async () => {
  await using client = testClient(Hello);
  const response = await client.request("SPAM", "/");
  assert.equal(response.status, 501);
  assert.match(client.log.at(-1)!, /"SPAM \/ HTTP\/1.1" 501/);
});

Deno.test("fetch() reads like a test written for fetch", async () => {
  await using client = testClient(Hello);
  const response = await client.fetch("/fetched");
  assert.equal(await response.text(), "Hello from /fetched\n");
});
