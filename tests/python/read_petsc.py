"""Independent check of a system exported in PETSc's binary format (`ionflux solve --export-system DIR --format
petsc`): PETSc's own reader, PetscBinaryIO.py (shipped with PETSc in $PETSC_DIR/lib/petsc/bin), loads A.petsc,
b.petsc and x.petsc; scipy solves A y = b directly; the same system's Matrix Market files (from a second export)
must hold the same numbers bit for bit. Usage: read_petsc.py PETSC_DIR_OF_THE_SYSTEM MTX_DIR BIN_DIR (32|64)"""
import json
import sys

import numpy as np
import scipy.io
import scipy.sparse.linalg

folder, mtx_folder, bin_dir, bits = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
sys.path.insert(0, bin_dir)
import PetscBinaryIO  # noqa: E402

io = PetscBinaryIO.PetscBinaryIO(precision="double", indices=f"{bits}bit", complexscalars=False)


def load(name, **kw):
    with open(f"{folder}/{name}.petsc", "rb") as fh:
        (obj,) = io.readBinaryFile(fh, **kw)
    return obj


a = load("A", mattype="scipy.sparse").tocsc()
b = np.asarray(load("b")).ravel()
x = np.asarray(load("x")).ravel()
y = scipy.sparse.linalg.spsolve(a, b)
mtx = scipy.io.mmread(f"{mtx_folder}/A.mtx").tocsc()
b_mtx = np.asarray(scipy.io.mmread(f"{mtx_folder}/b.mtx")).ravel()
print(json.dumps({
    "unknowns": a.shape[0],
    "nonzeros": int(a.nnz),
    "symmetric": bool(abs(a - a.T).max() == 0),
    "same_as_matrix_market": bool(abs(a - mtx).max() == 0 and np.array_equal(b, b_mtx)),
    "max_relative_difference": float(np.abs(y - x).max() / np.abs(y).max()),
    "ionflux_relative_residual": float(np.linalg.norm(b - a @ x) / np.linalg.norm(b)),
}))
