//! Hot spots of a case: explicit ones, regular arrays and seeded random placements, expanded into one
//! list and checked (inside the box, spheres clear of z = 0, no overlaps, unique names).

use std::collections::HashMap;

use glam::{DVec2, DVec3};

use super::schema::{RawCase, RawHotSpotArray, RawHotSpotRandom};
use super::{Builder, CaseError, Location};
use crate::case::units::Dimension;
use crate::mesh::geometry::{min_resolvable_radius, show_length, SplitMix64};
use crate::mesh::geometry::{Geometry, HotSpot, HotSpotShape};
use crate::mesh::structured::BOX_BOUNDARIES;

/// How many candidates in a row may overlap before random placement gives up.
const MAX_ATTEMPTS_PER_SPOT: usize = 1000;
/// The most hot spots one array or random placement may make (overlap checks are all-pairs).
pub const MAX_HOT_SPOTS_PER_GROUP: usize = 10_000;

pub(super) fn radius(shape: &HotSpotShape) -> f64 {
    match shape {
        HotSpotShape::Sphere { radius, .. } | HotSpotShape::Disk { radius, .. } => *radius,
    }
}

/// A hot spot with the field and location that produced it, for messages.
struct Placed {
    spot: HotSpot,
    field: String,
    at: Location,
}

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Sphere,
    Disk,
}

impl Builder<'_> {
    fn shape(&self, name: &super::schema::Name, field: &str) -> Result<Shape, CaseError> {
        match name.get_ref().as_str() {
            "sphere" => Ok(Shape::Sphere),
            "disk" => Ok(Shape::Disk),
            other => Err(self.invalid(name.span(), field, format!("unknown shape `{other}`; expected sphere or disk"))),
        }
    }

    /// Sphere arrays and random spheres need `depth`; disks must not have one.
    fn check_depth<T>(
        &self,
        shape: Shape,
        depth: &Option<toml::Spanned<T>>,
        name_span: std::ops::Range<usize>,
        field: &str,
    ) -> Result<(), CaseError> {
        match (shape, depth) {
            (Shape::Sphere, None) => {
                Err(self.invalid(name_span, field, "a sphere needs `depth` (its centre z)".into()))
            }
            (Shape::Disk, Some(depth)) => {
                Err(self.invalid(depth.span(), field, "a disk lies on the interface z = 0 and takes no `depth`".into()))
            }
            _ => Ok(()),
        }
    }
}

/// All hot spots of the case, checked.
/// The case key and location of each hot spot, in the order of the expanded list: where later checks point.
pub(super) type Places = Vec<(String, Location)>;

pub(super) fn expand(builder: &Builder, raw: &RawCase, size: DVec3) -> Result<(Vec<HotSpot>, Places), CaseError> {
    let mut placed = Vec::new();
    for (i, entry) in raw.hotspots.iter().enumerate() {
        let field = format!("hotspots[{i}]");
        let shape = builder.shape(&entry.shape, &format!("{field}.shape"))?;
        let radius = builder.positive(&entry.radius, &format!("{field}.radius"), Dimension::Length)?;
        let dimensions = if shape == Shape::Sphere { 3 } else { 2 };
        let center = builder.list(&entry.center, &format!("{field}.center"), Dimension::Length, dimensions)?;
        let shape = match shape {
            Shape::Sphere => HotSpotShape::Sphere { center: DVec3::new(center[0], center[1], center[2]), radius },
            Shape::Disk => HotSpotShape::Disk { center_x: center[0], center_y: center[1], radius },
        };
        let name = entry.name.get_ref().clone();
        let at = builder.at(entry.name.span(), &field);
        placed.push(Placed { spot: HotSpot { name: name.clone(), group: name, shape }, field, at });
    }
    for (i, array) in raw.hotspot_arrays.iter().enumerate() {
        placed.extend(array_members(builder, array, &format!("hotspot_arrays[{i}]"))?);
    }
    for (i, random) in raw.hotspot_random.iter().enumerate() {
        let new = random_members(builder, random, &format!("hotspot_random[{i}]"), size, &placed)?;
        placed.extend(new);
    }
    check_names(&placed)?;
    for spot in &placed {
        check_inside(spot, size)?;
    }
    check_overlaps(&placed)?;
    Ok(placed.into_iter().map(|p| (p.spot, (p.field, p.at))).unzip())
}

/// What the mesher needs of the hot spots once h_min is known, checked here so the message points at the case:
/// a radius of at least 2 h_min, surfaces at least h_min apart, no sphere through a resistive layer plane.
pub(super) fn check_resolution(geometry: &Geometry, places: &Places, h_min: f64) -> Result<(), CaseError> {
    let planes = geometry.resistive_planes();
    for (spot, (field, at)) in geometry.hotspots.iter().zip(places) {
        let invalid = |reason: String| CaseError::Invalid { at: at.clone().into(), field: field.clone(), reason };
        let spot_radius = radius(&spot.shape);
        let smallest = min_resolvable_radius(h_min);
        if !(spot_radius >= smallest) {
            return Err(invalid(format!(
                "hot spot `{}` has radius {}, below 2 h_min = {}, the smallest the mesher resolves; lower mesh.h_min",
                spot.name,
                show_length(spot_radius),
                show_length(smallest)
            )));
        }
        if let Some(plane) = planes.iter().find(|p| spot.shape.meets_plane(p.z)) {
            if let HotSpotShape::Sphere { center, radius } = spot.shape {
                return Err(invalid(format!(
                    "sphere hot spot `{}` (z {} .. {}) meets the resistive top plane z = {} of layer {} (`{}`); a hot \
                     spot must lie wholly on one side of a plane with an interfacial resistance",
                    spot.name,
                    show_length(center.z - radius),
                    show_length(center.z + radius),
                    show_length(plane.z),
                    plane.layer,
                    geometry.layers[plane.layer].region
                )));
            }
        }
    }
    for (j, (second, (field, at))) in geometry.hotspots.iter().zip(places).enumerate() {
        for (first, (_, first_at)) in geometry.hotspots[..j].iter().zip(places) {
            if let Some(reason) = first.shape.clash(&second.shape, h_min) {
                return Err(CaseError::HotSpotsOverlap {
                    at: at.clone().into(),
                    field: field.clone(),
                    first: first.name.clone(),
                    second: second.name.clone(),
                    reason: format!(
                        "{reason}: they must stay h_min = {} apart (`{}` is at {first_at})",
                        show_length(h_min),
                        first.name
                    ),
                });
            }
        }
    }
    Ok(())
}

fn array_members(builder: &Builder, array: &RawHotSpotArray, field: &str) -> Result<Vec<Placed>, CaseError> {
    let shape = builder.shape(&array.shape, &format!("{field}.shape"))?;
    builder.check_depth(shape, &array.depth, array.name.span(), &format!("{field}.depth"))?;
    let radius = builder.positive(&array.radius, &format!("{field}.radius"), Dimension::Length)?;
    let center = builder.list(&array.center, &format!("{field}.center"), Dimension::Length, 2)?;
    let pitch = pitch(builder, array, field)?;
    for (key, count) in [("nx", &array.nx), ("ny", &array.ny)] {
        if *count.get_ref() == 0 {
            return Err(builder.invalid(count.span(), &format!("{field}.{key}"), "must be at least 1".into()));
        }
    }
    let depth = match &array.depth {
        Some(depth) => builder.positive(depth, &format!("{field}.depth"), Dimension::Length)?,
        None => 0.0,
    };
    let (nx, ny) = (*array.nx.get_ref(), *array.ny.get_ref());
    let total = u64::from(nx) * u64::from(ny);
    if total > MAX_HOT_SPOTS_PER_GROUP as u64 {
        let reason = format!("nx x ny = {total} hot spots, more than the {MAX_HOT_SPOTS_PER_GROUP} allowed");
        return Err(builder.invalid(array.name.span(), field, reason));
    }
    let group = array.name.get_ref();
    let at = builder.at(array.name.span(), field);
    let mut members = Vec::with_capacity(total as usize);
    for i in 0..nx {
        for j in 0..ny {
            // Centred on `center`: offsets -(n-1)/2 .. (n-1)/2 pitches.
            let x = center[0] + (f64::from(i) - f64::from(nx - 1) / 2.0) * pitch.x;
            let y = center[1] + (f64::from(j) - f64::from(ny - 1) / 2.0) * pitch.y;
            let shape = match shape {
                Shape::Sphere => HotSpotShape::Sphere { center: DVec3::new(x, y, depth), radius },
                Shape::Disk => HotSpotShape::Disk { center_x: x, center_y: y, radius },
            };
            let spot = HotSpot { name: format!("{group}_{i}_{j}"), group: group.clone(), shape };
            members.push(Placed { spot, field: field.to_string(), at: at.clone() });
        }
    }
    Ok(members)
}

fn pitch(builder: &Builder, array: &RawHotSpotArray, field: &str) -> Result<DVec2, CaseError> {
    use super::schema::OneOrList;
    let field = format!("{field}.pitch");
    let span = array.pitch.span();
    let values: Vec<f64> = match array.pitch.get_ref() {
        OneOrList::One(text) => vec![builder.convert(text, span.clone(), &field, Dimension::Length)?],
        OneOrList::List(texts) if (1..=2).contains(&texts.len()) => texts
            .iter()
            .enumerate()
            .map(|(k, text)| builder.convert(text, span.clone(), &format!("{field}[{k}]"), Dimension::Length))
            .collect::<Result<_, _>>()?,
        OneOrList::List(texts) => {
            return Err(builder.invalid(span, &field, format!("needs one value or [x, y], got {}", texts.len())))
        }
    };
    if values.iter().any(|p| !(*p > 0.0 && p.is_finite())) {
        return Err(builder.invalid(span, &field, "must be positive".into()));
    }
    Ok(DVec2::new(values[0], *values.last().unwrap_or(&values[0])))
}

fn random_members(
    builder: &Builder,
    random: &RawHotSpotRandom,
    field: &str,
    size: DVec3,
    existing: &[Placed],
) -> Result<Vec<Placed>, CaseError> {
    let shape = builder.shape(&random.shape, &format!("{field}.shape"))?;
    builder.check_depth(shape, &random.depth, random.name.span(), &format!("{field}.depth"))?;
    let group = random.name.get_ref();
    let at = builder.at(random.name.span(), field);
    let (r_low, r_high) = builder.positive_pair(&random.radius, &format!("{field}.radius"), Dimension::Length)?;
    let count = match (&random.count, &random.areal_density) {
        (Some(count), None) => *count.get_ref() as usize,
        (None, Some(density)) => {
            let density = builder.positive(density, &format!("{field}.areal_density"), Dimension::ArealDensity)?;
            (density * size.x * size.y).round().min(usize::MAX as f64) as usize
        }
        _ => {
            let reason = "give exactly one of `count` and `areal_density`".into();
            return Err(builder.invalid(random.name.span(), field, reason));
        }
    };
    if count > MAX_HOT_SPOTS_PER_GROUP {
        let reason = format!("asks for {count} hot spots, more than the {MAX_HOT_SPOTS_PER_GROUP} allowed");
        return Err(builder.invalid(random.name.span(), field, reason));
    }
    if count == 0 {
        let reason = "gives no hot spots (count 0, or areal_density x Lx x Ly rounds to 0)".into();
        return Err(builder.invalid(random.name.span(), field, reason));
    }
    let min_gap = match &random.min_gap {
        Some(gap) => builder.quantity(gap, &format!("{field}.min_gap"), Dimension::Length)?,
        None => 0.0,
    };
    if min_gap < 0.0 {
        let span = random.min_gap.as_ref().map(|g| g.span());
        return Err(builder.invalid_at(span, &format!("{field}.min_gap"), "must not be negative".into()));
    }
    let depth = match &random.depth {
        Some(depth) => {
            let depth_field = format!("{field}.depth");
            let (low, high) = builder.positive_pair(depth, &depth_field, Dimension::Length)?;
            if low <= r_high {
                return Err(CaseError::HotSpotCutsInterface {
                    at: builder.at(depth.span(), &depth_field).into(),
                    field: depth_field,
                    name: group.clone(),
                    reason: format!(
                        "the smallest centre depth {} must exceed the largest radius {}",
                        show_length(low),
                        show_length(r_high)
                    ),
                });
            }
            Some((low, high))
        }
        None => None,
    };
    let top = depth.map_or(0.0, |(_, high)| high) + r_high;
    if 2.0 * (r_high + min_gap) >= size.x.min(size.y) || top >= size.z {
        return Err(CaseError::HotSpotOutsideBox {
            at: at.clone().into(),
            field: field.to_string(),
            name: group.clone(),
            reason: format!("hot spots of radius up to {} do not fit in the box", show_length(r_high)),
        });
    }
    let mut rng = SplitMix64::new(random.seed);
    let mut members: Vec<Placed> = Vec::with_capacity(count);
    for k in 0..count {
        let mut attempts = 0;
        let spot = loop {
            if attempts == MAX_ATTEMPTS_PER_SPOT {
                return Err(CaseError::Placement {
                    at: at.clone().into(),
                    field: field.to_string(),
                    name: group.clone(),
                    reason: format!(
                        "placed {k} of {count}; then {MAX_ATTEMPTS_PER_SPOT} candidates in a row overlapped \
                         (lower the count or density, the radius or min_gap)"
                    ),
                });
            }
            attempts += 1;
            let radius = rng.uniform(r_low, r_high);
            let x = rng.uniform(radius + min_gap, size.x - radius - min_gap);
            let y = rng.uniform(radius + min_gap, size.y - radius - min_gap);
            let shape = match depth {
                Some((low, high)) => HotSpotShape::Sphere { center: DVec3::new(x, y, rng.uniform(low, high)), radius },
                None => HotSpotShape::Disk { center_x: x, center_y: y, radius },
            };
            let clear = existing.iter().chain(&members).all(|other| shape.clash(&other.spot.shape, min_gap).is_none());
            if clear {
                break HotSpot { name: format!("{group}_{k}"), group: group.clone(), shape };
            }
        };
        members.push(Placed { spot, field: field.to_string(), at: at.clone() });
    }
    Ok(members)
}

/// Hot-spot names and group names are boundary names: unique, and none of the box's.
fn check_names(placed: &[Placed]) -> Result<(), CaseError> {
    let mut first_use: HashMap<&str, &Placed> = HashMap::new();
    for spot in placed {
        if BOX_BOUNDARIES.contains(&spot.spot.name.as_str()) || BOX_BOUNDARIES.contains(&spot.spot.group.as_str()) {
            return Err(CaseError::Invalid {
                at: spot.at.clone().into(),
                field: format!("{}.name", spot.field),
                reason: format!("`{}` is a boundary of the box; choose another hot-spot name", spot.spot.group),
            });
        }
        if let Some(earlier) = first_use.get(spot.spot.name.as_str()) {
            return Err(CaseError::Invalid {
                at: spot.at.clone().into(),
                field: format!("{}.name", spot.field),
                reason: format!("the hot-spot name `{}` is already used at {}", spot.spot.name, earlier.at),
            });
        }
        first_use.insert(&spot.spot.name, spot);
    }
    // A group name may not be another hot spot's own name (it would give two meanings to [boundaries.<name>]).
    for spot in placed {
        if let Some(other) = first_use.get(spot.spot.group.as_str()) {
            if other.spot.group != spot.spot.group {
                return Err(CaseError::Invalid {
                    at: spot.at.clone().into(),
                    field: format!("{}.name", spot.field),
                    reason: format!("the group name `{}` is already a hot-spot name at {}", spot.spot.group, other.at),
                });
            }
        }
    }
    Ok(())
}

fn check_inside(placed: &Placed, size: DVec3) -> Result<(), CaseError> {
    let (at, field, name) = (placed.at.clone().into(), placed.field.clone(), placed.spot.name.clone());
    if let Some(reason) = placed.spot.shape.cuts_interface() {
        return Err(CaseError::HotSpotCutsInterface { at, field, name, reason });
    }
    match placed.spot.shape.outside_box(size) {
        Some(reason) => Err(CaseError::HotSpotOutsideBox { at, field, name, reason }),
        None => Ok(()),
    }
}

fn check_overlaps(placed: &[Placed]) -> Result<(), CaseError> {
    for (j, second) in placed.iter().enumerate() {
        for first in &placed[..j] {
            if let Some(reason) = first.spot.shape.clash(&second.spot.shape, 0.0) {
                return Err(CaseError::HotSpotsOverlap {
                    at: second.at.clone().into(),
                    field: second.field.clone(),
                    first: first.spot.name.clone(),
                    second: second.spot.name.clone(),
                    reason: format!("{reason} (`{}` is at {})", first.spot.name, first.at),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // SplitMix64 seeded with 1234567, as listed by the Rosetta Code task "Pseudo-random numbers/Splitmix64".
        let mut rng = SplitMix64::new(1234567);
        let expected: [u64; 5] =
            [6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431, 16408922859458223821];
        for value in expected {
            assert_eq!(rng.next_u64(), value);
        }
    }

    #[test]
    fn uniform_stays_inside_the_open_range() {
        let mut rng = SplitMix64::new(0);
        for _ in 0..10_000 {
            let u = rng.uniform(2.0, 3.0);
            assert!(u > 2.0 && u < 3.0);
        }
        assert_eq!(rng.uniform(5.0, 5.0), 5.0);
    }
}
