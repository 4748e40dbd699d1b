import pytest

from bot.domain.sizes import format_file_size, parse_file_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250 MB", 250_000_000),
        ("1.2GB", 1_200_000_000),
        ("3 GiB", 3 * 1024**3),
        ("800k", 800_000),
        ("800 KiB", 800 * 1024),
        ("1,5 gb", 1_500_000_000),
        ("4096", 4096),
        ("12 bytes", 12),
        ("  2 TB ", 2 * 1000**4),
    ],
)
def test_sizes_as_clients_type_them(text: str, expected: int) -> None:
    assert parse_file_size(text) == expected


@pytest.mark.parametrize("text", ["abc", "", "MB", "12 parsecs", "1.2.3 GB", "-5 MB", "99999 PB"])
def test_text_that_is_not_a_size_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_file_size(text)


@pytest.mark.parametrize(
    ("size", "shown"), [(512, "512 B"), (250_000_000, "250 MB"), (1_200_000_000, "1.2 GB"), (3 * 1024**3, "3.22 GB")]
)
def test_sizes_are_shown_in_short_decimal_units(size: int, shown: str) -> None:
    assert format_file_size(size) == shown
