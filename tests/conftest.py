"""Every shared fixture lives in the support package (tests/support/); this only registers it."""

pytest_plugins = [
    "tests.support.fixtures",
    "tests.support.api",
    "tests.support.faults",
    "tests.support.desk_clock",
]
