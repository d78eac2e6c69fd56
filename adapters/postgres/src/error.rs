use dd0c_ports::PortError;

/// Maps a sqlx error onto the port's: connection trouble is retryable `Unavailable`, the rest a
/// `Backend` error with the context of the call that failed.
pub(crate) fn backend(context: &str, error: sqlx::Error) -> PortError {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => PortError::Unavailable(format!("{context}: {error}")),
        sqlx::Error::Database(db)
            if db
                .code()
                .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")) =>
        {
            // 57P01 admin shutdown, 57P03 cannot connect now, 08xxx connection exceptions.
            PortError::Unavailable(format!("{context}: {db}"))
        }
        sqlx::Error::Database(db)
            if db
                .code()
                .is_some_and(|c| matches!(c.as_ref(), "22021" | "22P05")) =>
        {
            // 22021 a NUL byte in text, 22P05 \u0000 in JSONB: the value itself cannot be
            // stored, so retrying cannot help. The database's text stays out of the message.
            PortError::Invalid(format!(
                "{context}: a value holds a character that cannot be stored (NUL)"
            ))
        }
        other => PortError::caused(context, other),
    }
}

/// Context for JSON (de)serialization of stored payloads.
pub(crate) fn payload(context: &str, error: serde_json::Error) -> PortError {
    PortError::caused(format!("{context}: stored payload does not match"), error)
}
