"""The admin token: ``ADMIN_TOKEN``, or one generated once into ``DATA_DIR/admin_token`` (mode 0600)."""
from __future__ import annotations

import os
import secrets
import time

from application.settings import ADMIN_TOKEN_MIN_CHARS, SettingsError


def read_admin_token(settings) -> str | None:
    if settings.admin_token:
        return settings.admin_token
    try:
        token = settings.admin_token_file.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
    if token is not None and len(token) < ADMIN_TOKEN_MIN_CHARS:
        raise SettingsError(
            f"The admin token in {settings.admin_token_file} is {len(token)} characters long; it must be at least "
            f"{ADMIN_TOKEN_MIN_CHARS}. Delete the file (`docstune serve` writes a new one) or write a longer token."
        )
    return token


def ensure_admin_token(settings) -> tuple[str, bool]:
    """The admin token and whether it was created just now (the only time it may be printed)."""
    token = read_admin_token(settings)
    if token:
        return token, False
    path = settings.admin_token_file
    settings.create_data_dir()
    token = secrets.token_urlsafe(32)
    try:
        # O_EXCL: when two processes start at once, exactly one writes the token
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(100):  # the other process may not have written it yet
            token = read_admin_token(settings)
            if token:
                return token, False
            time.sleep(0.02)
        raise

    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token, True
