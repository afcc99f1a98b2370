"""OAuth access tokens for Vertex AI from google-auth credentials (a service-account JSON file, or Application Default
Credentials). google-auth is imported here only, when a ``provider: vertex`` model is configured.

google-auth's refresh is blocking HTTP (it signs a JWT and posts it to the credentials' ``token_uri``), so it runs in
a worker thread, one refresh at a time, and only when the token is missing or about to expire (google-auth's
``valid`` is false from a few minutes before the expiry on): requests in between reuse the cached token.
"""

from __future__ import annotations

import asyncio
from typing import Any

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


class CredentialsError(ValueError):
    """The credentials cannot be loaded (a startup error: the gateway names the model)."""


def load_credentials(path: str | None) -> tuple[Any, str | None]:
    """``(credentials, project id or None)`` from a service-account JSON file, or from Application Default
    Credentials (``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's user credentials, the metadata server) when ``path`` is
    None."""
    try:
        import google.auth
        from google.auth.exceptions import GoogleAuthError
        from google.oauth2 import service_account
    except ImportError as exc:  # pragma: no cover - google-auth is a dependency
        raise CredentialsError(f"provider vertex needs the google-auth package ({exc})") from None
    try:
        if path is None:
            creds, project = google.auth.default(scopes=SCOPES)
        else:
            creds = service_account.Credentials.from_service_account_file(path, scopes=SCOPES)  # type: ignore[no-untyped-call]
            project = creds.project_id
        return creds, project
    except GoogleAuthError as exc:
        where = f"vertex_credentials {path}" if path else "Application Default Credentials"
        raise CredentialsError(f"cannot load {where}: {' '.join(str(exc).split())}") from None
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"cannot load vertex_credentials {path}: {exc}") from None


class TokenSource:
    """The current access token of ``credentials``, refreshed in a thread when it is missing or expiring."""

    def __init__(self, credentials: Any) -> None:
        self.credentials = credentials
        self.refreshes = 0
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._request: Any = None

    def _refresh(self) -> None:
        if self._request is None:
            from google.auth.transport.requests import Request

            self._request = Request()
        self.credentials.refresh(self._request)
        self.refreshes += 1

    def invalidate(self) -> None:
        """Forget the token (the upstream refused it): the next request fetches a new one."""
        self.credentials.token = None

    async def token(self) -> str:
        """A valid access token; google-auth's errors (``RefreshError``, ``TransportError``) propagate."""
        creds = self.credentials
        if creds.valid and creds.token:
            return str(creds.token)
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:  # a lock belongs to one event loop
            self._lock, self._loop = asyncio.Lock(), loop
        async with self._lock:
            if not (creds.valid and creds.token):  # another request may have refreshed it meanwhile
                await asyncio.to_thread(self._refresh)
        return str(creds.token)
