//! The geometry a case describes, in SI units, as the mesher consumes it. The case file layer
//! (`crate::case`) turns TOML with units into these plain types.

use glam::DVec3;

/// A planar layer stacked from z = 0 upward (the first one touches the interface).
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Region name given to its tets (also the key of its material).
    pub region: String,
    /// Thickness in metres.
    pub thickness: f64,
    /// Interfacial resistance (Ohm m^2) between this layer and what lies on it (the next layer or the
    /// bulk); `None`: the potential is continuous there.
    pub top_resistance: Option<f64>,
}

/// The top plane of a layer with an interfacial resistance: the mesh's nodes are duplicated on it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResistivePlane {
    /// "<layer region>|<region above>", e.g. "li3sb|llzo".
    pub name: String,
    /// Index of the layer whose top it is.
    pub layer: usize,
    pub z: f64,
    /// Ohm m^2.
    pub resistance: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HotSpotShape {
    /// A depleted region removed from the domain; its surface becomes a boundary.
    Sphere { center: DVec3, radius: f64 },
    /// A patch of the interface plane z = 0 with its own boundary condition.
    Disk { center_x: f64, center_y: f64, radius: f64 },
}

/// A named hot spot; its name is the name of the boundary it creates (and under which its current
/// is reported). `group` names the `[boundaries.<group>]` entry that gives its condition: the hot
/// spot's own name for a single hot spot, the array's name for members of an array.
#[derive(Debug, Clone, PartialEq)]
pub struct HotSpot {
    pub name: String,
    pub group: String,
    pub shape: HotSpotShape,
}

/// The domain: the box [0, size.x] x [0, size.y] x [0, size.z] with layers and hot spots.
/// The region above the last layer up to z = size.z is `bulk_region` (the electrolyte).
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    pub size: DVec3,
    pub layers: Vec<Layer>,
    pub bulk_region: String,
    pub hotspots: Vec<HotSpot>,
}

impl Geometry {
    /// The layers' resistive top planes, bottom to top.
    pub fn resistive_planes(&self) -> Vec<ResistivePlane> {
        let mut top = 0.0;
        let mut planes = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            top += layer.thickness;
            if let Some(resistance) = layer.top_resistance {
                let above = self.layers.get(i + 1).map_or(&self.bulk_region, |l| &l.region);
                planes.push(ResistivePlane { name: format!("{}|{above}", layer.region), layer: i, z: top, resistance });
            }
        }
        planes
    }
}

/// Element-size controls, in metres. The target size grows linearly with the distance d from a
/// feature, h(d) = h_feature + (grading - 1) d, capped at `h_max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeshControls {
    /// Largest element edge far from features.
    pub h_max: f64,
    /// Element size at hot-spot surfaces (spheres, disk edges).
    pub h_min: f64,
    /// Element size at the interface plane z = 0 away from hot spots (and at layer planes).
    pub h_interface: f64,
    /// Ratio between neighbouring element sizes as they grow away from features (> 1).
    pub grading: f64,
}
