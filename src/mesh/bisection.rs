//! Graded, conforming refinement of a Kuhn (Freudenthal) grid by Maubach / newest-vertex bisection.
//!
//! Why this algorithm: bisection of a Kuhn grid with Maubach tags produces only a bounded number of
//! similarity classes of tets (so the shape quality of the background mesh is bounded independently of the
//! refinement depth), the closure "bisect every tet with a hanging midpoint" terminates and yields a
//! conforming mesh, and meshes refined for a coarser size target are sub-forests of finer ones, so every
//! stage is a nested coarser level: a geometric multigrid hierarchy comes for free.
//!
//! Tets are stored as ordered paths (x0, x1, x2, x3) with a tag k in 1..=3: the refinement edge is
//! (x0, xk); the children are (x0..x_{k-1}, z, x_{k+1}..x3) and (x1..xk, z, x_{k+1}..x3) with tag k - 1
//! (or 3 after 1).

use super::order::morton_code;
use super::quality::TET_EDGES;
use super::{MeshError, MeshProgress};
use glam::DVec3;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// Kuhn split of a cube as paths 0 -> e_a -> e_a + e_b -> (1,1,1); corners numbered by bits x = 1, y = 2, z = 4.
const KUHN_PATHS: [[usize; 4]; 6] =
    [[0, 1, 3, 7], [0, 1, 5, 7], [0, 2, 3, 7], [0, 2, 6, 7], [0, 4, 5, 7], [0, 4, 6, 7]];

/// Mean edge length of a Kuhn tet over the side of its cube: (3 + 2 sqrt 2 + sqrt 3) / 6.
pub const KUHN_MEAN_EDGE_OVER_SIDE: f64 = 1.2601;

/// One level of the nested hierarchy: its tets use the first `node_count` nodes of
/// [`BisectionHierarchy::nodes`].
#[derive(Debug, Clone)]
pub struct Level {
    pub node_count: usize,
    /// Tets as Maubach paths (orientation not normalised).
    pub tets: Vec<[u32; 4]>,
}

/// The background meshes before the surfaces are cut in: coarsest level first, finest last. Nodes are
/// shared: a coarser level uses a prefix of the node array, and every node created by bisection records
/// the edge it halves, which is exactly the linear prolongation between consecutive levels.
#[derive(Debug, Clone)]
pub struct BisectionHierarchy {
    pub nodes: Vec<DVec3>,
    /// Number of nodes of the initial Kuhn grid (they have no parents).
    pub grid_node_count: usize,
    /// For node `grid_node_count + i`: the end points of the edge whose midpoint it is.
    pub node_parents: Vec<[u32; 2]>,
    pub levels: Vec<Level>,
}

impl BisectionHierarchy {
    /// The edge a node halves, or `None` for a node of the initial grid.
    pub fn parents(&self, node: usize) -> Option<[u32; 2]> {
        node.checked_sub(self.grid_node_count).map(|i| self.node_parents[i])
    }

    pub fn finest(&self) -> &Level {
        self.levels.last().expect("a hierarchy has at least one level")
    }
}

/// Number of cells along an axis of length `length` so that Kuhn tets have mean edge <= `h`.
fn cells_for(length: f64, h: f64) -> usize {
    // The cast saturates: absurd ratios (or NaN, as 0 -> 1) are caught by the node count check.
    ((length * KUHN_MEAN_EDGE_OVER_SIDE / h).ceil() as usize).max(1)
}

/// Uniform Kuhn grid of the box [lo, hi] with cells of mean tet edge at most `h`; coordinates on the box
/// faces are exactly `lo` and `hi` so later stages can recognise box faces by equality.
fn kuhn_grid(lo: DVec3, hi: DVec3, h: f64, node_limit: usize) -> Result<(Vec<DVec3>, Vec<[u32; 4]>), MeshError> {
    let size = hi - lo;
    let n = [cells_for(size.x, h), cells_for(size.y, h), cells_for(size.z, h)];
    // Checked before anything is allocated, in arithmetic that cannot overflow.
    let grid_nodes = n.iter().try_fold(1usize, |count, &cells| count.checked_mul(cells.checked_add(1)?));
    if grid_nodes.is_none_or(|count| count > node_limit) {
        return Err(MeshError::TooLarge { limit: node_limit });
    }
    let line = |axis: usize| -> Vec<f64> {
        (0..=n[axis])
            .map(|i| if i == n[axis] { hi[axis] } else { lo[axis] + size[axis] * i as f64 / n[axis] as f64 })
            .collect()
    };
    let (xs, ys, zs) = (line(0), line(1), line(2));
    let (nx, ny) = (xs.len(), ys.len());
    let mut nodes = Vec::with_capacity(nx * ny * zs.len());
    for &z in &zs {
        for &y in &ys {
            for &x in &xs {
                nodes.push(DVec3::new(x, y, z));
            }
        }
    }
    let mut tets = Vec::with_capacity(6 * n[0] * n[1] * n[2]);
    for k in 0..n[2] {
        for j in 0..n[1] {
            for i in 0..n[0] {
                let corner = |c: usize| (i + (c & 1) + nx * (j + ((c >> 1) & 1) + ny * (k + ((c >> 2) & 1)))) as u32;
                tets.extend(KUHN_PATHS.iter().map(|path| path.map(corner)));
            }
        }
    }
    Ok((nodes, tets))
}

/// Room for the split edges of one closure cascade (they rarely number more than a few dozen).
const CASCADE_CAPACITY: usize = 256;

/// One key per undirected edge.
pub(crate) fn edge_key(a: u32, b: u32) -> u64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    ((lo as u64) << 32) | hi as u64
}

/// Tets incident to each node, as a chain of cache-line blocks per node in one arena: no allocation per node
/// or per list that outgrows its block, and a node's tets sit in one cache line or a few (graded bisection
/// meshes give a node 20 tets on average and a few nodes over 60).
struct Incidence {
    /// Per node: its first and last block.
    first: Vec<u32>,
    last: Vec<u32>,
    len: Vec<u32>,
    blocks: Vec<IncidenceBlock>,
}

#[derive(Clone, Copy)]
#[repr(align(64))]
struct IncidenceBlock {
    tets: [u32; IncidenceBlock::TETS],
    /// The next block of the node's chain (meaningful once this one is full).
    next: u32,
}

impl IncidenceBlock {
    const TETS: usize = 15;
    const EMPTY: IncidenceBlock = IncidenceBlock { tets: [0; IncidenceBlock::TETS], next: u32::MAX };
}

impl Incidence {
    fn with_capacity(nodes: usize) -> Incidence {
        Incidence {
            first: Vec::with_capacity(nodes),
            last: Vec::with_capacity(nodes),
            len: Vec::with_capacity(nodes),
            // Two blocks per node on average.
            blocks: Vec::with_capacity(2 * nodes),
        }
    }

    fn add_node(&mut self) {
        self.first.push(self.blocks.len() as u32);
        self.last.push(self.blocks.len() as u32);
        self.len.push(0);
        self.blocks.push(IncidenceBlock::EMPTY);
    }

    fn push(&mut self, node: u32, tet: u32) {
        let len = self.len[node as usize] as usize;
        let slot = len % IncidenceBlock::TETS;
        let mut block = self.last[node as usize] as usize;
        if len > 0 && slot == 0 {
            // The chain is full: link a new block.
            let new = self.blocks.len();
            self.blocks[block].next = new as u32;
            self.blocks.push(IncidenceBlock::EMPTY);
            self.last[node as usize] = new as u32;
            block = new;
        }
        self.blocks[block].tets[slot] = tet;
        self.len[node as usize] += 1;
    }

    /// The node's tets.
    fn of(&self, node: u32) -> impl Iterator<Item = u32> + '_ {
        let len = self.len[node as usize] as usize;
        let mut block = self.first[node as usize] as usize;
        (0..len).map(move |i| {
            let slot = i % IncidenceBlock::TETS;
            if i > 0 && slot == 0 {
                block = self.blocks[block].next as usize;
            }
            self.blocks[block].tets[slot]
        })
    }

    /// Replaces `old` by `new` in the node's list.
    fn replace(&mut self, node: u32, old: u32, new: u32) {
        let len = self.len[node as usize] as usize;
        let mut block = self.first[node as usize] as usize;
        for start in (0..len).step_by(IncidenceBlock::TETS) {
            let end = (len - start).min(IncidenceBlock::TETS);
            if let Some(slot) = self.blocks[block].tets[..end].iter_mut().find(|t| **t == old) {
                *slot = new;
                return;
            }
            block = self.blocks[block].next as usize;
        }
        unreachable!("incidence lists are kept in sync");
    }
}

/// A set of tet indices as a bitmap: inserting is one bit, and listing the set in ascending order is one pass
/// over the words (a sort of millions of repeated indices per generation cost more).
#[derive(Default)]
struct TetSet {
    words: Vec<u64>,
}

impl TetSet {
    fn insert(&mut self, tet: u32) {
        let word = tet as usize / 64;
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        self.words[word] |= 1 << (tet % 64);
    }

    fn contains(&self, tet: u32) -> bool {
        self.words.get(tet as usize / 64).is_some_and(|word| word >> (tet % 64) & 1 == 1)
    }

    /// The members in ascending order; the set is left empty.
    fn take_sorted(&mut self) -> Vec<u32> {
        let mut members = Vec::new();
        for (w, word) in self.words.iter_mut().enumerate() {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                members.push((w * 64) as u32 + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
        members
    }
}

/// A tet that may carry a hanging node: known to hold the split `edge`, or (None) to be checked on all six.
struct Hanging {
    tet: u32,
    edge: Option<[u32; 2]>,
}

struct Refiner<'a> {
    lo: DVec3,
    hi: DVec3,
    nodes: Vec<DVec3>,
    grid_node_count: usize,
    node_parents: Vec<[u32; 2]>,
    /// The size target at each node, evaluated once when the node is made.
    node_size: Vec<f64>,
    tets: Vec<[u32; 4]>,
    tags: Vec<u8>,
    /// Tets incident to each node, to find the tets sharing a freshly split edge.
    incident: Incidence,
    /// The edges split in the current closure cascade (one marked tet and the bisections it forces) and their
    /// midpoints. When a cascade ends the mesh is conforming, so no tet holds any of these edges any more: the
    /// map is emptied then and stays small enough to sit in cache.
    midpoints: FxHashMap<u64, u32>,
    size: &'a (dyn Fn(DVec3) -> f64 + Sync),
    node_limit: usize,
}

impl Refiner<'_> {
    /// Whether tet `t` is larger than `scale` times its size target: the smallest of the size function at its
    /// corners and centroid (the size function is Lipschitz, so that is close to its minimum over the tet).
    fn too_large(&self, t: usize, scale: f64) -> bool {
        let v = self.tets[t];
        let p = v.map(|i| self.nodes[i as usize]);
        let mean_edge = TET_EDGES.iter().map(|&[i, j]| (p[i] - p[j]).length()).sum::<f64>() / 6.0;
        let corners = v.iter().map(|&i| self.node_size[i as usize]).fold(f64::INFINITY, f64::min);
        // Cheap test first: the centroid can only lower the target.
        mean_edge > scale * corners || mean_edge > scale * (self.size)((p[0] + p[1] + p[2] + p[3]) / 4.0)
    }

    /// Forgets the cascade's split edges (none is held by a tet any more); a map grown by a rare long cascade
    /// is shrunk so that emptying it stays cheap.
    fn end_cascade(&mut self) {
        self.midpoints.clear();
        if self.midpoints.capacity() > 4 * CASCADE_CAPACITY {
            self.midpoints.shrink_to(CASCADE_CAPACITY);
        }
    }

    /// Evaluates the size target at the nodes made since the last call, in parallel (bisection only appends
    /// nodes; the size test is the only reader).
    fn size_new_nodes(&mut self) {
        let size = self.size;
        let new = &self.nodes[self.node_size.len()..];
        self.node_size.par_extend(new.par_iter().map(|&x| size(x)));
    }

    fn has_hanging_node(&self, t: usize) -> bool {
        let v = self.tets[t];
        TET_EDGES.iter().any(|&[i, j]| self.midpoints.contains_key(&edge_key(v[i], v[j])))
    }

    /// Bisects tet `t`; the first child keeps index `t`, the second is appended. Both children go on `changed`
    /// (for the next size test). The tets sharing the split edge go on `hanging` with that edge when the midpoint
    /// is new (they now carry a hanging node). A tet bisected for closure (`conforming` false) may have more
    /// hanging edges, which its children inherit: they go on `hanging` for a full check. A conforming tet's
    /// children are conforming (their edges are its edges, halves of the split edge, or new).
    fn bisect(
        &mut self,
        t: usize,
        conforming: bool,
        changed: &mut TetSet,
        hanging: &mut Vec<Hanging>,
    ) -> Result<(), MeshError> {
        let v = self.tets[t];
        let k = self.tags[t] as usize;
        let (a, b) = (v[0], v[k]);
        let key = edge_key(a, b);
        let z = match self.midpoints.get(&key) {
            Some(&z) => z,
            None => {
                if self.nodes.len() >= self.node_limit {
                    return Err(MeshError::TooLarge { limit: self.node_limit });
                }
                let z = self.nodes.len() as u32;
                let x = 0.5 * (self.nodes[a as usize] + self.nodes[b as usize]);
                self.nodes.push(x);
                self.node_parents.push([a, b]);
                self.incident.add_node();
                self.midpoints.insert(key, z);
                hanging.extend(
                    self.incident
                        .of(a)
                        .filter(|&u| u as usize != t && self.tets[u as usize].contains(&b))
                        .map(|u| Hanging { tet: u, edge: Some([a, b]) }),
                );
                z
            }
        };
        let mut first = v;
        first[k] = z;
        let mut second = v;
        second[..k].copy_from_slice(&v[1..=k]);
        second[k] = z;
        let tag = if k > 1 { k as u8 - 1 } else { 3 };
        let c = self.tets.len() as u32;
        self.tets[t] = first;
        self.tags[t] = tag;
        self.tets.push(second);
        self.tags.push(tag);
        // Incidence: the first child lacks v[k], the second lacks v[0]; z belongs to both.
        self.incident.replace(b, t as u32, c);
        for &w in &v[1..] {
            if w != b {
                self.incident.push(w, c);
            }
        }
        self.incident.push(z, t as u32);
        self.incident.push(z, c);
        changed.insert(t as u32);
        changed.insert(c);
        if !conforming {
            hanging.extend([t as u32, c].map(|tet| Hanging { tet, edge: None }));
        }
        Ok(())
    }

    /// Refines until every tet has mean edge <= scale x target and no tet has a hanging node. Generation by
    /// generation: the size test of every tet made in the last generation runs in parallel, then the tets that
    /// fail it are bisected in the Morton order of their first vertex (ties by index), each with its conforming
    /// closure (tets with a hanging node are bisected until none is left). The result is the unique coarsest
    /// conforming refinement that meets the size target, and its numbering depends only on that order, not on
    /// the number of threads.
    fn refine(&mut self, scale: f64, progress: &mut dyn FnMut(MeshProgress)) -> Result<(), MeshError> {
        let mut pending: Vec<u32> = (0..self.tets.len() as u32).collect();
        let mut changed = TetSet::default();
        let mut generation = 0;
        while !pending.is_empty() {
            self.size_new_nodes();
            let mut marked: Vec<(u64, u32)> = pending
                .par_iter()
                .filter(|&&t| self.too_large(t as usize, scale))
                .map(|&t| (morton_code(self.nodes[self.tets[t as usize][0] as usize], self.lo, self.hi), t))
                .collect();
            // In space-filling-curve order, consecutive bisections touch nearby nodes and tets, so the sequential
            // part works in cache; ties keep index order, so the order does not depend on the threads.
            marked.par_sort_unstable();
            let mut hanging = Vec::new();
            for (_, t) in marked {
                // A closure bisection earlier in this generation replaced it (the first child took its index):
                // its children are already in `changed`, for the next generation's size test.
                if !changed.contains(t) {
                    self.bisect(t as usize, true, &mut changed, &mut hanging)?;
                }
                while let Some(Hanging { tet: u, edge }) = hanging.pop() {
                    let hangs = match edge {
                        // Still holding the split edge: it hangs. Otherwise it was bisected since and its
                        // children were queued for a full check.
                        Some([a, b]) => self.tets[u as usize].contains(&a) && self.tets[u as usize].contains(&b),
                        None => self.has_hanging_node(u as usize),
                    };
                    if hangs {
                        self.bisect(u as usize, false, &mut changed, &mut hanging)?;
                    }
                }
                self.end_cascade();
            }
            pending = changed.take_sorted();
            generation += 1;
            progress(MeshProgress {
                stage: "refine",
                fraction: 1.0 - 1.0 / (1.0 + 0.1 * generation as f64),
                nodes: self.nodes.len(),
            });
        }
        Ok(())
    }
}

/// How many nodes a refinement may make (`limit`, an error beyond) and is expected to make (`expected`, room
/// reserved up front; 0 when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeBudget {
    pub limit: usize,
    pub expected: usize,
}

/// Builds the graded background mesh of the box [lo, hi]: a Kuhn grid with mean edge <= `h_max`,
/// bisected until every tet's mean edge is at most `size(x)` over it, conforming. `levels` >= 1 nested
/// levels are kept: level i (from the finest, i = 0) meets the size target scaled by 2^i.
pub fn refine_box(
    lo: DVec3,
    hi: DVec3,
    h_max: f64,
    size: &(dyn Fn(DVec3) -> f64 + Sync),
    levels: usize,
    budget: NodeBudget,
    progress: &mut dyn FnMut(MeshProgress),
) -> Result<BisectionHierarchy, MeshError> {
    let NodeBudget { limit: node_limit, expected: expected_nodes } = budget;
    let (mut nodes, mut tets) = kuhn_grid(lo, hi, h_max, node_limit)?;
    // Room for the expected mesh up front: growing these is a large share of the refinement's time
    // otherwise, and a grown array briefly holds its old and new copies (the mesher's memory peak). The estimate
    // runs up to a quarter under the count, so a third more is reserved: untouched room costs address space,
    // not memory. Bisection meshes have about 5.2 tets per node.
    let expected = (expected_nodes.saturating_mul(4) / 3).min(node_limit);
    nodes.reserve(expected.saturating_sub(nodes.len()));
    tets.reserve((expected * 26 / 5).saturating_sub(tets.len()));
    let mut incident = Incidence::with_capacity(expected.max(nodes.len()));
    for _ in 0..nodes.len() {
        incident.add_node();
    }
    for (t, tet) in tets.iter().enumerate() {
        for &v in tet {
            incident.push(v, t as u32);
        }
    }
    let mut node_size: Vec<f64> = nodes.par_iter().map(|&x| size(x)).collect();
    node_size.reserve(expected.saturating_sub(nodes.len()));
    let mut tags = vec![3; tets.len()];
    tags.reserve(tets.capacity() - tets.len());
    let mut refiner = Refiner {
        lo,
        hi,
        grid_node_count: nodes.len(),
        node_size,
        node_parents: Vec::with_capacity(expected.saturating_sub(nodes.len())),
        nodes,
        tags,
        tets,
        incident,
        midpoints: FxHashMap::with_capacity_and_hasher(CASCADE_CAPACITY, Default::default()),
        size,
        node_limit,
    };
    let levels = levels.max(1);
    let mut kept = Vec::with_capacity(levels);
    for stage in 0..levels {
        refiner.refine(2f64.powi((levels - 1 - stage) as i32), progress)?;
        // The finest level takes the tets; coarser ones keep a copy.
        let tets = if stage + 1 == levels { std::mem::take(&mut refiner.tets) } else { refiner.tets.clone() };
        kept.push(Level { node_count: refiner.nodes.len(), tets });
    }
    progress(MeshProgress { stage: "refine", fraction: 1.0, nodes: refiner.nodes.len() });
    Ok(BisectionHierarchy {
        nodes: refiner.nodes,
        grid_node_count: refiner.grid_node_count,
        node_parents: refiner.node_parents,
        levels: kept,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::signed_volume;

    fn volume(h: &BisectionHierarchy, level: &Level) -> f64 {
        level
            .tets
            .iter()
            .map(|t| {
                let p = t.map(|v| h.nodes[v as usize]);
                signed_volume(p[0], p[1], p[2], p[3]).abs()
            })
            .sum()
    }

    /// Every interior face is shared by exactly two tets and every other face lies on the box: the
    /// refinement is conforming (a hanging node would leave unmatched faces inside).
    fn assert_conforming(h: &BisectionHierarchy, level: &Level, lo: DVec3, hi: DVec3) {
        let mut faces: FxHashMap<[u32; 3], u32> = FxHashMap::default();
        for t in &level.tets {
            for skip in 0..4 {
                let mut f: Vec<u32> = (0..4).filter(|&i| i != skip).map(|i| t[i]).collect();
                f.sort_unstable();
                *faces.entry([f[0], f[1], f[2]]).or_default() += 1;
            }
        }
        for (f, count) in faces {
            let p = f.map(|v| h.nodes[v as usize]);
            let on_box = (0..3).any(|a| p.iter().all(|q| q[a] == lo[a]) || p.iter().all(|q| q[a] == hi[a]));
            assert_eq!(count, if on_box { 1 } else { 2 }, "face {f:?} at {p:?}");
        }
    }

    #[test]
    fn graded_refinement_is_conforming_nested_and_fills_the_box() {
        let (lo, hi) = (DVec3::ZERO, DVec3::new(1.0, 1.0, 0.5));
        let focus = DVec3::new(0.3, 0.4, 0.2);
        let size = |x: DVec3| (0.01 + 0.4 * (x - focus).length()).min(0.5);
        let h = refine_box(lo, hi, 0.5, &size, 3, NodeBudget { limit: 1_000_000, expected: 0 }, &mut |_| {}).unwrap();
        assert_eq!(h.levels.len(), 3);
        for level in &h.levels {
            assert!((volume(&h, level) - 0.5).abs() < 1e-12);
            assert_conforming(&h, level, lo, hi);
        }
        for pair in h.levels.windows(2) {
            assert!(pair[0].node_count < pair[1].node_count);
        }
        // Midpoints really are midpoints of their parent edges.
        for node in h.grid_node_count..h.nodes.len() {
            let [a, b] = h.parents(node).unwrap();
            assert!((h.nodes[node] - 0.5 * (h.nodes[a as usize] + h.nodes[b as usize])).length() < 1e-15);
        }
        // The finest level meets the size target near the focus.
        let finest = h.finest();
        let nearest = finest
            .tets
            .iter()
            .map(|t| {
                let p = t.map(|v| h.nodes[v as usize]);
                let c = (p[0] + p[1] + p[2] + p[3]) / 4.0;
                let mean = TET_EDGES.iter().map(|&[i, j]| (p[i] - p[j]).length()).sum::<f64>() / 6.0;
                ((c - focus).length(), mean)
            })
            .fold((f64::INFINITY, 0.0), |a, b| if b.0 < a.0 { b } else { a });
        assert!(nearest.1 <= 0.01 + 0.4 * nearest.0 + 1e-12, "{nearest:?}");
    }

    #[test]
    fn incidence_lists_run_over_several_blocks_in_push_order() {
        let mut incidence = Incidence::with_capacity(1);
        for _ in 0..3 {
            incidence.add_node();
        }
        // Node 1's list spans three blocks; the other nodes' pushes interleave with it.
        let mut expected = Vec::new();
        for tet in 0..40u32 {
            incidence.push(1, tet);
            expected.push(tet);
            incidence.push(tet % 2 * 2, 100 + tet);
        }
        assert_eq!(incidence.of(1).collect::<Vec<_>>(), expected);
        incidence.replace(1, 37, 1000);
        incidence.replace(1, 3, 1001);
        expected[37] = 1000;
        expected[3] = 1001;
        assert_eq!(incidence.of(1).collect::<Vec<_>>(), expected);
        assert_eq!(incidence.of(0).count(), 20);
        assert!(incidence.of(2).all(|t| t >= 100 && t % 2 == 1));
    }

    #[test]
    fn node_limit_is_an_error() {
        let size = |_: DVec3| 0.01;
        let err =
            refine_box(DVec3::ZERO, DVec3::ONE, 1.0, &size, 1, NodeBudget { limit: 5000, expected: 0 }, &mut |_| {})
                .unwrap_err();
        assert_eq!(err, MeshError::TooLarge { limit: 5000 });
    }
}
