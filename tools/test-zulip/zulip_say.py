#!/usr/bin/env python3
"""Send a DM to the bot through the test-zulip control API and print the bot's reply.

    python3 tools/test-zulip/zulip_say.py --url http://127.0.0.1:PORT \
        --from alice@example.com [--to other@example.com ...] [--wait 5] "code demo"
    python3 tools/test-zulip/zulip_say.py --url URL --from carol@example.com --react +1
    python3 tools/test-zulip/zulip_say.py --url URL --from alice@example.com --inbox [--count 5]
    python3 tools/test-zulip/zulip_say.py --url URL --stream security/codes --inbox

The sender is created if needed. With no --to the DM is 1:1 with the bot; each --to adds a
participant (a group DM with the bot). Waits at most --wait seconds for a message from the bot
in the same conversation, prints it (and any further bot messages arriving within
--grace seconds, for split replies) and exits 0; exits 1 if none arrived in time.
--react EMOJI reacts (as --from) to the bot's newest DM to them (a vote on an approval request:
+1 or -1) instead of sending; --inbox prints the bot's newest messages to --from (1:1), or in
a --stream NAME/TOPIC. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request


def control(base, method, path, payload=None, timeout=5.0):
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(base.rstrip("/") + "/control" + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")
        raise SystemExit(f"zulip_say: {method} /control{path} failed: {err.code} {detail}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="emulator base URL, e.g. http://127.0.0.1:9991")
    ap.add_argument("--from", dest="sender", help="sender email (required unless --stream)")
    ap.add_argument("--name", help="sender full name if the user must be created")
    ap.add_argument("--to", action="append", default=[],
                    help="extra participant email (repeat for a bigger group DM)")
    ap.add_argument("--wait", type=float, default=5.0, help="seconds to wait for a reply")
    ap.add_argument("--grace", type=float, default=0.3,
                    help="after the first reply, collect more bot messages for this long")
    ap.add_argument("--json", action="store_true", help="print replies as JSON lines")
    ap.add_argument("--react", metavar="EMOJI", help="react to the bot's newest DM to --from instead")
    ap.add_argument("--inbox", action="store_true", help="print the bot's newest messages instead")
    ap.add_argument("--stream", metavar="NAME/TOPIC", help="with --inbox: a stream topic instead of DMs")
    ap.add_argument("--count", type=int, default=5, help="with --inbox: how many messages")
    ap.add_argument("content", nargs="?")
    args = ap.parse_args(argv)
    if not args.sender and not (args.inbox and args.stream):
        ap.error("--from is required (except for --inbox --stream)")
    if args.content is None and not (args.react or args.inbox):
        ap.error("the message to send is required")

    try:
        info = control(args.url, "GET", "/info")
    except (urllib.error.URLError, OSError) as err:
        print(f"zulip_say: cannot reach {args.url}: {err}", file=sys.stderr)
        return 1
    bot = info["bot"]
    if args.inbox or args.react:
        return look(args, bot)
    user = {"email": args.sender}
    if args.name:
        user["full_name"] = args.name
    control(args.url, "POST", "/users", user)
    for extra in args.to:
        control(args.url, "POST", "/users", {"email": extra})
    to = [bot["email"]] + [e for e in args.to if e.lower() != bot["email"].lower()]
    sent = control(args.url, "POST", "/send",
                   {"from": args.sender, "to": to, "content": args.content})
    conversation = sorted({args.sender.lower(), *(e.lower() for e in to)})

    deadline = time.monotonic() + args.wait
    replies = []
    after = sent["id"]
    grace_end = None
    while True:
        now = time.monotonic()
        if grace_end is not None and now >= grace_end:
            break
        if grace_end is None and now >= deadline:
            break
        for msg in control(args.url, "GET", f"/messages?after={after}")["messages"]:
            after = max(after, msg["id"])
            if msg["sender_id"] != bot["id"] or msg["type"] != "private":
                continue
            if sorted(e.lower() for e in msg["participants"]) != conversation:
                continue
            replies.append(msg)
            if grace_end is None:
                grace_end = time.monotonic() + args.grace
        time.sleep(0.05)

    if not replies:
        print(f"zulip_say: no reply from {bot['email']} within {args.wait:g} s", file=sys.stderr)
        return 1
    for msg in replies:
        print(json.dumps(msg) if args.json else msg["content"])
    return 0


def look(args, bot):
    """--inbox and --react: the bot's newest messages to --from (or in --stream)."""
    messages = control(args.url, "GET", "/messages?after=0")["messages"]
    if args.stream:
        name, _, topic = args.stream.partition("/")
        mine = [m for m in messages if m["type"] == "stream" and m["stream"].lower() == name.lower()
                and (not topic or m["topic"].lower() == topic.lower())]
    else:
        pair = sorted({args.sender.lower(), bot["email"].lower()})
        mine = [m for m in messages if m["sender_id"] == bot["id"] and m["type"] == "private"
                and sorted(e.lower() for e in m["participants"]) == pair]
    if args.react:
        if not mine:
            print(f"zulip_say: the bot sent {args.sender} nothing to react to", file=sys.stderr)
            return 1
        target = mine[-1]
        control(args.url, "POST", "/react", {"from": args.sender, "message_id": target["id"],
                                               "emoji_name": args.react})
        print(f"{args.sender} reacted :{args.react}: to message {target['id']}: {target['content'][:80]}")
        return 0
    for msg in mine[-args.count:]:
        print(json.dumps(msg) if args.json else f"[{msg['id']}] {msg['content']}")
    return 0 if mine else 1


if __name__ == "__main__":
    sys.exit(main())
