"""The encoder loads only through the signed-model path: `models:/encoder@champion` of the platform's own project
`mlp-recommender`, its files verified against the manifest the registry signed, then deserialised.

`fetch_champion(settings, backend_url)` asks the backend (service token) for the champion's version, signed
statement, signature and files (`GET /api/recommender/encoder`; the backend does not vouch for them), writes the
files into a private folder under `$MLP_HOME/recommender/encoder/v<N>`, and verifies that folder with
`jupyter_mlp.signing.verify_model_dir` against the platform's public keys read here (`trusted_keys`), exactly as a
serving worker verifies its model. Only then `model.load` reads it (tensors only, `weights_only=True`).
`load_verified` re-verifies the folder at every load, so a file altered in the artifact store, on the way, or
in the local copy is refused with the reason in words (`EncoderRefused`), and nothing is deserialised.

`SignedEncoder` is the ranker the suggest route uses when `recommender_method` is `encoder`: the champion, picked
up again when the alias moves (checked at most every `refresh_s`); when there is no version or it is refused, the
fallback ranker (a baseline) ranks and `status` says why, which the suggestion's response carries.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping

log = logging.getLogger(__name__)

PROJECT = "mlp-recommender"
MODEL = "encoder"
ALIAS = "champion"
ENCODER_PATH = "/api/recommender/encoder"


class EncoderRefused(Exception):
    """The encoder must not be used; the message says why (no version, not signed, not what was signed)."""


def trusted_keys(settings: Any) -> dict[str, bytes]:
    """The platform's trusted public keys, from this machine's `$MLP_HOME/keys` (never from the backend's answer):
    `model-signing.pub` and `trusted/*.pub`; a signer named by `signer` (a KMS) gives its own. Nothing is created."""
    from jupyter_mlp.signing import key_id, make_signer

    spec = getattr(settings, "signer", "file")
    if spec and spec != "file":
        return make_signer(settings.home, spec).public_keys()
    folder = settings.home / "keys"
    out: dict[str, bytes] = {}
    for pub in [folder / "model-signing.pub", *sorted((folder / "trusted").glob("*.pub"))]:
        if pub.is_file():
            raw = base64.b64decode(pub.read_text().strip())
            out[key_id(raw)] = raw
    return out


def load_verified(folder: Path, statement: dict[str, Any] | None, signature: str | None, trusted: dict[str, bytes],
                  version: int, device: str = "cpu") -> Any:
    """Verify `folder` against the signed statement, then (and only then) load the encoder from it."""
    from jupyter_mlp.signing import VerificationError, verify_model_dir

    from .model import load

    try:
        verify_model_dir(folder, statement, signature, trusted, project=PROJECT, model=MODEL, version=version)
    except VerificationError as e:
        raise EncoderRefused(f"{MODEL} version {version} of {PROJECT} refused: {e}") from None
    return load(folder, device=device)


def _service_token(settings: Any) -> str:
    from .. import auth

    return auth.service_token(settings)


def fetch_champion(settings: Any, backend_url: str, *, device: str = "cpu", timeout: float = 120.0,
                   known: int | None = None) -> tuple[Any, int]:
    """(the verified, loaded encoder, its version); EncoderRefused when there is none or it does not verify.
    `known`: the version already loaded; when it is still the champion, (None, it) without a download."""
    import httpx

    try:
        r = httpx.get(f"{backend_url.rstrip('/')}{ENCODER_PATH}", timeout=timeout,
                      params={"known": known} if known is not None else None,
                      headers={"Authorization": f"Bearer {_service_token(settings)}"})
    except httpx.HTTPError as e:
        raise EncoderRefused(f"the backend at {backend_url} cannot be reached: {e}") from e
    if r.status_code != 200:
        try:
            message = r.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = r.text[:300]
        raise EncoderRefused(f"no {MODEL}@{ALIAS} to load ({r.status_code}): {message}")
    body = r.json()
    version = int(body["version"])
    if known is not None and body.get("unchanged") and version == known:
        return None, version
    statement = json.loads(body["statement"]) if body.get("statement") else None
    folder = settings.home / "recommender" / "encoder" / f"v{version}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    for rel, data in body.get("files", {}).items():
        parts = rel.split("/")
        if rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise EncoderRefused(f"{MODEL} version {version} names a file that is not plain: {rel!r}")
        target = folder.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(data))
    os.chmod(folder, 0o700)
    return load_verified(folder, statement, body.get("signature"), trusted_keys(settings), version, device), version


class SignedEncoder:
    """A ranker: the signed champion encoder, else `fallback` (named `fallback_name`), with `status` saying which."""

    def __init__(self, settings: Any, backend_url: Callable[[Any], str | None], fallback: Any, fallback_name: str,
                 *, refresh_s: float = 300.0, device: str = "cpu"):
        self.settings, self._url, self.fallback, self.fallback_name = settings, backend_url, fallback, fallback_name
        self.refresh_s, self.device = refresh_s, device
        self._model: Any = None
        self._version: int | None = None
        self._error: str | None = None
        self._checked = -1e18
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < self.refresh_s:
            return
        self._checked = now
        url = self._url(self.settings)
        if url is None:
            self._error = "the backend is not running and backend_url is unset"
            return
        try:
            held = self._version if self._model is not None else None
            model, self._version = fetch_champion(self.settings, url, device=self.device, known=held)
            self._model = model if model is not None else self._model  # None: the champion did not move
            self._error = None
        except EncoderRefused as e:
            log.warning("recommender: %s; ranking with %s", e, self.fallback_name)
            self._model, self._version, self._error = None, None, str(e)

    @property
    def status(self) -> dict[str, Any]:
        """What ranks: {"method": "encoder", "version", "model"} or the fallback with the reason."""
        with self._lock:
            self._refresh()
            if self._model is not None:
                return {"method": "encoder", "model": f"models:/{MODEL}@{ALIAS}", "project": PROJECT,
                        "version": self._version, "signed": True}
            return {"method": self.fallback_name, "requested": "encoder", "fallback": True, "reason": self._error}

    def rank(self, meta: Mapping[str, float], task: str) -> list[tuple[str, float]]:
        with self._lock:
            self._refresh()
            model = self._model
        if model is None:
            return self.fallback.rank(meta, task)
        return model.rank(meta, task)
