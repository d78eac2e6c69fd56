//! Text rules shared by the values dd0c/cost checks (URLs, addresses, names).

/// Whether `c` is white space or a control character: what no URL, address or name holds.
pub fn is_blank(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}
