// Copyright 2026 the basehttp authors. MIT license.
// The pages people look at, in a real browser: headless Chromium, driven
// over the DevTools protocol (a WebSocket, no npm package), against `serve`
// spawned for real. Screenshots are saved for a reviewer to open.
import assert from "node:assert/strict";
import { HTTPServer, type HTTPServerOptions } from "../mod.ts";
import { EchoHandler } from "../examples/websocket_echo.ts";
import { PERMISSIONS, Serve } from "./_serve.ts";
import { hasOpenssl, withCertificate } from "./_tls.ts";

const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
const SCREENSHOTS = Deno.env.get("BROWSER_SCREENSHOTS") ??
  `${Deno.env.get("TMPDIR") ?? "/tmp"}/basehttp-screenshots`;
const hasChromium = await Deno.stat(CHROMIUM).then(
  (s) => s.isFile,
  () => false,
);
if (!hasChromium) {
  console.log(
    `browser_test: SKIPPED, no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM)`,
  );
}

/** A CDP message: a reply to `id`, or an event. */
interface Message {
  id?: number;
  method?: string;
  sessionId?: string;
  params?: Record<string, unknown>;
  // deno-lint-ignore no-explicit-any
  result?: any;
  error?: { message: string };
}

/** Headless Chromium and one page of it, spoken to over CDP. */
class Browser implements AsyncDisposable {
  #child: Deno.ChildProcess;
  #profile: string;
  #socket: WebSocket | null = null;
  #closed: Promise<unknown> = Promise.resolve();
  #stderr: Promise<unknown> = Promise.resolve();
  #next = 1;
  #replies = new Map<number, PromiseWithResolvers<Message>>();
  #waiters: { method: string; found: (params: Message["params"]) => void }[] =
    [];
  session = "";
  /** Each screenshot's share of drawn pixels, by name. */
  readonly drawn: Map<string, number> = new Map();

  private constructor(child: Deno.ChildProcess, profile: string) {
    this.#child = child;
    this.#profile = profile;
  }

  /** Starts Chromium with a fresh profile and opens a blank page. */
  static async launch(): Promise<Browser> {
    const profile = await Deno.makeTempDir({ prefix: "basehttp_chromium_" });
    const child = new Deno.Command(CHROMIUM, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--remote-debugging-port=0",
        "--ignore-certificate-errors", // the tests' self-signed certificate
        `--user-data-dir=${profile}`,
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const browser = new Browser(child, profile);
    try {
      await browser.#connect();
      const { targetId } = await browser.send("Target.createTarget", {
        url: "about:blank",
      });
      const { sessionId } = await browser.send("Target.attachToTarget", {
        targetId,
        flatten: true,
      });
      browser.session = sessionId;
      await browser.send("Page.enable", {}, sessionId);
    } catch (error) {
      await browser[Symbol.asyncDispose]();
      throw error;
    }
    return browser;
  }

  /** Reads stderr to the DevTools URL (draining it after), and connects. */
  async #connect(): Promise<void> {
    const lines = this.#child.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    let url: string | undefined;
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 10_000);
    try {
      while (url === undefined) {
        const { value, done } = await lines.read();
        if (done) throw new Error(`Chromium did not start:\n${text}`);
        text += value;
        url = /DevTools listening on (ws:\/\/\S+)/.exec(text)?.[1];
      }
    } finally {
      clearTimeout(timer);
    }
    this.#stderr = (async () => {
      while (!(await lines.read()).done) {
        // Chromium's own chatter.
      }
    })();
    const socket = new WebSocket(url);
    this.#closed = new Promise((resolve) => socket.onclose = resolve);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
    socket.onmessage = (event) => this.#receive(JSON.parse(event.data));
    this.#socket = socket;
  }

  #receive(message: Message): void {
    if (message.id !== undefined) {
      const reply = this.#replies.get(message.id);
      this.#replies.delete(message.id);
      if (message.error) reply?.reject(new Error(message.error.message));
      else reply?.resolve(message.result);
      return;
    }
    const index = this.#waiters.findIndex((w) => w.method === message.method);
    if (index !== -1) this.#waiters.splice(index, 1)[0].found(message.params);
  }

  /** Sends a command (to the page with `sessionId`); resolves to its result. */
  // deno-lint-ignore no-explicit-any
  send(method: string, params = {}, sessionId?: string): Promise<any> {
    const id = this.#next++;
    const reply = Promise.withResolvers<Message>();
    this.#replies.set(id, reply);
    this.#socket!.send(JSON.stringify({ id, method, params, sessionId }));
    return reply.promise;
  }

  /** A command to the page. */
  // deno-lint-ignore no-explicit-any
  page(method: string, params = {}): Promise<any> {
    return this.send(method, params, this.session);
  }

  /** The next page event `method`, or a failure after `ms`. */
  event(method: string, ms = 5000): Promise<Message["params"]> {
    let timer: ReturnType<typeof setTimeout>;
    return Promise.race([
      new Promise<Message["params"]>((found) =>
        this.#waiters.push({ method, found })
      ),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no ${method}`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Evaluates `expression` in the page (awaiting a promise); its value. */
  async eval<T>(expression: string): Promise<T> {
    const { result, exceptionDetails } = await this.page("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    });
    if (exceptionDetails !== undefined) {
      throw new Error(
        `${expression}: ${
          exceptionDetails.exception?.description ?? exceptionDetails.text
        }`,
      );
    }
    return result.value as T;
  }

  /** Runs `action` (a navigation) and waits for the page to load. */
  async loads(action: () => Promise<unknown>, ms?: number): Promise<void> {
    const loaded = this.event("Page.loadEventFired", ms);
    await action();
    await loaded;
  }

  /** Opens `url` and waits for it to load. */
  goto(url: string): Promise<void> {
    return this.loads(() => this.page("Page.navigate", { url }));
  }

  /** Chooses `files` in the file input that `selector` finds. */
  async chooseFiles(selector: string, files: string[]): Promise<void> {
    const { root } = await this.page("DOM.getDocument", { depth: 0 });
    const { nodeId } = await this.page("DOM.querySelector", {
      nodeId: root.nodeId,
      selector,
    });
    await this.page("DOM.setFileInputFiles", { nodeId, files });
  }

  /** Lays the page out at `width` CSS pixels, as a phone when narrow. */
  async viewport(width: number): Promise<void> {
    await this.page("Emulation.setDeviceMetricsOverride", {
      width,
      height: 800,
      deviceScaleFactor: 1,
      mobile: width < 600,
    });
  }

  /**
   * Saves a screenshot as `name`.png and returns the share of its pixels
   * that differ from the top-left one (the background), decoded by the
   * page's own canvas.
   */
  async screenshot(name: string): Promise<number> {
    const { data } = await this.page("Page.captureScreenshot", {
      format: "png",
    });
    await Deno.mkdir(SCREENSHOTS, { recursive: true });
    const png = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    await Deno.writeFile(`${SCREENSHOTS}/${name}.png`, png);
    const drawn = await this.eval<number>(`(async () => {
      const image = new Image();
      image.src = "data:image/png;base64,${data}";
      await image.decode();
      const canvas = document.createElement("canvas");
      canvas.width = image.width;
      canvas.height = image.height;
      const context = canvas.getContext("2d");
      context.drawImage(image, 0, 0);
      const d = context.getImageData(0, 0, image.width, image.height).data;
      let differ = 0;
      for (let i = 0; i < d.length; i += 4) {
        const delta = Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) +
          Math.abs(d[i + 2] - d[2]);
        if (delta > 48) differ++;
      }
      return differ / (d.length / 4);
    })()`);
    this.drawn.set(name, drawn);
    return drawn;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#socket !== null) {
      // Browser.close ends Chromium and all its processes.
      await Promise.race([
        this.send("Browser.close").catch(() => {}),
        this.#closed,
      ]);
      this.#socket.close();
      await this.#closed;
    }
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    try {
      await this.#child.status;
    } finally {
      clearTimeout(timer);
    }
    await this.#stderr;
    await Deno.remove(this.#profile, { recursive: true });
    for (const reply of this.#replies.values()) {
      reply.reject(new Error("browser closed"));
    }
  }
}

/** Layout facts at the current width. */
interface Layout {
  scrollWidth: number;
  innerWidth: number;
  /** The text of each listed link that is not wholly on screen. */
  hidden: string[];
  links: string[];
}

const LAYOUT = `(() => {
  const links = [...document.querySelectorAll("tbody a")];
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth,
    links: links.map((a) => a.textContent),
    hidden: [...links, ...document.querySelectorAll("form input, form button")].filter((e) => {
      const r = e.getBoundingClientRect();
      return e.offsetParent !== null &&
        (r.width === 0 || r.height === 0 || r.left < 0 || r.right > innerWidth);
    }).map((e) => e.textContent || e.outerHTML),
  };
})()`;

/** Checks the page fits `width` with every link on screen; screenshots it. */
async function checkFits(
  browser: Browser,
  width: number,
  name: string,
): Promise<Layout> {
  await browser.viewport(width);
  const layout = await browser.eval<Layout>(LAYOUT);
  assert.equal(layout.innerWidth, width);
  assert.ok(
    layout.scrollWidth <= width,
    `${name}: ${layout.scrollWidth} px wide at ${width}`,
  );
  assert.deepEqual(layout.hidden, [], `${name}: off screen at ${width}`);
  const ink = await browser.screenshot(`${name}-${width}`);
  assert.ok(ink > 0.005, `${name} at ${width}: ${ink} of pixels drawn`);
  return layout;
}

const LONG_NAME =
  "quarterly-report-with-a-very-long-name-that-a-phone-must-wrap-2026.pdf";

Deno.test({
  name: "browser: the listing, the upload form, the 404 page and sort links",
  ignore: !hasChromium,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "basehttp_browser_" });
    try {
      const root = `${tmp}/www`;
      const plain = `${tmp}/plain`;
      const picked = `${tmp}/picked`;
      for (const dir of [root, plain, picked]) await Deno.mkdir(dir);
      await Deno.mkdir(`${root}/photos`);
      await Deno.writeTextFile(`${root}/${LONG_NAME}`, "pdf\n");
      await Deno.writeTextFile(`${root}/notes.txt`, "notes\n");
      const sizes: Record<string, number> = { "a.txt": 300, "b.txt": 10 };
      sizes["c.txt"] = 2000;
      for (const [name, size] of Object.entries(sizes)) {
        await Deno.writeTextFile(`${plain}/${name}`, "x".repeat(size));
      }
      // The files the user picks: binary, and a name with a space and accents.
      const photo = crypto.getRandomValues(new Uint8Array(65536));
      const big = new Uint8Array(3 << 20).map((_, i) => i % 251);
      const files = { "photo.bin": photo, "résumé 2026.txt": big };
      for (const [name, bytes] of Object.entries(files)) {
        await Deno.writeFile(`${picked}/${name}`, bytes);
      }

      const local = ["0", "-b", "127.0.0.1", "-q", "-d"];
      const uploads = ["--upload", "--max-upload", "8M"];
      await using upload = new Serve([...local, root, ...uploads], {
        permissions: [...PERMISSIONS, `--allow-write=${root}`],
      });
      await using listing = new Serve([...local, plain]);
      await using browser = await Browser.launch();
      const base = `http://127.0.0.1:${await upload.banner()}/`;
      const plainBase = `http://127.0.0.1:${await listing.banner()}/`;

      // The listing, with its form, at a phone's width and a desktop's.
      await browser.goto(base);
      for (const width of [375, 1280]) {
        const layout = await checkFits(browser, width, "listing");
        assert.deepEqual(layout.links, ["notes.txt", "photos/", LONG_NAME]);
      }

      // Two files through the form: progress, a refreshed listing, the bytes.
      await browser.viewport(375);
      await browser.chooseFiles(
        "#upload input[type=file]",
        Object.keys(files).map((name) => `${picked}/${name}`),
      );
      // What the form shows is kept across the reload that follows.
      await browser.eval(`(() => {
        const form = document.getElementById("upload");
        const bar = form.querySelector("progress");
        const status = form.querySelector("output");
        const seen = [];
        new MutationObserver(() => {
          seen.push({ status: status.textContent, shown: !bar.hidden,
            value: bar.value, max: bar.max });
          sessionStorage.setItem("seen", JSON.stringify(seen));
        }).observe(form, { subtree: true, childList: true,
          characterData: true, attributes: true });
      })()`);
      await browser.loads(
        () => browser.eval(`document.querySelector("#upload button").click()`),
        10_000,
      );
      const seen = await browser.eval<
        { status: string; shown: boolean; value: number; max: number }[]
      >(`JSON.parse(sessionStorage.getItem("seen"))`);
      const statuses = seen.map((s) => s.status);
      assert.ok(seen.some((s) => s.shown), "the progress bar was shown");
      assert.ok(statuses.includes("100%"), statuses.join(", "));
      assert.ok(
        seen.some((s) => s.shown && s.value === s.max && s.max > big.length),
        JSON.stringify(seen),
      );
      assert.equal(statuses.at(-1), "Uploaded");
      const after = await checkFits(browser, 375, "after-upload");
      assert.deepEqual(after.links, [
        "notes.txt",
        "photo.bin",
        "photos/",
        LONG_NAME,
        "résumé 2026.txt",
      ]);
      for (const [name, bytes] of Object.entries(files)) {
        assert.deepEqual(await Deno.readFile(`${root}/${name}`), bytes, name);
      }
      await checkFits(browser, 1280, "after-upload");

      // One over --max-upload: the page says so, and nothing is kept.
      await Deno.writeFile(`${picked}/huge.bin`, new Uint8Array(9 << 20));
      await browser.chooseFiles("#upload input[type=file]", [
        `${picked}/huge.bin`,
      ]);
      const failed = await browser.eval<string>(`new Promise((resolve) => {
        const status = document.querySelector("#upload output");
        new MutationObserver(() => {
          if (status.textContent.startsWith("Upload failed")) {
            resolve(status.textContent);
          }
        }).observe(status, { childList: true, characterData: true });
        document.querySelector("#upload button").click();
      })`);
      assert.equal(failed, "Upload failed: 413 Content Too Large");
      assert.deepEqual(
        (await Array.fromAsync(Deno.readDir(root))).map((e) => e.name).sort(),
        ["notes.txt", "photo.bin", "photos", LONG_NAME, "résumé 2026.txt"],
      );

      // The 404 page.
      await browser.goto(`${base}missing.txt`);
      const text = await browser.eval<string>("document.body.innerText");
      assert.match(text, /Error code: 404/);
      assert.match(text, /File not found/);
      for (const width of [375, 1280]) {
        await browser.viewport(width);
        const ink = await browser.screenshot(`404-${width}`);
        assert.ok(ink > 0.002, `404 at ${width}: ${ink} of pixels drawn`);
      }

      // A listing without uploads: no form, and sort links that sort.
      await browser.viewport(1280);
      await browser.goto(plainBase);
      assert.equal(await browser.eval("document.forms.length"), 0);
      const order = () =>
        browser.eval<string[]>(
          `[...document.querySelectorAll("tbody a")].map((a) => a.textContent)`,
        );
      const click = (selector: string) =>
        browser.loads(() =>
          browser.eval(
            `document.querySelector(${JSON.stringify(selector)}).click()`,
          )
        );
      assert.deepEqual(await order(), ["a.txt", "b.txt", "c.txt"]);
      await click("th.size a");
      assert.equal(
        await browser.eval("location.search"),
        "?sort=size&order=asc",
      );
      assert.deepEqual(await order(), ["b.txt", "a.txt", "c.txt"]);
      await click("th.size a");
      assert.equal(
        await browser.eval("location.search"),
        "?sort=size&order=desc",
      );
      assert.deepEqual(await order(), ["c.txt", "a.txt", "b.txt"]);
      await click("th:first-child a");
      assert.deepEqual(await order(), ["a.txt", "b.txt", "c.txt"]);
      await checkFits(browser, 1280, "sorted");
      const shares = [...browser.drawn].map(([name, share]) =>
        `${name} ${(100 * share).toFixed(1)}%`
      );
      console.log(
        `browser_test: screenshots in ${SCREENSHOTS} (pixels drawn: ${
          shares.join(", ")
        })`,
      );
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

class QuietEcho extends EchoHandler {
  override logMessage(): void {}
}

Deno.test({
  name:
    "browser: examples/websocket_echo.html echoes over http (ws:) and over https (wss:)",
  ignore: !hasChromium || !hasOpenssl,
  async fn() {
    await withCertificate(async (tls) => {
      await using browser = await Browser.launch();
      const servers: [string, HTTPServerOptions][] = [
        ["http", {}],
        ["https", { tls }],
      ];
      for (const [scheme, options] of servers) {
        await using httpd = new HTTPServer(
          ["127.0.0.1", 0],
          QuietEcho,
          options,
        );
        const serving = httpd.serveForever(0.05);
        await browser.goto(`${scheme}://127.0.0.1:${httpd.serverPort}/`);
        const log = await browser.eval<string>(`(async () => {
          const log = document.getElementById("log");
          for (let i = 0; i < 100 && !/open|closed/.test(log.textContent); i++) {
            await new Promise((r) => setTimeout(r, 50));
          }
          document.getElementById("text").value = "hi";
          document.getElementById("form").requestSubmit();
          for (let i = 0; i < 100 && !log.textContent.includes("< hi"); i++) {
            await new Promise((r) => setTimeout(r, 50));
          }
          return log.textContent;
        })()`);
        assert.equal(log, "open\n> hi\n< hi\n", scheme);
        await browser.goto("about:blank");
        await httpd.shutdown();
        await serving;
      }
    });
  },
});
