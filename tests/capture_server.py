"""A small, real OpenAI-compatible HTTP server for the safety tests: it records every request body and
answers by echoing the last user message (as plain text, or as `{"echo": ...}` when a response_format is
asked for), so a test can check both what left the process and what came back.

In-process: `with CaptureServer() as srv: srv.base_url, srv.bodies`.
As a separate process (so a test can kill it): `python tests/capture_server.py PORT LOG.jsonl [DELAY_S]`.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def _reply_content(body: dict) -> str:
    last_user = next(
        (m["content"] for m in reversed(body.get("messages", [])) if m.get("role") == "user"), ""
    )
    if body.get("response_format"):
        return json.dumps({"echo": last_user}, ensure_ascii=False)
    return "ECHO: " + last_user


def make_handler(record, delay_s: float = 0.0):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _send(self, code: int, payload: bytes, ctype: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            self._send(
                200, json.dumps({"object": "list", "data": [{"id": "capture", "object": "model"}]}).encode()
            )

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.loads(raw.decode("utf-8"))
            record(body)
            if delay_s:
                time.sleep(delay_s)
            content = _reply_content(body)
            created = int(time.time())
            if body.get("stream"):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                # small chunks so tokens are split across chunk boundaries
                for i in range(0, len(content), 3):
                    chunk = {
                        "id": "c1",
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": "capture",
                        "choices": [
                            {"index": 0, "delta": {"content": content[i : i + 3]}, "finish_reason": None}
                        ],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True
                return
            answer = {
                "id": "c1",
                "object": "chat.completion",
                "created": created,
                "model": body.get("model", "capture"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
            self._send(200, json.dumps(answer, ensure_ascii=False).encode("utf-8"))

    return Handler


class CaptureServer:
    """The capturing server on 127.0.0.1 in a background thread."""

    def __init__(self, delay_s: float = 0.0):
        self.bodies: list[dict] = []
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self._record, delay_s))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _record(self, body: dict) -> None:
        with self._lock:
            self.bodies.append(body)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> CaptureServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main() -> None:
    port, log_path = int(sys.argv[1]), Path(sys.argv[2])
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    lock = threading.Lock()

    def record(body: dict) -> None:
        with lock, open(log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(body, ensure_ascii=False) + "\n")

    httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(record, delay))
    httpd.daemon_threads = True
    print("ready", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
