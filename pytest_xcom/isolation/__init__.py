"""Isolation: the throwaway Airflow home, the metadata DB, mocked services, backend selection."""
