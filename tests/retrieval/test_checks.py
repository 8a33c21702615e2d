"""The value checks shared by retrieval.config and studies.spec."""

import math

import pytest

from retrieval.checks import float_from_string, is_int, is_integral, is_number, is_real, require


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
