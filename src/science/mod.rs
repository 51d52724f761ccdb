//! Science on a solved field (issue 5): point location in the mesh, the lateral current through a
//! cylinder around a hot spot, the re-lithiation time of a depleted region (paper 001, Eqs. 17-23),
//! the current focusing and constriction resistance of voids (insulating disks),
//! and plots. Everything here works on a [`crate::mesh::Mesh`] and plain slices (nodal potential,
//! per-tet current density), so it does not depend on how the field was solved.

pub mod cylinder;
pub mod lithiation;
pub mod locate;
pub mod paper;
pub mod plot;
pub mod voids;
