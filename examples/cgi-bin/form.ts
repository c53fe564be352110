#!/usr/bin/env -S deno run --allow-env --no-config
// A CGI script in TypeScript: a form that posts to itself and shows what it
// received. The server clears the environment, so `deno` must be on the CGI
// PATH (/usr/local/bin:/usr/bin:/bin by default): `--cgi-env PATH` passes the
// server's own, which finds the deno that runs it (npx's too).
//
//   npx -y deno@2 run --allow-net --allow-read --allow-run --allow-env=PATH \
//     --allow-sys=hostname cli.ts --cgi --cgi-env PATH -d examples
//   open http://127.0.0.1:8000/cgi-bin/form.ts
//   curl -d 'name=Ada&lang=TypeScript' http://127.0.0.1:8000/cgi-bin/form.ts

const method = Deno.env.get("REQUEST_METHOD") ?? "GET";
// The server closes stdin after CONTENT_LENGTH bytes, so reading to the end
// gets exactly the body.
const data = method === "POST"
  ? await new Response(Deno.stdin.readable).text()
  : Deno.env.get("QUERY_STRING") ?? "";
const fields = [...new URLSearchParams(data)];

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const self = escape(Deno.env.get("SCRIPT_NAME") ?? "");
const rows = fields
  .map(([name, value]) =>
    `<tr><th>${escape(name)}</th><td>${escape(value)}</td></tr>`
  )
  .join("\n");
const page = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>CGI form</title></head>
<body>
<form method="post" action="${self}">
  <label>Name <input name="name"></label>
  <label>Language <input name="lang"></label>
  <button>Send</button>
</form>
${
  fields.length > 0
    ? `<h2>${method} fields</h2>\n<table>\n${rows}\n</table>`
    : ""
}
</body>
</html>`;

// Header fields, an empty line, then the body.
console.log("Content-Type: text/html; charset=utf-8");
console.log("");
console.log(page);
