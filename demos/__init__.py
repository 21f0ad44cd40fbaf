"""The teaching demos. Each is a script (`python demos/NAME.py`); `pip install` ships this folder
as tinygrad_sm/demos/ so that `tinygrad-sm demo NAME` runs them from an installed package too."""
