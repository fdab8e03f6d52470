//! Any query of either store read back as text, for the tests that compare
//! the two stores or look inside one: one file for the library's store suite
//! (as `store::suite::text_rows`) and the daemon's tests (`support::text_rows`).
//! Values come as text, `NULL` as `None`, and bodies (SQLite's blobs,
//! PostgreSQL's `bytea`) as the UTF-8 text they hold, so both stores read
//! alike.

/// Every row of `sql` on a SQLite connection.
pub(crate) fn sqlite(conn: &rusqlite::Connection, sql: &str) -> Vec<Vec<Option<String>>> {
    use rusqlite::types::ValueRef;
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        (0..n)
            .map(|i| {
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => None,
                    ValueRef::Integer(v) => Some(v.to_string()),
                    ValueRef::Real(v) => Some(v.to_string()),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        Some(String::from_utf8_lossy(t).into_owned())
                    }
                })
            })
            .collect()
    })
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
    .collect::<Result<_, _>>()
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Every row of `sql` on a PostgreSQL connection (the simple query
/// protocol, which answers every value as text).
pub(crate) async fn postgres(
    client: &tokio_postgres::Client,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, tokio_postgres::Error> {
    Ok(client
        .simple_query(sql)
        .await?
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).map(|v| unhex(v.to_string())))
                    .collect(),
            ),
            _ => None,
        })
        .collect())
}

/// A `bytea` as PostgreSQL writes it (`\x6869`), as the text it holds.
fn unhex(text: String) -> String {
    let Some(hex) = text.strip_prefix("\\x") else {
        return text;
    };
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    match bytes {
        Some(b) => String::from_utf8_lossy(&b).into_owned(),
        None => text,
    }
}
