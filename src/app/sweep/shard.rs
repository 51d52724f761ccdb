//! Sweeps on a cluster: `ionflux sweep ... --shard K/N` runs the K-th of N contiguous blocks of the sweep's points
//! (contiguous, so that points that share a mesh stay together), with the whole sweep's point folders and CSV
//! rows (global indices), and records what it is a part of in `sweep_shard.json`; `ionflux sweep --merge DIR...
//! --out OUT` checks that the folders are the N shards of one sweep and joins them into one `sweep.csv`,
//! `sweep.pvd` (pointing at the shards' VTU files) and `sweep.png`.

use super::files::{csv_text, plot_points, pvd_text, summary_columns};
use super::{PointRecord, SweepError, SweepOptions, SweepReport, Vary};
use crate::app::CaseInput;
use crate::io::transaction::OutputTransaction;
use crate::io::{self};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file a shard writes next to its `sweep.csv`.
pub const SHARD_FILE: &str = "sweep_shard.json";

/// The K-th (1-based) of N shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `K/N`, 1 <= K <= N.
    pub fn parse(text: &str) -> Result<Shard, SweepError> {
        let bad = |reason: &str| SweepError::BadShard { text: text.to_string(), reason: reason.to_string() };
        let (k, n) = text.split_once('/').ok_or_else(|| bad("expected K/N, e.g. 2/8"))?;
        let (index, count): (usize, usize) = match (k.trim().parse(), n.trim().parse()) {
            (Ok(k), Ok(n)) => (k, n),
            _ => return Err(bad("K and N must be whole numbers")),
        };
        if count == 0 || index == 0 || index > count {
            return Err(bad("K must lie in 1..=N"));
        }
        Ok(Shard { index, count })
    }

    /// This shard's points among `total`: the K-th of N contiguous blocks (sizes differing by at most one).
    pub fn points(&self, total: usize) -> std::ops::Range<usize> {
        let start = |k: usize| k * total / self.count;
        start(self.index - 1)..start(self.index)
    }
}

/// What a shard records: which sweep it belongs to and which part of it it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    pub shard: usize,
    pub shards: usize,
    /// The whole sweep's point count, its `--vary` specs and `--set` overrides, and the case: its file name (or
    /// the built-in default) and a hash of its text.
    pub points: usize,
    pub vary: Vec<String>,
    pub set: Vec<String>,
    pub case: String,
    pub case_hash: String,
}

impl ShardRecord {
    /// The same sweep (all but the shard number agree).
    fn same_sweep(&self, other: &ShardRecord) -> bool {
        (self.shards, self.points, &self.vary, &self.set, &self.case_hash)
            == (other.shards, other.points, &other.vary, &other.set, &other.case_hash)
    }

    /// The record of `shard` of a sweep of `points` points over `varies` with `set`, of the case `input`.
    pub fn new(shard: Shard, points: usize, varies: &[Vary], set: &[String], input: &CaseInput) -> ShardRecord {
        use std::hash::{Hash, Hasher};
        let (case, text) = match input {
            CaseInput::File(path) => (
                path.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned()),
                std::fs::read(path).unwrap_or_default(),
            ),
            CaseInput::Text { text, source } => (source.clone(), text.as_bytes().to_vec()),
        };
        let mut hasher = rustc_hash::FxHasher::default();
        text.hash(&mut hasher);
        ShardRecord {
            shard: shard.index,
            shards: shard.count,
            points,
            vary: varies.iter().map(|v| v.spec.clone()).collect(),
            set: set.to_vec(),
            case,
            case_hash: format!("{:016x}", hasher.finish()),
        }
    }
}

/// Joins the shard folders `dirs` of one sweep into `options.out_dir` (see the module notes).
pub fn merge_shards(dirs: &[PathBuf], options: &SweepOptions) -> Result<SweepReport, SweepError> {
    let bad = |reason: String| SweepError::BadMerge { reason };
    let mut records: Vec<ShardRecord> = Vec::new();
    let mut points: Vec<PointRecord> = Vec::new();
    // The first shard's --vary specs, which every later shard must share (`same_sweep`).
    let mut varies: Vec<Vary> = Vec::new();
    for dir in dirs {
        let record_path = dir.join(SHARD_FILE);
        let text = std::fs::read_to_string(&record_path)
            .map_err(|e| bad(format!("{}: {e} (is it the --out of a `sweep --shard` run?)", record_path.display())))?;
        let record: ShardRecord =
            serde_json::from_str(&text).map_err(|e| bad(format!("{}: {e}", record_path.display())))?;
        if records.first().is_some_and(|first| !first.same_sweep(&record)) {
            return Err(bad(format!(
                "{} is a shard of another sweep than {} (its --vary, --set, case or shard count differ)",
                dir.display(),
                dirs[0].display()
            )));
        }
        if records.iter().any(|r| r.shard == record.shard) {
            return Err(bad(format!("shard {}/{} is given twice ({})", record.shard, record.shards, dir.display())));
        }
        if records.is_empty() {
            varies = record.vary.iter().map(|spec| Vary::parse(spec)).collect::<Result<_, _>>()?;
        }
        points.extend(read_rows(dir, &varies)?);
        records.push(record);
    }
    let first = records.first().ok_or_else(|| bad("no shard folder given".into()))?.clone();
    if records.len() != first.shards {
        let mut have: Vec<usize> = records.iter().map(|r| r.shard).collect();
        have.sort_unstable();
        let missing: Vec<String> =
            (1..=first.shards).filter(|k| !have.contains(k)).map(|k| format!("{k}/{}", first.shards)).collect();
        return Err(bad(format!("shards {} are missing", missing.join(", "))));
    }
    points.sort_by_key(|p| p.index);
    if points.len() != first.points || points.iter().enumerate().any(|(i, p)| p.index != i) {
        return Err(bad(format!("the shards hold {} rows, not the sweep's {} points", points.len(), first.points)));
    }
    if points.iter().all(|p| p.outcome.is_err()) {
        let first_error = points.iter().find_map(|p| p.outcome.as_ref().err().cloned()).unwrap_or_default();
        return Err(SweepError::AllFailed { points: points.len(), first_error });
    }
    let staging = OutputTransaction::begin(&options.out_dir, &["sweep.csv"])?;
    let columns = summary_columns(&points);
    io::write_atomic(&staging.dir().join("sweep.csv"), csv_text(&varies, &columns, &points).as_bytes())?;
    if points.iter().any(|p| p.vtu.is_some()) {
        // The shards' own VTU files, by absolute path: a collection of the whole sweep without copying them.
        io::write_atomic(&staging.dir().join("sweep.pvd"), pvd_text(staging.dir(), &varies, &points).as_bytes())?;
    }
    plot_points(&staging.dir().join("sweep.png"), &varies, &columns, &points, &options.plot_columns)?;
    let written = staging.commit()?.into_iter().filter(|p| p.is_file()).collect();
    Ok(SweepReport { points, written })
}

/// The rows of a shard's `sweep.csv` as point records (its point folders' VTU files by absolute path).
fn read_rows(dir: &Path, varies: &[Vary]) -> Result<Vec<PointRecord>, SweepError> {
    let path = dir.join("sweep.csv");
    let bad = |reason: String| SweepError::BadMerge { reason: format!("{}: {reason}", path.display()) };
    let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
    let mut lines = text.lines();
    let header = split_csv_line(lines.next().ok_or_else(|| bad("empty".into()))?);
    let fixed = 3 + varies.len();
    if header.len() < fixed || header[..3] != ["index", "status", "error"] {
        return Err(bad("not a sweep.csv (its header does not start with index,status,error)".into()));
    }
    let number =
        |text: &str, what: &str| text.parse::<f64>().map_err(|_| bad(format!("{what} `{text}` is not a number")));
    let mut records = Vec::new();
    for (line_number, line) in lines.enumerate() {
        let fields = split_csv_line(line);
        if fields.len() != header.len() {
            return Err(bad(format!(
                "row {} has {} fields, the header {}",
                line_number + 2,
                fields.len(),
                header.len()
            )));
        }
        let index =
            fields[0].parse::<usize>().map_err(|_| bad(format!("index `{}` is not a whole number", fields[0])))?;
        let values = fields[3..fixed].iter().map(|v| number(v, "a varied value")).collect::<Result<Vec<_>, _>>()?;
        let outcome = match fields[1].as_str() {
            "ok" => {
                let numbers = header[fixed..]
                    .iter()
                    .zip(&fields[fixed..])
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(name, v)| Ok((name.clone(), number(v, name)?)))
                    .collect::<Result<Vec<_>, SweepError>>()?;
                Ok(numbers)
            }
            _ => Err(fields[2].clone()),
        };
        let vtu = dir.join(format!("point_{index}")).join("solution.vtu");
        let vtu = vtu.is_file().then(|| std::path::absolute(&vtu).unwrap_or(vtu));
        // The point's overrides as the sweep wrote them (the value text whose SI value the row holds).
        let overrides = varies
            .iter()
            .zip(&values)
            .filter_map(|(v, &si)| v.values.iter().find(|x| x.si == si).map(|x| format!("{}={}", v.key, x.text)))
            .collect();
        records.push(PointRecord { index, overrides, values, outcome, vtu, mesh_reused: false });
    }
    Ok(records)
}

/// Splits one line of `sweep.csv`, honouring double-quoted fields (`files::csv_field` writes them).
pub fn split_csv_line(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_the_points_into_contiguous_blocks_that_cover_them_once() {
        for total in [1, 5, 13, 100] {
            for count in 1..=7 {
                let mut covered = Vec::new();
                for index in 1..=count {
                    let range = Shard { index, count }.points(total);
                    assert!(range.len() <= total.div_ceil(count));
                    covered.extend(range);
                }
                assert_eq!(covered, (0..total).collect::<Vec<_>>(), "{total} points in {count} shards");
            }
        }
        assert_eq!(Shard::parse("2/8").unwrap(), Shard { index: 2, count: 8 });
        for bad in ["0/4", "5/4", "x/4", "2", "1/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn csv_lines_split_with_quoted_commas_and_quotes() {
        assert_eq!(split_csv_line("1,failed,\"a, \"\"b\"\"\",2e0"), ["1", "failed", "a, \"b\"", "2e0"]);
    }
}
