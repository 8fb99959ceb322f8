"""A researcher's own dataset (`dataset._target_`): the function is found and checked by its
signature alone; what it returns lands on the device when it fits and has one shape, and is
streamed through a DataLoader otherwise; every bad return is one line naming the target."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import green_ai.data.target as target_module
from green_ai.data import (
    DeviceData,
    StreamData,
    check_target_dataset,
    load_target_dataset,
    memory_budget,
)
from green_ai.errors import UserError

CPU = torch.device("cpu")
PACKAGE = "my_data_test"
T = f"{PACKAGE}.data"

BROKEN_MODULE = """
import not_a_module_xyz_green_ai


def load():
    return None
"""

DATA_MODULE = '''
"""A user's dataset functions, as a lab would write them."""

import torch
from torch.utils.data import Dataset, IterableDataset

CONSTANT = 3


def blobs(n, seed=0):
    """n samples of 1x4x4 inputs whose values are their index (train); test the same, n // 2."""
    g = torch.Generator().manual_seed(seed)
    x = torch.arange(n, dtype=torch.float64).view(n, 1, 1, 1).expand(n, 1, 4, 4).clone()
    y = torch.randint(3, (n,), generator=g)
    return (x, y), (x[: n // 2], y[: n // 2]), 3


def needs(n, m):
    return blobs(n)


def anything(**options):
    return blobs(options.get("n", 8))


class Items(Dataset):
    """Item i: x a (2, 3) tensor filled with i (wider for some i when ragged), y = i % 4."""

    def __init__(self, n, ragged=False, bad_at=None, label_dtype=None):
        self.n, self.ragged, self.bad_at, self.label_dtype = n, ragged, bad_at, label_dtype

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.bad_at:
            return "not a pair"
        width = 3 + (i % 3 if self.ragged else 0)
        y = i % 4 if self.label_dtype is None else torch.tensor(i % 4, dtype=self.label_dtype)
        return torch.full((2, width), float(i)), y


def items(n=10, ragged=False, bad_at=None):
    return Items(n, ragged, bad_at), Items(n // 2, ragged), 4


def mixed(n=10):
    """Train as tensors, test as a Dataset."""
    x = torch.arange(n, dtype=torch.float32).view(n, 1, 1).expand(n, 2, 3).clone()
    return (x, torch.arange(n) % 4), Items(4), 4


class Stream(IterableDataset):
    def __iter__(self):
        yield torch.zeros(2), 0


def bad(kind):
    x, y = torch.zeros(6, 2), torch.zeros(6, dtype=torch.int64)
    good = (x, y)
    return {
        "list": lambda: [good, good, 2],
        "dict": lambda: {"train": good},
        "pair": lambda: (good, good),
        "four": lambda: (good, good, 2, 0),
        "classes_one": lambda: (good, good, 1),
        "classes_float": lambda: (good, good, 2.0),
        "classes_bool": lambda: (good, good, True),
        "mismatch": lambda: ((x, y[:5]), good, 2),
        "split_str": lambda: ("train.csv", good, 2),
        "split_numpy": lambda: ((x.numpy(), y.numpy()), good, 2),
        "x_flat": lambda: ((torch.zeros(6), y), good, 2),
        "y_float": lambda: (good, (x, y.float()), 2),
        "y_range": lambda: ((x, torch.full((6,), 2)), good, 2),
        "y_negative": lambda: (good, (x, torch.full((6,), -1)), 2),
        "empty": lambda: ((x[:0], y[:0]), good, 2),
        "shapes": lambda: (good, (torch.zeros(6, 3), y), 2),
        "iterable": lambda: (Stream(), good, 2),
        "item": lambda: (Items(3, bad_at=0), good, 4),
        "item_label": lambda: (Items(3, label_dtype=torch.float32), good, 4),
    }[kind]()
'''


@pytest.fixture(autouse=True)
def user_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`my_data_test.data` (and `.broken`, which fails to import) in a directory on sys.path."""
    package = tmp_path / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "data.py").write_text(textwrap.dedent(DATA_MODULE))
    (package / "broken.py").write_text(BROKEN_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for module in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[module]


def load(function: str, in_memory: bool | None = None, **kwargs: Any) -> DeviceData | StreamData:
    return load_target_dataset(
        f"{T}.{function}", kwargs, name="mine", device=CPU, seed=5, in_memory=in_memory
    )


def user_error(function: str, **kwargs: Any) -> str:
    """The message of the UserError that loading `function(**kwargs)` raises; one line."""
    with pytest.raises(UserError) as caught:
        load(function, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def first_values(batches: Iterator[tuple[torch.Tensor, torch.Tensor]]) -> list[int]:
    """The index each input of an epoch carries (its first value), in the order read."""
    return [int(v) for x, _ in batches for v in x.flatten(1)[:, 0]]


# -- check_target_dataset: import and signature only ----------------------------------------


def test_check_accepts_a_function_and_its_arguments() -> None:
    check_target_dataset(f"{T}.blobs", {"n": 4, "seed": 1})
    check_target_dataset(f"{T}.blobs", {"n": 4})  # seed comes from the job
    check_target_dataset(f"{T}.anything", {"whatever": 1})  # **options takes any key


def test_check_names_a_key_the_function_does_not_take() -> None:
    with pytest.raises(UserError) as caught:
        check_target_dataset(f"{T}.blobs", {"n_sampels": 4})
    assert str(caught.value) == (
        f"dataset.n_sampels is not an argument of {T}.blobs (its arguments: n, seed)"
    )


def test_check_names_an_argument_that_is_not_set() -> None:
    with pytest.raises(UserError, match=rf"^dataset\.m is not set; {T}\.needs needs it"):
        check_target_dataset(f"{T}.needs", {"n": 4})


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (f"{T}.nope", f"does not import: {T} has no nope$"),
        (f"{PACKAGE}.nope.blobs", f"does not import: {PACKAGE} has no nope$"),
        ("lab_without_package_xyz.data.blobs", "no module named lab_without_package_xyz"),
        (
            f"{PACKAGE}.broken.load",
            "does not import: ModuleNotFoundError: No module named 'not_a_module_xyz_green_ai'",
        ),
        (f"{T}.CONSTANT", "is not a function \\(it is a int\\)"),
        ("blobs", "is not a dotted path to a function"),
    ],
)
def test_check_says_why_a_target_does_not_import(target: str, reason: str) -> None:
    with pytest.raises(UserError, match=rf"^dataset\._target_={target} .*{reason}") as caught:
        check_target_dataset(target, {})
    assert "\n" not in str(caught.value)


def test_check_does_not_call_the_function(monkeypatch: pytest.MonkeyPatch) -> None:
    import my_data_test.data as user  # type: ignore[import-not-found]

    calls: list[int] = []
    monkeypatch.setattr(user, "blobs", lambda n, seed=0: calls.append(n))
    check_target_dataset(f"{T}.blobs", {"n": 4})
    assert calls == []


# -- tensors pairs ----------------------------------------------------------------------------


def test_tensor_pairs_land_on_the_device_as_returned() -> None:
    data = load("blobs", n=12, seed=3)
    assert isinstance(data, DeviceData)
    import my_data_test.data as user

    (x, y), (tx, ty), classes = user.blobs(12, seed=3)
    # Not standardised: float32 of the very values returned, labels int64.
    assert data.train_x.dtype == torch.float32 and torch.equal(data.train_x, x.float())
    assert data.train_y.dtype == torch.int64 and torch.equal(data.train_y, y)
    assert torch.equal(data.test_x, tx.float()) and torch.equal(data.test_y, ty)
    assert data.num_classes == classes == 3 and data.name == "mine"
    assert data.input_shape == data.sample_shape == (1, 4, 4)
    assert (data.train_size, data.test_size) == (12, 6)


def test_the_job_seed_is_passed_unless_the_config_sets_one() -> None:
    from_job = load("blobs", n=64)  # seed=5 from the job
    assert isinstance(from_job, DeviceData)
    import my_data_test.data as user

    assert torch.equal(from_job.train_y, user.blobs(64, seed=5)[0][1])
    assert not torch.equal(from_job.train_y, user.blobs(64, seed=6)[0][1])
    from_config = load("blobs", n=64, seed=6)
    assert isinstance(from_config, DeviceData)
    assert torch.equal(from_config.train_y, user.blobs(64, seed=6)[0][1])


def test_device_batches_cover_the_split_once_in_the_generators_order() -> None:
    data = load("blobs", n=50)
    assert isinstance(data, DeviceData)
    epoch = first_values(data.train_batches(8, torch.Generator().manual_seed(1)))
    assert sorted(epoch) == list(range(50)) and epoch != list(range(50))
    assert epoch == first_values(data.train_batches(8, torch.Generator().manual_seed(1)))
    assert first_values(data.test_batches(7)) == list(range(25))


# -- Datasets ---------------------------------------------------------------------------------


def test_a_dataset_that_fits_is_copied_onto_the_device() -> None:
    data = load("items", n=2500)  # more than one chunk of items
    assert isinstance(data, DeviceData)
    assert data.train_x.shape == (2500, 2, 3) and data.train_x.dtype == torch.float32
    assert torch.equal(data.train_x[:, 0, 0], torch.arange(2500, dtype=torch.float32))
    assert torch.equal(data.train_y, torch.arange(2500) % 4)
    assert data.train_y.dtype == torch.int64
    assert (data.train_size, data.test_size, data.num_classes) == (2500, 1250, 4)


def test_a_mix_of_tensors_and_a_dataset_is_copied_too() -> None:
    data = load("mixed", n=10)
    assert isinstance(data, DeviceData)
    assert data.test_x.shape == (4, 2, 3) and data.train_x.shape == (10, 2, 3)


def test_in_memory_false_streams_every_item_once_per_epoch_reproducibly() -> None:
    data = load("items", in_memory=False, n=37)
    assert isinstance(data, StreamData)
    assert data.input_shape == (2, 3) and (data.train_size, data.test_size) == (37, 18)
    generator = torch.Generator().manual_seed(11)
    first = first_values(data.train_batches(8, generator))
    second = first_values(data.train_batches(8, generator))
    assert sorted(first) == sorted(second) == list(range(37))
    assert first != list(range(37)) and first != second  # shuffled, anew every epoch
    again = torch.Generator().manual_seed(11)
    assert first_values(data.train_batches(8, again)) == first
    assert first_values(data.train_batches(8, again)) == second
    batches = list(data.train_batches(8, generator))
    assert [len(x) for x, _ in batches] == [8, 8, 8, 8, 5]
    x, y = batches[0]
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and x.device == CPU
    assert torch.equal(y, x[:, 0, 0].long() % 4)  # labels travel with their inputs
    assert first_values(data.test_batches(5)) == list(range(18))


def test_streamed_tensor_pairs_keep_their_values() -> None:
    data = load("blobs", in_memory=False, n=20)
    assert isinstance(data, StreamData) and data.input_shape == (1, 4, 4)
    epoch = first_values(data.train_batches(6, torch.Generator().manual_seed(0)))
    assert sorted(epoch) == list(range(20))


def test_workers_read_the_same_epochs_as_the_main_process() -> None:
    kwargs = {"n": 30}
    loaded = [
        load_target_dataset(
            f"{T}.items", kwargs, name="w", device=CPU, seed=0, num_workers=w, in_memory=False
        )
        for w in (0, 2)
    ]
    epochs = []
    for data in loaded:
        generator = torch.Generator().manual_seed(2)
        epochs.append([first_values(data.train_batches(4, generator)) for _ in range(2)])
    assert epochs[0] == epochs[1]  # both epochs: persistent workers read the same order
    assert sorted(epochs[1][1]) == list(range(30)) and epochs[1][0] != epochs[1][1]
    for data in loaded:
        assert isinstance(data, StreamData)
        data.close()


def test_items_of_different_shapes_stream() -> None:
    data = load("items", n=9, ragged=True)
    assert isinstance(data, StreamData)
    shapes = {tuple(x.shape) for x, _ in data.train_batches(1, torch.Generator().manual_seed(0))}
    assert shapes == {(1, 2, 3), (1, 2, 4), (1, 2, 5)}
    with pytest.raises(UserError, match="one batch holds inputs of shapes") as caught:
        list(data.train_batches(4, torch.Generator().manual_seed(0)))
    assert "\n" not in str(caught.value)


def test_in_memory_true_refuses_what_cannot_be_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    message = user_error("items", in_memory=True, n=9, ragged=True)
    assert message.startswith("dataset.loader.in_memory=true but dataset mine has inputs")
    monkeypatch.setattr(target_module, "memory_budget", lambda device: (100, "a test budget"))
    message = user_error("blobs", in_memory=True, n=40)
    assert "needs 4.3 kB and the budget is 100 B (a test budget)" in message


def test_what_does_not_fit_the_budget_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    # 40 + 20 samples of 16 float32 values and an int64 label: 60 * 72 bytes.
    monkeypatch.setattr(target_module, "memory_budget", lambda device: (60 * 72 - 1, "tight"))
    assert isinstance(load("blobs", n=40), StreamData)
    monkeypatch.setattr(target_module, "memory_budget", lambda device: (60 * 72, "exact"))
    assert isinstance(load("blobs", n=40), DeviceData)


def test_the_cpu_budget_is_a_share_of_the_available_ram() -> None:
    budget, what = memory_budget(CPU)
    assert 0 < budget <= target_module.available_ram() // 4 and "RAM" in what


def test_a_bad_item_found_while_copying_or_streaming_is_one_line() -> None:
    message = user_error("items", n=6, bad_at=4)
    assert message == (
        f"dataset._target_={T}.items returned a train Dataset with an item that is a str; "
        "expected a pair (x, y)"
    )
    data = load("items", in_memory=False, n=6, bad_at=4)
    assert isinstance(data, StreamData)
    with pytest.raises(UserError, match="dataset mine has an item that is a str"):
        list(data.train_batches(2, torch.Generator().manual_seed(0)))


# -- bad returns ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("list", "a list; expected (train, test, num_classes)"),
        ("dict", "a dict; expected (train, test, num_classes)"),
        ("pair", "a tuple of 2 items; expected (train, test, num_classes)"),
        ("four", "a tuple of 4 items; expected (train, test, num_classes)"),
        ("classes_one", "num_classes=1; expected an integer of at least 2"),
        ("classes_float", "num_classes=2.0; expected an integer of at least 2"),
        ("classes_bool", "num_classes=True; expected an integer of at least 2"),
        ("mismatch", "train x with 6 samples but y with 5; expected one label per sample"),
        ("split_str", "train as a str; expected a pair of tensors (x, y) or a torch.utils"),
        ("split_numpy", "train as (ndarray, ndarray); expected a pair of tensors"),
        ("x_flat", "train x of shape (6,) and dtype torch.float32; expected real numbers"),
        ("y_float", "test y of shape (6,) and dtype torch.float32; expected integer class"),
        ("y_range", "train labels in 2..2; expected 0..1 (num_classes=2)"),
        ("y_negative", "test labels in -1..-1; expected 0..1 (num_classes=2)"),
        ("empty", "an empty train split; expected at least one sample"),
        ("shapes", "train inputs of shape (2,) but test inputs of shape (3,); expected one"),
        ("iterable", "an IterableDataset as train; expected a map-style Dataset"),
        ("item", "a train Dataset whose item 0 is a str; expected a pair (x, y)"),
        ("item_label", "with y a tensor of dtype torch.float32 and shape (); expected y an"),
    ],
)
def test_a_bad_return_is_one_line_naming_the_target(kind: str, expected: str) -> None:
    message = user_error("bad", kind=kind)
    assert message.startswith(f"dataset._target_={T}.bad returned ")
    assert expected in message


def test_load_checks_arguments_and_import_like_the_check() -> None:
    assert user_error("blobs", n_sampels=3).startswith("dataset.n_sampels is not an argument")
    assert "does not import" in user_error("nope")
    assert "num_workers=-1" in str(
        pytest.raises(
            UserError,
            load_target_dataset,
            f"{T}.blobs",
            {"n": 4},
            name="x",
            device=CPU,
            seed=0,
            num_workers=-1,
        ).value
    )
