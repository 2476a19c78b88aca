"""AWS KMS master keys (boto3), as sops keeps them.

A KMS key wraps a data key by ``Encrypt`` (the entry's ``enc`` is the
ciphertext blob in base64) and unwraps it by ``Decrypt``, with whatever AWS
credentials the process has (the usual chain: ``AWS_PROFILE``, the
environment, an instance role). ``AWS_ENDPOINT_URL_KMS`` or
``AWS_ENDPOINT_URL`` point it at another endpoint, as for sops. boto3 is
imported only when a KMS key is used.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dockyard.errors import SecretsError

KIND = "kms"
TIMEOUT = 10.0
"""Seconds a KMS call may take (connecting and reading) before it counts as unreachable."""


def _client(arn: str) -> Any:
    import boto3
    import botocore.config

    region = arn.split(":")[3] if arn.count(":") >= 5 else None
    config = botocore.config.Config(
        connect_timeout=TIMEOUT, read_timeout=TIMEOUT, retries={"max_attempts": 2}
    )
    return boto3.client("kms", region_name=region or None, config=config)


def _failure(arn: str, doing: str, error: Exception) -> SecretsError:
    import botocore.exceptions

    if isinstance(error, botocore.exceptions.EndpointConnectionError | ConnectionError):
        return SecretsError(
            f"KMS is unreachable ({doing} with {arn}): {error}",
            hint="check the network and AWS_ENDPOINT_URL; an age identity of a reader also works",
            code="DY703",
        )
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return SecretsError(
            f"no AWS credentials to use {arn}",
            hint="set AWS_PROFILE, or the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY pair",
            code="DY703",
        )
    return SecretsError(f"KMS refused {doing} with {arn}: {error}", code="DY703")


@dataclass(frozen=True)
class KmsKey:
    """One KMS key a file is encrypted for, by its ARN."""

    arn: str
    kind: str = KIND

    def __post_init__(self) -> None:
        if not self.arn.startswith("arn:") or self.arn.count(":") < 5:
            raise SecretsError(
                f"{self.arn!r} is not a KMS key ARN",
                hint="arn:aws:kms:REGION:ACCOUNT:key/ID (or alias/NAME)",
            )

    @property
    def id(self) -> str:
        return self.arn

    def wrap(self, data_key: bytes) -> dict[str, str]:
        import botocore.exceptions

        try:
            answer = _client(self.arn).encrypt(KeyId=self.arn, Plaintext=data_key)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise _failure(self.arn, "encrypting", e) from None
        return {
            "arn": self.arn,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "enc": base64.b64encode(answer["CiphertextBlob"]).decode(),
            "aws_profile": "",
        }


class KmsAccess:
    """Decrypting through KMS with this process's AWS credentials."""

    kind = KIND

    def unwrap(self, entry: Mapping[str, str]) -> bytes | None:
        import botocore.exceptions

        arn = str(entry.get("arn", ""))
        try:
            blob = base64.b64decode(str(entry.get("enc", "")), validate=True)
        except (binascii.Error, ValueError):
            return None
        try:
            answer = _client(arn).decrypt(CiphertextBlob=blob, KeyId=arn)
        except botocore.exceptions.ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in ("AccessDeniedException", "InvalidCiphertextException", "NotFoundException"):
                return None  # not ours to open
            raise _failure(arn, "decrypting", e) from None
        except botocore.exceptions.BotoCoreError as e:
            raise _failure(arn, "decrypting", e) from None
        return bytes(answer["Plaintext"])
