//! The ingest log: where the staging inbox (`staging`) makes deliveries durable before their
//! ack. An append-only log of numbered records in preallocated segment files, in a directory
//! beside the store (`<store>.ingest/`).
//!
//! Why not a redb table, as before: an ack waits for its batch's commit, and a redb commit
//! rewrites a B-tree path, its allocator state and its header, then flushes: measured on the
//! 2-core box, ~250–350 µs for a batch of 12 deliveries, against ~100 µs for one write of the
//! same bytes into a preallocated file and one `fdatasync` (README, "Performance"). No
//! maintained crate offers that log (okaywal, the nearest, calls itself not ready for
//! production), and what it needs is small: the format and its recovery are here, with their
//! tests.
//!
//! The format:
//! - A segment file starts with a 32-byte header: magic `asyncbot-ingest1`'s first 8 bytes
//!   (`AB-INGST`), a salt (random per segment instance), the sequence number of its first
//!   record, 4 reserved bytes, and a CRC-32 of the 28 bytes before it.
//! - Records follow one another: payload length (u32), CRC-32 of salt, sequence number and
//!   payload (u32), sequence number (u64), payload. Little-endian throughout.
//! - Files are preallocated (zero-filled and flushed once when created), so that an append's
//!   `fdatasync` writes data and no file-size or block-allocation metadata. A segment whose
//!   records have all been imported is reused (its header rewritten with a new salt).
//!
//! Recovery reads every segment from its header and follows its records while each is whole
//! (its CRC matches) and numbered one more than the one before. What stops it: the end of what
//! was written (zeros), a record torn by a crash (never acked: its batch's `fdatasync` had not
//! returned), or what is left of the segment's previous use (lower numbers, and another salt in
//! their CRCs). A batch is written into one segment, so a crash tears one chain. After a
//! restart the log never appends to a segment written before it: a record written whole but
//! never acked behind a torn one can never be taken for part of a later chain.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

const MAGIC: [u8; 8] = *b"AB-INGST";
const HEADER: u64 = 32;
const RECORD_HEADER: u64 = 16;
/// The first segment after an open: small, so that a store that takes few deliveries (and a
/// test) never writes megabytes of zeros. Each next segment doubles, up to [`MAX_SEGMENT`].
const FIRST_SEGMENT: u64 = 64 << 10;
/// A full-size segment: ~9 000 deliveries of Slack's usual size.
pub(super) const MAX_SEGMENT: u64 = 8 << 20;
/// Imported full-size segments kept for reuse; more are deleted.
const SPARES: usize = 2;
const EXTENSION: &str = "seg";

/// One segment holding records not yet released, as known in memory.
struct Segment {
    file: Arc<File>,
    path: PathBuf,
    size: u64,
    salt: u64,
    first_seq: u64,
    /// Where each record starts: record `first_seq + i` at `offsets[i]`.
    offsets: Vec<u32>,
    /// Where the next record goes: the end of the last durable one.
    end: u64,
}

impl Segment {
    /// The last record's sequence number; `first_seq - 1` when it holds none.
    fn last_seq(&self) -> u64 {
        self.first_seq + self.offsets.len() as u64 - 1
    }
}

/// A segment file ready for reuse.
struct Spare {
    file: File,
    path: PathBuf,
    size: u64,
}

/// What one append writes, into one segment.
struct Chunk {
    file: Arc<File>,
    /// A segment new to this append (its file's path), or `None` for the one appended to.
    path: Option<PathBuf>,
    salt: u64,
    size: u64,
    /// Where the bytes go in the file.
    start: u64,
    bytes: Vec<u8>,
    first_seq: u64,
    offsets: Vec<u32>,
}

/// A record read back: its sequence number and payload, or `None` when it no longer reads as
/// written (a disk's corruption).
pub(super) type Record = (u64, Option<Vec<u8>>);

pub(super) struct IngestLog {
    dir: PathBuf,
    durable: bool,
    /// The size of a full segment: [`MAX_SEGMENT`], smaller in tests.
    max_segment: u64,
    /// Segments with records not yet released, oldest first. After the first append since
    /// open, the last one is the one appended to.
    segments: Mutex<VecDeque<Segment>>,
    /// Whether the last segment is appended to (none written before this open ever is).
    writing: AtomicBool,
    spares: Mutex<Vec<Spare>>,
    /// Set when a write or flush failed after it began (what failed): what the disk holds is
    /// then unknown, and nothing more is appended (or acked) until a restart recovers from the
    /// files. `/healthz` reports it.
    failed: OnceLock<String>,
    /// The number in the next new segment file's name.
    next_file: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update below is made after its I/O succeeded, in plain steps: a panic elsewhere
    // cannot leave the state half-changed.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn crc(salt: u64, seq: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&salt.to_le_bytes());
    h.update(&seq.to_le_bytes());
    h.update(payload);
    h.finalize()
}

fn header(salt: u64, first_seq: u64) -> [u8; HEADER as usize] {
    let mut h = [0u8; HEADER as usize];
    h[..8].copy_from_slice(&MAGIC);
    h[8..16].copy_from_slice(&salt.to_le_bytes());
    h[16..24].copy_from_slice(&first_seq.to_le_bytes());
    let sum = crc32fast::hash(&h[..28]);
    h[28..].copy_from_slice(&sum.to_le_bytes());
    h
}

/// The salt and first sequence number of a segment's header, if it reads as one.
fn read_header(bytes: &[u8]) -> Option<(u64, u64)> {
    let h = bytes.get(..HEADER as usize)?;
    if h[..8] != MAGIC || crc32fast::hash(&h[..28]).to_le_bytes() != h[28..32] {
        return None;
    }
    let salt = u64::from_le_bytes(h[8..16].try_into().ok()?);
    let first = u64::from_le_bytes(h[16..24].try_into().ok()?);
    Some((salt, first))
}

fn encode_record(buf: &mut Vec<u8>, salt: u64, seq: u64, payload: &[u8]) {
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&crc(salt, seq, payload).to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(payload);
}

/// The record at the start of `bytes`, if it is whole and numbered `seq`: its payload and
/// length on disk.
fn decode_record(bytes: &[u8], salt: u64, seq: u64) -> Option<(&[u8], usize)> {
    let head = bytes.get(..RECORD_HEADER as usize)?;
    let len = u32::from_le_bytes(head[..4].try_into().ok()?) as usize;
    let sum = u32::from_le_bytes(head[4..8].try_into().ok()?);
    let found = u64::from_le_bytes(head[8..16].try_into().ok()?);
    let payload = bytes.get(RECORD_HEADER as usize..RECORD_HEADER as usize + len)?;
    (found == seq && crc(salt, seq, payload) == sum)
        .then_some((payload, RECORD_HEADER as usize + len))
}

/// A salt no earlier instance of a segment had: std's per-process random hasher keys, mixed
/// with a counter and the clock.
fn new_salt() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

#[cfg(unix)]
fn write_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
compile_error!(
    "the ingest log reads and writes at offsets with Unix's positional I/O: asyncbot builds for Linux and other Unix systems"
);

/// Makes a new file's name in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl IngestLog {
    /// Opens (or creates) the log in `dir`. Every record numbered above `after` (not yet
    /// imported) is handed to `recovered`, in order; segments holding none are kept for reuse
    /// or deleted. Returns the log and the last sequence number it holds (`after` if none).
    pub(super) fn open(
        dir: &Path,
        durable: bool,
        after: u64,
        recovered: impl FnMut(u64, &[u8]),
    ) -> io::Result<(Self, u64)> {
        Self::open_sized(dir, durable, after, MAX_SEGMENT, recovered)
    }

    /// [`IngestLog::open`], with full segments of `max_segment` bytes.
    fn open_sized(
        dir: &Path,
        durable: bool,
        after: u64,
        max_segment: u64,
        mut recovered: impl FnMut(u64, &[u8]),
    ) -> io::Result<(Self, u64)> {
        std::fs::create_dir_all(dir)?;
        // First each file's header, to put the segments in order; then each segment read once,
        // in that order. A file without a header (never written to, or its header torn before
        // any record was acked) is not read further.
        let mut headed = Vec::new();
        let mut spares = Vec::new();
        let mut highest_file = 0;
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == EXTENSION))
            .collect();
        entries.sort();
        for path in entries {
            if let Some(n) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u64>().ok())
            {
                highest_file = highest_file.max(n);
            }
            let file = OpenOptions::new().read(true).write(true).open(&path)?;
            let size = file.metadata()?.len();
            let mut head = [0u8; HEADER as usize];
            match read_at(&file, &mut head, 0)
                .ok()
                .and_then(|()| read_header(&head))
            {
                Some((salt, first_seq)) => headed.push((first_seq, salt, file, path, size)),
                None => spares.push(Spare { file, path, size }),
            }
        }
        headed.sort_by_key(|&(first_seq, ..)| first_seq);
        let mut segments = VecDeque::new();
        let mut last = after;
        let mut previous: Option<u64> = None;
        for (first_seq, salt, file, path, size) in headed {
            let mut bytes = vec![0u8; size as usize];
            read_at(&file, &mut bytes, 0)?;
            let mut offsets = Vec::new();
            let mut at = HEADER as usize;
            while let Some((_, len)) =
                decode_record(&bytes[at..], salt, first_seq + offsets.len() as u64)
            {
                offsets.push(at as u32);
                at += len;
            }
            let segment = Segment {
                file: Arc::new(file),
                path,
                size,
                salt,
                first_seq,
                offsets,
                end: at as u64,
            };
            if segment.offsets.is_empty() || segment.last_seq() <= after {
                // Nothing in it waits for import (a first record torn leaves only a header).
                spares.push(Spare {
                    file: Arc::into_inner(segment.file).expect("not shared yet"),
                    path: segment.path,
                    size,
                });
                continue;
            }
            if previous.is_some_and(|p| segment.first_seq <= p) {
                // Two segments claim the same numbers: only a damaged disk does that. The
                // later one is set aside, untouched, for whoever looks into it.
                let aside = segment.path.with_extension("set-aside");
                tracing::error!(path = %segment.path.display(), aside = %aside.display(), "an ingest log segment overlaps another; set aside");
                std::fs::rename(&segment.path, &aside)?;
                continue;
            }
            let skip = (after + 1).saturating_sub(segment.first_seq) as usize;
            for (i, &offset) in segment.offsets.iter().enumerate().skip(skip) {
                let seq = segment.first_seq + i as u64;
                let (payload, _) = decode_record(&bytes[offset as usize..], segment.salt, seq)
                    .expect("read whole above");
                recovered(seq, payload);
            }
            if let Some(p) = previous.filter(|&p| segment.first_seq > p + 1) {
                tracing::error!(
                    from = p + 1,
                    to = segment.first_seq - 1,
                    "records are missing from the ingest log (a damaged disk?); the ones after them are imported"
                );
            }
            last = last.max(segment.last_seq());
            previous = Some(segment.last_seq());
            segments.push_back(segment);
        }
        let log = IngestLog {
            dir: dir.to_owned(),
            durable,
            max_segment,
            segments: Mutex::new(segments),
            writing: AtomicBool::new(false),
            spares: Mutex::new(Vec::new()),
            failed: OnceLock::new(),
            next_file: AtomicU64::new(highest_file + 1),
        };
        log.keep_or_delete(spares)?;
        Ok((log, last))
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Why appends stopped, if a write or flush failed (see `failed`).
    pub(super) fn failure(&self) -> Option<&str> {
        self.failed.get().map(String::as_str)
    }

    /// Appends `records` (numbered on from the last, in order) and makes them durable. An
    /// error means none of them may be acked. Appends are not concurrent (the caller holds
    /// the staging lock).
    pub(super) fn append(&self, records: &[(u64, &[u8])]) -> io::Result<()> {
        if let Some(why) = self.failed.get() {
            return Err(io::Error::other(format!(
                "an earlier write to the ingest log failed ({why}); restart asyncbot to recover"
            )));
        }
        let Some(&(first, _)) = records.first() else {
            return Ok(());
        };
        // Where the first record goes: the segment being appended to, if any.
        let mut chunk: Option<Chunk> = {
            let segments = lock(&self.segments);
            match segments.back() {
                Some(s) if self.writing.load(Ordering::Acquire) => {
                    debug_assert_eq!(s.last_seq() + 1, first);
                    Some(Chunk {
                        file: s.file.clone(),
                        path: None,
                        salt: s.salt,
                        size: s.size,
                        start: s.end,
                        bytes: Vec::new(),
                        first_seq: s.first_seq,
                        offsets: Vec::new(),
                    })
                }
                _ => None,
            }
        };
        // The whole batch goes into one segment: a crash in the middle of its write then
        // tears one chain, and recovery stops at the first torn record of the batch.
        let bytes: u64 = records
            .iter()
            .map(|(_, p)| RECORD_HEADER + p.len() as u64)
            .sum();
        if chunk.as_ref().is_none_or(|c| c.start + bytes > c.size) {
            let last_size = chunk.as_ref().map_or(FIRST_SEGMENT / 2, |c| c.size);
            let size = (last_size * 2)
                .clamp(FIRST_SEGMENT.min(self.max_segment), self.max_segment)
                .max(HEADER + bytes);
            // Nothing is written yet if this fails: the log stays as it was.
            let (file, path, size) = self.take_or_create(size)?;
            let salt = new_salt();
            let mut head = Vec::with_capacity((HEADER + bytes) as usize);
            head.extend_from_slice(&header(salt, first));
            chunk = Some(Chunk {
                file: Arc::new(file),
                path: Some(path),
                salt,
                size,
                start: 0,
                bytes: head,
                first_seq: first,
                offsets: Vec::new(),
            });
        }
        let mut c = chunk.expect("a segment was found or made above");
        c.bytes.reserve(bytes as usize);
        for &(seq, payload) in records {
            c.offsets.push((c.start + c.bytes.len() as u64) as u32);
            encode_record(&mut c.bytes, c.salt, seq, payload);
        }
        let written = write_at(&c.file, &c.bytes, c.start).and_then(|()| {
            if self.durable {
                c.file.sync_data()?;
            }
            Ok(())
        });
        if let Err(e) = written {
            let _ = self.failed.set(e.to_string());
            return Err(e);
        }
        let end = c.start + c.bytes.len() as u64;
        let mut segments = lock(&self.segments);
        match c.path {
            None => {
                let s = segments.back_mut().expect("the segment appended to");
                s.offsets.extend(c.offsets);
                s.end = end;
            }
            Some(path) => segments.push_back(Segment {
                file: c.file,
                path,
                size: c.size,
                salt: c.salt,
                first_seq: c.first_seq,
                offsets: c.offsets,
                end,
            }),
        }
        self.writing.store(true, Ordering::Release);
        Ok(())
    }

    /// A segment file of at least `size` bytes to write a new segment into: a spare if one is
    /// big enough, else a new file, preallocated and flushed.
    fn take_or_create(&self, size: u64) -> io::Result<(File, PathBuf, u64)> {
        {
            let mut spares = lock(&self.spares);
            if let Some(i) = spares.iter().position(|s| s.size >= size) {
                let s = spares.swap_remove(i);
                return Ok((s.file, s.path, s.size));
            }
        }
        self.create(size)
    }

    fn create(&self, size: u64) -> io::Result<(File, PathBuf, u64)> {
        let n = self.next_file.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("{n:020}.{EXTENSION}"));
        let made = (|| {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)?;
            if self.durable {
                // Zeros written, not a hole: an append then changes no block allocation.
                let zeros = vec![0u8; 1 << 20];
                let mut at = 0;
                while at < size {
                    let n = (size - at).min(zeros.len() as u64);
                    write_at(&file, &zeros[..n as usize], at)?;
                    at += n;
                }
                file.sync_all()?;
                sync_dir(&self.dir)?;
            } else {
                file.set_len(size)?;
            }
            Ok(file)
        })();
        match made {
            Ok(file) => Ok((file, path, size)),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e)
            }
        }
    }

    /// Keeps full-size segment files for reuse, up to [`SPARES`], and deletes the rest.
    fn keep_or_delete(&self, files: Vec<Spare>) -> io::Result<()> {
        let mut spares = lock(&self.spares);
        for s in files {
            if s.size == self.max_segment && spares.len() < SPARES {
                spares.push(s);
            } else {
                drop(s.file);
                std::fs::remove_file(&s.path)?;
            }
        }
        Ok(())
    }

    /// Up to `limit` records numbered from `from` on, in order (fewer at the end of the log).
    pub(super) fn read_from(&self, from: u64, limit: usize) -> io::Result<Vec<Record>> {
        // What to read, found under the lock; read without it.
        let mut plan = Vec::new();
        {
            let segments = lock(&self.segments);
            let mut left = limit;
            for s in segments.iter() {
                if left == 0 {
                    break;
                }
                if s.offsets.is_empty() || s.last_seq() < from {
                    continue;
                }
                let skip = from.saturating_sub(s.first_seq) as usize;
                let take = (s.offsets.len() - skip).min(left);
                left -= take;
                let start = s.offsets[skip] as u64;
                let stop = s.offsets.get(skip + take).map_or(s.end, |&o| o as u64);
                plan.push((
                    s.file.clone(),
                    s.salt,
                    s.first_seq + skip as u64,
                    s.offsets[skip..skip + take].to_vec(),
                    start,
                    stop,
                ));
            }
        }
        let mut records = Vec::with_capacity(limit.min(4096));
        for (file, salt, first, offsets, start, stop) in plan {
            let mut bytes = vec![0u8; (stop - start) as usize];
            read_at(&file, &mut bytes, start)?;
            for (i, offset) in offsets.into_iter().enumerate() {
                let seq = first + i as u64;
                let at = (offset as u64 - start) as usize;
                let payload =
                    decode_record(&bytes[at..], salt, seq).map(|(payload, _)| payload.to_vec());
                records.push((seq, payload));
            }
        }
        Ok(records)
    }

    /// Lets go of every segment whose records are all numbered `through` or below (imported),
    /// except the one appended to: they are kept for reuse or deleted.
    pub(super) fn release_through(&self, through: u64) -> io::Result<()> {
        let mut released = Vec::new();
        {
            let mut segments = lock(&self.segments);
            let writing = self.writing.load(Ordering::Acquire);
            while segments
                .front()
                .is_some_and(|s| s.last_seq() <= through && !(writing && segments.len() == 1))
            {
                released.extend(segments.pop_front());
            }
        }
        let spares = released
            .into_iter()
            .filter_map(|s| {
                // A reader may still hold the file for a moment: then it is simply deleted.
                Arc::into_inner(s.file)
                    .map(|file| Spare {
                        file,
                        path: s.path.clone(),
                        size: s.size,
                    })
                    .or_else(|| {
                        let _ = std::fs::remove_file(&s.path);
                        None
                    })
            })
            .collect();
        self.keep_or_delete(spares)
    }

    /// Makes sure a full-size spare is ready once segments are full-size, so that the next
    /// append that fills one does not wait for a new file to be written: called by the
    /// importer, off the acks' path.
    pub(super) fn prepare_spare(&self) -> io::Result<()> {
        let writing_full_size = self.writing.load(Ordering::Acquire)
            && lock(&self.segments)
                .back()
                .is_some_and(|s| s.size == self.max_segment);
        if !writing_full_size || !lock(&self.spares).is_empty() {
            return Ok(());
        }
        let (file, path, size) = self.create(self.max_segment)?;
        self.keep_or_delete(vec![Spare { file, path, size }])
    }

    /// Records in the log's segments, released or not yet (for tests).
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        lock(&self.segments).iter().map(|s| s.offsets.len()).sum()
    }

    /// Segment files in the directory (for tests).
    #[cfg(test)]
    pub(super) fn files(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == EXTENSION)
            })
            .count()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Full segments of 128 KiB: a first one of 64 KiB, then full ones.
    const SMALL: u64 = 128 << 10;

    type Records = Vec<(u64, Vec<u8>)>;

    fn open(dir: &Path, after: u64) -> (IngestLog, u64, Records) {
        let mut got = Vec::new();
        let (log, last) = IngestLog::open_sized(dir, false, after, SMALL, |seq, p| {
            got.push((seq, p.to_vec()))
        })
        .unwrap();
        (log, last, got)
    }

    fn payload(seq: u64, salt: u8, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (seq as usize * 31 + i) as u8 ^ salt)
            .collect()
    }

    /// Appends records numbered from `from`, of the lengths given.
    fn append(log: &IngestLog, from: u64, salt: u8, lens: &[usize]) -> Records {
        let records: Records = lens
            .iter()
            .enumerate()
            .map(|(i, &len)| (from + i as u64, payload(from + i as u64, salt, len)))
            .collect();
        let refs: Vec<(u64, &[u8])> = records.iter().map(|(s, p)| (*s, p.as_slice())).collect();
        log.append(&refs).unwrap();
        records
    }

    fn read_all(log: &IngestLog, from: u64) -> Records {
        log.read_from(from, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|(seq, p)| (seq, p.expect("reads as written")))
            .collect()
    }

    /// Damages record `seq` on disk, as a crash in the middle of its write would.
    fn tear(log: &IngestLog, seq: u64, at: usize) {
        let segments = lock(&log.segments);
        let s = segments
            .iter()
            .find(|s| s.first_seq <= seq && seq <= s.last_seq())
            .unwrap();
        let offset = s.offsets[(seq - s.first_seq) as usize] as u64;
        let end = s
            .offsets
            .get((seq - s.first_seq) as usize + 1)
            .map_or(s.end, |&o| o as u64);
        let pos = offset + at as u64 % (end - offset);
        let mut byte = [0u8];
        read_at(&s.file, &mut byte, pos).unwrap();
        write_at(&s.file, &[byte[0] ^ 0x5a], pos).unwrap();
    }

    #[test]
    fn records_read_back_in_order_across_segments_and_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (log, last, got) = open(dir.path(), 0);
        assert_eq!((last, got.len()), (0, 0));
        let mut all = Vec::new();
        for _ in 0..40 {
            all.extend(append(&log, all.len() as u64 + 1, 0, &[1000, 5000, 0, 20]));
        }
        // 40 × ~6 KB: a 64 KiB segment, then 128 KiB ones.
        assert!(lock(&log.segments).len() >= 3);
        assert_eq!(read_all(&log, 1), all);
        assert_eq!(read_all(&log, 151), all[150..]);
        assert_eq!(log.read_from(50, 10).unwrap().len(), 10);
        assert_eq!(log.read_from(50, 10).unwrap()[0].0, 50);
        assert!(log.read_from(161, 10).unwrap().is_empty());
        drop(log);

        let (log, last, got) = open(dir.path(), 0);
        assert_eq!((last, &got), (160, &all));
        assert_eq!(read_all(&log, 1), all);
        drop(log);

        // Imported through 100: the segments holding only those are let go of at open.
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        let (log, last, got) = open(dir.path(), 100);
        assert_eq!((last, &got[..]), (160, &all[100..]));
        assert!(log.files() < files);
        assert_eq!(read_all(&log, 101), all[100..]);
        // Appends go on in a new segment, never the last one written before the open.
        let before = lock(&log.segments).len();
        append(&log, 161, 0, &[10]);
        assert_eq!(lock(&log.segments).len(), before + 1);
    }

    #[test]
    fn a_torn_record_ends_recovery_and_what_was_behind_it_never_returns() {
        let dir = tempfile::tempdir().unwrap();
        let (log, ..) = open(dir.path(), 0);
        let first = append(&log, 1, 0, &[100, 100, 100]);
        // Record 2 torn; record 3 whole behind it (its batch never flushed: never acked).
        tear(&log, 2, 30);
        drop(log);
        let (log, last, got) = open(dir.path(), 0);
        assert_eq!((last, &got[..]), (1, &first[..1]));
        // Numbering goes on from the last whole record, in a new segment.
        let again = append(&log, 2, 7, &[100, 100]);
        drop(log);
        let (log, last, got) = open(dir.path(), 0);
        let expected: Records = first[..1].iter().chain(&again).cloned().collect();
        assert_eq!((last, &got), (3, &expected));
        assert_eq!(read_all(&log, 1), expected);
        // A torn header (a record's length) ends it the same way.
        let (log, ..) = open(dir.path(), 3);
        append(&log, 4, 0, &[50, 50]);
        tear(&log, 4, 1);
        drop(log);
        let (_, last, got) = open(dir.path(), 3);
        assert_eq!((last, got.len()), (3, 0));
    }

    #[test]
    fn released_segments_are_reused_and_show_nothing_of_their_past() {
        let dir = tempfile::tempdir().unwrap();
        let (log, ..) = open(dir.path(), 0);
        let mut next = 1;
        for _ in 0..120 {
            next += append(&log, next, 0, &[4000]).len() as u64;
        }
        // All imported: every segment but the one appended to goes; full-size ones are kept.
        log.release_through(next - 1).unwrap();
        assert_eq!(lock(&log.segments).len(), 1);
        assert_eq!(lock(&log.spares).len(), SPARES);
        assert_eq!(log.files(), 1 + SPARES);
        // Appending another 60 reuses the spares (each one full-size segment's worth).
        let mut later = Vec::new();
        for _ in 0..60 {
            let batch = append(&log, next, 9, &[4000]);
            next += batch.len() as u64;
            later.extend(batch);
            let held = log.files();
            log.release_through(next - 40).unwrap();
            assert!(log.files() <= held);
        }
        assert!(log.files() <= 2 + SPARES, "{} files", log.files());
        let kept = read_all(&log, next - 39);
        drop(log);
        // Only what is above the import comes back, though reused files hold older records.
        let (_, last, got) = open(dir.path(), next - 40);
        assert_eq!(last, next - 1);
        assert_eq!(got, kept);
        assert_eq!(got, later[later.len() - 39..]);
    }

    #[test]
    fn the_segment_appended_to_is_kept_and_a_spare_is_prepared_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let (log, ..) = open(dir.path(), 0);
        append(&log, 1, 0, &[10, 10, 10]);
        log.release_through(3).unwrap();
        assert_eq!(log.held(), 3);
        // A 64 KiB segment: no spare yet (they are full-size).
        log.prepare_spare().unwrap();
        assert!(lock(&log.spares).is_empty());
        append(&log, 4, 0, &[70_000]);
        log.prepare_spare().unwrap();
        assert_eq!(lock(&log.spares).len(), 1);
        assert_eq!(lock(&log.spares)[0].size, SMALL);
        // The next segment takes it: no new file.
        let files = log.files();
        append(&log, 5, 0, &[70_000]);
        assert_eq!(log.files(), files);
    }

    #[test]
    fn a_failed_write_stops_every_append_until_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (log, ..) = open(dir.path(), 0);
        append(&log, 1, 0, &[10]);
        assert_eq!(log.failure(), None);
        // The segment's file handle swapped for a read-only one: the next write fails.
        {
            let mut segments = lock(&log.segments);
            let s = segments.back_mut().unwrap();
            s.file = Arc::new(File::open(&s.path).unwrap());
        }
        let two = payload(2, 0, 10);
        assert!(log.append(&[(2, two.as_slice())]).is_err());
        let why = log
            .failure()
            .expect("the log says why it stopped")
            .to_owned();
        // Another segment would be writable; the log still refuses: the disk's state is unknown.
        let err = log.append(&[(2, two.as_slice())]).unwrap_err().to_string();
        assert!(
            err.contains("restart asyncbot") && err.contains(&why),
            "{err}"
        );
        drop(log);
        let (log, last, got) = open(dir.path(), 0);
        assert_eq!((last, got.len(), log.failure()), (1, 1, None));
        append(&log, 2, 0, &[10]);
    }

    #[test]
    fn a_damaged_record_reads_as_none_and_the_rest_read_on() {
        let dir = tempfile::tempdir().unwrap();
        let (log, ..) = open(dir.path(), 0);
        append(&log, 1, 0, &[100, 100, 100]);
        tear(&log, 2, 40);
        let read = log.read_from(1, 10).unwrap();
        assert_eq!(read.len(), 3);
        assert!(read[0].1.is_some() && read[1].1.is_none() && read[2].1.is_some());
    }

    #[test]
    fn durable_segments_are_written_out_before_use() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = IngestLog::open_sized(dir.path(), true, 0, SMALL, |_, _| {}).unwrap();
        append(&log, 1, 0, &[10]);
        let segments = lock(&log.segments);
        let meta = std::fs::metadata(&segments[0].path).unwrap();
        assert_eq!(meta.len(), FIRST_SEGMENT);
        use std::os::unix::fs::MetadataExt;
        assert_eq!(meta.blocks() * 512, FIRST_SEGMENT, "no hole in it");
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// A batch of records of these lengths, flushed and acked.
        Append(Vec<usize>),
        /// A batch whose write the process dies in: the record at this index is torn.
        Torn(Vec<usize>, usize, usize),
        /// The engine imports (and the log lets go of) up to this fraction of what is held.
        Import(u8),
        /// The process stops and starts again.
        Restart,
    }

    fn op() -> impl Strategy<Value = Op> {
        let lens = || proptest::collection::vec(prop_oneof![0usize..64, 1000usize..20_000], 1..8);
        prop_oneof![
            5 => lens().prop_map(Op::Append),
            1 => (lens(), any::<usize>(), any::<usize>()).prop_map(|(l, i, at)| {
                let i = i % l.len();
                Op::Torn(l, i, at)
            }),
            2 => (0u8..=4).prop_map(Op::Import),
            1 => Just(Op::Restart),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever the appends, crashes in the middle of one, imports and restarts: a restart
        /// recovers exactly the whole records above the import, in order, as written.
        #[test]
        fn recovery_returns_exactly_what_was_written_whole_and_not_imported(ops in proptest::collection::vec(op(), 1..30)) {
            let dir = tempfile::tempdir().unwrap();
            let (mut log, ..) = open(dir.path(), 0);
            let (mut written, mut through) = (Records::new(), 0u64);
            let mut salt = 0u8;
            for op in ops {
                salt = salt.wrapping_add(1);
                let next = written.last().map_or(through, |(s, _)| *s) + 1;
                let restart = match op {
                    Op::Append(lens) => {
                        written.extend(append(&log, next, salt, &lens));
                        false
                    }
                    Op::Torn(lens, i, at) => {
                        let batch = append(&log, next, salt, &lens);
                        tear(&log, next + i as u64, at);
                        written.extend(batch.into_iter().take(i));
                        true
                    }
                    Op::Import(quarters) => {
                        let held: Vec<u64> = written.iter().map(|(s, _)| *s).filter(|&s| s > through).collect();
                        if let Some(&to) = held.get(held.len() * quarters as usize / 4) {
                            through = to;
                            log.release_through(through).unwrap();
                        }
                        false
                    }
                    Op::Restart => true,
                };
                if restart {
                    drop(log);
                    let (again, last, got) = open(dir.path(), through);
                    let expected: Records = written.iter().filter(|(s, _)| *s > through).cloned().collect();
                    prop_assert_eq!(last, written.last().map_or(through, |(s, _)| *s).max(through));
                    prop_assert_eq!(&got, &expected);
                    log = again;
                }
                let expected: Records = written.iter().filter(|(s, _)| *s > through).cloned().collect();
                prop_assert_eq!(read_all(&log, through + 1), expected);
            }
        }
    }
}
