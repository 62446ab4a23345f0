//! `--data-cache DIR`: the loaded database kept between runs, so the bulk
//! load (about eight minutes for a million messages) runs once.
//!
//! An entry is two files in DIR, named after what made the data: the counts,
//! the seed, the data generator (a hash of `data.rs`) and the schema that
//! this daehwa binary creates (a hash of an empty database's `sqlite_master`
//! and `user_version`, read after the cold starts, which always run):
//!
//! - `loaded-C-M-KEY.db`: the file right after the bulk load, before any
//!   server opened it;
//! - `loaded-C-M-KEY.json`: what the harness needs to use it: the user, its
//!   API key, the model, the connection to the fake (whose port changes
//!   between runs: the harness sets its `base_url` through the API after the
//!   server starts), and the load's figures.
//!
//! A new binary with another schema, or a changed generator, makes another
//! entry; entries are never removed here.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Value};

use crate::data::Loaded;

/// The data generator's source: any change to it makes a new entry.
const GENERATOR: &str = include_str!("data.rs");

/// What setup created through the API, which the scenarios use.
#[derive(Clone, Debug)]
pub struct Setup {
    pub user_id: String,
    pub api_key: String,
    /// The model's id in daehwa (the fake's model, discovered).
    pub model: String,
    /// The connection to the fake (its base URL changes between runs).
    pub connection_id: String,
}

/// FNV-1a, 64 bits: stable across Rust versions, unlike `DefaultHasher`.
fn fnv(bytes: &[u8], mut hash: u64) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// A hash of the schema in `db` (tables, indexes, triggers and their SQL,
/// and `user_version`), read-only: the server may be running on it.
pub fn schema_fingerprint(db: &Path) -> Result<u64, String> {
    let err = |e: rusqlite::Error| format!("reading the schema of {}: {e}", db.display());
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(err)?;
    let mut hash = fnv(version.to_string().as_bytes(), FNV_START);
    let mut stmt = conn
        .prepare(
            "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master
             WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([], |row| {
            Ok([
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
            ])
        })
        .map_err(err)?;
    for row in rows {
        for field in row.map_err(err)? {
            hash = fnv(field.as_bytes(), hash);
            hash = fnv(&[0], hash);
        }
    }
    Ok(hash)
}

/// One entry of the cache (present or to be written).
pub struct Entry {
    db: PathBuf,
    meta: PathBuf,
    conversations: usize,
    messages: usize,
    seed: u64,
    generator: String,
    schema: String,
}

/// A usable entry: its setup and the load's figures.
pub struct Hit {
    pub setup: Setup,
    pub loaded: Loaded,
}

impl Entry {
    pub fn new(dir: &Path, conversations: usize, messages: usize, seed: u64, schema: u64) -> Entry {
        let generator = format!("{:016x}", fnv(GENERATOR.as_bytes(), FNV_START));
        let schema = format!("{schema:016x}");
        let mut key = fnv(generator.as_bytes(), FNV_START);
        key = fnv(schema.as_bytes(), key);
        key = fnv(&seed.to_le_bytes(), key);
        let stem = format!("loaded-{conversations}-{messages}-{key:016x}");
        Entry {
            db: dir.join(format!("{stem}.db")),
            meta: dir.join(format!("{stem}.json")),
            conversations,
            messages,
            seed,
            generator,
            schema,
        }
    }

    /// Where the entry's database is (for messages).
    pub fn path(&self) -> &Path {
        &self.db
    }

    /// The entry, if both files are there and its description matches.
    pub fn find(&self) -> Result<Option<Hit>, String> {
        if !self.db.is_file() || !self.meta.is_file() {
            return Ok(None);
        }
        let text =
            fs::read_to_string(&self.meta).map_err(|e| format!("{}: {e}", self.meta.display()))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", self.meta.display()))?;
        let same = v["conversations"].as_u64() == Some(self.conversations as u64)
            && v["messages"].as_u64() == Some(self.messages as u64)
            && v["seed"].as_u64() == Some(self.seed)
            && v["generator"].as_str() == Some(self.generator.as_str())
            && v["schema"].as_str() == Some(self.schema.as_str());
        if !same {
            return Err(format!(
                "{} describes other data than this run's: delete it and its .db",
                self.meta.display()
            ));
        }
        let text = |key: &str| {
            v["setup"][key]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("{}: no setup.{key}", self.meta.display()))
        };
        let setup = Setup {
            user_id: text("user_id")?,
            api_key: text("api_key")?,
            model: text("model")?,
            connection_id: text("connection_id")?,
        };
        let l = &v["loaded"];
        let matches: BTreeMap<String, usize> = l["conversations_matching"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0) as usize))
                    .collect()
            })
            .unwrap_or_default();
        let loaded = Loaded {
            conversations: l["conversations"].as_u64().unwrap_or(0) as usize,
            messages: l["messages"].as_u64().unwrap_or(0) as usize,
            seconds: l["seconds"].as_f64().unwrap_or(0.0),
            db_bytes: l["db_bytes"].as_u64().unwrap_or(0),
            matches,
        };
        Ok(Some(Hit { setup, loaded }))
    }

    /// Copies the entry's database to `db` (replacing it); the seconds it took.
    pub fn restore(&self, db: &Path) -> Result<f64, String> {
        let started = Instant::now();
        fs::copy(&self.db, db)
            .map_err(|e| format!("copying {} to {}: {e}", self.db.display(), db.display()))?;
        Ok(started.elapsed().as_secs_f64())
    }

    /// Keeps a copy of the freshly loaded `db` (no server has opened it yet)
    /// with what it takes to use it. Written under temporary names first, so
    /// an interrupted copy is never taken for an entry.
    pub fn save(
        &self,
        db: &Path,
        setup: &Setup,
        loaded: &Loaded,
        date: &str,
    ) -> Result<(), String> {
        let dir = self.db.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let tmp_db = self.db.with_extension("db.partial");
        let tmp_meta = self.meta.with_extension("json.partial");
        fs::copy(db, &tmp_db).map_err(|e| format!("{}: {e}", tmp_db.display()))?;
        fs::rename(&tmp_db, &self.db).map_err(|e| format!("{}: {e}", self.db.display()))?;
        let meta = json!({
            "conversations": self.conversations,
            "messages": self.messages,
            "seed": self.seed,
            "generator": self.generator,
            "schema": self.schema,
            "date": date,
            "setup": {
                "user_id": setup.user_id,
                "api_key": setup.api_key,
                "model": setup.model,
                "connection_id": setup.connection_id,
            },
            "loaded": loaded.json(),
        });
        let text = serde_json::to_string_pretty(&meta).map_err(|e| e.to_string())? + "\n";
        fs::write(&tmp_meta, text).map_err(|e| format!("{}: {e}", tmp_meta.display()))?;
        fs::rename(&tmp_meta, &self.meta).map_err(|e| format!("{}: {e}", self.meta.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_the_reference_hash() {
        assert_eq!(fnv(b"", FNV_START), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv(b"a", FNV_START), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn entries_differ_by_counts_and_schema() {
        let dir = Path::new("/tmp/x");
        let a = Entry::new(dir, 10, 100, 1, 7);
        assert_eq!(a.db, Entry::new(dir, 10, 100, 1, 7).db);
        assert_ne!(a.db, Entry::new(dir, 10, 102, 1, 7).db);
        assert_ne!(a.db, Entry::new(dir, 10, 100, 1, 8).db);
        assert_ne!(a.db, Entry::new(dir, 10, 100, 2, 7).db);
        assert!(a.db.to_string_lossy().contains("loaded-10-100-"));
    }
}
