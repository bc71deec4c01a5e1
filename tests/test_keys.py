"""API keys: hashed storage in a real SQLite file, roles, revocation, and the `fincopilot keys` commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fincopilot.errors import InputError, NotFoundError
from fincopilot.server.keys import KeyStore, hash_key


def test_create_verify_revoke(isolated_home):
    store = KeyStore()
    record, key = store.create("advisor", "Ann Advisor")
    assert key.startswith(f"fck_{record.key_id}_") and len(key) > 40
    assert store.verify(key).role == "advisor"
    assert store.verify(key).last_used_at is not None
    assert store.verify(key + "x") is None
    assert store.verify(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert store.verify("") is None and store.verify(None) is None and store.verify("' OR 1=1 --") is None
    officer, officer_key = store.create("compliance_officer")
    assert officer.name == "compliance_officer" and store.verify(officer_key).role == "compliance_officer"
    store.revoke(record.key_id)
    assert store.verify(key) is None
    with pytest.raises(InputError, match="already revoked"):
        store.revoke(record.key_id)
    assert [k.active for k in store.list()] == [False, True]


def test_only_hashes_are_stored(isolated_home):
    store = KeyStore()
    _, key = store.create("advisor", "Ann")
    store.close()
    raw = (isolated_home / "server.sqlite").read_bytes()
    wal = isolated_home / "server.sqlite-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    secret = key.split("_", 2)[2]
    assert secret.encode() not in raw and key.encode() not in raw
    assert hash_key(key).encode() in raw  # sha256 of the whole key, looked up by its key id


def test_bad_input_is_named(isolated_home):
    store = KeyStore()
    with pytest.raises(InputError, match="unknown role 'admin'"):
        store.create("admin")
    with pytest.raises(InputError, match="key name"):
        store.create("advisor", "x" * 200)
    with pytest.raises(InputError, match="malformed key id"):
        store.revoke("'; DROP TABLE api_keys; --")
    with pytest.raises(NotFoundError, match="no API key with id 0badf00d"):
        store.revoke("0badf00d")


def test_keys_cli_prints_key_once(isolated_home):
    from fincopilot.cli import app

    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "--role", "compliance_officer", "--name", "Olga"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[0]
    assert KeyStore().verify(key).name == "Olga"
    listed = runner.invoke(app, ["keys", "list", "--json"])
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert rows[0]["name"] == "Olga" and key not in listed.stdout and "key_hash" not in listed.stdout
    revoked = runner.invoke(app, ["keys", "revoke", rows[0]["key_id"]])
    assert revoked.exit_code == 0 and "revoked key" in revoked.stdout
    assert KeyStore().verify(key) is None


def test_keys_cli_errors_are_one_line(isolated_home):
    exe = str(Path(sys.executable).with_name("fincopilot"))
    bad_role = subprocess.run([exe, "keys", "create", "--role", "root"], capture_output=True, text=True)
    assert bad_role.returncode == 2 and bad_role.stderr.strip() == (
        "error: unknown role 'root'; roles: advisor, compliance_officer"
    )
    missing = subprocess.run([exe, "keys", "revoke", "12345678"], capture_output=True, text=True)
    assert missing.returncode == 2 and "no API key with id 12345678" in missing.stderr
    assert "Traceback" not in missing.stderr
