//! Reads written once for both stores: the SQL of a read is PostgreSQL's
//! (`$1` for a parameter; SQLite is given `?1`, the same number), the rows
//! come back through [`Cells`], which reads a column of either driver's row
//! into the Rust type asked for. Written against [`Query`]: Order Health's
//! list and timeline and the quarantine page (`orders.rs`), the channels page
//! (`channels.rs`), the rules loaded last (`ops.rs`) and `diff`'s history
//! (`history.rs`).
//!
//! As with [`Statements`](super::statements), SQLite's queries run to the end
//! the moment they are called; its reader drives the logic with
//! [`run_now`](super::statements::run_now) on a read connection.

use std::borrow::Cow;

use rusqlite::Connection;
use tokio_postgres::types::{ToSql, Type};

use super::StoreError;

/// A parameter of a read.
#[derive(Clone, Debug)]
pub(super) enum Arg {
    Int(i64),
    Text(String),
}

/// One row, of either store.
pub(super) enum Cells<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Pg(&'a tokio_postgres::Row),
}

impl Cells<'_> {
    /// Column `i` as a `T`.
    pub fn get<T: Cell>(&self, i: usize) -> Result<T, StoreError> {
        match self {
            Cells::Sqlite(r) => Ok(T::sqlite(r, i)?),
            Cells::Pg(r) => T::pg(r, i),
        }
    }
}

/// A Rust type a column is read into.
pub(super) trait Cell: Sized {
    fn sqlite(row: &rusqlite::Row, i: usize) -> rusqlite::Result<Self>;
    fn pg(row: &tokio_postgres::Row, i: usize) -> Result<Self, StoreError>;
}

macro_rules! cell {
    ($($t:ty),*) => {$(
        impl Cell for $t {
            fn sqlite(row: &rusqlite::Row, i: usize) -> rusqlite::Result<Self> {
                row.get(i)
            }
            fn pg(row: &tokio_postgres::Row, i: usize) -> Result<Self, StoreError> {
                Ok(row.try_get(i)?)
            }
        }
    )*};
}
cell!(String, Option<String>, Vec<u8>, Option<Vec<u8>>, f64);

/// PostgreSQL's `integer` columns and functions (`length`) are 32 bits,
/// `bigint` ones and `count(*)` 64; both are read as `i64`.
fn pg_int(row: &tokio_postgres::Row, i: usize) -> Result<Option<i64>, StoreError> {
    if row.columns()[i].type_() == &Type::INT4 {
        Ok(row.try_get::<_, Option<i32>>(i)?.map(i64::from))
    } else {
        Ok(row.try_get(i)?)
    }
}

impl Cell for Option<i64> {
    fn sqlite(row: &rusqlite::Row, i: usize) -> rusqlite::Result<Self> {
        row.get(i)
    }
    fn pg(row: &tokio_postgres::Row, i: usize) -> Result<Self, StoreError> {
        pg_int(row, i)
    }
}

impl Cell for i64 {
    fn sqlite(row: &rusqlite::Row, i: usize) -> rusqlite::Result<Self> {
        row.get(i)
    }
    fn pg(row: &tokio_postgres::Row, i: usize) -> Result<Self, StoreError> {
        pg_int(row, i)?.ok_or_else(|| {
            StoreError::Commit(format!(
                "column {i} of a read is NULL where a number is kept"
            ))
        })
    }
}

/// Which store a read runs on, where their SQL differs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

/// A connection reads run on.
pub(super) trait Query {
    fn dialect(&self) -> Dialect;

    /// Every row of `sql` with `args`, each read by `f`.
    async fn rows<T>(
        &self,
        sql: &str,
        args: &[Arg],
        f: impl FnMut(&Cells) -> Result<T, StoreError> + Send,
    ) -> Result<Vec<T>, StoreError>;

    /// The first row of `sql`, if any.
    async fn row<T>(
        &self,
        sql: &str,
        args: &[Arg],
        f: impl FnMut(&Cells) -> Result<T, StoreError> + Send,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.rows(sql, args, f).await?.into_iter().next())
    }
}

/// `$N` as SQLite's `?N` (no read has a `$` of its own).
fn sqlite_sql(sql: &str) -> Cow<'_, str> {
    if sql.contains('$') {
        Cow::Owned(sql.replace('$', "?"))
    } else {
        Cow::Borrowed(sql)
    }
}

/// A read connection of SQLite's reader.
pub(super) struct SqliteRead<'c>(pub &'c Connection);

impl Query for SqliteRead<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn rows<T>(
        &self,
        sql: &str,
        args: &[Arg],
        mut f: impl FnMut(&Cells) -> Result<T, StoreError> + Send,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.0.prepare_cached(&sqlite_sql(sql))?;
        let params = args.iter().map(|a| match a {
            Arg::Int(n) => rusqlite::types::Value::Integer(*n),
            Arg::Text(t) => rusqlite::types::Value::Text(t.clone()),
        });
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(f(&Cells::Sqlite(r))?);
        }
        Ok(out)
    }
}

/// A pooled PostgreSQL connection.
pub(super) struct PgRead(pub deadpool_postgres::Client);

impl Query for PgRead {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn rows<T>(
        &self,
        sql: &str,
        args: &[Arg],
        f: impl FnMut(&Cells) -> Result<T, StoreError> + Send,
    ) -> Result<Vec<T>, StoreError> {
        let stmt = self.0.prepare_cached(sql).await?;
        pg_rows(&self.0, &stmt, args, f).await
    }
}

/// A connection of its own (`diff`'s), its statements prepared each time.
pub(super) struct PgClient<'c>(pub &'c tokio_postgres::Client);

impl Query for PgClient<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn rows<T>(
        &self,
        sql: &str,
        args: &[Arg],
        f: impl FnMut(&Cells) -> Result<T, StoreError> + Send,
    ) -> Result<Vec<T>, StoreError> {
        let stmt = self.0.prepare(sql).await?;
        pg_rows(self.0, &stmt, args, f).await
    }
}

async fn pg_rows<T>(
    client: &tokio_postgres::Client,
    stmt: &tokio_postgres::Statement,
    args: &[Arg],
    mut f: impl FnMut(&Cells) -> Result<T, StoreError> + Send,
) -> Result<Vec<T>, StoreError> {
    let params: Vec<&(dyn ToSql + Sync)> = args
        .iter()
        .map(|a| match a {
            Arg::Int(n) => n as &(dyn ToSql + Sync),
            Arg::Text(t) => t as &(dyn ToSql + Sync),
        })
        .collect();
    let rows = client.query(stmt, &params).await?;
    rows.iter().map(|r| f(&Cells::Pg(r))).collect()
}
