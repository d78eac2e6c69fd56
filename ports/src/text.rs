//! Text rules shared by the values dd0c/cost checks (URLs, addresses, names), and the hex
//! spelling of bytes every id and digest uses.

/// Bytes as lowercase hex, two digits each: digests, tokens, ids.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `c` is white space or a control character: what no URL, address or name holds.
pub fn is_blank(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}
