//! Internal resistive interfaces: a plane z = const of a conforming mesh is cut open by giving the tets above
//! it their own copies of the plane's nodes, so the potential may jump there; the assembly couples the two
//! sides through the interfacial resistance (`crate::fem`).

use super::{InterfaceFace, Mesh};
use glam::DVec3;

/// Duplicates the nodes on the plane z = `z` (which tet faces must cover: the mesh conforms to it, as layer
/// planes do): tets and boundary faces above the plane move to the copies, and the plane's triangles become
/// [`InterfaceFace`]s tagged `name`. Returns, for each copy in order (node `first_copy + i`), the node it
/// duplicates, where `first_copy` is the node count before the call.
pub fn split_at_plane(mesh: &mut Mesh, z: f64, name: &str) -> Vec<u32> {
    let tag = mesh.interface_names.len() as u16;
    mesh.interface_names.push(name.to_string());
    let nodes = &mut mesh.nodes;
    let centroid_z = |points: &[u32], nodes: &[DVec3]| {
        points.iter().map(|&v| nodes[v as usize].z).sum::<f64>() / points.len() as f64
    };

    let mut copy_of = vec![u32::MAX; nodes.len()];
    let mut originals = Vec::new();
    let mut interface_faces = Vec::new();
    for tet in &mut mesh.tets {
        if centroid_z(tet, nodes) > z {
            for v in tet.iter_mut() {
                if nodes[*v as usize].z == z {
                    if copy_of[*v as usize] == u32::MAX {
                        copy_of[*v as usize] = nodes.len() as u32;
                        originals.push(*v);
                        nodes.push(nodes[*v as usize]);
                    }
                    *v = copy_of[*v as usize];
                }
            }
        } else {
            let mut on_plane = tet.iter().copied().filter(|&v| nodes[v as usize].z == z);
            if let (Some(a), Some(b), Some(c)) = (on_plane.next(), on_plane.next(), on_plane.next()) {
                let [pa, pb, pc] = [a, b, c].map(|v| nodes[v as usize]);
                interface_faces.push(if (pb - pa).cross(pc - pa).z > 0.0 { [a, b, c] } else { [a, c, b] });
            }
        }
    }
    for face in &mut mesh.boundary_faces {
        if centroid_z(&face.nodes, nodes) > z {
            for v in face.nodes.iter_mut() {
                if copy_of[*v as usize] != u32::MAX {
                    *v = copy_of[*v as usize];
                }
            }
        }
    }
    mesh.interface_faces.extend(interface_faces.into_iter().map(|below| InterfaceFace {
        below,
        above: below.map(|v| {
            let copy = copy_of[v as usize];
            assert_ne!(copy, u32::MAX, "the mesh conforms to the plane z = {z:e}: every face on it has a tet above");
            copy
        }),
        tag,
    }));
    originals
}
