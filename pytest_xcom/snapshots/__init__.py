"""XCom snapshots: run manifests kept as JSON beside the test module, compared, updated, diffed."""
