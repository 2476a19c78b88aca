"""Fixtures for the secrets tests: the local AWS fake for the KMS ones."""

from tests.fixtures.moto import kms_env, moto_server

__all__ = ["kms_env", "moto_server"]  # registered here as fixtures
