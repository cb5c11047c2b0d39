//! TPM command/response framing: a 10-byte big-endian header (tag u16, size u32, code or rc
//! u32) whose `size` counts the whole frame.

use std::io::{self, Read};

/// Size of a TPM command or response header.
pub const HEADER_LEN: usize = 10;
/// Largest frame accepted. TPM 2.0 buffers are a few KiB (swtpm: 4096 by default).
pub const MAX_FRAME: usize = 64 * 1024;

/// Reads one whole TPM command or response frame: the 10-byte header, then the rest of `size`.
/// Returns `Ok(None)` on a clean end of stream before the first byte, and an error on a truncated
/// frame or a `size` outside `10..=MAX_FRAME`.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; HEADER_LEN];
    let mut filled = 0;
    while filled < HEADER_LEN {
        let buf = header.get_mut(filled..).unwrap_or_default();
        match r.read(buf) {
            Ok(0) if filled == 0 => return Ok(None),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("stream ended inside a TPM header ({filled} of {HEADER_LEN} bytes)"),
                ))
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let size = frame_size(&header)?;
    let mut frame = Vec::with_capacity(size);
    frame.extend_from_slice(&header);
    frame.resize(size, 0);
    r.read_exact(frame.get_mut(HEADER_LEN..).unwrap_or_default())
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("truncated TPM frame of {size} bytes: {e}"),
            )
        })?;
    Ok(Some(frame))
}

/// The total frame size a header announces, checked against `10..=MAX_FRAME`.
pub fn frame_size(header: &[u8; HEADER_LEN]) -> io::Result<usize> {
    let [_, _, a, b, c, d, ..] = *header;
    let size = usize::try_from(u32::from_be_bytes([a, b, c, d])).unwrap_or(usize::MAX);
    if (HEADER_LEN..=MAX_FRAME).contains(&size) {
        Ok(size)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("TPM frame size {size} outside {HEADER_LEN}..={MAX_FRAME}"),
        ))
    }
}
