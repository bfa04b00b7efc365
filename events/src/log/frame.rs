//! How the embedded log writes one record down.
//!
//! Format 2 (this build): `crc32 u32 | timestamp i64 | key len u32 | key |
//! header count u16 | (name len u16 | name | value len u32 | value)* |
//! value`, big-endian, the CRC-32 (IEEE) over everything after it, so a
//! damaged record is refused by its offset rather than read as another
//! one. Format 1 (the sled-based build) is the same without the CRC;
//! [`decode_v1`] reads it to convert such a log.

use super::{LogRecord, OutgoingRecord, TopicPartition};

/// The framed bytes of a record (format 2).
pub fn encode(record: &OutgoingRecord) -> Vec<u8> {
    let headers: usize = record
        .headers
        .iter()
        .map(|(n, v)| 6 + n.len() + v.len())
        .sum();
    let mut out = Vec::with_capacity(18 + record.key.len() + headers + record.value.len());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&record.timestamp_ms.to_be_bytes());
    out.extend_from_slice(&(record.key.len() as u32).to_be_bytes());
    out.extend_from_slice(&record.key);
    out.extend_from_slice(&(record.headers.len() as u16).to_be_bytes());
    for (name, value) in &record.headers {
        out.extend_from_slice(&(name.len() as u16).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value);
    }
    out.extend_from_slice(&record.value);
    let crc = crc32fast::hash(&out[4..]);
    out[..4].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Reads a format 2 record, checking its CRC.
pub fn decode(tp: TopicPartition, offset: u64, bytes: &[u8]) -> Result<LogRecord, &'static str> {
    let (crc, body) = bytes
        .split_first_chunk::<4>()
        .ok_or("record cut short before its checksum")?;
    if u32::from_be_bytes(*crc) != crc32fast::hash(body) {
        return Err("record fails its checksum");
    }
    decode_v1(tp, offset, body).ok_or("record frame does not parse")
}

/// Reads a format 1 record (no checksum): what the sled-based build wrote.
pub fn decode_v1(tp: TopicPartition, offset: u64, bytes: &[u8]) -> Option<LogRecord> {
    struct Cursor<'a>(&'a [u8]);
    impl<'a> Cursor<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            if self.0.len() < n {
                return None;
            }
            let (head, rest) = self.0.split_at(n);
            self.0 = rest;
            Some(head)
        }
        fn u16(&mut self) -> Option<usize> {
            Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?) as usize)
        }
        fn u32(&mut self) -> Option<usize> {
            Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?) as usize)
        }
    }
    let mut c = Cursor(bytes);
    let timestamp_ms = i64::from_be_bytes(c.take(8)?.try_into().ok()?);
    let key_len = c.u32()?;
    let key = c.take(key_len)?.to_vec();
    let header_count = c.u16()?;
    let mut headers = Vec::with_capacity(header_count);
    for _ in 0..header_count {
        let n = c.u16()?;
        let name = String::from_utf8(c.take(n)?.to_vec()).ok()?;
        let v = c.u32()?;
        headers.push((name, c.take(v)?.to_vec()));
    }
    Some(LogRecord {
        domain: tp.domain,
        partition: tp.partition,
        offset,
        timestamp_ms,
        key,
        headers,
        value: c.0.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Domain;

    #[test]
    fn frames_round_trip_and_damage_is_refused() {
        let rec = OutgoingRecord {
            partition: None,
            key: b"alice@example.com".to_vec(),
            headers: vec![("a".into(), b"1".to_vec()), ("bb".into(), vec![])],
            value: vec![1, 2, 3],
            timestamp_ms: -5,
        };
        let tp = TopicPartition {
            domain: Domain::Seen,
            partition: 3,
        };
        let bytes = encode(&rec);
        let back = decode(tp, 7, &bytes).unwrap();
        assert_eq!(back.key, rec.key);
        assert_eq!(back.headers, rec.headers);
        assert_eq!(back.value, rec.value);
        assert_eq!(back.timestamp_ms, -5);
        assert_eq!((back.partition, back.offset), (3, 7));
        // Format 1 is format 2 without the checksum.
        assert_eq!(decode_v1(tp, 7, &bytes[4..]), Some(back));
        for at in [0, 5, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            assert_eq!(decode(tp, 7, &damaged), Err("record fails its checksum"));
        }
        assert!(decode(tp, 7, &bytes[..3]).is_err());
        assert!(decode_v1(tp, 7, &bytes[4..14]).is_none());
    }
}
