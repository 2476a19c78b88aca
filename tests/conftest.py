"""Shared by every suite: the fixture modules in ``tests/fixtures`` get pytest's
assert rewriting, whichever test module imports them first."""

import pytest

pytest.register_assert_rewrite("tests.fixtures")
