#!/usr/bin/env python3
"""DM the bot on a real Zulip server with the official `zulip` client and print its reply.

    PYTHON=/var/tmp/totp-zulip-server/zulip-server-10.0/.venv/bin/python   # has zulip 0.9.0
    $PYTHON tools/test-zulip/zulip_say_real.py --config alice.zuliprc --bot-config bot.zuliprc \
        [--wait 10] "code demo"

Sends the DM as the user of --config (a zuliprc), then reads that conversation with the same
client until a message from the bot (the email in --bot-config) newer than the DM arrives,
prints it (and any more within --grace s) and exits 0; exit 1 if none came within --wait s.
scripts/demo --real-zulip uses it for `scripts/demo say`.
"""

import argparse
import configparser
import sys
import time

import zulip


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="zuliprc of the person who writes")
    ap.add_argument("--bot-config", required=True, help="the bot's zuliprc (only its email is read)")
    ap.add_argument("--wait", type=float, default=10)
    ap.add_argument("--grace", type=float, default=1)
    ap.add_argument("text", nargs="+")
    args = ap.parse_args()
    rc = configparser.ConfigParser()
    rc.read(args.bot_config)
    bot_email = rc["api"]["email"]

    client = zulip.Client(config_file=args.config, client="ZulipSay/1.0")
    sent = client.send_message({"type": "direct", "to": [bot_email], "content": " ".join(args.text)})
    if sent.get("result") != "success":
        print(f"zulip_say_real: the DM was refused: {sent.get('msg')}", file=sys.stderr)
        return 1
    deadline = time.monotonic() + args.wait
    seen, last_new = set(), None
    while time.monotonic() < deadline:
        page = client.get_messages({"anchor": sent["id"], "include_anchor": False, "num_before": 0,
                                    "num_after": 20, "apply_markdown": False,
                                    "narrow": [{"operator": "dm", "operand": bot_email}]})
        for m in page.get("messages", []):
            if m["sender_email"] == bot_email and m["id"] not in seen:
                seen.add(m["id"])
                last_new = time.monotonic()
                print(m["content"])
        if last_new is not None and time.monotonic() - last_new >= args.grace:
            return 0
        time.sleep(0.25)
    if seen:
        return 0
    print(f"zulip_say_real: no reply from {bot_email} within {args.wait:g} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
