"""Detached Ed25519 signatures for the PDFs Attest generates.

The signing key lives in the warehouse home (``keys/report-signing.ed25519``, created on first use,
mode 0600); its public half is exportable so an auditor can verify without access to the home.
A signature file ``<report>.pdf.sig.json`` carries the PDF's SHA-256, the manifest's SHA-256, the
report id, the key id and the generation parameters (so ``attest verify --recompute`` can
regenerate the report), and an Ed25519 signature over a fixed text that binds all of them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_FILE = "report-signing.ed25519"
SIGNATURE_FORMAT = "attest-signature/1"
MAX_SIGNATURE_BYTES = 1 << 20


class SignatureError(ValueError):
    """A signature file that cannot be read or does not verify."""


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_or_create_key(keys_dir: Path) -> Ed25519PrivateKey:
    """The home's report-signing key; created (0600) when absent."""
    path = keys_dir / KEY_FILE
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise SignatureError(f"{path} is not an Ed25519 private key")
        return key
    keys_dir.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    # Another process may have created it meanwhile: keep the first key, never replace one.
    try:
        os.link(tmp, path)
    except FileExistsError:
        tmp.unlink()
        return load_or_create_key(keys_dir)
    tmp.unlink()
    return key


def public_key_pem(keys_dir: Path) -> str:
    """The public key, PEM (SubjectPublicKeyInfo), to hand to whoever verifies."""
    public = load_or_create_key(keys_dir).public_key()
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as e:
        raise SignatureError(f"not a PEM public key: {e}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError("the public key is not an Ed25519 key")
    return key


def _payload(report_id: str, pdf_sha256: str, manifest_sha256: str, generation: dict) -> bytes:
    canon = json.dumps(generation, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (
        f"{SIGNATURE_FORMAT}\nreport_id={report_id}\npdf_sha256={pdf_sha256}\n"
        f"manifest_sha256={manifest_sha256}\ngeneration_sha256="
        f"{hashlib.sha256(canon.encode()).hexdigest()}\n"
    ).encode()


def sign(
    key: Ed25519PrivateKey,
    *,
    pdf: bytes,
    report_id: str,
    manifest_sha256: str,
    generation: dict[str, Any],
) -> dict[str, Any]:
    """The signature document for a PDF (write it as JSON next to the PDF)."""
    pdf_sha = hashlib.sha256(pdf).hexdigest()
    signature = key.sign(_payload(report_id, pdf_sha, manifest_sha256, generation))
    public = key.public_key()
    return {
        "format": SIGNATURE_FORMAT,
        "algorithm": "Ed25519",
        "key_id": key_id(public),
        "public_key": base64.b64encode(
            public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        ).decode(),
        "report_id": report_id,
        "pdf_sha256": pdf_sha,
        "manifest_sha256": manifest_sha256,
        "generation": generation,
        "signature": base64.b64encode(signature).decode(),
    }


@dataclass(frozen=True)
class Verification:
    ok: bool
    problems: tuple[str, ...]
    signature: dict[str, Any]
    trusted_key: bool  # verified with a key the verifier supplied, not the one in the file

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "report_id": self.signature.get("report_id"),
            "key_id": self.signature.get("key_id"),
            "trusted_key": self.trusted_key,
            "pdf_sha256": self.signature.get("pdf_sha256"),
            "manifest_sha256": self.signature.get("manifest_sha256"),
        }


def read_signature(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_SIGNATURE_BYTES:
            raise SignatureError(f"{path.name} is too large to be a signature file")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SignatureError(f"no signature file {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SignatureError(f"{path.name} is not a signature file: {e}") from None
    need = ("format", "report_id", "pdf_sha256", "manifest_sha256", "generation", "signature")
    if not isinstance(doc, dict) or doc.get("format") != SIGNATURE_FORMAT:
        raise SignatureError(f"{path.name} is not an {SIGNATURE_FORMAT} signature file")
    missing = [k for k in need if k not in doc]
    if missing:
        raise SignatureError(f"{path.name} lacks {', '.join(missing)}")
    return doc


def verify(
    pdf: bytes, signature: dict[str, Any], public: Ed25519PublicKey | None = None
) -> Verification:
    """Check the PDF bytes against the signature document.

    With ``public`` (the home's key or one the auditor was given) the signer is established;
    without it the key embedded in the file is used, which proves integrity but not origin.
    """
    problems = []
    trusted = public is not None
    if public is None:
        try:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey as Pub

            public = Pub.from_public_bytes(base64.b64decode(signature.get("public_key", "")))
        except (ValueError, TypeError):
            return Verification(False, ("the embedded public key is unreadable",), signature, False)
    elif signature.get("key_id") != key_id(public):
        problems.append(
            f"signed with key {signature.get('key_id')}, not the given key {key_id(public)}"
        )
    pdf_sha = hashlib.sha256(pdf).hexdigest()
    if pdf_sha != signature["pdf_sha256"]:
        problems.append("the PDF's SHA-256 differs from the signed one: the file was changed")
    try:
        raw = base64.b64decode(signature["signature"], validate=True)
        public.verify(
            raw,
            _payload(
                str(signature["report_id"]),
                str(signature["pdf_sha256"]),
                str(signature["manifest_sha256"]),
                signature["generation"],
            ),
        )
    except (InvalidSignature, ValueError, TypeError):
        problems.append("the Ed25519 signature does not verify")
    return Verification(not problems, tuple(problems), signature, trusted)


__all__ = [
    "SignatureError",
    "Verification",
    "key_id",
    "load_or_create_key",
    "load_public_key",
    "public_key_pem",
    "read_signature",
    "sign",
    "verify",
]
