//! Decompile a compiled MeCab dictionary (sys.dic, unk.dic, matrix.bin, char.bin, as shipped in
//! the pyopenjtalk-plus wheel) back into MeCab source form (lexicon CSV, unk.def, matrix.def,
//! char.def), which jpreprocess's dictionary builder consumes. Formats follow MeCab 0.996
//! (dictionary.cpp, connector.cpp, char_property.cpp). Every read is bounds-checked: a damaged
//! file gives an error naming it, never a panic.
use std::fmt::Write as _;

/// One dictionary entry: surface, left/right context ids, cost and the raw feature text
/// (the CSV columns after the cost, exactly as MeCab stored them).
pub struct Entry {
    pub surface: Vec<u8>,
    pub left_id: u16,
    pub right_id: u16,
    pub cost: i16,
    pub feature: Vec<u8>,
}

/// A reader over one file's bytes whose errors name the file.
struct Bytes<'a> {
    name: &'a str,
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    fn slice(&self, offset: usize, len: usize) -> Result<&'a [u8], String> {
        offset
            .checked_add(len)
            .and_then(|end| self.data.get(offset..end))
            .ok_or_else(|| {
                format!(
                    "{}: truncated (wanted {len} bytes at offset {offset})",
                    self.name
                )
            })
    }
    fn array<const N: usize>(&self, offset: usize) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.slice(offset, N)?);
        Ok(out)
    }
    fn u32(&self, offset: usize) -> Result<u32, String> {
        self.array(offset).map(u32::from_le_bytes)
    }
    fn i32(&self, offset: usize) -> Result<i32, String> {
        self.array(offset).map(i32::from_le_bytes)
    }
    fn u16(&self, offset: usize) -> Result<u16, String> {
        self.array(offset).map(u16::from_le_bytes)
    }
    fn i16(&self, offset: usize) -> Result<i16, String> {
        self.array(offset).map(i16::from_le_bytes)
    }
    /// A NUL-terminated string starting at `offset`.
    fn c_str(&self, offset: usize) -> Result<&'a [u8], String> {
        let rest = self.slice(offset, self.data.len().saturating_sub(offset))?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| format!("{}: unterminated string at offset {offset}", self.name))?;
        Ok(&rest[..end])
    }
}

const DIC_MAGIC_XOR: u32 = 0xef71_8f77;
const DIC_VERSION: u32 = 102;
const DIC_HEADER_LEN: usize = 72;
const TOKEN_LEN: usize = 16;
/// Longer keys than this mean a corrupt double array (naist-jdic's longest surface is < 200 bytes).
const MAX_KEY_LEN: usize = 1024;

/// Entries of a compiled MeCab lexicon (sys.dic or unk.dic), in the order of their token index,
/// which is the order of the source CSV: keeps the conversion deterministic.
pub fn read_lexicon(name: &str, data: &[u8]) -> Result<Vec<Entry>, String> {
    let b = Bytes { name, data };
    let magic = b.u32(0)?;
    if (magic ^ DIC_MAGIC_XOR) as usize != data.len() {
        return Err(format!(
            "{name}: not a compiled MeCab dictionary (bad magic/size)"
        ));
    }
    let version = b.u32(4)?;
    if version != DIC_VERSION {
        return Err(format!(
            "{name}: MeCab dictionary version {version}, expected {DIC_VERSION}"
        ));
    }
    let charset_raw = b.slice(40, 32)?;
    let charset_len = charset_raw.iter().position(|&c| c == 0).unwrap_or(32);
    let charset = String::from_utf8_lossy(&charset_raw[..charset_len]).to_lowercase();
    if charset != "utf-8" && charset != "utf8" {
        return Err(format!("{name}: charset {charset}, expected UTF-8"));
    }
    let lexicon_size = b.u32(12)? as usize;
    let da_size = b.u32(24)? as usize;
    let token_size = b.u32(28)? as usize;
    let feature_size = b.u32(32)? as usize;
    let da = Bytes {
        name,
        data: b.slice(DIC_HEADER_LEN, da_size)?,
    };
    let tokens = Bytes {
        name,
        data: b.slice(DIC_HEADER_LEN + da_size, token_size)?,
    };
    let features = Bytes {
        name,
        data: b.slice(DIC_HEADER_LEN + da_size + token_size, feature_size)?,
    };

    let mut indexed: Vec<(usize, Entry)> = Vec::with_capacity(lexicon_size);
    for (key, value) in double_array_entries(&da)? {
        // Darts value: index of the first token << 8 | number of tokens sharing the key.
        let first = (value >> 8) as usize;
        let count = (value & 0xff) as usize;
        for token in first..first + count {
            let o = token * TOKEN_LEN;
            let feature_offset = tokens.u32(o + 8)? as usize;
            indexed.push((
                token,
                Entry {
                    surface: key.clone(),
                    left_id: tokens.u16(o)?,
                    right_id: tokens.u16(o + 2)?,
                    cost: tokens.i16(o + 6)?,
                    feature: features.c_str(feature_offset)?.to_vec(),
                },
            ));
        }
    }
    if indexed.len() != lexicon_size {
        return Err(format!(
            "{name}: found {} entries, header says {lexicon_size}",
            indexed.len()
        ));
    }
    indexed.sort_by_key(|(token, _)| *token);
    Ok(indexed.into_iter().map(|(_, entry)| entry).collect())
}

/// All (key, value) pairs of a Darts 0.32 double array (units of {i32 base, u32 check}).
fn double_array_entries(da: &Bytes) -> Result<Vec<(Vec<u8>, u32)>, String> {
    let units = da.data.len() / 8;
    let base = |i: usize| da.i32(i * 8);
    let check = |i: usize| da.u32(i * 8 + 4);
    let mut out = Vec::new();
    let mut stack: Vec<(i32, Vec<u8>)> = vec![(base(0)?, Vec::new())];
    while let Some((b, key)) = stack.pop() {
        if key.len() > MAX_KEY_LEN {
            return Err(format!(
                "{}: corrupt double array (key longer than {MAX_KEY_LEN} bytes)",
                da.name
            ));
        }
        // The terminal transition (byte 0) sits at index `b`; a negative base holds the value.
        let terminal = b as usize;
        if b >= 0 && terminal < units && check(terminal)? == b as u32 {
            let value = base(terminal)?;
            if value < 0 {
                out.push((key.clone(), (-value - 1) as u32));
            }
        }
        for byte in 0u8..=255 {
            let next = b as i64 + byte as i64 + 1;
            if next >= 0 && (next as usize) < units && check(next as usize)? == b as u32 {
                let mut k = key.clone();
                k.push(byte);
                stack.push((base(next as usize)?, k));
            }
        }
    }
    Ok(out)
}

/// Lexicon rows as MeCab CSV: `surface,left,right,cost,feature` (the feature is already CSV).
pub fn lexicon_csv(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 64);
    for e in entries {
        if e.surface.iter().any(|&c| c == b',' || c == b'"') {
            out.push(b'"');
            for &c in &e.surface {
                if c == b'"' {
                    out.push(b'"');
                }
                out.push(c);
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(&e.surface);
        }
        out.extend_from_slice(format!(",{},{},{},", e.left_id, e.right_id, e.cost).as_bytes());
        out.extend_from_slice(&e.feature);
        out.push(b'\n');
    }
    out
}

/// matrix.bin -> matrix.def ("left right" header, then "l r cost" lines).
pub fn matrix_def(data: &[u8]) -> Result<String, String> {
    let b = Bytes {
        name: "matrix.bin",
        data,
    };
    let lsize = b.u16(0)? as usize;
    let rsize = b.u16(2)? as usize;
    if data.len() != 4 + 2 * lsize * rsize {
        return Err(format!(
            "matrix.bin: {} bytes, expected {} for {lsize}x{rsize}",
            data.len(),
            4 + 2 * lsize * rsize
        ));
    }
    let mut out = String::with_capacity(lsize * rsize * 12);
    let _ = writeln!(out, "{lsize} {rsize}");
    for l in 0..lsize {
        for r in 0..rsize {
            let _ = writeln!(out, "{l} {r} {}", b.i16(4 + 2 * (l + lsize * r))?);
        }
    }
    Ok(out)
}

/// char.bin -> char.def: category lines ("NAME invoke group length"), then code point ranges.
pub fn char_def(data: &[u8]) -> Result<String, String> {
    const CODE_POINTS: usize = 0xffff;
    let b = Bytes {
        name: "char.bin",
        data,
    };
    let category_count = b.u32(0)? as usize;
    let mut names = Vec::with_capacity(category_count.min(64));
    for i in 0..category_count {
        let raw = b.slice(4 + 32 * i, 32)?;
        let len = raw.iter().position(|&c| c == 0).unwrap_or(32);
        names.push(String::from_utf8_lossy(&raw[..len]).into_owned());
    }
    let table = 4 + 32 * category_count;
    let info = |cp: usize| b.u32(table + 4 * cp);
    // CharInfo bit field (LSB first): type:18, default_type:8, length:4, group:1, invoke:1.
    let default_type = |x: u32| ((x >> 18) & 0xff) as usize;
    let category = |i: usize| {
        names
            .get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("char.bin: category index {i} out of range"))
    };

    // The per-category flags are stored on every code point whose default type it is.
    let mut flags: Vec<Option<(u32, u32, u32)>> = vec![None; category_count];
    for cp in 0..CODE_POINTS {
        let x = info(cp)?;
        let slot = flags
            .get_mut(default_type(x))
            .ok_or_else(|| format!("char.bin: category index {} out of range", default_type(x)))?;
        slot.get_or_insert(((x >> 31) & 1, (x >> 30) & 1, (x >> 26) & 0xf));
    }
    let mut out = String::new();
    for (name, flag) in names.iter().zip(&flags) {
        // A category no code point defaults to keeps no recoverable flags; MeCab's usual "0 1 0".
        let (invoke, group, length) = flag.unwrap_or((0, 1, 0));
        let _ = writeln!(out, "{name} {invoke} {group} {length}");
    }
    let default_id = names.iter().position(|n| n == "DEFAULT").unwrap_or(0);
    let mut cp = 0;
    while cp < CODE_POINTS {
        let x = info(cp)?;
        let mut end = cp;
        while end + 1 < CODE_POINTS && info(end + 1)? == x {
            end += 1;
        }
        let type_bits = x & 0x3ffff;
        if !(default_type(x) == default_id && type_bits == 1 << default_id) {
            let mut cats = vec![category(default_type(x))?];
            for i in (0..category_count.min(18))
                .filter(|&i| i != default_type(x) && type_bits & (1 << i) != 0)
            {
                cats.push(category(i)?);
            }
            let cats = cats.join(" ");
            if end == cp {
                let _ = writeln!(out, "0x{cp:04X} {cats}");
            } else {
                let _ = writeln!(out, "0x{cp:04X}..0x{end:04X} {cats}");
            }
        }
        cp = end + 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage_without_panicking() {
        for data in [&b""[..], b"abc", &[0u8; 100], &[0xffu8; 300]] {
            assert!(read_lexicon("sys.dic", data).is_err());
            assert!(matrix_def(data).is_err());
            assert!(char_def(data).is_err());
        }
    }

    #[test]
    fn matrix_round_trip() {
        // 2 left x 1 right: costs stored column-major by left id.
        let data = [2, 0, 1, 0, 5, 0, 0xfe, 0xff];
        assert_eq!(matrix_def(&data).unwrap(), "2 1\n0 0 5\n1 0 -2\n");
    }

    #[test]
    fn csv_quotes_surfaces_with_commas() {
        let e = Entry {
            surface: b"a,\"b".to_vec(),
            left_id: 1,
            right_id: 2,
            cost: -3,
            feature: b"x,y".to_vec(),
        };
        assert_eq!(lexicon_csv(&[e]), b"\"a,\"\"b\",1,2,-3,x,y\n");
    }
}
