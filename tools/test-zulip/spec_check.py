#!/usr/bin/env python3
"""Check logged Zulip API requests and responses against Zulip's OpenAPI spec.

    python3 tools/test-zulip/spec_check.py --spec tools/test-zulip/spec/zulip.yaml \
        --log requests.jsonl [--strict] [--quiet]

The log is what test_zulip.py writes with --request-log (one JSON object per line with method,
path, query, form, content_type, status, response_headers, response). Every request is matched
to an operation (method + path template, spec paths are relative to /api/v1); its parameters
must be declared (in `parameters` or in the form-encoded `requestBody`), required ones present,
and values valid (JSON-encoded ones are decoded first; plain ones are coerced from the form
string to the schema type). Every response status must be documented for the operation (or be
one of the common errors of /rest-error-handling) and the JSON body must validate.

OpenAPI 3.0 -> JSON Schema (Draft 4): `nullable: true` becomes a `null` type alternative; in
response schemas `oneOf` is read as `anyOf`, because Zulip uses oneOf for "one of these
documented examples" (e.g. InvalidApiKeyError and UserNotAuthorizedError are both plain
CodedError, so a strict oneOf could never match either).

Known differences between the spec and the real server (see API-NOTES.md) are reported as
`deviation` notes and not counted, unless --strict:
  - `retry-after` in 429 bodies is fractional on real servers; the spec types it integer;
  - the sender's `message` event carries `local_message_id` (POST /messages says so), which
    the event schema at this spec version does not list;
  - POST /register `queue_lifespan_secs` is accepted by the server but undocumented;
  - a bot's GET /users/me carries `bot_type` and `bot_owner_id` (Zulip 10.0 does), which the
    schema at this spec version does not allow;
  - a server newer than this spec (FL 247) adds top-level fields it does not know:
    `realm_url` (FL 257, beside `realm_uri`), `detached_uploads` (FL 285, PATCH /messages);
  - and user group fields (register's `realm_user_groups`, `user_group` events): the group
    settings (`can_manage_group` FL 283 ... `can_remove_members_group` FL 324, possibly
    anonymous groups), `deactivated` (FL 290), `creator_id` and `date_created` (FL 292);
  - 5xx responses with non-JSON bodies come from the proxy in front of Zulip (nginx while
    Django or Tornado is down, or injected by the test Zulip): outside the API.
Exit status: 0 with no violations, 1 otherwise, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import re
import sys

import yaml
from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

API_PREFIX = "/api/v1"
REQ_URN = "urn:zulip-spec:request"
RESP_URN = "urn:zulip-spec:response"
SCHEMA_MAPS = {"properties", "patternProperties", "definitions"}
VERBATIM = {"example", "examples", "description", "summary"}
# Parameters the real server accepts although this spec version doesn't document them.
UNDOCUMENTED_PARAMS = {
    ("post", "/register"): {"queue_lifespan_secs": {"type": "integer", "minimum": 0}},
}


def translate(node, urn, response_mode):
    """Turn OpenAPI 3.0 schema quirks into Draft 4 JSON Schema (whole-document walk)."""
    if isinstance(node, list):
        return [translate(v, urn, response_mode) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in VERBATIM:
            out[key] = value
        elif key in SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: translate(v, urn, response_mode) for k, v in value.items()}
        elif key == "$ref" and isinstance(value, str) and value.startswith("#"):
            out[key] = urn + value
        else:
            out[key] = translate(value, urn, response_mode)
    if response_mode and "oneOf" in out and isinstance(out["oneOf"], list):
        out["anyOf"] = out.pop("oneOf")
    if out.get("nullable") is True:
        del out["nullable"]
        t = out.get("type")
        if isinstance(t, str):
            out["type"] = [t, "null"]
            if "enum" in out:
                out["enum"] = list(out["enum"]) + [None]
        elif t is None and any(k in out for k in ("$ref", "allOf", "anyOf", "oneOf", "enum")):
            inner = {k: v for k, v in out.items() if k not in VERBATIM}
            out = {k: v for k, v in out.items() if k in VERBATIM}
            out["anyOf"] = [{"type": "null"}, inner]
    return out


class Spec:
    def __init__(self, path):
        with open(path, encoding="utf-8") as fh:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            raw = yaml.load(fh, Loader=loader)
        self.req = translate(raw, REQ_URN, False)
        self.resp = translate(raw, RESP_URN, True)
        self.registry = Registry().with_resources([
            (REQ_URN, Resource.from_contents(self.req, default_specification=DRAFT4)),
            (RESP_URN, Resource.from_contents(self.resp, default_specification=DRAFT4)),
        ])
        self.ops = []
        for template, item in self.req["paths"].items():
            regex = re.escape(template)
            regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
            self.ops.append((template.count("{"), len(template), re.compile("^" + regex + "$"),
                             template))
        # Literal paths win over templated ones (/messages/flags before /messages/{id}).
        self.ops.sort(key=lambda t: (t[0], -t[1]))
        common = self.resp["paths"].get("/rest-error-handling", {}).get("post", {})
        self.common_errors = common.get("responses", {})

    def deref(self, doc, node):
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            _, _, pointer = ref.partition("#")
            node = doc
            for part in pointer.lstrip("/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            seen += 1
            if seen > 50:
                raise ValueError(f"$ref loop at {ref}")
        return node

    def find_operation(self, method, api_path):
        for _, _, regex, template in self.ops:
            m = regex.match(api_path)
            if m:
                item = self.req["paths"][template]
                op = item.get(method.lower())
                if op is not None:
                    return template, item, op, m.groupdict()
        return None

    def errors(self, schema, value):
        validator = Draft4Validator(schema, registry=self.registry)
        return list(validator.iter_errors(value))


def schema_type(spec, doc, schema, depth=0):
    schema = spec.deref(doc, schema)
    if not isinstance(schema, dict) or depth > 10:
        return None
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t:
        return t
    for sub in schema.get("allOf", []):
        t = schema_type(spec, doc, sub, depth + 1)
        if t:
            return t
    return None


def pick_alternative(errors):
    """For a failed anyOf/oneOf, the errors of the alternative the value most likely meant.

    Alternatives whose `type` discriminator (e.g. an event's "type" enum) already fails are
    the wrong ones; among the rest prefer the one with the fewest errors."""
    groups = {}
    for e in errors:
        groups.setdefault(e.relative_schema_path[0] if e.relative_schema_path else 0, []).append(e)

    def mismatched_type(group):
        return any(e.validator == "enum" and list(e.relative_path)[-1:] == ["type"]
                   or any(c.validator == "enum" and list(c.relative_path)[-1:] == ["type"]
                          for c in e.context or [])
                   for e in group)

    return min(groups.values(), key=lambda g: (mismatched_type(g), len(g)))


def describe_error(err):
    best = err
    while best.context:
        best = best_match(pick_alternative(best.context))
    where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in best.absolute_path)
    msg = best.message
    if len(msg) > 300:
        msg = msg[:300] + "..."
    return f"{where.lstrip('.') or '(root)'}: {msg}"


def strip_local_message_id(body):
    """Known deviation: the server adds local_message_id to the sender's message event (the
    POST /messages `queue_id` text says so) but the message event schema omits it."""
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        return None
    if not any(isinstance(e, dict) and "local_message_id" in e for e in body["events"]):
        return None
    patched = copy.deepcopy(body)
    for e in patched["events"]:
        if isinstance(e, dict):
            e.pop("local_message_id", None)
    return patched


def round_up_retry_after(body):
    """Known deviation: fractional retry-after (the spec's own example is fractional)."""
    if not isinstance(body, dict) or not isinstance(body.get("retry-after"), float):
        return None
    patched = copy.deepcopy(body)
    patched["retry-after"] = math.ceil(patched["retry-after"])
    return patched


def strip_bot_fields(body):
    """Known deviation: a bot's own user object carries bot_type and bot_owner_id on real
    servers (checked on Zulip 10.0); the GET /users/me schema of this spec forbids them."""
    if not isinstance(body, dict) or body.get("is_bot") is not True or "bot_type" not in body:
        return None
    patched = copy.deepcopy(body)
    patched.pop("bot_type", None)
    patched.pop("bot_owner_id", None)
    return patched


# Top-level response fields added after this spec's feature level (247), with the FL that
# added them; a newer server (Zulip 10.0 is FL 371) sends them where the schemas forbid more.
NEWER_FIELDS = {"realm_url": 257, "detached_uploads": 285}


def strip_newer_fields(body):
    """Known deviation: fields of a server newer than this spec."""
    if not isinstance(body, dict) or not set(body) & set(NEWER_FIELDS):
        return None
    return {k: v for k, v in body.items() if k not in NEWER_FIELDS}


# User group fields added after this spec's feature level, with the FL that added each; the
# group settings may also be anonymous groups ({"direct_members": [...], "direct_subgroups":
# [...]}, FL 283) where this spec has a group id.
NEWER_GROUP_FIELDS = {"can_manage_group": 283, "deactivated": 290, "creator_id": 292, "date_created": 292,
                      "can_join_group": 301, "can_add_members_group": 305, "can_leave_group": 308,
                      "can_remove_members_group": 324}


def strip_newer_group_fields(body):
    """Known deviation: a newer server's user groups (register's `realm_user_groups`, a
    `user_group` event's `group` or `data`) carry fields this spec's UserGroup forbids."""
    if not isinstance(body, dict):
        return None
    groups = []
    if isinstance(body.get("realm_user_groups"), list):
        groups += body["realm_user_groups"]
    for e in body.get("events") or []:
        if isinstance(e, dict) and e.get("type") == "user_group":
            groups += [g for g in (e.get("group"), e.get("data")) if isinstance(g, dict)]

    def newer(g):
        return (set(g) & set(NEWER_GROUP_FIELDS)
                or ("can_mention_group" in g and not isinstance(g["can_mention_group"], int)))

    if not any(isinstance(g, dict) and newer(g) for g in groups):
        return None
    patched = copy.deepcopy(body)
    targets = list(patched.get("realm_user_groups") or [])
    for e in patched.get("events") or []:
        if isinstance(e, dict) and e.get("type") == "user_group":
            targets += [g for g in (e.get("group"), e.get("data")) if isinstance(g, dict)]
    for g in targets:
        if not isinstance(g, dict):
            continue
        for key in NEWER_GROUP_FIELDS:
            g.pop(key, None)
        if "can_mention_group" in g and not isinstance(g["can_mention_group"], int):
            del g["can_mention_group"]
    return patched


RESPONSE_DEVIATIONS = [
    (round_up_retry_after,
     "retry-after {retry-after} is fractional (spec: integer; real servers send floats)"),
    (strip_local_message_id,
     "message event carries local_message_id (sent by the server, as POST /messages "
     "describes, but missing from the event schema)"),
    (strip_newer_fields,
     "fields added after this spec's feature level (realm_url FL 257, detached_uploads FL 285)"),
    (strip_newer_group_fields,
     "user groups carry fields added after this spec's feature level (group settings, "
     "deactivated FL 290, creator_id and date_created FL 292)"),
    (strip_bot_fields,
     "a bot's user object carries bot_type and bot_owner_id (real servers send them; the "
     "schema at this spec version does not list them)"),
]


class Checker:
    def __init__(self, spec, strict=False, quiet=False):
        self.spec = spec
        self.strict = strict
        self.quiet = quiet
        self.requests = 0
        self.responses = 0
        self.violations = 0
        self.deviations = 0
        self.skipped = 0

    def report(self, entry, kind, text):
        label = f"#{entry.get('seq', '?')} {entry.get('method')} {entry.get('path')}"
        label += f" -> {entry.get('status')}"
        if kind == "deviation" and not self.strict:
            self.deviations += 1
            if not self.quiet:
                print(f"deviation [{label}]: {text}")
            return
        self.violations += 1
        print(f"VIOLATION [{label}] {text}")
        req = {"query": entry.get("query") or {}, "form": entry.get("form") or {}}
        shown = json.dumps(req, sort_keys=True)
        print(f"    request: {shown[:400]}{'...' if len(shown) > 400 else ''}")

    def check_entry(self, entry):
        self.requests += 1
        method = (entry.get("method") or "").upper()
        path = entry.get("path") or ""
        if not path.startswith(API_PREFIX + "/"):
            self.report(entry, "violation", f"request: path {path!r} is not under {API_PREFIX}/")
            return
        found = self.spec.find_operation(method, path[len(API_PREFIX):])
        if found is None:
            self.report(entry, "violation",
                        f"request: no operation {method} {path[len(API_PREFIX):]} in the spec")
            return
        template, item, op, path_params = found
        self.check_request(entry, method, template, item, op, path_params)
        self.check_response(entry, template, method)

    # ---- requests ----------------------------------------------------------------------

    def check_request(self, entry, method, template, item, op, path_params):
        spec, doc = self.spec, self.spec.req
        query = entry.get("query") or {}
        form = entry.get("form") or {}
        declared = {}
        for p in list(item.get("parameters", [])) + list(op.get("parameters", [])):
            p = spec.deref(doc, p)
            declared[(p["in"], p["name"])] = p
        body_props, body_required, encoding, body_types = {}, [], {}, []
        rb = spec.deref(doc, op.get("requestBody")) if op.get("requestBody") else None
        if rb:
            body_types = list(rb.get("content", {}))
            form_ct = rb["content"].get("application/x-www-form-urlencoded") or \
                rb["content"].get("multipart/form-data")
            if form_ct:
                bschema = spec.deref(doc, form_ct.get("schema", {}))
                body_props = bschema.get("properties", {})
                body_required = bschema.get("required", []) if (rb.get("required") or form) else []
                encoding = form_ct.get("encoding", {})

        ctype = (entry.get("content_type") or "").split(";")[0].strip().lower()
        if form:
            if method == "GET":
                self.report(entry, "violation", "request: GET with a form-encoded body")
            allowed = body_types or ["application/x-www-form-urlencoded"]
            if ctype not in allowed:
                self.report(entry, "violation",
                            f"request: body content-type {ctype!r} not in {allowed}")

        undocumented = UNDOCUMENTED_PARAMS.get((method.lower(), template), {})
        if method == "GET":
            sent = [("query", k, v) for k, v in query.items()]
        else:
            sent = [("form", k, v) for k, v in form.items()] + \
                [("query", k, v) for k, v in query.items()]
        present = set()
        for where, name, value in sent:
            present.add(name)
            if isinstance(value, list):
                self.report(entry, "violation", f"request: parameter {name!r} sent more than once")
                continue
            if ("query", name) in declared:
                p = declared[("query", name)]
                if "content" in p:
                    schema = next(iter(p["content"].values())).get("schema", {})
                    self.check_value(entry, name, value, schema, True)
                else:
                    self.check_value(entry, name, value, p.get("schema", {}), False)
            elif name in body_props and method != "GET":
                is_json = encoding.get(name, {}).get("contentType") == "application/json"
                self.check_value(entry, name, value, body_props[name], is_json)
            elif name in undocumented:
                self.report(entry, "deviation",
                            f"request: parameter {name!r} is accepted by the server but not "
                            f"documented for {method} {template}")
                self.check_value(entry, name, value, undocumented[name], False)
            else:
                self.report(entry, "violation",
                            f"request: parameter {name!r} ({where}) is not declared for "
                            f"{method} {template}")
        for (loc, name), p in declared.items():
            if loc == "path":
                if name not in path_params:
                    self.report(entry, "violation", f"request: path parameter {name!r} missing")
                else:
                    self.check_value(entry, name, path_params[name], p.get("schema", {}), False)
            elif loc == "query" and p.get("required") and name not in present:
                self.report(entry, "violation", f"request: required parameter {name!r} missing")
        for name in body_required:
            if name not in present:
                self.report(entry, "violation", f"request: required parameter {name!r} missing")

    def check_value(self, entry, name, raw, schema, is_json):
        spec = self.spec
        if is_json:
            try:
                value = json.loads(raw)
            except ValueError:
                self.report(entry, "violation",
                            f"request: parameter {name!r} must be JSON, got {raw[:80]!r}")
                return
        else:
            t = schema_type(spec, spec.req, schema)
            value = raw
            if t == "integer":
                if not re.fullmatch(r"-?[0-9]+", raw):
                    self.report(entry, "violation",
                                f"request: parameter {name!r} must be an integer, got {raw[:80]!r}")
                    return
                value = int(raw)
            elif t == "number":
                try:
                    value = float(raw)
                except ValueError:
                    self.report(entry, "violation",
                                f"request: parameter {name!r} must be a number, got {raw[:80]!r}")
                    return
            elif t == "boolean":
                if raw not in ("true", "false"):
                    self.report(entry, "violation",
                                f"request: parameter {name!r} must be true/false, got {raw[:80]!r}")
                    return
                value = raw == "true"
            elif t in ("array", "object") or t is None:
                try:
                    value = json.loads(raw)
                except ValueError:
                    value = raw
        errs = spec.errors(schema, value)
        if errs:
            self.report(entry, "violation",
                        f"request: parameter {name!r}={raw[:80]!r}: {describe_error(errs[0])}")

    # ---- responses ---------------------------------------------------------------------

    def check_response(self, entry, template, method):
        spec, doc = self.spec, self.spec.resp
        status = entry.get("status")
        if entry.get("dropped") or status is None:
            self.skipped += 1
            return
        if 500 <= status <= 599 and (entry.get("injected") == "proxy-5xx" or entry.get("response") is None):
            self.skipped += 1
            self.report(entry, "deviation",
                        "response: proxy 5xx with a non-JSON body (outside the API)")
            return
        op = doc["paths"][template][method.lower()]
        responses = op.get("responses", {})
        code = str(status)
        candidates = []
        for key in (code, code[0] + "XX", code[0] + "xx", "default"):
            if key in responses:
                candidates.append(("operation", spec.deref(doc, responses[key])))
                break
        if code in self.spec.common_errors:
            candidates.append(("common errors", spec.deref(doc, self.spec.common_errors[code])))
        if not candidates:
            self.report(entry, "violation",
                        f"response: status {status} is not documented for {method} {template}")
            return
        self.responses += 1
        body = entry.get("response")
        schemas = []
        documented = []
        for origin, resp in candidates:
            content = resp.get("content", {})
            media = content.get("application/json")
            if media is None and not content:
                return  # documented without a body; nothing more to check
            if media is not None and "schema" not in media:
                return  # JSON documented without a schema: any JSON body will do
            if media is not None:
                schemas.append((origin, media["schema"]))
            documented += list(content)
        if body is None:
            self.report(entry, "violation", "response: body is not JSON")
            return
        if not schemas:
            self.report(entry, "violation",
                        f"response: JSON body, but status {status} of {method} {template} is "
                        f"documented only as {', '.join(sorted(set(documented)))}")
            return
        first_errors = None
        for origin, schema in schemas:
            errs = spec.errors(schema, body)
            if not errs:
                return
            if first_errors is None:
                first_errors = errs
        # Known deviations may meet in one body (an events batch with a local echo and a
        # newer server's group): each applies on top of the others.
        patched, notes = body, []
        for patch, note in RESPONSE_DEVIATIONS:
            attempt = patch(patched)
            if attempt is None:
                continue
            patched = attempt
            notes.append(note.replace("{retry-after}", str(body.get("retry-after"))))
            if any(not spec.errors(schema, patched) for _, schema in schemas):
                for text in notes:
                    self.report(entry, "deviation", "response: " + text)
                return
        details = "; ".join(describe_error(e) for e in first_errors[:3])
        self.report(entry, "violation", f"response: body does not match the schema: {details}")
        if not self.quiet:
            shown = json.dumps(body, sort_keys=True)
            print(f"    response: {shown[:400]}{'...' if len(shown) > 400 else ''}")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Check a test-zulip request log against the spec.")
    ap.add_argument("--spec", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--strict", action="store_true", help="count known deviations as violations")
    ap.add_argument("--quiet", action="store_true", help="don't print deviation notes")
    args = ap.parse_args(argv)
    spec = Spec(args.spec)
    checker = Checker(spec, strict=args.strict, quiet=args.quiet)
    with open(args.log, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                checker.violations += 1
                print(f"VIOLATION [log line {lineno}] not valid JSON")
                continue
            checker.check_entry(entry)
    if checker.deviations or checker.skipped:
        print(f"notes: {checker.deviations} known deviations, "
              f"{checker.skipped} responses skipped (dropped, or a proxy 5xx)")
    print(f"spec-check: {checker.requests} requests, {checker.responses} responses checked, "
          f"{checker.violations} violations")
    return 1 if checker.violations else 0


if __name__ == "__main__":
    sys.exit(main())
