"""AWS credentials and SigV4 request signing for Bedrock, with botocore (imported here, lazily: a gateway without a
Bedrock model never loads it).

Credentials come from the config (an access key pair, optionally with a session token), else from the standard AWS
chain of a botocore session (``aws_profile_name`` picks a profile): environment variables, the shared credentials
and config files, SSO, container and instance metadata... Each request is signed with the credentials' current frozen
copy, so refreshable credentials (assumed roles, SSO, instance roles) stay valid; a refresh that is due runs in a
thread, not on the event loop.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

SERVICE = "bedrock"
"""The SigV4 signing name of Bedrock Runtime (its endpoint prefix is ``bedrock-runtime``)."""


class BedrockSetupError(ValueError):
    """The Bedrock deployment cannot be set up (no credentials, no region, an unknown profile...)."""


class SigV4Signer:
    """Signs POST requests for one region with botocore's ``SigV4Auth``."""

    def __init__(self, credentials: Any, region: str) -> None:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import RefreshableCredentials

        self.credentials = credentials
        self.region = region
        self._auth_cls = SigV4Auth
        self._request_cls = AWSRequest
        self._refreshable = isinstance(credentials, RefreshableCredentials)

    async def frozen(self) -> Any:
        """The credentials to sign with now (refreshed in a thread when they are about to expire)."""
        if self._refreshable and self.credentials.refresh_needed():
            return await asyncio.to_thread(self.credentials.get_frozen_credentials)
        return self.credentials.get_frozen_credentials()

    def sign(self, frozen: Any, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        """``headers`` plus ``X-Amz-Date``, ``Authorization`` (and ``X-Amz-Security-Token``) for POST ``url``."""
        request = self._request_cls(method="POST", url=url, data=body, headers=headers)
        self._auth_cls(frozen, SERVICE, self.region).add_auth(request)
        return dict(request.headers.items())

    async def headers(self, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        return self.sign(await self.frozen(), url, body, headers)


def make_signer(
    *,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    session_token: str | None = None,
    profile_name: str | None = None,
    region_name: str | None = None,
) -> SigV4Signer:
    """The signer for explicit keys, else for the AWS chain's credentials; :class:`BedrockSetupError` if there are
    none. The region is ``region_name``, else the chain's (``AWS_REGION``, ``AWS_DEFAULT_REGION``, the profile)."""
    import botocore.session
    from botocore.credentials import Credentials
    from botocore.exceptions import BotoCoreError

    if bool(access_key_id) != bool(secret_access_key):
        raise BedrockSetupError("aws_access_key_id and aws_secret_access_key go together (one of them is empty)")
    try:
        session = botocore.session.Session(profile=profile_name)
        if access_key_id:
            credentials: Any = Credentials(access_key_id, secret_access_key, session_token or None)
        else:
            credentials = session.get_credentials()
        region = region_name or os.environ.get("AWS_REGION") or session.get_config_variable("region")
    except BotoCoreError as exc:
        raise BedrockSetupError(f"cannot read AWS settings: {exc}") from None
    if credentials is None:
        raise BedrockSetupError(
            "no AWS credentials found: set aws_access_key_id and aws_secret_access_key (or aws_profile_name) on the "
            "model, or provide them the standard AWS way (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
            "~/.aws/credentials, an instance or container role)"
        )
    if not region:
        raise BedrockSetupError("no AWS region: set aws_region_name on the model (or AWS_REGION / AWS_DEFAULT_REGION)")
    return SigV4Signer(credentials, str(region))
