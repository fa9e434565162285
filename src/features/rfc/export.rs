//! The decision log outside Slack: `asyncbot decisions list` and `asyncbot decisions export`.
//! They read the same store as the bot, while the bot is stopped.

use std::path::Path;

use crate::domain::decisions;
use crate::domain::rfc::{Rfc, message_tag};
use crate::store::prelude::*;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Markdown,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
}

/// Every record with its permalink (when the workspace URL and the message are known).
fn records(store: &Store) -> Result<Vec<(Rfc, Option<String>)>, StoreError> {
    let team_url = store.fact("team_url")?;
    store.read(|rx| {
        let mut out = Vec::new();
        for rfc in rx.all_rfcs()? {
            let link = match (&team_url, rx.tagged(&message_tag(rfc.id))?) {
                (Some(url), Some((channel, ts))) => {
                    Some(crate::domain::format::permalink(url, &channel, &ts, None))
                }
                _ => None,
            };
            out.push((rfc, link));
        }
        Ok(out)
    })
}

/// One line per record: id, status, date, title.
pub fn list(store: &Store) -> Result<String, StoreError> {
    let records = records(store)?;
    if records.is_empty() {
        return Ok("The decision log is empty.\n".to_owned());
    }
    let mut out = String::new();
    for (rfc, _) in &records {
        out.push_str(&format!(
            "{:<8} {:<18} {}  {}\n",
            rfc.name(),
            rfc.status.label(),
            decisions::status_date(rfc).format("%Y-%m-%d"),
            rfc.title
        ));
    }
    Ok(out)
}

/// Writes one file per record into `dir` (created if needed); returns how many.
pub fn export(store: &Store, format: ExportFormat, dir: &Path) -> Result<usize, ExportError> {
    let write_err = |path: &Path, e: std::io::Error| ExportError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
    let names = store.user_names()?;
    let records = records(store)?;
    for (rfc, link) in &records {
        let (name, body) = match format {
            ExportFormat::Markdown => (
                decisions::file_name(rfc, "md"),
                decisions::markdown(rfc, &names, link.as_deref()),
            ),
            ExportFormat::Json => (
                decisions::file_name(rfc, "json"),
                serde_json::to_string_pretty(&decisions::json(rfc, link.as_deref()))
                    .expect("JSON values serialize")
                    + "\n",
            ),
        };
        let path = dir.join(name);
        std::fs::write(&path, body).map_err(|e| write_err(&path, e))?;
    }
    Ok(records.len())
}
