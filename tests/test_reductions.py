"""reductions.py: the fast row max, row sum and column sum give numpy's own results."""
import numpy as np
import pytest

from tinygrad_sm.reductions import column_sum, row_max, row_sum


@pytest.mark.parametrize("rows", [1, 32, 256])
@pytest.mark.parametrize("columns", [1, 10, 32, 33, 100])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_fast_reductions_equal_numpys(rows, columns, dtype, order, rng):
    """Both sides of the 32-column switch, both layouts (a transposed view arrives as F)."""
    a = np.asarray(rng.normal(size=(rows, columns)), dtype=dtype, order=order)
    assert row_max(a).shape == (rows, 1) and row_sum(a).shape == (rows, 1)
    np.testing.assert_array_equal(row_max(a), a.max(axis=1, keepdims=True))
    tolerance = 1e-5 if dtype == np.float32 else 1e-12  # a different order of additions
    np.testing.assert_allclose(row_sum(a), a.sum(axis=1, keepdims=True), rtol=tolerance, atol=tolerance)
    assert column_sum(a).shape == (columns,)
    np.testing.assert_allclose(column_sum(a), a.sum(axis=0), rtol=tolerance, atol=tolerance)
    assert row_sum(a).dtype == column_sum(a).dtype == a.dtype


@pytest.mark.parametrize("columns", [10, 100])
def test_nan_and_inf_reach_the_rows_they_are_in(columns):
    a = np.zeros((4, columns))
    a[1, 3], a[2, 5], a[3, 7] = np.nan, np.inf, -np.inf
    maxima, sums = row_max(a)[:, 0], row_sum(a)[:, 0]
    assert maxima[0] == 0 and np.isnan(maxima[1]) and maxima[2] == np.inf and maxima[3] == 0
    assert sums[0] == 0 and np.isnan(sums[1]) and sums[2] == np.inf and sums[3] == -np.inf
    totals = column_sum(a)
    assert np.isnan(totals[3]) and totals[5] == np.inf and totals[7] == -np.inf and totals[0] == 0


def test_max_of_rows_without_columns_is_an_error_as_in_numpy():
    with pytest.raises(ValueError):
        row_max(np.zeros((3, 0)))


@pytest.mark.parametrize("dtype", [np.float16, np.int64])
def test_other_dtypes_are_summed_by_numpy_itself(dtype):
    """float16 would add up in float16 in a product with ones; integers keep integer sums."""
    a = (np.arange(64 * 10).reshape(64, 10) % 7).astype(dtype)  # sums stay exact in float16
    assert row_sum(a).dtype == column_sum(a).dtype == a.sum(axis=0).dtype
    np.testing.assert_array_equal(row_sum(a), a.sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(column_sum(a), a.sum(axis=0))
