"""Pseudonymisation at the door: keyed HMAC tokens for subject ids, scrubbing of free text.

The HMAC key lives in ``ATTEST_HOME/keys/pseudonym.key`` (0600), never in the warehouse, so the
tokens cannot be reversed by enumerating ids. Both operations run inside DuckDB (HMAC-SHA256 is
built from the engine's sha256 over blobs, the scrubbers are RE2 regexes), so ingest stays
vectorised; the Python functions here are the reference the tests compare against.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

TOKEN_PREFIX = "s_"
TOKEN_HEX = 32  # 128 bits of the HMAC

# Order matters: card numbers first, so a phone pattern never eats half of one.
SCRUBBERS: tuple[tuple[str, str], ...] = (
    # RFC 5322 allows these characters in the local part; real logs contain all of them.
    (
        "[EMAIL]",
        r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
    ),
    ("[CARD]", r"\b(?:\d[ \-]?){12,18}\d\b"),
    ("[PHONE]", r"\+\d{1,3}[ .\-]?(?:\(\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]?\d{2,4}){2,4}"),
    ("[PHONE]", r"\(\d{3}\)[ .\-]?\d{3}[ .\-]?\d{4}"),
    ("[PHONE]", r"\b\d{3}[.\-]\d{3}[.\-]\d{4}\b"),
)


@dataclass(frozen=True)
class PseudonymKey:
    """The per-home secret, split per purpose so tokens of different fields never match."""

    key_id: str
    secret: bytes

    def field_key(self, purpose: str) -> bytes:
        return hmac.new(self.secret, b"attest-pseudonym:" + purpose.encode(), "sha256").digest()

    def token(self, purpose: str, value: str) -> str:
        """Reference implementation of the token ingest stores (used by tests and lookups)."""
        mac = hmac.new(self.field_key(purpose), value.strip().encode(), "sha256").hexdigest()
        return TOKEN_PREFIX + mac[:TOKEN_HEX]

    def sql_pads(self, purpose: str) -> tuple[str, str]:
        """Hex of (K xor ipad, K xor opad) for the HMAC built in SQL."""
        k = self.field_key(purpose).ljust(64, b"\0")
        return bytes(b ^ 0x36 for b in k).hex(), bytes(b ^ 0x5C for b in k).hex()


def load_or_create_key(keys_dir: Path) -> PseudonymKey:
    """Read the pseudonymisation key, creating it (0600) on first use."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    path = keys_dir / "pseudonym.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_hex(32).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    secret = bytes.fromhex(path.read_text().strip())
    return PseudonymKey(hashlib.sha256(secret).hexdigest()[:12], secret)


def hmac_sql(expr: str, ipad_param: str, opad_param: str) -> str:
    """SQL for the token of ``expr`` given the two pad parameters (names of $params)."""
    inner = f"sha256(unhex(${ipad_param}) || encode(trim({expr})))"
    outer = f"sha256(unhex(${opad_param}) || unhex({inner}))"
    return f"CASE WHEN {expr} IS NULL THEN NULL ELSE '{TOKEN_PREFIX}' || left({outer}, {TOKEN_HEX}) END"


def scrub_sql(expr: str) -> str:
    """SQL that scrubs ``expr`` with every scrubber in order."""
    out = expr
    for placeholder, pattern in SCRUBBERS:
        escaped = pattern.replace("'", "''")
        out = f"regexp_replace({out}, '{escaped}', '{placeholder}', 'g')"
    return out


# RE2 (in DuckDB) is ASCII-only for \d and \b; so is the reference.
_COMPILED = [(p, re.compile(r, re.ASCII)) for p, r in SCRUBBERS]


def scrub_text(text: str) -> str:
    """Reference implementation of the scrubbing done in SQL."""
    for placeholder, rx in _COMPILED:
        text = rx.sub(placeholder, text)
    return text
