"""Independent reader for ionflux's VTU output: the real VTK library reads the file and this
script prints what it found as JSON (points, cell types, every point/cell array) for the Rust
test to check against exact values. Usage: python3 read_vtu.py FILE.vtu"""
import json
import sys

import vtk
from vtk.util.numpy_support import vtk_to_numpy


def arrays(data):
    out = {}
    for i in range(data.GetNumberOfArrays()):
        a = data.GetArray(i)
        out[a.GetName()] = {
            "components": a.GetNumberOfComponents(),
            "tuples": a.GetNumberOfTuples(),
            # NaN (not applicable: a tet's overpotential) as null, which JSON has.
            "values": [None if v != v else v for v in vtk_to_numpy(a).reshape(-1).tolist()],
        }
    return out


def strings(data):
    out = {}
    for i in range(data.GetNumberOfArrays()):
        a = data.GetAbstractArray(i)
        if isinstance(a, vtk.vtkStringArray):
            out[a.GetName()] = [a.GetValue(k) for k in range(a.GetNumberOfValues())]
    return out


reader = vtk.vtkXMLUnstructuredGridReader()
reader.SetFileName(sys.argv[1])
reader.Update()
if reader.GetErrorCode() != 0:
    sys.exit(f"VTK could not read {sys.argv[1]}")
grid = reader.GetOutput()
cells = grid.GetCells() if hasattr(grid, "GetCells") else None
print(json.dumps({
    "points": vtk_to_numpy(grid.GetPoints().GetData()).reshape(-1).tolist(),
    "cell_types": [grid.GetCellType(i) for i in range(grid.GetNumberOfCells())],
    "point_data": arrays(grid.GetPointData()),
    "cell_data": arrays(grid.GetCellData()),
    "field_strings": strings(grid.GetFieldData()),
}))
