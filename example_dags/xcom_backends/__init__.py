"""Custom XCom backends as teams write them: pytest-xcom runs them unchanged against fakes."""
