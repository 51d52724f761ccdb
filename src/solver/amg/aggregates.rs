//! The aggregates of a level and their members: what the pairing (`aggregation`) makes and the Galerkin product
//! (`galerkin`) reads, in a file of their own so that neither of the two imports the other's types.

/// One aggregate index per row (aggregates numbered 0..count in order of their first member) and the count.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregates {
    pub of: Vec<u32>,
    pub count: usize,
}

/// The members of each aggregate, CSR-style: aggregate `c` holds `rows[offsets[c]..offsets[c + 1]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Members {
    pub offsets: Vec<u32>,
    pub rows: Vec<u32>,
}

impl Members {
    /// The rows of aggregate `c`, ascending.
    pub fn of(&self, c: usize) -> &[u32] {
        &self.rows[self.offsets[c] as usize..self.offsets[c + 1] as usize]
    }
}

impl Aggregates {
    /// The composition: row i's aggregate is `coarser.of[self.of[i]]`.
    pub fn then(&self, coarser: &Aggregates) -> Aggregates {
        Aggregates { of: self.of.iter().map(|&a| coarser.of[a as usize]).collect(), count: coarser.count }
    }

    /// Members of each aggregate (rows ascending within each aggregate).
    pub fn members(&self) -> Members {
        let mut offsets = vec![0u32; self.count + 1];
        for &a in &self.of {
            offsets[a as usize + 1] += 1;
        }
        for i in 0..self.count {
            offsets[i + 1] += offsets[i];
        }
        let mut next = offsets.clone();
        let mut rows = vec![0u32; self.of.len()];
        for (i, &a) in self.of.iter().enumerate() {
            rows[next[a as usize] as usize] = i as u32;
            next[a as usize] += 1;
        }
        Members { offsets, rows }
    }
}
