#!/usr/bin/env python3
"""Emulator of the Zulip REST endpoints a DM bot uses (feature level 247 by default).

Standard library only. It follows the OpenAPI spec in spec/zulip.yaml and the real server's
behaviour where the spec is silent (error codes, long-poll, narrow quirks), as read from the Zulip
server source at the spec's commit (github.com/zulip/zulip, feature level 247) and the API docs
(https://zulip.com/api/rest-error-handling, https://zulip.com/api/get-events).

    python3 tools/test-zulip/test_zulip.py --host 127.0.0.1 --port 0 --port-file /tmp/zport \
        --bot-email bot@example.com --bot-key KEY --heartbeat 2 --request-log /tmp/req.jsonl

The API lives under /api/v1 (HTTP Basic auth); a test/demo control API lives under /control
(JSON, no auth, loopback clients only). See README.md in this folder.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import html
import ipaddress
import json
import os
import random
import re
import select
import signal
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

API_PREFIX = "/api/v1"
CONTROL_PREFIX = "/control"
# Real server: `LARGER_THAN_MAX_MESSAGE_ID` is what anchor="newest" turns into.
LARGER_THAN_MAX_MESSAGE_ID = 10000000000000000
MAX_MESSAGE_LENGTH = 10000
MAX_TOPIC_LENGTH = 60
MAX_QUEUE_LIFESPAN_SECS = 7 * 24 * 3600
TRUNCATION_SUFFIX = "\n[message truncated]"
PROXY_5XX_BODY = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
NOT_FOUND_BODY = (
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head><title>Page not found</title></head>\n"
    "<body><h1>Page not found</h1></body>\n</html>\n"
)
WILDCARDS_STREAM = {"all", "everyone", "stream", "channel"}
# Clients whose messages start read for their sender (real `Client.default_read_by_sender`:
# the Zulip apps); messages sent by any other API client have `flags: []` for the sender.
UI_CLIENTS = {"zulipandroid", "zulipios", "zulipdesktop", "zulipmobile", "zulipelectron",
              "zulipterminal", "snipe", "website", "ios", "android"}

KNOWN_PARAMS = {
    ("POST", "/register"): {
        "apply_markdown", "client_gravatar", "include_subscribers", "slim_presence",
        "event_types", "all_public_streams", "client_capabilities", "fetch_event_types",
        "narrow", "queue_lifespan_secs",
    },
    ("GET", "/events"): {"queue_id", "last_event_id", "dont_block"},
    ("DELETE", "/events"): {"queue_id"},
    ("GET", "/messages"): {
        "anchor", "include_anchor", "num_before", "num_after", "narrow", "client_gravatar",
        "apply_markdown", "use_first_unread_anchor",
    },
    ("POST", "/messages"): {
        "type", "to", "content", "topic", "subject", "queue_id", "local_id", "read_by_sender",
    },
    ("PATCH", "/messages/{message_id}"): {
        "topic", "subject", "propagate_mode", "send_notification_to_old_thread",
        "send_notification_to_new_thread", "content", "stream_id",
    },
    ("GET", "/users/me"): set(),
    ("GET", "/user_groups"): {"include_deactivated_groups"},
    ("GET", "/server_settings"): set(),
    ("GET", "/messages/{message_id}"): {"apply_markdown"},
    ("POST", "/messages/{message_id}/reactions"): {"emoji_name", "emoji_code", "reaction_type"},
    ("DELETE", "/messages/{message_id}/reactions"): {"emoji_name", "emoji_code", "reaction_type"},
}
# The unicode emoji the emulator knows by name (the real server knows 3,308): name -> code.
EMOJI = {
    "+1": "1f44d", "thumbs_up": "1f44d", "like": "1f44d", "-1": "1f44e", "thumbs_down": "1f44e",
    "tada": "1f389", "octopus": "1f419", "heart": "2764", "smile": "1f604", "check": "2714",
    "cross_mark": "274c", "eyes": "1f440",
}


def matches(only, method, path):
    """Whether an injection limited to `only` = (method, path), either None for any, applies."""
    if only is None:
        return True
    want_method, want_path = only
    return (want_method is None or want_method == method) and \
        (want_path is None or want_path == path)


def logged_params(pairs):
    """Request parameters for the log: name -> value, or a list of values when repeated."""
    out = {}
    for name, value in pairs:
        if name not in out:
            out[name] = value
        elif isinstance(out[name], list):
            out[name].append(value)
        else:
            out[name] = [out[name], value]
    return out


class ApiError(Exception):
    """A Zulip-style JSON error: `{"result":"error","msg":..,"code":..,**extra}`."""

    def __init__(self, status, msg, code="BAD_REQUEST", headers=None, **extra):
        super().__init__(msg)
        self.status = status
        self.msg = msg
        self.code = code
        self.headers = headers or {}
        self.extra = extra

    def body(self):
        out = {"result": "error", "msg": self.msg, "code": self.code}
        out.update(self.extra)
        return out


class DropConnection(Exception):
    """Close the connection without an answer (what a restarting server looks like)."""


def ascii_lower(text):
    """Lower-cases A-Z only."""
    return text.translate(ASCII_LOWER)


ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def missing(name):
    return ApiError(400, f"Missing '{name}' argument", "REQUEST_VARIABLE_MISSING", var_name=name)


def parse_json_param(params, name, default=None):
    if name not in params:
        return default
    try:
        return json.loads(params[name])
    except ValueError:
        raise ApiError(400, f'Argument "{name}" is not valid JSON.')


def parse_bool_param(params, name, default):
    """Zulip's json_validator(check_bool): the value must be JSON true/false."""
    if name not in params:
        return default
    value = params[name]
    if value == "true":
        return True
    if value == "false":
        return False
    raise ApiError(400, f"{name} is not a boolean")


def parse_int_param(params, name, default=None, required=False):
    if name not in params:
        if required:
            raise missing(name)
        return default
    value = params[name]
    if not re.fullmatch(r"-?[0-9]+", value.strip()):
        raise ApiError(400, f"{name} is not an integer")
    return int(value)


def normalize_body(content):
    """Real server: strip trailing whitespace and leading newlines, reject empty/NUL, truncate."""
    body = content.rstrip().lstrip("\n")
    if body == "":
        raise ApiError(400, "Message must not be empty")
    if "\x00" in body:
        raise ApiError(400, "Message must not contain null bytes")
    if len(body) > MAX_MESSAGE_LENGTH:
        body = body[: MAX_MESSAGE_LENGTH - len(TRUNCATION_SUFFIX)] + TRUNCATION_SUFFIX
    return body


def render_markdown(text, users_by_name):
    """A tiny Markdown subset, enough to tell HTML (apply_markdown=true) from raw text."""
    out = []
    lines = text.split("\n")
    i = 0
    para = []

    def flush():
        if para:
            out.append("<p>" + "<br>\n".join(render_inline(p, users_by_name) for p in para) + "</p>")
            para.clear()

    while i < len(lines):
        m = re.match(r"^(`{3,}|~{3,})\s*(\S*)\s*$", lines[i])
        if m:
            flush()
            fence = m.group(1)
            body = []
            i += 1
            while i < len(lines) and lines[i].strip() != fence:
                body.append(lines[i])
                i += 1
            i += 1
            out.append('<div class="codehilite"><pre><span></span><code>'
                       + html.escape("\n".join(body)) + "\n</code></pre></div>")
            continue
        if lines[i].strip() == "":
            flush()
        else:
            para.append(lines[i])
        i += 1
    flush()
    return "\n".join(out)


def render_inline(line, users_by_name):
    parts = re.split(r"(`+)(.+?)\1", line)
    # re.split with two groups yields [text, ticks, code, text, ...].
    out = []
    for idx in range(0, len(parts), 3):
        seg = html.escape(parts[idx])

        def mention(m):
            silent, name = m.group(1), m.group(2).split("|")[0]
            user = users_by_name.get(name)
            cls = "user-mention silent" if silent else "user-mention"
            if user is None:
                return m.group(0)
            at = "" if silent else "@"
            return f'<span class="{cls}" data-user-id="{user["id"]}">{at}{html.escape(name)}</span>'

        seg = re.sub(r"@(_?)\*\*([^*]+)\*\*", mention, seg)
        out.append(seg)
        if idx + 2 < len(parts):
            out.append("<code>" + html.escape(parts[idx + 2]) + "</code>")
    return "".join(out)


class Config:
    def __init__(self, args):
        self.feature_level = args.feature_level
        self.zulip_version = args.zulip_version
        self.heartbeat = args.heartbeat
        self.queue_idle_timeout = args.queue_idle_timeout
        self.queue_lifespan_cap = args.queue_lifespan_cap
        self.longpoll_timeout = args.longpoll_timeout
        self.rate_limit = args.rate_limit
        self.enforce_rate_limit = args.enforce_rate_limit
        self.event_id_gaps = not args.no_event_id_gaps
        self.edit_time_limit = args.edit_time_limit
        self.realm_name = args.realm_name
        # Whether register hands bots `realm_user_groups` (a server that does not is emulated
        # with false: the bot must then refuse configurations naming groups).
        self.user_groups = not args.no_user_groups

    def public(self):
        return {
            "feature_level": self.feature_level,
            "zulip_version": self.zulip_version,
            "heartbeat": self.heartbeat,
            "queue_idle_timeout": self.queue_idle_timeout,
            "queue_lifespan_cap": self.queue_lifespan_cap,
            "longpoll_timeout": self.longpoll_timeout,
            "rate_limit": self.rate_limit,
            "enforce_rate_limit": self.enforce_rate_limit,
            "event_id_gaps": self.event_id_gaps,
            "edit_time_limit": self.edit_time_limit,
            "user_groups": self.user_groups,
        }


class Queue:
    """One event queue (what POST /register allocates)."""

    def __init__(self, user_id, event_types, narrow, apply_markdown, client_gravatar,
                 all_public_streams, lifespan, client):
        self.id = str(uuid.uuid4())
        self.user_id = user_id
        self.event_types = event_types  # None means "every event type"
        self.narrow = narrow
        self.apply_markdown = apply_markdown
        self.client_gravatar = client_gravatar
        self.all_public_streams = all_public_streams
        self.lifespan = lifespan
        self.client = client
        self.created = time.time()
        self.last_activity = time.monotonic()
        self.events = []
        self.next_event_id = 0
        self.newest_pruned_id = None
        self.poller_gen = 0
        self.poller_active = False
        self.closed = None  # None, or why the queue went away ("expired", "deleted", ...)
        self.rng = random.Random(self.id)

    def wants(self, event_type):
        return self.event_types is None or event_type in self.event_types

    def add_event(self, event, gaps):
        event = dict(event)
        event["id"] = self.next_event_id
        # The spec promises increasing, not consecutive, ids; gaps keep clients honest.
        self.next_event_id += 1 + (1 if gaps and self.rng.random() < 0.3 else 0)
        self.events.append(event)

    def prune(self, through_id):
        while self.events and self.events[0]["id"] <= through_id:
            self.newest_pruned_id = self.events.pop(0)["id"]

    def describe(self, users):
        now = time.monotonic()
        user = users.get(self.user_id, {})
        return {
            "queue_id": self.id,
            "user_id": self.user_id,
            "user_email": user.get("email"),
            "event_types": sorted(self.event_types) if self.event_types is not None else None,
            "narrow": self.narrow,
            "apply_markdown": self.apply_markdown,
            "client_gravatar": self.client_gravatar,
            "poller_connected": self.poller_active,
            "pending_events": len(self.events),
            "next_event_id": self.next_event_id,
            "lifespan_secs": self.lifespan,
            "idle_seconds": 0.0 if self.poller_active else round(now - self.last_activity, 3),
            "client": self.client,
        }


class State:
    """All emulator state, guarded by one lock; `cond` wakes long-polls."""

    def __init__(self, config, bot_email, bot_key, bot_name, request_log_path):
        self.config = config
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.bot_email = bot_email
        self.bot_key = bot_key
        self.bot_name = bot_name
        self.stopping = False
        self.base_url = ""
        self.log_lock = threading.Lock()
        self.log_file = open(request_log_path, "a", encoding="utf-8") if request_log_path else None
        self.request_seq = 0
        self.reset()

    def reset(self):
        with self.lock:
            for q in getattr(self, "queues", {}).values():
                q.closed = "reset"
            self.cond.notify_all()
            self.users = {}
            self.next_user_id = 26
            self.next_recipient_id = 501
            self.next_message_id = 3001
            self.next_stream_id = 11
            self.recipients = {}  # frozenset(user ids) -> huddle recipient id
            self.streams = {}  # lower name -> stream dict
            self.messages = []
            self.messages_by_id = {}
            self.queues = {}
            self.rate_limit_left = 0
            self.rate_limit_retry_after = 1
            self.fail_left = 0
            self.fail_status = 502
            self.fail_only = None  # (method or None, path or None): which calls /fail hits
            self.bad_request_left = 0
            self.bad_request_only = None
            self.drop_after_send_left = 0
            self.hold_left = 0
            self.hold_only = None
            self.hold_seconds = None  # None: until the client closes the connection
            self.forbid_edits = False
            self.window = {}  # user id -> [window start, count]
            self.groups = {}  # id -> custom user group (the system groups are computed)
            self.next_group_id = 17  # after the 8 system groups (9-16)
            self.bot_id = self.create_user(self.bot_email, self.bot_name, api_key=self.bot_key,
                                           is_bot=True)["id"]
        with self.log_lock:
            self.request_log = []  # seq keeps counting so the file log stays unambiguous

    # ---- users -------------------------------------------------------------------------

    def create_user(self, email, full_name, api_key=None, is_bot=False):
        with self.lock:
            existing = self.user_by_email(email)
            if existing is not None:
                return existing
            uid = self.next_user_id
            self.next_user_id += 1 if uid != 26 else 5  # bot 26, humans from 31
            user = {
                "id": uid,
                "email": email,
                "full_name": full_name,
                "api_key": api_key,
                "is_bot": is_bot,
                "is_active": True,
                "recipient_id": self.alloc_recipient(),
                "date_joined": time.strftime("%Y-%m-%dT%H:%M+00:00", time.gmtime()),
            }
            self.users[uid] = user
            self.send_realm_user_event("add", self.user_dict(user, with_active=True))
            return user

    def user_dict(self, user, with_active=False):
        """The spec's `User` object (email visibility "everyone": `delivery_email` is the
        email). Register's `realm_users` leave out `is_active`; `realm_user` add events have it."""
        out = {
            "user_id": user["id"],
            "email": user["email"],
            "delivery_email": user["email"],
            "full_name": user["full_name"],
            "date_joined": user["date_joined"],
            "is_owner": False,
            "is_admin": False,
            "is_guest": False,
            "is_billing_admin": False,
            "role": 400,
            "is_bot": user["is_bot"],
            "timezone": "",
            "avatar_url": None,  # client_gravatar: the client computes it
            "avatar_version": 1,
        }
        if user["is_bot"]:
            out.update({"bot_type": 1, "bot_owner_id": None})
        else:
            out["profile_data"] = {}
        if with_active:
            out["is_active"] = user["is_active"]
        return out

    def send_realm_user_event(self, op, person):
        """`realm_user` events go to every queue that asked for them (the register narrow
        filters only `message` events). Caller holds the lock."""
        for q in list(getattr(self, "queues", {}).values()):
            if not q.closed and q.wants("realm_user"):
                q.add_event({"type": "realm_user", "op": op, "person": person},
                            self.config.event_id_gaps)
        self.cond.notify_all()

    def change_email(self, user, new_email):
        """What an email change does once confirmed: the API email and the delivery email
        change, and every realm_user queue hears of both (visibility "everyone")."""
        user["email"] = new_email
        self.send_realm_user_event("update", {"user_id": user["id"], "delivery_email": new_email})
        self.send_realm_user_event("update", {"user_id": user["id"], "new_email": new_email})

    def set_active(self, user, active):
        """Deactivation or reactivation: an `update` with `is_active` from FL 222, before that
        `remove` (deactivated) or `add` (reactivated)."""
        user["is_active"] = active
        if self.config.feature_level >= 222:
            self.send_realm_user_event("update", {"user_id": user["id"], "is_active": active})
        elif active:
            self.send_realm_user_event("add", self.user_dict(user, with_active=True))
        else:
            self.send_realm_user_event("remove", {"user_id": user["id"],
                                                  "full_name": user["full_name"]})

    def alloc_recipient(self):
        rid = self.next_recipient_id
        self.next_recipient_id += 1
        return rid

    def user_by_email(self, email):
        # Case-insensitive in ASCII only, like the real server's `email__iexact` on PostgreSQL
        # (UPPER() leaves U+212A KELVIN SIGN alone); Python's lower() would fold it into "k".
        if not isinstance(email, str):
            return None
        for user in self.users.values():
            if ascii_lower(user["email"]) == ascii_lower(email):
                return user
        return None

    def user_ref(self, ref):
        """A user given by id (int or digit string) or email."""
        if isinstance(ref, bool):
            return None
        if isinstance(ref, int):
            return self.users.get(ref)
        if isinstance(ref, str) and ref.isdigit():
            return self.users.get(int(ref))
        return self.user_by_email(ref)

    def avatar_url(self, user, client_gravatar):
        if client_gravatar:
            return None  # every emulated user uses Gravatar, so the client computes the URL
        digest = hashlib.md5(user["email"].lower().encode()).hexdigest()
        return f"https://secure.gravatar.com/avatar/{digest}?d=identicon&version=1"

    def users_by_name(self):
        return {u["full_name"]: u for u in self.users.values()}

    def system_groups(self):
        """The 8 role groups a new realm has (no owners or admins among emulated users), with
        the fields of the configured feature level."""
        fl = self.config.feature_level
        members = sorted(self.users)
        specs = [("role:nobody", "Nobody", []),
                 ("role:owners", "Owners of this organization", []),
                 ("role:administrators", "Administrators of this organization, including owners", []),
                 ("role:moderators", "Moderators of this organization, including administrators", []),
                 ("role:fullmembers", "Members of this organization, not including new accounts and guests", members),
                 ("role:members", "Members of this organization, not including guests", members),
                 ("role:everyone", "Everyone in this organization, including guests", []),
                 ("role:internet", "Everyone on the Internet", [])]
        # Group settings (all "role:nobody" for system groups) by the FL that added each.
        settings = [("can_mention_group", 191), ("can_manage_group", 283), ("can_join_group", 301),
                    ("can_add_members_group", 305), ("can_leave_group", 308),
                    ("can_remove_members_group", 324)]
        groups = []
        for i, (name, description, group_members) in enumerate(specs):
            group = {"id": 9 + i, "name": name, "description": description,
                     "members": group_members,
                     # Each role group contains the one before it (owners in administrators...).
                     "direct_subgroup_ids": [8 + i] if i >= 2 else [],
                     "is_system_group": True}
            if fl >= 290:
                group["deactivated"] = False
            if fl >= 292:
                group.update(creator_id=None, date_created=None)
            group.update({key: 9 for key, since in settings if fl >= since})
            groups.append(group)
        return groups

    # ---- user groups -------------------------------------------------------------------

    def group_dict(self, group, active_only=True):
        """The spec's `UserGroup` for a custom group. Register leaves deactivated users out of
        the member lists, although they stay members (real server: NOTES.md)."""
        fl = self.config.feature_level
        members = sorted(m for m in group["members"]
                         if not active_only or self.users.get(m, {}).get("is_active", False))
        out = {"id": group["id"], "name": group["name"], "description": group["description"],
               "members": members, "direct_subgroup_ids": sorted(group["subgroups"]),
               "is_system_group": False}
        # The fields of the feature level, as system_groups has them (settings: role:everyone).
        if fl >= 290:
            out["deactivated"] = False
        if fl >= 292:
            out.update(creator_id=None, date_created=None)
        for key, since in [("can_mention_group", 191), ("can_manage_group", 283), ("can_join_group", 301),
                           ("can_add_members_group", 305), ("can_leave_group", 308),
                           ("can_remove_members_group", 324)]:
            if fl >= since:
                out[key] = 9 + 6
        return out

    def custom_groups(self):
        return [self.group_dict(g) for g in sorted(self.groups.values(), key=lambda g: g["id"])]

    def group_ref(self, ref):
        """A custom group by id or name (case-insensitively in ASCII)."""
        if isinstance(ref, int) and not isinstance(ref, bool):
            return self.groups.get(ref)
        if isinstance(ref, str):
            for g in self.groups.values():
                if ascii_lower(g["name"]) == ascii_lower(ref):
                    return g
        return None

    def send_user_group_event(self, event):
        """`user_group` events go to every queue that asked for them. Caller holds the lock."""
        for q in list(self.queues.values()):
            if not q.closed and q.wants("user_group"):
                q.add_event(event, self.config.event_id_gaps)
        self.cond.notify_all()

    def create_group(self, name, members, subgroups=(), description=""):
        group = {"id": self.next_group_id, "name": name, "description": description,
                 "members": set(members), "subgroups": set(subgroups)}
        self.next_group_id += 1
        self.groups[group["id"]] = group
        self.send_user_group_event({"type": "user_group", "op": "add",
                                    "group": self.group_dict(group, active_only=False)})
        return group

    def change_members(self, group, add=(), remove=()):
        added = sorted(set(add) - group["members"])
        removed = sorted(set(remove) & group["members"])
        group["members"].update(added)
        group["members"].difference_update(removed)
        if added:
            self.send_user_group_event({"type": "user_group", "op": "add_members",
                                        "group_id": group["id"], "user_ids": added})
        if removed:
            self.send_user_group_event({"type": "user_group", "op": "remove_members",
                                        "group_id": group["id"], "user_ids": removed})
        return added, removed

    # ---- reactions ---------------------------------------------------------------------

    def react(self, user, msg, emoji_name, add):
        """Add or remove `user`'s reaction and tell every queue that can see the message.
        Caller holds the lock; raises ApiError as the real server does."""
        code = EMOJI.get(emoji_name)
        if code is None:
            raise ApiError(400, f"Emoji '{emoji_name}' does not exist")
        existing = [r for r in msg["reactions"]
                    if r["user_id"] == user["id"] and r["emoji_code"] == code]
        if add and existing:
            raise ApiError(400, "Reaction already exists.", "REACTION_ALREADY_EXISTS")
        if not add and not existing:
            raise ApiError(400, "Reaction doesn't exist.", "REACTION_DOES_NOT_EXIST")
        if add:
            msg["reactions"].append({"user_id": user["id"], "emoji_name": emoji_name,
                                     "emoji_code": code, "reaction_type": "unicode_emoji"})
        else:
            msg["reactions"].remove(existing[0])
            emoji_name = existing[0]["emoji_name"]
        event = {"type": "reaction", "op": "add" if add else "remove", "user_id": user["id"],
                 "user": {"user_id": user["id"], "email": user["email"],
                          "full_name": user["full_name"]},
                 "message_id": msg["id"], "emoji_name": emoji_name, "emoji_code": code,
                 "reaction_type": "unicode_emoji"}
        for q in list(self.queues.values()):
            if not q.closed and q.wants("reaction") and self.can_see(msg, q.user_id):
                q.add_event(event, self.config.event_id_gaps)
        self.cond.notify_all()

    def render_reactions(self, msg):
        out = []
        for r in msg["reactions"]:
            u = self.users[r["user_id"]]
            out.append(dict(r, user={"id": u["id"], "email": u["email"],
                                     "full_name": u["full_name"], "is_mirror_dummy": False}))
        return out

    # ---- streams -----------------------------------------------------------------------

    def ensure_stream(self, name, subscribers):
        with self.lock:
            stream = self.streams.get(name.lower())
            if stream is None:
                stream = {"id": self.next_stream_id, "name": name,
                          "recipient_id": self.alloc_recipient(), "subscribers": set()}
                self.next_stream_id += 1
                self.streams[name.lower()] = stream
            stream["subscribers"].update(subscribers)
            return stream

    # ---- messages ----------------------------------------------------------------------

    def dm_recipient_id(self, sender_id, participants):
        # At FL 247 a 1:1 DM points at the *receiver's* personal recipient, so the id differs
        # by direction; group DMs (3+) share one huddle recipient. Self-DMs use the sender's.
        others = set(participants) - {sender_id}
        if len(participants) <= 2:
            target = next(iter(others)) if others else sender_id
            return self.users[target]["recipient_id"]
        key = frozenset(participants)
        if key not in self.recipients:
            self.recipients[key] = self.alloc_recipient()
        return self.recipients[key]

    def message_flags(self, msg, user_id):
        flags = []
        if user_id == msg["sender_id"] and msg.get("read_by_sender", True):
            flags.append("read")
        if user_id != msg["sender_id"]:
            user = self.users[user_id]
            for m in re.finditer(r"@(_?)\*\*([^*|]+)(?:\|(\d+))?\*\*", msg["content"]):
                silent, name, uid = m.group(1), m.group(2), m.group(3)
                if silent:
                    continue
                if (uid and int(uid) == user_id) or (not uid and name == user["full_name"]):
                    if "mentioned" not in flags:
                        flags.append("mentioned")
                elif not uid and name in WILDCARDS_STREAM:
                    for f in ("wildcard_mentioned", "stream_wildcard_mentioned"):
                        if f not in flags:
                            flags.append(f)
                elif not uid and name == "topic":
                    for f in ("wildcard_mentioned", "topic_wildcard_mentioned"):
                        if f not in flags:
                            flags.append(f)
        flags.extend(f for f in sorted(msg["extra_flags"].get(user_id, ())) if f not in flags)
        return flags

    def can_see(self, msg, user_id):
        if msg["type"] == "private":
            return user_id in msg["participants"]
        return user_id in self.streams[msg["stream"].lower()]["subscribers"]

    def can_read(self, msg, user_id):
        """GET /messages: every emulated stream is public, so its history is readable by all
        (events still go to subscribers only)."""
        return msg["type"] == "stream" or self.can_see(msg, user_id)

    def render_message(self, msg, apply_markdown, client_gravatar, for_user=None,
                       with_flags=False):
        sender = self.users[msg["sender_id"]]
        out = {
            "id": msg["id"],
            "sender_id": sender["id"],
            "sender_email": sender["email"],
            "sender_full_name": sender["full_name"],
            "sender_realm_str": "zulip",
            "avatar_url": self.avatar_url(sender, client_gravatar),
            "client": msg["client"],
            "content": msg["rendered"] if apply_markdown else msg["content"],
            "content_type": "text/html" if apply_markdown else "text/x-markdown",
            "is_me_message": msg["content"].startswith("/me "),
            "reactions": self.render_reactions(msg),
            "submessages": [],
            "recipient_id": msg["recipient_id"],
            "timestamp": msg["timestamp"],
            "topic_links": [],
            "type": msg["type"],
        }
        if msg["type"] == "private":
            out["display_recipient"] = [
                {"id": u["id"], "email": u["email"], "full_name": u["full_name"],
                 "is_mirror_dummy": False}
                for u in sorted((self.users[i] for i in msg["participants"]), key=lambda u: u["id"])
            ]
            out["subject"] = ""
        else:
            stream = self.streams[msg["stream"].lower()]
            out["display_recipient"] = stream["name"]
            out["stream_id"] = stream["id"]
            out["subject"] = msg["topic"]
        if msg["edit_history"]:
            out["edit_history"] = [
                {"prev_content": e["prev_content"], "prev_rendered_content": e["prev_rendered"],
                 "timestamp": e["timestamp"], "user_id": e["user_id"]}
                for e in reversed(msg["edit_history"])
            ]
            if self.config.feature_level < 284:  # FL 284 dropped it
                for e in out["edit_history"]:
                    e["prev_rendered_content_version"] = 1
            out["last_edit_timestamp"] = msg["edit_history"][-1]["timestamp"]
        if with_flags:
            out["flags"] = self.message_flags(msg, for_user)
        return out

    def store_message(self, sender_id, mtype, participants=None, stream=None, topic="",
                      content="", client="website", read_by_sender=True, queue_id=None,
                      local_id=None):
        """Store a message and deliver `message` events (caller holds the lock)."""
        msg = {
            "id": self.next_message_id,
            "sender_id": sender_id,
            "type": mtype,
            "participants": set(participants or ()),
            "stream": stream,
            "topic": topic,
            "content": content,
            "rendered": render_markdown(content, self.users_by_name()),
            "client": client,
            "timestamp": int(time.time()),
            "edit_history": [],
            "read_by_sender": read_by_sender,
            "extra_flags": {},
            "reactions": [],
        }
        self.next_message_id += 1
        if mtype == "private":
            msg["recipient_id"] = self.dm_recipient_id(sender_id, msg["participants"])
        else:
            msg["recipient_id"] = self.streams[stream.lower()]["recipient_id"]
        if mtype == "stream":
            # Zulip's default `automatically_follow_topics_policy` (on initiation): whoever
            # starts a topic follows it, and the send's answer says so (FL 218).
            key = (stream.lower(), topic.lower())
            if not any(m["type"] == "stream" and (m["stream"].lower(), m["topic"].lower()) == key
                       for m in self.messages):
                msg["new_visibility_policy"] = 3  # FOLLOWED
        self.messages.append(msg)
        self.messages_by_id[msg["id"]] = msg
        for q in list(self.queues.values()):
            if q.closed or not q.wants("message") or not self.can_see(msg, q.user_id):
                continue
            flags = self.message_flags(msg, q.user_id)
            rendered = self.render_message(msg, q.apply_markdown, q.client_gravatar)
            if not self.event_narrow_matches(q.narrow, rendered, flags):
                continue
            event = {"type": "message", "message": rendered, "flags": flags}
            if local_id is not None and q.id == queue_id and q.user_id == sender_id:
                event["local_message_id"] = local_id
            q.add_event(event, self.config.event_id_gaps)
        self.cond.notify_all()
        return msg

    def edit_message(self, msg, editor_id, content=None, topic=None):
        """Apply an edit and deliver `update_message` events (caller holds the lock)."""
        now = int(time.time())
        orig_content, orig_rendered, orig_topic = msg["content"], msg["rendered"], msg["topic"]
        msg["edit_history"].append({
            "prev_content": orig_content, "prev_rendered": orig_rendered,
            "timestamp": now, "user_id": editor_id,
            "prev_topic": orig_topic if topic is not None else None,
        })
        if content is not None:
            msg["content"] = content
            msg["rendered"] = render_markdown(content, self.users_by_name())
        if topic is not None:
            msg["topic"] = topic
        for q in list(self.queues.values()):
            if q.closed or not q.wants("update_message") or not self.can_see(msg, q.user_id):
                continue
            # The register narrow filters only `message` events, never update_message.
            event = {
                "type": "update_message",
                "user_id": editor_id,
                "edit_timestamp": now,
                "message_id": msg["id"],
                "message_ids": [msg["id"]],
                "flags": self.message_flags(msg, q.user_id),
                "rendering_only": False,
            }
            if content is not None:
                event.update({
                    "orig_content": orig_content,
                    "orig_rendered_content": orig_rendered,
                    "prev_rendered_content_version": 1,
                    "content": msg["content"],
                    "rendered_content": msg["rendered"],
                    "is_me_message": msg["content"].startswith("/me "),
                })
            if msg["type"] == "stream":
                stream = self.streams[msg["stream"].lower()]
                event["stream_id"] = stream["id"]
                event["stream_name"] = stream["name"]
                if topic is not None:
                    event.update({"orig_subject": orig_topic, "subject": topic,
                                  "propagate_mode": "change_one", "topic_links": []})
            q.add_event(event, self.config.event_id_gaps)
        self.cond.notify_all()

    # ---- narrows -----------------------------------------------------------------------

    def event_narrow_matches(self, narrow, message, flags):
        """Real `build_narrow_predicate`: unknown `is:` operands count as satisfied."""
        fl = self.config.feature_level
        for operator, operand in narrow:
            if operator == "stream":
                if message["type"] != "stream" or operand.lower() != message["display_recipient"].lower():
                    return False
            elif operator == "topic":
                if message["type"] != "stream" or operand.lower() != message["subject"].lower():
                    return False
            elif operator == "sender":
                if operand.lower() != message["sender_email"].lower():
                    return False
            elif operator == "is":
                if operand == "private" or (operand == "dm" and fl >= 177):
                    if message["type"] != "private":
                        return False
                elif operand == "starred" and "starred" not in flags:
                    return False
                elif operand == "unread" and "read" in flags:
                    return False
                elif operand in ("alerted", "mentioned") and "mentioned" not in flags:
                    return False
        return True

    def validate_event_narrow(self, narrow):
        if not isinstance(narrow, list):
            raise ApiError(400, "narrow is not a list")
        for i, term in enumerate(narrow):
            if not isinstance(term, list):
                raise ApiError(400, f"narrow[{i}] is not a list")
            if len(term) != 2:
                raise ApiError(400, f"narrow[{i}] should have exactly 2 items")
            for j, part in enumerate(term):
                if not isinstance(part, str):
                    raise ApiError(400, f"narrow[{i}][{j}] is not a string")
            if term[0] not in ("stream", "topic", "sender", "is"):
                raise ApiError(400, f"Operator {term[0]} not supported.")
        return [list(t) for t in narrow]

    def bad_narrow(self, desc):
        return ApiError(400, f"Invalid narrow operator: {desc}", "BAD_NARROW")

    def fetch_narrow_terms(self, raw):
        terms = []
        if not isinstance(raw, list):
            raise ApiError(400, "narrow is not a list")
        for i, t in enumerate(raw):
            if isinstance(t, list):
                if len(t) != 2:
                    raise ApiError(400, f"narrow[{i}] should have exactly 2 items")
                terms.append({"operator": t[0], "operand": t[1], "negated": False})
            elif isinstance(t, dict):
                if "operator" not in t or "operand" not in t:
                    raise ApiError(400, f"narrow[{i}] is missing operator/operand")
                terms.append({"operator": t["operator"], "operand": t["operand"],
                              "negated": bool(t.get("negated", False))})
            else:
                raise ApiError(400, f"narrow[{i}] is not a list or dict")
        return terms

    def user_set_operand(self, operand):
        if isinstance(operand, int) and not isinstance(operand, bool):
            refs = [operand]
        elif isinstance(operand, list):
            # Real server: a list operand holds user ids only (emails go in a string).
            for i, ref in enumerate(operand):
                if not isinstance(ref, int) or isinstance(ref, bool):
                    raise ApiError(400, f"operand[{i}] is not an integer")
            refs = operand
        elif isinstance(operand, str):
            refs = [p.strip() for p in operand.split(",") if p.strip()]
        else:
            raise self.bad_narrow("unknown user")
        ids = set()
        for ref in refs:
            user = self.user_ref(ref)
            if user is None:
                raise self.bad_narrow(f"unknown user {ref}")
            ids.add(user["id"])
        return ids

    def fetch_term_predicate(self, term, me):
        fl = self.config.feature_level
        op, operand = term["operator"], term["operand"]
        if op == "is":
            if operand == "private" or (operand == "dm" and fl >= 177):
                return lambda m: m["type"] == "private"
            if operand in ("mentioned", "alerted"):
                return lambda m: "mentioned" in self.message_flags(m, me)
            if operand == "unread":
                return lambda m: "read" not in self.message_flags(m, me)
            if operand == "starred":
                return lambda m: "starred" in self.message_flags(m, me)
            raise self.bad_narrow(f"unknown 'is' operand {operand}")
        if op in ("pm-with",) or (op == "dm" and fl >= 177):
            ids = self.user_set_operand(operand) | {me}
            return lambda m: m["type"] == "private" and m["participants"] == ids
        if op in ("group-pm-with",) or (op == "dm-including" and fl >= 177):
            ids = self.user_set_operand(operand)
            return lambda m: m["type"] == "private" and ids <= m["participants"]
        if op == "sender":
            user = self.user_ref(operand)
            if user is None:
                raise self.bad_narrow("unknown user")
            return lambda m: m["sender_id"] == user["id"]
        if op == "stream":
            name = str(operand).lower()
            return lambda m: m["type"] == "stream" and m["stream"].lower() == name
        if op == "topic":
            topic = str(operand).lower()
            return lambda m: m["type"] == "stream" and m["topic"].lower() == topic
        if op == "id":
            return lambda m: m["id"] == int(operand)
        if op == "search":
            words = str(operand).lower().split()
            return lambda m: all(w in m["content"].lower() for w in words)
        raise self.bad_narrow(f"unknown operator {op}")

    # ---- queues ------------------------------------------------------------------------

    def expire_idle_queues(self):
        now = time.monotonic()
        with self.lock:
            expired = [q for q in self.queues.values()
                       if not q.poller_active and now - q.last_activity > q.lifespan]
            for q in expired:
                q.closed = "expired"
                del self.queues[q.id]
            if expired:
                self.cond.notify_all()

    def close_queues(self, queue_id=None, reason="expired"):
        with self.lock:
            ids = [queue_id] if queue_id else list(self.queues)
            closed = []
            for qid in ids:
                q = self.queues.pop(qid, None)
                if q is not None:
                    q.closed = reason
                    closed.append(qid)
            self.cond.notify_all()
            return closed

    # ---- request log -------------------------------------------------------------------

    def log_request(self, entry):
        with self.log_lock:
            self.request_seq += 1
            entry["seq"] = self.request_seq
            self.request_log.append(entry)
            if len(self.request_log) > 50000:
                del self.request_log[:10000]
            if self.log_file is not None:
                self.log_file.write(json.dumps(entry, sort_keys=True) + "\n")
                self.log_file.flush()


class Api:
    """The /api/v1 endpoint implementations. Each returns (body dict, extra headers)."""

    def __init__(self, state):
        self.s = state

    def route(self, method, path):
        if path == "/server_settings" and method == "GET":
            return self.server_settings, "/server_settings"
        if path == "/users/me" and method == "GET":
            return self.users_me, "/users/me"
        if path == "/register" and method == "POST":
            return self.register, "/register"
        if path == "/events" and method == "GET":
            return self.get_events, "/events"
        if path == "/events" and method == "DELETE":
            return self.delete_queue, "/events"
        if path == "/messages" and method == "GET":
            return self.get_messages, "/messages"
        if path == "/messages" and method == "POST":
            return self.send_message, "/messages"
        if path == "/user_groups" and method == "GET":
            return self.user_groups, "/user_groups"
        m = re.fullmatch(r"/messages/([^/]+)", path)
        if m and method == "PATCH":
            return (lambda user, params: self.update_message(user, params, m.group(1)),
                    "/messages/{message_id}")
        if m and method == "GET":
            return (lambda user, params: self.get_message(user, params, m.group(1)),
                    "/messages/{message_id}")
        m = re.fullmatch(r"/messages/([^/]+)/reactions", path)
        if m and method in ("POST", "DELETE"):
            return (lambda user, params: self.reaction(user, params, m.group(1), method == "POST"),
                    "/messages/{message_id}/reactions")
        return None, None

    def success(self, template_key, params, **fields):
        body = {"result": "success", "msg": ""}
        body.update(fields)
        known = KNOWN_PARAMS.get(template_key, set())
        ignored = sorted(k for k in params if k not in known)
        if ignored and self.s.config.feature_level >= 167:
            body["ignored_parameters_unsupported"] = ignored
        return body

    # -- endpoints --

    def server_settings(self, user, params):
        c = self.s.config
        body = {
            "authentication_methods": {
                "password": True, "dev": False, "email": True, "ldap": False,
                "remoteuser": False, "github": False, "azuread": False, "gitlab": False,
                "apple": False, "google": False, "saml": False, "openid connect": False,
            },
            "external_authentication_methods": [],
            "zulip_version": c.zulip_version,
            "push_notifications_enabled": False,
            "is_incompatible": False,
            "email_auth_enabled": True,
            "require_email_format_usernames": True,
            "realm_uri": self.s.base_url,
            "realm_name": c.realm_name,
            **({"realm_url": self.s.base_url} if c.feature_level >= 257 else {}),
            "realm_icon": "https://secure.gravatar.com/avatar/realm?d=identicon",
            "realm_description": "<p>Emulated Zulip organization for tests.</p>",
            "realm_web_public_access_enabled": False,
        }
        if c.feature_level > 0:
            body["zulip_feature_level"] = c.feature_level
        if c.feature_level >= 88:
            body["zulip_merge_base"] = c.zulip_version
        return self.success(("GET", "/server_settings"), params, **body)

    def users_me(self, user, params):
        with self.s.lock:
            max_id = max((m["id"] for m in self.s.messages if self.s.can_see(m, user["id"])),
                         default=-1)
        fields = dict(
            avatar_url=self.s.avatar_url(user, False),
            avatar_version=1,
            email=user["email"],
            delivery_email=user["email"],
            full_name=user["full_name"],
            is_admin=False, is_owner=False, is_guest=False,
            role=400,
            is_bot=user["is_bot"],
            is_active=True,
            timezone="",
            date_joined=user["date_joined"],
            max_message_id=max_id,
            user_id=user["id"],
        )
        if self.s.config.feature_level < 363:  # FL 363 removed it from user objects
            fields["is_billing_admin"] = False
        if user["is_bot"]:
            # A generic bot (type 1), owned by the organization's first human.
            owner = min((u["id"] for u in self.s.users.values() if not u["is_bot"]), default=None)
            fields.update(bot_type=1, bot_owner_id=owner)
        return self.success(("GET", "/users/me"), params, **fields)

    def user_groups(self, user, params):
        if user["is_bot"]:
            raise ApiError(400, "This endpoint does not accept bot requests.")
        parse_bool_param(params, "include_deactivated_groups", False)
        return self.success(("GET", "/user_groups"), params,
                            user_groups=self.s.system_groups() + self.s.custom_groups())

    def register(self, user, params):
        s, c = self.s, self.s.config
        event_types = parse_json_param(params, "event_types")
        if event_types is not None and (not isinstance(event_types, list)
                                        or not all(isinstance(t, str) for t in event_types)):
            raise ApiError(400, "event_types is not a list of strings")
        narrow = s.validate_event_narrow(parse_json_param(params, "narrow", []))
        apply_markdown = parse_bool_param(params, "apply_markdown", False)
        client_gravatar = parse_bool_param(params, "client_gravatar", True)
        all_public_streams = parse_bool_param(params, "all_public_streams", False)
        parse_bool_param(params, "slim_presence", False)
        parse_bool_param(params, "include_subscribers", False)
        caps = parse_json_param(params, "client_capabilities", {})
        if not isinstance(caps, dict):
            raise ApiError(400, "client_capabilities is not a dict")
        fetch = parse_json_param(params, "fetch_event_types")
        if fetch is not None and (not isinstance(fetch, list)
                                  or not all(isinstance(t, str) for t in fetch)):
            raise ApiError(400, "fetch_event_types is not a list of strings")
        lifespan = parse_int_param(params, "queue_lifespan_secs", 0)
        # Real server: 0 means the default idle timeout, and the value is capped (7 days).
        lifespan = c.queue_idle_timeout if lifespan <= 0 else min(lifespan, c.queue_lifespan_cap)
        if fetch is None:
            fetch = event_types
        q = Queue(user["id"], set(event_types) if event_types is not None else None, narrow,
                  apply_markdown, client_gravatar, all_public_streams, lifespan,
                  self.current_client)
        body = {
            "queue_id": q.id,
            "last_event_id": -1,
            "zulip_version": c.zulip_version,
        }
        if c.feature_level > 0:
            body["zulip_feature_level"] = c.feature_level
        if c.feature_level >= 88:
            body["zulip_merge_base"] = c.zulip_version
        with s.lock:
            if fetch is None or "message" in fetch:
                body["max_message_id"] = max(
                    (m["id"] for m in s.messages if s.can_see(m, user["id"])), default=-1)
            if fetch is None or "realm_user" in fetch:
                body.update({
                    "realm_users": [s.user_dict(u) for u in s.users.values() if u["is_active"]],
                    "realm_non_active_users": [s.user_dict(u) for u in s.users.values()
                                               if not u["is_active"]],
                    "cross_realm_bots": [],
                    "user_id": user["id"],
                    "email": user["email"],
                    "delivery_email": user["email"],
                    "full_name": user["full_name"],
                    "is_admin": False, "is_owner": False, "is_billing_admin": False,
                    "is_moderator": False, "is_guest": False,
                    "avatar_source": "G",
                    "avatar_url": s.avatar_url(user, False),
                    "avatar_url_medium": s.avatar_url(user, False) + "&s=500",
                    "can_create_streams": True, "can_create_public_streams": True,
                    "can_create_private_streams": True, "can_create_web_public_streams": False,
                    "can_subscribe_other_users": True, "can_invite_others_to_realm": True,
                })
            if (fetch is None or "realm_user_groups" in fetch) and c.user_groups:
                # Bots may fetch these here although GET /user_groups refuses them.
                body["realm_user_groups"] = s.system_groups() + s.custom_groups()
            if fetch is None or "realm" in fetch:
                body.update({
                    "realm_name": c.realm_name,
                    "realm_uri": s.base_url,
                    "max_stream_name_length": 60,
                    "max_stream_description_length": 1024,
                    "server_generation": int(time.time()),
                    "zulip_plan_is_not_limited": True,
                })
                if c.feature_level >= 257:
                    body["realm_url"] = s.base_url
                if c.feature_level >= 53:
                    body["max_message_length"] = MAX_MESSAGE_LENGTH
                    body["max_topic_length"] = MAX_TOPIC_LENGTH
                if c.feature_level >= 74:
                    body["event_queue_longpoll_timeout_seconds"] = c.longpoll_timeout
            s.queues[q.id] = q
        return self.success(("POST", "/register"), params, **body)

    def get_events(self, user, params):
        s, c = self.s, self.s.config
        if "queue_id" not in params:
            raise missing("queue_id")
        queue_id = params["queue_id"]
        dont_block = parse_bool_param(params, "dont_block", False)
        with s.lock:
            q = s.queues.get(queue_id)
            if q is None or q.closed:
                raise ApiError(400, f"Bad event queue ID: {queue_id}", "BAD_EVENT_QUEUE_ID",
                               queue_id=queue_id)
            if q.user_id != user["id"]:
                # Real server: someone else's queue looks like no queue at all.
                raise ApiError(400, f"Bad event queue ID: {queue_id}", "BAD_EVENT_QUEUE_ID",
                               queue_id=queue_id)
            if "last_event_id" not in params:
                # The real server insists on it when queue_id is given (the spec doesn't say).
                raise ApiError(400, "Missing 'last_event_id' argument")
            last_event_id = parse_int_param(params, "last_event_id")
            if q.newest_pruned_id is not None and last_event_id < q.newest_pruned_id:
                raise ApiError(400, f"An event newer than {last_event_id} has already been pruned!")
            q.prune(last_event_id)
            if q.newest_pruned_id is not None and last_event_id != q.newest_pruned_id:
                raise ApiError(400, f"Event {last_event_id} was not in this queue")
            q.last_activity = time.monotonic()
            if q.poller_active:
                # Only one long-poll per queue: the new request finishes the old one.
                q.poller_gen += 1
                q.poller_active = False
                s.cond.notify_all()
            if q.events or dont_block:
                # Immediate answers carry no queue_id when the client passed one.
                return self.success(("GET", "/events"), params, events=list(q.events))
            q.poller_gen += 1
            my_gen = q.poller_gen
            q.poller_active = True
            deadline = time.monotonic() + c.heartbeat
            try:
                while True:
                    if s.stopping:
                        raise DropConnection()
                    if q.closed:
                        raise ApiError(400, f"Bad event queue ID: {queue_id}",
                                       "BAD_EVENT_QUEUE_ID", queue_id=queue_id)
                    if q.poller_gen != my_gen or q.events:
                        # Finished by an event, a heartbeat or a newer poller: the async
                        # answer path includes queue_id.
                        return self.success(("GET", "/events"), params,
                                            events=list(q.events), queue_id=q.id)
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        q.add_event({"type": "heartbeat"}, c.event_id_gaps)
                        continue
                    s.cond.wait(min(remaining, 1.0))
            finally:
                if q.poller_gen == my_gen:
                    q.poller_active = False
                q.last_activity = time.monotonic()

    def delete_queue(self, user, params):
        s = self.s
        if "queue_id" not in params:
            raise missing("queue_id")
        queue_id = params["queue_id"]
        with s.lock:
            q = s.queues.get(queue_id)
            if q is None or q.user_id != user["id"]:
                raise ApiError(400, f"Bad event queue ID: {queue_id}", "BAD_EVENT_QUEUE_ID",
                               queue_id=queue_id)
            s.close_queues(queue_id, "deleted")
        return self.success(("DELETE", "/events"), params)

    def get_messages(self, user, params):
        s = self.s
        me = user["id"]
        # Optional (default 0) since FL 300, which added `message_ids` as an alternative.
        optional = self.s.config.feature_level >= 300
        num_before = parse_int_param(params, "num_before", 0, required=not optional)
        num_after = parse_int_param(params, "num_after", 0, required=not optional)
        if num_before < 0 or num_after < 0:
            raise ApiError(400, "num_before and num_after must be nonnegative")
        if num_before + num_after > 5000:
            raise ApiError(400, "Too many messages requested (maximum 5000).")
        include_anchor = parse_bool_param(params, "include_anchor", True)
        apply_markdown = parse_bool_param(params, "apply_markdown", True)
        client_gravatar = parse_bool_param(params, "client_gravatar", True)
        use_first_unread = parse_bool_param(params, "use_first_unread_anchor", False)
        narrow_raw = parse_json_param(params, "narrow", [])
        terms = s.fetch_narrow_terms(narrow_raw)
        anchor_raw = params.get("anchor")
        if anchor_raw is None and not use_first_unread:
            raise missing("anchor")
        with s.lock:
            preds = []
            for term in terms:
                pred = s.fetch_term_predicate(term, me)
                preds.append((pred, term["negated"]))
            matching = [m for m in s.messages if s.can_read(m, me)
                        and all(bool(p(m)) != neg for p, neg in preds)]
            anchored_left = anchored_right = False
            if use_first_unread or anchor_raw == "first_unread":
                unread = [m["id"] for m in matching if "read" not in s.message_flags(m, me)]
                if unread:
                    anchor = unread[0]
                else:
                    anchor, anchored_right = LARGER_THAN_MAX_MESSAGE_ID, True
            elif anchor_raw == "newest":
                anchor, anchored_right = LARGER_THAN_MAX_MESSAGE_ID, True
            elif anchor_raw == "oldest":
                anchor, anchored_left = 0, True
            elif re.fullmatch(r"-?[0-9]+", anchor_raw.strip()):
                anchor = int(anchor_raw)
                if anchor < 0:
                    raise ApiError(400, "Invalid anchor")
            else:
                raise ApiError(400, "Invalid anchor")
            if anchored_right:
                num_after = 0
            if anchored_left:
                num_before = 0
            before_all = [m for m in matching if m["id"] < anchor]
            after_all = [m for m in matching if m["id"] > anchor]
            anchor_msgs = [m for m in matching if m["id"] == anchor] if include_anchor else []
            before = before_all[-num_before:] if num_before else []
            after = after_all[:num_after]
            picked = before + anchor_msgs + after
            messages = [s.render_message(m, apply_markdown, client_gravatar, me, with_flags=True)
                        for m in picked]
        return self.success(
            ("GET", "/messages"), params,
            messages=messages,
            anchor=anchor,
            found_anchor=bool(anchor_msgs),
            found_oldest=anchored_left or len(before_all) <= num_before,
            found_newest=anchored_right or len(after_all) <= num_after,
            history_limited=False,
        )

    def parse_recipients(self, raw):
        """Real `extract_recipients`: JSON list/int/str, or a comma-separated string."""
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        if isinstance(value, (int, str)) and not isinstance(value, bool):
            value = [value] if isinstance(value, int) else [
                p.strip() for p in value.split(",") if p.strip()]
        if not isinstance(value, list):
            raise ApiError(400, "Invalid data type for recipients")
        kinds = {type(v) for v in value}
        if kinds - {int, str}:
            raise ApiError(400, "Invalid data type for recipients")
        if len(kinds) > 1:
            raise ApiError(400, "Recipient lists may contain emails or user IDs, but not both.")
        return value

    def send_message(self, user, params):
        s, c = self.s, self.s.config
        for name in ("type", "content"):
            if name not in params:
                raise missing(name)
        mtype = params["type"]
        allowed = {"private", "stream"}
        if c.feature_level >= 174:
            allowed.add("direct")
        if c.feature_level >= 248:
            allowed.add("channel")
        if mtype not in allowed:
            raise ApiError(400, "Invalid type")
        if "to" not in params:
            raise missing("to")
        recipients = self.parse_recipients(params["to"])
        read_by_sender = parse_bool_param(params, "read_by_sender",
                                          self.current_client.lower() in UI_CLIENTS)
        queue_id = params.get("queue_id")
        local_id = params.get("local_id")
        content = normalize_body(params["content"])
        with s.lock:
            if mtype in ("private", "direct"):
                if not recipients:
                    raise ApiError(400, "Message must have recipients")
                participants = {user["id"]}
                for ref in recipients:
                    target = s.users.get(ref) if isinstance(ref, int) else s.user_by_email(ref)
                    if target is None:
                        if isinstance(ref, int):
                            raise ApiError(400, f"Invalid user ID {ref}")
                        raise ApiError(400, f"Invalid email '{ref}'")
                    participants.add(target["id"])
                msg = s.store_message(user["id"], "private", participants=participants,
                                      content=content, client=self.current_client,
                                      read_by_sender=read_by_sender, queue_id=queue_id,
                                      local_id=local_id)
            else:
                if len(recipients) != 1:
                    raise ApiError(400, "Cannot send to multiple streams")
                ref = recipients[0]
                if isinstance(ref, int):
                    stream = next((st for st in s.streams.values() if st["id"] == ref), None)
                    if stream is None:
                        raise ApiError(400, f"Stream with ID '{ref}' does not exist")
                else:
                    stream = s.streams.get(ref.lower())
                    if stream is None:
                        raise ApiError(400, f"Channel '{ref}' does not exist",
                                       "STREAM_DOES_NOT_EXIST", stream=ref)
                topic = params.get("topic", params.get("subject"))
                if topic is None or topic.strip() == "":
                    raise ApiError(400, "Missing topic")
                msg = s.store_message(user["id"], "stream", stream=stream["name"],
                                      topic=topic.strip()[:MAX_TOPIC_LENGTH], content=content,
                                      client=self.current_client, read_by_sender=read_by_sender,
                                      queue_id=queue_id, local_id=local_id)
            if s.drop_after_send_left > 0:
                # Stored and delivered, but the answer is lost (a proxy timing out, a reset):
                # the client cannot tell whether the message was sent.
                s.drop_after_send_left -= 1
                raise DropConnection()
        extra = {}
        if "new_visibility_policy" in msg and c.feature_level >= 218:
            extra["automatic_new_visibility_policy"] = msg["new_visibility_policy"]
        return self.success(("POST", "/messages"), params, id=msg["id"], **extra)

    def get_message(self, user, params, raw_id):
        s = self.s
        if not re.fullmatch(r"[0-9]+", raw_id):
            raise ApiError(400, "Invalid message(s)")
        apply_markdown = parse_bool_param(params, "apply_markdown", True)
        with s.lock:
            msg = s.messages_by_id.get(int(raw_id))
            if msg is None or not s.can_read(msg, user["id"]):
                raise ApiError(400, "Invalid message(s)")
            rendered = s.render_message(msg, apply_markdown, True, user["id"], with_flags=True)
            return self.success(("GET", "/messages/{message_id}"), params, message=rendered,
                                raw_content=msg["content"])

    def reaction(self, user, params, raw_id, add):
        s = self.s
        if not re.fullmatch(r"[0-9]+", raw_id):
            raise ApiError(400, "Invalid message(s)")
        if "emoji_name" not in params:
            raise missing("emoji_name")
        template = ("POST" if add else "DELETE", "/messages/{message_id}/reactions")
        with s.lock:
            msg = s.messages_by_id.get(int(raw_id))
            if msg is None or not s.can_see(msg, user["id"]):
                raise ApiError(400, "Invalid message(s)")
            s.react(user, msg, params["emoji_name"], add)
        return self.success(template, params)

    def update_message(self, user, params, raw_id):
        s, c = self.s, self.s.config
        if not re.fullmatch(r"[0-9]+", raw_id):
            raise ApiError(400, "Invalid message(s)")
        topic = params.get("topic", params.get("subject"))
        content = params.get("content")
        if "stream_id" in params:
            raise ApiError(400, "You don't have permission to move this message")
        with s.lock:
            msg = s.messages_by_id.get(int(raw_id))
            if msg is None or not s.can_see(msg, user["id"]):
                raise ApiError(400, "Invalid message(s)")
            if content is None and topic is None:
                raise ApiError(400, "Nothing to change")
            if s.forbid_edits and content is not None:
                raise ApiError(400, "Your organization has turned off message editing")
            if content is not None and msg["sender_id"] != user["id"]:
                raise ApiError(400, "You don't have permission to edit this message")
            if (content is not None and c.edit_time_limit > 0
                    and time.time() - msg["timestamp"] > c.edit_time_limit):
                raise ApiError(400, "The time limit for editing this message has past")
            if topic is not None:
                if msg["type"] == "private":
                    raise ApiError(400, "Direct messages cannot have topics.")
                if topic.strip() == "":
                    raise ApiError(400, "Topic can't be empty")
                topic = topic.strip()[:MAX_TOPIC_LENGTH]
            if content is not None:
                stripped = content.rstrip().lstrip("\n")
                # Real server: editing a message to empty content leaves "(deleted)".
                content = "(deleted)" if stripped == "" else normalize_body(content)
            s.edit_message(msg, user["id"], content=content, topic=topic)
        extra = {"detached_uploads": []} if c.feature_level >= 285 else {}
        return self.success(("PATCH", "/messages/{message_id}"), params, **extra)


class DispatchingHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive; every method goes to `dispatch(method)`; `state` is the server's.
    Shared with recording_proxy.py."""

    protocol_version = "HTTP/1.1"

    # Silence the default stderr access log; the request log is the record.
    def log_message(self, fmt, *args):
        pass

    @property
    def state(self):
        return self.server.state

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PUT(self):
        self.dispatch("PUT")

    def dispatch(self, method):
        raise NotImplementedError


class Handler(DispatchingHandler):
    server_version = "nginx"

    def version_string(self):
        return "nginx"  # real deployments answer from behind nginx
    timeout = 60  # idle keep-alive connections give their thread back after this

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, status, body_bytes, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body_bytes)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body_bytes)

    def dispatch(self, method):
        parts = urlsplit(self.path)
        try:
            raw_body = self.read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        if parts.path.startswith(API_PREFIX + "/") or parts.path == API_PREFIX:
            self.handle_api(method, parts, raw_body)
        elif parts.path.startswith(CONTROL_PREFIX + "/"):
            self.handle_control(method, parts, raw_body)
        else:
            self.send(404, b'{"result":"error","msg":"Not found","code":"BAD_REQUEST"}',
                      "application/json")

    # ---- /api/v1 -----------------------------------------------------------------------

    def handle_api(self, method, parts, raw_body):
        s = self.state
        started = time.time()
        path = parts.path[len(API_PREFIX):] or "/"
        query_pairs = parse_qsl(parts.query, keep_blank_values=True)
        ctype = self.headers.get("Content-Type", "")
        form_pairs = []
        if raw_body and ctype.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            try:
                form_pairs = parse_qsl(raw_body.decode("utf-8"), keep_blank_values=True,
                                       strict_parsing=False)
            except UnicodeDecodeError:
                form_pairs = []
        # The handlers see one value per name (the last, as Django's QueryDict.get does); the
        # log keeps every value, so spec_check can flag a parameter sent more than once.
        query, form = dict(query_pairs), dict(form_pairs)
        entry = {
            "time": round(started, 3),
            "method": method,
            "path": parts.path,
            "query": logged_params(query_pairs),
            "form": logged_params(form_pairs),
            "content_type": ctype or None,
            "user_agent": self.headers.get("User-Agent"),
        }
        # Taken on arrival: a long-poll is handled for seconds, and the injection is its.
        hold = self.take_hold(method, parts.path)
        status, headers, body_obj, text, ctype_out = 200, {}, None, None, "application/json"
        try:
            status, headers, body_obj = self.api_call(method, path, query, form, entry)
            if hold is not None:
                entry["held"] = True
                if not self.hold_answer(hold):
                    raise DropConnection()
        except DropConnection:
            entry.update({"status": None, "dropped": True,
                          "duration_ms": round((time.time() - started) * 1000, 1)})
            s.log_request(entry)
            self.close_connection = True
            return
        except ProxyFailure as pf:
            status, text, ctype_out = pf.status, pf.text, pf.content_type
            if status >= 500:
                entry["injected"] = "proxy-5xx"
        if body_obj is not None:
            data = json.dumps(body_obj).encode()
        else:
            data = text.encode()
        headers_out = {"Content-Type": ctype_out}
        headers_out.update(headers)
        entry.update({
            "status": status,
            "response_headers": headers_out,
            "response": body_obj,
            "response_text": None if body_obj is not None else text[:500],
            "duration_ms": round((time.time() - started) * 1000, 1),
        })
        s.log_request(entry)
        try:
            self.send(status, data, ctype_out, headers)
        except OSError:
            self.close_connection = True  # the client went away mid long-poll

    def api_call(self, method, path, query, form, entry):
        s = self.state
        with s.lock:
            if s.fail_left > 0 and matches(s.fail_only, method, API_PREFIX + path):
                s.fail_left -= 1
                reason = {502: "Bad Gateway", 503: "Service Temporarily Unavailable",
                          504: "Gateway Time-out", 500: "Internal Server Error"}.get(
                              s.fail_status, "Error")
                raise ProxyFailure(s.fail_status,
                                   PROXY_5XX_BODY.format(status=s.fail_status, reason=reason))
            if s.rate_limit_left > 0:
                s.rate_limit_left -= 1
                ra = float(s.rate_limit_retry_after)
                entry["injected"] = "rate-limit"
                err = ApiError(429, "API usage exceeded rate limit", "RATE_LIMIT_HIT",
                               **{"retry-after": ra})
                return 429, self.rate_headers(None, exhausted=True, retry_after=ra), err.body()
            if s.bad_request_left > 0 and matches(s.bad_request_only, method, API_PREFIX + path):
                s.bad_request_left -= 1
                entry["injected"] = "bad-request"
                err = ApiError(400, "Injected bad request", "BAD_REQUEST")
                return 400, {}, err.body()
        api = Api(s)
        api.current_client = self.client_name()
        handler, template = api.route(method, path)
        params = dict(query)
        if method != "GET":
            params.update(form)
        if handler is None:
            # Real server: Django's HTML 404 page, not a JSON error.
            raise ProxyFailure(404, NOT_FOUND_BODY, "text/html; charset=utf-8")
        user = None
        try:
            if template != "/server_settings":
                user = self.authenticate()
                entry["user_id"] = user["id"]
                limited = self.count_rate(user)
                if limited is not None:
                    return 429, limited[0], limited[1]
            body = handler(user, params)
            return 200, self.rate_headers(user), body
        except ApiError as err:
            # Once authenticated and counted, errors carry the X-RateLimit-* headers too.
            headers = self.rate_headers(user) if user is not None else {}
            headers.update(err.headers)
            return err.status, headers, err.body()

    def take_hold(self, method, path):
        """Seconds to hold this request's answer (inf: until the client leaves), or None."""
        s = self.state
        with s.lock:
            if s.hold_left > 0 and matches(s.hold_only, method, path):
                s.hold_left -= 1
                return float("inf") if s.hold_seconds is None else s.hold_seconds
        return None

    def hold_answer(self, seconds):
        """Keeps the handled request's answer back, the socket open: True once `seconds` have
        passed (then it is sent), False when the client closed first or the server stops."""
        s = self.state
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if s.stopping:
                return False
            wait = max(0.0, min(0.2, deadline - time.monotonic()))
            readable, _, _ = select.select([self.connection], [], [], wait)
            if readable:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return False  # the client gave up on the request and closed
                except OSError:
                    return False
                time.sleep(0.2)  # pipelined bytes: not read before this answer is sent
        return True

    def client_name(self):
        ua = self.headers.get("User-Agent") or ""
        name = ua.split("/")[0].split(" ")[0].strip()
        return name or "API"

    def authenticate(self):
        s = self.state
        auth = self.headers.get("Authorization")
        www = {"WWW-Authenticate": 'Basic realm="zulip"'}
        if not auth:
            raise ApiError(401, "Not logged in: API authentication or user session required",
                           "UNAUTHORIZED", headers=www)
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "basic":
            # Real server: a plain JsonableError, so 400 and no WWW-Authenticate.
            raise ApiError(400, "This endpoint requires HTTP basic authentication.")
        try:
            email, sep, key = base64.b64decode(token.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(401, "Invalid authorization header for basic auth", "UNAUTHORIZED",
                           headers=www)
        if not sep:
            raise ApiError(401, "Invalid authorization header for basic auth", "UNAUTHORIZED",
                           headers=www)
        with s.lock:
            user = s.user_by_email(email)
            if user is None or user["api_key"] is None or user["api_key"] != key:
                # Real server (10.0): every credential failure of the REST API is a 401
                # UNAUTHORIZED with WWW-Authenticate (not the INVALID_API_KEY the spec lists);
                # a key that is not 32 letters and digits is "Malformed" before any lookup.
                msg = ("Invalid API key" if re.fullmatch(r"[A-Za-z0-9]{32}", key)
                       else "Malformed API key")
                raise ApiError(401, msg, "UNAUTHORIZED", headers=www)
            return user

    def count_rate(self, user):
        s, c = self.state, self.state.config
        with s.lock:
            now = time.time()
            win = s.window.setdefault(user["id"], [now, 0])
            if now - win[0] >= 60:
                win[0], win[1] = now, 0
            win[1] += 1
            if c.enforce_rate_limit and win[1] > c.rate_limit:
                ra = float(max(0.001, win[0] + 60 - now))
                err = ApiError(429, "API usage exceeded rate limit", "RATE_LIMIT_HIT",
                               **{"retry-after": ra})
                return self.rate_headers(user, exhausted=True, retry_after=ra), err.body()
        return None

    def rate_headers(self, user, exhausted=False, retry_after=None):
        s, c = self.state, self.state.config
        headers = {}
        if user is not None or exhausted:
            win = s.window.get(user["id"], [time.time(), 0]) if user else [time.time(), c.rate_limit]
            remaining = 0 if exhausted else max(0, c.rate_limit - win[1])
            reset = time.time() + retry_after if exhausted else win[0] + 60
            headers = {"X-RateLimit-Limit": str(c.rate_limit),
                       "X-RateLimit-Remaining": str(remaining),
                       "X-RateLimit-Reset": str(int(reset))}
        if retry_after is not None:
            # Real server: a float string, e.g. "41.66531276702881", even for whole seconds.
            headers["Retry-After"] = repr(float(retry_after))
        return headers

    # ---- /control ----------------------------------------------------------------------

    def handle_control(self, method, parts, raw_body):
        try:
            if not ipaddress.ip_address(self.client_address[0]).is_loopback:
                self.control_reply(403, {"error": "control API is loopback-only"})
                return
        except ValueError:
            self.control_reply(403, {"error": "control API is loopback-only"})
            return
        try:
            payload = json.loads(raw_body) if raw_body.strip() else {}
            if not isinstance(payload, dict):
                raise ValueError("body must be a JSON object")
        except ValueError as exc:
            self.control_reply(400, {"error": f"invalid JSON body: {exc}"})
            return
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        name = parts.path[len(CONTROL_PREFIX) + 1:].strip("/")
        fn = getattr(self, "control_" + method.lower() + "_" + name.replace("-", "_"), None)
        if fn is None:
            self.control_reply(404, {"error": f"unknown control endpoint {method} {parts.path}"})
            return
        try:
            status, body = fn(payload, query)
        except ControlError as exc:
            status, body = 400, {"error": str(exc)}
        self.control_reply(status, body)

    def control_reply(self, status, body):
        self.send(status, json.dumps(body).encode(), "application/json")

    def control_get_info(self, payload, query):
        s = self.state
        bot = s.users[s.bot_id]
        return 200, {"bot": {"id": bot["id"], "email": bot["email"], "full_name": bot["full_name"]},
                     "config": s.config.public(), "base_url": s.base_url,
                     "forbid_edits": s.forbid_edits}

    def control_get_users(self, payload, query):
        s = self.state
        with s.lock:
            return 200, {"users": [{"id": u["id"], "email": u["email"],
                                    "full_name": u["full_name"], "is_bot": u["is_bot"]}
                                   for u in s.users.values()]}

    def control_post_users(self, payload, query):
        s = self.state
        email = payload.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise ControlError("email (string with @) is required")
        full_name = payload.get("full_name") or email.split("@")[0].replace(".", " ").title()
        api_key = payload.get("api_key")
        if api_key is not None and not isinstance(api_key, str):
            raise ControlError("api_key must be a string")
        with s.lock:
            existed = s.user_by_email(email) is not None
            user = s.create_user(email, full_name, api_key=api_key,
                                 is_bot=bool(payload.get("is_bot", False)))
            if existed and api_key is not None:
                # Rotating a key (the bot's too): calls with the old key now get 401.
                user["api_key"] = api_key
        return 200, {"id": user["id"], "email": user["email"], "full_name": user["full_name"],
                     "created": not existed}

    def control_post_update_user(self, payload, query):
        s = self.state
        with s.lock:
            user = s.user_ref(payload.get("user"))
            if user is None:
                raise ControlError("'user' must name an existing user (email or id)")
            new_email = payload.get("email")
            if new_email is not None:
                if not isinstance(new_email, str) or "@" not in new_email:
                    raise ControlError("email must be a string with @")
                taken = s.user_by_email(new_email)
                if taken is not None and taken is not user:
                    raise ControlError(f"{new_email} is already in use")
                s.change_email(user, new_email)
            active = payload.get("is_active")
            if active is not None:
                if not isinstance(active, bool):
                    raise ControlError("is_active must be true or false")
                s.set_active(user, active)
            return 200, {"id": user["id"], "email": user["email"],
                         "full_name": user["full_name"], "is_active": user["is_active"]}

    def control_post_send(self, payload, query):
        s = self.state
        with s.lock:
            sender = s.user_ref(payload.get("from"))
            if sender is None:
                raise ControlError("'from' must name an existing user (POST /control/users first)")
            if not sender["is_active"]:
                raise ControlError("'from' is deactivated and cannot send")
            content = payload.get("content")
            if not isinstance(content, str):
                raise ControlError("content (string) is required")
            try:
                content = normalize_body(content)
            except ApiError as err:
                raise ControlError(err.msg)
            client = payload.get("client", "website")
            if payload.get("stream"):
                topic = payload.get("topic") or "general"
                subs = {sender["id"]}
                if payload.get("subscribe_bot", True):
                    subs.add(s.bot_id)
                stream = s.ensure_stream(str(payload["stream"]), subs)
                msg = s.store_message(sender["id"], "stream", stream=stream["name"],
                                      topic=topic[:MAX_TOPIC_LENGTH], content=content,
                                      client=client)
            else:
                to = payload.get("to", [s.bot_id])
                if isinstance(to, (str, int)):
                    to = [to]
                participants = {sender["id"]}
                for ref in to:
                    user = s.user_ref(ref)
                    if user is None:
                        raise ControlError(f"unknown recipient {ref!r}")
                    participants.add(user["id"])
                msg = s.store_message(sender["id"], "private", participants=participants,
                                      content=content, client=client)
        return 200, {"id": msg["id"]}

    def control_get_groups(self, payload, query):
        s = self.state
        with s.lock:
            return 200, {"groups": [s.group_dict(g, active_only=False)
                                    for g in sorted(s.groups.values(), key=lambda g: g["id"])]}

    def users_of(self, refs, what):
        s = self.state
        if not isinstance(refs, list):
            raise ControlError(f"{what} must be a list of emails or user ids")
        users = []
        for ref in refs:
            user = s.user_ref(ref)
            if user is None:
                raise ControlError(f"{what}: unknown user {ref!r}")
            users.append(user["id"])
        return users

    @staticmethod
    def required_name(payload):
        name = payload.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ControlError("name (string) is required")
        return name

    def control_post_groups(self, payload, query):
        s = self.state
        name = self.required_name(payload)
        with s.lock:
            if s.group_ref(name) is not None or name.startswith("role:"):
                raise ControlError(f"a group named {name!r} exists")
            members = self.users_of(payload.get("members", []), "members")
            subgroups = []
            for ref in payload.get("subgroups", []):
                group = s.group_ref(ref)
                if group is None:
                    raise ControlError(f"subgroups: unknown group {ref!r}")
                subgroups.append(group["id"])
            group = s.create_group(name, members, subgroups, str(payload.get("description", "")))
            return 200, s.group_dict(group, active_only=False)

    def control_post_group_members(self, payload, query):
        s = self.state
        with s.lock:
            group = s.group_ref(payload.get("group"))
            if group is None:
                raise ControlError("'group' must name an existing group (POST /control/groups first)")
            added, removed = s.change_members(group, self.users_of(payload.get("add", []), "add"),
                                              self.users_of(payload.get("remove", []), "remove"))
            return 200, {"id": group["id"], "added": added, "removed": removed,
                         "members": sorted(group["members"])}

    def control_post_react(self, payload, query):
        s = self.state
        with s.lock:
            user = s.user_ref(payload.get("from"))
            if user is None:
                raise ControlError("'from' must name an existing user")
            msg = s.messages_by_id.get(payload.get("message_id"))
            if msg is None or not s.can_see(msg, user["id"]):
                raise ControlError("message_id must be a message 'from' can see")
            emoji = payload.get("emoji_name", "+1")
            try:
                s.react(user, msg, emoji, not payload.get("remove", False))
            except ApiError as err:
                raise ControlError(err.msg)
            return 200, {"message_id": msg["id"], "reactions": s.render_reactions(msg)}

    def control_post_streams(self, payload, query):
        s = self.state
        name = self.required_name(payload)
        with s.lock:
            subscribers = self.users_of(payload.get("subscribers", []), "subscribers")
            stream = s.ensure_stream(name, subscribers)
            return 200, {"id": stream["id"], "name": stream["name"],
                         "subscribers": sorted(stream["subscribers"])}

    def control_post_edit(self, payload, query):
        s = self.state
        with s.lock:
            msg = s.messages_by_id.get(payload.get("id"))
            if msg is None:
                raise ControlError("unknown message id")
            content = payload.get("content")
            if not isinstance(content, str):
                raise ControlError("content (string) is required")
            try:
                content = normalize_body(content)
            except ApiError as err:
                raise ControlError(err.msg)
            s.edit_message(msg, msg["sender_id"], content=content)
        return 200, {"id": msg["id"]}

    def control_get_messages(self, payload, query):
        s = self.state
        try:
            after = int(query.get("after", "0"))
        except ValueError:
            raise ControlError("after must be an integer")
        out = []
        with s.lock:
            for m in s.messages:
                if m["id"] <= after:
                    continue
                sender = s.users[m["sender_id"]]
                item = {
                    "id": m["id"],
                    "type": m["type"],
                    "sender_id": sender["id"],
                    "sender_email": sender["email"],
                    "content": m["content"],
                    "timestamp": m["timestamp"],
                    "client": m["client"],
                    "recipient_id": m["recipient_id"],
                    "edited": bool(m["edit_history"]),
                    "reactions": [{"user_id": r["user_id"], "emoji_name": r["emoji_name"]}
                                  for r in m["reactions"]],
                    "edit_history": [{"prev_content": e["prev_content"],
                                      "timestamp": e["timestamp"], "user_id": e["user_id"]}
                                     for e in m["edit_history"]],
                }
                if m["type"] == "private":
                    emails = sorted(s.users[i]["email"] for i in m["participants"])
                    item["participants"] = emails
                    item["to"] = sorted(e for e in emails if e != sender["email"]) or [sender["email"]]
                else:
                    item["stream"] = m["stream"]
                    item["topic"] = m["topic"]
                out.append(item)
        return 200, {"messages": out}

    def control_post_expire_queues(self, payload, query):
        closed = self.state.close_queues(payload.get("queue_id"), "expired")
        return 200, {"expired": closed}

    def control_post_rate_limit(self, payload, query):
        s = self.state
        count, retry_after = payload.get("count", 1), payload.get("retry_after", 1)
        if not isinstance(count, int) or count < 0:
            raise ControlError("count must be a non-negative integer")
        if not isinstance(retry_after, (int, float)) or retry_after < 0:
            raise ControlError("retry_after must be a non-negative number")
        with s.lock:
            s.rate_limit_left, s.rate_limit_retry_after = count, retry_after
        return 200, {"count": count, "retry_after": retry_after}

    def control_post_fail(self, payload, query):
        s = self.state
        count, status = payload.get("count", 1), payload.get("status", 502)
        if not isinstance(count, int) or count < 0:
            raise ControlError("count must be a non-negative integer")
        if status not in (500, 502, 503, 504):
            raise ControlError("status must be 500, 502, 503 or 504")
        only = injection_filter(payload)
        with s.lock:
            s.fail_left, s.fail_status, s.fail_only = count, status, only
        return 200, {"count": count, "status": status, "method": payload.get("method"),
                     "path": payload.get("path")}

    def control_post_bad_request(self, payload, query):
        s = self.state
        count = payload.get("count", 1)
        if not isinstance(count, int) or count < 0:
            raise ControlError("count must be a non-negative integer")
        only = injection_filter(payload)
        with s.lock:
            s.bad_request_left, s.bad_request_only = count, only
        return 200, {"count": count, "method": payload.get("method"), "path": payload.get("path")}

    def control_post_drop_after_send(self, payload, query):
        s = self.state
        count = payload.get("count", 1)
        if not isinstance(count, int) or count < 0:
            raise ControlError("count must be a non-negative integer")
        with s.lock:
            s.drop_after_send_left = count
        return 200, {"count": count}

    def control_post_hold_answer(self, payload, query):
        s = self.state
        count, seconds = payload.get("count", 1), payload.get("seconds")
        if not isinstance(count, int) or count < 0:
            raise ControlError("count must be a non-negative integer")
        if seconds is not None and (not isinstance(seconds, (int, float)) or isinstance(seconds, bool)
                                    or seconds <= 0):
            raise ControlError("seconds must be a positive number (omit it to hold until the client leaves)")
        only = injection_filter(payload)
        with s.lock:
            s.hold_left, s.hold_only, s.hold_seconds = count, only, seconds
        return 200, {"count": count, "seconds": seconds, "method": payload.get("method"),
                     "path": payload.get("path")}

    def control_post_forbid_edits(self, payload, query):
        s = self.state
        with s.lock:
            s.forbid_edits = bool(payload.get("forbid", True))
        return 200, {"forbid": s.forbid_edits}

    def control_post_config(self, payload, query):
        s, c = self.state, self.state.config
        numeric = {"feature_level": int, "heartbeat": float, "queue_idle_timeout": float,
                   "queue_lifespan_cap": float, "longpoll_timeout": int, "rate_limit": int,
                   "edit_time_limit": float}
        with s.lock:
            for key, value in payload.items():
                if key in numeric and isinstance(value, (int, float)) and not isinstance(value, bool):
                    setattr(c, key, numeric[key](value))
                elif key in ("enforce_rate_limit", "event_id_gaps", "user_groups") and isinstance(value, bool):
                    setattr(c, key, value)
                else:
                    raise ControlError(f"unknown or invalid config key {key!r}")
        return 200, c.public()

    def control_get_queues(self, payload, query):
        s = self.state
        with s.lock:
            return 200, {"queues": [q.describe(s.users) for q in s.queues.values()]}

    def control_get_requests(self, payload, query):
        s = self.state
        try:
            after = int(query.get("after", "0"))
        except ValueError:
            raise ControlError("after must be an integer")
        with s.log_lock:
            entries = [e for e in s.request_log if e["seq"] > after]
        return 200, {"requests": entries}

    def control_post_reset(self, payload, query):
        self.state.reset()
        return 200, {"reset": True}


def injection_filter(payload):
    """The optional `method` / `path` (e.g. "POST", "/api/v1/messages") of an injection."""
    method, path = payload.get("method"), payload.get("path")
    if method is not None and (not isinstance(method, str) or not method.isalpha()):
        raise ControlError("method must be an HTTP method such as POST")
    if path is not None and (not isinstance(path, str) or not path.startswith(API_PREFIX + "/")):
        raise ControlError(f"path must be an API path such as {API_PREFIX}/messages")
    if method is None and path is None:
        return None
    return (method.upper() if method else None, path)


class ProxyFailure(Exception):
    """A non-JSON answer: an injected proxy 5xx, or the HTML 404 page."""

    def __init__(self, status, text, content_type="text/html"):
        super().__init__(status)
        self.status = status
        self.text = text
        self.content_type = content_type


class ControlError(Exception):
    pass


class Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with a cap on concurrent connections (each holds one thread)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, state, max_connections):
        super().__init__(addr, handler)
        self.state = state
        self.slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                b"Connection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def gc_loop(state, stop):
    while not stop.wait(0.2):
        state.expire_idle_queues()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--bot-email", default="bot@example.com")
    ap.add_argument("--bot-key", required=True, help="the bot's API key (never printed)")
    ap.add_argument("--bot-name", default="TOTP Bot")
    ap.add_argument("--heartbeat", type=float, default=50.0,
                    help="seconds an idle long-poll waits before a heartbeat (real: 45-55)")
    ap.add_argument("--queue-idle-timeout", type=float, default=600.0,
                    help="default idle lifetime of a queue (real: 600 s)")
    ap.add_argument("--queue-lifespan-cap", type=float, default=MAX_QUEUE_LIFESPAN_SECS,
                    help="cap on register's queue_lifespan_secs (real: 7 days)")
    ap.add_argument("--longpoll-timeout", type=int, default=90,
                    help="event_queue_longpoll_timeout_seconds advertised by register")
    ap.add_argument("--feature-level", type=int, default=247)
    ap.add_argument("--zulip-version", default="9.0-dev+git")
    ap.add_argument("--realm-name", default="Test Zulip")
    ap.add_argument("--rate-limit", type=int, default=200,
                    help="requests per 60 s reported in X-RateLimit-* headers")
    ap.add_argument("--enforce-rate-limit", action="store_true",
                    help="actually answer 429 past --rate-limit requests per 60 s")
    ap.add_argument("--no-event-id-gaps", action="store_true",
                    help="make event ids consecutive (default: occasional gaps, as allowed)")
    ap.add_argument("--edit-time-limit", type=float, default=0,
                    help="seconds after sending during which edits are allowed (0 = no limit)")
    ap.add_argument("--no-user-groups", action="store_true",
                    help="leave realm_user_groups out of register (a server that gives bots no groups)")
    ap.add_argument("--max-connections", type=int, default=64)
    ap.add_argument("--request-log", help="append one JSON line per /api/v1 request here")
    args = ap.parse_args(argv)

    state = State(Config(args), args.bot_email, args.bot_key, args.bot_name, args.request_log)
    httpd = Server((args.host, args.port), Handler, state, args.max_connections)
    port = httpd.server_address[1]
    host = args.host if ":" not in args.host else f"[{args.host}]"
    state.base_url = f"http://{host}:{port}"
    write_port_file(args.port_file, port)
    print(f"test-zulip listening on {state.base_url}", flush=True)

    stop = threading.Event()
    gc = threading.Thread(target=gc_loop, args=(state, stop), daemon=True)
    gc.start()

    def on_stop():
        with state.lock:
            state.stopping = True
            state.cond.notify_all()
        stop.set()

    return serve_until_signalled(httpd, "test-zulip", on_stop, state.log_file)


def write_port_file(path, port):
    """Writes the bound port where a starter waits for it (atomically), if asked to."""
    if path:
        with open(path + ".tmp", "w") as fh:
            fh.write(f"{port}\n")
        os.replace(path + ".tmp", path)


def serve_until_signalled(httpd, name, on_stop, log_file):
    """Serves until SIGTERM/SIGINT; then `on_stop()` wakes held requests and the server stops.
    Returns the exit status (0). Shared with recording_proxy.py."""
    def on_signal(signum, frame):
        on_stop()
        # shutdown() blocks until serve_forever returns, so it cannot run on this thread.
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        if log_file:
            log_file.close()
    print(f"{name} stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
