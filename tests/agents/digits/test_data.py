"""The bundled digits: class counts, stratified split sizes, determinism, the missing-scikit-learn message."""

import builtins
import math

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the digits come with scikit-learn: pip install -e '.[data]'")

from agents.digits.data import load_digit_images, load_digits_split  # noqa: E402
from hierarchy.errors import ParameterError, ScenarioError  # noqa: E402


def test_three_vs_seven_counts_and_split_sizes():
    x, y = load_digit_images()
    assert int((y == 3).sum()) == 183 and int((y == 7).sum()) == 179
    s = load_digits_split((3, 7), 0.3, seed=0)
    assert s.sizes == (253, 109)
    # round(0.3 * n_c) held out per class, the rest trained on
    assert s.class_counts("test") == (round(0.3 * 183), round(0.3 * 179)) == (55, 54)
    assert s.class_counts("train") == (183 - 55, 179 - 54)
    assert s.x_train.shape == (253, 64) and s.x_test.shape == (109, 64)
    assert s.x_train.min() >= 0.0 and s.x_train.max() <= 1.0
    assert set(np.unique(s.y_train)) == {0, 1}


def test_split_is_a_partition_of_the_class_images():
    x, y = load_digit_images()
    s = load_digits_split((7, 3), 0.25, seed=4)  # label 0 is digit 7 here
    both = np.concatenate([s.x_train, s.x_test])
    labels = np.concatenate([s.y_train, s.y_test])
    assert both.shape[0] == 362
    # every image of 3 and 7 appears exactly once, with its digit's label
    want = np.concatenate([x[y == 7], x[y == 3]])
    key = lambda a: sorted(map(bytes, a))  # noqa: E731
    assert key(both) == key(want)
    assert (labels == 0).sum() == 179 and (labels == 1).sum() == 183


def test_same_seed_same_split_other_seed_other_split():
    a, b, c = load_digits_split(seed=3), load_digits_split(seed=3), load_digits_split(seed=4)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_test, c.x_test)
    assert c.sizes == a.sizes


def test_all_ten_digits():
    s = load_digits_split(tuple(range(10)))
    counts = np.bincount(load_digit_images()[1], minlength=10)
    assert s.class_counts("test") == tuple(int(round(0.3 * n)) for n in counts)
    assert sum(s.sizes) == 1797 and s.n_classes == 10
    assert "all 10 classes" in s.describe()


@pytest.mark.parametrize("kw, parameter", [({"classes": (3,)}, "classes"), ({"classes": (3, 12)}, "classes"),
                                           ({"classes": "ab"}, "classes"), ({"test_fraction": 1.0}, "test_fraction"),
                                           ({"test_fraction": 0.001}, "test_fraction"),
                                           ({"test_fraction": float("nan")}, "test_fraction")])
def test_bad_inputs_are_one_line_parameter_errors(kw, parameter):
    with pytest.raises(ParameterError) as e:
        load_digits_split(**kw)
    assert e.value.parameter == parameter and "\n" not in str(e.value)


def test_missing_scikit_learn_names_the_install_command(monkeypatch):
    real = builtins.__import__

    def no_sklearn(name, *args, **kw):
        if name == "sklearn" or name.startswith("sklearn."):
            raise ImportError("No module named 'sklearn'")
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(ScenarioError) as e:
        load_digits_split()
    msg = str(e.value)
    assert "\n" not in msg and 'pip install -e ".[data]"' in msg and "scikit-learn" in msg


def test_label_entropy_of_the_split():
    from agents.digits.model import label_entropy

    s = load_digits_split()
    n0, n1 = s.class_counts("train")
    p = n0 / (n0 + n1)
    assert label_entropy(s.y_train, 2) == pytest.approx(-(p * math.log(p) + (1 - p) * math.log(1 - p)), rel=1e-14)
    assert abs(label_entropy(s.y_train, 2) - math.log(2)) < 1e-3
