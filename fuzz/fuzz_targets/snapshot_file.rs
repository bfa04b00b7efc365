//! The snapshot file reader `reprise snapshot restore` checks a file with
//! before anything is written: magic, format, header, frames in order,
//! lengths the rest of the file cannot hold, entry counts, the checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use projections::snapshot_file::{scan, SnapshotReader};

fuzz_target!(|data: &[u8]| {
    let reader = SnapshotReader::new(data, data.len() as u64, "input".into());
    let _ = scan::<serde_json::Value, _>(reader);
});
