"""``pytest-xcom watch``: re-run tests after an edit from a warm process (api.md section 12).

Three processes, so that the one that forks stays single-threaded:

- the supervisor (``supervisor``): the CLI process; it watches files (watchfiles runs a thread of
  its own), decides when to run and when to restart, and owns Ctrl-C;
- the warm process (``warm``): imports pytest, the plugins and Airflow, builds what the first
  ``dag.test()`` builds, and never imports user code; it only waits for a "run" and forks;
- a child per run (``child``): forked from the warm process, it runs ``pytest.main(args)`` and exits.

``learn`` runs a DAG of ours in a throwaway fork to learn what a run imports; ``forksafety`` says
what would make a fork unsafe; ``triggers`` says when the warm process is stale; ``changes``
watches for edits; ``cli`` parses ``pytest-xcom watch``'s own options (the rest goes to pytest).
"""
