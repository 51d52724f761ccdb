"""Makes meshes/sphere_in_box.msh with Gmsh (pip install gmsh): the paper's hot spot, a sphere of radius
10 nm centred 25 nm above the Li | LLZO interface, cut out of a 200 nm x 200 nm x 100 nm electrolyte box, and a
measurement sphere of radius 18 nm around it. Coordinates in nm (the case says `unit = "nm"`).

Physical groups (the names meshes/sphere_in_box.toml uses):
  volume  "electrolyte"  the box less the hot spot (both sides of the measurement sphere)
  surface "interface"    z = 0, the Li | LLZO interface
  surface "top"          z = 100 nm
  surface "sides"        the four lateral faces
  surface "hotspot"      the hot spot's sphere (a hole in the mesh)
  surface "shell"        the measurement sphere, inside the volume: ionflux reports the current through it

Run: python3 meshes/sphere_in_box.py [size_at_hotspot_nm] [output.msh]
"""
import sys

import gmsh

A, ZC, SHELL = 10.0, 25.0, 18.0  # hot-spot radius, centre height, measurement-sphere radius (nm)
L, H = 200.0, 100.0  # box width and height (nm)
size = float(sys.argv[1]) if len(sys.argv) > 1 else 0.6
out = sys.argv[2] if len(sys.argv) > 2 else "meshes/sphere_in_box.msh"

gmsh.initialize()
gmsh.option.setNumber("General.Terminal", 0)
gmsh.model.add("sphere_in_box")
occ = gmsh.model.occ
box = occ.addBox(-L / 2, -L / 2, 0, L, L, H)
shell = occ.addSphere(0, 0, ZC, SHELL)
pieces, _ = occ.fragment([(3, box)], [(3, shell)])
hole = occ.addSphere(0, 0, ZC, A)
occ.cut(pieces, [(3, hole)])
occ.synchronize()


def surfaces_where(test):
    found = []
    for dim, tag in gmsh.model.getEntities(2):
        x0, y0, z0, x1, y1, z1 = gmsh.model.getBoundingBox(dim, tag)
        if test(x0, y0, z0, x1, y1, z1):
            found.append(tag)
    return found


eps = 1e-6
interface = surfaces_where(lambda x0, y0, z0, x1, y1, z1: abs(z0) < eps and abs(z1) < eps)
top = surfaces_where(lambda x0, y0, z0, x1, y1, z1: abs(z0 - H) < eps and abs(z1 - H) < eps)
sides = surfaces_where(lambda x0, y0, z0, x1, y1, z1: (abs(x1 - x0) < eps or abs(y1 - y0) < eps) and z1 - z0 > H - eps)
spheres = surfaces_where(lambda x0, y0, z0, x1, y1, z1: x1 - x0 < 2 * SHELL + 1 and z0 > 0)
hotspot = [s for s in spheres if gmsh.model.getBoundingBox(2, s)[3] - gmsh.model.getBoundingBox(2, s)[0] < 2 * A + 1]
measured = [s for s in spheres if s not in hotspot]
assert len(interface) == 1 and len(top) == 1 and len(sides) == 4 and hotspot and measured, "surfaces found"

gmsh.model.addPhysicalGroup(3, [t for _, t in gmsh.model.getEntities(3)], name="electrolyte")
gmsh.model.addPhysicalGroup(2, interface, name="interface")
gmsh.model.addPhysicalGroup(2, top, name="top")
gmsh.model.addPhysicalGroup(2, sides, name="sides")
gmsh.model.addPhysicalGroup(2, hotspot, name="hotspot")
gmsh.model.addPhysicalGroup(2, measured, name="shell")

# Graded sizes: `size` on the hot spot, growing linearly with the distance from it to 25 nm.
field = gmsh.model.mesh.field
distance = field.add("Distance")
field.setNumbers(distance, "SurfacesList", hotspot)
threshold = field.add("Threshold")
field.setNumber(threshold, "InField", distance)
field.setNumber(threshold, "SizeMin", size)
field.setNumber(threshold, "SizeMax", 25.0)
field.setNumber(threshold, "DistMin", 0.0)
field.setNumber(threshold, "DistMax", 120.0)
field.setAsBackgroundMesh(threshold)
gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
gmsh.option.setNumber("Mesh.Algorithm3D", 1)
gmsh.option.setNumber("Mesh.RandomSeed", 1)
gmsh.model.mesh.generate(3)
gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
gmsh.option.setNumber("Mesh.Binary", 1)
gmsh.write(out)
print(out, len(gmsh.model.mesh.getNodes()[0]), "nodes")
gmsh.finalize()
