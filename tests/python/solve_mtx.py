"""Independent check of an exported system (`ionflux solve --export-system DIR`): scipy reads A.mtx, b.mtx and
x.mtx, solves A y = b with a sparse direct solver (SuperLU), and prints JSON: the size, the largest difference
between y and ionflux's x relative to max |y|, and the relative residual of ionflux's x."""
import json
import sys

import numpy as np
import scipy.io
import scipy.sparse.linalg

folder = sys.argv[1]
a = scipy.io.mmread(f"{folder}/A.mtx").tocsc()
b = np.asarray(scipy.io.mmread(f"{folder}/b.mtx")).ravel()
x = np.asarray(scipy.io.mmread(f"{folder}/x.mtx")).ravel()
y = scipy.sparse.linalg.spsolve(a, b)
print(json.dumps({
    "unknowns": a.shape[0],
    "nonzeros": int(a.nnz),
    "symmetric": bool(abs(a - a.T).max() == 0),
    "max_relative_difference": float(np.abs(y - x).max() / np.abs(y).max()),
    "ionflux_relative_residual": float(np.linalg.norm(b - a @ x) / np.linalg.norm(b)),
}))
