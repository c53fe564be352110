#!/bin/sh
# A CGI script in plain sh: greets the caller from the meta-variables that
# the server sets (RFC 3875). Serve the examples directory with CGI on, then
# ask for it:
#
#   npx -y deno@2 run --allow-net --allow-read --allow-run \
#     --allow-sys=hostname cli.ts --cgi -d examples
#   curl 'http://127.0.0.1:8000/cgi-bin/hello.sh?name=Ada'
#   curl 'http://127.0.0.1:8000/cgi-bin/hello.sh/extra/path'
#
# The header block ends at the first empty line; the body follows.

# The value of "name" in the query string, still percent-encoded.
name=$(printf '%s\n' "$QUERY_STRING" | sed -n 's/^\(.*&\)\{0,1\}name=\([^&]*\).*$/\2/p')

printf 'Content-Type: text/plain; charset=utf-8\n'
printf '\n'
printf 'Hello, %s!\n\n' "${name:-world}"
printf 'REQUEST_METHOD=%s\n' "$REQUEST_METHOD"
printf 'SCRIPT_NAME=%s\n' "$SCRIPT_NAME"
printf 'PATH_INFO=%s\n' "$PATH_INFO"
printf 'QUERY_STRING=%s\n' "$QUERY_STRING"
printf 'REMOTE_ADDR=%s\n' "$REMOTE_ADDR"
printf 'SERVER_SOFTWARE=%s\n' "$SERVER_SOFTWARE"
printf 'HTTP_USER_AGENT=%s\n' "$HTTP_USER_AGENT"
