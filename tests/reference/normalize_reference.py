#!/usr/bin/python3
"""Percentile normalisation computed with numpy, independently of
common/normalize.c (CSBDeep's normalize: numpy.percentile, linear
interpolation, of every value of the image together).

  normalize_reference.py LOW HIGH < values

reads an image's values (whitespace-separated integers, every channel of
every pixel) and prints "OFFSET SCALE" (%.17g) such that
input = (value - OFFSET) * SCALE: OFFSET the LOW percentile, SCALE
1 / (HIGH percentile - LOW percentile); when the two percentiles are equal
the minimum and the maximum take their place, and when those are equal too
SCALE is 0."""
import sys

import numpy as np

low, high = float(sys.argv[1]), float(sys.argv[2])
v = np.array(sys.stdin.read().split(), dtype=np.float64)
lo, hi = np.percentile(v, [low, high])
if not hi > lo:
    lo, hi = v.min(), v.max()
print("%.17g %.17g" % (lo, hi - lo if hi > lo else 1.0))
