"""Tests for retrieval.metrics against a deliberately naive reference (python loops, stable sort)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from retrieval.metrics import (
    PADDED_RANK,
    QueryMetrics,
    average_precision_at_k,
    pad_relevant,
    query_metrics,
    query_metrics_chunked,
    relevant_ranks,
)

# ----------------------------------------------------------------------------------------------------------
# naive reference


def naive_order(row: list[float]) -> list[int]:
    """Item indices best first: sort by (-score, index)."""
    return sorted(range(len(row)), key=lambda i: (-row[i], i))


def naive_query(row: list[float], rel: list[int], ks, map_k):
    order = naive_order(row)
    rel_set = set(rel)
    best = math.inf
    hits = 0
    ap = 0.0
    for pos, item in enumerate(order, start=1):
        if item in rel_set:
            hits += 1
            best = min(best, pos)
            if pos <= map_k:
                ap += hits / pos
    ap = ap / len(rel_set) if rel_set else 0.0
    recall = {k: float(best <= k) for k in ks}
    return best, ap, recall


def naive_metrics(scores: np.ndarray, relevant: list[list[int]], ks=(1, 5, 10), map_k=10):
    ranks, aps, recalls = [], [], {k: [] for k in ks}
    for q, rel in enumerate(relevant):
        best, ap, rec = naive_query([float(x) for x in scores[q]], rel, ks, map_k)
        ranks.append(best)
        aps.append(ap)
        for k in ks:
            recalls[k].append(rec[k])
    return np.array(ranks, dtype=float), np.array(aps), {k: np.array(v) for k, v in recalls.items()}


def naive_ranks(scores: np.ndarray, relevant: list[list[int]]) -> list[list[int]]:
    out = []
    for q, rel in enumerate(relevant):
        order = naive_order([float(x) for x in scores[q]])
        out.append([order.index(j) + 1 for j in rel])
    return out


def random_case(seed: int, n_queries: int, n_items: int, max_rel: int, levels: int, p_empty: float = 0.1):
    """Integer-valued scores in [0, levels) -> many ties; relevant sets of size 0..max_rel."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, levels, size=(n_queries, n_items)).astype(np.float32)
    relevant = []
    for _ in range(n_queries):
        if rng.random() < p_empty:
            relevant.append([])
        else:
            size = int(rng.integers(1, min(max_rel, n_items) + 1))
            relevant.append([int(x) for x in rng.choice(n_items, size=size, replace=False)])
    return scores, relevant


def assert_same(m: QueryMetrics, ref, ks=(1, 5, 10)):
    rank, ap, recall = ref
    np.testing.assert_array_equal(m.rank, rank)
    np.testing.assert_allclose(m.ap, ap, rtol=0, atol=1e-12)
    assert set(m.recall) == set(ks)
    for k in ks:
        np.testing.assert_array_equal(m.recall[k], recall[k])


def assert_metrics_equal(a: QueryMetrics, b: QueryMetrics):
    np.testing.assert_array_equal(a.rank, b.rank)
    np.testing.assert_array_equal(a.ap, b.ap)
    assert a.recall.keys() == b.recall.keys()
    for k in a.recall:
        np.testing.assert_array_equal(a.recall[k], b.recall[k])
    assert a.map_k == b.map_k


# ----------------------------------------------------------------------------------------------------------
# hand-worked examples


def test_single_relevant_rank_3_gives_ap_one_third():
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.6]])
    m = query_metrics(scores, [[2]])
    assert m.rank.tolist() == [3.0]
    assert m.ap[0] == pytest.approx(1 / 3)
    assert {k: float(v[0]) for k, v in m.recall.items()} == {1: 0.0, 5: 1.0, 10: 1.0}


def test_two_relevant_at_positions_1_and_3():
    # order: item 1 (0.9), item 0 (0.5), item 3 (0.4), item 2 (0.1); relevant {1, 3} at positions 1 and 3
    scores = torch.tensor([[0.5, 0.9, 0.1, 0.4]])
    m = query_metrics(scores, [[3, 1]])
    assert m.rank.tolist() == [1.0]
    assert m.ap[0] == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert relevant_ranks(scores, torch.tensor([[3, 1]])).tolist() == [[3, 1]]


def test_ties_broken_by_lower_index_first():
    scores = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0]])
    ranks = relevant_ranks(scores, torch.tensor([[0, 1, 2, 3, 4]]))
    assert ranks.tolist() == [[1, 2, 3, 4, 5]]
    # a tied item with a lower index than the relevant one outranks it; a higher index does not
    scores = torch.tensor([[0.5, 0.7, 0.5, 0.5]])
    assert relevant_ranks(scores, torch.tensor([[2]])).tolist() == [[3]]
    assert relevant_ranks(scores, torch.tensor([[0]])).tolist() == [[2]]


def test_relevant_beyond_top_k_gives_zero_ap_but_finite_rank():
    scores = torch.arange(20, 0, -1, dtype=torch.float32).unsqueeze(0)  # item i at position i + 1
    m = query_metrics(scores, [[10]])  # position 11
    assert m.rank.tolist() == [11.0]
    assert m.ap.tolist() == [0.0]
    assert m.recall[10].tolist() == [0.0]
    m = query_metrics(scores, [[9]])  # position 10
    assert m.ap[0] == pytest.approx(0.1)
    assert m.recall[10].tolist() == [1.0]
    # AP divides by all relevant items, including those outside the top k
    m = query_metrics(scores, [[0, 15]])
    assert m.ap[0] == pytest.approx(0.5)


def test_query_without_relevant_item():
    scores = torch.tensor([[0.1, 0.2], [0.3, 0.4]])
    m = query_metrics(scores, [[], [1]])
    assert m.rank[0] == math.inf and m.rank[1] == 1.0
    assert m.ap.tolist() == [0.0, 1.0]
    assert all(m.recall[k].tolist() == [0.0, 1.0] for k in (1, 5, 10))
    s = m.summary()
    assert s["map10"] == pytest.approx(0.5)
    assert s["r1"] == pytest.approx(0.5)
    # rank statistics only over queries that have a relevant item
    assert s["median_rank"] == 1.0 and s["mean_rank"] == 1.0
    assert s["n_queries"] == 2


def test_no_query_has_a_relevant_item():
    m = query_metrics(torch.zeros(3, 4), [[], [], []])
    s = m.summary()
    assert s["map10"] == 0.0 and s["r10"] == 0.0
    assert math.isnan(s["median_rank"]) and math.isnan(s["mean_rank"])
    assert np.all(np.isinf(m.rank))


def test_summary_keys_follow_ks_and_map_k():
    scores = torch.tensor([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    m = query_metrics(scores, [[1], [0], [2]], ks=(2, 1), map_k=3)
    s = m.summary()
    assert list(s) == ["map3", "r1", "r2", "median_rank", "mean_rank", "n_queries"]
    # ranks 2, 3, 3
    assert m.rank.tolist() == [2.0, 3.0, 3.0]
    assert s["map3"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 3) / 3)
    assert s["r1"] == 0.0 and s["r2"] == pytest.approx(1 / 3)
    assert s["median_rank"] == 3.0 and s["mean_rank"] == pytest.approx(8 / 3)


def test_default_summary_keys():
    m = query_metrics(torch.rand(4, 12, generator=torch.Generator().manual_seed(0)), [[0], [1], [2], [3]])
    assert list(m.summary()) == ["map10", "r1", "r5", "r10", "median_rank", "mean_rank", "n_queries"]


def test_k_larger_than_number_of_items():
    scores = torch.tensor([[0.2, 0.1, 0.3]])
    m = query_metrics(scores, [[1]], ks=(1, 5, 10), map_k=10)
    assert m.rank.tolist() == [3.0]
    assert m.ap[0] == pytest.approx(1 / 3)
    assert m.recall[5].tolist() == [1.0] and m.recall[10].tolist() == [1.0]


def test_padded_entries_get_sentinel_rank():
    scores = torch.tensor([[0.1, 0.5, 0.3], [0.0, 0.0, 0.0]])
    ranks = relevant_ranks(scores, torch.tensor([[-1, 2], [1, -1]]))
    assert ranks.tolist() == [[PADDED_RANK, 2], [2, PADDED_RANK]]
    assert ranks.dtype == torch.long


def test_average_precision_helper():
    ranks = torch.tensor([[1, 3, PADDED_RANK], [2, 11, 12], [PADDED_RANK, PADDED_RANK, PADDED_RANK]])
    ap = average_precision_at_k(ranks, torch.tensor([2, 3, 0]), 10)
    assert ap.tolist() == pytest.approx([(1 + 2 / 3) / 2, (1 / 2) / 3, 0.0])


def test_pad_relevant():
    out = pad_relevant([[3], [], [1, 4, 2], 5])
    assert out.dtype == torch.long
    assert out.tolist() == [[3, -1, -1], [-1, -1, -1], [1, 4, 2], [5, -1, -1]]
    assert pad_relevant([[], []]).shape == (2, 1)
    assert pad_relevant([np.int64(2)]).tolist() == [[2]]


def test_relevant_as_tensor_and_1d():
    scores = torch.tensor([[0.1, 0.5, 0.3], [0.9, 0.0, 0.3]])
    a = query_metrics(scores, [[2], [1]])
    b = query_metrics(scores, torch.tensor([2, 1]))
    c = query_metrics(scores, torch.tensor([[-1, 2], [1, -1]]))
    d = query_metrics(scores.numpy(), np.array([[2], [1]]))
    for other in (b, c, d):
        assert_metrics_equal(a, other)


def test_query_metrics_result_is_read_only():
    m = query_metrics(torch.tensor([[1.0, 0.0]]), [[0]])
    with pytest.raises(ValueError):
        m.rank[0] = 5.0
    with pytest.raises(Exception):
        m.ap = np.zeros(1)  # frozen dataclass


# ----------------------------------------------------------------------------------------------------------
# against the naive reference


CASES = [
    # seed, Q, N, max relevant, score levels
    (0, 7, 5, 3, 3),  # N < 10: k larger than the number of items
    (1, 20, 9, 4, 2),  # almost everything tied
    (2, 33, 30, 5, 4),
    (3, 50, 17, 1, 1000),  # few ties, single relevant item
    (4, 64, 40, 6, 5),
    (5, 15, 1, 1, 2),  # single item
    (6, 40, 12, 12, 3),  # relevant set can be every item
]


@pytest.mark.parametrize("seed,n_q,n_items,max_rel,levels", CASES)
def test_matches_naive_reference(seed, n_q, n_items, max_rel, levels):
    scores, relevant = random_case(seed, n_q, n_items, max_rel, levels)
    ks = (1, 3, 5, 10, 50)
    ref = naive_metrics(scores, relevant, ks=ks, map_k=10)
    assert_same(query_metrics(torch.from_numpy(scores), relevant, ks=ks), ref, ks=ks)
    # numpy input and float64 give the same answer
    assert_same(query_metrics(scores.astype(np.float64), relevant, ks=ks), ref, ks=ks)


@pytest.mark.parametrize("seed,n_q,n_items,max_rel,levels", CASES)
@pytest.mark.parametrize("map_k", [1, 3, 10])
def test_map_k_matches_naive(seed, n_q, n_items, max_rel, levels, map_k):
    scores, relevant = random_case(seed + 100, n_q, n_items, max_rel, levels)
    ref = naive_metrics(scores, relevant, ks=(1,), map_k=map_k)
    m = query_metrics(scores, relevant, ks=(1,), map_k=map_k)
    np.testing.assert_allclose(m.ap, ref[1], rtol=0, atol=1e-12)
    assert f"map{map_k}" in m.summary()


@pytest.mark.parametrize("seed,n_q,n_items,max_rel,levels", CASES)
def test_relevant_ranks_match_naive(seed, n_q, n_items, max_rel, levels):
    scores, relevant = random_case(seed + 200, n_q, n_items, max_rel, levels)
    ranks = relevant_ranks(torch.from_numpy(scores), pad_relevant(relevant))
    expected = naive_ranks(scores, relevant)
    for q, rel in enumerate(relevant):
        got = ranks[q].tolist()
        assert got[: len(rel)] == expected[q]
        assert all(r == PADDED_RANK for r in got[len(rel):])
        # ranks are unique within a query
        assert len(set(got[: len(rel)])) == len(rel)


@pytest.mark.parametrize("seed,n_q,n_items,max_rel,levels", CASES)
def test_chunk_size_does_not_matter(seed, n_q, n_items, max_rel, levels):
    scores, relevant = random_case(seed + 300, n_q, n_items, max_rel, levels)
    t = torch.from_numpy(scores)
    results = [query_metrics(t, relevant, chunk_size=c) for c in (1, 3, 7, 10_000)]
    for other in results[1:]:
        assert_metrics_equal(results[0], other)
    assert results[0].summary() == results[-1].summary()


@pytest.mark.parametrize("seed,n_q,n_items,max_rel,levels", CASES)
@pytest.mark.parametrize("chunk", [1, 4, 1000])
def test_chunked_equals_query_metrics(seed, n_q, n_items, max_rel, levels, chunk):
    scores, relevant = random_case(seed + 400, n_q, n_items, max_rel, levels)
    t = torch.from_numpy(scores)
    full = query_metrics(t, relevant, ks=(1, 5, 10), map_k=10)
    chunks = ((s, t[s : s + chunk].clone()) for s in range(0, n_q, chunk))
    got = query_metrics_chunked(chunks, relevant, n_items, ks=(1, 5, 10), map_k=10)
    assert_metrics_equal(full, got)


def test_random_float_scores_with_injected_ties():
    g = torch.Generator().manual_seed(7)
    scores = torch.rand(25, 16, generator=g)
    scores[:, 4] = scores[:, 9]  # exact ties between items 4 and 9 in every row
    scores[::2, 1] = scores[::2, 0]
    relevant = [[9], [4, 9], [1], [0, 1, 2]] * 6 + [[]]
    ref = naive_metrics(scores.numpy(), relevant)
    assert_same(query_metrics(scores, relevant, chunk_size=4), ref)


def test_infinite_scores_are_ranked():
    scores = torch.tensor([[float("-inf"), 0.0, float("inf"), float("-inf")]])
    ranks = relevant_ranks(scores, torch.tensor([[0, 1, 2, 3]]))
    assert ranks.tolist() == [[3, 2, 1, 4]]


# ----------------------------------------------------------------------------------------------------------
# validation


def test_nan_scores_name_the_row():
    scores = torch.rand(6, 4)
    scores[4, 2] = float("nan")
    with pytest.raises(ValueError, match="row 4"):
        query_metrics(scores, [[0]] * 6, chunk_size=2)
    with pytest.raises(ValueError, match="row 4"):
        query_metrics(scores, [[0]] * 6, chunk_size=1000)
    with pytest.raises(ValueError, match="row 4"):
        relevant_ranks(scores, torch.zeros(6, 1, dtype=torch.long))


def test_shape_mismatch():
    with pytest.raises(ValueError, match="rows"):
        query_metrics(torch.rand(3, 4), [[0], [1]])
    with pytest.raises(ValueError, match=r"\[Q, N\]"):
        query_metrics(torch.rand(3), [[0], [1], [2]])
    with pytest.raises(ValueError, match="rows"):
        relevant_ranks(torch.rand(3, 4), torch.zeros(2, 1, dtype=torch.long))


def test_relevant_out_of_range():
    with pytest.raises(ValueError, match=r"relevant\[1\].*out of range"):
        query_metrics(torch.rand(2, 4), [[0], [4]])
    with pytest.raises(ValueError, match="negative"):
        query_metrics(torch.rand(2, 4), [[0], [-1]])
    with pytest.raises(ValueError, match="below -1"):
        query_metrics(torch.rand(2, 4), torch.tensor([[0], [-2]]))
    with pytest.raises(ValueError, match="integer"):
        query_metrics(torch.rand(2, 4), torch.tensor([[0.0], [1.0]]))
    with pytest.raises(ValueError, match="integer"):
        pad_relevant([[0.5]])


def test_duplicate_relevant_index():
    with pytest.raises(ValueError, match="repeated"):
        query_metrics(torch.rand(2, 4), [[0], [1, 1]])
    with pytest.raises(ValueError, match="repeated"):
        query_metrics(torch.rand(2, 4), torch.tensor([[0, -1, -1], [2, 1, 2]]))


def test_bad_cutoffs_and_chunk_size():
    with pytest.raises(ValueError):
        query_metrics(torch.rand(2, 4), [[0], [1]], ks=(0,))
    with pytest.raises(ValueError):
        query_metrics(torch.rand(2, 4), [[0], [1]], map_k=0)
    with pytest.raises(ValueError):
        query_metrics(torch.rand(2, 4), [[0], [1]], chunk_size=0)


def test_chunked_validation():
    t = torch.rand(4, 3)
    rel = [[0], [1], [2], [0]]
    with pytest.raises(ValueError, match="expected 2"):
        query_metrics_chunked([(0, t[:2]), (3, t[3:])], rel, 3)
    with pytest.raises(ValueError, match="cover 2 queries"):
        query_metrics_chunked([(0, t[:2])], rel, 3)
    with pytest.raises(ValueError, match="columns"):
        query_metrics_chunked([(0, t)], rel, 4)
    with pytest.raises(ValueError, match="cover 5"):
        query_metrics_chunked([(0, t), (4, t[:1])], rel, 3)
    bad = t.clone()
    bad[3, 0] = float("nan")
    with pytest.raises(ValueError, match="row 3"):
        query_metrics_chunked([(0, bad[:2]), (2, bad[2:])], rel, 3)
