"""Tensor: a numpy array, its gradient, a name, and the op (with its inputs) that made it."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from . import autograd, ops
from .autograd import Recorder, _Mode, backward, check_finite
from .errors import InputError, ShapeError
from .graph import Node
from .op import Op, freeze


def _as_array(data: Any, dtype: Any, who: str) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data._data
    if type(data) is np.ndarray and dtype is None:
        array = data  # the common case (a batch): nothing to convert
    elif isinstance(data, (np.ndarray, np.generic)):
        array = np.asarray(data, dtype=dtype)  # float arrays keep their dtype unless told
    else:
        try:
            array = np.asarray(data, dtype=dtype)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{who}: cannot make a tensor from {type(data).__name__}: {e}") from None
        if dtype is None and array.dtype.kind in "biuf":
            array = array.astype(np.float32)  # Python numbers and lists become float32
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{who}: data must be numeric (bool, int or float), "
                        f"got {type(data).__name__} with dtype {array.dtype}")
    return array


_checked_ops: set[type] = set()


def check_saved(op: Op, arrays: list[np.ndarray]) -> None:
    """Once per op class: an array forward keeps on `self` that is (a view of) an input or the
    output must be saved, or an in-place edit could change what backward reads, silently."""
    _checked_ops.add(type(op))
    for attr, value in vars(op).items():
        if isinstance(value, np.ndarray) and not any(value is s for s in op.saved) \
                and any(np.may_share_memory(value, a) for a in arrays):
            raise TypeError(f"{op.name}: forward keeps self.{attr}, an input or the output, without "
                            f"saving it; write self.save(...) in forward and read self.saved in backward")


def _checked_name(name: Any, who: str) -> str | None:
    if name is not None and not isinstance(name, str):
        raise TypeError(f"{who}: a name must be a string, got {type(name).__name__} ({name!r})")
    if name is not None and not name.isascii():
        try:
            name.encode()
        except UnicodeEncodeError:
            raise ValueError(f"{who}: the name {name!r} holds a lone surrogate, which no file "
                             "can store") from None
    return name


class Tensor(Node):
    __array_ufunc__ = None  # numpy defers to us, so `np_array @ t` and `np_array + t` build graph
    # fixed fields: a tensor per op per batch, so creating one and reading its fields must be cheap
    __slots__ = ("_data", "requires_grad", "_name", "grad")

    def __init__(self, data: Any, requires_grad: bool = False, name: str | None = None,
                 dtype: Any = None):
        self._data: np.ndarray = _as_array(data, dtype, "Tensor")
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(f"Tensor: requires_grad=True needs a floating-point dtype, got "
                            f"{self._data.dtype}: gradients of integers (labels, indices) are "
                            "not defined; pass dtype=np.float32 if these are real values")
        self.requires_grad = bool(requires_grad)
        self._name = _checked_name(name, "Tensor")
        self.grad: np.ndarray | None = None
        self.op: Op | None = None
        self.inputs: tuple[Tensor, ...] = ()

    # ---- building the graph ----
    @staticmethod
    def _apply(op: Op, *inputs: Tensor) -> Tensor:
        arrays = [x._data for x in inputs]
        try:
            data = op.forward(*arrays)
        except InputError as e:
            raise InputError(f"{op.name}: {e}") from None
        except ValueError as e:  # numpy's broadcasting errors and the ops' shape checks
            shapes = " and ".join(str(x.shape) for x in inputs)
            raise ShapeError(f"{op.name}: cannot apply to shape{'s' if len(inputs) > 1 else ''} "
                             f"{shapes}: {e}") from None
        if type(data) is not np.ndarray:  # numpy gives scalars (np.float64) for full reductions
            if isinstance(data, Tensor):
                raise TypeError(f"{op.name}: forward returned a Tensor; it takes numpy arrays and "
                                "returns one (the engine makes the Tensor)")
            data = np.asarray(data)
        mode = _Mode  # per-thread flags: each read is an attribute lookup on a threading.local
        if mode.detect_anomaly:
            check_finite(op, "forward", data, inputs)
        # a result: every field is set here, none needs __init__'s checks (2.0–2.8× faster, bench_tricks.py)
        out = object.__new__(Tensor)
        out._data, out.grad, out._name = data, None, op.out_name
        # any() of a list: 1.9–2.1× faster than of a generator (bench_tricks.py)
        if mode.grad_enabled and any([x.requires_grad for x in inputs]):
            out.op, out.inputs, out.requires_grad = op, inputs, True
            if type(op) not in _checked_ops:
                check_saved(op, [data, *arrays])
            freeze(op, data, arrays)  # what backward reads must not change while the graph lives
        else:
            out.op, out.inputs, out.requires_grad = None, (), False
        return out

    def _other(self, value: Any, op_name: str) -> Tensor:
        """Wrap a number or array met in an operator; numbers take this tensor's dtype."""
        if isinstance(value, Tensor):
            return value
        if isinstance(value, (str, bytes, bool)) or value is None:
            raise TypeError(f"{op_name}: cannot combine a Tensor of shape {self.shape} with "
                            f"{type(value).__name__}")
        float_dtype = self.dtype if self.dtype.kind == "f" else None
        keeps_dtype = isinstance(value, (np.ndarray, np.generic))
        return Tensor(_as_array(value, None if keeps_dtype else float_dtype, op_name))

    def _binary(self, op: Op, other: Any, reflected: bool = False) -> Tensor:
        if type(other) is not Tensor:
            other = self._other(other, op.name)
        return Tensor._apply(op, other, self) if reflected else Tensor._apply(op, self, other)

    def __add__(self, other): return self._binary(ops.Add(), other)
    def __radd__(self, other): return self._binary(ops.Add(), other, reflected=True)
    def __sub__(self, other): return self._binary(ops.Sub(), other)
    def __rsub__(self, other): return self._binary(ops.Sub(), other, reflected=True)
    def __mul__(self, other): return self._binary(ops.Mul(), other)
    def __rmul__(self, other): return self._binary(ops.Mul(), other, reflected=True)
    def __truediv__(self, other): return self._binary(ops.Div(), other)
    def __rtruediv__(self, other): return self._binary(ops.Div(), other, reflected=True)
    def __matmul__(self, other): return self._binary(ops.MatMul(), other)
    def __rmatmul__(self, other): return self._binary(ops.MatMul(), other, reflected=True)
    def __neg__(self): return Tensor._apply(ops.Neg(), self)

    def __pow__(self, exponent: Any) -> Tensor:
        if not isinstance(exponent, numbers.Real) or isinstance(exponent, bool):
            raise TypeError(f"pow: the exponent must be a number, got {type(exponent).__name__}")
        return Tensor._apply(ops.Pow(float(exponent)), self)

    def __rpow__(self, base: Any) -> Tensor:
        raise TypeError("pow: a tensor exponent is not supported; use exp() and log()")

    def exp(self) -> Tensor: return Tensor._apply(ops.Exp(), self)
    def log(self) -> Tensor: return Tensor._apply(ops.Log(), self)
    def relu(self) -> Tensor: return Tensor._apply(ops.ReLU(), self)
    def sigmoid(self) -> Tensor: return Tensor._apply(ops.Sigmoid(), self)
    def tanh(self) -> Tensor: return Tensor._apply(ops.Tanh(), self)

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return Tensor._apply(ops.Sum(axis, keepdims), self)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return Tensor._apply(ops.Mean(axis, keepdims), self)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return Tensor._apply(ops.Max(axis, keepdims), self)

    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        target = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return Tensor._apply(ops.Reshape(target), self)

    def transpose(self, *axes: int | tuple[int, ...]) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):  # t.transpose((1, 0)), as reshape
            axes = tuple(axes[0])
        return Tensor._apply(ops.Transpose(axes or None), self)

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def softmax(self, axis: int = -1) -> Tensor:
        return Tensor._apply(ops.Softmax(axis), self)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return Tensor._apply(ops.LogSoftmax(axis), self)

    # ---- backprop ----
    def backward(self, grad: Any = None, trace: bool | Recorder = False) -> Any:
        """Backprop into every tensor of the graph. trace=True: return the steps taken (a
        BackwardTrace); a Recorder of your own is handed each step instead."""
        recorder = autograd.new_recorder() if trace is True else trace or None
        return backward(self, grad, recorder)

    # ---- plain accessors ----
    @property
    def data(self) -> np.ndarray:
        """The values, always writable: the learner's handle (`W.data -= lr * W.grad`).

        What an op saved for backward (the inputs of x * y, X and W of X @ W) is read-only while
        its graph lives, the caller's own array given to Tensor() included. `.data` of such a
        tensor first gives the tensor its own writable copy (copy on write), so an update changes
        the tensor, never a graph already built. The library itself reads `_data`, never this:
        no display or trace gives a tensor a copy.
        """
        if not self._data.flags.writeable:
            self._data = self._data.copy()
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        array = _as_array(value, None, "Tensor.data")
        if self.requires_grad and array.dtype.kind != "f":
            raise TypeError(f"Tensor.data: {_where(self)} requires grad, so its data must be "
                            f"floating-point, got {array.dtype}; use .astype(np.float32)")
        self._data = array

    @property
    def name(self) -> str | None:
        return self._name

    @name.setter
    def name(self, value: str | None) -> None:
        self._name = _checked_name(value, "Tensor.name")

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def named(self, name: str) -> Tensor:
        """Set the name shown in traces and diagrams; returns self, for chaining."""
        self._name = _checked_name(name, "named")
        return self

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        if self._data.size != 1:
            raise ValueError(f"item: only a one-element tensor has an item, this one has shape {self.shape}")
        return self._data.item()

    def detach(self) -> Tensor:
        return Tensor(self.data, name=self.name)

    def __repr__(self) -> str:
        body = np.array2string(self._data, precision=4, separator=", ", threshold=20,
                               prefix="Tensor(")
        extras = [f"name={self.name!r}"] if self.name else []
        extras.append(f"dtype={self.dtype}")
        if self.requires_grad:
            extras.append("requires_grad=True")
        if self.op is not None:
            extras.append(f"op={self.op.name}")
        return f"Tensor({body}, {', '.join(extras)})"


def _where(t: Tensor) -> str:
    return f"the tensor {t.name!r}" if t.name else f"this tensor of shape {t.shape}"
