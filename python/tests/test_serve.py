"""actmap.serve(run) and Run.show(): the browser view of a run log served
from the training process. A small WebSocket client (the standard
library's sockets, RFC 6455 framing) plays the page: it sends its canvas
size, reads the channel list and the frames, and acknowledges them as the
page does. The Rust suite drives the same server with a real Chromium."""

import base64
import io
import json
import os
import socket
import struct
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest
from PIL import Image

import actmap


class WsPage:
    """The page's side of /ws."""

    def __init__(self, url, origin=None):
        u = urllib.parse.urlsplit(url)
        self.host = u.netloc
        token = urllib.parse.parse_qs(u.query)["token"][0]
        self.sock = socket.create_connection((u.hostname, u.port), timeout=20)
        key = base64.b64encode(os.urandom(16)).decode()
        origin = origin or f"http://{self.host}"
        req = (
            f"GET /ws?token={token} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {origin}\r\n\r\n"
        )
        self.sock.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                break
            head += chunk
        self.status = int(head.split(b" ", 2)[1]) if head else 0

    def send(self, obj):
        data = json.dumps(obj).encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("the server closed the WebSocket")
            buf += chunk
        return buf

    def recv(self):
        """(opcode, payload) of the next message."""
        b0, b1 = self._exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._exact(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._exact(8))[0]
        return b0 & 0x0F, self._exact(n)

    def frames(self, until, timeout=30):
        """Read messages, acknowledging frames, until ``until(info, frame)``
        is true; returns the last (info, frame header, image)."""
        info, frame = getattr(self, "info", None), None
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            op, data = self.recv()
            if op == 1:
                msg = json.loads(data)
                if msg.get("t") == "info":
                    info = self.info = msg
            elif op == 2 and data[0] == 1:
                _kind, _fmt, seq, w, h, version, rows = struct.unpack("<BBxxIIIQQ", data[:32])
                img = np.asarray(Image.open(io.BytesIO(data[32:])).convert("RGBA"))
                frame = ({"seq": seq, "w": w, "h": h, "version": version, "rows": rows}, img)
                self.send({"t": "ack", "seq": seq})
            elif op == 8:
                raise ConnectionError("the server closed the WebSocket")
            if until(info, frame):
                return info, frame
        raise AssertionError(f"timed out; last info {info and info.get('channels')}, frame {frame and frame[0]}")

    def close(self):
        self.sock.close()


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_serve_a_run_from_the_training_process(tmp_path):
    path = str(tmp_path / "run")
    with actmap.Run(path, flush_every=0.2) as run, actmap.serve(run, bind="127.0.0.1:0", cmap="viridis") as server:
        assert server.running and server.url.startswith(f"http://127.0.0.1:{server.port}/?token=")
        # The page, with its token; nothing without it.
        status, body = http_status(server.url)
        assert status == 200 and "<canvas" in body
        base = f"http://127.0.0.1:{server.port}/"
        assert http_status(base)[0] == 403
        assert http_status(base + "?token=" + "0" * 48)[0] == 403
        # Rows logged while a page watches show up with their steps.
        for step in range(0, 300, 10):
            run.log("layer3", np.linspace(0, 1, 64, dtype=np.float32) * (step % 7), step=step)
        page = WsPage(server.url)
        assert page.status == 101
        page.send({"t": "size", "w": 800, "h": 500, "dpr": 1})
        info, (head, img) = page.frames(
            lambda i, f: i is not None and f is not None and i["channels"] and f[0]["rows"] >= 30
        )
        ch = info["channels"][0]
        assert ch["name"] == "layer3" and ch["cols"] == 64 and ch["rows"] == 30
        assert "0" in ch["range"] and "290" in ch["range"], ch["range"]
        assert (head["w"], head["h"]) == (800, 500) and img.shape == (500, 800, 4)
        # viridis' darkest and brightest colours are in the picture.
        rgb = img[..., :3].reshape(-1, 3).astype(int)
        assert (np.abs(rgb - [68, 1, 84]).sum(axis=1) < 12).any()
        assert (np.abs(rgb - [253, 231, 37]).sum(axis=1) < 12).any()
        assert server.clients == 1
        # More rows: a newer frame follows.
        for step in range(300, 400, 10):
            run.log("layer3", np.full(64, 3.0, dtype=np.float32), step=step)
        info, (head, _) = page.frames(lambda i, f: f is not None and f[0]["rows"] >= 40 and i["channels"][0]["rows"] >= 40)
        assert info["channels"][0]["rows"] == 40 and "390" in info["channels"][0]["range"]
        # A foreign Origin is refused (cross-site WebSocket hijacking).
        other = WsPage(server.url, origin="http://evil.example")
        assert other.status == 403
        other.close()
        page.close()
    assert not server.running
    with pytest.raises(OSError):
        urllib.request.urlopen(base, timeout=5)


def test_run_show_embeds_the_view_and_serve_checks_its_keywords(tmp_path):
    with actmap.Run(str(tmp_path / "run")) as run:
        run.log("acts", np.arange(8, dtype=np.float32), step=1)
        shown = run.show(height=420)
        try:
            html = shown._repr_html_()
            assert f'src="{shown.url}"' in html.replace("&amp;", "&") and 'height="420"' in html
            assert run.show() is shown  # one server per run
            assert http_status(shown.url)[0] == 200
        finally:
            shown.stop()
        assert "stopped" in shown._repr_html_()
    with pytest.raises(TypeError, match="did you mean 'cmap'"):
        actmap.serve(str(tmp_path / "run"), bind="127.0.0.1:0", cmpa="viridis")
    with pytest.raises(actmap.InvalidArgumentError, match="HOST:PORT"):
        actmap.serve(str(tmp_path / "run"), bind="localhost")
    with pytest.raises(actmap.Error, match="colormap|cmap"):
        actmap.serve(str(tmp_path / "run"), bind="127.0.0.1:0", cmap="nope")
