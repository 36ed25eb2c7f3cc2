"""A stand-in for Slack's incoming webhooks: records what Slack would have received.

Slack's incoming webhook takes POST <webhook URL> with a JSON body and answers 200 `ok`. This
receiver does the same on 127.0.0.1 and keeps every request (path, headers, parsed body), so a
test can point Alertmanager's slack_configs (BATON_SLACK_WEBHOOK_URL) or a pipeline's `notify:`
at it and assert on what arrived.

In a test:

    with SlackReceiver() as slack:
        url = slack.url("/services/T000/B000/secret")   # any path, like a real webhook URL
        ...
        message = slack.wait_for(lambda m: "BatonModelAccuracyLow" in m.text, timeout=30)

From a shell (records one JSON object per line, for tests of the shared stack):

    python3 tests/slack_receiver.py --port 0 --record /tmp/slack.jsonl   # prints its base URL
"""

import argparse
import dataclasses
import http.server
import json
import sys
import threading
import time


@dataclasses.dataclass(frozen=True)
class SlackMessage:
    """One POST the receiver got: when, where, and the JSON body (None if it was not JSON)."""

    received_at: float  # time.time()
    path: str
    headers: dict
    body: object
    raw: bytes

    @property
    def text(self):
        """Everything a person would read in the message: text, and each attachment's title,
        text and fallback, joined by newlines."""
        if not isinstance(self.body, dict):
            return ""
        parts = [self.body.get("text") or ""]
        for attachment in self.body.get("attachments") or []:
            parts += [attachment.get(key) or "" for key in ("title", "text", "fallback")]
        return "\n".join(part for part in parts if part)


class SlackReceiver:
    """A threaded HTTP server on 127.0.0.1 that records POSTs and answers them as Slack does."""

    def __init__(self, port=0, record_file=None, status=200):
        self._messages = []
        self._changed = threading.Condition()
        self._record_file = record_file
        self.status = status  # what to answer; a test can make "Slack" fail
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                receiver._record(SlackMessage(time.time(), self.path, dict(self.headers), body, raw))
                answer = b"ok" if receiver.status == 200 else b"invalid_payload"
                self.send_response(receiver.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):  # quiet: the messages are the record
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="slack-receiver", daemon=True)

    @property
    def port(self):
        return self._server.server_address[1]

    def url(self, path="/services/T0000/B0000/local"):
        return f"http://127.0.0.1:{self.port}{path}"

    def _record(self, message):
        with self._changed:
            self._messages.append(message)
            if self._record_file:
                with open(self._record_file, "a", encoding="utf-8") as out:
                    out.write(json.dumps({"received_at": message.received_at, "path": message.path,
                                          "headers": message.headers, "body": message.body,
                                          "raw": message.raw.decode("utf-8", "replace")}) + "\n")
            self._changed.notify_all()

    @property
    def messages(self):
        with self._changed:
            return list(self._messages)

    def wait_for(self, predicate, timeout):
        """The first message (oldest first) for which predicate(message) holds, waiting up to
        `timeout` seconds for it; AssertionError naming what did arrive otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for message in self._messages:
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [m.text.splitlines()[0] if m.text else m.raw[:80] for m in self._messages]
                    raise AssertionError(f"no matching Slack message within {timeout}s; received: {seen}")
                self._changed.wait(left)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--record", metavar="FILE", help="append each message to FILE as a JSON line")
    args = parser.parse_args(argv)
    with SlackReceiver(args.port, args.record) as receiver:
        print(receiver.url(""), flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
