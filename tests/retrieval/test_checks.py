"""The one validator shared by retrieval.config and studies.spec (retrieval.checks)."""

import math

import pytest

from typing import Literal

from retrieval.checks import (boolean, check_pattern, coerce, float_from_string, integer, is_int, is_integral,
                              is_number, is_real, number, one_of, require, string)


def test_predicates_refuse_bools_and_tell_ints_reals_and_finite_numbers_apart():
    assert [is_int(v) for v in (3, -1, True, 3.0, "3", None)] == [True, True, False, False, False, False]
    assert [is_integral(v) for v in (3, 3.0, 3.5, False, math.inf)] == [True, True, False, False, False]
    assert [is_real(v) for v in (1, 0.5, math.nan, math.inf, True, "1")] == [True, True, True, True, False, False]
    assert [is_number(v) for v in (1, 0.5, math.nan, -math.inf, False, None)] == [True, True, False, False, False,
                                                                                 False]


def test_float_from_string_reads_yaml_1_1_exponents_only_from_strings():
    assert float_from_string("1e-5") == 1e-5 and float_from_string(" 2 ") == 2.0
    assert float_from_string("abc") is None and float_from_string(1) is None and float_from_string(None) is None


def test_require_raises_the_callers_error_with_the_key_first():
    class MyError(ValueError):
        pass

    require(True, "a.b", "never")
    with pytest.raises(MyError, match=r"^a\.b: must be > 0$"):
        require(False, "a.b", "must be > 0", MyError)
    with pytest.raises(ValueError, match=r"^k: bad$"):
        require(False, "k", "bad")


class MyError(ValueError):
    pass


def test_one_value_checks_convert_what_the_input_formats_allow_and_name_the_key():
    assert boolean(False, "k", MyError) is False and integer(2.0, "k", MyError) == 2 and integer(3, "k") == 3
    assert number("1e-5", "k") == 1e-5 and number(2, "k") == 2 and string("x", "k") == "x"
    assert number(math.inf, "k") == math.inf and one_of("b", ("a", "b"), "k") == "b"
    for check, value, message in [(boolean, 1, "expected true/false, got 1"),
                                  (integer, 2.5, "expected an integer, got 2.5"),
                                  (integer, True, "expected an integer, got True"),
                                  (number, True, "expected a number, got True"),
                                  (string, 3, "expected a string, got 3")]:
        with pytest.raises(MyError, match=rf"^a\.b: {message}$"):
            check(value, "a.b", MyError)
    with pytest.raises(MyError, match=r"^k: expected a number, got inf$"):
        number(math.inf, "k", MyError, finite=True)
    with pytest.raises(MyError, match=r"^k: 'c' is not one of 'a', 'b'$"):
        one_of("c", ("a", "b"), "k", MyError)


def test_coerce_follows_the_annotation():
    assert coerce(tuple[str, ...], "clotho, audiocaps", "k") == ("clotho", "audiocaps")
    assert coerce(int | None, None, "k") is None and coerce(float | None, 3, "k") == 3.0
    assert coerce(Literal["cls", "mean"], "mean", "k") == "mean"
    with pytest.raises(MyError, match=r"^k\[1\]: expected an integer, got 'x'$"):
        coerce(tuple[int, ...], [1, "x"], "k", MyError)
    with pytest.raises(MyError, match=r"^k: must not be null$"):
        coerce(int | str, None, "k", MyError)
    with pytest.raises(MyError, match=r"^k: unsupported type"):
        coerce(dict, {"a": 1}, "k", MyError)
    import dataclasses

    @dataclasses.dataclass
    class Section:
        x: int = 0

    assert coerce(Section, {"x": 1}, "s", nested=lambda tp, v, key: tp(**v)) == Section(1)


def test_check_pattern_knows_its_placeholders():
    check_pattern("audio/{split}/{id}.wav", "k", ("split", "id"), ("id",), MyError)
    with pytest.raises(MyError, match=r"^k: unknown placeholder \{x\}"):
        check_pattern("{x}/{id}", "k", ("split", "id"), ("id",), MyError)
    with pytest.raises(MyError, match=r"^k: must contain \{id\}$"):
        check_pattern("{split}", "k", ("split", "id"), ("id",), MyError)
    with pytest.raises(MyError, match=r"^k: '\{' is not a valid pattern"):
        check_pattern("{", "k", ("id",), (), MyError)
