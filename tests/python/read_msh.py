"""Independent check of an MSH 4.1 file written by `ionflux mesh --out X.msh`: meshio reads it and this prints
JSON: node count, per physical group (name -> [tag, dim]) and per element type and physical tag the element
count, and the total volume of the tetrahedra."""
import json
import sys

import meshio
import numpy as np

mesh = meshio.read(sys.argv[1])
groups = {name: [int(v[0]), int(v[1])] for name, v in mesh.field_data.items()}
counts = {}
volume = 0.0
for block, tags in zip(mesh.cells, mesh.cell_data["gmsh:physical"]):
    for tag in tags:
        key = f"{block.type}:{int(tag)}"
        counts[key] = counts.get(key, 0) + 1
    if block.type == "tetra":
        p = mesh.points[block.data]
        volume += float(np.abs(np.linalg.det(p[:, 1:] - p[:, :1])).sum() / 6.0)
print(json.dumps({"nodes": int(mesh.points.shape[0]), "groups": groups, "elements": counts, "volume": volume}))
