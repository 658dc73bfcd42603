"""The other half of the API fuzz (tests/test_schemathesis.py has the first and says what it
checks): a file of its own so that pytest-xdist runs the two halves on two workers at once."""
from __future__ import annotations

from tests.test_schemathesis import fuzz_half, fuzz_target, pytestmark  # noqa: F401  (the fixture, the skip)


def test_the_other_half_of_the_api_conforms_and_never_fails(app, fuzz_target):
    fuzz_half(app, fuzz_target, 1)
