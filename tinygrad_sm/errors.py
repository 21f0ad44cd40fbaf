"""The errors the engine raises for bad input; both are ValueErrors that name the op."""


class ShapeError(ValueError):
    """Shapes that an op cannot combine; the message names the op and the shapes."""


class InputError(ValueError):
    """A value an op cannot take (a class index out of range); shape problems are ShapeError."""
