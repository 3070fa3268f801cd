"""A minimal OpenAI-compatible chat-completions server with a fixed latency, for benchmarks.

Run: python benchmarks/standin_openai.py PORT LATENCY_SECONDS
Structured requests (a response_format with a schema) get a critique naming the first allowed
principle; plain requests get a short answer. Text completions (/completions, as the server scorer
asks for them) get the prompt's log-probabilities with `echo` (`completion_reply`). Written on raw
asyncio so the server is never the bottleneck of what it measures.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
import zlib

TOKEN = re.compile(r" ?[^\s]+|\s")  # a word with the space before it, or one whitespace character: like GPT-2's


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


def completion_reply(request: dict) -> dict:
    """A /completions reply as llama-cpp-python's server and vLLM give one for `echo` and `logprobs`: every token of
    the prompt (the first with no log-probability) and one generated token, with made-up log-probabilities that depend
    on the token and the text before it. Without `echo`, the generated token's alone (as llama.cpp's llama-server)."""
    prompt = request.get("prompt") or ""
    found = [(m.start(), m.group()) for m in TOKEN.finditer(prompt)] if request.get("echo") else []
    values: list[float | None] = [
        -(zlib.crc32((prompt[max(0, at - 24) : at] + t).encode()) % 400) / 100 - 0.05 for at, t in found
    ]
    if values:
        values[0] = None
    offsets, tokens = [at for at, _ in found] + [len(prompt)], [t for _, t in found] + [" ok"]
    logprobs = {"tokens": tokens, "text_offset": offsets, "token_logprobs": [*values, -1.0], "top_logprobs": None}
    return {
        "id": "cmpl-bench",
        "object": "text_completion",
        "created": 0,
        "model": request.get("model", "bench"),
        "choices": [
            {
                "index": 0,
                "text": (prompt if request.get("echo") else "") + " ok",
                "logprobs": logprobs if request.get("logprobs") is not None else None,
                "finish_reason": "length",
            }
        ],
        "usage": {"prompt_tokens": len(found), "completion_tokens": 1, "total_tokens": len(found) + 1},
    }


def body_for(request: dict, completions: bool = False) -> bytes:
    if completions:
        return json.dumps(completion_reply(request)).encode()
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


# in_flight/most_in_flight: requests being answered (now, at most); arrivals: when the first two came, last: when the
# last reply left (monotonic seconds), so a client's busy window can be measured with or without its first request
COUNTS: dict = {"requests": 0, "in_flight": 0, "most_in_flight": 0, "arrivals": [], "last": None}


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
            COUNTS["in_flight"] += 1
            COUNTS["most_in_flight"] = max(COUNTS["most_in_flight"], COUNTS["in_flight"])
            arrived = time.monotonic()
            if len(COUNTS["arrivals"]) < 2:
                COUNTS["arrivals"].append(arrived)
            body = body_for(request, completions=b"/chat/" not in head.split(b"\r\n", 1)[0])
            await asyncio.sleep(max(0.0, latency - (time.monotonic() - arrived)))  # the reply leaves `latency` after
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            await writer.drain()
            COUNTS["in_flight"] -= 1
            COUNTS["last"] = time.monotonic()
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
