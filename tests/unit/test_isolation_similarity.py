"""The Python trigram fallback must read blockers the way pg_trgm does (expected values from PostgreSQL 15)."""

import pytest

from bot.domain.isolation import SIMILAR_BLOCKER, text_similarity, trigrams

BLOCKER = "Uploading the 250 MB exhibit bundle stops at 99% with 'Network error'."


def test_a_word_is_padded_with_two_spaces_in_front_and_one_behind() -> None:
    assert trigrams("cat") == {"  c", " ca", "cat", "at "}  # show_trgm('cat')


def test_words_are_padded_separately_and_no_trigram_spans_two_words() -> None:
    assert trigrams("foo-bar") == {"  f", " fo", "foo", "oo ", "  b", " ba", "bar", "ar "}  # show_trgm('foo-bar')
    assert trigrams("a b") == {"  a", " a ", "  b", " b "}


def test_trigrams_ignore_case() -> None:
    assert trigrams("Exhibit UPLOAD") == trigrams("exhibit upload")


def test_digits_are_word_characters_and_punctuation_separates_words() -> None:
    assert trigrams("99%") == {"  9", " 99", "99 "}
    assert trigrams("snake_case, again!") == trigrams("snake case again")


def test_letters_outside_ascii_belong_to_the_word() -> None:
    assert {"afé", "fé "} <= trigrams("café")
    assert "caf " not in trigrams("café")
    assert trigrams("Ünïcode ÄÖ") == {"  ü", " ün", "ünï", "nïc", "ïco", "cod", "ode", "de ", "  ä", " äö", "äö "}


def test_repeated_trigrams_count_once() -> None:
    assert trigrams("aaaa") == {"  a", " aa", "aaa", "aa "}  # show_trgm('aaaa')
    assert text_similarity("ab", "ab ab") == 1.0


def test_text_without_words_has_no_trigrams() -> None:
    assert trigrams("") == set()
    assert trigrams(" -- !!! ") == set()


def test_identical_text_is_fully_similar_whatever_the_case_or_punctuation() -> None:
    assert text_similarity(BLOCKER, BLOCKER) == 1.0
    assert text_similarity("Exhibit upload fails at 99%", "exhibit UPLOAD fails at 99 %") == 1.0


def test_empty_or_wordless_text_is_similar_to_nothing() -> None:
    assert text_similarity("", "") == 0.0
    assert text_similarity("", BLOCKER) == 0.0
    assert text_similarity(BLOCKER, "") == 0.0
    assert text_similarity("!!!", "!!!") == 0.0  # similarity('!!!', '!!!') is 0 in pg_trgm too


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("word", "two words", 0.36363637),  # the pg_trgm documentation's example
        ("café", "cafe", 0.42857143),
        ("cat", "dog", 0.0),
        (BLOCKER, "Uploading a 400 MB exhibit bundle stops at 98% with a network error", 0.7671233),
        (BLOCKER, "Invoices stuck in pending approval; the approve button does nothing.", 0.11926606),
    ],
)
def test_similarity_is_the_share_of_trigrams_in_common_as_pg_trgm_computes_it(
    left: str, right: str, expected: float
) -> None:
    assert text_similarity(left, right) == pytest.approx(expected, abs=1e-6)
    assert text_similarity(right, left) == text_similarity(left, right)


def test_a_reworded_blocker_is_similar_and_an_unrelated_one_is_not() -> None:
    reworded = "Exhibit bundle upload (250MB) stops at 99%: network error"
    unrelated = "SSO redirect returns 'SAML response invalid' for everyone at the firm"
    assert text_similarity(BLOCKER, reworded) >= SIMILAR_BLOCKER
    assert text_similarity(BLOCKER, unrelated) < 0.1
