// Copyright 2026 the basehttp authors. MIT license.
// The `serve` command, spawned for real: banner, requests, signals, errors.
import assert from "node:assert/strict";
import { parseArgs, VERSION } from "../cli.ts";
import { delay, exchange, parseResponses, readAll } from "./_util.ts";
import { BANNER, CLI, PERMISSIONS, run, Serve } from "./_serve.ts";
import { hasOpenssl, makeCertificate } from "./_tls.ts";

const tmp = await Deno.makeTempDir({ prefix: "basehttp_cli_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(tmp, { recursive: true });
});
const root = `${tmp}/www`;
await Deno.mkdir(`${root}/sub`, { recursive: true });
await Deno.writeTextFile(`${root}/hello.txt`, "hello\n");
await Deno.writeTextFile(`${root}/.secret`, "dot");

// Any free port on loopback, serving the test tree.
const LOCAL = ["0", "-b", "127.0.0.1", "-d", root];

Deno.test("serve prints Python's banner, serves the directory over HTTP/1.1, logs, and exits 0 on SIGINT", async () => {
  await using serve = new Serve([...LOCAL]);
  const match = await serve.waitFor(BANNER);
  assert.equal(
    match[0],
    `Serving HTTP on 127.0.0.1 port ${match[3]} (http://127.0.0.1:${
      match[3]
    }/) ...\n`,
  );
  const port = Number(match[3]);
  const response = await fetch(`http://127.0.0.1:${port}/hello.txt`);
  assert.equal(await response.text(), "hello\n");
  assert.equal(
    response.headers.get("content-type"),
    "text/plain; charset=utf-8",
  );
  const { text } = await exchange(
    port,
    "GET /sub HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  );
  const [redirect] = parseResponses(text);
  assert.equal(redirect.statusLine, "HTTP/1.1 301 Moved Permanently");
  assert.match(redirect.get("server")!, /^SimpleHTTP\/0\.6 /);
  // Python's access log line, with the real byte count.
  await serve.waitFor(
    /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4} \d\d:\d\d:\d\d\] "GET \/hello\.txt HTTP\/1\.1" 200 6$/m,
  );
  assert.doesNotMatch(serve.stderr, /Warning/, "no warning on loopback");
  serve.child.kill("SIGINT");
  assert.equal(await serve.exit(), 0);
  assert.ok(
    serve.stdout.endsWith("\nKeyboard interrupt received, exiting.\n"),
    serve.stdout,
  );
});

Deno.test(
  "serve shuts down gracefully on SIGTERM too, and serves the working directory by default",
  {
    ignore: Deno.build.os === "windows",
  },
  async () => {
    await using serve = new Serve(["0", "-b", "127.0.0.1"], {
      cwd: `${root}/sub`,
    });
    const port = await serve.banner();
    await Deno.writeTextFile(`${root}/sub/here.txt`, "here");
    const response = await fetch(`http://127.0.0.1:${port}/here.txt`);
    assert.equal(await response.text(), "here");
    serve.child.kill("SIGTERM");
    assert.equal(await serve.exit(), 0);
    // Said as it is: a service manager's stop is no keyboard interrupt.
    assert.match(serve.stdout, /\nSIGTERM received, exiting\.\n$/);
  },
);

Deno.test("serve -d on a symlink follows it when it is switched to the next release", async () => {
  const site = `${tmp}/site`;
  for (const release of ["rel1", "rel2"]) {
    await Deno.mkdir(`${site}/${release}`, { recursive: true });
    await Deno.writeTextFile(`${site}/${release}/x.txt`, release);
  }
  await Deno.symlink(`${site}/rel1`, `${site}/current`);
  await using serve = new Serve([
    "0",
    "-b",
    "127.0.0.1",
    "-d",
    `${site}/current`,
  ]);
  const port = await serve.banner();
  const get = async () => {
    const response = await fetch(`http://127.0.0.1:${port}/x.txt`, {
      headers: { connection: "close" },
    });
    return await response.text();
  };
  assert.equal(await get(), "rel1");
  // As a deploy switches it: a new link renamed over the old one.
  await Deno.symlink(`${site}/rel2`, `${site}/next`);
  await Deno.rename(`${site}/next`, `${site}/current`);
  // Before, the real path found at startup was served, whatever the link.
  assert.equal(await get(), "rel2");
});

// Whether this machine has an IPv6 loopback to test dual-stack on.
const hasIPv6 = (() => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
})();

Deno.test("deno task serve serves the directory it is run from, as the README says", async () => {
  await using serve = new Serve(["0", "-b", "127.0.0.1"], {
    cwd: root,
    task: true,
  });
  const port = await serve.banner();
  const response = await fetch(`http://127.0.0.1:${port}/hello.txt`);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "hello\n");
  serve.child.kill("SIGINT");
  assert.equal(await serve.exit(), 0);
});

Deno.test({
  name:
    "serve binds IPv6 and IPv4 on :: by default, with a warning and the local URL",
  ignore: !hasIPv6,
}, async () => {
  await using serve = new Serve(["0", "-d", root]);
  const match = await serve.waitFor(BANNER);
  const port = match[3];
  assert.equal(
    match[0],
    `Serving HTTP on :: port ${port} (http://[::]:${port}/) ...\n`,
  );
  await serve.waitFor(/^Warning: .* on ::, .*-b 127\.0\.0\.1/m);
  await serve.waitFor(new RegExp(`^Local: http://localhost:${port}/$`, "m"));
  for (const host of ["127.0.0.1", "[::1]"]) {
    const response = await fetch(`http://${host}:${port}/hello.txt`);
    assert.equal(await response.text(), "hello\n", host);
  }
  serve.child.kill("SIGINT");
  assert.equal(await serve.exit(), 0);
  // Without --allow-sys=networkInterfaces, no addresses (and no prompt).
  assert.doesNotMatch(serve.stdout, /^Network:/m);
});

Deno.test("serve falls back to 0.0.0.0 where :: cannot be bound", async () => {
  // Only IPv4's wildcard is granted: binding :: fails as on a machine
  // without IPv6.
  await using serve = new Serve(["0", "-d", root], {
    permissions: [
      "--allow-net=0.0.0.0",
      "--allow-read",
      "--allow-sys=hostname",
    ],
  });
  const match = await serve.waitFor(BANNER);
  const port = match[3];
  assert.equal(
    match[0],
    `Serving HTTP on 0.0.0.0 port ${port} (http://0.0.0.0:${port}/) ...\n`,
  );
  await serve.waitFor(/^Warning: .*0\.0\.0\.0.*-b 127\.0\.0\.1/m);
  await serve.waitFor(new RegExp(`^Local: http://localhost:${port}/$`, "m"));
  const response = await fetch(`http://127.0.0.1:${port}/hello.txt`);
  assert.equal(await response.text(), "hello\n");
  serve.child.kill("SIGINT");
  assert.equal(await serve.exit(), 0);
});

Deno.test("serve without net permission says so in one line, with no prompt", async () => {
  const permissions = ["--allow-read", "--allow-sys=hostname"];
  for (
    const [args, host] of [
      [["0", "-b", "127.0.0.1", "-d", root], "127.0.0.1"],
      [["0", "-d", root], "0.0.0.0"],
    ] as const
  ) {
    const { code, stderr } = await run([...args], { permissions });
    assert.equal(code, 1);
    assert.equal(
      stderr,
      `serve: error: no permission to listen on ${host}:0: run deno with --allow-net=${host}\n`,
    );
  }
});

Deno.test("serve lists this machine's addresses when --allow-sys=networkInterfaces is granted", async () => {
  await using serve = new Serve(["0", "-d", root], {
    permissions: [
      "--allow-net",
      "--allow-read",
      "--allow-sys=hostname,networkInterfaces",
    ],
  });
  const port = await serve.banner();
  await serve.waitFor(/^Local: /m);
  serve.child.kill("SIGINT");
  assert.equal(await serve.exit(), 0);
  const expected = Deno.networkInterfaces()
    .filter(({ family, address }) =>
      (hasIPv6 || family === "IPv4") &&
      !/^(127\.|::1$|fe80:|169\.254\.)/i.test(address)
    )
    .map(({ family, address }) =>
      `Network: http://${family === "IPv6" ? `[${address}]` : address}:${port}/`
    );
  const listed = serve.stdout.split("\n").filter((line) =>
    line.startsWith("Network: ")
  );
  assert.deepEqual(listed, [...new Set(expected)]);
});

Deno.test("serve -q -H --cors --no-listing --dotfiles -p HTTP/1.0 change what is served", async () => {
  await using serve = new Serve([
    ...LOCAL,
    "-q",
    "-H",
    "X-Frame-Options: DENY",
    "--header=Cache-Control: no-store",
    "--cors",
    "--no-listing",
    "--dotfiles",
    "-p",
    "HTTP/1.0",
  ]);
  const port = await serve.banner();
  const { text } = await exchange(
    port,
    "GET /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n",
  );
  const [file] = parseResponses(text);
  assert.equal(file.statusLine, "HTTP/1.0 200 OK");
  assert.equal(file.get("x-frame-options"), "DENY");
  assert.equal(file.get("cache-control"), "no-store");
  assert.equal(file.get("access-control-allow-origin"), "*");
  const listing = await fetch(`http://127.0.0.1:${port}/sub/`);
  await listing.body?.cancel();
  assert.equal(listing.status, 403);
  const dotfile = await fetch(`http://127.0.0.1:${port}/.secret`);
  assert.equal(await dotfile.text(), "dot");
  serve.child.kill("SIGINT");
  assert.equal(await serve.exit(), 0);
  assert.doesNotMatch(serve.stderr, /GET/, "-q: no access log");
});

Deno.test(
  "serve --bind unix:PATH serves on a Unix socket and removes it on exit",
  {
    ignore: Deno.build.os === "windows",
  },
  async () => {
    const path = `${tmp}/serve.sock`;
    await using serve = new Serve(["-b", `unix:${path}`, "-d", root], {
      permissions: [...PERMISSIONS, `--allow-write=${path}`],
    });
    await serve.waitFor(
      new RegExp(`^Serving HTTP on unix:${path} .* \\.\\.\\.$`, "m"),
    );
    const conn = await Deno.connect({ transport: "unix", path });
    await conn.write(
      new TextEncoder().encode(
        "GET /hello.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
      ),
    );
    const { text } = await readAll(conn, 5000);
    try {
      conn.close();
    } catch {
      // readAll() closed it.
    }
    const [response] = parseResponses(text);
    assert.equal(response.status, 200);
    assert.equal(response.body, "hello\n");
    serve.child.kill("SIGINT");
    assert.equal(await serve.exit(), 0);
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  },
);

Deno.test(
  "serve -b unix:PATH says what is at PATH when it cannot bind (a file, a socket in use), and takes over one left behind",
  { ignore: Deno.build.os === "windows" },
  async () => {
    const file = `${tmp}/plain.txt`;
    const stale = `${tmp}/stale.sock`;
    await Deno.writeTextFile(file, "not a socket\n");
    // A socket left behind: its server was killed (a close removes it).
    const listener = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `Deno.listen({ transport: "unix", path: ${JSON.stringify(stale)} });` +
        `console.log("up"); setTimeout(() => {}, 10000);`,
      ],
      stdout: "piped",
    }).spawn();
    await listener.stdout.pipeTo(
      new WritableStream({
        write: () => {
          listener.kill("SIGKILL");
        },
      }),
    );
    await listener.status;
    const permissions = [
      ...PERMISSIONS,
      `--allow-write=${file},${stale}`,
      `--allow-read=${root},${tmp}`,
    ];
    const plain = await run(["-b", `unix:${file}`, "-d", root], {
      permissions,
    });
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /plain\.txt exists and is not a socket/);
    const relative = await run(["-b", "unix:plain.txt", "-d", root], {
      permissions,
      cwd: tmp,
    });
    assert.match(relative.stderr, /plain\.txt exists and is not a socket/);
    assert.equal(await Deno.readTextFile(file), "not a socket\n");
    // Nobody listens there (a connect is refused): removed, and served.
    {
      await using left = new Serve(["-b", `unix:${stale}`, "-d", root], {
        permissions,
      });
      await left.waitFor(/^Serving HTTP on unix:/m);
      assert.match(
        left.stderr,
        /serve: removed \S+stale\.sock, a socket left by a server that did not exit\n/,
      );
      const conn = await Deno.connect({ transport: "unix", path: stale });
      conn.close();
      left.child.kill("SIGINT");
      assert.equal(await left.exit(), 0);
    }
    // A server listens there: left be.
    const live = Deno.listen({ transport: "unix", path: stale });
    try {
      const used = await run(["-b", `unix:${stale}`, "-d", root], {
        permissions,
      });
      assert.equal(used.code, 1);
      assert.match(used.stderr, /stale\.sock is in use by another server/);
    } finally {
      live.close(); // which removes the socket
    }
    await Deno.remove(file);
  },
);

Deno.test("serve --help and --version print and exit 0", async () => {
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: serve /);
  for (
    const flag of [
      "--bind",
      "--directory",
      "--protocol",
      "--tls-cert",
      "--tls-key",
      "--tls-password-file",
      "--header",
      "--cors",
      "--no-listing",
      "--dotfiles",
      "--follow-symlinks",
      "--quiet",
      "--version",
      "--cors-origin",
      "--no-compress",
      "--spa",
      "--auth",
      "--auth-file",
      "--max-age",
      "--immutable",
      "--no-cache",
      "--log-format",
      "--log-file",
      "--cgi-env",
      "--allow-sys=networkInterfaces",
    ]
  ) {
    assert.ok(help.stdout.includes(flag), flag);
  }
  assert.equal(help.stderr, "");
  const version = await run(["--version"]);
  assert.equal(version.code, 0);
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  assert.equal(version.stdout, `serve (@basehttp/server) ${config.version}\n`);
  assert.equal(VERSION, config.version);
});

Deno.test("serve exits 2 for bad flags, as argparse, and 1 for a missing directory or a port in use, with one line on stderr", async () => {
  const usage: [string[], RegExp][] = [
    [["--nope"], /unrecognized argument: --nope/],
    [["-b"], /argument -b\/--bind: expected one argument/],
    [["99999"], /invalid port: '99999'/],
    [["-p", "HTTP/2.0"], /unsupported protocol version: 'HTTP\/2\.0'/],
    [["-H", "no colon"], /invalid header field 'no colon'/],
    [["--tls-key", "k.pem"], /--tls-key requires --tls-cert/],
  ];
  for (const [args, pattern] of usage) {
    const { code, stdout, stderr } = await run(args);
    assert.equal(code, 2, args.join(" "));
    assert.equal(stdout, "", args.join(" "));
    assert.match(stderr, /^serve: error: [^\n]* \(see serve --help\)\n$/);
    assert.match(stderr, pattern);
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const busy = String(listener.addr.port);
    const cases: [string[], RegExp][] = [
      [["-d", `${tmp}/missing`], /directory not found: .*missing/],
      [["-d", `${root}/hello.txt`], /not a directory/],
      [
        [busy, "-b", "127.0.0.1", "-d", root],
        new RegExp(`port ${busy} on 127\\.0\\.0\\.1 is already in use`),
      ],
      [
        ["0", "-b", "127.0.0.1", "--tls-cert", `${tmp}/none.pem`],
        /cannot read the TLS certificate .*none\.pem/,
      ],
    ];
    for (const [args, pattern] of cases) {
      const { code, stdout, stderr } = await run(args);
      assert.equal(code, 1, args.join(" "));
      assert.equal(stdout, "", args.join(" "));
      assert.match(stderr, /^serve: error: [^\n]*\n$/, `one line: ${stderr}`);
      assert.match(stderr, pattern);
      assert.doesNotMatch(stderr, /\bat \S+:\d+/, "no stack trace");
    }
  } finally {
    listener.close();
  }
});

Deno.test("parseArgs() reads Python's flags, defaults and spellings", () => {
  const defaults = parseArgs([]);
  assert.equal(defaults.port, 8000);
  assert.equal(defaults.bind, "");
  assert.equal(defaults.directory, ".");
  assert.equal(defaults.protocol, "HTTP/1.1");
  assert.equal(defaults.listing, true);
  const options = parseArgs([
    "--bind=::1",
    "-dpublic",
    "8080",
    "-H",
    "A: 1",
    "--header",
    "B:  two words ",
    "--tls-cert",
    "c.pem",
    "--tls-key=k.pem",
    "--tls-password-file",
    "p.txt",
    "-q",
    "--cors",
    "--no-listing",
    "--dotfiles",
  ]);
  assert.equal(options.bind, "::1");
  assert.equal(options.directory, "public");
  assert.equal(options.port, 8080);
  assert.deepEqual(options.headers, [["A", "1"], ["B", "two words"]]);
  assert.equal(options.tlsCert, "c.pem");
  assert.equal(options.tlsKey, "k.pem");
  assert.equal(options.tlsPasswordFile, "p.txt");
  assert.ok(options.quiet && options.cors && options.dotfiles);
  assert.equal(options.listing, false);
  assert.equal(parseArgs(["--", "9000"]).port, 9000);
  assert.throws(() => parseArgs(["--", "-5"]), TypeError);
  assert.throws(() => parseArgs(["1", "2"]), TypeError);
  assert.throws(() => parseArgs(["--cors=yes"]), TypeError);
  assert.throws(() => parseArgs(["-H", ": empty name"]), TypeError);
  assert.throws(() => parseArgs(["--tls-password-file", "p"]), TypeError);
  assert.throws(() => parseArgs(["-b", "unix:"]), TypeError);
});

/**
 * Runs `serve` with TLS flags, fetches /hello.txt over HTTPS trusting
 * `cert`, stops it with SIGINT; returns the banner.
 */
async function serveHttps(args: string[], cert: string): Promise<string> {
  await using serve = new Serve([...LOCAL, ...args]);
  const [banner, , , port] = await serve.waitFor(BANNER);
  const client = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(cert)],
  });
  try {
    const response = await fetch(`https://localhost:${port}/hello.txt`, {
      client,
    });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "hello\n");
  } finally {
    client.close();
  }
  serve.child.kill("SIGINT");
  assert.equal(await serve.exit(), 0);
  return banner;
}

Deno.test({
  name: "serve --tls-cert/--tls-key serves HTTPS with Python's banner",
  ignore: !hasOpenssl,
  async fn() {
    const dir = await Deno.makeTempDir({ dir: tmp });
    const { cert, key } = await makeCertificate(dir);
    const banner = await serveHttps(
      ["--tls-cert", cert, "--tls-key", key],
      cert,
    );
    const port = /port (\d+)/.exec(banner)![1];
    assert.equal(
      banner,
      `Serving HTTPS on 127.0.0.1 port ${port} (https://127.0.0.1:${port}/) ...\n`,
    );
  },
});

Deno.test({
  name:
    "serve reads the key from the certificate file, and decrypts a key with --tls-password-file",
  ignore: !hasOpenssl,
  async fn() {
    const dir = await Deno.makeTempDir({ dir: tmp });
    const { cert, key } = await makeCertificate(dir);
    // One file with both, as Python's --tls-cert accepts.
    const both = `${dir}/both.pem`;
    await Deno.writeTextFile(
      both,
      await Deno.readTextFile(cert) + await Deno.readTextFile(key),
    );
    await serveHttps(["--tls-cert", both], cert);
    // An AES-encrypted PKCS#8 key and its password file.
    const encrypted = `${dir}/encrypted.pem`;
    const converted = await new Deno.Command("openssl", {
      args: [
        "pkcs8",
        "-topk8",
        "-v2",
        "aes-256-cbc",
        "-in",
        key,
        "-out",
        encrypted,
        "-passout",
        "pass:s3cret",
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    assert.ok(converted.success);
    await Deno.writeTextFile(`${dir}/password.txt`, "s3cret\n");
    await Deno.writeTextFile(`${dir}/wrong.txt`, "nope\n");
    await serveHttps([
      "--tls-cert",
      cert,
      "--tls-key",
      encrypted,
      "--tls-password-file",
      `${dir}/password.txt`,
    ], cert);
    const base = [
      ...LOCAL,
      "--tls-cert",
      cert,
      "--tls-key",
      encrypted,
    ];
    const wrong = await run([
      ...base,
      "--tls-password-file",
      `${dir}/wrong.txt`,
    ]);
    assert.equal(wrong.code, 1);
    assert.match(
      wrong.stderr,
      /^serve: error: cannot decrypt the TLS key [^\n]*\n$/,
    );
    const missing = await run(base);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^serve: error: the TLS key .* is encrypted: pass --tls-password-file\n$/,
    );
    const garbage = `${dir}/garbage.pem`;
    await Deno.writeTextFile(
      garbage,
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    const bad = await run([
      ...LOCAL,
      "--tls-cert",
      garbage,
      "--tls-key",
      key,
    ]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /^serve: error: invalid TLS certificate or key: [^\n]*\n$/,
    );
  },
});

Deno.test(
  "--shutdown-timeout: requests in flight get that long once signalled, then are cut",
  {
    ignore: Deno.build.os === "windows",
  },
  async () => {
    await using serve = new Serve([...LOCAL, "--shutdown-timeout", "0.5"]);
    const port = await serve.banner();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      // A body that never comes in full keeps a request in flight.
      await conn.write(
        new TextEncoder().encode(
          "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\nabc",
        ),
      );
      await delay(100);
      const signalled = Date.now();
      serve.child.kill("SIGTERM");
      assert.equal(await serve.exit(5000), 0);
      const took = Date.now() - signalled;
      assert.ok(took >= 450 && took < 3000, `exited after ${took} ms`);
    } finally {
      conn.close();
    }
  },
);

Deno.test("a second signal stops waiting for requests in flight", {
  ignore: Deno.build.os === "windows",
}, async () => {
  await using serve = new Serve([...LOCAL]);
  const port = await serve.banner();
  // A request that never completes its head keeps the server busy.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode("GET /hello.txt HTTP/1.1\r\nHost"),
    );
    await delay(100);
    serve.child.kill("SIGINT");
    await serve.waitFor(/Keyboard interrupt received/);
    // Still waiting for the unfinished request (the grace period is 10 s).
    const early = await Promise.race([serve.child.status, delay(300)]);
    assert.equal(early, undefined, "still running after one signal");
    serve.child.kill("SIGINT");
    assert.equal(await serve.exit(5000), 0);
  } finally {
    conn.close();
  }
});

Deno.test(
  "serve --workers 2: a signal to the whole process group (Ctrl-C in a terminal, systemd's stop) is one graceful stop, and a second stops waiting",
  {
    ignore: Deno.build.os !== "linux",
  },
  async () => {
    await using serve = new Serve([...LOCAL, "--workers", "2"], {
      permissions: [...PERMISSIONS, "--allow-run"],
      processGroup: true,
    });
    const port = await serve.banner();
    await serve.waitFor(/^\(2 worker processes share the port\)$/m);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(
        new TextEncoder().encode("GET /hello.txt HTTP/1.1\r\nHost"),
      );
      await delay(100);
      // Each worker gets the signal itself and then its supervisor's: not
      // a second signal.
      Deno.kill(-serve.child.pid, "SIGINT");
      await serve.waitFor(/Keyboard interrupt received/);
      const early = await Promise.race([serve.child.status, delay(500)]);
      assert.equal(early, undefined, "still running after one signal");
      const read = conn.read(new Uint8Array(16)).catch(() => null);
      const cut = await Promise.race([read, delay(100).then(() => "open")]);
      assert.equal(cut, "open", "the request in flight was cut");
      Deno.kill(-serve.child.pid, "SIGINT");
      assert.equal(await serve.exit(5000), 0);
      await read;
    } finally {
      conn.close();
    }
  },
);

const hasSs = Deno.build.os === "linux" &&
  await new Deno.Command("ss", { args: ["-V"], stdout: "null" }).output()
    .then((o) => o.success, () => false);

/** The pids of the sockets `ss` lists for a local port. */
async function socketPids(port: number, state: string): Promise<Set<string>> {
  const { stdout } = await new Deno.Command("ss", {
    args: ["-tnpH", "state", state, `sport = :${port}`],
  }).output();
  const text = new TextDecoder().decode(stdout);
  return new Set([...text.matchAll(/pid=(\d+)/g)].map((m) => m[1]));
}

Deno.test({
  name:
    "serve --workers 2 serves one port from two processes (SO_REUSEPORT) and stops them on SIGINT",
  ignore: !hasSs,
}, async () => {
  // --reuse-port too, which the workers have anyway: the parent binds
  // nothing, so it needs no --unstable-net. A user whose name begins with
  // "-", given as --auth=…, reaches the workers as such.
  await using serve = new Serve([
    ...LOCAL,
    "--workers",
    "2",
    "--reuse-port",
    "--auth=-ada:pw",
  ], { permissions: [...PERMISSIONS, "--allow-run"] });
  const port = await serve.banner();
  await serve.waitFor(/^\(2 worker processes share the port\)$/m);
  const listeners = await socketPids(port, "listening");
  assert.equal(listeners.size, 2, `listening: ${[...listeners]}`);
  assert.ok(!listeners.has(String(serve.child.pid)), "the parent only waits");

  // Connections are spread by the kernel: with 24 of them, both workers
  // answer (the chance that one gets all is 2 in 16 million).
  const request = new TextEncoder().encode(
    `GET /hello.txt HTTP/1.1\r\nHost: h\r\nAuthorization: Basic ${
      btoa("-ada:pw")
    }\r\n\r\n`,
  );
  const conns = await Promise.all(
    Array.from(
      { length: 24 },
      () => Deno.connect({ hostname: "127.0.0.1", port }),
    ),
  );
  try {
    const buf = new Uint8Array(4096);
    for (const conn of conns) {
      await conn.write(request);
      const n = await conn.read(buf);
      assert.match(
        new TextDecoder().decode(buf.subarray(0, n!)),
        /^HTTP\/1\.1 200 OK/,
      );
    }
    const serving = await socketPids(port, "established");
    assert.deepEqual([...serving].sort(), [...listeners].sort());
  } finally {
    for (const conn of conns) conn.close();
  }

  serve.child.kill("SIGINT");
  assert.equal(await serve.exit(), 0);
  assert.match(serve.stdout, /Keyboard interrupt received, exiting\.\n$/);
  // The workers are gone, not just closed.
  const ps = await new Deno.Command("ps", {
    args: ["-o", "pid=", "-p", [...listeners].join(",")],
  }).output();
  assert.equal(new TextDecoder().decode(ps.stdout).trim(), "");
});

/** Waits until `count` pids listen on `port`, other than `gone`. */
async function listeners(
  port: number,
  count: number,
  gone: Set<string>,
): Promise<Set<string>> {
  const deadline = Date.now() + 10_000;
  while (true) {
    const pids = await socketPids(port, "listening");
    if (pids.size === count && ![...pids].some((pid) => gone.has(pid))) {
      return pids;
    }
    assert.ok(Date.now() < deadline, `listening: ${[...pids]}`);
    await delay(50);
  }
}

/**
 * Starts `serve --workers 2` with `args`, lets the workers age past
 * RESPAWN_AFTER_MS and SIGKILLs one: the supervisor is starting another.
 */
async function killAWorker(serve: Serve): Promise<{
  port: number;
  first: Set<string>;
  victim: string;
}> {
  const port = await serve.banner();
  await serve.waitFor(/^\(2 worker processes share the port\)$/m);
  const first = await listeners(port, 2, new Set());
  await delay(2100); // older than RESPAWN_AFTER_MS
  const [victim] = first;
  Deno.kill(Number(victim), "SIGKILL");
  await serve.waitFor(
    new RegExp(
      `^serve: worker ${victim} was killed by SIGKILL; starting another$`,
      "m",
    ),
  );
  return { port, first, victim };
}

Deno.test({
  name:
    "serve --workers 2 replaces a worker that is killed, and stops if one dies as it starts",
  ignore: !hasSs,
}, async () => {
  await using serve = new Serve([...LOCAL, "--workers", "2"], {
    permissions: [...PERMISSIONS, "--allow-run"],
  });
  const { port, first, victim } = await killAWorker(serve);
  const now = await listeners(port, 2, new Set([victim]));
  const [replacement] = [...now].filter((pid) => !first.has(pid));
  assert.ok(replacement !== undefined, `listening: ${[...now]}`);
  const { text } = await exchange(
    port,
    "GET /hello.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  );
  assert.match(text, /^HTTP\/1\.1 200 OK/);
  // One that dies at once would die again: the service ends, and says so.
  Deno.kill(Number(replacement), "SIGKILL");
  assert.equal(await serve.exit(), 1);
  assert.match(
    serve.stderr,
    new RegExp(
      `^serve: worker ${replacement} was killed by SIGKILL: stopping$`,
      "m",
    ),
  );
  const ps = await new Deno.Command("ps", {
    args: ["-o", "pid=", "-p", [...first, ...now].join(",")],
  }).output();
  assert.equal(new TextDecoder().decode(ps.stdout).trim(), "", "no orphans");
});

Deno.test({
  name:
    "serve --workers 2: a replacement that dies before its banner ends the service with a line saying so",
  ignore: !hasSs,
}, async () => {
  await using serve = new Serve([...LOCAL, "--workers", "2"], {
    permissions: [...PERMISSIONS, "--allow-run"],
  });
  const { first } = await killAWorker(serve);
  // The replacement, killed as soon as it exists, long before its banner.
  let replacement = "";
  for (let tries = 0; replacement === "" && tries < 400; tries++) {
    const { stdout } = await new Deno.Command("pgrep", {
      args: ["-P", String(serve.child.pid)],
    }).output();
    const pids = new TextDecoder().decode(stdout).split("\n").filter((pid) =>
      pid !== "" && !first.has(pid)
    );
    replacement = pids[0] ?? "";
    if (replacement === "") await delay(5);
  }
  assert.notEqual(replacement, "", "no replacement seen");
  Deno.kill(Number(replacement), "SIGKILL");
  assert.equal(await serve.exit(), 1);
  assert.match(
    serve.stderr,
    new RegExp(
      `^serve: worker ${replacement} (was killed by SIGKILL|could not start): stopping$`,
      "m",
    ),
  );
});

Deno.test({
  name:
    "serve --workers 2 --log-file: a SIGHUP while a replacement starts reaches it once it listens, and kills nothing",
  ignore: !hasSs,
}, async () => {
  const log = `${tmp}/hup-workers.log`;
  await using serve = new Serve(
    [...LOCAL, "--workers", "2", "--log-file", log],
    { permissions: [...PERMISSIONS, "--allow-run", `--allow-write=${log}`] },
  );
  const { port, victim } = await killAWorker(serve);
  // logrotate's postrotate, while the replacement has no SIGHUP listener.
  serve.child.kill("SIGHUP");
  const now = await listeners(port, 2, new Set([victim]));
  await delay(300);
  assert.doesNotMatch(serve.stderr, /SIGHUP|stopping/);
  assert.deepEqual(await socketPids(port, "listening"), now);
  const { text } = await exchange(
    port,
    "GET /hello.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  );
  assert.match(text, /^HTTP\/1\.1 200 OK/);
  serve.child.kill("SIGINT");
  assert.equal(await serve.exit(), 0);
});

Deno.test("parseArgs() reads --workers and --reuse-port, and refuses them on a Unix socket", () => {
  assert.equal(parseArgs([]).workers, 1);
  assert.equal(parseArgs(["--workers", "4"]).workers, 4);
  assert.equal(parseArgs(["--reuse-port"]).reusePort, true);
  assert.throws(() => parseArgs(["--workers", "0"]), TypeError);
  assert.throws(() => parseArgs(["--workers", "x"]), TypeError);
  assert.throws(
    () => parseArgs(["--workers", "2", "-b", "unix:/tmp/s.sock"]),
    TypeError,
  );
});

Deno.test("serve --cgi runs the examples' CGI script, and needs --allow-run", async () => {
  const examples = new URL("../examples", import.meta.url).pathname;
  const args = ["0", "-b", "127.0.0.1", "-d", examples, "--cgi", "-q"];
  {
    await using serve = new Serve(args, {
      permissions: [...PERMISSIONS, "--allow-run"],
    });
    const port = await serve.banner();
    const response = await fetch(
      `http://127.0.0.1:${port}/cgi-bin/hello.sh?name=Ada`,
    );
    assert.equal(response.status, 200);
    assert.match(await response.text(), /Ada/);
    serve.child.kill("SIGTERM");
    assert.equal(await serve.exit(), 0);
  }
  const denied = await run(args);
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /^serve: error: --cgi .*--allow-run\n$/);
  assert.equal(parseArgs(["--cgi"]).cgi, true);
});

Deno.test({
  name:
    "serve without read permission exits 1 naming the flag, also in a terminal (no prompt)",
  // script(1) is util-linux's, on every Debian; skipped where it is absent.
  ignore: !hasScript(),
  async fn() {
    // script(1) gives the child a terminal, where Deno would prompt.
    const command = [
      Deno.execPath(),
      "run",
      "--allow-net",
      "--allow-sys=hostname",
      CLI,
      "-d",
      root,
      "0",
    ]
      .map((word) => `'${word}'`).join(" ");
    const child = new Deno.Command("script", {
      args: ["-qec", command, "/dev/null"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    const [status, out] = await Promise.all([
      child.status,
      new Response(child.stdout).text(),
      child.stderr.cancel(),
      child.stdin.close(),
    ]);
    clearTimeout(timer);
    assert.equal(status.code, 1, out);
    assert.match(out, /--allow-read=/);
  },
});

function hasScript(): boolean {
  try {
    return Deno.build.os === "linux" && Deno.statSync("/usr/bin/script").isFile;
  } catch {
    return false;
  }
}
