"""Checks over a recorded run: the rules, the ``assert_*`` functions, and the suite-wide policy."""
