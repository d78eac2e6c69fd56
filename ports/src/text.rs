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

/// Whether `c` changes how the text around it reads without showing itself: a bidirectional
/// embedding, override or isolate (an actor named so that `…gpj.exe` renders as `…exe.jpg`), a
/// direction mark, or a zero-width character (two names that look alike and differ).
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Whether `c` is kept out of stored text: a control character, or an invisible one that
/// changes how the text reads ([`is_invisible_format`]).
pub fn is_unprintable(c: char) -> bool {
    c.is_control() || is_invisible_format(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_marks_and_zero_width_characters_are_unprintable() {
        for c in [
            '\u{202E}', '\u{2066}', '\u{200F}', '\u{200B}', '\u{FEFF}', '\n', '\0',
        ] {
            assert!(is_unprintable(c), "U+{:04X}", u32::from(c));
        }
        for c in ['a', 'é', '日', ' ', '-', '\u{00A0}'] {
            assert!(!is_unprintable(c), "U+{:04X}", u32::from(c));
        }
    }
}
