"""Validates manifest.yml against Slack's manifest JSON Schema (../shared/slack/), and checks the
parts asyncbot relies on: commands, events, scopes. Usage: python3 .ci/validate_manifest.py"""
import json
import pathlib
import sys

import jsonschema
import yaml

root = pathlib.Path(__file__).resolve().parent.parent
schema_path = root.parent / "shared" / "slack" / "manifest.schema.1.0.0.json"
manifest = yaml.safe_load((root / "manifest.yml").read_text())

if schema_path.exists():
    schema = json.loads(schema_path.read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(manifest), key=lambda e: list(e.path))
    for e in errors:
        print(f"manifest.yml: {'/'.join(map(str, e.path)) or '(root)'}: {e.message}", file=sys.stderr)
    if errors:
        sys.exit(1)
    print(f"manifest.yml is valid against {schema_path.name}")
else:
    print(f"{schema_path} not found: schema validation skipped")

# What the bot itself needs, whatever the schema allows.
commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
for name in ["/sla", "/rfc", "/standup", "/decisions"]:
    assert name in commands, f"missing slash command {name}"
    assert commands[name].get("should_escape") is True, f"{name} must set should_escape: true"
    assert commands[name].get("usage_hint"), f"{name} needs a usage hint"
events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
needed = {"message.channels", "message.groups", "message.im", "message.mpim", "app_mention",
          "reaction_added", "app_home_opened", "member_joined_channel", "user_change",
          "dnd_updated_user"}
assert needed <= events, f"missing bot events: {sorted(needed - events)}"
scopes = set(manifest["oauth_config"]["scopes"]["bot"])
needed = {"chat:write", "im:write", "channels:history", "groups:history", "im:history",
          "mpim:history", "reactions:read", "users:read", "commands", "app_mentions:read",
          "dnd:read", "users.profile:read"}
assert needed <= scopes, f"missing scopes: {sorted(needed - scopes)}"
assert manifest["settings"]["socket_mode_enabled"] is True
assert manifest["settings"]["interactivity"]["is_enabled"] is True
assert manifest["features"]["bot_user"]["display_name"] == "asyncbot"
print("manifest.yml has the commands, events and scopes asyncbot needs")
