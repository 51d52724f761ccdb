"""Independent reader for ionflux's sweep.pvd: parses the ParaView collection, reads every data set it
names with VTK's XML unstructured-grid reader, and prints what it found as JSON (per data set: its
timestep, file, number of points and cells, and the range of the `phi` point array).
Usage: python3 read_pvd.py FILE.pvd"""
import json
import os
import sys
import xml.etree.ElementTree as ET

import vtk
from vtk.util.numpy_support import vtk_to_numpy

pvd = sys.argv[1]
root = ET.parse(pvd).getroot()
if root.get("type") != "Collection":
    sys.exit(f"{pvd}: VTKFile type is {root.get('type')!r}, not 'Collection'")
datasets = []
for entry in root.iter("DataSet"):
    path = os.path.join(os.path.dirname(pvd), entry.get("file"))
    reader = vtk.vtkXMLUnstructuredGridReader()
    reader.SetFileName(path)
    reader.Update()
    if reader.GetErrorCode() != 0:
        sys.exit(f"VTK could not read {path}")
    grid = reader.GetOutput()
    phi = vtk_to_numpy(grid.GetPointData().GetArray("phi"))
    datasets.append({
        "timestep": float(entry.get("timestep")),
        "file": entry.get("file"),
        "points": grid.GetNumberOfPoints(),
        "cells": grid.GetNumberOfCells(),
        "phi_min": float(phi.min()),
        "phi_max": float(phi.max()),
    })
print(json.dumps({"datasets": datasets}))
