"""Size limits: one parser for ints, units and presets, with a clear error for anything else."""

import pytest
from pytest_xcom.sizes import PRESETS, SizeError, human, parse_size, unit_system


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (49_344, 49_344),
        ("0", 0),
        ("512", 512),
        ("512B", 512),
        ("48KB", 48_000),
        ("48kb", 48_000),
        ("64KiB", 65_536),
        ("64kib", 65_536),
        ("1.5MB", 1_500_000),
        ("1MiB", 1_048_576),
        ("2 GB", 2_000_000_000),
        (" 10 kb ", 10_000),
        ("airflow", 49_344),
        ("MySQL", 65_535),
        ("postgres", 268_435_455),
        ("sqlite", 1_000_000_000),
    ],
)
def test_sizes_mean_what_they_say(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["48XB", "KB", "-1", "1..5MB", "", "48 K B", "oracle"])
def test_unknown_sizes_are_a_clear_error(bad):
    with pytest.raises(SizeError) as info:
        parse_size(bad)
    message = str(info.value)
    assert repr(bad) in message
    assert "'48KB', '64KiB', '1.5MB'" in message and "'airflow', 'mysql', 'postgres', 'sqlite'" in message


@pytest.mark.parametrize("bad", [-5, 1.5, None, True, [48]])
def test_non_string_non_int_limits_are_rejected(bad):
    with pytest.raises(SizeError):
        parse_size(bad)


def test_presets_are_the_documented_numbers():
    assert PRESETS == {"airflow": 49_344, "mysql": 65_535, "postgres": 268_435_455, "sqlite": 1_000_000_000}


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (49_344, "48.2 KiB"), (3 * 1024**2, "3.0 MiB")]
)
def test_human_sizes(size, text):
    assert human(size) == text



@pytest.mark.parametrize(
    ("size", "text"), [(999, "999 B"), (1000, "1.0 KB"), (60_739, "60.7 KB"), (1_000_000, "1.0 MB"), (2 * 10**9, "2.0 GB")]
)
def test_human_sizes_in_decimal_units(size, text):
    assert human(size, "decimal") == text


@pytest.mark.parametrize(
    ("limit", "system"),
    [
        ("1MB", "decimal"),
        ("48kb", "decimal"),
        (" 2 GB ", "decimal"),
        ("sqlite", "decimal"),
        ("1MiB", "binary"),
        ("64KiB", "binary"),
        ("airflow", "binary"),
        ("mysql", "binary"),
        (49_344, "binary"),
        ("512", "binary"),
        ("512B", "binary"),
    ],
)
def test_a_limit_is_shown_in_the_unit_system_it_was_written_in(limit, system):
    assert unit_system(limit) == system, f"{limit!r} was written in {system} units"
