"""The shell commands an HTTP or TCP health check runs inside its container. Pure.

A probe uses the first tool the image has (``command -v``), in a fixed order,
instead of trying one after the other: a failed check then reports that one
tool's result in one line (``GET http://127.0.0.1:8000/health: 404 Not Found``,
``... connection refused``), not the errors of the tools that are missing. An
image with none of them fails its check at once with a line that says so and
exit code 127, which the readiness wait reads as "the check cannot run".

The scripts are part of a task's definition (and so of its spec hash): a change
here replaces running replicas once, on the next deploy.
"""

from __future__ import annotations

import math
import shlex

HTTP_TOOLS = ("curl", "wget", "python3")
TCP_TOOLS = ("nc", "python3")
NO_TOOL_EXIT = 127
"""The probe's exit code when the image has none of its tools."""

_HTTP_PY = """\
import sys, urllib.error, urllib.request
url = sys.argv[1]
def fail(what):
    print("GET %s: %s" % (url, what))
    sys.exit(1)
try:
    urllib.request.urlopen(url, timeout=float(sys.argv[2])).close()
except urllib.error.HTTPError as e:
    fail("%d %s" % (e.code, e.reason))
except urllib.error.URLError as e:
    reason = getattr(e.reason, "strerror", None) or str(e.reason)
    fail(reason[:1].lower() + reason[1:])
except OSError as e:
    reason = e.strerror or str(e) or type(e).__name__
    fail(reason[:1].lower() + reason[1:])
"""

_TCP_PY = """\
import socket, sys
address = "127.0.0.1:" + sys.argv[1]
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), float(sys.argv[2])).close()
except OSError as e:
    reason = e.strerror or str(e) or type(e).__name__
    print("TCP %s: %s" % (address, reason[:1].lower() + reason[1:]))
    sys.exit(1)
"""

# The status line of the last response curl -D - or wget -S printed, e.g. "404 Not Found".
_STATUS_LINE = r"sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9].*\)$/\1/p' | tr -d '\r' | tail -n 1"


def _seconds(timeout: float) -> str:
    """A whole number of seconds, at least 1, for tools that take no fractions."""
    return str(max(1, math.ceil(timeout)))


def _none_of(tools: tuple[str, ...], what: str) -> str:
    names = ", ".join(tools)
    message = f"the image has none of {names} to probe {what}; use health.command"
    return f"echo {shlex.quote(message)}; exit {NO_TOOL_EXIT}"


def http_probe(url: str, timeout: float) -> str:
    """A shell script that GETs ``url``: 2xx and 3xx pass; anything else prints one
    line, ``GET <url>: <status line or connection error>``, and fails."""
    t = _seconds(timeout)
    return "\n".join(
        [
            f"u={shlex.quote(url)}",
            "if command -v curl >/dev/null 2>&1; then",
            f'  r=$(curl -sS -o /dev/null -D - -m {t} "$u" 2>&1)',
            "  case $? in 7) r='connection refused';; 28) r='timed out';;"
            " 52) r='empty reply';; 56) r='connection reset';; esac",
            "elif command -v wget >/dev/null 2>&1; then",
            f'  r=$(wget -S -O /dev/null -T {t} "$u" 2>&1)',
            "elif command -v python3 >/dev/null 2>&1; then",
            f'  exec python3 -c {shlex.quote(_HTTP_PY)} "$u" {t}',
            "else",
            f"  {_none_of(HTTP_TOOLS, url)}",
            "fi",
            f"s=$(printf '%s\\n' \"$r\" | {_STATUS_LINE})",
            "e='s/^.*failed: //; s/^wget: //; s/\\.$//'",
            "case $s in 2??*|3??*) exit 0;; esac",
            # No response: the tool's own last line, without its name (wget's
            # "Connecting to ...... failed: Connection refused.").
            'echo "GET $u: ${s:-$(printf \'%s\\n\' "$r" | tail -n 1 | sed "$e")}"',
            "exit 1",
        ]
    )


def tcp_probe(port: int, timeout: float) -> str:
    """A shell script that connects to ``127.0.0.1:port``; when nothing accepts, it
    prints one line, ``TCP 127.0.0.1:<port>: <error>``, and fails."""
    t = _seconds(timeout)
    address = f"127.0.0.1:{port}"
    return "\n".join(
        [
            "if command -v nc >/dev/null 2>&1; then",
            f"  nc -z -w {t} 127.0.0.1 {port} && exit 0",
            f'  echo "TCP {address}: no connection"; exit 1',
            "elif command -v python3 >/dev/null 2>&1; then",
            f"  exec python3 -c {shlex.quote(_TCP_PY)} {port} {t}",
            "fi",
            _none_of(TCP_TOOLS, address),
        ]
    )
