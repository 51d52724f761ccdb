"""Independent check of a system exported in PETSc's binary format: PETSc itself (petsc4py, Debian's
python3-petsc4py) loads A.petsc, b.petsc and x.petsc with MatLoad / VecLoad and solves A y = b with its own CG and
BoomerAMG (GAMG without hypre) to rtol 1e-12; prints JSON: the size, the largest |y - x| over max |y|, and the
relative residual of ionflux's x in PETSc's arithmetic. Usage: petsc_solve.py SYSTEM_DIR"""
import json
import sys

from petsc4py import PETSc

folder = sys.argv[1]


def load(kind, name):
    viewer = PETSc.Viewer().createBinary(f"{folder}/{name}.petsc", "r")
    obj = kind().load(viewer)
    viewer.destroy()
    return obj


a = load(PETSc.Mat, "A")
b = load(PETSc.Vec, "b")
x = load(PETSc.Vec, "x")
ksp = PETSc.KSP().create()
ksp.setOperators(a)
ksp.setType("cg")
pc = ksp.getPC()
pc.setType("hypre" if PETSc.Sys.hasExternalPackage("hypre") else "gamg")
ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)
ksp.setTolerances(rtol=1e-12, atol=0.0, max_it=10000)
y = b.duplicate()
ksp.solve(b, y)
difference = y.copy()
difference.axpy(-1.0, x)
residual = b.duplicate()
a.mult(x, residual)
residual.aypx(-1.0, b)
print(json.dumps({
    "unknowns": a.getSize()[0],
    "converged_reason": int(ksp.getConvergedReason()),
    "iterations": ksp.getIterationNumber(),
    "max_relative_difference": difference.norm(PETSc.NormType.INFINITY) / y.norm(PETSc.NormType.INFINITY),
    "ionflux_relative_residual": residual.norm() / b.norm(),
}))
