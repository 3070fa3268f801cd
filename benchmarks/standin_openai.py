"""A minimal OpenAI-compatible chat-completions server with a fixed latency, for benchmarks.

Run: python benchmarks/standin_openai.py PORT LATENCY_SECONDS
Structured requests (a response_format with a schema) get a critique naming the first allowed
principle; plain requests get a short answer. Written on raw asyncio so the server is never the
bottleneck of what it measures.
"""

from __future__ import annotations

import asyncio
import json
import sys


def reply_for(request: dict) -> str:
    fmt = request.get("response_format") or {}
    schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema")
    if schema:
        items = schema["properties"]["violations"]["items"]["properties"]["principle"]
        principle = (items.get("enum") or ["x"])[0]
        return json.dumps(
            {"needs_revision": True, "violations": [{"principle": principle, "quote": "answer", "explanation": "too vague"}]}
        )
    return "A short answer that has enough words to be critiqued and revised."


def body_for(request: dict) -> bytes:
    text = reply_for(request)
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model", "bench"),
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 12, "total_tokens": 62},
        }
    ).encode()


COUNTS = {"requests": 0}


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if head.startswith(b"GET /stats"):  # how many completions were served, for counting any client's calls
                body = json.dumps(COUNTS).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
                continue
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            request = json.loads(await reader.readexactly(length)) if length else {}
            COUNTS["requests"] += 1
            await asyncio.sleep(latency)
            body = body_for(request)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int, latency: float) -> None:
    server = await asyncio.start_server(lambda r, w: handle(r, w, latency), "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
