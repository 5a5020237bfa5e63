"""The local DashScope-compatible service for the benchmark, in its own process.

Runs ``dashscope_embed.server.create_app`` (``hash`` backend) under uvicorn on 127.0.0.1 and adds three control
endpoints the benchmark driver uses between runs:

- ``GET  /_bench/stats``  -> the service's ``StatsSnapshot`` as JSON;
- ``POST /_bench/reset``  -> zero the statistics;
- ``POST /_bench/faults`` -> replace the faults with ``FaultConfig(**body)`` (restarts the RPM window).

Prints ``READY <port>`` once it accepts connections. Stop it with SIGTERM / SIGINT.

Run: ``python benchmarks/_service.py --port 0 --latency 0.09 --jitter 0.02 [--rpm 300]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import socket
import sys


def main() -> None:
    import uvicorn

    from dashscope_embed.server import FaultConfig, create_app

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--backend", default="hash")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--rpm", type=int, default=None)
    args = parser.parse_args()

    app = create_app(backend=args.backend, faults=FaultConfig(latency=args.latency, jitter=args.jitter, rpm=args.rpm))
    app.backend.warmup()
    from dashscope_embed import tokens

    tokens.get_tokenizer()

    async def send_json(send, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]})
        await send({"type": "http.response.body", "body": raw})

    async def read_body(receive) -> bytes:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                return b"".join(chunks)

    async def asgi(scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/_bench/"):
            action = scope["path"][len("/_bench/"):]
            raw = await read_body(receive)
            if action == "stats":
                snap = dataclasses.asdict(app.stats.snapshot())
                snap["by_status"] = {str(k): v for k, v in snap["by_status"].items()}
                snap["faults_config"] = {k: v for k, v in dataclasses.asdict(app.faults).items() if k != "schedule"}
                return await send_json(send, 200, snap)
            if action == "reset":
                app.reset_stats()
                return await send_json(send, 200, {"ok": True})
            if action == "faults":
                config = FaultConfig(**json.loads(raw or b"{}"))
                app.set_faults(config)
                return await send_json(send, 200, {"ok": True})
            return await send_json(send, 404, {"error": action})
        await app(scope, receive, send)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(asgi, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=60,
                            timeout_graceful_shutdown=2, backlog=2048)
    server = uvicorn.Server(config)
    print(f"READY {port}", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


if __name__ == "__main__":
    sys.exit(main())
