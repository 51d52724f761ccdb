"""Independent check of ionflux on a Gmsh mesh: scikit-fem assembles the same P1 problem, -div(sigma grad phi) = 0
with Dirichlet potentials on named surface groups and every other surface insulating, on the same mesh (read by
meshio), solves it directly, and prints JSON: per Dirichlet group, the current leaving the domain through it (A),
as the consistent reaction -sum over the group's nodes of (K phi)_i, and the node and tet counts.

Usage: skfem_currents.py MESH.msh UNIT_M SIGMA_S_PER_M GROUP=VOLTS [GROUP=VOLTS ...]
"""
import json
import sys

import meshio
import numpy as np
import skfem
from skfem.models.poisson import laplace

path, unit, sigma = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
potentials = {arg.split("=")[0]: float(arg.split("=")[1]) for arg in sys.argv[4:]}

msh = meshio.read(path)
tets = np.vstack([block.data for block in msh.cells if block.type == "tetra"])
used = np.unique(tets)
renumber = -np.ones(len(msh.points), dtype=np.int64)
renumber[used] = np.arange(len(used))
mesh = skfem.MeshTet((msh.points[used] * unit).T, renumber[tets].T)
basis = skfem.Basis(mesh, skfem.ElementTetP1())
stiffness = sigma * skfem.asm(laplace, basis)

surface_names = {int(tag): name for name, (tag, dim) in msh.field_data.items() if int(dim) == 2}
group_nodes = {}
for block, tags in zip(msh.cells, msh.cell_data["gmsh:physical"]):
    if block.type != "triangle":
        continue
    for tag in np.unique(tags):
        name = surface_names[int(tag)]
        nodes = renumber[np.unique(block.data[tags == tag])]
        group_nodes[name] = np.union1d(group_nodes.get(name, np.array([], dtype=np.int64)), nodes)

phi = np.zeros(mesh.nvertices)
fixed = []
for name, volts in potentials.items():
    phi[group_nodes[name]] = volts
    fixed.append(group_nodes[name])
fixed = np.unique(np.concatenate(fixed))
phi = skfem.solve(*skfem.condense(stiffness, np.zeros(mesh.nvertices), x=phi, D=fixed))
reaction = stiffness @ phi
currents = {name: float(-reaction[group_nodes[name]].sum()) for name in potentials}
print(json.dumps({"nodes": int(mesh.nvertices), "tets": int(mesh.nelements), "currents_A": currents}))
